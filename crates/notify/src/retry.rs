//! The one retry policy every sink shares (Vector's `RetryLogic`, `src/sinks/util/retries.rs`):
//! which answers are worth retrying, and when.
//!
//! - HTTP 2xx: delivered.
//! - HTTP 429: retry after the peer's `Retry-After` (seconds or an HTTP date), capped at
//!   `max_retry_after`; without one, the exponential back-off. The wait applies to the whole
//!   sink (the worker defers its other pending rows too).
//! - HTTP 408 and 5xx except 501, timeouts, connection and TLS errors: retry with exponential
//!   back-off and jitter.
//! - Any other 4xx (and 501): permanent; the outbox row is marked failed with the status and
//!   the peer's reason. Nothing is dropped: the row, its attempts and the reason stay in the
//!   store, and `idwatch alerts retry ID` queues it again.
//!
//! Jitter is derived from a hash of the row's idempotency key and the attempt number, so rows
//! that failed together spread out, and a test can predict every delay.

use crate::error::{DeliveryError, FailureClass};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::time::Duration;
use store::alerts::{AlertId, AttemptOutcome};

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first back-off.
    pub initial: Duration,
    /// The longest back-off (the doubling stops here).
    pub max: Duration,
    /// The longest `Retry-After` honoured (a peer asking for a day gets this).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(3600),
        }
    }
}

/// What to record after an attempt, and whether the sink as a whole must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryDecision {
    /// The outbox row's next state.
    pub outcome: AttemptOutcome,
    /// Set when the peer asked the whole sink to wait (429 Retry-After) until then.
    pub defer_sink_until: Option<DateTime<Utc>>,
}

impl RetryPolicy {
    /// The back-off before attempt `failures + 1`, after `failures` failed attempts (1-based):
    /// `initial · 2^(failures-1)`, capped at `max`, then scaled into [50%, 100%] by the jitter.
    pub fn backoff(&self, failures: u32, key: &str) -> Duration {
        let exponent = failures.saturating_sub(1).min(32);
        let base = self
            .initial
            .saturating_mul(2_u32.saturating_pow(exponent))
            .min(self.max);
        let fraction = 0.5 + 0.5 * jitter(key, failures);
        base.mul_f64(fraction)
    }

    /// Decides what an attempt's result means for its outbox row. `failures_before` is how many
    /// attempts the row had already made; `now` is when this one ended.
    pub fn decide<T>(
        &self,
        result: &Result<T, DeliveryError>,
        failures_before: u32,
        key: &str,
        now: DateTime<Utc>,
    ) -> RetryDecision {
        let Err(err) = result else {
            return RetryDecision {
                outcome: AttemptOutcome::Delivered,
                defer_sink_until: None,
            };
        };
        match err.class {
            FailureClass::Permanent => RetryDecision {
                outcome: AttemptOutcome::Failed,
                defer_sink_until: None,
            },
            FailureClass::Retriable { retry_after } => {
                let (wait, defer) = match retry_after {
                    Some(after) => (after.min(self.max_retry_after), true),
                    None => (self.backoff(failures_before.saturating_add(1), key), false),
                };
                let next = chrono::Duration::from_std(wait)
                    .ok()
                    .and_then(|wait| now.checked_add_signed(wait))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                RetryDecision {
                    outcome: AttemptOutcome::Retry {
                        next_attempt_at: next,
                    },
                    defer_sink_until: defer.then_some(next),
                }
            }
        }
    }
}

/// A number in [0, 1) from the key and attempt.
fn jitter(key: &str, attempt: u32) -> f64 {
    let digest = Sha256::new()
        .chain_update(key.as_bytes())
        .chain_update(attempt.to_le_bytes())
        .finalize();
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1_u64 << 53) as f64
}

/// Parses `Retry-After`: delay-seconds, or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Classifies an HTTP answer: `Ok` for 2xx, else a `DeliveryError` with the status and the first
/// 300 characters of the body as the reason.
pub fn classify_http(
    sink: &str,
    alert_id: AlertId,
    status: u16,
    retry_after: Option<&str>,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), DeliveryError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let class = match status {
        429 => FailureClass::Retriable {
            retry_after: retry_after.and_then(|v| parse_retry_after(v, now)),
        },
        408 => FailureClass::Retriable { retry_after: None },
        501 => FailureClass::Permanent,
        500..=599 => FailureClass::Retriable { retry_after: None },
        _ => FailureClass::Permanent,
    };
    let body: String = body.trim().chars().take(300).collect();
    let reason = if body.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {body}")
    };
    Err(DeliveryError {
        sink: sink.to_string(),
        alert_id,
        class,
        status: Some(status),
        reason,
    })
}

/// Classifies a transport error (no answer): always retriable. The text names what failed
/// without the URL, which may hold a secret (a Slack webhook URL is its own credential).
pub fn classify_transport(sink: &str, alert_id: AlertId, err: &reqwest::Error) -> DeliveryError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    // reqwest's Display includes the URL; its source chain does not.
    let mut detail = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    DeliveryError {
        sink: sink.to_string(),
        alert_id,
        class: FailureClass::Retriable { retry_after: None },
        status: None,
        reason: if detail.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {detail}")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let p = policy();
        for failures in 1..=12 {
            let base = Duration::from_secs(1 << (failures - 1)).min(p.max);
            let d = p.backoff(failures, "key");
            assert!(
                d >= base / 2 && d <= base,
                "attempt {failures}: {d:?} vs {base:?}"
            );
        }
        // Deterministic per key and attempt; different keys spread out.
        assert_eq!(p.backoff(3, "a"), p.backoff(3, "a"));
        let spread: std::collections::HashSet<_> =
            (0..20).map(|i| p.backoff(3, &format!("k{i}"))).collect();
        assert!(spread.len() > 10, "{spread:?}");
        assert!(p.backoff(u32::MAX, "k") <= p.max);
    }

    #[test]
    fn retries_429_after_retry_after_and_defers_the_sink() {
        let err =
            classify_http("slack", AlertId(1), 429, Some("30"), "rate_limited", now()).unwrap_err();
        assert!(err.retriable());
        let d = policy().decide(&Err::<(), _>(err), 0, "k", now());
        let expected = now() + chrono::Duration::seconds(30);
        assert_eq!(
            d.outcome,
            AttemptOutcome::Retry {
                next_attempt_at: expected
            }
        );
        assert_eq!(d.defer_sink_until, Some(expected));
        // An HTTP date works too, and a huge wait is capped.
        let date = "Fri, 01 Mar 2024 12:02:00 GMT";
        assert_eq!(
            parse_retry_after(date, now()),
            Some(Duration::from_secs(120))
        );
        let huge = classify_http("s", AlertId(1), 429, Some("86400"), "", now()).unwrap_err();
        let d = policy().decide(&Err::<(), _>(huge), 0, "k", now());
        assert_eq!(
            d.outcome,
            AttemptOutcome::Retry {
                next_attempt_at: now() + chrono::Duration::seconds(600)
            }
        );
    }

    #[test]
    fn a_back_off_past_the_calendar_retries_at_the_end_of_time_without_panicking() {
        // `[alerts.delivery] retry_initial = retry_max = "200000000d"` is valid config.
        let p = RetryPolicy {
            initial: Duration::from_secs(200_000_000 * 86_400),
            max: Duration::from_secs(200_000_000 * 86_400),
            max_retry_after: Duration::from_secs(600),
        };
        let err = classify_http("s", AlertId(1), 503, None, "", now()).unwrap_err();
        let d = p.decide(&Err::<(), _>(err), 0, "k", now());
        assert_eq!(
            d.outcome,
            AttemptOutcome::Retry {
                next_attempt_at: DateTime::<Utc>::MAX_UTC
            }
        );
    }

    #[test]
    fn retries_on_server_errors_with_backoff() {
        for status in [500, 502, 503, 504, 408] {
            let err = classify_http("hook", AlertId(7), status, None, "busy", now()).unwrap_err();
            assert!(err.retriable(), "{status}");
            assert_eq!(err.status, Some(status));
            let d = policy().decide(&Err::<(), _>(err), 3, "k", now());
            let AttemptOutcome::Retry { next_attempt_at } = d.outcome else {
                panic!("{status}: {d:?}");
            };
            let wait = (next_attempt_at - now()).to_std().unwrap();
            assert_eq!(wait, policy().backoff(4, "k"));
            assert!(wait >= Duration::from_secs(4) && wait <= Duration::from_secs(8));
            assert_eq!(d.defer_sink_until, None);
        }
    }

    #[test]
    fn fails_on_permanent_error_with_the_reason() {
        for status in [400, 401, 403, 404, 410, 413, 501] {
            let err =
                classify_http("slack", AlertId(9), status, None, "no_service", now()).unwrap_err();
            assert!(!err.retriable(), "{status}");
            assert_eq!(err.reason, format!("HTTP {status}: no_service"));
            assert_eq!(
                policy().decide(&Err::<(), _>(err), 0, "k", now()).outcome,
                AttemptOutcome::Failed
            );
        }
        assert!(classify_http("s", AlertId(1), 204, None, "", now()).is_ok());
        assert_eq!(
            policy()
                .decide(&Ok::<_, DeliveryError>(()), 5, "k", now())
                .outcome,
            AttemptOutcome::Delivered
        );
    }
}
