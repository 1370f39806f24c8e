//! hook (owner: gate, issue 5).
