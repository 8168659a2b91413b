//! The `[detect]` section of idwatch.toml: which rules run (the built-in pack, user rule
//! directories, built-ins disabled by id), per-rule tuning (thresholds, windows, any rule field),
//! placeholders, allowlists, and streaming settings, with per-org overrides under
//! `[detect.orgs.NAME]`. Durations are written `250ms`, `60s`, `5m`, `1h`, `1d`.
//!
//! ```toml
//! [detect]
//! rules = ["my-rules/"]                       # besides the built-in pack
//! disable = ["okta-policy-tampering"]          # built-in (or user) rules by id, name or title
//! allowed_lateness = "60s"
//! [detect.tune."okta-mfa-push-bombing"]        # rule id → dotted field → new value
//! "correlation.condition.gte" = 8
//! [[detect.allow]]                             # known-authorized admin activity
//! name = "it-vpn"
//! ips = ["203.0.113.0/24"]
//! actors = ["okta-admin@example.com"]
//! rules = ["okta-admin-role-granted"]          # empty: every rule
//! [detect.orgs.prod]                           # per org: added to / overriding the above
//! disable = ["okta-api-token-created"]
//! tune."okta-password-spray"."correlation.condition.gte" = 20
//! ```

use crate::error::DetectError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Rule id → dotted field path inside the rule document → replacement value.
pub type Tuning = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

/// `[detect]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Whether the built-in pack runs (default true).
    #[serde(default = "yes")]
    pub builtin: bool,
    /// User rule files or directories, run beside the built-in pack.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Rules not to alert on, by id, name or title.
    #[serde(default)]
    pub disable: Vec<String>,
    /// `|expand` placeholder values (added to `[sigma] placeholders`).
    #[serde(default)]
    pub placeholders: BTreeMap<String, Vec<String>>,
    /// Per-rule overrides of fields of the rule document.
    #[serde(default)]
    pub tune: Tuning,
    /// Allowlist entries.
    #[serde(default)]
    pub allow: Vec<AllowEntry>,
    /// How late an event may arrive (event time) after a later one and still count in windows
    /// and sequences (default: `[sigma] allowed_lateness`, else 60s).
    pub allowed_lateness: Option<String>,
    /// How often the detector looks for new events when nobody wakes it (default 500ms).
    pub poll_interval: Option<String>,
    /// Events read per step (default 2000).
    pub batch_size: Option<usize>,
    /// How often the position is committed when no alert forces it (default 2s).
    pub checkpoint_interval: Option<String>,
    /// Per org: added to (lists) or overriding (maps) the settings above.
    #[serde(default)]
    pub orgs: BTreeMap<String, OrgDetectConfig>,
}

fn yes() -> bool {
    true
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            builtin: true,
            rules: Vec::new(),
            disable: Vec::new(),
            placeholders: BTreeMap::new(),
            tune: Tuning::new(),
            allow: Vec::new(),
            allowed_lateness: None,
            poll_interval: None,
            batch_size: None,
            checkpoint_interval: None,
            orgs: BTreeMap::new(),
        }
    }
}

/// `[detect.orgs.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgDetectConfig {
    /// More rule files or directories for this org.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// More rules disabled for this org.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Placeholder values for this org (replace the global list of the same name).
    #[serde(default)]
    pub placeholders: BTreeMap<String, Vec<String>>,
    /// Tuning for this org (per field, over the global tuning).
    #[serde(default)]
    pub tune: Tuning,
    /// More allowlist entries for this org.
    #[serde(default)]
    pub allow: Vec<AllowEntry>,
}

/// One allowlist entry: matches of `rules` (every rule when empty) whose evidence satisfies
/// every criterion given (`ips`, `actors`, `windows`; any value within one) are suppressed and
/// counted under `name`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// Shown in counts and logs.
    pub name: String,
    /// Rules it applies to, by id, name or title; empty means every rule.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Client IPs or CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`, `198.51.100.7`).
    #[serde(default)]
    pub ips: Vec<String>,
    /// Actors by `actor.alternateId` or `actor.id`, case-insensitive; `*@example.com` matches a
    /// suffix.
    #[serde(default)]
    pub actors: Vec<String>,
    /// Change windows (event time).
    #[serde(default)]
    pub windows: Vec<ChangeWindow>,
    /// Why this is allowed (for the record).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A change window: `[start, end)` in event time.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChangeWindow {
    /// Start (RFC 3339).
    pub start: DateTime<Utc>,
    /// End (RFC 3339).
    pub end: DateTime<Utc>,
}

/// Streaming settings resolved from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    /// How often to look for new events when not woken.
    pub poll_interval: Duration,
    /// Events read per step.
    pub batch_size: usize,
    /// Longest time between commits when nothing forces one.
    pub checkpoint_interval: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            poll_interval: Duration::from_millis(500),
            batch_size: 2000,
            checkpoint_interval: Duration::from_secs(2),
        }
    }
}

impl DetectConfig {
    /// Streaming settings, or an error naming the field.
    pub fn stream_settings(&self) -> Result<StreamSettings, DetectError> {
        let defaults = StreamSettings::default();
        let duration = |field: &str, value: &Option<String>, default: Duration| match value {
            None => Ok(default),
            Some(text) => parse_duration(text).map_err(|reason| DetectError::Config {
                field: format!("detect.{field}"),
                reason,
            }),
        };
        let batch_size = self.batch_size.unwrap_or(defaults.batch_size);
        if batch_size == 0 {
            return Err(DetectError::Config {
                field: "detect.batch_size".into(),
                reason: "must be at least 1 (e.g. batch_size = 2000)".into(),
            });
        }
        Ok(StreamSettings {
            poll_interval: duration("poll_interval", &self.poll_interval, defaults.poll_interval)?,
            batch_size,
            checkpoint_interval: duration(
                "checkpoint_interval",
                &self.checkpoint_interval,
                defaults.checkpoint_interval,
            )?,
        })
    }

    /// The allowed lateness from `[detect]`, if set.
    pub fn allowed_lateness(&self) -> Result<Option<Duration>, DetectError> {
        self.allowed_lateness
            .as_deref()
            .map(|t| {
                parse_duration(t).map_err(|reason| DetectError::Config {
                    field: "detect.allowed_lateness".into(),
                    reason,
                })
            })
            .transpose()
    }
}

/// Parses `250ms`, `60s`, `5m`, `1h`, `1d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 250ms, 60s, 5m, 1h, 1d)"))?;
    let ms = match unit.trim() {
        "ms" => n,
        "" | "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        "d" => n.saturating_mul(86_400_000),
        _ => {
            return Err(format!(
                "`{text}` is not a duration (e.g. 250ms, 60s, 5m, 1h, 1d)"
            ))
        }
    };
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn bad_settings_name_their_field() {
        let config = DetectConfig {
            poll_interval: Some("soon".into()),
            ..DetectConfig::default()
        };
        let err = config.stream_settings().expect_err("bad");
        assert!(err.to_string().contains("detect.poll_interval"), "{err}");
    }
}
