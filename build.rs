//! Build information for `git deep-review --version` and the man pages'
//! date: the commit the binary was built from, its date, and the versions of
//! the llama.cpp bindings in Cargo.lock.
//!
//! Cheap (two `git` calls, only when the source tree is a git checkout of
//! this package) and correct from a tarball: there the commit comes from
//! `.cargo_vcs_info.json` (written by `cargo package`) or is "unknown".

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let (commit, date) = git_commit(&dir)
        .or_else(|| vcs_info_commit(&dir).map(|c| (c, String::new())))
        .unwrap_or_else(|| ("unknown".to_string(), String::new()));
    // The man pages' date: the commit's, else SOURCE_DATE_EPOCH's (reproducible
    // builds), else the day of the build.
    let date = if date.is_empty() {
        let secs = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            });
        ymd(secs)
    } else {
        date
    };
    println!("cargo:rustc-env=GDR_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=GDR_BUILD_DATE={date}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let lock = dir.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for (krate, var) in [
        ("llama-cpp-2", "GDR_LLAMA_CPP_2"),
        ("llama-cpp-sys-2", "GDR_LLAMA_CPP_SYS_2"),
    ] {
        let v = locked_version(&text, krate).unwrap_or_else(|| "unknown".to_string());
        println!("cargo:rustc-env={var}={v}");
    }
}

/// `git rev-parse HEAD` and the commit's date, when `dir` is the top of a git
/// work tree (not a tarball unpacked inside some other repository). Asks
/// cargo to run this again when HEAD or the branch it names moves.
fn git_commit(dir: &Path) -> Option<(String, String)> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    // HEAD, the ref it points to and packed-refs (worktrees resolve these to
    // the right files), so a new commit rebuilds with the new id.
    let paths = git(&[
        "rev-parse",
        "--path-format=absolute",
        "--git-path",
        "HEAD",
        "--git-path",
        "packed-refs",
    ])?;
    for p in paths.lines() {
        println!("cargo:rerun-if-changed={p}");
    }
    if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&[
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            &head_ref,
        ]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    let line = git(&["log", "-1", "--format=%H %cs"])?;
    let (commit, date) = line.split_once(' ')?;
    Some((commit.to_string(), date.to_string()))
}

/// The commit `cargo package` recorded, for a build from the crate's tarball.
fn vcs_info_commit(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find('"')? + 1;
    let end = start + rest[start..].find('"')?;
    let sha = &rest[start..end];
    (sha.len() >= 7 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha.to_string())
}

/// The version of `krate` in Cargo.lock's text.
fn locked_version(lock: &str, krate: &str) -> Option<String> {
    let needle = format!("name = \"{krate}\"\nversion = \"");
    let at = lock.find(&needle)? + needle.len();
    let end = at + lock[at..].find('"')?;
    Some(lock[at..end].to_string())
}

/// `YYYY-MM-DD` of a Unix time (UTC), by the civil-from-days algorithm.
fn ymd(secs: u64) -> String {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
