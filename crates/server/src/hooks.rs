//! The Okta Event Hook receiver: `GET /hooks/okta/{org}` answers the one-time verification
//! (`X-Okta-Verification-Challenge` → `{"verification": …}`), `POST /hooks/okta/{org}` takes
//! deliveries. Both check the org's configured Authorization value in constant time (401 and
//! nothing read past the headers on a mismatch).
//!
//! A delivery is answered 200 only after its events are committed to the store (`source =
//! "hook"`, deduplicated on (org, uuid) in the same transaction, so hooked and polled events
//! merge and Okta's retries store nothing twice). Everything runs inside a deadline below
//! Okta's 3 s budget: the body is read with a size bound and a timeout, the commit with what is
//! left; past it the answer is 503 (Okta retries once), and a commit still running completes
//! and is deduplicated against the retry.
//!
//! Bad input: a body that is not a delivery gets 400 naming what is wrong; a delivery with some
//! unusable events stores the good ones and gets 400 naming each bad one
//! (`data.events[3]: field `published`: missing`). Either way the body is kept in the
//! quarantine directory, when one is configured, so nothing Okta sent is lost.

use crate::envelope::{parse_envelope, Envelope};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use notify::Secret;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{BatchOutcome, Store};
use tokio::sync::Notify;

/// The header Okta's verification request carries.
pub const CHALLENGE_HEADER: &str = "x-okta-verification-challenge";

/// Files kept per org in the quarantine directory before new ones are dropped (and counted).
const QUARANTINE_MAX_FILES: usize = 1000;

/// A secret reduced to its SHA-256, compared in constant time. Hashing first makes the
/// comparison independent of both lengths.
#[derive(Clone)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// The digest of `secret`.
    pub fn of(secret: &Secret) -> SecretDigest {
        SecretDigest(Sha256::digest(secret.expose().as_bytes()).into())
    }

    /// Whether `offered` is the secret, in time independent of where they differ.
    pub fn matches(&self, offered: &[u8]) -> bool {
        let offered: [u8; 32] = Sha256::digest(offered).into();
        let diff = self
            .0
            .iter()
            .zip(offered.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest(***)")
    }
}

/// How the receiver runs.
#[derive(Debug, Clone)]
pub struct HookOptions {
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// Time from the request's headers to the answer.
    pub deadline: Duration,
    /// Where rejected bodies are kept (one directory per org), if anywhere.
    pub quarantine_dir: Option<PathBuf>,
}

impl Default for HookOptions {
    fn default() -> Self {
        HookOptions {
            max_body_bytes: 8 * 1024 * 1024,
            deadline: Duration::from_millis(2500),
            quarantine_dir: None,
        }
    }
}

/// Counters of one org's hook, since the receiver started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgHookStats {
    /// Requests by result: `stored`, `unauthorized`, `malformed`, `partial`, `too_large`,
    /// `timeout`, `error`, `verified`.
    pub requests: BTreeMap<&'static str, u64>,
    /// Events in deliveries (good and bad).
    pub events_received: u64,
    /// Events newly stored.
    pub events_stored: u64,
    /// Events already stored (polled first, or a retried delivery).
    pub duplicates: u64,
    /// Events that were not usable LogEvents.
    pub events_rejected: u64,
    /// Bodies that could not be quarantined (directory full or unwritable).
    pub quarantine_dropped: u64,
    /// The last failure and when (µs).
    pub last_error: Option<(String, i64)>,
    /// Sum and count of answer times of deliveries, in seconds.
    pub answer_seconds_sum: f64,
    /// Deliveries timed.
    pub answer_count: u64,
}

/// The hook receiver's shared state.
pub struct HookReceiver {
    store: Arc<Mutex<Store>>,
    secrets: BTreeMap<String, SecretDigest>,
    options: HookOptions,
    stats: Mutex<BTreeMap<String, OrgHookStats>>,
    signals: BTreeMap<String, Arc<Notify>>,
}

impl HookReceiver {
    /// A receiver writing through `store` for the orgs in `secrets`.
    pub fn new(store: Store, secrets: &BTreeMap<String, Secret>, options: HookOptions) -> Self {
        let stats = secrets
            .keys()
            .map(|org| (org.clone(), OrgHookStats::default()))
            .collect();
        HookReceiver {
            store: Arc::new(Mutex::new(store)),
            secrets: secrets
                .iter()
                .map(|(org, s)| (org.clone(), SecretDigest::of(s)))
                .collect(),
            options,
            stats: Mutex::new(stats),
            signals: secrets
                .keys()
                .map(|org| (org.clone(), Arc::new(Notify::new())))
                .collect(),
        }
    }

    /// Fires (`notify_one`) each time a delivery for `org` stores new events: detection waits
    /// on it to evaluate hooked events at once. `None` for an org without a hook.
    pub fn ingest_signal(&self, org: &str) -> Option<Arc<Notify>> {
        self.signals.get(org).cloned()
    }

    /// Fires `signal` instead of the receiver's own for `org` (one signal per org, shared with
    /// the collector and detection).
    pub fn with_ingest_signal(mut self, org: &str, signal: Arc<Notify>) -> HookReceiver {
        if self.signals.contains_key(org) {
            self.signals.insert(org.to_string(), signal);
        }
        self
    }

    /// A copy of every org's counters.
    pub fn stats(&self) -> BTreeMap<String, OrgHookStats> {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The routes, with this receiver as their state.
    pub fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route("/hooks/okta/{org}", get(verify).post(deliver))
            .with_state(self)
    }

    fn record(&self, org: &str, f: impl FnOnce(&mut OrgHookStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            if let Some(s) = stats.get_mut(org) {
                f(s);
            }
        }
    }

    fn count(&self, org: &str, result: &'static str, error: Option<&str>) {
        self.record(org, |s| {
            *s.requests.entry(result).or_default() += 1;
            if let Some(e) = error {
                s.last_error = Some((e.to_string(), chrono::Utc::now().timestamp_micros()));
            }
        });
    }

    /// The refusal of a request that is not from the org's hook: 404 for an org without a
    /// hook, 401 for a wrong or missing secret; `None` lets it through.
    fn refusal(&self, org: &str, headers: &HeaderMap) -> Option<Response> {
        let Some(secret) = self.secrets.get(org) else {
            return Some(error(
                StatusCode::NOT_FOUND,
                format!("no Event Hook is configured for org `{org}` (add [server.hooks.{org}] to idwatch.toml)"),
            ));
        };
        let offered = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if offered.is_empty() || !secret.matches(offered) {
            tracing::warn!(
                org,
                "Event Hook request with a wrong or missing Authorization header refused."
            );
            self.count(
                org,
                "unauthorized",
                Some("a request with a wrong or missing Authorization header"),
            );
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "the Authorization header does not match the secret configured for this hook",
            ));
        }
        None
    }

    /// Keeps a body that was not (wholly) stored.
    fn quarantine(&self, org: &str, body: &[u8]) -> Option<PathBuf> {
        let dir = self.options.quarantine_dir.as_ref()?.join(org);
        let result = (|| -> std::io::Result<Option<PathBuf>> {
            std::fs::create_dir_all(&dir)?;
            if std::fs::read_dir(&dir)?.count() >= QUARANTINE_MAX_FILES {
                return Ok(None);
            }
            let now = chrono::Utc::now();
            for n in 0..100 {
                let path = dir.join(format!("{}-{n}.json", now.format("%Y%m%dT%H%M%S%.6fZ")));
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                {
                    Ok(mut file) => {
                        std::io::Write::write_all(&mut file, body)?;
                        return Ok(Some(path));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
            Ok(None)
        })();
        match result {
            Ok(Some(path)) => Some(path),
            Ok(None) => {
                self.record(org, |s| s.quarantine_dropped += 1);
                None
            }
            Err(e) => {
                tracing::error!(org, dir = %dir.display(), error = %e, "Could not keep a rejected hook body.");
                self.record(org, |s| s.quarantine_dropped += 1);
                None
            }
        }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// `GET /hooks/okta/{org}`: the verification handshake. Okta sends the hook's Authorization
/// header with it (support.okta.com, "Unable to verify event hook"), but its developer docs do
/// not promise it, so a GET without one is answered too: it only echoes the challenge, reads
/// and stores nothing, and proves nothing an attacker could use (deliveries still need the
/// secret). A GET with a wrong Authorization value is refused.
async fn verify(
    State(hooks): State<Arc<HookReceiver>>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let offers_secret = headers.contains_key(header::AUTHORIZATION);
    if offers_secret || !hooks.secrets.contains_key(&org) {
        if let Some(refused) = hooks.refusal(&org, &headers) {
            return refused;
        }
    }
    match headers.get(CHALLENGE_HEADER).and_then(|v| v.to_str().ok()) {
        Some(challenge) if !challenge.is_empty() => {
            tracing::info!(org, "Event Hook verified.");
            hooks.count(&org, "verified", None);
            Json(serde_json::json!({ "verification": challenge })).into_response()
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "a verification request carries the X-Okta-Verification-Challenge header",
        ),
    }
}

/// `POST /hooks/okta/{org}`: a delivery.
async fn deliver(
    State(hooks): State<Arc<HookReceiver>>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    if let Some(refused) = hooks.refusal(&org, &headers) {
        return refused;
    }
    let response = receive(&hooks, &org, &headers, body, started).await;
    let seconds = started.elapsed().as_secs_f64();
    hooks.record(&org, |s| {
        s.answer_seconds_sum += seconds;
        s.answer_count += 1;
    });
    response
}

async fn receive(
    hooks: &Arc<HookReceiver>,
    org: &str,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
) -> Response {
    let options = &hooks.options;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        let message = format!(
            "the delivery is larger than hook_max_body_bytes ({} bytes)",
            options.max_body_bytes
        );
        hooks.count(org, "too_large", Some(&message));
        error(StatusCode::PAYLOAD_TOO_LARGE, message)
    };
    if declared.is_some_and(|n| n > options.max_body_bytes as u64) {
        return too_large();
    }
    let limited = http_body_util::Limited::new(body, options.max_body_bytes);
    let bytes = match tokio::time::timeout(options.deadline, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) => {
            // The length limit, or a broken connection.
            if e.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            let message = format!("reading the delivery failed: {e}");
            hooks.count(org, "error", Some(&message));
            return error(StatusCode::BAD_REQUEST, message);
        }
        Err(_) => {
            let message = format!(
                "the delivery was not received within {:?}",
                options.deadline
            );
            hooks.count(org, "timeout", Some(&message));
            return error(StatusCode::REQUEST_TIMEOUT, message);
        }
    };

    let Envelope {
        event_id,
        events,
        rejected,
    } = match parse_envelope(&bytes) {
        Ok(envelope) => envelope,
        Err(e) => {
            let message = e.to_string();
            let kept = hooks.quarantine(org, &bytes);
            tracing::warn!(org, error = %message, kept = ?kept, "Malformed Event Hook delivery refused.");
            hooks.count(org, "malformed", Some(&message));
            return malformed(message, 0, &[], kept);
        }
    };
    hooks.record(org, |s| {
        s.events_received += (events.len() + rejected.len()) as u64;
        s.events_rejected += rejected.len() as u64;
    });

    let outcome = if events.is_empty() {
        BatchOutcome::default()
    } else {
        let remaining = options.deadline.saturating_sub(started.elapsed());
        let store = Arc::clone(&hooks.store);
        let org_name = org.to_string();
        let commit = tokio::task::spawn_blocking(move || {
            let mut store = store
                .lock()
                .map_err(|_| "the store lock was poisoned by a panic".to_string())?;
            let id = store.ensure_org(&org_name).map_err(|e| e.to_string())?;
            store
                .commit_batch(id, &events, "hook")
                .map_err(|e| e.to_string())
        });
        match tokio::time::timeout(remaining, commit).await {
            Ok(Ok(Ok(outcome))) => outcome,
            Ok(Ok(Err(e))) => {
                let message = format!("storing the delivery failed: {e}");
                tracing::error!(org, error = %message, "Event Hook delivery not stored; Okta will retry it.");
                hooks.count(org, "error", Some(&message));
                return error(StatusCode::INTERNAL_SERVER_ERROR, message);
            }
            Ok(Err(join)) => {
                let message = format!("storing the delivery failed: {join}");
                hooks.count(org, "error", Some(&message));
                return error(StatusCode::INTERNAL_SERVER_ERROR, message);
            }
            Err(_) => {
                let message = format!(
                    "the store did not commit within the {:?} deadline; Okta's retry is deduplicated",
                    options.deadline
                );
                tracing::warn!(org, "Event Hook delivery answered 503: the store is busy.");
                hooks.count(org, "timeout", Some(&message));
                return error(StatusCode::SERVICE_UNAVAILABLE, message);
            }
        }
    };
    hooks.record(org, |s| {
        s.events_stored += outcome.new as u64;
        s.duplicates += outcome.duplicates as u64;
    });
    if outcome.new > 0 {
        if let Some(signal) = hooks.signals.get(org) {
            signal.notify_one();
        }
    }
    tracing::debug!(org, event_id = ?event_id, new = outcome.new, duplicates = outcome.duplicates, "Event Hook delivery stored.");

    if rejected.is_empty() {
        hooks.count(org, "stored", None);
        return StatusCode::OK.into_response();
    }
    let reasons: Vec<String> = rejected.iter().map(ToString::to_string).collect();
    let kept = hooks.quarantine(org, &bytes);
    let message = format!(
        "{} of {} events are not usable Okta LogEvents: {}",
        rejected.len(),
        rejected.len() + outcome.offered,
        reasons.join("; ")
    );
    tracing::warn!(org, error = %message, kept = ?kept, "Event Hook delivery partly refused.");
    hooks.count(org, "partial", Some(&message));
    malformed(message, outcome.new, &reasons, kept)
}

fn malformed(
    message: String,
    stored: usize,
    rejected: &[String],
    kept: Option<PathBuf>,
) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({
            "error": message,
            "stored": stored,
            "rejected": rejected,
            "kept": kept.is_some(),
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_exactly() {
        let digest = SecretDigest::of(&Secret::new("Basic c2VjcmV0"));
        assert!(digest.matches(b"Basic c2VjcmV0"));
        assert!(!digest.matches(b"Basic c2VjcmV1"));
        assert!(!digest.matches(b"Basic c2VjcmV0 "));
        assert!(!digest.matches(b""));
        assert_eq!(format!("{digest:?}"), "SecretDigest(***)");
    }
}
