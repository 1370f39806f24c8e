//! The pager, for real: the binary run under a pseudo-terminal (`script`
//! from util-linux) with `GIT_PAGER`, `core.pager`, `PAGER` and
//! `pager.deep-review` pointing at recording pagers (shell commands that
//! save what they read and their environment), as git chooses and runs its
//! pager for `git log`.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::repo::{TestRepo, BIN};

/// A repository whose last commit plants 400 critical findings for the
/// `standin:marker` reviewer, so a `--gate` review blocks (exit 1) and its
/// report (about 240 KB) is more than a pipe holds: a pager that quits
/// early surely closes the pipe under a write.
fn blocking_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.commit_files("base", &[("README.md", "hello\n")]);
    repo.write(
        ".deep-review.toml",
        "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"only\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n",
    );
    repo.write(".git/info/exclude", ".deep-review.toml\n");
    let mut code = String::from("fn f() -> i32 {\n");
    for i in 0..400 {
        code.push_str(&format!(
            "    let x{i} = {i}; // DEEP-REVIEW-PLANT:critical number {i}\n"
        ));
    }
    code.push_str("    0\n}\n");
    repo.commit_files("change", &[("src/a.rs", &code)]);
    repo
}

/// A pager command that records what it reads in `dir/NAME.out` and its
/// environment in `dir/NAME.env`.
fn recorder(dir: &Path, name: &str) -> String {
    format!(
        "cat > '{0}/{name}.out'; env > '{0}/{name}.env'",
        dir.display()
    )
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

struct Run {
    code: Option<i32>,
    /// What reached the terminal (stdout and stderr, through the pty).
    screen: String,
}

/// `program args` run on a pseudo-terminal in `repo` with the test
/// environment plus `env`; `program` is our binary or `git`.
fn on_tty(repo: &TestRepo, program: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    assert!(
        Path::new("/usr/bin/script").exists(),
        "/usr/bin/script (util-linux) is missing: run ./install.sh --test"
    );
    let line = std::iter::once(program)
        .chain(args.iter().copied())
        .map(sh_quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    plain_env(repo, &mut cmd, env);
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code(),
        screen: String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
    }
}

/// The environment of `TestRepo::deep_review` (no user configuration,
/// stand-in models allowed), the bundled models, our binary first on PATH.
fn plain_env(repo: &TestRepo, cmd: &mut Command, env: &[(&str, &str)]) {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let home = repo.scratch().join("home");
    std::fs::create_dir_all(&home).unwrap();
    cmd.current_dir(&repo.path)
        .env_clear()
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
        )
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_DEEP_REVIEW_MODELS_DIR", common::models::dir())
        .env("GIT_DEEP_REVIEW_TEST_BACKENDS", "1")
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .env("LC_ALL", "C");
    for (k, v) in env {
        cmd.env(k, v);
    }
}

fn scratch(repo: &TestRepo) -> PathBuf {
    let d = repo.scratch().join("pager");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

#[test]
fn models_go_through_git_pager_with_less_defaults() {
    let repo = TestRepo::new();
    let d = scratch(&repo);
    let r = on_tty(
        &repo,
        BIN,
        &["models"],
        &[("GIT_PAGER", &recorder(&d, "git"))],
    );
    assert_eq!(r.code, Some(0), "{}", r.screen);
    let paged = read(&d, "git.out").expect("GIT_PAGER did not run");
    assert!(
        paged.contains("smollm2-135m"),
        "the list went to the pager: {paged}"
    );
    assert!(
        !r.screen.contains("smollm2-135m"),
        "and not to the terminal: {}",
        r.screen
    );
    let env = read(&d, "git.env").unwrap();
    assert!(env.lines().any(|l| l == "LESS=FRX"), "{env}");
    assert!(env.lines().any(|l| l == "LV=-c"), "{env}");
    // A LESS the user set is theirs.
    let r = on_tty(
        &repo,
        BIN,
        &["models"],
        &[("GIT_PAGER", &recorder(&d, "mine")), ("LESS", "-S")],
    );
    assert_eq!(r.code, Some(0));
    assert!(read(&d, "mine.env")
        .unwrap()
        .lines()
        .any(|l| l == "LESS=-S"));
}

#[test]
fn the_pager_is_chosen_as_git_chooses_it() {
    let repo = TestRepo::new();
    let d = scratch(&repo);
    repo.git(&["config", "core.pager", &recorder(&d, "core")]);
    let pager = recorder(&d, "pager");
    let git_pager = recorder(&d, "gitpager");
    let which = |env: &[(&str, &str)]| {
        for f in ["core", "pager", "gitpager", "cmd"] {
            let _ = std::fs::remove_file(d.join(format!("{f}.out")));
        }
        let r = on_tty(&repo, BIN, &["config"], env);
        assert_eq!(r.code, Some(0), "{}", r.screen);
        let ran: Vec<&str> = ["core", "pager", "gitpager", "cmd"]
            .into_iter()
            .filter(|f| d.join(format!("{f}.out")).exists())
            .collect();
        (ran, r.screen)
    };
    let both = [("PAGER", pager.as_str()), ("GIT_PAGER", git_pager.as_str())];
    assert_eq!(which(&both).0, ["gitpager"], "GIT_PAGER first");
    assert_eq!(which(&both[..1]).0, ["core"], "then core.pager");
    repo.git(&["config", "--unset", "core.pager"]);
    assert_eq!(which(&both[..1]).0, ["pager"], "then PAGER");
    // `cat` and an empty pager mean none: the output reaches the terminal.
    let (ran, screen) = which(&[("GIT_PAGER", "cat"), ("PAGER", &pager)]);
    assert!(
        ran.is_empty() && screen.contains("reviewer"),
        "{ran:?} {screen}"
    );
    let (ran, _) = which(&[("GIT_PAGER", ""), ("PAGER", &pager)]);
    assert!(ran.is_empty(), "{ran:?}");
    // pager.deep-review: a command wins over everything; false turns it off.
    repo.git(&["config", "pager.deep-review", &recorder(&d, "cmd")]);
    assert_eq!(which(&both).0, ["cmd"]);
    repo.git(&["config", "pager.deep-review", "false"]);
    let (ran, screen) = which(&both);
    assert!(
        ran.is_empty() && screen.contains("reviewer"),
        "{ran:?} {screen}"
    );
}

#[test]
fn no_pager_quiet_and_a_pipe_page_nothing() {
    let repo = TestRepo::new();
    let d = scratch(&repo);
    let env = [("GIT_PAGER", recorder(&d, "p"))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for flags in [&["--no-pager"][..], &["-P"], &["--quiet"]] {
        let mut args = vec!["models"];
        args.extend_from_slice(flags);
        let r = on_tty(&repo, BIN, &args, &env);
        assert_eq!(r.code, Some(0));
        assert!(read(&d, "p.out").is_none(), "{flags:?} paged");
    }
    // `git --no-pager deep-review` tells us with GIT_PAGER=cat.
    let r = on_tty(&repo, "git", &["--no-pager", "deep-review", "models"], &env);
    assert_eq!(r.code, Some(0), "{}", r.screen);
    assert!(read(&d, "p.out").is_none(), "git --no-pager paged");
    assert!(r.screen.contains("smollm2-135m"));
    // Not a terminal: never.
    let mut cmd = Command::new(BIN);
    cmd.arg("models");
    plain_env(&repo, &mut cmd, &env);
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("smollm2-135m"));
    assert!(read(&d, "p.out").is_none(), "paged into a pipe");
}

#[test]
fn git_p_pages_once() {
    // `git -p deep-review` starts git's pager and sets GIT_PAGER_IN_USE:
    // we must not start a second one inside it.
    let repo = TestRepo::new();
    let d = scratch(&repo);
    let counting = format!("cat >> '{0}/p.out'; echo run >> '{0}/runs'", d.display());
    let r = on_tty(
        &repo,
        "git",
        &["-p", "deep-review", "models"],
        &[("GIT_PAGER", &counting)],
    );
    assert_eq!(r.code, Some(0), "{}", r.screen);
    assert_eq!(read(&d, "runs").as_deref(), Some("run\n"), "one pager");
    assert!(read(&d, "p.out").unwrap().contains("smollm2-135m"));
}

#[test]
fn the_gate_exit_code_survives_the_pager_even_quit_early() {
    let repo = blocking_repo();
    let d = scratch(&repo);
    let r = on_tty(
        &repo,
        BIN,
        &["HEAD~1..HEAD", "--gate"],
        &[("GIT_PAGER", &recorder(&d, "p"))],
    );
    assert_eq!(r.code, Some(1), "the gate blocks: {}", r.screen);
    let paged = read(&d, "p.out").expect("the summary was paged");
    assert!(paged.contains("src/a.rs"), "{paged}");
    // A pager that reads one byte and quits (q in less): the rest of the
    // output meets a closed pipe, which ends quietly, and the gate still
    // decides the exit code.
    let r = on_tty(
        &repo,
        BIN,
        &["HEAD~1..HEAD", "--gate", "--format", "markdown", "-o", "-"],
        &[("GIT_PAGER", "head -c 1 >/dev/null")],
    );
    assert_eq!(r.code, Some(1), "{}", r.screen);
    assert!(!r.screen.contains("error"), "{}", r.screen);
    assert!(!r.screen.contains("panicked"), "{}", r.screen);
    // And a pager that never reads at all.
    let r = on_tty(
        &repo,
        BIN,
        &["HEAD~1..HEAD", "--gate"],
        &[("GIT_PAGER", "true")],
    );
    assert_eq!(r.code, Some(1), "{}", r.screen);
    assert!(!r.screen.contains("panicked"), "{}", r.screen);
}

#[test]
fn the_plan_of_a_real_repository_is_paged() {
    let repo = TestRepo::python_average();
    let d = scratch(&repo);
    let r = on_tty(
        &repo,
        BIN,
        &["HEAD~1..HEAD", "--plan"],
        &[("PAGER", &recorder(&d, "p"))],
    );
    assert_eq!(r.code, Some(0), "{}", r.screen);
    assert!(read(&d, "p.out").unwrap().contains("stats.py"));
}

#[test]
fn a_real_review_on_the_bundled_models_pages_its_summary() {
    let repo = TestRepo::python_average();
    let d = scratch(&repo);
    let r = on_tty(
        &repo,
        BIN,
        &["HEAD~1..HEAD", "--gate"],
        &[("GIT_PAGER", &recorder(&d, "p"))],
    );
    assert_eq!(r.code, Some(0), "{}", r.screen);
    let paged = read(&d, "p.out").expect("the summary was paged");
    assert!(paged.contains("Report: "), "{paged}");
}
