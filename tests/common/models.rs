//! The bundled models, from `GIT_DEEP_REVIEW_MODELS_DIR` only: no machine
//! paths and no fallback, so a test that needs them fails with what to do
//! instead of passing without them.

use std::path::PathBuf;

/// The SmolLM2 GGUF file of the bundled set.
pub const SMOL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The Gemma 3 GGUF file of the bundled set.
pub const GEMMA_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// The directory holding the bundled models; panics, saying how to fetch
/// them, when the variable is unset or a model file is missing.
pub fn dir() -> PathBuf {
    let dir = std::env::var_os("GIT_DEEP_REVIEW_MODELS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "GIT_DEEP_REVIEW_MODELS_DIR is not set: this test needs the bundled models. \
                 Run `./install.sh --test` (or `models/fetch.sh --dest DIR` and set \
                 GIT_DEEP_REVIEW_MODELS_DIR=DIR)"
            )
        });
    for f in [SMOL_FILE, GEMMA_FILE] {
        assert!(
            dir.join(f).is_file(),
            "{} is missing (GIT_DEEP_REVIEW_MODELS_DIR={}): run `models/fetch.sh --dest {}`",
            dir.join(f).display(),
            dir.display(),
            dir.display()
        );
    }
    dir
}
