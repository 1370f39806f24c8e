//! Stage 6b: the lead model writes the report's prose sections from the
//! checked facts. Its output is untrusted like any model output: each
//! section is validated, and the report falls back to a summary built from
//! the data when the lead produced nothing usable.

use crate::engine::{Backend, Prompt, Request, Sampling};
use crate::reviewers::{cache_key, GenerationStore};
use serde::{Deserialize, Serialize};

/// Prose sections written by the lead model; `None` = not usable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadProse {
    pub summary: Option<String>,
    pub testing: Option<String>,
    pub documentation: Option<String>,
    pub commits: Option<String>,
    /// A design concern and whether it is for this change (`true`) or later.
    pub concern: Option<(String, bool)>,
    pub strength: Option<String>,
}

/// The raw JSON shape the lead is constrained to.
#[derive(Debug, Deserialize)]
struct RawProse {
    summary: String,
    testing: String,
    documentation: String,
    commits: String,
    concern: String,
    concern_scope: String,
    strength: String,
}

/// Longest section the lead may write, in characters. Bounded so the JSON
/// always closes within the token budget.
const MAX_SECTION_CHARS: usize = 600;

/// GBNF for the lead's answer: four bounded JSON strings in a fixed order.
pub fn grammar() -> String {
    format!(
        r#"root ::= "{{" ws "\"summary\":" ws str "," ws "\"testing\":" ws str "," ws "\"documentation\":" ws str "," ws "\"commits\":" ws str ws "}}"
str ::= "\"" char{{0,{MAX_SECTION_CHARS}}} "\""
char ::= [^"\\\x7F\x00-\x1F] | "\\" ["\\/nt]
ws ::= [ \n]{{0,2}}
"#
    )
}

/// Asks the lead model for the prose sections. Failures are not errors: the
/// report falls back to data-built text, so the reason is returned instead.
///
/// The answer is cached like a reviewer's (`identity` is the model's hash):
/// the facts are built from cached reviews when a push is retried, and the
/// lead must not turn an all-cached push back into a model run.
pub fn write(
    backend: &mut dyn Backend,
    store: &mut dyn GenerationStore,
    model: &str,
    identity: &str,
    facts: &str,
    sampling: &Sampling,
) -> Result<LeadProse, String> {
    let request = Request {
        prompt: Prompt {
            system: crate::prompts::LEAD_SUMMARY.trim().to_string(),
            user: format!("Facts:\n\n{}\n\nAnswer with the JSON only.", facts.trim()),
        },
        sampling: sampling.clone(),
        grammar: grammar(),
    };
    let key = cache_key(
        identity,
        &request.prompt.system,
        &request.prompt.user,
        &request.grammar,
        sampling,
    );
    if let Some(text) = store.get(&key) {
        return parse(&text);
    }
    let mut results = backend.generate(model, std::slice::from_ref(&request));
    let generation = match results.pop() {
        Some(Ok(g)) => g,
        Some(Err(e)) => return Err(e.to_string()),
        None => return Err("the engine returned nothing".into()),
    };
    store.put(&key, &generation.text);
    parse(&generation.text)
}

/// The facts the lead writes from: commits, files, and the findings that
/// survived grounding and consolidation (nothing the checks dropped).
pub fn facts(report: &crate::report::ReviewReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "Commits:");
    for c in &report.commits {
        let _ = writeln!(
            s,
            "- {} {} ({} files, +{} -{})",
            c.short, c.subject, c.files, c.additions, c.deletions
        );
    }
    let _ = writeln!(s, "\nFindings:");
    if report.findings.is_empty() {
        let _ = writeln!(s, "- none");
    }
    for f in report.findings.iter().take(20) {
        let c = &f.finding;
        let _ = writeln!(
            s,
            "- {:?} in {}:{}: {} (raised by {})",
            c.severity,
            c.file,
            c.line_start,
            c.title,
            c.reviewers.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\nData-based assessments:\n- testing: {}\n- documentation: {}\n- commits: {}",
        report.testing.text, report.documentation.text, report.commit_structure.text
    );
    s
}

/// Parses and validates the lead's JSON answer.
pub fn parse(text: &str) -> Result<LeadProse, String> {
    let raw: RawProse = serde_json::from_str(text)
        .map_err(|e| format!("the lead's answer is not the expected JSON: {e}"))?;
    Ok(LeadProse {
        summary: usable(&raw.summary),
        testing: usable(&raw.testing),
        documentation: usable(&raw.documentation),
        commits: usable(&raw.commits),
        concern: usable(&raw.concern).map(|c| (c, raw.concern_scope == "in-scope")),
        strength: usable(&raw.strength),
    })
}

/// A section is usable when it reads like sentences: long enough, mostly
/// letters, not a loop of one phrase (small models repeat themselves), and
/// free of markup that could restructure the report.
pub fn usable(text: &str) -> Option<String> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    let t = t.trim();
    if t.chars().count() < 40 {
        return None;
    }
    let letters = t
        .chars()
        .filter(|c| c.is_alphabetic() || c.is_whitespace())
        .count();
    if letters * 10 < t.chars().count() * 7 {
        return None;
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    if words.len() < 8 {
        return None;
    }
    let distinct: std::collections::HashSet<&str> = words.iter().copied().collect();
    if distinct.len() * 2 < words.len() {
        return None;
    }
    if t.lines()
        .any(|l| l.trim_start().starts_with('#') || l.trim_start().starts_with("```"))
    {
        return None;
    }
    Some(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct MemStore(std::collections::HashMap<String, String>);
    impl GenerationStore for MemStore {
        fn get(&mut self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn put(&mut self, key: &str, text: &str) {
            self.0.insert(key.to_string(), text.to_string());
        }
    }

    #[test]
    fn the_lead_answer_is_cached_per_facts_and_model() {
        let mut backend = crate::engine::StandinBackend::new();
        let mut store = MemStore::default();
        let s = Sampling::default();
        let first = write(&mut backend, &mut store, "standin:empty", "m1", "facts", &s);
        let again = write(&mut backend, &mut store, "standin:empty", "m1", "facts", &s);
        assert_eq!(
            backend.calls, 1,
            "the second answer must come from the cache"
        );
        assert_eq!(first, again);
        // Other facts or another model identity are other answers.
        let _ = write(&mut backend, &mut store, "standin:empty", "m1", "other", &s);
        let _ = write(&mut backend, &mut store, "standin:empty", "m2", "facts", &s);
        assert_eq!(backend.calls, 3);
    }

    #[test]
    fn usable_rejects_loops_short_text_and_markup() {
        assert!(usable("ok").is_none());
        assert!(usable(&"the same words again ".repeat(20)).is_none());
        assert!(usable(
            "## Heading\nThis section tries to add a heading to the report structure here."
        )
        .is_none());
        assert!(
            usable("1234 5678 !!!! ???? 1234 5678 !!!! ???? 1234 5678 !!!! ???? 0000").is_none()
        );
        let good = "The change adds an average function; it divides by the length without checking for an empty list.";
        assert_eq!(usable(good).as_deref(), Some(good));
    }

    #[test]
    fn parse_validates_each_section() {
        let text = r#"{"summary": "The change adds an average function and it divides by zero when the list is empty.", "testing": "none", "documentation": "", "commits": "One commit with a clear subject line that says what it does and why it matters.", "concern": "", "concern_scope": "future", "strength": "The new function is small and reuses the existing total helper instead of summing again."}"#;
        let prose = parse(text).unwrap();
        assert!(prose.summary.is_some());
        assert!(prose.testing.is_none());
        assert!(prose.documentation.is_none());
        assert!(prose.commits.is_some());
        assert!(prose.concern.is_none());
        assert!(prose.strength.is_some());
        assert!(parse("not json").is_err());
    }
}
