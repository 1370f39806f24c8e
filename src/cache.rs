//! The review cache: one file per (chunk, reviewer) result under
//! `<git dir>/deep-review/cache/`, keyed by everything that determines it.
//!
//! Design choices, because a cache that lies is worse
//! than none:
//! - Every entry carries a header with the payload's length and SHA-256; an
//!   entry that does not verify is deleted and reported as a miss.
//! - Writes go to a temporary file in the same directory and are renamed
//!   into place, so readers (another terminal, the hook) never see half an
//!   entry, and two writers of the same key both leave a complete one.
//! - Eviction removes the least recently used entries (a hit refreshes the
//!   mtime) once the total exceeds the bound.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// First line of every entry; the version changes when the format does.
const MAGIC: &str = "git-deep-review-cache v1";
/// Temporary files are named with this prefix; stale ones (a process killed
/// mid-write) are removed on open.
const TMP_PREFIX: &str = ".tmp-";
/// A temporary file older than this belongs to a dead writer (killed by
/// Ctrl-C between create and rename); a live one exists for milliseconds.
const STALE_TMP: Duration = Duration::from_secs(120);

/// What a cached result is keyed by: SHA-256 over length-prefixed parts, so
/// `["ab", "c"]` and `["a", "bc"]` differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// Key over the given parts (chunk diff text, model sha256, prompt text,
    /// sampling, tool version...). The order of the parts matters.
    pub fn new(parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        h.update(b"git-deep-review cache key v1\0");
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        CacheKey(h.finalize().into())
    }

    /// Lower-case hex form (the entry's file name).
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Directory under the cache directory where chunk locks live (not a
/// two-hex-digit fan-out name, so entry scans never see it).
const LOCKS_DIR: &str = "locks";

/// A claim on one key while this process makes its answer (see
/// [`Cache::try_claim`]), so that a hook and a manual review in the same
/// repository never make the same answer twice.
///
/// It is an advisory `flock` on a file under `locks/`, and that choice
/// is what makes a stale lock impossible: when the holder dies (killed,
/// crashed, power cut) the kernel drops its lock, and the file left behind
/// is claimed by the next process as if it were new. Dropping the claim
/// removes the file first and unlocks after, so a waiter that opened the
/// old file notices (its inode is gone) and opens the name again.
#[derive(Debug)]
pub struct ChunkLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl Drop for ChunkLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What [`Cache::try_claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// This process holds the key until the lock is dropped.
    Mine(ChunkLock),
    /// Another live process holds it (its pid, when it wrote one).
    Theirs(Option<u32>),
}

/// Result of [`Cache::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Hit(String),
    Miss,
    /// An entry existed but failed verification; it has been deleted.
    Corrupt,
}

/// Counters and size of the cache (`git deep-review cache stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    /// Counters of this process's lookups.
    pub hits: u64,
    pub misses: u64,
    pub corrupt: u64,
    pub evicted: u64,
}

impl std::fmt::Display for CacheStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |b: u64| b as f64 / 1e6;
        write!(
            f,
            "{} entries, {:.1} MB of {:.1} MB",
            self.entries,
            mb(self.bytes),
            mb(self.max_bytes)
        )?;
        if self.hits + self.misses + self.corrupt > 0 {
            write!(
                f,
                "; this run: {} hits, {} misses, {} corrupt entries dropped",
                self.hits, self.misses, self.corrupt
            )?;
        }
        Ok(())
    }
}

/// An open cache directory. Shareable between threads (`&self` methods).
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
    /// Running estimate of the total size, to avoid scanning on every put.
    approx_bytes: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
    evicted: AtomicU64,
}

/// The conventional cache directory of a repository.
pub fn default_dir(git_dir: &Path) -> PathBuf {
    git_dir.join("deep-review").join("cache")
}

impl Cache {
    /// Opens (creating if needed) the cache at `dir`, bounded to `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Cache> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating cache directory {}", dir.display()), e))?;
        let cache = Cache {
            dir: dir.to_path_buf(),
            max_bytes,
            approx_bytes: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        };
        let mut total = 0;
        for e in cache.scan()? {
            total += e.len;
        }
        cache.approx_bytes.store(total, Ordering::Relaxed);
        cache.remove_stale_tmp();
        Ok(cache)
    }

    /// The directory this cache lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, key: &CacheKey) -> PathBuf {
        let h = key.hex();
        self.dir.join(&h[..2]).join(&h[2..])
    }

    /// The cached text for `key`, or `None` (miss, or a corrupt entry that
    /// was just deleted).
    pub fn get(&self, key: &CacheKey) -> Option<String> {
        match self.lookup(key) {
            Lookup::Hit(s) => Some(s),
            Lookup::Miss | Lookup::Corrupt => None,
        }
    }

    /// Like [`Cache::get`] but tells a corrupt entry apart from a miss.
    pub fn lookup(&self, key: &CacheKey) -> Lookup {
        let path = self.path_of(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(_) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return Lookup::Miss;
            }
        };
        match decode(&bytes) {
            Some(text) => {
                // Refresh the mtime so eviction removes least-recently-used
                // entries; failing to is harmless.
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
                self.hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Hit(text)
            }
            None => {
                // Never trusted; removing it lets the next put rebuild it.
                if std::fs::remove_file(&path).is_ok() {
                    let n = bytes.len() as u64;
                    let _ =
                        self.approx_bytes
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                                Some(v.saturating_sub(n))
                            });
                }
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                Lookup::Corrupt
            }
        }
    }

    /// Stores `value` under `key`, atomically (temp file + rename).
    pub fn put(&self, key: &CacheKey, value: &str) -> Result<()> {
        let path = self.path_of(key);
        let sub = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(sub)
            .map_err(|e| Error::io(format!("creating {}", sub.display()), e))?;
        let encoded = encode(value);
        let mut tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(sub)
            .map_err(|e| Error::io(format!("creating a temporary file in {}", sub.display()), e))?;
        tmp.write_all(&encoded)
            .and_then(|_| tmp.as_file().sync_data())
            .map_err(|e| Error::io(format!("writing cache entry {}", path.display()), e))?;
        tmp.persist(&path).map_err(|e| {
            Error::io(
                format!("renaming cache entry into {}", path.display()),
                e.error,
            )
        })?;
        let total = self
            .approx_bytes
            .fetch_add(encoded.len() as u64, Ordering::Relaxed)
            + encoded.len() as u64;
        if total > self.max_bytes {
            self.evict()?;
        }
        Ok(())
    }

    /// Claims `key` without waiting: [`Claim::Mine`] when no live process
    /// holds it (a lock left by a dead one is taken over), else
    /// [`Claim::Theirs`]. An error means locks cannot be used here (a
    /// read-only directory...): the caller goes on without one.
    pub fn try_claim(&self, key: &CacheKey) -> std::io::Result<Claim> {
        use std::io::{Read, Seek};
        use std::os::unix::fs::MetadataExt;
        let dir = self.dir.join(LOCKS_DIR);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(key.hex());
        loop {
            let mut file = std::fs::File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            // fs4 rather than std's File::try_lock: that needs Rust 1.89,
            // and Debian's rustc is older.
            if !fs4::fs_std::FileExt::try_lock_exclusive(&file)? {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Ok(Claim::Theirs(pid.trim().parse().ok()));
            }
            // The previous holder may have removed the name between our
            // open and our lock: then this lock guards nothing anyone else
            // can see, so open the name again.
            let held = file.metadata()?;
            let named = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if (held.dev(), held.ino()) != (named.dev(), named.ino()) {
                continue;
            }
            // Who holds it, for the message of whoever waits.
            file.set_len(0)?;
            file.rewind()?;
            file.write_all(std::process::id().to_string().as_bytes())?;
            return Ok(Claim::Mine(ChunkLock { path, _file: file }));
        }
    }

    /// Removes least recently used entries until the cache fits its bound.
    /// Returns the bytes freed. Safe against concurrent evictors: a file
    /// someone else removed first is simply skipped.
    pub fn evict(&self) -> Result<u64> {
        let mut entries = self.scan()?;
        let mut total: u64 = entries.iter().map(|e| e.len).sum();
        let mut freed = 0;
        if total > self.max_bytes {
            entries.sort_by_key(|e| e.mtime);
            for e in entries {
                if total <= self.max_bytes {
                    break;
                }
                if std::fs::remove_file(&e.path).is_ok() {
                    freed += e.len;
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                }
                total = total.saturating_sub(e.len);
            }
        }
        self.approx_bytes.store(total, Ordering::Relaxed);
        Ok(freed)
    }

    /// Deletes every entry; returns the bytes freed.
    pub fn clear(&self) -> Result<u64> {
        let mut freed = 0;
        for e in self.scan()? {
            if std::fs::remove_file(&e.path).is_ok() {
                freed += e.len;
            }
        }
        // Empty fan-out directories are noise; ignore failures (another
        // process may be writing into one right now).
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for d in rd.flatten() {
                let _ = std::fs::remove_dir(d.path());
            }
        }
        self.approx_bytes.store(0, Ordering::Relaxed);
        Ok(freed)
    }

    /// Size and counters.
    pub fn stats(&self) -> Result<CacheStats> {
        let entries = self.scan()?;
        Ok(CacheStats {
            entries: entries.len() as u64,
            bytes: entries.iter().map(|e| e.len).sum(),
            max_bytes: self.max_bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            corrupt: self.corrupt.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
        })
    }

    fn scan(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(Error::io(
                    format!("reading cache directory {}", self.dir.display()),
                    e,
                ))
            }
        };
        for sub in rd.flatten() {
            let name = sub.file_name();
            let name = name.to_string_lossy();
            if name.len() != 2 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let Ok(files) = std::fs::read_dir(sub.path()) else {
                continue;
            };
            for f in files.flatten() {
                if f.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    continue;
                }
                if let Ok(md) = f.metadata() {
                    if md.is_file() {
                        out.push(Entry {
                            path: f.path(),
                            len: md.len(),
                            mtime: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    fn remove_stale_tmp(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for sub in rd.flatten() {
            let Ok(files) = std::fs::read_dir(sub.path()) else {
                continue;
            };
            for f in files.flatten() {
                if !f.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    continue;
                }
                let old = f
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age > STALE_TMP);
                if old {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
    }
}

struct Entry {
    path: PathBuf,
    len: u64,
    mtime: SystemTime,
}

fn encode(value: &str) -> Vec<u8> {
    let sum = hex::encode(Sha256::digest(value.as_bytes()));
    let mut out = format!("{MAGIC} {} {sum}\n", value.len()).into_bytes();
    out.extend_from_slice(value.as_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<String> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..nl]).ok()?;
    let rest = header.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    let (len, sum) = rest.split_once(' ')?;
    let len: usize = len.parse().ok()?;
    let payload = &bytes[nl + 1..];
    if payload.len() != len || hex::encode(Sha256::digest(payload)) != sum {
        return None;
    }
    String::from_utf8(payload.to_vec()).ok()
}
