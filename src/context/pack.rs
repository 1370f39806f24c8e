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
/// Names too short to link by.
const MIN_NAME_LEN: usize = 3;

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
}

/// Weights of the kinds: the enclosing function first (a change is judged
/// within it), then the code that depends on what changed, then what the
/// change depends on, then history.
fn weight(kind: ItemKind) -> f64 {
    match kind {
        ItemKind::Enclosing => 1.0,
        ItemKind::Caller => 0.9,
        ItemKind::Sibling => 0.85,
        ItemKind::Test => 0.75,
        ItemKind::Definition => 0.7,
        ItemKind::CoChange => 0.5,
    }
}

/// Reads a file's text at the head by index (blobs are read once per pack run).
pub trait Texts {
    fn text(&mut self, file: usize) -> Option<&str>;
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
                cands.push(Candidate {
                    kind: ItemKind::Enclosing,
                    file: fi,
                    start: def.start,
                    end: def.end,
                    reason: format!(
                        "the whole {} `{}` around the change",
                        kind_word(def.kind),
                        def.name
                    ),
                    score: weight(ItemKind::Enclosing),
                    def: Some(c),
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
        let mentions: String = index
            .by_path
            .get(path.as_str())
            .and_then(|&fi| texts.text(fi).map(str::to_string))
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
                    } else if mentions.contains(module_stem(def_path)) {
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
                        "another method of `{owner}` that uses field `{field}`, as the changed lines do"
                    ),
                    score: weight(ItemKind::Sibling),
                    def: Some(m),
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
                });
            }
        }
    }

    apply_rank(index, &changed_defs, &mut cands);
    let merged = merge(cands, &changed, index);
    fit(chunk.index, merged, index, texts, budget, count)
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
/// PageRank (scaled so the best-ranked reaches 2×) over the graph of the
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
            c.score *= 1.0 + rank[pos[&d]] / best;
        }
    }
}

/// One item per overlapping (or touching) range of a file: the best score,
/// the kind of the best, every distinct reason. Ranges the chunk already
/// shows are dropped.
fn merge(
    mut cands: Vec<Candidate>,
    changed: &BTreeMap<String, Changed>,
    index: &SymbolIndex,
) -> Vec<Candidate> {
    cands.retain(|c| !is_shown(changed, &index.files[c.file].path, c.start, c.end));
    cands.sort_by_key(|c| (c.file, c.start, c.end));
    let mut out: Vec<Candidate> = Vec::new();
    for c in cands {
        match out.last_mut() {
            Some(last) if last.file == c.file && c.start <= last.end + 1 => {
                last.end = last.end.max(c.end);
                if c.score > last.score {
                    last.score = c.score;
                    last.kind = c.kind;
                }
                if !last.reason.split("; ").any(|r| r == c.reason)
                    && last.reason.matches("; ").count() < 2
                {
                    last.reason = format!("{}; {}", last.reason, c.reason);
                }
                // A merged range is scored as a whole; sum a little for
                // several independent reasons to show it.
                last.score += 0.05 * c.score;
            }
            _ => out.push(c),
        }
    }
    out
}

/// Takes items in score order while they fit in `budget`; the rest are
/// listed as dropped.
fn fit(
    chunk: usize,
    mut cands: Vec<Candidate>,
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
    let mut used = 0;
    for c in cands {
        let path = index.files[c.file].path.clone();
        let Some(text) = texts.text(c.file) else {
            continue;
        };
        let mut item = ContextItem {
            kind: c.kind,
            path,
            start: c.start,
            end: c.end,
            tokens: 0,
            reason: c.reason,
            score: (c.score * 1000.0).round() / 1000.0,
            text: super::render::numbered(text, c.start, c.end),
        };
        if item.text.is_empty() {
            continue;
        }
        item.tokens = count(&super::render::block(&item, pack.items.len() + 1));
        if used + item.tokens <= budget {
            used += item.tokens;
            pack.items.push(item);
        } else {
            item.text.clear();
            pack.dropped.push(item);
        }
    }
    pack.tokens = used;
    pack
}
