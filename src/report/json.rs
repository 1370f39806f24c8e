//! `--format json`: the [`ReviewReport`] serialised as one JSON document.
//!
//! Schema (version [`super::model::SCHEMA_VERSION`] = 1; fields are only ever
//! added within a version):
//!
//! * `schema_version` (1), `id` (`YYYYMMDD-HHMMSS-<branch-or-range>`),
//!   `date` (`YYYY-MM-DD HH:MM`, local), `authors` [{`name`, `email`}],
//!   `range` (as written), `base` (hex or null = empty tree), `head`,
//!   `branch` (or null), `commits` [{`id`, `short`, `subject`, `author`,
//!   `parents`, `files`, `additions`, `deletions`}].
//! * `reviewers` [{`name`, `model`, `model_file`, `persona`,
//!   `demonstration` (present and true for a bundled demonstration model),
//!   `endpoints` (present for a model on inference servers: their base URLs)}].
//! * `code_sent_to`: every inference server that received code of this
//!   change (in this run, or for an answer the cache gave); empty when every
//!   model ran on this machine.
//! * `verdict` {`verdict`: `merge-as-is` | `merge-with-fixes` | `rework` |
//!   `no-verdict`, `reason`}.
//! * `wall_clock_ms`; `timings` {`plan_ms`, `load_ms`, `prefill_ms`,
//!   `generate_ms`, `consolidate_ms`, `lead_ms`, `render_ms`, `verify_ms`
//!   (present when the verify stage ran)}.
//! * `findings` [{`severity` (`critical`|`important`|`suggestion`),
//!   `unconfirmed`, `kind` (`regression`|`gap`|`enhancement`), `file`,
//!   `line_start`, `line_end`, `title`, `explanation`, `fix`, `quote`,
//!   `reviewers`, `agreement`, `members` (the original findings), `excerpt`
//!   (exact lines at head), `excerpt_omitted_lines`, `language`,
//!   `verification` (present when verified: {`status` (`confirmed`|
//!   `refuted`|`uncertain`), `reason`, `model`, `votes` [{`status` (null:
//!   the pass failed), `reason`, `error`}], `failed` (why no
//!   pass answered)})}], critical first.
//! * `verification` (absent: `verify = off`): {`mode`, `models`, `votes`,
//!   `checked`, `confirmed`, `refuted`, `uncertain`, `failed`,
//!   `from_cache`, `prompt_tokens`, `generated_tokens`, `duration_ms`,
//!   `skipped` (why it did not run)}; `refuted` (absent when empty): the
//!   findings the verifier refuted, shaped like `findings`, never counted
//!   by the gate.
//! * `executive_summary`, `testing`, `documentation`, `commit_structure`:
//!   {`text`, `from_lead`}; `design` {`concerns` [{`title`, `text`,
//!   `scope` (`in-scope`|`future`), `reviewers`}], `strengths` [{`text`,
//!   `reviewers`}]}.
//! * `retro` [{`name`, `model`, `duration_ms`, `chunks`,
//!   `chunks_from_cache`, `failed_chunks`, `critical`, `important`, `suggestion`,
//!   `ungrounded`, `rejected`, `dropped_over_limit`, `false_positives`,
//!   `unique_insights` (titles), `error`, `note`, `cut_short` (answers that
//!   ran out of `max_tokens`; their completed findings were kept),
//!   `ran_on` (servers that answered its chunks; absent: this machine),
//!   `prompt_tokens`, `generated_tokens` (of the chunks it ran, as the engine
//!   or the server counted them)}].
//! * `appendix` [{`reviewer`, `chunks` [{`chunk`, `raw`, `from_cache`,
//!   `error`, `prompt_tokens`, `shared_tokens`, `generated_tokens`,
//!   `prefill_ms`, `generate_ms`, `thinking` and `thinking_tokens` (a reasoning
//!   model's thinking, clipped; present only when it thought), `endpoint`
//!   (the server that answered; absent: in-process or from the cache),
//!   `threads` and `together` (threads the in-process engine used, and
//!   answers decoded together with this one; absent: not run here)}],
//!   `findings` [{`finding`, `status` (`grounded`|`ungrounded`),
//!   `reason`?}], `rejected` [{`reviewer`, `chunk`, `index`, `title`,
//!   `reason`}], `dropped_over_limit`, `error`}].
//! * `skipped` / `unfit` [{`path`, `reason`}], `cache` {`total_chunks`,
//!   `from_cache` [{`reviewer`, `chunk`}]}, `instructions_file`.
//! * `not_reviewed` [{`path`, `reason`}]: chunks the time budget or Ctrl-C
//!   kept from the reviewers.
//! * `time_budget_secs`: the run's time budget; `incomplete` (absent when
//!   the run did all its work): {`reason`, `chunks_not_reviewed`, `chunks`,
//!   `stages` (later stages cut short: verification, lead)}.
//! * `lead` (null when no lead is configured): {`model`, `status`
//!   (`used`|`fallback`), `sections` (what the lead wrote), `reason` (why it
//!   fell back), `from_cache`, `duration_ms`}.
//! * `demonstration_only`: every reviewer that ran is a demonstration
//!   model, so the report is no review (the verdict's reason says so too).
//! * `repository` (absent without a network remote): the remote's URL
//!   without credentials, query or fragment (`git::remote`).
//!
//! Not in the document: the range's diff and the context's code, which the
//! report carries only for `--format html` (git gives them; `context`
//! lists what was shown).

use super::model::ReviewReport;

/// The report as pretty-printed JSON with a trailing newline.
pub fn render(report: &ReviewReport) -> String {
    // Serialising plain structs of strings and numbers cannot fail; the
    // fallback keeps the signature total all the same.
    let mut s = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"schema_version\":1,\"error\":{:?}}}", e.to_string()));
    s.push('\n');
    s
}
