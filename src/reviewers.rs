//! Stage 4: the review plan + reviewers → raw reviews, through a [`crate::engine::Backend`].
