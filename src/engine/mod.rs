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

pub mod backend;
pub mod catalog;
pub mod entry;
pub mod gguf_meta;
pub mod grammar;
pub mod llama;
pub mod load;
pub mod manifest;
pub mod memory;
pub mod options;
pub mod progress;
pub mod remote;
pub mod reviewer_models;
pub mod router;
mod sampler;
pub mod schema;
pub mod stores;
pub mod template;
pub mod verify;

pub use crate::config::sampling::{Sampling, AUTO_MAX_TOKENS};
pub use backend::*;
pub use grammar::{findings_grammar, GrammarLimits};
pub use llama::{BatchDecode, LlamaBackend};
pub use manifest::{load_manifest, models_dir, Manifest, ModelEntry};
pub use options::EngineOptions;
pub use progress::Progress;
pub use router::Engine;

pub use catalog::list_manifest as list_models_of;
