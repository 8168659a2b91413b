//! `idwatch sql`: SQL over both tiers, served by SQLite (the engine the store already builds)
//! through an eponymous virtual table `events`:
//!
//! | column | type | from |
//! |---|---|---|
//! | `org` | TEXT | the org name |
//! | `published` | TEXT | RFC 3339, ms, `Z` (sorts as time) |
//! | `published_us` | INTEGER | µs since the epoch |
//! | `ingested_at` | TEXT | when the store committed it |
//! | `event_type` … `uuid` | TEXT | the pivot columns of the segment schema |
//! | `asn` | INTEGER | `securityContext.asNumber` |
//! | `seq` | INTEGER | store insertion sequence |
//! | `tier` | TEXT | `hot` or `archive` |
//! | `raw` | TEXT | the event's JSON exactly as received (use `json_extract(raw, '$.path')`) |
//!
//! Constraints on `published` / `published_us` prune segments by the catalog's time bounds and
//! row groups by their statistics; columns a query does not use are never decoded (a `GROUP BY
//! event_type` never decompresses the raw JSON). SQLite re-checks every constraint, so pruning
//! only has to be conservative. Hot-tier events are turned into the same columns on the fly.

use crate::error::ArchiveError;
use crate::schema::{col, record_batch, SegmentRow, STRING_PIVOTS};
use arrow_array::{Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::arrow::ProjectionMask;
use rusqlite::types::Value;

/// A SQL value in a result row.
pub use rusqlite::types::Value as SqlValue;
use rusqlite::vtab::{
    eponymous_only_module, Context, Filters, IndexConstraintOp, IndexInfo, VTab, VTabConnection,
    VTabCursor,
};
use std::collections::VecDeque;
use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::{OrgId, Store};

/// Where the tiers are.
#[derive(Debug, Clone)]
pub struct SqlSource {
    /// The store file.
    pub store_path: PathBuf,
    /// The archive directory.
    pub archive_root: PathBuf,
}

/// SQL columns of `events`, in order.
pub fn columns() -> Vec<&'static str> {
    let mut out = vec!["org", "published", "published_us", "ingested_at"];
    out.extend(STRING_PIVOTS.iter().map(|p| p.name));
    out.extend(["asn", "seq", "tier", "raw"]);
    out
}

const SQL_ORG: usize = 0;
const SQL_PUBLISHED: usize = 1;
const SQL_PUBLISHED_US: usize = 2;
const SQL_INGESTED: usize = 3;
const SQL_STRING0: usize = 4;
const SQL_ASN: usize = SQL_STRING0 + STRING_PIVOTS.len();
const SQL_SEQ: usize = SQL_ASN + 1;
const SQL_TIER: usize = SQL_SEQ + 1;
const SQL_RAW: usize = SQL_TIER + 1;

/// The segment column behind a SQL column (None for org and tier).
fn schema_column(sql: usize) -> Option<usize> {
    match sql {
        SQL_PUBLISHED | SQL_PUBLISHED_US => Some(col::PUBLISHED),
        SQL_INGESTED => Some(col::INGESTED_AT),
        SQL_ASN => Some(col::ASN),
        SQL_SEQ => Some(col::SEQ),
        SQL_RAW => Some(col::RAW),
        c if (SQL_STRING0..SQL_ASN).contains(&c) => Some(col::STRING0 + (c - SQL_STRING0)),
        _ => None,
    }
}

/// What [`run`] hands its caller: the column names once, then each row.
pub enum SqlOutput<'a> {
    /// The result's column names.
    Header(&'a [String]),
    /// One result row.
    Row(Vec<Value>),
}

/// Runs `sql` over both tiers, calling `output` with the header and then each row. Returns the
/// number of rows.
pub fn run(
    source: &SqlSource,
    sql: &str,
    output: &mut dyn FnMut(SqlOutput<'_>) -> Result<(), ArchiveError>,
) -> Result<u64, ArchiveError> {
    let conn =
        rusqlite::Connection::open_in_memory().map_err(|e| ArchiveError::Sql(e.to_string()))?;
    conn.create_module(
        c"events",
        eponymous_only_module::<EventsTab>(),
        Some(Arc::new(source.clone())),
    )
    .map_err(|e| ArchiveError::Sql(e.to_string()))?;
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| ArchiveError::Sql(e.to_string()))?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    output(SqlOutput::Header(&names))?;
    let n = names.len();
    let mut rows = stmt
        .query([])
        .map_err(|e| ArchiveError::Sql(e.to_string()))?;
    let mut count = 0u64;
    while let Some(r) = rows.next().map_err(|e| ArchiveError::Sql(e.to_string()))? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(
                r.get::<_, Value>(i)
                    .map_err(|e| ArchiveError::Sql(e.to_string()))?,
            );
        }
        output(SqlOutput::Row(values))?;
        count += 1;
    }
    Ok(count)
}

#[repr(C)]
struct EventsTab {
    base: rusqlite::ffi::sqlite3_vtab,
    source: Arc<SqlSource>,
}

fn sql_error(e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::ModuleError(e.to_string())
}

unsafe impl<'vtab> VTab<'vtab> for EventsTab {
    type Aux = Arc<SqlSource>;
    type Cursor = EventsCursor;

    fn connect(
        _db: &mut VTabConnection,
        aux: Option<&Arc<SqlSource>>,
        _args: &[&[u8]],
    ) -> rusqlite::Result<(String, Self)> {
        let source = aux
            .cloned()
            .ok_or_else(|| sql_error("events: no store configured"))?;
        let cols: Vec<String> = columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ty = match i {
                    SQL_PUBLISHED_US | SQL_ASN | SQL_SEQ => "INTEGER",
                    _ => "TEXT",
                };
                format!("{c} {ty}")
            })
            .collect();
        Ok((
            format!("CREATE TABLE x({})", cols.join(", ")),
            EventsTab {
                base: rusqlite::ffi::sqlite3_vtab::default(),
                source,
            },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        // idx_str lists, per argument, "<op><column>" for the time constraints we can use.
        let mut plan = Vec::new();
        let mut usable = Vec::new();
        for (i, c) in info.constraints().enumerate() {
            let column = c.column() as usize;
            if !c.is_usable() || !(column == SQL_PUBLISHED || column == SQL_PUBLISHED_US) {
                continue;
            }
            let op = match c.operator() {
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ => "eq",
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GT => "gt",
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GE => "ge",
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LT => "lt",
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LE => "le",
                _ => continue,
            };
            usable.push(i);
            plan.push(format!("{op}{column}"));
        }
        for (n, i) in usable.iter().enumerate() {
            let mut usage = info.constraint_usage(*i);
            usage.set_argv_index(n as c_int + 1);
            usage.set_omit(false);
        }
        info.set_idx_str(&plan.join(","));
        // The columns the statement reads (all of ours are below bit 31).
        info.set_idx_num((info.col_used() & 0x7fff_ffff) as c_int);
        info.set_estimated_cost(if usable.is_empty() { 1e9 } else { 1e6 });
        Ok(())
    }

    fn open(&'vtab mut self) -> rusqlite::Result<EventsCursor> {
        let store = Store::open_read_only(&self.source.store_path).map_err(sql_error)?;
        Ok(EventsCursor {
            base: rusqlite::ffi::sqlite3_vtab_cursor::default(),
            store,
            root: self.source.archive_root.clone(),
            sources: VecDeque::new(),
            current: None,
            row: 0,
            rowid: 0,
            used: Vec::new(),
            since: i64::MIN,
            until: i64::MAX,
            reader: None,
        })
    }
}

enum Source {
    Segment {
        org: Arc<str>,
        path: PathBuf,
    },
    Hot {
        org: Arc<str>,
        id: OrgId,
        /// Read events with seq above this…
        after: i64,
        /// …up to this one: the seqs that can hold the time bounds.
        last: i64,
        /// The org's batch spans, for `ingested_at` (read once per statement).
        times: Arc<Vec<(i64, i64, i64)>>,
    },
}

struct Current {
    batch: RecordBatch,
    /// Segment column index → position in `batch`.
    positions: Vec<Option<usize>>,
    org: Arc<str>,
    tier: &'static str,
}

#[repr(C)]
struct EventsCursor {
    base: rusqlite::ffi::sqlite3_vtab_cursor,
    store: Store,
    root: PathBuf,
    sources: VecDeque<Source>,
    current: Option<Current>,
    row: usize,
    rowid: i64,
    /// Segment columns the query uses.
    used: Vec<usize>,
    since: i64,
    until: i64,
    reader: Option<(ParquetRecordBatchReader, Vec<Option<usize>>, Arc<str>)>,
}

fn bound_of(value: &rusqlite::types::ValueRef<'_>, text_column: bool) -> Option<i64> {
    match value {
        rusqlite::types::ValueRef::Integer(i) if !text_column => Some(*i),
        rusqlite::types::ValueRef::Text(t) => {
            let s = std::str::from_utf8(t).ok()?;
            let s = s.trim();
            let parsed = okta::event::parse_time(s)
                .map(|t| t.timestamp_micros())
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
                        .ok()?
                        .and_hms_opt(0, 0, 0)
                        .map(|t| t.and_utc().timestamp_micros())
                });
            parsed
        }
        _ => None,
    }
}

impl EventsCursor {
    fn load_next(&mut self) -> rusqlite::Result<()> {
        self.current = None;
        self.row = 0;
        loop {
            if let Some((reader, positions, org)) = &mut self.reader {
                match reader.next() {
                    Some(batch) => {
                        let batch = batch.map_err(sql_error)?;
                        if batch.num_rows() == 0 {
                            continue;
                        }
                        self.current = Some(Current {
                            batch,
                            positions: positions.clone(),
                            org: org.clone(),
                            tier: "archive",
                        });
                        return Ok(());
                    }
                    None => self.reader = None,
                }
            }
            let Some(source) = self.sources.pop_front() else {
                return Ok(());
            };
            match source {
                Source::Segment { org, path } => {
                    self.reader = Some(self.open_segment(&path, org)?);
                }
                Source::Hot {
                    org,
                    id,
                    after,
                    last,
                    times,
                } => {
                    let mut events = self.store.read_after(id, after, 4096).map_err(sql_error)?;
                    events.retain(|e| e.seq <= last);
                    let Some(read_to) = events.last().map(|e| e.seq) else {
                        continue;
                    };
                    if read_to < last {
                        self.sources.push_front(Source::Hot {
                            org: org.clone(),
                            id,
                            after: read_to,
                            last,
                            times: Arc::clone(&times),
                        });
                    }
                    let ingested = |seq: i64| {
                        let i = times.partition_point(|(start, _, _)| *start <= seq);
                        if i > 0 && seq < times[i - 1].0 + times[i - 1].1 {
                            times[i - 1].2
                        } else {
                            0
                        }
                    };
                    let rows: Vec<SegmentRow> = events
                        .into_iter()
                        .filter(|e| {
                            let t = e.event.published_micros();
                            t >= self.since && t < self.until
                        })
                        .map(|e| SegmentRow {
                            seq: e.seq,
                            ingested_at: ingested(e.seq),
                            event: e.event,
                        })
                        .collect();
                    if rows.is_empty() {
                        continue;
                    }
                    let batch = record_batch(&rows).map_err(sql_error)?;
                    self.current = Some(Current {
                        batch,
                        positions: (0..col::COUNT).map(Some).collect(),
                        org,
                        tier: "hot",
                    });
                    return Ok(());
                }
            }
        }
    }

    fn open_segment(
        &self,
        path: &Path,
        org: Arc<str>,
    ) -> rusqlite::Result<(ParquetRecordBatchReader, Vec<Option<usize>>, Arc<str>)> {
        let file =
            std::fs::File::open(path).map_err(|e| sql_error(format!("{}: {e}", path.display())))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(sql_error)?;
        let meta = builder.metadata().clone();
        let (since, until) = (self.since, self.until);
        let groups: Vec<usize> = (0..meta.num_row_groups())
            .filter(
                |i| match meta.row_group(*i).column(col::PUBLISHED).statistics() {
                    Some(parquet::file::statistics::Statistics::Int64(s)) => {
                        match (s.min_opt(), s.max_opt()) {
                            (Some(min), Some(max)) => *max >= since && *min < until,
                            _ => true,
                        }
                    }
                    _ => true,
                },
            )
            .collect();
        let schema_desc = builder.parquet_schema().clone();
        let mut builder = builder.with_row_groups(groups).with_batch_size(8192);
        if since != i64::MIN || until != i64::MAX {
            let filter = ArrowPredicateFn::new(
                ProjectionMask::roots(&schema_desc, [col::PUBLISHED]),
                move |batch: RecordBatch| {
                    let t = batch
                        .column(0)
                        .as_any()
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .cloned();
                    Ok((0..batch.num_rows())
                        .map(|i| {
                            Some(
                                t.as_ref()
                                    .is_none_or(|t| t.value(i) >= since && t.value(i) < until),
                            )
                        })
                        .collect())
                },
            );
            builder = builder.with_row_filter(RowFilter::new(vec![Box::new(filter)]));
        }
        let mut used = self.used.clone();
        if used.is_empty() {
            used.push(col::SEQ);
        }
        let mut positions = vec![None; col::COUNT];
        for (p, c) in used.iter().enumerate() {
            positions[*c] = Some(p);
        }
        let reader = builder
            .with_projection(ProjectionMask::roots(&schema_desc, used))
            .build()
            .map_err(sql_error)?;
        Ok((reader, positions, org))
    }
}

unsafe impl VTabCursor for EventsCursor {
    fn filter(
        &mut self,
        idx_num: c_int,
        idx_str: Option<&str>,
        args: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        let used_mask = idx_num as u64;
        let mut used: Vec<usize> = (0..columns().len())
            .filter(|c| used_mask & (1u64 << (*c).min(63)) != 0)
            .filter_map(schema_column)
            .collect();
        used.sort_unstable();
        used.dedup();
        self.used = used;
        self.since = i64::MIN;
        self.until = i64::MAX;
        let plan: Vec<&str> = idx_str
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .collect();
        for (i, item) in plan.iter().enumerate() {
            let (op, column) = item.split_at(2);
            let text = column.parse::<usize>().ok() == Some(SQL_PUBLISHED);
            let Some(value) = args.iter().nth(i) else {
                continue;
            };
            let Some(v) = bound_of(&value, text) else {
                continue;
            };
            // Text comparisons are lexicographic: widen by a day to stay conservative.
            let slack = if text { 86_400_000_000 } else { 0 };
            match op {
                "gt" | "ge" => self.since = self.since.max(v - slack),
                "lt" => self.until = self.until.min(v + slack),
                "le" => self.until = self.until.min(v + 1 + slack),
                "eq" => {
                    self.since = self.since.max(v - slack);
                    self.until = self.until.min(v + 1 + slack);
                }
                _ => {}
            }
        }
        self.sources.clear();
        self.reader = None;
        for (id, name) in self.store.orgs().map_err(sql_error)? {
            let org: Arc<str> = name.into();
            let since = (self.since != i64::MIN).then_some(self.since);
            let until = (self.until != i64::MAX).then_some(self.until);
            for s in self
                .store
                .live_segments(id, since, until)
                .map_err(sql_error)?
            {
                self.sources.push_back(Source::Segment {
                    org: org.clone(),
                    path: self.root.join(&s.record.path),
                });
            }
            // Only the seqs whose events can be in the time bounds (the published index
            // answers this), so a bounded statement does not decode the whole hot tier.
            let span = self
                .store
                .seq_span_published(id, self.since, self.until)
                .map_err(sql_error)?;
            if let Some((first, last)) = span {
                let times = Arc::new(self.store.batch_times(id).map_err(sql_error)?);
                self.sources.push_back(Source::Hot {
                    org,
                    id,
                    after: first - 1,
                    last,
                    times,
                });
            }
        }
        self.rowid = 0;
        self.load_next()
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.rowid += 1;
        self.row += 1;
        if self
            .current
            .as_ref()
            .is_some_and(|c| self.row >= c.batch.num_rows())
        {
            self.load_next()?;
        }
        Ok(())
    }

    fn eof(&self) -> bool {
        self.current.is_none()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let Some(current) = &self.current else {
            return ctx.set_result(&Value::Null);
        };
        let i = i as usize;
        let row = self.row;
        if i == SQL_ORG {
            return ctx.set_result(&current.org.as_ref());
        }
        if i == SQL_TIER {
            return ctx.set_result(&current.tier);
        }
        let Some(position) = schema_column(i).and_then(|c| current.positions[c]) else {
            return ctx.set_result(&Value::Null);
        };
        let array = current.batch.column(position);
        if array.is_null(row) {
            return ctx.set_result(&Value::Null);
        }
        if let Some(t) = array.as_any().downcast_ref::<TimestampMicrosecondArray>() {
            let v = t.value(row);
            if i == SQL_PUBLISHED_US {
                return ctx.set_result(&v);
            }
            let text = chrono::DateTime::<chrono::Utc>::from_timestamp_micros(v)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .unwrap_or_default();
            return ctx.set_result(&text);
        }
        if let Some(s) = array.as_any().downcast_ref::<StringArray>() {
            return ctx.set_result(&s.value(row));
        }
        if let Some(n) = array.as_any().downcast_ref::<Int64Array>() {
            return ctx.set_result(&n.value(row));
        }
        ctx.set_result(&Value::Null)
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.rowid)
    }
}
