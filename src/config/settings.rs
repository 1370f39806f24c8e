//! The effective settings of one run and what every layer shares: the
//! keys' names and defaults, where each value came from ([`Provenance`]),
//! and the checks a value goes through whichever layer wrote it.

use crate::config::policy::GatePolicy;
use crate::config::reviewer::ReviewerSpec;
use crate::config::sampling::Sampling;
use crate::config::trust;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Repository configuration file, at the root of the working tree.
pub const REPO_FILE: &str = ".deep-review.toml";
/// User configuration file, under `$XDG_CONFIG_HOME` (or `~/.config`).
pub const USER_FILE: &str = "git-deep-review/config.toml";

/// git config key: `on`/`off`; off makes the hook allow every push. Default: on.
pub const KEY_GATE: &str = "deep-review.gate";
/// git config key: the blocking severity. Default: `critical`.
pub const KEY_BLOCK_ON: &str = "deep-review.blockOn";
/// git config key: reviewers that must agree before a finding blocks.
/// Default: 2, or the number of reviewers when there are fewer.
pub const KEY_MIN_AGREEMENT: &str = "deep-review.minAgreement";
/// git config key: `true` lets the findings of earlier reviews of the same
/// change that are still in the code count for the gate. Default: false.
pub const KEY_COUNT_UNRESOLVED: &str = "deep-review.countUnresolved";
/// git config key: `block` or `allow` a push when a reviewer failed. Default: block.
pub const KEY_ON_REVIEWER_FAILURE: &str = "deep-review.onReviewerFailure";
/// git config key: `block` or `allow` a push when part of it cannot be
/// reviewed at all. Default: block.
pub const KEY_UNREVIEWABLE: &str = "deep-review.unreviewable";
/// git config key: `review` or `allow` pushed tags. Default: review.
pub const KEY_TAGS: &str = "deep-review.tags";
/// git config key: time budget (`600`, `90s`, `10m`). Default: 600 seconds.
pub const KEY_TIME_BUDGET: &str = "deep-review.timeBudget";
/// git config key: `allow` or `block` when the time budget runs out. Default: allow.
pub const KEY_ON_TIMEOUT: &str = "deep-review.onTimeout";
/// git config key: directory for reports. Default: `.git/deep-review/reports`.
pub const KEY_REPORT_DIR: &str = "deep-review.reportDir";
/// git config key: what a saved report is written as (`markdown`, `html`,
/// `markdown,html`). Default: markdown.
pub const KEY_REPORT_FORMATS: &str = "deep-review.reportFormats";
/// git config key: model for the report's prose, or `none`. Default: `smollm2-135m`.
pub const KEY_LEAD: &str = "deep-review.lead";
/// Value of `review.lead` / `deep-review.lead` that turns the lead model off
/// (the report's prose is then built from the data alone).
pub const LEAD_NONE: &str = "none";
/// The lead model when no layer names one.
pub const DEFAULT_LEAD: &str = "smollm2-135m";
/// git config key: cache size bound (`200MB`). Default: 200 MB.
pub const KEY_CACHE_MAX_SIZE: &str = "deep-review.cacheMaxSize";
/// git config key: `true` refuses every reviewer on an inference server
/// (nothing leaves the machine). Default: false.
pub const KEY_OFFLINE: &str = "deep-review.offline";
/// git config key: worker threads for inference. Default: the cores other
/// processes leave free, checked before each chunk.
pub const KEY_THREADS: &str = "deep-review.threads";
/// git config key: decode the reviewers sharing a model together, one
/// `llama_decode` per step (`auto`: for models of 1 GiB or more).
/// Default: auto.
pub const KEY_BATCH_DECODE: &str = "deep-review.batchDecode";
/// git config key: most memory one model may use, weights and KV cache
/// (`8GB`); contexts shrink to fit. Default: what the machine has available.
pub const KEY_MAX_MEMORY: &str = "deep-review.maxMemory";
/// git config key: lines of context around hunks. Default: 3.
pub const KEY_CONTEXT_LINES: &str = "deep-review.contextLines";
/// git config key: whether reviewers see context beyond the diff (`on`,
/// `off`). Default: on.
pub const KEY_CONTEXT: &str = "deep-review.context";
/// git config key: token budget of one chunk's context. Default: 4096.
pub const KEY_CONTEXT_TOKENS: &str = "deep-review.contextTokens";
/// git config key: prompt-token budget of one chunk's diff. Default: 2048.
pub const KEY_CHUNK_TOKENS: &str = "deep-review.chunkTokens";
/// git config key: most findings one reviewer reports per chunk. Default: 8.
pub const KEY_MAX_FINDINGS: &str = "deep-review.maxFindings";
/// git config key: bound on the repository instructions given to reviewers. Default: 8 KiB.
pub const KEY_INSTRUCTIONS_MAX_BYTES: &str = "deep-review.instructionsMaxBytes";
/// git config key: whether findings are checked once more by a verifier
/// model (`auto`, `on`, `off`). Default: auto.
pub const KEY_VERIFY: &str = "deep-review.verify";
/// git config key: the verifier model. Default: the largest reviewer model.
pub const KEY_VERIFIER: &str = "deep-review.verifier";
/// git config key: verifier passes per finding (the majority decides). Default: 1.
pub const KEY_VERIFY_VOTES: &str = "deep-review.verifyVotes";
/// git config key: whether findings the verifier could not decide count
/// for the gate. Default: true (fail closed).
pub const KEY_COUNT_UNCERTAIN: &str = "deep-review.countUncertain";
/// git config key: multi-valued; each value is one more ignore glob.
pub const KEY_IGNORE: &str = "deep-review.ignore";
pub use crate::config::trust::KEY_TRUST_REPO_CONFIG;

/// Default time budget of the pre-push hook (10 minutes).
pub const DEFAULT_TIME_BUDGET_SECS: u64 = 600;
/// Default lines of context around each hunk.
pub const DEFAULT_CONTEXT_LINES: u32 = 3;
/// Diff tokens per prompt by default (the planner's own default).
pub const DEFAULT_CHUNK_TOKENS: usize = 2048;
/// Context tokens per chunk by default: room for the enclosing function,
/// a few callers and definitions. A model whose window cannot hold that
/// beside the diff and its answer gets what is left (the plan says so).
pub const DEFAULT_CONTEXT_TOKENS: usize = 4096;
/// Default cap on findings one reviewer may report for one chunk.
pub const DEFAULT_MAX_FINDINGS: usize = 8;
/// Default cache size bound (200 MB).
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 200 * 1000 * 1000;
/// Default bound on repository instructions given to every reviewer.
pub const DEFAULT_INSTRUCTIONS_MAX_BYTES: usize = 8 * 1024;
/// Reviewers that must agree before a finding blocks, when no layer says
/// (lowered to the number of reviewers when there are fewer).
pub const DEFAULT_MIN_AGREEMENT: usize = 2;

/// What the gate does when it cannot trust a review: a reviewer failed
/// (`gate.on_reviewer_failure`), part of the change could not be reviewed
/// at all (`gate.unreviewable`), or the time budget ran out
/// (`review.on_timeout`). One type for the three: each is block or allow.
pub use crate::config::policy::FailurePolicy;

/// `review.on_timeout`: block or allow (default allow: what was reviewed is
/// kept and cached, so the next push continues from there).
pub type OnTimeout = FailurePolicy;

/// The effective settings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The reviewers, in the order they run.
    pub reviewers: Vec<ReviewerSpec>,
    /// Model that writes the report's prose (default [`DEFAULT_LEAD`]);
    /// `None` (`lead = "none"`) builds the prose from the data alone.
    pub lead: Option<String>,
    /// Extra ignore globs; they extend the planner's built-in ones.
    pub ignore: Vec<String>,
    /// Lines of context around each hunk.
    pub context_lines: u32,
    /// Prompt-token budget of one chunk's diff text.
    pub chunk_tokens: usize,
    /// Reviewers see context beyond the diff (`review.context`).
    pub context: bool,
    /// Token budget of one chunk's context; 0 is off.
    pub context_tokens: usize,
    /// Most findings one reviewer reports for one chunk.
    pub max_findings: usize,
    /// When a finding blocks a push.
    pub gate: GatePolicy,
    /// What the gate does when a reviewer failed.
    pub gate_on_reviewer_failure: FailurePolicy,
    /// What the gate does when part of the change cannot be reviewed.
    pub gate_unreviewable: FailurePolicy,
    /// What the hook does with a pushed tag.
    pub gate_tags: crate::config::policy::TagPolicy,
    /// Time budget of a review, in seconds.
    pub time_budget_secs: u64,
    /// What the hook does when the time budget runs out.
    pub on_timeout: OnTimeout,
    /// Where reports go; `None` = `.git/deep-review/reports`. Relative paths
    /// from files and git config are already resolved against the repository root.
    pub report_dir: Option<PathBuf>,
    /// What a review saved in the report directory is written as.
    pub report_formats: ReportFormats,
    /// Size bound of the review cache, in bytes.
    pub cache_max_bytes: u64,
    /// Inference threads; `None` = the cores other processes leave free.
    pub threads: Option<usize>,
    /// Reviewers sharing a model decode together.
    pub batch_decode: crate::config::sampling::BatchDecode,
    /// Bound on the repository instructions given to every reviewer, in bytes.
    pub instructions_max_bytes: usize,
    /// Memory cap per model (weights + KV cache); `None` = what is available.
    pub max_memory: Option<u64>,
    /// Refuse models on inference servers: no code leaves the machine.
    pub offline: bool,
    /// Whether consolidated findings are checked once more (`review.verify`).
    pub verify: VerifyMode,
    /// The model that verifies (`review.verifier`); `None`: the largest
    /// reviewer model (see `verify::choose`).
    pub verifier: Option<String>,
    /// Verifier passes per finding; the majority decides (`review.verify_votes`).
    pub verify_votes: usize,
    /// Prompt files the repository file names, read where the repository
    /// file was (the base of the range, see `repo_files`): path → text.
    pub repo_prompts: BTreeMap<String, String>,
    /// The repository's own review rules (path, text), read from the same
    /// place; `None` when there are none.
    pub instructions: Option<(PathBuf, String)>,
    /// What the repository's file did that loosens or narrows the gate
    /// (switched it off, ignored files, allowed failures), one sentence
    /// each with its source, for the report and the hook's message.
    pub repo_notes: Vec<String>,
    /// The repository's files were read from the base of the range (not
    /// the work tree): a change to them in the range is not yet in force.
    pub repo_files_from_base: bool,
}

/// `review.report_formats`: the formats of a review saved in the report
/// directory (no `-o`, no other `--format`); its JSON is always beside it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReportFormats {
    #[default]
    Markdown,
    Html,
    MarkdownHtml,
}

impl ReportFormats {
    /// The accepted spellings (the words in any order, comma-separated).
    pub const VALUES: &'static [&'static str] = &["markdown", "html", "markdown,html"];

    /// Parses a comma-separated list of `markdown` and `html`.
    pub fn parse(s: &str) -> Option<ReportFormats> {
        let (mut md, mut html) = (false, false);
        for w in s.split(',').map(|w| w.trim().to_ascii_lowercase()) {
            match w.as_str() {
                "markdown" | "md" => md = true,
                "html" => html = true,
                _ => return None,
            }
        }
        match (md, html) {
            (true, false) => Some(ReportFormats::Markdown),
            (false, true) => Some(ReportFormats::Html),
            (true, true) => Some(ReportFormats::MarkdownHtml),
            (false, false) => None,
        }
    }

    /// The configured list as written in a file.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormats::Markdown => "markdown",
            ReportFormats::Html => "html",
            ReportFormats::MarkdownHtml => "markdown,html",
        }
    }
}

/// `review.verify`: whether each consolidated finding goes to a verifier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VerifyMode {
    /// Verify when the verifier is a capable model: a demonstration
    /// model's verdict would drop findings at random.
    #[default]
    Auto,
    On,
    Off,
}

impl VerifyMode {
    /// Parses `auto`, `on` or `off`.
    pub fn parse(s: &str) -> Option<VerifyMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(VerifyMode::Auto),
            "on" | "true" | "yes" => Some(VerifyMode::On),
            "off" | "false" | "no" => Some(VerifyMode::Off),
            _ => None,
        }
    }

    /// The configured word.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyMode::Auto => "auto",
            VerifyMode::On => "on",
            VerifyMode::Off => "off",
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        let reviewer = |name: &str, model: &str, seed: u32| ReviewerSpec {
            name: name.to_string(),
            model: model.to_string(),
            prompt: format!("{name}.md"),
            sampling: Sampling {
                seed,
                max_tokens: crate::config::sampling::AUTO_MAX_TOKENS,
                ..Sampling::default()
            },
        };
        Settings {
            reviewers: vec![
                reviewer("correctness", "smollm2-135m", 11),
                reviewer("robustness", "gemma3-270m", 23),
                reviewer("tests-design", "smollm2-135m", 37),
            ],
            lead: Some(DEFAULT_LEAD.to_string()),
            ignore: Vec::new(),
            context_lines: DEFAULT_CONTEXT_LINES,
            chunk_tokens: DEFAULT_CHUNK_TOKENS,
            context: true,
            context_tokens: DEFAULT_CONTEXT_TOKENS,
            max_findings: DEFAULT_MAX_FINDINGS,
            gate: GatePolicy {
                min_agreement: DEFAULT_MIN_AGREEMENT,
                ..GatePolicy::default()
            },
            gate_on_reviewer_failure: FailurePolicy::Block,
            gate_unreviewable: FailurePolicy::Block,
            gate_tags: crate::config::policy::TagPolicy::Review,
            time_budget_secs: DEFAULT_TIME_BUDGET_SECS,
            on_timeout: OnTimeout::Allow,
            report_dir: None,
            report_formats: ReportFormats::Markdown,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            threads: None,
            batch_decode: crate::config::sampling::BatchDecode::Auto,
            instructions_max_bytes: DEFAULT_INSTRUCTIONS_MAX_BYTES,
            max_memory: None,
            offline: false,
            repo_prompts: BTreeMap::new(),
            instructions: None,
            repo_notes: Vec::new(),
            repo_files_from_base: false,
            verify: VerifyMode::Auto,
            verifier: None,
            verify_votes: 1,
        }
    }
}

/// Values given on the command line; `None` = not given. Each is checked
/// like the same key in a file, and an error names the flag.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    /// `--context N`.
    pub context_lines: Option<u32>,
    /// `--chunk-tokens N`.
    pub chunk_tokens: Option<usize>,
    /// `--context-tokens N`.
    pub context_tokens: Option<usize>,
    /// `--time-budget DURATION`, as given (parsed like the files' value).
    pub time_budget: Option<String>,
    /// `--threads N`.
    pub threads: Option<usize>,
    /// `--verify auto|on|off`.
    pub verify: Option<String>,
    /// `--verifier MODEL`.
    pub verifier: Option<String>,
}

/// Which layer a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// The user file (`~/.config/git-deep-review/config.toml`) at a line.
    UserFile {
        /// The file.
        path: PathBuf,
        /// 1-based line of the value.
        line: usize,
    },
    /// The repository's `.deep-review.toml` at a line.
    RepoFile {
        /// The file.
        path: PathBuf,
        /// 1-based line of the value.
        line: usize,
    },
    /// A `deep-review.*` git config key.
    GitConfig(&'static str),
    /// A `deep-review.*` key given as `git -c KEY=VALUE`.
    GitCommandLine(&'static str),
    /// A `deep-review.*` key given in `GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_<n>`.
    GitEnvironment(&'static str),
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
            Source::GitCommandLine(key) => write!(f, "git -c {key}"),
            Source::GitEnvironment(key) => write!(f, "GIT_CONFIG_COUNT {key}"),
            Source::Cli => write!(f, "command line"),
        }
    }
}

/// Where each effective value came from, and what the caller should tell
/// the user. Keys are the TOML names (`gate.block_on`, `review.time_budget`,
/// `reviewer`); `ignore` is per glob.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// Source of every value that a layer set.
    pub values: BTreeMap<&'static str, Source>,
    /// One source per entry of `Settings::ignore`, same order.
    pub ignore: Vec<Source>,
    /// Configuration files that were found and read.
    pub files: Vec<PathBuf>,
    /// Whether git config trusts the repository file with paths outside
    /// the repository (`deep-review.trustRepoConfig`).
    pub repo_trusted: bool,
    /// Things the user should know that do not stop the run (an unknown
    /// git config key); the caller prints them, one per line.
    pub warnings: Vec<String>,
    /// Where the repository's file was read from (see `repo_files`).
    pub repo_from: String,
    /// Values a later layer replaced: key → the sources it overrode, so
    /// `config` can show which layers lost and why.
    pub overridden: BTreeMap<&'static str, Vec<Source>>,
}

impl Provenance {
    /// Records that `source` set `key`, keeping what it overrode.
    pub(crate) fn set(&mut self, key: &'static str, source: Source) {
        if let Some(old) = self.values.insert(key, source) {
            self.overridden.entry(key).or_default().push(old);
        }
    }

    /// Source of a value (`Default` when nothing overrode it).
    pub fn source(&self, key: &str) -> Source {
        self.values.get(key).cloned().unwrap_or(Source::Default)
    }
}

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

/// What every layer needs to check a value.
pub(crate) struct Ctx<'a> {
    /// Relative paths are resolved against it.
    pub repo_root: &'a Path,
    /// Whether a model name is in the manifest.
    pub model_exists: &'a dyn Fn(&str) -> bool,
    /// The value comes from the untrusted repository file: the paths it
    /// names must stay inside the repository.
    pub confined: bool,
    /// Where the repository's files are read from, when this layer is the
    /// repository file (its prompt files are read from the same place).
    pub files: Option<&'a crate::config::repo_files::RepoFiles>,
}

/// Checks a model name a layer names for a reviewer or the lead: a
/// manifest entry, or (for the test suite only) a stand-in backend.
pub(crate) fn check_model(name: &str, cx: &Ctx<'_>) -> std::result::Result<(), String> {
    use crate::config::model_ref as standin;
    if standin::is_standin(name) {
        if standin::test_backends_enabled() {
            return Ok(());
        }
        return Err(format!(
            "{name:?} is a test backend, not a model (stand-ins are for the test suite only); \
             `git deep-review models` lists the models"
        ));
    }
    // A repository's own file may name a model file only inside the
    // repository (unless the user trusts it), as with prompts.
    // Nor send the code to a server of its choosing: a cloned repository
    // could otherwise ship it to anyone. The user's own files and
    // manifest may name servers.
    if cx.confined && crate::config::model_ref::is_endpoint_url(name) {
        return Err(format!(
            "the repository's own configuration names the server {name:?}: refused, it would send \
             the code there; name servers in your own configuration or models manifest (if you \
             trust this repository's configuration: git config {KEY_TRUST_REPO_CONFIG} true)"
        ));
    }
    // Nor run a model from another tool's store that the user did not
    // choose: the repository names manifest entries (the user's own).
    if cx.confined && crate::config::model_ref::is_store_reference(name) {
        return Err(format!(
            "the repository's own configuration names the store model {name:?}: refused, it would \
             run a model you did not choose; name it in your own configuration or add it with \
             `git deep-review models add` (if you trust this repository's configuration: git \
             config {KEY_TRUST_REPO_CONFIG} true)"
        ));
    }
    if cx.confined && crate::config::model_ref::is_model_path(name) {
        trust::confine_file(&cx.repo_root.join(name), cx.repo_root)
            .map_err(|why| format!("model file {name:?} {why}; {}", trust::HOW_TO_TRUST))?;
    }
    if (cx.model_exists)(name) {
        Ok(())
    } else {
        Err(format!(
            "model {name:?} is not in the model manifest; `git deep-review models` lists the known ones"
        ))
    }
}

/// Resolves a configured path: `~/` is the home directory, a relative path
/// is taken from the repository root.
pub(crate) fn resolve_path(p: &str, repo_root: &Path) -> PathBuf {
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
