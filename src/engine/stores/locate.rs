//! Where the stores are: the directories each kind of store may be in
//! (from the environment, the home directory, Ollama's system service
//! directory and LM Studio's settings file), and which of them exist.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::fs::{is_absent, read_capped, MAX_JSON_BYTES};
use super::types::{StoreEnv, StoreKind};

/// Where the Linux system service (the `ollama` user) keeps its models.
const OLLAMA_SYSTEM_DIR: &str = "/usr/share/ollama/.ollama/models";

/// The directories a store of `kind` may be in, existing or not, in
/// preference order.
pub(super) fn candidates(env: &StoreEnv, kind: StoreKind) -> Vec<PathBuf> {
    let home = &env.home;
    let mut v = Vec::new();
    match kind {
        StoreKind::Ollama => {
            // All of them, not only the first: a per-user `OLLAMA_MODELS` and
            // the system service's directory can both hold models.
            v.extend(env.path_var("OLLAMA_MODELS"));
            v.push(home.join(".ollama").join("models"));
            v.push(PathBuf::from(OLLAMA_SYSTEM_DIR));
        }
        StoreKind::HuggingFace => {
            // huggingface_hub uses the first that is set; older downloads may
            // still be in the others, so every existing one is scanned.
            v.extend(env.path_var("HF_HUB_CACHE"));
            v.extend(env.path_var("HF_HOME").map(|h| h.join("hub")));
            v.push(home.join(".cache").join("huggingface").join("hub"));
        }
        StoreKind::LlamaCppCache => {
            v.extend(env.path_var("LLAMA_CACHE"));
            v.push(home.join(".cache").join("llama.cpp"));
        }
        StoreKind::LmStudio => {
            v.push(home.join(".lmstudio").join("models"));
            // A broken settings file is reported by `scan_all`; here it only
            // means there is no extra folder.
            if let Ok(Some(d)) = lmstudio_downloads_folder(home) {
                v.push(d);
            }
            v.push(home.join(".cache").join("lm-studio").join("models"));
        }
    }
    v
}

/// Whether something is at `p`. Anything that exists counts, even a regular
/// file or an unreadable directory, so that
/// [`scan`](crate::engine::stores::scan) can report it instead of it
/// silently vanishing.
pub(super) fn present(p: &Path) -> bool {
    match std::fs::metadata(p) {
        Ok(_) => true,
        Err(e) => !is_absent(&e),
    }
}

/// A key identifying a directory however it was named (symlinks,
/// `OLLAMA_MODELS` pointing at the default), so a store is scanned once.
pub(super) fn identity(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The existing roots of one kind, without duplicates.
pub(super) fn kind_roots(env: &StoreEnv, kind: StoreKind) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    candidates(env, kind)
        .into_iter()
        .filter(|p| present(p) && seen.insert(identity(p)))
        .collect()
}

/// The `downloadsFolder` of `~/.lmstudio/settings.json`: `Ok(None)` if
/// there is no settings file or no such key, `Err` (a problem) if the file
/// cannot be read or is not JSON.
pub(super) fn lmstudio_downloads_folder(
    home: &Path,
) -> std::result::Result<Option<PathBuf>, String> {
    let path = home.join(".lmstudio").join("settings.json");
    match std::fs::metadata(&path) {
        Err(e) if is_absent(&e) => return Ok(None),
        _ => {}
    }
    let bytes = read_capped(&path, MAX_JSON_BYTES)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not JSON ({e})", path.display()))?;
    let Some(folder) = v.get("downloadsFolder").and_then(|f| f.as_str()) else {
        return Ok(None);
    };
    if folder.is_empty() {
        return Ok(None);
    }
    Ok(Some(match folder.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(folder),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stores::test_support::{gguf, write};
    use crate::engine::stores::{resolve, scan_all};

    #[test]
    fn lmstudio_settings_downloads_folder_is_a_root() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let elsewhere = t.path().join("big-disk/models");
        write(
            &home.join(".lmstudio/settings.json"),
            serde_json::json!({ "downloadsFolder": elsewhere, "other": 1 })
                .to_string()
                .as_bytes(),
        );
        write(&elsewhere.join("pub/model/m-Q8_0.gguf"), &gguf("m"));
        let env = StoreEnv {
            var: &|_: &str| None,
            home: home.clone(),
        };
        let all = scan_all(&env);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0.dir, elsewhere);
        assert_eq!(
            all[0].1.found[0].reference,
            "lmstudio:pub/model/m-Q8_0.gguf"
        );
        assert_eq!(
            resolve("lmstudio:pub/model/m-Q8_0.gguf", &env)
                .unwrap()
                .path,
            elsewhere.join("pub/model/m-Q8_0.gguf")
        );

        // A settings file that is not JSON is reported, not fatal.
        write(&home.join(".lmstudio/settings.json"), b"{oops");
        let all = scan_all(&env);
        assert_eq!(all.len(), 1);
        assert!(all[0].1.problems[0].contains("settings.json"));
        assert!(all[0].1.problems[0].contains("not JSON"));
    }
}
