//! Each case through the normal review pipeline (the same reviewers,
//! cache and checks as `git deep-review`), turned into what scoring needs.

use super::case::Case;
use super::score::{CaseOutcome, Hit, ReviewerOutcome};
use crate::check::FindingStatus;
use crate::engine::Engine;
use crate::error::Result;
use crate::pipeline::Run;
use crate::report::ReviewReport;
use std::time::{Duration, Instant};

/// Reviews every case in order; `say` hears one line per case. A case
/// with nothing a model can read (only skipped files), or with more than
/// `max_chunks` chunks, is kept, marked not reviewed, so the user sees why
/// it counts nowhere.
pub fn review_cases(
    repo: &gix::Repository,
    settings: &crate::config::Settings,
    run: &mut Run<'_>,
    engine: &mut Engine,
    cases: &[Case],
    max_chunks: usize,
    say: &dyn Fn(&str),
) -> Result<Vec<CaseOutcome>> {
    let mut out = Vec::with_capacity(cases.len());
    for (i, case) in cases.iter().enumerate() {
        if crate::interrupt::is_triggered() {
            return Err(crate::error::Error::Interrupted);
        }
        let spec = match case.base {
            Some(b) => format!("{}..{}", short(b), short(case.head)),
            None => short(case.head),
        };
        let range = crate::git::range::between(repo, case.base, case.head, spec.clone())?;
        // A history case is the introducing commit's change to the files
        // its defects are in: a large commit would otherwise cost a review
        // of everything it touched, around a few labelled lines.
        let keep = |path: &str| {
            case.source != super::case::Source::History
                || case.defects.iter().any(|d| d.file == path)
        };
        let plan = crate::pipeline::plan_paths(repo, range, settings, &keep)?;
        let too_large = plan.chunks.len() > max_chunks;
        if plan.chunks.is_empty() || too_large {
            let why = if too_large {
                format!(
                    "{} chunks, more than --max-chunks {max_chunks}",
                    plan.chunks.len()
                )
            } else if plan.unfit.is_empty() {
                "every changed file is skipped (binary, lock file or ignored)".to_string()
            } else {
                "the change is too large for any chunk".to_string()
            };
            say(&format!(
                "case {}/{} {}: not reviewed: {why}",
                i + 1,
                cases.len(),
                case.id
            ));
            out.push(CaseOutcome {
                case: case.clone(),
                not_reviewed: Some(why),
                reviewers: Vec::new(),
                consolidated: Vec::new(),
                verification: None,
                reviewers_ran: 0,
                wall_ms: 0,
            });
            continue;
        }
        let t = Instant::now();
        let deadline = t + Duration::from_secs(settings.time_budget_secs);
        let outcome = run.review(&plan, Some(deadline), engine)?;
        engine.clear_progress();
        if outcome.interrupted {
            return Err(crate::error::Error::Interrupted);
        }
        let o = outcome_of(case, &outcome.report);
        say(&format!(
            "case {}/{} {} ({spec}): {} finding(s), {} s",
            i + 1,
            cases.len(),
            case.id,
            o.consolidated.len(),
            t.elapsed().as_secs()
        ));
        out.push(o);
    }
    Ok(out)
}

/// What scoring needs from one case's report: each reviewer's grounded
/// findings and cost, the consolidated findings — those the verifier
/// refuted too, marked by their verification, so that one review gives
/// the scores with and without verification — and the verify stage's
/// summary. A reviewer's finding is refuted when the consolidated finding
/// it is a member of was.
pub fn outcome_of(case: &Case, report: &ReviewReport) -> CaseOutcome {
    let refuted: Vec<&crate::check::findings::Finding> = report
        .refuted
        .iter()
        .flat_map(|f| &f.finding.members)
        .collect();
    let reviewers = report
        .retro
        .iter()
        .map(|r| {
            let findings = report
                .appendix
                .iter()
                .find(|a| a.reviewer == r.name)
                .map(|a| {
                    a.findings
                        .iter()
                        .filter(|l| l.status == FindingStatus::Grounded)
                        .map(|l| Hit {
                            file: l.finding.file.clone(),
                            line_start: l.finding.line_start,
                            line_end: l.finding.line_end,
                            severity: l.finding.severity,
                            refuted: refuted.contains(&&l.finding),
                        })
                        .collect()
                })
                .unwrap_or_default();
            ReviewerOutcome {
                name: r.name.clone(),
                ran: r.chunks > r.failed_chunks,
                error: r.error.clone(),
                findings,
                duration_ms: r.duration_ms,
                prompt_tokens: r.prompt_tokens,
                generated_tokens: r.generated_tokens,
                chunks: r.chunks,
                chunks_from_cache: r.chunks_from_cache,
            }
        })
        .collect::<Vec<_>>();
    CaseOutcome {
        case: case.clone(),
        not_reviewed: None,
        reviewers_ran: reviewers.iter().filter(|r| r.ran).count(),
        reviewers,
        consolidated: report
            .findings
            .iter()
            .chain(&report.refuted)
            .map(|f| f.finding.clone())
            .collect(),
        verification: report.verification.clone(),
        wall_ms: report.wall_clock_ms,
    }
}

fn short(id: gix::ObjectId) -> String {
    id.to_hex_with_len(12).to_string()
}
