//! Language heuristics on source text: the language of a path, and the
//! function, class or block that encloses a line (by brace counting for
//! C-like languages, by indentation for Python). Plain text in, plain data
//! out; the diff uses them to label hunks.

use serde::Serialize;

/// The enclosing function/block of a hunk, taken from the new file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enclosing {
    pub start_line: u32,
    pub end_line: u32,
    /// First line of the block (its signature), shown as the hunk's heading.
    pub signature: String,
}

/// Language name (for fenced code blocks and the enclosing heuristic) from
/// the file extension or well-known file name.
pub fn language_for(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name {
        "Makefile" | "makefile" | "GNUmakefile" => return Some("makefile"),
        "Dockerfile" => return Some("dockerfile"),
        "CMakeLists.txt" => return Some("cmake"),
        _ => {}
    }
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "rs" => "rust",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" => "cpp",
        "go" => "go",
        "java" => "java",
        "js" | "mjs" | "cjs" | "jsx" => "javascript",
        "ts" | "tsx" | "mts" | "cts" => "typescript",
        "cs" => "csharp",
        "kt" | "kts" => "kotlin",
        "swift" => "swift",
        "php" => "php",
        "scala" | "sc" => "scala",
        "py" | "pyi" => "python",
        "rb" => "ruby",
        "sh" | "bash" | "zsh" => "bash",
        "toml" => "toml",
        "yaml" | "yml" => "yaml",
        "json" => "json",
        "md" | "markdown" => "markdown",
        "html" | "htm" => "html",
        "css" => "css",
        "sql" => "sql",
        "xml" => "xml",
        "lua" => "lua",
        "m" => "objectivec",
        "bats" => "bash",
        _ => return None,
    })
}

/// Test files by the common conventions of the languages we see.
pub fn is_test_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let dirs: Vec<&str> = lower.split('/').collect();
    dirs[..dirs.len().saturating_sub(1)].iter().any(|d| {
        matches!(
            *d,
            "test" | "tests" | "spec" | "specs" | "__tests__" | "testdata"
        )
    }) || name.starts_with("test_")
        || name.contains("_test.")
        || name.contains(".test.")
        || name.contains("_spec.")
        || name.contains(".spec.")
        || name.ends_with("test.java")
        || name.ends_with("tests.cs")
        || name.ends_with(".bats")
}

pub fn is_brace_language(lang: &str) -> bool {
    matches!(
        lang,
        "rust"
            | "c"
            | "cpp"
            | "go"
            | "java"
            | "javascript"
            | "typescript"
            | "csharp"
            | "kotlin"
            | "swift"
            | "php"
            | "scala"
    )
}

/// How far up from a hunk the enclosing heuristic looks for a signature.
const ENCLOSING_UP: usize = 200;
/// How far down from a signature it looks for the end of the block.
const ENCLOSING_DOWN: usize = 2000;

fn indent_of(line: &str) -> Option<usize> {
    if line.trim().is_empty() {
        return None;
    }
    Some(
        line.chars()
            .take_while(|c| c.is_whitespace())
            .map(|c| if c == '\t' { 4 } else { 1 })
            .sum(),
    )
}

/// Enclosing block for brace languages.
///
/// Walks up (at most [`ENCLOSING_UP`] lines) from the hunk's first changed
/// line to the nearest line that looks like a definition — it contains a
/// definition keyword (`fn`, `impl`, `class`, `struct`, `func`,
/// `function`...) or a call-like `name(...)` that is not a control
/// statement, and it opens a brace on that line or the next — and is
/// indented less than everything seen on the way up (the changed line
/// itself may be the signature). Its end is the line where the brace depth
/// returns to zero, counting braces outside string/char literals and
/// comments (roughly: no raw strings or nested template literals). When the
/// block ends before the changed line, the search continues upwards.
pub fn enclosing_braces(lines: &[&str], anchor: usize) -> Option<Enclosing> {
    let anchor = anchor.min(lines.len().checked_sub(1)?);
    let mut limit = indent_of(lines[anchor]).unwrap_or(usize::MAX);
    let lowest = anchor.saturating_sub(ENCLOSING_UP);
    for i in (lowest..=anchor).rev() {
        let Some(indent) = indent_of(lines[i]) else {
            continue;
        };
        if i == anchor || indent < limit {
            if let Some(found) = brace_block_at(lines, i, anchor) {
                return Some(found);
            }
        }
        // The closing line of a multi-line signature (`) -> T {`) does not
        // bound the search: its opening line sits at the same indentation.
        // Nor does a lone `{` under an Allman-style signature.
        let trimmed = lines[i].trim();
        let continuation = trimmed.starts_with(')') || trimmed.starts_with(']') || trimmed == "{";
        if i != anchor && !continuation {
            limit = limit.min(indent);
        }
    }
    None
}

/// The block whose signature ends at line `i`, if it looks like one and
/// contains `anchor`.
fn brace_block_at(lines: &[&str], i: usize, anchor: usize) -> Option<Enclosing> {
    let start = signature_start(lines, i)?;
    let end = block_end(lines, i)?;
    (end >= anchor).then(|| Enclosing {
        start_line: start as u32 + 1,
        end_line: end as u32 + 1,
        signature: lines[start].trim().to_string(),
    })
}

/// First line of the signature that opens a brace on line `i` (or the
/// next line): `i` itself, or for `) -> T {` the line holding the `(`.
fn signature_start(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines[i].trim();
    let opens = line.contains('{') || lines.get(i + 1).is_some_and(|l| l.trim() == "{");
    if !opens {
        return None;
    }
    if line.starts_with(')') {
        let indent = indent_of(lines[i]);
        let top = i.saturating_sub(30);
        let j = (top..i)
            .rev()
            .find(|&j| indent_of(lines[j]) == indent && !lines[j].trim_start().starts_with(')'))?;
        return looks_like_signature(lines[j]).then_some(j);
    }
    looks_like_signature(line).then_some(i)
}

const CONTROL_WORDS: &[&str] = &[
    "if",
    "else",
    "for",
    "while",
    "switch",
    "match",
    "do",
    "try",
    "catch",
    "return",
    "loop",
    "unsafe",
    "finally",
    "when",
    "foreach",
    "using",
    "lock",
    "synchronized",
    "defer",
    "go",
    "select",
    "case",
    "let",
    "const",
    "var",
    "await",
    "yield",
    "}",
];

const DEFINITION_WORDS: &[&str] = &[
    "fn",
    "impl",
    "struct",
    "enum",
    "trait",
    "mod",
    "union",
    "class",
    "interface",
    "func",
    "function",
    "fun",
    "def",
    "namespace",
    "object",
    "type",
    "macro_rules!",
    "extension",
    "protocol",
    "record",
    "module",
];

fn looks_like_signature(line: &str) -> bool {
    let line = line.trim();
    if line.starts_with("//")
        || line.starts_with('*')
        || line.starts_with("/*")
        || line.starts_with('}')
    {
        return false;
    }
    let words: Vec<&str> = line
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '!'))
        .filter(|w| !w.is_empty())
        .collect();
    let Some(first) = words.first() else {
        return false;
    };
    // JS/TS arrow functions: `const f = (x) => {`.
    if line.contains("=>")
        && line.ends_with('{')
        && matches!(*first, "const" | "let" | "var" | "export")
    {
        return true;
    }
    if CONTROL_WORDS.contains(first) {
        return false;
    }
    if words.iter().any(|w| DEFINITION_WORDS.contains(w)) {
        return true;
    }
    // C-like `type name(args) {`, a method `name(args) {`, or the first
    // line of a multi-line signature `name(`.
    let head = line.split('{').next().unwrap_or("");
    head.contains('(') && !head.contains('=') && !head.trim_end().ends_with(';')
}

/// Index of the line whose closing brace balances the block opened at or
/// right after `start`.
fn block_end(lines: &[&str], start: usize) -> Option<usize> {
    let mut scan = BraceScan::default();
    let last = (start + ENCLOSING_DOWN).min(lines.len() - 1);
    (start..=last).find(|&i| scan.closes_block(lines[i]))
}

/// Brace depth across lines, outside string/char literals and comments.
#[derive(Default)]
struct BraceScan {
    depth: i64,
    opened: bool,
    in_block_comment: bool,
}

impl BraceScan {
    /// Scans one line; true when the first opened block closes on it.
    /// Works on bytes: braces, quotes and comment markers are ASCII, and
    /// UTF-8 continuation bytes never look like them.
    fn closes_block(&mut self, line: &str) -> bool {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let (c, next) = (bytes[i], bytes.get(i + 1).copied());
            if self.in_block_comment {
                if c == b'*' && next == Some(b'/') {
                    self.in_block_comment = false;
                    i += 1;
                }
            } else if c == b'/' && next == Some(b'/') {
                return false;
            } else if c == b'/' && next == Some(b'*') {
                self.in_block_comment = true;
                i += 1;
            } else if c == b'"' || c == b'`' || (c == b'\'' && is_char_literal(bytes, i)) {
                i = skip_string(bytes, i, c);
            } else if c == b'{' {
                self.depth += 1;
                self.opened = true;
            } else if c == b'}' {
                self.depth -= 1;
                if self.opened && self.depth == 0 {
                    return true;
                }
            }
            i += 1;
        }
        false
    }
}

/// Index of the closing quote (or the line end) of a literal opened at `start`.
fn skip_string(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// `'x'` or `'\n'` (not a Rust lifetime like `'a`); ASCII char literals only.
fn is_char_literal(bytes: &[u8], i: usize) -> bool {
    match bytes.get(i + 1) {
        Some(b'\\') => true,
        Some(_) => bytes.get(i + 2) == Some(&b'\''),
        None => false,
    }
}

/// Enclosing `def`/`class` for Python, by indentation: the nearest such line
/// above the change (at most [`ENCLOSING_UP`] lines up) indented less than
/// the changed line; the block ends at the last non-blank line before the
/// next line indented at or below the signature's level.
pub fn enclosing_python(lines: &[&str], anchor: usize) -> Option<Enclosing> {
    let anchor = anchor.min(lines.len().checked_sub(1)?);
    let mut limit = indent_of(lines[anchor]).unwrap_or(usize::MAX);
    let lowest = anchor.saturating_sub(ENCLOSING_UP);
    for i in (lowest..=anchor).rev() {
        let Some(indent) = indent_of(lines[i]) else {
            continue;
        };
        let trimmed = lines[i].trim_start();
        let is_def = ["def ", "async def ", "class "]
            .iter()
            .any(|k| trimmed.starts_with(k));
        if is_def && (i == anchor || indent < limit) {
            let end = python_block_end(lines, i, indent);
            if end >= anchor {
                return Some(Enclosing {
                    start_line: i as u32 + 1,
                    end_line: end as u32 + 1,
                    signature: lines[i].trim().to_string(),
                });
            }
        }
        if i != anchor && !trimmed.starts_with(')') {
            limit = limit.min(indent);
        }
    }
    None
}

fn python_block_end(lines: &[&str], start: usize, indent: usize) -> usize {
    let mut end = start;
    let last = (start + ENCLOSING_DOWN).min(lines.len() - 1);
    for (i, line) in lines.iter().enumerate().take(last + 1).skip(start + 1) {
        match indent_of(line) {
            None => continue,
            Some(n) if n <= indent && !line.trim_start().starts_with(')') => break,
            Some(_) => end = i,
        }
    }
    end
}

#[cfg(test)]
mod test_paths {
    use super::is_test_path;

    #[test]
    fn test_paths() {
        for p in [
            "tests/a.rs",
            "src/x/tests/b.rs",
            "pkg/a_test.go",
            "test_a.py",
            "a.test.ts",
            "src/FooTest.java",
        ] {
            assert!(is_test_path(p), "{p}");
        }
        for p in ["src/a.rs", "src/testing_utils_not.rs", "contest.go"] {
            assert!(!is_test_path(p), "{p}");
        }
    }
}
