//! Stage 3: per-file diffs → a review plan: what is reviewed, what is
//! skipped and why, and how the diff is split into chunks that fit a
//! model's context.
//!
//! Owner: git layer (issue 2). Nothing is ever dropped silently: every file
//! is either in a chunk, in `skipped`, or in `unfit`.

use crate::diff::FileDiff;
use crate::range::ReviewRange;
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
