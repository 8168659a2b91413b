//! The Okta org simulator: a deterministic org (users, groups, apps, admins, networks) and its
//! System Log activity written in the shapes and quirks of real Okta events ([`generate`]), and
//! attack scenarios injected into it with their ground truth ([`scenario`]), and the directory
//! state its management APIs show ([`directory`]). [`world`] assembles them into the org's history
//! as served (persistence order, late events, directory changes as they come due), and [`api`]
//! serves it over HTTP with Okta's semantics, auth, rate limits and faults; [`hooks`] delivers it
//! to an event hook endpoint.

pub mod api;
pub mod directory;
pub mod generate;
pub mod hooks;
pub mod scenario;
pub mod world;
