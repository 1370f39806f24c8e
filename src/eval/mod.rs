//! `git deep-review eval`: scores the configured reviewers (and the
//! consolidated review) on labelled defects. The data flow is the module
//! list: cases come from a cases file ([`cases`]), from the repository's
//! own history ([`history`], the SZZ approach) or from planted bugs and
//! decoys ([`mutants`]); each case is reviewed by the normal pipeline
//! ([`run`]); [`score`] compares the findings with the known defects (and
//! counts those on decoys as false positives, with and without
//! verification) and [`table`] shows the result. Only the object database
//! is read (mutants and decoys are written as new objects, never as refs
//! or work-tree changes).

pub mod case;
pub mod cases;
pub mod context_recall;
pub mod history;
pub mod mutants;
pub mod run;
pub mod score;
pub mod table;

pub use case::{Case, Defect, Source};

use crate::error::{Error, Result};
use std::path::PathBuf;

/// Where `eval` takes its cases from (at least one must be asked for).
#[derive(Debug, Clone, Default)]
pub struct CaseSources {
    pub cases_file: Option<PathBuf>,
    /// Mine history: `Some(None)` = all of HEAD's history, `Some(Some(range))`.
    pub history: Option<Option<String>>,
    pub fix_pattern: Option<String>,
    pub max_history_cases: usize,
    pub mutants: Option<usize>,
    /// Decoys: edits that keep the behaviour (no defect to find).
    pub decoys: Option<usize>,
    pub seed: u64,
}

/// Every case the sources give, in a fixed order (file, history,
/// mutants), checked before any model runs. `say` hears what was found
/// and skipped. No source giving any case is a usage error saying why.
pub fn gather(repo: &gix::Repository, src: &CaseSources, say: &dyn Fn(&str)) -> Result<Vec<Case>> {
    if src.cases_file.is_none()
        && src.history.is_none()
        && src.mutants.is_none()
        && src.decoys.is_none()
    {
        return Err(Error::Usage(
            "eval needs cases: --cases FILE, --from-history [RANGE] and/or --mutants N \
             (see `git deep-review eval --help`)"
                .into(),
        ));
    }
    let mut out = Vec::new();
    let mut why_none = Vec::new();
    if let Some(path) = &src.cases_file {
        let cases = cases::load(repo, path)?;
        say(&format!("{} case(s) from {}", cases.len(), path.display()));
        out.extend(cases);
    }
    if let Some(range) = &src.history {
        let pattern = src
            .fix_pattern
            .as_deref()
            .unwrap_or(history::DEFAULT_FIX_PATTERN);
        let fix_pattern = regex::Regex::new(pattern).map_err(|e| {
            Error::Usage(format!(
                "--fix-pattern {pattern:?} is not a regular expression: {e}"
            ))
        })?;
        let opts = history::MineOptions {
            fix_pattern,
            max_cases: src.max_history_cases,
            ..history::MineOptions::default()
        };
        let mined = history::mine(repo, range.as_deref(), &opts)?;
        say(&format!(
            "{} case(s) from history ({} fix commit(s) examined, {} skipped)",
            mined.cases.len(),
            mined.fix_commits,
            mined.skipped.len()
        ));
        if mined.cases.is_empty() {
            why_none.push(if mined.fix_commits == 0 {
                format!("no commit message in the history matches the fix pattern {pattern:?} (--fix-pattern)")
            } else {
                format!(
                    "none of the {} fix commit(s) changed lines that a reviewable, non-root commit introduced",
                    mined.fix_commits
                )
            });
        }
        out.extend(mined.cases);
    }
    if let Some(count) = src.mutants {
        let head = crate::git::range::resolve(repo, Some("HEAD"))?.head;
        let opts = mutants::MutantOptions {
            count,
            seed: src.seed,
            ..mutants::MutantOptions::default()
        };
        let planted = mutants::plant(repo, head, &opts)?;
        say(&format!(
            "{} mutant(s) planted (seed {})",
            planted.len(),
            src.seed
        ));
        if planted.is_empty() && count > 0 {
            why_none.push(
                "no recent commit changes Rust, Python, Go, JavaScript or TypeScript code a mutation operator applies to"
                    .into(),
            );
        }
        out.extend(planted.into_iter().map(|m| m.case));
    }
    if let Some(count) = src.decoys.filter(|&n| n > 0) {
        let head = crate::git::range::resolve(repo, Some("HEAD"))?.head;
        let opts = mutants::MutantOptions {
            count,
            seed: src.seed,
            ..mutants::MutantOptions::default()
        };
        let planted = mutants::plant_decoys(repo, head, &opts)?;
        say(&format!(
            "{} decoy(s) planted (edits that keep the behaviour; seed {})",
            planted.len(),
            src.seed
        ));
        if planted.is_empty() {
            why_none.push(
                "no recent commit changes Rust, Python, Go, JavaScript or TypeScript code a decoy applies to"
                    .into(),
            );
        }
        out.extend(planted.into_iter().map(|d| d.case));
    }
    if out.is_empty() {
        return Err(Error::Usage(format!(
            "no cases to evaluate: {}",
            if why_none.is_empty() {
                "the sources gave none".to_string()
            } else {
                why_none.join("; ")
            }
        )));
    }
    Ok(out)
}
