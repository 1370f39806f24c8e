//! Reviewers on an inference server: llama.cpp's `llama-server`, vLLM or
//! Ollama, through their OpenAI-compatible API.
//!
//! A model entry with `endpoint`/`endpoints` instead of `file` becomes a
//! [`RemoteModel`]: a pool of endpoints serving the same model. Requests go
//! to the endpoint with the fewest in flight; a failure is retried with
//! backoff, on another endpoint when the pool has one, and only then fails
//! that reviewer's chunk with a message naming the endpoints. The same
//! prompts, constraint (GBNF on llama-server, the equivalent JSON schema
//! elsewhere), validation, cache and gate apply as in-process.
//!
//! Nothing here runs unless the user configured an endpoint, and
//! `--offline` refuses them all before the diff is read.

pub mod redact;
pub mod spec;
pub mod wire;

use crate::engine::backend::{Generation, Request, StopReason};
use crate::error::{Error, Result};
use redact::Redactor;
use serde_json::{json, Value};
pub use spec::{is_endpoint_url, parse_endpoint, Endpoint, RemoteSpec};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use wire::{Client, Fault, FaultKind};

/// Attempts one request gets on one endpoint before the pool gives up on it.
const ATTEMPTS_PER_ENDPOINT: usize = 3;
/// First retry delay; doubled each time, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Longest `Retry-After` honoured (a longer one fails over or gives up).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How long an endpoint that refused or dropped a connection is skipped
/// while another of the pool is up.
const DOWN_FOR: Duration = Duration::from_secs(30);
/// Probing a server (`/props`, `/v1/models`) must not take long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What kind of server an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// llama.cpp's llama-server: native GBNF `grammar`, `/tokenize`, `timings`.
    LlamaServer,
    /// Any other OpenAI-compatible server (vLLM, Ollama, …).
    OpenAi,
}

impl ServerKind {
    pub fn label(self) -> &'static str {
        match self {
            ServerKind::LlamaServer => "llama-server",
            ServerKind::OpenAi => "OpenAI-compatible",
        }
    }
}

/// What probing an endpoint found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub kind: ServerKind,
    /// The model name sent in requests.
    pub model: String,
    /// What identifies the served model's output (cache key): the model
    /// as the server describes it (file, size, parameters).
    pub identity: String,
    /// Context per request the server allows (`None`: unknown).
    pub n_ctx: Option<u32>,
}

struct EndpointState {
    ep: Endpoint,
    outstanding: AtomicUsize,
    down_until: Mutex<Option<Instant>>,
    info: Mutex<Option<ServerInfo>>,
}

impl EndpointState {
    fn is_down(&self) -> bool {
        self.down_until
            .lock()
            .map(|d| d.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }
    fn mark_down(&self) {
        if let Ok(mut d) = self.down_until.lock() {
            *d = Some(Instant::now() + DOWN_FOR);
        }
    }
}

/// One model entry served by a pool of endpoints.
pub struct RemoteModel {
    name: String,
    spec: RemoteSpec,
    client: Client,
    endpoints: Vec<EndpointState>,
    probed: OnceLock<std::result::Result<ServerInfo, String>>,
    /// Endpoints that were sent code (prompts), for the report.
    contacted: Mutex<BTreeSet<String>>,
    deadline: Mutex<Option<Instant>>,
    /// Every configured key's forms: blanked out of all a server sends
    /// back (answers, thinking, messages) before anyone else sees it.
    redactor: Redactor,
}

/// A label for progress and errors: `name → endpoint`.
fn at(name: &str, ep: &Endpoint) -> String {
    format!("{name} → {}", ep.base)
}

impl RemoteModel {
    /// The pool for entry `name`. Reads the key from the environment and
    /// the CA file; contacts nothing yet.
    pub fn new(name: &str, spec: &RemoteSpec) -> Result<RemoteModel> {
        let endpoints = spec
            .endpoints
            .iter()
            .map(|u| {
                parse_endpoint(u)
                    .map(|ep| EndpointState {
                        ep,
                        outstanding: AtomicUsize::new(0),
                        down_until: Mutex::new(None),
                        info: Mutex::new(None),
                    })
                    .map_err(|e| Error::Config(format!("model `{name}`: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        if endpoints.is_empty() {
            return Err(Error::Config(format!("model `{name}` has no endpoint")));
        }
        let key = match &spec.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.trim().is_empty() => Some(k.trim().to_string()),
                _ => {
                    return Err(Error::Model(format!(
                        "model `{name}`: api_key_env = {var:?}, but {var} is not set (or empty) in \
                         the environment; export it before running git deep-review"
                    )))
                }
            },
        };
        let ca = match &spec.ca_file {
            None => None,
            Some(p) => Some(std::fs::read(p).map_err(|e| {
                Error::Model(format!(
                    "model `{name}`: cannot read ca_file {}: {e}",
                    p.display()
                ))
            })?),
        };
        let redactor = Redactor::new(key.as_deref());
        let client = Client::new(key, Duration::from_secs(spec.timeout_secs), ca.as_deref())
            .map_err(|e| Error::Model(format!("model `{name}`: {e}")))?;
        Ok(RemoteModel {
            name: name.to_string(),
            spec: spec.clone(),
            client,
            endpoints,
            probed: OnceLock::new(),
            contacted: Mutex::new(BTreeSet::new()),
            deadline: Mutex::new(None),
            redactor,
        })
    }

    /// Also blanks out these keys (those of the other configured entries:
    /// a server shared by two entries has seen both keys).
    pub fn redact_also<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        self.redactor.extend(keys);
    }

    /// `e` with every configured key blanked out of its message.
    fn redacted(&self, e: Error) -> Error {
        match e {
            Error::Model(m) => Error::Model(self.redactor.redact(&m)),
            Error::Config(m) => Error::Config(self.redactor.redact(&m)),
            Error::Usage(m) => Error::Usage(self.redactor.redact(&m)),
            Error::Git(m) => Error::Git(self.redactor.redact(&m)),
            other => other,
        }
    }

    /// The configured base URLs.
    pub fn endpoint_urls(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.ep.base.clone()).collect()
    }

    /// Endpoints that were sent code so far.
    pub fn contacted(&self) -> Vec<String> {
        self.contacted
            .lock()
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Generations in progress at `at` stop there.
    pub fn set_deadline(&self, at: Option<Instant>) {
        if let Ok(mut d) = self.deadline.lock() {
            *d = at;
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline.lock().ok().and_then(|d| *d)
    }

    /// Checks the addresses and asks every endpoint what it serves (once
    /// per run). Endpoints that do not answer are skipped with a warning
    /// (`warn`) while one answers; every endpoint must serve the same model.
    pub fn probe(&self, warn: &dyn Fn(&str)) -> Result<ServerInfo> {
        let warn = |w: &str| warn(&self.redactor.redact(w));
        self.probed
            .get_or_init(|| {
                self.probe_all(&warn)
                    .map(|mut info| {
                        // The identity goes into cache keys and reports.
                        self.redactor.scrub(&mut info.identity);
                        info
                    })
                    .map_err(|e| self.redactor.redact(&e.to_string()))
            })
            .clone()
            .map_err(Error::Model)
    }

    fn probe_all(&self, warn: &dyn Fn(&str)) -> Result<ServerInfo> {
        for e in &self.endpoints {
            if let Some(w) = spec::check_reach(&e.ep).map_err(|err| self.named(err))? {
                warn(&w);
            }
        }
        let mut found: Vec<(usize, ServerInfo)> = Vec::new();
        let mut failures = Vec::new();
        for (i, e) in self.endpoints.iter().enumerate() {
            match self.probe_one(&e.ep) {
                Ok(info) => {
                    if let Ok(mut slot) = e.info.lock() {
                        *slot = Some(info.clone());
                    }
                    found.push((i, info));
                }
                Err(f) => {
                    e.mark_down();
                    failures.push(f.message);
                }
            }
        }
        let Some((_, first)) = found.first().cloned() else {
            return Err(Error::Model(format!(
                "model `{}`: no endpoint answered: {}",
                self.name,
                failures.join("; ")
            )));
        };
        for f in &failures {
            warn(&format!(
                "model `{}`: endpoint skipped, the others of its pool take its work: {f}",
                self.name
            ));
        }
        for (i, info) in &found[1..] {
            if info.identity != first.identity {
                return Err(Error::Model(format!(
                    "model `{}`: the endpoints of one pool must serve the same model, but {} serves \
                     {} and {} serves {}; give each model its own entry",
                    self.name,
                    self.endpoints[found[0].0].ep.base,
                    first.identity,
                    self.endpoints[*i].ep.base,
                    info.identity
                )));
            }
        }
        Ok(first)
    }

    fn named(&self, e: Error) -> Error {
        Error::Model(format!("model `{}`: {e}", self.name))
    }

    /// What one endpoint serves: llama-server answers `/props`; any
    /// OpenAI-compatible server lists its models at `/v1/models`.
    fn probe_one(&self, ep: &Endpoint) -> std::result::Result<ServerInfo, Fault> {
        let props = self
            .client
            .get_json(&format!("{}/props", ep.root), PROBE_TIMEOUT);
        let models = self
            .client
            .get_json(&format!("{}/models", ep.base), PROBE_TIMEOUT);
        let models = match (models, &props) {
            (Ok(m), _) => m,
            // A llama-server that lists no models still serves its one.
            (Err(_), Ok(_)) => json!({"data": []}),
            (Err(f), Err(_)) => return Err(f),
        };
        let listed: Vec<&Value> = models
            .get("data")
            .and_then(Value::as_array)
            .map(|d| d.iter().collect())
            .unwrap_or_default();
        let ids: Vec<&str> = listed
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str))
            .collect();
        let props = props
            .ok()
            .filter(|p| p.get("default_generation_settings").is_some());
        let chosen = match (&self.spec.remote_model, ids.as_slice()) {
            (Some(m), _) if props.is_some() || ids.contains(&m.as_str()) => m.clone(),
            (Some(m), _) => {
                return Err(Fault {
                    kind: FaultKind::Fatal,
                    message: format!(
                    "{}: serves no model {m:?} (it serves: {}); set remote_model to one of them",
                    ep.base,
                    ids.join(", ")
                ),
                })
            }
            (None, [one]) => one.to_string(),
            (None, []) if props.is_some() => "default".to_string(),
            (None, []) => {
                return Err(Fault {
                    kind: FaultKind::Fatal,
                    message: format!("{}: lists no model at /models", ep.base),
                })
            }
            (None, many) => {
                return Err(Fault {
                    kind: FaultKind::Fatal,
                    message: format!(
                        "{}: serves several models ({}); set remote_model to the one to use",
                        ep.base,
                        many.join(", ")
                    ),
                })
            }
        };
        let listed_entry = listed
            .iter()
            .find(|m| m.get("id").and_then(Value::as_str) == Some(chosen.as_str()))
            .copied();
        let meta = listed_entry.and_then(|m| m.get("meta"));
        let n = |v: Option<&Value>| v.and_then(Value::as_u64);
        let identity = match &props {
            Some(p) => {
                let path = p.get("model_path").and_then(Value::as_str).unwrap_or("");
                let file = std::path::Path::new(path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!(
                    "llama-server:{file}:size={}:params={}:vocab={}",
                    n(meta.and_then(|m| m.get("size"))).unwrap_or(0),
                    n(meta.and_then(|m| m.get("n_params"))).unwrap_or(0),
                    n(meta.and_then(|m| m.get("n_vocab"))).unwrap_or(0),
                )
            }
            None => format!(
                "openai:{chosen}:owned_by={}:max_model_len={}",
                listed_entry
                    .and_then(|m| m.get("owned_by"))
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                n(listed_entry.and_then(|m| m.get("max_model_len"))).unwrap_or(0)
            ),
        };
        let n_ctx = props
            .as_ref()
            .and_then(|p| {
                n(p.get("default_generation_settings")
                    .and_then(|d| d.get("n_ctx")))
                .or_else(|| n(p.get("n_ctx")))
            })
            .or_else(|| n(listed_entry.and_then(|m| m.get("max_model_len"))))
            .map(|c| c.min(u64::from(u32::MAX)) as u32);
        Ok(ServerInfo {
            kind: if props.is_some() {
                ServerKind::LlamaServer
            } else {
                ServerKind::OpenAi
            },
            model: chosen,
            identity,
            n_ctx,
        })
    }

    /// The endpoint to send the next request to: not down (unless all
    /// are), not `avoid` when another is possible, fewest in flight.
    fn pick(&self, avoid: &BTreeSet<usize>) -> usize {
        let candidates: Vec<usize> = (0..self.endpoints.len())
            .filter(|i| !avoid.contains(i))
            .collect();
        let pool = if candidates.is_empty() {
            (0..self.endpoints.len()).collect()
        } else {
            candidates
        };
        let up: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&i| !self.endpoints[i].is_down())
            .collect();
        let pool = if up.is_empty() { pool } else { up };
        pool.into_iter()
            .min_by_key(|&i| (self.endpoints[i].outstanding.load(Ordering::SeqCst), i))
            .unwrap_or(0)
    }

    /// One exchange with one endpoint.
    fn attempt(
        &self,
        ep: &Endpoint,
        info: &ServerInfo,
        request: &Request,
        label: &str,
        say: &(dyn Fn(&str) + Sync),
        counted: &mut Option<usize>,
    ) -> std::result::Result<Generation, Fault> {
        let llama_server = info.kind == ServerKind::LlamaServer;
        let who = at(&self.name, ep);
        // Count the prompt first where the server can (llama-server), so an
        // oversized chunk is refused here and a truncated prompt is caught.
        // Once per request: the members of a pool serve the same model, so
        // a retry elsewhere needs no second count.
        if counted.is_none() && llama_server {
            self.mark_contacted(ep);
            *counted = self
                .count(
                    ep,
                    &format!("{}\n{}", request.prompt.system, request.prompt.user),
                )
                .ok();
        }
        let counted = *counted;
        if let (Some(c), Some(n_ctx)) = (counted, info.n_ctx) {
            if c + request.sampling.max_tokens > n_ctx as usize {
                return Err(Fault {
                    kind: FaultKind::Fatal,
                    message: format!(
                        "{}: prompt too long: {c} prompt tokens + {} output tokens exceed the \
                         server's context of {n_ctx} tokens per request; lower review.chunk_tokens \
                         or max_tokens, or give the server more context (-c / --parallel)",
                        ep.base, request.sampling.max_tokens
                    ),
                });
            }
        }
        let body = wire::chat_body(&info.model, request, llama_server);
        self.mark_contacted(ep);
        let started = Instant::now();
        let mut last_say = Instant::now();
        let mut on_delta = |n: usize| {
            if last_say.elapsed() >= Duration::from_secs(10) {
                last_say = Instant::now();
                let secs = started.elapsed().as_secs_f64().max(0.001);
                say(&format!(
                    "{label} on {who}: {n} tokens, {:.1} tokens/s",
                    n as f64 / secs
                ));
            }
        };
        let deadline = self.deadline();
        let stop =
            || crate::interrupt::is_triggered() || deadline.is_some_and(|d| Instant::now() >= d);
        let s = self.client.stream_chat(
            &format!("{}/chat/completions", ep.base),
            &body,
            &mut on_delta,
            &stop,
        )?;
        if s.stopped {
            return Ok(stopped(if crate::interrupt::is_triggered() {
                StopReason::Interrupted
            } else {
                StopReason::Deadline
            }));
        }
        // A server that cut the prompt to fit its context answered
        // something else than what was asked: never silent.
        let sent = counted.unwrap_or(0);
        let estimate = crate::plan::estimate_tokens(&request.prompt.user);
        if let Some(p) = s.prompt_tokens {
            if (sent > 0 && p < sent) || (sent == 0 && p < estimate / 2) {
                return Err(Fault {
                    kind: FaultKind::Fatal,
                    message: format!(
                        "{}: the server truncated the prompt (it read {p} prompt tokens of about {}); \
                         raise its context (llama-server -c, Ollama num_ctx, vLLM --max-model-len) \
                         or lower review.chunk_tokens",
                        ep.base,
                        if sent > 0 { sent } else { estimate }
                    ),
                });
            }
        }
        if let Some(schema) = &request.schema {
            let parsed = serde_json::from_str::<Value>(s.content.trim());
            let verdict = match &parsed {
                Ok(v) => crate::engine::schema::validate(schema, v),
                Err(e) => Err(format!("not JSON ({e})")),
            };
            // An answer cut by max_tokens is expected to be incomplete; the
            // findings stage keeps what it completed.
            if let (Err(why), false) = (verdict, s.finish_reason.as_deref() == Some("length")) {
                return Err(Fault {
                    kind: FaultKind::Transient { after: None },
                    message: format!("{}: the answer breaks the findings schema: {why}", ep.base),
                });
            }
        }
        let generated = s.completion_tokens.unwrap_or(s.deltas);
        let secs = (s.total_ms as f64 / 1000.0).max(0.001);
        say(&format!(
            "{label} on {who}: done, {generated} tokens in {:.1} s ({:.1} tokens/s)",
            secs,
            generated as f64 / secs
        ));
        Ok(Generation {
            text: s.content,
            prompt_tokens: s.prompt_tokens.unwrap_or(sent),
            shared_tokens: 0,
            generated_tokens: generated,
            prefill_ms: s
                .server_prompt_ms
                .map_or(s.first_token_ms, |m| m.round() as u64),
            generate_ms: s
                .server_predicted_ms
                .map_or(s.total_ms.saturating_sub(s.first_token_ms), |m| {
                    m.round() as u64
                }),
            stop: if s.finish_reason.as_deref() == Some("length") {
                StopReason::MaxTokens
            } else {
                StopReason::Eog
            },
            thinking: s.reasoning,
            thinking_tokens: 0,
            endpoint: ep.base.clone(),
            threads: 0,
            together: 0,
        })
    }

    fn mark_contacted(&self, ep: &Endpoint) {
        if let Ok(mut c) = self.contacted.lock() {
            c.insert(ep.base.clone());
        }
    }

    /// Tokens of `text` by llama-server's own tokenizer.
    fn count(&self, ep: &Endpoint, text: &str) -> std::result::Result<usize, Fault> {
        let v = self.client.post_json(
            &format!("{}/tokenize", ep.root),
            &json!({"content": text, "add_special": false}),
            PROBE_TIMEOUT * 3,
        )?;
        v.get("tokens")
            .and_then(Value::as_array)
            .map(Vec::len)
            .ok_or_else(|| Fault {
                kind: FaultKind::Endpoint,
                message: format!("{}: /tokenize gave no tokens", ep.root),
            })
    }

    /// Tokens of `text` on the first endpoint that can count them
    /// (`None`: no endpoint can; the caller estimates).
    pub fn count_tokens(&self, text: &str) -> Option<usize> {
        let info = self.probed.get()?.as_ref().ok()?;
        if info.kind != ServerKind::LlamaServer {
            return None;
        }
        self.endpoints
            .iter()
            .filter(|e| !e.is_down())
            .find_map(|e| self.count(&e.ep, text).ok())
    }
}

fn sleep_unless_stopped(wait: Duration, deadline: Option<Instant>) {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if crate::interrupt::is_triggered() || deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
}

fn stopped(stop: StopReason) -> Generation {
    Generation {
        text: String::new(),
        prompt_tokens: 0,
        shared_tokens: 0,
        generated_tokens: 0,
        prefill_ms: 0,
        generate_ms: 0,
        stop,
        thinking: String::new(),
        thinking_tokens: 0,
        endpoint: String::new(),
        threads: 0,
        together: 0,
    }
}

impl crate::engine::backend::Concurrent for RemoteModel {
    /// Runs one request on the pool (retries and failover included);
    /// `say` gets progress lines. Every configured key is blanked out of
    /// the answer, its thinking, the progress lines and the error, before
    /// any of it is cached, reported or printed.
    fn generate_one(
        &self,
        request: &Request,
        label: &str,
        say: &(dyn Fn(&str) + Sync),
    ) -> Result<Generation> {
        let say = |m: &str| say(&self.redactor.redact(m));
        match self.generate_unredacted(request, label, &say) {
            Ok(mut g) => {
                self.redactor.scrub(&mut g.text);
                self.redactor.scrub(&mut g.thinking);
                Ok(g)
            }
            Err(e) => Err(self.redacted(e)),
        }
    }

    /// Requests this entry may have in flight.
    fn max_concurrency(&self) -> usize {
        self.spec.max_concurrency.max(1)
    }
}

impl RemoteModel {
    /// [`Concurrent::generate_one`](crate::engine::backend::Concurrent::generate_one)
    /// before redaction.
    fn generate_unredacted(
        &self,
        request: &Request,
        label: &str,
        say: &(dyn Fn(&str) + Sync),
    ) -> Result<Generation> {
        let info = self.probe(&|w| say(&format!("warning: {w}")))?;
        let total_attempts = ATTEMPTS_PER_ENDPOINT * self.endpoints.len();
        let mut counted: Option<usize> = None;
        let mut backoff = FIRST_BACKOFF;
        let mut failed_on: BTreeSet<usize> = BTreeSet::new();
        let mut errors: Vec<String> = Vec::new();
        let mut per_endpoint = vec![0usize; self.endpoints.len()];
        for attempt in 0..total_attempts {
            if crate::interrupt::is_triggered() {
                return Ok(stopped(StopReason::Interrupted));
            }
            if self.deadline().is_some_and(|d| Instant::now() >= d) {
                return Ok(stopped(StopReason::Deadline));
            }
            let avoid: BTreeSet<usize> = (0..self.endpoints.len())
                .filter(|&i| per_endpoint[i] >= ATTEMPTS_PER_ENDPOINT || failed_on.contains(&i))
                .collect();
            let i = self.pick(&avoid);
            if per_endpoint[i] >= ATTEMPTS_PER_ENDPOINT {
                break;
            }
            per_endpoint[i] += 1;
            let e = &self.endpoints[i];
            let info = e
                .info
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_else(|| info.clone());
            e.outstanding.fetch_add(1, Ordering::SeqCst);
            let result = self.attempt(&e.ep, &info, request, label, say, &mut counted);
            e.outstanding.fetch_sub(1, Ordering::SeqCst);
            let fault = match result {
                Ok(g) => return Ok(g),
                Err(f) => f,
            };
            errors.push(fault.message.clone());
            let wait = match fault.kind {
                FaultKind::Fatal => break,
                FaultKind::Endpoint => {
                    failed_on.insert(i);
                    e.mark_down();
                    if failed_on.len() == self.endpoints.len() {
                        break;
                    }
                    Duration::ZERO
                }
                FaultKind::Transient { after } => {
                    let wait = match after {
                        Some(a) if a > MAX_RETRY_AFTER => {
                            // Too long to wait here: another endpoint, or give up.
                            failed_on.insert(i);
                            Duration::ZERO
                        }
                        Some(a) => a,
                        None => backoff,
                    };
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
                FaultKind::Unreachable => {
                    e.mark_down();
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            };
            if attempt + 1 < total_attempts {
                say(&format!(
                    "{label}: {}; retrying{}",
                    fault.message,
                    if self.endpoints.len() > 1 {
                        " (pool)"
                    } else {
                        ""
                    }
                ));
                sleep_unless_stopped(wait, self.deadline());
            }
        }
        let mut uniq: Vec<String> = Vec::new();
        for e in errors {
            if !uniq.contains(&e) {
                uniq.push(e);
            }
        }
        Err(Error::Model(format!(
            "model `{}` on {}: {}",
            self.name,
            self.endpoint_urls().join(", "),
            uniq.join("; ")
        )))
    }
}
