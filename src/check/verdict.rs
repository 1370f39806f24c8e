//! Stage 8: consolidated findings → a verdict with a one-line reason.
//!
//! The rule, in order:
//!
//! 1. No reviewer produced a usable review → **No verdict** (saying
//!    "Merge as-is" about code nobody reviewed would be a lie).
//! 2. A *confirmed* critical (≥ 2 reviewers called it critical) → **Rework**.
//! 3. Any important finding, or only unconfirmed criticals → **Merge with fixes**.
//! 4. Otherwise (suggestions or nothing) → **Merge as-is**.

use crate::check::consolidate::ConsolidatedFinding;
use crate::check::findings::Severity;
use serde::{Deserialize, Serialize};

/// The verdict of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    MergeAsIs,
    MergeWithFixes,
    Rework,
    /// Every reviewer failed; there is nothing to base a verdict on.
    NoVerdict,
}

impl Verdict {
    /// The words shown in the report (`Merge with fixes`).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::MergeAsIs => "Merge as-is",
            Verdict::MergeWithFixes => "Merge with fixes",
            Verdict::Rework => "Rework",
            Verdict::NoVerdict => "No verdict",
        }
    }
}

/// A verdict and the one-line reason for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictDecision {
    pub verdict: Verdict,
    pub reason: String,
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("one {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Applies the rule of the module docs. `reviewers_ok` is the number of
/// reviewers that produced a usable review for at least one chunk, of
/// `reviewers` configured; a verdict on fewer reviewers than configured
/// says so in its reason.
pub fn decide(
    findings: &[ConsolidatedFinding],
    reviewers_ok: usize,
    reviewers: usize,
) -> VerdictDecision {
    if reviewers_ok == 0 {
        return VerdictDecision {
            verdict: Verdict::NoVerdict,
            reason: "every reviewer failed, so nothing was reviewed".to_string(),
        };
    }
    let mut d = decide_on(findings);
    if reviewers_ok < reviewers {
        let failed = reviewers - reviewers_ok;
        d.reason.push_str(&format!(
            " ({failed} of {reviewers} reviewers failed: this verdict rests on {reviewers_ok})"
        ));
    }
    d
}

/// What the verdict says when every reviewer that ran is a bundled
/// demonstration model: the label (so the exit code and the gate) is
/// unchanged, but the reason says plainly that this was no review, and how
/// to get one. "Merge as-is" from a 135M model is not evidence of anything.
pub fn demonstration_only(mut d: VerdictDecision, findings: usize) -> VerdictDecision {
    let head = if findings == 0 {
        "No findings from demonstration models: this is not a review"
    } else {
        "Findings from demonstration models only: this is not a review"
    };
    d.reason = format!("{head} ({}). {DEMONSTRATION_HINT}", d.reason);
    d
}

/// What the verdict row says in place of the verdict's label when every
/// reviewer that ran is a demonstration model (report, summary, hook).
pub const DEMONSTRATION_LABEL: &str = "Not a review: demonstration models only";

/// How to leave demonstration models behind (verdict, summary, `models`).
pub const DEMONSTRATION_HINT: &str = "Bring a capable model: git deep-review init";

fn decide_on(findings: &[ConsolidatedFinding]) -> VerdictDecision {
    let confirmed: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Critical && !f.unconfirmed)
        .collect();
    let unconfirmed = findings
        .iter()
        .filter(|f| f.severity == Severity::Critical && f.unconfirmed)
        .count();
    let important: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Important)
        .collect();
    if let Some(first) = confirmed.first() {
        return VerdictDecision {
            verdict: Verdict::Rework,
            reason: format!(
                "{} (rated critical by at least two reviewers), e.g. {}",
                plural(confirmed.len(), "confirmed critical issue"),
                first.title
            ),
        };
    }
    if !important.is_empty() || unconfirmed > 0 {
        let mut parts = Vec::new();
        if !important.is_empty() {
            parts.push(plural(important.len(), "important issue"));
        }
        if unconfirmed > 0 {
            parts.push(plural(unconfirmed, "unconfirmed critical issue"));
        }
        let example = findings
            .iter()
            .find(|f| f.severity <= Severity::Important)
            .map(|f| format!(", e.g. {}", f.title))
            .unwrap_or_default();
        return VerdictDecision {
            verdict: Verdict::MergeWithFixes,
            reason: format!("{}{example}", parts.join(" and ")),
        };
    }
    let reason = if findings.is_empty() {
        "no grounded findings".to_string()
    } else {
        format!(
            "no critical or important issues; {}",
            plural(findings.len(), "suggestion")
        )
    };
    VerdictDecision {
        verdict: Verdict::MergeAsIs,
        reason,
    }
}
