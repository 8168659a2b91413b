//! Attack scenario tests against the real generator's org: every event parses with the `okta`
//! parser, the ground-truth uuids are exactly the events each scenario's own definition calls
//! malicious, plans are deterministic and independent of each other, windows hold (support
//! resets within 25 minutes of the impersonation), and each scenario has the properties the
//! detections of detections.md §7 key on (push denies then an accept from a new place, one IP
//! against many users, a session replayed from another IP/ASN/OS, ...), and the directory
//! changes and affected users (with the right actor class) the audits need.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Timelike, Utc};
use okta::LogEvent;
use sim::generate::{AdminRole, Generator, GroupKind, Org, OrgConfig};
use sim::scenario::{self, ActorClass, DirectoryChange, GroundTruth, ScenarioError, ScenarioPlan};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

fn org() -> Org {
    Org::build(&OrgConfig::default())
}

fn window(org: &Org) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = org.config.start;
    (start, start + Duration::days(7))
}

fn plan_one(org: &Org, name: &str, seed: u64) -> (ScenarioPlan, Vec<LogEvent>) {
    let (start, end) = window(org);
    let plan = scenario::plan(org, &[name.to_string()], start, end, seed)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let events = plan
        .events
        .iter()
        .map(|g| LogEvent::parse(&g.json).unwrap_or_else(|e| panic!("{name}: {e}: {}", g.json)))
        .collect();
    (plan, events)
}

fn truth<'p>(plan: &'p ScenarioPlan, name: &str) -> &'p GroundTruth {
    plan.truth
        .iter()
        .find(|t| t.scenario == name)
        .unwrap_or_else(|| panic!("no truth for {name}"))
}

fn malicious<'e>(plan: &ScenarioPlan, events: &'e [LogEvent]) -> Vec<&'e LogEvent> {
    let set: HashSet<&str> = plan.truth[0]
        .malicious_uuids
        .iter()
        .map(String::as_str)
        .collect();
    events
        .iter()
        .filter(|e| set.contains(e.uuid().0.as_str()))
        .collect()
}

fn of_type<'e>(events: &'e [LogEvent], event_type: &str) -> Vec<&'e LogEvent> {
    events
        .iter()
        .filter(|e| e.event_type() == event_type)
        .collect()
}

fn user<'o>(org: &'o Org, login: &str) -> &'o sim::generate::User {
    org.users
        .iter()
        .find(|u| u.login == login)
        .unwrap_or_else(|| panic!("no user {login}"))
}

fn names() -> Vec<&'static str> {
    scenario::SCENARIOS.iter().map(|(name, _)| *name).collect()
}

/// Great-circle distance in km.
fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[test]
fn every_scenario_parses_with_unique_uuids_and_a_consistent_truth() {
    let org = org();
    let (start, end) = window(&org);
    for name in names() {
        let (plan, events) = plan_one(&org, name, 7);
        assert_eq!(plan.truth.len(), 1, "{name}");
        let t = truth(&plan, name);
        assert_eq!(t.org, org.config.okta_domain);
        assert!(!t.actor.is_empty(), "{name}");
        let uuids: HashSet<&str> = events.iter().map(|e| e.uuid().0.as_str()).collect();
        assert_eq!(uuids.len(), events.len(), "{name}: duplicate uuids");
        assert!(!t.malicious_uuids.is_empty(), "{name}");
        let bad = malicious(&plan, &events);
        assert_eq!(
            bad.len(),
            t.malicious_uuids.len(),
            "{name}: truth names events not in the plan"
        );
        let first = bad.iter().map(|e| e.published()).min().unwrap();
        let last = bad.iter().map(|e| e.published()).max().unwrap();
        assert_eq!((t.start, t.end), (first, last), "{name}");
        for e in &events {
            assert!(
                e.published() >= start && e.published() < end,
                "{name}: outside the window"
            );
        }
        assert!(plan
            .events
            .windows(2)
            .all(|w| w[0].published <= w[1].published));
        assert!(plan.changes.windows(2).all(|w| w[0].at <= w[1].at));
        // Ground truth serialises (tests and `idwatch sim` write it as JSON).
        let json = serde_json::to_value(t).expect("truth serialises");
        assert_eq!(json["scenario"], name);
    }
}

#[test]
fn truth_uuids_are_exactly_the_events_each_scenario_calls_malicious() {
    let org = org();
    for name in names() {
        let (plan, events) = plan_one(&org, name, 11);
        let t = truth(&plan, name);
        let actor = t.actor.as_str();
        // The scenario's own definition of "malicious", independent of how the plan marks it.
        let expected: BTreeSet<&str> = events
            .iter()
            .filter(|e| match name {
                // The grant and everything the support engineer did; not the admin's sign-in.
                "support-impersonation" => {
                    let admin = &org.users[org.first_admin(AdminRole::SuperAdmin).unwrap().user];
                    e.event_type() == "user.session.impersonation.grant"
                        || e.client_ip() != Some(admin.home_ip.as_str())
                }
                // The help desk's reset and everything from the proxy.
                "admin-takeover" => {
                    e.event_type() == "user.mfa.factor.reset_all" || e.is_proxy() == Some(true)
                }
                // Everything the replayed / far-away / attacker client did.
                "session-hijack" | "impossible-travel" => {
                    e.client_ip() != Some(user(&org, actor).home_ip.as_str())
                }
                "group-admin" => {
                    e.event_type() == "group.user_membership.add"
                        || e.targets()
                            .any(|t| t.display_name == Some("Okta Admin Console"))
                            && e.actor().alternate_id != Some(actor)
                }
                // Every event of these is the attacker's.
                _ => true,
            })
            .map(|e| e.uuid().0.as_str())
            .collect();
        let marked: BTreeSet<&str> = t.malicious_uuids.iter().map(String::as_str).collect();
        assert_eq!(marked, expected, "{name}");
        if !matches!(
            name,
            "support-impersonation"
                | "admin-takeover"
                | "session-hijack"
                | "impossible-travel"
                | "group-admin"
        ) {
            assert_eq!(
                marked.len(),
                events.len(),
                "{name}: context events in an all-attack scenario"
            );
        } else {
            assert!(
                marked.len() < events.len(),
                "{name}: expected benign context events"
            );
        }
    }
}

#[test]
fn plans_are_deterministic_and_independent_of_each_other() {
    let org = org();
    let (start, end) = window(&org);
    let all: Vec<String> = names().iter().map(|n| n.to_string()).collect();
    let a = scenario::plan(&org, &all, start, end, 5).unwrap();
    let b = scenario::plan(&org, &all, start, end, 5).unwrap();
    let c = scenario::plan(&org, &all, start, end, 6).unwrap();
    let jsons = |p: &ScenarioPlan| p.events.iter().map(|e| e.json.clone()).collect::<Vec<_>>();
    assert_eq!(jsons(&a), jsons(&b));
    assert_eq!(a.truth, b.truth);
    assert_eq!(a.changes, b.changes);
    assert_ne!(jsons(&a), jsons(&c));
    assert_eq!(a.truth.len(), all.len());
    let everything: HashSet<String> = a.events.iter().map(|e| e.json.clone()).collect();
    for name in &all {
        let alone = scenario::plan(&org, std::slice::from_ref(name), start, end, 5).unwrap();
        assert!(
            alone.events.iter().all(|e| everything.contains(&e.json)),
            "{name} depends on others"
        );
        assert_eq!(&alone.truth[0], truth(&a, name));
    }
}

#[test]
fn unknown_names_and_short_windows_are_errors() {
    let org = org();
    let start = org.config.start;
    let err =
        scenario::plan(&org, &["nope".into()], start, start + Duration::days(1), 1).unwrap_err();
    assert!(
        matches!(err, ScenarioError::Unknown(ref n) if n == "nope"),
        "{err}"
    );
    let err = scenario::plan(
        &org,
        &["support-impersonation".into()],
        start,
        start + Duration::minutes(30),
        1,
    )
    .unwrap_err();
    assert!(matches!(err, ScenarioError::Impossible { .. }), "{err}");
    assert!(scenario::plan(&org, &[], start, start, 1)
        .unwrap()
        .events
        .is_empty());
}

#[test]
fn support_impersonation_resets_within_25_minutes_with_support_and_impersonation_actors() {
    let org = org();
    for seed in 0..6 {
        let (plan, events) = plan_one(&org, "support-impersonation", seed);
        let t = &plan.truth[0];
        let grant = of_type(&events, "user.session.impersonation.grant");
        let initiate = of_type(&events, "user.session.impersonation.initiate");
        assert_eq!((grant.len(), initiate.len()), (1, 1));
        let initiated = initiate[0].published();
        assert!(grant[0].published() < initiated);
        assert_eq!(initiate[0].actor().alternate_id, Some(t.actor.as_str()));
        assert!(t.actor.ends_with("@okta.com"));
        let resets: Vec<_> = events
            .iter()
            .filter(|e| {
                matches!(
                    e.event_type(),
                    "user.account.reset_password" | "user.mfa.factor.reset_all"
                )
            })
            .collect();
        assert_eq!(
            resets.len(),
            5,
            "2 passwords + 2 factor resets + 1 support-tool reset"
        );
        for r in &resets {
            let after = r.published() - initiated;
            assert!(
                after > Duration::zero() && after <= Duration::minutes(25),
                "{after}"
            );
        }
        let ended = of_type(&events, "user.session.impersonation.end")[0].published();
        assert!(ended - initiated <= Duration::minutes(25));
        // Impersonated actions: the admin as actor, the engineer as originalPrincipal, from an
        // IP/ASN the admin never uses.
        let admin = &org.users[org.first_admin(AdminRole::SuperAdmin).unwrap().user];
        let impersonated: Vec<_> = resets
            .iter()
            .filter(|e| e.actor().id == Some(admin.id.as_str()))
            .collect();
        assert_eq!(impersonated.len(), 4);
        for e in &impersonated {
            assert_eq!(
                e.value_at("debugContext.debugData.originalPrincipal.alternateId")
                    .and_then(|v| v.as_str()),
                Some(t.actor.as_str())
            );
            assert_ne!(e.client_ip(), Some(admin.home_ip.as_str()));
            assert_ne!(e.as_number(), Some(i64::from(admin.home_isp.asn)));
        }
        // The support-tool reset: system@okta.com, transaction "unknown", no client.
        let tool: Vec<_> = resets
            .iter()
            .filter(|e| e.actor().alternate_id == Some("system@okta.com"))
            .collect();
        assert_eq!(tool.len(), 1);
        assert_eq!(tool[0].transaction_id(), Some("unknown"));
        assert_eq!(tool[0].user_agent(), None);
        assert_eq!(tool[0].client_country(), None);
        assert!(!of_type(&events, "support.org.view").is_empty());
        assert!(!of_type(&events, "support.org.update").is_empty());
        let classes: BTreeMap<&str, ActorClass> = t
            .affected_users
            .iter()
            .map(|a| (a.login.as_str(), a.actor_class))
            .collect();
        assert_eq!(classes.len(), 3);
        assert_eq!(
            classes
                .values()
                .filter(|c| **c == ActorClass::Impersonation)
                .count(),
            2
        );
        assert_eq!(
            classes
                .values()
                .filter(|c| **c == ActorClass::OktaSupport)
                .count(),
            1
        );
        for r in &resets {
            let target = r.targets().find(|t| t.kind == Some("User")).unwrap();
            let class = classes[target.alternate_id.unwrap()];
            let expected = if r.actor().alternate_id == Some("system@okta.com") {
                ActorClass::OktaSupport
            } else {
                ActorClass::Impersonation
            };
            assert_eq!(class, expected);
        }
        assert!(plan.changes.iter().any(|c| matches!(&c.change, DirectoryChange::SupportAccess { enabled: true, expiration: Some(x), .. } if *x > initiated)));
        assert_eq!(
            plan.changes
                .iter()
                .filter(|c| matches!(c.change, DirectoryChange::PasswordChanged { .. }))
                .count(),
            3
        );
        assert_eq!(
            plan.changes
                .iter()
                .filter(|c| matches!(c.change, DirectoryChange::ResetFactors { .. }))
                .count(),
            2
        );
    }
}

#[test]
fn mfa_fatigue_denies_then_accepts_from_a_new_country() {
    let org = org();
    for seed in 0..6 {
        let (plan, events) = plan_one(&org, "mfa-fatigue", seed);
        let victim = user(&org, &plan.truth[0].actor);
        let denies: Vec<_> = events
            .iter()
            .filter(|e| {
                e.event_type() == "user.authentication.auth_via_mfa"
                    && e.outcome_result() == Some("FAILURE")
                    && e.outcome_reason() == Some("INVALID_CREDENTIALS")
                    && e.debug_str("factor") == Some("OKTA_VERIFY_PUSH")
            })
            .collect();
        assert!(denies.len() >= 9, "{}", denies.len());
        assert_eq!(
            of_type(&events, "user.mfa.okta_verify.deny_push").len(),
            denies.len()
        );
        let first = denies.first().unwrap().published();
        let last = denies.last().unwrap().published();
        assert!(last - first <= Duration::minutes(10), "{}", last - first);
        assert!(denies
            .iter()
            .all(|e| e.actor().id == Some(victim.id.as_str())));
        let accept = events
            .iter()
            .find(|e| {
                e.event_type() == "user.authentication.auth_via_mfa"
                    && e.outcome_result() == Some("SUCCESS")
            })
            .unwrap();
        assert!(accept.published() > last && accept.published() - last <= Duration::minutes(10));
        assert_ne!(accept.client_country(), Some(victim.home.country.as_ref()));
        assert!(accept
            .debug_str("behaviors")
            .unwrap()
            .contains("New Country=POSITIVE"));
        let started = of_type(&events, "user.session.start");
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].outcome_result(), Some("SUCCESS"));
        let session = started[0].external_session_id().unwrap();
        let pushes = events
            .iter()
            .filter(|e| {
                e.event_type() == "system.push.send_factor_verify_push"
                    && e.external_session_id() == Some(session)
            })
            .count();
        assert!(pushes > 10, "{pushes}");
        assert!(plan.changes.is_empty() && plan.truth[0].affected_users.is_empty());
    }
}

#[test]
fn password_spray_is_one_ip_against_many_users() {
    let org = org();
    for seed in 0..6 {
        let (plan, events) = plan_one(&org, "password-spray", seed);
        let ips: HashSet<_> = events.iter().filter_map(|e| e.client_ip()).collect();
        assert_eq!(ips.len(), 1);
        assert_eq!(plan.truth[0].actor, *ips.iter().next().unwrap());
        let asns: HashSet<_> = events.iter().filter_map(|e| e.as_number()).collect();
        assert_eq!(asns.len(), 1);
        let failures: Vec<_> = events
            .iter()
            .filter(|e| {
                e.event_type() == "user.session.start" && e.outcome_result() == Some("FAILURE")
            })
            .collect();
        let mut per_user: HashMap<&str, usize> = HashMap::new();
        for e in &failures {
            *per_user.entry(e.actor().alternate_id.unwrap()).or_default() += 1;
        }
        assert!(per_user.len() >= 30, "{} users", per_user.len());
        assert!(failures.len() >= 15);
        assert!(per_user.values().all(|n| *n <= 8));
        let unknown = failures
            .iter()
            .filter(|e| e.actor().id == Some("unknown"))
            .count();
        assert!(unknown >= 1, "guessed logins");
        let span = failures.last().unwrap().published() - failures.first().unwrap().published();
        assert!(
            span >= Duration::minutes(5) && span <= Duration::hours(1),
            "{span}"
        );
        // > 9 distinct users in some 5-minute window.
        let busiest = failures
            .iter()
            .map(|a| {
                failures
                    .iter()
                    .filter(|b| {
                        b.published() >= a.published()
                            && b.published() - a.published() < Duration::minutes(5)
                    })
                    .map(|b| b.actor().alternate_id)
                    .collect::<HashSet<_>>()
                    .len()
            })
            .max()
            .unwrap();
        assert!(busiest > 9, "{busiest}");
        let successes = events
            .iter()
            .filter(|e| {
                e.event_type() == "user.authentication.verify"
                    && e.outcome_result() == Some("SUCCESS")
            })
            .count();
        assert!((1..=5).contains(&successes), "{successes}");
        assert!(successes * 10 < failures.len());
    }
}

#[test]
fn session_hijack_replays_the_session_from_another_ip_asn_and_os() {
    let org = org();
    for seed in 0..6 {
        let (plan, events) = plan_one(&org, "session-hijack", seed);
        let victim = user(&org, &plan.truth[0].actor);
        let mut by_session: HashMap<&str, Vec<&LogEvent>> = HashMap::new();
        for e in &events {
            by_session
                .entry(e.external_session_id().unwrap())
                .or_default()
                .push(e);
        }
        assert_eq!(by_session.len(), 1, "one session, replayed");
        let session = by_session.values().next().unwrap();
        let clients: HashSet<_> = session
            .iter()
            .map(|e| {
                (
                    e.client_ip(),
                    e.as_number(),
                    e.str_at("client.userAgent.os"),
                )
            })
            .collect();
        assert_eq!(clients.len(), 2, "{clients:?}");
        let mut it = clients.iter();
        let (a, b) = (it.next().unwrap(), it.next().unwrap());
        assert!(a.0 != b.0 && a.1 != b.1 && a.2 != b.2, "{a:?} {b:?}");
        let hashes: HashSet<_> = session
            .iter()
            .filter_map(|e| e.debug_str("dtHash"))
            .collect();
        assert_eq!(hashes, HashSet::from([victim.device_token_hash.as_str()]));
        let bad = malicious(&plan, &events);
        assert!(bad.len() >= 3);
        assert!(bad
            .iter()
            .all(|e| e.client_ip() != Some(victim.home_ip.as_str())));
        let first_bad = bad.iter().map(|e| e.published()).min().unwrap();
        let own_last = events
            .iter()
            .filter(|e| e.client_ip() == Some(victim.home_ip.as_str()))
            .map(|e| e.published())
            .max()
            .unwrap();
        assert!(first_bad > own_last);
    }
}

#[test]
fn admin_takeover_follows_the_cross_tenant_chain() {
    let org = org();
    let super_admin = &org.users[org.first_admin(AdminRole::SuperAdmin).unwrap().user];
    for seed in 0..6 {
        let (plan, events) = plan_one(&org, "admin-takeover", seed);
        let t = &plan.truth[0];
        assert_eq!(t.actor, super_admin.login);
        let at = |event_type: &str| {
            of_type(&events, event_type)
                .first()
                .map(|e| e.published())
                .unwrap_or_else(|| panic!("no {event_type}"))
        };
        let reset = of_type(&events, "user.mfa.factor.reset_all")[0];
        let desk = org.user_by_id(reset.actor().id.unwrap()).unwrap();
        assert_eq!(desk.admin_role, Some(AdminRole::HelpDeskAdmin));
        assert_eq!(
            reset.targets().next().unwrap().id,
            Some(super_admin.id.as_str())
        );
        let console = events
            .iter()
            .find(|e| {
                e.event_type() == "user.session.access_admin_app" && e.is_proxy() == Some(true)
            })
            .unwrap();
        assert_eq!(console.actor().id, Some(super_admin.id.as_str()));
        let grant = of_type(&events, "user.account.privilege.grant")[0];
        assert_eq!(
            grant.debug_str("privilegeGranted"),
            Some("Super administrator")
        );
        let update = of_type(&events, "policy.rule.update")[0];
        let change =
            update.value_at("target").unwrap().as_array().unwrap()[1]["changeDetails"].clone();
        let mode = |side: &str| -> String {
            let raw = change[side]["policyRuleActionJson"].as_str().unwrap();
            let v: serde_json::Value = serde_json::from_str(raw).unwrap();
            v["appSignOn"]["verificationMethod"]["factorMode"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!((mode("from").as_str(), mode("to").as_str()), ("2FA", "1FA"));
        let idp = of_type(&events, "system.idp.lifecycle.create")[0];
        let idp_id = idp.targets().next().unwrap().id.unwrap().to_string();
        let via_idp = of_type(&events, "user.authentication.auth_via_IDP");
        assert_eq!(via_idp.len(), 2);
        for e in &via_idp {
            assert_eq!(
                e.str_at("authenticationContext.issuer.id"),
                Some(idp_id.as_str())
            );
        }
        let order = [
            reset.published(),
            console.published(),
            at("user.account.privilege.grant"),
            at("policy.rule.update"),
            at("system.idp.lifecycle.create"),
            at("user.authentication.auth_via_IDP"),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert_eq!(t.affected_users.len(), 1);
        assert_eq!(t.affected_users[0].user_id, super_admin.id);
        assert_eq!(t.affected_users[0].actor_class, ActorClass::HelpDesk);
        let kinds: Vec<&str> = plan
            .changes
            .iter()
            .map(|c| match c.change {
                DirectoryChange::ResetFactors { .. } => "reset",
                DirectoryChange::GrantUserRole {
                    role: AdminRole::SuperAdmin,
                    ..
                } => "grant",
                DirectoryChange::UpdatePolicyRule {
                    require_factor: false,
                    ..
                } => "downgrade",
                DirectoryChange::CreateIdp { .. } => "idp",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["reset", "grant", "downgrade", "idp"]);
    }
}

#[test]
fn api_token_is_created_at_an_odd_hour_from_a_new_ip_then_used() {
    let org = org();
    for seed in 0..6 {
        let (plan, events) = plan_one(&org, "api-token-persistence", seed);
        let admin = user(&org, &plan.truth[0].actor);
        let created = of_type(&events, "system.api_token.create");
        assert_eq!(created.len(), 1);
        let created = created[0];
        let local_hour = (created.published() + admin.home.utc_offset()).hour();
        assert!((2..=5).contains(&local_hour), "{local_hour}");
        assert_eq!(created.debug_str("networkConnection"), Some("ANYWHERE"));
        let ip = created.client_ip().unwrap();
        assert_ne!(ip, admin.home_ip);
        assert!(org
            .offices
            .iter()
            .all(|o| !o.egress_ips.iter().any(|e| e == ip)));
        let token = created.targets().next().unwrap();
        assert_eq!(token.kind, Some("Token"));
        let token_id = token.id.unwrap();
        let used: Vec<_> = events
            .iter()
            .filter(|e| e.str_at("transaction.detail.requestApiTokenId") == Some(token_id))
            .collect();
        assert!(used.len() >= 3);
        assert!(used
            .iter()
            .all(|e| e.published() > created.published() && e.client_ip() == Some(ip)));
        assert!(plan.changes.iter().any(|c| matches!(&c.change, DirectoryChange::CreateApiToken { id, network_connection, .. } if id == token_id && network_connection == "ANYWHERE")));
    }
}

#[test]
fn impossible_travel_is_faster_than_any_airliner() {
    let org = org();
    for seed in 0..6 {
        let (_, events) = plan_one(&org, "impossible-travel", seed);
        let starts: Vec<_> = events
            .iter()
            .filter(|e| {
                e.event_type() == "user.session.start" && e.outcome_result() == Some("SUCCESS")
            })
            .collect();
        assert_eq!(starts.len(), 2);
        assert_eq!(starts[0].actor().id, starts[1].actor().id);
        assert_ne!(starts[0].client_country(), starts[1].client_country());
        let km = distance_km(
            starts[0].client_geolocation().unwrap(),
            starts[1].client_geolocation().unwrap(),
        );
        let hours =
            (starts[1].published() - starts[0].published()).num_milliseconds() as f64 / 3.6e6;
        assert!(hours > 0.0 && hours < 0.5, "{hours}");
        assert!(km / hours > 900.0, "{km} km in {hours} h");
        assert_eq!(starts[1].is_proxy(), Some(false));
        assert!(starts[1]
            .debug_str("behaviors")
            .unwrap()
            .contains("Velocity=POSITIVE"));
    }
}

#[test]
fn brute_force_fails_ten_times_in_fifteen_minutes_then_locks() {
    let org = org();
    for seed in 0..6 {
        let (plan, events) = plan_one(&org, "brute-force", seed);
        let failures: Vec<_> = of_type(&events, "user.session.start");
        assert!(
            failures.len() >= 10
                && failures
                    .iter()
                    .all(|e| e.outcome_reason() == Some("INVALID_CREDENTIALS"))
        );
        let span = failures.last().unwrap().published() - failures[0].published();
        assert!(span <= Duration::minutes(15), "{span}");
        let lock = of_type(&events, "user.account.lock");
        assert_eq!(lock.len(), 1);
        assert!(lock[0].published() > failures.last().unwrap().published());
        assert_eq!(
            lock[0].actor().alternate_id,
            Some(plan.truth[0].actor.as_str())
        );
        assert!(
            matches!(&plan.changes[..], [c] if matches!(&c.change, DirectoryChange::LockUser { user_id } if Some(user_id.as_str()) == lock[0].actor().id))
        );
    }
}

#[test]
fn group_admin_adds_to_an_admin_group_without_a_privilege_event() {
    let org = org();
    for seed in 0..6 {
        let (plan, events) = plan_one(&org, "group-admin", seed);
        let adds = of_type(&events, "group.user_membership.add");
        assert_eq!(adds.len(), 1);
        let group_id = adds[0]
            .targets()
            .find(|t| t.kind == Some("UserGroup"))
            .unwrap()
            .id
            .unwrap();
        let group = org.groups.iter().find(|g| g.id == group_id).unwrap();
        assert!(matches!(group.kind, GroupKind::Admin(_)));
        assert!(events.iter().all(|e| !e.event_type().contains("privilege")));
        let member = adds[0]
            .targets()
            .find(|t| t.kind == Some("User"))
            .unwrap()
            .id
            .unwrap();
        assert!(
            matches!(&plan.changes[..], [c] if c.change == DirectoryChange::AddGroupMember { group_id: group_id.into(), user_id: member.into() })
        );
        let used = events
            .iter()
            .find(|e| {
                e.event_type() == "user.session.access_admin_app" && e.actor().id == Some(member)
            })
            .unwrap();
        assert!(used.published() > adds[0].published());
    }
}

#[test]
fn threat_insight_flags_and_blocks_one_ip() {
    let org = org();
    let (plan, events) = plan_one(&org, "threat-insight", 3);
    let detected = of_type(&events, "security.threat.detected");
    assert!(detected.len() >= 4);
    for e in &detected {
        assert_eq!(e.actor().kind, Some("IP address"));
        assert_eq!(e.actor().id, Some(plan.truth[0].actor.as_str()));
        assert_eq!(e.outcome_result(), Some("DENY"));
        assert_eq!(e.debug_str("threatSuspected"), Some("true"));
        let detections: serde_json::Value =
            serde_json::from_str(e.debug_str("threatDetections").unwrap()).unwrap();
        assert!(detections.get("Password Spray").is_some());
    }
    let ips: HashSet<_> = events.iter().filter_map(|e| e.client_ip()).collect();
    assert_eq!(ips.len(), 1);
}

#[test]
fn injected_into_the_background_every_scenario_event_comes_out_in_order() {
    let config = OrgConfig {
        users: 300,
        ..OrgConfig::default()
    };
    let org = Org::build(&config);
    let start = config.start;
    let end = start + Duration::days(4);
    let all: Vec<String> = names().iter().map(|n| n.to_string()).collect();
    let plan = scenario::plan(&org, &all, start, end, 9).unwrap();
    let wanted: HashSet<String> = plan.events.iter().map(|e| e.uuid.clone()).collect();
    let mut generator = Generator::new(org, start);
    for e in plan.events {
        generator.inject(e);
    }
    let mut last = None;
    let mut found = 0;
    for g in generator.take_while(|g| g.published < end) {
        LogEvent::parse(&g.json).expect("parses");
        assert!(last.is_none_or(|l| l <= g.published));
        last = Some(g.published);
        found += usize::from(wanted.contains(&g.uuid));
    }
    assert_eq!(found, wanted.len());
}
