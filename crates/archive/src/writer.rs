//! Writing one segment: rows sorted by (published, seq), Parquet with zstd, dictionary-encoded
//! pivots, page statistics on the time columns, written to `*.tmp`, fsynced, renamed into place
//! and the directory fsynced. Returns what the catalog records (sizes, hashes, term filters).

use crate::error::ArchiveError;
use crate::layout::temp_name;
use crate::schema::{col, record_batch, schema, SegmentRow, STRING_PIVOTS};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// zstd level for segments: sealed data is written once and read for years.
pub const SEGMENT_ZSTD_LEVEL: i32 = 9;

/// Rows per row group: the unit the reader prunes by time statistics.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// What writing produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// Rows.
    pub rows: i64,
    /// File size.
    pub bytes: i64,
    /// SHA-256 of the file, hex.
    pub content_hash: String,
    /// SHA-256 over (seq, uuid key, raw hash prefix) in seq order, hex.
    pub entries_hash: String,
    /// Oldest published.
    pub min_published: i64,
    /// Newest published.
    pub max_published: i64,
    /// The seqs.
    pub seqs: Vec<i64>,
    /// The segment's term filters ([`crate::terms::TermFilters::encode`]).
    pub terms: Vec<u8>,
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The digest of a segment's entries, as the catalog records it: rows sorted by seq, each
/// `seq (8 bytes BE) ‖ uuid key (16) ‖ SHA-256(raw)[..16]` — the same entry the hot chain's
/// manifests hold, so a segment can be checked against the chain row by row.
pub fn entries_hash(entries: &mut [(i64, [u8; 16], [u8; 16])]) -> String {
    entries.sort_unstable_by_key(|e| e.0);
    let mut h = Sha256::new();
    for (seq, key, hash) in entries.iter() {
        h.update(seq.to_be_bytes());
        h.update(key);
        h.update(hash);
    }
    hex::encode(h.finalize())
}

/// The chain entry of one event: uuid key and raw hash prefix.
pub fn entry_of(event: &okta::LogEvent) -> ([u8; 16], [u8; 16]) {
    let full = store::chain::event_hash(event.raw());
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&full[..16]);
    (event.uuid().key(), hash)
}

fn properties() -> WriterProperties {
    let names = schema();
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(SEGMENT_ZSTD_LEVEL).unwrap_or_default(),
        ))
        .set_max_row_group_size(ROW_GROUP_ROWS)
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by("idwatch archive".to_string());
    for c in [col::PUBLISHED, col::INGESTED_AT, col::SEQ] {
        b = b.set_column_statistics_enabled(
            ColumnPath::from(names.field(c).name().as_str()),
            EnabledStatistics::Page,
        );
    }
    for name in ["uuid", "raw", "seq", "published", "ingested_at"] {
        b = b.set_column_dictionary_enabled(ColumnPath::from(name), false);
    }
    b = b.set_column_statistics_enabled(ColumnPath::from("raw"), EnabledStatistics::None);
    b = b.set_column_statistics_enabled(ColumnPath::from("uuid"), EnabledStatistics::None);
    let _ = STRING_PIVOTS;
    b.build()
}

/// Writes `rows` (sorted here by published, seq) to `root/rel`.
pub fn write_segment(
    root: &Path,
    rel: &str,
    rows: &mut [SegmentRow],
) -> Result<Written, ArchiveError> {
    rows.sort_by_key(|r| (r.event.published_micros(), r.seq));
    let path = root.join(rel);
    let dir = path
        .parent()
        .ok_or_else(|| ArchiveError::Invalid(format!("segment path {rel} has no directory")))?;
    std::fs::create_dir_all(dir).map_err(ArchiveError::io(dir))?;
    let tmp = temp_name(&path);
    let file = std::fs::File::create(&tmp).map_err(ArchiveError::io(&tmp))?;
    let sink = HashingWriter {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut writer = ArrowWriter::try_new(sink, schema(), Some(properties()))
        .map_err(ArchiveError::parquet(&tmp))?;
    for chunk in rows.chunks(ROW_GROUP_ROWS) {
        let batch = record_batch(chunk).map_err(|e| ArchiveError::Parquet {
            path: tmp.clone(),
            reason: e.to_string(),
        })?;
        writer.write(&batch).map_err(ArchiveError::parquet(&tmp))?;
    }
    let sink = writer.into_inner().map_err(ArchiveError::parquet(&tmp))?;
    let HashingWriter {
        inner,
        hasher,
        bytes,
    } = sink;
    let file = inner.into_inner().map_err(|e| ArchiveError::Io {
        path: tmp.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(ArchiveError::io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(ArchiveError::io(&path))?;
    sync_dir(dir)?;
    let mut entries: Vec<(i64, [u8; 16], [u8; 16])> = rows
        .iter()
        .map(|r| {
            let (key, hash) = entry_of(&r.event);
            (r.seq, key, hash)
        })
        .collect();
    Ok(Written {
        rows: rows.len() as i64,
        bytes: bytes as i64,
        content_hash: hex::encode(hasher.finalize()),
        entries_hash: entries_hash(&mut entries),
        min_published: rows
            .first()
            .map(|r| r.event.published_micros())
            .unwrap_or(0),
        max_published: rows.last().map(|r| r.event.published_micros()).unwrap_or(0),
        seqs: rows.iter().map(|r| r.seq).collect(),
        terms: crate::terms::TermFilters::build(rows.iter().map(|r| &r.event)).encode(),
    })
}

/// fsyncs a directory so a rename or unlink in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(ArchiveError::io(dir))
}

/// SHA-256 of a file, hex.
pub fn file_hash(path: &Path) -> Result<(String, u64), ArchiveError> {
    let mut file = std::fs::File::open(path).map_err(ArchiveError::io(path))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut file, &mut h).map_err(ArchiveError::io(path))?;
    Ok((hex::encode(h.finalize()), n))
}
