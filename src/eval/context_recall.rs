//! `eval --context`: how much of the code a later fix changed, outside the
//! hunks of the commit that introduced the bug, that commit's context
//! packs show; model-free.
//!
//! For each (fix, introducing commit) pair that history mining finds
//! ([`super::history::mine_blamed`]): the lines the fix changed are mapped
//! into the introducing commit `I`'s tree (the lines blame attributes to
//! `I` by blame's own numbers, the others through a line diff of the file
//! at `I` and at the fix's parent; lines added after `I` have no place
//! there and are left out). Lines within a hunk of `I`'s plan are
//! *inside*; the rest are *outside*, the targets. For each budget, the
//! pack of every chunk of `I^..I` is built, and an outside line is
//! *covered* when some pack item of its file spans it. The naive baseline
//! spends the same total tokens (budget × chunks) widening every hunk one
//! line at a time, alternately above and below, round robin over hunks.
//!
//! Pooled recall (covered / outside over all pairs) is reported for all
//! pairs and for the pairs whose introducing commit owns at least half of
//! the fix's blamed lines, with a percentile bootstrap interval over pairs
//! of pooled context covered / pooled naive covered.

use crate::config::Settings;
use crate::context::{ContextOptions, ContextPlan};
use crate::error::Result;
use crate::eval::history::{self, FixBlame, MineOptions};
use crate::git::diff::FileStatus;
use crate::plan::{estimate_tokens, ReviewPlan};
use gix::bstr::ByteSlice;
use gix::ObjectId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// New-side line ranges by path.
type Ranges = HashMap<String, Vec<(u32, u32)>>;

/// The budgets measured by default (tokens per chunk).
pub const DEFAULT_BUDGETS: [usize; 6] = [0, 500, 1024, 2048, 4096, 8192];
/// Pairs measured by default (the newest fixes first).
pub const DEFAULT_MAX_PAIRS: usize = 150;
/// Bootstrap resamples.
pub const RESAMPLES: usize = 1000;
/// The bootstrap's seed (same pairs, same interval).
pub const SEED: u64 = 0x5eed_c0de_2024_0001;

/// How to measure.
#[derive(Debug, Clone)]
pub struct ContextEvalOptions {
    pub mine: MineOptions,
    /// At most this many pairs, newest fixes first.
    pub max_pairs: usize,
    /// Tokens per chunk, each measured.
    pub budgets: Vec<usize>,
    /// Globs the index leaves out (as a review's).
    pub ignore: Vec<String>,
}

/// What one budget gave one pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BudgetResult {
    pub budget: usize,
    /// Outside lines a pack item spans.
    pub context: usize,
    /// Outside lines the widened hunks span.
    pub naive: usize,
    /// Tokens the packs used, and the naive widening.
    pub context_tokens: usize,
    pub naive_tokens: usize,
    /// Covered outside lines by the kind of the (first) item spanning them.
    pub kinds: BTreeMap<String, usize>,
}

/// A fix line outside the introducing commit's hunks, and what shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutsideLine {
    /// `path:line` at the introducing commit.
    pub at: String,
    /// Lines to the nearest hunk of its file (`None`: a file the
    /// introducing commit did not change, or one its plan left out).
    pub distance: Option<u32>,
    /// The smallest budget whose pack shows it, and the kind of the item.
    pub context: Option<usize>,
    pub kind: Option<String>,
    /// The kind of a candidate spanning it that the largest budget not
    /// showing it dropped for want of room (`None`: no candidate did).
    pub dropped: Option<String>,
    /// The smallest budget whose widened hunks show it.
    pub naive: Option<usize>,
}

/// One (fix, introducing commit) pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PairResult {
    pub fix: String,
    pub fix_subject: String,
    pub intro: String,
    /// Lines of the fix blame attributed (to any commit).
    pub blamed: usize,
    /// Of those, attributed to `intro`.
    pub owned: usize,
    /// `intro` owns at least half of the fix's blamed lines.
    pub majority: bool,
    /// Fix lines with a place in `intro`'s tree.
    pub targets: usize,
    pub inside: usize,
    pub outside: usize,
    pub chunks: usize,
    pub results: Vec<BudgetResult>,
    /// The outside lines, and which budgets show them.
    pub outside_lines: Vec<OutsideLine>,
    /// Why the pair was not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Pooled numbers of a group of pairs at one budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    pub budget: usize,
    pub context: usize,
    pub naive: usize,
    pub context_recall: f64,
    pub naive_recall: f64,
    /// context / naive (`None` when naive covers nothing).
    pub ratio: Option<f64>,
    /// 95% percentile bootstrap interval of the ratio.
    pub interval: Option<(f64, f64)>,
    pub context_tokens: usize,
    pub naive_tokens: usize,
    pub kinds: BTreeMap<String, usize>,
}

/// A group of pairs (all, or the majority-owned ones).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    pub name: String,
    pub pairs: usize,
    /// Pairs with at least one outside line.
    pub with_outside: usize,
    pub targets: usize,
    pub inside: usize,
    pub outside: usize,
    pub inside_share: f64,
    pub rows: Vec<Row>,
}

/// The whole measurement.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub fix_commits: usize,
    pub budgets: Vec<usize>,
    pub groups: Vec<Group>,
    pub pairs: Vec<PairResult>,
}

/// Mines pairs from the fix commits of `range` (as `--from-history`) and
/// measures each. `say` hears progress.
pub fn measure(
    repo: &gix::Repository,
    range: Option<&str>,
    settings: &Settings,
    opts: &ContextEvalOptions,
    say: &dyn Fn(&str),
) -> Result<Report> {
    let (mined, fixes) = history::mine_blamed(repo, range, &opts.mine)?;
    let mut pairs = Vec::new();
    'fixes: for fix in &fixes {
        for intro in intros_of(fix) {
            if pairs.len() >= opts.max_pairs {
                break 'fixes;
            }
            pairs.push((fix, intro));
        }
    }
    say(&format!(
        "{} pair(s) from {} fix commit(s)",
        pairs.len(),
        mined.fix_commits
    ));
    let mut results = Vec::new();
    for (n, (fix, intro)) in pairs.into_iter().enumerate() {
        let r = match measure_pair(repo, settings, opts, fix, intro) {
            Ok(r) => r,
            Err(e) => PairResult {
                fix: fix.short.clone(),
                fix_subject: fix.subject.clone(),
                intro: intro.to_hex_with_len(7).to_string(),
                skipped: Some(e.to_string()),
                ..Default::default()
            },
        };
        if (n + 1) % 10 == 0 {
            say(&format!("{} pair(s) measured", n + 1));
        }
        results.push(r);
    }
    Ok(report(mined.fix_commits, &opts.budgets, results))
}

/// The introducing commits of a fix that make cases (some kept line), in
/// the order first met.
fn intros_of(fix: &FixBlame) -> Vec<ObjectId> {
    let mut out = Vec::new();
    for l in fix.lines.iter().filter(|l| l.kept) {
        if !out.contains(&l.commit) {
            out.push(l.commit);
        }
    }
    out
}

/// The fix's lines in `intro`'s tree: (path at `intro`, line there).
fn targets_in(
    repo: &gix::Repository,
    fix: &FixBlame,
    intro: ObjectId,
) -> Result<BTreeSet<(String, u32)>> {
    let mut out = BTreeSet::new();
    // Path in the fix's parent → its name at `intro` (blame's, when blame
    // attributed one of its lines to `intro`).
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    for l in &fix.lines {
        if l.commit == intro {
            names.insert(&l.path, &l.source_path);
            out.insert((l.source_path.clone(), l.source_line));
        }
    }
    let mut by_path: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for l in fix.lines.iter().filter(|l| l.commit != intro) {
        by_path.entry(&l.path).or_default().push(l.line);
    }
    for (path, lines) in by_path {
        let at_intro = names.get(path).copied().unwrap_or(path);
        let (Some(old), Some(new)) = (
            crate::git::range::read_file_at(repo, intro, at_intro)?,
            crate::git::range::read_file_at(repo, fix.parent, path)?,
        ) else {
            continue;
        };
        let map = line_map(&old, &new);
        for l in lines {
            if let Some(Some(o)) = map.get(l as usize) {
                out.insert((at_intro.to_string(), *o));
            }
        }
    }
    Ok(out)
}

/// For each line of `new` (1-based; index 0 unused), its line in `old`
/// when the diff leaves it unchanged.
pub fn line_map(old: &[u8], new: &[u8]) -> Vec<Option<u32>> {
    let new_count = new.lines().count();
    let (hunks, _, _) = crate::git::diff::text_hunks(old, new, 0);
    let mut map = vec![None; new_count + 1];
    let (mut o, mut n) = (1u32, 1u32);
    for h in &hunks {
        // 0-based starts of the change (git prints the line before an
        // empty side).
        let new_from = if h.new_lines == 0 {
            h.new_start
        } else {
            h.new_start - 1
        };
        while n <= new_from {
            map[n as usize] = Some(o);
            (o, n) = (o + 1, n + 1);
        }
        o += h.old_lines;
        n += h.new_lines;
    }
    while (n as usize) <= new_count {
        map[n as usize] = Some(o);
        (o, n) = (o + 1, n + 1);
    }
    map
}

fn measure_pair(
    repo: &gix::Repository,
    settings: &Settings,
    opts: &ContextEvalOptions,
    fix: &FixBlame,
    intro: ObjectId,
) -> Result<PairResult> {
    let mut r = PairResult {
        fix: fix.short.clone(),
        fix_subject: fix.subject.clone(),
        intro: intro.to_hex_with_len(7).to_string(),
        blamed: fix.lines.len(),
        owned: fix.lines.iter().filter(|l| l.commit == intro).count(),
        ..Default::default()
    };
    r.majority = 2 * r.owned >= r.blamed;
    let range = crate::git::range::resolve(repo, Some(&format!("{intro}^..{intro}")))?;
    let plan = crate::pipeline::plan_range(repo, range, settings)?;
    r.chunks = plan.chunks.len();
    let targets = targets_in(repo, fix, intro)?;
    let hunks = hunk_ranges(&plan);
    r.targets = targets.len();
    let outside: Vec<(String, u32)> = targets
        .into_iter()
        .filter(|(p, l)| {
            !hunks
                .get(p)
                .is_some_and(|rs| rs.iter().any(|&(s, e)| s <= *l && *l <= e))
        })
        .collect();
    r.outside = outside.len();
    r.inside = r.targets - r.outside;
    r.outside_lines = outside
        .iter()
        .map(|(p, l)| OutsideLine {
            at: format!("{p}:{l}"),
            distance: hunks.get(p).and_then(|rs| {
                rs.iter()
                    .map(|&(s, e)| if *l < s { s - l } else { l.saturating_sub(e) })
                    .min()
            }),
            ..Default::default()
        })
        .collect();
    let prepared = if outside.is_empty() || plan.chunks.is_empty() {
        None
    } else {
        Some(crate::context::prepare(repo, &plan, &opts.ignore, None)?)
    };
    let mut texts: HashMap<String, Option<String>> = HashMap::new();
    for &budget in &opts.budgets {
        let mut b = BudgetResult {
            budget,
            ..Default::default()
        };
        if let Some(prepared) = &prepared {
            let copts = ContextOptions {
                budget,
                enabled: true,
                ignore: &opts.ignore,
                window: &|_| None,
                count: &estimate_tokens,
                counted_with: "estimate".into(),
            };
            let ctx = crate::context::build_prepared(repo, &plan, &copts, prepared);
            count_context(&ctx, &outside, &mut b, &mut r.outside_lines);
            let total = budget * plan.chunks.len();
            let (covered, used) = naive(repo, &plan, total, &mut texts)?;
            b.naive_tokens = used;
            for ((p, l), o) in outside.iter().zip(r.outside_lines.iter_mut()) {
                if covered
                    .get(p)
                    .is_some_and(|rs| rs.iter().any(|&(s, e)| s <= *l && *l <= e))
                {
                    b.naive += 1;
                    o.naive = Some(o.naive.map_or(budget, |n| n.min(budget)));
                }
            }
        }
        r.results.push(b);
    }
    Ok(r)
}

/// New-side line ranges of the plan's hunks (context lines included), by path.
fn hunk_ranges(plan: &ReviewPlan) -> Ranges {
    let mut out = Ranges::new();
    for f in &plan.files {
        for h in &f.hunks {
            let new = h.lines.iter().filter_map(|l| l.new_line);
            if let (Some(s), Some(e)) = (new.clone().min(), new.max()) {
                out.entry(f.path.clone()).or_default().push((s, e));
            }
        }
    }
    out
}

fn count_context(
    ctx: &ContextPlan,
    outside: &[(String, u32)],
    b: &mut BudgetResult,
    detail: &mut [OutsideLine],
) {
    b.context_tokens = ctx.packs.iter().map(|p| p.tokens).sum();
    for ((path, line), o) in outside.iter().zip(detail.iter_mut()) {
        let spans = |i: &&crate::context::ContextItem| {
            &i.path == path && i.start <= *line && *line <= i.end
        };
        let item = ctx.packs.iter().flat_map(|p| &p.items).find(spans);
        if let Some(i) = item {
            b.context += 1;
            *b.kinds.entry(i.kind.as_str().to_string()).or_default() += 1;
            if o.context.is_none_or(|c| b.budget < c) {
                o.context = Some(b.budget);
                o.kind = Some(i.kind.as_str().to_string());
            }
        } else if let Some(d) = ctx.packs.iter().flat_map(|p| &p.dropped).find(spans) {
            o.dropped = Some(d.kind.as_str().to_string());
        }
    }
}

/// The naive baseline: every hunk of the plan (in chunk order) widened one
/// line at a time, alternately above and below, round robin, while the
/// lines' tokens fit in `total`. Returns the covered ranges by path and
/// the tokens used.
fn naive(
    repo: &gix::Repository,
    plan: &ReviewPlan,
    total: usize,
    texts: &mut HashMap<String, Option<String>>,
) -> Result<(Ranges, usize)> {
    struct Grow {
        path: String,
        start: u32,
        end: u32,
        above: bool,
        done: bool,
    }
    let mut grows = Vec::new();
    for chunk in &plan.chunks {
        for cf in &chunk.files {
            let f = &plan.files[cf.file];
            if matches!(f.status, FileStatus::Deleted) || f.binary {
                continue;
            }
            for &h in &cf.hunks {
                let Some(hunk) = f.hunks.get(h) else { continue };
                let new = hunk.lines.iter().filter_map(|l| l.new_line);
                let (start, end) = match (new.clone().min(), new.max()) {
                    (Some(s), Some(e)) => (s, e),
                    // Nothing left on the new side: grow from where it was.
                    _ => (hunk.new_start + 1, hunk.new_start),
                };
                grows.push(Grow {
                    path: f.path.clone(),
                    start,
                    end,
                    above: true,
                    done: false,
                });
            }
        }
    }
    let mut lines: HashMap<String, Vec<String>> = HashMap::new();
    for g in &grows {
        if !lines.contains_key(&g.path) {
            let text = match texts.get(&g.path) {
                Some(t) => t.clone(),
                None => {
                    let t = crate::git::range::read_file_at(repo, plan.range.head, &g.path)?
                        .map(|d| d.to_str_lossy().into_owned());
                    texts.insert(g.path.clone(), t.clone());
                    t
                }
            };
            let l = text
                .map(|t| t.lines().map(str::to_string).collect())
                .unwrap_or_default();
            lines.insert(g.path.clone(), l);
        }
    }
    let covered_by = |grows: &[Grow], path: &str, line: u32| {
        grows
            .iter()
            .any(|g| g.path == path && g.start <= line && line <= g.end)
    };
    let mut used = 0;
    'grow: loop {
        let mut grew = false;
        for i in 0..grows.len() {
            if grows[i].done {
                continue;
            }
            let n = lines[&grows[i].path].len() as u32;
            let g = &grows[i];
            let can_up = g.start > 1;
            let can_down = g.end < n;
            let up = match (can_up, can_down) {
                (false, false) => {
                    grows[i].done = true;
                    continue;
                }
                (true, true) => g.above,
                (up, _) => up,
            };
            let line = if up { g.start - 1 } else { g.end + 1 };
            let cost = if covered_by(&grows, &g.path, line) {
                0
            } else {
                let text = &lines[&g.path][line as usize - 1];
                estimate_tokens(&format!("  {line} | {text}\n"))
            };
            if used + cost > total {
                break 'grow;
            }
            used += cost;
            let g = &mut grows[i];
            if up {
                g.start -= 1;
            } else {
                g.end += 1;
            }
            g.above = !up;
            grew = true;
        }
        if !grew {
            break;
        }
    }
    let mut out = Ranges::new();
    for g in grows {
        if g.start <= g.end {
            out.entry(g.path).or_default().push((g.start, g.end));
        }
    }
    Ok((out, used))
}

fn report(fix_commits: usize, budgets: &[usize], pairs: Vec<PairResult>) -> Report {
    let measured: Vec<&PairResult> = pairs.iter().filter(|p| p.skipped.is_none()).collect();
    let majority: Vec<&PairResult> = measured.iter().copied().filter(|p| p.majority).collect();
    Report {
        fix_commits,
        budgets: budgets.to_vec(),
        groups: vec![
            group("all pairs", &measured, budgets),
            group("intro owns >= half of the fix's lines", &majority, budgets),
        ],
        pairs,
    }
}

fn group(name: &str, pairs: &[&PairResult], budgets: &[usize]) -> Group {
    let targets: usize = pairs.iter().map(|p| p.targets).sum();
    let inside: usize = pairs.iter().map(|p| p.inside).sum();
    let outside: usize = pairs.iter().map(|p| p.outside).sum();
    let rows = budgets
        .iter()
        .enumerate()
        .map(|(bi, &budget)| {
            let at = |p: &PairResult| p.results.get(bi).cloned().unwrap_or_default();
            let per: Vec<(usize, usize)> = pairs
                .iter()
                .map(|p| {
                    let b = at(p);
                    (b.context, b.naive)
                })
                .collect();
            let context: usize = per.iter().map(|x| x.0).sum();
            let naive: usize = per.iter().map(|x| x.1).sum();
            let mut kinds = BTreeMap::new();
            for p in pairs {
                for (k, n) in at(p).kinds {
                    *kinds.entry(k).or_insert(0) += n;
                }
            }
            Row {
                budget,
                context,
                naive,
                context_recall: share(context, outside),
                naive_recall: share(naive, outside),
                ratio: (naive > 0).then(|| context as f64 / naive as f64),
                interval: bootstrap(&per, RESAMPLES, SEED),
                context_tokens: pairs.iter().map(|p| at(p).context_tokens).sum(),
                naive_tokens: pairs.iter().map(|p| at(p).naive_tokens).sum(),
                kinds,
            }
        })
        .collect();
    Group {
        name: name.to_string(),
        pairs: pairs.len(),
        with_outside: pairs.iter().filter(|p| p.outside > 0).count(),
        targets,
        inside,
        outside,
        inside_share: share(inside, targets),
        rows,
    }
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

/// A xorshift64* generator (fixed seed, no crate).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The 95% percentile interval of pooled a / pooled b over `resamples`
/// resamples of `per` (pairs of counts) with replacement; resamples where
/// b is 0 are left out. `None` with no pairs or no usable resample.
pub fn bootstrap(per: &[(usize, usize)], resamples: usize, seed: u64) -> Option<(f64, f64)> {
    if per.is_empty() {
        return None;
    }
    let mut rng = XorShift::new(seed);
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let (mut a, mut b) = (0, 0);
        for _ in 0..per.len() {
            let (x, y) = per[rng.below(per.len())];
            a += x;
            b += y;
        }
        if b > 0 {
            ratios.push(a as f64 / b as f64);
        }
    }
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    let at =
        |q: f64| ratios[((q * (ratios.len() - 1) as f64).round() as usize).min(ratios.len() - 1)];
    Some((at(0.025), at(0.975)))
}

/// The report as a text table.
pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let skipped = report.pairs.iter().filter(|p| p.skipped.is_some()).count();
    let _ = writeln!(
        s,
        "context recall: {} pair(s) from {} fix commit(s){}",
        report.pairs.len(),
        report.fix_commits,
        if skipped > 0 {
            format!(", {skipped} not measured")
        } else {
            String::new()
        }
    );
    for g in &report.groups {
        let _ = writeln!(
            s,
            "\n{}: {} pair(s), {} with outside lines; {} fix line(s) in the intro's tree, {} inside hunks ({:.0}%), {} outside",
            g.name,
            g.pairs,
            g.with_outside,
            g.targets,
            g.inside,
            100.0 * g.inside_share,
            g.outside
        );
        let _ = writeln!(
            s,
            "{:>7}  {:>15}  {:>15}  {:>6}  {:>13}  {:>9}  {:>9}  covered by",
            "budget", "context", "naive", "ratio", "95% interval", "ctx tok", "naive tok"
        );
        for r in &g.rows {
            let pct = |n: usize, x: f64| format!("{n} ({:.1}%)", 100.0 * x);
            let kinds: Vec<String> = r.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(
                s,
                "{:>7}  {:>15}  {:>15}  {:>6}  {:>13}  {:>9}  {:>9}  {}",
                r.budget,
                pct(r.context, r.context_recall),
                pct(r.naive, r.naive_recall),
                r.ratio.map_or("-".into(), |x| format!("{x:.2}")),
                r.interval
                    .map_or("-".into(), |(a, b)| format!("{a:.2}-{b:.2}")),
                r.context_tokens,
                r.naive_tokens,
                kinds.join(", ")
            );
        }
    }
    s
}
