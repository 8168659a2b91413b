//! Alerts in a real store: deduplication within the suppression window, routing into the
//! outbox in the same transaction, the lifecycle, and the outbox's claim/lease/record cycle.

use crate::common::fixture;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use store::alerts::{
    AlertContext, AlertFilter, AlertLevel, AlertRoute, AlertRouting, AlertStatus, AttemptOutcome,
    AttemptRecord, DeliveryState, NewAlert, RaiseKind,
};
use store::{OrgId, Store, StoreError};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap() + ChronoDuration::minutes(min)
}

fn new_alert(org: OrgId, actor: &str, at: DateTime<Utc>, uuid: &str) -> NewAlert {
    let mut group_key = BTreeMap::new();
    group_key.insert("actor.alternateId".to_string(), json!(actor));
    NewAlert {
        org,
        rule_id: "okta-mfa-reset-then-admin".into(),
        title: "MFA reset followed by admin console access".into(),
        level: AlertLevel::High,
        group_key,
        first_seen: at,
        last_seen: at,
        event_uuids: vec![uuid.to_string()],
        context: AlertContext {
            summary: format!("{actor} reset every factor"),
            description: "Cross-tenant impersonation starts this way.".into(),
            ..AlertContext::default()
        },
    }
}

fn routing() -> AlertRouting {
    AlertRouting {
        suppression: Duration::from_secs(15 * 60),
        renotify_on_update: false,
        routes: vec![
            AlertRoute {
                sink: "slack".into(),
                orgs: vec![],
                min_level: AlertLevel::Medium,
            },
            AlertRoute {
                sink: "pager".into(),
                orgs: vec![],
                min_level: AlertLevel::Critical,
            },
            AlertRoute {
                sink: "other-org".into(),
                orgs: vec!["globex".into()],
                min_level: AlertLevel::Informational,
            },
        ],
    }
}

#[test]
fn raise_creates_an_alert_and_queues_only_the_routes_that_accept_it() {
    let mut f = fixture();
    let raised = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(0), "u1"),
            &routing(),
            t(0),
        )
        .unwrap();
    assert_eq!(raised.kind, RaiseKind::Created);
    assert_eq!(
        raised.queued, 1,
        "high: slack (medium+) only; not pager, not globex"
    );
    let deliveries = f.store.deliveries(raised.alert).unwrap();
    assert_eq!(deliveries.len(), 1);
    let (entry, attempts) = &deliveries[0];
    assert_eq!(entry.sink, "slack");
    assert_eq!(entry.state, DeliveryState::Pending);
    assert_eq!(entry.idempotency_key.len(), 32);
    assert!(attempts.is_empty());

    let alert = f.store.alert(raised.alert).unwrap();
    assert_eq!(alert.org_name, "acme");
    assert_eq!(alert.count, 1);
    assert_eq!(alert.status, AlertStatus::Open);
    assert_eq!(alert.event_uuids, vec!["u1"]);
    assert_eq!(
        alert.group_key["actor.alternateId"],
        json!("jane@example.com")
    );
    assert_eq!(alert.context.summary, "jane@example.com reset every factor");

    let mut critical = new_alert(f.org, "bob@example.com", t(0), "u2");
    critical.level = AlertLevel::Critical;
    let raised = f.store.raise(&critical, &routing(), t(0)).unwrap();
    assert_eq!(raised.queued, 2, "critical: slack and pager");
}

#[test]
fn repeats_within_the_window_fold_into_one_alert_without_renotifying() {
    let mut f = fixture();
    let first = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(0), "u1"),
            &routing(),
            t(0),
        )
        .unwrap();
    let second = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(10), "u2"),
            &routing(),
            t(10),
        )
        .unwrap();
    assert_eq!(second.alert, first.alert);
    assert_eq!(second.kind, RaiseKind::Updated);
    assert_eq!(second.queued, 0);
    let alert = f.store.alert(first.alert).unwrap();
    assert_eq!(alert.count, 2);
    assert_eq!(alert.first_seen, t(0));
    assert_eq!(alert.last_seen, t(10));
    assert_eq!(alert.event_uuids, vec!["u1", "u2"]);
    assert_eq!(f.store.deliveries(first.alert).unwrap().len(), 1);

    // A late event from before the first one, still within the window, folds in too.
    let late = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(-5), "u0"),
            &routing(),
            t(11),
        )
        .unwrap();
    assert_eq!(late.alert, first.alert);
    assert_eq!(f.store.alert(first.alert).unwrap().first_seen, t(-5));

    // Replaying events already on the alert changes nothing.
    let replay = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(10), "u2"),
            &routing(),
            t(12),
        )
        .unwrap();
    assert_eq!(replay.kind, RaiseKind::Unchanged);
    assert_eq!(f.store.alert(first.alert).unwrap().count, 3);
}

#[test]
fn a_repeat_outside_the_window_or_for_another_key_is_a_new_alert() {
    let mut f = fixture();
    let first = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(0), "u1"),
            &routing(),
            t(0),
        )
        .unwrap();
    let later = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(16), "u2"),
            &routing(),
            t(16),
        )
        .unwrap();
    assert_eq!(later.kind, RaiseKind::Created);
    assert_ne!(later.alert, first.alert);
    let other = f
        .store
        .raise(
            &new_alert(f.org, "bob@example.com", t(1), "u3"),
            &routing(),
            t(1),
        )
        .unwrap();
    assert_eq!(other.kind, RaiseKind::Created);
    let other_org = f.store.ensure_org("globex").unwrap();
    let elsewhere = f
        .store
        .raise(
            &new_alert(other_org, "jane@example.com", t(1), "u4"),
            &routing(),
            t(1),
        )
        .unwrap();
    assert_eq!(elsewhere.kind, RaiseKind::Created);
    assert_eq!(elsewhere.queued, 2, "globex gets slack and its own sink");

    // A shorter window splits what the default one folds.
    let mut short = routing();
    short.suppression = Duration::from_secs(60);
    let split = f
        .store
        .raise(
            &new_alert(f.org, "bob@example.com", t(3), "u5"),
            &short,
            t(3),
        )
        .unwrap();
    assert_eq!(split.kind, RaiseKind::Created);
}

#[test]
fn renotify_on_update_queues_a_new_delivery_with_its_own_key() {
    let mut f = fixture();
    let mut renotify = routing();
    renotify.renotify_on_update = true;
    let first = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(0), "u1"),
            &renotify,
            t(0),
        )
        .unwrap();
    let second = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(1), "u2"),
            &renotify,
            t(1),
        )
        .unwrap();
    assert_eq!(second.kind, RaiseKind::Updated);
    assert_eq!(second.queued, 1);
    let deliveries = f.store.deliveries(first.alert).unwrap();
    assert_eq!(deliveries.len(), 2);
    assert_ne!(
        deliveries[0].0.idempotency_key,
        deliveries[1].0.idempotency_key
    );
}

#[test]
fn closing_ends_deduplication_and_notes_record_who_when_and_why() {
    let mut f = fixture();
    let first = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(0), "u1"),
            &routing(),
            t(0),
        )
        .unwrap();
    let acked = f
        .store
        .set_alert_status(
            first.alert,
            AlertStatus::Acknowledged,
            "ana",
            "looking",
            t(1),
        )
        .unwrap();
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    // Acknowledged alerts still collect repeats.
    let repeat = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(2), "u2"),
            &routing(),
            t(2),
        )
        .unwrap();
    assert_eq!(repeat.alert, first.alert);
    let closed = f
        .store
        .set_alert_status(
            first.alert,
            AlertStatus::Closed,
            "ana",
            "benign: help desk",
            t(3),
        )
        .unwrap();
    assert_eq!(closed.notes.len(), 2);
    assert_eq!(closed.notes[0].author, "ana");
    assert_eq!(closed.notes[0].text, "looking");
    assert_eq!(closed.notes[0].status, AlertStatus::Acknowledged);
    assert_eq!(closed.notes[1].at, t(3));
    assert_eq!(closed.notes[1].status, AlertStatus::Closed);
    let err = f
        .store
        .set_alert_status(first.alert, AlertStatus::Acknowledged, "ana", "", t(4))
        .unwrap_err();
    assert!(matches!(err, StoreError::AlertClosed { .. }), "{err}");
    let after = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(4), "u3"),
            &routing(),
            t(4),
        )
        .unwrap();
    assert_eq!(after.kind, RaiseKind::Created);
    assert_ne!(after.alert, first.alert);
    let missing = f
        .store
        .set_alert_status(
            store::alerts::AlertId(999),
            AlertStatus::Closed,
            "ana",
            "",
            t(5),
        )
        .unwrap_err();
    assert!(
        matches!(missing, StoreError::UnknownAlert(999)),
        "{missing}"
    );
}

#[test]
fn list_filters_by_org_status_level_and_time() {
    let mut f = fixture();
    let globex = f.store.ensure_org("globex").unwrap();
    let a = f
        .store
        .raise(
            &new_alert(f.org, "a@example.com", t(0), "u1"),
            &routing(),
            t(0),
        )
        .unwrap();
    let mut low = new_alert(f.org, "b@example.com", t(30), "u2");
    low.level = AlertLevel::Low;
    f.store.raise(&low, &routing(), t(30)).unwrap();
    f.store
        .raise(
            &new_alert(globex, "c@example.com", t(60), "u3"),
            &routing(),
            t(60),
        )
        .unwrap();
    f.store
        .set_alert_status(a.alert, AlertStatus::Closed, "ana", "", t(61))
        .unwrap();

    let all = f.store.list_alerts(&AlertFilter::default()).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].last_seen >= w[1].last_seen));
    let acme = f
        .store
        .list_alerts(&AlertFilter {
            org: Some(f.org),
            ..AlertFilter::default()
        })
        .unwrap();
    assert!(acme.iter().all(|x| x.org_name == "acme"));
    assert_eq!(acme.len(), 2);
    let open_high = f
        .store
        .list_alerts(&AlertFilter {
            status: Some(AlertStatus::Open),
            min_level: Some(AlertLevel::Medium),
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(open_high.len(), 1);
    assert_eq!(open_high[0].org_name, "globex");
    let recent = f
        .store
        .list_alerts(&AlertFilter {
            since: Some(t(20)),
            limit: Some(1),
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].last_seen, t(60));
}

#[test]
fn claimed_rows_are_leased_then_settled_by_the_recorded_attempt() {
    let mut f = fixture();
    let mut critical = new_alert(f.org, "jane@example.com", t(0), "u1");
    critical.level = AlertLevel::Critical;
    let raised = f.store.raise(&critical, &routing(), t(0)).unwrap();
    assert_eq!(raised.queued, 2);
    let lease = Duration::from_secs(30);

    let due = f.store.claim_due_deliveries(t(0), lease, 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].alert.id, raised.alert);
    assert_eq!(due[0].alert.event_uuids, vec!["u1"]);
    // Leased: a second worker gets nothing until the lease runs out.
    assert!(f
        .store
        .claim_due_deliveries(t(0), lease, 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        f.store.next_delivery_due().unwrap(),
        Some(t(0) + ChronoDuration::seconds(30))
    );

    let slack = due.iter().find(|d| d.entry.sink == "slack").unwrap();
    let pager = due.iter().find(|d| d.entry.sink == "pager").unwrap();
    f.store
        .record_attempt(
            slack.entry.id,
            &AttemptRecord {
                at: t(0),
                outcome: AttemptOutcome::Delivered,
                status: Some(200),
                error: None,
                duration: Duration::from_millis(12),
            },
        )
        .unwrap();
    f.store
        .record_attempt(
            pager.entry.id,
            &AttemptRecord {
                at: t(0),
                outcome: AttemptOutcome::Retry {
                    next_attempt_at: t(2),
                },
                status: Some(503),
                error: Some("HTTP 503".into()),
                duration: Duration::from_millis(5),
            },
        )
        .unwrap();
    // The retry is due at t(2), not before.
    assert!(f
        .store
        .claim_due_deliveries(t(1), lease, 10)
        .unwrap()
        .is_empty());
    let again = f.store.claim_due_deliveries(t(2), lease, 10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].entry.attempts, 1);
    assert_eq!(again[0].entry.last_error.as_deref(), Some("HTTP 503"));
    f.store
        .record_attempt(
            again[0].entry.id,
            &AttemptRecord {
                at: t(2),
                outcome: AttemptOutcome::Failed,
                status: Some(404),
                error: Some("HTTP 404: no_service".into()),
                duration: Duration::from_millis(5),
            },
        )
        .unwrap();

    let deliveries = f.store.deliveries(raised.alert).unwrap();
    let states: Vec<_> = deliveries.iter().map(|(e, _)| e.state).collect();
    assert_eq!(states, vec![DeliveryState::Sent, DeliveryState::Failed]);
    let pager_attempts = &deliveries[1].1;
    assert_eq!(pager_attempts.len(), 2);
    assert_eq!(pager_attempts[0].outcome, "retry");
    assert_eq!(pager_attempts[0].status, Some(503));
    assert_eq!(pager_attempts[0].next_attempt_at, Some(t(2)));
    assert_eq!(pager_attempts[1].outcome, "failed");
    assert_eq!(
        deliveries[1].0.last_error.as_deref(),
        Some("HTTP 404: no_service")
    );
    let summary = f.store.outbox_summary().unwrap();
    assert_eq!((summary.pending, summary.sent, summary.failed), (0, 1, 1));

    // A late report for a settled row is recorded but does not undo the state.
    f.store
        .record_attempt(
            slack.entry.id,
            &AttemptRecord {
                at: t(3),
                outcome: AttemptOutcome::Failed,
                status: None,
                error: Some("stale worker".into()),
                duration: Duration::ZERO,
            },
        )
        .unwrap();
    assert_eq!(
        f.store.outbox_entry(slack.entry.id).unwrap().unwrap().state,
        DeliveryState::Sent
    );

    assert_eq!(f.store.requeue_failed(raised.alert, t(4)).unwrap(), 1);
    assert_eq!(
        f.store.claim_due_deliveries(t(4), lease, 10).unwrap().len(),
        1
    );
}

#[test]
fn an_expired_lease_makes_the_row_due_again_with_the_same_key() {
    let mut f = fixture();
    let raised = f
        .store
        .raise(
            &new_alert(f.org, "jane@example.com", t(0), "u1"),
            &routing(),
            t(0),
        )
        .unwrap();
    let lease = Duration::from_secs(10);
    let first = f.store.claim_due_deliveries(t(0), lease, 10).unwrap();
    // The worker dies here. After the lease, another one takes the row.
    let later = t(0) + ChronoDuration::seconds(10);
    let second = f.store.claim_due_deliveries(later, lease, 10).unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].entry.id, first[0].entry.id);
    assert_eq!(
        second[0].entry.idempotency_key,
        first[0].entry.idempotency_key
    );
    assert_eq!(second[0].alert.id, raised.alert);
}

#[test]
fn defer_sink_holds_every_pending_row_of_that_sink() {
    let mut f = fixture();
    for i in 0..3 {
        f.store
            .raise(
                &new_alert(f.org, &format!("u{i}@example.com"), t(0), &format!("e{i}")),
                &routing(),
                t(0),
            )
            .unwrap();
    }
    assert_eq!(f.store.defer_sink("slack", t(5)).unwrap(), 3);
    assert!(f
        .store
        .claim_due_deliveries(t(4), Duration::from_secs(1), 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        f.store
            .claim_due_deliveries(t(5), Duration::from_secs(1), 10)
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn alerts_and_their_outbox_survive_reopening_the_store() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("idwatch.db");
    let id = {
        let mut store = Store::open(&path).unwrap();
        let org = store.ensure_org("acme").unwrap();
        store
            .raise(
                &new_alert(org, "jane@example.com", t(0), "u1"),
                &routing(),
                t(0),
            )
            .unwrap()
            .alert
    };
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.alert(id).unwrap().event_uuids, vec!["u1"]);
    let due = store
        .claim_due_deliveries(t(1), Duration::from_secs(5), 10)
        .unwrap();
    assert_eq!(due.len(), 1);
    let ro = Store::open_read_only(&path).unwrap();
    assert_eq!(ro.list_alerts(&AlertFilter::default()).unwrap().len(), 1);
}
