//! Our share of Okta's rate-limit buckets. Every response's `X-Rate-Limit-Limit`, `-Remaining`
//! and `-Reset` update the bucket it belongs to; before every request (retries included)
//! [`RateBudget::acquire`] waits until sending keeps us within `share` of the bucket's limit in
//! every window, a sliding one on our side, so that it holds whatever the server's window phase
//! is. Other tools share the bucket (the default share is 50 %). When the server says nothing is
//! left, we wait for its reset; after a 429 we wait to `Reset` (measured against the response's
//! `Date`, which avoids clock skew) plus jitter; a concurrency 429 (`Limit` and `Remaining` 0)
//! backs off briefly and grows.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much of each bucket we may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Fraction of `X-Rate-Limit-Limit` we may use per window (0 < share ≤ 1).
    pub share: f64,
    /// Length of the server's window (Okta: 60 s).
    pub window: Duration,
    /// Added to every computed wait, so clock granularity cannot put us over.
    pub margin: Duration,
    /// Largest jitter added after a 429.
    pub max_jitter: Duration,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            share: 0.5,
            window: Duration::from_secs(60),
            margin: Duration::from_millis(200),
            max_jitter: Duration::from_millis(1000),
        }
    }
}

/// The longest wait a response's `X-Rate-Limit-Reset` can impose.
pub const MAX_RESET_WAIT: Duration = Duration::from_secs(15 * 60);

/// What one response said about its bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `X-Rate-Limit-Limit`.
    pub limit: Option<u32>,
    /// `X-Rate-Limit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-Rate-Limit-Reset` (epoch seconds).
    pub reset_epoch: Option<i64>,
    /// The response's `Date` (epoch seconds).
    pub date_epoch: Option<i64>,
}

impl RateHeaders {
    /// Reads the headers of a response.
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> RateHeaders {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        RateHeaders {
            limit: num("x-rate-limit-limit").and_then(|v| u32::try_from(v).ok()),
            remaining: num("x-rate-limit-remaining").and_then(|v| u32::try_from(v).ok()),
            reset_epoch: num("x-rate-limit-reset"),
            date_epoch: headers
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
                .map(|d| d.timestamp()),
        }
    }

    /// Time until the server's reset, measured against the server's own clock when it sent
    /// `Date` (plus one second for `Date`'s truncation), else against ours. Capped at
    /// [`MAX_RESET_WAIT`]: Okta's buckets reset within a minute, so a reset hours away is a
    /// broken header (or a hostile proxy), and waiting on it would stall the collector.
    pub fn until_reset(&self) -> Option<Duration> {
        let reset = self.reset_epoch?;
        let wait = match self.date_epoch {
            Some(date) => {
                let secs = reset.saturating_sub(date).saturating_add(1).max(0);
                Duration::from_secs(u64::try_from(secs).unwrap_or(0))
            }
            None => {
                let now = chrono::Utc::now().timestamp_millis();
                let ms = reset.saturating_mul(1000).saturating_sub(now).max(0);
                Duration::from_millis(u64::try_from(ms).unwrap_or(0))
            }
        };
        Some(wait.min(MAX_RESET_WAIT))
    }

    /// A 429 from the concurrency limit rather than the rate bucket.
    pub fn is_concurrency_limit(&self) -> bool {
        self.limit == Some(0) && self.remaining == Some(0)
    }
}

#[derive(Debug, Default)]
struct Bucket {
    limit: Option<u32>,
    remaining: Option<u32>,
    reset_at: Option<Instant>,
    sent: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    concurrency_strikes: u32,
}

/// A view of one bucket, for metrics and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketView {
    /// Last `X-Rate-Limit-Limit`.
    pub limit: Option<u32>,
    /// Last `X-Rate-Limit-Remaining`.
    pub remaining: Option<u32>,
    /// Requests we sent in the last window.
    pub sent_in_window: usize,
    /// Requests we may send per window.
    pub allowed_per_window: Option<u32>,
}

/// The rate budget of one org's credentials, across its buckets (one per endpoint family).
#[derive(Debug)]
pub struct RateBudget {
    config: RateConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateBudget {
    /// A budget with `config` (share clamped to (0, 1]).
    pub fn new(mut config: RateConfig) -> RateBudget {
        if !(config.share > 0.0 && config.share <= 1.0) {
            config.share = RateConfig::default().share;
        }
        RateBudget {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> RateConfig {
        self.config
    }

    /// The bucket a request path belongs to: Okta buckets by endpoint family
    /// (`/api/v1/logs`, `/api/v1/users`, …), so the first three path segments.
    pub fn bucket_of(path: &str) -> String {
        let path = path.split(['?', '#']).next().unwrap_or("");
        path.split('/')
            .filter(|s| !s.is_empty())
            .take(3)
            .fold(String::new(), |mut acc, s| {
                acc.push('/');
                acc.push_str(s);
                acc
            })
    }

    /// How many requests per window we may send on a bucket of `limit`.
    pub fn allowed(&self, limit: u32) -> u32 {
        ((f64::from(limit) * self.config.share).floor() as u32).max(1)
    }

    /// Waits until one more request on `bucket` stays within budget, then counts it as sent.
    pub async fn acquire(&self, bucket: &str) {
        loop {
            let wait = self.try_acquire(bucket, Instant::now());
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Counts a request as sent at `now` if it fits; otherwise how long to wait.
    fn try_acquire(&self, bucket: &str, now: Instant) -> Option<Duration> {
        let mut buckets = self.lock();
        let b = buckets.entry(bucket.to_string()).or_default();
        if let Some(until) = b.blocked_until {
            if until > now {
                return Some(until - now);
            }
            b.blocked_until = None;
        }
        while b
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.config.window)
        {
            b.sent.pop_front();
        }
        if let Some(limit) = b.limit.filter(|l| *l > 0) {
            let allowed = self.allowed(limit) as usize;
            if b.sent.len() >= allowed {
                let oldest_that_counts = b.sent[b.sent.len() - allowed];
                let free_at = oldest_that_counts + self.config.window + self.config.margin;
                if free_at > now {
                    return Some(free_at - now);
                }
            }
            // The server says the bucket is empty (others use it too): wait for its reset.
            if b.remaining == Some(0) {
                if let Some(reset) = b.reset_at {
                    let at = reset + self.config.margin;
                    if at > now {
                        return Some(at - now);
                    }
                }
            }
        }
        b.sent.push_back(now);
        if b.remaining.is_some_and(|r| r > 0) {
            // Until the response says otherwise, assume this request used one.
            b.remaining = b.remaining.map(|r| r - 1);
        }
        None
    }

    /// Updates `bucket` from a response. `status` 429 blocks the bucket until its reset plus
    /// jitter (or a growing short back-off for the concurrency limit). Returns the wait imposed.
    pub fn observe(&self, bucket: &str, status: u16, headers: &RateHeaders) -> Option<Duration> {
        let now = Instant::now();
        let mut buckets = self.lock();
        let b = buckets.entry(bucket.to_string()).or_default();
        if headers.is_concurrency_limit() {
            if status == 429 {
                b.concurrency_strikes = (b.concurrency_strikes + 1).min(8);
                let wait = Duration::from_millis(250 << b.concurrency_strikes)
                    + jitter(self.config.max_jitter);
                b.blocked_until = Some(now + wait);
                return Some(wait);
            }
            return None;
        }
        b.concurrency_strikes = 0;
        if let Some(limit) = headers.limit {
            b.limit = Some(limit);
        }
        if let Some(remaining) = headers.remaining {
            b.remaining = Some(remaining);
        }
        if let Some(until) = headers.until_reset() {
            b.reset_at = Some(now + until);
        }
        if status == 429 {
            let wait = headers.until_reset().unwrap_or(self.config.window)
                + jitter(self.config.max_jitter);
            b.remaining = Some(0);
            b.blocked_until = Some(now + wait);
            return Some(wait);
        }
        None
    }

    /// The state of `bucket`.
    pub fn view(&self, bucket: &str) -> BucketView {
        let now = Instant::now();
        let buckets = self.lock();
        match buckets.get(bucket) {
            None => BucketView {
                limit: None,
                remaining: None,
                sent_in_window: 0,
                allowed_per_window: None,
            },
            Some(b) => BucketView {
                limit: b.limit,
                remaining: b.remaining,
                sent_in_window: b
                    .sent
                    .iter()
                    .filter(|t| now.duration_since(**t) < self.config.window)
                    .count(),
                allowed_per_window: b.limit.map(|l| self.allowed(l)),
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bucket>> {
        // A panic while holding the lock leaves consistent data (every update is one step).
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A random duration in `[0, max)`.
pub fn jitter(max: Duration) -> Duration {
    let max_ms = max.as_millis() as u64;
    if max_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(random_u64() % max_ms)
}

/// A random u64 from the operating system.
pub(crate) fn random_u64() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // Jitter only: fall back to the clock.
        return chrono::Utc::now().timestamp_subsec_nanos() as u64;
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(limit: u32, remaining: u32, reset_in: i64) -> RateHeaders {
        RateHeaders {
            limit: Some(limit),
            remaining: Some(remaining),
            reset_epoch: Some(1_000 + reset_in),
            date_epoch: Some(1_000),
        }
    }

    #[test]
    fn buckets_by_endpoint_family() {
        assert_eq!(
            RateBudget::bucket_of("/api/v1/logs?limit=1000"),
            "/api/v1/logs"
        );
        assert_eq!(
            RateBudget::bucket_of("/api/v1/users/00u1/roles"),
            "/api/v1/users"
        );
        assert_eq!(
            RateBudget::bucket_of("/oauth2/v1/token"),
            "/oauth2/v1/token"
        );
    }

    #[test]
    fn never_more_than_the_share_in_any_window() {
        let budget = RateBudget::new(RateConfig {
            share: 0.5,
            window: Duration::from_secs(60),
            margin: Duration::from_millis(100),
            max_jitter: Duration::ZERO,
        });
        let start = Instant::now();
        budget.observe("/api/v1/logs", 200, &headers(10, 10, 60));
        // Simulated clock: send whenever allowed, for five minutes.
        let mut now = start;
        let mut sends = Vec::new();
        while now < start + Duration::from_secs(300) {
            match budget.try_acquire("/api/v1/logs", now) {
                None => {
                    sends.push(now);
                    budget.observe("/api/v1/logs", 200, &headers(10, 9, 30));
                }
                Some(wait) => now += wait,
            }
        }
        for (i, t) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(60))
                .count();
            assert!(in_window <= 5, "{in_window} requests in one window");
        }
        // And the budget is used: five per minute over five minutes.
        assert!(sends.len() >= 25, "only {} sends", sends.len());
    }

    #[test]
    fn waits_for_reset_after_429_and_when_the_server_says_empty() {
        let budget = RateBudget::new(RateConfig {
            max_jitter: Duration::ZERO,
            ..RateConfig::default()
        });
        let wait = budget
            .observe("/api/v1/logs", 429, &headers(120, 0, 7))
            .expect("a 429 imposes a wait");
        assert_eq!(wait, Duration::from_secs(8));
        let now = Instant::now();
        let w = budget.try_acquire("/api/v1/logs", now).expect("blocked");
        assert!(w > Duration::from_secs(7), "{w:?}");

        let other = RateBudget::new(RateConfig::default());
        other.observe("/api/v1/users", 200, &headers(600, 0, 20));
        let w = other
            .try_acquire("/api/v1/users", Instant::now())
            .expect("remaining 0 waits");
        assert!(w > Duration::from_secs(19), "{w:?}");
    }

    proptest::proptest! {
        /// Whatever `X-Rate-Limit-Reset` and `Date` say (both come off the network), the
        /// wait is at most [`MAX_RESET_WAIT`] and observing it does not panic.
        #[test]
        fn any_reset_header_gives_a_bounded_wait(
            reset in proptest::num::i64::ANY,
            date in proptest::option::of(proptest::num::i64::ANY),
            status in proptest::sample::select(vec![200u16, 429]),
        ) {
            let headers = RateHeaders {
                limit: Some(600),
                remaining: Some(0),
                reset_epoch: Some(reset),
                date_epoch: date,
            };
            let wait = headers.until_reset().expect("a reset header gives a wait");
            proptest::prop_assert!(wait <= MAX_RESET_WAIT);
            let budget = RateBudget::new(RateConfig {
                max_jitter: Duration::ZERO,
                ..RateConfig::default()
            });
            if let Some(imposed) = budget.observe("/api/v1/logs", status, &headers) {
                proptest::prop_assert!(imposed <= MAX_RESET_WAIT);
            }
            proptest::prop_assert!(budget.try_acquire("/api/v1/logs", Instant::now()).is_some());
        }
    }

    #[test]
    fn concurrency_429_backs_off_briefly_and_grows() {
        let budget = RateBudget::new(RateConfig {
            max_jitter: Duration::ZERO,
            ..RateConfig::default()
        });
        let h = RateHeaders {
            limit: Some(0),
            remaining: Some(0),
            reset_epoch: Some(2_000_000_000),
            date_epoch: None,
        };
        let first = budget.observe("/api/v1/logs", 429, &h).expect("wait");
        let second = budget.observe("/api/v1/logs", 429, &h).expect("wait");
        assert!(
            first < Duration::from_secs(2) && second > first,
            "{first:?} {second:?}"
        );
    }
}
