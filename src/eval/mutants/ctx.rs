//! One file, scanned ([`Ctx`]): its bytes classified and masked, its
//! lines, and the line, bracket and statement queries the operators are
//! written with, including the [`Site`]s they build.

use super::lex::{classify, line_end_of, starts_with_word, trim_range, Class, Lang};
use super::types::{Operator, Site};

#[derive(Debug, Clone, Copy)]
pub(super) struct Line {
    pub(super) start: usize,
    /// End of the line's text (before `\r\n` or `\n`).
    pub(super) end: usize,
    /// Start of the next line (after the line ending).
    pub(super) next: usize,
}

/// One file, scanned.
pub(super) struct Ctx<'a> {
    pub(super) text: &'a str,
    pub(super) lang: Lang,
    pub(super) class: Vec<Class>,
    /// `text` with comments blanked to spaces and string literals to `"`
    /// (line endings kept), so code patterns never match inside them.
    pub(super) masked: Vec<u8>,
    pub(super) lines: Vec<Line>,
    /// Python: the line continues the statement of an earlier line (open
    /// brackets, a trailing `\`, or a multi-line string).
    pub(super) continuation: Vec<bool>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(text: &'a str, lang: Lang) -> Self {
        let bytes = text.as_bytes();
        let class = classify(bytes, lang);
        let masked: Vec<u8> = bytes
            .iter()
            .zip(&class)
            .map(|(&b, c)| match (c, b) {
                (_, b'\n' | b'\r') | (Class::Code, _) => b,
                (Class::Comment, _) => b' ',
                (Class::Str, _) => b'"',
            })
            .collect();
        let mut lines = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let nl = line_end_of(bytes, start);
            let next = (nl + 1).min(bytes.len());
            let end = if nl > start && bytes[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            lines.push(Line { start, end, next });
            start = next;
        }
        let mut continuation = Vec::with_capacity(lines.len());
        let (mut depth, mut backslash) = (0i32, false);
        for l in &lines {
            let in_string = class.get(l.start) == Some(&Class::Str)
                && l.start > 0
                && class[l.start - 1] == Class::Str;
            continuation.push(depth > 0 || backslash || in_string);
            for &b in &masked[l.start..l.end] {
                match b {
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => depth = (depth - 1).max(0),
                    _ => {}
                }
            }
            let (_, e) = trim_range(&masked, l.start, l.end);
            backslash = e > l.start && masked[e - 1] == b'\\';
        }
        Ctx {
            text,
            lang,
            class,
            masked,
            lines,
            continuation,
        }
    }

    /// The line's code, trimmed (comments are blank in `masked`).
    pub(super) fn code(&self, li: usize) -> (usize, usize) {
        let l = self.lines[li];
        trim_range(&self.masked, l.start, l.end)
    }

    pub(super) fn code_bytes(&self, li: usize) -> &[u8] {
        let (s, e) = self.code(li);
        &self.masked[s..e]
    }

    /// A blank or comment-only line.
    pub(super) fn blank(&self, li: usize) -> bool {
        let (s, e) = self.code(li);
        s == e
    }

    pub(super) fn indent(&self, li: usize) -> usize {
        let l = self.lines[li];
        self.text.as_bytes()[l.start..l.end]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count()
    }

    /// The line as a human reads it (trimmed, shortened).
    pub(super) fn shown(&self, li: usize) -> String {
        let l = self.lines[li];
        let line = self.text[l.start..l.end].trim();
        if line.chars().count() > 80 {
            let cut: String = line.chars().take(77).collect();
            format!("{cut}...")
        } else {
            line.to_string()
        }
    }

    pub(super) fn line_of(&self, offset: usize) -> usize {
        self.lines
            .partition_point(|l| l.next <= offset)
            .min(self.lines.len().saturating_sub(1))
    }

    fn prev_code_line(&self, li: usize) -> Option<usize> {
        (0..li).rev().find(|&l| !self.blank(l))
    }

    pub(super) fn next_code_line(&self, li: usize) -> Option<usize> {
        (li + 1..self.lines.len()).find(|&l| !self.blank(l))
    }

    /// The bracket closing the one at `open` (same kind, properly nested).
    pub(super) fn match_close(&self, open: usize) -> Option<usize> {
        let mut stack = Vec::new();
        for (j, &b) in self.masked.iter().enumerate().skip(open) {
            match b {
                b'(' | b'[' | b'{' => stack.push(b),
                b')' | b']' | b'}' => {
                    let want = match b {
                        b')' => b'(',
                        b']' => b'[',
                        _ => b'{',
                    };
                    if stack.pop() != Some(want) {
                        return None;
                    }
                    if stack.is_empty() {
                        return Some(j);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Bracket depth after `start..end` from 0; `None` if it goes negative.
    pub(super) fn balance(&self, start: usize, end: usize) -> Option<i32> {
        self.balance_signed(start, end, 0)
    }

    /// An edit of `start..end` keeps brackets balanced and does not start
    /// or end inside a string or comment.
    pub(super) fn clean(&self, start: usize, end: usize) -> bool {
        let boundary = |p: usize| {
            p == 0 || p >= self.class.len() || {
                let (a, b) = (self.class[p - 1], self.class[p]);
                a != b || a == Class::Code
            }
        };
        boundary(start) && boundary(end) && self.balance(start, end) == Some(0)
    }

    pub(super) fn site(
        &self,
        operator: Operator,
        li: usize,
        (start, end): (usize, usize),
        replacement: String,
        description: String,
    ) -> Site {
        Site {
            operator,
            line: li as u32 + 1,
            start,
            end,
            original: self.text[start..end].to_string(),
            replacement,
            description,
        }
    }

    /// The line's code after a leading `}` and `else` (`} else if …`).
    pub(super) fn after_close_else(&self, li: usize) -> usize {
        let (mut s, e) = self.code(li);
        let m = &self.masked;
        if s < e && m[s] == b'}' {
            s = trim_range(m, s + 1, e).0;
        }
        if starts_with_word(&m[s..e], "else") {
            s = trim_range(m, s + 4, e).0;
        }
        s
    }

    /// The lines `first..=last` removed; in Python `pass` instead when they
    /// were the only statement of their block.
    pub(super) fn remove_lines(&self, op: Operator, first: usize, last: usize, what: &str) -> Site {
        let (start, end) = (self.lines[first].start, self.lines[last].next);
        let span = match last - first + 1 {
            1 => "1 line".to_string(),
            n => format!("{n} lines"),
        };
        if self.lang == Lang::Python && self.only_statement(first, last) {
            let l = self.lines[first];
            let indent = &self.text[l.start..l.start + self.indent(first)];
            let eol = &self.text[self.lines[last].end..self.lines[last].next];
            let description = format!(
                "replaced {what} `{}` ({span}) with `pass`",
                self.shown(first)
            );
            return self.site(
                op,
                first,
                (start, end),
                format!("{indent}pass{eol}"),
                description,
            );
        }
        let description = format!("removed {what} `{}` ({span})", self.shown(first));
        self.site(op, first, (start, end), String::new(), description)
    }

    /// Python: `first..=last` is the whole body of an indented block.
    fn only_statement(&self, first: usize, last: usize) -> bool {
        let indent = self.indent(first);
        if indent == 0 {
            return false;
        }
        // The statement before, from its first line (a multi-line `if`
        // header is indented by its first line).
        let prev_ok = (0..first)
            .rev()
            .find(|&l| !self.blank(l) && !self.continuation[l])
            .is_none_or(|p| self.indent(p) < indent);
        let next_ok = self
            .next_code_line(last)
            .is_none_or(|n| self.indent(n) < indent);
        prev_ok && next_ok
    }

    /// The last line of the statement starting at `li`, when its brackets
    /// close within `max_lines` lines (and never go negative).
    pub(super) fn statement_end(&self, li: usize, max_lines: usize) -> Option<usize> {
        let mut depth = 0i32;
        let mut l = li;
        loop {
            let (s, e) = if l == li {
                self.code(li)
            } else {
                (self.lines[l].start, self.lines[l].end)
            };
            depth += self.balance_signed(s, e, depth)?;
            let (_, te) = trim_range(&self.masked, s, e);
            let continued = self.lang == Lang::Python && te > s && self.masked[te - 1] == b'\\';
            if depth == 0 && !continued {
                return Some(l);
            }
            l += 1;
            if l >= self.lines.len() || l - li >= max_lines {
                return None;
            }
        }
    }

    /// The change of bracket depth over `start..end`, starting at `depth`;
    /// `None` if it goes below zero.
    fn balance_signed(&self, start: usize, end: usize, depth: i32) -> Option<i32> {
        let mut d = depth;
        for &b in &self.masked[start..end] {
            match b {
                b'(' | b'[' | b'{' => d += 1,
                b')' | b']' | b'}' => {
                    d -= 1;
                    if d < 0 {
                        return None;
                    }
                }
                _ => {}
            }
        }
        Some(d - depth)
    }

    /// JS: line `li` is the body of a brace-less `if`/`else`/loop or arrow
    /// function, so removing it would change what the header governs.
    pub(super) fn braceless_body(&self, li: usize) -> bool {
        let Some(p) = self.prev_code_line(li) else {
            return false;
        };
        let code = self.code_bytes(p);
        let mut head = code;
        if head.first() == Some(&b'}') {
            head = head[1..].trim_ascii_start();
        }
        let header = ["if", "else", "for", "while", "do"]
            .iter()
            .any(|w| starts_with_word(head, w));
        let open = [b'{', b';', b'}'].iter().any(|&c| code.ends_with(&[c]));
        (header && !open) || code.ends_with(b"=>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_masks_strings_and_comments() {
        let text = "let s = \"a < b\"; // x < y\nlet c = 'x'; fn f<'a>(v: &'a str) {}\nlet r = r#\"q \" < \"#; /* a\n< b */ x\n";
        let ctx = Ctx::new(text, Lang::Rust);
        let masked = String::from_utf8(ctx.masked.clone()).unwrap();
        assert_eq!(masked.matches('<').count(), 1, "{masked}");
        assert_eq!(ctx.lines.len(), 4);
        let py = Ctx::new("x = '''a\n# b < c\n''' # < d\ny = 1\n", Lang::Python);
        assert!(!String::from_utf8(py.masked.clone()).unwrap().contains('<'));
    }
}
