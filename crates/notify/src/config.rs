//! The `[alerts]` section of idwatch.toml: deduplication, the evidence link, the delivery
//! worker's settings, and the sinks (`[[alerts.sinks]]`, each with a name, the orgs and
//! minimum level it takes, and its own `type`-tagged settings). Unknown keys are errors;
//! secrets are only references (`{ env = "..." }` / `{ file = "..." }`). Every validation
//! message names the field and shows a valid example.

use crate::duration::ConfigDuration;
use crate::error::ConfigError;
use crate::message::MessageOptions;
use crate::retry::RetryPolicy;
use crate::sink::{BuildContext, Sink, SinkConfig};
use crate::{email, slack, syslog, webhook};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use store::alerts::{AlertLevel, AlertRoute, AlertRouting};

/// A complete, valid example (printed in docs and error messages, and parsed by a test).
pub const EXAMPLE: &str = r#"[alerts]
suppression = "15m"            # repeats of (org, rule, group key) within this fold into one alert
renotify_on_update = false     # deliver again when a repeat folds in
evidence_url = "https://idwatch.example.com/alerts/{alert_id}"   # optional link template

[alerts.delivery]
poll_interval = "250ms"
concurrency = 8
timeout = "10s"
retry_initial = "1s"
retry_max = "5m"

[[alerts.sinks]]
name = "soc-slack"
type = "slack"
min_level = "medium"
webhook_url = { env = "IDWATCH_SLACK_WEBHOOK" }

[[alerts.sinks]]
name = "soar"
type = "webhook"
orgs = ["acme"]
url = "https://soar.example.com/hooks/idwatch"
secret = { env = "IDWATCH_WEBHOOK_SECRET" }

[[alerts.sinks]]
name = "soc-email"
type = "email"
min_level = "high"
host = "smtp.example.com"
port = 587
username = "idwatch@example.com"
password = { env = "IDWATCH_SMTP_PASSWORD" }
from = "idwatch <idwatch@example.com>"
to = ["soc@example.com"]

[[alerts.sinks]]
name = "siem"
type = "syslog"
address = "siem.example.com:514"
protocol = "tcp"
format = "cef"
"#;

fn default_suppression() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(15 * 60))
}

/// The `[alerts]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Matches of one (org, rule, group key) within this long of the alert's first event fold
    /// into it. Default 15m (Panther's).
    #[serde(default = "default_suppression")]
    pub suppression: ConfigDuration,
    /// Deliver an alert again when a repeat folds into it. Default false.
    #[serde(default)]
    pub renotify_on_update: bool,
    /// Link template for evidence: `{alert_id}`, `{org}`, `{rule_id}`, `{filter}`. Without it,
    /// messages carry the `idwatch query` command that shows the events.
    #[serde(default)]
    pub evidence_url: Option<String>,
    /// The delivery worker.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// The sinks.
    #[serde(default)]
    pub sinks: Vec<SinkEntry>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            suppression: default_suppression(),
            renotify_on_update: false,
            evidence_url: None,
            delivery: DeliveryConfig::default(),
            sinks: Vec::new(),
        }
    }
}

/// `[alerts.delivery]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// How often the worker looks for due deliveries. Default 250ms.
    pub poll_interval: ConfigDuration,
    /// Deliveries in flight at once. Default 8.
    pub concurrency: usize,
    /// Each attempt's time limit. Default 10s.
    pub timeout: ConfigDuration,
    /// First retry back-off. Default 1s.
    pub retry_initial: ConfigDuration,
    /// Longest retry back-off. Default 5m.
    pub retry_max: ConfigDuration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            poll_interval: ConfigDuration(Duration::from_millis(250)),
            concurrency: 8,
            timeout: ConfigDuration(Duration::from_secs(10)),
            retry_initial: ConfigDuration(Duration::from_secs(1)),
            retry_max: ConfigDuration(Duration::from_secs(300)),
        }
    }
}

/// One `[[alerts.sinks]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkEntry {
    /// Unique name (letters, digits, `-`, `_`, `.`); outbox rows refer to it.
    pub name: String,
    /// Orgs whose alerts go here; empty (default) means all.
    pub orgs: Vec<String>,
    /// Lowest level delivered; `informational` (everything) by default.
    pub min_level: AlertLevel,
    /// The sink's own settings.
    pub sink: SinkConfig,
}

fn example_for(kind: Option<&str>) -> &'static str {
    match kind {
        Some("slack") => slack::SLACK_EXAMPLE,
        Some("webhook") => webhook::WEBHOOK_EXAMPLE,
        Some("email") => email::EMAIL_EXAMPLE,
        Some("syslog") => syslog::SYSLOG_EXAMPLE,
        _ => "[[alerts.sinks]]\nname = \"soc-slack\"\ntype = \"slack\"   # or webhook, email, syslog\nwebhook_url = { env = \"IDWATCH_SLACK_WEBHOOK\" }",
    }
}

// `name`, `orgs` and `min_level` sit beside the `type`-tagged settings in one table. serde's
// `flatten` cannot be combined with `deny_unknown_fields`, so the common keys are taken out
// here and the rest goes to the tagged enum, whose variants deny unknown fields themselves.
impl<'de> Deserialize<'de> for SinkEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = serde_json::Map::<String, Value>::deserialize(d)?;
        let kind = table
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_string);
        let example = example_for(kind.as_deref());
        let name = match table.remove("name") {
            Some(Value::String(name)) => name,
            _ => {
                return Err(D::Error::custom(format!(
                    "every [[alerts.sinks]] entry needs a name, e.g.\n{example}"
                )))
            }
        };
        let orgs = match table.remove("orgs") {
            None => Vec::new(),
            Some(value) => serde_json::from_value::<Vec<String>>(value).map_err(|_| {
                D::Error::custom(format!(
                    "sink `{name}`: orgs must be a list of org names, e.g. orgs = [\"acme\"]"
                ))
            })?,
        };
        let min_level = match table.remove("min_level") {
            None => AlertLevel::Informational,
            Some(Value::String(text)) => text
                .parse::<AlertLevel>()
                .map_err(|e| D::Error::custom(format!("sink `{name}`: min_level: {e}")))?,
            Some(_) => {
                return Err(D::Error::custom(format!(
                    "sink `{name}`: min_level must be a string, e.g. min_level = \"high\""
                )))
            }
        };
        let sink = serde_json::from_value::<SinkConfig>(Value::Object(table)).map_err(|e| {
            D::Error::custom(format!(
                "sink `{name}`: {e}; a valid entry looks like:\n{example}"
            ))
        })?;
        Ok(SinkEntry {
            name,
            orgs,
            min_level,
            sink,
        })
    }
}

impl AlertsConfig {
    /// Checks everything that needs no secret: names, durations, URLs, addresses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(template) = &self.evidence_url {
            let probe = template
                .replace("{alert_id}", "1")
                .replace("{org}", "acme")
                .replace("{rule_id}", "r")
                .replace("{filter}", "f");
            let ok = url::Url::parse(&probe)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(ConfigError::general(
                    "evidence_url",
                    format!("must be an http(s) URL template, e.g. evidence_url = \"https://idwatch.example.com/alerts/{{alert_id}}\"; got `{template}`"),
                ));
            }
        }
        let d = &self.delivery;
        if d.concurrency == 0 || d.concurrency > 256 {
            return Err(ConfigError::general(
                "delivery.concurrency",
                format!("must be 1-256, e.g. concurrency = 8; got {}", d.concurrency),
            ));
        }
        for (field, value) in [
            ("delivery.poll_interval", d.poll_interval),
            ("delivery.timeout", d.timeout),
            ("delivery.retry_initial", d.retry_initial),
        ] {
            if value.0.is_zero() {
                return Err(ConfigError::general(
                    field,
                    "must be more than zero, e.g. \"1s\"",
                ));
            }
        }
        if d.retry_max < d.retry_initial {
            return Err(ConfigError::general(
                "delivery.retry_max",
                format!(
                    "must be at least retry_initial ({}), e.g. retry_max = \"5m\"",
                    d.retry_initial
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for entry in &self.sinks {
            let valid_name = !entry.name.is_empty()
                && entry.name.len() <= 64
                && entry
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid_name {
                return Err(ConfigError::sink(
                    &entry.name,
                    "name",
                    "must be 1-64 letters, digits, `-`, `_` or `.`, e.g. name = \"soc-slack\"",
                ));
            }
            if !seen.insert(entry.name.as_str()) {
                return Err(ConfigError::sink(
                    &entry.name,
                    "name",
                    "is used by two sinks; names must be unique (outbox rows refer to them)",
                ));
            }
            entry.sink.validate(&entry.name)?;
        }
        Ok(())
    }

    /// How `Store::raise` folds and routes alerts.
    pub fn routing(&self) -> AlertRouting {
        AlertRouting {
            suppression: self.suppression.0,
            renotify_on_update: self.renotify_on_update,
            routes: self
                .sinks
                .iter()
                .map(|s| AlertRoute {
                    sink: s.name.clone(),
                    orgs: s.orgs.clone(),
                    min_level: s.min_level,
                })
                .collect(),
        }
    }

    /// Message options.
    pub fn message_options(&self) -> MessageOptions {
        MessageOptions {
            evidence_url: self.evidence_url.clone(),
        }
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            initial: self.delivery.retry_initial.0,
            max: self.delivery.retry_max.0,
            ..RetryPolicy::default()
        }
    }

    /// The sink entry called `name`.
    pub fn sink(&self, name: &str) -> Option<&SinkEntry> {
        self.sinks.iter().find(|s| s.name == name)
    }

    /// Validates, resolves every secret, and builds every sink.
    pub fn build_sinks(&self) -> Result<BTreeMap<String, Sink>, ConfigError> {
        self.validate()?;
        let ctx = BuildContext {
            timeout: self.delivery.timeout.0,
        };
        self.sinks
            .iter()
            .map(|entry| Ok((entry.name.clone(), entry.sink.build(&entry.name, &ctx)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        alerts: AlertsConfig,
    }

    fn parse(text: &str) -> Result<AlertsConfig, String> {
        toml::from_str::<File>(text)
            .map(|f| f.alerts)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_example_parses_and_validates() {
        let config = parse(EXAMPLE).unwrap();
        config.validate().unwrap();
        assert_eq!(config.sinks.len(), 4);
        let kinds: Vec<_> = config.sinks.iter().map(|s| s.sink.kind()).collect();
        assert_eq!(kinds, ["slack", "webhook", "email", "syslog"]);
        let routing = config.routing();
        assert_eq!(routing.suppression, Duration::from_secs(900));
        assert_eq!(routing.routes[0].min_level, AlertLevel::Medium);
        assert_eq!(routing.routes[1].orgs, vec!["acme".to_string()]);
        assert_eq!(routing.routes[3].min_level, AlertLevel::Informational);
        // Each sink's own example parses too.
        for example in [
            slack::SLACK_EXAMPLE,
            webhook::WEBHOOK_EXAMPLE,
            email::EMAIL_EXAMPLE,
            syslog::SYSLOG_EXAMPLE,
        ] {
            let text = format!("[alerts]\n{}", example);
            parse(&text).unwrap().validate().unwrap();
        }
    }

    #[test]
    fn defaults_need_no_section_at_all() {
        let config = parse("[alerts]\n").unwrap();
        assert_eq!(config, AlertsConfig::default());
        assert_eq!(config.delivery.concurrency, 8);
        assert!(config.routing().routes.is_empty());
    }

    #[test]
    fn a_misspelt_key_is_refused_with_a_valid_example() {
        let err =
            parse("[[alerts.sinks]]\nname = \"s\"\ntype = \"slack\"\nwebhook = { env = \"X\" }\n")
                .unwrap_err();
        assert!(err.contains("sink `s`: unknown field `webhook`"), "{err}");
        assert!(
            err.contains("webhook_url = { env = \"IDWATCH_SLACK_WEBHOOK\" }"),
            "{err}"
        );
        let err = parse("[[alerts.sinks]]\nname = \"s\"\ntype = \"teams\"\n").unwrap_err();
        assert!(
            err.contains("unknown variant `teams`") && err.contains("slack"),
            "{err}"
        );
        let err = parse("[[alerts.sinks]]\ntype = \"slack\"\n").unwrap_err();
        assert!(err.contains("needs a name"), "{err}");
        let err = parse("[alerts]\nsupression = \"5m\"\n").unwrap_err();
        assert!(err.contains("unknown field `supression`"), "{err}");
        let err = parse("[[alerts.sinks]]\nname = \"s\"\ntype = \"slack\"\nmin_level = \"urgent\"\nwebhook_url = { env = \"X\" }\n").unwrap_err();
        assert!(
            err.contains("informational, low, medium, high or critical"),
            "{err}"
        );
    }

    #[test]
    fn secrets_written_inline_are_refused_without_echoing_them() {
        let err = parse(
            "[[alerts.sinks]]\nname = \"s\"\ntype = \"webhook\"\nurl = \"https://x.example.com/\"\nsecret = \"hunter2hunter2hunter2\"\n",
        )
        .unwrap_err();
        assert!(err.contains("never written in the config file"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn validation_catches_duplicate_names_and_bad_delivery_settings() {
        let text = "[[alerts.sinks]]\nname = \"s\"\ntype = \"syslog\"\naddress = \"h:514\"\n[[alerts.sinks]]\nname = \"s\"\ntype = \"syslog\"\naddress = \"h:515\"\n";
        let err = parse(text).unwrap().validate().unwrap_err().to_string();
        assert!(
            err.contains("alerts.sinks `s`: field `name`: is used by two sinks"),
            "{err}"
        );
        let err = parse("[alerts.delivery]\nconcurrency = 0\n")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "alerts: field `delivery.concurrency`: must be 1-256, e.g. concurrency = 8; got 0"
        );
        let err = parse("[alerts]\nevidence_url = \"idwatch/{alert_id}\"\n")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("e.g. evidence_url = \"https://"), "{err}");
    }

    #[test]
    fn building_reports_a_missing_secret_by_name() {
        let config = parse("[[alerts.sinks]]\nname = \"s\"\ntype = \"slack\"\nwebhook_url = { env = \"IDWATCH_TEST_NO_SUCH_VAR\" }\n").unwrap();
        let err = config.build_sinks().unwrap_err().to_string();
        assert_eq!(
            err,
            "alerts.sinks `s`: field `webhook_url`: environment variable IDWATCH_TEST_NO_SUCH_VAR is not set"
        );
    }
}
