//! The context stage on throw-away repositories with planted defects that
//! the diff alone does not show: what `--plan --format json` lists (items,
//! reasons, ranges, budget), what is skipped and why, that `context = off`
//! sends today's prompts, that the cache separates contexts, and that a
//! finding on a shown context line is kept and labelled while one on an
//! unshown line is dropped (stand-in reviewer; the real engine runs the
//! same path in `e2e_real`).

mod common;

use common::repo::TestRepo;
use serde_json::Value;

fn plan_json(r: &TestRepo, args: &[&str]) -> Value {
    let mut all = vec!["HEAD~1..HEAD", "--plan", "--format", "json"];
    all.extend_from_slice(args);
    let out = r.deep_review(&all).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every item of every pack: (kind, path, start, end, reason).
fn items(plan: &Value) -> Vec<(String, String, u64, u64, String)> {
    plan["context"]["packs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().iter())
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["path"].as_str().unwrap().to_string(),
                i["start"].as_u64().unwrap(),
                i["end"].as_u64().unwrap(),
                i["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(
    items: &[(String, String, u64, u64, String)],
    kind: &str,
    path: &str,
    line: u64,
    word: &str,
) -> bool {
    items.iter().any(|(k, p, s, e, r)| {
        k == kind && p == path && *s <= line && line <= *e && r.contains(word)
    })
}

/// A callee whose unit changed (milliseconds → seconds) and its caller in
/// another file, unchanged: the caller is shown, with the reason.
#[test]
fn callee_unit_change_shows_the_unchanged_caller_in_another_file() {
    let r = TestRepo::new();
    r.write(
        "src/timeout.rs",
        "/// The timeout in milliseconds.\npub fn timeout_value(cfg: &Config) -> u64 {\n    cfg.timeout_ms\n}\n",
    );
    r.write(
        "src/client.rs",
        "use crate::timeout::timeout_value;\n\npub fn connect(cfg: &Config) {\n    let ms = timeout_value(cfg);\n    sleep(Duration::from_millis(ms));\n}\n",
    );
    r.commit("base");
    r.write(
        "src/timeout.rs",
        "/// The timeout in seconds.\npub fn timeout_value(cfg: &Config) -> u64 {\n    cfg.timeout_ms / 1000\n}\n",
    );
    r.commit("timeout in seconds");
    let plan = plan_json(&r, &[]);
    let got = items(&plan);
    assert!(
        has(&got, "caller", "src/client.rs", 4, "timeout_value"),
        "the caller is shown: {got:#?}"
    );
    // Its reason names what changed and where.
    assert!(
        got.iter().any(|i| i.4.contains("src/timeout.rs:2")),
        "{got:#?}"
    );
}

/// A new field of a struct that a constructor elsewhere does not set: the
/// constructor is shown (it uses the type whose definition changed).
#[test]
fn new_field_shows_the_constructor_that_does_not_set_it() {
    let r = TestRepo::new();
    r.write(
        "src/config.rs",
        "pub struct Settings {\n    pub name: String,\n}\n",
    );
    r.write(
        "src/build.rs",
        "use crate::config::Settings;\n\npub fn defaults() -> Settings {\n    Settings {\n        name: String::new(),\n    }\n}\n",
    );
    r.commit("base");
    r.write(
        "src/config.rs",
        "pub struct Settings {\n    pub name: String,\n    pub retries: u32,\n}\n",
    );
    r.commit("retries");
    let got = items(&plan_json(&r, &[]));
    assert!(
        has(&got, "caller", "src/build.rs", 4, "Settings"),
        "the constructor is shown: {got:#?}"
    );
}

/// A method that now takes a lock around a field, and a sibling method of
/// the same type that touches the field without it: the sibling is shown.
#[test]
fn sibling_method_sharing_a_field_is_shown() {
    let r = TestRepo::new();
    let before = "package pool\n\nimport \"sync\"\n\ntype Pool struct {\n\tmu    sync.Mutex\n\tcount int\n}\n\nfunc (p *Pool) Add() {\n\tp.count++\n}\n\nfunc (p *Pool) Reset() {\n\tp.count = 0\n}\n\nfunc (p *Pool) Name() string {\n\treturn \"pool\"\n}\n";
    r.write("pool/pool.go", before);
    r.commit("base");
    r.write(
        "pool/pool.go",
        before.replace(
            "\tp.count++\n",
            "\tp.mu.Lock()\n\tp.count++\n\tp.mu.Unlock()\n",
        ),
    );
    r.commit("lock in Add");
    let got = items(&plan_json(&r, &["--context", "0"]));
    assert!(
        got.iter().any(|(k, p, s, e, why)| k == "sibling"
            && p == "pool/pool.go"
            && *s <= 17
            && 17 <= *e
            && why.contains(
                "`Reset`, another method of `Pool`, uses field `count` as the changed `Add` does"
            )),
        "Reset is a sibling: {got:#?}"
    );
    // A method that does not touch the field is not a sibling.
    assert!(
        !got.iter().any(|i| i.4.contains("`Name`, another method")),
        "{got:#?}"
    );
}

/// A test that still asserts the old behaviour of a changed function.
#[test]
fn test_of_a_changed_function_is_shown() {
    let r = TestRepo::new();
    r.write(
        "calc.py",
        "def average(xs):\n    return sum(xs) / len(xs)\n",
    );
    r.write(
        "tests/test_calc.py",
        "from calc import average\n\n\ndef test_average():\n    assert average([1, 2]) == 1.5\n",
    );
    r.commit("base");
    r.write(
        "calc.py",
        "def average(xs):\n    return sum(xs) // len(xs)\n",
    );
    r.commit("integer average");
    let got = items(&plan_json(&r, &[]));
    assert!(
        has(&got, "test", "tests/test_calc.py", 5, "average"),
        "{got:#?}"
    );
}

/// The budget holds per chunk (in the counted tokens), what does not fit
/// is listed as dropped, and 0 turns the stage off.
#[test]
fn budget_holds_and_zero_is_off() {
    let r = TestRepo::new();
    let mut callers = String::new();
    for i in 0..30 {
        callers.push_str(&format!(
            "pub fn caller_{i}() -> u64 {{\n    // some words to make this caller cost tokens\n    compute_total(1, {i})\n}}\n\n"
        ));
    }
    r.write("src/users.rs", &callers);
    r.write(
        "src/total.rs",
        "pub fn compute_total(a: u64, b: u64) -> u64 {\n    a + b\n}\n",
    );
    r.commit("base");
    r.write(
        "src/total.rs",
        "pub fn compute_total(a: u64, b: u64) -> u64 {\n    a * b\n}\n",
    );
    r.commit("product");
    let plan = plan_json(&r, &["--context-tokens", "300"]);
    for pack in plan["context"]["packs"].as_array().unwrap() {
        let used: u64 = pack["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["tokens"].as_u64().unwrap())
            .sum();
        assert!(used <= 300, "{pack:#}");
        assert_eq!(used, pack["tokens"].as_u64().unwrap());
        assert!(
            !pack["dropped"].as_array().unwrap().is_empty(),
            "30 callers cannot all fit"
        );
    }
    let off = plan_json(&r, &["--context-tokens", "0"]);
    assert_eq!(off["context"]["enabled"], false);
    assert!(items(&off).is_empty());
    r.git(&["config", "deep-review.context", "off"]);
    assert!(items(&plan_json(&r, &[])).is_empty());
}

/// What cannot be indexed sensibly is skipped with a note: binary, huge,
/// minified, symlink, submodule, non-UTF-8.
#[test]
fn unindexable_files_are_skipped_with_a_reason() {
    let r = TestRepo::new();
    r.write("src/a.rs", "pub fn a() -> u32 {\n    1\n}\n");
    r.write("blob.bin", b"\x00\x01\x02binary".as_slice());
    r.write("huge.rs", "// x\n".repeat(300_000));
    r.write(
        "app.min.rs",
        format!("fn m() {{ {} }}\n", "let a = 1; ".repeat(200)),
    );
    r.write("latin1.rs", b"// caf\xe9\nfn l() {}\n".as_slice());
    let link = r.path.join("link.rs");
    std::os::unix::fs::symlink("src/a.rs", &link).unwrap();
    r.commit("base");
    let sub = r.git(&["rev-parse", "HEAD"]);
    r.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{},vendorlib", sub.trim()),
    ]);
    r.commit_staged("submodule");
    // An unpopulated submodule is an empty directory (so `add -A` keeps it).
    std::fs::create_dir_all(r.path.join("vendorlib")).unwrap();
    r.write("src/a.rs", "pub fn a() -> u32 {\n    2\n}\n");
    r.commit("change");
    let plan = plan_json(&r, &[]);
    let skipped: Vec<(String, String)> = plan["context"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().into(),
                s["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    let reason = |p: &str| {
        skipped
            .iter()
            .find(|(path, _)| path == p)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{p} is not skipped: {skipped:#?}"))
    };
    assert_eq!(reason("blob.bin"), "binary");
    assert!(reason("huge.rs").starts_with("larger than"));
    assert!(reason("app.min.rs").starts_with("minified"));
    assert_eq!(reason("latin1.rs"), "not UTF-8 text");
    assert!(reason("link.rs").starts_with("symlink"));
    assert!(reason("vendorlib").starts_with("submodule"));
    // The text listing says so too.
    let out = r.deep_review(&["HEAD~1..HEAD", "--plan"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not indexed (6 files)"), "{text}");
}

const STANDIN: &str = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"correctness\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n";

fn review_json(r: &TestRepo, args: &[&str]) -> Value {
    let mut all = vec!["HEAD~1..HEAD", "--format", "json", "-o", "-"];
    all.extend_from_slice(args);
    let out = r.deep_review(&all).output().unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A repository whose change points (through the stand-in) at a line of
/// its caller, shown as context, and at a line nobody was shown.
fn pointing_repo() -> TestRepo {
    let r = TestRepo::new();
    r.write(".deep-review.toml", STANDIN);
    r.write(
        "src/lib.rs",
        "pub fn scale(x: u64) -> u64 {\n    x * 1000\n}\n",
    );
    let mut other = String::from("pub fn user() -> u64 {\n    scale(3)\n}\n");
    for i in 0..40 {
        other.push_str(&format!(
            "\npub fn unrelated_{i}() -> u64 {{\n    {i}\n}}\n"
        ));
    }
    r.write("src/other.rs", &other);
    r.commit("base");
    r.write(
        "src/lib.rs",
        "pub fn scale(x: u64) -> u64 {\n    x * 1000 // DEEP-REVIEW-POINT:src/other.rs:2\n}\n// DEEP-REVIEW-POINT:src/other.rs:40\n",
    );
    r.commit("scale");
    r
}

/// A consequence on a shown context line is kept and labelled with its
/// cause; one on a line that was not shown is dropped as ungrounded.
#[test]
fn consequence_on_shown_context_is_kept_and_on_unshown_lines_dropped() {
    let r = pointing_repo();
    let report = review_json(&r, &["--no-cache"]);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["file"], "src/other.rs");
    assert_eq!(f["line_start"], 2);
    assert_eq!(f["kind"], "consequence");
    assert_eq!(f["cause"]["file"], "src/lib.rs");
    assert_eq!(f["cause"]["line"], 2);
    let listed: Vec<&Value> = report["appendix"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let dropped = listed
        .iter()
        .find(|l| l["finding"]["line_start"] == 40)
        .unwrap_or_else(|| panic!("{listed:#?}"));
    assert_eq!(dropped["status"], "ungrounded", "{dropped:#}");
    // The report records the context, and the Markdown shows both places.
    assert!(report["context"]["chunks"][0]["items"][0]
        .as_str()
        .unwrap()
        .contains("src/other.rs:1-3"));
    let out = r
        .deep_review(&["HEAD~1..HEAD", "--no-cache", "-o", "-"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("it follows from the change at `src/lib.rs:2`"),
        "{md}"
    );
    // Without context the same pointer is ungrounded: nothing was shown.
    let off = review_json(&r, &["--no-cache", "--context-tokens", "0"]);
    assert!(off["findings"].as_array().unwrap().is_empty(), "{off:#}");
    assert!(off.get("context").is_none());
}

/// The cache keys cover the context: a review with another context is not
/// answered by the cache, the same one is.
#[test]
fn cache_separates_contexts() {
    let r = pointing_repo();
    let from_cache = |report: &Value| {
        TestRepo::appendix_chunks(report)
            .iter()
            .all(|(_, c)| c["from_cache"] == true)
    };
    let first = review_json(&r, &[]);
    assert!(!from_cache(&first));
    assert!(
        from_cache(&review_json(&r, &[])),
        "the same context is cached"
    );
    // Same diff, other context (the caller's file is ignored now): the
    // cached context and the cached answers must both miss.
    r.git(&["config", "deep-review.ignore", "src/other.rs"]);
    let other = review_json(&r, &[]);
    assert!(!from_cache(&other), "another context is another prompt");
    assert!(
        other["findings"].as_array().unwrap().is_empty(),
        "{other:#}"
    );
}
