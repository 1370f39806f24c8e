//! Configuration: layering, provenance, strict errors, what a repository
//! file may reach, stand-in backends, and the warnings for unknown git
//! config keys. Everything user-facing runs the real binary on a throw-away
//! repository whose HOME, user file and git config are isolated.

mod common;

use common::repo::TestRepo;
use git_deep_review::config::model_ref::TEST_BACKENDS_ENV;
use git_deep_review::config::{
    self, parse_byte_size, parse_duration_secs, CliOverrides, Source, REGISTRY,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_git-deep-review");

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts a configuration error (exit 2) and returns its message.
    fn config_error(&self) -> &str {
        assert_eq!(
            self.code, 2,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stderr
    }

    /// The line of `git deep-review config` output that sets `name`.
    fn line(&self, name: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} = ")))
            .unwrap_or_else(|| panic!("no `{name} = ` line in:\n{}", self.stdout))
    }
}

/// The isolated home directory of a test repository (outside the repository).
fn home(r: &TestRepo) -> PathBuf {
    let h = r.scratch().join("home");
    std::fs::create_dir_all(&h).unwrap();
    h
}

/// Writes the user file (`$XDG_CONFIG_HOME/git-deep-review/config.toml`).
fn user_file(r: &TestRepo, text: &str) -> PathBuf {
    let p = home(r).join(".config").join(config::USER_FILE);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes the repository file (not committed: read from the work tree, as
/// for a user who trusts the repository; see [`committed_repo_file`]).
fn repo_file(r: &TestRepo, text: &str) {
    r.write(config::REPO_FILE, text);
}

/// Commits the repository file as the user's default (untrusted) reads
/// it: from `HEAD` when no range is given. Returns how messages name it
/// (`.deep-review.toml@abc1234`).
fn committed_repo_file(r: &TestRepo, text: &str) -> String {
    r.distrust();
    r.write(config::REPO_FILE, text);
    r.git(&["add", "-f", config::REPO_FILE]);
    r.git(&["commit", "-q", "--allow-empty", "-m", "configure"]);
    format!("{}@{}", config::REPO_FILE, &r.rev("HEAD")[..7])
}

/// Runs `git deep-review ARGS` in the repository with no configuration but
/// the test's own, no system or real global git config, and `extra` env.
fn run(r: &TestRepo, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let home = home(r);
    let models = r.scratch().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(&r.path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_DEEP_REVIEW_MODELS_DIR", &models)
        .env("NO_COLOR", "1")
        .env("LC_ALL", "C");
    for (k, v) in extra {
        c.env(k, v);
    }
    let out = c.output().expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn show(r: &TestRepo) -> Run {
    run(r, &["config"], &[])
}

/// A repository with one reviewable commit on top of a first one.
fn repo_with_change() -> TestRepo {
    let r = TestRepo::new();
    r.commit_files(
        "first",
        &[("src/lib.rs", "pub fn a() -> u32 {\n    1\n}\n")],
    );
    r.commit_files(
        "second",
        &[(
            "src/lib.rs",
            "pub fn a() -> u32 {\n    1\n}\n\npub fn b(x: u32) -> u32 {\n    x / 0\n}\n",
        )],
    );
    r
}

const ONE_STANDIN: &str = "[[reviewer]]\nname = \"correctness\"\nmodel = \"standin:empty\"\n";

#[test]
fn defaults_are_shown_with_every_key_doc_and_source() {
    let r = TestRepo::new();
    r.distrust();
    let out = show(&r);
    let text = out.ok();
    for key in REGISTRY {
        assert!(text.contains(key.git), "{} missing:\n{text}", key.git);
        assert!(text.contains(key.doc), "doc of {} missing", key.toml);
    }
    for (name, value) in [
        ("lead", "\"smollm2-135m\""),
        ("chunk_tokens", "2048"),
        ("time_budget", "600"),
        ("on_timeout", "\"allow\""),
        ("enabled", "true"),
        ("block_on", "\"critical\""),
        ("min_agreement", "2"),
        ("on_reviewer_failure", "\"block\""),
        ("unreviewable", "\"block\""),
        ("max_size", "200000000"),
    ] {
        assert_eq!(out.line(name), format!("{name} = {value}  # default"));
    }
    assert!(
        text.contains("# threads = (the cores other processes leave free)  # default"),
        "{text}"
    );
    assert!(
        text.contains("trusted with paths outside the repository: no"),
        "{text}"
    );
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn printed_configuration_reads_back_as_the_same_configuration() {
    let r = TestRepo::new();
    let first = show(&r);
    repo_file(&r, first.ok());
    let second = show(&r);
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split("  # ").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(strip(first.ok()), strip(second.ok()));
    assert!(second.line("block_on").contains("repository file"));
}

#[test]
fn layers_override_in_order_and_record_their_source() {
    let r = TestRepo::new();
    let user = user_file(
        &r,
        "[gate]\nblock_on = \"important\"\nmin_agreement = 2\n\n[review]\ntime_budget = \"5m\"\nignore = [\"a/**\"]\ncontext_lines = 7\n",
    );
    repo_file(
        &r,
        "# team settings\n[[reviewer]]\nname = \"correctness\"\nmodel = \"smollm2-135m\"\n\n[[reviewer]]\nname = \"two\"\nmodel = \"gemma3-270m\"\nprompt = \"robustness.md\"\nseed = 5\ntemperature = 0.5\n\n[review]\nignore = [\"b/**\"]\nreport_dir = \"reports\"\n\n[gate]\nmin_agreement = 1\non_reviewer_failure = \"allow\"\n\n[cache]\nmax_size = \"1MiB\"\n",
    );
    r.git(&["config", "deep-review.timeBudget", "90s"]);
    r.git(&["config", "deep-review.ignore", "c/**"]);
    r.git(&["config", "deep-review.unreviewable", "allow"]);
    let out = show(&r);
    out.ok();
    let repo = r.path.canonicalize().unwrap().join(config::REPO_FILE);
    assert_eq!(
        out.line("block_on"),
        format!("block_on = \"important\"  # user file {}:2", user.display())
    );
    assert_eq!(
        out.line("min_agreement"),
        format!("min_agreement = 2  # user file {}:3", user.display()),
        "the user's file beats the repository's"
    );
    assert!(
        out.stdout.contains(&format!(
            "#   overridden: repository file {}:18 (by user file {}:3)\nmin_agreement = 2",
            repo.display(),
            user.display()
        )),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.line("time_budget"),
        "time_budget = 90  # git config deep-review.timeBudget",
        "git config beats files"
    );
    assert_eq!(
        out.line("on_reviewer_failure"),
        format!(
            "on_reviewer_failure = \"allow\"  # repository file {}:19",
            repo.display()
        )
    );
    assert_eq!(
        out.line("unreviewable"),
        "unreviewable = \"allow\"  # git config deep-review.unreviewable"
    );
    assert!(out
        .line("context_lines")
        .ends_with(&format!("user file {}:8", user.display())));
    let ignore: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("ignore = ["))
        .skip(1)
        .take(3)
        .collect();
    assert!(
        ignore[0].starts_with("  \"b/**\",  # repository file"),
        "{ignore:?}"
    );
    assert!(
        ignore[1].starts_with("  \"a/**\",  # user file"),
        "{ignore:?}"
    );
    assert_eq!(ignore[2], "  \"c/**\",  # git config deep-review.ignore");
    assert!(out.stdout.contains("name = \"two\"\nmodel = \"gemma3-270m\"\nprompt = \"robustness.md\"\nseed = 5\ntemperature = 0.5"), "{}", out.stdout);
    assert!(out
        .stdout
        .contains("name = \"correctness\"\nmodel = \"smollm2-135m\"\nprompt = \"correctness.md\""));
    let reports = r.path.canonicalize().unwrap().join("reports");
    assert!(
        out.line("report_dir")
            .contains(&format!("{:?}", reports.display().to_string())),
        "relative to the repository root: {}",
        out.line("report_dir")
    );
    assert!(out
        .line("max_size")
        .starts_with("max_size = 1048576  # repository file"));
}

#[test]
fn the_command_line_beats_every_layer_and_records_it() {
    // In-process: `git deep-review config` takes no review flags.
    let r = TestRepo::new();
    r.git(&["config", "deep-review.chunkTokens", "4096"]);
    let repo = gix::open(&r.path).unwrap();
    let snapshot = repo.config_snapshot();
    let cli = CliOverrides {
        chunk_tokens: Some(1024),
        context_lines: Some(0),
        ..CliOverrides::default()
    };
    let known = |m: &str| m == "smollm2-135m" || m == "gemma3-270m";
    let files = config::repo_files::RepoFiles::work_tree(&r.path);
    let (s, prov) = config::load(&files, Some(&snapshot), &cli, &known).unwrap();
    assert_eq!((s.chunk_tokens, s.context_lines), (1024, 0));
    assert_eq!(prov.source("review.chunk_tokens"), Source::Cli);
    let zero = CliOverrides {
        chunk_tokens: Some(0),
        ..CliOverrides::default()
    };
    let err = config::load(&files, Some(&snapshot), &zero, &known).unwrap_err();
    assert!(err.to_string().starts_with("--chunk-tokens 0:"), "{err}");
}

#[test]
fn command_line_values_get_the_file_checks_and_name_the_flag() {
    let r = repo_with_change();
    for (flag, value) in [
        ("--chunk-tokens", "0"),
        ("--threads", "0"),
        ("--time-budget", "0"),
        ("--context", "5000"),
    ] {
        let out = run(&r, &["HEAD~1..HEAD", "--plan", flag, value], &[]);
        let m = out.config_error();
        assert!(m.contains(&format!("{flag} {value}:")), "{m}");
        assert!(m.contains("out of range") || m.contains("positive"), "{m}");
    }
    // It used to review nothing and exit 0, even as a gate.
    let out = run(&r, &["HEAD~1..HEAD", "--gate", "--chunk-tokens", "0"], &[]);
    assert!(out.config_error().contains("--chunk-tokens 0"));
    // The same value from a file names the file, key and line.
    repo_file(&r, "[review]\nchunk_tokens = 0\n");
    let m = show(&r).config_error().to_string();
    assert!(
        m.contains(".deep-review.toml:2: key `review.chunk_tokens`: 0 is out of range"),
        "{m}"
    );
}

#[test]
fn unknown_git_config_keys_warn_with_the_closest_key() {
    let r = TestRepo::new();
    r.git(&["config", "deep-review.blokOn", "important"]);
    r.git(&["config", "deep-review.minAgreemnt", "1"]);
    r.git(&["config", "deep-review.zzzzzzzzzzzzzzz", "1"]);
    // git names are case-insensitive: this one is known and in force.
    r.git(&["config", "deep-review.ontimeout", "block"]);
    let out = show(&r);
    out.ok();
    assert!(out.stderr.contains(
        "git-deep-review: warning: unknown git config key deep-review.blokOn; did you mean deep-review.blockOn?"
    ), "{}", out.stderr);
    assert!(out.stderr.contains(
        "git-deep-review: warning: unknown git config key deep-review.minAgreemnt; did you mean deep-review.minAgreement?"
    ), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("unknown git config key deep-review.zzzzzzzzzzzzzzz;"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 3, "{}", out.stderr);
    assert_eq!(
        out.line("on_timeout"),
        "on_timeout = \"block\"  # git config deep-review.onTimeout"
    );
    assert_eq!(out.line("block_on"), "block_on = \"critical\"  # default");
    // The review commands warn too.
    let plan = run(repo_with_change_from(&r), &["HEAD~1..HEAD", "--plan"], &[]);
    assert!(
        plan.stderr.contains("deep-review.blokOn; did you mean"),
        "{}",
        plan.stderr
    );
}

/// `r` with two commits (for commands that need a range).
fn repo_with_change_from(r: &TestRepo) -> &TestRepo {
    r.commit_files("first", &[("a.txt", "one\n")]);
    r.commit_files("second", &[("a.txt", "one\ntwo\n")]);
    r
}

#[test]
fn bad_git_config_values_name_the_key() {
    let r = TestRepo::new();
    r.git(&["config", "deep-review.blockOn", "blocker"]);
    let m = show(&r).config_error().to_string();
    assert!(
        m.contains("git config deep-review.blockOn = \"blocker\""),
        "{m}"
    );
    r.git(&["config", "--unset", "deep-review.blockOn"]);
    r.git(&["config", "deep-review.onReviewerFailure", "maybe"]);
    let m = show(&r).config_error().to_string();
    assert!(
        m.contains("deep-review.onReviewerFailure") && m.contains("\"block\" or \"allow\""),
        "{m}"
    );
    r.git(&["config", "--unset", "deep-review.onReviewerFailure"]);
    r.git(&["config", "deep-review.maxMemory", "plenty"]);
    assert!(show(&r).config_error().contains("deep-review.maxMemory"));
    r.git(&["config", "deep-review.maxMemory", "512MiB"]);
    assert_eq!(
        show(&r).line("max_memory"),
        format!(
            "max_memory = {}  # git config deep-review.maxMemory",
            512 << 20
        )
    );
    r.git(&["config", "deep-review.gate", "off"]);
    assert_eq!(
        show(&r).line("enabled"),
        "enabled = false  # git config deep-review.gate"
    );
}

#[test]
fn file_errors_name_file_key_and_line() {
    let cases: &[(&str, &str)] = &[
        ("[review]\ncontext_lines = 3\ncolour = \"red\"\n", ":3: key `review.colour`: unknown key"),
        ("[reviews]\nx = 1\n", ":1: key `reviews`: not a configuration table"),
        ("[gate]\nenabled = true\n\n[review]\ncontext_lines = \"three\"\n", ":5: key `review.context_lines`: expected an integer, found a string"),
        ("[[reviewer]]\nname = \"correctness\"\nmodel = \"llama-70b\"\n", ":3: key `reviewer.model`: model \"llama-70b\" is not in the model manifest"),
        ("[[reviewer]]\nname = \"correctness\"\nmodel = \"/tmp/evil.gguf\"\n", ":3: key `reviewer.model`: model file \"/tmp/evil.gguf\" cannot be read"),
        // A model file outside the repository, from the repository's own file.
        ("[[reviewer]]\nname = \"correctness\"\nmodel = \"/etc/hostname\"\n", ":3: key `reviewer.model`: model file \"/etc/hostname\" resolves to /etc/hostname, outside the repository"),
        ("[gate]\nblock_on = \"blocker\"\n", ":2: key `gate.block_on`: \"blocker\": expected"),
        ("[gate]\nunreviewable = \"sometimes\"\n", ":2: key `gate.unreviewable`: \"sometimes\": expected \"block\" or \"allow\""),
        ("[gate]\non_reviewer_failure = true\n", ":2: key `gate.on_reviewer_failure`: expected"),
        ("[review]\non_timeout = \"maybe\"\n", ":2: key `review.on_timeout`"),
        ("[review]\ntime_budget = \"soon\"\n", ":2: key `review.time_budget`: \"soon\" is not a duration"),
        ("[review]\nmax_memory = 0\n", ":2: key `review.max_memory`: 0 is too small"),
        ("[[reviewer]]\nname = \"correctness\"\nmodel = \"gemma3-270m\"\ntop_p = 1.5\n", ":4: key `reviewer.top_p`: 1.5 is out of range"),
        ("[[reviewer]]\nname = \"correctness\"\nmodel = \"gemma3-270m\"\ntemprature = 0.5\n", ":4: key `reviewer.temprature`: unknown key; did you mean `reviewer.temperature`?"),
        ("[cache]\nmax_size = \"lots\"\n", ":2: key `cache.max_size`"),
        ("[review]\nignore = [\"src/[\"]\n", ":2: key `review.ignore`: bad glob"),
        ("[[reviewer]]\nname = \"correctness\"\nmodel = \"gemma3-270m\"\n[[reviewer]]\nname = \"correctness\"\nmodel = \"gemma3-270m\"\n", ":5: key `reviewer.name`: reviewer \"correctness\" is defined twice"),
        ("[review]\nmodels_dir = \"/tmp/models\"\n", ":2: key `review.models_dir`: unknown key"),
    ];
    for (text, expected) in cases {
        let r = TestRepo::new();
        let name = committed_repo_file(&r, text);
        let m = show(&r).config_error().to_string();
        assert!(
            m.contains(&format!("{name}{expected}")),
            "for {text:?} expected {expected:?} in: {m}"
        );
    }
}

#[test]
fn the_default_agreement_follows_the_reviewers_and_only_an_explicit_one_is_checked() {
    let r = repo_with_change();
    repo_file(
        &r,
        "[[reviewer]]\nname = \"correctness\"\nmodel = \"gemma3-270m\"\n",
    );
    let out = show(&r);
    assert_eq!(out.line("min_agreement"), "min_agreement = 1  # default");
    run(&r, &["HEAD~1..HEAD", "--plan"], &[]).ok();
    // Explicitly impossible: an error naming where both values came from.
    user_file(&r, "[gate]\nmin_agreement = 2\n");
    let m = show(&r).config_error().to_string();
    assert!(
        m.contains("user file") && m.contains("repository file"),
        "{m}"
    );
    // A later layer may make it possible again.
    r.git(&["config", "deep-review.minAgreement", "1"]);
    show(&r).ok();
}

#[test]
fn standin_backends_are_refused_unless_the_test_suite_enables_them() {
    let r = repo_with_change();
    repo_file(&r, ONE_STANDIN);
    let m = show(&r).config_error().to_string();
    assert!(
        m.contains(".deep-review.toml:3: key `reviewer.model`: \"standin:empty\" is a test backend, not a model"),
        "{m}"
    );
    assert_eq!(run(&r, &["HEAD~1..HEAD", "--gate"], &[]).code, 2);
    // The user's own file cannot name one either, nor git config as the lead.
    repo_file(&r, "");
    user_file(&r, "[review]\nlead = \"standin:marker\"\n");
    assert!(show(&r)
        .config_error()
        .contains("is a test backend, not a model"));
    user_file(&r, "");
    r.git(&["config", "deep-review.lead", "standin:empty"]);
    assert!(show(&r).config_error().contains("deep-review.lead"));
    r.git(&["config", "--unset", "deep-review.lead"]);
    // With the test suite's variable they work.
    repo_file(&r, ONE_STANDIN);
    let out = run(&r, &["config"], &[(TEST_BACKENDS_ENV, "1")]);
    assert!(out.ok().contains("model = \"standin:empty\""));
    assert_eq!(
        run(&r, &["config"], &[(TEST_BACKENDS_ENV, "yes")]).code,
        2,
        "only the exact value 1 enables them"
    );
}

/// The repository file may only reach inside the repository.
mod confinement {
    use super::*;

    fn refused(r: &TestRepo, text: &str, key: &str, line: usize) -> String {
        let name = committed_repo_file(r, text);
        let m = show(r).config_error().to_string();
        assert!(m.contains(&format!("{name}:{line}: key `{key}`:")), "{m}");
        assert!(
            m.contains("deep-review.trustRepoConfig") || m.contains("base of the range"),
            "says how to trust or where it looked: {m}"
        );
        // `--plan` of a range based on that commit refuses it the same way.
        assert_eq!(run(r, &["HEAD..HEAD", "--plan"], &[]).code, 2);
        m
    }

    fn prompt(p: &str) -> String {
        format!("[[reviewer]]\nname = \"correctness\"\nmodel = \"gemma3-270m\"\nprompt = {p:?}\n[[reviewer]]\nname = \"robustness\"\nmodel = \"gemma3-270m\"\n")
    }

    #[test]
    fn prompt_files_must_be_regular_files_committed_at_the_base() {
        let r = repo_with_change();
        // Read from a commit, a prompt path can name nothing outside it.
        for p in [
            "/etc/shadow",
            "/etc/passwd",
            "../../../../etc/passwd",
            "nope.md",
        ] {
            let m = refused(&r, &prompt(p), "reviewer.prompt", 4);
            assert!(m.contains("does not exist"), "{p}: {m}");
        }
        // A committed symlink is not followed, out of the repository or not.
        std::fs::write(r.scratch().join("secret.md"), "secret").unwrap();
        std::os::unix::fs::symlink(r.scratch().join("secret.md"), r.path.join("persona.md"))
            .unwrap();
        r.git(&["add", "persona.md"]);
        let m = refused(&r, &prompt("persona.md"), "reviewer.prompt", 4);
        assert!(m.contains("does not exist"), "{m}");
        // Without `prompt`, the name names the file (`<name>.md`): checked alike.
        let m = refused(
            &r,
            "[[reviewer]]\nname = \"../outside\"\nmodel = \"gemma3-270m\"\n",
            "reviewer.prompt",
            2,
        );
        assert!(m.contains("does not exist"), "{m}");
        // A file committed inside is read, and the work tree's copy is not.
        r.write("prompts/mine.md", "Look for bugs.");
        r.git(&["add", "prompts/mine.md"]);
        committed_repo_file(&r, &prompt("prompts/mine.md"));
        std::fs::remove_file(r.path.join("prompts/mine.md")).unwrap();
        show(&r).ok();
        run(&r, &["HEAD..HEAD", "--plan"], &[]).ok();
    }

    #[test]
    fn trusted_prompt_files_are_read_from_the_work_tree_wherever_they_point() {
        let r = repo_with_change();
        std::fs::write(r.scratch().join("outside.md"), "secret").unwrap();
        std::os::unix::fs::symlink(r.scratch().join("outside.md"), r.path.join("link.md")).unwrap();
        repo_file(&r, &prompt("link.md"));
        show(&r).ok();
        run(&r, &["HEAD~1..HEAD", "--plan"], &[]).ok();
    }

    #[test]
    fn report_dir_outside_the_repository_is_refused() {
        let r = repo_with_change();
        let outside = r.scratch().join("reports");
        let text = format!(
            "[review]\nreport_dir = {:?}\n",
            outside.display().to_string()
        );
        refused(&r, &text, "review.report_dir", 2);
        refused(
            &r,
            "[review]\nreport_dir = \"../reports\"\n",
            "review.report_dir",
            2,
        );
        refused(
            &r,
            "[review]\nreport_dir = \"~/reports\"\n",
            "review.report_dir",
            2,
        );
        let m = refused(
            &r,
            "[review]\nreport_dir = \".git/hooks\"\n",
            "review.report_dir",
            2,
        );
        assert!(m.contains(".git directory"), "{m}");
        std::os::unix::fs::symlink(r.scratch(), r.path.join("out")).unwrap();
        refused(
            &r,
            "[review]\nreport_dir = \"out/reports\"\n",
            "review.report_dir",
            2,
        );
        committed_repo_file(&r, "[review]\nreport_dir = \"docs/reviews\"\n");
        show(&r).ok();
        // The user's own configuration may put reports anywhere.
        committed_repo_file(&r, "");
        user_file(&r, &text);
        assert!(show(&r).ok().contains(&outside.display().to_string()));
    }

    #[test]
    fn the_user_can_trust_a_repository_from_git_config_only() {
        let r = repo_with_change();
        let outside = r.scratch().join("reports");
        let text = format!(
            "{}[review]\nreport_dir = {:?}\n",
            prompt("/etc/passwd"),
            outside.display().to_string()
        );
        // The repository file cannot trust itself.
        committed_repo_file(&r, "trustRepoConfig = true\n");
        assert!(show(&r)
            .config_error()
            .contains("not a configuration table"));
        // The repository's own .git/config.
        repo_file(&r, &text);
        r.git(&["config", "deep-review.trustRepoConfig", "true"]);
        let out = show(&r);
        assert!(out
            .ok()
            .contains("trusted with paths outside the repository: yes"));
        assert!(out.stdout.contains("prompt = \"/etc/passwd\""));
        run(&r, &["HEAD~1..HEAD", "--plan"], &[]).ok();
        // The user's global config.
        r.git(&["config", "--unset", "deep-review.trustRepoConfig"]);
        assert_eq!(show(&r).code, 2);
        std::fs::write(
            home(&r).join(".gitconfig"),
            "[deep-review]\n\ttrustRepoConfig = true\n",
        )
        .unwrap();
        show(&r).ok();
        // And off again.
        r.git(&["config", "deep-review.trustRepoConfig", "false"]);
        assert_eq!(show(&r).code, 2);
    }

    #[test]
    fn an_instruction_file_linking_out_of_the_repository_is_not_read() {
        let r = TestRepo::new();
        r.commit_files("first", &[("src/lib.rs", "pub fn a() {}\n")]);
        std::fs::write(r.scratch().join("private.txt"), "TOP SECRET TOKEN").unwrap();
        std::os::unix::fs::symlink(r.scratch().join("private.txt"), r.path.join("AGENTS.md"))
            .unwrap();
        r.commit_files(
            "second",
            &[("src/lib.rs", "pub fn a() {}\npub fn b() {}\n")],
        );
        repo_file(
            &r,
            "[[reviewer]]\nname = \"correctness\"\nmodel = \"standin:empty\"\n\n[review]\nlead = \"none\"\n",
        );
        let review = |r: &TestRepo| {
            run(
                r,
                &["HEAD~1..HEAD", "--format", "json", "-o", "-", "--no-cache"],
                &[(TEST_BACKENDS_ENV, "1")],
            )
        };
        let out = review(&r);
        let json: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(json["instructions_file"], serde_json::Value::Null);
        assert!(!out.stdout.contains("TOP SECRET"));
        assert!(
            out.stderr
                .contains("git-deep-review: warning: AGENTS.md is not read")
                && out.stderr.contains("outside the repository"),
            "{}",
            out.stderr
        );
        // The next candidate is still used.
        r.write("REVIEW.md", "Prefer small functions.");
        let json: serde_json::Value = serde_json::from_str(review(&r).ok()).unwrap();
        assert_eq!(json["instructions_file"], "REVIEW.md");
    }
}

#[test]
fn readme_documents_every_key() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Configuration")
        .expect("a configuration section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    for key in REGISTRY {
        assert!(section.contains(key.git), "README lacks {}", key.git);
        assert!(
            section.contains(&format!("{} =", key.name()))
                || section.contains(&format!("`{}`", key.toml)),
            "README lacks {}",
            key.toml
        );
    }
    assert!(section.contains(config::KEY_TRUST_REPO_CONFIG));
}

#[test]
fn sizes_and_durations_parse() {
    assert_eq!(parse_byte_size("200MB"), Some(200_000_000));
    assert_eq!(parse_byte_size("1.5KiB"), Some(1536));
    assert_eq!(parse_byte_size("4096"), Some(4096));
    assert_eq!(parse_byte_size("12 parsecs"), None);
    assert_eq!(parse_duration_secs("10m"), Some(600));
    assert_eq!(parse_duration_secs("1h30m"), Some(5400));
    assert_eq!(parse_duration_secs("45"), Some(45));
    assert_eq!(parse_duration_secs("0"), None);
    assert_eq!(parse_duration_secs("5 minutes"), None);
}

/// `--time-budget`, `deep-review.timeBudget` and `review.time_budget` are
/// read by one parser: the same values mean the same budget (as the
/// report records it), and the same bad values are refused with the same
/// reason (exit 2), wherever they are written.
#[test]
fn the_time_budget_parses_alike_on_the_command_line_in_git_config_and_in_files() {
    let r = repo_with_change();
    let base = format!("[review]\nlead = \"none\"\n\n{ONE_STANDIN}");
    // The user's file with `time_budget = LITERAL` (a TOML literal).
    let with_budget = |literal: &str| {
        base.replace(
            "lead = \"none\"\n",
            &format!("lead = \"none\"\ntime_budget = {literal}\n"),
        )
    };
    let test_backends = [(TEST_BACKENDS_ENV, "1")];
    let review = |extra: &[&str]| {
        let mut args = vec!["HEAD~1..HEAD", "--no-cache", "--format", "json", "-o", "-"];
        args.extend_from_slice(extra);
        run(&r, &args, &test_backends)
    };
    let budget_of = |run: &Run| -> u64 {
        let json: serde_json::Value = serde_json::from_str(run.ok()).unwrap();
        json["time_budget_secs"].as_u64().unwrap()
    };
    let good = [
        ("2s", 2),
        ("90s", 90),
        ("2m", 120),
        ("1h", 3600),
        ("1h30m", 5400),
        ("120", 120),
    ];
    for (value, secs) in good {
        user_file(&r, &base);
        let flag = budget_of(&review(&["--time-budget", value]));
        r.git(&["config", "deep-review.timeBudget", value]);
        let git = budget_of(&review(&[]));
        r.git(&["config", "--unset", "deep-review.timeBudget"]);
        user_file(&r, &with_budget(&format!("{value:?}")));
        let file = budget_of(&review(&[]));
        assert_eq!((flag, git, file), (secs, secs, secs), "{value}");
    }
    // A bare number in a file may also be a TOML integer.
    user_file(&r, &with_budget("120"));
    assert_eq!(budget_of(&review(&[])), 120);

    for value in ["0", "2x", "1.5h", "-5", "", "10d", "99999999h"] {
        user_file(&r, &base);
        let flag = review(&[&format!("--time-budget={value}")]);
        let flag = flag.config_error();
        let prefix = format!("--time-budget {value}: ");
        let why = flag
            .lines()
            .find_map(|l| l.split_once(&prefix).map(|(_, why)| why.to_string()))
            .unwrap_or_else(|| panic!("{value:?}: no `{prefix}` in {flag}"));
        assert!(why.starts_with(&format!("{value:?} ")), "{why}");
        r.git(&["config", "deep-review.timeBudget", value]);
        let git = review(&[]);
        assert!(
            git.config_error()
                .contains(&format!("deep-review.timeBudget = {value:?}: {why}")),
            "{value:?}: {}",
            git.stderr
        );
        r.git(&["config", "--unset", "deep-review.timeBudget"]);
        user_file(&r, &with_budget(&format!("{value:?}")));
        let file = review(&[]);
        assert!(
            file.config_error()
                .contains(&format!("key `review.time_budget`: {why}")),
            "{value:?}: {}",
            file.stderr
        );
    }
    // An integer in a file gets the same reason as its text.
    for (value, text) in [("0", "\"0\""), ("-5", "\"-5\"")] {
        user_file(&r, &with_budget(value));
        let file = review(&[]);
        assert!(
            file.config_error()
                .contains(&format!("key `review.time_budget`: {text} ")),
            "{value}: {}",
            file.stderr
        );
    }
}
