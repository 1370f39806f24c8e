//! git-deep-review: a senior-level code review of a commit range by several
//! local GGUF models, without any code leaving the machine.
//!
//! The data flow is the module list, in order:
//! [`range`] → [`diff`] → [`plan`] → [`reviewers`] (through [`engine`]) →
//! [`findings`] → [`grounding`] → [`consolidate`] → [`verdict`] →
//! [`report`] / [`gate`]. Each stage takes and returns plain data.
//! [`config`], [`cache`] and [`hook`] serve the whole run.

pub mod error;

pub mod consolidate;
pub mod diff;
pub mod engine;
pub mod findings;
pub mod gate;
pub mod grounding;
pub mod plan;
pub mod range;
pub mod report;
pub mod reviewers;
pub mod verdict;

pub mod cache;
pub mod cli;
pub mod config;
pub mod hook;
pub mod lead;
pub mod pipeline;
pub mod prompts;

pub use error::{Error, Result};

use cli::{CacheCommand, Cli, Command, Format, GlobalArgs, HookCommand, ReviewArgs};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Runs one invocation of `git deep-review` and returns its exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Some(Command::Models) => {
            let mut out = std::io::stdout().lock();
            engine::list_models(&mut out)?;
            Ok(error::EXIT_OK)
        }
        Some(Command::Config) => show_config(&cli.global),
        Some(Command::Hook(cmd)) => run_hook(cmd, &cli.global),
        Some(Command::Cache(cmd)) => run_cache(cmd, &cli.global),
        None => run_review(&cli.review, &cli.global),
    }
}

/// The repository the command works on (`-C` or the current directory).
fn open(global: &GlobalArgs) -> Result<gix::Repository> {
    let dir = global.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    range::open_repo(&dir)
}

/// Where relative paths in configuration are resolved: the work tree, or
/// the git dir of a bare repository.
fn root_of(repo: &gix::Repository) -> PathBuf {
    repo.workdir()
        .unwrap_or_else(|| repo.git_dir())
        .to_path_buf()
}

/// Whether a model name can be used: in the manifest, or a stand-in when
/// the test suite enabled them.
fn model_exists(manifest: Option<&engine::manifest::Manifest>) -> impl Fn(&str) -> bool + '_ {
    move |name: &str| {
        (engine::standin::is_standin(name) && engine::standin::test_backends_enabled())
            || manifest.is_some_and(|m| m.get(name).is_some())
    }
}

/// Loads the layered configuration for `repo` with the command-line overrides.
fn settings_for(
    repo: &gix::Repository,
    args: &ReviewArgs,
) -> Result<(config::Settings, config::Provenance)> {
    let manifest = engine::manifest::load_manifest().ok();
    let overrides = config::CliOverrides {
        context_lines: args.context,
        chunk_tokens: args.chunk_tokens,
        time_budget_secs: args.time_budget,
        threads: args.threads,
    };
    let snapshot = repo.config_snapshot();
    let exists = model_exists(manifest.as_ref());
    let (settings, prov) = config::load(&root_of(repo), Some(&snapshot), &overrides, &exists)?;
    for w in &prov.warnings {
        eprintln!("git-deep-review: warning: {w}");
    }
    Ok((settings, prov))
}

fn show_config(global: &GlobalArgs) -> Result<i32> {
    let repo = open(global)?;
    let (settings, prov) = settings_for(&repo, &ReviewArgs::default())?;
    let mut out = std::io::stdout().lock();
    config::write_effective(&settings, &prov, &mut out)
        .map_err(|e| Error::io("writing the configuration", e))?;
    Ok(error::EXIT_OK)
}

fn run_cache(cmd: CacheCommand, global: &GlobalArgs) -> Result<i32> {
    let repo = open(global)?;
    let (settings, _) = settings_for(&repo, &ReviewArgs::default())?;
    let cache = cache::Cache::open(
        &cache::default_dir(repo.git_dir()),
        settings.cache_max_bytes,
    )?;
    match cmd {
        CacheCommand::Clear => {
            let freed = cache.clear()?;
            println!(
                "cleared the review cache in {} ({freed} bytes freed)",
                cache.dir().display()
            );
        }
        CacheCommand::Stats => {
            let stats = cache.stats()?;
            println!("{}: {stats}", cache.dir().display());
        }
    }
    Ok(error::EXIT_OK)
}

fn run_hook(cmd: HookCommand, global: &GlobalArgs) -> Result<i32> {
    match cmd {
        HookCommand::Install { global: dir } => {
            let repo = if dir.is_none() {
                Some(open(global)?)
            } else {
                None
            };
            let report = hook::install(
                repo.as_ref(),
                &hook::InstallOptions {
                    global: dir,
                    ..Default::default()
                },
            )?;
            println!("{report}");
        }
        HookCommand::Uninstall { global: dir } => {
            let repo = if dir.is_none() {
                Some(open(global)?)
            } else {
                None
            };
            println!("{}", hook::uninstall(repo.as_ref(), dir.as_deref())?);
        }
        HookCommand::Status => {
            let repo = open(global)?;
            println!("{}", hook::status(Some(&repo), None)?);
        }
        HookCommand::Run { remote, .. } => return run_pre_push(remote, global),
    }
    Ok(error::EXIT_OK)
}

/// git's pre-push hook: reviews each pushed ref and applies the gate.
fn run_pre_push(remote: Option<String>, global: &GlobalArgs) -> Result<i32> {
    if std::env::var("DEEP_REVIEW").is_ok_and(|v| v == "skip") {
        return Ok(error::EXIT_OK);
    }
    let repo = open(global)?;
    let (settings, _) = settings_for(&repo, &ReviewArgs::default())?;
    let mut lines: Vec<String> = std::io::stdin().lines().map_while(|l| l.ok()).collect();
    let mut remote = remote.unwrap_or_else(|| "origin".to_string());
    if lines.iter().all(|l| l.trim().is_empty()) {
        if let Some((r, l)) = hook::pre_commit_input(&|k| std::env::var(k).ok()) {
            lines = l;
            if let Some(r) = r {
                remote = r;
            }
        }
    }
    let mut engine = make_engine(&settings, global, None);
    let mut review = |req: &hook::ReviewRequest| -> Result<hook::ReviewOutcomeForGate> {
        let plan = pipeline::plan_range(&repo, req.resolve(&repo)?, &settings)?;
        if plan.range.commits.is_empty() || plan.chunks.is_empty() {
            return Ok(hook::ReviewOutcomeForGate::default());
        }
        let mut outcome = review_plan(
            &repo,
            &plan,
            &settings,
            &[],
            Some(req.deadline),
            global,
            &mut engine,
            true,
        )?;
        let path = pipeline::write_report(
            &mut outcome.report,
            report::Format::Markdown,
            None,
            &report_dir(&repo, &settings),
        )?;
        Ok(hook::ReviewOutcomeForGate {
            findings: gate_findings(&outcome.report),
            report_path: path,
            timed_out: outcome.timed_out,
        })
    };
    let mut err = std::io::stderr();
    hook::pre_push(&repo, &remote, &lines, &settings, &mut review, &mut err)
}

fn gate_findings(r: &report::ReviewReport) -> Vec<gate::GateFinding> {
    r.findings
        .iter()
        .map(|f| gate::GateFinding {
            title: f.finding.title.clone(),
            file: f.finding.file.clone(),
            line: f.finding.line_start,
            severity: f.finding.severity,
            agreement: f.finding.agreement,
        })
        .collect()
}

fn report_dir(repo: &gix::Repository, settings: &config::Settings) -> PathBuf {
    settings
        .report_dir
        .clone()
        .unwrap_or_else(|| repo.git_dir().join("deep-review").join("reports"))
}

fn make_engine(
    settings: &config::Settings,
    global: &GlobalArgs,
    threads: Option<usize>,
) -> engine::Engine {
    engine::Engine::new(engine::llama::EngineOptions {
        threads: threads.or(settings.threads),
        verbose: global.verbose,
        progress: engine::progress::Progress::auto(global.quiet),
        max_memory: settings.max_memory,
        ..Default::default()
    })
}

/// The review cache as the reviewer stage sees it; failures to write the
/// cache never fail a review (the result is still correct, only slower next time).
struct CacheStore(cache::Cache);
impl reviewers::GenerationStore for CacheStore {
    fn get(&mut self, key: &str) -> Option<String> {
        self.0.get(&cache::CacheKey::new(&[key.as_bytes()]))
    }
    fn put(&mut self, key: &str, text: &str) {
        let _ = self.0.put(&cache::CacheKey::new(&[key.as_bytes()]), text);
    }
}

/// Stages 4–7 with the engine, cache and progress of this process.
#[allow(clippy::too_many_arguments)]
fn review_plan(
    repo: &gix::Repository,
    plan: &plan::ReviewPlan,
    settings: &config::Settings,
    only: &[String],
    deadline: Option<Instant>,
    global: &GlobalArgs,
    engine: &mut engine::Engine,
    use_cache: bool,
) -> Result<pipeline::Outcome> {
    let manifest = engine::manifest::load_manifest().ok();
    let info = |model: &str| -> (String, String) {
        match manifest.as_ref().and_then(|m| m.get(model)) {
            Some(e) => (e.file.clone(), e.sha256.clone()),
            None => (model.to_string(), model.to_string()),
        }
    };
    let mut store: Box<dyn reviewers::GenerationStore> = if use_cache {
        match cache::Cache::open(
            &cache::default_dir(repo.git_dir()),
            settings.cache_max_bytes,
        ) {
            Ok(c) => Box::new(CacheStore(c)),
            Err(e) => {
                if !global.quiet {
                    eprintln!("git-deep-review: warning: review cache unavailable ({e}); reviewing without it");
                }
                Box::new(reviewers::NoStore)
            }
        }
    } else {
        Box::new(reviewers::NoStore)
    };
    let quiet = global.quiet || !std::io::stderr().is_terminal();
    let mut say = |msg: &str| {
        if !quiet {
            eprintln!("deep-review: {msg}");
        }
    };
    // Check every model up front (hash on first use, header, vocabulary,
    // memory for its context): a missing, corrupt or too large model is
    // reported before minutes of work. The weights load later, only if a
    // chunk is not answered from the cache.
    let loaded_before = engine.load_ms();
    let mut failed_models = Vec::new();
    let chosen = pipeline::reviewers(settings, only, &root_of(repo))?;
    let mut distinct: Vec<String> = chosen
        .iter()
        .map(|r| r.spec.model.clone())
        .filter(|m| !engine::standin::is_standin(m))
        .collect();
    distinct.sort();
    distinct.dedup();
    for model in &distinct {
        say(&format!("loading {model}"));
        if let Err(e) = engine.llama().and_then(|l| l.prepare(model)) {
            failed_models.push((model.clone(), e));
        }
    }
    let all_real = chosen
        .iter()
        .all(|r| !engine::standin::is_standin(&r.spec.model));
    if all_real && !distinct.is_empty() && failed_models.len() == distinct.len() {
        let (_, e) = failed_models.swap_remove(0);
        return Err(e);
    }
    for (model, e) in &failed_models {
        if !global.quiet {
            eprintln!("git-deep-review: warning: model {model} is unusable, its reviewers will be reported as failed: {e}");
        }
    }
    // The plan was cut with an estimate (so `--plan` needs no model); now
    // the models are loaded, cut it with their own tokenizers.
    let usable: Vec<String> = distinct
        .iter()
        .filter(|m| !failed_models.iter().any(|(f, _)| f == *m))
        .cloned()
        .collect();
    let recounted = if usable.is_empty() {
        None
    } else {
        engine
            .llama()
            .and_then(|l| l.plan_counter(&usable))
            .ok()
            .map(|count| plan::recount(plan, settings.chunk_tokens, &count))
    };
    let plan = recounted.as_ref().unwrap_or(plan);
    let root = root_of(repo);
    let mut outcome = pipeline::review(
        repo,
        plan,
        pipeline::RunOptions {
            settings,
            only,
            deadline,
            root: &root,
            progress: Some(&mut say),
        },
        engine,
        store.as_mut(),
        &info,
    )?;
    // Weights load with the first context a review needs (never, when every
    // answer comes from the cache), so the stage is what the engine measured.
    outcome.report.timings.load_ms = engine.load_ms().saturating_sub(loaded_before);
    Ok(outcome)
}

/// The default command: plan, review, report, and optionally gate.
fn run_review(args: &ReviewArgs, global: &GlobalArgs) -> Result<i32> {
    let repo = open(global)?;
    let (settings, _) = settings_for(&repo, args)?;
    let t0 = Instant::now();
    let plan = pipeline::make_plan(&repo, args.range.as_deref(), &settings)?;
    let plan_ms = pipeline::ms(t0.elapsed());
    if args.plan {
        return print_plan(&plan, args.format);
    }
    let format = match args.format {
        None | Some(Format::Markdown) => report::Format::Markdown,
        Some(Format::Json) => report::Format::Json,
        Some(Format::Sarif) => report::Format::Sarif,
        Some(Format::Text) => {
            return Err(Error::Usage(
                "--format text is for --plan; a review is written as markdown, json or sarif"
                    .into(),
            ))
        }
    };
    if plan.range.commits.is_empty() {
        if !global.quiet {
            eprintln!("Nothing to review: {} has no commits.", plan.range.spec);
        }
        return Ok(error::EXIT_OK);
    }
    // Only skipped files (lock files, binaries...): no model has anything to
    // read, so none is loaded and no verdict is claimed (the hook does the same).
    if plan.chunks.is_empty() {
        if !global.quiet {
            eprintln!(
                "Nothing to review: every changed file in {} is skipped ({} skipped, {} unfit); see `git deep-review {} --plan`.",
                plan.range.spec,
                plan.skipped.len(),
                plan.unfit.len(),
                plan.range.spec
            );
        }
        return Ok(error::EXIT_OK);
    }
    let deadline = Some(Instant::now() + Duration::from_secs(settings.time_budget_secs));
    let mut engine = make_engine(&settings, global, args.threads);
    let mut outcome = review_plan(
        &repo,
        &plan,
        &settings,
        &args.reviewers,
        deadline,
        global,
        &mut engine,
        !args.no_cache,
    )?;
    engine.clear_progress();
    outcome.report.timings.plan_ms = plan_ms;
    let dir = report_dir(&repo, &settings);
    let path = pipeline::write_report(&mut outcome.report, format, args.output.as_deref(), &dir)?;
    if outcome.timed_out && !global.quiet {
        eprintln!(
            "git-deep-review: warning: the time budget ({} s) ran out; the report covers what was reviewed.",
            settings.time_budget_secs
        );
    }
    if !global.quiet {
        let color = match global.color {
            cli::Color::Auto => report::terminal::ColorChoice::Auto,
            cli::Color::Always => report::terminal::ColorChoice::Always,
            cli::Color::Never => report::terminal::ColorChoice::Never,
        };
        let summary = report::terminal::summary(&outcome.report, path.as_deref(), color.enabled());
        // With the report on stdout, the summary must not mix into it.
        if path.is_none() {
            eprint!("{summary}");
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(summary.as_bytes())
                .map_err(|e| Error::io("writing the summary", e))?;
        }
    }
    if args.gate {
        let decision = gate::evaluate(
            &settings.gate,
            &gate_findings(&outcome.report),
            path.as_deref(),
        );
        if decision.block {
            eprintln!("{}", decision.message);
            return Ok(error::EXIT_BLOCKED);
        }
    }
    Ok(error::EXIT_OK)
}

fn print_plan(plan: &plan::ReviewPlan, format: Option<Format>) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    let io = |e| Error::io("writing the plan", e);
    match format {
        None | Some(Format::Text) => plan::write_text(plan, &mut out).map_err(io)?,
        Some(Format::Json) => {
            serde_json::to_writer_pretty(&mut out, &plan.to_json()).map_err(|e| io(e.into()))?;
            writeln!(out).map_err(io)?;
        }
        Some(f) => {
            return Err(Error::Usage(format!(
                "--plan prints text or json, not {f:?}"
            )))
        }
    }
    Ok(error::EXIT_OK)
}
