//! Okta's rate limits and the server's request accounting.
//!
//! Each request falls in one endpoint bucket ([`bucket_of`]); a bucket allows `limit` requests
//! per 60-second window that starts with the first request after the previous window ended (not
//! aligned to wall-clock minutes, like Okta's). Every response carries `X-Rate-Limit-Limit`,
//! `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (UTC epoch seconds of the window's end); over
//! the limit the answer is 429 `E0000047`. A separate org-wide cap on in-flight requests answers
//! 429 with limit and remaining `0`, as Okta's concurrency limit does.
//!
//! [`Accounting`] records every request (bucket, when it arrived and was answered, status) so
//! tests can check a client's behaviour, e.g. that it never used more than half a bucket in any
//! window.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The window of every bucket.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Okta's per-minute limits (Workforce, from the removed `rl-global-mgmt` table) for the
/// buckets other than `/api/v1/logs`, whose limit is configurable.
pub fn default_limit(bucket: &str, logs_limit: u32) -> u32 {
    match bucket {
        "/api/v1/logs" => logs_limit,
        "/api/v1/users" => 600,
        "/api/v1/users/{id}" => 2000,
        "/api/v1/groups" => 500,
        "/api/v1/groups/{id}" => 1000,
        "/api/v1/apps" => 100,
        "/oauth2/v1/token" => 600,
        _ => 1200,
    }
}

/// The bucket a request path counts against.
pub fn bucket_of(path: &str) -> &'static str {
    let path = path.trim_end_matches('/');
    if path == "/api/v1/logs" {
        "/api/v1/logs"
    } else if path == "/api/v1/users" {
        "/api/v1/users"
    } else if path.starts_with("/api/v1/users/") {
        "/api/v1/users/{id}"
    } else if path == "/api/v1/groups" {
        "/api/v1/groups"
    } else if path.starts_with("/api/v1/groups/") {
        "/api/v1/groups/{id}"
    } else if path.starts_with("/api/v1/apps") {
        "/api/v1/apps"
    } else if path.starts_with("/oauth2/v1/token") {
        "/oauth2/v1/token"
    } else {
        "/api/v1"
    }
}

/// What the rate-limit headers of one response say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    /// `X-Rate-Limit-Limit`.
    pub limit: u32,
    /// `X-Rate-Limit-Remaining`.
    pub remaining: u32,
    /// `X-Rate-Limit-Reset` (epoch seconds).
    pub reset: u64,
    /// Whether this request is refused.
    pub exceeded: bool,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    reset_epoch: u64,
    count: u32,
    /// A 429 storm in this bucket until this instant (fault injection).
    storm_until: Option<Instant>,
}

/// Per-bucket request windows.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: HashMap<&'static str, Window>,
}

fn epoch_after(delay: Duration) -> u64 {
    let at = SystemTime::now() + delay;
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    // Round up: the window is over at the reset second.
    secs.as_secs() + u64::from(secs.subsec_nanos() > 0)
}

impl RateLimiter {
    /// Counts one request against `bucket` (allowing `limit` per window) and says whether it
    /// may proceed.
    pub fn admit(&mut self, bucket: &'static str, limit: u32) -> RateState {
        let now = Instant::now();
        let window = self.windows.entry(bucket).or_insert_with(|| Window {
            started: now,
            reset_epoch: epoch_after(WINDOW),
            count: 0,
            storm_until: None,
        });
        if now.duration_since(window.started) >= WINDOW {
            window.started = now;
            window.reset_epoch = epoch_after(WINDOW);
            window.count = 0;
        }
        if let Some(until) = window.storm_until {
            if now < until {
                return RateState {
                    limit,
                    remaining: 0,
                    reset: epoch_after(until - now),
                    exceeded: true,
                };
            }
            window.storm_until = None;
        }
        window.count = window.count.saturating_add(1);
        let exceeded = window.count > limit;
        RateState {
            limit,
            remaining: limit.saturating_sub(window.count),
            reset: window.reset_epoch,
            exceeded,
        }
    }

    /// Starts a 429 storm: every request to `bucket` is refused for `length`.
    pub fn storm(&mut self, bucket: &'static str, length: Duration) {
        let now = Instant::now();
        let window = self.windows.entry(bucket).or_insert_with(|| Window {
            started: now,
            reset_epoch: epoch_after(WINDOW),
            count: 0,
            storm_until: None,
        });
        window.storm_until = Some(now + length);
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The rate-limit bucket, e.g. `/api/v1/logs`.
    pub bucket: String,
    /// HTTP method.
    pub method: String,
    /// Path and query as requested.
    pub uri: String,
    /// When it arrived, since the server started.
    pub received: Duration,
    /// When the answer was ready, since the server started.
    pub answered: Duration,
    /// HTTP status of the answer (a fault that cuts the connection is recorded with the
    /// status it was going to have).
    pub status: u16,
    /// `X-Okta-Request-Id`.
    pub request_id: String,
    /// Which fault was injected, if any.
    pub fault: Option<String>,
}

/// Every request the server received, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounting {
    /// The records.
    pub records: Vec<RequestRecord>,
}

impl Accounting {
    /// The records of one bucket.
    pub fn bucket<'a>(&'a self, bucket: &'a str) -> impl Iterator<Item = &'a RequestRecord> + 'a {
        self.records.iter().filter(move |r| r.bucket == bucket)
    }

    /// The largest number of requests to `bucket` that arrived within any span of `window`.
    pub fn max_in_window(&self, bucket: &str, window: Duration) -> usize {
        let mut times: Vec<Duration> = self.bucket(bucket).map(|r| r.received).collect();
        times.sort();
        let mut best = 0;
        let mut first = 0;
        for last in 0..times.len() {
            while times[last] - times[first] >= window {
                first += 1;
            }
            best = best.max(last - first + 1);
        }
        best
    }

    /// How many answers to `bucket` had `status`.
    pub fn count_status(&self, bucket: &str, status: u16) -> usize {
        self.bucket(bucket).filter(|r| r.status == status).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_down_and_refuses_past_the_limit() {
        let mut limiter = RateLimiter::default();
        let first = limiter.admit("/api/v1/logs", 3);
        assert_eq!(
            (first.limit, first.remaining, first.exceeded),
            (3, 2, false)
        );
        limiter.admit("/api/v1/logs", 3);
        let third = limiter.admit("/api/v1/logs", 3);
        assert_eq!((third.remaining, third.exceeded), (0, false));
        let fourth = limiter.admit("/api/v1/logs", 3);
        assert!(fourth.exceeded);
        assert_eq!(fourth.reset, first.reset);
        // Another bucket is independent.
        assert!(!limiter.admit("/api/v1/users", 3).exceeded);
    }

    #[test]
    fn max_in_window_slides() {
        let at = |ms: u64| RequestRecord {
            bucket: "b".into(),
            method: "GET".into(),
            uri: "/".into(),
            received: Duration::from_millis(ms),
            answered: Duration::from_millis(ms),
            status: 200,
            request_id: String::new(),
            fault: None,
        };
        let accounting = Accounting {
            records: vec![at(0), at(500), at(999), at(1000), at(1800), at(2100)],
        };
        assert_eq!(accounting.max_in_window("b", Duration::from_secs(1)), 3);
        assert_eq!(
            accounting.max_in_window("b", Duration::from_millis(1101)),
            4
        );
        assert_eq!(accounting.max_in_window("other", Duration::from_secs(1)), 0);
    }
}
