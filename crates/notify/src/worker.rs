//! `DeliveryWorker`: reads the `AlertOutbox`, delivers, and records every attempt. Its only
//! state is the store, so a restart resumes exactly where the outbox says, and an alert raised
//! while a sink is down waits in the outbox until the sink answers again.
//!
//! The loop, top to bottom:
//! 1. claim due rows (leased, so a second worker does not take them), up to the free slots;
//! 2. deliver each in its own task, at most `concurrency` at once;
//! 3. as each ends, decide with the shared `RetryPolicy` (delivered / retry at T / failed) and
//!    record the attempt; a 429 with Retry-After defers the whole sink;
//! 4. sleep until the next poll, or until woken (`waker()`), or until shutdown.
//!
//! SQLite calls are blocking, so they run on `spawn_blocking` with the `Store` behind a mutex
//! that is never held across an `.await`. A delivery whose attempt cannot be recorded (the
//! store is busy) is delivered again after its lease runs out, with the same idempotency key.

use crate::error::{DeliveryError, FailureClass};
use crate::message::{AlertMessage, MessageOptions};
use crate::retry::RetryPolicy;
use crate::sink::{Delivery, Sink};
use chrono::Utc;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::alerts::{AttemptOutcome, AttemptRecord, DueDelivery};
use store::{Store, StoreError};
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Why the worker stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The store failed.
    #[error("delivery worker: {0}")]
    Store(#[from] StoreError),
    /// A blocking task died or the store mutex was poisoned by a panic.
    #[error("delivery worker: {0}")]
    Internal(String),
}

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// How often to look for due rows.
    pub poll_interval: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How long a claim holds a row: longer than one attempt can take.
    pub lease: Duration,
    /// Message options.
    pub message: MessageOptions,
    /// Retry policy.
    pub retry: RetryPolicy,
}

impl WorkerOptions {
    /// Options from the `[alerts]` section. The lease is the attempt timeout plus 5 seconds, so
    /// a row is never claimed twice while an attempt can still be running.
    pub fn from_config(config: &crate::AlertsConfig) -> WorkerOptions {
        WorkerOptions {
            poll_interval: config.delivery.poll_interval.0,
            concurrency: config.delivery.concurrency.max(1),
            lease: config.delivery.timeout.0 + Duration::from_secs(5),
            message: config.message_options(),
            retry: config.retry_policy(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Attempts made.
    pub attempts: u64,
    /// Delivered.
    pub delivered: u64,
    /// Failed, to be retried.
    pub retrying: u64,
    /// Failed permanently.
    pub failed: u64,
}

/// The delivery worker.
pub struct DeliveryWorker {
    store: Arc<Mutex<Store>>,
    sinks: Arc<BTreeMap<String, Sink>>,
    options: WorkerOptions,
    wake: Arc<Notify>,
}

/// The result of one delivery task.
struct Finished {
    outcome: AttemptOutcome,
}

impl DeliveryWorker {
    /// A worker over `store` delivering to `sinks`.
    pub fn new(store: Store, sinks: BTreeMap<String, Sink>, options: WorkerOptions) -> Self {
        DeliveryWorker {
            store: Arc::new(Mutex::new(store)),
            sinks: Arc::new(sinks),
            options,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wakes the worker early (after raising an alert in the same process).
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Delivers until `shutdown` completes, then lets attempts in flight finish and record.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<WorkerStats, WorkerError> {
        self.drive(Some(Box::pin(shutdown))).await
    }

    /// Delivers everything due now, then returns (a retry scheduled for later is not waited
    /// for; it stays in the outbox).
    pub async fn run_once(&self) -> Result<WorkerStats, WorkerError> {
        self.drive(None).await
    }

    async fn drive(
        &self,
        mut shutdown: Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>>>,
    ) -> Result<WorkerStats, WorkerError> {
        let once = shutdown.is_none();
        let mut stats = WorkerStats::default();
        let mut inflight: JoinSet<Result<Finished, WorkerError>> = JoinSet::new();
        let mut stopping = false;
        loop {
            // 1. Claim due rows into the free slots.
            let free = self.options.concurrency.saturating_sub(inflight.len());
            let mut claimed = 0;
            if free > 0 && !stopping {
                let due = match self.claim(free).await {
                    Ok(due) => due,
                    // A busy or briefly unavailable store: try again at the next poll. A
                    // one-shot run reports it instead.
                    Err(WorkerError::Store(e)) if !once => {
                        tracing::error!(error = %e, "Could not claim due deliveries; trying again.");
                        Vec::new()
                    }
                    Err(e) => return Err(e),
                };
                claimed = due.len();
                // 2. One task per delivery.
                for delivery in due {
                    inflight.spawn(deliver_one(
                        Arc::clone(&self.store),
                        Arc::clone(&self.sinks),
                        self.options.clone(),
                        delivery,
                    ));
                }
            }
            if inflight.is_empty() && (stopping || (once && claimed == 0)) {
                return Ok(stats);
            }
            // 3. Record what finished, or 4. wait for the next poll, a wake-up or shutdown.
            tokio::select! {
                Some(joined) = inflight.join_next(), if !inflight.is_empty() => {
                    let finished = joined
                        .map_err(|e| WorkerError::Internal(format!("delivery task failed: {e}")))??;
                    stats.attempts += 1;
                    match finished.outcome {
                        AttemptOutcome::Delivered => stats.delivered += 1,
                        AttemptOutcome::Retry { .. } => stats.retrying += 1,
                        AttemptOutcome::Failed => stats.failed += 1,
                    }
                }
                _ = tokio::time::sleep(self.options.poll_interval), if !stopping && !once => {}
                _ = self.wake.notified(), if !stopping && !once => {}
                _ = async {
                    match shutdown.as_mut() {
                        Some(s) => s.as_mut().await,
                        None => std::future::pending().await,
                    }
                }, if !stopping => {
                    tracing::info!(inflight = inflight.len(), "Delivery worker stopping; letting attempts in flight finish.");
                    stopping = true;
                }
            }
        }
    }

    async fn claim(&self, limit: usize) -> Result<Vec<DueDelivery>, WorkerError> {
        let store = Arc::clone(&self.store);
        let lease = self.options.lease;
        blocking(move || {
            let mut store = lock(&store)?;
            Ok(store.claim_due_deliveries(Utc::now(), lease, limit)?)
        })
        .await
    }
}

fn lock(store: &Mutex<Store>) -> Result<std::sync::MutexGuard<'_, Store>, WorkerError> {
    store
        .lock()
        .map_err(|_| WorkerError::Internal("the store lock was poisoned by a panic".into()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WorkerError> + Send + 'static,
) -> Result<T, WorkerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WorkerError::Internal(format!("store task failed: {e}")))?
}

/// Delivers one claimed row and records the attempt.
async fn deliver_one(
    store: Arc<Mutex<Store>>,
    sinks: Arc<BTreeMap<String, Sink>>,
    options: WorkerOptions,
    due: DueDelivery,
) -> Result<Finished, WorkerError> {
    let entry = &due.entry;
    let message = AlertMessage::new(&due.alert, &options.message);
    let at = Utc::now();
    let started = Instant::now();
    let result = match sinks.get(&entry.sink) {
        Some(sink) => {
            sink.deliver(&Delivery {
                alert: &due.alert,
                message: &message,
                idempotency_key: &entry.idempotency_key,
                attempt: entry.attempts + 1,
            })
            .await
        }
        // A sink removed from the configuration: say so on the row rather than retry forever.
        None => Err(DeliveryError {
            sink: entry.sink.clone(),
            alert_id: due.alert.id,
            class: FailureClass::Permanent,
            status: None,
            reason: format!(
                "no sink named `{}` in the configuration (add it back and run `idwatch alerts retry {}`)",
                entry.sink, due.alert.id
            ),
        }),
    };
    let duration = started.elapsed();
    let decision =
        options
            .retry
            .decide(&result, entry.attempts, &entry.idempotency_key, Utc::now());
    let (status, error) = match &result {
        Ok(status) => (*status, None),
        Err(e) => (e.status, Some(e.reason.clone())),
    };
    log_attempt(&due, &result, decision.outcome, duration);
    let record = AttemptRecord {
        at,
        outcome: decision.outcome,
        status,
        error,
        duration,
    };
    let id = entry.id;
    let sink = entry.sink.clone();
    let defer = decision.defer_sink_until;
    let recorded = blocking(move || {
        let mut store = lock(&store)?;
        store.record_attempt(id, &record)?;
        if let Some(until) = defer {
            store.defer_sink(&sink, until)?;
        }
        Ok(())
    })
    .await;
    match recorded {
        Ok(()) => {}
        // The row keeps its lease and becomes due again when it runs out: delivered again with
        // the same idempotency key rather than lost. Only a poisoned lock stops the worker.
        Err(WorkerError::Store(e)) => tracing::error!(
            outbox = id.0, error = %e,
            "Could not record a delivery attempt; the row will be retried when its lease ends."
        ),
        Err(e) => return Err(e),
    }
    Ok(Finished {
        outcome: decision.outcome,
    })
}

fn log_attempt(
    due: &DueDelivery,
    result: &Result<Option<u16>, DeliveryError>,
    outcome: AttemptOutcome,
    duration: Duration,
) {
    let sink = due.entry.sink.as_str();
    let alert = due.alert.id.0;
    let attempt = due.entry.attempts + 1;
    let ms = duration.as_millis() as u64;
    match (result, outcome) {
        (Ok(status), _) => tracing::info!(sink, alert, attempt, ms, status, "Alert delivered."),
        (Err(e), AttemptOutcome::Retry { next_attempt_at }) => tracing::warn!(
            sink, alert, attempt, ms, status = e.status, error = %e.reason,
            next_attempt_at = %next_attempt_at, "Alert delivery failed; will retry."
        ),
        (Err(e), _) => tracing::error!(
            sink, alert, attempt, ms, status = e.status, error = %e.reason,
            "Alert delivery failed permanently; the outbox row is marked failed."
        ),
    }
}
