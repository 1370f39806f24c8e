//! The TOML layers: the user file and the repository's `.deep-review.toml`.
//! Every value keeps its position, so an error names the file, the key and
//! the line.

use super::keys::{self, Raw, SECTIONS};
use super::settings::{check_model, Ctx, Provenance, Settings, Source};
use super::trust;
use crate::config::repo_files::RepoFiles;
use crate::config::reviewer::ReviewerSpec;
use crate::config::sampling::Sampling;
use crate::config::settings::REPO_FILE;
use crate::error::{Error, Result};
use std::fmt;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Which file a layer is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Layer {
    /// The user's own file (trusted).
    User,
    /// The repository's file (confined unless trusted).
    Repo,
}

/// Reads one configuration file on top of `s`. A missing file is skipped.
pub(super) fn apply_file(
    path: &Path,
    layer: Layer,
    s: &mut Settings,
    prov: &mut Provenance,
    cx: &Ctx<'_>,
) -> Result<()> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            Error::Config(format!(
                "{}: not valid UTF-8 (TOML files must be UTF-8)",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::io(
                format!("reading configuration {}", path.display()),
                e,
            ))
        }
    };
    prov.files.push(path.to_path_buf());
    let f = FileCtx {
        text: &text,
        path,
        layer,
    };
    apply_text(&f, s, prov, cx)
}

/// Reads the repository's `.deep-review.toml` from where `files` says (the
/// base of the range, or the work tree when trusted) on top of `s`.
pub(super) fn apply_repo_file(
    files: &RepoFiles,
    s: &mut Settings,
    prov: &mut Provenance,
    cx: &Ctx<'_>,
) -> Result<()> {
    let name = files.name(REPO_FILE);
    let bytes = files
        .read(REPO_FILE)
        .map_err(|e| Error::Config(format!("reading configuration {}: {e}", name.display())))?;
    let Some(bytes) = bytes else { return Ok(()) };
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::Config(format!(
            "{}: not valid UTF-8 (TOML files must be UTF-8)",
            name.display()
        ))
    })?;
    prov.files.push(name.clone());
    let f = FileCtx {
        text: &text,
        path: &name,
        layer: Layer::Repo,
    };
    apply_text(&f, s, prov, cx)
}

struct FileCtx<'a> {
    text: &'a str,
    path: &'a Path,
    layer: Layer,
}

impl FileCtx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn source(&self, offset: usize) -> Source {
        let line = self.line_of(offset);
        let path = self.path.to_path_buf();
        match self.layer {
            Layer::User => Source::UserFile { path, line },
            Layer::Repo => Source::RepoFile { path, line },
        }
    }

    fn error(&self, offset: usize, key: &str, msg: impl fmt::Display) -> Error {
        Error::Config(format!(
            "{}:{}: key `{key}`: {msg}",
            self.path.display(),
            self.line_of(offset)
        ))
    }
}

fn apply_text(
    f: &FileCtx<'_>,
    s: &mut Settings,
    prov: &mut Provenance,
    cx: &Ctx<'_>,
) -> Result<()> {
    let doc = DeTable::parse(f.text).map_err(|e| {
        let offset = e.span().map_or(0, |r| r.start);
        Error::Config(format!(
            "{}:{}: {}",
            f.path.display(),
            f.line_of(offset),
            e.message().trim()
        ))
    })?;
    for (name, value) in doc.get_ref().iter() {
        let at = name.span().start;
        match name.get_ref().as_ref() {
            "reviewer" => reviewers(f, value, s, prov, cx)?,
            section if SECTIONS.contains(&section) => {
                let Some(table) = value.get_ref().as_table() else {
                    return Err(f.error(at, section, "expected a table"));
                };
                for (key, v) in table.iter() {
                    let path = format!("{section}.{}", key.get_ref());
                    let Some(k) = keys::by_toml(&path) else {
                        let known = keys::REGISTRY.iter().map(|k| k.toml);
                        let hint = keys::closest(&path, known)
                            .map(|c| format!("; did you mean `{c}`?"))
                            .unwrap_or_default();
                        return Err(f.error(key.span().start, &path, format!("unknown key{hint}")));
                    };
                    apply_key(f, k, v, s, prov, cx)?;
                }
            }
            other => {
                return Err(f.error(
                    at,
                    other,
                    "not a configuration table (the tables are [[reviewer]], [review], [gate] and [cache])",
                ))
            }
        }
    }
    Ok(())
}

fn raw<'a>(v: &'a DeValue<'_>) -> Raw<'a> {
    match v {
        DeValue::String(t) => Raw::Str(t),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Raw::Int(n),
            Err(_) => Raw::Other("an integer too large"),
        },
        DeValue::Boolean(b) => Raw::Bool(*b),
        DeValue::Float(_) => Raw::Other("a float"),
        DeValue::Datetime(_) => Raw::Other("a date"),
        DeValue::Array(_) => Raw::Other("an array"),
        DeValue::Table(_) => Raw::Other("a table"),
    }
}

fn apply_key(
    f: &FileCtx<'_>,
    key: &'static keys::Key,
    v: &Spanned<DeValue<'_>>,
    s: &mut Settings,
    prov: &mut Provenance,
    cx: &Ctx<'_>,
) -> Result<()> {
    let at = v.span().start;
    if let keys::Kind::Globs = key.kind {
        let Some(list) = v.get_ref().as_array() else {
            return Err(f.error(at, key.toml, "expected an array of globs"));
        };
        for g in list.iter() {
            let g_at = g.span().start;
            keys::apply(key, raw(g.get_ref()), s, cx).map_err(|m| f.error(g_at, key.toml, m))?;
            prov.ignore.push(f.source(g_at));
        }
        return Ok(());
    }
    keys::apply(key, raw(v.get_ref()), s, cx).map_err(|m| f.error(at, key.toml, m))?;
    prov.set(key.toml, f.source(at));
    Ok(())
}

fn reviewers(
    f: &FileCtx<'_>,
    value: &Spanned<DeValue<'_>>,
    s: &mut Settings,
    prov: &mut Provenance,
    cx: &Ctx<'_>,
) -> Result<()> {
    let list_at = value.span().start;
    let Some(list) = value.get_ref().as_array() else {
        return Err(f.error(list_at, "reviewer", "expected [[reviewer]] tables"));
    };
    if list.is_empty() {
        return Err(f.error(list_at, "reviewer", "at least one reviewer is needed"));
    }
    let mut out: Vec<ReviewerSpec> = Vec::with_capacity(list.len());
    s.repo_prompts.clear();
    for item in list.iter() {
        let Some(table) = item.get_ref().as_table() else {
            return Err(f.error(item.span().start, "reviewer", "expected a table"));
        };
        let (spec, name_at) = reviewer(f, item.span().start, table, s, cx)?;
        if out.iter().any(|o| o.name == spec.name) {
            return Err(f.error(
                name_at,
                "reviewer.name",
                format!("reviewer {:?} is defined twice", spec.name),
            ));
        }
        out.push(spec);
    }
    s.reviewers = out;
    prov.set("reviewer", f.source(list_at));
    Ok(())
}

/// The fields of a `[[reviewer]]` table.
const REVIEWER_FIELDS: [&str; 10] = [
    "name",
    "model",
    "prompt",
    "seed",
    "temperature",
    "top_k",
    "top_p",
    "max_tokens",
    "think",
    "think_tokens",
];

/// One `[[reviewer]]` table, and the position of its name.
fn reviewer(
    f: &FileCtx<'_>,
    table_at: usize,
    table: &DeTable<'_>,
    s: &mut Settings,
    cx: &Ctx<'_>,
) -> Result<(ReviewerSpec, usize)> {
    let text = |field: &str| -> Result<Option<(String, usize)>> {
        match table.get(field) {
            None => Ok(None),
            Some(v) => match v.get_ref().as_str() {
                Some(t) if !t.trim().is_empty() => Ok(Some((t.trim().to_string(), v.span().start))),
                Some(_) => Err(f.error(
                    v.span().start,
                    &format!("reviewer.{field}"),
                    "must not be empty",
                )),
                None => Err(f.error(
                    v.span().start,
                    &format!("reviewer.{field}"),
                    "expected a string",
                )),
            },
        }
    };
    let missing = |field: &str| f.error(table_at, &format!("reviewer.{field}"), "is required");
    let (name, name_at) = text("name")?.ok_or_else(|| missing("name"))?;
    let (model, model_at) = text("model")?.ok_or_else(|| missing("model"))?;
    check_model(&model, cx).map_err(|m| {
        f.error(
            model_at,
            "reviewer.model",
            format!("{m} (reviewer {name:?})"),
        )
    })?;
    // Without a prompt the reviewer's name names it, so a name is checked
    // like a path too.
    let (prompt, prompt_at) = text("prompt")?.unwrap_or_else(|| (format!("{name}.md"), name_at));
    if let Some(text) =
        check_prompt(&prompt, cx).map_err(|m| f.error(prompt_at, "reviewer.prompt", m))?
    {
        s.repo_prompts.insert(prompt.clone(), text);
    }
    let mut sampling = Sampling {
        max_tokens: crate::config::sampling::AUTO_MAX_TOKENS,
        ..Sampling::default()
    };
    for (field, v) in table.iter() {
        let field_name = field.get_ref().as_ref();
        let key = format!("reviewer.{field_name}");
        let at = v.span().start;
        let bad = |m: String| f.error(at, &key, m);
        match field_name {
            "name" | "model" | "prompt" => {}
            "seed" => {
                sampling.seed = int_in(v.get_ref(), 0, i64::from(u32::MAX)).map_err(bad)? as u32
            }
            "top_k" => sampling.top_k = int_in(v.get_ref(), 0, 1000).map_err(bad)? as i32,
            "max_tokens" => {
                sampling.max_tokens = if v.get_ref().as_str() == Some("auto") {
                    crate::config::sampling::AUTO_MAX_TOKENS
                } else {
                    int_in(v.get_ref(), 16, 32768).map_err(|m| {
                        bad(format!(
                            "{m} (or \"auto\": a quarter of the model's context)"
                        ))
                    })? as usize
                }
            }
            "think" => {
                sampling.think = v
                    .get_ref()
                    .as_str()
                    .and_then(crate::config::sampling::ThinkMode::parse)
                    .ok_or_else(|| bad("expected \"auto\", \"on\" or \"off\"".to_string()))?
            }
            "think_tokens" => {
                sampling.think_tokens = int_in(v.get_ref(), 0, 32768).map_err(bad)? as usize
            }
            "temperature" => {
                let t = float(v.get_ref()).map_err(&bad)?;
                if !(0.0..=2.0).contains(&t) {
                    return Err(bad(format!("{t} is out of range (0.0..=2.0)")));
                }
                sampling.temperature = t as f32;
            }
            "top_p" => {
                let p = float(v.get_ref()).map_err(&bad)?;
                if !(p > 0.0 && p <= 1.0) {
                    return Err(bad(format!("{p} is out of range (0.0 exclusive..=1.0)")));
                }
                sampling.top_p = p as f32;
            }
            other => {
                let hint = keys::closest(other, REVIEWER_FIELDS)
                    .map(|c| format!("; did you mean `reviewer.{c}`?"))
                    .unwrap_or_default();
                return Err(f.error(field.span().start, &key, format!("unknown key{hint}")));
            }
        }
    }
    Ok((
        ReviewerSpec {
            name,
            model,
            prompt,
            sampling,
        },
        name_at,
    ))
}

/// A prompt that is not built in is a file; from the repository file it
/// must lie inside the repository. Read from a commit (the base of the
/// range), its text is returned, so the change under review cannot
/// rewrite a reviewer's instructions.
fn check_prompt(prompt: &str, cx: &Ctx<'_>) -> std::result::Result<Option<String>, String> {
    if crate::prompts::builtin_names().any(|n| n == prompt) {
        return Ok(None);
    }
    if let Some(files) = cx.files.filter(|f| !f.is_work_tree()) {
        let name = files.name(prompt);
        let bytes = files.read(prompt)?.ok_or_else(|| {
            format!(
                "prompt file {} does not exist (the repository's file and the prompts it names are read from the base of the range)",
                name.display()
            )
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("prompt file {} is not UTF-8 text", name.display()))?;
        return Ok(Some(text));
    }
    let path = cx.repo_root.join(prompt);
    if cx.confined {
        trust::confine_file(&path, cx.repo_root)
            .map_err(|why| format!("{prompt:?} {why}; {}", trust::HOW_TO_TRUST))?;
    } else if !path.is_file() {
        return Err(format!(
            "prompt file {} does not exist (built-in prompts: {})",
            path.display(),
            crate::prompts::builtin_names()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(None)
}

fn int_in(v: &DeValue<'_>, lo: i64, hi: i64) -> std::result::Result<i64, String> {
    let n = match raw(v) {
        Raw::Int(n) => n,
        other => return Err(format!("expected an integer, found {}", other.type_name())),
    };
    if n < lo || n > hi {
        return Err(format!("{n} is out of range ({lo}..={hi})"));
    }
    Ok(n)
}

fn float(v: &DeValue<'_>) -> std::result::Result<f64, String> {
    match v {
        DeValue::Float(x) => x
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .map_err(|_| format!("{} is not a number", x.as_str())),
        DeValue::Integer(_) => match raw(v) {
            Raw::Int(n) => Ok(n as f64),
            _ => Err("the integer is too large".into()),
        },
        _ => Err(format!("expected a number, found {}", raw(v).type_name())),
    }
}
