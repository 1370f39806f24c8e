//! Two reviews of the same change at once (the pre-push hook beside a
//! manual review): each answer is made once, the second run waits for the
//! first's, and a run killed while holding a chunk leaves nothing that
//! stops the next. Stand-in reviewers, slowed down and counted through
//! the stand-in's test variables, make the timing deterministic enough.

mod common;

use common::repo::TestRepo;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = "[review]\nlead = \"none\"\nchunk_tokens = 256\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 7\n";

/// A change of three files, each a chunk of its own, one of them with a
/// planted finding.
fn repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.commit_files("base", &[("README", "hello\n")]);
    let body = |name: &str, extra: &str| {
        let mut s = String::new();
        for i in 0..8 {
            s.push_str(&format!("def {name}_{i}(x):\n    return x + {i}\n\n"));
        }
        s.push_str(extra);
        s
    };
    let a = body("a", "# DEEP-REVIEW-PLANT:important\n");
    let (b, c) = (body("b", ""), body("c", ""));
    repo.commit_files("three files", &[("a.py", &a), ("b.py", &b), ("c.py", &c)]);
    repo.write(".deep-review.toml", CONFIG);
    repo
}

fn review(repo: &TestRepo, out: &Path, log: &Path, delay_ms: u64) -> Command {
    let mut c = repo.deep_review(&[
        "HEAD~1..HEAD",
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    c.env("GIT_DEEP_REVIEW_STANDIN_LOG", log)
        .env("GIT_DEEP_REVIEW_STANDIN_DELAY_MS", delay_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "review failed: {err}");
    err
}

fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// (answers made here, answers from the cache) over every reviewer.
fn made_and_cached(r: &Value) -> (usize, usize) {
    let chunks: Vec<&Value> = r["appendix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["chunks"].as_array().unwrap())
        .collect();
    let cached = chunks.iter().filter(|c| c["from_cache"] == true).count();
    (chunks.len() - cached, cached)
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn lock_files(repo: &TestRepo) -> Vec<std::path::PathBuf> {
    let dir = repo.path.join(".git/deep-review/cache/locks");
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn two_reviews_at_once_make_each_answer_once_and_agree() {
    let repo = repo();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("answers.log");
    let (out_a, out_b) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    // Each stand-in call takes 600 ms, so the second run starts while the
    // first holds its first chunk.
    let a = review(&repo, &out_a, &log, 600).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let b = review(&repo, &out_b, &log, 600).spawn().unwrap();
    finish(a);
    let b_err = finish(b);
    let (ra, rb) = (report(&out_a), report(&out_b));
    let ((made_a, cached_a), (made_b, cached_b)) = (made_and_cached(&ra), made_and_cached(&rb));
    let answers = made_a + cached_a;
    assert!(
        answers >= 6,
        "3 chunks x 2 reviewers expected, got {answers}"
    );
    assert_eq!(made_b + cached_b, answers, "both runs cover every chunk");
    // Every answer was made by exactly one of the two processes.
    assert_eq!(
        made_a + made_b,
        answers,
        "an answer was made twice (a: {made_a}, b: {made_b})"
    );
    // The verify stage's answers are made once too: the second run waits
    // for the first one's, or finds them in the cache.
    let verified = |r: &Value| {
        let v = &r["verification"];
        let passes = v["checked"].as_u64().unwrap() * v["votes"].as_u64().unwrap();
        (passes, passes - v["from_cache"].as_u64().unwrap())
    };
    let ((passes, made_va), (_, made_vb)) = (verified(&ra), verified(&rb));
    assert!(
        passes >= 1,
        "the planted finding was verified: {}",
        ra["verification"]
    );
    assert_eq!(
        made_va + made_vb,
        passes,
        "a verifier answer was made twice"
    );
    assert_eq!(
        log_lines(&log).len() as u64,
        answers as u64 + passes,
        "{:?}",
        log_lines(&log)
    );
    assert!(cached_b > 0, "the second run made everything itself");
    let _ = b_err;
    // Both reports say the same.
    assert_eq!(ra["findings"], rb["findings"]);
    assert_eq!(ra["verdict"], rb["verdict"]);
    assert_eq!(ra["findings"].as_array().unwrap().len(), 1);
    assert!(
        lock_files(&repo).is_empty(),
        "locks left: {:?}",
        lock_files(&repo)
    );
}

#[test]
fn a_review_killed_while_holding_a_chunk_does_not_stop_the_next() {
    let repo = repo();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("answers.log");
    let (out_a, out_b) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    // The first run would take a minute on its first chunk: it is killed
    // (SIGKILL: no cleanup at all) while it holds that chunk's lock.
    let mut a = review(&repo, &out_a, &log, 60_000).spawn().unwrap();
    let t = Instant::now();
    while lock_files(&repo).len() < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the first run never claimed a chunk"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().unwrap();
    a.wait().unwrap();
    let stale = lock_files(&repo);
    // Both reviewers' answers on the first chunk (one model call).
    assert_eq!(stale.len(), 2, "{stale:?}");

    let t = Instant::now();
    let b = review(&repo, &out_b, &log, 0).spawn().unwrap();
    finish(b);
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "the next run waited for a dead one"
    );
    let rb = report(&out_b);
    let (made, cached) = made_and_cached(&rb);
    assert_eq!(cached, 0, "the killed run cached nothing");
    assert!(made >= 6);
    assert_eq!(rb["findings"].as_array().unwrap().len(), 1);
    assert!(!out_a.exists(), "the killed run left a report");
    assert!(
        lock_files(&repo).is_empty(),
        "the stale lock stayed: {:?}",
        lock_files(&repo)
    );
    // The cache the second run left is whole: a third run takes all of it.
    let out_c = tmp.path().join("c.json");
    finish(review(&repo, &out_c, &log, 0).spawn().unwrap());
    assert_eq!(made_and_cached(&report(&out_c)), (0, made));
}
