//! The cases file (`--cases FILE`): hand-labelled changes and their known
//! defects, in TOML.
//!
//! ```toml
//! [[case]]
//! name = "chunker-drops-last-line"     # unique; shown in the results
//! base = "v0.3.0"                      # any revision; "" = the empty tree
//! head = "4f1c2ab"                     # the change is base..head
//!
//! [[case.defect]]
//! file = "src/plan.rs"                 # as it is at head
//! lines = [120, 124]                   # or one line: lines = 120
//! severity = "critical"                # critical | important | suggestion
//! description = "the last chunk loses its final line"
//! ```
//!
//! Every revision is resolved and every defect checked against the file at
//! `head` before any model runs, so a typo costs nothing but an error.
//! (`git deep-review eval --help` shows the same example.)

use super::case::{Case, Defect, Source};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    #[serde(default)]
    case: Vec<RawCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    #[serde(default)]
    base: Option<String>,
    head: String,
    #[serde(default)]
    defect: Vec<RawDefect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefect {
    file: String,
    lines: Lines,
    severity: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Lines {
    One(i64),
    Span(Vec<i64>),
}

/// Reads and checks a cases file: every revision must resolve, every
/// defect's file must exist at the case's head and its lines lie inside it.
/// Any problem is a usage error (exit 2) naming the case and what to fix.
pub fn load(repo: &gix::Repository, path: &Path) -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "cannot read the cases file {}: {e}",
            path.display()
        ))
    })?;
    parse(repo, &text, &path.display().to_string())
}

/// [`load`] on the file's text; `origin` names it in errors.
pub fn parse(repo: &gix::Repository, text: &str, origin: &str) -> Result<Vec<Case>> {
    let file: CasesFile = toml::from_str(text)
        .map_err(|e| Error::Usage(format!("{origin} is not a valid cases file: {e}")))?;
    if file.case.is_empty() {
        return Err(Error::Usage(format!(
            "{origin} has no [[case]]; see `git deep-review eval --help` for the format"
        )));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(file.case.len());
    for raw in file.case {
        let bad = |what: String| Error::Usage(format!("{origin}: case {:?}: {what}", raw.name));
        if raw.name.trim().is_empty() {
            return Err(Error::Usage(format!("{origin}: a case has an empty name")));
        }
        if !seen.insert(raw.name.clone()) {
            return Err(bad("the name is used twice".into()));
        }
        if raw.defect.is_empty() {
            return Err(bad(
                "no [[case.defect]]: a case needs at least one known defect".into(),
            ));
        }
        let head = revision(repo, &raw.head).map_err(|e| bad(format!("head: {e}")))?;
        let base = match raw.base.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(b) => Some(revision(repo, b).map_err(|e| bad(format!("base: {e}")))?),
        };
        let mut defects = Vec::with_capacity(raw.defect.len());
        for d in &raw.defect {
            let (start, end) = match &d.lines {
                Lines::One(n) => (*n, *n),
                Lines::Span(v) if v.len() == 2 => (v[0], v[1]),
                Lines::Span(v) => {
                    return Err(bad(format!(
                        "defect in {}: lines must be one number or [first, last], not {v:?}",
                        d.file
                    )))
                }
            };
            if start < 1 || end < start {
                return Err(bad(format!(
                    "defect in {}: lines {start}..{end} are not a range of 1-based lines",
                    d.file
                )));
            }
            let severity = crate::severity::parse_severity(&d.severity).ok_or_else(|| {
                bad(format!(
                    "defect in {}: severity {:?} is not critical, important or suggestion",
                    d.file, d.severity
                ))
            })?;
            let count = line_count(repo, head, &d.file)?.ok_or_else(|| {
                bad(format!(
                    "defect file {} does not exist at head {}",
                    d.file, raw.head
                ))
            })?;
            if end as u64 > count as u64 {
                return Err(bad(format!(
                    "defect in {}: line {end} is past the end of the file ({count} lines at {})",
                    d.file, raw.head
                )));
            }
            defects.push(Defect {
                file: d.file.clone(),
                line_start: start as u32,
                line_end: end as u32,
                severity,
                description: d.description.clone(),
            });
        }
        out.push(Case {
            id: raw.name.clone(),
            source: Source::File,
            base,
            head,
            defects,
            provenance: format!("{origin}: {}", raw.name),
        });
    }
    Ok(out)
}

/// A commit id for `spec`, or why it is not one.
fn revision(repo: &gix::Repository, spec: &str) -> std::result::Result<gix::ObjectId, String> {
    let id = repo
        .rev_parse_single(spec)
        .map_err(|e| format!("{spec:?} is not a revision here ({e})"))?;
    let object = id
        .object()
        .map_err(|e| format!("{spec:?} cannot be read ({e})"))?;
    let commit = object
        .peel_to_commit()
        .map_err(|_| format!("{spec:?} does not name a commit"))?;
    Ok(commit.id)
}

/// Lines of `path` at `commit` (`None`: no such file).
fn line_count(repo: &gix::Repository, commit: gix::ObjectId, path: &str) -> Result<Option<usize>> {
    Ok(crate::git::range::read_file_at(repo, commit, path)?.map(|b| count_lines(&b)))
}

/// Lines as an editor counts them: a last line without a newline counts.
pub fn count_lines(bytes: &[u8]) -> usize {
    let n = bytes.iter().filter(|&&b| b == b'\n').count();
    if bytes.last().is_some_and(|&b| b != b'\n') {
        n + 1
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::findings::Severity;

    #[test]
    fn counts_lines_like_an_editor() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a\n"), 1);
        assert_eq!(count_lines(b"a\nb"), 2);
        assert_eq!(count_lines(b"a\nb\n"), 2);
    }

    #[test]
    fn severity_is_a_known_word() {
        assert_eq!(
            crate::severity::parse_severity("critical"),
            Some(Severity::Critical)
        );
        assert_eq!(crate::severity::parse_severity("fatal"), None);
    }
}
