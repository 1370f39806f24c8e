//! Benchmark of the data side of a review (no model): validation,
//! grounding, consolidation, verdict and rendering for a large synthetic
//! run. Prints figures; run with
//! `cargo run --release --example bench_report [files] [reviewers] [findings-per-chunk]`.

use git_deep_review::git::diff::{DiffLine, FileDiff, FileStatus, Hunk, LineKind};
use git_deep_review::git::range::ReviewRange;
use git_deep_review::plan::{Chunk, ChunkFile, ReviewPlan};
use git_deep_review::report::{assemble, markdown, sarif, ReportInput, StageTimings};
use git_deep_review::review::reviewers::{ChunkOutput, ReviewerInfo, ReviewerRun};
use std::collections::HashMap;
use std::time::Instant;

const TOPICS: &[&str] = &[
    "unwrap on user input panics when parsing fails",
    "integer addition can overflow for large lengths",
    "file handle is never closed on the error path",
    "missing test for the empty input case",
    "lock is held across an await point",
    "error message does not name the offending path",
];

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let files = args.first().copied().unwrap_or(20);
    let reviewers = args.get(1).copied().unwrap_or(3);
    let per_chunk = args.get(2).copied().unwrap_or(50);
    let lines_per_file = 300u32;

    let mut contents = HashMap::new();
    let mut diffs = Vec::new();
    for i in 0..files {
        let path = format!("src/mod{i}.rs");
        let text: String = (1..=lines_per_file)
            .map(|l| format!("    let v{l} = compute({l}, {i});\n"))
            .collect();
        let lines = text
            .lines()
            .enumerate()
            .map(|(n, t)| DiffLine {
                kind: LineKind::Added,
                old_line: None,
                new_line: Some(n as u32 + 1),
                text: t.to_string(),
            })
            .collect();
        diffs.push(FileDiff {
            path: path.clone(),
            status: FileStatus::Added,
            binary: false,
            additions: lines_per_file,
            deletions: 0,
            hunks: vec![Hunk {
                old_start: 0,
                old_lines: 0,
                new_start: 1,
                new_lines: lines_per_file,
                lines,
                enclosing: None,
            }],
            language: Some("rust".into()),
        });
        contents.insert(path, text);
    }
    let plan = ReviewPlan {
        range: ReviewRange {
            spec: "main..".into(),
            base: None,
            head: gix::ObjectId::null(gix::hash::Kind::Sha1),
            branch: Some("bench".into()),
            commits: vec![],
        },
        files: diffs,
        skipped: vec![],
        unfit: vec![],
        chunks: (0..files)
            .map(|i| Chunk {
                index: i,
                files: vec![ChunkFile {
                    file: i,
                    hunks: vec![0],
                    partial: false,
                }],
                est_tokens: 3000,
            })
            .collect(),
    };
    let runs: Vec<ReviewerRun> = (0..reviewers)
        .map(|r| ReviewerRun {
            info: ReviewerInfo {
                name: format!("reviewer{r}"),
                model: "bench".into(),
                model_file: "bench.gguf".into(),
                persona: "bench.md".into(),
                demonstration: false,
                endpoints: Vec::new(),
            },
            duration_ms: 1000,
            chunks: (0..files)
                .map(|c| {
                    let items: Vec<String> = (0..per_chunk)
                        .map(|k| {
                            let line = 1 + ((k * 7 + r) as u32 % (lines_per_file + 20));
                            format!(
                                r#"{{"file":"src/mod{c}.rs","line":{line},"severity":"important","kind":"regression","title":"{} ({k})","explanation":"Reviewer {r} says: {} at line {line}.","fix":"Handle it.","quote":"let v{line} = compute"}}"#,
                                TOPICS[k % TOPICS.len()],
                                TOPICS[(k + r) % TOPICS.len()]
                            )
                        })
                        .collect();
                    ChunkOutput {
                        chunk: c,
                        raw: format!("{{\"findings\":[{}]}}", items.join(",")),
                        ..Default::default()
                    }
                })
                .collect(),
            error: None,
        })
        .collect();
    let raw_bytes: usize = runs
        .iter()
        .flat_map(|r| r.chunks.iter().map(|c| c.raw.len()))
        .sum();
    let t = Instant::now();
    let checked = git_deep_review::check::check(&plan, &contents, runs);
    let report = assemble(ReportInput {
        plan: &plan,
        contents: &contents,
        checked,
        started: jiff::Zoned::now(),
        wall_clock_ms: 0,
        timings: StageTimings::default(),
        instructions_file: None,
        not_reviewed: Vec::new(),
    });
    let build = t.elapsed();
    let t = Instant::now();
    let md = markdown::render(&report);
    let render = t.elapsed();
    let t = Instant::now();
    let sarif = sarif::render(&report);
    let sarif_t = t.elapsed();
    let raw_findings = files * reviewers * per_chunk;
    let ungrounded: usize = report.retro.iter().map(|r| r.ungrounded).sum();
    println!("input: {files} files x {lines_per_file} lines, {reviewers} reviewers, {per_chunk} findings/chunk = {raw_findings} raw findings ({} KiB JSON)", raw_bytes / 1024);
    println!(
        "validate+ground+consolidate+verdict: {:.1} ms -> {} consolidated, {} ungrounded",
        build.as_secs_f64() * 1e3,
        report.findings.len(),
        ungrounded
    );
    println!(
        "markdown render: {:.1} ms ({} KiB)",
        render.as_secs_f64() * 1e3,
        md.len() / 1024
    );
    println!(
        "sarif render: {:.1} ms ({} KiB)",
        sarif_t.as_secs_f64() * 1e3,
        sarif.len() / 1024
    );
}
