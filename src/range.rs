//! Stage 1: a revision range as git users write it → the commits to review.
//!
//! Owner: git layer (issue 2). Plain data out; everything resolved with gix.

use serde::Serialize;

/// Lines added/removed in one commit (for the commit-structure assessment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiffStat {
    pub files: u32,
    pub additions: u32,
    pub deletions: u32,
}

/// One commit of the range, as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    /// Full hex object id.
    pub id: String,
    /// Abbreviated id (7 hex digits, longer only if ambiguous).
    pub short: String,
    pub author_name: String,
    pub author_email: String,
    /// Author time, seconds since the epoch.
    pub time: i64,
    /// Author time-zone offset in seconds east of UTC.
    pub tz_offset: i32,
    pub subject: String,
    pub body: String,
    /// Number of parents (2+ = merge commit).
    pub parents: usize,
    /// Diffstat against the first parent (against the empty tree for a root).
    pub stat: DiffStat,
}

/// What is being reviewed: the diff from `base` to `head`, and the commits
/// that make it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewRange {
    /// The range as the user wrote it (or as it was defaulted, e.g. `@{upstream}..HEAD`).
    pub spec: String,
    /// Base commit id (hex); `None` means the empty tree (a root commit).
    pub base: Option<String>,
    /// Head commit id (hex).
    pub head: String,
    /// Branch name of the head when known (`feature/x`), for the report header and file name.
    pub branch: Option<String>,
    /// Commits in the range, oldest first (merge commits included, flagged by `parents`).
    pub commits: Vec<CommitInfo>,
}
