//! Property and fuzz tests for every parser of untrusted input: GGUF
//! headers (`gguf`), and model answers, configuration files, diff text, the
//! hook's stdin and endpoint responses (`parsers`). Each property runs
//! `DEEP_REVIEW_FUZZ_CASES` cases (a modest default per parser, so the
//! whole suite stays well under 90 s in a normal `cargo test --release`);
//! `benches/fuzz.sh` runs them with many more. Every property prints how
//! many cases it ran; a failure is shrunk and printed with its input, and a
//! crash once found stays below as a named regression case.

#[path = "../common/mod.rs"]
mod common;

mod gguf;
mod parsers;

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// The number of cases each property runs: `DEEP_REVIEW_FUZZ_CASES`, else
/// `default` (chosen per parser by what one case costs).
pub fn cases(default: u32) -> u32 {
    std::env::var("DEEP_REVIEW_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n: &u32| n > 0)
        .unwrap_or(default)
}

/// Runs `test` on `cases(default)` inputs drawn from `strategy`; panics
/// with the shrunk failing input (a panic inside `test` is a failure too).
/// Prints `fuzz: NAME: N cases, F failures` either way, for `benches/fuzz.sh`.
pub fn fuzz<S>(
    name: &str,
    default: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases: cases(default),
        // Regressions are kept as named tests, not in files beside the source.
        failure_persistence: None,
        // Shrinking a slow case (a GGUF header) must not run for minutes.
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let ran = AtomicU64::new(0);
    let result = runner.run(&strategy, |v| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(v)
    });
    let failures = u32::from(result.is_err());
    eprintln!(
        "fuzz: {name}: {} cases, {failures} failures",
        ran.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("fuzz: {name}: {e}");
    }
}
