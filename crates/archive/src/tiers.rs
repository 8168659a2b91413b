//! Queries over both tiers: [`Tiers::query`] answers a `store::EventQuery` from the hot SQLite
//! tier and the live segments of the archive as one result, in `published` order when asked,
//! reading the catalog and the hot tier in one snapshot so a seal committing meanwhile neither
//! hides nor duplicates an event.
//!
//! Segments are skipped by their catalog time bounds and, when the filter needs `attr eq
//! "value"` on a lookup column (session, transaction, actor, IP), by their term filters.
//!
//! Ordered results stream: segments are visited by time, and a match is released once no
//! unvisited segment can hold an earlier one (the next segment's lower bound is the watermark),
//! merged with the hot tier's matches. A `--limit` therefore stops reading early.

use crate::error::ArchiveError;
use crate::reader::{scan_segment, ScanSpec, ScanStats};
use crate::terms::{TermFilters, TermProbe};
use okta::LogEvent;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use store::query::QueryStats;
use store::segments::Segment;
use store::{EventQuery, OrgId, Store, StoredEvent};

/// The hot tier and the archive of one store.
pub struct Tiers<'a> {
    store: &'a Store,
    root: PathBuf,
}

/// How a query over both tiers ran.
#[derive(Debug, Default, Clone)]
pub struct TierStats {
    /// The hot tier's plan and counts.
    pub hot: QueryStats,
    /// Live segments in the catalog for the org.
    pub segments_live: u64,
    /// Segments skipped by their catalog time bounds.
    pub segments_pruned: u64,
    /// Segments skipped because their term filters rule out an `eq` the filter needs.
    pub segments_pruned_by_terms: u64,
    /// What reading segments did.
    pub archive: ScanStats,
    /// Archive events parsed and checked exactly.
    pub archive_checked: u64,
    /// Archive events delivered.
    pub archive_matched: u64,
}

struct Pending {
    key: (i64, i64),
    event: LogEvent,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

impl<'a> Tiers<'a> {
    /// Both tiers of `store`, with the archive at `root`.
    pub fn new(store: &'a Store, root: &Path) -> Tiers<'a> {
        Tiers {
            store,
            root: root.to_path_buf(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// The archive directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Runs `query` over hot ∪ archive for `org`.
    pub fn query(
        &self,
        org: OrgId,
        query: &EventQuery,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<TierStats, ArchiveError> {
        self.store
            .with_snapshot(|store| -> Result<TierStats, ArchiveError> {
                let all = store.live_segments(org, None, None)?;
                let mut segments = store.live_segments(org, query.since, query.until)?;
                let mut stats = TierStats {
                    segments_live: all.len() as u64,
                    segments_pruned: (all.len() - segments.len()) as u64,
                    ..TierStats::default()
                };
                if let Some(probe) = query
                    .filter
                    .as_ref()
                    .and_then(|f| TermProbe::compile(f.expr()))
                {
                    let before = segments.len();
                    let mut kept = Vec::with_capacity(before);
                    for segment in segments {
                        let filters = store
                            .segment_terms(segment.record.id)?
                            .and_then(|bytes| TermFilters::decode(&bytes));
                        if filters.is_none_or(|f| probe.may_match(&f)) {
                            kept.push(segment);
                        }
                    }
                    stats.segments_pruned_by_terms = (before - kept.len()) as u64;
                    segments = kept;
                }
                if segments.is_empty() {
                    stats.hot = store.query(org, query, visit)?;
                    return Ok(stats);
                }
                if !query.ordered {
                    self.unordered(store, org, query, &segments, visit, &mut stats)?;
                } else {
                    self.ordered(store, org, query, segments, visit, &mut stats)?;
                }
                Ok(stats)
            })
    }

    fn unordered(
        &self,
        store: &Store,
        org: OrgId,
        query: &EventQuery,
        segments: &[Segment],
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
        stats: &mut TierStats,
    ) -> Result<(), ArchiveError> {
        let mut delivered = 0usize;
        let mut stopped = false;
        stats.hot = store.query(org, query, &mut |e| {
            delivered += 1;
            let flow = visit(e);
            if flow.is_break() {
                stopped = true;
            }
            flow
        })?;
        if stopped || query.limit.is_some_and(|l| delivered >= l) {
            return Ok(());
        }
        let spec = spec_of(query);
        for segment in segments {
            let path = self.root.join(&segment.record.path);
            let mut failure = None;
            let (scan, more) = scan_segment(&path, &spec, &mut |c| {
                stats.archive_checked += 1;
                let event = match LogEvent::parse(c.raw) {
                    Ok(e) => e,
                    Err(e) => {
                        failure = Some(corrupt(&path, c.seq, e));
                        return false;
                    }
                };
                if !accepts(query, &event) {
                    return true;
                }
                stats.archive_matched += 1;
                delivered += 1;
                let go_on = visit(StoredEvent { seq: c.seq, event }).is_continue();
                go_on && query.limit.is_none_or(|l| delivered < l)
            })?;
            stats.archive += scan;
            if let Some(e) = failure {
                return Err(e);
            }
            if !more {
                break;
            }
        }
        Ok(())
    }

    fn ordered(
        &self,
        store: &Store,
        org: OrgId,
        query: &EventQuery,
        mut segments: Vec<Segment>,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
        stats: &mut TierStats,
    ) -> Result<(), ArchiveError> {
        let sign: i64 = if query.descending { -1 } else { 1 };
        // The hot tier's matches, in the requested order (the hot tier is the recent, small
        // one; the archive streams).
        let mut hot: VecDeque<StoredEvent> = VecDeque::new();
        stats.hot = store.query(org, query, &mut |e| {
            hot.push_back(e);
            ControlFlow::Continue(())
        })?;
        // Visit segments in order of the bound that comes first in the requested direction.
        segments.sort_by_key(|s| {
            if sign > 0 {
                (s.record.min_published, s.record.id)
            } else {
                (-s.record.max_published, -s.record.id)
            }
        });
        let start_of = |s: &Segment| {
            if sign > 0 {
                s.record.min_published
            } else {
                -s.record.max_published
            }
        };
        let spec = spec_of(query);
        let mut heap: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
        let mut delivered = 0usize;
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut emit = |item: StoredEvent, delivered: &mut usize| -> bool {
            *delivered += 1;
            visit(item).is_continue() && *delivered < limit
        };
        for i in 0..segments.len() {
            let path = self.root.join(&segments[i].record.path);
            let mut failure = None;
            let (scan, _) = scan_segment(&path, &spec, &mut |c| {
                stats.archive_checked += 1;
                match LogEvent::parse(c.raw) {
                    Ok(event) => {
                        if accepts(query, &event) {
                            stats.archive_matched += 1;
                            heap.push(Reverse(Pending {
                                key: (sign * c.published, sign * c.seq),
                                event,
                            }));
                        }
                        true
                    }
                    Err(e) => {
                        failure = Some(corrupt(&path, c.seq, e));
                        false
                    }
                }
            })?;
            stats.archive += scan;
            if let Some(e) = failure {
                return Err(e);
            }
            let watermark = segments.get(i + 1).map(start_of).unwrap_or(i64::MAX);
            while heap.peek().is_some_and(|Reverse(p)| p.key.0 < watermark) {
                let Some(Reverse(next)) = heap.pop() else {
                    break;
                };
                while hot
                    .front()
                    .is_some_and(|h| (sign * h.event.published_micros(), sign * h.seq) < next.key)
                {
                    let Some(h) = hot.pop_front() else { break };
                    if !emit(h, &mut delivered) {
                        return Ok(());
                    }
                }
                let item = StoredEvent {
                    seq: sign * next.key.1,
                    event: next.event,
                };
                if !emit(item, &mut delivered) {
                    return Ok(());
                }
            }
        }
        while let Some(h) = hot.pop_front() {
            if !emit(h, &mut delivered) {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn spec_of(query: &EventQuery) -> ScanSpec {
    ScanSpec::new(
        query.filter.as_ref(),
        query.keywords.as_ref(),
        query.since,
        query.until,
        query.seq_range,
    )
}

fn accepts(query: &EventQuery, event: &LogEvent) -> bool {
    let t = event.published_micros();
    query.since.is_none_or(|s| t >= s)
        && query.until.is_none_or(|u| t < u)
        && query.filter.as_ref().is_none_or(|f| f.matches(event))
        && query.keywords.as_ref().is_none_or(|k| k.matches(event))
}

fn corrupt(path: &Path, seq: i64, e: okta::EventError) -> ArchiveError {
    ArchiveError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("seq {seq} does not parse: {e}"),
    }
}
