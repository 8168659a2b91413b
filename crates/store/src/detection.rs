//! Streaming detection's durable state: per org, the store sequence the detector has evaluated up
//! to (its *position*), the engine state that belongs to exactly that position (correlation
//! windows, extension state; opaque bytes to the store, kept zstd-compressed), and how many
//! matches each allowlist entry suppressed.
//!
//! [`Store::commit_detection`] writes the position, the state, the suppression counts and every
//! alert raised since the last commit (with their outbox rows, via the same code as
//! [`Store::raise`]) in ONE `IMMEDIATE` transaction. So after a crash the detector resumes from
//! a position whose alerts are all stored and whose later events raised nothing that was
//! stored: it neither re-alerts nor skips. The commit also checks that the stored position is
//! still the one the detector started from, so two detectors on one org fail loudly instead of
//! alerting twice.

use crate::alerts::{from_micros, micros, raise_in, AlertRouting, NewAlert, Raised};
use crate::error::{SqlContext, StoreError};
use crate::open::{OrgId, Store};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// Version of the `state` column's framing (zstd over the caller's bytes).
const STATE_FORMAT: i64 = 1;

/// What a detector commits besides its alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionCheckpoint {
    /// The position the detector resumed from (the stored one, or `None` when it had none).
    /// The commit fails if the stored position is no longer this.
    pub previous: Option<i64>,
    /// The last store sequence evaluated.
    pub position: i64,
    /// The engine state after evaluating up to `position` (opaque; usually JSON).
    pub state: Vec<u8>,
    /// Events evaluated since the previous commit.
    pub events: u64,
}

/// One allowlist entry's suppressions of one rule since the previous commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionDelta {
    /// The allowlist entry's name.
    pub entry: String,
    /// The rule whose matches it suppressed.
    pub rule_id: String,
    /// How many.
    pub count: u64,
    /// Event time of the latest suppressed match.
    pub last_at: DateTime<Utc>,
}

/// A detector's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedDetection {
    /// The last store sequence evaluated.
    pub position: i64,
    /// The engine state that belongs to `position`.
    pub state: Vec<u8>,
    /// Events evaluated in total.
    pub events: u64,
    /// Alerts raised (created or updated) in total.
    pub alerts: u64,
    /// When it was last committed.
    pub updated_at: DateTime<Utc>,
}

/// How many matches an allowlist entry has suppressed for a rule, in total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionCount {
    /// The org.
    pub org: String,
    /// The allowlist entry's name.
    pub entry: String,
    /// The rule.
    pub rule_id: String,
    /// Matches suppressed.
    pub count: u64,
    /// Event time of the latest.
    pub last_at: DateTime<Utc>,
}

impl Store {
    /// The detector state of `org`, if a detector ever committed.
    pub fn detection_state(&self, org: OrgId) -> Result<Option<SavedDetection>, StoreError> {
        let row: Option<(i64, Vec<u8>, i64, i64, i64, i64)> = self
            .conn
            .query_row(
                "SELECT position, state, state_format, events, alerts, updated_at
                 FROM detect_positions WHERE org = ?1",
                [org.0],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()
            .context("reading detection state")?;
        let Some((position, packed, format, events, alerts, updated_at)) = row else {
            return Ok(None);
        };
        if format != STATE_FORMAT {
            return Err(StoreError::Query(format!(
                "detection state of org {} has format {format}, this idwatch reads {STATE_FORMAT}",
                org.0
            )));
        }
        let state = zstd::decode_all(packed.as_slice()).map_err(|e| {
            StoreError::Query(format!(
                "detection state of org {} does not decompress: {e}",
                org.0
            ))
        })?;
        Ok(Some(SavedDetection {
            position,
            state,
            events: events.max(0) as u64,
            alerts: alerts.max(0) as u64,
            updated_at: from_micros(updated_at),
        }))
    }

    /// Commits a detector's position, state and suppression counts together with the alerts it
    /// raised since its previous commit, in one transaction. Returns what each raise did, in
    /// order. Fails without changing anything if another detector moved the position.
    pub fn commit_detection(
        &mut self,
        org: OrgId,
        checkpoint: &DetectionCheckpoint,
        alerts: &[NewAlert],
        suppressed: &[SuppressionDelta],
        routing: &AlertRouting,
        now: DateTime<Utc>,
    ) -> Result<Vec<Raised>, StoreError> {
        let packed = zstd::encode_all(checkpoint.state.as_slice(), 1)
            .map_err(|e| StoreError::Query(format!("detection state does not compress: {e}")))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting detection commit")?;
        let stored: Option<i64> = tx
            .query_row(
                "SELECT position FROM detect_positions WHERE org = ?1",
                [org.0],
                |r| r.get(0),
            )
            .optional()
            .context("reading detection position")?;
        if stored != checkpoint.previous {
            return Err(StoreError::Query(format!(
                "detection position of org {} is {} but this detector resumed from {}: is another \
                 detector running on the same store?",
                org.0,
                stored.map_or("none".to_string(), |p| p.to_string()),
                checkpoint
                    .previous
                    .map_or("none".to_string(), |p| p.to_string()),
            )));
        }
        let mut raised = Vec::with_capacity(alerts.len());
        for alert in alerts {
            raised.push(raise_in(&tx, alert, routing, now)?);
        }
        let raised_count = i64::try_from(raised.len()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO detect_positions (org, position, state, state_format, events, alerts, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (org) DO UPDATE SET position = ?2, state = ?3, state_format = ?4,
                 events = events + ?5, alerts = alerts + ?6, updated_at = ?7",
            params![
                org.0,
                checkpoint.position,
                packed,
                STATE_FORMAT,
                i64::try_from(checkpoint.events).unwrap_or(i64::MAX),
                raised_count,
                micros(now)
            ],
        )
        .context("saving detection position")?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO detect_suppressions (org, entry, rule_id, count, last_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (org, entry, rule_id) DO UPDATE SET count = count + ?4,
                         last_at = max(last_at, ?5)",
                )
                .context("preparing suppression count")?;
            for s in suppressed.iter().filter(|s| s.count > 0) {
                upsert
                    .execute(params![
                        org.0,
                        s.entry,
                        s.rule_id,
                        i64::try_from(s.count).unwrap_or(i64::MAX),
                        micros(s.last_at)
                    ])
                    .context("saving suppression count")?;
            }
        }
        tx.commit().context("committing detection")?;
        Ok(raised)
    }

    /// Total suppressions per allowlist entry and rule, for one org or all.
    pub fn suppression_counts(
        &self,
        org: Option<OrgId>,
    ) -> Result<Vec<SuppressionCount>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT o.name, s.entry, s.rule_id, s.count, s.last_at
                 FROM detect_suppressions s JOIN orgs o ON o.id = s.org
                 WHERE ?1 IS NULL OR s.org = ?1
                 ORDER BY o.name, s.entry, s.rule_id",
            )
            .context("listing suppressions")?;
        let rows = stmt
            .query_map([org.map(|o| o.0)], |r| {
                Ok(SuppressionCount {
                    org: r.get(0)?,
                    entry: r.get(1)?,
                    rule_id: r.get(2)?,
                    count: r.get::<_, i64>(3)?.max(0) as u64,
                    last_at: from_micros(r.get(4)?),
                })
            })
            .context("listing suppressions")?;
        rows.collect::<Result<_, _>>()
            .context("listing suppressions")
    }

    /// The store sequence of the event `uuid` of `org`, if stored.
    pub fn seq_of_uuid(&self, org: OrgId, uuid: &str) -> Result<Option<i64>, StoreError> {
        let key = okta::EventUuid(uuid.to_string()).key();
        self.conn
            .prepare_cached("SELECT seq FROM uuids WHERE org = ?1 AND key = ?2")
            .context("preparing uuid lookup")?
            .query_row(params![org.0, key.as_slice()], |r| r.get(0))
            .optional()
            .context("looking up uuid")
    }

    /// When the batch holding store sequence `seq` of `org` was committed.
    pub fn ingested_at(&self, org: OrgId, seq: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT ingested_at FROM batches
                 WHERE org = ?1 AND first_seq <= ?2 AND first_seq + count > ?2
                 ORDER BY first_seq DESC LIMIT 1",
            )
            .context("preparing ingestion time lookup")?
            .query_row(params![org.0, seq], |r| r.get::<_, i64>(0))
            .optional()
            .context("looking up ingestion time")
            .map(|t| t.map(from_micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertContext, AlertLevel, RaiseKind};
    use std::collections::BTreeMap;

    fn alert(org: OrgId, uuid: &str) -> NewAlert {
        let t = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        NewAlert {
            org,
            rule_id: "r1".into(),
            title: "Rule one".into(),
            level: AlertLevel::High,
            group_key: BTreeMap::new(),
            first_seen: t,
            last_seen: t,
            event_uuids: vec![uuid.into()],
            context: AlertContext::default(),
        }
    }

    #[test]
    fn position_state_alerts_and_counts_commit_together() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = Store::open(&dir.path().join("s.db")).expect("open");
        let org = store.ensure_org("acme").expect("org");
        assert!(store.detection_state(org).expect("read").is_none());
        let checkpoint = DetectionCheckpoint {
            previous: None,
            position: 42,
            state: b"{\"windows\":[]}".to_vec(),
            events: 42,
        };
        let suppressed = [SuppressionDelta {
            entry: "vpn".into(),
            rule_id: "r1".into(),
            count: 3,
            last_at: Utc::now(),
        }];
        let raised = store
            .commit_detection(
                org,
                &checkpoint,
                &[alert(org, "u1")],
                &suppressed,
                &AlertRouting::default(),
                Utc::now(),
            )
            .expect("commit");
        assert_eq!(raised[0].kind, RaiseKind::Created);
        let saved = store.detection_state(org).expect("read").expect("saved");
        assert_eq!(saved.position, 42);
        assert_eq!(saved.state, checkpoint.state);
        assert_eq!((saved.events, saved.alerts), (42, 1));
        assert_eq!(
            store.suppression_counts(Some(org)).expect("counts")[0].count,
            3
        );

        // A stale detector (resumed from None) cannot commit over it, and changes nothing.
        let err = store
            .commit_detection(
                org,
                &checkpoint,
                &[alert(org, "u2")],
                &suppressed,
                &AlertRouting::default(),
                Utc::now(),
            )
            .expect_err("stale");
        assert!(err.to_string().contains("another detector"), "{err}");
        assert_eq!(
            store.suppression_counts(Some(org)).expect("counts")[0].count,
            3
        );
        let alerts = store
            .list_alerts(&crate::alerts::AlertFilter::default())
            .expect("list");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event_uuids, vec!["u1".to_string()]);

        // The next commit from the right position adds up.
        let next = DetectionCheckpoint {
            previous: Some(42),
            position: 50,
            state: Vec::new(),
            events: 8,
        };
        store
            .commit_detection(
                org,
                &next,
                &[],
                &suppressed,
                &AlertRouting::default(),
                Utc::now(),
            )
            .expect("commit");
        let saved = store.detection_state(org).expect("read").expect("saved");
        assert_eq!((saved.position, saved.events, saved.alerts), (50, 50, 1));
        assert_eq!(store.suppression_counts(None).expect("counts")[0].count, 6);
    }
}
