//! Stages 1–2, the git side: a revision range (or what a push sends) → the
//! commits → per-file diffs with hunks labelled by their enclosing block.
//! Everything is read in-process with gitoxide.

pub mod diff;
pub mod lang;
pub mod parameters;
pub mod push;
pub mod range;
pub mod remote;
