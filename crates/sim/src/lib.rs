//! The Okta org simulator. Today it holds [`generate`]: a deterministic org (users, groups,
//! apps, admins, networks) and its System Log activity, written in the shapes and quirks of real
//! Okta events. The HTTP API, attack scenarios with ground truth and fault injection build on it.

pub mod generate;
