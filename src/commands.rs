//! Each subcommand mapped onto the pipeline: what it opens, which settings
//! it reads, what it prints and which exit code it returns.

use crate::cli::{CacheCommand, EvalArgs, Format, GlobalArgs, HookCommand, ReviewArgs};
use crate::engine::manifest::Manifest;
use crate::error::{self, Error, Result};
use crate::gate::{Context, ReviewFacts};
use crate::git::range;
use crate::pipeline::{self, Run, RunOptions};
use crate::{cache, cli, config, engine, hook, plan, report};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The repository the command works on (`-C` or the current directory).
fn open(global: &GlobalArgs) -> Result<gix::Repository> {
    let dir = global.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    range::open_repo(&dir)
}

/// Which commit's repository configuration a command reads (when the user
/// does not trust the work tree's, see `config::repo_files`).
enum ConfigAt<'a> {
    /// The base of this range (`None`: the default range).
    Range(Option<&'a str>),
    /// This base (`None`: the range starts at the root), of a range named `spec`.
    Base(Option<gix::ObjectId>, String),
    /// The default range's base when there is one, else `HEAD`: for
    /// commands that review nothing (`config`, `cache`, `eval`).
    Default,
}

/// Where this run reads `.deep-review.toml`, the instruction files and the
/// prompt files the repository file names.
fn repo_files(repo: &gix::Repository, at: ConfigAt<'_>) -> Result<config::repo_files::RepoFiles> {
    use config::repo_files::RepoFiles;
    // Absolute, so paths the files name (a report directory) do not
    // depend on the directory the command was started in.
    let root = pipeline::root_of(repo);
    let root = root.canonicalize().unwrap_or(root);
    if config::repo_config_trusted(&repo.config_snapshot()) {
        return Ok(RepoFiles::work_tree(&root));
    }
    let short = |id: gix::ObjectId| id.to_hex().to_string()[..7].to_string();
    let based = |base: Option<gix::ObjectId>, spec: &str| {
        match base {
        Some(id) => RepoFiles::at_commit(repo, &root, id, format!("{}, the base of {spec}", short(id))),
        None => RepoFiles::nothing(
            &root,
            format!("{spec} starts at the root commit, so there is no accepted code to read the repository's configuration from"),
        ),
    }
    };
    let head = || match repo.head_id() {
        Ok(id) => RepoFiles::at_commit(
            repo,
            &root,
            id.detach(),
            format!("HEAD ({})", short(id.detach())),
        ),
        Err(_) => RepoFiles::nothing(&root, "the repository has no commit yet"),
    };
    Ok(match at {
        ConfigAt::Base(base, spec) => based(base, &spec),
        ConfigAt::Range(Some(spec)) => {
            let r = range::resolve(repo, Some(spec))?;
            based(r.base, &r.spec)
        }
        ConfigAt::Range(None) | ConfigAt::Default => match range::resolve(repo, None) {
            Ok(r) => based(r.base, &r.spec),
            Err(e) if matches!(at, ConfigAt::Range(None)) => return Err(e),
            Err(_) => head(),
        },
    })
}

/// The layered configuration for `repo` with the command-line overrides,
/// and the models manifest it was checked against (read once per run).
fn settings_for(
    repo: &gix::Repository,
    args: &ReviewArgs,
    at: ConfigAt<'_>,
) -> Result<(
    config::Settings,
    config::Provenance,
    std::result::Result<Manifest, String>,
)> {
    let mut manifest = engine::manifest::load_manifest().map_err(|e| e.to_string());
    let overrides = config::CliOverrides {
        context_lines: args.context,
        chunk_tokens: args.chunk_tokens,
        context_tokens: args.context_tokens,
        time_budget: args.time_budget.clone(),
        threads: args.threads,
        verify: args.verify.clone(),
        verifier: args.verifier.clone(),
    };
    let known = manifest.as_ref().ok();
    // Stand-ins are test backends: only a test run that enables them may
    // name them, never a configuration file.
    // Store references and file paths are resolved once the settings say
    // which are used (below), so a bad one fails with where it was looked for.
    let exists = |name: &str| {
        (crate::config::model_ref::is_standin(name)
            && crate::config::model_ref::test_backends_enabled())
            || known.is_some_and(|m| m.get(name).is_some())
            // Left out of the manifest: named here so the check below
            // says why, instead of "not in the model manifest".
            || known.is_some_and(|m| m.rejected(name).is_some())
            || engine::stores::is_reference(name)
            || engine::manifest::is_model_path(name)
            || engine::remote::is_endpoint_url(name)
    };
    let snapshot = repo.config_snapshot();
    let files = repo_files(repo, at)?;
    let (settings, prov) = config::load(&files, Some(&snapshot), &overrides, &exists)?;
    for w in &prov.warnings {
        eprintln!("git-deep-review: warning: {w}");
    }
    let mut settings = settings;
    settings.offline |= args.offline;
    if let Some(model) = &args.model {
        if !exists(model) {
            return Err(Error::Usage(format!(
                "--model {model:?} is not a model: name a manifest entry, a store reference \
                 (ollama:NAME:TAG, hf:ORG/REPO/FILE.gguf, lmstudio:PUBLISHER/MODEL/FILE.gguf), a \
                 GGUF path or a server URL (http://HOST:PORT/v1); `git deep-review models` lists them"
            )));
        }
        for r in &mut settings.reviewers {
            r.model = model.clone();
        }
        if settings.lead.is_some() {
            settings.lead = Some(model.clone());
        }
        if settings.verifier.is_some() && args.verifier.is_none() {
            settings.verifier = Some(model.clone());
        }
    }
    if let Ok(m) = manifest.as_mut() {
        let mut used: Vec<&str> = settings
            .reviewers
            .iter()
            .map(|r| r.model.as_str())
            .collect();
        used.extend(settings.lead.as_deref());
        used.extend(settings.verifier.as_deref());
        // A model the user's manifest names but that was left out says
        // why here, where the user is, not only in `git deep-review models`.
        if let Some(r) = used
            .iter()
            .find_map(|name| m.get(name).is_none().then(|| m.rejected(name)).flatten())
        {
            return Err(Error::Config(format!(
                "model `{}` cannot be used: its entry is left out of the models manifest: {}",
                r.name, r.message
            )));
        }
        m.add_references(
            &used,
            &engine::stores::StoreEnv::from_process(),
            &pipeline::root_of(repo),
        )?;
    }
    Ok((settings, prov, manifest))
}

/// `git deep-review config`: the effective configuration and its sources.
pub fn show_config(global: &GlobalArgs) -> Result<i32> {
    let repo = open(global)?;
    let (settings, prov, manifest) =
        settings_for(&repo, &ReviewArgs::default(), ConfigAt::Default)?;
    crate::pager::start(global);
    let mut out = std::io::stdout().lock();
    config::write_effective(&settings, &prov, &mut out)
        .map_err(|e| Error::io("writing the configuration", e))?;
    write_code_destinations(&settings, manifest.as_ref().ok(), &mut out)
        .map_err(|e| Error::io("writing the configuration", e))?;
    Ok(error::EXIT_OK)
}

/// Where a review with these settings sends the code: each inference
/// server a reviewer or the lead is on, or that nothing leaves the machine.
fn write_code_destinations(
    settings: &config::Settings,
    manifest: Option<&Manifest>,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let named = settings
        .reviewers
        .iter()
        .map(|r| (format!("reviewer {}", r.name), r.model.as_str()))
        .chain(
            settings
                .verifier
                .as_deref()
                .map(|v| ("the verifier".to_string(), v)),
        );
    let servers: Vec<String> =
        crate::engine::reviewer_models::on_servers(named, settings.lead.as_deref(), manifest)
            .into_iter()
            .map(|(who, model, on)| format!("  {who} ({model}): {on}"))
            .collect();
    writeln!(w)?;
    if servers.is_empty() {
        writeln!(
            w,
            "# code sent to: nowhere (every model runs on this machine)"
        )?;
    } else {
        writeln!(w, "# code sent to (inference servers):")?;
        for s in servers {
            writeln!(w, "#{s}")?;
        }
        if settings.offline {
            writeln!(w, "# offline is on: a review refuses these servers")?;
        }
    }
    Ok(())
}

/// `git deep-review init`: chooses reviewers from the models found here
/// and writes them to the repository's (or, `--global`, the user's)
/// configuration file, or prints them (`--stdout`).
pub fn init(global_file: bool, force: bool, stdout: bool, global: &GlobalArgs) -> Result<i32> {
    let candidates = init_candidates();
    let choice = crate::init::choose(&candidates, engine::memory::available_bytes());
    let text = crate::init::render(&choice);
    if stdout {
        print!("{text}");
        return Ok(error::EXIT_OK);
    }
    let path = if global_file {
        config::user_config_path().ok_or_else(|| {
            Error::Usage("cannot tell where the user configuration goes: HOME is not set".into())
        })?
    } else {
        pipeline::root_of(&open(global)?).join(config::REPO_FILE)
    };
    let kept = crate::init::write_new(&path, &text, force)?;
    // Where the old file went is said even with --quiet: it is the user's.
    if let Some(bak) = &kept {
        eprintln!("kept the old {} as {}", path.display(), bak.display());
    }
    if !global.quiet {
        for line in &choice.explanation {
            eprintln!("{line}");
        }
        eprintln!("wrote {}", path.display());
    }
    Ok(error::EXIT_OK)
}

/// The models `init` chooses from: every manifest entry whose file is
/// here, and every model in the stores (Ollama, Hugging Face, LM Studio).
fn init_candidates() -> Vec<crate::init::Candidate> {
    let candidate = |reference: String, origin: String, path: &std::path::Path, demo: bool| {
        let info = engine::gguf_meta::read_gguf_info(path).ok()?;
        let unusable =
            engine::catalog::unusable_reason(&info, &engine::manifest::ChatTemplate::Auto);
        Some(crate::init::Candidate {
            reference,
            origin,
            file_size: info.file_size,
            parameters: info.parameters,
            architecture: info.architecture,
            demonstration: demo,
            unusable,
        })
    };
    let mut out = Vec::new();
    let manifest = engine::manifest::load_manifest().ok();
    if let Some(m) = &manifest {
        out.extend(m.models.iter().filter_map(|e| {
            let mut c = candidate(
                e.name.clone(),
                "the models directory".into(),
                &m.path_of(e),
                e.demonstration,
            )?;
            // The manifest's own template setting decides for its entries.
            if !matches!(e.chat_template, engine::manifest::ChatTemplate::Auto) {
                c.unusable = None;
            }
            Some(c)
        }));
    }
    for (root, scan) in engine::stores::scan_all(&engine::stores::StoreEnv::from_process()) {
        for f in scan.found {
            let origin = root.kind.label().to_string();
            match &f.unusable {
                Some(why) => out.push(crate::init::Candidate {
                    reference: f.reference.clone(),
                    origin,
                    file_size: f.size,
                    parameters: 0,
                    architecture: String::new(),
                    demonstration: false,
                    unusable: Some(why.clone()),
                }),
                None => {
                    let demo = manifest
                        .as_ref()
                        .is_some_and(|m| m.is_demonstration(f.sha256.as_deref(), &f.path));
                    out.extend(candidate(f.reference.clone(), origin, &f.path, demo))
                }
            }
        }
    }
    out
}

/// `git deep-review models [list|add|remove]`.
pub fn models(
    list: crate::cli::ModelsListArgs,
    cmd: Option<cli::ModelsCommand>,
    global: &GlobalArgs,
) -> Result<i32> {
    let env = engine::stores::StoreEnv::from_process();
    match cmd.unwrap_or(crate::cli::ModelsCommand::List(list)) {
        crate::cli::ModelsCommand::List(args) => list_models(&args, &env, global)?,
        cli::ModelsCommand::Add {
            model,
            name,
            chat_template,
            n_ctx,
        } => {
            let req = engine::catalog::AddRequest {
                model,
                name,
                chat_template,
                n_ctx,
            };
            let quiet = global.quiet;
            let entry = engine::catalog::add(&req, &env, &mut |m| {
                if !quiet {
                    eprintln!("{m}");
                }
            })?;
            println!(
                "added `{}` ({}, sha256 {}) to {}; name it in a reviewer's `model`",
                entry.name,
                entry.file,
                entry.sha256,
                engine::models_dir().join("manifest.toml").display()
            );
        }
        cli::ModelsCommand::Remove { name } => {
            let path = engine::catalog::remove(&name)?;
            println!("removed `{name}` from {}", path.display());
        }
    }
    Ok(error::EXIT_OK)
}

/// `git deep-review models [list] [--format json | --path MODEL]`: the
/// list for people or for scripts, or the file one model reference
/// resolves to. Loads no model.
fn list_models(
    args: &crate::cli::ModelsListArgs,
    env: &crate::engine::stores::StoreEnv,
    global: &GlobalArgs,
) -> Result<()> {
    if args.names {
        let mut out = std::io::stdout().lock();
        for n in crate::generate::completions::model_names(env) {
            writeln!(out, "{n}").map_err(|e| Error::io("writing the model names", e))?;
        }
        return Ok(());
    }
    if args.path.is_none() {
        crate::pager::start(global);
    }
    let mut out = std::io::stdout().lock();
    if let Some(model) = &args.path {
        let base = model_path_base(model, global)?;
        let path = crate::engine::catalog::resolve_path(model, env, &base)?;
        return writeln!(out, "{}", path.display()).map_err(|e| Error::io("writing the path", e));
    }
    match args.format {
        crate::cli::EvalFormat::Text => crate::engine::catalog::list(&mut out, env),
        crate::cli::EvalFormat::Json => {
            let list = crate::engine::catalog::list_json(env)?;
            write_json(&mut out, &list).map_err(|e| Error::io("writing the model list", e))
        }
    }
}

/// Where a relative GGUF path in `model` is taken from: the repository's
/// top directory, as in a review, else `-C` or the current directory.
/// Only looked up for such a path.
fn model_path_base(model: &str, global: &GlobalArgs) -> Result<PathBuf> {
    let dir = global.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    let relative = crate::engine::manifest::is_model_path(model)
        && !model.starts_with("~/")
        && std::path::Path::new(model).is_relative();
    if !relative {
        return Ok(dir);
    }
    let root = match crate::git::range::open_repo(&dir) {
        Ok(repo) => crate::pipeline::root_of(&repo),
        Err(_) => dir,
    };
    // The repository found from "." is "." or "..": the printed path is
    // absolute and plain.
    Ok(std::fs::canonicalize(&root).unwrap_or(root))
}

/// `git deep-review cache clear|stats`.
pub fn cache(cmd: CacheCommand, global: &GlobalArgs) -> Result<i32> {
    let repo = open(global)?;
    let (settings, _, _) = settings_for(&repo, &ReviewArgs::default(), ConfigAt::Default)?;
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
        CacheCommand::Stats => println!("{}: {}", cache.dir().display(), cache.stats()?),
    }
    Ok(error::EXIT_OK)
}

/// `git deep-review hook install|uninstall|status|run`.
pub fn hook(cmd: HookCommand, global: &GlobalArgs) -> Result<i32> {
    // A global install needs no repository; everything else does.
    let repo_unless = |dir: &Option<PathBuf>| dir.is_none().then(|| open(global)).transpose();
    match cmd {
        HookCommand::Install { global: dir } => {
            let repo = repo_unless(&dir)?;
            let opts = hook::InstallOptions {
                global: dir,
                ..Default::default()
            };
            println!("{}", hook::install(repo.as_ref(), &opts)?);
        }
        HookCommand::Uninstall { global: dir } => {
            let repo = repo_unless(&dir)?;
            println!("{}", hook::uninstall(repo.as_ref(), dir.as_deref())?);
        }
        HookCommand::Status => println!("{}", hook::status(Some(&open(global)?), None)?),
        HookCommand::Run { remote, .. } => return run_pre_push(remote.as_deref(), global),
    }
    Ok(error::EXIT_OK)
}

/// git's pre-push hook: reviews each pushed ref and applies the gate.
fn run_pre_push(remote: Option<&str>, global: &GlobalArgs) -> Result<i32> {
    if std::env::var("DEEP_REVIEW").is_ok_and(|v| v == "skip") {
        return Ok(error::EXIT_OK);
    }
    let repo = open(global)?;
    let (remote, lines) =
        hook::read_input(remote, &mut std::io::stdin(), &|k| std::env::var(k).ok())?;
    let at = hook::config_base(&repo, &remote, &lines)?;
    let (settings, _, manifest) = settings_for(
        &repo,
        &ReviewArgs::default(),
        at.map_or(ConfigAt::Default, |(base, spec)| ConfigAt::Base(base, spec)),
    )?;
    let opts = RunOptions {
        use_cache: true,
        index_cache: true,
        quiet: global.quiet,
        progress: !global.quiet && std::io::stderr().is_terminal(),
        ..Default::default()
    };
    let mut run = Run::prepare(&repo, &settings, manifest, &opts)?;
    let mut engine = run.engine(engine_options(&settings, global, None));
    let dir = pipeline::report_dir(&repo, &settings);
    let mut unwritten: Option<Error> = None;
    let mut review = |req: &hook::ReviewRequest| -> Result<Option<ReviewFacts>> {
        let plan = pipeline::plan_range(&repo, req.resolve(&repo)?, &settings)?;
        if plan.range.commits.is_empty() || (plan.chunks.is_empty() && plan.unfit.is_empty()) {
            return Ok(None);
        }
        let mut outcome = run.review(&plan, Some(req.deadline), &mut engine)?;
        engine.clear_progress();
        if outcome.interrupted {
            return Err(Error::Interrupted);
        }
        // A report that cannot be written does not hide the review: its
        // summary is shown here, the gate decides as usual, and the push is
        // refused afterwards for the report (below).
        let path = match pipeline::write_saved_report(
            &mut outcome.report,
            report::Format::Markdown,
            None,
            &dir,
            settings.report_formats,
        ) {
            Ok(path) => path,
            Err(e) => {
                eprint!(
                    "{}",
                    report::terminal::summary(&outcome.report, None, false)
                );
                unwritten.get_or_insert(e);
                None
            }
        };
        Ok(Some(outcome.report.gate_facts(path.as_deref())))
    };
    let code = hook::pre_push(
        &repo,
        &remote,
        &lines,
        &settings,
        &mut review,
        &mut std::io::stderr(),
    )?;
    match unwritten {
        Some(e) => {
            eprintln!(
                "git-deep-review: error: could not write the review's report: {e}; so the push is \
                 refused, whatever the gate said above (the review's summary is above). Set \
                 review.report_dir to a writable directory, or push with DEEP_REVIEW=skip to \
                 bypass the review"
            );
            Ok(error::EXIT_IO)
        }
        None => Ok(code),
    }
}

fn engine_options(
    settings: &config::Settings,
    global: &GlobalArgs,
    threads: Option<usize>,
) -> engine::EngineOptions {
    engine::EngineOptions {
        threads: threads.or(settings.threads),
        verbose: global.verbose,
        progress: engine::progress::Progress::auto(global.quiet),
        max_memory: settings.max_memory,
        batch_decode: settings.batch_decode,
        ..Default::default()
    }
}

/// The default command: plan, review, report, and optionally gate.
pub fn review(args: &ReviewArgs, global: &GlobalArgs) -> Result<i32> {
    let t0 = Instant::now();
    let repo = open(global)?;
    let (settings, _, manifest) =
        settings_for(&repo, args, ConfigAt::Range(args.range.as_deref()))?;
    let format = match args.format {
        _ if args.plan => None,
        None | Some(Format::Markdown) => Some(report::Format::Markdown),
        Some(Format::Json) => Some(report::Format::Json),
        Some(Format::Sarif) => Some(report::Format::Sarif),
        Some(Format::Codequality) => Some(report::Format::Codequality),
        Some(Format::Html) => Some(report::Format::Html),
        Some(Format::Text) => {
            return Err(Error::Usage(
                "--format text is for --plan; a review is written as markdown, json, sarif, html or codequality"
                    .into(),
            ))
        }
    };
    let opts = RunOptions {
        only: args.reviewers.clone(),
        use_cache: !args.no_cache && !args.plan,
        index_cache: !args.no_cache,
        quiet: global.quiet,
        progress: !global.quiet && std::io::stderr().is_terminal(),
    };
    // Reviewers and their prompts are resolved before planning, so `--plan`
    // reports a bad `--reviewer` or a missing prompt file as a review would.
    let mut run = Run::prepare(&repo, &settings, manifest, &opts)?;
    let plan = run.plan(args.range.as_deref())?;
    let plan_ms = pipeline::ms(t0.elapsed());
    let Some(format) = format else {
        let context = run.plan_context(&plan)?;
        crate::pager::start(global);
        return print_plan(&plan, &context, args.format);
    };
    let say = |msg: String| {
        if !global.quiet {
            eprintln!("{msg}");
        }
    };
    if plan.range.commits.is_empty() {
        say(format!(
            "Nothing to review: {} has no commits.",
            plan.range.spec
        ));
        return Ok(error::EXIT_OK);
    }
    // Only skipped files (lock files, binaries...): no model has anything to
    // read, so none is loaded and no verdict is claimed.
    if plan.chunks.is_empty() && plan.unfit.is_empty() {
        say(format!(
            "Nothing to review: every changed file in {} is skipped ({} skipped); see `git deep-review {} --plan`.",
            plan.range.spec,
            plan.skipped.len(),
            plan.range.spec
        ));
        return Ok(error::EXIT_OK);
    }
    // The budget holds for the whole run, counted from the start.
    let deadline = t0 + Duration::from_secs(settings.time_budget_secs);
    let mut engine = run.engine(engine_options(&settings, global, args.threads));
    let mut outcome = run.review(&plan, Some(deadline), &mut engine)?;
    engine.clear_progress();
    if outcome.interrupted {
        // Nothing is written for a review the user stopped.
        return Err(Error::Interrupted);
    }
    outcome.report.timings.plan_ms = plan_ms;
    // The pager starts once the review is done: while the models run, the
    // terminal shows their progress (stderr).
    if !global.quiet || args.output.as_deref() == Some(std::path::Path::new("-")) {
        crate::pager::start(global);
    }
    let dir = pipeline::report_dir(&repo, &settings);
    // A report that cannot be written (a read-only .git, a full disk) does
    // not lose the review: it is printed on stdout instead, the summary
    // and the gate follow as usual, and only then is it an error (exit 5).
    let (path, unwritten) = match pipeline::write_saved_report(
        &mut outcome.report,
        format,
        args.output.as_deref(),
        &dir,
        settings.report_formats,
    ) {
        Ok(path) => (path, None),
        // The pager (or `| head`) was quit before the report's end: the
        // reader's choice, not a failure; the gate still decides.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            (None, None)
        }
        Err(e) => {
            let text = report::render(&outcome.report, format);
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
            (None, Some(e))
        }
    };
    let code = review_outcome(args, global, &settings, &run, &outcome, path.as_deref())?;
    match unwritten {
        Some(e) => {
            eprintln!(
                "git-deep-review: error: could not write the report: {e}; the review is printed \
                 above (on stdout) instead. Set review.report_dir or pass -o FILE to write it elsewhere"
            );
            Ok(error::EXIT_IO)
        }
        None => Ok(code),
    }
}

/// What a review prints after its report is written (the time budget
/// note, the terminal summary, the gate's decision) and its exit code.
fn review_outcome(
    args: &ReviewArgs,
    global: &GlobalArgs,
    settings: &config::Settings,
    run: &Run<'_>,
    outcome: &pipeline::Outcome,
    path: Option<&std::path::Path>,
) -> Result<i32> {
    let say = |msg: String| {
        if !global.quiet {
            eprintln!("{msg}");
        }
    };
    if outcome.timed_out {
        say(format!(
            "git-deep-review: warning: the time budget ({} s) ran out; the report covers what was reviewed.",
            settings.time_budget_secs
        ));
    }
    if !global.quiet {
        let color = match global.color {
            cli::Color::Auto => report::terminal::ColorChoice::Auto,
            cli::Color::Always => report::terminal::ColorChoice::Always,
            cli::Color::Never => report::terminal::ColorChoice::Never,
        };
        let summary = report::terminal::summary(&outcome.report, path, color.enabled());
        // With the report on stdout, the summary must not mix into it.
        if path.is_none() {
            eprint!("{summary}");
        } else {
            let mut out = std::io::stdout().lock();
            // A pager quit early closes the pipe: the gate below still
            // decides the exit code.
            match out.write_all(summary.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Error::io("writing the summary", e))
                }
                _ => {}
            }
        }
    }
    if args.gate {
        let decision = run.gate(outcome, path, Context::Manual);
        if decision.block {
            eprintln!("{}", decision.message);
            return Ok(error::EXIT_BLOCKED);
        }
        // An allowed review still names what it let through unconfirmed
        // and what the verifier refuted, as the hook does.
        if !decision.warnings.is_empty() || !outcome.report.refuted.is_empty() {
            eprintln!("{}", decision.message);
        }
    }
    Ok(error::EXIT_OK)
}

/// `git deep-review eval`: gathers the labelled cases, reviews each with
/// the configured reviewers (cache on, lead off: prose is not scored) and
/// prints the scores as a table or JSON.
pub fn eval(args: &EvalArgs, global: &GlobalArgs) -> Result<i32> {
    let json = args.format == crate::cli::EvalFormat::Json;
    let repo = open(global)?;
    // Planted mutants and decoys are objects no ref will ever reach: they
    // go to a scratch object store (reading the repository's through
    // alternates) that is removed with `_scratch`, so the repository's
    // `objects/` is left exactly as it was.
    let (repo, _scratch) =
        if args.mutants.is_some_and(|n| n > 0) || args.decoys.is_some_and(|n| n > 0) {
            let (repo, scratch) = crate::eval::mutants::with_scratch_objects(repo)?;
            (repo, Some(scratch))
        } else {
            (repo, None)
        };
    let review_args = ReviewArgs {
        model: args.model.clone(),
        reviewers: args.reviewers.clone(),
        threads: args.threads,
        offline: args.offline,
        no_cache: args.no_cache,
        verify: args.verify.clone(),
        verifier: args.verifier.clone(),
        ..Default::default()
    };
    let (mut settings, _, manifest) = settings_for(&repo, &review_args, ConfigAt::Default)?;
    settings.lead = None;
    let say = |msg: &str| {
        if !global.quiet {
            eprintln!("eval: {msg}");
        }
    };
    if args.context {
        return eval_context(&repo, args, &settings, global, &say);
    }
    let sources = crate::eval::CaseSources {
        cases_file: args.cases.clone(),
        history: args
            .from_history
            .as_ref()
            .map(|r| Some(r.trim()).filter(|r| !r.is_empty()).map(str::to_string)),
        fix_pattern: args.fix_pattern.clone(),
        max_history_cases: args.max_cases,
        mutants: args.mutants,
        // As many decoys as mutants unless said otherwise.
        decoys: args.decoys.or(args.mutants),
        seed: args.seed,
    };
    // Cases are gathered and checked before any model loads.
    let cases = crate::eval::gather(&repo, &sources, &say)?;
    if args.list {
        crate::pager::start(global);
        let mut out = std::io::stdout().lock();
        let io = |e| Error::io("writing the cases", e);
        if json {
            write_json(&mut out, &cases).map_err(io)?;
        } else {
            out.write_all(crate::eval::table::cases(&cases).as_bytes())
                .map_err(io)?;
        }
        return Ok(error::EXIT_OK);
    }
    let opts = RunOptions {
        only: args.reviewers.clone(),
        use_cache: !args.no_cache,
        index_cache: !args.no_cache,
        quiet: global.quiet,
        progress: !global.quiet && std::io::stderr().is_terminal(),
    };
    let mut run = Run::prepare(&repo, &settings, manifest, &opts)?;
    let mut engine = run.engine(engine_options(&settings, global, args.threads));
    let outcomes = crate::eval::run::review_cases(
        &repo,
        &settings,
        &mut run,
        &mut engine,
        &cases,
        args.max_chunks,
        &say,
    )?;
    let scores = crate::eval::score::score(&outcomes, args.tolerance);
    crate::pager::start(global);
    let mut out = std::io::stdout().lock();
    let io = |e| Error::io("writing the scores", e);
    if json {
        write_json(&mut out, &scores).map_err(io)?;
    } else {
        out.write_all(crate::eval::table::render(&scores).as_bytes())
            .map_err(io)?;
    }
    Ok(error::EXIT_OK)
}

/// `eval --context`: context recall of the packs on history pairs; no model.
fn eval_context(
    repo: &gix::Repository,
    args: &EvalArgs,
    settings: &config::Settings,
    global: &GlobalArgs,
    say: &dyn Fn(&str),
) -> Result<i32> {
    use crate::eval::context_recall;
    let pattern = args
        .fix_pattern
        .as_deref()
        .unwrap_or(crate::eval::history::DEFAULT_FIX_PATTERN);
    let fix_pattern = regex::Regex::new(pattern).map_err(|e| {
        Error::Usage(format!(
            "--fix-pattern {pattern:?} is not a regular expression: {e}"
        ))
    })?;
    let mut ignore: Vec<String> = crate::plan::DEFAULT_IGNORE
        .iter()
        .map(|s| s.to_string())
        .collect();
    ignore.extend(settings.ignore.iter().cloned());
    let opts = context_recall::ContextEvalOptions {
        mine: crate::eval::history::MineOptions {
            fix_pattern,
            max_cases: usize::MAX,
            // Each fix gives at least one pair when it gives any.
            max_fix_commits: args.max_pairs,
        },
        max_pairs: args.max_pairs,
        budgets: args.budgets.clone(),
        ignore,
    };
    let range = args
        .from_history
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let report = context_recall::measure(repo, range, settings, &opts, say)?;
    crate::pager::start(global);
    let mut out = std::io::stdout().lock();
    let io = |e| Error::io("writing the context recall", e);
    if args.format == crate::cli::EvalFormat::Json {
        write_json(&mut out, &report).map_err(io)?;
    } else {
        out.write_all(context_recall::render(&report).as_bytes())
            .map_err(io)?;
    }
    Ok(error::EXIT_OK)
}

/// `value` as pretty JSON and a newline.
fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// `--plan`: the plan, then the context each chunk would be shown.
fn print_plan(
    plan: &plan::ReviewPlan,
    context: &crate::context::ContextPlan,
    format: Option<Format>,
) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    let io = |e| Error::io("writing the plan", e);
    match format {
        None | Some(Format::Text) => {
            plan::write_text(plan, &mut out).map_err(io)?;
            out.write_all(crate::context::render::plan_text(context).as_bytes())
                .map_err(io)?;
        }
        Some(Format::Json) => {
            let mut json =
                serde_json::to_value(plan.to_json()).map_err(|e| io(std::io::Error::other(e)))?;
            json["context"] = serde_json::to_value(context.without_text())
                .map_err(|e| io(std::io::Error::other(e)))?;
            write_json(&mut out, &json).map_err(io)?
        }
        Some(f) => {
            return Err(Error::Usage(format!(
                "--plan prints text or json, not {f:?}"
            )))
        }
    }
    Ok(error::EXIT_OK)
}
