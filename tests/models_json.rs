//! `git deep-review models --format json` and `models --path MODEL`, the
//! listing scripts (benches, tests) read instead of parsing manifest.toml:
//! through the real binary, on the bundled models, a fake Ollama store in
//! the test's HOME, and a models directory with no manifest.toml (a fresh
//! install). Nothing here loads a model.

mod common;

use common::models::{GEMMA_FILE, SMOL_FILE};
use common::repo::TestRepo;
use common::stores::{ollama_model, place};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SMOL_REF: &str = "ollama:smollm2:135m";
/// The bundled SmolLM2's sha256 (models/manifest.toml): the Ollama blob's name.
const SMOL_SHA: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run git-deep-review")
}

/// `models --format json` (must succeed), parsed.
fn json(cmd: &mut Command) -> Value {
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&out.stdout)))
}

/// `models --path MODEL` (must succeed): the one line it prints.
fn path_of(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
    stdout.trim_end_matches('\n').to_string()
}

/// The listed model named `name`.
fn model<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["models"]
        .as_array()
        .expect("a models array")
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed in {list:#}"))
}

/// An Ollama store under `home` with `smollm2:135m` whose model layer is
/// the bundled SmolLM2; returns the blob's path.
fn ollama_store(home: &Path) -> PathBuf {
    let src = common::models::dir().join(SMOL_FILE);
    let root = home.join(".ollama/models");
    ollama_model(&root, "smollm2", "135m", &src, SMOL_SHA);
    root.join("blobs").join(format!("sha256-{SMOL_SHA}"))
}

#[test]
fn json_lists_the_manifest_models_with_their_files_and_header_facts() {
    let repo = TestRepo::new();
    let dir = common::models::dir();
    let list = json(TestRepo::with_models(
        &mut repo.deep_review(&["models", "--format", "json"]),
    ));
    assert_eq!(list["version"], 1, "{list:#}");
    assert_eq!(list["models_dir"], dir.display().to_string());
    for (name, file, arch, family) in [
        ("smollm2-135m", SMOL_FILE, "llama", "chatml"),
        ("gemma3-270m", GEMMA_FILE, "gemma3", "gemma"),
    ] {
        let m = model(&list, name);
        assert_eq!(m["store"], "manifest", "{m:#}");
        let path = m["path"].as_str().expect("a path");
        assert!(Path::new(path).is_absolute(), "{path}");
        assert!(Path::new(path).is_file(), "{path} exists");
        assert_eq!(Path::new(path), dir.join(file));
        assert_eq!(m["present"], true);
        assert_eq!(
            m["size"].as_u64(),
            Some(std::fs::metadata(path).unwrap().len())
        );
        assert_eq!(m["sha256"].as_str().map(str::len), Some(64), "{m:#}");
        assert_eq!(m["architecture"], arch);
        assert!(m["parameters"].as_u64().unwrap() > 100_000_000, "{m:#}");
        assert!(m["trained_context"].as_u64().unwrap() >= 4096, "{m:#}");
        assert_eq!(m["n_ctx"], 4096);
        assert_eq!(m["chat_template"]["family"], family, "{m:#}");
        assert_eq!(m["chat_template"]["known"], true);
        assert_eq!(m["demonstration"], true);
        assert_eq!(m["usable"], true);
        assert!(m["unusable_reason"].is_null());
        assert!(m["server"].is_null());
    }
    // `models list --format json` is the same document.
    let again = json(TestRepo::with_models(
        &mut repo.deep_review(&["models", "list", "--format", "json"]),
    ));
    assert_eq!(again, list);
    // Metadata only: nothing was hashed (no verification was recorded).
    assert!(
        !repo
            .scratch()
            .join(".cache/git-deep-review/verified.json")
            .exists(),
        "listing hashed a file"
    );
    assert_eq!(model(&list, "smollm2-135m")["verified"], "not_yet");
}

#[test]
fn json_lists_an_ollama_model_with_its_blob_path_and_store() {
    let repo = TestRepo::new();
    let blob = ollama_store(&repo.scratch());
    let list = json(TestRepo::with_models(
        &mut repo.deep_review(&["models", "--format", "json"]),
    ));
    let m = model(&list, SMOL_REF);
    assert_eq!(m["store"], "ollama", "{m:#}");
    assert_eq!(m["path"], blob.display().to_string());
    assert_eq!(
        m["store_dir"],
        repo.scratch().join(".ollama/models").display().to_string()
    );
    assert_eq!(m["sha256"], SMOL_SHA);
    assert_eq!(m["size"].as_u64(), Some(blob.metadata().unwrap().len()));
    assert_eq!(m["architecture"], "llama");
    assert_eq!(m["chat_template"]["family"], "chatml");
    assert_eq!(m["usable"], true);
    assert_eq!(
        m["demonstration"], true,
        "the bundled file in a store is still a demonstration model"
    );
    assert!(m["n_ctx"].is_null() && m["source"].is_null(), "{m:#}");
    let stores = list["stores"].as_array().unwrap();
    assert!(
        stores.iter().any(|s| s["store"] == "ollama"
            && s["dir"] == m["store_dir"]
            && s["problems"].as_array().is_some_and(|p| p.is_empty())),
        "{stores:#?}"
    );
}

#[test]
fn path_resolves_names_references_and_files_to_the_listed_files() {
    let repo = TestRepo::new();
    ollama_store(&repo.scratch());
    let list = json(TestRepo::with_models(
        &mut repo.deep_review(&["models", "--format", "json"]),
    ));
    for name in ["smollm2-135m", "gemma3-270m", SMOL_REF] {
        let printed = path_of(TestRepo::with_models(
            &mut repo.deep_review(&["models", "--path", name]),
        ));
        assert_eq!(printed, model(&list, name)["path"], "{name}");
    }
    // A GGUF path, relative to the repository's top directory as in a
    // review, also from a subdirectory; printed absolute.
    let smol = common::models::dir().join(SMOL_FILE);
    place(&smol, &repo.path.join("m/x.gguf"));
    std::fs::create_dir_all(repo.path.join("sub")).unwrap();
    let want = std::fs::canonicalize(repo.path.join("m/x.gguf")).unwrap();
    for (cwd, arg) in [
        (repo.path.clone(), "m/x.gguf"),
        (repo.path.clone(), "./m/x.gguf"),
        (repo.path.join("sub"), "m/x.gguf"),
    ] {
        let mut cmd = repo.deep_review(&["models", "--path", arg]);
        let printed = path_of(TestRepo::with_models(&mut cmd).current_dir(&cwd));
        assert!(Path::new(&printed).is_absolute(), "{printed}");
        assert_eq!(
            std::fs::canonicalize(&printed).unwrap(),
            want,
            "{arg} from {}",
            cwd.display()
        );
    }
    // `--path` prints a path, not a document.
    let out = run(&mut repo.deep_review(&["models", "--path", "smollm2-135m", "--format", "json"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn an_unresolvable_model_exits_4_naming_it() {
    let repo = TestRepo::new();
    for (name, says) in [
        ("no-such-model", "no model named `no-such-model`"),
        ("ollama:no-such-model:7b", "ollama:no-such-model"),
        ("/nowhere/at/all.gguf", "/nowhere/at/all.gguf"),
        ("http://127.0.0.1:9/v1", "inference server"),
    ] {
        let out = run(TestRepo::with_models(
            &mut repo.deep_review(&["models", "--path", name]),
        ));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{name}: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
    }
}

#[test]
fn both_work_with_no_manifest_toml_in_the_models_directory() {
    // A fresh install: the model files, and no manifest.toml beside them
    // (the binary carries the built-in one).
    let repo = TestRepo::new();
    let fresh = repo.scratch().join("fresh-models");
    for f in [SMOL_FILE, GEMMA_FILE] {
        place(&common::models::dir().join(f), &fresh.join(f));
    }
    assert!(!fresh.join("manifest.toml").exists());
    let with_fresh = |args: &[&str]| {
        let mut cmd = repo.deep_review(args);
        cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &fresh);
        cmd
    };
    let list = json(&mut with_fresh(&["models", "--format", "json"]));
    assert_eq!(list["version"], 1);
    assert_eq!(list["manifest_exists"], false, "{list:#}");
    assert_eq!(
        list["manifest"],
        fresh.join("manifest.toml").display().to_string()
    );
    for (name, file) in [("smollm2-135m", SMOL_FILE), ("gemma3-270m", GEMMA_FILE)] {
        let m = model(&list, name);
        assert_eq!(m["path"], fresh.join(file).display().to_string());
        assert_eq!(
            (&m["present"], &m["usable"]),
            (&Value::Bool(true), &Value::Bool(true))
        );
        let printed = path_of(&mut with_fresh(&["models", "--path", name]));
        assert_eq!(printed, fresh.join(file).display().to_string());
    }
    let out = run(&mut with_fresh(&["models"]));
    assert!(out.status.success(), "{}", text(&out.stderr));

    // No files at all (the test's empty models directory): still a list,
    // each model saying it is missing; `--path` fails with exit 4 saying how
    // to fetch it.
    let list = json(&mut repo.deep_review(&["models", "--format", "json"]));
    let m = model(&list, "smollm2-135m");
    assert_eq!(
        (&m["present"], &m["usable"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    assert!(
        m["unusable_reason"]
            .as_str()
            .unwrap()
            .starts_with("missing"),
        "{m:#}"
    );
    let out = run(&mut repo.deep_review(&["models", "--path", "smollm2-135m"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("smollm2-135m") && stderr.contains("fetch.sh"),
        "{stderr}"
    );
}
