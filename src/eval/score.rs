//! Scoring on plain data: each case's known defects against what each
//! reviewer and the consolidated review found. Nothing here runs a model.
//!
//! A finding *finds* a defect when it names the same file and its lines
//! come within `tolerance` lines of the defect's. A finding that finds no
//! defect is *unconfirmed*, not a false positive: history and mutants label
//! some defects, never all of them.

use super::case::{Case, Defect, Source};
use crate::check::consolidate::ConsolidatedFinding;
use crate::check::findings::Severity;
use crate::gate::GatePolicy;
use serde::Serialize;
use std::collections::BTreeMap;

/// Default `--tolerance`: models often point at the line before or after
/// the one that is wrong, or at the start of the statement.
pub const DEFAULT_TOLERANCE: u32 = 3;

/// Where a finding points, as scoring sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    pub severity: Severity,
}

/// What one reviewer did on one case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReviewerOutcome {
    pub name: String,
    /// It produced a usable review of at least one chunk.
    pub ran: bool,
    pub error: Option<String>,
    /// Its grounded findings (those the report shows).
    pub findings: Vec<Hit>,
    pub duration_ms: u64,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub chunks: usize,
    pub chunks_from_cache: usize,
}

/// The review of one case, as scoring needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    pub case: Case,
    /// Why the case could not be reviewed (every file skipped...); then
    /// it is left out of every score and listed.
    pub not_reviewed: Option<String>,
    pub reviewers: Vec<ReviewerOutcome>,
    pub consolidated: Vec<ConsolidatedFinding>,
    pub reviewers_ran: usize,
    pub wall_ms: u64,
}

/// `found` of `total` defects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub found: usize,
    pub total: usize,
}

impl Tally {
    fn add(&mut self, found: bool) {
        self.total += 1;
        self.found += usize::from(found);
    }

    /// `found / total`, 0 for no defects.
    pub fn recall(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.found as f64 / self.total as f64
        }
    }
}

impl Serialize for Recall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Four decimals: enough to compare, stable across platforms.
        s.serialize_f64((self.0 * 10_000.0).round() / 10_000.0)
    }
}

/// A recall (0..=1) as JSON shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recall(pub f64);

/// Summed cost over the reviewed cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    pub wall_ms: u64,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub chunks: usize,
    pub chunks_from_cache: usize,
}

/// One reviewer's (or the consolidated review's) scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub name: String,
    pub defects: Tally,
    pub recall: Recall,
    pub by_severity: BTreeMap<Severity, Tally>,
    pub by_source: BTreeMap<Source, Tally>,
    pub findings: usize,
    /// Findings that found some known defect.
    pub on_defects: usize,
    /// Findings that found none.
    pub unconfirmed: usize,
    /// Cases where it produced no usable review (its defects count as missed).
    pub failed_cases: usize,
    pub cost: Cost,
}

impl Scorecard {
    fn new(name: &str) -> Scorecard {
        Scorecard {
            name: name.to_string(),
            defects: Tally::default(),
            recall: Recall(0.0),
            by_severity: BTreeMap::new(),
            by_source: BTreeMap::new(),
            findings: 0,
            on_defects: 0,
            unconfirmed: 0,
            failed_cases: 0,
            cost: Cost::default(),
        }
    }

    fn count_defect(&mut self, d: &Defect, source: Source, found: bool) {
        self.defects.add(found);
        self.by_severity.entry(d.severity).or_default().add(found);
        self.by_source.entry(source).or_default().add(found);
    }

    fn count_findings<'h>(
        &mut self,
        hits: impl IntoIterator<Item = &'h Hit>,
        defects: &[Defect],
        tol: u32,
    ) {
        for h in hits {
            self.findings += 1;
            if defects.iter().any(|d| finds(h, d, tol)) {
                self.on_defects += 1;
            } else {
                self.unconfirmed += 1;
            }
        }
    }
}

/// How one gate setting would have done over the reviewed cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateRow {
    pub block_on: Severity,
    pub min_agreement: usize,
    /// Cases the gate would have blocked.
    pub blocked: usize,
    /// ... of which a blocking finding found a known defect.
    pub blocked_on_defect: usize,
}

/// One defect of one case and who found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefectResult {
    #[serde(flatten)]
    pub defect: Defect,
    /// Reviewers whose findings found it, in configuration order.
    pub found_by: Vec<String>,
    /// A consolidated finding found it.
    pub consolidated: bool,
}

/// One case in the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub source: Source,
    pub base: Option<String>,
    pub head: String,
    pub provenance: String,
    /// Why it was not reviewed (then it is in no score).
    pub not_reviewed: Option<String>,
    pub defects: Vec<DefectResult>,
    /// Per reviewer: its findings on this case and how many found nothing known.
    pub reviewers: Vec<ReviewerOutcome>,
    pub consolidated_findings: usize,
    pub consolidated_unconfirmed: usize,
    pub wall_ms: u64,
}

/// Everything `eval` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub tolerance: u32,
    pub cases: usize,
    pub reviewed_cases: usize,
    pub cases_by_source: BTreeMap<Source, usize>,
    pub defects: usize,
    /// Each reviewer, in configuration order.
    pub reviewers: Vec<Scorecard>,
    /// Defects found by at least one reviewer.
    pub union: Tally,
    pub union_recall: Recall,
    /// The reviewer with the highest recall (the first on a tie).
    pub best_single: Option<String>,
    /// `union_recall - best recall`: what running them all adds.
    pub union_gain: Recall,
    /// The consolidated review (what the report lists).
    pub consolidated: Scorecard,
    /// Every `block_on` × `min_agreement` up to the number of reviewers.
    pub gate: Vec<GateRow>,
    pub per_case: Vec<CaseResult>,
}

/// Whether `hit` finds `defect` within `tol` lines.
pub fn finds(hit: &Hit, defect: &Defect, tol: u32) -> bool {
    hit.file == defect.file
        && hit.line_start <= defect.line_end.saturating_add(tol)
        && hit.line_end.saturating_add(tol) >= defect.line_start
}

fn hit_of(f: &ConsolidatedFinding) -> Hit {
    Hit {
        file: f.file.clone(),
        line_start: f.line_start,
        line_end: f.line_end,
        severity: f.severity,
    }
}

/// Scores every case. Reviewers are taken in the order of the first case
/// that lists them (configuration order).
pub fn score(outcomes: &[CaseOutcome], tol: u32) -> Scores {
    let mut names: Vec<String> = Vec::new();
    for o in outcomes {
        for r in &o.reviewers {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
    }
    let mut cards: Vec<Scorecard> = names.iter().map(|n| Scorecard::new(n)).collect();
    let mut consolidated = Scorecard::new("consolidated");
    let mut union = Tally::default();
    let mut cases_by_source = BTreeMap::new();
    let mut gate: Vec<GateRow> = Vec::new();
    for block_on in [
        Severity::Critical,
        Severity::Important,
        Severity::Suggestion,
    ] {
        for k in 1..=names.len().max(1) {
            gate.push(GateRow {
                block_on,
                min_agreement: k,
                blocked: 0,
                blocked_on_defect: 0,
            });
        }
    }
    let mut per_case = Vec::with_capacity(outcomes.len());
    let mut reviewed = 0;
    let mut defects_total = 0;
    for o in outcomes {
        let case = &o.case;
        *cases_by_source.entry(case.source).or_insert(0) += 1;
        let mut result = CaseResult {
            id: case.id.clone(),
            source: case.source,
            base: case.base.map(|b| b.to_string()),
            head: case.head.to_string(),
            provenance: case.provenance.clone(),
            not_reviewed: o.not_reviewed.clone(),
            defects: Vec::new(),
            reviewers: o.reviewers.clone(),
            consolidated_findings: o.consolidated.len(),
            consolidated_unconfirmed: 0,
            wall_ms: o.wall_ms,
        };
        if o.not_reviewed.is_some() {
            per_case.push(result);
            continue;
        }
        reviewed += 1;
        defects_total += case.defects.len();
        let consolidated_hits: Vec<Hit> = o.consolidated.iter().map(hit_of).collect();
        for d in &case.defects {
            let found_by: Vec<String> = names
                .iter()
                .filter(|n| {
                    o.reviewers
                        .iter()
                        .find(|r| &r.name == *n)
                        .is_some_and(|r| r.findings.iter().any(|h| finds(h, d, tol)))
                })
                .cloned()
                .collect();
            for card in &mut cards {
                let found = found_by.contains(&card.name);
                card.count_defect(d, case.source, found);
            }
            union.add(!found_by.is_empty());
            let by_consolidated = consolidated_hits.iter().any(|h| finds(h, d, tol));
            consolidated.count_defect(d, case.source, by_consolidated);
            result.defects.push(DefectResult {
                defect: d.clone(),
                found_by,
                consolidated: by_consolidated,
            });
        }
        for card in &mut cards {
            match o.reviewers.iter().find(|r| r.name == card.name) {
                Some(r) => {
                    card.count_findings(&r.findings, &case.defects, tol);
                    card.failed_cases += usize::from(!r.ran);
                    card.cost.wall_ms += r.duration_ms;
                    card.cost.prompt_tokens += r.prompt_tokens;
                    card.cost.generated_tokens += r.generated_tokens;
                    card.cost.chunks += r.chunks;
                    card.cost.chunks_from_cache += r.chunks_from_cache;
                }
                // Not configured for this case (`--reviewer` changed
                // between runs cannot happen within one eval): a miss.
                None => card.failed_cases += 1,
            }
        }
        let before = consolidated.unconfirmed;
        consolidated.count_findings(&consolidated_hits, &case.defects, tol);
        result.consolidated_unconfirmed = consolidated.unconfirmed - before;
        consolidated.cost.wall_ms += o.wall_ms;
        for r in &o.reviewers {
            consolidated.cost.prompt_tokens += r.prompt_tokens;
            consolidated.cost.generated_tokens += r.generated_tokens;
            consolidated.cost.chunks += r.chunks;
            consolidated.cost.chunks_from_cache += r.chunks_from_cache;
        }
        consolidated.failed_cases += usize::from(o.reviewers_ran == 0);
        for row in &mut gate {
            let policy = GatePolicy {
                enabled: true,
                block_on: row.block_on,
                min_agreement: row.min_agreement,
                count_unresolved: false,
                count_uncertain: true,
            };
            let blocking: Vec<&ConsolidatedFinding> = o
                .consolidated
                .iter()
                .filter(|f| policy.blocks(f, o.reviewers_ran))
                .collect();
            if !blocking.is_empty() {
                row.blocked += 1;
                let on_defect = blocking
                    .iter()
                    .any(|f| case.defects.iter().any(|d| finds(&hit_of(f), d, tol)));
                row.blocked_on_defect += usize::from(on_defect);
            }
        }
        per_case.push(result);
    }
    for c in cards.iter_mut().chain(std::iter::once(&mut consolidated)) {
        c.recall = Recall(c.defects.recall());
    }
    let best = cards.iter().fold(None::<&Scorecard>, |best, c| match best {
        Some(b) if b.defects.found >= c.defects.found => Some(b),
        _ => Some(c),
    });
    let best_recall = best.map_or(0.0, |b| b.defects.recall());
    Scores {
        tolerance: tol,
        cases: outcomes.len(),
        reviewed_cases: reviewed,
        cases_by_source,
        defects: defects_total,
        best_single: best.map(|b| b.name.clone()),
        union_gain: Recall(union.recall() - best_recall),
        union_recall: Recall(union.recall()),
        union,
        reviewers: cards,
        consolidated,
        gate,
        per_case,
    }
}
