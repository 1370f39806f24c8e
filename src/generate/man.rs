//! The manual pages, generated from the clap definitions ([`crate::cli::Cli`])
//! with clap_mangen, plus the prose git users expect on the main page.
//!
//! Like git's own pages (git-remote(1) documents `git remote add` in its
//! COMMANDS section), there is one page for `git-deep-review` and one per
//! subcommand (`git-deep-review-models.1`, ...); a subcommand's own
//! subcommands (`hook install`, `models add`) are sections of its page.
//! Options, defaults, possible values, the exit codes ([`crate::cli::EXIT_CODES`])
//! and the configuration keys ([`crate::config::keys::REGISTRY`]) all come
//! from the definitions the program itself uses.

use std::path::Path;

use clap::{Arg, Command, CommandFactory};
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;

use crate::cli::{Cli, EXAMPLES, EXIT_CODES};
use crate::config::keys::REGISTRY;
use crate::error::{Error, Result};

/// One generated page: its file name (`git-deep-review-models.1`) and roff text.
pub struct Page {
    /// The file name, section suffix included.
    pub file_name: String,
    /// The page's roff source.
    pub text: String,
}

/// Runs `generate man`: every page into `dir`, or the main page to stdout.
pub fn run(dir: Option<&Path>) -> Result<i32> {
    let pages = pages()?;
    match dir {
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(pages[0].text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Error::io("writing the manual page", e))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            for page in &pages {
                write_atomically(&dir.join(&page.file_name), page.text.as_bytes())?;
            }
        }
    }
    Ok(0)
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so `man` never reads half a page.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let what = || format!("writing {}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".git-deep-review-man.")
        .tempfile_in(dir)
        .map_err(|e| Error::io(what(), e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(what(), e))?;
    // Pages are documentation for every user, whatever the umask made the
    // temporary file (tempfile creates it 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(what(), e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(what(), e.error))?;
    Ok(())
}

/// The command tree as the pages show it: built (bin names, global options
/// propagated), without clap's `help` subcommand.
pub fn command() -> Command {
    let mut cmd = Cli::command()
        .disable_help_subcommand(true)
        .subcommand_help_heading("COMMANDS");
    cmd.build();
    cmd
}

/// Every page: the main one first, then one per visible subcommand.
pub fn pages() -> Result<Vec<Page>> {
    let cmd = command();
    let mut pages = vec![Page {
        file_name: "git-deep-review.1".to_string(),
        text: main_page(&cmd)?,
    }];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(Page {
            file_name: format!("{}.1", page_name(sub)),
            text: sub_page(sub)?,
        });
    }
    Ok(pages)
}

/// `git-deep-review-models` for `models`.
fn page_name(sub: &Command) -> String {
    format!("git-deep-review-{}", sub.get_name())
}

fn man_for(cmd: &Command, name: &str) -> Man {
    Man::new(cmd.clone())
        .title(name.to_uppercase())
        .date(crate::version::DATE)
        .source(format!("git-deep-review {}", env!("CARGO_PKG_VERSION")))
        .manual("Git Deep Review Manual")
}

/// Renders a roff fragment; clap_mangen's parts and ours are concatenated.
fn render(f: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<String> {
    let mut buf = Vec::new();
    f(&mut buf).map_err(|e| Error::io("rendering the manual page", e))?;
    let text = String::from_utf8(buf)
        .map_err(|e| Error::Usage(format!("manual page is not UTF-8: {e}")))?;
    // clap_mangen separates an option's help from its possible values with
    // a break, a blank line and a break; mandoc -T lint warns about the
    // breaks around the blank line, which alone does the same.
    Ok(text.replace("\n.br\n\n.br\n", "\n.sp\n"))
}

fn ours(roff: &Roff) -> String {
    roff.to_roff()
}

/// Text with `code` spans in bold (the prose below is written that way).
fn md(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| if i % 2 == 1 { bold(s) } else { roman(s) })
        .collect()
}

fn para(r: &mut Roff, text: &str) {
    r.control("PP", []);
    r.text(md(text));
}

/// The first paragraph of a section: no `.PP` (the heading starts one).
fn lead(r: &mut Roff, text: &str) {
    r.text(md(text));
}

fn item(r: &mut Roff, label: Vec<Inline>, body: &str) {
    r.control("TP", []);
    r.text(label);
    r.text(md(body));
}

fn main_page(cmd: &Command) -> Result<String> {
    let man = man_for(cmd, "git-deep-review");
    let mut s = String::new();
    s += &render(|w| man.render_title(w))?;
    s += &render(|w| man.render_name_section(w))?;
    s += &synopsis(&man, cmd)?;
    s += &render(|w| man.render_description_section(w))?;
    let mut r = Roff::new();
    for p in DESCRIPTION {
        para(&mut r, p);
    }
    s += &ours(&r);
    s += &render(|w| man.render_options_section(w))?;
    s += &render(|w| man.render_subcommands_section(w))?;

    let mut r = Roff::new();
    r.control("SH", ["RANGES"]);
    lead(
        &mut r,
        "`git deep-review` takes the ranges you give git-log(1) (see gitrevisions(7)):",
    );
    for (label, body) in RANGES {
        item(&mut r, md(label), body);
    }
    para(
        &mut r,
        "Binary files, lock files, submodule pointer moves, mode-only changes, generated files \
         and paths matching the ignore globs (`review.ignore`) are not reviewed and are listed \
         with the reason. `--plan` shows the commits, files, chunks and token estimates without \
         loading a model.",
    );

    r.control("SH", ["EXIT STATUS"]);
    for (code, what) in EXIT_CODES {
        item(&mut r, vec![bold(code.to_string())], what);
    }
    para(
        &mut r,
        "On SIGINT or SIGTERM the run stops at the next safe point, leaves nothing half-written \
         and ends by the signal, so a shell reports 130 or 143.",
    );

    configuration(&mut r);

    r.control("SH", ["FILES"]);
    for (label, body) in FILES {
        item(&mut r, md(label), body);
    }

    r.control("SH", ["ENVIRONMENT"]);
    for (label, body) in ENVIRONMENT {
        item(&mut r, vec![bold(*label)], body);
    }

    r.control("SH", ["EXAMPLES"]);
    for (example, what) in EXAMPLES {
        item(&mut r, vec![bold(*example)], what);
    }

    r.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!("{}(1)", page_name(s)))
        .collect();
    refs.extend(
        [
            "git(1)",
            "git-log(1)",
            "gitrevisions(7)",
            "githooks(5)",
            "git-config(1)",
        ]
        .map(String::from),
    );
    r.text([roman(refs.join(", "))]);
    para(
        &mut r,
        "The README of the source distribution covers models, reviewers on inference servers, \
         verification, the gate and `eval` in depth.",
    );
    s += &ours(&r);
    Ok(s)
}

/// The CONFIGURATION section: the layers, then every registry key.
fn configuration(r: &mut Roff) {
    r.control("SH", ["CONFIGURATION"]);
    lead(
        r,
        "Layers, each overriding the one before: built-in defaults, `.deep-review.toml` at the \
         repository's top (commit it for your team), your user file \
         `~/.config/git-deep-review/config.toml`, git config `deep-review.*` (every scope, \
         `git -c` included), command-line options. A change cannot loosen its own review: the \
         repository's file is read from the base of the range. `git deep-review config` prints \
         the effective values and where each came from.",
    );
    para(
        r,
        "Reviewers are `[[reviewer]]` tables (name, model, focus, ...) in the files; \
         `git deep-review init` writes them. The keys, as `section.name` in the TOML files \
         (`[review]` `context_lines = 3`) and as git config keys:",
    );
    for key in REGISTRY {
        let mut label = vec![bold(key.toml), roman(" ("), bold(key.git)];
        if let Some(flag) = key.flag {
            label.push(roman(", "));
            label.push(bold(flag));
        }
        label.push(roman(")"));
        r.control("TP", []);
        r.text(label);
        let default = match key.default {
            Some(d) => format!("Default: {d}."),
            None => format!("Unset: {}.", key.unset),
        };
        r.text(md(&format!(
            "{}. Type: {}. {default}",
            capitalise(key.doc),
            key.kind.type_doc()
        )));
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn sub_page(sub: &Command) -> Result<String> {
    let name = page_name(sub);
    let man = man_for(sub, &name);
    let mut s = String::new();
    s += &render(|w| man.render_title(w))?;
    s += &render(|w| man.render_name_section(w))?;
    s += &synopsis(&man, sub)?;
    s += &render(|w| man.render_description_section(w))?;
    if sub.get_arguments().any(|a| !a.is_hide_set()) {
        s += &render(|w| man.render_options_section(w))?;
    }
    let mut r = Roff::new();
    let nested: Vec<&Command> = sub.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    if !nested.is_empty() {
        r.control("SH", ["COMMANDS"]);
        for c in nested {
            nested_command(&mut r, c);
        }
    }
    if let Some(after) = sub.get_after_long_help().or_else(|| sub.get_after_help()) {
        r.control("SH", ["EXAMPLES"]);
        r.control("nf", []);
        for line in after.to_string().lines() {
            r.text([roman(line)]);
        }
        r.control("fi", []);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("git-deep-review(1)")]);
    s += &ours(&r);
    Ok(s)
}

/// A subcommand's subcommand as a subsection of its page: usage line,
/// description, then its own arguments (global options are on the main page).
fn nested_command(r: &mut Roff, c: &Command) {
    r.control("SS", [c.get_name()]);
    let args: Vec<&Arg> = c
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set() && !is_help(a))
        .collect();
    let mut usage = vec![bold(c.get_bin_name().unwrap_or(c.get_name()).to_string())];
    for a in &args {
        usage.push(roman(" "));
        usage.extend(arg_usage(a));
    }
    r.text(usage);
    if let Some(about) = c.get_long_about().or_else(|| c.get_about()) {
        for p in about.to_string().split("\n\n") {
            para(r, &p.replace('\n', " "));
        }
    }
    for a in args {
        r.control("TP", []);
        r.text(arg_label(a));
        let help = a
            .get_long_help()
            .or_else(|| a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let mut body = help.replace("\n\n", " ").replace('\n', " ");
        let values = super::completions::visible_values(a);
        if !values.is_empty() && a.get_action().takes_values() {
            body.push_str(&format!(" [possible values: {}]", values.join(", ")));
        }
        let defaults: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() {
            body.push_str(&format!(" [default: {}]", defaults.join(",")));
        }
        if !body.trim().is_empty() {
            r.text([roman(body.trim().to_string())]);
        }
    }
}

/// clap_mangen's SYNOPSIS with its usage line rewritten as git's pages
/// write it: each option with its value (`[-C PATH]`, `[--format FORMAT]`),
/// where clap_mangen 0.3 shows `[-C ]` and `[--format]`. The rest of its
/// section (the `Aq` string the other sections use) is kept.
fn synopsis(man: &Man, cmd: &Command) -> Result<String> {
    let text = render(|w| man.render_synopsis_section(w))?;
    let mut usage = vec![bold(
        cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string(),
    )];
    for a in cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !is_help(a))
    {
        usage.push(roman(" "));
        let mut label = arg_label(a);
        // `-q|--quiet` in a usage line, as clap_mangen writes it.
        for part in &mut label {
            if *part == roman(", ") {
                *part = roman("|");
            }
        }
        if !a.is_required_set() {
            label.insert(0, roman("["));
            label.push(roman("]"));
        }
        usage.extend(label);
    }
    if cmd.get_subcommands().any(|c| !c.is_hide_set()) {
        usage.push(roman(" "));
        usage.push(italic(if cmd.is_subcommand_required_set() {
            "COMMAND"
        } else {
            "[COMMAND]"
        }));
    }
    let mut line = Roff::new();
    line.text(usage);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = lines
        .iter()
        .position(|l| l == ".SH SYNOPSIS")
        .filter(|i| i + 1 < lines.len())
        .ok_or_else(|| Error::Usage("clap_mangen wrote no SYNOPSIS line".into()))?;
    lines[at + 1] = ours(&line).trim_end().to_string();
    Ok(lines.join("\n") + "\n")
}

fn is_help(a: &Arg) -> bool {
    matches!(
        a.get_action(),
        clap::ArgAction::Help | clap::ArgAction::HelpShort | clap::ArgAction::HelpLong
    )
}

/// `--name VALUE` or `MODEL` for a usage line, optional ones in brackets.
fn arg_usage(a: &Arg) -> Vec<Inline> {
    let mut v = arg_label(a);
    if !a.is_required_set() {
        v.insert(0, roman("["));
        v.push(roman("]"));
    }
    v
}

/// `-s, --long VALUE` (or the positional's `NAME`).
fn arg_label(a: &Arg) -> Vec<Inline> {
    let value = a
        .get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
    if a.is_positional() {
        return vec![italic(value)];
    }
    let mut v = Vec::new();
    if let Some(s) = a.get_short() {
        v.push(bold(format!("-{s}")));
    }
    if let Some(l) = a.get_long() {
        if !v.is_empty() {
            v.push(roman(", "));
        }
        v.push(bold(format!("--{l}")));
    }
    if a.get_action().takes_values() {
        v.push(roman(" "));
        v.push(italic(value));
    }
    v
}

/// The main page's DESCRIPTION after clap's one-line summary.
const DESCRIPTION: &[&str] = &[
    "`git deep-review` reviews the change a commit range makes, as a senior reviewer would, with \
     several local GGUF models (the reviewers), each with its own focus. Their findings are \
     grounded in the diff, consolidated (agreement between reviewers counts), optionally \
     checked once more by a verifier model, and written as a report: Markdown by default in \
     `.git/deep-review/reports/`, or JSON, SARIF or text with `--format`. A lead model writes \
     the report's prose.",
    "The models run in this process through llama.cpp: nothing leaves the machine, unless a \
     reviewer is configured on an inference server (`--offline` refuses that).",
    "`--plan` shows what would be reviewed and loads no model. Installed as git's pre-push hook \
     (git-deep-review-hook(1)), the gate blocks a push on confirmed findings at or above the \
     blocking severity; `--gate` applies it to a review by hand.",
    "As a git subcommand, `git deep-review --help` opens this page; `git deep-review -h` prints \
     a summary of the options. `git deep-review --version` says what a bug report needs.",
];

/// RANGES: what you type, what is reviewed.
const RANGES: &[(&str, &str)] = &[
    (
        "`A..B`, `A..` (to HEAD), `..B`",
        "The commits of B that are not in A; the diff from A (from the merge base when A has moved on).",
    ),
    ("`A...B`", "The diff from the merge base of A and B."),
    (
        "`X`",
        "The change commit X made (a root commit against the empty tree).",
    ),
    (
        "(nothing)",
        "The current branch against its upstream (`@{upstream}..HEAD`), else from the merge base \
         with `origin/HEAD`, `origin/main` or `origin/master`.",
    ),
];

/// FILES: where things are read and written.
const FILES: &[(&str, &str)] = &[
    (
        "`.deep-review.toml`",
        "The repository's configuration, at its top; read from the base of the range.",
    ),
    (
        "`~/.config/git-deep-review/config.toml`",
        "Your user configuration (`$XDG_CONFIG_HOME/git-deep-review/config.toml`); overrides the \
         repository's.",
    ),
    (
        "`REVIEW.md`, `AGENTS.md`, `.deep-review/instructions.md`",
        "The project's own review instructions, given to every reviewer (bounded by \
         `review.instructions_max_bytes`).",
    ),
    (
        "`.git/deep-review/reports/`",
        "The reports (`YYYYMMDD-HHMMSS-BRANCH-HEAD.md` and its `.json` beside it); \
         `review.report_dir` moves them.",
    ),
    (
        "`.git/deep-review/cache/`",
        "The review cache (see git-deep-review-cache(1)); bounded by `cache.max_size`.",
    ),
    (
        "`~/.local/share/git-deep-review/models/`",
        "The models directory (`$XDG_DATA_HOME/git-deep-review/models`, or \
         `$GIT_DEEP_REVIEW_MODELS_DIR`): the bundled GGUF files and your `manifest.toml` \
         (see git-deep-review-models(1)).",
    ),
    (
        "`~/.cache/git-deep-review/verified.json`",
        "Model files whose sha256 was checked, so a file is hashed again only when it changes.",
    ),
    (
        "`.git/hooks/pre-push`",
        "The hook `git deep-review hook install` writes (respecting `core.hooksPath`); an \
         existing hook is kept and run first.",
    ),
];

/// ENVIRONMENT: the variables the program reads.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "GIT_DEEP_REVIEW_MODELS_DIR",
        "The models directory, instead of `$XDG_DATA_HOME/git-deep-review/models`.",
    ),
    (
        "DEEP_REVIEW",
        "`DEEP_REVIEW=skip git push` lets one push through the pre-push hook unreviewed.",
    ),
    (
        "GIT_DIR, GIT_WORK_TREE, GIT_CEILING_DIRECTORIES",
        "Which repository is reviewed, as for git.",
    ),
    (
        "XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_CACHE_HOME, HOME",
        "Where the user configuration, the models and the verification record are.",
    ),
    (
        "OLLAMA_MODELS, HF_HUB_CACHE, HF_HOME, LLAMA_CACHE",
        "Where the Ollama and Hugging Face model stores are looked for (read-only).",
    ),
    (
        "NO_COLOR",
        "No colours in the terminal output (as `--color never`).",
    ),
];
