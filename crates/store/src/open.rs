//! `Store::open`: pragmas, migrations, and the one connection a `Store` owns.
//!
//! # Locking
//! SQLite in WAL mode: any number of readers (other `Store`s, other processes) run beside one
//! writer. Writers begin `IMMEDIATE` transactions so a read lock is never upgraded midway, and
//! wait up to `busy_timeout` for another writer.
//!
//! # Compatibility
//! The schema version is `PRAGMA user_version`; migrations only add. A file written by a newer
//! idwatch is refused rather than misread.

use crate::error::{SqlContext, StoreError};
use crate::migrations::MIGRATIONS;
use crate::pivots::TermCache;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The id of an org inside one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(pub i64);

/// An open store: one SQLite connection plus caches. Not `Sync`; open one per thread.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    pub(crate) terms: TermCache,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                    path: path.to_path_buf(),
                    reason: format!("cannot create directory {}: {e}", parent.display()),
                })?;
            }
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            terms: TermCache::default(),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store read-only (queries, verify). Fails if it does not exist.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: "no such file (import or collect something first)".into(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        conn.busy_timeout(Duration::from_secs(30))
            .context("setting busy_timeout")?;
        conn.execute_batch("PRAGMA cache_size = -262144; PRAGMA mmap_size = 4294967296;")
            .context("setting pragmas")?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
            terms: TermCache::default(),
        };
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .context("reading schema version")?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len() as i64,
            });
        }
        Ok(store)
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        self.conn
            .busy_timeout(Duration::from_secs(30))
            .context("setting busy_timeout")?;
        // WAL: readers beside the writer. NORMAL: a committed batch may be lost on power failure
        // but never torn, and events roll back together with anything committed beside them.
        // 256 MiB of page cache: ingest updates a dozen B-trees per event at scattered keys, and
        // once their hot pages no longer fit, every insert becomes a read. Memory-mapped reads
        // (up to 4 GiB of the file) save a system call per page on top of that.
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA cache_size = -262144;
                 PRAGMA mmap_size = 4294967296;",
            )
            .context("setting pragmas")
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
            .context("starting migration")?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .context("reading schema version")?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known: MIGRATIONS.len() as i64,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)
                .context(&format!("applying migration {}", index + 1))?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)
                .context("recording schema version")?;
        }
        tx.commit().context("committing migrations")
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The id of org `name`, creating it if new.
    pub fn ensure_org(&mut self, name: &str) -> Result<OrgId, StoreError> {
        if let Some(id) = self.find_org(name)? {
            return Ok(id);
        }
        self.conn
            .execute(
                "INSERT INTO orgs (name, created_at) VALUES (?1, ?2)",
                rusqlite::params![name, chrono::Utc::now().timestamp_micros()],
            )
            .context("creating org")?;
        Ok(OrgId(self.conn.last_insert_rowid()))
    }

    /// The id of org `name`, if it exists.
    pub fn find_org(&self, name: &str) -> Result<Option<OrgId>, StoreError> {
        self.conn
            .query_row("SELECT id FROM orgs WHERE name = ?1", [name], |r| {
                r.get(0).map(OrgId)
            })
            .optional()
            .context("looking up org")
    }

    /// The id of org `name`, or [`StoreError::UnknownOrg`].
    pub fn org(&self, name: &str) -> Result<OrgId, StoreError> {
        self.find_org(name)?
            .ok_or_else(|| StoreError::UnknownOrg(name.to_string()))
    }

    /// Every org, by name.
    pub fn orgs(&self) -> Result<Vec<(OrgId, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name FROM orgs ORDER BY name")
            .context("listing orgs")?;
        let rows = stmt
            .query_map([], |r| Ok((OrgId(r.get(0)?), r.get(1)?)))
            .context("listing orgs")?;
        rows.collect::<Result<_, _>>().context("listing orgs")
    }

    /// Number of events of an org in the hot tier (not sealed into the archive).
    pub fn count_hot_events(&self, org: OrgId) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM events WHERE org = ?1", [org.0], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .context("counting hot events")
    }

    /// Number of events ever stored for an org (hot, sealed, or dropped by retention: the
    /// uuid dedupe index keeps every one).
    pub fn count_events(&self, org: OrgId) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM uuids WHERE org = ?1", [org.0], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .context("counting events")
    }
}

impl Store {
    /// The oldest and newest `published` (µs) of an org's events in this tier.
    pub fn published_range(&self, org: OrgId) -> Result<Option<(i64, i64)>, StoreError> {
        self.conn
            .query_row(
                "SELECT min(published), max(published) FROM events WHERE org = ?1",
                [org.0],
                |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .map(|(a, b)| a.zip(b))
            .context("reading time range")
    }
}
