//! Installing the pre-push hook without losing the hook that was there,
//! removing it, and saying what is installed. The hook itself is the POSIX
//! sh template in `hooks/pre-push`.

use crate::error::{Error, Result};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The hook template, with `@GIT_DEEP_REVIEW_EXE@` and
/// `@GIT_DEEP_REVIEW_GLOBAL@` filled in at install time.
pub const TEMPLATE: &str = include_str!("../../hooks/pre-push");
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
    move_to_free_name(dir, hook, EDITED_NAME)
}

/// Moves `hook` to the first free name of `base`, `base.1`… in `dir`,
/// never replacing an existing file (a backup is never destroyed), and
/// returns where.
fn move_to_free_name(dir: &Path, hook: &Path, base: &str) -> Result<PathBuf> {
    for n in 0..1000 {
        let name = match n {
            0 => base.to_string(),
            n => format!("{base}.{n}"),
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
        "{dir}/{base} .. .999 are all taken, so {} cannot be kept; move {} away yourself",
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
            // Two installs in the same second get the same stamp: the
            // second backup is numbered, never renamed over the first.
            let stamp = jiff::Timestamp::now().as_second();
            let backup = move_to_free_name(
                dir,
                &hook,
                &format!("{HOOK_NAME}.deep-review-backup-{stamp}"),
            )?;
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
