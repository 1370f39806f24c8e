//! Earlier reviews, as the JSON reports in the report directory record
//! them. Only what following their findings needs is read, so a report
//! written by an older or newer version still counts; a file that is not
//! one of our reports (or is corrupt) is skipped with a note, never fatal.

use crate::severity::Severity;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The JSON report schema this reads (the report's own `SCHEMA_VERSION`;
/// a test keeps the two equal).
pub const SCHEMA_VERSION: u32 = 1;
/// JSON reports larger than this are not read (ours are far smaller).
const MAX_REPORT_BYTES: u64 = 64 << 20;
/// The newest reports read at most; older ones are not looked at.
pub const MAX_REPORTS: usize = 50;

/// One earlier review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierReport {
    pub path: PathBuf,
    pub id: String,
    pub date: String,
    pub head: String,
    pub branch: Option<String>,
    /// Full ids of the reviewed commits.
    pub commits: Vec<String>,
    pub findings: Vec<EarlierRaw>,
}

/// A finding of an earlier review, where it pointed then.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EarlierRaw {
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    pub severity: Severity,
    pub title: String,
    #[serde(default)]
    pub reviewers: Vec<String>,
    #[serde(default)]
    pub agreement: usize,
}

#[derive(Deserialize)]
struct Doc {
    schema_version: u32,
    id: String,
    date: String,
    head: String,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    commits: Vec<DocCommit>,
    #[serde(default)]
    findings: Vec<EarlierRaw>,
}

#[derive(Deserialize)]
struct DocCommit {
    id: String,
}

/// The JSON reports in `dir`, newest first (by name: names start with the
/// run's start time), at most [`MAX_REPORTS`]. A missing directory is no
/// earlier review; what cannot be read as a report is named in `notes`.
pub fn load(dir: &Path, notes: &mut Vec<String>) -> Vec<EarlierReport> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.reverse();
    paths.truncate(MAX_REPORTS);
    paths
        .into_iter()
        .filter_map(|p| match read(&p) {
            Ok(r) => Some(r),
            Err(why) => {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                notes.push(format!("skipped {name}: {why}"));
                None
            }
        })
        .collect()
}

/// One report file, or why it is not one of ours.
fn read(path: &Path) -> Result<EarlierReport, String> {
    // Not through a link: the report directory holds our own files only.
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_REPORT_BYTES {
        return Err(format!("larger than {} MiB", MAX_REPORT_BYTES >> 20));
    }
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let doc: Doc = serde_json::from_slice(&text)
        .map_err(|e| format!("not a git-deep-review JSON report ({e})"))?;
    if doc.schema_version != SCHEMA_VERSION {
        return Err(format!(
            "report schema version {} (this version reads {SCHEMA_VERSION})",
            doc.schema_version
        ));
    }
    if gix::ObjectId::from_hex(doc.head.as_bytes()).is_err() {
        return Err(format!("its head {:?} is not a commit id", doc.head));
    }
    Ok(EarlierReport {
        path: path.to_path_buf(),
        id: doc.id,
        date: doc.date,
        head: doc.head,
        branch: doc.branch,
        commits: doc.commits.into_iter().map(|c| c.id).collect(),
        findings: doc.findings,
    })
}
