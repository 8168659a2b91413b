//! `idwatch sql`: SQL for analysts, planned and run by DataFusion over one `events` table that
//! spans both tiers. It lives in its own crate so DataFusion stays out of everything that
//! ingests and detects (only the CLI links it).
//!
//! | column | type | from |
//! |---|---|---|
//! | `org` | VARCHAR | the org name |
//! | `published` | TIMESTAMP (µs, UTC) | `published`; compare with `'2024-03-01T12:00:00Z'` |
//! | `published_us` | BIGINT | µs since the epoch |
//! | `ingested_at` | TIMESTAMP (µs, UTC) | when the store committed it |
//! | `event_type` … `uuid` | VARCHAR | the pivot columns of the segment schema |
//! | `asn` | BIGINT | `securityContext.asNumber` |
//! | `seq` | BIGINT | store insertion sequence |
//! | `tier` | VARCHAR | `hot` or `archive` |
//! | `raw` | VARCHAR | the event's JSON exactly as received (`json_extract(raw, '$.path')`) |
//!
//! `events` is a view: per org, `UNION ALL` of an archive table and a hot table. DataFusion
//! pushes projections and filters through the view into both. The archive table prunes segment
//! files by the catalog's time bounds on `published`, then hands the rest to DataFusion's
//! Parquet scan (row-group statistics, only the columns used are decoded). The hot table reads
//! only the seqs the store's published index puts in the time bounds and streams them as Arrow
//! batches from a blocking thread. Every filter is re-checked above the scans, so pruning only
//! has to be conservative.

mod json;
mod tables;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;

/// Where the tiers are.
#[derive(Debug, Clone)]
pub struct SqlSource {
    /// The store file.
    pub store_path: PathBuf,
    /// The archive directory.
    pub archive_root: PathBuf,
}

/// A SQL value in a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// Integers and booleans (1/0).
    Integer(i64),
    /// Floating point.
    Real(f64),
    /// Strings, timestamps (RFC 3339, `Z`) and everything else, as DataFusion displays it.
    Text(String),
}

/// What [`run`] hands its caller: the column names once, then each row.
pub enum SqlOutput<'a> {
    /// The result's column names.
    Header(&'a [String]),
    /// One result row.
    Row(Vec<SqlValue>),
}

/// Why a statement did not run.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The statement is invalid or failed (DataFusion's message).
    #[error("{0}")]
    Sql(String),
    /// The store could not be read.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The caller's output failed.
    #[error("output: {0}")]
    Output(String),
}

fn df(e: impl std::fmt::Display) -> SqlError {
    SqlError::Sql(e.to_string())
}

/// The names of `events`' columns, in order.
pub fn columns() -> Vec<&'static str> {
    let mut out = vec!["org", "published", "published_us", "ingested_at"];
    out.extend(archive::schema::STRING_PIVOTS.iter().map(|p| p.name));
    out.extend(["asn", "seq", "tier", "raw"]);
    out
}

/// Runs `sql` over both tiers, calling `output` with the header and then each row. Returns the
/// number of rows.
pub fn run(
    source: &SqlSource,
    sql: &str,
    output: &mut dyn FnMut(SqlOutput<'_>) -> Result<(), SqlError>,
) -> Result<u64, SqlError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SqlError::Sql(format!("starting the query runtime: {e}")))?;
    runtime.block_on(run_async(source, sql, output))
}

async fn run_async(
    source: &SqlSource,
    sql: &str,
    output: &mut dyn FnMut(SqlOutput<'_>) -> Result<(), SqlError>,
) -> Result<u64, SqlError> {
    let ctx = context(source).await?;
    let frame = ctx.sql(sql).await.map_err(df)?;
    let names: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    output(SqlOutput::Header(&names))?;
    let mut stream = frame.execute_stream().await.map_err(df)?;
    let mut count = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(df)?;
        for row in rows(&batch)? {
            output(SqlOutput::Row(row))?;
            count += 1;
        }
    }
    Ok(count)
}

/// A session with `events` (and `json_extract`) registered over the store's orgs.
async fn context(source: &SqlSource) -> Result<SessionContext, SqlError> {
    let mut config = SessionConfig::new().with_target_partitions(2);
    // Our columns are plain Utf8 in both tiers; keep them so (and so `json_extract` sees one
    // string type).
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    config.options_mut().execution.parquet.pushdown_filters = true;
    let ctx = SessionContext::new_with_config(config);
    ctx.register_udf(json::json_extract());
    let store = Store::open_read_only(&source.store_path)?;
    let mut arms = Vec::new();
    let empty = MemTable::try_new(archive::schema::schema(), vec![vec![]]).map_err(df)?;
    ctx.register_table("__empty", Arc::new(empty)).map_err(df)?;
    arms.push(arm("", "hot", "__empty"));
    for (id, name) in store.orgs()? {
        let hot = format!("__hot_{}", id.0);
        let cold = format!("__archive_{}", id.0);
        ctx.register_table(
            hot.as_str(),
            Arc::new(tables::TierTable::new(
                source.store_path.clone(),
                id,
                tables::Tier::Hot,
            )),
        )
        .map_err(df)?;
        ctx.register_table(
            cold.as_str(),
            Arc::new(tables::TierTable::new(
                source.store_path.clone(),
                id,
                tables::Tier::Archive(source.archive_root.clone()),
            )),
        )
        .map_err(df)?;
        arms.push(arm(&name, "hot", &hot));
        arms.push(arm(&name, "archive", &cold));
    }
    let view = format!("CREATE VIEW events AS {}", arms.join(" UNION ALL "));
    ctx.sql(&view).await.map_err(df)?;
    Ok(ctx)
}

/// One `SELECT` of the `events` view over table `table`.
fn arm(org: &str, tier: &str, table: &str) -> String {
    let org = org.replace('\'', "''");
    let pivots: Vec<&str> = archive::schema::STRING_PIVOTS
        .iter()
        .map(|p| p.name)
        .collect();
    format!(
        "SELECT CAST('{org}' AS VARCHAR) AS org, published, \
         CAST(published AS BIGINT) AS published_us, ingested_at, {}, asn, seq, \
         CAST('{tier}' AS VARCHAR) AS tier, raw FROM {table}",
        pivots.join(", ")
    )
}

/// Converts a result batch into rows of [`SqlValue`]s.
fn rows(batch: &RecordBatch) -> Result<Vec<Vec<SqlValue>>, SqlError> {
    let n = batch.num_rows();
    let mut out: Vec<Vec<SqlValue>> = (0..n)
        .map(|_| Vec::with_capacity(batch.num_columns()))
        .collect();
    let options = FormatOptions::default().with_null("");
    for column in batch.columns() {
        let formatter = ArrayFormatter::try_new(column.as_ref(), &options).map_err(df)?;
        for (i, row) in out.iter_mut().enumerate() {
            row.push(value(column.as_ref(), i, &formatter));
        }
    }
    Ok(out)
}

fn value(array: &dyn Array, i: usize, formatter: &ArrayFormatter<'_>) -> SqlValue {
    use datafusion::arrow::datatypes as t;
    if array.is_null(i) {
        return SqlValue::Null;
    }
    match array.data_type() {
        DataType::Boolean => SqlValue::Integer(array.as_boolean().value(i) as i64),
        DataType::Int8 => SqlValue::Integer(array.as_primitive::<t::Int8Type>().value(i) as i64),
        DataType::Int16 => SqlValue::Integer(array.as_primitive::<t::Int16Type>().value(i) as i64),
        DataType::Int32 => SqlValue::Integer(array.as_primitive::<t::Int32Type>().value(i) as i64),
        DataType::Int64 => SqlValue::Integer(array.as_primitive::<t::Int64Type>().value(i)),
        DataType::UInt8 => SqlValue::Integer(array.as_primitive::<t::UInt8Type>().value(i) as i64),
        DataType::UInt16 => {
            SqlValue::Integer(array.as_primitive::<t::UInt16Type>().value(i) as i64)
        }
        DataType::UInt32 => {
            SqlValue::Integer(array.as_primitive::<t::UInt32Type>().value(i) as i64)
        }
        DataType::UInt64 => {
            let v = array.as_primitive::<t::UInt64Type>().value(i);
            i64::try_from(v)
                .map(SqlValue::Integer)
                .unwrap_or_else(|_| SqlValue::Text(v.to_string()))
        }
        DataType::Float32 => SqlValue::Real(array.as_primitive::<t::Float32Type>().value(i) as f64),
        DataType::Float64 => SqlValue::Real(array.as_primitive::<t::Float64Type>().value(i)),
        DataType::Timestamp(unit, _) => {
            let micros = match unit {
                TimeUnit::Second => {
                    array.as_primitive::<t::TimestampSecondType>().value(i) * 1_000_000
                }
                TimeUnit::Millisecond => {
                    array.as_primitive::<t::TimestampMillisecondType>().value(i) * 1_000
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<t::TimestampMicrosecondType>().value(i)
                }
                TimeUnit::Nanosecond => {
                    array.as_primitive::<t::TimestampNanosecondType>().value(i) / 1_000
                }
            };
            match chrono::DateTime::<chrono::Utc>::from_timestamp_micros(micros) {
                Some(t) => SqlValue::Text(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
                None => SqlValue::Text(formatter.value(i).to_string()),
            }
        }
        _ => SqlValue::Text(formatter.value(i).to_string()),
    }
}
