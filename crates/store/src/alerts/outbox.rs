//! `AlertOutbox`: the durable delivery queue. One row per (alert, sink, notification), created in
//! the transaction that raised the alert, with a stable idempotency key; every delivery attempt
//! is recorded beside it. The delivery worker's only state is these tables, so it survives
//! restarts and sink outages.
//!
//! # Claiming
//! A worker claims due rows by setting a lease (`lease_until`) in an `IMMEDIATE` transaction, so
//! two workers (the daemon and a standalone `idwatch alerts deliver`) never send the same row at
//! once. A worker killed mid-delivery leaves its lease behind; the row becomes due again when the
//! lease expires and is delivered again with the same idempotency key (at least once; receivers
//! drop duplicates by key).
//!
//! # States
//! `pending` (due at `next_attempt_at`) → `sent`, or → `failed` on a permanent error (the reason
//! is kept; `requeue_failed` puts it back). Nothing is ever deleted.

use super::{from_micros, load_alert, micros, Alert, AlertId};
use crate::error::{SqlContext, StoreError};
use crate::open::Store;
use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

/// The id of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OutboxId(pub i64);

impl fmt::Display for OutboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl ToSql for OutboxId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0))
    }
}

impl FromSql for OutboxId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(OutboxId)
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Delivered.
    Sent,
    /// Refused permanently (the reason is in `last_error`).
    Failed,
}

impl DeliveryState {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for DeliveryState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(match self {
            DeliveryState::Pending => 0_i64,
            DeliveryState::Sent => 1,
            DeliveryState::Failed => 2,
        }))
    }
}

impl FromSql for DeliveryState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match i64::column_result(value)? {
            0 => Ok(DeliveryState::Pending),
            1 => Ok(DeliveryState::Sent),
            2 => Ok(DeliveryState::Failed),
            other => Err(FromSqlError::OutOfRange(other)),
        }
    }
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    /// Its id.
    pub id: OutboxId,
    /// The alert.
    pub alert: AlertId,
    /// The sink's name.
    pub sink: String,
    /// Stable per alert, sink and notification: receivers drop duplicates by it.
    pub idempotency_key: String,
    /// State.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A claimed row and its alert, ready to deliver.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The row.
    pub entry: OutboxEntry,
    /// The alert as it is now.
    pub alert: Alert,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Delivered.
    Delivered,
    /// Failed for now; try again at this time.
    Retry {
        /// When.
        next_attempt_at: DateTime<Utc>,
    },
    /// Refused permanently: the row is marked failed.
    Failed,
}

/// What the worker records after each attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// When the attempt started.
    pub at: DateTime<Utc>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The HTTP (or SMTP) status, if the peer answered.
    pub status: Option<u16>,
    /// The error, if any.
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    /// The outbox row.
    pub outbox: OutboxId,
    /// When.
    pub at: DateTime<Utc>,
    /// `delivered`, `retry` or `failed`.
    pub outcome: &'static str,
    /// HTTP or SMTP status.
    pub status: Option<u16>,
    /// The error.
    pub error: Option<String>,
    /// When the next attempt was scheduled (retry only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Milliseconds the attempt took.
    pub duration_ms: u64,
}

/// Counts of outbox rows, for status lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxSummary {
    /// Waiting.
    pub pending: u64,
    /// Delivered.
    pub sent: u64,
    /// Refused permanently.
    pub failed: u64,
}

const ENTRY_COLUMNS: &str = "id, alert, sink, idempotency_key, state, attempts, next_attempt_at, \
     last_error, created_at, delivered_at";

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxEntry> {
    let state: DeliveryState = row.get(4)?;
    Ok(OutboxEntry {
        id: row.get(0)?,
        alert: row.get(1)?,
        sink: row.get(2)?,
        idempotency_key: row.get(3)?,
        state,
        attempts: row.get::<_, i64>(5)?.clamp(0, i64::from(u32::MAX)) as u32,
        next_attempt_at: (state == DeliveryState::Pending)
            .then(|| from_micros(row.get(6).unwrap_or(0))),
        last_error: row.get(7)?,
        created_at: from_micros(row.get(8)?),
        delivered_at: row.get::<_, Option<i64>>(9)?.map(from_micros),
    })
}

/// The idempotency key of the `n`th notification (0 = the raise) of an alert to a sink: a hash
/// of the org, the alert id, the alert's creation time and the sink, so a rebuilt store that
/// reuses alert ids does not collide with keys a receiver has already seen.
fn idempotency_key(org: &str, alert: AlertId, created_at: i64, sink: &str, n: i64) -> String {
    let mut h = Sha256::new();
    for part in [
        org,
        &alert.0.to_string(),
        &created_at.to_string(),
        sink,
        &n.to_string(),
    ] {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// Queues one delivery of `alert` to `sink`, due at `now`. Called inside `raise`'s transaction.
pub(crate) fn enqueue(
    tx: &Transaction<'_>,
    alert: AlertId,
    sink: &str,
    now: DateTime<Utc>,
) -> Result<OutboxId, StoreError> {
    let (org, created_at): (String, i64) = tx
        .query_row(
            "SELECT o.name, a.created_at FROM alerts a JOIN orgs o ON o.id = a.org WHERE a.id = ?1",
            [alert],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .context("reading alert for the outbox")?;
    let n: i64 = tx
        .query_row(
            "SELECT count(*) FROM alert_outbox WHERE alert = ?1 AND sink = ?2",
            params![alert, sink],
            |r| r.get(0),
        )
        .context("counting earlier notifications")?;
    let key = idempotency_key(&org, alert, created_at, sink, n);
    tx.prepare_cached(
        "INSERT INTO alert_outbox (alert, sink, idempotency_key, state, attempts, next_attempt_at,
            created_at)
         VALUES (?1, ?2, ?3, 0, 0, ?4, ?4)",
    )
    .context("preparing outbox insert")?
    .execute(params![alert, sink, key, micros(now)])
    .context("queueing delivery")?;
    Ok(OutboxId(tx.last_insert_rowid()))
}

impl Store {
    /// Claims up to `limit` pending deliveries due at `now`, leasing them for `lease` so no other
    /// worker takes them meanwhile, and returns them with their alerts, oldest due first.
    pub fn claim_due_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting to claim deliveries")?;
        let now_us = micros(now);
        let lease_until =
            now_us.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX));
        let entries: Vec<OutboxEntry> = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM alert_outbox
                     WHERE state = 0 AND next_attempt_at <= ?1
                       AND (lease_until IS NULL OR lease_until <= ?1)
                     ORDER BY next_attempt_at, id LIMIT ?2"
                ))
                .context("preparing due deliveries")?;
            let rows = stmt
                .query_map(
                    params![now_us, i64::try_from(limit).unwrap_or(i64::MAX)],
                    entry_from_row,
                )
                .context("reading due deliveries")?;
            rows.collect::<Result<_, _>>()
                .context("reading due deliveries")?
        };
        let mut due = Vec::with_capacity(entries.len());
        for entry in entries {
            tx.execute(
                "UPDATE alert_outbox SET lease_until = ?2 WHERE id = ?1",
                params![entry.id, lease_until],
            )
            .context("leasing delivery")?;
            let alert =
                load_alert(&tx, entry.alert)?.ok_or(StoreError::UnknownAlert(entry.alert.0))?;
            due.push(DueDelivery { entry, alert });
        }
        tx.commit().context("committing claim")?;
        Ok(due)
    }

    /// Records an attempt and moves the row on: sent, failed, or due again later. Releases the
    /// lease. A row another worker has already settled keeps its state; the attempt is still
    /// recorded.
    pub fn record_attempt(
        &mut self,
        id: OutboxId,
        attempt: &AttemptRecord,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting to record an attempt")?;
        let (code, next) = match attempt.outcome {
            AttemptOutcome::Delivered => (0_i64, None),
            AttemptOutcome::Retry { next_attempt_at } => (1, Some(micros(next_attempt_at))),
            AttemptOutcome::Failed => (2, None),
        };
        tx.prepare_cached(
            "INSERT INTO alert_attempts (outbox, at, outcome, http_status, error, next_attempt_at,
                duration_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .context("preparing attempt insert")?
        .execute(params![
            id,
            micros(attempt.at),
            code,
            attempt.status,
            attempt.error,
            next,
            i64::try_from(attempt.duration.as_micros()).unwrap_or(i64::MAX)
        ])
        .context("recording attempt")?;
        let now = micros(attempt.at.max(Utc::now()));
        match attempt.outcome {
            AttemptOutcome::Delivered => tx.execute(
                "UPDATE alert_outbox SET state = 1, attempts = attempts + 1, lease_until = NULL,
                    delivered_at = ?2, last_error = NULL
                 WHERE id = ?1 AND state = 0",
                params![id, now],
            ),
            AttemptOutcome::Retry { next_attempt_at } => tx.execute(
                "UPDATE alert_outbox SET attempts = attempts + 1, lease_until = NULL,
                    next_attempt_at = ?2, last_error = ?3
                 WHERE id = ?1 AND state = 0",
                params![id, micros(next_attempt_at), attempt.error],
            ),
            AttemptOutcome::Failed => tx.execute(
                "UPDATE alert_outbox SET state = 2, attempts = attempts + 1, lease_until = NULL,
                    last_error = ?2
                 WHERE id = ?1 AND state = 0",
                params![id, attempt.error],
            ),
        }
        .context("updating outbox row")?;
        tx.commit().context("committing attempt")
    }

    /// Holds every pending delivery to `sink` until at least `until` (a 429's Retry-After
    /// applies to the sink, not just the row that got it).
    pub fn defer_sink(&mut self, sink: &str, until: DateTime<Utc>) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE alert_outbox SET next_attempt_at = max(next_attempt_at, ?2)
                 WHERE sink = ?1 AND state = 0",
                params![sink, micros(until)],
            )
            .context("deferring sink")
    }

    /// When the earliest pending delivery becomes claimable (`None`: nothing pending).
    pub fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .query_row(
                "SELECT min(max(next_attempt_at, coalesce(lease_until, 0)))
                 FROM alert_outbox WHERE state = 0",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .context("reading next due delivery")
            .map(|us| us.map(from_micros))
    }

    /// Every delivery of an alert, with its attempts, oldest first.
    pub fn deliveries(
        &self,
        alert: AlertId,
    ) -> Result<Vec<(OutboxEntry, Vec<DeliveryAttempt>)>, StoreError> {
        let entries: Vec<OutboxEntry> = {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM alert_outbox WHERE alert = ?1 ORDER BY id"
                ))
                .context("preparing deliveries read")?;
            let rows = stmt
                .query_map([alert], entry_from_row)
                .context("reading deliveries")?;
            rows.collect::<Result<_, _>>()
                .context("reading deliveries")?
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT outbox, at, outcome, http_status, error, next_attempt_at, duration_us
                 FROM alert_attempts WHERE outbox = ?1 ORDER BY id",
            )
            .context("preparing attempts read")?;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let attempts = stmt
                .query_map([entry.id], |r| {
                    Ok(DeliveryAttempt {
                        outbox: r.get(0)?,
                        at: from_micros(r.get(1)?),
                        outcome: match r.get::<_, i64>(2)? {
                            0 => "delivered",
                            1 => "retry",
                            _ => "failed",
                        },
                        status: r.get(3)?,
                        error: r.get(4)?,
                        next_attempt_at: r.get::<_, Option<i64>>(5)?.map(from_micros),
                        duration_ms: (r.get::<_, i64>(6)?.max(0) / 1000) as u64,
                    })
                })
                .context("reading attempts")?
                .collect::<Result<Vec<_>, _>>()
                .context("reading attempts")?;
            out.push((entry, attempts));
        }
        Ok(out)
    }

    /// One outbox row.
    pub fn outbox_entry(&self, id: OutboxId) -> Result<Option<OutboxEntry>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM alert_outbox WHERE id = ?1"),
                [id],
                entry_from_row,
            )
            .optional()
            .context("reading outbox row")
    }

    /// Puts an alert's failed deliveries back in the queue, due at `now` (after fixing the sink).
    pub fn requeue_failed(
        &mut self,
        alert: AlertId,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE alert_outbox SET state = 0, next_attempt_at = ?2, lease_until = NULL
                 WHERE alert = ?1 AND state = 2",
                params![alert, micros(now)],
            )
            .context("requeueing failed deliveries")
    }

    /// How many deliveries are pending, sent and failed.
    pub fn outbox_summary(&self) -> Result<OutboxSummary, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, count(*) FROM alert_outbox GROUP BY state")
            .context("preparing outbox summary")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, DeliveryState>(0)?, r.get::<_, i64>(1)?))
            })
            .context("summarising outbox")?;
        let mut summary = OutboxSummary::default();
        for row in rows {
            let (state, n) = row.context("summarising outbox")?;
            let n = n.max(0) as u64;
            match state {
                DeliveryState::Pending => summary.pending = n,
                DeliveryState::Sent => summary.sent = n,
                DeliveryState::Failed => summary.failed = n,
            }
        }
        Ok(summary)
    }
}
