//! Correlation rules, per type: thresholds and ranges, window edges, out-of-order events within
//! the allowed lateness, `aliases` joining a grant's `target.id` to a later `actor.id`, chains,
//! `generate`, bounded state, export/import without double counting, and the differential test
//! that a shuffled stream gives the same matches as the sorted hunt.

use crate::common::{rules, stream};
use proptest::prelude::*;
use serde_json::json;
use sigma::{Correlator, CorrelatorConfig, Match, MatchKind};
use std::sync::Arc;

const BASE: &str = r#"
title: Failed login
id: failed
name: failed_login
logsource: {product: okta}
detection:
    s:
        eventType: user.session.start
        outcome.result: FAILURE
    condition: s
---
title: Login
id: login
name: successful_login
logsource: {product: okta}
detection:
    s:
        eventType: user.session.start
        outcome.result: SUCCESS
    condition: s
"#;

/// An event at `secs` seconds after 2024-01-01T00:00:00Z.
fn ev(uuid: &str, secs: i64, fields: serde_json::Value) -> okta::LogEvent {
    let t = chrono::DateTime::from_timestamp(1_704_067_200 + secs, 0).unwrap();
    let mut v = fields;
    let o = v.as_object_mut().unwrap();
    o.insert("uuid".into(), uuid.into());
    o.insert("published".into(), t.to_rfc3339().into());
    okta::LogEvent::parse(&v.to_string()).unwrap()
}

fn fail(uuid: &str, secs: i64, user: &str) -> okta::LogEvent {
    ev(
        uuid,
        secs,
        json!({"eventType": "user.session.start", "outcome": {"result": "FAILURE"}, "actor": {"alternateId": user}, "client": {"ipAddress": format!("10.0.0.{}", secs % 7)}}),
    )
}

fn ok(uuid: &str, secs: i64, user: &str) -> okta::LogEvent {
    ev(
        uuid,
        secs,
        json!({"eventType": "user.session.start", "outcome": {"result": "SUCCESS"}, "actor": {"alternateId": user}}),
    )
}

fn correlation(body: &str) -> Arc<sigma::RuleSet> {
    rules(&format!("{BASE}---\n{body}"))
}

fn of_kind(ms: &[Match], kind: MatchKind) -> Vec<&Match> {
    ms.iter().filter(|m| m.kind == kind).collect()
}

const COUNT: &str = "title: Brute force\nid: brute\ncorrelation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [actor.alternateId]\n    timespan: 10m\n    condition:\n        gte: 3\nlevel: high\n";

#[test]
fn event_count_fires_once_per_burst_per_group() {
    let r = correlation(COUNT);
    let events = vec![
        fail("a1", 0, "alice"),
        fail("b1", 10, "bob"),
        fail("a2", 20, "alice"),
        fail("a3", 30, "alice"),
        fail("a4", 40, "alice"),
    ];
    let ms = stream(&r, &events, CorrelatorConfig::default());
    let c = of_kind(&ms, MatchKind::EventCount);
    assert_eq!(c.len(), 1, "{ms:#?}");
    assert_eq!(c[0].rule_id, "brute");
    assert_eq!(c[0].event_uuids, ["a1", "a2", "a3"]);
    assert_eq!(
        c[0].group_key.as_ref().unwrap()["actor.alternateId"],
        "alice"
    );
    assert_eq!(c[0].window_start.unwrap().timestamp(), 1_704_067_200);
    assert_eq!(c[0].window_end.unwrap().timestamp(), 1_704_067_230);
    assert_eq!(c[0].level, sigma::Level::High);
    // generate: false (the default) hides the referenced rule's own matches.
    assert!(ms.iter().all(|m| m.rule_id != "failed"));
}

#[test]
fn window_edges_are_inclusive_and_sliding() {
    let r = correlation(COUNT);
    // Exactly 10 minutes apart: inside [t - 10m, t].
    let ms = stream(
        &r,
        &[fail("1", 0, "u"), fail("2", 300, "u"), fail("3", 600, "u")],
        CorrelatorConfig::default(),
    );
    assert_eq!(of_kind(&ms, MatchKind::EventCount).len(), 1);
    // One second more: the first has left the window, but the window slides on.
    let ms = stream(
        &r,
        &[fail("1", 0, "u"), fail("2", 300, "u"), fail("3", 601, "u")],
        CorrelatorConfig::default(),
    );
    assert_eq!(of_kind(&ms, MatchKind::EventCount).len(), 0);
    let ms = stream(
        &r,
        &[
            fail("1", 0, "u"),
            fail("2", 300, "u"),
            fail("3", 601, "u"),
            fail("4", 850, "u"),
        ],
        CorrelatorConfig::default(),
    );
    let c = of_kind(&ms, MatchKind::EventCount);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].event_uuids, ["2", "3", "4"]);
}

#[test]
fn out_of_order_events_within_lateness_count_and_later_ones_do_not() {
    let r = correlation(COUNT);
    let config = CorrelatorConfig {
        allowed_lateness_ms: 120_000,
        ..CorrelatorConfig::default()
    };
    let shuffled = vec![fail("3", 100, "u"), fail("1", 0, "u"), fail("2", 50, "u")];
    let ms = stream(&r, &shuffled, config.clone());
    assert_eq!(of_kind(&ms, MatchKind::EventCount).len(), 1);
    assert_eq!(
        of_kind(&ms, MatchKind::EventCount)[0].event_uuids,
        ["1", "2", "3"]
    );
    // 1000 s late with 120 s allowed: not counted, and said so.
    let mut c = Correlator::new(Arc::clone(&r), config);
    let mut out = Vec::new();
    for e in [
        fail("3", 1100, "u"),
        fail("2", 1050, "u"),
        fail("1", 0, "u"),
    ] {
        c.observe(&e, e.published(), &mut out);
    }
    c.flush(&mut out);
    assert!(of_kind(&out, MatchKind::EventCount).is_empty());
    assert_eq!(c.stats().late_events, 1);
}

#[test]
fn value_count_counts_distinct_values() {
    let r = correlation("title: Spray\nid: spray\ncorrelation:\n    type: value_count\n    rules: [failed_login]\n    group-by: [client.ipAddress]\n    timespan: 5m\n    condition:\n        field: actor.alternateId\n        gte: 3\n");
    let same_ip = |u: &str, s: i64, user: &str| {
        ev(
            u,
            s,
            json!({"eventType": "user.session.start", "outcome": {"result": "FAILURE"}, "actor": {"alternateId": user}, "client": {"ipAddress": "1.2.3.4"}}),
        )
    };
    let ms = stream(
        &r,
        &[
            same_ip("1", 0, "a"),
            same_ip("2", 1, "A"),
            same_ip("3", 2, "b"),
        ],
        CorrelatorConfig::default(),
    );
    assert!(
        of_kind(&ms, MatchKind::ValueCount).is_empty(),
        "values compare case-insensitively"
    );
    let ms = stream(
        &r,
        &[
            same_ip("1", 0, "a"),
            same_ip("2", 1, "b"),
            same_ip("3", 2, "b"),
            same_ip("4", 3, "c"),
        ],
        CorrelatorConfig::default(),
    );
    let c = of_kind(&ms, MatchKind::ValueCount);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].value, Some(3.0));
    assert_eq!(
        c[0].group_key.as_ref().unwrap()["client.ipAddress"],
        "1.2.3.4"
    );
}

#[test]
fn temporal_needs_every_rule_and_temporal_ordered_their_order() {
    let temporal = correlation("title: Both\nid: both\ncorrelation:\n    type: temporal\n    rules: [failed_login, successful_login]\n    group-by: [actor.alternateId]\n    timespan: 10m\n");
    let ms = stream(
        &temporal,
        &[ok("1", 0, "u"), fail("2", 60, "u")],
        CorrelatorConfig::default(),
    );
    assert_eq!(of_kind(&ms, MatchKind::Temporal).len(), 1, "any order");
    let ms = stream(
        &temporal,
        &[fail("1", 0, "u"), fail("2", 60, "u")],
        CorrelatorConfig::default(),
    );
    assert!(
        of_kind(&ms, MatchKind::Temporal).is_empty(),
        "one rule is not enough"
    );
    let ordered = correlation("title: Fail then login\nid: ordered\ncorrelation:\n    type: temporal_ordered\n    rules: [failed_login, successful_login]\n    group-by: [actor.alternateId]\n    timespan: 10m\n");
    let ms = stream(
        &ordered,
        &[ok("1", 0, "u"), fail("2", 60, "u")],
        CorrelatorConfig::default(),
    );
    assert!(
        of_kind(&ms, MatchKind::TemporalOrdered).is_empty(),
        "wrong order"
    );
    let ms = stream(
        &ordered,
        &[fail("1", 0, "u"), ok("2", 60, "v"), ok("3", 599, "u")],
        CorrelatorConfig::default(),
    );
    let c = of_kind(&ms, MatchKind::TemporalOrdered);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].event_uuids, ["1", "3"]);
    let ms = stream(
        &ordered,
        &[fail("1", 0, "u"), ok("3", 601, "u")],
        CorrelatorConfig::default(),
    );
    assert!(
        of_kind(&ms, MatchKind::TemporalOrdered).is_empty(),
        "outside the timespan"
    );
}

#[test]
fn numeric_aggregations_and_ranges_are_decided_when_the_window_closes() {
    let rule = |t: &str, cond: &str| {
        rules(&format!("title: Pull\nid: pull\nname: pull\nlogsource: {{product: okta}}\ndetection:\n    s:\n        eventType: app.export\n    condition: s\n---\ntitle: Agg\nid: agg\ncorrelation:\n    type: {t}\n    rules: [pull]\n    group-by: [actor.id]\n    timespan: 1h\n    condition:\n        field: debugContext.debugData.rows\n{cond}\n"))
    };
    let pull = |u: &str, s: i64, rows: i64| {
        ev(
            u,
            s,
            json!({"eventType": "app.export", "actor": {"id": "00u1"}, "debugContext": {"debugData": {"rows": rows}}}),
        )
    };
    let events = [pull("1", 0, 100), pull("2", 60, 300), pull("3", 120, 500)];
    let sum = stream(
        &rule("value_sum", "        gt: 800"),
        &events,
        CorrelatorConfig::default(),
    );
    assert_eq!(of_kind(&sum, MatchKind::ValueSum)[0].value, Some(900.0));
    let avg = stream(
        &rule("value_avg", "        gte: 300"),
        &events,
        CorrelatorConfig::default(),
    );
    assert_eq!(of_kind(&avg, MatchKind::ValueAvg)[0].value, Some(300.0));
    let avg_hi = stream(
        &rule("value_avg", "        gt: 300"),
        &events,
        CorrelatorConfig::default(),
    );
    assert!(of_kind(&avg_hi, MatchKind::ValueAvg).is_empty());
    let p = stream(
        &rule(
            "value_percentile",
            "        percentile: 90\n        gte: 500",
        ),
        &events,
        CorrelatorConfig::default(),
    );
    assert_eq!(
        of_kind(&p, MatchKind::ValuePercentile)[0].value,
        Some(500.0)
    );
    // A range: between 2 and 3 events in the hour, decided at the close.
    let count_rule = "title: Pull\nid: pull\nname: pull\nlogsource: {product: okta}\ndetection:\n    s:\n        eventType: app.export\n    condition: s\n---\ntitle: Few\nid: few\ncorrelation:\n    type: event_count\n    rules: [pull]\n    group-by: [actor.id]\n    timespan: 1h\n    condition:\n        gte: 2\n        lte: 3\n";
    let r = rules(count_rule);
    let ms = stream(&r, &events, CorrelatorConfig::default());
    let c = of_kind(&ms, MatchKind::EventCount);
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].window_end.unwrap().timestamp() - c[0].window_start.unwrap().timestamp(),
        3600
    );
    let four = [
        pull("1", 0, 1),
        pull("2", 1, 1),
        pull("3", 2, 1),
        pull("4", 3, 1),
    ];
    assert!(of_kind(
        &stream(&r, &four, CorrelatorConfig::default()),
        MatchKind::EventCount
    )
    .is_empty());
    // Not decided before the window closes in a stream.
    let mut c = Correlator::new(Arc::clone(&r), CorrelatorConfig::default());
    let mut out = Vec::new();
    for e in &events {
        c.observe(e, e.published(), &mut out);
    }
    assert!(out.is_empty());
    c.advance_to(events[0].published() + chrono::Duration::hours(2), &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn aliases_join_a_grants_target_to_a_later_actor() {
    let r = rules(
        r#"
title: Admin granted
id: grant
name: admin_grant
logsource: {product: okta}
detection:
    s:
        eventType: user.account.privilege.grant
    condition: s
---
title: Admin console used
id: use
name: admin_use
logsource: {product: okta}
detection:
    s:
        eventType: user.session.access_admin_app
    condition: s
---
title: Admin role granted, then used
id: granted-then-used
correlation:
    type: temporal_ordered
    rules: [admin_grant, admin_use]
    group-by: [user]
    aliases:
        user:
            admin_grant: target.id
            admin_use: actor.id
    timespan: 24h
level: critical
"#,
    );
    let grant = ev(
        "g",
        0,
        json!({"eventType": "user.account.privilege.grant", "actor": {"id": "00uADMIN"}, "target": [{"id": "00uNEW", "type": "User"}, {"id": "SUPER_ADMIN", "type": "ROLE"}]}),
    );
    let other_use = ev(
        "x",
        100,
        json!({"eventType": "user.session.access_admin_app", "actor": {"id": "00uOTHER"}}),
    );
    let used = ev(
        "u",
        3600,
        json!({"eventType": "user.session.access_admin_app", "actor": {"id": "00uNEW"}}),
    );
    let ms = stream(&r, &[grant, other_use, used], CorrelatorConfig::default());
    let c = of_kind(&ms, MatchKind::TemporalOrdered);
    assert_eq!(c.len(), 1, "{ms:#?}");
    assert_eq!(c[0].group_key.as_ref().unwrap()["user"], "00uNEW");
    assert_eq!(c[0].event_uuids, ["g", "u"]);
    assert_eq!(c[0].level, sigma::Level::Critical);
}

#[test]
fn chained_correlations_and_generate() {
    let r = correlation(
        r#"title: Many failures
id: many
name: many_failures
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [actor.alternateId]
    timespan: 10m
    condition:
        gte: 3
---
title: Brute force then success
id: brute-success
correlation:
    type: temporal_ordered
    rules: [many_failures, successful_login]
    group-by: [actor.alternateId]
    timespan: 10m
    generate: true
level: critical
"#,
    );
    let events = [
        fail("1", 0, "u"),
        fail("2", 10, "u"),
        fail("3", 20, "u"),
        ok("4", 100, "u"),
        ok("5", 110, "v"),
    ];
    let ms = stream(&r, &events, CorrelatorConfig::default());
    let ids: Vec<&str> = ms.iter().map(|m| m.rule_id.as_str()).collect();
    // `generate: true` reports the rules the correlation uses on their own too (`many` once,
    // `login` for both logins); `failed` feeds only `many` (generate: false), so it is hidden.
    assert_eq!(ids.iter().filter(|i| **i == "many").count(), 1, "{ids:?}");
    assert_eq!(ids.iter().filter(|i| **i == "login").count(), 2, "{ids:?}");
    assert!(!ids.contains(&"failed"), "{ids:?}");
    let top: Vec<&Match> = ms.iter().filter(|m| m.rule_id == "brute-success").collect();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].event_uuids, ["1", "2", "3", "4"]);
    // Without it, only the outermost correlation is reported.
    let quiet = correlation(
        r#"title: Many failures
id: many
name: many_failures
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [actor.alternateId]
    timespan: 10m
    condition:
        gte: 3
---
title: Brute force then success
id: brute-success
correlation:
    type: temporal_ordered
    rules: [many_failures, successful_login]
    group-by: [actor.alternateId]
    timespan: 10m
"#,
    );
    let ms = stream(&quiet, &events, CorrelatorConfig::default());
    let ids: Vec<&str> = ms.iter().map(|m| m.rule_id.as_str()).collect();
    assert_eq!(ids, ["brute-success"]);
}

#[test]
fn correlation_errors_are_clear() {
    for (body, needle) in [
        ("title: X\nid: x\ncorrelation:\n    type: event_count\n    rules: [nope]\n    group-by: [a]\n    timespan: 1m\n    condition:\n        gte: 1\n", "`nope`"),
        ("title: X\nid: x\ncorrelation:\n    type: value_count\n    rules: [failed_login]\n    group-by: [a]\n    timespan: 1m\n    condition:\n        gte: 1\n", "condition.field"),
        ("title: X\nid: x\ncorrelation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [a]\n    timespan: 1m\n    window: tumbling\n    condition:\n        gte: 1\n", "tumbling"),
    ] {
        let err = sigma::RuleSet::from_yaml(&format!("{BASE}---\n{body}"), &sigma::CompileOptions::default()).unwrap_err();
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
}

#[test]
fn state_round_trips_and_a_replay_counts_nothing_twice() {
    let r = correlation(COUNT);
    let config = CorrelatorConfig::default();
    let events = [fail("1", 0, "u"), fail("2", 10, "u"), fail("3", 20, "u")];
    // Observe two events, save, restore into a new correlator, replay both, then the third.
    let mut a = Correlator::new(Arc::clone(&r), config.clone());
    let mut out = Vec::new();
    a.observe(&events[0], events[0].published(), &mut out);
    a.observe(&events[1], events[1].published(), &mut out);
    let json = serde_json::to_string(&a.export_state()).unwrap();
    let mut b = Correlator::new(Arc::clone(&r), config.clone());
    let report = b
        .import_state(serde_json::from_str(&json).unwrap())
        .unwrap();
    assert_eq!(report.groups, 1);
    for e in &events {
        b.observe(e, e.published(), &mut out);
    }
    b.flush(&mut out);
    let c = of_kind(&out, MatchKind::EventCount);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].event_uuids, ["1", "2", "3"]);
    // Without the restore, 2 events would not fire; with a double count, 5 would fire twice
    // at threshold 3 only once more — check the replayed correlator holds exactly 0 live hits.
    assert_eq!(b.memory().hits, 0);
    // A changed rule does not reuse the state.
    let changed = correlation(&COUNT.replace("gte: 3", "gte: 4"));
    let mut d = Correlator::new(changed, config.clone());
    let report = d
        .import_state(serde_json::from_str(&json).unwrap())
        .unwrap();
    assert_eq!(report.dropped_correlations, ["brute"]);
    // Nor does state whose hits are out of order (a damaged or hand-edited state row): it is
    // dropped, and detection goes on from empty state, the three events firing once.
    let mut saved: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(reverse_hits(&mut saved), 1, "one group's hits reversed");
    let mut e = Correlator::new(Arc::clone(&r), config);
    let report = e
        .import_state(serde_json::from_value(saved).unwrap())
        .unwrap();
    assert_eq!(report.dropped_correlations, ["brute"]);
    assert_eq!(report.groups, 0);
    let mut out = Vec::new();
    for event in &events {
        e.observe(event, event.published(), &mut out);
    }
    e.flush(&mut out);
    let c = of_kind(&out, MatchKind::EventCount);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].event_uuids, ["1", "2", "3"]);
}

/// Reverses every `hits` array in saved state (what a damaged or hand-edited state row
/// could hold).
fn reverse_hits(value: &mut serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(map) => {
            let mut n = 0;
            for (k, v) in map.iter_mut() {
                if k == "hits" {
                    if let Some(hits) = v.as_array_mut() {
                        hits.reverse();
                        n += 1;
                    }
                } else {
                    n += reverse_hits(v);
                }
            }
            n
        }
        serde_json::Value::Array(items) => items.iter_mut().map(reverse_hits).sum(),
        _ => 0,
    }
}

#[test]
fn state_is_bounded_and_expires_by_event_time() {
    let r = correlation(COUNT);
    let config = CorrelatorConfig {
        max_hits_per_group: 2,
        max_groups: 50,
        ..CorrelatorConfig::default()
    };
    let mut c = Correlator::new(Arc::clone(&r), config);
    let mut out = Vec::new();
    for i in 0..500 {
        let e = fail(&format!("e{i}"), i, &format!("user{}", i % 100));
        c.observe(&e, e.published(), &mut out);
    }
    assert!(c.memory().groups <= 50, "{:?}", c.memory());
    assert!(c.stats().evicted_groups > 0);
    // An hour later every window has expired.
    let late = fail("z", 500 + 3600, "someone");
    c.observe(&late, late.published(), &mut out);
    c.advance_to(late.published() + chrono::Duration::hours(1), &mut out);
    assert!(c.memory().hits <= 1, "{:?}", c.memory());
}

fn sorted(mut ms: Vec<Match>) -> Vec<String> {
    ms.iter_mut().for_each(|m| m.event_uuids.sort());
    let mut keys: Vec<String> = ms
        .iter()
        .map(|m| serde_json::to_string(m).unwrap())
        .collect();
    keys.sort();
    keys
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]
    /// Retro and streaming agree: the same events, shuffled by at most the allowed lateness,
    /// give exactly the matches of the sorted hunt.
    #[test]
    fn a_shuffled_stream_agrees_with_the_sorted_hunt(
        raw in proptest::collection::vec((0i64..3000, 0u8..3, any::<bool>()), 1..60),
        jitter in proptest::collection::vec(0i64..100, 60),
    ) {
        let r = correlation(&format!("{COUNT}---\ntitle: Ordered\nid: ord\ncorrelation:\n    type: temporal_ordered\n    rules: [failed_login, successful_login]\n    group-by: [actor.alternateId]\n    timespan: 5m\n---\ntitle: Range\nid: range\ncorrelation:\n    type: event_count\n    rules: [failed_login]\n    group-by: [actor.alternateId]\n    timespan: 3m\n    condition:\n        gte: 2\n        lt: 4\n"));
        let events: Vec<okta::LogEvent> = raw.iter().enumerate().map(|(i, (t, u, success))| {
            let user = format!("user{u}");
            if *success { ok(&format!("e{i}"), *t, &user) } else { fail(&format!("e{i}"), *t, &user) }
        }).collect();
        let mut hunt = events.clone();
        hunt.sort_by_key(|e| e.published());
        // Arrival order: each event delayed by up to 100 s; lateness 100 s covers it.
        let mut arrival: Vec<(i64, okta::LogEvent)> = events.iter().enumerate()
            .map(|(i, e)| (e.published().timestamp() + jitter[i % jitter.len()], e.clone()))
            .collect();
        arrival.sort_by_key(|(t, _)| *t);
        let streamed: Vec<okta::LogEvent> = arrival.into_iter().map(|(_, e)| e).collect();
        let config = CorrelatorConfig { allowed_lateness_ms: 100_000, ..CorrelatorConfig::default() };
        let a = sorted(stream(&r, &hunt, config.clone()));
        let b = sorted(stream(&r, &streamed, config));
        prop_assert_eq!(a, b);
    }
}
