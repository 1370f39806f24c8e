//! Decoys (`eval --decoys`): edits that keep the behaviour. Every kind in
//! Rust, Python, Go and JavaScript makes exactly the expected edit (every
//! other byte is the original's), the result still parses, and a program
//! prints the same before and after (Rust built with `rustc`, Python,
//! JavaScript with `node`, Go with `go run` when installed); what could
//! change the behaviour is not a site; and `plant_decoys` writes
//! deterministic objects, cases with no defect, and touches no ref, index
//! or work tree.

use git_deep_review::eval::mutants::{self, Decoy, DecoyCase, DecoyKind, DecoySite, MutantOptions};
use git_deep_review::eval::Source;

mod common;
use common::parse::{output_of, parses};
use common::repo::TestRepo;

// ---------------------------------------------------------------------------
// Helpers for the text layer.

fn all_lines(text: &str) -> Vec<u32> {
    (1..=text.lines().count() as u32).collect()
}

fn sites_on(text: &str, lang: &str, lines: &[u32], kind: DecoyKind) -> Vec<DecoySite> {
    mutants::decoy_sites(text, lang, lines)
        .into_iter()
        .filter(|s| s.kind == kind)
        .collect()
}

fn sites_of(text: &str, lang: &str, kind: DecoyKind) -> Vec<DecoySite> {
    sites_on(text, lang, &all_lines(text), kind)
}

/// The edited text parses and, when it is a program, prints what the
/// original printed.
fn assert_same_behaviour(lang: &str, original: &str, edited: &str) {
    parses(lang, edited)
        .unwrap_or_else(|e| panic!("the decoy does not parse as {lang}: {e}\n{edited}"));
    let is_program = match lang {
        "rust" | "go" => original.contains("fn main()") || original.contains("func main()"),
        _ => original.contains("print(") || original.contains("console.log("),
    };
    if !is_program {
        return;
    }
    let Some(before) = output_of(lang, original) else {
        return;
    };
    let before = before.unwrap_or_else(|e| panic!("the original {lang} fails: {e}\n{original}"));
    let after = output_of(lang, edited)
        .expect("the tool ran before")
        .unwrap_or_else(|e| panic!("the decoy fails as {lang}: {e}\n{edited}"));
    assert_eq!(before, after, "the decoy changed the output:\n{edited}");
}

/// `kind` has exactly one site starting on `lines` of `src`; applied, the
/// text is `expected` (so every other byte is the original's), the
/// reported lines cover the edit, and the behaviour is the same.
fn decoy(lang: &str, src: &str, lines: &[u32], kind: DecoyKind, expected: &str) -> Decoy {
    let found = sites_on(src, lang, lines, kind);
    assert_eq!(
        found.len(),
        1,
        "{kind} sites on {lines:?} of\n{src}\n{found:#?}"
    );
    check(lang, src, &found[0], expected)
}

/// [`decoy`] for the one site of several on `lines` that edits `original`.
fn decoy_of(
    lang: &str,
    src: &str,
    lines: &[u32],
    kind: DecoyKind,
    original: &str,
    expected: &str,
) -> Decoy {
    let found = sites_on(src, lang, lines, kind);
    let site = found
        .iter()
        .find(|s| s.original == original)
        .unwrap_or_else(|| panic!("no {kind} site on `{original}`: {found:#?}"));
    check(lang, src, site, expected)
}

fn check(lang: &str, src: &str, site: &DecoySite, expected: &str) -> Decoy {
    parses(lang, src).unwrap_or_else(|e| panic!("the original {lang} does not parse: {e}\n{src}"));
    let kind = site.kind;
    assert_eq!(&src[site.start..site.end], site.original);
    let d = mutants::apply_decoy(src, lang, site).expect("the site applies");
    assert_eq!(d.kind, kind);
    assert_eq!(d.text, expected, "{kind} in {lang}");
    assert_only_lines_changed(src, &d);
    assert!(!d.description.is_empty());
    assert_same_behaviour(lang, src, &d.text);
    d
}

/// The lines outside `line_start..=line_end` are the original's, in order.
fn assert_only_lines_changed(original: &str, d: &Decoy) {
    let old: Vec<&str> = original.split_inclusive('\n').collect();
    let new: Vec<&str> = d.text.split_inclusive('\n').collect();
    let (ls, le) = (d.line_start as usize, d.line_end as usize);
    assert!(
        1 <= ls && ls <= le && le <= new.len(),
        "bad region {ls}-{le}"
    );
    assert_eq!(
        new[..ls - 1],
        old[..ls - 1],
        "lines before the edit changed"
    );
    let tail = new.len() - le;
    assert_eq!(
        new[le..],
        old[old.len() - tail..],
        "lines after the edit changed"
    );
}

fn lines_of(d: &Decoy) -> (u32, u32) {
    (d.line_start, d.line_end)
}

// ---------------------------------------------------------------------------
// Renaming a local.

#[test]
fn rename_local_rust() {
    let src = "fn total(xs: &[u32]) -> u32 {\n    let mut sum = 0;\n    for x in xs {\n        sum += x;\n    }\n    sum\n}\n\nfn main() {\n    println!(\"{}\", total(&[1, 2, 3]));\n}\n";
    let d = decoy(
        "rust",
        src,
        &[2],
        DecoyKind::RenameLocal,
        &src.replace("sum", "sum_value"),
    );
    assert_eq!(lines_of(&d), (2, 6));
    assert!(
        d.description.contains("`sum` to `sum_value` (3 mentions)"),
        "{}",
        d.description
    );
}

#[test]
fn rename_local_python() {
    let src = "def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)\n\n\nprint(mean([1, 2, 3]))\n";
    let d = decoy(
        "python",
        src,
        &[2],
        DecoyKind::RenameLocal,
        &src.replace("total", "total_value"),
    );
    assert_eq!(lines_of(&d), (2, 5));
}

#[test]
fn rename_local_go() {
    let src = "package main\n\nimport \"fmt\"\n\nfunc sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}\n\nfunc main() {\n\tfmt.Println(sum([]int{1, 2, 3}))\n}\n";
    decoy(
        "go",
        src,
        &[6],
        DecoyKind::RenameLocal,
        &src.replace("total", "totalValue"),
    );
}

#[test]
fn rename_local_javascript() {
    let src = "function sum(xs) {\n  let total = 0;\n  for (const x of xs) {\n    total += x;\n  }\n  return total;\n}\nconsole.log(sum([1, 2, 3]));\n";
    decoy(
        "javascript",
        src,
        &[2],
        DecoyKind::RenameLocal,
        &src.replace("total", "totalValue"),
    );
}

#[test]
fn rename_local_takes_a_name_the_file_does_not_have() {
    // `n_value` is taken (in a comment, even): the next candidate.
    let src = "fn f(xs: &[u8]) -> usize {\n    // n_value is something else\n    let n = xs.len();\n    n + 1\n}\n";
    decoy(
        "rust",
        src,
        &[3],
        DecoyKind::RenameLocal,
        &src.replacen("let n =", "let n_v =", 1)
            .replace("    n + 1", "    n_v + 1"),
    );
}

#[test]
fn rename_local_skips_what_could_be_something_else() {
    let none = |lang: &str, src: &str| {
        parses(lang, src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let found = sites_of(src, lang, DecoyKind::RenameLocal);
        assert!(found.is_empty(), "{lang}:\n{src}\n{found:#?}");
    };
    let none_on = |lang: &str, src: &str, line: u32| {
        parses(lang, src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let found = sites_on(src, lang, &[line], DecoyKind::RenameLocal);
        assert!(found.is_empty(), "{lang} line {line}:\n{src}\n{found:#?}");
    };
    // A field of the same name.
    none(
        "rust",
        "fn f(p: P) -> u32 {\n    let x = 1;\n    p.x + x\n}\n",
    );
    // A struct field shorthand, and a key.
    none("rust", "fn f() -> P {\n    let x = 1;\n    P { x }\n}\n");
    none("rust", "fn f() -> P {\n    let x = 1;\n    P { x: x }\n}\n");
    // An inline format argument names the variable inside a string.
    none(
        "rust",
        "fn f() -> String {\n    let x = 1;\n    format!(\"{x}\")\n}\n",
    );
    // The declaration reads an outer variable of the same name.
    none(
        "rust",
        "fn f(x: u32) -> u32 {\n    let x = x + 1;\n    x\n}\n",
    );
    // (The outer `x` may be renamed: with the inner one, consistently.)
    let go = "package p\n\nfunc f() int {\n\tx := 1\n\tg := func() int {\n\t\tx := x + 1\n\t\treturn x\n\t}\n\treturn g() + x\n}\n";
    none_on("go", go, 6);
    decoy(
        "go",
        go,
        &[4],
        DecoyKind::RenameLocal,
        &go.replace('x', "xValue"),
    );
    // Used after the declaring block ends (another variable there).
    none("rust", "fn f(c: bool) -> u32 {\n    if c {\n        let y = 1;\n        return y;\n    }\n    let y = 2;\n    y\n}\n");
    // Python: a keyword argument, an f-string, `global`, a parameter.
    none("python", "def f():\n    key = 1\n    return g(key=key)\n");
    none("python", "def f():\n    key = 1\n    return f\"{key}\"\n");
    none(
        "python",
        "def f():\n    global key\n    key = 1\n    return key\n",
    );
    none("python", "def f(key):\n    key = key + 1\n    return key\n");
    // Module level and class bodies are not a function's locals.
    none("python", "key = 1\nprint(key)\n");
    none("python", "class C:\n    key = 1\n    other = key\n");
    // JS: shorthand properties, destructuring, a function's own name.
    none(
        "javascript",
        "function f() {\n  const x = 1;\n  return { x };\n}\n",
    );
    none(
        "javascript",
        "function f() {\n  const x = 1;\n  return { y: 2, x };\n}\n",
    );
    none(
        "javascript",
        "function f() {\n  const g = () => 1;\n  return g();\n}\n",
    );
    none(
        "javascript",
        "function f(o) {\n  const x = 1;\n  return o.x + x;\n}\n",
    );
    // A private field, a method of an object literal.
    none(
        "javascript",
        "class C {\n  #x = 0;\n  get() {\n    const x = 1;\n    return this.#x + x;\n  }\n}\n",
    );
    none(
        "javascript",
        "function f() {\n  const x = 1;\n  return { x() { return 2; }, y: x };\n}\n",
    );
    // Go: a keyed field.
    none(
        "go",
        "package p\n\nfunc f() T {\n\tx := 1\n\treturn T{x: x}\n}\n",
    );
}

// ---------------------------------------------------------------------------
// Swapping two independent statements.

#[test]
fn swap_statements_rust() {
    let src = "fn area(w: u32, h: u32) -> u32 {\n    let width = w * 2;\n    let height = h + 1;\n    width * height\n}\n\nfn main() {\n    println!(\"{}\", area(3, 4));\n}\n";
    let expected = src.replace(
        "    let width = w * 2;\n    let height = h + 1;\n",
        "    let height = h + 1;\n    let width = w * 2;\n",
    );
    let d = decoy("rust", src, &[2, 3], DecoyKind::SwapStatements, &expected);
    assert_eq!(lines_of(&d), (2, 3));
}

#[test]
fn swap_statements_python() {
    let src = "def area(w, h):\n    width = w * 2\n    height = len(h)\n    return width * height\n\n\nprint(area(3, 'abcd'))\n";
    let expected = src.replace(
        "    width = w * 2\n    height = len(h)\n",
        "    height = len(h)\n    width = w * 2\n",
    );
    decoy("python", src, &[2, 3], DecoyKind::SwapStatements, &expected);
}

#[test]
fn swap_statements_go() {
    let src = "package main\n\nimport \"fmt\"\n\nfunc area(w, h int) int {\n\twidth := w * 2\n\theight := h + 1\n\treturn width * height\n}\n\nfunc main() {\n\tfmt.Println(area(3, 4))\n}\n";
    let expected = src.replace(
        "\twidth := w * 2\n\theight := h + 1\n",
        "\theight := h + 1\n\twidth := w * 2\n",
    );
    decoy("go", src, &[6, 7], DecoyKind::SwapStatements, &expected);
}

#[test]
fn swap_statements_javascript() {
    let src = "function area(w, h) {\n  const width = w * 2;\n  const height = Math.max(h, 1);\n  return width * height;\n}\nconsole.log(area(3, 4));\n";
    let expected = src.replace(
        "  const width = w * 2;\n  const height = Math.max(h, 1);\n",
        "  const height = Math.max(h, 1);\n  const width = w * 2;\n",
    );
    decoy(
        "javascript",
        src,
        &[2, 3],
        DecoyKind::SwapStatements,
        &expected,
    );
}

#[test]
fn swap_keeps_crlf_line_endings() {
    let src = "fn f(a: u32, b: u32) -> u32 {\r\n    let x = a + 1;\r\n    let y = b + 2;\r\n    x * y\r\n}\r\n";
    let found = sites_on(src, "rust", &[2, 3], DecoyKind::SwapStatements);
    let d = mutants::apply_decoy(src, "rust", &found[0]).unwrap();
    assert_eq!(
        d.text,
        "fn f(a: u32, b: u32) -> u32 {\r\n    let y = b + 2;\r\n    let x = a + 1;\r\n    x * y\r\n}\r\n"
    );
}

#[test]
fn swap_statements_skips_dependent_or_effectful_pairs() {
    let none = |lang: &str, src: &str| {
        parses(lang, src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let found = sites_of(src, lang, DecoyKind::SwapStatements);
        assert!(found.is_empty(), "{lang}:\n{src}\n{found:#?}");
    };
    // The second reads the first (in a format string, too).
    none(
        "rust",
        "fn f(a: u32) -> u32 {\n    let x = a + 1;\n    let y = x * 2;\n    y\n}\n",
    );
    none(
        "rust",
        "fn f() -> String {\n    let ws = \"  \";\n    let s = format!(\"{{{ws}\");\n    s\n}\n",
    );
    // Both call something: the order of their effects would change.
    none(
        "python",
        "def f():\n    a = read()\n    b = write()\n    return a, b\n",
    );
    // Both may fail (an index each).
    none(
        "go",
        "package p\n\nfunc f(xs, ys []int) int {\n\ta := xs[0]\n\tb := ys[1]\n\treturn a + b\n}\n",
    );
    // Rust drops locals in reverse order: a move could be a guard.
    none(
        "rust",
        "fn f(g: G, h: H) {\n    let a = g;\n    let b = h.lock();\n    use_them(a, b);\n}\n",
    );
    // A call could run a closure reading the other, earlier-mentioned name.
    none("python", "def f():\n    limit = 0\n    check = lambda: limit\n    limit = 10\n    total = check()\n    return total\n");
    // Different indentation, plain assignments in Go, an attribute in Rust.
    none(
        "python",
        "def f(c):\n    if c:\n        a = 1\n    b = 2\n    return b\n",
    );
    none(
        "go",
        "package p\n\nvar a, b int\n\nfunc f(x, y int) {\n\ta = x\n\tb = y\n}\n",
    );
    // Go: the second statement goes on after its line.
    none(
        "go",
        "package p\n\nfunc f(x, y int) int {\n\ta := x * 2\n\tb := y +\n\t\t1\n\treturn a + b\n}\n",
    );
    none("rust", "fn f(p: u32, q: u32) -> u32 {\n    #[allow(unused)]\n    let a = p + 1;\n    let b = q + 1;\n    a + b\n}\n");
}

// ---------------------------------------------------------------------------
// Extracting a binding.

#[test]
fn extract_binding_rust() {
    let src = "fn area(w: u32, h: u32) -> u32 {\n    return w * h + 1;\n}\n\nfn main() {\n    println!(\"{}\", area(3, 4));\n}\n";
    let d = decoy(
        "rust",
        src,
        &[2],
        DecoyKind::ExtractBinding,
        &src.replace(
            "    return w * h + 1;\n",
            "    let result = w * h + 1;\n    return result;\n",
        ),
    );
    assert_eq!(lines_of(&d), (2, 3));
}

#[test]
fn extract_binding_python() {
    let src =
        "def mean(xs):\n    return sum(xs) / len(xs)  # the average\n\n\nprint(mean([1, 2, 3]))\n";
    decoy(
        "python",
        src,
        &[2],
        DecoyKind::ExtractBinding,
        &src.replace(
            "    return sum(xs) / len(xs)  # the average\n",
            "    result = sum(xs) / len(xs)\n    return result  # the average\n",
        ),
    );
}

#[test]
fn extract_binding_go() {
    let src = "package main\n\nimport \"fmt\"\n\nfunc last(xs []int) int {\n\treturn len(xs) - 1\n}\n\nfunc main() {\n\tfmt.Println(last([]int{1, 2, 3}))\n}\n";
    decoy(
        "go",
        src,
        &[6],
        DecoyKind::ExtractBinding,
        &src.replace(
            "\treturn len(xs) - 1\n",
            "\tresult := len(xs) - 1\n\treturn result\n",
        ),
    );
}

#[test]
fn extract_binding_javascript() {
    let src = "function label(user) {\n  return user.name.slice(0, 20);\n}\nconsole.log(label({ name: 'ada' }));\n";
    decoy(
        "javascript",
        src,
        &[2],
        DecoyKind::ExtractBinding,
        &src.replace(
            "  return user.name.slice(0, 20);\n",
            "  const result = user.name.slice(0, 20);\n  return result;\n",
        ),
    );
}

#[test]
fn extract_binding_takes_a_fresh_name() {
    let src = "fn f(result: u32) -> u32 {\n    return result + 1;\n}\n";
    decoy(
        "rust",
        src,
        &[2],
        DecoyKind::ExtractBinding,
        "fn f(result: u32) -> u32 {\n    let value = result + 1;\n    return value;\n}\n",
    );
}

#[test]
fn extract_binding_skips_what_would_not_compile_or_differ() {
    let none = |lang: &str, src: &str| {
        parses(lang, src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let found = sites_of(src, lang, DecoyKind::ExtractBinding);
        assert!(found.is_empty(), "{lang}:\n{src}\n{found:#?}");
    };
    // Go: a call may give several values; several results; an untyped constant.
    none(
        "go",
        "package p\n\nfunc f(v any) ([]byte, error) {\n\treturn json.Marshal(v)\n}\n",
    );
    none(
        "go",
        "package p\n\nfunc f() (int, error) {\n\treturn 1, nil\n}\n",
    );
    none("go", "package p\n\nfunc f() float64 {\n\treturn 0\n}\n");
    // Go: the expression goes on after the line.
    none(
        "go",
        "package p\n\nfunc f(xs []int) int {\n\treturn len(xs) +\n\t\tlen(xs)\n}\n",
    );
    // A bare return; a Rust closure (its types come from the return type).
    none("rust", "fn f() {\n    return;\n}\n");
    none(
        "rust",
        "fn f() -> Box<dyn Fn(u32) -> u32> {\n    return Box::new(|x| x + 1);\n}\n",
    );
    // A JS return governed by a brace-less `if` above it.
    none(
        "javascript",
        "function f(a) {\n  if (a)\n    return a + 1;\n}\n",
    );
}

// ---------------------------------------------------------------------------
// Equivalent conditions.

#[test]
fn equivalent_condition_rust() {
    let src = "fn clamp(i: usize, n: usize) -> usize {\n    if i < n {\n        i\n    } else {\n        n - 1\n    }\n}\n\nfn main() {\n    println!(\"{} {}\", clamp(1, 5), clamp(7, 5));\n}\n";
    decoy(
        "rust",
        src,
        &[2],
        DecoyKind::EquivalentCondition,
        &src.replace("if i < n {", "if n > i {"),
    );
    let neg = "fn same(a: u32, b: u32) -> bool {\n    if !(a == b) {\n        return false;\n    }\n    true\n}\n\nfn main() {\n    println!(\"{} {}\", same(1, 1), same(1, 2));\n}\n";
    decoy(
        "rust",
        neg,
        &[2],
        DecoyKind::EquivalentCondition,
        &neg.replace("!(a == b)", "a != b"),
    );
}

#[test]
fn equivalent_condition_python() {
    let src = "def within(i, n):\n    if i <= n:\n        return True\n    return False\n\n\nprint(within(1, 2), within(3, 2), within(2, 2))\n";
    decoy(
        "python",
        src,
        &[2],
        DecoyKind::EquivalentCondition,
        &src.replace("if i <= n:", "if n >= i:"),
    );
    // Two sites: the negation, and the comparison inside it.
    let neg = "def differ(a, b):\n    return not (a == b)\n\n\nprint(differ(1, 1), differ(1, 2))\n";
    let not = "not (a == b)";
    decoy_of(
        "python",
        neg,
        &[2],
        DecoyKind::EquivalentCondition,
        not,
        &neg.replace(not, "a != b"),
    );
    decoy_of(
        "python",
        neg,
        &[2],
        DecoyKind::EquivalentCondition,
        "a == b",
        &neg.replace("a == b", "b == a"),
    );
}

#[test]
fn equivalent_condition_go() {
    let src = "package main\n\nimport \"fmt\"\n\nfunc first(xs []int) int {\n\tif len(xs) == 0 {\n\t\treturn -1\n\t}\n\treturn xs[0]\n}\n\nfunc main() {\n\tfmt.Println(first(nil), first([]int{4}))\n}\n";
    decoy(
        "go",
        src,
        &[6],
        DecoyKind::EquivalentCondition,
        &src.replace("len(xs) == 0", "0 == len(xs)"),
    );
    let loop_ = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tn := 3\n\tfor i := 0; i < n; i++ {\n\t\tfmt.Println(i)\n\t}\n}\n";
    decoy(
        "go",
        loop_,
        &[7],
        DecoyKind::EquivalentCondition,
        &loop_.replace("i < n;", "n > i;"),
    );
}

#[test]
fn equivalent_condition_javascript() {
    let src = "function same(a, b) {\n  if (a === b) {\n    return 'same';\n  }\n  return 'different';\n}\nconsole.log(same(1, 1), same(1, '1'));\n";
    decoy(
        "javascript",
        src,
        &[2],
        DecoyKind::EquivalentCondition,
        &src.replace("a === b", "b === a"),
    );
    let neg = "function differ(a, b) {\n  return !(a === b);\n}\nconsole.log(differ(1, 1), differ(1, '1'));\n";
    let not = "!(a === b)";
    decoy_of(
        "javascript",
        neg,
        &[2],
        DecoyKind::EquivalentCondition,
        not,
        &neg.replace(not, "a !== b"),
    );
}

#[test]
fn typescript_uses_the_javascript_rules() {
    let src = "function f(a: number, b: number): boolean {\n  return a < b;\n}\n";
    let found = sites_on(src, "typescript", &[2], DecoyKind::EquivalentCondition);
    let d = mutants::apply_decoy(src, "typescript", &found[0]).unwrap();
    assert_eq!(d.text, src.replace("a < b", "b > a"));
}

#[test]
fn equivalent_condition_skips_what_binds_tighter() {
    let none = |lang: &str, src: &str| {
        parses(lang, src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let found = sites_of(src, lang, DecoyKind::EquivalentCondition);
        assert!(found.is_empty(), "{lang}:\n{src}\n{found:#?}");
    };
    none(
        "rust",
        "fn f(a: u32, b: u32, c: u32) -> bool {\n    a + b < c\n}\n",
    );
    none("rust", "fn f(a: u32, b: u32, c: u32) -> bool {\n    if a < b + c {\n        return true;\n    }\n    false\n}\n");
    none("rust", "fn f(x: u8, y: usize) -> bool {\n    if (x as usize) < y {\n        return true;\n    }\n    false\n}\n");
    // A call might have effects (their order would change).
    none(
        "python",
        "def f(a, b):\n    if g(a) < b:\n        return 1\n    return 0\n",
    );
    // Unary minus, chained comparisons.
    none(
        "javascript",
        "function f(a, b) {\n  if (-a < b) {\n    return 1;\n  }\n  return 0;\n}\n",
    );
    none(
        "python",
        "def f(a, b, c):\n    if a < b < c:\n        return 1\n    return 0\n",
    );
    // Rust `==` is not swapped (`PartialEq` need not be symmetric).
    none("rust", "fn f(a: u32, b: u32) -> bool {\n    if a == b {\n        return true;\n    }\n    false\n}\n");
    // `!(a < b)` is not `a >= b` for NaN: only the comparison inside turns.
    let nan = "fn f(a: f64, b: f64) -> bool {\n    if !(a < b) {\n        return true;\n    }\n    false\n}\n";
    let found = sites_of(nan, "rust", DecoyKind::EquivalentCondition);
    let replaced: Vec<&str> = found.iter().map(|s| s.replacement.as_str()).collect();
    assert_eq!(replaced, ["b > a"]);
    // Strings and comments.
    none(
        "go",
        "package p\n\nfunc f() string {\n\t// if a < b {\n\treturn \"a < b\"\n}\n",
    );
}

#[test]
fn other_languages_and_no_lines_have_no_decoys() {
    assert!(mutants::decoy_sites("if (a < b) {}\n", "c", &[1]).is_empty());
    assert!(mutants::decoy_sites("fn f() { if a < b {} }\n", "rust", &[]).is_empty());
    let src = "fn f(a: u32, b: u32) -> bool {\n    a < b\n}\n";
    let site = &sites_on(
        "fn f(a: u32, b: u32) {\n    if a < b {}\n}\n",
        "rust",
        &[2],
        DecoyKind::EquivalentCondition,
    )[0];
    assert!(mutants::apply_decoy(src, "rust", site).is_none());
}

// ---------------------------------------------------------------------------
// Every site of whole programs keeps their output.

const RUST_PROGRAM: &str = r#"use std::collections::HashMap;

struct Stats {
    count: usize,
    total: i64,
}

fn summarize(xs: &[i64]) -> Stats {
    let mut count = 0;
    let mut total = 0;
    for &x in xs {
        if x >= 0 {
            count += 1;
            total += x;
        }
    }
    return Stats { count, total };
}

fn scale(v: i64, k: i64) -> i64 {
    let doubled = v * 2;
    let bump = k + 1;
    if !(doubled == bump) {
        return doubled * bump;
    }
    doubled
}

fn tally(words: &[&str]) -> usize {
    let mut seen = HashMap::new();
    for w in words {
        *seen.entry(*w).or_insert(0) += 1;
    }
    let distinct = seen.len();
    return distinct + 0;
}

impl Stats {
    fn mean(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let total = self.total as f64;
        let count = self.count as f64;
        return total / count;
    }
}

fn render(items: &[(&str, u32)]) -> String {
    let ws = "  ";
    let mut out = format!("{{{ws}");
    for (name, n) in items {
        let line = format!("{name}={n}");
        out.push_str(&line);
    }
    let close = "}";
    out.push_str(close);
    return out;
}

fn pick(xs: &[u32], k: u32) -> Vec<u32> {
    let keep = |x: &u32| *x > k;
    let picked: Vec<u32> = xs.iter().copied().filter(|x| keep(x)).collect();
    return picked;
}

fn main() {
    let s = summarize(&[3, -1, 4, 1, -5]);
    println!("{}", s.mean());
    println!("{} {:?}", render(&[("a", 1), ("b", 2)]), pick(&[1, 5, 9], 4));
    println!("{} {}", s.count, s.total);
    let limit = 10;
    let mut i = 0;
    while i < limit {
        i += 3;
    }
    println!("{} {} {}", i, scale(3, 4), scale(1, 1));
    println!("{}", tally(&["a", "b", "a"]));
}
"#;

const PYTHON_PROGRAM: &str = r#"import math


def summarize(xs):
    count = 0
    total = 0
    for x in xs:
        if x >= 0:
            count += 1
            total += x
    return count, total


def scale(v, k):
    doubled = v * 2
    bump = k + 1
    if not (doubled == bump):
        return doubled * bump
    return math.sqrt(doubled)


def label(name, width=8):
    padded = name.ljust(width)
    size = len(padded)
    if size > width:
        return padded[:width]
    return padded + "|"


print(summarize([3, -1, 4, 1, -5]))
print(scale(3, 4), scale(1, 1))
print(label("ada"), label("a-very-long-name"))
"#;

const GO_PROGRAM: &str = r#"package main

import (
	"fmt"
	"strings"
)

func summarize(xs []int) (int, int) {
	count := 0
	total := 0
	for _, x := range xs {
		if x >= 0 {
			count++
			total += x
		}
	}
	return count, total
}

func scale(v, k int) int {
	doubled := v * 2
	bump := k + 1
	if !(doubled == bump) {
		return doubled * bump
	}
	return doubled + len(strings.Repeat("x", k))
}

func main() {
	c, t := summarize([]int{3, -1, 4, 1, -5})
	fmt.Println(c, t)
	limit := 10
	for i := 0; i < limit; i += 3 {
		fmt.Println(i)
	}
	fmt.Println(scale(3, 4), scale(1, 1))
}
"#;

const JS_PROGRAM: &str = r#"function summarize(xs) {
  let count = 0;
  let total = 0;
  for (const x of xs) {
    if (x >= 0) {
      count += 1;
      total += x;
    }
  }
  return { count: count, total: total };
}

function scale(v, k) {
  const doubled = v * 2;
  const bump = k + 1;
  if (!(doubled === bump)) {
    return doubled * bump;
  }
  return doubled;
}

class Box {
  constructor(items) {
    this.items = items;
  }

  size() {
    const n = this.items.length;
    return n + 0;
  }
}

console.log(JSON.stringify(summarize([3, -1, 4, 1, -5])));
console.log(scale(3, 4), scale(1, 1), new Box([1, 2]).size());
"#;

#[test]
fn every_decoy_of_whole_programs_keeps_their_output() {
    for (lang, program, at_least) in [
        ("rust", RUST_PROGRAM, 8),
        ("python", PYTHON_PROGRAM, 8),
        ("go", GO_PROGRAM, 6),
        ("javascript", JS_PROGRAM, 8),
    ] {
        let found = mutants::decoy_sites(program, lang, &all_lines(program));
        let kinds: std::collections::BTreeSet<DecoyKind> = found.iter().map(|s| s.kind).collect();
        assert_eq!(kinds.len(), 4, "{lang}: every kind has a site: {found:#?}");
        assert!(
            found.len() >= at_least,
            "{lang}: {} sites: {found:#?}",
            found.len()
        );
        for site in &found {
            let d = mutants::apply_decoy(program, lang, site).expect("the site applies");
            assert_ne!(d.text, program);
            assert_only_lines_changed(program, &d);
            assert_same_behaviour(lang, program, &d.text);
        }
    }
}

#[test]
fn decoy_kinds_have_names_and_descriptions() {
    let names: Vec<&str> = DecoyKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "rename-local",
            "swap-statements",
            "extract-binding",
            "equivalent-condition"
        ]
    );
    for k in DecoyKind::ALL {
        assert!(!k.describe().is_empty());
        assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        assert_eq!(k.to_string(), k.name());
    }
}

// ---------------------------------------------------------------------------
// The object layer.

fn decoy_repo() -> TestRepo {
    let r = TestRepo::new();
    r.commit_files(
        "Add stats",
        &[("stats.py", "def total(xs):\n    return sum(xs)\n")],
    );
    r.commit_files(
        "Add limits",
        &[(
            "src/limits.rs",
            "pub fn clamp(i: usize, n: usize) -> usize {\n    if i < n {\n        i\n    } else {\n        n - 1\n    }\n}\n\npub fn area(w: u32, h: u32) -> u32 {\n    let width = w * 2;\n    let height = h + 1;\n    return width * height;\n}\n",
        )],
    );
    r.commit_files(
        "Add labels",
        &[
            (
                "web/label.js",
                "function label(user) {\n  const name = user.name;\n  if (name === undefined) {\n    return 'anonymous';\n  }\n  return name.slice(0, 20);\n}\n",
            ),
            ("web/NOTES.md", "Labels are cut at 20 characters.\n"),
        ],
    );
    r.commit_files(
        "Add mean()",
        &[(
            "stats.py",
            "def total(xs):\n    return sum(xs)\n\n\ndef mean(xs):\n    n = len(xs)\n    if n == 0:\n        return 0\n    return total(xs) / n\n",
        )],
    );
    r
}

fn head_of(repo: &TestRepo) -> gix::ObjectId {
    gix::ObjectId::from_hex(repo.rev("HEAD").as_bytes()).unwrap()
}

fn plant(repo: &TestRepo, count: usize, seed: u64) -> Vec<DecoyCase> {
    let opts = MutantOptions {
        count,
        seed,
        ..MutantOptions::default()
    };
    mutants::plant_decoys(&repo.open(), head_of(repo), &opts).expect("plant decoys")
}

fn repo_state(repo: &TestRepo) -> (String, String, String, Vec<u8>) {
    (
        repo.git(&["show-ref"]),
        repo.git(&["rev-parse", "HEAD"]),
        repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        std::fs::read(repo.path.join(".git/index")).unwrap(),
    )
}

#[test]
fn plant_decoys_is_deterministic_and_writes_only_objects() {
    let repo = decoy_repo();
    let before = repo_state(&repo);
    let a = plant(&repo, 4, 1);
    assert_eq!(a.len(), 4);
    assert_eq!(
        a,
        plant(&repo, 4, 1),
        "same seed, same decoys (same commit ids)"
    );
    let kinds: std::collections::BTreeSet<DecoyKind> = a.iter().map(|d| d.kind).collect();
    assert_eq!(kinds.len(), 4, "one of each kind first: {a:#?}");
    let differs = (2..12).any(|seed| {
        plant(&repo, 4, seed)
            .iter()
            .map(|d| (d.file.clone(), d.line_start))
            .collect::<Vec<_>>()
            != a.iter()
                .map(|d| (d.file.clone(), d.line_start))
                .collect::<Vec<_>>()
    });
    assert!(differs, "every seed chose the same decoys");
    assert_eq!(
        repo_state(&repo),
        before,
        "a ref, HEAD, the index or the work tree changed"
    );
    assert!(plant(&repo, 0, 1).is_empty());
}

#[test]
fn decoys_are_cases_without_defects_that_differ_only_at_the_edit() {
    let repo = decoy_repo();
    let cases = plant(&repo, 50, 3);
    assert!(cases.len() >= 6, "{cases:#?}");
    let history: Vec<String> = repo
        .git(&["rev-list", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    for (n, d) in cases.iter().enumerate() {
        let case = &d.case;
        assert_eq!(case.id, format!("decoy-{}-{}", n + 1, d.kind));
        assert_eq!(case.source, Source::Decoy);
        assert!(case.defects.is_empty());
        let head = case.head.to_string();
        let base = case.base.expect("a decoy has a parent").to_string();
        assert_eq!(repo.rev(&format!("{head}^")), base);
        assert_eq!(repo.git(&["diff", "--name-only", &base, &head]), d.file);
        assert!(repo
            .git(&["log", "-1", "--format=%B", &head])
            .starts_with("decoy: "));
        let original = history
            .iter()
            .find(|h| repo.git(&["rev-parse", &format!("{h}^@")]) == base)
            .expect("the original commit");
        // Against the original, the file differs only on the edit's lines.
        let diff = repo.git(&["diff", "-U0", original, &head, "--", &d.file]);
        let hunks: Vec<&str> = diff.lines().filter(|l| l.starts_with("@@")).collect();
        assert!(!hunks.is_empty(), "{diff}");
        for hunk in hunks {
            let plus = hunk.split(' ').find(|p| p.starts_with('+')).unwrap();
            let mut parts = plus[1..].split(',');
            let start: u32 = parts.next().unwrap().parse().unwrap();
            let len: u32 = parts.next().map_or(1, |l| l.parse().unwrap());
            // A removal (a line moved by a swap) is the gap after `start`.
            let inside = if len == 0 {
                d.line_start <= start + 1 && start <= d.line_end
            } else {
                d.line_start <= start && start + len - 1 <= d.line_end
            };
            assert!(
                inside,
                "{hunk} outside {}-{} of {}",
                d.line_start, d.line_end, d.description
            );
        }
        assert!(
            case.provenance
                .starts_with(&format!("{} at {}:", d.kind, d.file))
                && case.provenance.contains(&original[..7])
                && case.provenance.ends_with(&d.description),
            "{}",
            case.provenance
        );
        // The edited file still parses.
        let lang = match d.file.rsplit('.').next() {
            Some("rs") => "rust",
            Some("py") => "python",
            _ => "javascript",
        };
        let text = repo.git(&["show", &format!("{head}:{}", d.file)]);
        parses(lang, &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}

#[test]
fn a_decoy_never_undoes_its_commit() {
    // The commit turned `b > a` into `a < b`: the decoy that turns it back
    // would give the parent's file, a case with nothing to review.
    let repo = TestRepo::new();
    repo.commit_files("Start", &[("README.md", "hello\n")]);
    let before = "def f(a, b):\n    return b > a\n";
    repo.commit_files("Add f()", &[("f.py", before)]);
    repo.commit_files(
        "Compare the usual way",
        &[("f.py", "def f(a, b):\n    return a < b\n")],
    );
    for seed in 0..8 {
        let all = plant(&repo, 10, seed);
        assert!(!all.is_empty());
        for d in &all {
            let (base, head) = (d.case.base.unwrap().to_string(), d.case.head.to_string());
            let tree = |c: &str| repo.git(&["rev-parse", &format!("{c}^{{tree}}")]);
            assert_ne!(
                tree(&base),
                tree(&head),
                "seed {seed}: {}",
                d.case.provenance
            );
        }
        // The second commit's comparison has no decoy (its return has).
        assert!(!all
            .iter()
            .any(|d| d.case.provenance.contains("Compare the usual way")
                && d.kind == DecoyKind::EquivalentCondition));
    }
}

#[test]
fn eval_plants_as_many_decoys_as_mutants_unless_told() {
    let repo = decoy_repo();
    let list = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["eval", "--list"];
        all.extend_from_slice(args);
        let out = repo.deep_review(&all).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with(' '))
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    };
    let count = |ids: &[String], prefix: &str| ids.iter().filter(|i| i.starts_with(prefix)).count();
    let both = list(&["--mutants", "3"]);
    assert_eq!(
        (count(&both, "mutant-"), count(&both, "decoy-")),
        (3, 3),
        "{both:?}"
    );
    let none = list(&["--mutants", "3", "--decoys", "0"]);
    assert_eq!((count(&none, "mutant-"), count(&none, "decoy-")), (3, 0));
    let alone = list(&["--decoys", "2"]);
    assert_eq!((count(&alone, "mutant-"), count(&alone, "decoy-")), (0, 2));
}
