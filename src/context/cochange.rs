//! Recent history → which files change together with the files under
//! review. Files that co-change are where the defects between a change and
//! the rest of the code most often sit when no name links them (a
//! serializer and its parser, a handler and its route table).

use crate::error::{Error, Result};
use gix::ObjectId;
use std::collections::{HashMap, HashSet};

/// Commits of history looked at, newest first from the range's base.
pub const HISTORY_COMMITS: usize = 400;
/// A commit touching more files than this is a sweep (a rename, a format
/// run): it says nothing about which files belong together.
pub const SWEEP_FILES: usize = 40;

/// For each file under review, the other files that changed in the same
/// commits, with how many commits that was (at least two).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoChange {
    pub partners: HashMap<String, Vec<(String, u32)>>,
    /// Commits counted (sweeps and merges left out).
    pub commits: usize,
}

/// Co-change counts for `files` over the first-parent history before
/// `from` (the range's base: accepted code, not the change itself).
pub fn count(repo: &gix::Repository, from: Option<ObjectId>, files: &[String]) -> Result<CoChange> {
    let mut out = CoChange::default();
    let Some(from) = from else {
        return Ok(out);
    };
    let wanted: HashSet<&str> = files.iter().map(String::as_str).collect();
    let mut counts: HashMap<&str, HashMap<String, u32>> = HashMap::new();
    let mut next = Some(from);
    let mut seen = 0;
    while let Some(id) = next.take() {
        if seen >= HISTORY_COMMITS {
            break;
        }
        seen += 1;
        let commit = repo
            .find_commit(id)
            .map_err(|e| Error::Git(format!("cannot read commit {id}: {e}")))?;
        let parents: Vec<ObjectId> = commit.parent_ids().map(|p| p.detach()).collect();
        next = parents.first().copied();
        if parents.len() > 1 {
            continue;
        }
        let paths = crate::git::diff::changed_paths(repo, parents.first().copied(), id)?;
        if paths.len() > SWEEP_FILES || paths.len() < 2 {
            continue;
        }
        out.commits += 1;
        for p in &paths {
            let Some(&mine) = wanted.get(p.as_str()) else {
                continue;
            };
            let row = counts.entry(mine).or_default();
            for q in &paths {
                if q != p {
                    *row.entry(q.clone()).or_default() += 1;
                }
            }
        }
    }
    for (file, row) in counts {
        let mut partners: Vec<(String, u32)> = row.into_iter().filter(|(_, n)| *n >= 2).collect();
        partners.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        partners.truncate(10);
        if !partners.is_empty() {
            out.partners.insert(file.to_string(), partners);
        }
    }
    Ok(out)
}
