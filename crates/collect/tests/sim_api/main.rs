//! The collector against the real simulator over loopback HTTP: every test starts a
//! `sim::api::SimServer`, collects from it into a real SQLite store, and compares what was
//! stored with the org's own event set (`SimServer::event_uuids`) and request accounting.

mod common;
mod multi;
mod oauth;
mod poll;
mod rate;
