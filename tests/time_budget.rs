//! The time budget bounds the whole run: a review that hits it ends within
//! [`budget_tolerance`] of it (counted from the start of the process), and
//! still writes the report of what was done, marked incomplete (Markdown,
//! JSON and the terminal), so the gate decides with `review.on_timeout` on
//! facts. Through the real binary: slow stand-in reviewers
//! (`GIT_DEEP_REVIEW_STANDIN_DELAY_MS`) by hand and through the installed
//! pre-push hook, and the real engine on the bundled models.

mod common;

use common::repo::{Remote, TestRepo};
use git_deep_review::pipeline::budget_tolerance;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Stand-in reviewers through the user's own file (the user's settings
/// always apply): two reviewers on `standin:marker`, no lead, small chunks.
const STANDINS: &str = "[review]\nlead = \"none\"\nchunk_tokens = 256\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\n";

fn user_file(r: &TestRepo, text: &str) {
    let p = r.scratch().join(".config/git-deep-review/config.toml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Six Python files of 40 functions: many chunks, and a planted suggestion
/// in the first file so that the chunks reviewed before the deadline
/// leave findings in the report.
fn many_files(prefix: &str) -> Vec<(String, String)> {
    (0..6)
        .map(|f| {
            let body: String = (0..40)
                .map(|i| {
                    let mark = if f == 0 && i == 0 {
                        "  # DEEP-REVIEW-PLANT:suggestion"
                    } else {
                        ""
                    };
                    format!("def f{f}_{i}(x):\n    return x * {i} + {f}{mark}\n\n")
                })
                .collect();
            (format!("{prefix}{f}.py"), body)
        })
        .collect()
}

fn repo() -> TestRepo {
    let r = TestRepo::new();
    r.commit_files("Start", &[("README.md", "# budget\n")]);
    commit_many(&r, "m");
    user_file(&r, STANDINS);
    r
}

fn commit_many(r: &TestRepo, prefix: &str) -> String {
    let files = many_files(prefix);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_str()))
        .collect();
    r.commit_files("Add many functions", &refs)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd`, timing it from the start of the process to its end.
fn timed(cmd: &mut Command) -> (Output, Duration) {
    let t = Instant::now();
    let out = cmd.output().unwrap();
    (out, t.elapsed())
}

/// The run ended within the budget's tolerance.
fn within(elapsed: Duration, budget_secs: u64, what: &str) {
    let bound = Duration::from_secs(budget_secs) + budget_tolerance(budget_secs);
    assert!(
        elapsed <= bound,
        "{what}: took {elapsed:?} with a {budget_secs} s budget (bound {bound:?})"
    );
}

/// The reports written to `dir`, Markdown with their JSON, oldest first.
fn reports(dir: &Path) -> Vec<(String, Value)> {
    let mut md: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    md.retain(|p| p.extension().is_some_and(|x| x == "md"));
    md.sort();
    md.iter()
        .map(|p| {
            let json = std::fs::read_to_string(p.with_extension("json"))
                .unwrap_or_else(|e| panic!("no JSON beside {}: {e}", p.display()));
            (
                std::fs::read_to_string(p).unwrap(),
                serde_json::from_str(&json).unwrap(),
            )
        })
        .collect()
}

/// What every report of a run the budget cut must say.
fn assert_incomplete(md: &str, json: &Value, budget_secs: u64) {
    let reason = format!("the time budget ({budget_secs} s) ran out");
    let row = md
        .lines()
        .find(|l| l.starts_with("| **Incomplete** |"))
        .unwrap_or_else(|| panic!("no Incomplete row in the report:\n{md}"));
    assert!(row.contains(&reason), "{row}");
    assert!(row.contains("chunks not reviewed"), "{row}");
    let inc = &json["incomplete"];
    assert_eq!(inc["reason"], reason.as_str(), "{inc}");
    let (missed, all) = (
        inc["chunks_not_reviewed"].as_u64().unwrap(),
        inc["chunks"].as_u64().unwrap(),
    );
    assert!(missed > 0 && missed <= all, "{inc}");
    assert!(
        !json["not_reviewed"].as_array().unwrap().is_empty(),
        "{json}"
    );
    assert_eq!(json["time_budget_secs"], budget_secs);
}

#[test]
fn a_slow_review_ends_within_the_budget_and_reports_what_it_did_marked_incomplete() {
    let r = repo();
    // Each chunk's answer takes 0.7 s: the first chunks are reviewed, the
    // rest are not, and the stand-in's answer under way at the deadline
    // stops there as a real engine's does.
    let review = |r: &TestRepo| {
        timed(
            r.deep_review(&[
                "HEAD~1..HEAD",
                "--gate",
                "--no-cache",
                "--time-budget",
                "2s",
            ])
            .env("GIT_DEEP_REVIEW_STANDIN_DELAY_MS", "700"),
        )
    };
    let (out, elapsed) = review(&r);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    within(elapsed, 2, &stderr);
    // review.on_timeout = allow (the default): allowed, with a warning.
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("the time budget (2 s) ran out"), "{stderr}");
    assert!(
        stdout.contains("Incomplete: the time budget (2 s) ran out"),
        "the terminal summary says so: {stdout}"
    );
    let dir = r.path.join(".git/deep-review/reports");
    let written = reports(&dir);
    assert_eq!(written.len(), 1);
    let (md, json) = &written[0];
    assert_incomplete(md, json, 2);
    // What was done is there: the planted line of the first file was
    // reviewed, and the verdict does not read as a clean review.
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["file"] == "m0.py"),
        "{json}"
    );
    let reason = json["verdict"]["reason"].as_str().unwrap();
    assert!(reason.contains("incomplete"), "{reason}");

    // review.on_timeout = block: the same run is refused, on the same facts.
    r.git(&["config", "deep-review.onTimeout", "block"]);
    let (out, elapsed) = review(&r);
    let stderr = text(&out.stderr);
    within(elapsed, 2, &stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopped before it was done"), "{stderr}");
    assert!(stderr.contains("review.on_timeout"), "{stderr}");
    let written = reports(&dir);
    assert_eq!(written.len(), 2, "the blocked run wrote its report too");
    assert_incomplete(&written[1].0, &written[1].1, 2);
}

#[test]
fn a_review_whose_every_answer_is_slower_than_the_budget_says_nothing_was_reviewed() {
    let r = repo();
    let (out, elapsed) = timed(
        r.deep_review(&[
            "HEAD~1..HEAD",
            "--no-cache",
            "--time-budget",
            "1",
            "--format",
            "json",
            "-o",
            "-",
        ])
        .env("GIT_DEEP_REVIEW_STANDIN_DELAY_MS", "60000"),
    );
    let stderr = text(&out.stderr);
    within(elapsed, 1, &stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let inc = &json["incomplete"];
    assert_eq!(inc["chunks_not_reviewed"], inc["chunks"], "{inc}");
    // No reviewer failed: none had the time to start.
    assert_eq!(json["verdict"]["verdict"], "no-verdict");
    assert_eq!(
        json["verdict"]["reason"],
        "the time budget (1 s) ran out before any chunk was reviewed, so nothing was reviewed"
    );
}

#[test]
fn a_push_through_the_hook_ends_within_the_budget_writes_its_report_and_follows_on_timeout() {
    let s = Remote::new();
    user_file(
        &s.work,
        &STANDINS.replace("[review]\n", "[review]\ntime_budget = \"2s\"\n"),
    );
    let out = s.work.deep_review(&["hook", "install"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let head = commit_many(&s.work, "m");
    let push = || {
        let t = Instant::now();
        let out = s.push(
            &["-q", "origin", "main"],
            &[("GIT_DEEP_REVIEW_STANDIN_DELAY_MS", "700")],
        );
        (out, t.elapsed())
    };
    // Before, the stand-in's answer ran on past the deadline until the
    // hook's watchdog ended the process: 7 s, and no report.
    let (out, elapsed) = push();
    let err = text(&out.stderr);
    within(elapsed, 2, &err);
    assert!(
        out.status.success(),
        "on_timeout = allow lets it through: {err}"
    );
    assert_eq!(s.tip("main"), head);
    assert!(err.contains("stopped before it was done"), "{err}");
    let dir = s.work.path.join(".git/deep-review/reports");
    let written = reports(&dir);
    assert_eq!(written.len(), 1, "{err}");
    assert_incomplete(&written[0].0, &written[0].1, 2);

    s.work.git(&["config", "deep-review.onTimeout", "block"]);
    let head = commit_many(&s.work, "n");
    let before = s.tip("main");
    let (out, elapsed) = push();
    let err = text(&out.stderr);
    within(elapsed, 2, &err);
    assert!(
        !out.status.success(),
        "on_timeout = block refuses it: {err}"
    );
    assert_eq!(s.tip("main"), before);
    assert_ne!(before, head);
    assert!(err.contains("review.on_timeout"), "{err}");
    assert_eq!(reports(&dir).len(), 2, "{err}");
}

/// The real engine on the bundled models: loading, context, prefill and
/// generation all count, and a run that hits the budget ends within the
/// tolerance with its report written. The budget leaves room for the
/// models' vocabularies to load on a busy machine (reading a vocabulary is
/// not interrupted, see `budget_tolerance`), so the budget runs out while
/// the reviewer is at work.
#[test]
fn the_real_engine_ends_within_the_budget_and_writes_its_report() {
    let models = common::models::dir();
    let r = TestRepo::new();
    r.commit_files("Start", &[("README.md", "# budget\n")]);
    let body: String = (0..400)
        .map(|i| format!("def f{i}(x):\n    return x * {i} + len(str(x))\n\n"))
        .collect();
    r.commit_files("Add many functions", &[("many.py", &body)]);
    user_file(
        &r,
        "[review]\nlead = \"smollm2-135m\"\n\n[[reviewer]]\nname = \"robustness\"\nmodel = \"gemma3-270m\"\nprompt = \"robustness.md\"\n",
    );
    let budget = 20;
    let (out, elapsed) = timed(
        r.deep_review(&[
            "HEAD~1..HEAD",
            "--no-cache",
            "--time-budget",
            &format!("{budget}s"),
        ])
        .env("GIT_DEEP_REVIEW_MODELS_DIR", &models),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    within(elapsed, budget, &stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("Incomplete: the time budget ({budget} s) ran out")),
        "{stdout}"
    );
    let written = reports(&r.path.join(".git/deep-review/reports"));
    assert_eq!(written.len(), 1);
    assert_incomplete(&written[0].0, &written[0].1, budget);
}
