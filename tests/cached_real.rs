//! What a repeated review costs, through the real binary and the real
//! engine on the bundled models, with no network (`unshare -n`): a review
//! answered from the cache loads no model (the engine's own counters in
//! the JSON report say so, not the clock), a partly cached one cuts its
//! chunks exactly as the first did, and two reviews at once make each
//! answer once.

mod common;

use common::repo::TestRepo;
use serde_json::Value;
use std::process::Stdio;

fn review(repo: &TestRepo, args: &[&str]) -> Value {
    repo.review_offline_json(args)
}

/// A change of a few Python functions, cut into several chunks.
fn repo() -> TestRepo {
    let repo = TestRepo::python_average();
    let mut body = String::new();
    for i in 0..7 {
        body.push_str(&format!(
            "def scaled_{i}(values, factor):\n    total = 0\n    for v in values:\n        total += v * factor + {i}\n    return total / len(values)\n\n"
        ));
    }
    repo.commit_files("add scaled helpers", &[("scaled.py", &body)]);
    repo.write(".deep-review.toml", "[review]\nchunk_tokens = 256\n");
    repo
}

fn chunks(r: &Value) -> Vec<(String, usize, bool)> {
    TestRepo::appendix_chunks(r)
        .into_iter()
        .map(|(who, c)| {
            (
                who,
                c["chunk"].as_u64().unwrap() as usize,
                c["from_cache"] == true,
            )
        })
        .collect()
}

#[test]
fn a_review_answered_from_the_cache_loads_no_model() {
    let repo = repo();
    // Two reviewers first, one on each model (so the chunks are cut by the
    // same two tokenizers as the full review's): tests-design's answers
    // are missing afterwards.
    let one = review(
        &repo,
        &["--reviewer", "correctness", "--reviewer", "robustness"],
    );
    assert!(
        one["engine"]["vocabularies_loaded"].as_u64().unwrap() >= 1,
        "{}",
        one["engine"]
    );
    assert!(one["engine"]["weights_loaded"].as_u64().unwrap() >= 1);

    // All reviewers: some answers are missing, so the models are loaded,
    // and the chunks are cut exactly as before (the cached ones hit).
    let full = review(&repo, &[]);
    assert!(full["engine"]["vocabularies_loaded"].as_u64().unwrap() >= 1);
    let cut = chunks(&full);
    assert!(
        cut.len() >= 6,
        "several chunks for three reviewers: {cut:?}"
    );
    for c in &cut {
        assert_eq!(
            c.2,
            c.0 != "tests-design",
            "only tests-design had to review: {cut:?}"
        );
    }

    // Everything cached: nothing at all is loaded, llama.cpp is not even
    // started, and the report is the same review.
    let again = review(&repo, &[]);
    assert_eq!(
        again["engine"],
        serde_json::json!({"backend_started": false, "vocabularies_loaded": 0, "weights_loaded": 0, "contexts_created": 0})
    );
    let cached = chunks(&again);
    assert!(cached.iter().all(|c| c.2), "{cached:?}");
    assert_eq!(
        cached.iter().map(|c| (&c.0, c.1)).collect::<Vec<_>>(),
        cut.iter().map(|c| (&c.0, c.1)).collect::<Vec<_>>()
    );
    for key in ["findings", "verdict"] {
        assert_eq!(again[key], full[key], "{key}");
    }
    assert_eq!(again["lead"]["from_cache"], true, "{}", again["lead"]);

    // A changed chunk budget is another cut: the models are needed again
    // (one reviewer is enough to see it).
    repo.write(".deep-review.toml", "[review]\nchunk_tokens = 512\n");
    let recut = review(&repo, &["--reviewer", "correctness"]);
    assert!(recut["engine"]["vocabularies_loaded"].as_u64().unwrap() >= 1);
}

#[test]
fn two_real_reviews_at_once_make_each_answer_once() {
    let repo = repo();
    let spawn = || {
        let mut cmd = repo.deep_review_offline(&["HEAD~1..HEAD", "--format", "json", "-o", "-"]);
        TestRepo::with_models(&mut cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let done = |c: std::process::Child| -> Value {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (ra, rb) = (done(a), done(b));
    let (ca, cb) = (chunks(&ra), chunks(&rb));
    assert_eq!(ca.len(), cb.len());
    let made = ca.iter().chain(&cb).filter(|c| !c.2).count();
    assert_eq!(
        made,
        ca.len(),
        "each answer made once between the two: {ca:?} {cb:?}"
    );
    for key in ["findings", "verdict"] {
        assert_eq!(ra[key], rb[key], "{key}");
    }
}
