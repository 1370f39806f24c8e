//! Stage 3b: the plan + the reviewed head → a context pack per chunk: the
//! code around the change that decides whether it is right, which the diff
//! alone does not show (the whole enclosing function, what the change
//! uses, callers of what it changed, sibling methods sharing its fields,
//! tests, files that change together with it), ranked and fitted to a
//! token budget.
//!
//! One idea per file, in data-flow order: [`tree`] (which files of the head
//! tree are indexed) → [`tags`] (definitions and uses of one file) →
//! [`index`] (all of them, cached per blob) → [`cochange`] (history) →
//! [`pack`] (candidates, score, merge, fit; ranking in [`rank`]) →
//! [`render`] (the prompt's read-only blocks and the `--plan` listing).
//!
//! Everything is read from git objects of the head commit (never the work
//! tree), and history from the range's base: code already accepted.

pub mod cochange;
pub mod index;
pub mod pack;
pub mod rank;
pub mod render;
pub mod tags;
pub mod tree;

use crate::cache::Cache;
use crate::error::Result;
use crate::plan::{Chunk, ReviewPlan};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Instant;

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

/// What the stage needs besides the plan.
pub struct ContextOptions<'a> {
    /// Tokens per chunk (`review.context_tokens`); 0 is off.
    pub budget: usize,
    pub enabled: bool,
    /// The review's ignore globs (the index leaves these files out too).
    pub ignore: &'a [String],
    /// The budget of one chunk, when a model's window makes it smaller than
    /// `budget`, with the reason.
    pub window: &'a dyn Fn(&Chunk) -> Option<(usize, String)>,
    /// Counts tokens as the reviewers' models do.
    pub count: &'a dyn Fn(&str) -> usize,
    /// Says what `count` is (`estimate`, or the models).
    pub counted_with: String,
}

/// Builds the context of every chunk of `plan` (the stage's one entry).
/// Tags are cached in `cache` when given.
pub fn build(
    repo: &gix::Repository,
    plan: &ReviewPlan,
    opts: &ContextOptions<'_>,
    cache: Option<&Cache>,
) -> Result<ContextPlan> {
    if !opts.enabled || opts.budget == 0 || plan.chunks.is_empty() {
        let mut off = ContextPlan::off(plan);
        off.enabled = opts.enabled && opts.budget > 0;
        off.budget = opts.budget;
        return Ok(off);
    }
    let prepared = prepare(repo, plan, opts.ignore, cache)?;
    Ok(build_prepared(repo, plan, opts, &prepared))
}

/// What [`build`] reads before packing: the symbol index of the head and
/// the co-change counts. Packing `plan` at several budgets reads it once.
pub struct Prepared {
    index: index::SymbolIndex,
    stats: IndexStats,
    co: cochange::CoChange,
}

/// Indexes the head of `plan` and counts co-changes from its base.
pub fn prepare(
    repo: &gix::Repository,
    plan: &ReviewPlan,
    ignore: &[String],
    cache: Option<&Cache>,
) -> Result<Prepared> {
    let t = Instant::now();
    let index = index::SymbolIndex::build(repo, plan.range.head, ignore, cache)?;
    let stats = IndexStats {
        files: index.files.len(),
        lines: index.lines(),
        parsed: index.parsed,
        cached: index.cached,
        ms: t.elapsed().as_millis() as u64,
        grammars: tags::grammars().into_iter().map(String::from).collect(),
    };
    let changed: Vec<String> = plan.files.iter().map(|f| f.path.clone()).collect();
    let co = cochange::count(repo, plan.range.base, &changed)?;
    Ok(Prepared { index, stats, co })
}

/// [`build`] from what [`prepare`] read of the same plan (context on,
/// whatever `opts.enabled` says; a budget of 0 packs nothing).
pub fn build_prepared(
    repo: &gix::Repository,
    plan: &ReviewPlan,
    opts: &ContextOptions<'_>,
    prepared: &Prepared,
) -> ContextPlan {
    let Prepared { index, stats, co } = prepared;
    let mut texts = BlobTexts {
        repo,
        index,
        texts: HashMap::new(),
    };
    let packs = plan
        .chunks
        .iter()
        .map(|chunk| {
            let (budget, note) = match (opts.window)(chunk) {
                Some((b, why)) if b < opts.budget => (b, Some(why)),
                _ => (opts.budget, None),
            };
            let mut p = pack::pack(plan, chunk, index, co, &mut texts, budget, opts.count);
            p.note = note;
            p
        })
        .collect();
    ContextPlan {
        enabled: true,
        budget: opts.budget,
        counted_with: opts.counted_with.clone(),
        packs,
        skipped: index.skipped.clone(),
        index: stats.clone(),
        cochange_commits: co.commits,
    }
}

/// File texts at the head, read from their blobs once.
struct BlobTexts<'a> {
    repo: &'a gix::Repository,
    index: &'a index::SymbolIndex,
    texts: HashMap<usize, Option<String>>,
}

impl pack::Texts for BlobTexts<'_> {
    fn text(&mut self, file: usize) -> Option<&str> {
        let (repo, index) = (self.repo, self.index);
        self.texts
            .entry(file)
            .or_insert_with(|| {
                let blob = repo.find_blob(index.files[file].blob).ok()?;
                tree::decode(&blob.data)
            })
            .as_deref()
    }
}
