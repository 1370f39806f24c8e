//! Stage 4: the review plan + reviewers → raw reviews, through a
//! [`Backend`].
//!
//! Reviewers never see each other's output. On each chunk, the reviewers
//! that use the same model are sent to the engine together, so the shared
//! part of their prompts (system text + the diff) is prefilled once.

use crate::engine::{Backend, Prompt, Request, Sampling};
use crate::plan::ReviewPlan;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

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

/// A reviewer ready to run: its spec and its persona text.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub spec: ReviewerSpec,
    pub persona: String,
}

/// What one reviewer produced for one chunk, before any validation.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkOutput {
    pub chunk: usize,
    /// The model's raw text, or why there is none.
    pub text: Result<String, String>,
    /// Answered from the review cache, no model run.
    pub cached: bool,
    pub prompt_tokens: usize,
    pub shared_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_ms: u64,
    pub generate_ms: u64,
}

/// Everything one reviewer produced over the whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewerRun {
    pub spec: ReviewerSpec,
    pub outputs: Vec<ChunkOutput>,
    /// Wall time attributed to this reviewer (its share of shared prefill included).
    pub duration: Duration,
}

/// Where cached generations come from and go to (the review cache, or
/// nothing). Keys are opaque strings built by [`cache_key`].
pub trait GenerationStore {
    fn get(&mut self, key: &str) -> Option<String>;
    fn put(&mut self, key: &str, text: &str);
}

/// No cache.
pub struct NoStore;
impl GenerationStore for NoStore {
    fn get(&mut self, _: &str) -> Option<String> {
        None
    }
    fn put(&mut self, _: &str, _: &str) {}
}

/// Inputs of stage 4 besides the plan.
pub struct RunInputs<'a> {
    pub reviewers: &'a [Reviewer],
    /// The project's own rules (REVIEW.md...), given to every reviewer.
    pub instructions: Option<&'a str>,
    /// The identity of each model for cache keys (its sha256), by model name.
    pub model_identity: &'a dyn Fn(&str) -> String,
    /// Stop starting new chunks after this instant (time budget).
    pub deadline: Option<Instant>,
    /// Most findings one reviewer may report per chunk (grammar bound).
    pub max_findings: usize,
}

/// The result of stage 4.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub runs: Vec<ReviewerRun>,
    /// Chunks not reviewed because the time budget ran out.
    pub not_reviewed: Vec<usize>,
}

/// A cache key: everything that determines a generation.
pub fn cache_key(
    model_identity: &str,
    system: &str,
    user: &str,
    grammar: &str,
    sampling: &Sampling,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        env!("CARGO_PKG_VERSION"),
        model_identity,
        system,
        user,
        grammar,
        &serde_json::to_string(sampling).unwrap_or_default(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Runs every reviewer on every chunk of the plan (stage 4).
pub fn run(
    plan: &ReviewPlan,
    inputs: &RunInputs<'_>,
    backend: &mut dyn Backend,
    store: &mut dyn GenerationStore,
    progress: &mut dyn FnMut(&str),
) -> RunResult {
    let mut runs: Vec<ReviewerRun> = inputs
        .reviewers
        .iter()
        .map(|r| ReviewerRun {
            spec: r.spec.clone(),
            outputs: Vec::new(),
            duration: Duration::ZERO,
        })
        .collect();
    let mut not_reviewed = Vec::new();
    let system = crate::prompts::SYSTEM.trim().to_string();

    for chunk in &plan.chunks {
        if inputs.deadline.is_some_and(|d| Instant::now() >= d) {
            not_reviewed.push(chunk.index);
            continue;
        }
        let diff = crate::plan::render_chunk(plan, chunk);
        let lines = crate::plan::chunk_new_lines(plan, chunk);
        let limits = crate::engine::grammar::GrammarLimits {
            max_findings: inputs.max_findings,
            ..Default::default()
        };
        // Each reviewer's grammar is shrunk to its own token budget, so its
        // JSON can always close before `max_tokens`.
        let grammar_for = |sampling: &Sampling| {
            crate::engine::grammar::findings_grammar(
                &lines,
                &limits.fit_within(sampling.max_tokens, &lines),
            )
        };

        // Group reviewers by model, keeping the configured order.
        let mut models: Vec<&str> = Vec::new();
        for r in inputs.reviewers {
            if !models.contains(&r.spec.model.as_str()) {
                models.push(&r.spec.model);
            }
        }
        for model in models {
            let members: Vec<usize> = (0..inputs.reviewers.len())
                .filter(|&i| inputs.reviewers[i].spec.model == model)
                .collect();
            let identity = (inputs.model_identity)(model);
            let mut pending = Vec::new();
            for &i in &members {
                let r = &inputs.reviewers[i];
                let user =
                    crate::prompts::review_user_message(inputs.instructions, &diff, &r.persona);
                let grammar = grammar_for(&r.spec.sampling);
                let key = cache_key(&identity, &system, &user, &grammar, &r.spec.sampling);
                if let Some(text) = store.get(&key) {
                    runs[i].outputs.push(ChunkOutput {
                        chunk: chunk.index,
                        text: Ok(text),
                        cached: true,
                        prompt_tokens: 0,
                        shared_tokens: 0,
                        generated_tokens: 0,
                        prefill_ms: 0,
                        generate_ms: 0,
                    });
                } else {
                    pending.push((i, key, user, grammar));
                }
            }
            if pending.is_empty() {
                continue;
            }
            progress(&format!(
                "chunk {}/{}: {} on {} ({} reviewer{})",
                chunk.index + 1,
                plan.chunks.len(),
                pending
                    .iter()
                    .map(|(i, _, _, _)| inputs.reviewers[*i].spec.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                model,
                pending.len(),
                if pending.len() == 1 { "" } else { "s" }
            ));
            let requests: Vec<Request> = pending
                .iter()
                .map(|(i, _, user, grammar)| Request {
                    prompt: Prompt {
                        system: system.clone(),
                        user: user.clone(),
                    },
                    sampling: inputs.reviewers[*i].spec.sampling.clone(),
                    grammar: grammar.clone(),
                })
                .collect();
            let started = Instant::now();
            let results = backend.generate(model, &requests);
            let elapsed = started.elapsed();
            let share = elapsed / pending.len() as u32;
            for (n, (i, key, _, _)) in pending.iter().enumerate() {
                let out = match results.get(n) {
                    Some(Ok(g)) => {
                        store.put(key, &g.text);
                        ChunkOutput {
                            chunk: chunk.index,
                            text: Ok(g.text.clone()),
                            cached: false,
                            prompt_tokens: g.prompt_tokens,
                            shared_tokens: g.shared_tokens,
                            generated_tokens: g.generated_tokens,
                            prefill_ms: g.prefill_ms,
                            generate_ms: g.generate_ms,
                        }
                    }
                    Some(Err(e)) => failed(chunk.index, e.to_string()),
                    None => failed(chunk.index, "the engine returned no result".into()),
                };
                runs[*i].outputs.push(out);
                runs[*i].duration += share;
            }
        }
    }
    RunResult { runs, not_reviewed }
}

fn failed(chunk: usize, why: String) -> ChunkOutput {
    ChunkOutput {
        chunk,
        text: Err(why),
        cached: false,
        prompt_tokens: 0,
        shared_tokens: 0,
        generated_tokens: 0,
        prefill_ms: 0,
        generate_ms: 0,
    }
}
