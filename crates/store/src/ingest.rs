//! `commit_batch`: stores a batch of events in ONE transaction: dedupe on (org, uuid), raw JSON
//! in compressed blocks, pivot rows, target rows, and the batch's hash-chain link. Either all of
//! it is committed or none of it (a kill -9 midway leaves the store as it was before the batch).
//! Re-sending a batch stores nothing new and says how many were duplicates, and how many of
//! those carried different content under the same uuid (a conflict worth a look: real fixtures
//! reuse uuids; a live org should not).

use crate::chain::{self, ManifestEntry};
use crate::codec::{encode_block, BLOCK_EVENTS};
use crate::error::{SqlContext, StoreError};
use crate::open::{OrgId, Store};
use okta::LogEvent;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::collections::HashSet;

/// What one committed batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events offered.
    pub offered: usize,
    /// Events newly stored.
    pub new: usize,
    /// Events already stored (same org and uuid), not stored again.
    pub duplicates: usize,
    /// Of the duplicates, those whose content differs from the stored event.
    pub conflicts: usize,
}

impl std::ops::AddAssign for BatchOutcome {
    fn add_assign(&mut self, other: BatchOutcome) {
        self.offered += other.offered;
        self.new += other.new;
        self.duplicates += other.duplicates;
        self.conflicts += other.conflicts;
    }
}

impl Store {
    /// Stores `events` for `org` in one transaction. `source` is recorded with the batch
    /// (`import:file.ndjson`, `poll`, `hook`).
    pub fn commit_batch(
        &mut self,
        org: OrgId,
        events: &[LogEvent],
        source: &str,
    ) -> Result<BatchOutcome, StoreError> {
        let result = self.commit_batch_inner(org, events, source);
        if result.is_err() {
            // Terms created inside the rolled-back transaction no longer exist.
            self.terms.clear();
        }
        result
    }

    fn commit_batch_inner(
        &mut self,
        org: OrgId,
        events: &[LogEvent],
        source: &str,
    ) -> Result<BatchOutcome, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting batch")?;
        let outcome = ingest_in_tx(&tx, &mut self.terms, org, events, source)?;
        tx.commit().context("committing batch")?;
        Ok(outcome)
    }
}

/// The body of [`Store::commit_batch`] inside a transaction the caller owns and commits, so
/// that other rows (the collector's cursor) commit atomically with the events. On error the
/// caller must drop the transaction and clear `terms`.
pub(crate) fn ingest_in_tx(
    tx: &rusqlite::Transaction<'_>,
    terms: &mut crate::pivots::TermCache,
    org: OrgId,
    events: &[LogEvent],
    source: &str,
) -> Result<BatchOutcome, StoreError> {
    {
        let mut outcome = BatchOutcome {
            offered: events.len(),
            ..BatchOutcome::default()
        };

        // 1. Dedupe against the store and within the batch.
        let mut fresh: Vec<(&LogEvent, [u8; 16], [u8; 32])> = Vec::with_capacity(events.len());
        let mut seen_in_batch: HashSet<[u8; 16]> = HashSet::with_capacity(events.len());
        {
            let mut lookup = tx
                .prepare_cached("SELECT hash FROM uuids WHERE org = ?1 AND key = ?2")
                .context("preparing dedupe lookup")?;
            for event in events {
                let key = event.uuid().key();
                let hash = chain::event_hash(event.raw());
                let stored: Option<i64> = lookup
                    .query_row(params![org.0, &key[..]], |r| r.get(0))
                    .optional()
                    .context("dedupe lookup")?;
                if let Some(stored) = stored {
                    outcome.duplicates += 1;
                    if stored != chain::short_hash(&hash) {
                        outcome.conflicts += 1;
                    }
                    continue;
                }
                if !seen_in_batch.insert(key) {
                    outcome.duplicates += 1;
                    let first = fresh.iter().find(|(_, k, _)| *k == key);
                    if first.is_some_and(|(_, _, h)| *h != hash) {
                        outcome.conflicts += 1;
                    }
                    continue;
                }
                fresh.push((event, key, hash));
            }
        }
        if fresh.is_empty() {
            return Ok(outcome);
        }

        // 2. Sequence numbers continue from the last batch of any org; we hold the write lock.
        let first_seq: i64 = tx
            .query_row(
                "SELECT first_seq + count FROM batches ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .context("reading next seq")?
            .unwrap_or(1);

        // 3. Blocks, event rows, targets, dedupe index.
        {
            let mut insert_block = tx
                .prepare_cached(
                    "INSERT INTO blocks (org, first_seq, count, min_published, max_published, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .context("preparing block insert")?;
            let mut insert_event = tx
                .prepare_cached(
                    "INSERT INTO events (seq, org, block, published, event_type, outcome,
                        actor_id, actor_alt, client_ip, session_h, root_session_h, transaction_h)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .context("preparing event insert")?;
            let mut insert_target = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO targets (org, term, seq) VALUES (?1, ?2, ?3)",
                )
                .context("preparing target insert")?;
            let mut insert_uuid = tx
                .prepare_cached("INSERT INTO uuids (org, key, seq, hash) VALUES (?1, ?2, ?3, ?4)")
                .context("preparing uuid insert")?;
            let mut seq = first_seq;
            for chunk in fresh.chunks(BLOCK_EVENTS) {
                let data = encode_block(chunk.iter().map(|(e, _, _)| e.raw()))?;
                let min = chunk.iter().map(|(e, _, _)| e.published_micros()).min();
                let max = chunk.iter().map(|(e, _, _)| e.published_micros()).max();
                insert_block
                    .execute(params![org.0, seq, chunk.len() as i64, min, max, data])
                    .context("inserting block")?;
                let block = tx.last_insert_rowid();
                for (event, key, hash) in chunk {
                    let p = terms.pivots_of(tx, event)?;
                    insert_event
                        .execute(params![
                            seq,
                            org.0,
                            block,
                            event.published_micros(),
                            p.event_type,
                            p.outcome,
                            p.actor_id,
                            p.actor_alt,
                            p.client_ip,
                            p.session_h,
                            p.root_session_h,
                            p.transaction_h
                        ])
                        .context("inserting event")?;
                    for term in &p.targets {
                        insert_target
                            .execute(params![org.0, term, seq])
                            .context("inserting target")?;
                    }
                    insert_uuid
                        .execute(params![org.0, &key[..], seq, chain::short_hash(hash)])
                        .context("inserting uuid")?;
                    seq += 1;
                }
            }
        }

        // 4. The chain link over this batch's manifest.
        let manifest: Vec<ManifestEntry> = fresh
            .iter()
            .map(|(_, key, hash)| ManifestEntry::new(*key, hash))
            .collect();
        chain::append_link(tx, org, first_seq, &manifest, source)?;
        outcome.new = fresh.len();
        Ok(outcome)
    }
}
