//! Gate policy: which consolidated findings block a push, and what the
//! developer is told.

use git_deep_review::findings::Severity;
use git_deep_review::gate::{evaluate, parse_severity, GateFinding, GatePolicy};
use std::path::Path;

fn finding(title: &str, severity: Severity, agreement: usize) -> GateFinding {
    GateFinding {
        title: title.to_string(),
        file: "src/lib.rs".to_string(),
        line: 42,
        severity,
        agreement,
    }
}

#[test]
fn default_policy_blocks_only_confirmed_critical() {
    let policy = GatePolicy::default();
    let findings = [
        finding("use after free", Severity::Critical, 2),
        finding("lonely critical", Severity::Critical, 1),
        finding("important but agreed", Severity::Important, 3),
    ];
    let d = evaluate(&policy, &findings, Some(Path::new("/tmp/report.md")));
    assert!(d.block);
    assert_eq!(d.blocking.len(), 1);
    assert_eq!(d.blocking[0].title, "use after free");
    // The critical finding lacking agreement is a warning, the important one is not shown.
    assert_eq!(d.warnings.len(), 1);
    assert_eq!(d.warnings[0].title, "lonely critical");
    assert!(d.message.contains("use after free"), "{}", d.message);
    assert!(d.message.contains("src/lib.rs:42"), "{}", d.message);
    assert!(d.message.contains("/tmp/report.md"), "{}", d.message);
    assert!(d.message.contains("git push --no-verify"), "{}", d.message);
    assert!(
        d.message.contains("DEEP_REVIEW=skip git push"),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("git config deep-review.gate off"),
        "{}",
        d.message
    );
    assert!(!d.message.contains("important but agreed"), "{}", d.message);
}

#[test]
fn nothing_blocking_allows_without_bypass_help() {
    let d = evaluate(
        &GatePolicy::default(),
        &[finding("minor", Severity::Suggestion, 3)],
        None,
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
    };
    let findings = [
        finding("a", Severity::Important, 1),
        finding("b", Severity::Critical, 1),
        finding("c", Severity::Suggestion, 5),
    ];
    let d = evaluate(&policy, &findings, None);
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
    assert!(!evaluate(&policy, &[finding("x", Severity::Critical, 2)], None).block);
    assert!(evaluate(&policy, &[finding("x", Severity::Critical, 3)], None).block);
}

#[test]
fn disabled_gate_never_blocks() {
    let policy = GatePolicy {
        enabled: false,
        ..GatePolicy::default()
    };
    let d = evaluate(&policy, &[finding("x", Severity::Critical, 9)], None);
    assert!(!d.block);
    assert!(d.message.contains("gate is off"), "{}", d.message);
}

#[test]
fn severity_names_parse_case_insensitively() {
    assert_eq!(parse_severity("Critical"), Some(Severity::Critical));
    assert_eq!(parse_severity(" important "), Some(Severity::Important));
    assert_eq!(parse_severity("suggestion"), Some(Severity::Suggestion));
    assert_eq!(parse_severity("blocker"), None);
}
