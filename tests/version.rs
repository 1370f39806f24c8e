//! `git deep-review --version` through the real binary: one line for `-V`;
//! for `--version` the commit it was built from (the source tree's HEAD),
//! the llama.cpp build, the back ends, the grammars compiled in and the
//! default models' state where a review would look, without loading or
//! hashing a model.

mod common;

use common::repo::{stdout_of, BIN};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn version(models_dir: &Path, cache: &Path) -> String {
    stdout_of(
        Command::new(BIN)
            .arg("--version")
            .current_dir(cache) // outside any repository
            .env("GIT_DEEP_REVIEW_MODELS_DIR", models_dir)
            .env("XDG_CACHE_HOME", cache),
    )
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no `{name}:` line in:\n{text}"))
}

#[test]
fn dash_v_is_one_line() {
    let out = Command::new(BIN).arg("-V").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("git-deep-review {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn long_version_names_commit_llama_cpp_backends_grammars_and_models() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("no-models");
    std::fs::create_dir(&empty).unwrap();
    let text = version(&empty, tmp.path());
    assert!(
        text.starts_with(&format!("git-deep-review {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );

    // The commit: the source tree's HEAD when built from a git checkout.
    let src = env!("CARGO_MANIFEST_DIR");
    let top = Command::new("git")
        .args(["-C", src, "rev-parse", "--show-toplevel"])
        .output();
    let from_git = top.as_ref().is_ok_and(|o| {
        o.status.success()
            && std::fs::canonicalize(String::from_utf8_lossy(&o.stdout).trim()).ok()
                == std::fs::canonicalize(src).ok()
    });
    if from_git {
        let head = Command::new("git")
            .args(["-C", src, "rev-parse", "HEAD"])
            .output()
            .unwrap();
        assert_eq!(
            field(&text, "commit"),
            String::from_utf8_lossy(&head.stdout).trim()
        );
    } else {
        assert_eq!(field(&text, "commit"), "unknown");
    }

    // llama.cpp: ggml's own version and the bindings pinned in Cargo.lock.
    let llama = field(&text, "llama.cpp");
    let lock = std::fs::read_to_string(Path::new(src).join("Cargo.lock")).unwrap();
    let sys = lock
        .split("name = \"llama-cpp-sys-2\"\nversion = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    assert!(llama.starts_with("ggml 0."), "{llama}");
    assert!(llama.contains(&format!("llama-cpp-sys-2 {sys}")), "{llama}");

    // Back ends from ggml's registry: CPU is always there; GPU features as built.
    let backends = field(&text, "backends");
    assert!(backends.split(", ").any(|b| b == "CPU"), "{backends}");
    let gpu = field(&text, "gpu features");
    assert_eq!(
        gpu.starts_with("none"),
        !cfg!(any(feature = "cuda", feature = "vulkan", feature = "metal")),
        "{gpu}"
    );

    // The grammars are the lang-* features this build has.
    let want = git_deep_review::context::tags::grammars();
    assert!(!want.is_empty(), "the default build has grammars");
    assert_eq!(field(&text, "grammars"), want.join(", "));

    // Default models, where a review would look: here, none.
    assert_eq!(field(&text, "models dir"), empty.display().to_string());
    let models: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("default model: "))
        .collect();
    assert_eq!(models.len(), 2, "{text}");
    assert!(
        models[0].starts_with("smollm2-135m (SmolLM2-135M-Instruct.Q4_1.gguf): missing"),
        "{text}"
    );
    assert!(
        models[1].starts_with("gemma3-270m (gemma-3-270m-q4_k_m.gguf): missing"),
        "{text}"
    );

    // A truncated file is named as such (its size is checked, not hashed).
    std::fs::write(empty.join("SmolLM2-135M-Instruct.Q4_1.gguf"), b"GGUF").unwrap();
    let text = version(&empty, tmp.path());
    assert!(
        text.contains("smollm2-135m (SmolLM2-135M-Instruct.Q4_1.gguf): wrong size (4 bytes"),
        "{text}"
    );
}

#[test]
fn long_version_with_the_bundled_models_is_fast_and_hashes_nothing() {
    let models = std::env::var_os("GIT_DEEP_REVIEW_MODELS_DIR").expect(
        "GIT_DEEP_REVIEW_MODELS_DIR names the bundled models (./install.sh --test sets it)",
    );
    let cache = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let text = version(Path::new(&models), cache.path());
    let took = start.elapsed();
    for line in text.lines().filter(|l| l.starts_with("default model: ")) {
        assert!(
            line.ends_with("found, not verified yet (hashed on first use)"),
            "{text}"
        );
    }
    // Nothing was hashed: a hash would have been remembered in the cache.
    assert!(!cache.path().join("git-deep-review/verified.json").exists());
    assert!(took < Duration::from_secs(5), "--version took {took:?}");
}
