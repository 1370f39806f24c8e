//! Prompt files. The defaults in `prompts/` are compiled in, so the binary
//! works from any directory and on air-gapped boxes; a reviewer may name
//! another file by path.

use crate::error::{Error, Result};
use std::path::Path;

/// Instructions shared by every reviewer (placed first, so that reviewers on
/// the same model share the prefilled prefix).
pub const SYSTEM: &str = include_str!("../prompts/system.md");
/// What read-only context is and what it is for, added after [`SYSTEM`]
/// for a chunk shown with context (never otherwise, so a review without
/// context sends the prompts it always did).
pub const CONTEXT: &str = include_str!("../prompts/context.md");
/// The lead model's instruction for the executive summary.
pub const LEAD_SUMMARY: &str = include_str!("../prompts/lead-summary.md");
/// The verifier's instruction: check one finding against the code.
pub const VERIFY: &str = include_str!("../prompts/verify.md");

const BUILTIN: &[(&str, &str)] = &[
    ("correctness.md", include_str!("../prompts/correctness.md")),
    ("robustness.md", include_str!("../prompts/robustness.md")),
    (
        "tests-design.md",
        include_str!("../prompts/tests-design.md"),
    ),
    ("system.md", SYSTEM),
    ("context.md", CONTEXT),
    ("lead-summary.md", LEAD_SUMMARY),
    ("verify.md", VERIFY),
];

/// Names of the compiled-in persona prompts.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(name, _)| *name)
}

/// The text of a persona prompt: a compiled-in name (`correctness.md`) or a
/// path to a file (relative paths are taken from `base`, the repository root).
pub fn load(name: &str, base: &Path) -> Result<String> {
    if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
        return Ok((*text).to_string());
    }
    let path = base.join(name);
    std::fs::read_to_string(&path).map_err(|e| {
        Error::Config(format!(
            "cannot read prompt file {}: {e}. Use one of the built-in prompts ({}) or a path to a UTF-8 text file.",
            path.display(),
            builtin_names().collect::<Vec<_>>().join(", ")
        ))
    })
}

/// The user message of a review prompt. The diff comes before the persona
/// so that every reviewer's prompt on a chunk starts with the same text and
/// the engine prefills it once.
pub fn review_user_message(instructions: Option<&str>, diff: &str, persona: &str) -> String {
    review_user_message_with_context(instructions, diff, "", persona)
}

/// The system text of a review prompt: [`SYSTEM`], and [`CONTEXT`] when
/// the chunk is shown with context.
pub fn review_system(with_context: bool) -> String {
    if with_context {
        format!("{}\n\n{}", SYSTEM.trim(), CONTEXT.trim())
    } else {
        SYSTEM.trim().to_string()
    }
}

/// [`review_user_message`] with the chunk's read-only context after the
/// diff, still before the persona: the context of a chunk is the same for
/// every reviewer of it, so it stays in the shared prefix. An empty
/// `context` gives exactly [`review_user_message`]'s text.
pub fn review_user_message_with_context(
    instructions: Option<&str>,
    diff: &str,
    context: &str,
    persona: &str,
) -> String {
    let mut s = String::with_capacity(diff.len() + persona.len() + 256);
    if let Some(rules) = instructions {
        s.push_str("The project's own review rules:\n\n");
        s.push_str(rules.trim());
        s.push_str("\n\n");
    }
    s.push_str("The diff to review:\n\n");
    s.push_str(diff.trim_end());
    s.push_str("\n\n");
    if !context.trim().is_empty() {
        s.push_str(context.trim_end());
        s.push_str("\n\n");
    }
    s.push_str(persona.trim());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_prefix_comes_before_persona() {
        let a = review_user_message(None, "DIFF", "persona A");
        let b = review_user_message(None, "DIFF", "persona B");
        let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
        assert!(
            a[..common].contains("DIFF"),
            "the diff must be in the shared prefix"
        );
    }

    #[test]
    fn context_sits_in_the_shared_prefix_and_empty_context_changes_nothing() {
        let plain = review_user_message(Some("RULES"), "DIFF", "persona A");
        assert_eq!(
            review_user_message_with_context(Some("RULES"), "DIFF", "", "persona A"),
            plain
        );
        let a = review_user_message_with_context(None, "DIFF", "CONTEXT", "persona A");
        let b = review_user_message_with_context(None, "DIFF", "CONTEXT", "persona B");
        let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
        assert!(a[..common].contains("DIFF") && a[..common].contains("CONTEXT"));
        assert!(a.find("DIFF") < a.find("CONTEXT"));
        assert_eq!(review_system(false), SYSTEM.trim());
        assert!(review_system(true).starts_with(SYSTEM.trim()));
    }

    #[test]
    fn unknown_prompt_is_a_config_error_naming_the_path() {
        let err = load("no-such-prompt.md", Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        assert!(err.to_string().contains("no-such-prompt.md"));
    }

    #[test]
    fn builtin_prompts_are_not_empty() {
        for name in builtin_names() {
            assert!(
                !load(name, Path::new(".")).unwrap().trim().is_empty(),
                "{name}"
            );
        }
    }
}
