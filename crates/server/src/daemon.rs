//! The `Daemon` behind `idwatch serve`: for every org, the collector (`collect::Poller`, for
//! orgs added with `idwatch org add`), the Event Hook receiver (orgs with `[server.hooks.NAME]`),
//! streaming detection (`detect::DetectService`, for every org in the store) and audit schedules
//! (roster and posture, for collected orgs); once, the alert delivery worker
//! (`notify::DeliveryWorker`) and the HTTP server (hooks, `/metrics`, `/healthz`).
//!
//! # Lifecycle
//! [`Daemon::prepare`] does everything that can fail because of the configuration (secrets,
//! sinks, rule packs, credentials, the listen address) before anything runs, so a bad config
//! is one clear error and not a half-started daemon. [`Daemon::run`] then spawns one task per
//! component; each runs under a supervisor that records it on the [`TaskBoard`] and restarts it
//! with back-off (1 s doubling to 60 s) when it fails. When the shutdown future completes
//! (SIGINT/SIGTERM in the binary) every task is told at once; the HTTP server finishes requests
//! in flight, detection commits its position, the worker records attempts in flight.
//!
//! # Scheduling on ingest
//! Each org has one ingest signal (`tokio::sync::Notify`). The hook receiver fires it after a
//! delivery committed new events; the collector's live statistics change after every page it
//! commits, and a small bridge task fires the signal then. Detection wakes on it (and polls as
//! a safety net for writers in other processes), evaluates everything stored after its
//! position, late events included, and commits position, state and alerts in one transaction.
//! Raising an alert queues its deliveries in the same transaction and wakes the worker.
//!
//! # Restarts and crashes
//! The daemon keeps no state of its own: the cursor, detection's position and state, alerts
//! and the outbox are all in the store, committed atomically with what they describe. After a
//! restart (or kill -9) detection resumes from its committed position (events evaluated but not
//! committed are evaluated again; re-raising matches already on an alert changes nothing) and
//! the worker delivers what the outbox says is due, with the same idempotency keys.

use crate::app;
use crate::config::{ResolvedSecrets, ServerConfig, ServerConfigError};
use crate::hooks::{HookOptions, HookReceiver};
use crate::metrics::Metrics;
use crate::tasks::TaskBoard;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio::sync::{watch, Notify};

/// What the daemon is built from: the data directory and every config section it uses.
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    /// The data directory (the store, rejected hook bodies).
    pub data_dir: PathBuf,
    /// The store file.
    pub store_path: PathBuf,
    /// `[server]`.
    pub server: ServerConfig,
    /// Overrides `[server] listen` (`idwatch serve --listen`).
    pub listen: Option<SocketAddr>,
    /// `[alerts]`.
    pub alerts: notify::AlertsConfig,
    /// `[detect]`.
    pub detect: detect::DetectConfig,
    /// What `[sigma]` adds to detection.
    pub detect_base: detect::BaseOptions,
    /// `[audit]`.
    pub audit: audit::AuditSchedule,
    /// `[archive]` as the daemon's scheduled seal and retention use it; `None` runs neither.
    pub archive: Option<ArchiveSchedule>,
}

/// The archive work the daemon does every `[server.schedules] archive_every`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSchedule {
    /// The archive directory.
    pub root: PathBuf,
    /// Seal hot events older than this (µs; `[archive] seal_older_than`, default 7 days).
    pub seal_older_than_micros: i64,
    /// Drop date partitions older than this (µs; `[archive] retain`), if set.
    pub retain_micros: Option<i64>,
}

/// Why the daemon cannot start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// `[server]` is invalid or a secret is missing.
    #[error(transparent)]
    Server(#[from] ServerConfigError),
    /// `[alerts]` is invalid or a sink's secret is missing.
    #[error("alerts: {0}")]
    Alerts(#[from] notify::ConfigError),
    /// Detection cannot be set up for an org (rules, settings).
    #[error("detection for org {org}: {source}")]
    Detect {
        /// The org.
        org: String,
        /// Why.
        source: detect::DetectError,
    },
    /// An org's collector cannot be set up (credentials, URL).
    #[error("collector: {0}")]
    Collect(Box<collect::PollError>),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source} (set [server] listen or pass --listen)")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The orgs each component runs for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonOrgs {
    /// Orgs with a source (`idwatch org add`): collector and audit tasks.
    pub collected: Vec<String>,
    /// Orgs with a hook secret.
    pub hooked: Vec<String>,
    /// Every org in the store: detection.
    pub detected: Vec<String>,
    /// Sinks alerts are delivered to.
    pub sinks: Vec<String>,
}

/// A prepared daemon: validated, secrets resolved, listener bound; nothing runs yet.
pub struct Daemon {
    settings: DaemonSettings,
    secrets: ResolvedSecrets,
    sinks: BTreeMap<String, notify::Sink>,
    packs: BTreeMap<String, Arc<detect::Pack>>,
    detector_options: detect::DetectorOptions,
    clients: BTreeMap<String, collect::OktaClient>,
    orgs: DaemonOrgs,
    listener: std::net::TcpListener,
    board: Arc<TaskBoard>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("orgs", &self.orgs)
            .field("listen", &self.listener.local_addr().ok())
            .finish()
    }
}

/// What a run did, for the exit message.
#[derive(Debug, Clone, Default)]
pub struct DaemonReport {
    /// Tasks that were still running when the shutdown grace period ended.
    pub unfinished: Vec<String>,
    /// Each task's state at the end.
    pub tasks: BTreeMap<(String, String), crate::tasks::TaskState>,
}

/// How long tasks get to finish after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

impl Daemon {
    /// Checks the whole configuration, opens the store, resolves every secret and credential,
    /// builds every rule pack and sink, and binds the listen address.
    pub fn prepare(settings: DaemonSettings) -> Result<Daemon, DaemonError> {
        let secrets = settings.server.resolve_secrets()?;
        let sinks = settings.alerts.build_sinks()?;
        let mut store = Store::open(&settings.store_path)?;
        let hooked: Vec<String> = secrets.hooks.keys().cloned().collect();
        for org in &hooked {
            store.ensure_org(org)?;
        }
        let collected: Vec<String> = store.sources()?.into_iter().map(|s| s.org).collect();
        let detected: Vec<String> = store.orgs()?.into_iter().map(|(_, name)| name).collect();

        let client_config = client_config(&settings.server);
        let mut clients = BTreeMap::new();
        for org in &collected {
            let client = collect::client_from_store(&store, org, client_config.clone())
                .map_err(|e| DaemonError::Collect(Box::new(e)))?;
            clients.insert(org.clone(), client);
        }
        drop(store);

        let detect_error = |org: &str| {
            let org = org.to_string();
            move |source| DaemonError::Detect { org, source }
        };
        let stream = settings
            .detect
            .stream_settings()
            .map_err(detect_error("*"))?;
        let mut packs = BTreeMap::new();
        for org in &detected {
            let pack = detect::Pack::build(&settings.detect, &settings.detect_base, Some(org))
                .map_err(detect_error(org))?;
            packs.insert(org.clone(), Arc::new(pack));
        }
        let detector_options = detect::DetectorOptions {
            settings: stream,
            routing: settings.alerts.routing(),
            start: detect::StartAt::Beginning,
        };

        let addr = settings.listen.unwrap_or(settings.server.listen);
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| DaemonError::Listen { addr, source })?;
        let orgs = DaemonOrgs {
            collected,
            hooked,
            detected,
            sinks: sinks.keys().cloned().collect(),
        };
        Ok(Daemon {
            settings,
            secrets,
            sinks,
            packs,
            detector_options,
            clients,
            orgs,
            listener,
            board: Arc::new(TaskBoard::default()),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// What runs for which org.
    pub fn orgs(&self) -> &DaemonOrgs {
        &self.orgs
    }

    /// The task board `/metrics` reads.
    pub fn board(&self) -> Arc<TaskBoard> {
        Arc::clone(&self.board)
    }

    /// Runs every component until `shutdown` completes, then stops them and waits for them
    /// (at most 15 s).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<DaemonReport, DaemonError> {
        let Daemon {
            settings,
            secrets,
            sinks,
            packs,
            detector_options,
            clients,
            orgs,
            listener,
            board,
        } = self;
        let path = settings.store_path.clone();
        let (stop, stopping) = watch::channel(false);
        let all_orgs: BTreeSet<&String> = orgs
            .detected
            .iter()
            .chain(&orgs.collected)
            .chain(&orgs.hooked)
            .collect();
        let signals: BTreeMap<String, Arc<Notify>> = all_orgs
            .into_iter()
            .map(|org| (org.clone(), Arc::new(Notify::new())))
            .collect();
        let mut tasks = tokio::task::JoinSet::new();

        // Delivery: one worker over the outbox for every sink.
        let worker = Arc::new(notify::DeliveryWorker::new(
            Store::open(&path)?,
            sinks,
            notify::WorkerOptions::from_config(&settings.alerts),
        ));
        let delivery_waker = worker.waker();
        if !orgs.sinks.is_empty() {
            let worker = Arc::clone(&worker);
            let board = Arc::clone(&board);
            let stopping = stopping.clone();
            tasks.spawn(supervise(
                board,
                "*".into(),
                "deliver",
                stopping.clone(),
                move || {
                    let worker = Arc::clone(&worker);
                    let stopping = stopping.clone();
                    async move {
                        worker
                            .run(stopped(stopping))
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    }
                },
            ));
        }

        // Hooks, metrics and health on one listener.
        let mut receiver = HookReceiver::new(
            Store::open(&path)?,
            &secrets.hooks,
            HookOptions {
                max_body_bytes: settings.server.hook_max_body_bytes,
                deadline: settings.server.hook_deadline.0,
                quarantine_dir: Some(settings.data_dir.join("hooks-rejected")),
            },
        );
        for (org, signal) in &signals {
            receiver = receiver.with_ingest_signal(org, Arc::clone(signal));
        }
        let receiver = Arc::new(receiver);
        let metrics = Arc::new(Metrics::new(
            path.clone(),
            secrets.metrics_token.as_ref(),
            Some(Arc::clone(&receiver)),
            Arc::clone(&board),
        ));
        let router = app::router(receiver, metrics);
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| DaemonError::Listen {
                addr: settings.listen.unwrap_or(settings.server.listen),
                source,
            })?;
        {
            let board = Arc::clone(&board);
            let stopping = stopping.clone();
            tasks.spawn(async move {
                board.started("*", "http");
                let result = app::serve(listener, router, stopped(stopping)).await;
                board.stopped("*", "http", result.err().map(|e| e.to_string()));
            });
        }

        let c = &settings.server.collect;
        let spawner = OrgTasks {
            board: Arc::clone(&board),
            stopping: stopping.clone(),
            path: path.clone(),
            delivery_waker: Arc::clone(&delivery_waker),
            detector_options: detector_options.clone(),
            poller_config: collect::PollerConfig {
                poll_interval: c.poll_interval.0,
                page_limit: c.page_limit,
                backfill: chrono::Duration::from_std(c.backfill.0)
                    .unwrap_or_else(|_| chrono::Duration::days(7)),
                once: false,
                ..collect::PollerConfig::default()
            },
            audit: settings.server.schedules.audit.then(|| {
                (
                    settings.server.schedules.audit_check.0,
                    settings.audit.clone(),
                )
            }),
            routing: settings.alerts.routing(),
        };
        let mut running = RunningOrgs::default();
        for org in &orgs.detected {
            if let Some(pack) = packs.get(org).cloned() {
                let signal = signals.get(org).cloned().unwrap_or_default();
                spawner.detection(&mut tasks, org, pack, signal);
                running.detected.insert(org.clone());
            }
        }
        for (org, client) in &clients {
            let signal = signals.get(org).cloned().unwrap_or_default();
            spawner.collection(&mut tasks, org, client.clone(), signal);
            spawner.audits(&mut tasks, org, client);
            running.collected.insert(org.clone());
        }

        // The archive: seal, compact and retain on a schedule, for every org at once (the
        // archive has one writer lock; a manual `idwatch seal` holding it makes a round skip).
        if let (Some(schedule), true) =
            (settings.archive.clone(), settings.server.schedules.archive)
        {
            let every = settings.server.schedules.archive_every.0;
            let path = path.clone();
            let stopping_for_task = stopping.clone();
            tasks.spawn(supervise(
                Arc::clone(&board),
                "*".into(),
                "archive",
                stopping.clone(),
                move || {
                    let schedule = schedule.clone();
                    let path = path.clone();
                    let mut stopping = stopping_for_task.clone();
                    async move {
                        loop {
                            archive_once(&path, &schedule).await?;
                            tokio::select! {
                                _ = stopping.wait_for(|s| *s) => return Ok(()),
                                _ = tokio::time::sleep(every) => {}
                            }
                        }
                    }
                },
            ));
        }

        tracing::info!(
            collected = ?orgs.collected, hooked = ?orgs.hooked, detected = ?orgs.detected,
            sinks = ?orgs.sinks, "idwatch daemon running."
        );
        // Orgs that appear while the daemon runs (`idwatch import --org NEW`, `idwatch org
        // add`) get their detection, collector and audits at the next check.
        let mut signals = signals;
        let mut check = tokio::time::interval(settings.server.schedules.org_check.0);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        check.tick().await;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = check.tick() => {
                    start_new_orgs(&settings, &spawner, &mut running, &mut signals, &mut tasks).await;
                }
            }
        }
        tracing::info!("Shutting down: stopping every task.");
        let _ = stop.send(true);
        let deadline = tokio::time::sleep(SHUTDOWN_GRACE);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    None => break,
                    Some(Err(e)) if e.is_panic() => tracing::error!(error = %e, "A daemon task panicked."),
                    Some(_) => {}
                },
                _ = &mut deadline => {
                    tracing::warn!(left = tasks.len(), "Tasks still running after the grace period; leaving them.");
                    break;
                }
            }
        }
        let states = board.snapshot();
        let unfinished = states
            .iter()
            .filter(|(_, t)| t.running)
            .map(|((org, task), _)| format!("{task} ({org})"))
            .collect();
        tasks.abort_all();
        Ok(DaemonReport {
            unfinished,
            tasks: states,
        })
    }
}

/// What spawning an org's tasks needs; shared by the start and the org watcher.
struct OrgTasks {
    board: Arc<TaskBoard>,
    stopping: watch::Receiver<bool>,
    path: PathBuf,
    delivery_waker: Arc<Notify>,
    detector_options: detect::DetectorOptions,
    poller_config: collect::PollerConfig,
    /// How often to ask whether an audit is due, and `[audit]`; `None` when audits are off.
    audit: Option<(Duration, audit::AuditSchedule)>,
    routing: store::alerts::AlertRouting,
}

/// Orgs whose tasks run.
#[derive(Default)]
struct RunningOrgs {
    detected: BTreeSet<String>,
    collected: BTreeSet<String>,
    /// The last error of an org that could not start, so it is logged once, not every check.
    failed: BTreeMap<(String, &'static str), String>,
}

impl OrgTasks {
    /// Runs `attempt` as `task` of `org` under the supervisor (restarts, the task board).
    fn spawn<F, Fut>(
        &self,
        tasks: &mut tokio::task::JoinSet<()>,
        org: &str,
        task: &'static str,
        attempt: F,
    ) where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        tasks.spawn(supervise(
            Arc::clone(&self.board),
            org.to_string(),
            task,
            self.stopping.clone(),
            attempt,
        ));
    }

    /// Streaming detection for `org`, woken by `signal`.
    fn detection(
        &self,
        tasks: &mut tokio::task::JoinSet<()>,
        org: &str,
        pack: Arc<detect::Pack>,
        signal: Arc<Notify>,
    ) {
        let options = self.detector_options.clone();
        let path = self.path.clone();
        let org_name = org.to_string();
        let waker = Arc::clone(&self.delivery_waker);
        let stopping_for_task = self.stopping.clone();
        self.spawn(tasks, org, "detect", move || {
            let pack = Arc::clone(&pack);
            let options = options.clone();
            let path = path.clone();
            let org = org_name.clone();
            let signal = Arc::clone(&signal);
            let waker = Arc::clone(&waker);
            let stopping = stopping_for_task.clone();
            async move {
                let service = tokio::task::spawn_blocking(move || {
                    detect::DetectService::open(&path, &org, pack, options)
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                service
                    .with_ingest_signal(signal)
                    .with_delivery_waker(waker)
                    .run(stopped(stopping))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        });
    }

    /// The collector of `org`, each committed page firing `signal`.
    fn collection(
        &self,
        tasks: &mut tokio::task::JoinSet<()>,
        org: &str,
        client: collect::OktaClient,
        signal: Arc<Notify>,
    ) {
        let config = self.poller_config.clone();
        let path = self.path.clone();
        let org_name = org.to_string();
        let stopping_for_task = self.stopping.clone();
        self.spawn(tasks, org, "collect", move || {
            let client = client.clone();
            let config = config.clone();
            let path = path.clone();
            let org = org_name.clone();
            let signal = Arc::clone(&signal);
            let stopping = stopping_for_task.clone();
            async move {
                let poller = tokio::task::spawn_blocking(move || {
                    collect::Poller::new(&path, &org, client, config).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())??;
                let mut pages = poller.subscribe();
                let bridge = tokio::spawn(async move {
                    while pages.changed().await.is_ok() {
                        signal.notify_one();
                    }
                });
                let result = poller.run(stopping).await;
                bridge.abort();
                result.map(|_| ()).map_err(|e| e.to_string())
            }
        });
    }

    /// Roster snapshots and posture checks of `org`, when audits are on.
    fn audits(
        &self,
        tasks: &mut tokio::task::JoinSet<()>,
        org: &str,
        client: &collect::OktaClient,
    ) {
        let Some((every, schedule)) = self.audit.clone() else {
            return;
        };
        let source = audit::okta_source::OktaDirectory::new(client.clone());
        let routing = self.routing.clone();
        let path = self.path.clone();
        let org_name = org.to_string();
        let waker = Arc::clone(&self.delivery_waker);
        let stopping_for_task = self.stopping.clone();
        self.spawn(tasks, org, "audit", move || {
            let source = source.clone();
            let schedule = schedule.clone();
            let routing = routing.clone();
            let path = path.clone();
            let org = org_name.clone();
            let waker = Arc::clone(&waker);
            let mut stopping = stopping_for_task.clone();
            async move {
                loop {
                    audit_once(&path, &org, &source, &schedule, &routing, &waker).await?;
                    tokio::select! {
                        _ = stopping.wait_for(|s| *s) => return Ok(()),
                        _ = tokio::time::sleep(every) => {}
                    }
                }
            }
        });
    }
}

/// Starts detection for orgs that appeared in the store, and the collector and audits for orgs
/// that got a source, since the daemon started. An org whose rules or credentials do not work
/// is logged (once per distinct error), shown on the task board and retried next check.
async fn start_new_orgs(
    settings: &DaemonSettings,
    spawner: &OrgTasks,
    running: &mut RunningOrgs,
    signals: &mut BTreeMap<String, Arc<Notify>>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    let path = settings.store_path.clone();
    let listed = tokio::task::spawn_blocking(move || -> Result<_, store::StoreError> {
        let store = Store::open_read_only(&path)?;
        let orgs: Vec<String> = store.orgs()?.into_iter().map(|(_, name)| name).collect();
        let sources: Vec<String> = store.sources()?.into_iter().map(|s| s.org).collect();
        Ok((orgs, sources))
    })
    .await;
    let (orgs, sources) = match listed {
        Ok(Ok(lists)) => lists,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Cannot list orgs for new ones; trying again next check.");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "Listing orgs failed; trying again next check.");
            return;
        }
    };
    let failed = |running: &mut RunningOrgs, org: &str, task: &'static str, error: String| {
        let key = (org.to_string(), task);
        if running.failed.get(&key) != Some(&error) {
            tracing::error!(org, task, %error, "Cannot start a task for a new org; retrying each check.");
            record_start_failure(&spawner.board, org, task, &error);
            running.failed.insert(key, error);
        }
    };
    let new_orgs: Vec<&String> = orgs
        .iter()
        .filter(|o| !running.detected.contains(*o))
        .collect();
    for org in new_orgs {
        match detect::Pack::build(&settings.detect, &settings.detect_base, Some(org)) {
            Ok(pack) => {
                let signal = Arc::clone(signals.entry(org.clone()).or_default());
                spawner.detection(tasks, org, Arc::new(pack), signal);
                running.detected.insert(org.clone());
                running.failed.remove(&(org.clone(), "detect"));
                tracing::info!(org, "New org: detection started.");
            }
            Err(e) => failed(running, org, "detect", e.to_string()),
        }
    }
    let new_sources: Vec<&String> = sources
        .iter()
        .filter(|o| !running.collected.contains(*o))
        .collect();
    for org in new_sources {
        let client_config = client_config(&settings.server);
        let path = settings.store_path.clone();
        let name = org.clone();
        let client = tokio::task::spawn_blocking(move || {
            let store = Store::open_read_only(&path).map_err(|e| e.to_string())?;
            collect::client_from_store(&store, &name, client_config).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match client {
            Ok(client) => {
                let signal = Arc::clone(signals.entry(org.clone()).or_default());
                spawner.collection(tasks, org, client.clone(), signal);
                spawner.audits(tasks, org, &client);
                running.collected.insert(org.clone());
                running.failed.remove(&(org.clone(), "collect"));
                tracing::info!(org, "New source: collector started.");
            }
            Err(e) => failed(running, org, "collect", e),
        }
    }
}

/// The API client settings of every collected org (`[server.collect] share`).
fn client_config(server: &ServerConfig) -> collect::ClientConfig {
    collect::ClientConfig {
        rate: collect::RateConfig {
            share: server.collect.share,
            ..collect::RateConfig::default()
        },
        ..collect::ClientConfig::default()
    }
}

/// Shows a task that could not start on the board (so `/metrics` has it).
fn record_start_failure(board: &TaskBoard, org: &str, task: &'static str, error: &str) {
    board.started(org, task);
    board.stopped(org, task, Some(error.to_string()));
}

/// Completes when `stopping` turns true (or its sender is gone).
async fn stopped(mut stopping: watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

/// Runs `attempt` until shutdown, restarting it with back-off when it fails or ends early.
async fn supervise<F, Fut>(
    board: Arc<TaskBoard>,
    org: String,
    task: &'static str,
    mut stopping: watch::Receiver<bool>,
    mut attempt: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut backoff = Duration::from_secs(1);
    loop {
        if *stopping.borrow() {
            break;
        }
        board.started(&org, task);
        let result = attempt().await;
        let stopping_now = *stopping.borrow();
        match result {
            Ok(()) if stopping_now => {
                board.stopped(&org, task, None);
                break;
            }
            Ok(()) => {
                tracing::warn!(org, task, "Task ended on its own; restarting it.");
                board.stopped(&org, task, Some("ended on its own".into()));
            }
            Err(error) => {
                tracing::error!(org, task, %error, retry_in = ?backoff, "Task failed; restarting it.");
                board.stopped(&org, task, Some(error));
            }
        }
        tokio::select! {
            _ = stopping.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

/// One scheduled archive round, off the async threads (sealing is file and SQLite work).
async fn archive_once(path: &std::path::Path, schedule: &ArchiveSchedule) -> Result<(), String> {
    let path = path.to_path_buf();
    let schedule = schedule.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        archive::scheduled_seal(
            &path,
            &schedule.root,
            schedule.seal_older_than_micros,
            schedule.retain_micros,
        )
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    if outcome.is_none() {
        tracing::info!("Archive writer lock held by another process; sealing next round.");
    }
    Ok(())
}

/// One audit round for an org: a roster snapshot and a posture check when due, raising their
/// alerts.
async fn audit_once(
    path: &std::path::Path,
    org: &str,
    source: &audit::okta_source::OktaDirectory,
    schedule: &audit::AuditSchedule,
    routing: &store::alerts::AlertRouting,
    waker: &Notify,
) -> Result<(), String> {
    let mut store = Store::open(path).map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    let mut drafts = Vec::new();
    if let audit::SnapshotOutcome::Taken {
        alert: Some(alert), ..
    } = audit::snapshot_if_due(&mut store, org, source, schedule, now)
        .await
        .map_err(|e| format!("roster snapshot: {e}"))?
    {
        drafts.push(alert);
    }
    if let audit::PostureOutcome::Checked {
        alert: Some(alert), ..
    } = audit::posture_if_due(&mut store, org, source, schedule, now)
        .await
        .map_err(|e| format!("posture check: {e}"))?
    {
        drafts.push(alert);
    }
    let mut queued = 0;
    for draft in drafts {
        queued += store
            .raise(&draft, routing, chrono::Utc::now())
            .map_err(|e| e.to_string())?
            .queued;
    }
    if queued > 0 {
        waker.notify_one();
    }
    Ok(())
}
