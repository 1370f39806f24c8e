//! Engine benchmark (run through `benches/engine_bench.sh`, which also runs
//! llama.cpp's own `llama-bench` on the same file for comparison).
//!
//! `engine_bench MODEL [--threads N] [--pp 512] [--tg 128] [--reps 3] [--only pp,shared,grammar,together]`
//! prints one `key value` line per figure:
//! - `pp_tps`: prefill tokens/s of a prompt of exactly `--pp` tokens;
//! - `tg0_tps` / `tg_tps`: decode tokens/s of `--tg` tokens right after a
//!   2-token prompt (llama-bench's `tg128`) and after the `--pp` prompt
//!   (llama-bench's `tg128 @ d512`). Both through `Backend::generate`,
//!   unconstrained, fixed lengths (end-of-generation ignored), median of
//!   `--reps` after one warm-up, prompts laid out as plain completions so
//!   token counts are exact;
//! - `peak_rss_mb`: peak resident memory after those runs, with a context
//!   of pp + tg + 512 tokens (what llama-bench allocates for `-d 512`);
//! - `shared3_ms` / `independent3_ms`: the three built-in reviewers on one
//!   review-sized chunk (~`--chunk-tokens`, default 2048, of a real source
//!   file) with the shared prefix vs three separate calls, default sampling
//!   (greedy, `max_tokens` 768), grammar-constrained; also with answers cut
//!   to 16 tokens, where prefill dominates;
//! - `grammar_tps` / `free_tps`: decode tokens/s with the findings grammar
//!   (at least one finding required, so the answer is long) and without it,
//!   over the same number of tokens;
//! - `peak_rss_review_mb`: peak resident memory at the end (review contexts).
//! - `rss_n_ctx`, `rss_weights_mb`, `rss_kv_mb`, `rss_peak_mb` (`--only rss`):
//!   peak resident memory after a 512-token prompt and `--tg` tokens with
//!   the context the manifest asks for (n_ctx 8192 for a real review
//!   model), beside the weights' and the KV cache's own sizes;
//! - `together1_ms` / `together3_seq_ms` / `together3_ms` (`--only together`):
//!   one reviewer alone, the three reviewers one after another (shared
//!   prefix, `review.batch_decode = off`) and the three decoded together
//!   (`on`), each answer exactly `--tg` tokens; `together_ratio` is three
//!   together over one alone, `together_deterministic` whether two batched
//!   runs gave the same answers.

use std::time::Instant;

use git_deep_review::engine::grammar::{findings_grammar, GrammarLimits};
use git_deep_review::engine::manifest::{load_manifest, ChatTemplate};
use git_deep_review::engine::{
    Backend, BatchDecode, EngineOptions, LlamaBackend, Prompt, Request, Sampling,
};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

/// Sample standard deviation (0 for fewer than two values).
fn stddev(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("engine_bench: {e}");
    std::process::exit(1)
}

/// A completion-layout prompt of exactly `n` tokens (BOS and the trailing
/// blank line included), cut from filler text.
fn prompt_of(eng: &mut LlamaBackend, model: &str, n: usize) -> Prompt {
    let llama = eng.model(model).unwrap_or_else(|e| fail(e));
    let filler = "The quick brown fox jumps over the lazy dog while reviewing code. ".repeat(n);
    let toks = llama.vocab().tokenize(filler.as_bytes(), false, false);
    let mut take = n.min(toks.len());
    loop {
        let text = String::from_utf8_lossy(&llama.vocab().detokenize(&toks[..take], false, false))
            .into_owned();
        let p = Prompt {
            system: String::new(),
            user: text,
        };
        let got = eng
            .tokenize_prompt(model, &p)
            .unwrap_or_else(|e| fail(e))
            .len();
        if got <= n || take == 0 {
            if got != n {
                eprintln!("engine_bench: prompt has {got} tokens, wanted {n}");
            }
            return p;
        }
        take -= (got - n).min(take);
    }
}

/// The three built-in reviewers' requests on one chunk of about
/// `chunk_tokens` tokens, rendered like the pipeline renders a diff.
fn review_requests(
    eng: &mut LlamaBackend,
    model: &str,
    chunk_tokens: usize,
    max_tokens: usize,
) -> Vec<Request> {
    let source = include_str!("../src/engine/grammar.rs");
    let mut diff = String::from("=== src/engine/grammar.rs (added, +0 -0) ===\n");
    let mut lines = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let next = format!("+ {} | {line}\n", i + 1);
        let probe = format!("{diff}{next}");
        if eng.count_tokens(model, &probe).unwrap_or(0) > chunk_tokens {
            break;
        }
        diff = probe;
        lines.push(i as u32 + 1);
    }
    let files = vec![("src/engine/grammar.rs".to_string(), lines)];
    let sampling = Sampling {
        max_tokens,
        ..Sampling::default()
    };
    let grammar = findings_grammar(
        &files,
        &GrammarLimits::default().fit_within(max_tokens, &files),
    );
    ["correctness.md", "robustness.md", "tests-design.md"]
        .iter()
        .map(|p| {
            let persona = git_deep_review::prompts::load(p, std::path::Path::new("."))
                .unwrap_or_else(|e| fail(e));
            Request {
                prompt: Prompt {
                    system: git_deep_review::prompts::SYSTEM.trim().to_string(),
                    user: git_deep_review::prompts::review_user_message(None, &diff, &persona),
                },
                sampling: sampling.clone(),
                grammar: grammar.clone(),
                schema: None,
            }
        })
        .collect()
}

/// Three requests together (shared prefix) and one by one; returns the
/// median wall times and whether every output was identical.
/// Peak RSS with the manifest's context, against weights + KV cache.
fn rss(model: &str, threads: Option<usize>, tg: usize) {
    let mut eng = LlamaBackend::new(EngineOptions {
        threads,
        ignore_eog: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| fail(e));
    let prompt = prompt_of(&mut eng, model, 512);
    let out = eng.generate(
        model,
        &[Request {
            prompt,
            sampling: Sampling {
                max_tokens: tg,
                ..Sampling::default()
            },
            grammar: String::new(),
            schema: None,
        }],
    );
    out[0].as_ref().unwrap_or_else(|e| fail(e));
    let n_ctx = eng.n_ctx(model).unwrap_or(0);
    let llama = eng.model(model).unwrap_or_else(|e| fail(e));
    let meta = |k: &str| -> u64 {
        let arch = llama
            .meta_val_str("general.architecture")
            .unwrap_or_default();
        llama
            .meta_val_str(&format!("{arch}.{k}"))
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let heads = meta("attention.head_count").max(1);
    let head_dim = meta("embedding_length") / heads;
    // F16 K and V for every layer and KV head.
    let kv = meta("block_count") * meta("attention.head_count_kv").max(1) * head_dim * 2 * 2;
    let manifest = eng.manifest();
    let entry = manifest
        .get(model)
        .unwrap_or_else(|| fail(format!("no model {model}")));
    let weights = std::fs::metadata(manifest.path_of(entry)).map_or(0, |m| m.len());
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("rss_n_ctx {n_ctx}");
    println!("rss_weights_mb {:.0}", mb(weights));
    println!("rss_kv_mb {:.0}", mb(kv * u64::from(n_ctx)));
    println!("rss_peak_mb {:.0}", peak_rss_mb());
}

/// Three reviewers on one model: alone, one after another, together.
fn together(model: &str, threads: Option<usize>, chunk_tokens: usize, tg: usize, reps: usize) {
    let engine = |batch_decode| {
        LlamaBackend::new(EngineOptions {
            threads,
            ignore_eog: true,
            batch_decode,
            ..Default::default()
        })
        .unwrap_or_else(|e| fail(e))
    };
    let mut seq = engine(BatchDecode::Off);
    let mut tog = engine(BatchDecode::On);
    // Fixed-length answers, no grammar: every variant decodes the same
    // number of tokens (a random-weight model's grammar-bound answer would
    // end at a random length).
    let reqs: Vec<Request> = review_requests(&mut seq, model, chunk_tokens, tg)
        .into_iter()
        .map(|mut r| {
            r.grammar.clear();
            r
        })
        .collect();
    seq.generate(model, &reqs[..1]); // warm-up (weights paged in)
    tog.generate(model, &reqs[..1]);
    let time = |eng: &mut LlamaBackend, reqs: &[Request]| {
        let t = Instant::now();
        let out = eng.generate(model, reqs);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let texts: Vec<String> = out
            .into_iter()
            .map(|g| g.unwrap_or_else(|e| fail(e)).text)
            .collect();
        (ms, texts)
    };
    let (mut one, mut three_seq, mut three) = (Vec::new(), Vec::new(), Vec::new());
    let mut first: Option<Vec<String>> = None;
    let mut deterministic = true;
    for _ in 0..reps {
        one.push(time(&mut seq, &reqs[..1]).0);
        three_seq.push(time(&mut seq, &reqs).0);
        let (ms, texts) = time(&mut tog, &reqs);
        three.push(ms);
        match &first {
            Some(f) => deterministic &= *f == texts,
            None => first = Some(texts),
        }
    }
    let (one, three_seq, three) = (median(one), median(three_seq), median(three));
    println!("together_tokens {tg}");
    println!("together1_ms {one:.0}");
    println!("together3_seq_ms {three_seq:.0}");
    println!("together3_ms {three:.0}");
    println!("together_ratio {:.2}", three / one);
    println!("together_seq_ratio {:.2}", three_seq / one);
    println!("together_deterministic {deterministic}");
}

fn shared_vs_independent(
    eng: &mut LlamaBackend,
    model: &str,
    reqs: &[Request],
    reps: usize,
) -> (f64, f64, bool, usize, usize) {
    eng.generate(model, &reqs[..1]); // warm-up
    let (mut shared, mut indep, mut same) = (Vec::new(), Vec::new(), true);
    let (mut prompt, mut common) = (0, 0);
    for _ in 0..reps {
        let t = Instant::now();
        let a = eng.generate(model, reqs);
        shared.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let b: Vec<_> = reqs
            .iter()
            .map(|r| eng.generate(model, std::slice::from_ref(r)))
            .collect();
        indep.push(t.elapsed().as_secs_f64() * 1000.0);
        for (x, y) in a.iter().zip(&b) {
            let (x, y) = (
                x.as_ref().unwrap_or_else(|e| fail(e)),
                y[0].as_ref().unwrap_or_else(|e| fail(e)),
            );
            same &= x.text == y.text;
            prompt = x.prompt_tokens;
            common = common.max(x.shared_tokens);
        }
    }
    (median(shared), median(indep), same, prompt, common)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(model) = args.first().filter(|a| !a.starts_with("--")).cloned() else {
        eprintln!(
            "usage: engine_bench MODEL [--threads N] [--pp 512] [--tg 128] [--reps 3] \
             [--chunk-tokens 2048] [--only pp,shared,grammar,together]"
        );
        std::process::exit(2);
    };
    let num = |name: &str, default: usize| -> usize {
        arg(&args, name)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let threads: Option<usize> = arg(&args, "--threads").and_then(|s| s.parse().ok());
    let (pp, tg, reps) = (num("--pp", 512), num("--tg", 128), num("--reps", 3).max(1));
    let chunk_tokens = num("--chunk-tokens", 2048);
    let only = arg(&args, "--only").unwrap_or_default();
    let want = |part: &str| only.is_empty() || only.split(',').any(|o| o == part);

    // Plain completion layout: the prompt is exactly the tokens we ask for,
    // as in llama-bench (no chat template around it).
    let mut raw = load_manifest().unwrap_or_else(|e| fail(e));
    for m in &mut raw.models {
        m.chat_template = ChatTemplate::Completion;
    }
    let mut eng = LlamaBackend::with_manifest(
        raw,
        EngineOptions {
            threads,
            n_ctx: Some((pp + tg + 512) as u32),
            ignore_eog: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| fail(e));
    let t0 = Instant::now();
    eng.load(&model).unwrap_or_else(|e| fail(e));
    println!("model {model}");
    println!("threads {}", eng.threads());
    println!("load_ms {}", t0.elapsed().as_millis());

    if want("pp") {
        let fixed = |prompt: &Prompt, max_tokens| Request {
            prompt: prompt.clone(),
            sampling: Sampling {
                max_tokens,
                ..Sampling::default()
            },
            grammar: String::new(),
            schema: None,
        };
        let long = prompt_of(&mut eng, &model, pp);
        let short = prompt_of(&mut eng, &model, 2);
        let (mut pp_rates, mut tg_rates, mut tg0_rates) = (Vec::new(), Vec::new(), Vec::new());
        // One warm-up run, then measured runs (as llama-bench does).
        for rep in 0..=reps {
            let out = eng.generate(&model, &[fixed(&long, tg)]);
            let g = out[0].as_ref().unwrap_or_else(|e| fail(e));
            let out0 = eng.generate(&model, &[fixed(&short, tg)]);
            let g0 = out0[0].as_ref().unwrap_or_else(|e| fail(e));
            if rep == 0 {
                println!("pp_tokens {}", g.prompt_tokens);
                println!("tg_depth {}", g.prompt_tokens);
                println!("tg0_depth {}", g0.prompt_tokens);
                println!("tg_tokens {}", g.generated_tokens);
                continue;
            }
            pp_rates.push(g.prompt_tokens as f64 / (g.prefill_ms.max(1) as f64 / 1000.0));
            tg_rates.push(g.generated_tokens as f64 / (g.generate_ms.max(1) as f64 / 1000.0));
            tg0_rates.push(g0.generated_tokens as f64 / (g0.generate_ms.max(1) as f64 / 1000.0));
        }
        for (key, rates) in [("pp", pp_rates), ("tg0", tg0_rates), ("tg", tg_rates)] {
            println!("{key}_sd {:.1}", stddev(&rates));
            println!("{key}_tps {:.1}", median(rates));
        }
        println!("n_ctx {}", eng.n_ctx(&model).unwrap_or(0));
        println!("peak_rss_mb {:.0}", peak_rss_mb());
    }
    drop(eng);

    if only.split(',').any(|o| o == "rss") {
        rss(&model, threads, tg);
    }
    if want("together") {
        together(&model, threads, chunk_tokens, tg, reps);
    }

    // The review shape: the model's own chat layout, default sampling,
    // end-of-generation honoured.
    let mut eng = LlamaBackend::new(EngineOptions {
        threads,
        ..Default::default()
    })
    .unwrap_or_else(|e| fail(e));
    if want("shared") {
        let max = Sampling::default().max_tokens;
        let reqs = review_requests(&mut eng, &model, chunk_tokens, max);
        let (s, i, same, prompt, common) = shared_vs_independent(&mut eng, &model, &reqs, reps);
        println!("shared_prompt_tokens {prompt}");
        println!("shared_tokens {common}");
        println!("shared3_ms {s:.0}");
        println!("independent3_ms {i:.0}");
        println!("shared_speedup {:.2}", i / s);
        println!("shared_identical_output {same}");
        let reqs = review_requests(&mut eng, &model, chunk_tokens, 16);
        let (s, i, same16, _, _) = shared_vs_independent(&mut eng, &model, &reqs, reps);
        println!("shared3_short_ms {s:.0}");
        println!("independent3_short_ms {i:.0}");
        println!("shared_short_speedup {:.2}", i / s);
        println!("shared_short_identical_output {same16}");
    }

    if want("grammar") {
        // At least one finding, so the constrained answer is long enough to
        // measure; the unconstrained run decodes exactly as many tokens.
        let mut constrained = review_requests(&mut eng, &model, 512, 384).remove(0);
        constrained.grammar = constrained.grammar.replace("\" items? \"", "\" items \"");
        let mut free_eng = LlamaBackend::new(EngineOptions {
            threads,
            ignore_eog: true,
            ..Default::default()
        })
        .unwrap_or_else(|e| fail(e));
        let (mut g_rates, mut f_rates, mut g_tokens) = (Vec::new(), Vec::new(), 0);
        for _ in 0..reps {
            let out = eng.generate(&model, std::slice::from_ref(&constrained));
            let g = out[0].as_ref().unwrap_or_else(|e| fail(e));
            g_tokens = g.generated_tokens;
            g_rates.push(g.generated_tokens as f64 / (g.generate_ms.max(1) as f64 / 1000.0));
            let mut free = constrained.clone();
            free.grammar.clear();
            free.sampling.max_tokens = g.generated_tokens.max(1);
            let out = free_eng.generate(&model, &[free]);
            let f = out[0].as_ref().unwrap_or_else(|e| fail(e));
            f_rates.push(f.generated_tokens as f64 / (f.generate_ms.max(1) as f64 / 1000.0));
        }
        println!("grammar_tokens {g_tokens}");
        println!("grammar_tps {:.1}", median(g_rates.clone()));
        println!("free_tps {:.1}", median(f_rates.clone()));
        println!("grammar_ratio {:.2}", median(g_rates) / median(f_rates));
    }
    if want("shared") || want("grammar") {
        println!("peak_rss_review_mb {:.0}", peak_rss_mb());
    }
}
