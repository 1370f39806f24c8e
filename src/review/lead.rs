//! The lead model writes the report's prose sections from the checked
//! facts. Its output is untrusted like any model output: each section is
//! validated, and the report keeps its data-built prose for every section
//! the lead did not write usably — and says so ([`LeadStatus`]).
//!
//! The grammar the lead is constrained to and the parser of its answer are
//! both built from one list, [`FIELDS`]: a section added to one is in the
//! other, so a grammar-constrained answer always parses.

use crate::cache::CacheKey;
use crate::engine::{Backend, Prompt, Request, Sampling};
use crate::review::reviewers::{cache_key, GenerationStore};
use crate::text::sanitize_text;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// How one section of the lead's answer is bounded.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// Free prose of at most this many characters.
    Text { max_chars: usize },
    /// Exactly one of these words.
    OneOf(&'static [&'static str]),
}

/// One key of the lead's JSON answer.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub kind: FieldKind,
}

/// Values of `concern_scope`.
pub const SCOPES: &[&str] = &["in-scope", "future"];

/// The lead's answer, key by key, in the order the grammar asks for them.
/// The bounds keep the whole answer within [`max_tokens`] even at one token
/// per character, so the JSON always closes.
pub const FIELDS: &[Field] = &[
    text("summary", 400),
    text("testing", 200),
    text("documentation", 160),
    text("commits", 200),
    text("concern", 200),
    Field {
        key: "concern_scope",
        kind: FieldKind::OneOf(SCOPES),
    },
    text("strength", 160),
    text("repo_context", 240),
];

const fn text(key: &'static str, max_chars: usize) -> Field {
    Field {
        key,
        kind: FieldKind::Text { max_chars },
    }
}

/// Characters the grammar adds around each section besides its key and
/// value: the key's quotes and colon, the value's quotes, the separating
/// comma (or the opening brace) and three `ws` of at most two characters.
const FIELD_FRAME_CHARS: usize = 2 + 1 + 2 + 1 + 3 * 2;

/// Tokens the lead may generate: the longest answer the grammar admits.
/// The grammar allows only printable ASCII, so every token adds at least
/// one character and the JSON always closes within this budget.
pub fn max_tokens() -> usize {
    FIELDS
        .iter()
        .map(|f| {
            f.key.len()
                + FIELD_FRAME_CHARS
                + match f.kind {
                    FieldKind::Text { max_chars } => max_chars,
                    FieldKind::OneOf(words) => words.iter().map(|w| w.len()).max().unwrap_or(0),
                }
        })
        .sum::<usize>()
        + 1 // the closing brace
}

/// Longest prose section kept in the report, in characters.
pub const MAX_PROSE_CHARS: usize = 6_000;

/// GBNF for the lead's answer: [`FIELDS`] in order, each bounded.
pub fn grammar() -> String {
    let mut g = String::from("root ::= \"{\" ws ");
    for (i, f) in FIELDS.iter().enumerate() {
        if i > 0 {
            g.push_str("\",\" ws ");
        }
        let _ = write!(g, "\"\\\"{}\\\":\" ws {} ws ", f.key, rule_name(f));
    }
    g.push_str("\"}\"\n");
    for f in FIELDS {
        match f.kind {
            FieldKind::Text { max_chars } => {
                let _ = writeln!(
                    g,
                    "{} ::= \"\\\"\" char{{0,{max_chars}}} \"\\\"\"",
                    rule_name(f)
                );
            }
            FieldKind::OneOf(words) => {
                let alts: Vec<String> = words.iter().map(|w| format!("\"\\\"{w}\\\"\"")).collect();
                let _ = writeln!(g, "{} ::= {}", rule_name(f), alts.join(" | "));
            }
        }
    }
    // Printable ASCII without quote or backslash: no escapes and no
    // multi-byte characters, so every token adds at least one character and
    // the answer can always close within `max_tokens`.
    g.push_str("char ::= [ !#-\\[\\]-~]\n");
    g.push_str("ws ::= [ \\n]{0,2}\n");
    g
}

fn rule_name(f: &Field) -> String {
    format!("f-{}", f.key.replace('_', "-"))
}

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
    /// A line for the repository's review instructions (an improvement
    /// recommendation), or `None`.
    #[serde(default)]
    pub repo_context: Option<String>,
}

impl LeadProse {
    /// Names of the sections the lead wrote usably.
    pub fn sections(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (name, present) in [
            ("summary", self.summary.is_some()),
            ("testing", self.testing.is_some()),
            ("documentation", self.documentation.is_some()),
            ("commits", self.commits.is_some()),
            ("concern", self.concern.is_some()),
            ("strength", self.strength.is_some()),
            ("repo_context", self.repo_context.is_some()),
        ] {
            if present {
                v.push(name);
            }
        }
        v
    }
}

/// Whether the lead's prose reached the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeadState {
    /// At least one section of the report is the lead's.
    Used,
    /// The lead ran (or tried to) but nothing it wrote was usable: the
    /// report's prose is data-built; `reason` says why.
    Fallback,
}

/// What became of the lead step, for the retro and the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadStatus {
    pub model: String,
    pub status: LeadState,
    /// The sections the lead wrote (when used).
    pub sections: Vec<String>,
    /// Why the report fell back to data-built prose.
    pub reason: Option<String>,
    pub from_cache: bool,
    pub duration_ms: u64,
}

/// What one lead call produced: the prose (or why there is none) and
/// whether it came from the cache.
pub struct LeadAnswer {
    pub prose: Result<LeadProse, String>,
    pub from_cache: bool,
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
    seed: u32,
    deadline: Option<std::time::Instant>,
) -> LeadAnswer {
    let sampling = Sampling {
        max_tokens: max_tokens(),
        seed,
        ..Sampling::default()
    };
    let request = Request {
        prompt: Prompt {
            system: crate::prompts::LEAD_SUMMARY.trim().to_string(),
            user: format!("Facts:\n\n{}\n\nAnswer with the JSON only.", facts.trim()),
        },
        sampling,
        grammar: grammar(),
        schema: None,
    };
    let key: CacheKey = cache_key(identity, &request);
    if let Some(text) = store.get(&key) {
        return LeadAnswer {
            prose: parse(&text),
            from_cache: true,
        };
    }
    // A second review of the same change (the hook beside a manual one)
    // waits for this answer rather than writing it again.
    let shared = store.shared();
    let _lock = match crate::review::reviewers::wait_for(shared.as_deref(), &key, deadline, &|_| {})
    {
        Some(crate::review::reviewers::Claimed::Answered(text)) => {
            return LeadAnswer {
                prose: parse(&text),
                from_cache: true,
            }
        }
        Some(crate::review::reviewers::Claimed::Mine(lock)) => lock,
        // The budget ran out while another review was writing it.
        None if deadline.is_some_and(|d| std::time::Instant::now() >= d) => {
            return LeadAnswer {
                prose: Err(
                    "the time budget ran out while waiting for another review's lead".into(),
                ),
                from_cache: false,
            }
        }
        // Ctrl-C while waiting: nothing to wait for any more.
        _ => None,
    };
    backend.set_progress_labels("lead", &[format!("lead ({model})")]);
    let mut results = backend.generate(model, std::slice::from_ref(&request));
    let prose = match results.pop() {
        // Half an answer is no prose (and is not cached).
        Some(Ok(g)) if g.stop.cut_short() => {
            Err(if g.stop == crate::engine::StopReason::Deadline {
                "the time budget ran out while the lead was writing".to_string()
            } else {
                "interrupted (Ctrl-C) while the lead was writing".to_string()
            })
        }
        Some(Ok(g)) => {
            let parsed = parse(&g.text);
            // Only an answer that parses is worth keeping: a failure is
            // retried next time rather than replayed from the cache.
            if parsed.is_ok() {
                store.put(&key, &g.text);
            }
            parsed
        }
        Some(Err(e)) => Err(e.to_string()),
        None => Err("the engine returned nothing".into()),
    };
    LeadAnswer {
        prose,
        from_cache: false,
    }
}

/// Parses and validates the lead's JSON answer: every key of [`FIELDS`]
/// must be there with a value of its kind; each prose section is then kept
/// only if [`usable`].
pub fn parse(text: &str) -> Result<LeadProse, String> {
    let value: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("the lead's answer is not JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or("the lead's answer is not a JSON object")?;
    let mut got = std::collections::HashMap::new();
    for f in FIELDS {
        let v = obj
            .get(f.key)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("the lead's answer has no text for `{}`", f.key))?;
        if let FieldKind::OneOf(words) = f.kind {
            if !words.contains(&v) {
                return Err(format!(
                    "the lead's `{}` is {v:?}, not one of {}",
                    f.key,
                    words.join(", ")
                ));
            }
        }
        got.insert(f.key, v);
    }
    let section = |key: &str| got.get(key).and_then(|t| usable(t));
    Ok(LeadProse {
        summary: section("summary"),
        testing: section("testing"),
        documentation: section("documentation"),
        commits: section("commits"),
        concern: section("concern").map(|c| (c, got.get("concern_scope") == Some(&"in-scope"))),
        strength: section("strength"),
        repo_context: section("repo_context"),
    })
}

/// Lead prose as the report may show it, or `None`. Control characters are
/// removed and the text is clipped; then it must read like sentences: long
/// enough, mostly letters, not a loop of one phrase (small models repeat
/// themselves), and free of markup that could restructure the report.
pub fn usable(text: &str) -> Option<String> {
    let t = sanitize_text(text, MAX_PROSE_CHARS, true);
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
    struct MemStore(std::collections::HashMap<CacheKey, String>);
    impl GenerationStore for MemStore {
        fn get(&mut self, key: &CacheKey) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn put(&mut self, key: &CacheKey, text: &str) {
            self.0.insert(key.clone(), text.to_string());
        }
    }

    /// An answer with every field of [`FIELDS`], in order, as the grammar
    /// shapes it.
    fn answer(prose: &str) -> String {
        let mut parts = Vec::new();
        for f in FIELDS {
            let v = match f.kind {
                FieldKind::Text { .. } => prose.to_string(),
                FieldKind::OneOf(words) => words[0].to_string(),
            };
            parts.push(format!(
                "\"{}\": {}",
                f.key,
                serde_json::to_string(&v).unwrap()
            ));
        }
        format!("{{{}}}", parts.join(", "))
    }

    #[test]
    fn the_grammar_asks_for_exactly_the_keys_the_parser_requires() {
        let g = grammar();
        let root = g.lines().next().unwrap();
        let mut at = 0;
        for f in FIELDS {
            let key = format!("\\\"{}\\\":", f.key);
            let pos = root[at..]
                .find(&key)
                .unwrap_or_else(|| panic!("{} missing or out of order in {root}", f.key));
            at += pos + key.len();
        }
        // And nothing else: one key per field.
        assert_eq!(root.matches("\\\":\"").count(), FIELDS.len(), "{root}");
        let good =
            "The change adds an average function and it divides by zero when the list is empty.";
        let prose = parse(&answer(good)).unwrap();
        assert_eq!(
            prose.sections().len(),
            FIELDS.len() - 1,
            "every text field but the scope"
        );
        // A missing key fails, naming it.
        let without: String = answer(good).replace("\"strength\"", "\"other\"");
        assert!(parse(&without).unwrap_err().contains("strength"));
    }

    #[test]
    fn the_lead_answer_is_cached_per_facts_and_model() {
        let mut backend = crate::standin::StandinBackend::new();
        let mut store = MemStore::default();
        let first = write(
            &mut backend,
            &mut store,
            "standin:lead",
            "m1",
            "facts",
            42,
            None,
        );
        assert!(first.prose.is_ok(), "{:?}", first.prose);
        let again = write(
            &mut backend,
            &mut store,
            "standin:lead",
            "m1",
            "facts",
            42,
            None,
        );
        assert_eq!(
            backend.calls, 1,
            "the second answer must come from the cache"
        );
        assert!(again.from_cache && !first.from_cache);
        assert_eq!(first.prose, again.prose);
        // Other facts or another model identity are other answers.
        let _ = write(
            &mut backend,
            &mut store,
            "standin:lead",
            "m1",
            "other",
            42,
            None,
        );
        let _ = write(
            &mut backend,
            &mut store,
            "standin:lead",
            "m2",
            "facts",
            42,
            None,
        );
        assert_eq!(backend.calls, 3);
    }

    #[test]
    fn a_failed_answer_is_not_cached() {
        let mut backend = crate::standin::StandinBackend::new();
        let mut store = MemStore::default();
        let a = write(
            &mut backend,
            &mut store,
            "standin:fail",
            "m1",
            "facts",
            42,
            None,
        );
        assert!(a.prose.is_err());
        let _ = write(
            &mut backend,
            &mut store,
            "standin:fail",
            "m1",
            "facts",
            42,
            None,
        );
        assert_eq!(backend.calls, 2);
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
        let ctl = format!("{good}\u{1b}[2J");
        assert_eq!(usable(&ctl).as_deref(), Some(format!("{good}[2J").as_str()));
    }

    #[test]
    fn parse_validates_each_section() {
        let text = r#"{"summary": "The change adds an average function and it divides by zero when the list is empty.", "testing": "none", "documentation": "", "commits": "One commit with a clear subject line that says what it does and why it matters.", "concern": "", "concern_scope": "future", "strength": "The new function is small and reuses the existing total helper instead of summing again.", "repo_context": "Averages over user input must handle the empty list: say which helper returns None for it."}"#;
        let prose = parse(text).unwrap();
        assert!(prose.repo_context.is_some());
        assert!(prose.summary.is_some());
        assert!(prose.testing.is_none());
        assert!(prose.documentation.is_none());
        assert!(prose.commits.is_some());
        assert!(prose.concern.is_none());
        assert!(prose.strength.is_some());
        assert!(parse("not json").is_err());
        let bad_scope = text.replace("\"future\"", "\"someday\"");
        assert!(parse(&bad_scope).unwrap_err().contains("concern_scope"));
    }

    #[test]
    fn the_budget_covers_the_longest_answer() {
        // The longest text the grammar admits: every `ws` at its two
        // characters, every section at its bound, the longest scope word.
        let ws = "  ";
        let mut longest = format!("{{{ws}");
        for (i, f) in FIELDS.iter().enumerate() {
            if i > 0 {
                longest.push_str(&format!(",{ws}"));
            }
            let value = match f.kind {
                FieldKind::Text { max_chars } => "a".repeat(max_chars),
                FieldKind::OneOf(words) => {
                    words.iter().max_by_key(|w| w.len()).unwrap().to_string()
                }
            };
            longest.push_str(&format!("\"{}\":{ws}\"{value}\"{ws}", f.key));
        }
        longest.push('}');
        assert!(parse(&longest).is_ok(), "{longest}");
        // A token adds at least one character, so this many tokens always
        // let the JSON close.
        assert!(
            longest.len() <= max_tokens(),
            "{} characters, budget {}",
            longest.len(),
            max_tokens()
        );
    }
}
