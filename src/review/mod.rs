//! Stage 4 and the lead: reviewers (a model, a persona prompt, sampling)
//! run on each chunk of the plan; the lead model writes the report's prose
//! from the checked findings. Their prompts are files in `prompts/`
//! (compiled in by `crate::prompts`).

pub mod lead;
pub mod reviewers;
