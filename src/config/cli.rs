//! The command-line layer: flags are checked by the same registry parser as
//! the files (so `--chunk-tokens 0` is refused like `chunk_tokens = 0`),
//! and an error names the flag.

use super::keys::{self, Raw, REGISTRY};
use super::settings::{CliOverrides, Ctx, Provenance, Settings, Source};
use crate::error::{Error, Result};

/// A flag's value as given: a number, or a word (`--verify on`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Given<'a> {
    Int(i64),
    Text(&'a str),
}

impl std::fmt::Display for Given<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Given::Int(n) => write!(f, "{n}"),
            Given::Text(t) => write!(f, "{t}"),
        }
    }
}

impl CliOverrides {
    /// The value given for a registry flag (`--chunk-tokens`), if any.
    fn value_of(&self, flag: &str) -> Option<Given<'_>> {
        let wide = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let int = |n: Option<i64>| n.map(Given::Int);
        match flag {
            "--context" => int(self.context_lines.map(i64::from)),
            "--chunk-tokens" => int(self.chunk_tokens.map(|n| wide(n as u64))),
            "--context-tokens" => int(self.context_tokens.map(|n| wide(n as u64))),
            "--time-budget" => self.time_budget.as_deref().map(Given::Text),
            "--threads" => int(self.threads.map(|n| wide(n as u64))),
            "--verify" => self.verify.as_deref().map(Given::Text),
            "--verifier" => self.verifier.as_deref().map(Given::Text),
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
        let raw = match n {
            Given::Int(i) => Raw::Int(i),
            Given::Text(t) => Raw::Str(t),
        };
        keys::apply(key, raw, s, cx).map_err(|m| Error::Usage(format!("{flag} {n}: {m}")))?;
        prov.set(key.toml, Source::Cli);
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
            time_budget: Some("1".into()),
            threads: Some(1),
            verify: Some("on".into()),
            verifier: Some("m".into()),
        };
        let flags: Vec<_> = REGISTRY.iter().filter_map(|k| k.flag).collect();
        assert_eq!(flags.len(), 7, "one CliOverrides field per flag");
        for flag in flags {
            assert!(all.value_of(flag).is_some(), "{flag}");
        }
    }
}
