//! Choosing the next token of one request: the sampling chain (greedy
//! when the temperature is 0) constrained by the output grammar, which is
//! checked on the most likely candidates first and the whole vocabulary
//! only when none of those is allowed.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;

use crate::config::sampling::Sampling;
use crate::error::{Error, Result};

/// Sampling state of one request.
pub(super) struct Sampler {
    chain: Option<LlamaSampler>,
    grammar: Option<LlamaSampler>,
    /// `top_k` of the chain (0 = none): lets the grammar resample stop
    /// after finding this many allowed tokens.
    top_k: usize,
}

/// First block of candidates the grammar resample checks; each further
/// block is 8 times larger, ending with the whole vocabulary.
const RESAMPLE_BLOCK: usize = 32;

impl Sampler {
    pub(super) fn new(model: &LlamaModel, s: &Sampling, grammar: &str) -> Result<Sampler> {
        let chain = (s.temperature > 0.0).then(|| {
            let mut v = Vec::new();
            if s.top_k > 0 {
                v.push(LlamaSampler::top_k(s.top_k));
            }
            if s.top_p > 0.0 && s.top_p < 1.0 {
                v.push(LlamaSampler::top_p(s.top_p, 1));
            }
            v.push(LlamaSampler::temp(s.temperature));
            v.push(LlamaSampler::dist(s.seed));
            LlamaSampler::chain(v, true)
        });
        let grammar = if grammar.trim().is_empty() {
            None
        } else {
            Some(LlamaSampler::grammar(model, grammar, "root").map_err(|e| {
                Error::Model(format!(
                    "invalid output grammar ({e}); this is a bug in git-deep-review"
                ))
            })?)
        };
        Ok(Sampler {
            chain,
            grammar,
            top_k: usize::try_from(s.top_k).unwrap_or(0),
        })
    }

    /// Picks the next token. Fast path as in llama.cpp's common sampler:
    /// sample without the grammar, then check only that token against it.
    /// Returns None when the grammar allows nothing at all.
    pub(super) fn next(&mut self, logits: &[f32]) -> Option<LlamaToken> {
        let first = self.sample(logits)?;
        let Some(g) = self.grammar.as_mut() else {
            return Some(first);
        };
        let logit = logits
            .get(first.0 as usize)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(first, logit, 0.0)], false);
        one.apply_sampler(g);
        if one.data.first().is_some_and(|d| d.logit().is_finite()) {
            return Some(first);
        }
        self.resample_with_grammar(logits)
    }

    /// Unconstrained sample: argmax when greedy, else the chain.
    fn sample(&mut self, logits: &[f32]) -> Option<LlamaToken> {
        match self.chain.as_mut() {
            None => argmax(logits.iter().copied().enumerate()),
            Some(c) => {
                let mut arr = full_array(logits);
                arr.apply_sampler(c);
                arr.selected_token()
            }
        }
    }

    /// The token the sampler would pick with the grammar applied to the
    /// whole vocabulary first (grammar before `top_k`, never after) —
    /// computed without grammar-checking the whole vocabulary: candidates
    /// are checked in blocks in descending logit order. Greedy needs only
    /// the first allowed token; top-k sampling needs the first `k` allowed,
    /// which are exactly what top-k keeps after a full grammar pass.
    fn resample_with_grammar(&mut self, logits: &[f32]) -> Option<LlamaToken> {
        let g = self.grammar.as_mut()?;
        let need = match (&self.chain, self.top_k) {
            (None, _) => 1,
            (Some(_), k) if k > 0 => k,
            (Some(_), _) => usize::MAX,
        };
        let desc = |a: &u32, b: &u32| {
            let (la, lb) = (logits[*a as usize], logits[*b as usize]);
            lb.total_cmp(&la).then(a.cmp(b))
        };
        let n = logits.len();
        let mut allowed: Vec<LlamaTokenData> = Vec::new();
        // The first block by a single scan (no vocabulary-sized allocation):
        // usually the grammar's choice is among the top few tokens.
        let top = top_n(logits, RESAMPLE_BLOCK.min(n));
        let mut arr = LlamaTokenDataArray::new(
            top.iter()
                .map(|&i| LlamaTokenData::new(LlamaToken(i as i32), logits[i as usize], 0.0))
                .collect(),
            true,
        );
        arr.apply_sampler(g);
        allowed.extend(arr.data.into_iter().filter(|d| d.logit().is_finite()));
        let mut idx: Vec<u32> = Vec::new();
        if allowed.len() < need && top.len() < n {
            // Everything not in the first block, then the same in bigger blocks.
            let mut in_top = vec![false; n];
            for &i in &top {
                in_top[i as usize] = true;
            }
            idx = (0..n as u32).filter(|&i| !in_top[i as usize]).collect();
        }
        let n = idx.len();
        let (mut start, mut block) = (0usize, RESAMPLE_BLOCK * 8);
        while start < n && allowed.len() < need {
            let end = if need == usize::MAX {
                n
            } else {
                (start + block).min(n)
            };
            if end < n {
                idx[start..].select_nth_unstable_by(end - start - 1, desc);
            }
            idx[start..end].sort_unstable_by(desc);
            let mut arr = LlamaTokenDataArray::new(
                idx[start..end]
                    .iter()
                    .map(|&i| LlamaTokenData::new(LlamaToken(i as i32), logits[i as usize], 0.0))
                    .collect(),
                false,
            );
            arr.apply_sampler(g);
            allowed.extend(arr.data.into_iter().filter(|d| d.logit().is_finite()));
            start = end;
            block = block.saturating_mul(8);
        }
        allowed.truncate(need);
        match self.chain.as_mut() {
            None => allowed.first().map(|d| d.id()),
            Some(c) => {
                if allowed.is_empty() {
                    return None;
                }
                let mut arr = LlamaTokenDataArray::new(allowed, true);
                arr.apply_sampler(c);
                arr.selected_token()
            }
        }
    }

    pub(super) fn accept(&mut self, t: LlamaToken) {
        if let Some(g) = self.grammar.as_mut() {
            g.accept(t);
        }
    }
}

/// Indices of the `k` largest logits, largest first (lowest index on ties).
fn top_n(logits: &[f32], k: usize) -> Vec<u32> {
    let mut top: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() {
            continue;
        }
        if top.len() == k && top.last().is_none_or(|&(m, _)| l <= m) {
            continue;
        }
        // Insert keeping descending order; equal logits keep index order.
        let at = top.partition_point(|&(m, _)| m >= l);
        top.insert(at, (l, i as u32));
        top.truncate(k);
    }
    top.into_iter().map(|(_, i)| i).collect()
}

fn full_array(logits: &[f32]) -> LlamaTokenDataArray {
    LlamaTokenDataArray::new(
        logits
            .iter()
            .enumerate()
            .map(|(i, &l)| LlamaTokenData::new(LlamaToken(i as i32), l, 0.0))
            .collect(),
        false,
    )
}

/// Index of the largest finite value (lowest index on ties, like llama.cpp's greedy).
fn argmax(it: impl Iterator<Item = (usize, f32)>) -> Option<LlamaToken> {
    let mut best: Option<(usize, f32)> = None;
    for (i, l) in it {
        if l.is_finite() && best.is_none_or(|(_, b)| l > b) {
            best = Some((i, l));
        }
    }
    best.map(|(i, _)| LlamaToken(i as i32))
}
