//! How severe a finding is: the three levels every stage, the
//! configuration and the gate share, their names and how they are written
//! in configuration. Plain data at the bottom of the module graph.

use serde::{Deserialize, Serialize};

/// Severity, most severe first (so `Ord` sorts critical first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Important,
    Suggestion,
}

impl Severity {
    /// The lowercase word used in reports and configuration (`critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Important => "important",
            Severity::Suggestion => "suggestion",
        }
    }
}

/// Parses a severity as written in configuration or on the command line
/// (exact words, case-insensitive; a model's synonyms are mapped by
/// `check::findings::parse_severity`, not here).
pub fn parse_severity(s: &str) -> Option<Severity> {
    match s.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "important" => Some(Severity::Important),
        "suggestion" => Some(Severity::Suggestion),
        _ => None,
    }
}
