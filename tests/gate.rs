//! Gate policy: which consolidated findings block a push, how a review that
//! could not do all its work is judged (fail closed), and what the
//! developer is told.

use git_deep_review::check::consolidate::ConsolidatedFinding;
use git_deep_review::check::findings::{Issue, Kind, Severity};
use git_deep_review::gate::{
    evaluate, Context, FailurePolicy, FaultPolicy, GatePolicy, ReviewFacts,
};
use git_deep_review::severity::parse_severity;
use git_deep_review::verify::model::{Verification, VerifyStatus};
use std::path::PathBuf;

fn finding(title: &str, severity: Severity, agreement: usize) -> ConsolidatedFinding {
    ConsolidatedFinding {
        issue: Issue {
            severity,
            kind: Kind::Regression,
            file: "src/lib.rs".to_string(),
            line_start: 42,
            line_end: 42,
            title: title.to_string(),
            explanation: String::new(),
            fix: String::new(),
            quote: String::new(),
            cause: None,
        },
        unconfirmed: severity == Severity::Critical && agreement < 2,
        reviewers: (0..agreement).map(|i| format!("r{i}")).collect(),
        agreement,
        members: Vec::new(),
        verification: None,
    }
}

/// A review by three reviewers that all ran, with these findings.
fn facts(findings: Vec<ConsolidatedFinding>) -> ReviewFacts {
    ReviewFacts {
        findings,
        reviewers: 3,
        reviewers_ran: 3,
        ..Default::default()
    }
}

fn push(policy: &GatePolicy, facts: &ReviewFacts) -> git_deep_review::gate::GateDecision {
    evaluate(policy, &FaultPolicy::default(), facts, Context::Push)
}

#[test]
fn default_policy_blocks_only_confirmed_critical() {
    let mut f = facts(vec![
        finding("use after free", Severity::Critical, 2),
        finding("lonely critical", Severity::Critical, 1),
        finding("important but agreed", Severity::Important, 3),
    ]);
    f.report = Some(PathBuf::from("/tmp/report.md"));
    let d = push(&GatePolicy::default(), &f);
    assert!(d.block);
    assert_eq!(d.blocking.len(), 1);
    assert_eq!(d.blocking[0].title, "use after free");
    // The critical finding lacking agreement is a warning, the important one is not shown.
    assert_eq!(d.warnings.len(), 1);
    assert_eq!(d.warnings[0].title, "lonely critical");
    for needle in [
        "use after free",
        "src/lib.rs:42",
        "/tmp/report.md",
        "git push --no-verify",
        "DEEP_REVIEW=skip git push",
        "git config deep-review.gate off",
    ] {
        assert!(d.message.contains(needle), "{needle}: {}", d.message);
    }
    assert!(!d.message.contains("important but agreed"), "{}", d.message);
}

#[test]
fn nothing_blocking_allows_without_bypass_help() {
    let d = push(
        &GatePolicy::default(),
        &facts(vec![finding("minor", Severity::Suggestion, 3)]),
    );
    assert!(!d.block);
    assert!(d.blocking.is_empty());
    assert!(d.message.contains("push allowed"), "{}", d.message);
    assert!(!d.message.contains("--no-verify"), "{}", d.message);
}

#[test]
fn block_on_important_includes_critical_and_respects_agreement() {
    let policy = GatePolicy {
        enabled: true,
        block_on: Severity::Important,
        min_agreement: 1,
        ..GatePolicy::default()
    };
    let d = push(
        &policy,
        &facts(vec![
            finding("a", Severity::Important, 1),
            finding("b", Severity::Critical, 1),
            finding("c", Severity::Suggestion, 5),
        ]),
    );
    assert!(d.block);
    // Most severe first.
    let titles: Vec<_> = d.blocking.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(titles, ["b", "a"]);
}

#[test]
fn min_agreement_threshold_is_inclusive() {
    let policy = GatePolicy {
        min_agreement: 3,
        ..GatePolicy::default()
    };
    assert!(!push(&policy, &facts(vec![finding("x", Severity::Critical, 2)])).block);
    assert!(push(&policy, &facts(vec![finding("x", Severity::Critical, 3)])).block);
}

#[test]
fn disabled_gate_never_blocks() {
    let policy = GatePolicy {
        enabled: false,
        ..GatePolicy::default()
    };
    let mut f = facts(vec![finding("x", Severity::Critical, 9)]);
    f.failed = vec![("r1".into(), "model missing".into())];
    let d = push(&policy, &f);
    assert!(!d.block);
    assert!(d.message.contains("gate is off"), "{}", d.message);
}

#[test]
fn a_failed_reviewer_blocks_by_default_and_is_named_with_its_reason() {
    let f = ReviewFacts {
        reviewers: 3,
        reviewers_ran: 2,
        failed: vec![(
            "robustness".into(),
            "model gemma3-270m: sha256 mismatch".into(),
        )],
        ..Default::default()
    };
    let d = push(&GatePolicy::default(), &f);
    assert!(d.block, "{}", d.message);
    for needle in [
        "robustness",
        "sha256 mismatch",
        "1 of 3 reviewers failed",
        "on_reviewer_failure",
        "git push --no-verify",
    ] {
        assert!(d.message.contains(needle), "{needle}: {}", d.message);
    }
    // With the policy set to allow, the same facts warn and pass.
    let allow = FaultPolicy {
        reviewer_failure: FailurePolicy::Allow,
        ..FaultPolicy::default()
    };
    let d = evaluate(&GatePolicy::default(), &allow, &f, Context::Push);
    assert!(!d.block, "{}", d.message);
    assert!(d.message.contains("warning") && d.message.contains("robustness"));
}

#[test]
fn every_reviewer_failing_is_never_a_clean_review() {
    let f = ReviewFacts {
        reviewers: 2,
        reviewers_ran: 0,
        failed: vec![
            ("a".into(), "chunk 0: unusable output".into()),
            ("b".into(), "model missing".into()),
        ],
        ..Default::default()
    };
    let d = push(&GatePolicy::default(), &f);
    assert!(d.block);
    assert!(
        d.message.contains("the change was not reviewed"),
        "{}",
        d.message
    );
}

#[test]
fn agreement_is_counted_over_the_reviewers_that_ran() {
    // Two of three failed; the one left calls it critical. With failures
    // allowed, its finding alone meets min_agreement = 2 "of those that ran".
    let allow = FaultPolicy {
        reviewer_failure: FailurePolicy::Allow,
        ..FaultPolicy::default()
    };
    let f = ReviewFacts {
        findings: vec![finding("sql injection", Severity::Critical, 1)],
        reviewers: 3,
        reviewers_ran: 1,
        failed: vec![("b".into(), "x".into()), ("c".into(), "y".into())],
        ..Default::default()
    };
    let d = evaluate(&GatePolicy::default(), &allow, &f, Context::Push);
    assert!(d.block, "{}", d.message);
    assert_eq!(d.blocking.len(), 1);
    assert!(d.message.contains("of the 1 that ran"), "{}", d.message);
    // With all three running, one voice is still not enough.
    let d = push(
        &GatePolicy::default(),
        &facts(vec![finding("sql injection", Severity::Critical, 1)]),
    );
    assert!(!d.block);
}

#[test]
fn unreviewable_code_is_named_and_the_policy_decides() {
    let f = ReviewFacts {
        reviewers: 3,
        reviewers_ran: 3,
        unreviewable: vec![("gen/huge.py".into(), "a hunk larger than any chunk".into())],
        ..Default::default()
    };
    let d = push(&GatePolicy::default(), &f);
    assert!(d.block);
    assert!(d.message.contains("gen/huge.py"), "{}", d.message);
    let allow = FaultPolicy {
        unreviewable: FailurePolicy::Allow,
        ..FaultPolicy::default()
    };
    let d = evaluate(&GatePolicy::default(), &allow, &f, Context::Push);
    assert!(!d.block);
    assert!(d.message.contains("gen/huge.py"), "{}", d.message);
}

#[test]
fn a_review_cut_short_follows_the_timeout_policy() {
    let f = ReviewFacts {
        reviewers: 1,
        reviewers_ran: 1,
        not_reviewed: vec![("src/b.rs".into(), "the time budget (5 s) ran out".into())],
        ..Default::default()
    };
    let block = push(&GatePolicy::default(), &f);
    assert!(block.block && block.message.contains("src/b.rs"));
    let allow = FaultPolicy {
        timeout: FailurePolicy::Allow,
        ..FaultPolicy::default()
    };
    let d = evaluate(&GatePolicy::default(), &allow, &f, Context::Manual);
    assert!(!d.block);
    assert!(d.message.contains("src/b.rs"), "{}", d.message);
}

#[test]
fn outside_a_push_the_gate_does_not_talk_about_pushing() {
    let d = evaluate(
        &GatePolicy::default(),
        &FaultPolicy::default(),
        &facts(vec![finding("x", Severity::Critical, 3)]),
        Context::Manual,
    );
    assert!(d.block);
    assert!(d.message.contains("the gate blocks"), "{}", d.message);
    assert!(!d.message.contains("push"), "{}", d.message);
}

#[test]
fn severity_names_parse_case_insensitively() {
    assert_eq!(parse_severity("Critical"), Some(Severity::Critical));
    assert_eq!(parse_severity(" important "), Some(Severity::Important));
    assert_eq!(parse_severity("suggestion"), Some(Severity::Suggestion));
    assert_eq!(parse_severity("blocker"), None);
}

fn earlier(severity: Severity, agreement: usize) -> git_deep_review::feedback::EarlierFinding {
    git_deep_review::feedback::EarlierFinding {
        report: "20260101-120000-feature".into(),
        date: "2026-01-01 12:00".into(),
        severity,
        title: "divides by zero".into(),
        reviewers: vec!["a".into(), "b".into()],
        agreement,
        file: "src/stats.py".into(),
        line_start: 7,
        line_end: 7,
        original_file: "src/stats.py".into(),
        original_line: 5,
        raised_again: false,
    }
}

#[test]
fn earlier_unresolved_findings_are_named_and_count_only_when_the_policy_says() {
    let mut f = facts(Vec::new());
    f.unresolved = vec![
        earlier(Severity::Critical, 2),
        earlier(Severity::Suggestion, 3),
    ];
    let d = push(&GatePolicy::default(), &f);
    assert!(!d.block, "{}", d.message);
    assert!(
        d.message.contains("1 finding critical or worse"),
        "{}",
        d.message
    );
    assert!(
        d.message
            .contains("src/stats.py:7 divides by zero (raised 2026-01-01 12:00)"),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("not counted: gate.count_unresolved"),
        "{}",
        d.message
    );
    let counting = GatePolicy {
        count_unresolved: true,
        ..GatePolicy::default()
    };
    let d = push(&counting, &f);
    assert!(d.block, "{}", d.message);
    assert!(
        d.message.contains("(policy: gate.count_unresolved = true)"),
        "{}",
        d.message
    );
    // Below the blocking bar (severity or agreement) it is not named at all.
    f.unresolved = vec![
        earlier(Severity::Critical, 1),
        earlier(Severity::Important, 3),
    ];
    let d = push(&counting, &f);
    assert!(!d.block, "{}", d.message);
    assert!(!d.message.contains("earlier review"), "{}", d.message);
}

fn verified(mut f: ConsolidatedFinding, status: VerifyStatus, failed: bool) -> ConsolidatedFinding {
    f.verification = Some(Verification {
        status,
        reason: format!("the verifier says {}", status.as_str()),
        model: "checker".into(),
        votes: Vec::new(),
        failed: failed.then(|| "timed out".to_string()),
    });
    f
}

#[test]
fn verification_decides_which_agreed_findings_count() {
    use VerifyStatus::*;
    let f = facts(vec![
        verified(
            finding("confirmed one", Severity::Critical, 2),
            Confirmed,
            false,
        ),
        verified(
            finding("unsure one", Severity::Critical, 2),
            Uncertain,
            false,
        ),
        verified(
            finding("failed check", Severity::Critical, 2),
            Uncertain,
            true,
        ),
        finding("never verified", Severity::Critical, 2),
    ]);
    let d = push(&GatePolicy::default(), &f);
    let titles = |v: &[ConsolidatedFinding]| v.iter().map(|f| f.title.clone()).collect::<Vec<_>>();
    assert!(d.block);
    assert_eq!(
        titles(&d.blocking).len(),
        4,
        "uncertain counts by default: {}",
        d.message
    );
    assert!(
        d.message
            .contains("confirmed by checker: the verifier says confirmed"),
        "{}",
        d.message
    );
    assert!(
        d.message
            .contains("failed check (2 reviewers; verification failed)"),
        "{}",
        d.message
    );

    let lenient = GatePolicy {
        count_uncertain: false,
        ..GatePolicy::default()
    };
    let d = push(&lenient, &f);
    let mut blocking = titles(&d.blocking);
    blocking.sort();
    assert_eq!(blocking, ["confirmed one", "never verified"]);
    let mut warned = titles(&d.warnings);
    warned.sort();
    assert_eq!(warned, ["failed check", "unsure one"]);
    assert!(
        d.message.contains("could not confirm, not counted"),
        "{}",
        d.message
    );

    // Refuted findings are never counted, and are named.
    let mut only_refuted = facts(Vec::new());
    only_refuted.refuted = vec![verified(
        finding("wrong claim", Severity::Critical, 3),
        Refuted,
        false,
    )];
    let d = push(&GatePolicy::default(), &only_refuted);
    assert!(!d.block, "{}", d.message);
    assert!(
        d.message
            .contains("1 critical finding refuted on verification"),
        "{}",
        d.message
    );
    assert!(d.message.contains("wrong claim"), "{}", d.message);
    assert!(!GatePolicy::default().blocks(&only_refuted.refuted[0], 3));
}
