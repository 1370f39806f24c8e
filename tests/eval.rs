//! `git deep-review eval` through the binary with stand-in reviewers whose
//! answers are known (`standin:marker` finds exactly the lines carrying
//! the plant marker, `standin:empty` finds nothing), so every score can be
//! computed by hand; plus the bad inputs a user can give.

use serde_json::Value;

mod common;
use common::repo::TestRepo;

const TWO_REVIEWERS: &str = r#"
[[reviewer]]
name = "marker"
model = "standin:marker"
prompt = "correctness.md"

[[reviewer]]
name = "silent"
model = "standin:empty"
prompt = "robustness.md"
"#;

/// A repository whose second commit adds a function with one marked
/// (critical) line at line 3 and an unmarked defect at line 9.
fn labelled_repo() -> (TestRepo, String, String) {
    let repo = TestRepo::new();
    let base = repo.commit_files("Add util", &[("util.py", "def one():\n    return 1\n")]);
    let body = "def one():\n    return 1\n    # DEEP-REVIEW-PLANT:critical\n\n\n\n\ndef first(xs):\n    return xs[0]\n";
    let head = repo.commit_files("Add first()", &[("util.py", body)]);
    repo.write(".deep-review.toml", TWO_REVIEWERS);
    (repo, base, head)
}

fn cases_toml(base: &str, head: &str, second_line: u32) -> String {
    format!(
        r#"
[[case]]
name = "first-of-empty"
base = "{base}"
head = "{head}"

[[case.defect]]
file = "util.py"
lines = 3
severity = "critical"
description = "the planted line"

[[case.defect]]
file = "util.py"
lines = [{second_line}, {second_line}]
severity = "important"
description = "xs[0] of an empty list"
"#
    )
}

fn eval_json(repo: &TestRepo, args: &[&str]) -> Value {
    let mut all = vec!["eval", "--format", "json"];
    all.extend_from_slice(args);
    let out = repo.deep_review(&all).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("eval --format json prints JSON")
}

fn card<'a>(scores: &'a Value, name: &str) -> &'a Value {
    scores["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no scorecard for {name}: {scores}"))
}

#[test]
fn scores_known_answers_from_a_cases_file() {
    let (repo, base, head) = labelled_repo();
    let cases = repo.scratch().join("cases.toml");
    std::fs::write(&cases, cases_toml(&base, &head, 9)).unwrap();
    let s = eval_json(&repo, &["--cases", cases.to_str().unwrap()]);

    assert_eq!(s["cases"], 1);
    assert_eq!(s["reviewed_cases"], 1);
    assert_eq!(s["defects"], 2);
    let marker = card(&s, "marker");
    assert_eq!(marker["defects"]["found"], 1, "{marker}");
    assert_eq!(marker["defects"]["total"], 2);
    assert_eq!(marker["recall"], 0.5);
    assert_eq!(marker["by_severity"]["critical"]["found"], 1);
    assert_eq!(marker["by_severity"]["important"]["found"], 0);
    assert_eq!(marker["by_source"]["file"]["total"], 2);
    assert_eq!(marker["findings"], 1);
    assert_eq!(marker["unconfirmed"], 0);
    let silent = card(&s, "silent");
    assert_eq!(silent["defects"]["found"], 0);
    assert_eq!(silent["findings"], 0);
    assert_eq!(s["union"]["found"], 1);
    assert_eq!(s["best_single"], "marker");
    assert_eq!(s["union_gain"], 0.0);
    assert_eq!(s["consolidated"]["defects"]["found"], 1);

    // One reviewer raised the critical: it blocks at agreement 1, not at 2.
    let gate = |sev: &str, k: u64| {
        s["gate"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["block_on"] == sev && g["min_agreement"] == k)
            .cloned()
            .unwrap()
    };
    assert_eq!(gate("critical", 1)["blocked"], 1);
    assert_eq!(gate("critical", 1)["blocked_on_defect"], 1);
    assert_eq!(gate("critical", 2)["blocked"], 0);

    let case = &s["per_case"][0];
    assert_eq!(case["id"], "first-of-empty");
    assert_eq!(
        case["defects"][0]["found_by"],
        serde_json::json!(["marker"])
    );
    assert_eq!(case["defects"][1]["found_by"], serde_json::json!([]));
}

#[test]
fn tolerance_decides_what_counts_as_found() {
    let (repo, base, head) = labelled_repo();
    let cases = repo.scratch().join("cases.toml");
    // The marked line is 3; a defect labelled at 6 is 3 lines away.
    std::fs::write(&cases, cases_toml(&base, &head, 6)).unwrap();
    let path = cases.to_str().unwrap();
    let near = eval_json(&repo, &["--cases", path]);
    assert_eq!(card(&near, "marker")["defects"]["found"], 2);
    let strict = eval_json(&repo, &["--cases", path, "--tolerance", "2"]);
    assert_eq!(card(&strict, "marker")["defects"]["found"], 1);
}

#[test]
fn a_second_eval_reruns_only_the_changed_reviewer() {
    let (repo, base, head) = labelled_repo();
    let cases = repo.scratch().join("cases.toml");
    std::fs::write(&cases, cases_toml(&base, &head, 9)).unwrap();
    let path = cases.to_str().unwrap();
    let first = eval_json(&repo, &["--cases", path]);
    for name in ["marker", "silent"] {
        assert_eq!(card(&first, name)["cost"]["chunks_from_cache"], 0);
    }
    repo.write(
        ".deep-review.toml",
        TWO_REVIEWERS.replace("robustness.md", "tests-design.md"),
    );
    let second = eval_json(&repo, &["--cases", path]);
    let cached = |s: &Value, n: &str| card(s, n)["cost"]["chunks_from_cache"].as_u64().unwrap();
    let chunks = |s: &Value, n: &str| card(s, n)["cost"]["chunks"].as_u64().unwrap();
    assert!(chunks(&second, "marker") > 0);
    assert_eq!(cached(&second, "marker"), chunks(&second, "marker"));
    assert_eq!(
        cached(&second, "silent"),
        0,
        "the changed reviewer runs again"
    );
    // The scores do not depend on where an answer came from.
    assert_eq!(first["union"], second["union"]);
    assert_eq!(
        card(&first, "marker")["defects"],
        card(&second, "marker")["defects"]
    );
}

#[test]
fn the_table_shows_every_reviewer_and_the_gate() {
    let (repo, base, head) = labelled_repo();
    let cases = repo.scratch().join("cases.toml");
    std::fs::write(&cases, cases_toml(&base, &head, 9)).unwrap();
    let out = repo
        .deep_review(&["eval", "--cases", cases.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("marker")[1..3], ["1/2", "50%"]);
    assert_eq!(line("silent")[1..3], ["0/2", "0%"]);
    assert_eq!(line("any reviewer")[2..4], ["1/2", "50%"]);
    assert_eq!(line("consolidated")[1..3], ["1/2", "50%"]);
    assert_eq!(line("critical")[1..3], ["1", "(1)"]);
}

fn eval_fails(repo: &TestRepo, args: &[&str]) -> (i32, String) {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    let out = repo.deep_review(&all).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn bad_cases_files_are_refused_before_any_model_runs() {
    let (repo, base, head) = labelled_repo();
    let cases = repo.scratch().join("cases.toml");
    let path = cases.to_str().unwrap();
    let check = |text: String, expect: &str| {
        std::fs::write(&cases, text).unwrap();
        let (code, err) = eval_fails(&repo, &["--cases", path]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expect), "expected {expect:?} in: {err}");
    };
    check(
        cases_toml("no-such-rev", &head, 9),
        "\"no-such-rev\" is not a revision",
    );
    check(
        cases_toml(&base, &head, 99),
        "past the end of the file (9 lines",
    );
    check(
        cases_toml(&base, &head, 9).replace("util.py\"\nlines = 3", "nope.py\"\nlines = 3"),
        "nope.py does not exist at head",
    );
    check(
        cases_toml(&base, &head, 9).replace("\"critical\"", "\"fatal\""),
        "is not critical, important or suggestion",
    );
    check(
        cases_toml(&base, &head, 9).replace("lines = 3", "lines = [5, 4]"),
        "not a range",
    );
    check("[[case]]\nname = 1\n".into(), "not a valid cases file");
    check("# nothing\n".into(), "has no [[case]]");
    let (code, err) = eval_fails(&repo, &["--cases", "/nonexistent/cases.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the cases file"), "{err}");
}

#[test]
fn usage_errors_say_what_to_do() {
    let (repo, _, _) = labelled_repo();
    let (code, err) = eval_fails(&repo, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--cases FILE, --from-history"), "{err}");
    let (code, err) = eval_fails(&repo, &["--mutants", "1", "--format", "sarif"]);
    assert_eq!(code, 2);
    assert!(err.contains("possible values: text, json"), "{err}");
    let (code, err) = eval_fails(&repo, &["--from-history", "--fix-pattern", "(unclosed"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a regular expression"), "{err}");
}

#[test]
fn a_history_without_fixes_is_a_clear_error() {
    let (repo, _, _) = labelled_repo();
    let (code, err) = eval_fails(&repo, &["--from-history"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("matches the fix pattern"), "{err}");
}

#[test]
fn an_empty_repository_and_a_shallow_clone_are_git_problems() {
    let empty = TestRepo::new();
    let (code, err) = eval_fails(&empty, &["--from-history"]);
    assert_eq!(code, 3, "{err}");

    let (repo, _, _) = labelled_repo();
    repo.commit_files(
        "Fix first() on an empty list",
        &[("util.py", "def one():\n    return 1\n")],
    );
    let shallow = repo.shallow_clone(1);
    let (code, err) = eval_fails(&shallow, &["--from-history"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--unshallow"), "{err}");
}

#[test]
fn a_history_case_reviews_the_files_its_defects_are_in() {
    let repo = TestRepo::new();
    repo.commit_files("Add util", &[("util.py", "def one():\n    return 1\n")]);
    // One commit brings the bug (in util.py) and an unrelated marked line
    // in other.py; the fix later touches util.py only.
    let introducing = repo.commit_files(
        "Add two() and other()",
        &[
            (
                "util.py",
                "def one():\n    return 1\n\n\ndef two():\n    return 3  # DEEP-REVIEW-PLANT:important\n",
            ),
            ("other.py", "def other():\n    pass  # DEEP-REVIEW-PLANT:critical\n"),
        ],
    );
    repo.commit_files(
        "Fix two() returning 3",
        &[(
            "util.py",
            "def one():\n    return 1\n\n\ndef two():\n    return 2\n",
        )],
    );
    repo.write(".deep-review.toml", TWO_REVIEWERS);
    let s = eval_json(&repo, &["--from-history"]);
    assert_eq!(s["cases"], 1, "{s}");
    let case = &s["per_case"][0];
    assert_eq!(case["head"], introducing);
    assert_eq!(case["defects"][0]["file"], "util.py");
    assert_eq!(case["defects"][0]["line_start"], 6);
    assert_eq!(
        case["defects"][0]["found_by"],
        serde_json::json!(["marker"])
    );
    let marker = card(&s, "marker");
    assert_eq!(marker["findings"], 1, "other.py is not reviewed: {s}");
    assert_eq!(marker["unconfirmed"], 0);
}

#[test]
fn cases_larger_than_max_chunks_are_listed_not_reviewed() {
    let (repo, base, head) = labelled_repo();
    // A second case whose change needs many chunks of the smallest size.
    let long: String = (0..400)
        .map(|i| format!("value_{i} = compute({i}) * {i}\n"))
        .collect();
    let big_head = repo.commit_files("Add the table", &[("table.py", &long)]);
    repo.write(
        ".deep-review.toml",
        format!("{TWO_REVIEWERS}\n[review]\nchunk_tokens = 128\n"),
    );
    let cases = repo.scratch().join("cases.toml");
    let big_case = format!(
        "\n[[case]]\nname = \"table\"\nbase = \"{head}\"\nhead = \"{big_head}\"\n\n[[case.defect]]\nfile = \"table.py\"\nlines = 7\nseverity = \"important\"\n"
    );
    std::fs::write(&cases, cases_toml(&base, &head, 9) + &big_case).unwrap();
    let s = eval_json(
        &repo,
        &["--cases", cases.to_str().unwrap(), "--max-chunks", "2"],
    );
    assert_eq!(s["cases"], 2);
    assert_eq!(s["reviewed_cases"], 1, "{s}");
    assert_eq!(s["defects"], 2, "only the reviewed case's defects count");
    let table = &s["per_case"][1];
    assert_eq!(table["id"], "table");
    let why = table["not_reviewed"].as_str().unwrap();
    assert!(why.contains("more than --max-chunks 2"), "{why}");
    assert_eq!(card(&s, "marker")["defects"]["found"], 1);
}

/// A repository whose one commit gives mutants only (`check.py`: the
/// marked line is found by `standin:marker`, near every mutant) and whose
/// other gives decoys only (`pick.py`: a marked line too, and the refute
/// marker, so a stand-in verifier refutes every finding there).
fn precision_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.commit_files("Add the readme", &[("README.md", "# tools\n")]);
    repo.commit_files(
        "Add check()",
        &[(
            "check.py",
            "def check(x, limit):\n    if x + 1 > limit:  # DEEP-REVIEW-PLANT:important\n        raise ValueError(limit)\n",
        )],
    );
    repo.commit_files(
        "Add pick()",
        &[(
            "pick.py",
            "def pick(xs):\n    n = len(xs)  # DEEP-REVIEW-PLANT:important DEEP-REVIEW-REFUTE\n    return n\n",
        )],
    );
    repo.write(".deep-review.toml", TWO_REVIEWERS);
    repo
}

fn precision(card: &Value, with: bool) -> &Value {
    &card[if with {
        "with_verification"
    } else {
        "without_verification"
    }]
}

#[test]
fn precision_with_verification_leaves_out_refuted_findings_on_decoys() {
    let repo = precision_repo();
    let s = eval_json(
        &repo,
        &["--mutants", "5", "--decoys", "5", "--verify", "on"],
    );
    assert_eq!(s["cases_by_source"]["mutant"], 2, "{s}");
    assert_eq!(s["cases_by_source"]["decoy"], 2, "{s}");
    for c in s["per_case"].as_array().unwrap() {
        if c["source"] == "decoy" {
            assert!(c["defects"].as_array().unwrap().is_empty());
            assert!(c["id"].as_str().unwrap().starts_with("decoy-"));
            assert_eq!(c["consolidated_refuted"], 1, "{c}");
            assert_eq!(c["reviewers"][0]["findings"][0]["refuted"], true, "{c}");
        } else {
            assert_eq!(c["consolidated_refuted"], 0, "{c}");
            assert!(c["reviewers"][0]["findings"][0].get("refuted").is_none());
        }
    }
    for name in ["marker", "consolidated"] {
        let card = if name == "consolidated" {
            &s["consolidated"]
        } else {
            card(&s, name)
        };
        let without = precision(card, false);
        assert_eq!(without["true_positives"], 2, "{name}: {without}");
        assert_eq!(without["false_positives"], 2);
        assert_eq!(without["false_positives_on_decoys"], 2);
        assert_eq!(without["precision"], 0.5);
        assert_eq!(without["recall"], 1.0);
        let with = precision(card, true);
        assert_eq!(with["true_positives"], 2, "{name}: {with}");
        assert_eq!(with["false_positives"], 0);
        assert_eq!(with["false_positives_on_decoys"], 0);
        assert_eq!(with["precision"], 1.0);
        assert_eq!(with["recall"], 1.0);
    }
    let silent = precision(card(&s, "silent"), true);
    assert_eq!(silent["true_positives"], 0);
    assert!(
        silent["precision"].is_null(),
        "no finding, no precision: {silent}"
    );
    let v = &s["verification"];
    assert_eq!(v["cases_verified"], 4, "{v}");
    assert_eq!(v["checked"], 4);
    assert_eq!(v["confirmed"], 2);
    assert_eq!(v["refuted"], 2);
    assert!(v["not_run"].as_object().unwrap().is_empty());
    // The gate sees what verification left: no decoy is blocked.
    let row = s["gate"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["block_on"] == "important" && g["min_agreement"] == 1)
        .unwrap();
    assert_eq!(
        (&row["blocked"], &row["blocked_on_decoy"]),
        (&2.into(), &0.into()),
        "{row}"
    );

    // The table: a row without and a row with verification.
    let out = repo
        .deep_review(&["eval", "--mutants", "5", "--decoys", "5", "--verify", "on"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| !l.starts_with("Precision on 2 mutant and 2 decoy case(s)"))
        .skip(2)
        .take(6)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["marker", "without", "2", "2", "2", "50%", "2/2", "100%"],
        "{text}"
    );
    assert_eq!(
        rows[1],
        ["with", "2", "0", "0", "100%", "2/2", "100%"],
        "{text}"
    );
    assert!(
        text.contains(
            "Verification ran on 4 case(s): 4 finding(s) checked, 2 confirmed, 2 refuted"
        ),
        "{text}"
    );
    assert!(text.contains("4 case(s) (2 mutants, 2 decoys)"), "{text}");
    assert!(
        text.contains("These counts include the 2 finding(s) the verifier refuted"),
        "{text}"
    );
}

#[test]
fn without_verification_the_scores_say_it_did_not_run() {
    let repo = precision_repo();
    let s = eval_json(&repo, &["--mutants", "5", "--verify", "off"]);
    assert!(card(&s, "marker")["with_verification"].is_null(), "{s}");
    assert!(s["consolidated"]["with_verification"].is_null());
    assert_eq!(precision(card(&s, "marker"), false)["precision"], 0.5);
    assert_eq!(s["verification"]["cases_verified"], 0);
    assert_eq!(
        s["verification"]["not_run"]["review.verify is off"], 4,
        "{s}"
    );
    let out = repo
        .deep_review(&["eval", "--mutants", "5", "--verify", "off"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Verification did not run, so there are no numbers with it: review.verify is off (4 case(s))"),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.split_whitespace().next() == Some("with")),
        "no row with verification:\n{text}"
    );
}
