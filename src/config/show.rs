//! `git deep-review config`: the effective configuration as TOML, every
//! value with its doc line, git config key, flag and source.

use super::keys::{self, toml_str, Kind, REGISTRY, SECTIONS};
use super::settings::{Provenance, Settings, Source, KEY_TRUST_REPO_CONFIG};
use std::io::Write;

/// Prints the effective configuration as TOML, with the source of every
/// value as a trailing comment. The output is itself a valid configuration file.
pub fn write_effective(
    settings: &Settings,
    prov: &Provenance,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    if prov.files.is_empty() {
        writeln!(w, "# configuration files: none found")?;
    } else {
        for f in &prov.files {
            writeln!(w, "# configuration file: {}", f.display())?;
        }
    }
    writeln!(
        w,
        "# repository file trusted with paths outside the repository: {} (git config {KEY_TRUST_REPO_CONFIG})",
        if prov.repo_trusted { "yes" } else { "no" }
    )?;
    if !prov.repo_from.is_empty() {
        writeln!(w, "# repository file read from: {}", prov.repo_from)?;
    }
    writeln!(
        w,
        "# precedence, lowest first: defaults, repository file, user file, git config, command line"
    )?;
    writeln!(w, "# reviewers from: {}", prov.source("reviewer"))?;
    for lost in prov.overridden.get("reviewer").into_iter().flatten() {
        writeln!(w, "#   overridden: reviewers from {lost}")?;
    }
    for r in &settings.reviewers {
        writeln!(w, "\n[[reviewer]]")?;
        writeln!(w, "name = {}", toml_str(&r.name))?;
        writeln!(w, "model = {}", toml_str(&r.model))?;
        writeln!(w, "prompt = {}", toml_str(&r.prompt))?;
        writeln!(w, "seed = {}", r.sampling.seed)?;
        writeln!(w, "temperature = {:?}", r.sampling.temperature)?;
        writeln!(w, "top_k = {}", r.sampling.top_k)?;
        writeln!(w, "top_p = {:?}", r.sampling.top_p)?;
        if r.sampling.max_tokens == crate::config::sampling::AUTO_MAX_TOKENS {
            writeln!(
                w,
                "max_tokens = \"auto\"  # a quarter of the model's context, 512..4096"
            )?;
        } else {
            writeln!(w, "max_tokens = {}", r.sampling.max_tokens)?;
        }
        writeln!(w, "think = \"{}\"", r.sampling.think.as_str())?;
        writeln!(w, "think_tokens = {}", r.sampling.think_tokens)?;
    }
    for section in SECTIONS {
        writeln!(w, "\n[{section}]")?;
        for key in REGISTRY.iter().filter(|k| k.section() == section) {
            write_key(key, settings, prov, w)?;
        }
    }
    Ok(())
}

fn write_key(
    key: &keys::Key,
    s: &Settings,
    prov: &Provenance,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let flag = key.flag.map(|f| format!(", {f}")).unwrap_or_default();
    writeln!(w, "# {} (git config {}{flag})", key.doc, key.git)?;
    if let Kind::Globs = key.kind {
        writeln!(w, "{} = [", key.name())?;
        for (i, g) in s.ignore.iter().enumerate() {
            let src = prov.ignore.get(i).cloned().unwrap_or(Source::Default);
            writeln!(w, "  {},  # {src}", toml_str(g))?;
        }
        return writeln!(w, "]");
    }
    let src = prov.source(key.toml);
    for lost in prov.overridden.get(key.toml).into_iter().flatten() {
        writeln!(w, "#   overridden: {lost} (by {src})")?;
    }
    match keys::show(key, s) {
        Some(v) => writeln!(w, "{} = {v}  # {src}", key.name()),
        None => writeln!(w, "# {} = ({})  # {src}", key.name(), key.unset),
    }
}
