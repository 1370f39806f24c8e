//! The git config layer: `deep-review.*` keys from the repository's config
//! snapshot (which includes the global and system files, `GIT_CONFIG_COUNT`
//! and `git -c`, which `src/git/parameters.rs` hands to gitoxide).

use super::keys::{self, Kind, Raw, REGISTRY};
use super::settings::{Ctx, Provenance, Settings, Source, KEY_TRUST_REPO_CONFIG};
use crate::error::{Error, Result};
use gix::config::Source as ConfigSource;

/// The git config section of every key.
const SECTION: &str = "deep-review";

/// Applies every registry key that git config sets, then notes the
/// `deep-review.*` keys that mean nothing (a typo silently ignored would
/// leave the user believing a setting is in force).
pub(super) fn apply_git_config(
    cfg: &gix::config::File,
    s: &mut Settings,
    prov: &mut Provenance,
    cx: &Ctx<'_>,
) -> Result<()> {
    for key in REGISTRY {
        let bad = |value: &str, msg: String| {
            Error::Config(format!(
                "git config {} = {value:?}: {msg} (fix it with `git config {} VALUE` or `git config --unset {}`)",
                key.git, key.git, key.git
            ))
        };
        match key.kind {
            Kind::Globs => {
                let all = cfg.strings(key.git).unwrap_or_default();
                // Command-line values come last (git reads them last), and
                // the environment's just before them.
                let count = |src| {
                    cfg.strings_filter(key.git, |m| m.source == src)
                        .map_or(0, |v| v.len())
                };
                let (cli, env) = (count(ConfigSource::Cli), count(ConfigSource::Env));
                for (i, v) in all.iter().enumerate() {
                    let v = v.to_string();
                    keys::apply(key, Raw::Text(&v), s, cx).map_err(|m| bad(&v, m))?;
                    let from_end = all.len() - i;
                    prov.ignore.push(if from_end <= cli {
                        Source::GitCommandLine(key.git)
                    } else if from_end <= cli + env {
                        Source::GitEnvironment(key.git)
                    } else {
                        Source::GitConfig(key.git)
                    });
                }
                continue;
            }
            Kind::Bool { .. } => {
                // `[deep-review] gate` with no `=` is true in git, and
                // `string()` does not see it; `boolean()` does.
                let value = cfg.string(key.git).map(|v| v.to_string());
                match cfg.boolean(key.git) {
                    Ok(None) => continue,
                    Ok(Some(b)) => {
                        let raw = if b { "true" } else { "false" };
                        keys::apply(key, Raw::Text(raw), s, cx)
                            .map_err(|m| bad(value.as_deref().unwrap_or(raw), m))?;
                    }
                    Err(_) => {
                        let v = value.unwrap_or_default();
                        return Err(bad(&v, "expected on or off".into()));
                    }
                }
            }
            _ => {
                let Some(v) = cfg.string(key.git) else {
                    continue;
                };
                let v = v.to_string();
                keys::apply(key, Raw::Text(&v), s, cx).map_err(|m| bad(&v, m))?;
            }
        }
        prov.set(key.toml, source_of(cfg, key.git));
    }
    prov.warnings.extend(unknown_keys(cfg));
    Ok(())
}

/// Where the value of `key` in effect came from: `git -c` and
/// `GIT_CONFIG_COUNT` are read after every file, so a value from either
/// wins (the command line last).
fn source_of(cfg: &gix::config::File, key: &'static str) -> Source {
    let from = |src| {
        cfg.string_implicit_filter(key, |m| m.source == src)
            .is_some()
    };
    if from(ConfigSource::Cli) {
        Source::GitCommandLine(key)
    } else if from(ConfigSource::Env) {
        Source::GitEnvironment(key)
    } else {
        Source::GitConfig(key)
    }
}

/// One warning per `deep-review.*` name that is not a key, with the
/// closest known key when one is near (git names are case-insensitive).
fn unknown_keys(cfg: &gix::config::File) -> Vec<String> {
    let known = || {
        REGISTRY
            .iter()
            .map(|k| k.git)
            .chain(std::iter::once(KEY_TRUST_REPO_CONFIG))
    };
    let mut seen: Vec<String> = Vec::new();
    let Some(sections) = cfg.sections_by_name(SECTION) else {
        return Vec::new();
    };
    for section in sections {
        let sub = section
            .header()
            .subsection_name()
            .map(|n| format!("{n}."))
            .unwrap_or_default();
        for name in section.value_names() {
            let full = format!("{SECTION}.{sub}{name}");
            let is_known = sub.is_empty() && known().any(|k| k.eq_ignore_ascii_case(&full));
            if !is_known && !seen.iter().any(|s| s.eq_ignore_ascii_case(&full)) {
                seen.push(full);
            }
        }
    }
    seen.into_iter()
        .map(|full| match keys::closest(&full, known()) {
            Some(k) => format!("unknown git config key {full}; did you mean {k}?"),
            None => {
                format!("unknown git config key {full}; `git deep-review config` lists the keys")
            }
        })
        .collect()
}
