//! Throw-away git repositories for integration tests, built with the git
//! CLI under a fixed identity, fixed dates and no user/system config, so
//! commit ids and `git diff` output are reproducible.
#![allow(dead_code)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
        repo
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

    /// A scratch directory next to the repository (outside it).
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The `git` command with the fixed environment, run in the repository.
    pub fn command(&self, args: &[&str]) -> Command {
        let date = format!("{} +0000", EPOCH + self.tick.get() * 60);
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&self.path)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Tester")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Tester")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("LC_ALL", "C");
        cmd
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

    /// Opens the repository with the library.
    pub fn open(&self) -> gix::Repository {
        git_deep_review::range::open_repo(&self.path).expect("open test repo")
    }
}
