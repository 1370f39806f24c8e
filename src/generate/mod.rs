//! `git deep-review generate`: files made from the command line's own
//! definitions (clap) and the configuration registry, so they cannot drift
//! from the parser. Packagers run it at build time; `install.sh` runs it
//! from the installed binary.

pub mod completions;
pub mod man;

use crate::cli::GenerateWhat;

/// Runs `git deep-review generate WHAT`; returns the exit code.
pub fn run(what: GenerateWhat) -> crate::error::Result<i32> {
    match what {
        GenerateWhat::Man { dir } => man::run(dir.as_deref()),
        GenerateWhat::Completions { shell } => {
            use clap::CommandFactory;
            let text = completions::script(shell, &crate::cli::Cli::command());
            std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())
                .map_err(|e| crate::error::Error::io("writing the completion script", e))?;
            Ok(crate::error::EXIT_OK)
        }
    }
}
