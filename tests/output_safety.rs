//! Reports are never lost or written where they should not be, findings on
//! odd file names are kept, and nothing from the repository drives the
//! terminal: the real binary on throw-away repositories, reviewed by the
//! stand-in reviewer `standin:marker` (a finding on every added line that
//! carries `DEEP-REVIEW-PLANT:<severity>`), so the tests are fast and do not
//! depend on a tiny model's judgement.

mod common;

use common::repo::succeeded as ok;
use common::repo::TestRepo;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_git-deep-review");

/// Two stand-in reviewers and no lead model (its prose is not under test,
/// and a real model would make every run take seconds).
const STANDIN_CONFIG: &str = "[review]\nlead = \"none\"\n\n[[reviewer]]\nname = \"first\"\nmodel = \"standin:marker\"\nprompt = \"correctness.md\"\n\n[[reviewer]]\nname = \"second\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 7\n";

/// A repository with a base commit and the stand-in reviewers configured
/// (the configuration file is not part of any reviewed change).
fn repo() -> TestRepo {
    let r = TestRepo::new();
    r.commit_files("base", &[("README.md", "hello\n")]);
    r.write(".deep-review.toml", STANDIN_CONFIG);
    r.write(".git/info/exclude", ".deep-review.toml\n");
    r
}

/// The binary, run in the repository with the shared clean environment
/// (stand-in reviewers need no model files).
fn command(r: &TestRepo, args: &[&str]) -> Command {
    r.deep_review(args)
}

fn run(r: &TestRepo, args: &[&str]) -> Output {
    command(r, args).output().unwrap()
}

/// The `Report: <path>` line of a run's summary.
fn report_path(out: &Output) -> PathBuf {
    let text = ok(out);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Report: "))
        .unwrap_or_else(|| panic!("no report path in: {text}"));
    PathBuf::from(line)
}

fn reports_dir(r: &TestRepo) -> PathBuf {
    r.path.join(".git/deep-review/reports")
}

fn json_report(r: &TestRepo, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["HEAD~1..HEAD", "--format", "json", "-o", "-"];
    args.extend_from_slice(extra);
    let out = run(r, &args);
    ok(&out);
    serde_json::from_slice(&out.stdout).expect("stdout is the JSON report")
}

fn finding_files(report: &serde_json::Value) -> Vec<String> {
    let mut files: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_string())
        .collect();
    files.sort();
    files
}

// ---------------------------------------------------------------------------
// Report names

#[test]
fn two_runs_in_the_same_second_both_keep_their_reports() {
    let r = repo();
    let head = r.commit_files("change", &[("src/a.py", "x = 1\n")]);
    let mut runs = 0;
    for _attempt in 0..10 {
        // Two runs at once: they start in the same second but for a
        // second boundary falling between them (then try again).
        let children: Vec<_> = (0..2)
            .map(|_| {
                command(&r, &["HEAD~1..HEAD", "--color", "never"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        runs += 2;
        let paths: Vec<PathBuf> = outs.iter().map(report_path).collect();
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // Every run so far still has its own report.
        // (Each Markdown report has its JSON record beside it.)
        let kept = std::fs::read_dir(reports_dir(&r))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "md")
            })
            .count();
        assert_eq!(
            kept, runs,
            "reports kept: {kept} of {runs} runs ({names:?})"
        );
        for name in &names {
            assert!(
                name.contains(&head[..7]),
                "the head's short id is in {name}"
            );
        }
        if names[0][..15] == names[1][..15] {
            assert_ne!(paths[0], paths[1], "same second, same name: {names:?}");
            for p in &paths {
                let text = std::fs::read_to_string(p).unwrap();
                assert!(text.starts_with("# Deep Review"), "{}", p.display());
            }
            return;
        }
    }
    panic!("no two runs started in the same second in 10 attempts");
}

// ---------------------------------------------------------------------------
// -o onto links, FIFOs, stdout and existing files

fn reviewed_repo() -> TestRepo {
    let r = repo();
    r.commit_files("change", &[("src/a.py", "x = 1\n")]);
    r
}

#[test]
fn output_onto_a_symlink_writes_through_and_the_link_stays() {
    let r = reviewed_repo();
    let dir = r.scratch().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("real.md");
    std::fs::write(&target, "old").unwrap();
    let link = dir.join("link.md");
    std::os::unix::fs::symlink("real.md", &link).unwrap();
    ok(&run(&r, &["HEAD~1..HEAD", "-o", link.to_str().unwrap()]));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is still a link"
    );
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.starts_with("# Deep Review"), "{text}");
}

#[test]
fn output_onto_a_fifo_writes_into_it() {
    let r = reviewed_repo();
    let fifo = r.scratch().join("report.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    ok(&run(&r, &["HEAD~1..HEAD", "-o", fifo.to_str().unwrap()]));
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the FIFO is still a FIFO"
    );
    let text = reader.join().unwrap();
    assert!(text.starts_with("# Deep Review"), "{text}");
}

fn assert_json_on_stdout(out: &Output) {
    ok(out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is only the report ({e}): {:?}", out.stdout));
    assert_eq!(v["schema_version"], 1);
}

#[test]
fn output_onto_dev_stdout_reaches_stdout() {
    let r = reviewed_repo();
    let out = run(
        &r,
        &["HEAD~1..HEAD", "--format", "json", "-o", "/dev/stdout"],
    );
    assert_json_on_stdout(&out);
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn output_onto_a_link_to_stdout_reaches_stdout() {
    let r = reviewed_repo();
    let link = r.scratch().join("to-stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let out = run(
        &r,
        &[
            "HEAD~1..HEAD",
            "--format",
            "json",
            "-o",
            link.to_str().unwrap(),
        ],
    );
    assert_json_on_stdout(&out);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn output_onto_an_existing_file_keeps_its_mode_and_a_new_file_follows_the_umask() {
    let r = reviewed_repo();
    let existing = r.scratch().join("existing.md");
    std::fs::write(&existing, "old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o664)).unwrap();
    ok(&run(
        &r,
        &["HEAD~1..HEAD", "-o", existing.to_str().unwrap()],
    ));
    assert_eq!(mode(&existing), 0o664);
    assert!(std::fs::read_to_string(&existing)
        .unwrap()
        .starts_with("# Deep Review"));

    // A new file gets the mode any program would give it under umask 002.
    let new = r.scratch().join("new.md");
    let isolated = command(&r, &[]);
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 002; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(["HEAD~1..HEAD", "-o", new.to_str().unwrap()])
        .current_dir(&r.path)
        .env_clear()
        .envs(isolated.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(mode(&new), 0o664);
}

// ---------------------------------------------------------------------------
// Findings on odd names and lines; text that reaches the terminal

const PLANT: &str = "x = 1  # DEEP-REVIEW-PLANT:critical\n";

#[test]
fn findings_on_names_with_tab_escape_or_newline_and_on_lines_with_esc_are_kept() {
    let r = repo();
    let names = ["tab\there.py", "esc\u{1b}[31mred.py", "new\nline.py"];
    for name in names {
        r.write(name, PLANT);
    }
    r.write(
        "quote.py",
        "print(\"\u{1b}[31mred\u{1b}[0m\")  # DEEP-REVIEW-PLANT:critical\n",
    );
    r.commit("odd names");
    let report = json_report(&r, &[]);
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.push("quote.py".into());
    want.sort();
    assert_eq!(finding_files(&report), want, "{report:#}");
    for retro in report["retro"].as_array().unwrap() {
        assert_eq!(retro["ungrounded"], 0, "{retro}");
    }
}

/// Whether `text` holds anything that drives a terminal.
fn has_control(text: &str) -> bool {
    // `is_control` covers C0, DEL and the C1 range (U+0080–U+009F).
    text.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

#[test]
fn plan_and_summary_escape_control_characters_from_the_repository() {
    let r = repo();
    let names = [
        "title\u{1b}]0;pwned\u{7}.py",
        "link\u{1b}]8;;https:e.vil\u{1b}\\x\u{1b}]8;;\u{1b}\\.py",
        "clear\u{1b}[2J\u{1b}[H.py",
        "two\nlines.py",
    ];
    for name in names {
        r.write(name, PLANT);
    }
    r.commit("colour \u{1b}[31mred\u{1b}[0m and title \u{1b}]0;owned\u{7}");

    let out = run(&r, &["HEAD~1..HEAD", "--plan"]);
    let plan = ok(&out);
    assert!(!has_control(&plan), "{plan:?}");
    assert!(plan.contains("colour \\u{1b}[31mred"), "{plan}");
    assert!(plan.contains("title\\u{1b}]0;pwned\\u{7}.py"), "{plan}");
    // Each file on a line of its own.
    assert!(
        plan.lines()
            .any(|l| l.trim_start().starts_with("two\\nlines.py")),
        "{plan}"
    );

    let out = run(&r, &["HEAD~1..HEAD", "--color", "never"]);
    let summary = ok(&out);
    assert!(!has_control(&summary), "{summary:?}");
    assert!(
        summary.contains("clear\\u{1b}[2J\\u{1b}[H.py:1"),
        "{summary}"
    );
    assert!(summary.contains("two\\nlines.py:1"), "{summary}");
    let md = std::fs::read_to_string(report_path(&out)).unwrap();
    assert!(!has_control(&md), "the Markdown report too");
}

#[test]
fn sarif_uris_are_percent_encoded() {
    let r = repo();
    r.write("dir/a#b c%.py", PLANT);
    r.write("q?x.py", PLANT);
    r.commit("odd names");
    let out = run(&r, &["HEAD~1..HEAD", "--format", "sarif", "-o", "-"]);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut uris: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|res| {
            res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    uris.sort();
    assert_eq!(uris, ["dir/a%23b%20c%25.py", "q%3Fx.py"]);
}

// ---------------------------------------------------------------------------
// A very long line

#[test]
fn a_very_long_line_does_not_hide_the_rest_of_its_hunk() {
    let r = repo();
    let long = format!("BLOB = \"{}\"", "A".repeat(7000));
    r.write(
        "app.py",
        format!("{long}\nimport os\nos.system(input())  # DEEP-REVIEW-PLANT:critical\n"),
    );
    r.commit("long line");

    let out = run(&r, &["HEAD~1..HEAD", "--plan", "--format", "json"]);
    ok(&out);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // What the reviewers do not see of the cut line is named, by line.
    let unfit = plan["unfit"].as_array().unwrap();
    assert_eq!(unfit.len(), 1, "{plan:#}");
    assert_eq!(unfit[0]["path"], "app.py");
    assert!(
        unfit[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("line 1 was cut"),
        "{plan:#}"
    );
    let chunks = plan["chunks"].as_array().unwrap();
    assert_eq!(chunks.len(), 1, "{plan:#}");
    let file = &plan["files"][0];
    assert_eq!(file["path"], "app.py");
    let texts: Vec<&str> = file["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["lines"].as_array().unwrap())
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.iter().any(|t| t.starts_with("os.system(input())")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("BLOB = \"AAA") && t.contains("…[cut ")),
        "the long line is cut visibly: {texts:?}"
    );

    let report = json_report(&r, &[]);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["file"], "app.py");
    assert_eq!(findings[0]["line_start"], 3);
}
