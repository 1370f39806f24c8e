//! Progress lines on stderr while models load, prefill and generate.
//!
//! Shown only when stderr is a terminal and not silenced (`--quiet`); a
//! pipe or a CI log gets nothing, so captured output stays clean.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Where progress goes. Cheap to create; the engine owns one.
#[derive(Debug, Clone)]
pub struct Progress {
    enabled: bool,
    /// Set by the caller per chunk (e.g. `chunk 2/7`).
    chunk: String,
    /// Set by the caller per request (reviewer names), in request order.
    requests: Vec<String>,
    last_draw: Option<Instant>,
}

impl Progress {
    /// Progress on stderr if it is a terminal and `quiet` is false.
    pub fn auto(quiet: bool) -> Progress {
        Progress::new(!quiet && std::io::stderr().is_terminal())
    }

    /// No progress output at all.
    pub fn disabled() -> Progress {
        Progress::new(false)
    }

    fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            chunk: String::new(),
            requests: Vec::new(),
            last_draw: None,
        }
    }

    /// Whether anything will be drawn.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Labels for the next `generate` call: the chunk and one name per request.
    pub fn set_labels(&mut self, chunk: &str, requests: &[String]) {
        self.chunk = chunk.to_string();
        self.requests = requests.to_vec();
    }

    fn label(&self, model: &str, request: usize, of: usize) -> String {
        let who = self
            .requests
            .get(request)
            .cloned()
            .unwrap_or_else(|| format!("request {}/{}", request + 1, of));
        if self.chunk.is_empty() {
            format!("[{model}] {who}")
        } else {
            format!("[{model}] {} · {who}", self.chunk)
        }
    }

    /// A one-off status (model loading, hash check).
    pub fn status(&mut self, msg: &str) {
        if self.enabled {
            self.draw(msg);
        }
    }

    /// Prefill finished for a request.
    pub fn prefill(
        &mut self,
        model: &str,
        request: usize,
        of: usize,
        tokens: usize,
        started: Instant,
    ) {
        if !self.enabled {
            return;
        }
        let secs = started.elapsed().as_secs_f64();
        let msg = format!(
            "{}: prefill {tokens} tokens in {secs:.1}s ({:.0} tok/s)",
            self.label(model, request, of),
            rate(tokens, secs)
        );
        self.draw(&msg);
    }

    /// Generation progress; redrawn at most ~8 times a second.
    pub fn generating(
        &mut self,
        model: &str,
        request: usize,
        of: usize,
        tokens: usize,
        max: usize,
        started: Instant,
    ) {
        if !self.enabled
            || self
                .last_draw
                .is_some_and(|t| t.elapsed().as_millis() < 120)
        {
            return;
        }
        let secs = started.elapsed().as_secs_f64();
        let msg = format!(
            "{}: {tokens}/{max} tokens, {:.1} tok/s, {secs:.1}s",
            self.label(model, request, of),
            rate(tokens, secs)
        );
        self.draw(&msg);
    }

    /// Clears the progress line (before normal output is printed).
    pub fn clear(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
            self.last_draw = None;
        }
    }

    fn draw(&mut self, msg: &str) {
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K{msg}");
        let _ = e.flush();
        self.last_draw = Some(Instant::now());
    }
}

fn rate(tokens: usize, secs: f64) -> f64 {
    if secs > 0.0 {
        tokens as f64 / secs
    } else {
        0.0
    }
}
