//! One chunk of the plan + the symbol index → its context pack: candidate
//! items (the enclosing function, definitions the change uses, callers of
//! what it changed, sibling methods sharing its fields, tests, co-changed
//! files), scored, merged, and fitted to a token budget.
//!
//! The score of an item is its kind's weight (how often that kind of code
//! decides whether a change is right), divided by how ambiguous the name
//! linking it is (a use of `new` says less than a use of `timeout_secs`),
//! times one plus its personalised PageRank from the changed definitions
//! ([`super::rank`]). Items are taken in score order while they fit.

use super::cochange::CoChange;
use super::index::{DefId, SymbolIndex};
use super::model::{ChunkPack, ContextItem, ItemKind};
use super::tags::{self, DefKind};
use crate::git::diff::LineKind;
use crate::plan::{Chunk, ReviewPlan};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A callable longer than this shows its signature and doc only when it
/// is a definition the change uses (its body is not what the change relies on).
pub const SHORT_BODY_LINES: u32 = 30;
/// Most uses of one name followed (a name used everywhere links nothing).
const MAX_USES_PER_NAME: usize = 40;
/// A name defined in more places than this is too common to link by.
const MAX_DEFS_PER_NAME: usize = 8;
/// Lines shown around a use that is not inside any definition.
const USE_WINDOW: u32 = 3;
/// How far the PageRank factor can raise a candidate (×1.3 for the
/// best-ranked): it orders candidates within a kind, it does not lift a
/// caller above the lines next to the change.
const RANK_WEIGHT: f64 = 0.3;
/// Names too short to link by.
const MIN_NAME_LEN: usize = 3;
/// A function longer than this is not a single item (it is its signature
/// plus the blocks nearest the change, see [`nearby`]).
const WHOLE_ENCLOSING_LINES: u32 = 60;
/// Lines per block beyond a hunk, blocks per side, and how much each step
/// away lowers a block's score.
const NEARBY_LINES: u32 = 8;
const NEARBY_BLOCKS: u32 = 20;
const NEARBY_DECAY: f64 = 0.85;
/// Candidates listed as dropped at most (the plan stays readable).
const MAX_DROPPED: usize = 40;

/// What the change in one file of the chunk is.
#[derive(Debug, Default)]
struct Changed {
    /// New-side lines added.
    added: Vec<u32>,
    /// New-side ranges the chunk already shows (hunks with their context).
    shown: Vec<(u32, u32)>,
    /// Text of removed lines (for definitions the range removed).
    removed: Vec<String>,
    /// Text of added lines.
    added_text: Vec<String>,
}

/// A candidate before merging: where, why, how much it is worth.
#[derive(Debug, Clone)]
struct Candidate {
    kind: ItemKind,
    file: usize,
    start: u32,
    end: u32,
    reason: String,
    score: f64,
    /// The definition it shows, when it is one (for the PageRank factor).
    def: Option<DefId>,
    /// When it does not fit whole, the part nearest the change may be
    /// taken: `Some(true)` keeps its first lines, `Some(false)` its last.
    trim: Option<bool>,
}

/// Weights of the kinds: the enclosing function first (a change is judged
/// within it), then the code that depends on what changed, then what the
/// change depends on, then history.
fn weight(kind: ItemKind) -> f64 {
    match kind {
        ItemKind::Nearby => 1.05,
        ItemKind::Enclosing => 0.9,
        ItemKind::Caller => 0.8,
        ItemKind::Sibling => 0.75,
        ItemKind::Test => 0.7,
        ItemKind::Definition => 0.6,
        ItemKind::CoChange => 0.45,
    }
}

/// Reads a file's text at the head by index, split into lines (blobs are
/// read once per pack run).
pub trait Texts {
    fn lines(&mut self, file: usize) -> Option<&[String]>;
}

/// Builds the pack of `chunk` within `budget` tokens counted by `count`.
pub fn pack(
    plan: &ReviewPlan,
    chunk: &Chunk,
    index: &SymbolIndex,
    cochange: &CoChange,
    texts: &mut dyn Texts,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> ChunkPack {
    let changed = changes_of(plan, chunk);
    let mut cands = Vec::new();
    let mut changed_defs: Vec<DefId> = Vec::new();
    for (path, ch) in &changed {
        let Some(&fi) = index.by_path.get(path.as_str()) else {
            continue;
        };
        let mut enclosing_done = HashSet::new();
        for &line in &ch.added {
            let Some(d) = index.enclosing(fi, line) else {
                continue;
            };
            if !changed_defs.contains(&d) {
                changed_defs.push(d);
            }
            // The whole function around the change, once per function.
            let callable = innermost_callable(index, fi, line);
            if let Some(c) = callable.filter(|c| enclosing_done.insert(*c)) {
                let def = index.def(c);
                // A long function is its signature here; the blocks near
                // the change (below) show the part around it first.
                let end = if def.end - def.start > WHOLE_ENCLOSING_LINES {
                    def.line + 1
                } else {
                    def.end
                };
                cands.push(Candidate {
                    kind: ItemKind::Enclosing,
                    file: fi,
                    start: def.start,
                    end,
                    reason: format!(
                        "the whole {} `{}` around the change",
                        kind_word(def.kind),
                        def.name
                    ),
                    score: weight(ItemKind::Enclosing),
                    def: Some(c),
                    trim: None,
                });
            }
        }
    }
    let changed_names: Vec<(String, String)> = changed_defs
        .iter()
        .map(|&d| {
            let def = index.def(d);
            (
                def.name.clone(),
                format!("{}:{}", index.files[d.0].path, def.line),
            )
        })
        // A changed field changes its type: whoever builds or matches the
        // type (a constructor that does not set a new field) depends on it.
        .chain(changed_defs.iter().filter_map(|&d| {
            let def = index.def(d);
            let owner = container_of(index, d).filter(|_| def.kind == DefKind::Field)?;
            let t = index.def(owner);
            Some((
                t.name.clone(),
                format!(
                    "{}:{}, field `{}`",
                    index.files[d.0].path, def.line, def.name
                ),
            ))
        }))
        .chain(removed_defs(&changed))
        .filter(|(n, _)| n.len() >= MIN_NAME_LEN)
        .collect();

    // Callers and other uses of what changed, and tests among them.
    for (name, at) in &changed_names {
        let ambiguity = index.defs.get(name).map_or(1, Vec::len).max(1);
        if ambiguity > MAX_DEFS_PER_NAME {
            continue;
        }
        let Some(uses) = index.uses.get(name) else {
            continue;
        };
        for &(fi, line) in uses.iter().take(MAX_USES_PER_NAME) {
            if is_shown(&changed, &index.files[fi].path, line, line) {
                continue;
            }
            let inside_changed = changed_defs.iter().any(|&d| {
                let def = index.def(d);
                d.0 == fi && def.start <= line && line <= def.end
            });
            if inside_changed {
                continue;
            }
            let kind = if index.files[fi].test {
                ItemKind::Test
            } else {
                ItemKind::Caller
            };
            let (start, end, def) = around(index, fi, line);
            let verb = if kind == ItemKind::Test {
                "tests"
            } else {
                "uses"
            };
            cands.push(Candidate {
                kind,
                file: fi,
                start,
                end,
                reason: format!("{verb} `{name}`, whose definition changed in this range ({at})"),
                score: weight(kind) / (ambiguity as f64).sqrt(),
                def,
                trim: None,
            });
        }
    }

    // Definitions the added lines use (code only: the words of prose link nothing).
    let own: HashSet<DefId> = changed_defs.iter().copied().collect();
    for (path, ch) in &changed {
        if !is_code(path) {
            continue;
        }
        // The files this one names (`use crate::engine::grammar`, `import
        // "pool"`): a definition there is likelier the one meant.
        let mentions: Vec<String> = index
            .by_path
            .get(path.as_str())
            .and_then(|&fi| texts.lines(fi).map(<[String]>::to_vec))
            .unwrap_or_default();
        let mut seen = HashSet::new();
        for text in &ch.added_text {
            for word in tags::identifiers(text) {
                if word.len() < MIN_NAME_LEN || !seen.insert(word.to_string()) {
                    continue;
                }
                let Some(defs) = index.defs.get(word) else {
                    continue;
                };
                if defs.len() > MAX_DEFS_PER_NAME {
                    continue;
                }
                for &d in defs {
                    if own.contains(&d) {
                        continue;
                    }
                    let def = index.def(d);
                    let target = if def.kind == DefKind::Field {
                        container_of(index, d).unwrap_or(d)
                    } else {
                        d
                    };
                    let shown = index.def(target);
                    let end =
                        if shown.kind.is_callable() && shown.end - shown.line > SHORT_BODY_LINES {
                            shown.line
                        } else {
                            shown.end.min(shown.start + 3 * SHORT_BODY_LINES)
                        };
                    let def_path = &index.files[d.0].path;
                    let reach = if def_path == path {
                        1.2
                    } else if mentions.iter().any(|l| l.contains(module_stem(def_path))) {
                        1.0
                    } else {
                        0.5
                    };
                    cands.push(Candidate {
                        kind: ItemKind::Definition,
                        file: d.0,
                        start: shown.start,
                        end,
                        reason: format!("defines `{word}`, used by the changed lines"),
                        score: weight(ItemKind::Definition) / (defs.len() as f64).sqrt() * reach,
                        def: Some(target),
                        trim: None,
                    });
                }
            }
        }
    }

    // Siblings: methods of the same type touching the fields the change touches.
    for &d in &changed_defs {
        let def = index.def(d);
        let Some(owner) = def
            .container
            .clone()
            .filter(|_| def.kind == DefKind::Method)
        else {
            continue;
        };
        let fields: HashSet<&str> = index
            .defs
            .values()
            .flatten()
            .map(|&f| index.def(f))
            .filter(|f| f.kind == DefKind::Field && f.container.as_deref() == Some(owner.as_str()))
            .map(|f| f.name.as_str())
            .collect();
        // The fields the changed method uses anywhere (a lock taken around
        // an unchanged line is about that line's field).
        let touched: HashSet<&str> = index.files[d.0]
            .tags
            .refs
            .iter()
            .filter(|r| def.start <= r.line && r.line <= def.end)
            .map(|r| r.name.as_str())
            .filter(|w| fields.contains(w))
            .collect();
        for field in touched {
            for &(fi, line) in index.uses.get(field).map_or(&[][..], Vec::as_slice) {
                let Some(m) = index.enclosing(fi, line) else {
                    continue;
                };
                let method = index.def(m);
                if m == d
                    || method.kind != DefKind::Method
                    || method.container.as_deref() != Some(owner.as_str())
                {
                    continue;
                }
                cands.push(Candidate {
                    kind: ItemKind::Sibling,
                    file: fi,
                    start: method.start,
                    end: method.end,
                    reason: format!(
                        "`{}`, another method of `{owner}`, uses field `{field}` as the changed `{}` does",
                        method.name,
                        def.name
                    ),
                    score: weight(ItemKind::Sibling),
                    def: Some(m),
                    trim: None,
                });
            }
        }
    }

    // Files that change together with the changed ones, by the symbols in
    // them that use what the change names.
    // Project symbols only (defined in the index, not everywhere).
    let names: HashSet<&str> = changed_names
        .iter()
        .map(|(n, _)| n.as_str())
        .chain(
            changed
                .iter()
                .filter(|(p, _)| is_code(p))
                .flat_map(|(_, c)| c.added_text.iter())
                .flat_map(|t| tags::identifiers(t))
                .filter(|w| {
                    w.len() > MIN_NAME_LEN && index.defs.get(*w).is_some_and(|d| d.len() <= 2)
                }),
        )
        .collect();
    for path in changed.keys() {
        for (partner, n) in cochange.partners.get(path).map_or(&[][..], Vec::as_slice) {
            let Some(&fi) = index.by_path.get(partner.as_str()) else {
                continue;
            };
            let strength = (*n as f64 / 5.0).min(1.0);
            let mut by_def: BTreeMap<(u32, u32), (Option<DefId>, &str)> = BTreeMap::new();
            for r in &index.files[fi].tags.refs {
                if !names.contains(r.name.as_str()) || is_shown(&changed, partner, r.line, r.line) {
                    continue;
                }
                let (s, e, d) = around(index, fi, r.line);
                by_def.entry((s, e)).or_insert((d, r.name.as_str()));
            }
            for ((s, e), (d, name)) in by_def.into_iter().take(3) {
                cands.push(Candidate {
                    kind: ItemKind::CoChange,
                    file: fi,
                    start: s,
                    end: e,
                    reason: format!(
                        "changed together with {path} in {n} of the last {} commits; uses `{name}`",
                        cochange.commits
                    ),
                    score: weight(ItemKind::CoChange) * strength,
                    def: d,
                    trim: None,
                });
            }
        }
    }

    apply_rank(index, &changed_defs, &mut cands);
    cands.extend(nearby(index, &changed));
    select(chunk.index, cands, &changed, index, texts, budget, count)
}

/// Blocks of lines beyond each hunk, nearest first: most of what decides a
/// change sits within a few dozen lines of it (the rest of its function,
/// the fields and imports above it, its neighbours). Inside the function
/// that encloses the change they rank a little higher.
fn nearby(index: &SymbolIndex, changed: &BTreeMap<String, Changed>) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (path, ch) in changed {
        let Some(&fi) = index.by_path.get(path.as_str()) else {
            continue;
        };
        let last = index.files[fi].tags.lines;
        for &(s, e) in &ch.shown {
            let around = innermost_callable(index, fi, s.max(1)).map(|d| index.def(d).clone());
            // Small blocks first (the next few lines are the likeliest to
            // matter, and many hunks share a budget), then full ones.
            let mut off = 0;
            for k in 0..NEARBY_BLOCKS + 3 {
                let size = match k {
                    0 => 2,
                    1 | 2 => 3,
                    _ => NEARBY_LINES,
                };
                let decay = NEARBY_DECAY.powf(f64::from(off) / f64::from(NEARBY_LINES));
                let above_end = s.saturating_sub(1 + off);
                let above = (above_end.saturating_sub(size - 1).max(1), above_end);
                let below_start = e + 1 + off;
                let below = (below_start, (below_start + size - 1).min(last));
                off += size;
                for (a, b, keep_first) in [(above.0, above.1, false), (below.0, below.1, true)] {
                    if a == 0 || b < a || a > last {
                        continue;
                    }
                    let inside = around.as_ref().is_some_and(|d| d.start <= a && b <= d.end);
                    out.push(Candidate {
                        kind: ItemKind::Nearby,
                        file: fi,
                        start: a,
                        end: b,
                        reason: match &around {
                            Some(d) if inside => {
                                format!("the rest of `{}` around the change", d.name)
                            }
                            _ => format!("near line {s}"),
                        },
                        score: weight(ItemKind::Nearby) * decay * if inside { 1.1 } else { 1.0 },
                        def: None,
                        trim: Some(keep_first),
                    });
                }
            }
        }
    }
    out
}

/// The changes of the chunk, by file.
fn changes_of(plan: &ReviewPlan, chunk: &Chunk) -> BTreeMap<String, Changed> {
    let mut out: BTreeMap<String, Changed> = BTreeMap::new();
    for cf in &chunk.files {
        let f = &plan.files[cf.file];
        let ch = out.entry(f.path.clone()).or_default();
        for &h in &cf.hunks {
            let Some(hunk) = f.hunks.get(h) else { continue };
            let new: Vec<u32> = hunk.lines.iter().filter_map(|l| l.new_line).collect();
            if let (Some(&s), Some(&e)) = (new.iter().min(), new.iter().max()) {
                ch.shown.push((s, e));
            }
            for l in &hunk.lines {
                match l.kind {
                    LineKind::Added => {
                        ch.added.extend(l.new_line);
                        ch.added_text.push(l.text.clone());
                    }
                    LineKind::Removed => ch.removed.push(l.text.clone()),
                    LineKind::Context => {}
                }
            }
            // A pure removal changed the code where it was: the line after it.
            if !hunk.lines.iter().any(|l| l.kind == LineKind::Added) {
                ch.added.push(hunk.new_start.max(1));
            }
        }
    }
    out
}

/// Definitions the range removed (a `fn name` line removed and not added
/// back), with where they were.
fn removed_defs(changed: &BTreeMap<String, Changed>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, ch) in changed {
        let added: HashSet<String> = ch
            .added_text
            .iter()
            .filter_map(|t| tags::defined_on_line(t).map(|(n, _)| n))
            .collect();
        for t in &ch.removed {
            if let Some((name, _)) = tags::defined_on_line(t) {
                if !added.contains(&name) {
                    out.push((name, format!("removed from {path}")));
                }
            }
        }
    }
    out
}

fn is_shown(changed: &BTreeMap<String, Changed>, path: &str, start: u32, end: u32) -> bool {
    changed
        .get(path)
        .is_some_and(|c| c.shown.iter().any(|&(s, e)| s <= start && end <= e))
}

fn innermost_callable(index: &SymbolIndex, file: usize, line: u32) -> Option<DefId> {
    index.files[file]
        .tags
        .defs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.kind.is_callable() && d.start <= line && line <= d.end)
        .min_by_key(|(_, d)| d.end - d.start)
        .map(|(i, _)| (file, i))
}

/// The code around a use: its enclosing function (or other definition),
/// else a few lines either side.
fn around(index: &SymbolIndex, file: usize, line: u32) -> (u32, u32, Option<DefId>) {
    match innermost_callable(index, file, line).or_else(|| index.enclosing(file, line)) {
        Some(d) if index.def(d).end - index.def(d).start <= 3 * SHORT_BODY_LINES => {
            (index.def(d).start, index.def(d).end, Some(d))
        }
        _ => (
            line.saturating_sub(USE_WINDOW).max(1),
            (line + USE_WINDOW).min(index.files[file].tags.lines.max(line)),
            None,
        ),
    }
}

/// The type a field belongs to, in the field's file.
fn container_of(index: &SymbolIndex, field: DefId) -> Option<DefId> {
    let f = index.def(field);
    let owner = f.container.as_deref()?;
    index.files[field.0]
        .tags
        .defs
        .iter()
        .position(|d| {
            d.kind == DefKind::Type && d.name == owner && d.start <= f.start && f.end <= d.end
        })
        .map(|i| (field.0, i))
}

/// A file whose words are code (prose, data and markup are not linked by name).
fn is_code(path: &str) -> bool {
    !matches!(
        crate::git::diff::language_for(path),
        None | Some("markdown" | "json" | "yaml" | "toml" | "xml" | "html" | "css")
    )
}

/// The name a file is imported by: its file stem, or its directory's name
/// for `mod.rs`, `index.js`, `__init__.py`.
fn module_stem(path: &str) -> &str {
    let mut parts = path.rsplit('/');
    let name = parts.next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    match stem {
        "mod" | "index" | "__init__" | "lib" | "main" => parts.next().unwrap_or(stem),
        _ => stem,
    }
}

fn kind_word(kind: DefKind) -> &'static str {
    match kind {
        DefKind::Function => "function",
        DefKind::Method => "method",
        DefKind::Type => "type",
        DefKind::Field => "field",
        DefKind::Constant => "constant",
        DefKind::Module => "module",
    }
}

/// Multiplies each candidate's score by one plus its definition's
/// PageRank (scaled so the best-ranked reaches 1 + [`RANK_WEIGHT`]) over the graph of the
/// candidates' and the changed definitions' uses of each other.
fn apply_rank(index: &SymbolIndex, changed: &[DefId], cands: &mut [Candidate]) {
    let mut nodes: Vec<DefId> = changed.to_vec();
    for c in cands.iter() {
        if let Some(d) = c.def {
            if !nodes.contains(&d) {
                nodes.push(d);
            }
        }
    }
    let pos: HashMap<DefId, usize> = nodes.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, &d) in nodes.iter().enumerate() {
        by_name
            .entry(index.def(d).name.as_str())
            .or_default()
            .push(i);
    }
    let mut edges = Vec::new();
    for (i, &d) in nodes.iter().enumerate() {
        let def = index.def(d);
        for r in &index.files[d.0].tags.refs {
            if r.line < def.start || r.line > def.end {
                continue;
            }
            if let Some(targets) = by_name.get(r.name.as_str()) {
                let w = 1.0 / targets.len() as f64;
                edges.extend(targets.iter().map(|&t| (i, t, w)));
            }
        }
    }
    let personal: Vec<(usize, f64)> = changed.iter().map(|d| (pos[d], 1.0)).collect();
    let rank = super::rank::personalised(nodes.len(), &edges, &personal);
    let best = cands
        .iter()
        .filter_map(|c| c.def.map(|d| rank[pos[&d]]))
        .fold(0.0, f64::max);
    if best <= 0.0 {
        return;
    }
    for c in cands.iter_mut() {
        if let Some(d) = c.def {
            c.score *= 1.0 + RANK_WEIGHT * rank[pos[&d]] / best;
        }
    }
}

/// What took a line: the candidate's score, kind and reason (an index).
type Took = (f64, ItemKind, usize);

/// Takes candidates in score order, each for the lines it adds to what is
/// already taken (so overlapping candidates cost nothing twice and a long
/// one is not all-or-nothing against a short one), while they fit in
/// `budget`; then merges what was taken into one block per contiguous
/// range, counted as rendered. Lines the chunk already shows are never
/// taken. The rest are listed as dropped.
fn select(
    chunk: usize,
    mut cands: Vec<Candidate>,
    changed: &BTreeMap<String, Changed>,
    index: &SymbolIndex,
    texts: &mut dyn Texts,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> ChunkPack {
    cands.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then((a.end - a.start).cmp(&(b.end - b.start)))
            .then(a.file.cmp(&b.file))
            .then(a.start.cmp(&b.start))
    });
    let mut pack = ChunkPack {
        chunk,
        budget,
        ..Default::default()
    };
    // Taken lines by file: line → (score, kind, reason) of what took it.
    let mut taken: BTreeMap<usize, BTreeMap<u32, Took>> = BTreeMap::new();
    let mut reasons: Vec<String> = Vec::new();
    // Why else a taken line is worth showing: candidates whose lines were
    // already taken by a better-scored one (a sibling method the lines
    // near the change already hold is still a sibling).
    let mut also: BTreeMap<(usize, u32), Vec<Took>> = BTreeMap::new();
    let mut reason_of = |reason: &str| match reasons.iter().position(|x| x == reason) {
        Some(i) => i,
        None => {
            reasons.push(reason.to_string());
            reasons.len() - 1
        }
    };
    let mut used = 0;
    for c in cands {
        let path = &index.files[c.file].path;
        let Some(text) = texts.lines(c.file) else {
            continue;
        };
        let shown = changed
            .get(path)
            .map(|ch| ch.shown.clone())
            .unwrap_or_default();
        let file_taken = taken.entry(c.file).or_default();
        let mut new: Vec<u32> = (c.start..=c.end)
            .filter(|l| !file_taken.contains_key(l))
            .filter(|&l| !shown.iter().any(|&(s, e)| s <= l && l <= e))
            .collect();
        if new.is_empty() {
            let r = reason_of(&c.reason);
            for l in c.start..=c.end {
                if file_taken.contains_key(&l) {
                    also.entry((c.file, l))
                        .or_default()
                        .push((c.score, c.kind, r));
                }
            }
            continue;
        }
        // What a block of its own costs besides its lines.
        let header = count(&format!(
            "[context 10] {path} lines {}-{} ({}): {}\n",
            c.start,
            c.end,
            c.kind.as_str(),
            c.reason
        ));
        let cost_of = |new: &[u32], taken: &BTreeMap<u32, Took>| {
            let lines: String = new
                .iter()
                .map(|&l| super::render::numbered_lines(text, l, l))
                .collect();
            let (Some(first), Some(last)) = (new.first(), new.last()) else {
                return None;
            };
            if lines.is_empty() {
                return None;
            }
            let joins =
                taken.contains_key(&first.saturating_sub(1)) || taken.contains_key(&(last + 1));
            Some(count(&lines) + if joins { 0 } else { header })
        };
        let Some(mut cost) = cost_of(&new, file_taken) else {
            continue;
        };
        // What fits of a block near the change: its lines nearest the change.
        if let Some(keep_first) = c.trim {
            while used + cost > budget && new.len() > 1 {
                if keep_first {
                    new.pop();
                } else {
                    new.remove(0);
                }
                cost = cost_of(&new, file_taken).unwrap_or(usize::MAX);
            }
        }
        if used + cost > budget {
            if pack.dropped.len() < MAX_DROPPED {
                pack.dropped.push(ContextItem {
                    kind: c.kind,
                    path: path.clone(),
                    start: c.start,
                    end: c.end,
                    tokens: cost,
                    reason: c.reason,
                    score: (c.score * 1000.0).round() / 1000.0,
                    text: String::new(),
                });
            }
            continue;
        }
        used += cost;
        let r = reason_of(&c.reason);
        for l in new {
            file_taken.insert(l, (c.score, c.kind, r));
        }
    }
    // One block per contiguous run of taken lines.
    let mut blocks: Vec<ContextItem> = Vec::new();
    for (file, lines) in &taken {
        let Some(text) = texts.lines(*file) else {
            continue;
        };
        let mut run: Vec<(u32, Took)> = Vec::new();
        let mut flush = |run: &mut Vec<(u32, Took)>| {
            if run.is_empty() {
                return;
            }
            let (start, end) = (run[0].0, run[run.len() - 1].0);
            // Every reason for the block's lines; the named kinds before
            // "nearby" (they say more about why it matters), best first.
            // (named, lines it covers, best score, kind, reason)
            let mut why: Vec<(bool, usize, f64, ItemKind, usize)> = Vec::new();
            for (l, first) in run.iter() {
                let others = also.get(&(*file, *l)).map(Vec::as_slice).unwrap_or(&[]);
                for &(score, kind, r) in std::iter::once(first).chain(others) {
                    let named = kind != ItemKind::Nearby;
                    match why.iter_mut().find(|w| w.4 == r) {
                        Some(w) => {
                            w.1 += 1;
                            w.2 = w.2.max(score);
                        }
                        None => why.push((named, 1, score, kind, r)),
                    }
                }
            }
            why.sort_by(|a, b| {
                b.0.cmp(&a.0)
                    .then(b.1.cmp(&a.1))
                    .then(b.2.partial_cmp(&a.2).unwrap_or(std::cmp::Ordering::Equal))
            });
            let best_score = run.iter().map(|(_, v)| v.0).fold(0.0, f64::max);
            let best = (best_score, why.first().map_or(ItemKind::Nearby, |w| w.3));
            let reason = why
                .iter()
                .take(3)
                .map(|w| reasons[w.4].as_str())
                .collect::<Vec<_>>()
                .join("; ");
            blocks.push(ContextItem {
                kind: best.1,
                path: index.files[*file].path.clone(),
                start,
                end,
                tokens: 0,
                reason,
                score: (best.0 * 1000.0).round() / 1000.0,
                text: super::render::numbered_lines(text, start, end),
            });
            run.clear();
        };
        for (&l, &v) in lines {
            if run.last().is_some_and(|(prev, _)| *prev + 1 != l) {
                flush(&mut run);
            }
            run.push((l, v));
        }
        flush(&mut run);
    }
    // Best first, as the reviewer reads them; counted as rendered, and the
    // lowest dropped should the real count exceed the estimate.
    blocks.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.path.cmp(&b.path))
            .then(a.start.cmp(&b.start))
    });
    loop {
        let mut total = 0;
        for (i, b) in blocks.iter_mut().enumerate() {
            b.tokens = count(&super::render::block(b, i + 1));
            total += b.tokens;
        }
        if total <= budget || blocks.is_empty() {
            pack.tokens = total;
            break;
        }
        if let Some(mut b) = blocks.pop() {
            b.text.clear();
            pack.dropped.push(b);
        }
    }
    pack.items = blocks;
    pack
}
