//! What a repository's `.deep-review.toml` may reach.
//!
//! The repository file arrives with whatever branch is checked out, so a
//! stranger may have written it. Unless the user trusts the repository,
//! the files and directories it names must resolve inside the repository's
//! work tree (symlinks followed, then checked), so that no file outside it
//! is read into a prompt (and from there into the report) and no report is
//! written outside it.

use std::path::{Component, Path, PathBuf};

/// git config key: `true` lets this repository's `.deep-review.toml` name
/// files and directories outside the repository. Read only from git config
/// (global, system or the repository's own `.git/config`), never from the
/// repository file itself.
pub const KEY_TRUST_REPO_CONFIG: &str = "deep-review.trustRepoConfig";

/// How a user lifts the confinement, appended to every refusal.
pub(crate) const HOW_TO_TRUST: &str =
    "a repository's .deep-review.toml may only name paths inside the repository \
     (if you trust this repository's configuration: git config deep-review.trustRepoConfig true)";

/// Whether git config trusts the repository file. Only the user's own git
/// configuration counts (system, global, the repository's `.git/config`,
/// `git -c`): nothing a clone brings along can set it.
pub(crate) fn repo_config_trusted(cfg: &gix::config::File) -> bool {
    use gix::config::Source as S;
    let users_own = |meta: &gix::config::file::Metadata| {
        matches!(
            meta.source,
            S::GitInstallation
                | S::System
                | S::Git
                | S::User
                | S::Local
                | S::Worktree
                | S::Env
                | S::Cli
        )
    };
    matches!(
        cfg.boolean_filter(KEY_TRUST_REPO_CONFIG, users_own),
        Ok(Some(true))
    )
}

/// `path` (absolute) with symlinks resolved, when it lies inside `root`'s
/// work tree and outside its `.git` directory; otherwise why not. The path
/// need not exist yet: its longest existing ancestor is resolved and the
/// rest (after removing `.` and `..` lexically) appended.
pub(crate) fn confine_dir(path: &Path, root: &Path) -> Result<PathBuf, String> {
    let root = root
        .canonicalize()
        .map_err(|e| format!("cannot be checked: the repository root cannot be resolved ({e})"))?;
    let absolute = std::path::absolute(path).map_err(|e| format!("cannot be checked ({e})"))?;
    let resolved = resolve_existing_prefix(&lexical(&absolute))
        .map_err(|e| format!("cannot be checked ({e})"))?;
    check_inside(&resolved, &root)?;
    Ok(resolved)
}

/// A file named by the repository file (a prompt): it must exist, and with
/// every symlink followed it must lie inside `root`.
pub(crate) fn confine_file(path: &Path, root: &Path) -> Result<PathBuf, String> {
    let root = root
        .canonicalize()
        .map_err(|e| format!("cannot be checked: the repository root cannot be resolved ({e})"))?;
    let resolved = path
        .canonicalize()
        .map_err(|e| format!("cannot be read ({e})"))?;
    check_inside(&resolved, &root)?;
    Ok(resolved)
}

fn check_inside(resolved: &Path, root: &Path) -> Result<(), String> {
    if !resolved.starts_with(root) {
        return Err(format!(
            "resolves to {}, outside the repository",
            resolved.display()
        ));
    }
    if resolved.starts_with(root.join(".git")) {
        return Err(format!(
            "resolves to {}, inside the repository's .git directory",
            resolved.display()
        ));
    }
    Ok(())
}

/// Removes `.` and folds `..` without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Canonicalises the longest existing ancestor of `path` and appends the
/// components that do not exist yet.
fn resolve_existing_prefix(path: &Path) -> std::io::Result<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(mut base) => {
                for part in rest.iter().rev() {
                    base.push(part);
                }
                return Ok(base);
            }
            Err(e) => {
                let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
                    return Err(e);
                };
                rest.push(name);
                if !existing.pop() {
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs_inside_pass_and_escapes_fail() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join(".git")).unwrap();
        let inside = confine_dir(&root.join("reports/new"), &root).unwrap();
        assert!(inside.ends_with("repo/reports/new"), "{}", inside.display());
        assert!(confine_dir(&root.join("../elsewhere"), &root).is_err());
        assert!(confine_dir(&root.join("a/../../../x"), &root).is_err());
        assert!(confine_dir(Path::new("/tmp"), &root).is_err());
        assert!(confine_dir(&root.join(".git/hooks"), &root).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path(), root.join("out")).unwrap();
            let e = confine_dir(&root.join("out/reports"), &root).unwrap_err();
            assert!(e.contains("outside"), "{e}");
        }
    }
}
