//! The registry of configuration keys: one entry per key drives the TOML
//! files, git config, the command line, the provenance record and
//! `git deep-review config`, so a value is parsed and range-checked the
//! same way wherever it is written.
//!
//! Reviewers (`[[reviewer]]` tables) are a list, not a key, and are read by
//! the file layer only.

use super::settings::VerifyMode;
use super::settings::{
    check_model, resolve_path, Ctx, FailurePolicy, OnTimeout, Settings, KEY_BATCH_DECODE,
    KEY_BLOCK_ON, KEY_CACHE_MAX_SIZE, KEY_CHUNK_TOKENS, KEY_CONTEXT, KEY_CONTEXT_LINES,
    KEY_CONTEXT_TOKENS, KEY_COUNT_UNCERTAIN, KEY_COUNT_UNRESOLVED, KEY_GATE, KEY_IGNORE,
    KEY_INSTRUCTIONS_MAX_BYTES, KEY_LEAD, KEY_MAX_FINDINGS, KEY_MAX_MEMORY, KEY_MIN_AGREEMENT,
    KEY_OFFLINE, KEY_ON_REVIEWER_FAILURE, KEY_ON_TIMEOUT, KEY_REPORT_DIR, KEY_REPORT_FORMATS,
    KEY_TAGS, KEY_THREADS, KEY_TIME_BUDGET, KEY_UNREVIEWABLE, KEY_VERIFIER, KEY_VERIFY,
    KEY_VERIFY_VOTES, LEAD_NONE,
};
use super::trust;
use crate::severity::parse_severity;

/// How a key's value is written, checked and stored.
pub enum Kind {
    /// `true` / `false` (git config also: on/off, yes/no, 1/0).
    Bool {
        /// The effective value.
        get: fn(&Settings) -> bool,
        /// Stores a checked value.
        set: fn(&mut Settings, bool),
    },
    /// A whole number within `min..=max`.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
        /// The effective value (`None` = unset, the run decides).
        get: fn(&Settings) -> Option<i64>,
        /// Stores a checked value.
        set: fn(&mut Settings, i64),
    },
    /// A byte size: a number of bytes or `200MB`, `8GiB`; at least `min`.
    Size {
        /// Smallest accepted value.
        min: u64,
        /// The effective value (`None` = unset, the run decides).
        get: fn(&Settings) -> Option<u64>,
        /// Stores a checked value.
        set: fn(&mut Settings, u64),
    },
    /// A positive duration: seconds, or `90s`, `10m`, `1h30m`.
    Duration {
        /// The effective value in seconds.
        get: fn(&Settings) -> u64,
        /// Stores a checked value.
        set: fn(&mut Settings, u64),
    },
    /// One word of `values` (case-insensitive).
    Choice {
        /// The accepted words.
        values: &'static [&'static str],
        /// The effective word.
        get: fn(&Settings) -> &'static str,
        /// Stores the value a word means; `false` when it means nothing.
        set: fn(&mut Settings, &str) -> bool,
    },
    /// A model name from the manifest, or `none`.
    Lead,
    /// A model reference for the verifier, or `auto` (the largest reviewer model).
    Verifier,
    /// A directory for reports; relative to the repository root.
    ReportDir,
    /// Ignore globs; every layer adds to the list.
    Globs,
}

impl Kind {
    /// The value's type as the manual states it ("an integer from 0 to
    /// 1000", "one of: on, off").
    pub fn type_doc(&self) -> String {
        match self {
            Kind::Bool { .. } => "a boolean (true or false)".to_string(),
            Kind::Int { min, max, .. } => format!("an integer from {min} to {max}"),
            Kind::Size { min, .. } => {
                format!("a size in bytes (a number, or 200MB, 8GiB), at least {min}")
            }
            Kind::Duration { .. } => "a duration (seconds, or 90s, 10m, 1h30m)".to_string(),
            Kind::Choice { values, .. } => format!("one of: {}", values.join(", ")),
            Kind::Lead => "a model reference (as a reviewer's model), or none".to_string(),
            Kind::Verifier => {
                "a model reference (manifest name, ollama:, hf:, lmstudio: or a GGUF path), or auto"
                    .to_string()
            }
            Kind::ReportDir => "a directory (relative to the repository's top)".to_string(),
            Kind::Globs => "a list of glob patterns".to_string(),
        }
    }
}

/// One configuration key.
pub struct Key {
    /// `section.name` in the TOML files (and in [`super::Provenance`]).
    pub toml: &'static str,
    /// The git config key (`deep-review.camelCase`).
    pub git: &'static str,
    /// The command-line flag, if there is one.
    pub flag: Option<&'static str>,
    /// Parser, range and where the value is stored.
    pub kind: Kind,
    /// The default as it would be written in a file; `None` = unset, and
    /// `unset` says what the run does then.
    pub default: Option<&'static str>,
    /// What the run does when the key is unset (for keys without a default).
    pub unset: &'static str,
    /// One line saying what the key does.
    pub doc: &'static str,
}

impl Key {
    /// The TOML table the key lives in (`review`).
    pub fn section(&self) -> &'static str {
        self.toml.split_once('.').map_or(self.toml, |(s, _)| s)
    }

    /// The key's name inside its table (`chunk_tokens`).
    pub fn name(&self) -> &'static str {
        self.toml.split_once('.').map_or(self.toml, |(_, n)| n)
    }
}

/// The tables of the configuration files that hold registry keys.
pub const SECTIONS: [&str; 3] = ["review", "gate", "cache"];

/// Every configuration key, in the order `git deep-review config` prints them.
pub static REGISTRY: &[Key] = &[
    Key {
        toml: "review.lead",
        git: KEY_LEAD,
        flag: None,
        kind: Kind::Lead,
        default: Some(super::settings::DEFAULT_LEAD),
        unset: "",
        doc: "model that writes the report's prose; \"none\" builds it from the data alone",
    },
    Key {
        toml: "review.ignore",
        git: KEY_IGNORE,
        flag: None,
        kind: Kind::Globs,
        default: None,
        unset: "only the built-in ignore list",
        doc: "globs of files not to review; every layer adds to the built-in list",
    },
    Key {
        toml: "review.context_lines",
        git: KEY_CONTEXT_LINES,
        flag: Some("--context"),
        kind: Kind::Int {
            min: 0,
            max: 1000,
            get: |s| Some(i64::from(s.context_lines)),
            set: |s, n| s.context_lines = n as u32,
        },
        default: Some("3"),
        unset: "",
        doc: "lines of context around each change",
    },
    Key {
        toml: "review.chunk_tokens",
        git: KEY_CHUNK_TOKENS,
        flag: Some("--chunk-tokens"),
        kind: Kind::Int {
            min: 128,
            max: 1 << 20,
            get: |s| Some(s.chunk_tokens as i64),
            set: |s, n| s.chunk_tokens = n as usize,
        },
        default: Some("2048"),
        unset: "",
        doc: "token budget of the diff part of one prompt; bigger diffs are cut into chunks",
    },
    Key {
        toml: "review.context",
        git: KEY_CONTEXT,
        flag: None,
        kind: Kind::Choice {
            values: &["on", "off"],
            get: |s| if s.context { "on" } else { "off" },
            set: |s, v| match v {
                "on" => {
                    s.context = true;
                    true
                }
                "off" => {
                    s.context = false;
                    true
                }
                _ => false,
            },
        },
        default: Some("on"),
        unset: "",
        doc: "show reviewers the code around the change (enclosing functions, callers, definitions, tests); off sends the diff alone",
    },
    Key {
        toml: "review.context_tokens",
        git: KEY_CONTEXT_TOKENS,
        flag: Some("--context-tokens"),
        kind: Kind::Int {
            min: 0,
            max: 1 << 20,
            get: |s| Some(s.context_tokens as i64),
            set: |s, n| s.context_tokens = n as usize,
        },
        default: Some("4096"),
        unset: "",
        doc: "token budget of one chunk's context (shrunk to fit each model's window); 0 is off",
    },
    Key {
        toml: "review.max_findings",
        git: KEY_MAX_FINDINGS,
        flag: None,
        kind: Kind::Int {
            min: 1,
            max: 1000,
            get: |s| Some(s.max_findings as i64),
            set: |s, n| s.max_findings = n as usize,
        },
        default: Some("8"),
        unset: "",
        doc: "most findings one reviewer reports for one chunk",
    },
    Key {
        toml: "review.time_budget",
        git: KEY_TIME_BUDGET,
        flag: Some("--time-budget"),
        kind: Kind::Duration {
            get: |s| s.time_budget_secs,
            set: |s, n| s.time_budget_secs = n,
        },
        default: Some("600"),
        unset: "",
        doc: "time budget of a review in seconds (or \"90s\", \"10m\", \"1h\")",
    },
    Key {
        toml: "review.on_timeout",
        git: KEY_ON_TIMEOUT,
        flag: None,
        kind: Kind::Choice {
            values: &["allow", "block"],
            get: |s| s.on_timeout.as_str(),
            set: |s, v| OnTimeout::parse(v).map(|p| s.on_timeout = p).is_some(),
        },
        default: Some("allow"),
        unset: "",
        doc: "what the hook does when the time budget runs out",
    },
    Key {
        toml: "review.report_dir",
        git: KEY_REPORT_DIR,
        flag: None,
        kind: Kind::ReportDir,
        default: None,
        unset: ".git/deep-review/reports",
        doc: "directory for reports, relative to the repository root",
    },
    Key {
        toml: "review.report_formats",
        git: KEY_REPORT_FORMATS,
        flag: None,
        kind: Kind::Choice {
            values: super::settings::ReportFormats::VALUES,
            get: |s| s.report_formats.as_str(),
            set: |s, v| {
                super::settings::ReportFormats::parse(v)
                    .map(|f| s.report_formats = f)
                    .is_some()
            },
        },
        default: Some("markdown"),
        unset: "",
        doc: "what a review saved in the report directory is written as: markdown, html, or markdown,html (the HTML page beside the Markdown)",
    },
    Key {
        toml: "review.instructions_max_bytes",
        git: KEY_INSTRUCTIONS_MAX_BYTES,
        flag: None,
        kind: Kind::Size {
            min: 0,
            get: |s| Some(s.instructions_max_bytes as u64),
            set: |s, n| s.instructions_max_bytes = usize::try_from(n).unwrap_or(usize::MAX),
        },
        default: Some("8192"),
        unset: "",
        doc: "bound on the repository instructions (REVIEW.md...) given to every reviewer",
    },
    Key {
        toml: "review.offline",
        git: KEY_OFFLINE,
        flag: None,
        kind: Kind::Bool {
            get: |s| s.offline,
            set: |s, v| s.offline = v,
        },
        default: Some("false"),
        unset: "",
        doc: "refuse every model on an inference server, before the diff is read (also --offline)",
    },
    Key {
        toml: "review.threads",
        git: KEY_THREADS,
        flag: Some("--threads"),
        kind: Kind::Int {
            min: 1,
            max: 1024,
            get: |s| s.threads.map(|t| t as i64),
            set: |s, n| s.threads = Some(n as usize),
        },
        default: None,
        unset: "the cores other processes leave free",
        doc: "threads for the model engine (fixed; unset: follows the machine's load)",
    },
    Key {
        toml: "review.batch_decode",
        git: KEY_BATCH_DECODE,
        flag: None,
        kind: Kind::Choice {
            values: &["auto", "on", "off"],
            get: |s| s.batch_decode.as_str(),
            set: |s, v| {
                crate::config::sampling::BatchDecode::parse(v)
                    .map(|b| s.batch_decode = b)
                    .is_some()
            },
        },
        default: Some("auto"),
        unset: "",
        doc: "decode the reviewers that share a model together (auto: models of 1 GiB or more)",
    },
    Key {
        toml: "review.max_memory",
        git: KEY_MAX_MEMORY,
        flag: None,
        kind: Kind::Size {
            min: 1,
            get: |s| s.max_memory,
            set: |s, n| s.max_memory = Some(n),
        },
        default: None,
        unset: "what is available",
        doc: "most memory one model may use, weights and KV cache; contexts shrink to fit",
    },
    Key {
        toml: "review.verify",
        git: KEY_VERIFY,
        flag: Some("--verify"),
        kind: Kind::Choice {
            values: &["auto", "on", "off"],
            get: |s| s.verify.as_str(),
            set: |s, v| VerifyMode::parse(v).map(|m| s.verify = m).is_some(),
        },
        default: Some("auto"),
        unset: "",
        doc: "check every consolidated finding once more with a verifier model before the gate counts it; auto: unless the verifier is a demonstration model",
    },
    Key {
        toml: "review.verifier",
        git: KEY_VERIFIER,
        flag: Some("--verifier"),
        kind: Kind::Verifier,
        default: None,
        unset: "the largest reviewer model (another than a finding's only reviewer when there is one)",
        doc: "model that verifies findings: a manifest name, store reference, GGUF path or server URL",
    },
    Key {
        toml: "review.verify_votes",
        git: KEY_VERIFY_VOTES,
        flag: None,
        kind: Kind::Int {
            min: 1,
            max: 9,
            get: |s| Some(s.verify_votes as i64),
            set: |s, n| s.verify_votes = n as usize,
        },
        default: Some("1"),
        unset: "",
        doc: "verifier passes per finding, each with the code in another order; the majority decides (3 is self-consistency)",
    },
    Key {
        toml: "gate.enabled",
        git: KEY_GATE,
        flag: None,
        kind: Kind::Bool {
            get: |s| s.gate.enabled,
            set: |s, b| s.gate.enabled = b,
        },
        default: Some("true"),
        unset: "",
        doc: "false makes the hook allow every push",
    },
    Key {
        toml: "gate.block_on",
        git: KEY_BLOCK_ON,
        flag: None,
        kind: Kind::Choice {
            values: &["critical", "important", "suggestion"],
            get: |s| s.gate.block_on.as_str(),
            set: |s, v| parse_severity(v).map(|p| s.gate.block_on = p).is_some(),
        },
        default: Some("critical"),
        unset: "",
        doc: "findings at this severity or more severe can block a push",
    },
    Key {
        toml: "gate.min_agreement",
        git: KEY_MIN_AGREEMENT,
        flag: None,
        kind: Kind::Int {
            min: 1,
            max: 100,
            get: |s| Some(s.gate.min_agreement as i64),
            set: |s, n| s.gate.min_agreement = n as usize,
        },
        default: None,
        unset: "2, or the number of reviewers when there are fewer",
        doc: "reviewers that must agree on a finding before it blocks",
    },
    Key {
        toml: "gate.count_unresolved",
        git: KEY_COUNT_UNRESOLVED,
        flag: None,
        kind: Kind::Bool {
            get: |s| s.gate.count_unresolved,
            set: |s, b| s.gate.count_unresolved = b,
        },
        default: Some("false"),
        unset: "",
        doc: "true lets earlier reviews' findings still in the code block like today's",
    },
    Key {
        toml: "gate.count_uncertain",
        git: KEY_COUNT_UNCERTAIN,
        flag: None,
        kind: Kind::Bool {
            get: |s| s.gate.count_uncertain,
            set: |s, b| s.gate.count_uncertain = b,
        },
        default: Some("true"),
        unset: "",
        doc: "findings the verifier could not decide, or failed to check, block like confirmed ones",
    },
    Key {
        toml: "gate.on_reviewer_failure",
        git: KEY_ON_REVIEWER_FAILURE,
        flag: None,
        kind: Kind::Choice {
            values: &["block", "allow"],
            get: |s| s.gate_on_reviewer_failure.as_str(),
            set: |s, v| {
                FailurePolicy::parse(v)
                    .map(|p| s.gate_on_reviewer_failure = p)
                    .is_some()
            },
        },
        default: Some("block"),
        unset: "",
        doc: "what the gate does when a reviewer failed (a failed reviewer never counts as no finding)",
    },
    Key {
        toml: "gate.unreviewable",
        git: KEY_UNREVIEWABLE,
        flag: None,
        kind: Kind::Choice {
            values: &["block", "allow"],
            get: |s| s.gate_unreviewable.as_str(),
            set: |s, v| {
                FailurePolicy::parse(v)
                    .map(|p| s.gate_unreviewable = p)
                    .is_some()
            },
        },
        default: Some("block"),
        unset: "",
        doc: "what the gate does when part of the change cannot be reviewed at all",
    },
    Key {
        toml: "gate.tags",
        git: KEY_TAGS,
        flag: None,
        kind: Kind::Choice {
            values: &["review", "allow"],
            get: |s| s.gate_tags.as_str(),
            set: |s, v| {
                crate::config::policy::TagPolicy::parse(v)
                    .map(|p| s.gate_tags = p)
                    .is_some()
            },
        },
        default: Some("review"),
        unset: "",
        doc: "pushed tags: review the commits a tag adds over the remote's known refs, or allow them unreviewed (named)",
    },
    Key {
        toml: "cache.max_size",
        git: KEY_CACHE_MAX_SIZE,
        flag: None,
        kind: Kind::Size {
            min: 0,
            get: |s| Some(s.cache_max_bytes),
            set: |s, n| s.cache_max_bytes = n,
        },
        default: Some("200MB"),
        unset: "",
        doc: "size bound of the review cache in .git/deep-review/cache",
    },
];

/// The key with this TOML path.
pub fn by_toml(path: &str) -> Option<&'static Key> {
    REGISTRY.iter().find(|k| k.toml == path)
}

/// The key with this git config name (git compares names case-insensitively).
pub fn by_git(name: &str) -> Option<&'static Key> {
    REGISTRY.iter().find(|k| k.git.eq_ignore_ascii_case(name))
}

/// A value as a layer wrote it, before the key's parser has seen it.
pub(crate) enum Raw<'a> {
    /// Text with no type of its own (git config): parsed as the key's kind.
    Text(&'a str),
    /// A TOML string.
    Str(&'a str),
    /// A TOML or command-line integer.
    Int(i64),
    /// A TOML boolean.
    Bool(bool),
    /// Any other TOML value, by type name (only for the message).
    Other(&'static str),
}

impl Raw<'_> {
    /// The value's type, for messages ("an integer").
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Raw::Text(_) | Raw::Str(_) => "a string",
            Raw::Int(_) => "an integer",
            Raw::Bool(_) => "a boolean",
            Raw::Other(t) => t,
        }
    }

    /// Text the parser may read: git config text and TOML strings.
    fn text(&self) -> Option<&str> {
        match self {
            Raw::Text(t) | Raw::Str(t) => Some(t),
            _ => None,
        }
    }
}

/// Parses, checks and stores one value of `key`. The error says what is
/// wrong with the value; the layer adds where it was written.
pub(crate) fn apply(
    key: &Key,
    raw: Raw<'_>,
    s: &mut Settings,
    cx: &Ctx<'_>,
) -> std::result::Result<(), String> {
    let wrong = |expected: &str| format!("expected {expected}, found {}", raw.type_name());
    match &key.kind {
        Kind::Bool { set, .. } => {
            let b = match raw {
                Raw::Bool(b) => b,
                Raw::Text(t) => {
                    parse_git_bool(t).ok_or_else(|| format!("{t:?}: expected on or off"))?
                }
                _ => return Err(wrong("true or false")),
            };
            set(s, b);
        }
        Kind::Int { min, max, set, .. } => {
            let n = match raw {
                Raw::Int(n) => n,
                Raw::Text(t) => t
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| format!("{t:?} is not a whole number ({min}..={max})"))?,
                _ => return Err(wrong("an integer")),
            };
            if n < *min || n > *max {
                return Err(format!("{n} is out of range ({min}..={max})"));
            }
            set(s, n);
        }
        Kind::Size { min, set, .. } => {
            let n = match (&raw, raw.text()) {
                (Raw::Int(n), _) => u64::try_from(*n).map_err(|_| format!("{n} is negative"))?,
                (_, Some(t)) => parse_byte_size(t).ok_or_else(|| {
                    format!("{t:?} is not a size (e.g. 8192, \"200MB\", \"8GiB\")")
                })?,
                _ => return Err(wrong("a size such as 8192 or \"200MB\"")),
            };
            if n < *min {
                return Err(format!("{n} is too small (at least {min})"));
            }
            set(s, n);
        }
        Kind::Duration { set, .. } => {
            // One parser for every layer: a TOML integer is read as the
            // same text a flag or git config gives (`120` = `"120"`).
            let secs = match (&raw, raw.text()) {
                (Raw::Int(n), _) => duration_secs(&n.to_string())?,
                (_, Some(t)) => duration_secs(t)?,
                _ => return Err(wrong("a duration such as 600 or \"10m\"")),
            };
            set(s, secs);
        }
        Kind::Choice { values, set, .. } => {
            let words = values
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(" or ");
            let t = raw.text().ok_or_else(|| wrong(&words))?;
            if !set(s, t) {
                return Err(format!("{t:?}: expected {words}"));
            }
        }
        Kind::Lead => {
            let t = raw
                .text()
                .ok_or_else(|| wrong("a model name or \"none\""))?
                .trim();
            if t == LEAD_NONE {
                s.lead = None;
            } else {
                check_model(t, cx).map_err(|m| format!("{m} (or \"none\" for no lead)"))?;
                s.lead = Some(t.to_string());
            }
        }
        Kind::Verifier => {
            let t = raw
                .text()
                .ok_or_else(|| wrong("a model name or \"auto\""))?
                .trim();
            if t == "auto" {
                s.verifier = None;
            } else {
                check_model(t, cx)
                    .map_err(|m| format!("{m} (or \"auto\" for the largest reviewer model)"))?;
                s.verifier = Some(t.to_string());
            }
        }
        Kind::ReportDir => {
            let t = raw.text().ok_or_else(|| wrong("a directory"))?;
            if t.trim().is_empty() {
                return Err("must not be empty".into());
            }
            let dir = resolve_path(t, cx.repo_root);
            let dir = if cx.confined {
                trust::confine_dir(&dir, cx.repo_root)
                    .map_err(|why| format!("{t:?} {why}; {}", trust::HOW_TO_TRUST))?
            } else {
                dir
            };
            s.report_dir = Some(dir);
        }
        Kind::Globs => {
            let t = raw.text().ok_or_else(|| wrong("a glob"))?;
            globset::Glob::new(t).map_err(|e| format!("bad glob {t:?}: {e}"))?;
            s.ignore.push(t.to_string());
        }
    }
    Ok(())
}

/// The effective value of `key` as a TOML literal; `None` when unset (the
/// ignore list is printed by its own rule).
pub(crate) fn show(key: &Key, s: &Settings) -> Option<String> {
    match &key.kind {
        Kind::Bool { get, .. } => Some(get(s).to_string()),
        Kind::Int { get, .. } => get(s).map(|n| n.to_string()),
        Kind::Size { get, .. } => get(s).map(|n| n.to_string()),
        Kind::Duration { get, .. } => Some(get(s).to_string()),
        Kind::Choice { get, .. } => Some(toml_str(get(s))),
        Kind::Lead => Some(toml_str(s.lead.as_deref().unwrap_or(LEAD_NONE))),
        Kind::Verifier => s.verifier.as_deref().map(toml_str),
        Kind::ReportDir => s
            .report_dir
            .as_ref()
            .map(|d| toml_str(&d.to_string_lossy())),
        Kind::Globs => None,
    }
}

/// A TOML basic string (a JSON string is one for everything we print).
pub(crate) fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// git's boolean spellings.
fn parse_git_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" | "" => Some(false),
        _ => None,
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

/// The longest duration a key accepts: a year. A deadline further out
/// would mean "no limit" anyway, and `Instant + Duration` must not overflow.
pub const MAX_DURATION_SECS: u64 = 366 * 24 * 3600;

/// Parses `600`, `90s`, `10m`, `1h`, `1h30m` into seconds (positive, at
/// most [`MAX_DURATION_SECS`]).
pub fn parse_duration_secs(s: &str) -> Option<u64> {
    duration_secs(s).ok()
}

/// [`parse_duration_secs`] with the reason a value is refused: the one
/// parser of durations for the command line, git config and the files.
pub fn duration_secs(text: &str) -> std::result::Result<u64, String> {
    const EXAMPLES: &str = "e.g. 600, \"90s\", \"10m\", \"1h\", \"1h30m\"";
    let s = text.trim();
    let not_one = || format!("{text:?} is not a duration ({EXAMPLES})");
    if s.is_empty() {
        return Err(not_one());
    }
    let total = if s.bytes().all(|b| b.is_ascii_digit()) {
        // Bare seconds; an overflow is a value out of range, not a typo.
        s.parse::<u64>().unwrap_or(u64::MAX)
    } else {
        let mut total: u64 = 0;
        let mut num = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let n: u64 = num.parse().map_err(|_| not_one())?;
            num.clear();
            let mult = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => return Err(not_one()),
            };
            total = n.saturating_mul(mult).saturating_add(total);
        }
        if !num.is_empty() {
            return Err(not_one());
        }
        total
    };
    if total == 0 {
        return Err(format!("{text:?} must be positive ({EXAMPLES})"));
    }
    if total > MAX_DURATION_SECS {
        return Err(format!(
            "{text:?} is out of range (at most {MAX_DURATION_SECS} seconds, a year)"
        ));
    }
    Ok(total)
}

/// Of `candidates`, the one closest to `name` by edit distance (ignoring
/// case), if it is close enough to be a plausible typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    // The budget comes from the last segment: a shared `deep-review.`
    // prefix must not make unrelated names look close.
    let last = name.rsplit('.').next().unwrap_or(&name).len();
    let budget = (last / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&name, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance (insertions, deletions, substitutions) over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (prev + cost).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cx(root: &Path) -> Ctx<'_> {
        Ctx {
            repo_root: root,
            model_exists: &|m| m == crate::config::settings::DEFAULT_LEAD,
            confined: false,
            files: None,
        }
    }

    #[test]
    fn every_default_parses_to_the_built_in_value() {
        let root = Path::new("/repo");
        let mut s = Settings::default();
        for key in REGISTRY {
            if let Some(d) = key.default {
                apply(key, Raw::Text(d), &mut s, &cx(root)).unwrap();
            }
        }
        assert_eq!(s, Settings::default(), "a registry default drifted");
        for key in REGISTRY {
            assert_eq!(
                key.default.is_none(),
                !key.unset.is_empty(),
                "{}: a key says either its default or what unset means",
                key.toml
            );
        }
    }

    #[test]
    fn names_are_unique_and_well_formed() {
        for (i, a) in REGISTRY.iter().enumerate() {
            assert!(SECTIONS.contains(&a.section()), "{}", a.toml);
            assert!(a.git.starts_with("deep-review."), "{}", a.git);
            assert!(!a.doc.is_empty());
            for b in &REGISTRY[i + 1..] {
                assert_ne!(a.toml, b.toml);
                assert!(!a.git.eq_ignore_ascii_case(b.git));
            }
        }
    }

    #[test]
    fn report_formats_take_either_order_and_refuse_other_words() {
        use crate::config::settings::ReportFormats;
        assert_eq!(
            ReportFormats::parse("markdown"),
            Some(ReportFormats::Markdown)
        );
        assert_eq!(ReportFormats::parse(" HTML "), Some(ReportFormats::Html));
        assert_eq!(
            ReportFormats::parse("html, markdown"),
            Some(ReportFormats::MarkdownHtml)
        );
        for bad in ["", "pdf", "html,pdf", ","] {
            assert_eq!(ReportFormats::parse(bad), None, "{bad:?}");
        }
        for v in ReportFormats::VALUES {
            assert_eq!(ReportFormats::parse(v).map(ReportFormats::as_str), Some(*v));
        }
    }

    #[test]
    fn closest_finds_typos_only() {
        let keys = REGISTRY.iter().map(|k| k.git);
        assert_eq!(
            closest("deep-review.blokOn", keys.clone()),
            Some(KEY_BLOCK_ON)
        );
        assert_eq!(
            closest("DEEP-REVIEW.MINAGREMENT", keys.clone()),
            Some(KEY_MIN_AGREEMENT)
        );
        assert_eq!(closest("deep-review.colour-scheme-x", keys.clone()), None);
        assert_eq!(closest("deep-review.colour", keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
