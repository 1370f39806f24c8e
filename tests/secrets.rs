//! API keys never land on disk or on the terminal, through the real binary:
//! a hostile server (tests/common/fault_server.rs) echoes the key it was
//! sent inside its answers (a finding, its thinking, the verifier's
//! reason), as is and encoded, and not one form of it may reach a report,
//! the cache, or the output. Everything stays on loopback.

mod common;

use common::fault_server::{base64, percent_encode, FaultServer, Reply};
use common::repo::TestRepo;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Holds characters that JSON may escape (`/`) and URLs must (`/ + =`).
const KEY: &str = "sk-live/SECRET+key=42";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A models directory of the test's own with `manifest` as its manifest
/// (the bundled GGUFs linked in, as the built-in entries expect).
fn models_dir(repo: &TestRepo, manifest: &str) -> PathBuf {
    let dir = repo.scratch().join("models");
    std::fs::create_dir_all(&dir).unwrap();
    let bundled = common::models::dir();
    for f in [common::models::SMOL_FILE, common::models::GEMMA_FILE] {
        let dst = dir.join(f);
        if !dst.exists() && std::fs::hard_link(bundled.join(f), &dst).is_err() {
            std::fs::copy(bundled.join(f), &dst).unwrap();
        }
    }
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
    dir
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(walk(&p));
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

/// The forms of the key a leak could take: as is and JSON-escaped (both
/// hold "SECRET"), URL-encoded, and the key-only middle of its base64 and
/// of the base64 of `user:KEY`.
fn leaks(haystack: &str) -> Vec<String> {
    let b64 = base64(KEY.as_bytes());
    let basic = base64(format!("user:{KEY}").as_bytes());
    let forms = [
        "SECRET".to_string(),
        percent_encode(KEY),
        b64[4..b64.len() - 4].to_string(),
        basic[8..basic.len() - 4].to_string(),
    ];
    forms
        .into_iter()
        .filter(|f| haystack.contains(f.as_str()))
        .collect()
}

fn assert_no_key(what: &str, haystack: &str) {
    let found = leaks(haystack);
    if let Some(form) = found.first() {
        let at = haystack.find(form.as_str()).unwrap_or(0);
        let around: String = haystack[at.saturating_sub(200)..]
            .chars()
            .take(400)
            .collect();
        panic!("{what} holds the key as {found:?}: …{around}…");
    }
}

#[test]
fn a_key_a_server_echoes_is_redacted_everywhere() {
    let repo = TestRepo::python_average();
    let finding = r#"{"findings":[{"file":"stats.py","line":6,"end_line":6,"severity":"important","kind":"gap","title":"Empty xs {key}","explanation":"b64 {key_b64} basic {basic_b64} url {key_url}","fix":"json {key_json}","quote":""}]}"#;
    let verdict = r#"{"verdict":"confirmed","reason":"len is 0; sent {auth} b64 {key_b64}"}"#;
    let fault = FaultServer::start(vec![
        Reply::Echo {
            content: finding.into(),
            thinking: "The header was {auth}, i.e. {basic_b64}".into(),
        },
        Reply::Echo {
            content: verdict.into(),
            thinking: String::new(),
        },
    ]);
    fault.require_key(KEY);
    let models = models_dir(
        &repo,
        &format!(
            "[[model]]\nname = \"team\"\nendpoint = \"{}\"\napi_key_env = \"TEAM_KEY\"\n",
            fault.base_url()
        ),
    );
    repo.write(
        ".deep-review.toml",
        "[review]\nlead = \"none\"\nverify = \"on\"\nverifier = \"team\"\n\n\
         [[reviewer]]\nname = \"remote\"\nmodel = \"team\"\nprompt = \"correctness.md\"\n\
         seed = 10\nmax_tokens = 4096\n",
    );
    let run = |args: &[&str]| -> Output {
        let mut cmd = repo.deep_review(args);
        cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models)
            .env("TEAM_KEY", KEY);
        cmd.output().unwrap()
    };

    // Markdown and JSON reports in the report directory, the cache, the
    // terminal summary; then the same from the cache, as JSON and SARIF
    // on stdout.
    let runs = [
        run(&["HEAD~1..HEAD"]),
        run(&["HEAD~1..HEAD", "--format", "json", "-o", "-"]),
        run(&["HEAD~1..HEAD", "--format", "sarif", "-o", "-"]),
    ];
    for (i, out) in runs.iter().enumerate() {
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "run {i}: {stderr}");
        assert_no_key(&format!("run {i}: stdout"), &stdout);
        assert_no_key(&format!("run {i}: stderr"), &stderr);
    }
    // The server did get the key, and answered with it: both the review
    // and the verification went to it (once: the other runs were cached).
    let completions: Vec<_> = fault
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .collect();
    assert_eq!(completions.len(), 2, "a review and a verification");
    assert!(completions
        .iter()
        .all(|r| r.header("authorization") == Some(format!("Bearer {KEY}").as_str())));

    // What the review kept is the redacted answer, not nothing.
    let report: serde_json::Value = serde_json::from_slice(&runs[1].stdout).unwrap();
    let found = &report["findings"][0];
    assert_eq!(found["file"], "stats.py", "{report:#}");
    let shown = report.to_string();
    assert!(
        shown.contains("[redacted api key]") && shown.contains("Empty xs"),
        "{report:#}"
    );
    assert!(
        shown.contains("len is 0"),
        "the verifier's reason: {report:#}"
    );

    // No file anywhere: repository, reports, cache, home, models directory
    // (but the bundled models' own bytes, whose vocabulary has "SECRET").
    let files: Vec<PathBuf> = walk(&repo.scratch())
        .into_iter()
        .filter(|f| f.extension().is_none_or(|e| e != "gguf"))
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "md")
                && f.to_string_lossy().contains("deep-review/reports")),
        "a Markdown report was written"
    );
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert_no_key(&f.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
}
