//! Where the repository's own configuration is read from: its
//! `.deep-review.toml`, its instruction files and the prompt files the
//! repository file names.
//!
//! A change must not be able to loosen its own review. So, unless the user
//! vouches for the repository (`deep-review.trustRepoConfig`), these files
//! are read from the **base** of the reviewed range, code that was already
//! accepted, never from the change under review or the work tree. A change
//! to them inside the range is reviewed like code and takes effect once it
//! is merged. A range that starts at the root has no accepted code, so no
//! repository file applies to it.

use gix::ObjectId;
use std::path::{Path, PathBuf};

/// Where the repository's files come from, for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoFrom {
    /// The work tree as it stands: the user trusts the repository.
    WorkTree,
    /// The blobs committed at `id`, the base of the reviewed range;
    /// `label` says what it is (`abc1234, the base of origin/main..HEAD`).
    Commit { id: ObjectId, label: String },
    /// None at all, and why (a range from the root, an empty repository).
    Nothing { why: String },
}

/// The repository's configuration files as this run sees them.
pub struct RepoFiles {
    /// Where they are read from.
    pub from: RepoFrom,
    root: PathBuf,
    repo: Option<gix::Repository>,
}

impl RepoFiles {
    /// The work tree's files (the user trusts the repository).
    pub fn work_tree(root: &Path) -> Self {
        RepoFiles {
            from: RepoFrom::WorkTree,
            root: root.to_path_buf(),
            repo: None,
        }
    }

    /// The files committed at `id`.
    pub fn at_commit(repo: &gix::Repository, root: &Path, id: ObjectId, label: String) -> Self {
        RepoFiles {
            from: RepoFrom::Commit { id, label },
            root: root.to_path_buf(),
            repo: Some(repo.clone()),
        }
    }

    /// No repository files apply, because of `why`.
    pub fn nothing(root: &Path, why: impl Into<String>) -> Self {
        RepoFiles {
            from: RepoFrom::Nothing { why: why.into() },
            root: root.to_path_buf(),
            repo: None,
        }
    }

    /// The repository's root in the work tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the work tree's files are read as they stand.
    pub fn is_work_tree(&self) -> bool {
        self.from == RepoFrom::WorkTree
    }

    /// How a file is named in messages: its path in the work tree, or
    /// `path@abc1234` for a committed one.
    pub fn name(&self, rel: &str) -> PathBuf {
        match &self.from {
            RepoFrom::Commit { id, .. } => {
                PathBuf::from(format!("{rel}@{}", &id.to_hex().to_string()[..7]))
            }
            _ => self.root.join(rel),
        }
    }

    /// One line for `config` and the report: where the files come from.
    pub fn describe(&self) -> String {
        match &self.from {
            RepoFrom::WorkTree => {
                "the work tree, as it stands (git config deep-review.trustRepoConfig)".into()
            }
            RepoFrom::Commit { label, .. } => format!(
                "commit {label}: code already accepted, so a change cannot loosen its own review"
            ),
            RepoFrom::Nothing { why } => format!("not read: {why}"),
        }
    }

    /// The bytes of the file at `rel` (relative to the root), `None` when it
    /// does not exist (or is not a regular file in the commit: a symlink's
    /// target is not followed out of the commit).
    pub fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, String> {
        match &self.from {
            RepoFrom::Nothing { .. } => Ok(None),
            RepoFrom::WorkTree => match std::fs::read(self.root.join(rel)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
                Err(e) => Err(format!(
                    "{} cannot be read ({e})",
                    self.root.join(rel).display()
                )),
            },
            RepoFrom::Commit { id, .. } => {
                let repo = self
                    .repo
                    .as_ref()
                    .expect("a commit source holds its repository");
                blob_at(repo, *id, rel)
            }
        }
    }
}

/// The regular file at `path` in commit `id`: not a symlink, directory or
/// submodule.
fn blob_at(repo: &gix::Repository, id: ObjectId, path: &str) -> Result<Option<Vec<u8>>, String> {
    let path = path.trim_start_matches("./");
    if path.is_empty() || path.split('/').any(|c| c == ".." || c.is_empty()) {
        return Ok(None);
    }
    let commit = repo
        .find_commit(id)
        .map_err(|e| format!("cannot read commit {id} ({e})"))?;
    let tree = commit
        .tree()
        .map_err(|e| format!("cannot read the tree of {id} ({e})"))?;
    let entry = tree
        .lookup_entry_by_path(path)
        .map_err(|e| format!("cannot look up `{path}` in {id} ({e})"))?;
    let Some(entry) = entry else { return Ok(None) };
    if !entry.mode().is_blob() {
        return Ok(None);
    }
    let blob = repo
        .find_blob(entry.object_id())
        .map_err(|e| format!("cannot read `{path}` at {id} ({e})"))?;
    Ok(Some(blob.data.clone()))
}
