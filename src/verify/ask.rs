//! One verifier question: a consolidated finding and the code it is about
//! → a [`Request`] whose answer is constrained, conclusion first, to
//! `{"verdict": "confirmed" | "refuted" | "uncertain", "reason": "…"}`;
//! and the parser of that answer (model output is untrusted: an answer that
//! breaks the shape is a failed pass, never a verdict).
//!
//! The code shown is, in this order: the hunks of the finding's file that
//! touch its lines (the change, as the reviewers saw it), the hunk of the
//! changed line a consequence follows from, the context items the
//! reviewers were shown that touch the finding's lines (its enclosing
//! function first), and, when no item covers them, the lines around the
//! finding in the reviewed head. Bounded by [`CODE_CHARS`]; a pass other
//! than the first sees the blocks in a shuffled order (self-consistency).

use super::model::VerifyStatus;
use crate::check::consolidate::ConsolidatedFinding;
use crate::config::sampling::Sampling;
use crate::context::ContextPlan;
use crate::engine::{Prompt, Request};
use crate::plan::ReviewPlan;
use crate::text::sanitize_text;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Longest reason kept, in characters (the grammar's bound).
pub const REASON_CHARS: usize = 300;
/// Bound on the code shown with one finding, in characters (≈ 2000
/// tokens): room for a hunk, its function and a few context items in the
/// smallest window a reviewer runs with.
pub const CODE_CHARS: usize = 6_000;
/// Lines around the finding shown of its hunk, or from the head when
/// neither the change nor a context item covers them: a function's worth
/// around a claim about a few lines. Each line is prompt the verifier
/// prefills once per finding, so no more.
pub const AROUND_LINES: u32 = 8;

/// One block of code shown to the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub title: String,
    pub text: String,
}

/// The code a finding is about, in priority order (see the module docs).
/// `limit` bounds the blocks' characters (at most [`CODE_CHARS`]; less
/// for a verifier whose window is small).
pub fn evidence(
    f: &ConsolidatedFinding,
    plan: &ReviewPlan,
    context: &ContextPlan,
    contents: &HashMap<String, String>,
    limit: usize,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    let (lo, hi) = (f.line_start.saturating_sub(3), f.line_end + 3);
    let mut places: Vec<(&str, u32, u32)> = vec![(f.file.as_str(), lo, hi)];
    if let Some(c) = &f.cause {
        places.push((c.file.as_str(), c.line, c.line));
    }
    // Whether the finding's own lines are already shown (then the head's
    // lines around it would only repeat them).
    let mut covered = false;
    for (path, lo, hi) in &places {
        if let Some(file) = plan.files.iter().find(|d| d.path == *path) {
            covered |= *path == f.file
                && file.hunks.iter().any(|h| {
                    h.lines.iter().any(|l| {
                        l.new_line
                            .is_some_and(|n| n >= f.line_start && n <= f.line_end)
                    })
                });
            // Only the part of each hunk around the finding: a new file is
            // one hunk, and a finding is about a few of its lines.
            let (wlo, whi) = (lo.saturating_sub(AROUND_LINES), hi + AROUND_LINES);
            let mut near = file.clone();
            near.hunks = file
                .hunks
                .iter()
                .filter(|h| h.new_start <= *hi && h.new_start + h.new_lines.max(1) > *lo)
                .map(|h| around(h, wlo, whi))
                .collect();
            if !near.hunks.is_empty() {
                let all: Vec<usize> = (0..near.hunks.len()).collect();
                let text = crate::plan::render_file_hunks(&near, &all);
                if !blocks.iter().any(|b: &Block| b.text == text) {
                    blocks.push(Block {
                        title: format!("The change in {path}"),
                        text,
                    });
                }
            }
        }
    }
    // The items the reviewers were shown on the finding's chunks that touch
    // its lines: its enclosing function first (the smallest first, when
    // several enclose it).
    let chunks: Vec<usize> = f.members.iter().map(|m| m.chunk).collect();
    let mut items: Vec<&crate::context::model::ContextItem> = context
        .packs
        .iter()
        .filter(|p| chunks.contains(&p.chunk))
        .flat_map(|p| &p.items)
        .filter(|i| i.path == f.file && i.start <= hi && i.end >= lo && !i.text.is_empty())
        .collect();
    items.sort_by_key(|i| {
        let encloses = i.start <= f.line_start && i.end >= f.line_end;
        (!encloses, i.end - i.start, i.start)
    });
    items.dedup_by_key(|i| (i.start, i.end));
    for i in items {
        covered |= i.start <= f.line_start && i.end >= f.line_end;
        blocks.push(Block {
            title: format!(
                "{} lines {}-{} ({}): {}",
                i.path,
                i.start,
                i.end,
                i.kind.as_str(),
                i.reason
            ),
            text: i.text.clone(),
        });
    }
    if !covered {
        if let Some(text) = contents.get(&f.file) {
            let lines: Vec<&str> = text.lines().collect();
            let start = f.line_start.saturating_sub(AROUND_LINES).max(1);
            let end = (f.line_end + AROUND_LINES).min(lines.len() as u32);
            let shown = crate::context::render::numbered_lines(&lines, start, end);
            if !shown.is_empty() {
                blocks.push(Block {
                    title: format!("{} lines {start}-{end} (reviewed version)", f.file),
                    text: shown,
                });
            }
        }
    }
    // Within the bound: blocks in priority order, the last one cut.
    let mut left = limit.min(CODE_CHARS);
    let mut kept = Vec::new();
    for mut b in blocks {
        if left < 200 {
            break;
        }
        if b.text.len() > left {
            let mut at = left;
            while !b.text.is_char_boundary(at) {
                at -= 1;
            }
            let cut = b.text[..at]
                .rsplit_once('\n')
                .map_or("", |(a, _)| a)
                .to_string();
            b.text = format!("{cut}\n[… cut]");
        }
        left = left.saturating_sub(b.text.len() + b.title.len());
        kept.push(b);
    }
    kept
}

/// The lines of `hunk` from the first to the last whose new-side number
/// is within `lo..=hi`, with the removed lines right before and after
/// them (what was replaced there).
fn around(hunk: &crate::git::diff::Hunk, lo: u32, hi: u32) -> crate::git::diff::Hunk {
    let inside = |l: &crate::git::diff::DiffLine| l.new_line.is_some_and(|n| n >= lo && n <= hi);
    let (Some(mut first), Some(mut last)) = (
        hunk.lines.iter().position(inside),
        hunk.lines.iter().rposition(inside),
    ) else {
        return hunk.clone();
    };
    while first > 0 && hunk.lines[first - 1].new_line.is_none() {
        first -= 1;
    }
    while last + 1 < hunk.lines.len() && hunk.lines[last + 1].new_line.is_none() {
        last += 1;
    }
    let mut out = hunk.clone();
    out.lines = hunk.lines[first..=last].to_vec();
    out
}

/// `blocks` in the order pass `pass` shows them: as given for pass 0, else
/// a shuffle seeded by the pass (the same every run).
pub fn order(blocks: &[Block], pass: usize) -> Vec<Block> {
    let mut out = blocks.to_vec();
    if pass == 0 {
        return out;
    }
    // xorshift64*: a fixed, dependency-free sequence per pass.
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (pass as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for i in (1..out.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

/// The user message for one finding and its code.
pub fn user_message(f: &ConsolidatedFinding, blocks: &[Block]) -> String {
    let mut m = String::from("Finding:\n");
    let lines = if f.line_start == f.line_end {
        format!("{}", f.line_start)
    } else {
        format!("{}-{}", f.line_start, f.line_end)
    };
    let _ = writeln!(m, "- severity: {}", f.severity.as_str());
    let _ = writeln!(m, "- location: {}:{lines}", f.file);
    if let Some(c) = &f.cause {
        let _ = writeln!(m, "- follows from the changed line {}:{}", c.file, c.line);
    }
    let _ = writeln!(m, "- claim: {}", f.title);
    let _ = writeln!(m, "- explanation: {}", f.explanation);
    if !f.quote.is_empty() {
        let _ = writeln!(m, "- quoted code: {}", f.quote);
    }
    if !f.fix.is_empty() {
        let _ = writeln!(m, "- suggested fix: {}", f.fix);
    }
    m.push_str("\nCode:\n");
    for (i, b) in blocks.iter().enumerate() {
        let _ = write!(m, "\n[code {}] {}\n{}", i + 1, b.title, b.text);
        if !b.text.ends_with('\n') {
            m.push('\n');
        }
    }
    m.push_str(
        "\nQuestion: does the code shown have this defect, as the finding describes it? \
         Answer with the JSON only.",
    );
    m
}

/// GBNF of the answer: the verdict first, then a bounded reason in
/// printable ASCII (every token adds a character, so the answer closes
/// within [`max_tokens`]).
pub fn grammar() -> String {
    let verdicts: Vec<String> = VerifyStatus::ALL
        .iter()
        .map(|v| format!("\"\\\"{}\\\"\"", v.as_str()))
        .collect();
    format!(
        "root ::= \"{{\" ws \"\\\"verdict\\\":\" ws verdict \",\" ws \"\\\"reason\\\":\" ws reason ws \"}}\"\n\
         verdict ::= {}\n\
         reason ::= \"\\\"\" char{{0,{REASON_CHARS}}} \"\\\"\"\n\
         char ::= [ !#-\\[\\]-~]\n\
         ws ::= [ \\n]{{0,2}}\n",
        verdicts.join(" | ")
    )
}

/// The same constraint as a JSON schema, for servers that take one.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "verdict": {"enum": VerifyStatus::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>()},
            "reason": {"type": "string", "maxLength": REASON_CHARS},
        },
        "required": ["verdict", "reason"],
        "additionalProperties": false,
    })
}

/// Characters of code a verifier with a window of `window` tokens is
/// shown: what is left beside the instruction, the finding and the
/// answer, at 3 characters per token (the plan's estimate), up to
/// [`CODE_CHARS`].
pub fn code_chars(window: Option<usize>) -> usize {
    // The instruction and the finding's own fields, generously.
    const FIXED_TOKENS: usize = 700;
    window.map_or(CODE_CHARS, |w| {
        (w.saturating_sub(FIXED_TOKENS + max_tokens()) * 3).min(CODE_CHARS)
    })
}

/// Tokens an answer may take: the longest the grammar admits.
pub fn max_tokens() -> usize {
    // `{"verdict": "uncertain", "reason": "…"}` with its spaces, at one
    // token per character at worst.
    40 + REASON_CHARS
}

/// The request of pass `pass` on one finding. `sampling` carries the
/// verifier's thinking settings; the answer budget is the answer's own.
pub fn request(
    f: &ConsolidatedFinding,
    blocks: &[Block],
    pass: usize,
    sampling: &Sampling,
    on_server: bool,
) -> Request {
    let sampling = Sampling {
        max_tokens: max_tokens(),
        seed: sampling.seed.wrapping_add(pass as u32),
        ..sampling.clone()
    };
    Request {
        prompt: Prompt {
            system: crate::prompts::VERIFY.trim().to_string(),
            user: user_message(f, &order(blocks, pass)),
        },
        sampling,
        grammar: grammar(),
        schema: on_server.then(|| std::sync::Arc::new(schema())),
    }
}

/// A verifier's answer → its verdict and reason, or why it is unusable.
pub fn parse(text: &str) -> Result<(VerifyStatus, String), String> {
    let t = text.trim();
    // A server without grammar support may wrap the JSON in a code fence.
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .map(|r| r.trim_end().trim_end_matches("```").trim())
        .unwrap_or(t);
    let v: serde_json::Value = serde_json::from_str(t).map_err(|e| {
        format!(
            "the answer is not the JSON asked for ({e}): {:?}",
            sanitize_text(text, 80, false)
        )
    })?;
    crate::engine::schema::validate(&schema(), &v)
        .map_err(|e| format!("the answer breaks its schema: {e}"))?;
    let verdict = v["verdict"].as_str().and_then(VerifyStatus::parse);
    let reason = v["reason"].as_str().unwrap_or_default();
    let verdict = verdict.ok_or("the answer has no verdict")?;
    Ok((
        verdict,
        sanitize_text(reason, REASON_CHARS, false)
            .trim()
            .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_only_in_the_asked_shape() {
        assert_eq!(
            parse(r#"{"verdict":"refuted","reason":"x is used on line 12"}"#),
            Ok((VerifyStatus::Refuted, "x is used on line 12".into()))
        );
        assert_eq!(
            parse("```json\n{\"verdict\": \"confirmed\", \"reason\": \"\"}\n```").map(|v| v.0),
            Ok(VerifyStatus::Confirmed)
        );
        for bad in [
            "",
            "refuted",
            r#"{"verdict":"false-positive","reason":"r"}"#,
            r#"{"reason":"r"}"#,
            r#"{"verdict":"refuted","reason":"r","extra":1}"#,
            r#"{"verdict":"refuted","reason":7}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let long = format!(r#"{{"verdict":"refuted","reason":"{}"}}"#, "a".repeat(400));
        assert!(parse(&long).is_err(), "a reason over the bound is refused");
    }

    fn new_file(lines: u32) -> (ReviewPlan, HashMap<String, String>) {
        use crate::git::diff::{DiffLine, FileDiff, FileStatus, Hunk, LineKind};
        let text: Vec<String> = (1..=lines).map(|n| format!("line_{n} = {n}")).collect();
        let hunk = Hunk {
            old_start: 0,
            old_lines: 0,
            new_start: 1,
            new_lines: lines,
            lines: text
                .iter()
                .enumerate()
                .map(|(i, t)| DiffLine {
                    kind: LineKind::Added,
                    old_line: None,
                    new_line: Some(i as u32 + 1),
                    text: t.clone(),
                })
                .collect(),
            enclosing: None,
        };
        let plan = ReviewPlan {
            range: crate::git::range::ReviewRange {
                spec: "t".into(),
                base: None,
                head: gix::ObjectId::null(gix::hash::Kind::Sha1),
                branch: None,
                commits: Vec::new(),
            },
            files: vec![FileDiff {
                path: "big.py".into(),
                status: FileStatus::Added,
                binary: false,
                additions: lines,
                deletions: 0,
                hunks: vec![hunk],
                language: Some("python".into()),
            }],
            skipped: Vec::new(),
            unfit: Vec::new(),
            chunks: Vec::new(),
        };
        let contents = HashMap::from([("big.py".to_string(), text.join("\n") + "\n")]);
        (plan, contents)
    }

    #[test]
    fn a_finding_is_shown_with_the_change_around_it_not_the_whole_file() {
        let (plan, contents) = new_file(400);
        let f = ConsolidatedFinding {
            issue: crate::check::findings::Issue {
                severity: crate::check::findings::Severity::Important,
                kind: crate::check::findings::Kind::Gap,
                file: "big.py".into(),
                line_start: 200,
                line_end: 201,
                title: "t".into(),
                explanation: String::new(),
                fix: String::new(),
                quote: String::new(),
                cause: None,
            },
            unconfirmed: false,
            reviewers: vec!["r".into()],
            agreement: 1,
            members: Vec::new(),
            verification: None,
        };
        let context = ContextPlan::off(&plan);
        let blocks = evidence(&f, &plan, &context, &contents, CODE_CHARS);
        let change = &blocks[0];
        assert_eq!(change.title, "The change in big.py");
        let shown: Vec<&str> = change.text.lines().filter(|l| l.starts_with('+')).collect();
        assert!(
            shown.first().unwrap().contains("line_189 "),
            "{}",
            change.text
        );
        assert!(
            shown.last().unwrap().contains("line_212 "),
            "{}",
            change.text
        );
        assert_eq!(shown.len(), 24);
        // The change shows the finding's lines: the head's would repeat them.
        assert_eq!(blocks.len(), 1, "{blocks:?}");
        // A finding outside the change (a consequence on context code) is
        // shown the head's lines around it.
        let mut elsewhere = f.clone();
        elsewhere.issue.file = "other.py".into();
        let mut contents2 = contents.clone();
        contents2.insert("other.py".into(), "a = 1\n".repeat(300));
        let other = evidence(&elsewhere, &plan, &context, &contents2, CODE_CHARS);
        assert_eq!(other.len(), 1, "{other:?}");
        assert!(
            other[0].title.starts_with("other.py lines 192-209"),
            "{}",
            other[0].title
        );
        // A small window shows less, never more than its bound.
        let small = evidence(&f, &plan, &context, &contents, 600);
        let chars: usize = small.iter().map(|b| b.text.len()).sum();
        assert!(chars <= 600 + 20, "{chars}");
        assert!(
            small[0].text.contains("line_200 "),
            "the finding's own lines come first"
        );
    }

    #[test]
    fn the_grammar_names_every_verdict_first() {
        let g = grammar();
        let root = g.lines().next().unwrap();
        assert!(root.find("verdict").unwrap() < root.find("reason").unwrap());
        for v in VerifyStatus::ALL {
            assert!(g.contains(&format!("\\\"{}\\\"", v.as_str())), "{g}");
        }
    }

    #[test]
    fn passes_after_the_first_shuffle_the_blocks_deterministically() {
        let blocks: Vec<Block> = (0..6)
            .map(|i| Block {
                title: format!("b{i}"),
                text: String::new(),
            })
            .collect();
        assert_eq!(order(&blocks, 0), blocks);
        let one = order(&blocks, 1);
        assert_eq!(one, order(&blocks, 1), "the same every run");
        assert_ne!(one, blocks, "pass 1 is another order");
        assert_ne!(one, order(&blocks, 2), "each pass its own order");
        let mut sorted = one.clone();
        sorted.sort_by(|a, b| a.title.cmp(&b.title));
        assert_eq!(sorted, blocks, "a permutation");
    }
}
