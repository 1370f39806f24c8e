//! The gate: what a review found and what it could not do + the policy →
//! allow or block, and the words that tell the developer why and how to get
//! past it.
//!
//! The gate fails closed: a reviewer that failed is never counted as a
//! reviewer that found nothing, code nobody could review is named, and a
//! review cut short by its time budget is not a clean review. Each of these
//! has its own explicit policy ([`FaultPolicy`]).

use crate::check::consolidate::ConsolidatedFinding;
use crate::feedback::EarlierFinding;
use crate::verify::model::VerifyStatus;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

pub use crate::config::policy::{FailurePolicy, GatePolicy};

impl GatePolicy {
    /// Whether one finding meets the blocking bar when `ran` reviewers
    /// produced a review.
    pub fn blocks(&self, finding: &ConsolidatedFinding, ran: usize) -> bool {
        // `Severity` orders most severe first.
        self.enabled
            && finding.severity <= self.block_on
            && finding.agreement >= self.min_agreement.min(ran.max(1))
            && self.counts_verification(finding)
    }

    /// Whether the finding's verification lets it count: not verified
    /// (verification off) and confirmed count; refuted never; uncertain
    /// (the verifier could not tell, or failed) as `count_uncertain` says.
    pub fn counts_verification(&self, finding: &ConsolidatedFinding) -> bool {
        match finding.verification.as_ref().map(|v| v.status) {
            None | Some(VerifyStatus::Confirmed) => true,
            Some(VerifyStatus::Refuted) => false,
            Some(VerifyStatus::Uncertain) => self.count_uncertain,
        }
    }
}

/// The policies for a review that could not do all of its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct FaultPolicy {
    /// A reviewer failed (model missing, corrupt, unusable answers).
    pub reviewer_failure: FailurePolicy,
    /// Part of the diff could not be put in front of any model.
    pub unreviewable: FailurePolicy,
    /// The time budget ran out before every chunk was reviewed.
    pub timeout: FailurePolicy,
}

/// Everything the gate needs to know about one review, as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewFacts {
    pub findings: Vec<ConsolidatedFinding>,
    /// Reviewers configured for the run.
    pub reviewers: usize,
    /// Reviewers that produced a usable review of at least one chunk.
    pub reviewers_ran: usize,
    /// `(reviewer, why)` for each reviewer that failed.
    pub failed: Vec<(String, String)>,
    /// `(path, why)` for diff parts no model could be given.
    pub unreviewable: Vec<(String, String)>,
    /// `(path, why)` for parts left unreviewed by the time budget or Ctrl-C.
    pub not_reviewed: Vec<(String, String)>,
    /// Where the full report was written.
    pub report: Option<PathBuf>,
    /// Earlier reviews' findings whose code is still there and that this
    /// review did not raise again (those are among `findings`).
    pub unresolved: Vec<EarlierFinding>,
    /// Findings the verifier refuted (never counted; named so nobody
    /// wonders where they went).
    pub refuted: Vec<ConsolidatedFinding>,
    /// What the repository's own configuration did to this review (see
    /// `ReviewReport::configuration`), said with the decision.
    pub configuration: Vec<String>,
    /// Every reviewer that ran is a bundled demonstration model: whatever
    /// the gate decides, the message must not read as a review.
    pub demonstration_only: bool,
}

/// Where the gate speaks: in the pre-push hook, or for `--gate` by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Push,
    Manual,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateDecision {
    pub block: bool,
    /// The findings that met the policy.
    pub blocking: Vec<ConsolidatedFinding>,
    /// Findings at the blocking severity that lacked agreement: shown as a
    /// warning so they are not silently lost.
    pub warnings: Vec<ConsolidatedFinding>,
    /// Human-readable explanation, ready to print on stderr.
    pub message: String,
}

/// Ways past the gate, printed whenever a push is blocked so nobody has to
/// search.
pub const BYPASS_HELP: &str =
    "To push anyway: `git push --no-verify`, or `DEEP_REVIEW=skip git push`; \
to turn the gate off for this repository: `git config deep-review.gate off`.";

/// Applies the policies to the facts of one review.
pub fn evaluate(
    policy: &GatePolicy,
    faults: &FaultPolicy,
    facts: &ReviewFacts,
    context: Context,
) -> GateDecision {
    let (allowed, blocked) = match context {
        Context::Push => ("push allowed", "push blocked"),
        Context::Manual => ("the gate allows", "the gate blocks"),
    };
    if !policy.enabled {
        return GateDecision {
            block: false,
            blocking: Vec::new(),
            warnings: Vec::new(),
            message: format!("deep-review: gate is off (deep-review.gate); {allowed}."),
        };
    }
    let ran = facts.reviewers_ran;
    let mut blocking = Vec::new();
    let mut warnings = Vec::new();
    let mut uncounted = Vec::new();
    for f in &facts.findings {
        if policy.blocks(f, ran) {
            blocking.push(f.clone());
        } else if f.severity <= policy.block_on && !policy.counts_verification(f) {
            uncounted.push(f.clone());
        } else if f.severity <= policy.block_on {
            warnings.push(f.clone());
        }
    }
    let sort = |v: &mut Vec<ConsolidatedFinding>| {
        v.sort_by(|a, b| {
            (
                a.severity,
                std::cmp::Reverse(a.agreement),
                &a.file,
                a.line_start,
            )
                .cmp(&(
                    b.severity,
                    std::cmp::Reverse(b.agreement),
                    &b.file,
                    b.line_start,
                ))
        })
    };
    sort(&mut blocking);
    sort(&mut warnings);

    // Each reason to block, or to warn, in the order a reader needs them.
    let mut reasons: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let need = policy.min_agreement.min(ran.max(1));
    let bar = format!(
        "{} or worse, confirmed by at least {need} reviewer{}{}",
        policy.block_on.as_str(),
        if need == 1 { "" } else { "s" },
        if need < policy.min_agreement {
            format!(" (of the {ran} that ran)")
        } else {
            String::new()
        }
    );
    if !blocking.is_empty() {
        let mut s = format!(
            "{} finding{} {bar}:",
            blocking.len(),
            if blocking.len() == 1 { "" } else { "s" }
        );
        for f in &blocking {
            let _ = write!(s, "\n  {}", describe(f));
        }
        reasons.push(s);
    }
    // Earlier findings still in the code: counted only when the policy
    // says so, named either way so they are not lost between runs.
    let earlier: Vec<&EarlierFinding> = facts
        .unresolved
        .iter()
        .filter(|e| e.severity <= policy.block_on && e.agreement >= need)
        .collect();
    if !earlier.is_empty() {
        let mut s = format!(
            "{} finding{} {bar}, raised by an earlier review of this change and still in the code:",
            earlier.len(),
            if earlier.len() == 1 { "" } else { "s" }
        );
        for e in &earlier {
            let _ = write!(
                s,
                "\n  [{}] {}:{} {} (raised {})",
                e.severity.as_str(),
                crate::text::escape_control(&e.file),
                e.line_start,
                crate::text::escape_control(&e.title),
                crate::text::escape_control(&e.date)
            );
        }
        if policy.count_unresolved {
            reasons.push(format!("{s}\n  (policy: gate.count_unresolved = true)"));
        } else {
            notes.push(format!(
                "{s}\n  (not counted: gate.count_unresolved / deep-review.countUnresolved = false)"
            ));
        }
    }
    let mut fault = |policy: FailurePolicy, what: String, key: &str| match policy {
        FailurePolicy::Block => reasons.push(format!("{what}\n  (policy: {key} = \"block\")")),
        FailurePolicy::Allow => notes.push(format!("{what}\n  (policy: {key} = \"allow\")")),
    };
    if !facts.failed.is_empty() {
        let mut s = format!(
            "{} of {} reviewer{} failed, so {} not reviewed by {}:",
            facts.failed.len(),
            facts.reviewers,
            if facts.reviewers == 1 { "" } else { "s" },
            if facts.failed.len() == facts.reviewers {
                "the change was"
            } else {
                "parts of the change were"
            },
            if facts.failed.len() == 1 {
                "it"
            } else {
                "them"
            },
        );
        for (name, why) in &facts.failed {
            let _ = write!(s, "\n  {name}: {}", first_line(why));
        }
        fault(
            faults.reviewer_failure,
            s,
            "gate.on_reviewer_failure / deep-review.onReviewerFailure",
        );
    }
    if !facts.unreviewable.is_empty() {
        let mut s = format!(
            "{} part{} of the diff could not be reviewed:",
            facts.unreviewable.len(),
            if facts.unreviewable.len() == 1 {
                ""
            } else {
                "s"
            }
        );
        for (path, why) in &facts.unreviewable {
            let _ = write!(s, "\n  {path}: {why}");
        }
        fault(
            faults.unreviewable,
            s,
            "gate.unreviewable / deep-review.unreviewable",
        );
    }
    if !facts.not_reviewed.is_empty() {
        let mut s = String::from("the review stopped before it was done; not reviewed:");
        for (path, why) in &facts.not_reviewed {
            let _ = write!(s, "\n  {path} ({why})");
        }
        fault(
            faults.timeout,
            s,
            "review.on_timeout / deep-review.onTimeout",
        );
    }

    let mut message = String::new();
    if facts.demonstration_only {
        let _ = writeln!(
            message,
            "deep-review: {}: every reviewer ran on a bundled demonstration model, far too \
             small to review code; its silence means nothing. {}.",
            crate::check::verdict::DEMONSTRATION_LABEL,
            crate::check::verdict::DEMONSTRATION_HINT
        );
    }
    if reasons.is_empty() {
        let _ = write!(message, "deep-review: no finding is {bar}; {allowed}.");
    } else {
        let _ = write!(message, "deep-review: {blocked}:");
        for r in &reasons {
            let _ = write!(message, "\n- {r}");
        }
    }
    for n in &notes {
        let _ = write!(message, "\ndeep-review: warning: {n}");
    }
    if !warnings.is_empty() {
        let _ = write!(
            message,
            "\ndeep-review: warning: {} {} finding{} reported by too few reviewers to block:",
            warnings.len(),
            policy.block_on.as_str(),
            if warnings.len() == 1 { "" } else { "s" }
        );
        for f in &warnings {
            let _ = write!(message, "\n  {}", describe(f));
        }
    }
    if !uncounted.is_empty() {
        let _ = write!(
            message,
            "\ndeep-review: warning: {} {} finding{} the verifier could not confirm, not counted \
             (gate.count_uncertain / deep-review.countUncertain = false):",
            uncounted.len(),
            policy.block_on.as_str(),
            if uncounted.len() == 1 { "" } else { "s" }
        );
        for f in &uncounted {
            let _ = write!(message, "\n  {}", describe(f));
        }
    }
    let refuted: Vec<&ConsolidatedFinding> = facts
        .refuted
        .iter()
        .filter(|f| f.severity <= policy.block_on)
        .collect();
    if !refuted.is_empty() {
        let _ = write!(
            message,
            "\ndeep-review: {} {} finding{} refuted on verification, not counted (the report lists {}):",
            refuted.len(),
            policy.block_on.as_str(),
            if refuted.len() == 1 { "" } else { "s" },
            if refuted.len() == 1 { "it" } else { "them" }
        );
        for f in refuted {
            let _ = write!(message, "\n  {}", describe(f));
        }
    }
    warnings.extend(uncounted);
    for c in &facts.configuration {
        let _ = write!(
            message,
            "\ndeep-review: note: {}",
            crate::text::escape_control(c)
        );
    }
    if let Some(report) = &facts.report {
        // A file or branch name can carry a newline or an escape sequence.
        let shown = crate::text::escape_control(&report.to_string_lossy()).into_owned();
        let _ = write!(message, "\nFull report: {shown}");
    }
    if !reasons.is_empty() && context == Context::Push {
        let _ = write!(message, "\n{BYPASS_HELP}");
    }
    GateDecision {
        block: !reasons.is_empty(),
        blocking,
        warnings,
        message,
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn describe(f: &ConsolidatedFinding) -> String {
    let verified = match &f.verification {
        None => String::new(),
        Some(v) if v.failed.is_some() => "; verification failed".to_string(),
        Some(v) => format!(
            "; {} by {}: {}",
            v.status.as_str(),
            crate::text::escape_control(&v.model),
            crate::text::escape_control(&v.reason)
        ),
    };
    format!(
        "[{}] {}:{} {} ({} reviewer{}{verified})",
        f.severity.as_str(),
        crate::text::escape_control(&f.file),
        f.line_start,
        crate::text::escape_control(&f.title),
        f.agreement,
        if f.agreement == 1 { "" } else { "s" }
    )
}
