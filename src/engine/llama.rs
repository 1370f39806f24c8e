//! The real engine: GGUF models run in-process through llama-cpp-2.
//!
//! Safety rules this file keeps, because breaking them aborts the process
//! inside C++ rather than returning an error:
//! - a file reaches llama.cpp only after its header was validated
//!   ([`super::gguf_meta`]) and its hash checked ([`super::verify`]);
//! - no decode call carries more than `n_batch` tokens, and no sequence
//!   grows past `n_ctx` (checked before anything is decoded);
//! - the grammar sampler is never placed after `top_k` in a chain, and a
//!   token is accepted into it only after the grammar allowed it.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend as CppBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use super::backend::{Backend, EngineUse, Generation, Prompt, Request, StopReason};
use super::gguf_meta::read_gguf_info;
use super::manifest::{load_manifest, ChatTemplate, Manifest, ModelEntry};
use super::memory;
use super::progress::Progress;
use super::sampler::Sampler;
use super::template::{self, ThinkPlan, ThinkStyle};
use super::verify::{missing_model_error, verify_model};
use crate::error::{Error, Result};

/// Tokens per decode call at most (llama.cpp's `n_batch`).
pub const N_BATCH: u32 = 512;
/// Prompts are decoded in pieces that start at multiples of this position,
/// and the shared prefix is cut at such a multiple. Every prompt position is
/// then computed in an identical batch whether or not the prompt shares its
/// prefix with others, so shared-prefix output is bit-identical to running
/// the prompt alone (batch shape changes the float summation order).
pub const PREFILL_CHUNK: u32 = 128;
/// Flash attention (`LLAMA_FLASH_ATTN_TYPE_ENABLED`): it skips masked KV
/// cells, so a sequence's result does not depend on where its cells sit in
/// the shared cache.
const FLASH_ATTN_ENABLED: i32 = 1;
/// Smallest context we fall back to when memory is short.
const MIN_CTX: u32 = 512;
/// Sequences a context holds: the shared prefix (0), up to `MAX_SEQS - 2`
/// requests decoded together, and [`PAD_SEQ`].
const MAX_SEQS: u32 = 8;
/// The sequence of the filler tokens that round a batched step up to a
/// multiple of [`STEP_ROWS`]: ggml's repacked CPU kernels (Q4_0, Q4_K,
/// IQ4_NL on AVX2 and ARM) multiply four rows at once and fall back to one
/// row at a time, each reading all the weights again, for the rest, so a
/// step of three rows reads the weights three times and one of four reads
/// them once. The filler's results are never read and its cells are
/// dropped after every step.
const PAD_SEQ: i32 = MAX_SEQS as i32 - 1;
/// Rows ggml's repacked kernels multiply at once.
const STEP_ROWS: i32 = 4;
/// Models at least this large decode their requests together under
/// [`BatchDecode::Auto`]. Decoding one token of such a model reads all its
/// weights from memory, and several sequences' tokens share that read, so
/// a batch of three costs little more than one; a small model's decode is
/// bound by compute and thread synchronisation instead, and a batched
/// answer also depends on its batch-mates (see [`LlamaBackend::batches`]).
pub const BATCH_MIN_BYTES: u64 = 1 << 30;

pub use crate::config::sampling::BatchDecode;

impl BatchDecode {
    /// Decided for a model file of `bytes`.
    pub fn applies(self, bytes: u64) -> bool {
        match self {
            BatchDecode::Auto => bytes >= BATCH_MIN_BYTES,
            BatchDecode::On => true,
            BatchDecode::Off => false,
        }
    }
}

static CPP_BACKEND: OnceLock<std::result::Result<CppBackend, String>> = OnceLock::new();
/// Models loaded in this process, by canonical path and whether only the
/// vocabulary was loaded. Models are mmapped and
/// live until exit: leaking them gives contexts a `'static` model to borrow,
/// and "load each model once per run" is exactly what we want.
static MODELS: OnceLock<Mutex<HashMap<(PathBuf, bool), &'static LlamaModel>>> = OnceLock::new();

/// The process-wide llama.cpp backend (initialised once). With `verbose`
/// false on the first call, llama.cpp's own logging is silenced for the
/// rest of the process.
pub fn cpp_backend(verbose: bool) -> Result<&'static CppBackend> {
    CPP_BACKEND
        .get_or_init(|| {
            let mut b =
                CppBackend::init().map_err(|e| format!("cannot initialise llama.cpp: {e}"))?;
            if !verbose {
                b.void_logs();
            }
            Ok(b)
        })
        .as_ref()
        .map_err(|e| Error::Model(e.clone()))
}

pub use crate::engine::options::EngineOptions;

/// How prompts are laid out for one model.
enum Layout {
    Template(LlamaChatTemplate),
    Completion,
}

/// Memory the KV caches of this process may take.
#[derive(Debug, Clone, Copy)]
struct MemoryBudget {
    /// Per-model cap, weights + KV (`review.max_memory`).
    cap: Option<u64>,
    /// KV bytes of the contexts already sized for other models.
    committed: u64,
}

struct Loaded {
    /// The model's vocabulary, chat template and hyper-parameters (loaded
    /// without weights: tokenizing, planning and the memory check need no
    /// more, and a review answered from the cache never needs the weights).
    model: &'static LlamaModel,
    /// The whole model, loaded when a context is first needed.
    full: Option<&'static LlamaModel>,
    entry: ModelEntry,
    path: PathBuf,
    /// Size of the weights (the GGUF file).
    file_bytes: u64,
    layout: Layout,
    /// How the template marks thinking (`None`: not a reasoning template).
    think_style: Option<ThinkStyle>,
    n_ctx: u32,
    /// `n_ctx` was checked against the memory budget ([`size_context`]).
    sized: bool,
    ctx: Option<LlamaContext<'static>>,
    /// Threads `ctx` was created with.
    ctx_threads: i32,
    /// How long reading the vocabulary took: loading the weights reads it
    /// again first (and cannot be stopped while it does), so a load with
    /// less time than this left before the deadline cannot finish in time.
    vocab_time: std::time::Duration,
}

/// [`Backend`] running manifest models with llama.cpp.
pub struct LlamaBackend {
    manifest: Manifest,
    /// The most threads a generation uses (all cores, or `--threads`).
    threads: i32,
    /// `--threads` was given: use exactly that many, whatever the load.
    fixed_threads: bool,
    opts: EngineOptions,
    loaded: HashMap<String, Loaded>,
    memory: MemoryBudget,
    /// Time spent loading models and creating contexts, in total.
    load_ms: u64,
    /// Generations stop here (the run's time budget).
    stop_at: Option<Instant>,
    /// What has been loaded, for [`LlamaBackend::usage`].
    usage: EngineUse,
}

impl LlamaBackend {
    /// Initialises llama.cpp (once per process) and reads the manifest from
    /// the models directory. Models are loaded lazily, on first use.
    pub fn new(opts: EngineOptions) -> Result<LlamaBackend> {
        Self::with_manifest(load_manifest()?, opts)
    }

    /// Like [`LlamaBackend::new`] with an explicit manifest.
    pub fn with_manifest(manifest: Manifest, opts: EngineOptions) -> Result<LlamaBackend> {
        cpp_backend(opts.verbose)?;
        let threads = opts.threads.filter(|&t| t > 0).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(4)
        });
        Ok(LlamaBackend {
            manifest,
            threads: i32::try_from(threads).unwrap_or(4),
            fixed_threads: opts.threads.is_some_and(|t| t > 0),
            memory: MemoryBudget {
                cap: opts.max_memory,
                committed: 0,
            },
            opts,
            loaded: HashMap::new(),
            load_ms: 0,
            stop_at: None,
            usage: EngineUse {
                backend_started: true,
                ..Default::default()
            },
        })
    }

    /// The manifest this engine resolves model names with.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The most threads used for prefill and generation.
    pub fn threads(&self) -> usize {
        self.threads as usize
    }

    /// The progress display (to clear it before printing).
    pub fn progress_mut(&mut self) -> &mut Progress {
        &mut self.opts.progress
    }

    /// Whether the weights of `name` are loaded (they are only once a
    /// generation needs a context).
    pub fn weights_loaded(&self, name: &str) -> bool {
        self.loaded.get(name).is_some_and(|l| l.full.is_some())
    }

    /// Milliseconds spent so far loading models (vocabularies and weights)
    /// and creating their contexts: the report's "load" stage.
    pub fn load_ms(&self) -> u64 {
        self.load_ms
    }

    /// What this engine has loaded so far (vocabularies, weights, contexts).
    pub fn usage(&self) -> EngineUse {
        self.usage
    }

    /// Loads (verifying first) the vocabulary, template and metadata of the
    /// model called `name`, if not loaded yet; the weights come later, with
    /// the first context.
    pub fn load(&mut self, name: &str) -> Result<()> {
        if self.loaded.contains_key(name) {
            return Ok(());
        }
        let started = Instant::now();
        let entry = self.manifest.get(name).cloned().ok_or_else(|| {
            Error::Model(format!(
                "unknown model `{name}`; configured models: {} (add others in {}/manifest.toml)",
                self.manifest.names().join(", "),
                self.manifest.dir.display()
            ))
        })?;
        let path = self.manifest.path_of(&entry);
        self.opts
            .progress
            .status(&format!("[{name}] checking {}", path.display()));
        verify_model(&entry, &path)?;
        self.opts
            .progress
            .status(&format!("[{name}] loading {}", path.display()));
        let vocab_started = Instant::now();
        let model = load_model_file(&entry, &path, self.opts.verbose, true, None)?;
        let vocab_time = vocab_started.elapsed();
        self.usage.vocabularies_loaded += 1;
        let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let layout = match &entry.chat_template {
            ChatTemplate::Completion => Layout::Completion,
            ChatTemplate::Named(t) => {
                Layout::Template(LlamaChatTemplate::new(t).map_err(|_| {
                    Error::Config(format!("model `{name}`: chat_template contains a NUL byte"))
                })?)
            }
            // A file without a template is a base model: plain completion.
            ChatTemplate::Auto => match model.chat_template(None) {
                Ok(t) => Layout::Template(t),
                Err(_) => Layout::Completion,
            },
        };
        let template_text = match &layout {
            Layout::Template(t) => t.to_str().ok().map(str::to_string),
            Layout::Completion => None,
        };
        // llama.cpp renders only the templates it recognises: find out now,
        // before any review work, and say which value to set.
        if let Layout::Template(t) = &layout {
            let probe = [
                LlamaChatMessage::new("system".into(), "s".into()),
                LlamaChatMessage::new("user".into(), "u".into()),
            ];
            let probe: Vec<LlamaChatMessage> = probe.into_iter().filter_map(|m| m.ok()).collect();
            if model.apply_chat_template(t, &probe, true).is_err() {
                return Err(unsupported_template(
                    name,
                    template_text.as_deref().unwrap_or(""),
                ));
            }
        }
        let think_style = template_text.as_deref().and_then(template::think_style);
        // From the metadata: a vocabulary-only model has no hyper-parameters
        // (and llama.cpp aborts on some of their getters), so never ask it.
        let trained = meta_u64(model, "context_length")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(u32::MAX)
            .max(MIN_CTX);
        let n_ctx = self
            .opts
            .n_ctx
            .unwrap_or(entry.n_ctx)
            .clamp(MIN_CTX, trained);
        self.opts.progress.clear();
        self.loaded.insert(
            name.to_string(),
            Loaded {
                model,
                full: None,
                entry,
                path,
                file_bytes,
                layout,
                think_style,
                n_ctx,
                sized: false,
                ctx: None,
                ctx_threads: 0,
                vocab_time,
            },
        );
        self.load_ms += started.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Loads `name` and sizes its context to fit in memory, so that a
    /// model that cannot run here (damaged file, not enough memory) fails
    /// before any review work is done. The context itself is allocated on
    /// first use (a review answered from the cache never needs it).
    pub fn prepare(&mut self, name: &str) -> Result<()> {
        self.load(name)?;
        let l = self
            .loaded
            .get_mut(name)
            .ok_or_else(|| Error::Model(format!("model `{name}` not loaded")))?;
        size_context(l, name, &mut self.memory)
    }

    /// A token counter for review plans: the largest count among the
    /// tokenizers of `names` (a chunk must fit every model that reads it).
    pub fn plan_counter(&mut self, names: &[String]) -> Result<impl Fn(&str) -> usize> {
        let models = names
            .iter()
            .map(|n| self.model(n))
            .collect::<Result<Vec<&'static LlamaModel>>>()?;
        Ok(move |text: &str| {
            models
                .iter()
                .map(|m| m.vocab().tokenize(text.as_bytes(), false, false).len())
                .max()
                .unwrap_or_else(|| crate::plan::estimate_tokens(text))
        })
    }

    /// The prompt text after the chat template (or completion layout).
    pub fn render_prompt(&mut self, model: &str, prompt: &Prompt) -> Result<String> {
        self.load(model)?;
        let l = self
            .loaded
            .get(model)
            .ok_or_else(|| Error::Model(format!("model `{model}` not loaded")))?;
        render(l, prompt)
    }

    /// Prompt tokens (BOS included when the model wants one).
    pub fn tokenize_prompt(&mut self, model: &str, prompt: &Prompt) -> Result<Vec<LlamaToken>> {
        let text = self.render_prompt(model, prompt)?;
        let l = self
            .loaded
            .get(model)
            .ok_or_else(|| Error::Model(format!("model `{model}` not loaded")))?;
        Ok(tokenize(l.model, &text))
    }

    /// The model as loaded for tokenizing: vocabulary, chat template and
    /// metadata, no weights (for tests and the bench).
    pub fn model(&mut self, name: &str) -> Result<&'static LlamaModel> {
        self.load(name)?;
        self.loaded
            .get(name)
            .map(|l| l.model)
            .ok_or_else(|| Error::Model(format!("model `{name}` not loaded")))
    }

    /// Context length allocated for `name`.
    pub fn n_ctx(&mut self, name: &str) -> Result<u32> {
        self.load(name)?;
        Ok(self.loaded.get(name).map(|l| l.n_ctx).unwrap_or(0))
    }

    /// Threads for the next batch of requests: the fixed count, or as many
    /// as the cores other processes leave free (see [`super::load`]).
    fn threads_now(&mut self) -> i32 {
        if self.fixed_threads {
            return self.threads;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let Some(busy) = super::load::busy_neighbours() else {
            return self.threads;
        };
        let n = super::load::threads_for(cores, busy, self.threads as usize);
        i32::try_from(n).unwrap_or(self.threads)
    }

    fn run(&mut self, model_name: &str, requests: &[Request]) -> Result<Vec<Result<Generation>>> {
        self.load(model_name)?;
        let threads = self.threads_now();
        let stop_at = self.stop_at;
        let all_stopped = |stop: StopReason| {
            let now = Instant::now();
            Ok(requests.iter().map(|_| Ok(stopped(stop, 0, now))).collect())
        };
        let l = self
            .loaded
            .get_mut(model_name)
            .ok_or_else(|| Error::Model(format!("model `{model_name}` not loaded")))?;
        // llama-cpp-2 cannot change a context's threads: a new context
        // (the KV cache is cleared for every batch anyway) is cheap beside
        // a batch run at the wrong width.
        if l.ctx.is_some() && l.ctx_threads != threads {
            l.ctx = None;
        }
        if threads < self.threads {
            self.opts.progress.status(&format!(
                "[{model_name}] the machine is busy: using {threads} of {} threads",
                self.threads
            ));
        }
        // The context first: its size (maybe reduced to fit in memory) is
        // what prompts are checked against.
        if l.ctx.is_none() {
            let started = Instant::now();
            if l.full.is_none() {
                // The weights of a large model take a while to map in.
                self.opts.progress.status(&format!(
                    "[{model_name}] loading weights {}",
                    l.path.display()
                ));
            }
            let had_weights = l.full.is_some();
            // Weights are loaded for a request that can still be answered:
            // past the deadline none is loaded, and a load under way stops
            // there (the requests are then cut short, not failed).
            if let Some(stop) = stop_now(stop_at) {
                return all_stopped(stop);
            }
            let too_late =
                stop_at.is_some_and(|t| t.saturating_duration_since(Instant::now()) < l.vocab_time);
            if !had_weights && too_late {
                return all_stopped(StopReason::Deadline);
            }
            let prefill_chunk = self.opts.prefill_chunk.unwrap_or(PREFILL_CHUNK);
            let made = create_context(
                l,
                model_name,
                threads,
                prefill_chunk,
                &mut self.memory,
                stop_at,
            );
            if let Err(e) = made {
                return match stop_now(stop_at) {
                    Some(stop) => all_stopped(stop),
                    None => Err(e),
                };
            }
            l.ctx_threads = threads;
            self.usage.weights_loaded += u32::from(!had_weights);
            self.usage.contexts_created += 1;
            self.load_ms += started.elapsed().as_millis() as u64;
        }
        let n_ctx = l.n_ctx;

        // Tokenize everything first: budgets are checked before any decode.
        let mut out: Vec<Option<Result<Generation>>> = Vec::with_capacity(requests.len());
        let mut toks: Vec<Vec<LlamaToken>> = Vec::with_capacity(requests.len());
        let mut plans: Vec<Option<ThinkPlan>> = Vec::with_capacity(requests.len());
        for r in requests {
            let plan = template::plan(l.think_style, r.sampling.think);
            let suffix = plan.as_ref().map_or("", |p| p.prompt_suffix);
            // Thinking, and the marker the engine may have to write, need
            // room beside the answer.
            let thinking = plan
                .as_ref()
                .filter(|p| p.think)
                .map_or(0, |_| r.sampling.think_tokens + THINK_MARKER_TOKENS);
            plans.push(plan);
            let t = render(l, &r.prompt).map(|text| tokenize(l.model, &format!("{text}{suffix}")));
            match t {
                Ok(t) if t.is_empty() => {
                    out.push(Some(Err(Error::Model("empty prompt".into()))));
                    toks.push(Vec::new());
                }
                Ok(t) if t.len() + thinking + r.sampling.max_tokens.max(1) > n_ctx as usize => {
                    out.push(Some(Err(Error::Model(format!(
                        "prompt too long for model `{model_name}`: {} prompt tokens + {} output tokens{} \
                         exceed its context of {n_ctx} tokens; review smaller chunks or raise n_ctx in the \
                         model manifest",
                        t.len(),
                        r.sampling.max_tokens,
                        if thinking > 0 {
                            format!(" + {thinking} thinking tokens (think_tokens)")
                        } else {
                            String::new()
                        }
                    )))));
                    toks.push(Vec::new());
                }
                Ok(t) => {
                    out.push(None);
                    toks.push(t);
                }
                Err(e) => {
                    out.push(Some(Err(e)));
                    toks.push(Vec::new());
                }
            }
        }
        let live: Vec<usize> = (0..requests.len()).filter(|&i| out[i].is_none()).collect();
        if live.is_empty() {
            return Ok(out
                .into_iter()
                .map(|o| o.unwrap_or_else(|| Err(Error::Model("no result".into()))))
                .collect());
        }

        // Longest common prefix, leaving at least one token per request so
        // each has logits of its own after its remainder is decoded.
        let mut prefix = toks[live[0]].len() - 1;
        for &i in &live[1..] {
            let common = toks[live[0]]
                .iter()
                .zip(&toks[i])
                .take_while(|(a, b)| a == b)
                .count();
            prefix = prefix.min(common).min(toks[i].len() - 1);
        }
        let chunk = self
            .opts
            .prefill_chunk
            .unwrap_or(PREFILL_CHUNK)
            .clamp(1, N_BATCH) as usize;
        prefix -= prefix % chunk;
        let ignore_eog = self.opts.ignore_eog;
        let stop_at = self.stop_at;
        let batched = self.opts.batch_decode.applies(l.file_bytes);

        let model = l.model;
        let ctx = l
            .ctx
            .as_mut()
            .ok_or_else(|| Error::Model("llama.cpp context missing".into()))?;
        ctx.clear_kv_cache();
        let mut batch = LlamaBatch::new(N_BATCH as usize, 1);
        let started = Instant::now();
        let shared = &toks[live[0]][..prefix];
        match decode_tokens(ctx, &mut batch, shared, 0, 0, chunk, stop_at) {
            Err(e) => {
                ctx.clear_kv_cache();
                return Err(e);
            }
            // Stopped mid-prefill: every live request is cut short.
            Ok(Some(stop)) => {
                ctx.clear_kv_cache();
                for &i in &live {
                    out[i] = Some(Ok(stopped(stop, toks[i].len(), started)));
                }
                return Ok(out
                    .into_iter()
                    .map(|o| o.unwrap_or_else(|| Err(Error::Model("no result".into()))))
                    .collect());
            }
            Ok(None) => {}
        }
        let prefix_ms = started.elapsed().as_millis() as u64;

        let progress = &mut self.opts.progress;
        // Every request's cells at once: the shared prefix, then each one's
        // own remainder, thinking and answer.
        let cells = prefix
            + live
                .iter()
                .map(|&i| {
                    let think = plans[i].as_ref().filter(|p| p.think).map_or(0, |_| {
                        requests[i].sampling.think_tokens + THINK_MARKER_TOKENS
                    });
                    toks[i].len() - prefix + think + requests[i].sampling.max_tokens.max(1)
                })
                .sum::<usize>();
        let together = batched
            && live.len() > 1
            && live.len() <= MAX_SEQS as usize - 2
            && cells + STEP_ROWS as usize <= n_ctx as usize;
        if together {
            let group: Vec<Pending<'_>> = live
                .iter()
                .map(|&i| Pending {
                    tokens: &toks[i],
                    req: &requests[i],
                    think: plans[i].as_ref(),
                })
                .collect();
            let results = generate_together(
                ctx,
                model,
                &mut batch,
                &group,
                prefix,
                progress,
                model_name,
                (chunk, ignore_eog, stop_at),
            );
            for (k, (&i, res)) in live.iter().zip(results).enumerate() {
                out[i] = Some(res.map(|mut g| {
                    if k == 0 {
                        g.prefill_ms += prefix_ms;
                    }
                    g.threads = threads as usize;
                    g
                }));
            }
            for s in 1..=live.len() {
                let _ = ctx.clear_kv_cache_seq(Some(s as u32), None, None);
            }
        } else {
            for (k, &i) in live.iter().enumerate() {
                let r = &requests[i];
                let res = generate_one(
                    ctx,
                    model,
                    &mut batch,
                    &toks[i],
                    prefix,
                    r,
                    plans[i].as_ref(),
                    progress,
                    (model_name, k, live.len()),
                    (chunk, ignore_eog, stop_at),
                )
                .map(|mut g| {
                    // The shared prefill is charged to the first request only.
                    if k == 0 {
                        g.prefill_ms += prefix_ms;
                    }
                    g.threads = threads as usize;
                    g
                });
                // Drop this request's cells whatever happened, so the next one
                // starts from the shared prefix only.
                let _ = ctx.clear_kv_cache_seq(Some(1), None, None);
                out[i] = Some(res);
            }
        }
        progress.clear();
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(Error::Model("no result".into()))))
            .collect())
    }
}

impl Backend for LlamaBackend {
    fn generate(&mut self, model: &str, requests: &[Request]) -> Vec<Result<Generation>> {
        match self.run(model, requests) {
            Ok(v) => v,
            Err(e) => {
                let msg = e.to_string();
                let mut v = Vec::with_capacity(requests.len());
                v.push(Err(e));
                while v.len() < requests.len() {
                    v.push(Err(Error::Model(msg.clone())));
                }
                v.truncate(requests.len());
                v
            }
        }
    }

    fn count_tokens(&mut self, model: &str, text: &str) -> Result<usize> {
        self.load(model)?;
        let l = self
            .loaded
            .get(model)
            .ok_or_else(|| Error::Model(format!("model `{model}` not loaded")))?;
        Ok(l.model
            .vocab()
            .tokenize(text.as_bytes(), false, false)
            .len())
    }

    fn set_progress_labels(&mut self, chunk: &str, requests: &[String]) {
        self.opts.progress.set_labels(chunk, requests);
    }

    fn set_deadline(&mut self, at: Option<Instant>) {
        self.stop_at = at;
    }
}

/// Validates and loads a model file, once per process.
fn load_model_file(
    entry: &ModelEntry,
    path: &Path,
    verbose: bool,
    vocab_only: bool,
    stop_at: Option<Instant>,
) -> Result<&'static LlamaModel> {
    let backend = cpp_backend(verbose)?;
    if !path.exists() {
        return Err(missing_model_error(entry, path));
    }
    let canon = std::fs::canonicalize(path)
        .map_err(|e| Error::io(format!("resolving {}", path.display()), e))?;
    let cache = MODELS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = cache.get(&(canon.clone(), vocab_only)) {
        return Ok(m);
    }
    // Never hand llama.cpp a file whose header we could not make sense of.
    let info = read_gguf_info(&canon)?;
    // The weights are read, not mapped: ggml's CPU back end repacks most
    // quantised tensors into a layout of its own, and a mapped file would
    // stay resident beside that copy (a 7B Q4_K_M model took 3 GiB more
    // than its weights, `benches/real_size.sh`). A vocabulary-only load reads
    // only the metadata and keeps the default.
    let params = LlamaModelParams::default()
        .with_vocab_only(vocab_only)
        .with_use_mmap(vocab_only);
    // Loading the weights of a large model takes seconds to minutes: the
    // time budget and Ctrl-C abort it (llama.cpp asks between tensors).
    let params = if stop_at.is_some() {
        params.with_progress_callback(move |_| stop_now(stop_at).is_none())
    } else {
        params
    };
    let model = LlamaModel::load_from_file(backend, &canon, &params).map_err(|e| {
        Error::Model(format!(
            "llama.cpp could not load model `{}` from {} (architecture `{}`): {e}. The architecture may be \
             unsupported by this build's llama.cpp, or the file is damaged; run with -v for llama.cpp's log",
            entry.name,
            canon.display(),
            info.architecture
        ))
    })?;
    let model: &'static LlamaModel = Box::leak(Box::new(model));
    cache.insert((canon, vocab_only), model);
    Ok(model)
}

/// `{architecture}.{key}` of a model's GGUF metadata as a number (scalar
/// values only: llama.cpp keeps no arrays in its string view).
fn meta_u64(model: &LlamaModel, key: &str) -> Option<u64> {
    let arch = model.meta_val_str("general.architecture").ok()?;
    model
        .meta_val_str(&format!("{arch}.{key}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// KV cache bytes per context token, from the GGUF metadata (so it works on
/// a vocabulary-only model); `None` when the metadata does not say.
fn model_kv_bytes_per_token(model: &LlamaModel) -> Option<u64> {
    let layers = meta_u64(model, "block_count")?;
    let heads = meta_u64(model, "attention.head_count")?.max(1);
    // Per-layer arrays (some architectures) are not visible: assume plain
    // multi-head attention, the larger cache.
    let kv_heads = meta_u64(model, "attention.head_count_kv").unwrap_or(heads);
    let head_dim = meta_u64(model, "embedding_length")? / heads;
    let dim = |key: &str| meta_u64(model, key).unwrap_or(head_dim);
    Some(memory::kv_bytes_per_token(
        layers,
        kv_heads.max(1),
        dim("attention.key_length"),
        dim("attention.value_length"),
    ))
}

/// Sets `l.n_ctx` (once) to a context that fits in memory, and counts its
/// KV cache against the budget of models sized after it.
fn size_context(l: &mut Loaded, name: &str, budget: &mut MemoryBudget) -> Result<()> {
    if !l.sized {
        let per_token = model_kv_bytes_per_token(l.model);
        if let Some(per_token) = per_token {
            l.n_ctx = context_that_fits(l, name, budget, per_token)?;
        }
        l.sized = true;
        budget.committed = budget
            .committed
            .saturating_add(u64::from(l.n_ctx) * per_token.unwrap_or(0));
    }
    Ok(())
}

/// The context size to create for `name` (`per_token` KV bytes a token):
/// the configured one, halved until its KV cache fits the memory budget
/// (with a warning), or an error when not even [`MIN_CTX`] tokens fit.
fn context_that_fits(l: &Loaded, name: &str, limits: &MemoryBudget, per_token: u64) -> Result<u32> {
    let max_memory = limits.cap;
    let Some(budget) = memory::kv_budget(max_memory, l.file_bytes, limits.committed) else {
        return Ok(l.n_ctx);
    };
    let why = || {
        let limit = match max_memory {
            Some(c) => format!("review.max_memory is {}", memory::human(c)),
            None if limits.committed > 0 => format!(
                "that is what this machine has available besides {} for the other models' caches",
                memory::human(limits.committed)
            ),
            None => "that is what this machine has available".to_string(),
        };
        format!(
            "{} is left for its KV cache after the weights ({}), {limit}",
            memory::human(budget),
            memory::human(l.file_bytes)
        )
    };
    match memory::fit_context(l.n_ctx, MIN_CTX, per_token, budget) {
        Some(n) if n < l.n_ctx => {
            eprintln!(
                "warning: model `{name}`: context reduced from {} to {n} tokens to fit in memory \
                 ({} per token; {}); lower review.chunk_tokens if prompts no longer fit",
                l.n_ctx,
                memory::human(per_token),
                why()
            );
            Ok(n)
        }
        Some(n) => Ok(n),
        None => Err(Error::Model(format!(
            "not enough memory for model `{name}`: even a context of {MIN_CTX} tokens needs {} of KV \
             cache, and only {}. Close other programs, raise review.max_memory, or use a smaller model",
            memory::human(u64::from(MIN_CTX) * per_token),
            why()
        ))),
    }
}

/// Creates the model's context (loading the weights if needed): unified KV
/// cache for [`MAX_SEQS`] sequences (0 = shared prefix, 1.. = the requests
/// being generated), sized to fit in memory ([`size_context`]). If llama.cpp
/// still cannot allocate it, the context is halved down to [`MIN_CTX`]
/// rather than failing.
fn create_context(
    l: &mut Loaded,
    name: &str,
    threads: i32,
    prefill_chunk: u32,
    budget: &mut MemoryBudget,
    stop_at: Option<Instant>,
) -> Result<()> {
    let backend = cpp_backend(false)?;
    size_context(l, name, budget)?;
    let full = match l.full {
        Some(m) => m,
        None => {
            // llama.cpp's logging was set up when the vocabulary loaded.
            let m = load_model_file(&l.entry, &l.path, false, false, stop_at)?;
            l.full = Some(m);
            // The weights came in time; the context (seconds for a large
            // model's KV cache) is made only if there is time left.
            if let Some(stop) = stop_now(stop_at) {
                return Err(Error::Model(format!(
                    "{stop:?} before the context was created"
                )));
            }
            m
        }
    };
    let mut n_ctx = l.n_ctx;
    // Prompts are decoded in pieces of `prefill_chunk` tokens: a larger
    // micro-batch would only reserve compute memory for tokens never sent
    // at once (about 300 MiB for a 150k-token vocabulary at 512).
    let ubatch = prefill_chunk.clamp(1, N_BATCH);
    loop {
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(N_BATCH)
            .with_n_ubatch(ubatch)
            .with_n_seq_max(MAX_SEQS)
            .with_kv_unified(true)
            .with_flash_attention_policy(FLASH_ATTN_ENABLED)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        match full.new_context(backend, params) {
            Ok(c) => {
                l.n_ctx = c.n_ctx();
                l.ctx = Some(c);
                return Ok(());
            }
            Err(_) if n_ctx / 2 >= MIN_CTX => n_ctx /= 2,
            Err(e) => {
                return Err(Error::Model(format!(
                    "cannot create a llama.cpp context of {n_ctx} tokens (not enough memory?): {e}"
                )))
            }
        }
    }
}

fn render(l: &Loaded, p: &Prompt) -> Result<String> {
    match &l.layout {
        Layout::Completion => Ok(completion_layout(p)),
        Layout::Template(t) => {
            let mut msgs = Vec::with_capacity(2);
            if !p.system.is_empty() {
                msgs.push(
                    LlamaChatMessage::new("system".into(), p.system.clone())
                        .map_err(|_| Error::Model("system prompt contains a NUL byte".into()))?,
                );
            }
            msgs.push(
                LlamaChatMessage::new("user".into(), p.user.clone())
                    .map_err(|_| Error::Model("prompt contains a NUL byte".into()))?,
            );
            l.model.apply_chat_template(t, &msgs, true).map_err(|e| {
                Error::Model(format!(
                    "cannot apply the chat template: {e}; set chat_template in the manifest"
                ))
            })
        }
    }
}

/// Plain completion layout for base models without a chat template.
pub fn completion_layout(p: &Prompt) -> String {
    if p.system.is_empty() {
        format!("{}\n\n", p.user)
    } else {
        format!("{}\n\n{}\n\n", p.system, p.user)
    }
}

fn tokenize(model: &LlamaModel, text: &str) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    let mut t = vocab.tokenize(text.as_bytes(), true, true);
    // A template that writes the BOS text itself plus add_bos would double it.
    if t.len() >= 2 && t[0] == vocab.bos() && t[1] == vocab.bos() {
        t.remove(0);
    }
    t
}

/// Decodes `tokens` on `seq` from position `pos0` (a multiple of `chunk`),
/// in pieces of `chunk` (≤ `N_BATCH`) tokens, requesting logits only for
/// the very last token.
fn decode_tokens(
    ctx: &mut LlamaContext<'static>,
    batch: &mut LlamaBatch,
    tokens: &[LlamaToken],
    pos0: usize,
    seq: i32,
    chunk: usize,
    stop_at: Option<Instant>,
) -> Result<Option<StopReason>> {
    let n = tokens.len();
    let chunk = chunk.clamp(1, N_BATCH as usize);
    let mut start = 0;
    while start < n {
        // A long prompt on a large model takes many seconds to prefill:
        // the time budget and Ctrl-C are honoured between batches.
        if let Some(stop) = stop_now(stop_at) {
            return Ok(Some(stop));
        }
        let end = (start + chunk).min(n);
        batch.clear();
        for (j, t) in tokens[start..end].iter().enumerate() {
            let pos = i32::try_from(pos0 + start + j)
                .map_err(|_| Error::Model("position overflow".into()))?;
            batch
                .add(*t, pos, &[seq], start + j + 1 == n)
                .map_err(|e| Error::Model(format!("batch: {e}")))?;
        }
        ctx.decode(batch).map_err(|e| {
            Error::Model(format!(
                "llama.cpp decode failed: {e} (context full or out of memory)"
            ))
        })?;
        start = end;
    }
    Ok(None)
}

/// Ctrl-C came (first) or the deadline passed.
fn stop_now(stop_at: Option<Instant>) -> Option<StopReason> {
    if crate::interrupt::is_triggered() {
        Some(StopReason::Interrupted)
    } else if stop_at.is_some_and(|t| Instant::now() >= t) {
        Some(StopReason::Deadline)
    } else {
        None
    }
}

/// The answer of a request stopped before it generated anything.
fn stopped(stop: StopReason, prompt_tokens: usize, started: Instant) -> Generation {
    Generation {
        text: String::new(),
        prompt_tokens,
        shared_tokens: 0,
        generated_tokens: 0,
        prefill_ms: started.elapsed().as_millis() as u64,
        generate_ms: 0,
        stop,
        thinking: String::new(),
        thinking_tokens: 0,
        endpoint: String::new(),
        threads: 0,
        together: 0,
    }
}

#[allow(clippy::too_many_arguments)]
fn generate_one(
    ctx: &mut LlamaContext<'static>,
    model: &LlamaModel,
    batch: &mut LlamaBatch,
    tokens: &[LlamaToken],
    prefix: usize,
    req: &Request,
    think: Option<&ThinkPlan>,
    progress: &mut Progress,
    (model_name, k, of): (&str, usize, usize),
    (chunk, ignore_eog, stop_at): (usize, bool, Option<Instant>),
) -> Result<Generation> {
    let started = Instant::now();
    let mut sampler = Sampler::new(model, &req.sampling, &req.grammar)?;
    if prefix > 0 {
        ctx.copy_kv_cache_seq(0, 1, None, None)
            .map_err(|e| Error::Model(format!("kv cache copy: {e}")))?;
    }
    if let Some(stop) = decode_tokens(ctx, batch, &tokens[prefix..], prefix, 1, chunk, stop_at)? {
        return Ok(stopped(stop, tokens.len(), started));
    }
    let prefill_ms = started.elapsed().as_millis() as u64;
    progress.prefill(model_name, k, of, tokens.len() - prefix, started);

    let gen_start = Instant::now();
    let vocab = model.vocab();
    let max = req.sampling.max_tokens;
    let mut text: Vec<u8> = Vec::new();
    let mut n_gen = 0usize;
    let mut pos = tokens.len();
    let mut logits_idx = batch.n_tokens() - 1;
    let mut thinking: Vec<u8> = Vec::new();
    let mut n_think = 0usize;
    if let Some(plan) = think.filter(|p| p.think) {
        // The model thinks freely (no grammar: the findings JSON must not
        // end up inside the thinking block), up to its budget.
        let mut free = Sampler::new(model, &req.sampling, "")?;
        let budget = req.sampling.think_tokens;
        let mut ended_by_model = false;
        while n_think < budget {
            if crate::interrupt::is_triggered() || stop_at.is_some_and(|t| Instant::now() >= t) {
                let stop = if crate::interrupt::is_triggered() {
                    StopReason::Interrupted
                } else {
                    StopReason::Deadline
                };
                return Ok(Generation {
                    text: String::new(),
                    prompt_tokens: tokens.len(),
                    shared_tokens: prefix,
                    generated_tokens: 0,
                    prefill_ms,
                    generate_ms: gen_start.elapsed().as_millis() as u64,
                    stop,
                    thinking: String::from_utf8_lossy(&thinking).into_owned(),
                    thinking_tokens: n_think,
                    endpoint: String::new(),
                    threads: 0,
                    together: 1,
                });
            }
            let Some(tok) = free.next(ctx.get_logits_ith(logits_idx)) else {
                break;
            };
            // An end-of-generation token mid-thought: the block is closed
            // for the model below, so it still answers.
            if vocab.is_eog(tok) {
                break;
            }
            free.accept(tok);
            // Special pieces too: harmony's markers are special tokens.
            thinking.extend_from_slice(&vocab.token_to_piece(tok, true, None));
            n_think += 1;
            progress.generating(model_name, k, of, n_think, budget, gen_start);
            decode_one(ctx, batch, tok, pos)?;
            pos += 1;
            logits_idx = 0;
            if thinking.ends_with(plan.end_marker.as_bytes()) {
                thinking.truncate(thinking.len() - plan.end_marker.len());
                ended_by_model = true;
                break;
            }
        }
        // Close the block (or finish the model's own closing) so that
        // what follows is the answer, under the grammar.
        let close = if ended_by_model {
            plan.after_end
        } else {
            plan.forced_end
        };
        let close = model.vocab().tokenize(close.as_bytes(), false, true);
        // A few marker tokens: not worth a stop of their own.
        decode_tokens(ctx, batch, &close, pos, 1, chunk, None)?;
        pos += close.len();
        logits_idx = batch.n_tokens() - 1;
    }
    let stop = loop {
        if n_gen >= max {
            break StopReason::MaxTokens;
        }
        // One answer of a large model on a CPU can take minutes: the time
        // budget and Ctrl-C must hold inside it, not only between chunks.
        if crate::interrupt::is_triggered() {
            break StopReason::Interrupted;
        }
        if stop_at.is_some_and(|t| Instant::now() >= t) {
            break StopReason::Deadline;
        }
        let logits = ctx.get_logits_ith(logits_idx);
        let Some(tok) = sampler.next(logits) else {
            return Err(Error::Model(
                "generation reached a state the output grammar cannot continue from".into(),
            ));
        };
        if vocab.is_eog(tok) && !ignore_eog {
            break StopReason::Eog;
        }
        sampler.accept(tok);
        text.extend_from_slice(&vocab.token_to_piece(tok, false, None));
        n_gen += 1;
        progress.generating(model_name, k, of, n_gen, max, gen_start);
        if n_gen >= max {
            break StopReason::MaxTokens;
        }
        decode_one(ctx, batch, tok, pos)?;
        pos += 1;
        logits_idx = 0;
    };
    Ok(Generation {
        text: String::from_utf8_lossy(&text).into_owned(),
        prompt_tokens: tokens.len(),
        shared_tokens: prefix,
        generated_tokens: n_gen,
        prefill_ms,
        generate_ms: gen_start.elapsed().as_millis() as u64,
        stop,
        thinking: String::from_utf8_lossy(&thinking).into_owned(),
        thinking_tokens: n_think,
        endpoint: String::new(),
        threads: 0,
        together: 1,
    })
}

/// One request of a group decoded together.
struct Pending<'a> {
    tokens: &'a [LlamaToken],
    req: &'a Request,
    think: Option<&'a ThinkPlan>,
}

/// Where one sequence of [`generate_together`] is.
enum Phase {
    /// Thinking freely (no grammar), `n` tokens so far.
    Thinking,
    /// Answering under the grammar.
    Answering,
    /// Finished: the result is in `Seq::result`.
    Done,
}

/// One request's state in [`generate_together`].
struct Seq<'a> {
    p: &'a Pending<'a>,
    id: i32,
    pos: usize,
    phase: Phase,
    /// The answer's sampler (with the grammar); `None` once failed.
    sampler: Option<Sampler>,
    free: Option<Sampler>,
    /// Tokens to decode in the next step (the last one's logits are read).
    feed: Vec<LlamaToken>,
    /// Index in the step's batch of the token whose logits are next read.
    logits_at: i32,
    text: Vec<u8>,
    thinking: Vec<u8>,
    n_gen: usize,
    n_think: usize,
    prefill_ms: u64,
    result: Option<Result<Generation>>,
}

impl Seq<'_> {
    fn finish(&mut self, stop: StopReason, generate_ms: u64) {
        let text = if matches!(self.phase, Phase::Thinking) {
            Vec::new()
        } else {
            std::mem::take(&mut self.text)
        };
        self.result = Some(Ok(Generation {
            text: String::from_utf8_lossy(&text).into_owned(),
            prompt_tokens: self.p.tokens.len(),
            shared_tokens: 0,
            generated_tokens: self.n_gen,
            prefill_ms: self.prefill_ms,
            generate_ms,
            stop,
            thinking: String::from_utf8_lossy(&self.thinking).into_owned(),
            thinking_tokens: self.n_think,
            endpoint: String::new(),
            threads: 0,
            together: 0,
        }));
        self.phase = Phase::Done;
    }

    fn fail(&mut self, e: Error) {
        self.result = Some(Err(e));
        self.phase = Phase::Done;
    }
}

/// Generates every request of `group` at once: each prefills its own
/// remainder after the shared prefix (sequence 0) on a sequence of its
/// own, then every step decodes one token of each unfinished request in
/// a single `llama_decode`. A large model reads its weights once per step
/// for all of them instead of once per request.
///
/// Each request's output is deterministic for a given group: the float
/// results of a step depend on which sequences share it, so the answer of
/// a request decoded together can differ from the same request decoded
/// alone (the review cache keys such answers by their whole group).
#[allow(clippy::too_many_arguments)]
fn generate_together(
    ctx: &mut LlamaContext<'static>,
    model: &LlamaModel,
    batch: &mut LlamaBatch,
    group: &[Pending<'_>],
    prefix: usize,
    progress: &mut Progress,
    model_name: &str,
    (chunk, ignore_eog, stop_at): (usize, bool, Option<Instant>),
) -> Vec<Result<Generation>> {
    let of = group.len();
    let mut seqs: Vec<Seq<'_>> = Vec::with_capacity(of);
    for (k, p) in group.iter().enumerate() {
        let id = k as i32 + 1;
        let mut seq = Seq {
            p,
            id,
            pos: p.tokens.len(),
            phase: if p.think.is_some_and(|t| t.think) {
                Phase::Thinking
            } else {
                Phase::Answering
            },
            sampler: None,
            free: None,
            feed: Vec::new(),
            logits_at: -1,
            text: Vec::new(),
            thinking: Vec::new(),
            n_gen: 0,
            n_think: 0,
            prefill_ms: 0,
            result: None,
        };
        match Sampler::new(model, &p.req.sampling, &p.req.grammar) {
            Ok(s) => seq.sampler = Some(s),
            Err(e) => seq.fail(e),
        }
        if seq.result.is_none() && matches!(seq.phase, Phase::Thinking) {
            match Sampler::new(model, &p.req.sampling, "") {
                Ok(f) => seq.free = Some(f),
                Err(e) => seq.fail(e),
            }
        }
        if seq.result.is_none() {
            let started = Instant::now();
            let prefilled = (|| {
                if prefix > 0 {
                    ctx.copy_kv_cache_seq(0, id, None, None)
                        .map_err(|e| Error::Model(format!("kv cache copy: {e}")))?;
                }
                decode_tokens(ctx, batch, &p.tokens[prefix..], prefix, id, chunk, stop_at)
            })();
            seq.prefill_ms = started.elapsed().as_millis() as u64;
            match prefilled {
                Ok(Some(stop)) => {
                    seq.result = Some(Ok(stopped(stop, p.tokens.len(), started)));
                    seq.phase = Phase::Done;
                }
                Ok(None) => {
                    progress.prefill(model_name, k, of, p.tokens.len() - prefix, started);
                    // The logits of this prefill are overwritten by the
                    // next one's: take the first token now.
                    let idx = batch.n_tokens() - 1;
                    step(&mut seq, ctx, idx, model, ignore_eog, stop_at, 0);
                }
                Err(e) => seq.fail(e),
            }
        }
        seqs.push(seq);
    }

    let gen_start = Instant::now();
    loop {
        batch.clear();
        let mut added = false;
        let mut failed: Option<String> = None;
        for seq in seqs.iter_mut().filter(|s| !matches!(s.phase, Phase::Done)) {
            let n = seq.feed.len();
            for (j, &t) in seq.feed.iter().enumerate() {
                let Ok(pos) = i32::try_from(seq.pos + j) else {
                    failed = Some("position overflow".into());
                    break;
                };
                if let Err(e) = batch.add(t, pos, &[seq.id], j + 1 == n) {
                    failed = Some(format!("batch: {e}"));
                    break;
                }
            }
            seq.pos += n;
            seq.logits_at = batch.n_tokens() - 1;
            seq.feed.clear();
            added |= n > 0;
        }
        if let Some(why) = failed {
            for seq in seqs.iter_mut().filter(|s| !matches!(s.phase, Phase::Done)) {
                seq.fail(Error::Model(why.clone()));
            }
            break;
        }
        if !added {
            break;
        }
        // Round the step up to whole groups of rows (see PAD_SEQ).
        let rows = batch.n_tokens();
        let filler = if rows > 1 {
            (STEP_ROWS - rows % STEP_ROWS) % STEP_ROWS
        } else {
            0
        };
        if filler > 0 {
            let _ = ctx.clear_kv_cache_seq(Some(PAD_SEQ as u32), None, None);
            let tok = seqs
                .iter()
                .find(|s| !matches!(s.phase, Phase::Done))
                .map(|s| s.p.tokens[s.p.tokens.len() - 1]);
            if let Some(tok) = tok {
                for j in 0..filler {
                    if batch.add(tok, j, &[PAD_SEQ], false).is_err() {
                        break;
                    }
                }
            }
        }
        let decoded = ctx.decode(batch);
        if filler > 0 {
            let _ = ctx.clear_kv_cache_seq(Some(PAD_SEQ as u32), None, None);
        }
        if let Err(e) = decoded {
            for seq in seqs.iter_mut().filter(|s| !matches!(s.phase, Phase::Done)) {
                seq.fail(Error::Model(format!("llama.cpp decode failed: {e}")));
            }
            break;
        }
        let elapsed = gen_start.elapsed().as_millis() as u64;
        for seq in seqs.iter_mut().filter(|s| !matches!(s.phase, Phase::Done)) {
            let idx = seq.logits_at;
            step(seq, ctx, idx, model, ignore_eog, stop_at, elapsed);
        }
        if let Some((k, s)) = seqs
            .iter()
            .enumerate()
            .find(|(_, s)| !matches!(s.phase, Phase::Done))
        {
            progress.generating(
                model_name,
                k,
                of,
                s.n_gen + s.n_think,
                s.p.req.sampling.max_tokens,
                gen_start,
            );
        }
    }
    // The step time is shared: each request is charged its part, so that
    // a review's stage timings still add up to its wall time.
    let total = gen_start.elapsed().as_millis() as u64;
    let n = seqs.len().max(1) as u64;
    seqs.into_iter()
        .map(|s| {
            s.result
                .unwrap_or_else(|| Err(Error::Model("no result".into())))
                .map(|mut g| {
                    g.generate_ms = total / n;
                    g.shared_tokens = prefix;
                    g.together = of;
                    g
                })
        })
        .collect()
}

/// Reads `seq`'s logits at batch index `idx` and decides what it decodes
/// next (or that it is done): the same decisions, in the same order, as
/// [`generate_one`] makes for a request alone.
#[allow(clippy::too_many_arguments)]
fn step(
    seq: &mut Seq<'_>,
    ctx: &LlamaContext<'static>,
    idx: i32,
    model: &LlamaModel,
    ignore_eog: bool,
    stop_at: Option<Instant>,
    elapsed: u64,
) {
    let vocab = model.vocab();
    let req = seq.p.req;
    if matches!(seq.phase, Phase::Thinking) {
        let Some(plan) = seq.p.think else {
            seq.phase = Phase::Answering;
            return step(seq, ctx, idx, model, ignore_eog, stop_at, elapsed);
        };
        let budget = req.sampling.think_tokens;
        if crate::interrupt::is_triggered() || stop_at.is_some_and(|t| Instant::now() >= t) {
            let stop = if crate::interrupt::is_triggered() {
                StopReason::Interrupted
            } else {
                StopReason::Deadline
            };
            return seq.finish(stop, elapsed);
        }
        let mut ended_by_model = false;
        let mut close_now = seq.n_think >= budget;
        if !close_now {
            let next = seq.free.as_mut().and_then(|free| {
                let tok = free.next(ctx.get_logits_ith(idx))?;
                (!vocab.is_eog(tok)).then(|| {
                    free.accept(tok);
                    tok
                })
            });
            match next {
                Some(tok) => {
                    seq.thinking
                        .extend_from_slice(&vocab.token_to_piece(tok, true, None));
                    seq.n_think += 1;
                    seq.feed.push(tok);
                    if seq.thinking.ends_with(plan.end_marker.as_bytes()) {
                        let keep = seq.thinking.len() - plan.end_marker.len();
                        seq.thinking.truncate(keep);
                        ended_by_model = true;
                        close_now = true;
                    } else if seq.n_think >= budget {
                        close_now = true;
                    }
                }
                // An end-of-generation token mid-thought (not decoded), or
                // no token at all: the block is closed for the model.
                _ => close_now = true,
            }
        }
        if close_now {
            let close = if ended_by_model {
                plan.after_end
            } else {
                plan.forced_end
            };
            seq.feed
                .extend(model.vocab().tokenize(close.as_bytes(), false, true));
            seq.phase = Phase::Answering;
        }
        return;
    }
    let max = req.sampling.max_tokens;
    if seq.n_gen >= max {
        return seq.finish(StopReason::MaxTokens, elapsed);
    }
    if crate::interrupt::is_triggered() {
        return seq.finish(StopReason::Interrupted, elapsed);
    }
    if stop_at.is_some_and(|t| Instant::now() >= t) {
        return seq.finish(StopReason::Deadline, elapsed);
    }
    let Some(sampler) = seq.sampler.as_mut() else {
        return seq.fail(Error::Model("no sampler".into()));
    };
    let Some(tok) = sampler.next(ctx.get_logits_ith(idx)) else {
        return seq.fail(Error::Model(
            "generation reached a state the output grammar cannot continue from".into(),
        ));
    };
    if vocab.is_eog(tok) && !ignore_eog {
        return seq.finish(StopReason::Eog, elapsed);
    }
    sampler.accept(tok);
    seq.text
        .extend_from_slice(&vocab.token_to_piece(tok, false, None));
    seq.n_gen += 1;
    if seq.n_gen >= max {
        return seq.finish(StopReason::MaxTokens, elapsed);
    }
    seq.feed.push(tok);
}

/// Decodes one generated token at `pos` on sequence 1, with its logits.
fn decode_one(
    ctx: &mut LlamaContext<'static>,
    batch: &mut LlamaBatch,
    tok: LlamaToken,
    pos: usize,
) -> Result<()> {
    batch.clear();
    let p = i32::try_from(pos).map_err(|_| Error::Model("position overflow".into()))?;
    batch
        .add(tok, p, &[1], true)
        .map_err(|e| Error::Model(format!("batch: {e}")))?;
    ctx.decode(batch)
        .map_err(|e| Error::Model(format!("llama.cpp decode failed: {e}")))
}

/// Room kept for the marker that closes a thinking block.
const THINK_MARKER_TOKENS: usize = 24;

/// The error for a template llama.cpp's built-in renderer does not know.
fn unsupported_template(name: &str, text: &str) -> Error {
    let start: String = text.chars().take(80).collect();
    Error::Model(format!(
        "model `{name}`: llama.cpp does not recognise its chat template (it begins `{}`), so it \
         cannot lay out a prompt for it. Set `chat_template` in its manifest entry to the \
         family the model was trained with: one of {} (\"none\" for a base model); for a store \
         reference: git deep-review models add {name} --chat-template NAME",
        start.escape_debug(),
        template::BUILTIN_NAMES.join(", ")
    ))
}
