//! The one error type the library returns, and the exit codes it maps to.
//!
//! Exit codes are part of the interface (hooks and CI scripts test them), so
//! they live in one table here and in README.md.

use std::fmt;

/// Exit code: the review ran and nothing blocks (or `--plan` succeeded).
pub const EXIT_OK: i32 = 0;
/// Exit code: the review ran and the gate policy blocks (findings at or above
/// the blocking severity with enough agreement).
pub const EXIT_BLOCKED: i32 = 1;
/// Exit code: bad usage or bad input (unknown revision, bad range, bad config).
pub const EXIT_USAGE: i32 = 2;
/// Exit code: a git repository problem (not a repository, shallow history...).
pub const EXIT_GIT: i32 = 3;
/// Exit code: a model problem (missing file, hash mismatch, corrupt GGUF...).
pub const EXIT_MODEL: i32 = 4;
/// Exit code: an I/O problem writing the report, cache or hook.
pub const EXIT_IO: i32 = 5;
/// Exit code: interrupted (Ctrl-C), nothing half-written was left behind.
pub const EXIT_INTERRUPTED: i32 = 130;

/// What went wrong, in words that tell the user what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or an input value is wrong.
    #[error("{0}")]
    Usage(String),
    /// Repository or revision problem.
    #[error("{0}")]
    Git(String),
    /// Model file or engine problem.
    #[error("{0}")]
    Model(String),
    /// Configuration problem (file, key, line are in the message).
    #[error("{0}")]
    Config(String),
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The user pressed Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config(_) => EXIT_USAGE,
            Error::Git(_) => EXIT_GIT,
            Error::Model(_) => EXIT_MODEL,
            Error::Io { .. } => EXIT_IO,
            Error::Interrupted => EXIT_INTERRUPTED,
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            context: context.to_string(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
