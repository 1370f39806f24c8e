//! The short summary printed at the end of a run: verdict, counts, top
//! findings one line each, and where the report went.

use super::model::ReviewReport;
use crate::check::findings::Severity;
use crate::check::verdict::Verdict;
use crate::text::escape_control;
use owo_colors::OwoColorize;
use std::io::IsTerminal;
use std::path::Path;

/// Most findings listed in the summary.
pub const TOP_FINDINGS: usize = 5;

/// `--color=auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset (or empty).
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Decides from explicit facts (testable without a terminal).
    pub fn decide(self, stdout_is_terminal: bool, no_color: Option<&str>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            // no-color.org: set *and non-empty* disables colour.
            ColorChoice::Auto => stdout_is_terminal && no_color.is_none_or(str::is_empty),
        }
    }

    /// Decides for this process's stdout and environment.
    pub fn enabled(self) -> bool {
        let no_color = std::env::var("NO_COLOR").ok();
        // Through our pager the terminal is still the reader (less -R).
        let terminal = std::io::stdout().is_terminal() || crate::pager::active();
        self.decide(terminal, no_color.as_deref())
    }
}

/// Text from the repository or a model on one line, control characters
/// shown escaped (no escape sequence reaches the terminal, a newline in a
/// file name does not break the list), clipped to `max` characters.
fn plain(s: &str, max: usize) -> String {
    let one = escape_control(s.trim());
    let one = one.trim();
    if one.chars().count() > max {
        let mut t: String = one.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        one.to_string()
    }
}

fn paint(s: &str, sev: Option<Severity>, bold: bool, color: bool) -> String {
    if !color {
        return s.to_string();
    }
    let colored = match sev {
        Some(Severity::Critical) => s.red().to_string(),
        Some(Severity::Important) => s.yellow().to_string(),
        Some(Severity::Suggestion) => s.cyan().to_string(),
        None => s.to_string(),
    };
    if bold {
        colored.bold().to_string()
    } else {
        colored
    }
}

/// The summary text; `report_path` is where the report was written (None
/// when it went to stdout).
pub fn summary(report: &ReviewReport, report_path: Option<&Path>, color: bool) -> String {
    let verdict_sev = match report.verdict.verdict {
        Verdict::Rework => Some(Severity::Critical),
        Verdict::MergeWithFixes | Verdict::NoVerdict => Some(Severity::Important),
        Verdict::MergeAsIs => None,
    };
    let mut out = format!(
        "{} — {}\n",
        paint(report.verdict_label(), verdict_sev, true, color),
        plain(&report.verdict.reason, 160)
    );
    if let Some(i) = &report.incomplete {
        out.push_str(&format!(
            "{}\n",
            paint(
                &format!("Incomplete: {}", plain(&i.line(), 300)),
                Some(Severity::Important),
                true,
                color
            )
        ));
    }
    if report.demonstration_only {
        out.push_str(&format!(
            "{}\n",
            paint(
                "Demonstration models only: this is not a review. Bring a capable model: git deep-review init",
                Some(Severity::Important),
                false,
                color
            )
        ));
    }
    for c in &report.configuration {
        out.push_str(&format!(
            "{}\n",
            paint(
                &format!("Configuration: {}", plain(c, 200)),
                Some(Severity::Important),
                false,
                color
            )
        ));
    }
    if !report.code_sent_to.is_empty() {
        let to: Vec<String> = report.code_sent_to.iter().map(|e| plain(e, 120)).collect();
        out.push_str(&format!("Code sent to: {}\n", to.join(", ")));
    }
    let counts = report.counts();
    let unconfirmed = report
        .findings
        .iter()
        .filter(|f| f.finding.unconfirmed)
        .count();
    out.push_str(&format!(
        "{} critical{}, {} important, {} suggestion(s)\n",
        paint(
            &counts[&Severity::Critical].to_string(),
            Some(Severity::Critical),
            false,
            color
        ),
        if unconfirmed > 0 {
            format!(" ({unconfirmed} unconfirmed)")
        } else {
            String::new()
        },
        paint(
            &counts[&Severity::Important].to_string(),
            Some(Severity::Important),
            false,
            color
        ),
        paint(
            &counts[&Severity::Suggestion].to_string(),
            Some(Severity::Suggestion),
            false,
            color
        ),
    ));
    if let Some(v) = &report.verification {
        match &v.skipped {
            Some(why) if v.checked > 0 => {
                out.push_str(&format!("Not verified: {}\n", plain(why, 200)));
            }
            Some(_) => {}
            None => out.push_str(&format!(
                "Verified by {}: {} confirmed, {} refuted (listed in the report), {} uncertain{}\n",
                plain(&v.models.join(", "), 120),
                v.confirmed,
                v.refuted,
                v.uncertain,
                if v.failed > 0 {
                    format!(" ({} failed)", v.failed)
                } else {
                    String::new()
                }
            )),
        }
    }
    for f in report.findings.iter().take(TOP_FINDINGS) {
        let c = &f.finding;
        let mark = match c.verification.as_ref().map(|v| v.status) {
            Some(crate::verify::model::VerifyStatus::Confirmed) => " ✓",
            Some(crate::verify::model::VerifyStatus::Uncertain) => " ?",
            _ => "",
        };
        out.push_str(&format!(
            "  {} {}:{} {} [{}{mark}]\n",
            paint(
                &format!("{:<10}", c.severity.as_str()),
                Some(c.severity),
                false,
                color
            ),
            plain(&c.file, 80),
            c.line_start,
            plain(&c.title, 100),
            c.agreement
        ));
    }
    if report.findings.len() > TOP_FINDINGS {
        out.push_str(&format!(
            "  …and {} more\n",
            report.findings.len() - TOP_FINDINGS
        ));
    }
    for r in &report.retro {
        if let Some(e) = &r.error {
            out.push_str(&format!(
                "reviewer {} failed: {}\n",
                plain(&r.name, 60),
                plain(e, 200)
            ));
        }
    }
    let unresolved = &report.unresolved_feedback.unresolved;
    if !unresolved.is_empty() {
        let again = unresolved.iter().filter(|e| e.raised_again).count();
        out.push_str(&format!(
            "Unresolved feedback: {} finding{} of earlier reviews still in the code ({} raised again); see the report.\n",
            unresolved.len(),
            if unresolved.len() == 1 { "" } else { "s" },
            again
        ));
    }
    if let Some(p) = report_path {
        out.push_str(&format!(
            "Report: {}\n",
            escape_control(&p.to_string_lossy())
        ));
    }
    out
}
