//! `git deep-review eval` end to end through the real engine: the bundled
//! models review cases mined from a constructed history and planted
//! mutants, offline (`unshare -n`). The models are tiny, so their scores
//! are near zero: the test asserts the path and that the numbers agree
//! with each other, never the models' wisdom.

use serde_json::Value;

mod common;
use common::repo::TestRepo;

const REAL_REVIEWERS: &str = r#"
[[reviewer]]
name = "smol"
model = "smollm2-135m"
prompt = "correctness.md"
max_tokens = 192

[[reviewer]]
name = "gemma"
model = "gemma3-270m"
prompt = "robustness.md"
max_tokens = 192
"#;

/// A history with one bug introduced by a later commit and fixed after,
/// and enough Python and JavaScript for mutants.
fn history_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.commit_files(
        "Add the window helper",
        &[(
            "window.py",
            "def window(xs, n):\n    out = []\n    for i in range(len(xs) - n + 1):\n        out.append(xs[i:i + n])\n    return out\n",
        )],
    );
    repo.commit_files(
        "Skip short inputs early",
        &[(
            "window.py",
            "def window(xs, n):\n    out = []\n    if len(xs) < n:\n        return out\n    for i in range(len(xs) - n):\n        out.append(xs[i:i + n])\n    return out\n",
        )],
    );
    repo.commit_files(
        "Add clamp()",
        &[(
            "clamp.js",
            "function clamp(x, lo, hi) {\n  if (x < lo) {\n    return lo;\n  }\n  if (x > hi) {\n    return hi;\n  }\n  return x;\n}\nmodule.exports = { clamp };\n",
        )],
    );
    repo.commit_files(
        "Fix window() dropping the last window",
        &[(
            "window.py",
            "def window(xs, n):\n    out = []\n    if len(xs) < n:\n        return out\n    for i in range(len(xs) - n + 1):\n        out.append(xs[i:i + n])\n    return out\n",
        )],
    );
    repo.write(".deep-review.toml", REAL_REVIEWERS);
    repo
}

fn eval(repo: &TestRepo, extra: &[&str]) -> Value {
    let mut args = vec![
        "eval",
        "--from-history",
        "--mutants",
        "2",
        "--seed",
        "3",
        "--format",
        "json",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = TestRepo::with_models(&mut repo.deep_review_offline(&args))
        .output()
        .expect("unshare runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Every figure that can be recomputed from the per-case results is.
fn assert_consistent(s: &Value) {
    let cases = s["per_case"].as_array().unwrap();
    assert_eq!(n(&s["cases"]), cases.len() as u64);
    let reviewed: Vec<&Value> = cases
        .iter()
        .filter(|c| c["not_reviewed"].is_null())
        .collect();
    assert_eq!(n(&s["reviewed_cases"]), reviewed.len() as u64);
    let defects: Vec<&Value> = reviewed
        .iter()
        .flat_map(|c| c["defects"].as_array().unwrap())
        .collect();
    assert_eq!(n(&s["defects"]), defects.len() as u64);
    let mut best = 0;
    for card in s["reviewers"].as_array().unwrap() {
        let name = card["name"].as_str().unwrap();
        let found = defects
            .iter()
            .filter(|d| d["found_by"].as_array().unwrap().iter().any(|x| x == name))
            .count() as u64;
        assert_eq!(n(&card["defects"]["found"]), found, "{name}");
        assert_eq!(n(&card["defects"]["total"]), defects.len() as u64);
        let recall = card["recall"].as_f64().unwrap();
        assert!((recall - found as f64 / defects.len() as f64).abs() < 1e-3);
        assert_eq!(
            n(&card["findings"]),
            n(&card["on_defects"]) + n(&card["unconfirmed"])
        );
        let findings: u64 = reviewed
            .iter()
            .flat_map(|c| c["reviewers"].as_array().unwrap())
            .filter(|r| r["name"] == name)
            .map(|r| r["findings"].as_array().unwrap().len() as u64)
            .sum();
        assert_eq!(n(&card["findings"]), findings, "{name}");
        let by_source: u64 = card["by_source"]
            .as_object()
            .unwrap()
            .values()
            .map(|t| n(&t["found"]))
            .sum();
        assert_eq!(by_source, found);
        best = best.max(found);
    }
    let union = defects
        .iter()
        .filter(|d| !d["found_by"].as_array().unwrap().is_empty())
        .count() as u64;
    assert_eq!(n(&s["union"]["found"]), union);
    assert!(union >= best);
    let gain = s["union_gain"].as_f64().unwrap();
    assert!((gain - (union - best) as f64 / defects.len() as f64).abs() < 1e-3);
    let consolidated = defects.iter().filter(|d| d["consolidated"] == true).count() as u64;
    assert_eq!(n(&s["consolidated"]["defects"]["found"]), consolidated);
    for g in s["gate"].as_array().unwrap() {
        assert!(n(&g["blocked_on_defect"]) <= n(&g["blocked"]));
        assert!(n(&g["blocked"]) <= reviewed.len() as u64);
    }
}

#[test]
fn eval_runs_the_real_engine_on_history_and_mutants() {
    let repo = history_repo();
    let refs_before = repo.git(&["show-ref"]);
    let first = eval(&repo, &[]);

    let by_source = &first["cases_by_source"];
    assert_eq!(n(&by_source["history"]), 1, "{first}");
    assert_eq!(n(&by_source["mutant"]), 2, "{first}");
    let history = first["per_case"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "history")
        .unwrap();
    assert_eq!(
        history["head"],
        repo.rev("HEAD~2"),
        "the commit that introduced the bug"
    );
    assert_eq!(history["defects"][0]["file"], "window.py");
    assert_eq!(history["defects"][0]["line_start"], 5);
    for card in first["reviewers"].as_array().unwrap() {
        assert_eq!(n(&card["failed_cases"]), 0, "{card}");
        assert!(n(&card["cost"]["prompt_tokens"]) > 0, "{card}");
    }
    assert_consistent(&first);

    // Same seed, same cases; the second run is answered from the cache
    // and scores exactly the same.
    let second = eval(&repo, &[]);
    let ids = |s: &Value| -> Vec<(Value, Value)> {
        s["per_case"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].clone(), c["head"].clone()))
            .collect()
    };
    assert_eq!(ids(&first), ids(&second));
    for (a, b) in first["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["reviewers"].as_array().unwrap())
    {
        assert_eq!(a["defects"], b["defects"]);
        assert_eq!(a["findings"], b["findings"]);
        assert_eq!(b["cost"]["chunks_from_cache"], b["cost"]["chunks"]);
    }
    assert_eq!(first["gate"], second["gate"]);
    assert_eq!(repo.git(&["show-ref"]), refs_before, "eval touches no ref");
    assert_eq!(
        repo.git(&["status", "--porcelain"]).trim(),
        "?? .deep-review.toml"
    );
}

fn ratio(v: &Value) -> Option<f64> {
    (!v.is_null()).then(|| v.as_f64().unwrap_or_else(|| panic!("not a ratio: {v}")))
}

/// One precision record agrees with itself.
fn assert_precision(p: &Value, what: &str) {
    let (tp, fp) = (n(&p["true_positives"]), n(&p["false_positives"]));
    assert!(n(&p["false_positives_on_decoys"]) <= fp, "{what}: {p}");
    match ratio(&p["precision"]) {
        Some(r) => assert!(
            (r - tp as f64 / (tp + fp) as f64).abs() < 1e-3,
            "{what}: {p}"
        ),
        None => assert_eq!(tp + fp, 0, "{what}: {p}"),
    }
    let (found, total) = (n(&p["defects"]["found"]), n(&p["defects"]["total"]));
    assert!((ratio(&p["recall"]).unwrap() - found as f64 / total.max(1) as f64).abs() < 1e-3);
}

#[test]
fn eval_with_decoys_and_verification_on_the_real_engine() {
    let repo = history_repo();
    let out = TestRepo::with_models(&mut repo.deep_review_offline(&[
        "eval",
        "--mutants",
        "2",
        "--decoys",
        "2",
        "--seed",
        "3",
        "--verify",
        "on",
        "--format",
        "json",
        "--quiet",
    ]))
    .output()
    .expect("unshare runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(n(&s["cases_by_source"]["mutant"]), 2, "{s}");
    assert_eq!(n(&s["cases_by_source"]["decoy"]), 2, "{s}");
    assert_consistent(&s);
    let cases = s["per_case"].as_array().unwrap();
    let on_decoys = |name: &str| -> u64 {
        cases
            .iter()
            .filter(|c| c["source"] == "decoy")
            .flat_map(|c| c["reviewers"].as_array().unwrap())
            .filter(|r| r["name"] == name)
            .map(|r| r["findings"].as_array().unwrap().len() as u64)
            .sum()
    };
    for c in cases.iter().filter(|c| c["source"] == "decoy") {
        assert!(c["defects"].as_array().unwrap().is_empty(), "{c}");
        assert!(c["not_reviewed"].is_null(), "{c}");
    }
    // Verification ran (`--verify on`), so every scorecard has both.
    for card in s["reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&s["consolidated"]])
    {
        let name = card["name"].as_str().unwrap();
        let (without, with) = (&card["without_verification"], &card["with_verification"]);
        assert!(
            with.is_object(),
            "{name}: no numbers with verification: {card}"
        );
        assert_precision(without, name);
        assert_precision(with, name);
        for k in [
            "true_positives",
            "false_positives",
            "false_positives_on_decoys",
        ] {
            assert!(
                n(&with[k]) <= n(&without[k]),
                "{name} {k}: verification only removes"
            );
        }
        if name != "consolidated" {
            assert_eq!(
                n(&without["false_positives_on_decoys"]),
                on_decoys(name),
                "{name}"
            );
            let refuted: u64 = cases
                .iter()
                .filter(|c| c["source"] == "decoy" || c["source"] == "mutant")
                .flat_map(|c| c["reviewers"].as_array().unwrap())
                .filter(|r| r["name"] == name)
                .flat_map(|r| r["findings"].as_array().unwrap())
                .filter(|f| f["refuted"] == true)
                .count() as u64;
            let judged = |p: &Value| n(&p["true_positives"]) + n(&p["false_positives"]);
            assert_eq!(judged(without) - judged(with), refuted, "{name}");
        }
    }
    let v = &s["verification"];
    assert_eq!(
        n(&v["checked"]),
        n(&v["confirmed"]) + n(&v["refuted"]) + n(&v["uncertain"]),
        "{v}"
    );
    let refuted: u64 = cases.iter().map(|c| n(&c["consolidated_refuted"])).sum();
    assert_eq!(n(&v["refuted"]), refuted);
    assert!(v["not_run"].as_object().unwrap().is_empty(), "{v}");
    assert!(n(&v["cases_verified"]) <= n(&s["reviewed_cases"]));
    if n(&v["checked"]) > v["from_cache"].as_u64().unwrap_or(0) {
        assert!(
            n(&v["prompt_tokens"]) > 0,
            "a verifier that ran read a prompt: {v}"
        );
    }
    for g in s["gate"].as_array().unwrap() {
        assert!(n(&g["blocked_on_decoy"]) <= 2);
    }
    println!(
        "consolidated without / with verification: {} / {}; verification: {v}",
        s["consolidated"]["without_verification"], s["consolidated"]["with_verification"]
    );
}
