//! `[[alerts.sinks]] type = "webhook"`: where to POST and the signing secret (by reference).

use crate::error::ConfigError;
use crate::secret::SecretRef;
use serde::Deserialize;

/// Example shown in error messages and docs.
pub const WEBHOOK_EXAMPLE: &str = r#"[[alerts.sinks]]
name = "soar"
type = "webhook"
url = "https://soar.example.com/hooks/idwatch"
secret = { env = "IDWATCH_WEBHOOK_SECRET" }"#;

pub(crate) const URL_EXAMPLE: &str = "https://soar.example.com/hooks/idwatch";

/// Generic webhook settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSinkConfig {
    /// Where to POST (https; http only to localhost).
    pub url: String,
    /// The HMAC-SHA256 key, from an env var or file. At least 16 bytes.
    pub secret: SecretRef,
}

impl WebhookSinkConfig {
    /// Checks the URL.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        crate::http::check_url(name, "url", &self.url, URL_EXAMPLE, false).map(|_| ())
    }
}
