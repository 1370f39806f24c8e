//! Shell completion for real: the scripts `git deep-review generate
//! completions SHELL` prints, installed where each shell looks for them,
//! run by the real shell with git's own completion loaded, on a throw-away
//! repository, and the candidates read back.
//!
//! bash: the distribution's bash-completion and git's completion script
//! (git calls `_git_deep_review`, loading it through bash-completion's
//! loader from `$XDG_DATA_HOME/bash-completion/completions/git-deep-review`,
//! where `install.sh` puts it). fish: `complete -C` with the files in
//! `$XDG_CONFIG_HOME/fish/{completions,conf.d}`. zsh: an interactive zsh
//! on a pseudo-terminal (zsh/zpty) with compinit and the file on `fpath`,
//! and a syntax check (`zsh -n`).
//!
//! bash, fish and zsh come from `./install.sh --test`; a missing one fails
//! the test, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::repo::{stdout_of, TestRepo, BIN};

/// Fails, saying how to install it, when `what` is not there.
fn need(path: &str, what: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: these tests need {what}; run ./install.sh --test (it installs it)"
    );
}

fn generated(shell: &str) -> String {
    stdout_of(Command::new(BIN).args(["generate", "completions", shell]))
}

/// A throw-away repository with branches, a user HOME holding an Ollama
/// store with a model the completion must offer, and the completion files
/// installed where bash (XDG_DATA_HOME) and fish (XDG_CONFIG_HOME) look.
struct Setup {
    repo: TestRepo,
    home: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let repo = TestRepo::new();
        repo.commit_files("base", &[("a.txt", "one\n")]);
        repo.git(&["branch", "feature-login"]);
        repo.commit_files("second", &[("a.txt", "two\n")]);
        let home = repo.scratch().join("home");
        // An Ollama model whose digest is not its content's: `models
        // --names` lists it all the same, because it hashes nothing.
        let blob = common::models::dir().join(common::models::SMOL_FILE);
        common::stores::ollama_model(
            &home.join(".ollama/models"),
            "qwen2.5-coder",
            "7b",
            &blob,
            &"ab".repeat(32),
        );
        let bash_dir = home.join(".local/share/bash-completion/completions");
        std::fs::create_dir_all(&bash_dir).unwrap();
        std::fs::write(bash_dir.join("git-deep-review"), generated("bash")).unwrap();
        let fish = home.join(".config/fish");
        std::fs::create_dir_all(fish.join("completions")).unwrap();
        std::fs::create_dir_all(fish.join("conf.d")).unwrap();
        std::fs::write(
            fish.join("completions/git-deep-review.fish"),
            generated("fish"),
        )
        .unwrap();
        std::fs::write(
            fish.join("conf.d/git-deep-review.fish"),
            generated("fish-git"),
        )
        .unwrap();
        let zsh_dir = home.join(".local/share/zsh/site-functions");
        std::fs::create_dir_all(&zsh_dir).unwrap();
        std::fs::write(zsh_dir.join("_git-deep-review"), generated("zsh")).unwrap();
        Setup { repo, home }
    }

    /// `program` run in the repository with only this test's environment:
    /// the binary's directory on PATH (git finds `git-deep-review` there),
    /// the bundled models' manifest, no user or system git configuration.
    fn shell(&self, program: &str) -> Command {
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.repo.path)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_DEEP_REVIEW_MODELS_DIR", common::models::dir())
            .env("LC_ALL", "C");
        cmd
    }

    /// The candidates bash offers for `line` (the cursor at its end), as
    /// bash would compute them on Tab: the completion function registered
    /// for its first word is called with COMP_WORDS/COMP_CWORD/COMP_LINE/
    /// COMP_POINT set, after the loader has found it if none is yet.
    fn bash(&self, line: &str) -> Vec<String> {
        need(
            "/usr/share/bash-completion/bash_completion",
            "bash-completion",
        );
        need(
            "/usr/share/bash-completion/completions/git",
            "git's bash completion",
        );
        let out = self
            .shell("bash")
            .arg("-c")
            .arg(BASH_DRIVER)
            .arg("driver")
            .arg(line)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "bash failed for {line:?}: {err}");
        let text = String::from_utf8(out.stdout).unwrap();
        let (loaded, replies) = text.split_once("--\n").unwrap_or_else(|| panic!("{text}"));
        assert_eq!(
            loaded.trim(),
            "loaded by the loader",
            "git-deep-review's completion was not found by bash-completion's loader in \
             $XDG_DATA_HOME/bash-completion/completions: {text}{err}"
        );
        replies.lines().map(|l| l.trim_end().to_string()).collect()
    }

    /// The candidates fish offers for `line` (`complete -C`), without descriptions.
    fn fish(&self, line: &str) -> Vec<String> {
        need("/usr/bin/fish", "fish");
        stdout_of(
            self.shell("fish")
                .arg("-c")
                .arg("complete -C $argv[1]")
                .arg(line),
        )
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
    }
}

impl Setup {
    /// What an interactive zsh shows after `line` and Tab (escape
    /// sequences removed), driven through a pseudo-terminal (zsh/zpty), with
    /// compinit and the file installed in `~/.local/share/zsh/site-functions`
    /// put on `fpath` as the README says.
    fn zsh(&self, line: &str) -> String {
        need("/usr/bin/zsh", "zsh");
        let out = self
            .shell("zsh")
            .arg("-f")
            .arg("-c")
            .arg(ZSH_DRIVER)
            .arg("driver")
            .arg(line)
            .arg(self.home.join(".local/share/zsh/site-functions"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        // ESC [ parameters letter: colours, cursor moves.
        let mut clean = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for d in chars.by_ref() {
                        if d.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
                continue;
            }
            clean.push(c);
        }
        clean
            .split_once("READY")
            .map_or(clean.clone(), |(_, after)| after.to_string())
    }
}

/// Starts an interactive zsh on a pseudo-terminal, sets up compinit with
/// $2 on fpath, types $1 and Tab, and prints what the terminal showed.
const ZSH_DRIVER: &str = r#"
zmodload zsh/zpty || exit 1
zpty -b z 'TERM=dumb zsh -f -i'
zpty -w z "PS1='>>'; fpath=($2 \$fpath); autoload -Uz compinit; compinit -u -D; LISTMAX=1000; print READY"
out=; for i in {1..100}; do zpty -r -t z chunk && out+=$chunk; [[ $out == *READY*'>>'* ]] && break; sleep 0.1; done
zpty -w -n z "$1"$'\t'
sleep 3
out=; while zpty -r -t z chunk; do out+=$chunk; done
print -r -- "READY$out"
zpty -d z
"#;

/// Loads bash-completion (which loads git's completion on demand), then
/// completes $1 as readline would: the words split on blanks, an empty
/// last word when the line ends in a blank. Prints whether our function
/// came from the loader, `--`, then one candidate a line.
const BASH_DRIVER: &str = r#"
set -u
. /usr/share/bash-completion/bash_completion
line=$1
if declare -F _git_deep_review >/dev/null; then echo "defined before loading"; fi
read -ra COMP_WORDS <<< "$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$line
COMP_POINT=${#line}
cmd=${COMP_WORDS[0]}
# What bash does on Tab for a command with no completion yet: the default
# completion (-D) is bash-completion's loader.
complete -p "$cmd" >/dev/null 2>&1 || _completion_loader "$cmd"
fn=$(complete -p "$cmd" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
COMPREPLY=()
"$fn" "$cmd" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
if declare -F _git_deep_review >/dev/null; then echo "loaded by the loader"; fi
echo --
printf '%s\n' "${COMPREPLY[@]}"
"#;

fn has(c: &[String], want: &str) -> bool {
    c.iter().any(|x| x == want)
}

#[test]
fn bash_completes_subcommands_branches_and_ranges_as_a_git_subcommand() {
    let s = Setup::new();
    let c = s.bash("git deep-review ");
    for want in [
        "models",
        "config",
        "eval",
        "hook",
        "feature-login",
        "main",
        "HEAD",
    ] {
        assert!(has(&c, want), "`git deep-review <Tab>` lacks {want}: {c:?}");
    }
    let c = s.bash("git deep-review feat");
    assert_eq!(c, ["feature-login"], "a branch name for the range");
    let c = s.bash("git deep-review main..f");
    assert_eq!(c, ["main..feature-login"], "A..<Tab> completes refs");
    let c = s.bash("git deep-review models ");
    for want in ["list", "add", "remove"] {
        assert!(has(&c, want), "{c:?}");
    }
}

#[test]
fn bash_completes_flags_and_their_values() {
    let s = Setup::new();
    assert_eq!(s.bash("git deep-review --for"), ["--format="]);
    let c = s.bash("git deep-review --format ");
    for want in ["markdown", "json", "sarif", "text"] {
        assert!(has(&c, want), "--format values: {c:?}");
    }
    assert_eq!(s.bash("git deep-review --format=sa"), ["sarif"]);
    assert_eq!(s.bash("git deep-review --verify o"), ["on", "off"]);
    let c = s.bash("git deep-review --color ");
    assert!(has(&c, "never") && has(&c, "always"), "{c:?}");
    // A subcommand's own flags, and the global ones after it.
    let c = s.bash("git deep-review models --");
    assert!(
        has(&c, "--names") && has(&c, "--path=") && has(&c, "--quiet"),
        "{c:?}"
    );
    assert!(
        !has(&c, "--plan"),
        "the review's flags are not models' flags: {c:?}"
    );
    assert_eq!(
        s.bash("git deep-review generate completions f"),
        ["fish", "fish-git"]
    );
}

#[test]
fn bash_completes_model_references_from_models_names() {
    let s = Setup::new();
    let c = s.bash("git deep-review --model ");
    for want in ["smollm2-135m", "gemma3-270m", "ollama:qwen2.5-coder:7b"] {
        assert!(has(&c, want), "--model <Tab> lacks {want}: {c:?}");
    }
    // ':' breaks words for readline: only what follows the last one is
    // replaced, so that is what is offered.
    assert_eq!(
        s.bash("git deep-review --model ollama:qw"),
        ["qwen2.5-coder:7b"]
    );
    assert_eq!(
        s.bash("git deep-review eval --verifier gem"),
        ["gemma3-270m"]
    );
    let c = s.bash("git deep-review models remove ");
    assert!(has(&c, "smollm2-135m"), "{c:?}");
}

#[test]
fn bash_completes_the_dashed_command_through_the_loader() {
    let s = Setup::new();
    assert_eq!(s.bash("git-deep-review --col"), ["--color="]);
    let c = s.bash("git-deep-review --model ");
    assert!(has(&c, "smollm2-135m"), "{c:?}");
    let c = s.bash("git-deep-review ");
    assert!(has(&c, "feature-login") && has(&c, "models"), "{c:?}");
}

#[test]
fn models_names_lists_references_without_hashing() {
    let s = Setup::new();
    let names: Vec<String> = stdout_of(s.shell(BIN).args(["models", "--names"]))
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        names,
        ["smollm2-135m", "gemma3-270m", "ollama:qwen2.5-coder:7b"],
        "manifest names, then store references; the Ollama blob does not match \
         its digest, which only hashing would notice"
    );
}

#[test]
fn fish_completes_as_a_git_subcommand_and_dashed() {
    let s = Setup::new();
    let c = s.fish("git deep-review ");
    for want in ["models", "config", "feature-login", "main"] {
        assert!(
            has(&c, want),
            "fish `git deep-review <Tab>` lacks {want}: {c:?}"
        );
    }
    assert!(has(&s.fish("git deep-review --for"), "--format"));
    let c = s.fish("git deep-review --format ");
    assert!(has(&c, "sarif") && has(&c, "markdown"), "{c:?}");
    let c = s.fish("git deep-review --model ");
    assert!(
        has(&c, "ollama:qwen2.5-coder:7b") && has(&c, "smollm2-135m"),
        "{c:?}"
    );
    assert_eq!(s.fish("git deep-review main..fea"), ["main..feature-login"]);
    assert!(has(&s.fish("git-deep-review --col"), "--color"));
}

#[test]
fn zsh_completes_as_a_git_subcommand_for_real() {
    let s = Setup::new();
    let shown = s.zsh("git deep-review models remove ");
    assert!(
        shown.contains("smollm2-135m"),
        "models remove <Tab>: {shown}"
    );
    let shown = s.zsh("git deep-review models ");
    assert!(
        shown.contains("remove") && shown.contains("list"),
        "{shown}"
    );
    let shown = s.zsh("git deep-review feat");
    assert!(shown.contains("git deep-review feature-login"), "{shown}");
    let shown = s.zsh("git deep-review --format ");
    assert!(
        shown.contains("sarif") && shown.contains("markdown"),
        "{shown}"
    );
}

#[test]
fn zsh_script_parses_and_defines_the_git_subcommand_function() {
    need("/usr/bin/zsh", "zsh");
    let text = generated("zsh");
    assert!(text.starts_with("#compdef git-deep-review\n"));
    assert!(
        text.contains("\n_git-deep-review() {"),
        "zsh's _git calls _git-deep-review"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("_git-deep-review");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new("zsh").arg("-n").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "zsh -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scripts_are_syntactically_valid_for_their_shells() {
    need("/usr/bin/fish", "fish");
    let dir = tempfile::tempdir().unwrap();
    for (shell, checker, flag) in [
        ("bash", "bash", "-n"),
        ("fish", "fish", "-n"),
        ("fish-git", "fish", "-n"),
    ] {
        let file = dir.path().join(shell);
        std::fs::write(&file, generated(shell)).unwrap();
        let out = Command::new(checker).arg(flag).arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "{checker} {flag} {shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bad = Command::new(BIN)
        .args(["generate", "completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}
