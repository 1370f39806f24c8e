//! How many threads a generation should use on a machine others share.
//!
//! llama.cpp splits every operation evenly over its threads and waits for
//! the slowest at a barrier hundreds of times a token. When another
//! CPU-bound process (a compile, a test run) holds one of the cores, one
//! of our threads is descheduled for a whole time slice while the others
//! spin at the barrier (OpenMP's default wait policy): on 2 cores with two
//! busy neighbours decode was measured 36x slower (`benches/busy.sh`).
//! Waiting passively instead costs half the decode speed of an idle machine
//! (a futex wake-up per barrier), and libgomp reads its policy once, when it
//! loads. So the thread count follows the load instead: as many threads as
//! there are cores nobody else is running on, checked before each batch of
//! requests, and never more than the configured count.

/// Other processes' runnable threads right now (CPU-bound neighbours), or
/// `None` when `/proc` cannot tell (not Linux, a restricted sandbox).
///
/// `procs_running` of `/proc/stat` counts every runnable thread on the
/// machine, ours included; ours are subtracted. It is an instantaneous
/// count, so it is sampled a few times and the smallest count is kept: a
/// CPU-bound neighbour is runnable at every sample, a short-lived one
/// (an editor redrawing, `git` itself) is not.
pub fn busy_neighbours() -> Option<usize> {
    const SAMPLES: usize = 5;
    const GAP: std::time::Duration = std::time::Duration::from_millis(2);
    let mut least: Option<usize> = None;
    for i in 0..SAMPLES {
        if i > 0 {
            std::thread::sleep(GAP);
        }
        let all = procs_running(&std::fs::read_to_string("/proc/stat").ok()?)?;
        let ours = own_running().unwrap_or(1);
        let others = all.saturating_sub(ours);
        least = Some(least.map_or(others, |l| l.min(others)));
    }
    least
}

/// `procs_running` from the text of `/proc/stat`.
pub fn procs_running(stat: &str) -> Option<usize> {
    stat.lines()
        .find_map(|l| l.strip_prefix("procs_running "))
        .and_then(|n| n.trim().parse().ok())
}

/// Threads of this process that are runnable (state `R`), the caller's own
/// included.
fn own_running() -> Option<usize> {
    let mut n = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(task) = task else { continue };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if task_state(&stat) == Some('R') {
            n += 1;
        }
    }
    Some(n.max(1))
}

/// The state letter of a `/proc/<pid>/task/<tid>/stat` line (after the
/// command name, which may itself hold spaces and parentheses).
pub fn task_state(stat: &str) -> Option<char> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Threads to use on `cores` cores with `busy` CPU-bound neighbours, at
/// most `max`: the cores they leave free, at least one.
pub fn threads_for(cores: usize, busy: usize, max: usize) -> usize {
    cores.saturating_sub(busy).clamp(1, max.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procs_running_is_read_from_proc_stat() {
        let stat = "cpu  1 2 3 4\nintr 5\nctxt 6\nprocs_running 3\nprocs_blocked 0\n";
        assert_eq!(procs_running(stat), Some(3));
        assert_eq!(procs_running("cpu 1 2 3\n"), None);
        assert_eq!(procs_running("procs_running x\n"), None);
    }

    #[test]
    fn the_state_follows_the_last_parenthesis_of_the_command_name() {
        assert_eq!(task_state("42 (cargo) R 1 2 3"), Some('R'));
        assert_eq!(task_state("42 (a) b) (c) S 1 2"), Some('S'));
        assert_eq!(task_state("garbage"), None);
    }

    #[test]
    fn threads_leave_the_busy_cores_to_their_owners() {
        assert_eq!(threads_for(2, 0, 2), 2);
        assert_eq!(threads_for(2, 1, 2), 1);
        assert_eq!(threads_for(2, 2, 2), 1);
        assert_eq!(threads_for(16, 3, 8), 8);
        assert_eq!(threads_for(16, 12, 8), 4);
        assert_eq!(threads_for(4, 0, 0), 1);
    }

    #[test]
    fn a_spinning_process_is_a_neighbour_and_our_own_threads_are_ours() {
        if busy_neighbours().is_none() {
            return; // no /proc here: nothing to follow
        }
        // Runnable threads are `R` whether or not they hold a core at the
        // moment, so these counts do not depend on what else runs.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let own = own_running().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for s in spinners {
            s.join().unwrap();
        }
        assert!(own >= 3, "two spinners and this thread are ours: {own}");

        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let with_child = busy_neighbours().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(with_child >= 1, "a spinning child process is a neighbour");
    }
}
