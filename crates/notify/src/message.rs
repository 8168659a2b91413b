//! `AlertMessage`: what every sink says about an alert, decided once: what happened, who, where
//! from, why it matters, how to see the evidence, and the level's emoji and colour. Each sink
//! only lays these out in its own format, so Slack, email, webhook and syslog never disagree.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use store::alerts::{Alert, AlertLevel};

/// How many event uuids go into an evidence filter (a longer `or` is unreadable; the link
/// says how many more there are).
pub const EVIDENCE_UUIDS: usize = 20;

/// Options that shape messages, from the `[alerts]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageOptions {
    /// A URL template for the evidence link: `{alert_id}`, `{org}`, `{rule_id}` and `{filter}`
    /// (the URL-encoded Okta filter over the matching events) are replaced.
    pub evidence_url: Option<String>,
}

/// How to see the events behind an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The Okta filter over the matching events (`uuid eq "..." or ...`).
    pub filter: String,
    /// The `idwatch query` command that shows them.
    pub command: String,
    /// A link, when an evidence URL template is configured.
    pub url: Option<String>,
    /// Events left out of the filter.
    pub omitted: usize,
}

/// An alert as every sink presents it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertMessage {
    /// The alert id.
    pub alert_id: i64,
    /// The org's name.
    pub org: String,
    /// The rule id.
    pub rule_id: String,
    /// The rule title.
    pub title: String,
    /// The level.
    pub level: AlertLevel,
    /// What happened (the alert's summary, or the title when detection gave none).
    pub what: String,
    /// Who: "Jane Doe <jane@example.com> (User 00u1)".
    pub who: Option<String>,
    /// The actor's login alone (`jane@example.com`), for fields that want one value.
    pub actor_login: Option<String>,
    /// The client IP alone.
    pub ip: Option<String>,
    /// Where from: "203.0.113.7 · Berlin, Germany · AS3320 Deutsche Telekom AG".
    pub location: Option<String>,
    /// Why it matters: the rule's description.
    pub why: String,
    /// How many matches folded into this alert.
    pub count: u64,
    /// Earliest matching event.
    pub first_seen: DateTime<Utc>,
    /// Latest matching event.
    pub last_seen: DateTime<Utc>,
    /// The group key, as `field=value` pairs.
    pub group: Vec<(String, String)>,
    /// Evidence.
    pub evidence: Evidence,
    /// Runbooks and references.
    pub references: Vec<String>,
}

impl AlertMessage {
    /// Builds the message for `alert`.
    pub fn new(alert: &Alert, options: &MessageOptions) -> AlertMessage {
        let ctx = &alert.context;
        let who = ctx.actor.as_ref().and_then(|a| {
            let mut text = match (&a.display_name, &a.alternate_id) {
                (Some(name), Some(login)) if name != login => format!("{name} <{login}>"),
                (_, Some(login)) => login.clone(),
                (Some(name), None) => name.clone(),
                (None, None) => String::new(),
            };
            let id = match (&a.kind, &a.id) {
                (Some(kind), Some(id)) => Some(format!("{kind} {id}")),
                (None, Some(id)) => Some(id.clone()),
                _ => None,
            };
            if let Some(id) = id {
                text = if text.is_empty() {
                    id
                } else {
                    format!("{text} ({id})")
                };
            }
            (!text.is_empty()).then_some(text)
        });
        let location = ctx.client.as_ref().and_then(|c| {
            let mut parts = Vec::new();
            if let Some(ip) = &c.ip {
                parts.push(ip.clone());
            }
            let place: Vec<&str> = [c.city.as_deref(), c.country.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            if !place.is_empty() {
                parts.push(place.join(", "));
            }
            match (c.asn, &c.as_org) {
                (Some(asn), Some(org)) => parts.push(format!("AS{asn} {org}")),
                (Some(asn), None) => parts.push(format!("AS{asn}")),
                (None, Some(org)) => parts.push(org.clone()),
                (None, None) => {}
            }
            (!parts.is_empty()).then(|| parts.join(" · "))
        });
        let filter = alert.evidence_filter(EVIDENCE_UUIDS);
        let command = format!(
            "idwatch query --org {} '{}'",
            shell_word(&alert.org_name),
            filter.replace('\'', "'\\''")
        );
        let url = options.evidence_url.as_ref().map(|template| {
            template
                .replace("{alert_id}", &alert.id.to_string())
                .replace("{org}", &url_component(&alert.org_name))
                .replace("{rule_id}", &url_component(&alert.rule_id))
                .replace("{filter}", &url_component(&filter))
        });
        AlertMessage {
            alert_id: alert.id.0,
            org: alert.org_name.clone(),
            rule_id: alert.rule_id.clone(),
            title: alert.title.clone(),
            level: alert.level,
            what: if ctx.summary.trim().is_empty() {
                alert.title.clone()
            } else {
                ctx.summary.clone()
            },
            who,
            actor_login: ctx
                .actor
                .as_ref()
                .and_then(|a| a.alternate_id.clone().or_else(|| a.id.clone())),
            ip: ctx.client.as_ref().and_then(|c| c.ip.clone()),
            location,
            why: ctx.description.clone(),
            count: alert.count,
            first_seen: alert.first_seen,
            last_seen: alert.last_seen,
            group: alert
                .group_key
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), value)
                })
                .collect(),
            evidence: Evidence {
                filter,
                command,
                url,
                omitted: alert.event_uuids.len().saturating_sub(EVIDENCE_UUIDS),
            },
            references: ctx.references.clone(),
        }
    }

    /// `HIGH`, `CRITICAL`, ...
    pub fn level_label(&self) -> String {
        self.level.as_str().to_ascii_uppercase()
    }

    /// The Slack emoji for the level.
    pub fn level_emoji(&self) -> &'static str {
        match self.level {
            AlertLevel::Informational => ":information_source:",
            AlertLevel::Low => ":large_blue_circle:",
            AlertLevel::Medium => ":large_yellow_circle:",
            AlertLevel::High => ":large_orange_circle:",
            AlertLevel::Critical => ":red_circle:",
        }
    }

    /// The level's colour (`#RRGGBB`), for Slack attachments and HTML email.
    pub fn level_colour(&self) -> &'static str {
        match self.level {
            AlertLevel::Informational => "#439FE0",
            AlertLevel::Low => "#2EB67D",
            AlertLevel::Medium => "#ECB22E",
            AlertLevel::High => "#E8712C",
            AlertLevel::Critical => "#E01E5A",
        }
    }

    /// One line: `[HIGH] title (acme)`.
    pub fn headline(&self) -> String {
        format!("[{}] {} ({})", self.level_label(), self.title, self.org)
    }

    /// "3 matches, 2024-03-01T12:00:00Z to 2024-03-01T12:10:00Z" or "1 match at ...".
    pub fn seen(&self) -> String {
        if self.count <= 1 && self.first_seen == self.last_seen {
            format!("1 match at {}", rfc3339(self.first_seen))
        } else {
            format!(
                "{} {}, {} to {}",
                self.count,
                if self.count == 1 { "match" } else { "matches" },
                rfc3339(self.first_seen),
                rfc3339(self.last_seen)
            )
        }
    }

    /// The evidence as one line of text: the link if there is one, else the command.
    pub fn evidence_line(&self) -> String {
        let more = if self.evidence.omitted > 0 {
            format!(
                " (first {EVIDENCE_UUIDS} events; {} more on the alert)",
                self.evidence.omitted
            )
        } else {
            String::new()
        };
        match &self.evidence.url {
            Some(url) => format!("{url}{more}"),
            None => format!("{}{more}", self.evidence.command),
        }
    }

    /// The group key as `field=value, field=value`.
    pub fn group_line(&self) -> String {
        self.group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The message as plain text lines (email body, syslog message, logs).
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("{}\n\n", self.headline()));
        out.push_str(&format!("What happened: {}\n", self.what));
        if let Some(who) = &self.who {
            out.push_str(&format!("Who: {who}\n"));
        }
        if let Some(location) = &self.location {
            out.push_str(&format!("Where: {location}\n"));
        }
        if !self.why.is_empty() {
            out.push_str(&format!("Why it matters: {}\n", self.why));
        }
        out.push_str(&format!("Seen: {}\n", self.seen()));
        if !self.group.is_empty() {
            out.push_str(&format!("Grouped by: {}\n", self.group_line()));
        }
        out.push_str(&format!("Evidence: {}\n", self.evidence_line()));
        for reference in &self.references {
            out.push_str(&format!("Reference: {reference}\n"));
        }
        out.push_str(&format!(
            "\nAlert {} · rule {} · org {} · acknowledge with: idwatch alerts ack {}\n",
            self.alert_id, self.rule_id, self.org, self.alert_id
        ));
        out
    }
}

/// RFC 3339 with milliseconds and `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn url_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
