//! Streaming and retroactive detection: follows the store by insertion sequence, runs the
//! compiled Sigma rule set and correlator over every newly stored event (so late events are
//! evaluated too), applies allowlists, and writes alerts; its read position and correlation
//! state are committed together so a restart neither re-alerts nor skips.
//!
//! - [`catalog`]: what runs for an org: the built-in pack embedded from `rules/`, user rule
//!   directories, tuning, disabled rules, allowlists → a [`Pack`].
//! - [`allow`]: allowlist entries (IPs/CIDRs, actors, change windows), counted.
//! - [`pipeline`]: the engine over a stream (shared with `idwatch hunt`) → [`Detection`]s.
//! - [`detector`]: one org over the store, synchronous: read after the position, evaluate,
//!   commit position + state + alerts in one transaction.
//! - [`service`]: the async loop the daemon spawns per org, scheduled on ingest.
//! - [`config`]: the `[detect]` section.
#![warn(missing_docs)]

pub mod allow;
pub mod catalog;
pub mod config;
pub mod detector;
mod error;
pub mod pipeline;
pub mod service;

pub use allow::{Allowlist, Evidence};
pub use catalog::{builtin_files, BaseOptions, Pack};
pub use config::{AllowEntry, ChangeWindow, DetectConfig, OrgDetectConfig, StreamSettings};
pub use detector::{Detector, DetectorOptions, RaisedAlert, StartAt, StepReport};
pub use error::DetectError;
pub use pipeline::{Detection, Pipeline, PipelineState, PipelineStats};
pub use service::{DetectService, DetectStats};
