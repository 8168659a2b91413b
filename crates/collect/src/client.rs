//! [`OktaClient`]: one org's HTTP client. It authenticates every request (SSWS or OAuth, see
//! [`crate::oauth`]), waits for our share of the rate-limit bucket before every attempt
//! ([`crate::rate`]), retries what is worth retrying (429 after the reset, 5xx, timeouts,
//! connection resets and truncated or unparseable bodies, with exponential back-off and jitter),
//! turns Okta error bodies into [`ClientError`]s, and follows `Link: rel="next"` pagination.
//!
//! It only ever sends credentials to the org's own origin: a `next` link pointing elsewhere is
//! an error, redirects are not followed, and plain `http://` is accepted for loopback hosts only
//! (the simulator).

use crate::credentials::Credentials;
use crate::error::{ClientError, OktaError};
use crate::link;
use crate::oauth::TokenSource;
use crate::rate::{jitter, RateBudget, RateConfig, RateHeaders};
use crate::secret::Secret;
use okta::LogEvent;
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Whole-request timeout (Okta's own query timeout is 30 s).
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Attempts per request before giving up (the poller then waits and tries again).
    pub max_attempts: u32,
    /// First back-off after a 5xx or transport error.
    pub backoff_base: Duration,
    /// Largest back-off.
    pub backoff_max: Duration,
    /// Rate-limit share and window.
    pub rate: RateConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 8,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            rate: RateConfig::default(),
        }
    }
}

/// Request counters since the client was built (monotonic).
#[derive(Debug, Default)]
pub struct ClientCounters {
    /// Requests sent (including retries and token requests).
    pub requests: AtomicU64,
    /// 429s received.
    pub rate_limited: AtomicU64,
    /// Retries.
    pub retries: AtomicU64,
    /// 5xx responses received.
    pub server_errors: AtomicU64,
    /// Timeouts, resets and truncated bodies.
    pub transport_errors: AtomicU64,
}

/// A snapshot of [`ClientCounters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Requests sent.
    pub requests: u64,
    /// 429s.
    pub rate_limited: u64,
    /// Retries.
    pub retries: u64,
    /// 5xx.
    pub server_errors: u64,
    /// Transport failures.
    pub transport_errors: u64,
}

impl CounterSnapshot {
    /// `self - earlier`, per counter.
    pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        CounterSnapshot {
            requests: self.requests.saturating_sub(earlier.requests),
            rate_limited: self.rate_limited.saturating_sub(earlier.rate_limited),
            retries: self.retries.saturating_sub(earlier.retries),
            server_errors: self.server_errors.saturating_sub(earlier.server_errors),
            transport_errors: self
                .transport_errors
                .saturating_sub(earlier.transport_errors),
        }
    }
}

enum Auth {
    Ssws(Secret),
    OAuth(Arc<TokenSource>),
}

/// One page of `/api/v1/logs`.
#[derive(Debug)]
pub struct LogPage {
    /// The request.
    pub url: Url,
    /// Its events, raw JSON kept exactly.
    pub events: Vec<LogEvent>,
    /// Elements of the array that are not valid events (field and reason each).
    pub rejected: Vec<String>,
    /// `rel="next"` (always present for polling requests).
    pub next: Option<Url>,
    /// `X-Okta-Request-Id`.
    pub request_id: Option<String>,
}

struct Fetched<T> {
    value: T,
    next: Option<String>,
    request_id: Option<String>,
}

/// An org's Okta API client. Cheap to clone (shares the connection pool, budget and token).
#[derive(Clone)]
pub struct OktaClient {
    base: Url,
    http: reqwest::Client,
    auth: Arc<Auth>,
    budget: Arc<RateBudget>,
    config: ClientConfig,
    counters: Arc<ClientCounters>,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Checks an org URL: https, or http on a loopback host; no path, query or credentials.
pub fn parse_org_url(url: &str) -> Result<Url, ClientError> {
    let parsed =
        Url::parse(url.trim()).map_err(|e| ClientError::Url(format!("org URL `{url}`: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| ClientError::Url(format!("org URL `{url}` has no host")))?;
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1");
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(ClientError::Url(format!(
                "org URL `{url}`: use https:// (plain http is allowed only for a local simulator)"
            )))
        }
        other => {
            return Err(ClientError::Url(format!(
                "org URL `{url}`: unsupported scheme `{other}`"
            )))
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ClientError::Url(format!(
            "org URL `{url}` must not contain credentials"
        )));
    }
    if parsed.query().is_some() || !parsed.path().trim_end_matches('/').is_empty() {
        return Err(ClientError::Url(format!(
            "org URL `{url}` must be just the org, e.g. https://example.okta.com"
        )));
    }
    Ok(parsed)
}

impl OktaClient {
    /// A client for the org at `base_url` with `credentials`.
    pub fn new(
        base_url: &str,
        credentials: Credentials,
        config: ClientConfig,
    ) -> Result<OktaClient, ClientError> {
        let base = parse_org_url(base_url)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("idwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Url(format!("building the HTTP client: {e}")))?;
        let auth = match credentials {
            Credentials::Ssws(token) => Auth::Ssws(token),
            Credentials::OAuth(creds) => Auth::OAuth(Arc::new(TokenSource::new(creds, &base)?)),
        };
        Ok(OktaClient {
            base,
            http,
            auth: Arc::new(auth),
            budget: Arc::new(RateBudget::new(config.rate)),
            config,
            counters: Arc::new(ClientCounters::default()),
        })
    }

    /// The org's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The rate budget (shared by clones).
    pub fn budget(&self) -> &RateBudget {
        &self.budget
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Counters so far.
    pub fn counters(&self) -> CounterSnapshot {
        let c = &self.counters;
        CounterSnapshot {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
            transport_errors: c.transport_errors.load(Ordering::Relaxed),
        }
    }

    /// `path_or_url` relative to the org, refusing any other origin.
    pub fn resolve(&self, path_or_url: &str) -> Result<Url, ClientError> {
        let url = self
            .base
            .join(path_or_url)
            .map_err(|e| ClientError::Url(format!("`{path_or_url}`: {e}")))?;
        if url.origin() != self.base.origin() {
            return Err(ClientError::Url(format!(
                "refusing to send credentials to {} (the org is {})",
                url.origin().ascii_serialization(),
                self.base.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    /// The first URL of a polling query from `since` (RFC 3339 with `Z`, ascending, no
    /// `until`), `limit` events per page.
    pub fn logs_since_url(&self, since: chrono::DateTime<chrono::Utc>, limit: u32) -> Url {
        let mut url = self.base.clone();
        url.set_path("/api/v1/logs");
        url.query_pairs_mut()
            .append_pair(
                "since",
                &since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .append_pair("sortOrder", "ASCENDING")
            .append_pair("limit", &limit.to_string());
        url
    }

    /// GETs one page of `/api/v1/logs` (a URL from [`Self::logs_since_url`] or a stored
    /// `next`), retrying transient failures.
    pub async fn get_log_page(&self, url: &Url) -> Result<LogPage, ClientError> {
        let url = self.resolve(url.as_str())?;
        let fetched = self.fetch(&url, parse_log_array).await?;
        let next = match fetched.next {
            Some(n) => Some(self.resolve(&n)?),
            None => None,
        };
        let (events, rejected) = fetched.value;
        Ok(LogPage {
            url,
            events,
            rejected,
            next,
            request_id: fetched.request_id,
        })
    }

    /// GETs `path` (relative to the org) as JSON, one request.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        let url = self.resolve(path)?;
        Ok(self.fetch(&url, parse_value).await?.value)
    }

    /// GETs every page of a list endpoint and returns all elements: follows `Link: rel="next"`
    /// headers, and `_links.next.href` in the body of `/iam` style `{"value": [...]}` pages. A
    /// response that is a single object is returned as one element.
    pub async fn get_json_pages(&self, path: &str) -> Result<Vec<Value>, ClientError> {
        let mut url = self.resolve(path)?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            if !seen.insert(url.to_string()) {
                // A next link back to a page already read: the list is complete.
                break;
            }
            let fetched = self.fetch(&url, parse_value).await?;
            let mut next = fetched.next;
            match fetched.value {
                Value::Array(items) => out.extend(items),
                Value::Object(mut map) => {
                    let body_next = map
                        .get("_links")
                        .and_then(|l| l.get("next"))
                        .and_then(|n| n.get("href"))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    match map.remove("value") {
                        Some(Value::Array(items)) => {
                            out.extend(items);
                            next = next.or(body_next);
                        }
                        Some(other) => {
                            map.insert("value".into(), other);
                            out.push(Value::Object(map));
                        }
                        None => out.push(Value::Object(map)),
                    }
                }
                other => out.push(other),
            }
            match next {
                Some(n) => url = self.resolve(&n)?,
                None => break,
            }
        }
        Ok(out)
    }

    /// One cheap authenticated call that needs `okta.logs.read`: the newest event of the last
    /// minute. Returns its request id.
    pub async fn test_connection(&self) -> Result<Option<String>, ClientError> {
        let since = chrono::Utc::now() - chrono::Duration::minutes(1);
        let url = self.logs_since_url(since, 1);
        let mut url = url;
        url.query_pairs_mut().append_pair(
            "until",
            &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        Ok(self.fetch(&url, parse_value).await?.request_id)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .backoff_base
            .saturating_mul(1u32 << attempt.min(16).saturating_sub(1));
        let capped = exp.min(self.config.backoff_max);
        // Full jitter in the upper half: never zero, never in lock step with other tasks.
        capped / 2 + jitter(capped / 2)
    }

    async fn authorization(&self, url: &Url) -> Result<(String, Option<String>), ClientError> {
        match &*self.auth {
            Auth::Ssws(token) => Ok((format!("SSWS {}", token.expose()), None)),
            Auth::OAuth(source) => {
                source
                    .authorize(&self.http, "GET", url, &self.counters.requests)
                    .await
            }
        }
    }

    /// GET with budget, retries and error mapping; `parse` runs inside the retry loop so a
    /// truncated or garbled 200 is retried like a reset.
    async fn fetch<T>(
        &self,
        url: &Url,
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Fetched<T>, ClientError> {
        let bucket = RateBudget::bucket_of(url.path());
        let mut retry_for: Option<String> = None;
        let mut reauthorized = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.budget.acquire(&bucket).await;
            let (authorization, dpop) = match self.authorization(url).await {
                Ok(a) => a,
                Err(e) if e.is_transient() && attempt < self.config.max_attempts => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut req = self
                .http
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .header(reqwest::header::AUTHORIZATION, authorization);
            if let Some(proof) = dpop {
                req = req.header("DPoP", proof);
            }
            if let Some(id) = &retry_for {
                req = req
                    .header("X-Okta-Retry-For", id.as_str())
                    .header("X-Okta-Retry-Count", (attempt - 1).to_string());
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let failure: ClientError = match req.send().await {
                Err(e) => {
                    self.counters
                        .transport_errors
                        .fetch_add(1, Ordering::Relaxed);
                    ClientError::Transport {
                        message: transport_message(&e, url),
                        attempts: attempt,
                    }
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let rate = RateHeaders::from_headers(&headers);
                    self.budget.observe(&bucket, status, &rate);
                    let request_id = headers
                        .get("x-okta-request-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let next = link::next_link(
                        headers
                            .get_all(reqwest::header::LINK)
                            .iter()
                            .filter_map(|v| v.to_str().ok()),
                    );
                    match resp.bytes().await {
                        Err(e) => {
                            self.counters
                                .transport_errors
                                .fetch_add(1, Ordering::Relaxed);
                            ClientError::Transport {
                                message: format!(
                                    "reading the response body of {url}: {}",
                                    error_chain(&e)
                                ),
                                attempts: attempt,
                            }
                        }
                        Ok(body) if (200..300).contains(&status) => match parse(&body) {
                            Ok(value) => {
                                return Ok(Fetched {
                                    value,
                                    next,
                                    request_id,
                                })
                            }
                            Err(reason) => {
                                self.counters
                                    .transport_errors
                                    .fetch_add(1, Ordering::Relaxed);
                                ClientError::InvalidResponse {
                                    url: url.to_string(),
                                    reason: format!("{reason} ({} bytes; truncated?)", body.len()),
                                }
                            }
                        },
                        Ok(body) => {
                            let text = String::from_utf8_lossy(&body);
                            let error =
                                Box::new(OktaError::from_body(status, &text, request_id.clone()));
                            match status {
                                429 => {
                                    self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                                    retry_for = request_id;
                                    ClientError::RateLimited {
                                        error,
                                        attempts: attempt,
                                    }
                                }
                                401 => match &*self.auth {
                                    Auth::OAuth(source) if !reauthorized => {
                                        // The token may have been revoked or expired early.
                                        reauthorized = true;
                                        source.invalidate().await;
                                        attempt -= 1;
                                        continue;
                                    }
                                    _ => return Err(ClientError::Unauthorized(error)),
                                },
                                403 => return Err(ClientError::Forbidden(error)),
                                500..=599 => {
                                    self.counters.server_errors.fetch_add(1, Ordering::Relaxed);
                                    ClientError::Server {
                                        error,
                                        attempts: attempt,
                                    }
                                }
                                _ => return Err(ClientError::Api(error)),
                            }
                        }
                    }
                }
            };
            if attempt >= self.config.max_attempts {
                return Err(failure);
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%url, attempt, error = %failure, "retrying");
            if !matches!(failure, ClientError::RateLimited { .. }) {
                // A 429 already blocked the bucket until its reset; acquire() waits for it.
                tokio::time::sleep(self.backoff(attempt)).await;
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

fn transport_message(e: &reqwest::Error, url: &Url) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("GET {url} {kind}: {}", error_chain(e))
}

fn parse_value(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

type ParsedEvents = (Vec<LogEvent>, Vec<String>);

fn parse_log_array(body: &[u8]) -> Result<ParsedEvents, String> {
    let items: Vec<Box<RawValue>> =
        serde_json::from_slice(body).map_err(|e| format!("not a JSON array of events: {e}"))?;
    let mut events = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let raw = item.get();
        let doc: Value = serde_json::from_str(raw).map_err(|e| format!("event {i}: {e}"))?;
        match LogEvent::from_parts(raw.into(), doc) {
            Ok(ev) => events.push(ev),
            Err(e) => rejected.push(format!("element {i}: {e}")),
        }
    }
    Ok((events, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_urls() {
        assert!(parse_org_url("https://example.okta.com").is_ok());
        assert!(parse_org_url("https://example.okta.com/").is_ok());
        assert!(parse_org_url("http://127.0.0.1:8443").is_ok());
        let e = parse_org_url("http://example.okta.com").expect_err("plain http");
        assert!(e.to_string().contains("https"), "{e}");
        assert!(parse_org_url("https://example.okta.com/api/v1").is_err());
        assert!(parse_org_url("https://u:p@example.okta.com").is_err());
        assert!(parse_org_url("example.okta.com").is_err());
    }

    #[test]
    fn refuses_next_links_to_other_origins() {
        let c = OktaClient::new(
            "https://example.okta.com",
            Credentials::Ssws(Secret::new("t")),
            ClientConfig::default(),
        )
        .expect("client");
        assert!(c.resolve("/api/v1/logs?after=1").is_ok());
        assert!(c.resolve("https://example.okta.com/api/v1/logs").is_ok());
        let e = c
            .resolve("https://evil.example/api/v1/logs")
            .expect_err("foreign");
        assert!(e.to_string().contains("evil.example"), "{e}");
        let url = c.logs_since_url(
            chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .expect("time")
                .with_timezone(&chrono::Utc),
            1000,
        );
        assert_eq!(
            url.as_str(),
            "https://example.okta.com/api/v1/logs?since=2026-01-02T03%3A04%3A05.000Z&sortOrder=ASCENDING&limit=1000"
        );
    }

    #[test]
    fn log_pages_keep_raw_text_and_reject_bad_elements() {
        let body = br#"[{"uuid":"a","published":"2026-01-01T00:00:00.000Z","eventType":"x",  "k":1},{"nouuid":1}]"#;
        let (events, rejected) = parse_log_array(body).expect("parses");
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].raw(),
            r#"{"uuid":"a","published":"2026-01-01T00:00:00.000Z","eventType":"x",  "k":1}"#
        );
        assert_eq!(rejected.len(), 1);
        assert!(parse_log_array(br#"[{"uuid":"a","publ"#).is_err());
    }
}
