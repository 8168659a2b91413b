//! Rate limits, concurrency, faults, late events, retention and live activity of the running
//! simulator, seen through a real HTTP client.

use chrono::{DateTime, Duration, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;
use sim::api::{SimConfig, SimServer};
use std::collections::HashSet;
use std::time::Duration as StdDuration;

const TOKEN: &str = "limits-token";

fn config() -> SimConfig {
    SimConfig {
        users: 10,
        days: 1,
        seed: 5,
        token: Some(TOKEN.into()),
        ..SimConfig::default()
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn header_u64(headers: &HeaderMap, name: &str) -> u64 {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} present"))
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number")
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    headers.get_all("link").iter().find_map(|v| {
        let text = v.to_str().ok()?;
        let (url, rel) = text.split_once(">; rel=\"")?;
        (rel == "next\"").then(|| url.trim_start_matches('<').to_string())
    })
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    client
        .get(url)
        .header("Authorization", format!("SSWS {TOKEN}"))
        .send()
        .await
}

fn published(event: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(event["published"].as_str().expect("published"))
        .expect("rfc3339")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn headers_count_down_then_429_e0000047_and_buckets_are_separate() {
    let sim = SimServer::start(SimConfig {
        logs_rate_limit: 5,
        ..config()
    })
    .await
    .expect("start");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/logs?limit=1", sim.base_url());
    let mut resets = HashSet::new();
    for expected_remaining in (0..5).rev() {
        let response = get(&client, &url).await.expect("request");
        assert_eq!(response.status().as_u16(), 200);
        let headers = response.headers();
        assert_eq!(header_u64(headers, "x-rate-limit-limit"), 5);
        assert_eq!(
            header_u64(headers, "x-rate-limit-remaining"),
            expected_remaining
        );
        let reset = header_u64(headers, "x-rate-limit-reset");
        let now = Utc::now().timestamp() as u64;
        assert!(reset > now && reset <= now + 61, "reset {reset} now {now}");
        resets.insert(reset);
        assert!(headers
            .get("x-okta-request-id")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|id| id.starts_with("req") && id.len() > 20));
    }
    assert_eq!(resets.len(), 1, "one window");
    let response = get(&client, &url).await.expect("request");
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(header_u64(response.headers(), "x-rate-limit-remaining"), 0);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000047");
    assert_eq!(
        body["errorSummary"],
        "API call exceeded rate limit due to too many requests."
    );
    // A 401 also carries the headers; another bucket has its own window.
    let other = client
        .get(format!("{}/api/v1/users", sim.base_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(other.status().as_u16(), 401);
    assert_eq!(header_u64(other.headers(), "x-rate-limit-limit"), 600);
    assert_eq!(header_u64(other.headers(), "x-rate-limit-remaining"), 599);

    let accounting = sim.accounting();
    assert_eq!(accounting.bucket("/api/v1/logs").count(), 6);
    assert_eq!(accounting.count_status("/api/v1/logs", 429), 1);
    assert_eq!(accounting.count_status("/api/v1/logs", 200), 5);
    assert_eq!(
        accounting.max_in_window("/api/v1/logs", StdDuration::from_secs(60)),
        6
    );
    let ids: HashSet<_> = accounting.records.iter().map(|r| &r.request_id).collect();
    assert_eq!(
        ids.len(),
        accounting.records.len(),
        "request ids are unique"
    );
}

#[tokio::test]
async fn concurrency_cap_answers_429_with_zero_limit() {
    let sim = SimServer::start(SimConfig {
        concurrency_limit: 2,
        latency: StdDuration::from_millis(600),
        ..config()
    })
    .await
    .expect("start");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/logs?limit=1", sim.base_url());
    let requests = (0..6).map(|_| {
        let client = client.clone();
        let url = url.clone();
        async move { get(&client, &url).await.expect("request") }
    });
    let responses = futures_join_all(requests).await;
    let mut ok = 0;
    let mut refused = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => ok += 1,
            429 => {
                assert_eq!(header_u64(response.headers(), "x-rate-limit-limit"), 0);
                assert_eq!(header_u64(response.headers(), "x-rate-limit-remaining"), 0);
                refused += 1;
            }
            other => panic!("status {other}"),
        }
    }
    assert!(ok >= 2 && refused >= 1, "ok {ok} refused {refused}");
}

/// Joins futures without a futures crate: spawn each on the runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn seeded_faults_include_every_kind() {
    let sim = SimServer::start(SimConfig {
        faults: 0.6,
        logs_rate_limit: 100_000,
        ..config()
    })
    .await
    .expect("start");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/logs?limit=20", sim.base_url());
    let mut transport_errors = 0;
    let mut statuses = HashSet::new();
    let started = std::time::Instant::now();
    while started.elapsed() < StdDuration::from_secs(25) {
        match get(&client, &url).await {
            Err(_) => transport_errors += 1,
            Ok(response) => {
                let status = response.status().as_u16();
                statuses.insert(status);
                if status == 429 {
                    tokio::time::sleep(StdDuration::from_millis(100)).await;
                }
                if response.bytes().await.is_err() {
                    transport_errors += 1;
                }
            }
        }
        let kinds: HashSet<_> = sim
            .accounting()
            .records
            .iter()
            .filter_map(|r| r.fault.clone())
            .collect();
        if kinds.len() == 6 {
            break;
        }
    }
    let kinds: HashSet<_> = sim
        .accounting()
        .records
        .iter()
        .filter_map(|r| r.fault.clone())
        .collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    for status in [200, 429, 500, 503] {
        assert!(statuses.contains(&status), "{status} in {statuses:?}");
    }
    assert!(
        transport_errors >= 2,
        "resets and truncations: {transport_errors}"
    );
}

#[tokio::test]
async fn late_events_reach_polling_after_newer_ones_and_bounded_misses_them_first() {
    // A busy Tuesday afternoon, so the last hour of history has events to be late.
    let sim = SimServer::start(SimConfig {
        users: 50,
        now: Some("2024-03-05T14:00:00Z".parse().expect("time")),
        late: StdDuration::from_secs(3600),
        late_fraction: 0.3,
        ..config()
    })
    .await
    .expect("start");
    let client = reqwest::Client::new();
    let since = urlencode(&(sim.anchor() - Duration::days(2)).to_rfc3339());
    let until = urlencode(&(sim.anchor() + Duration::seconds(1)).to_rfc3339());
    let bounded = format!(
        "{}/api/v1/logs?since={since}&until={until}&limit=1000",
        sim.base_url()
    );
    let mut url = format!("{}/api/v1/logs?since={since}&limit=1000", sim.base_url());
    let mut seen = Vec::new();
    let mut newest = None;
    loop {
        let response = get(&client, &url).await.expect("request");
        url = next_link(response.headers()).expect("next");
        let events: Vec<Value> = response.json().await.expect("json");
        if events.is_empty() {
            break;
        }
        for event in &events {
            newest = newest.max(Some(published(event)));
            seen.push(event["uuid"].as_str().expect("uuid").to_string());
        }
    }
    let held = sim.event_uuids();
    let missing = held.len() - seen.len();
    assert!(missing > 0, "some events are still late");
    let first_bounded: Vec<Value> = get(&client, &bounded)
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(
        first_bounded.len() < held.len(),
        "bounded misses late events"
    );

    sim.skip_time(StdDuration::from_secs(3602));
    let response = get(&client, &url).await.expect("request");
    let late: Vec<Value> = response.json().await.expect("json");
    assert_eq!(late.len(), missing, "all late events on the next poll");
    let newest = newest.expect("events");
    assert!(
        late.iter().any(|e| published(e) < newest),
        "late events are older than events already seen"
    );
    seen.extend(
        late.iter()
            .map(|e| e["uuid"].as_str().expect("uuid").to_string()),
    );
    let seen: HashSet<_> = seen.into_iter().collect();
    let held: HashSet<_> = held.into_iter().collect();
    assert_eq!(seen, held);
}

#[tokio::test]
async fn events_past_90_days_are_never_returned() {
    let sim = SimServer::start(SimConfig {
        users: 3,
        days: 93,
        ..config()
    })
    .await
    .expect("start");
    let client = reqwest::Client::new();
    let floor = sim.now() - Duration::days(90);
    let since = urlencode(&(sim.now() - Duration::days(179)).to_rfc3339());
    let until = urlencode(&(sim.now() - Duration::days(88)).to_rfc3339());
    let bounded: Vec<Value> = get(
        &client,
        &format!(
            "{}/api/v1/logs?since={since}&until={until}&limit=1000",
            sim.base_url()
        ),
    )
    .await
    .expect("request")
    .json()
    .await
    .expect("json");
    assert!(!bounded.is_empty());
    assert!(bounded
        .iter()
        .all(|e| published(e) >= floor - Duration::seconds(5)));
    let polled: Vec<Value> = get(
        &client,
        &format!("{}/api/v1/logs?since={since}&limit=50", sim.base_url()),
    )
    .await
    .expect("request")
    .json()
    .await
    .expect("json");
    assert!(!polled.is_empty());
    assert!(polled
        .iter()
        .all(|e| published(e) >= floor - Duration::seconds(5)));
    assert!(
        sim.event_uuids().len() > bounded.len(),
        "older events exist"
    );
}

#[tokio::test]
async fn live_activity_continues_after_the_history() {
    let anchor: DateTime<Utc> = "2024-03-05T14:00:00Z".parse().expect("time");
    let sim = SimServer::start(SimConfig {
        users: 50,
        now: Some(anchor),
        live: true,
        ..config()
    })
    .await
    .expect("start");
    let client = reqwest::Client::new();
    let since = urlencode(&(anchor - Duration::minutes(1)).to_rfc3339());
    let first = get(
        &client,
        &format!("{}/api/v1/logs?since={since}&limit=1000", sim.base_url()),
    )
    .await
    .expect("request");
    let next = next_link(first.headers()).expect("next");
    let before = sim.event_uuids().len();
    sim.skip_time(StdDuration::from_secs(3600));
    let fresh: Vec<Value> = get(&client, &next)
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(!fresh.is_empty(), "an hour of live activity");
    assert!(fresh.iter().all(|e| published(e) >= anchor));
    assert!(fresh.iter().all(|e| published(e) <= sim.now()));
    assert!(sim.event_uuids().len() >= before + fresh.len());
}
