//! [`ReviewReport`] → Markdown, in the section order of the reference
//! report (`shared/reference/deep-review-example.md`).
//!
//! Model text is untrusted: every piece of it goes through the escaping of
//! [`super::escape`] before it is placed.

pub use super::escape::{block, cell, code_span, fence, inline};
use super::model::{FindingStatus, RecommendationSource, ReportFinding, ReviewReport, Scope};
use crate::check::findings::Severity;
use std::fmt::Write as _;

/// `file:start` or `file:start-end`.
fn location(file: &str, start: u32, end: u32) -> String {
    if end > start {
        code_span(&format!("{file}:{start}-{end}"))
    } else {
        code_span(&format!("{file}:{start}"))
    }
}

/// `15 min 50 s`, `42 s`, `1.5 s`.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else if ms >= 10_000 {
        format!("{s} s")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// `5:46` as in the retro table.
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

fn reviewers_list(names: &[String]) -> String {
    let v: Vec<String> = names.iter().map(|n| inline(n)).collect();
    format!("[{}]", v.join(", "))
}

fn push_none(out: &mut String) {
    out.push_str("None.\n\n");
}

/// One consolidated finding in the reference format.
fn finding(out: &mut String, n: usize, f: &ReportFinding) {
    let c = &f.finding;
    let unconfirmed = if c.unconfirmed { ", unconfirmed" } else { "" };
    let _ = writeln!(
        out,
        "{n}. **{}** — {} {} ({}, {}{unconfirmed})\n",
        inline(&c.title),
        location(&c.file, c.line_start, c.line_end),
        reviewers_list(&c.reviewers),
        c.severity.as_str(),
        c.kind.as_str()
    );
    if let Some(cause) = &c.cause {
        let _ = writeln!(
            out,
            "In code shown as read-only context; it follows from the change at {}.\n",
            location(&cause.file, cause.line, cause.line)
        );
    }
    if f.excerpt.is_empty() {
        out.push_str("_The code is not available at the reviewed head._\n\n");
    } else {
        let _ = writeln!(out, "{}\n", fence(&f.excerpt, f.language.as_deref()));
        if f.excerpt_omitted_lines > 0 {
            let _ = writeln!(
                out,
                "_({} more lines not shown.)_\n",
                f.excerpt_omitted_lines
            );
        }
    }
    if c.unconfirmed {
        out.push_str(
            "_Unconfirmed: only one reviewer rated this critical; treat it as a lead to verify._\n\n",
        );
    }
    if let Some(v) = &c.verification {
        let _ = writeln!(out, "{}\n", verification_line(v));
    }
    let explanation = block(&c.explanation);
    if !explanation.is_empty() {
        let _ = writeln!(out, "{explanation}\n");
    }
    let fix = block(&c.fix);
    if !fix.is_empty() {
        if fix.contains('\n') || fix.starts_with('`') {
            let _ = writeln!(out, "Fix:\n\n{fix}\n");
        } else {
            let _ = writeln!(out, "Fix: {fix}\n");
        }
    }
}

/// What the verifier said of one finding, in one line.
fn verification_line(v: &crate::verify::model::Verification) -> String {
    use crate::verify::model::VerifyStatus;
    let passes = if v.votes.len() > 1 {
        let agree = v
            .votes
            .iter()
            .filter(|x| x.status == Some(v.status))
            .count();
        format!(", {agree} of {} passes", v.votes.len())
    } else {
        String::new()
    };
    match (&v.failed, v.status) {
        (Some(why), _) => format!(
            "_Verification failed ({}): {}. The finding stays, uncertain._",
            inline(&v.model),
            inline(why)
        ),
        (None, VerifyStatus::Confirmed) => format!(
            "_Verified: confirmed by {}{passes}: {}_",
            inline(&v.model),
            inline(&v.reason)
        ),
        (None, VerifyStatus::Uncertain) => format!(
            "_Verification: uncertain ({}{passes}): {}_",
            inline(&v.model),
            inline(&v.reason)
        ),
        (None, VerifyStatus::Refuted) => format!(
            "_Refuted by {}{passes}: {}_",
            inline(&v.model),
            inline(&v.reason)
        ),
    }
}

/// Findings the verifier refuted: out of the findings and the gate, kept
/// here with the verifier's reason so a wrong refutation can be seen.
fn refuted(out: &mut String, r: &ReviewReport) {
    let Some(v) = &r.verification else { return };
    if v.skipped.is_some() {
        return;
    }
    out.push_str("---\n\n## Refuted on Verification\n\n");
    if r.refuted.is_empty() {
        push_none(out);
    }
    for (i, f) in r.refuted.iter().enumerate() {
        finding(out, i + 1, f);
    }
}

fn severity_section(out: &mut String, r: &ReviewReport, sev: Severity) {
    let list: Vec<&ReportFinding> = r
        .findings
        .iter()
        .filter(|f| f.finding.severity == sev)
        .collect();
    if list.is_empty() {
        push_none(out);
    }
    for (i, f) in list.iter().enumerate() {
        finding(out, i + 1, f);
    }
}

fn prose_section(out: &mut String, heading: &str, text: &str) {
    let _ = writeln!(out, "---\n\n### {heading}\n");
    let b = block(text);
    if b.is_empty() {
        push_none(out);
    } else {
        let _ = writeln!(out, "{b}\n");
    }
}

fn header(out: &mut String, r: &ReviewReport) {
    let _ = writeln!(out, "# Deep Review: {}\n", inline(&r.id));
    if r.demonstration_only {
        let _ = writeln!(
            out,
            "> **This is not a review.** Every reviewer ran on a bundled demonstration \
             model, far too small to review code: it shows the pipeline working, and \
             its silence means nothing. {}.\n",
            crate::check::verdict::DEMONSTRATION_HINT
        );
    }
    out.push_str("| | |\n|---|---|\n");
    let _ = writeln!(out, "| **Date** | {} |", cell(&r.date));
    if !r.configuration.is_empty() {
        let lines: Vec<String> = r.configuration.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| **Configuration** | {} |", lines.join("<br>"));
    }
    let authors: Vec<String> = r
        .authors
        .iter()
        .map(|a| format!("{} ({})", cell(&a.name), cell(&a.email)))
        .collect();
    let label = if authors.len() > 1 {
        "Authors"
    } else {
        "Author"
    };
    let _ = writeln!(
        out,
        "| **{label}** | {} |",
        if authors.is_empty() {
            "None.".to_string()
        } else {
            authors.join("<br>")
        }
    );
    let short = |id: &str| id.chars().take(7).collect::<String>();
    let base = r
        .base
        .as_deref()
        .map(short)
        .unwrap_or_else(|| "(root)".to_string());
    let _ = writeln!(
        out,
        "| **Range** | {} ({}) |",
        code_span(&r.range).replace('|', "\\|"),
        code_span(&format!("{base}..{}", short(&r.head)))
    );
    let branch = match &r.branch {
        Some(b) => code_span(b).replace('|', "\\|"),
        None => "detached HEAD".to_string(),
    };
    let _ = writeln!(out, "| **Branch** | {branch} |");
    let commits: Vec<String> = r
        .commits
        .iter()
        .map(|c| format!("{} {}", code_span(&c.short), cell(&c.subject)))
        .collect();
    let _ = writeln!(
        out,
        "| **Commits** | {} |",
        if commits.is_empty() {
            "None.".to_string()
        } else {
            commits.join("<br>")
        }
    );
    let reviewers: Vec<String> = r
        .reviewers
        .iter()
        .map(|v| {
            if v.endpoints.is_empty() {
                format!(
                    "{} — {} ({})",
                    cell(&v.name),
                    cell(&v.model),
                    code_span(&v.model_file).replace('|', "\\|")
                )
            } else {
                format!(
                    "{} — {} (on {})",
                    cell(&v.name),
                    cell(&v.model),
                    v.endpoints
                        .iter()
                        .map(|e| code_span(e).replace('|', "\\|"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        })
        .collect();
    let _ = writeln!(out, "| **Reviewers** | {} |", reviewers.join("<br>"));
    let sent = if r.code_sent_to.is_empty() {
        super::model::CODE_SENT_NOWHERE.to_string()
    } else {
        r.code_sent_to
            .iter()
            .map(|e| code_span(e).replace('|', "\\|"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "| **Code sent to** | {sent} |");
    let _ = writeln!(
        out,
        "| **Verdict** | **{}** — {} |",
        r.verdict_label(),
        cell(&r.verdict.reason)
    );
    if let Some(i) = &r.incomplete {
        let _ = writeln!(
            out,
            "| **Incomplete** | **this review stopped before it was done** — {} |",
            cell(&i.line())
        );
    }
    if let Some(v) = &r.verification {
        let _ = writeln!(out, "| **Verification** | {} |", v.describe(cell));
    }
    let _ = writeln!(
        out,
        "| **Wall-clock time** | {} |\n",
        human_duration(r.wall_clock_ms)
    );
}

fn design(out: &mut String, r: &ReviewReport) {
    out.push_str("---\n\n### Design Observations\n\n**Concerns**\n\n");
    if r.design.concerns.is_empty() {
        push_none(out);
    }
    for c in &r.design.concerns {
        let scope = match c.scope {
            Scope::Future => "`(future)`",
            Scope::InScope => "`(in-scope)`",
        };
        let who = if c.reviewers.is_empty() {
            String::new()
        } else {
            format!(" {}", reviewers_list(&c.reviewers))
        };
        let _ = writeln!(
            out,
            "- **{}** {scope}{who} — {}\n",
            inline(&c.title),
            inline(&c.text)
        );
    }
    out.push_str("**Strengths**\n\n");
    if r.design.strengths.is_empty() {
        push_none(out);
    }
    for s in &r.design.strengths {
        let who = if s.reviewers.is_empty() {
            String::new()
        } else {
            format!(" {}", reviewers_list(&s.reviewers))
        };
        let _ = writeln!(out, "- {}{who}\n", inline(&s.text));
    }
}

/// The retro's line about the lead model: which sections it wrote, or why
/// the report's prose is the data-built fallback.
/// What the engine loaded, in words ("none" is what a review answered
/// from the cache should say).
fn engine_use(u: &crate::engine::EngineUse) -> String {
    if u.is_nothing() {
        return "none (every answer came from the review cache or a server)".to_string();
    }
    let n = |k: u32, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    format!(
        "{}, {}, {}",
        n(u.vocabularies_loaded, "vocabulary", "vocabularies"),
        n(u.weights_loaded, "set of weights", "sets of weights"),
        n(u.contexts_created, "context", "contexts")
    )
}

fn lead_line(lead: &crate::review::lead::LeadStatus) -> String {
    let cached = if lead.from_cache { " (from cache)" } else { "" };
    match lead.status {
        crate::review::lead::LeadState::Used => format!(
            "**Lead** ({}){cached} wrote: {}.",
            inline(&lead.model),
            lead.sections.join(", ")
        ),
        crate::review::lead::LeadState::Fallback => format!(
            "**Lead** ({}){cached}: not used; the prose sections are built from the data. Why: {}",
            inline(&lead.model),
            inline(lead.reason.as_deref().unwrap_or("unknown"))
        ),
    }
}

fn retro(out: &mut String, r: &ReviewReport) {
    out.push_str("---\n\n## Agent Performance Retro\n\n");
    for x in &r.retro {
        let _ = writeln!(out, "### [{}]\n", inline(&x.name));
        if let Some(note) = &x.note {
            let _ = writeln!(out, "{}\n", block(note));
        }
        if x.error.is_some() && x.chunks == 0 {
            let _ = writeln!(
                out,
                "{} ({}) did not run.\n\n**Failed:** {}\n",
                inline(&x.name),
                inline(&x.model),
                inline(x.error.as_deref().unwrap_or_default())
            );
            continue;
        }
        let mut p = format!(
            "{} ({}) reviewed {} chunk(s) in {}",
            inline(&x.name),
            inline(&x.model),
            x.chunks,
            human_duration(x.duration_ms)
        );
        if !x.ran_on.is_empty() {
            let on: Vec<String> = x.ran_on.iter().map(|e| inline(e)).collect();
            let _ = write!(
                p,
                " on {} ({} prompt and {} generated tokens, as the server counted them)",
                on.join(", "),
                x.prompt_tokens,
                x.generated_tokens
            );
        }
        if x.chunks_from_cache > 0 {
            let _ = write!(p, " ({} from cache)", x.chunks_from_cache);
        }
        let _ = write!(
            p,
            ". Grounded findings: {} critical, {} important, {} suggestion(s). False positives: {} ({} ungrounded, {} rejected as invalid)",
            x.critical, x.important, x.suggestion, x.false_positives, x.ungrounded, x.rejected
        );
        if x.dropped_over_limit > 0 {
            let _ = write!(
                p,
                "; {} more findings were over the limit and dropped",
                x.dropped_over_limit
            );
        }
        p.push('.');
        if x.cut_short > 0 {
            let _ = write!(
                p,
                " Cut short: {} answer(s) ran out of max_tokens mid-way (the findings completed \
                 before were kept; raise `max_tokens` for this reviewer to read the rest).",
                x.cut_short
            );
        }
        if x.unique_insights.is_empty() {
            p.push_str(" No unique insights.");
        } else {
            let titles: Vec<String> = x.unique_insights.iter().map(|t| inline(t)).collect();
            let _ = write!(p, " Unique insights: {}.", titles.join("; "));
        }
        let _ = writeln!(out, "{p}\n");
        if let Some(e) = &x.error {
            // Some chunks reviewed, some not: the counts above are partial.
            let label = if x.failed_chunks > 0 && x.failed_chunks < x.chunks {
                "Partly failed"
            } else {
                "Failed"
            };
            let _ = writeln!(out, "**{label}:** {}\n", inline(e));
        }
    }
    out.push_str("### Summary\n\n| Metric |");
    for x in &r.retro {
        let _ = write!(out, " {} |", cell(&x.name));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(r.retro.len()));
    out.push('\n');
    let row = |out: &mut String, name: &str, f: &dyn Fn(&super::model::ReviewerRetro) -> String| {
        let _ = write!(out, "| {name} |");
        for x in &r.retro {
            let _ = write!(out, " {} |", f(x));
        }
        out.push('\n');
    };
    row(out, "Duration", &|x| {
        if x.error.is_some() && x.chunks == 0 {
            "failed".to_string()
        } else {
            clock(x.duration_ms)
        }
    });
    row(out, "Critical", &|x| x.critical.to_string());
    row(out, "Important", &|x| x.important.to_string());
    row(out, "Suggestion", &|x| x.suggestion.to_string());
    row(out, "False positives", &|x| x.false_positives.to_string());
    row(out, "Unique insights", &|x| {
        x.unique_insights.len().to_string()
    });
    out.push('\n');

    if let Some(lead) = &r.lead {
        let _ = writeln!(out, "{}\n", lead_line(lead));
    }
    let t = &r.timings;
    let _ = writeln!(
        out,
        "**Stage timings:** plan {} · load {} · prefill {} · generate {} · consolidate {}{} · lead {} · render {}\n",
        human_duration(t.plan_ms),
        human_duration(t.load_ms),
        human_duration(t.prefill_ms),
        human_duration(t.generate_ms),
        human_duration(t.consolidate_ms),
        if r.verification.as_ref().is_some_and(|v| v.skipped.is_none()) {
            format!(" · verify {}", human_duration(t.verify_ms))
        } else {
            String::new()
        },
        human_duration(t.lead_ms),
        human_duration(t.render_ms)
    );
    let _ = writeln!(out, "**Models loaded:** {}\n", engine_use(&r.engine));
    let mut not_reviewed: Vec<String> = r
        .skipped
        .iter()
        .map(|s| format!("{} ({})", code_span(&s.path), inline(&s.reason)))
        .collect();
    not_reviewed.extend(r.not_reviewed.iter().map(|n| {
        format!(
            "{} (not reviewed: {})",
            code_span(&n.path),
            inline(&n.reason)
        )
    }));
    not_reviewed.extend(r.unfit.iter().map(|u| {
        format!(
            "{} (did not fit: {})",
            code_span(&u.path),
            inline(&u.reason)
        )
    }));
    let _ = writeln!(
        out,
        "**Not reviewed:** {}\n",
        if not_reviewed.is_empty() {
            "None.".to_string()
        } else {
            not_reviewed.join(", ")
        }
    );
    let cached: Vec<String> = r
        .cache
        .from_cache
        .iter()
        .map(|c| format!("{} chunk {}", inline(&c.reviewer), c.chunk))
        .collect();
    let _ = writeln!(
        out,
        "**Cache:** {} of {} chunk review(s) from cache{}\n",
        r.cache.from_cache.len(),
        r.cache.total_chunks,
        if cached.is_empty() {
            ".".to_string()
        } else {
            format!(" ({}).", cached.join(", "))
        }
    );
    let _ = writeln!(
        out,
        "**Repository instructions:** {}\n",
        match &r.instructions_file {
            Some(p) => code_span(p),
            None => "None.".to_string(),
        }
    );
}

/// Earlier reviews' findings on this change whose code is still there
/// (followed through git: see `crate::feedback`).
fn unresolved_feedback(out: &mut String, r: &ReviewReport) {
    let fb = &r.unresolved_feedback;
    out.push_str("---\n\n### Unresolved Feedback\n\n");
    if fb.earlier_reports.is_empty() {
        out.push_str("No earlier review of this change.\n\n");
    } else {
        let n = fb.earlier_reports.len();
        let _ = writeln!(
            out,
            "{} earlier review{} of this change: {} finding{} still unresolved, {} resolved, {} no longer in the range.\n",
            n,
            if n == 1 { "" } else { "s" },
            fb.unresolved.len(),
            if fb.unresolved.len() == 1 { "" } else { "s" },
            fb.resolved,
            fb.gone
        );
        for e in &fb.unresolved {
            let moved = if e.original_file != e.file || e.original_line != e.line_start {
                format!(
                    " (then {})",
                    code_span(&format!("{}:{}", e.original_file, e.original_line))
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "- **{}** {} at {}{} — raised {} by {}{}",
                e.severity.as_str(),
                inline(&e.title),
                code_span(&format!("{}:{}", e.file, e.line_start)),
                moved,
                inline(&e.date),
                if e.reviewers.is_empty() {
                    "an earlier review".to_string()
                } else {
                    e.reviewers
                        .iter()
                        .map(|x| inline(x))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                if e.raised_again {
                    "; raised again by this review"
                } else {
                    "; not raised by this review"
                }
            );
        }
        if !fb.unresolved.is_empty() {
            out.push('\n');
        }
    }
    for note in &fb.notes {
        let _ = writeln!(out, "*Note: {}*\n", inline(note));
    }
}

/// Lines for the repository's review instructions, offered to be appended
/// by hand (the tool never edits them).
fn recommendations(out: &mut String, r: &ReviewReport) {
    out.push_str("---\n\n## Improvement Recommendations\n\n### Repo context updates\n\n");
    if r.recommendations.is_empty() {
        out.push_str("None: nothing in this review points at a gap in the repository's review instructions.\n\n");
        return;
    }
    for rec in &r.recommendations {
        let _ = writeln!(
            out,
            "- `[repo]` {} *({})*",
            inline(&rec.text),
            match rec.source {
                RecommendationSource::Lead => "lead",
                RecommendationSource::Data => "from the review's data",
            }
        );
    }
    let target = r.instructions_file.as_deref().unwrap_or("REVIEW.md");
    let _ = writeln!(
        out,
        "\nTo use them, append the lines you agree with to {} by hand (git deep-review never edits it):\n",
        code_span(target)
    );
    let lines: Vec<String> = r
        .recommendations
        .iter()
        .map(|rec| format!("- {}", rec.text))
        .collect();
    let _ = writeln!(out, "{}\n", fence(&lines.join("\n"), Some("text")));
}

fn appendix(out: &mut String, r: &ReviewReport) {
    out.push_str("---\n\n## Appendix: Original Reviews\n\n");
    if r.appendix.is_empty() {
        push_none(out);
    }
    for a in &r.appendix {
        let _ = writeln!(out, "### {}\n", inline(&a.reviewer));
        if let Some(e) = &a.error {
            let _ = writeln!(out, "**Failed:** {}\n", inline(e));
        }
        for c in &a.chunks {
            let cached = if c.from_cache { " (from cache)" } else { "" };
            let _ = writeln!(out, "**Chunk {}**{cached}\n", c.chunk);
            if let Some(e) = &c.error {
                let _ = writeln!(out, "Error: {}\n", inline(e));
            }
            if c.thinking_tokens > 0 || !c.thinking.is_empty() {
                let _ = writeln!(
                    out,
                    "Thinking ({} tokens; not read for findings):\n\n{}\n",
                    c.thinking_tokens,
                    fence(&c.thinking, Some("text"))
                );
            }
            if c.raw.is_empty() {
                out.push_str("_No output._\n\n");
            } else {
                let _ = writeln!(out, "{}\n", fence(&c.raw, Some("json")));
            }
        }
        out.push_str("**Findings as validated**\n\n");
        if a.findings.is_empty() {
            push_none(out);
        }
        for (i, f) in a.findings.iter().enumerate() {
            let x = &f.finding;
            let status = match &f.status {
                FindingStatus::Grounded => "grounded".to_string(),
                FindingStatus::Ungrounded { reason } => {
                    format!("**ungrounded**: {}", inline(reason))
                }
            };
            let _ = writeln!(
                out,
                "{}. **{}** — {} ({}, {}) — {status}",
                i + 1,
                inline(&x.title),
                location(&x.file, x.line_start, x.line_end),
                x.severity.as_str(),
                x.kind.as_str()
            );
        }
        if !a.findings.is_empty() {
            out.push('\n');
        }
        if !a.rejected.is_empty() || a.dropped_over_limit > 0 {
            out.push_str("**Rejected during validation**\n\n");
            for x in &a.rejected {
                let _ = writeln!(
                    out,
                    "- chunk {}, finding {}: {} — {}",
                    x.chunk,
                    x.index + 1,
                    if x.title.is_empty() {
                        "(no title)".to_string()
                    } else {
                        inline(&x.title)
                    },
                    inline(&x.reason)
                );
            }
            if a.dropped_over_limit > 0 {
                let _ = writeln!(
                    out,
                    "- {} finding(s) over the per-review limit were dropped unread",
                    a.dropped_over_limit
                );
            }
            out.push('\n');
        }
    }
}

/// The whole report as Markdown.
pub fn render(r: &ReviewReport) -> String {
    let mut out = String::new();
    header(&mut out, r);
    out.push_str("---\n\n## Consolidated Review\n\n### Executive Summary\n\n");
    let summary = block(&r.executive_summary.text);
    if summary.is_empty() {
        push_none(&mut out);
    } else {
        let _ = writeln!(out, "{summary}\n");
    }
    out.push_str("### Critical Issues\n\n");
    severity_section(&mut out, r, Severity::Critical);
    out.push_str("### Important Issues\n\n");
    severity_section(&mut out, r, Severity::Important);
    out.push_str("---\n\n### Suggestions\n\n");
    severity_section(&mut out, r, Severity::Suggestion);
    design(&mut out, r);
    prose_section(&mut out, "Testing Assessment", &r.testing.text);
    prose_section(&mut out, "Documentation Assessment", &r.documentation.text);
    prose_section(&mut out, "Commit Structure", &r.commit_structure.text);
    unresolved_feedback(&mut out, r);
    retro(&mut out, r);
    recommendations(&mut out, r);
    refuted(&mut out, r);
    appendix(&mut out, r);
    let mut s = out.trim_end().to_string();
    s.push('\n');
    s
}
