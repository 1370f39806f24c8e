//! The review as one run, stage after stage: range → diff → plan →
//! reviewers → findings → grounding → consolidation → verdict → report.
//! This is porcelain: it only sequences the plain-data stages and measures
//! them; each stage lives in its own module and is tested there.

use crate::config::Settings;
use crate::engine::{Backend, Sampling};
use crate::error::{Error, Result};
use crate::plan::ReviewPlan;
use crate::report::{self, ReportInput, ReviewReport, StageTimings};
use crate::reviewers::{self, GenerationStore, Reviewer, RunInputs};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Stages 1–3: what would be reviewed. Loads no model.
pub fn make_plan(
    repo: &gix::Repository,
    spec: Option<&str>,
    settings: &Settings,
) -> Result<ReviewPlan> {
    plan_range(repo, crate::range::resolve(repo, spec)?, settings)
}

/// Stages 2–3 for an already resolved range.
pub fn plan_range(
    repo: &gix::Repository,
    range: crate::range::ReviewRange,
    settings: &Settings,
) -> Result<ReviewPlan> {
    let diff_opts = crate::diff::DiffOptions {
        context_lines: settings.context_lines,
        ..Default::default()
    };
    let files = if range.commits.is_empty() {
        Vec::new()
    } else {
        crate::diff::diff_range(repo, &range, &diff_opts)?
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

/// What a review run needs besides the plan.
pub struct RunOptions<'a> {
    pub settings: &'a Settings,
    /// Only these reviewers (empty = all configured).
    pub only: &'a [String],
    pub deadline: Option<Instant>,
    /// Repository root (prompt paths and instruction files are relative to it).
    pub root: &'a Path,
    /// Where to say what is happening (`None` = quiet).
    pub progress: Option<&'a mut dyn FnMut(&str)>,
}

/// The result of a run: the report and whether the time budget cut it short.
pub struct Outcome {
    pub report: ReviewReport,
    pub timed_out: bool,
}

/// The reviewers to run, with their persona prompts loaded.
pub fn reviewers(settings: &Settings, only: &[String], root: &Path) -> Result<Vec<Reviewer>> {
    for name in only {
        if !settings.reviewers.iter().any(|r| &r.name == name) {
            return Err(Error::Usage(format!(
                "no reviewer named '{name}'; configured reviewers: {} (see `git deep-review config`)",
                settings.reviewers.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    settings
        .reviewers
        .iter()
        .filter(|r| only.is_empty() || only.contains(&r.name))
        .map(|spec| {
            Ok(Reviewer {
                persona: crate::prompts::load(&spec.prompt, root)?,
                spec: spec.clone(),
            })
        })
        .collect()
}

/// Stages 4–7: runs the reviewers on the plan and builds the report.
pub fn review(
    repo: &gix::Repository,
    plan: &ReviewPlan,
    opts: RunOptions<'_>,
    backend: &mut dyn Backend,
    store: &mut dyn GenerationStore,
    model_info: &dyn Fn(&str) -> (String, String),
) -> Result<Outcome> {
    let started_at = jiff::Zoned::now();
    let started = Instant::now();
    let settings = opts.settings;
    let list = reviewers(settings, opts.only, opts.root)?;
    let instructions = crate::config::repo_instructions(opts.root, settings.instructions_max_bytes);
    let mut noop = |_: &str| {};
    let progress: &mut dyn FnMut(&str) = match opts.progress {
        Some(p) => p,
        None => &mut noop,
    };

    let identity = |model: &str| model_info(model).1;
    let inputs = RunInputs {
        reviewers: &list,
        instructions: instructions.as_ref().map(|(_, text)| text.as_str()),
        model_identity: &identity,
        deadline: opts.deadline,
        max_findings: settings.max_findings,
    };
    let result = reviewers::run(plan, &inputs, backend, store, progress);
    let timed_out = !result.not_reviewed.is_empty();

    let mut timings = StageTimings::default();
    let contents = head_contents(repo, plan)?;
    let runs = result
        .runs
        .iter()
        .map(|run| {
            for o in &run.outputs {
                timings.prefill_ms += o.prefill_ms;
                timings.generate_ms += o.generate_ms;
            }
            let failed: Vec<&String> = run
                .outputs
                .iter()
                .filter_map(|o| o.text.as_ref().err())
                .collect();
            report::ReviewerRun {
                info: report::ReviewerInfo {
                    name: run.spec.name.clone(),
                    model: run.spec.model.clone(),
                    model_file: model_info(&run.spec.model).0,
                    persona: run.spec.prompt.clone(),
                },
                duration_ms: run.duration.as_millis() as u64,
                chunks: run
                    .outputs
                    .iter()
                    .map(|o| report::ChunkOutput {
                        chunk: o.chunk,
                        raw: o.text.clone().unwrap_or_default(),
                        from_cache: o.cached,
                        error: o.text.as_ref().err().cloned(),
                    })
                    .collect(),
                error: (!run.outputs.is_empty() && failed.len() == run.outputs.len())
                    .then(|| failed[0].clone()),
            }
        })
        .collect();

    let mut report = report::build_report(ReportInput {
        plan,
        contents: &contents,
        runs,
        started: started_at,
        wall_clock_ms: 0,
        timings,
        instructions_file: instructions.map(|(p, _)| p.display().to_string()),
    });

    if let Some(lead) = settings.lead.as_deref() {
        progress(&format!("lead summary on {lead}"));
        let facts = crate::lead::facts(&report);
        let sampling = Sampling {
            max_tokens: 1024,
            ..Sampling::default()
        };
        if let Ok(prose) =
            crate::lead::write(backend, store, lead, &identity(lead), &facts, &sampling)
        {
            let who = vec![format!("lead ({lead})")];
            let design = report::DesignObservations {
                concerns: prose
                    .concern
                    .map(|(text, in_scope)| report::Concern {
                        title: headline(&text),
                        text,
                        scope: if in_scope {
                            report::Scope::InScope
                        } else {
                            report::Scope::Future
                        },
                        reviewers: who.clone(),
                    })
                    .into_iter()
                    .collect(),
                strengths: prose
                    .strength
                    .map(|text| report::Strength {
                        text,
                        reviewers: who,
                    })
                    .into_iter()
                    .collect(),
            };
            let has_design = !design.concerns.is_empty() || !design.strengths.is_empty();
            report.apply_lead_prose(report::LeadProse {
                executive_summary: prose.summary,
                testing: prose.testing,
                documentation: prose.documentation,
                commit_structure: prose.commits,
                design: has_design.then_some(design),
                ..Default::default()
            });
        }
    }
    report.wall_clock_ms = started.elapsed().as_millis() as u64;
    Ok(Outcome { report, timed_out })
}

/// The text of every reviewed file at the reviewed head (grounding checks
/// quotes against it; excerpts are cut from it, never from model text).
fn head_contents(repo: &gix::Repository, plan: &ReviewPlan) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for f in &plan.files {
        if let Some(bytes) = crate::range::read_file_at(repo, &plan.range.head, &f.path)? {
            out.insert(f.path.clone(), String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(out)
}

/// Writes the report where it belongs (see [`report::write`]); returns the
/// path (`None` for stdout). The render is timed first and the time put
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
    report::write::write(report, format, text.as_bytes(), output, default_dir)
}

/// A short bold title for a prose item: its first sentence when short,
/// else its first words.
fn headline(text: &str) -> String {
    let first = text.split(['.', ';', ':']).next().unwrap_or(text).trim();
    if first.chars().count() <= 80 {
        return first.to_string();
    }
    let words: Vec<&str> = first.split_whitespace().take(8).collect();
    format!("{}…", words.join(" "))
}

/// Elapsed time as whole milliseconds.
pub fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}
