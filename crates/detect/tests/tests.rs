//! Integration tests of streaming detection over a real SQLite store: alerts with their
//! evidence, restart without re-alerting or skipping, a crash between evaluation and commit,
//! late events, allowlists, disabled rules, the built-in pack, and the async service woken by
//! ingest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod service;
mod streaming;
