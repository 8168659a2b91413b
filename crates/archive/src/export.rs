//! `idwatch export`: a hand-off copy of an org's events (both tiers) published in a time range,
//! as NDJSON (one raw event per line, exactly as received) or as Parquet in the archive's own
//! schema and Hive layout (`DIR/org=…/date=…/part-00000000.parquet`, one file per day).

use crate::error::ArchiveError;
use crate::layout::{date_of, encode_org};
use crate::schema::SegmentRow;
use crate::tiers::Tiers;
use crate::writer::write_segment;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use store::{EventQuery, OrgId};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Parquet, one file per day.
    Parquet,
    /// One JSON event per line.
    Ndjson,
}

/// What an export wrote.
#[derive(Debug, Default, Clone)]
pub struct ExportReport {
    /// Events written.
    pub events: u64,
    /// Files written.
    pub files: Vec<String>,
    /// Bytes written.
    pub bytes: u64,
}

/// Exports `org`'s events published in `[since, until)` into `dir`.
pub fn export(
    tiers: &Tiers<'_>,
    org: OrgId,
    org_name: &str,
    since: Option<i64>,
    until: Option<i64>,
    format: ExportFormat,
    dir: &Path,
) -> Result<ExportReport, ArchiveError> {
    std::fs::create_dir_all(dir).map_err(ArchiveError::io(dir))?;
    let query = EventQuery {
        since,
        until,
        ordered: true,
        ..EventQuery::default()
    };
    let times = tiers.store().batch_times(org)?;
    let ingested = |seq: i64| {
        let i = times.partition_point(|(start, _, _)| *start <= seq);
        if i > 0 && seq < times[i - 1].0 + times[i - 1].1 {
            times[i - 1].2
        } else {
            0
        }
    };
    let mut report = ExportReport::default();
    let mut failure: Option<ArchiveError> = None;
    match format {
        ExportFormat::Ndjson => {
            let name = format!("{}-events.ndjson", encode_org(org_name));
            let path = dir.join(&name);
            let file = std::fs::File::create(&path).map_err(ArchiveError::io(&path))?;
            let mut out = std::io::BufWriter::new(file);
            tiers.query(org, &query, &mut |e| {
                let raw = e.event.raw();
                let line = if raw.contains('\n') {
                    e.event.doc().to_string()
                } else {
                    raw.to_string()
                };
                if let Err(err) = writeln!(out, "{line}") {
                    failure = Some(ArchiveError::Io {
                        path: path.clone(),
                        source: err,
                    });
                    return ControlFlow::Break(());
                }
                report.events += 1;
                report.bytes += line.len() as u64 + 1;
                ControlFlow::Continue(())
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
            out.flush().map_err(ArchiveError::io(&path))?;
            report.files.push(name);
        }
        ExportFormat::Parquet => {
            let mut day: Option<String> = None;
            let mut rows: Vec<SegmentRow> = Vec::new();
            let flush = |day: &str, rows: &mut Vec<SegmentRow>, report: &mut ExportReport| {
                if rows.is_empty() {
                    return Ok::<(), ArchiveError>(());
                }
                let rel = format!(
                    "org={}/date={day}/part-00000000.parquet",
                    encode_org(org_name)
                );
                let written = write_segment(dir, &rel, rows)?;
                report.events += written.rows as u64;
                report.bytes += written.bytes as u64;
                report.files.push(rel);
                rows.clear();
                Ok(())
            };
            tiers.query(org, &query, &mut |e| {
                let d = date_of(e.event.published_micros());
                if day.as_deref() != Some(d.as_str()) {
                    if let Some(previous) = day.take() {
                        if let Err(err) = flush(&previous, &mut rows, &mut report) {
                            failure = Some(err);
                            return ControlFlow::Break(());
                        }
                    }
                    day = Some(d);
                }
                rows.push(SegmentRow {
                    seq: e.seq,
                    ingested_at: ingested(e.seq),
                    event: e.event,
                });
                ControlFlow::Continue(())
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
            if let Some(d) = day {
                flush(&d, &mut rows, &mut report)?;
            }
        }
    }
    Ok(report)
}
