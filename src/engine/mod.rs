//! The model engine: local GGUF models run in-process through llama-cpp-2.
//!
//! Owner: engine (issue 3). The rest of the program talks to models only
//! through [`Backend`], so unit tests can use the deterministic
//! [`standin`] backend while the real path is [`llama`].

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
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            seed: 42,
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            max_tokens: 768,
        }
    }
}

/// A prompt as messages; the engine applies the model's chat template (or
/// the manifest's override, or a plain completion layout for base models).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prompt {
    pub system: String,
    pub user: String,
}

/// One generation request. Requests passed together to
/// [`Backend::generate`] use the same model; the engine prefills their
/// longest common token prefix once and shares it (KV cache copy).
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt: Prompt,
    pub sampling: Sampling,
    /// GBNF grammar the output must follow (empty = unconstrained).
    pub grammar: String,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// End-of-generation token or grammar complete.
    Eog,
    /// `max_tokens` reached.
    MaxTokens,
}

/// What one request produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    /// Prompt tokens that came from the shared prefix (not prefilled again).
    pub shared_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_ms: u64,
    pub generate_ms: u64,
    pub stop: StopReason,
}

/// A model engine. `model` is a manifest name (`smollm2-135m`) or a
/// stand-in name (`standin:...`).
pub trait Backend {
    /// Runs all requests against one model; one result per request, in order.
    fn generate(
        &mut self,
        model: &str,
        requests: &[Request],
    ) -> Vec<crate::error::Result<Generation>>;

    /// Tokens the model would use for `text` (the plan's estimate is replaced by this).
    fn count_tokens(&mut self, model: &str, text: &str) -> crate::error::Result<usize>;
}
