//! git's pre-push protocol: the lines git writes on stdin (or the
//! pre-commit framework's environment), one review per pushed ref, the gate
//! on each, and a watchdog that holds the time budget.

use crate::config::policy::TagPolicy;
use crate::config::{OnTimeout, Settings};
use crate::error::{Error, Result, EXIT_BLOCKED, EXIT_INTERRUPTED, EXIT_OK};
use crate::gate::{evaluate, Context, ReviewFacts, BYPASS_HELP};
pub use crate::git::push::{parse_push_lines, PushUpdate};
use std::io::Write;
use std::time::{Duration, Instant};

/// The pre-push input lines and remote name when run by the pre-commit
/// framework, which consumes git's stdin itself and passes
/// `PRE_COMMIT_FROM_REF` / `PRE_COMMIT_TO_REF` (and the remote and branch
/// names) in the environment instead. `None` when those are not set.
pub fn pre_commit_input(
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<(Option<String>, Vec<String>)> {
    let from = env("PRE_COMMIT_FROM_REF").filter(|v| !v.is_empty())?;
    let to = env("PRE_COMMIT_TO_REF").filter(|v| !v.is_empty())?;
    let local = env("PRE_COMMIT_LOCAL_BRANCH")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "HEAD".into());
    let remote_ref = env("PRE_COMMIT_REMOTE_BRANCH")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| local.clone());
    let remote = env("PRE_COMMIT_REMOTE_NAME").filter(|v| !v.is_empty());
    Some((remote, vec![format!("{local} {to} {remote_ref} {from}")]))
}

/// Everything `hook run` needs from its invocation: the remote name and
/// the protocol lines. git passes `<remote> <url>` as arguments and the
/// lines on stdin; under the pre-commit framework stdin is empty and the
/// `PRE_COMMIT_*` variables carry the same information ([`pre_commit_input`]).
/// `remote_arg` is the first argument (`None` when absent).
pub fn read_input(
    remote_arg: Option<&str>,
    stdin: &mut dyn std::io::Read,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>)> {
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .map_err(|e| Error::io("reading the pre-push input from stdin", e))?;
    let mut lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let mut remote = remote_arg.filter(|r| !r.is_empty()).map(String::from);
    if lines.is_empty() {
        if let Some((pc_remote, pc_lines)) = pre_commit_input(env) {
            lines = pc_lines;
            remote = remote.or(pc_remote);
        }
    }
    Ok((remote.unwrap_or_else(|| "origin".to_string()), lines))
}

/// What the review closure is asked to review for one pushed ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRequest {
    pub local_ref: String,
    pub remote_ref: String,
    /// Base commit; `None` = the empty tree (history with no commit on the
    /// remote yet, reviewed from its root).
    pub base: Option<gix::ObjectId>,
    /// Head commit: what is being pushed.
    pub head: gix::ObjectId,
    /// How the report and the messages name the range (`abc1234..def5678`).
    pub spec: String,
    /// The pipeline should stop starting new chunks after this instant and
    /// return what it has with `timed_out = true`.
    pub deadline: Instant,
    /// Why this base was chosen, for the hook's output.
    pub why: String,
}

impl ReviewRequest {
    /// The range to review, from the ids the push chose (a history with no
    /// commit on any remote yet is reviewed from the empty tree, which no
    /// range syntax expresses).
    pub fn resolve(&self, repo: &gix::Repository) -> Result<crate::git::range::ReviewRange> {
        let mut range = crate::git::range::between(repo, self.base, self.head, self.spec.clone())?;
        // The report names what is pushed, not the work tree's HEAD.
        range.branch = Some(self.pushed_name());
        Ok(range)
    }

    /// How the report names the pushed ref: the local branch (`main`), else
    /// the remote branch it goes to (`git push origin HEAD:topic`), else
    /// the ref in full (`refs/tags/v1.0`).
    pub fn pushed_name(&self) -> String {
        let branch = |r: &str| r.strip_prefix("refs/heads/").map(String::from);
        branch(&self.local_ref)
            .or_else(|| branch(&self.remote_ref))
            .unwrap_or_else(|| self.local_ref.clone())
    }
}

/// Runs the pre-push protocol: for each pushed ref decides what to review,
/// calls `review` (which returns the facts of the review, or `None` when
/// the ref changes nothing reviewable), applies the gate and returns the
/// exit code (0 allow, 1 block). Messages for the developer go to `log`
/// (stderr).
///
/// Deletions are not reviewed; a tag is reviewed for the commits it adds
/// over the remote's known refs, or allowed as `gate.tags` says. One deadline,
/// `settings.time_budget_secs` from now, is shared by all refs.
pub fn pre_push(
    repo: &gix::Repository,
    remote: &str,
    lines: &[String],
    settings: &Settings,
    review: &mut dyn FnMut(&ReviewRequest) -> Result<Option<ReviewFacts>>,
    log: &mut dyn Write,
) -> Result<i32> {
    let say = |log: &mut dyn Write, msg: &str| {
        let _ = writeln!(log, "{msg}");
    };
    if !settings.gate.enabled {
        // Say who switched it off: a repository's own file may (read from
        // code the remote already has), but the team must be able to see it.
        let by = settings
            .repo_notes
            .iter()
            .find(|n| n.contains("switches the gate off"))
            .map(|n| {
                format!(
                    "{}; your own setting wins: `git config deep-review.gate on`",
                    crate::text::escape_control(n)
                )
            })
            .unwrap_or_else(|| "deep-review.gate".to_string());
        say(
            log,
            &format!("deep-review: gate is off ({by}); push allowed without review."),
        );
        return Ok(EXIT_OK);
    }
    let updates = parse_push_lines(lines)?;
    let deadline = Instant::now() + Duration::from_secs(settings.time_budget_secs);
    // Dropped when this function returns, which stops the watchdog.
    let _watchdog = start_watchdog(deadline, settings);
    let faults = crate::pipeline::fault_policy(settings);
    let mut blocked = false;
    for u in &updates {
        if crate::interrupt::is_triggered() {
            say(log, "deep-review: interrupted; push aborted.");
            return Ok(EXIT_INTERRUPTED);
        }
        if u.is_delete() {
            say(
                log,
                &format!(
                    "deep-review: {}: deletion, nothing to review.",
                    u.remote_ref
                ),
            );
            continue;
        }
        let tag = u.local_ref.starts_with("refs/tags/") || u.remote_ref.starts_with("refs/tags/");
        if tag && settings.gate_tags == TagPolicy::Allow {
            say(
                log,
                &format!(
                    "deep-review: {}: tag, pushed without review (gate.tags / deep-review.tags = \"allow\").",
                    crate::text::escape_control(&u.remote_ref)
                ),
            );
            continue;
        }
        let pushed = if tag {
            crate::git::push::tag_range(repo, u.local_sha)?
        } else {
            crate::git::push::pushed_range(repo, remote, u)?
        };
        let Some(pushed) = pushed else {
            say(
                log,
                &format!("deep-review: {}: no new commits to review.", u.remote_ref),
            );
            continue;
        };
        let req = ReviewRequest {
            local_ref: u.local_ref.clone(),
            remote_ref: u.remote_ref.clone(),
            spec: pushed.spec(),
            base: pushed.base,
            head: pushed.head,
            deadline,
            why: pushed.why,
        };
        let facts = if Instant::now() >= deadline {
            // Nothing of this ref was reviewed: the timeout policy decides.
            ReviewFacts {
                not_reviewed: vec![(
                    u.remote_ref.clone(),
                    "the time budget was used up before its review started".into(),
                )],
                ..Default::default()
            }
        } else {
            say(
                log,
                &format!(
                    "deep-review: reviewing {} ({}) for {}...",
                    req.spec, req.why, u.remote_ref
                ),
            );
            match review(&req) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    say(
                        log,
                        &format!(
                            "deep-review: {}: nothing to review (every changed file is skipped: see `git deep-review {} --plan`).",
                            u.remote_ref, req.spec
                        ),
                    );
                    for n in settings
                        .repo_notes
                        .iter()
                        .filter(|n| n.contains(" ignores "))
                    {
                        say(
                            log,
                            &format!("deep-review: note: {}", crate::text::escape_control(n)),
                        );
                    }
                    continue;
                }
                Err(Error::Interrupted) => {
                    say(log, "deep-review: interrupted; push aborted.");
                    return Ok(EXIT_INTERRUPTED);
                }
                Err(e) => {
                    say(
                        log,
                        &format!(
                            "deep-review: push blocked: the review failed: {e}\n{BYPASS_HELP}"
                        ),
                    );
                    return Ok(e.exit_code());
                }
            }
        };
        let decision = evaluate(&settings.gate, &faults, &facts, Context::Push);
        say(log, &decision.message);
        blocked |= decision.block;
    }
    Ok(if blocked { EXIT_BLOCKED } else { EXIT_OK })
}

/// How long past the deadline the hook waits for the pipeline to stop on
/// its own (it checks the deadline between chunks, and one chunk of a slow
/// model can take a minute) before the watchdog ends the process.
pub fn hard_stop_grace(budget_secs: u64) -> Duration {
    Duration::from_secs((budget_secs / 10).clamp(5, 30))
}

/// The time budget must bound the push even when the pipeline is stuck in
/// one long generation: past the deadline plus [`hard_stop_grace`], a
/// watchdog thread prints the timeout decision and exits the process (0 =
/// allow, 1 = `on_timeout = "block"`). What was reviewed so far is already
/// in the cache, whose entries are written atomically, so the next push
/// continues from there. The returned sender stops the watchdog when dropped.
fn start_watchdog(deadline: Instant, settings: &Settings) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let fire_at = deadline + hard_stop_grace(settings.time_budget_secs);
    let budget = settings.time_budget_secs;
    let on_timeout = settings.on_timeout;
    std::thread::spawn(move || {
        let wait = fire_at.saturating_duration_since(Instant::now());
        if !matches!(
            rx.recv_timeout(wait),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        ) {
            return;
        }
        let (code, verdict) = match on_timeout {
            OnTimeout::Allow => (EXIT_OK, "push allowed".to_string()),
            OnTimeout::Block => (
                EXIT_BLOCKED,
                format!("push blocked (review.on_timeout = \"block\").\n{BYPASS_HELP}"),
            ),
        };
        eprintln!(
            "\ndeep-review: warning: the time budget ({budget} s) ran out in the middle of a review; \
             stopped it (the chunks already reviewed are cached: the next run continues from there); {verdict}"
        );
        std::process::exit(code);
    });
    tx
}
