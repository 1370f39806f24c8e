//! Chat templates as llama.cpp's built-in renderer sees them, and thinking.
//!
//! llama.cpp's `llama_chat_apply_template` is not a Jinja engine: it
//! recognises a template by marker strings and renders one of its built-in
//! layouts. [`family`] mirrors that recognition for the families people run
//! (Qwen2.5/Qwen3 and other ChatML, Llama 3, Gemma, Mistral/Devstral,
//! DeepSeek, gpt-oss, Phi, Granite, Command R), so `git deep-review models`
//! can say whether a file's template works without loading llama.cpp. The
//! engine still checks with llama.cpp itself when it loads a model, before
//! any review work ([`super::llama`]).
//!
//! Reasoning models open a thinking block before they answer. A grammar
//! applied from the first token would force the JSON inside that block
//! (the failure users of every local runtime keep reporting), so the engine
//! lets such a model think freely up to a budget and applies the findings
//! grammar only after the end-of-thinking marker ([`ThinkPlan`]).

use serde::{Deserialize, Serialize};

/// The llama.cpp built-in template a template text selects, or `None` when
/// llama.cpp would not recognise it. A built-in name itself is accepted.
pub fn family(template: &str) -> Option<&'static str> {
    let has = |m: &str| template.contains(m);
    if let Some(name) = BUILTIN_NAMES.iter().find(|n| **n == template.trim()) {
        return Some(name);
    }
    Some(if has("<|im_start|>") {
        if has("<|im_sep|>") {
            "phi4"
        } else {
            "chatml"
        }
    } else if template.starts_with("mistral") || has("[INST]") {
        if has("[SYSTEM_PROMPT]") {
            "mistral-v7"
        } else if has("[AVAILABLE_TOOLS]") {
            "mistral-v3"
        } else {
            "llama2"
        }
    } else if has("<|assistant|>") && has("<|end|>") {
        "phi3"
    } else if has("<start_of_turn>") {
        "gemma"
    } else if has("### Instruction:") && has("<|EOT|>") {
        "deepseek"
    } else if has("<|START_OF_TURN_TOKEN|>") && has("<|USER_TOKEN|>") {
        "command-r"
    } else if has("<|start_header_id|>") && has("<|end_header_id|>") {
        "llama3"
    } else if has("<｜Assistant｜>") && has("<｜User｜>") && has("<｜end▁of▁sentence｜>")
    {
        "deepseek3"
    } else if has("<|start_of_role|>") {
        "granite"
    } else if has("<|header_start|>") && has("<|header_end|>") {
        "llama4"
    } else if has("<|start|>") && has("<|channel|>") {
        "gpt-oss"
    } else {
        return None;
    })
}

/// Built-in template names a manifest's `chat_template` may give (the ones
/// worth suggesting; llama.cpp knows a few more).
pub const BUILTIN_NAMES: &[&str] = &[
    "chatml",
    "llama3",
    "llama4",
    "gemma",
    "mistral-v7",
    "mistral-v7-tekken",
    "mistral-v3",
    "mistral-v3-tekken",
    "mistral-v1",
    "llama2",
    "deepseek",
    "deepseek2",
    "deepseek3",
    "gpt-oss",
    "phi3",
    "phi4",
    "granite",
    "command-r",
];

/// How a model's template marks its thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThinkStyle {
    /// `<think>` … `</think>` (Qwen3, DeepSeek-R1 and its distills, QwQ).
    Tags,
    /// gpt-oss's harmony channels: `analysis` then `final`.
    Harmony,
}

/// The thinking style a template text shows, if any.
pub fn think_style(template: &str) -> Option<ThinkStyle> {
    if template.contains("<|channel|>") {
        Some(ThinkStyle::Harmony)
    } else if template.contains("<think>") {
        Some(ThinkStyle::Tags)
    } else {
        None
    }
}

pub use crate::config::sampling::{ThinkMode, DEFAULT_THINK_TOKENS};

/// What the engine does around the answer of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThinkPlan {
    /// Appended to the rendered prompt (opens the thinking block, or writes
    /// an empty one when thinking is off).
    pub prompt_suffix: &'static str,
    /// Thinking happens (else the grammar applies from the first token).
    pub think: bool,
    /// The model ends its thinking by writing this.
    pub end_marker: &'static str,
    /// Written for the model after it ended its thinking itself.
    pub after_end: &'static str,
    /// Written for the model when its budget ran out mid-thought.
    pub forced_end: &'static str,
}

/// The plan for a model with `style` (from its template) under `mode`;
/// `None`: a plain model, nothing changes.
pub fn plan(style: Option<ThinkStyle>, mode: ThinkMode) -> Option<ThinkPlan> {
    let style = match (style, mode) {
        (None, ThinkMode::Auto | ThinkMode::Off) => return None,
        (None, ThinkMode::On) => ThinkStyle::Tags,
        (Some(s), _) => s,
    };
    let think = mode != ThinkMode::Off;
    Some(match style {
        ThinkStyle::Tags => ThinkPlan {
            prompt_suffix: if think {
                "<think>\n"
            } else {
                "<think>\n\n</think>\n\n"
            },
            think,
            end_marker: "</think>",
            after_end: "\n\n",
            forced_end: "\n</think>\n\n",
        },
        ThinkStyle::Harmony => ThinkPlan {
            prompt_suffix: if think {
                "<|channel|>analysis<|message|>"
            } else {
                "<|channel|>analysis<|message|><|end|><|start|>assistant<|channel|>final<|message|>"
            },
            think,
            end_marker: "<|end|>",
            after_end: "<|start|>assistant<|channel|>final<|message|>",
            forced_end: "<|end|><|start|>assistant<|channel|>final<|message|>",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Excerpts of the real templates' marker lines.
    const QWEN3: &str = "{%- if messages[0].role == 'system' %}<|im_start|>system\n{{ messages[0].content }}<|im_end|>\n{%- endif %}{%- if add_generation_prompt %}<|im_start|>assistant\n{%- if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{%- endif %}{%- endif %}";
    const LLAMA3: &str = "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}";
    const GEMMA: &str =
        "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}";
    const DEVSTRAL: &str = "{%- if system_message %}[SYSTEM_PROMPT]{{ system_message }}[/SYSTEM_PROMPT]{%- endif %}[INST]{{ message['content'] }}[/INST]";
    const R1: &str = "{{'<｜User｜>' + message['content']}}{{'<｜Assistant｜>'}}{{'<｜end▁of▁sentence｜>'}}{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}";
    const GPT_OSS: &str = "{{- \"<|start|>assistant<|channel|>analysis<|message|>\" + message.thinking + \"<|end|>\" }}";

    #[test]
    fn the_families_people_run_are_recognised_as_llama_cpp_does() {
        assert_eq!(family(QWEN3), Some("chatml"));
        assert_eq!(family(LLAMA3), Some("llama3"));
        assert_eq!(family(GEMMA), Some("gemma"));
        assert_eq!(family(DEVSTRAL), Some("mistral-v7"));
        assert_eq!(family(R1), Some("deepseek3"));
        assert_eq!(family(GPT_OSS), Some("gpt-oss"));
        assert_eq!(family("gemma"), Some("gemma"), "a built-in name");
        assert_eq!(family("{{ message.content }}"), None);
    }

    #[test]
    fn thinking_follows_the_template_and_the_mode() {
        assert_eq!(think_style(QWEN3), Some(ThinkStyle::Tags));
        assert_eq!(think_style(R1), Some(ThinkStyle::Tags));
        assert_eq!(think_style(GPT_OSS), Some(ThinkStyle::Harmony));
        assert_eq!(think_style(LLAMA3), None);
        assert_eq!(plan(None, ThinkMode::Auto), None);
        assert_eq!(plan(None, ThinkMode::Off), None);
        let on = plan(None, ThinkMode::On).unwrap();
        assert!(on.think && on.prompt_suffix == "<think>\n");
        let off = plan(Some(ThinkStyle::Tags), ThinkMode::Off).unwrap();
        assert!(!off.think && off.prompt_suffix.ends_with("</think>\n\n"));
        let h = plan(Some(ThinkStyle::Harmony), ThinkMode::Auto).unwrap();
        assert!(h.think && h.forced_end.ends_with("final<|message|>"));
        assert_eq!(ThinkMode::parse("on"), Some(ThinkMode::On));
        assert_eq!(ThinkMode::parse("yes"), None);
    }
}
