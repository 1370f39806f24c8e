//! Names of the stand-in test backends (`standin:…`) and the switch that
//! lets a test run use them. The backends themselves are in
//! the top-level `standin` module; the engine only routes their names to the one it is
//! given ([`super::Engine::with_test_backend`]).

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
