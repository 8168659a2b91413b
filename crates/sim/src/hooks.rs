//! The event hook emitter: Okta's one-time verification and event delivery to a configured
//! endpoint, with Okta's delivery quirks.
//!
//! On start it sends `GET <url>` with `X-Okta-Verification-Challenge` and expects
//! `{"verification": "<challenge>"}` back (3 s timeout, one retry); an unverified hook gets
//! nothing, like Okta's. Then, every [`HookConfig::interval`], it takes the events committed to
//! the org's log since the last round (starting [`HookConfig::backfill`] before the history's
//! end), keeps only hook-eligible types ([`eligible::is_hook_eligible`]), and POSTs them in
//! envelopes of 1–[`HookConfig::max_batch`] events (`com.okta.event_hook`, `data.events`) with
//! `Authorization: <secret>`. Each POST has a 3 s timeout and at most one retry (on 5xx or
//! timeout, never on 4xx). At-least-once and out of order, seeded: a fraction of envelopes is
//! sent twice ([`HookConfig::duplicate_rate`]) and adjacent envelopes are swapped
//! ([`HookConfig::reorder_rate`]). [`HookStatus`] records every delivery for tests.

#[rustfmt::skip]
pub mod eligible;

use crate::api::Shared;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where and how to deliver event hooks.
#[derive(Debug, Clone, PartialEq)]
pub struct HookConfig {
    /// The endpoint (`https://…` or `http://127.0.0.1:…`).
    pub url: String,
    /// The `Authorization` header value sent with every delivery (Okta's `authScheme` value).
    pub secret: String,
    /// Most events per envelope.
    pub max_batch: usize,
    /// How often new events are collected and sent.
    pub interval: Duration,
    /// Events committed this long before the end of the history are delivered too.
    pub backfill: Duration,
    /// Fraction (0–1) of envelopes delivered twice.
    pub duplicate_rate: f64,
    /// Fraction (0–1) of envelopes swapped with the next one.
    pub reorder_rate: f64,
}

impl HookConfig {
    /// Okta-like defaults for `url` and `secret`: batches of up to 50, every second, the last
    /// hour of history, 5 % duplicates, 10 % reordering.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> HookConfig {
        HookConfig {
            url: url.into(),
            secret: secret.into(),
            max_batch: 50,
            interval: Duration::from_secs(1),
            backfill: Duration::from_secs(3600),
            duplicate_rate: 0.05,
            reorder_rate: 0.10,
        }
    }
}

/// One envelope delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDelivery {
    /// The envelope's `eventId`.
    pub event_id: String,
    /// The uuids of its events, in envelope order.
    pub uuids: Vec<String>,
    /// POST attempts (1 or 2).
    pub attempts: u32,
    /// HTTP status of the last attempt (`None`: no response).
    pub status: Option<u16>,
    /// Whether this is the injected second delivery of an envelope.
    pub duplicate: bool,
}

/// What the emitter has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookStatus {
    /// `None` until the verification finished; then whether it succeeded.
    pub verified: Option<bool>,
    /// Every delivery, in sending order.
    pub deliveries: Vec<HookDelivery>,
    /// Events seen but not hook-eligible (never delivered).
    pub skipped_ineligible: usize,
    /// Whether every event committed so far has been delivered (or skipped) and the emitter
    /// waits for more: a test that compares deliveries with what a receiver counted waits
    /// for this, since a round of envelopes goes out one POST after another.
    pub idle: bool,
}

/// Okta's hook timeout.
const TIMEOUT: Duration = Duration::from_secs(3);

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let n: u128 = rng.random();
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Verifies the endpoint, then delivers until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, config: HookConfig, status: Arc<Mutex<HookStatus>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(shared.config.seed ^ 0x400c_5000);
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(client) => client,
        Err(err) => {
            tracing::warn!(%err, "event hook: cannot build an HTTP client");
            lock(&status).verified = Some(false);
            return;
        }
    };
    let hook_id = format!("who{}", crate::api::error::base62(rng.random(), 17));
    let source = format!(
        "https://{}/api/v1/eventHooks/{hook_id}",
        shared.okta_domain()
    );
    let challenge = format!("{}{}", uuid(&mut rng), uuid(&mut rng)).replace('-', "");
    let mut verified = false;
    for _ in 0..2 {
        let answer = client
            .get(&config.url)
            .header("X-Okta-Verification-Challenge", &challenge)
            .header("Accept", "application/json")
            .send()
            .await;
        if let Ok(response) = answer {
            if response.status().is_success() {
                if let Ok(body) = response.json::<serde_json::Value>().await {
                    verified = body["verification"].as_str() == Some(challenge.as_str());
                }
                break;
            }
        }
    }
    lock(&status).verified = Some(verified);
    if !verified {
        tracing::warn!(url = %config.url, "event hook verification failed: no events will be delivered");
        return;
    }
    let since = shared.anchor() - chrono::Duration::from_std(config.backfill).unwrap_or_default();
    let mut position = shared
        .world()
        .committed()
        .partition_point(|e| e.persisted < since);
    let mut ticker = tokio::time::interval(config.interval);
    loop {
        ticker.tick().await;
        let (events, skipped) = {
            let world = shared.world();
            let fresh = &world.committed()[position.min(world.committed().len())..];
            position += fresh.len();
            let mut skipped = 0;
            let mut events = Vec::new();
            for event in fresh {
                if event_type(&event.json).is_some_and(eligible::is_hook_eligible) {
                    events.push((event.uuid.to_string(), event.json.clone()));
                } else {
                    skipped += 1;
                }
            }
            (events, skipped)
        };
        {
            let mut status = lock(&status);
            status.skipped_ineligible += skipped;
            status.idle = events.is_empty();
        }
        if events.is_empty() {
            continue;
        }
        let mut envelopes = Vec::new();
        let mut rest = &events[..];
        while !rest.is_empty() {
            let size = rng
                .random_range(1..=config.max_batch.max(1))
                .min(rest.len());
            let (batch, tail) = rest.split_at(size);
            rest = tail;
            let event_id = uuid(&mut rng);
            let body = envelope(&source, &event_id, &shared.now_text(), batch);
            envelopes.push((
                event_id,
                batch.iter().map(|(u, _)| u.clone()).collect::<Vec<_>>(),
                body,
            ));
        }
        let mut i = 0;
        while i + 1 < envelopes.len() {
            if rng.random_bool(config.reorder_rate.clamp(0.0, 1.0)) {
                envelopes.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
        for (event_id, uuids, body) in envelopes {
            let twice = rng.random_bool(config.duplicate_rate.clamp(0.0, 1.0));
            for duplicate in [false, true].into_iter().take(if twice { 2 } else { 1 }) {
                let (attempts, code) = deliver(&client, &config, &body).await;
                lock(&status).deliveries.push(HookDelivery {
                    event_id: event_id.clone(),
                    uuids: uuids.clone(),
                    attempts,
                    status: code,
                    duplicate,
                });
            }
        }
    }
}

/// The `eventType` of an event's JSON, without parsing all of it.
fn event_type(json: &str) -> Option<&str> {
    let start = json.find("\"eventType\":\"")? + "\"eventType\":\"".len();
    let len = json[start..].find('"')?;
    Some(&json[start..start + len])
}

fn envelope(
    source: &str,
    event_id: &str,
    event_time: &str,
    batch: &[(String, Arc<str>)],
) -> String {
    let head = serde_json::json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": source,
        "eventId": event_id,
        "eventTime": event_time,
        "contentType": "application/json",
    })
    .to_string();
    let mut body = String::with_capacity(
        head.len() + batch.iter().map(|(_, j)| j.len() + 1).sum::<usize>() + 32,
    );
    body.push_str(&head[..head.len() - 1]);
    body.push_str(",\"data\":{\"events\":[");
    for (i, (_, json)) in batch.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(json);
    }
    body.push_str("]}}");
    body
}

/// POSTs one envelope: one retry on 5xx or no response, none on 4xx.
async fn deliver(client: &reqwest::Client, config: &HookConfig, body: &str) -> (u32, Option<u16>) {
    let mut last = None;
    for attempt in 1..=2u32 {
        let answer = client
            .post(&config.url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("Authorization", &config.secret)
            .body(body.to_string())
            .send()
            .await;
        match answer {
            Ok(response) => {
                let code = response.status().as_u16();
                last = Some(code);
                if code < 500 {
                    return (attempt, last);
                }
            }
            Err(_) => last = None,
        }
        if attempt == 2 {
            return (attempt, last);
        }
    }
    (2, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eligibility_follows_okta_catalog() {
        assert!(eligible::HOOK_ELIGIBLE.windows(2).all(|w| w[0] < w[1]));
        assert!(eligible::is_hook_eligible("user.session.start"));
        assert!(eligible::is_hook_eligible("user.account.privilege.grant"));
        assert!(!eligible::is_hook_eligible(
            "user.session.impersonation.initiate"
        ));
        assert!(!eligible::is_hook_eligible("security.threat.detected"));
    }

    #[test]
    fn envelope_holds_the_events_verbatim() {
        let batch = vec![
            (
                "a".to_string(),
                Arc::from(r#"{"uuid":"a","eventType":"x"}"#),
            ),
            (
                "b".to_string(),
                Arc::from(r#"{"uuid":"b","eventType":"y"}"#),
            ),
        ];
        let text = envelope(
            "https://o/api/v1/eventHooks/who1",
            "id-1",
            "2024-01-01T00:00:00.000Z",
            &batch,
        );
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["eventType"], "com.okta.event_hook");
        assert_eq!(value["eventId"], "id-1");
        assert_eq!(value["data"]["events"][1]["uuid"], "b");
        assert_eq!(
            event_type(r#"{"uuid":"a","eventType":"user.session.start","x":1}"#),
            Some("user.session.start")
        );
    }
}
