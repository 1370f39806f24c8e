//! Cases mined from the repository's own history (the SZZ approach): find
//! fix commits, blame the lines each fix changed back to the commits that
//! introduced them, and make every introducing commit a labelled case whose
//! defects are those lines as they were when it was committed.
//!
//! 1. A fix commit is one whose subject or body matches the fix pattern
//!    ([`DEFAULT_FIX_PATTERN`], so a `Fixes:` trailer counts); merges are
//!    skipped and root commits cannot be fixes.
//! 2. The lines a fix changed are the removed lines of its diff against
//!    its parent (zero context, renames followed), less blank lines,
//!    comment-only lines and whitespace-only changes (a removed line equal
//!    to an added line of the same hunk once all whitespace is dropped).
//!    A fix that only adds lines has nothing to blame and is skipped.
//! 3. Those lines are blamed in the fix's parent, following renames; each
//!    blame entry names the introducing commit and the lines in its
//!    version of the file (under its name there).
//! 4. Root commits (an initial import is not a reviewable change) and
//!    merges are not cases; lines the introducing commit only moved (their
//!    trimmed text is also a removed line of its own diff) are dropped.
//! 5. One case per introducing commit, newest first.
//!
//! A fix commit does not say how bad the bug was, so every defect is
//! [`Severity::Important`]. Only the object database is read: no checkout,
//! no ref or work-tree file is touched. Same repository and options, same
//! output in the same order.

use crate::check::findings::Severity;
use crate::error::{Error, Result};
use crate::eval::case::{Case, Defect, Source};
use crate::git::diff::{DiffOptions, FileStatus, LineKind};
use crate::git::range::git_err;
use gix::bstr::ByteSlice;
use gix::ObjectId;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What makes a commit a fix unless `--fix-pattern` says otherwise; matched
/// against the subject and, separately, the body.
pub const DEFAULT_FIX_PATTERN: &str = r"(?i)\b(fix(e[sd])?|bug|regression|revert(s|ed)?)\b";

/// How many fix commits are examined by default (newest first).
pub const DEFAULT_MAX_FIX_COMMITS: usize = 500;

/// How many cases are kept by default (as `--max-cases`).
pub const DEFAULT_MAX_CASES: usize = 20;

/// Why a fix or an introducing commit gave no case (the second element of
/// [`Mined::skipped`]).
pub mod reason {
    /// The fix commit is a merge.
    pub const MERGE: &str = "merge";
    /// The fix removes or changes no line, so there is nothing to blame.
    pub const ONLY_ADDS: &str = "only adds lines";
    /// Every line the fix changed is blank, a comment, or only re-indented.
    pub const COSMETIC: &str = "whitespace/comment-only";
    /// The blamed lines come from the root commit (an initial import).
    pub const ROOT: &str = "introduced by a root commit";
    /// The blamed lines come from a merge commit (a conflict resolution).
    pub const INTRODUCED_BY_MERGE: &str = "introduced by a merge";
    /// Every blamed line of the commit was only moved by it.
    pub const MOVED: &str = "moved code";
}

/// How to mine.
#[derive(Debug, Clone)]
pub struct MineOptions {
    /// A commit whose subject or body matches is a fix.
    pub fix_pattern: regex::Regex,
    /// Cases kept, the newest introducing commits first (after all fix
    /// commits were examined).
    pub max_cases: usize,
    /// Fix commits examined, newest first (merges skipped count).
    pub max_fix_commits: usize,
}

impl Default for MineOptions {
    fn default() -> Self {
        MineOptions {
            fix_pattern: regex::Regex::new(DEFAULT_FIX_PATTERN)
                .expect("the default pattern compiles"),
            max_cases: DEFAULT_MAX_CASES,
            max_fix_commits: DEFAULT_MAX_FIX_COMMITS,
        }
    }
}

/// What mining found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mined {
    /// One case per introducing commit, newest first.
    pub cases: Vec<Case>,
    /// Fix commits examined (merges included).
    pub fix_commits: usize,
    /// Commits that gave no case: (short id, why), a fix or an introducing
    /// commit, each reason once per commit, in the order met (moved-code
    /// commits last, newest first). See [`reason`].
    pub skipped: Vec<(String, String)>,
}

/// Mines cases from the fix commits of `range`.
///
/// `range`: which commits may be fixes. `None`: all of HEAD's history; a
/// spec with `..` (`v1.0..HEAD`, `A...B`): the commits
/// [`crate::git::range::resolve`] lists for it; a single revision (`HEAD`,
/// `v2.0`): its whole history, as `git log REV` shows it. Introducing
/// commits may lie anywhere in history. A range with no fix commit is not
/// an error: the result is empty.
///
/// Fails (exit 3) on a shallow clone, whose blame would stop at the
/// boundary and name the wrong commits, and on a repository with no commit.
pub fn mine(repo: &gix::Repository, range: Option<&str>, opts: &MineOptions) -> Result<Mined> {
    mine_blamed(repo, range, opts).map(|(mined, _)| mined)
}

/// One line a fix changed (a removed line of its diff that is not
/// cosmetic) and what blame says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlamedLine {
    /// The file in the fix's parent, and the line there.
    pub path: String,
    pub line: u32,
    /// The commit that introduced the line.
    pub commit: ObjectId,
    /// The file and line in `commit`'s version.
    pub source_path: String,
    pub source_line: u32,
    /// Whether it made a case line of `commit` (not a root's, a merge's, or
    /// only moved by `commit`).
    pub kept: bool,
}

/// A fix commit examined and every line of it blame attributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixBlame {
    pub id: ObjectId,
    /// Its (only) parent, where the lines were blamed.
    pub parent: ObjectId,
    pub short: String,
    pub subject: String,
    /// In the order blamed (by path, then by blame entry).
    pub lines: Vec<BlamedLine>,
}

/// [`mine`], and the blame of each fix that had lines to blame (newest
/// fix first): the (fix, introducing commit) pairs and the lines behind
/// them, for measures that need more than the cases.
pub fn mine_blamed(
    repo: &gix::Repository,
    range: Option<&str>,
    opts: &MineOptions,
) -> Result<(Mined, Vec<FixBlame>)> {
    refuse_shallow(repo)?;
    let candidates = fix_candidates(repo, range)?;
    let mut miner = Miner::new(repo);
    let mut fix_commits = 0;
    for id in candidates {
        if fix_commits >= opts.max_fix_commits {
            break;
        }
        let commit = read_commit(repo, id?)?;
        if commit.parents.is_empty() {
            continue; // a root commit has nothing before it to fix
        }
        let matches = |text: &str| !text.is_empty() && opts.fix_pattern.is_match(text);
        if !(matches(&commit.subject) || matches(&commit.body)) {
            continue;
        }
        fix_commits += 1;
        if commit.parents.len() > 1 {
            miner.skip(&commit.short, reason::MERGE);
            continue;
        }
        miner.fix(commit)?;
    }
    let blamed = std::mem::take(&mut miner.blamed);
    let (cases, skipped) = miner.finish(opts.max_cases);
    Ok((
        Mined {
            cases,
            fix_commits,
            skipped,
        },
        blamed,
    ))
}

fn refuse_shallow(repo: &gix::Repository) -> Result<()> {
    let shallow = repo
        .is_shallow()
        .map_err(|e| git_err("cannot tell whether the repository is shallow", e))?;
    if shallow {
        let path = repo.workdir().unwrap_or_else(|| repo.git_dir());
        return Err(Error::Git(format!(
            "{} is a shallow clone: blame cannot see past its boundary, so introducing commits \
             would be wrong; run `git fetch --unshallow` first",
            path.display()
        )));
    }
    Ok(())
}

type Candidates<'repo> = Box<dyn Iterator<Item = Result<ObjectId>> + 'repo>;

/// The commits that may be fixes, newest first, read lazily where the
/// whole history is meant (only as far as `max_fix_commits` needs).
fn fix_candidates<'repo>(
    repo: &'repo gix::Repository,
    range: Option<&str>,
) -> Result<Candidates<'repo>> {
    let tip = match range.map(str::trim).filter(|s| !s.is_empty()) {
        None => head_commit(repo)?,
        Some(spec) if spec.contains("..") => {
            let resolved = crate::git::range::resolve(repo, Some(spec))?;
            let ids: Vec<ObjectId> = resolved.commits.iter().rev().map(|c| c.id).collect();
            return Ok(Box::new(ids.into_iter().map(Ok)));
        }
        Some(spec) => crate::git::range::resolve(repo, Some(spec))?.head,
    };
    let walk = repo
        .rev_walk([tip])
        .sorting(gix::revision::walk::Sorting::ByCommitTime(
            gix::traverse::commit::simple::CommitTimeOrder::NewestFirst,
        ))
        .all()
        .map_err(|e| git_err(format!("cannot walk the history of {tip}"), e))?;
    Ok(Box::new(walk.map(move |info| {
        info.map(|i| i.id)
            .map_err(|e| git_err(format!("cannot walk the history of {tip}"), e))
    })))
}

fn head_commit(repo: &gix::Repository) -> Result<ObjectId> {
    let head = repo.head().map_err(|e| git_err("cannot read HEAD", e))?;
    if head.is_unborn() {
        return Err(Error::Git(
            "this repository has no commits yet, so there is no history to mine fix commits from; \
             commit something first, or name a range with commits (`--from-history main..topic`)"
                .into(),
        ));
    }
    repo.head_id()
        .map(|id| id.detach())
        .map_err(|e| git_err("cannot read the commit HEAD points to", e))
}

/// What mining needs of a commit.
#[derive(Debug, Clone)]
struct CommitMeta {
    id: ObjectId,
    short: String,
    subject: String,
    body: String,
    parents: Vec<ObjectId>,
    /// Committer time (as `git log` orders), seconds since the epoch.
    time: i64,
}

fn read_commit(repo: &gix::Repository, id: ObjectId) -> Result<CommitMeta> {
    let commit = repo
        .find_commit(id)
        .map_err(|e| git_err(format!("cannot read commit {id}"), e))?;
    let (subject, body) =
        crate::git::range::split_message(&commit.message_raw_sloppy().to_str_lossy());
    let time = commit
        .time()
        .map_err(|e| git_err(format!("cannot read the date of commit {id}"), e))?
        .seconds;
    Ok(CommitMeta {
        id,
        short: commit.id().shorten_or_id().to_string(),
        subject,
        body,
        parents: commit.parent_ids().map(|p| p.detach()).collect(),
        time,
    })
}

/// The text with every whitespace character dropped (whitespace-only
/// changes compare equal under it).
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A line that is only a comment, by the file's language: `//`, `/*`,
/// `*` (a block comment's continuation: `*` alone or before a space, so
/// `*ptr = 0;` is code) and `*/` in brace languages; `#` in Python, Ruby,
/// shell, TOML and YAML; `--` in SQL and Lua. Other languages have none.
fn is_comment_only(language: Option<&str>, text: &str) -> bool {
    let t = text.trim();
    match language {
        Some(lang) if crate::git::lang::is_brace_language(lang) => {
            t.starts_with("//")
                || t.starts_with("/*")
                || t.starts_with("*/")
                || t == "*"
                || t.starts_with("* ")
                || t.starts_with("*\t")
        }
        Some("python" | "ruby" | "bash" | "toml" | "yaml") => t.starts_with('#'),
        Some("sql" | "lua") => t.starts_with("--"),
        _ => false,
    }
}

/// 1-based line numbers → inclusive runs of consecutive lines.
fn runs(lines: impl IntoIterator<Item = u32>) -> Vec<std::ops::RangeInclusive<u32>> {
    let mut out: Vec<std::ops::RangeInclusive<u32>> = Vec::new();
    for line in lines {
        match out.last_mut() {
            Some(run) if *run.end() + 1 == line => *run = *run.start()..=line,
            Some(run) if *run.end() >= line => {}
            _ => out.push(line..=line),
        }
    }
    out
}

/// Whether an introducing commit can be a case, and what it removed.
enum IntroKind {
    Root,
    Merge,
    /// The trimmed texts of the lines its own diff removed (moves show as
    /// removed here and added elsewhere).
    Change {
        removed: HashSet<String>,
    },
}

/// An introducing commit and what the fixes blamed on it.
struct Intro {
    meta: CommitMeta,
    kind: IntroKind,
    /// file (at this commit) → line → the fixes (indexes) that changed it.
    lines: BTreeMap<String, BTreeMap<u32, BTreeSet<usize>>>,
    /// Blamed lines dropped because this commit only moved them.
    moved: usize,
}

/// A fix commit examined.
struct Fix {
    short: String,
    subject: String,
}

struct Miner<'repo> {
    repo: &'repo gix::Repository,
    /// In the order examined (newest first).
    fixes: Vec<Fix>,
    intros: HashMap<ObjectId, Intro>,
    /// (commit, path) → the file's trimmed lines there (`None`: no such file).
    files: HashMap<(ObjectId, String), Option<Vec<String>>>,
    skipped: Vec<(String, String)>,
    seen_skips: HashSet<(String, String)>,
    /// Per fix (as `fixes`), every line blamed.
    blamed: Vec<FixBlame>,
}

impl<'repo> Miner<'repo> {
    fn new(repo: &'repo gix::Repository) -> Self {
        Miner {
            repo,
            fixes: Vec::new(),
            intros: HashMap::new(),
            files: HashMap::new(),
            skipped: Vec::new(),
            seen_skips: HashSet::new(),
            blamed: Vec::new(),
        }
    }

    fn skip(&mut self, short: &str, why: &str) {
        let key = (short.to_string(), why.to_string());
        if self.seen_skips.insert(key.clone()) {
            self.skipped.push(key);
        }
    }

    /// Blames the lines the (single-parent) fix commit `fix` changed.
    fn fix(&mut self, fix: CommitMeta) -> Result<()> {
        let parent = fix.parents[0];
        let opts = DiffOptions {
            context_lines: 0,
            enclosing: false,
            ..Default::default()
        };
        let files = crate::git::diff::diff_range(self.repo, Some(parent), fix.id, &opts)?;
        let mut removed_any = false;
        // Path in the parent → the lines to blame there.
        let mut targets: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for file in &files {
            let old_path = match &file.status {
                FileStatus::Modified | FileStatus::Deleted => &file.path,
                FileStatus::Renamed { from, .. } => from,
                // Added files remove nothing; a copy's source is still
                // there; mode, type and submodule changes have no lines.
                _ => continue,
            };
            if file.binary {
                continue;
            }
            let language = crate::git::lang::language_for(old_path);
            for hunk in &file.hunks {
                let added: HashSet<String> = hunk
                    .lines
                    .iter()
                    .filter(|l| l.kind == LineKind::Added)
                    .map(|l| squash(&l.text))
                    .collect();
                for line in hunk.lines.iter().filter(|l| l.kind == LineKind::Removed) {
                    removed_any = true;
                    let cosmetic = line.text.trim().is_empty()
                        || is_comment_only(language, &line.text)
                        || added.contains(&squash(&line.text));
                    if let (false, Some(n)) = (cosmetic, line.old_line) {
                        targets.entry(old_path.clone()).or_default().insert(n);
                    }
                }
            }
        }
        if targets.is_empty() {
            let why = if removed_any {
                reason::COSMETIC
            } else {
                reason::ONLY_ADDS
            };
            self.skip(&fix.short, why);
            return Ok(());
        }
        let index = self.fixes.len();
        self.fixes.push(Fix {
            short: fix.short.clone(),
            subject: fix.subject.clone(),
        });
        self.blamed.push(FixBlame {
            id: fix.id,
            parent,
            short: fix.short.clone(),
            subject: fix.subject.clone(),
            lines: Vec::new(),
        });
        for (path, lines) in &targets {
            self.blame(index, &fix, parent, path, lines)?;
        }
        Ok(())
    }

    /// Blames `lines` of `path` in `parent` and attributes each to the
    /// commit that introduced it.
    fn blame(
        &mut self,
        fix_index: usize,
        fix: &CommitMeta,
        parent: ObjectId,
        path: &str,
        lines: &BTreeSet<u32>,
    ) -> Result<()> {
        let ranges =
            gix::blame::BlameRanges::from_one_based_inclusive_ranges(runs(lines.iter().copied()))
                .map_err(|e| git_err(format!("cannot blame `{path}` for fix {}", fix.short), e))?;
        let options = gix::repository::blame_file::Options {
            ranges,
            // Follow renames, with git's default similarity.
            rewrites: Some(gix::diff::Rewrites::default()),
            ..Default::default()
        };
        // One file blame cannot do (gix's own limits) costs this fix, not
        // the whole mining: say so in `skipped`.
        let outcome = match self
            .repo
            .blame_file(path.as_bytes().as_bstr(), parent, options)
        {
            Ok(outcome) => outcome,
            Err(e) => {
                self.skip(&fix.short, &format!("cannot blame `{path}`: {e}"));
                return Ok(());
            }
        };
        for entry in &outcome.entries {
            let source = entry
                .source_file_name
                .as_ref()
                .map(|name| name.to_str_lossy().into_owned())
                .unwrap_or_else(|| path.to_string());
            for k in 0..entry.len.get() {
                if !lines.contains(&(entry.start_in_blamed_file + k + 1)) {
                    continue;
                }
                let line = entry.start_in_source_file + k + 1;
                let kept = self.attribute(entry.commit_id, &source, line, fix_index)?;
                self.blamed[fix_index].lines.push(BlamedLine {
                    path: path.to_string(),
                    line: entry.start_in_blamed_file + k + 1,
                    commit: entry.commit_id,
                    source_path: source.clone(),
                    source_line: line,
                    kept,
                });
            }
        }
        Ok(())
    }

    /// Line `line` of `file` at commit `commit` is one a fix changed.
    /// Says whether it became a case line.
    fn attribute(
        &mut self,
        commit: ObjectId,
        file: &str,
        line: u32,
        fix_index: usize,
    ) -> Result<bool> {
        if !self.intros.contains_key(&commit) {
            let intro = self.load_intro(commit)?;
            self.intros.insert(commit, intro);
        }
        let short = self.intros[&commit].meta.short.clone();
        let not_a_case = match self.intros[&commit].kind {
            IntroKind::Root => Some(reason::ROOT),
            IntroKind::Merge => Some(reason::INTRODUCED_BY_MERGE),
            IntroKind::Change { .. } => None,
        };
        if let Some(why) = not_a_case {
            self.skip(&short, why);
            return Ok(false);
        }
        let key = (commit, file.to_string());
        if !self.files.contains_key(&key) {
            let text = crate::git::range::read_file_at(self.repo, commit, file)?.map(|data| {
                data.lines()
                    .map(|l| l.to_str_lossy().trim().to_string())
                    .collect::<Vec<_>>()
            });
            self.files.insert(key.clone(), text);
        }
        // Blame names lines of the file as it is at the commit; one past its
        // end would be a blame bug, and no case may point there.
        let Some(text) = self.files[&key]
            .as_ref()
            .and_then(|lines| lines.get(line as usize - 1))
        else {
            self.skip(
                &short,
                &format!("blame named line {line} of `{file}`, which it does not have"),
            );
            return Ok(false);
        };
        let intro = self.intros.get_mut(&commit).expect("loaded above");
        let IntroKind::Change { removed } = &intro.kind else {
            unreachable!("roots and merges returned above")
        };
        if removed.contains(text) {
            intro.moved += 1;
            return Ok(false);
        }
        intro
            .lines
            .entry(file.to_string())
            .or_default()
            .entry(line)
            .or_default()
            .insert(fix_index);
        Ok(true)
    }

    fn load_intro(&self, commit: ObjectId) -> Result<Intro> {
        let meta = read_commit(self.repo, commit)?;
        let kind = match meta.parents.len() {
            0 => IntroKind::Root,
            1 => {
                let opts = DiffOptions {
                    context_lines: 0,
                    enclosing: false,
                    ..Default::default()
                };
                let files =
                    crate::git::diff::diff_range(self.repo, Some(meta.parents[0]), commit, &opts)?;
                let removed = files
                    .iter()
                    .flat_map(|f| &f.hunks)
                    .flat_map(|h| &h.lines)
                    .filter(|l| l.kind == LineKind::Removed)
                    .map(|l| l.text.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect();
                IntroKind::Change { removed }
            }
            _ => IntroKind::Merge,
        };
        Ok(Intro {
            meta,
            kind,
            lines: BTreeMap::new(),
            moved: 0,
        })
    }

    /// The cases, newest introducing commit first, at most `max_cases`;
    /// and what was skipped.
    fn finish(mut self, max_cases: usize) -> (Vec<Case>, Vec<(String, String)>) {
        let mut intros: Vec<Intro> = self.intros.into_values().collect();
        intros.sort_by(|a, b| {
            b.meta
                .time
                .cmp(&a.meta.time)
                .then_with(|| a.meta.short.cmp(&b.meta.short))
        });
        let mut cases = Vec::new();
        for intro in intros {
            if intro.lines.is_empty() {
                if intro.moved > 0 {
                    let key = (intro.meta.short.clone(), reason::MOVED.to_string());
                    if self.seen_skips.insert(key.clone()) {
                        self.skipped.push(key);
                    }
                }
                continue;
            }
            cases.push(case_of(&intro, &self.fixes));
        }
        // `short` is unique, so this order is total (and the same as above).
        cases.truncate(max_cases);
        (cases, self.skipped)
    }
}

fn case_of(intro: &Intro, fixes: &[Fix]) -> Case {
    let mut defects = Vec::new();
    let mut all_fixes = BTreeSet::new();
    for (file, lines) in &intro.lines {
        for run in runs(lines.keys().copied()) {
            let touched: BTreeSet<usize> = lines
                .range(run.clone())
                .flat_map(|(_, f)| f.iter().copied())
                .collect();
            all_fixes.extend(touched.iter().copied());
            let by: Vec<String> = touched
                .iter()
                .map(|&i| format!("fix {}: {}", fixes[i].short, fixes[i].subject))
                .collect();
            defects.push(Defect {
                file: file.clone(),
                line_start: *run.start(),
                line_end: *run.end(),
                severity: Severity::Important,
                description: format!("changed by {}", by.join("; ")),
            });
        }
    }
    let provenance: Vec<String> = all_fixes
        .iter()
        .map(|&i| format!("{} ({})", fixes[i].short, fixes[i].subject))
        .collect();
    Case {
        id: format!("history-{}", intro.meta.short),
        source: Source::History,
        base: intro.meta.parents.first().copied(),
        head: intro.meta.id,
        defects,
        provenance: format!("fixed by {}", provenance.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pattern_finds_fixes_not_lookalikes() {
        let re = regex::Regex::new(DEFAULT_FIX_PATTERN).unwrap();
        for yes in [
            "Fix overflow",
            "fixes #3",
            "Fixed it",
            "a bug in x",
            "Regression",
            "Revert \"x\"",
            "reverts y",
        ] {
            assert!(re.is_match(yes), "{yes}");
        }
        for no in [
            "prefix the name",
            "debug output",
            "hotfix: x",
            "bugfix",
            "Add fixture",
        ] {
            assert!(!re.is_match(no), "{no}");
        }
    }

    #[test]
    fn comments_by_language() {
        assert!(is_comment_only(Some("rust"), "    // note"));
        assert!(is_comment_only(Some("c"), " * continued"));
        assert!(is_comment_only(Some("c"), " */"));
        assert!(!is_comment_only(Some("c"), "*ptr = 0;"));
        assert!(!is_comment_only(Some("rust"), "#[derive(Debug)]"));
        assert!(is_comment_only(Some("python"), "  # why"));
        assert!(is_comment_only(Some("sql"), "-- why"));
        assert!(!is_comment_only(Some("python"), "x = 1  # why"));
        assert!(!is_comment_only(None, "# a heading"));
    }

    #[test]
    fn runs_merge_adjacent_lines() {
        assert_eq!(runs([1, 2, 3, 5, 7, 8]), vec![1..=3, 5..=5, 7..=8]);
        assert_eq!(runs([]), Vec::<std::ops::RangeInclusive<u32>>::new());
    }

    #[test]
    fn messages_split_like_git() {
        assert_eq!(
            crate::git::range::split_message("Fix a\nwrapped subject\n\nbody line\n\nFixes: #1\n"),
            (
                "Fix a wrapped subject".into(),
                "body line\n\nFixes: #1".into()
            )
        );
    }
}
