//! A repository cannot loosen the user's gate: its `.deep-review.toml`, its
//! instruction files and the prompt files it names are read from the base
//! of the reviewed range (code already accepted), never from the change or
//! the work tree; the user's own settings win over it; what it did is said
//! where the user is (hook message, report, `config`).
//!
//! Real binary, real `git push` through the installed hook, throw-away
//! repositories with the user's default: `deep-review.trustRepoConfig`
//! unset. Reviewers are the stand-in `standin:marker`, which reports a
//! finding on each added line carrying `DEEP-REVIEW-PLANT:<severity>`.

mod common;
use common::repo::succeeded as ok;
use common::repo::{Remote, TestRepo};
use std::process::Output;

/// Two stand-in reviewers; the accepted configuration of the repository.
const REVIEWERS: &str = "[review]\nlead = \"none\"\nverify = \"off\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 7\n";

const PLANTED: &str = "fn f() -> i32 {\n    let x = 1; // DEEP-REVIEW-PLANT:critical\n    x\n}\n";

/// A developer's clone whose remote has `config` committed as the
/// repository's `.deep-review.toml`, with the hook installed and the
/// user's default trust (none).
fn remote_with(config: &str) -> Remote {
    let s = Remote::new();
    s.work.distrust();
    s.work
        .commit_files("configure", &[(".deep-review.toml", config)]);
    s.work.git(&["push", "-q", "origin", "main"]);
    ok(&s.work.deep_review(&["hook", "install"]).output().unwrap());
    s
}

fn push(s: &Remote) -> (Output, String) {
    let out = s.push(&["origin", "main"], &[("DEEP_REVIEW", "")]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, err)
}

fn report_of(err: &str) -> String {
    let path = err
        .lines()
        .find_map(|l| l.strip_prefix("Full report: "))
        .unwrap_or_else(|| panic!("the hook names no report: {err}"));
    std::fs::read_to_string(path.trim()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn user_file(r: &TestRepo, text: &str) {
    let p = r.scratch().join(".config/git-deep-review/config.toml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn a_change_cannot_switch_off_or_blind_the_gate_that_reviews_it() {
    let s = remote_with(REVIEWERS);
    // The change switches the gate off and ignores everything, and plants
    // a critical: its own configuration is not in force for its review.
    let loosened = format!("{REVIEWERS}\n[gate]\nenabled = false\n");
    let loosened = loosened.replace("[review]\n", "[review]\nignore = [\"**\"]\n");
    s.work.commit_files(
        "loosen the gate",
        &[(".deep-review.toml", &loosened), ("src/bad.rs", PLANTED)],
    );
    let (out, err) = push(&s);
    assert!(!out.status.success(), "the critical blocks: {err}");
    assert!(err.contains("push blocked"), "{err}");
    assert!(
        err.contains("this range changes `.deep-review.toml`")
            && err.contains("takes effect after it is merged"),
        "the hook says the change to the configuration is not in force: {err}"
    );
    let report = report_of(&err);
    assert!(
        report.contains("| **Configuration** |")
            && report.contains("takes effect after it is merged"),
        "{report}"
    );
    // The work tree's file (the change's) is not what `config` shows either.
    let cfg = ok(&s.work.deep_review(&["config"]).output().unwrap());
    assert!(cfg.contains("enabled = true"), "{cfg}");
    assert!(
        cfg.contains("# repository file read from: commit ") && cfg.contains("the base of"),
        "{cfg}"
    );

    // Once merged (on the remote), the file is accepted code and applies.
    ok(&s.push(&["--no-verify", "origin", "main"], &[("DEEP_REVIEW", "")]));
    s.work.commit_files("another", &[("src/worse.rs", PLANTED)]);
    let (out, err) = push(&s);
    assert!(
        out.status.success(),
        "the accepted file switches the gate off: {err}"
    );
    assert!(
        err.contains("gate is off (the repository's file switches the gate off (repository file .deep-review.toml@"),
        "the message names the repository's file as the source: {err}"
    );
}

#[test]
fn the_users_own_settings_win_over_the_repositorys_file() {
    let s = remote_with(&format!(
        "{REVIEWERS}\n[gate]\nenabled = false\non_reviewer_failure = \"allow\"\n"
    ));
    user_file(
        &s.work,
        "[gate]\nenabled = true\non_reviewer_failure = \"block\"\n",
    );
    s.work.commit_files("planted", &[("src/bad.rs", PLANTED)]);
    let (out, err) = push(&s);
    assert!(!out.status.success(), "the user's gate holds: {err}");
    let cfg = ok(&s.work.deep_review(&["config"]).output().unwrap());
    let line = cfg
        .lines()
        .find(|l| l.starts_with("enabled = "))
        .unwrap_or_else(|| panic!("{cfg}"));
    assert!(
        line.contains("true") && line.contains("user file"),
        "{line}"
    );
    assert!(
        cfg.contains("#   overridden: repository file .deep-review.toml@"),
        "config shows the layer that lost: {cfg}"
    );
    // The user's git config wins too.
    user_file(&s.work, "");
    s.work.git(&["config", "deep-review.gate", "on"]);
    let (out, err) = push(&s);
    assert!(!out.status.success(), "git config holds the gate: {err}");
}

#[test]
fn files_the_repository_ignores_are_named_where_the_user_is() {
    let s = remote_with(&REVIEWERS.replace("[review]\n", "[review]\nignore = [\"src/**\"]\n"));
    s.work.commit_files("planted", &[("src/bad.rs", PLANTED)]);
    let (out, err) = push(&s);
    assert!(out.status.success(), "everything is ignored: {err}");
    assert!(
        err.contains(
            "note: the repository's file ignores `src/**` (repository file .deep-review.toml@"
        ),
        "{err}"
    );
    // In a review with something left to read, the report says it too.
    s.work.commit_files("more", &[("lib/ok.rs", "fn g() {}\n")]);
    let out = s
        .work
        .deep_review(&["origin/main..HEAD", "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let notes = json["configuration"].to_string();
    assert!(notes.contains("ignores `src/**`"), "{json}");
}

#[test]
fn prompt_and_instruction_files_come_from_the_base_too() {
    let config = REVIEWERS.replace(
        "prompt = \"robustness.md\"",
        "prompt = \"review/persona.md\"",
    );
    let s = Remote::new();
    s.work.distrust();
    s.work.commit_files(
        "configure",
        &[
            (".deep-review.toml", config.as_str()),
            ("review/persona.md", "Look for bugs.\n"),
        ],
    );
    s.work.git(&["push", "-q", "origin", "main"]);
    // The change deletes the persona its reviewer needs: read from the
    // base, the review still runs (it used to fail: "cannot read prompt").
    s.work.git(&["rm", "-q", "review/persona.md"]);
    s.work.commit_files("planted", &[("src/bad.rs", PLANTED)]);
    let out = s
        .work
        .deep_review(&["origin/main..HEAD", "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(json["findings"].as_array().unwrap().len(), 1, "{json}");
    // A prompt the base does not have is refused, naming where it looked.
    let s = remote_with(&REVIEWERS.replace("prompt = \"robustness.md\"", "prompt = \"nope.md\""));
    s.work.write("nope.md", "in the work tree only\n");
    let out = s
        .work
        .deep_review(&["origin/main..HEAD", "--plan"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nope.md@") && err.contains("base of the range"),
        "{err}"
    );
}

#[test]
fn the_repository_cannot_pick_models_from_a_store_or_a_server_without_trust() {
    for model in ["ollama:qwen2.5-coder:7b", "http://127.0.0.1:9/v1"] {
        let config = REVIEWERS.replacen("standin:marker", model, 1);
        let r = TestRepo::new();
        r.distrust();
        r.commit_files("configure", &[(".deep-review.toml", config.as_str())]);
        let out = r.deep_review(&["config"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{model}: {err}");
        assert!(
            err.contains("refused") && err.contains("deep-review.trustRepoConfig"),
            "{model}: {err}"
        );
    }
}

#[test]
fn trust_reads_the_work_tree_as_it_stands() {
    let r = TestRepo::new();
    r.distrust();
    r.commit_files("configure", &[(".deep-review.toml", REVIEWERS)]);
    r.write(
        ".deep-review.toml",
        format!("{REVIEWERS}\n[gate]\nblock_on = \"important\"\n"),
    );
    let cfg = ok(&r.deep_review(&["config"]).output().unwrap());
    assert!(
        cfg.contains("block_on = \"critical\""),
        "uncommitted edits are not read: {cfg}"
    );
    r.trust_repo_config();
    let cfg = ok(&r.deep_review(&["config"]).output().unwrap());
    assert!(cfg.contains("block_on = \"important\""), "{cfg}");
    assert!(
        cfg.contains("# repository file read from: the work tree"),
        "{cfg}"
    );
}
