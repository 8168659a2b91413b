//! Webhook delivery. The body is schema `idwatch.alert.v1` (documented in
//! docs/readme/notify.md; fields are only ever added within a version). Headers:
//!
//! - `X-Idwatch-Timestamp`: Unix seconds when the request was signed;
//! - `X-Idwatch-Signature: sha256=<hex>`: HMAC-SHA256 with the shared secret over
//!   `"{timestamp}.{body}"`, so a captured request cannot be replayed later with a new
//!   timestamp (receivers reject timestamps older than a few minutes);
//! - `Idempotency-Key`: stable per alert, sink and notification across retries and restarts;
//!   receivers drop a key they have already processed;
//! - `X-Idwatch-Attempt`: the attempt number.

use super::config::{WebhookSinkConfig, URL_EXAMPLE};
use crate::error::{ConfigError, DeliveryError};
use crate::http;
use crate::message::{rfc3339, AlertMessage};
use crate::secret::Secret;
use crate::sink::{BuildContext, Delivery};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use store::alerts::Alert;
use url::Url;

/// The body's schema name and version.
pub const SCHEMA: &str = "idwatch.alert.v1";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Idwatch-Signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-Idwatch-Timestamp";
/// The idempotency key header.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// A built webhook sink.
#[derive(Debug)]
pub struct WebhookSink {
    name: String,
    url: Url,
    secret: Secret,
    client: reqwest::Client,
}

impl WebhookSink {
    /// Resolves the secret and builds the client.
    pub fn new(
        name: &str,
        config: &WebhookSinkConfig,
        ctx: &BuildContext,
    ) -> Result<WebhookSink, ConfigError> {
        let url = http::check_url(name, "url", &config.url, URL_EXAMPLE, false)?;
        let secret = config
            .secret
            .resolve()
            .map_err(|e| ConfigError::sink(name, "secret", e))?;
        if secret.expose().len() < 16 {
            return Err(ConfigError::sink(
                name,
                "secret",
                format!(
                    "the signing secret from {} is {} bytes; use at least 16 (e.g. `openssl rand -hex 32`)",
                    config.secret,
                    secret.expose().len()
                ),
            ));
        }
        Ok(WebhookSink {
            name: name.to_string(),
            url,
            secret,
            client: http::client(name, ctx.timeout)?,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs and posts the body.
    pub async fn deliver(&self, delivery: &Delivery<'_>) -> Result<Option<u16>, DeliveryError> {
        let body =
            webhook_body(delivery.alert, delivery.message, delivery.idempotency_key).to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(self.secret.expose().as_bytes(), timestamp, body.as_bytes());
        let request = self
            .client
            .post(self.url.clone())
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_HEADER, delivery.idempotency_key)
            .header("X-Idwatch-Attempt", delivery.attempt.to_string())
            .body(body);
        http::post(&self.name, delivery.alert.id, request)
            .await
            .map(Some)
    }
}

/// `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    // Hmac::new_from_slice only fails for fixed-size-key MACs; SHA-256 HMAC takes any key.
    // Documented invariant (see STYLE: panics only for broken internal invariants).
    panic!("HMAC-SHA256 rejected a key, which the hmac crate never does")
}

/// The `idwatch.alert.v1` body.
pub fn webhook_body(alert: &Alert, message: &AlertMessage, idempotency_key: &str) -> Value {
    json!({
        "schema": SCHEMA,
        "idempotency_key": idempotency_key,
        "alert": {
            "id": alert.id.0,
            "org": alert.org_name,
            "rule": {
                "id": alert.rule_id,
                "title": alert.title,
                "description": alert.context.description,
                "references": alert.context.references,
            },
            "level": alert.level.as_str(),
            "status": alert.status.as_str(),
            "summary": message.what,
            "actor": alert.context.actor,
            "client": alert.context.client,
            "group_key": alert.group_key,
            "count": alert.count,
            "first_seen": rfc3339(alert.first_seen),
            "last_seen": rfc3339(alert.last_seen),
            "created_at": rfc3339(alert.created_at),
            "event_uuids": alert.event_uuids,
            "evidence": {
                "filter": message.evidence.filter,
                "command": message.evidence.command,
                "url": message.evidence.url,
            },
        },
        "text": message.plain_text(),
    })
}
