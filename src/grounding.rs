//! Stage: grounding (owner: review, issue 4).
