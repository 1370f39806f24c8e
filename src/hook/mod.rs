//! The pre-push hook, in two rooms: [`setup`] installs, removes and
//! inspects it; [`protocol`] runs git's pre-push protocol against the review
//! pipeline (the template in `hooks/pre-push` replays git's stdin to a
//! chained hook and then runs `git-deep-review hook run <remote> <url>`,
//! which calls [`protocol::pre_push`]).

mod config_base;
pub mod protocol;
pub mod setup;

pub use config_base::config_base;
pub use protocol::*;
pub use setup::*;
