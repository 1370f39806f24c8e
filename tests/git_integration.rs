//! The binary as git runs it: `git -c deep-review.*` reaching the
//! subcommand, SHA-256 repositories, and how a review started as
//! `git deep-review` ends on SIGINT and SIGTERM.

mod common;

use common::repo::{Remote, TestRepo, BIN};
use std::process::{Command, Output};

/// A directory holding `git-deep-review` (a link to the binary cargo built),
/// and a PATH that finds it first, as an installed one is found.
fn path_with_bin(r: &TestRepo) -> std::ffi::OsString {
    let dir = r.scratch().join("bin");
    if !dir.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(BIN, dir.join("git-deep-review")).unwrap();
    }
    std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap()
}

/// `git ARGS` in the repository with the test environment and our binary
/// on PATH, so `git deep-review` runs it as git runs any subcommand.
fn git_cmd(r: &TestRepo, args: &[&str]) -> Command {
    let mut c = r.command(args);
    c.env("PATH", path_with_bin(r));
    c
}

fn git_run(r: &TestRepo, args: &[&str]) -> Output {
    git_cmd(r, args).output().expect("run git")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of `git deep-review config` output that sets `name`.
fn line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("no `{name} = ` line in:\n{stdout}"))
}

/// One stand-in reviewer that reports every line carrying
/// `DEEP-REVIEW-PLANT:<severity>`.
const STANDIN: &str = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"one\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n";

/// Writes `.deep-review.toml` in the work tree, uncommitted (not part of
/// the reviewed change), and trusts it as it stands there: the tests are
/// about git, not about where the repository's configuration is read from.
fn configure(r: &TestRepo, toml: &str) {
    r.write(".deep-review.toml", toml);
    r.write(".git/info/exclude", ".deep-review.toml\n");
    r.git(&["config", "deep-review.trustRepoConfig", "true"]);
}

// ---------------------------------------------------------------------------
// `git -c deep-review.*`

#[test]
fn git_dash_c_settings_reach_the_subcommand_and_name_the_command_line() {
    let r = TestRepo::new();
    r.git(&["config", "deep-review.blockOn", "suggestion"]);
    let out = git_run(
        &r,
        &[
            "-c",
            "deep-review.gate=false",
            "-c",
            "deep-review.blockOn=important",
            // A value with a quote, a space and `=`, which git shell-quotes.
            "-c",
            "deep-review.ignore=it's a=b/**",
            // No `=`: an implicit true, as in a config file.
            "-c",
            "deep-review.offline",
            "deep-review",
            "config",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        line(&stdout, "enabled"),
        "enabled = false  # git -c deep-review.gate"
    );
    assert_eq!(
        line(&stdout, "block_on"),
        "block_on = \"important\"  # git -c deep-review.blockOn",
        "-c beats the repository's git config"
    );
    assert_eq!(
        line(&stdout, "offline"),
        "offline = true  # git -c deep-review.offline"
    );
    assert!(
        stdout.contains("  \"it's a=b/**\",  # git -c deep-review.ignore"),
        "{stdout}"
    );

    // GIT_CONFIG_COUNT (git's other way) still works, and -c comes after it.
    let out = git_cmd(
        &r,
        &[
            "-c",
            "deep-review.blockOn=critical",
            "deep-review",
            "config",
        ],
    )
    .env("GIT_CONFIG_COUNT", "1")
    .env("GIT_CONFIG_KEY_0", "deep-review.blockOn")
    .env("GIT_CONFIG_VALUE_0", "important")
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        line(&stdout, "block_on"),
        "block_on = \"critical\"  # git -c deep-review.blockOn"
    );

    // A bad value given with -c is refused like any other, naming it.
    let out = git_run(
        &r,
        &[
            "-c",
            "deep-review.blockOn=sometimes",
            "deep-review",
            "config",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("deep-review.blockOn"), "{stderr}");
}

#[test]
fn git_dash_c_gate_off_lets_a_blocked_review_pass() {
    let r = TestRepo::new();
    r.commit_files("first", &[("src/a.rs", "fn a() {}\n")]);
    configure(&r, STANDIN);
    r.commit_files(
        "plant",
        &[(
            "src/a.rs",
            "fn a() {}\nfn b() -> i32 {\n    1 // DEEP-REVIEW-PLANT:critical\n}\n",
        )],
    );
    let out = git_run(&r, &["deep-review", "--gate", "HEAD~1..HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let out = git_run(
        &r,
        &[
            "-c",
            "deep-review.gate=off",
            "deep-review",
            "--gate",
            "HEAD~1..HEAD",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

// ---------------------------------------------------------------------------
// SHA-256 repositories

#[test]
fn a_sha256_repository_is_planned_and_reviewed() {
    let r = TestRepo::new();
    let dir = r.scratch().join("sha256");
    std::fs::create_dir_all(&dir).unwrap();
    let out = r
        .command(&["init", "-q", "-b", "main", "--object-format=sha256"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let s = TestRepo::at(&dir);
    s.commit_files("first", &[("src/a.rs", "fn a() {}\n")]);
    configure(&s, STANDIN);
    let head = s.commit_files(
        "second",
        &[(
            "src/a.rs",
            "fn a() {}\nfn b() -> i32 {\n    1 // DEEP-REVIEW-PLANT:critical\n}\n",
        )],
    );
    assert_eq!(head.len(), 64, "a SHA-256 id: {head}");

    let out = git_run(&s, &["deep-review", "--plan", "HEAD~1..HEAD"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("src/a.rs"), "{stdout}");

    let out = git_run(
        &s,
        &[
            "deep-review",
            "--gate",
            "HEAD~1..HEAD",
            "-o",
            "-",
            "--format",
            "json",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the planted critical blocks: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["head"].as_str(), Some(head.as_str()), "{stdout}");
}

// ---------------------------------------------------------------------------
// Interrupted reviews end by the signal

/// A repository whose last commit changes three files, reviewed by one
/// stand-in reviewer that takes `GIT_DEEP_REVIEW_STANDIN_DELAY_MS` per
/// answer: a review long enough to interrupt.
fn slow_repo() -> TestRepo {
    let r = TestRepo::new();
    r.commit_files("base", &[("README", "hello\n")]);
    let body = |name: &str| {
        (0..8)
            .map(|i| format!("def {name}_{i}(x):\n    return x + {i}\n\n"))
            .collect::<String>()
    };
    r.commit_files(
        "three files",
        &[
            ("a.py", &body("a")),
            ("b.py", &body("b")),
            ("c.py", &body("c")),
        ],
    );
    configure(
        &r,
        &STANDIN.replace("lead = \"none\"\n", "lead = \"none\"\nchunk_tokens = 128\n"),
    );
    r
}

/// Starts `cmd` (in a process group of its own, as a shell job), waits
/// until the stand-in reviewer has answered once, sends `signal` the way
/// `kill` does (to the group, as a terminal's Ctrl-C), and returns the
/// finished output.
fn interrupt(mut cmd: Command, log: &std::path::Path, signal: &str) -> Output {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    cmd.env("GIT_DEEP_REVIEW_STANDIN_LOG", log)
        .env("GIT_DEEP_REVIEW_STANDIN_DELAY_MS", "1500")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().unwrap();
    let t0 = Instant::now();
    while std::fs::read_to_string(log).map_or(true, |s| s.is_empty()) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the review never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let group = format!("-{}", child.id());
    let k = Command::new("kill")
        .args([signal, "--", &group])
        .status()
        .unwrap();
    assert!(k.success());
    child.wait_with_output().unwrap()
}

/// Nothing half-written: no report and no temporary cache file.
fn assert_nothing_half_written(r: &TestRepo) {
    let reports = r.path.join(".git/deep-review/reports");
    let listed: Vec<_> = std::fs::read_dir(&reports)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        listed.is_empty(),
        "no report of an interrupted review: {listed:?}"
    );
    let cache = r.path.join(".git/deep-review/cache");
    let mut stack = vec![cache];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(".tmp-"),
                "half-written cache entry {name}"
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

#[test]
fn sigint_and_sigterm_end_the_review_by_the_signal_after_cleanup() {
    use std::os::unix::process::ExitStatusExt;
    for (signal, number) in [("-INT", 2), ("-TERM", 15)] {
        let r = slow_repo();
        let log = r.scratch().join(format!("log{number}"));
        let out = interrupt(r.deep_review(&["HEAD~1..HEAD"]), &log, signal);
        let (_, stderr) = text(&out);
        assert_eq!(
            out.status.signal(),
            Some(number),
            "{signal}: ended by the signal, not {:?}: {stderr}",
            out.status.code()
        );
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert_nothing_half_written(&r);
    }
}

#[test]
fn ctrl_c_during_git_deep_review_is_reported_by_git_as_an_interrupt() {
    use std::os::unix::process::ExitStatusExt;
    let r = slow_repo();
    let log = r.scratch().join("log");
    let mut git = git_cmd(&r, &["deep-review", "HEAD~1..HEAD"]);
    // As from a terminal: git with SIGINT at its default. A test run
    // started in the background of a non-interactive shell inherits SIGINT
    // ignored, and git then outlives its interrupted subcommand with
    // "waitpid … No child processes" whatever the subcommand does.
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: signal() is async-signal-safe, as pre_exec requires.
        unsafe {
            git.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
    }
    let out = interrupt(git, &log, "-INT");
    let (_, stderr) = text(&out);
    // git dies by the signal itself or exits 130 (128 + SIGINT), as a
    // shell reports it either way; never 128 with an error of its own.
    assert!(
        out.status.signal() == Some(2) || out.status.code() == Some(130),
        "{:?}: {stderr}",
        out.status
    );
    assert!(!stderr.contains("waitpid"), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_nothing_half_written(&r);
}

// ---------------------------------------------------------------------------
// The pre-push hook's messages, and tags

/// A remote and its clone with the hook installed, reviewed by the
/// stand-in reviewer (one configured in `.deep-review.toml`, not committed).
fn hooked(config: &str) -> Remote {
    let s = Remote::new();
    configure(&s.work, config);
    let out = s.work.deep_review(&["hook", "install"]).output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    s
}

/// `git push ARGS` through the hook: (pushed?, stderr).
fn push(s: &Remote, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let out = s.push(args, envs);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PLANTED: &str = "fn f() -> i32 {\n    let x = 1; // DEEP-REVIEW-PLANT:critical\n    x\n}\n";

#[test]
fn a_pushed_tag_is_reviewed_for_what_it_adds_or_allowed_by_policy() {
    let s = hooked(STANDIN);
    let remote_has_tag = |t: &str| {
        s.remote
            .command(&["rev-parse", "-q", "--verify", &format!("refs/tags/{t}")])
            .output()
            .unwrap()
            .status
            .success()
    };
    // A tag on a commit no branch push sent through the gate: its
    // planted critical blocks the push, and the message names the tag.
    let planted = s.work.commit_files("planted", &[("src/bad.rs", PLANTED)]);
    s.work
        .git(&["tag", "-a", "-m", "release", "v1.0", &planted]);
    s.work.git(&["reset", "-q", "--hard", "HEAD~1"]);
    let (pushed, err) = push(&s, &["origin", "v1.0"], &[]);
    assert!(!pushed, "{err}");
    assert!(
        err.contains("refs/tags/v1.0") && err.contains("src/bad.rs") && err.contains("tag:"),
        "{err}"
    );
    assert!(!remote_has_tag("v1.0"));

    // A tag on a commit the remote already has adds nothing to review.
    s.work.git(&["tag", "v0.9", "main"]);
    let (pushed, err) = push(&s, &["origin", "v0.9"], &[]);
    assert!(pushed, "{err}");
    assert!(err.contains("refs/tags/v0.9: no new commits"), "{err}");

    // `allow` pushes tags unreviewed, saying so.
    s.work.git(&["config", "deep-review.tags", "allow"]);
    let (pushed, err) = push(&s, &["origin", "v1.0"], &[]);
    assert!(pushed, "{err}");
    assert!(
        err.contains("refs/tags/v1.0: tag, pushed without review")
            && err.contains("deep-review.tags"),
        "{err}"
    );
    assert!(remote_has_tag("v1.0"));
}

#[test]
fn the_hook_report_names_the_pushed_branch_and_the_report_line_is_escaped() {
    let s = hooked(STANDIN);
    // A report directory whose name holds a newline (inside the repository).
    s.work
        .git(&["config", "deep-review.reportDir", "odd\nreports"]);
    s.work.git(&["checkout", "-q", "-b", "topic"]);
    s.work.commit_files("planted", &[("src/bad.rs", PLANTED)]);
    let (pushed, err) = push(&s, &["origin", "topic"], &[]);
    assert!(!pushed, "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("Full report: "))
        .unwrap_or_else(|| panic!("no report line: {err}"));
    assert!(line.contains("odd\\nreports/"), "escaped: {err}");
    assert!(
        !err.lines().any(|l| l.starts_with("reports/")),
        "no raw newline in the report line: {err}"
    );
    let dir = s.work.path.join("odd\nreports");
    let report = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .expect("the hook wrote a report");
    let md = std::fs::read_to_string(report).unwrap();
    assert!(md.contains("| **Branch** | `topic` |"), "{md}");
    assert!(!md.contains("detached HEAD"), "{md}");
}

/// The bundled models are demonstration models: a push reviewed by them
/// alone must not read as reviewed, in the hook's message or the report.
#[test]
fn a_push_reviewed_by_demonstration_models_says_it_was_not_reviewed() {
    let s = hooked(
        "[review]\nlead = \"none\"\nverify = \"off\"\n\n[[reviewer]]\nname = \"correctness\"\nmodel = \"smollm2-135m\"\nprompt = \"correctness.md\"\nmax_tokens = 64\n",
    );
    s.work.commit_files(
        "add",
        &[(
            "src/add.rs",
            "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
        )],
    );
    let models = common::models::dir();
    let (_, err) = push(
        &s,
        &["origin", "main"],
        &[("GIT_DEEP_REVIEW_MODELS_DIR", models.to_str().unwrap())],
    );
    assert!(
        err.contains("Not a review: demonstration models only"),
        "the hook says so: {err}"
    );
    let path = err
        .lines()
        .find_map(|l| l.strip_prefix("Full report: "))
        .unwrap_or_else(|| panic!("no report: {err}"));
    let md = std::fs::read_to_string(path.trim()).unwrap();
    assert!(md.contains("| **Branch** | `main` |"), "{md}");
    assert!(
        md.contains("| **Verdict** | **Not a review: demonstration models only** —"),
        "{md}"
    );
    assert!(!md.contains("**Merge as-is**"), "{md}");
}
