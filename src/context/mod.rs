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
pub mod model;
pub mod pack;
pub mod rank;
pub mod render;
pub mod tags;
pub mod tree;

pub use model::*;

use crate::cache::Cache;
use crate::error::Result;
use crate::plan::{Chunk, ReviewPlan};
use std::collections::HashMap;
use std::time::Instant;

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
    texts: HashMap<usize, Option<Vec<String>>>,
}

impl pack::Texts for BlobTexts<'_> {
    fn lines(&mut self, file: usize) -> Option<&[String]> {
        let (repo, index) = (self.repo, self.index);
        self.texts
            .entry(file)
            .or_insert_with(|| {
                let blob = repo.find_blob(index.files[file].blob).ok()?;
                let text = tree::text_of(&blob.data).ok()?;
                Some(text.lines().map(str::to_string).collect())
            })
            .as_deref()
    }
}
