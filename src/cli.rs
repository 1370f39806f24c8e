//! The command line (clap derive). Owner: integration.
