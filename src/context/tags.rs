//! One file's text → its tags: the symbols it defines (with line ranges)
//! and the identifiers it uses (with lines). Tree-sitter for the languages
//! compiled in (cargo features `lang-*`), identifier search for the rest,
//! so no file is without references.
//!
//! A parse error is never a failure (tree-sitter recovers and the tags of
//! what parsed stand), and a pathological file is cut off after
//! [`PARSE_TIME_LIMIT`]: it then falls back to identifier search.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Longest one file may take to parse before identifier search takes over.
pub const PARSE_TIME_LIMIT: Duration = Duration::from_millis(500);

/// Bumped when what tags hold or how they are made changes, so cached tags
/// of an older version are never read ([`super::index`] keys by it).
pub const TAGS_VERSION: u32 = 1;

/// What a definition defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefKind {
    Function,
    Method,
    Type,
    Field,
    Constant,
    Module,
}

impl DefKind {
    /// Holds code that runs (a function or a method).
    pub fn is_callable(self) -> bool {
        matches!(self, DefKind::Function | DefKind::Method)
    }
}

/// One definition: its name, kind and the lines it spans (1-based,
/// inclusive, doc comments directly above included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Def {
    pub name: String,
    pub kind: DefKind,
    pub start: u32,
    pub end: u32,
    /// The line the definition itself starts on (its signature), after
    /// the doc comment.
    pub line: u32,
    /// The type a method or field belongs to (`impl Cache`, `class Cache`,
    /// a Go receiver), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// One use of an identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    pub name: String,
    pub line: u32,
}

/// The tags of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTags {
    pub defs: Vec<Def>,
    pub refs: Vec<Ref>,
    /// How they were made: a grammar's name (`rust`), or `identifiers`.
    pub parser: String,
    /// Number of lines of the file.
    pub lines: u32,
}

/// The grammars compiled into this build, by language name.
pub fn grammars() -> Vec<&'static str> {
    let all: &[(&str, bool)] = &[
        ("rust", cfg!(feature = "lang-rust")),
        ("go", cfg!(feature = "lang-go")),
        ("python", cfg!(feature = "lang-python")),
        ("javascript", cfg!(feature = "lang-javascript")),
        ("typescript", cfg!(feature = "lang-typescript")),
        ("java", cfg!(feature = "lang-java")),
        ("c", cfg!(feature = "lang-c")),
        ("cpp", cfg!(feature = "lang-cpp")),
    ];
    all.iter().filter(|(_, on)| *on).map(|(l, _)| *l).collect()
}

/// The tree-sitter grammar for `path`, when one is compiled in.
fn grammar_for(path: &str) -> Option<(&'static str, tree_sitter::Language)> {
    let lang = crate::git::diff::language_for(path)?;
    let tsx = path.ends_with(".tsx");
    let language: tree_sitter::Language = match lang {
        #[cfg(feature = "lang-rust")]
        "rust" => tree_sitter_rust::LANGUAGE.into(),
        #[cfg(feature = "lang-go")]
        "go" => tree_sitter_go::LANGUAGE.into(),
        #[cfg(feature = "lang-python")]
        "python" => tree_sitter_python::LANGUAGE.into(),
        #[cfg(feature = "lang-javascript")]
        "javascript" => tree_sitter_javascript::LANGUAGE.into(),
        #[cfg(feature = "lang-typescript")]
        "typescript" if tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        #[cfg(feature = "lang-typescript")]
        "typescript" => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        #[cfg(feature = "lang-java")]
        "java" => tree_sitter_java::LANGUAGE.into(),
        #[cfg(feature = "lang-c")]
        "c" => tree_sitter_c::LANGUAGE.into(),
        #[cfg(feature = "lang-cpp")]
        "cpp" => tree_sitter_cpp::LANGUAGE.into(),
        _ => {
            let _ = tsx;
            return None;
        }
    };
    Some((lang, language))
}

/// The name of the parser [`tag`] would use for `path` (part of the cache
/// key of its tags).
pub fn parser_for(path: &str) -> &'static str {
    grammar_for(path).map_or("identifiers", |(l, _)| l)
}

/// The tags of `text`, the content of `path`.
pub fn tag(path: &str, text: &str) -> FileTags {
    let lines = text.lines().count() as u32;
    if let Some((lang, language)) = grammar_for(path) {
        if let Some(mut tags) = tag_tree_sitter(lang, &language, text) {
            tags.lines = lines;
            return tags;
        }
    }
    let mut tags = tag_identifiers(text);
    tags.lines = lines;
    tags
}

/// How a language names its definitions: node kind → what it defines.
fn def_kind(lang: &str, node_kind: &str) -> Option<DefKind> {
    use DefKind::*;
    Some(match (lang, node_kind) {
        ("rust", "function_item" | "function_signature_item") => Function,
        ("rust", "struct_item" | "enum_item" | "trait_item" | "type_item" | "union_item") => Type,
        ("rust", "const_item" | "static_item") => Constant,
        ("rust", "field_declaration" | "enum_variant") => Field,
        ("rust", "mod_item") => Module,
        ("go", "function_declaration") => Function,
        ("go", "method_declaration") => Method,
        ("go", "type_spec") => Type,
        ("go", "field_declaration") => Field,
        ("go", "const_spec") => Constant,
        ("python", "function_definition") => Function,
        ("python", "class_definition") => Type,
        (
            "javascript" | "typescript",
            "function_declaration" | "generator_function_declaration",
        ) => Function,
        ("javascript" | "typescript", "method_definition") => Method,
        (
            "javascript" | "typescript",
            "class_declaration"
            | "interface_declaration"
            | "type_alias_declaration"
            | "enum_declaration",
        ) => Type,
        ("javascript" | "typescript", "field_definition" | "public_field_definition") => Field,
        ("java", "method_declaration" | "constructor_declaration") => Method,
        (
            "java",
            "class_declaration"
            | "interface_declaration"
            | "enum_declaration"
            | "record_declaration",
        ) => Type,
        ("java", "field_declaration") => Field,
        ("c" | "cpp", "function_definition") => Function,
        (
            "c" | "cpp",
            "struct_specifier" | "enum_specifier" | "union_specifier" | "class_specifier",
        ) => Type,
        ("c" | "cpp", "field_declaration") => Field,
        ("c" | "cpp", "type_definition") => Type,
        ("c" | "cpp", "preproc_def" | "preproc_function_def") => Constant,
        _ => return None,
    })
}

/// Node kinds that hold the type methods belong to, and where its name is.
fn container_name(lang: &str, node: tree_sitter::Node<'_>, src: &[u8]) -> Option<String> {
    let kind = node.kind();
    let field = match (lang, kind) {
        ("rust", "impl_item") => "type",
        ("rust", "trait_item") => "name",
        ("python", "class_definition") => "name",
        ("javascript" | "typescript", "class_declaration" | "class") => "name",
        (
            "java",
            "class_declaration"
            | "interface_declaration"
            | "enum_declaration"
            | "record_declaration",
        ) => "name",
        ("cpp", "class_specifier" | "struct_specifier") => "name",
        ("c", "struct_specifier" | "union_specifier") => "name",
        ("go", "type_spec") => "name",
        ("rust", "struct_item" | "enum_item" | "union_item") => "name",
        ("typescript", "interface_declaration") => "name",
        _ => return None,
    };
    let n = node.child_by_field_name(field)?;
    Some(last_identifier(n, src).unwrap_or_else(|| text_of(n, src)))
}

fn text_of(node: tree_sitter::Node<'_>, src: &[u8]) -> String {
    String::from_utf8_lossy(&src[node.byte_range()]).into_owned()
}

fn is_identifier_kind(kind: &str) -> bool {
    kind.ends_with("identifier") || kind == "name" || kind == "constant"
}

/// The last identifier inside `node` (the `Cache` of `Cache<T>` or of
/// `crate::cache::Cache`), itself when it is one.
fn last_identifier(node: tree_sitter::Node<'_>, src: &[u8]) -> Option<String> {
    if is_identifier_kind(node.kind()) && node.child_count() == 0 {
        return Some(text_of(node, src));
    }
    // A generic type names its base first: `Cache<T>` → `Cache`.
    if let Some(t) = node.child_by_field_name("type") {
        return last_identifier(t, src);
    }
    let mut found = None;
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.kind().contains("argument") || child.kind().contains("parameter") {
            continue;
        }
        if let Some(id) = last_identifier(child, src) {
            found = Some(id);
        }
    }
    found
}

/// The name a definition node defines.
fn def_name(lang: &str, node: tree_sitter::Node<'_>, src: &[u8]) -> Option<String> {
    if let Some(n) = node.child_by_field_name("name") {
        return first_identifier(n, src);
    }
    // C/C++ functions and fields name themselves inside their declarator
    // (`int *parse(const char *s)`), Java fields inside a variable declarator.
    if let Some(d) = node.child_by_field_name("declarator") {
        return declarator_name(d, src);
    }
    if lang == "java" || lang == "javascript" || lang == "typescript" {
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            if child.kind() == "variable_declarator" {
                return child
                    .child_by_field_name("name")
                    .and_then(|n| first_identifier(n, src));
            }
        }
    }
    if lang == "go" && node.kind() == "field_declaration" {
        return node
            .child_by_field_name("name")
            .and_then(|n| first_identifier(n, src));
    }
    None
}

fn first_identifier(node: tree_sitter::Node<'_>, src: &[u8]) -> Option<String> {
    if is_identifier_kind(node.kind()) && node.child_count() == 0 {
        return Some(text_of(node, src));
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if let Some(id) = first_identifier(child, src) {
            return Some(id);
        }
    }
    (node.named_child_count() == 0 && node.child_count() == 0).then(|| text_of(node, src))
}

/// The identifier a C declarator declares, skipping pointers, arrays and
/// the parameter list.
fn declarator_name(node: tree_sitter::Node<'_>, src: &[u8]) -> Option<String> {
    if is_identifier_kind(node.kind()) && node.child_count() == 0 {
        return Some(text_of(node, src));
    }
    if let Some(inner) = node.child_by_field_name("declarator") {
        return declarator_name(inner, src);
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.kind().contains("parameter") {
            continue;
        }
        if let Some(id) = declarator_name(child, src) {
            return Some(id);
        }
    }
    None
}

/// The first line of a definition with the comment lines directly above it.
fn doc_start(node: tree_sitter::Node<'_>) -> u32 {
    let mut start = node.start_position().row as u32 + 1;
    let mut prev = node.prev_sibling();
    while let Some(p) = prev {
        let k = p.kind();
        let is_doc = k.contains("comment") || k == "attribute_item" || k == "decorator";
        if !is_doc || (p.end_position().row as u32 + 2) < start {
            break;
        }
        start = p.start_position().row as u32 + 1;
        prev = p.prev_sibling();
    }
    start
}

/// Tags through tree-sitter; `None` when the parse was cut off by the time
/// limit (or the grammar refused to load).
fn tag_tree_sitter(lang: &str, language: &tree_sitter::Language, text: &str) -> Option<FileTags> {
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(language).ok()?;
    let src = text.as_bytes();
    let started = Instant::now();
    let mut over_time = |_: &tree_sitter::ParseState| {
        if started.elapsed() > PARSE_TIME_LIMIT {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    };
    let options = tree_sitter::ParseOptions::new().progress_callback(&mut over_time);
    let mut read = |offset: usize, _: tree_sitter::Point| -> &[u8] {
        if offset < src.len() {
            &src[offset..]
        } else {
            &[]
        }
    };
    let tree = parser.parse_with_options(&mut read, None, Some(options))?;
    let mut tags = FileTags {
        parser: lang.to_string(),
        ..Default::default()
    };
    // An explicit stack instead of recursion: a deeply nested file cannot
    // overflow ours.
    let mut stack: Vec<(tree_sitter::Node<'_>, Option<String>)> = vec![(tree.root_node(), None)];
    let mut name_nodes: std::collections::HashSet<usize> = Default::default();
    while let Some((node, container)) = stack.pop() {
        let kind = node.kind();
        let mut inner_container = container.clone();
        if let Some(c) = container_name(lang, node, src) {
            inner_container = Some(c);
        }
        if let Some(mut dk) = def_kind(lang, kind) {
            if let Some(name) = def_name(lang, node, src) {
                if let Some(n) = node.child_by_field_name("name") {
                    name_nodes.insert(n.id());
                }
                let mut owner = container.clone();
                if lang == "go" && kind == "method_declaration" {
                    owner = node
                        .child_by_field_name("receiver")
                        .and_then(|r| r.named_child(0))
                        .and_then(|p| p.child_by_field_name("type"))
                        .and_then(|t| last_identifier(t, src));
                }
                if dk == DefKind::Function && owner.is_some() && lang != "c" {
                    dk = DefKind::Method;
                }
                tags.defs.push(Def {
                    name,
                    kind: dk,
                    start: doc_start(node),
                    end: node.end_position().row as u32 + 1,
                    line: node.start_position().row as u32 + 1,
                    container: if matches!(dk, DefKind::Method | DefKind::Field) {
                        owner
                    } else {
                        None
                    },
                });
            }
        }
        if node.child_count() == 0 {
            if is_identifier_kind(kind) && node.is_named() && !name_nodes.contains(&node.id()) {
                let name = text_of(node, src);
                if name.len() > 1 {
                    tags.refs.push(Ref {
                        name,
                        line: node.start_position().row as u32 + 1,
                    });
                }
            }
            continue;
        }
        let mut cursor = node.walk();
        let children: Vec<_> = node.children(&mut cursor).collect();
        for child in children.into_iter().rev() {
            stack.push((child, inner_container.clone()));
        }
    }
    tags.defs
        .sort_by_key(|d| (d.start, std::cmp::Reverse(d.end)));
    Some(tags)
}

/// Words that introduce a definition in most languages without a grammar
/// here (Ruby, Kotlin, Swift, PHP, Scala, shell, Lua...).
const DEF_WORDS: &[(&str, DefKind)] = &[
    ("fn", DefKind::Function),
    ("fun", DefKind::Function),
    ("func", DefKind::Function),
    ("def", DefKind::Function),
    ("function", DefKind::Function),
    ("sub", DefKind::Function),
    ("class", DefKind::Type),
    ("struct", DefKind::Type),
    ("interface", DefKind::Type),
    ("trait", DefKind::Type),
    ("object", DefKind::Type),
    ("module", DefKind::Module),
];

/// The name and kind a line defines by a definition word (`fn name`,
/// `def name`, `class Name`...), if it does.
pub fn defined_on_line(line: &str) -> Option<(String, DefKind)> {
    let words: Vec<&str> = identifiers(line).collect();
    words.windows(2).find_map(|w| {
        DEF_WORDS
            .iter()
            .find(|(k, _)| *k == w[0])
            .map(|(_, kind)| (w[1].to_string(), *kind))
    })
}

/// Identifier search: every word that looks like an identifier is a
/// reference, and `def name`-style lines are one-line definitions (their
/// extent is unknown, so the block up to the next such line stands for it).
fn tag_identifiers(text: &str) -> FileTags {
    let mut tags = FileTags {
        parser: "identifiers".into(),
        ..Default::default()
    };
    let mut open: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let words: Vec<&str> = identifiers(line).collect();
        let def = defined_on_line(line);
        let indent = line.len() - line.trim_start().len();
        if let Some((name, kind)) = def.filter(|_| indent == 0 || words.len() > 1) {
            if let Some(o) = open.take() {
                tags.defs[o].end = n.saturating_sub(1).max(tags.defs[o].start);
            }
            open = Some(tags.defs.len());
            tags.defs.push(Def {
                name,
                kind,
                start: n,
                end: n,
                line: n,
                container: None,
            });
        }
        for w in words {
            if w.len() > 1 && !w.as_bytes()[0].is_ascii_digit() {
                tags.refs.push(Ref {
                    name: w.to_string(),
                    line: n,
                });
            }
        }
    }
    if let Some(o) = open {
        tags.defs[o].end = (text.lines().count() as u32).max(tags.defs[o].start);
    }
    tags
}

/// The identifier-like words of a line.
pub fn identifiers(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tags: &FileTags) -> Vec<(String, DefKind, u32, u32, Option<String>)> {
        tags.defs
            .iter()
            .map(|d| (d.name.clone(), d.kind, d.start, d.end, d.container.clone()))
            .collect()
    }

    #[cfg(feature = "lang-rust")]
    #[test]
    fn rust_defs_refs_and_containers() {
        let src = "/// A cache.\nstruct Cache {\n    entries: u32,\n}\n\nimpl Cache {\n    fn get(&self) -> u32 {\n        self.entries\n    }\n}\n\nfn main() {\n    let c = Cache { entries: 1 };\n    c.get();\n}\n";
        let tags = tag("src/a.rs", src);
        assert_eq!(tags.parser, "rust");
        let defs = names(&tags);
        assert!(
            defs.contains(&("Cache".into(), DefKind::Type, 1, 4, None)),
            "{defs:?}"
        );
        assert!(
            defs.contains(&("entries".into(), DefKind::Field, 3, 3, Some("Cache".into()))),
            "{defs:?}"
        );
        assert!(
            defs.contains(&("get".into(), DefKind::Method, 7, 9, Some("Cache".into()))),
            "{defs:?}"
        );
        assert!(
            defs.contains(&("main".into(), DefKind::Function, 12, 15, None)),
            "{defs:?}"
        );
        let uses: Vec<(&str, u32)> = tags
            .refs
            .iter()
            .map(|r| (r.name.as_str(), r.line))
            .collect();
        assert!(uses.contains(&("get", 14)), "{uses:?}");
        assert!(uses.contains(&("entries", 8)), "{uses:?}");
        // A definition's own name is not a use of it.
        assert!(!uses.contains(&("get", 7)), "{uses:?}");
    }

    #[cfg(feature = "lang-go")]
    #[test]
    fn go_methods_belong_to_their_receiver() {
        let src = "package p\n\ntype Pool struct {\n\tmu sync.Mutex\n\tn int\n}\n\nfunc (p *Pool) Add() {\n\tp.n++\n}\n";
        let defs = names(&tag("p.go", src));
        assert!(
            defs.contains(&("Add".into(), DefKind::Method, 8, 10, Some("Pool".into()))),
            "{defs:?}"
        );
        assert!(
            defs.iter().any(|d| d.0 == "n" && d.1 == DefKind::Field),
            "{defs:?}"
        );
    }

    #[cfg(feature = "lang-c")]
    #[test]
    fn c_function_names_come_from_declarators() {
        let src = "static int *parse(const char *s)\n{\n    return 0;\n}\n";
        let defs = names(&tag("a.c", src));
        assert_eq!(defs, vec![("parse".into(), DefKind::Function, 1, 4, None)]);
    }

    #[test]
    fn other_languages_fall_back_to_identifiers() {
        let src = "def greet(name)\n  puts name\nend\n\ndef other\nend\n";
        let tags = tag("a.rb", src);
        assert_eq!(tags.parser, "identifiers");
        let defs = names(&tags);
        assert_eq!(defs[0], ("greet".into(), DefKind::Function, 1, 4, None));
        assert!(tags.refs.iter().any(|r| r.name == "name" && r.line == 2));
    }

    #[test]
    fn broken_source_still_tags_what_parsed() {
        let src = "fn ok() {}\nfn broken( {\n";
        let tags = tag("a.rs", src);
        assert!(tags.defs.iter().any(|d| d.name == "ok"));
    }
}
