//! What a model reference in configuration looks like: a manifest name, a
//! file path, a server URL, a store reference (`ollama:`, `hf:`,
//! `lmstudio:`) or, for the test suite only, a stand-in (`standin:`).
//! Syntax only: the engine resolves and loads what these name.

/// Prefix of stand-in model names.
pub const STANDIN_PREFIX: &str = "standin:";

/// Whether `model` names a stand-in model.
pub fn is_standin(model: &str) -> bool {
    model.starts_with(STANDIN_PREFIX)
}

/// Environment variable that makes the stand-in backends usable as models
/// (`GIT_DEEP_REVIEW_TEST_BACKENDS=1`). For the test suite only: without it
/// a configuration naming `standin:…` is refused, so no user or repository
/// file can replace the reviewers with a backend that always answers clean.
pub const TEST_BACKENDS_ENV: &str = "GIT_DEEP_REVIEW_TEST_BACKENDS";

/// Whether the test suite enabled the stand-in backends ([`TEST_BACKENDS_ENV`] is `1`).
pub fn test_backends_enabled() -> bool {
    std::env::var_os(TEST_BACKENDS_ENV).is_some_and(|v| v == "1")
}

/// Whether a model name is an inference server's URL (`http://`, `https://`).
pub fn is_endpoint_url(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Whether a model name refers to another tool's model store
/// (`ollama:NAME[:TAG]`, `hf:ORG/REPO[:QUANT]`, `lmstudio:PUBLISHER/MODEL`).
pub fn is_store_reference(s: &str) -> bool {
    s.starts_with("ollama:") || s.starts_with("hf:") || s.starts_with("lmstudio:")
}

/// A configured model that names a file: an absolute path, a path with a
/// directory part, or a name ending in `.gguf`.
pub fn is_model_path(name: &str) -> bool {
    !is_store_reference(name)
        && !is_endpoint_url(name)
        && !is_standin(name)
        && (name.contains('/') || name.ends_with(".gguf"))
}
