//! Earlier feedback on the same change: the findings of earlier reviews of
//! this branch (or of ranges sharing its commits), followed through git to
//! the reviewed head. Takes the report directory, the range and the files it
//! changes; returns [`Feedback`]: each earlier finding is **unresolved**
//! (its lines are still there unchanged), **resolved** (they changed or
//! went away) or **gone** (its file left the range). Decided from git
//! alone, never by a model, so a finding that today's reviewers happen not
//! to raise again does not silently disappear.

pub mod earlier;
pub mod track;

use crate::git::diff::{diff_range, DiffOptions, FileDiff, FileStatus};
use crate::git::range::ReviewRange;
use crate::severity::Severity;
use earlier::EarlierReport;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use track::Followed;

/// What became of earlier reviews' findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// Ids of the earlier reports of this change that were followed.
    pub earlier_reports: Vec<String>,
    /// Findings whose code is still there unchanged, oldest report first.
    pub unresolved: Vec<EarlierFinding>,
    /// Findings whose lines changed or went away.
    pub resolved: usize,
    /// Findings whose file is no longer part of the range.
    pub gone: usize,
    /// Reports that could not be read or followed, and why.
    pub notes: Vec<String>,
}

/// An earlier finding whose code is still there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierFinding {
    /// The report that raised it first, and that report's date.
    pub report: String,
    pub date: String,
    pub severity: Severity,
    pub title: String,
    pub reviewers: Vec<String>,
    pub agreement: usize,
    /// Where its lines are at the reviewed head.
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    /// Where it pointed when it was raised (differs after a rename or an
    /// edit above it).
    pub original_file: String,
    pub original_line: u32,
    /// Today's review raised it again (it is then also among the findings).
    #[serde(default)]
    pub raised_again: bool,
}

/// Follows the findings of the earlier reports in `report_dir` that
/// reviewed this change (same branch, or a commit in common) to
/// `range.head`. `range_files` are the paths the range changes.
pub fn follow_earlier(
    repo: &gix::Repository,
    report_dir: &Path,
    range: &ReviewRange,
    range_files: &[String],
) -> Feedback {
    let mut fb = Feedback::default();
    let mut reports: Vec<EarlierReport> = earlier::load(report_dir, &mut fb.notes)
        .into_iter()
        .filter(|r| is_same_change(r, range))
        .collect();
    // Oldest first, so a finding is listed with the date it was first raised.
    reports.sort_by(|a, b| (&a.date, &a.id).cmp(&(&b.date, &b.id)));
    // Where a finding is now (listed once) and where it was (counted once).
    let mut seen: HashSet<(String, u32, String)> = HashSet::new();
    let mut settled: HashSet<(String, u32, String)> = HashSet::new();
    // Reports of the same head share one diff.
    let mut by_head: HashMap<String, Option<HashMap<String, FileDiff>>> = HashMap::new();
    for report in &reports {
        let diffs = by_head
            .entry(report.head.clone())
            .or_insert_with(|| diff_to_head(repo, report, range, &mut fb.notes));
        let Some(diffs) = diffs.as_ref() else {
            continue;
        };
        fb.earlier_reports.push(report.id.clone());
        for f in &report.findings {
            let key_then = (f.file.clone(), f.line_start, f.title.clone());
            match locate(f.file.as_str(), f.line_start, f.line_end, diffs) {
                Some((path, start, end)) if range_files.contains(&path) => {
                    if !seen.insert((path.clone(), start, f.title.clone())) {
                        continue;
                    }
                    fb.unresolved.push(EarlierFinding {
                        report: report.id.clone(),
                        date: report.date.clone(),
                        severity: f.severity,
                        title: f.title.clone(),
                        reviewers: f.reviewers.clone(),
                        agreement: f.agreement,
                        file: path,
                        line_start: start,
                        line_end: end,
                        original_file: f.file.clone(),
                        original_line: f.line_start,
                        raised_again: false,
                    });
                }
                Some(_) => {
                    if settled.insert(key_then) {
                        fb.gone += 1;
                    }
                }
                None => {
                    if settled.insert(key_then) {
                        fb.resolved += 1;
                    }
                }
            }
        }
    }
    fb
}

/// Marks the unresolved findings that today's review raised again: same
/// file, overlapping lines. `today` is `(file, line_start, line_end)`.
pub fn mark_raised_again(fb: &mut Feedback, today: &[(String, u32, u32)]) {
    for e in &mut fb.unresolved {
        e.raised_again = today
            .iter()
            .any(|(f, a, b)| *f == e.file && *a <= e.line_end && *b >= e.line_start);
    }
}

/// An earlier report reviewed this change: the same branch, or a commit
/// in common with the range.
fn is_same_change(r: &EarlierReport, range: &ReviewRange) -> bool {
    let same_branch = r.branch.is_some() && r.branch == range.branch;
    let ids: Vec<String> = range.commits.iter().map(|c| c.id.to_string()).collect();
    same_branch || r.commits.iter().any(|id| ids.contains(id))
}

/// The diff from the earlier report's head to the reviewed head, by the
/// old path of each changed file; `None` (with a note) when that head is
/// not in the repository any more.
fn diff_to_head(
    repo: &gix::Repository,
    report: &EarlierReport,
    range: &ReviewRange,
    notes: &mut Vec<String>,
) -> Option<HashMap<String, FileDiff>> {
    let old = gix::ObjectId::from_hex(report.head.as_bytes()).ok()?;
    if repo.find_object(old).is_err() {
        notes.push(format!(
            "skipped {}: its head {} is not in this repository any more",
            report.id,
            &report.head[..report.head.len().min(7)]
        ));
        return None;
    }
    let opts = DiffOptions {
        context_lines: 0,
        renames: true,
        enclosing: false,
    };
    match diff_range(repo, Some(old), range.head, &opts) {
        Ok(files) => Some(
            files
                .into_iter()
                .filter_map(|f| {
                    let old_path = match &f.status {
                        FileStatus::Renamed { from, .. } => from.clone(),
                        FileStatus::Added | FileStatus::Copied { .. } => return None,
                        _ => f.path.clone(),
                    };
                    Some((old_path, f))
                })
                .collect(),
        ),
        Err(e) => {
            notes.push(format!("skipped {}: {e}", report.id));
            None
        }
    }
}

/// Where lines `start..=end` of `file` at the earlier head are at the
/// reviewed head: `(path, start, end)`, or `None` when they changed or
/// their file was deleted.
fn locate(
    file: &str,
    start: u32,
    end: u32,
    diffs: &HashMap<String, FileDiff>,
) -> Option<(String, u32, u32)> {
    let Some(d) = diffs.get(file) else {
        return Some((file.to_string(), start, end.max(start)));
    };
    if matches!(d.status, FileStatus::Deleted) || d.binary {
        return None;
    }
    match track::follow(start, end, &d.hunks) {
        Followed::At { start, end } => Some((d.path.clone(), start, end)),
        Followed::Changed => None,
    }
}
