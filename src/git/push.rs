//! Which commits a push sends: for one ref of git's pre-push input, the
//! base and head of the range the hook reviews (the remote's tip, a merge
//! base with the remote's default branch, or the boundary of the commits no
//! remote-tracking ref has).

use crate::error::{Error, Result};
use gix::ObjectId;

/// One line of git's pre-push input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUpdate {
    pub local_ref: String,
    pub local_sha: gix::ObjectId,
    pub remote_ref: String,
    pub remote_sha: gix::ObjectId,
}

impl PushUpdate {
    /// The remote ref is being deleted.
    pub fn is_delete(&self) -> bool {
        self.local_sha.is_null()
    }
    /// The remote ref does not exist yet.
    pub fn is_new(&self) -> bool {
        self.remote_sha.is_null()
    }
}

/// Parses git's pre-push stdin: `<local ref> <local sha> <remote ref> <remote sha>` per line.
pub fn parse_push_lines(lines: &[String]) -> Result<Vec<PushUpdate>> {
    let mut out = Vec::new();
    for line in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let id = |s: &str| {
            ((s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| gix::ObjectId::from_hex(s.as_bytes()).ok())
                .flatten()
        };
        let (Some(local), Some(remote)) = (
            parts.get(1).and_then(|s| id(s)),
            parts.get(3).and_then(|s| id(s)),
        ) else {
            return Err(Error::Usage(format!(
                "unexpected pre-push input line {line:?}: expected `<local ref> <local sha> <remote ref> <remote sha>`"
            )));
        };
        if parts.len() != 4 {
            return Err(Error::Usage(format!(
                "unexpected pre-push input line {line:?}: expected `<local ref> <local sha> <remote ref> <remote sha>`"
            )));
        }
        out.push(PushUpdate {
            local_ref: parts[0].to_string(),
            local_sha: local,
            remote_ref: parts[2].to_string(),
            remote_sha: remote,
        });
    }
    Ok(out)
}

fn git_err(what: &str) -> impl FnOnce(gix::Error) -> Error + '_ {
    move |e| Error::Git(format!("{what}: {e}"))
}

/// What one pushed ref sends that the remote does not have yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRange {
    /// `None`: the empty tree (a history the remote has no commit of).
    pub base: Option<ObjectId>,
    pub head: ObjectId,
    /// Why this base was chosen, for the hook's output.
    pub why: String,
}

impl PushedRange {
    /// `abc1234..def5678`, or `(root)..def5678` from the empty tree.
    pub fn spec(&self) -> String {
        let short = |id: &ObjectId| id.to_hex_with_len(7).to_string();
        match &self.base {
            Some(b) => format!("{}..{}", short(b), short(&self.head)),
            None => format!("(root)..{}", short(&self.head)),
        }
    }
}

/// Decides the base of the review for one pushed ref; `None` = nothing
/// new to review.
pub fn pushed_range(
    repo: &gix::Repository,
    remote: &str,
    u: &PushUpdate,
) -> Result<Option<PushedRange>> {
    let head = u.local_sha;
    let commit_ok = |id: ObjectId| {
        repo.find_object(id)
            .map(|o| o.kind == gix::object::Kind::Commit)
            .unwrap_or(false)
    };
    if !commit_ok(head) {
        // Pushing a tree or blob directly: nothing a code review applies to.
        return Ok(None);
    }
    let mut base: Option<ObjectId> = None;
    let mut why = String::new();
    if !u.is_new() {
        let remote_id = u.remote_sha;
        if repo.has_object(remote_id) && commit_ok(remote_id) {
            // Force pushes: the merge base keeps the diff to what is ours.
            base = repo
                .merge_base(remote_id, head)
                .map_err(git_err("finding the merge base"))?
                .map(|id| id.detach());
            why = "update of the remote branch".into();
        }
        // Else the remote moved to something we have not fetched; fall
        // through to the new-branch logic, which still finds our commits.
    }
    if base.is_none() {
        if let Some(default_tip) = remote_default_tip(repo, remote)? {
            base = repo
                .merge_base(default_tip, head)
                .map_err(git_err("finding the merge base"))?
                .map(|id| id.detach());
            if base.is_some() {
                why = format!("new branch, from its merge base with {remote}'s default branch");
            }
        }
    }
    if let Some(b) = base {
        if b == head {
            return Ok(None);
        }
        return Ok(Some(PushedRange {
            base: Some(b),
            head,
            why,
        }));
    }
    // No remote default branch in common: review the commits that are on
    // no remote-tracking ref.
    beyond_remote_refs(repo, head)
}

/// What a pushed tag adds: the commits of the commit it names (an
/// annotated tag is peeled) that no remote-tracking ref has, like a new
/// branch; `None` when it names no commit or adds no commit.
pub fn tag_range(repo: &gix::Repository, tag: ObjectId) -> Result<Option<PushedRange>> {
    let Ok(object) = repo.find_object(tag) else {
        return Ok(None);
    };
    let Ok(commit) = object.peel_to_commit() else {
        // A tag of a tree or blob: nothing a code review applies to.
        return Ok(None);
    };
    Ok(beyond_remote_refs(repo, commit.id)?.map(|mut r| {
        r.why = format!("tag: {}", r.why);
        r
    }))
}

/// The commits of `head` on no remote-tracking ref, from their boundary
/// (a history with none there is reviewed from the empty tree).
fn beyond_remote_refs(repo: &gix::Repository, head: ObjectId) -> Result<Option<PushedRange>> {
    let hidden = remote_tips(repo)?;
    let walk = repo
        .rev_walk([head])
        .with_hidden(hidden)
        .all()
        .map_err(git_err("walking the pushed commits"))?;
    let mut ids = Vec::new();
    let mut parents = Vec::new();
    for info in walk {
        let info = info.map_err(|e| Error::Git(format!("walking the pushed commits: {e}")))?;
        ids.push(info.id);
        parents.push(info.parent_ids.to_vec());
    }
    if ids.is_empty() {
        return Ok(None);
    }
    // The base is the first parent outside the set (the boundary).
    let boundary = parents.iter().flatten().find(|p| !ids.contains(p)).copied();
    Ok(Some(PushedRange {
        base: boundary,
        head,
        why: format!("{} commit(s) not on any remote-tracking branch", ids.len()),
    }))
}

/// Tip of `<remote>`'s default branch: `refs/remotes/<remote>/HEAD`, else
/// `<remote>/main`, else `<remote>/master`.
fn remote_default_tip(repo: &gix::Repository, remote: &str) -> Result<Option<ObjectId>> {
    if remote.is_empty() || remote.contains(['/', ':']) {
        // A URL rather than a remote name: no remote-tracking refs exist.
        return Ok(None);
    }
    for name in ["HEAD", "main", "master"] {
        let full = format!("refs/remotes/{remote}/{name}");
        let found = repo
            .try_find_reference(full.as_str())
            .map_err(git_err("reading remote-tracking refs"))?;
        if let Some(mut r) = found {
            if let Ok(id) = r.peel_to_id() {
                return Ok(Some(id.detach()));
            }
        }
    }
    Ok(None)
}

/// Tips of all remote-tracking refs (commits only).
fn remote_tips(repo: &gix::Repository) -> Result<Vec<ObjectId>> {
    let refs = repo.references().map_err(git_err("reading refs"))?;
    let iter = refs
        .prefixed("refs/remotes/")
        .map_err(git_err("reading remote-tracking refs"))?;
    let mut out = Vec::new();
    for r in iter {
        let Ok(mut r) = r else { continue };
        if let Ok(id) = r.peel_to_id() {
            let id = id.detach();
            if repo
                .find_object(id)
                .is_ok_and(|o| o.kind == gix::object::Kind::Commit)
                && !out.contains(&id)
            {
                out.push(id);
            }
        }
    }
    Ok(out)
}
