//! The review cache: hits, misses, corruption, concurrency, eviction.

use git_deep_review::cache::{Cache, CacheKey, Lookup};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn key(chunk: &str, model: &str) -> CacheKey {
    CacheKey::new(&[
        chunk.as_bytes(),
        model.as_bytes(),
        b"prompt",
        b"seed=1",
        b"0.1.0",
    ])
}

fn entry_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).unwrap().flatten() {
        if sub.path().is_dir() {
            for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
                out.push(f.path());
            }
        }
    }
    out
}

#[test]
fn hit_after_put_and_miss_after_any_part_changes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 1 << 20).unwrap();
    let k = key("+let x = 1;", "sha-model-a");
    assert_eq!(cache.get(&k), None);
    cache.put(&k, "{\"findings\":[]}").unwrap();
    assert_eq!(cache.get(&k).as_deref(), Some("{\"findings\":[]}"));
    // A changed chunk, another model: misses.
    assert_eq!(cache.get(&key("+let x = 2;", "sha-model-a")), None);
    assert_eq!(cache.get(&key("+let x = 1;", "sha-model-b")), None);
    // A reopened cache (the next run) still hits.
    let again = Cache::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(again.get(&k).as_deref(), Some("{\"findings\":[]}"));
    let st = cache.stats().unwrap();
    assert_eq!((st.entries, st.hits, st.misses), (1, 1, 3));
}

#[test]
fn key_parts_are_length_prefixed() {
    assert_ne!(CacheKey::new(&[b"ab", b"c"]), CacheKey::new(&[b"a", b"bc"]));
    assert_ne!(CacheKey::new(&[b"abc"]), CacheKey::new(&[b"abc", b""]));
    assert_eq!(CacheKey::new(&[b"ab", b"c"]), CacheKey::new(&[b"ab", b"c"]));
    assert_eq!(CacheKey::new(&[b"x"]).hex().len(), 64);
}

#[test]
fn partial_reuse_only_changed_chunks_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 1 << 20).unwrap();
    let chunks_v1 = ["chunk one", "chunk two", "chunk three"];
    for c in chunks_v1 {
        cache.put(&key(c, "m"), &format!("review of {c}")).unwrap();
    }
    // The branch gets a commit that changes only the second chunk.
    let chunks_v2 = ["chunk one", "chunk two, edited", "chunk three"];
    let hits: Vec<bool> = chunks_v2
        .iter()
        .map(|c| cache.get(&key(c, "m")).is_some())
        .collect();
    assert_eq!(hits, [true, false, true]);
}

#[test]
fn corrupted_or_truncated_entry_is_a_miss_and_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 1 << 20).unwrap();
    let k = key("c", "m");
    let payload = "{\"findings\":[{\"title\":\"real\"}]}";
    cache.put(&k, payload).unwrap();
    let file = entry_files(dir.path()).pop().unwrap();

    // Flip one payload byte: same length, bad checksum.
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(cache.lookup(&k), Lookup::Corrupt);
    assert!(!file.exists(), "a corrupt entry is deleted");
    assert_eq!(cache.lookup(&k), Lookup::Miss);

    // Truncated (a writer killed mid-write without the rename protocol).
    cache.put(&k, payload).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 5]).unwrap();
    assert_eq!(cache.get(&k), None);
    // Garbage with no header at all.
    std::fs::write(&file, "{\"findings\":[]}").unwrap();
    assert_eq!(cache.get(&k), None);
    // Rebuilt by the next put.
    cache.put(&k, payload).unwrap();
    assert_eq!(cache.get(&k).as_deref(), Some(payload));
    assert_eq!(cache.stats().unwrap().corrupt, 3);
}

#[test]
fn concurrent_writers_from_threads_never_leave_a_torn_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(Cache::open(dir.path(), 1 << 30).unwrap());
    let big = "x".repeat(200_000);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let cache = Arc::clone(&cache);
            let big = big.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    // Same keys from every thread, plus some of its own.
                    cache.put(&key(&format!("shared {i}"), "m"), &big).unwrap();
                    cache
                        .put(&key(&format!("own {t} {i}"), "m"), &format!("{t}/{i}"))
                        .unwrap();
                    if let Some(v) = cache.get(&key(&format!("shared {i}"), "m")) {
                        assert_eq!(v.len(), big.len(), "a reader saw a partial entry");
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for i in 0..20 {
        assert_eq!(
            cache
                .get(&key(&format!("shared {i}"), "m"))
                .map(|v| v.len()),
            Some(big.len())
        );
    }
    assert_eq!(cache.stats().unwrap().corrupt, 0);
    assert_eq!(cache.stats().unwrap().entries, 20 + 8 * 20);
    let leftovers: Vec<_> = entry_files(dir.path())
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

/// Two processes: this test binary re-runs itself as writer children.
#[test]
fn concurrent_writers_from_processes() {
    if let Ok(dir) = std::env::var("DEEP_REVIEW_CACHE_CHILD") {
        let cache = Cache::open(Path::new(&dir), 1 << 30).unwrap();
        let big = "y".repeat(300_000);
        for i in 0..30 {
            cache.put(&key(&format!("p {i}"), "m"), &big).unwrap();
            if let Some(v) = cache.get(&key(&format!("p {}", (i + 7) % 30), "m")) {
                assert_eq!(v.len(), big.len());
            }
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "concurrent_writers_from_processes",
                    "--nocapture",
                ])
                .env("DEEP_REVIEW_CACHE_CHILD", dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer process failed");
    }
    let cache = Cache::open(dir.path(), 1 << 30).unwrap();
    for i in 0..30 {
        assert_eq!(
            cache.get(&key(&format!("p {i}"), "m")).map(|v| v.len()),
            Some(300_000)
        );
    }
    assert_eq!(cache.stats().unwrap().corrupt, 0);
}

#[test]
fn eviction_removes_least_recently_used_beyond_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    // Each entry is ~1000 bytes of payload plus a ~100-byte header.
    let cache = Cache::open(dir.path(), 3500).unwrap();
    let body = "z".repeat(1000);
    let keys: Vec<_> = (0..3).map(|i| key(&format!("e{i}"), "m")).collect();
    for (i, k) in keys.iter().enumerate() {
        cache.put(k, &body).unwrap();
        // Distinct mtimes even on coarse-grained file systems.
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(100 - i as u64 * 10);
        let f = entry_files(dir.path())
            .into_iter()
            .find(|p| p.to_string_lossy().ends_with(&k.hex()[2..]))
            .unwrap();
        std::fs::File::options()
            .append(true)
            .open(&f)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
    // Reading e0 makes it the most recently used.
    assert!(cache.get(&keys[0]).is_some());
    cache.put(&key("e3", "m"), &body).unwrap();
    assert!(cache.stats().unwrap().bytes <= 3500);
    assert!(
        cache.get(&keys[1]).is_none(),
        "the least recently used entry is evicted"
    );
    assert!(
        cache.get(&keys[0]).is_some(),
        "a recently read entry survives"
    );
    assert!(
        cache.get(&key("e3", "m")).is_some(),
        "the new entry survives"
    );
}

#[test]
fn clear_frees_everything() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 1 << 20).unwrap();
    for i in 0..5 {
        cache.put(&key(&i.to_string(), "m"), "payload").unwrap();
    }
    let before = cache.stats().unwrap().bytes;
    assert!(before > 0);
    assert_eq!(cache.clear().unwrap(), before);
    assert_eq!(cache.stats().unwrap().entries, 0);
    assert!(cache.get(&key("0", "m")).is_none());
}

fn lock_files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir.join("locks")) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_claimed_key_is_theirs_to_everyone_else_until_released() {
    use git_deep_review::cache::Claim;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 1 << 20).unwrap();
    let k = key("+x", "m");
    let mine = match cache.try_claim(&k).unwrap() {
        Claim::Mine(l) => l,
        Claim::Theirs(p) => panic!("a fresh key is held by {p:?}"),
    };
    // Another open of the lock (another process, or here another claim)
    // sees it held, and by whom.
    match cache.try_claim(&k).unwrap() {
        Claim::Theirs(pid) => assert_eq!(pid, Some(std::process::id())),
        Claim::Mine(_) => panic!("a held key was claimed twice"),
    }
    // Other keys are free meanwhile.
    assert!(matches!(
        cache.try_claim(&key("+y", "m")).unwrap(),
        Claim::Mine(_)
    ));
    assert_eq!(
        lock_files(dir.path()).len(),
        1,
        "the released claim on +y left a file"
    );
    drop(mine);
    assert!(
        lock_files(dir.path()).is_empty(),
        "a released claim leaves no file"
    );
    assert!(matches!(cache.try_claim(&k).unwrap(), Claim::Mine(_)));
    // Entries are not confused with locks.
    assert_eq!(cache.stats().unwrap().entries, 0);
}

#[test]
fn a_lock_whose_holder_was_killed_is_taken_over() {
    use git_deep_review::cache::Claim;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 1 << 20).unwrap();
    let k = key("+x", "m");
    // Another process takes the lock the way a review does (flock on the
    // key's file under locks/) and is then killed while holding it.
    let Claim::Mine(probe) = cache.try_claim(&k).unwrap() else {
        panic!("fresh key held")
    };
    let path = dir.path().join("locks").join(k.hex());
    drop(probe);
    std::fs::write(&path, "999999").unwrap();
    // -o: flock(1) itself holds the lock, not the command it runs (so
    // killing it releases the lock, as killing a review does).
    let mut holder = std::process::Command::new("flock")
        .arg("-o")
        .arg(&path)
        .args(["sh", "-c", "echo locked; exec sleep 60"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run flock(1) (util-linux)");
    // flock(1) says so once it holds the lock.
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    match cache.try_claim(&k).unwrap() {
        Claim::Theirs(pid) => {
            assert_eq!(pid, Some(999999), "the holder's pid is read from the file")
        }
        Claim::Mine(_) => panic!("held lock claimed"),
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The file is still there (the holder never cleaned up), but nobody
    // holds it: it is taken over, with this process's pid.
    assert!(path.exists());
    let Claim::Mine(lock) = cache.try_claim(&k).unwrap() else {
        panic!("a dead holder's lock was not taken over")
    };
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        std::process::id().to_string()
    );
    drop(lock);
    assert!(!path.exists());
}

#[test]
fn claims_from_many_threads_give_each_key_to_exactly_one() {
    use git_deep_review::cache::Claim;
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(Cache::open(dir.path(), 1 << 20).unwrap());
    let k = key("+x", "m");
    // Claim, hold briefly, release, many times over, from 8 threads: at
    // no moment may two hold the key (the inode check on a name removed
    // under a waiter is what this exercises).
    let holders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let overlaps = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (cache, k, holders, overlaps) =
                (cache.clone(), k.clone(), holders.clone(), overlaps.clone());
            std::thread::spawn(move || {
                let mut got = 0;
                while got < 50 {
                    if let Claim::Mine(lock) = cache.try_claim(&k).unwrap() {
                        if holders.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                            overlaps.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        std::thread::yield_now();
                        holders.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        drop(lock);
                        got += 1;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(lock_files(dir.path()).is_empty());
}
