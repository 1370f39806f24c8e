//! Bad model files through the real engine: each must be a clear
//! `Error::Model`, never a crash. Files are crafted in temp dirs; only the
//! `models` listing test reads the bundled models.

use std::path::Path;

use git_deep_review::engine::gguf_meta::build_test_gguf;
use git_deep_review::engine::manifest::{load_manifest_from, Manifest};
use git_deep_review::engine::{
    list_models_of, Backend, EngineOptions, LlamaBackend, Prompt, Request, Sampling,
};
use git_deep_review::Error;

mod common;

fn manifest_with(dir: &Path, entry: &str) -> Manifest {
    std::fs::write(dir.join("manifest.toml"), entry).unwrap();
    load_manifest_from(dir).unwrap()
}

fn run(m: Manifest, model: &str) -> Error {
    let mut e = LlamaBackend::with_manifest(m, EngineOptions::default()).unwrap();
    let req = Request {
        prompt: Prompt {
            system: String::new(),
            user: "hi".into(),
        },
        sampling: Sampling::default(),
        grammar: String::new(),
        schema: None,
    };
    let mut out = e.generate(model, &[req.clone(), req]);
    assert_eq!(
        out.len(),
        2,
        "one result per request even when the model fails"
    );
    assert!(out[1].is_err());
    let err = out.remove(0).unwrap_err();
    assert!(matches!(err, Error::Model(_)), "{err:?}");
    assert_eq!(err.exit_code(), git_deep_review::error::EXIT_MODEL);
    err
}

#[test]
fn missing_model_file_says_where_and_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_with(
        dir.path(),
        "[[model]]\nname = \"m\"\nfile = \"absent.gguf\"\n",
    );
    let msg = run(m, "m").to_string();
    assert!(
        msg.contains(&dir.path().join("absent.gguf").display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains("install.sh") && msg.contains("--models-from"),
        "{msg}"
    );
}

#[test]
fn unknown_model_name_lists_the_configured_ones() {
    let dir = tempfile::tempdir().unwrap();
    let m = load_manifest_from(dir.path()).unwrap();
    let msg = run(m, "no-such-model").to_string();
    assert!(
        msg.contains("smollm2-135m") && msg.contains("gemma3-270m"),
        "{msg}"
    );
}

#[test]
fn hash_mismatch_names_the_file_and_both_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let g = build_test_gguf(&[("general.architecture", "llama")], &[], &[("t", 8)]);
    std::fs::write(dir.path().join("x.gguf"), &g).unwrap();
    let want = "0".repeat(64);
    let m = manifest_with(
        dir.path(),
        &format!(
            "[[model]]\nname = \"m\"\nfile = \"x.gguf\"\nsha256 = \"{want}\"\nsize = {}\n",
            g.len()
        ),
    );
    let msg = run(m, "m").to_string();
    let actual = git_deep_review::engine::verify::sha256_file(&dir.path().join("x.gguf")).unwrap();
    assert!(
        msg.contains(&want) && msg.contains(&actual) && msg.contains("x.gguf"),
        "{msg}"
    );
}

#[test]
fn truncated_and_garbage_gguf_are_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let g = build_test_gguf(
        &[("general.architecture", "llama")],
        &[("llama.context_length", 128)],
        &[("token_embd.weight", 4096)],
    );
    // Cut inside the tensor data: the header is complete, the data is not.
    std::fs::write(dir.path().join("cut.gguf"), &g[..g.len() - 100]).unwrap();
    let mut garbage = b"GGUF\x03\x00\x00\x00".to_vec();
    garbage.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(dir.path().join("garbage.gguf"), &garbage).unwrap();
    std::fs::write(dir.path().join("empty.gguf"), b"").unwrap();
    let m = manifest_with(
        dir.path(),
        "[[model]]\nname = \"cut\"\nfile = \"cut.gguf\"\n\
         [[model]]\nname = \"garbage\"\nfile = \"garbage.gguf\"\n\
         [[model]]\nname = \"empty\"\nfile = \"empty.gguf\"\n",
    );
    let msg = run(m.clone(), "cut").to_string();
    assert!(
        msg.contains("truncated") && msg.contains("cut.gguf"),
        "{msg}"
    );
    assert!(run(m.clone(), "garbage")
        .to_string()
        .contains("garbage.gguf"));
    assert!(run(m, "empty").to_string().contains("empty.gguf"));
}

#[test]
fn unsupported_architecture_is_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let g = build_test_gguf(
        &[
            ("general.architecture", "bogus-arch-9000"),
            ("general.name", "bogus"),
        ],
        &[("bogus-arch-9000.context_length", 128)],
        &[("token_embd.weight", 4096), ("output.weight", 4096)],
    );
    std::fs::write(dir.path().join("bogus.gguf"), &g).unwrap();
    let m = manifest_with(
        dir.path(),
        "[[model]]\nname = \"bogus\"\nfile = \"bogus.gguf\"\n",
    );
    let msg = run(m, "bogus").to_string();
    assert!(
        msg.contains("bogus-arch-9000") && msg.contains("unsupported"),
        "{msg}"
    );
}

#[test]
fn models_listing_reads_gguf_metadata() {
    let m = load_manifest_from(&common::models::dir()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    list_models_of(&m, &cache.path().join("v.json"), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for want in [
        "smollm2-135m",
        "Q4_1",
        "llama",
        "gemma3-270m",
        "Q4_K_M",
        "gemma3",
        "trained context 8192",
        "trained context 32768",
        "chat template: chatml (from the file)",
        "gemma (manifest override)",
        "verified: not yet",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // After a verification the listing says so.
    let e = m.get("smollm2-135m").unwrap();
    git_deep_review::engine::verify::verify_model_with_cache(
        e,
        &m.path_of(e),
        &cache.path().join("v.json"),
    )
    .unwrap();
    let mut out = Vec::new();
    list_models_of(&m, &cache.path().join("v.json"), &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("verified: yes"));

    // A listing with a missing file explains how to fetch it.
    let empty = tempfile::tempdir().unwrap();
    let m = load_manifest_from(empty.path()).unwrap();
    let mut out = Vec::new();
    list_models_of(&m, &cache.path().join("v.json"), &mut out).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("missing: run ./install.sh"));
}
