//! The Okta vocabulary shared by every other idwatch crate: the System Log [`LogEvent`] (raw JSON
//! kept exactly, typed access to the fields detections and pivots need), Okta's System Log
//! [`filter`] syntax, and [`import`] of the input formats Okta data arrives in (NDJSON, JSON
//! arrays, Event Hook envelopes, gzip of any of them). This crate knows nothing of SQLite.
//!
//! ```
//! let line = r#"{"uuid":"a1","published":"2024-08-13T15:58:20.353Z","eventType":"user.session.start","actor":{"id":"00u1"}}"#;
//! let event = okta::LogEvent::parse(line).unwrap();
//! assert_eq!(event.event_type(), "user.session.start");
//! assert_eq!(event.actor().id, Some("00u1"));
//! assert_eq!(event.raw(), line);
//! ```
#![warn(missing_docs)]

pub mod event;
pub mod filter;
pub mod import;

pub use event::{EventError, EventUuid, LogEvent};
