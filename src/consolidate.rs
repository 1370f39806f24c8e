//! Stage: consolidate (owner: review, issue 4).
