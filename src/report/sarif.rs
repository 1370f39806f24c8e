//! `--format sarif`: SARIF 2.1.0, one result per consolidated finding, so
//! code-scanning tools can ingest the review.

use super::model::ReviewReport;
use crate::check::findings::{Kind, Severity};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The SARIF schema the output declares.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where the tool is described (SARIF `tool.driver.informationUri`): the
/// package's homepage when Cargo.toml names one, else its registry page.
pub const INFORMATION_URI: &str = match option_env!("CARGO_PKG_HOMEPAGE") {
    Some(h) if !h.is_empty() => h,
    _ => "https://crates.io/crates/git-deep-review",
};

/// The analysis category: code scanning reads `automationDetails.id` up to
/// its last `/` as the category, and closes the alerts of a category that
/// a later analysis of it no longer reports. A fixed category (the run id
/// after the `/`) makes each review replace the previous one's alerts.
pub const CATEGORY: &str = "deep-review";

/// The base every result's path is relative to: the repository's root
/// (the name CodeQL uses, which code scanning resolves to the checkout).
pub const SRCROOT: &str = "%SRCROOT%";

/// The key of [`fingerprint`] in `partialFingerprints` (versioned: a new
/// scheme gets a new key, so alerts are not matched across schemes).
pub const FINGERPRINT_KEY: &str = "deepReviewFinding/v1";

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

/// The rule's friendly name (Pascal case, as SARIF consumers expect).
fn rule_name(k: Kind) -> &'static str {
    match k {
        Kind::Regression => "Regression",
        Kind::Gap => "Gap",
        Kind::Enhancement => "Enhancement",
        Kind::Consequence => "Consequence",
    }
}

/// What a kind of finding means: the rule's full description and help
/// (code scanning shows them beside every alert of the rule).
fn rule_help(k: Kind) -> (&'static str, &'static str) {
    match k {
        Kind::Regression => (
            "The change breaks behaviour that worked before it.",
            "A reviewer model found that this change breaks something that worked before it: a \
             wrong result, a crash or a lost guarantee on a path the change touches. Read the \
             finding's explanation and the cited lines, fix the code or explain in the review \
             why the old behaviour was wrong.",
        ),
        Kind::Gap => (
            "The change leaves a case unhandled.",
            "A reviewer model found an input, error or state the changed code does not handle \
             (an empty list, a failed call, a missing file). Handle the case or document why it \
             cannot happen.",
        ),
        Kind::Enhancement => (
            "The change works but could be clearer, safer or faster.",
            "A reviewer model suggests an improvement to working code: clearer names, a simpler \
             structure, a cheaper algorithm. Apply it if you agree; it does not block a merge on \
             its own.",
        ),
        Kind::Consequence => (
            "Code the change did not touch is affected by it.",
            "A reviewer model found a problem in code outside the diff (shown to it as \
             read-only context) that follows from a changed line, such as a caller that now \
             passes the wrong type. The finding names the changed line it follows from.",
        ),
    }
}

/// Stable across runs and line shifts: the SHA-256 (first 32 hex digits)
/// of the rule, the path and the finding's code normalised (each excerpt
/// line trimmed, blank lines and inner whitespace runs collapsed), or of
/// its title folded to lowercase words when it has no excerpt, then `:N`
/// for the N-th finding with the same hash in this run. Line numbers are
/// left out, so lines added above a finding keep its alert open instead of
/// closing it and opening a new one; model wording is left out where the
/// code can stand for the finding, since a model words the same finding
/// differently from run to run.
pub fn fingerprint(kind: Kind, path: &str, excerpt: &str, title: &str) -> String {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let code: Vec<String> = excerpt
        .lines()
        .map(norm)
        .filter(|l| !l.is_empty())
        .collect();
    let basis = if code.is_empty() {
        format!(
            "title\0{}",
            title
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" ")
        )
    } else {
        format!("code\0{}", code.join("\n"))
    };
    let mut h = Sha256::new();
    for part in [rule_id(kind).as_str(), "\0", path, "\0", basis.as_str()] {
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
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

/// The report as a SARIF 2.1.0 log (pretty JSON, trailing newline) that
/// the SARIF Multitool validates with the SARIF and GitHub rule sets
/// (`validate --rule-kind "Sarif;Gh"`) without an error or warning.
pub fn render(report: &ReviewReport) -> String {
    let rules: Vec<Value> = [
        Kind::Regression,
        Kind::Gap,
        Kind::Enhancement,
        Kind::Consequence,
    ]
    .iter()
    .map(|k| {
        let (full, help) = rule_help(*k);
        json!({
            "id": rule_id(*k),
            "name": rule_name(*k),
            "shortDescription": { "text": format!("Deep review finding: {}.", k.as_str()) },
            "fullDescription": { "text": full },
            "help": { "text": help, "markdown": help },
            "defaultConfiguration": { "level": "warning" },
        })
    })
    .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let c = &f.finding;
            let mut text = c.title.trim_end().to_string();
            // SARIF asks for messages that end with a period.
            if !text.ends_with(['.', '!', '?']) {
                text.push('.');
            }
            if !c.explanation.is_empty() {
                text.push_str("\n\n");
                text.push_str(&c.explanation);
            }
            if !c.fix.is_empty() {
                text.push_str("\n\nFix: ");
                text.push_str(&c.fix);
            }
            if !text.trim_end().ends_with(['.', '!', '?']) {
                text = text.trim_end().to_string();
                text.push('.');
            }
            let start = c.line_start.max(1);
            let end = c.line_end.max(c.line_start).max(1);
            let mut region = json!({ "startLine": start, "endLine": end });
            // The excerpt is exactly these lines of the file at head unless
            // it was cut short; only then is it the region's snippet.
            if f.excerpt_omitted_lines == 0 && !f.excerpt.is_empty() {
                region["snippet"] = json!({ "text": f.excerpt });
            }
            let base = fingerprint(c.kind, &c.file, &f.excerpt, &c.title);
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            json!({
                "ruleId": rule_id(c.kind),
                "level": level(c.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": uri_path(&c.file),
                            "uriBaseId": SRCROOT,
                        },
                        "region": region,
                    }
                }],
                "partialFingerprints": { FINGERPRINT_KEY: format!("{base}:{n}") },
                "properties": {
                    "severity": c.severity.as_str(),
                    "unconfirmed": c.unconfirmed,
                    "reviewers": c.reviewers,
                    "agreement": c.agreement,
                }
            })
        })
        .collect();
    let mut run = json!({
        "tool": { "driver": {
            "name": "git-deep-review",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": INFORMATION_URI,
            "rules": rules,
        }},
        "automationDetails": { "id": format!("{CATEGORY}/{}", report.id) },
        "properties": {
            "verdict": report.verdict_label(),
            "verdictReason": report.verdict.reason,
            "range": report.range,
            "head": report.head,
            "demonstrationOnly": report.demonstration_only,
        },
        "results": results,
    });
    // Where the reviewed code lives, when the repository has a network
    // remote (its URL without credentials: see `git::remote`).
    if let Some(uri) = &report.repository {
        let mut vcp = json!({
            "repositoryUri": uri,
            "revisionId": report.head,
            "mappedTo": { "uriBaseId": SRCROOT },
        });
        if let Some(b) = &report.branch {
            vcp["branch"] = json!(b);
        }
        run["versionControlProvenance"] = json!([vcp]);
    }
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [run]
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
