//! Consolidation and verdict on hand-written findings (no model).

use git_deep_review::check::consolidate::{
    consolidate, similarity, ConsolidatedFinding, SIM_NEARBY, SIM_OVERLAPPING,
};
use git_deep_review::check::findings::{Finding, Issue, Kind, Severity};
use git_deep_review::check::verdict::{decide, Verdict};

#[allow(clippy::too_many_arguments)]
fn f(
    reviewer: &str,
    file: &str,
    start: u32,
    end: u32,
    severity: Severity,
    kind: Kind,
    title: &str,
    explanation: &str,
) -> Finding {
    Finding {
        reviewer: reviewer.to_string(),
        chunk: 0,
        issue: Issue {
            severity,
            kind,
            file: file.to_string(),
            line_start: start,
            line_end: end,
            title: title.to_string(),
            explanation: explanation.to_string(),
            fix: String::new(),
            quote: String::new(),
            cause: None,
        },
    }
}

fn overflow(reviewer: &str, sev: Severity) -> Finding {
    f(
        reviewer,
        "src/buf.rs",
        40,
        44,
        sev,
        Kind::Regression,
        "Length addition can overflow u32",
        "`len + extra` is computed in u32; with a large `extra` the addition overflows and wraps, so the buffer is allocated too small.",
    )
}

/// Realistic pairs: (a, b, must_merge). Both on overlapping lines of one file.
fn pairs() -> Vec<(Finding, Finding, bool)> {
    use Kind::*;
    use Severity::*;
    vec![
        // Same issue, paraphrased.
        (
            f("a", "src/buf.rs", 40, 44, Important, Regression,
              "Length addition can overflow u32",
              "`len + extra` is computed in u32 and can overflow for large inputs, wrapping around."),
            f("b", "src/buf.rs", 41, 41, Critical, Regression,
              "Integer overflow when adding extra to len",
              "Adding `extra` to `len` overflows u32 and wraps, which under-allocates the buffer."),
            true,
        ),
        (
            f("a", "src/keys.rs", 57, 62, Important, Regression,
              "Partial rename in ensureSSHKeys leaves unrecoverable state",
              "If the public key rename succeeds and the private key rename fails, the next call cannot regenerate keys."),
            f("b", "src/keys.rs", 32, 60, Important, Gap,
              "ensureSSHKeys cannot recover from a half-renamed key pair",
              "A failed private key rename after the public key rename leaves a state that later calls never recover from."),
            true,
        ),
        (
            f("a", "src/cfg.rs", 10, 12, Important, Regression,
              "unwrap on user-provided path panics",
              "`path.to_str().unwrap()` panics when the path is not valid UTF-8."),
            f("b", "src/cfg.rs", 11, 11, Important, Regression,
              "Panic on non-UTF-8 path",
              "The unwrap of `to_str()` will panic for a path that is not UTF-8; return an error instead."),
            true,
        ),
        // Different issues on the same line.
        (
            f("a", "src/buf.rs", 41, 41, Important, Regression,
              "Length addition can overflow u32",
              "`len + extra` can overflow for large inputs."),
            f("b", "src/buf.rs", 41, 41, Suggestion, Enhancement,
              "Variable name `extra` is unclear",
              "Rename it to `additional_capacity` to say what it holds."),
            false,
        ),
        (
            f("a", "src/cfg.rs", 11, 11, Important, Regression,
              "unwrap on user-provided path panics",
              "`path.to_str().unwrap()` panics when the path is not valid UTF-8."),
            f("b", "src/cfg.rs", 11, 11, Suggestion, Gap,
              "Config file is read twice",
              "The file is opened and read again in `load`, doubling I/O; reuse the first read."),
            false,
        ),
        (
            f("a", "src/lock.rs", 20, 25, Critical, Regression,
              "Race between check and lock acquisition",
              "Another process can create the lock file between the existence check and the open, so two writers proceed."),
            f("b", "src/lock.rs", 22, 22, Important, Gap,
              "Missing test for lock timeout",
              "No test covers what happens when the lock is held longer than the timeout."),
            false,
        ),
    ]
}

#[test]
fn similarity_thresholds_separate_the_must_and_must_not_pairs() {
    let ps = pairs();
    let corpus: Vec<Finding> = ps
        .iter()
        .flat_map(|(a, b, _)| [a.clone(), b.clone()])
        .collect();
    for (a, b, must) in &ps {
        let s = similarity(a, b, &corpus);
        if *must {
            assert!(
                s >= SIM_OVERLAPPING,
                "{:?} vs {:?}: {s:.3} below threshold",
                a.title,
                b.title
            );
        } else {
            assert!(
                s < SIM_OVERLAPPING,
                "{:?} vs {:?}: {s:.3} reaches threshold",
                a.title,
                b.title
            );
        }
    }
}

#[test]
fn must_pairs_merge_and_must_not_pairs_stay_apart() {
    for (a, b, must) in pairs() {
        let out = consolidate(&[a.clone(), b.clone()]);
        assert_eq!(
            out.len(),
            if must { 1 } else { 2 },
            "{:?} / {:?}",
            a.title,
            b.title
        );
    }
}

#[test]
fn identical_findings_from_two_reviewers_merge() {
    let out = consolidate(&[
        overflow("alpha", Severity::Important),
        overflow("beta", Severity::Important),
    ]);
    assert_eq!(out.len(), 1);
    let c = &out[0];
    assert_eq!(c.reviewers, vec!["alpha", "beta"]);
    assert_eq!(c.agreement, 2);
    assert_eq!(c.members.len(), 2);
    assert_eq!(c.severity, Severity::Important);
    assert!(!c.unconfirmed);
}

#[test]
fn same_text_in_other_file_or_far_away_does_not_merge() {
    let a = overflow("alpha", Severity::Important);
    let mut other_file = overflow("beta", Severity::Important);
    other_file.file = "src/other.rs".into();
    assert_eq!(consolidate(&[a.clone(), other_file]).len(), 2);
    let mut far = overflow("beta", Severity::Important);
    far.line_start = 200;
    far.line_end = 201;
    assert_eq!(consolidate(&[a.clone(), far]).len(), 2);
    // Nearby (gap of 3 lines) with identical text still merges.
    let mut near = overflow("beta", Severity::Important);
    near.line_start = 47;
    near.line_end = 48;
    assert!(similarity(&a, &near, &[]) >= SIM_NEARBY);
    assert_eq!(consolidate(&[a, near]).len(), 1);
}

#[test]
fn same_reviewer_merges_only_near_duplicates() {
    // The same issue reported from two chunks by one reviewer: one finding,
    // agreement 1 (it is not independent confirmation).
    let out = consolidate(&[
        overflow("alpha", Severity::Important),
        overflow("alpha", Severity::Important),
    ]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].agreement, 1);
    // A paraphrase by the same reviewer is kept separate.
    let (a, mut b, _) = pairs().remove(0);
    b.reviewer = a.reviewer.clone();
    assert_eq!(consolidate(&[a, b]).len(), 2);
}

fn sev_of(out: &[ConsolidatedFinding]) -> (Severity, bool) {
    assert_eq!(out.len(), 1, "{out:#?}");
    (out[0].severity, out[0].unconfirmed)
}

#[test]
fn severities_disagree_majority_wins_ties_go_up() {
    use Severity::*;
    let three = consolidate(&[
        overflow("a", Important),
        overflow("b", Suggestion),
        overflow("c", Important),
    ]);
    assert_eq!(sev_of(&three), (Important, false));
    let tie = consolidate(&[overflow("a", Important), overflow("b", Suggestion)]);
    assert_eq!(sev_of(&tie), (Important, false));
    // A tie with one critical: critical, but only one reviewer said so.
    let crit_tie = consolidate(&[overflow("a", Critical), overflow("b", Important)]);
    assert_eq!(sev_of(&crit_tie), (Critical, true));
    let confirmed = consolidate(&[
        overflow("a", Critical),
        overflow("b", Critical),
        overflow("c", Suggestion),
    ]);
    assert_eq!(sev_of(&confirmed), (Critical, false));
    // Outvoted critical: majority important.
    let outvoted = consolidate(&[
        overflow("a", Critical),
        overflow("b", Important),
        overflow("c", Important),
    ]);
    assert_eq!(sev_of(&outvoted), (Important, false));
    let single = consolidate(&[overflow("a", Critical)]);
    assert_eq!(sev_of(&single), (Critical, true));
}

#[test]
fn representative_is_longest_explanation_with_the_winning_severity_and_lines_are_united() {
    use Severity::*;
    let mut short = overflow("a", Important);
    short.explanation = "Overflow of len + extra in u32.".into();
    short.fix = "Use checked_add.".into();
    short.line_start = 38;
    let mut long_sugg = overflow("b", Suggestion);
    long_sugg.explanation.push_str(
        " And a lot more words that make this the longest explanation of all of them, by far.",
    );
    let mut long_imp = overflow("c", Important);
    long_imp
        .explanation
        .push_str(" It wraps silently in release builds.");
    long_imp.line_end = 50;
    let out = consolidate(&[short.clone(), long_sugg, long_imp.clone()]);
    assert_eq!(out.len(), 1);
    let c = &out[0];
    assert_eq!(c.severity, Important);
    assert_eq!(c.explanation, long_imp.explanation);
    // The representative has no fix: the longest other fix is used.
    assert_eq!(c.fix, "Use checked_add.");
    assert_eq!((c.line_start, c.line_end), (38, 50));
}

#[test]
fn result_does_not_depend_on_input_order() {
    let mut all: Vec<Finding> = pairs().into_iter().flat_map(|(a, b, _)| [a, b]).collect();
    all.push(overflow("c", Severity::Suggestion));
    let first = consolidate(&all);
    all.reverse();
    assert_eq!(consolidate(&all), first);
    all.rotate_left(5);
    assert_eq!(consolidate(&all), first);
    // Critical first, then important, then suggestions.
    let sevs: Vec<Severity> = first.iter().map(|c| c.severity).collect();
    let mut sorted = sevs.clone();
    sorted.sort();
    assert_eq!(sevs, sorted);
}

#[test]
fn one_reviewer_with_nothing_changes_nothing() {
    let out = consolidate(&[overflow("a", Severity::Important)]);
    assert_eq!(out[0].reviewers, vec!["a"]);
    assert!(consolidate(&[]).is_empty());
}

#[test]
fn verdict_follows_the_documented_rule() {
    use Severity::*;
    assert_eq!(decide(&[], 0, 2).verdict, Verdict::NoVerdict);
    assert_eq!(decide(&[], 2, 2).verdict, Verdict::MergeAsIs);
    let sugg = consolidate(&[overflow("a", Suggestion)]);
    assert_eq!(decide(&sugg, 1, 1).verdict, Verdict::MergeAsIs);
    let imp = consolidate(&[overflow("a", Important)]);
    let d = decide(&imp, 1, 1);
    assert_eq!(d.verdict, Verdict::MergeWithFixes);
    assert!(d.reason.contains("one important issue"), "{}", d.reason);
    let unconfirmed = consolidate(&[overflow("a", Critical)]);
    let d = decide(&unconfirmed, 2, 2);
    assert_eq!(d.verdict, Verdict::MergeWithFixes);
    assert!(d.reason.contains("unconfirmed critical"), "{}", d.reason);
    let confirmed = consolidate(&[overflow("a", Critical), overflow("b", Critical)]);
    let d = decide(&confirmed, 2, 2);
    assert_eq!(d.verdict, Verdict::Rework);
    assert!(
        d.reason.starts_with("one confirmed critical issue"),
        "{}",
        d.reason
    );
    // A verdict on fewer reviewers than configured says so.
    let d = decide(&imp, 1, 3);
    assert_eq!(d.verdict, Verdict::MergeWithFixes);
    assert!(d.reason.contains("2 of 3 reviewers failed"), "{}", d.reason);
}
