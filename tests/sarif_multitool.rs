//! `--format sarif` as code scanning needs it: the SARIF Multitool
//! (npm @microsoft/sarif-multitool, installed by `./install.sh --test` into
//! tests/tools/node) validates the real binary's output with the SARIF and
//! GitHub rule sets (`validate --rule-kind "Sarif;Gh"`) without an error or
//! a warning, for a review by the real engine on the bundled models and for
//! a stand-in review with findings of every severity on hostile file names;
//! and `partialFingerprints` keep a finding's identity when lines move.

mod common;

use common::repo::TestRepo;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The Multitool's own executable (the npm package's `bin` wrapper passes
/// its arguments through a shell, which splits `Sarif;Gh`).
fn multitool() -> PathBuf {
    let exe = Path::new(ROOT)
        .join("tests/tools/node/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool");
    assert!(
        exe.is_file(),
        "{} is missing: run ./install.sh --test (it installs @microsoft/sarif-multitool)",
        exe.display()
    );
    exe
}

/// What the Multitool reports about `sarif` at level error or warning:
/// `(rule id, level, message arguments)`. Read from its own SARIF log (its
/// exit code is 0 whatever it finds).
fn problems(sarif: &Path) -> Vec<(String, String, String)> {
    let log = sarif.with_extension("validation.sarif");
    let _ = std::fs::remove_file(&log);
    let out = Command::new(multitool())
        .args([
            "validate",
            "--rule-kind",
            "Sarif;Gh",
            "--level",
            "Error;Warning",
            "-o",
        ])
        .arg(&log)
        .arg(sarif)
        // The .NET runtime would otherwise look for ICU libraries.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap();
    assert!(
        log.is_file(),
        "the Multitool wrote no log: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    let run = &v["runs"][0];
    assert_eq!(
        run["invocations"][0]["executionSuccessful"], true,
        "the Multitool failed: {run}"
    );
    run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap_or("").to_string(),
                // SARIF's default level is "warning".
                r["level"].as_str().unwrap_or("warning").to_string(),
                r["message"]["arguments"].to_string(),
            )
        })
        .filter(|(_, level, _)| level == "error" || level == "warning")
        .collect()
}

fn sarif_of(r: &TestRepo, range: &str, models: bool) -> (PathBuf, Value) {
    let path = r
        .scratch()
        .join(format!("r-{}.sarif", range.replace(['.', '~', '/'], "_")));
    let mut cmd = r.deep_review_offline(&[
        range,
        "--format",
        "sarif",
        "--quiet",
        "-o",
        path.to_str().unwrap(),
    ]);
    if models {
        TestRepo::with_models(&mut cmd);
    }
    let out = cmd
        .output()
        .expect("unshare runs (root or user namespaces are needed for the offline proof)");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, v)
}

const STANDIN: &str = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 7\n";

fn standin_repo() -> TestRepo {
    let r = TestRepo::new();
    r.commit_files("base", &[("README.md", "hello\n")]);
    r.write(".deep-review.toml", STANDIN);
    r.write(".git/info/exclude", ".deep-review.toml\n");
    r
}

#[test]
fn a_real_engine_review_passes_the_multitool() {
    // The bundled models review a change; a planted stand-in reviewer makes
    // sure there are findings whatever the tiny model says.
    let r = TestRepo::new();
    r.commit_files(
        "base",
        &[("stats.py", "def total(xs):\n    return sum(xs)\n")],
    );
    r.write(
        "stats.py",
        "def total(xs):\n    return sum(xs)\n\n\ndef average(xs):\n    return total(xs) / len(xs)\n\n\ndef last(xs):\n    return xs[-1]  # DEEP-REVIEW-PLANT:important\n",
    );
    r.commit("Add average() and last()");
    r.write(
        ".deep-review.toml",
        "[[reviewer]]\nname = \"real\"\nmodel = \"smollm2-135m\"\nprompt = \"correctness.md\"\nmax_tokens = 256\n\n[[reviewer]]\nname = \"planted\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\n",
    );
    r.command(&[
        "remote",
        "add",
        "origin",
        "git@git.example.com:team/app.git",
    ])
    .output()
    .unwrap();
    let (path, v) = sarif_of(&r, "HEAD~1..HEAD", true);
    let run = &v["runs"][0];
    assert!(!run["results"].as_array().unwrap().is_empty(), "{run}");
    assert_eq!(
        run["versionControlProvenance"][0]["repositoryUri"],
        "ssh://git.example.com/team/app.git"
    );
    let p = problems(&path);
    assert!(p.is_empty(), "the Multitool found: {p:#?}");
}

#[test]
fn many_findings_on_hostile_names_pass_the_multitool() {
    let r = standin_repo();
    for (i, name) in [
        "<img src=x onerror=alert(1)>.py",
        "dir/a b#c%.py",
        "q?x.py",
        "ünï/cödé.py",
        "tab\there.py",
        "quote\"and'.py",
    ]
    .iter()
    .enumerate()
    {
        r.write(
            name,
            format!(
                "a{i} = 1  # DEEP-REVIEW-PLANT:critical\nb{i} = 2  # DEEP-REVIEW-PLANT:important\nc{i} = 3  # DEEP-REVIEW-PLANT:suggestion\n"
            ),
        );
    }
    r.commit("hostile names");
    r.command(&[
        "remote",
        "add",
        "origin",
        "https://ci-bot:hunter2@git.example.com/team/app.git?private_token=glpat-1#x",
    ])
    .output()
    .unwrap();
    let (path, v) = sarif_of(&r, "HEAD~1..HEAD", false);
    let run = &v["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 18, "{run}");
    let levels: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|x| x["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels.len(), 3, "every severity: {levels:?}");
    let text = v.to_string();
    for secret in ["hunter2", "ci-bot", "glpat", "private_token"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    assert_eq!(
        run["versionControlProvenance"][0]["repositoryUri"],
        "https://git.example.com/team/app.git"
    );
    let p = problems(&path);
    assert!(p.is_empty(), "the Multitool found: {p:#?}");
}

#[test]
fn the_multitool_check_catches_what_github_rejects() {
    // The log of a real run with the rules' help taken out, as before this
    // check existed: the Multitool must say GH2012, or the checks above
    // would pass on anything.
    let r = standin_repo();
    r.write("a.py", "x = 1  # DEEP-REVIEW-PLANT:critical\n");
    r.commit("one finding");
    let (path, mut v) = sarif_of(&r, "HEAD~1..HEAD", false);
    assert!(problems(&path).is_empty());
    for rule in v["runs"][0]["tool"]["driver"]["rules"]
        .as_array_mut()
        .unwrap()
    {
        let o = rule.as_object_mut().unwrap();
        o.remove("fullDescription");
        o.remove("help");
    }
    v["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .unwrap()
        .remove("informationUri");
    let old = r.scratch().join("old.sarif");
    std::fs::write(&old, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let p = problems(&old);
    assert!(
        p.iter().any(|(id, l, _)| id == "GH2012" && l == "error"),
        "{p:#?}"
    );
    assert!(
        p.iter()
            .any(|(id, l, _)| id == "SARIF2005" && l == "warning"),
        "{p:#?}"
    );
}

/// `(fingerprint, startLine)` of each result, by the finding's line text.
fn prints(v: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["partialFingerprints"]["deepReviewFinding/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn fingerprints_survive_lines_added_above_a_finding() {
    let r = standin_repo();
    let planted = "def first(xs):\n    return xs[0]  # DEEP-REVIEW-PLANT:critical\n";
    let other = "def last(xs):\n    return xs[-1]  # DEEP-REVIEW-PLANT:suggestion\n";
    r.write("app.py", format!("{planted}\n{other}"));
    r.commit("first version");
    let (_, v1) = sarif_of(&r, "HEAD~1..HEAD", false);
    // The same change, with lines added above both findings.
    r.write(
        "app.py",
        format!("import os\nimport sys\n\n\nX = 1\n\n{planted}\n{other}"),
    );
    r.commit("lines above");
    let (_, v2) = sarif_of(&r, "HEAD~2..HEAD", false);
    let (a, b) = (prints(&v1), prints(&v2));
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(b.len(), 2, "{b:?}");
    let fa: Vec<&str> = a.iter().map(|x| x.0.as_str()).collect();
    let fb: Vec<&str> = b.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(fa, fb, "same findings, same fingerprints");
    assert_ne!(fa[0], fa[1], "different findings differ");
    let la: Vec<u64> = a.iter().map(|x| x.1).collect();
    let lb: Vec<u64> = b.iter().map(|x| x.1).collect();
    assert!(
        la.iter().zip(&lb).all(|(x, y)| y == &(x + 6)),
        "{la:?} {lb:?}"
    );
    // The category is stable; the run id follows it.
    for v in [&v1, &v2] {
        let id = v["runs"][0]["automationDetails"]["id"].as_str().unwrap();
        assert_eq!(id.rsplit_once('/').unwrap().0, "deep-review", "{id}");
    }
}
