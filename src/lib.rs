//! git-deep-review: a senior-level code review of a commit range by several
//! local GGUF models, without any code leaving the machine.
//!
//! The data flow is the module tree, in order: [`git`] (range → diff) →
//! [`plan`] → [`review`] (reviewers, through [`engine`]) → [`check`]
//! (findings → grounding → consolidation → verdict) → [`feedback`]
//! (earlier reviews' findings followed to the head) → [`report`] /
//! [`gate`]. [`pipeline`] runs them in order; `commands` maps each
//! subcommand onto it, and this file only dispatches the command line.

pub mod error;
pub mod severity;

// The stages (their order is the module doc's).
pub mod check;
pub mod context;
pub mod feedback;
pub mod gate;
pub mod git;
pub mod plan;
pub mod report;
pub mod review;
pub mod verify;

// What runs them, and what serves the whole run.
pub mod cache;
pub mod cli;
mod commands;
pub mod config;
pub mod engine;
pub mod eval;
pub mod generate;
pub mod hook;
pub mod init;
pub mod interrupt;
pub mod pager;
pub mod pipeline;
pub mod prompts;
pub mod standin;
pub mod text;
pub mod version;

pub use error::{Error, Result};

use cli::{Cli, Command};

/// Runs one invocation of `git deep-review` and returns its exit code.
pub fn run(cli: Cli) -> Result<i32> {
    if cli.version {
        return version::print();
    }
    if let Some(command) = &cli.command {
        let given = cli.review.given();
        if !given.is_empty() {
            return Err(Error::Usage(format!(
                "{} {} an option of the review, not of `git deep-review {}`: \
                 review with `git deep-review [RANGE] [OPTIONS]`, or see `git deep-review {} -h`",
                given.join(", "),
                if given.len() == 1 { "is" } else { "are" },
                command.name(),
                command.name()
            )));
        }
    }
    match cli.command {
        Some(Command::Models { list, cmd }) => commands::models(list, cmd, &cli.global),
        Some(Command::Init {
            global,
            force,
            stdout,
        }) => commands::init(global, force, stdout, &cli.global),
        Some(Command::Config) => commands::show_config(&cli.global),
        Some(Command::Hook(cmd)) => commands::hook(cmd, &cli.global),
        Some(Command::Cache(cmd)) => commands::cache(cmd, &cli.global),
        Some(Command::Eval(args)) => commands::eval(&args, &cli.global),
        Some(Command::Generate(what)) => generate::run(what),
        None => commands::review(&cli.review, &cli.global),
    }
}
