//! Archived snapshots of an org's directory state (the admin roster, posture results): each
//! snapshot is stored whole, never updated or deleted (SQLite triggers refuse both), content-
//! hashed, and chained per org the way event batches are ([`crate::chain`]).
//!
//! Each row holds `content_hash = SHA-256(content)` and `link = SHA-256("idwatch-snapshot-v1" ‖
//! prev ‖ org ‖ kind ‖ taken_at ‖ source ‖ content_hash)`, where `prev` is the org's previous
//! snapshot link (the first chains from `SHA-256("idwatch-snapshot-genesis" ‖ org)`).
//! [`Store::verify_snapshots`] recomputes both for every snapshot and names each one whose
//! content was edited, whose record (time, kind, source) was changed, or that no longer follows
//! its predecessor (one before it was deleted or replaced). As with the event chain, a rewrite
//! of the whole chain or a truncation of the newest snapshots is caught only against a head
//! recorded elsewhere (`expect_head`).

use crate::error::{SqlContext, StoreError};
use crate::open::{OrgId, Store};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use sha2::{Digest, Sha256};
use std::fmt;

/// What a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotKind {
    /// Every principal holding an admin role.
    AdminRoster,
    /// The results of the posture checks.
    Posture,
}

impl SnapshotKind {
    /// The name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::AdminRoster => "admins",
            SnapshotKind::Posture => "posture",
        }
    }

    fn parse(s: &str) -> Option<SnapshotKind> {
        match s {
            "admins" => Some(SnapshotKind::AdminRoster),
            "posture" => Some(SnapshotKind::Posture),
            _ => None,
        }
    }
}

impl fmt::Display for SnapshotKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The id of a snapshot in one store (increasing with time across every org and kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(pub i64);

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A snapshot's record, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Its id.
    pub id: SnapshotId,
    /// The org.
    pub org: OrgId,
    /// The org's name.
    pub org_name: String,
    /// What it holds.
    pub kind: SnapshotKind,
    /// When it was taken (wall clock).
    pub taken_at: DateTime<Utc>,
    /// Where it was read from (the Okta base URL).
    pub source: String,
    /// SHA-256 of the content (hex).
    pub content_hash: String,
    /// The chain link (hex).
    pub link: String,
    /// Size of the content in bytes.
    pub bytes: usize,
}

/// A snapshot with its content (JSON text, exactly as archived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The record.
    pub meta: SnapshotMeta,
    /// The content.
    pub content: String,
}

/// Something `verify_snapshots` found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotProblem {
    /// The content no longer hashes to the recorded hash.
    ContentModified {
        /// The snapshot.
        id: SnapshotId,
        /// Its kind (as stored).
        kind: String,
        /// When it was taken.
        taken_at: DateTime<Utc>,
    },
    /// The record (time, kind, source or hash) no longer hashes to its link.
    RecordAltered {
        /// The snapshot.
        id: SnapshotId,
        /// What does not match.
        detail: String,
    },
    /// The snapshot does not follow the previous one: a snapshot between them was deleted or
    /// replaced.
    ChainBroken {
        /// The snapshot.
        id: SnapshotId,
        /// The snapshot before it, if any remains.
        after: Option<SnapshotId>,
    },
    /// The newest link is not the one the caller expected.
    HeadMismatch {
        /// Expected (hex).
        expected: String,
        /// Found (hex).
        found: String,
    },
}

impl fmt::Display for SnapshotProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotProblem::ContentModified { id, kind, taken_at } => write!(
                f,
                "snapshot {id} ({kind}, taken {}) content modified: it no longer matches its hash",
                taken_at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            SnapshotProblem::RecordAltered { id, detail } => {
                write!(f, "snapshot {id} record altered: {detail}")
            }
            SnapshotProblem::ChainBroken { id, after } => match after {
                Some(prev) => write!(
                    f,
                    "snapshot {id} does not follow snapshot {prev}: a snapshot between them was removed or replaced"
                ),
                None => write!(
                    f,
                    "snapshot {id} does not follow the chain's start: an earlier snapshot was removed or replaced"
                ),
            },
            SnapshotProblem::HeadMismatch { expected, found } => {
                write!(f, "snapshot head link is {found}, expected {expected}")
            }
        }
    }
}

/// The result of verifying one org's snapshots.
#[derive(Debug, Clone)]
pub struct OrgSnapshotVerification {
    /// Org name.
    pub org: String,
    /// Snapshots checked.
    pub snapshots: u64,
    /// The newest link (hex); empty when the org has no snapshot.
    pub head: String,
    /// Everything found wrong.
    pub problems: Vec<SnapshotProblem>,
}

/// The result of `verify_snapshots`.
#[derive(Debug, Clone, Default)]
pub struct SnapshotVerifyReport {
    /// Per org.
    pub orgs: Vec<OrgSnapshotVerification>,
}

impl SnapshotVerifyReport {
    /// True when nothing is wrong.
    pub fn is_intact(&self) -> bool {
        self.orgs.iter().all(|o| o.problems.is_empty())
    }
}

fn genesis(org_name: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"idwatch-snapshot-genesis");
    h.update(org_name.as_bytes());
    h.finalize().into()
}

fn content_hash(content: &str) -> [u8; 32] {
    Sha256::digest(content.as_bytes()).into()
}

fn compute_link(
    prev: &[u8],
    org_name: &str,
    kind: &str,
    taken_at: i64,
    source: &str,
    content_hash: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"idwatch-snapshot-v1");
    h.update(prev);
    for part in [org_name, kind] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.update(taken_at.to_be_bytes());
    h.update((source.len() as u64).to_be_bytes());
    h.update(source.as_bytes());
    h.update(content_hash);
    h.finalize().into()
}

const META_COLUMNS: &str =
    "s.id, s.org, o.name, s.kind, s.taken_at, s.source, s.content_hash, s.link, length(s.content)";

fn meta_from_row(row: &Row<'_>) -> rusqlite::Result<SnapshotMeta> {
    let kind_text: String = row.get(3)?;
    let kind = SnapshotKind::parse(&kind_text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("unknown snapshot kind `{kind_text}`").into(),
        )
    })?;
    let hash: Vec<u8> = row.get(6)?;
    let link: Vec<u8> = row.get(7)?;
    let bytes: i64 = row.get(8)?;
    Ok(SnapshotMeta {
        id: SnapshotId(row.get(0)?),
        org: OrgId(row.get(1)?),
        org_name: row.get(2)?,
        kind,
        taken_at: crate::alerts::from_micros(row.get(4)?),
        source: row.get(5)?,
        content_hash: hex::encode(hash),
        link: hex::encode(link),
        bytes: usize::try_from(bytes).unwrap_or(0),
    })
}

impl Store {
    /// Archives a snapshot of `org` (content is JSON text, stored exactly) and extends the
    /// org's snapshot chain, in one transaction.
    pub fn archive_snapshot(
        &mut self,
        org: OrgId,
        kind: SnapshotKind,
        taken_at: DateTime<Utc>,
        source: &str,
        content: &str,
    ) -> Result<SnapshotMeta, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting to archive a snapshot")?;
        let name: String = tx
            .query_row("SELECT name FROM orgs WHERE id = ?1", [org.0], |r| r.get(0))
            .context("reading org name")?;
        let prev: Vec<u8> = tx
            .query_row(
                "SELECT link FROM snapshots WHERE org = ?1 ORDER BY id DESC LIMIT 1",
                [org.0],
                |r| r.get(0),
            )
            .optional()
            .context("reading previous snapshot link")?
            .unwrap_or_else(|| genesis(&name).to_vec());
        let at = taken_at.timestamp_micros();
        let hash = content_hash(content);
        let link = compute_link(&prev, &name, kind.as_str(), at, source, &hash);
        tx.execute(
            "INSERT INTO snapshots (org, kind, taken_at, source, content, content_hash, prev, link)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                org.0,
                kind.as_str(),
                at,
                source,
                content,
                &hash[..],
                prev,
                &link[..]
            ],
        )
        .context("archiving snapshot")?;
        let id = SnapshotId(tx.last_insert_rowid());
        tx.commit().context("committing snapshot")?;
        Ok(SnapshotMeta {
            id,
            org,
            org_name: name,
            kind,
            taken_at: crate::alerts::from_micros(at),
            source: source.to_string(),
            content_hash: hex::encode(hash),
            link: hex::encode(link),
            bytes: content.len(),
        })
    }

    /// The snapshots of `org` of one kind, oldest first (records only).
    pub fn list_snapshots(
        &self,
        org: OrgId,
        kind: SnapshotKind,
    ) -> Result<Vec<SnapshotMeta>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {META_COLUMNS} FROM snapshots s JOIN orgs o ON o.id = s.org
                 WHERE s.org = ?1 AND s.kind = ?2 ORDER BY s.id"
            ))
            .context("listing snapshots")?;
        let rows = stmt
            .query_map(params![org.0, kind.as_str()], meta_from_row)
            .context("listing snapshots")?;
        rows.collect::<Result<_, _>>().context("reading snapshots")
    }

    /// One snapshot with its content, or `None` when no snapshot has that id.
    pub fn find_snapshot(&self, id: SnapshotId) -> Result<Option<Snapshot>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {META_COLUMNS}, s.content FROM snapshots s JOIN orgs o ON o.id = s.org
                     WHERE s.id = ?1"
                ),
                [id.0],
                |r| {
                    Ok(Snapshot {
                        meta: meta_from_row(r)?,
                        content: r.get(9)?,
                    })
                },
            )
            .optional()
            .context("reading snapshot")
    }

    /// The newest snapshot of `org` of one kind, with its content.
    pub fn latest_snapshot(
        &self,
        org: OrgId,
        kind: SnapshotKind,
    ) -> Result<Option<Snapshot>, StoreError> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT max(id) FROM snapshots WHERE org = ?1 AND kind = ?2",
                params![org.0, kind.as_str()],
                |r| r.get(0),
            )
            .context("finding the latest snapshot")?;
        match id {
            Some(id) => self.find_snapshot(SnapshotId(id)),
            None => Ok(None),
        }
    }

    /// Recomputes every snapshot's content hash and chain link, for one org or every org.
    /// `expect_head` (hex) additionally checks the newest link of a single org.
    pub fn verify_snapshots(
        &self,
        org: Option<OrgId>,
        expect_head: Option<&str>,
    ) -> Result<SnapshotVerifyReport, StoreError> {
        let orgs: Vec<(OrgId, String)> = match org {
            Some(id) => {
                let name: String = self
                    .conn
                    .query_row("SELECT name FROM orgs WHERE id = ?1", [id.0], |r| r.get(0))
                    .context("reading org name")?;
                vec![(id, name)]
            }
            None => self.orgs()?,
        };
        let mut report = SnapshotVerifyReport::default();
        for (id, name) in orgs {
            let mut result = self.verify_org_snapshots(id, &name)?;
            if let Some(expected) = expect_head {
                if !expected.eq_ignore_ascii_case(&result.head) {
                    result.problems.push(SnapshotProblem::HeadMismatch {
                        expected: expected.to_string(),
                        found: result.head.clone(),
                    });
                }
            }
            report.orgs.push(result);
        }
        Ok(report)
    }

    fn verify_org_snapshots(
        &self,
        org: OrgId,
        name: &str,
    ) -> Result<OrgSnapshotVerification, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, kind, taken_at, source, content, content_hash, prev, link
                 FROM snapshots WHERE org = ?1 ORDER BY id",
            )
            .context("reading snapshots")?;
        let mut rows = stmt.query([org.0]).context("reading snapshots")?;
        let mut expected_prev = genesis(name).to_vec();
        let mut previous: Option<SnapshotId> = None;
        let mut problems = Vec::new();
        let mut count = 0u64;
        while let Some(row) = rows.next().context("reading snapshots")? {
            let id = SnapshotId(row.get(0).context("reading snapshot")?);
            let kind: String = row.get(1).context("reading snapshot")?;
            let taken_at: i64 = row.get(2).context("reading snapshot")?;
            let source: String = row.get(3).context("reading snapshot")?;
            // Read as bytes: an edit may have stored a blob or invalid UTF-8.
            let content: Vec<u8> = match row.get_ref(4).context("reading snapshot")? {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    t.to_vec()
                }
                _ => Vec::new(),
            };
            let stored_hash: Vec<u8> = row.get(5).context("reading snapshot")?;
            let stored_prev: Vec<u8> = row.get(6).context("reading snapshot")?;
            let link: Vec<u8> = row.get(7).context("reading snapshot")?;
            count += 1;
            let actual: [u8; 32] = Sha256::digest(&content).into();
            if actual[..] != stored_hash[..] {
                problems.push(SnapshotProblem::ContentModified {
                    id,
                    kind: kind.clone(),
                    taken_at: crate::alerts::from_micros(taken_at),
                });
            }
            if stored_prev != expected_prev {
                problems.push(SnapshotProblem::ChainBroken {
                    id,
                    after: previous,
                });
            }
            let recomputed =
                compute_link(&stored_prev, name, &kind, taken_at, &source, &stored_hash);
            if recomputed[..] != link[..] {
                problems.push(SnapshotProblem::RecordAltered {
                    id,
                    detail: "its time, kind, source or hash no longer matches its link".into(),
                });
            }
            expected_prev = link;
            previous = Some(id);
        }
        Ok(OrgSnapshotVerification {
            org: name.to_string(),
            snapshots: count,
            head: if count > 0 {
                hex::encode(&expected_prev)
            } else {
                String::new()
            },
            problems,
        })
    }
}
