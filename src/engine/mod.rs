//! The model engine: local GGUF models run in-process through llama-cpp-2.
//!
//! The rest of the program talks to models only through [`Backend`], so
//! tests can give the engine a deterministic backend for `standin:` names
//! ([`Engine::with_test_backend`]) while the real path is [`llama`].
//!
//! Typical use: `Engine::new(EngineOptions { threads, verbose, progress:
//! Progress::auto(quiet), ..Default::default() })` routes `standin:*` names
//! to the stand-in and manifest names (`smollm2-135m`, `gemma3-270m`, user
//! entries) to llama.cpp. Per chunk, build the grammar with
//! [`findings_grammar`] (limits from [`GrammarLimits::fit_within`] so the JSON
//! can close within `max_tokens`), put the text common to all reviewers
//! first in the prompts, and pass all reviewers of one model in one
//! [`Backend::generate`] call so the shared prefix is prefilled once.

use serde::{Deserialize, Serialize};

pub mod catalog;
pub mod gguf_meta;
pub mod grammar;
pub mod llama;
pub mod load;
pub mod manifest;
pub mod memory;
pub mod progress;
pub mod remote;
mod sampler;
pub mod schema;
pub mod standin;
pub mod stores;
pub mod template;
pub mod verify;

pub use grammar::{findings_grammar, GrammarLimits};
pub use llama::{BatchDecode, EngineOptions, LlamaBackend};
pub use manifest::{load_manifest, models_dir, Manifest, ModelEntry};
pub use progress::Progress;

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
    pub think: template::ThinkMode,
    /// Most tokens of thinking before the engine closes the thinking block
    /// (the answer's own budget is `max_tokens`).
    #[serde(default = "default_think_tokens")]
    pub think_tokens: usize,
}

fn default_think_tokens() -> usize {
    template::DEFAULT_THINK_TOKENS
}

/// `max_tokens = "auto"` in a reviewer's configuration: the budget follows
/// the model's context ([`auto_max_tokens`]), resolved before the run.
pub const AUTO_MAX_TOKENS: usize = 0;

/// The answer budget of a reviewer whose `max_tokens` is `auto`: a quarter
/// of the model's context, between 512 and 4096 tokens. A fixed 768 suited
/// the 135M demonstration models; a capable model with an 8K-32K context
/// writes several findings with real explanations and fixes, and the diff
/// chunk (2048 tokens by default) plus prompt still fits beside it.
pub fn auto_max_tokens(n_ctx: u32) -> usize {
    (n_ctx as usize / 4).clamp(512, 4096)
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            seed: 42,
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            max_tokens: 768,
            think: template::ThinkMode::Auto,
            think_tokens: template::DEFAULT_THINK_TOKENS,
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
    /// The same constraint as a JSON schema, for servers that take one
    /// (`None`: the grammar alone; see [`schema`]).
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

/// A model that serves requests concurrently (see [`remote`]).
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

/// Routes `standin:*` models to the stand-in and everything else to
/// llama.cpp, which is only initialised (and the manifest only read) when a
/// real model is first used, so stand-in runs need no model files.
pub struct Engine {
    opts: EngineOptions,
    /// The manifest the run already loaded (`None`: read it on first use).
    manifest: Option<Manifest>,
    /// Answers `standin:` names (a test run only; see [`standin`]).
    test_backend: Option<Box<dyn Backend>>,
    llama: Option<LlamaBackend>,
    /// Entries served by inference servers, by name.
    remote_specs: std::collections::HashMap<String, remote::RemoteSpec>,
    /// Their pools, created on first use.
    remote: std::collections::HashMap<String, std::sync::Arc<remote::RemoteModel>>,
    deadline: Option<std::time::Instant>,
}

impl Engine {
    /// An engine with these options; nothing is loaded yet.
    pub fn new(opts: EngineOptions) -> Engine {
        Engine {
            opts,
            manifest: None,
            test_backend: None,
            llama: None,
            remote_specs: Default::default(),
            remote: Default::default(),
            deadline: None,
        }
    }

    /// An engine that resolves model names with `manifest` (so a run reads
    /// its manifest once).
    pub fn with_manifest(opts: EngineOptions, manifest: Manifest) -> Engine {
        let remote_specs = manifest
            .models
            .iter()
            .filter_map(|e| e.remote.clone().map(|r| (e.name.clone(), r)))
            .collect();
        Engine {
            manifest: Some(manifest),
            remote_specs,
            ..Engine::new(opts)
        }
    }

    /// `model` is served by an inference server.
    pub fn is_remote(&self, model: &str) -> bool {
        self.remote_specs.contains_key(model)
    }

    /// The server pool of `model` (created on first use; contacts nothing).
    pub fn remote(
        &mut self,
        model: &str,
    ) -> Option<crate::error::Result<std::sync::Arc<remote::RemoteModel>>> {
        if let Some(r) = self.remote.get(model) {
            return Some(Ok(r.clone()));
        }
        let spec = self.remote_specs.get(model)?;
        Some(remote::RemoteModel::new(model, spec).map(|r| {
            let r = std::sync::Arc::new(r);
            r.set_deadline(self.deadline);
            self.remote.insert(model.to_string(), r.clone());
            r
        }))
    }

    /// Every endpoint that was sent code in this run (prompts or token counts).
    pub fn code_sent_to(&self) -> Vec<String> {
        let mut all: Vec<String> = self.remote.values().flat_map(|r| r.contacted()).collect();
        all.sort();
        all.dedup();
        all
    }

    /// This engine, answering `standin:` names with `backend` (test runs).
    pub fn with_test_backend(mut self, backend: Box<dyn Backend>) -> Engine {
        self.test_backend = Some(backend);
        self
    }

    /// The llama.cpp backend, created on first use.
    pub fn llama(&mut self) -> crate::error::Result<&mut LlamaBackend> {
        if self.llama.is_none() {
            let manifest = match self.manifest.take() {
                Some(m) => m,
                None => load_manifest()?,
            };
            let mut l = LlamaBackend::with_manifest(manifest, self.opts.clone())?;
            l.set_deadline(self.deadline);
            self.llama = Some(l);
        }
        self.llama
            .as_mut()
            .ok_or_else(|| crate::error::Error::Model("llama.cpp backend unavailable".into()))
    }

    /// Milliseconds the real engine has spent loading models and creating
    /// contexts so far (0 when it was never used).
    pub fn load_ms(&self) -> u64 {
        self.llama.as_ref().map_or(0, |l| l.load_ms())
    }

    /// What the in-process engine has loaded so far.
    pub fn usage(&self) -> EngineUse {
        self.llama
            .as_ref()
            .map_or_else(EngineUse::default, |l| l.usage())
    }

    /// Clears any progress line (call before printing to stderr).
    pub fn clear_progress(&mut self) {
        if let Some(l) = self.llama.as_mut() {
            l.progress_mut().clear();
        }
    }
}

fn no_test_backend(model: &str) -> crate::error::Error {
    crate::error::Error::Model(format!(
        "`{model}` is a test backend, not a model; only the test suite can use it"
    ))
}

impl Backend for Engine {
    fn generate(
        &mut self,
        model: &str,
        requests: &[Request],
    ) -> Vec<crate::error::Result<Generation>> {
        if standin::is_standin(model) {
            return match self.test_backend.as_mut() {
                Some(b) => b.generate(model, requests),
                None => requests
                    .iter()
                    .map(|_| Err(no_test_backend(model)))
                    .collect(),
            };
        }
        if let Some(pool) = self.remote(model) {
            let progress = self.opts.progress.is_enabled();
            let say = |m: &str| {
                if progress {
                    eprintln!("deep-review: {m}");
                }
            };
            return requests
                .iter()
                .map(|r| {
                    pool.as_ref()
                        .map_err(|e| crate::error::Error::Model(e.to_string()))
                        .and_then(|p| p.generate_one(r, model, &say))
                })
                .collect();
        }
        match self.llama() {
            Ok(l) => l.generate(model, requests),
            Err(e) => {
                let msg = e.to_string();
                requests
                    .iter()
                    .map(|_| Err(crate::error::Error::Model(msg.clone())))
                    .collect()
            }
        }
    }

    fn count_tokens(&mut self, model: &str, text: &str) -> crate::error::Result<usize> {
        if standin::is_standin(model) {
            return match self.test_backend.as_mut() {
                Some(b) => b.count_tokens(model, text),
                None => Err(no_test_backend(model)),
            };
        }
        if let Some(pool) = self.remote(model) {
            return Ok(pool?
                .count_tokens(text)
                .unwrap_or_else(|| crate::plan::estimate_tokens(text)));
        }
        self.llama()?.count_tokens(model, text)
    }

    fn batches(&mut self, model: &str) -> bool {
        if standin::is_standin(model) {
            return self.test_backend.as_mut().is_some_and(|b| b.batches(model));
        }
        if self.is_remote(model) || self.opts.batch_decode == llama::BatchDecode::Off {
            return false;
        }
        // The manifest and the file's size decide; nothing is loaded.
        if self.manifest.is_none() && self.llama.is_none() {
            match load_manifest() {
                Ok(m) => self.manifest = Some(m),
                Err(_) => return false,
            }
        }
        let Some(manifest) = self
            .manifest
            .as_ref()
            .or_else(|| self.llama.as_ref().map(|l| l.manifest()))
        else {
            return false;
        };
        let Some(entry) = manifest.get(model) else {
            return false;
        };
        let bytes = std::fs::metadata(manifest.path_of(entry)).map_or(0, |m| m.len());
        self.opts.batch_decode.applies(bytes)
    }

    fn concurrent(&mut self, model: &str) -> Option<std::sync::Arc<dyn Concurrent>> {
        match self.remote(model)? {
            Ok(r) => Some(r),
            Err(_) => None,
        }
    }

    fn set_progress_labels(&mut self, chunk: &str, requests: &[String]) {
        if let Some(l) = self.llama.as_mut() {
            l.set_progress_labels(chunk, requests);
        } else {
            self.opts.progress.set_labels(chunk, requests);
        }
    }

    fn set_deadline(&mut self, at: Option<std::time::Instant>) {
        self.deadline = at;
        if let Some(l) = self.llama.as_mut() {
            l.set_deadline(at);
        }
        for r in self.remote.values() {
            r.set_deadline(at);
        }
    }
}

pub use catalog::list_manifest as list_models_of;
