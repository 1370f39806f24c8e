//! Stage 2: base and head trees → per-file diffs with exact line numbers.
//!
//! Old/new line numbers are what findings point
//! at, so they must match `git diff` exactly.

use serde::Serialize;

/// How a file changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FileStatus {
    Added,
    Modified,
    Deleted,
    Renamed {
        from: String,
        similarity: u8,
    },
    Copied {
        from: String,
    },
    /// Only the file mode changed (e.g. made executable).
    ModeChange {
        old_mode: String,
        new_mode: String,
    },
    /// A regular file became a symlink or the reverse.
    TypeChange,
    /// A submodule pointer moved.
    Submodule {
        old: Option<String>,
        new: Option<String>,
    },
}

/// One line of a hunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    Context,
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub kind: LineKind,
    /// Line number in the old file (context and removed lines).
    pub old_line: Option<u32>,
    /// Line number in the new file (context and added lines).
    pub new_line: Option<u32>,
    /// The line's text without its newline (lossy UTF-8).
    pub text: String,
}

/// A unified-diff hunk with its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hunk {
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
    pub lines: Vec<DiffLine>,
    /// Enclosing function/block in the new file, when the heuristic found one.
    pub enclosing: Option<Enclosing>,
}

/// Everything about one changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    /// Path in the new tree (old path for deletions), lossy UTF-8, `/`-separated.
    pub path: String,
    pub status: FileStatus,
    /// Either side is binary (then `hunks` is empty).
    pub binary: bool,
    pub additions: u32,
    pub deletions: u32,
    pub hunks: Vec<Hunk>,
    /// Language name for fenced code blocks (`rust`, `python`...), from the extension.
    pub language: Option<String>,
}

use crate::git::lang::{enclosing_braces, enclosing_python, is_brace_language};
pub use crate::git::lang::{language_for, Enclosing};

use crate::error::{Error, Result};
use gix::bstr::ByteSlice;
use gix::diff::blob::{Algorithm, Diff, InternedInput};
use gix::objs::tree::EntryMode;
use gix::ObjectId;
use rayon::prelude::*;

/// How to extract the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffOptions {
    /// Unchanged lines around each change (`git diff -U<n>`).
    pub context_lines: u32,
    /// Detect renames (50% similarity, like git's default).
    pub renames: bool,
    /// Find the enclosing function/block of each hunk.
    pub enclosing: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            context_lines: 3,
            renames: true,
            enclosing: true,
        }
    }
}

/// Git calls a blob binary when a NUL byte occurs in its first 8000 bytes.
const BINARY_PROBE: usize = 8000;

/// Lines added/removed in one commit (for the commit-structure assessment).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiffStat {
    pub files: u32,
    pub additions: u32,
    pub deletions: u32,
}

/// Per-file diffs from `base` (or the empty tree) to `head`, in git's path
/// order. Hunk line numbers are those of `git diff -U<n>` (Myers with
/// git's indent heuristic, as git uses by default).
pub fn diff_range(
    repo: &gix::Repository,
    base: Option<ObjectId>,
    head: ObjectId,
    opts: &DiffOptions,
) -> Result<Vec<FileDiff>> {
    let changes = tree_changes(repo, base, head, opts.renames)?;
    // Blob diffs are independent: spread them over the cores, each worker
    // with its own thread-local repository handle.
    let shared = repo.clone().into_sync();
    changes
        .into_par_iter()
        .map_init(
            || shared.to_thread_local(),
            |repo, change| file_diff(repo, change, opts),
        )
        .collect()
}

/// Files changed and lines added/removed from `base` (empty tree if None)
/// to `head`, as `git diff --shortstat` counts them.
pub fn diff_stat(
    repo: &gix::Repository,
    base: Option<ObjectId>,
    head: ObjectId,
) -> Result<DiffStat> {
    let changes = tree_changes(repo, base, head, true)?;
    let mut stat = DiffStat {
        files: changes.len() as u32,
        ..DiffStat::default()
    };
    for change in &changes {
        let (old, new) = (read_side(repo, &change.old)?, read_side(repo, &change.new)?);
        if is_binary(&old) || is_binary(&new) {
            continue;
        }
        let input = InternedInput::new(old.as_slice(), new.as_slice());
        let diff = Diff::compute(Algorithm::Myers, &input);
        stat.additions += diff.count_additions();
        stat.deletions += diff.count_removals();
    }
    Ok(stat)
}

/// The paths one commit changed against `parent` (the empty tree when
/// `None`), renames not followed: what co-change history counts.
pub fn changed_paths(
    repo: &gix::Repository,
    parent: Option<ObjectId>,
    commit: ObjectId,
) -> Result<Vec<String>> {
    Ok(tree_changes(repo, parent, commit, false)?
        .iter()
        .map(|c| display_path(c).to_string())
        .collect())
}

/// One side of a change: where, what kind of entry, which object.
#[derive(Debug, Clone)]
struct Side {
    path: String,
    mode: EntryMode,
    id: ObjectId,
}

/// A changed entry of the tree diff, before its content is diffed.
#[derive(Debug, Clone)]
struct RawChange {
    status: FileStatus,
    old: Option<Side>,
    new: Option<Side>,
}

fn tree_of(repo: &gix::Repository, commit: ObjectId) -> Result<gix::Tree<'_>> {
    repo.find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| Error::Git(format!("cannot read the tree of commit {commit}: {e}")))
}

/// The tree-to-tree changes (files, symlinks, submodules; never directories).
fn tree_changes(
    repo: &gix::Repository,
    base: Option<ObjectId>,
    head: ObjectId,
    renames: bool,
) -> Result<Vec<RawChange>> {
    let old = match base {
        Some(id) => tree_of(repo, id)?,
        None => repo.empty_tree(),
    };
    let new = tree_of(repo, head)?;
    let rewrites = renames.then(gix::diff::Rewrites::default);
    let options = gix::diff::Options::default().with_rewrites(rewrites);
    let changes = repo
        .diff_tree_to_tree(Some(&old), Some(&new), options)
        .map_err(|e| Error::Git(format!("cannot diff the trees of the range: {e}")))?;
    let mut out: Vec<RawChange> = changes.into_iter().filter_map(classify).collect();
    // Git orders by path; renames are reported where their new path sorts.
    out.sort_by(|a, b| display_path(a).cmp(display_path(b)));
    Ok(out)
}

fn display_path(change: &RawChange) -> &str {
    change
        .new
        .as_ref()
        .or(change.old.as_ref())
        .map(|s| s.path.as_str())
        .unwrap_or("")
}

fn side(location: &gix::bstr::BStr, mode: EntryMode, id: ObjectId) -> Side {
    Side {
        path: location.to_str_lossy().into_owned(),
        mode,
        id,
    }
}

/// Maps gix's change to our status; directories are dropped (their files
/// are reported individually).
fn classify(change: gix::object::tree::diff::ChangeDetached) -> Option<RawChange> {
    use gix::object::tree::diff::ChangeDetached as C;
    let raw = match change {
        C::Addition {
            location,
            entry_mode,
            id,
            ..
        } => {
            let new = side(location.as_ref(), entry_mode, id);
            RawChange {
                status: if entry_mode.is_commit() {
                    FileStatus::Submodule {
                        old: None,
                        new: Some(id.to_string()),
                    }
                } else {
                    FileStatus::Added
                },
                old: None,
                new: Some(new),
            }
        }
        C::Deletion {
            location,
            entry_mode,
            id,
            ..
        } => {
            let old = side(location.as_ref(), entry_mode, id);
            RawChange {
                status: if entry_mode.is_commit() {
                    FileStatus::Submodule {
                        old: Some(id.to_string()),
                        new: None,
                    }
                } else {
                    FileStatus::Deleted
                },
                old: Some(old),
                new: None,
            }
        }
        C::Modification {
            location,
            previous_entry_mode,
            previous_id,
            entry_mode,
            id,
        } => {
            let old = side(location.as_ref(), previous_entry_mode, previous_id);
            let new = side(location.as_ref(), entry_mode, id);
            RawChange {
                status: modification_status(&old, &new),
                old: Some(old),
                new: Some(new),
            }
        }
        C::Rewrite {
            source_location,
            source_entry_mode,
            source_id,
            diff,
            entry_mode,
            id,
            location,
            copy,
            ..
        } => {
            let from = source_location.to_str_lossy().into_owned();
            let status = if copy {
                FileStatus::Copied { from }
            } else {
                let similarity = diff.map_or(100.0, |d| d.similarity * 100.0);
                FileStatus::Renamed {
                    from,
                    similarity: similarity.clamp(0.0, 100.0) as u8,
                }
            };
            RawChange {
                status,
                old: Some(side(source_location.as_ref(), source_entry_mode, source_id)),
                new: Some(side(location.as_ref(), entry_mode, id)),
            }
        }
    };
    let is_tree = |s: &Option<Side>| s.as_ref().is_some_and(|s| s.mode.is_tree());
    if is_tree(&raw.old) || is_tree(&raw.new) {
        return None;
    }
    Some(raw)
}

fn modification_status(old: &Side, new: &Side) -> FileStatus {
    if old.mode.is_commit() || new.mode.is_commit() {
        let hex = |s: &Side| s.mode.is_commit().then(|| s.id.to_string());
        return FileStatus::Submodule {
            old: hex(old),
            new: hex(new),
        };
    }
    if old.mode.is_link() != new.mode.is_link() {
        return FileStatus::TypeChange;
    }
    if old.id == new.id && old.mode != new.mode {
        return FileStatus::ModeChange {
            old_mode: format!("{:o}", old.mode.value()),
            new_mode: format!("{:o}", new.mode.value()),
        };
    }
    FileStatus::Modified
}

/// Blob content of one side (empty when the side does not exist or is a submodule).
fn read_side(repo: &gix::Repository, side: &Option<Side>) -> Result<Vec<u8>> {
    match side {
        Some(s) if !s.mode.is_commit() => repo
            .find_blob(s.id)
            .map(|mut b| b.take_data())
            .map_err(|e| Error::Git(format!("cannot read `{}` ({}): {e}", s.path, s.id))),
        _ => Ok(Vec::new()),
    }
}

fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE)].contains(&0)
}

fn file_diff(repo: &gix::Repository, change: RawChange, opts: &DiffOptions) -> Result<FileDiff> {
    let path = display_path(&change).to_string();
    let language = language_for(&path).map(str::to_string);
    let mut file = FileDiff {
        path,
        status: change.status.clone(),
        binary: false,
        additions: 0,
        deletions: 0,
        hunks: Vec::new(),
        language,
    };
    if matches!(change.status, FileStatus::Submodule { .. }) {
        return Ok(file);
    }
    let (old, new) = (read_side(repo, &change.old)?, read_side(repo, &change.new)?);
    if is_binary(&old) || is_binary(&new) {
        file.binary = true;
        return Ok(file);
    }
    let (hunks, additions, deletions) = text_hunks(&old, &new, opts.context_lines);
    file.hunks = hunks;
    file.additions = additions;
    file.deletions = deletions;
    if opts.enclosing && change.new.is_some() {
        add_enclosing(&mut file, &new);
    }
    Ok(file)
}

/// Line diff of two texts as unified-diff hunks with `context` lines.
/// Returns (hunks, added lines, removed lines).
pub fn text_hunks(old: &[u8], new: &[u8], context: u32) -> (Vec<Hunk>, u32, u32) {
    let input = InternedInput::new(old, new);
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_lines(&input);
    let changes: Vec<_> = diff.hunks().collect();
    let (adds, dels) = (diff.count_additions(), diff.count_removals());
    let old_lines: Vec<&[u8]> = input.before.iter().map(|&t| input.interner[t]).collect();
    let new_lines: Vec<&[u8]> = input.after.iter().map(|&t| input.interner[t]).collect();
    let hunks = group_changes(&changes, context)
        .into_iter()
        .map(|group| build_hunk(group, &old_lines, &new_lines, context))
        .collect();
    (hunks, adds, dels)
}

/// Changes closer than 2×context lines share a hunk, as in git's xdiff.
fn group_changes(changes: &[gix::diff::blob::Hunk], context: u32) -> Vec<&[gix::diff::blob::Hunk]> {
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=changes.len() {
        let split =
            i == changes.len() || changes[i].before.start - changes[i - 1].before.end > 2 * context;
        if split {
            groups.push(&changes[start..i]);
            start = i;
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

fn line_text(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

fn build_hunk(group: &[gix::diff::blob::Hunk], old: &[&[u8]], new: &[&[u8]], context: u32) -> Hunk {
    let (first, last) = (&group[0], &group[group.len() - 1]);
    let lead = context.min(first.before.start).min(first.after.start);
    let trail = context.min(old.len() as u32 - last.before.end);
    let (old_from, new_from) = (first.before.start - lead, first.after.start - lead);
    let (old_to, new_to) = (last.before.end + trail, last.after.end + trail);
    let mut lines = Vec::new();
    let (mut o, mut n) = (old_from, new_from);
    let context_line = |o: u32, n: u32| DiffLine {
        kind: LineKind::Context,
        old_line: Some(o + 1),
        new_line: Some(n + 1),
        text: line_text(new[n as usize]),
    };
    for change in group {
        while o < change.before.start {
            lines.push(context_line(o, n));
            (o, n) = (o + 1, n + 1);
        }
        for i in change.before.clone() {
            lines.push(DiffLine {
                kind: LineKind::Removed,
                old_line: Some(i + 1),
                new_line: None,
                text: line_text(old[i as usize]),
            });
        }
        for i in change.after.clone() {
            lines.push(DiffLine {
                kind: LineKind::Added,
                old_line: None,
                new_line: Some(i + 1),
                text: line_text(new[i as usize]),
            });
        }
        (o, n) = (change.before.end, change.after.end);
    }
    while o < old_to {
        lines.push(context_line(o, n));
        (o, n) = (o + 1, n + 1);
    }
    let (old_lines, new_lines) = (old_to - old_from, new_to - new_from);
    // Git prints the line before an empty range (0 at the file start).
    let start = |from: u32, count: u32| if count == 0 { from } else { from + 1 };
    Hunk {
        old_start: start(old_from, old_lines),
        old_lines,
        new_start: start(new_from, new_lines),
        new_lines,
        lines,
        enclosing: None,
    }
}

fn add_enclosing(file: &mut FileDiff, new: &[u8]) {
    let Some(lang) = file.language.as_deref() else {
        return;
    };
    let python = lang == "python";
    if !python && !is_brace_language(lang) {
        return;
    }
    let text = String::from_utf8_lossy(new);
    let lines: Vec<&str> = text.lines().collect();
    for hunk in &mut file.hunks {
        let Some(anchor) = hunk_anchor(hunk) else {
            continue;
        };
        hunk.enclosing = if python {
            enclosing_python(&lines, anchor)
        } else {
            enclosing_braces(&lines, anchor)
        };
    }
}

/// 0-based index in the new file of the hunk's first changed line (for a
/// pure deletion: the line after the removed ones).
fn hunk_anchor(hunk: &Hunk) -> Option<usize> {
    let mut next_new = hunk.new_start.max(1);
    for line in &hunk.lines {
        match line.kind {
            LineKind::Added => return line.new_line.map(|n| n as usize - 1),
            LineKind::Removed => return Some(next_new as usize - 1),
            LineKind::Context => next_new = line.new_line.unwrap_or(next_new) + 1,
        }
    }
    None
}
