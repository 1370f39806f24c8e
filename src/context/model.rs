//! The context stage's data: items, packs and the plan of a whole review
//! (what `--plan` lists, the reviewers read and the cache keeps).

use super::tree;
use crate::plan::ReviewPlan;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Why an item is in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// The whole function or method a hunk changes.
    Enclosing,
    /// A definition (signature and doc, type, constant) the changed lines use.
    Definition,
    /// A use of something whose definition the range changed or removed.
    Caller,
    /// Another method of the changed method's type using the same fields.
    Sibling,
    /// A test that uses something the range changed.
    Test,
    /// Code in a file that historically changes together with a changed file.
    CoChange,
    /// Lines just beyond a hunk (the nearer, the likelier they matter).
    Nearby,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Enclosing => "enclosing",
            ItemKind::Definition => "definition",
            ItemKind::Caller => "caller",
            ItemKind::Sibling => "sibling",
            ItemKind::Test => "test",
            ItemKind::CoChange => "co-change",
            ItemKind::Nearby => "nearby",
        }
    }
}

/// One piece of context: lines `start..=end` (new side) of `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextItem {
    pub kind: ItemKind,
    pub path: String,
    pub start: u32,
    pub end: u32,
    /// Tokens of its block in the prompt (as counted for the budget).
    pub tokens: usize,
    /// Why it is shown, for a person.
    pub reason: String,
    pub score: f64,
    /// The numbered lines (empty for a dropped item; left out of `--plan`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// The context of one chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkPack {
    pub chunk: usize,
    /// Tokens it could use.
    pub budget: usize,
    /// Tokens it uses.
    pub tokens: usize,
    pub items: Vec<ContextItem>,
    /// Candidates left out because the budget was spent.
    pub dropped: Vec<ContextItem>,
    /// Why the budget is smaller than configured (a model's window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ChunkPack {
    /// New-side line ranges shown as context, by path.
    pub fn shown(&self) -> HashMap<String, Vec<(u32, u32)>> {
        let mut out: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        for i in &self.items {
            out.entry(i.path.clone())
                .or_default()
                .push((i.start, i.end));
        }
        out
    }

    /// For each file with context, its shown line numbers (what a finding
    /// on context may point at).
    pub fn lines(&self) -> Vec<(String, Vec<u32>)> {
        let mut v: Vec<(String, Vec<u32>)> = self
            .shown()
            .into_iter()
            .map(|(p, r)| {
                let mut l: Vec<u32> = r.iter().flat_map(|&(s, e)| s..=e).collect();
                l.sort_unstable();
                l.dedup();
                (p, l)
            })
            .collect();
        v.sort();
        v
    }
}

/// How big the index was and how long it took.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStats {
    pub files: usize,
    pub lines: u64,
    pub parsed: usize,
    pub cached: usize,
    pub ms: u64,
    /// The tree-sitter grammars compiled in.
    pub grammars: Vec<String>,
}

/// The context of a whole plan: what `--plan` lists and the reviewers read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContextPlan {
    pub enabled: bool,
    /// The configured budget per chunk.
    pub budget: usize,
    /// What counted the tokens (`estimate` or the models' tokenizers).
    pub counted_with: String,
    pub packs: Vec<ChunkPack>,
    /// Files of the head tree not indexed, and why.
    pub skipped: Vec<tree::Skip>,
    pub index: IndexStats,
    pub cochange_commits: usize,
}

impl ContextPlan {
    /// No context: every chunk's prompt is exactly the diff's.
    pub fn off(plan: &ReviewPlan) -> ContextPlan {
        ContextPlan {
            enabled: false,
            packs: plan
                .chunks
                .iter()
                .map(|c| ChunkPack {
                    chunk: c.index,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// This plan without the item texts (what `--plan --format json` shows).
    pub fn without_text(&self) -> ContextPlan {
        let mut c = self.clone();
        for p in &mut c.packs {
            for i in &mut p.items {
                i.text.clear();
            }
        }
        c
    }

    /// Ranges shown as context, by chunk and path (what grounding accepts
    /// a consequence on).
    pub fn shown(&self) -> HashMap<usize, HashMap<String, Vec<(u32, u32)>>> {
        self.packs.iter().map(|p| (p.chunk, p.shown())).collect()
    }

    /// Every path some chunk shows context from.
    pub fn paths(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .packs
            .iter()
            .flat_map(|p| p.items.iter().map(|i| i.path.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The pack of chunk `index` (an empty one when there is none).
    pub fn pack(&self, index: usize) -> ChunkPack {
        self.packs
            .iter()
            .find(|p| p.chunk == index)
            .cloned()
            .unwrap_or_default()
    }
}
