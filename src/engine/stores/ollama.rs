//! Ollama's store: JSON manifests at `manifests/REGISTRY/NAMESPACE/NAME/TAG`
//! naming content-addressed blobs at `blobs/sha256-HEX`. Scanning every
//! manifest, and resolving one `ollama:NAME[:TAG]` reference.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::fs::{dangling, is_absent, list_dir, read_capped, Entry, MAX_JSON_BYTES};
use super::gguf_files::{is_sha256_hex, split_reason};
use super::locate::kind_roots;
use super::lookup::{find_path, looked_in, valid_component, Pick};
use super::types::{Found, Scan, StoreEnv, StoreKind};
use crate::error::{Error, Result};

const OLLAMA_MODEL: &str = "application/vnd.ollama.image.model";
const OLLAMA_TENSOR: &str = "application/vnd.ollama.image.tensor";
const OLLAMA_TEMPLATE: &str = "application/vnd.ollama.image.template";
const OLLAMA_ADAPTER: &str = "application/vnd.ollama.image.adapter";
const OLLAMA_REGISTRY: &str = "registry.ollama.ai";
const OLLAMA_LIBRARY: &str = "library";

const TENSOR_REASON: &str = "safetensors-style tensor layers, not a GGUF: Ollama's newer format; \
     export a GGUF or use another copy";

/// The parts of an Ollama manifest we use; unknown fields are ignored so
/// newer manifest versions still parse.
#[derive(Deserialize)]
struct OllamaManifest {
    layers: Vec<OllamaLayer>,
}

#[derive(Deserialize)]
struct OllamaLayer {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    size: Option<u64>,
}

/// The hex of a `sha256:HEX` digest, lower-cased.
fn digest_hex(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    is_sha256_hex(hex).then(|| hex.to_ascii_lowercase())
}

/// Where Ollama keeps the blob of a digest: `blobs/sha256-HEX` (a dash, as
/// colons are not allowed in Windows file names). Very old versions used
/// `sha256:HEX`, which is used when only that exists.
fn ollama_blob(root: &Path, hex: &str) -> PathBuf {
    let blobs = root.join("blobs");
    let dash = blobs.join(format!("sha256-{hex}"));
    let colon = blobs.join(format!("sha256:{hex}"));
    if !dash.exists() && colon.exists() {
        colon
    } else {
        dash
    }
}

/// `ollama:NAME:TAG` with NAME as short as Ollama itself shows it.
fn ollama_reference(registry: &str, namespace: &str, name: &str, tag: &str) -> String {
    let name = if registry.eq_ignore_ascii_case(OLLAMA_REGISTRY) {
        if namespace.eq_ignore_ascii_case(OLLAMA_LIBRARY) {
            name.to_string()
        } else {
            format!("{namespace}/{name}")
        }
    } else {
        format!("{registry}/{namespace}/{name}")
    };
    format!("ollama:{name}:{tag}")
}

/// Walks `manifests/REGISTRY/NAMESPACE/NAME/TAG`: exactly four levels, so
/// directory symlinks are followed without any risk of looping.
pub(super) fn scan_ollama(root: &Path, scan: &mut Scan) {
    let manifests = root.join("manifests");
    match std::fs::metadata(&manifests) {
        Ok(m) if m.is_dir() => {}
        // Nothing pulled yet.
        Err(e) if is_absent(&e) => return,
        Ok(_) => {
            scan.problems
                .push(format!("{}: not a directory", manifests.display()));
            return;
        }
        Err(e) => {
            scan.problems
                .push(format!("{}: cannot read ({e})", manifests.display()));
            return;
        }
    }
    let problems = &mut scan.problems;
    for reg in list_dir(&manifests, problems)
        .into_iter()
        .filter(Entry::is_dir)
    {
        for ns in list_dir(&reg.path, problems)
            .into_iter()
            .filter(Entry::is_dir)
        {
            for name in list_dir(&ns.path, problems)
                .into_iter()
                .filter(Entry::is_dir)
            {
                for tag in list_dir(&name.path, problems) {
                    if tag.meta.is_err() {
                        problems.push(dangling(&tag.path));
                        continue;
                    }
                    if !tag.is_file() {
                        continue;
                    }
                    let reference = ollama_reference(&reg.name, &ns.name, &name.name, &tag.name);
                    match ollama_found(root, &tag.path, reference) {
                        Ok(f) => scan.found.push(f),
                        Err(p) => problems.push(p),
                    }
                }
            }
        }
    }
}

/// The entry for one manifest: `Err` (a problem) when the manifest cannot
/// be read or is not one; otherwise a `Found`, unusable with the reason if
/// the model in it cannot be run.
fn ollama_found(
    root: &Path,
    manifest: &Path,
    reference: String,
) -> std::result::Result<Found, String> {
    let bytes = read_capped(manifest, MAX_JSON_BYTES)?;
    let m: OllamaManifest = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not an Ollama manifest ({e})", manifest.display()))?;
    let template = m
        .layers
        .iter()
        .find(|l| l.media_type == OLLAMA_TEMPLATE)
        .and_then(|l| digest_hex(&l.digest))
        .map(|h| ollama_blob(root, &h))
        .filter(|p| p.is_file());
    let models: Vec<&OllamaLayer> = m
        .layers
        .iter()
        .filter(|l| l.media_type == OLLAMA_MODEL)
        .collect();
    let pull = format!(
        "`ollama pull {}` again",
        reference.strip_prefix("ollama:").unwrap_or(&reference)
    );
    let mut found = Found {
        reference,
        kind: StoreKind::Ollama,
        path: manifest.to_path_buf(),
        sha256: None,
        size: 0,
        template,
        unusable: None,
    };
    match models.as_slice() {
        [] => {
            found.unusable = Some(if m.layers.iter().any(|l| l.media_type == OLLAMA_TENSOR) {
                TENSOR_REASON.to_string()
            } else {
                format!("no GGUF model layer ({OLLAMA_MODEL}) in the manifest")
            });
        }
        [layer] => match digest_hex(&layer.digest) {
            None => {
                found.unusable = Some(format!(
                    "the model layer's digest `{}` is not a sha256 digest",
                    layer.digest
                ));
            }
            Some(hex) => {
                found.path = ollama_blob(root, &hex);
                found.sha256 = Some(hex);
                // Checked here (a stat, no read) because a missing or short
                // blob would otherwise only fail deep inside llama.cpp.
                found.unusable = match std::fs::metadata(&found.path) {
                    Err(e) if is_absent(&e) => Some(format!(
                        "blob {} is missing (an interrupted pull or a pruned store; {pull})",
                        found.path.display()
                    )),
                    Err(e) => Some(format!(
                        "blob {} cannot be read ({e})",
                        found.path.display()
                    )),
                    Ok(md) if !md.is_file() => {
                        Some(format!("blob {} is not a file", found.path.display()))
                    }
                    Ok(md) => {
                        found.size = md.len();
                        match layer.size {
                            Some(want) if want != md.len() => Some(format!(
                                "blob {} is {} bytes but the manifest says {want} \
                                 (a partial download? {pull})",
                                found.path.display(),
                                md.len()
                            )),
                            _ => None,
                        }
                    }
                };
                // The base model alone is not the model the user pulled.
                if found.unusable.is_none()
                    && m.layers.iter().any(|l| l.media_type == OLLAMA_ADAPTER)
                {
                    found.unusable = Some(format!(
                        "has a LoRA adapter layer ({OLLAMA_ADAPTER}): not supported; \
                         export a merged GGUF"
                    ));
                }
            }
        },
        parts => {
            if let Some(hex) = digest_hex(&parts[0].digest) {
                found.path = ollama_blob(root, &hex);
                found.sha256 = Some(hex);
            }
            found.size = parts.iter().filter_map(|l| l.size).sum();
            found.unusable = Some(split_reason(parts.len() as u64));
        }
    }
    Ok(found)
}

pub(super) fn resolve_ollama(reference: &str, rest: &str, env: &StoreEnv) -> Result<Found> {
    let usage = || {
        Error::Usage(format!(
            "`{reference}`: expected ollama:NAME[:TAG] (e.g. ollama:qwen2.5-coder:7b, \
             ollama:NAMESPACE/NAME:TAG or ollama:hf.co/USER/REPO:TAG)"
        ))
    };
    // The tag follows the last `:` after the last `/` (a registry may have
    // a port: `host:5000/ns/name`).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], &rest[slash + i + 1..]),
        None => (rest, "latest"),
    };
    let parts: Vec<&str> = name.split('/').collect();
    let (registry, namespace, model) = match parts.as_slice() {
        [n] => (OLLAMA_REGISTRY, OLLAMA_LIBRARY, *n),
        [ns, n] => (OLLAMA_REGISTRY, *ns, *n),
        [r, ns, n] => (*r, *ns, *n),
        _ => return Err(usage()),
    };
    if ![registry, namespace, model, tag]
        .iter()
        .all(|c| valid_component(c))
    {
        return Err(usage());
    }
    let mut pick = Pick::new();
    for root in kind_roots(env, StoreKind::Ollama) {
        let Some((path, names)) = find_path(&root, &["manifests", registry, namespace, model, tag])
        else {
            continue;
        };
        if !path.is_file() {
            continue;
        }
        let canonical = ollama_reference(&names[1], &names[2], &names[3], &names[4]);
        let found = ollama_found(&root, &path, canonical)
            .map_err(|p| Error::Model(format!("{reference}: {p}")))?;
        if let Some(f) = pick.offer(reference, found) {
            return Ok(f);
        }
    }
    if let Some(e) = pick.first_unusable {
        return Err(e);
    }
    let short = ollama_reference(registry, namespace, model, tag);
    let short = short.strip_prefix("ollama:").unwrap_or(&short);
    Err(Error::Model(format!(
        "{reference}: no such model in {}; `ollama pull {short}` on a connected machine and \
         copy the models directory, or run `git deep-review models` to list what is here",
        looked_in(env, &[StoreKind::Ollama], &["OLLAMA_MODELS"])
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stores::test_support::{blob, by_ref, gguf, ollama_root, write};
    use crate::engine::stores::{resolve, scan};
    use crate::engine::verify::sha256_file;
    use crate::error::EXIT_MODEL;

    fn ollama_blob_of(root: &Path, bytes: &[u8]) -> String {
        blob(&root.join("blobs"), bytes, |h| format!("sha256-{h}"))
    }

    fn layer(media: &str, hex: &str, size: u64) -> serde_json::Value {
        serde_json::json!({
            "mediaType": format!("application/vnd.ollama.image.{media}"),
            "digest": format!("sha256:{hex}"),
            "size": size
        })
    }

    fn ollama_manifest(root: &Path, rel: &str, layers: Vec<serde_json::Value>) -> PathBuf {
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": format!("sha256:{}", "0".repeat(64)),
                "size": 487
            },
            "layers": layers
        });
        let path = root.join("manifests").join(rel);
        write(&path, m.to_string().as_bytes());
        path
    }

    /// An Ollama model with a model layer (and a template layer).
    fn ollama_model(root: &Path, rel: &str, name: &str) -> (String, Vec<u8>) {
        let bytes = gguf(name);
        let hex = ollama_blob_of(root, &bytes);
        let tpl = ollama_blob_of(root, format!("{{{{ .Prompt }}}} {name}").as_bytes());
        ollama_manifest(
            root,
            rel,
            vec![
                layer("model", &hex, bytes.len() as u64),
                layer("template", &tpl, 20),
            ],
        );
        (hex, bytes)
    }

    #[test]
    fn ollama_library_model_is_found_with_blob_sha_size_and_template() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let (hex, bytes) =
            ollama_model(root, "registry.ollama.ai/library/qwen2.5-coder/7b", "qwen");
        let s = scan(&ollama_root(root));
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.found.len(), 1);
        let f = &s.found[0];
        assert_eq!(f.reference, "ollama:qwen2.5-coder:7b");
        assert_eq!(f.kind, StoreKind::Ollama);
        assert_eq!(f.path, root.join("blobs").join(format!("sha256-{hex}")));
        assert_eq!(f.sha256.as_deref(), Some(hex.as_str()));
        assert_eq!(sha256_file(&f.path).unwrap(), hex);
        assert_eq!(f.size, bytes.len() as u64);
        assert_eq!(f.unusable, None);
        let tpl = f.template.as_ref().expect("template blob");
        assert!(std::fs::read_to_string(tpl).unwrap().contains(".Prompt"));
    }

    #[test]
    fn ollama_other_namespace_and_hf_co_references() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        ollama_model(root, "registry.ollama.ai/someone/coder/q4", "a");
        ollama_model(
            root,
            "hf.co/bartowski/Qwen2.5-Coder-7B-Instruct-GGUF/Q4_K_M",
            "b",
        );
        let s = scan(&ollama_root(root));
        let refs: Vec<&str> = s.found.iter().map(|f| f.reference.as_str()).collect();
        assert_eq!(
            refs,
            [
                "ollama:hf.co/bartowski/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M",
                "ollama:someone/coder:q4"
            ]
        );
        assert!(s.found.iter().all(|f| f.unusable.is_none()));

        // Each resolves back to the same entry.
        let env = StoreEnv {
            var: &|k: &str| (k == "OLLAMA_MODELS").then(|| root.as_os_str().to_owned()),
            home: root.join("nohome"),
        };
        for f in &s.found {
            assert_eq!(&resolve(&f.reference, &env).unwrap(), f);
        }
    }

    #[test]
    fn ollama_resolve_defaults_to_latest_and_accepts_long_and_mixed_case_names() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("ollama");
        let (hex, _) = ollama_model(
            &root,
            "registry.ollama.ai/library/qwen2.5-coder/latest",
            "l",
        );
        ollama_model(&root, "registry.ollama.ai/library/qwen2.5-coder/7b", "7");
        let env = StoreEnv {
            var: &|k: &str| (k == "OLLAMA_MODELS").then(|| root.as_os_str().to_owned()),
            home: t.path().join("home"),
        };
        let f = resolve("ollama:qwen2.5-coder", &env).unwrap();
        assert_eq!(f.reference, "ollama:qwen2.5-coder:latest");
        assert_eq!(f.sha256.as_deref(), Some(hex.as_str()));
        let long = resolve(
            "ollama:registry.ollama.ai/library/qwen2.5-coder:latest",
            &env,
        )
        .unwrap();
        assert_eq!(long, f);
        let upper = resolve("ollama:Qwen2.5-Coder:7B", &env).unwrap();
        assert_eq!(upper.reference, "ollama:qwen2.5-coder:7b");
        assert_ne!(upper.sha256, f.sha256);
    }

    #[test]
    fn ollama_tensor_layers_are_unusable() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let hex = ollama_blob_of(root, b"not a gguf tensor");
        ollama_manifest(
            root,
            "registry.ollama.ai/library/newfmt/latest",
            vec![layer("tensor", &hex, 17), layer("tensor", &hex, 17)],
        );
        let s = scan(&ollama_root(root));
        let f = by_ref(&s, "ollama:newfmt:latest");
        assert_eq!(f.unusable.as_deref(), Some(TENSOR_REASON));
        assert!(TENSOR_REASON.contains("safetensors-style tensor layers"));

        let env = StoreEnv {
            var: &|k: &str| (k == "OLLAMA_MODELS").then(|| root.as_os_str().to_owned()),
            home: root.join("nohome"),
        };
        let e = resolve("ollama:newfmt", &env).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_MODEL);
        assert!(e.to_string().contains("safetensors-style"), "{e}");
    }

    #[test]
    fn ollama_two_model_layers_are_an_unusable_split() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let a = ollama_blob_of(root, &gguf("part1"));
        let b = ollama_blob_of(root, &gguf("part2"));
        ollama_manifest(
            root,
            "registry.ollama.ai/library/big/70b",
            vec![layer("model", &a, 100), layer("model", &b, 50)],
        );
        let s = scan(&ollama_root(root));
        let f = by_ref(&s, "ollama:big:70b");
        assert_eq!(
            f.unusable.as_deref(),
            Some("split GGUF (2 parts): not supported; merge it with llama-gguf-split --merge")
        );
        assert_eq!(f.size, 150);
    }

    #[test]
    fn ollama_non_json_manifest_is_reported_and_the_other_model_still_found() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        ollama_model(root, "registry.ollama.ai/library/good/latest", "g");
        let bad = root.join("manifests/registry.ollama.ai/library/bad/latest");
        write(&bad, b"this is not json");
        // Too large to be a manifest: not read into memory.
        let huge = root.join("manifests/registry.ollama.ai/library/huge/latest");
        write(&huge, &vec![b' '; (MAX_JSON_BYTES + 10) as usize]);
        let s = scan(&ollama_root(root));
        assert_eq!(s.found.len(), 1);
        assert_eq!(s.found[0].reference, "ollama:good:latest");
        assert_eq!(s.problems.len(), 2, "{:?}", s.problems);
        assert!(s
            .problems
            .iter()
            .any(|p| p.starts_with(&bad.display().to_string())
                && p.contains("not an Ollama manifest")));
        assert!(s
            .problems
            .iter()
            .any(|p| p.starts_with(&huge.display().to_string()) && p.contains("larger than")));

        let env = StoreEnv {
            var: &|k: &str| (k == "OLLAMA_MODELS").then(|| root.as_os_str().to_owned()),
            home: root.join("nohome"),
        };
        let e = resolve("ollama:bad", &env).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_MODEL);
        assert!(e.to_string().contains("not an Ollama manifest"), "{e}");
    }

    #[test]
    fn ollama_missing_or_short_blob_is_unusable() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let (hex, _) = ollama_model(root, "registry.ollama.ai/library/gone/latest", "x");
        std::fs::remove_file(root.join("blobs").join(format!("sha256-{hex}"))).unwrap();
        let short = ollama_blob_of(root, &gguf("short"));
        ollama_manifest(
            root,
            "registry.ollama.ai/library/short/latest",
            vec![layer("model", &short, 999_999)],
        );
        let s = scan(&ollama_root(root));
        let gone = by_ref(&s, "ollama:gone:latest");
        let reason = gone.unusable.as_deref().unwrap();
        assert!(
            reason.contains("is missing") && reason.contains(&hex),
            "{reason}"
        );
        assert!(reason.contains("ollama pull gone:latest"), "{reason}");
        assert_eq!(gone.size, 0);
        let short = by_ref(&s, "ollama:short:latest");
        assert!(
            short.unusable.as_deref().unwrap().contains("999999"),
            "{:?}",
            short.unusable
        );
    }
}
