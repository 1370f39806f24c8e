//! Layered configuration: built-in defaults < user file < repository file <
//! git config `deep-review.*` < command-line flags, with the source of every
//! effective value recorded for `git deep-review config`.
//!
//! Every key is one entry of [`keys::REGISTRY`]: its TOML path, git config
//! key, command-line flag, parser with range check, default and doc line.
//! The layers (TOML files in `file`, git config in `git`, flags in `cli`),
//! the provenance record and the printed configuration (`show`) all walk
//! that one list, so a value is checked the same way wherever it is written.
//!
//! Parsing is strict on purpose: a typo in a team's `.deep-review.toml`
//! silently falling back to a default would make the gate behave differently
//! from what the team reviewed and committed, so unknown keys, wrong types
//! and unknown models are errors naming the file, the key and the line.
//!
//! The repository file arrives with whatever branch is checked out, so it is
//! untrusted: the files it names must lie inside the repository, unless the
//! user trusts it with git config `deep-review.trustRepoConfig` (module
//! `trust`).
//!
//! Where things are: [`settings`] (the settings, keys' names, defaults and
//! provenance), [`sampling`], [`policy`], [`reviewer`] and [`model_ref`]
//! (plain data the stages share), one module per layer, [`show`].
//! Nothing here depends on a stage: the stages read their settings from here.

mod cli;
mod file;
mod git;
mod instructions;
pub mod keys;
mod show;
mod trust;

pub mod model_ref;
pub mod policy;
pub mod reviewer;
pub mod sampling;
pub mod settings;

pub use instructions::{find_instructions, repo_instructions, Instructions, INSTRUCTION_FILES};
pub use keys::{parse_byte_size, parse_duration_secs, Key, Kind, REGISTRY};
pub use settings::*;
pub use show::write_effective;

use crate::error::{Error, Result};
use std::path::Path;

/// Loads the effective settings for the repository at `repo_root`.
///
/// `git_config` is the repository's config snapshot (`repo.config_snapshot()`),
/// which already includes global and system git config. `model_exists` says
/// whether a model name is in the manifest; reviewers and the lead are
/// checked with it (stand-in test backends are checked here, see
/// [`model_ref::TEST_BACKENDS_ENV`]). Warnings for the user
/// are returned in [`Provenance::warnings`].
pub fn load(
    repo_root: &Path,
    git_config: Option<&gix::config::Snapshot<'_>>,
    overrides: &CliOverrides,
    model_exists: &dyn Fn(&str) -> bool,
) -> Result<(Settings, Provenance)> {
    let mut settings = Settings::default();
    let mut prov = Provenance::default();
    let git = git_config.map(|s| s.plumbing());
    prov.repo_trusted = git.is_some_and(trust::repo_config_trusted);
    let cx = |confined: bool| Ctx {
        repo_root,
        model_exists,
        confined,
    };

    if let Some(path) = user_config_path() {
        file::apply_file(
            &path,
            file::Layer::User,
            &mut settings,
            &mut prov,
            &cx(false),
        )?;
    }
    let repo_file = repo_root.join(REPO_FILE);
    let confined = !prov.repo_trusted;
    file::apply_file(
        &repo_file,
        file::Layer::Repo,
        &mut settings,
        &mut prov,
        &cx(confined),
    )?;
    if let Some(cfg) = git {
        git::apply_git_config(cfg, &mut settings, &mut prov, &cx(false))?;
    }
    cli::apply_cli(overrides, &mut settings, &mut prov, &cx(false))?;
    settle_agreement(&mut settings, &prov)?;
    Ok((settings, prov))
}

/// The default agreement follows the reviewers configured (a single
/// reviewer cannot be confirmed by a second one). An agreement that a layer
/// set explicitly and that more reviewers than there are would have to
/// reach can never block: almost certainly a mistake, so say so. Checked on
/// the final settings only: layers may legitimately pass through such a
/// state (one sets reviewers, a later one the agreement).
fn settle_agreement(s: &mut Settings, prov: &Provenance) -> Result<()> {
    let n = s.reviewers.len();
    if prov.source("gate.min_agreement") == Source::Default {
        s.gate.min_agreement = DEFAULT_MIN_AGREEMENT.min(n).max(1);
        return Ok(());
    }
    if s.gate.enabled && s.gate.min_agreement > n {
        return Err(Error::Config(format!(
            "gate.min_agreement = {} ({}) but only {n} reviewer(s) are configured ({}), so the gate could never block; \
             lower min_agreement or add reviewers",
            s.gate.min_agreement,
            prov.source("gate.min_agreement"),
            prov.source("reviewer"),
        )));
    }
    Ok(())
}
