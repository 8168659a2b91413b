//! The closed set of sinks: `SinkConfig::{Slack, Webhook, Email, Syslog}` (serde-tagged by
//! `type`), one `build` match that validates a config and resolves its secrets into a `Sink`,
//! and one `deliver` match. Adding a sink means adding a variant: the compiler points at every
//! place to change.

use crate::email::{EmailSink, EmailSinkConfig};
use crate::error::{ConfigError, DeliveryError};
use crate::message::AlertMessage;
use crate::slack::{SlackSink, SlackSinkConfig};
use crate::syslog::{SyslogSink, SyslogSinkConfig};
use crate::webhook::{WebhookSink, WebhookSinkConfig};
use serde::Deserialize;
use std::time::Duration;
use store::alerts::Alert;

/// One sink's own settings, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SinkConfig {
    /// A Slack incoming webhook.
    Slack(SlackSinkConfig),
    /// A generic HTTPS webhook with an HMAC signature.
    Webhook(WebhookSinkConfig),
    /// Email over SMTP with STARTTLS.
    Email(EmailSinkConfig),
    /// Syslog (RFC 5424) over UDP or TCP, optionally CEF.
    Syslog(SyslogSinkConfig),
}

/// What every sink gets when it is built.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// Each attempt's time limit.
    pub timeout: Duration,
}

impl SinkConfig {
    /// The `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Slack(_) => "slack",
            SinkConfig::Webhook(_) => "webhook",
            SinkConfig::Email(_) => "email",
            SinkConfig::Syslog(_) => "syslog",
        }
    }

    /// Checks the settings without reading secrets.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        match self {
            SinkConfig::Slack(c) => c.validate(name),
            SinkConfig::Webhook(c) => c.validate(name),
            SinkConfig::Email(c) => c.validate(name),
            SinkConfig::Syslog(c) => c.validate(name),
        }
    }

    /// Validates, resolves secrets, and builds the sink.
    pub fn build(&self, name: &str, ctx: &BuildContext) -> Result<Sink, ConfigError> {
        Ok(match self {
            SinkConfig::Slack(c) => Sink::Slack(SlackSink::new(name, c, ctx)?),
            SinkConfig::Webhook(c) => Sink::Webhook(WebhookSink::new(name, c, ctx)?),
            SinkConfig::Email(c) => Sink::Email(EmailSink::new(name, c, ctx)?),
            SinkConfig::Syslog(c) => Sink::Syslog(SyslogSink::new(name, c, ctx)?),
        })
    }
}

/// One delivery to make: the alert, its message, and the outbox row's idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The alert.
    pub alert: &'a Alert,
    /// What to say.
    pub message: &'a AlertMessage,
    /// Stable per alert, sink and notification.
    pub idempotency_key: &'a str,
    /// This attempt's number (1 = first).
    pub attempt: u32,
}

/// A built sink, ready to deliver.
#[derive(Debug)]
pub enum Sink {
    /// Slack.
    Slack(SlackSink),
    /// Webhook.
    Webhook(WebhookSink),
    /// Email.
    Email(EmailSink),
    /// Syslog.
    Syslog(SyslogSink),
}

impl Sink {
    /// The sink's name.
    pub fn name(&self) -> &str {
        match self {
            Sink::Slack(s) => s.name(),
            Sink::Webhook(s) => s.name(),
            Sink::Email(s) => s.name(),
            Sink::Syslog(s) => s.name(),
        }
    }

    /// Delivers one alert. `Ok` only when the peer accepted it (HTTP 2xx, SMTP 250, the syslog
    /// bytes written), with the peer's status if it gives one; the error says whether to retry.
    pub async fn deliver(&self, delivery: &Delivery<'_>) -> Result<Option<u16>, DeliveryError> {
        match self {
            Sink::Slack(s) => s.deliver(delivery).await,
            Sink::Webhook(s) => s.deliver(delivery).await,
            Sink::Email(s) => s.deliver(delivery).await,
            Sink::Syslog(s) => s.deliver(delivery).await,
        }
    }
}
