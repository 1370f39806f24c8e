//! `eval --context` on a constructed history whose (fix, introducing
//! commit) pair and outside line are known: a commit changes what
//! `fahrenheit` returns, its caller in another file (older, untouched by
//! that commit) is left wrong, and a later fix changes both.

mod common;

use common::repo::TestRepo;
use git_deep_review::eval::context_recall::{bootstrap, line_map};
use serde_json::Value;

const UTIL_OLD: &str = "\
def fahrenheit(c):
    return c * 9 / 5 + 32
";

const UTIL_BUGGY: &str = "\
def fahrenheit(c):
    return c * 1.8 + 32.0, \"F\"
";

const UTIL_FIXED: &str = "\
def fahrenheit(c):
    return c * 1.8 + 32.0
";

const APP: &str = "\
from util import fahrenheit


def report(c):
    # the temperature, for people
    value = fahrenheit(c)
    return \"%.1f F\" % value
";

/// The history: a root, the working code, the commit that breaks the
/// caller, an unrelated commit, the fix. Returns (repo, introducing commit).
fn history() -> (TestRepo, String) {
    let r = TestRepo::new();
    r.commit_files("Start", &[("README.md", "temperatures\n")]);
    r.commit_files("Add the report", &[("util.py", UTIL_OLD), ("app.py", APP)]);
    let intro = r.commit_files("Return the unit with the value", &[("util.py", UTIL_BUGGY)]);
    r.commit_files("Document", &[("README.md", "temperatures, in F\n")]);
    r.commit_files(
        "Fix the report of a temperature",
        &[
            ("util.py", UTIL_FIXED),
            (
                "app.py",
                &APP.replace("value = fahrenheit(c)", "value = float(fahrenheit(c))"),
            ),
        ],
    );
    (r, intro)
}

fn measure(r: &TestRepo, budgets: &str) -> Value {
    let out = r
        .deep_review(&[
            "eval",
            "--context",
            "--budgets",
            budgets,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_caller_left_wrong_is_an_outside_line_the_pack_shows_at_2000_not_at_0() {
    let (r, intro) = history();
    let report = measure(&r, "0,2000");
    let short = r.git(&["rev-parse", "--short", &intro]);
    let pairs = report["pairs"].as_array().unwrap();
    let pair = pairs
        .iter()
        .find(|p| p["intro"] == short.as_str())
        .unwrap_or_else(|| panic!("no pair with intro {short}: {report:#}"));
    assert_eq!(pair["skipped"], Value::Null, "{pair:#}");
    // The fix changed two lines: util.py:2 (by the intro) and app.py:6
    // (older, untouched by the intro: outside its hunks).
    assert_eq!(pair["blamed"], 2, "{pair:#}");
    assert_eq!(pair["owned"], 1, "{pair:#}");
    assert_eq!(pair["majority"], true);
    assert_eq!(pair["inside"], 1, "{pair:#}");
    let outside = pair["outside_lines"].as_array().unwrap();
    assert_eq!(outside.len(), 1, "{pair:#}");
    assert_eq!(outside[0]["at"], "app.py:6");
    // A file the introducing commit did not change: no hunk to be near.
    assert_eq!(outside[0]["distance"], Value::Null);
    assert_eq!(outside[0]["context"], 2000);
    assert_eq!(outside[0]["kind"], "caller");
    assert_eq!(outside[0]["naive"], Value::Null);
    let at = |budget: u64| {
        pair["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["budget"] == budget)
            .cloned()
            .unwrap()
    };
    assert_eq!(at(0)["context"], 0, "{pair:#}");
    assert_eq!(at(2000)["context"], 1, "{pair:#}");
    assert_eq!(at(2000)["kinds"]["caller"], 1, "{pair:#}");
    // Widening util.py's hunk never reaches app.py.
    assert_eq!(at(2000)["naive"], 0, "{pair:#}");

    // The majority group holds the pair, and pools it.
    let majority = &report["groups"][1];
    assert!(majority["pairs"].as_u64().unwrap() >= 1);
    assert!(majority["outside"].as_u64().unwrap() >= 1);
    assert!(majority["rows"][1]["context"].as_u64().unwrap() >= 1);
}

#[test]
fn the_text_table_lists_every_budget() {
    let (r, _) = history();
    let out = r
        .deep_review(&["eval", "--context", "--budgets", "0,500,2000"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("all pairs:"), "{text}");
    for b in ["      0  ", "    500  ", "   2000  "] {
        assert!(text.contains(b), "{b:?} in {text}");
    }
}

#[test]
fn line_map_follows_unchanged_lines() {
    let old = b"a\nb\nc\nd\n";
    let new = b"a\nx\nb\nd\ne\n";
    let m = line_map(old, new);
    assert_eq!(m, vec![None, Some(1), None, Some(2), Some(4), None]);
}

#[test]
fn bootstrap_is_fixed_and_brackets_the_pooled_ratio() {
    let per: Vec<(usize, usize)> = (0..40).map(|i| (2 + i % 3, 1 + i % 2)).collect();
    let a = bootstrap(&per, 1000, 7).unwrap();
    assert_eq!(Some(a), bootstrap(&per, 1000, 7));
    let pooled = per.iter().map(|p| p.0).sum::<usize>() as f64
        / per.iter().map(|p| p.1).sum::<usize>() as f64;
    assert!(a.0 < pooled && pooled < a.1, "{a:?} {pooled}");
    assert_eq!(bootstrap(&[(1, 0)], 100, 7), None);
}
