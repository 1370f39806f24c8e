//! Reviewers decoded together, and the engine on a busy machine, through
//! the real binary and the real engine on the bundled models, offline
//! (`unshare -n`): with `review.batch_decode = "on"` the two reviewers that
//! share a model are decoded in one batch, their answers are the same in a
//! fresh process, the cache keys them by their group (a reviewer alone is
//! not answered with its batched answer), and beside CPU-bound processes
//! the engine uses only the cores they leave free.

mod common;

use common::repo::TestRepo;
use serde_json::Value;

fn review(repo: &TestRepo, args: &[&str]) -> Value {
    repo.review_offline_json(args)
}

/// (reviewer, raw answer, from_cache, threads, together) of every chunk.
fn answers(r: &Value) -> Vec<(String, String, bool, u64, u64)> {
    TestRepo::appendix_chunks(r)
        .into_iter()
        .map(|(who, c)| {
            (
                who,
                c["raw"].as_str().unwrap_or("").to_string(),
                c["from_cache"] == true,
                c["threads"].as_u64().unwrap_or(0),
                c["together"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn repo(batch: &str) -> TestRepo {
    let repo = TestRepo::python_average();
    repo.write(
        ".deep-review.toml",
        format!("[review]\nbatch_decode = \"{batch}\"\n"),
    );
    repo
}

#[test]
fn reviewers_sharing_a_model_are_decoded_together_deterministically() {
    let repo = repo("on");
    let first = review(&repo, &[]);
    let got = answers(&first);
    assert!(!got.is_empty());
    for (who, raw, cached, threads, together) in &got {
        assert!(!cached, "{who}: fresh cache");
        assert!(*threads >= 1, "{who}: ran in-process");
        // correctness and tests-design share smollm2; robustness is alone.
        let expected = if who == "robustness" { 1 } else { 2 };
        assert_eq!(*together, expected, "{who}");
        assert!(!raw.is_empty(), "{who} answered nothing");
    }

    // A fresh process on an empty cache makes the same answers.
    let mut clear = repo.deep_review_offline(&["cache", "clear"]);
    assert!(TestRepo::with_models(&mut clear)
        .status()
        .unwrap()
        .success());
    let again = review(&repo, &[]);
    let strip = |v: &[(String, String, bool, u64, u64)]| -> Vec<(String, String)> {
        v.iter().map(|(w, r, ..)| (w.clone(), r.clone())).collect()
    };
    assert_eq!(strip(&answers(&again)), strip(&got));
    assert_eq!(again["findings"], first["findings"]);

    // Cached now: no model is loaded and the answers are the same.
    let cached = review(&repo, &[]);
    assert!(answers(&cached).iter().all(|a| a.2), "all from the cache");
    assert_eq!(cached["engine"]["weights_loaded"], 0);
    assert_eq!(strip(&answers(&cached)), strip(&got));

    // correctness alone is a group of one: its batched answer is not its
    // answer alone, so it is made again, not taken from the cache.
    let alone = review(&repo, &["--reviewer", "correctness"]);
    let a = answers(&alone);
    assert_eq!(a.len(), got.iter().filter(|g| g.0 == "correctness").count());
    for (who, _, cached, _, together) in &a {
        assert_eq!(who, "correctness");
        assert!(!cached, "a group of one must not reuse the group's answer");
        assert_eq!(*together, 1);
    }
}

/// `f` run while `n` CPU-bound processes spin.
fn beside_spinners<T>(n: usize, f: impl FnOnce() -> T) -> T {
    let mut spinners: Vec<_> = (0..n)
        .map(|_| {
            std::process::Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .unwrap()
        })
        .collect();
    let out = f();
    for s in &mut spinners {
        let _ = s.kill();
        let _ = s.wait();
    }
    out
}

#[test]
fn the_engine_leaves_the_busy_cores_to_their_processes() {
    let repo = repo("auto");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // As many spinning processes as there are cores: none is left free,
    // so the engine uses one thread rather than fight them for every core.
    let busy = beside_spinners(cores, || review(&repo, &["--no-cache"]));
    let got = answers(&busy);
    assert!(!got.is_empty());
    for (who, _, _, threads, together) in &got {
        assert_eq!(*threads, 1, "{who}: {cores} busy cores");
        // auto: the bundled models are too small to batch.
        assert_eq!(*together, 1, "{who}");
    }

    // `--threads` fixes the count whatever the load.
    let fixed = beside_spinners(cores, || review(&repo, &["--no-cache", "--threads", "2"]));
    for (who, _, _, threads, _) in answers(&fixed) {
        assert_eq!(threads, 2, "{who}");
    }
}
