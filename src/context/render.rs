//! A context pack → the read-only blocks a reviewer reads after the diff,
//! and the `--plan` listing of what was chosen, dropped and skipped.

use super::model::{ChunkPack, ContextItem, ContextPlan};
use crate::text::escape_control;
use std::fmt::Write as _;

/// Lines `start..=end` of a file (already split into lines: the pack asks
/// for many ranges of one file) with their line numbers, as the diff shows
/// unchanged lines (`  12 | code`). Empty when the range is past the end.
pub fn numbered_lines(lines: &[impl AsRef<str>], start: u32, end: u32) -> String {
    let width = end.to_string().len();
    let mut out = String::new();
    let last = end.min(lines.len() as u32);
    for n in start.max(1)..=last {
        let _ = writeln!(out, "  {n:>width$} | {}", lines[n as usize - 1].as_ref());
    }
    out
}

/// One item as the reviewer reads it.
pub fn block(item: &ContextItem, number: usize) -> String {
    format!(
        "[context {number}] {} lines {}-{} ({}): {}\n{}",
        item.path,
        item.start,
        item.end,
        item.kind.as_str(),
        item.reason,
        item.text
    )
}

/// The context part of a reviewer's prompt; empty for an empty pack, so
/// a review without context reads exactly as it did before context existed.
pub fn for_prompt(pack: &ChunkPack) -> String {
    if pack.items.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "Read-only context from the reviewed head (not part of the change; shown so you can judge it):\n\n",
    );
    for (i, item) in pack.items.iter().enumerate() {
        out.push_str(&block(item, i + 1));
        out.push('\n');
    }
    out
}

/// The `--plan` text of the context: per chunk, the items with reason,
/// range and tokens, what the budget dropped, and what was not indexed.
pub fn plan_text(plan: &ContextPlan) -> String {
    let mut out = String::new();
    if !plan.enabled {
        out.push_str("Context: off (review.context = off or review.context_tokens = 0)\n");
        return out;
    }
    let _ = writeln!(
        out,
        "Context: up to {} tokens per chunk ({}); index of {} files, {} lines ({} parsed, {} from cache) in {} ms; co-change over {} commits",
        plan.budget,
        plan.counted_with,
        plan.index.files,
        plan.index.lines,
        plan.index.parsed,
        plan.index.cached,
        plan.index.ms,
        plan.cochange_commits
    );
    for pack in &plan.packs {
        let _ = writeln!(
            out,
            "  chunk {}: {} items, {} of {} tokens{}",
            pack.chunk + 1,
            pack.items.len(),
            pack.tokens,
            pack.budget,
            pack.note
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        for item in &pack.items {
            let _ = writeln!(
                out,
                "    {:<10} {}:{}-{}  {} tokens  {}",
                item.kind.as_str(),
                escape_control(&item.path),
                item.start,
                item.end,
                item.tokens,
                escape_control(&item.reason)
            );
        }
        for item in pack.dropped.iter().take(5) {
            let _ = writeln!(
                out,
                "    dropped    {}:{}-{}  {} tokens (over budget)  {}",
                escape_control(&item.path),
                item.start,
                item.end,
                item.tokens,
                escape_control(&item.reason)
            );
        }
        if pack.dropped.len() > 5 {
            let _ = writeln!(
                out,
                "    dropped    {} more (see --format json)",
                pack.dropped.len() - 5
            );
        }
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "  not indexed ({} files):", plan.skipped.len());
        let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for s in &plan.skipped {
            by_reason.entry(&s.reason).or_default().push(&s.path);
        }
        for (reason, paths) in by_reason {
            let shown: Vec<String> = paths
                .iter()
                .take(5)
                .map(|p| escape_control(p).into_owned())
                .collect();
            let more = paths.len().saturating_sub(shown.len());
            let _ = writeln!(
                out,
                "    {}: {}{}",
                escape_control(reason),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::model::ItemKind;

    #[test]
    fn numbered_keeps_real_line_numbers() {
        let text = "a\nb\nc\nd\n";
        let text: Vec<&str> = text.lines().collect();
        assert_eq!(numbered_lines(&text, 2, 3), "  2 | b\n  3 | c\n");
        assert_eq!(numbered_lines(&text, 9, 12), "");
    }

    #[test]
    fn empty_pack_adds_nothing_to_the_prompt() {
        assert_eq!(for_prompt(&ChunkPack::default()), "");
        let pack = ChunkPack {
            items: vec![ContextItem {
                kind: ItemKind::Caller,
                path: "a.rs".into(),
                start: 3,
                end: 4,
                tokens: 10,
                reason: "uses `f`".into(),
                score: 1.0,
                text: "  3 | f()\n  4 | }\n".into(),
            }],
            ..Default::default()
        };
        let p = for_prompt(&pack);
        assert!(
            p.contains("[context 1] a.rs lines 3-4 (caller): uses `f`\n  3 | f()"),
            "{p}"
        );
    }
}
