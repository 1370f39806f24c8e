//! LM Studio's models folder (`PUBLISHER/MODEL/*.gguf`): scanning it, and
//! resolving `lmstudio:PUBLISHER/MODEL/FILE.gguf` references.

use std::path::Path;

use super::fs::{dangling, list_dir, Entry};
use super::gguf_files::{files_to_found, is_gguf_name, FileHit};
use super::locate::kind_roots;
use super::lookup::{find_path, looked_in, valid_component, Pick};
use super::types::{Found, Scan, StoreEnv, StoreKind};
use crate::error::{Error, Result};

/// Walks `PUBLISHER/MODEL/*.gguf`: two directory levels (followed, as
/// `lms import` may link them; the fixed depth cannot loop) and the files.
pub(super) fn scan_lmstudio(root: &Path, scan: &mut Scan) {
    let problems = &mut scan.problems;
    for publisher in list_dir(root, problems).into_iter().filter(Entry::is_dir) {
        for model in list_dir(&publisher.path, problems)
            .into_iter()
            .filter(Entry::is_dir)
        {
            let mut hits = Vec::new();
            for f in list_dir(&model.path, problems) {
                if !is_gguf_name(&f.name) {
                    continue;
                }
                if f.meta.is_err() {
                    problems.push(dangling(&f.path));
                } else if f.is_file() {
                    hits.push(FileHit {
                        rel: f.name.clone(),
                        size: f.len(),
                        path: f.path,
                        sha256: None,
                    });
                }
            }
            let prefix = format!("lmstudio:{}/{}/", publisher.name, model.name);
            scan.found
                .extend(files_to_found(StoreKind::LmStudio, hits, &|rel| {
                    format!("{prefix}{rel}")
                }));
        }
    }
}

pub(super) fn resolve_lmstudio(reference: &str, rest: &str, env: &StoreEnv) -> Result<Found> {
    let parts: Vec<&str> = rest.split('/').collect();
    let [publisher, model, file] = parts.as_slice() else {
        return Err(lmstudio_usage(reference));
    };
    if !parts.iter().all(|c| valid_component(c)) || !is_gguf_name(file) {
        return Err(lmstudio_usage(reference));
    }
    let mut pick = Pick::new();
    for root in kind_roots(env, StoreKind::LmStudio) {
        let Some((path, names)) = find_path(&root, &[publisher, model, file]) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            return Err(Error::Model(format!("{reference}: {}", dangling(&path))));
        };
        if !meta.is_file() {
            continue;
        }
        let hit = FileHit {
            rel: names[2].clone(),
            size: meta.len(),
            path,
            sha256: None,
        };
        let prefix = format!("lmstudio:{}/{}/", names[0], names[1]);
        for f in files_to_found(StoreKind::LmStudio, vec![hit], &|rel| {
            format!("{prefix}{rel}")
        }) {
            if let Some(f) = pick.offer(reference, f) {
                return Ok(f);
            }
        }
    }
    if let Some(e) = pick.first_unusable {
        return Err(e);
    }
    Err(Error::Model(format!(
        "{reference}: not in {}; download it with LM Studio on a connected machine and copy \
         its models folder, or run `git deep-review models` to list what is here",
        looked_in(env, &[StoreKind::LmStudio], &[])
    )))
}

fn lmstudio_usage(reference: &str) -> Error {
    Error::Usage(format!(
        "`{reference}`: expected lmstudio:PUBLISHER/MODEL/FILE.gguf"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stores::gguf_files::MMPROJ_REASON;
    use crate::engine::stores::test_support::{gguf, write};
    use crate::engine::stores::types::StoreRoot;
    use crate::engine::stores::{resolve, roots, scan};
    use crate::error::EXIT_MODEL;

    #[test]
    fn lmstudio_models_dir_is_scanned_and_mmproj_is_unusable() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let models = home.join(".lmstudio/models");
        let dir = models.join("lmstudio-community/Qwen2.5-Coder-7B-Instruct-GGUF");
        let bytes = gguf("lms");
        write(&dir.join("Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf"), &bytes);
        write(&dir.join("mmproj-model-f16.gguf"), &gguf("proj"));
        write(&dir.join("README.md"), b"x");
        // Too deep for LM Studio's layout.
        write(&models.join("a/b/c/deep.gguf"), &gguf("deep"));
        let env = StoreEnv {
            var: &|_: &str| None,
            home: home.clone(),
        };
        let r = roots(&env);
        assert_eq!(
            r,
            [StoreRoot {
                kind: StoreKind::LmStudio,
                dir: models.clone()
            }]
        );
        let s = scan(&r[0]);
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        let refs: Vec<&str> = s.found.iter().map(|f| f.reference.as_str()).collect();
        assert_eq!(
            refs,
            [
                "lmstudio:lmstudio-community/Qwen2.5-Coder-7B-Instruct-GGUF/Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf",
                "lmstudio:lmstudio-community/Qwen2.5-Coder-7B-Instruct-GGUF/mmproj-model-f16.gguf",
            ]
        );
        assert_eq!(s.found[0].size, bytes.len() as u64);
        assert_eq!(s.found[0].sha256, None);
        assert_eq!(s.found[0].unusable, None);
        assert_eq!(s.found[1].unusable.as_deref(), Some(MMPROJ_REASON));
        assert_eq!(&resolve(&s.found[0].reference, &env).unwrap(), &s.found[0]);
        let e = resolve(&s.found[1].reference, &env).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_MODEL);
        assert!(e.to_string().contains("vision projector"), "{e}");
    }
}
