//! Configuration: layering, provenance, strict errors, repository instructions.

use git_deep_review::config::{
    load, parse_byte_size, parse_duration_secs, repo_instructions, write_effective, CliOverrides,
    OnTimeout, Settings, Source,
};
use git_deep_review::findings::Severity;
use git_deep_review::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

const MODELS: [&str; 3] = ["smollm2-135m", "gemma3-270m", "standin:marker"];

fn known(m: &str) -> bool {
    MODELS.contains(&m)
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh repository whose git config cannot see the developer's own
/// global config (HOME is isolated by the repository-local settings only,
/// so tests only set keys that no real global config would).
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    dir
}

/// Loads with an explicit (possibly absent) user file so the developer's
/// real ~/.config never leaks into a test.
fn load_in(
    root: &Path,
    user: Option<&Path>,
    cli: CliOverrides,
) -> Result<(Settings, git_deep_review::config::Provenance), Error> {
    let repo = gix::open(root).unwrap();
    let snapshot = repo.config_snapshot();
    let mut cli = cli;
    cli.user_config = Some(match user {
        Some(u) => u.to_path_buf(),
        None => user_file(root, ""),
    });
    load(root, Some(&snapshot), &cli, &known)
}

fn user_file(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("user-config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn defaults_without_any_file() {
    let r = repo();
    let user = user_file(r.path(), "");
    let (s, prov) = load_in(r.path(), Some(&user), CliOverrides::default()).unwrap();
    assert_eq!(s, Settings::default());
    let names: Vec<_> = s
        .reviewers
        .iter()
        .map(|r| (r.name.as_str(), r.model.as_str(), r.prompt.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("correctness", "smollm2-135m", "correctness.md"),
            ("robustness", "gemma3-270m", "robustness.md"),
            ("tests-design", "smollm2-135m", "tests-design.md")
        ]
    );
    let mut seeds: Vec<_> = s.reviewers.iter().map(|r| r.sampling.seed).collect();
    seeds.dedup();
    assert_eq!(seeds.len(), 3, "reviewers need different seeds");
    assert_eq!(s.time_budget_secs, 600);
    assert_eq!(s.on_timeout, OnTimeout::Allow);
    assert_eq!(s.gate.block_on, Severity::Critical);
    assert_eq!(s.gate.min_agreement, 2);
    assert_eq!(prov.source("gate.block_on"), Source::Default);
}

#[test]
fn layers_override_in_order_and_record_their_source() {
    let r = repo();
    let user = user_file(
        r.path(),
        "[gate]\nblock_on = \"important\"\nmin_agreement = 3\n\n[review]\ntime_budget = \"5m\"\nignore = [\"a/**\"]\ncontext_lines = 7\n",
    );
    std::fs::write(
        r.path().join(".deep-review.toml"),
        "# team settings\n[[reviewer]]\nname = \"one\"\nmodel = \"standin:marker\"\n\n[[reviewer]]\nname = \"two\"\nmodel = \"standin:marker\"\nprompt = \"robustness.md\"\nseed = 5\ntemperature = 0.5\n\n[review]\nignore = [\"b/**\"]\nreport_dir = \"reports\"\n\n[gate]\nmin_agreement = 1\n\n[cache]\nmax_size = \"1MiB\"\n",
    )
    .unwrap();
    git(r.path(), &["config", "deep-review.timeBudget", "90s"]);
    git(r.path(), &["config", "deep-review.ignore", "c/**"]);
    let cli = CliOverrides {
        on_timeout: Some(OnTimeout::Block),
        context_lines: Some(1),
        ignore: vec!["d/**".into()],
        ..CliOverrides::default()
    };
    let (s, prov) = load_in(r.path(), Some(&user), cli).unwrap();

    assert_eq!(s.gate.block_on, Severity::Important);
    assert!(
        matches!(
            prov.source("gate.block_on"),
            Source::UserFile { line: 2, .. }
        ),
        "{:?}",
        prov.source("gate.block_on")
    );
    assert_eq!(s.gate.min_agreement, 1, "repository file beats user file");
    assert!(
        matches!(
            prov.source("gate.min_agreement"),
            Source::RepoFile { line: 18, .. }
        ),
        "{:?}",
        prov.source("gate.min_agreement")
    );
    assert_eq!(s.time_budget_secs, 90, "git config beats files");
    assert_eq!(
        prov.source("review.time_budget"),
        Source::GitConfig("deep-review.timeBudget")
    );
    assert_eq!(s.on_timeout, OnTimeout::Block);
    assert_eq!(prov.source("review.on_timeout"), Source::Cli);
    assert_eq!(s.context_lines, 1, "CLI beats everything");
    assert_eq!(
        s.ignore,
        ["a/**", "b/**", "c/**", "d/**"],
        "ignore globs accumulate"
    );
    assert!(matches!(prov.ignore[0], Source::UserFile { .. }));
    assert!(matches!(prov.ignore[1], Source::RepoFile { .. }));
    assert_eq!(prov.ignore[2], Source::GitConfig("deep-review.ignore"));
    assert_eq!(prov.ignore[3], Source::Cli);
    assert_eq!(
        s.reviewers.len(),
        2,
        "a layer's reviewer list replaces the previous one"
    );
    assert_eq!(
        s.reviewers[0].prompt, "one.md",
        "prompt defaults to <name>.md"
    );
    assert_eq!(s.reviewers[1].sampling.seed, 5);
    assert_eq!(s.reviewers[1].sampling.temperature, 0.5);
    assert_eq!(
        s.report_dir.as_deref(),
        Some(r.path().join("reports").as_path()),
        "relative to the repository root"
    );
    assert_eq!(s.cache_max_bytes, 1024 * 1024);

    let mut out = Vec::new();
    write_effective(&s, &prov, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("time_budget = 90  # seconds; git config deep-review.timeBudget"),
        "{out}"
    );
    assert!(
        out.contains("on_timeout = \"block\"  # command line"),
        "{out}"
    );
    assert!(
        out.contains("min_agreement = 1  # repository file"),
        "{out}"
    );
    assert!(
        out.contains("block_on = \"important\"  # user file"),
        "{out}"
    );
    assert!(out.contains("name = \"two\""), "{out}");
    // The printed configuration is itself valid TOML.
    let stripped: String = out.lines().map(|l| format!("{l}\n")).collect();
    toml::from_str::<toml::Table>(&stripped).expect("effective config parses as TOML");
}

#[test]
fn git_config_gate_off_disables_the_gate() {
    let r = repo();
    git(r.path(), &["config", "deep-review.gate", "off"]);
    let (s, prov) = load_in(r.path(), None, CliOverrides::default()).unwrap();
    assert!(!s.gate.enabled);
    assert_eq!(
        prov.source("gate.enabled"),
        Source::GitConfig("deep-review.gate")
    );
}

#[test]
fn max_memory_comes_from_the_file_and_git_config_overrides_it() {
    let r = repo();
    std::fs::write(
        r.path().join(".deep-review.toml"),
        "[review]\nmax_memory = \"6GB\"\n",
    )
    .unwrap();
    let (s, prov) = load_in(r.path(), None, CliOverrides::default()).unwrap();
    assert_eq!(s.max_memory, Some(6_000_000_000));
    assert!(matches!(
        prov.source("review.max_memory"),
        Source::RepoFile { .. }
    ));
    git(r.path(), &["config", "deep-review.maxMemory", "512MiB"]);
    let (s, prov) = load_in(r.path(), None, CliOverrides::default()).unwrap();
    assert_eq!(s.max_memory, Some(512 << 20));
    assert_eq!(
        prov.source("review.max_memory"),
        Source::GitConfig("deep-review.maxMemory")
    );
    git(r.path(), &["config", "deep-review.maxMemory", "plenty"]);
    match load_in(r.path(), None, CliOverrides::default()) {
        Err(Error::Config(m)) => assert!(m.contains("deep-review.maxMemory"), "{m}"),
        other => panic!("expected a config error, got {other:?}"),
    }
    let m = config_error("[review]\nmax_memory = 0\n");
    assert!(m.contains(":2:") && m.contains("review.max_memory"), "{m}");
}

fn config_error(text: &str) -> String {
    let r = repo();
    std::fs::write(r.path().join(".deep-review.toml"), text).unwrap();
    match load_in(r.path(), None, CliOverrides::default()) {
        Err(Error::Config(m)) => m,
        other => panic!("expected a config error for {text:?}, got {other:?}"),
    }
}

#[test]
fn unknown_key_names_file_key_and_line() {
    let m = config_error("[review]\ncontext_lines = 3\ncolour = \"red\"\n");
    assert!(m.contains(".deep-review.toml:3:"), "{m}");
    assert!(m.contains("review.colour"), "{m}");
    assert!(m.contains("unknown field"), "{m}");
}

#[test]
fn unknown_table_is_an_error() {
    let m = config_error("[reviews]\nx = 1\n");
    assert!(m.contains(".deep-review.toml:1:"), "{m}");
    assert!(m.contains("reviews"), "{m}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let m = config_error("[gate]\nenabled = true\n\n[review]\ncontext_lines = \"three\"\n");
    assert!(m.contains(".deep-review.toml:5:"), "{m}");
    assert!(m.contains("review.context_lines"), "{m}");
}

#[test]
fn unknown_model_names_key_and_line() {
    let m = config_error("[[reviewer]]\nname = \"x\"\nmodel = \"llama-70b\"\n");
    assert!(m.contains(".deep-review.toml:3:"), "{m}");
    assert!(m.contains("reviewer.model"), "{m}");
    assert!(m.contains("llama-70b"), "{m}");
}

#[test]
fn bad_enum_and_range_values_are_errors() {
    let m = config_error("[gate]\nblock_on = \"blocker\"\n");
    assert!(
        m.contains(":2:") && m.contains("gate.block_on") && m.contains("blocker"),
        "{m}"
    );
    let m = config_error("[review]\non_timeout = \"maybe\"\n");
    assert!(m.contains(":2:") && m.contains("review.on_timeout"), "{m}");
    let m = config_error("[review]\ntime_budget = \"soon\"\n");
    assert!(m.contains(":2:") && m.contains("review.time_budget"), "{m}");
    let m = config_error("[[reviewer]]\nname = \"a\"\nmodel = \"gemma3-270m\"\ntop_p = 1.5\n");
    assert!(m.contains(":4:") && m.contains("reviewer.top_p"), "{m}");
    let m = config_error("[cache]\nmax_size = \"lots\"\n");
    assert!(m.contains(":2:") && m.contains("cache.max_size"), "{m}");
    let m = config_error("[review]\nignore = [\"src/[\"]\n");
    assert!(m.contains(":2:") && m.contains("review.ignore"), "{m}");
}

#[test]
fn duplicate_reviewer_and_impossible_agreement_are_errors() {
    let m = config_error("[[reviewer]]\nname = \"a\"\nmodel = \"gemma3-270m\"\n[[reviewer]]\nname = \"a\"\nmodel = \"gemma3-270m\"\n");
    assert!(m.contains(":5:") && m.contains("defined twice"), "{m}");
    let m = config_error("[[reviewer]]\nname = \"a\"\nmodel = \"gemma3-270m\"\n");
    assert!(
        m.contains("min_agreement"),
        "one reviewer cannot reach the default agreement of 2: {m}"
    );
}

#[test]
fn bad_git_config_value_names_the_key() {
    let r = repo();
    git(r.path(), &["config", "deep-review.blockOn", "blocker"]);
    match load_in(r.path(), None, CliOverrides::default()) {
        Err(Error::Config(m)) => assert!(
            m.contains("deep-review.blockOn") && m.contains("blocker"),
            "{m}"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn unknown_model_from_cli_is_an_error() {
    let r = repo();
    let cli = CliOverrides {
        lead: Some("gpt-5".into()),
        ..CliOverrides::default()
    };
    assert!(matches!(load_in(r.path(), None, cli), Err(Error::Usage(m)) if m.contains("gpt-5")));
}

#[test]
fn instructions_first_file_wins_and_are_bounded() {
    let r = tempfile::tempdir().unwrap();
    assert_eq!(repo_instructions(r.path(), 100), None);
    std::fs::create_dir(r.path().join(".deep-review")).unwrap();
    std::fs::write(r.path().join(".deep-review/instructions.md"), "third").unwrap();
    assert_eq!(repo_instructions(r.path(), 100).unwrap().1, "third");
    std::fs::write(r.path().join("AGENTS.md"), "second").unwrap();
    std::fs::write(r.path().join("REVIEW.md"), "Never use unwrap.\n").unwrap();
    let (path, text) = repo_instructions(r.path(), 100).unwrap();
    assert_eq!(path, PathBuf::from("REVIEW.md"));
    assert_eq!(text, "Never use unwrap.");

    // 'é' is two bytes: a cut inside it must move back to a char boundary.
    std::fs::write(r.path().join("REVIEW.md"), "ééééé").unwrap();
    let (_, text) = repo_instructions(r.path(), 5).unwrap();
    assert!(text.starts_with("éé\n"), "{text:?}");
    assert!(text.contains("truncated"), "{text:?}");
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

#[test]
fn agreement_is_checked_on_the_final_layers_only() {
    let r = repo();
    // The user file asks for 3 agreeing reviewers; the team's file has 2
    // reviewers; the repository's git config lowers the bar to 1: valid.
    let user = user_file(r.path(), "[gate]\nmin_agreement = 3\n");
    std::fs::write(
        r.path().join(".deep-review.toml"),
        "[[reviewer]]\nname = \"a\"\nmodel = \"gemma3-270m\"\n[[reviewer]]\nname = \"b\"\nmodel = \"smollm2-135m\"\n",
    )
    .unwrap();
    git(r.path(), &["config", "deep-review.minAgreement", "1"]);
    let (s, _) = load_in(r.path(), Some(&user), CliOverrides::default()).unwrap();
    assert_eq!((s.reviewers.len(), s.gate.min_agreement), (2, 1));
    // Without the git config key the final state is impossible: an error
    // that names where both values came from.
    git(r.path(), &["config", "--unset", "deep-review.minAgreement"]);
    match load_in(r.path(), Some(&user), CliOverrides::default()) {
        Err(Error::Config(m)) => assert!(
            m.contains("user file") && m.contains("repository file"),
            "{m}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
}
