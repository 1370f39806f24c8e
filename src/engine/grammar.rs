//! GBNF grammar for a reviewer's output, built per chunk.
//!
//! The grammar is the findings JSON schema (`{"findings":[RawFinding...]}`,
//! fields in `RawFinding` order) narrowed to the chunk: `file` can only be
//! one of the chunk's files, and `line`/`end_line` only a line number that
//! exists on the new side of *that* file in the chunk. So a finding cannot
//! point outside the diff, by construction. Every string and the number of
//! findings are bounded so the output has a known worst-case length (see
//! [`GrammarLimits::fit_within`]). No optional whitespace is allowed: it
//! would only cost tokens.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Size limits of the generated JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrammarLimits {
    /// Maximum findings per chunk (maxItems).
    pub max_findings: usize,
    /// maxLength of each string field, in characters.
    pub title: usize,
    pub explanation: usize,
    pub fix: usize,
    pub quote: usize,
}

impl Default for GrammarLimits {
    fn default() -> Self {
        GrammarLimits {
            max_findings: 5,
            title: 100,
            explanation: 360,
            fix: 240,
            quote: 200,
        }
    }
}

/// Fixed characters of one finding besides the file, numbers and strings:
/// `{"file":,"line":,"end_line":,"severity":"","kind":"","title":,"explanation":,"fix":,"quote":}`
/// plus the longest severity and kind words and eight string quotes.
const FINDING_OVERHEAD: usize = 90 + 10 + 11 + 8;
/// `{"findings":[]}`
const ROOT_OVERHEAD: usize = 15;
/// A string character is at most a two-character escape (`\n`, `\"`); the
/// grammar allows no `\uXXXX` escapes (raw UTF-8 is valid JSON).
const ESCAPE_WIDTH: usize = 2;

impl GrammarLimits {
    /// The longest output (in characters) the grammar allows for `files`.
    /// Each generated token produces at least one character, so this is also
    /// an upper bound on generated tokens (the end-of-generation token aside).
    pub fn worst_case_chars(&self, files: &[(String, Vec<u32>)]) -> usize {
        let longest_file = files
            .iter()
            .filter(|(_, lines)| !lines.is_empty())
            .map(|(f, _)| json_string(f).len())
            .max();
        let Some(file) = longest_file else {
            return ROOT_OVERHEAD;
        };
        let digits = files
            .iter()
            .flat_map(|(_, l)| l.iter())
            .max()
            .map(|m| m.to_string().len())
            .unwrap_or(1);
        let strings = (self.title + self.explanation + self.fix + self.quote) * ESCAPE_WIDTH;
        let one = FINDING_OVERHEAD + file + 2 * digits + strings;
        ROOT_OVERHEAD + self.max_findings * (one + 1)
    }

    /// These limits with string lengths shrunk until ONE finding fits in
    /// `max_tokens`; the number of findings is kept. A reviewer that writes
    /// many long findings may then run out of budget mid-answer: the findings
    /// it completed are kept ([`crate::check::findings::close_truncated`]) and the
    /// retro says it was cut short. Shrinking every finding to fit the worst
    /// case of all of them ([`GrammarLimits::fit_within`]) would cap a
    /// capable model at one or two terse findings per chunk.
    pub fn fit_one_within(&self, max_tokens: usize, files: &[(String, Vec<u32>)]) -> GrammarLimits {
        let mut one = *self;
        one.max_findings = 1;
        let fitted = one.fit_within(max_tokens, files);
        GrammarLimits {
            max_findings: self.max_findings.max(1),
            ..fitted
        }
    }

    /// These limits shrunk (findings first, then string lengths) until the
    /// worst case fits in `max_tokens`, so the JSON can always close.
    /// Always allows at least one finding with short strings.
    pub fn fit_within(&self, max_tokens: usize, files: &[(String, Vec<u32>)]) -> GrammarLimits {
        let mut l = *self;
        l.max_findings = l.max_findings.max(1);
        while l.worst_case_chars(files) > max_tokens && l.max_findings > 1 {
            l.max_findings -= 1;
        }
        while l.worst_case_chars(files) > max_tokens && l.explanation > 8 {
            l.title = (l.title * 9 / 10).max(8);
            l.explanation = (l.explanation * 9 / 10).max(8);
            l.fix = l.fix * 9 / 10;
            l.quote = l.quote * 9 / 10;
        }
        l
    }
}

/// `s` as a JSON string literal (with quotes), escaped like serde_json does.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `s` as a GBNF double-quoted literal.
fn gbnf_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default)]
struct Trie {
    terminal: bool,
    children: BTreeMap<u8, Trie>,
}

impl Trie {
    fn insert(&mut self, digits: &[u8]) {
        match digits.split_first() {
            None => self.terminal = true,
            Some((d, rest)) => self.children.entry(*d).or_default().insert(rest),
        }
    }

    /// Grammar expression for what may follow this node. Children with the
    /// same continuation share one character class, so dense ranges such as
    /// 100..=199 collapse to `"1" [0-9] [0-9]`.
    fn expr(&self) -> String {
        if self.children.is_empty() {
            return String::new();
        }
        let mut groups: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (d, child) in &self.children {
            groups.entry(child.expr()).or_default().push(*d);
        }
        let alts: Vec<String> = groups
            .iter()
            .map(|(rest, ds)| {
                let class = digit_class(ds);
                if rest.is_empty() {
                    class
                } else {
                    format!("{class} {rest}")
                }
            })
            .collect();
        let alt = alts.join(" | ");
        if self.terminal {
            format!("({alt})?")
        } else if alts.len() > 1 {
            format!("({alt})")
        } else {
            alt
        }
    }
}

fn digit_class(ds: &[u8]) -> String {
    if let [d] = ds {
        return format!("\"{}\"", *d as char);
    }
    let mut out = String::from("[");
    let mut i = 0;
    while i < ds.len() {
        let mut j = i;
        while j + 1 < ds.len() && ds[j + 1] == ds[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            let _ = write!(out, "{}-{}", ds[i] as char, ds[j] as char);
        } else {
            for d in &ds[i..=j] {
                out.push(*d as char);
            }
        }
        i = j + 1;
    }
    out.push(']');
    out
}

/// Grammar expression matching exactly the decimal numbers in `nums`.
pub fn number_set_expr(nums: &BTreeSet<u32>) -> String {
    let mut t = Trie::default();
    for n in nums {
        t.insert(n.to_string().as_bytes());
    }
    t.expr()
}

/// GBNF for a reviewer's answer on one chunk. `files` pairs each file path
/// of the chunk with the new-side line numbers it shows; files without
/// lines (deleted, binary) cannot be the target of a finding. Root rule: `root`.
pub fn findings_grammar(files: &[(String, Vec<u32>)], limits: &GrammarLimits) -> String {
    findings_grammar_with_context(files, &[], limits)
}

/// [`findings_grammar`] for a chunk shown with read-only context: a
/// finding may also point at a shown context line (`context`), and every
/// finding ends with `"cause":"path:line"`, the changed line a finding of
/// kind `consequence` follows from (empty for the others). Without
/// context lines it is exactly [`findings_grammar`].
pub fn findings_grammar_with_context(
    files: &[(String, Vec<u32>)],
    context: &[(String, Vec<u32>)],
    limits: &GrammarLimits,
) -> String {
    let diff_files = files;
    let with_context = context.iter().any(|(_, l)| !l.is_empty());
    let all: Vec<(String, Vec<u32>)> = files.iter().chain(context).cloned().collect();
    let files = &all[..];
    let mut merged: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for (f, lines) in files {
        if !lines.is_empty() {
            merged
                .entry(f.as_str())
                .or_default()
                .extend(lines.iter().copied().filter(|&l| l > 0));
        }
    }
    merged.retain(|_, l| !l.is_empty());
    let mut g = String::new();
    if merged.is_empty() || limits.max_findings == 0 {
        g.push_str("root ::= \"{\\\"findings\\\":[]}\"\n");
        return g;
    }
    g.push_str("root ::= \"{\\\"findings\\\":[\" items? \"]}\"\n");
    if limits.max_findings == 1 {
        g.push_str("items ::= finding\n");
    } else {
        let _ = writeln!(
            g,
            "items ::= finding (\",\" finding){{0,{}}}",
            limits.max_findings - 1
        );
    }
    let _ = writeln!(
        g,
        "finding ::= \"{{\\\"file\\\":\" loc \",\\\"severity\\\":\\\"\" severity \"\\\",\\\"kind\\\":\\\"\" kind \
         \"\\\",\\\"title\\\":\" title \",\\\"explanation\\\":\" explanation \",\\\"fix\\\":\" fix \
         \",\\\"quote\\\":\" quote{} \"}}\"",
        if with_context { " cause" } else { "" }
    );
    if with_context {
        // The changed lines a consequence can follow from.
        let mut causes: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
        for (f, lines) in diff_files {
            causes
                .entry(f.as_str())
                .or_default()
                .extend(lines.iter().copied().filter(|&l| l > 0));
        }
        causes.retain(|_, l| !l.is_empty());
        let alts: Vec<String> = (0..causes.len()).map(|i| format!("cause{i}")).collect();
        if alts.is_empty() {
            g.push_str("cause ::= \",\\\"cause\\\":\\\"\\\"\"\n");
        } else {
            let _ = writeln!(
                g,
                "cause ::= \",\\\"cause\\\":\\\"\" ({})? \"\\\"\"",
                alts.join(" | ")
            );
        }
        for (i, (file, lines)) in causes.iter().enumerate() {
            let inner = json_string(&format!("{file}:"));
            let _ = writeln!(
                g,
                "cause{i} ::= {} {}",
                gbnf_literal(&inner[1..inner.len() - 1]),
                number_set_expr(lines)
            );
        }
    }
    let locs: Vec<String> = (0..merged.len()).map(|i| format!("file{i}")).collect();
    let _ = writeln!(g, "loc ::= {}", locs.join(" | "));
    for (i, (file, lines)) in merged.iter().enumerate() {
        let _ = writeln!(
            g,
            "file{i} ::= {} \",\\\"line\\\":\" lines{i} \",\\\"end_line\\\":\" lines{i}",
            gbnf_literal(&json_string(file))
        );
        let _ = writeln!(g, "lines{i} ::= {}", number_set_expr(lines));
    }
    g.push_str("severity ::= \"critical\" | \"important\" | \"suggestion\"\n");
    if with_context {
        g.push_str("kind ::= \"regression\" | \"gap\" | \"enhancement\" | \"consequence\"\n");
    } else {
        g.push_str("kind ::= \"regression\" | \"gap\" | \"enhancement\"\n");
    }
    let _ = writeln!(
        g,
        "title ::= \"\\\"\" char{{1,{}}} \"\\\"\"",
        limits.title.max(1)
    );
    let _ = writeln!(
        g,
        "explanation ::= \"\\\"\" char{{1,{}}} \"\\\"\"",
        limits.explanation.max(1)
    );
    for (name, n) in [("fix", limits.fix), ("quote", limits.quote)] {
        if n == 0 {
            let _ = writeln!(g, "{name} ::= \"\\\"\\\"\"");
        } else {
            let _ = writeln!(g, "{name} ::= \"\\\"\" char{{0,{n}}} \"\\\"\"");
        }
    }
    g.push_str("char ::= [^\"\\\\\\x00-\\x1F\\x7F] | \"\\\\\" [\"\\\\/bfnrt]\n");
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_sets_compress_to_classes() {
        let s: BTreeSet<u32> = (100..=199).collect();
        assert_eq!(number_set_expr(&s), "\"1\" [0-9] [0-9]");
        let s: BTreeSet<u32> = [7, 12, 120].into_iter().collect();
        assert_eq!(number_set_expr(&s), "(\"7\" | \"1\" \"2\" (\"0\")?)");
        let s: BTreeSet<u32> = [1, 2, 3, 5].into_iter().collect();
        assert_eq!(number_set_expr(&s), "[1-35]");
    }

    #[test]
    fn file_names_are_json_then_gbnf_escaped() {
        let files = vec![("we\"ird\\dir/a b.rs".to_string(), vec![3, 4])];
        let g = findings_grammar(&files, &GrammarLimits::default());
        // JSON: "we\"ird\\dir/a b.rs" ; GBNF escapes each quote and backslash again.
        assert!(
            g.contains(r#"file0 ::= "\"we\\\"ird\\\\dir/a b.rs\"""#),
            "{g}"
        );
        assert!(g.contains("lines0 ::= [34]"), "{g}");
    }

    #[test]
    fn files_without_lines_cannot_be_targets() {
        let files = vec![
            ("gone.rs".to_string(), vec![]),
            ("kept.rs".to_string(), vec![9]),
        ];
        let g = findings_grammar(&files, &GrammarLimits::default());
        assert!(!g.contains("gone.rs") && g.contains("kept.rs"));
        let g = findings_grammar(
            &[("gone.rs".to_string(), vec![])],
            &GrammarLimits::default(),
        );
        assert_eq!(g.trim(), r#"root ::= "{\"findings\":[]}""#);
    }

    #[test]
    fn limits_fit_the_token_budget() {
        let files = vec![("src/lib.rs".to_string(), (1..=400).collect::<Vec<u32>>())];
        let big = GrammarLimits::default();
        assert!(big.worst_case_chars(&files) > 2000);
        for budget in [400, 768, 2048, 8192] {
            let l = big.fit_within(budget, &files);
            assert!(
                l.worst_case_chars(&files) <= budget || l.max_findings == 1,
                "{budget}: {l:?}"
            );
            assert!(l.max_findings >= 1);
        }
        assert_eq!(big.fit_within(1_000_000, &files), big);
        for budget in [400, 768, 2048] {
            let l = big.fit_one_within(budget, &files);
            assert_eq!(
                l.max_findings, big.max_findings,
                "{budget}: findings are kept"
            );
            let one = GrammarLimits {
                max_findings: 1,
                ..l
            };
            assert!(one.worst_case_chars(&files) <= budget, "{budget}: {l:?}");
        }
        assert_eq!(big.fit_one_within(8192, &files), big);
        let g = findings_grammar(&files, &big);
        assert!(g.contains("finding (\",\" finding){0,4}"), "{g}");
        assert!(g.contains("char{1,100}"));
    }
}
