//! The hash chain: tamper evidence for everything stored.
//!
//! Each committed batch gets a row in `batches` with a *manifest* (for each event in seq order:
//! its 16-byte uuid key and the first 16 bytes of SHA-256 over its exact raw bytes) and a *link*:
//! `SHA-256("idwatch-chain-v1" ‖ prev ‖ org ‖ first_seq ‖ count ‖ ingested_at ‖ source ‖
//! manifest)`, where `prev` is the org's previous link (the first batch chains from
//! `SHA-256("idwatch-genesis" ‖ org)`).
//!
//! [`Store::verify`] walks every org's chain and checks, in order: each link recomputes from its
//! row and follows the previous one (a changed, deleted or reordered batch record breaks it);
//! every manifest entry still has its raw bytes in a block with the same hash (modified or
//! deleted raw); every event row's pivots match its raw JSON (an edited index column); the dedupe
//! index points at it; and no event row or block exists outside the chain (inserted events).
//! Each finding names the event by uuid.
//!
//! What it cannot see: someone who rewrites the whole chain from some batch on, or truncates the
//! newest batches. Against that, record the head link printed by `idwatch verify` somewhere the
//! attacker cannot write, and pass it back with `--expect-head`.

use crate::codec::decode_block;
use crate::error::{SqlContext, StoreError};
use crate::open::{OrgId, Store};
use okta::LogEvent;
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// Bytes per manifest entry: uuid key (16) and raw hash prefix (16).
const ENTRY_BYTES: usize = 32;

/// SHA-256 of an event's exact raw bytes.
pub fn event_hash(raw: &str) -> [u8; 32] {
    Sha256::digest(raw.as_bytes()).into()
}

/// The 8-byte prefix of an event hash, as stored in the dedupe index for conflict detection.
pub fn short_hash(hash: &[u8; 32]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&hash[..8]);
    i64::from_be_bytes(b)
}

/// One event in a batch manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestEntry {
    /// `EventUuid::key`.
    pub key: [u8; 16],
    /// First 16 bytes of `event_hash`.
    pub hash: [u8; 16],
}

impl ManifestEntry {
    /// Builds an entry from a key and a full hash.
    pub fn new(key: [u8; 16], full: &[u8; 32]) -> ManifestEntry {
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&full[..16]);
        ManifestEntry { key, hash }
    }
}

fn genesis(org_name: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"idwatch-genesis");
    h.update(org_name.as_bytes());
    h.finalize().into()
}

fn compute_link(
    prev: &[u8],
    org_name: &str,
    first_seq: i64,
    count: i64,
    ingested_at: i64,
    source: &str,
    manifest: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"idwatch-chain-v1");
    h.update(prev);
    h.update((org_name.len() as u64).to_be_bytes());
    h.update(org_name.as_bytes());
    h.update(first_seq.to_be_bytes());
    h.update(count.to_be_bytes());
    h.update(ingested_at.to_be_bytes());
    h.update((source.len() as u64).to_be_bytes());
    h.update(source.as_bytes());
    h.update(manifest);
    h.finalize().into()
}

fn org_name(conn: &rusqlite::Connection, org: OrgId) -> Result<String, StoreError> {
    conn.query_row("SELECT name FROM orgs WHERE id = ?1", [org.0], |r| r.get(0))
        .context("reading org name")
}

/// Appends a batch link for `org` inside the caller's transaction.
pub(crate) fn append_link(
    tx: &Transaction<'_>,
    org: OrgId,
    first_seq: i64,
    manifest: &[ManifestEntry],
    source: &str,
) -> Result<(), StoreError> {
    let name = org_name(tx, org)?;
    let prev: Vec<u8> = tx
        .query_row(
            "SELECT link FROM batches WHERE org = ?1 ORDER BY id DESC LIMIT 1",
            [org.0],
            |r| r.get(0),
        )
        .optional()
        .context("reading previous link")?
        .unwrap_or_else(|| genesis(&name).to_vec());
    let mut bytes = Vec::with_capacity(manifest.len() * ENTRY_BYTES);
    for entry in manifest {
        bytes.extend_from_slice(&entry.key);
        bytes.extend_from_slice(&entry.hash);
    }
    let ingested_at = chrono::Utc::now().timestamp_micros();
    let count = manifest.len() as i64;
    let link = compute_link(&prev, &name, first_seq, count, ingested_at, source, &bytes);
    tx.prepare_cached(
        "INSERT INTO batches (org, first_seq, count, ingested_at, source, prev, link, manifest)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .context("preparing batch insert")?
    .execute(params![
        org.0,
        first_seq,
        count,
        ingested_at,
        source,
        prev,
        &link[..],
        bytes
    ])
    .context("inserting batch")?;
    Ok(())
}

/// Something `verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// A batch record no longer hashes to its link, or does not follow the previous link.
    BatchAltered {
        /// The batch id.
        batch: i64,
        /// What does not match.
        detail: String,
    },
    /// An event's stored bytes or index entries differ from what was committed.
    Modified {
        /// The event's uuid.
        uuid: String,
        /// Its seq.
        seq: i64,
        /// What differs.
        detail: String,
    },
    /// An event the chain lists is missing (raw bytes or its row).
    Deleted {
        /// The uuid (from the manifest key).
        uuid: String,
        /// Its seq.
        seq: i64,
        /// What is missing.
        detail: String,
    },
    /// An event row or block outside any committed batch.
    Inserted {
        /// The uuid, when its raw bytes can be read.
        uuid: String,
        /// Its seq.
        seq: i64,
    },
    /// The newest link is not the one the caller expected.
    HeadMismatch {
        /// Expected (hex).
        expected: String,
        /// Found (hex).
        found: String,
    },
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainProblem::BatchAltered { batch, detail } => {
                write!(f, "batch {batch} altered: {detail}")
            }
            ChainProblem::Modified { uuid, seq, detail } => {
                write!(f, "event {uuid} (seq {seq}) modified: {detail}")
            }
            ChainProblem::Deleted { uuid, seq, detail } => {
                write!(f, "event {uuid} (seq {seq}) deleted: {detail}")
            }
            ChainProblem::Inserted { uuid, seq } => {
                write!(f, "event {uuid} (seq {seq}) inserted outside the chain")
            }
            ChainProblem::HeadMismatch { expected, found } => {
                write!(f, "head link is {found}, expected {expected}")
            }
        }
    }
}

/// The result of verifying one org.
#[derive(Debug, Clone)]
pub struct OrgVerification {
    /// Org name.
    pub org: String,
    /// Batches checked.
    pub batches: u64,
    /// Events checked.
    pub events: u64,
    /// The newest link (hex); empty when the org has no batch.
    pub head: String,
    /// Everything found wrong.
    pub problems: Vec<ChainProblem>,
}

/// The result of `verify`.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Per org.
    pub orgs: Vec<OrgVerification>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_intact(&self) -> bool {
        self.orgs.iter().all(|o| o.problems.is_empty())
    }
}

/// The uuid text for a manifest key: the UUID itself, or `key:<hex>` for non-UUID uuids.
pub fn uuid_of_key(key: &[u8; 16]) -> String {
    if key[6] == 0xFF {
        return format!("key:{}", hex::encode(key));
    }
    let h = hex::encode(key);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

struct EventRow {
    block: i64,
    pivots: [Option<i64>; 9],
}

impl Store {
    /// Verifies the chain of one org, or of every org, and returns everything found wrong.
    /// `expect_head` (hex) additionally checks the newest link of a single org.
    pub fn verify(
        &mut self,
        org: Option<OrgId>,
        expect_head: Option<&str>,
    ) -> Result<VerifyReport, StoreError> {
        self.verify_with_archive(org, expect_head, &|_, _| false)
    }

    /// [`Store::verify`] for a store with an archive tier: events for which `sealed(org, seq)`
    /// is true left the hot tier for a sealed segment, which the `archive` crate verifies.
    pub fn verify_with_archive(
        &mut self,
        org: Option<OrgId>,
        expect_head: Option<&str>,
        sealed: &dyn Fn(OrgId, i64) -> bool,
    ) -> Result<VerifyReport, StoreError> {
        let orgs: Vec<(OrgId, String)> = match org {
            Some(id) => vec![(id, org_name(&self.conn, id)?)],
            None => self.orgs()?,
        };
        let terms = self.load_terms()?;
        let mut report = VerifyReport::default();
        for (id, name) in orgs {
            let mut result = self.verify_org(id, &name, &terms, sealed)?;
            if let Some(expected) = expect_head {
                if !expected.eq_ignore_ascii_case(&result.head) {
                    result.problems.push(ChainProblem::HeadMismatch {
                        expected: expected.to_string(),
                        found: result.head.clone(),
                    });
                }
            }
            report.orgs.push(result);
        }
        Ok(report)
    }

    fn load_terms(&self) -> Result<HashMap<(i64, String), i64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, kind, value FROM terms")
            .context("reading terms")?;
        let rows = stmt
            .query_map([], |r| Ok(((r.get(1)?, r.get(2)?), r.get(0)?)))
            .context("reading terms")?;
        rows.collect::<Result<_, _>>().context("reading terms")
    }

    fn verify_org(
        &self,
        org: OrgId,
        name: &str,
        terms: &HashMap<(i64, String), i64>,
        sealed: &dyn Fn(OrgId, i64) -> bool,
    ) -> Result<OrgVerification, StoreError> {
        let mut problems = Vec::new();
        let mut prev = genesis(name).to_vec();
        // One sequential pass over the org's target rows (keyed by term first, so a per-event
        // lookup would scan).
        let mut targets_by_seq: HashMap<i64, Vec<i64>> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT seq, term FROM targets WHERE org = ?1")
                .context("reading targets")?;
            let mut rows = stmt.query([org.0]).context("reading targets")?;
            while let Some(r) = rows.next().context("reading targets")? {
                let seq: i64 = r.get(0).context("reading target")?;
                let term: i64 = r.get(1).context("reading target")?;
                targets_by_seq.entry(seq).or_default().push(term);
            }
        }
        let mut batches = 0u64;
        let mut events = 0u64;
        let mut covered: Vec<(i64, i64)> = Vec::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, first_seq, count, ingested_at, source, prev, link, manifest
                 FROM batches WHERE org = ?1 ORDER BY id",
            )
            .context("reading batches")?;
        let mut rows = stmt.query([org.0]).context("reading batches")?;
        while let Some(row) = rows.next().context("reading batches")? {
            let id: i64 = row.get(0).context("reading batch")?;
            let first_seq: i64 = row.get(1).context("reading batch")?;
            let count: i64 = row.get(2).context("reading batch")?;
            let ingested_at: i64 = row.get(3).context("reading batch")?;
            let source: String = row.get(4).context("reading batch")?;
            let stored_prev: Vec<u8> = row.get(5).context("reading batch")?;
            let link: Vec<u8> = row.get(6).context("reading batch")?;
            let manifest: Vec<u8> = row.get(7).context("reading batch")?;
            batches += 1;
            if stored_prev != prev {
                problems.push(ChainProblem::BatchAltered {
                    batch: id,
                    detail: "does not follow the previous batch (a batch before it was removed or changed)".into(),
                });
            }
            let recomputed = compute_link(
                &stored_prev,
                name,
                first_seq,
                count,
                ingested_at,
                &source,
                &manifest,
            );
            if recomputed[..] != link[..] {
                problems.push(ChainProblem::BatchAltered {
                    batch: id,
                    detail:
                        "its record (seqs, time, source or manifest) no longer matches its link"
                            .into(),
                });
            }
            prev = link;
            if manifest.len() != count as usize * ENTRY_BYTES {
                problems.push(ChainProblem::BatchAltered {
                    batch: id,
                    detail: format!("manifest holds {} bytes for {count} events", manifest.len()),
                });
                continue;
            }
            covered.push((first_seq, first_seq + count));
            let entries: Vec<ManifestEntry> = manifest
                .chunks_exact(ENTRY_BYTES)
                .map(|c| {
                    let mut key = [0u8; 16];
                    let mut hash = [0u8; 16];
                    key.copy_from_slice(&c[..16]);
                    hash.copy_from_slice(&c[16..]);
                    ManifestEntry { key, hash }
                })
                .collect();
            events += entries.len() as u64;
            self.verify_batch_events(
                org,
                first_seq,
                &entries,
                terms,
                &targets_by_seq,
                sealed,
                &mut problems,
            )?;
        }
        self.find_inserted(org, &covered, &mut problems)?;
        Ok(OrgVerification {
            org: name.to_string(),
            batches,
            events,
            head: if batches > 0 {
                hex::encode(&prev)
            } else {
                String::new()
            },
            problems,
        })
    }

    /// Raw texts by seq for every block overlapping `[from, to)`.
    fn raws_in(
        &self,
        org: OrgId,
        from: i64,
        to: i64,
    ) -> Result<HashMap<i64, (i64, Box<str>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, first_seq, data FROM blocks
                 WHERE org = ?1 AND first_seq >= ?2 - ?4 AND first_seq < ?3 AND first_seq + count > ?2",
            )
            .context("reading blocks")?;
        let mut rows = stmt
            .query(params![org.0, from, to, crate::codec::BLOCK_EVENTS as i64])
            .context("reading blocks")?;
        let mut out = HashMap::new();
        while let Some(row) = rows.next().context("reading blocks")? {
            let id: i64 = row.get(0).context("reading block")?;
            let first: i64 = row.get(1).context("reading block")?;
            let data: Vec<u8> = row.get(2).context("reading block")?;
            match decode_block(id, &data) {
                Ok(raws) => {
                    for (i, raw) in raws.into_iter().enumerate() {
                        out.insert(first + i as i64, (id, raw));
                    }
                }
                Err(_) => continue, // every event in it reads as missing and is named below
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn verify_batch_events(
        &self,
        org: OrgId,
        first_seq: i64,
        entries: &[ManifestEntry],
        terms: &HashMap<(i64, String), i64>,
        targets_by_seq: &HashMap<i64, Vec<i64>>,
        sealed: &dyn Fn(OrgId, i64) -> bool,
        problems: &mut Vec<ChainProblem>,
    ) -> Result<(), StoreError> {
        let end = first_seq + entries.len() as i64;
        let raws = self.raws_in(org, first_seq, end)?;
        let mut rows: HashMap<i64, EventRow> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT seq, block, event_type, outcome, actor_id, actor_alt, client_ip,
                            session_h, root_session_h, transaction_h, org
                     FROM events WHERE seq >= ?1 AND seq < ?2",
                )
                .context("reading events")?;
            let mut q = stmt
                .query(params![first_seq, end])
                .context("reading events")?;
            while let Some(r) = q.next().context("reading events")? {
                let seq: i64 = r.get(0).context("reading event")?;
                let mut pivots = [None; 9];
                for (i, p) in pivots.iter_mut().enumerate().take(8) {
                    *p = r.get(2 + i).context("reading event")?;
                }
                pivots[8] = r.get(10).context("reading event")?;
                rows.insert(
                    seq,
                    EventRow {
                        block: r.get(1).context("reading event")?,
                        pivots,
                    },
                );
            }
        }
        let mut uuid_stmt = self
            .conn
            .prepare_cached("SELECT seq FROM uuids WHERE org = ?1 AND key = ?2")
            .context("reading uuids")?;
        for (i, entry) in entries.iter().enumerate() {
            let seq = first_seq + i as i64;
            if sealed(org, seq) {
                continue;
            }
            let uuid = uuid_of_key(&entry.key);
            let Some((block, raw)) = raws.get(&seq) else {
                problems.push(ChainProblem::Deleted {
                    uuid,
                    seq,
                    detail: "its raw JSON is gone from the blocks".into(),
                });
                continue;
            };
            let full = event_hash(raw);
            if full[..16] != entry.hash {
                problems.push(ChainProblem::Modified {
                    uuid,
                    seq,
                    detail: "its raw JSON differs from what was committed".into(),
                });
                continue;
            }
            let Some(row) = rows.get(&seq) else {
                problems.push(ChainProblem::Deleted {
                    uuid,
                    seq,
                    detail: "its index row was removed (raw JSON still present)".into(),
                });
                continue;
            };
            let event = match LogEvent::parse(raw) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(ChainProblem::Modified {
                        uuid,
                        seq,
                        detail: format!("committed raw JSON no longer parses: {e}"),
                    });
                    continue;
                }
            };
            let mut differs = Vec::new();
            if row.block != *block {
                differs.push("block".to_string());
            }
            let expected = expected_pivots(&event, terms);
            let names = [
                "eventType",
                "outcome",
                "actor.id",
                "actor.alternateId",
                "client.ipAddress",
                "externalSessionId",
                "rootSessionId",
                "transaction.id",
                "org",
            ];
            let mut want = expected.0;
            want[8] = Some(org.0);
            for (k, name) in names.iter().enumerate() {
                if row.pivots[k] != want[k] {
                    differs.push(name.to_string());
                }
            }
            let mut stored_targets: Vec<i64> =
                targets_by_seq.get(&seq).cloned().unwrap_or_default();
            stored_targets.sort_unstable();
            if stored_targets != expected.1 {
                differs.push("target index".to_string());
            }
            let indexed: Option<i64> = uuid_stmt
                .query_row(params![org.0, &entry.key[..]], |r| r.get(0))
                .optional()
                .context("reading uuids")?;
            if indexed != Some(seq) {
                differs.push("uuid index".to_string());
            }
            if !differs.is_empty() {
                problems.push(ChainProblem::Modified {
                    uuid: event.uuid().0.clone(),
                    seq,
                    detail: format!(
                        "stored index columns differ from its JSON: {}",
                        differs.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    fn find_inserted(
        &self,
        org: OrgId,
        covered: &[(i64, i64)],
        problems: &mut Vec<ChainProblem>,
    ) -> Result<(), StoreError> {
        let in_chain = |seq: i64| {
            let i = covered.partition_point(|(start, _)| *start <= seq);
            i > 0 && seq < covered[i - 1].1
        };
        let mut outside: Vec<i64> = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT seq FROM events WHERE org = ?1 ORDER BY seq")
            .context("reading event seqs")?;
        let mut rows = stmt.query([org.0]).context("reading event seqs")?;
        while let Some(r) = rows.next().context("reading event seqs")? {
            let seq: i64 = r.get(0).context("reading seq")?;
            if !in_chain(seq) {
                outside.push(seq);
            }
        }
        let mut blocks = self
            .conn
            .prepare("SELECT first_seq, count FROM blocks WHERE org = ?1")
            .context("reading blocks")?;
        let ranges: Vec<(i64, i64)> = blocks
            .query_map([org.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .context("reading blocks")?
            .collect::<Result<_, _>>()
            .context("reading blocks")?;
        for (first, count) in ranges {
            for seq in first..first + count {
                if !in_chain(seq) && !outside.contains(&seq) {
                    outside.push(seq);
                }
            }
        }
        for seq in outside {
            let raws = self.raws_in(org, seq, seq + 1)?;
            let uuid = raws
                .get(&seq)
                .and_then(|(_, raw)| LogEvent::parse(raw).ok())
                .map(|e| e.uuid().0.clone())
                .unwrap_or_else(|| "(raw unreadable)".to_string());
            problems.push(ChainProblem::Inserted { uuid, seq });
        }
        Ok(())
    }
}

/// The pivot columns (term ids looked up, not created) and sorted target terms an event should
/// have. Terms missing from the table read as `-1`, which never equals a stored id.
fn expected_pivots(
    event: &LogEvent,
    terms: &HashMap<(i64, String), i64>,
) -> ([Option<i64>; 9], Vec<i64>) {
    use crate::pivots::{pivot_hash, PivotValues, TermKind};
    let term = |kind: TermKind, v: Option<&str>| {
        v.map(|v| *terms.get(&(kind as i64, v.to_string())).unwrap_or(&-1))
    };
    let values = PivotValues::of(event);
    let pivots = [
        term(TermKind::EventType, Some(values.event_type)),
        term(TermKind::Outcome, values.outcome),
        term(TermKind::ActorId, values.actor_id),
        term(TermKind::ActorAlternateId, values.actor_alt),
        term(TermKind::ClientIp, values.client_ip),
        values.session.map(pivot_hash),
        values.root_session.map(pivot_hash),
        values.transaction.map(pivot_hash),
        None,
    ];
    let mut targets: Vec<i64> = values
        .targets
        .iter()
        .filter_map(|v| term(TermKind::Target, Some(v)))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    (pivots, targets)
}
