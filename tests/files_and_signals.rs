//! Issue 29, "Files" and "Signals and messages": backups are never
//! destroyed, the manifest keeps its mode, a model name is a name, one bad
//! manifest entry does not block the rest, a model path must be a regular
//! file (checked before anything opens it, so nothing hangs), a refused
//! endpoint says why where the user is, and a read-only `.git` still gets
//! its review printed. Everything runs the real binary on throw-away
//! repositories; the runs that could hang are killed after a deadline.

mod common;

use common::models::SMOL_FILE;
use common::repo::TestRepo;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd` and fails the test (after killing it) if it has not ended
/// within `secs`: a regression that makes it wait forever must not hang
/// the suite.
fn run_within(cmd: &mut Command, secs: u64) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start git-deep-review");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child
            .try_wait()
            .expect("wait for git-deep-review")
            .is_some()
        {
            return child.wait_with_output().expect("collect output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "still running after {secs} s (killed): {:?}\nstderr: {}",
                cmd,
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A repository with one reviewable commit on top of a first one.
fn two_commits() -> TestRepo {
    let r = TestRepo::new();
    r.write("src/lib.rs", "pub fn one() -> u32 {\n    1\n}\n");
    r.commit("first");
    r.write(
        "src/lib.rs",
        "pub fn one() -> u32 {\n    1\n}\n\npub fn two() -> u32 {\n    2\n}\n",
    );
    r.commit("second");
    r
}

/// A models directory of the test's own (its `manifest.toml` is what the
/// test writes), in the repository's scratch space.
fn models_dir(r: &TestRepo, manifest: &str) -> PathBuf {
    let d = r.scratch().join("models");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("manifest.toml"), manifest).unwrap();
    d
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The user's own configuration file (not the repository's), naming
/// `model` for one reviewer and no lead.
fn user_config(r: &TestRepo, model: &str) {
    let d = r.scratch().join(".config").join("git-deep-review");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("config.toml"),
        format!(
            "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"{model}\"\nprompt = \"correctness.md\"\n"
        ),
    )
    .unwrap();
}

// --- 1. init --force never destroys a backup -------------------------------

#[test]
fn init_force_keeps_every_earlier_file_under_a_free_backup_name() {
    let r = two_commits();
    let cfg = r.path.join(".deep-review.toml");
    let mut firsts = Vec::new();
    for (i, mine) in ["# my first settings\n", "# my second settings\n"]
        .iter()
        .enumerate()
    {
        std::fs::write(&cfg, mine).unwrap();
        let out = run_within(&mut r.deep_review(&["init", "--force"]), 60);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        let bak = match i {
            0 => r.path.join(".deep-review.toml.bak"),
            n => r.path.join(format!(".deep-review.toml.bak.{n}")),
        };
        assert!(
            said.contains(&format!("{}\n", bak.file_name().unwrap().to_string_lossy())),
            "init says where the old file went ({}): {said}",
            bak.display()
        );
        firsts.push(bak);
    }
    assert_eq!(
        std::fs::read_to_string(&firsts[0]).unwrap(),
        "# my first settings\n",
        "the first backup is still there"
    );
    assert_eq!(
        std::fs::read_to_string(&firsts[1]).unwrap(),
        "# my second settings\n"
    );
    assert!(std::fs::read_to_string(&cfg)
        .unwrap()
        .contains("[[reviewer]]"));
}

#[test]
fn hook_install_force_never_renames_over_an_earlier_backup() {
    use git_deep_review::hook::{install_in, CHAINED_NAME};
    let r = two_commits();
    let hooks = r.path.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("pre-push"), "#!/bin/sh\necho mine\n").unwrap();
    std::fs::write(hooks.join(CHAINED_NAME), "#!/bin/sh\necho chained\n").unwrap();
    // Backups an earlier forced install made this very second (and the
    // next few, should the clock tick meanwhile).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let earlier: Vec<PathBuf> = (now..now + 5)
        .map(|t| hooks.join(format!("pre-push.deep-review-backup-{t}")))
        .collect();
    for p in &earlier {
        std::fs::write(p, "#!/bin/sh\necho earlier\n").unwrap();
    }
    let report = install_in(&hooks, Path::new("/x/git-deep-review"), false, true).unwrap();
    for p in &earlier {
        assert_eq!(
            std::fs::read_to_string(p).unwrap(),
            "#!/bin/sh\necho earlier\n",
            "{} was replaced",
            p.display()
        );
    }
    let kept: Vec<PathBuf> = std::fs::read_dir(&hooks)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("echo mine")))
        .collect();
    assert_eq!(kept.len(), 1, "the replaced hook is kept once: {kept:?}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains(&kept[0].display().to_string())),
        "{report}"
    );
}

// --- 2. the manifest keeps its mode ----------------------------------------

#[test]
fn models_add_and_remove_keep_the_manifests_mode() {
    let r = two_commits();
    let dir = models_dir(&r, "# my models\n");
    let manifest = dir.join("manifest.toml");
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o640)).unwrap();
    let smol = common::models::dir().join(SMOL_FILE);
    let mut add = r.deep_review(&["models", "add", smol.to_str().unwrap(), "--name", "mine"]);
    add.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
    let out = run_within(&mut add, 120);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&manifest), 0o640, "models add kept the mode");
    let mut rm = r.deep_review(&["models", "remove", "mine"]);
    rm.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
    let out = run_within(&mut rm, 60);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&manifest), 0o640, "models remove kept the mode");
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), "# my models\n");
}

// --- 3. a model name is a name; a bad entry does not block the rest ----------

#[test]
fn a_model_name_is_a_name_not_a_path() {
    let r = two_commits();
    let dir = models_dir(&r, "# my models\n");
    let smol = common::models::dir().join(SMOL_FILE);
    for bad in [
        "../../evil",
        "a/b",
        "a\\b",
        "..",
        "-rf",
        "tab\there",
        "bell\u{7}",
        " ",
    ] {
        let name_arg = format!("--name={bad}");
        let mut add = r.deep_review(&["models", "add", smol.to_str().unwrap(), &name_arg]);
        add.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
        let out = run_within(&mut add, 60);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?} was accepted: {err}");
        assert!(
            err.contains("--name"),
            "{bad:?}: says what to change: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("manifest.toml")).unwrap(),
        "# my models\n",
        "nothing was added"
    );
}

#[test]
fn one_bad_manifest_entry_is_reported_and_the_rest_still_works() {
    let r = two_commits();
    let smol = common::models::dir().join(SMOL_FILE);
    let bad = "# a server\n[[model]]\nname = \"team\"\nendpoint = \"http://someone:hunter2@127.0.0.1:9/v1\"\n";
    let good = format!(
        "\n[[model]]\nname = \"good\"\nfile = \"{}\"\n",
        smol.display()
    );
    let dir = models_dir(&r, &format!("{bad}{good}"));
    let manifest = dir.join("manifest.toml");

    let mut list = r.deep_review(&["models"]);
    list.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
    let out = run_within(&mut list, 60);
    let err = text(&out.stderr);
    assert!(out.status.success(), "the list still works: {err}");
    assert!(text(&out.stdout).contains("good"), "{}", text(&out.stdout));
    assert!(
        err.contains("warning")
            && err.contains("team")
            && err.contains(&manifest.display().to_string()),
        "the bad entry is named, with the file it is in: {err}"
    );
    assert!(
        !err.contains("hunter2"),
        "a password is never echoed: {err}"
    );

    let mut rm = r.deep_review(&["models", "remove", "good"]);
    rm.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
    let out = run_within(&mut rm, 60);
    let err = text(&out.stderr);
    assert!(out.status.success(), "removing the good entry works: {err}");
    assert!(err.contains("team"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        bad,
        "the bad entry is left as the user wrote it"
    );
}

// --- 4. a model path must be a regular file ----------------------------------

#[test]
fn a_model_path_that_is_not_a_regular_file_is_refused_without_waiting() {
    let r = two_commits();
    let fifo = r.scratch().join("model.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let dir = r.scratch().join("a-directory.gguf");
    std::fs::create_dir_all(&dir).unwrap();
    let link = r.scratch().join("link-to-fifo.gguf");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for (path, says) in [
        (fifo.clone(), "FIFO"),
        (link.clone(), "FIFO"),
        (PathBuf::from("/dev/zero"), "device"),
        (dir.clone(), "directory"),
    ] {
        let p = path.to_str().unwrap();
        for args in [
            vec!["--model", p, "HEAD~1..HEAD"],
            vec!["models", "add", p, "--name", "x"],
        ] {
            let mut cmd = r.deep_review(&args);
            let out = run_within(&mut cmd, 20);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(4), "{args:?}: {err}");
            assert!(
                err.contains(says) && err.contains(p) && err.contains("regular file"),
                "{args:?}: says what the path is: {err}"
            );
        }
    }
}

// --- 5. a refused endpoint says why where the user is -------------------------

#[test]
fn an_endpoint_with_credentials_says_why_in_the_review() {
    let r = two_commits();
    // Nothing may connect here: the URL is refused before anything is sent.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = models_dir(
        &r,
        &format!(
            "[[model]]\nname = \"team\"\nendpoint = \"http://someone:hunter2@127.0.0.1:{port}/v1\"\n"
        ),
    );
    user_config(&r, "team");
    for args in [
        vec!["HEAD~1..HEAD"],
        vec!["--model", "team", "HEAD~1..HEAD"],
    ] {
        let mut cmd = r.deep_review(&args);
        cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
        let out = run_within(&mut cmd, 60);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for must in [
            "team",
            "credentials",
            &format!("127.0.0.1:{port}"),
            "api_key_env",
            &dir.join("manifest.toml").display().to_string(),
        ] {
            assert!(
                err.contains(must),
                "{args:?}: the message names {must:?}: {err}"
            );
        }
        assert!(!err.contains("not in the model manifest"), "{err}");
        assert!(
            !err.contains("hunter2"),
            "a password is never echoed: {err}"
        );
    }
    // A URL given directly says the same, without echoing the password.
    let url = format!("http://someone:hunter2@127.0.0.1:{port}/v1");
    let mut cmd = r.deep_review(&["--model", &url, "HEAD~1..HEAD"]);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
    let out = run_within(&mut cmd, 60);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("credentials") && err.contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "a password is never echoed: {err}"
    );
    assert!(
        listener.accept().is_err(),
        "nothing connected to the endpoint"
    );
}

// --- 6. a read-only .git still gets its review printed ------------------------

/// How this test makes `.git` read-only: as root chmod stops nothing, so a
/// read-only bind mount in a user and mount namespace of its own.
enum ReadOnly {
    Chmod,
    BindMount,
}

fn read_only_way(r: &TestRepo) -> Option<ReadOnly> {
    let uid = Command::new("id").arg("-u").output().unwrap();
    if text(&uid.stdout).trim() != "0" {
        return Some(ReadOnly::Chmod);
    }
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c"])
        .arg("mount --bind .git .git && mount -o remount,bind,ro .git && ! touch .git/probe 2>/dev/null")
        .current_dir(&r.path)
        .status();
    match probe {
        Ok(s) if s.success() => Some(ReadOnly::BindMount),
        _ => None,
    }
}

/// Our binary with `args` on `r` with its `.git` read-only.
fn run_read_only(r: &TestRepo, how: &ReadOnly, args: &[&str]) -> Output {
    read_only_run(&r.path, how, &r.deep_review(args))
}

/// Runs `cmd` (in the work tree `work`) with `work/.git` read-only.
fn read_only_run(work: &Path, how: &ReadOnly, cmd: &Command) -> Output {
    let mut wrapped = match how {
        ReadOnly::Chmod => {
            let mut c = Command::new(cmd.get_program());
            c.args(cmd.get_args());
            c
        }
        ReadOnly::BindMount => {
            let mut c = Command::new("unshare");
            c.args(["-rm", "sh", "-c"])
                .arg("mount --bind .git .git && mount -o remount,bind,ro .git && exec \"$@\"")
                .arg("sh")
                .arg(cmd.get_program())
                .args(cmd.get_args());
            c
        }
    };
    wrapped.env_clear().current_dir(work);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    let git = work.join(".git");
    let chmod = |m: &str| {
        assert!(Command::new("chmod")
            .args(["-R", m])
            .arg(&git)
            .status()
            .unwrap()
            .success())
    };
    if let ReadOnly::Chmod = how {
        chmod("a-w");
    }
    let out = run_within(&mut wrapped, 120);
    if let ReadOnly::Chmod = how {
        chmod("u+w");
    }
    out
}

#[test]
fn a_read_only_git_dir_still_prints_the_review_and_says_what_was_not_written() {
    let r = two_commits();
    let Some(how) = read_only_way(&r) else {
        println!(
            "skipped: running as root and no read-only bind mount is possible here \
             (unshare -rm failed), so .git cannot be made read-only"
        );
        return;
    };
    user_config(&r, "standin:marker");
    // A first review (writable) creates the cache and the report directory,
    // so the read-only runs meet existing directories they cannot write.
    let out = run_within(&mut r.deep_review(&["HEAD~1..HEAD"]), 120);
    assert!(out.status.success(), "{}", text(&out.stderr));
    r.write(
        "src/lib.rs",
        "pub fn one() -> u32 {\n    1\n}\n\npub fn three() -> u32 {\n    3\n}\n",
    );
    r.commit("third");

    // The report cannot be written: the review is still printed (the report
    // itself on stdout, the summary after it), then exit 5.
    let out = run_read_only(&r, &how, &["HEAD~1..HEAD"]);
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(5),
        "stdout: {stdout}\nstderr: {err}"
    );
    assert!(
        stdout.contains("# Deep Review"),
        "the report is printed: {stdout}\n{err}"
    );
    assert!(
        stdout.contains("src/lib.rs"),
        "the new change's report: {stdout}"
    );
    assert!(
        err.contains("review cache") && err.contains("could not write"),
        "the cache is named: {err}"
    );
    assert!(
        err.contains("could not write the report") && err.contains("deep-review/reports"),
        "the report and where: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // A report to an allowed path: only the cache failed, so the exit code
    // is the review's.
    let report = r.scratch().join("review.md");
    let out = run_read_only(&r, &how, &["HEAD~1..HEAD", "-o", report.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("review cache") && err.contains("could not write"),
        "the cache is named: {err}"
    );
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("# Deep Review"));
}

#[test]
fn a_read_only_git_dir_in_the_hook_shows_the_review_then_refuses_the_push() {
    use git_deep_review::hook::install_in;
    let s = common::repo::Remote::new();
    let Some(how) = read_only_way(&s.work) else {
        println!(
            "skipped: running as root and no read-only bind mount is possible here \
             (unshare -rm failed), so .git cannot be made read-only"
        );
        return;
    };
    user_config(&s.work, "standin:marker");
    install_in(
        &s.work.path.join(".git/hooks"),
        Path::new(common::repo::BIN),
        false,
        false,
    )
    .unwrap();
    let tip = s.tip("main");
    s.work.commit_files(
        "two",
        &[("src/lib.rs", "pub fn two() -> u32 {\n    2\n}\n")],
    );
    let out = read_only_run(
        &s.work.path,
        &how,
        &s.work.command(&["push", "-q", "origin", "main"]),
    );
    let err = text(&out.stderr);
    assert!(!out.status.success(), "the push is refused: {err}");
    assert_eq!(s.tip("main"), tip, "nothing was pushed");
    assert!(
        err.contains("critical,") && err.contains("suggestion"),
        "the review's summary is shown: {err}"
    );
    assert!(
        err.contains("could not write the review's report") && err.contains("deep-review/reports"),
        "{err}"
    );
    assert!(err.contains("review cache"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
