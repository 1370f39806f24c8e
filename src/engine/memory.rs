//! How large a context fits in memory.
//!
//! On Linux a too-large KV cache rarely fails to allocate: overcommit hands
//! out the address space and the kernel's OOM killer ends the process later,
//! mid-review. So the context is sized *before* it is created, from the KV
//! cache it needs and the memory actually available (and the user's cap).

use std::path::Path;

/// Memory kept free for compute buffers, logits and the rest of the process.
pub const RESERVE_BYTES: u64 = 256 << 20;

/// KV cache bytes per context token: f16 keys and values on every layer.
pub fn kv_bytes_per_token(layers: u64, kv_heads: u64, key_dim: u64, value_dim: u64) -> u64 {
    layers * kv_heads * (key_dim + value_dim) * 2
}

/// The largest context of at most `wanted` tokens, halving from it, whose
/// KV cache fits in `budget` bytes; `None` when not even `min` does.
pub fn fit_context(wanted: u32, min: u32, per_token: u64, budget: u64) -> Option<u32> {
    let mut n = wanted.max(min);
    loop {
        if u64::from(n).saturating_mul(per_token) <= budget {
            return Some(n);
        }
        if n / 2 < min {
            return None;
        }
        n /= 2;
    }
}

/// Bytes the KV cache of one more model may use: what is available
/// (MemAvailable, lowered by a cgroup v2 limit) minus [`RESERVE_BYTES`] and
/// minus `committed` (KV caches already sized for other models in this
/// process, not all allocated yet), and at most `cap` minus the model's own
/// size when the user set a cap (`review.max_memory`, per model). `None`
/// when nothing is known (not Linux) and no cap is set.
pub fn kv_budget(cap: Option<u64>, model_bytes: u64, committed: u64) -> Option<u64> {
    budget_from(available_bytes(), cap, model_bytes, committed)
}

/// [`kv_budget`] for a given amount of available memory.
pub fn budget_from(
    available: Option<u64>,
    cap: Option<u64>,
    model_bytes: u64,
    committed: u64,
) -> Option<u64> {
    let avail = available.map(|a| a.saturating_sub(RESERVE_BYTES.saturating_add(committed)));
    let capped = cap.map(|c| c.saturating_sub(model_bytes));
    match (avail, capped) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// Memory this process can still use: `MemAvailable` from /proc/meminfo,
/// lowered by the headroom of the cgroup v2 limit it runs under (containers,
/// CI runners, systemd slices).
pub fn available_bytes() -> Option<u64> {
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| meminfo_available(&t));
    let cg = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| cgroup_v2_path(&t))
        .and_then(|p| cgroup_headroom(&Path::new("/sys/fs/cgroup").join(p)));
    match (mem, cg) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

/// `MemAvailable` of /proc/meminfo, in bytes.
pub fn meminfo_available(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemAvailable:")?;
        let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kb * 1024)
    })
}

/// The cgroup v2 path of this process (`0::/path` in /proc/self/cgroup).
fn cgroup_v2_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_start_matches('/').to_string())
}

/// `memory.max - memory.current` of a cgroup v2 directory; `None` when
/// there is no limit (`max`) or the files cannot be read.
fn cgroup_headroom(dir: &Path) -> Option<u64> {
    let max = std::fs::read_to_string(dir.join("memory.max")).ok()?;
    let max: u64 = max.trim().parse().ok()?;
    let current: u64 = std::fs::read_to_string(dir.join("memory.current"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(max.saturating_sub(current))
}

/// `n` bytes for people (`1.5 GB`, `300 MB`, `23 KB`).
pub fn human(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.1} GB", n as f64 / 1e9)
    } else if n >= 1_000_000 {
        format!("{} MB", n.div_ceil(1_000_000))
    } else {
        format!("{} KB", n.div_ceil(1_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_halves_until_its_kv_cache_fits() {
        // 1 KB per token, 3 MB budget: 8192 → 4096 → 2048 fits.
        assert_eq!(fit_context(8192, 512, 1000, 3_000_000), Some(2048));
        assert_eq!(fit_context(8192, 512, 1000, 9_000_000), Some(8192));
        // Exactly the budget fits.
        assert_eq!(fit_context(4096, 512, 1000, 4_096_000), Some(4096));
        // Not even the minimum.
        assert_eq!(fit_context(8192, 512, 1000, 511_999), None);
        // A request below the minimum is raised to it.
        assert_eq!(fit_context(100, 512, 1, 10_000), Some(512));
    }

    #[test]
    fn sizes_read_in_the_right_unit() {
        assert_eq!(human(23_040), "24 KB");
        assert_eq!(human(54_000_000), "54 MB");
        assert_eq!(human(8_000_000_000), "8.0 GB");
    }

    #[test]
    fn kv_size_counts_keys_and_values_in_f16() {
        // SmolLM2-135M: 30 layers, 3 KV heads of 64.
        assert_eq!(kv_bytes_per_token(30, 3, 64, 64), 23_040);
    }

    #[test]
    fn meminfo_and_cgroup_parsing() {
        let m = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   12345 kB\n";
        assert_eq!(meminfo_available(m), Some(12345 * 1024));
        assert_eq!(meminfo_available("MemTotal: 1 kB\n"), None);
        assert_eq!(
            cgroup_v2_path("0::/user.slice/session-1.scope\n").as_deref(),
            Some("user.slice/session-1.scope")
        );
        assert_eq!(cgroup_v2_path("12:memory:/docker/abc\n"), None);
    }

    #[test]
    fn cgroup_headroom_reads_limit_minus_usage() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("memory.max"), "1000000\n").unwrap();
        std::fs::write(d.path().join("memory.current"), "250000\n").unwrap();
        assert_eq!(cgroup_headroom(d.path()), Some(750_000));
        std::fs::write(d.path().join("memory.max"), "max\n").unwrap();
        assert_eq!(cgroup_headroom(d.path()), None);
    }

    #[test]
    fn budget_is_what_is_left_after_the_reserve_other_caches_and_the_cap() {
        let gb = 1_000_000_000u64;
        // Available memory only.
        assert_eq!(
            budget_from(Some(4 * gb), None, gb, 0),
            Some(4 * gb - RESERVE_BYTES)
        );
        // Caches already sized for other models come off what is available.
        assert_eq!(
            budget_from(Some(4 * gb), None, gb, gb),
            Some(3 * gb - RESERVE_BYTES)
        );
        // A per-model cap counts this model's weights, not other caches.
        assert_eq!(
            budget_from(Some(64 * gb), Some(3 * gb), gb, gb),
            Some(2 * gb)
        );
        // A cap below the weights leaves nothing; nothing known, no budget.
        assert_eq!(budget_from(Some(64 * gb), Some(gb / 2), gb, 0), Some(0));
        assert_eq!(budget_from(None, Some(3 * gb), gb, 0), Some(2 * gb));
        assert_eq!(budget_from(None, None, gb, 0), None);
        // Less available than the reserve: zero, not an underflow.
        assert_eq!(budget_from(Some(1), None, 0, 0), Some(0));
    }
}
