//! Every text parser of untrusted input: model answers (findings JSON,
//! truncated answers, the verifier's verdict), chat templates from GGUF
//! files, configuration files, diff text, the hook's stdin and endpoint
//! responses. Arbitrary input never panics; structured inputs check what
//! can go wrong (a valid answer round-trips, a finding's lines stay in
//! bounds, a key never comes back out of an error message).

use git_deep_review::check::findings::{
    close_truncated, parse_review, sanitize_text, MAX_FINDINGS_PER_REVIEW, MAX_LINE, MAX_SPAN,
    MAX_TITLE_CHARS,
};
use git_deep_review::config::repo_files::RepoFiles;
use git_deep_review::config::CliOverrides;
use git_deep_review::engine::remote::wire::Client;
use git_deep_review::git::diff::{text_hunks, LineKind};
use git_deep_review::hook::parse_push_lines;
use git_deep_review::verify::ask;
use proptest::prelude::*;
use serde_json::json;

use crate::fuzz;

fn chunk_files() -> Vec<(String, Vec<u32>)> {
    vec![
        ("src/a.rs".to_string(), (1..=20).collect()),
        ("lib/b.py".to_string(), vec![5, 6, 7]),
    ]
}

/// A finding as the round trip compares it: file, line, title.
type Seen = (String, u32, String);

/// Checks what holds of every parsed review, whatever the input.
fn check_review(text: &str) -> Result<Option<Vec<Seen>>, TestCaseError> {
    let Ok(parsed) = parse_review("r", 0, text, &chunk_files()) else {
        return Ok(None);
    };
    prop_assert!(parsed.findings.len() + parsed.rejected.len() <= MAX_FINDINGS_PER_REVIEW);
    for f in &parsed.findings {
        let i = &f.issue;
        prop_assert!(
            i.line_start >= 1 && i.line_start as i64 <= MAX_LINE,
            "{:?}",
            i
        );
        prop_assert!(i.line_end >= i.line_start, "{:?}", i);
        prop_assert!(i.line_end - i.line_start <= MAX_SPAN, "{:?}", i);
        prop_assert!(!i.title.is_empty());
        prop_assert!(i.title.chars().count() <= MAX_TITLE_CHARS + 1);
        prop_assert!(!i.title.chars().any(char::is_control), "{:?}", i.title);
        prop_assert!(!i.file.is_empty());
    }
    Ok(Some(
        parsed
            .findings
            .iter()
            .map(|f| {
                (
                    f.issue.file.clone(),
                    f.issue.line_start,
                    f.issue.title.clone(),
                )
            })
            .collect(),
    ))
}

#[test]
fn findings_arbitrary_text_never_panics() {
    fuzz("findings text", 2000, any::<String>(), |text| {
        check_review(&text)?;
        let _ = close_truncated(&text);
        Ok(())
    });
}

/// A finding as a model might write it: sometimes valid, often not.
fn finding() -> impl Strategy<Value = serde_json::Value> {
    let sev = prop_oneof![
        Just(json!("critical")),
        Just(json!("important")),
        Just(json!("suggestion")),
        Just(json!("High ")),
        Just(json!("urgent")),
        Just(json!(3)),
    ];
    let kind = prop_oneof![
        Just(json!("regression")),
        Just(json!("gap")),
        Just(json!("consequence")),
        Just(json!("other")),
        Just(serde_json::Value::Null),
    ];
    let file = prop_oneof![
        Just(json!("src/a.rs")),
        Just(json!("./a.rs")),
        Just(json!("b/lib/b.py")),
        Just(json!("C:\\src\\a.rs")),
        Just(json!("")),
        any::<String>().prop_map(|s| json!(s)),
    ];
    let line = prop_oneof![
        (1i64..=20).prop_map(|l| json!(l)),
        (1i64..=20).prop_map(|l| json!(l.to_string())),
        any::<i64>().prop_map(|l| json!(l)),
        any::<f64>().prop_map(|l| json!(l)),
        Just(json!("twelve")),
    ];
    let end = prop::option::of(prop_oneof![
        any::<i64>().prop_map(|l| json!(l)),
        (1i64..=40).prop_map(|l| json!(l)),
    ]);
    let title = prop_oneof![
        "[A-Za-z][A-Za-z0-9 ]{0,30}[A-Za-z]".prop_map(|s| json!(s)),
        any::<String>().prop_map(|s| json!(s)),
        Just(json!("")),
    ];
    (
        sev,
        kind,
        file,
        line,
        end,
        title,
        any::<String>(),
        any::<String>(),
    )
        .prop_map(|(sev, kind, file, line, end, title, text, cause)| {
            let mut f = json!({"severity": sev, "kind": kind, "file": file, "line": line,
                "title": title, "explanation": text, "fix": "x", "quote": text, "cause": cause});
            if let Some(e) = end {
                f["end_line"] = e;
            }
            f
        })
}

#[test]
fn findings_structured_answers_keep_lines_in_bounds() {
    let wrap = prop_oneof![
        Just(("", "")),
        Just(("Here you go:\n```json\n", "\n```")),
        Just(("{\"x\": 1} then ", " and {")),
    ];
    fuzz(
        "findings structured",
        1000,
        (prop::collection::vec(finding(), 0..60), any::<bool>(), wrap),
        |(findings, bare, (before, after))| {
            let doc = if bare {
                json!(findings)
            } else {
                json!({ "findings": findings })
            };
            check_review(&format!("{before}{doc}{after}"))?;
            Ok(())
        },
    );
}

/// A finding the parser must keep exactly as written.
fn valid_finding() -> impl Strategy<Value = (String, u32, String)> {
    (
        prop_oneof![Just("src/a.rs"), Just("lib/b.py")],
        1u32..=20,
        "[A-Za-z][A-Za-z0-9 ]{0,30}[A-Za-z]",
    )
        .prop_map(|(f, l, t)| (f.to_string(), l, t))
}

fn answer(findings: &[(String, u32, String)]) -> String {
    let items: Vec<_> = findings
        .iter()
        .map(|(file, line, title)| {
            json!({"severity": "important", "kind": "regression", "file": file,
                "line": line, "title": title, "explanation": "why \"quoted\" {braces}",
                "fix": "fix [it]", "quote": "let x = \"}\";"})
        })
        .collect();
    json!({ "findings": items }).to_string()
}

#[test]
fn findings_a_valid_answer_round_trips_and_any_prefix_keeps_only_whole_findings() {
    fuzz(
        "findings round trip",
        500,
        (
            prop::collection::vec(valid_finding(), 0..8),
            any::<prop::sample::Index>(),
        ),
        |(findings, cut)| {
            let text = answer(&findings);
            prop_assert_eq!(check_review(&text)?, Some(findings.clone()));
            // An answer cut by its token budget: the findings read from it
            // are the whole ones before the cut, in order, and nothing else.
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if let Some(got) = check_review(&text[..at])? {
                prop_assert!(
                    findings.starts_with(&got),
                    "cut at {}: {:?} is not a prefix of {:?}",
                    at,
                    got,
                    findings
                );
            }
            Ok(())
        },
    );
}

#[test]
fn verifier_answers_never_panic_and_valid_ones_round_trip() {
    fuzz("verify arbitrary", 2000, any::<String>(), |text| {
        let _ = ask::parse(&text);
        Ok(())
    });
    let verdict = prop_oneof![Just("confirmed"), Just("refuted"), Just("uncertain")];
    let fence = prop_oneof![
        Just(("", "")),
        Just(("```json\n", "\n```")),
        Just(("\n ", " \n"))
    ];
    fuzz(
        "verify round trip",
        1000,
        (verdict, "(?s).{0,300}", fence),
        |(verdict, reason, (open, close))| {
            let text = format!(
                "{open}{}{close}",
                json!({"verdict": verdict, "reason": reason})
            );
            let (status, why) = ask::parse(&text).map_err(TestCaseError::fail)?;
            prop_assert_eq!(status.as_str(), verdict);
            let want = sanitize_text(&reason, ask::REASON_CHARS, false);
            prop_assert_eq!(why.as_str(), want.trim());
            Ok(())
        },
    );
}

#[test]
fn chat_templates_and_terminal_text_never_panic() {
    use git_deep_review::engine::template;
    fuzz(
        "templates and text",
        2000,
        (any::<String>(), 0usize..64),
        |(t, max)| {
            let _ = template::family(&t);
            let _ = template::think_style(&t);
            for multiline in [false, true] {
                let s = sanitize_text(&t, max, multiline);
                prop_assert!(s.chars().count() <= max + 1);
                prop_assert!(
                    !s.chars()
                        .any(|c| c.is_control() && !(multiline && c == '\n')),
                    "{:?}",
                    s
                );
            }
            let e = git_deep_review::check::findings::escape_control(&t);
            prop_assert!(!e.chars().any(char::is_control), "{:?}", e);
            Ok(())
        },
    );
}

const VALID_CONFIG: &str = r#"[[reviewer]]
name = "correctness"
model = "smollm2-135m"
prompt = "correctness.md"
seed = 42
temperature = 0.0
top_k = 40
top_p = 0.95
max_tokens = "auto"
think = "auto"
think_tokens = 1024

[[reviewer]]
name = "robustness"
model = "gemma3-270m"
prompt = "robustness.md"

[review]
lead = "smollm2-135m"
ignore = ["docs/generated/**"]
context_lines = 3
chunk_tokens = 2048
context = "on"
context_tokens = 4096
max_findings = 8
time_budget = "10m"
on_timeout = "allow"
instructions_max_bytes = 8192
threads = 8
batch_decode = "auto"
max_memory = "8GB"
verify = "auto"
verify_votes = 1

[gate]
enabled = true
block_on = "critical"
min_agreement = 2
on_reviewer_failure = "block"
unreviewable = "block"
count_uncertain = true

[cache]
max_size = "200MB"
"#;

/// The repository's `.deep-review.toml` is `text`: loading is `Ok` or a
/// configuration error (exit 2), never a panic.
fn load_config(dir: &std::path::Path, text: &str) -> Result<bool, TestCaseError> {
    std::fs::write(dir.join(".deep-review.toml"), text).unwrap();
    match git_deep_review::config::load(
        &RepoFiles::work_tree(dir),
        None,
        &CliOverrides::default(),
        &|_| true,
    ) {
        Ok(_) => Ok(true),
        Err(e) => {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
            Ok(false)
        }
    }
}

#[test]
fn config_files_load_or_fail_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".deep-review.toml"), VALID_CONFIG).unwrap();
    if let Err(e) = git_deep_review::config::load(
        &RepoFiles::work_tree(dir.path()),
        None,
        &CliOverrides::default(),
        &|_| true,
    ) {
        panic!("the sample is valid: {e}");
    }
    fuzz("config arbitrary", 500, any::<String>(), |text| {
        load_config(dir.path(), &text).map(|_| ())
    });
    // Edits of the valid file: a value or a line replaced, a line dropped
    // or repeated, a cut.
    let values = prop_oneof![
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("1e400".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("\"\"".to_string()),
        Just("\"-5s\"".to_string()),
        Just("\"99999999999999999999h\"".to_string()),
        Just("\"1e30GB\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("nan".to_string()),
        Just("\"\u{0}\u{1b}[31m\"".to_string()),
        any::<String>().prop_map(|s| format!("{s:?}")),
    ];
    let lines = VALID_CONFIG.lines().count();
    fuzz(
        "config edits",
        300,
        (
            prop::collection::vec((0..lines, values, 0..4u8), 1..4),
            prop::option::of(0..VALID_CONFIG.len()),
        ),
        |(edits, cut)| {
            let mut ls: Vec<String> = VALID_CONFIG.lines().map(str::to_string).collect();
            for (i, v, how) in edits {
                let i = i % ls.len();
                match how {
                    0 => {
                        if let Some((k, _)) = ls[i].clone().split_once(" = ") {
                            ls[i] = format!("{k} = {v}");
                        }
                    }
                    1 => ls[i] = v,
                    2 => {
                        ls.remove(i);
                        if ls.is_empty() {
                            ls.push(String::new());
                        }
                    }
                    _ => ls.insert(i, ls[i].clone()),
                }
            }
            let mut text = ls.join("\n");
            if let Some(c) = cut {
                let mut c = c.min(text.len());
                while !text.is_char_boundary(c) {
                    c -= 1;
                }
                text.truncate(c);
            }
            load_config(dir.path(), &text).map(|_| ())
        },
    );
}

#[test]
fn diff_hunks_rebuild_the_new_text_from_the_old() {
    let line = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("}".to_string()),
        Just(String::new()),
        Just("a\r".to_string()),
        Just("\u{0}\u{ff}".to_string()),
        any::<String>().prop_map(|s| s.replace('\n', " ")),
    ];
    let text = (prop::collection::vec(line, 0..30), any::<bool>()).prop_map(|(ls, nl)| {
        let mut t = ls.join("\n");
        if nl && !t.is_empty() {
            t.push('\n');
        }
        t.into_bytes()
    });
    let bytes = prop::collection::vec(any::<u8>(), 0..200);
    let input = prop_oneof![(text.clone(), text), (bytes.clone(), bytes),];
    fuzz("diff", 1000, (input, 0u32..5), |((old, new), context)| {
        let (hunks, adds, dels) = text_hunks(&old, &new, context);
        let split = |b: &[u8]| -> Vec<String> {
            let mut v: Vec<String> = b
                .split_inclusive(|&c| c == b'\n')
                .map(|l| {
                    let l = l.strip_suffix(b"\n").unwrap_or(l);
                    let l = l.strip_suffix(b"\r").unwrap_or(l);
                    String::from_utf8_lossy(l).into_owned()
                })
                .collect();
            if b.is_empty() {
                v.clear();
            }
            v
        };
        let (old_l, new_l) = (split(&old), split(&new));
        // Applying the hunks to the old lines gives the new lines.
        let mut rebuilt = Vec::new();
        let mut o = 0usize;
        let (mut a, mut d) = (0u32, 0u32);
        for h in &hunks {
            // Git's start is the line before an empty range (0 at the top).
            let before = if h.old_lines == 0 {
                h.old_start
            } else {
                h.old_start - 1
            } as usize;
            prop_assert!(before >= o, "hunks overlap or go back");
            while o < before {
                rebuilt.push(old_l[o].clone());
                o += 1;
            }
            for l in &h.lines {
                match l.kind {
                    LineKind::Context => {
                        prop_assert_eq!(&old_l[o], &l.text);
                        rebuilt.push(l.text.clone());
                        o += 1;
                    }
                    LineKind::Removed => {
                        prop_assert_eq!(&old_l[o], &l.text);
                        o += 1;
                        d += 1;
                    }
                    LineKind::Added => {
                        let n = l.new_line.unwrap() as usize;
                        prop_assert!(n >= 1 && n <= new_l.len());
                        prop_assert_eq!(&new_l[n - 1], &l.text);
                        rebuilt.push(l.text.clone());
                        a += 1;
                    }
                }
            }
        }
        rebuilt.extend(old_l[o..].iter().cloned());
        prop_assert_eq!(&rebuilt, &new_l);
        prop_assert_eq!((a, d), (adds, dels));
        Ok(())
    });
}

#[test]
fn pre_push_lines_parse_or_fail_with_exit_2() {
    fuzz(
        "push arbitrary",
        2000,
        prop::collection::vec(any::<String>(), 0..4),
        |lines| {
            if let Err(e) = parse_push_lines(&lines) {
                prop_assert_eq!(e.exit_code(), 2);
            }
            Ok(())
        },
    );
    // SHA-1 ids only: this build reads SHA-1 repositories (a 64-digit id
    // is refused as usage, which the arbitrary property covers).
    let sha = prop_oneof!["[0-9a-f]{40}", Just("0".repeat(40)), "[0-9A-F]{40}"];
    let refname = "refs/(heads|tags)/[a-z0-9._/-]{1,12}";
    let update = (refname, sha.clone(), refname, sha, "[ \t]{1,3}", "\r?");
    fuzz(
        "push round trip",
        1000,
        prop::collection::vec(update, 0..5),
        |updates| {
            let lines: Vec<String> = updates
                .iter()
                .map(|(lr, ls, rr, rs, sep, cr)| format!("{lr}{sep}{ls} {rr}{sep}{rs}{cr}"))
                .collect();
            let parsed =
                parse_push_lines(&lines).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parsed.len(), updates.len());
            for (p, (lr, ls, rr, rs, _, _)) in parsed.iter().zip(&updates) {
                prop_assert_eq!(&p.local_ref, lr);
                prop_assert_eq!(&p.remote_ref, rr);
                prop_assert_eq!(p.local_sha.to_string(), ls.to_lowercase());
                prop_assert_eq!(p.remote_sha.to_string(), rs.to_lowercase());
            }
            Ok(())
        },
    );
}

const KEY: &str = "sk-fuzz-secret-0123456789";

fn client() -> Client {
    Client::new(
        Some(KEY.to_string()),
        std::time::Duration::from_secs(5),
        None,
    )
    .unwrap()
}

#[test]
fn endpoint_bodies_never_panic_and_never_echo_the_key() {
    let c = client();
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        any::<String>().prop_map(|s| format!("data: {s}\n\n").into_bytes()),
        any::<String>().prop_map(|s| format!(
            "data: {{\"error\": {{\"message\": \"{KEY} {s:?}\"}}}}\n\n"
        )
        .into_bytes()),
        any::<String>().prop_map(|s| format!(
            "data: {}\n\ndata: {{\"error\": \"{KEY}\"}}\n\n",
            json!({"choices": [{"delta": {"content": s}}]})
        )
        .into_bytes()),
    ];
    fuzz(
        "endpoint arbitrary",
        2000,
        (body, any::<bool>()),
        |(body, sse)| {
            if let Err(msg) = c.parse_completion_body(&body, sse) {
                prop_assert!(!msg.contains(KEY), "{}", msg);
            }
            Ok(())
        },
    );
}

#[test]
fn endpoint_streams_and_completions_round_trip() {
    let c = client();
    let piece = any::<String>();
    fuzz(
        "endpoint round trip",
        1000,
        (
            prop::collection::vec(piece, 0..8),
            "(?s).{0,40}",
            prop_oneof![Just("stop"), Just("length")],
            any::<bool>(),
        ),
        |(pieces, thinking, finish, sse)| {
            let content: String = pieces.concat();
            let got = if sse {
                let mut body = String::from(": keep-alive\n\nevent: message\n");
                body.push_str(&format!(
                    "data: {}\n\n",
                    json!({"choices": [{"delta": {"reasoning_content": thinking}}]})
                ));
                for p in &pieces {
                    body.push_str(&format!(
                        "data:{}\r\n\r\n",
                        json!({"choices": [{"delta": {"content": p}}]})
                    ));
                }
                body.push_str(&format!(
                    "data: {}\n\n",
                    json!({"choices": [{"delta": {}, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
                ));
                body.push_str("data: [DONE]\n\n");
                c.parse_completion_body(body.as_bytes(), true)
            } else {
                let body = json!({"choices": [{"message": {"content": content,
                    "reasoning_content": thinking}, "finish_reason": finish}]});
                c.parse_completion_body(body.to_string().as_bytes(), false)
            };
            let got = got.map_err(TestCaseError::fail)?;
            prop_assert_eq!(&got.content, &content);
            prop_assert_eq!(&got.reasoning, &thinking);
            prop_assert_eq!(got.finish_reason.as_deref(), Some(finish));
            if sse {
                prop_assert_eq!(got.prompt_tokens, Some(7));
                prop_assert_eq!(got.deltas, pieces.iter().filter(|p| !p.is_empty()).count());
            }
            Ok(())
        },
    );
}
