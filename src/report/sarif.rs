//! `--format sarif`: SARIF 2.1.0, one result per consolidated finding, so
//! code-scanning tools can ingest the review.

use super::model::ReviewReport;
use crate::check::findings::{Kind, Severity};
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

/// A repository path as a relative URI reference (RFC 3986): every byte
/// but the unreserved characters and `/` is percent-encoded, so `#`, `?`,
/// `%`, blanks and control characters keep their meaning as file name
/// characters (`a b#1.py` → `a%20b%231.py`).
pub fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The report as a SARIF 2.1.0 log (pretty JSON, trailing newline).
pub fn render(report: &ReviewReport) -> String {
    let rules: Vec<Value> = [
        Kind::Regression,
        Kind::Gap,
        Kind::Enhancement,
        Kind::Consequence,
    ]
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
                        "artifactLocation": { "uri": uri_path(&c.file) },
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
                "verdict": report.verdict_label(),
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

#[cfg(test)]
mod tests {
    use super::uri_path;

    /// Decodes `%XX` escapes (the reading side of a SARIF consumer).
    fn decode(uri: &str) -> String {
        let b = uri.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn uris_are_percent_encoded_and_decode_back_to_the_path() {
        for path in [
            "src/a#b.py",
            "q?x.py",
            "with space/100% sure.py",
            "tab\there.rs",
            "esc\u{1b}[31m.py",
            "ünï/cödé.rs",
            "plain/dir-name_x.y~z.rs",
        ] {
            let uri = uri_path(path);
            assert!(
                uri.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)),
                "{path:?} -> {uri}"
            );
            assert_eq!(decode(&uri), path, "{uri}");
        }
        assert_eq!(uri_path("src/a#b.py"), "src/a%23b.py");
        assert_eq!(uri_path("q?x.py"), "q%3Fx.py");
        assert_eq!(uri_path("a b%.py"), "a%20b%25.py");
        assert_eq!(
            uri_path("plain/dir-name_x.y~z.rs"),
            "plain/dir-name_x.y~z.rs"
        );
    }
}
