//! The review as one run, stage after stage. This is porcelain: [`Run`]
//! holds what every stage shares (the settings, the manifest, the resolved
//! reviewers, the cache), built once; each stage lives in its own module,
//! takes and returns plain data, and is tested there.
//!
//! The stages, in order (the one list; [`Run::plan`] and [`Run::review`]
//! call them in this order):
//!
//! | stage | module | takes → returns |
//! |---|---|---|
//! | range | `git::range` | a revision spec → `ReviewRange` (commits, base, head) |
//! | diff | `git::diff` | a range → `FileDiff`s with labelled hunks |
//! | plan | `plan` | diffs → `ReviewPlan` (chunks, skipped, unfit) |
//! | context | `context` | plan + head tree → a ranked context pack per chunk |
//! | reviewers | `review::reviewers` | plan + models → `ReviewerRun`s (raw answers) |
//! | findings, grounding, consolidation, verdict | `check` | runs + head contents → `Checked` |
//! | verify | `verify` | consolidated findings + code + verifier models → `Verified` (confirmed / uncertain kept, refuted aside) |
//! | earlier feedback | `feedback` | earlier JSON reports + range → `Feedback` (unresolved / resolved / gone) |
//! | report | `report` | `ReportInput` → `ReviewReport` → Markdown / JSON / SARIF |
//! | gate | `gate` | `ReviewFacts` + policy → `GateDecision` |
//!
//! Models are reached only through the engine's interface
//! (`engine::reviewer_models` and `engine::Engine`): the pipeline never
//! learns how a model is named, loaded, hashed or counted.

use crate::cache::{Cache, CacheKey};
use crate::check::Checked;
use crate::config::Settings;
use crate::context::ContextPlan;
use crate::engine::manifest::Manifest;
use crate::engine::reviewer_models::{
    configured_window, on_servers, reviewer_model, verifier_rank,
};
use crate::engine::{Backend, Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::gate::{Context, FaultPolicy, GateDecision};
use crate::plan::ReviewPlan;
use crate::report::{self, ReportInput, ReviewReport, StageTimings};
use crate::review::lead::{LeadState, LeadStatus};
use crate::review::reviewers::{self, GenerationStore, NoStore, Reviewer, ReviewerRun, RunInputs};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a run is asked for, besides the settings.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these reviewers (empty = all configured).
    pub only: Vec<String>,
    /// Read and write the review cache.
    pub use_cache: bool,
    /// Say nothing on stderr but errors (no warnings either).
    pub quiet: bool,
    /// Say what is happening (`loading`, `chunk 2/5…`) on stderr.
    pub progress: bool,
    /// Keep the symbol index's tags in `<git dir>/deep-review/context-tags`
    /// (`--plan` too: only `--no-cache` turns it off).
    pub index_cache: bool,
}

/// One review run: what every stage shares, built once.
pub struct Run<'r> {
    repo: &'r gix::Repository,
    settings: &'r Settings,
    /// The models manifest, read once (its error is reported when a real
    /// model is first needed, so `--plan` works without one).
    manifest: std::result::Result<Manifest, String>,
    reviewers: Vec<Reviewer>,
    instructions: Option<(PathBuf, String)>,
    store: Box<dyn GenerationStore>,
    /// Where the symbol index keeps each blob's tags (`None`: `--no-cache`).
    tags_cache: Option<Cache>,
    quiet: bool,
    progress: bool,
}

/// Size bound of the tags cache (`<git dir>/deep-review/context-tags`).
pub const TAGS_CACHE_BYTES: u64 = 256 * 1000 * 1000;
/// Tokens kept free in a model's window besides what is counted: the chat
/// template's markers and the context blocks' separators.
const PROMPT_MARGIN: usize = 96;

/// A model whose window bounds the context: (name, window, answer budget).
type Window = (String, usize, usize);

/// The result of a run: the report and how the run ended.
pub struct Outcome {
    pub report: ReviewReport,
    /// The time budget stopped the review before every chunk was reviewed.
    pub timed_out: bool,
    /// Ctrl-C stopped the review.
    pub interrupted: bool,
}

/// Where relative paths in configuration are resolved: the work tree, or
/// the git dir of a bare repository.
pub fn root_of(repo: &gix::Repository) -> PathBuf {
    repo.workdir()
        .unwrap_or_else(|| repo.git_dir())
        .to_path_buf()
}

/// The review cache as the reviewer stage sees it; failures to write the
/// cache never fail a review (the result is still correct, only slower next
/// time), but the first one is said: a read-only `.git` must not look like
/// a cache that works.
struct CacheStore {
    cache: std::sync::Arc<Cache>,
    quiet: bool,
    warned: bool,
}
impl GenerationStore for CacheStore {
    fn get(&mut self, key: &CacheKey) -> Option<String> {
        self.cache.get(key)
    }
    fn put(&mut self, key: &CacheKey, text: &str) {
        if let Err(e) = self.cache.put(key, text) {
            if !self.warned && !self.quiet {
                eprintln!(
                    "git-deep-review: warning: could not write to the review cache in {} ({e}); \
                     this review's answers are not cached, so the next review asks the models again",
                    self.cache.dir().display()
                );
            }
            self.warned = true;
        }
    }
    fn shared(&self) -> Option<std::sync::Arc<Cache>> {
        Some(self.cache.clone())
    }
}

impl<'r> Run<'r> {
    /// Resolves the reviewers (persona prompts loaded, unknown `--reviewer`
    /// names refused) and opens the cache. Loads no model.
    pub fn prepare(
        repo: &'r gix::Repository,
        settings: &'r Settings,
        manifest: std::result::Result<Manifest, String>,
        opts: &RunOptions,
    ) -> Result<Run<'r>> {
        let root = root_of(repo);
        let reviewers = resolve_reviewers(settings, &opts.only, &root, manifest.as_ref().ok())?;
        if settings.offline {
            refuse_servers(
                &reviewers,
                settings.lead.as_deref(),
                settings.verifier.as_deref(),
                manifest.as_ref().ok(),
            )?;
        }
        let store: Box<dyn GenerationStore> = if opts.use_cache {
            match Cache::open(
                &crate::cache::default_dir(repo.git_dir()),
                settings.cache_max_bytes,
            ) {
                Ok(c) => Box::new(CacheStore {
                    cache: std::sync::Arc::new(c),
                    quiet: opts.quiet,
                    warned: false,
                }),
                Err(e) => {
                    if !opts.quiet {
                        eprintln!("git-deep-review: warning: could not write to the review cache ({e}); reviewing without it");
                    }
                    Box::new(NoStore)
                }
            }
        } else {
            Box::new(NoStore)
        };
        let tags_cache = if opts.index_cache {
            Cache::open(
                &repo.git_dir().join("deep-review").join("context-tags"),
                TAGS_CACHE_BYTES,
            )
            .ok()
        } else {
            None
        };
        Ok(Run {
            repo,
            settings,
            tags_cache,
            instructions: settings.instructions.clone(),
            manifest,
            reviewers,
            store,
            quiet: opts.quiet,
            progress: opts.progress,
        })
    }

    /// An engine for this run's models, sharing its manifest.
    pub fn engine(&self, opts: EngineOptions) -> Engine {
        let engine = match &self.manifest {
            Ok(m) => Engine::with_manifest(opts, m.clone()),
            Err(_) => Engine::new(opts),
        };
        if crate::config::model_ref::test_backends_enabled() {
            engine.with_test_backend(Box::new(crate::standin::StandinBackend::new()))
        } else {
            engine
        }
    }

    /// Stages 1–3: what would be reviewed. Loads no model.
    pub fn plan(&self, spec: Option<&str>) -> Result<ReviewPlan> {
        plan_range(
            self.repo,
            crate::git::range::resolve(self.repo, spec)?,
            self.settings,
        )
    }

    /// Stage 3b as `--plan` shows it: the context of every chunk, counted
    /// with the estimate and bounded by the windows the manifest gives the
    /// reviewers' models. Loads no model.
    pub fn plan_context(&self, plan: &ReviewPlan) -> Result<ContextPlan> {
        let manifest = self.manifest.as_ref().ok();
        let windows: Vec<Window> = self
            .reviewers
            .iter()
            .filter_map(|r| {
                configured_window(manifest, &r.spec.model)
                    .map(|n| (r.spec.model.clone(), n, r.spec.sampling.max_tokens))
            })
            .collect();
        self.context(
            plan,
            &windows,
            &crate::plan::estimate_tokens,
            "estimated at 3 characters per token; a review counts with the models' tokenizers",
        )
    }

    /// Stage 3b: the context of every chunk within the configured budget,
    /// shrunk per chunk to what the smallest of `windows` leaves beside the
    /// prompt's other parts and the answer.
    fn context(
        &self,
        plan: &ReviewPlan,
        windows: &[Window],
        count: &dyn Fn(&str) -> usize,
        counted_with: &str,
    ) -> Result<ContextPlan> {
        let persona = self
            .reviewers
            .iter()
            .map(|r| count(&r.persona))
            .max()
            .unwrap_or(0);
        let fixed = count(&crate::prompts::review_system(true))
            + self.instructions.as_ref().map_or(0, |(_, t)| count(t))
            + persona
            + PROMPT_MARGIN;
        let window = |chunk: &crate::plan::Chunk| -> Option<(usize, String)> {
            let diff = count(&crate::plan::render_chunk(plan, chunk));
            windows
                .iter()
                .map(|(m, n, answer)| (m, n, n.saturating_sub(answer + fixed + diff)))
                .min_by_key(|w| w.2)
                .map(|(m, n, room)| {
                    (
                        room,
                        format!("shrunk to fit {m}'s window of {n} tokens beside the diff and the answer"),
                    )
                })
        };
        let mut ignore: Vec<String> = crate::plan::DEFAULT_IGNORE
            .iter()
            .map(|s| s.to_string())
            .collect();
        ignore.extend(self.settings.ignore.iter().cloned());
        crate::context::build(
            self.repo,
            plan,
            &crate::context::ContextOptions {
                budget: self.settings.context_tokens,
                enabled: self.settings.context,
                ignore: &ignore,
                window: &window,
                count,
                counted_with: counted_with.to_string(),
            },
            self.tags_cache.as_ref(),
        )
    }

    /// Reviewers are shown context (`review.context` on, a budget above 0).
    fn context_on(&self) -> bool {
        self.settings.context && self.settings.context_tokens > 0
    }

    /// What the context of a review is cached under: everything that
    /// decides it (the chunks, the head and base, the tokenizers that count
    /// it, the budget, the reviewers' prompts and answer budgets).
    fn context_key(
        &self,
        plan: &ReviewPlan,
        tokenizers: &[String],
        reviewers: &[Reviewer],
    ) -> CacheKey {
        let chunks = serde_json::to_string(&plan.chunks).unwrap_or_default();
        let who: Vec<String> = reviewers
            .iter()
            .map(|r| {
                format!(
                    "{}\0{}\0{}",
                    r.spec.model, r.spec.sampling.max_tokens, r.persona
                )
            })
            .collect();
        CacheKey::new(&[
            b"context plan",
            env!("CARGO_PKG_VERSION").as_bytes(),
            crate::context::tags::TAGS_VERSION.to_string().as_bytes(),
            plan.range.head.as_bytes(),
            plan.range
                .base
                .map(|b| b.to_string())
                .unwrap_or_default()
                .as_bytes(),
            chunks.as_bytes(),
            tokenizers.join(" ").as_bytes(),
            self.settings.context_tokens.to_string().as_bytes(),
            self.settings.context.to_string().as_bytes(),
            self.settings.ignore.join("\0").as_bytes(),
            self.instructions
                .as_ref()
                .map_or("", |(_, t)| t.as_str())
                .as_bytes(),
            who.join("\0\0").as_bytes(),
        ])
    }

    /// The review's context: from the cache when this exact review's
    /// context was made before, else built with the models' own token
    /// counts and windows (and cached).
    fn review_context(
        &mut self,
        plan: &ReviewPlan,
        ready: &[Reviewer],
        engine: &mut Engine,
        failed: &HashMap<String, String>,
    ) -> Result<ContextPlan> {
        if !self.context_on() {
            return Ok(ContextPlan::off(plan));
        }
        let tokenizers = self.tokenizers(failed, engine);
        let key = self.context_key(plan, &tokenizers, ready);
        if let Some(c) = self
            .store
            .get(&key)
            .and_then(|t| serde_json::from_str::<ContextPlan>(&t).ok())
        {
            return Ok(c);
        }
        let mut windows: Vec<Window> = Vec::new();
        for r in ready {
            // What the server or the loaded model says, else what the
            // manifest says (a server that does not tell, such as Ollama's
            // OpenAI API, is bounded by the entry's `n_ctx` when given).
            let window = engine
                .context_window(&r.spec.model)
                .or_else(|| configured_window(self.manifest.as_ref().ok(), &r.spec.model));
            if let Some(n) = window {
                windows.push((r.spec.model.clone(), n, r.spec.sampling.max_tokens));
            }
        }
        let counter = engine.plan_token_counter(&self.models(), failed);
        type Counter = Box<dyn Fn(&str) -> usize>;
        let (count, with): (Counter, &str) = match counter {
            Some(c) => (Box::new(c), "the reviewers' tokenizers"),
            None => (
                Box::new(crate::plan::estimate_tokens),
                "estimated at 3 characters per token",
            ),
        };
        let context = self.context(plan, &windows, &count, with)?;
        if let Ok(text) = serde_json::to_string(&context) {
            self.store.put(&key, &text);
        }
        Ok(context)
    }

    /// Stages 4–9: runs the reviewers on the plan, checks what they said
    /// and assembles the report (the lead model writes its prose when one
    /// is configured and time is left). Stops starting work at `deadline`.
    pub fn review(
        &mut self,
        plan: &ReviewPlan,
        deadline: Option<Instant>,
        engine: &mut Engine,
    ) -> Result<Outcome> {
        let started_at = jiff::Zoned::now();
        let started = Instant::now();
        engine.set_deadline(deadline);
        let mut timings = StageTimings::default();
        let loaded_before = engine.load_ms();
        let used_before = engine.usage();

        // A review whose every answer is cached needs no model, so none is
        // checked or loaded: a retried push costs what git costs.
        let (failed_models, plan) = match self.answered_from_cache(plan, engine) {
            Some(cut) => (HashMap::new(), cut),
            // The budget ran out before a model was needed (a slow plan):
            // nothing will be reviewed, so none is loaded.
            None if past(deadline) => (HashMap::new(), plan.clone()),
            None => {
                let failed = engine.preflight(
                    self.manifest.as_ref().map_err(String::as_str),
                    &self.models(),
                    self.quiet,
                    self.progress,
                )?;
                let cut = self.recount(plan, engine, &failed);
                (failed, cut)
            }
        };
        let plan = &plan;

        // Reviewers whose model is unusable fail here, with the reason; the
        // gate's policy for failed reviewers decides what that means.
        let ready = self.ready_reviewers(&failed_models, engine);
        let t = Instant::now();
        // Context is for reviewers that will run: none will past the deadline.
        let context = if past(deadline) {
            ContextPlan::off(plan)
        } else {
            self.review_context(plan, &ready, engine, &failed_models)?
        };
        if context.enabled && self.progress {
            eprintln!(
                "deep-review: context: {} items in {} chunks ({} ms)",
                context.packs.iter().map(|p| p.items.len()).sum::<usize>(),
                context.packs.len(),
                t.elapsed().as_millis()
            );
        }
        let unusable: Vec<&Reviewer> = self
            .reviewers
            .iter()
            .filter(|r| failed_models.contains_key(&r.spec.model))
            .collect();
        let identities = self.identities(engine);
        let identity = |m: &str| identities.get(m).cloned().unwrap_or_else(|| m.to_string());
        let progress = self.progress;
        let say = |msg: &str| {
            if progress {
                eprintln!("deep-review: {msg}");
            }
        };
        let inputs = RunInputs {
            context: Some(&context),
            reviewers: &ready,
            instructions: self.instructions.as_ref().map(|(_, t)| t.as_str()),
            model_identity: &identity,
            deadline,
            max_findings: self.settings.max_findings,
            progress: &say,
        };
        let result = reviewers::run(plan, &inputs, engine, self.store.as_mut());
        let mut runs_by_name: HashMap<String, ReviewerRun> = result
            .runs
            .into_iter()
            .map(|r| (r.info.name.clone(), r))
            .collect();
        for r in &unusable {
            let why = failed_models
                .get(&r.spec.model)
                .cloned()
                .unwrap_or_default();
            runs_by_name.insert(
                r.spec.name.clone(),
                ReviewerRun::failed(r.info(), format!("model {}: {why}", r.spec.model)),
            );
        }
        let runs: Vec<ReviewerRun> = self
            .reviewers
            .iter()
            .filter_map(|r| runs_by_name.remove(&r.spec.name))
            .collect();
        for run in &runs {
            for c in &run.chunks {
                timings.prefill_ms += c.prefill_ms;
                timings.generate_ms += c.generate_ms;
            }
        }

        let t = Instant::now();
        let contents = head_contents(self.repo, plan, &context.paths())?;
        let mut checked: Checked =
            crate::check::check_with_context(plan, &context.shown(), &contents, runs);
        timings.consolidate_ms = ms(t.elapsed());
        let t = Instant::now();
        if let Some(verified) = self.verify(
            &checked,
            plan,
            &context,
            &contents,
            deadline,
            engine,
            &failed_models,
        ) {
            if verified.summary.skipped.is_none() {
                timings.verify_ms = ms(t.elapsed()).max(1);
            }
            checked.apply_verification(verified);
        }
        // Findings the budget left unverified stay, uncertain; the report
        // says the stage was cut.
        let verify_cut = past(deadline)
            .then(|| checked.verification.as_ref().map_or(0, |v| v.failed))
            .filter(|&n| n > 0);
        let why_not = if result.interrupted {
            "interrupted (Ctrl-C)".to_string()
        } else {
            format!(
                "the time budget ({} s) ran out",
                self.settings.time_budget_secs
            )
        };
        let mut report = report::assemble(ReportInput {
            plan,
            contents: &contents,
            checked,
            started: started_at,
            wall_clock_ms: 0,
            timings,
            instructions_file: self
                .instructions
                .as_ref()
                .map(|(p, _)| p.display().to_string()),
            not_reviewed: result
                .not_reviewed
                .iter()
                .map(|&i| (i, why_not.clone()))
                .collect(),
        });

        report.context = crate::report::ContextShown::of(&context);
        report.configuration = configuration_notes(self.settings, plan);

        // Earlier reviews of this change: what they found that is still in
        // the code (from git, not from a model), and what the review's data
        // says the repository's instructions could add.
        let range_files: Vec<String> = plan.files.iter().map(|f| f.path.clone()).collect();
        report.unresolved_feedback = crate::feedback::follow_earlier(
            self.repo,
            &report_dir(self.repo, self.settings),
            &plan.range,
            &range_files,
        );
        let today: Vec<(String, u32, u32)> = report
            .findings
            .iter()
            .map(|f| {
                (
                    f.finding.file.clone(),
                    f.finding.line_start,
                    f.finding.line_end,
                )
            })
            .collect();
        crate::feedback::mark_raised_again(&mut report.unresolved_feedback, &today);
        report.recommendations = crate::report::recommend::from_data(&report, &range_files);

        let interrupted = result.interrupted || crate::interrupt::is_triggered();
        if let Some(lead) = self.settings.lead.clone() {
            let t = Instant::now();
            report.lead = Some(self.lead(&mut report, &lead, deadline, interrupted, engine));
            report.timings.lead_ms = ms(t.elapsed());
        }
        // Weights load with the first context a review needs (never, when
        // every answer comes from the cache), so the stage is what the
        // engine measured.
        report.timings.load_ms = engine.load_ms().saturating_sub(loaded_before);
        report.engine = engine.usage().since(used_before);
        report.code_sent_to = code_sent_to(engine, &report);
        // A verifier's answer from the cache came from its server all the same.
        if let Some(v) = report.verification.as_ref().filter(|v| v.from_cache > 0) {
            for m in &v.models {
                let on = reviewer_model(self.manifest.as_ref().ok(), m, 0).endpoints;
                report.code_sent_to.extend(on);
            }
            report.code_sent_to.sort();
            report.code_sent_to.dedup();
        }
        report.time_budget_secs = self.settings.time_budget_secs;
        report.repository = crate::git::remote::repository_uri(self.repo);
        let timed_out = !result.not_reviewed.is_empty() && !interrupted;
        if !interrupted {
            mark_incomplete(
                &mut report,
                self.settings.time_budget_secs,
                (result.not_reviewed.len(), plan.chunks.len()),
                verify_cut,
            );
        }
        report.wall_clock_ms = ms(started.elapsed());
        Ok(Outcome {
            timed_out,
            interrupted,
            report,
        })
    }

    /// Stage 8b: each consolidated finding checked once more by a verifier
    /// (see [`crate::verify`]); `None` when `review.verify` is off.
    #[allow(clippy::too_many_arguments)]
    fn verify(
        &mut self,
        checked: &Checked,
        plan: &ReviewPlan,
        context: &ContextPlan,
        contents: &HashMap<String, String>,
        deadline: Option<Instant>,
        engine: &mut Engine,
        failed: &HashMap<String, String>,
    ) -> Option<crate::verify::Verified> {
        use crate::config::settings::VerifyMode;
        use crate::verify::choose::{rank, Candidate};
        let mode = self.settings.verify;
        if mode == VerifyMode::Off {
            return None;
        }
        let findings = checked.consolidated.clone();
        let manifest = self.manifest.as_ref().ok();
        let explicit = self.settings.verifier.is_some();
        let models: Vec<String> = match &self.settings.verifier {
            Some(v) => vec![v.clone()],
            None => self
                .reviewers
                .iter()
                .map(|r| r.spec.model.clone())
                .filter(|m| !failed.contains_key(m))
                .collect(),
        };
        let ranked = rank(
            models
                .iter()
                .map(|m| {
                    let (on_server, size, demonstration) = verifier_rank(manifest, m);
                    Candidate {
                        model: m.clone(),
                        on_server,
                        size,
                        demonstration,
                    }
                })
                .collect(),
        );
        let summary = |skipped: String| crate::verify::model::VerificationSummary {
            mode: mode.as_str().to_string(),
            votes: self.settings.verify_votes,
            checked: findings.len(),
            skipped: Some(skipped),
            ..Default::default()
        };
        let unverified = |skipped: String| crate::verify::Verified {
            kept: findings.clone(),
            refuted: Vec::new(),
            summary: summary(skipped),
        };
        if findings.is_empty() {
            return Some(unverified("no finding to verify".into()));
        }
        // `auto` trusts no demonstration model to remove a finding.
        let ranked: Vec<Candidate> = if mode == VerifyMode::Auto {
            let capable: Vec<Candidate> = ranked
                .iter()
                .filter(|c| !c.demonstration)
                .cloned()
                .collect();
            if capable.is_empty() {
                let names: Vec<&str> = ranked.iter().map(|c| c.model.as_str()).collect();
                return Some(unverified(format!(
                    "review.verify is auto and the verifier would be a demonstration model ({}); \
                     name a capable model with review.verifier, or set review.verify = \"on\"",
                    names.join(", ")
                )));
            }
            capable
        } else {
            ranked
        };
        if ranked.is_empty() {
            return Some(unverified("every reviewer's model failed".into()));
        }
        let verifiers: Vec<crate::verify::Verifier> = ranked
            .iter()
            .map(|c| crate::verify::Verifier {
                identity: engine.model_identity(manifest, &c.model),
                sampling: self
                    .reviewers
                    .iter()
                    .find(|r| r.spec.model == c.model)
                    .map(|r| r.spec.sampling.clone())
                    .unwrap_or_default(),
                on_server: c.on_server,
                code_chars: crate::verify::ask::code_chars(
                    engine
                        .context_window(&c.model)
                        .or_else(|| configured_window(manifest, &c.model)),
                ),
                model: c.model.clone(),
            })
            .collect();
        let reviewer_models: HashMap<String, String> = self
            .reviewers
            .iter()
            .map(|r| (r.spec.name.clone(), r.spec.model.clone()))
            .collect();
        let progress = self.progress;
        let say = |msg: &str| {
            if progress {
                eprintln!("deep-review: {msg}");
            }
        };
        let inputs = crate::verify::VerifyInputs {
            plan,
            context,
            contents,
            verifiers: &verifiers,
            explicit,
            reviewer_models: &reviewer_models,
            votes: self.settings.verify_votes,
            mode: mode.as_str(),
            deadline,
            progress: &say,
        };
        Some(crate::verify::run(
            findings,
            &inputs,
            engine,
            self.store.as_mut(),
        ))
    }

    /// The reviewers whose model is not in `failed`, with `max_tokens =
    /// "auto"` of those on a server following the context it reports.
    fn ready_reviewers(
        &self,
        failed: &HashMap<String, String>,
        engine: &mut Engine,
    ) -> Vec<Reviewer> {
        let mut ready: Vec<Reviewer> = self
            .reviewers
            .iter()
            .filter(|r| !failed.contains_key(&r.spec.model))
            .cloned()
            .collect();
        // A server's context is known once it answered.
        for r in &mut ready {
            r.spec.sampling.max_tokens =
                engine.answer_budget(&r.spec.model, r.spec.sampling.max_tokens);
        }
        ready
    }

    /// The cache identity of every reviewer's model, by model name.
    fn identities(&self, engine: &mut Engine) -> HashMap<String, String> {
        self.reviewers
            .iter()
            .map(|r| {
                let id = engine.model_identity(self.manifest.as_ref().ok(), &r.spec.model);
                (r.spec.model.clone(), id)
            })
            .collect()
    }

    /// The plan as the models' tokenizers cut it, when the cache holds
    /// both that cut and every reviewer's answer on it; `None` otherwise
    /// (then the models are checked and loaded as usual). Loads no model.
    fn answered_from_cache(
        &mut self,
        plan: &ReviewPlan,
        engine: &mut Engine,
    ) -> Option<ReviewPlan> {
        let tokenizers = self.tokenizers(&HashMap::new(), engine);
        let cut = if tokenizers.is_empty() {
            plan.clone()
        } else {
            let key = crate::plan::recut::key(plan, self.settings.chunk_tokens, &tokenizers);
            let counts = crate::plan::recut::Counts::parse(&self.store.get(&key)?)?;
            crate::plan::recut::replay(plan, self.settings.chunk_tokens, &counts)?
        };
        let ready = self.ready_reviewers(&HashMap::new(), engine);
        let identities = self.identities(engine);
        let identity = |m: &str| identities.get(m).cloned().unwrap_or_else(|| m.to_string());
        let context = if self.context_on() {
            let key = self.context_key(&cut, &tokenizers, &ready);
            serde_json::from_str::<ContextPlan>(&self.store.get(&key)?).ok()?
        } else {
            ContextPlan::off(&cut)
        };
        let inputs = RunInputs {
            context: Some(&context),
            reviewers: &ready,
            instructions: self.instructions.as_ref().map(|(_, t)| t.as_str()),
            model_identity: &identity,
            deadline: None,
            max_findings: self.settings.max_findings,
            progress: &|_| {},
        };
        reviewers::all_cached(&cut, &inputs, engine, self.store.as_mut()).then_some(cut)
    }

    /// The models of this run's reviewers, as configured.
    fn models(&self) -> Vec<String> {
        self.reviewers
            .iter()
            .map(|r| r.spec.model.clone())
            .collect()
    }

    /// The identities of the tokenizers that cut the plan (see
    /// [`Engine::tokenizer_ids`]).
    fn tokenizers(&self, failed: &HashMap<String, String>, engine: &mut Engine) -> Vec<String> {
        engine.tokenizer_ids(self.manifest.as_ref().ok(), &self.models(), failed)
    }

    /// The plan was cut with an estimate (so `--plan` needs no model); now
    /// the models are loaded, cut it with their own tokenizers: llama.cpp's
    /// for in-process models, a llama-server's `/tokenize` for models on
    /// one (other servers cannot count: the estimate stands for them). A
    /// chunk must fit every model that reads it, so the largest count wins.
    ///
    /// The counts are remembered in the cache ([`crate::plan::recut`]), so
    /// the next review of the same diff cuts it without the vocabularies.
    fn recount(
        &mut self,
        plan: &ReviewPlan,
        engine: &mut Engine,
        failed: &HashMap<String, String>,
    ) -> ReviewPlan {
        let chunk_tokens = self.settings.chunk_tokens;
        let tokenizers = self.tokenizers(failed, engine);
        if tokenizers.is_empty() {
            return plan.clone();
        }
        let key = crate::plan::recut::key(plan, chunk_tokens, &tokenizers);
        let remembered = self
            .store
            .get(&key)
            .and_then(|t| crate::plan::recut::Counts::parse(&t))
            .and_then(|c| crate::plan::recut::replay(plan, chunk_tokens, &c));
        if let Some(cut) = remembered {
            return cut;
        }
        let Some(count) = engine.plan_token_counter(&self.models(), failed) else {
            return plan.clone();
        };
        let (cut, counts) = crate::plan::recut::record(plan, chunk_tokens, &count);
        self.store.put(&key, &counts.to_text());
        cut
    }

    /// The lead step: its prose into the report, or the reason it is not there.
    fn lead(
        &mut self,
        report: &mut ReviewReport,
        lead: &str,
        deadline: Option<Instant>,
        interrupted: bool,
        engine: &mut Engine,
    ) -> LeadStatus {
        let t = Instant::now();
        let mut status = LeadStatus {
            model: lead.to_string(),
            status: LeadState::Fallback,
            sections: Vec::new(),
            reason: None,
            from_cache: false,
            duration_ms: 0,
        };
        if interrupted {
            status.reason = Some("interrupted (Ctrl-C) before the lead ran".into());
            return status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            status.reason = Some(format!(
                "the time budget ({} s) ran out before the lead ran",
                self.settings.time_budget_secs
            ));
            return status;
        }
        if self.progress {
            eprintln!("deep-review: lead summary on {lead}");
        }
        let facts = report.lead_facts();
        let identity = engine.model_identity(self.manifest.as_ref().ok(), lead);
        let answer = crate::review::lead::write(
            engine,
            self.store.as_mut(),
            lead,
            &identity,
            &facts,
            crate::config::sampling::Sampling::default().seed,
            deadline,
        );
        status.from_cache = answer.from_cache;
        status.duration_ms = ms(t.elapsed());
        match answer.prose {
            Ok(prose) => {
                let sections = prose.sections();
                if sections.is_empty() {
                    status.reason = Some(
                        "the lead's answer parsed, but no section was usable prose (too short, repetitive or markup)"
                            .into(),
                    );
                } else {
                    report.apply_lead_prose(&prose, lead);
                    status.status = LeadState::Used;
                    status.sections = sections.iter().map(|s| s.to_string()).collect();
                }
            }
            Err(e) => status.reason = Some(e),
        }
        status
    }

    /// The gate's decision on a finished review.
    pub fn gate(&self, outcome: &Outcome, report: Option<&Path>, context: Context) -> GateDecision {
        crate::gate::evaluate(
            &self.settings.gate,
            &fault_policy(self.settings),
            &outcome.report.gate_facts(report),
            context,
        )
    }
}

/// How far past its time budget a run may end: max(1 s, 10 % of the
/// budget), counted from the start of the process. The clock starts before
/// anything is read; past the deadline no stage starts work (no model is
/// loaded, no context built, no chunk, finding or lead begun), a generation
/// stops at its next token or prefill batch, and what is left is writing
/// the report of what was done. Not interrupted: the load of one model
/// that is under way when the deadline passes (the hook's watchdog ends
/// the process as a last resort, see `hook::protocol::hard_stop_grace`).
pub fn budget_tolerance(budget_secs: u64) -> Duration {
    Duration::from_secs(budget_secs / 10).max(Duration::from_secs(1))
}

/// The deadline has passed.
fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Marks a report whose run the time budget cut short: chunks no reviewer
/// saw (`(not reviewed, of all)`), findings left unverified, a lead that
/// did not run or was cut off. The verdict's reason says so too, so no
/// reader takes "Merge as-is" on part of a change for a clean review;
/// the gate decides with `review.on_timeout`.
fn mark_incomplete(
    report: &mut ReviewReport,
    budget_secs: u64,
    (not_reviewed, chunks): (usize, usize),
    verify_cut: Option<usize>,
) {
    let mut stages = Vec::new();
    if let Some(n) = verify_cut {
        stages.push(format!(
            "verification: {n} finding{} left unverified (kept, uncertain)",
            if n == 1 { "" } else { "s" }
        ));
    }
    if let Some(why) = report
        .lead
        .as_ref()
        .and_then(|l| l.reason.as_deref())
        .filter(|r| r.contains("time budget"))
    {
        stages.push(format!("lead: {why}"));
    }
    if not_reviewed == 0 && stages.is_empty() {
        return;
    }
    let reason = format!("the time budget ({budget_secs} s) ran out");
    let verdict = &mut report.verdict;
    if not_reviewed > 0 && not_reviewed == chunks && report.retro.iter().all(|r| r.error.is_none())
    {
        // No reviewer failed: none had the time to start.
        verdict.reason = format!("{reason} before any chunk was reviewed, so nothing was reviewed");
    } else if not_reviewed > 0 {
        verdict.reason.push_str(&format!(
            " (incomplete: {not_reviewed} of {chunks} chunks not reviewed)"
        ));
    }
    report.incomplete = Some(crate::report::Incomplete {
        reason,
        chunks_not_reviewed: not_reviewed,
        chunks,
        stages,
    });
}

/// Every server that was sent this change's code: those contacted in this
/// run, and those whose earlier answers the cache gave (a pool's cached
/// answer does not say which member wrote it: all of them are listed).
fn code_sent_to(engine: &Engine, report: &ReviewReport) -> Vec<String> {
    let mut all = engine.code_sent_to();
    for info in &report.reviewers {
        let cached = report
            .appendix
            .iter()
            .filter(|ap| ap.reviewer == info.name)
            .any(|ap| ap.chunks.iter().any(|c| c.from_cache));
        if cached {
            all.extend(info.endpoints.iter().cloned());
        }
    }
    all.sort();
    all.dedup();
    all
}

/// `--offline`: a reviewer (or the lead) on an inference server is an
/// error before anything is read, naming each and where it would send code.
pub fn refuse_servers(
    reviewers: &[Reviewer],
    lead: Option<&str>,
    verifier: Option<&str>,
    manifest: Option<&Manifest>,
) -> Result<()> {
    let named = reviewers
        .iter()
        .map(|r| (format!("reviewer {}", r.spec.name), r.spec.model.as_str()))
        .chain(verifier.map(|v| (format!("the verifier {v}"), v)));
    let refused: Vec<String> = on_servers(named, lead, manifest)
        .into_iter()
        .map(|(who, _, on)| format!("{who} ({on})"))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "offline (--offline or deep-review.offline): refusing to send code to an inference server: {}; \
         run without --offline, or choose local models (--model, --reviewer, --verifier, or review.lead = \"none\")",
        refused.join("; ")
    )))
}

/// The gate's policies for faults, from the settings.
pub fn fault_policy(settings: &Settings) -> FaultPolicy {
    FaultPolicy {
        reviewer_failure: settings.gate_on_reviewer_failure,
        unreviewable: settings.gate_unreviewable,
        timeout: settings.on_timeout,
    }
}

/// The reviewers to run, with their persona prompts loaded. Unknown
/// `only` names are an error that lists the configured ones.
pub fn resolve_reviewers(
    settings: &Settings,
    only: &[String],
    root: &Path,
    manifest: Option<&Manifest>,
) -> Result<Vec<Reviewer>> {
    for name in only {
        if !settings.reviewers.iter().any(|r| &r.name == name) {
            return Err(Error::Usage(format!(
                "no reviewer named '{name}'; configured reviewers: {} (see `git deep-review config`)",
                settings
                    .reviewers
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    settings
        .reviewers
        .iter()
        .filter(|r| only.is_empty() || only.contains(&r.name))
        .map(|spec| {
            let model = reviewer_model(manifest, &spec.model, spec.sampling.max_tokens);
            let mut spec = spec.clone();
            spec.sampling.max_tokens = model.max_tokens;
            Ok(Reviewer {
                // A prompt the repository's file names was read with it
                // (from the base of the range): the change's version of
                // the file does not instruct the reviewers.
                persona: match settings.repo_prompts.get(&spec.prompt) {
                    Some(text) => text.clone(),
                    None => crate::prompts::load(&spec.prompt, root)?,
                },
                model_file: model.file,
                demonstration: model.demonstration,
                endpoints: model.endpoints,
                spec,
            })
        })
        .collect()
}

/// What the report says about the repository's own configuration: what
/// it did to the gate, and each of its files this range changes (reviewed
/// as code; read from the base, so in force only once merged).
fn configuration_notes(settings: &Settings, plan: &ReviewPlan) -> Vec<String> {
    let mut notes = settings.repo_notes.clone();
    let configures = |path: &str| {
        path == crate::config::REPO_FILE
            || crate::config::INSTRUCTION_FILES.contains(&path)
            || settings.repo_prompts.contains_key(path)
    };
    let from_base = settings.repo_files_from_base;
    for f in plan
        .files
        .iter()
        .filter(|f| from_base && configures(&f.path))
    {
        notes.push(format!(
            "this range changes `{}`: reviewed as code; it takes effect after it is merged \
             (the review reads the repository's configuration from the base of the range)",
            f.path
        ));
    }
    notes
}

/// Stages 2–3 for an already resolved range.
pub fn plan_range(
    repo: &gix::Repository,
    range: crate::git::range::ReviewRange,
    settings: &Settings,
) -> Result<ReviewPlan> {
    plan_paths(repo, range, settings, &|_| true)
}

/// [`plan_range`] for the files of the range whose (new) path `keep` accepts.
pub fn plan_paths(
    repo: &gix::Repository,
    range: crate::git::range::ReviewRange,
    settings: &Settings,
    keep: &dyn Fn(&str) -> bool,
) -> Result<ReviewPlan> {
    let diff_opts = crate::git::diff::DiffOptions {
        context_lines: settings.context_lines,
        ..Default::default()
    };
    let files = if range.commits.is_empty() {
        Vec::new()
    } else {
        let mut files = range.diff(repo, &diff_opts)?;
        files.retain(|f| keep(&f.path));
        files
    };
    let mut plan_opts = crate::plan::PlanOptions {
        chunk_tokens: settings.chunk_tokens,
        ..Default::default()
    };
    plan_opts.ignore.extend(settings.ignore.iter().cloned());
    Ok(crate::plan::build(
        range,
        files,
        &plan_opts,
        &crate::plan::estimate_tokens,
    ))
}

/// The text of every reviewed file, and of every file shown as context,
/// at the reviewed head (grounding checks quotes against it; excerpts are
/// cut from it, never from model text).
fn head_contents(
    repo: &gix::Repository,
    plan: &ReviewPlan,
    context_paths: &[String],
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let paths = plan.files.iter().map(|f| &f.path).chain(context_paths);
    for path in paths {
        if out.contains_key(path) {
            continue;
        }
        if let Some(bytes) = crate::git::range::read_file_at(repo, plan.range.head, path)? {
            out.insert(path.clone(), String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(out)
}

/// Where reports go by default: `report_dir`, else `.git/deep-review/reports`.
pub fn report_dir(repo: &gix::Repository, settings: &Settings) -> PathBuf {
    settings
        .report_dir
        .clone()
        .unwrap_or_else(|| repo.git_dir().join("deep-review").join("reports"))
}

/// Writes the report where it belongs (see [`report::write`]), with its
/// JSON beside it when it goes to the report directory; returns the
/// report's path (`None` for stdout). The render is timed first and the time put
/// into the report itself, so the written report carries its own render
/// time.
pub fn write_report(
    report: &mut ReviewReport,
    format: report::Format,
    output: Option<&Path>,
    default_dir: &Path,
) -> Result<Option<PathBuf>> {
    let t = Instant::now();
    let _ = report::render(report, format);
    report.timings.render_ms = ms(t.elapsed());
    let text = report::render(report, format);
    let path = report::write::write(report, format, text.as_bytes(), output, default_dir)?;
    // A report kept in the report directory leaves its JSON beside it (same
    // name), so the next review of this change can follow its findings
    // (`crate::feedback`) whatever format the user reads.
    // Without it the review is still whole (the report was written), so
    // a failure is said, not made the review's exit code.
    if let (None, Some(p)) = (output, &path) {
        if format != report::Format::Json {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            let dir = p.parent().unwrap_or(default_dir);
            let json = report::render(report, report::Format::Json);
            if let Err(e) = report::write::to_new_file(dir, &stem, "json", json.as_bytes()) {
                eprintln!(
                    "git-deep-review: warning: could not write the report's JSON beside it ({e}); \
                     the next review of this change will not follow its findings"
                );
            }
        }
    }
    Ok(path)
}

/// The formats `review.report_formats` names, the main one (whose path is
/// shown) first. Here rather than in `config`, which must not depend on
/// `report` (tests/module_graph.rs).
pub fn saved_formats(formats: crate::config::ReportFormats) -> &'static [report::Format] {
    use crate::config::ReportFormats;
    match formats {
        ReportFormats::Markdown => &[report::Format::Markdown],
        ReportFormats::Html => &[report::Format::Html],
        ReportFormats::MarkdownHtml => &[report::Format::Markdown, report::Format::Html],
    }
}

/// [`write_report`], honouring `review.report_formats` for a review saved
/// in the report directory in the default format: the first configured
/// format is the report (its path is returned), the others are written
/// beside it under the same name (`….md` and `….html`). With `-o` or
/// another `--format`, exactly what was asked is written.
pub fn write_saved_report(
    report: &mut ReviewReport,
    format: report::Format,
    output: Option<&Path>,
    default_dir: &Path,
    formats: crate::config::ReportFormats,
) -> Result<Option<PathBuf>> {
    if output.is_some() || format != report::Format::Markdown {
        return write_report(report, format, output, default_dir);
    }
    let all = saved_formats(formats);
    let path = write_report(report, all[0], None, default_dir)?;
    if let Some(p) = &path {
        let stem = p.file_stem().unwrap_or_default().to_string_lossy();
        let dir = p.parent().unwrap_or(default_dir);
        for &other in &all[1..] {
            let text = report::render(report, other);
            let ext = report::write::extension(other);
            if let Err(e) = report::write::to_new_file(dir, &stem, ext, text.as_bytes()) {
                eprintln!(
                    "git-deep-review: warning: could not write the report as {ext} beside it ({e})"
                );
            }
        }
    }
    Ok(path)
}

/// Elapsed time as whole milliseconds.
pub fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}
