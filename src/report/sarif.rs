//! `--format sarif`: SARIF 2.1.0, one result per consolidated finding, so
//! code-scanning tools can ingest the review.

use super::ReviewReport;
use crate::findings::{Kind, Severity};
use serde_json::{json, Value};

/// The SARIF schema the output declares.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "error",
        Severity::Important => "warning",
        Severity::Suggestion => "note",
    }
}

/// One rule per finding kind; results point at it by id.
fn rule_id(k: Kind) -> String {
    format!("deep-review/{}", k.as_str())
}

/// The report as a SARIF 2.1.0 log (pretty JSON, trailing newline).
pub fn render(report: &ReviewReport) -> String {
    let rules: Vec<Value> = [Kind::Regression, Kind::Gap, Kind::Enhancement]
        .iter()
        .map(|k| {
            json!({
                "id": rule_id(*k),
                "name": k.as_str(),
                "shortDescription": { "text": format!("Deep review finding: {}", k.as_str()) },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let c = &f.finding;
            let mut text = c.title.clone();
            if !c.explanation.is_empty() {
                text.push_str("\n\n");
                text.push_str(&c.explanation);
            }
            if !c.fix.is_empty() {
                text.push_str("\n\nFix: ");
                text.push_str(&c.fix);
            }
            json!({
                "ruleId": rule_id(c.kind),
                "level": level(c.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": c.file },
                        "region": {
                            "startLine": c.line_start.max(1),
                            "endLine": c.line_end.max(c.line_start).max(1),
                        }
                    }
                }],
                "properties": {
                    "severity": c.severity.as_str(),
                    "unconfirmed": c.unconfirmed,
                    "reviewers": c.reviewers,
                    "agreement": c.agreement,
                }
            })
        })
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "git-deep-review",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "automationDetails": { "id": report.id },
            "properties": {
                "verdict": report.verdict.verdict.label(),
                "verdictReason": report.verdict.reason,
                "range": report.range,
                "head": report.head,
            },
            "results": results,
        }]
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}
