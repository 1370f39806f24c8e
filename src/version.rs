//! `git deep-review --version`: what a bug report needs, fast and without
//! loading a model. `-V` stays clap's one line (`git-deep-review 0.1.1`).
//!
//! The build facts come from build.rs (commit, the llama.cpp bindings'
//! versions in Cargo.lock) and cargo features; the back ends from ggml's
//! registry at run time (what this binary can really use); the default
//! models from a look at where a review would find them (file present,
//! size, and whether a hash check is already remembered; never hashing).

use std::fmt::Write as _;
use std::path::Path;

use crate::engine::manifest::{models_dir, Manifest, DEFAULT_MANIFEST};
use crate::engine::verify::{is_verified, verified_cache_file};

/// The commit this binary was built from (`unknown` from a tarball without
/// git metadata).
pub const COMMIT: &str = env!("GDR_BUILD_COMMIT");

/// The date of that commit (`YYYY-MM-DD`), else of the build; the man pages'
/// date.
pub const DATE: &str = env!("GDR_BUILD_DATE");

/// Prints the long version to stdout; exit code 0.
pub fn print() -> crate::error::Result<i32> {
    use std::io::Write;
    let text = long_version();
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| crate::error::Error::io("writing the version", e))?;
    Ok(0)
}

/// The whole `--version` text, one `field: value` line per fact.
pub fn long_version() -> String {
    let mut s = String::new();
    let _ = writeln!(s, "git-deep-review {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(s, "commit: {COMMIT}");
    let _ = writeln!(s, "llama.cpp: {}", llama_cpp());
    let _ = writeln!(s, "backends: {}", backends().join(", "));
    let _ = writeln!(s, "gpu features: {}", gpu_features());
    let grammars = crate::context::tags::grammars();
    let _ = writeln!(
        s,
        "grammars: {}",
        if grammars.is_empty() {
            "none (context from identifier search only)".to_string()
        } else {
            grammars.join(", ")
        }
    );
    let dir = models_dir();
    let _ = writeln!(s, "models dir: {}", dir.display());
    for line in default_models(&dir) {
        let _ = writeln!(s, "default model: {line}");
    }
    s
}

/// ggml's version (and commit when it was built from a git checkout) and
/// the versions of the Rust bindings that pin the llama.cpp source.
fn llama_cpp() -> String {
    // SAFETY: both return pointers to static NUL-terminated strings.
    let (version, commit) = unsafe {
        (
            cstr(llama_cpp_sys_2::ggml_version()),
            cstr(llama_cpp_sys_2::ggml_commit()),
        )
    };
    let mut s = format!("ggml {version}");
    if !commit.is_empty() && commit != "unknown" {
        let _ = write!(s, " ({commit})");
    }
    let _ = write!(
        s,
        ", llama-cpp-sys-2 {}, llama-cpp-2 {}",
        env!("GDR_LLAMA_CPP_SYS_2"),
        env!("GDR_LLAMA_CPP_2")
    );
    s
}

/// The back ends registered in ggml (CPU, CUDA, Vulkan, Metal...). Asking
/// the registry initialises the back ends' device lists, not a model.
pub fn backends() -> Vec<String> {
    // SAFETY: the registry is built once, lazily, by ggml itself; index is
    // below the count it reports, and names are static C strings.
    unsafe {
        let n = llama_cpp_sys_2::ggml_backend_reg_count();
        (0..n)
            .map(|i| {
                cstr(llama_cpp_sys_2::ggml_backend_reg_name(
                    llama_cpp_sys_2::ggml_backend_reg_get(i),
                ))
            })
            .collect()
    }
}

/// The GPU cargo features this binary was built with.
fn gpu_features() -> String {
    let on: Vec<&str> = [
        ("cuda", cfg!(feature = "cuda")),
        ("vulkan", cfg!(feature = "vulkan")),
        ("metal", cfg!(feature = "metal")),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| *n)
    .collect();
    if on.is_empty() {
        "none (CPU only; build with --features cuda, vulkan or metal)".to_string()
    } else {
        on.join(", ")
    }
}

/// One line per bundled default model: its name, file and state where a
/// review would look (missing, wrong size, found, verified).
fn default_models(dir: &Path) -> Vec<String> {
    let entries = match Manifest::parse(DEFAULT_MANIFEST, "the embedded manifest") {
        Ok(e) => e,
        Err(e) => return vec![format!("(embedded manifest unreadable: {e})")],
    };
    let cache = verified_cache_file();
    entries
        .iter()
        .map(|e| {
            let path = e.path_in(dir);
            let state = match std::fs::metadata(&path) {
                Err(_) => "missing (./install.sh or models/fetch.sh fetches it)".to_string(),
                Ok(m) if !m.is_file() => "missing (not a regular file)".to_string(),
                Ok(m) if e.size != 0 && m.len() != e.size => {
                    format!("wrong size ({} bytes, expected {})", m.len(), e.size)
                }
                Ok(_) if is_verified(e, &path, &cache) => "verified".to_string(),
                Ok(_) => "found, not verified yet (hashed on first use)".to_string(),
            };
            format!("{} ({}): {state}", e.name, e.file)
        })
        .collect()
}

/// A C string from ggml as Rust text ("" for a null pointer).
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that outlives the call.
unsafe fn cstr(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
}
