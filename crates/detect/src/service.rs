//! `DetectService`: the async face of a [`Detector`], one per org, for the daemon
//! (`idwatch serve`) and the demo. [`DetectService::run`] loops until shutdown: evaluate what was
//! stored, commit, hand raised alerts on (the delivery worker's waker, an optional channel),
//! then sleep until the *ingest signal* fires (the collector or hook receiver calls
//! `notify_one()` after committing a batch, so detection is scheduled on ingest) or the poll
//! interval passes (a safety net for writers in other processes). SQLite work runs on
//! `spawn_blocking`; the detector moves into the blocking task and back, so no lock is held
//! across an `.await`. On shutdown it commits what it evaluated.
//!
//! ```no_run
//! # async fn demo(path: &std::path::Path) -> Result<(), detect::DetectError> {
//! use std::sync::Arc;
//! let pack = Arc::new(detect::Pack::build(&Default::default(), &Default::default(), Some("acme"))?);
//! let service = detect::DetectService::open(path, "acme", pack, Default::default())?;
//! let ingest = service.ingest_signal(); // give this to the collector: ingest.notify_one()
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(service.run(async move { let _ = stopped.await; }));
//! # ingest.notify_one(); let _ = stop.send(()); let _ = task.await;
//! # Ok(()) }
//! ```

use crate::catalog::Pack;
use crate::detector::{Detector, DetectorOptions, RaisedAlert};
use crate::error::DetectError;
use chrono::Utc;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// What a service run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// Events evaluated.
    pub events: u64,
    /// Alerts created or updated.
    pub alerts: u64,
    /// Steps that failed and were retried.
    pub errors: u64,
}

/// Streaming detection for one org as a task. See the module doc.
pub struct DetectService {
    detector: Option<Detector>,
    ingest: Arc<Notify>,
    delivery: Option<Arc<Notify>>,
    alerts: Option<mpsc::UnboundedSender<RaisedAlert>>,
    poll: Duration,
}

impl std::fmt::Debug for DetectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectService")
            .field("detector", &self.detector)
            .field("poll", &self.poll)
            .finish()
    }
}

impl DetectService {
    /// A service around an open detector.
    pub fn new(detector: Detector, poll: Duration) -> DetectService {
        DetectService {
            detector: Some(detector),
            ingest: Arc::new(Notify::new()),
            delivery: None,
            alerts: None,
            poll,
        }
    }

    /// Opens a detector for `org` on the store at `path` and wraps it.
    pub fn open(
        path: &Path,
        org: &str,
        pack: Arc<Pack>,
        options: DetectorOptions,
    ) -> Result<DetectService, DetectError> {
        let poll = options.settings.poll_interval;
        Ok(DetectService::new(
            Detector::open(path, org, pack, options)?,
            poll,
        ))
    }

    /// The signal to fire (`notify_one()`) after storing events for this org.
    pub fn ingest_signal(&self) -> Arc<Notify> {
        Arc::clone(&self.ingest)
    }

    /// Uses an existing signal (shared with the collector) instead of its own.
    pub fn with_ingest_signal(mut self, signal: Arc<Notify>) -> DetectService {
        self.ingest = signal;
        self
    }

    /// Wakes the delivery worker (`notify::DeliveryWorker::waker`) whenever alerts were queued.
    pub fn with_delivery_waker(mut self, waker: Arc<Notify>) -> DetectService {
        self.delivery = Some(waker);
        self
    }

    /// Also sends every raised alert to `sender` (the demo prints them).
    pub fn with_alert_channel(
        mut self,
        sender: mpsc::UnboundedSender<RaisedAlert>,
    ) -> DetectService {
        self.alerts = Some(sender);
        self
    }

    /// The org's name.
    pub fn org_name(&self) -> &str {
        self.detector.as_ref().map_or("", |d| d.org_name())
    }

    async fn blocking<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(&mut Detector) -> T + Send + 'static,
    ) -> Result<T, DetectError> {
        let mut detector = self
            .detector
            .take()
            .ok_or_else(|| DetectError::Internal("detector lost by an earlier panic".into()))?;
        let (detector, out) = tokio::task::spawn_blocking(move || {
            let out = work(&mut detector);
            (detector, out)
        })
        .await
        .map_err(|e| DetectError::Internal(format!("detection task died: {e}")))?;
        self.detector = Some(detector);
        Ok(out)
    }

    fn hand_on(&self, raised: Vec<RaisedAlert>) {
        if raised.iter().any(|r| r.queued > 0) {
            if let Some(waker) = &self.delivery {
                waker.notify_one();
            }
        }
        if let Some(tx) = &self.alerts {
            for r in raised {
                let _ = tx.send(r);
            }
        }
    }

    /// Evaluates everything stored now and commits (one-shot use: `idwatch detect`, tests).
    pub async fn catch_up(&mut self) -> Result<Vec<RaisedAlert>, DetectError> {
        let raised = self.blocking(|d| d.catch_up(Utc::now())).await??;
        self.hand_on(raised.clone());
        Ok(raised)
    }

    /// Runs until `shutdown` completes, then commits and returns.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<DetectStats, DetectError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stats = DetectStats::default();
        let mut backoff = self.poll;
        loop {
            match self.blocking(|d| d.step(Utc::now())).await? {
                Ok(report) => {
                    backoff = self.poll;
                    stats.events += report.events as u64;
                    stats.alerts += report.raised.len() as u64;
                    self.hand_on(report.raised);
                    if !report.caught_up {
                        tokio::select! {
                            biased;
                            _ = &mut shutdown => break,
                            _ = tokio::task::yield_now() => continue,
                        }
                    }
                }
                Err(e) => {
                    stats.errors += 1;
                    tracing::warn!(org = %self.org_name(), error = %e, "detection step failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(backoff) => continue,
                    }
                }
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.ingest.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        let raised = self.blocking(|d| d.commit(Utc::now())).await??;
        stats.alerts += raised.len() as u64;
        self.hand_on(raised);
        Ok(stats)
    }
}
