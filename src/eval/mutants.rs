//! Planted bugs (`eval --mutants N`): one known defect written into a real
//! change. Two layers:
//!
//! 1. **Text** ([`sites`], [`apply`]): where a mutation [`Operator`] applies
//!    in one file, and the file with exactly one site changed (every other
//!    byte, line endings included, is the original's).
//! 2. **Objects** ([`plant`]): hunks that recent first-parent commits added
//!    are searched for sites; a seeded choice of them becomes new blob, tree
//!    and commit objects (never a ref, the index or a work-tree file), each
//!    a [`Case`] with one [`Defect`].
//!
//! # Operators, by rule (Rust, Python, Go, JavaScript and TypeScript)
//!
//! * [`Operator::FlipComparison`]: `<`↔`<=`, `>`↔`>=`, `==`↔`!=`
//!   (`===`↔`!==` in JS/TS). The operator must have a space on each side
//!   (` < `): that is what tells `a < b` from `Vec<u8>`, `Option<T>`, and
//!   whole-run matching keeps `<<`, `->`, `=>`, `<-`, `<=>` out.
//! * [`Operator::OffByOne`], two rules: (a) an integer bound ` + 1` / ` - 1`
//!   (spaces around the operator, a literal `1`, an operand before it, and
//!   nothing binding tighter after it) is removed: `xs[n - 1]` → `xs[n]`;
//!   (b) a length — `x.len()` (Rust), `len(x)` (Go, Python), `x.length`
//!   (JS/TS) — that is the right operand of `<`, `<=`, `>`, `>=`, the end of
//!   a Rust range (`..`, `..=`) or the only argument of Python's `range()`
//!   gets ` - 1`: `i < len(xs)` → `i < len(xs) - 1`. Rule (a) needs the
//!   spaces, so gofmt's tight `xs[n-1]` is not taken.
//! * [`Operator::DropNullCheck`]: a guard whose condition is exactly one
//!   null test — Go `x == nil`, Rust `x.is_none()` / `x.is_null()`, Python
//!   `x is None` / `x == None`, JS/TS `x == null` / `x === undefined` (`!x`
//!   is not taken: too often a boolean) — and whose body is at most 4 lines
//!   and ends in `return`/`continue`/`break`/`raise`/`throw`/`panic`, with
//!   no `else`, is removed whole.
//! * [`Operator::DropErrorReturn`]: Rust: one `?` operator is removed; Go:
//!   a plain `if err != nil { … return … }` block (a short body as above;
//!   not the `if err := f(); err != nil` form, whose removal would drop the
//!   call too); Python: a `raise` statement; JS/TS: a `throw` statement.
//! * [`Operator::SwapArguments`]: a call with exactly two arguments that
//!   are both plain identifiers, both decimal integer literals or both
//!   string literals has them swapped. Without types, "the same kind of
//!   token" stands in for "the same type", so the swap still compiles in
//!   the usual case; for the same reason built-in type names, `self`,
//!   `this`, `true`, `None`... are not plain identifiers here, and a
//!   capitalized one (a type or constant) is only swapped with another.
//!   Definitions (`fn`, `def`, `function`, `func`, `class`, JS methods
//!   `name(a, b) {`), patterns (`Point(x, y) =`, `=>`), Rust attributes and
//!   keyword "calls" (`if (a, b)`) are not sites.
//! * [`Operator::InvertCondition`]: `if cond {` → `if !(cond) {` (Rust,
//!   Go; Rust `while` too; not `if let`), `if (cond)` → `if (!(cond))`
//!   (JS/TS, and `while`), `if cond:` → `if not (cond):` (Python, `elif`
//!   and `while` too); the condition must be on one line.
//! * [`Operator::RemoveRelease`]: a line that is only `x.unlock()`,
//!   `x.close()`, `x.release()` (Go's `Unlock`/`RUnlock`/`Close`/`Release`
//!   too; `await` allowed in JS and Python), Rust `drop(x);`, or a
//!   one-line Go `defer …` is removed.
//!
//! A removed Python statement that was the only one of its block becomes
//! `pass` at the same indentation, so the file still parses; a removed JS
//! statement that was the body of a brace-less `if`/`else`/loop is not a
//! site. Every site's edit keeps brackets balanced and never starts or ends
//! inside a string or comment.
//!
//! # Limits of the scanner
//!
//! Comments (`//`, `/* */` nested in Rust, `#` in Python) and string
//! literals (`"…"`, `'…'`, Python triple quotes, Rust raw strings `r#"…"#`
//! and char literals, Go raw strings and JS template literals in
//! backticks) are found by one pass over the file with no parser: code in
//! `${…}` of a template literal and in f-string braces counts as string,
//! a JS regex literal is told from a division by the token before the `/`
//! (an operator, an opening bracket, or a keyword like `return`), and a
//! Rust byte string's `b` prefix counts as code. A misread literal mostly
//! hides sites; rarely, it could put one inside a JS regex.

use crate::check::findings::Severity;
use crate::error::Result;
use crate::eval::case::{Case, Defect, Source};
use crate::git::diff::{DiffOptions, FileStatus, LineKind};
use crate::git::range::git_err;
use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind;
use gix::ObjectId;
use regex::Regex;
use serde::Serialize;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::LazyLock;

/// How many first-parent commits back from the head are searched by
/// default.
pub const DEFAULT_RECENT_COMMITS: usize = 200;

/// A kind of planted defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operator {
    FlipComparison,
    OffByOne,
    DropNullCheck,
    DropErrorReturn,
    SwapArguments,
    InvertCondition,
    RemoveRelease,
}

impl Operator {
    /// Every operator, in the order sites of one line are listed.
    pub const ALL: [Operator; 7] = [
        Operator::FlipComparison,
        Operator::OffByOne,
        Operator::DropNullCheck,
        Operator::DropErrorReturn,
        Operator::SwapArguments,
        Operator::InvertCondition,
        Operator::RemoveRelease,
    ];

    /// The kebab-case name (as serialized, and in case ids).
    pub fn name(self) -> &'static str {
        match self {
            Operator::FlipComparison => "flip-comparison",
            Operator::OffByOne => "off-by-one",
            Operator::DropNullCheck => "drop-null-check",
            Operator::DropErrorReturn => "drop-error-return",
            Operator::SwapArguments => "swap-arguments",
            Operator::InvertCondition => "invert-condition",
            Operator::RemoveRelease => "remove-release",
        }
    }

    /// How bad the planted defect is.
    pub fn severity(self) -> Severity {
        // Removing a guard, an error path or a release takes away a whole
        // safety mechanism (a crash on a missing value, a failure that goes
        // on as success, a lock or handle never given back): critical. The
        // others compute a wrong value or take a wrong branch, which is a
        // real bug but stays local to the expression: important.
        match self {
            Operator::DropNullCheck | Operator::DropErrorReturn | Operator::RemoveRelease => {
                Severity::Critical
            }
            Operator::FlipComparison
            | Operator::OffByOne
            | Operator::SwapArguments
            | Operator::InvertCondition => Severity::Important,
        }
    }

    /// What the operator does, for humans.
    pub fn describe(self) -> &'static str {
        match self {
            Operator::FlipComparison => {
                "flips a comparison's boundary or sense (`<` and `<=`, `==` and `!=`)"
            }
            Operator::OffByOne => {
                "removes a `+ 1`/`- 1` bound, or takes one off a length in a comparison or range end"
            }
            Operator::DropNullCheck => {
                "removes a short guard that returns early on nil/None/null/undefined"
            }
            Operator::DropErrorReturn => {
                "drops an error path: Rust `?`, Go `if err != nil` block, Python `raise`, JS `throw`"
            }
            Operator::SwapArguments => {
                "swaps the two arguments of a call when both are the same kind of token"
            }
            Operator::InvertCondition => "negates an `if`/`while` condition",
            Operator::RemoveRelease => {
                "removes a release: `unlock()`, `close()`, `release()`, Rust `drop(x)`, Go `defer`"
            }
        }
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A place where an operator applies, with the edit it makes: the bytes
/// `start..end` of the original text (which are `original`) become
/// `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub operator: Operator,
    /// 1-based line in the original where the site starts.
    pub line: u32,
    /// Byte offsets of the replaced region in the original text.
    pub start: usize,
    pub end: usize,
    /// The original text of `start..end`.
    pub original: String,
    /// What replaces it (empty for a removal).
    pub replacement: String,
    /// One line for humans, e.g. "flipped `<` to `<=` in `if i < n {`".
    pub description: String,
}

/// One planted defect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    pub operator: Operator,
    /// The mutated file's whole text.
    pub text: String,
    /// Lines of the MUTATED text that carry the defect (1-based,
    /// inclusive). For a removal, the line now at the removal point
    /// (clamped to the file), so a reviewer pointing at the gap matches.
    pub line_start: u32,
    pub line_end: u32,
    /// One line for humans: "flipped `<` to `<=` in `if i < n {`".
    pub description: String,
}

/// Every site in `text` (a file in `language`, one of the names of
/// [`crate::git::lang::language_for`]: "rust", "python", "go", "javascript",
/// "typescript"; other languages have none) whose first line is in
/// `lines` (1-based lines of interest, e.g. the lines a commit added).
/// Sorted by line, then offset, then operator.
pub fn sites(text: &str, language: &str, lines: &[u32]) -> Vec<Site> {
    let Some(lang) = Lang::from_name(language) else {
        return Vec::new();
    };
    let wanted: HashSet<u32> = lines.iter().copied().collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let ctx = Ctx::new(text, lang);
    let mut out = Vec::new();
    for li in 0..ctx.lines.len() {
        if !wanted.contains(&(li as u32 + 1)) || ctx.blank(li) {
            continue;
        }
        ctx.flip_comparison(li, &mut out);
        ctx.off_by_one(li, &mut out);
        ctx.drop_null_check(li, &mut out);
        ctx.drop_error_return(li, &mut out);
        ctx.swap_arguments(li, &mut out);
        ctx.invert_condition(li, &mut out);
        ctx.remove_release(li, &mut out);
    }
    out.retain(|s| ctx.clean(s.start, s.end));
    out.sort_by_key(|s| (s.line, s.start, s.operator));
    out.dedup_by(|a, b| a.operator == b.operator && a.start == b.start && a.end == b.end);
    out
}

/// `text` with `site` planted; `None` when the site does not belong to
/// this text (its region is not there) or the language has no operators.
pub fn apply(text: &str, language: &str, site: &Site) -> Option<Mutation> {
    Lang::from_name(language)?;
    if site.start > site.end || text.get(site.start..site.end)? != site.original {
        return None;
    }
    let mut out = String::with_capacity(text.len() + site.replacement.len());
    out.push_str(&text[..site.start]);
    out.push_str(&site.replacement);
    out.push_str(&text[site.end..]);
    let (line_start, line_end) = if site.replacement.is_empty() {
        let line = line_at(&out, site.start).min(line_count(&out)).max(1);
        (line, line)
    } else {
        (
            line_at(&out, site.start),
            line_at(&out, site.start + site.replacement.len() - 1),
        )
    };
    Some(Mutation {
        operator: site.operator,
        text: out,
        line_start,
        line_end,
        description: site.description.clone(),
    })
}

/// 1-based line of byte `offset`.
fn line_at(text: &str, offset: usize) -> u32 {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

/// Lines in `text` (a last line without a newline counts).
fn line_count(text: &str) -> u32 {
    crate::eval::cases::count_lines(text.as_bytes()) as u32
}

// ---------------------------------------------------------------------------
// The scanner.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    Python,
    Go,
    /// JavaScript and TypeScript.
    Js,
}

impl Lang {
    fn from_name(name: &str) -> Option<Lang> {
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
enum Class {
    Code,
    Comment,
    Str,
}

/// Classifies every byte of `text` (see the module doc for the limits).
fn classify(text: &[u8], lang: Lang) -> Vec<Class> {
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
fn line_end_of(text: &[u8], i: usize) -> usize {
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

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// `hay` starts with the word `word` (not a longer identifier).
fn starts_with_word(hay: &[u8], word: &str) -> bool {
    hay.starts_with(word.as_bytes()) && hay.get(word.len()).is_none_or(|&b| !is_ident(b))
}

/// `hay` holds the word `word` somewhere.
fn contains_word(hay: &[u8], word: &str) -> bool {
    let w = word.as_bytes();
    (0..hay.len().saturating_sub(w.len() - 1)).any(|i| {
        hay[i..].starts_with(w)
            && (i == 0 || !is_ident(hay[i - 1]))
            && hay.get(i + w.len()).is_none_or(|&b| !is_ident(b))
    })
}

fn trim_range(m: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && m[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && m[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

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

#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the line's text (before `\r\n` or `\n`).
    end: usize,
    /// Start of the next line (after the line ending).
    next: usize,
}

/// One file, scanned.
struct Ctx<'a> {
    text: &'a str,
    lang: Lang,
    class: Vec<Class>,
    /// `text` with comments blanked to spaces and string literals to `"`
    /// (line endings kept), so code patterns never match inside them.
    masked: Vec<u8>,
    lines: Vec<Line>,
    /// Python: the line continues the statement of an earlier line (open
    /// brackets, a trailing `\`, or a multi-line string).
    continuation: Vec<bool>,
}

impl<'a> Ctx<'a> {
    fn new(text: &'a str, lang: Lang) -> Self {
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
    fn code(&self, li: usize) -> (usize, usize) {
        let l = self.lines[li];
        trim_range(&self.masked, l.start, l.end)
    }

    fn code_bytes(&self, li: usize) -> &[u8] {
        let (s, e) = self.code(li);
        &self.masked[s..e]
    }

    /// A blank or comment-only line.
    fn blank(&self, li: usize) -> bool {
        let (s, e) = self.code(li);
        s == e
    }

    fn indent(&self, li: usize) -> usize {
        let l = self.lines[li];
        self.text.as_bytes()[l.start..l.end]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count()
    }

    /// The line as a human reads it (trimmed, shortened).
    fn shown(&self, li: usize) -> String {
        let l = self.lines[li];
        let line = self.text[l.start..l.end].trim();
        if line.chars().count() > 80 {
            let cut: String = line.chars().take(77).collect();
            format!("{cut}...")
        } else {
            line.to_string()
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.lines
            .partition_point(|l| l.next <= offset)
            .min(self.lines.len().saturating_sub(1))
    }

    fn prev_code_line(&self, li: usize) -> Option<usize> {
        (0..li).rev().find(|&l| !self.blank(l))
    }

    fn next_code_line(&self, li: usize) -> Option<usize> {
        (li + 1..self.lines.len()).find(|&l| !self.blank(l))
    }

    /// The bracket closing the one at `open` (same kind, properly nested).
    fn match_close(&self, open: usize) -> Option<usize> {
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
    fn balance(&self, start: usize, end: usize) -> Option<i32> {
        self.balance_signed(start, end, 0)
    }

    /// An edit of `start..end` keeps brackets balanced and does not start
    /// or end inside a string or comment.
    fn clean(&self, start: usize, end: usize) -> bool {
        let boundary = |p: usize| {
            p == 0 || p >= self.class.len() || {
                let (a, b) = (self.class[p - 1], self.class[p]);
                a != b || a == Class::Code
            }
        };
        boundary(start) && boundary(end) && self.balance(start, end) == Some(0)
    }

    fn site(
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
    fn after_close_else(&self, li: usize) -> usize {
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
    fn remove_lines(&self, op: Operator, first: usize, last: usize, what: &str) -> Site {
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
    fn statement_end(&self, li: usize, max_lines: usize) -> Option<usize> {
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
    fn braceless_body(&self, li: usize) -> bool {
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

    // --- Operators -------------------------------------------------------

    fn flip_comparison(&self, li: usize, out: &mut Vec<Site>) {
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

    fn off_by_one(&self, li: usize, out: &mut Vec<Site>) {
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

    fn drop_null_check(&self, li: usize, out: &mut Vec<Site>) {
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

    fn drop_error_return(&self, li: usize, out: &mut Vec<Site>) {
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

    fn swap_arguments(&self, li: usize, out: &mut Vec<Site>) {
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

    fn invert_condition(&self, li: usize, out: &mut Vec<Site>) {
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

    fn remove_release(&self, li: usize, out: &mut Vec<Site>) {
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

// ---------------------------------------------------------------------------
// Choosing sites.

/// splitmix64: a small, fast, well-mixed generator; enough to choose sites
/// reproducibly for a seed (not for anything secret).
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Indices of up to `count` of `items` (an operator and the place it is,
/// e.g. file and line), chosen for `seed`: the operators that have items
/// take turns (in a seeded order), each turn taking a random item of that
/// operator whose place is not taken yet; `accept` may still refuse an
/// item (then another is drawn). Same input and seed, same choice.
fn choose<K: Eq + Hash + Clone>(
    items: &[(Operator, K)],
    count: usize,
    seed: u64,
    mut accept: impl FnMut(usize) -> bool,
) -> Vec<usize> {
    let mut rng = SplitMix64(seed);
    let mut pools: Vec<Vec<usize>> = Operator::ALL
        .iter()
        .map(|op| {
            (0..items.len())
                .filter(|&i| items[i].0 == *op)
                .collect::<Vec<_>>()
        })
        .filter(|pool| !pool.is_empty())
        .collect();
    for i in (1..pools.len()).rev() {
        let j = rng.below(i + 1);
        pools.swap(i, j);
    }
    let mut taken: HashSet<K> = HashSet::new();
    let mut chosen = Vec::new();
    let mut turn = 0;
    while chosen.len() < count && !pools.is_empty() {
        if turn >= pools.len() {
            turn = 0;
        }
        let pool = &mut pools[turn];
        pool.retain(|&i| !taken.contains(&items[i].1));
        if pool.is_empty() {
            pools.remove(turn);
            continue;
        }
        let i = pool.swap_remove(rng.below(pool.len()));
        if !accept(i) {
            continue;
        }
        taken.insert(items[i].1.clone());
        chosen.push(i);
        turn += 1;
    }
    chosen
}

// ---------------------------------------------------------------------------
// Objects.

/// A planted defect, as an eval case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MutantCase {
    pub case: Case,
    pub operator: Operator,
}

/// What [`plant`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutantOptions {
    /// Mutants wanted (fewer when there are fewer sites).
    pub count: usize,
    /// Same seed, same mutants.
    pub seed: u64,
    /// First-parent commits examined back from the head (merges count).
    pub recent_commits: usize,
    /// Files a commit changed by more lines than this are not mutated: the
    /// case would be a long review (a whole new module) around one line.
    pub max_changed_lines: u32,
}

/// Default [`MutantOptions::max_changed_lines`].
pub const DEFAULT_MAX_CHANGED_LINES: u32 = 200;

impl Default for MutantOptions {
    fn default() -> Self {
        MutantOptions {
            count: 10,
            seed: 0,
            recent_commits: DEFAULT_RECENT_COMMITS,
            max_changed_lines: DEFAULT_MAX_CHANGED_LINES,
        }
    }
}

/// A file of a candidate commit that has sites.
struct Target {
    commit: ObjectId,
    parent: ObjectId,
    path: String,
    /// The file's path at `parent` when the commit renamed it.
    from: Option<String>,
    language: String,
    text: String,
    kind: EntryKind,
}

/// Plants up to `opts.count` defects in hunks that recent first-parent
/// commits of `head` added, deterministically for a seed. Writes objects
/// only: a blob, trees, and one commit per mutant whose tree is the
/// original commit's parent with only the mutated file changed (its real
/// change plus the defect), with the parent as parent, the original's
/// author and committer and its message prefixed "mutant: ", so ids are
/// deterministic. No ref, index or work-tree change. No sites at all: an
/// empty list.
pub fn plant(
    repo: &gix::Repository,
    head: ObjectId,
    opts: &MutantOptions,
) -> Result<Vec<MutantCase>> {
    if opts.count == 0 {
        return Ok(Vec::new());
    }
    let diff_opts = DiffOptions {
        context_lines: 0,
        enclosing: false,
        ..Default::default()
    };
    let mut targets: Vec<Target> = Vec::new();
    let mut candidates: Vec<(usize, Site)> = Vec::new();
    for (commit, parent) in candidate_commits(repo, head, opts.recent_commits)? {
        for file in crate::git::diff::diff_range(repo, Some(parent), commit, &diff_opts)? {
            if file.binary
                || !matches!(
                    file.status,
                    FileStatus::Added
                        | FileStatus::Modified
                        | FileStatus::Renamed { .. }
                        | FileStatus::Copied { .. }
                )
            {
                continue;
            }
            // A planted bug should be one a user's code could have: a
            // test that forgets to drop a server measures nothing useful.
            if is_test_path(&file.path) || file.additions + file.deletions > opts.max_changed_lines
            {
                continue;
            }
            let Some(language) = file
                .language
                .as_deref()
                .filter(|l| Lang::from_name(l).is_some())
            else {
                continue;
            };
            let added: Vec<u32> = file
                .hunks
                .iter()
                .flat_map(|h| &h.lines)
                .filter(|l| l.kind == LineKind::Added)
                .filter_map(|l| l.new_line)
                .collect();
            if added.is_empty() {
                continue;
            }
            let Some(kind) = entry_kind(repo, commit, &file.path)? else {
                continue;
            };
            if !matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable) {
                continue;
            }
            let Some(bytes) = crate::git::range::read_file_at(repo, commit, &file.path)? else {
                continue;
            };
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            let found = sites(&text, language, &added);
            if found.is_empty() {
                continue;
            }
            let t = targets.len();
            candidates.extend(found.into_iter().map(|site| (t, site)));
            let from = match &file.status {
                FileStatus::Renamed { from, .. } => Some(from.clone()),
                _ => None,
            };
            targets.push(Target {
                commit,
                parent,
                from,
                path: file.path,
                language: language.to_string(),
                text,
                kind,
            });
        }
    }
    let keys: Vec<(Operator, (usize, u32))> = candidates
        .iter()
        .map(|(t, site)| (site.operator, (*t, site.line)))
        .collect();
    let mut mutations: Vec<Option<Mutation>> = vec![None; candidates.len()];
    let chosen = choose(&keys, opts.count, opts.seed, |i| {
        let (t, site) = &candidates[i];
        let target = &targets[*t];
        mutations[i] = apply(&target.text, &target.language, site);
        mutations[i].is_some()
    });
    let mut out = Vec::with_capacity(chosen.len());
    for (n, i) in chosen.into_iter().enumerate() {
        let (t, site) = &candidates[i];
        let mutation = mutations[i].take().expect("a chosen site was applied");
        out.push(write_mutant(repo, n + 1, &targets[*t], site, mutation)?);
    }
    Ok(out)
}

/// Test code by the usual conventions: a `test`/`tests`/`__tests__`/
/// `spec`/`testdata` directory, or `test_x.py`, `x_test.py`, `x_test.go`,
/// `x.test.js`, `x.spec.ts` and the like.
pub fn is_test_path(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    let name = parts.pop().unwrap_or("");
    if parts
        .iter()
        .any(|d| matches!(*d, "test" | "tests" | "__tests__" | "spec" | "testdata"))
    {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name);
    stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || name.contains(".test.")
        || name.contains(".spec.")
}

/// Non-merge, non-root commits on the first-parent chain from `head`
/// (`limit` commits examined), newest first, with their parent; the walk
/// ends early where a shallow history does.
fn candidate_commits(
    repo: &gix::Repository,
    head: ObjectId,
    limit: usize,
) -> Result<Vec<(ObjectId, ObjectId)>> {
    let mut out = Vec::new();
    let mut id = head;
    for _ in 0..limit {
        let commit = repo
            .find_commit(id)
            .map_err(|e| git_err(format!("cannot read commit {id}"), e))?;
        let parents: Vec<ObjectId> = commit.parent_ids().map(|p| p.detach()).collect();
        let Some(&first) = parents.first() else { break };
        if !repo.has_object(first) {
            break;
        }
        if parents.len() == 1 {
            out.push((id, first));
        }
        id = first;
    }
    Ok(out)
}

/// The kind of the tree entry at `path` in `commit`.
fn entry_kind(repo: &gix::Repository, commit: ObjectId, path: &str) -> Result<Option<EntryKind>> {
    let tree = repo
        .find_commit(commit)
        .map_err(|e| git_err(format!("cannot read commit {commit}"), e))?
        .tree()
        .map_err(|e| git_err(format!("cannot read the tree of {commit}"), e))?;
    let entry = tree
        .lookup_entry_by_path(path)
        .map_err(|e| git_err(format!("cannot look up `{path}` in {commit}"), e))?;
    Ok(entry.map(|e| e.mode().kind()))
}

/// Writes the mutated blob, the tree with it and the mutant commit.
fn write_mutant(
    repo: &gix::Repository,
    n: usize,
    target: &Target,
    site: &Site,
    mutation: Mutation,
) -> Result<MutantCase> {
    let (id, path) = (target.commit, target.path.as_str());
    let commit = repo
        .find_commit(id)
        .map_err(|e| git_err(format!("cannot read commit {id}"), e))?;
    let blob = repo
        .write_blob(mutation.text.as_bytes())
        .map_err(|e| git_err(format!("cannot write the mutated `{path}` of {id}"), e))?
        .detach();
    // The case is this one file's change (its real hunks plus the planted
    // defect) on the parent's tree: a review of the whole commit would
    // cost as much as the commit is large and bury the one known defect
    // among changes nobody labelled.
    let parent = repo
        .find_commit(target.parent)
        .map_err(|e| git_err(format!("cannot read commit {}", target.parent), e))?;
    let tree_id = parent
        .tree_id()
        .map_err(|e| git_err(format!("cannot read the tree of {}", target.parent), e))?;
    let mut editor = repo
        .edit_tree(tree_id)
        .map_err(|e| git_err(format!("cannot edit the tree of {}", target.parent), e))?;
    if let Some(from) = &target.from {
        editor
            .remove(from.as_str())
            .map_err(|e| git_err(format!("cannot move `{from}` in the tree of {id}"), e))?;
    }
    editor.upsert(path, target.kind, blob).map_err(|e| {
        git_err(
            format!("cannot put the mutated `{path}` in the tree of {id}"),
            e,
        )
    })?;
    let tree = editor
        .write()
        .map_err(|e| git_err(format!("cannot write the mutated tree of {id}"), e))?
        .detach();
    let author = commit
        .author()
        .map_err(|e| git_err(format!("cannot read the author of {id}"), e))?;
    let committer = commit
        .committer()
        .map_err(|e| git_err(format!("cannot read the committer of {id}"), e))?;
    let raw = commit.message_raw_sloppy().to_str_lossy().into_owned();
    let message = format!("mutant: {raw}");
    let mutant = repo
        .new_commit_as(committer, author, message, tree, [target.parent])
        .map_err(|e| git_err(format!("cannot write the mutant commit of {id}"), e))?
        .id;
    let short = commit.id().shorten_or_id().to_string();
    let operator = site.operator;
    Ok(MutantCase {
        case: Case {
            id: format!("mutant-{n}-{operator}"),
            source: Source::Mutant,
            base: Some(target.parent),
            head: mutant,
            defects: vec![Defect {
                file: target.path.clone(),
                line_start: mutation.line_start,
                line_end: mutation.line_end,
                severity: operator.severity(),
                description: mutation.description,
            }],
            provenance: format!(
                "{operator} at {path}:{} of {short} ({})",
                site.line,
                subject(&raw)
            ),
        },
        operator,
    })
}

/// A commit message's subject: its first paragraph on one line (`%s`).
fn subject(message: &str) -> String {
    let message = message.trim_start_matches(['\n', '\r']);
    let first = message.split("\n\n").next().unwrap_or("");
    first.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_code_is_recognised_by_path() {
        for yes in [
            "tests/eval.rs",
            "crate/tests/common/mod.rs",
            "pkg/__tests__/a.js",
            "test_util.py",
            "lib/util_test.go",
            "web/a.test.ts",
            "web/a.spec.js",
        ] {
            assert!(is_test_path(yes), "{yes}");
        }
        for no in [
            "src/eval/mutants.rs",
            "src/contest.rs",
            "attest/a.py",
            "latest.js",
        ] {
            assert!(!is_test_path(no), "{no}");
        }
    }

    #[test]
    fn splitmix64_is_the_reference_generator_and_deterministic() {
        // The reference splitmix64 sequence for seed 0.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let run = |seed| {
            let mut r = SplitMix64(seed);
            (0..8).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let mut r = SplitMix64(3);
        for n in [1, 2, 3, 10, 1000] {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
    }

    fn items() -> Vec<(Operator, (usize, u32))> {
        let mut v = Vec::new();
        for line in 1..=20 {
            v.push((Operator::FlipComparison, (0, line)));
        }
        for line in 1..=5 {
            v.push((Operator::OffByOne, (1, line)));
        }
        v.push((Operator::RemoveRelease, (2, 1)));
        v
    }

    #[test]
    fn choice_is_deterministic_for_a_seed_and_varies_with_it() {
        let items = items();
        let a = choose(&items, 4, 11, |_| true);
        assert_eq!(a, choose(&items, 4, 11, |_| true));
        let differs = (0..20).any(|seed| choose(&items, 4, seed, |_| true) != a);
        assert!(differs, "every seed chose {a:?}");
    }

    #[test]
    fn choice_spreads_over_operators_first() {
        let items = items();
        for seed in 0..20 {
            let chosen = choose(&items, 3, seed, |_| true);
            let mut ops: Vec<Operator> = chosen.iter().map(|&i| items[i].0).collect();
            ops.sort();
            assert_eq!(
                ops,
                [
                    Operator::FlipComparison,
                    Operator::OffByOne,
                    Operator::RemoveRelease
                ],
                "seed {seed}"
            );
        }
    }

    #[test]
    fn choice_takes_each_place_once_and_stops_when_out_of_sites() {
        // Three operators at the same two places: at most two mutants.
        let items = vec![
            (Operator::FlipComparison, (0, 1)),
            (Operator::OffByOne, (0, 1)),
            (Operator::InvertCondition, (0, 1)),
            (Operator::FlipComparison, (0, 2)),
            (Operator::InvertCondition, (0, 2)),
        ];
        for seed in 0..20 {
            let chosen = choose(&items, 10, seed, |_| true);
            assert_eq!(chosen.len(), 2, "seed {seed}");
            let places: HashSet<_> = chosen.iter().map(|&i| items[i].1).collect();
            assert_eq!(places.len(), 2);
        }
        assert!(choose(&items, 0, 1, |_| true).is_empty());
        assert!(choose::<(usize, u32)>(&[], 5, 1, |_| true).is_empty());
    }

    #[test]
    fn refused_items_are_replaced_by_others() {
        let items = items();
        let chosen = choose(&items, 30, 5, |i| i % 2 == 0);
        assert!(chosen.iter().all(|i| i % 2 == 0));
        assert_eq!(
            chosen.len(),
            items.iter().enumerate().filter(|(i, _)| i % 2 == 0).count()
        );
    }

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

    #[test]
    fn crlf_line_endings_are_kept() {
        let text = "if a < b {\r\n    x();\r\n}\r\n";
        let found = sites(text, "rust", &[1]);
        let flip = found
            .iter()
            .find(|s| s.operator == Operator::FlipComparison)
            .unwrap();
        let m = apply(text, "rust", flip).unwrap();
        assert_eq!(m.text, "if a <= b {\r\n    x();\r\n}\r\n");
        assert_eq!((m.line_start, m.line_end), (1, 1));
    }

    #[test]
    fn removal_at_the_end_points_at_the_last_line() {
        let text = "def f(lock):\n    work()\n    lock.release()\n";
        let found = sites(text, "python", &[3]);
        let [site] = &found[..] else {
            panic!("{found:?}")
        };
        let m = apply(text, "python", site).unwrap();
        assert_eq!(m.text, "def f(lock):\n    work()\n");
        assert_eq!((m.line_start, m.line_end), (2, 2));
    }

    #[test]
    fn other_languages_and_no_lines_have_no_sites() {
        assert!(sites("if a < b {}\n", "c", &[1]).is_empty());
        assert!(sites("if a < b {}\n", "rust", &[]).is_empty());
        let site = &sites("if a < b {}\n", "rust", &[1])[0];
        assert!(apply("something else", "rust", site).is_none());
        assert!(apply("if a < b {}\n", "toml", site).is_none());
    }
}
