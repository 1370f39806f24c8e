//! `git-deep-review`: thin entry point; everything lives in the library.
fn main() {}
