//! Layered configuration: built-in defaults < user file < repository file <
//! git config `deep-review.*` < command-line flags, with the source of every
//! effective value recorded for `git deep-review config`.
//!
//! Owner: gate (issue 5). Parsing is strict on purpose: a typo in a team's
//! `.deep-review.toml` silently falling back to a default would make the
//! gate behave differently from what the team reviewed and committed, so
//! unknown keys, wrong types and unknown models are errors naming the file,
//! the key and the line.

use crate::engine::Sampling;
use crate::error::{Error, Result};
use crate::findings::Severity;
use crate::gate::{parse_severity, severity_name, GatePolicy};
use crate::reviewers::ReviewerSpec;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Repository configuration file, at the root of the working tree.
pub const REPO_FILE: &str = ".deep-review.toml";
/// User configuration file, under `$XDG_CONFIG_HOME` (or `~/.config`).
pub const USER_FILE: &str = "git-deep-review/config.toml";

/// git config key: `on`/`off`; off makes the hook allow every push. Default: on.
pub const KEY_GATE: &str = "deep-review.gate";
/// git config key: the blocking severity. Default: `critical`.
pub const KEY_BLOCK_ON: &str = "deep-review.blockOn";
/// git config key: reviewers that must agree before a finding blocks. Default: 2.
pub const KEY_MIN_AGREEMENT: &str = "deep-review.minAgreement";
/// git config key: time budget (`600`, `90s`, `10m`). Default: 600 seconds.
pub const KEY_TIME_BUDGET: &str = "deep-review.timeBudget";
/// git config key: `allow` or `block` when the time budget runs out. Default: allow.
pub const KEY_ON_TIMEOUT: &str = "deep-review.onTimeout";
/// git config key: directory for reports. Default: the pipeline's choice.
pub const KEY_REPORT_DIR: &str = "deep-review.reportDir";
/// git config key: model for the report's prose. Default: none.
pub const KEY_LEAD: &str = "deep-review.lead";
/// Value of `review.lead` / `deep-review.lead` that turns the lead model off
/// (the report's prose is then built from the data alone).
pub const LEAD_NONE: &str = "none";
/// git config key: cache size bound (`200MB`). Default: 200 MB.
pub const KEY_CACHE_MAX_SIZE: &str = "deep-review.cacheMaxSize";
/// git config key: worker threads for inference. Default: all cores.
pub const KEY_THREADS: &str = "deep-review.threads";
/// git config key: most memory one model may use, weights and KV cache
/// (`8GB`); contexts shrink to fit. Default: what the machine has available.
pub const KEY_MAX_MEMORY: &str = "deep-review.maxMemory";
/// git config key: lines of context around hunks. Default: 3.
pub const KEY_CONTEXT_LINES: &str = "deep-review.contextLines";
/// git config key: multi-valued; each value is one more ignore glob.
pub const KEY_IGNORE: &str = "deep-review.ignore";

/// Default time budget of the pre-push hook (10 minutes).
pub const DEFAULT_TIME_BUDGET_SECS: u64 = 600;
/// Default lines of context around each hunk.
pub const DEFAULT_CONTEXT_LINES: u32 = 3;
/// Default prompt-token budget of one chunk's diff text; small models have
/// 2k–8k contexts and the persona, instructions and output need room too.
pub const DEFAULT_CHUNK_TOKENS: usize = 2048;
/// Default cap on findings one reviewer may report for one chunk.
pub const DEFAULT_MAX_FINDINGS: usize = 8;
/// Default cache size bound (200 MB).
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 200 * 1000 * 1000;
/// Default bound on repository instructions given to every reviewer.
pub const DEFAULT_INSTRUCTIONS_MAX_BYTES: usize = 8 * 1024;

/// Files that hold the repository's own review rules, first found wins.
pub const INSTRUCTION_FILES: [&str; 3] = ["REVIEW.md", "AGENTS.md", ".deep-review/instructions.md"];

/// What the hook does when the time budget runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    /// Keep what was reviewed, warn, allow the push (default).
    Allow,
    /// Refuse the push.
    Block,
}

impl OnTimeout {
    /// Parses `allow` / `block` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Some(OnTimeout::Allow),
            "block" => Some(OnTimeout::Block),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            OnTimeout::Allow => "allow",
            OnTimeout::Block => "block",
        }
    }
}

/// The effective settings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub reviewers: Vec<ReviewerSpec>,
    /// Model for the report's prose; `None` leaves the choice to the pipeline.
    pub lead: Option<String>,
    /// Extra ignore globs; they extend the planner's built-in ones.
    pub ignore: Vec<String>,
    pub context_lines: u32,
    pub chunk_tokens: usize,
    pub max_findings: usize,
    pub gate: GatePolicy,
    pub time_budget_secs: u64,
    pub on_timeout: OnTimeout,
    /// Where reports go; `None` = the pipeline's default. Relative paths
    /// from files and git config are already resolved against the repository root.
    pub report_dir: Option<PathBuf>,
    pub cache_max_bytes: u64,
    /// Inference threads; `None` = all cores.
    pub threads: Option<usize>,
    pub instructions_max_bytes: usize,
    /// Memory cap per model (weights + KV cache); `None` = what is available.
    pub max_memory: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        let reviewer = |name: &str, model: &str, seed: u32| ReviewerSpec {
            name: name.to_string(),
            model: model.to_string(),
            prompt: format!("{name}.md"),
            sampling: Sampling {
                seed,
                ..Sampling::default()
            },
        };
        Settings {
            reviewers: vec![
                reviewer("correctness", "smollm2-135m", 11),
                reviewer("robustness", "gemma3-270m", 23),
                reviewer("tests-design", "smollm2-135m", 37),
            ],
            // The instruction-tuned default writes the prose; `lead = "none"` turns it off.
            lead: Some("smollm2-135m".to_string()),
            ignore: Vec::new(),
            context_lines: DEFAULT_CONTEXT_LINES,
            chunk_tokens: DEFAULT_CHUNK_TOKENS,
            max_findings: DEFAULT_MAX_FINDINGS,
            gate: GatePolicy::default(),
            time_budget_secs: DEFAULT_TIME_BUDGET_SECS,
            on_timeout: OnTimeout::Allow,
            report_dir: None,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            threads: None,
            instructions_max_bytes: DEFAULT_INSTRUCTIONS_MAX_BYTES,
            max_memory: None,
        }
    }
}

/// Values given on the command line; `None` = not given. The CLI fills it.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    /// Replaces the XDG user file (e.g. `--config FILE`); `None` = the XDG file.
    pub user_config: Option<PathBuf>,
    pub reviewers: Option<Vec<ReviewerSpec>>,
    pub lead: Option<String>,
    /// Appended to the ignore globs of the other layers.
    pub ignore: Vec<String>,
    pub context_lines: Option<u32>,
    pub chunk_tokens: Option<usize>,
    pub max_findings: Option<usize>,
    pub gate: Option<bool>,
    pub block_on: Option<Severity>,
    pub min_agreement: Option<usize>,
    pub time_budget_secs: Option<u64>,
    pub on_timeout: Option<OnTimeout>,
    pub report_dir: Option<PathBuf>,
    pub cache_max_bytes: Option<u64>,
    pub threads: Option<usize>,
    pub instructions_max_bytes: Option<usize>,
}

/// Which layer a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    /// The user file (`~/.config/git-deep-review/config.toml`) at a line.
    UserFile {
        path: PathBuf,
        line: usize,
    },
    /// The repository's `.deep-review.toml` at a line.
    RepoFile {
        path: PathBuf,
        line: usize,
    },
    /// A `deep-review.*` git config key.
    GitConfig(&'static str),
    /// A command-line flag.
    Cli,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::UserFile { path, line } => write!(f, "user file {}:{line}", path.display()),
            Source::RepoFile { path, line } => {
                write!(f, "repository file {}:{line}", path.display())
            }
            Source::GitConfig(key) => write!(f, "git config {key}"),
            Source::Cli => write!(f, "command line"),
        }
    }
}

/// Where each effective value came from. Keys are the TOML names
/// (`gate.block_on`, `review.time_budget`, `reviewer`); `ignore` is per glob.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    pub values: BTreeMap<&'static str, Source>,
    /// One source per entry of `Settings::ignore`, same order.
    pub ignore: Vec<Source>,
    /// Configuration files that were found and read.
    pub files: Vec<PathBuf>,
}

impl Provenance {
    /// Source of a value (`Default` when nothing overrode it).
    pub fn source(&self, key: &str) -> Source {
        self.values.get(key).cloned().unwrap_or(Source::Default)
    }
}

/// All the keys that [`Provenance::values`] may hold, in printing order.
pub const KEYS: [&str; 16] = [
    "reviewer",
    "review.lead",
    "review.context_lines",
    "review.chunk_tokens",
    "review.max_findings",
    "review.time_budget",
    "review.on_timeout",
    "review.report_dir",
    "review.instructions_max_bytes",
    "review.threads",
    "review.max_memory",
    "review.ignore",
    "gate.enabled",
    "gate.block_on",
    "gate.min_agreement",
    "cache.max_size",
];

/// The user file path: `$XDG_CONFIG_HOME/git-deep-review/config.toml`,
/// else `~/.config/...`; `None` when neither variable is set.
pub fn user_config_path() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(x);
        if p.is_absolute() {
            return Some(p.join(USER_FILE));
        }
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".config").join(USER_FILE))
}

/// Loads the effective settings for the repository at `repo_root`.
///
/// `git_config` is the repository's config snapshot (`repo.config_snapshot()`),
/// which already includes global and system git config. `model_exists` says
/// whether a model name is known (manifest names and the `standin:` models
/// the pipeline accepts); reviewers and the lead are checked with it.
pub fn load(
    repo_root: &Path,
    git_config: Option<&gix::config::Snapshot<'_>>,
    overrides: &CliOverrides,
    model_exists: &dyn Fn(&str) -> bool,
) -> Result<(Settings, Provenance)> {
    let mut settings = Settings::default();
    let mut prov = Provenance::default();

    let user = overrides.user_config.clone().or_else(user_config_path);
    if let Some(path) = user {
        // An explicitly named file must exist; the XDG one is optional.
        let required = overrides.user_config.is_some();
        apply_file(
            &path,
            Layer::User,
            repo_root,
            required,
            &mut settings,
            &mut prov,
            model_exists,
        )?;
    }
    let repo_file = repo_root.join(REPO_FILE);
    apply_file(
        &repo_file,
        Layer::Repo,
        repo_root,
        false,
        &mut settings,
        &mut prov,
        model_exists,
    )?;
    if let Some(snapshot) = git_config {
        apply_git_config(
            snapshot.plumbing(),
            repo_root,
            &mut settings,
            &mut prov,
            model_exists,
        )?;
    }
    apply_cli(overrides, &mut settings, &mut prov, model_exists)?;
    check_reviewers_vs_gate(&settings, &prov)?;
    Ok((settings, prov))
}

/// Parses one TOML configuration text on top of `settings` (as the
/// repository file would be). `path` is only used in messages and provenance.
/// Exposed for tests and for `git deep-review config --check FILE`.
pub fn apply_toml(
    text: &str,
    path: &Path,
    repo_root: &Path,
    settings: &mut Settings,
    prov: &mut Provenance,
    model_exists: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let ctx = FileCtx {
        text,
        path,
        layer: Layer::Repo,
    };
    apply_parsed(&ctx, repo_root, settings, prov, model_exists)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layer {
    User,
    Repo,
}

struct FileCtx<'a> {
    text: &'a str,
    path: &'a Path,
    layer: Layer,
}

impl FileCtx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn source(&self, offset: usize) -> Source {
        let line = self.line_of(offset);
        let path = self.path.to_path_buf();
        match self.layer {
            Layer::User => Source::UserFile { path, line },
            Layer::Repo => Source::RepoFile { path, line },
        }
    }

    fn error(&self, offset: usize, key: &str, msg: impl fmt::Display) -> Error {
        Error::Config(format!(
            "{}:{}: key `{key}`: {msg}",
            self.path.display(),
            self.line_of(offset)
        ))
    }

    /// Best-effort dotted key for a position toml reported (its errors carry
    /// a span but not always the key): the table header above plus the key
    /// on that line.
    fn key_at(&self, offset: usize) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[line_start..]
            .find('\n')
            .map_or(self.text.len(), |i| line_start + i);
        let line = &self.text[line_start..line_end];
        let key = match line.split_once('=') {
            Some((k, _)) => k.trim().trim_matches('"').to_string(),
            None => line.trim().trim_matches(['[', ']']).trim().to_string(),
        };
        if line.trim_start().starts_with('[') {
            return key;
        }
        let table = before[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| l.trim_matches(['[', ']']).trim().to_string());
        match table {
            Some(t) if !key.is_empty() => format!("{t}.{key}"),
            Some(t) => t,
            None => key,
        }
    }
}

fn apply_file(
    path: &Path,
    layer: Layer,
    repo_root: &Path,
    required: bool,
    settings: &mut Settings,
    prov: &mut Provenance,
    model_exists: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            Error::Config(format!(
                "{}: not valid UTF-8 (TOML files must be UTF-8)",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(()),
        Err(e) => {
            return Err(Error::io(
                format!("reading configuration {}", path.display()),
                e,
            ))
        }
    };
    prov.files.push(path.to_path_buf());
    let ctx = FileCtx {
        text: &text,
        path,
        layer,
    };
    apply_parsed(&ctx, repo_root, settings, prov, model_exists)
}

// The file schema. Every field is optional (a layer overrides only what it
// names) and spanned (so validation errors can name the line).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    reviewer: Option<Spanned<Vec<Spanned<FileReviewer>>>>,
    review: Option<FileReview>,
    gate: Option<FileGate>,
    cache: Option<FileCache>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReviewer {
    name: Spanned<String>,
    model: Spanned<String>,
    prompt: Option<Spanned<String>>,
    seed: Option<Spanned<u32>>,
    temperature: Option<Spanned<f64>>,
    top_k: Option<Spanned<i64>>,
    top_p: Option<Spanned<f64>>,
    max_tokens: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReview {
    lead: Option<Spanned<String>>,
    ignore: Option<Vec<Spanned<String>>>,
    context_lines: Option<Spanned<i64>>,
    chunk_tokens: Option<Spanned<i64>>,
    max_findings: Option<Spanned<i64>>,
    time_budget: Option<Spanned<IntOrString>>,
    on_timeout: Option<Spanned<String>>,
    report_dir: Option<Spanned<String>>,
    instructions_max_bytes: Option<Spanned<IntOrString>>,
    threads: Option<Spanned<i64>>,
    max_memory: Option<Spanned<IntOrString>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGate {
    enabled: Option<Spanned<bool>>,
    block_on: Option<Spanned<String>>,
    min_agreement: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCache {
    max_size: Option<Spanned<IntOrString>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Str(String),
}

/// Checks an integer is within `lo..=hi`, with a message naming the key.
fn int_in(ctx: &FileCtx<'_>, v: &Spanned<i64>, key: &str, lo: i64, hi: i64) -> Result<i64> {
    let n = *v.get_ref();
    if n < lo || n > hi {
        return Err(ctx.error(
            v.span().start,
            key,
            format!("{n} is out of range ({lo}..={hi})"),
        ));
    }
    Ok(n)
}

fn apply_parsed(
    ctx: &FileCtx<'_>,
    repo_root: &Path,
    s: &mut Settings,
    prov: &mut Provenance,
    model_exists: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let parsed: FileConfig = toml::from_str(ctx.text).map_err(|e| {
        let offset = e.span().map_or(0, |r| r.start);
        let key = ctx.key_at(offset);
        let msg = e.message().trim().to_string();
        if key.is_empty() {
            Error::Config(format!(
                "{}:{}: {msg}",
                ctx.path.display(),
                ctx.line_of(offset)
            ))
        } else {
            ctx.error(offset, &key, msg)
        }
    })?;

    if let Some(list) = parsed.reviewer {
        let list_at = list.span().start;
        let list = list.into_inner();
        if list.is_empty() {
            return Err(ctx.error(list_at, "reviewer", "at least one reviewer is needed"));
        }
        let mut out: Vec<ReviewerSpec> = Vec::with_capacity(list.len());
        for r in list {
            let r = r.into_inner();
            let name = r.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(ctx.error(r.name.span().start, "reviewer.name", "must not be empty"));
            }
            if out.iter().any(|o| o.name == name) {
                return Err(ctx.error(
                    r.name.span().start,
                    "reviewer.name",
                    format!("reviewer {name:?} is defined twice"),
                ));
            }
            let model = r.model.get_ref().trim().to_string();
            if !model_exists(&model) {
                return Err(ctx.error(
                    r.model.span().start,
                    "reviewer.model",
                    format!(
                        "model {model:?} (reviewer {name:?}) is not in the model manifest; \
                         `git deep-review models` lists the known ones"
                    ),
                ));
            }
            let prompt = match &r.prompt {
                Some(p) if p.get_ref().trim().is_empty() => {
                    return Err(ctx.error(p.span().start, "reviewer.prompt", "must not be empty"))
                }
                Some(p) => p.get_ref().trim().to_string(),
                None => format!("{name}.md"),
            };
            let mut sampling = Sampling::default();
            if let Some(v) = r.seed {
                sampling.seed = v.into_inner();
            }
            if let Some(v) = r.temperature {
                let t = *v.get_ref();
                if !(0.0..=2.0).contains(&t) {
                    return Err(ctx.error(
                        v.span().start,
                        "reviewer.temperature",
                        format!("{t} is out of range (0.0..=2.0)"),
                    ));
                }
                sampling.temperature = t as f32;
            }
            if let Some(v) = r.top_k {
                sampling.top_k = int_in(ctx, &v, "reviewer.top_k", 0, 1000)? as i32;
            }
            if let Some(v) = r.top_p {
                let p = *v.get_ref();
                if !(p > 0.0 && p <= 1.0) {
                    return Err(ctx.error(
                        v.span().start,
                        "reviewer.top_p",
                        format!("{p} is out of range (0.0 exclusive..=1.0)"),
                    ));
                }
                sampling.top_p = p as f32;
            }
            if let Some(v) = r.max_tokens {
                sampling.max_tokens = int_in(ctx, &v, "reviewer.max_tokens", 16, 32768)? as usize;
            }
            out.push(ReviewerSpec {
                name,
                model,
                prompt,
                sampling,
            });
        }
        s.reviewers = out;
        prov.values.insert("reviewer", ctx.source(list_at));
    }

    if let Some(r) = parsed.review {
        if let Some(v) = r.lead {
            let model = v.get_ref().trim().to_string();
            if model == LEAD_NONE {
                s.lead = None;
            } else if !model_exists(&model) {
                return Err(ctx.error(
                    v.span().start,
                    "review.lead",
                    format!(
                        "model {model:?} is not in the model manifest (or \"none\" for no lead)"
                    ),
                ));
            } else {
                s.lead = Some(model);
            }
            prov.values
                .insert("review.lead", ctx.source(v.span().start));
        }
        if let Some(globs) = r.ignore {
            for g in globs {
                if let Err(e) = globset::Glob::new(g.get_ref()) {
                    return Err(ctx.error(
                        g.span().start,
                        "review.ignore",
                        format!("bad glob: {e}"),
                    ));
                }
                s.ignore.push(g.get_ref().clone());
                prov.ignore.push(ctx.source(g.span().start));
            }
        }
        if let Some(v) = r.context_lines {
            s.context_lines = int_in(ctx, &v, "review.context_lines", 0, 1000)? as u32;
            prov.values
                .insert("review.context_lines", ctx.source(v.span().start));
        }
        if let Some(v) = r.chunk_tokens {
            s.chunk_tokens = int_in(ctx, &v, "review.chunk_tokens", 128, 1 << 20)? as usize;
            prov.values
                .insert("review.chunk_tokens", ctx.source(v.span().start));
        }
        if let Some(v) = r.max_findings {
            s.max_findings = int_in(ctx, &v, "review.max_findings", 1, 1000)? as usize;
            prov.values
                .insert("review.max_findings", ctx.source(v.span().start));
        }
        if let Some(v) = r.time_budget {
            let at = v.span().start;
            s.time_budget_secs = match v.get_ref() {
                IntOrString::Int(n) if *n > 0 => *n as u64,
                IntOrString::Int(n) => {
                    return Err(ctx.error(
                        at,
                        "review.time_budget",
                        format!("{n} must be positive (seconds)"),
                    ))
                }
                IntOrString::Str(t) => parse_duration_secs(t).ok_or_else(|| {
                    ctx.error(
                        at,
                        "review.time_budget",
                        format!("{t:?} is not a duration (e.g. 600, \"90s\", \"10m\", \"1h\")"),
                    )
                })?,
            };
            prov.values.insert("review.time_budget", ctx.source(at));
        }
        if let Some(v) = r.on_timeout {
            s.on_timeout = OnTimeout::parse(v.get_ref()).ok_or_else(|| {
                ctx.error(
                    v.span().start,
                    "review.on_timeout",
                    format!("{:?}: expected \"allow\" or \"block\"", v.get_ref()),
                )
            })?;
            prov.values
                .insert("review.on_timeout", ctx.source(v.span().start));
        }
        if let Some(v) = r.report_dir {
            if v.get_ref().trim().is_empty() {
                return Err(ctx.error(v.span().start, "review.report_dir", "must not be empty"));
            }
            s.report_dir = Some(resolve_path(v.get_ref(), repo_root));
            prov.values
                .insert("review.report_dir", ctx.source(v.span().start));
        }
        if let Some(v) = r.instructions_max_bytes {
            let at = v.span().start;
            let n = byte_size(v.get_ref()).ok_or_else(|| {
                ctx.error(
                    at,
                    "review.instructions_max_bytes",
                    "expected a size such as 8192 or \"16KiB\"",
                )
            })?;
            s.instructions_max_bytes = n as usize;
            prov.values
                .insert("review.instructions_max_bytes", ctx.source(at));
        }
        if let Some(v) = r.threads {
            s.threads = Some(int_in(ctx, &v, "review.threads", 1, 1024)? as usize);
            prov.values
                .insert("review.threads", ctx.source(v.span().start));
        }
        if let Some(v) = r.max_memory {
            let at = v.span().start;
            let n = byte_size(v.get_ref()).filter(|&n| n > 0).ok_or_else(|| {
                ctx.error(
                    at,
                    "review.max_memory",
                    "expected a size such as \"8GB\" or 8000000000",
                )
            })?;
            s.max_memory = Some(n);
            prov.values.insert("review.max_memory", ctx.source(at));
        }
    }

    if let Some(g) = parsed.gate {
        if let Some(v) = g.enabled {
            s.gate.enabled = *v.get_ref();
            prov.values
                .insert("gate.enabled", ctx.source(v.span().start));
        }
        if let Some(v) = g.block_on {
            s.gate.block_on = parse_severity(v.get_ref()).ok_or_else(|| {
                ctx.error(
                    v.span().start,
                    "gate.block_on",
                    format!(
                        "{:?}: expected \"critical\", \"important\" or \"suggestion\"",
                        v.get_ref()
                    ),
                )
            })?;
            prov.values
                .insert("gate.block_on", ctx.source(v.span().start));
        }
        if let Some(v) = g.min_agreement {
            s.gate.min_agreement = int_in(ctx, &v, "gate.min_agreement", 1, 100)? as usize;
            prov.values
                .insert("gate.min_agreement", ctx.source(v.span().start));
        }
    }

    if let Some(c) = parsed.cache {
        if let Some(v) = c.max_size {
            let at = v.span().start;
            s.cache_max_bytes = byte_size(v.get_ref()).ok_or_else(|| {
                ctx.error(
                    at,
                    "cache.max_size",
                    "expected a size such as 200000000 or \"200MB\"",
                )
            })?;
            prov.values.insert("cache.max_size", ctx.source(at));
        }
    }
    Ok(())
}

/// A gate that needs more agreeing reviewers than there are can never
/// block: almost certainly a configuration mistake, so say so. Checked on
/// the final settings only: layers may legitimately pass through such a
/// state (one sets reviewers, a later one the agreement).
fn check_reviewers_vs_gate(s: &Settings, prov: &Provenance) -> Result<()> {
    if s.gate.enabled && s.gate.min_agreement > s.reviewers.len() {
        return Err(Error::Config(format!(
            "gate.min_agreement = {} ({}) but only {} reviewer(s) are configured ({}), so the gate could never block; \
             lower min_agreement or add reviewers",
            s.gate.min_agreement,
            prov.source("gate.min_agreement"),
            s.reviewers.len(),
            prov.source("reviewer"),
        )));
    }
    Ok(())
}

fn byte_size(v: &IntOrString) -> Option<u64> {
    match v {
        IntOrString::Int(n) if *n >= 0 => Some(*n as u64),
        IntOrString::Int(_) => None,
        IntOrString::Str(s) => parse_byte_size(s),
    }
}

/// Parses `200MB`, `1.5GiB`, `512k`, `4096` (bytes). Decimal units are
/// powers of 1000, `i` units powers of 1024.
pub fn parse_byte_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let v = num * mult;
    (v.is_finite() && (0.0..1.8e19).contains(&v)).then_some(v as u64)
}

/// Parses `600`, `90s`, `10m`, `1h`, `1h30m` into seconds (positive only).
pub fn parse_duration_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return (n > 0).then_some(n);
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let mult = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    if !num.is_empty() {
        return None;
    }
    (total > 0).then_some(total)
}

fn resolve_path(p: &str, repo_root: &Path) -> PathBuf {
    let p = p.trim();
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        repo_root.join(path)
    }
}

fn apply_git_config(
    cfg: &gix::config::File,
    repo_root: &Path,
    s: &mut Settings,
    prov: &mut Provenance,
    model_exists: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let get = |key: &str| cfg.string(key).map(|v| v.to_string());
    let bad = |key: &str, v: &str, expected: &str| {
        Error::Config(format!("git config {key} = {v:?}: expected {expected} (fix it with `git config {key} VALUE` or `git config --unset {key}`)"))
    };
    if let Some(v) = get(KEY_GATE) {
        s.gate.enabled = parse_git_bool(&v).ok_or_else(|| bad(KEY_GATE, &v, "on or off"))?;
        prov.values
            .insert("gate.enabled", Source::GitConfig(KEY_GATE));
    } else if matches!(cfg.boolean(KEY_GATE), Ok(Some(true))) {
        // `[deep-review] gate` with no value means true in git.
        s.gate.enabled = true;
        prov.values
            .insert("gate.enabled", Source::GitConfig(KEY_GATE));
    }
    if let Some(v) = get(KEY_BLOCK_ON) {
        s.gate.block_on = parse_severity(&v)
            .ok_or_else(|| bad(KEY_BLOCK_ON, &v, "critical, important or suggestion"))?;
        prov.values
            .insert("gate.block_on", Source::GitConfig(KEY_BLOCK_ON));
    }
    if let Some(v) = get(KEY_MIN_AGREEMENT) {
        s.gate.min_agreement = v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| bad(KEY_MIN_AGREEMENT, &v, "a number from 1 to 100"))?;
        prov.values
            .insert("gate.min_agreement", Source::GitConfig(KEY_MIN_AGREEMENT));
    }
    if let Some(v) = get(KEY_TIME_BUDGET) {
        s.time_budget_secs = parse_duration_secs(&v)
            .ok_or_else(|| bad(KEY_TIME_BUDGET, &v, "a duration such as 600, 90s or 10m"))?;
        prov.values
            .insert("review.time_budget", Source::GitConfig(KEY_TIME_BUDGET));
    }
    if let Some(v) = get(KEY_ON_TIMEOUT) {
        s.on_timeout =
            OnTimeout::parse(&v).ok_or_else(|| bad(KEY_ON_TIMEOUT, &v, "allow or block"))?;
        prov.values
            .insert("review.on_timeout", Source::GitConfig(KEY_ON_TIMEOUT));
    }
    if let Some(v) = get(KEY_REPORT_DIR) {
        if v.trim().is_empty() {
            return Err(bad(KEY_REPORT_DIR, &v, "a directory"));
        }
        s.report_dir = Some(resolve_path(&v, repo_root));
        prov.values
            .insert("review.report_dir", Source::GitConfig(KEY_REPORT_DIR));
    }
    if let Some(v) = get(KEY_LEAD) {
        let m = v.trim().to_string();
        if m == LEAD_NONE {
            s.lead = None;
        } else if !model_exists(&m) {
            return Err(bad(KEY_LEAD, &v, "a model from the manifest, or none"));
        } else {
            s.lead = Some(m);
        }
        prov.values
            .insert("review.lead", Source::GitConfig(KEY_LEAD));
    }
    if let Some(v) = get(KEY_CACHE_MAX_SIZE) {
        s.cache_max_bytes = parse_byte_size(&v)
            .ok_or_else(|| bad(KEY_CACHE_MAX_SIZE, &v, "a size such as 200MB"))?;
        prov.values
            .insert("cache.max_size", Source::GitConfig(KEY_CACHE_MAX_SIZE));
    }
    if let Some(v) = get(KEY_THREADS) {
        s.threads = Some(
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| bad(KEY_THREADS, &v, "a number from 1 to 1024"))?,
        );
        prov.values
            .insert("review.threads", Source::GitConfig(KEY_THREADS));
    }
    if let Some(v) = get(KEY_MAX_MEMORY) {
        s.max_memory = Some(
            parse_byte_size(&v)
                .filter(|&n| n > 0)
                .ok_or_else(|| bad(KEY_MAX_MEMORY, &v, "a size such as 8GB"))?,
        );
        prov.values
            .insert("review.max_memory", Source::GitConfig(KEY_MAX_MEMORY));
    }
    if let Some(v) = get(KEY_CONTEXT_LINES) {
        s.context_lines = v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| bad(KEY_CONTEXT_LINES, &v, "a number from 0 to 1000"))?;
        prov.values
            .insert("review.context_lines", Source::GitConfig(KEY_CONTEXT_LINES));
    }
    if let Some(values) = cfg.strings(KEY_IGNORE) {
        for v in values {
            let g = v.to_string();
            globset::Glob::new(&g).map_err(|e| bad(KEY_IGNORE, &g, &format!("a glob ({e})")))?;
            s.ignore.push(g);
            prov.ignore.push(Source::GitConfig(KEY_IGNORE));
        }
    }
    Ok(())
}

/// git's boolean spellings.
fn parse_git_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" | "" => Some(false),
        _ => None,
    }
}

fn apply_cli(
    o: &CliOverrides,
    s: &mut Settings,
    prov: &mut Provenance,
    model_exists: &dyn Fn(&str) -> bool,
) -> Result<()> {
    if let Some(r) = &o.reviewers {
        if r.is_empty() {
            return Err(Error::Usage("at least one reviewer is needed".into()));
        }
        for spec in r {
            if !model_exists(&spec.model) {
                return Err(Error::Usage(format!(
                    "model {:?} (reviewer {:?}) is not in the model manifest",
                    spec.model, spec.name
                )));
            }
        }
        s.reviewers = r.clone();
        prov.values.insert("reviewer", Source::Cli);
    }
    if let Some(m) = &o.lead {
        if !model_exists(m) {
            return Err(Error::Usage(format!(
                "lead model {m:?} is not in the model manifest"
            )));
        }
        s.lead = Some(m.clone());
        prov.values.insert("review.lead", Source::Cli);
    }
    for g in &o.ignore {
        globset::Glob::new(g)
            .map_err(|e| Error::Usage(format!("--ignore {g:?}: bad glob: {e}")))?;
        s.ignore.push(g.clone());
        prov.ignore.push(Source::Cli);
    }
    macro_rules! set {
        ($field:expr, $value:expr, $key:literal) => {
            if let Some(v) = $value {
                $field = v.clone();
                prov.values.insert($key, Source::Cli);
            }
        };
    }
    set!(s.context_lines, &o.context_lines, "review.context_lines");
    set!(s.chunk_tokens, &o.chunk_tokens, "review.chunk_tokens");
    set!(s.max_findings, &o.max_findings, "review.max_findings");
    set!(s.gate.enabled, &o.gate, "gate.enabled");
    set!(s.gate.block_on, &o.block_on, "gate.block_on");
    set!(s.gate.min_agreement, &o.min_agreement, "gate.min_agreement");
    set!(
        s.time_budget_secs,
        &o.time_budget_secs,
        "review.time_budget"
    );
    set!(s.on_timeout, &o.on_timeout, "review.on_timeout");
    set!(s.cache_max_bytes, &o.cache_max_bytes, "cache.max_size");
    set!(
        s.instructions_max_bytes,
        &o.instructions_max_bytes,
        "review.instructions_max_bytes"
    );
    if let Some(d) = &o.report_dir {
        s.report_dir = Some(d.clone());
        prov.values.insert("review.report_dir", Source::Cli);
    }
    if let Some(t) = o.threads {
        s.threads = Some(t);
        prov.values.insert("review.threads", Source::Cli);
    }
    if o.min_agreement == Some(0) {
        return Err(Error::Usage("--min-agreement must be at least 1".into()));
    }
    Ok(())
}

fn toml_str(s: &str) -> String {
    // A TOML basic string is a JSON string for everything we print.
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// Prints the effective configuration as TOML, with the source of every
/// value as a trailing comment (`git deep-review config`).
pub fn write_effective(
    settings: &Settings,
    prov: &Provenance,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let src = |k: &str| prov.source(k);
    if prov.files.is_empty() {
        writeln!(w, "# configuration files: none found")?;
    } else {
        for f in &prov.files {
            writeln!(w, "# configuration file: {}", f.display())?;
        }
    }
    writeln!(w, "# reviewers from: {}", src("reviewer"))?;
    for r in &settings.reviewers {
        writeln!(w, "\n[[reviewer]]")?;
        writeln!(w, "name = {}", toml_str(&r.name))?;
        writeln!(w, "model = {}", toml_str(&r.model))?;
        writeln!(w, "prompt = {}", toml_str(&r.prompt))?;
        writeln!(w, "seed = {}", r.sampling.seed)?;
        writeln!(w, "temperature = {:?}", r.sampling.temperature)?;
        writeln!(w, "top_k = {}", r.sampling.top_k)?;
        writeln!(w, "top_p = {:?}", r.sampling.top_p)?;
        writeln!(w, "max_tokens = {}", r.sampling.max_tokens)?;
    }
    writeln!(w, "\n[review]")?;
    match &settings.lead {
        Some(l) => writeln!(w, "lead = {}  # {}", toml_str(l), src("review.lead"))?,
        None => writeln!(
            w,
            "# lead = (none: the pipeline chooses)  # {}",
            src("review.lead")
        )?,
    }
    writeln!(w, "ignore = [")?;
    for (i, g) in settings.ignore.iter().enumerate() {
        let s = prov.ignore.get(i).cloned().unwrap_or(Source::Default);
        writeln!(w, "  {},  # {s}", toml_str(g))?;
    }
    writeln!(w, "]  # extends the built-in ignore list")?;
    writeln!(
        w,
        "context_lines = {}  # {}",
        settings.context_lines,
        src("review.context_lines")
    )?;
    writeln!(
        w,
        "chunk_tokens = {}  # {}",
        settings.chunk_tokens,
        src("review.chunk_tokens")
    )?;
    writeln!(
        w,
        "max_findings = {}  # {}",
        settings.max_findings,
        src("review.max_findings")
    )?;
    writeln!(
        w,
        "time_budget = {}  # seconds; {}",
        settings.time_budget_secs,
        src("review.time_budget")
    )?;
    writeln!(
        w,
        "on_timeout = \"{}\"  # {}",
        settings.on_timeout.name(),
        src("review.on_timeout")
    )?;
    match &settings.report_dir {
        Some(d) => writeln!(
            w,
            "report_dir = {}  # {}",
            toml_str(&d.to_string_lossy()),
            src("review.report_dir")
        )?,
        None => writeln!(
            w,
            "# report_dir = (default)  # {}",
            src("review.report_dir")
        )?,
    }
    writeln!(
        w,
        "instructions_max_bytes = {}  # {}",
        settings.instructions_max_bytes,
        src("review.instructions_max_bytes")
    )?;
    match settings.threads {
        Some(t) => writeln!(w, "threads = {t}  # {}", src("review.threads"))?,
        None => writeln!(w, "# threads = (all cores)  # {}", src("review.threads"))?,
    }
    match settings.max_memory {
        Some(m) => writeln!(
            w,
            "max_memory = {m}  # bytes per model; {}",
            src("review.max_memory")
        )?,
        None => writeln!(
            w,
            "# max_memory = (what is available)  # {}",
            src("review.max_memory")
        )?,
    }
    writeln!(w, "\n[gate]")?;
    writeln!(
        w,
        "enabled = {}  # {}",
        settings.gate.enabled,
        src("gate.enabled")
    )?;
    writeln!(
        w,
        "block_on = \"{}\"  # {}",
        severity_name(settings.gate.block_on),
        src("gate.block_on")
    )?;
    writeln!(
        w,
        "min_agreement = {}  # {}",
        settings.gate.min_agreement,
        src("gate.min_agreement")
    )?;
    writeln!(w, "\n[cache]")?;
    writeln!(
        w,
        "max_size = {}  # bytes; {}",
        settings.cache_max_bytes,
        src("cache.max_size")
    )?;
    Ok(())
}

/// The repository's own review rules: the first of [`INSTRUCTION_FILES`]
/// found under `repo_root`, cut to `max_bytes` at a character boundary (a
/// note at the end says so, so reviewers and the report know it was cut).
/// Returns the path (relative to the root, for the report) and the text.
pub fn repo_instructions(repo_root: &Path, max_bytes: usize) -> Option<(PathBuf, String)> {
    for name in INSTRUCTION_FILES {
        let path = repo_root.join(name);
        if !path.is_file() {
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
        let out = if text.len() > max_bytes {
            let mut cut = max_bytes;
            while cut > 0 && !text.is_char_boundary(cut) {
                cut -= 1;
            }
            format!(
                "{}\n[... {name} truncated: first {cut} of {} bytes shown ...]",
                &text[..cut],
                text.len()
            )
        } else {
            text.to_string()
        };
        return Some((PathBuf::from(name), out));
    }
    None
}
