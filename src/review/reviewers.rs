//! Stage 4: the review plan + reviewers → raw reviews, through a
//! [`Backend`].
//!
//! Reviewers never see each other's output. On each chunk, the reviewers
//! that use the same model are sent to the engine together, so the shared
//! part of their prompts (system text + the diff) is prefilled once.

use crate::cache::CacheKey;
use crate::engine::{Backend, Prompt, Request, Sampling};
use crate::plan::ReviewPlan;
use serde::{Deserialize, Serialize};
use std::time::Instant;

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

/// A reviewer ready to run: its spec, its persona text and the file of
/// its model.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub spec: ReviewerSpec,
    pub persona: String,
    /// The model's file name (the model name itself for stand-ins).
    pub model_file: String,
    /// The manifest marks the model as a demonstration model.
    pub demonstration: bool,
}

impl Reviewer {
    /// How the report names this reviewer.
    pub fn info(&self) -> ReviewerInfo {
        ReviewerInfo {
            name: self.spec.name.clone(),
            model: self.spec.model.clone(),
            model_file: self.model_file.clone(),
            persona: self.spec.prompt.clone(),
            demonstration: self.demonstration,
        }
    }
}

/// Who a reviewer is: shown in the header, the retro and the appendix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerInfo {
    /// Reviewer name (`correctness`).
    pub name: String,
    /// Model name from the manifest (`smollm2-135m`).
    pub model: String,
    /// Model file name (`SmolLM2-135M-Instruct.Q4_1.gguf`).
    pub model_file: String,
    /// Persona prompt file (`correctness.md`).
    pub persona: String,
    /// The model is a bundled demonstration model (too small to review).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demonstration: bool,
}

/// What one reviewer produced for one chunk, exactly (validation comes
/// later and may add an `error` for an unusable answer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkOutput {
    pub chunk: usize,
    /// The model's raw text (empty when generation failed; clipped when
    /// the report shows it).
    pub raw: String,
    /// Answered from the review cache, no model run.
    pub from_cache: bool,
    /// Why this chunk has no usable answer: generation or parse failure.
    pub error: Option<String>,
    pub prompt_tokens: usize,
    /// Prompt tokens that came from the prefix shared with other reviewers.
    pub shared_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_ms: u64,
    pub generate_ms: u64,
    /// What a reasoning model thought first (never read for findings;
    /// clipped when the report shows it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thinking: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub thinking_tokens: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A cached generation: the answer and, for a reasoning model, its
/// thinking. Plain answers are cached as their text alone (entries written
/// before thinking existed read the same way).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CachedAnswer {
    text: String,
    thinking: String,
    thinking_tokens: usize,
}

/// What the cache keeps for a generation.
fn cache_value(text: &str, thinking: &str, thinking_tokens: usize) -> String {
    if thinking.is_empty() && thinking_tokens == 0 {
        return text.to_string();
    }
    serde_json::to_string(&CachedAnswer {
        text: text.to_string(),
        thinking: thinking.to_string(),
        thinking_tokens,
    })
    .unwrap_or_else(|_| text.to_string())
}

/// A cache value back as (answer, thinking, thinking tokens).
fn from_cache_value(value: String) -> (String, String, usize) {
    match serde_json::from_str::<CachedAnswer>(&value) {
        Ok(c) => (c.text, c.thinking, c.thinking_tokens),
        Err(_) => (value, String::new(), 0),
    }
}

/// Everything one reviewer produced over the whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerRun {
    pub info: ReviewerInfo,
    /// Wall time attributed to this reviewer (its share of shared prefill included).
    pub duration_ms: u64,
    /// Raw output per chunk, in plan order.
    pub chunks: Vec<ChunkOutput>,
    /// Set when the whole reviewer failed before any chunk (its model is
    /// missing, corrupt or does not fit in memory).
    pub error: Option<String>,
}

impl ReviewerRun {
    /// A reviewer that could not run at all.
    pub fn failed(info: ReviewerInfo, why: String) -> ReviewerRun {
        ReviewerRun {
            info,
            error: Some(why),
            ..Default::default()
        }
    }
}

/// Where cached generations come from and go to (the review cache, or
/// nothing). Keys are opaque strings built by [`cache_key`].
pub trait GenerationStore {
    fn get(&mut self, key: &CacheKey) -> Option<String>;
    fn put(&mut self, key: &CacheKey, text: &str);
}

/// No cache.
pub struct NoStore;
impl GenerationStore for NoStore {
    fn get(&mut self, _: &CacheKey) -> Option<String> {
        None
    }
    fn put(&mut self, _: &CacheKey, _: &str) {}
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
    /// Chunks not reviewed because the time budget ran out (or Ctrl-C).
    pub not_reviewed: Vec<usize>,
    /// Ctrl-C stopped the run.
    pub interrupted: bool,
}

/// The cache key of a generation: everything that determines it (the
/// program version, the model's identity, the whole request).
pub fn cache_key(model_identity: &str, request: &Request) -> CacheKey {
    let sampling = serde_json::to_string(&request.sampling).unwrap_or_default();
    CacheKey::new(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        model_identity.as_bytes(),
        request.prompt.system.as_bytes(),
        request.prompt.user.as_bytes(),
        request.grammar.as_bytes(),
        sampling.as_bytes(),
    ])
}

/// Runs every reviewer on every chunk of the plan (stage 4). Stops starting
/// chunks at the deadline or on Ctrl-C; what was not reviewed is listed.
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
            info: r.info(),
            ..Default::default()
        })
        .collect();
    let mut not_reviewed = Vec::new();
    let mut interrupted = false;
    let system = crate::prompts::SYSTEM.trim().to_string();

    for chunk in &plan.chunks {
        interrupted |= crate::interrupt::is_triggered();
        if interrupted || inputs.deadline.is_some_and(|d| Instant::now() >= d) {
            not_reviewed.push(chunk.index);
            continue;
        }
        let diff = crate::plan::render_chunk(plan, chunk);
        let lines = crate::plan::chunk_new_lines(plan, chunk);
        let limits = crate::engine::grammar::GrammarLimits {
            max_findings: inputs.max_findings,
            ..Default::default()
        };
        // Each reviewer's grammar lets one finding fit in its token budget;
        // an answer cut short by the budget keeps its completed findings.
        let grammar_for = |sampling: &Sampling| {
            crate::engine::grammar::findings_grammar(
                &lines,
                &limits.fit_one_within(sampling.max_tokens, &lines),
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
            let identity = (inputs.model_identity)(model);
            let mut pending: Vec<(usize, CacheKey, Request)> = Vec::new();
            for (i, r) in inputs.reviewers.iter().enumerate() {
                if r.spec.model != model {
                    continue;
                }
                let request = Request {
                    prompt: Prompt {
                        system: system.clone(),
                        user: crate::prompts::review_user_message(
                            inputs.instructions,
                            &diff,
                            &r.persona,
                        ),
                    },
                    sampling: r.spec.sampling.clone(),
                    grammar: grammar_for(&r.spec.sampling),
                };
                let key = cache_key(&identity, &request);
                match store.get(&key) {
                    Some(value) => {
                        let (raw, thinking, thinking_tokens) = from_cache_value(value);
                        runs[i].chunks.push(ChunkOutput {
                            chunk: chunk.index,
                            raw,
                            from_cache: true,
                            thinking,
                            thinking_tokens,
                            ..Default::default()
                        })
                    }
                    None => pending.push((i, key, request)),
                }
            }
            if pending.is_empty() {
                continue;
            }
            let names: Vec<String> = pending
                .iter()
                .map(|(i, _, _)| inputs.reviewers[*i].spec.name.clone())
                .collect();
            progress(&format!(
                "chunk {}/{}: {} on {model}",
                chunk.index + 1,
                plan.chunks.len(),
                names.join(", "),
            ));
            let requests: Vec<Request> = pending.iter().map(|(_, _, r)| r.clone()).collect();
            let started = Instant::now();
            let results = backend.generate(model, &requests);
            let share = started.elapsed().as_millis() as u64 / pending.len() as u64;
            for (n, (i, key, _)) in pending.iter().enumerate() {
                let out = match results.get(n) {
                    Some(Ok(g)) if g.stop.cut_short() => {
                        // Half an answer is no review: the chunk counts as
                        // not reviewed (the time budget's policy decides),
                        // and nothing partial is cached.
                        interrupted |= g.stop == crate::engine::StopReason::Interrupted;
                        if !not_reviewed.contains(&chunk.index) {
                            not_reviewed.push(chunk.index);
                        }
                        continue;
                    }
                    Some(Ok(g)) => {
                        store.put(key, &cache_value(&g.text, &g.thinking, g.thinking_tokens));
                        ChunkOutput {
                            chunk: chunk.index,
                            raw: g.text.clone(),
                            from_cache: false,
                            error: None,
                            prompt_tokens: g.prompt_tokens,
                            shared_tokens: g.shared_tokens,
                            generated_tokens: g.generated_tokens,
                            prefill_ms: g.prefill_ms,
                            generate_ms: g.generate_ms,
                            thinking: g.thinking.clone(),
                            thinking_tokens: g.thinking_tokens,
                        }
                    }
                    Some(Err(e)) => failed(chunk.index, e.to_string()),
                    None => failed(chunk.index, "the engine returned no result".into()),
                };
                runs[*i].chunks.push(out);
                runs[*i].duration_ms += share;
            }
        }
    }
    RunResult {
        runs,
        not_reviewed,
        interrupted,
    }
}

fn failed(chunk: usize, why: String) -> ChunkOutput {
    ChunkOutput {
        chunk,
        error: Some(why),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_survives_the_cache_and_plain_answers_stay_plain() {
        let answer = r#"{"findings":[]}"#;
        assert_eq!(cache_value(answer, "", 0), answer);
        assert_eq!(
            from_cache_value(answer.to_string()),
            (answer.to_string(), String::new(), 0)
        );
        let v = cache_value(answer, "first, the loop", 7);
        assert_ne!(v, answer);
        assert_eq!(
            from_cache_value(v),
            (answer.to_string(), "first, the loop".to_string(), 7)
        );
    }
}
