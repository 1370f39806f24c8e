//! Ctrl-C: the first interrupt asks the run to stop at the next safe point
//! (between chunks, between generated tokens), so every file it writes is
//! either whole or not there; a second one ends the process at once.
//!
//! Once the run has stopped cleanly, the process still ends *by the
//! signal* ([`exit_by_signal`]), as a shell or git expects of a program
//! that was interrupted: `git deep-review` then reports the interrupt
//! (the caller sees 130 for SIGINT, 143 for SIGTERM) instead of a strange
//! exit code.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The last signal received (0: none).
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// When the first signal arrived, in nanoseconds after [`START`] (0: none).
static FIRST_AT: AtomicU64 = AtomicU64::new(0);

/// The time [`FIRST_AT`] counts from, set before any handler is installed.
static START: OnceLock<Instant> = OnceLock::new();

/// The signals that interrupt a run.
const SIGNALS: [i32; 2] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];

/// Signals this close to the first count as the same interrupt. Ctrl-C on
/// `git deep-review` reaches us twice: from the terminal (the whole
/// foreground group gets it) and from git, which passes it on to its
/// subcommand at once; that must not count as the second Ctrl-C that ends
/// the process before it cleans up.
const SAME_INTERRUPT: Duration = Duration::from_millis(250);

/// Installs the handler (once, at start-up). Without it a review started in
/// the background from a script could not be stopped with SIGINT at all:
/// llama.cpp's threads would keep the process busy until the review ends.
pub fn install() {
    let start = *START.get_or_init(Instant::now);
    // gix's handler only raises the flag the run checks; the second
    // interrupt is ours to judge (below).
    let _ = gix::interrupt::init_handler_default(usize::MAX);
    for sig in SIGNALS {
        // SAFETY: the action only touches atomics, reads the monotonic
        // clock and, for a second interrupt, restores the default action
        // and raises the signal: all async-signal-safe.
        let _ = unsafe {
            signal_hook::low_level::register(sig, move || {
                let now = u64::try_from(start.elapsed().as_nanos())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let first =
                    match FIRST_AT.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst) {
                        Ok(_) => now,
                        Err(first) => first,
                    };
                if RECEIVED.load(Ordering::SeqCst) == 0 {
                    RECEIVED.store(sig as usize, Ordering::SeqCst);
                }
                // A second interrupt, for a user who really wants out now:
                // the process ends at once, by the signal.
                if now.saturating_sub(first) > SAME_INTERRUPT.as_nanos() as u64 {
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                }
            })
        };
    }
}

/// Whether Ctrl-C (SIGINT or SIGTERM) was received.
pub fn is_triggered() -> bool {
    gix::interrupt::is_triggered()
}

/// The interrupting signal received (the first), if any.
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
