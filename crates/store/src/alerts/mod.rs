//! Alerts in the store: raising with deduplication, the lifecycle (open → acknowledged →
//! closed, every change a note), listing, and the durable delivery queue (`outbox`).
//!
//! # Raising
//! [`Store::raise`] runs in ONE `IMMEDIATE` transaction: it looks for an open or acknowledged
//! alert of the same (org, rule, group key) whose first event is within the suppression window
//! of the new match; if there is one, the match folds into it (count, last seen, event uuids),
//! otherwise a new alert is created. A new alert (and, when `renotify_on_update` is set, an
//! updated one) queues one outbox row per route that accepts its org and level, in the same
//! transaction: an alert is never stored without its deliveries, nor queued without being
//! stored. Re-raising events already on the alert (detection replaying after a restart)
//! changes nothing.
//!
//! The group key is stored as canonical JSON (keys sorted), so equal keys compare equal in SQL.

mod model;
pub mod outbox;

pub use model::{
    Alert, AlertActor, AlertClient, AlertContext, AlertFilter, AlertId, AlertLevel, AlertNote,
    AlertRoute, AlertRouting, AlertStatus, NewAlert, RaiseKind, Raised,
};
pub use outbox::{
    AttemptOutcome, AttemptRecord, DeliveryAttempt, DeliveryState, DueDelivery, OutboxEntry,
    OutboxId, OutboxSummary,
};

use crate::error::{SqlContext, StoreError};
use crate::open::{OrgId, Store};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, ToSql, Transaction, TransactionBehavior};
use std::collections::BTreeMap;

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::UNIX_EPOCH)
}

fn canonical_group_key(key: &BTreeMap<String, serde_json::Value>) -> String {
    // BTreeMap serialises its keys in order; nested objects keep theirs, which is fine for
    // equality of keys built the same way.
    serde_json::to_string(key).unwrap_or_else(|_| "{}".into())
}

const ALERT_COLUMNS: &str = "a.id, a.org, o.name, a.rule_id, a.title, a.level, a.group_key, \
     a.first_seen, a.last_seen, a.count, a.status, a.context, a.created_at, a.updated_at";

/// An alert row without its uuids and notes.
fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<Alert> {
    let id: AlertId = row.get(0)?;
    let group_text: String = row.get(6)?;
    let group_key = serde_json::from_str(&group_text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let context_text: String = row.get(11)?;
    let context = serde_json::from_str(&context_text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(11, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Alert {
        id,
        org: OrgId(row.get(1)?),
        org_name: row.get(2)?,
        rule_id: row.get(3)?,
        title: row.get(4)?,
        level: row.get(5)?,
        group_key,
        first_seen: from_micros(row.get(7)?),
        last_seen: from_micros(row.get(8)?),
        count: row.get::<_, i64>(9)?.max(0) as u64,
        status: row.get(10)?,
        context,
        event_uuids: Vec::new(),
        notes: Vec::new(),
        created_at: from_micros(row.get(12)?),
        updated_at: from_micros(row.get(13)?),
    })
}

impl Store {
    /// Raises an alert: creates it or folds it into a recent one of the same (org, rule, group
    /// key), and queues its deliveries, all in one transaction. `now` is the wall-clock time
    /// recorded as created/updated and the time the deliveries become due.
    pub fn raise(
        &mut self,
        alert: &NewAlert,
        routing: &AlertRouting,
        now: DateTime<Utc>,
    ) -> Result<Raised, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting to raise an alert")?;
        let raised = raise_in(&tx, alert, routing, now)?;
        tx.commit().context("committing alert")?;
        Ok(raised)
    }

    /// One alert with its events and notes, or `None`.
    pub fn find_alert(&self, id: AlertId) -> Result<Option<Alert>, StoreError> {
        load_alert(&self.conn, id)
    }

    /// One alert, or [`StoreError::UnknownAlert`].
    pub fn alert(&self, id: AlertId) -> Result<Alert, StoreError> {
        self.find_alert(id)?.ok_or(StoreError::UnknownAlert(id.0))
    }

    /// Alerts matching `filter`, newest (by latest event) first, with their events and notes.
    pub fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, StoreError> {
        let mut sql =
            format!("SELECT {ALERT_COLUMNS} FROM alerts a JOIN orgs o ON o.id = a.org WHERE 1 = 1");
        let mut values: Vec<Box<dyn ToSql>> = Vec::new();
        if let Some(org) = filter.org {
            values.push(Box::new(org.0));
            sql.push_str(&format!(" AND a.org = ?{}", values.len()));
        }
        if let Some(status) = filter.status {
            values.push(Box::new(status));
            sql.push_str(&format!(" AND a.status = ?{}", values.len()));
        }
        if let Some(level) = filter.min_level {
            values.push(Box::new(level));
            sql.push_str(&format!(" AND a.level >= ?{}", values.len()));
        }
        if let Some(since) = filter.since {
            values.push(Box::new(micros(since)));
            sql.push_str(&format!(" AND a.last_seen >= ?{}", values.len()));
        }
        sql.push_str(" ORDER BY a.last_seen DESC, a.id DESC");
        if let Some(limit) = filter.limit {
            values.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
            sql.push_str(&format!(" LIMIT ?{}", values.len()));
        }
        let mut stmt = self.conn.prepare(&sql).context("listing alerts")?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), alert_from_row)
            .context("listing alerts")?;
        let mut alerts: Vec<Alert> = rows.collect::<Result<_, _>>().context("reading alerts")?;
        for alert in &mut alerts {
            attach_details(&self.conn, alert)?;
        }
        Ok(alerts)
    }

    /// Acknowledges or closes an alert (or reopens it), recording who, when and why as a note.
    /// A closed alert stays closed: a repeat of it raises a new alert instead.
    pub fn set_alert_status(
        &mut self,
        id: AlertId,
        status: AlertStatus,
        author: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Alert, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting status change")?;
        let current: AlertStatus = tx
            .query_row("SELECT status FROM alerts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .context("reading alert status")?
            .ok_or(StoreError::UnknownAlert(id.0))?;
        if current == AlertStatus::Closed && status != AlertStatus::Closed {
            return Err(StoreError::AlertClosed { id: id.0 });
        }
        if current == AlertStatus::Closed && status == AlertStatus::Closed && text.is_empty() {
            return Err(StoreError::AlertClosed { id: id.0 });
        }
        tx.execute(
            "UPDATE alerts SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, status, micros(now)],
        )
        .context("updating alert status")?;
        tx.execute(
            "INSERT INTO alert_notes (alert, at, author, status, text) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, micros(now), author, status, text],
        )
        .context("recording note")?;
        tx.commit().context("committing status change")?;
        self.alert(id)
    }

    /// Adds a note without changing the status.
    pub fn add_alert_note(
        &mut self,
        id: AlertId,
        author: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let status: AlertStatus = self
            .conn
            .query_row("SELECT status FROM alerts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .context("reading alert status")?
            .ok_or(StoreError::UnknownAlert(id.0))?;
        self.conn
            .execute(
                "INSERT INTO alert_notes (alert, at, author, status, text) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, micros(now), author, status, text],
            )
            .context("recording note")?;
        Ok(())
    }
}

pub(crate) fn raise_in(
    tx: &Transaction<'_>,
    alert: &NewAlert,
    routing: &AlertRouting,
    now: DateTime<Utc>,
) -> Result<Raised, StoreError> {
    let org_name: String = tx
        .query_row("SELECT name FROM orgs WHERE id = ?1", [alert.org.0], |r| {
            r.get(0)
        })
        .optional()
        .context("looking up the alert's org")?
        .ok_or_else(|| StoreError::UnknownOrg(format!("id {}", alert.org.0)))?;
    let group_key = canonical_group_key(&alert.group_key);
    let window = i64::try_from(routing.suppression.as_micros()).unwrap_or(i64::MAX);
    let first = micros(alert.first_seen.min(alert.last_seen));
    let last = micros(alert.first_seen.max(alert.last_seen));

    // 1. A live alert of the same (org, rule, group key) whose first event is within the window.
    let existing: Option<(AlertId, i64, i64)> = tx
        .prepare_cached(
            "SELECT id, first_seen, last_seen FROM alerts
             WHERE org = ?1 AND rule_id = ?2 AND group_key = ?3 AND status != 2
               AND first_seen >= ?4 - ?6 AND first_seen <= ?5 + ?6
             ORDER BY first_seen DESC LIMIT 1",
        )
        .context("preparing alert dedupe lookup")?
        .query_row(
            params![alert.org.0, alert.rule_id, group_key, first, last, window],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .context("looking for a live alert to fold into")?;

    if let Some((id, old_first, old_last)) = existing {
        // 2a. Fold in, unless every event is already there (a replay).
        let added = attach_uuids(tx, id, &alert.event_uuids)?;
        if added == 0 && !alert.event_uuids.is_empty() {
            return Ok(Raised {
                alert: id,
                kind: RaiseKind::Unchanged,
                queued: 0,
            });
        }
        tx.execute(
            "UPDATE alerts SET count = count + 1, first_seen = ?2, last_seen = ?3, updated_at = ?4
             WHERE id = ?1",
            params![id, old_first.min(first), old_last.max(last), micros(now)],
        )
        .context("updating alert")?;
        let queued = if routing.renotify_on_update {
            queue_deliveries(tx, id, &org_name, alert.level, routing, now)?
        } else {
            0
        };
        return Ok(Raised {
            alert: id,
            kind: RaiseKind::Updated,
            queued,
        });
    }

    // 2b. A new alert.
    let context = serde_json::to_string(&alert.context)
        .map_err(|e| StoreError::Query(format!("alert context cannot be serialised: {e}")))?;
    tx.prepare_cached(
        "INSERT INTO alerts (org, rule_id, title, level, group_key, first_seen, last_seen, count,
            status, context, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, 0, ?8, ?9, ?9)",
    )
    .context("preparing alert insert")?
    .execute(params![
        alert.org.0,
        alert.rule_id,
        alert.title,
        alert.level,
        group_key,
        first,
        last,
        context,
        micros(now)
    ])
    .context("inserting alert")?;
    let id = AlertId(tx.last_insert_rowid());
    attach_uuids(tx, id, &alert.event_uuids)?;
    let queued = queue_deliveries(tx, id, &org_name, alert.level, routing, now)?;
    Ok(Raised {
        alert: id,
        kind: RaiseKind::Created,
        queued,
    })
}

/// Attaches event uuids to an alert; returns how many were new to it.
fn attach_uuids(tx: &Transaction<'_>, id: AlertId, uuids: &[String]) -> Result<usize, StoreError> {
    let mut insert = tx
        .prepare_cached("INSERT OR IGNORE INTO alert_events (alert, uuid) VALUES (?1, ?2)")
        .context("preparing alert event insert")?;
    let mut added = 0;
    for uuid in uuids {
        added += insert
            .execute(params![id, uuid])
            .context("attaching event to alert")?;
    }
    Ok(added)
}

/// Queues one outbox row per route accepting this org and level.
fn queue_deliveries(
    tx: &Transaction<'_>,
    id: AlertId,
    org_name: &str,
    level: AlertLevel,
    routing: &AlertRouting,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut queued = 0;
    for route in routing.routes.iter().filter(|r| r.accepts(org_name, level)) {
        outbox::enqueue(tx, id, &route.sink, now)?;
        queued += 1;
    }
    Ok(queued)
}

pub(crate) fn load_alert(
    conn: &rusqlite::Connection,
    id: AlertId,
) -> Result<Option<Alert>, StoreError> {
    let sql =
        format!("SELECT {ALERT_COLUMNS} FROM alerts a JOIN orgs o ON o.id = a.org WHERE a.id = ?1");
    let alert = conn
        .prepare_cached(&sql)
        .context("preparing alert read")?
        .query_row([id], alert_from_row)
        .optional()
        .map_err(|source| StoreError::Sqlite {
            context: format!("reading alert {id}"),
            source,
        })?;
    let Some(mut alert) = alert else {
        return Ok(None);
    };
    attach_details(conn, &mut alert)?;
    Ok(Some(alert))
}

fn attach_details(conn: &rusqlite::Connection, alert: &mut Alert) -> Result<(), StoreError> {
    // The primary key orders uuids by text; rowid order is not kept in a WITHOUT ROWID table,
    // so events come back sorted, which is stable and good enough for evidence links.
    let mut uuids = conn
        .prepare_cached("SELECT uuid FROM alert_events WHERE alert = ?1")
        .context("preparing alert events read")?;
    alert.event_uuids = uuids
        .query_map([alert.id], |r| r.get(0))
        .context("reading alert events")?
        .collect::<Result<_, _>>()
        .context("reading alert events")?;
    let mut notes = conn
        .prepare_cached(
            "SELECT at, author, status, text FROM alert_notes WHERE alert = ?1 ORDER BY id",
        )
        .context("preparing alert notes read")?;
    alert.notes = notes
        .query_map([alert.id], |r| {
            Ok(AlertNote {
                at: from_micros(r.get(0)?),
                author: r.get(1)?,
                status: r.get(2)?,
                text: r.get(3)?,
            })
        })
        .context("reading alert notes")?
        .collect::<Result<_, _>>()
        .context("reading alert notes")?;
    Ok(())
}
