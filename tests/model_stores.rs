//! Models where users already keep them, through the real binary and the
//! real engine: the bundled GGUFs laid out exactly as Ollama, the Hugging
//! Face cache and LM Studio store them (in the test's own HOME), listed,
//! reviewed through `ollama:` and `hf:` references with no network
//! (`unshare -n`), refused when a blob does not match its digest, chosen by
//! `init`; a reasoning template that thinks before it answers; and the
//! plain word that demonstration models give no review.

mod common;

use common::models::{GEMMA_FILE, SMOL_FILE};
use common::repo::TestRepo;
use common::stores::{ollama_model, place};
use git_deep_review::engine::verify::sha256_file;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const SMOL_REF: &str = "ollama:smollm2:135m";
const GEMMA_REF: &str = "hf:google/gemma-3-270m-GGUF/gemma-3-270m-q4_k_m.gguf";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A Hugging Face hub cache entry: snapshot file → symlink → blob named by
/// its sha256, and `refs/main`.
fn hf_model(hub: &Path, repo: &str, file: &str, blob: &Path) {
    let sha = sha256_file(blob).unwrap();
    let base = hub.join(format!("models--{}", repo.replace('/', "--")));
    place(blob, &base.join("blobs").join(&sha));
    let snap = base.join("snapshots").join("abc123");
    std::fs::create_dir_all(&snap).unwrap();
    std::os::unix::fs::symlink(format!("../../blobs/{sha}"), snap.join(file)).unwrap();
    std::fs::create_dir_all(base.join("refs")).unwrap();
    std::fs::write(base.join("refs/main"), "abc123").unwrap();
}

/// The three stores in the test HOME, holding the bundled models, plus the
/// broken things real stores contain.
fn lay_out_stores(home: &Path) -> (String, String) {
    let models = common::models::dir();
    let smol_sha = sha256_file(&models.join(SMOL_FILE)).unwrap();
    let ollama = home.join(".ollama/models");
    ollama_model(
        &ollama,
        "smollm2",
        "135m",
        &models.join(SMOL_FILE),
        &smol_sha,
    );
    // A manifest that is not JSON: reported, skipped.
    let bad = ollama.join("manifests/registry.ollama.ai/library/broken");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("latest"), "this is not json").unwrap();
    let hub = home.join(".cache/huggingface/hub");
    hf_model(
        &hub,
        "google/gemma-3-270m-GGUF",
        GEMMA_FILE,
        &models.join(GEMMA_FILE),
    );
    // A snapshot link whose blob is gone: reported, skipped.
    let gone = hub.join("models--someone--gone-GGUF/snapshots/r1");
    std::fs::create_dir_all(&gone).unwrap();
    std::os::unix::fs::symlink("../../blobs/deadbeef", gone.join("gone.gguf")).unwrap();
    place(
        &models.join(SMOL_FILE),
        &home
            .join(".lmstudio/models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
            .join(SMOL_FILE),
    );
    let gemma_sha = sha256_file(&models.join(GEMMA_FILE)).unwrap();
    (smol_sha, gemma_sha)
}

fn python_repo() -> TestRepo {
    TestRepo::python_average()
}

/// Reviewers on `models` (one per entry), no lead, in the repository file.
fn configure(repo: &TestRepo, models: &[&str], extra: &str) {
    let mut toml = String::new();
    for (i, m) in models.iter().enumerate() {
        toml.push_str(&format!(
            "[[reviewer]]\nname = \"r{i}\"\nmodel = \"{m}\"\nprompt = \"correctness.md\"\nmax_tokens = 200\n{extra}\n"
        ));
    }
    toml.push_str("[review]\nlead = \"none\"\n");
    std::fs::write(repo.path.join(".deep-review.toml"), toml).unwrap();
}

/// The model of each reviewer in a JSON report, in order.
fn reviewer_models(v: &Value) -> Vec<&str> {
    v["reviewers"]
        .as_array()
        .expect("reviewers in the report")
        .iter()
        .map(|r| r["model"].as_str().expect("a model name"))
        .collect()
}

fn offline(repo: &TestRepo, args: &[&str]) -> Output {
    repo.deep_review_offline(args)
        .output()
        .expect("run git-deep-review offline")
}

#[test]
fn models_lists_every_store_and_reports_what_is_broken() {
    let repo = python_repo();
    let (smol_sha, _) = lay_out_stores(&repo.scratch());
    let out = offline(&repo, &["models"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    for want in [
        "Ollama (",
        SMOL_REF,
        "Hugging Face cache (",
        GEMMA_REF,
        "LM Studio (",
        "lmstudio:HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct.Q4_1.gguf",
        &format!("blobs/sha256-{smol_sha}"),
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    // Facts from the headers, for a store model too.
    let ollama_part = &stdout[stdout.find(SMOL_REF).unwrap()..];
    let facts = ollama_part.lines().nth(1).unwrap();
    assert!(
        facts.contains("llama") && facts.contains("parameters"),
        "{facts}"
    );
    assert!(
        ollama_part.contains("chat template: chatml (from the file)"),
        "{ollama_part}"
    );
    // A bundled file in a store is still a demonstration model, and with
    // nothing else here the list says how to bring a capable one.
    assert!(
        ollama_part.contains("demonstration model: the bundled file"),
        "{ollama_part}"
    );
    assert!(
        stdout.contains("To review for real, bring a capable model"),
        "{stdout}"
    );
    // Broken entries are named and skipped, never fatal.
    let skipped: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("skipped:"))
        .collect();
    assert!(skipped.iter().any(|l| l.contains("broken")), "{stdout}");
    assert!(skipped.iter().any(|l| l.contains("gone")), "{stdout}");
}

#[test]
fn a_review_through_ollama_and_hf_references_runs_end_to_end_offline() {
    let repo = python_repo();
    let (smol_sha, gemma_sha) = lay_out_stores(&repo.scratch());
    configure(&repo, &[SMOL_REF, GEMMA_REF], "");
    let out = offline(
        &repo,
        &["HEAD~1..HEAD", "--format", "json", "-o", "-", "--no-cache"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let models = reviewer_models(&v);
    assert_eq!(models, [SMOL_REF, GEMMA_REF]);
    for r in v["retro"].as_array().unwrap() {
        assert!(r["error"].is_null(), "reviewer failed: {r}");
        assert!(r["chunks"].as_u64().unwrap() >= 1, "{r}");
    }
    // The files are the bundled ones: the report says plainly it is no review.
    assert_eq!(v["demonstration_only"], true, "{}", v["verdict"]);
    assert!(
        v["verdict"]["reason"]
            .as_str()
            .unwrap()
            .contains("not a review"),
        "{}",
        v["verdict"]
    );
    // Both were verified against their store's digest and remembered.
    let verified =
        std::fs::read_to_string(repo.scratch().join(".cache/git-deep-review/verified.json"))
            .expect("verification recorded");
    assert!(
        verified.contains(&smol_sha) && verified.contains(&gemma_sha),
        "{verified}"
    );
}

#[test]
fn a_blob_that_does_not_match_its_digest_fails_with_exit_4_before_any_work() {
    let repo = python_repo();
    let models = common::models::dir();
    let smol_sha = sha256_file(&models.join(SMOL_FILE)).unwrap();
    // The manifest claims SmolLM2's digest; the blob holds other bytes.
    ollama_model(
        &repo.scratch().join(".ollama/models"),
        "smollm2",
        "135m",
        &models.join(GEMMA_FILE),
        &smol_sha,
    );
    configure(&repo, &[SMOL_REF], "");
    let report_dir = repo.path.join(".git/deep-review/reports");
    let out = offline(&repo, &["HEAD~1..HEAD"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("sha256 mismatch") && err.contains(SMOL_REF),
        "{err}"
    );
    assert!(
        !report_dir.exists() || std::fs::read_dir(&report_dir).unwrap().next().is_none(),
        "no report for a review that never ran"
    );
    // A reference to nothing says where it looked.
    configure(&repo, &["ollama:nosuch:7b"], "");
    let out = offline(&repo, &["HEAD~1..HEAD"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("nosuch") && err.contains(".ollama/models"),
        "{err}"
    );
}

#[test]
fn init_prefers_a_capable_store_model_and_falls_back_with_a_warning() {
    let repo = python_repo();
    // Only the bundled models: the demonstration fallback, said plainly.
    let mut c = repo.deep_review(&["init", "--stdout"]);
    TestRepo::with_models(&mut c);
    let out = c.output().unwrap();
    let toml = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(toml.contains("# warning: no capable model"), "{toml}");
    // A store with a code model (a header-only GGUF: init reads headers).
    let fake = repo.scratch().join("fake-coder.gguf");
    std::fs::write(
        &fake,
        git_deep_review::engine::gguf_meta::build_test_gguf(
            &[
                ("general.architecture", "qwen2"),
                ("tokenizer.chat_template", "<|im_start|>{{ m }}<|im_end|>"),
            ],
            &[],
            &[("t", 4096)],
        ),
    )
    .unwrap();
    let sha = sha256_file(&fake).unwrap();
    ollama_model(
        &repo.scratch().join(".ollama/models"),
        "qwen2.5-coder",
        "7b",
        &fake,
        &sha,
    );
    // The bundled file copied into a store is still a demonstration model.
    let models = common::models::dir();
    let smol_sha = sha256_file(&models.join(SMOL_FILE)).unwrap();
    ollama_model(
        &repo.scratch().join(".ollama/models"),
        "smollm2",
        "135m",
        &models.join(SMOL_FILE),
        &smol_sha,
    );
    let mut c = repo.deep_review(&["init"]);
    TestRepo::with_models(&mut c);
    let out = c.output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("ollama:qwen2.5-coder:7b") && err.contains("a code model"),
        "{err}"
    );
    let written = std::fs::read_to_string(repo.path.join(".deep-review.toml")).unwrap();
    let v: toml::Table = toml::from_str(&written).unwrap();
    let reviewers = v["reviewer"].as_array().unwrap();
    assert_eq!(reviewers.len(), 3);
    assert!(reviewers
        .iter()
        .all(|r| r["model"].as_str() == Some("ollama:qwen2.5-coder:7b")));
    // Never over an existing file without --force.
    let mut c = repo.deep_review(&["init"]);
    TestRepo::with_models(&mut c);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(repo.path.join(".deep-review.toml")).unwrap(),
        written
    );
}

/// A models directory with the bundled files and a user manifest entry
/// giving SmolLM2 a Qwen3-style thinking template.
fn thinking_models(scratch: &Path) -> PathBuf {
    let models = common::models::dir();
    let dir = scratch.join("think-models");
    for f in [SMOL_FILE, GEMMA_FILE] {
        place(&models.join(f), &dir.join(f));
    }
    let template = "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{%- endfor %}\
                    {%- if add_generation_prompt %}<|im_start|>assistant\n{%- if enable_thinking is false %}<think>\n\n</think>\n\n{%- endif %}{%- endif %}";
    std::fs::write(
        dir.join("manifest.toml"),
        format!(
            "[[model]]\nname = \"smol-think\"\nfile = \"{SMOL_FILE}\"\nchat_template = {}\nn_ctx = 4096\n",
            toml::Value::String(template.into())
        ),
    )
    .unwrap();
    dir
}

#[test]
fn a_reasoning_template_thinks_first_and_the_answer_still_parses() {
    let repo = python_repo();
    let dir = thinking_models(&repo.scratch());
    configure(&repo, &["smol-think"], "think_tokens = 6\n");
    let run = |args: &[&str]| {
        let mut c = repo.deep_review_offline(args);
        c.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
        c.output().unwrap()
    };
    let out = run(&["HEAD~1..HEAD", "--format", "json", "-o", "-"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let chunk = &v["appendix"][0]["chunks"][0];
    let thought = chunk["thinking_tokens"].as_u64().unwrap_or(0);
    assert!(
        (1..=6).contains(&thought),
        "thinking bounded by think_tokens: {chunk}"
    );
    assert!(
        chunk["error"].is_null(),
        "the answer after thinking parses: {chunk}"
    );
    let raw = chunk["raw"].as_str().unwrap();
    assert!(
        raw.trim_start().starts_with('{'),
        "the answer is the JSON, not the thinking: {raw}"
    );
    assert!(
        !raw.contains("<think>") && !raw.contains("</think>"),
        "{raw}"
    );
    // From the cache, the thinking is still in the Markdown appendix.
    let md = repo.scratch().join("r.md");
    let out = run(&["HEAD~1..HEAD", "-o", md.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = std::fs::read_to_string(&md).unwrap();
    assert!(
        report.contains(&format!("Thinking ({thought} tokens")),
        "{report}"
    );
    // think = "off" writes an empty block: no thinking at all.
    configure(&repo, &["smol-think"], "think = \"off\"\n");
    let out = run(&["HEAD~1..HEAD", "--format", "json", "-o", "-", "--no-cache"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["appendix"][0]["chunks"][0]
            .get("thinking_tokens")
            .is_none(),
        "{}",
        v["appendix"]
    );
}

#[test]
fn demonstration_models_say_their_review_is_no_review() {
    let repo = python_repo();
    configure(&repo, &["smollm2-135m"], "");
    let md = repo.scratch().join("r.md");
    let mut c =
        repo.deep_review_offline(&["HEAD~1..HEAD", "-o", md.to_str().unwrap(), "--no-cache"]);
    TestRepo::with_models(&mut c);
    let out = c.output().unwrap();
    let stdout = text(&out.stdout);
    // The exit code is unchanged (documented): a demonstration is not a block.
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("Demonstration models only: this is not a review"),
        "{stdout}"
    );
    let report = std::fs::read_to_string(&md).unwrap();
    let head: String = report.lines().take(4).collect::<Vec<_>>().join("\n");
    assert!(head.contains("This is not a review."), "{head}");
    assert!(
        report.contains("git deep-review init"),
        "says how to get a review"
    );
}

#[test]
fn a_template_llama_cpp_cannot_render_fails_before_any_work_naming_the_setting() {
    use git_deep_review::engine::manifest::{ChatTemplate, Manifest, ModelEntry};
    use git_deep_review::engine::{template, EngineOptions, LlamaBackend};
    let models = common::models::dir();
    let smol = models.join(SMOL_FILE);
    // What `models` says (our recognition) must be what llama.cpp does.
    let cases: [(&str, bool); 9] = [
        ("chatml", true),
        (
            "{{ '<|start_header_id|>' + role + '<|end_header_id|>' }}",
            true,
        ),
        ("{{ '<start_of_turn>' + role }}", true),
        (
            "[SYSTEM_PROMPT]{{ s }}[/SYSTEM_PROMPT][INST]{{ u }}[/INST]",
            true,
        ),
        (
            "{{'<｜User｜>' + c}}{{'<｜Assistant｜>'}}{{'<｜end▁of▁sentence｜>'}}",
            true,
        ),
        ("{{ '<|start|>' + role + '<|channel|>' }}", true),
        ("<|im_start|>{{ m }}<|im_end|><think>", true),
        (
            "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}",
            false,
        ),
        ("nonsense-template-name", false),
    ];
    let entries: Vec<ModelEntry> = cases
        .iter()
        .enumerate()
        .map(|(i, (t, _))| ModelEntry {
            name: format!("t{i}"),
            file: smol.display().to_string(),
            sha256: String::new(),
            size: 0,
            source: String::new(),
            license: String::new(),
            chat_template: ChatTemplate::Named(t.to_string()),
            n_ctx: 1024,
            demonstration: true,
            remote: None,
        })
        .collect();
    let manifest = Manifest {
        models: entries,
        dir: models.clone(),
        rejected: Vec::new(),
    };
    let mut l = LlamaBackend::with_manifest(manifest, EngineOptions::default()).unwrap();
    for (i, (t, ok)) in cases.iter().enumerate() {
        assert_eq!(
            template::family(t).is_some(),
            *ok,
            "our recognition of {t:?}"
        );
        let r = l.load(&format!("t{i}"));
        assert_eq!(r.is_ok(), *ok, "llama.cpp on {t:?}: {r:?}");
        if let Err(e) = r {
            let msg = e.to_string();
            assert!(
                msg.contains("chat_template") && msg.contains("chatml"),
                "{msg}"
            );
        }
    }
    // Through the binary: exit 4 before any review work, no report.
    let repo = python_repo();
    let dir = repo.scratch().join("bad-template-models");
    place(&smol, &dir.join(SMOL_FILE));
    std::fs::write(
        dir.join("manifest.toml"),
        format!(
            "[[model]]\nname = \"odd\"\nfile = \"{SMOL_FILE}\"\nchat_template = \"{{{{ messages }}}}\"\n"
        ),
    )
    .unwrap();
    configure(&repo, &["odd"], "");
    let mut c = repo.deep_review_offline(&["HEAD~1..HEAD"]);
    c.env("GIT_DEEP_REVIEW_MODELS_DIR", &dir);
    let out = c.output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("does not recognise its chat template") && err.contains("chat_template"),
        "{err}"
    );
    assert!(
        !repo.path.join(".git/deep-review/reports").exists(),
        "no report"
    );
}

#[test]
fn dash_dash_model_runs_every_reviewer_on_a_store_reference() {
    let repo = python_repo();
    lay_out_stores(&repo.scratch());
    configure(&repo, &["smollm2-135m", "gemma3-270m"], "");
    let mut c = repo.deep_review_offline(&[
        "HEAD~1..HEAD",
        "--model",
        SMOL_REF,
        "--format",
        "json",
        "-o",
        "-",
        "--no-cache",
    ]);
    TestRepo::with_models(&mut c);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let models = reviewer_models(&v);
    assert_eq!(models, [SMOL_REF, SMOL_REF]);
    let mut c = repo.deep_review(&["HEAD~1..HEAD", "--model", "no-such-model", "--plan"]);
    TestRepo::with_models(&mut c);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
