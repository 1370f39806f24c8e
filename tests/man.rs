//! The manual pages: generated from the parser (every flag, subcommand,
//! exit code and configuration key is in them), lint-clean under
//! `mandoc -T lint`, rendered by the real man-db `man`, and found by `man`,
//! `git help deep-review` and `git deep-review --help` after `install.sh`
//! put them beside the binary in a throw-away prefix.
//!
//! Needs mandoc and man-db (`./install.sh --test` installs both); a missing
//! tool fails the test, it does not skip it.

mod common;

use common::repo::{stdout_of as ok, BIN};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::CommandFactory;
use git_deep_review::cli::{Cli, EXIT_CODES};
use git_deep_review::config::keys::REGISTRY;

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// The tool, or a failure that says how to get it.
fn need(tool: &str, version_arg: &str, expect: &str) {
    let out = Command::new(tool).arg(version_arg).output();
    let good = out.as_ref().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout).contains(expect)
            || String::from_utf8_lossy(&o.stderr).contains(expect)
    });
    assert!(
        good,
        "{tool} is missing or not the real one ({out:?}): run ./install.sh --test, which installs mandoc and man-db"
    );
}

/// Generates every page into a fresh directory: (dir guard, page name -> roff).
fn generate() -> (tempfile::TempDir, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    ok(Command::new(BIN)
        .args(["generate", "man", "--dir"])
        .arg(&out));
    let mut pages: Vec<(String, String)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    pages.sort();
    (dir, pages)
}

fn page<'a>(pages: &'a [(String, String)], name: &str) -> &'a str {
    &pages
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no page {name} among {:?}", names(pages)))
        .1
}

fn names(pages: &[(String, String)]) -> Vec<&str> {
    pages.iter().map(|(n, _)| n.as_str()).collect()
}

/// How roff source spells `text` (hyphens escaped).
fn roff(text: &str) -> String {
    text.replace('-', "\\-")
}

/// The visible subcommands of the parser itself (not through the generator).
fn subcommands() -> Vec<clap::Command> {
    Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .cloned()
        .collect()
}

#[test]
fn one_page_per_subcommand_and_the_main_page_on_stdout() {
    let (_dir, pages) = generate();
    let mut want: BTreeSet<String> = subcommands()
        .iter()
        .map(|s| format!("git-deep-review-{}.1", s.get_name()))
        .collect();
    want.insert("git-deep-review.1".into());
    let got: BTreeSet<String> = pages.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        got, want,
        "one page per subcommand, and nothing else (no temporary files)"
    );

    // Without --dir: the main page, the same text, for packagers.
    let stdout = ok(Command::new(BIN).args(["generate", "man"]));
    assert_eq!(stdout, page(&pages, "git-deep-review.1"));
    assert!(
        stdout.starts_with(".ie") || stdout.starts_with(".TH"),
        "roff: {}",
        &stdout[..80]
    );
}

#[test]
fn every_page_is_lint_clean_under_mandoc() {
    need("mandoc", "-V", "mandoc");
    let (dir, pages) = generate();
    for (name, _) in &pages {
        let path = dir.path().join("man1").join(name);
        let out = run(Command::new("mandoc")
            .args(["-T", "lint", "-W", "warning"])
            .arg(&path));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.trim().is_empty(),
            "mandoc -T lint {name}:\n{text}"
        );
    }
}

#[test]
fn every_page_renders_with_man_db_without_warnings() {
    need("man", "--version", "man ");
    let (dir, pages) = generate();
    for (name, _) in &pages {
        let path = dir.path().join("man1").join(name);
        let out = run(Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&path)
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "100"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "man -l {name}: {stderr}"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let title = name.trim_end_matches(".1").to_uppercase();
        assert!(
            text.starts_with(&format!("{title}(1)")),
            "{name} header:\n{text}"
        );
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SEE ALSO"] {
            assert!(
                text.lines().any(|l| l == section),
                "{name} lacks {section}:\n{text}"
            );
        }
    }
    let main = render_main(&dir);
    for section in [
        "COMMANDS",
        "RANGES",
        "EXIT STATUS",
        "CONFIGURATION",
        "FILES",
        "ENVIRONMENT",
        "EXAMPLES",
    ] {
        assert!(
            main.lines().any(|l| l == section),
            "main page lacks {section}"
        );
    }
    let main = flat(&main);
    assert!(
        main.contains("git-deep-review - A senior-level code review"),
        "{main}"
    );
    for range in ["A..B", "A...B", "@{upstream}..HEAD"] {
        assert!(main.contains(range), "RANGES names {range}");
    }
    // The usage line names each option's value, as git's pages do.
    let synopsis = &main[main.find("SYNOPSIS").unwrap()..main.find("DESCRIPTION").unwrap()];
    for usage in [
        "[--format FORMAT]",
        "[-C PATH]",
        "[-o|--output FILE]",
        "[RANGE]",
    ] {
        assert!(
            synopsis.contains(usage),
            "SYNOPSIS lacks {usage}: {synopsis}"
        );
    }
}

fn render_main(dir: &tempfile::TempDir) -> String {
    ok(Command::new("man")
        .arg("-l")
        .arg(dir.path().join("man1/git-deep-review.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200"))
}

/// Rendered text with runs of spaces (justification) collapsed, per line.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every long option and positional of every command (and nested command)
/// in the parser appears on its page: pages that stopped following the
/// parser fail here.
#[test]
fn pages_follow_the_parser_options_subcommands_exit_codes_and_config_keys() {
    let (_dir, pages) = generate();
    let main = page(&pages, "git-deep-review.1");
    let check_args = |cmd: &clap::Command, text: &str, page_name: &str| {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(
                    text.contains(&roff(&format!("--{long}"))),
                    "--{long} of `{}` is not on {page_name}",
                    cmd.get_name()
                );
            }
            if arg.is_positional() {
                let name = arg.get_value_names().unwrap()[0].to_string();
                assert!(text.contains(&name), "{name} not on {page_name}");
            }
        }
    };
    check_args(&Cli::command(), main, "git-deep-review.1");
    for sub in subcommands() {
        let file = format!("git-deep-review-{}.1", sub.get_name());
        let text = page(&pages, &file);
        assert!(
            main.contains(&roff(&format!("git-deep-review-{}(1)", sub.get_name()))),
            "the main page lists {}",
            sub.get_name()
        );
        check_args(&sub, text, &file);
        for nested in sub
            .get_subcommands()
            .filter(|n| !n.is_hide_set() && n.get_name() != "help")
        {
            assert!(
                text.contains(&format!(".SS {}", nested.get_name())),
                "{file} has a section for {}",
                nested.get_name()
            );
            check_args(nested, text, &file);
        }
    }
    // Possible values come from the parser too.
    for v in ["markdown", "sarif"] {
        assert!(main.contains(v));
    }
    // The exit codes of --help are the man page's.
    let exit = main
        .split(".SH \"EXIT STATUS\"")
        .nth(1)
        .expect("EXIT STATUS section");
    for (code, what) in EXIT_CODES {
        assert!(
            exit.contains(&format!("\\fB{code}\\fR")),
            "exit code {code}"
        );
        assert!(exit.contains(&roff(what)), "exit code {code}: {what}");
    }
    let help = ok(Command::new(BIN).arg("-h"));
    for (code, what) in EXIT_CODES {
        assert!(
            help.contains(&format!("{code:<3} {what}")),
            "-h shows exit code {code}"
        );
    }
    // Every configuration key of the registry, with its git name and default.
    let config = main
        .split(".SH CONFIGURATION")
        .nth(1)
        .expect("CONFIGURATION section");
    for key in REGISTRY {
        assert!(
            config.contains(&roff(key.toml)),
            "{} in CONFIGURATION",
            key.toml
        );
        assert!(
            config.contains(&roff(key.git)),
            "{} in CONFIGURATION",
            key.git
        );
        assert!(
            config.contains(&roff(&key.kind.type_doc())),
            "{} type",
            key.toml
        );
        if let Some(d) = key.default {
            assert!(
                config.contains(&roff(&format!("Default: {d}."))),
                "{} default",
                key.toml
            );
        }
    }
}

/// `install.sh` (its real install step, on the binary cargo built) puts the
/// pages where man-db's PATH-derived manpath finds them, and git's
/// `--help` and `git help` open them.
#[test]
fn after_install_sh_man_git_help_and_dash_dash_help_open_the_page() {
    need("man", "--version", "man ");
    let models = std::env::var_os("GIT_DEEP_REVIEW_MODELS_DIR").expect(
        "GIT_DEEP_REVIEW_MODELS_DIR names the bundled models (./install.sh --test sets it)",
    );
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("local/bin");
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    // install.sh installs target/release/git-deep-review: the binary under test.
    assert_eq!(
        std::fs::canonicalize(BIN).unwrap(),
        std::fs::canonicalize(src.join("target/release/git-deep-review")).unwrap(),
        "the test binary is the one install.sh --no-build installs (run the tests with --release)"
    );
    let out = run(Command::new(src.join("install.sh"))
        .args(["--no-build", "--no-smoke", "--prefix"])
        .arg(&prefix)
        .arg("--models-from")
        .arg(&models)
        .env("HOME", &home)
        .env("XDG_DATA_HOME", root.path().join("data"))
        .env_remove("MANPATH")
        .current_dir(src));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "install.sh failed: {stderr}");
    let man1 = root.path().join("local/share/man/man1");
    assert!(
        stderr.contains(&man1.display().to_string()),
        "install.sh says where: {stderr}"
    );
    let installed: BTreeSet<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(installed.len(), subcommands().len() + 1, "{installed:?}");
    assert!(
        installed.iter().all(|n| n.ends_with(".1")),
        "no temporary files: {installed:?}"
    );

    // A user's environment: the prefix on PATH, no MANPATH, pagers that print.
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", prefix.display());
    let user = |program: &str, args: &[&str]| -> Output {
        run(Command::new(program)
            .args(args)
            .current_dir(root.path())
            .env("PATH", &path)
            .env("HOME", &home)
            .env_remove("MANPATH")
            .env_remove("XDG_CONFIG_HOME")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("GIT_PAGER", "cat")
            .env("MANWIDTH", "200"))
    };
    let expect_page = |out: Output, what: &str| {
        let text = flat(&String::from_utf8_lossy(&out.stdout));
        assert!(
            out.status.success(),
            "{what}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.starts_with("GIT-DEEP-REVIEW(1)"),
            "{what} shows the page:\n{text}"
        );
        assert!(
            text.contains("git-deep-review - A senior-level code review"),
            "{what} NAME"
        );
        assert!(
            text.contains("git deep-review reviews the change a commit range makes"),
            "{what} DESCRIPTION"
        );
    };
    expect_page(user("man", &["git-deep-review"]), "man git-deep-review");
    expect_page(
        user("git", &["help", "deep-review"]),
        "git help deep-review",
    );
    expect_page(
        user("git", &["deep-review", "--help"]),
        "git deep-review --help",
    );
    let hook = user("man", &["git-deep-review-hook"]);
    let hook_text = String::from_utf8_lossy(&hook.stdout);
    assert!(
        hook.status.success() && hook_text.contains("uninstall"),
        "{hook_text}"
    );

    // -h stays clap's short help.
    for (program, args) in [
        ("git-deep-review", vec!["-h"]),
        ("git", vec!["deep-review", "-h"]),
    ] {
        let out = user(program, &args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{program} {args:?}");
        assert!(
            text.contains("Usage: git deep-review"),
            "{program} {args:?}: {text}"
        );
        assert!(
            !text.contains("SYNOPSIS"),
            "{program} {args:?} is not the man page"
        );
    }
    let _: PathBuf = man1;
}
