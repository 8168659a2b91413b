//! `GET /api/v1/logs` against the running simulator with a real HTTP client: polling and
//! bounded pagination, `Link` headers, every 400 of reference §1.7, auth failures, filters.

use chrono::{DateTime, Duration, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;
use sim::api::{SimConfig, SimServer};
use std::collections::HashSet;

/// A simulator at [`sim::busy_tuesday`] (the same weekday-busy history on any day the tests
/// run), its clock moved past the persistence jitter of the last events before the anchor, so
/// `visible_uuids` does not change under a test.
async fn server(users: usize) -> SimServer {
    let sim = SimServer::start(SimConfig {
        users,
        days: 1,
        seed: 11,
        token: Some("test-token".into()),
        logs_rate_limit: 100_000,
        now: Some(sim::busy_tuesday()),
        ..SimConfig::default()
    })
    .await
    .expect("server starts");
    sim.skip_time(std::time::Duration::from_secs(2));
    sim
}

fn links(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all("link")
        .iter()
        .map(|v| {
            let text = v.to_str().expect("ascii link");
            let (url, rel) = text.split_once(">; rel=\"").expect("link shape");
            (
                rel.trim_end_matches('"').to_string(),
                url.trim_start_matches('<').to_string(),
            )
        })
        .collect()
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    links(headers)
        .into_iter()
        .find(|(rel, _)| rel == "next")
        .map(|(_, url)| url)
}

async fn get(client: &reqwest::Client, token: &str, url: &str) -> (u16, HeaderMap, Value) {
    let response = client
        .get(url)
        .header("Authorization", format!("SSWS {token}"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body: Value = response.json().await.expect("json body");
    (status, headers, body)
}

fn uuids(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("array")
        .iter()
        .map(|e| e["uuid"].as_str().expect("uuid").to_string())
        .collect()
}

fn published(event: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(event["published"].as_str().expect("published"))
        .expect("rfc3339")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn polling_follows_next_through_every_event_and_keeps_next_on_empty_pages() {
    let sim = server(20).await;
    let client = reqwest::Client::new();
    let since = (sim.anchor() - Duration::days(2)).to_rfc3339();
    let mut url = format!(
        "{}/api/v1/logs?since={}&limit=100",
        sim.base_url(),
        urlencode(&since)
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut out_of_published_order = false;
    loop {
        let (status, headers, body) = get(&client, sim.token(), &url).await;
        assert_eq!(status, 200, "{body}");
        let link = links(&headers);
        assert_eq!(link.len(), 2, "self and next as two headers: {link:?}");
        assert_eq!(link[0].0, "self");
        assert!(link[0].1.ends_with(&url[sim.base_url().len()..]));
        let events = body.as_array().expect("array");
        out_of_published_order |= events
            .windows(2)
            .any(|w| published(&w[0]) > published(&w[1]));
        seen.extend(uuids(&body));
        pages += 1;
        url = next_link(&headers).expect("polling always has next");
        if events.is_empty() {
            break;
        }
    }
    assert!(pages >= 3, "several pages: {pages}");
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert_eq!(
        seen,
        sim.visible_uuids(),
        "every event, in persistence order"
    );
    assert!(
        out_of_published_order,
        "persistence order is not published order"
    );
    // The empty page's next is still usable and still empty.
    let (status, headers, body) = get(&client, sim.token(), &url).await;
    assert_eq!(status, 200);
    assert_eq!(body, Value::Array(vec![]));
    assert!(next_link(&headers).is_some());
}

#[tokio::test]
async fn bounded_requests_are_published_ordered_and_end_without_next() {
    let sim = server(20).await;
    let client = reqwest::Client::new();
    let since = sim.anchor() - Duration::hours(12);
    let until = sim.anchor() - Duration::hours(2);
    let mut per_order = Vec::new();
    for order in ["ASCENDING", "DESCENDING"] {
        let mut url = format!(
            "{}/api/v1/logs?since={}&until={}&limit=50&sortOrder={order}",
            sim.base_url(),
            urlencode(&since.to_rfc3339()),
            urlencode(&until.to_rfc3339())
        );
        let mut all: Vec<Value> = Vec::new();
        let mut pages = 0;
        loop {
            let (status, headers, body) = get(&client, sim.token(), &url).await;
            assert_eq!(status, 200, "{body}");
            pages += 1;
            all.extend(body.as_array().expect("array").iter().cloned());
            match next_link(&headers) {
                Some(next) => {
                    assert!(next.contains("until="), "next repeats until: {next}");
                    assert!(next.contains(&format!("sortOrder={order}")));
                    url = next;
                }
                None => break,
            }
        }
        assert!(pages >= 2, "{order}: {pages} pages");
        let times: Vec<_> = all.iter().map(published).collect();
        let outside: Vec<_> = times
            .iter()
            .filter(|t| **t < since || **t >= until)
            .collect();
        assert!(
            outside.is_empty(),
            "{order}: outside [{since}, {until}): {outside:?}"
        );
        if order == "ASCENDING" {
            assert!(times.windows(2).all(|w| w[0] <= w[1]));
        } else {
            assert!(times.windows(2).all(|w| w[0] >= w[1]));
        }
        let unique: HashSet<_> = all.iter().map(|e| e["uuid"].to_string()).collect();
        assert_eq!(unique.len(), all.len());
        per_order.push(
            all.iter()
                .map(|e| e["uuid"].to_string())
                .collect::<Vec<_>>(),
        );
    }
    let mut descending = per_order.pop().expect("descending");
    descending.reverse();
    assert_eq!(per_order.pop().expect("ascending"), descending);
}

#[tokio::test]
async fn filter_and_q_select_events() {
    let sim = server(20).await;
    let client = reqwest::Client::new();
    let since = urlencode(&(sim.anchor() - Duration::days(2)).to_rfc3339());
    let until = urlencode(&sim.anchor().to_rfc3339());
    let filter = urlencode(r#"eventType eq "user.session.start" and outcome.result eq "FAILURE""#);
    let url = format!(
        "{}/api/v1/logs?since={since}&until={until}&limit=1000&filter={filter}",
        sim.base_url()
    );
    let (status, _, body) = get(&client, sim.token(), &url).await;
    assert_eq!(status, 200, "{body}");
    let events = body.as_array().expect("array");
    assert!(events
        .iter()
        .all(|e| e["eventType"] == "user.session.start" && e["outcome"]["result"] == "FAILURE"));
    let url = format!(
        "{}/api/v1/logs?since={since}&until={until}&limit=1000&filter={}",
        sim.base_url(),
        urlencode(r#"eventType eq "user.session.start""#)
    );
    let (_, _, all_starts) = get(&client, sim.token(), &url).await;
    let all_starts = all_starts.as_array().expect("array").len();
    assert!(all_starts > events.len(), "the outcome clause narrows");
    let url = format!(
        "{}/api/v1/logs?since={since}&until={until}&limit=1000&q=user.session.start",
        sim.base_url()
    );
    let (status, _, body) = get(&client, sim.token(), &url).await;
    assert_eq!(status, 200);
    assert!(!body.as_array().expect("array").is_empty());
    assert!(body
        .as_array()
        .expect("array")
        .iter()
        .all(|e| e.to_string().to_lowercase().contains("user.session.start")));
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn each_documented_400_has_okta_error_body() {
    let sim = server(5).await;
    let client = reqwest::Client::new();
    let old = urlencode(&(sim.now() - Duration::days(181)).to_rfc3339());
    let long_q = "a".repeat(41);
    let recent = urlencode(&(sim.now() - Duration::hours(1)).to_rfc3339());
    let cases = [
        ("until=yesterday", "E0000001"),
        ("since=2024-13-45T00:00:00Z", "E0000001"),
        (&format!("q={long_q}") as &str, "E0000001"),
        (&format!("since={old}"), "E0000053"),
        ("filter=eventType%20zz%20%22x%22", "E0000053"),
        (
            "filter=published%20gt%20%222024-01-01T00:00:00Z%22",
            "E0000053",
        ),
        (
            "filter=debugContext.debugData.url%20co%20%22/api%22",
            "E0000031",
        ),
        (&format!("since={recent}&after=1_1"), "E0000001"),
        ("limit=1001", "E0000001"),
        ("limit=ten", "E0000001"),
        ("sortOrder=UP", "E0000001"),
        ("after=garbage", "E0000001"),
    ];
    for (query, code) in cases {
        let url = format!("{}/api/v1/logs?{query}", sim.base_url());
        let (status, headers, body) = get(&client, sim.token(), &url).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["errorCode"], code, "{query}: {body}");
        assert_eq!(body["errorLink"], code);
        assert!(body["errorSummary"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(body["errorId"]
            .as_str()
            .is_some_and(|s| s.starts_with("oae")));
        assert!(body["errorCauses"].is_array());
        assert!(headers.contains_key("x-okta-request-id"));
        assert!(headers.contains_key("x-rate-limit-remaining"));
    }
}

#[tokio::test]
async fn wrong_or_missing_token_is_401_e0000011() {
    let sim = server(5).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/logs", sim.base_url());
    for auth in [
        None,
        Some("SSWS wrong"),
        Some("Bearer test-token"),
        Some("test-token"),
    ] {
        let mut request = client.get(&url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status().as_u16(), 401, "{auth:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["errorCode"], "E0000011");
    }
    let (status, _, _) = get(&client, "test-token", &url).await;
    assert_eq!(status, 200);
}
