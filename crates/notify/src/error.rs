//! The errors of this crate: `ConfigError` (an `[alerts]` section that cannot work, with a valid
//! example in the message) and `DeliveryError` (one attempt that did not deliver, classified as
//! retriable or permanent by the shared `retry` logic).

use std::time::Duration;
use store::alerts::AlertId;

/// A configuration problem, naming the sink and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}field `{field}`: {reason}", sink.as_ref().map(|s| format!("alerts.sinks `{s}`: ")).unwrap_or_else(|| "alerts: ".into()))]
pub struct ConfigError {
    /// The sink's name, when the problem is in one.
    pub sink: Option<String>,
    /// The field (`webhook_url`, `delivery.timeout`).
    pub field: String,
    /// What is wrong and what would be right.
    pub reason: String,
}

impl ConfigError {
    /// A problem in sink `sink`.
    pub fn sink(sink: &str, field: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            sink: Some(sink.to_string()),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// A problem outside any sink.
    pub fn general(field: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            sink: None,
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// Whether a failed attempt is worth repeating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Try again: after `retry_after` if the peer said so (HTTP 429 Retry-After), else after the
    /// policy's back-off.
    Retriable {
        /// The peer's requested wait.
        retry_after: Option<Duration>,
    },
    /// The peer refused this message for good (a 4xx other than 408/429, an SMTP 5xx): the
    /// outbox row is marked failed with the reason.
    Permanent,
}

/// One delivery attempt that did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sink `{sink}`, alert {alert_id}: {reason}")]
pub struct DeliveryError {
    /// The sink.
    pub sink: String,
    /// The alert.
    pub alert_id: AlertId,
    /// Retriable or permanent.
    pub class: FailureClass,
    /// HTTP or SMTP status, if the peer answered.
    pub status: Option<u16>,
    /// What happened (never contains a secret).
    pub reason: String,
}

impl DeliveryError {
    /// Whether the attempt may be repeated.
    pub fn retriable(&self) -> bool {
        matches!(self.class, FailureClass::Retriable { .. })
    }
}
