//! `Detector`: one org's streaming detection over the store, synchronous. It reads events by
//! store sequence after its position (`Store::read_after`), so an event is evaluated when it is
//! *stored*, however late its `published` time; runs them through the org's [`Pipeline`]; and
//! commits position + pipeline state + suppression counts + the alerts raised in ONE
//! transaction (`Store::commit_detection`).
//!
//! When it commits: at once whenever a batch raised something (alerts are never held back), and
//! otherwise at most every `checkpoint_interval` (state is the costly part). Everything not yet
//! committed is derived from stored events and committed state, so dropping a detector at any
//! point (a crash, kill -9) and opening it again replays exactly the uncommitted events from
//! exactly the committed state: no alert is raised twice, no event is skipped.
//!
//! Event time in a quiet stream: when the detector has caught up it moves the correlator's
//! clock forward by the wall time spent waiting (never past now), so windows close and
//! sequences time out while nothing arrives, without declaring a backfill that pauses between
//! pages "late".

use crate::catalog::Pack;
use crate::config::StreamSettings;
use crate::error::DetectError;
use crate::pipeline::{Detection, Pipeline, PipelineState};
use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use store::alerts::{AlertId, AlertRouting, RaiseKind};
use store::detection::DetectionCheckpoint;
use store::{OrgId, Store};

/// Where a detector with no saved state starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// Evaluate everything already stored (retroactive detection on first start).
    #[default]
    Beginning,
    /// Only events stored from now on.
    End,
}

/// How a detector runs.
#[derive(Debug, Clone)]
pub struct DetectorOptions {
    /// Batch size, poll and checkpoint intervals.
    pub settings: StreamSettings,
    /// Suppression window and sinks (from `[alerts]`).
    pub routing: AlertRouting,
    /// Where to start with no saved state.
    pub start: StartAt,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions {
            settings: StreamSettings::default(),
            routing: AlertRouting::default(),
            start: StartAt::Beginning,
        }
    }
}

/// An alert the detector raised (created, or folded into an open alert).
#[derive(Debug, Clone, PartialEq)]
pub struct RaisedAlert {
    /// The org's name.
    pub org: String,
    /// The stored alert.
    pub alert: AlertId,
    /// Created or updated (a replay that changed nothing is not reported).
    pub kind: RaiseKind,
    /// Deliveries queued with it.
    pub queued: usize,
    /// What matched.
    pub detection: Detection,
    /// When it was committed (wall clock).
    pub committed_at: DateTime<Utc>,
}

/// What one [`Detector::step`] did.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    /// Events evaluated.
    pub events: usize,
    /// True when no stored event is left to evaluate.
    pub caught_up: bool,
    /// Alerts committed by this step.
    pub raised: Vec<RaisedAlert>,
}

/// Streaming detection for one org. See the module doc.
pub struct Detector {
    store: Store,
    org: OrgId,
    org_name: String,
    pipeline: Pipeline,
    options: DetectorOptions,
    /// The stored position this detector started from / last committed.
    committed: Option<i64>,
    /// Evaluated up to here.
    position: i64,
    pending: Vec<Detection>,
    uncommitted_events: u64,
    last_commit: Instant,
    /// When the detector last saw new events while caught up (for the quiet-stream clock).
    quiet_since: Option<(Instant, DateTime<Utc>)>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("org", &self.org_name)
            .field("position", &self.position)
            .field("committed", &self.committed)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Detector {
    /// Opens the store at `store_path` (its own connection), creates the org if new, and
    /// restores the org's committed position and state.
    pub fn open(
        store_path: &Path,
        org_name: &str,
        pack: Arc<Pack>,
        options: DetectorOptions,
    ) -> Result<Detector, DetectError> {
        let mut store = Store::open(store_path)?;
        let org = store.ensure_org(org_name)?;
        let mut pipeline = Pipeline::new(pack);
        let saved = store.detection_state(org)?;
        let (committed, position) = match saved {
            Some(saved) => {
                let state: PipelineState =
                    serde_json::from_slice(&saved.state).map_err(|e| DetectError::State {
                        org: org_name.to_string(),
                        reason: format!("does not parse: {e}"),
                    })?;
                pipeline.import_state(org_name, state)?;
                (Some(saved.position), saved.position)
            }
            None => {
                let start = match options.start {
                    StartAt::Beginning => 0,
                    StartAt::End => store.last_seq(org)?,
                };
                (None, start)
            }
        };
        tracing::info!(org = org_name, position, "detector resumed");
        Ok(Detector {
            store,
            org,
            org_name: org_name.to_string(),
            pipeline,
            options,
            committed,
            position,
            pending: Vec::new(),
            uncommitted_events: 0,
            last_commit: Instant::now(),
            quiet_since: None,
        })
    }

    /// The org's name.
    pub fn org_name(&self) -> &str {
        &self.org_name
    }

    /// The org's id in the store.
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The last store sequence evaluated (committed or not).
    pub fn position(&self) -> i64 {
        self.position
    }

    /// The last committed position (`None` before the first commit).
    pub fn committed_position(&self) -> Option<i64> {
        self.committed
    }

    /// The engine.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The store connection (for reads beside detection).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Evaluates the next batch of stored events without committing. Returns how many.
    pub fn process_batch(&mut self) -> Result<usize, DetectError> {
        let events =
            self.store
                .read_after(self.org, self.position, self.options.settings.batch_size)?;
        for stored in &events {
            self.pipeline.observe(&stored.event, &mut self.pending);
            self.position = stored.seq;
        }
        self.uncommitted_events += events.len() as u64;
        if !events.is_empty() {
            self.quiet_since = None;
        }
        Ok(events.len())
    }

    /// One step: evaluate a batch; when caught up, move event time on by the quiet time; commit
    /// if anything was raised or the checkpoint interval passed.
    pub fn step(&mut self, now: DateTime<Utc>) -> Result<StepReport, DetectError> {
        let events = self.process_batch()?;
        let caught_up = events < self.options.settings.batch_size;
        if caught_up {
            self.advance_quiet_clock(now);
        }
        let due = self.uncommitted_events > 0
            && self.last_commit.elapsed() >= self.options.settings.checkpoint_interval;
        let raised = if !self.pending.is_empty() || due {
            self.commit(now)?
        } else {
            Vec::new()
        };
        Ok(StepReport {
            events,
            caught_up,
            raised,
        })
    }

    fn advance_quiet_clock(&mut self, now: DateTime<Utc>) {
        let Some(max_seen) = self.pipeline.max_seen() else {
            return;
        };
        match self.quiet_since {
            None => self.quiet_since = Some((Instant::now(), max_seen)),
            Some((since, base)) => {
                let quiet = chrono::Duration::from_std(since.elapsed()).unwrap_or_default();
                let target = (base + quiet).min(now);
                if target > max_seen {
                    self.pipeline.advance_to(target, &mut self.pending);
                }
            }
        }
    }

    /// Commits position, state, suppression counts and pending alerts together.
    pub fn commit(&mut self, now: DateTime<Utc>) -> Result<Vec<RaisedAlert>, DetectError> {
        let state = serde_json::to_vec(&self.pipeline.export_state()).map_err(|e| {
            DetectError::Internal(format!("detection state does not serialise: {e}"))
        })?;
        let checkpoint = DetectionCheckpoint {
            previous: self.committed,
            position: self.position,
            state,
            events: self.uncommitted_events,
        };
        let alerts: Vec<_> = self.pending.iter().map(|d| d.to_alert(self.org)).collect();
        let suppressed = self.pipeline.take_suppressed();
        let raised = match self.store.commit_detection(
            self.org,
            &checkpoint,
            &alerts,
            &suppressed,
            &self.options.routing,
            now,
        ) {
            Ok(raised) => raised,
            Err(e) => {
                // Nothing was written: keep the counts for the next attempt.
                self.pipeline.restore_suppressed(suppressed);
                return Err(e.into());
            }
        };
        self.committed = Some(self.position);
        self.uncommitted_events = 0;
        self.last_commit = Instant::now();
        let detections = std::mem::take(&mut self.pending);
        let out = detections
            .into_iter()
            .zip(raised)
            .filter(|(_, r)| r.kind != RaiseKind::Unchanged)
            .map(|(detection, r)| RaisedAlert {
                org: self.org_name.clone(),
                alert: r.alert,
                kind: r.kind,
                queued: r.queued,
                detection,
                committed_at: now,
            })
            .collect::<Vec<_>>();
        for r in &out {
            tracing::info!(
                org = %self.org_name,
                alert = %r.alert,
                rule = %r.detection.matched.rule_id,
                kind = ?r.kind,
                "alert raised"
            );
        }
        Ok(out)
    }

    /// Evaluates everything stored, closing no windows, and commits. Returns the alerts.
    pub fn catch_up(&mut self, now: DateTime<Utc>) -> Result<Vec<RaisedAlert>, DetectError> {
        let mut raised = Vec::new();
        loop {
            let events = self.process_batch()?;
            if !self.pending.is_empty() {
                raised.extend(self.commit(now)?);
            }
            if events < self.options.settings.batch_size {
                break;
            }
        }
        if self.uncommitted_events > 0 || self.committed.is_none() {
            raised.extend(self.commit(now)?);
        }
        Ok(raised)
    }
}
