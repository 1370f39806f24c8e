//! cache (owner: gate, issue 5).
