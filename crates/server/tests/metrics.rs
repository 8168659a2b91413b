//! `/metrics` and `/healthz` over real HTTP: the token is required, and every figure matches
//! what was done to the store (polled pages with collector counters, hook deliveries with
//! duplicates, raised alerts and a delivered notification).

use crate::harness::*;
use std::collections::BTreeMap;
use store::alerts::{AlertRoute, AlertRouting, AttemptOutcome, AttemptRecord, NewAlert};
use store::sources::{CollectorCounters, PageCommit};

/// Parses the text exposition strictly: every sample's family has HELP and TYPE lines first,
/// every line is a comment or `name{labels} value`. Returns sample text (name and labels) →
/// value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut families = std::collections::HashSet::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().expect("family name");
            let kind = parts.next().expect("family type");
            assert!(["gauge", "counter", "summary"].contains(&kind), "{line}");
            families.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let name = series.split('{').next().expect("name");
        let family = name
            .strip_suffix("_sum")
            .or_else(|| name.strip_suffix("_count"))
            .filter(|f| families.contains(*f))
            .unwrap_or(name);
        assert!(families.contains(family), "sample before its TYPE: {line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let value: f64 = value.parse().expect("numeric value");
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "duplicate series {series}"
        );
    }
    samples
}

#[tokio::test]
async fn metrics_need_the_token_and_report_what_the_store_holds() {
    let served = serve(default_options).await;
    let events = events(11, 40);
    let parsed: Vec<okta::LogEvent> = events
        .iter()
        .map(|e| okta::LogEvent::parse(e).expect("parses"))
        .collect();
    // The poller stored two pages (30 events), with 3 429s and one retry along the way.
    {
        let mut store = store::Store::open(&served.db()).expect("store");
        let org = store.ensure_org(ORG).expect("org");
        let counters = CollectorCounters {
            requests: 5,
            rate_limited: 3,
            retries: 1,
            errors: 0,
        };
        store
            .commit_page(
                org,
                &parsed[..20],
                &PageCommit {
                    next_url: "https://acme.okta.com/api/v1/logs?after=1",
                    counters,
                    caught_up: false,
                },
            )
            .expect("page");
        store
            .commit_page(
                org,
                &parsed[15..30],
                &PageCommit {
                    next_url: "https://acme.okta.com/api/v1/logs?after=2",
                    counters: CollectorCounters::default(),
                    caught_up: true,
                },
            )
            .expect("page");
        store
            .record_collector_error(
                org,
                "GET /api/v1/logs: 503 \"Service Unavailable\"",
                CollectorCounters::default(),
            )
            .expect("error");
    }
    // Okta hooked 15 events, 5 of them already polled.
    assert_eq!(
        served
            .post(Some(SECRET), delivery("d-1", &events[25..]))
            .await
            .status(),
        200
    );
    // Two alerts, one routed to a sink and delivered, one still pending.
    {
        let mut store = store::Store::open(&served.db()).expect("store");
        let org = store.org(ORG).expect("org");
        let routing = AlertRouting {
            routes: vec![AlertRoute {
                sink: "soar".into(),
                orgs: vec![],
                min_level: store::alerts::AlertLevel::Low,
            }],
            ..AlertRouting::default()
        };
        for n in 0..2 {
            let sample = notify::sample::sample_alert();
            let mut group_key = sample.group_key.clone();
            group_key.insert("n".into(), serde_json::json!(n));
            store
                .raise(
                    &NewAlert {
                        org,
                        rule_id: sample.rule_id.clone(),
                        title: sample.title.clone(),
                        level: sample.level,
                        group_key,
                        first_seen: sample.first_seen,
                        last_seen: sample.last_seen,
                        event_uuids: vec![format!("e-{n}")],
                        context: sample.context.clone(),
                    },
                    &routing,
                    chrono::Utc::now(),
                )
                .expect("raise");
        }
        let due = store
            .claim_due_deliveries(chrono::Utc::now(), std::time::Duration::from_secs(10), 1)
            .expect("claim");
        store
            .record_attempt(
                due[0].entry.id,
                &AttemptRecord {
                    at: chrono::Utc::now(),
                    outcome: AttemptOutcome::Delivered,
                    status: Some(200),
                    error: None,
                    duration: std::time::Duration::from_millis(5),
                },
            )
            .expect("record");
    }

    let url = served.url("/metrics");
    let none = served.client.get(&url).send().await.expect("sent");
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"idwatch metrics\""
    );
    let wrong = served
        .client
        .get(&url)
        .bearer_auth("metrics-token-4b1e")
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.expect("text").contains("idwatch_"));

    let ok = served
        .client
        .get(&url)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], server::metrics::CONTENT_TYPE);
    let text = ok.text().await.expect("text");
    let m = parse(&text);
    let get = |series: &str| -> f64 {
        *m.get(series)
            .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
    };
    assert_eq!(
        get(r#"idwatch_events_stored{org="acme",source="poll"}"#),
        30.0
    );
    assert_eq!(
        get(r#"idwatch_events_stored{org="acme",source="hook"}"#),
        10.0
    );
    assert_eq!(get(r#"idwatch_events_per_minute{org="acme"}"#), 40.0);
    assert_eq!(
        get(r#"idwatch_duplicates_dropped_total{org="acme",source="poll"}"#),
        5.0
    );
    assert_eq!(
        get(r#"idwatch_duplicates_dropped_total{org="acme",source="hook"}"#),
        5.0
    );
    assert_eq!(
        get(r#"idwatch_collector_rate_limited_total{org="acme"}"#),
        3.0
    );
    assert_eq!(get(r#"idwatch_collector_requests_total{org="acme"}"#), 5.0);
    assert_eq!(get(r#"idwatch_collector_retries_total{org="acme"}"#), 1.0);
    assert_eq!(
        get(r#"idwatch_hook_requests_total{org="acme",result="stored"}"#),
        1.0
    );
    assert_eq!(
        get(r#"idwatch_hook_events_received_total{org="acme"}"#),
        15.0
    );
    assert_eq!(get(r#"idwatch_hook_answer_seconds_count{org="acme"}"#), 1.0);
    assert_eq!(get(r#"idwatch_alerts_raised_total{org="acme"}"#), 2.0);
    assert_eq!(
        get(r#"idwatch_alerts_delivered_total{org="acme",sink="soar"}"#),
        1.0
    );
    assert_eq!(
        get(r#"idwatch_alert_deliveries{org="acme",sink="soar",state="pending"}"#),
        1.0
    );
    assert_eq!(
        get(r#"idwatch_detection_backlog_events{org="acme"}"#),
        40.0,
        "no detector ran"
    );
    assert_eq!(
        get(
            r#"idwatch_last_error_info{org="acme",component="collect",error="GET /api/v1/logs: 503 \"Service Unavailable\""}"#
        ),
        1.0
    );
    // Ages: the cursor was committed moments ago; the newest event is from the generator's
    // calendar (2026-03-02), so the lag is that far behind the clock.
    let cursor_age = get(r#"idwatch_cursor_age_seconds{org="acme"}"#);
    assert!((0.0..60.0).contains(&cursor_age), "{cursor_age}");
    let newest = parsed
        .iter()
        .map(okta::LogEvent::published_micros)
        .max()
        .expect("events");
    let expected_lag = (chrono::Utc::now().timestamp_micros() - newest) as f64 / 1e6;
    let lag = get(r#"idwatch_lag_seconds{org="acme"}"#);
    assert!((lag - expected_lag).abs() < 60.0, "{lag} vs {expected_lag}");
    assert!(!text.contains(SECRET) && !text.contains(METRICS_TOKEN));
}

#[tokio::test]
async fn healthz_answers_without_a_token_and_says_nothing_else() {
    let served = serve(default_options).await;
    assert_eq!(
        served
            .post(Some(SECRET), delivery("d-1", &events(12, 3)))
            .await
            .status(),
        200
    );
    let response = served
        .client
        .get(served.url("/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("text"), "ok\n");
    let unknown = served
        .client
        .get(served.url("/api/v1/anything"))
        .send()
        .await
        .expect("sent");
    assert_eq!(unknown.status(), 404);
}
