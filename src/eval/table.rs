//! The scores as a terminal table (`--format json` is [`Scores`] itself).

use super::case::{Case, Source};
use super::score::{Precision, Recall, Scorecard, Scores, Tally};
use crate::check::findings::Severity;
use std::fmt::Write;

fn pct(t: &Tally) -> String {
    if t.total == 0 {
        "-".into()
    } else {
        format!("{:.0}%", t.recall() * 100.0)
    }
}

fn frac(t: Option<&Tally>) -> String {
    match t {
        Some(t) if t.total > 0 => format!("{}/{}", t.found, t.total),
        _ => "-".into(),
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1}", ms as f64 / 1000.0)
}

/// A column: its header and how a scorecard fills it.
type Column = (String, Box<dyn Fn(&Scorecard) -> String>);

/// The recall table's columns: each severity and source only when some
/// defect has it (a column of dashes says nothing).
fn recall_columns(s: &Scores) -> Vec<Column> {
    let mut cols: Vec<Column> = vec![
        (
            "found".into(),
            Box::new(|c: &Scorecard| format!("{}/{}", c.defects.found, c.defects.total)),
        ),
        ("recall".into(), Box::new(|c: &Scorecard| pct(&c.defects))),
    ];
    for sev in [
        Severity::Critical,
        Severity::Important,
        Severity::Suggestion,
    ] {
        if s.consolidated
            .by_severity
            .get(&sev)
            .is_some_and(|t| t.total > 0)
        {
            cols.push((
                sev.as_str().into(),
                Box::new(move |c: &Scorecard| frac(c.by_severity.get(&sev))),
            ));
        }
    }
    for (src, name) in [
        (Source::File, "file"),
        (Source::History, "history"),
        (Source::Mutant, "mutant"),
        (Source::Decoy, "decoy"),
    ] {
        if s.consolidated
            .by_source
            .get(&src)
            .is_some_and(|t| t.total > 0)
        {
            cols.push((
                name.into(),
                Box::new(move |c: &Scorecard| frac(c.by_source.get(&src))),
            ));
        }
    }
    cols.push((
        "findings".into(),
        Box::new(|c: &Scorecard| c.findings.to_string()),
    ));
    cols.push((
        "unconfirmed".into(),
        Box::new(|c: &Scorecard| c.unconfirmed.to_string()),
    ));
    cols.push((
        "failed".into(),
        Box::new(|c: &Scorecard| c.failed_cases.to_string()),
    ));
    cols
}

fn cost_row(c: &Scorecard, cases: usize) -> Vec<String> {
    vec![
        c.name.clone(),
        secs(c.cost.wall_ms),
        secs(c.cost.wall_ms / cases.max(1) as u64),
        c.cost.prompt_tokens.to_string(),
        c.cost.generated_tokens.to_string(),
        format!("{}/{}", c.cost.chunks_from_cache, c.cost.chunks),
    ]
}

fn render_rows(out: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// The whole result: a header line, the reviewers' table (then the union
/// and the consolidated review), the gate table, and cases not reviewed.
pub fn render(s: &Scores) -> String {
    let mut out = String::new();
    let sources: Vec<String> = s
        .cases_by_source
        .iter()
        .map(|(src, n)| {
            let name = match src {
                Source::File => "from the cases file",
                Source::History => "from history",
                Source::Mutant => "mutants",
                Source::Decoy => "decoys",
            };
            format!("{n} {name}")
        })
        .collect();
    let _ = writeln!(
        out,
        "eval: {} case(s) ({}), {} reviewed, {} known defect(s); a finding finds a defect in the same file within ±{} lines",
        s.cases,
        sources.join(", "),
        s.reviewed_cases,
        s.defects,
        s.tolerance
    );
    let _ = writeln!(out);
    let cols = recall_columns(s);
    let mut rows = vec![std::iter::once("reviewer".to_string())
        .chain(cols.iter().map(|(h, _)| h.clone()))
        .collect::<Vec<_>>()];
    let scored = |c: &Scorecard| {
        std::iter::once(c.name.clone())
            .chain(cols.iter().map(|(_, f)| f(c)))
            .collect::<Vec<_>>()
    };
    rows.extend(s.reviewers.iter().map(scored));
    rows.push(vec![
        "any reviewer".to_string(),
        format!("{}/{}", s.union.found, s.union.total),
        pct(&s.union),
    ]);
    rows.push(scored(&s.consolidated));
    render_rows(&mut out, &rows);
    if let Some(best) = &s.best_single {
        let _ = writeln!(
            out,
            "\nAll reviewers together find {:+.0} percentage points more than the best single reviewer ({best}).",
            s.union_gain.0 * 100.0
        );
    }
    let _ = writeln!(
        out,
        "\"unconfirmed\": findings on lines with no known defect (not necessarily wrong: the labels are incomplete)."
    );
    if s.verification.refuted > 0 {
        let _ = writeln!(
            out,
            "These counts include the {} finding(s) the verifier refuted; the precision table has both.",
            s.verification.refuted
        );
    }
    render_precision(&mut out, s);

    let _ = writeln!(
        out,
        "\nCost over the {} reviewed case(s) (consolidated: the whole review):",
        s.reviewed_cases
    );
    let mut crows = vec![[
        "reviewer",
        "time s",
        "s/case",
        "prompt tok",
        "gen tok",
        "cached chunks",
    ]
    .map(String::from)
    .to_vec()];
    crows.extend(s.reviewers.iter().map(|c| cost_row(c, s.reviewed_cases)));
    crows.push(cost_row(&s.consolidated, s.reviewed_cases));
    let v = &s.verification;
    if v.cases_verified > 0 {
        crows.push(vec![
            "verification".into(),
            secs(v.duration_ms),
            secs(v.duration_ms / v.cases_verified as u64),
            v.prompt_tokens.to_string(),
            v.generated_tokens.to_string(),
            "-".into(),
        ]);
    }
    render_rows(&mut out, &crows);
    if v.cases_verified > 0 {
        let _ = writeln!(
            out,
            "(the consolidated time includes verification; \"verification\" is per case verified)"
        );
    }

    let decoys = s.cases_by_source.get(&Source::Decoy).copied().unwrap_or(0) > 0;
    let _ = writeln!(
        out,
        "\nGate: cases blocked ({}) of {} reviewed, by gate.block_on and gate.min_agreement{}:",
        if decoys {
            "on a known defect / on a decoy"
        } else {
            "blocked on a known defect"
        },
        s.reviewed_cases,
        if s.verification.cases_verified > 0 {
            ", after verification"
        } else {
            ""
        }
    );
    let max_k = s.gate.iter().map(|g| g.min_agreement).max().unwrap_or(1);
    let mut grows = vec![std::iter::once("block_on".to_string())
        .chain((1..=max_k).map(|k| format!("agreement {k}")))
        .collect::<Vec<_>>()];
    for sev in [
        Severity::Critical,
        Severity::Important,
        Severity::Suggestion,
    ] {
        let mut r = vec![sev.as_str().to_string()];
        for k in 1..=max_k {
            let cell = s
                .gate
                .iter()
                .find(|g| g.block_on == sev && g.min_agreement == k)
                .map_or("-".into(), |g| {
                    if decoys {
                        format!(
                            "{} ({}/{})",
                            g.blocked, g.blocked_on_defect, g.blocked_on_decoy
                        )
                    } else {
                        format!("{} ({})", g.blocked, g.blocked_on_defect)
                    }
                });
            r.push(cell);
        }
        grows.push(r);
    }
    render_rows(&mut out, &grows);

    let skipped: Vec<_> = s
        .per_case
        .iter()
        .filter_map(|c| c.not_reviewed.as_ref().map(|w| (&c.id, w)))
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "\nNot reviewed (in no score):");
        for (id, why) in skipped {
            let _ = writeln!(out, "  {id}: {why}");
        }
    }
    out
}

fn ratio(r: Option<Recall>) -> String {
    r.map_or("-".into(), |r| format!("{:.0}%", r.0 * 100.0))
}

fn precision_cells(p: &Precision) -> Vec<String> {
    vec![
        p.true_positives.to_string(),
        p.false_positives.to_string(),
        p.false_positives_on_decoys.to_string(),
        ratio(p.precision),
        format!("{}/{}", p.defects.found, p.defects.total),
        pct(&p.defects),
    ]
}

/// Precision and recall, without and with verification (one row each),
/// and what verification did and cost; or why it did not run.
fn render_precision(out: &mut String, s: &Scores) {
    let judged = |src: Source| {
        s.per_case
            .iter()
            .filter(|c| c.source == src && c.not_reviewed.is_none())
            .count()
    };
    let (mutants, decoys) = (judged(Source::Mutant), judged(Source::Decoy));
    if mutants + decoys == 0 {
        let _ = writeln!(
            out,
            "\nPrecision: no mutant or decoy case was reviewed (it needs labels that are complete: --mutants, --decoys)."
        );
        return;
    }
    let v = &s.verification;
    let verified = s.consolidated.with_verification.is_some();
    let _ = writeln!(
        out,
        "\nPrecision on {mutants} mutant and {decoys} decoy case(s): a finding on a decoy, or on a mutant away from its defect, is a false positive (FP); recall is on every known defect:"
    );
    let mut head = vec!["reviewer".to_string()];
    if verified {
        head.push("verification".into());
    }
    head.extend(["TP", "FP", "on decoys", "precision", "found", "recall"].map(String::from));
    let mut rows = vec![head];
    for c in s.reviewers.iter().chain(std::iter::once(&s.consolidated)) {
        if verified {
            let mut r = vec![c.name.clone(), "without".into()];
            r.extend(precision_cells(&c.without_verification));
            rows.push(r);
            if let Some(w) = &c.with_verification {
                let mut r = vec![String::new(), "with".into()];
                r.extend(precision_cells(w));
                rows.push(r);
            }
        } else {
            let mut r = vec![c.name.clone()];
            r.extend(precision_cells(&c.without_verification));
            rows.push(r);
        }
    }
    render_rows(out, &rows);
    let not_run: Vec<String> = v
        .not_run
        .iter()
        .map(|(why, n)| format!("{why} ({n} case(s))"))
        .collect();
    if v.cases_verified > 0 {
        let _ = writeln!(
            out,
            "Verification ran on {} case(s): {} finding(s) checked, {} confirmed, {} refuted, {} uncertain ({} failed); it took {} s beside {} s of review ({}), {} prompt and {} generated tokens.",
            v.cases_verified,
            v.checked,
            v.confirmed,
            v.refuted,
            v.uncertain,
            v.failed,
            secs(v.duration_ms),
            secs(v.review_ms),
            match v.added_time {
                Some(r) => format!("+{:.0}%", r.0 * 100.0),
                None if v.review_chunks_from_cache > 0 => {
                    "no ratio: reviews came from the cache".into()
                }
                None => "-".into(),
            },
            v.prompt_tokens,
            v.generated_tokens
        );
        if !not_run.is_empty() {
            let _ = writeln!(out, "It did not run on: {}.", not_run.join("; "));
        }
    } else if !not_run.is_empty() {
        let _ = writeln!(
            out,
            "Verification did not run, so there are no numbers with it: {}. `--verify on` runs it.",
            not_run.join("; ")
        );
    } else {
        let _ = writeln!(
            out,
            "Verification had nothing to check (no consolidated finding): the numbers with it are those without."
        );
    }
}

/// The cases `--list` shows: one line per case, one per known defect.
pub fn cases(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        let base = c
            .base
            .map_or("(root)".to_string(), |b| b.to_hex_with_len(7).to_string());
        let _ = writeln!(
            out,
            "{}  {base}..{}  {}",
            c.id,
            c.head.to_hex_with_len(7),
            c.provenance
        );
        for d in &c.defects {
            let lines = if d.line_start == d.line_end {
                d.line_start.to_string()
            } else {
                format!("{}-{}", d.line_start, d.line_end)
            };
            let _ = writeln!(
                out,
                "    {}:{lines}  {}  {}",
                d.file,
                d.severity.as_str(),
                d.description
            );
        }
    }
    let _ = writeln!(out, "{} case(s)", cases.len());
    out
}
