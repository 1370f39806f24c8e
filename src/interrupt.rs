//! Ctrl-C: the first interrupt asks the run to stop at the next safe point
//! (between chunks, between generated tokens), so every file it writes is
//! either whole or not there; a second one ends the process at once.

/// Installs the handler (once, at start-up). Without it a review started in
/// the background from a script could not be stopped with SIGINT at all:
/// llama.cpp's threads would keep the process busy until the review ends.
pub fn install() {
    // Grace count 1: the second signal takes the default action (the
    // process ends), for a user who really wants out now.
    let _ = gix::interrupt::init_handler_default(1);
}

/// Whether Ctrl-C (SIGINT or SIGTERM) was received.
pub fn is_triggered() -> bool {
    gix::interrupt::is_triggered()
}
