//! `idwatch.toml` and where things live. Precedence: command-line flag, then environment
//! (`IDWATCH_DATA`), then the config file, then the default `./idwatch-data`. The config holds
//! no secrets: credentials (sink secrets) are referenced by env var or file name only.

use anyhow::Context as _;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The parsed `idwatch.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Org used when a command is given no `--org`.
    pub default_org: Option<String>,
    /// `[alerts]`: deduplication, sinks and delivery (the `notify` crate's own section).
    #[serde(default)]
    pub alerts: notify::AlertsConfig,
    /// Sigma detections (`[sigma]`).
    #[serde(default)]
    pub sigma: SigmaConfig,
    /// `[detect]`: built-in pack, user rule dirs, disabled rules, tuning, allowlists, per org.
    #[serde(default)]
    pub detect: detect::DetectConfig,
    /// `[archive]`: where sealed segments live, retention, the daemon's seal age.
    #[serde(default)]
    pub archive: archive::ArchiveConfig,
    /// `[audit]`: roster and posture schedule, posture limits and expected IdPs.
    #[serde(default)]
    pub audit: audit::AuditSchedule,
    /// `[server]`: the daemon's listen address, metrics token, Event Hook secrets, schedules.
    #[serde(default)]
    pub server: server::ServerConfig,
}

/// `[sigma]`: where rules come from and what they need.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigmaConfig {
    /// Rule files or directories used when a command is given no rule paths.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Values of `|expand` placeholders, e.g. `legtimate_identifiers = ["@example.com"]`.
    #[serde(default)]
    pub placeholders: std::collections::BTreeMap<String, Vec<String>>,
    /// How late an event may arrive after a later one and still count in correlations
    /// (`60s` by default; `5m`, `1h`, …).
    pub allowed_lateness: Option<String>,
}

/// What every command gets.
#[derive(Debug)]
pub struct Context {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The loaded configuration.
    pub config: Config,
}

impl Context {
    /// Loads configuration and resolves the data directory.
    pub fn load(data_dir: Option<&Path>, config: Option<&Path>) -> anyhow::Result<Context> {
        let default = Path::new("idwatch.toml");
        let (path, required) = match config {
            Some(p) => (Some(p), true),
            None if default.exists() => (Some(default), false),
            None => (None, false),
        };
        let config = match path {
            Some(p) if required || p.exists() => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config {}", p.display()))?;
                toml::from_str(&text).map_err(|e: toml::de::Error| {
                    // The message and position only: toml's Display quotes the offending source
                    // line, which could be a secret someone wrote inline.
                    let at = e
                        .span()
                        .map(|span| {
                            let before = &text[..span.start.min(text.len())];
                            let line = before.matches('\n').count() + 1;
                            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                            format!(" (line {line}, column {column})")
                        })
                        .unwrap_or_default();
                    crate::exit::Exit::bad_input(format!(
                        "config {}{at}: {}",
                        p.display(),
                        e.message()
                    ))
                })?
            }
            _ => Config::default(),
        };
        config.alerts.validate().map_err(|e| {
            crate::exit::Exit::bad_input(format!(
                "config {}: {e}",
                path.map(|p| p.display().to_string()).unwrap_or_default()
            ))
        })?;
        let data_dir = data_dir
            .map(Path::to_path_buf)
            .or_else(|| config.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("idwatch-data"));
        Ok(Context { data_dir, config })
    }

    /// The store file.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("idwatch.db")
    }

    /// The org to use: the flag, else `default_org`, else an error that says how to choose.
    pub fn org(&self, flag: Option<&str>) -> anyhow::Result<String> {
        flag.map(str::to_string)
            .or_else(|| self.config.default_org.clone())
            .ok_or_else(|| {
                crate::exit::Exit::bad_input(
                    "no org given: pass --org NAME or set default_org in idwatch.toml",
                )
            })
    }

    /// Opens the store for writing.
    pub fn open_store(&self) -> anyhow::Result<store::Store> {
        Ok(store::Store::open(&self.store_path())?)
    }

    /// Opens the store for reading.
    pub fn open_store_read_only(&self) -> anyhow::Result<store::Store> {
        Ok(store::Store::open_read_only(&self.store_path())?)
    }
}
