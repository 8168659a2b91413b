//! Reading segments. [`scan_segment`] prunes row groups by the `published` statistics, decides
//! what it can on pivot columns with a Parquet row filter (so pages of the raw column with no
//! surviving row are never decompressed), checks raw text for required literals before any JSON
//! is parsed, and hands back raw events. [`read_rows`] reads a whole segment (compaction,
//! export, verify).

use crate::error::ArchiveError;
use crate::pivot::{PivotPredicate, Tri};
use crate::schema::col;
use aho_corasick::AhoCorasick;
use arrow_array::{
    Array, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use okta::filter::{Expr, Filter, Keywords, Literal, Op};
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::arrow::ProjectionMask;
use parquet::file::statistics::Statistics;
use std::path::Path;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 8192;

/// What to look for in a segment.
#[derive(Debug, Clone, Default)]
pub struct ScanSpec {
    /// Inclusive lower bound on published (µs).
    pub since: Option<i64>,
    /// Exclusive upper bound on published (µs).
    pub until: Option<i64>,
    /// Only seqs in `[start, end)`.
    pub seq_range: Option<(i64, i64)>,
    /// The filter's pivot-decidable part.
    pub predicate: Option<PivotPredicate>,
    /// Literals every match's raw text contains (ASCII, case-insensitive).
    pub literals: Vec<String>,
    /// Do not read the raw column (the caller only needs the pivots it asked for).
    pub skip_raw: bool,
}

impl ScanSpec {
    /// The spec for a filter, keywords and bounds.
    pub fn new(
        filter: Option<&Filter>,
        keywords: Option<&Keywords>,
        since: Option<i64>,
        until: Option<i64>,
        seq_range: Option<(i64, i64)>,
    ) -> ScanSpec {
        let mut literals = Vec::new();
        if let Some(f) = filter {
            required_literals(f.expr(), &mut literals);
        }
        for term in keywords.map(Keywords::terms).unwrap_or_default() {
            if term.len() >= 3
                && term
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'/'))
            {
                literals.push(term.clone());
            }
        }
        ScanSpec {
            since,
            until,
            seq_range,
            predicate: filter.and_then(|f| PivotPredicate::compile(f.expr())),
            literals,
            skip_raw: false,
        }
    }
}

/// Literals every match must contain in its raw text: string operands of `eq sw co ew` on the
/// `and` spine, when they are plain ASCII that JSON never escapes.
fn required_literals(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::And(a, b) => {
            required_literals(a, out);
            required_literals(b, out);
        }
        Expr::Compare(c) if matches!(c.op, Op::Eq | Op::Sw | Op::Co | Op::Ew) => {
            if let Some(Literal::String(v)) = &c.value {
                let plain = v.len() >= 3
                    && v.bytes().all(|b| {
                        b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'/') || b == b' '
                    });
                if plain {
                    out.push(v.clone());
                }
            }
        }
        _ => {}
    }
}

/// Counters of one or more scans.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Segments opened.
    pub segments: u64,
    /// Row groups read.
    pub row_groups: u64,
    /// Row groups skipped by their time statistics.
    pub row_groups_pruned: u64,
    /// Rows that survived the pivot filter and were handed to the literal check.
    pub rows_read: u64,
    /// Rows handed to the caller (passed the literal check).
    pub candidates: u64,
}

impl std::ops::AddAssign for ScanStats {
    fn add_assign(&mut self, o: ScanStats) {
        self.segments += o.segments;
        self.row_groups += o.row_groups;
        self.row_groups_pruned += o.row_groups_pruned;
        self.rows_read += o.rows_read;
        self.candidates += o.candidates;
    }
}

/// One candidate row: seq, published, raw text ("" when `skip_raw`), and the batch with its
/// row index for callers that read pivots.
pub struct Candidate<'a> {
    /// Store seq.
    pub seq: i64,
    /// Published (µs).
    pub published: i64,
    /// Raw JSON.
    pub raw: &'a str,
}

fn stat_range(stats: Option<&Statistics>) -> Option<(i64, i64)> {
    match stats? {
        Statistics::Int64(s) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}

/// Refuses a file whose columns are not ours (a Parquet file dropped into the archive by
/// hand, or one truncated to fewer columns): the readers below address columns by position.
fn check_columns(path: &Path, file_schema: &arrow_schema::Schema) -> Result<(), ArchiveError> {
    let ours = crate::schema::schema();
    let names = |s: &arrow_schema::Schema| -> Vec<String> {
        s.fields().iter().map(|f| f.name().clone()).collect()
    };
    if names(file_schema) != names(&ours) {
        return Err(ArchiveError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "not an idwatch segment: columns {:?}, expected {:?}",
                names(file_schema),
                names(&ours)
            ),
        });
    }
    Ok(())
}

/// Scans one segment file; `visit` returns false to stop.
pub fn scan_segment(
    path: &Path,
    spec: &ScanSpec,
    visit: &mut dyn FnMut(Candidate<'_>) -> bool,
) -> Result<(ScanStats, bool), ArchiveError> {
    let mut stats = ScanStats {
        segments: 1,
        ..ScanStats::default()
    };
    let file = std::fs::File::open(path).map_err(ArchiveError::io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        ArrowReaderOptions::new().with_page_index(true),
    )
    .map_err(ArchiveError::parquet(path))?;
    check_columns(path, builder.schema())?;
    let meta = builder.metadata().clone();
    let since = spec.since.unwrap_or(i64::MIN);
    let until = spec.until.unwrap_or(i64::MAX);
    let mut groups = Vec::new();
    for i in 0..meta.num_row_groups() {
        let rg = meta.row_group(i);
        let keep = match stat_range(rg.column(col::PUBLISHED).statistics()) {
            Some((min, max)) => max >= since && min < until,
            None => true,
        };
        let keep = keep
            && match (spec.seq_range, stat_range(rg.column(col::SEQ).statistics())) {
                (Some((start, end)), Some((min, max))) => max >= start && min < end,
                _ => true,
            };
        if keep {
            groups.push(i);
        } else {
            stats.row_groups_pruned += 1;
        }
    }
    stats.row_groups = groups.len() as u64;
    if groups.is_empty() {
        return Ok((stats, true));
    }
    let schema = builder.parquet_schema().clone();
    let bounded = spec.since.is_some() || spec.until.is_some();
    let mut builder = builder.with_row_groups(groups).with_batch_size(BATCH_ROWS);
    if spec.predicate.is_some() || bounded || spec.seq_range.is_some() {
        let mut columns = spec
            .predicate
            .as_ref()
            .map(PivotPredicate::columns)
            .unwrap_or_default();
        columns.push(col::PUBLISHED);
        columns.push(col::SEQ);
        columns.sort_unstable();
        columns.dedup();
        let mut predicate = spec.predicate.clone();
        let seq_range = spec.seq_range;
        let cols = columns.clone();
        let filter = ArrowPredicateFn::new(
            ProjectionMask::roots(&schema, columns),
            move |batch: RecordBatch| {
                let published = batch
                    .column(cols.iter().position(|c| *c == col::PUBLISHED).unwrap_or(0))
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .cloned();
                let seqs = batch
                    .column(cols.iter().position(|c| *c == col::SEQ).unwrap_or(0))
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .cloned();
                let decided = predicate.as_mut().map(|p| p.evaluate(&batch, &cols));
                let keep: BooleanArray = (0..batch.num_rows())
                    .map(|i| {
                        let in_time = published
                            .as_ref()
                            .is_none_or(|p| p.value(i) >= since && p.value(i) < until);
                        let in_seq = match (seq_range, seqs.as_ref()) {
                            (Some((start, end)), Some(s)) => {
                                s.value(i) >= start && s.value(i) < end
                            }
                            _ => true,
                        };
                        let pivots = decided.as_ref().is_none_or(|d| d[i] != Tri::False);
                        Some(in_time && in_seq && pivots)
                    })
                    .collect();
                Ok(keep)
            },
        );
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(filter)]));
    }
    let mut out_cols = vec![col::PUBLISHED, col::SEQ];
    if !spec.skip_raw {
        out_cols.push(col::RAW);
    }
    let reader = builder
        .with_projection(ProjectionMask::roots(&schema, out_cols))
        .build()
        .map_err(ArchiveError::parquet(path))?;
    let needles: Vec<AhoCorasick> = spec
        .literals
        .iter()
        .filter_map(|lit| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build([lit])
                .ok()
        })
        .collect();
    for batch in reader {
        let batch = batch.map_err(|e| ArchiveError::Parquet {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let published = typed::<TimestampMicrosecondArray>(&batch, 0, path)?;
        let seqs = typed::<Int64Array>(&batch, 1, path)?;
        let raws = if spec.skip_raw {
            None
        } else {
            Some(typed::<StringArray>(&batch, 2, path)?)
        };
        for i in 0..batch.num_rows() {
            stats.rows_read += 1;
            let raw = raws.map(|r| r.value(i)).unwrap_or("");
            if !needles.iter().all(|n| n.is_match(raw)) {
                continue;
            }
            stats.candidates += 1;
            if !visit(Candidate {
                seq: seqs.value(i),
                published: published.value(i),
                raw,
            }) {
                return Ok((stats, false));
            }
        }
    }
    Ok((stats, true))
}

fn typed<'a, T: 'static>(
    batch: &'a RecordBatch,
    i: usize,
    path: &Path,
) -> Result<&'a T, ArchiveError> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| ArchiveError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("column {i} has an unexpected type"),
        })
}

/// Every row of a segment: `(seq, ingested_at, raw)`, in file order.
pub fn read_rows(path: &Path) -> Result<Vec<(i64, i64, String)>, ArchiveError> {
    let file = std::fs::File::open(path).map_err(ArchiveError::io(path))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(ArchiveError::parquet(path))?;
    check_columns(path, builder.schema())?;
    let schema = builder.parquet_schema().clone();
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .with_projection(ProjectionMask::roots(
            &schema,
            [col::INGESTED_AT, col::SEQ, col::RAW],
        ))
        .build()
        .map_err(ArchiveError::parquet(path))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ArchiveError::Parquet {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let ingested = typed::<TimestampMicrosecondArray>(&batch, 0, path)?;
        let seqs = typed::<Int64Array>(&batch, 1, path)?;
        let raws = typed::<StringArray>(&batch, 2, path)?;
        for i in 0..batch.num_rows() {
            if raws.is_null(i) {
                return Err(ArchiveError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("row {i} has no raw JSON"),
                });
            }
            out.push((seqs.value(i), ingested.value(i), raws.value(i).to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    use std::sync::Arc;

    #[test]
    fn a_parquet_file_with_other_columns_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("part-foreign.parquet");
        let column: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
        let batch = RecordBatch::try_from_iter([("published", column)]).expect("batch");
        let file = std::fs::File::create(&path).expect("create");
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");

        let scanned = scan_segment(&path, &ScanSpec::default(), &mut |_| true);
        let err = scanned.expect_err("refused");
        assert!(matches!(err, ArchiveError::Corrupt { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("part-foreign.parquet"), "{text}");
        assert!(text.contains("not an idwatch segment"), "{text}");
        let err = read_rows(&path).expect_err("refused");
        assert!(err.to_string().contains("not an idwatch segment"), "{err}");
    }
}
