//! Where segments live: `ROOT/org=<org>/date=YYYY-MM-DD/hour=HH/part-<id>.parquet` for hourly
//! seals and `ROOT/org=<org>/date=YYYY-MM-DD/hour=all/part-<id>.parquet` for a day's compacted
//! file (same depth, so every Hive-aware engine sees the same three partition keys). The org
//! name is percent-encoded outside `[A-Za-z0-9._-]`. Files are written as `*.parquet.tmp` and
//! renamed into place; anything ending in `.tmp` is debris from a crash.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// `hour=` value of a day's compacted file.
pub const DAILY_HOUR: &str = "all";

/// The archive directory inside a data directory.
pub fn default_root(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("archive")
}

/// An org name as a path-safe partition value.
pub fn encode_org(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `YYYY-MM-DD` of a µs timestamp (UTC).
pub fn date_of(micros: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

/// Hour of day (UTC) of a µs timestamp.
pub fn hour_of(micros: i64) -> u32 {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .hour()
}

/// Start of the UTC hour holding `micros`.
pub fn hour_start(micros: i64) -> i64 {
    micros.div_euclid(3_600_000_000) * 3_600_000_000
}

/// Start of the UTC day holding `micros`.
pub fn day_start(micros: i64) -> i64 {
    micros.div_euclid(86_400_000_000) * 86_400_000_000
}

/// The relative path of an hourly segment.
pub fn hourly_path(org: &str, date: &str, hour: u32, id: i64) -> String {
    format!(
        "org={}/date={date}/hour={hour:02}/part-{id:08}.parquet",
        encode_org(org)
    )
}

/// The relative path of a day's compacted segment.
pub fn daily_path(org: &str, date: &str, id: i64) -> String {
    format!(
        "org={}/date={date}/hour={DAILY_HOUR}/part-{id:08}.parquet",
        encode_org(org)
    )
}

/// The temporary name a segment is written under.
pub fn temp_name(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    std::path::PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_hive_partitions() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-03-01T13:45:00Z")
            .expect("time")
            .timestamp_micros();
        assert_eq!(date_of(t), "2024-03-01");
        assert_eq!(hour_of(t), 13);
        assert_eq!(
            hourly_path("acme corp/eu", "2024-03-01", 13, 7),
            "org=acme%20corp%2Feu/date=2024-03-01/hour=13/part-00000007.parquet"
        );
        assert_eq!(hour_start(t) % 3_600_000_000, 0);
        assert!(day_start(t) <= t && t - day_start(t) < 86_400_000_000);
    }
}
