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

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// Manifests (and LM Studio's settings) are a few hundred bytes; anything
/// larger than this is not one and is not read into memory.
const MAX_JSON_BYTES: u64 = 1 << 20;
/// Subfolder levels searched below a Hugging Face snapshot (`Q4_K_M/x.gguf`
/// is one). Repositories nest GGUFs at most a level or two deep; the bound
/// keeps a pathological tree from making the scan slow.
const HF_MAX_DEPTH: usize = 4;

const OLLAMA_MODEL: &str = "application/vnd.ollama.image.model";
const OLLAMA_TENSOR: &str = "application/vnd.ollama.image.tensor";
const OLLAMA_TEMPLATE: &str = "application/vnd.ollama.image.template";
const OLLAMA_ADAPTER: &str = "application/vnd.ollama.image.adapter";
const OLLAMA_REGISTRY: &str = "registry.ollama.ai";
const OLLAMA_LIBRARY: &str = "library";
/// Where the Linux system service (the `ollama` user) keeps its models.
const OLLAMA_SYSTEM_DIR: &str = "/usr/share/ollama/.ollama/models";

const TENSOR_REASON: &str = "safetensors-style tensor layers, not a GGUF: Ollama's newer format; \
     export a GGUF or use another copy";
const MMPROJ_REASON: &str = "a vision projector (mmproj), not a language model";

/// Which tool's store a model was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StoreKind {
    /// Ollama's models directory (manifests and blobs).
    Ollama,
    /// The Hugging Face hub cache (also where current llama.cpp `-hf` downloads go).
    HuggingFace,
    /// llama.cpp's own cache directory (`$LLAMA_CACHE`, `~/.cache/llama.cpp`).
    LlamaCppCache,
    /// LM Studio's models folder.
    LmStudio,
}

impl StoreKind {
    /// The store's name as users know it, for listings and messages.
    pub fn label(self) -> &'static str {
        match self {
            StoreKind::Ollama => "Ollama",
            StoreKind::HuggingFace => "Hugging Face cache",
            StoreKind::LlamaCppCache => "llama.cpp cache",
            StoreKind::LmStudio => "LM Studio",
        }
    }
}

/// Where to look: one root of one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRoot {
    /// The store's layout (decides how [`scan`] reads `dir`).
    pub kind: StoreKind,
    /// The store's top directory (Ollama's `models`, the hub cache's `hub`...).
    pub dir: PathBuf,
}

/// One GGUF found in a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// How to name it: `ollama:NAME:TAG`, `hf:ORG/NAME/FILE.gguf`,
    /// `lmstudio:PUBLISHER/MODEL/FILE.gguf`, or the absolute path of a file
    /// in a flat llama.cpp cache. [`resolve`] of it gives this entry back.
    pub reference: String,
    /// The store it is in.
    pub kind: StoreKind,
    /// The file llama.cpp should open (the Ollama blob or the snapshot
    /// file; symlinks are fine). For an Ollama manifest with no model blob
    /// to point at (tensor layers only) it is the manifest itself.
    pub path: PathBuf,
    /// Lower-case hex SHA-256 of the content, when the store's layout tells
    /// it without reading the file (Ollama and hub blob names).
    pub sha256: Option<String>,
    /// Size in bytes (0 if unknown or missing; the sum of the parts for a
    /// split GGUF).
    pub size: u64,
    /// The blob of the Ollama template layer, if any: some Ollama GGUFs carry
    /// no chat template of their own and the caller may infer one from it.
    pub template: Option<PathBuf>,
    /// Why it cannot be used; such entries are listed but never run.
    pub unusable: Option<String>,
}

/// What scanning one root found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// The models, sorted by reference.
    pub found: Vec<Found>,
    /// What could not be read, each naming the path and what is wrong.
    pub problems: Vec<String>,
}

/// The environment the stores are found from (so tests never touch the real HOME).
pub struct StoreEnv<'a> {
    /// Reads an environment variable (empty values count as unset).
    pub var: &'a dyn Fn(&str) -> Option<OsString>,
    /// The user's home directory.
    pub home: PathBuf,
}

/// The process environment, for [`StoreEnv::from_process`] (a function item,
/// so a `'static` reference to it needs no allocation).
fn process_var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

impl StoreEnv<'_> {
    /// The real environment: `std::env::var_os` and `$HOME`.
    pub fn from_process() -> StoreEnv<'static> {
        StoreEnv {
            var: &process_var,
            home: crate::engine::manifest::home(),
        }
    }

    /// A variable's value; set-but-empty is treated as unset, as the tools
    /// themselves do (`OLLAMA_MODELS=` means the default directory).
    fn get(&self, name: &str) -> Option<OsString> {
        (self.var)(name).filter(|v| !v.is_empty())
    }

    fn path_var(&self, name: &str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from)
    }

    /// `(NAME not set)` / `(NAME=value)` notes for error messages, so the
    /// user sees which variables decided where we looked.
    fn notes(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| match self.get(n) {
                Some(v) => format!("{n}={}", PathBuf::from(v).display()),
                None => format!("{n} not set"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The directories a store of `kind` may be in, existing or not, in
/// preference order.
fn candidates(env: &StoreEnv, kind: StoreKind) -> Vec<PathBuf> {
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

/// Whether an error means "nothing there" (silently absent) rather than
/// "there but unreadable" (reported).
fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Whether something is at `p`. Anything that exists counts, even a regular
/// file or an unreadable directory, so that [`scan`] can report it instead
/// of it silently vanishing.
fn present(p: &Path) -> bool {
    match std::fs::metadata(p) {
        Ok(_) => true,
        Err(e) => !is_absent(&e),
    }
}

/// A key identifying a directory however it was named (symlinks,
/// `OLLAMA_MODELS` pointing at the default), so a store is scanned once.
fn identity(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The existing roots of one kind, without duplicates.
fn kind_roots(env: &StoreEnv, kind: StoreKind) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    candidates(env, kind)
        .into_iter()
        .filter(|p| present(p) && seen.insert(identity(p)))
        .collect()
}

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

/// One directory entry.
struct Entry {
    name: String,
    path: PathBuf,
    /// Whether the entry itself is a symlink (so directory symlinks can be
    /// left alone where following them could loop).
    is_symlink: bool,
    /// The metadata of what it points to; `Err` for a dangling symlink.
    meta: std::result::Result<std::fs::Metadata, std::io::Error>,
}

impl Entry {
    fn is_dir(&self) -> bool {
        self.meta.as_ref().is_ok_and(|m| m.is_dir())
    }
    fn is_file(&self) -> bool {
        self.meta.as_ref().is_ok_and(|m| m.is_file())
    }
    fn len(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.len())
    }
}

/// The entries of `dir`, sorted by name (so scans are deterministic),
/// hidden ones left out. An unreadable directory or entry is a problem;
/// the rest of the directory is still listed.
fn list_dir(dir: &Path, problems: &mut Vec<String>) -> Vec<Entry> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            problems.push(format!("{}: cannot read ({e})", dir.display()));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for de in rd {
        let de = match de {
            Ok(de) => de,
            Err(e) => {
                problems.push(format!("{}: cannot read an entry ({e})", dir.display()));
                continue;
            }
        };
        let path = de.path();
        let Some(name) = de.file_name().to_str().map(str::to_string) else {
            // References are text; a name that is not UTF-8 cannot be one.
            problems.push(format!("{}: name is not UTF-8, skipped", path.display()));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let is_symlink = de.file_type().is_ok_and(|t| t.is_symlink());
        let meta = std::fs::metadata(&path);
        out.push(Entry {
            name,
            path,
            is_symlink,
            meta,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The problem for a symlink whose target is gone.
fn dangling(path: &Path) -> String {
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into());
    format!(
        "{}: dangling symlink to {target} (the file it points to is missing; download it again)",
        path.display()
    )
}

/// At most `max` bytes of a file, or a problem naming it.
fn read_capped(path: &Path, max: u64) -> std::result::Result<Vec<u8>, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    if buf.len() as u64 > max {
        return Err(format!(
            "{}: larger than {} KiB, not a file this store writes",
            path.display(),
            max / 1024
        ));
    }
    Ok(buf)
}

fn is_gguf_name(name: &str) -> bool {
    name.len() > 5 && name.to_ascii_lowercase().ends_with(".gguf")
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `(prefix, part, total)` of a llama-gguf-split name
/// (`PREFIX-00001-of-00003.gguf`); `None` for ordinary files and for a
/// "split" into one part, which llama.cpp loads like any GGUF.
fn split_part(file_name: &str) -> Option<(&str, u32, u32)> {
    let stem = &file_name[..file_name.len().checked_sub(5)?];
    let (before, total) = stem.rsplit_once("-of-")?;
    let (prefix, part) = before.rsplit_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(part) || !digits(total) {
        return None;
    }
    let (part, total) = (part.parse().ok()?, total.parse().ok()?);
    (total > 1).then_some((prefix, part, total))
}

fn split_reason(parts: u64) -> String {
    format!("split GGUF ({parts} parts): not supported; merge it with llama-gguf-split --merge")
}

fn is_mmproj(file_name: &str) -> bool {
    file_name.to_ascii_lowercase().contains("mmproj")
}

/// A GGUF file met in a file-based store (hub snapshot, flat cache, LM Studio).
struct FileHit {
    /// The name relative to the repository / model folder (for the
    /// reference and for grouping the parts of a split file).
    rel: String,
    path: PathBuf,
    size: u64,
    sha256: Option<String>,
}

/// Found entries for a set of files: split parts are folded into one
/// unusable entry (the lowest part present), vision projectors are marked
/// unusable. `reference` turns a file's `rel` into its reference.
fn files_to_found(
    kind: StoreKind,
    hits: Vec<FileHit>,
    reference: &dyn Fn(&str) -> String,
) -> Vec<Found> {
    // (folder + prefix, total) -> (lowest part, its hit, summed size).
    let mut splits: BTreeMap<(String, u32), (u32, FileHit, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    for hit in hits {
        let file_name = hit.rel.rsplit('/').next().unwrap_or(&hit.rel);
        if let Some((prefix, part, total)) = split_part(file_name) {
            let dir = &hit.rel[..hit.rel.len() - file_name.len()];
            let key = (format!("{dir}{prefix}"), total);
            match splits.get_mut(&key) {
                Some(group) => {
                    group.2 += hit.size;
                    if part < group.0 {
                        group.0 = part;
                        group.1 = hit;
                    }
                }
                None => {
                    let size = hit.size;
                    splits.insert(key, (part, hit, size));
                }
            }
            continue;
        }
        let unusable = is_mmproj(file_name).then(|| MMPROJ_REASON.to_string());
        out.push(Found {
            reference: reference(&hit.rel),
            kind,
            path: hit.path,
            sha256: hit.sha256,
            size: hit.size,
            template: None,
            unusable,
        });
    }
    for ((_, total), (_, hit, size)) in splits {
        out.push(Found {
            reference: reference(&hit.rel),
            kind,
            path: hit.path,
            sha256: hit.sha256,
            size,
            template: None,
            unusable: Some(split_reason(u64::from(total))),
        });
    }
    out
}

// ---------------------------------------------------------------- Ollama

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
fn scan_ollama(root: &Path, scan: &mut Scan) {
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

// ------------------------------------------------- Hugging Face / llama.cpp

/// Scans a hub cache (`models--ORG--NAME` repositories). `flat` also picks
/// up `*.gguf` files directly in the root: the older llama.cpp cache
/// layout, referenced by absolute path.
fn scan_hub(root: &Path, flat: bool, scan: &mut Scan) {
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

// ---------------------------------------------------------------- LM Studio

/// The `downloadsFolder` of `~/.lmstudio/settings.json`: `Ok(None)` if
/// there is no settings file or no such key, `Err` (a problem) if the file
/// cannot be read or is not JSON.
fn lmstudio_downloads_folder(home: &Path) -> std::result::Result<Option<PathBuf>, String> {
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

/// Walks `PUBLISHER/MODEL/*.gguf`: two directory levels (followed, as
/// `lms import` may link them; the fixed depth cannot loop) and the files.
fn scan_lmstudio(root: &Path, scan: &mut Scan) {
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

// ---------------------------------------------------------------- resolve

/// Whether `s` names a store reference (`ollama:`, `hf:`, `lmstudio:` prefix).
pub fn is_reference(s: &str) -> bool {
    s.starts_with("ollama:") || s.starts_with("hf:") || s.starts_with("lmstudio:")
}

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

/// A path component from a reference: it is joined onto store paths, so
/// anything that could leave the store (`..`, separators) is refused.
fn valid_component(c: &str) -> bool {
    !c.is_empty() && c != "." && c != ".." && !c.contains(['\\', '\0'])
}

/// `base/c1/c2/...`, each component matched exactly or else
/// case-insensitively; with the names actually found.
fn find_path(base: &Path, components: &[&str]) -> Option<(PathBuf, Vec<String>)> {
    let mut cur = base.to_path_buf();
    let mut names = Vec::new();
    for c in components {
        let exact = cur.join(c);
        if std::fs::symlink_metadata(&exact).is_ok() {
            cur = exact;
            names.push(c.to_string());
            continue;
        }
        let hit = std::fs::read_dir(&cur)
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.eq_ignore_ascii_case(c))
            .min()?;
        cur = cur.join(&hit);
        names.push(hit);
    }
    Some((cur, names))
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a resolve looked, for its error: the existing roots, or, when none
/// exists, every candidate; with the variables that decided them.
fn looked_in(env: &StoreEnv, kinds: &[StoreKind], vars: &[&str]) -> String {
    let existing: Vec<PathBuf> = kinds.iter().flat_map(|k| kind_roots(env, *k)).collect();
    if existing.is_empty() {
        let all: Vec<PathBuf> = kinds.iter().flat_map(|k| candidates(env, *k)).collect();
        format!(
            "any {} directory (none of {} exists; {})",
            kinds[0].label(),
            join_paths(&all),
            env.notes(vars)
        )
    } else {
        format!("{} ({})", join_paths(&existing), env.notes(vars))
    }
}

/// The first usable entry, or the first unusable one's reason as an error.
struct Pick {
    first_unusable: Option<Error>,
}

impl Pick {
    fn new() -> Pick {
        Pick {
            first_unusable: None,
        }
    }
    /// `Some(found)` if it can be used; otherwise remembers why not.
    fn offer(&mut self, reference: &str, found: Found) -> Option<Found> {
        match &found.unusable {
            None => Some(found),
            Some(reason) => {
                self.first_unusable.get_or_insert_with(|| {
                    Error::Model(format!("{reference}: cannot be used: {reason}"))
                });
                None
            }
        }
    }
}

fn resolve_ollama(reference: &str, rest: &str, env: &StoreEnv) -> Result<Found> {
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

fn resolve_hf(reference: &str, rest: &str, env: &StoreEnv) -> Result<Found> {
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

fn resolve_lmstudio(reference: &str, rest: &str, env: &StoreEnv) -> Result<Found> {
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

/// A GGUF directly in a llama.cpp cache, named by its absolute path.
fn resolve_flat(reference: &str, env: &StoreEnv) -> Result<Found> {
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
    use crate::engine::gguf_meta::build_test_gguf;
    use crate::engine::verify::sha256_file;
    use crate::error::{EXIT_MODEL, EXIT_USAGE};
    use std::collections::HashMap;

    /// Small valid GGUF bytes; `name` makes the contents (and so the
    /// digests) differ between models.
    fn gguf(name: &str) -> Vec<u8> {
        build_test_gguf(
            &[("general.architecture", "llama"), ("general.name", name)],
            &[],
            &[("t", 32)],
        )
    }

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Writes `bytes` as a content-addressed blob named by `name_of(hex)`
    /// in `dir`, returning the true SHA-256.
    fn blob(dir: &Path, bytes: &[u8], name_of: impl Fn(&str) -> String) -> String {
        std::fs::create_dir_all(dir).unwrap();
        let tmp = dir.join("tmp-blob");
        std::fs::write(&tmp, bytes).unwrap();
        let hex = sha256_file(&tmp).unwrap();
        std::fs::rename(&tmp, dir.join(name_of(&hex))).unwrap();
        hex
    }

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

    fn ollama_root(dir: &Path) -> StoreRoot {
        StoreRoot {
            kind: StoreKind::Ollama,
            dir: dir.to_path_buf(),
        }
    }

    fn by_ref<'a>(scan: &'a Scan, reference: &str) -> &'a Found {
        scan.found
            .iter()
            .find(|f| f.reference == reference)
            .unwrap_or_else(|| panic!("no {reference} in {:#?}", scan.found))
    }

    fn vars(pairs: &[(&str, &Path)]) -> HashMap<String, OsString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect()
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

    #[test]
    fn split_names_are_parsed() {
        assert_eq!(split_part("m-00002-of-00003.gguf"), Some(("m", 2, 3)));
        assert_eq!(split_part("m-00001-of-00001.gguf"), None);
        assert_eq!(split_part("m-q4_k_m.gguf"), None);
        assert_eq!(split_part("m-x-of-3.gguf"), None);
    }
}
