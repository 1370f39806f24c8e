//! Stage 2: base and head trees → per-file diffs with exact line numbers.
//!
//! Owner: git layer (issue 2). Old/new line numbers are what findings point
//! at, so they must match `git diff` exactly.

use serde::Serialize;

/// How a file changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FileStatus {
    Added,
    Modified,
    Deleted,
    Renamed { from: String, similarity: u8 },
    Copied { from: String },
    /// Only the file mode changed (e.g. made executable).
    ModeChange { old_mode: String, new_mode: String },
    /// A regular file became a symlink or the reverse.
    TypeChange,
    /// A submodule pointer moved.
    Submodule { old: Option<String>, new: Option<String> },
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

/// The enclosing function/block of a hunk, taken from the new file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enclosing {
    pub start_line: u32,
    pub end_line: u32,
    /// First line of the block (its signature), shown as the hunk's heading.
    pub signature: String,
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
