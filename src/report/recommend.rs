//! Improvement recommendations: "repo context updates", short lines that
//! could be added to the repository's review instructions (REVIEW.md,
//! AGENTS.md) so that reviewers catch next time what this review had to
//! learn. Built from the review's own data here; the lead model may add one
//! of its own ([`crate::review::lead`]). Never written into the
//! instruction files: the report offers them to be appended by hand.

use super::model::{Recommendation, RecommendationSource, ReviewReport};
use crate::severity::Severity;
use std::collections::BTreeMap;

/// Most recommendations one report makes.
pub const MAX_RECOMMENDATIONS: usize = 5;

/// Recommendations the data supports, most useful first, at most
/// [`MAX_RECOMMENDATIONS`]. `files` are the paths the change touched.
///
/// - a reviewer none of whose findings survived checking (all pointed
///   outside the diff or misquoted the code) needs the citation rule spelt out;
/// - an earlier finding still in the code that nobody raised this time
///   needs its rule written down;
/// - one reviewer alone calling something critical needs severity defined;
/// - a kind of file the change touched that drew no comment at all, while
///   others did, may need to say what matters in it.
pub fn from_data(report: &ReviewReport, files: &[String]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut add = |text: String| out.push(Recommendation::new(&text, RecommendationSource::Data));
    for r in &report.retro {
        let kept = r.critical + r.important + r.suggestion;
        let lost = r.ungrounded + r.rejected;
        if kept == 0 && lost > 0 && r.failed_chunks < r.chunks {
            add(format!(
                "Findings must name a changed line by its new line number and quote it exactly: \
                 none of the {lost} finding{} {} wrote in this review could be checked against the code.",
                if lost == 1 { "" } else { "s" },
                r.name
            ));
        }
    }
    for e in report
        .unresolved_feedback
        .unresolved
        .iter()
        .filter(|e| !e.raised_again)
        .take(2)
    {
        add(format!(
            "\"{}\" ({}:{}) was raised by a review on {} and the code is unchanged, \
             but no reviewer raised it this time: if it matters, state the rule it breaks.",
            e.title, e.file, e.line_start, e.date
        ));
    }
    if let Some(f) = report
        .findings
        .iter()
        .map(|f| &f.finding)
        .find(|f| f.severity == Severity::Critical && f.unconfirmed)
    {
        add(format!(
            "Say what counts as critical in this code base: the reviewers disagreed on whether \"{}\" ({}:{}) is critical.",
            f.title, f.file, f.line_start
        ));
    }
    if !report.findings.is_empty() {
        let commented: Vec<&str> = report
            .findings
            .iter()
            .map(|f| f.finding.file.as_str())
            .collect();
        let mut silent: BTreeMap<String, usize> = BTreeMap::new();
        let mut spoken: Vec<String> = Vec::new();
        for f in files {
            let kind = file_kind(f);
            if commented.contains(&f.as_str()) {
                spoken.push(kind);
            } else {
                *silent.entry(kind).or_default() += 1;
            }
        }
        let mut silent: Vec<(String, usize)> = silent
            .into_iter()
            .filter(|(k, _)| !spoken.contains(k))
            .collect();
        silent.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (kind, n) in silent.into_iter().take(2) {
            add(format!(
                "Say what reviewers should check in {kind}: this change touched {n} such file{} and no reviewer commented on any.",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    out.truncate(MAX_RECOMMENDATIONS);
    out
}

/// How a file is grouped for "no reviewer commented on it": `*.ext`, or
/// its name when it has no extension (`Makefile`).
fn file_kind(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => format!("`*.{ext}` files"),
        _ => format!("`{name}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_grouped_by_extension_or_name() {
        assert_eq!(file_kind("src/a.rs"), "`*.rs` files");
        assert_eq!(file_kind("Makefile"), "`Makefile`");
        assert_eq!(file_kind("dir/.gitignore"), "`.gitignore`");
    }

    #[test]
    fn a_recommendation_is_bounded_and_has_no_control_characters() {
        let r = Recommendation::new(
            &format!("a\u{1b}[31m{}", "x".repeat(1000)),
            RecommendationSource::Lead,
        );
        assert!(
            r.text.chars().count() <= crate::report::model::MAX_RECOMMENDATION_CHARS + 1,
            "{}",
            r.text.len()
        );
        assert!(!r.text.contains('\u{1b}'));
    }
}
