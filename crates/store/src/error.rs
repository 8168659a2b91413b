//! `StoreError`: everything the store can fail with, each variant carrying what a reader needs.

use std::path::PathBuf;

/// An error from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed while doing `context`.
    #[error("{context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database file could not be opened or created.
    #[error("opening store {path}: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The database was written by a newer idwatch.
    #[error("store {path} has schema version {found}, this idwatch knows up to {known}; upgrade idwatch")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A stored block could not be decoded (corruption or tampering).
    #[error("block {block} is corrupt: {reason}")]
    CorruptBlock {
        /// The block id.
        block: i64,
        /// What is wrong.
        reason: String,
    },
    /// No org by that name.
    #[error("no org named `{0}` in this store")]
    UnknownOrg(String),
    /// A query that cannot run.
    #[error("query: {0}")]
    Query(String),
    /// No alert with that id.
    #[error("no alert {0} in this store (`idwatch alerts list` shows them)")]
    UnknownAlert(i64),
    /// The alert is closed: it cannot be acknowledged or reopened (a repeat raises a new one).
    #[error("alert {id} is closed; a repeat of it raises a new alert")]
    AlertClosed {
        /// The alert.
        id: i64,
    },
}

/// Adds context to rusqlite results.
pub(crate) trait SqlContext<T> {
    fn context(self, what: &str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn context(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite {
            context: what.to_string(),
            source,
        })
    }
}
