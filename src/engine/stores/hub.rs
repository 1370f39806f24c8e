//! The Hugging Face hub cache (`models--ORG--NAME/snapshots/REV/FILE`,
//! symlinks to `../../blobs/SHA256`) and llama.cpp's cache (the same
//! layout, plus the older flat `*.gguf` files): scanning them, and
//! resolving `hf:ORG/NAME/FILE.gguf` references and flat-cache paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::fs::{dangling, list_dir, read_capped, Entry};
use super::gguf_files::{files_to_found, is_gguf_name, is_sha256_hex, FileHit};
use super::locate::{candidates, identity, kind_roots};
use super::lookup::{find_path, join_paths, looked_in, valid_component, Pick};
use super::types::{Found, Scan, StoreEnv, StoreKind};
use crate::error::{Error, Result};

/// Subfolder levels searched below a Hugging Face snapshot (`Q4_K_M/x.gguf`
/// is one). Repositories nest GGUFs at most a level or two deep; the bound
/// keeps a pathological tree from making the scan slow.
const HF_MAX_DEPTH: usize = 4;

/// Scans a hub cache (`models--ORG--NAME` repositories). `flat` also picks
/// up `*.gguf` files directly in the root: the older llama.cpp cache
/// layout, referenced by absolute path.
pub(super) fn scan_hub(root: &Path, flat: bool, scan: &mut Scan) {
    let mut flat_hits = Vec::new();
    for e in list_dir(root, &mut scan.problems) {
        if let Some(repo) = e.name.strip_prefix("models--") {
            // Repository ids cannot contain `--`, so the first one separates
            // the organisation from the name. Org-less legacy repositories
            // (`models--gpt2`) carry no GGUFs and have no `hf:ORG/NAME` form.
            if let Some((org, name)) = repo.split_once("--") {
                if e.is_dir() && !org.is_empty() && !name.is_empty() {
                    let found = hub_repo_found(&e.path, org, name, &mut scan.problems);
                    scan.found.extend(found);
                }
            }
        } else if flat && is_gguf_name(&e.name) {
            if e.meta.is_err() {
                scan.problems.push(dangling(&e.path));
            } else if e.is_file() {
                let path = std::path::absolute(&e.path).unwrap_or_else(|_| e.path.clone());
                flat_hits.push(FileHit {
                    rel: path.to_string_lossy().into_owned(),
                    size: e.len(),
                    path,
                    sha256: None,
                });
            }
        }
    }
    scan.found.extend(files_to_found(
        StoreKind::LlamaCppCache,
        flat_hits,
        &|rel| rel.to_string(),
    ));
}

/// The snapshots of a hub repository, best first: the one `refs/main`
/// names, then the others newest first. A file is taken from the first
/// snapshot that has it, so a quantisation downloaded at an older revision
/// is still found while `main`'s copy wins when both exist.
fn hub_snapshots(repo: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let snaps = repo.join("snapshots");
    if !snaps.is_dir() {
        return Vec::new();
    }
    let main = read_capped(&repo.join("refs").join("main"), 1024)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_string());
    let mut dirs: Vec<(bool, std::time::SystemTime, Entry)> = list_dir(&snaps, problems)
        .into_iter()
        .filter(Entry::is_dir)
        .map(|e| {
            let is_main = main.as_deref() == Some(e.name.as_str());
            let mtime = e
                .meta
                .as_ref()
                .ok()
                .and_then(|m| m.modified().ok())
                .unwrap_or(std::time::UNIX_EPOCH);
            (is_main, mtime, e)
        })
        .collect();
    dirs.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.name.cmp(&b.2.name))
    });
    dirs.into_iter().map(|(_, _, e)| e.path).collect()
}

/// The GGUFs of one snapshot, depth-bounded. Directory symlinks are not
/// followed (the hub never makes them, and they could loop); file symlinks
/// are the normal case and give the SHA-256 through the blob's name.
fn walk_snapshot(
    dir: &Path,
    rel: &str,
    depth: usize,
    out: &mut BTreeMap<String, FileHit>,
    problems: &mut Vec<String>,
) {
    for e in list_dir(dir, problems) {
        let rel_name = if rel.is_empty() {
            e.name.clone()
        } else {
            format!("{rel}/{}", e.name)
        };
        if e.is_dir() {
            if !e.is_symlink && depth < HF_MAX_DEPTH {
                walk_snapshot(&e.path, &rel_name, depth + 1, out, problems);
            }
            continue;
        }
        if !is_gguf_name(&e.name) || out.contains_key(&rel_name) {
            continue;
        }
        if e.meta.is_err() {
            problems.push(dangling(&e.path));
            continue;
        }
        if e.is_file() {
            out.insert(
                rel_name.clone(),
                FileHit {
                    rel: rel_name,
                    size: e.len(),
                    sha256: hub_blob_sha(&e.path),
                    path: e.path,
                },
            );
        }
    }
}

/// The SHA-256 a hub snapshot file's blob name gives: LFS blobs are named
/// by it, other files by a git SHA-1 (not 64 hex), copies by nothing.
fn hub_blob_sha(path: &Path) -> Option<String> {
    let target = std::fs::read_link(path).ok()?;
    let name = target.file_name()?.to_str()?;
    is_sha256_hex(name).then(|| name.to_ascii_lowercase())
}

fn hub_repo_found(repo: &Path, org: &str, name: &str, problems: &mut Vec<String>) -> Vec<Found> {
    let mut files = BTreeMap::new();
    for snap in hub_snapshots(repo, problems) {
        walk_snapshot(&snap, "", 0, &mut files, problems);
    }
    files_to_found(
        StoreKind::HuggingFace,
        files.into_values().collect(),
        &|rel| format!("hf:{org}/{name}/{rel}"),
    )
}

pub(super) fn resolve_hf(reference: &str, rest: &str, env: &StoreEnv) -> Result<Found> {
    let usage = || {
        Error::Usage(format!(
            "`{reference}`: expected hf:ORG/NAME/FILE.gguf (FILE may be in a subfolder; \
             hf:ORG/NAME@REV/FILE.gguf for one revision)"
        ))
    };
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 3 || !parts.iter().all(|c| valid_component(c)) {
        return Err(usage());
    }
    let org = parts[0];
    let (name, rev) = match parts[1].split_once('@') {
        Some((n, r)) => (n, Some(r)),
        None => (parts[1], None),
    };
    let file_parts = &parts[2..];
    let file = file_parts.join("/");
    if !valid_component(name) || rev.is_some_and(|r| !valid_component(r)) || !is_gguf_name(&file) {
        return Err(usage());
    }
    let kinds = [StoreKind::HuggingFace, StoreKind::LlamaCppCache];
    let mut pick = Pick::new();
    let mut dangling_err = None;
    let mut repo_without_file: Option<(PathBuf, Vec<String>)> = None;
    let mut problems = Vec::new();
    for root in kinds.iter().flat_map(|k| kind_roots(env, *k)) {
        let Some((repo, names)) = find_path(&root, &[&format!("models--{org}--{name}")]) else {
            continue;
        };
        let (real_org, real_name) = names[0]
            .strip_prefix("models--")
            .and_then(|r| r.split_once("--"))
            .unwrap_or((org, name));
        let snapshots = match rev {
            None => hub_snapshots(&repo, &mut problems),
            Some(r) => {
                let direct = repo.join("snapshots").join(r);
                // A ref name (`@main`) names its revision in `refs/`.
                let via_ref = read_capped(&repo.join("refs").join(r), 1024)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .map(|s| repo.join("snapshots").join(s.trim()));
                vec![if direct.is_dir() {
                    direct
                } else {
                    via_ref.unwrap_or(direct)
                }]
            }
        };
        for snap in snapshots {
            let path = snap.join(file_parts.iter().collect::<PathBuf>());
            let Ok(link) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue,
                Err(_) => {
                    if link.file_type().is_symlink() {
                        dangling_err.get_or_insert_with(|| {
                            Error::Model(format!("{reference}: {}", dangling(&path)))
                        });
                    }
                    continue;
                }
            };
            let hit = FileHit {
                rel: file.clone(),
                size: meta.len(),
                sha256: hub_blob_sha(&path),
                path,
            };
            let prefix = match rev {
                Some(r) => format!("hf:{real_org}/{real_name}@{r}/"),
                None => format!("hf:{real_org}/{real_name}/"),
            };
            let found = files_to_found(StoreKind::HuggingFace, vec![hit], &|rel| {
                format!("{prefix}{rel}")
            });
            for f in found {
                if let Some(f) = pick.offer(reference, f) {
                    return Ok(f);
                }
            }
        }
        if repo_without_file.is_none() {
            let others: Vec<String> = hub_repo_found(&repo, real_org, real_name, &mut problems)
                .into_iter()
                .map(|f| f.reference)
                .collect();
            repo_without_file = Some((repo, others));
        }
    }
    if let Some(e) = pick.first_unusable.or(dangling_err) {
        return Err(e);
    }
    let get = format!(
        "download it on a connected machine (`hf download {org}/{name} {file}`) and copy \
         the cache directory, or run `git deep-review models` to list what is here"
    );
    if let Some((repo, others)) = repo_without_file {
        let has = if others.is_empty() {
            "no GGUF files".to_string()
        } else {
            others.join(", ")
        };
        return Err(Error::Model(format!(
            "{reference}: {} has no {file}{} (it has: {has}); {get}",
            repo.display(),
            rev.map(|r| format!(" at revision {r}")).unwrap_or_default()
        )));
    }
    Err(Error::Model(format!(
        "{reference}: not in {}; {get}",
        looked_in(env, &kinds, &["HF_HUB_CACHE", "HF_HOME", "LLAMA_CACHE"])
    )))
}

/// A GGUF directly in a llama.cpp cache, named by its absolute path.
pub(super) fn resolve_flat(reference: &str, env: &StoreEnv) -> Result<Found> {
    let path = Path::new(reference);
    let parent = path.parent().map(identity);
    let in_cache = kind_roots(env, StoreKind::LlamaCppCache)
        .iter()
        .any(|r| Some(identity(r)) == parent);
    if !in_cache {
        return Err(Error::Usage(format!(
            "`{reference}` is not a store reference: expected ollama:NAME[:TAG], \
             hf:ORG/NAME/FILE.gguf, lmstudio:PUBLISHER/MODEL/FILE.gguf, or a GGUF directly \
             in a llama.cpp cache ({})",
            join_paths(&candidates(env, StoreKind::LlamaCppCache))
        )));
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        _ => {
            return Err(Error::Model(format!(
                "{reference}: no such file in the llama.cpp cache; run `git deep-review models` \
                 to list what is here"
            )))
        }
    };
    let hit = FileHit {
        rel: reference.to_string(),
        size: meta.len(),
        path: path.to_path_buf(),
        sha256: None,
    };
    let mut pick = Pick::new();
    for f in files_to_found(StoreKind::LlamaCppCache, vec![hit], &|rel| rel.to_string()) {
        if let Some(f) = pick.offer(reference, f) {
            return Ok(f);
        }
    }
    Err(pick
        .first_unusable
        .unwrap_or_else(|| Error::Model(format!("{reference}: cannot be used"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stores::gguf_files::MMPROJ_REASON;
    use crate::engine::stores::test_support::{blob, by_ref, gguf, write};
    use crate::engine::stores::types::StoreRoot;
    use crate::engine::stores::{resolve, scan, scan_all};
    use crate::error::{EXIT_MODEL, EXIT_USAGE};

    /// Builds `models--ORG--NAME` with blobs and snapshot symlinks, as the
    /// hub library does.
    #[cfg(unix)]
    struct HubRepo {
        dir: PathBuf,
    }

    #[cfg(unix)]
    impl HubRepo {
        fn new(root: &Path, org: &str, name: &str) -> HubRepo {
            let dir = root.join(format!("models--{org}--{name}"));
            std::fs::create_dir_all(dir.join("blobs")).unwrap();
            HubRepo { dir }
        }
        /// Adds `rel` to snapshot `rev` with these contents; returns the blob name.
        fn file(&self, rev: &str, rel: &str, bytes: &[u8]) -> String {
            let hex = blob(&self.dir.join("blobs"), bytes, |h| h.to_string());
            self.link(rev, rel, &hex);
            hex
        }
        fn link(&self, rev: &str, rel: &str, blob_name: &str) {
            let path = self.dir.join("snapshots").join(rev).join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let ups = "../".repeat(rel.matches('/').count() + 2);
            std::os::unix::fs::symlink(format!("{ups}blobs/{blob_name}"), &path).unwrap();
        }
        fn main(&self, rev: &str) {
            write(&self.dir.join("refs/main"), rev.as_bytes());
        }
    }

    fn hf_root(dir: &Path) -> StoreRoot {
        StoreRoot {
            kind: StoreKind::HuggingFace,
            dir: dir.to_path_buf(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn hf_snapshot_symlink_to_blob_gives_sha_from_blob_name() {
        let t = tempfile::tempdir().unwrap();
        let repo = HubRepo::new(t.path(), "Qwen", "Qwen2.5-Coder-7B-Instruct-GGUF");
        repo.main("abc123");
        let bytes = gguf("q4");
        let hex = repo.file("abc123", "qwen2.5-coder-7b-instruct-q4_k_m.gguf", &bytes);
        repo.file("abc123", "Q8_0/sub-q8_0.gguf", &gguf("q8"));
        // A non-LFS blob name (git SHA-1): no known sha256.
        write(&repo.dir.join("blobs").join("a".repeat(40)), &gguf("small"));
        repo.link("abc123", "small.gguf", &"a".repeat(40));
        repo.file("abc123", "README.md", b"readme");
        let s = scan(&hf_root(t.path()));
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        let refs: Vec<&str> = s.found.iter().map(|f| f.reference.as_str()).collect();
        assert_eq!(
            refs,
            [
                "hf:Qwen/Qwen2.5-Coder-7B-Instruct-GGUF/Q8_0/sub-q8_0.gguf",
                "hf:Qwen/Qwen2.5-Coder-7B-Instruct-GGUF/qwen2.5-coder-7b-instruct-q4_k_m.gguf",
                "hf:Qwen/Qwen2.5-Coder-7B-Instruct-GGUF/small.gguf",
            ]
        );
        let f = &s.found[1];
        assert_eq!(f.kind, StoreKind::HuggingFace);
        assert_eq!(f.sha256.as_deref(), Some(hex.as_str()));
        assert_eq!(f.size, bytes.len() as u64);
        assert_eq!(std::fs::read(&f.path).unwrap(), bytes);
        assert_eq!(s.found[2].sha256, None);
        assert!(s.found.iter().all(|f| f.unusable.is_none()));

        let env = StoreEnv {
            var: &|k: &str| (k == "HF_HUB_CACHE").then(|| t.path().as_os_str().to_owned()),
            home: t.path().join("nohome"),
        };
        for f in &s.found {
            assert_eq!(&resolve(&f.reference, &env).unwrap(), f);
        }
    }

    #[cfg(unix)]
    #[test]
    fn hf_refs_main_chooses_between_snapshots() {
        let t = tempfile::tempdir().unwrap();
        let repo = HubRepo::new(t.path(), "org", "repo");
        let old = repo.file("0ld", "m.gguf", &gguf("old"));
        repo.file("0ld", "only-old.gguf", &gguf("only-old"));
        let new = repo.file("n3w", "m.gguf", &gguf("new"));
        // Make the non-main snapshot the most recently modified, so only
        // refs/main can make the other one win.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        std::fs::File::open(repo.dir.join("snapshots/0ld"))
            .unwrap()
            .set_modified(later)
            .unwrap();
        repo.main("n3w");
        let s = scan(&hf_root(t.path()));
        assert_eq!(
            by_ref(&s, "hf:org/repo/m.gguf").sha256.as_deref(),
            Some(new.as_str())
        );
        // A file only the older revision has is still found.
        assert!(by_ref(&s, "hf:org/repo/only-old.gguf")
            .path
            .ends_with("0ld/only-old.gguf"));

        let env_hub = StoreEnv {
            var: &|k: &str| (k == "HF_HUB_CACHE").then(|| t.path().as_os_str().to_owned()),
            home: t.path().join("nohome"),
        };
        let f = resolve("hf:org/repo/m.gguf", &env_hub).unwrap();
        assert_eq!(f.sha256.as_deref(), Some(new.as_str()));
        let pinned = resolve("hf:org/repo@0ld/m.gguf", &env_hub).unwrap();
        assert_eq!(pinned.sha256.as_deref(), Some(old.as_str()));
        assert_eq!(pinned.reference, "hf:org/repo@0ld/m.gguf");

        // Without refs/main the newest snapshot wins.
        std::fs::remove_file(repo.dir.join("refs/main")).unwrap();
        let s = scan(&hf_root(t.path()));
        assert_eq!(
            by_ref(&s, "hf:org/repo/m.gguf").sha256.as_deref(),
            Some(old.as_str())
        );
    }

    #[cfg(unix)]
    #[test]
    fn hf_split_files_are_listed_once_as_unusable() {
        let t = tempfile::tempdir().unwrap();
        let repo = HubRepo::new(t.path(), "org", "big");
        repo.main("r");
        for i in 1..=3 {
            repo.file(
                "r",
                &format!("Q4/big-q4-0000{i}-of-00003.gguf"),
                &gguf(&format!("p{i}")),
            );
        }
        repo.file("r", "whole-00001-of-00001.gguf", &gguf("whole"));
        let s = scan(&hf_root(t.path()));
        assert_eq!(s.found.len(), 2, "{:#?}", s.found);
        let split = by_ref(&s, "hf:org/big/Q4/big-q4-00001-of-00003.gguf");
        assert_eq!(
            split.unusable.as_deref(),
            Some("split GGUF (3 parts): not supported; merge it with llama-gguf-split --merge")
        );
        assert_eq!(split.size, 3 * gguf("p1").len() as u64);
        // A one-part "split" is an ordinary GGUF.
        assert_eq!(
            by_ref(&s, "hf:org/big/whole-00001-of-00001.gguf").unusable,
            None
        );
    }

    #[cfg(unix)]
    #[test]
    fn hf_dangling_symlink_is_reported_and_skipped() {
        let t = tempfile::tempdir().unwrap();
        let repo = HubRepo::new(t.path(), "org", "repo");
        repo.main("r");
        repo.file("r", "ok.gguf", &gguf("ok"));
        repo.link("r", "gone.gguf", &"b".repeat(64));
        let s = scan(&hf_root(t.path()));
        assert_eq!(s.found.len(), 1);
        assert_eq!(s.found[0].reference, "hf:org/repo/ok.gguf");
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        assert!(s.problems[0].contains("gone.gguf") && s.problems[0].contains("dangling"));

        let env = StoreEnv {
            var: &|k: &str| (k == "HF_HUB_CACHE").then(|| t.path().as_os_str().to_owned()),
            home: t.path().join("nohome"),
        };
        let e = resolve("hf:org/repo/gone.gguf", &env).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_MODEL);
        assert!(e.to_string().contains("dangling"), "{e}");
        // The repository is there but not the file: say what it has.
        let e = resolve("hf:org/repo/other.gguf", &env).unwrap_err();
        assert!(e.to_string().contains("hf:org/repo/ok.gguf"), "{e}");
    }

    #[test]
    fn llama_cpp_flat_cache_files_are_referenced_by_absolute_path() {
        let t = tempfile::tempdir().unwrap();
        let cache = t.path().join("home/.cache/llama.cpp");
        write(
            &cache.join("bartowski_Model-GGUF_model-Q4_K_M.gguf"),
            &gguf("f"),
        );
        write(
            &cache.join("bartowski_Model-GGUF_model-Q4_K_M.gguf.json"),
            b"{}",
        );
        write(&cache.join("mmproj-model-f16.gguf"), &gguf("proj"));
        let env = StoreEnv {
            var: &|_: &str| None,
            home: t.path().join("home"),
        };
        let all = scan_all(&env);
        let (root, s) = all
            .iter()
            .find(|(r, _)| r.kind == StoreKind::LlamaCppCache)
            .unwrap();
        assert_eq!(root.dir, cache);
        assert_eq!(s.found.len(), 2, "{:#?}", s.found);
        let model = &s.found[0];
        assert_eq!(model.kind, StoreKind::LlamaCppCache);
        assert!(Path::new(&model.reference).is_absolute());
        assert!(model
            .reference
            .ends_with("bartowski_Model-GGUF_model-Q4_K_M.gguf"));
        assert_eq!(model.sha256, None);
        assert_eq!(model.unusable, None);
        assert_eq!(s.found[1].unusable.as_deref(), Some(MMPROJ_REASON));
        assert_eq!(&resolve(&model.reference, &env).unwrap(), model);
        // An absolute path elsewhere is not a store reference.
        let e = resolve("/elsewhere/x.gguf", &env).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_USAGE);
    }
}
