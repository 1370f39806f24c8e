//! Which commit the hook reads the repository's configuration from: the
//! base of what is pushed, code the remote already has, so a push cannot
//! loosen the gate it is checked by (see `config::repo_files`).

use crate::error::Result;
use crate::git::push::{parse_push_lines, pushed_range};

/// The base and range of the first pushed ref the hook will review; `None`
/// when nothing is reviewed (deletions, tags, nothing new). Several refs
/// pushed at once share the first one's base: every base the hook picks is
/// code the remote accepted, so none lets a change configure its own review.
pub fn config_base(
    repo: &gix::Repository,
    remote: &str,
    lines: &[String],
) -> Result<Option<(Option<gix::ObjectId>, String)>> {
    for u in parse_push_lines(lines)? {
        if u.is_delete()
            || u.local_ref.starts_with("refs/tags/")
            || u.remote_ref.starts_with("refs/tags/")
        {
            continue;
        }
        if let Some(p) = pushed_range(repo, remote, &u)? {
            return Ok(Some((p.base, p.spec())));
        }
    }
    Ok(None)
}
