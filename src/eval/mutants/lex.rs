//! The scanner's first pass over a file: which [`Lang`] it is in, which
//! bytes are code, comment or string ([`classify`]; see the module doc of
//! `eval::mutants` for its limits), and the byte-level word and trimming
//! helpers the operators use.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Rust,
    Python,
    Go,
    /// JavaScript and TypeScript.
    Js,
}

impl Lang {
    pub(super) fn from_name(name: &str) -> Option<Lang> {
        Some(match name {
            "rust" => Lang::Rust,
            "python" => Lang::Python,
            "go" => Lang::Go,
            "javascript" | "typescript" => Lang::Js,
            _ => return None,
        })
    }
}

/// What a byte of the file is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Code,
    Comment,
    Str,
}

/// Classifies every byte of `text` (see the module doc for the limits).
pub(super) fn classify(text: &[u8], lang: Lang) -> Vec<Class> {
    let n = text.len();
    let mut class = vec![Class::Code; n];
    let mut i = 0;
    while i < n {
        let b = text[i];
        let rest = &text[i..];
        let (kind, end) = if lang == Lang::Python && b == b'#'
            || lang != Lang::Python && rest.starts_with(b"//")
        {
            (Class::Comment, line_end_of(text, i))
        } else if lang != Lang::Python && rest.starts_with(b"/*") {
            (
                Class::Comment,
                block_comment_end(text, i, lang == Lang::Rust),
            )
        } else {
            match (lang, b) {
                (Lang::Python, b'"' | b'\'') => {
                    let triple = [b, b, b];
                    if rest.starts_with(&triple) {
                        (Class::Str, triple_end(text, i, b))
                    } else {
                        (Class::Str, quoted_end(text, i, b, false, true))
                    }
                }
                (Lang::Js, b'"' | b'\'') => (Class::Str, quoted_end(text, i, b, false, true)),
                (Lang::Js, b'`') => (Class::Str, quoted_end(text, i, b, true, true)),
                (Lang::Js, b'/') => match js_regex_end(text, i) {
                    Some(end) => (Class::Str, end),
                    None => (Class::Code, i + 1),
                },
                (Lang::Go, b'"' | b'\'') => (Class::Str, quoted_end(text, i, b, false, true)),
                (Lang::Go, b'`') => (Class::Str, quoted_end(text, i, b, true, false)),
                (Lang::Rust, b'"') => (Class::Str, quoted_end(text, i, b, true, true)),
                (Lang::Rust, b'\'') => match rust_char_end(text, i) {
                    Some(end) => (Class::Str, end),
                    None => (Class::Code, i + 1),
                },
                (Lang::Rust, b'r') => match rust_raw_end(text, i) {
                    Some(end) => (Class::Str, end),
                    None => (Class::Code, i + 1),
                },
                _ => (Class::Code, i + 1),
            }
        };
        let end = end.clamp(i + 1, n);
        if kind != Class::Code {
            class[i..end].fill(kind);
        }
        i = end;
    }
    class
}

/// Index of the `\n` ending the line that holds `i` (or the text's end).
pub(super) fn line_end_of(text: &[u8], i: usize) -> usize {
    text[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| i + p)
}

fn block_comment_end(text: &[u8], start: usize, nested: bool) -> usize {
    let mut depth = 1;
    let mut j = start + 2;
    while j < text.len() {
        if text[j..].starts_with(b"*/") {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else if nested && text[j..].starts_with(b"/*") {
            depth += 1;
            j += 2;
        } else {
            j += 1;
        }
    }
    text.len()
}

/// End (exclusive) of a string opened by `quote` at `start`. A string that
/// may not span lines ends at the newline when it is not closed before.
fn quoted_end(text: &[u8], start: usize, quote: u8, multiline: bool, escapes: bool) -> usize {
    let mut j = start + 1;
    while j < text.len() {
        let b = text[j];
        if escapes && b == b'\\' {
            j += 2;
            continue;
        }
        if b == quote {
            return j + 1;
        }
        if b == b'\n' && !multiline {
            return j;
        }
        j += 1;
    }
    text.len()
}

fn triple_end(text: &[u8], start: usize, quote: u8) -> usize {
    let close = [quote, quote, quote];
    let mut j = start + 3;
    while j < text.len() {
        if text[j] == b'\\' {
            j += 2;
        } else if text[j..].starts_with(&close) {
            return j + 3;
        } else {
            j += 1;
        }
    }
    text.len()
}

/// A JS regex literal at `start` (a `/` where an operand is expected:
/// after an operator, an opening bracket, `,`, `;` or a keyword like
/// `return`), up to its closing `/` and flags on the same line; `None`
/// for a division.
fn js_regex_end(text: &[u8], start: usize) -> Option<usize> {
    let before = text[..start].trim_ascii_end();
    let operand_expected = match before.last() {
        None => true,
        Some(&b) if is_ident(b) => {
            let word_start = before
                .iter()
                .rposition(|&c| !is_ident(c))
                .map_or(0, |p| p + 1);
            let word = &before[word_start..];
            [
                "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void",
                "throw", "yield", "await",
            ]
            .iter()
            .any(|k| word == k.as_bytes())
        }
        Some(b) => b"(,=:[!&|?{};+-*%<>~^".contains(b),
    };
    if !operand_expected {
        return None;
    }
    let mut j = start + 1;
    let mut in_class = false;
    while j < text.len() {
        match text[j] {
            b'\\' => j += 1,
            b'\n' => return None,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'/' if !in_class => {
                j += 1;
                while j < text.len() && text[j].is_ascii_alphabetic() {
                    j += 1;
                }
                return Some(j);
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// A Rust char literal at `start` (`'a'`, `'\n'`, `'\u{1F600}'`, `'é'`);
/// `None` for a lifetime or label.
fn rust_char_end(text: &[u8], start: usize) -> Option<usize> {
    let next = *text.get(start + 1)?;
    if next == b'\\' {
        let limit = (start + 14).min(text.len());
        return (start + 3..limit)
            .find(|&j| text[j] == b'\'')
            .map(|j| j + 1);
    }
    if next == b'\n' || next == b'\'' {
        return None;
    }
    let width = match next {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    (text.get(start + 1 + width) == Some(&b'\'')).then_some(start + 2 + width)
}

/// A Rust raw string (`r"…"`, `r#"…"#`, `br"…"`) whose `r` is at `start`.
fn rust_raw_end(text: &[u8], start: usize) -> Option<usize> {
    let before = |k: usize| k == 0 || !is_ident(text[k - 1]);
    let prefix_ok = before(start) || (text[start - 1] == b'b' && before(start - 1));
    if !prefix_ok {
        return None;
    }
    let hashes = text[start + 1..].iter().take_while(|&&b| b == b'#').count();
    if text.get(start + 1 + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let from = start + 2 + hashes;
    Some(
        text[from..]
            .windows(close.len())
            .position(|w| w == close.as_slice())
            .map_or(text.len(), |p| from + p + close.len()),
    )
}

pub(super) fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// `hay` starts with the word `word` (not a longer identifier).
pub(super) fn starts_with_word(hay: &[u8], word: &str) -> bool {
    hay.starts_with(word.as_bytes()) && hay.get(word.len()).is_none_or(|&b| !is_ident(b))
}

/// `hay` holds the word `word` somewhere.
pub(super) fn contains_word(hay: &[u8], word: &str) -> bool {
    let w = word.as_bytes();
    (0..hay.len().saturating_sub(w.len() - 1)).any(|i| {
        hay[i..].starts_with(w)
            && (i == 0 || !is_ident(hay[i - 1]))
            && hay.get(i + w.len()).is_none_or(|&b| !is_ident(b))
    })
}

pub(super) fn trim_range(m: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && m[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && m[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}
