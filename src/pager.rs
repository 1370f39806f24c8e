//! Long terminal output through the pager, by git's conventions (as
//! `git log` does): only when stdout is a terminal, with the pager git
//! would choose, and never twice.
//!
//! Which pager: `pager.deep-review` (a command; `false` turns paging off),
//! then `GIT_PAGER`, `core.pager`, `PAGER`, else `less`; `cat` or an empty
//! value means no pager. `LESS=FRX` and `LV=-c` are set when unset, so a
//! short output prints and returns as if there were no pager. When git runs
//! us as `git -p deep-review` (or with `pager.deep-review = true`) git has
//! already started the pager: stdout is its pipe and `GIT_PAGER_IN_USE` is
//! set, so nothing is started here; `git --no-pager deep-review` sets
//! `GIT_PAGER=cat`, which means none.
//!
//! The pager's pipe replaces file descriptor 1, so everything printed on
//! stdout afterwards goes through it; stderr stays on the terminal (a
//! message written there after the pager was quit must not fail).
//! [`finish`] closes the pipe and waits for the pager before the process
//! exits, so the shell prompt comes back after the pager, not under it.

use crate::cli::GlobalArgs;
use std::io::{IsTerminal, Write};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The running pager, if one was started.
static PAGER: Mutex<Option<Child>> = Mutex::new(None);

/// Whether output goes through a pager that this process started: colour
/// `auto` then colours, as git does for its pager (less -R shows it).
pub fn active() -> bool {
    PAGER.lock().map(|p| p.is_some()).unwrap_or(false)
}

/// Starts the pager for the rest of this process's stdout when it should
/// page: stdout is a terminal, neither `--no-pager` nor `--quiet` was
/// given, no pager is in use yet, and the configured pager is not `cat`.
/// Call it right before long output. When the pager cannot be started the
/// output goes to the terminal as it would without one.
pub fn start(global: &GlobalArgs) {
    if global.no_pager || global.quiet || !std::io::stdout().is_terminal() {
        return;
    }
    if std::env::var_os("GIT_PAGER_IN_USE").is_some_and(|v| !v.is_empty()) || active() {
        return;
    }
    let git_config = |key: &str| git_config(global, key);
    let Some(command) = choose(&|k| std::env::var(k).ok(), &git_config) else {
        return;
    };
    let _ = std::io::stdout().flush();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(&command).stdin(Stdio::piped());
    // git's defaults for less and lv: quit when one screen holds it all,
    // pass colours, do not clear the screen.
    if std::env::var_os("LESS").is_none() {
        cmd.env("LESS", "FRX");
    }
    if std::env::var_os("LV").is_none() {
        cmd.env("LV", "-c");
    }
    // The pager reads what we print; it must not think it is being paged into.
    cmd.env("GIT_PAGER_IN_USE", "true");
    let Ok(mut child) = cmd.spawn() else {
        return;
    };
    let Some(stdin) = child.stdin.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    let fd = stdin.into_raw_fd();
    // SAFETY: fd is the pipe's write end we own; dup2 onto 1 makes stdout
    // that pipe, then our copy is closed so the pager sees the end of its
    // input once fd 1 is closed in `finish`.
    let ok = unsafe {
        let ok = libc::dup2(fd, 1) == 1;
        libc::close(fd);
        ok
    };
    if !ok {
        let _ = child.kill();
        let _ = child.wait();
        return;
    }
    if let Ok(mut p) = PAGER.lock() {
        *p = Some(child);
    }
}

/// Flushes stdout, closes the pager's pipe and waits for the pager to
/// exit. Does nothing when no pager was started. Called once, by `main`,
/// before the process exits.
pub fn finish() {
    let Some(mut child) = PAGER.lock().ok().and_then(|mut p| p.take()) else {
        return;
    };
    // A pager quit early (q in less) closed the pipe: nothing to flush.
    let _ = std::io::stdout().flush();
    // Point fd 1 at /dev/null: the pipe's last write end closes, the pager
    // reads its end of input, and a late write cannot reach a dead pipe.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: both descriptors are open; dup2 closes the pipe on fd 1.
        unsafe {
            libc::dup2(null.as_raw_fd(), 1);
        }
    }
    let _ = child.wait();
}

/// The pager command git would run, or `None` for no pager. `env` reads
/// an environment variable, `config` a git configuration value.
pub fn choose(
    env: &dyn Fn(&str) -> Option<String>,
    config: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    // `pager.deep-review`: a boolean turns paging on or off, anything else
    // is the command (git's check_pager_config).
    let mut chosen = None;
    if let Some(v) = config("pager.deep-review") {
        match v.trim().to_ascii_lowercase().as_str() {
            "false" | "no" | "off" | "0" => return None,
            "true" | "yes" | "on" | "1" | "" => {}
            _ => chosen = Some(v),
        }
    }
    let chosen = chosen
        .or_else(|| env("GIT_PAGER"))
        .or_else(|| config("core.pager"))
        .or_else(|| env("PAGER"))
        .unwrap_or_else(|| "less".to_string());
    let trimmed = chosen.trim();
    (!trimmed.is_empty() && trimmed != "cat").then(|| trimmed.to_string())
}

/// One value of git's configuration as git reads it here (`-C`'s
/// repository, else the user's and system files); `None` when unset.
fn git_config(global: &GlobalArgs, key: &str) -> Option<String> {
    let mut cmd = Command::new("git");
    if let Some(dir) = &global.repo {
        cmd.arg("-C").arg(dir);
    }
    let out = cmd
        .args(["config", "--get", key])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v = String::from_utf8_lossy(&out.stdout);
    Some(v.strip_suffix('\n').unwrap_or(&v).to_string())
}

#[cfg(test)]
mod tests {
    use super::choose;

    fn pick(env: &[(&str, &str)], config: &[(&str, &str)]) -> Option<String> {
        let env = |k: &str| {
            env.iter()
                .find(|(a, _)| *a == k)
                .map(|(_, v)| v.to_string())
        };
        let config = |k: &str| {
            config
                .iter()
                .find(|(a, _)| *a == k)
                .map(|(_, v)| v.to_string())
        };
        choose(&env, &config)
    }

    #[test]
    fn git_order_of_precedence() {
        let all_env = [("GIT_PAGER", "g"), ("PAGER", "p")];
        let all_cfg = [("core.pager", "c")];
        assert_eq!(pick(&all_env, &all_cfg).as_deref(), Some("g"));
        assert_eq!(pick(&[("PAGER", "p")], &all_cfg).as_deref(), Some("c"));
        assert_eq!(pick(&[("PAGER", "p")], &[]).as_deref(), Some("p"));
        assert_eq!(pick(&[], &[]).as_deref(), Some("less"));
        let cmd = [("pager.deep-review", "mine -x"), ("core.pager", "c")];
        assert_eq!(pick(&all_env, &cmd).as_deref(), Some("mine -x"));
        let on = [("pager.deep-review", "true"), ("core.pager", "c")];
        assert_eq!(pick(&[], &on).as_deref(), Some("c"));
    }

    #[test]
    fn cat_empty_or_false_means_none() {
        assert_eq!(pick(&[("GIT_PAGER", "cat")], &[]), None);
        assert_eq!(pick(&[("GIT_PAGER", "")], &[("core.pager", "c")]), None);
        assert_eq!(
            pick(&[("PAGER", "p")], &[("pager.deep-review", "false")]),
            None
        );
    }
}
