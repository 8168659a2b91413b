//! The simulator's HTTP API: Okta's `/api/v1/logs` (and, in the sibling modules, the directory
//! and OAuth endpoints) served on loopback over a [`World`], with Okta's auth, error bodies,
//! rate limits and request ids.
//!
//! [`SimServer::start`] builds the world from a [`SimConfig`], binds `127.0.0.1` and serves until
//! [`SimServer::shutdown`]. Every request passes one gate ([`gate`]): request id, concurrency
//! cap, rate-limit bucket, injected faults, authentication; then the route; then the
//! `X-Rate-Limit-*` and `X-Okta-Request-Id` headers and a [`RequestRecord`] in the
//! [`Accounting`]. Tests read the org's uuids ([`SimServer::event_uuids`]), ground truth
//! ([`SimServer::truth`]) and the accounting to check a client against what the org holds.
//!
//! Files: `error.rs` (Okta's error object), `logs.rs` (System Log queries), `limits.rs`
//! (buckets, windows, accounting), `faults.rs` (seeded fault injection), `directory.rs`
//! (management API routes and their pagination).

pub mod directory;
pub mod error;
pub mod faults;
pub mod limits;
pub mod logs;
pub mod oauth;

pub use error::{ApiError, OAuthError};
pub use limits::{Accounting, RequestRecord};
pub use oauth::OAuthClient;

use crate::directory::Posture;
use crate::hooks::{HookConfig, HookStatus};
use crate::scenario::GroundTruth;
use crate::world::{World, WorldConfig, WorldError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use faults::Fault;
use limits::{bucket_of, default_limit, RateLimiter};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How to run a simulated org. [`SimConfig::default`] is a small org (100 users, 1 day of
/// history ending now) with Okta's default limits and no faults.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// TCP port on 127.0.0.1; `0` picks a free one (see [`SimServer::base_url`]).
    pub port: u16,
    /// Seed of the org, its activity, scenarios and faults: the same seed, users, days,
    /// scenarios and `now` give the same history (same uuids).
    pub seed: u64,
    /// The SSWS API token clients must send (`Authorization: SSWS <token>`); `None` makes a
    /// random one (read it with [`SimServer::token`]).
    pub token: Option<String>,
    /// Number of users in the org.
    pub users: usize,
    /// Days of history generated before `now`.
    pub days: u32,
    /// Attack scenarios to inject (names from [`crate::scenario::SCENARIOS`]).
    pub scenarios: Vec<String>,
    /// The end of the generated history and the server clock's starting point. The clock then
    /// runs in real time from it. `None`: the current time, truncated to the second.
    pub now: Option<DateTime<Utc>>,
    /// Whether activity keeps being generated in real time after `now`.
    pub live: bool,
    /// Requests per minute allowed in the `/api/v1/logs` bucket (Okta Workforce: 120). Other
    /// buckets use Okta's Workforce limits.
    pub logs_rate_limit: u32,
    /// Most requests in flight at once; more answer 429 with limit and remaining `0`.
    pub concurrency_limit: usize,
    /// Fraction (0–1) of requests that get an injected fault (429 storm, 500, 503, slow
    /// answer, connection reset, truncated body), chosen by a generator seeded with `seed`.
    pub faults: f64,
    /// Persistence delay of late events: they are invisible to every query until this long
    /// after their `published`. Zero: no late events.
    pub late: Duration,
    /// Fraction (0–1) of events that are late when `late` is non-zero.
    pub late_fraction: f64,
    /// Events published longer ago than this many days are never returned (Okta: 90).
    pub retention_days: u32,
    /// Tenant posture of the directory (hardened or weak).
    pub posture: Posture,
    /// Added to every answer (while the request counts as in flight); zero by default.
    pub latency: Duration,
    /// OAuth 2.0 service apps that may get Okta-scoped tokens from `/oauth2/v1/token`.
    pub oauth_clients: Vec<OAuthClient>,
    /// An event hook endpoint to verify and deliver events to (see [`crate::hooks`]).
    pub hook: Option<HookConfig>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            port: 0,
            seed: 1,
            token: None,
            users: 100,
            days: 1,
            scenarios: Vec::new(),
            now: None,
            live: false,
            logs_rate_limit: 120,
            concurrency_limit: 75,
            faults: 0.0,
            late: Duration::ZERO,
            late_fraction: 0.02,
            retention_days: 90,
            posture: Posture::Hardened,
            latency: Duration::ZERO,
            oauth_clients: Vec::new(),
            hook: None,
        }
    }
}

impl SimConfig {
    /// The world this config describes, with `now` resolved.
    pub fn world_config(&self, now: DateTime<Utc>) -> WorldConfig {
        WorldConfig {
            seed: self.seed,
            users: self.users,
            days: self.days,
            scenarios: self.scenarios.clone(),
            now,
            late: ChronoDuration::from_std(self.late).unwrap_or(ChronoDuration::zero()),
            late_fraction: self.late_fraction,
            live: self.live,
            posture: self.posture,
            retention_days: self.retention_days,
        }
    }
}

/// Why the simulator cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The org cannot be built.
    #[error(transparent)]
    World(#[from] WorldError),
    /// The port cannot be bound.
    #[error("binding 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// A configuration value is out of range.
    #[error("{0}")]
    Invalid(String),
}

/// The server's clock: `anchor` when the server started, then real time, plus any time
/// skipped with [`SimServer::skip_time`].
#[derive(Debug)]
pub(crate) struct Clock {
    anchor: DateTime<Utc>,
    started: Instant,
    skipped_ms: AtomicU64,
}

impl Clock {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let skipped = self.skipped_ms.load(Ordering::SeqCst) as i64;
        self.anchor
            + ChronoDuration::from_std(self.started.elapsed()).unwrap_or_default()
            + ChronoDuration::milliseconds(skipped)
    }
}

/// State shared by every request.
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) base_url: String,
    pub(crate) token: String,
    pub(crate) clock: Clock,
    world: Mutex<World>,
    limiter: Mutex<RateLimiter>,
    faults: Mutex<faults::Faults>,
    oauth: Mutex<oauth::OAuthState>,
    accounting: Mutex<Accounting>,
    in_flight: AtomicUsize,
    requests: AtomicU64,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// The world, advanced to the current time.
    pub(crate) fn anchor(&self) -> DateTime<Utc> {
        self.clock.anchor
    }

    /// The clock's time as Okta writes timestamps.
    pub(crate) fn now_text(&self) -> String {
        self.clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// The org's Okta host name.
    pub(crate) fn okta_domain(&self) -> String {
        lock(&self.world).org().config.okta_domain.clone()
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        let mut world = lock(&self.world);
        world.advance(self.clock.now());
        world
    }

    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let mixed = (n ^ self.config.seed.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        format!("req{}", error::base62(mixed, 23))
    }
}

/// A running simulator.
pub struct SimServer {
    shared: Arc<Shared>,
    hook: Option<(Arc<Mutex<HookStatus>>, JoinHandle<()>)>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl SimServer {
    /// Builds the org's history and starts serving it on 127.0.0.1.
    pub async fn start(config: SimConfig) -> Result<SimServer, SimError> {
        if !(0.0..=1.0).contains(&config.faults) {
            return Err(SimError::Invalid(format!(
                "faults rate {} is not between 0 and 1",
                config.faults
            )));
        }
        if config.logs_rate_limit == 0 {
            return Err(SimError::Invalid("rate limit must be at least 1".into()));
        }
        let anchor = config.now.unwrap_or_else(now_to_the_second);
        let world_config = config.world_config(anchor);
        let world = tokio::task::spawn_blocking(move || World::build(&world_config))
            .await
            .map_err(|e| SimError::Invalid(format!("building the org: {e}")))??;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| SimError::Bind {
                port: config.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            port: config.port,
            source,
        })?;
        let token = config.token.clone().unwrap_or_else(random_token);
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            token,
            clock: Clock {
                anchor,
                started: Instant::now(),
                skipped_ms: AtomicU64::new(0),
            },
            world: Mutex::new(world),
            limiter: Mutex::new(RateLimiter::default()),
            faults: Mutex::new(faults::Faults::new(config.faults, config.seed)),
            oauth: Mutex::new(oauth::OAuthState::new(config.seed)),
            accounting: Mutex::new(Accounting::default()),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            config,
        });
        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(err) = served {
                tracing::warn!(%err, "simulator server stopped");
            }
        });
        let hook = shared.config.hook.clone().map(|config| {
            let status = Arc::new(Mutex::new(HookStatus::default()));
            let task = tokio::spawn(crate::hooks::run(shared.clone(), config, status.clone()));
            (status, task)
        });
        Ok(SimServer {
            shared,
            hook,
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SSWS token clients must send.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The end of the generated history (the clock's starting point).
    pub fn anchor(&self) -> DateTime<Utc> {
        self.shared.clock.anchor
    }

    /// The server's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Moves the org's clock forward by `by` at once (rate-limit windows keep real time): late
    /// events and directory changes due in the skipped span take effect, and with `live` the
    /// activity of the span is generated. For tests of what happens "an hour later".
    pub fn skip_time(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.shared.clock.skipped_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// The uuid of every event the org holds now, in generation order: everything published by
    /// now, including late events not yet visible to queries.
    pub fn event_uuids(&self) -> Vec<String> {
        self.shared
            .world()
            .uuids()
            .iter()
            .map(|u| u.to_string())
            .collect()
    }

    /// The uuids queries can see now (committed events), in persistence order.
    pub fn visible_uuids(&self) -> Vec<String> {
        self.shared
            .world()
            .committed()
            .iter()
            .map(|e| e.uuid.to_string())
            .collect()
    }

    /// The ground truth of every injected scenario.
    pub fn truth(&self) -> Vec<GroundTruth> {
        self.shared.world().truth().to_vec()
    }

    /// Every request received so far.
    pub fn accounting(&self) -> Accounting {
        lock(&self.shared.accounting).clone()
    }

    /// What the event hook emitter has done (`None` without a hook).
    pub fn hook_status(&self) -> Option<HookStatus> {
        self.hook.as_ref().map(|(status, _)| lock(status).clone())
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some((_, task)) = self.hook.take() {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some((_, task)) = self.hook.take() {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn now_to_the_second() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

fn random_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 30];
    let filled = ring::rand::SystemRandom::new().fill(&mut bytes);
    let seed = if filled.is_ok() {
        bytes
    } else {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let mut fallback = [0u8; 30];
        fallback[..8].copy_from_slice(&nanos.to_le_bytes());
        fallback
    };
    // Okta SSWS tokens are 42 characters of base64url-like text starting with 00.
    let text = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, seed);
    format!("00{}", &text[..40])
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/logs", get(get_logs))
        .route("/oauth2/v1/token", axum::routing::post(oauth::token))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Directory paths (matched in [`directory::route`]) and 404/405 for everything else.
async fn fallback(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET {
        return ApiError::method_not_allowed().into_response();
    }
    directory::get_directory(State(shared), uri).await
}

/// Constant-time comparison of two secrets.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the `Authorization` header: the SSWS token (every scope), or an OAuth access token
/// (`Bearer`, or `DPoP` with a proof) holding the route's scope.
fn authenticate(shared: &Shared, request: &Request) -> Result<(), ApiError> {
    let path = request.uri().path();
    if path == "/oauth2/v1/token" {
        // Clients authenticate with their assertion.
        return Ok(());
    }
    let headers = request.headers();
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::invalid_token)?;
    let (scheme, credential) = value.split_once(' ').ok_or_else(ApiError::invalid_token)?;
    let credential = credential.trim();
    if scheme.eq_ignore_ascii_case("SSWS") {
        return if same_secret(credential.as_bytes(), shared.token.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::invalid_token())
        };
    }
    if scheme.eq_ignore_ascii_case("Bearer") || scheme.eq_ignore_ascii_case("DPoP") {
        return oauth::authorize(
            shared,
            scheme,
            credential,
            headers,
            request.method(),
            request.uri(),
            directory::scope_of(path),
        );
    }
    Err(ApiError::invalid_token())
}

pub(crate) fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Every request: request id, concurrency cap, rate limit, auth, then the route, then the
/// rate-limit and request-id headers and the accounting record.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let received = shared.clock.started.elapsed();
    let request_id = shared.request_id();
    let method = request.method().to_string();
    let uri_text = request.uri().to_string();
    let bucket = bucket_of(request.uri().path());
    let limit = default_limit(bucket, shared.config.logs_rate_limit);

    let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let mut fault_name = None;
    let mut response = if in_flight > shared.config.concurrency_limit {
        let mut response = ApiError::rate_limited().into_response();
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-limit", HeaderValue::from_static("0"));
        headers.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
        let reset = Utc::now().timestamp() + 60;
        headers.insert("x-rate-limit-reset", header_value(&reset.to_string()));
        response
    } else {
        let mut rate = lock(&shared.limiter).admit(bucket, limit);
        let mut response = if rate.exceeded {
            ApiError::rate_limited().into_response()
        } else {
            match authenticate(&shared, &request) {
                Err(err) => err.into_response(),
                Ok(()) => {
                    let fault = lock(&shared.faults).draw();
                    fault_name = fault.map(|f| f.name().to_string());
                    match fault {
                        None => next.run(request).await,
                        Some(Fault::Storm(length)) => {
                            lock(&shared.limiter).storm(bucket, length);
                            // The storm's own end, as every refusal during it says (a 1–4 s
                            // burst, not the bucket emptied until the window's end).
                            rate.remaining = 0;
                            rate.reset = (Utc::now()
                                + ChronoDuration::from_std(length).unwrap_or_default())
                            .timestamp() as u64
                                + 1;
                            ApiError::rate_limited().into_response()
                        }
                        Some(Fault::Internal) => ApiError::internal().into_response(),
                        Some(Fault::Unavailable) => ApiError::unavailable().into_response(),
                        Some(Fault::Slow(delay)) => {
                            tokio::time::sleep(delay).await;
                            next.run(request).await
                        }
                        Some(Fault::Reset) => {
                            let (parts, _) = next.run(request).await.into_parts();
                            Response::from_parts(parts, Body::new(CutBody::new(None, 4096)))
                        }
                        Some(Fault::Truncated) => {
                            let (parts, body) = next.run(request).await.into_parts();
                            let bytes = axum::body::to_bytes(body, usize::MAX)
                                .await
                                .unwrap_or_default();
                            let full = bytes.len() as u64 + 1;
                            let part = bytes.slice(..bytes.len() / 2);
                            Response::from_parts(parts, Body::new(CutBody::new(Some(part), full)))
                        }
                    }
                }
            }
        };
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-limit", header_value(&rate.limit.to_string()));
        headers.insert(
            "x-rate-limit-remaining",
            header_value(&rate.remaining.to_string()),
        );
        headers.insert("x-rate-limit-reset", header_value(&rate.reset.to_string()));
        response
    };
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    response.headers_mut().insert(
        HeaderName::from_static("x-okta-request-id"),
        header_value(&request_id),
    );
    lock(&shared.accounting).records.push(RequestRecord {
        bucket: bucket.to_string(),
        method,
        uri: uri_text,
        received,
        answered: shared.clock.started.elapsed(),
        status: response.status().as_u16(),
        request_id,
        fault: fault_name,
    });
    response
}

/// Adds `link` headers for `self` (the request as received) and `next`.
pub(crate) fn add_links(
    headers: &mut HeaderMap,
    base_url: &str,
    uri: &Uri,
    next: Option<(&str, &str)>,
) {
    let self_url = format!(
        "{base_url}{}",
        uri.path_and_query().map_or(uri.path(), |p| p.as_str())
    );
    headers.append(
        header::LINK,
        header_value(&format!("<{self_url}>; rel=\"self\"")),
    );
    if let Some((path, query)) = next {
        headers.append(
            header::LINK,
            header_value(&format!("<{base_url}{path}?{query}>; rel=\"next\"")),
        );
    }
}

async fn get_logs(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let now = shared.clock.now();
    let query = match logs::LogsQuery::parse(uri.query(), now) {
        Ok(query) => query,
        Err(err) => return err.into_response(),
    };
    let shared_for_query = shared.clone();
    let page = tokio::task::spawn_blocking(move || query.run(&shared_for_query.world())).await;
    let page = match page {
        Ok(Ok(page)) => page,
        Ok(Err(err)) => return err.into_response(),
        Err(_) => return ApiError::internal().into_response(),
    };
    let mut response = Response::new(Body::from(page.body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_links(
        headers,
        &shared.base_url,
        &uri,
        page.next_query.as_deref().map(|q| ("/api/v1/logs", q)),
    );
    response
}

/// A response body that sends at most one chunk, then fails, so the connection is closed before
/// the promised `Content-Length` (a truncated body, or no body at all: a reset).
struct CutBody {
    chunk: Option<bytes::Bytes>,
    promised: u64,
}

impl CutBody {
    fn new(chunk: Option<bytes::Bytes>, promised: u64) -> CutBody {
        CutBody { chunk, promised }
    }
}

impl http_body::Body for CutBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(match self.chunk.take() {
            Some(chunk) => Ok(http_body::Frame::data(chunk)),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected fault: connection cut",
            )),
        }))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.promised)
    }
}
