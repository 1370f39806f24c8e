//! Stages 5–8 on plain data: each reviewer's raw answers → validated
//! findings → grounded against the code → consolidated across reviewers →
//! a verdict. Nothing here runs a model or renders text.

pub mod consolidate;
pub mod findings;
pub mod grounding;
pub mod verdict;

use crate::check::consolidate::{consolidate, ConsolidatedFinding};
use crate::check::findings::{parse_review, Finding, Rejected};
use crate::check::grounding::{ground_with_context, hunk_ranges};
use crate::check::verdict::{decide, VerdictDecision};
use crate::plan::ReviewPlan;
use crate::review::reviewers::ReviewerRun;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Grounding status of a finding in the appendix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum FindingStatus {
    Grounded,
    Ungrounded { reason: String },
}

/// A validated finding with its grounding status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedFinding {
    pub finding: Finding,
    #[serde(flatten)]
    pub status: FindingStatus,
}

/// What the checks made of one reviewer's run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedReviewer {
    /// The run, with chunks sorted and unusable answers marked as errors.
    pub run: ReviewerRun,
    /// Every validated finding in the order the reviewer wrote it.
    pub listed: Vec<ListedFinding>,
    pub grounded: Vec<Finding>,
    pub rejected: Vec<Rejected>,
    /// Findings beyond the per-review limit, dropped unread.
    pub dropped_over_limit: usize,
    /// Chunks whose answer was produced and usable.
    pub ok_chunks: usize,
    /// Chunks whose answer the token budget cut short (completed findings kept).
    pub cut_short_chunks: usize,
}

impl CheckedReviewer {
    /// Findings that pointed outside the diff or quoted absent code.
    pub fn ungrounded(&self) -> usize {
        self.listed.len() - self.grounded.len()
    }

    /// Why this reviewer (or some of its chunks) failed, if it did.
    pub fn error(&self) -> Option<String> {
        let chunk_errors: Vec<String> = self
            .run
            .chunks
            .iter()
            .filter_map(|c| c.error.as_ref().map(|e| format!("chunk {}: {e}", c.chunk)))
            .collect();
        self.run
            .error
            .clone()
            .or_else(|| (!chunk_errors.is_empty()).then(|| chunk_errors.join("; ")))
    }

    /// The reviewer produced a usable review of at least one chunk.
    pub fn ran(&self) -> bool {
        self.run.error.is_none() && self.ok_chunks > 0
    }
}

/// Everything stages 5–8 decided (and the verify stage, when it ran).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub reviewers: Vec<CheckedReviewer>,
    pub consolidated: Vec<ConsolidatedFinding>,
    pub verdict: VerdictDecision,
    /// Findings the verifier refuted (no longer among `consolidated`).
    pub refuted: Vec<ConsolidatedFinding>,
    /// The verify stage, when it ran or was skipped (`None`: off).
    pub verification: Option<crate::verify::model::VerificationSummary>,
}

impl Checked {
    /// Takes the verify stage's outcome: refuted findings leave the
    /// findings, and the verdict is decided again on what is left.
    pub fn apply_verification(&mut self, v: crate::verify::Verified) {
        self.consolidated = v.kept;
        self.refuted = v.refuted;
        self.verification = Some(v.summary);
        self.verdict = verdict_of(&self.reviewers, &self.consolidated);
    }
}

/// The verdict on `consolidated` given which reviewers ran (a review by
/// demonstration models alone says so).
fn verdict_of(
    reviewers: &[CheckedReviewer],
    consolidated: &[ConsolidatedFinding],
) -> VerdictDecision {
    let ran = reviewers.iter().filter(|r| r.ran()).count();
    let verdict = decide(consolidated, ran, reviewers.len());
    let demo = reviewers
        .iter()
        .filter(|r| r.ran())
        .all(|r| r.run.info.demonstration);
    if ran > 0 && demo {
        crate::check::verdict::demonstration_only(verdict, consolidated.len())
    } else {
        verdict
    }
}

/// Each chunk's files with their reviewed new-side lines, for path
/// resolution in [`parse_review`].
fn chunk_files(plan: &ReviewPlan) -> HashMap<usize, Vec<(String, Vec<u32>)>> {
    plan.chunks
        .iter()
        .map(|c| (c.index, crate::plan::chunk_new_lines(plan, c)))
        .collect()
}

/// Validates, grounds and consolidates every reviewer's answers and decides
/// the verdict. `contents` is the text of each reviewed file at the head
/// (quotes are checked against it, never against model text).
pub fn check(
    plan: &ReviewPlan,
    contents: &HashMap<String, String>,
    runs: Vec<ReviewerRun>,
) -> Checked {
    check_with_context(plan, &HashMap::new(), contents, runs)
}

/// [`check`] for a review whose chunks were shown read-only context
/// (`shown`: ranges by chunk and path; see
/// [`grounding::ground_with_context`]). `contents` holds the context
/// files' text too.
pub fn check_with_context(
    plan: &ReviewPlan,
    shown: &grounding::Shown,
    contents: &HashMap<String, String>,
    runs: Vec<ReviewerRun>,
) -> Checked {
    let per_chunk = chunk_files(plan);
    let hunks = hunk_ranges(plan);
    let mut reviewers = Vec::with_capacity(runs.len());
    let mut all_grounded: Vec<Finding> = Vec::new();
    for mut run in runs {
        let name = run.info.name.clone();
        run.chunks.sort_by_key(|c| c.chunk);
        let mut findings = Vec::new();
        let mut checked = CheckedReviewer::default();
        for c in &mut run.chunks {
            if c.error.is_some() {
                continue;
            }
            let files = per_chunk.get(&c.chunk).map(Vec::as_slice).unwrap_or(&[]);
            match parse_review(&name, c.chunk, &c.raw, files) {
                Ok(p) => {
                    checked.ok_chunks += 1;
                    findings.extend(p.findings);
                    checked.rejected.extend(p.rejected);
                    checked.dropped_over_limit += p.dropped_over_limit;
                    checked.cut_short_chunks += usize::from(p.cut_short);
                }
                Err(e) => c.error = Some(format!("unusable output: {e}")),
            }
        }
        let order = findings.clone();
        let g = ground_with_context(findings, &hunks, shown, contents);
        // The appendix lists findings in the order the reviewer wrote them;
        // `ground` keeps order within both outputs, so a merge restores it.
        let (mut gi, mut ui) = (0, 0);
        for f in &order {
            if g.grounded.get(gi) == Some(f) {
                gi += 1;
                checked.listed.push(ListedFinding {
                    finding: f.clone(),
                    status: FindingStatus::Grounded,
                });
            } else if let Some(u) = g.ungrounded.get(ui) {
                ui += 1;
                checked.listed.push(ListedFinding {
                    finding: u.finding.clone(),
                    status: FindingStatus::Ungrounded {
                        reason: u.reason.to_string(),
                    },
                });
            }
        }
        all_grounded.extend(g.grounded.iter().cloned());
        checked.grounded = g.grounded;
        checked.run = run;
        reviewers.push(checked);
    }
    let consolidated = consolidate(&all_grounded);
    let verdict = verdict_of(&reviewers, &consolidated);
    Checked {
        reviewers,
        consolidated,
        verdict,
        refuted: Vec::new(),
        verification: None,
    }
}
