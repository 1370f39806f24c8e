//! Times the git layer (range → diff → plan) on a real repository against
//! `git diff --patch` for the same range, and prints the figures.
//!
//! Usage: `cargo run --release --example diff_bench -- REPO RANGE [RUNS]`
//! (benches/diff_bench.sh builds a sample repository and runs this).

use git_deep_review::git::diff::DiffOptions;
use git_deep_review::git::range::{open_repo, resolve};
use git_deep_review::plan::{build, estimate_tokens, PlanOptions};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `git diff --patch` of the range with its output read to the end, as a
/// reader of the patch would.
fn time_git(repo: &str, base: &str, head: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut child = Command::new("git")
        .args([
            "-C",
            repo,
            "diff",
            "--patch",
            "-M",
            "--no-color",
            "--no-ext-diff",
            base,
            head,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run git diff");
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("read git diff");
    assert!(
        child.wait().expect("wait for git").success(),
        "git diff failed"
    );
    (started.elapsed(), out.len())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: diff_bench REPO RANGE [RUNS]");
        std::process::exit(2);
    }
    let (path, spec) = (&args[1], &args[2]);
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let repo = open_repo(std::path::Path::new(path)).expect("open repository");
    let opts = DiffOptions::default();

    let bare_opts = DiffOptions {
        enclosing: false,
        ..DiffOptions::default()
    };
    let (mut resolve_t, mut diff_t, mut plan_t, mut git_t) = (vec![], vec![], vec![], vec![]);
    let mut bare_t = vec![];
    let mut summary = String::new();
    for _ in 0..runs {
        let t = Instant::now();
        let range = resolve(&repo, Some(spec)).expect("resolve range");
        resolve_t.push(t.elapsed());
        let t = Instant::now();
        let files = range.diff(&repo, &opts).expect("diff range");
        diff_t.push(t.elapsed());
        let t = Instant::now();
        range.diff(&repo, &bare_opts).expect("diff range");
        bare_t.push(t.elapsed());
        let (base, head) = (
            range.base.expect("range has a base").to_string(),
            range.head.to_string(),
        );
        let lines: u32 = files.iter().map(|f| f.additions + f.deletions).sum();
        let nfiles = files.len();
        let t = Instant::now();
        let plan = build(range, files, &PlanOptions::default(), &estimate_tokens);
        plan_t.push(t.elapsed());
        let (g, bytes) = time_git(path, &base, &head);
        git_t.push(g);
        summary = format!(
            "{} commits, {nfiles} files, {lines} changed lines, {} chunks; git patch {bytes} bytes",
            plan.range.commits.len(),
            plan.chunks.len()
        );
    }
    let (r, d, p, g) = (
        median(resolve_t),
        median(diff_t),
        median(plan_t),
        median(git_t),
    );
    println!("range {spec} in {path}: {summary}");
    println!("median of {runs} runs:");
    println!(
        "  resolve (commits + per-commit diffstat) {:>9.1} ms",
        ms(r)
    );
    println!(
        "  diff_range (tree diff + hunks + enclosing) {:>6.1} ms",
        ms(d)
    );
    println!(
        "  diff_range without enclosing blocks     {:>9.1} ms",
        ms(median(bare_t))
    );
    println!(
        "  plan build                              {:>9.1} ms",
        ms(p)
    );
    println!(
        "  git diff --patch -M                     {:>9.1} ms",
        ms(g)
    );
    println!("ratio diff_range / git diff: {:.2}x", ms(d) / ms(g));
    println!(
        "ratio (diff_range + plan) / git diff: {:.2}x",
        (ms(d) + ms(p)) / ms(g)
    );
}
