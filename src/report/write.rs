//! Where and how a rendered report is written.
//!
//! * No `-o`: a new file in the reports directory, named after the run's
//!   start, branch and reviewed head (`20260320-234205-main-1a2b3c4.md`).
//!   The name is taken with no-clobber semantics, so two runs in the same
//!   second never replace each other's report: the later one gets `-2`,
//!   `-3`…
//! * `-o -`, or `-o` naming this process's standard output (`/dev/stdout`,
//!   `/proc/self/fd/1`, or the file stdout is redirected to): written to
//!   stdout.
//! * `-o` onto a symlink: written to what the link points at; the link
//!   stays a link.
//! * `-o` onto a FIFO or a character device: opened and written in place.
//! * `-o` onto a regular file: replaced atomically (temp file in the same
//!   directory, synced, renamed), keeping the file's permission bits.
//! * `-o` onto a new path: created with the usual umask-based mode.
//!
//! A directory, block device or socket is refused with a message naming it.

use super::model::{Format, ReviewReport};
use crate::error::{Error, Result};
use std::fs::{self, File, Metadata, OpenOptions, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many numbered names (`-2`, `-3`…) are tried before giving up.
const MAX_NAME_ATTEMPTS: usize = 10_000;
/// Symbolic links followed at most (as the kernel's own limit).
const MAX_LINK_HOPS: usize = 40;
/// Mode asked for new files; the process umask narrows it as for any file.
const NEW_FILE_MODE: u32 = 0o666;

/// Writes a rendered report where the user asked (`output`) or, without
/// `-o`, to a new uniquely named file in `default_dir`. Returns the path
/// written, or `None` when the report went to standard output.
pub fn write(
    report: &ReviewReport,
    format: Format,
    text: &[u8],
    output: Option<&Path>,
    default_dir: &Path,
) -> Result<Option<PathBuf>> {
    match output {
        Some(p) => to_output(p, text),
        None => {
            // Reports are kept in the repository's git dir, shown as an
            // absolute path so it can be opened from anywhere.
            let dir =
                std::path::absolute(default_dir).unwrap_or_else(|_| default_dir.to_path_buf());
            to_new_file(&dir, &default_stem(report), extension(format), text).map(Some)
        }
    }
}

/// File extension of a report format.
pub fn extension(format: Format) -> &'static str {
    match format {
        Format::Markdown => "md",
        Format::Json => "json",
        Format::Sarif => "sarif",
        // Not `.json`: the report directory's `.json` files are review records
        // (the JSON beside each report), which the next review reads.
        Format::Codequality => "codequality",
        Format::Html => "html",
    }
}

/// The default report name without extension: the report id (start time,
/// branch or range) and the reviewed head's short id, so reviews of
/// different heads in the same second already differ by name.
pub fn default_stem(report: &ReviewReport) -> String {
    let short = report
        .commits
        .iter()
        .find(|c| c.id == report.head)
        .map_or_else(
            || report.head.chars().take(7).collect::<String>(),
            |c| c.short.clone(),
        );
    let short = super::model::sanitize_file_part(&short);
    format!("{}-{short}", super::model::sanitize_file_part(&report.id))
}

/// Where a report goes by default: `<git_dir>/deep-review/reports/<id>.md`
/// (the name [`write`] starts from; it adds `-2`, `-3`… when taken).
pub fn default_report_path(git_dir: &Path, id: &str) -> PathBuf {
    git_dir
        .join("deep-review")
        .join("reports")
        .join(format!("{}.md", super::model::sanitize_file_part(id)))
}

/// Creates `<dir>/<stem>.<ext>` — or `<stem>-2.<ext>`, `<stem>-3.<ext>`…
/// when that name is taken — with `bytes` as content, never replacing an
/// existing file (the final rename is no-clobber, so concurrent runs cannot
/// take the same name either). Missing directories are created.
pub fn to_new_file(dir: &Path, stem: &str, ext: &str, bytes: &[u8]) -> Result<PathBuf> {
    let mut tmp = filled_temp_file(dir, bytes, None)?;
    for n in 1..=MAX_NAME_ATTEMPTS {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let path = dir.join(name);
        match tmp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => {
                return Err(Error::io(
                    format!("saving the report as {}", path.display()),
                    e.error,
                ))
            }
        }
    }
    Err(Error::io(
        format!(
            "saving the report in {}: {MAX_NAME_ATTEMPTS} names starting with {stem} are taken; remove old reports",
            dir.display()
        ),
        ErrorKind::AlreadyExists.into(),
    ))
}

/// Writes to the path given with `-o` as a user expects of that kind of
/// file (see the module documentation). `None` means standard output.
pub fn to_output(path: &Path, bytes: &[u8]) -> Result<Option<PathBuf>> {
    if path.as_os_str() == "-" || is_stdout(path) {
        write_stdout(bytes)?;
        return Ok(None);
    }
    let target = follow_links(path)?;
    match fs::metadata(&target) {
        Err(e) if e.kind() == ErrorKind::NotFound => create_new(&target, bytes)?,
        Err(e) => return Err(Error::io(format!("reading {}", target.display()), e)),
        Ok(meta) => {
            let kind = meta.file_type();
            if kind.is_file() {
                replace_regular(&target, &meta, bytes)?;
            } else if kind.is_fifo() || kind.is_char_device() {
                write_in_place(&target, bytes)?;
            } else {
                let what = if kind.is_dir() {
                    "a directory"
                } else if kind.is_block_device() {
                    "a block device"
                } else {
                    "a socket"
                };
                return Err(Error::Usage(format!(
                    "-o {}: {} is {what}; give a file to write the report to",
                    path.display(),
                    target.display()
                )));
            }
        }
    }
    Ok(Some(path.to_path_buf()))
}

/// Writes `bytes` to `path`, a regular file or a new one, so that readers
/// see the old file or the whole new one, never a torn write: a temp file
/// in the same directory, synced, then renamed over `path`. An existing
/// file keeps its permission bits (and owner, where allowed); a new one
/// gets the umask-based mode. Missing parent directories are created.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => replace_regular(path, &meta, bytes),
        _ => create_new(path, bytes),
    }
}

/// Whether `path` is (or leads to) the file this process's stdout is.
fn is_stdout(path: &Path) -> bool {
    use std::os::fd::AsFd;
    let Ok(target) = fs::metadata(path) else {
        return false;
    };
    let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    File::from(fd)
        .metadata()
        .is_ok_and(|out| out.dev() == target.dev() && out.ino() == target.ino())
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("writing the report to stdout", e))
}

/// The path a chain of symbolic links ends at (the path itself when it is
/// no link); a dangling link gives the path it names.
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINK_HOPS {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = fs::read_link(&current)
                    .map_err(|e| Error::io(format!("reading the link {}", current.display()), e))?;
                // A relative target is relative to the link's directory.
                current = match current.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::Usage(format!(
        "-o {}: more than {MAX_LINK_HOPS} symbolic links to follow (a loop?)",
        path.display()
    )))
}

/// The directory a file at `path` lives in (`.` for a bare name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A synced temp file in `dir` (created when missing) holding `bytes`,
/// with `mode` or else the umask-based mode of a new file.
fn filled_temp_file(
    dir: &Path,
    bytes: &[u8],
    mode: Option<u32>,
) -> Result<tempfile::NamedTempFile> {
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".deep-review-")
        .permissions(Permissions::from_mode(NEW_FILE_MODE))
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("creating a temp file in {}", dir.display()), e))?;
    if let Some(mode) = mode {
        // Set explicitly: the umask must not narrow an existing file's mode.
        tmp.as_file()
            .set_permissions(Permissions::from_mode(mode))
            .map_err(|e| Error::io(format!("setting the mode of {}", tmp.path().display()), e))?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(format!("writing {}", tmp.path().display()), e))?;
    Ok(tmp)
}

fn create_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = filled_temp_file(&dir_of(path), bytes, None)?;
    persist(tmp, path)
}

/// Atomically replaces the regular file `path` (described by `meta`),
/// keeping its permission bits and, where the process may, its owner.
fn replace_regular(path: &Path, meta: &Metadata, bytes: &[u8]) -> Result<()> {
    // Only the rwx bits: setuid/setgid must not pass to new content.
    let tmp = filled_temp_file(&dir_of(path), bytes, Some(meta.mode() & 0o777))?;
    // Best effort: only root may give a file away; others keep their own.
    let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
    persist(tmp, path)
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    tmp.persist(path).map_err(|e| {
        Error::io(
            format!("renaming the report to {}", path.display()),
            e.error,
        )
    })?;
    Ok(())
}

/// Opens a FIFO or device and writes to it; nothing is created or renamed.
fn write_in_place(path: &Path, bytes: &[u8]) -> Result<()> {
    let context = || format!("writing the report to {}", path.display());
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(context(), e))?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| Error::io(context(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn a_taken_name_gets_the_next_number_and_nothing_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("reports");
        let first = to_new_file(&d, "20260320-234205-main-1a2b3c4", "md", b"one").unwrap();
        assert_eq!(first, d.join("20260320-234205-main-1a2b3c4.md"));
        // Someone else took `-2` meanwhile.
        fs::write(d.join("20260320-234205-main-1a2b3c4-2.md"), "other").unwrap();
        let third = to_new_file(&d, "20260320-234205-main-1a2b3c4", "md", b"three").unwrap();
        assert_eq!(third, d.join("20260320-234205-main-1a2b3c4-3.md"));
        assert_eq!(fs::read_to_string(&first).unwrap(), "one");
        assert_eq!(
            fs::read_to_string(d.join("20260320-234205-main-1a2b3c4-2.md")).unwrap(),
            "other"
        );
        assert_eq!(fs::read_to_string(&third).unwrap(), "three");
        // No temp file is left behind.
        assert_eq!(fs::read_dir(&d).unwrap().count(), 3);
    }

    #[test]
    fn a_link_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.md");
        fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink("real.md", &link).unwrap();
        assert_eq!(to_output(&link, b"new").unwrap(), Some(link.clone()));
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");

        // A dangling link creates the file it names.
        let dangling = dir.path().join("dangling.md");
        std::os::unix::fs::symlink("sub/made.md", &dangling).unwrap();
        to_output(&dangling, b"made").unwrap();
        assert!(fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read_to_string(dir.path().join("sub/made.md")).unwrap(),
            "made"
        );
    }

    #[test]
    fn an_existing_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.md");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, Permissions::from_mode(0o664)).unwrap();
        to_output(&p, b"new").unwrap();
        assert_eq!(mode(&p), 0o664);
        fs::set_permissions(&p, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"newer").unwrap();
        assert_eq!(mode(&p), 0o640);
        assert_eq!(fs::read_to_string(&p).unwrap(), "newer");
    }

    #[test]
    fn a_loop_of_links_and_a_directory_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let e = to_output(&a, b"x").unwrap_err();
        assert!(e.to_string().contains("symbolic links"), "{e}");
        let e = to_output(dir.path(), b"x").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
    }
}
