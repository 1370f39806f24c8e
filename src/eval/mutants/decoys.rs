//! Decoys: edits that keep a program's behaviour, planted beside the
//! mutants so that `eval` can count false positives. A reviewer that flags
//! a decoy flags a change that does nothing wrong.
//!
//! The text layer ([`sites`], [`apply`]) works like the mutants' (the same
//! scanner: an edit never starts or ends inside a string or comment, and
//! keeps brackets balanced; every byte outside the edit is the
//! original's). Each [`DecoyKind`] is conservative: where the scanner
//! cannot tell that an edit keeps the behaviour, there is no site.
//!
//! * [`DecoyKind::RenameLocal`]: a local variable declared on a line of
//!   interest (Rust `let x`, Go `x :=`, JS/TS `const x`/`let x`, Python
//!   `x = …` inside a `def`) gets a new name at every use. Brace languages:
//!   the declaration is the first mention of the name in its function
//!   (header included) and every mention lies in the declaring block;
//!   Python: the first mention in its `def`. A mention that could be
//!   something else than the variable makes the whole rename no site: a
//!   field or method (`.x`), a path (`x::`, `::x`), a macro (`x!`), a
//!   key or label (`x:`), a keyword argument (`f(x=1)`), a shorthand
//!   field or destructuring (`{ x }`, `{ x, y }`), the name inside a
//!   string (format strings, f-strings and template literals name
//!   variables), an import. So does a function using `eval`, `exec`,
//!   `locals()`, `global`/`nonlocal`, `stringify!` or JSX. The new name
//!   (`x_value`, `xValue`…) appears nowhere in the file.
//! * [`DecoyKind::SwapStatements`]: two adjacent one-line declarations
//!   (`let`, `:=`, `const`/`let`, a Python assignment to a name not
//!   mentioned earlier in its function) at the same indentation share no
//!   identifier, and at most one of them can have an effect (a call, a
//!   macro, `?`, `await`, an index or a division that may fail). In Rust
//!   the other is not a bare move (`let a = b;`: drop order).
//! * [`DecoyKind::ExtractBinding`]: `return EXPR;` becomes a binding of
//!   `EXPR` to a fresh name on the line before and `return name;` (not a
//!   bare `return`, not several Go results, not a Go expression that is a
//!   single call or has no call — untyped constants and multi-value calls
//!   would not compile —, no Rust closure, no `yield`).
//! * [`DecoyKind::EquivalentCondition`]: `a < b` → `b > a` (and `<=` ↔
//!   `>=`; `==`, `!=`, `===`, `!==` keep their operator with the operands
//!   swapped, except in Rust where `PartialEq` need not be symmetric), and
//!   `!(a == b)` → `a != b` (`not (a == b)` in Python). The operands are
//!   plain: names and paths, numbers, strings, `len(x)` / `x.len()`, so
//!   swapping them changes no evaluation order; the comparison stands
//!   between a `(`, `,`, `&&`, `||`, `=`, `if`, `while`, `return`… and a
//!   `)`, `{`, `;`, `&&`… so nothing binds tighter on either side.

use serde::Serialize;

use super::ctx::Ctx;
use super::lex::{contains_word, is_ident, starts_with_word, Class, Lang};

/// A kind of behaviour-preserving edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecoyKind {
    RenameLocal,
    SwapStatements,
    ExtractBinding,
    EquivalentCondition,
}

impl DecoyKind {
    /// Every kind, in the order sites of one line are listed.
    pub const ALL: [DecoyKind; 4] = [
        DecoyKind::RenameLocal,
        DecoyKind::SwapStatements,
        DecoyKind::ExtractBinding,
        DecoyKind::EquivalentCondition,
    ];

    /// The kebab-case name (as serialized, and in case ids).
    pub fn name(self) -> &'static str {
        match self {
            DecoyKind::RenameLocal => "rename-local",
            DecoyKind::SwapStatements => "swap-statements",
            DecoyKind::ExtractBinding => "extract-binding",
            DecoyKind::EquivalentCondition => "equivalent-condition",
        }
    }

    /// What the edit does, for humans.
    pub fn describe(self) -> &'static str {
        match self {
            DecoyKind::RenameLocal => "renames a local variable at every use in its function",
            DecoyKind::SwapStatements => "swaps two adjacent independent declarations",
            DecoyKind::ExtractBinding => {
                "binds a returned expression to a local on the line before the return"
            }
            DecoyKind::EquivalentCondition => {
                "rewrites a comparison to an equivalent one (`a < b` as `b > a`, `!(a == b)` as `a != b`)"
            }
        }
    }
}

impl std::fmt::Display for DecoyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A place where a decoy applies: the bytes `start..end` of the original
/// text (which are `original`) become `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoySite {
    pub kind: DecoyKind,
    /// 1-based line in the original where the edit starts.
    pub line: u32,
    pub start: usize,
    pub end: usize,
    pub original: String,
    pub replacement: String,
    /// One line for humans, e.g. "renamed the local `n` to `n_value` (3 mentions)".
    pub description: String,
}

/// One planted decoy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoy {
    pub kind: DecoyKind,
    /// The edited file's whole text.
    pub text: String,
    /// Lines of the EDITED text the edit covers (1-based, inclusive).
    pub line_start: u32,
    pub line_end: u32,
    pub description: String,
}

/// Every decoy site in `text` (a file in `language`: "rust", "python",
/// "go", "javascript", "typescript"; other languages have none) starting
/// on one of `lines` (1-based lines of interest). Sorted by line, then
/// offset, then kind.
pub fn sites(text: &str, language: &str, lines: &[u32]) -> Vec<DecoySite> {
    let Some(lang) = Lang::from_name(language) else {
        return Vec::new();
    };
    let wanted: std::collections::HashSet<u32> = lines.iter().copied().collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let ctx = Ctx::new(text, lang);
    let mut out = Vec::new();
    for li in 0..ctx.lines.len() {
        if !wanted.contains(&(li as u32 + 1)) || ctx.blank(li) {
            continue;
        }
        ctx.rename_local(li, &mut out);
        if wanted.contains(&(li as u32 + 2)) {
            ctx.swap_statements(li, &mut out);
        }
        ctx.extract_binding(li, &mut out);
        ctx.equivalent_condition(li, &mut out);
    }
    // A rename changes names only, so its (long) region need not be
    // balanced; the other edits must be clean like a mutant's.
    out.retain(|s| {
        if s.kind == DecoyKind::RenameLocal {
            ctx.clean(s.start, s.start) && ctx.clean(s.end, s.end)
        } else {
            ctx.clean(s.start, s.end)
        }
    });
    out.sort_by_key(|s| (s.line, s.start, s.kind));
    out.dedup_by(|a, b| a.kind == b.kind && a.start == b.start && a.end == b.end);
    out
}

/// `text` with `site` applied; `None` when the site does not belong to
/// this text or the language has no decoys.
pub fn apply(text: &str, language: &str, site: &DecoySite) -> Option<Decoy> {
    Lang::from_name(language)?;
    if site.start > site.end
        || site.replacement.is_empty()
        || text.get(site.start..site.end)? != site.original
    {
        return None;
    }
    let mut out = String::with_capacity(text.len() + site.replacement.len());
    out.push_str(&text[..site.start]);
    out.push_str(&site.replacement);
    out.push_str(&text[site.end..]);
    let line_at = |offset: usize| {
        out.as_bytes()[..offset.min(out.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32
            + 1
    };
    let line_start = line_at(site.start);
    let line_end = line_at(site.start + site.replacement.trim_end().len().max(1) - 1);
    Some(Decoy {
        kind: site.kind,
        text: out,
        line_start,
        line_end: line_end.max(line_start),
        description: site.description.clone(),
    })
}

// ---------------------------------------------------------------------------
// Tokens of one stretch of code.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tk {
    Ident,
    Num,
    /// A string literal (masked).
    Str,
    Punct,
    Open,
    Close,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    kind: Tk,
    start: usize,
    end: usize,
}

/// Operators of more than one byte, longest first.
#[rustfmt::skip]
const PUNCTS: &[&str] = &[
    "===", "!==", "...", "..=", "<<=", ">>=", "**=", "//=", "?.", "==", "!=", "<=", ">=", "&&",
    "||", "::", "->", "=>", "..", "<<", ">>", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    ":=", "**", "//", "++", "--", "<-",
];

/// Words that are never a variable (keywords of the four languages; the
/// literals and `self`/`this` are operands but never renamed).
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "static", "struct", "super", "trait", "type", "unsafe", "use",
    "where", "while", "yield", "and", "assert", "class", "def", "del", "elif", "except",
    "finally", "from", "global", "import", "is", "lambda", "nonlocal", "not", "or", "pass",
    "raise", "try", "with", "case", "chan", "default", "defer", "fallthrough", "func", "go",
    "goto", "interface", "map", "package", "range", "select", "switch", "var", "catch", "debugger",
    "delete", "do", "export", "extends", "function", "instanceof", "new", "of", "throw",
    "typeof", "void", "let", "static", "implements", "private", "protected", "public",
    "declare", "readonly", "abstract", "namespace", "keyof", "satisfies",
];

/// Operands that are words but no variable.
const LITERAL_WORDS: &[&str] = &[
    "true",
    "false",
    "True",
    "False",
    "None",
    "nil",
    "null",
    "undefined",
    "self",
    "Self",
    "this",
    "iota",
];

fn is_keyword(w: &str) -> bool {
    KEYWORDS.contains(&w)
}

impl Ctx<'_> {
    /// The tokens of `s..e` (masked: strings are one `Str` token each).
    fn tokens(&self, s: usize, e: usize) -> Vec<Tok> {
        let m = &self.masked;
        let mut out = Vec::new();
        let mut i = s;
        while i < e {
            let b = m[i];
            let start = i;
            let kind = if b.is_ascii_whitespace() {
                i += 1;
                continue;
            } else if b == b'"' && self.class[i] == Class::Str {
                while i < e && m[i] == b'"' && self.class[i] == Class::Str {
                    i += 1;
                }
                Tk::Str
            } else if b.is_ascii_digit() {
                while i < e
                    && (is_ident(m[i])
                        || m[i] == b'.' && m.get(i + 1).is_some_and(u8::is_ascii_digit))
                {
                    i += 1;
                }
                Tk::Num
            } else if is_ident(b) {
                while i < e && is_ident(m[i]) {
                    i += 1;
                }
                Tk::Ident
            } else if matches!(b, b'(' | b'[' | b'{') {
                i += 1;
                Tk::Open
            } else if matches!(b, b')' | b']' | b'}') {
                i += 1;
                Tk::Close
            } else {
                let long = PUNCTS
                    .iter()
                    .find(|p| m[i..e].starts_with(p.as_bytes()))
                    .map_or(1, |p| p.len());
                i += long;
                Tk::Punct
            };
            out.push(Tok {
                kind,
                start,
                end: i,
            });
        }
        out
    }

    fn tok<'t>(&'t self, t: &Tok) -> &'t str {
        &self.text[t.start..t.end]
    }

    /// The token is `kind` with the text `what`.
    fn is(&self, t: Option<&Tok>, kind: Tk, what: &str) -> bool {
        t.is_some_and(|t| t.kind == kind && self.tok(t) == what)
    }

    // -----------------------------------------------------------------------
    // Operands and the places a comparison may stand.

    /// The end (token index) of the plain operand starting at `i`: a
    /// number, a string, a name or path (`a.b`, Rust `a::B`), Rust
    /// `path.len()`, Go/Python `len(path)`.
    fn operand(&self, toks: &[Tok], i: usize) -> Option<usize> {
        let t = toks.get(i)?;
        match t.kind {
            Tk::Num | Tk::Str => Some(i + 1),
            Tk::Ident => {
                let w = self.tok(t);
                if is_keyword(w) {
                    return None;
                }
                if matches!(self.lang, Lang::Go | Lang::Python)
                    && w == "len"
                    && self.is(toks.get(i + 1), Tk::Open, "(")
                {
                    let end = self.path(toks, i + 2)?;
                    return self.is(toks.get(end), Tk::Close, ")").then_some(end + 1);
                }
                let mut j = self.path(toks, i)?;
                if self.lang == Lang::Rust
                    && self.is(toks.get(j), Tk::Punct, ".")
                    && self.is(toks.get(j + 1), Tk::Ident, "len")
                    && self.is(toks.get(j + 2), Tk::Open, "(")
                    && self.is(toks.get(j + 3), Tk::Close, ")")
                {
                    j += 4;
                }
                Some(j)
            }
            _ => None,
        }
    }

    /// The end of a name or path starting at `i` (`a`, `a.b.c`, Rust `a::b`).
    fn path(&self, toks: &[Tok], i: usize) -> Option<usize> {
        let t = toks.get(i)?;
        if t.kind != Tk::Ident || is_keyword(self.tok(t)) {
            return None;
        }
        let mut j = i + 1;
        loop {
            let sep = toks.get(j);
            let dot = self.is(sep, Tk::Punct, ".")
                || self.lang == Lang::Rust && self.is(sep, Tk::Punct, "::");
            let next = toks.get(j + 1);
            let len_call = self.lang == Lang::Rust
                && self.is(next, Tk::Ident, "len")
                && self.is(toks.get(j + 2), Tk::Open, "(");
            if dot && next.is_some_and(|n| n.kind == Tk::Ident) && !len_call {
                j += 2;
            } else {
                return Some(j);
            }
        }
    }

    /// Nothing binding tighter than a comparison stands before token `i`.
    fn opens_comparison(&self, toks: &[Tok], i: usize) -> bool {
        let Some(prev) = i.checked_sub(1).map(|p| &toks[p]) else {
            return false;
        };
        let w = self.tok(prev);
        match prev.kind {
            Tk::Open => w == "(",
            Tk::Punct => {
                matches!(w, "," | ";" | "&&" | "||" | "=" | "=>")
                    || w == ":" && matches!(self.lang, Lang::Python | Lang::Js)
                    || w == "?" && self.lang == Lang::Js
            }
            Tk::Ident => {
                matches!(w, "if" | "while" | "return")
                    || self.lang == Lang::Python
                        && matches!(w, "elif" | "and" | "or" | "not" | "assert" | "else")
            }
            _ => false,
        }
    }

    /// Nothing binding tighter than a comparison stands at token `j` (the
    /// token after the comparison), on line `li`.
    fn closes_comparison(&self, toks: &[Tok], j: usize, li: usize) -> bool {
        let Some(next) = toks.get(j) else {
            // At the end of the line: Go ends the statement there;
            // Python does when the next line does not continue it.
            return match self.lang {
                Lang::Go => true,
                Lang::Python => !self.continuation.get(li + 1).copied().unwrap_or(false),
                _ => false,
            };
        };
        let w = self.tok(next);
        match next.kind {
            Tk::Close => w == ")",
            Tk::Open => w == "{" && matches!(self.lang, Lang::Rust | Lang::Go),
            Tk::Punct => {
                matches!(w, "&&" | "||" | ";" | ",")
                    || w == ":" && matches!(self.lang, Lang::Python | Lang::Js)
                    || w == "?" && self.lang == Lang::Js
            }
            Tk::Ident => self.lang == Lang::Python && matches!(w, "and" | "or" | "if" | "else"),
            _ => false,
        }
    }

    fn equivalent_condition(&self, li: usize, out: &mut Vec<DecoySite>) {
        let (s, e) = self.code(li);
        let toks = self.tokens(s, e);
        for k in 1..toks.len() {
            let op = &toks[k];
            if op.kind != Tk::Punct {
                continue;
            }
            let w = self.tok(op);
            let swapped = match w {
                "<" => ">",
                ">" => "<",
                "<=" => ">=",
                ">=" => "<=",
                "==" | "!=" if self.lang != Lang::Rust => w,
                "===" | "!==" if self.lang == Lang::Js => w,
                _ => continue,
            };
            let spaced =
                toks[k - 1].end < op.start && toks.get(k + 1).is_some_and(|t| op.end < t.start);
            if !spaced {
                continue;
            }
            // The longest plain operand ending just before the operator.
            let Some(a) = (k.saturating_sub(8)..k)
                .find(|&i| self.operand(&toks, i) == Some(k) && self.opens_comparison(&toks, i))
            else {
                continue;
            };
            let Some(b_end) = self.operand(&toks, k + 1) else {
                continue;
            };
            if !self.closes_comparison(&toks, b_end, li) {
                continue;
            }
            let (ta, tb) = (
                &self.text[toks[a].start..toks[k - 1].end],
                &self.text[toks[k + 1].start..toks[b_end - 1].end],
            );
            let (sep1, sep2) = (
                &self.text[toks[k - 1].end..op.start],
                &self.text[op.end..toks[k + 1].start],
            );
            let start = toks[a].start;
            let end = toks[b_end - 1].end;
            let description = format!(
                "rewrote `{ta} {w} {tb}` as `{tb} {swapped} {ta}` in `{}`",
                self.shown(li)
            );
            out.push(self.decoy_site(
                DecoyKind::EquivalentCondition,
                li,
                (start, end),
                format!("{tb}{sep1}{swapped}{sep2}{ta}"),
                description,
            ));
        }
        // `!(a == b)` → `a != b`; Python `not (a == b)`.
        for k in 0..toks.len() {
            let neg = if self.lang == Lang::Python {
                self.is(toks.get(k), Tk::Ident, "not")
            } else {
                self.is(toks.get(k), Tk::Punct, "!")
            };
            if !neg || !self.is(toks.get(k + 1), Tk::Open, "(") {
                continue;
            }
            if self.lang == Lang::Python && k > 0 && self.is(toks.get(k - 1), Tk::Ident, "is") {
                continue; // `is not (…)`
            }
            let Some(a_end) = self.operand(&toks, k + 2) else {
                continue;
            };
            let Some(op) = toks.get(a_end) else { continue };
            let inverted = match self.tok(op) {
                "==" => "!=",
                "!=" => "==",
                "===" if self.lang == Lang::Js => "!==",
                "!==" if self.lang == Lang::Js => "===",
                _ => continue,
            };
            if op.kind != Tk::Punct {
                continue;
            }
            let Some(b_end) = self.operand(&toks, a_end + 1) else {
                continue;
            };
            if !self.is(toks.get(b_end), Tk::Close, ")")
                || !self.opens_comparison(&toks, k)
                || !self.closes_comparison(&toks, b_end + 1, li)
            {
                continue;
            }
            let start = toks[k].start;
            let end = toks[b_end].end;
            let (ta, tb) = (
                &self.text[toks[k + 2].start..toks[a_end - 1].end],
                &self.text[toks[a_end + 1].start..toks[b_end - 1].end],
            );
            let original = &self.text[start..end];
            let replacement = format!("{ta} {inverted} {tb}");
            let description = format!(
                "rewrote `{original}` as `{replacement}` in `{}`",
                self.shown(li)
            );
            out.push(self.decoy_site(
                DecoyKind::EquivalentCondition,
                li,
                (start, end),
                replacement,
                description,
            ));
        }
    }

    // -----------------------------------------------------------------------
    // Functions and blocks.

    /// The nearest `{` enclosing byte `pos` (not closed before it).
    fn enclosing_open(&self, pos: usize) -> Option<usize> {
        let mut depth = 0usize;
        for j in (0..pos).rev() {
            match self.masked[j] {
                b'}' => depth += 1,
                b'{' if depth == 0 => return Some(j),
                b'{' => depth -= 1,
                _ => {}
            }
        }
        None
    }

    /// Where the header of the block opened at `brace` starts: after the
    /// previous `;`, `{` or `}` outside brackets.
    fn header_start(&self, brace: usize) -> usize {
        let mut depth = 0i32;
        for j in (0..brace).rev() {
            match self.masked[j] {
                b')' | b']' => depth += 1,
                b'(' | b'[' => depth -= 1,
                b';' | b'{' | b'}' if depth <= 0 => return j + 1,
                _ => {}
            }
        }
        0
    }

    fn is_function_header(&self, hs: usize, brace: usize) -> bool {
        let head = &self.masked[hs..brace];
        match self.lang {
            Lang::Rust => contains_word(head, "fn"),
            Lang::Go => contains_word(head, "func"),
            Lang::Js => {
                if contains_word(head, "function") || head.windows(2).any(|w| w == b"=>") {
                    return true;
                }
                // A method: `name(…) {`.
                let head = head.trim_ascii();
                if head.last() != Some(&b')') {
                    return false;
                }
                let Some(open) =
                    (0..head.len()).find(|&i| head[i] == b'(' && i > 0 && is_ident(head[i - 1]))
                else {
                    return false;
                };
                let name_start = (0..open).rev().take_while(|&i| is_ident(head[i])).last();
                let name = name_start.map_or(&head[..0], |n| &head[n..open]);
                !name.is_empty()
                    && !["if", "for", "while", "switch", "catch", "with", "return"]
                        .iter()
                        .any(|k| name == k.as_bytes())
            }
            Lang::Python => false,
        }
    }

    /// The function enclosing byte `pos`: (start of its header, end of its
    /// body, exclusive).
    fn enclosing_function(&self, pos: usize) -> Option<(usize, usize)> {
        if self.lang == Lang::Python {
            return self.python_function(self.line_of(pos));
        }
        let mut p = pos;
        loop {
            let open = self.enclosing_open(p)?;
            let hs = self.header_start(open);
            if self.is_function_header(hs, open) {
                return Some((hs, self.match_close(open)? + 1));
            }
            p = open;
        }
    }

    /// Python: the `def` whose body holds line `li` (not through a
    /// `class`): its first byte and the end of its body.
    fn python_function(&self, li: usize) -> Option<(usize, usize)> {
        let mut indent = self.indent(li);
        let mut def = None;
        for l in (0..li).rev() {
            if self.blank(l) || self.continuation[l] || self.indent(l) >= indent {
                continue;
            }
            indent = self.indent(l);
            let code = self.code_bytes(l);
            let code = if starts_with_word(code, "async") {
                code[5..].trim_ascii_start()
            } else {
                code
            };
            if starts_with_word(code, "def") {
                def = Some(l);
                break;
            }
            if starts_with_word(code, "class") || indent == 0 {
                return None;
            }
        }
        let def = def?;
        let def_indent = self.indent(def);
        let mut last = def;
        for l in def + 1..self.lines.len() {
            if self.blank(l) {
                continue;
            }
            if !self.continuation[l] && self.indent(l) <= def_indent {
                break;
            }
            last = l;
        }
        Some((self.lines[def].start, self.lines[last].end))
    }

    /// Offsets of `word` as code in `s..e`.
    fn code_mentions(&self, s: usize, e: usize, word: &str) -> Vec<usize> {
        let w = word.as_bytes();
        let m = &self.masked;
        (s..e.saturating_sub(w.len() - 1))
            .filter(|&i| {
                m[i..].starts_with(w)
                    && (i == 0 || !is_ident(m[i - 1]))
                    && m.get(i + w.len()).is_none_or(|&b| !is_ident(b))
            })
            .collect()
    }

    /// `word` appears inside a string literal in `s..e`.
    fn in_strings(&self, s: usize, e: usize, word: &str) -> bool {
        let t = self.text.as_bytes();
        let w = word.as_bytes();
        (s..e.saturating_sub(w.len() - 1)).any(|i| {
            self.class[i] == Class::Str
                && t[i..].starts_with(w)
                && (i == 0 || !is_ident(t[i - 1]))
                && t.get(i + w.len()).is_none_or(|&b| !is_ident(b))
        })
    }

    /// The innermost bracket open at `pos`, scanning from `from`.
    fn open_bracket(&self, from: usize, pos: usize) -> Option<u8> {
        let mut stack = Vec::new();
        for &b in &self.masked[from..pos] {
            match b {
                b'(' | b'[' | b'{' => stack.push(b),
                b')' | b']' | b'}' => {
                    stack.pop();
                }
                _ => {}
            }
        }
        stack.pop()
    }

    /// The code before `pos`, whitespace skipped (up to two bytes).
    fn before(&self, pos: usize) -> &[u8] {
        let m = &self.masked;
        let mut j = pos;
        while j > 0 && m[j - 1].is_ascii_whitespace() {
            j -= 1;
        }
        &m[j.saturating_sub(2)..j]
    }

    /// The code after `pos`, whitespace skipped (up to two bytes).
    fn after(&self, pos: usize) -> &[u8] {
        let m = &self.masked;
        let mut j = pos;
        while j < m.len() && m[j].is_ascii_whitespace() {
            j += 1;
        }
        &m[j..(j + 2).min(m.len())]
    }

    // -----------------------------------------------------------------------
    // Rename a local.

    /// The variable a line declares: the offset of its name.
    fn declared(&self, li: usize) -> Option<usize> {
        let (s, e) = self.code(li);
        let toks = self.tokens(s, e);
        let name_at = |i: usize, next: &[&str]| -> Option<usize> {
            let t = toks.get(i)?;
            let after = toks.get(i + 1)?;
            (t.kind == Tk::Ident && after.kind == Tk::Punct && next.contains(&self.tok(after)))
                .then_some(i)
        };
        let i = match self.lang {
            Lang::Rust => {
                if !self.is(toks.first(), Tk::Ident, "let") {
                    return None;
                }
                let i = if self.is(toks.get(1), Tk::Ident, "mut") {
                    2
                } else {
                    1
                };
                name_at(i, &["=", ":"])?
            }
            Lang::Js => {
                let first = toks.first()?;
                if !matches!(self.tok(first), "const" | "let") {
                    return None;
                }
                name_at(1, &["=", ":"])?
            }
            Lang::Go => name_at(0, &[":="])?,
            Lang::Python => {
                if self.continuation[li] {
                    return None;
                }
                name_at(0, &["="])?
            }
        };
        let name = self.tok(&toks[i]);
        let lowercase = name.as_bytes()[0].is_ascii_lowercase() || name.starts_with('_');
        (lowercase && name != "_" && !is_keyword(name) && !LITERAL_WORDS.contains(&name))
            .then_some(toks[i].start)
    }

    /// A fresh name for `name`: in the language's style, and nowhere in
    /// the file (not even in a string or comment).
    fn fresh_name(&self, name: &str) -> Option<String> {
        let snake = matches!(self.lang, Lang::Rust | Lang::Python) || name.contains('_');
        let candidates: Vec<String> = if snake {
            vec![
                format!("{name}_value"),
                format!("{name}_v"),
                format!("the_{name}"),
            ]
        } else {
            vec![
                format!("{name}Value"),
                format!("{name}V"),
                format!("the{}", capitalized(name)),
            ]
        };
        candidates
            .into_iter()
            .find(|c| !is_keyword(c) && !contains_word(self.text.as_bytes(), c))
    }

    /// Whether the mention of a name at `pos` surely is the variable (in a
    /// function starting at `fs`; `decl` is the declaration's offset).
    fn plain_mention(&self, fs: usize, pos: usize, len: usize, decl: bool) -> bool {
        let (before, after) = (self.before(pos), self.after(pos + len));
        let prev = before.last().copied();
        // A field or method (`.x`; `..x` is a range), a JS private `#x`.
        let field = prev == Some(b'.') && before != b".." || prev == Some(b'#');
        if field {
            return false;
        }
        let next = after.first().copied();
        let assign = next == Some(b'=') && !matches!(after.get(1), Some(b'=' | b'>'));
        let open = self.open_bracket(fs, pos);
        if open == Some(b'(') && assign {
            return false; // a keyword argument, a named format argument
        }
        let line = self.line_of(pos);
        let code = self.code_bytes(line);
        // A function's or class's own name: its `name`/`__name__` would change.
        let m = &self.masked;
        let mut w = pos;
        while w > 0 && m[w - 1].is_ascii_whitespace() {
            w -= 1;
        }
        let word_start = (0..w)
            .rev()
            .take_while(|&k| is_ident(m[k]))
            .last()
            .unwrap_or(w);
        if ["def", "class", "function", "fn", "func"]
            .iter()
            .any(|k| &m[word_start..w] == k.as_bytes())
        {
            return false;
        }
        match self.lang {
            Lang::Python => !(starts_with_word(code, "import") || starts_with_word(code, "from")),
            _ => {
                if self.lang == Lang::Rust
                    && (before == b"::" || prev == Some(b'\'') || starts_with_word(code, "use"))
                {
                    return false;
                }
                if after.starts_with(b"::") || next == Some(b'!') && after.get(1) != Some(&b'=') {
                    return false;
                }
                let colon = next == Some(b':') && after.get(1) != Some(&b'=');
                if colon && !decl {
                    return false; // a key, a field, a label
                }
                // `{ x }`, `{ x, y }`, a method `{ x() {…} }`; JS
                // `{ x = 1 } = o` too.
                let shorthand = open == Some(b'{')
                    && matches!(prev, Some(b'{' | b','))
                    && (matches!(next, Some(b'}' | b',' | b'('))
                        || assign && self.lang == Lang::Js);
                !shorthand
            }
        }
    }

    fn rename_local(&self, li: usize, out: &mut Vec<DecoySite>) {
        let Some(decl) = self.declared(li) else {
            return;
        };
        let name_len = self.masked[decl..]
            .iter()
            .take_while(|&&b| is_ident(b))
            .count();
        let name = &self.text[decl..decl + name_len];
        let Some((fs, fe)) = self.enclosing_function(decl) else {
            return;
        };
        let scope_end = if self.lang == Lang::Python {
            fe
        } else {
            let Some(close) = self.enclosing_open(decl).and_then(|o| self.match_close(o)) else {
                return;
            };
            close
        };
        let mentions = self.code_mentions(fs, fe, name);
        // The declaration is the first mention, and its own statement has
        // no other (`x := x + 1` reads an outer `x`).
        let Some(decl_end) = self.statement_end(li, 30).map(|l| self.lines[l].end) else {
            return;
        };
        if mentions.first() != Some(&decl)
            || mentions.len() < 2
            || mentions[1] < decl_end
            || mentions.iter().any(|&p| p > scope_end)
            || self.in_strings(fs, fe, name)
        {
            return;
        }
        // JS names a function after the variable it is assigned to.
        let (cs, ce) = self.code(li);
        let value = &self.masked[cs..ce];
        if self.lang == Lang::Js
            && (value.windows(2).any(|w| w == b"=>")
                || contains_word(value, "function")
                || contains_word(value, "class"))
        {
            return;
        }
        let body = &self.masked[fs..fe];
        let dynamic: &[&str] = match self.lang {
            // A nested class's attributes are names too.
            Lang::Python => &[
                "global", "nonlocal", "locals", "vars", "eval", "exec", "globals", "class",
            ],
            Lang::Rust => &["stringify", "concat_idents"],
            Lang::Js => &["eval", "with", "arguments"],
            Lang::Go => &[],
        };
        if dynamic.iter().any(|w| contains_word(body, w)) {
            return;
        }
        if self.lang == Lang::Js && (body.windows(2).any(|w| w == b"</" || w == b"/>")) {
            return; // JSX: text between tags would be renamed too
        }
        if !mentions
            .iter()
            .all(|&p| self.plain_mention(fs, p, name_len, p == decl))
        {
            return;
        }
        let Some(fresh) = self.fresh_name(name) else {
            return;
        };
        let end = mentions.last().copied().unwrap_or(decl) + name_len;
        let mut replacement = String::new();
        let mut at = decl;
        for &p in &mentions {
            replacement.push_str(&self.text[at..p]);
            replacement.push_str(&fresh);
            at = p + name_len;
        }
        replacement.push_str(&self.text[at..end]);
        let description = format!(
            "renamed the local `{name}` to `{fresh}` ({} mentions) from `{}`",
            mentions.len(),
            self.shown(li)
        );
        out.push(self.decoy_site(
            DecoyKind::RenameLocal,
            li,
            (decl, end),
            replacement,
            description,
        ));
    }

    // -----------------------------------------------------------------------
    // Swap two statements.

    /// A one-line declaration on `li`: (the name's token index, where the
    /// value starts, where it ends) in `toks`.
    fn simple_declaration(&self, toks: &[Tok]) -> Option<(usize, usize, usize)> {
        let n = toks.len();
        let (name, value, end) = match self.lang {
            Lang::Rust => {
                if !self.is(toks.first(), Tk::Ident, "let") || !self.is(toks.last(), Tk::Punct, ";")
                {
                    return None;
                }
                let i = if self.is(toks.get(1), Tk::Ident, "mut") {
                    2
                } else {
                    1
                };
                let eq = (i + 1..n).find(|&k| self.is(toks.get(k), Tk::Punct, "="))?;
                if eq != i + 1 && !self.is(toks.get(i + 1), Tk::Punct, ":") {
                    return None;
                }
                (i, eq + 1, n - 1)
            }
            Lang::Js => {
                let first = toks.first()?;
                if !matches!(self.tok(first), "const" | "let")
                    || !self.is(toks.last(), Tk::Punct, ";")
                {
                    return None;
                }
                let eq = (2..n).find(|&k| self.is(toks.get(k), Tk::Punct, "="))?;
                if eq != 2 && !self.is(toks.get(2), Tk::Punct, ":") {
                    return None;
                }
                (1, eq + 1, n - 1)
            }
            Lang::Go => {
                if !self.is(toks.get(1), Tk::Punct, ":=") {
                    return None;
                }
                (0, 2, n)
            }
            Lang::Python => {
                if !self.is(toks.get(1), Tk::Punct, "=") {
                    return None;
                }
                (0, 2, n)
            }
        };
        let t = toks.get(name)?;
        let w = self.tok(t);
        (t.kind == Tk::Ident && w != "_" && !is_keyword(w) && value < end)
            .then_some((name, value, end))
    }

    /// The value `toks[a..b]` may have an effect or fail: a call, a macro,
    /// `?`, `await`, `yield`, `new`, an index, a division, `++`, `<-`.
    fn has_effect(&self, toks: &[Tok], a: usize, b: usize) -> bool {
        (a..b).any(|k| {
            let t = &toks[k];
            let w = self.tok(t);
            let prev = k.checked_sub(1).filter(|&p| p >= a).map(|p| &toks[p]);
            match t.kind {
                Tk::Open => {
                    // A call, a macro, a Go type assertion `x.(T)`.
                    let called = prev.is_some_and(|p| {
                        matches!(p.kind, Tk::Ident | Tk::Close) || matches!(self.tok(p), "!" | ".")
                    });
                    let index = w == "["
                        && prev.is_some_and(|p| matches!(p.kind, Tk::Ident | Tk::Close | Tk::Str));
                    called || index
                }
                Tk::Punct => {
                    matches!(
                        w,
                        "?" | "/"
                            | "%"
                            | "//"
                            | "++"
                            | "--"
                            | "<-"
                            | "!"
                            | ":="
                            | "="
                            | "+="
                            | "-="
                            | "*="
                            | "/="
                            | "%="
                            | "&="
                            | "|="
                            | "^="
                            | "<<="
                            | ">>="
                            | "**="
                            | "//="
                    ) && !(w == "?" && self.lang == Lang::Js)
                        && !(w == "!" && self.lang != Lang::Rust)
                }
                Tk::Ident => matches!(
                    w,
                    "await" | "yield" | "new" | "lambda" | "delete" | "unsafe"
                ),
                // A prefixed string (an f-string, a tagged template) or a
                // template literal can run code.
                Tk::Str => {
                    self.text.as_bytes()[t.start] == b'`'
                        || prev.is_some_and(|p| p.kind == Tk::Ident && p.end == t.start)
                }
                _ => false,
            }
        })
    }

    /// Identifiers of `toks` that could name something (keywords and
    /// literals left out), words inside strings included: a format
    /// string, an f-string or a template literal can name a variable.
    fn names(&self, toks: &[Tok]) -> std::collections::HashSet<String> {
        let mut words: Vec<&str> = Vec::new();
        for t in toks {
            match t.kind {
                Tk::Ident => words.push(self.tok(t)),
                Tk::Str => words.extend(
                    self.tok(t)
                        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                        .filter(|w| w.chars().next().is_some_and(|c| !c.is_ascii_digit())),
                ),
                _ => {}
            }
        }
        words
            .into_iter()
            .filter(|w| !is_keyword(w) && !LITERAL_WORDS.contains(w) && !TYPE_WORDS.contains(w))
            .map(str::to_string)
            .collect()
    }

    /// Go: the line's last token ends a statement there (a name, a
    /// literal, a closing bracket), so the next line does not continue it.
    fn go_line_ends(&self, toks: &[Tok]) -> bool {
        self.lang != Lang::Go
            || toks
                .last()
                .is_some_and(|t| matches!(t.kind, Tk::Ident | Tk::Num | Tk::Str | Tk::Close))
    }

    fn swap_statements(&self, li: usize, out: &mut Vec<DecoySite>) {
        let lj = li + 1;
        if lj >= self.lines.len() || self.blank(lj) || self.indent(li) != self.indent(lj) {
            return;
        }
        let (l1, l2) = (self.lines[li], self.lines[lj]);
        if self.text[l1.start..l1.start + self.indent(li)]
            != self.text[l2.start..l2.start + self.indent(lj)]
        {
            return;
        }
        for l in [li, lj] {
            if self.statement_end(l, 1) != Some(l) {
                return;
            }
            if self.lang == Lang::Python && self.continuation[l] {
                return;
            }
        }
        if self.lang == Lang::Python && self.continuation.get(lj + 1).copied().unwrap_or(false) {
            return;
        }
        if self.lang == Lang::Js && self.braceless_body(li) {
            return;
        }
        if self.lang == Lang::Rust {
            let attribute = (0..li)
                .rev()
                .find(|&l| !self.blank(l))
                .is_some_and(|p| self.code_bytes(p).starts_with(b"#"));
            if attribute {
                return;
            }
        }
        let (s1, e1) = self.code(li);
        let (s2, e2) = self.code(lj);
        let (t1, t2) = (self.tokens(s1, e1), self.tokens(s2, e2));
        let (Some(d1), Some(d2)) = (self.simple_declaration(&t1), self.simple_declaration(&t2))
        else {
            return;
        };
        if !self.go_line_ends(&t1) || !self.go_line_ends(&t2) {
            return;
        }
        let (n1, n2) = (self.names(&t1), self.names(&t2));
        if !n1.is_disjoint(&n2) {
            return;
        }
        let effect1 = self.has_effect(&t1, d1.1, d1.2);
        let effect2 = self.has_effect(&t2, d2.1, d2.2);
        if effect1 && effect2 {
            return;
        }
        // Rust drops locals in reverse order: a moved value (`let a = b;`)
        // could be a guard whose drop now comes at another time.
        let bare_move = |toks: &[Tok], (_, a, b): (usize, usize, usize)| {
            self.path(toks, a) == Some(b) && toks[a].kind == Tk::Ident
        };
        if self.lang == Lang::Rust && (bare_move(&t1, d1) || bare_move(&t2, d2)) {
            return;
        }
        // A call could run a closure that reads the other variable
        // (Python, JS): the pure one must be a name new to the function.
        if effect1 || effect2 {
            let (pure_toks, pure) = if effect1 { (&t2, d2) } else { (&t1, d1) };
            let name = self.tok(&pure_toks[pure.0]);
            let Some((fs, _)) = self.enclosing_function(s1) else {
                return;
            };
            if !self.code_mentions(fs, s1, name).is_empty() {
                return;
            }
        }
        let text = self.text;
        let replacement = format!(
            "{}{}{}{}",
            &text[l2.start..l2.end],
            &text[l1.end..l1.next],
            &text[l1.start..l1.end],
            &text[l2.end..l2.next]
        );
        let description = format!(
            "swapped the independent statements `{}` and `{}`",
            self.shown(li),
            self.shown(lj)
        );
        out.push(self.decoy_site(
            DecoyKind::SwapStatements,
            li,
            (l1.start, l2.next),
            replacement,
            description,
        ));
    }

    // -----------------------------------------------------------------------
    // Extract a binding.

    fn extract_binding(&self, li: usize, out: &mut Vec<DecoySite>) {
        let (s, e) = self.code(li);
        let toks = self.tokens(s, e);
        if !self.is(toks.first(), Tk::Ident, "return") || self.statement_end(li, 1) != Some(li) {
            return;
        }
        if self.lang == Lang::Python
            && (self.continuation[li] || self.continuation.get(li + 1).copied().unwrap_or(false))
        {
            return;
        }
        if self.lang == Lang::Js && self.braceless_body(li) {
            return;
        }
        if !self.go_line_ends(&toks) {
            return;
        }
        let semi = matches!(self.lang, Lang::Rust | Lang::Js);
        let end = if semi {
            if !self.is(toks.last(), Tk::Punct, ";") {
                return;
            }
            toks.len() - 1
        } else {
            toks.len()
        };
        if end <= 1 {
            return;
        }
        let expr = &toks[1..end];
        let word = |w: &str| expr.iter().any(|t| t.kind == Tk::Ident && self.tok(t) == w);
        if word("yield")
            || self.lang == Lang::Rust && expr.iter().any(|t| matches!(self.tok(t), "|" | "||"))
        {
            return;
        }
        if self.lang == Lang::Go {
            // Several results, an untyped constant, a call that may give
            // several values: `x := …` would not compile.
            let top_comma = {
                let mut depth = 0i32;
                expr.iter().any(|t| {
                    match t.kind {
                        Tk::Open => depth += 1,
                        Tk::Close => depth -= 1,
                        _ => {}
                    }
                    depth == 0 && self.tok(t) == ","
                })
            };
            let called = self.has_effect(expr, 0, expr.len())
                || expr
                    .iter()
                    .any(|t| t.kind == Tk::Open && self.tok(t) == "{");
            let single_call = self.path(expr, 0).is_some_and(|p| {
                self.is(expr.get(p), Tk::Open, "(")
                    && self.match_close(expr[p].start) == Some(expr[expr.len() - 1].start)
            });
            if top_comma || !called || single_call {
                return;
            }
        }
        let fresh = ["result", "value", "ret", "res", "out_value"]
            .into_iter()
            .find(|n| !contains_word(self.text.as_bytes(), n));
        let Some(fresh) = fresh else { return };
        let l = self.lines[li];
        let indent = &self.text[l.start..l.start + self.indent(li)];
        let eol = if self.text[l.end..l.next].is_empty() {
            "\n"
        } else {
            &self.text[l.end..l.next]
        };
        let value = &self.text[expr[0].start..expr[expr.len() - 1].end];
        let (decl, semi) = match self.lang {
            Lang::Rust => (format!("let {fresh} = "), ";"),
            Lang::Js => (format!("const {fresh} = "), ";"),
            Lang::Go => (format!("{fresh} := "), ""),
            Lang::Python => (format!("{fresh} = "), ""),
        };
        let start = toks[0].start;
        let stop = toks[toks.len() - 1].end;
        let replacement = format!("{decl}{value}{semi}{eol}{indent}return {fresh}{semi}");
        let description = format!(
            "bound the returned `{value}` to `{fresh}` in `{}`",
            self.shown(li)
        );
        out.push(self.decoy_site(
            DecoyKind::ExtractBinding,
            li,
            (start, stop),
            replacement,
            description,
        ));
    }

    fn decoy_site(
        &self,
        kind: DecoyKind,
        li: usize,
        (start, end): (usize, usize),
        replacement: String,
        description: String,
    ) -> DecoySite {
        DecoySite {
            kind,
            line: li as u32 + 1,
            start,
            end,
            original: self.text[start..end].to_string(),
            replacement,
            description,
        }
    }
}

/// Type names that two statements may share (annotations).
#[rustfmt::skip]
const TYPE_WORDS: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char", "str", "String", "number", "string", "boolean", "int", "float",
];

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
