//! Pivot columns: the fields investigations start from, extracted from each event at ingest and
//! indexed. Low- and medium-cardinality strings are interned in `terms` (the row holds a small
//! integer); ids that are unique per session or request are stored as 32-bit hashes, which keep
//! the index small, and every index hit is re-checked against the raw JSON, so a hash collision
//! only costs a wasted lookup. [`PivotField`] is the list the query planner consults.

use crate::error::{SqlContext, StoreError};
use okta::LogEvent;
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;

/// The kind of an interned term (stored in `terms.kind`; never renumber).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i64)]
pub enum TermKind {
    /// `eventType`.
    EventType = 1,
    /// `outcome.result`.
    Outcome = 2,
    /// `actor.id`.
    ActorId = 3,
    /// `actor.alternateId`.
    ActorAlternateId = 4,
    /// `client.ipAddress`.
    ClientIp = 5,
    /// `target[].id` and `target[].alternateId`.
    Target = 6,
}

/// How a pivot is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PivotStorage {
    /// An interned term id in column `column`.
    Term(TermKind, &'static str),
    /// A 32-bit hash in column `column`.
    Hash(&'static str),
    /// Through the `targets` side table.
    Targets,
}

/// A filter attribute the planner can answer from an index.
#[derive(Debug, Clone, Copy)]
pub struct PivotField {
    /// The Okta attribute path.
    pub attr: &'static str,
    /// Where it lives.
    pub storage: PivotStorage,
}

/// Every indexed attribute.
pub const PIVOT_FIELDS: &[PivotField] = &[
    PivotField {
        attr: "eventType",
        storage: PivotStorage::Term(TermKind::EventType, "event_type"),
    },
    PivotField {
        attr: "outcome.result",
        storage: PivotStorage::Term(TermKind::Outcome, "outcome"),
    },
    PivotField {
        attr: "actor.id",
        storage: PivotStorage::Term(TermKind::ActorId, "actor_id"),
    },
    PivotField {
        attr: "actor.alternateId",
        storage: PivotStorage::Term(TermKind::ActorAlternateId, "actor_alt"),
    },
    PivotField {
        attr: "client.ipAddress",
        storage: PivotStorage::Term(TermKind::ClientIp, "client_ip"),
    },
    PivotField {
        attr: "authenticationContext.externalSessionId",
        storage: PivotStorage::Hash("session_h"),
    },
    PivotField {
        attr: "authenticationContext.rootSessionId",
        storage: PivotStorage::Hash("root_session_h"),
    },
    PivotField {
        attr: "transaction.id",
        storage: PivotStorage::Hash("transaction_h"),
    },
    PivotField {
        attr: "target.id",
        storage: PivotStorage::Targets,
    },
    PivotField {
        attr: "target.alternateId",
        storage: PivotStorage::Targets,
    },
];

/// The pivot for an attribute path, if indexed.
pub fn pivot_for(attr: &str) -> Option<&'static PivotField> {
    PIVOT_FIELDS.iter().find(|p| p.attr == attr)
}

/// The 32-bit hash stored for high-cardinality ids. Values are case-folded (ASCII) first so the
/// index also serves Okta's case-insensitive `eq`.
pub fn pivot_hash(value: &str) -> i64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in value.bytes() {
        h = (h ^ b.to_ascii_lowercase() as u32).wrapping_mul(0x0100_0193);
    }
    h as i64
}

/// The values of one event's pivots, ready to insert.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventPivots {
    /// Term id of eventType.
    pub event_type: i64,
    /// Term id of outcome.result.
    pub outcome: Option<i64>,
    /// Term id of actor.id.
    pub actor_id: Option<i64>,
    /// Term id of actor.alternateId.
    pub actor_alt: Option<i64>,
    /// Term id of client.ipAddress.
    pub client_ip: Option<i64>,
    /// Hash of the external session id.
    pub session_h: Option<i64>,
    /// Hash of the root session id.
    pub root_session_h: Option<i64>,
    /// Hash of transaction.id.
    pub transaction_h: Option<i64>,
    /// Term ids of target ids and alternate ids, deduplicated.
    pub targets: Vec<i64>,
}

/// A write-through cache of term ids. Terms are never deleted, so a cached id stays valid; the
/// cache is dropped if a transaction that created terms rolls back.
#[derive(Debug, Default)]
pub struct TermCache {
    ids: HashMap<(TermKind, Box<str>), i64>,
}

impl TermCache {
    /// Forgets everything (after a rollback).
    pub fn clear(&mut self) {
        self.ids.clear();
    }

    /// The id of a term, creating it (inside the caller's transaction) if new.
    pub fn intern(
        &mut self,
        conn: &Connection,
        kind: TermKind,
        value: &str,
    ) -> Result<i64, StoreError> {
        if let Some(id) = self.ids.get(&(kind, Box::<str>::from(value))) {
            return Ok(*id);
        }
        let existing: Option<i64> = conn
            .prepare_cached("SELECT id FROM terms WHERE kind = ?1 AND value = ?2")
            .context("looking up term")?
            .query_row(rusqlite::params![kind as i64, value], |r| r.get(0))
            .optional()
            .context("looking up term")?;
        let id = match existing {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO terms (kind, value) VALUES (?1, ?2)")
                    .context("adding term")?
                    .execute(rusqlite::params![kind as i64, value])
                    .context("adding term")?;
                conn.last_insert_rowid()
            }
        };
        self.ids.insert((kind, value.into()), id);
        Ok(id)
    }

    /// Computes the pivots of an event, interning its terms.
    pub fn pivots_of(
        &mut self,
        conn: &Connection,
        event: &LogEvent,
    ) -> Result<EventPivots, StoreError> {
        let values = PivotValues::of(event);
        let mut term = |kind, value: Option<&str>| -> Result<Option<i64>, StoreError> {
            match value {
                Some(v) => self.intern(conn, kind, v).map(Some),
                None => Ok(None),
            }
        };
        let event_type = term(TermKind::EventType, Some(values.event_type))?.unwrap_or(0);
        let outcome = term(TermKind::Outcome, values.outcome)?;
        let actor_id = term(TermKind::ActorId, values.actor_id)?;
        let actor_alt = term(TermKind::ActorAlternateId, values.actor_alt)?;
        let client_ip = term(TermKind::ClientIp, values.client_ip)?;
        let mut targets = Vec::new();
        for value in &values.targets {
            if let Some(id) = term(TermKind::Target, Some(value))? {
                if !targets.contains(&id) {
                    targets.push(id);
                }
            }
        }
        Ok(EventPivots {
            event_type,
            outcome,
            actor_id,
            actor_alt,
            client_ip,
            session_h: values.session.map(pivot_hash),
            root_session_h: values.root_session.map(pivot_hash),
            transaction_h: values.transaction.map(pivot_hash),
            targets,
        })
    }
}

/// The pivot strings of an event exactly as they appear in its JSON (a `"null"` string is
/// indexed as the text `null`, because the filter syntax can ask for it). Only JSON strings are
/// indexed; the planner therefore never uses an index for a number or boolean literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PivotValues<'a> {
    /// `eventType`.
    pub event_type: &'a str,
    /// `outcome.result`.
    pub outcome: Option<&'a str>,
    /// `actor.id`.
    pub actor_id: Option<&'a str>,
    /// `actor.alternateId`.
    pub actor_alt: Option<&'a str>,
    /// `client.ipAddress`.
    pub client_ip: Option<&'a str>,
    /// `authenticationContext.externalSessionId`.
    pub session: Option<&'a str>,
    /// `authenticationContext.rootSessionId`.
    pub root_session: Option<&'a str>,
    /// `transaction.id`.
    pub transaction: Option<&'a str>,
    /// Every `target[].id` and `target[].alternateId`.
    pub targets: Vec<&'a str>,
}

impl<'a> PivotValues<'a> {
    /// Reads an event's pivot strings.
    pub fn of(event: &'a LogEvent) -> PivotValues<'a> {
        let exact = |path: &str| -> Option<&'a str> {
            let mut node = event.doc();
            for part in path.split('.') {
                node = node.as_object()?.get(part)?;
            }
            node.as_str()
        };
        let mut targets = Vec::new();
        if let Some(serde_json::Value::Array(items)) = event.doc().get("target") {
            for item in items {
                for key in ["id", "alternateId"] {
                    if let Some(v) = item.get(key).and_then(serde_json::Value::as_str) {
                        targets.push(v);
                    }
                }
            }
        }
        PivotValues {
            event_type: event.event_type(),
            outcome: exact("outcome.result"),
            actor_id: exact("actor.id"),
            actor_alt: exact("actor.alternateId"),
            client_ip: exact("client.ipAddress"),
            session: exact("authenticationContext.externalSessionId"),
            root_session: exact("authenticationContext.rootSessionId"),
            transaction: exact("transaction.id"),
            targets,
        }
    }
}
