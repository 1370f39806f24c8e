//! The binary in its environment: which repository git's variables select,
//! what the messages say when there is none, the hook's uninstall and
//! bypass, and the models directory and verification record.

mod common;

use common::repo::TestRepo;
use git_deep_review::engine::manifest::load_manifest_from;
use git_deep_review::engine::verify::verify_model_with_cache;
use git_deep_review::hook::{install_in, uninstall_in, EDITED_NAME, HOOK_NAME};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_git-deep-review");

/// Variables that steer git or us; cleared so the developer's shell (or a
/// hook running the tests) cannot pick the repository or the models.
const STEERING: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_DEEP_REVIEW_MODELS_DIR",
    "DEEP_REVIEW",
];

/// A command with a private HOME and no user or system git configuration.
fn isolated(program: &str, cwd: &Path, home: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(cwd)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C");
    for v in STEERING {
        c.env_remove(v);
    }
    c
}

fn bin(cwd: &Path, home: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut c = isolated(BIN, cwd, home);
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run git-deep-review")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

/// Two repositories with different histories: `a` (where commands run)
/// and `b` (the one the environment names).
fn two_repos() -> (TestRepo, TestRepo) {
    let a = TestRepo::new();
    a.commit_files("base of a", &[("a.txt", "a\n")]);
    a.commit_files("subject-of-a", &[("a.txt", "a\nmore\n")]);
    let b = TestRepo::new();
    b.commit_files("base of b", &[("b.txt", "b\n")]);
    b.commit_files("subject-of-b", &[("b.txt", "b\nmore\n")]);
    (a, b)
}

/// Asserts a successful `--plan` of `b`'s last commit, not `a`'s.
fn assert_plan_of_b(out: &Output, b: &TestRepo) {
    let (stdout, stderr) = text(out);
    assert_eq!(code(out), 0, "{stdout}{stderr}");
    let head = b.rev("HEAD");
    assert!(
        stdout.contains(&head[..12]) && stdout.contains("subject-of-b"),
        "the plan is of the repository GIT_DIR names:\n{stdout}"
    );
    assert!(!stdout.contains("subject-of-a"), "{stdout}");
}

// ---------------------------------------------------------------------------
// Repository discovery

#[test]
fn git_dir_environment_selects_the_repository_to_review() {
    let (a, b) = two_repos();
    let home = a.scratch();
    let out = bin(
        &a.path,
        &home,
        &["--plan", "HEAD"],
        &[("GIT_DIR", &b.path.join(".git"))],
    );
    assert_plan_of_b(&out, &b);

    // A relative GIT_DIR is taken from `-C`, as `git -C DIR` would.
    let b_path = b.path.to_str().unwrap();
    let out = bin(
        &a.path,
        &home,
        &["-C", b_path, "--plan", "HEAD"],
        &[("GIT_DIR", Path::new(".git"))],
    );
    assert_plan_of_b(&out, &b);

    // A GIT_DIR that is no repository is a git error naming the variable.
    let nowhere = home.join("not-a-repo");
    std::fs::create_dir_all(&nowhere).unwrap();
    let out = bin(
        &a.path,
        &home,
        &["--plan", "HEAD"],
        &[("GIT_DIR", &nowhere)],
    );
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 3, "{stderr}");
    assert!(
        stderr.contains("GIT_DIR") && stderr.contains(nowhere.to_str().unwrap()),
        "{stderr}"
    );
}

#[test]
fn git_git_dir_option_reaches_the_subcommand() {
    let (a, b) = two_repos();
    let home = a.scratch();
    // `git deep-review` finds `git-deep-review` on PATH, like an installed one.
    let bin_dir = home.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(BIN, bin_dir.join("git-deep-review")).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.clone()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let git_dir = format!("--git-dir={}", b.path.join(".git").display());
    let out = isolated("git", &a.path, &home)
        .env("PATH", &path)
        .args([git_dir.as_str(), "deep-review", "--plan", "HEAD"])
        .output()
        .unwrap();
    assert_plan_of_b(&out, &b);
}

#[test]
fn ceiling_directories_stop_the_search_for_a_repository() {
    let (a, _b) = two_repos();
    let home = a.scratch();
    let sub = a.path.join("sub/dir");
    std::fs::create_dir_all(&sub).unwrap();
    let out = bin(&sub, &home, &["--plan", "HEAD"], &[]);
    assert_eq!(code(&out), 0, "{:?}", text(&out));

    let out = bin(
        &sub,
        &home,
        &["--plan", "HEAD"],
        &[("GIT_CEILING_DIRECTORIES", &a.path)],
    );
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 3, "{stderr}");
    assert!(
        stderr.contains("not a git repository") && stderr.contains("GIT_CEILING_DIRECTORIES"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Messages that say what happened

#[test]
fn missing_dash_c_directory_is_a_usage_error_that_says_so() {
    let (a, _b) = two_repos();
    let home = a.scratch();
    let missing = home.join("no/such/dir");
    let out = bin(
        &a.path,
        &home,
        &["-C", missing.to_str().unwrap(), "--plan", "HEAD"],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot change to '{}'", missing.display()))
            && stderr.contains("no such directory"),
        "{stderr}"
    );
    assert!(!stderr.contains("not a git repository"), "{stderr}");

    let file = home.join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let out = bin(
        &a.path,
        &home,
        &["-C", file.to_str().unwrap(), "--plan", "HEAD"],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(stderr.contains("not a directory"), "{stderr}");
}

#[test]
fn inside_the_git_directory_the_repository_is_reviewed() {
    let (a, _b) = two_repos();
    let home = a.scratch();
    for dir in [a.path.join(".git"), a.path.join(".git/refs/heads")] {
        let out = bin(&dir, &home, &["--plan", "HEAD"], &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "in {}: {stdout}{stderr}", dir.display());
        assert!(stdout.contains("subject-of-a"), "{stdout}");
    }
}

#[test]
fn empty_repository_says_it_has_no_commits() {
    let r = TestRepo::new();
    let home = r.scratch();
    for args in [
        &["--plan", "HEAD"][..],
        &["--plan", "HEAD~1..HEAD"][..],
        &["--plan", "main"][..],
        &["--plan"][..],
    ] {
        let out = bin(&r.path, &home, args, &[]);
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 3, "{args:?}: {stderr}");
        assert!(stderr.contains("no commits yet"), "{args:?}: {stderr}");
        assert!(!stderr.contains("malformed"), "{args:?}: {stderr}");
    }
}

// ---------------------------------------------------------------------------
// Hook uninstall keeps an edited hook

#[test]
fn uninstall_keeps_an_edited_hook_and_never_overwrites_a_kept_one() {
    let r = TestRepo::new();
    r.commit_files("one", &[("f", "x\n")]);
    let home = r.scratch();
    let hooks = r.path.join(".git/hooks");
    let hook = hooks.join(HOOK_NAME);
    let kept = hooks.join(EDITED_NAME);

    // Untouched: removed, nothing kept.
    let out = bin(&r.path, &home, &["hook", "install"], &[]);
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let out = bin(&r.path, &home, &["hook", "uninstall"], &[]);
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert!(!hook.exists() && !kept.exists());

    // Edited: moved aside with its bytes and mode, and the user is told.
    let out = bin(&r.path, &home, &["hook", "install"], &[]);
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let mut edited = std::fs::read_to_string(&hook).unwrap();
    edited.push_str("\n# my own addition\necho extra-check\n");
    std::fs::write(&hook, &edited).unwrap();
    let out = bin(&r.path, &home, &["hook", "uninstall"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
    assert!(!hook.exists(), "the edited hook no longer runs");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), edited);
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(
        stdout.contains("edited") && stdout.contains(kept.to_str().unwrap()),
        "{stdout}"
    );

    // Again, with the kept name taken: the earlier copy is not replaced.
    let exe = Path::new("/opt/git-deep-review");
    install_in(&hooks, exe, false, false).unwrap();
    let second = format!("{}echo second\n", std::fs::read_to_string(&hook).unwrap());
    std::fs::write(&hook, &second).unwrap();
    let report = uninstall_in(&hooks).unwrap();
    let other = report.kept_edited.clone().expect("kept");
    assert_ne!(other, kept);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), edited);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), second);
    assert!(!hook.exists());
}

#[test]
fn an_untouched_hook_is_removed_whatever_its_binary_path() {
    let r = TestRepo::new();
    let hooks = r.path.join(".git/hooks");
    for exe in ["/opt/it's here/git-deep-review'", "/a b/'x'", "/plain"] {
        install_in(&hooks, Path::new(exe), true, false).unwrap();
        let report = uninstall_in(&hooks).unwrap();
        assert!(
            report.removed && report.kept_edited.is_none(),
            "{exe}: {report}"
        );
        assert!(!hooks.join(HOOK_NAME).exists() && !hooks.join(EDITED_NAME).exists());
    }
}

#[test]
fn reinstall_keeps_an_edited_hook_and_uninstall_still_restores_the_chained_one() {
    let r = TestRepo::new();
    let hooks = r.path.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let hook = hooks.join(HOOK_NAME);
    let theirs = "#!/bin/sh\necho theirs\n";
    std::fs::write(&hook, theirs).unwrap();
    let exe = Path::new("/opt/git-deep-review");
    install_in(&hooks, exe, false, false).unwrap();
    let edited = format!("{}echo tweak\n", std::fs::read_to_string(&hook).unwrap());
    std::fs::write(&hook, &edited).unwrap();

    let report = install_in(&hooks, exe, false, false).unwrap();
    assert!(!report.unchanged);
    let kept = hooks.join(EDITED_NAME);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), edited);
    assert!(
        report.notes.iter().any(|n| n.contains("edited")),
        "{report}"
    );

    std::fs::write(&hook, &edited).unwrap();
    let report = uninstall_in(&hooks).unwrap();
    assert!(report.restored);
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);
    let other = report.kept_edited.expect("kept again");
    assert_eq!(std::fs::read_to_string(other).unwrap(), edited);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), edited);
}

// ---------------------------------------------------------------------------
// DEEP_REVIEW=skip skips our review, not the user's hooks

fn git_ok(dir: &Path, home: &Path, args: &[&str]) {
    let out = isolated("git", dir, home).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bare remote and a clone with one pushed commit; returns (tmp, work, home).
fn pushable() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let remote = tmp.path().join("remote.git");
    let work = tmp.path().join("work");
    let (remote_s, work_s) = (remote.to_str().unwrap(), work.to_str().unwrap());
    git_ok(
        tmp.path(),
        &home,
        &["init", "-q", "--bare", "-b", "main", remote_s],
    );
    git_ok(tmp.path(), &home, &["clone", "-q", remote_s, work_s]);
    git_ok(&work, &home, &["config", "user.name", "Test"]);
    git_ok(&work, &home, &["config", "user.email", "test@example.com"]);
    git_ok(&work, &home, &["checkout", "-q", "-b", "main"]);
    std::fs::write(work.join("README.md"), "hello\n").unwrap();
    git_ok(&work, &home, &["add", "README.md"]);
    git_ok(&work, &home, &["commit", "-q", "-m", "initial"]);
    git_ok(&work, &home, &["push", "-q", "origin", "main"]);
    (tmp, work, home)
}

#[test]
fn deep_review_skip_still_runs_the_users_chained_hook() {
    let (_tmp, work, home) = pushable();
    let hooks = work.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let log = home.join("user-hook.log");
    let user_hook = hooks.join(HOOK_NAME);
    std::fs::write(
        &user_hook,
        "#!/bin/sh\necho \"user hook ran: $1\" >> \"$USER_HOOK_LOG\"\nexit \"${USER_HOOK_EXIT:-0}\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&user_hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = bin(&work, &home, &["hook", "install"], &[]);
    assert_eq!(code(&out), 0, "{:?}", text(&out));

    std::fs::write(work.join("a.txt"), "a\n").unwrap();
    git_ok(&work, &home, &["add", "a.txt"]);
    git_ok(&work, &home, &["commit", "-q", "-m", "a"]);
    let push = |exit: &str| {
        isolated("git", &work, &home)
            .args(["push", "-q", "origin", "main"])
            .env("DEEP_REVIEW", "skip")
            .env("USER_HOOK_LOG", &log)
            .env("USER_HOOK_EXIT", exit)
            .output()
            .unwrap()
    };

    // The user's hook refuses: the bypass of our review does not override it.
    let out = push("1");
    assert!(!out.status.success(), "{:?}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "user hook ran: origin\n"
    );

    // The user's hook passes: it ran, our review was skipped, the push went.
    let out = push("0");
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "user hook ran: origin\nuser hook ran: origin\n"
    );
}

// ---------------------------------------------------------------------------
// Models directory and verification

#[test]
fn models_dir_variable_naming_a_file_is_a_model_error_naming_it() {
    let (a, _b) = two_repos();
    let home = a.scratch();
    let file = home.join("models-file");
    std::fs::write(&file, "not a directory").unwrap();
    for args in [&["models"][..], &["HEAD"][..]] {
        let out = bin(
            &a.path,
            &home,
            args,
            &[("GIT_DEEP_REVIEW_MODELS_DIR", &file)],
        );
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 4, "{args:?}: {stderr}");
        assert!(
            stderr.contains("GIT_DEEP_REVIEW_MODELS_DIR")
                && stderr.contains(file.to_str().unwrap())
                && stderr.contains("not a directory"),
            "{args:?}: {stderr}"
        );
    }
}

const SMOL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

fn bundled_models() -> PathBuf {
    let dir = std::env::var_os("GIT_DEEP_REVIEW_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/main/models"));
    assert!(
        dir.join(SMOL).is_file(),
        "{} is missing: set GIT_DEEP_REVIEW_MODELS_DIR to the bundled models",
        dir.join(SMOL).display()
    );
    dir
}

#[test]
fn model_edited_in_place_with_its_mtime_restored_is_hashed_again() {
    let bundled = bundled_models();
    let r = TestRepo::new();
    r.commit_files("base", &[("lib.rs", "fn a() {}\n")]);
    r.commit_files("change", &[("lib.rs", "fn a() {}\nfn b() -> u8 { 1 }\n")]);
    std::fs::write(
        r.path.join(".deep-review.toml"),
        "[[reviewer]]\nname = \"only\"\nmodel = \"smollm2-135m\"\nprompt = \"correctness.md\"\n\n[gate]\nmin_agreement = 1\n",
    )
    .unwrap();
    std::fs::write(r.path.join(".git/info/exclude"), ".deep-review.toml\n").unwrap();
    let home = r.scratch();
    let models = home.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let model = models.join(SMOL);
    std::fs::copy(bundled.join(SMOL), &model).unwrap();
    let env = [("GIT_DEEP_REVIEW_MODELS_DIR", models.as_path())];

    let listing = |r: &TestRepo| {
        let out = bin(&r.path, &home, &["models"], &env);
        assert_eq!(code(&out), 0, "{:?}", text(&out));
        let stdout = text(&out).0;
        let smol = stdout
            .split("\n\n")
            .find(|block| block.contains(SMOL))
            .unwrap_or_else(|| panic!("{stdout}"))
            .to_string();
        smol
    };

    // Verify the copy (and remember it) where the binary keeps the record.
    assert!(listing(&r).contains("verified: not yet"), "{}", listing(&r));
    let manifest = load_manifest_from(&models).unwrap();
    let entry = manifest.get("smollm2-135m").unwrap();
    let record = home.join(".cache/git-deep-review/verified.json");
    verify_model_with_cache(entry, &model, &record).unwrap();
    assert!(listing(&r).contains("verified: yes"), "{}", listing(&r));

    // Flip one byte at the end of the tensor data (the GGUF still parses)
    // and put the modification time back.
    let before = std::fs::metadata(&model).unwrap().modified().unwrap();
    {
        use std::io::{Read, Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&model)
            .unwrap();
        let at = f.seek(SeekFrom::End(-1)).unwrap();
        let mut byte = [0u8];
        f.read_exact(&mut byte).unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&[byte[0] ^ 0x01]).unwrap();
        f.set_modified(before).unwrap();
    }
    assert_eq!(
        std::fs::metadata(&model).unwrap().modified().unwrap(),
        before
    );

    let smol = listing(&r);
    assert!(!smol.contains("verified: yes"), "{smol}");
    let out = bin(
        &r.path,
        &home,
        &["HEAD", "--no-cache", "-o", "-", "--format", "json"],
        &env,
    );
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 4, "{stderr}");
    assert!(
        stderr.contains("sha256 mismatch") && stderr.contains(SMOL),
        "{stderr}"
    );
}

#[test]
fn plan_refuses_an_unknown_reviewer_like_a_review_would() {
    let r = TestRepo::new();
    r.commit_files("one", &[("a.py", "x = 1\n")]);
    r.commit_files("two", &[("a.py", "x = 2\n")]);
    for extra in [&["--plan"][..], &[][..]] {
        let mut args = vec!["HEAD~1..HEAD", "--reviewer", "nobody"];
        args.extend_from_slice(extra);
        let out = r.deep_review(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("no reviewer named 'nobody'") && err.contains("correctness"),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------
// Options before a subcommand

/// Global options may come before a subcommand, as with git
/// (`git deep-review --no-pager config`, `-C DIR models`): they used to make
/// the subcommand's name read as a range ("unknown revision `config`").
/// Review options there are refused, naming them, instead of being ignored.
#[test]
fn global_options_before_a_subcommand_apply_to_it_and_review_options_are_refused() {
    let (a, b) = two_repos();
    let home = a.scratch();
    let b_dir = b.path.to_str().unwrap().to_string();
    for args in [
        vec!["--no-pager", "config"],
        vec!["-P", "--color", "never", "config"],
        vec!["-C", b_dir.as_str(), "config"],
        vec!["-q", "config"],
    ] {
        let out = bin(&a.path, &home, &args, &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "{args:?}: {stdout}{stderr}");
        assert!(
            stdout.contains("# configuration files"),
            "{args:?} ran `config`: {stdout}"
        );
    }
    for (args, named) in [
        (vec!["--plan", "config"], "--plan"),
        (
            vec!["--gate", "-P", "--format", "json", "models"],
            "--format, --gate",
        ),
        (vec!["HEAD", "config"], "RANGE"),
    ] {
        let out = bin(&a.path, &home, &args, &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 2, "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(named) && stderr.contains("option of the review"),
            "{args:?}: {stderr}"
        );
    }
}
