//! Model file presence and integrity: sha256 before first use, remembered.
//!
//! Hashing a 20 GB model takes a minute, so a successful check is recorded
//! in `$XDG_CACHE_HOME/git-deep-review/verified.json`, keyed by canonical
//! path and remembered with the file's device, inode, size, mtime and
//! ctime. Any change of those means the file is hashed again. The ctime
//! is what makes an in-place edit visible: a user can put an old mtime
//! back (`touch -d`), but every write and every mtime change sets the ctime
//! to the current time, and only root (by changing the clock) can pick it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::entry::{home, ModelEntry};
use crate::error::{Error, Result};

/// One remembered verification: the hash and the file identity it was
/// computed for. Records written by older versions (without the identity
/// fields) fail to parse and only cost a re-hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    identity: Identity,
    sha256: String,
}

/// What changes whenever a file's content can have changed: a replaced file
/// has a new inode (or device), a written one a new ctime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// Where verifications are remembered.
pub fn verified_cache_file() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home().join(".cache"));
    base.join("git-deep-review").join("verified.json")
}

/// The error for a model file that is not where the manifest says.
pub fn missing_model_error(entry: &ModelEntry, path: &Path) -> Error {
    Error::Model(format!(
        "model `{}`: file {} not found. Get the bundled models with `./install.sh` or \
         `models/fetch.sh --dest {}` (air-gapped: `models/fetch.sh --models-from DIR`), \
         or point GIT_DEEP_REVIEW_MODELS_DIR at the directory holding {}",
        entry.name,
        path.display(),
        path.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        entry.file
    ))
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    super::entry::check_regular_file(path)?;
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn stat(path: &Path) -> Result<(PathBuf, Identity)> {
    let canon = std::fs::canonicalize(path)
        .map_err(|e| Error::io(format!("resolving {}", path.display()), e))?;
    let md =
        std::fs::metadata(&canon).map_err(|e| Error::io(format!("stat {}", canon.display()), e))?;
    Ok((canon, identity(&md)))
}

#[cfg(unix)]
fn identity(md: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    let ns = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
    Identity {
        dev: md.dev(),
        ino: md.ino(),
        size: md.size(),
        mtime_ns: ns(md.mtime(), md.mtime_nsec()),
        ctime_ns: ns(md.ctime(), md.ctime_nsec()),
    }
}

/// Without inode and ctime, only size and mtime are known: an edit with the
/// mtime put back goes unnoticed there.
#[cfg(not(unix))]
fn identity(md: &std::fs::Metadata) -> Identity {
    let mtime_ns = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    Identity {
        dev: 0,
        ino: 0,
        size: md.len(),
        mtime_ns,
        ctime_ns: 0,
    }
}

fn load_records(cache: &Path) -> BTreeMap<String, Record> {
    // A damaged cache only costs a re-hash, so it is ignored rather than fatal.
    std::fs::read(cache)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn store_record(cache: &Path, key: String, rec: Record) {
    let Some(dir) = cache.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let mut all = load_records(cache);
    all.insert(key, rec);
    let Ok(json) = serde_json::to_vec_pretty(&all) else {
        return;
    };
    // Atomic: a concurrent run sees the old or the new file, never half of one.
    // Failing to remember is harmless (we hash again next time).
    if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) {
        use std::io::Write;
        if tmp.write_all(&json).is_ok() {
            let _ = tmp.persist(cache);
        }
    }
}

/// Whether `path` is already known to match `entry` (no hashing).
pub fn is_verified(entry: &ModelEntry, path: &Path, cache: &Path) -> bool {
    !entry.sha256.is_empty() && remembered_sha256(path, cache).is_some_and(|s| s == entry.sha256)
}

/// The sha256 remembered for `path`, if its file has not changed since.
pub fn remembered_sha256(path: &Path, cache: &Path) -> Option<String> {
    let (canon, identity) = stat(path).ok()?;
    load_records(cache)
        .get(&canon.display().to_string())
        .filter(|r| r.identity == identity)
        .map(|r| r.sha256.clone())
}

/// Checks that the model file exists, has the manifest's size and sha256
/// (hashing only when not remembered), and remembers success in `cache`.
pub fn verify_model_with_cache(entry: &ModelEntry, path: &Path, cache: &Path) -> Result<()> {
    if !path.exists() {
        return Err(missing_model_error(entry, path));
    }
    let (_, identity) = stat(path)?;
    let size = identity.size;
    if entry.size != 0 && size != entry.size {
        return Err(Error::Model(format!(
            "model `{}`: {} has {size} bytes but the manifest says {} bytes: the file is truncated or \
             a different model; fetch it again (./install.sh or models/fetch.sh)",
            entry.name,
            path.display(),
            entry.size
        )));
    }
    // Without a hash to check against (a path, an LM Studio file, a user
    // entry without one) the file is still hashed once and remembered, so
    // the cache knows exactly which weights answered and an edit is noticed.
    let actual = sha256_remembered(path, cache)?;
    if !entry.sha256.is_empty() && actual != entry.sha256 {
        return Err(Error::Model(format!(
            "model `{}`: sha256 mismatch for {}: expected {}, got {}. The file is corrupt or a different \
             model; fetch it again (./install.sh or models/fetch.sh), or fix the manifest entry",
            entry.name,
            path.display(),
            entry.sha256,
            actual
        )));
    }
    Ok(())
}

/// The file's sha256: remembered, else hashed now and remembered (the
/// record says what the file holds, whether or not that is what a manifest
/// expects).
pub fn sha256_remembered(path: &Path, cache: &Path) -> Result<String> {
    if let Some(sha) = remembered_sha256(path, cache) {
        return Ok(sha);
    }
    let (canon, identity) = stat(path)?;
    let actual = sha256_file(&canon)?;
    // A file written to while it was hashed has a new ctime by now: do not
    // vouch for the identity seen before.
    if stat(path).ok().map(|(_, now)| now).as_ref() == Some(&identity) {
        store_record(
            cache,
            canon.display().to_string(),
            Record {
                identity,
                sha256: actual.clone(),
            },
        );
    }
    Ok(actual)
}

/// [`verify_model_with_cache`] with the default cache file.
pub fn verify_model(entry: &ModelEntry, path: &Path) -> Result<()> {
    verify_model_with_cache(entry, path, &verified_cache_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::entry::ChatTemplate;

    fn entry(sha: &str, size: u64) -> ModelEntry {
        ModelEntry {
            name: "t".into(),
            file: "t.gguf".into(),
            sha256: sha.into(),
            size,
            source: String::new(),
            license: String::new(),
            chat_template: ChatTemplate::Auto,
            n_ctx: 512,
            demonstration: false,
            remote: None,
        }
    }

    #[test]
    fn verifies_remembers_and_rechecks_after_change() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.gguf");
        let cache = dir.path().join("c/verified.json");
        std::fs::write(&f, b"hello").unwrap();
        // sha256("hello")
        let good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let e = entry(good, 5);
        assert!(!is_verified(&e, &f, &cache));
        verify_model_with_cache(&e, &f, &cache).unwrap();
        assert!(is_verified(&e, &f, &cache));
        // Same size, different content and mtime → must be hashed again and fail.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&f, b"jello").unwrap();
        assert!(!is_verified(&e, &f, &cache));
        let msg = verify_model_with_cache(&e, &f, &cache)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(good) && msg.contains("t.gguf") && msg.contains("mismatch"),
            "{msg}"
        );
    }

    #[test]
    fn an_in_place_edit_with_the_mtime_put_back_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.gguf");
        let cache = dir.path().join("c/verified.json");
        std::fs::write(&f, b"hello").unwrap();
        let good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let e = entry(good, 5);
        verify_model_with_cache(&e, &f, &cache).unwrap();
        assert!(is_verified(&e, &f, &cache));
        let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
        // The ctime has a clock tick to move on to, however coarse the file
        // system's timestamps are.
        std::thread::sleep(std::time::Duration::from_millis(20));
        {
            use std::io::Write;
            let mut w = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
            w.write_all(b"j").unwrap();
            w.set_modified(mtime).unwrap();
        }
        let md = std::fs::metadata(&f).unwrap();
        assert_eq!((md.len(), md.modified().unwrap()), (5, mtime));
        assert!(
            !is_verified(&e, &f, &cache),
            "size and mtime are not enough"
        );
        let msg = verify_model_with_cache(&e, &f, &cache)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("mismatch"), "{msg}");
    }

    #[test]
    fn a_replaced_file_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.gguf");
        let cache = dir.path().join("v.json");
        std::fs::write(&f, b"hello").unwrap();
        let good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let e = entry(good, 5);
        verify_model_with_cache(&e, &f, &cache).unwrap();
        let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, b"jello").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&other)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        std::fs::rename(&other, &f).unwrap();
        assert!(!is_verified(&e, &f, &cache));
    }

    #[test]
    fn missing_and_wrong_size_are_model_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("v.json");
        let f = dir.path().join("t.gguf");
        let msg = verify_model_with_cache(&entry("", 0), &f, &cache)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("not found")
                && msg.contains("install.sh")
                && msg.contains("--models-from"),
            "{msg}"
        );
        std::fs::write(&f, b"abc").unwrap();
        let err = verify_model_with_cache(&entry("", 4), &f, &cache).unwrap_err();
        assert!(matches!(err, Error::Model(_)));
        assert!(err.to_string().contains("3 bytes"));
    }
}
