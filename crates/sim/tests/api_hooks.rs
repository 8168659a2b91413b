//! Event hooks from the running simulator to a real receiver on loopback (a tiny axum app):
//! the verification challenge, envelopes with only hook-eligible events, the `Authorization`
//! secret, one retry on 5xx, duplicates and reordering, live events, and no deliveries to an
//! endpoint that fails verification.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sim::api::{SimConfig, SimServer};
use sim::hooks::{eligible::is_hook_eligible, HookConfig};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Received {
    challenges: Vec<String>,
    envelopes: Vec<Value>,
    authorizations: Vec<String>,
    posts: usize,
}

type Shared = Arc<Mutex<Received>>;

async fn verify(State(state): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let challenge = headers
        .get("x-okta-verification-challenge")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    state
        .lock()
        .expect("lock")
        .challenges
        .push(challenge.clone());
    Json(json!({ "verification": challenge }))
}

async fn wrong_verify() -> Json<Value> {
    Json(json!({ "verification": "not-the-challenge" }))
}

async fn receive(State(state): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let mut received = state.lock().expect("lock");
    received.posts += 1;
    if received.posts == 1 {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    received.authorizations.push(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    );
    received
        .envelopes
        .push(serde_json::from_str(&body).expect("envelope is JSON"));
    StatusCode::NO_CONTENT
}

async fn receiver(honest: bool) -> (String, Shared) {
    let state: Shared = Arc::default();
    let verify_route = if honest {
        get(verify)
    } else {
        get(wrong_verify)
    };
    let app = Router::new()
        .route("/hook", verify_route.post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

fn hook(url: String) -> HookConfig {
    HookConfig {
        interval: Duration::from_millis(200),
        max_batch: 3,
        duplicate_rate: 0.3,
        reorder_rate: 0.3,
        ..HookConfig::new(url, "Basic c2VjcmV0")
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn event_uuids(received: &Shared) -> Vec<String> {
    received
        .lock()
        .expect("lock")
        .envelopes
        .iter()
        .flat_map(|e| e["data"]["events"].as_array().cloned().unwrap_or_default())
        .map(|e| e["uuid"].as_str().expect("uuid").to_string())
        .collect()
}

#[tokio::test]
async fn verified_hook_gets_eligible_events_at_least_once() {
    let (url, received) = receiver(true).await;
    let anchor: chrono::DateTime<chrono::Utc> = "2024-03-05T14:00:00Z".parse().expect("time");
    let sim = SimServer::start(SimConfig {
        users: 60,
        now: Some(anchor),
        live: true,
        token: Some("t".into()),
        hook: Some(hook(url)),
        ..SimConfig::default()
    })
    .await
    .expect("start");
    // What the hook should carry: every eligible event persisted in the backfill hour.
    let since = (anchor - chrono::Duration::hours(1)).to_rfc3339();
    let polled: Vec<Value> = reqwest::Client::new()
        .get(format!("{}/api/v1/logs", sim.base_url()))
        .query(&[("since", since.as_str()), ("limit", "1000")])
        .header("Authorization", "SSWS t")
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    let expected: HashSet<String> = polled
        .iter()
        .filter(|e| is_hook_eligible(e["eventType"].as_str().expect("type")))
        .map(|e| e["uuid"].as_str().expect("uuid").to_string())
        .collect();
    assert!(expected.len() >= 5, "{} eligible events", expected.len());
    assert!(
        polled.len() > expected.len(),
        "some events are not eligible"
    );
    wait_until("backfill delivered", || {
        event_uuids(&received).iter().collect::<HashSet<_>>().len() >= expected.len()
    })
    .await;
    let got: HashSet<String> = event_uuids(&received).into_iter().collect();
    assert!(got.is_superset(&expected), "every backfill event delivered");
    // The clock runs: live events published after the anchor may come along, nothing older.
    let published = |uuid: &str| -> Option<chrono::DateTime<chrono::Utc>> {
        let received = received.lock().expect("lock");
        received
            .envelopes
            .iter()
            .flat_map(|e| e["data"]["events"].as_array().cloned().unwrap_or_default())
            .find(|e| e["uuid"] == uuid)
            .and_then(|e| e["published"].as_str()?.parse().ok())
    };
    for extra in got.difference(&expected) {
        assert!(
            published(extra).is_some_and(|p| p >= anchor),
            "{extra} is neither in the backfill hour nor live"
        );
    }
    {
        let received = received.lock().expect("lock");
        assert_eq!(received.challenges.len(), 1, "one verification");
        assert!(received
            .authorizations
            .iter()
            .all(|a| a == "Basic c2VjcmV0"));
        for envelope in &received.envelopes {
            assert_eq!(envelope["eventType"], "com.okta.event_hook");
            assert_eq!(envelope["cloudEventsVersion"], "0.1");
            assert!(envelope["eventId"].as_str().is_some());
            for event in envelope["data"]["events"].as_array().expect("events") {
                assert!(is_hook_eligible(event["eventType"].as_str().expect("type")));
            }
        }
    }
    let status = sim.hook_status().expect("hook");
    assert_eq!(status.verified, Some(true));
    assert_eq!(
        status.deliveries[0].attempts, 2,
        "the first POST got a 500 and was retried"
    );
    assert!(
        status.deliveries.iter().any(|d| d.duplicate),
        "some duplicates"
    );
    assert!(status.skipped_ineligible > 0);
    // Reordering: envelopes do not always arrive in persistence order.
    let position = |uuid: &str| polled.iter().position(|e| e["uuid"] == uuid);
    let firsts: Vec<_> = status
        .deliveries
        .iter()
        .filter(|d| !d.duplicate)
        .filter_map(|d| position(&d.uuids[0]))
        .collect();
    assert!(
        firsts.windows(2).any(|w| w[0] > w[1]),
        "some envelopes reordered"
    );
    let all = event_uuids(&received);
    assert!(all.len() > got.len(), "duplicates reach the receiver");

    // Live activity after the history reaches the hook too.
    let before = got.len();
    sim.skip_time(Duration::from_secs(1800));
    wait_until("live events delivered", || {
        event_uuids(&received).iter().collect::<HashSet<_>>().len() > before
    })
    .await;
}

#[tokio::test]
async fn unverified_hook_gets_nothing() {
    let (url, received) = receiver(false).await;
    let sim = SimServer::start(SimConfig {
        users: 30,
        now: Some("2024-03-05T14:00:00Z".parse().expect("time")),
        hook: Some(hook(url)),
        ..SimConfig::default()
    })
    .await
    .expect("start");
    wait_until("verification", || {
        sim.hook_status().and_then(|s| s.verified).is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let status = sim.hook_status().expect("hook");
    assert_eq!(status.verified, Some(false));
    assert!(status.deliveries.is_empty());
    assert_eq!(received.lock().expect("lock").posts, 0);
}
