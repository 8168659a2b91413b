//! Where the collector's durable state lives: each org's source definition (its Okta URL and how
//! to find its credentials: env var names, file paths, a client id, never a secret), and the
//! poller's state: the opaque `next` URL of the System Log polling query (the cursor), the newest
//! `published` seen, and cumulative counters (requests, 429s, retries, errors, duplicates).
//!
//! The cursor only moves in [`Store::commit_page`], which stores a page's events and the page's
//! `next` URL in ONE transaction: after a kill -9 the store holds either the page and its cursor
//! or neither, so a restart re-reads at most the page in flight (and dedupe on uuid drops it).
//! Errors are recorded with [`Store::record_collector_error`], which never touches the cursor.

use crate::error::{SqlContext, StoreError};
use crate::ingest::{ingest_in_tx, BatchOutcome};
use crate::open::{OrgId, Store};
use okta::LogEvent;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// The batch source label of events the poller stores (hooks use their own).
pub const POLL_SOURCE: &str = "poll";

/// One org's source: where it is and how to authenticate (by reference only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// The org's name in this store.
    pub org: String,
    /// Its id.
    pub org_id: OrgId,
    /// Base URL, e.g. `https://example.okta.com`.
    pub url: String,
    /// `ssws` or `oauth`.
    pub auth_kind: String,
    /// JSON of the credential references (the collector's format; holds no secret).
    pub auth: String,
    /// When the source was added (µs).
    pub created_at: i64,
}

/// Counter increments that a page commit or an error report adds to the cumulative counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CollectorCounters {
    /// HTTP requests sent (including retries and token requests).
    pub requests: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Requests retried after a 429, a 5xx, a timeout, a reset or a truncated body.
    pub retries: u64,
    /// Failed page fetches (after the client's own retries).
    pub errors: u64,
}

/// What [`Store::commit_page`] stores beside the page's events.
#[derive(Debug, Clone, Copy)]
pub struct PageCommit<'a> {
    /// The page's `rel="next"` URL: where the next request starts (the new cursor).
    pub next_url: &'a str,
    /// Counters since the previous commit or error report.
    pub counters: CollectorCounters,
    /// The page was shorter than its limit: the collector is caught up.
    pub caught_up: bool,
}

/// The poller's durable state for one org.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorState {
    /// The cursor (opaque `next` URL); `None` after a reset, before the first request.
    pub next_url: Option<String>,
    /// When the cursor was last committed (µs).
    pub cursor_at: Option<i64>,
    /// Newest `published` (µs) of any event the poller stored.
    pub newest_published: Option<i64>,
    /// Pages committed.
    pub pages: u64,
    /// Events newly stored by the poller.
    pub events: u64,
    /// Events received again and dropped by dedupe.
    pub duplicates: u64,
    /// Cumulative counters.
    pub counters: CollectorCounters,
    /// Times the cursor was lost or rejected and rebuilt from `since`.
    pub cursor_resets: u64,
    /// Last error, if any, and when (µs).
    pub last_error: Option<(String, i64)>,
    /// Last successful page (µs).
    pub last_success_at: Option<i64>,
    /// Last time a short page said the poller was caught up (µs).
    pub caught_up_at: Option<i64>,
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Store {
    /// Adds (or, with `replace`, redefines) the source of org `name`, creating the org if new.
    /// Redefining keeps the cursor and counters: the org is the same, only access changed.
    pub fn put_source(
        &mut self,
        name: &str,
        url: &str,
        auth_kind: &str,
        auth: &str,
        replace: bool,
    ) -> Result<OrgId, StoreError> {
        let org = self.ensure_org(name)?;
        let now = now_micros();
        let exists: bool = self
            .conn
            .query_row("SELECT 1 FROM org_sources WHERE org = ?1", [org.0], |_| {
                Ok(true)
            })
            .optional()
            .context("looking up source")?
            .unwrap_or(false);
        if exists && !replace {
            return Err(StoreError::Query(format!(
                "org `{name}` already has a source (remove it first, or replace it)"
            )));
        }
        self.conn
            .execute(
                "INSERT INTO org_sources (org, url, auth_kind, auth, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (org) DO UPDATE SET url = ?2, auth_kind = ?3, auth = ?4,
                    updated_at = ?5",
                params![org.0, url, auth_kind, auth, now],
            )
            .context("storing source")?;
        Ok(org)
    }

    /// Every org with a source, by name.
    pub fn sources(&self) -> Result<Vec<SourceRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT o.name, o.id, s.url, s.auth_kind, s.auth, s.created_at
                 FROM org_sources s JOIN orgs o ON o.id = s.org ORDER BY o.name",
            )
            .context("listing sources")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SourceRecord {
                    org: r.get(0)?,
                    org_id: OrgId(r.get(1)?),
                    url: r.get(2)?,
                    auth_kind: r.get(3)?,
                    auth: r.get(4)?,
                    created_at: r.get(5)?,
                })
            })
            .context("listing sources")?;
        rows.collect::<Result<_, _>>().context("listing sources")
    }

    /// The source of org `name`, if it has one.
    pub fn source(&self, name: &str) -> Result<Option<SourceRecord>, StoreError> {
        Ok(self.sources()?.into_iter().find(|s| s.org == name))
    }

    /// Removes org `name`'s source and collector state. Its events stay. Returns whether there
    /// was a source.
    pub fn remove_source(&mut self, name: &str) -> Result<bool, StoreError> {
        let Some(org) = self.find_org(name)? else {
            return Ok(false);
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting source removal")?;
        let removed = tx
            .execute("DELETE FROM org_sources WHERE org = ?1", [org.0])
            .context("removing source")?;
        tx.execute("DELETE FROM collector_state WHERE org = ?1", [org.0])
            .context("removing collector state")?;
        tx.commit().context("committing source removal")?;
        Ok(removed > 0)
    }

    /// The poller's state for `org`, if it ever ran.
    pub fn collector_state(&self, org: OrgId) -> Result<Option<CollectorState>, StoreError> {
        self.conn
            .query_row(
                "SELECT next_url, cursor_at, newest_published, pages, events, duplicates,
                        requests, rate_limited, retries, errors, cursor_resets, last_error,
                        last_error_at, last_success_at, caught_up_at
                 FROM collector_state WHERE org = ?1",
                [org.0],
                |r| {
                    let last_error: Option<String> = r.get(11)?;
                    let last_error_at: Option<i64> = r.get(12)?;
                    Ok(CollectorState {
                        next_url: r.get(0)?,
                        cursor_at: r.get(1)?,
                        newest_published: r.get(2)?,
                        pages: r.get::<_, i64>(3)? as u64,
                        events: r.get::<_, i64>(4)? as u64,
                        duplicates: r.get::<_, i64>(5)? as u64,
                        counters: CollectorCounters {
                            requests: r.get::<_, i64>(6)? as u64,
                            rate_limited: r.get::<_, i64>(7)? as u64,
                            retries: r.get::<_, i64>(8)? as u64,
                            errors: r.get::<_, i64>(9)? as u64,
                        },
                        cursor_resets: r.get::<_, i64>(10)? as u64,
                        last_error: last_error.zip(last_error_at),
                        last_success_at: r.get(13)?,
                        caught_up_at: r.get(14)?,
                    })
                },
            )
            .optional()
            .context("reading collector state")
    }

    /// Sets the cursor to `url` if `org` has none (the first request of a backfill, or after a
    /// reset), so a crash before the first page resumes from the same `since`. Returns the
    /// cursor now stored.
    pub fn start_cursor(&mut self, org: OrgId, url: &str) -> Result<String, StoreError> {
        let now = now_micros();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting cursor")?;
        tx.execute(
            "INSERT INTO collector_state (org, updated_at) VALUES (?1, ?2)
             ON CONFLICT (org) DO NOTHING",
            params![org.0, now],
        )
        .context("creating collector state")?;
        tx.execute(
            "UPDATE collector_state SET next_url = ?2, cursor_at = ?3, updated_at = ?3
             WHERE org = ?1 AND next_url IS NULL",
            params![org.0, url, now],
        )
        .context("starting cursor")?;
        let stored: String = tx
            .query_row(
                "SELECT next_url FROM collector_state WHERE org = ?1",
                [org.0],
                |r| r.get(0),
            )
            .context("reading cursor")?;
        tx.commit().context("committing cursor")?;
        Ok(stored)
    }

    /// Stores a page's events (dedupe on uuid) and moves the cursor to `page.next_url`, in one
    /// transaction.
    pub fn commit_page(
        &mut self,
        org: OrgId,
        events: &[LogEvent],
        page: &PageCommit<'_>,
    ) -> Result<BatchOutcome, StoreError> {
        let result = self.commit_page_inner(org, events, page);
        if result.is_err() {
            self.terms.clear();
        }
        result
    }

    fn commit_page_inner(
        &mut self,
        org: OrgId,
        events: &[LogEvent],
        page: &PageCommit<'_>,
    ) -> Result<BatchOutcome, StoreError> {
        let now = now_micros();
        let newest = events.iter().map(LogEvent::published_micros).max();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting page")?;
        let outcome = ingest_in_tx(&tx, &mut self.terms, org, events, POLL_SOURCE)?;
        let c = page.counters;
        tx.execute(
            "INSERT INTO collector_state (org, updated_at) VALUES (?1, ?2)
             ON CONFLICT (org) DO NOTHING",
            params![org.0, now],
        )
        .context("creating collector state")?;
        tx.execute(
            "UPDATE collector_state SET
                next_url = ?2, cursor_at = ?3, updated_at = ?3, last_success_at = ?3,
                newest_published = max(coalesce(newest_published, ?4), coalesce(?4, newest_published)),
                pages = pages + 1, events = events + ?5, duplicates = duplicates + ?6,
                requests = requests + ?7, rate_limited = rate_limited + ?8,
                retries = retries + ?9, errors = errors + ?10,
                caught_up_at = CASE WHEN ?11 THEN ?3 ELSE caught_up_at END
             WHERE org = ?1",
            params![
                org.0,
                page.next_url,
                now,
                newest,
                outcome.new as i64,
                outcome.duplicates as i64,
                c.requests as i64,
                c.rate_limited as i64,
                c.retries as i64,
                c.errors as i64,
                page.caught_up,
            ],
        )
        .context("moving cursor")?;
        tx.commit().context("committing page")?;
        Ok(outcome)
    }

    /// Records a failed fetch: the error text (never a secret: the collector redacts) and the
    /// counters. The cursor does not move.
    pub fn record_collector_error(
        &mut self,
        org: OrgId,
        error: &str,
        counters: CollectorCounters,
    ) -> Result<(), StoreError> {
        let now = now_micros();
        self.conn
            .execute(
                "INSERT INTO collector_state (org, updated_at) VALUES (?1, ?2)
                 ON CONFLICT (org) DO NOTHING",
                params![org.0, now],
            )
            .context("creating collector state")?;
        self.conn
            .execute(
                "UPDATE collector_state SET last_error = ?2, last_error_at = ?3, updated_at = ?3,
                    requests = requests + ?4, rate_limited = rate_limited + ?5,
                    retries = retries + ?6, errors = errors + ?7
                 WHERE org = ?1",
                params![
                    org.0,
                    error,
                    now,
                    counters.requests as i64,
                    counters.rate_limited as i64,
                    counters.retries as i64,
                    counters.errors as i64,
                ],
            )
            .context("recording collector error")?;
        Ok(())
    }

    /// Forgets the cursor (lost or rejected by Okta): the next run starts from `since`.
    pub fn reset_cursor(&mut self, org: OrgId, reason: &str) -> Result<(), StoreError> {
        let now = now_micros();
        self.conn
            .execute(
                "UPDATE collector_state SET next_url = NULL, cursor_resets = cursor_resets + 1,
                    last_error = ?2, last_error_at = ?3, updated_at = ?3
                 WHERE org = ?1",
                params![org.0, reason, now],
            )
            .context("resetting cursor")?;
        Ok(())
    }

    /// New events the poller stored for `org` per minute, averaged over the last `minutes`.
    pub fn poll_events_per_minute(&self, org: OrgId, minutes: u32) -> Result<f64, StoreError> {
        let minutes = minutes.max(1);
        let since = now_micros() - i64::from(minutes) * 60_000_000;
        let events: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(sum(count), 0) FROM (
                    SELECT count, ingested_at FROM batches
                    WHERE org = ?1 AND source = ?2 ORDER BY id DESC LIMIT 100000)
                 WHERE ingested_at >= ?3",
                params![org.0, POLL_SOURCE, since],
                |r| r.get(0),
            )
            .context("counting recent events")?;
        Ok(events as f64 / f64::from(minutes))
    }

    /// Newest `published` (µs) of any of `org`'s events in this tier (a fallback `since` when
    /// there is no collector state, e.g. after an import).
    pub fn newest_published(&self, org: OrgId) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT max(published) FROM events WHERE org = ?1",
                [org.0],
                |r| r.get(0),
            )
            .context("reading newest event")
    }
}
