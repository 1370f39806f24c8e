//! The command-line layer: flags are checked by the same registry parser as
//! the files (so `--chunk-tokens 0` is refused like `chunk_tokens = 0`),
//! and an error names the flag.

use super::keys::{self, Raw, REGISTRY};
use super::settings::{CliOverrides, Ctx, Provenance, Settings, Source};
use crate::error::{Error, Result};

impl CliOverrides {
    /// The value given for a registry flag (`--chunk-tokens`), if any.
    fn value_of(&self, flag: &str) -> Option<i64> {
        let wide = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        match flag {
            "--context" => self.context_lines.map(i64::from),
            "--chunk-tokens" => self.chunk_tokens.map(|n| wide(n as u64)),
            "--context-tokens" => self.context_tokens.map(|n| wide(n as u64)),
            "--time-budget" => self.time_budget_secs.map(wide),
            "--threads" => self.threads.map(|n| wide(n as u64)),
            _ => None,
        }
    }
}

/// Applies the flags that were given.
pub(super) fn apply_cli(
    o: &CliOverrides,
    s: &mut Settings,
    prov: &mut Provenance,
    cx: &Ctx<'_>,
) -> Result<()> {
    for key in REGISTRY {
        let Some(flag) = key.flag else { continue };
        let Some(n) = o.value_of(flag) else { continue };
        keys::apply(key, Raw::Int(n), s, cx)
            .map_err(|m| Error::Usage(format!("{flag} {n}: {m}")))?;
        prov.values.insert(key.toml, Source::Cli);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_flag_reaches_a_field() {
        let all = CliOverrides {
            context_lines: Some(1),
            chunk_tokens: Some(1),
            context_tokens: Some(1),
            time_budget_secs: Some(1),
            threads: Some(1),
        };
        let flags: Vec<_> = REGISTRY.iter().filter_map(|k| k.flag).collect();
        assert_eq!(flags.len(), 5, "one CliOverrides field per flag");
        for flag in flags {
            assert_eq!(all.value_of(flag), Some(1), "{flag}");
        }
    }
}
