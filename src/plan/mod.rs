//! Stage 3: per-file diffs → a review plan: what is reviewed, what is
//! skipped and why, and how the diff is split into chunks that fit a
//! model's context.
//!
//! Nothing is ever dropped silently: every file is either in a chunk, in
//! `skipped`, or in `unfit`, and a line cut to fit says how much was cut.

pub mod recut;

use crate::git::diff::FileDiff;
use crate::git::range::ReviewRange;
use serde::Serialize;

/// Why a file is not reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub path: String,
    /// Human-readable reason: `binary`, `lock file`, `matches ignore glob "vendor/**"`...
    pub reason: String,
}

/// Part of one file's diff that goes into a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChunkFile {
    /// Index into `ReviewPlan::files`.
    pub file: usize,
    /// Indices into that file's `hunks` (all of them when the file is whole).
    pub hunks: Vec<usize>,
    /// True when the file was split across chunks.
    pub partial: bool,
}

/// One unit of review: fits the token budget of one prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    pub index: usize,
    pub files: Vec<ChunkFile>,
    /// Estimated prompt tokens for the diff text of this chunk.
    pub est_tokens: usize,
}

/// Something that could not be fitted into any chunk (e.g. one hunk larger
/// than the whole budget), listed so the report can say so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unfit {
    pub path: String,
    pub reason: String,
}

/// The whole plan: input to the reviewers, and what `--plan` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewPlan {
    pub range: ReviewRange,
    /// Files that are reviewed (indexed by `ChunkFile::file`).
    pub files: Vec<FileDiff>,
    pub skipped: Vec<Skipped>,
    pub unfit: Vec<Unfit>,
    pub chunks: Vec<Chunk>,
}

use crate::git::diff::{FileStatus, Hunk, LineKind};
use crate::text::escape_control;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Estimated prompt tokens of `text`. Every estimate in the plan goes
/// through this one function (or through the real tokenizer the engine
/// passes to [`build`] instead). Code averages about 3 characters per token
/// in small-model vocabularies, so this errs on the side of smaller chunks.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(3)
}

/// What to leave out and how big a chunk may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Globs of paths not to review (matched against the full path and,
    /// unless they start with `/`, against any sub-path).
    pub ignore: Vec<String>,
    /// Token budget of the diff text of one chunk.
    pub chunk_tokens: usize,
}

/// Paths that are never worth a model's attention: vendored and generated
/// code, minified assets. Lock files are recognised by name ([`LOCK_FILES`])
/// whatever this list says.
pub const DEFAULT_IGNORE: &[&str] = &[
    "*.lock",
    "vendor/**",
    "third_party/**",
    "node_modules/**",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*.pb.go",
    "*_generated.*",
];

/// Diff tokens in one prompt unless configured (`review.chunk_tokens`).
pub use crate::config::settings::DEFAULT_CHUNK_TOKENS;

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            ignore: DEFAULT_IGNORE.iter().map(|s| s.to_string()).collect(),
            chunk_tokens: DEFAULT_CHUNK_TOKENS,
        }
    }
}

/// File names that are lock files whatever the ignore list says.
pub const LOCK_FILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "go.sum",
    "poetry.lock",
    "Gemfile.lock",
    "composer.lock",
    "Pipfile.lock",
    "flake.lock",
];

/// Markers of generated code, looked for in the first lines of the new file.
pub const GENERATED_MARKERS: &[&str] = &["@generated", "DO NOT EDIT"];
/// How many leading lines are searched for a generated-code marker.
pub const GENERATED_HEAD_LINES: u32 = 10;

/// Splits the diff into what is reviewed (in chunks of at most
/// `opts.chunk_tokens` as measured by `count`), what is skipped and why,
/// and what cannot be fitted.
///
/// Files are kept whole in a chunk when they fit; a bigger file is split on
/// hunk boundaries (`partial`). A single hunk bigger than the budget is cut
/// into consecutive windows of lines, each a hunk of its own with exact line
/// numbers, so nothing is lost; only a single line that alone exceeds the
/// budget (minified code) makes the hunk `unfit`.
pub fn build(
    range: ReviewRange,
    files: Vec<FileDiff>,
    opts: &PlanOptions,
    count: &dyn Fn(&str) -> usize,
) -> ReviewPlan {
    let ignore = IgnoreSet::new(&opts.ignore);
    let mut plan = ReviewPlan {
        range,
        files: Vec::new(),
        skipped: Vec::new(),
        unfit: Vec::new(),
        chunks: Vec::new(),
    };
    for file in files {
        match skip_reason(&file, &ignore) {
            Some(reason) => plan.skipped.push(Skipped {
                path: file.path.clone(),
                reason,
            }),
            None => plan.files.push(file),
        }
    }
    cut(&mut plan, opts.chunk_tokens, count);
    plan
}

/// Cuts the plan's files into chunks of at most `chunk_tokens` by `count`
/// (hunks too big for a chunk become windows, or are listed as unfit).
fn cut(plan: &mut ReviewPlan, chunk_tokens: usize, count: &dyn Fn(&str) -> usize) {
    let budget = chunk_tokens.max(1);
    let mut unfit = std::mem::take(&mut plan.unfit);
    let costs: Vec<Vec<usize>> = plan
        .files
        .iter_mut()
        .map(|file| fit_hunks(file, budget, count, &mut unfit))
        .collect();
    plan.unfit = unfit;
    plan.chunks = pack_chunks(plan, &costs, budget, count);
}

/// The same plan with its chunks cut again, measured by `count`: the plan
/// is first cut with [`estimate_tokens`] (so `--plan` loads no model), and
/// again with the models' own tokenizers once a review has loaded them.
/// What is skipped stays skipped; hunks already split into windows stay
/// split; what was unfit stays listed.
pub fn recount(
    plan: &ReviewPlan,
    chunk_tokens: usize,
    count: &dyn Fn(&str) -> usize,
) -> ReviewPlan {
    let mut out = ReviewPlan {
        range: plan.range.clone(),
        files: plan.files.clone(),
        skipped: plan.skipped.clone(),
        unfit: plan.unfit.clone(),
        chunks: Vec::new(),
    };
    cut(&mut out, chunk_tokens, count);
    out
}

/// Compiled ignore globs, remembering which pattern matched (the diff's
/// plan and the context stage's index read the globs alike).
pub struct IgnoreSet {
    set: GlobSet,
    /// Pattern (as the user wrote it) of each glob in `set`.
    patterns: Vec<String>,
}

impl IgnoreSet {
    pub fn new(patterns: &[String]) -> Self {
        let mut builder = GlobSetBuilder::new();
        let mut names = Vec::new();
        for pattern in patterns {
            let anchored = pattern.strip_prefix('/');
            let mut forms = vec![anchored.unwrap_or(pattern).to_string()];
            if anchored.is_none() && !pattern.starts_with("**/") {
                forms.push(format!("**/{pattern}"));
            }
            for form in forms {
                // A bad glob from the config is reported by the config
                // loader; here it simply matches nothing.
                if let Ok(glob) = Glob::new(&form) {
                    builder.add(glob);
                    names.push(pattern.clone());
                }
            }
        }
        IgnoreSet {
            set: builder.build().unwrap_or_else(|_| GlobSet::empty()),
            patterns: names,
        }
    }

    /// The pattern (as written) that matches `path`, if one does.
    pub fn matching(&self, path: &str) -> Option<&str> {
        let hit = self.set.matches(path).into_iter().next()?;
        Some(self.patterns[hit].as_str())
    }
}

fn skip_reason(file: &FileDiff, ignore: &IgnoreSet) -> Option<String> {
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    if let FileStatus::Submodule { old, new } = &file.status {
        let short = |s: &Option<String>| {
            s.as_deref()
                .map_or("none", |s| &s[..s.len().min(7)])
                .to_string()
        };
        return Some(format!(
            "submodule pointer change ({} -> {})",
            short(old),
            short(new)
        ));
    }
    if file.binary {
        return Some("binary".into());
    }
    if let FileStatus::ModeChange { old_mode, new_mode } = &file.status {
        return Some(format!("mode change only ({old_mode} -> {new_mode})"));
    }
    if LOCK_FILES.contains(&name) {
        return Some("lock file".into());
    }
    if let Some(pattern) = ignore.matching(&file.path) {
        return Some(format!("matches ignore glob \"{pattern}\""));
    }
    if let Some(marker) = generated_marker(file) {
        return Some(format!("generated file (\"{marker}\" marker)"));
    }
    if file.hunks.is_empty() {
        return Some(match &file.status {
            FileStatus::Renamed { from, .. } => {
                format!("renamed from {from} without content changes")
            }
            FileStatus::Copied { from } => format!("copied from {from} without content changes"),
            _ => "no content changes (empty file)".into(),
        });
    }
    None
}

/// A generated-code marker in the first lines of the new file, as far as
/// the diff shows them (hunks touching the head of the file, or a new file).
fn generated_marker(file: &FileDiff) -> Option<&'static str> {
    let head = file
        .hunks
        .iter()
        .take_while(|h| h.new_start <= GENERATED_HEAD_LINES)
        .flat_map(|h| &h.lines)
        .filter(|l| l.new_line.is_some_and(|n| n <= GENERATED_HEAD_LINES));
    for line in head {
        if let Some(marker) = GENERATED_MARKERS.iter().find(|m| line.text.contains(*m)) {
            return Some(marker);
        }
    }
    None
}

/// Replaces hunks that alone exceed the budget by windows that fit, and
/// returns the token cost of each resulting hunk (measured once, here).
fn fit_hunks(
    file: &mut FileDiff,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
    unfit: &mut Vec<Unfit>,
) -> Vec<usize> {
    let header = header_cost(file, count);
    let width = number_width(file);
    let mut out = Vec::with_capacity(file.hunks.len());
    let mut costs = Vec::with_capacity(file.hunks.len());
    for mut hunk in std::mem::take(&mut file.hunks) {
        // +1: a token may straddle the join of two rendered pieces.
        let cost = count(&render_hunk(&hunk, width)) + 1;
        if header + cost <= budget {
            out.push(hunk);
            costs.push(cost);
            continue;
        }
        let room = budget.saturating_sub(header);
        for (at, chars) in cut_long_lines(&mut hunk, room, width, count) {
            // Cut again when the plan is recounted: one entry per line.
            let prefix = format!("{at} was cut");
            unfit.retain(|u| !(u.path == file.path && u.reason.starts_with(&prefix)));
            unfit.push(Unfit {
                path: file.path.clone(),
                reason: format!(
                    "{prefix}: the reviewers saw its start, {chars} characters were not \
                     reviewed (longer than a chunk of {budget} tokens allows)"
                ),
            });
        }
        match split_hunk(&hunk, room, width, count) {
            Some(windows) => {
                costs.extend(windows.iter().map(|w| count(&render_hunk(w, width)) + 1));
                out.extend(windows);
            }
            None => unfit.push(Unfit {
                path: file.path.clone(),
                reason: format!(
                    "hunk {} has a line longer than the chunk budget of {budget} tokens",
                    hunk_range(&hunk)
                ),
            }),
        }
    }
    file.hunks = out;
    costs
}

/// Cuts every line of `hunk` that cannot fit in a window of `room` tokens
/// (minified code, a data blob) so that it takes at most half a window:
/// the rest of the hunk is then still reviewed, and the cut line says how
/// much of it the model does not see. A line that cannot be cut short
/// enough is left whole (the hunk is then unfit).
///
/// Returns what was cut of the change itself (added and removed lines):
/// `(where, characters cut)`. Those lines were not reviewed in full, so the
/// plan lists them as not reviewed and `gate.unreviewable` decides; a cut
/// context line is only less context.
fn cut_long_lines(
    hunk: &mut Hunk,
    room: usize,
    width: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<(String, usize)> {
    let heading = count(&hunk_heading(hunk)) + 1;
    let target = room.saturating_sub(heading) / 2;
    let mut cut = Vec::new();
    for line in &mut hunk.lines {
        // +1 as everywhere: a token may straddle the join of two pieces.
        let cost = count(&render_line(line, width)) + 1;
        if heading + cost <= room {
            continue;
        }
        if let Some(text) = cut_line(line, target, width, count) {
            line.text = text;
            let at = match line.kind {
                LineKind::Added => line.new_line.map(|n| format!("line {n}")),
                LineKind::Removed => line.old_line.map(|n| format!("removed line {n}")),
                LineKind::Context => None,
            };
            if let Some(at) = at {
                cut.push((at, split_cut_marker(&line.text).1));
            }
        }
    }
    cut
}

/// Marker that replaces the end of a cut line: `…[cut 5210 chars]`.
pub fn cut_marker(chars: usize) -> String {
    format!("{CUT_MARKER_START}{chars}{CUT_MARKER_END}")
}

/// Start of [`cut_marker`]'s text (grounding recognises quotes holding it).
pub const CUT_MARKER_START: &str = "…[cut ";
/// End of [`cut_marker`]'s text.
pub const CUT_MARKER_END: &str = " chars]";

/// A line's text without a [`cut_marker`] at its end, and how many
/// characters that marker said were cut (0 when there is none).
fn split_cut_marker(text: &str) -> (&str, usize) {
    let Some(rest) = text.strip_suffix(CUT_MARKER_END) else {
        return (text, 0);
    };
    let Some(at) = rest.rfind(CUT_MARKER_START) else {
        return (text, 0);
    };
    match rest[at + CUT_MARKER_START.len()..].parse() {
        Ok(n) => (&text[..at], n),
        Err(_) => (text, 0),
    }
}

/// The longest head of `line`'s text that, followed by a [`cut_marker`],
/// renders in at most `target` tokens; None when even the marker alone
/// does not fit. A line cut before (the plan is cut again with a model's
/// own tokenizer) is cut from its kept head and counts both cuts.
fn cut_line(
    line: &crate::git::diff::DiffLine,
    target: usize,
    width: usize,
    count: &dyn Fn(&str) -> usize,
) -> Option<String> {
    let (head, already_cut) = split_cut_marker(&line.text);
    let bounds: Vec<usize> = head
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(head.len()))
        .collect();
    let chars = bounds.len() - 1;
    let candidate = |keep: usize| {
        let mut text = head[..bounds[keep]].to_string();
        text.push_str(&cut_marker(chars - keep + already_cut));
        text
    };
    let fits = |keep: usize| {
        let cut = crate::git::diff::DiffLine {
            kind: line.kind,
            old_line: line.old_line,
            new_line: line.new_line,
            text: candidate(keep),
        };
        let cost = count(&render_line(&cut, width)) + 1;
        cost <= target
    };
    if !fits(0) {
        return None;
    }
    // Largest `keep` that fits (token counts grow with the text).
    let (mut lo, mut hi) = (0, chars);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(candidate(lo))
}

/// Tokens of a file's `===` header, as long as it gets when the file is split.
fn header_cost(file: &FileDiff, count: &dyn Fn(&str) -> usize) -> usize {
    let n = file.hunks.len().max(1);
    count(&file_header(file, None)) + count(&format!(" [part: hunks {n}-{n} of {n}]")) + 1
}

/// Consecutive windows of a hunk's lines, each under `budget`; None when a
/// single line does not fit.
fn split_hunk(
    hunk: &Hunk,
    budget: usize,
    width: usize,
    count: &dyn Fn(&str) -> usize,
) -> Option<Vec<Hunk>> {
    // Overhead of a window's `@@` heading, measured on the whole hunk's.
    let heading = count(&hunk_heading(hunk)) + 1;
    let mut windows = Vec::new();
    let mut start = 0;
    let mut used = heading;
    for (i, line) in hunk.lines.iter().enumerate() {
        let cost = count(&render_line(line, width)) + 1;
        if heading + cost > budget {
            return None;
        }
        if used + cost > budget && i > start {
            windows.push(start..i);
            start = i;
            used = heading;
        }
        used += cost;
    }
    windows.push(start..hunk.lines.len());
    Some(windows_of(hunk, &windows))
}

/// Hunks made of consecutive slices of `parent`'s lines, numbered like git
/// numbers hunks (an empty side starts at the line before it).
fn windows_of(parent: &Hunk, ranges: &[std::ops::Range<usize>]) -> Vec<Hunk> {
    let first = |start: u32, count: u32| if count == 0 { start + 1 } else { start };
    let (mut old_next, mut new_next) = (
        first(parent.old_start, parent.old_lines),
        first(parent.new_start, parent.new_lines),
    );
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        let lines = parent.lines[range.clone()].to_vec();
        let old_lines = lines.iter().filter(|l| l.old_line.is_some()).count() as u32;
        let new_lines = lines.iter().filter(|l| l.new_line.is_some()).count() as u32;
        let start = |next: u32, count: u32| if count == 0 { next - 1 } else { next };
        out.push(Hunk {
            old_start: start(old_next, old_lines),
            old_lines,
            new_start: start(new_next, new_lines),
            new_lines,
            lines,
            enclosing: parent.enclosing.clone(),
        });
        old_next += old_lines;
        new_next += new_lines;
    }
    out
}

/// Greedy packing in path order: whole files while they fit, big files
/// split on hunk boundaries.
fn pack_chunks(
    plan: &ReviewPlan,
    costs: &[Vec<usize>],
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let mut chunks: Vec<Vec<ChunkFile>> = Vec::new();
    let mut current: Vec<ChunkFile> = Vec::new();
    let mut used = 0;
    for (index, file) in plan.files.iter().enumerate() {
        if file.hunks.is_empty() {
            continue;
        }
        let header = header_cost(file, count);
        let costs = &costs[index];
        let whole = header + costs.iter().sum::<usize>();
        if used + whole <= budget || (whole <= budget && current.is_empty()) {
            current.push(whole_file(index, file));
            used += whole;
            continue;
        }
        if whole <= budget {
            chunks.push(std::mem::take(&mut current));
            current.push(whole_file(index, file));
            used = whole;
            continue;
        }
        // Split: fill the current chunk's room first, then fresh chunks.
        let mut part = ChunkFile {
            file: index,
            hunks: Vec::new(),
            partial: true,
        };
        let mut part_used = used + header;
        for (h, cost) in costs.iter().enumerate() {
            if part_used + cost > budget && (!part.hunks.is_empty() || !current.is_empty()) {
                if !part.hunks.is_empty() {
                    current.push(part);
                }
                chunks.push(std::mem::take(&mut current));
                part = ChunkFile {
                    file: index,
                    hunks: Vec::new(),
                    partial: true,
                };
                part_used = header;
            }
            part.hunks.push(h);
            part_used += cost;
        }
        current.push(part);
        used = part_used;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
        .into_iter()
        .enumerate()
        .map(|(index, files)| {
            let mut chunk = Chunk {
                index,
                files,
                est_tokens: 0,
            };
            chunk.est_tokens = count(&render_chunk(plan, &chunk));
            chunk
        })
        .collect()
}

fn whole_file(index: usize, file: &FileDiff) -> ChunkFile {
    ChunkFile {
        file: index,
        hunks: (0..file.hunks.len()).collect(),
        partial: false,
    }
}

/// Digits needed for the file's largest line number, so columns align.
fn number_width(file: &FileDiff) -> usize {
    let max = file
        .hunks
        .iter()
        .map(|h| h.new_start + h.new_lines)
        .max()
        .unwrap_or(1);
    max.max(1).to_string().len()
}

fn status_words(file: &FileDiff) -> String {
    match &file.status {
        FileStatus::Added => "added".into(),
        FileStatus::Modified => "modified".into(),
        FileStatus::Deleted => "deleted".into(),
        FileStatus::Renamed { from, similarity } => {
            format!(
                "renamed from {}, {similarity}% similar",
                escape_control(from)
            )
        }
        FileStatus::Copied { from } => format!("copied from {}", escape_control(from)),
        FileStatus::ModeChange { old_mode, new_mode } => format!("mode {old_mode} -> {new_mode}"),
        FileStatus::TypeChange => "type change".into(),
        FileStatus::Submodule { .. } => "submodule".into(),
    }
}

/// `=== path (modified, +12 -3) ===`, with the part shown when split.
fn file_header(file: &FileDiff, part: Option<&ChunkFile>) -> String {
    // Shown escaped: a newline in a name must not end the header line.
    // Findings naming the escaped form are mapped back to the real path.
    let mut header = format!(
        "=== {} ({}, +{} -{}) ===",
        escape_control(&file.path),
        status_words(file),
        file.additions,
        file.deletions
    );
    if let Some(part) = part.filter(|p| p.partial) {
        if let (Some(first), Some(last)) = (part.hunks.first(), part.hunks.last()) {
            let _ = write!(
                header,
                " [part: hunks {}-{} of {}]",
                first + 1,
                last + 1,
                file.hunks.len()
            );
        }
    }
    header
}

fn hunk_range(hunk: &Hunk) -> String {
    format!(
        "@@ -{},{} +{},{} @@",
        hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines
    )
}

fn hunk_heading(hunk: &Hunk) -> String {
    match &hunk.enclosing {
        Some(e) => format!("{} {}", hunk_range(hunk), e.signature),
        None => hunk_range(hunk),
    }
}

/// `+ 123 | text`, `  124 | text`, `-     | text`.
fn push_line(out: &mut String, line: &crate::git::diff::DiffLine, width: usize) {
    let (mark, number) = match line.kind {
        LineKind::Added => ('+', line.new_line),
        LineKind::Context => (' ', line.new_line),
        LineKind::Removed => ('-', None),
    };
    let _ = match number {
        Some(n) => write!(out, "{mark} {n:>width$} | {}", line.text),
        None => write!(out, "{mark} {:width$} | {}", "", line.text),
    };
}

fn render_line(line: &crate::git::diff::DiffLine, width: usize) -> String {
    let mut out = String::with_capacity(line.text.len() + width + 6);
    push_line(&mut out, line, width);
    out
}

fn push_hunk(out: &mut String, hunk: &Hunk, width: usize) {
    out.push_str(&hunk_heading(hunk));
    out.push('\n');
    for line in &hunk.lines {
        push_line(out, line, width);
        out.push('\n');
    }
}

fn render_hunk(hunk: &Hunk, width: usize) -> String {
    let mut out = String::new();
    push_hunk(&mut out, hunk, width);
    out
}

/// The diff text a model sees for `chunk`: per file a `===` header, per
/// hunk its `@@` heading with the enclosing signature, and every line with
/// its new-file line number (removed lines have none) so findings can cite
/// exact lines.
pub fn render_chunk(plan: &ReviewPlan, chunk: &Chunk) -> String {
    let mut out = String::new();
    for part in &chunk.files {
        let Some(file) = plan.files.get(part.file) else {
            continue;
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&file_header(file, Some(part)));
        out.push('\n');
        let width = number_width(file);
        for &h in &part.hunks {
            if let Some(hunk) = file.hunks.get(h) {
                push_hunk(&mut out, hunk, width);
            }
        }
    }
    out
}

/// Some hunks of one file (by index) as a model reads them: the file's
/// `===` header and each hunk with its line numbers (the verifier's view
/// of the change a finding is about).
pub fn render_file_hunks(file: &FileDiff, hunks: &[usize]) -> String {
    let mut out = file_header(file, None);
    out.push('\n');
    let width = number_width(file);
    for &h in hunks {
        if let Some(hunk) = file.hunks.get(h) {
            push_hunk(&mut out, hunk, width);
        }
    }
    out
}

/// For each file of the chunk, the new-file line numbers shown in it
/// (added and context lines), sorted and deduplicated: the lines a finding
/// about this chunk may cite.
pub fn chunk_new_lines(plan: &ReviewPlan, chunk: &Chunk) -> Vec<(String, Vec<u32>)> {
    let mut out: Vec<(String, Vec<u32>)> = Vec::new();
    for part in &chunk.files {
        let Some(file) = plan.files.get(part.file) else {
            continue;
        };
        let mut lines: Vec<u32> = part
            .hunks
            .iter()
            .filter_map(|&h| file.hunks.get(h))
            .flat_map(|h| h.lines.iter().filter_map(|l| l.new_line))
            .collect();
        match out.iter_mut().find(|(p, _)| *p == file.path) {
            Some((_, existing)) => existing.append(&mut lines),
            None => out.push((file.path.clone(), lines)),
        }
    }
    for (_, lines) in &mut out {
        lines.sort_unstable();
        lines.dedup();
    }
    out
}

/// The machine-readable `--plan --format json` document.
#[derive(Debug, Clone, Serialize)]
pub struct PlanJson<'a> {
    /// Shape version; bumped on incompatible changes.
    pub version: u32,
    pub totals: Totals,
    #[serde(flatten)]
    pub plan: &'a ReviewPlan,
}

/// Summary figures of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub commits: usize,
    pub files_reviewed: usize,
    pub files_skipped: usize,
    pub unfit: usize,
    pub additions: u32,
    pub deletions: u32,
    pub chunks: usize,
    pub est_tokens: usize,
}

impl ReviewPlan {
    /// Summary figures for `--plan` output.
    pub fn totals(&self) -> Totals {
        Totals {
            commits: self.range.commits.len(),
            files_reviewed: self.files.len(),
            files_skipped: self.skipped.len(),
            unfit: self.unfit.len(),
            additions: self.files.iter().map(|f| f.additions).sum(),
            deletions: self.files.iter().map(|f| f.deletions).sum(),
            chunks: self.chunks.len(),
            est_tokens: self.chunks.iter().map(|c| c.est_tokens).sum(),
        }
    }

    /// The versioned JSON document for `--plan --format json`.
    pub fn to_json(&self) -> PlanJson<'_> {
        PlanJson {
            version: 1,
            totals: self.totals(),
            plan: self,
        }
    }
}

/// The human `--plan` output: commits, files, skipped, unfit, chunks,
/// totals. Names, subjects and reasons come from the repository, so each
/// goes through [`escape_control`]: nothing printed can drive the terminal
/// or break a line of the list.
pub fn write_text(plan: &ReviewPlan, w: &mut dyn Write) -> io::Result<()> {
    let range = &plan.range;
    let base = range.base.map_or("(empty tree)".to_string(), |b| {
        b.to_hex_with_len(12).to_string()
    });
    writeln!(
        w,
        "Range: {}  ({} -> {})",
        escape_control(&range.spec),
        escape_control(&base),
        range.head.to_hex_with_len(12)
    )?;
    if let Some(branch) = &range.branch {
        writeln!(w, "Branch: {}", escape_control(branch))?;
    }
    writeln!(w, "\nCommits ({}):", range.commits.len())?;
    for c in &range.commits {
        let merge = if c.parents > 1 { " [merge]" } else { "" };
        writeln!(
            w,
            "  {} {:<20} {}{merge}",
            escape_control(&c.short),
            escape_control(&c.author_name),
            escape_control(&c.subject)
        )?;
    }
    writeln!(w, "\nFiles reviewed ({}):", plan.files.len())?;
    for f in &plan.files {
        writeln!(
            w,
            "  {:<50} +{:<5} -{:<5} {}",
            escape_control(&f.path),
            f.additions,
            f.deletions,
            status_words(f)
        )?;
    }
    writeln!(w, "\nSkipped ({}):", plan.skipped.len())?;
    for s in &plan.skipped {
        writeln!(
            w,
            "  {:<50} {}",
            escape_control(&s.path),
            escape_control(&s.reason)
        )?;
    }
    if !plan.unfit.is_empty() {
        writeln!(w, "\nNot reviewable ({}):", plan.unfit.len())?;
        for u in &plan.unfit {
            writeln!(
                w,
                "  {:<50} {}",
                escape_control(&u.path),
                escape_control(&u.reason)
            )?;
        }
    }
    writeln!(w, "\nChunks ({}):", plan.chunks.len())?;
    for c in &plan.chunks {
        let names: Vec<String> = c
            .files
            .iter()
            .filter_map(|p| {
                let f = plan.files.get(p.file)?;
                let path = escape_control(&f.path);
                Some(if p.partial {
                    format!("{path} (hunks {}/{})", p.hunks.len(), f.hunks.len())
                } else {
                    path.into_owned()
                })
            })
            .collect();
        writeln!(
            w,
            "  #{:<3} ~{:>6} tokens  {}",
            c.index + 1,
            c.est_tokens,
            names.join(", ")
        )?;
    }
    let t = plan.totals();
    writeln!(
        w,
        "\nTotal: {} commits, {} files reviewed (+{} -{}), {} skipped, {} unfit, {} chunks, ~{} tokens",
        t.commits, t.files_reviewed, t.additions, t.deletions, t.files_skipped, t.unfit, t.chunks, t.est_tokens
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::diff::DiffLine;

    fn range(subject: &str) -> ReviewRange {
        ReviewRange {
            spec: "main..topic".into(),
            base: Some(gix::ObjectId::from_hex("a".repeat(40).as_bytes()).unwrap()),
            head: gix::ObjectId::from_hex("b".repeat(40).as_bytes()).unwrap(),
            branch: Some("topic".into()),
            commits: vec![crate::git::range::CommitInfo {
                id: gix::ObjectId::from_hex("b".repeat(40).as_bytes()).unwrap(),
                short: "bbbbbbb".into(),
                author_name: "Ada".into(),
                author_email: "ada@example.com".into(),
                time: 0,
                tz_offset: 0,
                subject: subject.into(),
                body: String::new(),
                parents: 1,
                stat: Default::default(),
            }],
        }
    }

    fn added(path: &str, texts: &[&str]) -> FileDiff {
        let lines: Vec<DiffLine> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| DiffLine {
                kind: LineKind::Added,
                old_line: None,
                new_line: Some(i as u32 + 1),
                text: t.to_string(),
            })
            .collect();
        FileDiff {
            path: path.into(),
            status: FileStatus::Added,
            binary: false,
            additions: lines.len() as u32,
            deletions: 0,
            hunks: vec![Hunk {
                old_start: 0,
                old_lines: 0,
                new_start: 1,
                new_lines: lines.len() as u32,
                lines,
                enclosing: None,
            }],
            language: None,
        }
    }

    fn opts(chunk_tokens: usize) -> PlanOptions {
        PlanOptions {
            ignore: Vec::new(),
            chunk_tokens,
        }
    }

    #[test]
    fn a_very_long_line_is_cut_and_the_rest_of_its_hunk_is_reviewed() {
        let long = format!("blob = \"{}\"", "q".repeat(7000));
        let file = added("app.py", &[&long, "import os", "os.system(input())"]);
        let plan = build(range("s"), vec![file], &opts(2048), &estimate_tokens);
        // What the reviewers did not see of it is listed, once, by line.
        assert_eq!(plan.unfit.len(), 1, "{:?}", plan.unfit);
        assert_eq!(plan.unfit[0].path, "app.py");
        assert!(
            plan.unfit[0].reason.starts_with("line 1 was cut"),
            "{:?}",
            plan.unfit
        );
        let again = recount(&plan, 1024, &estimate_tokens);
        assert_eq!(again.unfit.len(), 1, "{:?}", again.unfit);
        assert_eq!(plan.chunks.len(), 1);
        assert!(plan.chunks[0].est_tokens <= 2048);
        let text = render_chunk(&plan, &plan.chunks[0]);
        assert!(text.contains("os.system(input())"), "{text}");
        let cut = &plan.files[0].hunks[0].lines[0].text;
        assert!(cut.starts_with("blob = \"qqq"), "{cut}");
        let (head, n) = split_cut_marker(cut);
        assert_eq!(head.chars().count() + n, long.chars().count());
        // Line numbers are untouched.
        let numbers: Vec<_> = plan.files[0].hunks[0]
            .lines
            .iter()
            .map(|l| l.new_line)
            .collect();
        assert_eq!(numbers, vec![Some(1), Some(2), Some(3)]);

        // Cut again with a stricter tokenizer: both cuts are counted.
        let strict = |t: &str| t.chars().count();
        let again = recount(&plan, 2048, &strict);
        assert_eq!(again.unfit.len(), 1, "{:?}", again.unfit);
        let (head2, n2) = split_cut_marker(&again.files[0].hunks[0].lines[0].text);
        assert!(head2.len() < head.len());
        assert_eq!(head2.chars().count() + n2, long.chars().count());
    }

    #[test]
    fn what_cannot_be_cut_short_enough_is_unfit_by_name() {
        let long = "z".repeat(400);
        let file = added("tiny/budget.js", &[&long]);
        let plan = build(range("s"), vec![file], &opts(8), &estimate_tokens);
        assert_eq!(plan.unfit.len(), 1);
        assert_eq!(plan.unfit[0].path, "tiny/budget.js");
        assert!(plan.chunks.is_empty());
    }

    #[test]
    fn control_characters_from_the_repository_are_escaped_in_plan_text_and_prompts() {
        let names = ["a\u{1b}]0;pwned\u{7}.py", "b\nc.py", "d\u{1b}[2J.py"];
        let files = names.iter().map(|n| added(n, &["x = 1"])).collect();
        let plan = build(
            range("fix \u{1b}[31mred\u{1b}]8;;http://e.vil\u{7}link"),
            files,
            &opts(2048),
            &estimate_tokens,
        );
        let mut out = Vec::new();
        write_text(&plan, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("a\\u{1b}]0;pwned\\u{7}.py"), "{text}");
        assert!(text.contains("b\\nc.py"), "{text}");
        assert!(text.contains("fix \\u{1b}[31mred"), "{text}");
        let prompt = render_chunk(&plan, &plan.chunks[0]);
        assert!(
            prompt.contains("=== b\\nc.py (added, +1 -0) ==="),
            "{prompt}"
        );
    }

    #[test]
    fn lock_files_are_skipped_by_name_even_without_the_default_globs() {
        for name in LOCK_FILES {
            let plan = build(
                range("s"),
                vec![added(name, &["x"])],
                &opts(2048),
                &estimate_tokens,
            );
            assert_eq!(plan.skipped.len(), 1, "{name}");
            assert_eq!(plan.skipped[0].reason, "lock file");
        }
    }

    /// A plan of several files, some long enough to be cut in windows.
    fn several_files(chunk_tokens: usize) -> ReviewPlan {
        let body: Vec<String> = (0..300)
            .map(|i| format!("value_{i} = compute({i}) + {i}"))
            .collect();
        let body: Vec<&str> = body.iter().map(String::as_str).collect();
        let files = vec![
            added("big.py", &body),
            added("small.py", &["import os", "os.system(input())"]),
            added("other.rs", &["fn main() {}", "let x = 1;"]),
        ];
        build(range("s"), files, &opts(chunk_tokens), &estimate_tokens)
    }

    #[test]
    fn a_recorded_cut_replays_to_the_same_plan_without_the_tokenizer() {
        let plan = several_files(512);
        // A tokenizer that counts differently from the estimate, so the
        // cut really depends on it.
        let strict = |t: &str| t.chars().count() / 2 + 1;
        let (cut, counts) = recut::record(&plan, 512, &strict);
        assert!(!counts.is_empty());
        assert_eq!(cut, recount(&plan, 512, &strict));
        assert_ne!(
            cut.chunks.len(),
            plan.chunks.len(),
            "the tokenizer should change the cut"
        );
        let stored = recut::Counts::parse(&counts.to_text()).expect("own form parses");
        assert_eq!(stored, counts);
        let replayed = recut::replay(&plan, 512, &stored).expect("all counts present");
        assert_eq!(replayed, cut);
    }

    #[test]
    fn counts_of_another_plan_or_damaged_counts_do_not_replay() {
        let plan = several_files(512);
        let strict = |t: &str| t.chars().count() / 2 + 1;
        let (_, counts) = recut::record(&plan, 512, &strict);
        let other = build(
            range("s"),
            vec![added("elsewhere.py", &["print('hello')"])],
            &opts(512),
            &estimate_tokens,
        );
        assert!(recut::replay(&other, 512, &counts).is_none());
        for bad in [
            "",
            "git-deep-review recut v0\n",
            "git-deep-review recut v1\nzz 3\n",
            "git-deep-review recut v1\n00112233445566778899aabbccddeeff x\n",
            "git-deep-review recut v1\nno-space\n",
        ] {
            assert!(recut::Counts::parse(bad).is_none(), "{bad:?}");
        }
        // An empty set of counts replays only a plan that asks for none.
        let empty = recut::Counts::parse("git-deep-review recut v1\n").unwrap();
        assert!(recut::replay(&plan, 512, &empty).is_none());
    }

    #[test]
    fn the_recut_key_follows_the_diff_the_budget_and_the_tokenizers() {
        let plan = several_files(512);
        let ids = vec!["sha-a".to_string(), "sha-b".to_string()];
        let k = recut::key(&plan, 512, &ids);
        let swapped = vec![
            "sha-b".to_string(),
            "sha-a".to_string(),
            "sha-a".to_string(),
        ];
        assert_eq!(
            k,
            recut::key(&plan, 512, &swapped),
            "order and repeats do not matter"
        );
        assert_ne!(k, recut::key(&plan, 1024, &ids));
        assert_ne!(k, recut::key(&plan, 512, &ids[..1]));
        let mut renamed = plan.clone();
        renamed.range.spec = "other..spec".into();
        assert_eq!(
            k,
            recut::key(&renamed, 512, &ids),
            "the range's name does not cut"
        );
        let mut edited = plan.clone();
        edited.files[1].hunks[0].lines[1].text = "os.system('ls')".into();
        assert_ne!(k, recut::key(&edited, 512, &ids));
    }
}
