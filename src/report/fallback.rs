//! Deterministic prose for the report's assessment sections, built only
//! from data (plan, commits, findings), used when the lead model wrote
//! nothing usable. It states facts and never guesses at intent.
//!
//! Output is Markdown-ish text that the renderer passes through its
//! escaper like any other prose; file names go into code spans built with
//! [`super::markdown::code_span`].

use super::markdown::code_span;
use super::model::{CommitLine, ReviewReport};
use crate::check::findings::Severity;
use crate::git::diff::{FileDiff, LineKind};
use crate::plan::ReviewPlan;
use std::collections::BTreeSet;

/// Most files listed in one ranking.
const MAX_LISTED: usize = 10;
/// A commit changing more lines than this is called very large.
pub const LARGE_COMMIT_LINES: u32 = 500;
/// A commit touching more files than this is called very large.
pub const LARGE_COMMIT_FILES: u32 = 20;
/// Subjects longer than this (git's convention) are called too long.
pub const MAX_SUBJECT_CHARS: usize = 72;
/// Subjects that say nothing about the change.
const VAGUE_SUBJECTS: &[&str] = &[
    "wip", "fix", "fixes", "fixed", "update", "updates", "changes", "change", "misc", "tmp",
    "temp", "stuff", "cleanup", "minor", "test", "tests", "more", "oops", "typo", "refactor", ".",
];

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn extension(path: &str) -> &str {
    let name = file_name(path);
    match name.rfind('.') {
        Some(i) if i > 0 => &name[i + 1..],
        _ => "",
    }
}

pub use crate::git::lang::is_test_path;

/// Documentation files: READMEs, changelogs, Markdown and friends, `docs/`.
pub fn is_doc_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = file_name(&lower);
    lower.starts_with("docs/")
        || lower.starts_with("doc/")
        || lower.contains("/docs/")
        || name.starts_with("readme")
        || name.starts_with("changelog")
        || matches!(
            extension(&lower),
            "md" | "rst" | "adoc" | "txt" | "markdown"
        )
}

/// Files that are configuration or data rather than code.
fn is_config_path(path: &str) -> bool {
    matches!(
        extension(&path.to_ascii_lowercase()),
        "json" | "yaml" | "yml" | "toml" | "lock" | "ini" | "cfg" | "xml" | "csv" | "svg" | "gguf"
    )
}

fn added_lines(f: &FileDiff) -> impl Iterator<Item = &str> {
    f.hunks
        .iter()
        .flat_map(|h| h.lines.iter())
        .filter(|l| l.kind == LineKind::Added)
        .map(|l| l.text.as_str())
}

/// Whether the file's added lines carry tests inline (Rust unit tests,
/// Python/Go test functions in the same file).
fn has_inline_tests(f: &FileDiff) -> bool {
    added_lines(f).any(|l| {
        let t = l.trim_start();
        t.starts_with("#[test]")
            || t.starts_with("#[cfg(test)]")
            || t.starts_with("#[tokio::test")
            || t.starts_with("def test_")
            || t.starts_with("func Test")
    })
}

/// The file's stem (`src/plan.rs` → `plan`) for matching code to tests.
fn stem(path: &str) -> String {
    let name = file_name(path);
    name.split('.').next().unwrap_or(name).to_ascii_lowercase()
}

/// Testing fallback: changed code files with no changed test, ranked by
/// lines changed. A code file counts as tested when a changed test file's
/// name contains its stem, or when its own added lines add tests.
pub fn testing(plan: &ReviewPlan) -> String {
    let tests: Vec<&FileDiff> = plan
        .files
        .iter()
        .filter(|f| is_test_path(&f.path))
        .collect();
    let mut untested: Vec<&FileDiff> = plan
        .files
        .iter()
        .filter(|f| !f.binary && !is_test_path(&f.path) && !is_doc_path(&f.path))
        .filter(|f| !is_config_path(&f.path) && f.additions + f.deletions > 0)
        .filter(|f| {
            let s = stem(&f.path);
            !has_inline_tests(f)
                && !tests
                    .iter()
                    .any(|t| s.len() > 1 && file_name(&t.path).to_ascii_lowercase().contains(&s))
        })
        .collect();
    untested.sort_by(|a, b| {
        (b.additions + b.deletions)
            .cmp(&(a.additions + a.deletions))
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut out = String::new();
    if tests.is_empty() {
        out.push_str("No test files changed in this range.");
    } else {
        let names: Vec<String> = tests.iter().map(|t| code_span(&t.path)).collect();
        out.push_str(&format!("Changed test files: {}.", names.join(", ")));
    }
    if untested.is_empty() {
        out.push_str(" Every changed code file has a matching changed test.");
        return out;
    }
    out.push_str(" Changed code without a matching changed test, ranked by lines changed:\n\n");
    for (i, f) in untested.iter().take(MAX_LISTED).enumerate() {
        out.push_str(&format!(
            "{}. {} (+{}/−{})\n",
            i + 1,
            code_span(&f.path),
            f.additions,
            f.deletions
        ));
    }
    if untested.len() > MAX_LISTED {
        out.push_str(&format!("\n…and {} more.", untested.len() - MAX_LISTED));
    }
    out.trim_end().to_string()
}

/// Whether an added line declares something public, by the conventions of
/// common languages (Rust `pub`, Go exported names, Python top-level
/// non-underscore defs, Java/C#/TS `public`/`export`).
fn is_public_decl(line: &str) -> bool {
    let t = line.trim_start();
    let indent = line.len() - t.len();
    (t.starts_with("pub ") && !t.starts_with("pub(crate)"))
        || t.starts_with("public ")
        || t.starts_with("export ")
        || (indent == 0 && (t.starts_with("def ") || t.starts_with("class ")) && !t.contains(" _"))
        || go_exported(t)
}

/// `func Name(` or `func (r *T) Name(` with an upper-case (exported) name.
fn go_exported(t: &str) -> bool {
    let Some(rest) = t.strip_prefix("func ") else {
        return false;
    };
    let rest = match rest.strip_prefix('(') {
        Some(recv) => match recv.find(')') {
            Some(i) => recv[i + 1..].trim_start(),
            None => return false,
        },
        None => rest,
    };
    rest.chars().next().is_some_and(char::is_uppercase)
}

fn is_doc_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("///") || t.starts_with("//!") || t.starts_with("/**") || t.starts_with("\"\"\"")
}

/// Documentation fallback: public declarations added vs documentation
/// files and doc comments changed alongside.
pub fn documentation(plan: &ReviewPlan) -> String {
    let docs: Vec<String> = plan
        .files
        .iter()
        .filter(|f| is_doc_path(&f.path))
        .map(|f| code_span(&f.path))
        .collect();
    let code = plan.files.iter().filter(|f| !is_doc_path(&f.path));
    let mut public = 0usize;
    let mut public_files = BTreeSet::new();
    let mut doc_comments = 0usize;
    for f in code {
        for l in added_lines(f) {
            if is_public_decl(l) {
                public += 1;
                public_files.insert(f.path.as_str());
            }
            if is_doc_comment(l) {
                doc_comments += 1;
            }
        }
    }
    let mut out = String::new();
    if public == 0 {
        out.push_str("No public declarations were added or changed.");
    } else {
        let files: Vec<String> = public_files
            .iter()
            .take(MAX_LISTED)
            .map(|p| code_span(p))
            .collect();
        out.push_str(&format!(
            "{public} added line(s) declare public items (in {}).",
            files.join(", ")
        ));
    }
    if docs.is_empty() {
        out.push_str(" No documentation files changed.");
    } else {
        out.push_str(&format!(
            " Documentation files changed: {}.",
            docs.join(", ")
        ));
    }
    out.push_str(&format!(" Doc comment lines added: {doc_comments}."));
    if public > 0 && docs.is_empty() && doc_comments == 0 {
        out.push_str(" The public changes come without any documentation change.");
    }
    out
}

/// Whether a subject says nothing about the change.
pub fn is_vague_subject(subject: &str) -> bool {
    let s = subject.trim().trim_end_matches('.').to_ascii_lowercase();
    s.is_empty()
        || VAGUE_SUBJECTS.contains(&s.as_str())
        || s.starts_with("wip ")
        || s.starts_with("wip:")
        || s.starts_with("fixup!")
        || s.starts_with("squash!")
}

/// Commit-structure fallback: sizes, very large commits, merge commits,
/// subjects that are too long or vague, and the top-level areas touched.
pub fn commit_structure(commits: &[CommitLine], plan: &ReviewPlan) -> String {
    if commits.is_empty() {
        return String::new();
    }
    let total: u32 = commits.iter().map(|c| c.additions + c.deletions).sum();
    let mut out = format!(
        "{} commit(s), {} changed line(s) in total.",
        commits.len(),
        total
    );
    if let Some(big) = commits
        .iter()
        .max_by_key(|c| {
            (
                c.additions + c.deletions,
                std::cmp::Reverse(c.short.clone()),
            )
        })
        .filter(|_| commits.len() > 1)
    {
        out.push_str(&format!(
            " Largest: {} {} (+{}/−{}, {} file(s)).",
            code_span(&big.short),
            big.subject,
            big.additions,
            big.deletions,
            big.files
        ));
    }
    let mut notes: Vec<String> = Vec::new();
    for c in commits {
        let sha = code_span(&c.short);
        if c.parents > 1 {
            notes.push(format!("{sha} is a merge commit."));
        }
        if c.additions + c.deletions > LARGE_COMMIT_LINES || c.files > LARGE_COMMIT_FILES {
            notes.push(format!(
                "{sha} is very large ({} lines, {} files); consider splitting it.",
                c.additions + c.deletions,
                c.files
            ));
        }
        if c.subject.chars().count() > MAX_SUBJECT_CHARS {
            notes.push(format!(
                "{sha} has a subject of {} characters (over {MAX_SUBJECT_CHARS}).",
                c.subject.chars().count()
            ));
        }
        if is_vague_subject(&c.subject) {
            notes.push(format!(
                "{sha} has a subject that does not say what changed: {}.",
                code_span(c.subject.trim())
            ));
        }
    }
    let areas: BTreeSet<&str> = plan
        .files
        .iter()
        .map(|f| match f.path.split_once('/') {
            Some((top, _)) => top,
            None => ".",
        })
        .collect();
    if areas.len() >= 3 {
        let list: Vec<String> = areas
            .iter()
            .map(|a| {
                if *a == "." {
                    "the repository root".to_string()
                } else {
                    code_span(&format!("{a}/"))
                }
            })
            .collect();
        let what = if commits.len() == 1 {
            "The single commit touches"
        } else {
            "The range touches"
        };
        notes.push(format!(
            "{what} {} top-level areas ({}); check that it is one concern.",
            areas.len(),
            list.join(", ")
        ));
    }
    if notes.is_empty() {
        out.push_str(" No merge commits, oversized commits or unclear subjects.");
    } else {
        out.push_str("\n\n");
        for n in notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out.trim_end().to_string()
}

/// Executive-summary fallback: what was reviewed, by whom, the counts and
/// the top findings.
pub fn executive_summary(r: &ReviewReport) -> String {
    let counts = r.counts();
    let unconfirmed = r.findings.iter().filter(|f| f.finding.unconfirmed).count();
    let names: Vec<&str> = r.reviewers.iter().map(|x| x.name.as_str()).collect();
    let ungrounded: usize = r.retro.iter().map(|x| x.ungrounded + x.rejected).sum();
    let mut out = format!(
        "{} reviewer(s) ({}) reviewed {} commit(s) in {}. After grounding and consolidation: {} critical{}, {} important, {} suggestion(s); {} finding(s) were dropped as ungrounded or invalid.",
        r.reviewers.len(),
        names.join(", "),
        r.commits.len(),
        code_span(&r.range),
        counts[&Severity::Critical],
        if unconfirmed > 0 {
            format!(" ({unconfirmed} unconfirmed)")
        } else {
            String::new()
        },
        counts[&Severity::Important],
        counts[&Severity::Suggestion],
        ungrounded,
    );
    let top: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.finding.severity <= Severity::Important)
        .take(3)
        .map(|f| {
            format!(
                "{} ({})",
                f.finding.title,
                code_span(&format!("{}:{}", f.finding.file, f.finding.line_start))
            )
        })
        .collect();
    if !top.is_empty() {
        out.push_str(&format!(" Most significant: {}.", top.join("; ")));
    }
    if let Some(v) = r.verification.as_ref().filter(|v| v.skipped.is_none()) {
        out.push_str(&format!(
            " Verification ({}) confirmed {}, refuted {} (listed under Refuted on Verification) and could not decide {}.",
            v.models.join(", "),
            v.confirmed,
            v.refuted,
            v.uncertain
        ));
    }
    let failed: Vec<String> = r
        .retro
        .iter()
        .filter_map(|x| x.error.as_ref().map(|e| format!("{} ({e})", x.name)))
        .collect();
    if !failed.is_empty() {
        out.push_str(&format!(" Reviewer problems: {}.", failed.join("; ")));
    }
    out
}
