//! The sigma crate's integration tests, one binary (linking is slow on two cores).

// Helpers outside `#[test]` functions unwrap too: a panic is a failed test here.
#![allow(clippy::unwrap_used)]

mod common;
mod conditions;
mod correlations;
mod modifiers;
mod okta_data;
mod sigmahq;
