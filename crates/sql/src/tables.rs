//! The table provider behind `events`, [`TierTable`], one per org and tier: the archive's live
//! Parquet segments (pruned by the catalog's time bounds, then scanned by DataFusion's Parquet
//! reader) or the hot tier (read in seq order from the store and turned into the segment
//! schema's Arrow batches on a blocking thread). Both take every filter as
//! `Inexact` (DataFusion re-checks them) and derive time bounds on `published` from the ones
//! they understand.

use archive::schema::{record_batch, schema, SegmentRow};
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use store::{OrgId, Store};

/// Hot-tier events read per batch.
const HOT_BATCH: usize = 4096;

/// `[since, until)` in µs on `published`, from the filters that bound it.
pub(crate) fn time_bounds(filters: &[Expr]) -> (i64, i64) {
    let (mut since, mut until) = (i64::MIN, i64::MAX);
    for filter in filters {
        bound(filter, &mut since, &mut until);
    }
    (since, until)
}

fn bound(expr: &Expr, since: &mut i64, until: &mut i64) {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return;
    };
    if *op == Operator::And {
        bound(left, since, until);
        bound(right, since, until);
        return;
    }
    let (op, value) = match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) if c.name == "published" => (*op, v),
        (Expr::Literal(v, _), Expr::Column(c)) if c.name == "published" => {
            let Some(swapped) = op.swap() else { return };
            (swapped, v)
        }
        _ => return,
    };
    let Some(v) = micros(value) else { return };
    match op {
        Operator::Gt => *since = (*since).max(v.saturating_add(1)),
        Operator::GtEq => *since = (*since).max(v),
        Operator::Lt => *until = (*until).min(v),
        Operator::LtEq => *until = (*until).min(v.saturating_add(1)),
        Operator::Eq => {
            *since = (*since).max(v);
            *until = (*until).min(v.saturating_add(1));
        }
        _ => {}
    }
}

/// A timestamp literal in µs (rounded outward never matters: sub-µs literals are floored and
/// `Gt`/`Lt` stay conservative because DataFusion re-checks).
fn micros(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
        _ => None,
    }
}

fn store_error(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::External(e.to_string().into())
}

/// Which tier a [`TierTable`] reads.
#[derive(Debug)]
pub(crate) enum Tier {
    /// The sealed segments under this archive root.
    Archive(PathBuf),
    /// The hot tier.
    Hot,
}

/// One org's events in one tier.
#[derive(Debug)]
pub(crate) struct TierTable {
    store_path: PathBuf,
    org: OrgId,
    tier: Tier,
}

impl TierTable {
    pub(crate) fn new(store_path: PathBuf, org: OrgId, tier: Tier) -> Self {
        TierTable {
            store_path,
            org,
            tier,
        }
    }

    /// Live segments that can hold `[since, until)`, then DataFusion's Parquet scan over them.
    async fn scan_archive(
        &self,
        root: &std::path::Path,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
        (since, until): (i64, i64),
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let store = Store::open_read_only(&self.store_path).map_err(store_error)?;
        let segments = store
            .live_segments(
                self.org,
                (since != i64::MIN).then_some(since),
                (until != i64::MAX).then_some(until),
            )
            .map_err(store_error)?;
        drop(store);
        if segments.is_empty() {
            let projected = match projection {
                Some(p) => Arc::new(schema().project(p)?),
                None => schema(),
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let urls = segments
            .iter()
            .map(|s| ListingTableUrl::parse(root.join(&s.record.path).to_string_lossy()))
            .collect::<Result<Vec<_>>>()?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_collect_stat(false)
            .with_target_partitions(state.config().target_partitions());
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema());
        ListingTable::try_new(config)?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[async_trait]
impl TableProvider for TierTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let bounds = time_bounds(filters);
        let Tier::Archive(root) = &self.tier else {
            let partition = HotPartition {
                schema: schema(),
                store_path: self.store_path.clone(),
                org: self.org,
                since: bounds.0,
                until: bounds.1,
            };
            return Ok(Arc::new(StreamingTableExec::try_new(
                schema(),
                vec![Arc::new(partition)],
                projection,
                [],
                false,
                limit,
            )?));
        };
        self.scan_archive(root, state, projection, filters, limit, bounds)
            .await
    }
}

#[derive(Debug)]
struct HotPartition {
    schema: SchemaRef,
    store_path: PathBuf,
    org: OrgId,
    since: i64,
    until: i64,
}

impl PartitionStream for HotPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
        let (path, org, since, until) = (self.store_path.clone(), self.org, self.since, self.until);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = read_hot(&path, org, since, until, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|batch| (batch, rx))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// Sends `org`'s hot events published in `[since, until)` as batches; stops early when the
/// receiver is gone (the query finished or hit its limit).
fn read_hot(
    path: &std::path::Path,
    org: OrgId,
    since: i64,
    until: i64,
    tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let store = Store::open_read_only(path).map_err(store_error)?;
    // Only the seqs whose events can be in the bounds (the published index answers this).
    let Some((first, last)) = store
        .seq_span_published(org, since, until)
        .map_err(store_error)?
    else {
        return Ok(());
    };
    let times = store.batch_times(org).map_err(store_error)?;
    let ingested = |seq: i64| {
        let i = times.partition_point(|(start, _, _)| *start <= seq);
        if i > 0 && seq < times[i - 1].0 + times[i - 1].1 {
            times[i - 1].2
        } else {
            0
        }
    };
    let mut after = first - 1;
    while after < last {
        let events = store
            .read_after(org, after, HOT_BATCH)
            .map_err(store_error)?;
        let Some(read_to) = events.last().map(|e| e.seq) else {
            break;
        };
        after = read_to;
        let rows: Vec<SegmentRow> = events
            .into_iter()
            .filter(|e| e.seq <= last)
            .filter(|e| {
                let t = e.event.published_micros();
                t >= since && t < until
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
        let batch = record_batch(&rows)?;
        if tx.blocking_send(Ok(batch)).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn ts(v: i64) -> Expr {
        lit(ScalarValue::TimestampMicrosecond(
            Some(v),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn bounds_come_from_comparisons_on_published_only() {
        let f = [
            col("published").gt_eq(ts(100)),
            ts(500).gt(col("published")),
            col("ingested_at").lt(ts(200)),
        ];
        assert_eq!(time_bounds(&f), (100, 500));
        let f = [col("published")
            .gt(ts(100))
            .and(col("published").lt_eq(ts(300)))];
        assert_eq!(time_bounds(&f), (101, 301));
        let f = [col("published").eq(ts(7))];
        assert_eq!(time_bounds(&f), (7, 8));
        // An OR is not a bound.
        let f = [col("published").lt(ts(1)).or(col("published").gt(ts(9)))];
        assert_eq!(time_bounds(&f), (i64::MIN, i64::MAX));
        let f = [col("published").gt(ts(i64::MAX))];
        assert_eq!(time_bounds(&f), (i64::MAX, i64::MAX));
    }
}
