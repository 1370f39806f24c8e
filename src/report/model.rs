//! What a report says, as plain data: the [`ReviewReport`] every format
//! renders and the pipeline's [`ReportInput`] it is assembled from.

pub use crate::check::{FindingStatus, ListedFinding};
pub use crate::review::reviewers::{ChunkOutput, ReviewerInfo};

use crate::check::consolidate::ConsolidatedFinding;
use crate::check::findings::Rejected;
use crate::check::verdict::VerdictDecision;
use crate::check::Checked;
use crate::gate::ReviewFacts;
use crate::plan::ReviewPlan;
use crate::review::lead::LeadStatus;
use crate::severity::Severity;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Version of the JSON document; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;
/// Most lines of repository code shown under one finding.
pub const MAX_EXCERPT_LINES: usize = 40;
/// Most characters of one raw model output kept in the appendix.
pub const MAX_RAW_CHARS: usize = 20_000;
/// Most characters of one chunk's thinking kept in the appendix and JSON.
pub const MAX_THINKING_CHARS: usize = 8_000;
/// Most diff lines the HTML report shows (a huge range must not make a
/// page of hundreds of megabytes); the rest is named as cut.
pub const MAX_DIFF_LINES: usize = 20_000;
/// Longest diff line shown, in characters (minified files).
pub const MAX_DIFF_LINE_CHARS: usize = 2_000;
/// Most characters of context text kept for the HTML report, all chunks together.
pub const MAX_CONTEXT_TEXT_CHARS: usize = 2_000_000;

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
    /// The verify stage (absent when it did not run).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub verify_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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

/// The "Code sent to" row when [`ReviewReport::code_sent_to`] is empty.
pub const CODE_SENT_NOWHERE: &str = "nowhere: every model ran on this machine";

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
    /// Earlier reviews' findings on this change, followed to its head.
    #[serde(default)]
    pub unresolved_feedback: crate::feedback::Feedback,
    /// Lines for the repository's review instructions.
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
    /// The read-only context the reviewers were shown (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextShown>,
    /// The verify stage (absent: `verify = off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::verify::model::VerificationSummary>,
    /// Findings the verifier refuted, with its reason: not among
    /// `findings`, never counted by the gate, kept here to be seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refuted: Vec<ReportFinding>,
    /// What the repository's own configuration did to this review (switched
    /// the gate off, ignored files) and changes to it inside the range,
    /// which take effect only once merged. Empty: nothing to say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configuration: Vec<String>,
    /// The run's time budget in seconds (`review.time_budget`; 0: not
    /// recorded).
    #[serde(default)]
    pub time_budget_secs: u64,
    /// Present when the run stopped before it was done (the time budget
    /// ran out): the report covers only what was done, and says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<Incomplete>,
    /// The repository's public address, credentials stripped
    /// ([`crate::git::remote::repository_uri`]); absent without a network
    /// remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The range's diff, bounded, for the HTML report. Not part of the
    /// JSON document (its schema is unchanged; the diff is git's to give).
    #[serde(skip)]
    pub diff: DiffShown,
}

/// The diff of the range as the HTML report shows it: the reviewed files'
/// hunks in plan order, cut at [`MAX_DIFF_LINES`] lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffShown {
    pub files: Vec<crate::git::diff::FileDiff>,
    /// Diff lines left out because of [`MAX_DIFF_LINES`].
    pub cut_lines: usize,
    /// Files (wholly or partly) left out for that reason.
    pub cut_files: Vec<String>,
    /// Lines clipped to [`MAX_DIFF_LINE_CHARS`].
    pub clipped_lines: usize,
}

impl DiffShown {
    /// The first [`MAX_DIFF_LINES`] lines of `files`, long lines clipped.
    pub fn of(files: &[crate::git::diff::FileDiff]) -> DiffShown {
        Self::bounded(files, MAX_DIFF_LINES)
    }

    /// [`DiffShown::of`] with another bound (tests).
    pub fn bounded(files: &[crate::git::diff::FileDiff], max_lines: usize) -> DiffShown {
        let mut out = DiffShown::default();
        let mut left = max_lines;
        for f in files {
            let total: usize = f.hunks.iter().map(|h| h.lines.len()).sum();
            let mut file = f.clone();
            if total > left {
                out.cut_lines += total - left;
                out.cut_files.push(f.path.clone());
                let mut keep = left;
                file.hunks.retain_mut(|h| {
                    if keep == 0 {
                        return false;
                    }
                    h.lines.truncate(keep);
                    keep -= h.lines.len();
                    true
                });
            }
            left -= file.hunks.iter().map(|h| h.lines.len()).sum::<usize>();
            for h in &mut file.hunks {
                for l in &mut h.lines {
                    if l.text.chars().count() > MAX_DIFF_LINE_CHARS {
                        let mut t: String = l.text.chars().take(MAX_DIFF_LINE_CHARS).collect();
                        t.push('…');
                        l.text = t;
                        out.clipped_lines += 1;
                    }
                }
            }
            if total > 0 && file.hunks.is_empty() {
                continue;
            }
            out.files.push(file);
        }
        out
    }
}

/// What a run that stopped early left undone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incomplete {
    /// Why it stopped ("the time budget (2 s) ran out").
    pub reason: String,
    /// Chunks no reviewer saw, of `chunks`.
    pub chunks_not_reviewed: usize,
    pub chunks: usize,
    /// Later stages cut short, one line each ("verification: …", "lead: …").
    #[serde(default)]
    pub stages: Vec<String>,
}

impl Incomplete {
    /// One line for the report header, the terminal and the hook.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}: {} of {} chunk{} not reviewed",
            self.reason,
            self.chunks_not_reviewed,
            self.chunks,
            if self.chunks == 1 { "" } else { "s" }
        );
        for st in &self.stages {
            s.push_str("; ");
            s.push_str(st);
        }
        s
    }
}

/// What context each chunk's reviewers read, as the report records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextShown {
    /// The configured budget per chunk, and what counted it.
    pub budget: usize,
    pub counted_with: String,
    pub chunks: Vec<ContextChunk>,
    /// Files of the head tree left out of the index.
    pub not_indexed: usize,
}

/// The context of one chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextChunk {
    pub chunk: usize,
    pub budget: usize,
    pub tokens: usize,
    /// `kind path:start-end (tokens): reason`, in the order shown.
    pub items: Vec<String>,
    /// Candidates the budget left out.
    pub dropped: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The items with the code shown, for the HTML report (not in the
    /// JSON: the code is the repository's, `items` says what it was).
    #[serde(skip)]
    pub shown: Vec<ContextText>,
}

/// One context item with its text, as the reviewers read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextText {
    /// `kind path:start-end (tokens): reason`, as in `items`.
    pub label: String,
    pub path: String,
    /// The numbered lines shown (empty past [`MAX_CONTEXT_TEXT_CHARS`]).
    pub text: String,
}

impl ContextShown {
    /// The record of `plan`; `None` when no chunk was shown any context.
    pub fn of(plan: &crate::context::ContextPlan) -> Option<ContextShown> {
        if !plan.enabled {
            return None;
        }
        let mut left = MAX_CONTEXT_TEXT_CHARS;
        let label = |i: &crate::context::ContextItem| {
            format!(
                "{} {}:{}-{} ({} tokens): {}",
                i.kind.as_str(),
                i.path,
                i.start,
                i.end,
                i.tokens,
                i.reason
            )
        };
        Some(ContextShown {
            budget: plan.budget,
            counted_with: plan.counted_with.clone(),
            not_indexed: plan.skipped.len(),
            chunks: plan
                .packs
                .iter()
                .map(|p| ContextChunk {
                    chunk: p.chunk,
                    budget: p.budget,
                    tokens: p.tokens,
                    items: p.items.iter().map(label).collect(),
                    dropped: p.dropped.len(),
                    note: p.note.clone(),
                    shown: p
                        .items
                        .iter()
                        .map(|i| {
                            let n = i.text.chars().count();
                            let text = if n <= left {
                                left -= n;
                                i.text.clone()
                            } else {
                                left = 0;
                                String::new()
                            };
                            ContextText {
                                label: label(i),
                                path: i.path.clone(),
                                text,
                            }
                        })
                        .collect(),
                })
                .collect(),
        })
    }
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
    /// GitLab's Code Quality report ([`super::codequality`]).
    Codequality,
    /// One self-contained page (see [`super::html`]).
    Html,
}

impl ReviewReport {
    /// The verdict as the report shows it: a demonstration is never
    /// labelled as a review's verdict ("Merge as-is" from a 135M model).
    pub fn verdict_label(&self) -> &'static str {
        if self.demonstration_only {
            crate::check::verdict::DEMONSTRATION_LABEL
        } else {
            self.verdict.verdict.label()
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

    /// What the gate needs to know of this review, as plain data, and
    /// where its report went.
    pub fn gate_facts(&self, path: Option<&Path>) -> ReviewFacts {
        let pairs = |v: &[NotReviewed]| {
            v.iter()
                .map(|n| (n.path.clone(), n.reason.clone()))
                .collect::<Vec<_>>()
        };
        ReviewFacts {
            findings: self.findings.iter().map(|f| f.finding.clone()).collect(),
            reviewers: self.retro.len(),
            reviewers_ran: self
                .retro
                .iter()
                .filter(|r| r.chunks > r.failed_chunks)
                .count(),
            failed: self
                .retro
                .iter()
                .filter(|r| r.chunks == r.failed_chunks && r.error.is_some())
                .map(|r| (r.name.clone(), r.error.clone().unwrap_or_default()))
                .collect(),
            unreviewable: pairs(&self.unfit),
            not_reviewed: pairs(&self.not_reviewed),
            report: path.map(Path::to_path_buf),
            unresolved: self
                .unresolved_feedback
                .unresolved
                .iter()
                .filter(|e| !e.raised_again)
                .cloned()
                .collect(),
            refuted: self.refuted.iter().map(|f| f.finding.clone()).collect(),
            configuration: self.configuration.clone(),
            demonstration_only: self.demonstration_only,
        }
    }
}

/// Longest recommendation, in characters.
pub const MAX_RECOMMENDATION_CHARS: usize = 320;

/// One line for the repository's review instructions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The line, plain text (rendered escaped).
    pub text: String,
    /// Who proposed it.
    pub source: RecommendationSource,
}

/// Where a recommendation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecommendationSource {
    /// The lead model, from the review's facts.
    Lead,
    /// The review's data (`report::recommend::from_data`).
    Data,
}

impl Recommendation {
    /// A recommendation with its text cleaned and bounded.
    pub fn new(text: &str, source: RecommendationSource) -> Recommendation {
        Recommendation {
            text: crate::text::sanitize_text(text, MAX_RECOMMENDATION_CHARS, false)
                .trim()
                .to_string(),
            source,
        }
    }
}
