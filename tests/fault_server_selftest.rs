//! The fault server of tests/common against a hand-written std HTTP/1.1
//! client: every reply's bytes on the wire, the script's order, keep-alive,
//! the key check, the record of requests, and a prompt shutdown.

mod common;

use common::fault_server::{FaultServer, Reply};
use serde_json::Value;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One client connection, used for as many requests as a test wants.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    /// The body's HTTP chunks (one element when not chunked).
    chunks: Vec<Vec<u8>>,
    /// Arrival time of each element of `chunks`.
    times: Vec<Instant>,
    /// The body ended as its framing said (`0` chunk, or full length).
    complete: bool,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    fn text(&self) -> String {
        String::from_utf8(self.body()).expect("UTF-8 body")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body()).expect("JSON body")
    }

    /// The `data:` payloads of an SSE body, in order.
    fn events(&self) -> Vec<String> {
        let text = self.text();
        assert!(
            text.is_empty() || text.ends_with("\n\n"),
            "SSE body ends mid-event: {:?}",
            &text[text.len().saturating_sub(80)..]
        );
        text.split_terminator("\n\n")
            .map(|e| {
                e.strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not an SSE data event: {e:?}"))
                    .to_string()
            })
            .collect()
    }
}

/// A line without CRLF; None at end of stream (or on a read error).
fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut buf = Vec::new();
    match r.read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            assert!(buf.ends_with(b"\r\n"), "line without CRLF: {buf:?}");
            buf.truncate(buf.len() - 2);
            Some(String::from_utf8(buf).expect("UTF-8 line"))
        }
    }
}

impl Conn {
    fn open(server: &FaultServer) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send request");
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        if method == "POST" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(body);
        self.send_raw(req.as_bytes());
    }

    fn response(&mut self) -> Response {
        let status_line =
            read_line(&mut self.reader).expect("connection closed without a response");
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(
            parts.next(),
            Some("HTTP/1.1"),
            "status line {status_line:?}"
        );
        let status: u16 = parts.next().unwrap().parse().expect("status code");
        let mut headers = Vec::new();
        loop {
            let line = read_line(&mut self.reader).expect("end of stream in the headers");
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header line");
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        let mut resp = Response {
            status,
            headers,
            chunks: Vec::new(),
            times: Vec::new(),
            complete: false,
        };
        if resp.header("transfer-encoding") == Some("chunked") {
            assert!(resp.header("content-length").is_none());
            loop {
                let Some(size) = read_line(&mut self.reader) else {
                    return resp;
                };
                let size = usize::from_str_radix(&size, 16).expect("chunk size");
                if size == 0 {
                    assert_eq!(read_line(&mut self.reader).as_deref(), Some(""));
                    resp.complete = true;
                    return resp;
                }
                let mut chunk = vec![0; size];
                if self.reader.read_exact(&mut chunk).is_err() {
                    return resp;
                }
                resp.times.push(Instant::now());
                resp.chunks.push(chunk);
                let Some(crlf) = read_line(&mut self.reader) else {
                    return resp;
                };
                assert_eq!(crlf, "", "chunk not followed by CRLF");
            }
        }
        let length: usize = resp
            .header("content-length")
            .expect("neither chunked nor a Content-Length")
            .parse()
            .unwrap();
        let mut body = Vec::new();
        let _ = (&mut self.reader)
            .take(length as u64)
            .read_to_end(&mut body);
        resp.complete = body.len() == length;
        resp.times.push(Instant::now());
        resp.chunks.push(body);
        resp
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        self.send(method, path, headers, body);
        self.response()
    }

    fn completion(&mut self, stream: bool) -> Response {
        self.request(
            "POST",
            "/v1/chat/completions",
            &[("Content-Type", "application/json")],
            &completion_body(stream),
        )
    }

    /// True if the server closed the connection (EOF) with nothing more.
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(self.reader.read_to_end(&mut rest), Ok(0))
    }
}

fn completion_body(stream: bool) -> String {
    serde_json::json!({
        "model": "any",
        "messages": [{"role": "user", "content": "Review this diff, please."}],
        "stream": stream,
    })
    .to_string()
}

/// Content of multi-byte characters, 8 characters a delta: 5 deltas.
const CONTENT: &str = "Findings: «none» — the diff is fine ✓ 🚀";

fn deltas(events: &[String]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.as_str() != "[DONE]")
        .filter_map(|e| {
            let v: Value = serde_json::from_str(e).expect("event is JSON");
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn answer_non_streaming_is_one_chat_completion() {
    let server = FaultServer::start(vec![Reply::Answer(CONTENT.into())]);
    let mut conn = Conn::open(&server);
    let resp = conn.completion(false);
    assert_eq!(resp.status, 200);
    assert!(resp.complete);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let v = resp.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "fault-model");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], CONTENT);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let p = completion_body(false).len() / 4;
    let c = CONTENT.chars().count().div_ceil(8);
    assert_eq!(v["usage"]["prompt_tokens"], p);
    assert_eq!(v["usage"]["completion_tokens"], c);
    assert_eq!(v["usage"]["total_tokens"], p + c);
}

#[test]
fn answer_streaming_is_sse_one_event_per_chunk_ending_in_done() {
    let server = FaultServer::start(vec![Reply::Answer(CONTENT.into())]);
    let mut conn = Conn::open(&server);
    let resp = conn.completion(true);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert!(resp.complete, "no 0-length terminating chunk");
    for chunk in &resp.chunks {
        let chunk = std::str::from_utf8(chunk).unwrap();
        assert!(chunk.starts_with("data: ") && chunk.ends_with("\n\n"));
        assert_eq!(chunk.matches("\n\n").count(), 1, "one event per chunk");
    }
    let events = resp.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let parts = deltas(&events);
    assert_eq!(parts.len(), 5);
    assert!(parts.iter().all(|p| p.chars().count() <= 8));
    assert_eq!(parts.concat(), CONTENT);
    let last: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    let p = completion_body(true).len() / 4;
    assert_eq!(last["usage"]["prompt_tokens"], p);
    assert_eq!(last["usage"]["completion_tokens"], 5);
    assert_eq!(last["usage"]["total_tokens"], p + 5);
    // Only the final event carries usage and a finish reason.
    for e in &events[..events.len() - 2] {
        let v: Value = serde_json::from_str(e).unwrap();
        assert!(v.get("usage").is_none());
        assert!(v["choices"][0]["finish_reason"].is_null());
    }
}

#[test]
fn script_goes_in_order_then_last_repeats_on_one_keep_alive_connection() {
    let server = FaultServer::start(vec![
        Reply::Status(503, r#"{"error":{"message":"loading model"}}"#.into()),
        Reply::Answer("first".into()),
        Reply::Answer("second".into()),
    ]);
    let mut conn = Conn::open(&server);
    let resp = conn.completion(false);
    assert_eq!(resp.status, 503);
    assert_eq!(resp.json()["error"]["message"], "loading model");
    // Other routes do not use up the script.
    let models = conn.request("GET", "/v1/models", &[], "");
    assert_eq!(models.json()["data"][0]["id"], "fault-model");
    let mut got = Vec::new();
    for stream in [false, true, false, true] {
        let resp = conn.completion(stream);
        assert_eq!(resp.status, 200);
        assert!(resp.complete);
        got.push(if stream {
            deltas(&resp.events()).concat()
        } else {
            resp.json()["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        });
    }
    assert_eq!(got, ["first", "second", "second", "second"]);
    assert_eq!(server.completions(), 5);
    assert_eq!(server.requests().len(), 6);

    // `Connection: close` is honoured: answered, then closed.
    conn.send(
        "POST",
        "/v1/chat/completions",
        &[("Connection", "close")],
        &completion_body(false),
    );
    let resp = conn.response();
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(resp.json()["choices"][0]["message"]["content"], "second");
    assert!(conn.closed());
}

#[test]
fn too_many_sends_retry_after() {
    let server = FaultServer::start(vec![Reply::TooMany {
        retry_after_secs: 7,
    }]);
    let resp = Conn::open(&server).completion(true);
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("retry-after"), Some("7"));
    assert!(resp.json()["error"]["message"].is_string());
}

#[test]
fn drop_after_ends_mid_stream_without_done() {
    let content = "0123456789abcdefghijklmnopqrstuvwxyz"; // 5 deltas
    let server = FaultServer::start(vec![Reply::DropAfter {
        content: content.into(),
        chunks: 2,
    }]);
    let mut conn = Conn::open(&server);
    let resp = conn.completion(true);
    assert_eq!(resp.status, 200);
    assert!(!resp.complete, "a dropped stream must not be terminated");
    let events = resp.events();
    assert!(!events.iter().any(|e| e == "[DONE]"));
    assert_eq!(deltas(&events), ["01234567", "89abcdef"]);
    assert!(conn.closed());

    // Asked to drop after more chunks than there are: all the content, but
    // still no end.
    let server = FaultServer::start(vec![Reply::DropAfter {
        content: content.into(),
        chunks: 9,
    }]);
    let resp = Conn::open(&server).completion(true);
    assert!(!resp.complete);
    let events = resp.events();
    assert!(!events.iter().any(|e| e == "[DONE]"));
    assert_eq!(deltas(&events).concat(), content);

    // Non-streaming: the announced length is never reached.
    let resp = Conn::open(&server).completion(false);
    assert_eq!(resp.status, 200);
    assert!(!resp.complete);
}

#[test]
fn close_answers_nothing() {
    let server = FaultServer::start(vec![Reply::Close]);
    let mut conn = Conn::open(&server);
    conn.send("POST", "/v1/chat/completions", &[], &completion_body(true));
    assert!(conn.closed(), "expected EOF with no bytes");
    assert_eq!(server.completions(), 1);
}

#[test]
fn big_sends_at_least_the_bytes_asked_for() {
    const BYTES: usize = 1_000_000;
    let server = FaultServer::start(vec![Reply::Big { bytes: BYTES }]);
    let mut conn = Conn::open(&server);
    let resp = conn.completion(false);
    assert_eq!(resp.status, 200);
    assert!(resp.complete);
    assert_eq!(resp.body().len(), BYTES);
    let pad = resp.json()["pad"].as_str().unwrap().len();
    assert_eq!(pad, BYTES - r#"{"pad":""}"#.len());

    let resp = conn.completion(true);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert!(resp.complete);
    assert!(resp.body().len() >= BYTES, "{} bytes", resp.body().len());
    let events = resp.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let text = deltas(&events).concat();
    assert!(text.len() > BYTES / 2 && text.bytes().all(|b| b == b'x'));
}

#[test]
fn big_stops_quietly_when_the_client_hangs_up() {
    let server = FaultServer::start(vec![
        Reply::Big { bytes: 200_000_000 },
        Reply::Answer("still serving".into()),
    ]);
    let mut conn = Conn::open(&server);
    conn.send("POST", "/v1/chat/completions", &[], &completion_body(false));
    let mut first = vec![0; 64 * 1024];
    conn.reader.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200 OK\r\n"));
    drop(conn);
    let resp = Conn::open(&server).completion(false);
    assert_eq!(
        resp.json()["choices"][0]["message"]["content"],
        "still serving"
    );
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn hang_never_answers_and_drop_is_prompt() {
    let server = FaultServer::start(vec![Reply::Hang]);
    let port = server.port();
    let mut hung = Conn::open(&server);
    hung.send("POST", "/v1/chat/completions", &[], &completion_body(true));
    // An idle keep-alive connection must not hold up the drop either.
    let mut idle = Conn::open(&server);
    assert_eq!(idle.request("GET", "/health", &[], "").status, 200);

    hung.writer
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let err = hung.reader.read(&mut byte).expect_err("Hang answered");
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(server.completions(), 1);

    // Dropped on another thread so a drop that blocks fails the test
    // instead of hanging it.
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(server);
        let _ = done.send(());
    });
    let started = Instant::now();
    assert!(
        dropped.recv_timeout(Duration::from_secs(2)).is_ok(),
        "drop took longer than 2 s"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(hung.closed(), "hung connection not closed by the drop");
    assert!(idle.closed(), "idle connection not closed by the drop");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port still accepting"
    );
}

#[test]
fn slow_stream_arrives_chunk_by_chunk() {
    let delay = Duration::from_millis(80);
    let server = FaultServer::start(vec![Reply::Slow {
        content: "aaaaaaaabbbbbbbbcccccccc".into(),
        delay,
    }]);
    let started = Instant::now();
    let resp = Conn::open(&server).completion(true);
    assert!(resp.complete);
    assert_eq!(deltas(&resp.events()), ["aaaaaaaa", "bbbbbbbb", "cccccccc"]);
    // The three content chunks each came after their own delay: had they
    // been buffered, they would have arrived together.
    let t = &resp.times;
    assert!(t[0] - started >= delay);
    assert!(
        t[1] - t[0] >= delay - Duration::from_millis(20),
        "{:?}",
        t[1] - t[0]
    );
    assert!(
        t[2] - t[1] >= delay - Duration::from_millis(20),
        "{:?}",
        t[2] - t[1]
    );
}

#[test]
fn require_key_refuses_with_a_401_echoing_the_header() {
    let server = FaultServer::start(vec![
        Reply::Answer("first".into()),
        Reply::Answer("second".into()),
    ]);
    server.require_key("sk-right");
    let mut conn = Conn::open(&server);
    let resp = conn.request(
        "POST",
        "/v1/chat/completions",
        &[("Authorization", "Bearer sk-wrong-4711")],
        &completion_body(false),
    );
    assert_eq!(resp.status, 401);
    let message = resp.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("Bearer sk-wrong-4711"), "{message}");
    assert_eq!(conn.completion(false).status, 401);
    assert_eq!(conn.request("GET", "/v1/models", &[], "").status, 401);
    assert_eq!(conn.request("GET", "/health", &[], "").status, 200);
    let resp = conn.request(
        "POST",
        "/v1/chat/completions",
        &[("Authorization", "Bearer sk-right")],
        &completion_body(false),
    );
    assert_eq!(resp.status, 200);
    // Refusals did not use up the script.
    assert_eq!(resp.json()["choices"][0]["message"]["content"], "first");
    assert_eq!(server.completions(), 3);
}

#[test]
fn requests_are_recorded_and_other_routes_answer() {
    let server = FaultServer::start(vec![Reply::Answer("ok".into())]);
    server.set_model_id("other-model");
    let mut conn = Conn::open(&server);
    // A chunked request body, in two chunks.
    let body = completion_body(false);
    let (a, b) = body.split_at(10);
    conn.send_raw(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Trace-Id: Abc\r\n\
             Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
        .as_bytes(),
    );
    let resp = conn.response();
    assert_eq!(resp.json()["model"], "other-model");
    assert_eq!(resp.json()["choices"][0]["message"]["content"], "ok");

    let models = conn.request("GET", "/v1/models", &[], "");
    assert_eq!(
        models.json(),
        serde_json::json!({"object": "list", "data": [{"id": "other-model", "object": "model", "owned_by": "fault"}]})
    );
    let health = conn.request("GET", "/health", &[], "");
    assert_eq!(health.json(), serde_json::json!({"status": "ok"}));
    let props = conn.request("GET", "/props?x=1", &[], "");
    assert_eq!(props.status, 404);
    assert_eq!(
        props.json(),
        serde_json::json!({"error": {"code": 404, "message": "Not Found", "type": "not_found_error"}})
    );

    let recorded = server.requests();
    let seen: Vec<(&str, &str)> = recorded
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/v1/chat/completions"),
            ("GET", "/v1/models"),
            ("GET", "/health"),
            ("GET", "/props?x=1"),
        ]
    );
    let post = &recorded[0];
    assert_eq!(post.body, body);
    assert_eq!(post.json().unwrap()["messages"][0]["role"], "user");
    assert_eq!(post.header("X-TRACE-ID"), Some("Abc"));
    assert!(post
        .headers
        .iter()
        .any(|(n, v)| n == "x-trace-id" && v == "Abc"));
    assert!(post
        .headers
        .iter()
        .all(|(n, _)| *n == n.to_ascii_lowercase()));
    assert!(recorded[1].json().is_none());
    assert_eq!(server.completions(), 1);
}
