//! `[[alerts.sinks]] type = "syslog"`: where (host:port), how (UDP or TCP), in what format
//! (plain RFC 5424 or CEF), and the RFC 5424 header fields.

use crate::error::ConfigError;
use serde::Deserialize;

/// Example shown in error messages and docs.
pub const SYSLOG_EXAMPLE: &str = r#"[[alerts.sinks]]
name = "siem"
type = "syslog"
address = "siem.example.com:514"
protocol = "tcp"
format = "cef""#;

/// Transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    /// One datagram per message (RFC 5426); nothing confirms receipt.
    #[default]
    Udp,
    /// A stream with octet-counting framing (RFC 6587 §3.4.1).
    Tcp,
}

/// What the MSG part holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    /// Human-readable text, with the alert's fields in structured data.
    #[default]
    Rfc5424,
    /// An ArcSight Common Event Format event.
    Cef,
}

/// Syslog facility (RFC 5424 §6.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Facility {
    /// 4: security/authorization.
    Auth,
    /// 10: security/authorization (private).
    #[default]
    Authpriv,
    /// 13: log audit.
    Audit,
    /// 16.
    Local0,
    /// 17.
    Local1,
    /// 18.
    Local2,
    /// 19.
    Local3,
    /// 20.
    Local4,
    /// 21.
    Local5,
    /// 22.
    Local6,
    /// 23.
    Local7,
}

impl Facility {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Facility::Auth => 4,
            Facility::Authpriv => 10,
            Facility::Audit => 13,
            Facility::Local0 => 16,
            Facility::Local1 => 17,
            Facility::Local2 => 18,
            Facility::Local3 => 19,
            Facility::Local4 => 20,
            Facility::Local5 => 21,
            Facility::Local6 => 22,
            Facility::Local7 => 23,
        }
    }
}

/// Syslog settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSinkConfig {
    /// `host:port` of the collector.
    pub address: String,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub protocol: SyslogProtocol,
    /// `rfc5424` (default) or `cef`.
    #[serde(default)]
    pub format: SyslogFormat,
    /// Facility; `authpriv` by default.
    #[serde(default)]
    pub facility: Facility,
    /// HOSTNAME field; the machine's name by default.
    #[serde(default)]
    pub hostname: Option<String>,
    /// APP-NAME field; `idwatch` by default.
    #[serde(default)]
    pub app_name: Option<String>,
}

impl SyslogSinkConfig {
    /// Checks the settings.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let ok = self.address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            return Err(ConfigError::sink(
                name,
                "address",
                format!("must be host:port, e.g. address = \"siem.example.com:514\" (or \"[2001:db8::1]:514\"); got `{}`", self.address),
            ));
        }
        for (field, value, max) in [
            ("hostname", &self.hostname, 255),
            ("app_name", &self.app_name, 48),
        ] {
            if let Some(v) = value {
                if v.is_empty() || v.len() > max || !v.bytes().all(|b| (33..=126).contains(&b)) {
                    return Err(ConfigError::sink(
                        name,
                        field,
                        format!("must be 1-{max} printable ASCII characters without spaces (RFC 5424), e.g. {field} = \"idwatch\"; got `{v}`"),
                    ));
                }
            }
        }
        Ok(())
    }
}
