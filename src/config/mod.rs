//! Layered configuration: built-in defaults < repository file < user file <
//! git config `deep-review.*` < command-line flags (the user's own settings
//! win over the repository's), with the source of every effective value,
//! and what it overrode, recorded for `git deep-review config`.
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
//! The repository file is untrusted: it is read from the base of the
//! reviewed range, so a change cannot loosen its own review (module
//! `repo_files`), and the files it names must lie inside the repository,
//! unless the user trusts it with git config `deep-review.trustRepoConfig`
//! (module `trust`), which reads it from the work tree as it stands.
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
pub mod repo_files;
pub mod reviewer;
pub mod sampling;
pub mod settings;

pub use instructions::{find_instructions, repo_instructions, Instructions, INSTRUCTION_FILES};
pub use keys::{parse_byte_size, parse_duration_secs, Key, Kind, REGISTRY};
pub use settings::*;
pub use show::write_effective;

use crate::error::{Error, Result};
use repo_files::RepoFiles;

/// Loads the effective settings for the repository at `files.root()`.
///
/// Layers, lowest first: built-in defaults, the repository's
/// `.deep-review.toml` (read where `files` says: the base of the reviewed
/// range unless the user trusts the repository), the user's file, git
/// config `deep-review.*` (every scope, `git -c` included), the command
/// line. The user's own settings always win over the repository's.
///
/// `git_config` is the repository's config snapshot (`repo.config_snapshot()`),
/// which already includes global and system git config. `model_exists` says
/// whether a model name is in the manifest; reviewers and the lead are
/// checked with it (stand-in test backends are checked here, see
/// [`model_ref::TEST_BACKENDS_ENV`]). Warnings for the user
/// are returned in [`Provenance::warnings`].
pub fn load(
    files: &RepoFiles,
    git_config: Option<&gix::config::Snapshot<'_>>,
    overrides: &CliOverrides,
    model_exists: &dyn Fn(&str) -> bool,
) -> Result<(Settings, Provenance)> {
    let repo_root = files.root();
    let mut settings = Settings::default();
    let mut prov = Provenance::default();
    let git = git_config.map(|s| s.plumbing());
    prov.repo_trusted = git.is_some_and(trust::repo_config_trusted);
    prov.repo_from = files.describe();
    let cx = |confined: bool, with_files: bool| Ctx {
        repo_root,
        model_exists,
        confined,
        files: with_files.then_some(files),
    };

    let confined = !prov.repo_trusted;
    file::apply_repo_file(files, &mut settings, &mut prov, &cx(confined, true))?;
    if let Some(path) = user_config_path() {
        file::apply_file(
            &path,
            file::Layer::User,
            &mut settings,
            &mut prov,
            &cx(false, false),
        )?;
    }
    if let Some(cfg) = git {
        git::apply_git_config(cfg, &mut settings, &mut prov, &cx(false, false))?;
    }
    cli::apply_cli(overrides, &mut settings, &mut prov, &cx(false, false))?;
    settle_agreement(&mut settings, &prov)?;
    let found = instructions::from_files(files, settings.instructions_max_bytes);
    prov.warnings.extend(found.warnings);
    settings.instructions = found.found;
    settings.repo_notes = repo_notes(&settings, &prov);
    settings.repo_files_from_base = !files.is_work_tree();
    Ok((settings, prov))
}

/// Whether the user's own git configuration trusts the repository's file
/// (`deep-review.trustRepoConfig`): then it is read from the work tree as
/// it stands, paths outside the repository and servers included.
pub fn repo_config_trusted(snapshot: &gix::config::Snapshot<'_>) -> bool {
    trust::repo_config_trusted(snapshot.plumbing())
}

/// What the repository's own file did to the gate, one sentence each
/// naming where: a team reading the hook's message or the report must be
/// able to tell that the repository, not they, switched it off or ignored
/// files.
fn repo_notes(s: &Settings, prov: &Provenance) -> Vec<String> {
    let from_repo = |key: &str| match prov.source(key) {
        src @ Source::RepoFile { .. } => Some(src),
        _ => None,
    };
    let mut notes = Vec::new();
    if !s.gate.enabled {
        if let Some(src) = from_repo("gate.enabled") {
            notes.push(format!(
                "the repository's file switches the gate off ({src})"
            ));
        }
    }
    for (glob, src) in s.ignore.iter().zip(&prov.ignore) {
        if matches!(src, Source::RepoFile { .. }) {
            notes.push(format!("the repository's file ignores `{glob}` ({src})"));
        }
    }
    let allows = [
        ("gate.on_reviewer_failure", s.gate_on_reviewer_failure),
        ("gate.unreviewable", s.gate_unreviewable),
        ("review.on_timeout", s.on_timeout),
    ];
    for (key, policy) in allows {
        if policy == FailurePolicy::Allow {
            if let Some(src) = from_repo(key) {
                notes.push(format!("the repository's file sets {key} = allow ({src})"));
            }
        }
    }
    if let Some(src) = from_repo("review.time_budget") {
        notes.push(format!(
            "the repository's file sets the time budget to {} s ({src})",
            s.time_budget_secs
        ));
    }
    notes
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
