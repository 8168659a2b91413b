//! The archive writer: sealing hot events into hourly segments, compacting a day's segments
//! into one file sorted by `published`, and retention. One writer at a time per archive (an
//! exclusive lock on `ROOT/.lock`); opening the writer first cleans up after any crash.
//!
//! Sealing takes whole hot blocks (the 32-event compression units of the store) whose every
//! event is older than the cutoff, so a block is either entirely hot or entirely sealed. For each
//! chunk of blocks: record the segments as `writing`, write and fsync the files, then one store
//! transaction makes them live, chains them and deletes the hot rows (`Store::commit_seal`).

use crate::error::ArchiveError;
use crate::layout::{daily_path, date_of, day_start, hour_of, hourly_path, temp_name};
use crate::reader::read_rows;
use crate::schema::SegmentRow;
use crate::writer::{sync_dir, write_segment, Written};
use okta::LogEvent;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use store::segments::{SealedBlock, SegmentRecord, SegmentState, SeqRuns};
use store::{OrgId, Store};

/// Events read from the hot tier per seal transaction.
pub const SEAL_CHUNK_EVENTS: usize = 200_000;

/// The archive, opened for writing (sealing, compaction, retention).
#[derive(Debug)]
pub struct ArchiveWriter {
    root: PathBuf,
    _lock: std::fs::File,
}

/// What a seal run did.
#[derive(Debug, Default, Clone)]
pub struct SealReport {
    /// Events moved from the hot tier into segments.
    pub events: u64,
    /// Hourly segments written.
    pub segments: u64,
    /// Bytes written (hourly files).
    pub bytes: u64,
    /// Days compacted.
    pub days_compacted: u64,
    /// Segments replaced by compaction.
    pub segments_replaced: u64,
    /// Bytes of the compacted files.
    pub compacted_bytes: u64,
}

/// What a retention run did.
#[derive(Debug, Default, Clone)]
pub struct RetainReport {
    /// Segments dropped.
    pub segments: u64,
    /// Events they held.
    pub events: u64,
    /// Date partitions removed.
    pub dates: Vec<String>,
}

/// What opening the writer cleaned up after a crash.
#[derive(Debug, Default, Clone)]
pub struct Cleanup {
    /// Segments that were being written (files deleted, catalog rows forgotten).
    pub pending: u64,
    /// Files of replaced or retained segments still on disk, deleted.
    pub superseded: u64,
    /// `*.tmp` files deleted.
    pub temporary: u64,
}

impl ArchiveWriter {
    /// Takes the writer lock on `root` (failing at once if another process holds it) and
    /// cleans up what a crash left behind.
    pub fn open(store: &mut Store, root: &Path) -> Result<(ArchiveWriter, Cleanup), ArchiveError> {
        std::fs::create_dir_all(root).map_err(ArchiveError::io(root))?;
        let lock_path = root.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(ArchiveError::io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ArchiveError::Locked(root.to_path_buf()))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(ArchiveError::Io {
                    path: lock_path,
                    source: e,
                })
            }
        }
        let writer = ArchiveWriter {
            root: root.to_path_buf(),
            _lock: lock,
        };
        let cleanup = writer.clean_up(store)?;
        Ok((writer, cleanup))
    }

    /// The archive directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn clean_up(&self, store: &mut Store) -> Result<Cleanup, ArchiveError> {
        let mut cleanup = Cleanup::default();
        for (id, rel) in store.pending_segments()? {
            let path = self.root.join(&rel);
            remove_if_exists(&temp_name(&path))?;
            remove_if_exists(&path)?;
            store.forget_pending_segment(id)?;
            tracing::info!(segment = id, path = %rel, "removed a segment left by an interrupted seal");
            cleanup.pending += 1;
        }
        for segment in store.segments(None)? {
            if matches!(
                segment.state,
                SegmentState::Replaced | SegmentState::Retained
            ) {
                let path = self.root.join(&segment.record.path);
                if remove_if_exists(&path)? {
                    cleanup.superseded += 1;
                }
            }
        }
        for file in walk_files(&self.root)? {
            if file.extension().is_some_and(|e| e == "tmp") {
                remove_if_exists(&file)?;
                cleanup.temporary += 1;
            }
        }
        Ok(cleanup)
    }

    /// Seals every hot event of `org` (or of every org) published before `cutoff` (µs), then
    /// compacts every day that ended before `cutoff` and has more than one file.
    pub fn seal(
        &self,
        store: &mut Store,
        org: Option<OrgId>,
        cutoff: i64,
    ) -> Result<SealReport, ArchiveError> {
        let orgs: Vec<(OrgId, String)> = store
            .orgs()?
            .into_iter()
            .filter(|(id, _)| org.is_none_or(|o| o == *id))
            .collect();
        let mut report = SealReport::default();
        for (id, name) in &orgs {
            loop {
                let blocks = store.blocks_to_seal(*id, cutoff, SEAL_CHUNK_EVENTS)?;
                if blocks.is_empty() {
                    break;
                }
                self.seal_blocks(store, *id, name, blocks, &mut report)?;
            }
            self.compact(store, *id, name, cutoff, &mut report)?;
        }
        Ok(report)
    }

    fn seal_blocks(
        &self,
        store: &mut Store,
        org: OrgId,
        org_name: &str,
        blocks: Vec<store::segments::HotBlock>,
        report: &mut SealReport,
    ) -> Result<(), ArchiveError> {
        let mut by_hour: BTreeMap<(String, u32), Vec<SegmentRow>> = BTreeMap::new();
        let mut sealed = Vec::with_capacity(blocks.len());
        for block in blocks {
            let mut targets = Vec::new();
            let count = block.raws.len() as i64;
            for (i, raw) in block.raws.into_iter().enumerate() {
                let seq = block.first_seq + i as i64;
                let event = LogEvent::parse(&raw).map_err(|e| ArchiveError::Corrupt {
                    path: store.path().to_path_buf(),
                    reason: format!("hot event seq {seq} does not parse: {e}"),
                })?;
                for value in store::pivots::PivotValues::of(&event).targets {
                    targets.push((seq, value.to_string()));
                }
                let t = event.published_micros();
                by_hour
                    .entry((date_of(t), hour_of(t)))
                    .or_default()
                    .push(SegmentRow {
                        seq,
                        ingested_at: block.ingested_at.get(i).copied().unwrap_or(0),
                        event,
                    });
            }
            sealed.push(SealedBlock {
                id: block.id,
                first_seq: block.first_seq,
                count,
                targets,
            });
        }
        let mut records = Vec::with_capacity(by_hour.len());
        let mut written_paths = Vec::new();
        let result = (|| -> Result<(), ArchiveError> {
            for ((date, hour), mut rows) in by_hour {
                let (id, rel) = store
                    .begin_segment(org, 0, &date, &|id| hourly_path(org_name, &date, hour, id))?;
                written_paths.push(self.root.join(&rel));
                let written = write_segment(&self.root, &rel, &mut rows)?;
                store.put_segment_terms(id, &written.terms)?;
                records.push(record(id, rel, 0, date, written));
            }
            store.commit_seal(org, &records, &sealed)?;
            Ok(())
        })();
        if let Err(e) = result {
            // Nothing was committed: the hot rows are intact. Remove what was written now; a
            // crash here instead is cleaned up by the next `open`.
            for path in &written_paths {
                let _ = remove_if_exists(path);
                let _ = remove_if_exists(&temp_name(path));
            }
            if let Ok(pending) = store.pending_segments() {
                for (id, _) in pending {
                    let _ = store.forget_pending_segment(id);
                }
            }
            return Err(e);
        }
        for r in &records {
            report.events += r.rows as u64;
            report.bytes += r.bytes as u64;
        }
        report.segments += records.len() as u64;
        Ok(())
    }

    /// Merges, per day that ended before `cutoff`, all live segments of `org` into one file
    /// sorted by `published`, when there is more than one or the one is an hourly seal.
    fn compact(
        &self,
        store: &mut Store,
        org: OrgId,
        org_name: &str,
        cutoff: i64,
        report: &mut SealReport,
    ) -> Result<(), ArchiveError> {
        let mut by_date: BTreeMap<String, Vec<store::segments::Segment>> = BTreeMap::new();
        for s in store.live_segments(org, None, None)? {
            by_date.entry(s.record.date.clone()).or_default().push(s);
        }
        for (date, segments) in by_date {
            let day_end = day_start(segments[0].record.min_published) + 86_400_000_000;
            let worth_it = segments.len() > 1 || segments[0].record.level == 0;
            if day_end > cutoff || !worth_it {
                continue;
            }
            let mut rows = Vec::new();
            for s in &segments {
                let path = self.root.join(&s.record.path);
                for (seq, ingested_at, raw) in read_rows(&path)? {
                    let event = LogEvent::parse(&raw).map_err(|e| ArchiveError::Corrupt {
                        path: path.clone(),
                        reason: format!("seq {seq} does not parse: {e}"),
                    })?;
                    rows.push(SegmentRow {
                        seq,
                        ingested_at,
                        event,
                    });
                }
            }
            let (id, rel) =
                store.begin_segment(org, 1, &date, &|id| daily_path(org_name, &date, id))?;
            let written = match write_segment(&self.root, &rel, &mut rows) {
                Ok(w) => w,
                Err(e) => {
                    let path = self.root.join(&rel);
                    let _ = remove_if_exists(&temp_name(&path));
                    let _ = remove_if_exists(&path);
                    let _ = store.forget_pending_segment(id);
                    return Err(e);
                }
            };
            if let Err(e) = store.put_segment_terms(id, &written.terms) {
                let _ = remove_if_exists(&self.root.join(&rel));
                let _ = store.forget_pending_segment(id);
                return Err(e.into());
            }
            let into = record(id, rel, 1, date, written);
            let replaced: Vec<i64> = segments.iter().map(|s| s.record.id).collect();
            store.commit_compaction(org, &into, &replaced)?;
            report.days_compacted += 1;
            report.segments_replaced += replaced.len() as u64;
            report.compacted_bytes += into.bytes as u64;
            self.remove_segment_files(&segments)?;
        }
        Ok(())
    }

    fn remove_segment_files(
        &self,
        segments: &[store::segments::Segment],
    ) -> Result<(), ArchiveError> {
        for s in segments {
            let path = self.root.join(&s.record.path);
            remove_if_exists(&path)?;
            if let Some(dir) = path.parent() {
                // An emptied hour=/date= directory goes too (engines list directories).
                if std::fs::remove_dir(dir).is_ok() {
                    if let Some(date_dir) = dir.parent() {
                        let _ = std::fs::remove_dir(date_dir);
                        let _ = sync_dir(date_dir.parent().unwrap_or(&self.root));
                    }
                } else {
                    sync_dir(dir)?;
                }
            }
        }
        Ok(())
    }

    /// Retention: seals and compacts everything older than the first day not wholly before
    /// `cutoff`, then drops every date partition of `org` (or every org) that ended before it,
    /// recording a retention checkpoint in the archive chain first.
    pub fn retain(
        &self,
        store: &mut Store,
        org: Option<OrgId>,
        cutoff: i64,
    ) -> Result<RetainReport, ArchiveError> {
        let boundary = day_start(cutoff);
        self.seal(store, org, boundary)?;
        let orgs: Vec<OrgId> = store
            .orgs()?
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| org.is_none_or(|o| o == *id))
            .collect();
        let mut report = RetainReport::default();
        for id in orgs {
            let dropped: Vec<store::segments::Segment> = store
                .live_segments(id, None, None)?
                .into_iter()
                .filter(|s| s.record.max_published < boundary)
                .collect();
            if dropped.is_empty() {
                continue;
            }
            let ids: Vec<i64> = dropped.iter().map(|s| s.record.id).collect();
            report.events += store.commit_retention(id, boundary, &ids)? as u64;
            report.segments += ids.len() as u64;
            for s in &dropped {
                if !report.dates.contains(&s.record.date) {
                    report.dates.push(s.record.date.clone());
                }
            }
            self.remove_segment_files(&dropped)?;
        }
        report.dates.sort();
        Ok(report)
    }
}

fn record(id: i64, path: String, level: i64, date: String, w: Written) -> SegmentRecord {
    SegmentRecord {
        id,
        path,
        level,
        date,
        min_published: w.min_published,
        max_published: w.max_published,
        rows: w.rows,
        bytes: w.bytes,
        content_hash: w.content_hash,
        entries_hash: w.entries_hash,
        seqs: SeqRuns::from_seqs(w.seqs).encode(),
    }
}

/// Removes a file; `Ok(false)` when it was not there.
pub(crate) fn remove_if_exists(path: &Path) -> Result<bool, ArchiveError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ArchiveError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Every file under `root` (recursively), skipping the lock file.
pub(crate) fn walk_files(root: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(ArchiveError::Io {
                    path: dir,
                    source: e,
                })
            }
        };
        for entry in entries {
            let entry = entry.map_err(ArchiveError::io(&dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(ArchiveError::io(&path))?;
            if kind.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != ".lock") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What one scheduled run of [`scheduled_seal`] did.
#[derive(Debug, Default, Clone)]
pub struct Maintenance {
    /// The seal and compaction.
    pub sealed: SealReport,
    /// Retention, when an age was given.
    pub retained: Option<RetainReport>,
    /// What a crash had left behind and was cleaned up first.
    pub cleanup: Cleanup,
}

/// The daemon's scheduled archive work: opens the store and the archive writer, seals
/// everything of every org older than `seal_older_than_micros` and compacts, then, with
/// `retain_micros`, drops the date partitions older than that (recording the checkpoint).
/// Returns `Ok(None)` when another process holds the writer lock (a manual `idwatch seal`
/// running): try again next time.
pub fn scheduled_seal(
    store_path: &Path,
    root: &Path,
    seal_older_than_micros: i64,
    retain_micros: Option<i64>,
) -> Result<Option<Maintenance>, ArchiveError> {
    let mut store = Store::open(store_path)?;
    let (writer, cleanup) = match ArchiveWriter::open(&mut store, root) {
        Ok(w) => w,
        Err(ArchiveError::Locked(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if cleanup.pending + cleanup.temporary + cleanup.superseded > 0 {
        tracing::info!(?cleanup, "archive cleaned up after an interrupted run");
    }
    let now = chrono::Utc::now().timestamp_micros();
    let sealed = writer.seal(&mut store, None, now - seal_older_than_micros)?;
    tracing::info!(
        events = sealed.events,
        segments = sealed.segments,
        days_compacted = sealed.days_compacted,
        "scheduled seal"
    );
    let retained = match retain_micros {
        Some(age) => {
            let report = writer.retain(&mut store, None, now - age)?;
            tracing::info!(
                events = report.events,
                segments = report.segments,
                "scheduled retention"
            );
            Some(report)
        }
        None => None,
    };
    Ok(Some(Maintenance {
        sealed,
        retained,
        cleanup,
    }))
}
