//! Validation of model output and grounding against the reviewed diff,
//! on hand-written data (no model).

use git_deep_review::check::findings::{
    parse_review, Finding, Issue, Kind, Severity, MAX_FINDINGS_PER_REVIEW, MAX_QUOTE_CHARS,
    MAX_TEXT_CHARS, MAX_TITLE_CHARS,
};
use git_deep_review::check::grounding::{
    excerpt, ground, hunk_ranges, HunkRanges, UngroundedReason, LINE_TOLERANCE,
};
use std::collections::HashMap;

const FILE: &str = "fn main() {\n    let x = compute(1,  2);\n    println!(\"{x}\");\n}\n\nfn compute(a: u32, b: u32) -> u32 {\n    a + b\n}\n";

fn finding(file: &str, start: u32, end: u32, quote: &str) -> Finding {
    Finding {
        reviewer: "r".into(),
        chunk: 0,
        issue: Issue {
            severity: Severity::Important,
            kind: Kind::Regression,
            file: file.into(),
            line_start: start,
            line_end: end,
            title: "t".into(),
            explanation: String::new(),
            fix: String::new(),
            quote: quote.into(),
            cause: None,
        },
    }
}

fn setup() -> (HashMap<String, HunkRanges>, HashMap<String, String>) {
    let hunks = HashMap::from([("src/main.rs".to_string(), vec![(6, 8)])]);
    let contents = HashMap::from([("src/main.rs".to_string(), FILE.to_string())]);
    (hunks, contents)
}

fn reason_of(f: Finding) -> Option<UngroundedReason> {
    let (h, c) = setup();
    let g = ground(vec![f], &h, &c);
    g.ungrounded.into_iter().next().map(|u| u.reason)
}

#[test]
fn file_outside_the_diff_is_ungrounded() {
    assert_eq!(
        reason_of(finding("src/other.rs", 6, 6, "")),
        Some(UngroundedReason::FileNotInDiff)
    );
}

#[test]
fn lines_must_be_in_or_next_to_a_hunk() {
    assert_eq!(reason_of(finding("src/main.rs", 7, 7, "")), None);
    // Hunk is 6..=8 in a 8-line file: use a bigger range to probe tolerance.
    let hunks = HashMap::from([("big.rs".to_string(), vec![(100, 110)])]);
    let contents = HashMap::new();
    let probe = |s, e| {
        ground(vec![finding("big.rs", s, e, "")], &hunks, &contents)
            .ungrounded
            .len()
    };
    assert_eq!(probe(110 + LINE_TOLERANCE, 120), 0);
    assert_eq!(probe(110 + LINE_TOLERANCE + 1, 120), 1);
    assert_eq!(probe(90, 100 - LINE_TOLERANCE), 0);
    assert_eq!(probe(90, 100 - LINE_TOLERANCE - 1), 1);
    // A range spanning the whole hunk is fine.
    assert_eq!(probe(50, 150), 0);
}

#[test]
fn line_past_end_of_file_is_ungrounded() {
    let hunks = HashMap::from([("src/main.rs".to_string(), vec![(6, 8)])]);
    let contents = HashMap::from([("src/main.rs".to_string(), FILE.to_string())]);
    let g = ground(vec![finding("src/main.rs", 10, 10, "")], &hunks, &contents);
    assert_eq!(
        g.ungrounded[0].reason,
        UngroundedReason::PastEndOfFile { file_lines: 8 }
    );
}

#[test]
fn quote_is_checked_against_the_file_at_head() {
    // Re-indented and with collapsed spaces: still found.
    assert_eq!(
        reason_of(finding(
            "src/main.rs",
            6,
            7,
            "fn compute(a: u32, b: u32) -> u32 {\na + b"
        )),
        None
    );
    assert_eq!(
        reason_of(finding("src/main.rs", 6, 7, "let x = compute(1, 2);")),
        None
    );
    // Diff markers copied from the prompt.
    assert_eq!(
        reason_of(finding(
            "src/main.rs",
            6,
            7,
            "+fn compute(a: u32, b: u32) -> u32 {\n+    a + b"
        )),
        None
    );
    // Elided middle.
    assert_eq!(
        reason_of(finding(
            "src/main.rs",
            6,
            8,
            "fn compute(a: u32, b: u32) -> u32 {\n// ...\n}"
        )),
        None
    );
    // Invented code.
    assert_eq!(
        reason_of(finding("src/main.rs", 6, 7, "a.checked_add(b).unwrap()")),
        Some(UngroundedReason::QuoteNotFound)
    );
    // An elision marker alone proves nothing.
    assert_eq!(
        reason_of(finding("src/main.rs", 6, 7, "...")),
        Some(UngroundedReason::QuoteNotFound)
    );
}

#[test]
fn grounding_keeps_order_and_splits_everything() {
    let (h, c) = setup();
    let input = vec![
        finding("src/main.rs", 6, 6, ""),
        finding("nope.rs", 1, 1, ""),
        finding("src/main.rs", 7, 8, "a + b"),
    ];
    let g = ground(input, &h, &c);
    assert_eq!(g.grounded.len(), 2);
    assert_eq!(g.grounded[1].line_start, 7);
    assert_eq!(g.ungrounded.len(), 1);
    assert_eq!(g.ungrounded[0].finding.file, "nope.rs");
}

#[test]
fn excerpt_is_the_exact_repository_lines() {
    assert_eq!(
        excerpt(FILE, 6, 7, 40),
        "fn compute(a: u32, b: u32) -> u32 {\n    a + b"
    );
    assert_eq!(excerpt(FILE, 7, 100, 40), "    a + b\n}");
    assert_eq!(
        excerpt(FILE, 1, 8, 2),
        "fn main() {\n    let x = compute(1,  2);"
    );
    assert_eq!(excerpt(FILE, 50, 60, 40), "");
    assert_eq!(excerpt("a\r\nb\r\n", 1, 2, 40), "a\nb");
    assert_eq!(excerpt(FILE, 0, 1, 40), "fn main() {");
}

fn raw(findings: &str) -> String {
    format!("{{\"findings\": [{findings}]}}")
}

fn item(body: &str) -> String {
    format!(
        "{{\"file\":\"src/main.rs\",\"severity\":\"important\",\"kind\":\"regression\",\"title\":\"T\",\"explanation\":\"E\",{body}}}"
    )
}

fn one(body: &str) -> String {
    raw(&item(body))
}

fn files() -> Vec<(String, Vec<u32>)> {
    vec![
        ("src/main.rs".to_string(), (1..=8).collect()),
        ("lib/util/mod.rs".to_string(), vec![3, 4]),
        ("app/util/mod.rs".to_string(), vec![30]),
    ]
}

#[test]
fn absurd_line_numbers_are_rejected_or_clamped() {
    for (body, why) in [
        ("\"line\":0", "line 0"),
        ("\"line\":-5", "line -5"),
        ("\"line\":99999999999", "absurdly large"),
        ("\"line\":\"seven\"", "non-integer"),
    ] {
        let p = parse_review("r", 0, &one(body), &files()).unwrap();
        assert!(p.findings.is_empty(), "{body}");
        assert!(
            p.rejected[0].reason.contains(why),
            "{body}: {}",
            p.rejected[0].reason
        );
    }
    let p = parse_review("r", 0, &one("\"line\":7,\"end_line\":3"), &files()).unwrap();
    assert_eq!((p.findings[0].line_start, p.findings[0].line_end), (7, 7));
    let p = parse_review(
        "r",
        0,
        &one("\"line\":\"7\",\"end_line\":4000000"),
        &files(),
    )
    .unwrap();
    assert_eq!(p.findings[0].line_start, 7);
    assert_eq!(
        p.findings[0].line_end,
        7 + git_deep_review::check::findings::MAX_SPAN
    );
}

#[test]
fn unknown_severity_or_kind_is_rejected_and_synonyms_map_down() {
    let bad = raw(
        r#"{"file":"a","line":1,"severity":"catastrophic","kind":"regression","title":"T","explanation":""}"#,
    );
    let p = parse_review("r", 0, &bad, &[]).unwrap();
    assert!(p.rejected[0].reason.contains("unknown severity"));
    let bad = raw(
        r#"{"file":"a","line":1,"severity":"minor","kind":"vibes","title":"T","explanation":""}"#,
    );
    assert!(parse_review("r", 0, &bad, &[]).unwrap().rejected[0]
        .reason
        .contains("unknown kind"));
    let major =
        raw(r#"{"file":"a","line":1,"severity":"High","kind":"bug","title":"T","explanation":""}"#);
    let p = parse_review("r", 0, &major, &[]).unwrap();
    assert_eq!(p.findings[0].severity, Severity::Important);
    assert_eq!(p.findings[0].kind, Kind::Regression);
}

#[test]
fn ten_thousand_findings_and_megabyte_strings_are_capped() {
    let big = "x".repeat(1_000_000);
    let item = format!(
        r#"{{"file":"src/main.rs","line":2,"severity":"suggestion","kind":"gap","title":"{big}","explanation":"{big}","fix":"{big}","quote":"{big}"}}"#
    );
    let text = raw(&[item.as_str(); 3].join(","));
    let p = parse_review("r", 0, &text, &files()).unwrap();
    assert_eq!(p.findings.len(), 3);
    let f = &p.findings[0];
    assert!(f.title.chars().count() <= MAX_TITLE_CHARS + 1);
    assert!(f.explanation.chars().count() <= MAX_TEXT_CHARS + 1);
    assert!(f.fix.chars().count() <= MAX_TEXT_CHARS + 1);
    assert!(f.quote.chars().count() <= MAX_QUOTE_CHARS + 1);
    assert!(f.title.ends_with('…'), "clipping is visible");

    let small = r#"{"file":"src/main.rs","line":2,"severity":"suggestion","kind":"gap","title":"T","explanation":"E"}"#;
    let text = raw(&vec![small; 10_000].join(","));
    let p = parse_review("r", 0, &text, &files()).unwrap();
    assert_eq!(p.findings.len(), MAX_FINDINGS_PER_REVIEW);
    assert_eq!(p.dropped_over_limit, 10_000 - MAX_FINDINGS_PER_REVIEW);
}

#[test]
fn control_characters_are_stripped_and_text_trimmed() {
    let text = raw(
        r#"{"file":" ./src/main.rs ","line":2,"severity":"important","kind":"gap","title":"  Bad\u001b[31m red\nline ","explanation":"a\r\nb\u0007","quote":"\u202Ex"}"#,
    );
    let f = &parse_review("r", 0, &text, &files()).unwrap().findings[0];
    assert_eq!(f.file, "src/main.rs");
    assert_eq!(f.title, "Bad[31m red line");
    assert_eq!(f.explanation, "a\nb");
    // The quote is compared with the file byte for byte: only clipped.
    assert_eq!(f.quote, "\u{202E}x");
}

#[test]
fn sloppy_paths_resolve_to_chunk_files() {
    let mk = |path: &str, line: u32| {
        raw(&format!(
            r#"{{"file":"{path}","line":{line},"severity":"important","kind":"gap","title":"T","explanation":"E"}}"#
        ))
    };
    let path = |path: &str, line| {
        parse_review("r", 0, &mk(path, line), &files())
            .unwrap()
            .findings[0]
            .file
            .clone()
    };
    assert_eq!(path("b/src/main.rs", 1), "src/main.rs");
    assert_eq!(path("main.rs", 1), "src/main.rs");
    // Ambiguous suffix: decided by which file's reviewed lines hold the line.
    assert_eq!(path("util/mod.rs", 30), "app/util/mod.rs");
    assert_eq!(path("util/mod.rs", 3), "lib/util/mod.rs");
    assert_eq!(path("util/mod.rs", 99), "util/mod.rs");
    assert_eq!(path("elsewhere.rs", 1), "elsewhere.rs");
}

#[test]
fn unusable_output_is_an_error_and_json_in_prose_is_found() {
    assert!(parse_review("r", 0, "I found no issues.", &[]).is_err());
    assert!(parse_review("r", 0, r#"{"issues": []}"#, &[]).is_err());
    assert!(parse_review("r", 0, r#"{"findings": 3}"#, &[]).is_err());
    let wrapped = format!("Here you go:\n```json\n{}\n```\n", one("\"line\":2"));
    assert_eq!(
        parse_review("r", 0, &wrapped, &files())
            .unwrap()
            .findings
            .len(),
        1
    );
    let empty = parse_review("r", 0, r#"{"findings": []}"#, &[]).unwrap();
    assert!(empty.findings.is_empty() && empty.rejected.is_empty());
    // One malformed entry does not sink the others.
    let mixed = raw(&format!("42, {}", item("\"line\":2")));
    let p = parse_review("r", 0, &mixed, &files()).unwrap();
    assert_eq!((p.findings.len(), p.rejected.len()), (1, 1));
}

#[test]
fn hunk_ranges_come_from_the_plan() {
    use git_deep_review::git::diff::{FileDiff, FileStatus, Hunk};
    use git_deep_review::git::range::ReviewRange;
    use git_deep_review::plan::ReviewPlan;
    let hunk = |new_start, new_lines| Hunk {
        old_start: 1,
        old_lines: 1,
        new_start,
        new_lines,
        lines: vec![],
        enclosing: None,
    };
    let plan = ReviewPlan {
        range: ReviewRange {
            spec: "a..b".into(),
            base: None,
            head: gix::ObjectId::null(gix::hash::Kind::Sha1),
            branch: None,
            commits: vec![],
        },
        files: vec![FileDiff {
            path: "x.rs".into(),
            status: FileStatus::Modified,
            binary: false,
            additions: 1,
            deletions: 1,
            hunks: vec![hunk(10, 7), hunk(40, 0)],
            language: None,
        }],
        skipped: vec![],
        unfit: vec![],
        chunks: vec![],
    };
    assert_eq!(hunk_ranges(&plan)["x.rs"], vec![(10, 16), (40, 40)]);
}

#[test]
fn a_long_quote_clipped_by_validation_still_grounds() {
    let text: String = (1..=200)
        .map(|i| format!("    let value_{i} = {i};\n"))
        .collect();
    let quote = text.lines().take(120).collect::<Vec<_>>().join("\n");
    assert!(quote.chars().count() > MAX_QUOTE_CHARS);
    let body = serde_json::json!({"findings": [{
        "file": "big.rs", "line": 1, "end_line": 120, "severity": "suggestion",
        "kind": "gap", "title": "T", "explanation": "E", "quote": quote,
    }]});
    let files = vec![("big.rs".to_string(), (1..=200).collect())];
    let parsed = parse_review("r", 0, &body.to_string(), &files).unwrap();
    assert!(parsed.findings[0].quote.ends_with('…'));
    let hunks = HashMap::from([("big.rs".to_string(), vec![(1, 200)])]);
    let contents = HashMap::from([("big.rs".to_string(), text)]);
    let g = ground(parsed.findings, &hunks, &contents);
    assert_eq!(g.grounded.len(), 1, "{:?}", g.ungrounded);
}
