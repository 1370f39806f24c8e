//! The engine's one interface to the review pipeline: what the pipeline
//! asks about its reviewers' models, answered here so that the pipeline
//! never needs to know how models are named, loaded, counted or served.
//!
//! Takes model names (as configured) and returns plain data: a model's
//! file, demonstration flag, servers and answer budget
//! ([`reviewer_model`]); which models cannot be used and why
//! ([`Engine::preflight`]); the cache identity of a model's output
//! ([`Engine::model_identity`]); the identities of the tokenizers that cut
//! a plan ([`Engine::tokenizer_ids`]) and a token counter that counts as
//! they do ([`Engine::plan_token_counter`]).

use crate::config::model_ref::is_standin;
use crate::config::sampling::AUTO_MAX_TOKENS;
use crate::engine::backend::auto_max_tokens;
use crate::engine::manifest::{ChatTemplate, Manifest, DEFAULT_N_CTX, REFERENCE_N_CTX};
use crate::engine::router::Engine;
use crate::engine::verify::{remembered_sha256, verified_cache_file};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// What a reviewer needs to know about its model before anything is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewerModel {
    /// The model's file name (the model name itself for stand-ins and servers).
    pub file: String,
    /// The manifest marks the model as a demonstration model.
    pub demonstration: bool,
    /// The inference servers the model runs on (empty: in-process).
    pub endpoints: Vec<String>,
    /// The answer budget: `max_tokens` as configured, with `auto` resolved
    /// from the manifest's context, except for a server that tells its
    /// context itself (then it stays `auto` until [`Engine::answer_budget`]).
    pub max_tokens: usize,
}

/// The context window the manifest gives `model` (what `--plan` can know
/// without loading anything); `None` for servers that tell their own, for
/// stand-ins and unknown names.
pub fn configured_window(manifest: Option<&Manifest>, model: &str) -> Option<usize> {
    let e = manifest?.get(model)?;
    (e.n_ctx > 0 && !is_standin(model)).then_some(e.n_ctx as usize)
}

/// A reviewer's model as the manifest describes it. Loads nothing, so the
/// cache key of an all-cached run holds a number without any model loaded.
pub fn reviewer_model(
    manifest: Option<&Manifest>,
    model: &str,
    max_tokens: usize,
) -> ReviewerModel {
    let entry = manifest.and_then(|m| m.get(model));
    // 0: a server entry whose context the server tells (resolved once it
    // answered, by `Engine::answer_budget`).
    let ask_server = entry.is_some_and(|e| e.remote.is_some() && e.n_ctx == 0);
    let max_tokens = if max_tokens == AUTO_MAX_TOKENS && !ask_server {
        auto_max_tokens(entry.map_or(DEFAULT_N_CTX, |e| e.n_ctx))
    } else {
        max_tokens
    };
    ReviewerModel {
        file: entry
            .filter(|e| e.remote.is_none())
            .map(|e| e.file.clone())
            .unwrap_or_else(|| model.to_string()),
        demonstration: entry.is_some_and(|e| e.demonstration),
        endpoints: entry
            .and_then(|e| e.remote.as_ref())
            .map(|r| r.endpoints.clone())
            .unwrap_or_default(),
        max_tokens,
    }
}

/// How `model` ranks as a verifier, without loading it: whether it is on
/// an inference server, its file's size in bytes (0: unknown) and whether
/// it is a demonstration model.
pub fn verifier_rank(manifest: Option<&Manifest>, model: &str) -> (bool, u64, bool) {
    let Some((m, e)) = manifest.and_then(|m| Some((m, m.get(model)?))) else {
        return (false, 0, false);
    };
    let size = if e.size > 0 || e.remote.is_some() {
        e.size
    } else {
        std::fs::metadata(m.path_of(e)).map_or(0, |md| md.len())
    };
    (e.remote.is_some(), size, e.demonstration)
}

/// Which of the `(who, model)` reviewers, and the lead (`the lead MODEL`),
/// run on inference servers: `(who, model, endpoints)`, in order.
pub fn on_servers<'a>(
    reviewers: impl IntoIterator<Item = (String, &'a str)>,
    lead: Option<&'a str>,
    manifest: Option<&Manifest>,
) -> Vec<(String, &'a str, String)> {
    reviewers
        .into_iter()
        .chain(lead.map(|l| (format!("the lead {l}"), l)))
        .filter_map(|(who, model)| {
            let r = manifest?.get(model)?.remote.as_ref()?;
            Some((who, model, r.endpoints.join(", ")))
        })
        .collect()
}

/// The real models among `models` (stand-ins need no checking, loading or
/// counting), without those in `failed`, sorted and without repeats.
fn real_models<'m>(models: &'m [String], failed: &HashMap<String, String>) -> Vec<&'m str> {
    let mut real: Vec<&str> = models
        .iter()
        .map(String::as_str)
        .filter(|m| !is_standin(m) && !failed.contains_key(*m))
        .collect();
    real.sort_unstable();
    real.dedup();
    real
}

impl Engine {
    /// The answer budget of a reviewer with `max_tokens = "auto"` on a
    /// server: a quarter of the context the server reports (known once it
    /// answered). `max_tokens` as given for everything else.
    pub fn answer_budget(&mut self, model: &str, max_tokens: usize) -> usize {
        if max_tokens != AUTO_MAX_TOKENS {
            return max_tokens;
        }
        let n_ctx = self
            .remote(model)
            .and_then(|p| p.ok())
            .and_then(|p| p.probe(&|_| {}).ok())
            .and_then(|i| i.n_ctx)
            .unwrap_or(REFERENCE_N_CTX);
        auto_max_tokens(n_ctx)
    }

    /// The context window of `model` in tokens, as it will run: the loaded
    /// model's (after any shrink to fit memory), or what its server
    /// reports. `None` for stand-ins and when it cannot be known.
    pub fn context_window(&mut self, model: &str) -> Option<usize> {
        if is_standin(model) {
            return None;
        }
        if self.is_remote(model) {
            return self
                .remote(model)
                .and_then(|p| p.ok())
                .and_then(|p| p.probe(&|_| {}).ok())
                .and_then(|i| i.n_ctx)
                .map(|n| n as usize);
        }
        self.llama().ok()?.n_ctx(model).ok().map(|n| n as usize)
    }

    /// What identifies a model's output in the cache: its file's sha256
    /// (remembered from its first use when the manifest has none) and any
    /// template override; what a server says it serves; the name itself
    /// for stand-ins and unknown names.
    pub fn model_identity(&mut self, manifest: Option<&Manifest>, model: &str) -> String {
        if let Some(pool) = self.remote(model) {
            // What the server says it serves; the endpoint itself is not
            // part of it, so the members of a pool share their answers.
            return match pool.and_then(|p| p.probe(&|_| {})) {
                Ok(info) => format!("remote:{}", info.identity),
                Err(_) => format!("remote-unreachable:{model}"),
            };
        }
        let Some(m) = manifest else {
            return model.to_string();
        };
        let Some(e) = m.get(model) else {
            return model.to_string();
        };
        let path = m.path_of(e);
        let sha = if e.sha256.is_empty() {
            remembered_sha256(&path, &verified_cache_file())
                // Never hashed: the file itself, so two such models never share.
                .unwrap_or_else(|| format!("unhashed:{}", path.display()))
        } else {
            e.sha256.clone()
        };
        match &e.chat_template {
            ChatTemplate::Auto => sha,
            ChatTemplate::Named(t) => format!("{sha}+template:{t}"),
            ChatTemplate::Completion => format!("{sha}+completion"),
        }
    }

    /// The identities of the tokenizers that cut a plan for `models`: those
    /// of the real models not in `failed` (stand-ins count nothing).
    pub fn tokenizer_ids(
        &mut self,
        manifest: Option<&Manifest>,
        models: &[String],
        failed: &HashMap<String, String>,
    ) -> Vec<String> {
        real_models(models, failed)
            .into_iter()
            .map(|m| self.model_identity(manifest, m))
            .collect()
    }

    /// Checks every real model among `models` up front (hash on first use,
    /// header, vocabulary, memory for its context; a server is asked what
    /// it serves), so a missing, corrupt or too large model is reported
    /// before minutes of work. Returns the models that cannot be used and
    /// why; when every model is real and none can be used, the first error
    /// (exit 4). `manifest` is the run's manifest or why it could not be read.
    pub fn preflight(
        &mut self,
        manifest: std::result::Result<&Manifest, &str>,
        models: &[String],
        quiet: bool,
        progress: bool,
    ) -> Result<HashMap<String, String>> {
        let real = real_models(models, &HashMap::new());
        let mut failed = HashMap::new();
        let mut first_error = None;
        for model in &real {
            // Past the run's deadline no reviewer will start: the models
            // not loaded yet are not needed (nor failed). One load that is
            // under way is not interrupted.
            if self
                .deadline()
                .is_some_and(|d| std::time::Instant::now() >= d)
            {
                break;
            }
            let warn = |w: &str| {
                if !quiet {
                    eprintln!("git-deep-review: warning: {w}");
                }
            };
            let res = match (manifest, self.remote(model)) {
                (Err(e), _) => Err(Error::Model(e.to_string())),
                (Ok(_), Some(pool)) => {
                    if progress {
                        eprintln!("deep-review: asking the server of {model} what it serves");
                    }
                    pool.and_then(|p| p.probe(&warn)).map(|_| ())
                }
                (Ok(_), None) => {
                    if progress {
                        eprintln!("deep-review: loading {model}");
                    }
                    self.llama().and_then(|l| l.prepare(model))
                }
            };
            if let Err(e) = res {
                failed.insert(model.to_string(), e.to_string());
                first_error.get_or_insert(e);
            }
        }
        let all_real = models.iter().all(|m| !is_standin(m));
        if all_real && !real.is_empty() && failed.len() == real.len() {
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        for (model, e) in &failed {
            if !quiet {
                eprintln!("git-deep-review: warning: model {model} is unusable, its reviewers are reported as failed: {e}");
            }
        }
        Ok(failed)
    }

    /// A token counter for the plan that counts as the models not in
    /// `failed` do: llama.cpp's tokenizer for in-process models, a
    /// llama-server's `/tokenize` for models on one (other servers cannot
    /// count). A chunk must fit every model that reads it, so the largest
    /// count wins; text no model can count is estimated. `None` when no
    /// model can count at all (the estimate stands).
    pub fn plan_token_counter(
        &mut self,
        models: &[String],
        failed: &HashMap<String, String>,
    ) -> Option<impl Fn(&str) -> usize> {
        let (remote, local): (Vec<&str>, Vec<&str>) = real_models(models, failed)
            .into_iter()
            .partition(|m| self.is_remote(m));
        let servers: Vec<_> = remote
            .iter()
            .filter_map(|m| self.remote(m).and_then(|r| r.ok()))
            .collect();
        let local: Vec<String> = local.into_iter().map(str::to_string).collect();
        let local_count = if local.is_empty() {
            None
        } else {
            self.llama().and_then(|l| l.plan_counter(&local)).ok()
        };
        if local_count.is_none() && servers.is_empty() {
            return None;
        }
        // The planner asks about the same pieces more than once; a server
        // is asked once per piece.
        let memo = std::cell::RefCell::new(HashMap::<String, usize>::new());
        Some(move |text: &str| -> usize {
            let mut n = local_count.as_ref().map(|c| c(text));
            if !servers.is_empty() {
                let remembered = memo.borrow().get(text).copied();
                let counted = remembered.or_else(|| {
                    let c = servers.iter().filter_map(|s| s.count_tokens(text)).max();
                    if let Some(c) = c {
                        memo.borrow_mut().insert(text.to_string(), c);
                    }
                    c
                });
                n = n.max(counted);
            }
            n.unwrap_or_else(|| crate::plan::estimate_tokens(text))
        })
    }
}
