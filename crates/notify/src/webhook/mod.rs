//! The generic webhook sink: a versioned JSON body (`idwatch.alert.v1`) POSTed with an HMAC
//! signature over a timestamp and the body, and an idempotency key that receivers use to drop
//! duplicates. `config.rs` is the settings, `sink.rs` the body and delivery, `tests.rs` checks.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{WebhookSinkConfig, WEBHOOK_EXAMPLE};
pub use sink::{
    sign, webhook_body, WebhookSink, IDEMPOTENCY_HEADER, SCHEMA, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
