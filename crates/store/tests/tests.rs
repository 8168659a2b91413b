//! Integration tests of the store, one binary (linking is slow on two cores): real SQLite files
//! in temporary directories, so WAL, locking and migrations are the real ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alerts;
mod common;
mod concurrency;
mod ingest;
mod query;
mod tamper;
