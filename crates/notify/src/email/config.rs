//! `[[alerts.sinks]] type = "email"`: the relay, the TLS mode, credentials by reference, and
//! the addresses. Plain-text SMTP is not offered: alerts name users and IP addresses.

use crate::error::ConfigError;
use crate::secret::SecretRef;
use lettre::message::Mailbox;
use serde::Deserialize;
use std::path::PathBuf;

/// Example shown in error messages and docs.
pub const EMAIL_EXAMPLE: &str = r#"[[alerts.sinks]]
name = "soc-email"
type = "email"
min_level = "high"
host = "smtp.example.com"
port = 587
username = "idwatch@example.com"
password = { env = "IDWATCH_SMTP_PASSWORD" }
from = "idwatch <idwatch@example.com>"
to = ["soc@example.com"]"#;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Connect in plain text and require STARTTLS before anything else (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Email settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSinkConfig {
    /// The SMTP relay's host name (also the name its certificate must carry).
    pub host: String,
    /// Port; 587 for STARTTLS, 465 for TLS.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default) or `tls`.
    #[serde(default)]
    pub tls: EmailTls,
    /// SMTP user, if the relay requires authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// SMTP password, from an env var or file.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Sender (`idwatch <idwatch@example.com>`).
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Extra CA certificate (PEM) trusted for the relay, e.g. an internal CA; the Mozilla roots
    /// are always trusted.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl EmailSinkConfig {
    /// The port, defaulted by TLS mode.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            EmailTls::Starttls => 587,
            EmailTls::Tls => 465,
        })
    }

    /// Checks the settings.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let host = self.host.trim();
        if host.is_empty() || host.contains(['/', ' ', ':']) {
            return Err(ConfigError::sink(
                name,
                "host",
                format!("must be a host name, e.g. host = \"smtp.example.com\" (the port goes in `port`); got `{}`", self.host),
            ));
        }
        if self.port == Some(0) {
            return Err(ConfigError::sink(
                name,
                "port",
                "must be 1-65535, e.g. port = 587",
            ));
        }
        self.from.parse::<Mailbox>().map_err(|e| {
            ConfigError::sink(
                name,
                "from",
                format!(
                    "`{}` is not an address ({e}); e.g. from = \"idwatch <idwatch@example.com>\"",
                    self.from
                ),
            )
        })?;
        if self.to.is_empty() {
            return Err(ConfigError::sink(
                name,
                "to",
                "needs at least one recipient, e.g. to = [\"soc@example.com\"]",
            ));
        }
        for to in &self.to {
            to.parse::<Mailbox>().map_err(|e| {
                ConfigError::sink(
                    name,
                    "to",
                    format!("`{to}` is not an address ({e}); e.g. to = [\"soc@example.com\"]"),
                )
            })?;
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(ConfigError::sink(
                name,
                if self.username.is_some() { "password" } else { "username" },
                "username and password go together, e.g. username = \"idwatch@example.com\" and password = { env = \"IDWATCH_SMTP_PASSWORD\" }",
            ));
        }
        Ok(())
    }
}
