//! Shell completions for bash, zsh and fish, generated from the clap
//! definitions (`git deep-review generate completions SHELL`), so that the
//! flags Tab offers are the flags the parser accepts.
//!
//! All three must work both for the dashed `git-deep-review` and as a git
//! subcommand (`git deep-review <Tab>`), and complete what clap cannot know:
//! model references (`git deep-review models --names`) and revisions or
//! ranges (through git's own ref completion where the shell has one).
//!
//! - bash: git's completion calls `_git_deep_review` for `git deep-review`,
//!   loading it on demand through bash-completion's loader as
//!   `git-deep-review` (git's `__git_complete_command`). clap_complete's bash
//!   script cannot run inside git's completion (it reads `COMP_WORDS` from
//!   the command's own first word), so the bash script is written here from
//!   the clap command tree and uses git's helpers (`__gitcomp`,
//!   `__git_complete_revlist`).
//! - zsh: clap_complete's script, named `_git-deep-review`; zsh's `_git`
//!   calls `_git-deep-review` for the subcommand with `words` shifted so the
//!   same `_arguments` spec works. The range and model arguments get
//!   dynamic actions in place of clap_complete's `_default`.
//! - fish: clap_complete's script for `git-deep-review`; fish's git
//!   completion hands `git deep-review ...` to it (`complete -C
//!   "git-deep-review ..."`), plus model and ref candidates.

use clap::{Arg, ArgAction, Command, ValueEnum};
use std::fmt::Write as _;

/// The shells `generate completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    /// fish's startup snippet (`conf.d`) that hands `git deep-review ...`
    /// to the fish completions: fish 3.6.0's git completion names the
    /// command `git-deep-review` there and so never calls them.
    #[value(name = "fish-git")]
    FishGit,
}

/// The name the completions are registered under (the dashed command).
const BIN: &str = "git-deep-review";

/// The completion script for `shell`, generated from `cmd` (the whole
/// command line definition, [`crate::cli::Cli`]'s).
pub fn script(shell: Shell, cmd: &Command) -> String {
    match shell {
        Shell::Bash => bash(cmd),
        Shell::Zsh => zsh(cmd),
        Shell::Fish => fish(cmd),
        Shell::FishGit => FISH_GIT.to_string(),
    }
}

/// What an option's value or a positional argument is completed with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// One of these words (a value enum or a fixed value list).
    Values(Vec<String>),
    /// A model reference (`models --names`).
    Model,
    /// A revision or range (git's ref completion).
    Range,
    /// A path: the shell's file name completion.
    Path,
    /// Free text: nothing to offer.
    Free,
}

/// The values an argument offers (its value enum or list), without the
/// hidden ones: what completions complete and the man page lists.
pub(crate) fn visible_values(arg: &Arg) -> Vec<String> {
    arg.get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect()
}

fn kind_of(arg: &Arg) -> Kind {
    let values = visible_values(arg);
    if !values.is_empty() {
        return Kind::Values(values);
    }
    let name = arg
        .get_value_names()
        .and_then(|n| n.first())
        .map(|s| s.to_string())
        .unwrap_or_else(|| arg.get_id().to_string().to_ascii_uppercase());
    match name.as_str() {
        "MODEL" => Kind::Model,
        // `models remove NAME`: a manifest entry's name.
        "NAME" if arg.is_positional() => Kind::Model,
        "RANGE" => Kind::Range,
        "PATH" | "FILE" | "DIR" => Kind::Path,
        _ => Kind::Free,
    }
}

fn takes_value(arg: &Arg) -> bool {
    !matches!(
        arg.get_action(),
        ArgAction::SetTrue
            | ArgAction::SetFalse
            | ArgAction::Count
            | ArgAction::Help
            | ArgAction::HelpShort
            | ArgAction::HelpLong
            | ArgAction::Version
    )
}

/// One command of the tree: its path from the root (`""`, `"models"`,
/// `"models add"`), its options and positionals, and its visible subcommands.
struct Node<'a> {
    path: String,
    cmd: &'a Command,
}

fn nodes(cmd: &Command) -> Vec<Node<'_>> {
    fn walk<'a>(path: String, cmd: &'a Command, out: &mut Vec<Node<'a>>) {
        out.push(Node {
            path: path.clone(),
            cmd,
        });
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let p = if path.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{path} {}", sub.get_name())
            };
            walk(p, sub, out);
        }
    }
    let mut out = Vec::new();
    walk(String::new(), cmd, &mut out);
    out
}

/// Options of `cmd` with the global options clap propagates from the root
/// (clap only propagates them when the command is built for parsing).
fn options<'a>(root: &'a Command, cmd: &'a Command) -> Vec<&'a Arg> {
    let mut out: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .collect();
    for g in root.get_arguments().filter(|a| a.is_global_set()) {
        if !out.iter().any(|a| a.get_id() == g.get_id()) {
            out.push(g);
        }
    }
    out
}

fn spellings(arg: &Arg) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(l) = arg.get_long() {
        out.push(format!("--{l}"));
    }
    if let Some(s) = arg.get_short() {
        out.push(format!("-{s}"));
    }
    out
}

/// Single-quotes `s` for a shell script (bash, zsh and fish all read
/// `'...'` literally; a quote inside is closed, escaped and reopened).
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn bash(root: &Command) -> String {
    let nodes = nodes(root);
    let mut spec = String::new();
    let mut values = String::new();
    for n in &nodes {
        let subs: Vec<&str> = n
            .cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name())
            .collect();
        let opts = options(root, n.cmd);
        let mut all: Vec<String> = Vec::new();
        let mut with_value: Vec<String> = Vec::new();
        for o in &opts {
            let sp = spellings(o);
            if takes_value(o) {
                with_value.extend(sp.iter().cloned());
                // `--format=` is offered with its `=`: git's __gitcomp
                // then leaves the cursor after it.
                if let Some(l) = o.get_long() {
                    all.push(format!("--{l}="));
                }
                all.extend(sp.into_iter().filter(|s| !s.starts_with("--")));
            } else {
                all.extend(sp);
            }
            let kind = kind_of(o);
            if !takes_value(o) {
                continue;
            }
            for s in spellings(o) {
                let _ = writeln!(
                    values,
                    "    {})  echo {} ;;",
                    sq(&format!("{}|{}", n.path, s)),
                    sq(&bash_kind(&kind))
                );
            }
        }
        all.push("--help".into());
        let positional = n
            .cmd
            .get_arguments()
            .find(|a| a.is_positional() && !a.is_hide_set())
            .map(kind_of)
            .unwrap_or(Kind::Free);
        let _ = writeln!(
            spec,
            "    {}) __gdr_subs={}; __gdr_opts={}; __gdr_vopts={}; __gdr_pos={} ;;",
            sq(&n.path),
            sq(&subs.join(" ")),
            sq(&all.join(" ")),
            sq(&format!(" {} ", with_value.join(" "))),
            sq(&bash_kind(&positional)),
        );
    }
    BASH_TEMPLATE
        .replace("@SPEC@", spec.trim_end())
        .replace("@VALUES@", values.trim_end())
}

fn bash_kind(k: &Kind) -> String {
    match k {
        Kind::Values(v) => format!("v:{}", v.join(" ")),
        Kind::Model => "model".into(),
        Kind::Range => "range".into(),
        Kind::Path => "path".into(),
        Kind::Free => "free".into(),
    }
}

const BASH_TEMPLATE: &str = r#"# bash completion for git-deep-review and `git deep-review`
# Generated by `git deep-review generate completions bash`; do not edit.
#
# git's completion (git 2.x) calls _git_deep_review for `git deep-review <Tab>`
# and, when it is not defined yet, asks bash-completion's loader for
# `git-deep-review`: install this file as
#   ${XDG_DATA_HOME:-~/.local/share}/bash-completion/completions/git-deep-review
# (or under /usr/local/share, /usr/share). It uses git's completion helpers.

# The command tree: for a command path, its subcommands, its options, the
# options that take a value (space-delimited) and what its positional is.
__gdr_spec ()
{
	case "$1" in
@SPEC@
    *) __gdr_subs=; __gdr_opts=; __gdr_vopts=; __gdr_pos=free ;;
	esac
}

# What the value of option $2 of command path $1 is.
__gdr_kind ()
{
	case "$1|$2" in
@VALUES@
    *) echo free ;;
	esac
}

# The model references `git deep-review models --names` lists (no model is
# loaded, nothing hashed), completed for $1. A reference has colons
# (ollama:NAME:TAG); readline replaces only the part after the last colon
# when ':' breaks words, so that part is what is offered.
__gdr_models ()
{
	local cur_="$1" pfx= n IFS=$'\n'
	local -a out=()
	for n in $(__git deep-review models --names 2>/dev/null); do
		[[ $n == "$cur_"* ]] && out+=("$n")
	done
	if [[ $cur_ == *:* && $COMP_WORDBREAKS == *:* ]]; then
		pfx=${cur_%"${cur_##*:}"}
		out=("${out[@]#"$pfx"}")
	fi
	COMPREPLY=("${out[@]/%/ }")
}

# Completes a value of kind $1 for the word $2.
__gdr_value ()
{
	case "$1" in
	v:*) __gitcomp "${1#v:}" "" "$2" ;;
	model) __gdr_models "$2" ;;
	range) if [[ $2 == "$cur" ]]; then __git_complete_revlist; fi ;;
	*) COMPREPLY=() ;; # paths and free text: the shell's default
	esac
}

# Completes words[cword]; the arguments start at index $1.
__gdr_complete ()
{
	local i="$1" path= w positional=
	__gdr_spec ""
	while [ "$i" -lt "$cword" ]; do
		w="${words[i]}"
		case "$w" in
		--*=*) ;;
		-*)
			# An option's value is the next word (unless that is an option:
			# --from-history's value is optional).
			if [[ $__gdr_vopts == *" $w "* && ${words[i+1]} != -* && $((i + 1)) -lt $cword ]]; then
				((i++))
			fi
			;;
		*)
			if [ -z "$positional" ] && [[ " $__gdr_subs " == *" $w "* ]]; then
				path="${path:+$path }$w"
				__gdr_spec "$path"
			else
				positional=1
			fi
			;;
		esac
		((i++))
	done

	local before="${words[cword-1]}"
	if [ "$cword" -gt "$1" ] && [[ $__gdr_vopts == *" $before "* ]] && [[ $cur != -* ]]; then
		__gdr_value "$(__gdr_kind "$path" "$before")" "$cur"
		return
	fi
	case "$cur" in
	--*=*)
		__gdr_value "$(__gdr_kind "$path" "${cur%%=*}")" "${cur#*=}"
		return
		;;
	-*)
		__gitcomp "$__gdr_opts"
		return
		;;
	esac
	if [ -n "$positional" ]; then
		COMPREPLY=()
		return
	fi
	__gdr_value "$__gdr_pos" "$cur"
	# Subcommands beside the revisions (only where a range is not begun).
	if [ -n "$__gdr_subs" ] && [[ $cur != *.* && $cur != *:* ]]; then
		local s
		for s in $(compgen -W "$__gdr_subs" -- "$cur"); do
			COMPREPLY+=("$s ")
		done
	fi
}

# `git deep-review ...`: called by git's completion, which has set cur,
# words, cword and __git_cmd_idx (the index of "deep-review").
_git_deep_review ()
{
	__gdr_complete $((__git_cmd_idx + 1))
}

# The dashed command: through git's wrapper, so the same helpers are there.
if ! declare -F __git_complete >/dev/null 2>&1 && declare -F __load_completion >/dev/null 2>&1; then
	__load_completion git
fi
if declare -F __git_complete >/dev/null 2>&1; then
	__git_complete git-deep-review _git_deep_review
fi
"#;

/// clap_complete's own script for `shell`, for the dashed command.
fn clap_script(shell: clap_complete::Shell, root: &Command) -> String {
    let mut cmd = root.clone().bin_name(BIN);
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// clap_complete's zsh script with dynamic actions for ranges and models.
fn zsh(root: &Command) -> String {
    let text = clap_script(clap_complete::Shell::Zsh, root);
    let mut out = String::new();
    for line in text.lines() {
        let l = if line.contains("'::range -- ") || line.contains("--from-history=[") {
            line.replace(":_default'", ":__gdr_zsh_ranges'")
        } else if line.contains(":MODEL:_default'")
            || line.contains("':model -- ")
            || line.contains("':name -- The entry")
        {
            line.replace(":_default'", ":__gdr_zsh_models'")
        } else {
            line.to_string()
        };
        out.push_str(&l);
        out.push('\n');
    }
    // The review's RANGE and the subcommands share the first word: in
    // clap_complete's script the optional RANGE takes `models` and the
    // subcommand's own arguments are never reached. The range goes to the
    // commands' list instead, and the root dispatch reads the first word.
    let mut out = zsh_range_among_commands(out);
    // The helpers go before the generated function is first called (the
    // file ends with a call when it is autoloaded).
    let helpers = ZSH_HELPERS;
    match out.find("\n_git-deep-review() {") {
        Some(i) => out.insert_str(i + 1, helpers),
        None => out.push_str(helpers),
    }
    out
}

fn zsh_range_among_commands(text: String) -> String {
    let mut out: String = text
        .lines()
        .filter(|l| !l.starts_with("'::range -- "))
        .map(|l| format!("{l}\n"))
        .collect();
    for (from, to) in [
        (
            "words=($line[2] \"${words[@]}\")",
            "words=($line[1] \"${words[@]}\")",
        ),
        ("command-$line[2]:\"", "command-$line[1]:\""),
        ("case $line[2] in", "case $line[1] in"),
    ] {
        out = out.replacen(from, to, 1);
    }
    out.replacen(
        "    _describe -t commands 'git-deep-review commands' commands \"$@\"",
        "    __gdr_zsh_ranges\n    _describe -t commands 'git-deep-review commands' commands \"$@\"",
        1,
    )
}

const ZSH_HELPERS: &str = r#"# Model references from `git deep-review models --names` (no model loaded).
(( $+functions[__gdr_zsh_models] )) ||
__gdr_zsh_models() {
  local -a names
  names=(${(f)"$(git deep-review models --names 2>/dev/null)"})
  compadd -a names
}
# Revisions and ranges: git's own completion when _git has been loaded,
# else the refs, after a `..`/`...` as well.
(( $+functions[__gdr_zsh_ranges] )) ||
__gdr_zsh_ranges() {
  if (( $+functions[__git_commit_ranges] )); then
    __git_commit_ranges
    return
  fi
  local -a refs
  refs=(${(f)"$(git for-each-ref --format='%(refname:short)' 2>/dev/null)"} HEAD)
  if [[ $PREFIX == *..* ]]; then
    compset -P '*..(.|)'
  fi
  compadd -a refs
}

"#;

/// clap_complete's fish script plus model and ref candidates.
fn fish(root: &Command) -> String {
    let out = clap_script(clap_complete::Shell::Fish, root);
    // clap_complete's fish parses the words before the cursor with
    // argparse, which fails on an option whose value is being completed
    // (`--format <Tab>`): every condition is then false and the value gets
    // file names. Parse without that last word when the whole fails.
    let parse =
        "argparse -s (__fish_git_deep_review_global_optspecs) -- $cmd 2>/dev/null\n    or return";
    let retry = "argparse -s (__fish_git_deep_review_global_optspecs) -- $cmd 2>/dev/null\n    or argparse -s (__fish_git_deep_review_global_optspecs) -- $cmd[1..-2] 2>/dev/null\n    or return";
    let mut out = out.replace(parse, retry);
    out.push_str(FISH_EXTRA);
    out
}

const FISH_EXTRA: &str = r#"
# Added by git-deep-review: model references and revisions. fish's git
# completion hands `git deep-review ...` to these (`complete -C`).
function __gdr_fish_models
    git deep-review models --names 2>/dev/null
end
function __gdr_fish_refs
    set -l tok (commandline -ct)
    # (an empty list would make `$pfx$r` empty too: fish multiplies lists)
    set -l pfx (string match -r '^.*\.\.\.?' -- $tok; or echo '')
    for r in (git for-each-ref --format='%(refname:short)' 2>/dev/null) HEAD
        echo $pfx$r
    end
end
complete -c git-deep-review -n "__fish_git_deep_review_needs_command" -f -a "(__gdr_fish_refs)"
complete -c git-deep-review -n "__fish_git_deep_review_needs_command" -l model -x -a "(__gdr_fish_models)"
complete -c git-deep-review -n "__fish_git_deep_review_needs_command" -l verifier -x -a "(__gdr_fish_models)"
complete -c git-deep-review -n "__fish_git_deep_review_using_subcommand eval" -l model -x -a "(__gdr_fish_models)"
complete -c git-deep-review -n "__fish_git_deep_review_using_subcommand eval" -l verifier -x -a "(__gdr_fish_models)"
complete -c git-deep-review -n "__fish_git_deep_review_using_subcommand models" -l path -x -a "(__gdr_fish_models)"
complete -c git-deep-review -n "__fish_git_deep_review_using_subcommand models; and __fish_seen_subcommand_from add remove" -f -a "(__gdr_fish_models)"
"#;

const FISH_GIT: &str = r#"# git deep-review <Tab> in fish: hands the words after `deep-review` to the
# completions of git-deep-review (loaded on demand from completions/).
# Generated by `git deep-review generate completions fish-git`; install it in
# ~/.config/fish/conf.d/ (fish's own git completion does this itself only
# where it names custom commands right, fish 3.6.1 and later).
function __gdr_fish_git
    set -l cmd (commandline -opc)
    set -l i (contains -i -- deep-review $cmd)
    or return
    set -l rest $cmd[(math $i + 1)..-1]
    complete -C "git-deep-review $rest "(commandline -ct)
end
complete -c git -f -n '__fish_git_using_command deep-review' -a '(__gdr_fish_git)'
"#;

/// The model references `models --names` prints, one a line: the models
/// directory's manifest names, then each store's references (usable ones).
/// Reads the manifest and lists the stores' directories: no model is
/// loaded and no file hashed, so a shell can call it on every Tab.
pub fn model_names(env: &crate::engine::stores::StoreEnv) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(m) = crate::engine::manifest::load_manifest() {
        out.extend(m.models.iter().map(|e| e.name.clone()));
    }
    for (_, scan) in crate::engine::stores::scan_all(env) {
        out.extend(
            scan.found
                .into_iter()
                .filter(|f| f.unusable.is_none())
                .map(|f| f.reference),
        );
    }
    // A name may not contain a line break (one reference a line).
    out.retain(|n| !n.contains(['\n', '\r']) && !n.is_empty());
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn kinds_come_from_the_definitions() {
        let cmd = crate::cli::Cli::command();
        let format = cmd
            .get_arguments()
            .find(|a| a.get_id() == "format")
            .unwrap();
        match kind_of(format) {
            Kind::Values(v) => assert!(v.iter().any(|v| v == "sarif"), "{v:?}"),
            k => panic!("--format completes {k:?}"),
        }
        let model = cmd.get_arguments().find(|a| a.get_id() == "model").unwrap();
        assert_eq!(kind_of(model), Kind::Model);
        let range = cmd.get_arguments().find(|a| a.get_id() == "range").unwrap();
        assert_eq!(kind_of(range), Kind::Range);
    }

    #[test]
    fn generated_scripts_carry_the_dynamic_parts() {
        let cmd = crate::cli::Cli::command();
        let fish = script(Shell::Fish, &cmd);
        assert!(
            fish.contains("-- $cmd[1..-2] 2>/dev/null"),
            "clap_complete's fish changed"
        );
        let zsh = script(Shell::Zsh, &cmd);
        assert!(
            zsh.contains(":__gdr_zsh_ranges'"),
            "the range action is missing"
        );
        assert!(
            zsh.contains(
                "    __gdr_zsh_ranges\n    _describe -t commands 'git-deep-review commands'"
            ),
            "the range is not among the commands"
        );
        assert!(
            !zsh.contains("'::range -- "),
            "the range positional hides the subcommands"
        );
        assert!(
            zsh.contains("case $line[1] in") && !zsh.contains("case $line[2] in"),
            "the root dispatch"
        );
        assert!(
            zsh.contains(":MODEL:__gdr_zsh_models'"),
            "the model action is missing"
        );
        assert!(zsh.starts_with("#compdef git-deep-review"));
    }

    #[test]
    fn quoting_survives_a_quote() {
        assert_eq!(sq("a'b"), r"'a'\''b'");
    }
}
