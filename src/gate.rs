//! gate (owner: gate, issue 5).
