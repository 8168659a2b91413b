//! The archive tier: events sealed from the SQLite hot tier into Parquet segments (Hive layout
//! `org=…/date=…/hour=…`, zstd), recorded in the store's catalog and covered by the archive's
//! own hash chain; queries that span both tiers ([`Tiers`]); tamper evidence over segments
//! ([`verify`]); retention with a checkpoint; export. SQL over both tiers is the `sql`
//! crate (DataFusion), kept out of this one so ingest and detection never build it.
//!
//! Where things are decided:
//! - [`layout`]: paths and partitions. [`schema`]: the columns. [`writer`]: one file, fsynced.
//! - [`seal`]: [`ArchiveWriter`]: sealing, compaction, retention, crash cleanup, the daemon's
//!   [`scheduled_seal`].
//! - [`reader`] and [`pivot`]: pruning by statistics, deciding on pivots before raw JSON.
//!   [`terms`]: per-segment Bloom filters that skip segments for `eq` lookups.
//! - [`tiers`]: hot ∪ archive. [`verify`]: both chains and every file. [`export`].

pub mod error;
pub mod export;
pub mod layout;
pub mod pivot;
pub mod reader;
pub mod schema;
pub mod seal;
pub mod terms;
pub mod tiers;
pub mod verify;
pub mod writer;

pub use error::ArchiveError;
pub use seal::{scheduled_seal, ArchiveWriter, Cleanup, Maintenance, RetainReport, SealReport};
pub use tiers::{TierStats, Tiers};
pub use verify::{verify, ArchiveVerification, FullVerification};

/// `[archive]` in `idwatch.toml`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Archive directory (default: `<data dir>/archive`).
    pub dir: Option<std::path::PathBuf>,
    /// How long events are kept, e.g. `"3y"`; `idwatch retain` without `--older-than` and the
    /// daemon drop whole date partitions older than this.
    pub retain: Option<String>,
    /// The daemon seals hot events older than this (default `7d`).
    pub seal_older_than: Option<String>,
}

/// Parses an age: a number and a unit `y` (365 days), `w`, `d`, `h`, `m`, `s`, e.g. `3y`, `90d`,
/// `12h`. Returns microseconds.
pub fn parse_age(text: &str) -> Result<i64, ArchiveError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: i64 = number.parse().map_err(|_| {
        ArchiveError::Invalid(format!(
            "`{text}`: expected a number and a unit (3y, 90d, 12h, 30m)"
        ))
    })?;
    let unit_us: i64 = match unit {
        "y" => 365 * 86_400_000_000,
        "w" => 7 * 86_400_000_000,
        "d" => 86_400_000_000,
        "h" => 3_600_000_000,
        "m" => 60_000_000,
        "s" => 1_000_000,
        _ => {
            return Err(ArchiveError::Invalid(format!(
                "`{text}`: unknown unit `{unit}` (use y, w, d, h, m or s)"
            )))
        }
    };
    n.checked_mul(unit_us)
        .ok_or_else(|| ArchiveError::Invalid(format!("`{text}` is too long")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_parse() {
        assert_eq!(super::parse_age("3y").ok(), Some(3 * 365 * 86_400_000_000));
        assert_eq!(super::parse_age("12h").ok(), Some(12 * 3_600_000_000));
        assert!(super::parse_age("3 years").is_err());
        assert!(super::parse_age("d").is_err());
    }
}
