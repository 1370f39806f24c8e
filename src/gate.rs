//! The push gate: consolidated findings + policy → allow or block, and the
//! words that tell the developer why and how to get past it.
//!
//! Owner: gate (issue 5). The lead maps consolidated findings into the
//! minimal [`GateFinding`] view so this module does not depend on how
//! consolidation is represented.

use crate::findings::Severity;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// When a push is blocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatePolicy {
    /// `false` = never block (the hook still reviews nothing and allows).
    pub enabled: bool,
    /// Findings at this severity or more severe can block.
    pub block_on: Severity,
    /// How many reviewers must agree on a finding before it blocks; one
    /// small model's opinion alone is too noisy to stop a push.
    pub min_agreement: usize,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            enabled: true,
            block_on: Severity::Critical,
            min_agreement: 2,
        }
    }
}

impl GatePolicy {
    /// Whether one finding meets the blocking bar on its own.
    pub fn blocks(&self, finding: &GateFinding) -> bool {
        // `Severity` orders most severe first.
        self.enabled && finding.severity <= self.block_on && finding.agreement >= self.min_agreement
    }
}

/// What the gate needs to know about one consolidated finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateFinding {
    pub title: String,
    pub file: String,
    pub line: u32,
    pub severity: Severity,
    /// Number of distinct reviewers that reported it.
    pub agreement: usize,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateDecision {
    pub block: bool,
    /// The findings that met the policy (empty when allowed).
    pub blocking: Vec<GateFinding>,
    /// Findings at the blocking severity that lacked agreement: shown as a
    /// warning so they are not silently lost.
    pub warnings: Vec<GateFinding>,
    /// Human-readable explanation, ready to print on stderr.
    pub message: String,
}

/// Ways past the gate, printed whenever it blocks so nobody has to search.
pub const BYPASS_HELP: &str =
    "To push anyway: `git push --no-verify`, or `DEEP_REVIEW=skip git push`; \
to turn the gate off for this repository: `git config deep-review.gate off`.";

/// Applies `policy` to the findings of one review. `report` is where the
/// full report was written (named in the message when present).
pub fn evaluate(
    policy: &GatePolicy,
    findings: &[GateFinding],
    report: Option<&Path>,
) -> GateDecision {
    if !policy.enabled {
        return GateDecision {
            block: false,
            blocking: Vec::new(),
            warnings: Vec::new(),
            message: "deep-review: gate is off (deep-review.gate); push allowed.".to_string(),
        };
    }
    let mut blocking = Vec::new();
    let mut warnings = Vec::new();
    for f in findings {
        if policy.blocks(f) {
            blocking.push(f.clone());
        } else if f.severity <= policy.block_on {
            warnings.push(f.clone());
        }
    }
    let sort = |v: &mut Vec<GateFinding>| {
        v.sort_by(|a, b| {
            (a.severity, std::cmp::Reverse(a.agreement), &a.file, a.line).cmp(&(
                b.severity,
                std::cmp::Reverse(b.agreement),
                &b.file,
                b.line,
            ))
        })
    };
    sort(&mut blocking);
    sort(&mut warnings);

    let mut message = String::new();
    let bar = format!(
        "{} or worse, confirmed by at least {} reviewer{}",
        severity_name(policy.block_on),
        policy.min_agreement,
        if policy.min_agreement == 1 { "" } else { "s" }
    );
    if blocking.is_empty() {
        let _ = write!(message, "deep-review: no finding is {bar}; push allowed.");
    } else {
        let _ = writeln!(
            message,
            "deep-review: push blocked: {} finding{} {bar}:",
            blocking.len(),
            if blocking.len() == 1 { "" } else { "s" }
        );
        for f in &blocking {
            let _ = writeln!(message, "  {}", describe(f));
        }
    }
    if !warnings.is_empty() {
        let _ = write!(
            message,
            "\ndeep-review: warning: {} {} finding{} reported by too few reviewers to block:",
            warnings.len(),
            severity_name(policy.block_on),
            if warnings.len() == 1 { "" } else { "s" }
        );
        for f in &warnings {
            let _ = write!(message, "\n  {}", describe(f));
        }
    }
    if let Some(report) = report {
        let _ = write!(message, "\nFull report: {}", report.display());
    }
    if !blocking.is_empty() {
        let _ = write!(message, "\n{BYPASS_HELP}");
    }
    GateDecision {
        block: !blocking.is_empty(),
        blocking,
        warnings,
        message: message.trim_start_matches('\n').to_string(),
    }
}

fn describe(f: &GateFinding) -> String {
    format!(
        "[{}] {}:{} {} ({} reviewer{})",
        severity_name(f.severity),
        crate::findings::escape_control(&f.file),
        f.line,
        crate::findings::escape_control(&f.title),
        f.agreement,
        if f.agreement == 1 { "" } else { "s" }
    )
}

/// Lower-case name as used in the configuration (`critical`).
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Important => "important",
        Severity::Suggestion => "suggestion",
    }
}

/// Parses a severity as written in configuration or on the command line.
pub fn parse_severity(s: &str) -> Option<Severity> {
    match s.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "important" => Some(Severity::Important),
        "suggestion" => Some(Severity::Suggestion),
        _ => None,
    }
}
