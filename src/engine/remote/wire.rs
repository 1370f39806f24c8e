//! The OpenAI-compatible wire protocol, as llama-server, vLLM and Ollama
//! speak it: JSON requests, streamed (SSE) chat completions, and what a
//! failure means for the next attempt. Everything a server sends is
//! untrusted: bodies are size-bounded, parsed defensively, and no error
//! message carries the API key.

use super::redact::Redactor;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

/// Largest response body read from a server (a generation of a few
/// thousand tokens streams well under 1 MiB; anything far beyond is a
/// misbehaving server, not an answer).
pub const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;
/// Longest single SSE line.
const MAX_LINE_BYTES: usize = 1024 * 1024;

/// What a failed exchange means for the next attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Try again, here or elsewhere (5xx, 429, an error mid-answer, an
    /// answer that breaks its schema); `after` is the server's `Retry-After`.
    Transient { after: Option<Duration> },
    /// The connection was refused, broke off or timed out: try again after
    /// a pause, on another endpoint of the pool first (this one is skipped
    /// for a while).
    Unreachable,
    /// This server misbehaves (oversized or non-JSON bodies): try another
    /// endpoint of the pool, not this one again.
    Endpoint,
    /// Retrying cannot help (the request itself is refused: 4xx such as an
    /// oversized prompt or a bad key).
    Fatal,
}

/// A failed exchange: what kind, and what to tell the user (never the key).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
}

impl Fault {
    fn transient(message: impl Into<String>) -> Fault {
        Fault {
            kind: FaultKind::Transient { after: None },
            message: message.into(),
        }
    }

    fn unreachable(message: impl Into<String>) -> Fault {
        Fault {
            kind: FaultKind::Unreachable,
            message: message.into(),
        }
    }
}

/// An HTTP client for one model's endpoints: one connection pool, the key
/// (from the environment), and per-request time limits.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    key: Option<String>,
    /// The key's forms, blanked out of every message built from a reply.
    redactor: Redactor,
    timeout: Duration,
    /// A `ca_file` is trusted beside the system roots.
    private_ca: bool,
}

impl Client {
    /// A client whose requests take at most `timeout` each; https trusts the
    /// system roots plus the certificates in `ca_pem` (PEM text).
    pub fn new(
        key: Option<String>,
        timeout: Duration,
        ca_pem: Option<&[u8]>,
    ) -> Result<Client, String> {
        let mut roots: Vec<ureq::tls::Certificate<'static>> = Vec::new();
        let native = rustls_native_certs::load_native_certs();
        for c in native.certs {
            roots.push(ureq::tls::Certificate::from_der(c.as_ref()).to_owned());
        }
        if let Some(pem) = ca_pem {
            let before = roots.len();
            for item in ureq::tls::parse_pem(pem) {
                if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
                    roots.push(c);
                }
            }
            if roots.len() == before {
                return Err("the ca_file holds no PEM certificate".into());
            }
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .build();
        let config = ureq::Agent::config_builder()
            // Statuses are read, not raised: a 429's Retry-After and an
            // error body's message matter.
            .http_status_as_error(false)
            // Endpoints are reached directly: a proxy from the environment
            // would send the code somewhere the user did not name.
            .proxy(None)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(timeout))
            .tls_config(tls)
            .user_agent(concat!("git-deep-review/", env!("CARGO_PKG_VERSION")))
            .build();
        let key = key.filter(|k| !k.is_empty());
        Ok(Client {
            agent: ureq::Agent::new_with_config(config),
            redactor: Redactor::new(key.as_deref()),
            key,
            timeout,
            private_ca: ca_pem.is_some(),
        })
    }

    /// `text` with the key blanked out (a server may echo what it got).
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.key {
            Some(k) => req.header("Authorization", format!("Bearer {k}")),
            None => req,
        }
    }

    /// `GET url` → JSON, within `limit`.
    pub fn get_json(&self, url: &str, limit: Duration) -> Result<Value, Fault> {
        let req = self
            .auth(self.agent.get(url))
            .config()
            .timeout_global(Some(limit.min(self.timeout)))
            .build();
        let resp = req.call().map_err(|e| self.transport(url, e))?;
        self.json_body(url, resp)
    }

    /// `POST url` with a JSON body → JSON.
    pub fn post_json(&self, url: &str, body: &Value, limit: Duration) -> Result<Value, Fault> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let req = self
            .auth(self.agent.post(url))
            .header("Content-Type", "application/json")
            .config()
            .timeout_global(Some(limit.min(self.timeout)))
            .build();
        let resp = req.send(&bytes[..]).map_err(|e| self.transport(url, e))?;
        self.json_body(url, resp)
    }

    fn json_body(
        &self,
        url: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<Value, Fault> {
        let status = resp.status().as_u16();
        let retry_after = retry_after(&resp);
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| self.transport(url, e))?;
        if !(200..300).contains(&status) {
            return Err(self.status_fault(url, status, retry_after, &text));
        }
        serde_json::from_str(&text).map_err(|e| Fault {
            kind: FaultKind::Endpoint,
            message: format!("{url}: the response is not JSON ({e})"),
        })
    }

    /// `POST url` with a streamed chat completion; `on_delta` sees the
    /// token count so far after every content delta. Stops reading (and
    /// returns what came) when `stop()` says so.
    pub fn stream_chat(
        &self,
        url: &str,
        body: &Value,
        on_delta: &mut dyn FnMut(usize),
        stop: &dyn Fn() -> bool,
    ) -> Result<Streamed, Fault> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let started = Instant::now();
        let req = self
            .auth(self.agent.post(url))
            .header("Content-Type", "application/json")
            .header("Accept", "text/event-stream")
            .config()
            .timeout_global(Some(self.timeout))
            .build();
        let mut resp = req.send(&bytes[..]).map_err(|e| self.transport(url, e))?;
        let status = resp.status().as_u16();
        let after = retry_after(&resp);
        let is_sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        let reader = resp.body_mut().with_config().limit(MAX_BODY_BYTES).reader();
        if !(200..300).contains(&status) {
            let mut text = String::new();
            let _ = reader.take(64 * 1024).read_to_string(&mut text);
            return Err(self.status_fault(url, status, after, &text));
        }
        self.read_completion(url, reader, is_sse, started, on_delta, stop)
    }

    /// Reads a 200 response's body: an SSE stream of chat-completion chunks
    /// (`is_sse`), or one JSON completion from a server that ignored
    /// `"stream"`. Every byte of it is the server's, so untrusted.
    fn read_completion(
        &self,
        url: &str,
        reader: impl Read,
        is_sse: bool,
        started: Instant,
        on_delta: &mut dyn FnMut(usize),
        stop: &dyn Fn() -> bool,
    ) -> Result<Streamed, Fault> {
        let mut out = Streamed::default();
        let mut reader = BufReader::new(reader);
        if !is_sse {
            // A server that ignored "stream": one JSON completion.
            let mut text = String::new();
            reader
                .read_to_string(&mut text)
                .map_err(|e| self.read_error(url, e))?;
            let v: Value = serde_json::from_str(&text).map_err(|e| Fault {
                kind: FaultKind::Endpoint,
                message: format!("{url}: the completion is not JSON ({e})"),
            })?;
            out.apply_complete(&v);
            out.first_token_ms = ms(started.elapsed());
            out.total_ms = out.first_token_ms;
            return out.finish(url);
        }
        let mut line = Vec::new();
        loop {
            if stop() {
                out.stopped = true;
                break;
            }
            line.clear();
            let n = (&mut reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|e| self.read_error(url, e))?;
            if n == 0 {
                return Err(Fault::unreachable(format!(
                    "{url}: the stream ended before the answer was complete ({} tokens received)",
                    out.deltas
                )));
            }
            if line.len() > MAX_LINE_BYTES {
                return Err(Fault {
                    kind: FaultKind::Endpoint,
                    message: format!("{url}: a stream line longer than {MAX_LINE_BYTES} bytes"),
                });
            }
            let text = String::from_utf8_lossy(&line);
            let Some(data) = text.trim_end().strip_prefix("data:") else {
                continue; // comments, `event:` lines, blank separators
            };
            let data = data.trim();
            if data == "[DONE]" {
                out.done = true;
                break;
            }
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                return Err(Fault {
                    kind: FaultKind::Endpoint,
                    message: format!("{url}: a stream event is not JSON"),
                });
            };
            if let Some(err) = v.get("error") {
                return Err(Fault::transient(format!(
                    "{url}: the server failed mid-answer: {}",
                    self.redact(&error_text(err))
                )));
            }
            let before = out.deltas;
            out.apply_chunk(&v);
            if out.deltas > before {
                if out.deltas == 1 || out.first_token_ms == 0 {
                    out.first_token_ms = ms(started.elapsed());
                }
                on_delta(out.deltas);
            }
        }
        out.total_ms = ms(started.elapsed());
        if out.stopped {
            return Ok(out);
        }
        out.finish(url)
    }

    /// [`Client::read_completion`] on a body held in memory, for the fuzz
    /// tests (`tests/fuzz`): the response parser without a server.
    #[doc(hidden)]
    pub fn parse_completion_body(&self, body: &[u8], is_sse: bool) -> Result<Streamed, String> {
        self.read_completion("test", body, is_sse, Instant::now(), &mut |_| {}, &|| false)
            .map_err(|f| f.message)
    }

    fn transport(&self, url: &str, e: ureq::Error) -> Fault {
        if let Some(tls) = tls_error(&e) {
            return tls_fault(url, tls, self.private_ca);
        }
        match e {
            ureq::Error::BodyExceedsLimit(n) => Fault {
                kind: FaultKind::Endpoint,
                message: format!("{url}: the response is larger than {n} bytes"),
            },
            ureq::Error::Timeout(_) => Fault::unreachable(format!(
                "{url}: no answer within {} s (timeout)",
                self.timeout.as_secs()
            )),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Fault::unreachable(format!(
                    "{url}: connection refused (is the server running?)"
                ))
            }
            other => Fault::unreachable(format!("{url}: {}", self.redact(&other.to_string()))),
        }
    }

    /// A failure while reading a body: ureq's own errors (the size limit,
    /// the timeout) come wrapped in the io::Error and are told apart as
    /// when sending; anything else is the connection breaking off.
    fn read_error(&self, url: &str, e: std::io::Error) -> Fault {
        if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
            if let Some(Ok(inner)) = e.into_inner().map(|i| i.downcast::<ureq::Error>()) {
                return self.transport(url, *inner);
            }
            return Fault::unreachable(format!("{url}: the stream broke off"));
        }
        if e.kind() == std::io::ErrorKind::TimedOut {
            return self.transport(url, ureq::Error::Timeout(ureq::Timeout::Global));
        }
        Fault::unreachable(format!(
            "{url}: the stream broke off: {}",
            self.redact(&e.to_string())
        ))
    }

    fn status_fault(&self, url: &str, status: u16, after: Option<Duration>, body: &str) -> Fault {
        let detail = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").map(error_text))
            .unwrap_or_else(|| body.chars().take(300).collect());
        let detail = self.redact(detail.trim());
        let message = if detail.is_empty() {
            format!("{url}: HTTP {status}")
        } else {
            format!("{url}: HTTP {status}: {detail}")
        };
        let kind = match status {
            429 | 408 | 500..=599 => FaultKind::Transient { after },
            _ => FaultKind::Fatal,
        };
        let message = if status == 401 || status == 403 {
            format!("{message} (check the API key in the variable api_key_env names)")
        } else {
            message
        };
        Fault { kind, message }
    }
}

/// The TLS failure behind a transport error, if that is what it is.
fn tls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(t) => Some(t),
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// A refused TLS handshake: the server's certificate cannot be trusted, so
/// nothing (no request, no key, no code) was sent. Retrying the same
/// server cannot help; another member of a pool may have a good
/// certificate. The message says what to change (`private_ca`: a
/// `ca_file` was trusted too).
fn tls_fault(url: &str, e: &rustls::Error, private_ca: bool) -> Fault {
    use rustls::CertificateError as C;
    let why = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer if private_ca => "the server's certificate is signed by a \
                 certificate authority that is neither in ca_file nor among this machine's roots; \
                 set ca_file to the PEM certificate of the CA that signed it"
                .to_string(),
            C::UnknownIssuer => "the server's certificate is signed by a certificate authority \
                 this machine does not trust; if the server uses a private CA, set ca_file in its \
                 model entry to that CA's PEM certificate"
                .to_string(),
            C::ExpiredContext { time, not_after } => format!(
                "the server's certificate expired on {} (it is {} here); renew the certificate \
                 on the server (or fix this machine's clock if it is wrong)",
                day(not_after.as_secs()),
                day(time.as_secs())
            ),
            C::Expired => "the server's certificate has expired; renew the certificate on the \
                 server (or fix this machine's clock if it is wrong)"
                .to_string(),
            C::NotValidYet | C::NotValidYetContext { .. } => format!(
                "the server's certificate is not valid yet ({e}); check the clocks of this \
                 machine and the server"
            ),
            C::NotValidForNameContext {
                expected,
                presented,
            } => format!(
                "the server's certificate is not valid for the host name {:?} (it names {}); use \
                 a host name the certificate names in the endpoint URL, or reissue the \
                 certificate with this name",
                expected.to_str(),
                if presented.is_empty() {
                    "no host".to_string()
                } else {
                    // webpki lists them as `DnsName("host")`.
                    let bare = |p: &String| {
                        p.split_once('(')
                            .and_then(|(_, r)| r.strip_suffix(')'))
                            .map_or(p.clone(), |r| r.trim_matches('"').to_string())
                    };
                    presented.iter().map(bare).collect::<Vec<_>>().join(", ")
                }
            ),
            C::NotValidForName => "the server's certificate is not valid for the endpoint's host \
                 name; use a host name the certificate names in the endpoint URL, or reissue the \
                 certificate with this name"
                .to_string(),
            _ => format!("the server's certificate was refused ({e})"),
        },
        other => format!("the TLS handshake failed ({other})"),
    };
    Fault {
        kind: FaultKind::Endpoint,
        message: format!("{url}: TLS refused, nothing was sent: {why}"),
    }
}

/// A Unix time as a UTC day (`2020-01-02`).
fn day(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("{secs} s after 1970"))
}

/// An `error` value as text (`{"message": …}` or a string).
fn error_text(err: &Value) -> String {
    err.get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| err.as_str().map(str::to_string))
        .unwrap_or_else(|| err.to_string())
        .chars()
        .take(300)
        .collect()
}

fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// What a streamed (or plain) chat completion produced.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Streamed {
    pub content: String,
    /// `reasoning_content` (a reasoning model's thinking, as the server parsed it).
    pub reasoning: String,
    /// Content deltas received (≈ tokens when the server reports no usage).
    pub deltas: usize,
    pub finish_reason: Option<String>,
    /// `usage.prompt_tokens` / `completion_tokens`, when reported.
    pub prompt_tokens: Option<usize>,
    pub completion_tokens: Option<usize>,
    /// llama-server's `timings.prompt_ms` / `predicted_ms`.
    pub server_prompt_ms: Option<f64>,
    pub server_predicted_ms: Option<f64>,
    /// Client-side: until the first content, and in all.
    pub first_token_ms: u64,
    pub total_ms: u64,
    /// `[DONE]` arrived.
    pub done: bool,
    /// The caller stopped reading (deadline or Ctrl-C).
    pub stopped: bool,
}

impl Streamed {
    /// A streamed chunk: its `delta` adds to the answer.
    fn apply_chunk(&mut self, v: &Value) {
        self.apply_choice(v, "delta");
        self.apply_usage(v);
    }

    /// A whole (non-streamed) completion: its `message` is the answer.
    fn apply_complete(&mut self, v: &Value) {
        self.apply_choice(v, "message");
        self.deltas = self.deltas.max(usize::from(!self.content.is_empty()));
        self.apply_usage(v);
        self.done = true;
    }

    /// The first choice's text (`content`), thinking (`reasoning_content`
    /// or `reasoning`) and finish reason, from its `part` object.
    fn apply_choice(&mut self, v: &Value, part: &str) {
        let Some(choice) = v.get("choices").and_then(|c| c.get(0)) else {
            return;
        };
        let body = choice.get(part).unwrap_or(&Value::Null);
        if let Some(t) = body.get("content").and_then(Value::as_str) {
            if !t.is_empty() {
                self.content.push_str(t);
                self.deltas += 1;
            }
        }
        if let Some(t) = body
            .get("reasoning_content")
            .or_else(|| body.get("reasoning"))
            .and_then(Value::as_str)
        {
            self.reasoning.push_str(t);
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(f.to_string());
        }
    }

    fn apply_usage(&mut self, v: &Value) {
        let num = |v: Option<&Value>| v.and_then(Value::as_u64).map(|n| n as usize);
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = num(u.get("prompt_tokens")).or(self.prompt_tokens);
            self.completion_tokens = num(u.get("completion_tokens")).or(self.completion_tokens);
        }
        if let Some(t) = v.get("timings").filter(|t| t.is_object()) {
            self.server_prompt_ms = t
                .get("prompt_ms")
                .and_then(Value::as_f64)
                .or(self.server_prompt_ms);
            self.server_predicted_ms = t
                .get("predicted_ms")
                .and_then(Value::as_f64)
                .or(self.server_predicted_ms);
            // llama-server also counts there; usage wins when both exist.
            if self.prompt_tokens.is_none() {
                self.prompt_tokens = num(t.get("prompt_n"));
            }
            if self.completion_tokens.is_none() {
                self.completion_tokens = num(t.get("predicted_n"));
            }
        }
    }

    fn finish(self, url: &str) -> Result<Streamed, Fault> {
        if self.finish_reason.is_none() && !self.done {
            return Err(Fault::transient(format!(
                "{url}: the answer ended without a finish reason"
            )));
        }
        Ok(self)
    }
}

/// The chat-completion body for one request. `grammar` goes in
/// llama-server's own GBNF field (exactly the in-process constraint);
/// otherwise `schema` goes out as `response_format` `json_schema`.
pub fn chat_body(
    model: &str,
    request: &crate::engine::backend::Request,
    llama_server: bool,
) -> Value {
    let s = &request.sampling;
    let mut body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": request.prompt.system},
            {"role": "user", "content": request.prompt.user},
        ],
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": s.max_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k,
        "seed": s.seed,
    });
    if s.think == crate::config::sampling::ThinkMode::Off {
        // Qwen3-style templates (llama-server, vLLM) read this kwarg.
        body["chat_template_kwargs"] = json!({"enable_thinking": false});
    }
    if llama_server {
        // Off: with it, an answer depends on what the slot held before (a
        // reused prefix is not recomputed bit for bit), so the same request
        // would not give the same review twice.
        body["cache_prompt"] = json!(false);
        if !request.grammar.is_empty() {
            body["grammar"] = json!(request.grammar);
        }
    } else if let Some(schema) = &request.schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": "findings", "strict": true, "schema": schema.as_ref()},
        });
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_chunks_accumulate_content_usage_and_timings() {
        let mut s = Streamed::default();
        s.apply_chunk(&json!({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}));
        s.apply_chunk(&json!({"choices":[{"index":0,"delta":{"content":"{\"find"}}]}));
        s.apply_chunk(&json!({"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}));
        s.apply_chunk(&json!({"choices":[{"index":0,"delta":{"content":"ings\":[]}"},"finish_reason":"stop"}]}));
        s.apply_chunk(
            &json!({"choices":[],"usage":{"prompt_tokens":120,"completion_tokens":7},
            "timings":{"prompt_n":120,"prompt_ms":35.5,"predicted_n":7,"predicted_ms":80.0}}),
        );
        assert_eq!(s.content, "{\"findings\":[]}");
        assert_eq!((s.deltas, s.reasoning.as_str()), (2, "hmm"));
        assert_eq!(s.finish_reason.as_deref(), Some("stop"));
        assert_eq!((s.prompt_tokens, s.completion_tokens), (Some(120), Some(7)));
        assert_eq!(
            (s.server_prompt_ms, s.server_predicted_ms),
            (Some(35.5), Some(80.0))
        );
        assert!(
            Streamed::default().finish("u").is_err(),
            "no finish reason = broken stream"
        );
    }

    #[test]
    fn the_body_uses_gbnf_on_llama_server_and_a_schema_elsewhere() {
        let req = crate::engine::backend::Request {
            prompt: crate::engine::backend::Prompt {
                system: "sys".into(),
                user: "diff".into(),
            },
            sampling: crate::config::sampling::Sampling::default(),
            grammar: "root ::= \"x\"".into(),
            schema: Some(std::sync::Arc::new(json!({"type": "object"}))),
        };
        let b = chat_body("m", &req, true);
        assert_eq!(b["grammar"], json!("root ::= \"x\""));
        assert!(b.get("response_format").is_none());
        assert_eq!(b["cache_prompt"], json!(false), "deterministic answers");
        assert_eq!(
            (b["seed"].clone(), b["stream"].clone()),
            (json!(42), json!(true))
        );
        let b = chat_body("m", &req, false);
        assert!(b.get("grammar").is_none());
        assert_eq!(
            b["response_format"]["json_schema"]["schema"],
            json!({"type": "object"})
        );
        assert_eq!(b["messages"][1]["content"], json!("diff"));
    }

    #[test]
    fn statuses_map_to_what_a_retry_can_do_and_never_echo_the_key() {
        let c = Client::new(Some("sk-secret-123".into()), Duration::from_secs(5), None).unwrap();
        let f = c.status_fault("u", 429, Some(Duration::from_secs(2)), "{}");
        assert_eq!(
            f.kind,
            FaultKind::Transient {
                after: Some(Duration::from_secs(2))
            }
        );
        assert!(matches!(
            c.status_fault("u", 503, None, "").kind,
            FaultKind::Transient { .. }
        ));
        let f = c.status_fault(
            "u",
            401,
            None,
            r#"{"error":{"message":"bad header Bearer sk-secret-123"}}"#,
        );
        assert_eq!(f.kind, FaultKind::Fatal);
        assert!(
            !f.message.contains("sk-secret-123") && f.message.contains("api_key_env"),
            "{}",
            f.message
        );
        let f = c.status_fault(
            "u",
            400,
            None,
            r#"{"error":{"message":"exceeds the context size"}}"#,
        );
        assert_eq!(f.kind, FaultKind::Fatal);
        assert!(f.message.contains("exceeds the context size"));
    }
}
