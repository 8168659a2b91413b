//! The `[server]` section of idwatch.toml: where the daemon listens, the bearer token that
//! guards `/metrics`, the Authorization secret of each org's Event Hook, the hook receiver's
//! limits, and the schedules of the daemon's periodic work. Secrets are only references
//! (`{ env = "..." }` / `{ file = "..." }`) resolved at start; unknown keys are errors, and every
//! validation message names the field and shows a valid value.

use notify::duration::ConfigDuration;
use notify::{Secret, SecretRef};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// A complete, valid example (in the docs, and parsed by a test).
pub const EXAMPLE: &str = r#"[server]
listen = "127.0.0.1:8870"
metrics_token = { env = "IDWATCH_METRICS_TOKEN" }   # Authorization: Bearer <token> on /metrics
hook_max_body_bytes = 8388608                       # larger deliveries get 413
hook_deadline = "2500ms"                            # answer Okta within its 3 s budget

# One table per org receiving Event Hooks at POST /hooks/okta/<org>. The secret is the whole
# Authorization header value configured on the hook in Okta.
[server.hooks.acme]
secret = { env = "IDWATCH_HOOK_SECRET_ACME" }

# The collector task of every org added with `idwatch org add`.
[server.collect]
share = 0.5             # of each rate-limit bucket (other tools share it)
poll_interval = "20s"   # sleep after a short page
backfill = "7d"         # where an org without a cursor starts
page_limit = 1000

[server.schedules]
audit = true            # roster snapshots and posture checks ([audit] sets how often)
audit_check = "1m"      # how often the daemon asks whether one is due
archive = true          # seal, compact and retain on [archive]'s ages
archive_every = "1h"    # how often
org_check = "30s"       # how often to look for orgs added while running (import, org add)
"#;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8870";

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8870))
}

fn default_max_body() -> usize {
    8 * 1024 * 1024
}

fn default_deadline() -> ConfigDuration {
    ConfigDuration(Duration::from_millis(2500))
}

/// The `[server]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Default `127.0.0.1:8870`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The bearer token `/metrics` requires. Without one, `/metrics` answers 401 to everyone.
    #[serde(default)]
    pub metrics_token: Option<SecretRef>,
    /// Largest hook delivery accepted, in bytes. Default 8 MiB.
    #[serde(default = "default_max_body")]
    pub hook_max_body_bytes: usize,
    /// How long a hook delivery may take, from the first byte to the answer. Past it the
    /// receiver answers 503 (Okta retries once; whatever was committed is deduplicated).
    /// Default 2500ms, inside Okta's 3 s.
    #[serde(default = "default_deadline")]
    pub hook_deadline: ConfigDuration,
    /// Event Hook settings per org (`[server.hooks.NAME]`).
    #[serde(default)]
    pub hooks: BTreeMap<String, HookConfig>,
    /// The collector tasks.
    #[serde(default)]
    pub collect: CollectSettings,
    /// Periodic work.
    #[serde(default)]
    pub schedules: Schedules,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            metrics_token: None,
            hook_max_body_bytes: default_max_body(),
            hook_deadline: default_deadline(),
            hooks: BTreeMap::new(),
            collect: CollectSettings::default(),
            schedules: Schedules::default(),
        }
    }
}

/// `[server.hooks.NAME]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// The Authorization header value Okta sends with every request of this hook.
    pub secret: SecretRef,
}

/// `[server.collect]`: how the daemon's collector tasks poll.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectSettings {
    /// Share of each rate-limit bucket idwatch may use. Default 0.5.
    pub share: f64,
    /// Sleep after a short page. Default 20s.
    pub poll_interval: ConfigDuration,
    /// Where an org without a cursor starts. Default 7d.
    pub backfill: ConfigDuration,
    /// Events per page of a new cursor. Default 1000.
    pub page_limit: u32,
}

impl Default for CollectSettings {
    fn default() -> Self {
        CollectSettings {
            share: 0.5,
            poll_interval: ConfigDuration(Duration::from_secs(20)),
            backfill: ConfigDuration(Duration::from_secs(7 * 86_400)),
            page_limit: 1000,
        }
    }
}

/// `[server.schedules]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedules {
    /// Run roster snapshots and posture checks for collected orgs (their intervals are in
    /// `[audit]`). Default true.
    pub audit: bool,
    /// How often the daemon asks whether an audit is due (cheap when it is not). Default 1m.
    pub audit_check: ConfigDuration,
    /// Seal hot events older than `[archive] seal_older_than` into the archive, compact
    /// finished days and apply `[archive] retain`. Default true.
    pub archive: bool,
    /// How often that runs. Default 1h.
    pub archive_every: ConfigDuration,
    /// How often the daemon looks for orgs that appeared in the store (`idwatch import --org
    /// NEW`) or got a source (`idwatch org add`) while it runs, and starts their tasks.
    /// Default 30s.
    pub org_check: ConfigDuration,
}

impl Default for Schedules {
    fn default() -> Self {
        Schedules {
            audit: true,
            audit_check: ConfigDuration(Duration::from_secs(60)),
            archive: true,
            archive_every: ConfigDuration(Duration::from_secs(3600)),
            org_check: ConfigDuration(Duration::from_secs(30)),
        }
    }
}

/// A `[server]` section that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server: field `{field}`: {reason}")]
pub struct ServerConfigError {
    /// The field, e.g. `hooks.acme.secret`.
    pub field: String,
    /// What is wrong, with a valid example.
    pub reason: String,
}

fn error(field: impl Into<String>, reason: impl Into<String>) -> ServerConfigError {
    ServerConfigError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// An org name as it may appear in a hook URL: letters, digits, `-`, `_`, `.`.
pub fn valid_org_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl ServerConfig {
    /// Checks everything that needs no secret.
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        if !(1024..=256 * 1024 * 1024).contains(&self.hook_max_body_bytes) {
            return Err(error(
                "hook_max_body_bytes",
                format!(
                    "must be 1024 to 268435456, e.g. hook_max_body_bytes = 8388608; got {}",
                    self.hook_max_body_bytes
                ),
            ));
        }
        let deadline = self.hook_deadline.0;
        if deadline < Duration::from_millis(100) || deadline > Duration::from_secs(30) {
            return Err(error(
                "hook_deadline",
                format!("must be 100ms to 30s (Okta waits 3 s), e.g. hook_deadline = \"2500ms\"; got {}", self.hook_deadline),
            ));
        }
        for name in self.hooks.keys() {
            if !valid_org_name(name) {
                return Err(error(
                    format!("hooks.{name}"),
                    "org names are 1-64 letters, digits, `-`, `_` or `.`, e.g. [server.hooks.acme]",
                ));
            }
        }
        if self.schedules.audit_check.0 < Duration::from_secs(1) {
            return Err(error(
                "schedules.audit_check",
                "must be at least 1s, e.g. audit_check = \"1m\"",
            ));
        }
        if self.schedules.org_check.0 < Duration::from_millis(100) {
            return Err(error(
                "schedules.org_check",
                "must be at least 100ms, e.g. org_check = \"30s\"",
            ));
        }
        if self.schedules.archive_every.0 < Duration::from_secs(1) {
            return Err(error(
                "schedules.archive_every",
                "must be at least 1s, e.g. archive_every = \"1h\"",
            ));
        }
        let c = &self.collect;
        if !(c.share > 0.0 && c.share <= 1.0) {
            return Err(error(
                "collect.share",
                format!(
                    "must be more than 0 and at most 1, e.g. share = 0.5; got {}",
                    c.share
                ),
            ));
        }
        if !(1..=1000).contains(&c.page_limit) {
            return Err(error(
                "collect.page_limit",
                format!(
                    "must be 1 to 1000, e.g. page_limit = 1000; got {}",
                    c.page_limit
                ),
            ));
        }
        if c.poll_interval.0 < Duration::from_millis(50) {
            return Err(error(
                "collect.poll_interval",
                "must be at least 50ms, e.g. poll_interval = \"20s\"",
            ));
        }
        if c.backfill.0 > Duration::from_secs(180 * 86_400) {
            return Err(error(
                "collect.backfill",
                "must be at most 180d (Okta keeps 90 days), e.g. backfill = \"7d\"",
            ));
        }
        Ok(())
    }

    /// Resolves every secret: the metrics token and each hook's secret.
    pub fn resolve_secrets(&self) -> Result<ResolvedSecrets, ServerConfigError> {
        self.validate()?;
        let metrics_token = match &self.metrics_token {
            Some(r) => Some(r.resolve().map_err(|e| error("metrics_token", e))?),
            None => None,
        };
        let mut hooks = BTreeMap::new();
        for (org, hook) in &self.hooks {
            let secret = hook
                .secret
                .resolve()
                .map_err(|e| error(format!("hooks.{org}.secret"), e))?;
            hooks.insert(org.clone(), secret);
        }
        Ok(ResolvedSecrets {
            metrics_token,
            hooks,
        })
    }
}

/// The secrets of a `[server]` section, read from their env vars and files.
#[derive(Debug, Clone, Default)]
pub struct ResolvedSecrets {
    /// `/metrics` bearer token.
    pub metrics_token: Option<Secret>,
    /// Each org's hook Authorization value.
    pub hooks: BTreeMap<String, Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        server: ServerConfig,
    }

    fn parse(text: &str) -> Result<ServerConfig, String> {
        toml::from_str::<File>(text)
            .map(|f| f.server)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_example_parses_and_validates() {
        let config = parse(EXAMPLE).expect("example parses");
        config.validate().expect("example validates");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            config.hooks["acme"].secret,
            SecretRef::Env("IDWATCH_HOOK_SECRET_ACME".into())
        );
        assert_eq!(config.collect.backfill.0.as_secs(), 7 * 86_400);
        assert!(config.schedules.audit);
        assert_eq!(config.hook_deadline.0, Duration::from_millis(2500));
    }

    #[test]
    fn an_empty_section_is_the_default() {
        assert_eq!(
            parse("[server]\n").expect("parses"),
            ServerConfig::default()
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let err = parse("[server]\nlisten = \"localhost\"\n").unwrap_err();
        assert!(err.contains("listen"), "{err}");
        let err = parse("[server]\nmetrics_tokn = { env = \"X\" }\n").unwrap_err();
        assert!(err.contains("unknown field `metrics_tokn`"), "{err}");
        // The message itself never repeats the value (toml's snippet of the line does: the
        // binary prints only the message and position).
        let err =
            toml::from_str::<File>("[server.hooks.acme]\nsecret = \"Basic abc\"\n").unwrap_err();
        assert!(
            err.message().contains("never written in the config file"),
            "{err}"
        );
        assert!(!err.message().contains("Basic abc"), "{err}");
        let err = parse("[server]\nhook_deadline = \"5m\"\n")
            .expect("parses")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("server: field `hook_deadline`: must be 100ms to 30s"),
            "{err}"
        );
        let err = parse("[server.hooks.\"a b\"]\nsecret = { env = \"X\" }\n")
            .expect("parses")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("field `hooks.a b`"), "{err}");
    }

    #[test]
    fn a_missing_secret_is_named_without_a_value() {
        let config =
            parse("[server.hooks.acme]\nsecret = { env = \"IDWATCH_TEST_SERVER_NO_SUCH\" }\n")
                .expect("parses");
        let err = config.resolve_secrets().unwrap_err().to_string();
        assert_eq!(
            err,
            "server: field `hooks.acme.secret`: environment variable IDWATCH_TEST_SERVER_NO_SUCH is not set"
        );
    }
}
