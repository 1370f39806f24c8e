//! Which models exist and where their files are.
//!
//! The default manifest (`models/manifest.toml`) is compiled into the binary
//! so an installed binary needs no source tree; a `manifest.toml` next to the
//! model files adds or overrides entries by name. That is how users on an
//! air-gapped box add their own (larger) models without rebuilding.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The manifest shipped with the source, embedded at build time.
pub const DEFAULT_MANIFEST: &str = include_str!("../../models/manifest.toml");

/// Environment variable naming the models directory (wins over XDG).
pub const MODELS_DIR_ENV: &str = "GIT_DEEP_REVIEW_MODELS_DIR";

/// Context length used when an entry does not say.
pub const DEFAULT_N_CTX: u32 = 4096;
pub use crate::engine::entry::{ChatTemplate, ModelEntry};

/// All configured models, in manifest order (defaults first, then user additions).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    pub models: Vec<ModelEntry>,
    /// Directory the model files live in.
    pub dir: PathBuf,
    /// Entries of the user manifest that were left out, and why: one bad
    /// entry must not take the others (or `models remove`) with it.
    pub rejected: Vec<Rejected>,
}

/// A `[[model]]` entry of the user manifest that was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Its `name` (`#N`, its position, when it has none).
    pub name: String,
    /// Why, naming the manifest file and the entry.
    pub message: String,
}

/// Checks a model's name: a name, not a path or an option. Names end up
/// in file names, command lines and reports, so `/`, `\`, `..`, control
/// characters and a leading `-` are refused, as is an empty name.
pub fn check_model_name(name: &str) -> std::result::Result<(), String> {
    let why = if name.trim().is_empty() {
        "is empty"
    } else if name.contains(['/', '\\']) {
        "holds a path separator (a name is not a path)"
    } else if name.contains("..") {
        "holds `..` (a name is not a path)"
    } else if name.chars().any(char::is_control) {
        "holds a control character"
    } else if name.starts_with('-') {
        "starts with `-` (it would read as an option)"
    } else if name.contains('"') {
        "holds a double quote"
    } else {
        return Ok(());
    };
    Err(format!("the model name {name:?} {why}"))
}

impl Manifest {
    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Path of `entry`'s file.
    pub fn path_of(&self, entry: &ModelEntry) -> PathBuf {
        entry.path_in(&self.dir)
    }

    /// Adds an entry for every model in `names` that is a store reference
    /// (`ollama:…`, `hf:…`, `lmstudio:…`) or a file path and not already an
    /// entry, so the rest of the run treats it like any manifest model. The
    /// files stay where they are (opened read-only, memory-mapped). A
    /// reference that does not resolve is an error (exit 4) saying where it
    /// was looked for.
    /// Relative paths are taken from `base` (the repository root).
    pub fn add_references(
        &mut self,
        names: &[&str],
        env: &super::stores::StoreEnv,
        base: &Path,
    ) -> Result<()> {
        for name in names {
            if self.get(name).is_some() {
                continue;
            }
            let entry = if super::remote::is_endpoint_url(name) {
                url_entry(name)?
            } else if super::stores::is_reference(name) {
                let found = super::stores::resolve(name, env)?;
                let mut e = reference_entry(name, &found);
                e.demonstration = self.is_demonstration(found.sha256.as_deref(), &found.path);
                e
            } else if is_model_path(name) {
                let mut e = path_entry(name, base)?;
                e.demonstration = self.is_demonstration(None, Path::new(&e.file));
                e
            } else {
                continue;
            };
            self.models.push(entry);
        }
        Ok(())
    }

    /// A file with this sha256 is one of the demonstration models (a
    /// bundled model copied into a store is still no reviewer).
    pub fn is_demonstration_file(&self, sha256: &str) -> bool {
        !sha256.is_empty()
            && self
                .models
                .iter()
                .any(|m| m.demonstration && m.sha256 == sha256)
    }

    /// [`Manifest::is_demonstration_file`] for a file whose hash may be
    /// unknown (LM Studio, a path): one with exactly a demonstration
    /// model's size is hashed to tell (those files are small).
    pub fn is_demonstration(&self, sha256: Option<&str>, path: &Path) -> bool {
        if let Some(sha) = sha256.filter(|s| !s.is_empty()) {
            return self.is_demonstration_file(sha);
        }
        let Ok(size) = std::fs::metadata(path).map(|m| m.len()) else {
            return false;
        };
        self.models
            .iter()
            .any(|m| m.demonstration && m.size == size && m.size > 0)
            // Remembered, so the next run (and the file's verification)
            // does not hash it again.
            && super::verify::sha256_remembered(path, &super::verify::verified_cache_file())
                .is_ok_and(|s| self.is_demonstration_file(&s))
    }

    /// Names of all entries, for error messages.
    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }

    /// Parses manifest text; `origin` names it in errors. Every entry
    /// must be valid (the built-in manifest, and text about to be written).
    pub fn parse(text: &str, origin: &str) -> Result<Vec<ModelEntry>> {
        let (entries, rejected) = Manifest::parse_lenient(text, origin)?;
        match rejected.into_iter().next() {
            Some(r) => Err(Error::Config(r.message)),
            None => Ok(entries),
        }
    }

    /// Parses manifest text, leaving out (and returning) the entries that
    /// are wrong. Only text that is not a manifest at all (bad TOML,
    /// something other than `[[model]]` tables) is an error.
    pub fn parse_lenient(text: &str, origin: &str) -> Result<(Vec<ModelEntry>, Vec<Rejected>)> {
        let invalid = |e: &dyn std::fmt::Display| {
            Error::Config(format!("{origin}: invalid model manifest: {e}"))
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| invalid(&e))?;
        if let Some(k) = table.keys().find(|k| *k != "model") {
            return Err(invalid(&format!(
                "unknown key `{k}` (a manifest holds [[model]] tables)"
            )));
        }
        let list = match table.get("model") {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a.clone(),
            Some(_) => return Err(invalid(&"`model` must be [[model]] tables")),
        };
        let mut out = Vec::new();
        let mut rejected = Vec::new();
        for (i, v) in list.into_iter().enumerate() {
            let name = v
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{}", i + 1));
            let entry = v
                .try_into::<RawEntry>()
                .map_err(|e| Error::Config(format!("{origin}: model `{name}`: {e}")))
                .and_then(|raw| Manifest::entry(raw, origin));
            match entry {
                Ok(e) => out.push(e),
                Err(e) => rejected.push(Rejected {
                    name,
                    message: e.to_string(),
                }),
            }
        }
        Ok((out, rejected))
    }

    /// One entry, checked.
    fn entry(m: RawEntry, origin: &str) -> Result<ModelEntry> {
        {
            let bad = |what: &str| Error::Config(format!("{origin}: model `{}`: {what}", m.name));
            if m.name.trim().is_empty() {
                return Err(Error::Config(format!(
                    "{origin}: a [[model]] entry has an empty name"
                )));
            }
            if m.name.starts_with("standin:") {
                return Err(bad(
                    "names starting with `standin:` are reserved for the test stand-in",
                ));
            }
            if let Err(why) = check_model_name(&m.name) {
                return Err(Error::Config(format!("{origin}: {why}")));
            }
            let remote = remote_spec(&m).map_err(|e| bad(&e))?;
            let file = m.file.clone().unwrap_or_default();
            match (&remote, file.trim().is_empty()) {
                (None, true) => {
                    return Err(bad(
                        "needs `file` (a GGUF file) or `endpoint` (an inference server URL)",
                    ))
                }
                (Some(_), false) => {
                    return Err(bad(
                        "has both `file` and `endpoint`: a model is either a file here or served by a server",
                    ))
                }
                _ => {}
            }
            let sha = m
                .sha256
                .clone()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !sha.is_empty() && (sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(bad("`sha256` must be 64 hex digits"));
            }
            let n_ctx = match (m.n_ctx, &remote) {
                (Some(n), _) => n,
                // The server says what it allows.
                (None, Some(_)) => 0,
                (None, None) => DEFAULT_N_CTX,
            };
            if m.n_ctx.is_some() && n_ctx < 256 {
                return Err(bad("`n_ctx` must be at least 256"));
            }
            Ok(ModelEntry {
                chat_template: ChatTemplate::parse(m.chat_template.as_deref()),
                name: m.name,
                file,
                sha256: sha,
                size: m.size.unwrap_or(0),
                source: m.source.unwrap_or_default(),
                license: m.license.unwrap_or_default(),
                n_ctx,
                demonstration: m.demonstration.unwrap_or(false),
                remote,
            })
        }
    }

    /// The user manifest's entry `name` if it was left out.
    pub fn rejected(&self, name: &str) -> Option<&Rejected> {
        self.rejected.iter().find(|r| r.name == name)
    }

    /// The embedded defaults overlaid with `extra` entries (same name = replaced).
    pub fn merged(dir: PathBuf, extra: Vec<ModelEntry>) -> Result<Manifest> {
        let mut models = Manifest::parse(DEFAULT_MANIFEST, "built-in models/manifest.toml")?;
        for e in extra {
            match models.iter_mut().find(|m| m.name == e.name) {
                Some(slot) => *slot = e,
                None => models.push(e),
            }
        }
        Ok(Manifest {
            models,
            dir,
            rejected: Vec::new(),
        })
    }
}

/// Context allocated for a store reference or a path (the engine lowers it
/// to the model's trained context and to what fits in memory).
pub const REFERENCE_N_CTX: u32 = 8192;

pub use crate::config::model_ref::is_model_path;

/// The entry a store reference stands for.
pub fn reference_entry(name: &str, found: &super::stores::Found) -> ModelEntry {
    ModelEntry {
        chat_template: ollama_template(found),
        name: name.to_string(),
        file: found.path.display().to_string(),
        // Known for Ollama and Hugging Face blobs (their names are the
        // digest); otherwise hashed on first use and remembered.
        sha256: found.sha256.clone().unwrap_or_default(),
        size: found.size,
        source: format!("{} ({})", found.kind.label(), found.path.display()),
        license: String::new(),
        n_ctx: REFERENCE_N_CTX,
        demonstration: false,
        remote: None,
    }
}

/// Some Ollama GGUFs carry no chat template; Ollama lays out their prompts
/// from its own (Go) template layer, whose markers name the family as well
/// as a Jinja template's do. Every other file speaks for itself.
fn ollama_template(found: &super::stores::Found) -> ChatTemplate {
    let Some(layer) = &found.template else {
        return ChatTemplate::Auto;
    };
    let has_own = super::gguf_meta::read_gguf_info(&found.path)
        .map(|i| i.has_chat_template)
        .unwrap_or(true);
    if has_own {
        return ChatTemplate::Auto;
    }
    let go = std::fs::File::open(layer).ok().and_then(|f| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(f, 1 << 16), &mut s).ok()?;
        Some(s)
    });
    match go.as_deref().and_then(super::template::family) {
        Some(f) => ChatTemplate::Named(f.to_string()),
        None => ChatTemplate::Auto,
    }
}

/// The entry for a model named by its file path (`~/` is the home
/// directory; relative paths are taken from `base`).
fn path_entry(name: &str, base: &Path) -> Result<ModelEntry> {
    let joined = match name.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => base.join(name),
    };
    // `base` may itself be relative (the repository found from "." is
    // "."): a relative `file` would later be taken from the models
    // directory instead.
    let abs = std::path::absolute(&joined).unwrap_or(joined);
    super::entry::check_regular_file(&abs)?;
    let md = std::fs::metadata(&abs).map_err(|e| {
        Error::Model(format!(
            "model {name:?}: cannot read {}: {e}; name a GGUF file that exists, a store reference \
             (ollama:NAME:TAG, hf:ORG/REPO/FILE.gguf, lmstudio:PUBLISHER/MODEL/FILE.gguf) or a manifest \
             entry (`git deep-review models` lists them)",
            abs.display()
        ))
    })?;
    Ok(ModelEntry {
        name: name.to_string(),
        file: abs.display().to_string(),
        sha256: String::new(),
        size: md.len(),
        source: "a file path".into(),
        license: String::new(),
        chat_template: ChatTemplate::Auto,
        n_ctx: REFERENCE_N_CTX,
        demonstration: false,
        remote: None,
    })
}

/// The entry for a model named by an endpoint URL: the one model that
/// server serves, with the defaults of a `[[model]]` endpoint entry.
fn url_entry(url: &str) -> Result<ModelEntry> {
    // The error names the URL only as parse_endpoint shows it: a URL
    // with a password in it is never echoed.
    let ep =
        super::remote::parse_endpoint(url).map_err(|e| Error::Config(format!("model: {e}")))?;
    Ok(ModelEntry {
        name: url.to_string(),
        file: String::new(),
        sha256: String::new(),
        size: 0,
        source: format!("the server at {}", ep.base),
        license: String::new(),
        chat_template: ChatTemplate::Auto,
        n_ctx: 0,
        demonstration: false,
        remote: Some(super::remote::RemoteSpec::new(vec![ep.base])),
    })
}

/// The server part of a `[[model]]` entry, if it has one.
fn remote_spec(m: &RawEntry) -> std::result::Result<Option<super::remote::RemoteSpec>, String> {
    use super::remote::spec;
    let mut urls: Vec<String> = Vec::new();
    urls.extend(m.endpoint.iter().cloned());
    urls.extend(m.endpoints.iter().flatten().cloned());
    let has_server_keys = m.remote_model.is_some()
        || m.api_key_env.is_some()
        || m.max_concurrency.is_some()
        || m.timeout.is_some()
        || m.ca_file.is_some();
    if urls.is_empty() {
        if has_server_keys {
            return Err(
                "`remote_model`, `api_key_env`, `max_concurrency`, `timeout` and `ca_file` \
                        need `endpoint` (or `endpoints`)"
                    .into(),
            );
        }
        return Ok(None);
    }
    let mut endpoints = Vec::new();
    for u in &urls {
        let ep = spec::parse_endpoint(u)?;
        if endpoints.contains(&ep.base) {
            return Err(format!("endpoint {} is listed twice", ep.base));
        }
        endpoints.push(ep.base);
    }
    let mut r = super::remote::RemoteSpec::new(endpoints);
    r.remote_model = m.remote_model.clone().filter(|s| !s.trim().is_empty());
    if let Some(var) = &m.api_key_env {
        if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!(
                "`api_key_env` names an environment variable (letters, digits, _), not a key: {:?}",
                if var.len() > 4 {
                    format!("{}…", &var[..4])
                } else {
                    var.clone()
                }
            ));
        }
        r.api_key_env = Some(var.clone());
    }
    if let Some(n) = m.max_concurrency {
        if !(1..=256).contains(&n) {
            return Err(format!("`max_concurrency` = {n} is out of range (1..=256)"));
        }
        r.max_concurrency = n as usize;
    }
    if let Some(t) = &m.timeout {
        let secs = match t {
            toml::Value::Integer(n) if *n > 0 => Some(*n as u64),
            toml::Value::String(s) => crate::config::parse_duration_secs(s),
            _ => None,
        };
        r.timeout_secs = secs.ok_or_else(|| {
            format!("`timeout` = {t}: expected seconds or a duration such as \"90s\", \"10m\"")
        })?;
    }
    r.ca_file = m.ca_file.as_ref().map(|p| PathBuf::from(p.trim()));
    Ok(Some(r))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    file: Option<String>,
    endpoint: Option<String>,
    endpoints: Option<Vec<String>>,
    remote_model: Option<String>,
    api_key_env: Option<String>,
    max_concurrency: Option<u32>,
    timeout: Option<toml::Value>,
    ca_file: Option<String>,
    sha256: Option<String>,
    size: Option<u64>,
    source: Option<String>,
    license: Option<String>,
    chat_template: Option<String>,
    n_ctx: Option<u32>,
    demonstration: Option<bool>,
}

/// The directory model files are looked up in: `$GIT_DEEP_REVIEW_MODELS_DIR`,
/// else `$XDG_DATA_HOME/git-deep-review/models`, else
/// `~/.local/share/git-deep-review/models`.
pub fn models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    data_home().join("git-deep-review").join("models")
}

fn data_home() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        let p = PathBuf::from(d);
        // The XDG spec says relative values are invalid and must be ignored.
        if p.is_absolute() {
            return p;
        }
    }
    home().join(".local").join("share")
}

pub(crate) use crate::engine::entry::home;

/// The embedded manifest plus `<models dir>/manifest.toml` if it exists.
pub fn load_manifest() -> Result<Manifest> {
    load_manifest_from(&models_dir())
}

/// Like [`load_manifest`] with an explicit models directory.
pub fn load_manifest_from(dir: &Path) -> Result<Manifest> {
    check_models_dir(dir)?;
    let user = dir.join("manifest.toml");
    let (extra, rejected) = match std::fs::read_to_string(&user) {
        Ok(text) => Manifest::parse_lenient(&text, &user.display().to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(e) => return Err(Error::io(format!("reading {}", user.display()), e)),
    };
    for r in &rejected {
        warn_once(&format!(
            "{}; the entry is left out, the others are used (fix or remove it there)",
            r.message
        ));
    }
    let mut m = Manifest::merged(dir.to_path_buf(), extra)?;
    m.rejected = rejected;
    Ok(m)
}

/// Prints a warning once per process: the manifest is read by several
/// stages of one run.
fn warn_once(msg: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if !seen.iter().any(|s| s == msg) {
        eprintln!("git-deep-review: warning: {msg}");
        seen.push(msg.to_string());
    }
}

/// A models directory that exists but is not a directory is a model
/// problem (exit 4) named by where it came from, not an I/O error about
/// `manifest.toml`. A missing directory is left to the per-model "file not
/// found" message, which says how to fetch the models.
fn check_models_dir(dir: &Path) -> Result<()> {
    let Ok(md) = std::fs::metadata(dir) else {
        return Ok(());
    };
    if md.is_dir() {
        return Ok(());
    }
    let from_env = std::env::var_os(MODELS_DIR_ENV).is_some_and(|v| Path::new(&v) == dir);
    let origin = if from_env {
        format!("{MODELS_DIR_ENV}={}", dir.display())
    } else {
        format!("the models directory {}", dir.display())
    };
    let fix = if from_env {
        format!(
            "point {MODELS_DIR_ENV} at the directory holding the model files \
             (and their manifest.toml), or unset it"
        )
    } else {
        format!("move it away, or set {MODELS_DIR_ENV} to the directory holding the model files")
    };
    Err(Error::Model(format!("{origin} is not a directory; {fix}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_has_the_two_default_models() {
        let m = Manifest::merged(PathBuf::from("/m"), vec![]).unwrap();
        let smol = m.get("smollm2-135m").unwrap();
        assert_eq!(smol.size, 98_362_432);
        assert_eq!(smol.chat_template, ChatTemplate::Auto);
        assert!(
            smol.demonstration,
            "bundled models are demonstration models"
        );
        let gemma = m.get("gemma3-270m").unwrap();
        assert!(gemma.demonstration);
        assert_eq!(gemma.chat_template, ChatTemplate::Named("gemma".into()));
        assert_eq!(
            m.path_of(gemma),
            PathBuf::from("/m/gemma-3-270m-q4_k_m.gguf")
        );
    }

    #[test]
    fn user_manifest_adds_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("manifest.toml"),
            r#"
[[model]]
name = "gemma3-270m"
file = "/abs/other.gguf"
n_ctx = 1024
chat_template = "none"

[[model]]
name = "coder-7b"
file = "coder.gguf"
sha256 = "AB00000000000000000000000000000000000000000000000000000000000000"
"#,
        )
        .unwrap();
        let m = load_manifest_from(dir.path()).unwrap();
        assert_eq!(m.names(), vec!["smollm2-135m", "gemma3-270m", "coder-7b"]);
        let g = m.get("gemma3-270m").unwrap();
        assert_eq!(g.n_ctx, 1024);
        assert_eq!(g.chat_template, ChatTemplate::Completion);
        assert_eq!(m.path_of(g), PathBuf::from("/abs/other.gguf"));
        let c = m.get("coder-7b").unwrap();
        assert!(
            !c.demonstration,
            "a user entry is not a demonstration model unless it says so"
        );
        assert_eq!(c.sha256.len(), 64);
        assert!(c.sha256.starts_with("ab"));
        assert_eq!(m.path_of(c), dir.path().join("coder.gguf"));
    }

    #[test]
    fn endpoint_entries_parse_into_pools_and_bad_ones_say_why() {
        let m = Manifest::parse(
            r#"
[[model]]
name = "team-coder"
endpoints = ["http://gpu-a.lan:8080/v1", "http://gpu-b.lan:8080"]
remote_model = "qwen2.5-coder-32b"
api_key_env = "DEEP_REVIEW_API_KEY"
max_concurrency = 6
timeout = "2m"

[[model]]
name = "one"
endpoint = "https://llm.corp/v1"
n_ctx = 16384
"#,
            "m.toml",
        )
        .unwrap();
        let r = m[0].remote.as_ref().unwrap();
        assert_eq!(
            r.endpoints,
            vec!["http://gpu-a.lan:8080/v1", "http://gpu-b.lan:8080/v1"]
        );
        assert_eq!(r.remote_model.as_deref(), Some("qwen2.5-coder-32b"));
        assert_eq!((r.max_concurrency, r.timeout_secs), (6, 120));
        assert_eq!(
            (m[0].n_ctx, m[0].file.as_str()),
            (0, ""),
            "the server tells its context"
        );
        assert_eq!(m[1].n_ctx, 16384);
        assert_eq!(m[1].remote.as_ref().unwrap().max_concurrency, 4);
        for (bad, says) in [
            ("file = \"a.gguf\"\nendpoint = \"http://h:1/v1\"", "both"),
            ("", "needs `file`"),
            ("endpoint = \"http://u:pw@h:1/v1\"", "credentials"),
            (
                "endpoint = \"http://h:1/v1\"\napi_key_env = \"sk-live-123456\"",
                "environment variable",
            ),
            (
                "endpoint = \"http://h:1/v1\"\nmax_concurrency = 0",
                "max_concurrency",
            ),
            (
                "endpoint = \"http://h:1/v1\"\ntimeout = \"soon\"",
                "timeout",
            ),
            ("file = \"a.gguf\"\nremote_model = \"x\"", "need `endpoint`"),
            ("endpoints = [\"http://h:1/v1\", \"http://h:1\"]", "twice"),
        ] {
            let text = format!("[[model]]\nname = \"x\"\n{bad}\n");
            let err = Manifest::parse(&text, "m.toml").unwrap_err().to_string();
            assert!(err.contains(says) && err.contains("m.toml"), "{bad}: {err}");
            assert!(!err.contains("123456"), "a key is never echoed: {err}");
        }
    }

    #[test]
    fn a_url_names_a_server_model_and_is_not_a_path() {
        assert!(!is_model_path("http://127.0.0.1:8080/v1"));
        let mut m = Manifest::merged(PathBuf::from("/m"), vec![]).unwrap();
        m.add_references(
            &["http://127.0.0.1:8080"],
            &crate::engine::stores::StoreEnv::from_process(),
            Path::new("/"),
        )
        .unwrap();
        let e = m.get("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            e.remote.as_ref().unwrap().endpoints,
            vec!["http://127.0.0.1:8080/v1"]
        );
    }

    #[test]
    fn a_path_from_a_relative_repository_root_stays_where_it_is() {
        // A review started at the top of its repository has the root ".":
        // the file must not be looked for in the models directory.
        let mut m = Manifest::merged(PathBuf::from("/m"), vec![]).unwrap();
        m.add_references(
            &["src/lib.rs"],
            &crate::engine::stores::StoreEnv::from_process(),
            Path::new("."),
        )
        .unwrap();
        let path = m.path_of(m.get("src/lib.rs").unwrap());
        assert!(path.is_absolute() && path.is_file(), "{}", path.display());
    }

    #[test]
    fn models_dir_that_is_a_file_is_a_model_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("models");
        std::fs::write(&file, b"not a directory").unwrap();
        let err = load_manifest_from(&file).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_MODEL, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&file.display().to_string()) && msg.contains("not a directory"),
            "{msg}"
        );
    }

    #[test]
    fn a_bad_user_entry_is_left_out_with_why_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("manifest.toml");
        let good = "[[model]]\nname = \"good\"\nfile = \"good.gguf\"\n";
        for (bad, says) in [
            ("name = \"x\"\nfile = \"x.gguf\"\nsha256 = \"zz\"", "sha256"),
            ("name = \"x\"\nfil = \"x.gguf\"", "fil"),
            ("name = \"../x\"\nfile = \"x.gguf\"", "path"),
            ("name = \"-x\"\nfile = \"x.gguf\"", "option"),
        ] {
            std::fs::write(&f, format!("[[model]]\n{bad}\n\n{good}")).unwrap();
            let m = load_manifest_from(dir.path()).unwrap();
            assert!(m.get("good").is_some(), "{bad}");
            let r = &m.rejected[0];
            assert!(
                r.message.contains("manifest.toml") && r.message.contains(says),
                "{bad}: {}",
                r.message
            );
            assert!(Manifest::parse(&std::fs::read_to_string(&f).unwrap(), "m").is_err());
        }
        // Text that is no manifest at all is still an error naming the file.
        std::fs::write(&f, "[[model]\n").unwrap();
        let err = load_manifest_from(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        assert!(err.to_string().contains("manifest.toml"), "{err}");
    }

    #[test]
    fn a_model_name_is_a_name() {
        for ok in ["qwen2.5-coder-7b", "ollama-ish:7b", "a_b", "x.y"] {
            assert!(check_model_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " ",
            "../../evil",
            "a/b",
            "a\\b",
            "..",
            "-rf",
            "a\tb",
            "a\u{1b}b",
        ] {
            assert!(check_model_name(bad).is_err(), "{bad:?}");
        }
    }
}
