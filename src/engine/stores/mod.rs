//! GGUF models the user already has in other tools' stores, found and
//! resolved read-only.
//!
//! Users of Ollama, llama.cpp (`-hf`), `huggingface-cli`/`hf download` and
//! LM Studio already have multi-gigabyte GGUFs on disk; downloading them
//! again (or copying them into our models directory) wastes time and space,
//! and on an air-gapped machine may not be possible at all. This module only
//! ever reads those stores: it never copies, renames or writes anything in
//! them, so the other tools keep working exactly as before.
//!
//! The stores:
//! - **Ollama**: JSON manifests at `manifests/REGISTRY/NAMESPACE/NAME/TAG`
//!   naming content-addressed blobs at `blobs/sha256-HEX`; the model layer
//!   is a plain GGUF whose SHA-256 is its blob name.
//! - **Hugging Face hub cache**: `models--ORG--NAME/snapshots/REV/FILE` are
//!   symlinks to `../../blobs/SHA256` (for LFS files such as GGUFs).
//! - **llama.cpp cache**: the older flat layout (`*.gguf` directly in the
//!   directory), plus hub-layout repositories where a newer llama.cpp puts
//!   them under `$LLAMA_CACHE`.
//! - **LM Studio**: `models/PUBLISHER/MODEL/*.gguf`.
//!
//! A scan never fails: whatever cannot be read is reported as a `problem`
//! string (path and reason) and skipped, because one broken store (or one
//! corrupt manifest) must not hide the models in the others. Models that are
//! present but cannot be run (Ollama's safetensors-style tensor layers,
//! split GGUFs, vision projectors, missing or truncated blobs) are listed
//! with the reason in [`Found::unusable`], so `git deep-review models` can
//! say why a model the user knows about is not offered.
//!
//! The modules: `types` (what every store module shares), `fs` (reading
//! directories and small files without failing), `gguf_files` (GGUF names,
//! split parts, projectors), `locate` (where each store's directories are),
//! `lookup` (what resolving in any store needs), one module per store
//! (`ollama`, `hub` for the Hugging Face and llama.cpp caches, `lmstudio`),
//! and here the dispatch over them: [`roots`], [`scan_all`], [`scan`],
//! [`is_reference`], [`resolve`].

mod fs;
mod gguf_files;
mod hub;
mod lmstudio;
mod locate;
mod lookup;
mod ollama;
#[cfg(test)]
mod test_support;
mod types;

use std::collections::HashSet;
use std::path::Path;

use crate::error::{Error, Result};
use fs::is_absent;
use gguf_files::is_gguf_name;
use hub::{resolve_flat, resolve_hf, scan_hub};
use lmstudio::{resolve_lmstudio, scan_lmstudio};
use locate::{candidates, identity, lmstudio_downloads_folder, present};
use ollama::{resolve_ollama, scan_ollama};

pub use types::{Found, Scan, StoreEnv, StoreKind, StoreRoot};

/// Every store root that exists, in the order above.
///
/// A directory reachable as two roots (say `LLAMA_CACHE` set to the hub
/// cache) is listed once, with the first kind it appeared as.
pub fn roots(env: &StoreEnv) -> Vec<StoreRoot> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for kind in [
        StoreKind::Ollama,
        StoreKind::HuggingFace,
        StoreKind::LlamaCppCache,
        StoreKind::LmStudio,
    ] {
        for dir in candidates(env, kind) {
            if present(&dir) && seen.insert(identity(&dir)) {
                out.push(StoreRoot { kind, dir });
            }
        }
    }
    out
}

/// Every root scanned.
pub fn scan_all(env: &StoreEnv) -> Vec<(StoreRoot, Scan)> {
    let mut out: Vec<(StoreRoot, Scan)> = roots(env)
        .into_iter()
        .map(|r| {
            let s = scan(&r);
            (r, s)
        })
        .collect();
    // A settings file we cannot read may hide LM Studio's download folder:
    // say so, under LM Studio.
    if let Err(problem) = lmstudio_downloads_folder(&env.home) {
        match out.iter_mut().find(|(r, _)| r.kind == StoreKind::LmStudio) {
            Some((_, s)) => s.problems.push(problem),
            None => out.push((
                StoreRoot {
                    kind: StoreKind::LmStudio,
                    dir: env.home.join(".lmstudio"),
                },
                Scan {
                    found: Vec::new(),
                    problems: vec![problem],
                },
            )),
        }
    }
    out
}

/// Everything found under one root (sorted by reference), with the problems met.
pub fn scan(root: &StoreRoot) -> Scan {
    let mut scan = Scan::default();
    if root_is_dir(root, &mut scan.problems) {
        match root.kind {
            StoreKind::Ollama => scan_ollama(&root.dir, &mut scan),
            StoreKind::HuggingFace => scan_hub(&root.dir, false, &mut scan),
            StoreKind::LlamaCppCache => scan_hub(&root.dir, true, &mut scan),
            StoreKind::LmStudio => scan_lmstudio(&root.dir, &mut scan),
        }
    }
    scan.found.sort_by(|a, b| a.reference.cmp(&b.reference));
    scan
}

/// Whether the root is a directory; if it exists but is not one (or cannot
/// be examined), that is a problem.
fn root_is_dir(root: &StoreRoot, problems: &mut Vec<String>) -> bool {
    match std::fs::metadata(&root.dir) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => {
            problems.push(format!(
                "{}: not a directory (expected the {} models directory)",
                root.dir.display(),
                root.kind.label()
            ));
            false
        }
        Err(e) if is_absent(&e) => false,
        Err(e) => {
            problems.push(format!(
                "{}: cannot read the {} store ({e})",
                root.dir.display(),
                root.kind.label()
            ));
            false
        }
    }
}

/// Whether `s` names a store reference (`ollama:`, `hf:`, `lmstudio:`
/// prefix): the syntax is configuration's (`config::model_ref`).
pub use crate::config::model_ref::is_store_reference as is_reference;

/// Resolves one reference (without scanning every store: go straight to the
/// manifest / snapshot / file).
///
/// Roots are tried in [`roots`] order and the first usable copy wins; when
/// only unusable copies exist the error gives the first one's reason. Names
/// are matched exactly, then case-insensitively (Ollama and the hub treat
/// names case-insensitively). The absolute path of a GGUF directly in a
/// llama.cpp cache also resolves, so every [`Found::reference`] does.
///
/// Errors are [`Error::Model`] (exit 4) for what is not there or cannot be
/// used, saying what was looked for, where, and what to do; a malformed
/// reference is [`Error::Usage`] (exit 2) naming the expected form.
pub fn resolve(reference: &str, env: &StoreEnv) -> Result<Found> {
    if let Some(rest) = reference.strip_prefix("ollama:") {
        resolve_ollama(reference, rest, env)
    } else if let Some(rest) = reference.strip_prefix("hf:") {
        resolve_hf(reference, rest, env)
    } else if let Some(rest) = reference.strip_prefix("lmstudio:") {
        resolve_lmstudio(reference, rest, env)
    } else if Path::new(reference).is_absolute() && is_gguf_name(reference) {
        resolve_flat(reference, env)
    } else {
        Err(Error::Usage(format!(
            "`{reference}` is not a store reference: expected ollama:NAME[:TAG], \
             hf:ORG/NAME/FILE.gguf or lmstudio:PUBLISHER/MODEL/FILE.gguf"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_MODEL, EXIT_USAGE};
    use std::collections::HashMap;
    use std::ffi::OsString;
    use std::path::PathBuf;
    use test_support::{ollama_root, write};

    fn vars(pairs: &[(&str, &Path)]) -> HashMap<String, OsString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect()
    }

    #[test]
    fn roots_honour_environment_variables_in_order() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path();
        let home = base.join("home");
        for d in [
            "ollama-env",
            "home/.ollama/models",
            "hub-env",
            "hf-home/hub",
            "home/.cache/huggingface/hub",
            "llama-env",
            "home/.cache/llama.cpp",
            "home/.cache/lm-studio/models",
        ] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        let v = vars(&[
            ("OLLAMA_MODELS", &base.join("ollama-env")),
            ("HF_HUB_CACHE", &base.join("hub-env")),
            ("HF_HOME", &base.join("hf-home")),
            ("LLAMA_CACHE", &base.join("llama-env")),
        ]);
        let lookup = |k: &str| v.get(k).cloned();
        let env = StoreEnv {
            var: &lookup,
            home: home.clone(),
        };
        let got: Vec<(StoreKind, PathBuf)> = roots(&env)
            .into_iter()
            .filter(|r| r.dir.starts_with(base))
            .map(|r| (r.kind, r.dir))
            .collect();
        use StoreKind::*;
        assert_eq!(
            got,
            [
                (Ollama, base.join("ollama-env")),
                (Ollama, home.join(".ollama/models")),
                (HuggingFace, base.join("hub-env")),
                (HuggingFace, base.join("hf-home/hub")),
                (HuggingFace, home.join(".cache/huggingface/hub")),
                (LlamaCppCache, base.join("llama-env")),
                (LlamaCppCache, home.join(".cache/llama.cpp")),
                (LmStudio, home.join(".cache/lm-studio/models")),
            ]
        );

        // Empty counts as unset; a variable naming a default is listed once;
        // a variable naming nothing is silently absent.
        let empty = OsString::new();
        let same = home.join(".ollama/models");
        let missing = base.join("missing");
        let lookup = |k: &str| match k {
            "OLLAMA_MODELS" => Some(same.clone().into_os_string()),
            "HF_HUB_CACHE" => Some(empty.clone()),
            "LLAMA_CACHE" => Some(missing.clone().into_os_string()),
            _ => None,
        };
        let env = StoreEnv {
            var: &lookup,
            home: home.clone(),
        };
        let got: Vec<PathBuf> = roots(&env)
            .into_iter()
            .filter(|r| r.dir.starts_with(base))
            .map(|r| r.dir)
            .collect();
        assert_eq!(
            got,
            [
                home.join(".ollama/models"),
                home.join(".cache/huggingface/hub"),
                home.join(".cache/llama.cpp"),
                home.join(".cache/lm-studio/models"),
            ]
        );
    }

    #[test]
    fn unreadable_stores_are_reported_not_fatal() {
        let t = tempfile::tempdir().unwrap();
        let file_root = t.path().join("not-a-dir");
        write(&file_root, b"x");
        for kind in [
            StoreKind::Ollama,
            StoreKind::HuggingFace,
            StoreKind::LlamaCppCache,
            StoreKind::LmStudio,
        ] {
            let s = scan(&StoreRoot {
                kind,
                dir: file_root.clone(),
            });
            assert!(s.found.is_empty());
            assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
            assert!(
                s.problems[0].contains("not-a-dir") && s.problems[0].contains("not a directory")
            );
        }
        // Through the environment: the file is a root, scanned with a problem.
        let env = StoreEnv {
            var: &|k: &str| (k == "HF_HUB_CACHE").then(|| file_root.as_os_str().to_owned()),
            home: t.path().join("home"),
        };
        let all = scan_all(&env);
        let (_, s) = all.iter().find(|(r, _)| r.dir == file_root).unwrap();
        assert_eq!(s.problems.len(), 1);
        // An Ollama store whose manifests "directory" is a file.
        let ollama = t.path().join("ollama");
        write(&ollama.join("manifests"), b"x");
        let s = scan(&ollama_root(&ollama));
        assert!(s.problems[0].contains("manifests"), "{:?}", s.problems);
        // A store that does not exist is silently empty.
        assert_eq!(scan(&ollama_root(&t.path().join("nope"))), Scan::default());
    }

    #[test]
    fn resolve_errors_say_what_where_and_how_with_exit_codes() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        std::fs::create_dir_all(home.join(".ollama/models")).unwrap();
        let env = StoreEnv {
            var: &|_: &str| None,
            home: home.clone(),
        };
        let e = resolve("ollama:qwen2.5-coder:7b", &env).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_MODEL);
        let msg = e.to_string();
        assert!(
            msg.starts_with("ollama:qwen2.5-coder:7b: no such model in "),
            "{msg}"
        );
        assert!(
            msg.contains(&home.join(".ollama/models").display().to_string()),
            "{msg}"
        );
        assert!(msg.contains("OLLAMA_MODELS not set"), "{msg}");
        assert!(msg.contains("`ollama pull qwen2.5-coder:7b`"), "{msg}");
        assert!(msg.contains("git deep-review models"), "{msg}");

        let e = resolve("hf:org/repo/x.gguf", &env).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_MODEL);
        let msg = e.to_string();
        assert!(
            msg.contains("none of") && msg.contains(".cache/huggingface/hub"),
            "{msg}"
        );
        assert!(msg.contains("HF_HUB_CACHE not set"), "{msg}");

        let e = resolve("lmstudio:p/m/f.gguf", &env).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_MODEL);
        assert!(e.to_string().contains(".lmstudio/models"), "{e}");

        for bad in [
            "ollama:",
            "ollama:name:",
            "ollama:a/b/c/d",
            "ollama:../x",
            "hf:onlyorg",
            "hf:org/repo",
            "hf:org/repo/notgguf.bin",
            "hf:org/../x.gguf",
            "lmstudio:p/m",
            "lmstudio:p/m/f.txt",
            "qwen2.5-coder",
        ] {
            let e = resolve(bad, &env).unwrap_err();
            assert_eq!(e.exit_code(), EXIT_USAGE, "{bad}: {e}");
        }
        let e = resolve("hf:onlyorg", &env).unwrap_err();
        assert!(e.to_string().contains("hf:ORG/NAME/FILE.gguf"), "{e}");
        let e = resolve("ollama:", &env).unwrap_err();
        assert!(e.to_string().contains("ollama:NAME[:TAG]"), "{e}");
    }

    #[test]
    fn references_are_recognised_by_prefix() {
        assert!(is_reference("ollama:qwen2.5-coder"));
        assert!(is_reference("hf:org/repo/x.gguf"));
        assert!(is_reference("lmstudio:p/m/x.gguf"));
        assert!(!is_reference("smollm2-135m"));
        assert!(!is_reference("standin:echo"));
        assert!(!is_reference("/abs/path.gguf"));
        assert!(!is_reference("HF:org/repo/x.gguf"));
    }
}
