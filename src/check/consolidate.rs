//! Stage 7: grounded findings of all reviewers → consolidated findings.
//!
//! Pure data in, data out.
//!
//! # When two findings are "the same thing"
//!
//! Both must be about the same file, their line ranges must overlap or be
//! at most [`NEAR_LINES`] apart, and their text must be similar: the cosine
//! of their TF-IDF vectors (word tokens of title — counted twice, a title
//! is the densest statement of the issue — and explanation; lower-cased,
//! camelCase/snake_case split, stop words removed, light suffix stemming;
//! IDF computed over all findings of the run) must reach
//! [`SIM_OVERLAPPING`] when the ranges overlap and [`SIM_NEARBY`] when they
//! only are near. Two findings of the *same* reviewer are merged only as
//! near-duplicates (overlapping lines and cosine ≥ [`SIM_DUPLICATE`]), e.g.
//! the same issue reported from two chunks of a split file.
//!
//! The thresholds come from the pairs in `tests/consolidate.rs`: the
//! same issue paraphrased by two reviewers scores 0.31–0.58, different
//! issues on the same lines 0.00–0.13; 0.25 sits between with margin on
//! both sides, and "only nearby" findings need clearly more agreement.
//!
//! Clustering is greedy complete-linkage in a fixed order (file, lines,
//! reviewer, title): a finding joins the existing cluster all of whose
//! members it matches, best mean similarity first, so a chain A~B~C does
//! not glue A and C together when they are different issues.
//!
//! # What a cluster reports
//!
//! * Severity: each reviewer votes once with its highest severity in the
//!   cluster; the majority wins, a tie goes to the higher severity. A
//!   `critical` is *confirmed* only when at least two reviewers voted
//!   critical; otherwise it stays critical but is marked `unconfirmed`
//!   (the verdict and the gate treat it as weaker).
//! * Title, explanation, quote: from the representative — among members
//!   with the cluster's severity, the one with the longest explanation
//!   (ties: reviewer name, then title).
//! * Fix: the longest fix of any member (a fix with a code block beats a
//!   one-liner); ties go to the representative's.
//! * Kind: majority of members; ties go to the representative's kind.
//! * Lines: the union (smallest start, largest end) of the members.

use crate::check::findings::{Finding, Issue, Kind, Severity};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Lines between two ranges that still count as "nearby".
pub const NEAR_LINES: u32 = 5;
/// Minimum cosine for findings whose line ranges overlap.
pub const SIM_OVERLAPPING: f64 = 0.25;
/// Minimum cosine for findings that are only nearby.
pub const SIM_NEARBY: f64 = 0.45;
/// Minimum cosine to merge two findings of the same reviewer.
pub const SIM_DUPLICATE: f64 = 0.80;

/// One issue as the report shows it, with every finding it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsolidatedFinding {
    /// The representative's issue, with the consolidated severity, kind and
    /// line range (its quote is already verified by grounding).
    #[serde(flatten)]
    pub issue: Issue,
    /// Critical with fewer than two reviewers calling it critical.
    pub unconfirmed: bool,
    /// Distinct reviewers that raised it, in order of first appearance.
    pub reviewers: Vec<String>,
    /// `reviewers.len()`: how many independent reviewers agree.
    pub agreement: usize,
    /// The original findings, in clustering order.
    pub members: Vec<Finding>,
    /// What the verifier made of it (`None`: not verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::verify::model::Verification>,
}

// As for [`Finding`]: a consolidated finding reads as its issue.
impl std::ops::Deref for ConsolidatedFinding {
    type Target = Issue;
    fn deref(&self) -> &Issue {
        &self.issue
    }
}

impl std::ops::DerefMut for ConsolidatedFinding {
    fn deref_mut(&mut self) -> &mut Issue {
        &mut self.issue
    }
}

const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "of", "to", "in", "on", "for", "is", "are", "be", "been", "was", "were",
    "this", "that", "these", "those", "it", "its", "and", "or", "with", "when", "as", "at", "by",
    "from", "can", "could", "may", "might", "should", "would", "will", "which", "there", "here",
    "into", "if", "then", "than", "so", "but", "also", "has", "have", "does", "do", "we", "you",
    "line", "lines", "code", "function", "file", "here", "use", "used", "using",
];

/// Light suffix stemming: enough to make "overflows"/"overflowing",
/// "validate"/"validation", "handle"/"handler" meet, no more.
fn stem(w: &str) -> String {
    let mut s = w.to_string();
    if s.len() > 4 && s.ends_with("ies") {
        s.truncate(s.len() - 3);
        s.push('y');
        return s;
    }
    if s.ends_with("sses") {
        s.truncate(s.len() - 2);
    } else if s.len() > 3 && s.ends_with('s') && !s.ends_with("ss") {
        s.truncate(s.len() - 1);
    }
    for (suf, min) in [
        ("ation", 7),
        ("ing", 5),
        ("ion", 5),
        ("ed", 4),
        ("ly", 4),
        ("er", 5),
    ] {
        if s.len() > min && s.ends_with(suf) {
            s.truncate(s.len() - suf.len());
            break;
        }
    }
    if s.len() > 4 && s.ends_with('e') {
        s.truncate(s.len() - 1);
    }
    s
}

/// Word tokens: split on non-alphanumerics and camelCase humps, lower-cased,
/// stop words and pure numbers (line numbers differ between reviewers)
/// dropped, stemmed.
pub fn tokens(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if c.is_alphanumeric() {
            // `ensureSSHKeys` → ensure / SSH / Keys.
            let hump = prev.is_some_and(|p| p.is_lowercase() && c.is_uppercase());
            if hump && !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        } else if !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev = Some(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
        .into_iter()
        .map(|w| w.to_lowercase())
        .filter(|w| w.chars().count() > 1 && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// The text a finding is compared by: title twice, then explanation.
fn doc_tokens(f: &Finding) -> Vec<String> {
    let mut t = tokens(&f.title);
    t.extend(tokens(&f.title));
    t.extend(tokens(&f.explanation));
    t
}

/// TF-IDF vectors (L2-normalised, sparse) of `docs` over their own corpus.
/// IDF is smoothed, `ln((1+N)/(1+df)) + 1`, so words in every document
/// still count a little; TF is sublinear, `1 + ln(tf)`, so a word repeated
/// in one long explanation does not dominate.
pub fn tfidf(docs: &[Vec<String>]) -> Vec<HashMap<String, f64>> {
    let n = docs.len() as f64;
    let mut df: HashMap<&str, usize> = HashMap::new();
    for d in docs {
        let mut seen: Vec<&str> = d.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for w in seen {
            *df.entry(w).or_default() += 1;
        }
    }
    docs.iter()
        .map(|d| {
            let mut tf: HashMap<String, f64> = HashMap::new();
            for w in d {
                *tf.entry(w.clone()).or_default() += 1.0;
            }
            let mut v: HashMap<String, f64> = tf
                .into_iter()
                .map(|(w, c)| {
                    let idf = ((1.0 + n) / (1.0 + df[w.as_str()] as f64)).ln() + 1.0;
                    (w, (1.0 + c.ln()) * idf)
                })
                .collect();
            let norm = v.values().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.0 {
                v.values_mut().for_each(|x| *x /= norm);
            }
            v
        })
        .collect()
}

/// Cosine of two L2-normalised sparse vectors.
pub fn cosine(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> f64 {
    let (small, big) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small
        .iter()
        .filter_map(|(w, x)| big.get(w).map(|y| x * y))
        .sum()
}

/// Similarity of two findings' texts in the context of a whole run (the
/// run's findings form the IDF corpus). Exposed for tests and tuning.
pub fn similarity(a: &Finding, b: &Finding, corpus: &[Finding]) -> f64 {
    let mut docs: Vec<Vec<String>> = corpus.iter().map(doc_tokens).collect();
    docs.push(doc_tokens(a));
    docs.push(doc_tokens(b));
    let v = tfidf(&docs);
    cosine(&v[v.len() - 2], &v[v.len() - 1])
}

/// Gap in lines between two ranges (0 when they overlap).
fn gap(a: &Finding, b: &Finding) -> u32 {
    // At most one of the two differences is non-zero; both are 0 on overlap.
    b.line_start
        .saturating_sub(a.line_end)
        .max(a.line_start.saturating_sub(b.line_end))
}

/// Whether two findings may be in one cluster, given their similarity.
fn pair_ok(a: &Finding, b: &Finding, sim: f64) -> bool {
    if a.file != b.file {
        return false;
    }
    let g = gap(a, b);
    // `gap` is 0 for both touching and overlapping; overlap is what counts.
    let overlapping = a.line_start <= b.line_end && b.line_start <= a.line_end;
    if a.reviewer == b.reviewer {
        return overlapping && sim >= SIM_DUPLICATE;
    }
    if overlapping {
        sim >= SIM_OVERLAPPING
    } else {
        g <= NEAR_LINES && sim >= SIM_NEARBY
    }
}

/// Groups grounded findings of all reviewers into consolidated findings,
/// sorted by severity (critical first), then agreement (most first), file
/// and line. Deterministic: the same findings in any order give the same
/// result.
pub fn consolidate(findings: &[Finding]) -> Vec<ConsolidatedFinding> {
    let mut order: Vec<&Finding> = findings.iter().collect();
    order.sort_by(|a, b| {
        (
            &a.file,
            a.line_start,
            a.line_end,
            &a.reviewer,
            &a.title,
            &a.explanation,
        )
            .cmp(&(
                &b.file,
                b.line_start,
                b.line_end,
                &b.reviewer,
                &b.title,
                &b.explanation,
            ))
    });
    let docs: Vec<Vec<String>> = order.iter().map(|f| doc_tokens(f)).collect();
    let vecs = tfidf(&docs);

    // Clusters as index lists into `order`; per file so the search is small.
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    let mut by_file: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in 0..order.len() {
        let f = order[i];
        let mut best: Option<(usize, f64)> = None;
        for &c in by_file
            .get(f.file.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let mut sum = 0.0;
            let mut all = true;
            for &m in &clusters[c] {
                // Identical text is the same finding even when it has no
                // words to compare (e.g. only symbols).
                let same_text = f.title == order[m].title && f.explanation == order[m].explanation;
                let sim = if same_text {
                    1.0
                } else {
                    cosine(&vecs[i], &vecs[m])
                };
                if !pair_ok(f, order[m], sim) {
                    all = false;
                    break;
                }
                sum += sim;
            }
            if all {
                let mean = sum / clusters[c].len() as f64;
                if best.is_none_or(|(_, b)| mean > b) {
                    best = Some((c, mean));
                }
            }
        }
        match best {
            Some((c, _)) => clusters[c].push(i),
            None => {
                by_file
                    .entry(f.file.as_str())
                    .or_default()
                    .push(clusters.len());
                clusters.push(vec![i]);
            }
        }
    }

    let mut out: Vec<ConsolidatedFinding> = clusters
        .iter()
        .map(|c| summarize(&c.iter().map(|&i| order[i]).collect::<Vec<_>>()))
        .collect();
    out.sort_by(|a, b| {
        (
            a.severity,
            a.unconfirmed,
            std::cmp::Reverse(a.agreement),
            &a.file,
            a.line_start,
            &a.title,
        )
            .cmp(&(
                b.severity,
                b.unconfirmed,
                std::cmp::Reverse(b.agreement),
                &b.file,
                b.line_start,
                &b.title,
            ))
    });
    out
}

/// Applies the documented rules (module docs) to one cluster.
fn summarize(members: &[&Finding]) -> ConsolidatedFinding {
    let mut reviewers: Vec<String> = Vec::new();
    let mut votes: BTreeMap<&str, Severity> = BTreeMap::new();
    for m in members {
        if !reviewers.contains(&m.reviewer) {
            reviewers.push(m.reviewer.clone());
        }
        let v = votes.entry(m.reviewer.as_str()).or_insert(m.severity);
        *v = (*v).min(m.severity); // Ord: Critical < Important < Suggestion.
    }
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for s in votes.values() {
        *counts.entry(*s).or_default() += 1;
    }
    // BTreeMap iterates most severe first, so `>` keeps the higher on ties.
    let mut severity = Severity::Suggestion;
    let mut best = 0;
    for (s, n) in &counts {
        if *n > best {
            best = *n;
            severity = *s;
        }
    }
    let critical_votes = counts.get(&Severity::Critical).copied().unwrap_or(0);
    let unconfirmed = severity == Severity::Critical && critical_votes < 2;

    let pool: Vec<&&Finding> = {
        let same: Vec<_> = members.iter().filter(|m| m.severity == severity).collect();
        if same.is_empty() {
            members.iter().collect()
        } else {
            same
        }
    };
    let rep: &Finding = pool
        .iter()
        .copied()
        .min_by(|a, b| {
            b.explanation
                .chars()
                .count()
                .cmp(&a.explanation.chars().count())
                .then_with(|| a.reviewer.cmp(&b.reviewer))
                .then_with(|| a.title.cmp(&b.title))
        })
        .copied()
        .unwrap_or(members[0]);
    let fix = members
        .iter()
        .map(|m| &m.fix)
        .fold(rep.fix.clone(), |best, f| {
            if f.chars().count() > best.chars().count() {
                f.clone()
            } else {
                best
            }
        });
    let mut kinds: Vec<(Kind, usize)> = Vec::new();
    for m in members {
        match kinds.iter_mut().find(|(k, _)| *k == m.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((m.kind, 1)),
        }
    }
    let top = kinds.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let kind = if kinds.iter().any(|(k, n)| *k == rep.kind && *n == top) {
        rep.kind
    } else {
        kinds
            .iter()
            .find(|(_, n)| *n == top)
            .map(|(k, _)| *k)
            .unwrap_or(rep.kind)
    };
    ConsolidatedFinding {
        issue: Issue {
            severity,
            kind,
            file: rep.file.clone(),
            line_start: members
                .iter()
                .map(|m| m.line_start)
                .min()
                .unwrap_or(rep.line_start),
            line_end: members
                .iter()
                .map(|m| m.line_end)
                .max()
                .unwrap_or(rep.line_end),
            title: rep.title.clone(),
            explanation: rep.explanation.clone(),
            fix,
            quote: rep.quote.clone(),
            cause: members.iter().find_map(|m| m.cause.clone()),
        },
        unconfirmed,
        agreement: reviewers.len(),
        reviewers,
        members: members.iter().map(|m| (*m).clone()).collect(),
        verification: None,
    }
}
