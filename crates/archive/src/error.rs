//! `ArchiveError`: what the archive tier can fail with, naming the file involved.

use std::path::PathBuf;

/// An error from the archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The catalog (the SQLite store) failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet file could not be written or read.
    #[error("{path}: parquet: {reason}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A segment holds something that is not what we wrote.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another process is sealing, compacting or retaining in this archive.
    #[error("archive {0} is locked by another idwatch process (seal, retain or the daemon)")]
    Locked(PathBuf),
    /// A duration or option that cannot be used.
    #[error("{0}")]
    Invalid(String),
}

impl ArchiveError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ArchiveError {
        let path = path.into();
        move |source| ArchiveError::Io { path, source }
    }

    pub(crate) fn parquet(
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(parquet::errors::ParquetError) -> ArchiveError {
        let path = path.into();
        move |e| ArchiveError::Parquet {
            path,
            reason: e.to_string(),
        }
    }
}
