//! Stage 8b, verify: each consolidated finding is checked once more by a
//! verifier model before the report and the gate see it. Grounding proves
//! a finding points at real code; this asks whether its claim is true of
//! that code. Conclusion first and constrained
//! (`{"verdict": …, "reason": …}`, see [`ask`]).
//!
//! Outcomes ([`Verified`]): a confirmed finding stays; a refuted one
//! leaves the findings (the report lists it in an appendix with the
//! verifier's reason); an uncertain one stays, marked, and the gate's
//! `gate.count_uncertain` decides whether it counts. A pass that fails,
//! times out or answers outside the shape is no vote: a verification
//! without a vote is uncertain and says why, so it never removes a
//! finding.
//!
//! Answers are cached like reviews (keyed by the model, the prompt — the
//! finding and its code — and the sampling). On the in-process engine
//! every question for one model goes in one `generate` call, which
//! prefills the shared instruction once; a model on a server is asked
//! concurrently, up to what the server takes.

pub mod ask;
pub mod choose;
pub mod model;

use crate::check::consolidate::ConsolidatedFinding;
use crate::config::sampling::Sampling;
use crate::context::ContextPlan;
use crate::engine::{Backend, Generation, Request};
use crate::plan::ReviewPlan;
use crate::review::reviewers::{group_keys, GenerationStore};
use model::{Verification, VerificationSummary, VerifyStatus, Vote};
use std::collections::HashMap;
use std::time::Instant;

/// A model that verifies, ready to be asked.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub model: String,
    /// Its cache identity (the model file's hash, or the server's model).
    pub identity: String,
    /// Its thinking settings (a reasoning model keeps its think budget).
    pub sampling: Sampling,
    pub on_server: bool,
    /// Characters of code it is shown with a finding ([`ask::code_chars`]).
    pub code_chars: usize,
}

/// What the stage is given besides the findings.
pub struct VerifyInputs<'a> {
    pub plan: &'a ReviewPlan,
    pub context: &'a ContextPlan,
    /// File text at the reviewed head (and of the context files).
    pub contents: &'a HashMap<String, String>,
    /// The verifiers, in the order [`choose::rank`] gave.
    pub verifiers: &'a [Verifier],
    /// `review.verifier` was set: its model verifies every finding.
    pub explicit: bool,
    /// Each reviewer's model, by reviewer name.
    pub reviewer_models: &'a HashMap<String, String>,
    /// Passes per finding.
    pub votes: usize,
    /// `on` or `auto`, for the report.
    pub mode: &'a str,
    pub deadline: Option<Instant>,
    pub progress: &'a dyn Fn(&str),
}

/// The findings after verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Confirmed and uncertain findings, in the order given, each with its
    /// verification.
    pub kept: Vec<ConsolidatedFinding>,
    /// Refuted findings, with the verifier's reason.
    pub refuted: Vec<ConsolidatedFinding>,
    pub summary: VerificationSummary,
}

/// One pass on one finding.
struct Pass {
    finding: usize,
    request: Request,
}

/// Verifies every finding (see the module docs). Never fails: what could
/// not be verified stays, uncertain, with the reason.
pub fn run(
    findings: Vec<ConsolidatedFinding>,
    inputs: &VerifyInputs<'_>,
    backend: &mut dyn Backend,
    store: &mut dyn GenerationStore,
) -> Verified {
    let started = Instant::now();
    let votes = inputs.votes.max(1);
    let mut summary = VerificationSummary {
        mode: inputs.mode.to_string(),
        votes,
        checked: findings.len(),
        ..Default::default()
    };
    if inputs.verifiers.is_empty() {
        summary.skipped = Some("no verifier model could be used".into());
        return Verified {
            kept: findings,
            summary,
            ..Default::default()
        };
    }
    let ranked: Vec<choose::Candidate> = inputs
        .verifiers
        .iter()
        .map(|v| choose::Candidate {
            model: v.model.clone(),
            on_server: v.on_server,
            size: 0,
            demonstration: false,
        })
        .collect();
    let assigned: Vec<usize> = findings
        .iter()
        .map(|f| {
            let mut models: Vec<String> = f
                .reviewers
                .iter()
                .filter_map(|r| inputs.reviewer_models.get(r).cloned())
                .collect();
            models.sort();
            models.dedup();
            choose::choose(&ranked, inputs.explicit, &models)
        })
        .collect();
    let mut results: Vec<Vec<Vote>> = vec![Vec::new(); findings.len()];
    for (vi, verifier) in inputs.verifiers.iter().enumerate() {
        let mine: Vec<usize> = (0..findings.len()).filter(|&i| assigned[i] == vi).collect();
        if mine.is_empty() {
            continue;
        }
        summary.models.push(verifier.model.clone());
        (inputs.progress)(&format!(
            "verifying {} finding{} on {}{}",
            mine.len(),
            if mine.len() == 1 { "" } else { "s" },
            verifier.model,
            if votes > 1 {
                format!(" ({votes} passes each)")
            } else {
                String::new()
            }
        ));
        let passes: Vec<Pass> = mine
            .iter()
            .flat_map(|&i| {
                let blocks = ask::evidence(
                    &findings[i],
                    inputs.plan,
                    inputs.context,
                    inputs.contents,
                    verifier.code_chars,
                );
                (0..votes)
                    .map(|p| Pass {
                        finding: i,
                        request: ask::request(
                            &findings[i],
                            &blocks,
                            p,
                            &verifier.sampling,
                            verifier.on_server,
                        ),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (pass, vote) in passes.iter().zip(ask_model(
            verifier,
            &passes,
            inputs,
            backend,
            store,
            &mut summary,
        )) {
            results[pass.finding].push(vote);
        }
    }
    let mut out = Verified {
        summary,
        ..Default::default()
    };
    for ((mut f, votes), vi) in findings.into_iter().zip(results).zip(assigned) {
        let v = Verification::tally(&inputs.verifiers[vi].model, votes);
        match v.status {
            VerifyStatus::Confirmed => out.summary.confirmed += 1,
            VerifyStatus::Refuted => out.summary.refuted += 1,
            VerifyStatus::Uncertain => out.summary.uncertain += 1,
        }
        out.summary.failed += usize::from(v.failed.is_some());
        let refuted = v.status == VerifyStatus::Refuted;
        f.verification = Some(v);
        if refuted {
            out.refuted.push(f);
        } else {
            out.kept.push(f);
        }
    }
    out.summary.duration_ms = started.elapsed().as_millis() as u64;
    out
}

/// One model's answers to its passes, in order: from the cache, else
/// generated (one call on the in-process engine, concurrently on a server).
fn ask_model(
    verifier: &Verifier,
    passes: &[Pass],
    inputs: &VerifyInputs<'_>,
    backend: &mut dyn Backend,
    store: &mut dyn GenerationStore,
    summary: &mut VerificationSummary,
) -> Vec<Vote> {
    let requests: Vec<Request> = passes.iter().map(|p| p.request.clone()).collect();
    let together = !verifier.on_server && backend.batches(&verifier.model) && requests.len() > 1;
    // The schema is not part of the key: a server's answer and an
    // in-process one are keyed alike.
    let keyed: Vec<Request> = requests
        .iter()
        .map(|r| Request {
            schema: None,
            ..r.clone()
        })
        .collect();
    let keys = group_keys(&verifier.identity, &keyed, together);
    let found: Vec<Option<String>> = keys.iter().map(|k| store.get(k)).collect();
    // A group decoded together is made whole or not at all.
    let remake_all = together && found.iter().any(Option::is_none);
    let mut votes: Vec<Option<Vote>> = found
        .iter()
        .map(|f| match f {
            Some(text) if !remake_all => Some(vote_of(Ok(text.as_str()))),
            _ => None,
        })
        .collect();
    // Remembered answers parse (only parsable ones are stored); one that
    // does not is asked again.
    for v in votes.iter_mut() {
        if v.as_ref().is_some_and(|v| v.status.is_none()) {
            *v = None;
        }
    }
    let mut todo: Vec<usize> = (0..votes.len()).filter(|&i| votes[i].is_none()).collect();
    // A second review of the same change (the hook beside a manual one)
    // waits for these answers rather than making them again: one lock
    // for the model's whole group, then the cache is read once more.
    let shared = store.shared();
    let mut lock_parts: Vec<Vec<u8>> = vec![b"verify lock".to_vec()];
    lock_parts.extend(todo.iter().map(|&i| keys[i].hex().into_bytes()));
    let lock_key =
        crate::cache::CacheKey::new(&lock_parts.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let _lock = if todo.is_empty() {
        None
    } else {
        let say = |pid: Option<u32>| {
            (inputs.progress)(&format!(
                "verify: waiting for the review in process {}, which is verifying these findings",
                pid.map_or("?".to_string(), |p| p.to_string())
            ))
        };
        match crate::review::reviewers::wait_for(
            shared.as_deref(),
            &lock_key,
            inputs.deadline,
            &say,
        ) {
            Some(crate::review::reviewers::Claimed::Mine(lock)) => lock,
            _ => None,
        }
    };
    if !remake_all {
        for &i in &todo {
            if let Some(text) = store.get(&keys[i]) {
                let v = vote_of(Ok(text.as_str()));
                if v.status.is_some() {
                    votes[i] = Some(v);
                }
            }
        }
        todo.retain(|&i| votes[i].is_none());
    }
    summary.from_cache += votes.len() - todo.len();
    if todo.is_empty() {
        return votes.into_iter().flatten().collect();
    }
    let stopped = if crate::interrupt::is_triggered() {
        Some("interrupted (Ctrl-C) before verification".to_string())
    } else if inputs.deadline.is_some_and(|d| Instant::now() >= d) {
        Some("the time budget ran out before verification".to_string())
    } else {
        None
    };
    let answers: Vec<crate::error::Result<Generation>> = if let Some(why) = stopped {
        todo.iter()
            .map(|_| Err(crate::error::Error::Model(why.clone())))
            .collect()
    } else if let Some(server) = backend.concurrent(&verifier.model) {
        let width = server.max_concurrency().max(1);
        let mut out = Vec::with_capacity(todo.len());
        for group in todo.chunks(width) {
            let answers: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = group
                    .iter()
                    .map(|&i| {
                        let server = server.clone();
                        let request = &requests[i];
                        s.spawn(move || server.generate_one(request, "verify", &|_| {}))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(crate::error::Error::Model(
                                "the verifier's request panicked".into(),
                            ))
                        })
                    })
                    .collect()
            });
            out.extend(answers);
        }
        out
    } else {
        let labels: Vec<String> = todo
            .iter()
            .map(|&i| format!("verify finding {}", passes[i].finding + 1))
            .collect();
        backend.set_progress_labels("verify", &labels);
        let batch: Vec<Request> = todo.iter().map(|&i| requests[i].clone()).collect();
        backend.generate(&verifier.model, &batch)
    };
    for (&i, answer) in todo.iter().zip(answers) {
        let vote = match answer {
            Ok(g) => {
                summary.prompt_tokens += g.prompt_tokens;
                summary.generated_tokens += g.generated_tokens;
                if g.stop.cut_short() {
                    vote_of(Err("the time budget ran out mid-answer".to_string()))
                } else {
                    let v = vote_of(Ok(&g.text));
                    // Only an answer that parses is worth keeping: a
                    // failure is retried next time, not replayed.
                    if v.status.is_some() {
                        store.put(&keys[i], &g.text);
                    }
                    v
                }
            }
            Err(e) => vote_of(Err(format!("the verifier failed: {e}"))),
        };
        votes[i] = Some(vote);
    }
    votes
        .into_iter()
        .map(|v| {
            v.unwrap_or(Vote {
                status: None,
                reason: String::new(),
                error: Some("no answer".into()),
            })
        })
        .collect()
}

/// A pass's vote from its answer (or the reason there is none).
fn vote_of(answer: Result<&str, String>) -> Vote {
    match answer.and_then(ask::parse) {
        Ok((status, reason)) => Vote {
            status: Some(status),
            reason,
            error: None,
        },
        Err(e) => Vote {
            status: None,
            reason: String::new(),
            error: Some(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::findings::{Issue, Kind, Severity};
    use crate::standin::StandinBackend;

    fn finding(file: &str, line: u32, reviewers: &[&str]) -> ConsolidatedFinding {
        ConsolidatedFinding {
            issue: Issue {
                severity: Severity::Critical,
                kind: Kind::Regression,
                file: file.into(),
                line_start: line,
                line_end: line,
                title: format!("claim about {file}"),
                explanation: "It is wrong.".into(),
                fix: "Fix it.".into(),
                quote: String::new(),
                cause: None,
            },
            unconfirmed: false,
            reviewers: reviewers.iter().map(|r| r.to_string()).collect(),
            agreement: reviewers.len(),
            members: Vec::new(),
            verification: None,
        }
    }

    fn plan() -> ReviewPlan {
        ReviewPlan {
            range: crate::git::range::ReviewRange {
                spec: "test".into(),
                base: None,
                head: gix::ObjectId::null(gix::hash::Kind::Sha1),
                branch: None,
                commits: Vec::new(),
            },
            files: Vec::new(),
            skipped: Vec::new(),
            unfit: Vec::new(),
            chunks: Vec::new(),
        }
    }

    #[derive(Default)]
    struct Memory(HashMap<String, String>);
    impl GenerationStore for Memory {
        fn get(&mut self, key: &crate::cache::CacheKey) -> Option<String> {
            self.0.get(&key.hex()).cloned()
        }
        fn put(&mut self, key: &crate::cache::CacheKey, text: &str) {
            self.0.insert(key.hex(), text.to_string());
        }
    }

    fn verifier(model: &str) -> Verifier {
        Verifier {
            model: model.into(),
            identity: model.into(),
            sampling: Sampling::default(),
            on_server: false,
            code_chars: ask::CODE_CHARS,
        }
    }

    fn verify_with(
        model: &str,
        findings: Vec<ConsolidatedFinding>,
        deadline: Option<Instant>,
        store: &mut Memory,
    ) -> (Verified, usize) {
        let plan = plan();
        let context = ContextPlan::off(&plan);
        let contents: HashMap<String, String> = [
            ("plain.rs", "fn a() {}\n"),
            ("refute.rs", "fn b() {} // DEEP-REVIEW-REFUTE\n"),
            ("unsure.rs", "fn c() {} // DEEP-REVIEW-UNSURE\n"),
            ("garble.rs", "fn d() {} // DEEP-REVIEW-GARBLE\n"),
        ]
        .into_iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
        let verifiers = [verifier(model)];
        let models = HashMap::new();
        let inputs = VerifyInputs {
            plan: &plan,
            context: &context,
            contents: &contents,
            verifiers: &verifiers,
            explicit: true,
            reviewer_models: &models,
            votes: 1,
            mode: "on",
            deadline,
            progress: &|_| {},
        };
        let mut backend = StandinBackend::new();
        let v = run(findings, &inputs, &mut backend, store);
        (v, backend.calls)
    }

    fn status(f: &ConsolidatedFinding) -> (VerifyStatus, bool) {
        let v = f.verification.as_ref().unwrap();
        (v.status, v.failed.is_some())
    }

    #[test]
    fn each_answer_has_its_outcome_and_none_but_refuted_removes_a_finding() {
        let all = vec![
            finding("plain.rs", 1, &["a"]),
            finding("refute.rs", 1, &["a"]),
            finding("unsure.rs", 1, &["a"]),
            finding("garble.rs", 1, &["a"]),
        ];
        let (v, calls) = verify_with("standin:marker", all, None, &mut Memory::default());
        assert_eq!(calls, 1, "one batch for the model");
        let kept: Vec<(&str, (VerifyStatus, bool))> = v
            .kept
            .iter()
            .map(|f| (f.file.as_str(), status(f)))
            .collect();
        assert_eq!(
            kept,
            [
                ("plain.rs", (VerifyStatus::Confirmed, false)),
                ("unsure.rs", (VerifyStatus::Uncertain, false)),
                ("garble.rs", (VerifyStatus::Uncertain, true)),
            ]
        );
        assert_eq!(v.refuted.len(), 1);
        assert_eq!(v.refuted[0].file, "refute.rs");
        assert!(v.refuted[0]
            .verification
            .as_ref()
            .unwrap()
            .reason
            .contains("refute marker"));
        let failed = v.kept[2]
            .verification
            .as_ref()
            .unwrap()
            .failed
            .clone()
            .unwrap();
        assert!(failed.contains("not the JSON"), "{failed}");
        let s = &v.summary;
        assert_eq!(
            (s.checked, s.confirmed, s.refuted, s.uncertain, s.failed),
            (4, 1, 1, 2, 1)
        );
    }

    #[test]
    fn a_failing_or_late_verifier_leaves_every_finding_uncertain() {
        let two = || {
            vec![
                finding("plain.rs", 1, &["a"]),
                finding("refute.rs", 1, &["a"]),
            ]
        };
        let (v, _) = verify_with("standin:fail", two(), None, &mut Memory::default());
        assert!(v.refuted.is_empty());
        assert_eq!(v.kept.len(), 2);
        for f in &v.kept {
            assert_eq!(status(f), (VerifyStatus::Uncertain, true));
            let why = f.verification.as_ref().unwrap().failed.clone().unwrap();
            assert!(why.contains("always fails"), "{why}");
        }
        let past = Instant::now() - std::time::Duration::from_secs(1);
        let (v, calls) = verify_with("standin:marker", two(), Some(past), &mut Memory::default());
        assert_eq!(calls, 0, "nothing is asked after the deadline");
        assert!(v.refuted.is_empty(), "a timeout never removes a finding");
        for f in &v.kept {
            let why = f.verification.as_ref().unwrap().failed.clone().unwrap();
            assert!(why.contains("time budget"), "{why}");
        }
    }

    #[test]
    fn answers_are_cached_and_only_usable_ones() {
        let mut store = Memory::default();
        let two = || {
            vec![
                finding("plain.rs", 1, &["a"]),
                finding("garble.rs", 1, &["a"]),
            ]
        };
        let (first, calls) = verify_with("standin:marker", two(), None, &mut store);
        assert_eq!((calls, first.summary.from_cache), (1, 0));
        assert_eq!(store.0.len(), 1, "the invalid answer is not kept");
        let (again, calls) = verify_with("standin:marker", two(), None, &mut store);
        assert_eq!(calls, 1, "the invalid one is asked again");
        assert_eq!(again.summary.from_cache, 1);
        assert_eq!(again.kept, first.kept, "a cached answer reads as the first");
        let (_, calls) = verify_with(
            "standin:marker",
            vec![finding("plain.rs", 1, &["a"])],
            None,
            &mut store,
        );
        assert_eq!(calls, 0, "all cached: no model asked");
    }
}
