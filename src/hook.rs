//! The pre-push hook: installing it without losing the hook that was there,
//! and running git's pre-push protocol against the review pipeline.
//!
//! Owner: gate (issue 5). The hook itself is the POSIX sh template in
//! `hooks/pre-push`; it replays git's stdin to a chained hook and then runs
//! `git-deep-review hook run <remote> <url>`, which calls [`pre_push`].

use crate::config::{OnTimeout, Settings};
use crate::error::{Error, Result, EXIT_BLOCKED, EXIT_INTERRUPTED, EXIT_OK};
use crate::gate::{evaluate, Context, ReviewFacts, BYPASS_HELP};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The hook template, with `@GIT_DEEP_REVIEW_EXE@` and
/// `@GIT_DEEP_REVIEW_GLOBAL@` filled in at install time.
pub const TEMPLATE: &str = include_str!("../hooks/pre-push");
/// Text that identifies a hook as ours (any template version).
pub const MARKER: &str = "# git-deep-review-hook: v";
/// File name of the hook.
pub const HOOK_NAME: &str = "pre-push";
/// Where a pre-existing hook is kept while ours is installed; the template
/// runs it first.
pub const CHAINED_NAME: &str = "pre-push.deep-review-chained";
/// Where our hook goes instead of being deleted or replaced when it no
/// longer has the text `install` wrote (the user edited it); a free
/// `.N` suffix is added when that name is taken.
pub const EDITED_NAME: &str = "pre-push.deep-review-edited";

/// Options of `git deep-review hook install`.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// Install into this shared hooks directory instead of the repository's.
    pub global: Option<PathBuf>,
    /// With `global`: also run `git config --global core.hooksPath DIR`.
    pub set_hooks_path: bool,
    /// When both a foreign `pre-push` and a chained hook already exist, keep
    /// the foreign one as `pre-push.deep-review-backup-<time>` (not run)
    /// instead of refusing.
    pub force: bool,
    /// Binary path written into the hook; `None` = the running executable.
    pub exe: Option<PathBuf>,
}

/// What `install` did, for the CLI to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallReport {
    pub hook: PathBuf,
    /// The pre-existing hook now run first, if any.
    pub chained: Option<PathBuf>,
    /// The hook was already installed with exactly this content.
    pub unchanged: bool,
    /// Things the user should know (e.g. how to enable a global install).
    pub notes: Vec<String>,
}

impl fmt::Display for InstallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unchanged {
            write!(
                f,
                "deep-review pre-push hook already installed: {}",
                self.hook.display()
            )?;
        } else {
            write!(
                f,
                "installed deep-review pre-push hook: {}",
                self.hook.display()
            )?;
        }
        if let Some(c) = &self.chained {
            write!(
                f,
                "\nthe existing hook is kept and runs first: {}",
                c.display()
            )?;
        }
        for n in &self.notes {
            write!(f, "\n{n}")?;
        }
        Ok(())
    }
}

/// What `uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UninstallReport {
    pub hook: PathBuf,
    /// Our hook was found and removed.
    pub removed: bool,
    /// The chained hook was put back as `pre-push`.
    pub restored: bool,
    /// Our hook had been edited, so it was moved here (not run) instead of deleted.
    pub kept_edited: Option<PathBuf>,
    pub notes: Vec<String>,
}

impl fmt::Display for UninstallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.removed, self.restored) {
            (true, true) => write!(
                f,
                "removed the deep-review hook and restored the previous {}",
                self.hook.display()
            )?,
            (true, false) => write!(f, "removed the deep-review hook {}", self.hook.display())?,
            (false, true) => write!(f, "restored the previous {}", self.hook.display())?,
            (false, false) => write!(
                f,
                "no deep-review hook installed in {}",
                self.hook.parent().unwrap_or(Path::new(".")).display()
            )?,
        }
        if let Some(kept) = &self.kept_edited {
            write!(
                f,
                "\nthe hook was not as `hook install` wrote it (edited, or written by another \
                 version), so it was kept as {} (not run; delete it or put it back as \
                 {HOOK_NAME} yourself)",
                kept.display()
            )?;
        }
        for n in &self.notes {
            write!(f, "\n{n}")?;
        }
        Ok(())
    }
}

/// What is in the `pre-push` slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookState {
    Absent,
    /// Our hook; `exe` is the binary it calls, `exe_found` whether it is there.
    DeepReview {
        exe: String,
        exe_found: bool,
        global: bool,
        executable: bool,
    },
    /// Someone else's hook.
    Foreign,
}

/// Answer of `git deep-review hook status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookStatus {
    pub dir: PathBuf,
    /// `core.hooksPath` when it decides the directory.
    pub hooks_path_config: Option<PathBuf>,
    pub hook: HookState,
    pub chained: Option<PathBuf>,
}

impl fmt::Display for HookStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hook = self.dir.join(HOOK_NAME);
        match &self.hook {
            HookState::Absent => write!(f, "not installed: no pre-push hook in {}", self.dir.display())?,
            HookState::Foreign => write!(
                f,
                "not installed: {} is another tool's hook (`git deep-review hook install` keeps it and runs it first)",
                hook.display()
            )?,
            HookState::DeepReview { exe, exe_found, global, executable } => {
                write!(f, "installed: {}{}", hook.display(), if *global { " (shared hooks directory)" } else { "" })?;
                write!(f, "\nruns: {exe}{}", if *exe_found { "" } else { " (MISSING: the hook falls back to PATH)" })?;
                if !executable {
                    write!(f, "\nwarning: the hook is not executable, git will skip it")?;
                }
            }
        }
        if let Some(c) = &self.chained {
            write!(f, "\nchained hook (runs first): {}", c.display())?;
        }
        if let Some(p) = &self.hooks_path_config {
            write!(f, "\ncore.hooksPath = {}", p.display())?;
        }
        Ok(())
    }
}

/// The hooks directory git uses for `repo`: `core.hooksPath` when set
/// (relative to the working tree root, as git resolves it), else
/// `<common git dir>/hooks`.
pub fn hooks_dir(repo: &gix::Repository) -> Result<(PathBuf, Option<PathBuf>)> {
    let configured = repo
        .config_snapshot()
        .trusted_path("core.hooksPath")
        .map_err(|e| Error::Git(format!("reading core.hooksPath: {e}")))?;
    match configured {
        Some(p) if !p.as_os_str().is_empty() => {
            let base = repo.workdir().unwrap_or_else(|| repo.git_dir());
            let dir = if p.is_absolute() {
                p.clone()
            } else {
                base.join(&p)
            };
            Ok((absolute(dir), Some(p)))
        }
        _ => Ok((absolute(repo.common_dir().join("hooks")), None)),
    }
}

/// Paths shown to the user are absolute: gix reports `.git` relative to
/// the current directory, which means nothing in a message read later.
fn absolute(p: PathBuf) -> PathBuf {
    std::path::absolute(&p).unwrap_or(p)
}

/// The hook text for a binary at `exe`.
pub fn render(exe: &Path, global: bool) -> String {
    let quoted = format!("'{}'", exe.to_string_lossy().replace('\'', r"'\''"));
    TEMPLATE
        .replace("@GIT_DEEP_REVIEW_EXE@", &quoted)
        .replace("@GIT_DEEP_REVIEW_GLOBAL@", if global { "1" } else { "0" })
}

fn current_exe() -> Result<PathBuf> {
    let exe =
        std::env::current_exe().map_err(|e| Error::io("finding the path of git-deep-review", e))?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

/// Reads the start of a hook file to tell ours apart (follows symlinks).
fn is_ours(path: &Path) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut buf = Vec::new();
    if f.take(64 * 1024).read_to_end(&mut buf).is_err() {
        return false;
    }
    String::from_utf8_lossy(&buf).contains(MARKER)
}

/// The binary path and shared-directory flag that `render` filled into an
/// installed hook of ours.
fn installed_settings(text: &str) -> (String, bool) {
    let exe = text
        .lines()
        .find_map(|l| l.strip_prefix("GIT_DEEP_REVIEW_EXE="))
        .map(|v| {
            let v = v.trim();
            let v = v.strip_prefix('\'').unwrap_or(v);
            let v = v.strip_suffix('\'').unwrap_or(v);
            v.replace(r"'\''", "'")
        })
        .unwrap_or_default();
    let global = text.lines().any(|l| l.trim() == "GIT_DEEP_REVIEW_GLOBAL=1");
    (exe, global)
}

/// Whether our hook at `path` still has exactly the text `install` wrote
/// for it. Anything else (edited by hand, or written by another template
/// version) may hold the user's work and is never deleted.
fn is_pristine(path: &Path) -> bool {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let (exe, global) = installed_settings(&text);
    render(Path::new(&exe), global) == text
}

/// Moves an edited hook of ours out of the way to a free
/// `EDITED_NAME[.N]`, never replacing an existing file, and returns where.
fn keep_edited(dir: &Path, hook: &Path) -> Result<PathBuf> {
    for n in 0..1000 {
        let name = match n {
            0 => EDITED_NAME.to_string(),
            n => format!("{EDITED_NAME}.{n}"),
        };
        let target = dir.join(name);
        if exists(&target) {
            continue;
        }
        // A hard link fails instead of replacing a file that appeared since
        // the check; file systems without hard links fall back to rename.
        let moved = match std::fs::hard_link(hook, &target) {
            Ok(()) => std::fs::remove_file(hook),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => std::fs::rename(hook, &target),
        };
        moved.map_err(|e| {
            Error::io(
                format!("moving {} to {}", hook.display(), target.display()),
                e,
            )
        })?;
        return Ok(target);
    }
    Err(Error::Usage(format!(
        "{} has been edited and {dir}/{EDITED_NAME} .. .999 are all taken; \
         move {} away yourself",
        hook.display(),
        hook.display(),
        dir = dir.display()
    )))
}

fn exists(path: &Path) -> bool {
    // symlink_metadata: a dangling symlink is still a hook someone put there.
    std::fs::symlink_metadata(path).is_ok()
}

/// Installs the hook for `repo` (or into `opts.global`).
pub fn install(repo: Option<&gix::Repository>, opts: &InstallOptions) -> Result<InstallReport> {
    let exe = match &opts.exe {
        Some(e) => e.clone(),
        None => current_exe()?,
    };
    if let Some(dir) = &opts.global {
        let mut report = install_in(dir, &exe, true, opts.force)?;
        let dir_abs = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if opts.set_hooks_path {
            let status = std::process::Command::new("git")
                .args(["config", "--global", "core.hooksPath"])
                .arg(&dir_abs)
                .status()
                .map_err(|e| Error::io("running git config --global core.hooksPath", e))?;
            if !status.success() {
                return Err(Error::Git(format!(
                    "`git config --global core.hooksPath {}` failed",
                    dir_abs.display()
                )));
            }
            report.notes.push(format!(
                "set git config --global core.hooksPath {}",
                dir_abs.display()
            ));
        } else {
            report.notes.push(format!(
                "to use it in every repository: git config --global core.hooksPath {}",
                dir_abs.display()
            ));
        }
        report.notes.push(
            "repositories' own .git/hooks/pre-push still run (the shared hook calls them first)"
                .to_string(),
        );
        return Ok(report);
    }
    let repo = repo.ok_or_else(|| {
        Error::Usage("not in a git repository (use --global DIR to install a shared hook)".into())
    })?;
    let (dir, configured) = hooks_dir(repo)?;
    let mut report = install_in(&dir, &exe, false, opts.force)?;
    if let Some(p) = configured {
        report
            .notes
            .push(format!("installed in core.hooksPath ({})", p.display()));
    }
    Ok(report)
}

/// Installs the hook into the hooks directory `dir`. A foreign `pre-push`
/// is renamed to [`CHAINED_NAME`] (rename keeps its bytes and mode, and
/// `uninstall_in` renames it back); installing again only refreshes ours,
/// after moving it to [`EDITED_NAME`] if it was edited.
pub fn install_in(dir: &Path, exe: &Path, global: bool, force: bool) -> Result<InstallReport> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating hooks directory {}", dir.display()), e))?;
    let hook = dir.join(HOOK_NAME);
    let chained = dir.join(CHAINED_NAME);
    let text = render(exe, global);
    let mut notes = Vec::new();

    if exists(&hook) && !is_ours(&hook) {
        if exists(&chained) {
            if !force {
                return Err(Error::Usage(format!(
                    "{} is another hook and {} already exists, so installing would lose one of them; \
                     move one away, or pass --force to keep {} as a backup that is not run",
                    hook.display(),
                    chained.display(),
                    HOOK_NAME
                )));
            }
            let stamp = jiff::Timestamp::now().as_second();
            let backup = dir.join(format!("{HOOK_NAME}.deep-review-backup-{stamp}"));
            std::fs::rename(&hook, &backup).map_err(|e| {
                Error::io(
                    format!("moving {} to {}", hook.display(), backup.display()),
                    e,
                )
            })?;
            notes.push(format!(
                "kept the previous hook as {} (NOT run; restore it by hand)",
                backup.display()
            ));
        } else {
            std::fs::rename(&hook, &chained).map_err(|e| {
                Error::io(
                    format!("moving {} to {}", hook.display(), chained.display()),
                    e,
                )
            })?;
        }
    } else if exists(&hook) && !is_pristine(&hook) {
        let kept = keep_edited(dir, &hook)?;
        notes.push(format!(
            "the installed hook was not as `hook install` wrote it (edited, or written by \
             another version), so it was kept as {} (not run) and replaced",
            kept.display()
        ));
    }
    let unchanged = std::fs::symlink_metadata(&hook).is_ok_and(|m| m.file_type().is_file())
        && std::fs::read(&hook).is_ok_and(|b| b == text.as_bytes())
        && is_executable(&hook);
    if !unchanged {
        write_executable(dir, &hook, text.as_bytes())?;
    }
    Ok(InstallReport {
        hook,
        chained: exists(&chained).then_some(chained),
        unchanged,
        notes,
    })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Writes through a temp file + rename so an interrupted install never
/// leaves a half-written hook that would break every push.
fn write_executable(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".pre-push.deep-review-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("creating a temporary file in {}", dir.display()), e))?;
    tmp.write_all(bytes)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(format!("making {} executable", path.display()), e))?;
    }
    tmp.persist(path)
        .map_err(|e| Error::io(format!("installing {}", path.display()), e.error))?;
    Ok(())
}

/// Removes the hook of `repo` (or of the shared directory `global`) and
/// restores the hook it chained, exactly as it was. Our hook is deleted
/// only when it is exactly what `install` wrote; an edited one is moved
/// to [`EDITED_NAME`] and the report says so.
pub fn uninstall(repo: Option<&gix::Repository>, global: Option<&Path>) -> Result<UninstallReport> {
    match global {
        Some(dir) => uninstall_in(dir),
        None => {
            let repo = repo
                .ok_or_else(|| Error::Usage("not in a git repository (use --global DIR)".into()))?;
            uninstall_in(&hooks_dir(repo)?.0)
        }
    }
}

/// [`uninstall`] for a hooks directory.
pub fn uninstall_in(dir: &Path) -> Result<UninstallReport> {
    let hook = dir.join(HOOK_NAME);
    let chained = dir.join(CHAINED_NAME);
    let mut report = UninstallReport {
        hook: hook.clone(),
        removed: false,
        restored: false,
        kept_edited: None,
        notes: Vec::new(),
    };
    if exists(&hook) {
        if !is_ours(&hook) {
            if exists(&chained) {
                report.notes.push(format!(
                    "{} is not the deep-review hook; left it and {} alone",
                    hook.display(),
                    chained.display()
                ));
            }
            return Ok(report);
        }
        if is_pristine(&hook) {
            std::fs::remove_file(&hook)
                .map_err(|e| Error::io(format!("removing {}", hook.display()), e))?;
        } else {
            report.kept_edited = Some(keep_edited(dir, &hook)?);
        }
        report.removed = true;
    }
    if exists(&chained) {
        std::fs::rename(&chained, &hook).map_err(|e| {
            Error::io(
                format!("restoring {} from {}", hook.display(), chained.display()),
                e,
            )
        })?;
        report.restored = true;
    }
    Ok(report)
}

/// What is installed for `repo` (or in the shared directory `global`).
pub fn status(repo: Option<&gix::Repository>, global: Option<&Path>) -> Result<HookStatus> {
    match global {
        Some(dir) => Ok(status_in(dir, None)),
        None => {
            let repo = repo
                .ok_or_else(|| Error::Usage("not in a git repository (use --global DIR)".into()))?;
            let (dir, configured) = hooks_dir(repo)?;
            Ok(status_in(&dir, configured))
        }
    }
}

/// [`status`] for a hooks directory.
pub fn status_in(dir: &Path, hooks_path_config: Option<PathBuf>) -> HookStatus {
    let hook = dir.join(HOOK_NAME);
    let chained = dir.join(CHAINED_NAME);
    let state = if !exists(&hook) {
        HookState::Absent
    } else if is_ours(&hook) {
        let text = std::fs::read_to_string(&hook).unwrap_or_default();
        let (exe, global) = installed_settings(&text);
        HookState::DeepReview {
            exe_found: Path::new(&exe).is_file(),
            exe,
            global,
            executable: is_executable(&hook),
        }
    } else {
        HookState::Foreign
    };
    HookStatus {
        dir: dir.to_path_buf(),
        hooks_path_config,
        hook: state,
        chained: exists(&chained).then_some(chained),
    }
}

// ---------------------------------------------------------------------------
// Running the hook.

/// One line of git's pre-push input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUpdate {
    pub local_ref: String,
    pub local_sha: gix::ObjectId,
    pub remote_ref: String,
    pub remote_sha: gix::ObjectId,
}

impl PushUpdate {
    /// The remote ref is being deleted.
    pub fn is_delete(&self) -> bool {
        self.local_sha.is_null()
    }
    /// The remote ref does not exist yet.
    pub fn is_new(&self) -> bool {
        self.remote_sha.is_null()
    }
}

/// Parses git's pre-push stdin: `<local ref> <local sha> <remote ref> <remote sha>` per line.
pub fn parse_push_lines(lines: &[String]) -> Result<Vec<PushUpdate>> {
    let mut out = Vec::new();
    for line in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let id = |s: &str| {
            ((s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| gix::ObjectId::from_hex(s.as_bytes()).ok())
                .flatten()
        };
        let (Some(local), Some(remote)) = (
            parts.get(1).and_then(|s| id(s)),
            parts.get(3).and_then(|s| id(s)),
        ) else {
            return Err(Error::Usage(format!(
                "unexpected pre-push input line {line:?}: expected `<local ref> <local sha> <remote ref> <remote sha>`"
            )));
        };
        if parts.len() != 4 {
            return Err(Error::Usage(format!(
                "unexpected pre-push input line {line:?}: expected `<local ref> <local sha> <remote ref> <remote sha>`"
            )));
        }
        out.push(PushUpdate {
            local_ref: parts[0].to_string(),
            local_sha: local,
            remote_ref: parts[2].to_string(),
            remote_sha: remote,
        });
    }
    Ok(out)
}

/// The pre-push input lines and remote name when run by the pre-commit
/// framework, which consumes git's stdin itself and passes
/// `PRE_COMMIT_FROM_REF` / `PRE_COMMIT_TO_REF` (and the remote and branch
/// names) in the environment instead. `None` when those are not set.
pub fn pre_commit_input(
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(Option<String>, Vec<String>)> {
    let from = env("PRE_COMMIT_FROM_REF").filter(|v| !v.is_empty())?;
    let to = env("PRE_COMMIT_TO_REF").filter(|v| !v.is_empty())?;
    let local = env("PRE_COMMIT_LOCAL_BRANCH")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "HEAD".into());
    let remote_ref = env("PRE_COMMIT_REMOTE_BRANCH")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| local.clone());
    let remote = env("PRE_COMMIT_REMOTE_NAME").filter(|v| !v.is_empty());
    Some((remote, vec![format!("{local} {to} {remote_ref} {from}")]))
}

/// Everything `hook run` needs from its invocation: the remote name and
/// the protocol lines. git passes `<remote> <url>` as arguments and the
/// lines on stdin; under the pre-commit framework stdin is empty and the
/// `PRE_COMMIT_*` variables carry the same information ([`pre_commit_input`]).
/// `remote_arg` is the first argument (`None` when absent).
pub fn read_input(
    remote_arg: Option<&str>,
    stdin: &mut dyn std::io::Read,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>)> {
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .map_err(|e| Error::io("reading the pre-push input from stdin", e))?;
    let mut lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let mut remote = remote_arg.filter(|r| !r.is_empty()).map(String::from);
    if lines.is_empty() {
        if let Some((pc_remote, pc_lines)) = pre_commit_input(env) {
            lines = pc_lines;
            remote = remote.or(pc_remote);
        }
    }
    Ok((remote.unwrap_or_else(|| "origin".to_string()), lines))
}

/// What the review closure is asked to review for one pushed ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRequest {
    pub local_ref: String,
    pub remote_ref: String,
    /// Base commit; `None` = the empty tree (history with no commit on the
    /// remote yet, reviewed from its root).
    pub base: Option<gix::ObjectId>,
    /// Head commit: what is being pushed.
    pub head: gix::ObjectId,
    /// How the report and the messages name the range (`abc1234..def5678`).
    pub spec: String,
    /// The pipeline should stop starting new chunks after this instant and
    /// return what it has with `timed_out = true`.
    pub deadline: Instant,
    /// Why this base was chosen, for the hook's output.
    pub why: String,
}

impl ReviewRequest {
    /// The range to review, from the ids the push chose (a history with no
    /// commit on any remote yet is reviewed from the empty tree, which no
    /// range syntax expresses).
    pub fn resolve(&self, repo: &gix::Repository) -> Result<crate::range::ReviewRange> {
        crate::range::between(repo, self.base, self.head, self.spec.clone())
    }
}

/// Runs the pre-push protocol: for each pushed ref decides what to review,
/// calls `review` (which returns the facts of the review, or `None` when
/// the ref changes nothing reviewable), applies the gate and returns the
/// exit code (0 allow, 1 block). Messages for the developer go to `log`
/// (stderr).
///
/// Deletions and tags are not reviewed. One deadline,
/// `settings.time_budget_secs` from now, is shared by all refs.
pub fn pre_push(
    repo: &gix::Repository,
    remote: &str,
    lines: &[String],
    settings: &Settings,
    review: &mut dyn FnMut(&ReviewRequest) -> Result<Option<ReviewFacts>>,
    log: &mut dyn Write,
) -> Result<i32> {
    let say = |log: &mut dyn Write, msg: &str| {
        let _ = writeln!(log, "{msg}");
    };
    if !settings.gate.enabled {
        say(
            log,
            "deep-review: gate is off (deep-review.gate); push allowed without review.",
        );
        return Ok(EXIT_OK);
    }
    let updates = parse_push_lines(lines)?;
    let deadline = Instant::now() + Duration::from_secs(settings.time_budget_secs);
    // Dropped when this function returns, which stops the watchdog.
    let _watchdog = start_watchdog(deadline, settings);
    let faults = crate::pipeline::fault_policy(settings);
    let mut blocked = false;
    for u in &updates {
        if crate::interrupt::is_triggered() {
            say(log, "deep-review: interrupted; push aborted.");
            return Ok(EXIT_INTERRUPTED);
        }
        if u.is_delete() {
            say(
                log,
                &format!(
                    "deep-review: {}: deletion, nothing to review.",
                    u.remote_ref
                ),
            );
            continue;
        }
        if u.local_ref.starts_with("refs/tags/") || u.remote_ref.starts_with("refs/tags/") {
            say(
                log,
                &format!("deep-review: {}: tag, not reviewed.", u.remote_ref),
            );
            continue;
        }
        let Some(pushed) = crate::push_range::pushed_range(repo, remote, u)? else {
            say(
                log,
                &format!("deep-review: {}: no new commits to review.", u.remote_ref),
            );
            continue;
        };
        let req = ReviewRequest {
            local_ref: u.local_ref.clone(),
            remote_ref: u.remote_ref.clone(),
            spec: pushed.spec(),
            base: pushed.base,
            head: pushed.head,
            deadline,
            why: pushed.why,
        };
        let facts = if Instant::now() >= deadline {
            // Nothing of this ref was reviewed: the timeout policy decides.
            ReviewFacts {
                not_reviewed: vec![(
                    u.remote_ref.clone(),
                    "the time budget was used up before its review started".into(),
                )],
                ..Default::default()
            }
        } else {
            say(
                log,
                &format!(
                    "deep-review: reviewing {} ({}) for {}...",
                    req.spec, req.why, u.remote_ref
                ),
            );
            match review(&req) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    say(
                        log,
                        &format!(
                            "deep-review: {}: nothing to review (every changed file is skipped: see `git deep-review {} --plan`).",
                            u.remote_ref, req.spec
                        ),
                    );
                    continue;
                }
                Err(Error::Interrupted) => {
                    say(log, "deep-review: interrupted; push aborted.");
                    return Ok(EXIT_INTERRUPTED);
                }
                Err(e) => {
                    say(
                        log,
                        &format!(
                            "deep-review: push blocked: the review failed: {e}\n{BYPASS_HELP}"
                        ),
                    );
                    return Ok(e.exit_code());
                }
            }
        };
        let decision = evaluate(&settings.gate, &faults, &facts, Context::Push);
        say(log, &decision.message);
        blocked |= decision.block;
    }
    Ok(if blocked { EXIT_BLOCKED } else { EXIT_OK })
}

/// How long past the deadline the hook waits for the pipeline to stop on
/// its own (it checks the deadline between chunks, and one chunk of a slow
/// model can take a minute) before the watchdog ends the process.
pub fn hard_stop_grace(budget_secs: u64) -> Duration {
    Duration::from_secs((budget_secs / 10).clamp(5, 30))
}

/// The time budget must bound the push even when the pipeline is stuck in
/// one long generation: past the deadline plus [`hard_stop_grace`], a
/// watchdog thread prints the timeout decision and exits the process (0 =
/// allow, 1 = `on_timeout = "block"`). What was reviewed so far is already
/// in the cache, whose entries are written atomically, so the next push
/// continues from there. The returned sender stops the watchdog when dropped.
fn start_watchdog(deadline: Instant, settings: &Settings) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let fire_at = deadline + hard_stop_grace(settings.time_budget_secs);
    let budget = settings.time_budget_secs;
    let on_timeout = settings.on_timeout;
    std::thread::spawn(move || {
        let wait = fire_at.saturating_duration_since(Instant::now());
        if !matches!(
            rx.recv_timeout(wait),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        ) {
            return;
        }
        let (code, verdict) = match on_timeout {
            OnTimeout::Allow => (EXIT_OK, "push allowed".to_string()),
            OnTimeout::Block => (
                EXIT_BLOCKED,
                format!("push blocked (review.on_timeout = \"block\").\n{BYPASS_HELP}"),
            ),
        };
        eprintln!(
            "\ndeep-review: warning: the time budget ({budget} s) ran out in the middle of a review; \
             stopped it (the chunks already reviewed are cached: the next run continues from there); {verdict}"
        );
        std::process::exit(code);
    });
    tx
}
