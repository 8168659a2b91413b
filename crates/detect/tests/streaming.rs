//! The synchronous `Detector` over a real store.

use crate::common::*;
use chrono::Utc;
use detect::{BaseOptions, DetectConfig, Pack, StreamSettings};
use store::alerts::{AlertLevel, RaiseKind};

#[test]
fn single_event_and_correlation_alerts_carry_their_evidence() {
    let fx = Fixture::new("");
    fx.ingest(
        "acme",
        &[
            grant(1, 0, "eve@example.com", "203.0.113.5"),
            failed(2, 10, "bob@example.com"),
            failed(3, 20, "bob@example.com"),
            failed(4, 30, "bob@example.com"),
            benign(5, 40),
        ],
    );
    let mut detector = fx.detector("acme");
    let raised = detector.catch_up(Utc::now()).unwrap();
    assert_eq!(raised.len(), 2, "{raised:#?}");
    assert!(raised.iter().all(|r| r.kind == RaiseKind::Created));

    let alerts = fx.alerts();
    let grant_alert = alerts
        .iter()
        .find(|a| a.rule_id == "t-admin-grant")
        .unwrap();
    assert_eq!(grant_alert.level, AlertLevel::High);
    assert_eq!(grant_alert.org_name, "acme");
    assert_eq!(grant_alert.event_uuids, vec![uuid(1)]);
    assert_eq!(grant_alert.first_seen, t0());
    assert_eq!(
        grant_alert.group_key.get("actor.alternateId"),
        Some(&serde_json::json!("eve@example.com"))
    );
    let ctx = &grant_alert.context;
    assert_eq!(ctx.description, "A user was given an administrator role.");
    assert_eq!(
        ctx.client.as_ref().unwrap().ip.as_deref(),
        Some("203.0.113.5")
    );
    assert!(ctx.summary.contains("eve@example.com"), "{}", ctx.summary);
    assert!(
        ctx.summary.contains("target@example.com"),
        "{}",
        ctx.summary
    );

    let brute = alerts.iter().find(|a| a.rule_id == "t-brute").unwrap();
    assert_eq!(brute.event_uuids, vec![uuid(2), uuid(3), uuid(4)]);
    assert_eq!(brute.first_seen, t0() + chrono::Duration::seconds(10));
    assert_eq!(brute.last_seen, t0() + chrono::Duration::seconds(30));
    assert_eq!(
        brute.group_key.get("actor.alternateId"),
        Some(&serde_json::json!("bob@example.com"))
    );
    // The hidden building block raised nothing of its own.
    assert!(alerts.iter().all(|a| a.rule_id != "t-failed"));

    let saved = fx
        .store()
        .detection_state(detector.org())
        .unwrap()
        .expect("committed");
    assert_eq!(saved.position, detector.position());
    assert_eq!(saved.events, 5);
}

#[test]
fn repeats_within_the_suppression_window_fold_into_one_alert() {
    let fx = Fixture::new("");
    fx.ingest(
        "acme",
        &[
            grant(1, 0, "eve@example.com", "203.0.113.5"),
            grant(2, 60, "eve@example.com", "203.0.113.5"),
            grant(3, 120, "mallory@example.com", "203.0.113.5"),
        ],
    );
    fx.detector("acme").catch_up(Utc::now()).unwrap();
    let alerts = fx.alerts();
    assert_eq!(alerts.len(), 2);
    let eve = alerts
        .iter()
        .find(|a| {
            a.group_key.get("actor.alternateId") == Some(&serde_json::json!("eve@example.com"))
        })
        .unwrap();
    assert_eq!(eve.count, 2);
    assert_eq!(eve.event_uuids, vec![uuid(1), uuid(2)]);
}

#[test]
fn restart_neither_realerts_nor_skips() {
    let fx = Fixture::new("");
    fx.ingest(
        "acme",
        &[
            grant(1, 0, "eve@example.com", "203.0.113.5"),
            failed(2, 10, "bob@example.com"),
        ],
    );
    {
        let mut detector = fx.detector("acme");
        assert_eq!(detector.catch_up(Utc::now()).unwrap().len(), 1);
    }
    // Restart with nothing new: nothing raised, nothing changed.
    {
        let mut detector = fx.detector("acme");
        assert!(detector.catch_up(Utc::now()).unwrap().is_empty());
    }
    assert_eq!(fx.alerts().len(), 1);
    // Events stored while it was down: evaluated after the restart, and the correlation's
    // window (one failure before the restart) is carried across it.
    fx.ingest(
        "acme",
        &[
            failed(3, 20, "bob@example.com"),
            failed(4, 30, "bob@example.com"),
            grant(5, 40, "mallory@example.com", "203.0.113.6"),
            benign(6, 50),
        ],
    );
    let mut detector = fx.detector("acme");
    let raised = detector.catch_up(Utc::now()).unwrap();
    let mut rules: Vec<_> = raised
        .iter()
        .map(|r| r.detection.matched.rule_id.as_str())
        .collect();
    rules.sort();
    assert_eq!(rules, ["t-admin-grant", "t-brute"]);
    let alerts = fx.alerts();
    assert_eq!(alerts.len(), 3);
    let brute = alerts.iter().find(|a| a.rule_id == "t-brute").unwrap();
    assert_eq!(brute.event_uuids, vec![uuid(2), uuid(3), uuid(4)]);
}

/// A detector dropped after evaluating but before committing (what kill -9 leaves) resumes to
/// exactly the alerts of a run that was never interrupted.
#[test]
fn crash_before_commit_gives_the_uninterrupted_alerts() {
    let events: Vec<String> = (0..40)
        .map(|i| match i % 5 {
            0 => failed(i, i64::from(i) * 15, "bob@example.com"),
            1 => grant(
                i,
                i64::from(i) * 15,
                &format!("u{}@example.com", i % 3),
                "203.0.113.9",
            ),
            _ => benign(i, i64::from(i) * 15),
        })
        .collect();
    let small = StreamSettings {
        batch_size: 7,
        checkpoint_interval: std::time::Duration::from_secs(3600),
        ..StreamSettings::default()
    };

    // Uninterrupted.
    let clean = Fixture::new("");
    for chunk in events.chunks(10) {
        clean.ingest("acme", chunk);
    }
    clean
        .detector_with("acme", small)
        .catch_up(Utc::now())
        .unwrap();
    let expected = summary(&clean.alerts());
    assert!(expected.len() >= 3, "{expected:?}");

    // Interrupted after every batch: evaluate, sometimes commit, then "crash".
    let crashy = Fixture::new("");
    for (round, chunk) in events.chunks(10).enumerate() {
        crashy.ingest("acme", chunk);
        let mut detector = crashy.detector_with("acme", small);
        detector.process_batch().unwrap();
        if round % 2 == 0 {
            detector.commit(Utc::now()).unwrap();
            detector.process_batch().unwrap();
        }
        drop(detector); // uncommitted work is lost, as with kill -9
    }
    crashy
        .detector_with("acme", small)
        .catch_up(Utc::now())
        .unwrap();
    assert_eq!(summary(&crashy.alerts()), expected);
}

#[test]
fn late_stored_events_are_evaluated() {
    let fx = Fixture::new("allowed_lateness = \"5m\"\n");
    fx.ingest(
        "acme",
        &[
            failed(1, 0, "bob@example.com"),
            failed(2, 60, "bob@example.com"),
            benign(3, 120),
        ],
    );
    let mut detector = fx.detector("acme");
    assert!(detector.catch_up(Utc::now()).unwrap().is_empty());
    // Stored later, published earlier than the newest event: still within the lateness, it
    // completes the brute force; and an event published a day earlier still raises its own
    // single-event alert.
    fx.ingest(
        "acme",
        &[
            failed(4, 30, "bob@example.com"),
            grant(5, -86_400, "eve@example.com", "203.0.113.5"),
            benign(6, 1000),
        ],
    );
    let raised = detector.catch_up(Utc::now()).unwrap();
    let mut rules: Vec<_> = raised
        .iter()
        .map(|r| r.detection.matched.rule_id.clone())
        .collect();
    rules.sort();
    assert_eq!(rules, ["t-admin-grant", "t-brute"]);
    let brute = fx
        .alerts()
        .into_iter()
        .find(|a| a.rule_id == "t-brute")
        .unwrap();
    assert_eq!(brute.event_uuids, vec![uuid(1), uuid(2), uuid(4)]);
}

#[test]
fn allowlist_suppresses_and_counts() {
    let fx = Fixture::new(
        r#"
[[allow]]
name = "it-vpn"
rules = ["t-admin-grant"]
ips = ["203.0.113.0/24"]
actors = ["*@example.com"]
[[allow]]
name = "bob-change-window"
actors = ["bob@example.com"]
windows = [{ start = "2026-05-01T09:00:00Z", end = "2026-05-01T11:00:00Z" }]
"#,
    );
    fx.ingest(
        "acme",
        &[
            grant(1, 0, "eve@example.com", "203.0.113.5"), // suppressed: it-vpn
            grant(2, 10, "eve@example.com", "198.51.100.1"), // outside the CIDR: alert
            grant(3, 20, "eve@evil.test", "203.0.113.5"),  // actor not allowed: alert
            failed(4, 30, "bob@example.com"),
            failed(5, 40, "bob@example.com"),
            failed(6, 50, "bob@example.com"), // brute force by bob: in his window
            benign(7, 60),
        ],
    );
    let mut detector = fx.detector("acme");
    detector.catch_up(Utc::now()).unwrap();
    let alerts = fx.alerts();
    let mut uuids: Vec<_> = alerts.iter().flat_map(|a| a.event_uuids.clone()).collect();
    uuids.sort();
    assert_eq!(uuids, vec![uuid(2), uuid(3)], "{alerts:#?}");
    let counts = fx.store().suppression_counts(None).unwrap();
    let got: Vec<_> = counts
        .iter()
        .map(|c| (c.entry.as_str(), c.rule_id.as_str(), c.count))
        .collect();
    assert_eq!(
        got,
        [
            ("bob-change-window", "t-brute", 1),
            ("it-vpn", "t-admin-grant", 1)
        ]
    );
    assert_eq!(detector.pipeline().stats().suppressed, 2);
}

#[test]
fn disabled_rules_stay_silent_per_org_and_typos_are_errors() {
    let fx = Fixture::new("[orgs.quiet]\ndisable = [\"Admin role granted\"]\n");
    for org in ["loud", "quiet"] {
        fx.ingest(org, &[grant(1, 0, "eve@example.com", "203.0.113.5")]);
        fx.detector(org).catch_up(Utc::now()).unwrap();
    }
    let orgs: Vec<_> = fx.alerts().iter().map(|a| a.org_name.clone()).collect();
    assert_eq!(orgs, ["loud"]);

    let bad: DetectConfig =
        toml::from_str("builtin = false\ndisable = [\"no-such-rule\"]").unwrap();
    let err = Pack::build(&bad, &BaseOptions::default(), None).unwrap_err();
    assert!(err.to_string().contains("detect.disable"), "{err}");
    assert!(err.to_string().contains("no-such-rule"), "{err}");
}

#[test]
fn tuning_a_threshold_per_org_changes_when_it_fires() {
    let fx = Fixture::new("[orgs.strict.tune.t-brute]\n\"correlation.condition.gte\" = 2\n");
    for org in ["default", "strict"] {
        fx.ingest(
            org,
            &[
                failed(1, 0, "bob@example.com"),
                failed(2, 10, "bob@example.com"),
                benign(3, 20),
            ],
        );
        fx.detector(org).catch_up(Utc::now()).unwrap();
    }
    let orgs: Vec<_> = fx.alerts().iter().map(|a| a.org_name.clone()).collect();
    assert_eq!(orgs, ["strict"]);
}

#[test]
fn the_builtin_pack_compiles_with_defaults() {
    let pack = Pack::build(&DetectConfig::default(), &BaseOptions::default(), None)
        .expect("the built-in pack compiles with no configuration");
    assert_eq!(pack.files.0, detect::builtin_files().len());
    assert_eq!(pack.files.1, 0);
    // Every embedded file contributes rules, and every rule is one the pack can alert on or
    // a building block a correlation uses.
    for (name, _) in detect::builtin_files() {
        assert!(
            pack.rules
                .rules()
                .iter()
                .any(|r| r.path == std::path::Path::new(name)),
            "{name} contributed no rule"
        );
    }
}
