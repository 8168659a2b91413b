//! The RFC 5424 line and the CEF event, as pure functions of the message and the time, so they
//! can be checked byte for byte.
//!
//! RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`. PRI is facility × 8 +
//! severity (critical → 2 crit, high → 3 err, medium → 4 warning, low → 5 notice,
//! informational → 6 info). The structured data element `alert@32473` (32473 is the example
//! enterprise number of RFC 5612, as RFC 5424's own examples use) carries id, org, rule, level,
//! count and the idempotency key; PARAM-VALUEs escape `"`, `\` and `]`. A MSG with non-ASCII
//! text starts with the UTF-8 BOM, as §6.4 requires.
//!
//! CEF: `CEF:0|idwatch|idwatch|VERSION|RULE|TITLE|SEVERITY|EXTENSIONS`. Header fields escape
//! `\` and `|`; extension values escape `\`, `=` and line breaks (`\n`, `\r`). Newlines in
//! header fields become spaces (the format has no escape for them there).

use super::config::Facility;
use crate::message::{rfc3339, AlertMessage};
use chrono::{DateTime, Utc};
use std::net::IpAddr;
use store::alerts::AlertLevel;

/// RFC 5424 header fields that come from configuration and the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFields {
    /// Facility.
    pub facility: Facility,
    /// HOSTNAME.
    pub hostname: String,
    /// APP-NAME.
    pub app_name: String,
    /// PROCID.
    pub proc_id: String,
}

fn severity(level: AlertLevel) -> u8 {
    match level {
        AlertLevel::Critical => 2,
        AlertLevel::High => 3,
        AlertLevel::Medium => 4,
        AlertLevel::Low => 5,
        AlertLevel::Informational => 6,
    }
}

fn cef_severity(level: AlertLevel) -> u8 {
    match level {
        AlertLevel::Informational => 1,
        AlertLevel::Low => 3,
        AlertLevel::Medium => 5,
        AlertLevel::High => 8,
        AlertLevel::Critical => 10,
    }
}

/// An RFC 5424 header field: printable ASCII without spaces, at most `max`, else `-`.
fn header_field(value: &str, max: usize) -> String {
    let cleaned: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".into()
    } else {
        cleaned
    }
}

fn sd_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The full RFC 5424 line (without transport framing) with `msg` as MSG.
pub fn rfc5424_line(
    message: &AlertMessage,
    idempotency_key: &str,
    header: &HeaderFields,
    msg: &str,
    now: DateTime<Utc>,
) -> String {
    let pri = u16::from(header.facility.code()) * 8 + u16::from(severity(message.level));
    let sd = format!(
        "[alert@32473 id=\"{}\" org=\"{}\" rule=\"{}\" level=\"{}\" count=\"{}\" key=\"{}\"]",
        message.alert_id,
        sd_value(&message.org),
        sd_value(&message.rule_id),
        message.level.as_str(),
        message.count,
        sd_value(idempotency_key),
    );
    let bom = if msg.is_ascii() { "" } else { "\u{feff}" };
    format!(
        "<{pri}>1 {} {} {} {} alert {sd} {bom}{msg}",
        rfc3339(now),
        header_field(&header.hostname, 255),
        header_field(&header.app_name, 48),
        header_field(&header.proc_id, 128),
    )
}

/// The plain-text MSG: one line with what, who, where and the evidence.
pub fn plain_msg(message: &AlertMessage) -> String {
    let mut parts = vec![
        format!("{} {}", message.level_label(), message.title),
        message.what.clone(),
    ];
    if let Some(who) = &message.who {
        parts.push(format!("who: {who}"));
    }
    if let Some(location) = &message.location {
        parts.push(format!("where: {location}"));
    }
    parts.push(format!("seen: {}", message.seen()));
    parts.push(format!("evidence: {}", message.evidence_line()));
    parts.join(" | ").replace(['\r', '\n'], " ")
}

/// Escapes a CEF header field: `\` → `\\`, `|` → `\|`; line breaks become spaces.
pub fn cef_escape_header(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a CEF extension value: `\` → `\\`, `=` → `\=`, newline → `\n`, CR → `\r`.
pub fn cef_escape_extension(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The CEF event for a message.
pub fn cef_line(message: &AlertMessage, idempotency_key: &str) -> String {
    let mut ext: Vec<(&str, String)> = vec![
        ("externalId", message.alert_id.to_string()),
        ("cat", message.rule_id.clone()),
        ("cnt", message.count.to_string()),
        ("start", message.first_seen.timestamp_millis().to_string()),
        ("end", message.last_seen.timestamp_millis().to_string()),
        ("cs1Label", "org".into()),
        ("cs1", message.org.clone()),
        ("cs2Label", "idempotencyKey".into()),
        ("cs2", idempotency_key.to_string()),
    ];
    if let Some(login) = &message.actor_login {
        ext.push(("suser", login.clone()));
    }
    match message.ip.as_deref().map(|ip| (ip, ip.parse::<IpAddr>())) {
        Some((ip, Ok(IpAddr::V4(_)))) => ext.push(("src", ip.to_string())),
        Some((ip, Ok(IpAddr::V6(_)))) => {
            ext.push(("c6a2Label", "sourceAddress".into()));
            ext.push(("c6a2", ip.to_string()));
        }
        _ => {}
    }
    if let Some(location) = &message.location {
        ext.push(("cs3Label", "where".into()));
        ext.push(("cs3", location.clone()));
    }
    ext.push(("cs4Label", "evidence".into()));
    ext.push(("cs4", message.evidence_line()));
    ext.push(("msg", message.what.clone()));
    let extension = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", cef_escape_extension(v)))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "CEF:0|idwatch|idwatch|{}|{}|{}|{}|{extension}",
        cef_escape_header(env!("CARGO_PKG_VERSION")),
        cef_escape_header(&message.rule_id),
        cef_escape_header(&message.title),
        cef_severity(message.level),
    )
}
