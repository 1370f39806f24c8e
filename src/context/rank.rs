//! Personalised PageRank over the definition graph: how close, through
//! uses and definitions, each definition is to the changed ones. It orders
//! candidates of the same kind (the caller that sits one step from the
//! change before the one reached only through a common name).

/// Damping: the chance a step follows an edge rather than jumping back to
/// the changed definitions.
pub const DAMPING: f64 = 0.85;
/// Iterations; the graph of one review's candidates settles well before.
pub const ITERATIONS: usize = 30;

/// PageRank of `n` nodes over weighted directed `edges`, restarting at
/// `personal` (node, weight). Edges are followed both ways: a caller is as
/// close to its callee as the callee to it. Returns one score per node,
/// summing to 1 (all zero when `personal` is empty).
pub fn personalised(
    n: usize,
    edges: &[(usize, usize, f64)],
    personal: &[(usize, f64)],
) -> Vec<f64> {
    let mut restart = vec![0.0; n];
    let total: f64 = personal.iter().map(|(_, w)| w.max(0.0)).sum();
    if n == 0 || total <= 0.0 {
        return vec![0.0; n];
    }
    for &(i, w) in personal {
        if i < n {
            restart[i] += w.max(0.0) / total;
        }
    }
    let mut out_weight = vec![0.0; n];
    let mut adj: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for &(a, b, w) in edges {
        if a >= n || b >= n || a == b || w <= 0.0 {
            continue;
        }
        adj[a].push((b, w));
        adj[b].push((a, w));
        out_weight[a] += w;
        out_weight[b] += w;
    }
    let mut rank = restart.clone();
    for _ in 0..ITERATIONS {
        let mut next: Vec<f64> = restart.iter().map(|r| (1.0 - DAMPING) * r).collect();
        let mut dangling = 0.0;
        for i in 0..n {
            if out_weight[i] == 0.0 {
                dangling += rank[i];
                continue;
            }
            for &(j, w) in &adj[i] {
                next[j] += DAMPING * rank[i] * w / out_weight[i];
            }
        }
        // Rank stuck in a node without edges goes back to the change.
        for i in 0..n {
            next[i] += DAMPING * dangling * restart[i];
        }
        rank = next;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closer_nodes_rank_higher() {
        // 0 (changed) — 1 — 2 — 3, and 4 hangs off 1 too.
        let edges = [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (1, 4, 1.0)];
        let r = personalised(6, &edges, &[(0, 1.0)]);
        assert!(r[1] > r[2] && r[2] > r[3], "{r:?}");
        assert!(r[4] > r[3], "{r:?}");
        // 5 is not connected: nothing reaches it.
        assert_eq!(r[5], 0.0);
        let sum: f64 = r.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn heavier_edges_carry_more() {
        let edges = [(0, 1, 3.0), (0, 2, 1.0)];
        let r = personalised(3, &edges, &[(0, 1.0)]);
        assert!(r[1] > r[2], "{r:?}");
    }

    #[test]
    fn no_change_no_rank() {
        assert_eq!(personalised(2, &[(0, 1, 1.0)], &[]), vec![0.0, 0.0]);
    }
}
