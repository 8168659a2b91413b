//! idwatch's detection language: Sigma v2.1 rules (detection rules, correlation rules, meta
//! filters) compiled once into an immutable [`RuleSet`] and evaluated against
//! `okta::LogEvent`s, plus the stateful [`Correlator`] that keeps keyed sliding windows by
//! event time. The rest of idwatch sees only this crate's types, never the engine underneath,
//! so the engine can change without touching `detect` or the CLI.
//!
//! Parsing and single-event matching are RSigma's (`rsigma-parser`, `rsigma-eval`); this crate
//! adds what idwatch needs around them: Okta field resolution ([`OktaEvent`]), placeholders
//! from configuration, meta filters with pySigma's semantics, routing by `eventType`,
//! `FILE:LINE: rule: message` errors, an event-time correlator with bounded, serializable
//! state, and rule test files ([`testfile`]).
//!
//! ```
//! use sigma::{CompileOptions, Correlator, CorrelatorConfig, RuleSet};
//! use std::sync::Arc;
//!
//! let rules = RuleSet::from_yaml(r#"
//! title: Okta API Token Created
//! id: 19951c21-229d-4ccb-8774-b993c3ff3c5c
//! logsource: {product: okta, service: okta}
//! detection:
//!     selection:
//!         eventType: system.api_token.create
//!     condition: selection
//! level: medium
//! "#, &CompileOptions::default()).unwrap();
//! let event = okta::LogEvent::parse(
//!     r#"{"uuid":"u1","published":"2024-05-01T10:00:00Z","eventType":"system.api_token.create"}"#,
//! ).unwrap();
//! assert_eq!(rules.evaluate(&event)[0].title, "Okta API Token Created");
//!
//! // The same through the correlator, which a hunt or the detect daemon drives.
//! let mut correlator = Correlator::new(Arc::new(rules), CorrelatorConfig::default());
//! let mut matches = Vec::new();
//! correlator.observe(&event, event.published(), &mut matches);
//! correlator.flush(&mut matches);
//! assert_eq!(matches.len(), 1);
//! ```
#![warn(missing_docs)]

pub mod correlate;
pub mod error;
pub mod event;
pub mod ext;
pub mod matches;
pub mod placeholders;
mod rewrite;
pub mod ruleset;
pub mod source;
pub mod testfile;

pub use correlate::{
    Correlator, CorrelatorConfig, CorrelatorState, CorrelatorStats, ImportReport, MemoryReport,
};
pub use error::{CompileError, RuleError, StateError, TestFileError};
pub use event::OktaEvent;
pub use ext::{ExtState, ExtStats};
pub use matches::{Level, Match, MatchKind};
pub use placeholders::Placeholders;
pub use ruleset::{CompileOptions, RuleInfo, RuleSet};
pub use source::RuleSource;
