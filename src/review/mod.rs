//! Stage 4 and the lead: reviewers (a model, a persona prompt, sampling)
//! run on each chunk of the plan; the lead model writes the report's prose
//! from the checked findings. Prompts are files in `prompts/`.

pub mod lead;
pub mod prompts;
pub mod reviewers;
