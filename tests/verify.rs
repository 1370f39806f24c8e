//! The verify stage through the real binary on throw-away repositories:
//! what each verifier answer does to a finding, the report and the gate,
//! who verifies, the cache, and that `verify = off` adds nothing.
//!
//! The reviewers and most verifiers are the stand-ins: `standin:marker`
//! reports a finding on every added line carrying
//! `DEEP-REVIEW-PLANT:<severity>`, and as a verifier answers from markers
//! in the code it is shown (`DEEP-REVIEW-REFUTE` → refuted,
//! `DEEP-REVIEW-UNSURE` → uncertain, `DEEP-REVIEW-GARBLE` → not JSON,
//! else confirmed). The real engine's constrained answer is tested in
//! `e2e_real.rs` and a verifier on a real llama-server in `servers.rs`.

use serde_json::Value;
use std::process::Output;

mod common;
use common::repo::succeeded as ok;
use common::repo::{Remote, TestRepo};

const TWO_MARKERS: &str = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 7\n";

fn planted(marker: &str) -> String {
    format!("fn f() -> i32 {{\n    let x = 1; // DEEP-REVIEW-PLANT:critical {marker}\n    x\n}}\n")
}

/// A repository whose last commit adds `src/a.rs` with `content`.
fn repo_with(config: &str, content: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.commit_files("base", &[("README.md", "hello\n")]);
    repo.write(".deep-review.toml", config);
    repo.write(".git/info/exclude", ".deep-review.toml\n");
    repo.commit_files("change", &[("src/a.rs", content)]);
    repo
}

fn run(repo: &TestRepo, args: &[&str]) -> Output {
    let mut all = vec!["HEAD~1..HEAD"];
    all.extend_from_slice(args);
    repo.deep_review(&all).output().unwrap()
}

fn json(repo: &TestRepo, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json", "-o", "-"];
    all.extend_from_slice(args);
    let out = run(repo, &all);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn markdown(repo: &TestRepo, args: &[&str]) -> String {
    let mut all = vec!["--format", "markdown", "-o", "-"];
    all.extend_from_slice(args);
    ok(&run(repo, &all))
}

fn report_of(err: &str) -> String {
    let path = err
        .lines()
        .find_map(|l| l.strip_prefix("Full report: "))
        .unwrap_or_else(|| panic!("the hook names no report: {err}"));
    std::fs::read_to_string(path.trim()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_refuted_critical_does_not_block_a_push_and_stays_in_the_report() {
    let s = Remote::new();
    s.work.write(".deep-review.toml", TWO_MARKERS);
    s.work.write(".git/info/exclude", ".deep-review.toml\n");
    ok(&s.work.deep_review(&["hook", "install"]).output().unwrap());

    // Confirmed: the critical blocks, and the message says it was verified.
    s.work
        .commit_files("planted", &[("src/bad.rs", &planted(""))]);
    let out = s.push(&["origin", "main"], &[("DEEP_REVIEW", "")]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "a confirmed critical blocks: {err}");
    assert!(err.contains("confirmed by standin:marker"), "{err}");
    s.work.git(&["reset", "-q", "--hard", "HEAD~1"]);

    // Refuted: the push goes through; the hook names the refuted finding
    // and the report keeps it, with the verifier's reason.
    let refuted = s.work.commit_files(
        "planted, refuted",
        &[("src/bad.rs", &planted("DEEP-REVIEW-REFUTE"))],
    );
    let out = s.push(&["origin", "main"], &[("DEEP_REVIEW", "")]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "a refuted critical does not block: {err}"
    );
    assert_eq!(s.tip("main"), refuted);
    assert!(
        err.contains("refuted on verification") && err.contains("src/bad.rs:2"),
        "{err}"
    );
    let md = report_of(&err);
    let section = md
        .split("## Refuted on Verification")
        .nth(1)
        .unwrap_or_else(|| panic!("no refuted section: {md}"));
    let section = section.split("\n## ").next().unwrap();
    assert!(section.contains("src/bad.rs:2"), "{section}");
    assert!(
        section.contains("Refuted by standin:marker: The code shown carries the refute marker."),
        "{section}"
    );
    let findings = md.split("### Critical Issues").nth(1).unwrap();
    let findings = findings.split("### Important Issues").next().unwrap();
    assert!(findings.trim().starts_with("None."), "{findings}");
    assert!(md.contains("| **Verification** | 1 finding checked by standin:marker: 0 confirmed, 1 refuted, 0 uncertain |"), "{md}");
}

#[test]
fn refuted_findings_leave_the_verdict_and_count_as_false_positives() {
    let repo = repo_with(TWO_MARKERS, &planted("DEEP-REVIEW-REFUTE"));
    let r = json(&repo, &["--verify", "on"]);
    assert_eq!(r["findings"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["refuted"].as_array().unwrap().len(), 1);
    assert_eq!(r["refuted"][0]["verification"]["status"], "refuted");
    assert_eq!(r["verdict"]["verdict"], "merge-as-is", "{}", r["verdict"]);
    for retro in r["retro"].as_array().unwrap() {
        assert_eq!(retro["false_positives"], 1, "{retro}");
    }
    assert!(r["timings"]["verify_ms"].as_u64().unwrap() >= 1);
    // And the gate by hand allows it.
    let out = run(&repo, &["--gate", "-o", "-", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn uncertain_findings_block_unless_count_uncertain_is_off() {
    let repo = repo_with(TWO_MARKERS, &planted("DEEP-REVIEW-UNSURE"));
    let r = json(&repo, &[]);
    assert_eq!(
        r["findings"][0]["verification"]["status"], "uncertain",
        "{r}"
    );
    let out = run(&repo, &["--gate", "-o", "-"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "uncertain counts by default (fail closed)"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uncertain by standin:marker"), "{err}");

    repo.git(&["config", "deep-review.countUncertain", "false"]);
    let out = run(&repo, &["--gate", "-o", "-"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("the verifier could not confirm, not counted"),
        "{err}"
    );
    assert!(err.contains("src/a.rs:2"), "{err}");
}

#[test]
fn a_verifier_that_fails_or_answers_garbage_never_removes_a_finding() {
    let repo = repo_with(TWO_MARKERS, &planted("DEEP-REVIEW-GARBLE"));
    let r = json(&repo, &[]);
    let v = &r["findings"][0]["verification"];
    assert_eq!(v["status"], "uncertain", "{r}");
    assert!(
        v["failed"].as_str().unwrap().contains("not the JSON"),
        "{v}"
    );
    assert_eq!(r["verification"]["failed"], 1);

    let repo = repo_with(TWO_MARKERS, &planted(""));
    let md = markdown(&repo, &["--verifier", "standin:fail"]);
    assert!(
        md.contains("_Verification failed (standin:fail): the verifier failed:"),
        "{md}"
    );
    assert!(md.contains("The finding stays, uncertain."), "{md}");
    let out = run(&repo, &["--verifier", "standin:fail", "--gate", "-o", "-"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed verification still blocks"
    );
}

#[test]
fn verification_is_cached_like_a_review() {
    let repo = repo_with(TWO_MARKERS, &planted(""));
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("answers.log");
    let answers = |args: &[&str]| -> (Value, usize) {
        let mut all = vec!["HEAD~1..HEAD", "--format", "json", "-o", "-"];
        all.extend_from_slice(args);
        let out = repo
            .deep_review(&all)
            .env("GIT_DEEP_REVIEW_STANDIN_LOG", &log)
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let lines = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count();
        (r, lines)
    };
    let (first, made) = answers(&[]);
    assert_eq!(first["verification"]["from_cache"], 0);
    // Two reviewers on one chunk, and one verifier pass.
    assert_eq!(made, 3);
    let (again, made_again) = answers(&[]);
    assert_eq!(made_again, made, "nothing asked the second time");
    assert_eq!(again["verification"]["from_cache"], 1);
    assert_eq!(again["findings"], first["findings"]);
    // Without the cache every answer is made again.
    let (three, made_three) = answers(&["--no-cache"]);
    assert_eq!(three["verification"]["from_cache"], 0);
    assert_eq!(made_three, made + 3);
}

/// Everything a run writes that depends on the clock, not on the review.
fn without_clock(mut r: Value) -> Value {
    let o = r.as_object_mut().unwrap();
    for key in ["wall_clock_ms", "timings", "date", "id"] {
        o.remove(key);
    }
    for retro in o["retro"].as_array_mut().unwrap() {
        retro.as_object_mut().unwrap().remove("duration_ms");
    }
    r
}

#[test]
fn verify_off_adds_nothing_and_on_adds_only_its_own_fields() {
    let repo = repo_with(TWO_MARKERS, &planted(""));
    let off = json(&repo, &["--verify", "off", "--no-cache"]);
    let text = off.to_string();
    assert!(
        !text.contains("verif") && !text.contains("refuted"),
        "{text}"
    );
    let md = markdown(&repo, &["--verify", "off", "--no-cache"]);
    assert!(!md.contains("Verif") && !md.contains("Refuted"), "{md}");

    let mut on = json(&repo, &["--verify", "on", "--no-cache"]);
    assert_eq!(on["findings"][0]["verification"]["status"], "confirmed");
    let o = on.as_object_mut().unwrap();
    o.remove("verification");
    // The executive summary says what verification decided, in one sentence.
    let summary = o["executive_summary"]["text"].as_str().unwrap().to_string();
    let at = summary
        .find(" Verification (")
        .expect("the summary names the verification");
    let end = at + summary[at..].find("could not decide ").unwrap();
    let end = end + summary[end..].find('.').unwrap() + 1;
    let without = format!("{}{}", &summary[..at], &summary[end..]);
    o["executive_summary"]["text"] = Value::String(without);
    for f in o["findings"].as_array_mut().unwrap() {
        f.as_object_mut().unwrap().remove("verification");
    }
    assert_eq!(without_clock(on), without_clock(off));
}

const MARKER_AND_EMPTY: &str = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:empty\"\nprompt = \"robustness.md\"\n";

#[test]
fn a_lone_finding_goes_to_another_model_and_a_named_verifier_takes_all() {
    let repo = repo_with(MARKER_AND_EMPTY, &planted(""));
    let r = json(&repo, &[]);
    assert_eq!(r["findings"][0]["reviewers"], serde_json::json!(["first"]));
    assert_eq!(
        r["findings"][0]["verification"]["model"], "standin:empty",
        "the only reviewer's model does not check its own claim"
    );
    assert_eq!(
        r["verification"]["models"],
        serde_json::json!(["standin:empty"])
    );
    let r = json(&repo, &["--verifier", "standin:marker"]);
    assert_eq!(r["findings"][0]["verification"]["model"], "standin:marker");
}

#[test]
fn three_votes_each_see_the_code_and_the_majority_decides() {
    let repo = repo_with(TWO_MARKERS, &planted(""));
    repo.git(&["config", "deep-review.verifyVotes", "3"]);
    let r = json(&repo, &[]);
    let v = &r["findings"][0]["verification"];
    assert_eq!(v["votes"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["status"], "confirmed");
    assert_eq!(r["verification"]["votes"], 3);
    let md = markdown(&repo, &[]);
    assert!(
        md.contains("confirmed by standin:marker, 3 of 3 passes"),
        "{md}"
    );
    assert!(md.contains("(3 passes each)"), "{md}");
}

#[test]
fn auto_leaves_demonstration_models_out_and_says_so() {
    // The bundled models are demonstration models: `auto` does not let
    // them remove findings, and the report says why nothing was verified.
    let config = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n";
    let repo = repo_with(config, &planted("DEEP-REVIEW-REFUTE"));
    let mut cmd = repo.deep_review(&[
        "HEAD~1..HEAD",
        "--format",
        "json",
        "-o",
        "-",
        "--verifier",
        "smollm2-135m",
    ]);
    let out = TestRepo::with_models(&mut cmd).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let skipped = r["verification"]["skipped"].as_str().unwrap();
    assert!(
        skipped.contains("demonstration model (smollm2-135m)"),
        "{skipped}"
    );
    assert_eq!(
        r["findings"].as_array().unwrap().len(),
        1,
        "nothing removed"
    );
    assert!(r["findings"][0].get("verification").is_none());
    assert_eq!(
        r["engine"]["weights_loaded"], 0,
        "the verifier was not loaded"
    );
}

#[test]
fn verify_settings_are_checked_and_show_where_they_came_from() {
    let repo = repo_with(TWO_MARKERS, &planted(""));
    repo.git(&["config", "deep-review.verify", "on"]);
    let shown = ok(&repo.deep_review(&["config"]).output().unwrap());
    let line = shown
        .lines()
        .find(|l| l.starts_with("verify ="))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        line.contains("\"on\"") && line.contains("deep-review.verify"),
        "{line}"
    );
    let out = run(&repo, &["--verify", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    repo.git(&["config", "deep-review.verifyVotes", "0"]);
    let out = run(&repo, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("deep-review.verifyVotes"), "{err}");
}
