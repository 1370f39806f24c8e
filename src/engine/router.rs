//! The [`Engine`]: routes each model name to the back end that serves it
//! (llama.cpp in-process, an inference server, or a test stand-in) and
//! counts what it loaded.

use crate::engine::backend::{Backend, Concurrent, EngineUse, Generation, Request};
use crate::engine::llama::{self, LlamaBackend};
use crate::engine::manifest::{load_manifest, Manifest};
use crate::engine::options::EngineOptions;
use crate::engine::remote;

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

    /// The run's deadline, as last set.
    pub fn deadline(&self) -> Option<std::time::Instant> {
        self.deadline
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
        // Every configured entry's key, not only this one's: entries on one
        // server share what it has seen.
        let keys: Vec<String> = self
            .remote_specs
            .values()
            .filter_map(|s| s.api_key_env.as_deref())
            .filter_map(|var| std::env::var(var).ok())
            .map(|k| k.trim().to_string())
            .collect();
        Some(remote::RemoteModel::new(model, spec).map(|mut r| {
            r.redact_also(keys.iter().map(String::as_str));
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
        if crate::config::model_ref::is_standin(model) {
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
        if crate::config::model_ref::is_standin(model) {
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
        if crate::config::model_ref::is_standin(model) {
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
        if let Some(t) = self.test_backend.as_mut() {
            t.set_deadline(at);
        }
        if let Some(l) = self.llama.as_mut() {
            l.set_deadline(at);
        }
        for r in self.remote.values() {
            r.set_deadline(at);
        }
    }
}
