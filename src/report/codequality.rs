//! `--format codequality`: GitLab's Code Quality report, so the findings
//! show in the merge request (`artifacts: reports: codequality:` in
//! `.gitlab-ci.yml`).
//!
//! The format is a JSON array of issues; GitLab reads `description`,
//! `check_name`, `fingerprint`, `severity` (`info`, `minor`, `major`,
//! `critical`, `blocker`), `location.path` (relative to the repository
//! root, no `./`) and `location.lines.begin`, and ignores the rest of the
//! Code Climate fields. tests/codequality.schema.json holds those fields as a
//! JSON schema, which the tests check the output against.

use super::model::ReviewReport;
use super::sarif::fingerprint;
use crate::check::findings::Severity;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Most characters of an issue's description (GitLab shows it on one line
/// in the merge request widget; the full text is in the other formats).
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;

/// GitLab's severity for ours: a critical finding blocks like a failing
/// check (`critical`), an important one is `major`, a suggestion `minor`.
/// `blocker` is not used: a model's finding is never certain enough.
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Important => "major",
        Severity::Suggestion => "minor",
    }
}

/// The report as a Code Quality JSON array (pretty, trailing newline).
/// A demonstration review (bundled models only) says so in every
/// description, so no one takes its findings for a review's.
pub fn render(report: &ReviewReport) -> String {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let issues: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let c = &f.finding;
            let mut text = String::new();
            if report.demonstration_only {
                text.push_str("[Not a review: demonstration models only] ");
            }
            text.push_str(c.title.trim());
            if !c.explanation.is_empty() {
                text.push_str(" — ");
                text.push_str(c.explanation.trim());
            }
            if !c.fix.is_empty() {
                text.push_str(" Fix: ");
                text.push_str(c.fix.trim());
            }
            // One line: GitLab shows the description as a single line, and
            // the text comes from a model.
            let text: String = crate::text::sanitize_text(&text, MAX_DESCRIPTION_CHARS, false)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            // The same scheme as SARIF's partialFingerprints, so a finding
            // keeps its identity when lines move; GitLab needs it unique.
            let base = fingerprint(c.kind, &c.file, &f.excerpt, &c.title);
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            let path = c.file.trim_start_matches("./");
            json!({
                "type": "issue",
                "description": text,
                "check_name": format!("deep-review/{}", c.kind.as_str()),
                "fingerprint": format!("{base}:{n}"),
                "severity": severity(c.severity),
                "location": {
                    "path": path,
                    "lines": {
                        "begin": c.line_start.max(1),
                        "end": c.line_end.max(c.line_start).max(1),
                    }
                }
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&Value::Array(issues)).unwrap_or_default();
    s.push('\n');
    s
}
