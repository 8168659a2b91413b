//! The Event Hook receiver over real HTTP on loopback: the verification handshake, refusing a
//! wrong secret with nothing stored, storing before answering 200, merging with polled events
//! and Okta's retries by uuid, and bad input answered 400 with nothing lost.

use crate::harness::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn the_verification_handshake_echoes_the_challenge_and_refuses_a_wrong_secret() {
    let served = serve(default_options).await;
    let url = served.url(&format!("/hooks/okta/{ORG}"));
    let challenge = "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg";
    let ok = served
        .client
        .get(&url)
        .header("x-okta-verification-challenge", challenge)
        .header("authorization", SECRET)
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.expect("json");
    assert_eq!(body, serde_json::json!({ "verification": challenge }));

    let wrong = served
        .client
        .get(&url)
        .header("x-okta-verification-challenge", challenge)
        .header("authorization", "Basic d3Jvbmc=")
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.expect("text").contains(challenge));

    // Okta's docs do not promise the Authorization header on the verification GET (the
    // simulator does not send it): answered, since it only echoes the challenge.
    let no_secret = served
        .client
        .get(&url)
        .header("x-okta-verification-challenge", challenge)
        .send()
        .await
        .expect("sent");
    assert_eq!(no_secret.status(), 200);

    let no_challenge = served
        .client
        .get(&url)
        .header("authorization", SECRET)
        .send()
        .await
        .expect("sent");
    assert_eq!(no_challenge.status(), 400);
    assert!(no_challenge
        .text()
        .await
        .expect("text")
        .contains("X-Okta-Verification-Challenge"));

    let unknown = served
        .client
        .get(served.url("/hooks/okta/globex"))
        .header("x-okta-verification-challenge", challenge)
        .header("authorization", SECRET)
        .send()
        .await
        .expect("sent");
    assert_eq!(unknown.status(), 404);
    assert!(unknown
        .text()
        .await
        .expect("text")
        .contains("[server.hooks.globex]"));
    let stats = &served.receiver.stats()[ORG];
    assert_eq!(stats.requests.get("verified"), Some(&2));
    assert_eq!(stats.requests.get("unauthorized"), Some(&1));
}

#[tokio::test]
async fn a_wrong_or_missing_secret_gets_401_and_nothing_is_stored() {
    let served = serve(default_options).await;
    let events = events(1, 5);
    let body = delivery("d-1", &events);
    for auth in [
        None,
        Some("Basic d3Jvbmc="),
        Some(&SECRET[..SECRET.len() - 1]),
        Some(""),
    ] {
        let response = served.post(auth, body.clone()).await;
        assert_eq!(response.status(), 401, "{auth:?}");
    }
    assert!(served.stored(ORG).is_empty());
    assert!(
        !served.quarantine().exists(),
        "refused bodies are not even kept"
    );
    // The same body with the right secret is stored: the refusals were about the secret.
    assert_eq!(served.post(Some(SECRET), body).await.status(), 200);
    assert_eq!(served.stored(ORG).len(), 5);
}

#[tokio::test]
async fn events_are_stored_before_200_and_merge_with_polled_events_and_retries() {
    let served = serve(default_options).await;
    let events = events(2, 30);
    // The poller stored the first 20 already.
    {
        let mut store = store::Store::open(&served.db()).expect("store");
        let org = store.ensure_org(ORG).expect("org");
        let polled: Vec<okta::LogEvent> = events[..20]
            .iter()
            .map(|e| okta::LogEvent::parse(e).expect("parses"))
            .collect();
        store.commit_batch(org, &polled, "poll").expect("commit");
    }
    let body = delivery("d-7", &events[10..]);
    let response = served.post(Some(SECRET), body.clone()).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.text().await.expect("body").is_empty(),
        "Okta wants an empty body"
    );
    // Answered 200 means committed: a fresh connection sees every event now.
    let mut expected: Vec<String> = events.iter().map(|e| uuid_of(e)).collect();
    expected.sort();
    assert_eq!(served.stored(ORG), expected);

    // Okta retries the delivery: nothing new.
    assert_eq!(served.post(Some(SECRET), body).await.status(), 200);
    assert_eq!(served.stored(ORG), expected);
    let stats = &served.receiver.stats()[ORG];
    assert_eq!(stats.events_received, 40);
    assert_eq!(stats.events_stored, 10);
    assert_eq!(stats.duplicates, 30, "10 polled first + 20 on the retry");
    assert_eq!(stats.requests.get("stored"), Some(&2));

    // The stored text is the delivered text, byte for byte, and the chain verifies.
    let mut store = store::Store::open(&served.db()).expect("store");
    let org = store.org(ORG).expect("org");
    let stored = store.read_after(org, 0, usize::MAX).expect("read");
    for event in &stored {
        assert!(events.iter().any(|e| e == event.event.raw()));
    }
    assert!(store.verify(None, None).expect("verify").is_intact());
}

#[tokio::test]
async fn concurrent_deliveries_of_overlapping_events_store_their_union_once() {
    let served = serve(default_options).await;
    let events = events(3, 200);
    let mut tasks = Vec::new();
    for i in 0..20 {
        // Delivery i carries events [10 i, 10 i + 30): each overlaps the next two.
        let slice: Vec<String> = events[(10 * i)..(10 * i + 30).min(events.len())].to_vec();
        let body = delivery(&format!("d-{i}"), &slice);
        let client = served.client.clone();
        let url = served.url(&format!("/hooks/okta/{ORG}"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("authorization", SECRET)
                .body(body)
                .send()
                .await
                .expect("sent")
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), 200);
    }
    let mut expected: Vec<String> = events.iter().map(|e| uuid_of(e)).collect();
    expected.sort();
    assert_eq!(served.stored(ORG), expected);
    let stats = &served.receiver.stats()[ORG];
    assert_eq!(stats.events_stored, 200);
    assert_eq!(
        stats.events_stored + stats.duplicates,
        stats.events_received
    );
}

#[tokio::test]
async fn a_malformed_body_gets_400_naming_the_problem_and_nothing_is_lost() {
    let served = serve(default_options).await;
    let events = events(4, 6);
    assert_eq!(
        served
            .post(Some(SECRET), delivery("d-1", &events[..2]))
            .await
            .status(),
        200
    );

    // Not JSON at all.
    let truncated = delivery("d-2", &events[2..4]);
    let truncated = &truncated[..truncated.len() - 7];
    let response = served.post(Some(SECRET), truncated.to_string()).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    let message = body["error"].as_str().expect("error");
    assert!(
        message.starts_with("the body is not JSON (line 1, column"),
        "{message}"
    );
    assert_eq!(body["kept"], true);

    // JSON, not a delivery.
    let response = served.post(Some(SECRET), r#"{"data":{"event":[]}}"#).await;
    assert_eq!(response.status(), 400);
    let text = response.text().await.expect("text");
    assert!(text.contains("field `data.events` is missing"), "{text}");

    // A delivery with one unusable event among good ones: the good ones are stored.
    let mut bad = serde_json::from_str::<serde_json::Value>(&events[5]).expect("json");
    bad["published"] = serde_json::json!("last tuesday");
    let mixed = vec![events[3].clone(), bad.to_string(), events[4].clone()];
    let mixed_body = delivery("d-3", &mixed);
    let response = served.post(Some(SECRET), mixed_body.clone()).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["stored"], 2);
    assert_eq!(
        body["rejected"][0],
        "data.events[1]: field `published`: expected an RFC 3339 time, got `last tuesday`"
    );

    // What was stored before is intact, the good events of the mixed delivery are stored, and
    // every refused body is kept as sent.
    let mut expected: Vec<String> = [&events[0], &events[1], &events[3], &events[4]]
        .iter()
        .map(|e| uuid_of(e))
        .collect();
    expected.sort();
    assert_eq!(served.stored(ORG), expected);
    let dir = served.quarantine().join(ORG);
    let mut kept: Vec<String> = std::fs::read_dir(&dir)
        .expect("quarantine dir")
        .map(|f| std::fs::read_to_string(f.expect("entry").path()).expect("read"))
        .collect();
    kept.sort();
    let mut sent = vec![
        truncated.to_string(),
        r#"{"data":{"event":[]}}"#.to_string(),
        mixed_body,
    ];
    sent.sort();
    assert_eq!(kept, sent);
    let stats = &served.receiver.stats()[ORG];
    assert_eq!(stats.requests.get("malformed"), Some(&2));
    assert_eq!(stats.requests.get("partial"), Some(&1));
    assert_eq!(stats.events_rejected, 1);
    assert!(stats
        .last_error
        .as_ref()
        .is_some_and(|(e, _)| e.contains("data.events[1]")));
}

#[tokio::test]
async fn an_oversized_delivery_gets_413_and_nothing_is_stored() {
    let served = serve(|dir| server::HookOptions {
        max_body_bytes: 4096,
        ..default_options(dir)
    })
    .await;
    let events = events(5, 40);
    let body = delivery("d-1", &events);
    assert!(body.len() > 4096);
    let response = served.post(Some(SECRET), body).await;
    assert_eq!(response.status(), 413);
    // Without a Content-Length (chunked), the limit holds while reading.
    let body = delivery("d-2", &events);
    let mut chunked = String::new();
    for chunk in body.as_bytes().chunks(1000) {
        chunked.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            String::from_utf8_lossy(chunk)
        ));
    }
    chunked.push_str("0\r\n\r\n");
    let head = format!(
        "POST /hooks/okta/{ORG} HTTP/1.1\r\nhost: x\r\nauthorization: {SECRET}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let answer = raw_request(served.addr, &head, chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(served.stored(ORG).is_empty());
    assert_eq!(
        served.receiver.stats()[ORG].requests.get("too_large"),
        Some(&2)
    );
}

/// Writes `head` and `body` on a fresh connection and reads the answer's status line and
/// headers (or whatever came before the connection closed), within 5 s.
async fn raw_request(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    socket.write_all(head.as_bytes()).await.expect("write");
    // The server may answer and close before reading everything; that is fine.
    let _ = socket.write_all(body).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        while let Ok(n) = socket.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer at all");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_delivery_that_trickles_in_is_answered_before_the_deadline_with_nothing_stored() {
    let served = serve(|dir| server::HookOptions {
        deadline: Duration::from_millis(300),
        ..default_options(dir)
    })
    .await;
    let body = delivery("d-1", &events(6, 3));
    let head = format!(
        "POST /hooks/okta/{ORG} HTTP/1.1\r\nhost: x\r\nauthorization: {SECRET}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // Only the first 10 bytes of the body are ever sent; the receiver must answer on its own.
    let answer = raw_request(served.addr, &head, &body.as_bytes()[..10]).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(served.stored(ORG).is_empty());
}
