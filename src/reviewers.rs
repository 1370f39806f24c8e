//! Stage 4: the review plan + reviewers → raw reviews, through a
//! [`crate::engine::Backend`].

use crate::engine::Sampling;
use serde::{Deserialize, Serialize};

/// A reviewer: a model, a persona prompt and sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewerSpec {
    /// Name shown in the report (`correctness`).
    pub name: String,
    /// Model name from the manifest (`smollm2-135m`) or a stand-in (`standin:marker`).
    pub model: String,
    /// Persona prompt: a file name in `prompts/` (`correctness.md`) or a path.
    pub prompt: String,
    pub sampling: Sampling,
}
