//! The reviewed head's tree → the files worth indexing, and a note for
//! each one that is not. Read from git objects only: never the work tree,
//! never through a symlink.

use crate::error::{Error, Result};
use gix::bstr::ByteSlice;
use gix::ObjectId;
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;

/// Files larger than this are not indexed (generated tables, data).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// A line longer than this marks a minified or generated file.
pub const MAX_LINE_CHARS: usize = 1000;

/// A file of the tree that can be indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    pub path: String,
    pub blob: ObjectId,
}

/// A path left out of the index, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Skip {
    pub path: String,
    pub reason: String,
}

/// The files of `commit`'s tree to index (in tree order) and those left
/// out. `ignore` are the review's ignore globs; `.gitattributes` files of
/// the tree mark `linguist-generated` and `linguist-vendored` paths.
pub fn list(
    repo: &gix::Repository,
    commit: ObjectId,
    ignore: &[String],
) -> Result<(Vec<TreeFile>, Vec<Skip>)> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| Error::Git(format!("cannot read the tree of commit {commit}: {e}")))?;
    let entries = tree
        .traverse()
        .breadthfirst
        .files()
        .map_err(|e| Error::Git(format!("cannot list the tree of commit {commit}: {e}")))?;
    let ignore = crate::plan::IgnoreSet::new(ignore);
    let attributes = linguist_globs(repo, &entries);
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for e in entries {
        let path = e.filepath.to_str_lossy().into_owned();
        let skip = |reason: &str| Skip {
            path: path.clone(),
            reason: reason.to_string(),
        };
        if e.mode.is_tree() {
            continue;
        }
        if e.mode.is_commit() {
            skipped.push(skip("submodule (its code is another repository's)"));
        } else if e.mode.is_link() {
            skipped.push(skip("symlink (never followed)"));
        } else if let Some(glob) = ignore.matching(&path) {
            skipped.push(skip(&format!("matches ignore glob \"{glob}\"")));
        } else if let Some(attr) = attributes.iter().find(|(_, g)| g.is_match(&path)) {
            skipped.push(skip(&format!("marked {} in .gitattributes", attr.0)));
        } else {
            files.push(TreeFile { path, blob: e.oid });
        }
    }
    Ok((files, skipped))
}

/// The text of a blob, or why it is not indexed: UTF-8 as is, UTF-16
/// with a byte-order mark decoded; too large, binary, undecodable,
/// minified (a line over [`MAX_LINE_CHARS`]) and generated (the plan's
/// markers in its first lines) are not.
pub fn text_of(data: &[u8]) -> std::result::Result<String, String> {
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "larger than {} KiB ({} KiB)",
            MAX_FILE_BYTES / 1024,
            data.len() / 1024
        ));
    }
    // A byte-order mark first: UTF-16 text is full of NUL bytes.
    let text = match encoding_rs::Encoding::for_bom(data) {
        Some((enc, _)) => {
            let (text, _, bad) = enc.decode(data);
            if bad {
                return Err("not UTF-8 text".into());
            }
            text.into_owned()
        }
        None if data[..data.len().min(8000)].contains(&0) => return Err("binary".into()),
        None => String::from_utf8(data.to_vec()).map_err(|_| "not UTF-8 text".to_string())?,
    };
    if let Some(longest) = text.lines().map(|l| l.chars().count()).max() {
        if longest > MAX_LINE_CHARS {
            return Err(format!(
                "minified or generated (a line of {longest} characters)"
            ));
        }
    }
    let head = text
        .lines()
        .take(crate::plan::GENERATED_HEAD_LINES as usize);
    if head
        .flat_map(|l| {
            crate::plan::GENERATED_MARKERS
                .iter()
                .map(move |m| l.contains(m))
        })
        .any(|hit| hit)
    {
        return Err("generated (says so in its first lines)".into());
    }
    Ok(text)
}

/// Gitignore-style glob forms of a `.gitattributes` pattern in directory
/// `base`: without `/` it matches a name at any depth below `base`, with
/// `/` it is anchored at `base`.
fn glob_forms(base: &str, pattern: &str) -> Vec<String> {
    let p = pattern.trim_end_matches('/');
    let anchored = p.starts_with('/') || p.trim_start_matches('/').contains('/');
    let p = p.trim_start_matches('/');
    let rooted = if anchored {
        format!("{base}{p}")
    } else {
        format!("{base}**/{p}")
    };
    // A directory pattern covers what is under it.
    vec![rooted.clone(), format!("{rooted}/**")]
}

/// `.gitattributes` of the tree → (attribute, paths it marks) for the two
/// linguist attributes that say "not this project's code".
fn linguist_globs(
    repo: &gix::Repository,
    entries: &[gix::traverse::tree::recorder::Entry],
) -> Vec<(&'static str, GlobSet)> {
    let mut generated = GlobSetBuilder::new();
    let mut vendored = GlobSetBuilder::new();
    for e in entries {
        let path = e.filepath.to_str_lossy();
        let Some(dir) = path.strip_suffix(".gitattributes") else {
            continue;
        };
        if !(dir.is_empty() || dir.ends_with('/')) || !e.mode.is_blob() {
            continue;
        }
        let Ok(blob) = repo.find_blob(e.oid) else {
            continue;
        };
        for line in String::from_utf8_lossy(&blob.data).lines() {
            let mut words = line.split_whitespace();
            let Some(pattern) = words.next().filter(|p| !p.starts_with('#')) else {
                continue;
            };
            for attr in words {
                let target = match attr {
                    "linguist-generated" | "linguist-generated=true" => &mut generated,
                    "linguist-vendored" | "linguist-vendored=true" => &mut vendored,
                    _ => continue,
                };
                for g in glob_forms(dir, pattern) {
                    if let Ok(g) = Glob::new(&g) {
                        target.add(g);
                    }
                }
            }
        }
    }
    let build = |b: GlobSetBuilder| b.build().unwrap_or_else(|_| GlobSet::empty());
    vec![
        ("linguist-generated", build(generated)),
        ("linguist-vendored", build(vendored)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why a blob is not indexed (`None`: it is).
    fn content_skip(data: &[u8]) -> Option<String> {
        text_of(data).err()
    }

    #[test]
    fn content_skips_say_why() {
        assert_eq!(content_skip(b"fn main() {}\n"), None);
        assert_eq!(content_skip(b"a\0b").as_deref(), Some("binary"));
        assert_eq!(
            content_skip(&[0xff, 0xfe, 0x41]).as_deref(),
            Some("not UTF-8 text")
        );
        let long = "x".repeat(MAX_LINE_CHARS + 1);
        assert!(content_skip(long.as_bytes())
            .unwrap()
            .starts_with("minified"));
        assert!(content_skip(b"// @generated by tool\nfn a() {}\n")
            .unwrap()
            .starts_with("generated"));
        let big = vec![b'a'; MAX_FILE_BYTES as usize + 1];
        assert!(content_skip(&big).unwrap().starts_with("larger than"));
        // UTF-16 with a byte-order mark is text.
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("fn a() {}\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(text_of(&utf16).as_deref(), Ok("fn a() {}\n"));
    }

    #[test]
    fn glob_forms_follow_gitignore_rules() {
        let mut b = GlobSetBuilder::new();
        for p in ["gen", "/docs/*.md", "vendor/"] {
            for g in glob_forms("", p) {
                b.add(Glob::new(&g).unwrap());
            }
        }
        let set = b.build().unwrap();
        assert!(set.is_match("gen"));
        assert!(set.is_match("a/b/gen"));
        assert!(set.is_match("a/gen/x.rs"));
        assert!(set.is_match("docs/a.md"));
        assert!(!set.is_match("x/docs/a.md"));
        assert!(set.is_match("vendor/lib.c"));
    }
}
