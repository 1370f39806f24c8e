//! Stage: verdict (owner: review, issue 4).
