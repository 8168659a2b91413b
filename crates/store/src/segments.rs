//! The archive catalog: which sealed Parquet segments exist, what they hold, and the archive's
//! own hash chain. The `archive` crate writes and reads the files; this module owns the rows
//! that make sealing, compaction and retention atomic and tamper-evident.
//!
//! # Tables (migration "archive catalog")
//! - `segments`: one row per file ever written: path (relative to the archive root), org, state
//!   (`writing` → `live` → `replaced` by a compaction or `retained` out), partition date, time
//!   bounds, row count, size, SHA-256 of the file, SHA-256 of its entries (seq, uuid key, raw
//!   hash prefix, in seq order), and the set of seqs it holds (as runs).
//! - `archive_log`: per org, an append-only chain of operations (`seal`, `compact`, `retain`):
//!   `link = SHA-256("idwatch-archive-v1" ‖ prev ‖ org ‖ kind ‖ at ‖ body)`, where `body` is the
//!   canonical JSON of the operation (every segment field above). A `retain` entry is the
//!   retention checkpoint: it names the segments dropped and the events they held, so the hot
//!   chain's manifests still account for every event ever committed.
//!
//! # Crash safety
//! A segment is first recorded as `writing` (its own small transaction); the file is then
//! written, fsynced and renamed into place; then ONE transaction marks it `live`, appends the log
//! entry and deletes the hot rows (events, targets, blocks) it now holds. A crash before that
//! commit leaves a `writing` row whose file the next writer deletes ([`Store::pending_segments`]);
//! a crash after it leaves nothing to do but deleting the files of `replaced`/`retained`
//! segments, which is also done on the next open.

use crate::error::{SqlContext, StoreError};
use crate::open::{OrgId, Store};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A segment's lifecycle state (stored in `segments.state`; never renumber).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentState {
    /// Recorded before its file is written; not yet part of the archive.
    Writing = 0,
    /// Holds events; queried.
    Live = 1,
    /// Compacted into another segment; its file is deleted.
    Replaced = 2,
    /// Dropped by retention; its file is deleted, its seqs stay accounted for.
    Retained = 3,
}

impl SegmentState {
    fn from_i64(v: i64) -> Option<SegmentState> {
        Some(match v {
            0 => SegmentState::Writing,
            1 => SegmentState::Live,
            2 => SegmentState::Replaced,
            3 => SegmentState::Retained,
            _ => return None,
        })
    }
}

/// Everything the catalog records about a written segment (also the chained log body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRecord {
    /// Catalog id (also in the file name).
    pub id: i64,
    /// Path relative to the archive root (`org=…/date=…/hour=…/part-….parquet`).
    pub path: String,
    /// 0: an hourly seal; 1: a day's compacted file.
    pub level: i64,
    /// Partition date, `YYYY-MM-DD`.
    pub date: String,
    /// Oldest `published` (µs).
    pub min_published: i64,
    /// Newest `published` (µs).
    pub max_published: i64,
    /// Events in the file.
    pub rows: i64,
    /// File size.
    pub bytes: i64,
    /// SHA-256 of the file (hex).
    pub content_hash: String,
    /// SHA-256 over (seq, uuid key, raw hash prefix) of every row, in seq order (hex).
    pub entries_hash: String,
    /// The seqs it holds, encoded by [`SeqRuns::encode`].
    #[serde(with = "hex_bytes")]
    pub seqs: Vec<u8>,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

/// A catalog row: the record plus its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// What was written.
    pub record: SegmentRecord,
    /// Where it is in its lifecycle.
    pub state: SegmentState,
    /// The org.
    pub org: OrgId,
}

/// One operation in the archive chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum ArchiveOp {
    /// New hourly segments, whose events left the hot tier in the same transaction.
    Seal {
        /// The segments written.
        segments: Vec<SegmentRecord>,
    },
    /// Segments of one day merged into one file.
    Compact {
        /// The merged file.
        into: SegmentRecord,
        /// The segments it replaces.
        replaced: Vec<i64>,
    },
    /// The retention checkpoint: segments dropped because all their events were older than
    /// `cutoff` (µs).
    Retain {
        /// Events published before this were dropped.
        cutoff: i64,
        /// The segments dropped.
        dropped: Vec<i64>,
        /// Events they held.
        events: i64,
    },
}

impl ArchiveOp {
    fn kind(&self) -> &'static str {
        match self {
            ArchiveOp::Seal { .. } => "seal",
            ArchiveOp::Compact { .. } => "compact",
            ArchiveOp::Retain { .. } => "retain",
        }
    }
}

/// A verified archive log entry.
#[derive(Debug, Clone)]
pub struct ArchiveLogEntry {
    /// Row id.
    pub id: i64,
    /// When it was committed (µs).
    pub at: i64,
    /// The operation, when its body parses.
    pub op: Option<ArchiveOp>,
}

/// What [`Store::archive_log`] found while replaying an org's archive chain.
#[derive(Debug, Clone, Default)]
pub struct ArchiveLogReport {
    /// Entries, in order.
    pub entries: Vec<ArchiveLogEntry>,
    /// Chain breaks and catalog rows that disagree with the log.
    pub problems: Vec<String>,
    /// The newest link (hex), empty when there is none.
    pub head: String,
}

/// A set of seqs as sorted, disjoint runs `(start, len)`; a sealed segment's seqs are mostly a
/// few long runs (events are ingested in roughly published order), so this is tiny.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRuns {
    runs: Vec<(i64, i64)>,
}

impl SeqRuns {
    /// The runs of a set of seqs (any order, duplicates ignored).
    pub fn from_seqs(mut seqs: Vec<i64>) -> SeqRuns {
        seqs.sort_unstable();
        seqs.dedup();
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for seq in seqs {
            match runs.last_mut() {
                Some((start, len)) if *start + *len == seq => *len += 1,
                _ => runs.push((seq, 1)),
            }
        }
        SeqRuns { runs }
    }

    /// Merges several sets.
    pub fn union<'a>(sets: impl IntoIterator<Item = &'a SeqRuns>) -> SeqRuns {
        let mut runs: Vec<(i64, i64)> = sets.into_iter().flat_map(|s| s.runs.clone()).collect();
        runs.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(runs.len());
        for (start, len) in runs {
            match out.last_mut() {
                Some((s, l)) if *s + *l >= start => *l = (*l).max(start + len - *s),
                _ => out.push((start, len)),
            }
        }
        SeqRuns { runs: out }
    }

    /// True when `seq` is in the set.
    pub fn contains(&self, seq: i64) -> bool {
        let i = self.runs.partition_point(|(start, _)| *start <= seq);
        i > 0 && seq < self.runs[i - 1].0 + self.runs[i - 1].1
    }

    /// Number of seqs.
    pub fn len(&self) -> i64 {
        self.runs.iter().map(|(_, l)| l).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The runs.
    pub fn runs(&self) -> &[(i64, i64)] {
        &self.runs
    }

    /// Every seq, ascending.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.runs.iter().flat_map(|(s, l)| *s..*s + *l)
    }

    /// LEB128 pairs (gap from the previous run's end, length).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.runs.len() * 4);
        let mut end = 0i64;
        for (start, len) in &self.runs {
            put_varint(&mut out, (start - end) as u64);
            put_varint(&mut out, *len as u64);
            end = start + len;
        }
        out
    }

    /// Decodes [`SeqRuns::encode`]; `None` when malformed.
    pub fn decode(bytes: &[u8]) -> Option<SeqRuns> {
        let mut pos = 0;
        let mut end = 0i64;
        let mut runs = Vec::new();
        while pos < bytes.len() {
            let gap = get_varint(bytes, &mut pos)? as i64;
            let len = get_varint(bytes, &mut pos)? as i64;
            let start = end.checked_add(gap)?;
            end = start.checked_add(len)?;
            runs.push((start, len));
        }
        Some(SeqRuns { runs })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// One hot block ready to be sealed: its events' raw texts with seq and ingestion time.
#[derive(Debug, Clone)]
pub struct HotBlock {
    /// Block id.
    pub id: i64,
    /// Seq of its first event.
    pub first_seq: i64,
    /// Raw texts, in seq order.
    pub raws: Vec<Box<str>>,
    /// When each event's batch was committed (µs), in seq order.
    pub ingested_at: Vec<i64>,
}

/// What [`Store::commit_seal`] removes from the hot tier: a block and the target values of its
/// events (so their `targets` rows are deleted by key, not by scanning).
#[derive(Debug, Clone)]
pub struct SealedBlock {
    /// Block id.
    pub id: i64,
    /// Its first seq.
    pub first_seq: i64,
    /// Its event count.
    pub count: i64,
    /// `(seq, target value)` for every `target[].id`/`alternateId` of its events.
    pub targets: Vec<(i64, String)>,
}

/// A batch of the hot chain: `[first_seq, first_seq + count)`.
#[derive(Debug, Clone, Copy)]
pub struct BatchSpan {
    /// Batch id.
    pub id: i64,
    /// First seq.
    pub first_seq: i64,
    /// Events.
    pub count: i64,
}

fn archive_genesis(org_name: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"idwatch-archive-genesis");
    h.update(org_name.as_bytes());
    h.finalize().into()
}

fn archive_link(prev: &[u8], org_name: &str, kind: &str, at: i64, body: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"idwatch-archive-v1");
    h.update(prev);
    h.update((org_name.len() as u64).to_be_bytes());
    h.update(org_name.as_bytes());
    h.update((kind.len() as u64).to_be_bytes());
    h.update(kind.as_bytes());
    h.update(at.to_be_bytes());
    h.update((body.len() as u64).to_be_bytes());
    h.update(body.as_bytes());
    h.finalize().into()
}

fn append_op(tx: &rusqlite::Transaction<'_>, org: OrgId, op: &ArchiveOp) -> Result<(), StoreError> {
    let name: String = tx
        .query_row("SELECT name FROM orgs WHERE id = ?1", [org.0], |r| r.get(0))
        .context("reading org name")?;
    let prev: Vec<u8> = tx
        .query_row(
            "SELECT link FROM archive_log WHERE org = ?1 ORDER BY id DESC LIMIT 1",
            [org.0],
            |r| r.get(0),
        )
        .optional()
        .context("reading previous archive link")?
        .unwrap_or_else(|| archive_genesis(&name).to_vec());
    let body = serde_json::to_string(op)
        .map_err(|e| StoreError::Query(format!("encoding archive log entry: {e}")))?;
    let at = chrono::Utc::now().timestamp_micros();
    let link = archive_link(&prev, &name, op.kind(), at, &body);
    tx.execute(
        "INSERT INTO archive_log (org, kind, at, body, prev, link) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![org.0, op.kind(), at, body, prev, &link[..]],
    )
    .context("appending archive log entry")?;
    Ok(())
}

fn set_live(
    tx: &rusqlite::Transaction<'_>,
    org: OrgId,
    r: &SegmentRecord,
) -> Result<(), StoreError> {
    let changed = tx
        .execute(
            "UPDATE segments SET state = 1, level = ?3, date = ?4, min_published = ?5,
                max_published = ?6, rows = ?7, bytes = ?8, content_hash = ?9,
                entries_hash = ?10, seqs = ?11
             WHERE id = ?1 AND org = ?2 AND state = 0 AND path = ?12",
            params![
                r.id,
                org.0,
                r.level,
                r.date,
                r.min_published,
                r.max_published,
                r.rows,
                r.bytes,
                r.content_hash,
                r.entries_hash,
                r.seqs,
                r.path
            ],
        )
        .context("recording sealed segment")?;
    if changed != 1 {
        return Err(StoreError::Query(format!(
            "segment {} ({}) is not being written (another sealer?)",
            r.id, r.path
        )));
    }
    Ok(())
}

const SEGMENT_COLUMNS: &str = "id, org, path, state, level, date, min_published, max_published,
    rows, bytes, content_hash, entries_hash, seqs";

fn segment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Segment> {
    let state: i64 = r.get(3)?;
    Ok(Segment {
        org: OrgId(r.get(1)?),
        state: SegmentState::from_i64(state).unwrap_or(SegmentState::Writing),
        record: SegmentRecord {
            id: r.get(0)?,
            path: r.get(2)?,
            level: r.get(4)?,
            date: r.get(5)?,
            min_published: r.get(6)?,
            max_published: r.get(7)?,
            rows: r.get(8)?,
            bytes: r.get(9)?,
            content_hash: r.get(10)?,
            entries_hash: r.get(11)?,
            seqs: r.get(12)?,
        },
    })
}

impl Store {
    /// Records a segment about to be written (state `writing`) and returns its id; `path_of`
    /// turns the id into the file's relative path.
    pub fn begin_segment(
        &mut self,
        org: OrgId,
        level: i64,
        date: &str,
        path_of: &dyn Fn(i64) -> String,
    ) -> Result<(i64, String), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting segment")?;
        let next: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) + 1 FROM segments", [], |r| {
                r.get(0)
            })
            .context("allocating segment id")?;
        let path = path_of(next);
        tx.execute(
            "INSERT INTO segments (id, org, path, state, level, date, min_published,
                max_published, rows, bytes, content_hash, entries_hash, seqs, created_at)
             VALUES (?1, ?2, ?3, 0, ?4, ?5, 0, 0, 0, 0, '', '', x'', ?6)",
            params![
                next,
                org.0,
                path,
                level,
                date,
                chrono::Utc::now().timestamp_micros()
            ],
        )
        .context("recording segment")?;
        tx.commit().context("committing segment record")?;
        Ok((next, path))
    }

    /// Segments still `writing`: left by a crash (or being written right now by another
    /// process: callers hold the archive's writer lock first).
    pub fn pending_segments(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, path FROM segments WHERE state = 0 ORDER BY id")
            .context("listing pending segments")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .context("listing pending segments")?;
        rows.collect::<Result<_, _>>()
            .context("listing pending segments")
    }

    /// Forgets a `writing` segment whose file has been removed.
    pub fn forget_pending_segment(&mut self, id: i64) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction()
            .context("forgetting pending segment")?;
        let n = tx
            .execute("DELETE FROM segments WHERE id = ?1 AND state = 0", [id])
            .context("forgetting pending segment")?;
        if n > 0 {
            tx.execute("DELETE FROM segment_terms WHERE segment_id = ?1", [id])
                .context("forgetting pending segment terms")?;
        }
        tx.commit().context("forgetting pending segment")
    }

    /// Records the term filters of a segment being written (opaque bytes the archive
    /// encodes); they go with the segment when it is forgotten, replaced or retained.
    pub fn put_segment_terms(&mut self, id: i64, filters: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO segment_terms (segment_id, filters) VALUES (?1, ?2)",
                params![id, filters],
            )
            .context("recording segment terms")?;
        Ok(())
    }

    /// The term filters of a segment, if it has them (segments sealed before they existed
    /// do not).
    pub fn segment_terms(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .prepare_cached("SELECT filters FROM segment_terms WHERE segment_id = ?1")
            .and_then(|mut stmt| stmt.query_row([id], |r| r.get(0)).optional())
            .context("reading segment terms")
    }

    /// Every segment of `org` (or of every org), any state, by id.
    pub fn segments(&self, org: Option<OrgId>) -> Result<Vec<Segment>, StoreError> {
        let sql = format!(
            "SELECT {SEGMENT_COLUMNS} FROM segments WHERE ?1 IS NULL OR org = ?1 ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql).context("listing segments")?;
        let rows = stmt
            .query_map([org.map(|o| o.0)], segment_from_row)
            .context("listing segments")?;
        rows.collect::<Result<_, _>>().context("listing segments")
    }

    /// Live segments of `org` that may hold events published in `[since, until)`.
    pub fn live_segments(
        &self,
        org: OrgId,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<Segment>, StoreError> {
        let sql = format!(
            "SELECT {SEGMENT_COLUMNS} FROM segments
             WHERE org = ?1 AND state = 1 AND max_published >= ?2 AND min_published < ?3
             ORDER BY min_published, id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).context("listing segments")?;
        let rows = stmt
            .query_map(
                params![org.0, since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)],
                segment_from_row,
            )
            .context("listing segments")?;
        rows.collect::<Result<_, _>>().context("listing segments")
    }

    /// Up to `limit_events` (at least one block) of `org`'s oldest hot blocks whose every event
    /// was published before `cutoff` (µs), decoded, with each event's ingestion time. Blocks the
    /// streaming detector has not evaluated yet (past its `detect_positions` position, when it
    /// has one) stay hot: it follows the hot tier with `read_after`.
    pub fn blocks_to_seal(
        &self,
        org: OrgId,
        cutoff: i64,
        limit_events: usize,
    ) -> Result<Vec<HotBlock>, StoreError> {
        let spans = self.batch_times(org)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, first_seq, count, data FROM blocks
                 WHERE org = ?1 AND max_published < ?2
                   AND first_seq + count - 1 <= coalesce(
                       (SELECT position FROM detect_positions WHERE org = ?1), 9223372036854775807)
                 ORDER BY min_published, id",
            )
            .context("selecting blocks to seal")?;
        let mut rows = stmt
            .query(params![org.0, cutoff])
            .context("selecting blocks to seal")?;
        let mut out = Vec::new();
        let mut events = 0usize;
        while let Some(row) = rows.next().context("reading blocks to seal")? {
            let id: i64 = row.get(0).context("reading block")?;
            let first_seq: i64 = row.get(1).context("reading block")?;
            let count: i64 = row.get(2).context("reading block")?;
            let data: Vec<u8> = row.get(3).context("reading block")?;
            let raws = crate::codec::decode_block(id, &data)?;
            if raws.len() as i64 != count {
                return Err(StoreError::CorruptBlock {
                    block: id,
                    reason: format!("holds {} events, its row says {count}", raws.len()),
                });
            }
            let ingested_at = (first_seq..first_seq + count)
                .map(|seq| {
                    let i = spans.partition_point(|(start, _, _)| *start <= seq);
                    if i > 0 && seq < spans[i - 1].0 + spans[i - 1].1 {
                        spans[i - 1].2
                    } else {
                        0
                    }
                })
                .collect();
            events += raws.len();
            out.push(HotBlock {
                id,
                first_seq,
                raws,
                ingested_at,
            });
            if events >= limit_events {
                break;
            }
        }
        Ok(out)
    }

    /// `(first_seq, count, ingested_at)` of every batch of `org`, by first seq.
    pub fn batch_times(&self, org: OrgId) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT first_seq, count, ingested_at FROM batches WHERE org = ?1 ORDER BY first_seq",
            )
            .context("reading batch times")?;
        let rows = stmt
            .query_map([org.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .context("reading batch times")?;
        rows.collect::<Result<_, _>>()
            .context("reading batch times")
    }

    /// The batches of `org`'s hot chain, by first seq.
    pub fn batch_spans(&self, org: OrgId) -> Result<Vec<BatchSpan>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, first_seq, count FROM batches WHERE org = ?1 ORDER BY first_seq")
            .context("reading batches")?;
        let rows = stmt
            .query_map([org.0], |r| {
                Ok(BatchSpan {
                    id: r.get(0)?,
                    first_seq: r.get(1)?,
                    count: r.get(2)?,
                })
            })
            .context("reading batches")?;
        rows.collect::<Result<_, _>>().context("reading batches")
    }

    /// A batch's manifest: per event, 16-byte uuid key then 16-byte raw hash prefix.
    pub fn batch_manifest(&self, batch: i64) -> Result<Vec<u8>, StoreError> {
        self.conn
            .prepare_cached("SELECT manifest FROM batches WHERE id = ?1")
            .context("reading manifest")?
            .query_row([batch], |r| r.get(0))
            .context("reading manifest")
    }

    /// Makes `segments` live, appends their `seal` entry to the archive chain and deletes the
    /// hot rows of `blocks`, all in one transaction. The caller has written and fsynced the
    /// files, and guarantees they hold exactly the events of `blocks`.
    pub fn commit_seal(
        &mut self,
        org: OrgId,
        segments: &[SegmentRecord],
        blocks: &[SealedBlock],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting seal")?;
        let sealed: i64 = segments.iter().map(|s| s.rows).sum();
        let removed: i64 = blocks.iter().map(|b| b.count).sum();
        if sealed != removed {
            return Err(StoreError::Query(format!(
                "sealing {sealed} events but removing {removed} from the hot tier"
            )));
        }
        for record in segments {
            set_live(&tx, org, record)?;
        }
        {
            let mut delete_block = tx
                .prepare_cached("DELETE FROM blocks WHERE id = ?1 AND org = ?2 AND first_seq = ?3 AND count = ?4")
                .context("preparing block delete")?;
            let mut delete_events = tx
                .prepare_cached("DELETE FROM events WHERE seq >= ?1 AND seq < ?2 AND +org = ?3")
                .context("preparing event delete")?;
            let mut find_term = tx
                .prepare_cached("SELECT id FROM terms WHERE kind = ?1 AND value = ?2")
                .context("preparing term lookup")?;
            let mut delete_target = tx
                .prepare_cached("DELETE FROM targets WHERE org = ?1 AND term = ?2 AND seq = ?3")
                .context("preparing target delete")?;
            for block in blocks {
                let n = delete_block
                    .execute(params![block.id, org.0, block.first_seq, block.count])
                    .context("deleting sealed block")?;
                if n != 1 {
                    return Err(StoreError::Query(format!(
                        "block {} changed while it was being sealed",
                        block.id
                    )));
                }
                delete_events
                    .execute(params![
                        block.first_seq,
                        block.first_seq + block.count,
                        org.0
                    ])
                    .context("deleting sealed events")?;
                for (seq, value) in &block.targets {
                    let term: Option<i64> = find_term
                        .query_row(
                            params![crate::pivots::TermKind::Target as i64, value],
                            |r| r.get(0),
                        )
                        .optional()
                        .context("looking up target term")?;
                    if let Some(term) = term {
                        delete_target
                            .execute(params![org.0, term, seq])
                            .context("deleting sealed target")?;
                    }
                }
            }
        }
        append_op(
            &tx,
            org,
            &ArchiveOp::Seal {
                segments: segments.to_vec(),
            },
        )?;
        tx.commit().context("committing seal")
    }

    /// Makes `into` live and marks `replaced` as replaced, with a `compact` entry, in one
    /// transaction. The caller deletes the replaced files afterwards.
    pub fn commit_compaction(
        &mut self,
        org: OrgId,
        into: &SegmentRecord,
        replaced: &[i64],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting compaction")?;
        let mut rows = 0i64;
        for id in replaced {
            let n: Option<i64> = tx
                .query_row(
                    "SELECT rows FROM segments WHERE id = ?1 AND org = ?2 AND state = 1",
                    params![id, org.0],
                    |r| r.get(0),
                )
                .optional()
                .context("reading replaced segment")?;
            rows += n.ok_or_else(|| {
                StoreError::Query(format!(
                    "segment {id} is no longer live; compaction abandoned"
                ))
            })?;
            tx.execute("UPDATE segments SET state = 2 WHERE id = ?1", [id])
                .context("marking segment replaced")?;
            tx.execute("DELETE FROM segment_terms WHERE segment_id = ?1", [id])
                .context("dropping replaced segment terms")?;
        }
        if rows != into.rows {
            return Err(StoreError::Query(format!(
                "compacted file holds {} events, its inputs {rows}",
                into.rows
            )));
        }
        set_live(&tx, org, into)?;
        append_op(
            &tx,
            org,
            &ArchiveOp::Compact {
                into: into.clone(),
                replaced: replaced.to_vec(),
            },
        )?;
        tx.commit().context("committing compaction")
    }

    /// Marks `dropped` (live segments) as retained out, with the `retain` checkpoint entry.
    pub fn commit_retention(
        &mut self,
        org: OrgId,
        cutoff: i64,
        dropped: &[i64],
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting retention")?;
        let mut events = 0i64;
        for id in dropped {
            let n: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT rows, max_published FROM segments WHERE id = ?1 AND org = ?2 AND state = 1",
                    params![id, org.0],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .context("reading retained segment")?;
            let (rows, max) = n.ok_or_else(|| {
                StoreError::Query(format!("segment {id} is not live; retention abandoned"))
            })?;
            if max >= cutoff {
                return Err(StoreError::Query(format!(
                    "segment {id} holds events newer than the retention cutoff"
                )));
            }
            events += rows;
            tx.execute("UPDATE segments SET state = 3 WHERE id = ?1", [id])
                .context("marking segment retained")?;
            tx.execute("DELETE FROM segment_terms WHERE segment_id = ?1", [id])
                .context("dropping retained segment terms")?;
        }
        append_op(
            &tx,
            org,
            &ArchiveOp::Retain {
                cutoff,
                dropped: dropped.to_vec(),
                events,
            },
        )?;
        tx.commit().context("committing retention")?;
        Ok(events)
    }

    /// Replays `org`'s archive chain: recomputes every link and checks that each segment row
    /// agrees with what the log says about it (fields and state). Rows still `writing` are a
    /// sealer at work (or a crash) and are not part of the archive yet.
    pub fn archive_log(&self, org: OrgId) -> Result<ArchiveLogReport, StoreError> {
        use std::collections::HashMap;
        let name: String = self
            .conn
            .query_row("SELECT name FROM orgs WHERE id = ?1", [org.0], |r| r.get(0))
            .context("reading org name")?;
        let mut report = ArchiveLogReport::default();
        let mut expected: HashMap<i64, (SegmentRecord, SegmentState)> = HashMap::new();
        let mut prev = archive_genesis(&name).to_vec();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT id, kind, at, body, prev, link FROM archive_log
                     WHERE org = ?1 ORDER BY id",
                )
                .context("reading archive log")?;
            let mut rows = stmt.query([org.0]).context("reading archive log")?;
            while let Some(r) = rows.next().context("reading archive log")? {
                let id: i64 = r.get(0).context("reading archive log")?;
                let kind: String = r.get(1).context("reading archive log")?;
                let at: i64 = r.get(2).context("reading archive log")?;
                let body: String = r.get(3).context("reading archive log")?;
                let stored_prev: Vec<u8> = r.get(4).context("reading archive log")?;
                let link: Vec<u8> = r.get(5).context("reading archive log")?;
                if stored_prev != prev {
                    report.problems.push(format!(
                        "archive log entry {id} does not follow the previous one (an entry before it was removed or changed)"
                    ));
                }
                if archive_link(&stored_prev, &name, &kind, at, &body)[..] != link[..] {
                    report.problems.push(format!(
                        "archive log entry {id} ({kind}) no longer matches its link"
                    ));
                }
                prev = link;
                let op: Option<ArchiveOp> = serde_json::from_str(&body).ok();
                match &op {
                    None => report
                        .problems
                        .push(format!("archive log entry {id} does not parse")),
                    Some(ArchiveOp::Seal { segments }) => {
                        for s in segments {
                            expected.insert(s.id, (s.clone(), SegmentState::Live));
                        }
                    }
                    Some(ArchiveOp::Compact { into, replaced }) => {
                        expected.insert(into.id, (into.clone(), SegmentState::Live));
                        for id in replaced {
                            match expected.get_mut(id) {
                                Some((_, state)) if *state == SegmentState::Live => {
                                    *state = SegmentState::Replaced
                                }
                                _ => report.problems.push(format!(
                                    "archive log entry {id}: compaction replaces segment {id} that was not live"
                                )),
                            }
                        }
                    }
                    Some(ArchiveOp::Retain { dropped, .. }) => {
                        for seg in dropped {
                            match expected.get_mut(seg) {
                                Some((_, state)) if *state == SegmentState::Live => {
                                    *state = SegmentState::Retained
                                }
                                _ => report.problems.push(format!(
                                    "archive log entry {id}: retention drops segment {seg} that was not live"
                                )),
                            }
                        }
                    }
                }
                report.entries.push(ArchiveLogEntry { id, at, op });
            }
        }
        if !report.entries.is_empty() {
            report.head = hex::encode(&prev);
        }
        for segment in self.segments(Some(org))? {
            let id = segment.record.id;
            if segment.state == SegmentState::Writing {
                continue;
            }
            match expected.remove(&id) {
                None => report.problems.push(format!(
                    "segment {id} ({}) is in the catalog but not in the archive chain (added)",
                    segment.record.path
                )),
                Some((record, state)) => {
                    if record != segment.record {
                        report.problems.push(format!(
                            "segment {id} ({}): its catalog row differs from the archive chain",
                            segment.record.path
                        ));
                    }
                    if state != segment.state {
                        report.problems.push(format!(
                            "segment {id} ({}): catalog says {:?}, the archive chain says {:?}",
                            segment.record.path, segment.state, state
                        ));
                    }
                }
            }
        }
        for (id, (record, _)) in expected {
            report.problems.push(format!(
                "segment {id} ({}) is in the archive chain but its catalog row is gone (deleted)",
                record.path
            ));
        }
        Ok(report)
    }

    /// Rebuilds the database file so the space of sealed hot rows is returned to the file
    /// system (`VACUUM`; needs as much free disk as the file, and the write lock).
    pub fn vacuum(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
            .context("vacuuming")
    }

    /// Runs `f` inside one read transaction, so the hot tier and the catalog are read at the
    /// same instant (no event is seen in both tiers, or in neither, while a seal commits).
    pub fn with_snapshot<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let outer = self.conn.is_autocommit();
        if outer {
            self.conn
                .execute_batch("BEGIN DEFERRED")
                .context("starting snapshot")?;
        }
        let result = f(self);
        if outer {
            let _ = self.conn.execute_batch("COMMIT");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn seq_runs_round_trip(seqs in proptest::collection::vec(1i64..5000, 0..300)) {
            let runs = SeqRuns::from_seqs(seqs.clone());
            let back = SeqRuns::decode(&runs.encode()).expect("decodes");
            proptest::prop_assert_eq!(&back, &runs);
            let mut sorted = seqs.clone();
            sorted.sort_unstable();
            sorted.dedup();
            proptest::prop_assert_eq!(runs.iter().collect::<Vec<_>>(), sorted.clone());
            for probe in 0..5001 {
                proptest::prop_assert_eq!(runs.contains(probe), sorted.binary_search(&probe).is_ok());
            }
        }

        #[test]
        fn seq_runs_union(a in proptest::collection::vec(1i64..500, 0..50), b in proptest::collection::vec(1i64..500, 0..50)) {
            let u = SeqRuns::union([&SeqRuns::from_seqs(a.clone()), &SeqRuns::from_seqs(b.clone())]);
            proptest::prop_assert_eq!(u, SeqRuns::from_seqs([a, b].concat()));
        }
    }
}
