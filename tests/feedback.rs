//! Unresolved feedback across runs, on a real repository with stand-in
//! reviewers: a first review raises findings on two files; a commit fixes
//! one; the next review of the branch lists the other as unresolved with its
//! first date (also after a rename and an edit above it), counts the fixed
//! one as resolved, marks one raised again instead of listing it twice; an
//! unrelated branch sees nothing of it; corrupt and foreign JSON reports are
//! skipped with a note; the gate names earlier findings and counts them only
//! with `gate.count_unresolved`.

mod common;

use common::repo::TestRepo;
use serde_json::Value;
use std::path::PathBuf;

fn config(model: &str, extra: &str) -> String {
    format!(
        "[review]\nlead = \"none\"\n\n[gate]\nblock_on = \"important\"\n{extra}\n\
         [[reviewer]]\nname = \"first\"\nmodel = \"{model}\"\nprompt = \"correctness.md\"\n\n\
         [[reviewer]]\nname = \"second\"\nmodel = \"{model}\"\nprompt = \"robustness.md\"\nseed = 7\n"
    )
}

fn body(name: &str, plant: &str) -> String {
    let mut s = String::new();
    for i in 0..6 {
        s.push_str(&format!("def {name}_{i}(x):\n    return x + {i}\n\n"));
    }
    s.push_str(&format!("def {name}_last(x):\n    return x  # {plant}\n"));
    s
}

/// `main` with a README, and `feature` adding two files, each with a
/// planted finding.
fn repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.commit_files("base", &[("README", "hello\n")]);
    repo.checkout_new("feature");
    repo.commit_files(
        "two files",
        &[
            ("a.py", &body("a", "DEEP-REVIEW-PLANT:critical")),
            ("b.py", &body("b", "DEEP-REVIEW-PLANT:important")),
        ],
    );
    repo
}

fn reports_dir(repo: &TestRepo) -> PathBuf {
    repo.path.join(".git/deep-review/reports")
}

/// A review of `main..HEAD` kept in the report directory (Markdown, with
/// its JSON beside it); returns the JSON record.
fn review_kept(repo: &TestRepo) -> Value {
    let before = json_reports(repo);
    let out = repo
        .deep_review(&["main..HEAD", "--quiet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new: Vec<PathBuf> = json_reports(repo)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(new.len(), 1, "one JSON record per kept report: {new:?}");
    let md = new[0].with_extension("md");
    assert!(md.exists(), "the JSON sits beside its Markdown report");
    serde_json::from_slice(&std::fs::read(&new[0]).unwrap()).unwrap()
}

fn json_reports(repo: &TestRepo) -> Vec<PathBuf> {
    std::fs::read_dir(reports_dir(repo))
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

/// A review of `range` printed as JSON (not kept), with `args`; returns
/// the report, the exit code and stderr.
fn review_json(repo: &TestRepo, range: &str, args: &[&str]) -> (Value, i32, String) {
    let mut all = vec![range, "--format", "json", "-o", "-"];
    all.extend_from_slice(args);
    let out = repo.deep_review(&all).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (serde_json::from_slice(&out.stdout).unwrap(), code, err)
}

fn unresolved(report: &Value) -> Vec<Value> {
    report["unresolved_feedback"]["unresolved"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn an_earlier_finding_stays_until_its_code_changes_across_edits_and_renames() {
    let repo = repo();
    repo.write(".deep-review.toml", config("standin:marker", ""));
    let first = review_kept(&repo);
    let raised: Vec<(&str, u64)> = first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap(),
                f["line_start"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(raised.len(), 2, "{raised:?}");
    assert!(
        raised.contains(&("a.py", 20)) && raised.contains(&("b.py", 20)),
        "{raised:?}"
    );

    // Fix a.py's planted line; add two lines above b.py's.
    repo.write("a.py", body("a", "fixed"));
    repo.write(
        "b.py",
        format!(
            "import os\nimport sys\n{}",
            body("b", "DEEP-REVIEW-PLANT:important")
        ),
    );
    repo.commit("fix a, imports in b");

    // Reviewers that raise nothing: the earlier finding is still listed.
    repo.write(".deep-review.toml", config("standin:empty", ""));
    let (second, code, err) = review_json(&repo, "main..HEAD", &[]);
    assert_eq!(code, 0, "{err}");
    let fb = &second["unresolved_feedback"];
    assert_eq!(fb["earlier_reports"], serde_json::json!([first["id"]]));
    assert_eq!(fb["resolved"], 1, "a.py's finding is resolved: {fb}");
    let open = unresolved(&second);
    assert_eq!(open.len(), 1, "{fb}");
    assert_eq!(open[0]["file"], "b.py");
    assert_eq!(
        open[0]["line_start"], 22,
        "followed below the two new lines"
    );
    assert_eq!(open[0]["original_line"], 20);
    assert_eq!(open[0]["date"], first["date"], "listed with its first date");
    assert_eq!(open[0]["severity"], "important");
    assert_eq!(open[0]["reviewers"], serde_json::json!(["first", "second"]));
    assert_eq!(open[0]["raised_again"], false);
    // The data-built recommendations pick it up.
    let recs = second["recommendations"].as_array().unwrap();
    assert!(
        recs.iter()
            .any(|r| r["source"] == "data" && r["text"].as_str().unwrap().contains("b.py:22")),
        "{recs:?}"
    );

    // A rename: the finding follows the file.
    repo.git(&["mv", "b.py", "c.py"]);
    repo.commit_staged("rename b to c");
    let (third, _, _) = review_json(&repo, "main..HEAD", &[]);
    let open = unresolved(&third);
    assert_eq!(open.len(), 1, "{}", third["unresolved_feedback"]);
    assert_eq!(open[0]["file"], "c.py");
    assert_eq!(open[0]["original_file"], "b.py");
    assert_eq!(open[0]["line_start"], 22);

    // Today's reviewers raise it again: marked, not listed twice.
    repo.write(".deep-review.toml", config("standin:marker", ""));
    let (fourth, _, _) = review_json(&repo, "main..HEAD", &[]);
    let open = unresolved(&fourth);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["raised_again"], true);
    assert_eq!(
        fourth["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["file"] == "c.py")
            .count(),
        1
    );

    // Counted by the gate only when the policy says so.
    repo.write(
        ".deep-review.toml",
        config("standin:empty", "count_unresolved = true\n"),
    );
    let (_, code, err) = review_json(&repo, "main..HEAD", &["--gate"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("gate.count_unresolved = true"), "{err}");
    repo.write(".deep-review.toml", config("standin:empty", ""));
    let (_, code, err) = review_json(&repo, "main..HEAD", &["--gate"]);
    assert_eq!(code, 0, "not counted by default: {err}");

    // The Markdown report has the section in the reference order, and the
    // terminal summary mentions it.
    let out = repo.deep_review(&["main..HEAD"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Unresolved feedback: 1 finding"),
        "{stdout}"
    );
    // (The run's own report: names of runs in the same second differ only
    // by the head's short id, so the newest is not the largest name.)
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Report: "))
        .expect("the summary names the report");
    let md = std::fs::read_to_string(path).unwrap();
    let commits = md.find("### Commit Structure").unwrap();
    let section = md.find("### Unresolved Feedback").unwrap();
    let retro = md.find("## Agent Performance Retro").unwrap();
    let recs = md.find("## Improvement Recommendations").unwrap();
    let appendix = md.find("## Appendix: Original Reviews").unwrap();
    assert!(commits < section && section < retro && retro < recs && recs < appendix);
    assert!(
        md[section..retro].contains("`c.py:22` (then `b.py:20`)"),
        "{}",
        &md[section..retro]
    );
}

#[test]
fn another_branch_sees_nothing_and_unreadable_reports_are_skipped_with_a_note() {
    let repo = repo();
    repo.write(".deep-review.toml", config("standin:marker", ""));
    review_kept(&repo);
    // Not ours, or broken: skipped, never fatal.
    let dir = reports_dir(&repo);
    std::fs::write(dir.join("zz-garbage.json"), "{not json").unwrap();
    std::fs::write(dir.join("zz-foreign.json"), "{\"hello\": 1}").unwrap();
    std::fs::write(
        dir.join("zz-future.json"),
        "{\"schema_version\": 99, \"id\": \"x\", \"date\": \"d\", \"head\": \"0000000000000000000000000000000000000000\"}",
    )
    .unwrap();

    repo.checkout("main");
    repo.checkout_new("other");
    repo.commit_files(
        "unrelated",
        &[("b.py", &body("b", "DEEP-REVIEW-PLANT:important"))],
    );
    let (r, _, _) = review_json(&repo, "main..HEAD", &[]);
    let fb = &r["unresolved_feedback"];
    assert_eq!(fb["earlier_reports"], serde_json::json!([]), "{fb}");
    assert!(unresolved(&r).is_empty());
    let notes: Vec<&str> = fb["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for name in ["zz-garbage.json", "zz-foreign.json", "zz-future.json"] {
        assert!(notes.iter().any(|n| n.contains(name)), "{name}: {notes:?}");
    }
    assert!(
        notes.iter().any(|n| n.contains("schema version 99")),
        "{notes:?}"
    );
}

#[test]
fn the_report_reads_the_schema_version_the_feedback_stage_reads() {
    assert_eq!(
        git_deep_review::feedback::earlier::SCHEMA_VERSION,
        git_deep_review::report::model::SCHEMA_VERSION
    );
}
