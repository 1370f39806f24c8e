//! The whole run through the real binary and the real engine (bundled
//! models): the lead's prose reaches the report, the gate fails closed when
//! a reviewer fails or the time budget cuts the review short, and Ctrl-C
//! stops a real review leaving nothing half-written.

mod common;

use common::repo::TestRepo;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn models_dir() -> PathBuf {
    common::models::dir()
}

/// Our binary in `repo` (the shared clean environment) on these models.
fn deep_review(repo: &TestRepo, models: &Path, args: &[&str]) -> Command {
    let mut c = repo.deep_review(args);
    c.env("GIT_DEEP_REVIEW_MODELS_DIR", models);
    c
}

fn run(repo: &TestRepo, models: &Path, args: &[&str]) -> Output {
    deep_review(repo, models, args)
        .output()
        .expect("run git-deep-review")
}

/// A review of the last commit as JSON on stdout; it must succeed.
fn review_json(repo: &TestRepo, models: &Path) -> Value {
    let out = run(
        repo,
        models,
        &["HEAD~1..HEAD", "--format", "json", "-o", "-", "--no-cache"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the report is JSON")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn python_repo() -> TestRepo {
    TestRepo::python_average()
}

/// A models directory with the bundled SmolLM2 (linked, not copied) and a
/// `broken` model whose file does not match its manifest hash.
fn models_with_a_broken_one() -> tempfile::TempDir {
    let src = models_dir();
    let dir = tempfile::tempdir().unwrap();
    let smol = "SmolLM2-135M-Instruct.Q4_1.gguf";
    std::os::unix::fs::symlink(src.join(smol), dir.path().join(smol)).unwrap();
    std::fs::write(dir.path().join("broken.gguf"), vec![7u8; 4096]).unwrap();
    let manifest = std::fs::read_to_string(src.join("manifest.toml")).unwrap();
    let smol_entry: String = manifest
        .split("[[model]]")
        .find(|e| e.contains(smol))
        .unwrap()
        .to_string();
    std::fs::write(
        dir.path().join("manifest.toml"),
        format!(
            "[[model]]{smol_entry}\n[[model]]\nname = \"broken\"\nfile = \"broken.gguf\"\nsha256 = \"{}\"\nsize = 4096\nchat_template = \"chatml\"\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    dir
}

/// Commits a `.deep-review.toml` with this lead and these
/// `(name, model, prompt)` reviewers (agreement 1: each reviewer counts),
/// then the change the tests review.
fn config(repo: &TestRepo, lead: &str, reviewers: &[(&str, &str, &str)]) {
    let mut toml = format!("[review]\nlead = \"{lead}\"\n[gate]\nmin_agreement = 1\n");
    for (name, model, prompt) in reviewers {
        toml.push_str(&format!(
            "[[reviewer]]\nname = \"{name}\"\nmodel = \"{model}\"\nprompt = \"{prompt}\"\n"
        ));
    }
    repo.write(".deep-review.toml", toml);
    repo.git(&["add", ".deep-review.toml"]);
    repo.commit("Configure deep-review");
    // The reviewed change must not be the config commit itself.
    repo.commit_files(
        "Add median()",
        &[(
            "stats.py",
            "def total(xs):\n    return sum(xs)\n\n\ndef average(xs):\n    return total(xs) / len(xs)\n\n\ndef median(xs):\n    return sorted(xs)[len(xs) // 2]\n",
        )],
    );
}

/// A repository whose last commit adds 400 small functions: a review of it
/// by Gemma takes far longer than the few seconds a test waits, so the
/// time budget or Ctrl-C lands in the middle of it.
fn long_review_repo(lead: &str) -> TestRepo {
    let repo = python_repo();
    config(
        &repo,
        lead,
        &[("robustness", "gemma3-270m", "robustness.md")],
    );
    let body: String = (0..400)
        .map(|i| format!("def f{i}(x):\n    return x * {i} + len(str(x))\n\n"))
        .collect();
    repo.commit_files("Add many functions", &[("many.py", &body)]);
    repo
}

#[test]
fn the_lead_answer_parses_and_its_status_is_in_the_report() {
    let models = models_dir();
    let repo = python_repo();
    config(
        &repo,
        "smollm2-135m",
        &[("correctness", "smollm2-135m", "correctness.md")],
    );
    let report = review_json(&repo, &models);
    let lead = &report["lead"];
    assert_eq!(lead["model"], "smollm2-135m", "{lead}");
    let status = lead["status"].as_str().unwrap();
    let reason = lead["reason"].as_str().unwrap_or("");
    // Before the field list was shared, every constrained answer failed to
    // parse ("has no text for `concern`"): the answer must now parse, so a
    // fallback can only be about the quality of the prose.
    assert!(
        status == "used" || reason.contains("no section was usable"),
        "the lead's grammar-constrained answer did not parse: {lead}"
    );
    // The report says where each prose section came from, consistently.
    let from_lead = report["executive_summary"]["from_lead"].as_bool().unwrap();
    let sections: Vec<&str> = lead["sections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(from_lead, sections.contains(&"summary"), "{lead}");
    assert_eq!(status == "used", !sections.is_empty(), "{lead}");
    assert!(report["timings"]["lead_ms"].is_u64());
    // Its repo-context line (part of the same constrained answer) becomes
    // the first improvement recommendation when usable; every
    // recommendation is bounded, one line, and says where it came from.
    let recs = report["recommendations"].as_array().unwrap();
    assert!(recs.len() <= 5, "{recs:?}");
    for r in recs {
        let text = r["text"].as_str().unwrap();
        assert!(!text.is_empty() && text.chars().count() <= 320, "{r}");
        assert!(!text.chars().any(char::is_control), "{r}");
        assert!(r["source"] == "lead" || r["source"] == "data", "{r}");
    }
    assert_eq!(
        sections.contains(&"repo_context"),
        recs.first().is_some_and(|r| r["source"] == "lead"),
        "{lead} {recs:?}"
    );
}

#[test]
fn a_lead_that_fails_falls_back_and_says_why() {
    let models = models_with_a_broken_one();
    let repo = python_repo();
    config(
        &repo,
        "broken",
        &[("correctness", "smollm2-135m", "correctness.md")],
    );
    let report = review_json(&repo, models.path());
    assert_eq!(report["lead"]["status"], "fallback", "{}", report["lead"]);
    let reason = report["lead"]["reason"].as_str().unwrap();
    assert!(reason.contains("broken"), "{reason}");
    assert_eq!(report["executive_summary"]["from_lead"], false);
}

#[test]
fn a_reviewer_whose_model_is_broken_blocks_the_gate_and_is_named() {
    let models = models_with_a_broken_one();
    let repo = python_repo();
    config(
        &repo,
        "none",
        &[
            ("correctness", "smollm2-135m", "correctness.md"),
            ("robustness", "broken", "robustness.md"),
        ],
    );
    let out = run(
        &repo,
        models.path(),
        &["HEAD~1..HEAD", "--gate", "--no-cache"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the gate blocks"), "{err}");
    assert!(err.contains("robustness"), "{err}");
    assert!(err.contains("on_reviewer_failure"), "{err}");
    // Without --gate the review still reports, exit 0, and the verdict says
    // it rests on fewer reviewers.
    let report = review_json(&repo, models.path());
    let reason = report["verdict"]["reason"].as_str().unwrap();
    assert!(reason.contains("1 of 2 reviewers failed"), "{reason}");
}

#[test]
fn every_reviewer_failing_blocks_instead_of_passing() {
    let models = models_dir();
    let repo = python_repo();
    config(
        &repo,
        "none",
        &[
            ("a", "standin:fail", "correctness.md"),
            ("b", "standin:fail", "robustness.md"),
        ],
    );
    let out = run(&repo, &models, &["HEAD~1..HEAD", "--gate", "--no-cache"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the change was not reviewed"), "{err}");
}

#[test]
fn the_time_budget_holds_for_the_whole_run_and_on_timeout_decides() {
    let models = models_dir();
    let repo = long_review_repo("smollm2-135m");
    repo.git(&["config", "deep-review.onTimeout", "block"]);
    let t = Instant::now();
    let out = run(
        &repo,
        &models,
        &["HEAD~1..HEAD", "--gate", "--no-cache", "--time-budget", "3"],
    );
    let elapsed = t.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stopped before it was done"), "{err}");
    assert!(err.contains("many.py"), "{err}");
    // Generous: a run that ignores its budget takes minutes here.
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}: {err}");
    // The report says what was not reviewed and that the lead did not run.
    let reports = repo.path.join(".git/deep-review/reports");
    let md: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    assert_eq!(md.len(), 1);
    let report = std::fs::read_to_string(&md[0]).unwrap();
    assert!(report.contains("not reviewed: chunk"), "{report}");
    assert!(
        report.contains("**Lead** (smollm2-135m): not used"),
        "{report}"
    );
}

#[test]
fn ctrl_c_stops_a_real_review_with_130_and_writes_no_report() {
    let models = models_dir();
    let repo = long_review_repo("none");
    let out_file = repo.scratch().join("report.md");
    let mut child = deep_review(
        &repo,
        &models,
        &[
            "HEAD~1..HEAD",
            "--no-cache",
            "-o",
            out_file.to_str().unwrap(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Well inside the review: the model loads in about a second and the
    // first chunk alone takes several.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the review ended before it could be interrupted"
    );
    let t = Instant::now();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    // It ends by the signal after its cleanup, as a shell expects (it
    // reports 130); the message says so.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("interrupted"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "Ctrl-C took {:?}",
        t.elapsed()
    );
    assert!(!out_file.exists(), "an interrupted review wrote a report");
    let leftovers: Vec<_> = std::fs::read_dir(repo.scratch())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        text(&out.stderr).contains("interrupted"),
        "{}",
        text(&out.stderr)
    );
}
