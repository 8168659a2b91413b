//! The Okta org simulator: a deterministic org (users, groups, apps, admins, networks) and its
//! System Log activity written in the shapes and quirks of real Okta events ([`generate`]), and
//! attack scenarios injected into it with their ground truth ([`scenario`]), and the directory
//! state its management APIs show ([`directory`]). The HTTP API with
//! Okta's semantics, rate limits and faults builds on these.

pub mod directory;
pub mod generate;
pub mod scenario;
