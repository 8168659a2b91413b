//! Helpers: a simulator, an SSWS client for it, a store, and the stored uuid set.

pub use collect::{ClientConfig, Credentials, OktaClient, PollerConfig, RateConfig, Secret};
use sim::api::{SimConfig, SimServer};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;
use store::Store;

/// A simulator whose clock starts at [`sim::busy_tuesday`] unless `config` sets one, so the
/// history (and every count a test takes of it) is the same on any day the tests run.
pub async fn sim(config: SimConfig) -> SimServer {
    let config = SimConfig {
        now: config.now.or(Some(sim::busy_tuesday())),
        ..config
    };
    SimServer::start(config).await.expect("simulator starts")
}

pub fn client_config(share: f64) -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(10),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(500),
        max_attempts: 6,
        rate: RateConfig {
            share,
            max_jitter: Duration::from_millis(200),
            ..RateConfig::default()
        },
        ..ClientConfig::default()
    }
}

pub fn ssws_client(sim: &SimServer, config: ClientConfig) -> OktaClient {
    OktaClient::new(
        &sim.base_url(),
        Credentials::Ssws(Secret::new(sim.token())),
        config,
    )
    .expect("client")
}

/// A `once` poller that backfills `days` (and an hour) before [`sim::busy_tuesday`].
pub fn poller_config(days: i64) -> PollerConfig {
    PollerConfig {
        poll_interval: Duration::from_millis(200),
        since: Some(
            sim::busy_tuesday() - chrono::Duration::days(days) - chrono::Duration::hours(1),
        ),
        once: true,
        error_backoff_max: Duration::from_millis(300),
        ..PollerConfig::default()
    }
}

/// Every uuid stored for `org`, in insertion order (duplicates would show twice).
pub fn stored_uuids(path: &Path, org: &str) -> Vec<String> {
    let store = Store::open_read_only(path).expect("store opens");
    let Some(org) = store.find_org(org).expect("org lookup") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let batch = store.read_after(org, after, 10_000).expect("read_after");
        let Some(last) = batch.last() else { break };
        after = last.seq;
        out.extend(batch.iter().map(|e| e.event.uuid().to_string()));
    }
    out
}

/// Asserts the store holds exactly the simulator's events: none lost, none twice.
pub fn assert_exactly(stored: &[String], expected: &[String]) {
    let stored_set: HashSet<&String> = stored.iter().collect();
    let expected_set: HashSet<&String> = expected.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "duplicates stored");
    let lost: Vec<_> = expected_set.difference(&stored_set).take(5).collect();
    let extra: Vec<_> = stored_set.difference(&expected_set).take(5).collect();
    assert!(
        lost.is_empty() && extra.is_empty(),
        "{} lost (e.g. {lost:?}), {} not in the org (e.g. {extra:?}); {} stored, {} expected",
        expected_set.difference(&stored_set).count(),
        stored_set.difference(&expected_set).count(),
        stored.len(),
        expected.len()
    );
}

/// Asserts `stored` has no duplicates, holds every event of `lower` and nothing outside
/// `upper` (for a live org that keeps publishing while the test reads it).
pub fn assert_between(stored: &[String], lower: &[String], upper: &[String]) {
    let stored_set: HashSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "duplicates stored");
    let lost: Vec<_> = lower.iter().filter(|u| !stored_set.contains(u)).collect();
    assert!(
        lost.is_empty(),
        "{} lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let upper_set: HashSet<&String> = upper.iter().collect();
    let extra: Vec<_> = stored.iter().filter(|u| !upper_set.contains(u)).collect();
    assert!(
        extra.is_empty(),
        "{} not in the org, e.g. {:?}",
        extra.len(),
        &extra[..extra.len().min(5)]
    );
}
