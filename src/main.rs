//! `git-deep-review`: a thin entry point that parses the command line, runs
//! the library and maps errors to exit codes. Everything else lives in the
//! library so it can be tested without a process.

use clap::Parser;
use std::io;

fn main() {
    let cli = git_deep_review::cli::Cli::parse();
    // Before any work: Ctrl-C stops the review at the next safe point.
    git_deep_review::interrupt::install();
    let code = match git_deep_review::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`git deep-review --plan | head`) is the reader's
            // choice, not a failure: end quietly like other git tools.
            if is_broken_pipe(&err) {
                0
            } else {
                eprintln!("git-deep-review: error: {err}");
                err.exit_code()
            }
        }
    };
    // The pager shows what was printed until the user quits it; the exit
    // code stays the command's (a pager quit early is not a failure).
    git_deep_review::pager::finish();
    // Interrupted and cleaned up: end by the signal, as git and shells
    // expect (git reports 128 + the signal's number, and no error of its own).
    if code == git_deep_review::error::EXIT_INTERRUPTED {
        if let Some(sig) = git_deep_review::interrupt::received() {
            git_deep_review::interrupt::exit_by_signal(sig);
        }
    }
    std::process::exit(code);
}

fn is_broken_pipe(err: &git_deep_review::Error) -> bool {
    matches!(err, git_deep_review::Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
}
