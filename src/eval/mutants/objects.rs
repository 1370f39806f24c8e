//! The object layer: finding sites in the hunks recent first-parent
//! commits added and writing each chosen mutant ([`plant`]) or decoy
//! ([`plant_decoys`]) as blob, tree and commit objects, never a ref, the
//! index or a work-tree file.

use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind;
use gix::ObjectId;
use serde::Serialize;

use super::choose::choose;
use super::decoys::{self, Decoy, DecoyKind, DecoySite};
use super::lex::Lang;
use super::text::{apply, sites};
use super::types::{Mutation, Operator, Site};
use crate::error::Result;
use crate::eval::case::{Case, Defect, Source};
use crate::git::diff::{DiffOptions, FileStatus, LineKind};
use crate::git::range::git_err;

/// How many first-parent commits back from the head are searched by
/// default.
pub const DEFAULT_RECENT_COMMITS: usize = 200;

/// A planted defect, as an eval case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MutantCase {
    pub case: Case,
    pub operator: Operator,
}

/// A planted decoy (a change that keeps the behaviour), as an eval case
/// with no defect: any finding on it is a false positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecoyCase {
    pub case: Case,
    pub kind: DecoyKind,
    /// The file and the lines of the case's head the edit covers.
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    pub description: String,
}

/// Added to the seed for decoys, so that they are not chosen in step
/// with the mutants of the same seed.
const DECOY_SEED: u64 = 0x00DE_C0DE_5EED;

/// What [`plant`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutantOptions {
    /// Mutants wanted (fewer when there are fewer sites).
    pub count: usize,
    /// Same seed, same mutants.
    pub seed: u64,
    /// First-parent commits examined back from the head (merges count).
    pub recent_commits: usize,
    /// Files a commit changed by more lines than this are not mutated: the
    /// case would be a long review (a whole new module) around one line.
    pub max_changed_lines: u32,
}

/// Default [`MutantOptions::max_changed_lines`].
pub const DEFAULT_MAX_CHANGED_LINES: u32 = 200;

impl Default for MutantOptions {
    fn default() -> Self {
        MutantOptions {
            count: 10,
            seed: 0,
            recent_commits: DEFAULT_RECENT_COMMITS,
            max_changed_lines: DEFAULT_MAX_CHANGED_LINES,
        }
    }
}

/// A file of a candidate commit that has sites.
struct Target {
    commit: ObjectId,
    parent: ObjectId,
    path: String,
    /// The file's path at `parent` when the commit renamed it.
    from: Option<String>,
    language: String,
    text: String,
    kind: EntryKind,
}

/// Plants up to `opts.count` defects in hunks that recent first-parent
/// commits of `head` added, deterministically for a seed. Writes objects
/// only: a blob, trees, and one commit per mutant whose tree is the
/// original commit's parent with only the mutated file changed (its real
/// change plus the defect), with the parent as parent, the original's
/// author and committer and its message prefixed "mutant: ", so ids are
/// deterministic. No ref, index or work-tree change. No sites at all: an
/// empty list.
pub fn plant(
    repo: &gix::Repository,
    head: ObjectId,
    opts: &MutantOptions,
) -> Result<Vec<MutantCase>> {
    if opts.count == 0 {
        return Ok(Vec::new());
    }
    let (targets, candidates) = scan(repo, head, opts, sites)?;
    let keys: Vec<(Operator, (usize, u32))> = candidates
        .iter()
        .map(|(t, site)| (site.operator, (*t, site.line)))
        .collect();
    let mut mutations: Vec<Option<Mutation>> = vec![None; candidates.len()];
    let chosen = choose(&Operator::ALL, &keys, opts.count, opts.seed, |i| {
        let (t, site) = &candidates[i];
        let target = &targets[*t];
        mutations[i] = apply(&target.text, &target.language, site)
            .filter(|m| !target.undone_by(repo, &m.text));
        mutations[i].is_some()
    });
    let mut out = Vec::with_capacity(chosen.len());
    for (n, i) in chosen.into_iter().enumerate() {
        let (t, site) = &candidates[i];
        let mutation = mutations[i].take().expect("a chosen site was applied");
        out.push(write_mutant(repo, n + 1, &targets[*t], site, mutation)?);
    }
    Ok(out)
}

/// Plants up to `opts.count` decoys — edits that keep the behaviour (see
/// [`DecoyKind`]) — in hunks that recent first-parent commits of `head`
/// added, deterministically for a seed (not in step with the mutants of
/// the same seed). Each is written like a mutant (the file's real change
/// plus the edit on the parent's tree, the message prefixed "decoy: "),
/// and is a case with no defect.
pub fn plant_decoys(
    repo: &gix::Repository,
    head: ObjectId,
    opts: &MutantOptions,
) -> Result<Vec<DecoyCase>> {
    if opts.count == 0 {
        return Ok(Vec::new());
    }
    let (targets, candidates) = scan(repo, head, opts, decoys::sites)?;
    let keys: Vec<(DecoyKind, (usize, u32))> = candidates
        .iter()
        .map(|(t, site)| (site.kind, (*t, site.line)))
        .collect();
    let mut edits: Vec<Option<Decoy>> = vec![None; candidates.len()];
    let seed = opts.seed.wrapping_add(DECOY_SEED);
    let chosen = choose(&DecoyKind::ALL, &keys, opts.count, seed, |i| {
        let (t, site) = &candidates[i];
        let target = &targets[*t];
        edits[i] = decoys::apply(&target.text, &target.language, site)
            .filter(|d| !target.undone_by(repo, &d.text));
        edits[i].is_some()
    });
    let mut out = Vec::with_capacity(chosen.len());
    for (n, i) in chosen.into_iter().enumerate() {
        let (t, site) = &candidates[i];
        let decoy = edits[i].take().expect("a chosen site was applied");
        out.push(write_decoy(repo, n + 1, &targets[*t], site, decoy)?);
    }
    Ok(out)
}

/// What [`scan`] finds: the files, and each site with its file's index.
type Scanned<S> = (Vec<Target>, Vec<(usize, S)>);

/// The files that recent first-parent commits of `head` changed (not
/// tests, not too large, in a language with operators) and the sites
/// `find` gives on the lines each commit added.
fn scan<S>(
    repo: &gix::Repository,
    head: ObjectId,
    opts: &MutantOptions,
    find: impl Fn(&str, &str, &[u32]) -> Vec<S>,
) -> Result<Scanned<S>> {
    let diff_opts = DiffOptions {
        context_lines: 0,
        enclosing: false,
        ..Default::default()
    };
    let mut targets: Vec<Target> = Vec::new();
    let mut candidates: Vec<(usize, S)> = Vec::new();
    for (commit, parent) in candidate_commits(repo, head, opts.recent_commits)? {
        for file in crate::git::diff::diff_range(repo, Some(parent), commit, &diff_opts)? {
            if file.binary
                || !matches!(
                    file.status,
                    FileStatus::Added
                        | FileStatus::Modified
                        | FileStatus::Renamed { .. }
                        | FileStatus::Copied { .. }
                )
            {
                continue;
            }
            // A planted bug should be one a user's code could have: a
            // test that forgets to drop a server measures nothing useful.
            if is_test_path(&file.path) || file.additions + file.deletions > opts.max_changed_lines
            {
                continue;
            }
            let Some(language) = file
                .language
                .as_deref()
                .filter(|l| Lang::from_name(l).is_some())
            else {
                continue;
            };
            let added: Vec<u32> = file
                .hunks
                .iter()
                .flat_map(|h| &h.lines)
                .filter(|l| l.kind == LineKind::Added)
                .filter_map(|l| l.new_line)
                .collect();
            if added.is_empty() {
                continue;
            }
            let Some(kind) = entry_kind(repo, commit, &file.path)? else {
                continue;
            };
            if !matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable) {
                continue;
            }
            let Some(bytes) = crate::git::range::read_file_at(repo, commit, &file.path)? else {
                continue;
            };
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            let found = find(&text, language, &added);
            if found.is_empty() {
                continue;
            }
            let t = targets.len();
            candidates.extend(found.into_iter().map(|site| (t, site)));
            let from = match &file.status {
                FileStatus::Renamed { from, .. } => Some(from.clone()),
                _ => None,
            };
            targets.push(Target {
                commit,
                parent,
                from,
                path: file.path,
                language: language.to_string(),
                text,
                kind,
            });
        }
    }
    Ok((targets, candidates))
}

impl Target {
    /// The file edited to `text` is the parent's file: the edit undoes the
    /// commit's own change (a mutant removing the `+ 1` the commit added,
    /// a decoy swapping back what it swapped), and the case would have
    /// nothing to review.
    fn undone_by(&self, repo: &gix::Repository, text: &str) -> bool {
        self.from.is_none()
            && matches!(
                crate::git::range::read_file_at(repo, self.parent, &self.path),
                Ok(Some(before)) if before == text.as_bytes()
            )
    }
}

/// Test code by the usual conventions: a `test`/`tests`/`__tests__`/
/// `spec`/`testdata` directory, or `test_x.py`, `x_test.py`, `x_test.go`,
/// `x.test.js`, `x.spec.ts` and the like.
pub fn is_test_path(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    let name = parts.pop().unwrap_or("");
    if parts
        .iter()
        .any(|d| matches!(*d, "test" | "tests" | "__tests__" | "spec" | "testdata"))
    {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name);
    stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || name.contains(".test.")
        || name.contains(".spec.")
}

/// Non-merge, non-root commits on the first-parent chain from `head`
/// (`limit` commits examined), newest first, with their parent; the walk
/// ends early where a shallow history does.
fn candidate_commits(
    repo: &gix::Repository,
    head: ObjectId,
    limit: usize,
) -> Result<Vec<(ObjectId, ObjectId)>> {
    let mut out = Vec::new();
    let mut id = head;
    for _ in 0..limit {
        let commit = repo
            .find_commit(id)
            .map_err(|e| git_err(format!("cannot read commit {id}"), e))?;
        let parents: Vec<ObjectId> = commit.parent_ids().map(|p| p.detach()).collect();
        let Some(&first) = parents.first() else { break };
        if !repo.has_object(first) {
            break;
        }
        if parents.len() == 1 {
            out.push((id, first));
        }
        id = first;
    }
    Ok(out)
}

/// The kind of the tree entry at `path` in `commit`.
fn entry_kind(repo: &gix::Repository, commit: ObjectId, path: &str) -> Result<Option<EntryKind>> {
    let tree = repo
        .find_commit(commit)
        .map_err(|e| git_err(format!("cannot read commit {commit}"), e))?
        .tree()
        .map_err(|e| git_err(format!("cannot read the tree of {commit}"), e))?;
    let entry = tree
        .lookup_entry_by_path(path)
        .map_err(|e| git_err(format!("cannot look up `{path}` in {commit}"), e))?;
    Ok(entry.map(|e| e.mode().kind()))
}

/// The commit a case reviews: the target's parent with the target file
/// replaced by `text`, as the parent's child, by the original's author
/// and committer, its message prefixed by `prefix` (so ids are
/// deterministic). Returns the commit, the original's short id and its
/// message.
fn write_commit(
    repo: &gix::Repository,
    target: &Target,
    text: &str,
    prefix: &str,
) -> Result<(ObjectId, String, String)> {
    let (id, path) = (target.commit, target.path.as_str());
    let commit = repo
        .find_commit(id)
        .map_err(|e| git_err(format!("cannot read commit {id}"), e))?;
    let blob = repo
        .write_blob(text.as_bytes())
        .map_err(|e| git_err(format!("cannot write the {prefix} `{path}` of {id}"), e))?
        .detach();
    // The case is this one file's change (its real hunks plus the planted
    // edit) on the parent's tree: a review of the whole commit would
    // cost as much as the commit is large and bury the one known edit
    // among changes nobody labelled.
    let parent = repo
        .find_commit(target.parent)
        .map_err(|e| git_err(format!("cannot read commit {}", target.parent), e))?;
    let tree_id = parent
        .tree_id()
        .map_err(|e| git_err(format!("cannot read the tree of {}", target.parent), e))?;
    let mut editor = repo
        .edit_tree(tree_id)
        .map_err(|e| git_err(format!("cannot edit the tree of {}", target.parent), e))?;
    if let Some(from) = &target.from {
        editor
            .remove(from.as_str())
            .map_err(|e| git_err(format!("cannot move `{from}` in the tree of {id}"), e))?;
    }
    editor.upsert(path, target.kind, blob).map_err(|e| {
        git_err(
            format!("cannot put the {prefix} `{path}` in the tree of {id}"),
            e,
        )
    })?;
    let tree = editor
        .write()
        .map_err(|e| git_err(format!("cannot write the {prefix} tree of {id}"), e))?
        .detach();
    let author = commit
        .author()
        .map_err(|e| git_err(format!("cannot read the author of {id}"), e))?;
    let committer = commit
        .committer()
        .map_err(|e| git_err(format!("cannot read the committer of {id}"), e))?;
    let raw = commit.message_raw_sloppy().to_str_lossy().into_owned();
    let message = format!("{prefix}: {raw}");
    let written = repo
        .new_commit_as(committer, author, message, tree, [target.parent])
        .map_err(|e| git_err(format!("cannot write the {prefix} commit of {id}"), e))?
        .id;
    let short = commit.id().shorten_or_id().to_string();
    Ok((written, short, raw))
}

/// Writes the mutated blob, the tree with it and the mutant commit.
fn write_mutant(
    repo: &gix::Repository,
    n: usize,
    target: &Target,
    site: &Site,
    mutation: Mutation,
) -> Result<MutantCase> {
    let (mutant, short, raw) = write_commit(repo, target, &mutation.text, "mutant")?;
    let path = target.path.as_str();
    let operator = site.operator;
    Ok(MutantCase {
        case: Case {
            id: format!("mutant-{n}-{operator}"),
            source: Source::Mutant,
            base: Some(target.parent),
            head: mutant,
            defects: vec![Defect {
                file: target.path.clone(),
                line_start: mutation.line_start,
                line_end: mutation.line_end,
                severity: operator.severity(),
                description: mutation.description,
            }],
            provenance: format!(
                "{operator} at {path}:{} of {short} ({})",
                site.line,
                subject(&raw)
            ),
        },
        operator,
    })
}

/// Writes the edited blob, the tree with it and the decoy commit.
fn write_decoy(
    repo: &gix::Repository,
    n: usize,
    target: &Target,
    site: &DecoySite,
    decoy: Decoy,
) -> Result<DecoyCase> {
    let (head, short, raw) = write_commit(repo, target, &decoy.text, "decoy")?;
    let path = target.path.as_str();
    let kind = site.kind;
    Ok(DecoyCase {
        case: Case {
            id: format!("decoy-{n}-{kind}"),
            source: Source::Decoy,
            base: Some(target.parent),
            head,
            defects: Vec::new(),
            provenance: format!(
                "{kind} at {path}:{} of {short} ({}): {}",
                site.line,
                subject(&raw),
                decoy.description
            ),
        },
        kind,
        file: target.path.clone(),
        line_start: decoy.line_start,
        line_end: decoy.line_end,
        description: decoy.description,
    })
}

/// A commit message's subject: its first paragraph on one line (`%s`).
fn subject(message: &str) -> String {
    let message = message.trim_start_matches(['\n', '\r']);
    let first = message.split("\n\n").next().unwrap_or("");
    first.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

/// Where planted objects go: a temporary object directory that reads the
/// repository's own objects through `info/alternates`, so the mutants and
/// decoys can be reviewed like any commit while the repository's
/// `objects/` stays exactly as it was (planted objects would otherwise
/// linger there as garbage for two weeks, until `git gc` prunes them).
/// Removed when dropped, with everything planted in it.
pub struct ScratchObjects {
    dir: tempfile::TempDir,
}

impl ScratchObjects {
    /// The scratch directory (an object directory: `info/alternates`,
    /// loose objects).
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// Turns `repo` into one whose object writes go to a fresh
/// [`ScratchObjects`] directory and whose reads see the repository's
/// objects (and their alternates) first. Keep the returned guard alive as
/// long as the repository is used.
pub fn with_scratch_objects(
    mut repo: gix::Repository,
) -> Result<(gix::Repository, ScratchObjects)> {
    let io = |what: &str, e: std::io::Error| crate::error::Error::io(what.to_string(), e);
    let real = repo.objects.store_ref().path().to_path_buf();
    let real = std::fs::canonicalize(&real).map_err(|e| {
        io(
            &format!("resolving the object directory {}", real.display()),
            e,
        )
    })?;
    let dir = tempfile::Builder::new()
        .prefix("git-deep-review-eval-objects-")
        .tempdir()
        .map_err(|e| io("creating a temporary object directory for eval", e))?;
    let info = dir.path().join("info");
    std::fs::create_dir_all(&info).map_err(|e| io(&format!("creating {}", info.display()), e))?;
    // git's alternates format: one absolute path a line. A path with a
    // newline cannot be written as one line; quoting is git's own rule.
    let line = real.to_string_lossy().into_owned();
    let line = if line.contains(['\n', '"', '\\']) {
        serde_json::to_string(&line).unwrap_or(line)
    } else {
        line
    };
    std::fs::write(info.join("alternates"), format!("{line}\n"))
        .map_err(|e| io(&format!("writing {}/alternates", info.display()), e))?;
    let handle = gix::odb::at(dir.path(), repo.object_hash()).map_err(|e| {
        io(
            &format!("opening the object directory {}", dir.path().display()),
            e,
        )
    })?;
    repo.objects =
        gix::odb::memory::Proxy::new(handle, repo.object_hash()).with_write_passthrough();
    Ok((repo, ScratchObjects { dir }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_code_is_recognised_by_path() {
        for yes in [
            "tests/eval.rs",
            "crate/tests/common/mod.rs",
            "pkg/__tests__/a.js",
            "test_util.py",
            "lib/util_test.go",
            "web/a.test.ts",
            "web/a.spec.js",
        ] {
            assert!(is_test_path(yes), "{yes}");
        }
        for no in [
            "src/eval/mutants.rs",
            "src/contest.rs",
            "attest/a.py",
            "latest.js",
        ] {
            assert!(!is_test_path(no), "{no}");
        }
    }
}
