//! The repository's own review rules (`REVIEW.md`, `AGENTS.md`,
//! `.deep-review/instructions.md`), given to every reviewer.
//!
//! These files arrive with the checked-out branch: one that is a symlink to
//! a file outside the repository (`AGENTS.md -> ~/.ssh/id_rsa`) is skipped
//! with a warning, so nothing outside the repository reaches a prompt.

use super::repo_files::RepoFiles;
use super::trust;
use std::path::{Path, PathBuf};

/// Files that hold the repository's own review rules, first found wins.
pub const INSTRUCTION_FILES: [&str; 3] = ["REVIEW.md", "AGENTS.md", ".deep-review/instructions.md"];

/// What [`find_instructions`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instructions {
    /// The file used (relative to the root, for the report) and its text.
    pub found: Option<(PathBuf, String)>,
    /// Files that were skipped, and why, for the user.
    pub warnings: Vec<String>,
}

/// The repository's own review rules: the first of [`INSTRUCTION_FILES`]
/// found under `repo_root`, cut to `max_bytes` at a character boundary (a
/// note at the end says so, so reviewers and the report know it was cut).
/// Returns the path (relative to the root, for the report) and the text.
/// Skipped files are reported on stderr; [`find_instructions`] returns them.
pub fn repo_instructions(repo_root: &Path, max_bytes: usize) -> Option<(PathBuf, String)> {
    let found = find_instructions(repo_root, max_bytes);
    for w in &found.warnings {
        eprintln!("git-deep-review: warning: {w}");
    }
    found.found
}

/// The review rules as this run reads them: from the work tree when the
/// user trusts the repository (see [`find_instructions`]), else from the
/// base of the range, so a change cannot rewrite the rules it is reviewed
/// by.
pub fn from_files(files: &RepoFiles, max_bytes: usize) -> Instructions {
    if files.is_work_tree() {
        return find_instructions(files.root(), max_bytes);
    }
    let mut out = Instructions::default();
    for name in INSTRUCTION_FILES {
        let bytes = match files.read(name) {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                out.warnings.push(format!("{name} is not read: {e}"));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        out.found = Some((PathBuf::from(name), bounded(name, text, max_bytes)));
        break;
    }
    out
}

/// Like [`repo_instructions`], with the skipped files as warnings.
pub fn find_instructions(repo_root: &Path, max_bytes: usize) -> Instructions {
    let mut out = Instructions::default();
    for name in INSTRUCTION_FILES {
        let path = repo_root.join(name);
        if !path.is_file() {
            continue;
        }
        if let Err(why) = trust::confine_file(&path, repo_root) {
            out.warnings.push(format!("{name} is not read: it {why}"));
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        out.found = Some((PathBuf::from(name), bounded(name, text, max_bytes)));
        break;
    }
    out
}

fn bounded(name: &str, text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut cut = max_bytes;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n[... {name} truncated: first {cut} of {} bytes shown ...]",
        &text[..cut],
        text.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_file_wins_and_is_bounded() {
        let r = tempfile::tempdir().unwrap();
        assert_eq!(find_instructions(r.path(), 100), Instructions::default());
        std::fs::create_dir(r.path().join(".deep-review")).unwrap();
        std::fs::write(r.path().join(".deep-review/instructions.md"), "third").unwrap();
        assert_eq!(repo_instructions(r.path(), 100).unwrap().1, "third");
        std::fs::write(r.path().join("AGENTS.md"), "second").unwrap();
        std::fs::write(r.path().join("REVIEW.md"), "Never use unwrap.\n").unwrap();
        let (path, text) = repo_instructions(r.path(), 100).unwrap();
        assert_eq!(path, PathBuf::from("REVIEW.md"));
        assert_eq!(text, "Never use unwrap.");
        // 'é' is two bytes: a cut inside it must move back to a char boundary.
        std::fs::write(r.path().join("REVIEW.md"), "ééééé").unwrap();
        let (_, text) = repo_instructions(r.path(), 5).unwrap();
        assert!(text.starts_with("éé\n"), "{text:?}");
        assert!(text.contains("truncated"), "{text:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_repository_is_skipped_and_one_inside_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(tmp.path().join("secret"), "private key").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), root.join("REVIEW.md")).unwrap();
        std::fs::write(root.join("rules.txt"), "inside rules").unwrap();
        std::os::unix::fs::symlink("rules.txt", root.join("AGENTS.md")).unwrap();
        let got = find_instructions(&root, 100);
        assert_eq!(
            got.found,
            Some((PathBuf::from("AGENTS.md"), "inside rules".to_string()))
        );
        assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
        assert!(got.warnings[0].contains("REVIEW.md"), "{:?}", got.warnings);
    }
}
