//! Alert delivery: everything from "an alert is raised" onward, except the store tables
//! themselves (`store::alerts`).
//!
//! - [`config`]: the `[alerts]` section of idwatch.toml (suppression window, evidence link,
//!   delivery settings, `[[alerts.sinks]]`), validated with messages that show a valid example;
//!   [`AlertsConfig::routing`] is what `Store::raise` needs to queue deliveries.
//! - One directory per sink with the same files (`config.rs`, `sink.rs`, `tests.rs`):
//!   [`slack`] (Block Kit via an incoming webhook), [`webhook`] (versioned JSON, HMAC
//!   signature with a timestamp, idempotency key), [`email`] (SMTP with STARTTLS, text and
//!   HTML), [`syslog`] (RFC 5424 over UDP or TCP, optional CEF). [`SinkConfig`] is the closed,
//!   `type`-tagged set, with one `build` match.
//! - [`message`]: what every sink says about an alert (what, who, where, why, evidence).
//! - [`retry`]: the one retry policy (429 Retry-After, 5xx/timeouts back off with jitter,
//!   other 4xx fail permanently with the reason; nothing is dropped).
//! - [`worker`]: the delivery worker over the durable outbox; its only state is the store.
//!
//! Guarantee: every alert stored with a route is delivered at least once to that sink, across
//! restarts and outages of any length, or marked failed with the peer's reason; receivers
//! drop duplicates by the idempotency key.
//!
//! ```
//! let config: notify::AlertsConfig = toml_like(r#"{"suppression": "10m"}"#);
//! assert_eq!(config.routing().suppression.as_secs(), 600);
//! # fn toml_like(json: &str) -> notify::AlertsConfig { serde_json::from_str(json).unwrap() }
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod duration;
pub mod email;
pub mod error;
mod http;
pub mod message;
pub mod retry;
pub mod sample;
pub mod secret;
pub mod sink;
pub mod slack;
pub mod syslog;
pub mod webhook;
pub mod worker;

pub use config::{AlertsConfig, DeliveryConfig, SinkEntry};
pub use error::{ConfigError, DeliveryError, FailureClass};
pub use message::{AlertMessage, MessageOptions};
pub use retry::RetryPolicy;
pub use secret::{Secret, SecretRef};
pub use sink::{BuildContext, Delivery, Sink, SinkConfig};
pub use worker::{DeliveryWorker, WorkerError, WorkerOptions, WorkerStats};
