//! config (owner: gate, issue 5).
