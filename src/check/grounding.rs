//! Stage 6: the false-positive filter. A finding must point at code that
//! was actually reviewed; everything else is *ungrounded*: it never reaches
//! the consolidated review, counts as a false positive of its reviewer, and
//! is listed in the appendix.
//!
//! Pure data in, data out.

use crate::check::findings::Finding;
use crate::plan::ReviewPlan;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How many lines outside a hunk's new-side range a finding may start or
/// end and still count as "next to" the change. Hunks already carry git's 3
/// context lines; 3 more absorb the usual off-by-a-few of small models
/// (pointing at the `fn` line above a changed body, or the closing brace).
pub const LINE_TOLERANCE: u32 = 3;

/// New-side line ranges (inclusive, 1-based) of the reviewed hunks of one
/// file, context lines included.
pub type HunkRanges = Vec<(u32, u32)>;

/// Why a finding is ungrounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum UngroundedReason {
    /// The file is not part of the reviewed diff.
    FileNotInDiff,
    /// The lines are not within [`LINE_TOLERANCE`] of any changed hunk.
    OutsideHunks,
    /// The line is past the end of the file at the reviewed head.
    PastEndOfFile { file_lines: u32 },
    /// The quoted code does not occur in the file at the reviewed head.
    QuoteNotFound,
    /// It points at code shown as read-only context but names no changed
    /// line it follows from (`cause`), or one that did not change.
    ContextWithoutCause,
}

impl std::fmt::Display for UngroundedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UngroundedReason::FileNotInDiff => f.write_str("file is not in the reviewed diff"),
            UngroundedReason::OutsideHunks => write!(
                f,
                "lines are not within {LINE_TOLERANCE} lines of a changed hunk"
            ),
            UngroundedReason::PastEndOfFile { file_lines } => {
                write!(f, "line is past the end of the file ({file_lines} lines)")
            }
            UngroundedReason::QuoteNotFound => {
                f.write_str("quoted code does not occur in the file at the reviewed head")
            }
            UngroundedReason::ContextWithoutCause => f.write_str(
                "points at read-only context without naming a changed line it follows from",
            ),
        }
    }
}

/// A finding that failed grounding, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ungrounded {
    pub finding: Finding,
    pub reason: UngroundedReason,
}

/// Grounding's output: the findings that may be consolidated, and the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grounded {
    pub grounded: Vec<Finding>,
    pub ungrounded: Vec<Ungrounded>,
}

/// The new-side hunk ranges of every reviewed file of a plan, for [`ground`].
///
/// A pure deletion hunk (no new lines) becomes the single line git names
/// for it, so findings about "this removal" next to it still ground.
pub fn hunk_ranges(plan: &ReviewPlan) -> HashMap<String, HunkRanges> {
    plan.files
        .iter()
        .map(|f| {
            let ranges = f
                .hunks
                .iter()
                .map(|h| {
                    let start = h.new_start.max(1);
                    let end = if h.new_lines == 0 {
                        start
                    } else {
                        h.new_start.saturating_add(h.new_lines - 1).max(start)
                    };
                    (start, end)
                })
                .collect();
            (f.path.clone(), ranges)
        })
        .collect()
}

/// Collapses every whitespace run to one space and trims, so a quote
/// re-indented by the model still matches.
fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A quote line that only marks an elision (`...`, `// ...`).
fn is_elision(line: &str) -> bool {
    let t = line
        .trim()
        .trim_start_matches("//")
        .trim_start_matches('#')
        .trim();
    t == "..." || t == "…"
}

/// The quote with every marker of a line the plan cut short
/// ([`crate::plan::cut_marker`]) turned into an elision: the model saw the
/// line's head and the marker, and may quote both.
fn elide_cut_markers(quote: &str) -> std::borrow::Cow<'_, str> {
    use crate::plan::{CUT_MARKER_END, CUT_MARKER_START};
    if !quote.contains(CUT_MARKER_START) {
        return quote.into();
    }
    let mut out = String::with_capacity(quote.len());
    let mut rest = quote;
    while let Some(at) = rest.find(CUT_MARKER_START) {
        let after = &rest[at + CUT_MARKER_START.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[digits..].strip_prefix(CUT_MARKER_END) {
            Some(tail) if digits > 0 => {
                out.push_str(&rest[..at]);
                out.push_str("\n...\n");
                rest = tail;
            }
            _ => {
                out.push_str(&rest[..at + CUT_MARKER_START.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.into()
}

/// Whether `quote` occurs in the normalised file text. The quote may elide
/// lines with `...` (each piece must then occur), and may carry diff
/// markers (`+`/` ` at line start) copied from the prompt.
fn quote_found(quote: &str, normalized_file: &str) -> bool {
    // Validation marks a clipped quote with a trailing `…`; what is left is
    // still a verbatim prefix of the model's quote.
    let quote = quote.strip_suffix('…').unwrap_or(quote);
    let quote = &elide_cut_markers(quote);
    let pieces_found = |q: &str| {
        let mut pieces = Vec::new();
        let mut cur = Vec::new();
        for line in q.lines() {
            if is_elision(line) {
                pieces.push(std::mem::take(&mut cur));
            } else {
                cur.push(line);
            }
        }
        pieces.push(cur);
        let mut any = false;
        for p in pieces {
            let n = normalize_ws(&p.join("\n"));
            if n.is_empty() {
                continue;
            }
            any = true;
            if !normalized_file.contains(&n) {
                return false;
            }
        }
        any
    };
    if pieces_found(quote) {
        return true;
    }
    let unmarked: Vec<&str> = quote
        .lines()
        .map(|l| l.strip_prefix('+').unwrap_or(l))
        .collect();
    pieces_found(&unmarked.join("\n"))
}

/// Splits findings into grounded and ungrounded.
///
/// * `hunks`: for each reviewed file, its new-side hunk ranges (see
///   [`hunk_ranges`]). A file not in this map is not in the reviewed diff.
/// * `contents`: file text at the reviewed head. When a file's text is
///   absent (deleted file, binary) the end-of-file and quote checks are
///   skipped for it: they cannot be decided, and the line check still
///   applies.
///
/// A finding is grounded when its file is reviewed, its line range overlaps
/// a hunk widened by [`LINE_TOLERANCE`] on both sides, it does not start
/// past the end of the file, and its non-empty `quote` occurs in the file
/// (whitespace-normalised). Order of the input is kept in both outputs.
pub fn ground(
    findings: Vec<Finding>,
    hunks: &HashMap<String, HunkRanges>,
    contents: &HashMap<String, String>,
) -> Grounded {
    ground_with_context(findings, hunks, &HashMap::new(), contents)
}

/// Line ranges shown as read-only context, by chunk and path.
pub type Shown = HashMap<usize, HashMap<String, Vec<(u32, u32)>>>;

/// [`ground`] for chunks that were shown read-only context (`shown`): a
/// finding on a shown context line is grounded when its `cause` is a
/// changed line (within [`LINE_TOLERANCE`] of a hunk) and its quote is in
/// the file; without such a cause it is ungrounded
/// ([`UngroundedReason::ContextWithoutCause`]). A finding on a line that
/// was neither in the diff nor shown is ungrounded as before.
pub fn ground_with_context(
    findings: Vec<Finding>,
    hunks: &HashMap<String, HunkRanges>,
    shown: &Shown,
    contents: &HashMap<String, String>,
) -> Grounded {
    let mut normalized: HashMap<&str, String> = HashMap::new();
    let mut out = Grounded::default();
    for f in findings {
        let on_context = shown
            .get(&f.chunk)
            .and_then(|s| s.get(&f.file))
            .is_some_and(|r| r.iter().any(|&(s, e)| f.line_start <= e && f.line_end >= s));
        let mut reason = check(&f, hunks, contents, &mut normalized);
        if on_context
            && matches!(
                reason,
                Some(UngroundedReason::FileNotInDiff | UngroundedReason::OutsideHunks)
            )
        {
            let caused = f.cause.as_ref().is_some_and(|c| {
                hunks.get(&c.file).is_some_and(|r| {
                    r.iter().any(|&(s, e)| {
                        c.line <= e.saturating_add(LINE_TOLERANCE)
                            && c.line >= s.saturating_sub(LINE_TOLERANCE)
                    })
                })
            });
            reason = if caused {
                content_check(&f, contents, &mut normalized)
            } else {
                Some(UngroundedReason::ContextWithoutCause)
            };
        }
        match reason {
            None => out.grounded.push(f),
            Some(reason) => out.ungrounded.push(Ungrounded { finding: f, reason }),
        }
    }
    out
}

fn check<'a>(
    f: &Finding,
    hunks: &HashMap<String, HunkRanges>,
    contents: &'a HashMap<String, String>,
    normalized: &mut HashMap<&'a str, String>,
) -> Option<UngroundedReason> {
    let Some(ranges) = hunks.get(&f.file) else {
        return Some(UngroundedReason::FileNotInDiff);
    };
    let near = ranges.iter().any(|&(s, e)| {
        f.line_start <= e.saturating_add(LINE_TOLERANCE)
            && f.line_end >= s.saturating_sub(LINE_TOLERANCE)
    });
    if !near {
        return Some(UngroundedReason::OutsideHunks);
    }
    content_check(f, contents, normalized)
}

/// The end-of-file and quote checks of a finding against the file's text.
fn content_check<'a>(
    f: &Finding,
    contents: &'a HashMap<String, String>,
    normalized: &mut HashMap<&'a str, String>,
) -> Option<UngroundedReason> {
    if let Some((path, text)) = contents.get_key_value(&f.file) {
        let file_lines = text.lines().count() as u32;
        if f.line_start > file_lines.max(1) {
            return Some(UngroundedReason::PastEndOfFile { file_lines });
        }
        if !f.quote.trim().is_empty() {
            let norm = normalized
                .entry(path.as_str())
                .or_insert_with(|| normalize_ws(text));
            if !quote_found(&f.quote, norm) {
                return Some(UngroundedReason::QuoteNotFound);
            }
        }
    }
    None
}

/// The exact lines `start..=end` (1-based) of `file_text`, at most
/// `max_lines` of them, joined with `\n` and without a trailing newline.
/// Lines past the end of the file are simply not there; an empty string
/// means there is nothing to show. This is what the report shows under a
/// finding: the repository's text, never the model's.
pub fn excerpt(file_text: &str, start: u32, end: u32, max_lines: usize) -> String {
    let start = start.max(1) as usize;
    let end = (end as usize).max(start);
    let take = (end - start + 1).min(max_lines);
    file_text
        .lines()
        .skip(start - 1)
        .take(take)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::findings::{Issue, Kind, Severity};

    fn finding(file: &str, line: u32, quote: &str) -> Finding {
        Finding {
            reviewer: "r".into(),
            chunk: 0,
            issue: Issue {
                severity: Severity::Critical,
                kind: Kind::Regression,
                file: file.into(),
                line_start: line,
                line_end: line,
                title: "T".into(),
                explanation: String::new(),
                fix: String::new(),
                quote: quote.into(),
                cause: None,
            },
        }
    }

    /// A finding on shown context is grounded only with a changed cause; on
    /// a line nobody was shown it stays ungrounded, cause or not.
    #[test]
    fn context_findings_need_a_changed_cause() {
        let hunks: HashMap<String, HunkRanges> = [("a.rs".to_string(), vec![(10, 16)])].into();
        let shown: Shown = [(0, [("b.rs".to_string(), vec![(1, 5)])].into())].into();
        let contents: HashMap<String, String> = [
            ("a.rs".to_string(), "x\n".repeat(20)),
            (
                "b.rs".to_string(),
                "fn b() {\n    a()\n}\n\n\n\n\n".to_string(),
            ),
        ]
        .into();
        let with_cause = |line: u32, cause_line: u32| {
            let mut f = finding("b.rs", line, "a()");
            f.issue.kind = Kind::Consequence;
            f.issue.cause = Some(crate::check::findings::Cause {
                file: "a.rs".into(),
                line: cause_line,
            });
            f
        };
        let g = ground_with_context(
            vec![
                with_cause(2, 12),
                finding("b.rs", 2, "a()"),
                with_cause(2, 40),
                with_cause(7, 12),
            ],
            &hunks,
            &shown,
            &contents,
        );
        assert_eq!(g.grounded, vec![with_cause(2, 12)]);
        let reasons: Vec<_> = g.ungrounded.iter().map(|u| u.reason.clone()).collect();
        assert_eq!(
            reasons,
            vec![
                UngroundedReason::ContextWithoutCause,
                UngroundedReason::ContextWithoutCause,
                UngroundedReason::FileNotInDiff,
            ]
        );
        // Without context nothing changes for the same findings.
        let plain = ground(vec![with_cause(2, 12)], &hunks, &contents);
        assert_eq!(plain.ungrounded[0].reason, UngroundedReason::FileNotInDiff);
    }

    #[test]
    fn names_and_quotes_with_control_characters_ground_on_their_real_bytes() {
        let esc_name = "esc\u{1b}[31mred.py";
        let tab_name = "tab\there.py";
        let nl_name = "new\nline.py";
        let text = "a = 1\nb = \"\u{1b}[31mred\u{1b}[0m\"\nc = 3\n";
        let hunks: HashMap<String, HunkRanges> = [esc_name, tab_name, nl_name]
            .iter()
            .map(|n| (n.to_string(), vec![(1, 3)]))
            .collect();
        let contents: HashMap<String, String> = [esc_name, tab_name, nl_name]
            .iter()
            .map(|n| (n.to_string(), text.to_string()))
            .collect();
        let quote = "b = \"\u{1b}[31mred\u{1b}[0m\"";
        let g = ground(
            vec![
                finding(esc_name, 2, quote),
                finding(tab_name, 2, quote),
                finding(nl_name, 2, quote),
                // The sanitised forms are other names and other code.
                finding("esc[31mred.py", 2, ""),
                finding(tab_name, 2, "b = \"[31mred[0m\""),
            ],
            &hunks,
            &contents,
        );
        assert_eq!(g.grounded.len(), 3, "{:?}", g.ungrounded);
        assert_eq!(g.ungrounded[0].reason, UngroundedReason::FileNotInDiff);
        assert_eq!(g.ungrounded[1].reason, UngroundedReason::QuoteNotFound);
    }

    #[test]
    fn a_quote_of_a_cut_line_grounds_on_the_kept_head() {
        let long = format!("data = \"{}\"", "x".repeat(7000));
        let text = format!("{long}\nos.system(input())\n");
        let hunks = HashMap::from([("a.py".to_string(), vec![(1, 2)])]);
        let contents = HashMap::from([("a.py".to_string(), text)]);
        let quote = format!(
            "{}{}\nos.system(input())",
            &long[..40],
            crate::plan::cut_marker(long.len() - 40)
        );
        let forged = format!("{}{}", "data = \"nope", crate::plan::cut_marker(5));
        let g = ground(
            vec![finding("a.py", 1, &quote), finding("a.py", 1, &forged)],
            &hunks,
            &contents,
        );
        assert_eq!(g.grounded.len(), 1, "{:?}", g.ungrounded);
        assert_eq!(g.ungrounded[0].reason, UngroundedReason::QuoteNotFound);
    }
}
