//! The gate's policy as configured: when findings block, and what a review
//! that could not do all of its work means. Plain data; the gate applies it.

use crate::severity::Severity;
use serde::{Deserialize, Serialize};

/// When findings block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatePolicy {
    /// `false` = never block (the hook reviews nothing and allows).
    pub enabled: bool,
    /// Findings at this severity or more severe can block.
    pub block_on: Severity,
    /// How many reviewers must agree on a finding before it blocks; one
    /// small model's opinion alone is too noisy to stop a push. Counted over
    /// the reviewers that ran: with one of three left, one is enough.
    pub min_agreement: usize,
    /// Earlier reviews' findings whose code is still there count like
    /// today's (default false: they were not confirmed by today's
    /// reviewers, and one noisy run must not block every later push).
    pub count_unresolved: bool,
    /// Findings the verifier could not decide (or failed to check) count
    /// like confirmed ones (default true: a failed check never lets a
    /// finding through).
    pub count_uncertain: bool,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            enabled: true,
            block_on: Severity::Critical,
            min_agreement: 2,
            count_unresolved: false,
            count_uncertain: true,
        }
    }
}

/// What happens when the review could not do all of its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Treat it as a reason to stop the push (fail closed).
    #[default]
    Block,
    /// Warn and go on.
    Allow,
}

/// What the pre-push gate does with a pushed tag (`gate.tags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum TagPolicy {
    /// Review the commits the tag adds over the remote's known refs, as
    /// for a new branch (fail closed: a tag can publish commits no branch
    /// push sent through the gate).
    #[default]
    Review,
    /// Push tags unreviewed, saying so for each.
    Allow,
}

impl TagPolicy {
    /// Parses `review` / `allow` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "review" => Some(TagPolicy::Review),
            "allow" => Some(TagPolicy::Allow),
            _ => None,
        }
    }

    /// The word used in configuration (`review`).
    pub fn as_str(self) -> &'static str {
        match self {
            TagPolicy::Review => "review",
            TagPolicy::Allow => "allow",
        }
    }
}

impl FailurePolicy {
    /// Parses `block` / `allow` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "block" => Some(FailurePolicy::Block),
            "allow" => Some(FailurePolicy::Allow),
            _ => None,
        }
    }

    /// The word used in configuration (`block`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::Block => "block",
            FailurePolicy::Allow => "allow",
        }
    }
}
