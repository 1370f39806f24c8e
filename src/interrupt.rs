//! Ctrl-C: the first interrupt asks the run to stop at the next safe point
//! (between chunks, between generated tokens), so every file it writes is
//! either whole or not there; a second one ends the process at once.
//!
//! Once the run has stopped cleanly, the process still ends *by the
//! signal* ([`exit_by_signal`]), as a shell or git expects of a program
//! that was interrupted: `git deep-review` then reports the interrupt
//! (the caller sees 130 for SIGINT, 143 for SIGTERM) instead of a strange
//! exit code.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The last signal received (0: none).
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// The signals that interrupt a run.
const SIGNALS: [i32; 2] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];

/// Installs the handler (once, at start-up). Without it a review started in
/// the background from a script could not be stopped with SIGINT at all:
/// llama.cpp's threads would keep the process busy until the review ends.
pub fn install() {
    // Grace count 1: the second signal takes the default action (the
    // process ends), for a user who really wants out now.
    let _ = gix::interrupt::init_handler_default(1);
    for sig in SIGNALS {
        let _ = signal_hook::flag::register_usize(sig, &RECEIVED, sig as usize);
    }
}

/// Whether Ctrl-C (SIGINT or SIGTERM) was received.
pub fn is_triggered() -> bool {
    gix::interrupt::is_triggered()
}

/// The interrupting signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => i32::try_from(sig).ok(),
    }
}

/// Ends the process by `sig` with its default action, after the run has
/// cleaned up: the parent sees the process killed by the signal, as a
/// shell reports it (`128 + sig`). Falls back to exiting with that code.
pub fn exit_by_signal(sig: i32) -> ! {
    let _ = signal_hook::low_level::emulate_default_handler(sig);
    std::process::exit(128 + sig)
}
