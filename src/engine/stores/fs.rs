//! Reading the stores' directories and small files without ever failing a
//! scan: listings with problems collected, dangling symlinks described,
//! JSON files read with a size cap.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Manifests (and LM Studio's settings) are a few hundred bytes; anything
/// larger than this is not one and is not read into memory.
pub(super) const MAX_JSON_BYTES: u64 = 1 << 20;

/// Whether an error means "nothing there" (silently absent) rather than
/// "there but unreadable" (reported).
pub(super) fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// One directory entry.
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) path: PathBuf,
    /// Whether the entry itself is a symlink (so directory symlinks can be
    /// left alone where following them could loop).
    pub(super) is_symlink: bool,
    /// The metadata of what it points to; `Err` for a dangling symlink.
    pub(super) meta: std::result::Result<std::fs::Metadata, std::io::Error>,
}

impl Entry {
    pub(super) fn is_dir(&self) -> bool {
        self.meta.as_ref().is_ok_and(|m| m.is_dir())
    }
    pub(super) fn is_file(&self) -> bool {
        self.meta.as_ref().is_ok_and(|m| m.is_file())
    }
    pub(super) fn len(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.len())
    }
}

/// The entries of `dir`, sorted by name (so scans are deterministic),
/// hidden ones left out. An unreadable directory or entry is a problem;
/// the rest of the directory is still listed.
pub(super) fn list_dir(dir: &Path, problems: &mut Vec<String>) -> Vec<Entry> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            problems.push(format!("{}: cannot read ({e})", dir.display()));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for de in rd {
        let de = match de {
            Ok(de) => de,
            Err(e) => {
                problems.push(format!("{}: cannot read an entry ({e})", dir.display()));
                continue;
            }
        };
        let path = de.path();
        let Some(name) = de.file_name().to_str().map(str::to_string) else {
            // References are text; a name that is not UTF-8 cannot be one.
            problems.push(format!("{}: name is not UTF-8, skipped", path.display()));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let is_symlink = de.file_type().is_ok_and(|t| t.is_symlink());
        let meta = std::fs::metadata(&path);
        out.push(Entry {
            name,
            path,
            is_symlink,
            meta,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The problem for a symlink whose target is gone.
pub(super) fn dangling(path: &Path) -> String {
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into());
    format!(
        "{}: dangling symlink to {target} (the file it points to is missing; download it again)",
        path.display()
    )
}

/// At most `max` bytes of a file, or a problem naming it.
pub(super) fn read_capped(path: &Path, max: u64) -> std::result::Result<Vec<u8>, String> {
    // A FIFO would wait for a writer forever, a device never end.
    crate::engine::entry::check_regular_file(path).map_err(|e| e.to_string())?;
    let f =
        std::fs::File::open(path).map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    if buf.len() as u64 > max {
        return Err(format!(
            "{}: larger than {} KiB, not a file this store writes",
            path.display(),
            max / 1024
        ));
    }
    Ok(buf)
}
