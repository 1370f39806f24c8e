//! Scoring on plain data: each case's known defects against what each
//! reviewer and the consolidated review found. Nothing here runs a model.
//!
//! A finding *finds* a defect when it names the same file and its lines
//! come within `tolerance` lines of the defect's. A finding that finds no
//! defect is *unconfirmed*: a history case labels the lines a later fix
//! changed, never every defect, so it is not called wrong.
//!
//! Precision needs cases whose labels are complete: on a mutant (one
//! planted defect in a commit taken as correct) a finding that finds the
//! defect is a true positive and any other a false positive; on a decoy
//! (an edit that keeps the behaviour, no defect) every finding is a false
//! positive. Precision is counted on those cases only; recall on every
//! known defect. Both come twice ([`Precision`]): without verification
//! (every finding the reviewers made) and with it (less the findings the
//! verifier refuted — one review gives both, since verification only
//! removes findings).

use super::case::{Case, Defect, Source};
use crate::check::consolidate::ConsolidatedFinding;
use crate::check::findings::Severity;
use crate::gate::GatePolicy;
use crate::verify::model::{VerificationSummary, VerifyStatus};
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
    /// The consolidated finding it belongs to was refuted on verification.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub refuted: bool,
}

/// What one reviewer did on one case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReviewerOutcome {
    pub name: String,
    /// It produced a usable review of at least one chunk.
    pub ran: bool,
    pub error: Option<String>,
    /// Its grounded findings (those the report shows, refuted or not).
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
    /// Every consolidated finding: those kept, then those the verifier
    /// refuted (their `verification` says so).
    pub consolidated: Vec<ConsolidatedFinding>,
    /// The verify stage of the review (`None`: verification off).
    pub verification: Option<VerificationSummary>,
    pub reviewers_ran: usize,
    pub wall_ms: u64,
}

/// The verifier refuted this consolidated finding.
pub fn is_refuted(f: &ConsolidatedFinding) -> bool {
    f.verification
        .as_ref()
        .is_some_and(|v| v.status == VerifyStatus::Refuted)
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

/// A recall or precision (0..=1) as JSON shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
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

/// True and false positives of one set of findings on the cases whose
/// labels are complete (mutants and decoys), and recall on every known
/// defect.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Precision {
    /// Findings on a mutant that find its planted defect.
    pub true_positives: usize,
    /// Findings on a decoy, or on a mutant that find no planted defect.
    pub false_positives: usize,
    /// ... of which on decoys.
    pub false_positives_on_decoys: usize,
    /// `true_positives / (true_positives + false_positives)`; `null` when
    /// there is no finding on a mutant or decoy.
    pub precision: Option<Recall>,
    /// Known defects found (every source).
    pub defects: Tally,
    pub recall: Recall,
}

impl Precision {
    fn count(&mut self, hits: &[&Hit], case: &Case, tol: u32) {
        match case.source {
            Source::Mutant => {
                for h in hits {
                    if case.defects.iter().any(|d| finds(h, d, tol)) {
                        self.true_positives += 1;
                    } else {
                        self.false_positives += 1;
                    }
                }
            }
            Source::Decoy => {
                self.false_positives += hits.len();
                self.false_positives_on_decoys += hits.len();
            }
            Source::File | Source::History => {}
        }
        for d in &case.defects {
            self.defects.add(hits.iter().any(|h| finds(h, d, tol)));
        }
    }

    fn finish(&mut self) {
        let judged = self.true_positives + self.false_positives;
        self.precision = (judged > 0).then(|| Recall(self.true_positives as f64 / judged as f64));
        self.recall = Recall(self.defects.recall());
    }
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
    /// Precision and recall of every finding it made.
    pub without_verification: Precision,
    /// ... less those the verifier refuted (a reviewer's finding is
    /// refuted with the consolidated finding it is part of); `null` when
    /// verification was off or skipped on every case that had a finding
    /// (see [`Scores::verification`]).
    pub with_verification: Option<Precision>,
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
            without_verification: Precision::default(),
            with_verification: Some(Precision::default()),
        }
    }

    /// Counts the findings of one reviewed case, with and without those
    /// refuted.
    fn count_precision<'h>(
        &mut self,
        hits: impl IntoIterator<Item = (&'h Hit, bool)>,
        case: &Case,
        tol: u32,
    ) {
        let all: Vec<(&Hit, bool)> = hits.into_iter().collect();
        let every: Vec<&Hit> = all.iter().map(|(h, _)| *h).collect();
        let kept: Vec<&Hit> = all.iter().filter(|(_, r)| !r).map(|(h, _)| *h).collect();
        self.without_verification.count(&every, case, tol);
        if let Some(w) = self.with_verification.as_mut() {
            w.count(&kept, case, tol);
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
    /// ... and decoys blocked (every one a false block).
    pub blocked_on_decoy: usize,
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
    /// Consolidated findings, refuted ones included.
    pub consolidated_findings: usize,
    pub consolidated_unconfirmed: usize,
    /// ... of which the verifier refuted.
    pub consolidated_refuted: usize,
    /// The verify stage of the case's review (`null`: off).
    pub verification: Option<VerificationSummary>,
    pub wall_ms: u64,
}

/// The verify stage over every reviewed case: whether it ran, why not,
/// and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerificationTotals {
    /// Reviewed cases where it checked at least one finding.
    pub cases_verified: usize,
    /// Reviewed cases where it did not run, by reason (`review.verify is
    /// off`, or why the stage was skipped). A case with no finding to
    /// verify is in neither.
    pub not_run: BTreeMap<String, usize>,
    pub checked: usize,
    pub confirmed: usize,
    pub refuted: usize,
    pub uncertain: usize,
    /// Verifications that failed (counted among `uncertain`).
    pub failed: usize,
    /// Passes answered from the cache.
    pub from_cache: usize,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub duration_ms: u64,
    /// Wall-clock time of the reviews it ran in, less its own.
    pub review_ms: u64,
    /// Of those reviews, chunks answered from the review cache (then
    /// `review_ms` is not what the reviews cost).
    pub review_chunks_from_cache: usize,
    /// `duration_ms / review_ms`: what it adds to the review it checks;
    /// `null` when some of those reviews came from the cache.
    pub added_time: Option<Recall>,
}

impl VerificationTotals {
    fn count(&mut self, o: &CaseOutcome) {
        let Some(v) = &o.verification else {
            *self
                .not_run
                .entry("review.verify is off".to_string())
                .or_insert(0) += 1;
            return;
        };
        if let Some(why) = &v.skipped {
            if v.checked > 0 {
                *self.not_run.entry(why.clone()).or_insert(0) += 1;
            }
            return;
        }
        self.cases_verified += 1;
        self.checked += v.checked;
        self.confirmed += v.confirmed;
        self.refuted += v.refuted;
        self.uncertain += v.uncertain;
        self.failed += v.failed;
        self.from_cache += v.from_cache;
        self.prompt_tokens += v.prompt_tokens;
        self.generated_tokens += v.generated_tokens;
        self.duration_ms += v.duration_ms;
        self.review_ms += o.wall_ms.saturating_sub(v.duration_ms);
        self.review_chunks_from_cache += o
            .reviewers
            .iter()
            .map(|r| r.chunks_from_cache)
            .sum::<usize>();
    }
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
    /// The verify stage over the reviewed cases.
    pub verification: VerificationTotals,
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
        refuted: is_refuted(f),
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
                blocked_on_decoy: 0,
            });
        }
    }
    let mut verification = VerificationTotals::default();
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
            consolidated_refuted: o.consolidated.iter().filter(|f| is_refuted(f)).count(),
            verification: o.verification.clone(),
            wall_ms: o.wall_ms,
        };
        if o.not_reviewed.is_some() {
            per_case.push(result);
            continue;
        }
        reviewed += 1;
        defects_total += case.defects.len();
        verification.count(o);
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
                    card.count_precision(r.findings.iter().map(|h| (h, h.refuted)), case, tol);
                    card.failed_cases += usize::from(!r.ran);
                    card.cost.wall_ms += r.duration_ms;
                    card.cost.prompt_tokens += r.prompt_tokens;
                    card.cost.generated_tokens += r.generated_tokens;
                    card.cost.chunks += r.chunks;
                    card.cost.chunks_from_cache += r.chunks_from_cache;
                }
                // Not configured for this case (`--reviewer` changed
                // between runs cannot happen within one eval): a miss.
                None => {
                    card.failed_cases += 1;
                    card.count_precision([], case, tol);
                }
            }
        }
        let before = consolidated.unconfirmed;
        consolidated.count_findings(&consolidated_hits, &case.defects, tol);
        consolidated.count_precision(consolidated_hits.iter().map(|h| (h, h.refuted)), case, tol);
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
                row.blocked_on_decoy += usize::from(case.source == Source::Decoy);
            }
        }
        per_case.push(result);
    }
    // With no case verified, the numbers "with verification" exist only
    // when nothing kept it from running (no case had a finding to check).
    let verified = verification.cases_verified > 0 || verification.not_run.is_empty();
    for c in cards.iter_mut().chain(std::iter::once(&mut consolidated)) {
        c.recall = Recall(c.defects.recall());
        c.without_verification.finish();
        if verified {
            if let Some(w) = c.with_verification.as_mut() {
                w.finish();
            }
        } else {
            c.with_verification = None;
        }
    }
    verification.added_time = (verification.review_ms > 0
        && verification.review_chunks_from_cache == 0)
        .then(|| Recall(verification.duration_ms as f64 / verification.review_ms as f64));
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
        verification,
        gate,
        per_case,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, source: Source, defects: &[u32]) -> Case {
        Case {
            id: id.into(),
            source,
            base: None,
            head: gix::ObjectId::null(gix::hash::Kind::Sha1),
            defects: defects
                .iter()
                .map(|&l| Defect {
                    file: "a.rs".into(),
                    line_start: l,
                    line_end: l,
                    severity: Severity::Important,
                    description: String::new(),
                })
                .collect(),
            provenance: String::new(),
        }
    }

    fn outcome(case: Case, hits: &[(u32, bool)], verified: bool) -> CaseOutcome {
        CaseOutcome {
            case,
            not_reviewed: None,
            reviewers: vec![ReviewerOutcome {
                name: "r".into(),
                ran: true,
                findings: hits
                    .iter()
                    .map(|&(line, refuted)| Hit {
                        file: "a.rs".into(),
                        line_start: line,
                        line_end: line,
                        severity: Severity::Important,
                        refuted,
                    })
                    .collect(),
                ..Default::default()
            }],
            consolidated: Vec::new(),
            verification: verified.then(|| VerificationSummary {
                checked: hits.len(),
                refuted: hits.iter().filter(|h| h.1).count(),
                duration_ms: 100,
                ..Default::default()
            }),
            reviewers_ran: 1,
            wall_ms: 1100,
        }
    }

    #[test]
    fn precision_counts_mutants_and_decoys_with_and_without_refuted_findings() {
        let outcomes = [
            // On the defect (true), far from it (false, refuted).
            outcome(
                case("m", Source::Mutant, &[10]),
                &[(10, false), (40, true)],
                true,
            ),
            // Every finding on a decoy is false; one refuted.
            outcome(
                case("d", Source::Decoy, &[]),
                &[(5, false), (6, true)],
                true,
            ),
            // History labels are incomplete: in no precision.
            outcome(case("h", Source::History, &[90]), &[(1, false)], true),
        ];
        let s = score(&outcomes, 3);
        let r = &s.reviewers[0];
        let without = &r.without_verification;
        assert_eq!(
            (
                without.true_positives,
                without.false_positives,
                without.false_positives_on_decoys
            ),
            (1, 3, 2)
        );
        assert_eq!(without.precision, Some(Recall(0.25)));
        assert_eq!((without.defects.found, without.defects.total), (1, 2));
        let with = r.with_verification.as_ref().expect("verification ran");
        assert_eq!(
            (
                with.true_positives,
                with.false_positives,
                with.false_positives_on_decoys
            ),
            (1, 1, 1)
        );
        assert_eq!(with.precision, Some(Recall(0.5)));
        assert_eq!(
            r.unconfirmed, 4,
            "the recall table counts every unmatched finding"
        );
        assert_eq!(s.verification.cases_verified, 3);
        assert_eq!(s.verification.review_ms, 3000);
        assert_eq!(s.verification.added_time, Some(Recall(0.1)));
        // A review answered from the cache says nothing of its cost.
        let mut cached = outcomes.to_vec();
        cached[0].reviewers[0].chunks_from_cache = 1;
        assert_eq!(score(&cached, 3).verification.added_time, None);
    }

    #[test]
    fn verification_off_or_skipped_gives_no_numbers_with_it() {
        let off = [outcome(
            case("m", Source::Mutant, &[10]),
            &[(10, false)],
            false,
        )];
        let s = score(&off, 3);
        assert!(s.reviewers[0].with_verification.is_none());
        assert!(s.consolidated.with_verification.is_none());
        assert_eq!(s.verification.not_run.get("review.verify is off"), Some(&1));
        let mut skipped = outcome(case("m", Source::Mutant, &[10]), &[(10, false)], true);
        skipped.verification.as_mut().unwrap().skipped = Some("a demonstration model".into());
        let s = score(&[skipped.clone()], 3);
        assert!(s.reviewers[0].with_verification.is_none());
        assert_eq!(
            s.verification.not_run.get("a demonstration model"),
            Some(&1)
        );
        // Skipped for want of findings: nothing kept it from running.
        let mut nothing = outcome(case("d", Source::Decoy, &[]), &[], true);
        nothing.verification.as_mut().unwrap().skipped = Some("no finding to verify".into());
        let s = score(&[nothing], 3);
        assert!(s.verification.not_run.is_empty());
        assert!(s.reviewers[0].with_verification.is_some());
        assert_eq!(s.reviewers[0].without_verification.precision, None);
    }
}
