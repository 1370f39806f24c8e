//! Markdown escaping for untrusted text (model output, file names, commit
//! subjects): it must not be able to add headings, close or open code
//! blocks, start HTML blocks or break tables. Every piece of it goes
//! through [`inline`] (one-line contexts: titles, table cells), [`block`]
//! (prose) or [`fence`] (code), which neutralise Markdown structure while
//! keeping code spans and fenced code readable.

use crate::text::escape_control;

/// Longest run of `ch` in `s`.
fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// One-line text: line breaks and tabs become spaces, other control
/// characters are shown escaped (`\u{1b}`), so none can drive a terminal
/// that prints the report.
fn one_line(s: &str) -> String {
    let spaced: String = s
        .chars()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect();
    escape_control(spaced.trim()).into_owned()
}

/// `s` as an inline code span whose delimiter is longer than any backtick
/// run inside, so the content cannot end it early.
pub fn code_span(s: &str) -> String {
    // Code spans hold file names: every character stays visible, a newline
    // in a name as `\n` (two names must not look alike).
    let s = escape_control(s.trim()).into_owned();
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    // A space pad keeps a leading/trailing backtick from joining the delimiter.
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// A fenced code block with a fence longer than any backtick run in
/// `content` (at least three), and an info string limited to a safe
/// language tag.
pub fn fence(content: &str, lang: Option<&str>) -> String {
    let ticks = "`".repeat((longest_run(content, '`') + 1).max(3));
    let lang: String = lang
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_' | '#' | '.'))
        .take(24)
        .collect();
    let body: String = content
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    format!("{ticks}{lang}\n{}\n{ticks}", body.trim_end_matches('\n'))
}

/// Splits a line into (is_code, text) segments: a backtick run opens a
/// code span only when the same-length run closes it later on the line
/// (as in CommonMark); unmatched backticks are plain text.
fn segments(line: &str) -> Vec<(bool, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            text.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i] == '`' {
            i += 1;
        }
        let n = i - start;
        // Find a closing run of exactly n backticks.
        let mut j = i;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let s = j;
                while j < chars.len() && chars[j] == '`' {
                    j += 1;
                }
                if j - s == n {
                    close = Some((s, j));
                    break;
                }
            } else {
                j += 1;
            }
        }
        match close {
            Some((s, e)) => {
                if !text.is_empty() {
                    out.push((false, std::mem::take(&mut text)));
                }
                let inner: String = chars[i..s].iter().collect();
                out.push((true, inner));
                i = e;
            }
            None => text.extend(std::iter::repeat_n('`', n)),
        }
    }
    if !text.is_empty() {
        out.push((false, text));
    }
    out
}

/// Escapes Markdown punctuation in plain text. `strict` also escapes
/// emphasis and link syntax (titles, cells); prose keeps emphasis.
fn escape_text(s: &str, strict: bool, table: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '|' if table || strict => out.push_str("\\|"),
            '*' | '_' | '[' | ']' | '~' | '!' | '#' if strict => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn inline_impl(s: &str, table: bool) -> String {
    let s = one_line(s);
    segments(&s)
        .into_iter()
        .map(|(code, t)| {
            if code {
                let span = code_span(t.trim());
                if table {
                    span.replace('|', "\\|")
                } else {
                    span
                }
            } else {
                escape_text(&t, true, table)
            }
        })
        .collect()
}

/// One-line model text (titles, names): balanced code spans are kept,
/// everything else that Markdown would interpret is escaped.
pub fn inline(s: &str) -> String {
    inline_impl(s, false)
}

/// [`inline`] for a table cell (pipes escaped, also inside code spans, as
/// GitHub tables require).
pub fn cell(s: &str) -> String {
    inline_impl(s, true)
}

/// Whether a line (trimmed) would be read as a setext underline or a
/// thematic break.
fn is_rule_like(t: &str) -> bool {
    let t = t.trim_end();
    if t.is_empty() {
        return false;
    }
    let only = |ch: char| t.chars().all(|c| c == ch);
    if only('-') || only('=') {
        return true;
    }
    ['*', '_', '-'].iter().any(|&ch| {
        t.chars().all(|c| c == ch || c == ' ' || c == '\t')
            && t.chars().filter(|&c| c == ch).count() >= 3
    })
}

/// A prose line outside code: block-level markers at its start are
/// escaped, `<` is neutralised outside code spans.
fn prose_line(line: &str) -> String {
    // Prose quotes the repository (commit subjects): no control character
    // may reach a terminal that prints the report; tabs are just blanks.
    let line = escape_control(&line.replace('\t', " ")).into_owned();
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let mut body: String = segments(trimmed)
        .into_iter()
        .map(|(code, t)| {
            if code {
                code_span(t.trim())
            } else {
                escape_text(&t, false, false)
            }
        })
        .collect();
    let first = body.chars().next();
    if is_rule_like(trimmed) || matches!(first, Some('#' | '|' | '[' | '+' | '=')) {
        body.insert(0, '\\');
    }
    // Indentation is kept (nested lists), but never enough for an
    // indented code block to swallow following lines: at most 3.
    let indent: String = indent.chars().filter(|c| *c == ' ').take(3).collect();
    format!("{indent}{body}")
}

/// Multi-line model prose as Markdown that stays inside its section: code
/// fences in it are re-emitted with a safe fence (and closed if the model
/// left them open), every other line goes through `prose_line`.
pub fn block(s: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut lines = s.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let fence_ch = if t.starts_with("```") {
            Some('`')
        } else if t.starts_with("~~~") {
            Some('~')
        } else {
            None
        };
        if let Some(ch) = fence_ch {
            let n = t.chars().take_while(|&c| c == ch).count();
            let info = t[n..].trim();
            let mut content = Vec::new();
            for inner in lines.by_ref() {
                let it = inner.trim();
                if it.chars().take_while(|&c| c == ch).count() >= n && it.chars().all(|c| c == ch) {
                    break;
                }
                content.push(inner);
            }
            let lang = info.split_whitespace().next();
            out.push(fence(&content.join("\n"), lang));
            continue;
        }
        out.push(prose_line(line));
    }
    out.join("\n").trim().to_string()
}
