//! Generator tests: every event parses, uuids are unique, time never goes back, output is
//! byte-identical for a config and differs across seeds, field sets cover the real samples', a
//! session keeps one client, injected events merge in order, and the activity has a weekly and
//! daily rhythm.

use super::*;
use chrono::{Datelike, Timelike};
use std::collections::{BTreeSet, HashMap, HashSet};

fn config(seed: u64, users: usize) -> OrgConfig {
    OrgConfig {
        seed,
        users,
        ..OrgConfig::default()
    }
}

fn parse(g: &GeneratedEvent) -> okta::LogEvent {
    okta::LogEvent::parse(&g.json).unwrap_or_else(|err| panic!("{err}: {}", g.json))
}

#[test]
fn every_event_parses_is_unique_and_in_order() {
    let mut uuids = HashSet::new();
    let mut last = None;
    for g in Generator::from_config(&config(1, 500)).take(200_000) {
        let e = parse(&g);
        assert_eq!(e.uuid().0, g.uuid);
        assert_eq!(e.published(), g.published);
        assert!(!e.event_type().is_empty());
        assert!(uuids.insert(e.uuid().key()), "duplicate uuid {}", g.uuid);
        if let Some(prev) = last {
            assert!(g.published >= prev, "out of order at {}", g.uuid);
        }
        last = Some(g.published);
    }
}

#[test]
fn same_config_same_bytes_other_seed_other_bytes() {
    let run = |seed| -> Vec<String> {
        Generator::from_config(&config(seed, 300))
            .take(20_000)
            .map(|g| g.json)
            .collect()
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8));
}

#[test]
fn starting_later_gives_the_same_events_from_then_on() {
    let config = config(3, 100);
    let org = Org::build(&config);
    let later = config.start + chrono::Duration::days(2);
    let from_start: Vec<String> = Generator::days(org.clone(), config.start, 4)
        .filter(|g| g.published >= later + chrono::Duration::days(1))
        .map(|g| g.json)
        .collect();
    let from_later: Vec<String> = Generator::days(org, later, 2)
        .filter(|g| g.published >= later + chrono::Duration::days(1))
        .map(|g| g.json)
        .collect();
    assert!(!from_start.is_empty());
    assert_eq!(from_start, from_later);
}

/// Key paths two levels deep: `client`, `client.userAgent`, …
fn key_paths(v: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(map) = v.as_object() {
        for (k, child) in map {
            out.insert(k.clone());
            if let Some(inner) = child.as_object() {
                for k2 in inner.keys() {
                    out.insert(format!("{k}.{k2}"));
                }
            }
        }
    }
    out
}

/// Parent keys whose children the samples of a type all have but a generated event may lack,
/// because the parent is `null` in it on purpose, with the reason. Where the parent is an object
/// the children must still all be there.
const NULL_ON_PURPOSE: &[(&str, &str)] = &[(
    "device",
    "the top-level device is an object only for requests from an Okta Verify–registered device \
     (FastPass users on their laptop); the two user.authentication.sso samples both come from \
     one, other users' events carry device: null like most samples",
)];

/// The keys every real sample of each event type has in common.
fn sample_key_sets() -> HashMap<String, BTreeSet<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/okta/samples");
    let mut common: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ndjson") {
            continue;
        }
        files += 1;
        for record in okta::import::EventReader::open(&path).unwrap() {
            let e = record.unwrap().event;
            let keys = key_paths(e.doc());
            common
                .entry(e.event_type().to_string())
                .and_modify(|c| *c = c.intersection(&keys).cloned().collect())
                .or_insert(keys);
        }
    }
    assert_eq!(
        files,
        5,
        "expected the five sample files in {}",
        dir.display()
    );
    common
}

#[test]
fn field_sets_cover_the_real_samples() {
    let common = sample_key_sets();
    let mut compared = BTreeSet::new();
    let mut with_device = HashSet::new();
    for g in Generator::from_config(&config(2, 300)).take(60_000) {
        let e = parse(&g);
        let Some(sample_keys) = common.get(e.event_type()) else {
            continue;
        };
        let keys = key_paths(e.doc());
        let null_on_purpose = |k: &str| {
            NULL_ON_PURPOSE.iter().any(|(parent, _)| {
                k.strip_prefix(parent)
                    .is_some_and(|rest| rest.starts_with('.'))
                    && e.value_at(parent).is_some_and(serde_json::Value::is_null)
            })
        };
        let missing: Vec<_> = sample_keys
            .iter()
            .filter(|k| !keys.contains(*k) && !null_on_purpose(k))
            .collect();
        assert!(
            missing.is_empty(),
            "{}: generated event lacks {missing:?}: {}",
            e.event_type(),
            g.json
        );
        compared.insert(e.event_type().to_string());
        if keys.contains("device.id") {
            with_device.insert(e.event_type().to_string());
        }
    }
    assert!(
        with_device.contains("user.authentication.sso"),
        "{with_device:?}"
    );
    for expected in [
        "user.session.start",
        "user.session.end",
        "policy.evaluate_sign_on",
        "user.authentication.verify",
        "user.authentication.auth_via_mfa",
        "user.authentication.sso",
        "app.user_management",
    ] {
        assert!(
            compared.contains(expected),
            "{expected} not compared: {compared:?}"
        );
    }
}

#[test]
fn top_level_keys_follow_oktas_api_order() {
    const ORDER: &[&str] = &[
        "actor",
        "client",
        "device",
        "authenticationContext",
        "displayMessage",
        "eventType",
        "outcome",
        "published",
        "securityContext",
        "severity",
        "debugContext",
        "legacyEventType",
        "transaction",
        "uuid",
        "version",
        "request",
        "target",
    ];
    for g in Generator::from_config(&config(4, 50)).take(2_000) {
        let doc: serde_json::Value = serde_json::from_str(&g.json).unwrap();
        let keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ORDER, "{}", g.json);
    }
}

#[test]
fn system_events_have_okta_quirks() {
    let mut seen = 0;
    for g in Generator::from_config(&config(5, 500)).take(30_000) {
        let e = parse(&g);
        if e.actor().kind != Some("SystemPrincipal") {
            continue;
        }
        seen += 1;
        assert_eq!(e.actor().alternate_id, Some("system@okta.com"));
        assert_eq!(e.str_at("transaction.type"), Some("JOB"));
        assert_eq!(
            e.value_at("client.ipAddress"),
            Some(&serde_json::Value::Null)
        );
        assert_eq!(e.value_at("request.ipChain"), Some(&serde_json::json!([])));
    }
    assert!(seen > 10, "only {seen} system events");
}

#[test]
fn a_session_keeps_one_client() {
    // externalSessionId -> (ip, user agent, dtHash)
    type Fingerprint = (Option<String>, Option<String>, Option<String>);
    let mut sessions: HashMap<String, Fingerprint> = HashMap::new();
    let mut shared = 0;
    for g in Generator::from_config(&config(6, 300)).take(50_000) {
        let e = parse(&g);
        let Some(session) = e.external_session_id() else {
            continue;
        };
        if session == "unknown" {
            continue;
        }
        assert_eq!(e.root_session_id(), Some(session));
        assert!(
            session.starts_with("idx") && session.len() == 25,
            "{session}"
        );
        let fingerprint = (
            e.client_ip().map(str::to_string),
            e.user_agent().map(str::to_string),
            e.debug_str("dtHash").map(str::to_string),
        );
        match sessions.get_mut(session) {
            None => {
                sessions.insert(session.to_string(), fingerprint);
            }
            Some(known) => {
                shared += 1;
                assert_eq!(known.0, fingerprint.0, "ip changed in {session}");
                assert_eq!(known.1, fingerprint.1, "user agent changed in {session}");
                match (&known.2, &fingerprint.2) {
                    (Some(a), Some(b)) => assert_eq!(a, b, "dtHash changed in {session}"),
                    (None, Some(_)) => known.2 = fingerprint.2,
                    _ => {}
                }
            }
        }
    }
    assert!(shared > 10_000, "only {shared} events shared a session");
}

#[test]
fn injected_events_merge_in_time_order() {
    let config = config(9, 100);
    let org = Org::build(&config);
    let mut generator = Generator::new(org.clone(), config.start);
    let mut writer = EventWriter::new();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(99);
    let mut injected = HashSet::new();
    for hours in [30, 2, 13] {
        let at = config.start + chrono::Duration::hours(hours);
        let spec = EventSpec::new(
            at,
            "security.threat.detected",
            "Request from suspicious actor",
            event::Actor::Other {
                id: "198.51.100.7",
                kind: "IP address",
                alternate_id: "unknown",
                display_name: "198.51.100.7",
            },
        );
        let event = writer.write(&spec, &mut rng);
        injected.insert(event.uuid.clone());
        generator.inject(event);
    }
    let mut last = None;
    let mut found = 0;
    for g in generator.take_while(|g| g.published < config.start + chrono::Duration::hours(48)) {
        parse(&g);
        if let Some(prev) = last {
            assert!(g.published >= prev);
        }
        last = Some(g.published);
        found += usize::from(injected.contains(&g.uuid));
    }
    assert_eq!(found, 3);
}

#[test]
fn a_week_has_a_working_rhythm() {
    let config = OrgConfig::default();
    let org = Org::build(&config);
    let offset_of: HashMap<String, i64> = org
        .users
        .iter()
        .map(|u| (u.id.clone(), i64::from(u.home.utc_offset_minutes)))
        .collect();
    let mut per_day: HashMap<chrono::NaiveDate, usize> = HashMap::new();
    let mut weekday_user_events = 0usize;
    let mut weekend_user_events = 0usize;
    let mut types = HashSet::new();
    let (mut starts, mut failed_starts) = (0usize, 0usize);
    let (mut working_hours, mut night) = (0usize, 0usize);
    for g in Generator::days(org, config.start, 7) {
        let e = parse(&g);
        types.insert(e.event_type().to_string());
        *per_day.entry(g.published.date_naive()).or_default() += 1;
        if e.event_type() == "user.session.start" {
            starts += 1;
            failed_starts += usize::from(e.outcome_result() == Some("FAILURE"));
        }
        let Some(offset) = e.actor().id.and_then(|id| offset_of.get(id)) else {
            continue;
        };
        let local = g.published + chrono::Duration::minutes(*offset);
        if matches!(local.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
            weekend_user_events += 1;
        } else {
            weekday_user_events += 1;
        }
        match local.hour() {
            9..=17 => working_hours += 1,
            0..=5 | 23 => night += 1,
            _ => {}
        }
    }
    // 2024-03-01 is a Friday: the week holds 5 weekdays and 2 weekend days.
    assert!(
        weekday_user_events / 5 > 4 * (weekend_user_events / 2),
        "weekday {weekday_user_events} weekend {weekend_user_events}"
    );
    let saturday = chrono::NaiveDate::from_ymd_opt(2024, 3, 2).unwrap();
    let monday = chrono::NaiveDate::from_ymd_opt(2024, 3, 4).unwrap();
    assert!(per_day[&monday] > 3 * per_day[&saturday], "{per_day:?}");
    assert!(
        working_hours > 10 * night.max(1),
        "working {working_hours} night {night}"
    );
    assert!(
        failed_starts > 0 && failed_starts * 15 < starts,
        "{failed_starts} of {starts} failed"
    );
    assert!(types.len() >= 15, "{} types: {types:?}", types.len());
    // A realistic volume: a few thousand to a few tens of thousands of events per weekday.
    assert!((3_000..40_000).contains(&per_day[&monday]), "{per_day:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn any_seed_gives_parseable_ordered_events(seed in proptest::prelude::any::<u64>(), users in 0usize..60) {
        let mut last = None;
        for g in Generator::from_config(&config(seed, users)).take(400) {
            let e = okta::LogEvent::parse(&g.json);
            proptest::prop_assert!(e.is_ok(), "{:?}: {}", e.err(), g.json);
            proptest::prop_assert!(last.is_none_or(|t| t <= g.published));
            last = Some(g.published);
        }
    }
}
