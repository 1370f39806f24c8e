//! Throw-away git repositories for integration tests, built with the git
//! CLI under a fixed identity, fixed dates and no user/system config, so
//! commit ids and `git diff` output are reproducible; clones of them (a
//! bare remote with a working clone, shallow clones); and our binary run
//! in them with the same clean environment.
#![allow(dead_code)]

use std::cell::Cell;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Our binary, as cargo built it for the integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_git-deep-review");

/// First commit date (seconds since the epoch); each commit adds a minute.
const EPOCH: u64 = 1_700_000_000;

/// A repository in a temporary directory, removed on drop.
pub struct TestRepo {
    dir: tempfile::TempDir,
    /// Work tree (or the repository itself when bare).
    pub path: PathBuf,
    tick: Cell<u64>,
}

impl TestRepo {
    /// `git init -b main` in a fresh temporary directory.
    pub fn new() -> Self {
        Self::init(&[])
    }

    /// `git init --bare -b main`.
    pub fn bare() -> Self {
        Self::init(&["--bare"])
    }

    fn init(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let path = dir.path().join("repo");
        std::fs::create_dir(&path).expect("create repo dir");
        let repo = TestRepo {
            dir,
            path,
            tick: Cell::new(0),
        };
        let mut args = vec!["init", "-q", "-b", "main"];
        args.extend_from_slice(extra);
        repo.git(&args);
        repo.trust_repo_config();
        repo
    }

    /// Sets `deep-review.trustRepoConfig` in the repository's own git
    /// config. The suites write the test's configuration to the work tree's
    /// `.deep-review.toml` (uncommitted, excluded) and mean it to be read,
    /// which only a user who trusts the repository gets; the untrusted
    /// default (the file read from the base of the range) is tested in
    /// tests/repo_config.rs and tests/config.rs, which call [`Self::distrust`].
    pub fn trust_repo_config(&self) {
        self.git(&["config", "deep-review.trustRepoConfig", "true"]);
    }

    /// Removes `deep-review.trustRepoConfig`: the default a user has.
    pub fn distrust(&self) {
        // Exit 5 when it is not set: already the default.
        let _ = self
            .command(&["config", "--unset-all", "deep-review.trustRepoConfig"])
            .output();
    }

    /// A clone of `url` (`git clone -q EXTRA URL`) in a fresh temporary
    /// directory of its own.
    pub fn clone_from(url: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let path = dir.path().join("repo");
        let repo = TestRepo {
            dir,
            path,
            tick: Cell::new(0),
        };
        let mut args = vec!["clone", "-q"];
        args.extend_from_slice(extra);
        args.push(url);
        args.push("repo");
        // The clone does not exist yet: run git next to where it will be.
        let out = repo
            .command(&args)
            .current_dir(repo.dir.path())
            .output()
            .expect("run git clone");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !args.contains(&"--bare") && !args.contains(&"--mirror") {
            repo.trust_repo_config();
        }
        repo
    }

    /// A clone holding only the last `depth` commits of this repository's
    /// current branch (`git clone --depth`), e.g. to test missing history.
    pub fn shallow_clone(&self, depth: u32) -> TestRepo {
        // `--depth` is ignored for plain local paths; a file:// URL honours it.
        let url = format!("file://{}", self.path.display());
        let clone = TestRepo::clone_from(&url, &["--depth", &depth.to_string()]);
        assert!(
            clone.path.join(".git/shallow").exists(),
            "the clone of {url} is not shallow"
        );
        clone
    }

    /// A `TestRepo` for an existing directory (e.g. a clone) sharing the
    /// lifetime of a temporary directory the caller keeps.
    pub fn at(path: &Path) -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        TestRepo {
            dir,
            path: path.to_path_buf(),
            tick: Cell::new(1000),
        }
    }

    /// A repository whose last commit adds `average()` beside `total()`
    /// in a small Python module (the real-engine tests' usual change).
    pub fn python_average() -> Self {
        let r = TestRepo::new();
        r.commit_files(
            "Add total()",
            &[("stats.py", "def total(xs):\n    return sum(xs)\n")],
        );
        r.commit_files(
            "Add average()",
            &[(
                "stats.py",
                "def total(xs):\n    return sum(xs)\n\n\ndef average(xs):\n    return total(xs) / len(xs)\n",
            )],
        );
        r
    }

    /// A scratch directory next to the repository (outside it).
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The `git` command with the fixed environment, run in the repository.
    /// Hooks git runs (e.g. on `push`) inherit that environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(args);
        self.clean_env(&mut cmd);
        cmd
    }

    /// Our binary with `args`, run in the repository with the same clean
    /// environment as [`TestRepo::command`]: no user, system or global
    /// configuration, no colour, and an empty models directory (a test
    /// that needs the bundled models asks with [`TestRepo::with_models`]).
    pub fn deep_review(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        self.clean_env(&mut cmd);
        cmd
    }

    /// [`TestRepo::deep_review`] with no network interfaces at all
    /// (`unshare -n`), which proves nothing reaches the network.
    pub fn deep_review_offline(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.arg("-n").arg(BIN).args(args);
        self.clean_env(&mut cmd);
        cmd
    }

    /// `HEAD~1..HEAD` reviewed offline on the bundled models with `args`,
    /// as the JSON report (the run must succeed).
    pub fn review_offline_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["HEAD~1..HEAD", "--format", "json", "-o", "-"];
        all.extend_from_slice(args);
        let mut cmd = self.deep_review_offline(&all);
        let out = TestRepo::with_models(&mut cmd).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Every chunk of a JSON report's appendix with its reviewer's name.
    pub fn appendix_chunks(report: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
        report["appendix"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| {
                let who = a["reviewer"].as_str().unwrap().to_string();
                a["chunks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |c| (who.clone(), c))
            })
            .collect()
    }

    /// Points a command built here at the bundled models
    /// (see `common::models::dir`, which fails when they are absent).
    pub fn with_models(cmd: &mut Command) -> &mut Command {
        cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", super::models::dir())
    }

    /// The environment every command of a test runs with.
    fn clean_env(&self, cmd: &mut Command) {
        let date = format!("{} +0000", EPOCH + self.tick.get() * 60);
        let home = self.dir.path();
        let no_models = home.join("no-models");
        std::fs::create_dir_all(&no_models).expect("create the empty models dir");
        cmd.current_dir(&self.path)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Tester")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Tester")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_DEEP_REVIEW_MODELS_DIR", &no_models)
            // Tests may configure `standin:` models.
            .env("GIT_DEEP_REVIEW_TEST_BACKENDS", "1")
            .env("NO_COLOR", "1")
            .env("LC_ALL", "C");
    }

    /// Runs git and returns its raw output, panicking with stderr on failure.
    pub fn git_output(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs git and returns trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output(args);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes a file (creating directories) in the work tree.
    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) -> &Self {
        let full = self.path.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(full, content).expect("write file");
        self
    }

    /// Deletes a file from the work tree.
    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.path.join(path)).expect("remove file");
        self
    }

    /// Stages everything and commits; returns the new commit id.
    pub fn commit(&self, message: &str) -> String {
        self.tick.set(self.tick.get() + 1);
        self.git(&["add", "-A"]);
        self.git(&[
            "commit",
            "-q",
            "--allow-empty",
            "--no-gpg-sign",
            "-m",
            message,
        ]);
        self.rev("HEAD")
    }

    /// Commits what is staged (nothing is added), e.g. after
    /// `git update-index` tricks that `git add -A` would undo.
    pub fn commit_staged(&self, message: &str) -> String {
        self.tick.set(self.tick.get() + 1);
        self.git(&[
            "commit",
            "-q",
            "--allow-empty",
            "--no-gpg-sign",
            "-m",
            message,
        ]);
        self.rev("HEAD")
    }

    /// Writes the files and commits them.
    pub fn commit_files(&self, message: &str, files: &[(&str, &str)]) -> String {
        for (path, content) in files {
            self.write(path, content);
        }
        self.commit(message)
    }

    /// Creates a branch at HEAD without switching.
    pub fn branch(&self, name: &str) {
        self.git(&["branch", name]);
    }

    /// Switches to a branch (or detaches at a commit).
    pub fn checkout(&self, target: &str) {
        self.git(&["checkout", "-q", target]);
    }

    /// Creates and switches to a new branch.
    pub fn checkout_new(&self, name: &str) {
        self.git(&["checkout", "-q", "-b", name]);
    }

    /// A lightweight tag at HEAD.
    pub fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    /// `git merge --no-ff` of `branch` into the current branch.
    pub fn merge(&self, branch: &str, message: &str) -> String {
        self.tick.set(self.tick.get() + 1);
        self.git(&[
            "merge",
            "-q",
            "--no-ff",
            "--no-gpg-sign",
            "-m",
            message,
            branch,
        ]);
        self.rev("HEAD")
    }

    /// Full id of a revision.
    pub fn rev(&self, spec: &str) -> String {
        self.git(&["rev-parse", "--verify", &format!("{spec}^{{commit}}")])
    }

    /// Runs a command built by this fixture, panicking with its output
    /// when it fails; returns stdout and stderr together.
    pub fn ok(cmd: &mut Command) -> String {
        let out = cmd.output().expect("run command");
        succeeded(&out)
    }

    /// Opens the repository with the library.
    pub fn open(&self) -> gix::Repository {
        git_deep_review::git::range::open_repo(&self.path).expect("open test repo")
    }
}

/// A bare remote and a clone of it (`origin`) with one commit on `main`
/// pushed and `origin/HEAD` set, as a developer's checkout looks.
pub struct Remote {
    /// The bare repository pushes go to.
    pub remote: TestRepo,
    /// The working clone.
    pub work: TestRepo,
}

impl Remote {
    /// Creates the pair; the first commit adds `README.md`.
    pub fn new() -> Self {
        let remote = TestRepo::bare();
        let work = TestRepo::clone_from(&remote.path.to_string_lossy(), &[]);
        work.checkout_new("main");
        work.commit_files("initial", &[("README.md", "hello\n")]);
        work.git(&["push", "-q", "origin", "main"]);
        work.git(&["remote", "set-head", "origin", "main"]);
        Remote { remote, work }
    }

    /// The commit `branch` points at on the remote.
    pub fn tip(&self, branch: &str) -> String {
        self.remote.rev(branch)
    }

    /// Whether the remote has `branch` at all.
    pub fn has_branch(&self, branch: &str) -> bool {
        self.remote
            .command(&[
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .expect("run git")
            .status
            .success()
    }

    /// `git push ARGS` from the clone with extra environment variables
    /// (the hook git runs sees them); returns the raw output.
    pub fn push<K: AsRef<OsStr>, V: AsRef<OsStr>>(&self, args: &[&str], envs: &[(K, V)]) -> Output {
        let mut a = vec!["push"];
        a.extend_from_slice(args);
        let mut cmd = self.work.command(&a);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().expect("run git push")
    }
}

/// Stdout of a command that must succeed (UTF-8); panics with the command
/// and its output when it cannot run or fails.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Stdout and stderr of a finished command, together; panics with them
/// when the command failed.
pub fn succeeded(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "command failed: {text}");
    text
}
