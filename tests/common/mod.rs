//! Shared fixtures for the integration tests: throw-away repositories (with
//! remotes and shallow clones), our binary run with an environment that
//! holds nothing of the developer's, and the bundled models.
#![allow(dead_code)]

pub mod fault_server;
pub mod models;
pub mod parse;
pub mod repo;
pub mod stores;
