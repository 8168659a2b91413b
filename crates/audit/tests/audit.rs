//! The audit against the real simulator over loopback: roster snapshots through the
//! collector's client, diffs explained by the simulated org's own log (stored in a real SQLite
//! store), the credential audit against scenario ground truth, every posture check on a
//! hardened and a weak tenant, the daemon's scheduled functions, and snapshot tampering with the
//! sqlite3 CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::credentials::{audit_credentials, RoleHistory};
use audit::diff::{ChangeKind, ExplainWindow};
use audit::okta_source::OktaDirectory;
use audit::posture::{evaluate, read_posture, PostureConfig, Status, CHECKS};
use audit::roster::{PrincipalKind, Via};
use audit::schedule::{
    posture_if_due, record_roster, snapshot_if_due, AuditSchedule, PostureOutcome, SnapshotOutcome,
};
use audit::{take_roster, ActorClass, Recommendation};
use chrono::{DateTime, Duration, Utc};
use collect::{ClientConfig, Credentials, OktaClient, Secret};
use okta::LogEvent;
use sim::api::{SimConfig, SimServer};
use sim::directory::Posture;
use sim::scenario::GroundTruth;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use store::{SnapshotKind, SnapshotProblem, Store};
use tempfile::TempDir;

const ORG: &str = "acme";

/// A fixed `now` shared by the simulator and the history we store, so both hold the same org:
/// a weekday afternoon, so the background activity (help-desk resets, self-service changes)
/// the tests look for is there whatever day they run.
fn anchor() -> DateTime<Utc> {
    sim::busy_tuesday()
}

fn config(now: DateTime<Utc>, scenarios: &[&str], posture: Posture) -> SimConfig {
    SimConfig {
        seed: 7,
        users: 120,
        days: 2,
        now: Some(now),
        scenarios: scenarios.iter().map(|s| s.to_string()).collect(),
        posture,
        ..SimConfig::default()
    }
}

async fn sim(config: &SimConfig) -> SimServer {
    SimServer::start(config.clone())
        .await
        .expect("simulator starts")
}

fn directory(sim: &SimServer) -> OktaDirectory {
    let client = OktaClient::new(
        &sim.base_url(),
        Credentials::Ssws(Secret::new(sim.token())),
        ClientConfig::default(),
    )
    .expect("client");
    OktaDirectory::new(client)
}

/// Stores the org's whole history (the same events the simulator serves).
fn store_history(store: &mut Store, config: &SimConfig, now: DateTime<Utc>) {
    let org = store.ensure_org(ORG).unwrap();
    let history = sim::world::history(&config.world_config(now)).expect("history");
    let events: Vec<LogEvent> = history
        .events
        .take_while(|e| e.published < now)
        .map(|e| LogEvent::parse(&e.json).expect("simulated event parses"))
        .collect();
    for chunk in events.chunks(2_000) {
        store.commit_batch(org, chunk, "test").unwrap();
    }
}

fn truth_of(truth: &[GroundTruth], scenario: &str) -> GroundTruth {
    truth
        .iter()
        .find(|t| t.scenario == scenario)
        .cloned()
        .expect("scenario truth")
}

fn open_store(dir: &Path) -> Store {
    Store::open(&dir.join("idwatch.db")).unwrap()
}

/// Snapshots a baseline org (no scenario) as of the start of its history, then the same org
/// after `scenario`, with the org's log stored; returns the diff of the second snapshot.
async fn scenario_diff(
    scenario: &str,
    store_events: bool,
) -> (audit::RosterDiff, GroundTruth, TempDir) {
    let tmp = TempDir::new().unwrap();
    let mut store = open_store(tmp.path());
    let now = anchor();
    let base_config = config(now, &[], Posture::Hardened);
    let attack_config = config(now, &[scenario], Posture::Hardened);
    let org = store.ensure_org(ORG).unwrap();
    let window = ExplainWindow::default();
    let before = now - Duration::days(2);

    let baseline = sim(&base_config).await;
    let roster = take_roster(&directory(&baseline)).await.expect("roster");
    let first = record_roster(
        &mut store,
        org,
        roster,
        &baseline.base_url(),
        before,
        window,
    )
    .expect("first snapshot");
    assert!(first.diff.is_none());
    baseline.shutdown().await;

    if store_events {
        store_history(&mut store, &attack_config, now);
    }
    let attacked = sim(&attack_config).await;
    let truth = truth_of(&attacked.truth(), scenario);
    let roster = take_roster(&directory(&attacked)).await.expect("roster");
    let second = record_roster(&mut store, org, roster, &attacked.base_url(), now, window)
        .expect("second snapshot");
    attacked.shutdown().await;
    (second.diff.expect("a diff"), truth, tmp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_admin_shows_as_group_derived_with_no_privilege_grant() {
    let (diff, truth, _tmp) = scenario_diff("group-admin", true).await;
    let added: Vec<_> = diff
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Added)
        .collect();
    assert_eq!(added.len(), 1, "{:#?}", diff.changes);
    assert_eq!(diff.changes.len(), 1, "{:#?}", diff.changes);
    let change = added[0];
    assert_eq!(change.grant.principal.kind, PrincipalKind::User);
    assert_eq!(change.grant.role_type, "SUPER_ADMIN");
    let Via::Group { group_name, .. } = &change.grant.via else {
        panic!("not group-derived: {:?}", change.grant.via);
    };
    // No privilege-grant event explains it: only the membership change does.
    assert!(
        change
            .explained_by
            .iter()
            .all(|e| e.event_type == "group.user_membership.add"),
        "{:#?}",
        change.explained_by
    );
    assert!(!change.explained_by.is_empty());
    for e in &change.explained_by {
        assert!(truth.malicious_uuids.contains(&e.uuid), "{e:?}");
    }
    assert!(
        change
            .warnings
            .iter()
            .any(|w| w.contains("no privilege-grant event") && w.contains(group_name.as_str())),
        "{:?}",
        change.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_no_stored_event_explains_is_flagged() {
    let (diff, _truth, _tmp) = scenario_diff("group-admin", false).await;
    assert_eq!(diff.changes.len(), 1);
    let change = &diff.changes[0];
    assert!(change.explained_by.is_empty());
    assert!(
        change
            .warnings
            .iter()
            .any(|w| w.starts_with("no log event explains this change")),
        "{:?}",
        change.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privilege_grant_shows_with_its_event() {
    let (diff, truth, _tmp) = scenario_diff("admin-takeover", true).await;
    let direct: Vec<_> = diff
        .changes
        .iter()
        .filter(|c| {
            c.kind == ChangeKind::Added
                && c.grant.via == Via::Direct
                && c.grant.principal.kind == PrincipalKind::User
        })
        .collect();
    assert_eq!(direct.len(), 1, "{:#?}", diff.changes);
    let change = direct[0];
    assert_eq!(change.grant.role_type, "SUPER_ADMIN");
    assert_eq!(change.explained_by.len(), 1, "{:#?}", change.explained_by);
    let event = &change.explained_by[0];
    assert_eq!(event.event_type, "user.account.privilege.grant");
    assert!(truth.malicious_uuids.contains(&event.uuid));
    assert!(change.warnings.is_empty(), "{:?}", change.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_audit_flags_exactly_the_affected_users_with_their_actor_class() {
    let tmp = TempDir::new().unwrap();
    let mut store = open_store(tmp.path());
    let now = anchor();
    let scenarios = ["support-impersonation", "admin-takeover"];
    let config = config(now, &scenarios, Posture::Hardened);
    store_history(&mut store, &config, now);
    let server = sim(&config).await;
    let truth = server.truth();
    // The roster tells help-desk admins from other admins.
    let roster = take_roster(&directory(&server)).await.expect("roster");
    server.shutdown().await;
    let org = store.org(ORG).unwrap();
    let roles = RoleHistory::new(vec![(now, roster)]);
    let audit =
        audit_credentials(&store, org, Some(now - Duration::days(3)), None, &roles).expect("audit");

    let expected: BTreeMap<String, ActorClass> = truth
        .iter()
        .flat_map(|t| t.affected_users.iter())
        .map(|u| {
            let class = match u.actor_class {
                sim::scenario::ActorClass::SelfService => ActorClass::SelfService,
                sim::scenario::ActorClass::Admin => ActorClass::Admin,
                sim::scenario::ActorClass::HelpDesk => ActorClass::HelpDesk,
                sim::scenario::ActorClass::OktaSupport => ActorClass::OktaSupport,
                sim::scenario::ActorClass::Impersonation => ActorClass::Impersonation,
            };
            (u.user_id.clone(), class)
        })
        .collect();
    assert_eq!(expected.len(), 4, "{expected:?}");
    let flagged: BTreeMap<String, ActorClass> = audit
        .users
        .iter()
        .filter(|u| u.recommendation == Recommendation::ForceReset)
        .map(|u| (u.user_id.clone(), u.actor_class))
        .collect();
    assert_eq!(flagged, expected);
    // Routine help-desk work in the background is listed but not flagged.
    assert!(
        audit.users.len() > flagged.len(),
        "background credential changes are listed too"
    );
    // Every malicious credential change is in the audit.
    let listed: BTreeSet<&str> = audit
        .users
        .iter()
        .flat_map(|u| u.changes.iter().map(|c| c.uuid.as_str()))
        .collect();
    let impersonated = audit
        .users
        .iter()
        .find(|u| u.actor_class == ActorClass::Impersonation)
        .expect("an impersonated change");
    assert!(impersonated.changes.iter().any(|c| c
        .original_principal
        .as_deref()
        .is_some_and(|p| p.ends_with("@okta.com"))));
    for t in &truth {
        for user in &t.affected_users {
            let row = audit
                .users
                .iter()
                .find(|u| u.user_id == user.user_id)
                .unwrap();
            assert!(
                row.changes.iter().any(
                    |c| listed.contains(c.uuid.as_str()) && t.malicious_uuids.contains(&c.uuid)
                ),
                "{row:?}"
            );
        }
    }
    let csv = audit::credentials::to_csv(&audit);
    assert_eq!(csv.lines().count(), audit.users.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_posture_check_passes_hardened_and_fails_weak() {
    let now = anchor();
    let mut results = BTreeMap::new();
    for posture in [Posture::Hardened, Posture::Weak] {
        let server = sim(&config(now, &[], posture)).await;
        let source = directory(&server);
        let roster = take_roster(&source).await.expect("roster");
        let input = read_posture(&source, roster).await;
        let report = evaluate(&input, &PostureConfig::default(), server.now());
        server.shutdown().await;
        results.insert(format!("{posture:?}"), report);
    }
    let hardened = &results["Hardened"];
    let weak = &results["Weak"];
    assert_eq!(hardened.checks.len(), CHECKS.len());
    for (id, _) in CHECKS {
        let h = hardened.check(id).unwrap();
        let w = weak.check(id).unwrap();
        assert_eq!(h.status, Status::Pass, "hardened {id}: {:?}", h.evidence);
        assert_eq!(w.status, Status::Fail, "weak {id}: {:?}", w.evidence);
        assert!(!w.evidence.is_empty() && !w.remediation.is_empty());
    }
    let uncovered = &weak.check("mfa_sign_on").unwrap().evidence;
    assert!(
        uncovered.iter().any(|e| e.starts_with("not covered: ")),
        "{uncovered:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_snapshot_alerts_on_a_new_admin_and_posture_on_a_regression() {
    let tmp = TempDir::new().unwrap();
    let mut store = open_store(tmp.path());
    let now = anchor();
    let schedule = AuditSchedule::default();
    let t0 = now - Duration::days(2);

    let baseline = sim(&config(now, &[], Posture::Hardened)).await;
    let source = directory(&baseline);
    let first = snapshot_if_due(&mut store, ORG, &source, &schedule, t0)
        .await
        .unwrap();
    assert!(matches!(first, SnapshotOutcome::Taken { alert: None, .. }));
    let again = snapshot_if_due(
        &mut store,
        ORG,
        &source,
        &schedule,
        t0 + Duration::minutes(10),
    )
    .await
    .unwrap();
    assert!(matches!(again, SnapshotOutcome::NotDue));
    let unchanged = snapshot_if_due(&mut store, ORG, &source, &schedule, t0 + Duration::hours(1))
        .await
        .unwrap();
    assert!(matches!(
        unchanged,
        SnapshotOutcome::Taken { alert: None, .. }
    ));
    let healthy = posture_if_due(&mut store, ORG, &source, &schedule, t0)
        .await
        .unwrap();
    assert!(matches!(
        healthy,
        PostureOutcome::Checked { alert: None, .. }
    ));
    baseline.shutdown().await;

    let attack_config = config(now, &["group-admin"], Posture::Weak);
    store_history(&mut store, &attack_config, now);
    let attacked = sim(&attack_config).await;
    let truth = truth_of(&attacked.truth(), "group-admin");
    let source = directory(&attacked);
    let changed = snapshot_if_due(&mut store, ORG, &source, &schedule, now)
        .await
        .unwrap();
    let SnapshotOutcome::Taken {
        alert: Some(alert), ..
    } = changed
    else {
        panic!("no alert for a changed roster: {changed:?}");
    };
    assert_eq!(alert.rule_id, "idwatch.audit.admin_roster_changed");
    let summary = &alert.context.summary;
    let member = attacked_member(&truth, &alert.event_uuids);
    assert!(
        member,
        "the membership event is attached: {:?}",
        alert.event_uuids
    );
    assert!(summary.contains("group.user_membership.add"), "{summary}");
    assert!(summary.contains("SUPER_ADMIN"), "{summary}");
    let regressed = posture_if_due(&mut store, ORG, &source, &schedule, now)
        .await
        .unwrap();
    attacked.shutdown().await;
    let PostureOutcome::Checked {
        alert: Some(alert),
        recorded,
    } = regressed
    else {
        panic!("no posture alert: {regressed:?}");
    };
    assert_eq!(alert.rule_id, "idwatch.audit.posture_regression");
    let ids: BTreeSet<&str> = recorded.regressions.iter().map(|r| r.id.as_str()).collect();
    let all: BTreeSet<&str> = CHECKS.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, all);
    // The alert can be raised as is.
    let raised = store
        .raise(&alert, &store::alerts::AlertRouting::default(), now)
        .unwrap();
    assert_eq!(raised.kind, store::alerts::RaiseKind::Created);
    assert_eq!(
        store
            .list_snapshots(store.org(ORG).unwrap(), SnapshotKind::Posture)
            .unwrap()
            .len(),
        2
    );
}

fn attacked_member(truth: &GroundTruth, uuids: &[String]) -> bool {
    uuids.iter().any(|u| truth.malicious_uuids.contains(u))
}

fn sqlite(db: &Path, sql: &str) {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 runs");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tampered_snapshots_are_named() {
    let tmp = TempDir::new().unwrap();
    let db = tmp.path().join("idwatch.db");
    let t0 = anchor();
    {
        let mut store = Store::open(&db).unwrap();
        let org = store.ensure_org(ORG).unwrap();
        for i in 0..4 {
            let content = format!("{{\"grants\":[{{\"n\":{i}}}]}}");
            store
                .archive_snapshot(
                    org,
                    SnapshotKind::AdminRoster,
                    t0 + Duration::hours(i),
                    "https://acme.okta.com",
                    &content,
                )
                .unwrap();
        }
        let report = store.verify_snapshots(None, None).unwrap();
        assert!(report.is_intact());
        assert_eq!(report.orgs[0].snapshots, 4);
    }
    // Archived snapshots refuse plain edits.
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("UPDATE snapshots SET content = '{}' WHERE id = 2;")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("never updated"));
    // Someone with write access drops the guard and edits snapshot 2, then deletes 4.
    sqlite(
        &db,
        "DROP TRIGGER snapshots_never_updated; DROP TRIGGER snapshots_never_deleted;
         UPDATE snapshots SET content = replace(content, '1', '9') WHERE id = 2;
         DELETE FROM snapshots WHERE id = 3;",
    );
    let store = Store::open_read_only(&db).unwrap();
    let report = store.verify_snapshots(None, None).unwrap();
    let problems = &report.orgs[0].problems;
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(matches!(
        &problems[0],
        SnapshotProblem::ContentModified { id, .. } if id.0 == 2
    ));
    assert!(matches!(
        &problems[1],
        SnapshotProblem::ChainBroken { id, after: Some(prev) } if id.0 == 4 && prev.0 == 2
    ));
    assert!(problems[0].to_string().starts_with("snapshot 2 (admins"));
}

#[test]
fn truncating_the_newest_snapshot_is_caught_against_a_recorded_head() {
    let tmp = TempDir::new().unwrap();
    let db = tmp.path().join("idwatch.db");
    let head = {
        let mut store = Store::open(&db).unwrap();
        let org = store.ensure_org(ORG).unwrap();
        let mut last = String::new();
        for i in 0..3 {
            last = store
                .archive_snapshot(
                    org,
                    SnapshotKind::Posture,
                    anchor() + Duration::hours(i),
                    "x",
                    "{}",
                )
                .unwrap()
                .link;
        }
        last
    };
    sqlite(
        &db,
        "DROP TRIGGER snapshots_never_deleted; DELETE FROM snapshots WHERE id = 3;",
    );
    let store = Store::open_read_only(&db).unwrap();
    let org = store.org(ORG).unwrap();
    let plain = store.verify_snapshots(Some(org), None).unwrap();
    assert!(plain.is_intact(), "truncation alone is invisible");
    let checked = store.verify_snapshots(Some(org), Some(&head)).unwrap();
    assert!(matches!(
        checked.orgs[0].problems.as_slice(),
        [SnapshotProblem::HeadMismatch { .. }]
    ));
}
