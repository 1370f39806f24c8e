//! Planted defects (`eval --mutants`): every operator in Rust, Python, Go
//! and JavaScript changes exactly the one site it reports, the change is
//! the expected one, and the mutant still parses (Rust with `syn`, Python
//! with `ast.parse`, JavaScript with `node --check`, Go with `gofmt -e`
//! when it is installed); what must not be a site is not; and `plant`
//! writes deterministic objects and touches no ref, index or work tree.

use git_deep_review::eval::mutants::{self, MutantCase, MutantOptions, Mutation, Operator, Site};
use git_deep_review::eval::Source;

mod common;
use common::parse::parses;
use common::repo::TestRepo;

// ---------------------------------------------------------------------------
// Helpers for the text layer.

fn all_lines(text: &str) -> Vec<u32> {
    (1..=text.lines().count() as u32).collect()
}

fn sites_of(text: &str, lang: &str, op: Operator) -> Vec<Site> {
    mutants::sites(text, lang, &all_lines(text))
        .into_iter()
        .filter(|s| s.operator == op)
        .collect()
}

/// The lines outside the reported region are the original's, byte for
/// byte and in order.
fn assert_only_region_changed(original: &str, m: &Mutation) {
    let old: Vec<&str> = original.split_inclusive('\n').collect();
    let new: Vec<&str> = m.text.split_inclusive('\n').collect();
    let (ls, le) = (m.line_start as usize, m.line_end as usize);
    assert!(
        1 <= ls && ls <= le && le <= new.len().max(1),
        "bad region {ls}-{le} of {} lines",
        new.len()
    );
    assert_eq!(
        new[..ls - 1],
        old[..ls - 1],
        "lines before the region changed"
    );
    let tail = new.len() - le;
    assert!(
        tail <= old.len() - (ls - 1),
        "more lines after the region than before"
    );
    assert_eq!(
        new[le..],
        old[old.len() - tail..],
        "lines after the region changed"
    );
}

/// `op` has exactly one site in `src`; applying it turns the first `from`
/// into `to`, changes only the reported lines, and the result parses.
fn mutate(lang: &str, src: &str, op: Operator, from: &str, to: &str) -> (Site, Mutation) {
    parses(lang, src).unwrap_or_else(|e| panic!("the original {lang} does not parse: {e}\n{src}"));
    let found = sites_of(src, lang, op);
    assert_eq!(found.len(), 1, "{op} sites in\n{src}\n{found:#?}");
    let site = found.into_iter().next().unwrap();
    let m = mutants::apply(src, lang, &site).expect("the site applies");
    assert_eq!(m.operator, op);
    assert!(src.contains(from), "`{from}` is not in the snippet");
    assert_eq!(m.text, src.replacen(from, to, 1), "{op} in {lang}");
    assert_only_region_changed(src, &m);
    parses(lang, &m.text)
        .unwrap_or_else(|e| panic!("the {op} mutant does not parse as {lang}: {e}\n{}", m.text));
    assert!(!m.description.is_empty());
    (site, m)
}

fn lines_of(m: &Mutation) -> (u32, u32) {
    (m.line_start, m.line_end)
}

// ---------------------------------------------------------------------------
// FlipComparison

#[test]
fn flip_comparison_rust() {
    let src = "pub fn clamp(i: usize, n: usize) -> usize {\n    if i < n {\n        i\n    } else {\n        n - 1\n    }\n}\n";
    let (site, m) = mutate("rust", src, Operator::FlipComparison, "i < n", "i <= n");
    assert_eq!(site.line, 2);
    assert_eq!(lines_of(&m), (2, 2));
    assert_eq!(m.description, "flipped `<` to `<=` in `if i < n {`");
}

#[test]
fn flip_comparison_python() {
    let src = "def over_limit(count, limit):\n    if count >= limit:\n        return True\n    return False\n";
    let (_, m) = mutate(
        "python",
        src,
        Operator::FlipComparison,
        "count >= limit",
        "count > limit",
    );
    assert_eq!(lines_of(&m), (2, 2));
}

#[test]
fn flip_comparison_go() {
    let src = "package stats\n\nfunc Mean(xs []float64) float64 {\n\tif len(xs) == 0 {\n\t\treturn 0\n\t}\n\treturn Sum(xs) / float64(len(xs))\n}\n";
    mutate(
        "go",
        src,
        Operator::FlipComparison,
        "len(xs) == 0",
        "len(xs) != 0",
    );
}

#[test]
fn flip_comparison_javascript() {
    let src = "function isEmpty(items) {\n  if (items.length === 0) {\n    return true;\n  }\n  return false;\n}\n";
    mutate(
        "javascript",
        src,
        Operator::FlipComparison,
        "=== 0",
        "!== 0",
    );
}

// ---------------------------------------------------------------------------
// OffByOne: a removed `- 1`/`+ 1`, and a length that loses one.

#[test]
fn off_by_one_rust() {
    let src = "fn last(items: &[u32]) -> u32 {\n    items[items.len() - 1]\n}\n";
    mutate(
        "rust",
        src,
        Operator::OffByOne,
        "items.len() - 1",
        "items.len()",
    );
    let src = "fn sum(v: &[u32]) -> u32 {\n    let mut t = 0;\n    for i in 0..v.len() {\n        t += v[i];\n    }\n    t\n}\n";
    mutate(
        "rust",
        src,
        Operator::OffByOne,
        "0..v.len()",
        "0..v.len() - 1",
    );
}

#[test]
fn off_by_one_python() {
    let src = "def last(xs):\n    return xs[len(xs) - 1]\n";
    mutate("python", src, Operator::OffByOne, "len(xs) - 1", "len(xs)");
    let src = "def total(xs):\n    t = 0\n    for i in range(len(xs)):\n        t += xs[i]\n    return t\n";
    mutate(
        "python",
        src,
        Operator::OffByOne,
        "range(len(xs))",
        "range(len(xs) - 1)",
    );
}

#[test]
fn off_by_one_go() {
    let src = "package page\n\nfunc Next(start int) int {\n\tend := start + 1\n\treturn end\n}\n";
    mutate("go", src, Operator::OffByOne, "start + 1", "start");
    let src = "package page\n\nfunc Sum(items []int) int {\n\tt := 0\n\tfor i := 0; i < len(items); i++ {\n\t\tt += items[i]\n\t}\n\treturn t\n}\n";
    mutate(
        "go",
        src,
        Operator::OffByOne,
        "i < len(items)",
        "i < len(items) - 1",
    );
}

#[test]
fn off_by_one_javascript() {
    let src = "function last(items) {\n  return items[items.length - 1];\n}\n";
    mutate(
        "javascript",
        src,
        Operator::OffByOne,
        "items.length - 1",
        "items.length",
    );
    let src = "function sum(xs) {\n  let t = 0;\n  for (let i = 0; i < xs.length; i++) {\n    t += xs[i];\n  }\n  return t;\n}\n";
    mutate(
        "javascript",
        src,
        Operator::OffByOne,
        "i < xs.length",
        "i < xs.length - 1",
    );
}

// ---------------------------------------------------------------------------
// DropNullCheck

#[test]
fn drop_null_check_rust() {
    let src = "fn first_name(user: Option<&User>) -> Option<String> {\n    if user.is_none() {\n        return None;\n    }\n    Some(user.unwrap().name.clone())\n}\n";
    let (site, m) = mutate(
        "rust",
        src,
        Operator::DropNullCheck,
        "    if user.is_none() {\n        return None;\n    }\n",
        "",
    );
    assert_eq!(site.line, 2);
    // The line now at the removal point.
    assert_eq!(lines_of(&m), (2, 2));
}

#[test]
fn drop_null_check_python() {
    let src = "def greet(user):\n    if user is None:\n        return \"nobody\"\n    return \"hello \" + user.name\n";
    mutate(
        "python",
        src,
        Operator::DropNullCheck,
        "    if user is None:\n        return \"nobody\"\n",
        "",
    );
    // The guard was the whole body: `pass` keeps the function valid.
    let src = "class Pool:\n    def check(self, conn):\n        if conn is None:\n            return\n\n    def size(self):\n        return 0\n";
    let (_, m) = mutate(
        "python",
        src,
        Operator::DropNullCheck,
        "        if conn is None:\n            return\n",
        "        pass\n",
    );
    assert_eq!(lines_of(&m), (3, 3));
}

#[test]
fn drop_null_check_go() {
    let src = "package user\n\nfunc Name(u *User) string {\n\tif u == nil {\n\t\treturn \"\"\n\t}\n\treturn u.Name\n}\n";
    let (_, m) = mutate(
        "go",
        src,
        Operator::DropNullCheck,
        "\tif u == nil {\n\t\treturn \"\"\n\t}\n",
        "",
    );
    assert_eq!(lines_of(&m), (4, 4));
}

#[test]
fn drop_null_check_javascript() {
    let src = "function label(user) {\n  if (user == null) {\n    return \"anonymous\";\n  }\n  return user.name;\n}\n";
    mutate(
        "javascript",
        src,
        Operator::DropNullCheck,
        "  if (user == null) {\n    return \"anonymous\";\n  }\n",
        "",
    );
    let src = "function label(user) {\n  if (user === undefined) return \"anonymous\";\n  return user.name;\n}\n";
    mutate(
        "javascript",
        src,
        Operator::DropNullCheck,
        "  if (user === undefined) return \"anonymous\";\n",
        "",
    );
}

#[test]
fn null_checks_with_else_or_long_bodies_are_kept() {
    let with_else = "function f(x) {\n  if (x == null) {\n    return 0;\n  }\n  else {\n    return 1;\n  }\n}\n";
    assert!(sites_of(with_else, "javascript", Operator::DropNullCheck).is_empty());
    let long = "def f(x):\n    if x is None:\n        a()\n        b()\n        c()\n        d()\n        return\n    return x\n";
    assert!(sites_of(long, "python", Operator::DropNullCheck).is_empty());
    let no_exit = "def f(x):\n    if x is None:\n        x = 0\n    return x\n";
    assert!(sites_of(no_exit, "python", Operator::DropNullCheck).is_empty());
    let not_null = "function f(x) {\n  if (!x) {\n    return;\n  }\n  return x;\n}\n";
    assert!(sites_of(not_null, "javascript", Operator::DropNullCheck).is_empty());
}

// ---------------------------------------------------------------------------
// DropErrorReturn

#[test]
fn drop_error_return_rust() {
    let src = "fn load(path: &str) -> std::io::Result<String> {\n    let text = std::fs::read_to_string(path)?;\n    Ok(text.trim().to_string())\n}\n";
    let (_, m) = mutate(
        "rust",
        src,
        Operator::DropErrorReturn,
        "read_to_string(path)?;",
        "read_to_string(path);",
    );
    assert_eq!(lines_of(&m), (2, 2));
}

#[test]
fn drop_error_return_python() {
    // The raise was the only statement of its block: `pass` replaces it.
    let src = "def parse_port(text):\n    port = int(text)\n    if port <= 0:\n        raise ValueError(\"port must be positive\")\n    return port\n";
    let (_, m) = mutate(
        "python",
        src,
        Operator::DropErrorReturn,
        "        raise ValueError(\"port must be positive\")\n",
        "        pass\n",
    );
    assert_eq!(lines_of(&m), (4, 4));
    // A multi-line raise after another statement: removed whole.
    let src = "def parse_port(text):\n    if not text:\n        log(\"empty\")\n        raise ValueError(\n            \"empty port\"\n        )\n    return int(text)\n";
    let (_, m) = mutate(
        "python",
        src,
        Operator::DropErrorReturn,
        "        raise ValueError(\n            \"empty port\"\n        )\n",
        "",
    );
    assert_eq!(lines_of(&m), (4, 4));
}

#[test]
fn drop_error_return_go() {
    let src = "package conf\n\nimport \"os\"\n\nfunc Load(path string) ([]byte, error) {\n\tdata, err := os.ReadFile(path)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\treturn data, nil\n}\n";
    mutate(
        "go",
        src,
        Operator::DropErrorReturn,
        "\tif err != nil {\n\t\treturn nil, err\n\t}\n",
        "",
    );
}

#[test]
fn drop_error_return_javascript() {
    let src = "function parse(text) {\n  if (!text) {\n    throw new Error(\"empty input\");\n  }\n  return JSON.parse(text);\n}\n";
    mutate(
        "javascript",
        src,
        Operator::DropErrorReturn,
        "    throw new Error(\"empty input\");\n",
        "",
    );
    // The body of a brace-less `if` is not removed (the `if` would take
    // the next statement).
    let braceless = "function parse(text) {\n  if (!text)\n    throw new Error(\"empty input\");\n  return JSON.parse(text);\n}\n";
    assert!(sites_of(braceless, "javascript", Operator::DropErrorReturn).is_empty());
}

// ---------------------------------------------------------------------------
// SwapArguments

#[test]
fn swap_arguments_rust() {
    let src = "fn span(text: &str, start: usize, end: usize) -> &str {\n    let s = text.get(start..end).unwrap_or(\"\");\n    clip(start, end);\n    s\n}\n";
    let (_, m) = mutate(
        "rust",
        src,
        Operator::SwapArguments,
        "clip(start, end)",
        "clip(end, start)",
    );
    assert_eq!(lines_of(&m), (3, 3));
}

#[test]
fn swap_arguments_python() {
    let src = "def divide(a, b):\n    return a / b\n\n\ndef mean(total, count):\n    return divide(total, count)\n";
    let (site, _) = mutate(
        "python",
        src,
        Operator::SwapArguments,
        "divide(total, count)",
        "divide(count, total)",
    );
    assert_eq!(site.line, 6, "the definition is not a site");
    // Two string literals are the same kind too.
    let src = "def main():\n    rename(\"old.txt\", \"new.txt\")\n";
    mutate(
        "python",
        src,
        Operator::SwapArguments,
        "\"old.txt\", \"new.txt\"",
        "\"new.txt\", \"old.txt\"",
    );
}

#[test]
fn swap_arguments_go() {
    let src = "package buf\n\nfunc Clone(src []byte) []byte {\n\tdst := make([]byte, len(src))\n\tcopy(dst, src)\n\treturn dst\n}\n";
    mutate(
        "go",
        src,
        Operator::SwapArguments,
        "copy(dst, src)",
        "copy(src, dst)",
    );
}

#[test]
fn swap_arguments_javascript() {
    let src = "function range(start, end) {\n  return [start, end];\n}\n\nfunction excerpt(text) {\n  return text.slice(10, 80);\n}\n";
    let (site, _) = mutate(
        "javascript",
        src,
        Operator::SwapArguments,
        "slice(10, 80)",
        "slice(80, 10)",
    );
    assert_eq!(site.line, 6);
}

// ---------------------------------------------------------------------------
// InvertCondition

#[test]
fn invert_condition_rust() {
    let src = "fn retry(retries: u32, max: u32) -> bool {\n    if retries > max {\n        return false;\n    }\n    true\n}\n";
    mutate(
        "rust",
        src,
        Operator::InvertCondition,
        "if retries > max {",
        "if !(retries > max) {",
    );
    let src =
        "fn drain(v: &mut Vec<u8>) {\n    while !v.is_empty() {\n        v.pop();\n    }\n}\n";
    mutate(
        "rust",
        src,
        Operator::InvertCondition,
        "while !v.is_empty() {",
        "while !(!v.is_empty()) {",
    );
    let src = "fn f(x: Option<u8>) {\n    if let Some(v) = x {\n        g(v);\n    }\n}\n";
    assert!(
        sites_of(src, "rust", Operator::InvertCondition).is_empty(),
        "`if let` is not inverted"
    );
}

#[test]
fn invert_condition_python() {
    let src = "def drain(queue):\n    while queue:\n        queue.pop()\n";
    mutate(
        "python",
        src,
        Operator::InvertCondition,
        "while queue:",
        "while not (queue):",
    );
    let src = "def sign(x):\n    if x > 0:\n        return 1\n    elif x < 0:\n        return -1\n    return 0\n";
    let found = sites_of(src, "python", Operator::InvertCondition);
    assert_eq!(found.len(), 2, "{found:#?}");
    let m = mutants::apply(src, "python", &found[1]).unwrap();
    assert_eq!(m.text, src.replace("elif x < 0:", "elif not (x < 0):"));
    parses("python", &m.text).unwrap();
}

#[test]
fn invert_condition_go() {
    let src = "package cache\n\nfunc Get(cache map[string]int, key string) int {\n\tif v, ok := cache[key]; ok {\n\t\treturn v\n\t}\n\treturn 0\n}\n";
    mutate(
        "go",
        src,
        Operator::InvertCondition,
        "cache[key]; ok {",
        "cache[key]; !(ok) {",
    );
}

#[test]
fn invert_condition_javascript() {
    let src = "function drain(queue) {\n  while (queue.length > 0) {\n    queue.pop();\n  }\n}\n";
    mutate(
        "javascript",
        src,
        Operator::InvertCondition,
        "while (queue.length > 0)",
        "while (!(queue.length > 0))",
    );
}

// ---------------------------------------------------------------------------
// RemoveRelease

#[test]
fn remove_release_rust() {
    let src = "use std::sync::Mutex;\n\nfn bump(counter: &Mutex<u64>) -> u64 {\n    let mut guard = counter.lock().unwrap();\n    *guard += 1;\n    let value = *guard;\n    drop(guard);\n    value\n}\n";
    let (_, m) = mutate(
        "rust",
        src,
        Operator::RemoveRelease,
        "    drop(guard);\n",
        "",
    );
    assert_eq!(lines_of(&m), (7, 7));
}

#[test]
fn remove_release_python() {
    let src = "def update(lock, state):\n    lock.acquire()\n    try:\n        state.bump()\n    finally:\n        lock.release()\n";
    let (_, m) = mutate(
        "python",
        src,
        Operator::RemoveRelease,
        "        lock.release()\n",
        "        pass\n",
    );
    assert_eq!(lines_of(&m), (6, 6));
    let src = "def read_config(path):\n    f = open(path)\n    data = f.read()\n    f.close()\n    return data\n";
    mutate(
        "python",
        src,
        Operator::RemoveRelease,
        "    f.close()\n",
        "",
    );
}

#[test]
fn remove_release_go() {
    let src = "package counter\n\nfunc (c *Counter) Inc() {\n\tc.mu.Lock()\n\tdefer c.mu.Unlock()\n\tc.n++\n}\n";
    mutate(
        "go",
        src,
        Operator::RemoveRelease,
        "\tdefer c.mu.Unlock()\n",
        "",
    );
}

#[test]
fn remove_release_javascript() {
    let src = "async function query(pool, sql) {\n  const client = await pool.connect();\n  const result = await client.query(sql);\n  client.release();\n  return result.rows;\n}\n";
    mutate(
        "javascript",
        src,
        Operator::RemoveRelease,
        "  client.release();\n",
        "",
    );
}

// ---------------------------------------------------------------------------
// TypeScript shares JavaScript's rules (no TypeScript parser here).

#[test]
fn typescript_uses_the_javascript_rules() {
    let src = "export function label(user: User | null): string {\n  if (user === null) {\n    return \"anonymous\";\n  }\n  return user.name;\n}\n";
    let found = sites_of(src, "typescript", Operator::DropNullCheck);
    assert_eq!(found.len(), 1, "{found:#?}");
    let flips = sites_of(src, "typescript", Operator::FlipComparison);
    assert_eq!(flips.len(), 1);
    assert_eq!(flips[0].replacement, "!==");
    let generic = "const m: Map<string, Array<number>> = new Map<string, Array<number>>();\n";
    assert!(mutants::sites(generic, "typescript", &[1]).is_empty());
}

// ---------------------------------------------------------------------------
// What is not a site.

#[test]
fn generics_arrows_shifts_strings_and_comments_are_not_comparisons() {
    let rust = r#"fn f(v: Vec<u8>, g: Option<Box<dyn Fn(u8) -> u8>>) -> Option<u8> {
    let x = v[0] << 2;
    let s = "a < b == c";
    let t = r"d >= e";
    // f < g
    /* h != i
       j > k */
    match x { 1 => Some(2), _ => None }
}
"#;
    parses("rust", rust).unwrap();
    assert!(sites_of(rust, "rust", Operator::FlipComparison).is_empty());
    let python = "def f(a, b) -> bool:\n    s = \"a < b\"  # c >= d\n    t = '''e == f\n    g != h'''\n    return f\"{a < b}\"\n";
    parses("python", python).unwrap();
    assert!(sites_of(python, "python", Operator::FlipComparison).is_empty());
    let go = "package p\n\nfunc f(ch chan int, v int) int {\n\tch <- v\n\tx := <-ch\n\ts := `a < b`\n\t// c == d\n\treturn x << 1\n}\n";
    parses("go", go).unwrap();
    assert!(sites_of(go, "go", Operator::FlipComparison).is_empty());
    let js = "const f = (a, b) => a;\nconst s = `x < ${y}`;\n// a === b\nconst t = 'c !== d' + \"e >= f\";\nconst u = a >>> 2;\n";
    parses("javascript", js).unwrap();
    assert!(sites_of(js, "javascript", Operator::FlipComparison).is_empty());
}

#[test]
fn nothing_is_planted_inside_strings_or_comments() {
    let src = "def f(xs, lock):\n    msg = \"if x is None: return; lock.release(); raise E; g(a, b)\"\n    # if xs < len(xs): xs[n - 1]; f(a, b); raise E\n    return msg\n";
    assert_eq!(mutants::sites(src, "python", &[2, 3]), Vec::<Site>::new());
    let js = "/*\n if (x == null) { return; }\n throw e;\n client.release();\n*/\nconst s = \"f(a, b)\";\n";
    assert_eq!(
        mutants::sites(js, "javascript", &all_lines(js)),
        Vec::<Site>::new()
    );
}

#[test]
fn definitions_are_not_swap_sites() {
    let cases = [
        ("python", "def divide(a, b):\n    return a / b\n"),
        ("python", "class Child(Base, Mixin):\n    pass\n"),
        (
            "javascript",
            "function divide(a, b) {\n  return a / b;\n}\n",
        ),
        (
            "javascript",
            "class V {\n  add(a, b) {\n    return a + b;\n  }\n}\n",
        ),
        ("javascript", "const add = async (a, b) => a + b;\n"),
        (
            "go",
            "package p\n\nfunc add(a, b int) int {\n\treturn a + b\n}\n",
        ),
        (
            "rust",
            "fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\nstruct Pair(u32, u32);\n",
        ),
    ];
    for (lang, src) in cases {
        parses(lang, src).unwrap();
        let found = sites_of(src, lang, Operator::SwapArguments);
        assert!(found.is_empty(), "{lang}:\n{src}\n{found:#?}");
    }
    // Mixed kinds, one argument, or three are not swapped either.
    let src = "def f(a):\n    g(a, 1)\n    h(a)\n    k(a, b, c)\n    m(a, a)\n";
    assert!(sites_of(src, "python", Operator::SwapArguments).is_empty());
}

#[test]
fn only_lines_of_interest_are_searched() {
    let src = "def f(a, b):\n    if a < b:\n        return a\n    if b < a:\n        return b\n";
    let found = mutants::sites(src, "python", &[4]);
    assert!(!found.is_empty());
    assert!(found.iter().all(|s| s.line == 4), "{found:#?}");
    assert!(mutants::sites(src, "python", &[1, 3, 5, 99]).is_empty());
}

#[test]
fn operators_have_names_severities_and_descriptions() {
    let names: Vec<&str> = Operator::ALL.iter().map(|o| o.name()).collect();
    assert_eq!(
        names,
        [
            "flip-comparison",
            "off-by-one",
            "drop-null-check",
            "drop-error-return",
            "swap-arguments",
            "invert-condition",
            "remove-release"
        ]
    );
    for op in Operator::ALL {
        assert_eq!(serde_json::to_value(op).unwrap(), op.name());
        assert!(!op.describe().is_empty());
    }
    use git_deep_review::check::findings::Severity;
    assert_eq!(Operator::DropNullCheck.severity(), Severity::Critical);
    assert_eq!(Operator::RemoveRelease.severity(), Severity::Critical);
    assert_eq!(Operator::DropErrorReturn.severity(), Severity::Critical);
    assert_eq!(Operator::FlipComparison.severity(), Severity::Important);
}

/// Every site of every snippet above applies and still parses: a sweep
/// over all operators at once (the single-operator tests check the text).
#[test]
fn every_site_of_a_mixed_file_still_parses() {
    let files = [
        ("python", "import os\n\n\ndef load(path, limit):\n    if path is None:\n        return None\n    f = open(path)\n    data = f.read()\n    f.close()\n    if len(data) > limit:\n        raise ValueError(\"too big\")\n    for i in range(len(data)):\n        check(data, limit)\n        if data[i] == 0:\n            continue\n    return data[: limit - 1]\n"),
        ("javascript", "async function load(pool, id, limit) {\n  if (id == null) {\n    return null;\n  }\n  const client = await pool.connect();\n  const rows = await client.query(id, limit);\n  client.release();\n  if (rows.length > limit) {\n    throw new Error(\"too many\");\n  }\n  for (let i = 0; i < rows.length; i++) {\n    check(rows, limit);\n  }\n  return rows[rows.length - 1];\n}\n"),
        ("rust", "fn load(path: &str, limit: usize) -> std::io::Result<Vec<u8>> {\n    let data = std::fs::read(path)?;\n    if data.len() > limit {\n        return Ok(Vec::new());\n    }\n    for i in 0..data.len() {\n        check(i, limit);\n    }\n    let guard = LOCK.lock().unwrap();\n    drop(guard);\n    Ok(data[..limit - 1].to_vec())\n}\n"),
    ];
    for (lang, src) in files {
        parses(lang, src).unwrap();
        let found = mutants::sites(src, lang, &all_lines(src));
        let ops: std::collections::BTreeSet<Operator> = found.iter().map(|s| s.operator).collect();
        assert!(ops.len() >= 5, "{lang}: only {ops:?}");
        for site in &found {
            let m = mutants::apply(src, lang, site).expect("applies");
            assert_ne!(m.text, src, "{site:?} changed nothing");
            assert_only_region_changed(src, &m);
            parses(lang, &m.text).unwrap_or_else(|e| {
                panic!("{lang} mutant of {site:?} does not parse: {e}\n{}", m.text)
            });
        }
    }
}

// ---------------------------------------------------------------------------
// The object layer.

/// A repository with a few commits in several languages: a root commit
/// (never a candidate), then commits adding Rust, Go, JavaScript and
/// Python code, and a documentation-only commit last.
fn polyglot_repo() -> TestRepo {
    let r = TestRepo::new();
    r.commit_files(
        "Add stats",
        &[("stats.py", "def total(xs):\n    return sum(xs)\n")],
    );
    r.commit_files(
        "Add limits",
        &[(
            "src/limits.rs",
            "pub fn clamp(i: usize, n: usize) -> usize {\n    if i < n {\n        i\n    } else {\n        n - 1\n    }\n}\n\npub fn load(path: &str) -> std::io::Result<String> {\n    let text = std::fs::read_to_string(path)?;\n    Ok(text)\n}\n",
        )],
    );
    r.commit_files(
        "Add the Go loader\n\nReads the configuration file.",
        &[(
            "conf/load.go",
            "package conf\n\nimport \"os\"\n\nfunc Load(path string) ([]byte, error) {\n\tdata, err := os.ReadFile(path)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\tif len(data) == 0 {\n\t\treturn nil, nil\n\t}\n\treturn data, nil\n}\n",
        )],
    );
    r.commit_files(
        "Add labels",
        &[(
            "web/label.js",
            "function label(user) {\n  if (user == null) {\n    return \"anonymous\";\n  }\n  return user.name.slice(0, 20);\n}\n",
        ),
        // A second file in the same commit: a mutant of label.js leaves it out.
        ("web/NOTES.md", "Labels are cut at 20 characters.\n")],
    );
    r.commit_files(
        "Add mean()",
        &[(
            "stats.py",
            "def total(xs):\n    return sum(xs)\n\n\ndef mean(xs):\n    if xs is None:\n        return 0\n    if len(xs) == 0:\n        raise ValueError(\"empty\")\n    return total(xs) / len(xs)\n",
        )],
    );
    r.commit_files("Document", &[("README.md", "# stats\n\nSee `mean()`.\n")]);
    r
}

fn head_of(repo: &TestRepo) -> gix::ObjectId {
    gix::ObjectId::from_hex(repo.rev("HEAD").as_bytes()).unwrap()
}

fn plant(repo: &TestRepo, count: usize, seed: u64) -> Vec<MutantCase> {
    let opts = MutantOptions {
        count,
        seed,
        ..MutantOptions::default()
    };
    mutants::plant(&repo.open(), head_of(repo), &opts).expect("plant")
}

/// Refs, HEAD, index and work tree, as git shows them.
fn repo_state(repo: &TestRepo) -> (String, String, String, Vec<u8>) {
    (
        repo.git(&["show-ref"]),
        repo.git(&["rev-parse", "HEAD"]),
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        std::fs::read(repo.path.join(".git/index")).unwrap(),
    )
}

fn selection(cases: &[MutantCase]) -> Vec<(String, u32, Operator)> {
    cases
        .iter()
        .map(|c| {
            (
                c.case.defects[0].file.clone(),
                c.case.defects[0].line_start,
                c.operator,
            )
        })
        .collect()
}

#[test]
fn plant_is_deterministic_and_writes_only_objects() {
    let repo = polyglot_repo();
    let before = repo_state(&repo);
    let a = plant(&repo, 4, 1);
    let b = plant(&repo, 4, 1);
    assert_eq!(a.len(), 4);
    assert_eq!(a, b, "same seed, same mutants (and the same commit ids)");
    let other = (2..12)
        .map(|seed| plant(&repo, 4, seed))
        .find(|c| selection(c) != selection(&a));
    assert!(
        other.is_some(),
        "no other seed chose differently from {:?}",
        selection(&a)
    );
    assert_eq!(
        repo_state(&repo),
        before,
        "a ref, HEAD, the index or the work tree changed"
    );
    for c in &a {
        assert_eq!(
            repo.git(&["cat-file", "-t", &c.case.head.to_string()]),
            "commit"
        );
    }
}

#[test]
fn mutants_differ_from_their_originals_only_at_the_site() {
    let repo = polyglot_repo();
    let cases = plant(&repo, 20, 3);
    assert!(cases.len() >= 8, "{:#?}", selection(&cases));
    let history: Vec<String> = repo
        .git(&["rev-list", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    let mut ids = std::collections::HashSet::new();
    for (n, c) in cases.iter().enumerate() {
        let case = &c.case;
        let mutant = case.head.to_string();
        let base = case.base.expect("a mutant has a parent").to_string();
        assert_eq!(case.id, format!("mutant-{}-{}", n + 1, c.operator));
        assert!(ids.insert(case.id.clone()));
        assert_eq!(case.source, Source::Mutant);
        assert_eq!(repo.git(&["cat-file", "-t", &mutant]), "commit");
        assert_eq!(repo.rev(&format!("{mutant}^")), base);
        let original = history
            .iter()
            .find(|h| repo.git(&["rev-parse", &format!("{h}^@")]) == base)
            .expect("the original commit")
            .clone();
        // The case is one file of the original commit: the mutant changes
        // that file (and nothing else) against the parent, and that file
        // is changed by the original commit too.
        let [defect] = &case.defects[..] else {
            panic!("{case:#?}")
        };
        assert_eq!(
            repo.git(&["diff", "--name-only", &base, &mutant]),
            defect.file
        );
        assert!(repo
            .git(&["diff", "--name-only", &base, &original])
            .lines()
            .any(|f| f == defect.file));
        // Same people, dates and message (prefixed).
        let who = "%an %ae %ad%n%cn %ce %cd";
        assert_eq!(
            repo.git(&["log", "-1", &format!("--format={who}"), &mutant]),
            repo.git(&["log", "-1", &format!("--format={who}"), &original])
        );
        assert_eq!(
            repo.git(&["log", "-1", "--format=%B", &mutant]),
            format!(
                "mutant: {}",
                repo.git(&["log", "-1", "--format=%B", &original])
            )
        );
        // One defect: against the original, the file differs in one hunk.
        assert_eq!(defect.severity, c.operator.severity());
        let diff = repo.git(&["diff", "-U0", &original, &mutant, "--", &defect.file]);
        let hunks: Vec<&str> = diff.lines().filter(|l| l.starts_with("@@")).collect();
        let [hunk] = hunks[..] else { panic!("{diff}") };
        let (start, len) = new_side(hunk);
        if len == 0 {
            // A pure removal: the defect is the line after the gap (or the
            // last line when the gap is at the end).
            assert!(
                defect.line_start == start + 1 || defect.line_start == start,
                "{hunk} vs {defect:?}"
            );
        } else {
            assert!(
                defect.line_start <= start && start + len - 1 <= defect.line_end,
                "{hunk} vs {defect:?}"
            );
        }
        let short = &original[..7];
        assert!(
            case.provenance
                .starts_with(&format!("{} at {}:", c.operator, defect.file))
                && case.provenance.contains(short),
            "{}",
            case.provenance
        );
    }
    let subjects: Vec<&str> = cases.iter().map(|c| c.case.provenance.as_str()).collect();
    assert!(
        subjects.iter().any(|p| p.ends_with("(Add the Go loader)")),
        "{subjects:#?}"
    );
}

/// `@@ -a,b +c,d @@` → (c, d).
fn new_side(hunk: &str) -> (u32, u32) {
    let plus = hunk.split(' ').find(|p| p.starts_with('+')).unwrap();
    let mut parts = plus[1..].split(',');
    let start = parts.next().unwrap().parse().unwrap();
    let len = parts.next().map_or(1, |l| l.parse().unwrap());
    (start, len)
}

#[test]
fn plant_spreads_over_operators() {
    let repo = polyglot_repo();
    let everything = plant(&repo, 1000, 9);
    let operators: std::collections::BTreeSet<Operator> =
        everything.iter().map(|c| c.operator).collect();
    assert!(operators.len() >= 6, "{operators:?}");
    // At most one mutant per line of a commit's file.
    let places: std::collections::HashSet<_> = everything
        .iter()
        .map(|c| {
            (
                c.case.base,
                c.case.defects[0].file.clone(),
                c.case.defects[0].line_start,
            )
        })
        .collect();
    assert!(places.len() <= everything.len());
    for seed in 0..5 {
        let few = plant(&repo, operators.len(), seed);
        let distinct: std::collections::BTreeSet<Operator> =
            few.iter().map(|c| c.operator).collect();
        assert_eq!(
            distinct, operators,
            "seed {seed}: one of each operator first"
        );
    }
}

#[test]
fn no_sites_or_no_count_gives_no_mutants() {
    let repo = TestRepo::new();
    repo.commit_files("Start", &[("README.md", "hello\n")]);
    repo.commit_files("Docs", &[("README.md", "hello\n\nif a < b { x }\n")]);
    repo.commit_files("Data", &[("data.json", "{\"a\": [1, 2]}\n")]);
    assert!(plant(&repo, 5, 1).is_empty());
    let repo = polyglot_repo();
    assert!(plant(&repo, 0, 1).is_empty());
}

#[test]
fn a_mutant_never_undoes_its_commit() {
    // The fix added `+ 1`; removing it again would give the parent's file,
    // a case with nothing to review. Another file of the fix has a site.
    let repo = TestRepo::new();
    repo.commit_files("Start", &[("README.md", "hello\n")]);
    repo.commit_files(
        "Add window()",
        &[(
            "window.py",
            "def window(xs, n):\n    return range(len(xs) - n)\n",
        )],
    );
    repo.commit_files(
        "Fix window()",
        &[
            (
                "window.py",
                "def window(xs, n):\n    return range(len(xs) - n + 1)\n",
            ),
            ("small.py", "def small(a, b):\n    return a < b\n"),
        ],
    );
    for seed in 0..8 {
        let cases = plant(&repo, 10, seed);
        assert!(!cases.is_empty(), "seed {seed}");
        for c in cases {
            assert_eq!(c.case.defects[0].file, "small.py", "seed {seed}: {c:#?}");
        }
    }
}

#[test]
fn merges_side_branches_and_old_commits_are_not_candidates() {
    let repo = TestRepo::new();
    repo.commit_files("Root", &[("a.py", "def f(x):\n    return x\n")]);
    let c2 = repo.commit_files(
        "Guard f",
        &[(
            "a.py",
            "def f(x):\n    if x is None:\n        return 0\n    return x\n",
        )],
    );
    repo.branch("side");
    repo.checkout("side");
    repo.commit_files(
        "Side work",
        &[(
            "b.py",
            "def g(a, b):\n    if a < b:\n        return h(a, b)\n    return a\n",
        )],
    );
    repo.checkout("main");
    let c4 = repo.commit_files(
        "Bound f",
        &[(
            "a.py",
            "def f(x):\n    if x is None:\n        return 0\n    if x > 10:\n        raise ValueError(\"big\")\n    return x\n",
        )],
    );
    repo.merge("side", "Merge side");
    let all = plant(&repo, 1000, 1);
    assert!(!all.is_empty());
    let c1 = repo.rev(&format!("{c2}^"));
    for c in &all {
        assert_eq!(c.case.defects[0].file, "a.py", "{c:#?}");
        let base = c.case.base.unwrap().to_string();
        assert!(base == c1 || base == c2, "{c:#?}");
    }
    // Two commits examined: the merge (skipped) and c4.
    let opts = MutantOptions {
        count: 1000,
        seed: 1,
        recent_commits: 2,
        ..MutantOptions::default()
    };
    let recent = mutants::plant(&repo.open(), head_of(&repo), &opts).unwrap();
    assert!(!recent.is_empty());
    for c in &recent {
        assert_eq!(
            c.case.base.unwrap().to_string(),
            c2,
            "only {c4} is recent: {c:#?}"
        );
    }
}

#[test]
fn the_file_mode_is_kept() {
    use std::os::unix::fs::PermissionsExt;
    let repo = TestRepo::new();
    repo.commit_files("Start", &[("README.md", "tool\n")]);
    repo.write(
        "tool.py",
        "#!/usr/bin/env python3\nimport sys\n\nif len(sys.argv) < 2:\n    sys.exit(2)\n",
    );
    let path = repo.path.join("tool.py");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.commit("Add tool");
    let cases = plant(&repo, 10, 1);
    assert!(!cases.is_empty());
    for c in &cases {
        let entry = repo.git(&["ls-tree", &c.case.head.to_string(), "tool.py"]);
        assert!(entry.starts_with("100755 blob "), "{entry}");
        let mutated = repo.git(&["show", &format!("{}:tool.py", c.case.head)]);
        parses("python", &mutated).unwrap();
    }
}

#[test]
fn the_parsers_reject_broken_code() {
    // Otherwise a mutant that does not parse would pass unnoticed.
    assert!(parses("rust", "fn f() { if a < b {\n").is_err());
    assert!(parses("python", "def f():\n    if x:\n").is_err());
    assert!(parses("javascript", "function f() { if (a) {\n").is_err());
}

/// Every site of this repository's own Rust source, planted one at a
/// time, still parses and changes only its region: real code, not
/// snippets written for the operators.
#[test]
fn every_site_in_our_own_source_still_parses() {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut planted = 0;
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        if syn::parse_file(&src).is_err() {
            continue; // being edited
        }
        for site in mutants::sites(&src, "rust", &all_lines(&src)) {
            let m = mutants::apply(&src, "rust", &site).expect("applies");
            assert_only_region_changed(&src, &m);
            if let Err(e) = syn::parse_file(&m.text) {
                panic!(
                    "{}:{} {site:?} does not parse: {e}",
                    path.display(),
                    site.line
                );
            }
            planted += 1;
        }
    }
    assert!(
        planted > 1000,
        "only {planted} sites in {} files",
        files.len()
    );
}

/// Shapes that broke mutants when the operators ran over the Python
/// standard library, npm's JavaScript and Rust crates.
#[test]
fn shapes_found_in_real_code() {
    // The only statement under a multi-line `if` header: `pass`, not a gap.
    let src = "def f(a, b):\n    if (a is not None\n            and b):\n        raise ValueError(\n            \"both\")\n    return a\n";
    let (_, m) = mutate(
        "python",
        src,
        Operator::DropErrorReturn,
        "        raise ValueError(\n            \"both\")\n",
        "        pass\n",
    );
    assert_eq!(lines_of(&m), (4, 4));
    // `while(x):` needs a space before `not`.
    let src = "def f(n):\n    while(n > 0):\n        n -= 1\n";
    mutate(
        "python",
        src,
        Operator::InvertCondition,
        "while(n > 0):",
        "while not ((n > 0)):",
    );
    // A regex literal's brackets are not code.
    let src = "function f(s) {\n  if (s === '' || /^\\)+$/.test(s)) {\n    return 1;\n  }\n  return 0;\n}\n";
    mutate(
        "javascript",
        src,
        Operator::InvertCondition,
        "(s === '' || /^\\)+$/.test(s))",
        "(!(s === '' || /^\\)+$/.test(s)))",
    );
    // A condition that goes on to the next line is not inverted.
    let src = "fn f(a: bool) -> bool {\n    if a || {\n        g()\n    } {\n        return true;\n    }\n    false\n}\n";
    parses("rust", src).unwrap();
    assert!(sites_of(src, "rust", Operator::InvertCondition).is_empty());
    // Attributes and a type beside a variable are not swapped.
    let src = "#[derive(Debug, Clone)]\nstruct S;\nfn f(other: u8) -> bool {\n    isinstance(other, Set)\n}\n";
    assert!(sites_of(src, "rust", Operator::SwapArguments).is_empty());
}

#[test]
fn large_file_changes_and_test_files_are_not_mutated() {
    let r = TestRepo::new();
    r.commit_files("Start", &[("README.md", "x\n")]);
    // A module of 250 lines, every one a site, added in one commit.
    let big: String = (0..250)
        .map(|i| format!("if a{i} < b{i}:\n    pass\n"))
        .collect();
    r.commit_files("Add the big module", &[("big.py", &big)]);
    r.commit_files(
        "Add small and its test",
        &[
            (
                "small.py",
                "def small(a, b):\n    if a < b:\n        return a\n    return b\n",
            ),
            (
                "tests/test_small.py",
                "def test_small():\n    if 1 < 2:\n        assert True\n",
            ),
        ],
    );
    let files = |opts: &MutantOptions| -> std::collections::BTreeSet<String> {
        mutants::plant(&r.open(), head_of(&r), opts)
            .expect("plant")
            .iter()
            .map(|m| m.case.defects[0].file.clone())
            .collect()
    };
    let default = MutantOptions {
        count: 20,
        seed: 1,
        ..MutantOptions::default()
    };
    assert_eq!(files(&default), ["small.py".to_string()].into());
    let roomy = MutantOptions {
        max_changed_lines: 1000,
        ..default
    };
    assert!(
        files(&roomy).contains("big.py"),
        "a higher limit lets it in"
    );
}

#[test]
fn a_comparison_after_a_cast_is_not_flipped_into_generic_arguments() {
    let src = "fn f(n: u32, m: usize) -> bool {\n    n as usize <= m && m >= n as usize\n}\n";
    let sites = mutants::sites(src, "rust", &all_lines(src));
    let flips: Vec<_> = sites
        .iter()
        .filter(|s| s.operator == mutants::Operator::FlipComparison)
        .collect();
    // `n as usize < m` would not parse; `m > n as usize` does.
    assert!(flips.iter().all(|s| s.replacement != "<"), "{flips:?}");
    assert!(flips.iter().any(|s| s.replacement == ">"), "{flips:?}");
    for s in &sites {
        let m = mutants::apply(src, "rust", s).expect("applies");
        syn::parse_file(&m.text).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    }
}

/// Every file under the repository's object directory (loose objects,
/// packs, their indexes), with its size.
fn object_files(repo: &TestRepo) -> Vec<(String, u64)> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<(String, u64)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::metadata(&p).unwrap().len()));
            }
        }
    }
    let root = repo.path.join(".git/objects");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

#[test]
fn eval_mutants_leaves_the_object_store_exactly_as_it_was() {
    let repo = polyglot_repo();
    // Packed history and loose objects both: neither may change.
    repo.git(&["gc", "-q"]);
    repo.commit_files(
        "Tune",
        &[("stats.py", "def total(xs):\n    return sum(xs) + 0\n")],
    );
    let count = |r: &TestRepo| r.git(&["count-objects", "-v"]);
    let (files, counted) = (object_files(&repo), count(&repo));
    let tmp = repo.scratch().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = repo
        .deep_review(&[
            "eval",
            "--mutants",
            "4",
            "--model",
            "standin:marker",
            "--format",
            "json",
        ])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("4 mutant(s) planted"), "{err}");
    let scores: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The mutants were reviewed: read from where they were written.
    let card = &scores["reviewers"][0];
    assert_eq!(card["failed_cases"], 0, "{scores}");
    assert!(card["cost"]["chunks"].as_u64().unwrap() >= 4, "{scores}");
    assert_eq!(count(&repo), counted, "git count-objects -v changed");
    assert_eq!(object_files(&repo), files, ".git/objects changed");
    // The scratch object directory went with the run.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
