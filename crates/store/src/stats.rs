//! Where the bytes go: per table and index sizes from SQLite's `dbstat`, and bytes per event.

use crate::error::{SqlContext, StoreError};
use crate::open::Store;

/// Size of one table or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSize {
    /// Table or index name.
    pub name: String,
    /// Bytes in pages.
    pub bytes: u64,
}

/// The store's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeReport {
    /// Events in the store (all orgs).
    pub events: u64,
    /// Bytes of all pages in use.
    pub total_bytes: u64,
    /// Per object, largest first.
    pub objects: Vec<ObjectSize>,
}

impl SizeReport {
    /// Bytes per stored event, everything included.
    pub fn bytes_per_event(&self) -> f64 {
        if self.events == 0 {
            0.0
        } else {
            self.total_bytes as f64 / self.events as f64
        }
    }
}

impl Store {
    /// Measures the store. Run after a checkpoint for a stable figure.
    pub fn size_report(&self) -> Result<SizeReport, StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .context("checkpointing")?;
        let events: i64 = self
            .conn
            .query_row("SELECT count(*) FROM uuids", [], |r| r.get(0))
            .context("counting events")?;
        let mut stmt = self
            .conn
            .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
            .context("reading dbstat")?;
        let objects: Vec<ObjectSize> = stmt
            .query_map([], |r| {
                Ok(ObjectSize {
                    name: r.get(0)?,
                    bytes: r.get::<_, i64>(1)? as u64,
                })
            })
            .context("reading dbstat")?
            .collect::<Result<_, _>>()
            .context("reading dbstat")?;
        let page_size: i64 = self
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .context("reading page size")?;
        let pages: i64 = self
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .context("reading page count")?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .context("reading freelist")?;
        Ok(SizeReport {
            events: events as u64,
            total_bytes: ((pages - free) * page_size) as u64,
            objects,
        })
    }
}
