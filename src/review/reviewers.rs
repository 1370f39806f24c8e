//! Stage 4: the review plan + reviewers → raw reviews, through a
//! [`Backend`].
//!
//! Reviewers never see each other's output. On each chunk, the reviewers
//! that use the same model are sent to the engine together, so the shared
//! part of their prompts (system text + the diff) is prefilled once.

use crate::cache::CacheKey;
use crate::engine::{Backend, Prompt, Request};
use crate::plan::ReviewPlan;
use serde::{Deserialize, Serialize};
use std::time::Instant;

pub use crate::config::reviewer::ReviewerSpec;

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
    /// The inference servers the model runs on (empty: in-process).
    pub endpoints: Vec<String>,
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
            endpoints: self.endpoints.clone(),
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
    /// The inference servers it runs on (absent: in-process, on this machine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
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
    /// The server that answered (absent: in-process or from the cache).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    /// Threads the in-process engine used (absent: not run here).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub threads: usize,
    /// Answers decoded together with this one, itself included (absent:
    /// not run here).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub together: usize,
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
    /// The cache on disk behind this store, whose chunk locks keep two
    /// processes from making the same answer (`None`: nothing to share).
    fn shared(&self) -> Option<std::sync::Arc<crate::cache::Cache>> {
        None
    }
}

/// How often a run checks whether another process has finished the
/// answer it waits for (the lock is a file; polling keeps the wait
/// interruptible and bounded by the time budget).
const CLAIM_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Who makes the answer of one key.
pub(crate) enum Claimed {
    /// This process (holding the lock, when there is a cache to lock).
    Mine(Option<crate::cache::ChunkLock>),
    /// Another process made it meanwhile: here it is.
    Answered(String),
    /// Another process is making it (its pid, when known).
    Theirs(Option<u32>),
}

/// Claims `key` for this process, without waiting.
fn claim(cache: Option<&crate::cache::Cache>, key: &CacheKey) -> Claimed {
    let Some(cache) = cache else {
        return Claimed::Mine(None);
    };
    match cache.try_claim(key) {
        // The answer may have landed between the first lookup and the claim.
        Ok(crate::cache::Claim::Mine(lock)) => match cache.get(key) {
            Some(v) => Claimed::Answered(v),
            None => Claimed::Mine(Some(lock)),
        },
        Ok(crate::cache::Claim::Theirs(pid)) => Claimed::Theirs(pid),
        // Locks cannot be taken here (read-only directory...): review
        // without one rather than not at all.
        Err(_) => Claimed::Mine(None),
    }
}

/// Claims `key`, waiting while another process holds it (`on_wait` is
/// told once who): its answer, or the claim once it let go without one
/// (it failed, or died: the kernel released its lock). `None` when the
/// deadline passed or Ctrl-C came first.
pub(crate) fn wait_for(
    cache: Option<&crate::cache::Cache>,
    key: &CacheKey,
    deadline: Option<Instant>,
    on_wait: &dyn Fn(Option<u32>),
) -> Option<Claimed> {
    let mut told = false;
    loop {
        match claim(cache, key) {
            Claimed::Theirs(pid) if !told => {
                on_wait(pid);
                told = true;
            }
            Claimed::Theirs(_) => {}
            done => return Some(done),
        }
        if crate::interrupt::is_triggered() || deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        std::thread::sleep(CLAIM_POLL);
    }
}

/// The progress line of a wait.
fn waiting_line(label: &str, pid: Option<u32>) -> String {
    match pid {
        Some(p) => {
            format!("{label}: waiting for the review in process {p}, which is making this answer")
        }
        None => format!("{label}: waiting for another review, which is making this answer"),
    }
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
    /// Progress lines (called from the server-side reviewers' threads too).
    pub progress: &'a (dyn Fn(&str) + Sync),
    /// The read-only context of each chunk (`None`: the diff alone).
    pub context: Option<&'a crate::context::ContextPlan>,
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

/// The cache keys of requests one model answers in one `generate` call:
/// each request's own [`cache_key`], or, when the model decodes them
/// together (`together`), a key that also names every request of the group,
/// since each answer then depends on its batch-mates.
pub fn group_keys(model_identity: &str, requests: &[Request], together: bool) -> Vec<CacheKey> {
    let own: Vec<CacheKey> = requests
        .iter()
        .map(|r| cache_key(model_identity, r))
        .collect();
    if !together || own.len() < 2 {
        return own;
    }
    let mut group: Vec<String> = own.iter().map(CacheKey::hex).collect();
    group.sort_unstable();
    let group = group.join(" ");
    own.iter()
        .map(|k| CacheKey::new(&[b"decoded together", k.hex().as_bytes(), group.as_bytes()]))
        .collect()
}

/// What every reviewer is asked about one chunk, built once per chunk.
struct ChunkAsk<'a> {
    diff: String,
    lines: Vec<(String, Vec<u32>)>,
    /// The chunk's context as the prompt shows it (empty: none).
    context: String,
    /// The lines the context shows, by file (a consequence may point there).
    context_lines: Vec<(String, Vec<u32>)>,
    limits: crate::engine::grammar::GrammarLimits,
    instructions: Option<&'a str>,
}

impl<'a> ChunkAsk<'a> {
    fn new(plan: &ReviewPlan, chunk: &crate::plan::Chunk, inputs: &RunInputs<'a>) -> Self {
        let pack = inputs
            .context
            .map(|c| c.pack(chunk.index))
            .unwrap_or_default();
        ChunkAsk {
            diff: crate::plan::render_chunk(plan, chunk),
            lines: crate::plan::chunk_new_lines(plan, chunk),
            context: crate::context::render::for_prompt(&pack),
            context_lines: pack.lines(),
            limits: crate::engine::grammar::GrammarLimits {
                max_findings: inputs.max_findings,
                ..Default::default()
            },
            instructions: inputs.instructions,
        }
    }

    /// The request of reviewer `r` (with a JSON schema for a server, which
    /// enforces that instead of the grammar).
    fn request(&self, r: &Reviewer, on_server: bool) -> Request {
        // Each reviewer's constraint lets one finding fit in its token
        // budget; an answer cut short by the budget keeps its completed
        // findings.
        let fitted = self
            .limits
            .fit_one_within(r.spec.sampling.max_tokens, &self.lines);
        let with_context = !self.context.is_empty();
        Request {
            prompt: Prompt {
                system: crate::prompts::review_system(with_context),
                user: crate::prompts::review_user_message_with_context(
                    self.instructions,
                    &self.diff,
                    &self.context,
                    &r.persona,
                ),
            },
            sampling: r.spec.sampling.clone(),
            grammar: crate::engine::grammar::findings_grammar_with_context(
                &self.lines,
                &self.context_lines,
                &fitted,
            ),
            schema: on_server.then(|| {
                std::sync::Arc::new(crate::engine::schema::findings_schema_with_context(
                    &self.lines,
                    &self.context_lines,
                    &fitted,
                ))
            }),
        }
    }
}

/// Whether `store` holds every reviewer's answer on every chunk of `plan`:
/// then a run needs no model at all, not even to check it.
pub fn all_cached(
    plan: &ReviewPlan,
    inputs: &RunInputs<'_>,
    backend: &mut dyn Backend,
    store: &mut dyn GenerationStore,
) -> bool {
    let models = models_in_order(inputs.reviewers);
    let together: Vec<bool> = models.iter().map(|m| backend.batches(m)).collect();
    plan.chunks.iter().all(|chunk| {
        let ask = ChunkAsk::new(plan, chunk, inputs);
        models.iter().zip(&together).all(|(model, &together)| {
            // The schema is not part of the key: a server's answer and an
            // in-process one are keyed alike.
            let requests: Vec<Request> = inputs
                .reviewers
                .iter()
                .filter(|r| r.spec.model == *model)
                .map(|r| ask.request(r, false))
                .collect();
            group_keys(&(inputs.model_identity)(model), &requests, together)
                .iter()
                .all(|k| store.get(k).is_some())
        })
    })
}

/// Each reviewer's model once, in configured order.
fn models_in_order(reviewers: &[Reviewer]) -> Vec<&str> {
    let mut models: Vec<&str> = Vec::new();
    for r in reviewers {
        if !models.contains(&r.spec.model.as_str()) {
            models.push(&r.spec.model);
        }
    }
    models
}

/// One request of one reviewer on one chunk, not answered by the cache.
struct Job {
    reviewer: usize,
    chunk: usize,
    key: CacheKey,
    request: Request,
    label: String,
    /// Held while this process makes the answer (released once it is cached).
    lock: Option<crate::cache::ChunkLock>,
}

/// One model's jobs on one chunk, run in this process in one `generate`.
struct Group<'m> {
    chunk: usize,
    model: &'m str,
    jobs: Vec<Job>,
    /// The model decodes them together: they are made as a whole.
    together: bool,
}

/// What a server-side job produced (sent back from its thread).
struct Done {
    job: Job,
    result: Option<Made>,
    ms: u64,
}

/// An answer this process made, or one another process made meanwhile.
enum Made {
    Generated(crate::error::Result<crate::engine::Generation>),
    Cached(String),
}

/// Runs every reviewer on every chunk of the plan (stage 4). Stops starting
/// chunks at the deadline or on Ctrl-C; what was not reviewed is listed.
///
/// Reviewers whose model is on an inference server ([`Backend::concurrent`])
/// run on threads of their own, as many at once as their entry allows,
/// beside the in-process reviewers, which run one model group at a time in
/// plan order (one process cannot run two llama.cpp decodes at full speed).
/// So a review takes about as long as its slowest reviewer, not the sum.
pub fn run(
    plan: &ReviewPlan,
    inputs: &RunInputs<'_>,
    backend: &mut dyn Backend,
    store: &mut dyn GenerationStore,
) -> RunResult {
    let mut state = State {
        runs: inputs
            .reviewers
            .iter()
            .map(|r| ReviewerRun {
                info: r.info(),
                ..Default::default()
            })
            .collect(),
        not_reviewed: Vec::new(),
        interrupted: false,
    };

    // Models in configured order, and which of them a server runs.
    let models = models_in_order(inputs.reviewers);
    let servers: Vec<(&str, std::sync::Arc<dyn crate::engine::Concurrent>)> = models
        .iter()
        .filter_map(|m| backend.concurrent(m).map(|c| (*m, c)))
        .collect();
    let on_server = |m: &str| servers.iter().any(|(s, _)| *s == m);

    // Every request, chunk by chunk; cached answers are taken at once.
    let together: Vec<bool> = models
        .iter()
        .map(|m| !on_server(m) && backend.batches(m))
        .collect();
    let mut local: Vec<Group<'_>> = Vec::new();
    let mut queues: Vec<std::collections::VecDeque<Job>> =
        servers.iter().map(|_| Default::default()).collect();
    for chunk in &plan.chunks {
        let ask = ChunkAsk::new(plan, chunk, inputs);
        for (model, &together) in models.iter().zip(&together) {
            let identity = (inputs.model_identity)(model);
            let members: Vec<usize> = (0..inputs.reviewers.len())
                .filter(|&i| inputs.reviewers[i].spec.model == *model)
                .collect();
            let requests: Vec<Request> = members
                .iter()
                .map(|&i| ask.request(&inputs.reviewers[i], on_server(model)))
                .collect();
            let keys = group_keys(&identity, &requests, together);
            let together = together && members.len() > 1;
            let found: Vec<Option<String>> = keys.iter().map(|k| store.get(k)).collect();
            // A group decoded together is made whole or not at all: an
            // answer made in another group would not be the one its key names.
            let remake_all = together && found.iter().any(Option::is_none);
            let mut jobs = Vec::new();
            for (((i, request), key), value) in
                members.into_iter().zip(requests).zip(keys).zip(found)
            {
                match value {
                    Some(value) if !remake_all => state.cached(i, chunk.index, value),
                    _ => jobs.push(Job {
                        reviewer: i,
                        chunk: chunk.index,
                        key,
                        request,
                        label: format!(
                            "chunk {}/{}: {}",
                            chunk.index + 1,
                            plan.chunks.len(),
                            inputs.reviewers[i].spec.name
                        ),
                        lock: None,
                    }),
                }
            }
            match servers.iter().position(|(s, _)| s == model) {
                Some(q) => queues[q].extend(jobs),
                None if jobs.is_empty() => {}
                None => local.push(Group {
                    chunk: chunk.index,
                    model,
                    jobs,
                    together,
                }),
            }
        }
    }

    // Another process reviewing the same change (the hook beside a manual
    // review) claims answers through the same cache: each answer is made
    // once, and the other waits for it.
    let shared = store.shared();
    let cache = shared.as_deref();
    let (tx, rx) = std::sync::mpsc::channel::<Done>();
    std::thread::scope(|scope| {
        for ((_, server), queue) in servers.iter().zip(queues) {
            let workers = server.max_concurrency().min(queue.len());
            let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
            for _ in 0..workers {
                let (queue, tx, server) = (queue.clone(), tx.clone(), server.clone());
                let deadline = inputs.deadline;
                let say = inputs.progress;
                scope.spawn(move || {
                    // The lock is taken and released in `pop` (a guard in the
                    // `while let` itself would be held for the whole request).
                    while let Some(mut job) = pop(&queue) {
                        let started = Instant::now();
                        let label = job.label.clone();
                        let result = match wait_for(cache, &job.key, deadline, &|pid| {
                            say(&waiting_line(&label, pid))
                        }) {
                            None | Some(Claimed::Theirs(_)) => None,
                            Some(Claimed::Answered(v)) => Some(Made::Cached(v)),
                            Some(Claimed::Mine(lock)) => {
                                job.lock = lock;
                                Some(Made::Generated(server.generate_one(
                                    &job.request,
                                    &job.label,
                                    say,
                                )))
                            }
                        };
                        let ms = started.elapsed().as_millis() as u64;
                        if tx.send(Done { job, result, ms }).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        drop(tx);

        // What another process is making is left for last, so this one
        // reviews the rest meanwhile.
        let mut later: Vec<Group<'_>> = Vec::new();
        for mut group in local {
            for done in rx.try_iter() {
                state.finish(done, store);
            }
            if state.stopped(inputs.deadline) {
                state.skip(group.chunk);
                continue;
            }
            let mut mine = Vec::new();
            let mut theirs = Vec::new();
            let mut answered = Vec::new();
            for mut job in std::mem::take(&mut group.jobs) {
                match claim(cache, &job.key) {
                    Claimed::Mine(lock) => {
                        job.lock = lock;
                        mine.push(job);
                    }
                    Claimed::Answered(v) => answered.push((job, v)),
                    Claimed::Theirs(_) => theirs.push(job),
                }
            }
            if group.together && !theirs.is_empty() {
                // Part of the group is being made elsewhere: wait for all
                // of it rather than make a different group here.
                for mut job in mine.drain(..) {
                    job.lock = None;
                    theirs.push(job);
                }
                theirs.extend(answered.drain(..).map(|(job, _)| job));
                theirs.sort_by_key(|j| j.reviewer);
            } else if group.together && !mine.is_empty() {
                // Made here, then all of it (see `remake_all`).
                mine.extend(answered.drain(..).map(|(job, _)| job));
                mine.sort_by_key(|j| j.reviewer);
            }
            for (job, v) in answered {
                state.cached(job.reviewer, job.chunk, v);
            }
            if !theirs.is_empty() {
                later.push(Group {
                    jobs: theirs,
                    ..group
                });
            }
            state.generate(
                group.chunk,
                group.model,
                mine,
                plan.chunks.len(),
                inputs,
                backend,
                store,
            );
        }
        for group in later {
            let mut mine = Vec::new();
            let mut answered = Vec::new();
            let mut gave_up = false;
            for mut job in group.jobs {
                for done in rx.try_iter() {
                    state.finish(done, store);
                }
                let label = job.label.clone();
                match wait_for(cache, &job.key, inputs.deadline, &|pid| {
                    (inputs.progress)(&waiting_line(&label, pid))
                }) {
                    Some(Claimed::Answered(v)) => answered.push((job, v)),
                    // It let go without an answer (failed, or died): make it here.
                    Some(Claimed::Mine(lock)) => {
                        job.lock = lock;
                        mine.push(job);
                    }
                    None | Some(Claimed::Theirs(_)) => gave_up = true,
                }
            }
            if gave_up {
                for (job, v) in answered {
                    state.cached(job.reviewer, job.chunk, v);
                }
                state.stopped(inputs.deadline);
                state.skip(group.chunk);
                continue;
            }
            if group.together && !mine.is_empty() {
                // The group is made here after all: all of it.
                mine.extend(answered.drain(..).map(|(job, _)| job));
                mine.sort_by_key(|j| j.reviewer);
            }
            for (job, v) in answered {
                state.cached(job.reviewer, job.chunk, v);
            }
            if !state.stopped(inputs.deadline) {
                state.generate(
                    group.chunk,
                    group.model,
                    mine,
                    plan.chunks.len(),
                    inputs,
                    backend,
                    store,
                );
            }
        }
        // The server-side reviewers' answers, as they come.
        for done in rx.iter() {
            state.finish(done, store);
        }
    });
    for run in &mut state.runs {
        run.chunks.sort_by_key(|c| c.chunk);
    }
    state.not_reviewed.sort_unstable();
    RunResult {
        runs: state.runs,
        not_reviewed: state.not_reviewed,
        interrupted: state.interrupted,
    }
}

fn pop(queue: &std::sync::Mutex<std::collections::VecDeque<Job>>) -> Option<Job> {
    queue.lock().ok()?.pop_front()
}

/// What stage 4 has gathered so far.
struct State {
    runs: Vec<ReviewerRun>,
    not_reviewed: Vec<usize>,
    interrupted: bool,
}

impl State {
    /// Ctrl-C came or the deadline passed: start nothing more.
    fn stopped(&mut self, deadline: Option<Instant>) -> bool {
        self.interrupted |= crate::interrupt::is_triggered();
        self.interrupted || deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Records an answer from the cache.
    fn cached(&mut self, reviewer: usize, chunk: usize, value: String) {
        let (raw, thinking, thinking_tokens) = from_cache_value(value);
        self.runs[reviewer].chunks.push(ChunkOutput {
            chunk,
            raw,
            from_cache: true,
            thinking,
            thinking_tokens,
            ..Default::default()
        })
    }

    /// Runs one model's `jobs` on one chunk in this process, in one
    /// [`Backend::generate`] call (so their shared prefix is prefilled once).
    #[allow(clippy::too_many_arguments)]
    fn generate(
        &mut self,
        chunk: usize,
        model: &str,
        jobs: Vec<Job>,
        chunks: usize,
        inputs: &RunInputs<'_>,
        backend: &mut dyn Backend,
        store: &mut dyn GenerationStore,
    ) {
        if jobs.is_empty() {
            return;
        }
        let names: Vec<String> = jobs
            .iter()
            .map(|j| inputs.reviewers[j.reviewer].spec.name.clone())
            .collect();
        (inputs.progress)(&format!(
            "chunk {}/{chunks}: {} on {model}",
            chunk + 1,
            names.join(", "),
        ));
        let requests: Vec<Request> = jobs.iter().map(|j| j.request.clone()).collect();
        let started = Instant::now();
        let mut results = backend.generate(model, &requests).into_iter();
        let share = started.elapsed().as_millis() as u64 / jobs.len() as u64;
        for job in jobs {
            let result = results.next().unwrap_or_else(|| {
                Err(crate::error::Error::Model(
                    "the engine returned no result".into(),
                ))
            });
            self.finish(
                Done {
                    job,
                    result: Some(Made::Generated(result)),
                    ms: share,
                },
                store,
            );
        }
    }

    fn skip(&mut self, chunk: usize) {
        if !self.not_reviewed.contains(&chunk) {
            self.not_reviewed.push(chunk);
        }
    }

    /// Records one answer (caching it) or why there is none.
    fn finish(&mut self, done: Done, store: &mut dyn GenerationStore) {
        let Done { job, result, ms } = done;
        let out = match result {
            // Not started: the time budget ran out or Ctrl-C.
            None => {
                self.interrupted |= crate::interrupt::is_triggered();
                self.skip(job.chunk);
                return;
            }
            Some(Made::Cached(v)) => return self.cached(job.reviewer, job.chunk, v),
            Some(Made::Generated(Ok(g))) if g.stop.cut_short() => {
                // Half an answer is no review: the chunk counts as not
                // reviewed (the time budget's policy decides), and nothing
                // partial is cached.
                self.interrupted |= g.stop == crate::engine::StopReason::Interrupted;
                self.skip(job.chunk);
                return;
            }
            Some(Made::Generated(Ok(g))) => {
                store.put(
                    &job.key,
                    &cache_value(&g.text, &g.thinking, g.thinking_tokens),
                );
                ChunkOutput {
                    chunk: job.chunk,
                    raw: g.text,
                    from_cache: false,
                    error: None,
                    prompt_tokens: g.prompt_tokens,
                    shared_tokens: g.shared_tokens,
                    generated_tokens: g.generated_tokens,
                    prefill_ms: g.prefill_ms,
                    generate_ms: g.generate_ms,
                    thinking: g.thinking,
                    thinking_tokens: g.thinking_tokens,
                    endpoint: g.endpoint,
                    threads: g.threads,
                    together: g.together,
                }
            }
            Some(Made::Generated(Err(e))) => failed(job.chunk, e.to_string()),
        };
        let run = &mut self.runs[job.reviewer];
        run.chunks.push(out);
        run.duration_ms += ms;
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

    /// `context = off` (no context plan, or one that is off) sends exactly
    /// the request a review sent before the context stage existed: the
    /// system text, the user message, the grammar and the schema.
    #[test]
    fn context_off_sends_todays_request_byte_for_byte() {
        use crate::git::diff::{FileDiff, FileStatus};
        let (hunks, additions, deletions) =
            crate::git::diff::text_hunks(b"fn a() {\n    1\n}\n", b"fn a() {\n    2\n}\n", 3);
        let file = FileDiff {
            path: "src/a.rs".into(),
            status: FileStatus::Modified,
            binary: false,
            additions,
            deletions,
            hunks,
            language: Some("rust".into()),
        };
        let range = crate::git::range::ReviewRange {
            spec: "x..y".into(),
            base: None,
            head: gix::ObjectId::null(gix::hash::Kind::Sha1),
            branch: None,
            commits: Vec::new(),
        };
        let plan = crate::plan::build(
            range,
            vec![file],
            &crate::plan::PlanOptions::default(),
            &crate::plan::estimate_tokens,
        );
        let reviewer = Reviewer {
            spec: ReviewerSpec {
                name: "correctness".into(),
                model: "standin:empty".into(),
                prompt: "correctness.md".into(),
                sampling: Default::default(),
            },
            persona: "PERSONA".into(),
            model_file: String::new(),
            demonstration: false,
            endpoints: Vec::new(),
        };
        let off = crate::context::ContextPlan::off(&plan);
        let ask = |context| {
            let inputs = RunInputs {
                reviewers: std::slice::from_ref(&reviewer),
                instructions: Some("RULES"),
                model_identity: &|m: &str| m.to_string(),
                deadline: None,
                max_findings: 5,
                progress: &|_| {},
                context,
            };
            ChunkAsk::new(&plan, &plan.chunks[0], &inputs).request(&reviewer, true)
        };
        let none = ask(None);
        let diff = crate::plan::render_chunk(&plan, &plan.chunks[0]);
        let lines = crate::plan::chunk_new_lines(&plan, &plan.chunks[0]);
        let fitted = crate::engine::grammar::GrammarLimits {
            max_findings: 5,
            ..Default::default()
        }
        .fit_one_within(reviewer.spec.sampling.max_tokens, &lines);
        assert_eq!(none.prompt.system, crate::prompts::SYSTEM.trim());
        assert_eq!(
            none.prompt.user,
            crate::prompts::review_user_message(Some("RULES"), &diff, "PERSONA")
        );
        assert_eq!(
            none.grammar,
            crate::engine::grammar::findings_grammar(&lines, &fitted)
        );
        assert!(!none.grammar.contains("cause") && !none.grammar.contains("consequence"));
        assert_eq!(
            none.schema.as_deref(),
            Some(&crate::engine::schema::findings_schema(&lines, &fitted))
        );
        let again = ask(Some(&off));
        assert_eq!(
            (&again.prompt, &again.grammar, &again.schema),
            (&none.prompt, &none.grammar, &none.schema)
        );
        // And a pack changes all of it.
        let mut on = off.clone();
        on.enabled = true;
        on.packs[0].items.push(crate::context::ContextItem {
            kind: crate::context::ItemKind::Caller,
            path: "src/b.rs".into(),
            start: 4,
            end: 5,
            tokens: 9,
            reason: "uses `a`".into(),
            score: 1.0,
            text: "  4 | a()\n  5 | }\n".into(),
        });
        let with = ask(Some(&on));
        assert!(with.prompt.system.contains("read-only context"));
        assert!(with
            .prompt
            .user
            .contains("[context 1] src/b.rs lines 4-5 (caller)"));
        assert!(with.grammar.contains("\"consequence\""), "{}", with.grammar);
        assert!(with.grammar.contains("src/b.rs"));
        assert_ne!(cache_key("m", &with), cache_key("m", &none));
    }
}
