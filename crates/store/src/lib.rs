//! The idwatch event store: the only crate that opens the SQLite file. It is the catalog and the
//! hot tier of a two-tier design (sealed Parquet segments hold history; see `query` for how a
//! query spans tiers). What it guarantees:
//!
//! - **Multi-org**: every event belongs to an org, named by the user.
//! - **Exactly once**: events are deduplicated on (org, uuid) across everything ever stored, in
//!   the same transaction that stores them.
//! - **Raw kept exactly**: each event's JSON text is stored byte for byte, zstd-compressed in
//!   blocks of events ([`codec`]); pivot columns and a target side table make the common
//!   investigations index lookups ([`pivots`]).
//! - **Tamper evidence**: every committed batch extends a per-org SHA-256 hash chain over its
//!   events' exact bytes; [`Store::verify`] recomputes it and names every modified, deleted or
//!   inserted event ([`chain`]).
//! - **Crash safety**: one SQLite transaction per batch (WAL); a kill -9 leaves whole batches only.
//! - **Readers beside a writer**: WAL lets `idwatch query` run while a collector ingests.
//!
//! - **Alerts and their delivery**: raised alerts with deduplication, their lifecycle, and the
//!   durable outbox the notifier reads, each raise and its deliveries in one transaction
//!   ([`alerts`]).
//!
//! The store must live on a local disk: WAL needs shared memory that network file systems do not
//! provide reliably.

pub mod activity;
pub mod alerts;
pub mod chain;
pub mod codec;
pub mod detection;
mod error;
pub mod ingest;
mod migrations;
mod open;
pub mod pivots;
pub mod query;
pub mod segments;
pub mod snapshots;
pub mod sources;
pub mod stats;

pub use chain::{ChainProblem, VerifyReport};
pub use error::StoreError;
pub use ingest::BatchOutcome;
pub use open::{OrgId, Store};
pub use query::{EventQuery, StoredEvent};
pub use snapshots::{Snapshot, SnapshotId, SnapshotKind, SnapshotMeta, SnapshotProblem};
pub use sources::{CollectorCounters, CollectorState, PageCommit, SourceRecord};
