//! A deterministic stand-in for the model engine, for fast tests (reachable
//! only when the test suite sets `GIT_DEEP_REVIEW_TEST_BACKENDS=1`).
//!
//! Model names start with `standin:`:
//! - `standin:marker` reports one finding for every *added* line of the
//!   rendered diff in the prompt that contains `DEEP-REVIEW-PLANT:<severity>`
//!   (severity `critical`, `important` or `suggestion`), at that file and
//!   new-side line, quoting the line. Tests plant issues this way and check
//!   that they travel through the whole pipeline.
//! - `standin:empty` always answers `{"findings":[]}`.
//! - `standin:fail` fails every request (a model that cannot run).
//!
//! As a verifier (a request with the verifier's grammar) every stand-in
//! but `fail` answers from markers in the code it is shown:
//! `DEEP-REVIEW-REFUTE` → refuted, `DEEP-REVIEW-UNSURE` → uncertain,
//! `DEEP-REVIEW-GARBLE` → an answer that is not JSON (an invalid answer),
//! otherwise confirmed.
//!
//! Two variables let tests watch stand-ins across processes (they are read
//! only here, so only by the test suite): `GIT_DEEP_REVIEW_STANDIN_DELAY_MS`
//! makes every `generate` call take that long (a slow model, to hold a
//! chunk lock); like the real engines, it stops at the run's deadline or
//! Ctrl-C with a cut-short answer; and `GIT_DEEP_REVIEW_STANDIN_LOG` names a file to which each
//! generated answer appends a line `pid model` (how many answers were made).
//!
//! The diff is read in the layout the git layer renders chunks in:
//! a header `=== path (status, +a -d) ===` per file, then lines
//! `+ 123 | text` (added), `  124 | text` (context), `-     | text` (removed).

use crate::check::findings::{RawFinding, RawReview};
pub use crate::config::model_ref::{is_standin, STANDIN_PREFIX};
use crate::engine::{Backend, Generation, Request, StopReason};
use crate::error::{Error, Result};

/// Marker a planted line carries, followed by the severity.
pub const PLANT_MARKER: &str = "DEEP-REVIEW-PLANT:";
/// Marker of an added line that makes `standin:marker` report a
/// consequence at another place, `DEEP-REVIEW-POINT:path:line`, caused by
/// that added line (how tests check grounding on context).
pub const POINT_MARKER: &str = "DEEP-REVIEW-POINT:";

/// Markers of the code a verifier is shown that decide the stand-in
/// verifier's answer (see the module comment).
pub const REFUTE_MARKER: &str = "DEEP-REVIEW-REFUTE";
/// See [`REFUTE_MARKER`].
pub const UNSURE_MARKER: &str = "DEEP-REVIEW-UNSURE";
/// See [`REFUTE_MARKER`].
pub const GARBLE_MARKER: &str = "DEEP-REVIEW-GARBLE";

/// The stand-in verifier's answer to a verify prompt.
fn verify_answer(prompt: &str) -> String {
    let code = prompt.split_once("\nCode:\n").map_or("", |(_, c)| c);
    let (verdict, reason) = if code.contains(GARBLE_MARKER) {
        return "I think this finding is probably right.".to_string();
    } else if code.contains(REFUTE_MARKER) {
        ("refuted", "The code shown carries the refute marker.")
    } else if code.contains(UNSURE_MARKER) {
        ("uncertain", "The code shown carries the unsure marker.")
    } else {
        (
            "confirmed",
            "The stand-in confirms every finding without a marker.",
        )
    };
    serde_json::json!({"verdict": verdict, "reason": reason}).to_string()
}

/// The stand-in backend. Stateless; counts calls for tests.
#[derive(Debug, Default, Clone)]
pub struct StandinBackend {
    /// `generate` calls so far (tests check models are batched as expected).
    pub calls: usize,
    /// The run's deadline (see [`Backend::set_deadline`]).
    deadline: Option<std::time::Instant>,
}

impl StandinBackend {
    /// A new stand-in backend.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Findings `standin:marker` reports for a prompt text, in order of appearance.
pub fn planted_findings(text: &str) -> Vec<RawFinding> {
    let mut out: Vec<RawFinding> = Vec::new();
    let mut file: Option<String> = None;
    for line in text.lines() {
        if let Some(path) = parse_header(line) {
            file = Some(path);
            continue;
        }
        let Some(f) = file.as_ref() else { continue };
        let Some((n, code)) = parse_added(line) else {
            continue;
        };
        if let Some(at) = code.find(POINT_MARKER) {
            let target: String = code[at + POINT_MARKER.len()..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            if let Some((path, l)) = target.rsplit_once(':') {
                if let Ok(l) = l.parse::<i64>() {
                    out.push(RawFinding {
                        file: path.to_string(),
                        line: l,
                        end_line: Some(l),
                        severity: "important".into(),
                        kind: "consequence".into(),
                        title: "Pointed consequence".into(),
                        explanation: format!("The changed line {f}:{n} points here."),
                        fix: "Remove the pointer.".into(),
                        quote: String::new(),
                        cause: format!("{f}:{n}"),
                    });
                }
            }
            continue;
        }
        let Some(at) = code.find(PLANT_MARKER) else {
            continue;
        };
        let sev: String = code[at + PLANT_MARKER.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect::<String>()
            .to_ascii_lowercase();
        if !matches!(sev.as_str(), "critical" | "important" | "suggestion") {
            continue;
        }
        if out.iter().any(|x| x.file == *f && x.line == n) {
            continue;
        }
        let kind = match sev.as_str() {
            "critical" => "regression",
            "important" => "gap",
            _ => "enhancement",
        };
        out.push(RawFinding {
            file: f.clone(),
            line: n,
            end_line: Some(n),
            severity: sev.clone(),
            kind: kind.into(),
            title: format!("Planted {sev} issue"),
            explanation: format!("The line carries the test marker {PLANT_MARKER}{sev}."),
            fix: "Remove the planted marker.".into(),
            quote: code.trim().to_string(),
            cause: String::new(),
        });
    }
    out
}

/// `=== path (status, +a -d) ===` → path. The path is everything before the
/// last ` (` so paths with spaces or parentheses survive.
fn parse_header(line: &str) -> Option<String> {
    // A chunk holding part of a file says which hunks after the header.
    let line = match line.rfind(" === [part: ") {
        Some(at) if line.ends_with(']') => &line[..at + 4],
        _ => line,
    };
    let inner = line.strip_prefix("=== ")?.strip_suffix(" ===")?;
    let cut = inner.rfind(" (")?;
    let path = &inner[..cut];
    (!path.is_empty()).then(|| path.to_string())
}

/// `+ 123 | text` → (123, text).
fn parse_added(line: &str) -> Option<(i64, &str)> {
    let rest = line.strip_prefix('+')?;
    let bar = rest.find(" | ")?;
    let n: i64 = rest[..bar].trim().parse().ok()?;
    Some((n, &rest[bar + 3..]))
}

/// A lead answer with every field filled (stand-ins other than `fail`
/// write the same prose), so tests can see the lead's text reach a report.
fn lead_answer(model: &str, prompt: &str) -> Result<Generation> {
    if model == "standin:fail" {
        return Err(Error::Model(
            "standin:fail: this stand-in model always fails".into(),
        ));
    }
    let mut obj = serde_json::Map::new();
    for f in crate::review::lead::FIELDS {
        let v = match f.kind {
            crate::review::lead::FieldKind::OneOf(words) => words[0].to_string(),
            crate::review::lead::FieldKind::Text { .. } => format!(
                "The stand-in lead wrote this {} section from the facts it was given, in plain sentences.",
                f.key
            ),
        };
        obj.insert(f.key.to_string(), serde_json::Value::String(v));
    }
    let text = serde_json::Value::Object(obj).to_string();
    Ok(Generation {
        generated_tokens: tokens(&text),
        prompt_tokens: tokens(prompt),
        text,
        shared_tokens: 0,
        prefill_ms: 0,
        generate_ms: 0,
        stop: StopReason::Eog,
        thinking: String::new(),
        thinking_tokens: 0,
        endpoint: String::new(),
        threads: 0,
        together: 0,
    })
}

/// The test suite's view of stand-in calls (see the module comment).
/// Returns how the delay ended when the deadline or Ctrl-C cut it short.
fn watch(model: &str, answers: usize, deadline: Option<std::time::Instant>) -> Option<StopReason> {
    use std::time::{Duration, Instant};
    if let Some(ms) = std::env::var("GIT_DEEP_REVIEW_STANDIN_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        // A slow model that, like the real engines, stops between tokens.
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            if crate::interrupt::is_triggered() {
                return Some(StopReason::Interrupted);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Some(StopReason::Deadline);
            }
            std::thread::sleep(
                until
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(10)),
            );
        }
    }
    if let Some(path) = std::env::var_os("GIT_DEEP_REVIEW_STANDIN_LOG") {
        use std::io::Write;
        let line = format!("{} {model}\n", std::process::id()).repeat(answers);
        if let Ok(mut f) = std::fs::File::options()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
    None
}

fn tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

impl Backend for StandinBackend {
    fn generate(&mut self, model: &str, requests: &[Request]) -> Vec<Result<Generation>> {
        self.calls += 1;
        if let Some(stop) = watch(model, requests.len(), self.deadline) {
            return requests
                .iter()
                .map(|r| {
                    Ok(Generation {
                        text: String::new(),
                        prompt_tokens: tokens(&r.prompt.user),
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
                    })
                })
                .collect();
        }
        let texts: Vec<String> = requests
            .iter()
            .map(|r| format!("{}\n\n{}", r.prompt.system, r.prompt.user))
            .collect();
        let shared = texts
            .iter()
            .skip(1)
            .map(|t| {
                t.bytes()
                    .zip(texts[0].bytes())
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .min()
            .unwrap_or(0);
        texts
            .iter()
            .zip(requests)
            .map(|(text, request)| {
                if request.grammar == crate::review::lead::grammar() {
                    return lead_answer(model, text);
                }
                if request.grammar == crate::verify::ask::grammar() && model != "standin:fail" {
                    let out = verify_answer(text);
                    return Ok(Generation {
                        generated_tokens: tokens(&out),
                        text: out,
                        prompt_tokens: tokens(text),
                        shared_tokens: 0,
                        prefill_ms: 0,
                        generate_ms: 0,
                        stop: StopReason::Eog,
                        thinking: String::new(),
                        thinking_tokens: 0,
                        endpoint: String::new(),
                        threads: 0,
                        together: 0,
                    });
                }
                let findings = match model {
                    "standin:marker" => planted_findings(text),
                    "standin:empty" => Vec::new(),
                    "standin:fail" => {
                        return Err(Error::Model("standin:fail: this stand-in model always fails".into()))
                    }
                    other => {
                        return Err(Error::Model(format!(
                            "unknown stand-in model `{other}` (use standin:marker, standin:empty or standin:fail)"
                        )))
                    }
                };
                let out = serde_json::to_string(&RawReview { findings })
                    .map_err(|e| Error::Model(format!("stand-in: {e}")))?;
                Ok(Generation {
                    generated_tokens: tokens(&out),
                    text: out,
                    prompt_tokens: tokens(text),
                    shared_tokens: if requests.len() > 1 { tokens(&text[..shared]) } else { 0 },
                    prefill_ms: 0,
                    generate_ms: 0,
                    stop: StopReason::Eog,
                    thinking: String::new(),
                    thinking_tokens: 0,
        endpoint: String::new(),
        threads: 0,
        together: 0,
                })
            })
            .collect()
    }

    fn set_deadline(&mut self, at: Option<std::time::Instant>) {
        self.deadline = at;
    }

    fn count_tokens(&mut self, model: &str, text: &str) -> Result<usize> {
        if !is_standin(model) {
            return Err(Error::Model(format!(
                "the stand-in backend cannot run `{model}`"
            )));
        }
        Ok(tokens(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Prompt, Sampling};

    fn req(user: &str) -> Request {
        Request {
            prompt: Prompt {
                system: "You review code.".into(),
                user: user.into(),
            },
            sampling: Sampling::default(),
            grammar: String::new(),
            schema: None,
        }
    }

    const DIFF: &str = "\
=== src/a b (x).rs (modified, +2 -1) ===
  10 | fn f() {
-     | let y = 1; // DEEP-REVIEW-PLANT:critical (removed: ignored)
+ 11 |     let x = 1; // DEEP-REVIEW-PLANT:critical
+ 12 |     ok();
  13 | // DEEP-REVIEW-PLANT:important (context: ignored)
=== lib/c.py (added, +1 -0) ===
+ 1 | x = 2  # DEEP-REVIEW-PLANT:Suggestion
+ 2 | y = 3  # DEEP-REVIEW-PLANT:bogus
";

    #[test]
    fn marker_reports_planted_added_lines_only() {
        let mut b = StandinBackend::new();
        let out = b.generate("standin:marker", &[req(DIFF), req("no diff here")]);
        let first: RawReview = serde_json::from_str(&out[0].as_ref().unwrap().text).unwrap();
        let got: Vec<(&str, i64, &str)> = first
            .findings
            .iter()
            .map(|f| (f.file.as_str(), f.line, f.severity.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("src/a b (x).rs", 11, "critical"),
                ("lib/c.py", 1, "suggestion")
            ]
        );
        assert_eq!(
            first.findings[0].quote,
            "let x = 1; // DEEP-REVIEW-PLANT:critical"
        );
        let second: RawReview = serde_json::from_str(&out[1].as_ref().unwrap().text).unwrap();
        assert!(second.findings.is_empty());
        assert!(out[0].as_ref().unwrap().shared_tokens > 0);
    }

    #[test]
    fn marker_reads_a_chunk_that_holds_part_of_a_file() {
        let part = "=== big (x).rs (added, +900 -0) === [part: hunks 2-3 of 4]\n\
+ 401 |     let z = 0; // DEEP-REVIEW-PLANT:important\n";
        let mut b = StandinBackend::new();
        let out = b.generate("standin:marker", &[req(part)]);
        let r: RawReview = serde_json::from_str(&out[0].as_ref().unwrap().text).unwrap();
        let got: Vec<(&str, i64)> = r
            .findings
            .iter()
            .map(|f| (f.file.as_str(), f.line))
            .collect();
        assert_eq!(got, [("big (x).rs", 401)]);
        // Only the part marker goes: a name ending in `]` stays whole.
        assert_eq!(
            parse_header("=== a [b] (added, +1 -0) ===").as_deref(),
            Some("a [b]")
        );
    }

    #[test]
    fn empty_fail_and_unknown() {
        let mut b = StandinBackend::new();
        let e = b.generate("standin:empty", &[req(DIFF)]);
        assert_eq!(e[0].as_ref().unwrap().text, r#"{"findings":[]}"#);
        assert!(b.generate("standin:fail", &[req(DIFF)])[0].is_err());
        assert!(b.generate("standin:nope", &[req(DIFF)])[0].is_err());
        assert_eq!(b.calls, 3);
        assert!(b.count_tokens("smollm2-135m", "x").is_err());
        assert_eq!(b.count_tokens("standin:empty", "12345").unwrap(), 2);
    }
}
