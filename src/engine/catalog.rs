//! `git deep-review models`: every model this machine has, where it lives,
//! what it is and whether it can review; and the user manifest edits
//! (`models add`, `models remove`) that pin a model by its hash.
//!
//! Listing reads GGUF headers only (no hashing, no llama.cpp), so it is
//! instant even for stores full of 20 GB files.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::gguf_meta::{format_params, read_gguf_info, GgufInfo};
use super::manifest::{self, ChatTemplate, Manifest, ModelEntry};
use super::stores::{self, StoreEnv};
use super::{template, verify};
use crate::error::{Error, Result};

/// How to leave the demonstration models behind, printed under the list.
pub const BRING_A_MODEL: &str =
    "To review for real, bring a capable model (a 7B-32B code model GGUF): \
     it is found where Ollama, LM Studio or the Hugging Face cache keep it, or run \
     `git deep-review models add PATH`; then `git deep-review init` chooses reviewers from it.";

/// Writes the manifest's models (verification records in `cache`);
/// returns how many of them can review (present, usable, not a
/// demonstration model).
pub fn list_manifest(m: &Manifest, cache: &Path, w: &mut dyn Write) -> Result<usize> {
    let io = |e| Error::io("writing the model list", e);
    writeln!(
        w,
        "Models directory: {} (manifest: {})",
        m.dir.display(),
        m.dir.join("manifest.toml").display()
    )
    .map_err(io)?;
    let mut capable = 0usize;
    for e in &m.models {
        if let Some(r) = &e.remote {
            writeln!(w, "\n{}  on {}", e.name, r.endpoints.join(", ")).map_err(io)?;
            writeln!(
                w,
                "  inference server (not contacted here; a review asks it what it serves){}{}",
                r.remote_model
                    .as_deref()
                    .map(|m| format!(" · model {m}"))
                    .unwrap_or_default(),
                r.api_key_env
                    .as_deref()
                    .map(|k| format!(" · key from ${k}"))
                    .unwrap_or_default()
            )
            .map_err(io)?;
            writeln!(
                w,
                "  code is sent there when it reviews; --offline refuses it"
            )
            .map_err(io)?;
            capable += 1;
            continue;
        }
        let path = m.path_of(e);
        writeln!(w, "\n{}  {}", e.name, path.display()).map_err(io)?;
        if !path.exists() {
            writeln!(
                w,
                "  missing: run ./install.sh or models/fetch.sh --dest {} (air-gapped: --models-from DIR)",
                m.dir.display()
            )
            .map_err(io)?;
            continue;
        }
        let ok = describe(w, &path, &e.chat_template, Some(e.n_ctx))?;
        let verified = if e.sha256.is_empty() {
            match verify::remembered_sha256(&path, cache) {
                Some(_) => "yes (hashed on first use)",
                None => "not yet (no sha256 in the manifest: hashed on first use and remembered)",
            }
        } else if verify::is_verified(e, &path, cache) {
            "yes"
        } else {
            "not yet (checked on first use)"
        };
        writeln!(w, "  verified: {verified}").map_err(io)?;
        if e.demonstration {
            writeln!(
                w,
                "  demonstration model: shows the pipeline working; far too small to review code"
            )
            .map_err(io)?;
        } else if ok {
            capable += 1;
        }
        if !e.license.is_empty() {
            writeln!(w, "  licence: {}", e.license).map_err(io)?;
        }
    }
    Ok(capable)
}

/// Writes the whole list: the manifest's models, then each store's.
pub fn list(w: &mut dyn Write, env: &StoreEnv) -> Result<()> {
    let m = manifest::load_manifest()?;
    let cache = verify::verified_cache_file();
    let io = |e| Error::io("writing the model list", e);
    let mut capable = list_manifest(&m, &cache, w)?;
    for (root, scan) in stores::scan_all(env) {
        writeln!(w, "\n{} ({})", root.kind.label(), root.dir.display()).map_err(io)?;
        if scan.found.is_empty() && scan.problems.is_empty() {
            writeln!(w, "  no GGUF models").map_err(io)?;
        }
        for f in &scan.found {
            writeln!(w, "\n{}  {}", f.reference, f.path.display()).map_err(io)?;
            if let Some(why) = &f.unusable {
                writeln!(w, "  unusable: {why}").map_err(io)?;
                continue;
            }
            let ok = describe(w, &f.path, &ChatTemplate::Auto, None)?;
            let verified = match (&f.sha256, verify::remembered_sha256(&f.path, &cache)) {
                (Some(digest), Some(sha)) if *digest != sha => {
                    "no: its content does not match its digest (damaged; pull it again)"
                }
                (_, Some(_)) => "yes",
                (Some(_), None) => "not yet (its digest is known; checked against it on first use)",
                (None, None) => "not yet (hashed on first use and remembered)",
            };
            writeln!(w, "  verified: {verified}").map_err(io)?;
            if m.is_demonstration(f.sha256.as_deref(), &f.path) {
                writeln!(
                    w,
                    "  demonstration model: the bundled file (same sha256); far too small to review code"
                )
                .map_err(io)?;
            } else {
                capable += usize::from(ok);
            }
        }
        for p in &scan.problems {
            writeln!(w, "  skipped: {p}").map_err(io)?;
        }
    }
    writeln!(w).map_err(io)?;
    if capable == 0 {
        writeln!(w, "{BRING_A_MODEL}").map_err(io)?;
    } else {
        writeln!(
            w,
            "Name a model in a reviewer's `model` (or `review.lead`) by its name or reference; \
             `git deep-review init` writes a configuration from what is here."
        )
        .map_err(io)?;
    }
    Ok(())
}

/// Writes the header facts of one file; `false` when it cannot be used
/// as it is (unreadable, split, or a template llama.cpp does not know).
fn describe(
    w: &mut dyn Write,
    path: &Path,
    template_setting: &ChatTemplate,
    n_ctx: Option<u32>,
) -> Result<bool> {
    let io = |e| Error::io("writing the model list", e);
    let info = match read_gguf_info(path) {
        Ok(i) => i,
        Err(e) => {
            writeln!(w, "  unreadable: {e}").map_err(io)?;
            return Ok(false);
        }
    };
    let trained = info
        .trained_context
        .map(|c| c.to_string())
        .unwrap_or_else(|| "unknown".into());
    let using = n_ctx.map(|n| format!(" (using {n})")).unwrap_or_default();
    writeln!(
        w,
        "  {:.1} MB · {} · {} · {} parameters · trained context {trained}{using}",
        info.file_size as f64 / 1e6,
        info.quantisation,
        info.architecture,
        format_params(info.parameters),
    )
    .map_err(io)?;
    let (text, _) = template_line(&info, template_setting);
    writeln!(w, "  chat template: {text}").map_err(io)?;
    match unusable_reason(&info, template_setting) {
        Some(why) => {
            writeln!(w, "  unusable: {why}").map_err(io)?;
            Ok(false)
        }
        None => Ok(true),
    }
}

/// Why a file cannot be run as it is (`None`: it can): one part of a split
/// GGUF, or a chat template llama.cpp does not know.
pub fn unusable_reason(info: &GgufInfo, setting: &ChatTemplate) -> Option<String> {
    if let Some(n) = info.split_count.filter(|&n| n > 1) {
        return Some(format!(
            "one part of a split GGUF ({n} parts); merge it with llama-gguf-split --merge"
        ));
    }
    let (_, ok) = template_line(info, setting);
    (!ok).then(|| "its chat template is not one llama.cpp knows: set chat_template".to_string())
}

/// What `models` says of a model's chat template, and whether it works.
pub fn template_line(info: &GgufInfo, setting: &ChatTemplate) -> (String, bool) {
    let thinking = |t: &str| match template::think_style(t) {
        Some(template::ThinkStyle::Tags) => " · thinks in <think> tags",
        Some(template::ThinkStyle::Harmony) => " · thinks in harmony channels",
        None => "",
    };
    match setting {
        ChatTemplate::Completion => ("none (completion layout)".into(), true),
        ChatTemplate::Named(n) => match template::family(n) {
            Some(f) => (format!("{f} (manifest override){}", thinking(n)), true),
            None => (
                format!(
                    "`{}` (manifest override) is not one llama.cpp knows: set one of {}",
                    n.chars().take(40).collect::<String>().escape_debug(),
                    template::BUILTIN_NAMES.join(", ")
                ),
                false,
            ),
        },
        ChatTemplate::Auto => match &info.chat_template {
            Some(t) => match template::family(t) {
                Some(f) => (format!("{f} (from the file){}", thinking(t)), true),
                None => (
                    "in the file, but not one llama.cpp's built-in renderer knows: \
                     set chat_template (git deep-review models add REF --chat-template NAME)"
                        .into(),
                    false,
                ),
            },
            None if info.has_chat_template => ("in the file (too long to inspect)".into(), true),
            None => (
                "none in the file (completion layout: a base model)".into(),
                true,
            ),
        },
    }
}

/// The layout version of `git deep-review models --format json`: raised
/// only when a field changes meaning or goes away (new fields may appear).
pub const LIST_JSON_VERSION: u32 = 1;

/// `git deep-review models --format json`: what the text list shows, for
/// scripts. Field names are snake_case and stable within a `version`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ListJson {
    /// [`LIST_JSON_VERSION`].
    pub version: u32,
    /// The models directory in use (absolute).
    pub models_dir: String,
    /// The user manifest in it (`manifest.toml`), whether or not it exists.
    pub manifest: String,
    /// Whether that file exists (without it only the built-in entries are listed).
    pub manifest_exists: bool,
    /// Every model: the manifest's entries, then each store's, in the text list's order.
    pub models: Vec<ModelJson>,
    /// Every store directory scanned, with what could not be read there.
    pub stores: Vec<StoreJson>,
}

/// One store directory in [`ListJson`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoreJson {
    /// `ollama`, `hugging_face`, `llama_cpp_cache` or `lm_studio`.
    pub store: &'static str,
    pub dir: String,
    /// What was skipped, each naming the path and the reason.
    pub problems: Vec<String>,
}

/// One model in [`ListJson`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelJson {
    /// What a reviewer's `model` names it by: the manifest name or the
    /// store reference (`ollama:NAME:TAG`, `hf:…`, `lmstudio:…`, or the
    /// path of a file in a flat llama.cpp cache).
    pub name: String,
    /// `manifest`, `ollama`, `hugging_face`, `llama_cpp_cache` or `lm_studio`.
    pub store: &'static str,
    /// The models directory (manifest) or the store directory it was found in.
    pub store_dir: String,
    /// The absolute path of the file llama.cpp opens (`null`: a model on an
    /// inference server).
    pub path: Option<String>,
    /// Whether the file is there.
    pub present: bool,
    /// The file's size in bytes (`null`: not there).
    pub size: Option<u64>,
    /// Lower-case hex: the manifest's or the store's digest, else the hash
    /// remembered from a first use (`null`: not known yet).
    pub sha256: Option<String>,
    /// `yes` (the file is known to match), `not_yet` (checked on first
    /// use), `mismatch` (its content does not match the expected sha256),
    /// `null` (no file to verify).
    pub verified: Option<&'static str>,
    /// From the GGUF header (`null` when there is no readable file).
    pub architecture: Option<String>,
    pub quantisation: Option<String>,
    pub parameters: Option<u64>,
    /// The context the model was trained with.
    pub trained_context: Option<u64>,
    /// The context the manifest entry allocates (`null`: chosen at run time).
    pub n_ctx: Option<u32>,
    pub chat_template: Option<TemplateJson>,
    /// A bundled model too small to review code.
    pub demonstration: bool,
    /// Whether it can be run as it is (a demonstration model can).
    pub usable: bool,
    /// Why not, in the text list's words (`null` when usable).
    pub unusable_reason: Option<String>,
    /// The manifest entry's `source` and `license` (`null` for store models).
    pub source: Option<String>,
    pub license: Option<String>,
    /// The inference server(s) of a manifest entry with `endpoint`(s).
    pub server: Option<ServerJson>,
}

/// How a model's prompts are laid out, in [`ModelJson`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TemplateJson {
    /// The manifest's `chat_template`: `auto` (the file's), `none`
    /// (completion layout) or a llama.cpp built-in name.
    pub setting: String,
    /// Whether the GGUF carries a chat template.
    pub in_file: bool,
    /// The llama.cpp built-in it is laid out with (`null`: none, or not recognised).
    pub family: Option<&'static str>,
    /// `tags` (`<think>`) or `harmony` (gpt-oss channels) when the model thinks first.
    pub thinking: Option<&'static str>,
    /// Whether llama.cpp can lay out prompts with it.
    pub known: bool,
    /// The text list's `chat template:` line.
    pub description: String,
}

/// The server part of a manifest entry, in [`ModelJson`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServerJson {
    pub endpoints: Vec<String>,
    pub remote_model: Option<String>,
    pub api_key_env: Option<String>,
}

/// The stable JSON name of a store.
fn store_key(kind: stores::StoreKind) -> &'static str {
    match kind {
        stores::StoreKind::Ollama => "ollama",
        stores::StoreKind::HuggingFace => "hugging_face",
        stores::StoreKind::LlamaCppCache => "llama_cpp_cache",
        stores::StoreKind::LmStudio => "lm_studio",
    }
}

/// `p` made absolute (not canonicalised: a store's symlink stays the
/// path llama.cpp is given), as text.
fn abs_text(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// A model with only its name and where it is; the rest filled in by the caller.
fn bare_model(name: &str, store: &'static str, store_dir: &Path) -> ModelJson {
    ModelJson {
        name: name.to_string(),
        store,
        store_dir: abs_text(store_dir),
        path: None,
        present: false,
        size: None,
        sha256: None,
        verified: None,
        architecture: None,
        quantisation: None,
        parameters: None,
        trained_context: None,
        n_ctx: None,
        chat_template: None,
        demonstration: false,
        usable: false,
        unusable_reason: None,
        source: None,
        license: None,
        server: None,
    }
}

/// Fills in what the header of the file at `path` says (as the text list's
/// `describe` does); `usable` is whether it can be run as it is.
fn header_facts(j: &mut ModelJson, path: &Path, setting: &ChatTemplate) {
    let info = match read_gguf_info(path) {
        Ok(i) => i,
        Err(e) => {
            j.unusable_reason = Some(format!("unreadable: {e}"));
            return;
        }
    };
    let text = match setting {
        ChatTemplate::Named(n) => Some(n.as_str()),
        ChatTemplate::Auto => info.chat_template.as_deref(),
        ChatTemplate::Completion => None,
    };
    let (description, known) = template_line(&info, setting);
    j.chat_template = Some(TemplateJson {
        setting: match setting {
            ChatTemplate::Auto => "auto".into(),
            ChatTemplate::Completion => "none".into(),
            ChatTemplate::Named(n) => n.clone(),
        },
        in_file: info.has_chat_template,
        family: text.and_then(template::family),
        thinking: text.and_then(template::think_style).map(|s| match s {
            template::ThinkStyle::Tags => "tags",
            template::ThinkStyle::Harmony => "harmony",
        }),
        known,
        description,
    });
    j.size = Some(info.file_size);
    j.architecture = Some(info.architecture.clone());
    j.quantisation = Some(info.quantisation.clone());
    j.parameters = Some(info.parameters);
    j.trained_context = info.trained_context;
    j.unusable_reason = unusable_reason(&info, setting);
    j.usable = j.unusable_reason.is_none();
}

/// One manifest entry as [`ModelJson`] (verification records in `cache`).
fn manifest_model(m: &Manifest, e: &ModelEntry, cache: &Path) -> ModelJson {
    let mut j = bare_model(&e.name, "manifest", &m.dir);
    j.demonstration = e.demonstration;
    j.source = Some(e.source.clone()).filter(|s| !s.is_empty());
    j.license = Some(e.license.clone()).filter(|s| !s.is_empty());
    if let Some(r) = &e.remote {
        j.server = Some(ServerJson {
            endpoints: r.endpoints.clone(),
            remote_model: r.remote_model.clone(),
            api_key_env: r.api_key_env.clone(),
        });
        j.n_ctx = Some(e.n_ctx).filter(|&n| n > 0);
        j.usable = true;
        return j;
    }
    let path = m.path_of(e);
    j.path = Some(abs_text(&path));
    j.n_ctx = Some(e.n_ctx);
    j.sha256 = Some(e.sha256.clone()).filter(|s| !s.is_empty());
    if !path.is_file() {
        j.unusable_reason = Some(format!(
            "missing: run ./install.sh or models/fetch.sh --dest {} (air-gapped: --models-from DIR)",
            m.dir.display()
        ));
        return j;
    }
    j.present = true;
    header_facts(&mut j, &path, &e.chat_template);
    let remembered = verify::remembered_sha256(&path, cache);
    j.verified = Some(match (&j.sha256, &remembered) {
        (Some(want), Some(got)) if want != got => "mismatch",
        (_, Some(_)) => "yes",
        (_, None) => "not_yet",
    });
    if j.sha256.is_none() {
        j.sha256 = remembered;
    }
    j
}

/// One store model as [`ModelJson`].
fn store_model(
    m: &Manifest,
    root: &stores::StoreRoot,
    f: &stores::Found,
    cache: &Path,
) -> ModelJson {
    let mut j = bare_model(&f.reference, store_key(root.kind), &root.dir);
    j.path = Some(abs_text(&f.path));
    j.present = f.path.is_file();
    j.size = Some(f.size).filter(|_| j.present);
    j.sha256 = f.sha256.clone();
    if let Some(why) = &f.unusable {
        j.unusable_reason = Some(why.clone());
        return j;
    }
    header_facts(&mut j, &f.path, &ChatTemplate::Auto);
    let remembered = verify::remembered_sha256(&f.path, cache);
    j.verified = Some(match (&f.sha256, &remembered) {
        (Some(digest), Some(sha)) if digest != sha => "mismatch",
        (_, Some(_)) => "yes",
        (_, None) => "not_yet",
    });
    if j.sha256.is_none() {
        j.sha256 = remembered;
    }
    j.demonstration = m.is_demonstration(f.sha256.as_deref(), &f.path);
    j
}

/// `git deep-review models --format json`: the list [`list`] writes, as
/// data. Reads headers only (no hashing beyond what the text list does,
/// no llama.cpp).
pub fn list_json(env: &StoreEnv) -> Result<ListJson> {
    let m = manifest::load_manifest()?;
    let cache = verify::verified_cache_file();
    let manifest_file = m.dir.join("manifest.toml");
    let mut models: Vec<ModelJson> = m
        .models
        .iter()
        .map(|e| manifest_model(&m, e, &cache))
        .collect();
    let mut store_list = Vec::new();
    for (root, scan) in stores::scan_all(env) {
        models.extend(scan.found.iter().map(|f| store_model(&m, &root, f, &cache)));
        store_list.push(StoreJson {
            store: store_key(root.kind),
            dir: abs_text(&root.dir),
            problems: scan.problems,
        });
    }
    Ok(ListJson {
        version: LIST_JSON_VERSION,
        models_dir: abs_text(&m.dir),
        manifest: abs_text(&manifest_file),
        manifest_exists: manifest_file.is_file(),
        models,
        stores: store_list,
    })
}

/// `git deep-review models --path MODEL`: the absolute path of the file
/// `model` names, resolved as a review resolves a reviewer's `model` (a
/// manifest name, a store reference, a GGUF path; relative paths from
/// `base`). Loads and hashes nothing. What resolves to no file here is
/// [`Error::Model`] (exit 4) saying why; a malformed store reference is a
/// usage error, as in a review.
pub fn resolve_path(model: &str, env: &StoreEnv, base: &Path) -> Result<PathBuf> {
    let mut m = manifest::load_manifest()?;
    m.add_references(&[model], env, base)?;
    let Some(entry) = m.get(model) else {
        return Err(Error::Model(format!(
            "no model named `{model}`: not an entry of the manifest ({}), a store reference \
             (ollama:NAME:TAG, hf:ORG/REPO/FILE.gguf, lmstudio:PUBLISHER/MODEL/FILE.gguf) or a \
             GGUF path; `git deep-review models` lists them",
            m.names().join(", ")
        )));
    };
    if let Some(r) = &entry.remote {
        return Err(Error::Model(format!(
            "`{model}` is served by an inference server ({}): it has no file on this machine",
            r.endpoints.join(", ")
        )));
    }
    let path = m.path_of(entry);
    if !path.is_file() {
        return Err(verify::missing_model_error(entry, &path));
    }
    Ok(std::path::absolute(&path).unwrap_or(path))
}

/// What `models add` is asked to pin.
#[derive(Debug, Clone, Default)]
pub struct AddRequest {
    /// A store reference or a file path.
    pub model: String,
    pub name: Option<String>,
    pub chat_template: Option<String>,
    pub n_ctx: Option<u32>,
}

/// `git deep-review models add`: hashes the file (checking it against the
/// digest its store gives, if any), remembers the verification, and adds a
/// pinned entry to `<models dir>/manifest.toml`. Returns the entry.
pub fn add(req: &AddRequest, env: &StoreEnv, say: &mut dyn FnMut(&str)) -> Result<ModelEntry> {
    let m = manifest::load_manifest()?;
    let (path, known_sha, source) = if stores::is_reference(&req.model) {
        let f = stores::resolve(&req.model, env)?;
        (f.path, f.sha256, req.model.clone())
    } else {
        let p = PathBuf::from(&req.model);
        let abs = if p.is_absolute() {
            p
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io("reading the current directory", e))?
                .join(p)
        };
        super::entry::check_regular_file(&abs)?;
        if !abs.is_file() {
            return Err(Error::Model(format!(
                "{} is not a file; name a GGUF file or a store reference (`git deep-review models` lists them)",
                abs.display()
            )));
        }
        let source = format!("file {}", abs.display());
        (abs, None, source)
    };
    let info = read_gguf_info(&path)?;
    if let Some(n) = info.split_count.filter(|&n| n > 1) {
        return Err(Error::Model(format!(
            "{} is one part of a split GGUF ({n} parts); merge it first: llama-gguf-split --merge FIRST-PART OUT.gguf",
            path.display()
        )));
    }
    let name = match &req.name {
        Some(n) => n.trim().to_string(),
        None => default_name(&req.model),
    };
    if let Err(why) = manifest::check_model_name(&name) {
        return Err(Error::Usage(format!(
            "{why}; choose another with --name (a plain name such as `coder-7b`)"
        )));
    }
    if let Some(r) = m.rejected(&name) {
        return Err(Error::Usage(format!(
            "a model named `{name}` is already in the manifest, left out because it is wrong ({}); \
             fix it, or choose another name with --name",
            r.message
        )));
    }
    if m.get(&name).is_some() {
        return Err(Error::Usage(format!(
            "a model named `{name}` is already in the manifest; choose another with --name, or \
             `git deep-review models remove {name}` first"
        )));
    }
    let chat_template = match req.chat_template.as_deref() {
        None => ChatTemplate::Auto,
        Some("none") | Some("completion") => ChatTemplate::Completion,
        Some(t) if template::family(t).is_some() => ChatTemplate::Named(t.to_string()),
        Some(t) => {
            return Err(Error::Usage(format!(
            "--chat-template {t:?} is not a template llama.cpp knows; use one of {} (or \"none\")",
            template::BUILTIN_NAMES.join(", ")
        )))
        }
    };
    let mut entry = ModelEntry {
        name: name.clone(),
        file: path.display().to_string(),
        sha256: known_sha.unwrap_or_default(),
        size: info.file_size,
        source,
        license: String::new(),
        chat_template,
        n_ctx: req
            .n_ctx
            .unwrap_or(manifest::REFERENCE_N_CTX)
            .min(
                info.trained_context
                    .map_or(u32::MAX, |t| t.min(u64::from(u32::MAX)) as u32),
            )
            .max(512),
        demonstration: false,
        remote: None,
    };
    say(&format!(
        "hashing {} ({:.1} GB)…",
        path.display(),
        info.file_size as f64 / 1e9
    ));
    let cache = verify::verified_cache_file();
    verify::verify_model_with_cache(&entry, &path, &cache)?;
    entry.sha256 = verify::sha256_remembered(&path, &cache)?;
    append_entry(&m.dir.join("manifest.toml"), &entry)?;
    Ok(entry)
}

/// A manifest name from a reference or path: `ollama:qwen2.5-coder:7b` →
/// `qwen2.5-coder-7b`, a file → its stem.
pub fn default_name(model: &str) -> String {
    if let Some(rest) = model.strip_prefix("ollama:") {
        let last = rest.rsplit('/').next().unwrap_or(rest);
        return last.replace(':', "-");
    }
    let file = model.rsplit('/').next().unwrap_or(model);
    file.strip_suffix(".gguf").unwrap_or(file).to_string()
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The `[[model]]` block for `e`.
fn entry_block(e: &ModelEntry) -> String {
    let mut b = format!(
        "\n# Added by `git deep-review models add`.\n[[model]]\nname = {}\nfile = {}\nsha256 = {}\nsize = {}\nsource = {}\nn_ctx = {}\n",
        toml_str(&e.name),
        toml_str(&e.file),
        toml_str(&e.sha256),
        e.size,
        toml_str(&e.source),
        e.n_ctx
    );
    match &e.chat_template {
        ChatTemplate::Auto => {}
        ChatTemplate::Completion => b.push_str("chat_template = \"none\"\n"),
        ChatTemplate::Named(t) => b.push_str(&format!("chat_template = {}\n", toml_str(t))),
    }
    b
}

/// Appends `e` to the user manifest at `path`, atomically (the old text is
/// kept byte for byte, and the result must still parse).
fn append_entry(path: &Path, e: &ModelEntry) -> Result<()> {
    let old = read_or_empty(path)?;
    let mut text = old.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&entry_block(e));
    no_new_problems(&old, &text, path)?;
    write_atomic(path, &text)
}

/// `git deep-review models remove NAME`: removes the entry from the user
/// manifest (the comment lines just above it go with it); the model file
/// itself is never touched.
pub fn remove(name: &str) -> Result<PathBuf> {
    let m = manifest::load_manifest()?;
    let path = m.dir.join("manifest.toml");
    let text = read_or_empty(&path)?;
    let (kept, removed) = without_entry(&text, name);
    if !removed {
        let builtin = Manifest::parse(manifest::DEFAULT_MANIFEST, "built-in")?
            .iter()
            .any(|e| e.name == name);
        return Err(Error::Usage(if builtin {
            format!("`{name}` is a built-in model; it cannot be removed (a reviewer simply need not use it)")
        } else {
            format!(
                "no model named `{name}` in {}; `git deep-review models` lists them",
                path.display()
            )
        }));
    }
    no_new_problems(&text, &kept, &path)?;
    write_atomic(&path, &kept)?;
    Ok(path)
}

/// An edit of the user manifest must leave it a manifest with no entry
/// wrong that was not wrong before: entries already wrong (reported as
/// warnings) do not block editing the others.
fn no_new_problems(before: &str, after: &str, path: &Path) -> Result<()> {
    let origin = path.display().to_string();
    let (_, was) = Manifest::parse_lenient(before, &origin).unwrap_or_default();
    let (_, now) = Manifest::parse_lenient(after, &origin)?;
    match now.into_iter().find(|r| !was.contains(r)) {
        Some(r) => Err(Error::Config(r.message)),
        None => Ok(()),
    }
}

/// `text` without the `[[model]]` table named `name`, and whether it was
/// there. Works on lines so everything else (comments, order, spacing)
/// stays as the user wrote it.
fn without_entry(text: &str, name: &str) -> (String, bool) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let mut out: Vec<&str> = Vec::new();
    let mut removed = false;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "[[model]]" {
            let end = (i + 1..lines.len())
                .find(|&j| is_header(lines[j]))
                .unwrap_or(lines.len());
            let block: String = lines[i..end].concat();
            let matches = toml::from_str::<toml::Table>(&block.replacen("[[model]]", "", 1))
                .ok()
                .and_then(|t| t.get("name").and_then(|v| v.as_str()).map(|n| n == name))
                .unwrap_or(false);
            if matches && !removed {
                // Comment lines directly above belong to the entry.
                while out.last().is_some_and(|l| l.trim_start().starts_with('#')) {
                    out.pop();
                }
                // So does the blank line `models add` put before them.
                if out.last().is_some_and(|l| l.trim().is_empty()) {
                    out.pop();
                }
                removed = true;
                // Trailing comment lines of the block that precede the next
                // header belong to the next entry: keep them.
                let mut k = end;
                while k > i + 1 && lines[k - 1].trim_start().starts_with('#') {
                    k -= 1;
                }
                out.extend_from_slice(&lines[k..end]);
                i = end;
                continue;
            }
        }
        out.push(lines[i]);
        i += 1;
    }
    (out.concat(), removed)
}

fn read_or_empty(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// Writes through a temporary file renamed into place: an interrupted
/// write never leaves half a manifest. The new file keeps the mode, owner
/// and group of the one it replaces (a temporary file is made 0600, and a
/// manifest or configuration that was 0644 must not become unreadable to
/// whoever read it before); a new file gets the usual 0666 less the umask.
/// The owner is kept where the process may set it (root), the group where
/// it is one of the process's groups; otherwise they are the process's, as
/// for any file it writes.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let old = std::fs::metadata(path).ok().filter(|m| m.is_file());
    let mut tmp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("writing in {}", dir.display()), e))?;
    if let Some(old) = &old {
        // Best effort: the group may not be ours to give, the owner only root's.
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(old.uid()), Some(old.gid()));
        let _ = std::os::unix::fs::fchown(tmp.as_file(), None, Some(old.gid()));
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777))
            .map_err(|e| Error::io(format!("keeping the mode of {}", path.display()), e))?;
    }
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> ModelEntry {
        ModelEntry {
            name: name.into(),
            file: format!("/m/{name}.gguf"),
            sha256: "ab".repeat(32),
            size: 10,
            source: "test".into(),
            license: String::new(),
            chat_template: ChatTemplate::Named("chatml".into()),
            n_ctx: 4096,
            demonstration: false,
            remote: None,
        }
    }

    #[test]
    fn add_then_remove_keeps_the_users_own_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("manifest.toml");
        let mine = "# my models\n[[model]]\nname = \"mine\"\nfile = \"mine.gguf\"\n";
        std::fs::write(&p, mine).unwrap();
        append_entry(&p, &entry("coder")).unwrap();
        append_entry(&p, &entry("other")).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let parsed = Manifest::parse(&text, "t").unwrap();
        let names: Vec<&str> = parsed.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["mine", "coder", "other"]);
        assert_eq!(
            parsed[1].chat_template,
            ChatTemplate::Named("chatml".into())
        );
        let (kept, removed) = without_entry(&text, "coder");
        assert!(removed);
        let names: Vec<String> = Manifest::parse(&kept, "t")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["mine", "other"]);
        assert!(kept.starts_with(mine), "{kept}");
        assert_eq!(
            kept.matches("# Added by").count(),
            1,
            "the removed entry's comment went with it: {kept}"
        );
        let (back, removed) = without_entry(&kept, "other");
        assert!(removed);
        assert_eq!(back, mine, "removing what was added gives the file back");
        assert_eq!(without_entry(mine, "nope"), (mine.to_string(), false));
    }

    #[test]
    fn default_names_are_short_and_manifest_safe() {
        assert_eq!(default_name("ollama:qwen2.5-coder:7b"), "qwen2.5-coder-7b");
        assert_eq!(
            default_name("ollama:hf.co/bartowski/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M"),
            "Qwen2.5-Coder-7B-Instruct-GGUF-Q4_K_M"
        );
        assert_eq!(
            default_name(
                "hf:Qwen/Qwen2.5-Coder-7B-Instruct-GGUF/qwen2.5-coder-7b-instruct-q4_k_m.gguf"
            ),
            "qwen2.5-coder-7b-instruct-q4_k_m"
        );
        assert_eq!(default_name("/models/x.gguf"), "x");
    }

    #[test]
    fn the_template_line_says_whether_llama_cpp_can_lay_out_the_prompt() {
        let info = |t: Option<&str>| GgufInfo {
            has_chat_template: t.is_some(),
            chat_template: t.map(str::to_string),
            ..Default::default()
        };
        let (t, ok) = template_line(&info(Some("<|im_start|>{{x}}<think>")), &ChatTemplate::Auto);
        assert!(
            ok && t.starts_with("chatml (from the file)") && t.contains("<think>"),
            "{t}"
        );
        let (t, ok) = template_line(&info(Some("{{ weird }}")), &ChatTemplate::Auto);
        assert!(!ok && t.contains("--chat-template"), "{t}");
        let (t, ok) = template_line(
            &info(Some("{{ weird }}")),
            &ChatTemplate::Named("llama3".into()),
        );
        assert!(ok && t.starts_with("llama3 (manifest override)"), "{t}");
        let (_, ok) = template_line(&info(None), &ChatTemplate::Named("nonsense".into()));
        assert!(!ok);
        let (t, ok) = template_line(&info(None), &ChatTemplate::Auto);
        assert!(ok && t.contains("base model"), "{t}");
    }
}
