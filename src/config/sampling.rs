//! How a reviewer's model is asked to answer, as configured: sampling,
//! thinking and batched decoding. Plain data and their parsers; the engine
//! applies them.

use serde::{Deserialize, Serialize};

/// Sampling settings of one reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    pub seed: u32,
    /// 0.0 = greedy.
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    /// Hard cap on generated tokens; the grammar's limits keep the JSON
    /// closable within it.
    pub max_tokens: usize,
    /// Whether a reasoning model thinks before it answers.
    #[serde(default)]
    pub think: ThinkMode,
    /// Most tokens of thinking before the engine closes the thinking block
    /// (the answer's own budget is `max_tokens`).
    #[serde(default = "default_think_tokens")]
    pub think_tokens: usize,
}

fn default_think_tokens() -> usize {
    DEFAULT_THINK_TOKENS
}

/// `max_tokens = "auto"` in a reviewer's configuration: the budget follows
/// the model's context (`engine::auto_max_tokens`), resolved before the run.
pub const AUTO_MAX_TOKENS: usize = 0;

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            seed: 42,
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            max_tokens: 768,
            think: ThinkMode::Auto,
            think_tokens: DEFAULT_THINK_TOKENS,
        }
    }
}

/// A reviewer's `think` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThinkMode {
    /// Think when the model's template opens a thinking block.
    #[default]
    Auto,
    /// Always think (a template without a style gets `<think>` tags).
    On,
    /// Never think: an empty thinking block is written for the model.
    Off,
}

impl ThinkMode {
    /// The setting as written in a configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ThinkMode::Auto => "auto",
            ThinkMode::On => "on",
            ThinkMode::Off => "off",
        }
    }

    /// Parses `auto` / `on` / `off`.
    pub fn parse(s: &str) -> Option<ThinkMode> {
        [ThinkMode::Auto, ThinkMode::On, ThinkMode::Off]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// Default `think_tokens`: enough for a reasoning model to look at a
/// chunk, bounded so a review stays a review and the answer still fits.
pub const DEFAULT_THINK_TOKENS: usize = 1024;

/// Whether the requests of one `generate` call are decoded together, one
/// `llama_decode` per step for all of them (`review.batch_decode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchDecode {
    /// For models large enough to gain (`engine::llama::BATCH_MIN_BYTES`).
    #[default]
    Auto,
    On,
    Off,
}

impl BatchDecode {
    /// Parses `auto`, `on`/`true` or `off`/`false`.
    pub fn parse(s: &str) -> Option<BatchDecode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(BatchDecode::Auto),
            "on" | "true" | "yes" => Some(BatchDecode::On),
            "off" | "false" | "no" => Some(BatchDecode::Off),
            _ => None,
        }
    }

    /// The configured name.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchDecode::Auto => "auto",
            BatchDecode::On => "on",
            BatchDecode::Off => "off",
        }
    }
}
