//! Stage 5: what a reviewer said → validated findings.
//!
//! Model output is untrusted data: every field is parsed, checked and
//! clipped here before anything else looks at it.
//!
//! The JSON shape the models are asked for (and
//! constrained to by the engine's grammar) is `RawFinding` inside
//! `{"findings": [...]}`.

pub use crate::text::{escape_control, sanitize_text};
use serde::{Deserialize, Serialize};

pub use crate::severity::Severity;

/// What kind of problem, as in the reference report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Regression,
    Gap,
    Enhancement,
    /// A problem in code shown as read-only context, caused by the change
    /// (its `cause` names the changed line).
    Consequence,
}

/// The changed line a consequence follows from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    pub file: String,
    pub line: u32,
}

/// One finding exactly as the model wrote it (after JSON parsing only).
/// Field order here is the order the grammar forces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawFinding {
    pub file: String,
    pub line: i64,
    #[serde(default)]
    pub end_line: Option<i64>,
    pub severity: String,
    pub kind: String,
    pub title: String,
    pub explanation: String,
    #[serde(default)]
    pub fix: String,
    /// Code the reviewer quotes from the new file (checked by grounding).
    #[serde(default)]
    pub quote: String,
    /// `path:line` of the changed line a consequence follows from (only
    /// when the chunk was shown context).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cause: String,
}

/// The top-level object a reviewer produces for one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawReview {
    pub findings: Vec<RawFinding>,
}

/// What a finding says, whoever raised it: the part one reviewer's
/// [`Finding`] and a consolidated finding share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub severity: Severity,
    pub kind: Kind,
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    pub title: String,
    pub explanation: String,
    pub fix: String,
    pub quote: String,
    /// For a finding on context code: the changed line it follows from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

/// A validated finding from one reviewer (in JSON its issue's fields sit
/// beside `reviewer` and `chunk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub reviewer: String,
    pub chunk: usize,
    #[serde(flatten)]
    pub issue: Issue,
}

// A finding *is* its issue plus who raised it: reading `f.file` rather
// than `f.issue.file` keeps every stage's code about the issue itself.
impl std::ops::Deref for Finding {
    type Target = Issue;
    fn deref(&self) -> &Issue {
        &self.issue
    }
}

impl std::ops::DerefMut for Finding {
    fn deref_mut(&mut self) -> &mut Issue {
        &mut self.issue
    }
}

/// At most this many findings are kept from one review (one reviewer, one
/// chunk); the rest are dropped and counted. A model stuck in a loop must
/// not flood the report or make consolidation quadratic in its garbage.
pub const MAX_FINDINGS_PER_REVIEW: usize = 50;
/// Longest kept title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest kept explanation or fix, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest kept quote, in characters.
pub const MAX_QUOTE_CHARS: usize = 2000;
/// Longest kept file path, in characters.
pub const MAX_PATH_CHARS: usize = 500;
/// Line numbers above this are absurd (no reviewable file is that long), so
/// the finding is rejected rather than trusted.
pub const MAX_LINE: i64 = 10_000_000;
/// A finding may span at most this many lines; a longer `end_line` is
/// clamped (models sometimes write "to the end of the file").
pub const MAX_SPAN: u32 = 1000;

/// A finding that failed validation, kept for the appendix and the retro
/// (it counts as a false positive of its reviewer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub reviewer: String,
    pub chunk: usize,
    /// Position in the reviewer's `findings` array (0-based).
    pub index: usize,
    /// Title as far as it could be read (sanitised, clipped), may be empty.
    pub title: String,
    /// Why it was rejected, in words.
    pub reason: String,
}

/// Everything validation made of one reviewer's output for one chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedReview {
    pub findings: Vec<Finding>,
    pub rejected: Vec<Rejected>,
    /// Findings beyond [`MAX_FINDINGS_PER_REVIEW`], dropped unread.
    pub dropped_over_limit: usize,
    /// The answer stopped mid-way (the token budget ran out): only the
    /// findings completed before that point were read.
    pub cut_short: bool,
}

/// Maps a model's severity word to ours.
///
/// Synonyms are mapped conservatively: never *up* — "high"/"major" become
/// important, not critical; "blocker" is the only synonym of critical.
/// Anything else is rejected rather than guessed.
pub fn parse_severity(s: &str) -> Option<Severity> {
    match s.trim().to_ascii_lowercase().as_str() {
        "critical" | "blocker" => Some(Severity::Critical),
        "important" | "major" | "high" => Some(Severity::Important),
        "suggestion" | "minor" | "low" | "nit" | "info" => Some(Severity::Suggestion),
        _ => None,
    }
}

/// Maps a model's kind word to ours (same policy as [`parse_severity`]).
pub fn parse_kind(s: &str) -> Option<Kind> {
    match s.trim().to_ascii_lowercase().as_str() {
        "regression" | "bug" => Some(Kind::Regression),
        "gap" | "missing" => Some(Kind::Gap),
        "enhancement" | "improvement" => Some(Kind::Enhancement),
        "consequence" => Some(Kind::Consequence),
        _ => None,
    }
}

impl Kind {
    /// The lowercase word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Regression => "regression",
            Kind::Gap => "gap",
            Kind::Enhancement => "enhancement",
            Kind::Consequence => "consequence",
        }
    }
}

/// Reads an integer the way models write it: a JSON number, or a string of
/// digits ("12"). Anything else is `None`.
fn json_int(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn json_str<'a>(obj: &'a serde_json::Map<String, serde_json::Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(|v| v.as_str())
}

/// Finds the JSON document in a model's output: the whole text, or else the
/// span from the first `{` to the last `}` (models without a grammar like to
/// wrap JSON in prose or a code fence).
fn extract_json(text: &str) -> Result<serde_json::Value, String> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(t) {
        return Ok(v);
    }
    match (t.find('{'), t.rfind('}')) {
        (Some(a), Some(b)) if a < b => {
            serde_json::from_str(&t[a..=b]).map_err(|e| format!("output is not valid JSON: {e}"))
        }
        _ => Err("output contains no JSON object".to_string()),
    }
}

/// An answer that stopped mid-way (its token budget ran out), closed after
/// its last complete finding: `{"findings":[{…},{…},{"file":"a` becomes
/// `{"findings":[{…},{…}]}`. Works on the findings object and on a bare
/// array. `None` when the text is not the beginning of either (no JSON at
/// all, or a different shape): such output stays unusable.
pub fn close_truncated(text: &str) -> Option<String> {
    let t = text.trim_start();
    let start = t.find(['{', '['])?;
    let t = &t[start..];
    // Depth at which the findings live: inside `{"findings":[` they are at
    // depth 3 (object, array, finding); in a bare array at depth 2.
    let finding_depth = if t.starts_with('[') { 2 } else { 3 };
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut array_open_at = None;
    let mut last_complete = None;
    for (i, b) in t.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if b == b'[' && depth == finding_depth - 1 && array_open_at.is_none() {
                    array_open_at = Some(i);
                }
            }
            b'}' | b']' => {
                if depth == finding_depth && b == b'}' {
                    last_complete = Some(i);
                }
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    // The answer is complete after all: nothing to close.
                    return None;
                }
            }
            _ => {}
        }
    }
    let open = array_open_at?;
    let body = match last_complete {
        Some(end) => &t[..=end],
        None => &t[..=open],
    };
    let close = if finding_depth == 2 { "]" } else { "]}" };
    Some(format!("{body}{close}"))
}

/// The first `max` characters of `s`, marked with `…` when cut; nothing
/// else changes (for fields compared with the repository byte for byte).
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Makes a model's path comparable with the diff's paths and returns the
/// real path of the chunk file it names.
///
/// The path is compared as written (a file name may hold a tab, a newline
/// or an escape sequence), and also against the visible form the prompt
/// shows such names in ([`escape_control`]). Then the usual slips are
/// forgiven: surrounding blanks, `./` and leading `/` are stripped, `\`
/// becomes `/`, git's `a/`/`b/` prefixes are dropped, and a path missing its
/// leading directories is taken when exactly one chunk file ends with it
/// (if several do, the one whose reviewed lines contain `line` wins). A path
/// that names no chunk file is returned sanitised (grounding will reject it,
/// and it may be shown).
fn resolve_path(raw: &str, line: u32, chunk_files: &[(String, Vec<u32>)]) -> String {
    let strip = |p: &str| -> String {
        let mut p = p.trim();
        while let Some(rest) = p.strip_prefix("./").or_else(|| p.strip_prefix('/')) {
            p = rest;
        }
        p.to_string()
    };
    if !chunk_files.is_empty() {
        let as_written = [raw.to_string(), strip(raw), strip(&raw.replace('\\', "/"))];
        for p in as_written {
            if let Some(found) = lookup(&p, line, chunk_files) {
                return found;
            }
        }
    }
    strip(&sanitize_text(raw, MAX_PATH_CHARS, false).replace('\\', "/"))
}

/// The chunk file `p` names, exactly or in its displayed form, directly,
/// after a git `a/`/`b/` prefix, or as a unique (or line-decided) suffix.
fn lookup(p: &str, line: u32, chunk_files: &[(String, Vec<u32>)]) -> Option<String> {
    if p.is_empty() {
        return None;
    }
    let names = |f: &str, p: &str| f == p || escape_control(f) == p;
    if let Some((f, _)) = chunk_files.iter().find(|(f, _)| names(f, p)) {
        return Some(f.clone());
    }
    // `a/` and `b/` are git's diff prefixes; strip them only when that
    // yields a reviewed file (a repository may have a directory `a/`).
    for prefix in ["a/", "b/"] {
        if let Some(rest) = p.strip_prefix(prefix) {
            if let Some((f, _)) = chunk_files.iter().find(|(f, _)| names(f, rest)) {
                return Some(f.clone());
            }
        }
    }
    let suffix = format!("/{p}");
    let candidates: Vec<&(String, Vec<u32>)> = chunk_files
        .iter()
        .filter(|(f, _)| f.ends_with(&suffix) || escape_control(f).ends_with(&suffix))
        .collect();
    match candidates.as_slice() {
        [one] => Some(one.0.clone()),
        [] => None,
        many => {
            let with_line: Vec<_> = many.iter().filter(|(_, ls)| ls.contains(&line)).collect();
            match with_line.as_slice() {
                [one] => Some(one.0.clone()),
                _ => None,
            }
        }
    }
}

/// Validates one reviewer's output for one chunk into [`Finding`]s.
///
/// `chunk_files` are the chunk's files with their reviewed new-side line
/// numbers; they are only used to resolve sloppy paths (see
/// `resolve_path`), never to decide grounding (that is [`crate::check::grounding`]).
///
/// Per finding: unknown severity/kind, empty file or title, line ≤ 0 or
/// above [`MAX_LINE`] → rejected with a reason; `end_line` missing or before
/// `line` → `line`; span above [`MAX_SPAN`] → clamped; prose strings
/// sanitised (control characters removed) and clipped; `file` and `quote`
/// only clipped, since they are compared with the repository's real bytes
/// (see [`escape_control`] for showing them). Only the first
/// [`MAX_FINDINGS_PER_REVIEW`] entries are read.
///
/// Returns `Err` only when the output as a whole is unusable (no JSON, no
/// `findings` array); the caller records that as the reviewer's error for
/// the chunk.
pub fn parse_review(
    reviewer: &str,
    chunk: usize,
    text: &str,
    chunk_files: &[(String, Vec<u32>)],
) -> Result<ParsedReview, String> {
    let (value, cut_short) = match extract_json(text) {
        Ok(v) => (v, false),
        Err(e) => match close_truncated(text).and_then(|t| extract_json(&t).ok()) {
            Some(v) => (v, true),
            None => return Err(e),
        },
    };
    let items = match &value {
        serde_json::Value::Object(o) => match o.get("findings") {
            Some(serde_json::Value::Array(a)) => a,
            Some(_) => return Err("`findings` is not an array".to_string()),
            None => return Err("output has no `findings` array".to_string()),
        },
        // A bare array is what small models produce when the grammar is off.
        serde_json::Value::Array(a) => a,
        _ => return Err("output is not a JSON object".to_string()),
    };
    let mut out = ParsedReview {
        dropped_over_limit: items.len().saturating_sub(MAX_FINDINGS_PER_REVIEW),
        cut_short,
        ..ParsedReview::default()
    };
    for (index, item) in items.iter().take(MAX_FINDINGS_PER_REVIEW).enumerate() {
        match validate_one(reviewer, chunk, item, chunk_files) {
            Ok(f) => out.findings.push(f),
            Err((title, reason)) => out.rejected.push(Rejected {
                reviewer: reviewer.to_string(),
                chunk,
                index,
                title,
                reason,
            }),
        }
    }
    Ok(out)
}

fn validate_one(
    reviewer: &str,
    chunk: usize,
    item: &serde_json::Value,
    chunk_files: &[(String, Vec<u32>)],
) -> Result<Finding, (String, String)> {
    let Some(obj) = item.as_object() else {
        return Err((String::new(), "finding is not a JSON object".to_string()));
    };
    let title = sanitize_text(json_str(obj, "title").unwrap_or(""), MAX_TITLE_CHARS, false);
    let reject = |reason: String| Err((title.clone(), reason));
    if title.is_empty() {
        return reject("empty or missing title".to_string());
    }
    let sev_raw = json_str(obj, "severity").unwrap_or("");
    let Some(severity) = parse_severity(sev_raw) else {
        return reject(format!(
            "unknown severity {:?}",
            sanitize_text(sev_raw, 40, false)
        ));
    };
    let kind_raw = json_str(obj, "kind").unwrap_or("");
    let Some(kind) = parse_kind(kind_raw) else {
        return reject(format!(
            "unknown kind {:?}",
            sanitize_text(kind_raw, 40, false)
        ));
    };
    let Some(line) = obj.get("line").and_then(json_int) else {
        return reject("missing or non-integer line".to_string());
    };
    if line <= 0 {
        return reject(format!("line {line} is not a line number (must be ≥ 1)"));
    }
    if line > MAX_LINE {
        return reject(format!("line {line} is absurdly large"));
    }
    let line_start = line as u32;
    let end = obj
        .get("end_line")
        .and_then(json_int)
        .unwrap_or(line)
        .clamp(line, MAX_LINE);
    let line_end = (end as u32).min(line_start.saturating_add(MAX_SPAN));
    // The path and the quote are compared with the repository byte for
    // byte (a file name may hold a tab or an escape sequence, a line may
    // hold ESC), so they are only clipped here; renderers escape them.
    let file_raw = clip(json_str(obj, "file").unwrap_or(""), MAX_PATH_CHARS);
    if file_raw.trim().is_empty() {
        return reject("empty or missing file".to_string());
    }
    let file = resolve_path(&file_raw, line_start, chunk_files);
    if file.is_empty() {
        return reject("empty or missing file".to_string());
    }
    // `path:line` of the changed line a consequence follows from; anything
    // else is no cause (grounding then decides without one).
    let cause = json_str(obj, "cause")
        .map(|c| clip(c, MAX_PATH_CHARS + 12))
        .and_then(|c| {
            let (p, l) = c.trim().rsplit_once(':')?;
            let line: u32 = l.trim().parse().ok().filter(|&l| l > 0)?;
            let file = resolve_path(p, line, chunk_files);
            (!file.is_empty()).then_some(Cause { file, line })
        });
    Ok(Finding {
        reviewer: reviewer.to_string(),
        chunk,
        issue: Issue {
            severity,
            kind,
            file,
            line_start,
            line_end,
            title,
            explanation: sanitize_text(
                json_str(obj, "explanation").unwrap_or(""),
                MAX_TEXT_CHARS,
                true,
            ),
            fix: sanitize_text(json_str(obj, "fix").unwrap_or(""), MAX_TEXT_CHARS, true),
            quote: clip(json_str(obj, "quote").unwrap_or(""), MAX_QUOTE_CHARS),
            cause,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(file_json: &str, quote_json: &str) -> ParsedReview {
        let text = format!(
            r#"{{"findings":[{{"file":{file_json},"line":2,"severity":"critical","kind":"regression","title":"T","explanation":"E","quote":{quote_json}}}]}}"#
        );
        let files = vec![
            ("dir/tab\there.py".to_string(), vec![1, 2, 3]),
            (
                "esc\u{1b}[31mred\u{1b}]0;title\u{7}.py".to_string(),
                vec![1, 2, 3],
            ),
            ("new\nline.py".to_string(), vec![1, 2, 3]),
            ("src/main.rs".to_string(), vec![1, 2, 3]),
        ];
        parse_review("r", 0, &text, &files).unwrap()
    }

    #[test]
    fn an_answer_cut_short_keeps_its_completed_findings() {
        let f = |title: &str| {
            format!(
                r#"{{"file":"src/main.rs","line":2,"severity":"important","kind":"gap","title":"{title}","explanation":"a }} and a \" inside","quote":"x"}}"#
            )
        };
        let files = vec![("src/main.rs".to_string(), vec![1, 2, 3])];
        let full = format!(r#"{{"findings":[{},{}]}}"#, f("one"), f("two"));
        let p = parse_review("r", 0, &full, &files).unwrap();
        assert!(!p.cut_short);
        assert_eq!(p.findings.len(), 2);
        // Cut anywhere inside the second finding: the first one is kept.
        let second_starts = full.find(&f("two")).unwrap();
        for cut in [second_starts + 1, second_starts + 20, full.len() - 3] {
            let p = parse_review("r", 0, &full[..cut], &files).unwrap();
            assert!(p.cut_short, "cut at {cut}");
            let titles: Vec<&str> = p.findings.iter().map(|f| f.title.as_str()).collect();
            assert_eq!(titles, vec!["one"], "cut at {cut}");
        }
        // Cut inside the first finding: no finding, but a usable answer.
        let p = parse_review("r", 0, &full[..30], &files).unwrap();
        assert!(p.cut_short && p.findings.is_empty());
        // A bare array is closed too; text that is no JSON stays unusable.
        assert_eq!(
            close_truncated(&format!("[{},{{\"fi", f("a"))),
            Some(format!("[{}]", f("a")))
        );
        assert!(parse_review("r", 0, "I think the code is fine", &files).is_err());
        assert_eq!(close_truncated(r#"{"findings":[]}"#), None);
    }

    #[test]
    fn escape_control_makes_every_control_character_visible() {
        assert_eq!(
            escape_control("a\u{1b}[31mb\u{1b}]8;;http://x\u{7}c\nd\te\r\u{9b}f\u{202e}g\u{7f}"),
            "a\\u{1b}[31mb\\u{1b}]8;;http://x\\u{7}c\\nd\\te\\r\\u{9b}f\\u{202e}g\\u{7f}"
        );
        // Clean text is borrowed as is; escaping twice changes nothing.
        assert!(matches!(
            escape_control("src/ünï code.rs"),
            std::borrow::Cow::Borrowed(_)
        ));
        let once = escape_control("x\u{1b}\ny").into_owned();
        assert_eq!(escape_control(&once), once);
        assert!(!once.chars().any(char::is_control));
    }

    #[test]
    fn file_names_with_controls_resolve_to_the_real_path() {
        // As a grammar-constrained model writes them (JSON escapes decode
        // to the real characters)…
        for (json, real) in [
            (r#""dir/tab\there.py""#, "dir/tab\there.py"),
            (
                r#""esc\u001b[31mred\u001b]0;title\u0007.py""#,
                "esc\u{1b}[31mred\u{1b}]0;title\u{7}.py",
            ),
            (r#""new\nline.py""#, "new\nline.py"),
            // …and as the prompt shows them (escaped), possibly sloppy.
            (r#""dir/tab\\there.py""#, "dir/tab\there.py"),
            (r#""./tab\\there.py""#, "dir/tab\there.py"),
            (
                r#""esc\\u{1b}[31mred\\u{1b}]0;title\\u{7}.py""#,
                "esc\u{1b}[31mred\u{1b}]0;title\u{7}.py",
            ),
            (r#""new\\nline.py""#, "new\nline.py"),
            (r#"" ./src/main.rs ""#, "src/main.rs"),
        ] {
            let p = one(json, r#""""#);
            assert_eq!(p.findings.len(), 1, "{json}: {p:?}");
            assert_eq!(p.findings[0].file, real, "{json}");
        }
    }

    #[test]
    fn an_unknown_path_is_sanitised_and_a_quote_keeps_its_bytes() {
        let p = one(r#""nope\u001b[2J.py""#, r#""x = \"\u001b[31m\"""#);
        assert_eq!(p.findings[0].file, "nope[2J.py");
        assert_eq!(p.findings[0].quote, "x = \"\u{1b}[31m\"");
    }
}
