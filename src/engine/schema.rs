//! The findings JSON schema, for servers that constrain output with
//! `response_format` (vLLM, Ollama, llama-server without a GBNF field), and
//! a validator for the small part of JSON Schema it uses.
//!
//! The schema says what [`super::grammar::findings_grammar`] says, with the
//! same inputs: `file` is one of the chunk's files and `line`/`end_line`
//! one of *that* file's new-side lines (one `anyOf` branch per file), every
//! string is bounded and the number of findings too. A server may enforce
//! less than it is sent; an answer is therefore validated against the schema
//! it was asked to follow ([`validate`]) before it is used, and one that
//! breaks it is a fault of that server (retried, then reported).

use super::grammar::GrammarLimits;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The schema of a reviewer's answer on a chunk whose files show these
/// new-side lines (files without lines cannot be the target of a finding).
pub fn findings_schema(files: &[(String, Vec<u32>)], limits: &GrammarLimits) -> Value {
    let mut merged: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for (f, lines) in files {
        let set: BTreeSet<u32> = lines.iter().copied().filter(|&l| l > 0).collect();
        if !set.is_empty() {
            merged.entry(f.as_str()).or_default().extend(set);
        }
    }
    let max_items = if merged.is_empty() {
        0
    } else {
        limits.max_findings
    };
    let string =
        |min: usize, max: usize| json!({"type": "string", "minLength": min, "maxLength": max});
    let branches: Vec<Value> = merged
        .iter()
        .map(|(file, lines)| {
            let lines: Vec<u32> = lines.iter().copied().collect();
            let mut props = Map::new();
            props.insert("file".into(), json!({"const": file}));
            props.insert("line".into(), json!({"enum": lines}));
            props.insert("end_line".into(), json!({"enum": lines}));
            props.insert(
                "severity".into(),
                json!({"enum": ["critical", "important", "suggestion"]}),
            );
            props.insert(
                "kind".into(),
                json!({"enum": ["regression", "gap", "enhancement"]}),
            );
            props.insert("title".into(), string(1, limits.title.max(1)));
            props.insert("explanation".into(), string(1, limits.explanation.max(1)));
            props.insert("fix".into(), string(0, limits.fix));
            props.insert("quote".into(), string(0, limits.quote));
            let required: Vec<&String> = props.keys().collect();
            json!({
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": false,
            })
        })
        .collect();
    let items = match branches.len() {
        0 => json!({"type": "object"}),
        1 => branches.into_iter().next().unwrap_or_default(),
        _ => json!({ "anyOf": branches }),
    };
    json!({
        "type": "object",
        "properties": {
            "findings": {"type": "array", "items": items, "maxItems": max_items}
        },
        "required": ["findings"],
        "additionalProperties": false,
    })
}

/// [`findings_schema`] for a chunk shown with read-only context, as
/// [`super::grammar::findings_grammar_with_context`]: findings may point
/// at context lines, `kind` may be `consequence`, and `cause` names the
/// changed line (`path:line`) a consequence follows from. Without context
/// lines it is exactly [`findings_schema`].
pub fn findings_schema_with_context(
    files: &[(String, Vec<u32>)],
    context: &[(String, Vec<u32>)],
    limits: &GrammarLimits,
) -> Value {
    if !context.iter().any(|(_, l)| !l.is_empty()) {
        return findings_schema(files, limits);
    }
    let all: Vec<(String, Vec<u32>)> = files.iter().chain(context).cloned().collect();
    let mut schema = findings_schema(&all, limits);
    let items = &mut schema["properties"]["findings"]["items"];
    let branches: Vec<&mut Value> = match items.get_mut("anyOf").and_then(Value::as_array_mut) {
        Some(b) => b.iter_mut().collect(),
        None => vec![items],
    };
    for b in branches {
        b["properties"]["kind"] =
            json!({"enum": ["regression", "gap", "enhancement", "consequence"]});
        b["properties"]["cause"] = json!({"type": "string", "minLength": 0, "maxLength": 300});
        if let Some(req) = b["required"].as_array_mut() {
            req.push(json!("cause"));
        }
    }
    schema
}

/// Checks `value` against `schema` (the keywords [`findings_schema`] uses:
/// `type`, `properties`, `required`, `additionalProperties: false`, `items`,
/// `maxItems`, `minLength`, `maxLength`, `enum`, `const`, `anyOf`). The
/// error says where the value breaks it.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "$")
}

const CONST_MISMATCH: &str = "must be exactly";

fn check(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let Some(s) = schema.as_object() else {
        return Ok(());
    };
    if let Some(branches) = s.get("anyOf").and_then(Value::as_array) {
        let mut why = Vec::new();
        for b in branches {
            match check(b, value, at) {
                Ok(()) => return Ok(()),
                Err(e) => why.push(e),
            }
        }
        // The telling reason is the one of the branch whose `const` (the
        // file) matched, when one did.
        let telling = why
            .iter()
            .find(|e| !e.contains(CONST_MISMATCH))
            .or(why.first());
        return Err(format!(
            "{at} matches none of {} alternatives ({})",
            branches.len(),
            telling.map(String::as_str).unwrap_or("none")
        ));
    }
    if let Some(c) = s.get("const") {
        if c != value {
            return Err(format!("{at} {CONST_MISMATCH} {c}"));
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Err(format!(
                "{at} = {} is not one of the allowed values",
                clip(value)
            ));
        }
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at} must be of type {t}, found {}", clip(value)));
        }
    }
    if let Some(text) = value.as_str() {
        let n = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
            if n < min {
                return Err(format!("{at} is shorter than {min} characters"));
            }
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
            if n > max {
                return Err(format!("{at} is longer than {max} characters ({n})"));
            }
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
            if items.len() as u64 > max {
                return Err(format!("{at} has {} items, more than {max}", items.len()));
            }
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(item_schema, item, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = value.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(required) = s.get("required").and_then(Value::as_array) {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    return Err(format!("{at} lacks the required key {r:?}"));
                }
            }
        }
        // Keys fixed by `const` (the file) first, so a mismatch there is
        // what a failed `anyOf` branch reports.
        let fixed = |k: &String| {
            props
                .and_then(|p| p.get(k))
                .is_some_and(|p| p.get("const").is_some())
        };
        let ordered = obj
            .iter()
            .filter(|(k, _)| fixed(k))
            .chain(obj.iter().filter(|(k, _)| !fixed(k)));
        for (k, v) in ordered {
            match props.and_then(|p| p.get(k)) {
                Some(p) => check(p, v, &format!("{at}.{k}"))?,
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at} has the unexpected key {k:?}"))
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// A value for an error message, bounded (it is model output).
fn clip(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(String, Vec<u32>)> {
        vec![
            ("src/a.rs".to_string(), vec![3, 4, 5]),
            ("gone.rs".to_string(), vec![]),
            ("b.py".to_string(), vec![10]),
        ]
    }

    fn finding(file: &str, line: u32) -> Value {
        json!({"file": file, "line": line, "end_line": line, "severity": "important",
               "kind": "gap", "title": "t", "explanation": "e", "fix": "", "quote": ""})
    }

    #[test]
    fn lines_are_bound_to_their_own_file_and_files_without_lines_are_no_targets() {
        let s = findings_schema(&files(), &GrammarLimits::default());
        let ok = json!({"findings": [finding("src/a.rs", 4), finding("b.py", 10)]});
        validate(&s, &ok).unwrap();
        for bad in [
            json!({"findings": [finding("b.py", 4)]}),
            json!({"findings": [finding("src/a.rs", 10)]}),
            json!({"findings": [finding("gone.rs", 1)]}),
            json!({"findings": [finding("other.rs", 3)]}),
        ] {
            assert!(validate(&s, &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bounds_and_shape_are_enforced() {
        let limits = GrammarLimits {
            max_findings: 1,
            title: 5,
            ..GrammarLimits::default()
        };
        let s = findings_schema(&files(), &limits);
        let two = json!({"findings": [finding("src/a.rs", 3), finding("src/a.rs", 5)]});
        assert!(validate(&s, &two).unwrap_err().contains("more than 1"));
        let mut long = finding("src/a.rs", 3);
        long["title"] = json!("a title far too long");
        assert!(validate(&s, &json!({"findings": [long]}))
            .unwrap_err()
            .contains("longer"));
        let mut extra = finding("src/a.rs", 3);
        extra["confidence"] = json!(0.9);
        assert!(validate(&s, &json!({"findings": [extra]})).is_err());
        let mut missing = finding("src/a.rs", 3);
        missing.as_object_mut().unwrap().remove("quote");
        assert!(validate(&s, &json!({"findings": [missing]})).is_err());
        let mut sev = finding("src/a.rs", 3);
        sev["severity"] = json!("blocker");
        assert!(validate(&s, &json!({"findings": [sev]})).is_err());
        assert!(validate(&s, &json!({"findings": "none"})).is_err());
        assert!(validate(&s, &json!({})).is_err());
        validate(&s, &json!({"findings": []})).unwrap();
    }

    #[test]
    fn a_chunk_without_target_lines_admits_no_finding() {
        let s = findings_schema(&[("gone.rs".into(), vec![])], &GrammarLimits::default());
        validate(&s, &json!({"findings": []})).unwrap();
        assert!(validate(&s, &json!({"findings": [finding("gone.rs", 1)]})).is_err());
    }
}
