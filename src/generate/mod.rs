//! Files generated from the command-line definitions, for packagers and
//! `install.sh`: `git deep-review generate completions SHELL`.

pub mod completions;
