//! Stage 1: a revision range as git users write it → the commits to review.
//!
//! Plain data out; everything resolved with gix. Commits travel as object
//! ids, never as hex text to be parsed again.

use crate::git::diff::{DiffOptions, DiffStat, FileDiff};
use serde::{Serialize, Serializer};

/// Object ids are written as full hex in JSON.
fn hex<S: Serializer>(id: &ObjectId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(id)
}

fn hex_opt<S: Serializer>(id: &Option<ObjectId>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.collect_str(id),
        None => s.serialize_none(),
    }
}

/// One commit of the range, as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    #[serde(serialize_with = "hex")]
    pub id: ObjectId,
    /// Abbreviated id (7 hex digits, longer only if ambiguous).
    pub short: String,
    pub author_name: String,
    pub author_email: String,
    /// Author time, seconds since the epoch.
    pub time: i64,
    /// Author time-zone offset in seconds east of UTC.
    pub tz_offset: i32,
    pub subject: String,
    pub body: String,
    /// Number of parents (2+ = merge commit).
    pub parents: usize,
    /// Diffstat against the first parent (against the empty tree for a root).
    pub stat: DiffStat,
}

/// What is being reviewed: the diff from `base` to `head`, and the commits
/// that make it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewRange {
    /// The range as the user wrote it (or as it was defaulted, e.g. `@{upstream}..HEAD`).
    pub spec: String,
    /// Base commit; `None` means the empty tree (a root commit).
    #[serde(serialize_with = "hex_opt")]
    pub base: Option<ObjectId>,
    /// Head commit.
    #[serde(serialize_with = "hex")]
    pub head: ObjectId,
    /// Branch name of the head when known (`feature/x`), for the report header and file name.
    pub branch: Option<String>,
    /// Commits in the range, oldest first (merge commits included, flagged by `parents`).
    pub commits: Vec<CommitInfo>,
}

use crate::error::{Error, Result};
use gix::bstr::ByteSlice;
use gix::ObjectId;
use rayon::prelude::*;
use std::path::Path;

impl ReviewRange {
    /// Per-file diffs of the range (stage 2), from `base` (or the empty
    /// tree) to `head`.
    pub fn diff(&self, repo: &gix::Repository, opts: &DiffOptions) -> Result<Vec<FileDiff>> {
        crate::git::diff::diff_range(repo, self.base, self.head, opts)
    }
}

/// Turns any gix failure into a git-layer error that says what we were doing.
pub(crate) fn git_err(context: impl std::fmt::Display, err: impl std::fmt::Display) -> Error {
    Error::Git(format!("{context}: {err}"))
}

/// Opens the repository the way a git subcommand finds it from `path`:
///
/// * `GIT_DIR` set (as `git --git-dir=X` and hooks do): that repository,
///   a relative value taken from `path` like `git -C path` would; with
///   `GIT_WORK_TREE`, `GIT_INDEX_FILE`, `GIT_NAMESPACE`... honoured.
/// * otherwise the repository containing `path` (a work tree, a
///   sub-directory of one, a bare repository or a `.git` directory), not
///   searching above `GIT_CEILING_DIRECTORIES` or across file systems unless
///   `GIT_DISCOVERY_ACROSS_FILESYSTEM` allows it.
///
/// A `path` that is not a directory is a usage error (exit 2), anything
/// else a git error (exit 3).
pub fn open_repo(path: &Path) -> Result<gix::Repository> {
    check_start_dir(path)?;
    let mut repo = match std::env::var_os("GIT_DIR").filter(|d| !d.is_empty()) {
        Some(git_dir) => open_git_dir(&path.join(git_dir))?,
        None => discover(path)?,
    };
    // Commit walks and rename detection re-read the same objects many times.
    repo.object_cache_size_if_unset(16 * 1024 * 1024);
    Ok(repo)
}

/// `-C` names where to start; say so when it cannot be, rather than
/// claiming there is no repository there.
fn check_start_dir(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(Error::Usage(format!(
            "cannot change to '{}': not a directory",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Usage(format!(
            "cannot change to '{}': no such directory",
            path.display()
        ))),
        Err(e) => Err(Error::Usage(format!(
            "cannot change to '{}': {e}",
            path.display()
        ))),
    }
}

/// The repository `GIT_DIR` names (`dir` is already resolved against the
/// start directory). Like git, the directory is taken as it is: no `.git`
/// is appended and no parent searched.
fn open_git_dir(dir: &Path) -> Result<gix::Repository> {
    let options = gix::open::Options::default()
        .open_path_as_is(true)
        .cli_overrides(super::parameters::from_env()?);
    gix::open_opts(dir, options).map_err(|e| {
        Error::Git(format!(
            "GIT_DIR={}: not a git repository ({e}); point GIT_DIR (or `git --git-dir`) \
             at a repository's .git directory or a bare repository, or unset it",
            dir.display()
        ))
    })
}

/// Discovery upwards from `path` with git's environment limits.
fn discover(path: &Path) -> Result<gix::Repository> {
    let cli = super::parameters::from_env()?;
    discover_from(path, &cli)
        .or_else(|first| {
            // Started inside a `.git` directory as ".", gix looks for
            // "./.git/objects"; from the absolute path it sees the git dir.
            match std::path::absolute(path) {
                Ok(abs) if abs != path => discover_from(&abs, &cli).map_err(|_| first),
                _ => Err(first),
            }
        })
        .map_err(|_| {
            let shown = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            let ceiling =
                if std::env::var_os("GIT_CEILING_DIRECTORIES").is_some_and(|c| !c.is_empty()) {
                    " (the search stopped at GIT_CEILING_DIRECTORIES)"
                } else {
                    ""
                };
            Error::Git(format!(
                "not a git repository: {} (nor any of its parent directories){ceiling}; \
                 run git deep-review from inside a repository, or `git init` one first",
                shown.display()
            ))
        })
}

/// Discovery from `path`, refusing a repository found in a
/// `GIT_CEILING_DIRECTORIES` entry itself: git never enters a ceiling
/// directory above the start, where gix still probes the ceiling.
fn discover_from(path: &Path, cli: &[String]) -> std::result::Result<gix::Repository, ()> {
    let repo = discover_with_gix(path, cli).map_err(|_| ())?;
    if found_in_a_ceiling(path, &repo) {
        return Err(());
    }
    Ok(repo)
}

/// Whether the directory where `repo` was found from `start` is one of the
/// ceiling directories above `start`.
fn found_in_a_ceiling(start: &Path, repo: &gix::Repository) -> bool {
    let Some(ceilings) = std::env::var_os("GIT_CEILING_DIRECTORIES") else {
        return false;
    };
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    let (Some(start), Some(git_dir)) = (canon(start), canon(repo.git_dir())) else {
        return false;
    };
    let work_dir = repo.workdir().and_then(canon);
    let found = match work_dir {
        Some(w) if !start.starts_with(&git_dir) && start.starts_with(&w) => w,
        _ => git_dir,
    };
    std::env::split_paths(&ceilings)
        .filter(|c| c.is_absolute())
        .filter_map(|c| canon(&c))
        .any(|c| c == found && start != c)
}

/// `cli` is what `git -c` passed on (see [`super::parameters`]).
fn discover_with_gix(
    path: &Path,
    cli: &[String],
) -> std::result::Result<gix::Repository, gix::Error> {
    // Like git, a GIT_CEILING_DIRECTORIES entry that does not contain `path`
    // is simply not a limit, not an error.
    let options = gix::discover::upwards::Options {
        match_ceiling_dir_or_error: false,
        ..Default::default()
    };
    let mut trust = gix::sec::trust::Mapping::<gix::open::Options>::default();
    trust.full = trust.full.cli_overrides(cli.to_vec());
    trust.reduced = trust.reduced.cli_overrides(cli.to_vec());
    gix::ThreadSafeRepository::discover_with_environment_overrides_opts(path, options, trust)
        .map(gix::Repository::from)
}

/// Resolves a revision range as users write it for `git log`/`git diff`.
///
/// * `A..B`, `A..` (to `HEAD`), `..B`: the commits of `B` not in `A`. The
///   diff base is `A` when `A` is an ancestor of `B`; when the two have
///   diverged it is their merge base, so changes that landed on `A` since
///   are not shown as reverted by the branch under review.
/// * `A...B`: from the merge base of `A` and `B` to `B`.
/// * `X`: the change `X` introduced against its first parent (a root commit
///   against the empty tree: `base` is `None`).
/// * `None`: `@{upstream}..HEAD`, else the merge base of `HEAD` with the
///   remote default branch (`origin/HEAD`, `origin/main`, `origin/master`).
pub fn resolve(repo: &gix::Repository, spec: Option<&str>) -> Result<ReviewRange> {
    let (spec, base, head, head_spec) = match spec.map(str::trim) {
        None | Some("") => default_range(repo)?,
        Some(s) => explicit_range(repo, s)?,
    };
    let branch = branch_of(repo, &head_spec);
    Ok(ReviewRange {
        branch,
        ..between(repo, base, head, spec)?
    })
}

/// The range from `base` (`None`: the empty tree) to `head` when both are
/// already chosen (the pre-push hook picks them from what is pushed), with
/// its commits; `spec` is how the report names it.
pub fn between(
    repo: &gix::Repository,
    base: Option<ObjectId>,
    head: ObjectId,
    spec: String,
) -> Result<ReviewRange> {
    if let Some(base) = base {
        ensure_present(repo, base, &spec)?;
    }
    let commits = list_commits(repo, base, head, &spec)?;
    Ok(ReviewRange {
        branch: None,
        base,
        head,
        spec,
        commits,
    })
}

/// (spec as displayed, base, head, how the head was named)
type Resolved = (String, Option<ObjectId>, ObjectId, String);

fn explicit_range(repo: &gix::Repository, spec: &str) -> Result<Resolved> {
    if let Some((a, b)) = spec.split_once("...") {
        let (a_id, b_id) = (rev(repo, or_head(a))?, rev(repo, or_head(b))?);
        let base = merge_base(repo, a_id, b_id, spec)?;
        return Ok((spec.to_string(), Some(base), b_id, or_head(b).to_string()));
    }
    if let Some((a, b)) = spec.split_once("..") {
        let (a_id, b_id) = (rev(repo, or_head(a))?, rev(repo, or_head(b))?);
        let base = if is_ancestor(repo, a_id, b_id)? {
            a_id
        } else {
            merge_base(repo, a_id, b_id, spec)?
        };
        return Ok((spec.to_string(), Some(base), b_id, or_head(b).to_string()));
    }
    let id = rev(repo, spec)?;
    let commit = find_commit(repo, id)?;
    let base = commit.parent_ids().next().map(|p| p.detach());
    Ok((spec.to_string(), base, id, spec.to_string()))
}

fn or_head(side: &str) -> &str {
    if side.is_empty() {
        "HEAD"
    } else {
        side
    }
}

/// `@{upstream}..HEAD`, falling back to the remote's default branch.
fn default_range(repo: &gix::Repository) -> Result<Resolved> {
    let head = head_commit(repo)?;
    let head_name = repo
        .head_name()
        .map_err(|e| git_err("cannot read HEAD", e))?;
    if let Some(name) = &head_name {
        if let Some(Ok(upstream)) =
            repo.branch_remote_tracking_ref_name(name.as_ref(), gix::remote::Direction::Fetch)
        {
            if let Some(id) = ref_commit(repo, upstream.as_bstr().to_str_lossy().as_ref()) {
                let short = upstream.shorten().to_str_lossy().into_owned();
                let spec = format!("{short}..HEAD");
                let base = if is_ancestor(repo, id, head)? {
                    id
                } else {
                    merge_base(repo, id, head, &spec)?
                };
                return Ok((spec, Some(base), head, "HEAD".into()));
            }
        }
    }
    for candidate in [
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/main",
        "refs/remotes/origin/master",
    ] {
        if let Some(id) = ref_commit(repo, candidate) {
            let short = candidate.trim_start_matches("refs/remotes/");
            let spec = format!("{short}...HEAD");
            let base = merge_base(repo, id, head, &spec)?;
            return Ok((spec, Some(base), head, "HEAD".into()));
        }
    }
    Err(no_default_range(head_name.as_ref()))
}

fn no_default_range(head_name: Option<&gix::refs::FullName>) -> Error {
    match head_name {
        Some(name) => Error::Usage(format!(
            "no upstream configured for branch {} and no origin/HEAD, origin/main or origin/master \
             to compare with; name the range, e.g. `git deep-review origin/main..` or \
             `git deep-review HEAD~3..` (or set one with `git branch --set-upstream-to`)",
            name.shorten().to_str_lossy()
        )),
        None => Error::Usage(
            "HEAD is detached (not on a branch), so it has no upstream, and there is no origin/HEAD, \
             origin/main or origin/master to compare with; name the range, e.g. \
             `git deep-review main..HEAD` or `git deep-review HEAD~3..`"
                .into(),
        ),
    }
}

fn head_commit(repo: &gix::Repository) -> Result<ObjectId> {
    match repo.head_id() {
        Ok(id) => Ok(id.detach()),
        Err(e) => Err(no_commits_yet(repo, "HEAD")
            .unwrap_or_else(|| git_err("cannot read the commit HEAD points to", e))),
    }
}

/// Why `spec` cannot name a commit when HEAD's branch has none yet: an
/// empty repository (no references at all), or `HEAD` on a branch that
/// was never committed to (`git checkout --orphan`). `None` when `spec`
/// might still resolve otherwise (another branch, a tag, an object id).
fn no_commits_yet(repo: &gix::Repository, spec: &str) -> Option<Error> {
    let head = repo.head().ok()?;
    if !head.is_unborn() {
        return None;
    }
    let branch = head
        .referent_name()
        .map(|n| n.shorten().to_str_lossy().into_owned())
        .unwrap_or_else(|| "HEAD".into());
    let has_refs = repo
        .references()
        .ok()
        .and_then(|r| r.all().ok().map(|mut all| all.next().is_some()))
        .unwrap_or(true);
    if !has_refs {
        return Some(Error::Git(format!(
            "this repository has no commits yet, so `{spec}` names nothing to review; \
             commit something first (`git commit`), then run git deep-review again"
        )));
    }
    let names_head = spec.contains("HEAD") || spec.starts_with('@');
    names_head.then(|| {
        Error::Git(format!(
            "HEAD is on branch `{branch}`, which has no commits yet, so `{spec}` names nothing to \
             review; commit something first, or name another branch (e.g. `main..other`)"
        ))
    })
}

/// A reference's commit, or None when the reference does not exist.
fn ref_commit(repo: &gix::Repository, name: &str) -> Option<ObjectId> {
    let mut reference = repo.try_find_reference(name).ok()??;
    let id = reference.peel_to_id().ok()?.detach();
    let object = repo.find_object(id).ok()?;
    Some(object.peel_to_commit().ok()?.id)
}

/// Resolves one side of a range to a commit id with an actionable error.
fn rev(repo: &gix::Repository, spec: &str) -> Result<ObjectId> {
    let id = match repo.rev_parse_single(spec) {
        Ok(id) => id,
        Err(err) => return Err(unknown_revision(repo, spec, &err.to_string())),
    };
    let object = id
        .object()
        .map_err(|e| missing_object(repo, &id.to_string(), spec, e))?;
    match object.peel_to_commit() {
        Ok(commit) => Ok(commit.id),
        Err(_) => Err(Error::Usage(format!(
            "`{spec}` does not name a commit (it is a {}); give a branch, tag or commit",
            id.header()
                .map(|h| h.kind().to_string())
                .unwrap_or_else(|_| "non-commit".into())
        ))),
    }
}

fn unknown_revision(repo: &gix::Repository, spec: &str, detail: &str) -> Error {
    if let Some(err) = no_commits_yet(repo, spec) {
        return err;
    }
    if is_shallow(repo) {
        return Error::Git(format!(
            "cannot resolve `{spec}` ({detail}); this repository is a shallow clone, so the commit \
             may be outside the fetched history: run `git fetch --deepen=100` (or `git fetch --unshallow`) and retry"
        ));
    }
    Error::Usage(format!(
        "unknown revision `{spec}`: not a branch, tag or commit in this repository ({detail}); \
         check `git branch -a` / `git log --oneline`, or write a range like `origin/main..HEAD`"
    ))
}

fn missing_object(
    repo: &gix::Repository,
    id: &str,
    spec: &str,
    err: impl std::fmt::Display,
) -> Error {
    if is_shallow(repo) {
        shallow_error(id, spec)
    } else {
        git_err(format!("cannot read commit {id} of `{spec}`"), err)
    }
}

fn shallow_error(id: &str, spec: &str) -> Error {
    Error::Git(format!(
        "commit {id} needed for `{spec}` is missing because the history is shallow \
         (a `git clone --depth` clone); fetch more with `git fetch --deepen=100` \
         (or all of it with `git fetch --unshallow`) and retry"
    ))
}

fn is_shallow(repo: &gix::Repository) -> bool {
    repo.is_shallow().unwrap_or(false)
}

/// Fails with the shallow-history message when `id` is not in the object database.
fn ensure_present(repo: &gix::Repository, id: ObjectId, spec: &str) -> Result<()> {
    if repo.has_object(id) {
        return Ok(());
    }
    if is_shallow(repo) {
        return Err(shallow_error(&id.to_string(), spec));
    }
    Err(Error::Git(format!(
        "commit {id} needed for `{spec}` is missing from the object database; \
         the repository may be corrupt or partial: try `git fsck` or `git fetch`"
    )))
}

fn find_commit(repo: &gix::Repository, id: ObjectId) -> Result<gix::Commit<'_>> {
    repo.find_commit(id)
        .map_err(|e| missing_object(repo, &id.to_string(), &id.to_string(), e))
}

fn merge_base(repo: &gix::Repository, a: ObjectId, b: ObjectId, spec: &str) -> Result<ObjectId> {
    match repo.merge_base(a, b) {
        Ok(Some(id)) => Ok(id.detach()),
        Ok(None) if is_shallow(repo) => Err(Error::Git(format!(
            "no common ancestor found for `{spec}` because the history is shallow; \
             fetch more with `git fetch --deepen=100` (or `git fetch --unshallow`) and retry"
        ))),
        Ok(None) => Err(Error::Usage(format!(
            "`{spec}`: the two sides have no common history, so there is nothing to compare \
             the changes against; name a base that shares history with the head"
        ))),
        Err(e) if is_shallow(repo) => Err(Error::Git(format!(
            "cannot compute the merge base for `{spec}` ({e}); the history is shallow: \
             run `git fetch --deepen=100` (or `git fetch --unshallow`) and retry"
        ))),
        Err(e) => Err(git_err(
            format!("cannot compute the merge base for `{spec}`"),
            e,
        )),
    }
}

fn is_ancestor(repo: &gix::Repository, ancestor: ObjectId, of: ObjectId) -> Result<bool> {
    if ancestor == of {
        return Ok(true);
    }
    match repo.merge_base(ancestor, of) {
        Ok(base) => Ok(base.is_some_and(|b| b.detach() == ancestor)),
        Err(_) => Ok(false),
    }
}

/// The branch name for the report: HEAD's branch when the head side is
/// HEAD, or the local branch the head side names.
fn branch_of(repo: &gix::Repository, head_spec: &str) -> Option<String> {
    if matches!(head_spec, "HEAD" | "@") {
        let name = repo.head_name().ok()??;
        return Some(name.shorten().to_str_lossy().into_owned());
    }
    let name = format!("refs/heads/{head_spec}");
    repo.try_find_reference(name.as_str())
        .ok()?
        .map(|_| head_spec.to_string())
}

/// Commits reachable from `head` but not from `base`, oldest first, parents
/// always before their children.
fn list_commits(
    repo: &gix::Repository,
    base: Option<ObjectId>,
    head: ObjectId,
    spec: &str,
) -> Result<Vec<CommitInfo>> {
    if base == Some(head) {
        return Ok(Vec::new());
    }
    let walk = repo.rev_walk([head]).with_hidden(base);
    let mut infos = Vec::new();
    for info in walk.all().map_err(|e| walk_error(repo, spec, e))? {
        let info = info.map_err(|e| walk_error(repo, spec, e))?;
        infos.push((info.id, info.parent_ids.to_vec()));
    }
    let ordered = topo_oldest_first(infos);
    // Each commit's diffstat is a tree diff of its own: spread them over
    // the cores, each worker with its own thread-local repository handle.
    let shared = repo.clone().into_sync();
    ordered
        .into_par_iter()
        .map_init(
            || shared.to_thread_local(),
            |repo, id| commit_info(repo, id),
        )
        .collect()
}

fn walk_error(repo: &gix::Repository, spec: &str, err: impl std::fmt::Display) -> Error {
    if is_shallow(repo) {
        Error::Git(format!(
            "cannot list the commits of `{spec}` ({err}); the history is shallow: \
             run `git fetch --deepen=100` (or `git fetch --unshallow`) and retry"
        ))
    } else {
        git_err(format!("cannot list the commits of `{spec}`"), err)
    }
}

/// Orders walked commits (newest first as walked) so that every parent in
/// the set comes before its children; otherwise the walk order is kept.
fn topo_oldest_first(mut newest_first: Vec<(ObjectId, Vec<ObjectId>)>) -> Vec<ObjectId> {
    newest_first.reverse();
    let index: std::collections::HashMap<ObjectId, usize> = newest_first
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut emitted = vec![false; newest_first.len()];
    let mut out = Vec::with_capacity(newest_first.len());
    // Depth-first: emit a commit's in-range parents before the commit.
    for start in 0..newest_first.len() {
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if emitted[i] {
                continue;
            }
            if expanded {
                emitted[i] = true;
                out.push(newest_first[i].0);
                continue;
            }
            stack.push((i, true));
            for parent in newest_first[i].1.iter().rev() {
                if let Some(&p) = index.get(parent) {
                    if !emitted[p] {
                        stack.push((p, false));
                    }
                }
            }
        }
    }
    out
}

fn commit_info(repo: &gix::Repository, id: ObjectId) -> Result<CommitInfo> {
    let commit = find_commit(repo, id)?;
    let author = commit
        .author()
        .map_err(|e| git_err(format!("cannot read the author of {id}"), e))?;
    let time = author.time().unwrap_or_default();
    let (subject, body) = split_message(&commit.message_raw_sloppy().to_str_lossy());
    let parents: Vec<ObjectId> = commit.parent_ids().map(|p| p.detach()).collect();
    let stat = crate::git::diff::diff_stat(repo, parents.first().copied(), id)?;
    Ok(CommitInfo {
        id,
        short: commit.id().shorten_or_id().to_string(),
        author_name: author.name.to_str_lossy().into_owned(),
        author_email: author.email.to_str_lossy().into_owned(),
        time: time.seconds,
        tz_offset: time.offset,
        subject,
        body,
        parents: parents.len(),
        stat,
    })
}

/// Subject = first paragraph joined into one line (like `%s`), body = the rest.
pub(crate) fn split_message(message: &str) -> (String, String) {
    let message = message.trim_start_matches(['\n', '\r']);
    let (first, rest) = match message.find("\n\n") {
        Some(i) => (&message[..i], &message[i + 2..]),
        None => (message, ""),
    };
    let subject = first.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    (subject, rest.trim().to_string())
}

/// Content of the blob at `path` in `commit_hex`; `None` when the path does
/// not exist there or is not a file (a directory or submodule).
pub fn read_file_at(repo: &gix::Repository, id: ObjectId, path: &str) -> Result<Option<Vec<u8>>> {
    let tree = find_commit(repo, id)?
        .tree()
        .map_err(|e| git_err(format!("cannot read the tree of {id}"), e))?;
    let entry = tree
        .lookup_entry_by_path(path)
        .map_err(|e| git_err(format!("cannot look up `{path}` in {id}"), e))?;
    let Some(entry) = entry else { return Ok(None) };
    if !entry.mode().is_blob_or_symlink() {
        return Ok(None);
    }
    let blob = repo
        .find_blob(entry.object_id())
        .map_err(|e| git_err(format!("cannot read `{path}` at {id}"), e))?;
    Ok(Some(blob.data.clone()))
}
