//! What the rest of the program asks of a model, as plain data and one
//! trait: [`Prompt`] and [`Request`] in, [`Generation`] out, through any
//! [`Backend`] (llama.cpp in-process, an inference server, a stand-in).

use crate::config::sampling::Sampling;
use serde::{Deserialize, Serialize};

/// What the in-process engine had to load during a run, counted by the
/// engine itself (a review answered from the cache should load nothing;
/// tests assert it through these counters rather than the clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineUse {
    /// llama.cpp was initialised (its CPU back end registered).
    pub backend_started: bool,
    /// Vocabularies (with templates and metadata) read from GGUF files.
    pub vocabularies_loaded: u32,
    /// Model weights mapped in.
    pub weights_loaded: u32,
    /// llama.cpp contexts (KV caches) created.
    pub contexts_created: u32,
}

impl EngineUse {
    /// What was loaded after `before` was taken (one run of an engine that
    /// served earlier runs too, as in `eval`).
    pub fn since(self, before: EngineUse) -> EngineUse {
        EngineUse {
            backend_started: self.backend_started && !before.backend_started,
            vocabularies_loaded: self.vocabularies_loaded - before.vocabularies_loaded,
            weights_loaded: self.weights_loaded - before.weights_loaded,
            contexts_created: self.contexts_created - before.contexts_created,
        }
    }

    /// Nothing was loaded.
    pub fn is_nothing(&self) -> bool {
        *self == EngineUse::default()
    }
}

/// The answer budget of a reviewer whose `max_tokens` is `auto`: a quarter
/// of the model's context, between 512 and 4096 tokens. A fixed 768 suited
/// the 135M demonstration models; a capable model with an 8K-32K context
/// writes several findings with real explanations and fixes, and the diff
/// chunk (2048 tokens by default) plus prompt still fits beside it.
pub fn auto_max_tokens(n_ctx: u32) -> usize {
    (n_ctx as usize / 4).clamp(512, 4096)
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
    /// The same constraint as a JSON schema, for servers that take one
    /// (`None`: the grammar alone; see [`crate::engine::schema`]).
    pub schema: Option<std::sync::Arc<serde_json::Value>>,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// End-of-generation token or grammar complete.
    Eog,
    /// `max_tokens` reached.
    MaxTokens,
    /// The run's time budget ran out mid-answer (the text is partial).
    Deadline,
    /// Ctrl-C mid-answer (the text is partial).
    Interrupted,
}

impl StopReason {
    /// The answer was cut off by the run, not finished by the model: it is
    /// neither used nor cached.
    pub fn cut_short(self) -> bool {
        matches!(self, StopReason::Deadline | StopReason::Interrupted)
    }
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
    /// What a reasoning model thought before it answered (never parsed for
    /// findings; kept, bounded, in the report's appendix).
    pub thinking: String,
    /// Tokens of thinking (not counted in `generated_tokens`).
    pub thinking_tokens: usize,
    /// The server that answered (empty: in-process).
    pub endpoint: String,
    /// Threads the in-process engine used (0: not in-process).
    pub threads: usize,
    /// Requests decoded together with this one, itself included (1: alone;
    /// 0: not in-process).
    pub together: usize,
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

    /// Labels for progress output of the next `generate` call: the chunk
    /// (e.g. `chunk 2/7`) and one name per request (the reviewers).
    fn set_progress_labels(&mut self, _chunk: &str, _requests: &[String]) {}

    /// Generations in progress at `at` stop there ([`StopReason::Deadline`]).
    fn set_deadline(&mut self, _at: Option<std::time::Instant>) {}

    /// `model` as a backend that takes requests from several threads at
    /// once (a model on an inference server), or `None` (in-process models
    /// run one request group at a time, in order).
    fn concurrent(&mut self, _model: &str) -> Option<std::sync::Arc<dyn Concurrent>> {
        None
    }

    /// Whether `model` decodes the requests of one `generate` call
    /// together (see [`llama::BatchDecode`]). Then an answer depends on the
    /// whole group, and the review cache keys it so. Loads no model.
    fn batches(&mut self, _model: &str) -> bool {
        false
    }
}

/// A model that serves requests concurrently (see [`crate::engine::remote`]).
pub trait Concurrent: Send + Sync {
    /// Runs one request; `label` names it in progress lines given to `say`.
    fn generate_one(
        &self,
        request: &Request,
        label: &str,
        say: &(dyn Fn(&str) + Sync),
    ) -> crate::error::Result<Generation>;

    /// Requests that may be in flight at once.
    fn max_concurrency(&self) -> usize;
}
