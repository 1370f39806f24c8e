//! The seven mutation operators, as methods of [`Ctx`] that push the
//! [`Site`]s one line offers (see the module doc of `eval::mutants` for
//! each operator's rules), with the word lists and patterns they match.

use std::sync::LazyLock;

use regex::Regex;

use super::ctx::Ctx;
use super::lex::{contains_word, is_ident, starts_with_word, trim_range, Class, Lang};
use super::types::{Operator, Site};

/// Bytes that can make up an operator token.
/// `code` (up to an operator) ends with a cast, `as Type` (a path).
fn ends_with_cast(code: &[u8]) -> bool {
    let code = code.trim_ascii_end();
    let ty = code
        .iter()
        .rev()
        .take_while(|&&b| is_ident(b) || b == b':')
        .count();
    if ty == 0 {
        return false;
    }
    let rest = code[..code.len() - ty].trim_ascii_end();
    rest.ends_with(b" as") || rest == b"as"
}

const OPCHARS: &[u8] = b"<>=!&|+-*/%^~:.?";

/// Words that look like a callee but are not one.
#[rustfmt::skip]
const NOT_CALLEES: &[&str] = &[
    "if", "while", "for", "switch", "catch", "return", "match", "elif", "and", "or", "not", "in",
    "is", "async", "await", "function", "func", "fn", "def", "class", "typeof", "lambda", "with",
    "assert", "yield", "defer", "go", "sizeof", "super", "loop", "unsafe", "move", "where", "impl",
    "dyn", "as", "else", "except", "raise", "throw", "del", "import", "from", "export", "delete",
    "void", "case", "do", "try", "finally", "constructor", "new", "select", "print",
];

/// Identifiers that are not variables (for argument swaps).
#[rustfmt::skip]
const NOT_VARIABLES: &[&str] = &[
    "self", "Self", "this", "super", "true", "false", "True", "False", "None", "nil", "null",
    "undefined", "mut", "ref", "crate", "_", "u8", "u16", "u32", "u64", "u128", "usize", "i8",
    "i16", "i32", "i64", "i128", "isize", "f32", "f64", "bool", "char", "str", "String", "int",
    "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "uintptr",
    "float32", "float64", "string", "byte", "rune", "error", "any", "float", "bytes", "list",
    "dict", "tuple", "set", "object", "number", "boolean",
];

/// Words before a callee that make the line a definition, per language.
fn definition_words(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Rust => &[
            "fn",
            "struct",
            "enum",
            "trait",
            "impl",
            "type",
            "union",
            "macro_rules",
        ],
        Lang::Python => &["def", "class", "lambda"],
        Lang::Go => &["func", "type", "interface", "struct"],
        Lang::Js => &["function", "class", "interface", "type", "declare"],
    }
}

/// What ends a guard's body, per language.
fn terminators(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Rust | Lang::Go => &["return", "continue", "break", "panic"],
        Lang::Python => &["return", "continue", "break", "raise"],
        Lang::Js => &["return", "continue", "break", "throw"],
    }
}

fn regex(re: &str) -> Regex {
    Regex::new(re).expect("the mutation patterns compile")
}

const PATH: &str = r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*";

static NULL_GO: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"^{PATH}\s*==\s*nil$")));
static NULL_RUST: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"^{PATH}\.(?:is_none|is_null)\(\)$")));
static NULL_PY: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"^{PATH}\s+(?:is|==)\s+None$")));
static NULL_JS: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"^{PATH}\s*={{2,3}}\s*(?:null|undefined)$")));
static ERR_GO: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^(?:err|[A-Za-z_]\w*(?:Err|err))\s*!=\s*nil$"));
static RELEASE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^{PATH}\.(?:unlock|close|release|Unlock|RUnlock|Close|Release)\(\)$"
    ))
});
static DROP_RUST: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"^drop\({PATH}\)$")));
static SIMPLE_IDENT: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z_$][\w$]*$"));
static INT_LITERAL: LazyLock<Regex> = LazyLock::new(|| regex(r"^[0-9][0-9_]*$"));

impl Ctx<'_> {
    pub(super) fn flip_comparison(&self, li: usize, out: &mut Vec<Site>) {
        let (s, e) = self.code(li);
        let m = &self.masked;
        let mut i = s + 1;
        while i < e {
            if m[i - 1] != b' ' || !OPCHARS.contains(&m[i]) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < e && OPCHARS.contains(&m[j]) {
                j += 1;
            }
            if j < e && m[j] == b' ' {
                let flipped = match &m[i..j] {
                    b"<" => Some("<="),
                    b"<=" => Some("<"),
                    b">" => Some(">="),
                    b">=" => Some(">"),
                    b"==" => Some("!="),
                    b"!=" => Some("=="),
                    b"===" if self.lang == Lang::Js => Some("!=="),
                    b"!==" if self.lang == Lang::Js => Some("==="),
                    _ => None,
                };
                // Rust reads `x as usize < y` as the start of generic
                // arguments: a `<=` after a cast cannot become `<`.
                let flipped = flipped.filter(|&new| {
                    !(self.lang == Lang::Rust && new == "<" && ends_with_cast(&m[s..i - 1]))
                });
                if let Some(new) = flipped {
                    let old = &self.text[i..j];
                    let description = format!("flipped `{old}` to `{new}` in `{}`", self.shown(li));
                    out.push(self.site(
                        Operator::FlipComparison,
                        li,
                        (i, j),
                        new.into(),
                        description,
                    ));
                }
            }
            i = j;
        }
    }

    pub(super) fn off_by_one(&self, li: usize, out: &mut Vec<Site>) {
        let (s, e) = self.code(li);
        let m = &self.masked;
        // (a) ` + 1` / ` - 1` after an operand, with nothing binding
        // tighter after it.
        for i in s + 1..e.saturating_sub(2) {
            if !(m[i] == b'+' || m[i] == b'-') || m[i - 1] != b' ' || m[i + 1] != b' ' {
                continue;
            }
            if m[i + 2] != b'1'
                || m.get(i + 3).is_some_and(|&b| is_ident(b) || b == b'.') && i + 3 < e
            {
                continue;
            }
            let (bs, be) = trim_range(m, s, i);
            let Some(&last) = m[bs..be].last() else {
                continue;
            };
            if !(is_ident(last) || last == b')' || last == b']') {
                continue;
            }
            if is_ident(last) {
                let ws = (bs..be)
                    .rev()
                    .take_while(|&k| is_ident(m[k]))
                    .last()
                    .unwrap_or(be);
                let word = &m[ws..be];
                let keywords = [
                    "return", "in", "and", "or", "not", "if", "else", "yield", "await", "case",
                    "is", "elif", "while", "match", "let", "const", "var", "typeof",
                ];
                if keywords.iter().any(|k| word == k.as_bytes()) {
                    continue;
                }
            }
            let after = trim_range(m, i + 3, e);
            let next_ok = m[after.0..after.1]
                .first()
                .is_none_or(|c| b")]},;:{<>=!&|?+-".contains(c));
            if !next_ok {
                continue;
            }
            let op = m[i] as char;
            let description = format!("removed `{op} 1` in `{}`", self.shown(li));
            out.push(self.site(
                Operator::OffByOne,
                li,
                (i - 1, i + 3),
                String::new(),
                description,
            ));
        }
        // (b) a length as a comparison's right operand or a range end.
        let mut lengths: Vec<(usize, usize)> = Vec::new();
        let receiver_start = |dot: usize| {
            // `a.b.c` back from the dot: a `.` only between identifiers
            // (so `0..v.len()` stops at `v`).
            let mut r = dot;
            loop {
                while r > s && is_ident(m[r - 1]) {
                    r -= 1;
                }
                if r >= s + 2 && r < dot && m[r - 1] == b'.' && is_ident(m[r - 2]) {
                    r -= 1;
                } else {
                    break;
                }
            }
            let ok = r < dot
                && !m[r].is_ascii_digit()
                && m[r] != b'.'
                && (r == s || !matches!(m[r - 1], b')' | b']'));
            ok.then_some(r)
        };
        let line = &m[s..e];
        match self.lang {
            Lang::Rust => {
                for p in find_all(line, b".len()") {
                    if let Some(r) = receiver_start(s + p) {
                        lengths.push((r, s + p + 6));
                    }
                }
            }
            Lang::Js => {
                for p in find_all(line, b".length") {
                    let end = s + p + 7;
                    if m.get(end).is_some_and(|&b| is_ident(b) || b == b'(') && end < e {
                        continue;
                    }
                    if let Some(r) = receiver_start(s + p) {
                        lengths.push((r, end));
                    }
                }
            }
            Lang::Go | Lang::Python => {
                for p in find_all(line, b"len(") {
                    let at = s + p;
                    if at > s && (is_ident(m[at - 1]) || m[at - 1] == b'.') {
                        continue;
                    }
                    if let Some(close) = self.match_close(at + 3).filter(|&c| c < e) {
                        lengths.push((at, close + 1));
                    }
                }
            }
        }
        for (b, end) in lengths {
            let comparison = b >= s + 3 && m[b - 1] == b' ' && {
                let k = b - 1;
                let mut j = k;
                while j > s && OPCHARS.contains(&m[j - 1]) {
                    j -= 1;
                }
                j > s && m[j - 1] == b' ' && matches!(&m[j..k], b"<" | b"<=" | b">" | b">=")
            };
            let range_end = self.lang == Lang::Rust
                && (m[s..b].ends_with(b"..") && !m[s..b].ends_with(b"...")
                    || m[s..b].ends_with(b"..="));
            let range_arg = self.lang == Lang::Python
                && m[s..b].ends_with(b"range(")
                && (b == s + 6 || !is_ident(m[b - 7]))
                && m.get(end) == Some(&b')');
            if !(comparison || range_end || range_arg) {
                continue;
            }
            if end < e && (is_ident(m[end]) || matches!(m[end], b'.' | b'(' | b'[' | b'?')) {
                continue;
            }
            let after = trim_range(m, end, e);
            if m[after.0..after.1]
                .first()
                .is_some_and(|c| b"+-*/%".contains(c))
            {
                continue;
            }
            let expr = &self.text[b..end];
            let description = format!("added `- 1` to `{expr}` in `{}`", self.shown(li));
            out.push(self.site(
                Operator::OffByOne,
                li,
                (end, end),
                " - 1".into(),
                description,
            ));
        }
    }

    pub(super) fn drop_null_check(&self, li: usize, out: &mut Vec<Site>) {
        let cond: &Regex = match self.lang {
            Lang::Rust => &NULL_RUST,
            Lang::Python => &NULL_PY,
            Lang::Go => &NULL_GO,
            Lang::Js => &NULL_JS,
        };
        if let Some((first, last)) = self.guard(li, cond, terminators(self.lang)) {
            out.push(self.remove_lines(Operator::DropNullCheck, first, last, "the null check"));
        }
    }

    /// An `if` whose condition (all of it) matches `cond` and whose short
    /// body ends in one of `ends`, with no `else`: its first and last line.
    fn guard(&self, li: usize, cond: &Regex, ends: &[&str]) -> Option<(usize, usize)> {
        let (s, e) = self.code(li);
        let m = &self.masked;
        if !starts_with_word(&m[s..e], "if") {
            return None;
        }
        let ends_with_terminator = |a: usize, b: usize| {
            let (a, b) = trim_range(m, a, b);
            ends.iter().any(|w| starts_with_word(&m[a..b], w))
        };
        let matches = |a: usize, b: usize| {
            let (a, b) = trim_range(m, a, b);
            std::str::from_utf8(&m[a..b]).is_ok_and(|c| cond.is_match(c))
        };
        let cs = trim_range(m, s + 2, e).0;
        let (first, last) = if self.lang == Lang::Python {
            let colon = self.python_colon(cs, e)?;
            if !matches(cs, colon) {
                return None;
            }
            if trim_range(m, colon + 1, e).0 < e {
                // `if x is None: return`
                if !ends_with_terminator(colon + 1, e) {
                    return None;
                }
                (li, li)
            } else {
                let indent = self.indent(li);
                let mut last = None;
                for l in li + 1..self.lines.len() {
                    if self.blank(l) {
                        continue;
                    }
                    if !self.continuation[l] && self.indent(l) <= indent {
                        break;
                    }
                    last = Some(l);
                }
                let last = last?;
                if last - li > 4 {
                    return None;
                }
                let first_body = self.next_code_line(li)?;
                let body_indent = self.indent(first_body);
                let stmt = (first_body..=last)
                    .rev()
                    .find(|&l| !self.blank(l) && self.indent(l) == body_indent)?;
                let (a, b) = self.code(stmt);
                if !ends_with_terminator(a, b) {
                    return None;
                }
                (li, last)
            }
        } else {
            let brace = if self.lang == Lang::Js {
                if m.get(cs) != Some(&b'(') {
                    return None;
                }
                let close = self.match_close(cs).filter(|&c| c < e)?;
                if !matches(cs + 1, close) {
                    return None;
                }
                let after = trim_range(m, close + 1, e).0;
                if after >= e {
                    return None;
                }
                if m[after] != b'{' {
                    // `if (x == null) return;`
                    if !ends_with_terminator(after, e) || m[after..e].contains(&b'{') {
                        return None;
                    }
                    return self.no_else(li).then_some((li, li));
                }
                after
            } else {
                let brace = top_level_brace(m, cs, e)?;
                if !matches(cs, brace) {
                    return None;
                }
                brace
            };
            let close = self.match_close(brace)?;
            let cl = self.line_of(close);
            if cl == li {
                if !ends_with_terminator(brace + 1, close) || trim_range(m, close + 1, e).0 < e {
                    return None;
                }
                (li, li)
            } else {
                if brace != e - 1 || self.code_bytes(cl) != b"}" || cl - li - 1 > 4 || cl - li < 2 {
                    return None;
                }
                let first_body = self.next_code_line(li).filter(|&l| l < cl)?;
                let body_indent = self.indent(first_body);
                let stmt = (first_body..cl)
                    .rev()
                    .find(|&l| !self.blank(l) && self.indent(l) == body_indent)?;
                let (a, b) = self.code(stmt);
                if !ends_with_terminator(a, b) {
                    return None;
                }
                (li, cl)
            }
        };
        self.no_else(last).then_some((first, last))
    }

    /// The statement ending at line `last` has no `else`/`elif` after it.
    fn no_else(&self, last: usize) -> bool {
        self.next_code_line(last).is_none_or(|n| {
            let code = self.code_bytes(n);
            !(starts_with_word(code, "else") || starts_with_word(code, "elif"))
        })
    }

    /// Python: the first `:` at bracket depth 0 in `s..e` that is not `:=`.
    fn python_colon(&self, s: usize, e: usize) -> Option<usize> {
        let m = &self.masked;
        let mut depth = 0i32;
        for j in s..e {
            match m[j] {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                b':' if depth == 0 && m.get(j + 1) != Some(&b'=') => return Some(j),
                _ => {}
            }
            if depth < 0 {
                return None;
            }
        }
        None
    }

    pub(super) fn drop_error_return(&self, li: usize, out: &mut Vec<Site>) {
        let (s, e) = self.code(li);
        let m = &self.masked;
        match self.lang {
            Lang::Rust => {
                if m[s..e].contains(&b'$') {
                    return; // macro_rules repetition `$(…)?`
                }
                for i in s + 1..e {
                    let prev = m[i - 1];
                    if m[i] == b'?'
                        && (is_ident(prev) || prev == b')' || prev == b']')
                        && m.get(i + 1).is_none_or(|&b| !is_ident(b) || i + 1 >= e)
                    {
                        let col = self.text[self.lines[li].start..i].chars().count() + 1;
                        let description =
                            format!("removed the `?` at column {col} of `{}`", self.shown(li));
                        out.push(self.site(
                            Operator::DropErrorReturn,
                            li,
                            (i, i + 1),
                            String::new(),
                            description,
                        ));
                    }
                }
            }
            Lang::Go => {
                if let Some((first, last)) = self.guard(li, &ERR_GO, &["return"]) {
                    out.push(self.remove_lines(
                        Operator::DropErrorReturn,
                        first,
                        last,
                        "the error path",
                    ));
                }
            }
            Lang::Python | Lang::Js => {
                let word = if self.lang == Lang::Python {
                    "raise"
                } else {
                    "throw"
                };
                if !starts_with_word(&m[s..e], word) {
                    return;
                }
                if self.lang == Lang::Js && self.braceless_body(li) {
                    return;
                }
                if let Some(last) = self.statement_end(li, 6) {
                    out.push(self.remove_lines(
                        Operator::DropErrorReturn,
                        li,
                        last,
                        "the error path",
                    ));
                }
            }
        }
    }

    pub(super) fn swap_arguments(&self, li: usize, out: &mut Vec<Site>) {
        let (s, e) = self.code(li);
        let m = &self.masked;
        if self.lang == Lang::Rust && m[s..e].starts_with(b"#") {
            return; // an attribute: `#[derive(Debug, Clone)]`
        }
        for p in s + 1..e {
            if m[p] != b'(' || !is_ident(m[p - 1]) {
                continue;
            }
            let mut c = p;
            while c > s && is_ident(m[c - 1]) {
                c -= 1;
            }
            let callee = &m[c..p];
            if callee[0].is_ascii_digit() || NOT_CALLEES.iter().any(|w| callee == w.as_bytes()) {
                continue;
            }
            if definition_words(self.lang)
                .iter()
                .any(|w| contains_word(&m[s..c], w))
            {
                continue;
            }
            let Some(close) = self.match_close(p).filter(|&x| x < e) else {
                continue;
            };
            let after = trim_range(m, close + 1, e).0;
            let rest = &m[after..e];
            if rest.starts_with(b"=>") || rest.starts_with(b"=") && !rest.starts_with(b"==") {
                continue;
            }
            if self.lang == Lang::Js && (rest.starts_with(b"{") || rest.starts_with(b":")) {
                // A method definition `name(a, b) {` / `name(a, b): T {`.
                let modifiers = [
                    "async",
                    "static",
                    "get",
                    "set",
                    "public",
                    "private",
                    "protected",
                    "readonly",
                    "override",
                    "abstract",
                ];
                let head = &m[s..c];
                let only_modifiers = head
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|w| !w.is_empty())
                    .all(|w| modifiers.iter().any(|k| w == k.as_bytes()));
                if only_modifiers {
                    continue;
                }
            }
            // Exactly two top-level arguments.
            let mut commas = Vec::new();
            let mut depth = 0i32;
            for (j, &b) in m.iter().enumerate().take(close).skip(p + 1) {
                match b {
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => depth -= 1,
                    b',' if depth == 0 => commas.push(j),
                    _ => {}
                }
            }
            let [comma] = commas[..] else { continue };
            let a = trim_range(m, p + 1, comma);
            let b = trim_range(m, comma + 1, close);
            let (Some(ka), Some(kb)) = (self.arg_kind(a), self.arg_kind(b)) else {
                continue;
            };
            let (ta, tb) = (&self.text[a.0..a.1], &self.text[b.0..b.1]);
            if ka != kb || ta == tb {
                continue;
            }
            let sep = &self.text[a.1..b.0];
            let name = &self.text[c..p];
            let description = format!(
                "swapped `{ta}` and `{tb}` in the call of `{name}` in `{}`",
                self.shown(li)
            );
            out.push(self.site(
                Operator::SwapArguments,
                li,
                (a.0, b.1),
                format!("{tb}{sep}{ta}"),
                description,
            ));
        }
    }

    /// 0: an identifier, 3: one starting with a capital, 1: a decimal
    /// integer, 2: a string literal.
    fn arg_kind(&self, (a, b): (usize, usize)) -> Option<u8> {
        if a >= b {
            return None;
        }
        let text = &self.text[a..b];
        if self.class[a..b].iter().all(|&c| c == Class::Code) {
            if INT_LITERAL.is_match(text) {
                return Some(1);
            }
            if SIMPLE_IDENT.is_match(text) && !NOT_VARIABLES.contains(&text) {
                // `Set`, `MAX` (types, constants) are not swapped with
                // `other`, `n` (variables).
                return Some(if text.as_bytes()[0].is_ascii_uppercase() {
                    3
                } else {
                    0
                });
            }
            return None;
        }
        let one_literal = self.class[a..b].iter().all(|&c| c == Class::Str)
            && matches!(text.as_bytes()[0], b'"' | b'\'' | b'`' | b'r');
        one_literal.then_some(2)
    }

    pub(super) fn invert_condition(&self, li: usize, out: &mut Vec<Site>) {
        let (_, e) = self.code(li);
        let m = &self.masked;
        let s = self.after_close_else(li);
        let line = &m[s..e];
        let keyword = ["if", "while", "elif"]
            .into_iter()
            .find(|w| starts_with_word(line, w));
        let Some(keyword) = keyword else { return };
        let cs = trim_range(m, s + keyword.len(), e).0;
        let (range, replacement) = match self.lang {
            Lang::Rust | Lang::Go => {
                if keyword == "elif" || keyword == "while" && self.lang == Lang::Go {
                    return;
                }
                let Some(brace) = top_level_brace(m, cs, e) else {
                    return;
                };
                if m[brace - 1] != b' ' {
                    return;
                }
                let mut start = cs;
                if self.lang == Lang::Go {
                    // `if v, ok := m[k]; ok {`: the condition is after the `;`.
                    if let Some(semi) = top_level_last(m, cs, brace, b';') {
                        start = semi + 1;
                    }
                }
                let (a, b) = trim_range(m, start, brace);
                // `if a || {` continues on the next line: not one line.
                if a >= b || contains_word(&m[a..b], "let") || continues(m[b - 1]) {
                    return;
                }
                let cond = &self.text[a..b];
                let space = if m[a - 1].is_ascii_whitespace() {
                    ""
                } else {
                    " "
                };
                ((a, b), format!("{space}!({cond})"))
            }
            Lang::Js => {
                if keyword == "elif" || m.get(cs) != Some(&b'(') {
                    return;
                }
                let Some(close) = self.match_close(cs).filter(|&c| c < e) else {
                    return;
                };
                if trim_range(m, cs + 1, close).0 >= close {
                    return;
                }
                let inner = &self.text[cs + 1..close];
                ((cs + 1, close), format!("!({inner})"))
            }
            Lang::Python => {
                let Some(colon) = self.python_colon(cs, e) else {
                    return;
                };
                let (a, b) = trim_range(m, cs, colon);
                if a >= b {
                    return;
                }
                let cond = &self.text[a..b];
                // `while(x):` needs the space `while not ((x)):` gets.
                let space = if m[a - 1].is_ascii_whitespace() {
                    ""
                } else {
                    " "
                };
                ((a, b), format!("{space}not ({cond})"))
            }
        };
        let description = format!("inverted the condition of `{}`", self.shown(li));
        out.push(self.site(
            Operator::InvertCondition,
            li,
            range,
            replacement,
            description,
        ));
    }

    pub(super) fn remove_release(&self, li: usize, out: &mut Vec<Site>) {
        let (s, e) = self.code(li);
        if self.class[s..e].iter().any(|&c| c != Class::Code) {
            return;
        }
        let mut code = &self.text[s..e];
        if self.lang != Lang::Python {
            code = code.strip_suffix(';').unwrap_or(code).trim_end();
        }
        if matches!(self.lang, Lang::Js | Lang::Python) {
            code = code.strip_prefix("await ").unwrap_or(code).trim_start();
        }
        let release = RELEASE.is_match(code)
            || self.lang == Lang::Rust && DROP_RUST.is_match(code)
            || self.lang == Lang::Go
                && starts_with_word(code.as_bytes(), "defer")
                && self.balance(s, e) == Some(0);
        if !release || self.lang == Lang::Js && self.braceless_body(li) {
            return;
        }
        out.push(self.remove_lines(Operator::RemoveRelease, li, li, "the release"));
    }
}

/// A condition ending in this byte goes on (an operator, `,` or `(`).
fn continues(last: u8) -> bool {
    b"&|+-*/%^~<>=!:.,(".contains(&last)
}

/// Every offset of `needle` in `hay`.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if hay.len() < needle.len() {
        return Vec::new();
    }
    (0..=hay.len() - needle.len())
        .filter(|&i| hay[i..].starts_with(needle))
        .collect()
}

/// The first `{` at bracket depth 0 in `s..e`.
fn top_level_brace(m: &[u8], s: usize, e: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (j, &b) in m.iter().enumerate().take(e).skip(s) {
        match b {
            b'{' if depth == 0 => return Some(j),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    None
}

/// The last `byte` at bracket depth 0 in `s..e`.
fn top_level_last(m: &[u8], s: usize, e: usize, byte: u8) -> Option<usize> {
    let mut depth = 0i32;
    let mut found = None;
    for (j, &b) in m.iter().enumerate().take(e).skip(s) {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ if b == byte && depth == 0 => found = Some(j),
            _ => {}
        }
    }
    found
}
