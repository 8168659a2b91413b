//! The segment schema: pivot columns an engine can filter on without touching JSON, the store
//! seq, and the raw JSON exactly as received. Every string pivot holds the JSON string at its
//! path, or null when the value there is missing or not a string (so a non-null pivot is exactly
//! what the filter evaluator would see; a null one says "read the raw JSON").
//!
//! `org`, `date` and `hour` are not columns: they are Hive partition keys in the path.

use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use okta::LogEvent;
use std::sync::{Arc, OnceLock};

/// An event on its way into a segment.
#[derive(Debug, Clone)]
pub struct SegmentRow {
    /// Store insertion sequence.
    pub seq: i64,
    /// When the store committed it (µs).
    pub ingested_at: i64,
    /// The event.
    pub event: LogEvent,
}

/// A string pivot column: its name and the Okta attribute path it holds.
#[derive(Debug, Clone, Copy)]
pub struct PivotColumn {
    /// Column name.
    pub name: &'static str,
    /// Okta attribute path (as in the filter syntax).
    pub attr: &'static str,
}

/// The string pivots, in schema order after `published` and `ingested_at`.
pub const STRING_PIVOTS: &[PivotColumn] = &[
    PivotColumn {
        name: "event_type",
        attr: "eventType",
    },
    PivotColumn {
        name: "severity",
        attr: "severity",
    },
    PivotColumn {
        name: "outcome",
        attr: "outcome.result",
    },
    PivotColumn {
        name: "actor_id",
        attr: "actor.id",
    },
    PivotColumn {
        name: "actor_alternate_id",
        attr: "actor.alternateId",
    },
    PivotColumn {
        name: "actor_type",
        attr: "actor.type",
    },
    PivotColumn {
        name: "client_ip",
        attr: "client.ipAddress",
    },
    PivotColumn {
        name: "country",
        attr: "client.geographicalContext.country",
    },
    PivotColumn {
        name: "session_id",
        attr: "authenticationContext.externalSessionId",
    },
    PivotColumn {
        name: "root_session_id",
        attr: "authenticationContext.rootSessionId",
    },
    PivotColumn {
        name: "transaction_id",
        attr: "transaction.id",
    },
    PivotColumn {
        name: "uuid",
        attr: "uuid",
    },
];

/// The integer pivot `asn` holds `securityContext.asNumber`.
pub const ASN_ATTR: &str = "securityContext.asNumber";

/// Column indexes (in [`schema`]).
pub mod col {
    /// `published`, timestamp µs UTC.
    pub const PUBLISHED: usize = 0;
    /// `ingested_at`, timestamp µs UTC.
    pub const INGESTED_AT: usize = 1;
    /// First string pivot; string pivot `i` is at `STRING0 + i`.
    pub const STRING0: usize = 2;
    /// `asn`.
    pub const ASN: usize = STRING0 + super::STRING_PIVOTS.len();
    /// `seq`.
    pub const SEQ: usize = ASN + 1;
    /// `raw`.
    pub const RAW: usize = SEQ + 1;
    /// Number of columns.
    pub const COUNT: usize = RAW + 1;
}

/// Index of the string pivot named `name`.
pub fn string_pivot(name: &str) -> Option<usize> {
    STRING_PIVOTS.iter().position(|p| p.name == name)
}

/// The Arrow schema of a segment.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
            let mut fields = vec![
                Field::new("published", ts.clone(), false),
                Field::new("ingested_at", ts, false),
            ];
            for p in STRING_PIVOTS {
                let required = matches!(p.name, "event_type" | "uuid");
                fields.push(Field::new(p.name, DataType::Utf8, !required));
            }
            fields.push(Field::new("asn", DataType::Int64, true));
            fields.push(Field::new("seq", DataType::Int64, false));
            fields.push(Field::new("raw", DataType::Utf8, false));
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// The JSON string at a dotted path, if it is a string.
pub fn string_at<'a>(event: &'a LogEvent, path: &str) -> Option<&'a str> {
    let mut node = event.doc();
    for part in path.split('.') {
        node = node.as_object()?.get(part)?;
    }
    node.as_str()
}

/// The integer at a dotted path, if it is one.
pub fn int_at(event: &LogEvent, path: &str) -> Option<i64> {
    let mut node = event.doc();
    for part in path.split('.') {
        node = node.as_object()?.get(part)?;
    }
    node.as_i64()
}

/// Builds one record batch from rows (in the order given).
pub fn record_batch(rows: &[SegmentRow]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let n = rows.len();
    let mut published = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut ingested = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut strings: Vec<StringBuilder> = STRING_PIVOTS
        .iter()
        .map(|_| StringBuilder::with_capacity(n, n * 16))
        .collect();
    let mut asn = Int64Builder::with_capacity(n);
    let mut seq = Int64Builder::with_capacity(n);
    let raw_bytes: usize = rows.iter().map(|r| r.event.raw().len()).sum();
    let mut raw = StringBuilder::with_capacity(n, raw_bytes);
    for row in rows {
        published.append_value(row.event.published_micros());
        ingested.append_value(row.ingested_at);
        for (builder, pivot) in strings.iter_mut().zip(STRING_PIVOTS) {
            let value = match pivot.name {
                "event_type" => Some(row.event.event_type()),
                "uuid" => Some(row.event.uuid().0.as_str()),
                _ => string_at(&row.event, pivot.attr),
            };
            builder.append_option(value);
        }
        asn.append_option(int_at(&row.event, ASN_ATTR));
        seq.append_value(row.seq);
        raw.append_value(row.event.raw());
    }
    let mut columns: Vec<ArrayRef> =
        vec![Arc::new(published.finish()), Arc::new(ingested.finish())];
    for mut b in strings {
        columns.push(Arc::new(b.finish()));
    }
    columns.push(Arc::new(asn.finish()));
    columns.push(Arc::new(seq.finish()));
    columns.push(Arc::new(raw.finish()));
    RecordBatch::try_new(schema(), columns)
}
