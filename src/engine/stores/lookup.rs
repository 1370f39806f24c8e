//! What resolving a reference in any store needs: checked path
//! components, case-insensitive path lookup, the first usable copy
//! ([`Pick`]) and where a failed resolve looked, for its error.

use std::path::{Path, PathBuf};

use super::locate::{candidates, kind_roots};
use super::types::{Found, StoreEnv, StoreKind};
use crate::error::Error;

/// A path component from a reference: it is joined onto store paths, so
/// anything that could leave the store (`..`, separators) is refused.
pub(super) fn valid_component(c: &str) -> bool {
    !c.is_empty() && c != "." && c != ".." && !c.contains(['\\', '\0'])
}

/// `base/c1/c2/...`, each component matched exactly or else
/// case-insensitively; with the names actually found.
pub(super) fn find_path(base: &Path, components: &[&str]) -> Option<(PathBuf, Vec<String>)> {
    let mut cur = base.to_path_buf();
    let mut names = Vec::new();
    for c in components {
        let exact = cur.join(c);
        if std::fs::symlink_metadata(&exact).is_ok() {
            cur = exact;
            names.push(c.to_string());
            continue;
        }
        let hit = std::fs::read_dir(&cur)
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.eq_ignore_ascii_case(c))
            .min()?;
        cur = cur.join(&hit);
        names.push(hit);
    }
    Some((cur, names))
}

pub(super) fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a resolve looked, for its error: the existing roots, or, when none
/// exists, every candidate; with the variables that decided them.
pub(super) fn looked_in(env: &StoreEnv, kinds: &[StoreKind], vars: &[&str]) -> String {
    let existing: Vec<PathBuf> = kinds.iter().flat_map(|k| kind_roots(env, *k)).collect();
    if existing.is_empty() {
        let all: Vec<PathBuf> = kinds.iter().flat_map(|k| candidates(env, *k)).collect();
        format!(
            "any {} directory (none of {} exists; {})",
            kinds[0].label(),
            join_paths(&all),
            env.notes(vars)
        )
    } else {
        format!("{} ({})", join_paths(&existing), env.notes(vars))
    }
}

/// The first usable entry, or the first unusable one's reason as an error.
pub(super) struct Pick {
    pub(super) first_unusable: Option<Error>,
}

impl Pick {
    pub(super) fn new() -> Pick {
        Pick {
            first_unusable: None,
        }
    }
    /// `Some(found)` if it can be used; otherwise remembers why not.
    pub(super) fn offer(&mut self, reference: &str, found: Found) -> Option<Found> {
        match &found.unusable {
            None => Some(found),
            Some(reason) => {
                self.first_unusable.get_or_insert_with(|| {
                    Error::Model(format!("{reference}: cannot be used: {reason}"))
                });
                None
            }
        }
    }
}
