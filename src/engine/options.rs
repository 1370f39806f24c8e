//! How the engine is asked to run: threads, context size, memory bound,
//! batched decoding, logging. Plain data the command line fills in.

use crate::config::sampling::BatchDecode;
use crate::engine::progress::Progress;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// CPU threads, fixed (default: the cores other processes leave free,
    /// checked before each batch of requests; see `engine::load`).
    pub threads: Option<usize>,
    /// Let llama.cpp log to stderr (`-v`).
    pub verbose: bool,
    pub progress: Progress,
    /// Overrides every entry's `n_ctx` (bench and tests use it).
    pub n_ctx: Option<u32>,
    /// Prefill piece size (default `engine::llama::PREFILL_CHUNK`; the bench varies it).
    pub prefill_chunk: Option<u32>,
    /// Keep generating through end-of-generation tokens up to `max_tokens`
    /// (the bench needs fixed-length decodes; never set in normal runs).
    pub ignore_eog: bool,
    /// Most memory one model may use, weights and KV cache together
    /// (`review.max_memory`); the context is shrunk to fit. `None`: what
    /// the machine has available.
    pub max_memory: Option<u64>,
    /// Decode a call's requests together (`review.batch_decode`).
    pub batch_decode: BatchDecode,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            threads: None,
            verbose: false,
            progress: Progress::disabled(),
            n_ctx: None,
            prefill_chunk: None,
            ignore_eog: false,
            max_memory: None,
            batch_decode: BatchDecode::Auto,
        }
    }
}
