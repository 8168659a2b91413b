//! Shared helpers: a temporary store with a user rule directory, event builders.

use chrono::{DateTime, Duration, Utc};
use detect::{BaseOptions, DetectConfig, Detector, DetectorOptions, Pack, StreamSettings};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::alerts::{Alert, AlertFilter};
use store::Store;
use tempfile::TempDir;

/// A single-event rule, a hidden building block and a brute-force correlation over it.
pub const RULES: &str = r#"
title: Admin role granted
id: t-admin-grant
logsource: {product: okta, service: okta}
description: A user was given an administrator role.
detection:
    selection:
        eventType: user.account.privilege.grant
    condition: selection
level: high
---
title: Failed sign-in
id: t-failed
name: failed_signin
logsource: {product: okta, service: okta}
detection:
    selection:
        eventType: user.session.start
        outcome.result: FAILURE
    condition: selection
level: low
---
title: Brute force
id: t-brute
correlation:
    type: event_count
    rules: [failed_signin]
    group-by: [actor.alternateId]
    timespan: 10m
    condition: {gte: 3}
level: high
"#;

/// A temporary data directory with the test rules.
pub struct Fixture {
    pub dir: TempDir,
    pub config: DetectConfig,
}

impl Fixture {
    pub fn new(extra_config: &str) -> Fixture {
        let dir = TempDir::new().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(rules.join("test.yml"), RULES).unwrap();
        let lateness = if extra_config.contains("allowed_lateness") {
            ""
        } else {
            "allowed_lateness = \"0s\"\n"
        };
        let text = format!(
            "{lateness}builtin = false\nrules = [{:?}]\n{extra_config}",
            rules.display().to_string()
        );
        let config: DetectConfig = toml::from_str(&text).expect("config parses");
        Fixture { dir, config }
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("idwatch.db")
    }

    pub fn pack(&self, org: &str) -> Arc<Pack> {
        Arc::new(Pack::build(&self.config, &BaseOptions::default(), Some(org)).expect("pack"))
    }

    pub fn detector(&self, org: &str) -> Detector {
        self.detector_with(org, StreamSettings::default())
    }

    pub fn detector_with(&self, org: &str, settings: StreamSettings) -> Detector {
        Detector::open(
            &self.store_path(),
            org,
            self.pack(org),
            DetectorOptions {
                settings,
                ..DetectorOptions::default()
            },
        )
        .expect("detector")
    }

    pub fn store(&self) -> Store {
        Store::open(&self.store_path()).unwrap()
    }

    /// Stores events (JSON lines) for `org` in one batch.
    pub fn ingest(&self, org: &str, events: &[String]) {
        ingest_at(&self.store_path(), org, events);
    }

    pub fn alerts(&self) -> Vec<Alert> {
        let mut alerts = self.store().list_alerts(&AlertFilter::default()).unwrap();
        alerts.sort_by_key(|a| a.id);
        alerts
    }
}

pub fn ingest_at(path: &Path, org: &str, events: &[String]) {
    let mut store = Store::open(path).unwrap();
    let org = store.ensure_org(org).unwrap();
    let parsed: Vec<okta::LogEvent> = events
        .iter()
        .map(|e| okta::LogEvent::parse(e).unwrap())
        .collect();
    store.commit_batch(org, &parsed, "test").unwrap();
}

pub fn t0() -> DateTime<Utc> {
    "2026-05-01T10:00:00Z".parse().unwrap()
}

pub fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// An event `n` at `t0 + secs`.
pub fn event(n: u32, secs: i64, event_type: &str, actor: &str, outcome: &str, ip: &str) -> String {
    let at = t0() + Duration::seconds(secs);
    serde_json::json!({
        "uuid": uuid(n),
        "published": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventType": event_type,
        "displayMessage": event_type,
        "actor": {"id": format!("00u{actor}"), "type": "User", "alternateId": actor},
        "client": {"ipAddress": ip, "geographicalContext": {"country": "Norway"}},
        "outcome": {"result": outcome},
        "target": [{"id": "00utarget", "type": "User", "alternateId": "target@example.com"}]
    })
    .to_string()
}

pub fn failed(n: u32, secs: i64, actor: &str) -> String {
    event(
        n,
        secs,
        "user.session.start",
        actor,
        "FAILURE",
        "192.0.2.10",
    )
}

pub fn grant(n: u32, secs: i64, actor: &str, ip: &str) -> String {
    event(
        n,
        secs,
        "user.account.privilege.grant",
        actor,
        "SUCCESS",
        ip,
    )
}

/// A benign event (moves event time on).
pub fn benign(n: u32, secs: i64) -> String {
    event(
        n,
        secs,
        "user.session.end",
        "someone@example.com",
        "SUCCESS",
        "192.0.2.99",
    )
}

/// (rule, sorted uuids) of every alert: what must be the same across runs.
pub fn summary(alerts: &[Alert]) -> Vec<(String, Vec<String>, u64)> {
    let mut out: Vec<_> = alerts
        .iter()
        .map(|a| {
            let mut u = a.event_uuids.clone();
            u.sort();
            (a.rule_id.clone(), u, a.count)
        })
        .collect();
    out.sort();
    out
}
