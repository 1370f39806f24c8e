//! git-deep-review: a senior-level code review of a commit range by several
//! local GGUF models, without any code leaving the machine.
//!
//! The data flow is the module list, in order:
//! [`range`] → [`diff`] → [`plan`] → [`reviewers`] (through [`engine`]) →
//! [`findings`] → [`grounding`] → [`consolidate`] → [`verdict`] →
//! [`report`] / [`gate`]. Each stage takes and returns plain data.
//! [`config`], [`cache`] and [`hook`] serve the whole run.

pub mod error;

pub mod range;
pub mod diff;
pub mod plan;
pub mod engine;
pub mod reviewers;
pub mod findings;
pub mod grounding;
pub mod consolidate;
pub mod verdict;
pub mod report;
pub mod gate;

pub mod cache;
pub mod config;
pub mod hook;
pub mod cli;

pub use error::{Error, Result};
pub mod prompts;

/// Runs one invocation of `git deep-review` and returns its exit code.
pub fn run(cli: cli::Cli) -> Result<i32> {
    let _ = cli;
    Err(Error::Usage("not wired yet".into()))
}
