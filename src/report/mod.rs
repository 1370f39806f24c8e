//! Stage 9: the checked review → one [`ReviewReport`], rendered as
//! Markdown ([`markdown`]), JSON ([`json`]), SARIF ([`sarif`]) or a short
//! terminal summary ([`terminal`]).
//!
//! The report only assembles and renders: the pipeline hands over plain
//! data ([`ReportInput`]: the plan, file contents at head, the
//! [`Checked`] result of stages 5–8) and [`assemble`] adds excerpts, the
//! retro, the appendix and deterministic prose for every section. The lead
//! model's prose, when usable, replaces that prose through
//! [`ReviewReport::apply_lead_prose`].

pub mod escape;
pub mod fallback;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod terminal;
pub mod write;

pub use write::{default_report_path, write_atomic};

pub use crate::check::{FindingStatus, ListedFinding};
pub use crate::reviewers::{ChunkOutput, ReviewerInfo};

use crate::check::Checked;
use crate::consolidate::ConsolidatedFinding;
use crate::findings::{Rejected, Severity};
use crate::grounding::excerpt;
use crate::lead::{LeadProse, LeadStatus};
use crate::plan::ReviewPlan;
use crate::text::sanitize_text;
use crate::verdict::VerdictDecision;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Version of the JSON document; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;
/// Most lines of repository code shown under one finding.
pub const MAX_EXCERPT_LINES: usize = 40;
/// Most characters of one raw model output kept in the appendix.
pub const MAX_RAW_CHARS: usize = 20_000;
/// Most characters of one chunk's thinking kept in the appendix and JSON.
pub const MAX_THINKING_CHARS: usize = 8_000;

/// A commit author, deduplicated by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    pub email: String,
}

/// One commit as the header and the commit-structure section show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitLine {
    pub id: String,
    pub short: String,
    pub subject: String,
    pub author: String,
    pub parents: usize,
    pub files: u32,
    pub additions: u32,
    pub deletions: u32,
}

/// Milliseconds spent per pipeline stage (summed over reviewers for the
/// model stages, so they can exceed the wall-clock time when parallel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTimings {
    pub plan_ms: u64,
    pub load_ms: u64,
    pub prefill_ms: u64,
    pub generate_ms: u64,
    /// Validation + grounding + consolidation + verdict.
    pub consolidate_ms: u64,
    /// The lead model's prose (0 when answered from the cache or off).
    pub lead_ms: u64,
    pub render_ms: u64,
}

/// A consolidated finding with what the report shows under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFinding {
    #[serde(flatten)]
    pub finding: ConsolidatedFinding,
    /// Exact lines of the file at the reviewed head (never model text).
    pub excerpt: String,
    /// Lines of the range not shown because of [`MAX_EXCERPT_LINES`].
    pub excerpt_omitted_lines: u32,
    /// Language tag for the fenced block (`rust`), from the plan.
    pub language: Option<String>,
}

/// Whether a design concern is for this change or for later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    InScope,
    Future,
}

/// A design concern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concern {
    pub title: String,
    pub text: String,
    pub scope: Scope,
    pub reviewers: Vec<String>,
}

/// A design strength.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strength {
    pub text: String,
    pub reviewers: Vec<String>,
}

/// The Design Observations section. Only the lead model writes it (there is
/// no honest deterministic way to judge design), so it is empty otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesignObservations {
    pub concerns: Vec<Concern>,
    pub strengths: Vec<Strength>,
}

/// A prose section and where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prose {
    /// Markdown-ish text (escaped by the renderer). Empty = "None.".
    pub text: String,
    /// True when the lead model wrote it, false for the deterministic fallback.
    pub from_lead: bool,
}

/// One reviewer's line in the Agent Performance Retro.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerRetro {
    pub name: String,
    pub model: String,
    pub duration_ms: u64,
    pub chunks: usize,
    pub chunks_from_cache: usize,
    /// Chunks whose generation failed or whose output was unusable.
    pub failed_chunks: usize,
    /// Grounded findings by the reviewer's own severity.
    pub critical: usize,
    pub important: usize,
    pub suggestion: usize,
    pub ungrounded: usize,
    pub rejected: usize,
    /// Findings beyond the per-review limit, dropped unread.
    pub dropped_over_limit: usize,
    /// `ungrounded + rejected`.
    pub false_positives: usize,
    /// Chunks whose answer ran out of `max_tokens` mid-way: the findings
    /// completed before that were kept, later ones never written.
    #[serde(default)]
    pub cut_short: usize,
    /// Titles of consolidated findings only this reviewer raised.
    pub unique_insights: Vec<String>,
    /// Why the reviewer (or some of its chunks) failed.
    pub error: Option<String>,
    /// The lead model's paragraph about this reviewer, if any.
    pub note: Option<String>,
    /// The servers that answered its chunks (empty: this machine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ran_on: Vec<String>,
    /// Prompt and generated tokens of the chunks it ran (not from the
    /// cache), as the engine or the server counted them.
    #[serde(default)]
    pub prompt_tokens: usize,
    #[serde(default)]
    pub generated_tokens: usize,
}

/// One reviewer's section of the appendix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerAppendix {
    pub reviewer: String,
    pub chunks: Vec<ChunkOutput>,
    pub findings: Vec<ListedFinding>,
    pub rejected: Vec<Rejected>,
    pub dropped_over_limit: usize,
    pub error: Option<String>,
}

/// A file (or part) that was not reviewed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotReviewed {
    pub path: String,
    pub reason: String,
}

/// A chunk answered from the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedChunk {
    pub reviewer: String,
    pub chunk: usize,
}

/// Which reviews came from the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheInfo {
    pub total_chunks: usize,
    pub from_cache: Vec<CachedChunk>,
}

/// Everything the report says. Serialised as is, this is `--format json`
/// (see [`json`] for the field list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReport {
    pub schema_version: u32,
    /// `YYYYMMDD-HHMMSS-<branch-or-range>`, safe as a file name.
    pub id: String,
    /// Start of the run, `YYYY-MM-DD HH:MM` local time.
    pub date: String,
    pub authors: Vec<Author>,
    /// The range as the user wrote it.
    pub range: String,
    pub base: Option<String>,
    pub head: String,
    pub branch: Option<String>,
    pub commits: Vec<CommitLine>,
    pub reviewers: Vec<ReviewerInfo>,
    pub verdict: VerdictDecision,
    pub wall_clock_ms: u64,
    pub timings: StageTimings,
    /// Consolidated findings, critical first.
    pub findings: Vec<ReportFinding>,
    pub executive_summary: Prose,
    pub design: DesignObservations,
    pub testing: Prose,
    pub documentation: Prose,
    pub commit_structure: Prose,
    pub retro: Vec<ReviewerRetro>,
    pub appendix: Vec<ReviewerAppendix>,
    /// Files not reviewed (binary, lock file, ignored...).
    pub skipped: Vec<NotReviewed>,
    /// Diff parts too large for any chunk.
    pub unfit: Vec<NotReviewed>,
    pub cache: CacheInfo,
    /// Repository instructions file given to the reviewers, if any.
    pub instructions_file: Option<String>,
    /// Chunks the reviewers never saw (time budget ran out, Ctrl-C): the
    /// report covers the rest only.
    #[serde(default)]
    pub not_reviewed: Vec<NotReviewed>,
    /// What became of the lead model's prose (`None`: no lead configured).
    #[serde(default)]
    pub lead: Option<LeadStatus>,
    /// Every reviewer that ran is a bundled demonstration model: the report
    /// says plainly that it is not a review.
    #[serde(default)]
    pub demonstration_only: bool,
    /// Every inference server that was sent code of this change (empty:
    /// nothing left the machine).
    #[serde(default)]
    pub code_sent_to: Vec<String>,
    /// What the in-process engine loaded for this run (nothing, when every
    /// answer came from the cache).
    #[serde(default)]
    pub engine: crate::engine::EngineUse,
}

/// The pipeline's data, handed to [`assemble`].
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub plan: &'a ReviewPlan,
    /// File text at the reviewed head, by path (excerpts are cut from it).
    pub contents: &'a HashMap<String, String>,
    pub checked: Checked,
    /// When the run started (its time zone is the one the date is shown in).
    pub started: jiff::Zoned,
    pub wall_clock_ms: u64,
    pub timings: StageTimings,
    pub instructions_file: Option<String>,
    /// Chunks not reviewed, by index, and why.
    pub not_reviewed: Vec<(usize, String)>,
}

/// Makes `s` safe as part of a file name: anything but ASCII letters,
/// digits, `_` and `-` becomes `-`, runs collapse, ends are trimmed, at
/// most 80 characters (`feature/x` → `feature-x`, `origin/main..` →
/// `origin-main`).
pub fn sanitize_file_part(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let t: String = out.trim_matches('-').chars().take(80).collect();
    let t = t.trim_end_matches('-').to_string();
    if t.is_empty() {
        "review".to_string()
    } else {
        t
    }
}

/// The report id: `YYYYMMDD-HHMMSS-<branch, or range when detached>`.
pub fn report_id(started: &jiff::Zoned, branch: Option<&str>, range: &str) -> String {
    format!(
        "{}-{}",
        started.strftime("%Y%m%d-%H%M%S"),
        sanitize_file_part(branch.unwrap_or(range))
    )
}

/// Output formats of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    Sarif,
}

/// Renders the report in `format`.
pub fn render(report: &ReviewReport, format: Format) -> String {
    match format {
        Format::Markdown => markdown::render(report),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
    }
}

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
    let findings: Vec<ReportFinding> = checked
        .consolidated
        .iter()
        .map(|f| {
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
        })
        .collect();

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
        let _ = writeln!(
            s,
            "\nData-based assessments:\n- testing: {}\n- documentation: {}\n- commits: {}",
            report.testing.text, report.documentation.text, report.commit_structure.text
        );
        s
    }

    /// Replaces fallback prose by the lead model's where it wrote something
    /// usable (already validated by [`crate::lead::parse`]); everything
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
    }

    /// Consolidated findings per severity, most severe first.
    pub fn counts(&self) -> BTreeMap<Severity, usize> {
        let mut m = BTreeMap::from([
            (Severity::Critical, 0),
            (Severity::Important, 0),
            (Severity::Suggestion, 0),
        ]);
        for f in &self.findings {
            *m.entry(f.finding.severity).or_default() += 1;
        }
        m
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
