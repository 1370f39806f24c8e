//! The plan cut again with the models' own tokenizers, remembered.
//!
//! A review cuts its plan twice: with an estimate first (so `--plan` loads
//! no model), then with the tokenizers of the models that read it. The
//! second cut needs their vocabularies, and building those is nearly all of
//! what a review answered from the cache costs (about 0.3 s for a 150k-token
//! vocabulary). The counts that cut asks for depend only on the tokenizers
//! and the texts, so they are kept in the review cache, keyed by the diff
//! the cut starts from, the chunk budget and the tokenizers' identities: a
//! repeated review replays the cut without loading any model.

use crate::cache::CacheKey;
use crate::plan::ReviewPlan;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;

/// First line of a stored set of counts; the version changes with the format.
const MAGIC: &str = "git-deep-review recut v1";

/// The cache key of the counts for cutting `plan` (as first cut, from
/// the estimate) into chunks of `chunk_tokens` with the tokenizers whose
/// identities (model sha256, server identity) are given, in any order.
pub fn key(plan: &ReviewPlan, chunk_tokens: usize, tokenizers: &[String]) -> CacheKey {
    // The cut reads the files' hunks and the budget, nothing else of the
    // plan (the range's name, for one, does not change a chunk).
    let files = serde_json::to_vec(&plan.files).unwrap_or_default();
    let budget = chunk_tokens.to_string();
    let mut ids: Vec<&str> = tokenizers.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut parts: Vec<&[u8]> = vec![
        MAGIC.as_bytes(),
        env!("CARGO_PKG_VERSION").as_bytes(),
        &files,
        budget.as_bytes(),
    ];
    parts.extend(ids.iter().map(|i| i.as_bytes()));
    CacheKey::new(&parts)
}

/// Token counts the cut asked for, by digest of the counted text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(HashMap<[u8; 16], usize>);

fn digest(text: &str) -> [u8; 16] {
    let full: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let mut d = [0u8; 16];
    d.copy_from_slice(&full[..16]);
    d
}

impl Counts {
    /// The stored form: the magic line, then `hex count` lines.
    pub fn to_text(&self) -> String {
        let mut rows: Vec<String> = self
            .0
            .iter()
            .map(|(d, n)| format!("{} {n}", hex::encode(d)))
            .collect();
        rows.sort_unstable();
        let mut out = String::with_capacity(MAGIC.len() + 1 + rows.len() * 40);
        out.push_str(MAGIC);
        out.push('\n');
        for r in rows {
            out.push_str(&r);
            out.push('\n');
        }
        out
    }

    /// Reads [`Counts::to_text`]'s form; `None` for anything else (another
    /// version's format, a damaged entry), which only means "count again".
    pub fn parse(text: &str) -> Option<Counts> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut map = HashMap::new();
        for line in lines {
            let (d, n) = line.split_once(' ')?;
            let mut key = [0u8; 16];
            hex::decode_to_slice(d, &mut key).ok()?;
            map.insert(key, n.parse().ok()?);
        }
        Some(Counts(map))
    }

    /// How many texts were counted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No text was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// [`crate::plan::recount`] with `count`, remembering every count it asked for.
pub fn record(
    plan: &ReviewPlan,
    chunk_tokens: usize,
    count: &dyn Fn(&str) -> usize,
) -> (ReviewPlan, Counts) {
    let seen = RefCell::new(HashMap::new());
    let counting = |text: &str| -> usize {
        let n = count(text);
        seen.borrow_mut().insert(digest(text), n);
        n
    };
    let cut = crate::plan::recount(plan, chunk_tokens, &counting);
    (cut, Counts(seen.into_inner()))
}

/// The cut [`record`] made, from its counts alone; `None` when the cut asks
/// for a text that was not counted (the counts belong to another plan).
pub fn replay(plan: &ReviewPlan, chunk_tokens: usize, counts: &Counts) -> Option<ReviewPlan> {
    let missing = std::cell::Cell::new(false);
    let count = |text: &str| -> usize {
        counts.0.get(&digest(text)).copied().unwrap_or_else(|| {
            missing.set(true);
            crate::plan::estimate_tokens(text)
        })
    };
    let cut = crate::plan::recount(plan, chunk_tokens, &count);
    (!missing.get()).then_some(cut)
}
