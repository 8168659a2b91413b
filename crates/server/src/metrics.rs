//! `/metrics`: Prometheus text exposition (format 0.0.4) of what `idwatch status` shows, per
//! org: events stored (by source), events ingested in the last minute, lag (now − newest
//! `published`), cursor age, the collector's requests, 429s, retries, errors, duplicates and
//! last error, the hook receiver's requests by result, detection's position and backlog, alerts
//! raised and deliveries per sink and state, and which daemon tasks run. Guarded by a bearer
//! token (constant-time); without a configured token every scrape gets 401.
//!
//! Everything durable is read from the store at scrape time through one read-only connection
//! (WAL: it never blocks a writer); the hook receiver's and daemon's counters come from memory
//! and start at zero with the process, as Prometheus counters may.

use crate::hooks::{HookReceiver, OrgHookStats, SecretDigest};
use crate::tasks::TaskBoard;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use store::{Store, StoreError};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What `/metrics` reads.
pub struct Metrics {
    store_path: PathBuf,
    reader: Mutex<Option<Store>>,
    token: Option<SecretDigest>,
    hooks: Option<Arc<HookReceiver>>,
    tasks: Arc<TaskBoard>,
}

impl Metrics {
    /// Metrics over the store at `store_path`, guarded by `token`.
    pub fn new(
        store_path: PathBuf,
        token: Option<&notify::Secret>,
        hooks: Option<Arc<HookReceiver>>,
        tasks: Arc<TaskBoard>,
    ) -> Metrics {
        Metrics {
            store_path,
            reader: Mutex::new(None),
            token: token.map(SecretDigest::of),
            hooks,
            tasks,
        }
    }

    /// The `/metrics` route.
    pub fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route("/metrics", get(scrape))
            .with_state(self)
    }

    /// Renders every metric now.
    pub fn render(&self) -> Result<String, StoreError> {
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(Store::open_read_only(&self.store_path)?);
        }
        let Some(store) = guard.as_ref() else {
            return Err(StoreError::Query("metrics reader unavailable".into()));
        };
        let hooks = self.hooks.as_ref().map(|h| h.stats()).unwrap_or_default();
        let result = render(store, &hooks, &self.tasks);
        if result.is_err() {
            // A broken connection is reopened on the next scrape.
            *guard = None;
        }
        result
    }
}

async fn scrape(State(metrics): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes);
    let authorized = match (&metrics.token, offered) {
        (Some(token), Some(offered)) => token.matches(offered),
        _ => false,
    };
    if !authorized {
        let message = if metrics.token.is_none() {
            "metrics need a token: set [server] metrics_token = { env = \"IDWATCH_METRICS_TOKEN\" } and send Authorization: Bearer <token>\n"
        } else {
            "send Authorization: Bearer <the metrics token>\n"
        };
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"idwatch metrics\"")],
            message,
        )
            .into_response();
    }
    let rendered = tokio::task::spawn_blocking(move || metrics.render()).await;
    match rendered {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Could not read the store for /metrics.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("reading the store: {e}\n"),
            )
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// Escapes a label value (backslash, quote, newline) and keeps it short.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(200));
    for c in value.chars().take(200) {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One metric family being written: `# HELP`, `# TYPE`, then samples.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        self.sample_named(self.name, labels, value);
    }

    fn sample_named(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let _ = write!(self.out, "{name}");
        if !labels.is_empty() {
            let parts: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", parts.join(","));
        }
        if value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = writeln!(self.out, " {}", value as i64);
        } else {
            let _ = writeln!(self.out, " {value}");
        }
    }
}

fn seconds_since(now_us: i64, then_us: i64) -> f64 {
    ((now_us - then_us).max(0) as f64) / 1e6
}

fn render(
    store: &Store,
    hooks: &BTreeMap<String, OrgHookStats>,
    tasks: &TaskBoard,
) -> Result<String, StoreError> {
    let now = chrono::Utc::now().timestamp_micros();
    let activity = store.org_activity(now - 60_000_000)?;
    let mut collectors = BTreeMap::new();
    let mut detection = BTreeMap::new();
    for a in &activity {
        if let Some(state) = store.collector_state(a.org)? {
            collectors.insert(a.name.clone(), state);
        }
        detection.insert(a.name.clone(), store.detection_backlog(a.org)?);
    }
    let alerts = store.alerts_raised_by_org()?;
    let deliveries = store.delivery_tallies()?;
    let mut out = String::with_capacity(8192);

    let mut f = Family::new(
        &mut out,
        "idwatch_up",
        "gauge",
        "1 while the daemon serves.",
    );
    f.sample(&[], 1.0);

    let mut f = Family::new(
        &mut out,
        "idwatch_events_stored",
        "gauge",
        "Events stored, by org and source (poll, hook, import).",
    );
    for a in &activity {
        for (source, n) in &a.stored_by_source {
            f.sample(&[("org", &a.name), ("source", source)], *n as f64);
        }
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_events_per_minute",
        "gauge",
        "Events stored in the last 60 seconds.",
    );
    for a in &activity {
        f.sample(&[("org", &a.name)], a.ingested_since as f64);
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_lag_seconds",
        "gauge",
        "Now minus the newest published time stored.",
    );
    for a in &activity {
        if let Some(newest) = a.newest_published {
            f.sample(&[("org", &a.name)], seconds_since(now, newest));
        }
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_last_ingest_age_seconds",
        "gauge",
        "Seconds since the last batch of new events was stored.",
    );
    for a in &activity {
        if let Some(last) = a.last_ingested {
            f.sample(&[("org", &a.name)], seconds_since(now, last));
        }
    }

    let mut f = Family::new(
        &mut out,
        "idwatch_cursor_age_seconds",
        "gauge",
        "Seconds since the collector last committed its cursor.",
    );
    for (org, state) in &collectors {
        if let Some(at) = state.cursor_at {
            f.sample(&[("org", org)], seconds_since(now, at));
        }
    }
    type Counter = fn(&store::sources::CollectorState) -> u64;
    let counters: [(&'static str, &str, Counter); 5] = [
        (
            "idwatch_collector_requests_total",
            "HTTP requests the collector sent.",
            |s| s.counters.requests,
        ),
        (
            "idwatch_collector_rate_limited_total",
            "429 responses the collector received.",
            |s| s.counters.rate_limited,
        ),
        (
            "idwatch_collector_retries_total",
            "Requests the collector retried.",
            |s| s.counters.retries,
        ),
        (
            "idwatch_collector_errors_total",
            "Page fetches that failed after retries.",
            |s| s.counters.errors,
        ),
        (
            "idwatch_collector_cursor_resets_total",
            "Times the cursor was lost and rebuilt from since.",
            |s| s.cursor_resets,
        ),
    ];
    for (name, help, get) in counters {
        let mut f = Family::new(&mut out, name, "counter", help);
        for (org, state) in &collectors {
            f.sample(&[("org", org)], get(state) as f64);
        }
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_duplicates_dropped_total",
        "counter",
        "Events received again and dropped by dedupe on uuid, by path.",
    );
    for (org, state) in &collectors {
        f.sample(&[("org", org), ("source", "poll")], state.duplicates as f64);
    }
    for (org, stats) in hooks {
        f.sample(&[("org", org), ("source", "hook")], stats.duplicates as f64);
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_last_error_timestamp_seconds",
        "gauge",
        "When the last error happened (Unix seconds), by component; the message is in idwatch_last_error_info.",
    );
    let mut errors: Vec<(&str, &str, &str, i64)> = Vec::new();
    for (org, state) in &collectors {
        if let Some((message, at)) = &state.last_error {
            errors.push((org, "collect", message, *at));
        }
    }
    for (org, stats) in hooks {
        if let Some((message, at)) = &stats.last_error {
            errors.push((org, "hook", message, *at));
        }
    }
    for (org, component, _, at) in &errors {
        f.sample(&[("org", org), ("component", component)], *at as f64 / 1e6);
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_last_error_info",
        "gauge",
        "The last error's message as a label (value always 1).",
    );
    for (org, component, message, _) in &errors {
        f.sample(
            &[("org", org), ("component", component), ("error", message)],
            1.0,
        );
    }

    let mut f = Family::new(
        &mut out,
        "idwatch_hook_requests_total",
        "counter",
        "Event Hook requests, by result.",
    );
    for (org, stats) in hooks {
        for (result, n) in &stats.requests {
            f.sample(&[("org", org), ("result", result)], *n as f64);
        }
    }
    type HookCounter = fn(&OrgHookStats) -> u64;
    let hook_counters: [(&'static str, &str, HookCounter); 3] = [
        (
            "idwatch_hook_events_received_total",
            "Events in Event Hook deliveries.",
            |s| s.events_received,
        ),
        (
            "idwatch_hook_events_stored_total",
            "Events newly stored from Event Hook deliveries.",
            |s| s.events_stored,
        ),
        (
            "idwatch_hook_events_rejected_total",
            "Events in deliveries that were not usable LogEvents.",
            |s| s.events_rejected,
        ),
    ];
    for (name, help, get) in hook_counters {
        let mut f = Family::new(&mut out, name, "counter", help);
        for (org, stats) in hooks {
            f.sample(&[("org", org)], get(stats) as f64);
        }
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_hook_answer_seconds",
        "summary",
        "Time from a delivery's headers to its answer.",
    );
    for (org, stats) in hooks {
        f.sample_named(
            "idwatch_hook_answer_seconds_sum",
            &[("org", org)],
            stats.answer_seconds_sum,
        );
        f.sample_named(
            "idwatch_hook_answer_seconds_count",
            &[("org", org)],
            stats.answer_count as f64,
        );
    }

    let mut f = Family::new(
        &mut out,
        "idwatch_detection_position",
        "gauge",
        "The last store sequence detection evaluated and committed.",
    );
    for (org, (position, _)) in &detection {
        if let Some(p) = position {
            f.sample(&[("org", org)], *p as f64);
        }
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_detection_backlog_events",
        "gauge",
        "Events stored but not yet evaluated by detection (as committed).",
    );
    for (org, (_, backlog)) in &detection {
        f.sample(&[("org", org)], *backlog as f64);
    }

    let mut f = Family::new(
        &mut out,
        "idwatch_alerts_raised_total",
        "counter",
        "Alerts raised (repeats folded into an alert are not counted).",
    );
    for a in &activity {
        f.sample(
            &[("org", &a.name)],
            alerts.get(&a.name).copied().unwrap_or(0) as f64,
        );
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_alerts_delivered_total",
        "counter",
        "Alert notifications delivered, by sink.",
    );
    for d in &deliveries {
        f.sample(&[("org", &d.org), ("sink", &d.sink)], d.sent as f64);
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_alert_deliveries",
        "gauge",
        "Outbox rows by sink and state (pending, failed).",
    );
    for d in &deliveries {
        f.sample(
            &[("org", &d.org), ("sink", &d.sink), ("state", "pending")],
            d.pending as f64,
        );
        f.sample(
            &[("org", &d.org), ("sink", &d.sink), ("state", "failed")],
            d.failed as f64,
        );
    }

    let mut f = Family::new(
        &mut out,
        "idwatch_task_running",
        "gauge",
        "1 while a daemon task runs, by org and task.",
    );
    let board = tasks.snapshot();
    for ((org, task), t) in &board {
        f.sample(
            &[("org", org), ("task", task)],
            if t.running { 1.0 } else { 0.0 },
        );
    }
    let mut f = Family::new(
        &mut out,
        "idwatch_task_restarts_total",
        "counter",
        "Times a daemon task failed and was restarted.",
    );
    for ((org, task), t) in &board {
        f.sample(&[("org", org), ("task", task)], t.restarts as f64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_bounded() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(label(&"x".repeat(500)).len(), 200);
    }
}
