//! Nothing is cut silently: a changed line too long for any chunk is cut
//! so the rest of its hunk is reviewed, and what the reviewers did not see
//! of it is named as not reviewed (report, terminal, hook), where
//! `gate.unreviewable` decides. And planted defects are found in files
//! that only fit in several chunks (windows of one hunk) and beside a cut
//! line: the stand-in reads a chunk that holds part of a file.
//!
//! Real binary on throw-away repositories; the reviewers are the stand-in
//! `standin:marker` (a finding on each added line carrying
//! `DEEP-REVIEW-PLANT:<severity>`), so each chunk is read for real by
//! the pipeline's renderer and the stand-in's parser.

mod common;
use common::repo::succeeded as ok;
use common::repo::{Remote, TestRepo};
use serde_json::Value;

const REVIEWERS: &str = "[review]\nlead = \"none\"\nverify = \"off\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 7\n";

/// A file whose line 2 is 100,000 characters long.
fn long_line_file(after: &str) -> String {
    format!(
        "fn data() -> &'static str {{\n    \"{}\"\n}}\n{after}",
        "a".repeat(100_000)
    )
}

fn repo_with(files: &[(&str, &str)]) -> TestRepo {
    let r = TestRepo::new();
    r.commit_files("base", &[("README.md", "hello\n")]);
    r.write(".deep-review.toml", REVIEWERS);
    r.write(".git/info/exclude", ".deep-review.toml\n");
    r.commit_files("change", files);
    r
}

fn json(r: &TestRepo, args: &[&str]) -> Value {
    let mut all = vec!["HEAD~1..HEAD", "--format", "json", "-o", "-"];
    all.extend_from_slice(args);
    let out = r.deep_review(&all).output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn findings(report: &Value) -> Vec<(String, u64)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line_start"].as_u64().unwrap_or_else(|| panic!("{f}")),
            )
        })
        .collect()
}

#[test]
fn a_cut_line_is_not_reviewed_and_the_gate_decides() {
    let r = repo_with(&[("src/data.rs", &long_line_file(""))]);
    let report = json(&r, &[]);
    let unfit = report["unfit"].to_string();
    assert!(
        unfit.contains("src/data.rs")
            && unfit.contains("line 2 was cut")
            && unfit.contains("characters were not reviewed"),
        "{report}"
    );
    // The Markdown's "not reviewed" part and the terminal summary name it.
    let md = ok(&r
        .deep_review(&["HEAD~1..HEAD", "--format", "markdown", "-o", "-"])
        .output()
        .unwrap());
    assert!(md.contains("line 2 was cut"), "{md}");
    let out = r.deep_review(&["HEAD~1..HEAD", "--gate"]).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "unreviewable blocks by default: {all}"
    );
    assert!(
        all.contains("src/data.rs") && all.contains("line 2 was cut"),
        "{all}"
    );
    // The policy decides: allowed, and still named.
    r.git(&["config", "deep-review.unreviewable", "allow"]);
    let out = r.deep_review(&["HEAD~1..HEAD", "--gate"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_hook_names_the_cut_line_when_it_blocks() {
    let s = Remote::new();
    s.work.write(".deep-review.toml", REVIEWERS);
    s.work.write(".git/info/exclude", ".deep-review.toml\n");
    ok(&s.work.deep_review(&["hook", "install"]).output().unwrap());
    s.work
        .commit_files("data", &[("src/data.rs", &long_line_file(""))]);
    let out = s.push(&["origin", "main"], &[("DEEP_REVIEW", "")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("src/data.rs") && err.contains("line 2 was cut"),
        "{err}"
    );
}

#[test]
fn a_planted_defect_beside_a_cut_line_is_found_at_its_line() {
    let r = repo_with(&[(
        "src/data.rs",
        &long_line_file(
            "fn f() -> i32 {\n    let x = 1; // DEEP-REVIEW-PLANT:critical\n    x\n}\n",
        ),
    )]);
    let report = json(&r, &[]);
    assert_eq!(
        findings(&report),
        vec![("src/data.rs".to_string(), 5)],
        "{report}"
    );
}

#[test]
fn a_planted_defect_in_a_windowed_file_is_found_at_its_line() {
    let mut text = String::from("fn many() -> i32 {\n");
    for i in 0..300 {
        if i == 250 {
            text.push_str("    let v = 0; // DEEP-REVIEW-PLANT:important\n");
        } else {
            text.push_str(&format!("    let v{i} = {i};\n"));
        }
    }
    text.push_str("    0\n}\n");
    let r = repo_with(&[("src/many.rs", &text)]);
    let report = json(&r, &["--chunk-tokens", "256"]);
    // One hunk split into windows: the file is in several chunks, each
    // holding part of it.
    let plan = ok(&r
        .deep_review(&["HEAD~1..HEAD", "--plan", "--chunk-tokens", "256"])
        .output()
        .unwrap());
    assert!(plan.matches("src/many.rs").count() > 2, "{plan}");
    assert_eq!(
        findings(&report),
        vec![("src/many.rs".to_string(), 252)],
        "{report}"
    );
    assert!(report["unfit"].as_array().unwrap().is_empty(), "{report}");
}
