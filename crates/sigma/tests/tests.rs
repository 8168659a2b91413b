//! The sigma crate's integration tests, one binary (linking is slow on two cores).

mod common;
mod conditions;
mod correlations;
mod modifiers;
mod okta_data;
mod sigmahq;
