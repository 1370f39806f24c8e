//! A loopback stand-in for an OpenAI-compatible inference server that
//! produces, on demand, the faults a real server cannot be made to produce:
//! error statuses, rate limiting, slow and broken streams, huge bodies,
//! hanging and closed connections, a hostile 401 that echoes the
//! `Authorization` header it got, and answers that echo the key inside a
//! review. [`FaultServer::start_tls`] serves the same over https with a
//! certificate the test made, and logs every handshake.
//!
//! A hand-written HTTP/1.1 server (request line, headers,
//! `Content-Length` and chunked request bodies, keep-alive), one thread per
//! connection. Streaming replies use `Transfer-Encoding: chunked`, one SSE
//! event per HTTP chunk, each written (and so sent, `TCP_NODELAY` is on) on
//! its own. A write error ends that connection's thread quietly. TLS is
//! rustls (already linked for the client).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Characters of content per streamed delta.
const CHUNK_CHARS: usize = 8;
/// Model id of `GET /v1/models` (and of the completions) unless set.
const DEFAULT_MODEL: &str = "fault-model";
/// Longest request line or header line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Most header bytes accepted per request.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Size of the pieces a `Big` body is written in.
const PIECE: usize = 16 * 1024;
/// How often the acceptor and the waiting replies look at the stop flag.
const POLL: Duration = Duration::from_millis(5);
/// Backstop for a client that stops reading (drop also unblocks writes).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// `created` of every completion (fixed, so bodies are reproducible).
const CREATED: u64 = 1_700_000_000;

/// What the server does with one `POST .../chat/completions`.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with a chat completion whose message content is `content`;
    /// streamed as SSE when the request has `"stream": true`.
    Answer(String),
    /// This status with this body (content-type application/json).
    Status(u16, String),
    /// 429 with `Retry-After: secs` and a JSON error body.
    TooMany { retry_after_secs: u64 },
    /// Like `Answer` but waits `delay` before every content chunk (the
    /// headers go out at once). Non-streaming: waits `delay` per chunk the
    /// content would have had, then answers.
    Slow { content: String, delay: Duration },
    /// Streams the first `chunks` content chunks, then closes the connection
    /// (no final chunk, no `[DONE]`, no chunked terminator). Non-streaming:
    /// announces the full `Content-Length` and closes after half the body.
    DropAfter { content: String, chunks: usize },
    /// 200 with a body of at least `bytes` bytes: SSE deltas of 'x' (then a
    /// proper end) when streaming, otherwise `{"pad":"xxx…"}` of exactly
    /// `bytes` bytes (at least 10, the smallest such object).
    Big { bytes: usize },
    /// Reads the request and never answers, until the server is dropped.
    Hang,
    /// Closes the connection right after reading the request.
    Close,
    /// Like `Answer`, streamed, with the key of the request's
    /// `Authorization: Bearer KEY` pasted into `content` and `thinking`
    /// (sent as `reasoning_content`) wherever they say `{auth}` (the whole
    /// header value), `{key}`, `{key_json}` (JSON with an escaped solidus,
    /// `\/`), `{key_url}` (percent-encoded), `{key_b64}` or `{basic_b64}`
    /// (base64 of `user:KEY`, as HTTP Basic sends it).
    Echo { content: String, thinking: String },
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The request target in origin form (path and any query).
    pub path: String,
    /// Header names lower-cased, values trimmed, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

struct Script {
    replies: Vec<Reply>,
    next: usize,
}

struct Shared {
    script: Mutex<Script>,
    requests: Mutex<Vec<Recorded>>,
    completions: AtomicUsize,
    key: Mutex<Option<String>>,
    model_id: Mutex<String>,
    /// Reported `usage.prompt_tokens` (None: body length / 4).
    prompt_tokens: Mutex<Option<usize>>,
    /// Completions being answered now, and the most at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    stop: AtomicBool,
    /// Open connections (clones), so drop can shut them down.
    conns: Mutex<HashMap<u64, TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// Serves https with this configuration (None: plain http).
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Every TLS handshake: Ok, or why it failed (as the server saw it).
    handshakes: Mutex<Vec<Result<(), String>>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps `d` unless the server stops first; false if it stopped.
    fn pause(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            if self.stopped() {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            thread::sleep(left.min(POLL));
        }
    }

    /// The next scripted reply; the last one repeats.
    fn next_reply(&self) -> Option<Reply> {
        let mut script = lock(&self.script);
        if script.replies.is_empty() {
            return None;
        }
        let i = script.next.min(script.replies.len() - 1);
        script.next += 1;
        Some(script.replies[i].clone())
    }
}

/// A poisoned lock still holds usable data (a test thread panicked).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The server; dropping it stops it and closes every connection.
pub struct FaultServer {
    shared: Arc<Shared>,
    port: u16,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Binds 127.0.0.1:0 and serves in background threads. Replies to
    /// `POST .../chat/completions` are taken in order from `script`; when it
    /// runs out the last reply repeats (an empty script answers 500).
    pub fn start(script: Vec<Reply>) -> FaultServer {
        FaultServer::serve(script, None)
    }

    /// Like [`FaultServer::start`], over https: `cert_pem` is the server's
    /// certificate chain (leaf first) and `key_pem` its private key.
    pub fn start_tls(script: Vec<Reply>, cert_pem: &[u8], key_pem: &[u8]) -> FaultServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .expect("fault server: the certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem).expect("fault server: the key PEM");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("fault server: TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("fault server: certificate and key");
        FaultServer::serve(script, Some(Arc::new(config)))
    }

    fn serve(script: Vec<Reply>, tls: Option<Arc<rustls::ServerConfig>>) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fault server: bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("fault server: local address")
            .port();
        listener
            .set_nonblocking(true)
            .expect("fault server: non-blocking listener");
        let shared = Arc::new(Shared {
            script: Mutex::new(Script {
                replies: script,
                next: 0,
            }),
            requests: Mutex::new(Vec::new()),
            completions: AtomicUsize::new(0),
            key: Mutex::new(None),
            model_id: Mutex::new(DEFAULT_MODEL.to_string()),
            prompt_tokens: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            workers: Mutex::new(Vec::new()),
            tls,
            handshakes: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fault-server-accept".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("fault server: spawn the acceptor")
        };
        FaultServer {
            shared,
            port,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT/v1` (`https://…` when serving TLS)
    pub fn base_url(&self) -> String {
        self.url_for("127.0.0.1")
    }

    /// The base URL naming the server by `host` (which must reach 127.0.0.1).
    pub fn url_for(&self, host: &str) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}:{}/v1", self.port)
    }

    /// Every TLS handshake so far: Ok, or the server's reason it failed.
    pub fn handshakes(&self) -> Vec<Result<(), String>> {
        lock(&self.shared.handshakes).clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request received so far (all paths), in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Number of `POST .../chat/completions` requests received (those
    /// refused with 401 included).
    pub fn completions(&self) -> usize {
        self.shared.completions.load(Ordering::SeqCst)
    }

    /// Requires `Authorization: Bearer <key>` on every path but `/health`;
    /// others get a 401 whose body echoes the header they sent. A refused
    /// completion does not use up a scripted reply.
    pub fn require_key(&self, key: &str) {
        *lock(&self.shared.key) = Some(key.to_string());
    }

    /// The model id of `GET /v1/models` and of the completions.
    pub fn set_model_id(&self, id: &str) {
        *lock(&self.shared.model_id) = id.to_string();
    }

    /// Reports `prompt_tokens` in every usage (a server that truncated the
    /// prompt reports fewer than it was sent).
    pub fn set_prompt_tokens(&self, n: usize) {
        *lock(&self.shared.prompt_tokens) = Some(n);
    }

    /// The most completions that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // The acceptor owns the listener: once joined, the port is free and
        // no connection can be added behind our back.
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let conns: Vec<TcpStream> = lock(&self.shared.conns).drain().map(|(_, s)| s).collect();
        for conn in &conns {
            // Wakes workers blocked reading (keep-alive) or writing (Big).
            let _ = conn.shutdown(Shutdown::Both);
        }
        let workers = std::mem::take(&mut *lock(&self.shared.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut next_id = 0u64;
    while !shared.stopped() {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(false).is_err() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
                let Ok(clone) = stream.try_clone() else {
                    continue;
                };
                let id = next_id;
                next_id += 1;
                lock(&shared.conns).insert(id, clone);
                let worker_shared = Arc::clone(&shared);
                let spawned = thread::Builder::new()
                    .name("fault-server-conn".into())
                    .spawn(move || serve_connection(stream, &worker_shared, id));
                match spawned {
                    Ok(worker) => lock(&shared.workers).push(worker),
                    Err(_) => {
                        if let Some(s) = lock(&shared.conns).remove(&id) {
                            let _ = s.shutdown(Shutdown::Both);
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => thread::sleep(POLL),
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared, id: u64) {
    let Ok(tcp) = stream.try_clone() else {
        lock(&shared.conns).remove(&id);
        return;
    };
    let wire = match &shared.tls {
        None => Some(Wire::Plain(stream)),
        Some(config) => handshake(stream, config, shared),
    };
    if let Some(wire) = wire {
        let _ = serve_requests(&wire, shared);
    }
    // Explicit: the clone in `conns` would otherwise keep the socket open.
    let _ = tcp.shutdown(Shutdown::Both);
    lock(&shared.conns).remove(&id);
}

/// The TLS handshake, logged; None when it failed.
fn handshake(
    stream: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    shared: &Shared,
) -> Option<Wire> {
    let conn = match rustls::ServerConnection::new(Arc::clone(config)) {
        Ok(c) => c,
        Err(e) => {
            lock(&shared.handshakes).push(Err(e.to_string()));
            return None;
        }
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            lock(&shared.handshakes).push(Err(e.to_string()));
            return None;
        }
    }
    lock(&shared.handshakes).push(Ok(()));
    Some(Wire::Tls(Box::new(RefCell::new(tls))))
}

/// One connection, plain or TLS. Reads and writes take turns on one
/// thread, so the TLS stream can sit behind a `RefCell`.
enum Wire {
    Plain(TcpStream),
    Tls(Box<RefCell<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>>),
}

impl Read for &Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Wire::Plain(s) => (&*s).read(buf),
            Wire::Tls(t) => t.borrow_mut().read(buf),
        }
    }
}

impl Write for &Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Wire::Plain(s) => (&*s).write(buf),
            Wire::Tls(t) => t.borrow_mut().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match *self {
            Wire::Plain(s) => (&*s).flush(),
            Wire::Tls(t) => t.borrow_mut().flush(),
        }
    }
}

/// What to do with the connection after a response.
enum Next {
    KeepOpen,
    Close,
}

fn serve_requests(stream: &Wire, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        if shared.stopped() {
            return Ok(());
        }
        let req = match read_request(&mut reader, stream) {
            Ok(Some(req)) => req,
            Ok(None) => return Ok(()),
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::Bad(why)) => {
                let body = error_body(400, why, "invalid_request_error");
                let out = Out {
                    w: stream,
                    shared,
                    keep: false,
                };
                out.send(400, "application/json", &[], body.as_bytes())?;
                return Ok(());
            }
        };
        lock(&shared.requests).push(req.recorded.clone());
        let out = Out {
            w: stream,
            shared,
            keep: req.keep_alive,
        };
        match respond(&req, &out)? {
            Next::KeepOpen if req.keep_alive => {}
            _ => return Ok(()),
        }
    }
}

// ---------------------------------------------------------------- requests

struct Request {
    recorded: Recorded,
    /// Path without the query, for routing.
    route: String,
    keep_alive: bool,
    /// The body has `"stream": true`.
    stream: bool,
    body_len: usize,
}

enum ReadError {
    Io(io::Error),
    Bad(&'static str),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn eof() -> ReadError {
    ReadError::Io(io::Error::from(io::ErrorKind::UnexpectedEof))
}

/// One line without its CRLF (or LF); None at a clean end of stream.
fn read_line<R: BufRead>(r: &mut R) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if n > MAX_LINE {
            ReadError::Bad("header line too long")
        } else {
            eof()
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn read_request<R: BufRead>(r: &mut R, w: &Wire) -> Result<Option<Request>, ReadError> {
    // Empty lines before a request line are to be ignored (RFC 9112 2.2).
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [method, target, version] = parts[..] else {
        return Err(ReadError::Bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad("unsupported HTTP version"));
    }
    let http10 = version == "HTTP/1.0";
    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        let l = read_line(r)?.ok_or_else(eof)?;
        if l.is_empty() {
            break;
        }
        head_bytes += l.len();
        if head_bytes > MAX_HEAD {
            return Err(ReadError::Bad("request header too large"));
        }
        let (name, value) = l
            .split_once(':')
            .ok_or(ReadError::Bad("malformed header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let connection = find("connection").unwrap_or("").to_ascii_lowercase();
    let keep_alive = !http10 && !connection.split(',').any(|t| t.trim() == "close");
    if find("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        let mut w = w;
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked =
        find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(len) = find("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Bad("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(ReadError::Bad("request body too large"));
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    // Absolute form (a proxy-style target) is reduced to origin form.
    let path = match target.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => rest[i..].to_string(),
            None => "/".to_string(),
        },
        None => target.to_string(),
    };
    let route = path.split('?').next().unwrap_or("").to_string();
    let body_len = body.len();
    let body = String::from_utf8_lossy(&body).into_owned();
    let stream = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("stream").and_then(Value::as_bool))
        .unwrap_or(false);
    Ok(Some(Request {
        recorded: Recorded {
            method: method.to_string(),
            path,
            headers,
            body,
        },
        route,
        keep_alive,
        stream,
        body_len,
    }))
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(eof)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| ReadError::Bad("bad chunk size"))?;
        if size == 0 {
            // Trailer fields, up to the empty line.
            while !read_line(r)?.ok_or_else(eof)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::Bad("request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if !read_line(r)?.ok_or_else(eof)?.is_empty() {
            return Err(ReadError::Bad("chunk not followed by CRLF"));
        }
    }
}

// --------------------------------------------------------------- responses

/// Where a response goes, and whether the connection stays open after it.
struct Out<'a> {
    w: &'a Wire,
    shared: &'a Shared,
    keep: bool,
}

impl Out<'_> {
    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        let mut w = self.w;
        w.write_all(bytes)?;
        w.flush()
    }

    /// Status line and headers; `length` None means a chunked body.
    fn head(
        &self,
        code: u16,
        content_type: &str,
        extra: &[(&str, String)],
        length: Option<usize>,
    ) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {code} {}\r\ncontent-type: {content_type}\r\n",
            reason(code)
        );
        for (name, value) in extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        match length {
            Some(n) => head.push_str(&format!("content-length: {n}\r\n")),
            None => head.push_str("transfer-encoding: chunked\r\n"),
        }
        if !self.keep {
            head.push_str("connection: close\r\n");
        }
        head.push_str("\r\n");
        self.write(head.as_bytes())
    }

    /// A whole response with a `Content-Length` body.
    fn send(
        &self,
        code: u16,
        content_type: &str,
        extra: &[(&str, String)],
        body: &[u8],
    ) -> io::Result<()> {
        self.head(code, content_type, extra, Some(body.len()))?;
        self.write(body)
    }

    fn send_json(&self, code: u16, body: &Value) -> io::Result<()> {
        self.send(code, "application/json", &[], body.to_string().as_bytes())
    }

    /// One HTTP chunk, written and flushed on its own.
    fn chunk(&self, data: &[u8]) -> io::Result<()> {
        let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\r\n");
        self.write(&bytes)
    }

    /// One SSE event in its own chunk; returns its SSE size in bytes.
    fn event(&self, data: &str) -> io::Result<usize> {
        let event = format!("data: {data}\n\n");
        self.chunk(event.as_bytes())?;
        Ok(event.len())
    }

    fn end_chunks(&self) -> io::Result<()> {
        self.write(b"0\r\n\r\n")
    }

    fn event_stream_head(&self) -> io::Result<()> {
        self.head(
            200,
            "text/event-stream",
            &[("cache-control", "no-cache".to_string())],
            None,
        )
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn error_body(code: u16, message: &str, kind: &str) -> String {
    json!({"error": {"code": code, "message": message, "type": kind}}).to_string()
}

fn respond(req: &Request, out: &Out) -> io::Result<Next> {
    let shared = out.shared;
    let method = req.recorded.method.as_str();
    let route = req.route.as_str();
    let is_completion = method == "POST" && route.ends_with("/chat/completions");
    if is_completion {
        shared.completions.fetch_add(1, Ordering::SeqCst);
    }
    let key = lock(&shared.key).clone();
    if let Some(key) = key {
        let got = req.recorded.header("authorization");
        if route != "/health" && got != Some(format!("Bearer {key}").as_str()) {
            // Hostile on purpose: the secret (or whatever was sent) comes back.
            let message = format!(
                "Invalid API Key (received Authorization: {})",
                got.unwrap_or("<none>")
            );
            let body = error_body(401, &message, "authentication_error");
            out.send(401, "application/json", &[], body.as_bytes())?;
            return Ok(Next::KeepOpen);
        }
    }
    match (method, route) {
        _ if is_completion => completion(req, out),
        ("GET", "/v1/models") => {
            let id = lock(&shared.model_id).clone();
            out.send_json(
                200,
                &json!({"object": "list", "data": [{"id": id, "object": "model", "owned_by": "fault"}]}),
            )?;
            Ok(Next::KeepOpen)
        }
        ("GET", "/health") => {
            out.send_json(200, &json!({"status": "ok"}))?;
            Ok(Next::KeepOpen)
        }
        _ => {
            let body = error_body(404, "Not Found", "not_found_error");
            out.send(404, "application/json", &[], body.as_bytes())?;
            Ok(Next::KeepOpen)
        }
    }
}

/// Content split into deltas of `CHUNK_CHARS` characters.
fn pieces(content: &str) -> Vec<String> {
    let chars: Vec<char> = content.chars().collect();
    chars
        .chunks(CHUNK_CHARS)
        .map(|c| c.iter().collect())
        .collect()
}

/// The identity of one completion, shared by its chunks.
struct Completion {
    id: String,
    model: String,
    prompt_tokens: usize,
}

impl Completion {
    fn usage(&self, completion_tokens: usize) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        })
    }

    fn whole(&self, content: &str) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": CREATED,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }],
            "usage": self.usage(pieces(content).len()),
        })
    }

    fn delta_chunk(&self, first: bool, piece: &str) -> String {
        let delta = if first {
            json!({"role": "assistant", "content": piece})
        } else {
            json!({"content": piece})
        };
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": null}],
        })
        .to_string()
    }

    fn final_chunk(&self, completion_tokens: usize) -> String {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": self.usage(completion_tokens),
        })
        .to_string()
    }

    /// Final chunk, `[DONE]` and the chunked terminator.
    fn finish(&self, out: &Out, completion_tokens: usize) -> io::Result<usize> {
        let n = out.event(&self.final_chunk(completion_tokens))? + out.event("[DONE]")?;
        out.end_chunks()?;
        Ok(n)
    }
}

fn completion(req: &Request, out: &Out) -> io::Result<Next> {
    let shared = out.shared;
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let result = answer(req, out);
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    result
}

fn answer(req: &Request, out: &Out) -> io::Result<Next> {
    let shared = out.shared;
    let Some(reply) = shared.next_reply() else {
        let body = error_body(500, "fault server: empty script", "server_error");
        out.send(500, "application/json", &[], body.as_bytes())?;
        return Ok(Next::KeepOpen);
    };
    let c = Completion {
        id: format!(
            "chatcmpl-fault-{}",
            shared.completions.load(Ordering::SeqCst)
        ),
        model: lock(&shared.model_id).clone(),
        prompt_tokens: lock(&shared.prompt_tokens).unwrap_or(req.body_len / 4),
    };
    match reply {
        Reply::Answer(content) => {
            if req.stream {
                stream_content(&c, out, &content, None, None)
            } else {
                out.send_json(200, &c.whole(&content))?;
                Ok(Next::KeepOpen)
            }
        }
        Reply::Status(code, body) => {
            out.send(code, "application/json", &[], body.as_bytes())?;
            Ok(Next::KeepOpen)
        }
        Reply::TooMany { retry_after_secs } => {
            let body = error_body(
                429,
                "Too many requests, please retry later",
                "rate_limit_error",
            );
            out.send(
                429,
                "application/json",
                &[("retry-after", retry_after_secs.to_string())],
                body.as_bytes(),
            )?;
            Ok(Next::KeepOpen)
        }
        Reply::Slow { content, delay } => {
            if req.stream {
                stream_content(&c, out, &content, Some(delay), None)
            } else {
                for _ in 0..pieces(&content).len() {
                    if !shared.pause(delay) {
                        return Ok(Next::Close);
                    }
                }
                out.send_json(200, &c.whole(&content))?;
                Ok(Next::KeepOpen)
            }
        }
        Reply::DropAfter { content, chunks } => {
            if req.stream {
                stream_content(&c, out, &content, None, Some(chunks))
            } else {
                let body = c.whole(&content).to_string();
                out.head(200, "application/json", &[], Some(body.len()))?;
                out.write(&body.as_bytes()[..body.len() / 2])?;
                Ok(Next::Close)
            }
        }
        Reply::Big { bytes } => big(&c, out, req.stream, bytes),
        Reply::Hang => {
            while shared.pause(Duration::from_secs(3600)) {}
            Ok(Next::Close)
        }
        Reply::Close => Ok(Next::Close),
        Reply::Echo { content, thinking } => {
            let auth = req.recorded.header("authorization").unwrap_or("");
            let content = echo(&content, auth);
            let thinking = echo(&thinking, auth);
            out.event_stream_head()?;
            if !thinking.is_empty() {
                let event = json!({
                    "id": c.id, "object": "chat.completion.chunk", "created": CREATED,
                    "model": c.model,
                    "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": thinking}, "finish_reason": null}],
                });
                out.event(&event.to_string())?;
            }
            let pieces = pieces(&content);
            for (i, piece) in pieces.iter().enumerate() {
                out.event(&c.delta_chunk(i == 0 && thinking.is_empty(), piece))?;
            }
            c.finish(out, pieces.len())?;
            Ok(Next::KeepOpen)
        }
    }
}

/// `template` with the placeholders of [`Reply::Echo`] filled in from the
/// `Authorization` header `auth`.
fn echo(template: &str, auth: &str) -> String {
    let key = auth.strip_prefix("Bearer ").unwrap_or(auth);
    template
        .replace("{auth}", auth)
        .replace("{key_json}", &key.replace('/', "\\/"))
        .replace("{key_url}", &percent_encode(key))
        .replace("{key_b64}", &base64(key.as_bytes()))
        .replace("{basic_b64}", &base64(format!("user:{key}").as_bytes()))
        .replace("{key}", key)
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            s.push(if i <= chunk.len() {
                ABC[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    s
}

/// An SSE completion: deltas of `content`, each after `delay` if given;
/// with `drop_after`, closes after that many deltas without an end.
fn stream_content(
    c: &Completion,
    out: &Out,
    content: &str,
    delay: Option<Duration>,
    drop_after: Option<usize>,
) -> io::Result<Next> {
    out.event_stream_head()?;
    let pieces = pieces(content);
    for (i, piece) in pieces.iter().enumerate() {
        if drop_after == Some(i) {
            return Ok(Next::Close);
        }
        if let Some(delay) = delay {
            if !out.shared.pause(delay) {
                return Ok(Next::Close);
            }
        }
        out.event(&c.delta_chunk(i == 0, piece))?;
    }
    if drop_after.is_some() {
        return Ok(Next::Close);
    }
    c.finish(out, pieces.len())?;
    Ok(Next::KeepOpen)
}

fn big(c: &Completion, out: &Out, stream: bool, bytes: usize) -> io::Result<Next> {
    let shared = out.shared;
    if stream {
        out.event_stream_head()?;
        let piece = "x".repeat(PIECE / 4);
        let (mut sent, mut deltas) = (0usize, 0usize);
        while sent < bytes {
            if shared.stopped() {
                return Ok(Next::Close);
            }
            sent += out.event(&c.delta_chunk(deltas == 0, &piece))?;
            deltas += 1;
        }
        c.finish(out, deltas)?;
    } else {
        const OPEN: &[u8] = b"{\"pad\":\"";
        const CLOSE: &[u8] = b"\"}";
        let pad = bytes.saturating_sub(OPEN.len() + CLOSE.len());
        out.head(
            200,
            "application/json",
            &[],
            Some(OPEN.len() + pad + CLOSE.len()),
        )?;
        out.write(OPEN)?;
        let piece = vec![b'x'; PIECE];
        let mut left = pad;
        while left > 0 {
            if shared.stopped() {
                return Ok(Next::Close);
            }
            let n = left.min(PIECE);
            out.write(&piece[..n])?;
            left -= n;
        }
        out.write(CLOSE)?;
    }
    Ok(Next::KeepOpen)
}
