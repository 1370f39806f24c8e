//! The command line (clap derive): what `git deep-review --help` teaches.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The examples of `--help` and of the man page's EXAMPLES: (command, what it does).
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "git deep-review",
        "review the current branch against its upstream",
    ),
    (
        "git deep-review origin/main..",
        "review everything on HEAD that is not on origin/main",
    ),
    (
        "git deep-review main...feature",
        "review feature from its merge base with main",
    ),
    (
        "git deep-review HEAD~3..HEAD --plan",
        "show what would be reviewed, load no model",
    ),
    (
        "git deep-review --format sarif -o review.sarif",
        "a report for code-scanning tools",
    ),
    (
        "git deep-review hook install",
        "block pushes on confirmed critical findings",
    ),
    (
        "git deep-review models",
        "list the local models and whether they are verified",
    ),
    (
        "git deep-review init",
        "choose reviewers from the models on this machine",
    ),
    (
        "git deep-review eval --from-history --mutants 20",
        "measure the reviewers on this repository's own bugs",
    ),
];

/// The exit codes, for `--help` and the man page's EXIT STATUS: (code, meaning).
pub const EXIT_CODES: &[(i32, &str)] = &[
    (crate::error::EXIT_OK, "reviewed, nothing blocks (or nothing to review)"),
    (
        crate::error::EXIT_BLOCKED,
        "the gate policy blocks (a finding at or above the blocking severity with enough agreement)",
    ),
    (crate::error::EXIT_USAGE, "usage or configuration error (bad range, unknown revision)"),
    (crate::error::EXIT_GIT, "git problem (not a repository, shallow history)"),
    (crate::error::EXIT_MODEL, "model problem (missing, hash mismatch, corrupt)"),
    (crate::error::EXIT_IO, "I/O error writing the report, cache or hook"),
    (crate::error::EXIT_INTERRUPTED, "interrupted"),
];

/// The text after `--help`'s options: examples and exit codes, from the tables above.
fn after_help() -> String {
    let mut s = String::from("Examples:\n");
    for (cmd, what) in EXAMPLES {
        if cmd.len() <= 36 {
            s.push_str(&format!("  {cmd:<36} {what}\n"));
        } else {
            s.push_str(&format!("  {cmd}\n  {:<36} {what}\n", ""));
        }
    }
    s.push_str("\nExit codes:\n");
    for (code, what) in EXIT_CODES {
        s.push_str(&format!("  {code:<3} {what}\n"));
    }
    s.push_str(
        "\nNothing is sent over the network: models run in this process from local GGUF files.\n\
         `--version` says what a bug report needs; `git deep-review --help` opens the manual page.",
    );
    s
}

/// `git deep-review`: a code review of a commit range by several local models.
#[derive(Debug, Parser)]
#[command(
    name = "git-deep-review",
    bin_name = "git deep-review",
    version,
    disable_version_flag = true,
    about = "A senior-level code review of a commit range by several local GGUF models; no code leaves the machine.",
    after_help = after_help(),
    // Not `args_conflicts_with_subcommands`: clap counts the global options
    // too, so `git deep-review --no-pager config` read `config` as a range.
    // `ReviewArgs::given` refuses review options before a subcommand instead.
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub review: ReviewArgs,

    #[command(flatten)]
    pub global: GlobalArgs,

    /// Print the version on one line.
    #[arg(short = 'V', action = clap::ArgAction::Version)]
    pub short_version: Option<bool>,

    /// Print what a bug report needs: version, commit, llama.cpp build, back
    /// ends, grammars compiled in and the default models' state (loads no model).
    #[arg(long = "version")]
    pub version: bool,
}

/// Options every subcommand understands.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Run as if started in <PATH> (like `git -C`).
    #[arg(short = 'C', value_name = "PATH", global = true)]
    pub repo: Option<PathBuf>,

    /// When to colour the terminal output.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,

    /// No progress and no summary on stderr; only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Show llama.cpp's own log and more detail.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Do not pipe long output (the review summary, --plan, config, models,
    /// eval) through the pager, as `git --no-pager`.
    #[arg(short = 'P', long, global = true)]
    pub no_pager: bool,
}

/// Options of the review itself (the default command).
#[derive(Debug, Args, Clone, Default)]
pub struct ReviewArgs {
    /// What to review: `A..B`, `A..` (to HEAD), `A...B` (from the merge base),
    /// or one commit `X` (the change it introduced). Default: the current
    /// branch against its upstream, else against the remote's default branch.
    #[arg(value_name = "RANGE")]
    pub range: Option<String>,

    /// Show what would be reviewed (commits, files, skipped files, chunks and
    /// token estimates) without loading any model.
    #[arg(long)]
    pub plan: bool,

    /// Output format. Review: markdown (default), json, sarif, html, codequality (GitLab). Plan: text (default), json.
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Write the report here instead of .git/deep-review/reports/ (`-` = stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Run every reviewer (and the lead) on this model instead of the
    /// configured ones: a manifest name, a store reference
    /// (`ollama:qwen2.5-coder:7b`, `hf:ORG/REPO/FILE.gguf`,
    /// `lmstudio:PUBLISHER/MODEL/FILE.gguf`) or a GGUF path.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Run only these reviewers (by name; repeat or comma-separate).
    #[arg(long = "reviewer", value_name = "NAME", value_delimiter = ',')]
    pub reviewers: Vec<String>,

    /// Lines of context around each change.
    #[arg(long, value_name = "N")]
    pub context: Option<u32>,

    /// Token budget for the diff part of one prompt (bigger diffs are chunked).
    #[arg(long, value_name = "N")]
    pub chunk_tokens: Option<usize>,

    /// Token budget for the read-only context shown beside each chunk's diff
    /// (enclosing functions, callers, definitions, tests); 0 sends the diff alone.
    #[arg(long, value_name = "N")]
    pub context_tokens: Option<usize>,

    /// Check every consolidated finding once more with a verifier model
    /// before the gate counts it: refuted findings leave the list (the
    /// report keeps them in an appendix), uncertain ones stay, marked.
    /// auto verifies unless the verifier is a demonstration model.
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "on", "off"])]
    pub verify: Option<String>,

    /// The model that verifies findings (default: the largest reviewer model).
    #[arg(long, value_name = "MODEL")]
    pub verifier: Option<String>,

    /// Time budget of the whole run: seconds, or 90s, 10m, 1h, 1h30m (as
    /// `review.time_budget`). When it runs out the review stops and the
    /// report of what was done is written, marked incomplete.
    #[arg(long, value_name = "DURATION")]
    pub time_budget: Option<String>,

    /// Do not read or write the review cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Exit 1 when the gate policy blocks (the hook always does).
    #[arg(long)]
    pub gate: bool,

    /// Threads for the model engine (default: the cores other processes leave free, checked before each chunk).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Refuse every reviewer on an inference server before reading the
    /// diff: nothing leaves this machine (also `git config deep-review.offline true`).
    #[arg(long)]
    pub offline: bool,
}

impl Command {
    /// The subcommand as the user types it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Models { .. } => "models",
            Command::Init { .. } => "init",
            Command::Config => "config",
            Command::Hook(_) => "hook",
            Command::Cache(_) => "cache",
            Command::Eval(_) => "eval",
            Command::Generate(_) => "generate",
        }
    }
}

impl ReviewArgs {
    /// The review options given on the command line, as the user wrote
    /// them (`RANGE`, `--plan`...): a subcommand takes none of them.
    pub fn given(&self) -> Vec<&'static str> {
        let flags = [
            (self.range.is_some(), "RANGE"),
            (self.plan, "--plan"),
            (self.format.is_some(), "--format"),
            (self.output.is_some(), "--output"),
            (self.model.is_some(), "--model"),
            (!self.reviewers.is_empty(), "--reviewer"),
            (self.context.is_some(), "--context"),
            (self.chunk_tokens.is_some(), "--chunk-tokens"),
            (self.context_tokens.is_some(), "--context-tokens"),
            (self.verify.is_some(), "--verify"),
            (self.verifier.is_some(), "--verifier"),
            (self.time_budget.is_some(), "--time-budget"),
            (self.no_cache, "--no-cache"),
            (self.gate, "--gate"),
            (self.threads.is_some(), "--threads"),
            (self.offline, "--offline"),
        ];
        flags
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, f)| *f)
            .collect()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every usable model: the models directory's manifest, then
    /// Ollama, the Hugging Face cache and LM Studio (read-only, nothing
    /// copied), with size, architecture, parameters, context, quantisation,
    /// chat template and whether the file is verified.
    ///
    /// A reviewer's `model` (or `review.lead`) may name a manifest entry, a
    /// store reference (`ollama:qwen2.5-coder:7b`,
    /// `hf:ORG/REPO/FILE.gguf`, `lmstudio:PUBLISHER/MODEL/FILE.gguf`) or a
    /// GGUF path.
    ///
    /// For scripts: `--format json` prints the same list as one JSON
    /// document (`"version": 1`), and `--path MODEL` prints only the
    /// absolute path of the file one model reference resolves to, exactly
    /// as a review resolves a reviewer's `model`. Neither loads a model.
    #[command(args_conflicts_with_subcommands = true, after_help = MODELS_AFTER_HELP)]
    Models {
        #[command(flatten)]
        list: ModelsListArgs,
        #[command(subcommand)]
        cmd: Option<ModelsCommand>,
    },
    /// Write a configuration chosen from the models on this machine.
    ///
    /// Looks at the models directory and the model stores (Ollama, Hugging
    /// Face, LM Studio), prefers a capable code model that fits in memory,
    /// and writes three reviewers (correctness, robustness, tests-design)
    /// and the lead on it, with a few comment lines saying why. With no
    /// capable model it writes the bundled demonstration models and says
    /// plainly that they cannot review code. Never overwrites a file
    /// without --force (the old one is then kept as .bak, or .bak.N:
    /// an earlier backup is never replaced).
    Init {
        /// Write your user configuration (~/.config/git-deep-review/config.toml)
        /// instead of the repository's .deep-review.toml.
        #[arg(long)]
        global: bool,
        /// Replace an existing file (kept as <file>.bak, or .bak.N when taken).
        #[arg(long)]
        force: bool,
        /// Print the configuration instead of writing it.
        #[arg(long, conflicts_with_all = ["global", "force"])]
        stdout: bool,
    },
    /// Print the effective configuration and where each value came from.
    Config,
    /// Install, remove or inspect the pre-push hook.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Manage the review cache in .git/deep-review/cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Measure the configured reviewers on labelled defects: your own bugs.
    ///
    /// Cases come from a cases file (--cases), from this repository's
    /// history (--from-history: each fix commit's changed lines are blamed
    /// back to the commit that introduced them) and from planted bugs
    /// (--mutants: one known defect written into a real recent change, as
    /// new objects only). Each case is reviewed like `git deep-review`
    /// would (same reviewers, same cache; the lead is not run), and every
    /// reviewer and the consolidated review are scored: defects found,
    /// recall by severity and by source, findings on lines with no known
    /// defect ("unconfirmed"), what all reviewers add over the best one,
    /// which gate settings would have blocked, and the cost.
    ///
    /// No branch, ref, index or work-tree file is changed.
    #[command(after_help = EVAL_AFTER_HELP)]
    Eval(EvalArgs),
    /// Generate files made from this command line's own definitions, for
    /// packagers: the manual pages and the shell completions.
    #[command(subcommand)]
    Generate(GenerateWhat),
}

/// What `git deep-review generate` writes.
#[derive(Debug, Subcommand)]
pub enum GenerateWhat {
    /// The manual pages (roff): git-deep-review(1) and one page per
    /// subcommand, git-deep-review-SUBCOMMAND(1). Without --dir, prints
    /// git-deep-review(1) to stdout.
    Man {
        /// Write every page into this directory (created if missing;
        /// each file replaced atomically), e.g. /usr/share/man/man1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The completion script for SHELL on stdout (`install.sh` installs them).
    Completions {
        #[arg(value_enum)]
        shell: crate::generate::completions::Shell,
    },
}

const MODELS_AFTER_HELP: &str = "\
Examples:
  git deep-review models                        the list, for people
  git deep-review models --format json          the list, for scripts
  git deep-review models --path smollm2-135m    only the absolute path of its file
  git deep-review models --path ollama:qwen2.5-coder:7b

--path exits 4 with the reason when the reference resolves to no file here
(unknown name, missing file, a model on an inference server).";

/// What `git deep-review models` (and `models list`) prints.
#[derive(Debug, Args, Clone, Default)]
pub struct ModelsListArgs {
    /// Output format: the list for people, or JSON for scripts
    /// (`"version": 1`; each model's name, store, absolute path, size,
    /// sha256, verification, architecture, parameters, context, chat
    /// template, demonstration flag and whether it is usable).
    #[arg(long, value_enum, default_value_t = EvalFormat::Text)]
    pub format: EvalFormat,

    /// Print only the absolute path of MODEL's file, resolved as a review
    /// resolves a reviewer's `model`: a manifest name, a store reference
    /// (`ollama:NAME:TAG`, `hf:ORG/REPO/FILE.gguf`,
    /// `lmstudio:PUBLISHER/MODEL/FILE.gguf`) or a GGUF path (relative paths
    /// from the repository's top directory, else the current directory).
    #[arg(long, value_name = "MODEL", conflicts_with = "format")]
    pub path: Option<String>,

    /// Print only the model references, one a line (manifest names, then
    /// store references), for shell completion: loads no model, hashes
    /// nothing.
    #[arg(long, conflicts_with_all = ["format", "path"])]
    pub names: bool,
}

const EVAL_AFTER_HELP: &str = "\
Examples:
  git deep-review eval --from-history --mutants 20
  git deep-review eval --from-history v1.0..HEAD --max-cases 10
  git deep-review eval --cases bugs.toml --format json > scores.json
  git deep-review eval --mutants 20 --seed 7 --model ollama:qwen2.5-coder:7b
  git deep-review eval --mutants 10 --decoys 10 --verify on
  git deep-review eval --context --budgets 0,2048,4096 --format json

A cases file (TOML):
  [[case]]
  name = \"chunker-drops-last-line\"   # unique
  base = \"v0.3.0\"                    # any revision (\"\" = the empty tree)
  head = \"4f1c2ab\"                   # the change reviewed is base..head

  [[case.defect]]
  file = \"src/plan.rs\"               # path at head
  lines = [120, 124]                 # or one line: lines = 120
  severity = \"critical\"              # critical | important | suggestion
  description = \"the last chunk loses its final line\"

Run it again with one reviewer changed: the others' answers come from the
review cache, so only that reviewer runs.";

/// Options of `git deep-review eval`.
#[derive(Debug, Args, Clone, Default)]
pub struct EvalArgs {
    /// Labelled cases from this TOML file (format below).
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,

    /// Mine cases from history: fix commits in RANGE (default: all of
    /// HEAD's history) blamed back to the commits that introduced the
    /// lines they changed.
    #[arg(long, value_name = "RANGE", num_args = 0..=1, default_missing_value = "")]
    pub from_history: Option<String>,

    /// What makes a commit a fix (a regular expression on its message).
    #[arg(long, value_name = "REGEX", requires = "from_history")]
    pub fix_pattern: Option<String>,

    /// At most this many history cases (the newest introducing commits).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_cases: usize,

    /// Plant N known defects in hunks of recent commits of HEAD (and as
    /// many decoys, unless --decoys says otherwise).
    #[arg(long, value_name = "N")]
    pub mutants: Option<usize>,

    /// Plant M decoys: edits that keep the behaviour (a renamed local,
    /// two independent statements swapped, a returned expression bound to
    /// a local, an equivalent comparison), so that every finding on them
    /// is a false positive (default: as many as --mutants; 0: none).
    #[arg(long, value_name = "M")]
    pub decoys: Option<usize>,

    /// Seed for choosing the mutants (same seed, same mutants).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// Cases whose review needs more chunks than this are listed, not
    /// reviewed (one huge commit would cost more than all the others).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_chunks: usize,

    /// A finding finds a defect within this many lines of it.
    #[arg(long, value_name = "LINES", default_value_t = crate::eval::score::DEFAULT_TOLERANCE)]
    pub tolerance: u32,

    /// Output format: a table, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = EvalFormat::Text)]
    pub format: EvalFormat,

    /// Show the cases and their known defects; load no model.
    #[arg(long)]
    pub list: bool,

    /// Measure context recall instead of reviewing (no model): for each
    /// (fix, introducing commit) pair mined from history (in the
    /// --from-history RANGE when given), the share of the fix's lines
    /// outside the introducing commit's hunks that its context packs show,
    /// beside hunks widened to the same budget.
    #[arg(long)]
    pub context: bool,

    /// With --context: the budgets measured, tokens per chunk.
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "context",
          default_values_t = crate::eval::context_recall::DEFAULT_BUDGETS)]
    pub budgets: Vec<usize>,

    /// With --context: at most this many pairs (the newest fixes first).
    #[arg(long, value_name = "N", requires = "context",
          default_value_t = crate::eval::context_recall::DEFAULT_MAX_PAIRS)]
    pub max_pairs: usize,

    /// Run every reviewer on this model instead of the configured ones.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Verify findings as a review would (`review.verify`): the scores
    /// come with and without verification from the same run. auto skips
    /// a demonstration-model verifier (the table says so).
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "on", "off"])]
    pub verify: Option<String>,

    /// The model that verifies findings (default: the largest reviewer model).
    #[arg(long, value_name = "MODEL")]
    pub verifier: Option<String>,

    /// Evaluate only these reviewers (by name; repeat or comma-separate).
    #[arg(long = "reviewer", value_name = "NAME", value_delimiter = ',')]
    pub reviewers: Vec<String>,

    /// Do not read or write the review cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Threads for the model engine (default: the cores other processes leave free, checked before each chunk).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Refuse every reviewer on an inference server.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write the pre-push hook (an existing one is kept and run first).
    Install {
        /// Install into this hooks directory for all repositories
        /// (then `git config --global core.hooksPath DIR`).
        #[arg(long, value_name = "DIR")]
        global: Option<PathBuf>,
    },
    /// Remove the hook and restore exactly what was there before.
    Uninstall {
        /// Remove it from this hooks directory (the one given to `install --global`).
        #[arg(long, value_name = "DIR")]
        global: Option<PathBuf>,
    },
    /// Say what is installed.
    Status,
    /// Run as git's pre-push hook (reads `<local ref> <sha> <remote ref> <sha>` lines on stdin).
    #[command(hide = true)]
    Run {
        remote: Option<String>,
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the models (the default).
    List(ModelsListArgs),
    /// Pin a model in your manifest: hash it now (against its store's
    /// digest, if it has one) and add a verified entry, so a team or an
    /// air-gapped box runs exactly this file. The file is not copied.
    Add {
        /// A store reference (ollama:NAME:TAG, hf:ORG/REPO/FILE.gguf,
        /// lmstudio:PUBLISHER/MODEL/FILE.gguf) or a path to a GGUF file.
        model: String,
        /// The entry's name (default: from the reference or file name).
        #[arg(long)]
        name: Option<String>,
        /// A llama.cpp built-in template (chatml, llama3, gemma,
        /// mistral-v7, deepseek3, gpt-oss...) when the file's own is not
        /// recognised; "none" for a base model.
        #[arg(long, value_name = "NAME")]
        chat_template: Option<String>,
        /// Context to allocate (default 8192, at most the trained context).
        #[arg(long, value_name = "TOKENS")]
        n_ctx: Option<u32>,
    },
    /// Remove an entry from your manifest (the model file is not touched).
    Remove {
        /// The entry's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Delete every cached review.
    Clear,
    /// Show the number of entries and their size.
    Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Color {
    #[default]
    Auto,
    Always,
    Never,
}

/// What `eval` and `models` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum EvalFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
    Sarif,
    /// GitLab's Code Quality report (`artifacts: reports: codequality:`).
    Codequality,
    /// One self-contained HTML page (the diff with the findings at their lines).
    Html,
}
