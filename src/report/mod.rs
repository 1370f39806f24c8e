//! Stage 9: everything the review found → one [`ReviewReport`], rendered as
//! Markdown ([`markdown`]), JSON ([`json`]), SARIF ([`sarif`]) or a short
//! terminal summary ([`terminal`]).
//!
//! The pipeline hands over plain data
//! ([`ReportInput`]: the plan, file contents at head, each reviewer's raw
//! output); [`build_report`] validates, grounds, consolidates, decides the
//! verdict and fills deterministic fallbacks for every prose section. The
//! lead model's prose, when usable, replaces the fallbacks through
//! [`ReviewReport::apply_lead_prose`].

pub mod fallback;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod terminal;
pub mod write;

pub use write::{default_report_path, write_atomic};

use crate::consolidate::{consolidate, ConsolidatedFinding};
use crate::findings::{parse_review, sanitize_text, Finding, Rejected, Severity};
use crate::grounding::{excerpt, ground, hunk_ranges};
use crate::plan::ReviewPlan;
use crate::verdict::{decide, VerdictDecision};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Version of the JSON document; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;
/// Most lines of repository code shown under one finding.
pub const MAX_EXCERPT_LINES: usize = 40;
/// Most characters of one raw model output kept in the appendix.
pub const MAX_RAW_CHARS: usize = 20_000;
/// Longest lead-model prose section kept, in characters.
pub const MAX_PROSE_CHARS: usize = 6_000;

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

/// Who reviewed: shown in the header, the retro and the appendix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerInfo {
    /// Reviewer name (`correctness`).
    pub name: String,
    /// Model name from the manifest (`smollm2-135m`).
    pub model: String,
    /// Model file name (`SmolLM2-135M-Instruct.Q4_1.gguf`).
    pub model_file: String,
    /// Persona prompt file (`correctness.md`).
    pub persona: String,
}

/// Milliseconds spent per pipeline stage (summed over reviewers for the
/// model stages, so they can exceed the wall-clock time when parallel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTimings {
    pub plan_ms: u64,
    pub load_ms: u64,
    pub prefill_ms: u64,
    pub generate_ms: u64,
    /// Validation + grounding + consolidation + verdict (set by [`build_report`]).
    pub consolidate_ms: u64,
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
    /// Titles of consolidated findings only this reviewer raised.
    pub unique_insights: Vec<String>,
    /// Why the reviewer (or some of its chunks) failed.
    pub error: Option<String>,
    /// The lead model's paragraph about this reviewer, if any.
    pub note: Option<String>,
}

/// Grounding status of a finding in the appendix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum FindingStatus {
    Grounded,
    Ungrounded { reason: String },
}

/// A validated finding with its grounding status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendixFinding {
    pub finding: Finding,
    #[serde(flatten)]
    pub status: FindingStatus,
}

/// What a reviewer produced for one chunk, exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkOutput {
    pub chunk: usize,
    /// Raw model text (clipped to [`MAX_RAW_CHARS`] in the report).
    pub raw: String,
    pub from_cache: bool,
    /// Generation or parse failure for this chunk.
    pub error: Option<String>,
}

/// One reviewer's section of the appendix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerAppendix {
    pub reviewer: String,
    pub chunks: Vec<ChunkOutput>,
    pub findings: Vec<AppendixFinding>,
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
}

/// One reviewer's run as the pipeline saw it.
#[derive(Debug, Clone, Default)]
pub struct ReviewerRun {
    pub info: ReviewerInfo,
    pub duration_ms: u64,
    /// Raw output per chunk (in any order); parsed by [`build_report`].
    pub chunks: Vec<ChunkOutput>,
    /// Set when the whole reviewer failed (e.g. its model did not load).
    pub error: Option<String>,
}

/// The pipeline's data, handed to [`build_report`].
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub plan: &'a ReviewPlan,
    /// File text at the reviewed head, by path (for grounding and excerpts).
    pub contents: &'a HashMap<String, String>,
    pub runs: Vec<ReviewerRun>,
    /// When the run started (its time zone is the one the date is shown in).
    pub started: jiff::Zoned,
    pub wall_clock_ms: u64,
    /// Stage timings so far; `consolidate_ms` is overwritten.
    pub timings: StageTimings,
    pub instructions_file: Option<String>,
}

/// What the lead model wrote; `None`/empty fields keep the fallback.
#[derive(Debug, Clone, Default)]
pub struct LeadProse {
    pub executive_summary: Option<String>,
    pub design: Option<DesignObservations>,
    pub testing: Option<String>,
    pub documentation: Option<String>,
    pub commit_structure: Option<String>,
    /// Retro paragraph per reviewer name.
    pub retro: HashMap<String, String>,
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

/// Each chunk's files with their reviewed new-side lines, for path
/// resolution in [`parse_review`].
fn chunk_files(plan: &ReviewPlan) -> HashMap<usize, Vec<(String, Vec<u32>)>> {
    plan.chunks
        .iter()
        .map(|c| {
            let files = c
                .files
                .iter()
                .filter_map(|cf| {
                    let f = plan.files.get(cf.file)?;
                    let lines = cf
                        .hunks
                        .iter()
                        .filter_map(|&h| f.hunks.get(h))
                        .flat_map(|h| h.lines.iter().filter_map(|l| l.new_line))
                        .collect();
                    Some((f.path.clone(), lines))
                })
                .collect();
            (c.index, files)
        })
        .collect()
}

/// Builds the whole report from pipeline data: validation, grounding,
/// consolidation, verdict, excerpts, retro, appendix and the deterministic
/// fallbacks for every prose section.
pub fn build_report(input: ReportInput<'_>) -> ReviewReport {
    let t0 = std::time::Instant::now();
    let plan = input.plan;
    let range = &plan.range;
    let per_chunk = chunk_files(plan);
    let hunks = hunk_ranges(plan);

    let mut all_grounded: Vec<Finding> = Vec::new();
    let mut appendix = Vec::new();
    let mut retro = Vec::new();
    let mut cache = CacheInfo::default();
    let mut reviewers_ok = 0usize;
    for run in &input.runs {
        let name = &run.info.name;
        let mut chunks = run.chunks.clone();
        chunks.sort_by_key(|c| c.chunk);
        let mut findings = Vec::new();
        let mut rejected = Vec::new();
        let mut dropped = 0;
        let mut ok_chunks = 0;
        for c in &mut chunks {
            cache.total_chunks += 1;
            if c.from_cache {
                cache.from_cache.push(CachedChunk {
                    reviewer: name.clone(),
                    chunk: c.chunk,
                });
            }
            if c.error.is_some() {
                continue;
            }
            let files = per_chunk.get(&c.chunk).map(Vec::as_slice).unwrap_or(&[]);
            match parse_review(name, c.chunk, &c.raw, files) {
                Ok(p) => {
                    ok_chunks += 1;
                    findings.extend(p.findings);
                    rejected.extend(p.rejected);
                    dropped += p.dropped_over_limit;
                }
                Err(e) => c.error = Some(format!("unusable output: {e}")),
            }
            c.raw = sanitize_text(&c.raw, MAX_RAW_CHARS, true);
        }
        if run.error.is_none() && ok_chunks > 0 {
            reviewers_ok += 1;
        }
        let order = findings.clone();
        let g = ground(findings, &hunks, input.contents);
        let mut sev = [0usize; 3];
        for f in &g.grounded {
            sev[f.severity as usize] += 1;
        }
        let chunk_errors: Vec<String> = chunks
            .iter()
            .filter_map(|c| c.error.as_ref().map(|e| format!("chunk {}: {e}", c.chunk)))
            .collect();
        let error = run
            .error
            .clone()
            .or_else(|| (!chunk_errors.is_empty()).then(|| chunk_errors.join("; ")));
        retro.push(ReviewerRetro {
            name: name.clone(),
            model: run.info.model.clone(),
            duration_ms: run.duration_ms,
            chunks: chunks.len(),
            chunks_from_cache: chunks.iter().filter(|c| c.from_cache).count(),
            failed_chunks: chunks.iter().filter(|c| c.error.is_some()).count(),
            critical: sev[Severity::Critical as usize],
            important: sev[Severity::Important as usize],
            suggestion: sev[Severity::Suggestion as usize],
            ungrounded: g.ungrounded.len(),
            rejected: rejected.len(),
            dropped_over_limit: dropped,
            false_positives: g.ungrounded.len() + rejected.len(),
            unique_insights: Vec::new(),
            error: error.clone(),
            note: None,
        });
        // The appendix lists findings in the order the reviewer wrote them;
        // `ground` keeps order within both outputs, so a merge restores it.
        let mut listed = Vec::with_capacity(order.len());
        let (mut gi, mut ui) = (0, 0);
        for f in &order {
            if g.grounded.get(gi) == Some(f) {
                gi += 1;
                listed.push(AppendixFinding {
                    finding: f.clone(),
                    status: FindingStatus::Grounded,
                });
            } else if let Some(u) = g.ungrounded.get(ui) {
                ui += 1;
                listed.push(AppendixFinding {
                    finding: u.finding.clone(),
                    status: FindingStatus::Ungrounded {
                        reason: u.reason.to_string(),
                    },
                });
            }
        }
        appendix.push(ReviewerAppendix {
            reviewer: name.clone(),
            chunks,
            findings: listed,
            rejected,
            dropped_over_limit: dropped,
            error,
        });
        all_grounded.extend(g.grounded);
    }

    let consolidated = consolidate(&all_grounded);
    for r in &mut retro {
        r.unique_insights = consolidated
            .iter()
            .filter(|c| c.reviewers.len() == 1 && c.reviewers[0] == r.name)
            .map(|c| c.title.clone())
            .collect();
    }
    let verdict = decide(&consolidated, reviewers_ok);
    let languages: HashMap<&str, Option<String>> = plan
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.language.clone()))
        .collect();
    let findings: Vec<ReportFinding> = consolidated
        .into_iter()
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
                finding: f,
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
            id: c.id.clone(),
            short: c.short.clone(),
            subject: c.subject.clone(),
            author: c.author_name.clone(),
            parents: c.parents,
            files: c.stat.files,
            additions: c.stat.additions,
            deletions: c.stat.deletions,
        })
        .collect();
    let mut timings = input.timings.clone();
    let mut report = ReviewReport {
        schema_version: SCHEMA_VERSION,
        id: report_id(&input.started, range.branch.as_deref(), &range.spec),
        date: input.started.strftime("%Y-%m-%d %H:%M").to_string(),
        authors,
        range: range.spec.clone(),
        base: range.base.clone(),
        head: range.head.clone(),
        branch: range.branch.clone(),
        commits,
        reviewers: input.runs.iter().map(|r| r.info.clone()).collect(),
        verdict,
        wall_clock_ms: input.wall_clock_ms,
        timings: StageTimings::default(),
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
    timings.consolidate_ms = t0.elapsed().as_millis() as u64;
    report.timings = timings;
    report
}

/// Lead-model text is untrusted: sanitised and clipped, and unusable
/// (empty) text keeps the fallback.
fn usable(text: Option<String>) -> Option<String> {
    let t = sanitize_text(&text?, MAX_PROSE_CHARS, true);
    (!t.is_empty()).then_some(t)
}

impl ReviewReport {
    /// Replaces fallback prose by the lead model's where it wrote something
    /// usable; everything else stays as built.
    pub fn apply_lead_prose(&mut self, prose: LeadProse) {
        for (slot, text) in [
            (&mut self.executive_summary, prose.executive_summary),
            (&mut self.testing, prose.testing),
            (&mut self.documentation, prose.documentation),
            (&mut self.commit_structure, prose.commit_structure),
        ] {
            if let Some(t) = usable(text) {
                *slot = Prose {
                    text: t,
                    from_lead: true,
                };
            }
        }
        if let Some(d) = prose.design {
            let clean = |s: &str, max| sanitize_text(s, max, false);
            self.design = DesignObservations {
                concerns: d
                    .concerns
                    .iter()
                    .filter(|c| !c.title.trim().is_empty() || !c.text.trim().is_empty())
                    .map(|c| Concern {
                        title: clean(&c.title, 200),
                        text: sanitize_text(&c.text, 2000, true),
                        scope: c.scope,
                        reviewers: c.reviewers.iter().map(|r| clean(r, 100)).collect(),
                    })
                    .collect(),
                strengths: d
                    .strengths
                    .iter()
                    .filter(|s| !s.text.trim().is_empty())
                    .map(|s| Strength {
                        text: sanitize_text(&s.text, 2000, true),
                        reviewers: s.reviewers.iter().map(|r| clean(r, 100)).collect(),
                    })
                    .collect(),
            };
        }
        for r in &mut self.retro {
            if let Some(t) = usable(prose.retro.get(&r.name).cloned()) {
                r.note = Some(t);
            }
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
