//! Stage 5: what a reviewer said → validated findings.
//!
//! Model output is untrusted data: every field is parsed, checked and
//! clipped here before anything else looks at it.
//!
//! Owner: review (issue 4). The JSON shape the models are asked for (and
//! constrained to by the engine's grammar) is `RawFinding` inside
//! `{"findings": [...]}`.

use serde::{Deserialize, Serialize};

/// Severity, most severe first (so `Ord` sorts critical first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Important,
    Suggestion,
}

/// What kind of problem, as in the reference report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Regression,
    Gap,
    Enhancement,
}

/// One finding exactly as the model wrote it (after JSON parsing only).
/// Field order here is the order the grammar forces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawFinding {
    pub file: String,
    pub line: i64,
    #[serde(default)]
    pub end_line: Option<i64>,
    pub severity: String,
    pub kind: String,
    pub title: String,
    pub explanation: String,
    #[serde(default)]
    pub fix: String,
    /// Code the reviewer quotes from the new file (checked by grounding).
    #[serde(default)]
    pub quote: String,
}

/// The top-level object a reviewer produces for one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawReview {
    pub findings: Vec<RawFinding>,
}

/// A validated finding from one reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub reviewer: String,
    pub chunk: usize,
    pub severity: Severity,
    pub kind: Kind,
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    pub title: String,
    pub explanation: String,
    pub fix: String,
    pub quote: String,
}
