//! Engine benchmark (run through `benches/engine_bench.sh`, which also runs
//! llama.cpp's own `llama-bench` on the same file for comparison).
//!
//! `engine_bench MODEL [--threads N] [--pp 512] [--tg 128] [--reps 3] [--chunk N]`
//! prints one `key value` line per figure:
//! - `pp_tps` / `tg_tps`: prefill and decode tokens/s through `Backend::generate`
//!   (median of `--reps`), unconstrained, fixed lengths like llama-bench;
//! - `shared3_ms` / `independent3_ms`: 3 reviewers on one diff with the
//!   shared prefix vs 3 separate calls, greedy, grammar-constrained;
//! - `grammar_tps` / `free_tps`: decode tokens/s with and without the
//!   findings grammar on the same prompt;
//! - `peak_rss_mb`: peak resident memory of this process.

use std::time::Instant;

use git_deep_review::engine::grammar::{findings_grammar, GrammarLimits};
use git_deep_review::engine::{Backend, EngineOptions, LlamaBackend, Prompt, Request, Sampling};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
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

const DIFF: &str = "\
=== src/auth.rs (modified, +6 -2) ===
  38 | /// Checks a session token.
  39 | pub fn check(user: &User, token: &str) -> bool {
-     |     constant_time_eq(user.token.as_bytes(), token.as_bytes())
+ 40 |     if token.is_empty() {
+ 41 |         return true;
+ 42 |     }
+ 43 |     let ok = user.token == token;
+ 44 |     log::debug!(\"token check for {} -> {}\", user.name, token);
+ 45 |     ok
  46 | }
=== src/db.rs (added, +9 -0) ===
+ 1 | use crate::conn::Conn;
+ 2 | 
+ 3 | pub fn find_user(conn: &Conn, name: &str) -> Option<User> {
+ 4 |     let q = format!(\"SELECT * FROM users WHERE name = '{name}'\");
+ 5 |     let rows = conn.query(&q).unwrap();
+ 6 |     rows.into_iter().next().map(User::from_row)
+ 7 | }
+ 8 | 
+ 9 | pub fn count(conn: &Conn) -> usize { conn.query(\"SELECT 1\").unwrap().len() }
";

fn files() -> Vec<(String, Vec<u32>)> {
    vec![
        ("src/auth.rs".into(), (38..=46).collect()),
        ("src/db.rs".into(), (1..=9).collect()),
    ]
}

fn review(focus: &str, max_tokens: usize, grammar: bool) -> Request {
    let system = "You are a senior software engineer reviewing a change before it is merged. \
        Report real problems only: security holes, wrong behaviour, missing error handling, \
        missing tests. Answer with JSON {\"findings\":[...]} where every finding has file, line, \
        end_line, severity (critical|important|suggestion), kind (regression|gap|enhancement), \
        title, explanation, fix and quote (the exact code line)."
        .repeat(2);
    Request {
        prompt: Prompt {
            system,
            user: format!("The change:\n{DIFF}\n\nYour focus: {focus}.\nFindings JSON:"),
        },
        sampling: Sampling {
            max_tokens,
            ..Sampling::default()
        },
        grammar: if grammar {
            findings_grammar(
                &files(),
                &GrammarLimits::default().fit_within(max_tokens.max(2000), &files()),
            )
        } else {
            String::new()
        },
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(model) = args.first().filter(|a| !a.starts_with("--")).cloned() else {
        eprintln!(
            "usage: engine_bench MODEL [--threads N] [--pp 512] [--tg 128] [--reps 3] [--chunk N]"
        );
        std::process::exit(2);
    };
    let threads: Option<usize> = arg(&args, "--threads").and_then(|s| s.parse().ok());
    let pp: usize = arg(&args, "--pp")
        .and_then(|s| s.parse().ok())
        .unwrap_or(512);
    let tg: usize = arg(&args, "--tg")
        .and_then(|s| s.parse().ok())
        .unwrap_or(128);
    let reps: usize = arg(&args, "--reps")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let chunk: Option<u32> = arg(&args, "--chunk").and_then(|s| s.parse().ok());
    let only = arg(&args, "--only").unwrap_or_default();

    let fixed = |ignore_eog| EngineOptions {
        threads,
        n_ctx: Some(4096),
        prefill_chunk: chunk,
        ignore_eog,
        ..Default::default()
    };
    let mut eng = LlamaBackend::new(fixed(true)).unwrap_or_else(|e| {
        eprintln!("engine_bench: {e}");
        std::process::exit(1)
    });
    let t0 = Instant::now();
    eng.load(&model).unwrap_or_else(|e| {
        eprintln!("engine_bench: {e}");
        std::process::exit(1)
    });
    println!("model {model}");
    println!("threads {}", eng.threads());
    println!("load_ms {}", t0.elapsed().as_millis());

    if only.is_empty() || only == "pp" {
        // A prompt of exactly `pp` tokens: tokenize filler and cut.
        let llama = eng.model(&model).unwrap();
        let filler =
            "The quick brown fox jumps over the lazy dog while reviewing code. ".repeat(pp);
        let toks = llama.vocab().tokenize(filler.as_bytes(), false, false);
        let text = String::from_utf8_lossy(&llama.vocab().detokenize(
            &toks[..pp.min(toks.len())],
            false,
            false,
        ))
        .into_owned();
        let mut pp_rates = Vec::new();
        let mut tg_rates = Vec::new();
        // One warm-up run, then measured runs (as llama-bench does).
        for rep in 0..=reps {
            // A distinct first word per run defeats nothing here (no cache
            // across calls) but keeps runs honest if one is ever added.
            let req = Request {
                prompt: Prompt {
                    system: String::new(),
                    user: format!("{rep} {text}"),
                },
                sampling: Sampling {
                    max_tokens: tg,
                    ..Sampling::default()
                },
                grammar: String::new(),
            };
            let out = eng.generate(&model, &[req]);
            let g = out[0].as_ref().expect("generation failed");
            if rep > 0 {
                pp_rates.push(g.prompt_tokens as f64 / (g.prefill_ms.max(1) as f64 / 1000.0));
                tg_rates.push(g.generated_tokens as f64 / (g.generate_ms.max(1) as f64 / 1000.0));
            }
        }
        println!("pp_tokens {pp}");
        println!("pp_tps {:.1}", median(pp_rates));
        println!("tg_tokens {tg}");
        println!("tg_tps {:.1}", median(tg_rates));
    }

    if only == "ginit" {
        let llama = eng.model(&model).unwrap();
        for (name, g) in [
            (
                "default",
                findings_grammar(&files(), &GrammarLimits::default()),
            ),
            (
                "short",
                findings_grammar(
                    &files(),
                    &GrammarLimits {
                        title: 10,
                        explanation: 10,
                        fix: 10,
                        quote: 10,
                        max_findings: 5,
                    },
                ),
            ),
            (
                "one",
                findings_grammar(
                    &files(),
                    &GrammarLimits {
                        max_findings: 1,
                        ..Default::default()
                    },
                ),
            ),
            ("star", "root ::= \"{\" [a-z]* \"}\"".to_string()),
        ] {
            let t = Instant::now();
            let s = llama_cpp_2::sampling::LlamaSampler::grammar(llama, &g, "root");
            println!(
                "grammar_init_ms {name} {} ok={}",
                t.elapsed().as_millis(),
                s.is_ok()
            );
        }
        return;
    }
    let mut eng = LlamaBackend::new(fixed(false)).expect("engine");
    if only.is_empty() || only == "shared" {
        let reqs: Vec<Request> = ["security", "correctness", "tests and robustness"]
            .iter()
            .map(|f| review(f, 384, true))
            .collect();
        eng.generate(&model, &reqs[..1]); // warm-up
        let mut shared = Vec::new();
        let mut indep = Vec::new();
        let mut same = true;
        for _ in 0..reps {
            let t = Instant::now();
            let a = eng.generate(&model, &reqs);
            shared.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let b: Vec<_> = reqs
                .iter()
                .map(|r| eng.generate(&model, std::slice::from_ref(r)))
                .collect();
            indep.push(t.elapsed().as_secs_f64() * 1000.0);
            for (x, y) in a.iter().zip(&b) {
                same &= x.as_ref().ok().map(|g| &g.text) == y[0].as_ref().ok().map(|g| &g.text);
            }
            if let Ok(g) = &a[0] {
                println!(
                    "shared_prompt_tokens {} shared_tokens {}",
                    g.prompt_tokens, g.shared_tokens
                );
            }
        }
        let (s, i) = (median(shared), median(indep));
        println!("shared3_ms {s:.0}");
        println!("independent3_ms {i:.0}");
        println!("shared_speedup {:.2}", i / s);
        println!("shared_identical_output {same}");
    }

    if only.is_empty() || only == "grammar" {
        let mut g_rates = Vec::new();
        let mut f_rates = Vec::new();
        let mut g_tokens = 0;
        for _ in 0..reps {
            let out = eng.generate(&model, &[review("correctness", 384, true)]);
            let g = out[0].as_ref().expect("generation failed");
            g_tokens = g.generated_tokens;
            g_rates.push(g.generated_tokens as f64 / (g.generate_ms.max(1) as f64 / 1000.0));
            let out = eng.generate(
                &model,
                &[review("correctness", g.generated_tokens.max(8), false)],
            );
            let f = out[0].as_ref().expect("generation failed");
            f_rates.push(f.generated_tokens as f64 / (f.generate_ms.max(1) as f64 / 1000.0));
        }
        println!("grammar_tokens {g_tokens}");
        println!("grammar_tps {:.1}", median(g_rates.clone()));
        println!("free_tps {:.1}", median(f_rates.clone()));
        println!("grammar_ratio {:.2}", median(g_rates) / median(f_rates));
    }
    println!("peak_rss_mb {:.0}", peak_rss_mb());
}
