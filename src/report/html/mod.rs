//! `--format html`: the [`ReviewReport`] as one self-contained page.
//!
//! The verdict and summary first, then the diff of the range with every
//! finding shown at its lines, then what the reviewers were shown as
//! context, the prose sections, the retro and the raw reviews (collapsed).
//!
//! The page needs nothing but itself: styles and the one script are
//! inline (from `style.css` and `script.js` beside this file), and a
//! Content-Security-Policy forbids every outside source, every inline
//! handler and any script but this one (allowed by its sha256 hash). The
//! script only adds the severity/reviewer filters; with scripts off every
//! finding is visible and the filters are not shown.
//!
//! Everything from the repository or a model (file names, commit subjects,
//! authors, model answers, code) goes through [`esc`], which escapes the
//! HTML metacharacters and shows control and bidi characters as `\u{..}`.

use super::markdown::human_duration;
use super::model::{FindingStatus, ReportFinding, ReviewReport, Scope};
use crate::git::diff::{FileDiff, FileStatus, LineKind};
use crate::severity::Severity;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// `s` safe as HTML text or a quoted attribute value: `& < > " '`
/// escaped, and every control or bidi character but `\n` and `\t` shown
/// as `\u{..}` (so a name cannot look like another one).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.replace('\t', "\u{0}TAB\u{0}");
        let visible = crate::text::escape_control(&line).replace("\\u{0}TAB\\u{0}", "\t");
        for c in visible.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
    }
    out
}

/// The Content-Security-Policy source of `script`: `'sha256-<base64>'`.
pub fn script_hash(script: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("'sha256-{}'", base64(&Sha256::digest(script.as_bytes())))
}

/// The page's Content-Security-Policy: nothing from outside, no inline
/// handlers, only the page's own script.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {}; \
         base-uri 'none'; form-action 'none'",
        script_hash(SCRIPT)
    )
}

/// Standard base64 with padding (RFC 4648), as CSP hashes are written.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(ABC[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sev_class(s: Severity) -> &'static str {
    s.as_str()
}

/// `file:start` or `file:start-end`, escaped.
fn location(file: &str, start: u32, end: u32) -> String {
    if end > start {
        esc(&format!("{file}:{start}-{end}"))
    } else {
        esc(&format!("{file}:{start}"))
    }
}

fn none(out: &mut String) {
    out.push_str("<p class=\"none\">None.</p>\n");
}

/// A paragraph of prose (model or fallback text), line breaks kept and
/// balanced `code spans` shown as code (after escaping: the backticks
/// only choose which escaped text goes into `<code>`).
fn prose(out: &mut String, text: &str) {
    if text.trim().is_empty() {
        none(out);
        return;
    }
    let lines: Vec<String> = text
        .trim()
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split('`').collect();
            if parts.len() < 3 || parts.len().is_multiple_of(2) {
                return esc(line);
            }
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    if i % 2 == 1 {
                        format!("<code>{}</code>", esc(p))
                    } else {
                        esc(p)
                    }
                })
                .collect()
        })
        .collect();
    let _ = writeln!(out, "<div class=\"prose\">{}</div>", lines.join("\n"));
}

/// The verifier's word on one finding.
fn verification(v: &crate::verify::model::Verification) -> String {
    use crate::verify::model::VerifyStatus;
    let passes = if v.votes.len() > 1 {
        let agree = v
            .votes
            .iter()
            .filter(|x| x.status == Some(v.status))
            .count();
        format!(", {agree} of {} passes", v.votes.len())
    } else {
        String::new()
    };
    let (class, word, reason) = match (&v.failed, v.status) {
        (Some(why), _) => ("failed", "verification failed", why.as_str()),
        (None, VerifyStatus::Confirmed) => ("confirmed", "confirmed", v.reason.as_str()),
        (None, VerifyStatus::Uncertain) => ("uncertain", "uncertain", v.reason.as_str()),
        (None, VerifyStatus::Refuted) => ("refuted", "refuted", v.reason.as_str()),
    };
    format!(
        "<span class=\"vstatus {class}\" data-verification=\"{class}\">{word}</span> by {}{passes}: {}",
        esc(&v.model),
        esc(reason)
    )
}

/// One finding as a card. `data-*` attributes are what the filters and
/// the tests read.
fn finding(out: &mut String, f: &ReportFinding, reviewers: usize, with_excerpt: bool) {
    let c = &f.finding;
    let sev = sev_class(c.severity);
    let _ = write!(
        out,
        "<article class=\"finding sev-{sev}\" data-severity=\"{sev}\" data-file=\"{}\" \
         data-line-start=\"{}\" data-line-end=\"{}\">",
        esc(&c.file),
        c.line_start,
        c.line_end
    );
    let _ = write!(
        out,
        "<div><span class=\"sev\">{sev}</span><span class=\"title\">{}</span>\
         <code class=\"where\">{}</code></div>",
        esc(&c.title),
        location(&c.file, c.line_start, c.line_end)
    );
    out.push_str("<div class=\"facts\"><span>raised by <ul class=\"who\">");
    for r in &c.reviewers {
        let _ = write!(out, "<li data-reviewer=\"{}\">{}</li>", esc(r), esc(r));
    }
    out.push_str("</ul></span>");
    let _ = write!(
        out,
        "<span data-agreement=\"{}\">agreement: {} of {} reviewer{}</span><span>{}</span>",
        c.agreement,
        c.agreement,
        reviewers.max(c.agreement),
        if reviewers.max(c.agreement) == 1 {
            ""
        } else {
            "s"
        },
        esc(c.kind.as_str())
    );
    if c.unconfirmed {
        out.push_str(
            "<span title=\"only one reviewer rated this critical\">unconfirmed: a lead to verify</span>",
        );
    }
    match &c.verification {
        Some(v) => {
            let _ = write!(out, "<span>{}</span>", verification(v));
        }
        None => out.push_str(
            "<span class=\"vstatus\" data-verification=\"not-verified\">not verified</span>",
        ),
    }
    out.push_str("</div>");
    if let Some(cause) = &c.cause {
        let _ = write!(
            out,
            "<p>In code shown as read-only context; it follows from the change at <code>{}</code>.</p>",
            location(&cause.file, cause.line, cause.line)
        );
    }
    if with_excerpt {
        if f.excerpt.is_empty() {
            out.push_str("<p class=\"none\">The code is not available at the reviewed head.</p>");
        } else {
            let _ = write!(out, "<pre>{}</pre>", esc(&f.excerpt));
            if f.excerpt_omitted_lines > 0 {
                let _ = write!(
                    out,
                    "<p class=\"muted\">({} more lines not shown.)</p>",
                    f.excerpt_omitted_lines
                );
            }
        }
    }
    if !c.explanation.trim().is_empty() {
        let _ = write!(
            out,
            "<div class=\"why\">{}</div>",
            esc(c.explanation.trim())
        );
    }
    if !c.fix.trim().is_empty() {
        let _ = write!(
            out,
            "<div class=\"fix\"><strong>Fix:</strong> <span class=\"fix-text\">{}</span></div>",
            esc(c.fix.trim())
        );
    }
    out.push_str("</article>\n");
}

fn status_words(s: &FileStatus) -> String {
    match s {
        FileStatus::Added => "added".into(),
        FileStatus::Modified => "modified".into(),
        FileStatus::Deleted => "deleted".into(),
        FileStatus::Renamed { from, similarity } => {
            format!("renamed from {from} ({similarity}% similar)")
        }
        FileStatus::Copied { from } => format!("copied from {from}"),
        FileStatus::ModeChange { old_mode, new_mode } => format!("mode {old_mode} → {new_mode}"),
        FileStatus::TypeChange => "type changed".into(),
        FileStatus::Submodule { .. } => "submodule".into(),
    }
}

/// Where in `file`'s shown diff a finding goes: the last shown new-side
/// line within its range. `None`: none of its lines is in the diff.
fn anchor(file: &FileDiff, start: u32, end: u32) -> Option<u32> {
    file.hunks
        .iter()
        .flat_map(|h| h.lines.iter())
        .filter_map(|l| l.new_line)
        .filter(|n| (start..=end).contains(n))
        .max()
}

/// The diff of one file with its findings placed under their lines;
/// returns the findings whose lines the diff does not show.
fn diff_file<'a>(
    out: &mut String,
    index: usize,
    file: &FileDiff,
    findings: &[&'a ReportFinding],
    reviewers: usize,
) -> Vec<&'a ReportFinding> {
    let mut at: BTreeMap<u32, Vec<&ReportFinding>> = BTreeMap::new();
    let mut elsewhere = Vec::new();
    let mut flagged: BTreeSet<u32> = BTreeSet::new();
    for f in findings {
        let c = &f.finding;
        match anchor(file, c.line_start, c.line_end) {
            Some(n) => {
                at.entry(n).or_default().push(f);
                flagged.extend(c.line_start..=c.line_end.min(c.line_start + 10_000));
            }
            None => elsewhere.push(*f),
        }
    }
    let count = findings.len() - elsewhere.len();
    let _ = writeln!(
        out,
        "<details class=\"file\" open data-path=\"{}\" id=\"file-{index}\"><summary>{} \
         <span class=\"muted\">({})</span> <span class=\"stat-add\">+{}</span> \
         <span class=\"stat-del\">−{}</span>{}</summary>",
        esc(&file.path),
        esc(&file.path),
        esc(&status_words(&file.status)),
        file.additions,
        file.deletions,
        if count > 0 {
            format!(
                " <span class=\"muted\">· {count} finding{}</span>",
                if count == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    );
    if file.binary {
        out.push_str("<p class=\"none\">Binary file: no lines to show.</p>");
    } else if file.hunks.is_empty() {
        out.push_str("<p class=\"none\">No line changed.</p>");
    }
    if !file.hunks.is_empty() {
        out.push_str("<table class=\"diff\">\n");
        for h in &file.hunks {
            let _ = writeln!(
                out,
                "<tr class=\"hunk\"><td class=\"n\"></td><td class=\"n\"></td><td>@@ -{},{} +{},{} @@{}</td></tr>",
                h.old_start,
                h.old_lines,
                h.new_start,
                h.new_lines,
                h.enclosing
                    .as_ref()
                    .map(|e| format!(" {}", esc(&e.signature)))
                    .unwrap_or_default()
            );
            for l in &h.lines {
                let (class, sign) = match l.kind {
                    LineKind::Added => ("add", '+'),
                    LineKind::Removed => ("del", '-'),
                    LineKind::Context => ("ctx", ' '),
                };
                let hit =
                    l.kind != LineKind::Removed && l.new_line.is_some_and(|n| flagged.contains(&n));
                let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<tr class=\"{class}{}\"{}><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                     <td class=\"code\">{sign}{}</td></tr>",
                    if hit { " flagged" } else { "" },
                    l.new_line
                        .filter(|_| l.kind != LineKind::Removed)
                        .map(|n| format!(" data-new-line=\"{n}\""))
                        .unwrap_or_default(),
                    num(l.old_line),
                    num(l.new_line.filter(|_| l.kind != LineKind::Removed)),
                    esc(&l.text)
                );
                if l.kind == LineKind::Removed {
                    continue;
                }
                if let Some(list) = l.new_line.and_then(|n| at.remove(&n)) {
                    out.push_str("<tr class=\"finding-row\"><td colspan=\"3\">\n");
                    for f in list {
                        finding(out, f, reviewers, false);
                    }
                    out.push_str("</td></tr>\n");
                }
            }
        }
        out.push_str("</table>\n");
    }
    out.push_str("</details>\n");
    elsewhere
}

fn header(out: &mut String, r: &ReviewReport) {
    let _ = writeln!(out, "<h1>Deep Review: {}</h1>", esc(&r.id));
    if r.demonstration_only {
        let _ = writeln!(
            out,
            "<p class=\"banner\">This is not a review. Every reviewer ran on a bundled \
             demonstration model, far too small to review code: it shows the pipeline \
             working, and its silence means nothing. {}.</p>",
            esc(crate::check::verdict::DEMONSTRATION_HINT)
        );
    }
    if let Some(i) = &r.incomplete {
        let _ = writeln!(
            out,
            "<p class=\"banner\">This review stopped before it was done: {}</p>",
            esc(&i.line())
        );
    }
    // A demonstration review has no verdict to colour: "merge as is" in
    // green would read as an approval.
    let verdict_class = if r.demonstration_only {
        "demonstration".to_string()
    } else {
        serde_json::to_value(r.verdict.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "<section id=\"verdict\"><p><span class=\"verdict {}\" id=\"verdict-label\">{}</span> \
         <span>{}</span></p>",
        esc(&verdict_class),
        esc(r.verdict_label()),
        esc(&r.verdict.reason)
    );
    let counts = r.counts();
    out.push_str("<p class=\"counts\">");
    for (sev, n) in &counts {
        let _ = write!(
            out,
            "<span><span class=\"sev {}\">{}</span> {n}</span>",
            sev.as_str(),
            sev.as_str()
        );
    }
    out.push_str("</p>\n<h2>Executive Summary</h2>\n");
    prose(out, &r.executive_summary.text);
    out.push_str("</section>\n");

    out.push_str("<details open><summary>About this review</summary><table class=\"meta\">\n");
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row(out, "Date", esc(&r.date));
    let short = |id: &str| id.chars().take(7).collect::<String>();
    row(
        out,
        "Range",
        format!(
            "<code>{}</code> (<code>{}..{}</code>)",
            esc(&r.range),
            esc(&r.base.as_deref().map(short).unwrap_or("(root)".into())),
            esc(&short(&r.head))
        ),
    );
    row(
        out,
        "Branch",
        r.branch
            .as_deref()
            .map(|b| format!("<code>{}</code>", esc(b)))
            .unwrap_or_else(|| "detached HEAD".into()),
    );
    let authors: Vec<String> = r
        .authors
        .iter()
        .map(|a| format!("{} ({})", esc(&a.name), esc(&a.email)))
        .collect();
    row(
        out,
        if authors.len() > 1 {
            "Authors"
        } else {
            "Author"
        },
        if authors.is_empty() {
            "None.".into()
        } else {
            authors.join("<br>")
        },
    );
    let commits: Vec<String> = r
        .commits
        .iter()
        .map(|c| {
            format!(
                "<code>{}</code> <span class=\"subject\">{}</span> <span class=\"muted\">({} file{}, +{} −{})</span>",
                esc(&c.short),
                esc(&c.subject),
                c.files,
                if c.files == 1 { "" } else { "s" },
                c.additions,
                c.deletions
            )
        })
        .collect();
    row(
        out,
        "Commits",
        if commits.is_empty() {
            "None.".into()
        } else {
            commits.join("<br>")
        },
    );
    let reviewers: Vec<String> = r
        .reviewers
        .iter()
        .map(|v| {
            let on = if v.endpoints.is_empty() {
                format!("<code>{}</code>", esc(&v.model_file))
            } else {
                format!("on {}", esc(&v.endpoints.join(", ")))
            };
            format!("{} — {} ({on})", esc(&v.name), esc(&v.model))
        })
        .collect();
    row(out, "Reviewers", reviewers.join("<br>"));
    row(
        out,
        "Code sent to",
        if r.code_sent_to.is_empty() {
            super::model::CODE_SENT_NOWHERE.into()
        } else {
            esc(&r.code_sent_to.join(", "))
        },
    );
    if let Some(v) = &r.verification {
        row(out, "Verification", v.describe(esc));
    }
    for c in &r.configuration {
        row(out, "Configuration", esc(c));
    }
    row(
        out,
        "Wall-clock time",
        esc(&human_duration(r.wall_clock_ms)),
    );
    out.push_str("</table></details>\n");
}

/// The filter bar: hidden in the markup, shown by the script (a page
/// without scripts shows every finding and no controls that do nothing).
fn filters(out: &mut String, r: &ReviewReport) {
    out.push_str("<form id=\"filters\" hidden><fieldset><legend>Severity</legend>");
    for sev in [
        Severity::Critical,
        Severity::Important,
        Severity::Suggestion,
    ] {
        let s = sev.as_str();
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" data-filter=\"severity\" value=\"{s}\" checked> {s}</label>"
        );
    }
    out.push_str("</fieldset><fieldset><legend>Reviewer</legend>");
    let mut names: Vec<&str> = r.reviewers.iter().map(|v| v.name.as_str()).collect();
    for f in &r.findings {
        names.extend(f.finding.reviewers.iter().map(String::as_str));
    }
    let mut seen = BTreeSet::new();
    for n in names {
        if seen.insert(n) {
            let _ = write!(
                out,
                "<label><input type=\"checkbox\" data-filter=\"reviewer\" value=\"{}\" checked> {}</label>",
                esc(n),
                esc(n)
            );
        }
    }
    out.push_str(
        "</fieldset><button type=\"button\" id=\"expand-all\">Expand files</button>\
         <button type=\"button\" id=\"collapse-all\">Collapse files</button> \
         <span id=\"filter-count\" class=\"muted\"></span></form>\n",
    );
}

fn diff(out: &mut String, r: &ReviewReport) {
    let reviewers = r.reviewers.len();
    out.push_str("<section id=\"diff\"><h2>The change, with the findings at their lines</h2>\n");
    let mut by_file: BTreeMap<&str, Vec<&ReportFinding>> = BTreeMap::new();
    for f in &r.findings {
        by_file.entry(f.finding.file.as_str()).or_default().push(f);
    }
    if r.diff.files.is_empty() {
        out.push_str("<p class=\"none\">The diff is not part of this report.</p>\n");
    }
    let mut elsewhere: Vec<&ReportFinding> = Vec::new();
    for (i, file) in r.diff.files.iter().enumerate() {
        let list = by_file.remove(file.path.as_str()).unwrap_or_default();
        elsewhere.extend(diff_file(out, i, file, &list, reviewers));
    }
    if r.diff.cut_lines > 0 || r.diff.clipped_lines > 0 {
        let _ = writeln!(
            out,
            "<p class=\"cut\" id=\"diff-cut\">The page shows at most {} diff lines: {} more \
             line{} not shown{}{}.</p>",
            super::model::MAX_DIFF_LINES,
            r.diff.cut_lines,
            if r.diff.cut_lines == 1 {
                " is"
            } else {
                "s are"
            },
            if r.diff.cut_files.is_empty() {
                String::new()
            } else {
                format!(" (in {})", esc(&r.diff.cut_files.join(", ")))
            },
            if r.diff.clipped_lines > 0 {
                format!(
                    "; {} long line{} clipped at {} characters",
                    r.diff.clipped_lines,
                    if r.diff.clipped_lines == 1 {
                        " is"
                    } else {
                        "s are"
                    },
                    super::model::MAX_DIFF_LINE_CHARS
                )
            } else {
                String::new()
            }
        );
    }
    out.push_str("</section>\n");
    for list in by_file.into_values() {
        elsewhere.extend(list);
    }
    out.push_str("<section id=\"outside\"><h2>Findings at lines the diff does not show</h2>\n");
    if elsewhere.is_empty() {
        none(out);
    }
    let mut grouped: BTreeMap<&str, Vec<&ReportFinding>> = BTreeMap::new();
    for f in elsewhere {
        grouped.entry(f.finding.file.as_str()).or_default().push(f);
    }
    for (file, list) in grouped {
        let _ = writeln!(
            out,
            "<h3 class=\"outside-file\" data-path=\"{}\"><code>{}</code></h3>",
            esc(file),
            esc(file)
        );
        for f in list {
            finding(out, f, reviewers, true);
        }
    }
    out.push_str("</section>\n");
}

fn context(out: &mut String, r: &ReviewReport) {
    out.push_str("<section id=\"context\"><h2>Context the reviewers were shown</h2>\n");
    let Some(c) = &r.context else {
        out.push_str("<p class=\"none\">None: the reviewers read the diff alone.</p></section>\n");
        return;
    };
    let _ = writeln!(
        out,
        "<p class=\"muted\">Up to {} tokens per chunk (counted with {}); {} file{} of the tree not indexed.</p>",
        c.budget,
        esc(&c.counted_with),
        c.not_indexed,
        if c.not_indexed == 1 { "" } else { "s" }
    );
    for ch in &c.chunks {
        let _ = write!(
            out,
            "<details class=\"context-chunk\"><summary>Chunk {}: {} item{}, {} of {} tokens{}</summary>",
            ch.chunk + 1,
            ch.items.len(),
            if ch.items.len() == 1 { "" } else { "s" },
            ch.tokens,
            ch.budget,
            if ch.dropped > 0 {
                format!(", {} left out by the budget", ch.dropped)
            } else {
                String::new()
            }
        );
        if let Some(note) = &ch.note {
            let _ = write!(out, "<p class=\"muted\">{}</p>", esc(note));
        }
        if ch.shown.is_empty() {
            out.push_str("<ul class=\"items\">");
            for i in &ch.items {
                let _ = write!(out, "<li>{}</li>", esc(i));
            }
            out.push_str("</ul>");
        }
        for t in &ch.shown {
            let _ = write!(
                out,
                "<details class=\"context-item\" data-path=\"{}\"><summary><code>{}</code></summary>",
                esc(&t.path),
                esc(&t.label)
            );
            if t.text.is_empty() {
                out.push_str(
                    "<p class=\"none\">Text not kept (the page's bound on context text).</p>",
                );
            } else {
                let _ = write!(out, "<pre>{}</pre>", esc(&t.text));
            }
            out.push_str("</details>");
        }
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

fn design_and_prose(out: &mut String, r: &ReviewReport) {
    out.push_str("<section id=\"design\"><h2>Design Observations</h2><h3>Concerns</h3>\n");
    if r.design.concerns.is_empty() {
        none(out);
    }
    for c in &r.design.concerns {
        let scope = match c.scope {
            Scope::Future => "future",
            Scope::InScope => "in-scope",
        };
        let _ = writeln!(
            out,
            "<p><strong>{}</strong> <span class=\"muted\">({scope}; {})</span> — {}</p>",
            esc(&c.title),
            esc(&c.reviewers.join(", ")),
            esc(&c.text)
        );
    }
    out.push_str("<h3>Strengths</h3>\n");
    if r.design.strengths.is_empty() {
        none(out);
    }
    for s in &r.design.strengths {
        let _ = writeln!(
            out,
            "<p>{} <span class=\"muted\">({})</span></p>",
            esc(&s.text),
            esc(&s.reviewers.join(", "))
        );
    }
    out.push_str("</section>\n");
    for (id, title, p) in [
        ("testing", "Testing Assessment", &r.testing),
        (
            "documentation",
            "Documentation Assessment",
            &r.documentation,
        ),
        ("commits", "Commit Structure", &r.commit_structure),
    ] {
        let _ = writeln!(out, "<section id=\"{id}\"><h2>{title}</h2>");
        prose(out, &p.text);
        out.push_str("</section>\n");
    }
}

fn not_reviewed(out: &mut String, r: &ReviewReport) {
    out.push_str("<section id=\"not-reviewed\"><h2>Not reviewed</h2>\n");
    let mut items: Vec<String> = Vec::new();
    for s in &r.skipped {
        items.push(format!(
            "<code>{}</code> ({})",
            esc(&s.path),
            esc(&s.reason)
        ));
    }
    for n in &r.not_reviewed {
        items.push(format!(
            "<code>{}</code> (not reviewed: {})",
            esc(&n.path),
            esc(&n.reason)
        ));
    }
    for u in &r.unfit {
        items.push(format!(
            "<code>{}</code> (did not fit: {})",
            esc(&u.path),
            esc(&u.reason)
        ));
    }
    if items.is_empty() {
        none(out);
    } else {
        out.push_str("<ul>");
        for i in items {
            let _ = write!(out, "<li>{i}</li>");
        }
        out.push_str("</ul>\n");
    }
    let fb = &r.unresolved_feedback;
    if !fb.unresolved.is_empty() {
        out.push_str("<h3>Unresolved feedback of earlier reviews</h3><ul>");
        for e in &fb.unresolved {
            let _ = write!(
                out,
                "<li><span class=\"sev {}\">{}</span> {} at <code>{}</code> — raised {}{}</li>",
                e.severity.as_str(),
                e.severity.as_str(),
                esc(&e.title),
                esc(&format!("{}:{}", e.file, e.line_start)),
                esc(&e.date),
                if e.raised_again {
                    "; raised again by this review"
                } else {
                    "; not raised by this review"
                }
            );
        }
        out.push_str("</ul>\n");
    }
    if !r.refuted.is_empty() {
        let _ = writeln!(
            out,
            "<details id=\"refuted\"><summary>Refuted on verification ({})</summary>",
            r.refuted.len()
        );
        for f in &r.refuted {
            // Not a finding any more: no `data-severity`, so the filters
            // and the counts leave it alone.
            let mut card = String::new();
            finding(&mut card, f, r.reviewers.len(), true);
            out.push_str(&card.replacen(" data-severity=", " data-refuted-severity=", 1));
        }
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

fn retro(out: &mut String, r: &ReviewReport) {
    out.push_str("<section id=\"retro\"><h2>Agent Performance Retro</h2>\n");
    out.push_str("<table class=\"retro\"><tr><th>Reviewer</th><th>Model</th><th>Duration</th><th>Critical</th><th>Important</th><th>Suggestion</th><th>False positives</th><th>Unique insights</th></tr>\n");
    for x in &r.retro {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.name),
            esc(&x.model),
            if x.error.is_some() && x.chunks == 0 {
                "failed".to_string()
            } else {
                esc(&human_duration(x.duration_ms))
            },
            x.critical,
            x.important,
            x.suggestion,
            x.false_positives,
            x.unique_insights.len()
        );
    }
    out.push_str("</table>\n");
    for x in &r.retro {
        if let Some(note) = &x.note {
            let _ = writeln!(
                out,
                "<p><strong>{}</strong>: {}</p>",
                esc(&x.name),
                esc(note)
            );
        }
        if let Some(e) = &x.error {
            let _ = writeln!(
                out,
                "<p><strong>{}</strong> failed: {}</p>",
                esc(&x.name),
                esc(e)
            );
        }
    }
    let t = &r.timings;
    let _ = writeln!(
        out,
        "<p class=\"muted\">Stage timings: plan {} · load {} · prefill {} · generate {} · consolidate {} · verify {} · lead {} · render {}. Cache: {} of {} chunk reviews.</p>",
        human_duration(t.plan_ms),
        human_duration(t.load_ms),
        human_duration(t.prefill_ms),
        human_duration(t.generate_ms),
        human_duration(t.consolidate_ms),
        human_duration(t.verify_ms),
        human_duration(t.lead_ms),
        human_duration(t.render_ms),
        r.cache.from_cache.len(),
        r.cache.total_chunks
    );
    if !r.recommendations.is_empty() {
        out.push_str("<h3>Repo context updates</h3><ul>");
        for rec in &r.recommendations {
            let _ = write!(out, "<li>{}</li>", esc(&rec.text));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn appendix(out: &mut String, r: &ReviewReport) {
    out.push_str("<section id=\"raw\"><h2>Original reviews</h2>\n");
    if r.appendix.is_empty() {
        none(out);
    }
    for a in &r.appendix {
        let _ = write!(
            out,
            "<details class=\"raw-review\"><summary>{} ({} chunk{})</summary>",
            esc(&a.reviewer),
            a.chunks.len(),
            if a.chunks.len() == 1 { "" } else { "s" }
        );
        if let Some(e) = &a.error {
            let _ = write!(out, "<p><strong>Failed:</strong> {}</p>", esc(e));
        }
        for c in &a.chunks {
            let _ = write!(
                out,
                "<h3>Chunk {}{}</h3>",
                c.chunk,
                if c.from_cache { " (from cache)" } else { "" }
            );
            if let Some(e) = &c.error {
                let _ = write!(out, "<p>Error: {}</p>", esc(e));
            }
            if !c.thinking.is_empty() {
                let _ = write!(
                    out,
                    "<details><summary>Thinking ({} tokens; not read for findings)</summary><pre>{}</pre></details>",
                    c.thinking_tokens,
                    esc(&c.thinking)
                );
            }
            if c.raw.is_empty() {
                out.push_str("<p class=\"none\">No output.</p>");
            } else {
                let _ = write!(out, "<pre class=\"raw\">{}</pre>", esc(&c.raw));
            }
        }
        out.push_str("<h3>Findings as validated</h3>");
        if a.findings.is_empty() {
            none(out);
        } else {
            out.push_str("<ol>");
            for f in &a.findings {
                let x = &f.finding;
                let status = match &f.status {
                    FindingStatus::Grounded => "grounded".to_string(),
                    FindingStatus::Ungrounded { reason } => format!("ungrounded: {reason}"),
                };
                let _ = write!(
                    out,
                    "<li><strong>{}</strong> — <code>{}</code> ({}, {}) — {}</li>",
                    esc(&x.title),
                    location(&x.file, x.line_start, x.line_end),
                    x.severity.as_str(),
                    esc(x.kind.as_str()),
                    esc(&status)
                );
            }
            out.push_str("</ol>");
        }
        if !a.rejected.is_empty() {
            out.push_str("<h3>Rejected during validation</h3><ul>");
            for x in &a.rejected {
                let _ = write!(
                    out,
                    "<li>chunk {}, finding {}: {} — {}</li>",
                    x.chunk,
                    x.index + 1,
                    esc(&x.title),
                    esc(&x.reason)
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

/// The whole report as one HTML page.
pub fn render(r: &ReviewReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>Deep Review: {}</title>\n<style>{STYLE}</style></head>\n<body>\n",
        content_security_policy(),
        esc(&r.id)
    );
    header(&mut out, r);
    filters(&mut out, r);
    diff(&mut out, r);
    context(&mut out, r);
    design_and_prose(&mut out, r);
    not_reviewed(&mut out, r);
    retro(&mut out, r);
    appendix(&mut out, r);
    let _ = write!(
        out,
        "<footer class=\"muted\"><p>Written by git-deep-review {}.</p></footer>\n<script>{SCRIPT}</script>\n</body></html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_shows_hidden_characters() {
        let hostile = "<img src=x onerror=alert(1)>.py \"q\" 'a' & </script><script>x()</script>";
        let e = esc(hostile);
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
        assert_eq!(esc("<b a=\"1\">&'"), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
        // Lines and tabs are kept (code), escapes and bidi overrides shown.
        assert_eq!(esc("a\n\tb"), "a\n\tb");
        assert!(
            esc("x\u{1b}[31my").contains("\\u{1b}"),
            "{}",
            esc("x\u{1b}[31my")
        );
        assert!(esc("a\u{202e}b").contains("\\u{202e}"));
        assert!(!esc("a\rb").contains('\r'));
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_script_by_its_hash() {
        // sha256("alert(1)") as browsers print it in CSP errors.
        assert_eq!(
            script_hash("alert(1)"),
            "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
        );
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(csp.contains(&format!("script-src {};", script_hash(SCRIPT))));
        assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'unsafe-inline'"));
        // The page carries the script byte for byte as hashed.
        let page = render(&sample());
        assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
        assert_eq!(page.matches("<script>").count(), 1);
        assert!(page.contains(&csp));
    }

    #[test]
    fn a_demonstration_review_has_no_coloured_verdict() {
        let mut r = sample();
        r.verdict.verdict = crate::check::verdict::Verdict::MergeAsIs;
        assert!(render(&r).contains("class=\"verdict merge-as-is\""));
        r.demonstration_only = true;
        let page = render(&r);
        assert!(page.contains("class=\"verdict demonstration\""), "{page}");
        assert!(!page.contains("verdict merge-as-is"));
    }

    /// A small report: one finding on an added line of a one-file diff.
    fn sample() -> ReviewReport {
        let json = serde_json::json!({
            "schema_version": 1, "id": "20260101-000000-main", "date": "2026-01-01 00:00",
            "authors": [{"name": "Ada", "email": "ada@example.com"}],
            "range": "HEAD~1..HEAD", "base": null, "head": "abcdef0123", "branch": "main",
            "commits": [{"id": "abcdef0123", "short": "abcdef0", "subject": "Add a",
                "author": "Ada", "parents": 1, "files": 1, "additions": 2, "deletions": 0}],
            "reviewers": [{"name": "first", "model": "m", "model_file": "m.gguf", "persona": "p.md"}],
            "verdict": {"verdict": "rework", "reason": "a critical finding"},
            "wall_clock_ms": 1000, "timings": {"plan_ms": 0, "load_ms": 0, "prefill_ms": 0,
                "generate_ms": 0, "consolidate_ms": 0, "lead_ms": 0, "render_ms": 0},
            "findings": [{"severity": "critical", "kind": "regression", "file": "a.py",
                "line_start": 2, "line_end": 2, "title": "Bad", "explanation": "Why.",
                "fix": "Fix it.", "quote": "x", "unconfirmed": false, "reviewers": ["first"],
                "agreement": 1, "members": [], "excerpt": "x", "excerpt_omitted_lines": 0,
                "language": "python"}],
            "executive_summary": {"text": "Summary.", "from_lead": false},
            "design": {"concerns": [], "strengths": []},
            "testing": {"text": "", "from_lead": false},
            "documentation": {"text": "", "from_lead": false},
            "commit_structure": {"text": "", "from_lead": false},
            "retro": [], "appendix": [], "skipped": [], "unfit": [],
            "cache": {"total_chunks": 0, "from_cache": []}, "instructions_file": null
        });
        let mut r: ReviewReport = serde_json::from_value(json).expect("a report");
        let line = |kind, n: u32, text: &str| crate::git::diff::DiffLine {
            kind,
            old_line: None,
            new_line: Some(n),
            text: text.into(),
        };
        r.diff = super::super::model::DiffShown::of(&[FileDiff {
            path: "a.py".into(),
            status: FileStatus::Added,
            binary: false,
            additions: 2,
            deletions: 0,
            hunks: vec![crate::git::diff::Hunk {
                old_start: 0,
                old_lines: 0,
                new_start: 1,
                new_lines: 2,
                lines: vec![
                    line(LineKind::Added, 1, "y = 1"),
                    line(LineKind::Added, 2, "x"),
                ],
                enclosing: None,
            }],
            language: Some("python".into()),
        }]);
        r
    }

    #[test]
    fn a_finding_sits_under_its_line_and_a_cut_diff_says_so() {
        let mut r = sample();
        let page = render(&r);
        let line2 = page.find("data-new-line=\"2\"").expect("line 2 shown");
        let card = page.find("<article class=\"finding").expect("the finding");
        assert!(card > line2, "the finding follows its line");
        assert!(
            page[line2..card].matches("<tr").count() == 1,
            "right after it"
        );
        assert!(!page.contains("id=\"diff-cut\""));
        // One line allowed: the second is cut and the finding moves to the
        // list of findings outside the diff.
        r.diff = super::super::model::DiffShown::bounded(&r.diff.files, 1);
        assert_eq!(r.diff.cut_lines, 1);
        let page = render(&r);
        assert!(page.contains("id=\"diff-cut\""));
        let outside = page.find("id=\"outside\"").unwrap();
        assert!(page[outside..].contains("<article class=\"finding"));
    }

    #[test]
    fn hostile_text_from_the_repository_and_models_is_inert() {
        let mut r = sample();
        let evil = "<img src=x onerror=alert(1)>.py";
        if let Some(f) = r.findings.first_mut() {
            f.finding.file = evil.to_string();
            f.finding.explanation = "</pre><script>alert(2)</script>".into();
        }
        if let Some(c) = r.commits.first_mut() {
            c.subject = "<svg onload=alert(3)>".into();
        }
        let page = render(&r);
        assert!(!page.contains("<img"));
        assert!(!page.contains("<svg"));
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;.py"));
    }

    #[test]
    fn prose_shows_code_spans_and_escapes_inside_them() {
        let mut out = String::new();
        prose(&mut out, "Use `<b>` here, not `x`; odd ` stays");
        assert!(out.contains("Use `&lt;b&gt;` here"), "{out}");
        let mut out = String::new();
        prose(&mut out, "Use `<b>` and `y`.");
        assert!(
            out.contains("Use <code>&lt;b&gt;</code> and <code>y</code>."),
            "{out}"
        );
    }
}
