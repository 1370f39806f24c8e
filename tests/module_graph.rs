//! The module graph of `src/` has no import circles, and no file reaches a
//! module through lib.rs's short re-export paths (`crate::range`,
//! `crate::Error`) instead of its real path (`crate::git::range`,
//! `crate::error::Error`).
//!
//! The graph is built at FILE granularity: `src/lib.rs` is `crate`,
//! `src/a.rs` and `src/a/mod.rs` are `crate::a`, `src/a/b.rs` is
//! `crate::a::b`; `src/main.rs` is not part of the library and is skipped.
//! A file depends on every module file a path in it resolves to (the
//! longest prefix of the path that is a module file), whether the path is
//! in a `use`, in code or in a macro's arguments. Paths inside an inline
//! module (a file's `mod tests`) are recorded but do not count for circles:
//! test code may reach across the layers it tests. Paths
//! through a re-export (`pub use`, or any `use` a child reaches through
//! `super::`) are followed to the file that defines the item, and the file
//! holding the re-export is a dependency too. Declaring a child (`mod x;`)
//! is not a dependency; re-exporting from it is.
//!
//! The analyzer takes a map path → source text, so its own tests below need
//! no files. Run `cargo test --test module_graph -- --nocapture` for the
//! graph's summary (files, file-level edges, arrows between top-level
//! modules).

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

// ---------------------------------------------------------------------------
// The tests on today's tree.

#[test]
fn no_import_circles_among_src_modules() {
    let analysis = analyze(&read_src());
    println!("{}", analysis.summary());
    let circles = analysis.circles();
    let mut report = analysis.render_circles(&circles);
    if circles.iter().any(|c| c.contains(&Vec::new())) {
        // The files that reach a module through lib.rs's short paths depend
        // on lib.rs, which depends on everything: show what stays once they
        // use the real paths (no_short_paths_through_lib_rs passes).
        let rest = analysis.circles_where(&|_, to| !to.is_empty());
        let _ = write!(
            report,
            "\n--- without the edges into lib.rs (its short re-export paths), {} circle(s) remain:\n{}",
            rest.len(),
            analysis.render_circles(&rest)
        );
    }
    assert!(
        circles.is_empty(),
        "{} import circle(s) among src/ modules (file granularity):\n{report}",
        circles.len(),
    );
}

/// The engine's interface to the pipeline: the facade (`engine/mod.rs`),
/// what a model is asked and answers (`backend`), the router (`Engine`),
/// its options, the manifest the run reads once, and the pipeline's
/// questions about its reviewers' models (`reviewer_models`).
const ENGINE_INTERFACE: &[&str] = &[
    "crate::engine",
    "crate::engine::backend",
    "crate::engine::manifest",
    "crate::engine::options",
    "crate::engine::reviewer_models",
    "crate::engine::router",
];

#[test]
fn the_pipeline_reaches_the_engine_only_through_its_interface() {
    let analysis = analyze(&read_src());
    let pipeline = vec!["pipeline".to_string()];
    let inside: Vec<String> = analysis
        .edges
        .iter()
        .filter(|((from, to), _)| *from == pipeline && to.first().is_some_and(|t| t == "engine"))
        .filter(|((_, to), _)| !ENGINE_INTERFACE.contains(&mod_name(to).as_str()))
        .map(|((_, to), ex)| format!("{} ({})", mod_name(to), ex.text))
        .collect();
    assert!(
        inside.is_empty(),
        "src/pipeline.rs reaches into the engine past its interface ({}):\n{}",
        ENGINE_INTERFACE.join(", "),
        inside.join("\n")
    );
    // And it does use the interface (the check above cannot pass vacuously
    // because the pipeline stopped naming the engine at all).
    assert!(analysis.edges.contains_key(&(
        pipeline.clone(),
        vec!["engine".to_string(), "reviewer_models".to_string()]
    )));
}

#[test]
fn no_short_paths_through_lib_rs() {
    let analysis = analyze(&read_src());
    assert!(
        analysis.short_paths.is_empty(),
        "{} distinct path(s) reach a module or item through a lib.rs re-export instead of its real path:\n{}",
        analysis.short_paths.len(),
        analysis.render_short_paths()
    );
}

/// Every `.rs` file under `src/` but `src/main.rs`, keyed `src/…` with `/`.
fn read_src() -> BTreeMap<String, String> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            if path.is_dir() {
                walk(&path, &rel, out);
            } else if name.ends_with(".rs") && rel != "src/main.rs" {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                out.insert(rel, text);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&src, "src", &mut out);
    assert!(
        out.contains_key("src/lib.rs"),
        "no src/lib.rs under {}",
        src.display()
    );
    out
}

// ---------------------------------------------------------------------------
// Tokens.

/// A module path below the crate root: `[]` is `crate`, `["a", "b"]` is
/// `crate::a::b`.
type ModPath = Vec<String>;

fn mod_name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".to_string()
    } else {
        format!("crate::{}", m.join("::"))
    }
}

/// The module a file under `src/` is, or `None` for what is not a module file.
fn module_of(file: &str) -> Option<ModPath> {
    let rel = file.strip_prefix("src/")?.strip_suffix(".rs")?;
    let mut segs: ModPath = rel.split('/').map(str::to_string).collect();
    if segs == ["lib"] {
        return Some(Vec::new());
    }
    if segs.last().map(String::as_str) == Some("mod") {
        segs.pop();
    }
    Some(segs)
}

/// proc-macro2's tokens, simplified: `::` is one token, lifetimes and
/// literals are opaque.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Sep,
    Punct(char),
    Group(Delimiter, Vec<Tok>),
    Other,
}

fn lower(ts: TokenStream) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut iter = ts.into_iter().peekable();
    while let Some(tt) = iter.next() {
        match tt {
            TokenTree::Ident(id) => out.push(Tok::Ident(id.to_string())),
            TokenTree::Punct(p) => {
                let c = p.as_char();
                if c == ':' && p.spacing() == Spacing::Joint {
                    if let Some(TokenTree::Punct(q)) = iter.peek() {
                        if q.as_char() == ':' {
                            iter.next();
                            out.push(Tok::Sep);
                            continue;
                        }
                    }
                }
                if c == '\'' && p.spacing() == Spacing::Joint {
                    if let Some(TokenTree::Ident(_)) = iter.peek() {
                        iter.next();
                        out.push(Tok::Other);
                        continue;
                    }
                }
                out.push(Tok::Punct(c));
            }
            TokenTree::Group(g) => out.push(Tok::Group(g.delimiter(), lower(g.stream()))),
            TokenTree::Literal(_) => out.push(Tok::Other),
        }
    }
    out
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is_keyword_head(s: &str) -> bool {
    matches!(s, "crate" | "self" | "super")
}

// ---------------------------------------------------------------------------
// `use` trees.

#[derive(Clone, Debug)]
struct UseLeaf {
    /// The path as written, braces expanded (`self` in braces dropped).
    segs: Vec<String>,
    /// `Some(name)`: binds `name` (`None` for `as _`); `None`: a glob.
    binding: Option<Option<String>>,
}

/// Parses the use tree after a `use` at `toks[i]`; returns its leaves and
/// the index after the closing `;` (or where parsing stopped).
fn parse_use(toks: &[Tok], i: usize) -> (Vec<UseLeaf>, usize) {
    let mut leaves = Vec::new();
    let mut i = parse_use_tree(toks, i, &[], &mut leaves);
    if toks.get(i) == Some(&Tok::Punct(';')) {
        i += 1;
    }
    (leaves, i)
}

fn parse_use_tree(toks: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<UseLeaf>) -> usize {
    let mut segs = prefix.to_vec();
    if toks.get(i) == Some(&Tok::Sep) {
        // `::name`: an extern crate, never a module of ours.
        segs.push("::".to_string());
        i += 1;
    }
    loop {
        match toks.get(i) {
            Some(Tok::Ident(s)) => {
                segs.push(s.clone());
                i += 1;
                if toks.get(i) == Some(&Tok::Sep) {
                    i += 1;
                    continue;
                }
                let mut name = Some(s.clone());
                if ident(toks.get(i)) == Some("as") {
                    name = match toks.get(i + 1) {
                        Some(Tok::Ident(a)) if a != "_" => Some(a.clone()),
                        _ => None,
                    };
                    i += 2;
                }
                if s == "self" {
                    segs.pop();
                    if name.as_deref() == Some("self") {
                        name = segs.last().cloned();
                    }
                }
                out.push(UseLeaf {
                    segs,
                    binding: Some(name),
                });
                return i;
            }
            Some(Tok::Punct('*')) => {
                out.push(UseLeaf {
                    segs,
                    binding: None,
                });
                return i + 1;
            }
            Some(Tok::Group(Delimiter::Brace, inner)) => {
                let mut j = 0;
                while j < inner.len() {
                    let next = parse_use_tree(inner, j, &segs, out);
                    j = if next == j { j + 1 } else { next };
                    if inner.get(j) == Some(&Tok::Punct(',')) {
                        j += 1;
                    }
                }
                return i + 1;
            }
            _ => return i,
        }
    }
}

/// Whether `toks[i]` is the `use` of a use declaration (not `use<'a>`).
fn is_use_decl(toks: &[Tok], i: usize) -> bool {
    ident(toks.get(i)) == Some("use")
        && matches!(
            toks.get(i + 1),
            Some(Tok::Ident(_))
                | Some(Tok::Sep)
                | Some(Tok::Group(Delimiter::Brace, _))
                | Some(Tok::Punct('*'))
        )
}

/// The use declarations directly at this level of `toks`.
fn uses_at_level(toks: &[Tok]) -> Vec<UseLeaf> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if is_use_decl(toks, i) {
            let (leaves, next) = parse_use(toks, i + 1);
            out.extend(leaves);
            i = next.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Modules declared directly at this level (`mod x;` and `mod x { … }`).
fn mods_at_level(toks: &[Tok]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..toks.len() {
        if ident(toks.get(i)) == Some("mod") {
            if let Some(name) = ident(toks.get(i + 1)) {
                if matches!(
                    toks.get(i + 2),
                    Some(Tok::Punct(';')) | Some(Tok::Group(Delimiter::Brace, _))
                ) {
                    out.push(name.to_string());
                }
            }
        }
    }
    out
}

/// Items defined directly at this level (not modules, not imports).
fn items_at_level(toks: &[Tok]) -> BTreeSet<String> {
    const KINDS: [&str; 8] = [
        "fn", "struct", "enum", "trait", "type", "const", "static", "union",
    ];
    const NOT_NAMES: [&str; 5] = ["fn", "unsafe", "async", "extern", "_"];
    let mut out = BTreeSet::new();
    for i in 0..toks.len() {
        let Some(kw) = ident(toks.get(i)) else {
            continue;
        };
        if KINDS.contains(&kw) {
            if let Some(name) = ident(toks.get(i + 1)) {
                if !NOT_NAMES.contains(&name) {
                    out.insert(name.to_string());
                }
            }
        } else if kw == "macro_rules" && toks.get(i + 1) == Some(&Tok::Punct('!')) {
            if let Some(name) = ident(toks.get(i + 2)) {
                out.insert(name.to_string());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Files, scopes and path resolution.

/// What other files need to know about one module file.
#[derive(Default)]
struct FileInfo {
    file: String,
    module: ModPath,
    toks: Vec<Tok>,
    /// `mod x;` and inline `mod x { … }` at the top level.
    children: BTreeSet<String>,
    /// Items defined at the top level.
    items: BTreeSet<String>,
    /// Top-level imports of crate paths (`pub use` or not: a child reaches a
    /// private one through `super::`), name → absolute path.
    uses: BTreeMap<String, ModPath>,
    /// Top-level glob imports of other modules' names (`pub use x::*`).
    globs: Vec<ModPath>,
}

type Infos = BTreeMap<ModPath, FileInfo>;

#[derive(Clone, Debug)]
enum Binding {
    Crate(ModPath),
    /// Shadows any crate name (`use std::fmt`, `use gix::diff`).
    External,
}

/// One brace group's names: a module (file top or inline `mod`) or a block.
struct Scope {
    module: ModPath,
    boundary: bool,
    /// A `use super::*` (or `self::*`) of an enclosing module in this file:
    /// the lookup goes on outward past this module's boundary.
    glob_outer: bool,
    names: BTreeMap<String, Binding>,
    globs: Vec<ModPath>,
}

/// Where a path leads: the module files passed through by re-exports, and
/// the file that holds what it names.
struct Resolved {
    via: Vec<ModPath>,
    module: ModPath,
    /// The path names the module itself, not an item in it.
    exact: bool,
    full: ModPath,
}

/// Resolves an absolute path to the longest prefix that is a module file,
/// following the imports (re-exports) of the module it lands in.
fn resolve(infos: &Infos, abs: &[String]) -> Option<Resolved> {
    let mut path = abs.to_vec();
    let mut via = Vec::new();
    let mut seen = BTreeSet::new();
    loop {
        let k = (0..=path.len())
            .rev()
            .find(|&k| infos.contains_key(&path[..k]))?;
        let m = path[..k].to_vec();
        if k == path.len() {
            return Some(Resolved {
                via,
                module: m,
                exact: true,
                full: path,
            });
        }
        let name = path[k].clone();
        let info = &infos[&m];
        let defined_here = info.items.contains(&name) || info.children.contains(&name);
        let target = if defined_here || !seen.insert((m.clone(), name.clone())) || seen.len() > 32 {
            None
        } else if let Some(t) = info.uses.get(&name) {
            Some(t.clone())
        } else {
            info.globs.iter().find_map(|g| glob_lookup(infos, g, &name))
        };
        match target {
            Some(mut t) => {
                t.extend_from_slice(&path[k + 1..]);
                via.push(m);
                path = t;
            }
            None => {
                return Some(Resolved {
                    via,
                    module: m,
                    exact: false,
                    full: path,
                })
            }
        }
    }
}

/// `g::name` when module file `g` has a crate name `name` (for globs).
fn glob_lookup(infos: &Infos, g: &[String], name: &str) -> Option<ModPath> {
    let info = infos.get(g)?;
    let known =
        info.children.contains(name) || info.items.contains(name) || info.uses.contains_key(name);
    known.then(|| {
        let mut p = g.to_vec();
        p.push(name.to_string());
        p
    })
}

/// Looks a path's first segment up in the scopes, innermost first, up to
/// the enclosing module's boundary.
fn lookup(infos: &Infos, stack: &[Scope], name: &str) -> Option<ModPath> {
    for scope in stack.iter().rev() {
        if let Some(b) = scope.names.get(name) {
            return match b {
                Binding::Crate(p) => Some(p.clone()),
                Binding::External => None,
            };
        }
        if let Some(p) = scope.globs.iter().find_map(|g| glob_lookup(infos, g, name)) {
            return Some(p);
        }
        if scope.boundary && !scope.glob_outer {
            break;
        }
    }
    None
}

/// The absolute path (below `crate`) a written path stands for, if it
/// starts in this crate: `crate`, `self`, `super`, a child module or an
/// imported name.
fn resolve_head(infos: &Infos, stack: &[Scope], segs: &[String]) -> Option<ModPath> {
    let first = segs.first()?;
    if first == "crate" {
        return Some(segs[1..].to_vec());
    }
    if first == "self" || first == "super" {
        let mut base = stack.last()?.module.clone();
        let mut i = 0;
        while i < segs.len() && (segs[i] == "self" || segs[i] == "super") {
            if segs[i] == "super" {
                base.pop()?;
            }
            i += 1;
        }
        base.extend_from_slice(&segs[i..]);
        return Some(base);
    }
    let mut base = lookup(infos, stack, first)?;
    base.extend_from_slice(&segs[1..]);
    Some(base)
}

/// Fills the innermost scope (already on the stack) with the names
/// declared directly in `toks`.
fn prescan(infos: &Infos, stack: &mut [Scope], toks: &[Tok], file_module: &[String]) {
    let scope = stack.len() - 1;
    if stack[scope].boundary {
        for name in mods_at_level(toks) {
            let mut p = stack[scope].module.clone();
            p.push(name.clone());
            stack[scope].names.insert(name, Binding::Crate(p));
        }
    }
    let leaves = uses_at_level(toks);
    // Imports may name each other (`use crate::engine; use engine::manifest;`):
    // resolve until nothing more resolves; the rest are external names.
    let mut pending: Vec<(String, &UseLeaf)> = leaves
        .iter()
        .filter_map(|l| match &l.binding {
            Some(Some(name)) => Some((name.clone(), l)),
            _ => None,
        })
        .collect();
    loop {
        let before = pending.len();
        let mut rest = Vec::new();
        for (name, leaf) in pending {
            match resolve_head(infos, stack, &leaf.segs) {
                Some(abs) => {
                    stack[scope].names.insert(name, Binding::Crate(abs));
                }
                None => rest.push((name, leaf)),
            }
        }
        pending = rest;
        if pending.len() == before {
            break;
        }
    }
    for (name, _) in pending {
        stack[scope].names.entry(name).or_insert(Binding::External);
    }
    for leaf in leaves.iter().filter(|l| l.binding.is_none()) {
        let Some(abs) = resolve_head(infos, stack, &leaf.segs) else {
            continue;
        };
        let module = &stack[scope].module;
        if abs.len() >= file_module.len() && module.starts_with(&abs) {
            stack[scope].glob_outer = true;
        } else {
            stack[scope].globs.push(abs);
        }
    }
}

/// The file's own table (round 2 sees the other files' tables for globs).
fn file_info(infos: &Infos, file: &str, module: ModPath, toks: Vec<Tok>) -> FileInfo {
    let mut stack = vec![Scope {
        module: module.clone(),
        boundary: true,
        glob_outer: false,
        names: BTreeMap::new(),
        globs: Vec::new(),
    }];
    prescan(infos, &mut stack, &toks, &module);
    let top = stack.pop().unwrap();
    let children: BTreeSet<String> = mods_at_level(&toks).into_iter().collect();
    let uses = top
        .names
        .into_iter()
        .filter(|(n, _)| !children.contains(n))
        .filter_map(|(n, b)| match b {
            Binding::Crate(p) => Some((n, p)),
            Binding::External => None,
        })
        .collect();
    FileInfo {
        file: file.to_string(),
        items: items_at_level(&toks),
        children,
        uses,
        globs: top.globs,
        module,
        toks,
    }
}

// ---------------------------------------------------------------------------
// The walk that records edges.

struct Example {
    text: String,
    /// 0 in the file's module, 1 inside an inline module (a test module):
    /// the example shown prefers the former.
    rank: u8,
}

/// A `crate::<name>` path whose `<name>` lib.rs only re-exports.
struct ShortPath {
    file: String,
    text: String,
    real: Option<String>,
    count: usize,
}

struct Analysis {
    /// Module → file.
    files: BTreeMap<ModPath, String>,
    /// (from, to) → one example of the paths that make the edge.
    edges: BTreeMap<(ModPath, ModPath), Example>,
    short_paths: Vec<ShortPath>,
}

struct Walker<'a> {
    infos: &'a Infos,
    info: &'a FileInfo,
    edges: &'a mut BTreeMap<(ModPath, ModPath), Example>,
    short_paths: &'a mut BTreeMap<(String, String), ShortPath>,
}

impl Walker<'_> {
    fn walk(&mut self, toks: &[Tok], stack: &mut Vec<Scope>) {
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                Tok::Ident(_) if is_use_decl(toks, i) => {
                    let public = ident(toks.get(i.wrapping_sub(1))) == Some("pub")
                        || (matches!(
                            toks.get(i.wrapping_sub(1)),
                            Some(Tok::Group(Delimiter::Parenthesis, _))
                        ) && ident(toks.get(i.wrapping_sub(2))) == Some("pub"));
                    let (leaves, next) = parse_use(toks, i + 1);
                    for leaf in &leaves {
                        self.use_leaf(leaf, public, stack);
                    }
                    i = next.max(i + 1);
                }
                Tok::Ident(kw)
                    if kw == "pub"
                        && matches!(
                            toks.get(i + 1),
                            Some(Tok::Group(Delimiter::Parenthesis, _))
                        ) =>
                {
                    // `pub(crate)`, `pub(super)`, `pub(in path)`: no dependency.
                    i += 2;
                }
                Tok::Ident(kw)
                    if kw == "mod"
                        && ident(toks.get(i + 1)).is_some()
                        && matches!(toks.get(i + 2), Some(Tok::Group(Delimiter::Brace, _))) =>
                {
                    let Some(Tok::Group(_, inner)) = toks.get(i + 2) else {
                        unreachable!()
                    };
                    let mut module = stack.last().unwrap().module.clone();
                    module.push(ident(toks.get(i + 1)).unwrap().to_string());
                    self.enter(inner, stack, module, true);
                    i += 3;
                }
                Tok::Ident(head)
                    if toks.get(i + 1) == Some(&Tok::Sep)
                        && ident(toks.get(i + 2)).is_some()
                        && (i == 0 || toks[i - 1] != Tok::Sep) =>
                {
                    let after_dollar = i > 0 && toks[i - 1] == Tok::Punct('$');
                    let mut segs = vec![head.clone()];
                    let mut j = i + 1;
                    while toks.get(j) == Some(&Tok::Sep) {
                        let Some(s) = ident(toks.get(j + 1)) else {
                            break;
                        };
                        segs.push(s.to_string());
                        j += 2;
                    }
                    if !after_dollar || head == "crate" {
                        self.path_site(&segs, stack);
                    }
                    i = j;
                }
                Tok::Group(delim, inner) => {
                    if *delim == Delimiter::Brace {
                        let module = stack.last().unwrap().module.clone();
                        self.enter(inner, stack, module, false);
                    } else {
                        self.walk(inner, stack);
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }

    fn enter(&mut self, toks: &[Tok], stack: &mut Vec<Scope>, module: ModPath, boundary: bool) {
        stack.push(Scope {
            module,
            boundary,
            glob_outer: false,
            names: BTreeMap::new(),
            globs: Vec::new(),
        });
        prescan(self.infos, stack, toks, &self.info.module);
        self.walk(toks, stack);
        stack.pop();
    }

    fn use_leaf(&mut self, leaf: &UseLeaf, public: bool, stack: &[Scope]) {
        let Some(abs) = resolve_head(self.infos, stack, &leaf.segs) else {
            return;
        };
        let mut text = format!("use {}", leaf.segs.join("::"));
        if leaf.binding.is_none() {
            text.push_str("::*");
        }
        self.check_short(&leaf.segs, &abs, &text);
        let Some(r) = resolve(self.infos, &abs) else {
            return;
        };
        // Importing a module is no dependency on its file by itself (the
        // paths through the name are); importing an item or a glob is, and
        // so is re-exporting a module (`pub use child::module`).
        let to_module = leaf.binding.is_none() || !r.exact || public;
        self.record_resolved(&r, to_module, &text, stack);
    }

    fn path_site(&mut self, segs: &[String], stack: &[Scope]) {
        if segs.len() < 2 {
            return;
        }
        let Some(abs) = resolve_head(self.infos, stack, segs) else {
            return;
        };
        let text = segs.join("::");
        self.check_short(segs, &abs, &text);
        if let Some(r) = resolve(self.infos, &abs) {
            self.record_resolved(&r, true, &text, stack);
        }
    }

    fn record_resolved(&mut self, r: &Resolved, to_module: bool, text: &str, stack: &[Scope]) {
        let inline = &stack.last().unwrap().module[self.info.module.len()..];
        let (where_, rank) = if inline.is_empty() {
            (String::new(), 0)
        } else {
            (format!(" (in mod {})", inline.join("::")), 1)
        };
        for m in &r.via {
            let ex = format!(
                "{}: {text} [re-exported by {}]{where_}",
                self.info.file,
                mod_name(m)
            );
            self.record(m, ex, rank);
        }
        if to_module {
            let ex = if r.via.is_empty() {
                format!("{}: {text}{where_}", self.info.file)
            } else {
                format!(
                    "{}: {text} [= {}]{where_}",
                    self.info.file,
                    mod_name(&r.full)
                )
            };
            self.record(&r.module, ex, rank);
        }
    }

    fn record(&mut self, to: &ModPath, text: String, rank: u8) {
        if *to == self.info.module {
            return;
        }
        let key = (self.info.module.clone(), to.clone());
        match self.edges.get(&key) {
            Some(old) if old.rank <= rank => {}
            _ => {
                self.edges.insert(key, Example { text, rank });
            }
        }
    }

    /// A path spelled from `crate`/`self`/`super` whose first name below
    /// the root is neither a module lib.rs declares nor an item it defines.
    fn check_short(&mut self, segs: &[String], abs: &[String], text: &str) {
        if !is_keyword_head(&segs[0]) || abs.is_empty() {
            return;
        }
        let Some(lib) = self.infos.get(&Vec::new()) else {
            return;
        };
        let name = &abs[0];
        if lib.children.contains(name) || lib.items.contains(name) {
            return;
        }
        let real = lib.uses.get(name).map(|t| {
            let mut p = t.clone();
            p.extend_from_slice(&abs[1..]);
            mod_name(&p)
        });
        let key = (self.info.file.clone(), text.to_string());
        self.short_paths
            .entry(key)
            .or_insert_with(|| ShortPath {
                file: self.info.file.clone(),
                text: text.to_string(),
                real,
                count: 0,
            })
            .count += 1;
    }
}

/// Builds the module graph of a set of files (`src/…` → source text).
fn analyze(sources: &BTreeMap<String, String>) -> Analysis {
    let mut parsed = Vec::new();
    for (file, text) in sources {
        let Some(module) = module_of(file) else {
            continue;
        };
        let ts = TokenStream::from_str(text)
            .unwrap_or_else(|e| panic!("{file}: does not tokenize: {e:?}"));
        parsed.push((file.clone(), module, lower(ts)));
    }
    // Round 1 without, round 2 with the other files' tables (globs).
    let mut infos = Infos::new();
    for _round in 0..2 {
        let prev = std::mem::take(&mut infos);
        for (file, module, toks) in &parsed {
            infos.insert(
                module.clone(),
                file_info(&prev, file, module.clone(), toks.clone()),
            );
        }
    }
    let mut edges = BTreeMap::new();
    let mut short = BTreeMap::new();
    for info in infos.values() {
        let mut walker = Walker {
            infos: &infos,
            info,
            edges: &mut edges,
            short_paths: &mut short,
        };
        let mut stack = Vec::new();
        walker.enter(&info.toks, &mut stack, info.module.clone(), true);
    }
    Analysis {
        files: infos
            .iter()
            .map(|(m, i)| (m.clone(), i.file.clone()))
            .collect(),
        edges,
        short_paths: short.into_values().collect(),
    }
}

// ---------------------------------------------------------------------------
// Circles and reports.

impl Analysis {
    fn successors(&self, m: &ModPath) -> Vec<&ModPath> {
        self.edges
            .range((m.clone(), Vec::new())..)
            .take_while(|((from, _), _)| from == m)
            .map(|((_, to), _)| to)
            .collect()
    }

    /// The strongly connected components of more than one file (Tarjan),
    /// each sorted, largest first.
    /// The circles of the shipped code: an edge made only from inside an
    /// inline module (the `#[cfg(test)] mod tests` of a file) does not
    /// count, since test code may reach across the layers it tests.
    fn circles(&self) -> Vec<Vec<ModPath>> {
        self.circles_where(&|from, to| {
            self.edges
                .get(&(from.clone(), to.clone()))
                .is_some_and(|ex| ex.rank == 0)
        })
    }

    /// The circles among the edges `keep` keeps.
    fn circles_where(&self, keep: &dyn Fn(&ModPath, &ModPath) -> bool) -> Vec<Vec<ModPath>> {
        struct Tarjan<'a> {
            a: &'a Analysis,
            keep: &'a dyn Fn(&ModPath, &ModPath) -> bool,
            index: BTreeMap<&'a ModPath, usize>,
            low: BTreeMap<&'a ModPath, usize>,
            stack: Vec<&'a ModPath>,
            on_stack: BTreeSet<&'a ModPath>,
            out: Vec<Vec<ModPath>>,
        }
        impl<'a> Tarjan<'a> {
            fn visit(&mut self, v: &'a ModPath) {
                let n = self.index.len();
                self.index.insert(v, n);
                self.low.insert(v, n);
                self.stack.push(v);
                self.on_stack.insert(v);
                for w in self.a.successors(v) {
                    if !(self.keep)(v, w) {
                        continue;
                    }
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let lw = self.low[w];
                        let lv = self.low.get_mut(v).unwrap();
                        *lv = (*lv).min(lw);
                    } else if self.on_stack.contains(w) {
                        let iw = self.index[w];
                        let lv = self.low.get_mut(v).unwrap();
                        *lv = (*lv).min(iw);
                    }
                }
                if self.low[v] == self.index[v] {
                    let mut comp = Vec::new();
                    loop {
                        let w = self.stack.pop().unwrap();
                        self.on_stack.remove(w);
                        comp.push(w.clone());
                        if w == v {
                            break;
                        }
                    }
                    if comp.len() > 1 {
                        comp.sort();
                        self.out.push(comp);
                    }
                }
            }
        }
        let mut t = Tarjan {
            a: self,
            keep,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            out: Vec::new(),
        };
        let nodes: BTreeSet<&ModPath> = self
            .files
            .keys()
            .chain(self.edges.keys().flat_map(|(a, b)| [a, b]))
            .collect();
        for v in nodes {
            if !t.index.contains_key(v) {
                t.visit(v);
            }
        }
        let mut out = t.out;
        out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        out
    }

    fn file_of(&self, m: &ModPath) -> String {
        self.files.get(m).cloned().unwrap_or_else(|| mod_name(m))
    }

    /// Each circle: its files, the arrows between top-level modules inside
    /// it, and every edge inside it with an example path.
    fn render_circles(&self, circles: &[Vec<ModPath>]) -> String {
        let mut s = String::new();
        for (n, comp) in circles.iter().enumerate() {
            let members: BTreeSet<&ModPath> = comp.iter().collect();
            let inner: Vec<_> = self
                .edges
                .iter()
                .filter(|((a, b), _)| members.contains(a) && members.contains(b))
                .collect();
            let _ = writeln!(
                s,
                "\ncircle {} of {}: {} files, {} edges inside",
                n + 1,
                circles.len(),
                comp.len(),
                inner.len()
            );
            for m in comp {
                let _ = writeln!(s, "  {}  ({})", mod_name(m), self.file_of(m));
            }
            let mut arrows: BTreeMap<(String, String), usize> = BTreeMap::new();
            for ((a, b), _) in &inner {
                let (ta, tb) = (top_name(a), top_name(b));
                if ta != tb {
                    *arrows.entry((ta, tb)).or_default() += 1;
                }
            }
            if !arrows.is_empty() {
                let _ = writeln!(s, "  between top-level modules (file edges):");
                for ((a, b), c) in &arrows {
                    let back = arrows.get(&(b.clone(), a.clone())).copied().unwrap_or(0);
                    let mark = if back > 0 {
                        format!("   <-> back: {back}")
                    } else {
                        String::new()
                    };
                    let _ = writeln!(s, "    {a} -> {b} ({c}){mark}");
                }
            }
            let _ = writeln!(s, "  edges:");
            for ((a, b), ex) in &inner {
                let _ = writeln!(
                    s,
                    "    {} -> {}\n        {}",
                    mod_name(a),
                    mod_name(b),
                    ex.text
                );
            }
        }
        s
    }

    fn render_short_paths(&self) -> String {
        let mut s = String::new();
        for p in &self.short_paths {
            let real = p
                .real
                .as_deref()
                .unwrap_or("(not a lib.rs re-export; unknown name)");
            let times = if p.count > 1 {
                format!(" (x{})", p.count)
            } else {
                String::new()
            };
            let _ = writeln!(s, "  {}: {}{times}  ->  {real}", p.file, p.text);
        }
        s
    }

    /// Files, file-level edges, and the arrows between top-level modules
    /// with the number of file edges behind each.
    fn summary(&self) -> String {
        let mut arrows: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (a, b) in self.edges.keys() {
            let (ta, tb) = (top_name(a), top_name(b));
            if ta != tb {
                *arrows.entry((ta, tb)).or_default() += 1;
            }
        }
        let mut s = format!(
            "module graph of src/: {} files, {} file-level edges, {} arrows between top-level modules (file edges behind each):\n",
            self.files.len(),
            self.edges.len(),
            arrows.len()
        );
        for ((a, b), c) in &arrows {
            let _ = writeln!(s, "  {a} -> {b} ({c})");
        }
        s
    }
}

/// `crate` for lib.rs, else `crate::<first segment>`.
fn top_name(m: &[String]) -> String {
    mod_name(&m[..m.len().min(1)])
}

// ---------------------------------------------------------------------------
// The analyzer's own tests, on files in memory.

fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
    list.iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

fn m(s: &str) -> ModPath {
    s.split("::")
        .filter(|x| !x.is_empty() && *x != "crate")
        .map(str::to_string)
        .collect()
}

fn has_edge(a: &Analysis, from: &str, to: &str) -> bool {
    a.edges.contains_key(&(m(from), m(to)))
}

fn targets(a: &Analysis, from: &str) -> Vec<String> {
    a.successors(&m(from))
        .into_iter()
        .map(|t| mod_name(t))
        .collect()
}

#[test]
fn analyzer_finds_a_circle_and_prints_its_edges() {
    let a = analyze(&files(&[
        ("src/lib.rs", "pub mod a; pub mod b; pub mod c;"),
        ("src/a.rs", "use crate::b::B; pub struct A(B);"),
        (
            "src/b.rs",
            "pub struct B; pub fn f() -> crate::a::A { todo!() }",
        ),
        ("src/c.rs", "pub fn g() { crate::a::A(crate::b::B); }"),
    ]));
    assert_eq!(a.circles(), vec![vec![m("a"), m("b")]]);
    let text = a.render_circles(&a.circles());
    assert!(text.contains("src/a.rs: use crate::b::B"), "{text}");
    assert!(text.contains("src/b.rs: crate::a::A"), "{text}");
    assert!(!text.contains("crate::c"), "{text}");
    assert!(
        a.summary().contains("4 files, 4 file-level edges"),
        "{}",
        a.summary()
    );
}

#[test]
fn analyzer_does_not_count_super_in_an_inline_module_or_comments_or_strings() {
    let a = analyze(&files(&[
        ("src/lib.rs", "pub mod a; pub mod b; pub mod c;"),
        (
            "src/a.rs",
            r##"
            // crate::b::B in a comment
            /* and crate::c::C in a block comment */
            /// Doc: [`crate::b::B`]
            pub struct A;
            const S: &str = "crate::b::B";
            const R: &str = r#"crate::c::C"#;
            #[cfg(test)]
            mod tests {
                use super::*;
                fn t() -> super::A { self::helper(); A }
                fn helper() {}
            }
            "##,
        ),
        (
            "src/b/mod.rs",
            "pub mod inner; mod tests { use super::super::c::C; }",
        ),
        (
            "src/b/inner.rs",
            "pub struct I; mod tests { use super::*; fn t() { let _ = super::super::X; } }",
        ),
        ("src/c.rs", "pub struct C;"),
    ]));
    assert!(targets(&a, "a").is_empty(), "{:?}", targets(&a, "a"));
    // `super::super` from an inline module in b/mod.rs is crate, then c.
    assert_eq!(targets(&a, "b"), vec!["crate::c"]);
    // ...and from b/inner.rs's inline module it is crate::b.
    assert_eq!(targets(&a, "b::inner"), vec!["crate::b"]);
    assert!(a.circles().is_empty());
}

#[test]
fn analyzer_follows_pub_use_re_exports_and_keeps_the_re_exporting_file() {
    let a = analyze(&files(&[
        ("src/lib.rs", "pub mod a; pub mod b; pub mod c; pub mod error; pub use a::inner; pub use error::{Error, Result};"),
        ("src/a/mod.rs", "pub mod inner; pub mod other; pub use inner::Thing; pub use other::Other as Renamed;"),
        ("src/a/inner.rs", "pub struct Thing;"),
        ("src/a/other.rs", "pub struct Other;"),
        ("src/b.rs", "use crate::a::Thing; fn f() -> crate::a::Renamed { todo!() }"),
        ("src/c.rs", "fn f() -> crate::Result<crate::inner::Thing> { Err(crate::error::Error) }"),
        ("src/error.rs", "pub struct Error; pub type Result<T> = std::result::Result<T, Error>;"),
    ]));
    assert_eq!(
        targets(&a, "b"),
        vec!["crate::a", "crate::a::inner", "crate::a::other"]
    );
    assert_eq!(
        targets(&a, "c"),
        vec!["crate", "crate::a::inner", "crate::error"]
    );
    let ex = &a.edges[&(m("b"), m("a::inner"))].text;
    assert_eq!(
        ex,
        "src/b.rs: use crate::a::Thing [= crate::a::inner::Thing]"
    );
    // The re-exporting files depend on what they re-export.
    assert_eq!(targets(&a, "a"), vec!["crate::a::inner", "crate::a::other"]);
    // lib.rs's short paths are reported with their real ones.
    let short = a.render_short_paths();
    assert!(
        short.contains("src/c.rs: crate::Result  ->  crate::error::Result"),
        "{short}"
    );
    assert!(
        short.contains("src/c.rs: crate::inner::Thing  ->  crate::a::inner::Thing"),
        "{short}"
    );
    assert_eq!(a.short_paths.len(), 2, "{short}");
}

#[test]
fn analyzer_expands_brace_use_trees_and_tracks_aliases() {
    let a = analyze(&files(&[
        (
            "src/lib.rs",
            "pub mod a; pub mod b; pub mod c; pub mod d; pub mod e; pub mod x;",
        ),
        ("src/a.rs", "pub struct A;"),
        ("src/b/mod.rs", "pub mod inner; pub struct Z;"),
        ("src/b/inner.rs", "pub struct X;"),
        ("src/c.rs", "pub struct C;"),
        ("src/d/mod.rs", "pub mod deep;"),
        ("src/d/deep.rs", "pub fn f() {}"),
        ("src/e.rs", "pub fn g() {}"),
        (
            "src/x.rs",
            r#"
            use crate::{a::A, b::{self as bee, inner::{X as Y}}, c::*, d};
            use crate::e as ee;
            use std::fmt;
            fn f(_: Y) {
                d::deep::f();
                fmt::Write::write_str;
                println!("{}", ee::g());
            }
            "#,
        ),
    ]));
    // b only through the alias...
    assert_eq!(
        targets(&a, "x"),
        vec![
            "crate::a",
            "crate::b::inner",
            "crate::c",
            "crate::d::deep",
            "crate::e"
        ]
    );
    let b = analyze(&files(&[
        ("src/lib.rs", "pub mod b; pub mod x;"),
        ("src/b/mod.rs", "pub mod inner; pub struct Z;"),
        ("src/b/inner.rs", ""),
        (
            "src/x.rs",
            "use crate::b::{self as bee}; fn f() -> bee::Z { bee::Z }",
        ),
    ]));
    // ...which is an edge once a path goes through it.
    assert_eq!(targets(&b, "x"), vec!["crate::b"]);
}

#[test]
fn analyzer_sees_a_parent_child_circle_through_super_and_a_glob_re_export() {
    let a = analyze(&files(&[
        ("src/lib.rs", "pub mod p; pub mod h; pub mod u; pub mod q;"),
        ("src/q/mod.rs", "pub mod leaf;"),
        ("src/q/leaf.rs", "use super::*;"),
        ("src/p/mod.rs", "mod child; pub use child::C; pub struct P;"),
        ("src/p/child.rs", "use super::P; pub struct C(P);"),
        ("src/h/mod.rs", "pub mod protocol; pub use protocol::*;"),
        ("src/h/protocol.rs", "pub struct Msg;"),
        ("src/u.rs", "fn f() -> crate::h::Msg { crate::h::Msg }"),
    ]));
    assert_eq!(a.circles(), vec![vec![m("p"), m("p::child")]]);
    assert_eq!(targets(&a, "u"), vec!["crate::h", "crate::h::protocol"]);
    // The glob re-export is an edge; declaring a child is none.
    assert_eq!(targets(&a, "h"), vec!["crate::h::protocol"]);
    assert!(targets(&a, "q").is_empty());
    assert!(has_edge(&a, "q::leaf", "q"));
}

#[test]
fn analyzer_counts_paths_in_macro_arguments_and_ignores_visibility() {
    let a = analyze(&files(&[
        ("src/lib.rs", "pub mod a; pub mod b; pub mod c;"),
        (
            "src/a.rs",
            "pub(crate) fn f() { println!(\"{}\", crate::b::name()); }",
        ),
        ("src/b.rs", "pub(crate) fn name() -> &'static str { \"b\" }"),
        ("src/c.rs", "pub(in crate::a) struct C;"),
    ]));
    assert_eq!(targets(&a, "a"), vec!["crate::b"]);
    assert!(targets(&a, "b").is_empty());
    assert!(targets(&a, "c").is_empty());
    assert!(a.short_paths.is_empty());
}
