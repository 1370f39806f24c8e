//! The checked review → a [`ReviewReport`]: excerpts, retro, appendix and
//! deterministic prose for every section; the lead model's prose, when
//! usable, replaces that prose ([`ReviewReport::apply_lead_prose`]).

use super::fallback;
use super::model::*;
use crate::check::grounding::excerpt;
use crate::review::lead::LeadProse;
use crate::severity::Severity;
use crate::text::sanitize_text;
use std::collections::HashMap;

/// Assembles the report from the checked review: excerpts, retro,
/// appendix and the deterministic prose for every section.
pub fn assemble(input: ReportInput<'_>) -> ReviewReport {
    let plan = input.plan;
    let range = &plan.range;
    let checked = input.checked;
    let mut appendix = Vec::new();
    let mut retro = Vec::new();
    let mut cache = CacheInfo::default();
    for r in &checked.reviewers {
        let name = &r.run.info.name;
        for c in &r.run.chunks {
            cache.total_chunks += 1;
            if c.from_cache {
                cache.from_cache.push(CachedChunk {
                    reviewer: name.clone(),
                    chunk: c.chunk,
                });
            }
        }
        let mut sev = [0usize; 3];
        for f in &r.grounded {
            sev[f.severity as usize] += 1;
        }
        let error = r.error();
        retro.push(ReviewerRetro {
            name: name.clone(),
            model: r.run.info.model.clone(),
            duration_ms: r.run.duration_ms,
            chunks: r.run.chunks.len(),
            chunks_from_cache: r.run.chunks.iter().filter(|c| c.from_cache).count(),
            failed_chunks: r.run.chunks.iter().filter(|c| c.error.is_some()).count(),
            critical: sev[Severity::Critical as usize],
            important: sev[Severity::Important as usize],
            suggestion: sev[Severity::Suggestion as usize],
            ungrounded: r.ungrounded(),
            rejected: r.rejected.len(),
            dropped_over_limit: r.dropped_over_limit,
            false_positives: r.ungrounded() + r.rejected.len(),
            cut_short: r.cut_short_chunks,
            unique_insights: checked
                .consolidated
                .iter()
                .filter(|c| c.reviewers.len() == 1 && &c.reviewers[0] == name)
                .map(|c| c.title.clone())
                .collect(),
            error: error.clone(),
            note: None,
            ran_on: {
                let mut on: Vec<String> = r
                    .run
                    .chunks
                    .iter()
                    .map(|c| c.endpoint.clone())
                    .filter(|e| !e.is_empty())
                    .collect();
                on.sort();
                on.dedup();
                on
            },
            prompt_tokens: r.run.chunks.iter().map(|c| c.prompt_tokens).sum(),
            generated_tokens: r.run.chunks.iter().map(|c| c.generated_tokens).sum(),
        });
        let mut chunks = r.run.chunks.clone();
        for c in &mut chunks {
            c.raw = sanitize_text(&c.raw, MAX_RAW_CHARS, true);
            c.thinking = sanitize_text(&c.thinking, MAX_THINKING_CHARS, true);
        }
        appendix.push(ReviewerAppendix {
            reviewer: name.clone(),
            chunks,
            findings: r.listed.clone(),
            rejected: r.rejected.clone(),
            dropped_over_limit: r.dropped_over_limit,
            error,
        });
    }

    let languages: HashMap<&str, Option<String>> = plan
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.language.clone()))
        .collect();
    let to_report = |f: &crate::check::consolidate::ConsolidatedFinding| {
        let text = input
            .contents
            .get(&f.file)
            .map(String::as_str)
            .unwrap_or("");
        let span = (f.line_end - f.line_start + 1) as usize;
        let ex = excerpt(text, f.line_start, f.line_end, MAX_EXCERPT_LINES);
        let shown = if ex.is_empty() {
            0
        } else {
            ex.lines().count().max(1)
        };
        let file_lines = text
            .lines()
            .count()
            .saturating_sub((f.line_start as usize).saturating_sub(1));
        ReportFinding {
            excerpt_omitted_lines: span.min(file_lines).saturating_sub(shown) as u32,
            language: languages.get(f.file.as_str()).cloned().flatten(),
            excerpt: ex,
            finding: f.clone(),
        }
    };
    let findings: Vec<ReportFinding> = checked.consolidated.iter().map(to_report).collect();
    let refuted: Vec<ReportFinding> = checked.refuted.iter().map(to_report).collect();
    // A refuted finding is a false positive of every reviewer that raised it.
    for f in &checked.refuted {
        for r in retro.iter_mut().filter(|r| f.reviewers.contains(&r.name)) {
            r.false_positives += 1;
        }
    }

    let mut authors: Vec<Author> = Vec::new();
    for c in &range.commits {
        if !authors.iter().any(|a| a.email == c.author_email) {
            authors.push(Author {
                name: c.author_name.clone(),
                email: c.author_email.clone(),
            });
        }
    }
    let commits: Vec<CommitLine> = range
        .commits
        .iter()
        .map(|c| CommitLine {
            id: c.id.to_string(),
            short: c.short.clone(),
            subject: c.subject.clone(),
            author: c.author_name.clone(),
            parents: c.parents,
            files: c.stat.files,
            additions: c.stat.additions,
            deletions: c.stat.deletions,
        })
        .collect();
    let not_reviewed = input
        .not_reviewed
        .iter()
        .flat_map(|(index, why)| {
            plan.chunks
                .iter()
                .filter(move |c| c.index == *index)
                .flat_map(|c| c.files.iter())
                .filter_map(|cf| plan.files.get(cf.file))
                .map(move |f| NotReviewed {
                    path: f.path.clone(),
                    reason: format!("chunk {}: {why}", index + 1),
                })
        })
        .collect();
    let mut report = ReviewReport {
        schema_version: SCHEMA_VERSION,
        id: report_id(&input.started, range.branch.as_deref(), &range.spec),
        date: input.started.strftime("%Y-%m-%d %H:%M").to_string(),
        authors,
        range: range.spec.clone(),
        base: range.base.map(|b| b.to_string()),
        head: range.head.to_string(),
        branch: range.branch.clone(),
        commits,
        reviewers: checked
            .reviewers
            .iter()
            .map(|r| r.run.info.clone())
            .collect(),
        verdict: checked.verdict.clone(),
        wall_clock_ms: input.wall_clock_ms,
        timings: input.timings.clone(),
        findings,
        executive_summary: Prose::default(),
        design: DesignObservations::default(),
        testing: Prose::default(),
        documentation: Prose::default(),
        commit_structure: Prose::default(),
        retro,
        appendix,
        skipped: plan
            .skipped
            .iter()
            .map(|s| NotReviewed {
                path: s.path.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        unfit: plan
            .unfit
            .iter()
            .map(|u| NotReviewed {
                path: u.path.clone(),
                reason: u.reason.clone(),
            })
            .collect(),
        cache,
        instructions_file: input.instructions_file.clone(),
        not_reviewed,
        lead: None,
        demonstration_only: {
            let ran = || checked.reviewers.iter().filter(|r| r.ran());
            ran().next().is_some() && ran().all(|r| r.run.info.demonstration)
        },
        code_sent_to: Vec::new(),
        engine: Default::default(),
        unresolved_feedback: Default::default(),
        context: None,
        recommendations: Vec::new(),
        verification: checked.verification.clone(),
        refuted,
        configuration: Vec::new(),
        time_budget_secs: 0,
        incomplete: None,
        repository: None,
        diff: DiffShown::of(&plan.files),
    };
    report.executive_summary = Prose {
        text: fallback::executive_summary(&report),
        from_lead: false,
    };
    report.testing = Prose {
        text: fallback::testing(plan),
        from_lead: false,
    };
    report.documentation = Prose {
        text: fallback::documentation(plan),
        from_lead: false,
    };
    report.commit_structure = Prose {
        text: fallback::commit_structure(&report.commits, plan),
        from_lead: false,
    };
    report
}

impl ReviewReport {
    /// The facts the lead writes from: commits, files, and the findings that
    /// survived grounding and consolidation (nothing the checks dropped).
    pub fn lead_facts(&self) -> String {
        use std::fmt::Write as _;
        let report = self;
        let mut s = String::new();
        let _ = writeln!(s, "Commits:");
        for c in &report.commits {
            let _ = writeln!(
                s,
                "- {} {} ({} files, +{} -{})",
                c.short, c.subject, c.files, c.additions, c.deletions
            );
        }
        let _ = writeln!(s, "\nFindings:");
        if report.findings.is_empty() {
            let _ = writeln!(s, "- none");
        }
        for f in report.findings.iter().take(20) {
            let c = &f.finding;
            let _ = writeln!(
                s,
                "- {:?} in {}:{}: {} (raised by {})",
                c.severity,
                c.file,
                c.line_start,
                c.title,
                c.reviewers.join(", ")
            );
        }
        let _ = writeln!(s, "\nReviewers:");
        for r in &report.retro {
            let _ = writeln!(
                s,
                "- {}: {} findings kept, {} dropped as not matching the code",
                r.name,
                r.critical + r.important + r.suggestion,
                r.ungrounded + r.rejected
            );
        }
        let earlier = &report.unresolved_feedback.unresolved;
        if !earlier.is_empty() {
            let _ = writeln!(s, "\nRaised by earlier reviews and still in the code:");
            for e in earlier.iter().take(10) {
                let _ = writeln!(
                    s,
                    "- {} in {}:{}: {}{}",
                    e.severity.as_str(),
                    e.file,
                    e.line_start,
                    e.title,
                    if e.raised_again {
                        " (raised again now)"
                    } else {
                        " (not raised now)"
                    }
                );
            }
        }
        let _ = writeln!(
            s,
            "\nData-based assessments:\n- testing: {}\n- documentation: {}\n- commits: {}",
            report.testing.text, report.documentation.text, report.commit_structure.text
        );
        s
    }

    /// Replaces fallback prose by the lead model's where it wrote something
    /// usable (already validated by [`crate::review::lead::parse`]); everything
    /// else stays as built. The design section is only ever the lead's.
    pub fn apply_lead_prose(&mut self, prose: &LeadProse, lead_model: &str) {
        for (slot, text) in [
            (&mut self.executive_summary, &prose.summary),
            (&mut self.testing, &prose.testing),
            (&mut self.documentation, &prose.documentation),
            (&mut self.commit_structure, &prose.commits),
        ] {
            if let Some(t) = text {
                *slot = Prose {
                    text: t.clone(),
                    from_lead: true,
                };
            }
        }
        let who = vec![format!("lead ({lead_model})")];
        if let Some((text, in_scope)) = &prose.concern {
            self.design.concerns.push(Concern {
                title: headline(text),
                text: text.clone(),
                scope: if *in_scope {
                    Scope::InScope
                } else {
                    Scope::Future
                },
                reviewers: who.clone(),
            });
        }
        if let Some(text) = &prose.strength {
            self.design.strengths.push(Strength {
                text: text.clone(),
                reviewers: who,
            });
        }
        if let Some(text) = &prose.repo_context {
            let rec = Recommendation::new(text, RecommendationSource::Lead);
            if !self.recommendations.iter().any(|r| r.text == rec.text) {
                self.recommendations.insert(0, rec);
                self.recommendations
                    .truncate(crate::report::recommend::MAX_RECOMMENDATIONS);
            }
        }
    }
}

/// A short bold title for a prose item: its first sentence when short,
/// else its first words.
fn headline(text: &str) -> String {
    let first = text.split(['.', ';', ':']).next().unwrap_or(text).trim();
    if first.chars().count() <= 80 {
        return first.to_string();
    }
    let words: Vec<&str> = first.split_whitespace().take(8).collect();
    format!("{}…", words.join(" "))
}
