//! Text that comes from outside (the repository, a model) made safe to
//! show: control characters escaped for a terminal, or removed and clipped
//! for a report. For display only: comparisons use the real text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Removes control characters (keeping `\n` and `\t` when `multiline`;
/// single-line fields get them as spaces), trims, and clips to `max` chars.
/// Linear in the input, so a 1 MB string costs one pass.
pub fn sanitize_text(s: &str, max: usize, multiline: bool) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut n = 0usize;
    let mut stopped_early = false;
    // `\r` is dropped so `\r\n` text compares line by line with the repo.
    for c in s.chars() {
        if n >= max.saturating_add(64) {
            // Enough read to fill `max` after trimming; stop scanning.
            stopped_early = true;
            break;
        }
        let c = match c {
            '\n' | '\t' if multiline => c,
            '\n' | '\t' | '\r' if !multiline => ' ',
            '\r' => continue,
            c if c.is_control() => continue,
            // Bidi overrides can make a title read differently than it is.
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => continue,
            c => c,
        };
        out.push(c);
        n += 1;
    }
    let trimmed = out.trim();
    let clipped: String = trimmed.chars().take(max).collect();
    if stopped_early || clipped.len() < trimmed.len() {
        // Say so: a silently cut explanation reads as the model's own words.
        let mut c = clipped.trim_end().to_string();
        c.push('…');
        c
    } else {
        clipped
    }
}

/// Whether `c` must not reach a terminal as is: C0 and C1 controls, DEL,
/// bidirectional overrides and isolates (they make text read differently
/// than it is), and the Unicode line and paragraph separators.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Text from the repository or a model in a visible, one-line form for a
/// terminal or a report: `\n`, `\t`, `\r` and every other unsafe character
/// (escape sequences, bidi overrides...) written as `\u{1b}`, so nothing
/// can move the cursor, recolour or retitle the terminal, or break a list.
/// For display only: comparisons use the real text.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
