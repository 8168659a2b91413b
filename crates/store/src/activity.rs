//! Per-org activity figures for `/metrics` and status lines: events stored (per source kind),
//! newest `published`, events ingested in the last minute, alerts raised, and outbox rows per
//! sink and state, and how far detection is behind. Read-only and cheap on a large store: totals come from the `batches` table
//! (one row per committed batch), the newest event from the `(org, published)` index.

use crate::error::{SqlContext, StoreError};
use crate::open::{OrgId, Store};
use rusqlite::OptionalExtension;
use std::collections::BTreeMap;

/// What one org has stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgActivity {
    /// The org.
    pub org: OrgId,
    /// Its name.
    pub name: String,
    /// Events stored, by source kind (`poll`, `hook`, `import`, …: the part of the batch source
    /// before any `:`).
    pub stored_by_source: BTreeMap<String, u64>,
    /// Newest `published` (µs) among its events.
    pub newest_published: Option<i64>,
    /// When its last batch was committed (µs).
    pub last_ingested: Option<i64>,
    /// Events in batches committed at or after `since` (the caller's "one minute ago").
    pub ingested_since: u64,
}

impl OrgActivity {
    /// All events stored for the org.
    pub fn events_stored(&self) -> u64 {
        self.stored_by_source.values().sum()
    }
}

/// Outbox rows of one (org, sink).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryTally {
    /// The org's name.
    pub org: String,
    /// The sink.
    pub sink: String,
    /// Waiting.
    pub pending: u64,
    /// Delivered.
    pub sent: u64,
    /// Refused permanently.
    pub failed: u64,
}

/// How many batches back `ingested_since` looks at most, so a scrape stays cheap however long
/// the store has been running (a minute of ingest is far fewer batches than this).
const RECENT_BATCHES: i64 = 20_000;

/// The most events [`Store::detection_backlog`] counts.
pub const BACKLOG_CAP: i64 = 1_000_000;

impl Store {
    /// Activity of every org. `since` (µs) bounds `ingested_since`.
    pub fn org_activity(&self, since: i64) -> Result<Vec<OrgActivity>, StoreError> {
        let mut out = Vec::new();
        for (org, name) in self.orgs()? {
            let mut activity = OrgActivity {
                org,
                name,
                stored_by_source: BTreeMap::new(),
                newest_published: None,
                last_ingested: None,
                ingested_since: 0,
            };
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT CASE WHEN instr(source, ':') > 0
                                 THEN substr(source, 1, instr(source, ':') - 1)
                                 ELSE source END AS kind,
                            sum(count), max(ingested_at)
                     FROM batches WHERE org = ?1 GROUP BY kind",
                )
                .context("planning activity totals")?;
            let rows = stmt
                .query_map([org.0], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .context("reading activity totals")?;
            for row in rows {
                let (kind, count, last) = row.context("reading activity totals")?;
                activity.stored_by_source.insert(kind, count.max(0) as u64);
                activity.last_ingested = activity.last_ingested.max(Some(last));
            }
            activity.newest_published = self
                .conn
                .query_row(
                    "SELECT published FROM events WHERE org = ?1 ORDER BY published DESC LIMIT 1",
                    [org.0],
                    |r| r.get(0),
                )
                .optional()
                .context("reading newest event")?;
            activity.ingested_since = self
                .conn
                .query_row(
                    "SELECT coalesce(sum(count), 0) FROM (
                         SELECT count, ingested_at FROM batches WHERE org = ?1
                         ORDER BY id DESC LIMIT ?3)
                     WHERE ingested_at >= ?2",
                    rusqlite::params![org.0, since, RECENT_BATCHES],
                    |r| r.get::<_, i64>(0),
                )
                .context("reading recent ingest")?
                .max(0) as u64;
            out.push(activity);
        }
        Ok(out)
    }

    /// Where detection stands for `org`: the last evaluated seq (`None` before its first
    /// commit) and how many of the org's events are stored after it (counted up to
    /// `BACKLOG_CAP`, so a scrape of a detector far behind stays cheap).
    pub fn detection_backlog(&self, org: OrgId) -> Result<(Option<i64>, u64), StoreError> {
        let position: Option<i64> = self
            .conn
            .query_row(
                "SELECT position FROM detect_positions WHERE org = ?1",
                [org.0],
                |r| r.get(0),
            )
            .optional()
            .context("reading detection position")?;
        let backlog: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM (SELECT 1 FROM events WHERE seq > ?2 AND org = ?1 LIMIT ?3)",
                rusqlite::params![org.0, position.unwrap_or(0), BACKLOG_CAP],
                |r| r.get(0),
            )
            .context("counting events after the detection position")?;
        Ok((position, backlog.max(0) as u64))
    }

    /// Alerts ever raised, per org name (orgs without alerts are absent).
    pub fn alerts_raised_by_org(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.name, count(*) FROM alerts a JOIN orgs o ON o.id = a.org GROUP BY o.name",
            )
            .context("counting alerts")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .context("counting alerts")?;
        rows.map(|r| r.map(|(name, n)| (name, n.max(0) as u64)))
            .collect::<Result<_, _>>()
            .context("counting alerts")
    }

    /// Outbox rows per (org, sink), by state.
    pub fn delivery_tallies(&self) -> Result<Vec<DeliveryTally>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.name, x.sink,
                        sum(x.state = 0), sum(x.state = 1), sum(x.state = 2)
                 FROM alert_outbox x JOIN alerts a ON a.id = x.alert JOIN orgs o ON o.id = a.org
                 GROUP BY o.name, x.sink ORDER BY o.name, x.sink",
            )
            .context("counting deliveries")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DeliveryTally {
                    org: r.get(0)?,
                    sink: r.get(1)?,
                    pending: r.get::<_, i64>(2)?.max(0) as u64,
                    sent: r.get::<_, i64>(3)?.max(0) as u64,
                    failed: r.get::<_, i64>(4)?.max(0) as u64,
                })
            })
            .context("counting deliveries")?;
        rows.collect::<Result<_, _>>()
            .context("counting deliveries")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okta::LogEvent;

    fn event(uuid: &str, published: &str) -> LogEvent {
        LogEvent::parse(&format!(
            r#"{{"uuid":"{uuid}","published":"{published}","eventType":"user.session.start"}}"#
        ))
        .expect("test event parses")
    }

    #[test]
    fn counts_per_source_newest_event_and_recent_ingest() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let mut store = Store::open(&dir.path().join("s.db")).expect("store opens");
        let acme = store.ensure_org("acme").expect("org");
        let other = store.ensure_org("other").expect("org");
        let a = event(
            "00000000-0000-4000-8000-000000000001",
            "2026-01-01T00:00:00Z",
        );
        let b = event(
            "00000000-0000-4000-8000-000000000002",
            "2026-01-02T00:00:00Z",
        );
        let c = event(
            "00000000-0000-4000-8000-000000000003",
            "2025-12-31T00:00:00Z",
        );
        store
            .commit_batch(acme, std::slice::from_ref(&a), "poll")
            .expect("commit");
        store
            .commit_batch(acme, &[a, b.clone(), c], "hook")
            .expect("commit");
        store
            .commit_batch(other, &[b], "import:x.ndjson")
            .expect("commit");

        let all = store.org_activity(0).expect("activity");
        assert_eq!(all.len(), 2);
        let acme_activity = &all[0];
        assert_eq!(acme_activity.name, "acme");
        assert_eq!(acme_activity.stored_by_source["poll"], 1);
        assert_eq!(
            acme_activity.stored_by_source["hook"], 2,
            "the duplicate is not counted"
        );
        assert_eq!(acme_activity.events_stored(), 3);
        assert_eq!(acme_activity.ingested_since, 3);
        assert_eq!(
            acme_activity.newest_published,
            Some(
                chrono::DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
                    .expect("time")
                    .timestamp_micros()
            )
        );
        assert_eq!(all[1].stored_by_source["import"], 1);
        let future = chrono::Utc::now().timestamp_micros() + 60_000_000;
        assert_eq!(
            store.org_activity(future).expect("activity")[0].ingested_since,
            0
        );
        assert_eq!(store.detection_backlog(acme).expect("backlog"), (None, 3));
        assert_eq!(store.detection_backlog(other).expect("backlog"), (None, 1));
        assert!(store.alerts_raised_by_org().expect("alerts").is_empty());
        assert!(store.delivery_tallies().expect("tallies").is_empty());
    }
}
