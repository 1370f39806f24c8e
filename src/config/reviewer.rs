//! A configured reviewer (`[[reviewer]]`): plain data the review stage runs.

use crate::config::sampling::Sampling;
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
