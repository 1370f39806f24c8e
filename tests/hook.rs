//! The pre-push hook: install/uninstall/status on real repositories, the
//! template's chaining through real `git push`es, and the pre-push
//! protocol (which range is reviewed for which push).

use git_deep_review::check::consolidate::ConsolidatedFinding;
use git_deep_review::check::findings::Severity;
use git_deep_review::check::findings::{Issue, Kind};
use git_deep_review::config::{OnTimeout, Settings};
use git_deep_review::gate::ReviewFacts;
use git_deep_review::hook::{
    install_in, pre_commit_input, pre_push, status_in, uninstall_in, HookState, ReviewRequest,
    CHAINED_NAME,
};
use git_deep_review::Error;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

mod common;
use common::repo::succeeded as ok;
use common::repo::{Remote, TestRepo};

fn setup() -> Remote {
    Remote::new()
}

fn write_script(path: &Path, body: &str, mode: u32) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

// ---------------------------------------------------------------------------
// install / uninstall / status

#[test]
fn install_writes_an_executable_hook_and_is_idempotent() {
    let s = setup();
    let hooks = s.work.path.join(".git/hooks");
    let exe = Path::new("/opt/it's here/git-deep-review");
    let r1 = install_in(&hooks, exe, false, false).unwrap();
    assert!(!r1.unchanged);
    assert_eq!(r1.chained, None);
    let hook = hooks.join("pre-push");
    let first = std::fs::read(&hook).unwrap();
    assert_eq!(mode_of(&hook) & 0o111, 0o111);
    let r2 = install_in(&hooks, exe, false, false).unwrap();
    assert!(r2.unchanged, "second install is a no-op");
    assert_eq!(std::fs::read(&hook).unwrap(), first);
    assert!(
        !hooks.join(CHAINED_NAME).exists(),
        "our own hook is never chained to itself"
    );
    match status_in(&hooks, None).hook {
        HookState::DeepReview {
            exe: e,
            exe_found,
            global,
            executable,
        } => {
            assert_eq!(
                e,
                exe.to_str().unwrap(),
                "a quote in the path survives shell quoting"
            );
            assert!(!exe_found);
            assert!(!global);
            assert!(executable);
        }
        other => panic!("unexpected status {other:?}"),
    }
    let r = uninstall_in(&hooks).unwrap();
    assert!(r.removed && !r.restored);
    assert!(!hook.exists());
    assert_eq!(status_in(&hooks, None).hook, HookState::Absent);
}

#[test]
fn existing_hook_is_chained_and_restored_byte_and_mode_identical() {
    let s = setup();
    let hooks = s.work.path.join(".git/hooks");
    let original = b"#!/bin/sh\n# the team's own checks\nexit 0\n\xff\xfe binary tail\n";
    let hook = hooks.join("pre-push");
    std::fs::write(&hook, original).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o750)).unwrap();

    let r = install_in(&hooks, Path::new("/usr/bin/git-deep-review"), false, false).unwrap();
    assert_eq!(
        r.chained.as_deref(),
        Some(hooks.join(CHAINED_NAME).as_path())
    );
    assert_eq!(std::fs::read(hooks.join(CHAINED_NAME)).unwrap(), original);
    let st = status_in(&hooks, None);
    assert!(matches!(st.hook, HookState::DeepReview { .. }));
    assert!(st.chained.is_some());
    assert!(st.to_string().contains("chained hook"), "{st}");

    // Installing again must not chain our own hook over the original.
    install_in(&hooks, Path::new("/usr/bin/git-deep-review"), false, false).unwrap();
    assert_eq!(std::fs::read(hooks.join(CHAINED_NAME)).unwrap(), original);

    let u = uninstall_in(&hooks).unwrap();
    assert!(u.removed && u.restored);
    assert_eq!(std::fs::read(&hook).unwrap(), original);
    assert_eq!(mode_of(&hook), 0o750);
    assert!(!hooks.join(CHAINED_NAME).exists());
    // Uninstalling again leaves the team's hook alone.
    let u = uninstall_in(&hooks).unwrap();
    assert!(!u.removed && !u.restored);
    assert_eq!(std::fs::read(&hook).unwrap(), original);
}

#[test]
fn symlinked_hook_is_restored_as_the_same_symlink() {
    let s = setup();
    let hooks = s.work.path.join(".git/hooks");
    let target = s.work.path.join("tools-pre-push.sh");
    write_script(&target, "#!/bin/sh\nexit 0\n", 0o755);
    std::os::unix::fs::symlink(&target, hooks.join("pre-push")).unwrap();
    install_in(&hooks, Path::new("/x/git-deep-review"), false, false).unwrap();
    uninstall_in(&hooks).unwrap();
    assert_eq!(std::fs::read_link(hooks.join("pre-push")).unwrap(), target);
}

#[test]
fn refuses_to_lose_a_hook_unless_forced() {
    let s = setup();
    let hooks = s.work.path.join(".git/hooks");
    std::fs::write(hooks.join("pre-push"), "#!/bin/sh\necho mine\n").unwrap();
    std::fs::write(hooks.join(CHAINED_NAME), "#!/bin/sh\necho older\n").unwrap();
    let err = install_in(&hooks, Path::new("/x/gdr"), false, false).unwrap_err();
    assert!(
        matches!(&err, Error::Usage(m) if m.contains("--force")),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    let r = install_in(&hooks, Path::new("/x/gdr"), false, true).unwrap();
    assert!(r.notes.iter().any(|n| n.contains("backup")), "{r}");
    let backups: Vec<_> = std::fs::read_dir(&hooks)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("pre-push.deep-review-backup-")
        })
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(
        std::fs::read_to_string(backups[0].path()).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
}

#[test]
fn core_hooks_path_is_respected() {
    let s = setup();
    s.work.git(&["config", "core.hooksPath", ".githooks"]);
    let repo = gix::open(&s.work.path).unwrap();
    let (dir, configured) = git_deep_review::hook::hooks_dir(&repo).unwrap();
    assert_eq!(dir, s.work.path.join(".githooks"));
    assert_eq!(configured, Some(PathBuf::from(".githooks")));
    let opts = git_deep_review::hook::InstallOptions {
        exe: Some(PathBuf::from("/x/gdr")),
        ..Default::default()
    };
    let r = git_deep_review::hook::install(Some(&repo), &opts).unwrap();
    assert_eq!(r.hook, s.work.path.join(".githooks/pre-push"));
    assert!(s.work.path.join(".githooks/pre-push").exists());
    assert!(!s.work.path.join(".git/hooks/pre-push").exists());
    // What git itself runs: the path `git rev-parse --git-path hooks` names.
    let git_hooks = s.work.git(&["rev-parse", "--git-path", "hooks"]);
    assert_eq!(
        s.work.path.join(git_hooks).canonicalize().unwrap(),
        dir.canonicalize().unwrap()
    );
    let st = git_deep_review::hook::status(Some(&repo), None).unwrap();
    assert!(st.to_string().contains("core.hooksPath"), "{st}");
}

// ---------------------------------------------------------------------------
// The template through real pushes, with a stand-in for the binary that
// records what it was given.

const FAKE_EXE: &str = "#!/bin/sh\necho \"exe-args: $*\" >> \"$FAKE_LOG\"\nsed 's/^/exe-stdin: /' >> \"$FAKE_LOG\"\nexit \"${FAKE_EXIT:-0}\"\n";
const CHAINED: &str = "#!/bin/sh\necho \"chained-args: $*\" >> \"$FAKE_LOG\"\nsed 's/^/chained-stdin: /' >> \"$FAKE_LOG\"\nexit \"${CHAINED_EXIT:-0}\"\n";

fn push(s: &Remote, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut a = vec!["-q"];
    a.extend_from_slice(args);
    s.push(&a, envs)
}

#[test]
fn template_chains_the_old_hook_replays_stdin_and_blocks_on_failure() {
    let s = setup();
    let hooks = s.work.path.join(".git/hooks");
    let exe = s.work.scratch().join("fake-gdr");
    write_script(&exe, FAKE_EXE, 0o755);
    write_script(&hooks.join("pre-push"), CHAINED, 0o755);
    install_in(&hooks, &exe, false, false).unwrap();
    let log = s.work.scratch().join("log");
    let log_s = log.to_str().unwrap();

    let head = s.work.commit_files("a", &[("a.txt", "a\n")]);
    let out = push(&s, &["origin", "main"], &[("FAKE_LOG", log_s)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.tip("main"), head);
    let text = std::fs::read_to_string(&log).unwrap();
    let url = s.remote.path.to_str().unwrap();
    let line = format!("refs/heads/main {head} refs/heads/main ");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("chained-args: origin {url}"), "{text}");
    assert!(
        lines[1].starts_with(&format!("chained-stdin: {line}")),
        "{text}"
    );
    assert_eq!(
        lines[2],
        format!("exe-args: hook run origin {url}"),
        "{text}"
    );
    assert!(
        lines[3].starts_with(&format!("exe-stdin: {line}")),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");

    // The reviewer blocks: the push is refused and the remote unchanged.
    std::fs::remove_file(&log).unwrap();
    let blocked = s.work.commit_files("b", &[("b.txt", "b\n")]);
    let out = push(
        &s,
        &["origin", "main"],
        &[("FAKE_LOG", log_s), ("FAKE_EXIT", "1")],
    );
    assert!(!out.status.success());
    assert_eq!(s.tip("main"), head);

    // The chained hook blocks: the reviewer does not even run.
    std::fs::remove_file(&log).unwrap();
    let out = push(
        &s,
        &["origin", "main"],
        &[("FAKE_LOG", log_s), ("CHAINED_EXIT", "3")],
    );
    assert!(!out.status.success());
    assert!(!std::fs::read_to_string(&log).unwrap().contains("exe-args"));

    // Bypasses.
    std::fs::remove_file(&log).unwrap();
    let out = push(
        &s,
        &["origin", "main"],
        &[
            ("FAKE_LOG", log_s),
            ("FAKE_EXIT", "1"),
            ("DEEP_REVIEW", "skip"),
        ],
    );
    assert!(out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("chained-args") && !text.contains("exe-args"),
        "DEEP_REVIEW=skip skips the review, not the chained hook: {text}"
    );
    assert_eq!(s.tip("main"), blocked);
    let c = s.work.commit_files("c", &[("c.txt", "c\n")]);
    let out = push(
        &s,
        &["--no-verify", "origin", "main"],
        &[("FAKE_LOG", log_s), ("FAKE_EXIT", "1")],
    );
    assert!(out.status.success());
    assert_eq!(s.tip("main"), c);

    // Uninstall restores the chained hook, which git then runs directly.
    uninstall_in(&hooks).unwrap();
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-push")).unwrap(),
        CHAINED
    );
}

#[test]
fn template_finds_the_binary_on_path_when_it_moved() {
    let s = setup();
    let hooks = s.work.path.join(".git/hooks");
    install_in(
        &hooks,
        Path::new("/nonexistent/git-deep-review"),
        false,
        false,
    )
    .unwrap();
    let bin = s.work.scratch().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(&bin.join("git-deep-review"), FAKE_EXE, 0o755);
    let log = s.work.scratch().join("log");
    s.work.commit_files("a", &[("a.txt", "a\n")]);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = push(
        &s,
        &["origin", "main"],
        &[("FAKE_LOG", log.to_str().unwrap()), ("PATH", &path)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("exe-args: hook run origin"));

    // Neither embedded nor on PATH: refuse, saying how to bypass.
    s.work.commit_files("b", &[("b.txt", "b\n")]);
    let out = push(&s, &["origin", "main"], &[("PATH", "/usr/bin:/bin")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not found") && err.contains("--no-verify"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// The pre-push protocol in-process, with a recording review closure.

fn settings() -> Settings {
    Settings::default()
}

fn zeros() -> String {
    "0".repeat(40)
}

type Calls = Vec<ReviewRequest>;

fn run(
    work: &TestRepo,
    lines: &[String],
    settings: &Settings,
    mut answer: impl FnMut(&ReviewRequest) -> ReviewFacts,
) -> (i32, Calls, String) {
    let repo = gix::open(&work.path).unwrap();
    let mut calls = Vec::new();
    let mut log = Vec::new();
    let code = pre_push(
        &repo,
        "origin",
        lines,
        settings,
        &mut |req: &ReviewRequest| {
            calls.push(req.clone());
            Ok(Some(answer(req)))
        },
        &mut log,
    )
    .unwrap();
    (code, calls, String::from_utf8(log).unwrap())
}

fn clean(_: &ReviewRequest) -> ReviewFacts {
    ReviewFacts {
        reviewers: 3,
        reviewers_ran: 3,
        ..Default::default()
    }
}

fn critical(agreement: usize) -> ReviewFacts {
    ReviewFacts {
        findings: vec![ConsolidatedFinding {
            issue: Issue {
                severity: Severity::Critical,
                kind: Kind::Regression,
                file: "a.txt".into(),
                line_start: 1,
                line_end: 1,
                title: "planted".into(),
                explanation: String::new(),
                fix: String::new(),
                quote: String::new(),
                cause: None,
            },
            unconfirmed: agreement < 2,
            reviewers: (0..agreement).map(|i| format!("r{i}")).collect(),
            agreement,
            members: Vec::new(),
            verification: None,
        }],
        reviewers: 3,
        reviewers_ran: 3,
        report: Some(PathBuf::from("/tmp/r.md")),
        ..Default::default()
    }
}

#[test]
fn update_reviews_remote_sha_to_local_sha() {
    let s = setup();
    let old = s.tip("main");
    s.work.commit_files("a", &[("a.txt", "a\n")]);
    let head = s.work.commit_files("b", &[("b.txt", "b\n")]);
    let lines = [format!("refs/heads/main {head} refs/heads/main {old}")];
    let (code, calls, _) = run(&s.work, &lines, &settings(), clean);
    assert_eq!(code, 0);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].base.map(|b| b.to_string()).as_deref(),
        Some(old.as_str())
    );
    assert_eq!(calls[0].head, head);
    // Named by short ids in messages and the report.
    assert_eq!(calls[0].spec, format!("{}..{}", &old[..7], &head[..7]));
}

#[test]
fn blocking_findings_give_exit_1_and_weak_ones_allow() {
    let s = setup();
    let old = s.tip("main");
    let head = s.work.commit_files("a", &[("a.txt", "a\n")]);
    let lines = [format!("refs/heads/main {head} refs/heads/main {old}")];
    let (code, _, log) = run(&s.work, &lines, &settings(), |_| critical(2));
    assert_eq!(code, 1);
    assert!(
        log.contains("push blocked") && log.contains("/tmp/r.md") && log.contains("--no-verify"),
        "{log}"
    );
    let (code, _, log) = run(&s.work, &lines, &settings(), |_| critical(1));
    assert_eq!(code, 0);
    assert!(log.contains("warning"), "{log}");
}

#[test]
fn new_branch_is_reviewed_from_the_merge_base_with_the_default_branch() {
    let s = setup();
    let base = s.tip("main");
    s.work.git(&["checkout", "-q", "-b", "feature"]);
    s.work.commit_files("f1", &[("f1.txt", "1\n")]);
    let head = s.work.commit_files("f2", &[("f2.txt", "2\n")]);
    let lines = [format!(
        "refs/heads/feature {head} refs/heads/feature {}",
        zeros()
    )];
    let (_, calls, _) = run(&s.work, &lines, &settings(), clean);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].base.map(|b| b.to_string()).as_deref(),
        Some(base.as_str())
    );
    assert_eq!(calls[0].head, head);
    // Through a real push too: the remote got the branch.
    let out = push(&s, &["origin", "feature"], &[]);
    assert!(out.status.success());
}

#[test]
fn new_branch_without_a_remote_default_uses_commits_not_on_any_remote_ref() {
    let s = setup();
    // No origin/HEAD, origin/main or origin/master: only origin/dev exists.
    let pushed = s.tip("main");
    s.work.git(&["push", "-q", "origin", "main:dev"]);
    s.work.git(&["fetch", "-q", "origin"]);
    s.work.git(&["remote", "set-head", "origin", "-d"]);
    s.work
        .git(&["update-ref", "-d", "refs/remotes/origin/main"]);
    s.work.commit_files("x", &[("x.txt", "x\n")]);
    let head = s.work.commit_files("y", &[("y.txt", "y\n")]);
    let lines = [format!(
        "refs/heads/topic {head} refs/heads/topic {}",
        zeros()
    )];
    let (_, calls, _) = run(&s.work, &lines, &settings(), clean);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].base.map(|b| b.to_string()).as_deref(),
        Some(pushed.as_str())
    );
    assert!(calls[0].why.contains("2 commit"), "{}", calls[0].why);
}

#[test]
fn first_push_of_a_new_history_is_reviewed_from_the_root() {
    let work = TestRepo::new();
    let head = work.commit_files("root", &[("a.txt", "a\n")]);
    let lines = [format!(
        "refs/heads/main {head} refs/heads/main {}",
        zeros()
    )];
    let (_, calls, _) = run(&work, &lines, &settings(), clean);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].base, None);
    assert_eq!(calls[0].spec, format!("(root)..{}", &head[..7]));
}

#[test]
fn deletions_tags_and_nothing_new_are_not_reviewed() {
    let s = setup();
    let tip = s.tip("main");
    let lines = [
        format!("(delete) {} refs/heads/old {tip}", zeros()),
        format!("refs/tags/v1 {tip} refs/tags/v1 {}", zeros()),
        // A new branch pointing at an already-pushed commit.
        format!("refs/heads/same {tip} refs/heads/same {}", zeros()),
    ];
    let (code, calls, log) = run(&s.work, &lines, &settings(), |_| critical(9));
    assert_eq!(code, 0);
    assert!(calls.is_empty(), "{calls:?}");
    assert!(
        log.contains("deletion") && log.contains("tag") && log.contains("no new commits"),
        "{log}"
    );

    // And through a real push: deleting a remote branch passes.
    s.work.git(&["push", "-q", "origin", "main:doomed"]);
    let out = push(&s, &["origin", ":doomed"], &[]);
    assert!(out.status.success());
}

#[test]
fn gate_off_allows_without_reviewing() {
    let s = setup();
    let old = s.tip("main");
    let head = s.work.commit_files("a", &[("a.txt", "a\n")]);
    let mut st = settings();
    st.gate.enabled = false;
    let lines = [format!("refs/heads/main {head} refs/heads/main {old}")];
    let (code, calls, log) = run(&s.work, &lines, &st, |_| critical(3));
    assert_eq!(code, 0);
    assert!(calls.is_empty());
    assert!(log.contains("gate is off"), "{log}");
}

#[test]
fn time_budget_allows_with_a_warning_by_default_and_blocks_when_configured() {
    let s = setup();
    let old = s.tip("main");
    let head = s.work.commit_files("a", &[("a.txt", "a\n")]);
    s.work.git(&["checkout", "-q", "-b", "second"]);
    let head2 = s.work.commit_files("b", &[("b.txt", "b\n")]);
    let lines = [
        format!("refs/heads/main {head} refs/heads/main {old}"),
        format!("refs/heads/second {head2} refs/heads/second {}", zeros()),
    ];
    let mut st = settings();
    st.time_budget_secs = 1;
    // The first review runs past the deadline (as the pipeline reports when
    // it stops between chunks); the second ref is then not started.
    let slow = |req: &ReviewRequest| {
        assert!(
            req.deadline <= Instant::now() + Duration::from_secs(1),
            "the deadline is the budget from the start"
        );
        std::thread::sleep(
            req.deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(20),
        );
        ReviewFacts {
            reviewers: 3,
            reviewers_ran: 3,
            not_reviewed: vec![("a.txt".into(), "the time budget ran out".into())],
            ..Default::default()
        }
    };
    let (code, calls, log) = run(&s.work, &lines, &st, slow);
    assert_eq!(code, 0);
    assert_eq!(calls.len(), 1, "no review starts after the deadline");
    assert!(
        log.contains("time budget") && log.contains("warning"),
        "{log}"
    );

    st.on_timeout = OnTimeout::Block;
    let (code, _, log) = run(&s.work, &lines, &st, slow);
    assert_eq!(code, 1);
    assert!(
        log.contains("on_timeout") && log.contains("--no-verify"),
        "{log}"
    );
}

#[test]
fn review_errors_refuse_the_push_with_bypass_help() {
    let s = setup();
    let old = s.tip("main");
    let head = s.work.commit_files("a", &[("a.txt", "a\n")]);
    let repo = gix::open(&s.work.path).unwrap();
    let mut log = Vec::new();
    let lines = [format!("refs/heads/main {head} refs/heads/main {old}")];
    let code = pre_push(
        &repo,
        "origin",
        &lines,
        &settings(),
        &mut |_| Err(Error::Model("model file missing".into())),
        &mut log,
    )
    .unwrap();
    assert_eq!(code, git_deep_review::error::EXIT_MODEL);
    let log = String::from_utf8(log).unwrap();
    assert!(
        log.contains("model file missing") && log.contains("--no-verify"),
        "{log}"
    );
    let code = pre_push(
        &repo,
        "origin",
        &lines,
        &settings(),
        &mut |_| Err(Error::Interrupted),
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(code, 130);
}

#[test]
fn malformed_input_is_an_error() {
    let s = setup();
    let repo = gix::open(&s.work.path).unwrap();
    let r = pre_push(
        &repo,
        "origin",
        &["garbage".to_string()],
        &settings(),
        &mut |_| Ok(Some(clean_outcome())),
        &mut Vec::new(),
    );
    assert!(matches!(r, Err(Error::Usage(_))));
}

fn clean_outcome() -> ReviewFacts {
    clean_facts()
}

fn clean_facts() -> ReviewFacts {
    ReviewFacts {
        reviewers: 3,
        reviewers_ran: 3,
        ..Default::default()
    }
}

#[test]
fn pre_commit_environment_becomes_protocol_lines() {
    let env = |k: &str| match k {
        "PRE_COMMIT_FROM_REF" => Some("a".repeat(40)),
        "PRE_COMMIT_TO_REF" => Some("b".repeat(40)),
        "PRE_COMMIT_LOCAL_BRANCH" => Some("refs/heads/feature".into()),
        "PRE_COMMIT_REMOTE_BRANCH" => Some("refs/heads/feature".into()),
        "PRE_COMMIT_REMOTE_NAME" => Some("upstream".into()),
        _ => None,
    };
    let (remote, lines) = pre_commit_input(&env).unwrap();
    assert_eq!(remote.as_deref(), Some("upstream"));
    assert_eq!(
        lines,
        [format!(
            "refs/heads/feature {} refs/heads/feature {}",
            "b".repeat(40),
            "a".repeat(40)
        )]
    );
    let parsed = git_deep_review::hook::parse_push_lines(&lines).unwrap();
    assert!(!parsed[0].is_new() && !parsed[0].is_delete());
    assert!(pre_commit_input(&|_| None).is_none());
}

#[test]
fn read_input_prefers_stdin_and_falls_back_to_pre_commit_env() {
    use git_deep_review::hook::read_input;
    let line = format!(
        "refs/heads/main {} refs/heads/main {}",
        "b".repeat(40),
        "a".repeat(40)
    );
    let env = |k: &str| match k {
        "PRE_COMMIT_FROM_REF" => Some("c".repeat(40)),
        "PRE_COMMIT_TO_REF" => Some("d".repeat(40)),
        "PRE_COMMIT_REMOTE_NAME" => Some("upstream".into()),
        _ => None,
    };
    let input = format!("{line}\n\n");
    let (remote, lines) = read_input(Some("origin"), &mut input.as_bytes(), &env).unwrap();
    assert_eq!((remote.as_str(), lines), ("origin", vec![line]));
    let (remote, lines) = read_input(None, &mut "".as_bytes(), &env).unwrap();
    assert_eq!(remote, "upstream");
    assert_eq!(
        lines,
        [format!("HEAD {} HEAD {}", "d".repeat(40), "c".repeat(40))]
    );
    let (_, lines) = read_input(Some("origin"), &mut "".as_bytes(), &|_| None).unwrap();
    assert!(lines.is_empty());
}

#[test]
fn global_install_still_runs_the_repositorys_own_hook() {
    let s = setup();
    let shared = s.work.scratch().join("shared-hooks");
    let exe = s.work.scratch().join("fake-gdr");
    write_script(&exe, FAKE_EXE, 0o755);
    let r = install_in(&shared, &exe, true, false).unwrap();
    assert!(r.hook.starts_with(&shared));
    // What `git config --global core.hooksPath DIR` does, scoped to this repository.
    s.work
        .git(&["config", "core.hooksPath", shared.to_str().unwrap()]);
    write_script(&s.work.path.join(".git/hooks/pre-push"), CHAINED, 0o755);
    let log = s.work.scratch().join("log");
    s.work.commit_files("a", &[("a.txt", "a\n")]);
    let out = push(
        &s,
        &["origin", "main"],
        &[("FAKE_LOG", log.to_str().unwrap())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("chained-stdin: refs/heads/main"),
        "the repository's own hook ran: {text}"
    );
    assert!(text.contains("exe-stdin: refs/heads/main"), "{text}");
    match status_in(&shared, None).hook {
        HookState::DeepReview { global, .. } => assert!(global),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ctrl_c_during_the_hook_aborts_the_push_and_leaves_no_files() {
    use std::os::unix::process::CommandExt;
    let s = setup();
    let hooks = s.work.path.join(".git/hooks");
    let exe = s.work.scratch().join("slow-gdr");
    // Stands in for a long review: announces itself, then waits.
    write_script(
        &exe,
        "#!/bin/sh\ncat >/dev/null\necho started > \"$FAKE_LOG\"\nsleep 30\n",
        0o755,
    );
    install_in(&hooks, &exe, false, false).unwrap();
    let before: Vec<_> = std::fs::read_dir(&hooks)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let tip = s.tip("main");
    s.work.commit_files("a", &[("a.txt", "a\n")]);
    let log = s.work.scratch().join("log");
    let mut push = s.work.command(&["push", "-q", "origin", "main"]);
    push.env("FAKE_LOG", &log).process_group(0);
    // SIGINT at its default, as from a terminal: a test run started in the
    // background of a non-interactive shell inherits it ignored.
    // SAFETY: signal() is async-signal-safe, as pre_exec requires.
    unsafe {
        push.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = push.spawn().unwrap();
    let t0 = Instant::now();
    while !log.exists() {
        assert!(t0.elapsed() < Duration::from_secs(20), "hook never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // What the terminal does on Ctrl-C: SIGINT to the whole foreground group.
    let pgid = child.id().to_string();
    let k = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(k.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted push must fail");
    assert!(
        t0.elapsed() < Duration::from_secs(25),
        "the push did not stop at Ctrl-C"
    );
    assert_eq!(s.tip("main"), tip, "nothing was pushed");
    let after: Vec<_> = std::fs::read_dir(&hooks)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before, after, "no files left in the hooks directory");
}

#[test]
fn requests_resolve_to_the_reviewed_range_including_from_the_root() {
    let s = setup();
    let old = s.tip("main");
    let head = s.work.commit_files("a", &[("a.txt", "a\n")]);
    let repo = gix::open(&s.work.path).unwrap();
    let lines = [format!("refs/heads/main {head} refs/heads/main {old}")];
    let (_, calls, _) = run(&s.work, &lines, &settings(), clean);
    let r = calls[0].resolve(&repo).unwrap();
    assert_eq!(
        (r.base.map(|b| b.to_string()), r.head.to_string()),
        (Some(old.clone()), head.clone())
    );

    // A brand-new history: from the empty tree, not just the tip's change.
    let fresh = TestRepo::new();
    fresh.commit_files("one", &[("a.txt", "a\n")]);
    let tip = fresh.commit_files("two", &[("b.txt", "b\n")]);
    let lines = [format!("refs/heads/main {tip} refs/heads/main {}", zeros())];
    let (_, calls, _) = run(&fresh, &lines, &settings(), clean);
    let r = calls[0].resolve(&fresh.open()).unwrap();
    assert_eq!(r.base, None);
    assert_eq!(r.head, tip);
}

// ---------------------------------------------------------------------------
// Real pushes through the real binary: `hook install` writes the hook, git
// runs it, and `hook run` reviews with the pipeline. Most of these use the
// stand-in reviewer `standin:marker`, which reports a finding on every added
// line carrying `DEEP-REVIEW-PLANT:<severity>`, so blocking does not depend
// on a tiny model's judgement; the last two run the bundled models.

const STANDIN_CONFIG: &str = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 7\n";

fn with_config(s: &Remote, toml: &str) {
    s.work.write(".deep-review.toml", toml);
    // Not part of the reviewed change.
    s.work.write(".git/info/exclude", ".deep-review.toml\n");
}

fn bin(s: &Remote, args: &[&str]) -> Output {
    s.work.deep_review(args).output().unwrap()
}

/// `git push` through the installed hook, without models (stand-ins only).
fn real_push(s: &Remote, args: &[&str], extra: &[(&str, &str)]) -> (bool, String) {
    let out = s.push(args, extra);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `git push` through the installed hook with the bundled models.
fn push_with_models(s: &Remote, args: &[&str]) -> (bool, String) {
    let models = common::models::dir();
    real_push(
        s,
        args,
        &[("GIT_DEEP_REVIEW_MODELS_DIR", models.to_str().unwrap())],
    )
}

const PLANTED: &str = "fn f() -> i32 {\n    let x = 1; // DEEP-REVIEW-PLANT:critical\n    x\n}\n";

#[test]
fn real_push_clean_passes_planted_critical_is_refused_and_bypasses_work() {
    let s = setup();
    with_config(&s, STANDIN_CONFIG);
    let out = ok(&bin(&s, &["hook", "install"]));
    assert!(out.contains("pre-push"), "{out}");
    assert!(ok(&bin(&s, &["hook", "status"])).contains("installed"));

    let clean = s.work.commit_files(
        "clean change",
        &[("src/ok.rs", "fn ok() -> i32 {\n    1\n}\n")],
    );
    let (pushed, err) = real_push(&s, &["origin", "main"], &[]);
    assert!(pushed, "a clean change passes: {err}");
    assert_eq!(s.tip("main"), clean);
    assert!(err.contains("deep-review"), "the hook ran: {err}");

    let planted = s.work.commit_files("planted", &[("src/bad.rs", PLANTED)]);
    let (pushed, err) = real_push(&s, &["origin", "main"], &[]);
    assert!(!pushed, "a confirmed critical finding blocks: {err}");
    assert_eq!(s.tip("main"), clean);
    assert!(
        err.contains("push blocked") && err.contains("src/bad.rs:2"),
        "{err}"
    );
    assert!(
        err.contains("--no-verify") && err.contains("DEEP_REVIEW=skip"),
        "{err}"
    );
    let listed = critical_findings(&report_of(&err));
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].location, "src/bad.rs:2");
    assert_eq!(listed[0].reviewers, ["first", "second"]);

    // Pushing again with nothing changed gives the same answer.
    let (pushed, _) = real_push(&s, &["origin", "main"], &[]);
    assert!(!pushed);

    // One reviewer alone is not enough agreement by default.
    with_config(
        &s,
        &STANDIN_CONFIG.replace(
            "model = \"standin:marker\"\nprompt = \"robustness.md\"",
            "model = \"standin:empty\"\nprompt = \"robustness.md\"",
        ),
    );
    let (pushed, err) = real_push(&s, &["origin", "main"], &[("DEEP_REVIEW", "")]);
    assert!(pushed, "one reviewer's critical finding only warns: {err}");
    assert_eq!(s.tip("main"), planted);
    with_config(&s, STANDIN_CONFIG);

    let c2 = s
        .work
        .commit_files("planted again", &[("src/bad2.rs", PLANTED)]);
    let (pushed, _) = real_push(&s, &["--no-verify", "origin", "main"], &[]);
    assert!(pushed);
    assert_eq!(s.tip("main"), c2);

    let c3 = s
        .work
        .commit_files("and again", &[("src/bad3.rs", PLANTED)]);
    let (pushed, _) = real_push(&s, &["origin", "main"], &[("DEEP_REVIEW", "skip")]);
    assert!(pushed);
    assert_eq!(s.tip("main"), c3);

    let c4 = s
        .work
        .commit_files("and again", &[("src/bad4.rs", PLANTED)]);
    s.work.git(&["config", "deep-review.gate", "off"]);
    let (pushed, err) = real_push(&s, &["origin", "main"], &[]);
    assert!(pushed, "{err}");
    assert_eq!(s.tip("main"), c4);
}

#[test]
fn real_push_runs_the_existing_hook_and_uninstall_restores_it() {
    let s = setup();
    with_config(&s, STANDIN_CONFIG);
    let hook = s.work.path.join(".git/hooks/pre-push");
    let log = s.work.scratch().join("team-hook.log");
    let original = format!(
        "#!/bin/sh\n# team hook\nwhile read l; do echo \"$l\" >> '{}'; done\nexit 0\n",
        log.display()
    );
    write_script(&hook, &original, 0o700);

    ok(&bin(&s, &["hook", "install"]));
    let status = ok(&bin(&s, &["hook", "status"]));
    assert!(status.contains("chained"), "{status}");
    let head = s.work.commit_files("a", &[("a.txt", "a\n")]);
    let (pushed, err) = real_push(&s, &["origin", "main"], &[]);
    assert!(pushed, "{err}");
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(
        seen.contains(&format!("refs/heads/main {head} refs/heads/main")),
        "the team's hook got git's input: {seen}"
    );

    // Its refusal still refuses the push.
    write_script(
        &s.work.path.join(".git/hooks").join(CHAINED_NAME),
        "#!/bin/sh\necho team says no >&2\nexit 1\n",
        0o700,
    );
    s.work.commit_files("b", &[("b.txt", "b\n")]);
    let (pushed, err) = real_push(&s, &["origin", "main"], &[]);
    assert!(!pushed && err.contains("team says no"), "{err}");
    write_script(
        &s.work.path.join(".git/hooks").join(CHAINED_NAME),
        &original,
        0o700,
    );

    ok(&bin(&s, &["hook", "uninstall"]));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), original);
    assert_eq!(mode_of(&hook), 0o700);
    assert!(!s.work.path.join(".git/hooks").join(CHAINED_NAME).exists());
    let status = ok(&bin(&s, &["hook", "status"]));
    assert!(status.contains("not installed"), "{status}");
}

#[test]
fn a_push_of_only_skipped_files_says_there_is_nothing_to_review() {
    let s = setup();
    with_config(&s, STANDIN_CONFIG);
    ok(&bin(&s, &["hook", "install"]));
    s.work
        .commit_files("bump the lock file", &[("Cargo.lock", "# v2\n")]);
    let (pushed, err) = real_push(&s, &["origin", "main"], &[]);
    assert!(pushed, "{err}");
    assert!(err.contains("nothing to review"), "{err}");
    // Not a claim about findings or agreement: nothing was reviewed.
    assert!(!err.contains("confirmed by"), "{err}");
}

#[test]
fn real_push_new_branch_deletion_and_tags() {
    let s = setup();
    with_config(&s, STANDIN_CONFIG);
    ok(&bin(&s, &["hook", "install"]));

    // A new branch is reviewed from where it left main: its planted commit blocks...
    s.work.git(&["checkout", "-q", "-b", "feature"]);
    let planted = s.work.commit_files("planted", &[("src/bad.rs", PLANTED)]);
    s.work
        .commit_files("more", &[("src/more.rs", "fn more() {}\n")]);
    let (pushed, err) = real_push(&s, &["origin", "feature"], &[]);
    assert!(!pushed && err.contains("src/bad.rs"), "{err}");
    assert!(!s.has_branch("feature"));

    // ...while a clean new branch passes.
    s.work.git(&["checkout", "-q", "-b", "clean", "main"]);
    s.work
        .commit_files("fine", &[("src/fine.rs", "fn fine() {}\n")]);
    let (pushed, err) = real_push(&s, &["origin", "clean"], &[]);
    assert!(pushed, "{err}");

    // Deleting a branch reviews nothing, even one that holds a planted commit.
    s.work
        .git(&["push", "-q", "--no-verify", "origin", "feature"]);
    let (pushed, err) = real_push(&s, &["origin", "--delete", "feature"], &[]);
    assert!(pushed, "{err}");

    // A tag is reviewed for what it adds over the remote's refs: this one
    // publishes the planted commit (the branch that had it is gone).
    s.work.git(&["tag", "v1", &planted]);
    let (pushed, err) = real_push(&s, &["origin", "v1"], &[]);
    assert!(!pushed && err.contains("src/bad.rs"), "{err}");
}

/// Two real models (one reviewer each, short outputs to keep CI time sane).
const REAL_CONFIG: &str = "[[reviewer]]\nname = \"correctness\"\nmodel = \"smollm2-135m\"\nprompt = \"correctness.md\"\nmax_tokens = 256\n\n[[reviewer]]\nname = \"robustness\"\nmodel = \"gemma3-270m\"\nprompt = \"robustness.md\"\nseed = 23\nmax_tokens = 256\n";

/// A stand-in reviewer added to [`REAL_CONFIG`]: it reports the planted line.
const PLANTING_REVIEWER: &str =
    "\n[[reviewer]]\nname = \"planted\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n";

/// Any single reviewer's critical finding blocks: whatever a real model
/// rates critical must stop the push. (No lead: its prose does not enter
/// the gate's decision, and it would double the time of each push.)
const STRICT_GATE: &str =
    "\n[review]\nlead = \"none\"\n\n[gate]\nblock_on = \"critical\"\nmin_agreement = 1\n";

/// Code with a planted critical on line 6 (the stand-in reports it; the
/// real models see it as a comment).
const CALC: &str = "fn parse(s: &str) -> i32 {\n    s.parse().unwrap()\n}\n\nfn div(a: i32, b: i32) -> i32 {\n    a / b // DEEP-REVIEW-PLANT:critical\n}\n";

/// One consolidated finding as the Markdown report lists it.
#[derive(Debug)]
struct ListedFinding {
    /// `file:line` or `file:start-end`.
    location: String,
    reviewers: Vec<String>,
}

/// The findings under `### Critical Issues` of a Markdown report, read with
/// a CommonMark parser: the text of each top-level list item up to its first
/// block's end, ``**title** — `file:line` [reviewers] (critical, kind)``
/// (the excerpt and explanation that follow are not indented, so they are
/// not part of the item).
fn critical_findings(md: &str) -> Vec<ListedFinding> {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
    let mut out = Vec::new();
    let (mut in_heading, mut heading) = (false, String::new());
    let mut in_section = false;
    let mut lists = 0;
    let (mut collecting, mut text) = (false, String::new());
    for ev in Parser::new(md) {
        match ev {
            Event::Start(Tag::Heading { level, .. }) => {
                in_heading = level == HeadingLevel::H3;
                heading.clear();
                in_section = false;
            }
            Event::End(TagEnd::Heading(_)) => {
                in_section = in_heading && heading == "Critical Issues";
                in_heading = false;
            }
            Event::Text(t) if in_heading => heading.push_str(&t),
            _ if !in_section => {}
            Event::Start(Tag::List(_)) => lists += 1,
            Event::End(TagEnd::List(_)) => lists -= 1,
            Event::Start(Tag::Item) if lists == 1 => {
                collecting = true;
                text.clear();
            }
            Event::End(TagEnd::Paragraph) => collecting = false,
            Event::Text(t) if collecting => text.push_str(&t),
            Event::Code(c) if collecting => {
                text.push('`');
                text.push_str(&c);
                text.push('`');
            }
            Event::End(TagEnd::Item) if lists == 1 => {
                collecting = false;
                out.push(parse_listed(&text));
            }
            _ => {}
        }
    }
    out
}

fn parse_listed(text: &str) -> ListedFinding {
    let bad = || panic!("not a finding line: {text:?}");
    let sev = text.rfind(" (critical").unwrap_or_else(bad);
    let head = &text[..sev];
    let open = head.rfind('[').unwrap_or_else(bad);
    let close = head.rfind(']').unwrap_or_else(bad);
    let reviewers = head[open + 1..close]
        .split(", ")
        .map(str::to_string)
        .collect();
    let start = head.find('`').unwrap_or_else(bad);
    let end = start + 1 + head[start + 1..].find('`').unwrap_or_else(bad);
    ListedFinding {
        location: head[start + 1..end].to_string(),
        reviewers,
    }
}

/// The report the hook wrote, from the `Full report: PATH` line it printed.
fn report_of(err: &str) -> String {
    let path = err
        .lines()
        .find_map(|l| l.strip_prefix("Full report: "))
        .unwrap_or_else(|| panic!("the hook names no report: {err}"));
    std::fs::read_to_string(path.trim()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The gate through a real push with the bundled models: with one
/// reviewer's critical enough to block, the push is refused exactly when the
/// report the push wrote lists a critical finding, and each one it lists is
/// named on stderr. Then the same push, with a stand-in reviewer that
/// reports the planted critical, must be refused.
#[test]
fn real_push_with_real_models_decides_what_its_report_says() {
    let s = setup();
    with_config(&s, &format!("{REAL_CONFIG}{STRICT_GATE}"));
    ok(&bin(&s, &["hook", "install"]));
    let old = s.tip("main");
    let head = s.work.commit_files("add calc", &[("src/calc.rs", CALC)]);

    let (pushed, err) = push_with_models(&s, &["origin", "main"]);
    assert!(err.contains("reviewing"), "the hook reviewed: {err}");
    let md = report_of(&err);
    assert!(md.contains("add calc"), "the report of this push: {md}");
    for name in ["correctness", "robustness"] {
        assert!(
            md.contains(&format!("\n### {name}\n")),
            "{name} is in the appendix: {md}"
        );
    }
    let critical = critical_findings(&md);
    // `min_agreement = 1`: every critical finding in the report blocks.
    assert_eq!(
        pushed,
        critical.is_empty(),
        "the report lists {critical:?}, the push {}: {err}",
        if pushed { "passed" } else { "was refused" }
    );
    if pushed {
        assert_eq!(s.tip("main"), head);
        assert!(err.contains("push allowed"), "{err}");
        // Back to before the push, so the next one reviews the same range.
        s.remote.git(&["update-ref", "refs/heads/main", &old]);
    } else {
        assert_eq!(s.tip("main"), old);
        assert!(err.contains("push blocked"), "{err}");
        for f in &critical {
            let line = f.location.split('-').next().unwrap();
            assert!(err.contains(line), "{f:?} is named on stderr: {err}");
        }
    }

    // The same push with a reviewer that reports the planted critical.
    with_config(
        &s,
        &format!("{REAL_CONFIG}{PLANTING_REVIEWER}{STRICT_GATE}"),
    );
    let (pushed, err) = push_with_models(&s, &["origin", "main"]);
    assert!(!pushed, "the planted critical blocks: {err}");
    assert_eq!(s.tip("main"), old);
    assert!(
        err.contains("push blocked") && err.contains("src/calc.rs:6"),
        "{err}"
    );
    let critical = critical_findings(&report_of(&err));
    assert!(
        critical
            .iter()
            .any(|f| f.location == "src/calc.rs:6" && f.reviewers.contains(&"planted".into())),
        "the report lists the planted critical: {critical:?}"
    );
}

/// A retried push whose review is all in the cache loads no model at all
/// (the engine's own counters, in the report the push wrote, say so) and
/// decides as the first push did.
#[test]
fn a_retried_push_whose_review_is_cached_loads_no_model() {
    let s = setup();
    with_config(&s, REAL_CONFIG);
    ok(&bin(&s, &["hook", "install"]));
    let old = s.tip("main");
    s.work.commit_files("add calc", &[("src/calc.rs", CALC)]);
    let (pushed, err) = push_with_models(&s, &["origin", "main"]);
    let first = report_of(&err);
    let loaded = |md: &str| {
        md.lines()
            .find_map(|l| l.strip_prefix("**Models loaded:** "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no engine line in the report: {md}"))
    };
    assert!(
        loaded(&first).starts_with("2 vocabularies, 2 sets of weights"),
        "the first push ran both models: {}",
        loaded(&first)
    );
    if pushed {
        s.remote.git(&["update-ref", "refs/heads/main", &old]);
    }
    let (again, err) = push_with_models(&s, &["origin", "main"]);
    assert_eq!(again, pushed, "the cached review decides alike: {err}");
    let second = report_of(&err);
    assert!(loaded(&second).starts_with("none"), "{}", loaded(&second));
    let cache_line = second
        .lines()
        .find(|l| l.starts_with("**Cache:**"))
        .unwrap_or_default()
        .to_string();
    let n: Vec<&str> = cache_line.split_whitespace().collect();
    assert_eq!(
        n.get(1),
        n.get(3),
        "every chunk from the cache: {cache_line}"
    );
    assert_eq!(
        critical_findings(&first).len(),
        critical_findings(&second).len()
    );
}

/// The time budget bounds a push through the real models (allow with a
/// warning by default, block when configured).
#[test]
fn real_push_with_real_models_stops_at_the_time_budget() {
    let s = setup();
    with_config(&s, REAL_CONFIG);
    ok(&bin(&s, &["hook", "install"]));
    // Several chunks and a one-second budget: the push ends at the budget
    // (plus the watchdog's grace), not after the whole review.
    for i in 0..4 {
        let body = format!("pub fn m{i}(v: &[u8]) -> u8 {{\n    v[{i}] + 1\n}}\n");
        s.work
            .commit_files(&format!("m{i}"), &[(&format!("src/m{i}.rs"), &body)]);
    }
    let budget = "[review]\ntime_budget = 1\nchunk_tokens = 128\n";
    with_config(&s, &format!("{REAL_CONFIG}\n{budget}"));
    let old = s.tip("main");
    let t0 = Instant::now();
    let (pushed, err) = push_with_models(&s, &["origin", "main"]);
    let took = t0.elapsed();
    assert!(err.contains("time budget"), "{err}");
    assert!(pushed, "on_timeout defaults to allow: {err}");
    let bound = Duration::from_secs(1)
        + git_deep_review::hook::hard_stop_grace(1)
        + Duration::from_secs(20);
    assert!(
        took < bound,
        "the push took {took:?}, past its budget: {err}"
    );

    s.remote.git(&["update-ref", "refs/heads/main", &old]);
    with_config(
        &s,
        &format!("{REAL_CONFIG}\n{budget}on_timeout = \"block\"\n"),
    );
    ok(&bin(&s, &["cache", "clear"]));
    let (pushed, err) = push_with_models(&s, &["origin", "main"]);
    assert!(!pushed, "on_timeout = block refuses: {err}");
    assert!(
        err.contains("on_timeout") && err.contains("--no-verify"),
        "{err}"
    );
    assert_eq!(s.tip("main"), old);
}
