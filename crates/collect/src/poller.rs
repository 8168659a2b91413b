//! The poller: Okta's polling algorithm for one org (reference §1.4), run as one tokio task.
//!
//! 1. The cursor is the opaque `rel="next"` URL, stored in the store. With none (first run),
//!    the poller starts a polling query at `since = now − backfill` (or the configured
//!    [`PollerConfig::since`]; ascending, no `until`,
//!    `limit` 1000) and stores that URL as the cursor before sending it, so a crash before the
//!    first page resumes from the same `since`.
//! 2. Each page's events and its `next` URL are committed in ONE SQLite transaction
//!    ([`store::Store::commit_page`]), deduplicated on uuid. A restart resumes exactly from the
//!    cursor; at most the page in flight is fetched again, and dedupe drops it.
//! 3. A page shorter than its `limit` means caught up: sleep the poll interval, then GET the
//!    stored `next` again. `[]` never ends the stream.
//! 4. A cursor Okta rejects (400 on a stored `next`) is replaced by a fresh query at
//!    `since = newest published − overlap`; dedupe drops the overlap.
//! 5. On any error the cursor stays where it is; the error and counters are recorded, the
//!    poller backs off and tries the same URL again. 401/403 are retried slowly (a human must
//!    fix the credential; `idwatch status` shows the error).
//!
//! [`PollerStats`] (published on a `watch` channel after every page and error) carries what
//! `idwatch status` and `/metrics` show: events/min, 429s, duplicates dropped, last error,
//! cursor age, lag.

use crate::client::{ClientConfig, CounterSnapshot, OktaClient};
use crate::credentials::CredentialSpec;
use crate::error::ClientError;
use crate::rate::jitter;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{CollectorCounters, OrgId, PageCommit, Store, StoreError};
use tokio::sync::watch;
use url::Url;

/// How the poller behaves.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// Sleep after a short page (caught up).
    pub poll_interval: Duration,
    /// Events per page on a fresh query (baked into every `next` URL after it).
    pub page_limit: u32,
    /// How far back the first run starts (Okta keeps 90 days).
    pub backfill: chrono::Duration,
    /// Where the first run starts instead of `now − backfill`: a responder backfilling from a
    /// known time. Sent to Okta as is (Okta refuses a `since` older than it keeps).
    pub since: Option<DateTime<Utc>>,
    /// How far before the newest stored event a rebuilt cursor starts.
    pub overlap: chrono::Duration,
    /// Stop once caught up (the first short page) instead of polling forever.
    pub once: bool,
    /// In `once` mode, give up after this many failed fetches in a row.
    pub max_consecutive_errors: u32,
    /// Longest sleep after transient errors.
    pub error_backoff_max: Duration,
    /// Sleep after 401/403 before trying again (not in `once` mode: there it is an error).
    pub auth_retry: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig {
            poll_interval: Duration::from_secs(20),
            page_limit: 1000,
            backfill: chrono::Duration::days(7),
            since: None,
            overlap: chrono::Duration::minutes(2),
            once: false,
            max_consecutive_errors: 30,
            error_backoff_max: Duration::from_secs(120),
            auth_retry: Duration::from_secs(300),
        }
    }
}

/// What the poller has done, live.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollerStats {
    /// The org.
    pub org: String,
    /// Pages committed by this run.
    pub pages: u64,
    /// Events newly stored by this run.
    pub events: u64,
    /// Events received again and dropped by dedupe.
    pub duplicates: u64,
    /// Array elements that were not valid events (skipped, counted as errors).
    pub rejected: u64,
    /// HTTP requests.
    pub requests: u64,
    /// 429s received.
    pub rate_limited: u64,
    /// Retries.
    pub retries: u64,
    /// Failed fetches (after the client's retries).
    pub errors: u64,
    /// Cursors rebuilt from `since` after Okta rejected one.
    pub cursor_resets: u64,
    /// New events in the last 60 s.
    pub events_last_minute: u64,
    /// The last error, and when.
    pub last_error: Option<(String, DateTime<Utc>)>,
    /// When the cursor last moved (the last committed page).
    pub cursor_at: Option<DateTime<Utc>>,
    /// Newest `published` stored for the org.
    pub newest_published: Option<DateTime<Utc>>,
    /// Where this backfill started (`since` of the first query), if this run started one.
    pub backfill_since: Option<DateTime<Utc>>,
    /// The last page was short: caught up.
    pub caught_up: bool,
    /// The poller has stopped.
    pub finished: bool,
}

impl PollerStats {
    /// now − newest published.
    pub fn lag(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.newest_published.map(|p| now - p)
    }

    /// now − when the cursor last moved.
    pub fn cursor_age(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.cursor_at.map(|c| now - c)
    }
}

/// Why a poller stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The store failed (the cursor did not move past anything not stored).
    #[error("org {org}: store: {source}")]
    Store {
        /// The org.
        org: String,
        /// The error.
        #[source]
        source: StoreError,
    },
    /// Okta kept failing, or refused the credentials (only in `once` mode).
    #[error("org {org}: {source}")]
    Client {
        /// The org.
        org: String,
        /// The error.
        #[source]
        source: ClientError,
    },
    /// The org has no usable source definition.
    #[error("org {org}: {reason}")]
    Source {
        /// The org.
        org: String,
        /// What is wrong.
        reason: String,
    },
}

/// A poller for one org.
pub struct Poller {
    org: String,
    org_id: OrgId,
    client: OktaClient,
    store: Arc<Mutex<Store>>,
    config: PollerConfig,
    stats: watch::Sender<PollerStats>,
    recent: VecDeque<(Instant, u64)>,
    counters_at_last_report: CounterSnapshot,
}

/// Builds the client of org `name` from its stored source (URL and credential references).
pub fn client_from_store(
    store: &Store,
    name: &str,
    config: ClientConfig,
) -> Result<OktaClient, PollError> {
    let source_err = |reason: String| PollError::Source {
        org: name.to_string(),
        reason,
    };
    let source = store
        .source(name)
        .map_err(|source| PollError::Store {
            org: name.to_string(),
            source,
        })?
        .ok_or_else(|| {
            source_err(format!(
                "no source defined (add one with `idwatch org add {name} --url ...`)"
            ))
        })?;
    let spec = CredentialSpec::from_json(&source.auth)
        .map_err(|e| source_err(format!("stored credential references are unreadable: {e}")))?;
    let credentials = spec
        .resolve()
        .map_err(|e| source_err(format!("{e} (credentials: {spec})")))?;
    OktaClient::new(&source.url, credentials, config).map_err(|source| PollError::Client {
        org: name.to_string(),
        source,
    })
}

fn limit_of(url: &Url) -> usize {
    url.query_pairs()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(100)
}

fn micros_to_time(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

impl Poller {
    /// A poller for org `name`, writing to the store at `store_path` (its own connection).
    pub fn new(
        store_path: &Path,
        name: &str,
        client: OktaClient,
        config: PollerConfig,
    ) -> Result<Poller, PollError> {
        let store_err = |source| PollError::Store {
            org: name.to_string(),
            source,
        };
        let mut store = Store::open(store_path).map_err(store_err)?;
        let org_id = store.ensure_org(name).map_err(store_err)?;
        let state = store.collector_state(org_id).map_err(store_err)?;
        let stats = PollerStats {
            org: name.to_string(),
            newest_published: state
                .as_ref()
                .and_then(|s| s.newest_published)
                .and_then(micros_to_time),
            cursor_at: state
                .as_ref()
                .and_then(|s| s.cursor_at)
                .and_then(micros_to_time),
            ..PollerStats::default()
        };
        let counters_at_last_report = client.counters();
        Ok(Poller {
            org: name.to_string(),
            org_id,
            client,
            store: Arc::new(Mutex::new(store)),
            config,
            stats: watch::channel(stats).0,
            recent: VecDeque::new(),
            counters_at_last_report,
        })
    }

    /// A poller for org `name` built from its stored source.
    pub fn from_store(
        store_path: &Path,
        name: &str,
        client_config: ClientConfig,
        config: PollerConfig,
    ) -> Result<Poller, PollError> {
        let client = {
            let store = Store::open(store_path).map_err(|source| PollError::Store {
                org: name.to_string(),
                source,
            })?;
            client_from_store(&store, name, client_config)?
        };
        Poller::new(store_path, name, client, config)
    }

    /// Live statistics, updated after every page and error.
    pub fn subscribe(&self) -> watch::Receiver<PollerStats> {
        self.stats.subscribe()
    }

    /// The client (its budget and counters).
    pub fn client(&self) -> &OktaClient {
        &self.client
    }

    fn store_err(&self, source: StoreError) -> PollError {
        PollError::Store {
            org: self.org.clone(),
            source,
        }
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, PollError> {
        let store = self.store.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await;
        match joined {
            Ok(result) => result.map_err(|e| self.store_err(e)),
            Err(e) => Err(PollError::Source {
                org: self.org.clone(),
                reason: format!("store task failed: {e}"),
            }),
        }
    }

    fn counters_delta(&mut self, errors: u64) -> CollectorCounters {
        let now = self.client.counters();
        let d = now.since(&self.counters_at_last_report);
        self.counters_at_last_report = now;
        CollectorCounters {
            requests: d.requests,
            rate_limited: d.rate_limited,
            retries: d.retries,
            errors,
        }
    }

    fn update_stats(&self, f: impl FnOnce(&mut PollerStats)) {
        self.stats.send_modify(f);
    }

    /// The URL to request next: the stored cursor, or a new polling query from `since`.
    async fn current_url(
        &mut self,
        fallback_since: Option<DateTime<Utc>>,
    ) -> Result<Url, PollError> {
        let org = self.org_id;
        let state = self.with_store(move |s| s.collector_state(org)).await?;
        if let Some(next) = state.and_then(|s| s.next_url) {
            if let Ok(url) = self.client.resolve(&next) {
                return Ok(url);
            }
            tracing::warn!(org = %self.org, "stored cursor is not a URL of this org; starting over");
        }
        // Okta refuses a `since` older than 180 days; a configured start is taken as given.
        let now = Utc::now();
        let oldest = now - chrono::Duration::days(180) + chrono::Duration::minutes(5);
        let oldest = self.config.since.map_or(oldest, |s| s.min(oldest));
        let since = fallback_since
            .or(self.config.since)
            .unwrap_or(now - self.config.backfill)
            .max(oldest);
        let url = self.client.logs_since_url(since, self.config.page_limit);
        let text = url.to_string();
        let stored = self.with_store(move |s| s.start_cursor(org, &text)).await?;
        if stored == url.as_str() {
            self.update_stats(|s| s.backfill_since = Some(since));
        }
        self.client
            .resolve(&stored)
            .map_err(|source| PollError::Client {
                org: self.org.clone(),
                source,
            })
    }

    /// Polls until `shutdown` turns true (or, in `once` mode, until caught up). Returns the
    /// final statistics.
    pub async fn run(
        mut self,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<PollerStats, PollError> {
        let result = self.run_inner(&mut shutdown).await;
        self.update_stats(|s| s.finished = true);
        result.map(|()| self.stats.borrow().clone())
    }

    async fn run_inner(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<(), PollError> {
        let mut consecutive_errors = 0u32;
        let mut fallback_since: Option<DateTime<Utc>> = None;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let url = self.current_url(fallback_since.take()).await?;
            let fetched = tokio::select! {
                page = self.client.get_log_page(&url) => page,
                _ = shutdown.changed() => return Ok(()),
            };
            match fetched {
                Ok(page) => {
                    consecutive_errors = 0;
                    let limit = limit_of(&url);
                    let received = page.events.len() + page.rejected.len();
                    let caught_up = received < limit;
                    // Polling always links `next`; without one, ask the same URL again.
                    let next = page.next.clone().unwrap_or_else(|| url.clone());
                    let rejected = page.rejected.len() as u64;
                    if rejected > 0 {
                        tracing::warn!(org = %self.org, rejected = ?page.rejected, "skipped elements that are not valid events");
                    }
                    let counters = self.counters_delta(0);
                    let org = self.org_id;
                    let next_text = next.to_string();
                    let events = page.events;
                    let newest = events.iter().map(|e| e.published()).max();
                    let outcome = self
                        .with_store(move |s| {
                            s.commit_page(
                                org,
                                &events,
                                &PageCommit {
                                    next_url: &next_text,
                                    counters,
                                    caught_up,
                                },
                            )
                        })
                        .await?;
                    let now = Instant::now();
                    self.recent.push_back((now, outcome.new as u64));
                    while self
                        .recent
                        .front()
                        .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(60))
                    {
                        self.recent.pop_front();
                    }
                    let last_minute = self.recent.iter().map(|(_, n)| n).sum();
                    let client_now = self.client.counters();
                    self.update_stats(|s| {
                        s.pages += 1;
                        s.events += outcome.new as u64;
                        s.duplicates += outcome.duplicates as u64;
                        s.rejected += rejected;
                        s.requests = client_now.requests;
                        s.rate_limited = client_now.rate_limited;
                        s.retries = client_now.retries;
                        s.events_last_minute = last_minute;
                        s.cursor_at = Some(Utc::now());
                        s.newest_published = s.newest_published.max(newest);
                        s.caught_up = caught_up;
                    });
                    if caught_up {
                        if self.config.once {
                            return Ok(());
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(self.config.poll_interval) => {}
                            _ = shutdown.changed() => return Ok(()),
                        }
                    }
                }
                Err(error) => {
                    consecutive_errors += 1;
                    let message = error.to_string();
                    tracing::warn!(org = %self.org, %message, "fetch failed; the cursor stays");
                    let cursor_rejected = matches!(&error, ClientError::Api(e) if e.status == 400)
                        && url.query_pairs().any(|(k, _)| k == "after");
                    let counters = self.counters_delta(1);
                    let org = self.org_id;
                    let client_now = self.client.counters();
                    if cursor_rejected {
                        let reason = format!("cursor rejected, rebuilt from since: {message}");
                        let state = self
                            .with_store(move |s| {
                                s.record_collector_error(org, &reason, counters)?;
                                s.reset_cursor(org, &reason)?;
                                let state = s.collector_state(org)?;
                                let newest = match state.and_then(|st| st.newest_published) {
                                    Some(n) => Some(n),
                                    None => s.newest_published(org)?,
                                };
                                Ok(newest)
                            })
                            .await?;
                        fallback_since = state
                            .and_then(micros_to_time)
                            .map(|t| t - self.config.overlap);
                        self.update_stats(|s| {
                            s.cursor_resets += 1;
                            s.errors += 1;
                            s.last_error = Some((message.clone(), Utc::now()));
                        });
                        continue;
                    }
                    let stored_message = message.clone();
                    self.with_store(move |s| {
                        s.record_collector_error(org, &stored_message, counters)
                    })
                    .await?;
                    self.update_stats(|s| {
                        s.errors += 1;
                        s.requests = client_now.requests;
                        s.rate_limited = client_now.rate_limited;
                        s.retries = client_now.retries;
                        s.last_error = Some((message.clone(), Utc::now()));
                    });
                    // A human must act on these (credentials, scopes, a bad request).
                    let permanent = matches!(
                        error,
                        ClientError::Unauthorized(_)
                            | ClientError::Forbidden(_)
                            | ClientError::OAuth(_)
                            | ClientError::Credentials(_)
                            | ClientError::Url(_)
                            | ClientError::Api(_)
                    );
                    if self.config.once
                        && (permanent || consecutive_errors >= self.config.max_consecutive_errors)
                    {
                        return Err(PollError::Client {
                            org: self.org.clone(),
                            source: error,
                        });
                    }
                    let wait = if permanent {
                        self.config.auth_retry
                    } else {
                        let exp = Duration::from_secs(1u64 << consecutive_errors.min(10));
                        exp.min(self.config.error_backoff_max) + jitter(Duration::from_secs(1))
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => return Ok(()),
                    }
                }
            }
        }
    }
}

/// Runs one poller per org concurrently (one task each) until `shutdown` or, in `once` mode,
/// until every org is caught up. Returns each org's outcome, in the order given.
pub async fn run_all(
    pollers: Vec<Poller>,
    shutdown: watch::Receiver<bool>,
) -> Vec<(String, Result<PollerStats, PollError>)> {
    let mut tasks = Vec::new();
    for poller in pollers {
        let org = poller.org.clone();
        let rx = shutdown.clone();
        tasks.push((org, tokio::spawn(poller.run(rx))));
    }
    let mut out = Vec::new();
    for (org, task) in tasks {
        let result = match task.await {
            Ok(r) => r,
            Err(e) => Err(PollError::Source {
                org: org.clone(),
                reason: format!("poller task failed: {e}"),
            }),
        };
        out.push((org, result));
    }
    out
}
