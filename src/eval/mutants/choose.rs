//! Choosing which sites become mutants (and decoys): a seeded generator
//! ([`SplitMix64`]) and a choice that spreads over kinds and places
//! ([`choose`]), so a seed always gives the same cases.

use std::collections::HashSet;
use std::hash::Hash;

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

/// Indices of up to `count` of `items` (a kind — an operator, a decoy
/// kind — and the place it is, e.g. file and line), chosen for `seed`:
/// the kinds that have items take turns (in a seeded order starting from
/// the order of `kinds`), each turn taking a random item of that kind
/// whose place is not taken yet; `accept` may still refuse an item (then
/// another is drawn). Same input and seed, same choice.
pub(super) fn choose<O: PartialEq, K: Eq + Hash + Clone>(
    kinds: &[O],
    items: &[(O, K)],
    count: usize,
    seed: u64,
    mut accept: impl FnMut(usize) -> bool,
) -> Vec<usize> {
    let mut rng = SplitMix64(seed);
    let mut pools: Vec<Vec<usize>> = kinds
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::mutants::types::Operator;

    fn choose<K: Eq + Hash + Clone>(
        items: &[(Operator, K)],
        count: usize,
        seed: u64,
        accept: impl FnMut(usize) -> bool,
    ) -> Vec<usize> {
        super::choose(&Operator::ALL, items, count, seed, accept)
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
}
