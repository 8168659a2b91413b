//! Directory tests: the management API's view is consistent with the generated org (users with
//! status, lastLogin and passwordChanged; groups and members; admins direct and group-derived;
//! custom roles), every posture check the audit runs (issue 8) passes on `Posture::Hardened`
//! and fails on `Posture::Weak`, and scenario changes (privilege grant, admin-group membership,
//! support access, IdP, API token, MFA downgrade, resets, lockout, new user) show up.

#![allow(clippy::unwrap_used)]

use chrono::Duration;
use serde_json::Value;
use sim::directory::{Collection, Directory, DirectoryError, Posture, Resource};
use sim::generate::{AdminRole, GroupKind, Org, OrgConfig};
use sim::scenario::{self, DirectoryChange, TimedChange};
use std::collections::{BTreeSet, HashSet};

fn org() -> Org {
    Org::build(&OrgConfig::default())
}

fn directory(posture: Posture) -> (Org, Directory) {
    let org = org();
    let mut d = Directory::new(&org, posture);
    d.set_now(org.config.start + Duration::days(3));
    (org, d)
}

fn list(d: &Directory, c: Collection) -> Vec<Value> {
    d.list(&c).unwrap_or_else(|e| panic!("{c:?}: {e}"))
}

fn s<'v>(v: &'v Value, pointer: &str) -> &'v str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {v}"))
}

fn policy(d: &Directory, kind: &str, name: &str) -> (Value, Vec<Value>) {
    let policies = list(d, Collection::Policies(kind.into()));
    let p = policies
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} policy {name}"));
    let rules = list(d, Collection::PolicyRules(s(&p, "/id").into()));
    (p, rules)
}

/// Users holding `role`, directly or through a group, as the audit computes them.
fn holders(d: &Directory, role: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in list(d, Collection::AssigneesUsers) {
        let id = s(&a, "/id").to_string();
        if list(d, Collection::UserRoles(id.clone()))
            .iter()
            .any(|r| r["type"] == role)
        {
            out.insert(id);
        }
    }
    out
}

// ---- the posture checks of issue 8, written the way the audit reads the API ----

fn support_access_off(d: &Directory) -> bool {
    let v = d.get(&Resource::OktaSupport).unwrap();
    v["support"] == "DISABLED"
}

fn admin_console_requires_mfa(d: &Directory) -> bool {
    let (_, rules) = policy(d, "ACCESS_POLICY", "Okta Admin Console");
    rules.iter().all(|r| {
        r.pointer("/actions/appSignOn/access") == Some(&Value::from("DENY"))
            || r.pointer("/actions/appSignOn/verificationMethod/factorMode")
                == Some(&Value::from("2FA"))
    })
}

/// Groups no MFA-requiring sign-on rule covers.
fn groups_without_mfa(d: &Directory, org: &Org) -> Vec<String> {
    let (_, rules) = policy(d, "OKTA_SIGN_ON", "Default Policy");
    let covered: HashSet<String> = rules
        .iter()
        .filter(|r| r.pointer("/actions/signon/requireFactor") == Some(&Value::Bool(true)))
        .flat_map(|r| {
            r.pointer("/conditions/people/groups/include")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    if covered.contains(&org.groups[Org::EVERYONE].id) {
        return Vec::new();
    }
    org.groups
        .iter()
        .filter(|g| !covered.contains(&g.id))
        .map(|g| g.name.clone())
        .collect()
}

fn password_policy_strong(d: &Directory) -> bool {
    let (p, _) = policy(d, "PASSWORD", "Default Policy");
    let n = |ptr: &str| p.pointer(ptr).and_then(Value::as_i64).unwrap_or(-1);
    n("/settings/password/complexity/minLength") >= 12
        && ["minLowerCase", "minUpperCase", "minNumber", "minSymbol"]
            .iter()
            .all(|k| n(&format!("/settings/password/complexity/{k}")) >= 1)
        && p.pointer("/settings/password/complexity/dictionary/common/exclude")
            == Some(&Value::Bool(true))
        && n("/settings/password/age/historyCount") >= 5
        && (1..=10).contains(&n("/settings/password/lockout/maxAttempts"))
}

fn few_super_admins(d: &Directory) -> bool {
    let admins: BTreeSet<String> = list(d, Collection::AssigneesUsers)
        .iter()
        .map(|a| s(a, "/id").to_string())
        .collect();
    let supers = holders(d, "SUPER_ADMIN");
    !supers.is_empty() && supers.len() <= 15 && supers.len() * 2 <= admins.len()
}

fn no_weak_factors(d: &Directory) -> bool {
    let weak = ["phone_number", "okta_email", "security_question"];
    let authenticators_off = list(d, Collection::Authenticators)
        .iter()
        .filter(|a| weak.contains(&s(a, "/key")))
        .all(|a| a["status"] == "INACTIVE");
    let (p, _) = policy(d, "MFA_ENROLL", "Default Policy");
    let enrollment_off = p["settings"]["authenticators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| weak.contains(&s(a, "/key")))
        .all(|a| a["enroll"]["self"] == "NOT_ALLOWED");
    authenticators_off && enrollment_off
}

fn admin_sessions_short(d: &Directory, org: &Org) -> bool {
    let admin_groups: HashSet<&str> = org
        .groups
        .iter()
        .filter(|g| matches!(g.kind, GroupKind::Admin(_)))
        .map(|g| g.id.as_str())
        .collect();
    let (_, rules) = policy(d, "OKTA_SIGN_ON", "Default Policy");
    let rule = rules
        .iter()
        .find(|r| {
            r.pointer("/conditions/people/groups/include")
                .and_then(Value::as_array)
                .is_some_and(|g| {
                    g.iter()
                        .any(|g| g.as_str().is_some_and(|g| admin_groups.contains(g)))
                })
        })
        .expect("an admin rule");
    let idle = rule
        .pointer("/actions/signon/session/maxSessionIdleMinutes")
        .and_then(Value::as_i64)
        .unwrap();
    let life = rule
        .pointer("/actions/signon/session/maxSessionLifetimeMinutes")
        .and_then(Value::as_i64)
        .unwrap();
    idle <= 15
        && life > 0
        && life <= 720
        && rule.pointer("/actions/signon/requireFactor") == Some(&Value::Bool(true))
}

fn api_tokens_restricted(d: &Directory) -> bool {
    list(d, Collection::ApiTokens)
        .iter()
        .all(|t| t["network"]["connection"] == "ZONE")
}

fn no_external_idps(d: &Directory) -> bool {
    list(d, Collection::Idps).is_empty()
}

fn threat_insight_blocks(d: &Directory) -> bool {
    d.get(&Resource::ThreatInsight).unwrap()["action"] == "block"
}

#[test]
fn every_posture_check_passes_hardened_and_fails_weak() {
    let (org, hardened) = directory(Posture::Hardened);
    let (_, weak) = directory(Posture::Weak);
    type Check = fn(&Directory, &Org) -> bool;
    let checks: [(&str, Check); 10] = [
        ("support access off", |d, _| support_access_off(d)),
        ("admin console requires MFA", |d, _| {
            admin_console_requires_mfa(d)
        }),
        ("every group needs MFA", |d, org| {
            groups_without_mfa(d, org).is_empty()
        }),
        ("password policy", |d, _| password_policy_strong(d)),
        ("few super admins", |d, _| few_super_admins(d)),
        ("no weak factors", |d, _| no_weak_factors(d)),
        ("short admin sessions", |d, org| {
            admin_sessions_short(d, org)
        }),
        ("API tokens restricted", |d, _| api_tokens_restricted(d)),
        ("no external IdPs", |d, _| no_external_idps(d)),
        ("ThreatInsight blocks", |d, _| threat_insight_blocks(d)),
    ];
    for (name, check) in checks {
        assert!(check(&hardened, &org), "hardened fails: {name}");
        assert!(!check(&weak, &org), "weak passes: {name}");
    }
    let uncovered = groups_without_mfa(&weak, &org);
    assert!(uncovered.contains(&"Sales".to_string()), "{uncovered:?}");
    assert!(!list(&weak, Collection::ApiTokens).is_empty());
}

#[test]
fn users_match_the_org() {
    let (org, d) = directory(Posture::Hardened);
    let now = d.now();
    let users = list(&d, Collection::Users);
    let expected: BTreeSet<&str> = org
        .users
        .iter()
        .filter(|u| u.created <= now && u.deactivated.is_none_or(|t| t > now))
        .map(|u| u.id.as_str())
        .collect();
    let listed: Vec<&str> = users.iter().map(|u| s(u, "/id")).collect();
    assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), expected);
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "sorted by id");
    let keys: Vec<&str> = users[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "status",
            "created",
            "activated",
            "statusChanged",
            "lastLogin",
            "lastUpdated",
            "passwordChanged",
            "type",
            "profile",
            "credentials",
            "_links"
        ]
    );
    for u in &users {
        assert_eq!(u["status"], "ACTIVE");
        let login = s(u, "/profile/login");
        let user = org.users.iter().find(|x| x.login == login).unwrap();
        assert_eq!(s(u, "/id"), user.id);
        let last_login = s(u, "/lastLogin");
        assert!(
            last_login < now.to_rfc3339().as_str() && last_login > s(u, "/created"),
            "{u}"
        );
        assert!(s(u, "/passwordChanged") >= s(u, "/created"));
    }
    // Leavers are deprovisioned (not listed, still readable), joiners appear once created.
    let mut later = Directory::new(&org, Posture::Hardened);
    later.set_now(org.config.start + Duration::days(70));
    let leaver = org
        .users
        .iter()
        .find(|u| u.deactivated.is_some())
        .expect("a leaver");
    let v = later.get(&Resource::User(leaver.login.clone())).unwrap();
    assert_eq!(v["status"], "DEPROVISIONED");
    assert!(list(&later, Collection::Users)
        .iter()
        .all(|u| u["id"] != leaver.id.as_str()));
    let joiner = org
        .users
        .iter()
        .find(|u| u.created > org.config.start)
        .expect("a joiner");
    let early = Directory::new(&org, Posture::Hardened);
    assert!(matches!(
        early.get(&Resource::User(joiner.id.clone())),
        Err(DirectoryError::NotFound(_))
    ));
    assert!(later.get(&Resource::User(joiner.id.clone())).is_ok());
}

#[test]
fn groups_members_and_admin_roster() {
    let (org, d) = directory(Posture::Hardened);
    let groups = list(&d, Collection::Groups);
    assert_eq!(groups.len(), org.groups.len());
    let everyone = list(
        &d,
        Collection::GroupMembers(org.groups[Org::EVERYONE].id.clone()),
    );
    assert_eq!(everyone.len(), list(&d, Collection::Users).len());
    // Direct super admin, group-derived org admins and help desk.
    let supers = holders(&d, "SUPER_ADMIN");
    let first = &org.users[org.first_admin(AdminRole::SuperAdmin).unwrap().user];
    assert_eq!(supers, BTreeSet::from([first.id.clone()]));
    for admin in &org.admins {
        let user = &org.users[admin.user];
        let roles = list(&d, Collection::UserRoles(user.id.clone()));
        let role = roles
            .iter()
            .find(|r| r["type"] == admin.role.api_type())
            .unwrap();
        let expected = if admin.role == AdminRole::SuperAdmin {
            "USER"
        } else {
            "GROUP"
        };
        assert_eq!(role["assignmentType"], expected, "{role}");
        if expected == "GROUP" {
            let href = s(role, "/_links/assignee/href");
            let group = org.groups.iter().find(|g| href.ends_with(&g.id)).unwrap();
            assert_eq!(group.kind, GroupKind::Admin(admin.role));
            let members = list(&d, Collection::GroupMembers(group.id.clone()));
            assert!(members.iter().any(|m| m["id"] == user.id.as_str()));
            let group_roles = list(&d, Collection::GroupRoles(group.id.clone()));
            assert_eq!(group_roles[0]["type"], admin.role.api_type());
        }
    }
    let assignees: BTreeSet<String> = list(&d, Collection::AssigneesUsers)
        .iter()
        .map(|a| s(a, "/id").to_string())
        .collect();
    let admins: BTreeSet<String> = org
        .admins
        .iter()
        .map(|a| org.users[a.user].id.clone())
        .collect();
    assert_eq!(assignees, admins);
    // One help-desk admin also holds the custom role on a resource set.
    let custom: Vec<Value> = admins
        .iter()
        .flat_map(|id| list(&d, Collection::UserRoles(id.clone())))
        .filter(|r| r["type"] == "CUSTOM")
        .collect();
    assert_eq!(custom.len(), 1);
    assert_eq!(
        custom[0]["resource-set"],
        list(&d, Collection::ResourceSets)[0]["id"]
    );
    assert_eq!(custom[0]["role"], list(&d, Collection::IamRoles)[0]["id"]);
    // Every app, and the service apps with no admin role in a hardened org.
    assert_eq!(
        list(&d, Collection::Apps).len(),
        org.apps.len() + org.service_clients.len()
    );
    for service in &org.service_clients {
        assert!(list(&d, Collection::ClientRoles(service.id.clone())).is_empty());
    }
    assert!(matches!(
        d.list(&Collection::GroupMembers("00gnope".into())),
        Err(DirectoryError::NotFound(_))
    ));
    assert!(matches!(
        d.list(&Collection::Policies("NOPE".into())),
        Err(DirectoryError::Invalid(_))
    ));
    assert!(list(&d, Collection::Policies("IDP_DISCOVERY".into())).is_empty());
    assert_eq!(list(&d, Collection::Zones).len(), org.zones.len());
}

#[test]
fn scenario_changes_show_in_the_directory() {
    let (org, mut d) = directory(Posture::Hardened);
    let start = org.config.start;
    let names: Vec<String> = scenario::SCENARIOS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let plan = scenario::plan(&org, &names, start, start + Duration::days(7), 3).unwrap();
    for timed in &plan.changes {
        d.apply_at(timed);
        let TimedChange { change, .. } = timed;
        match change {
            DirectoryChange::GrantUserRole { user_id, role } => {
                let roles = list(&d, Collection::UserRoles(user_id.clone()));
                assert!(roles
                    .iter()
                    .any(|r| r["type"] == role.api_type() && r["assignmentType"] == "USER"));
            }
            DirectoryChange::AddGroupMember { group_id, user_id } => {
                let members = list(&d, Collection::GroupMembers(group_id.clone()));
                assert!(members.iter().any(|m| m["id"] == user_id.as_str()));
                let roles = list(&d, Collection::UserRoles(user_id.clone()));
                assert!(roles.iter().any(|r| r["assignmentType"] == "GROUP"));
            }
            DirectoryChange::SupportAccess { case_number, .. } => {
                let v = d.get(&Resource::OktaSupport).unwrap();
                assert_eq!(v["support"], "ENABLED");
                assert_eq!(v["caseNumber"].as_str(), case_number.as_deref());
            }
            DirectoryChange::CreateIdp { id, .. } => {
                assert!(list(&d, Collection::Idps)
                    .iter()
                    .any(|i| i["id"] == id.as_str()));
            }
            DirectoryChange::CreateApiToken { id, .. } => {
                let tokens = list(&d, Collection::ApiTokens);
                let t = tokens.iter().find(|t| t["id"] == id.as_str()).unwrap();
                assert_eq!(t["network"]["connection"], "ANYWHERE");
            }
            DirectoryChange::UpdatePolicyRule {
                policy_id,
                rule_id,
                require_factor,
            } => {
                assert!(!require_factor);
                let rules = list(&d, Collection::PolicyRules(policy_id.clone()));
                let rule = rules.iter().find(|r| r["id"] == rule_id.as_str()).unwrap();
                assert_eq!(
                    rule["actions"]["appSignOn"]["verificationMethod"]["factorMode"],
                    "1FA"
                );
            }
            DirectoryChange::ResetFactors { user_id } => {
                assert!(list(&d, Collection::UserFactors(user_id.clone())).is_empty());
            }
            DirectoryChange::PasswordChanged { user_id } => {
                let v = d.get(&Resource::User(user_id.clone())).unwrap();
                assert!(s(&v, "/passwordChanged") >= org.config.start.to_rfc3339().as_str());
            }
            DirectoryChange::LockUser { user_id } => {
                assert_eq!(
                    d.get(&Resource::User(user_id.clone())).unwrap()["status"],
                    "LOCKED_OUT"
                );
            }
            DirectoryChange::CreateUser { user_id, login, .. } => {
                assert_eq!(
                    d.get(&Resource::User(login.clone())).unwrap()["id"],
                    user_id.as_str()
                );
            }
            DirectoryChange::RevokeUserRole { .. } => {}
        }
    }
    // The takeover leaves a hardened tenant failing checks it passed before.
    assert!(!no_external_idps(&d));
    assert!(!api_tokens_restricted(&d));
    // Support access was granted for 8 hours only; by the end of the week it has expired.
    d.set_now(start + Duration::days(7));
    assert!(support_access_off(&d));
    // The group-admin scenario's new admin is a super admin only through the group.
    let group_admin = plan
        .truth
        .iter()
        .find(|t| t.scenario == "group-admin")
        .unwrap();
    let (_, member) = plan
        .changes
        .iter()
        .find_map(|c| match &c.change {
            DirectoryChange::AddGroupMember { group_id, user_id }
                if org.groups.iter().any(|g| {
                    &g.id == group_id && g.kind == GroupKind::Admin(AdminRole::SuperAdmin)
                }) && !user_id.is_empty() =>
            {
                Some((group_id, user_id))
            }
            _ => None,
        })
        .unwrap();
    assert!(!group_admin.malicious_uuids.is_empty());
    let roles = list(&d, Collection::UserRoles(member.clone()));
    assert!(roles.iter().all(|r| r["assignmentType"] == "GROUP"));
    assert!(roles.iter().any(|r| r["type"] == "SUPER_ADMIN"));
}

#[test]
fn weak_users_have_sms_factors_and_hardened_users_do_not() {
    let (org, hardened) = directory(Posture::Hardened);
    let (_, weak) = directory(Posture::Weak);
    let count = |d: &Directory| {
        org.users
            .iter()
            .take(100)
            .filter(|u| {
                d.list(&Collection::UserFactors(u.id.clone()))
                    .is_ok_and(|f| f.iter().any(|f| f["factorType"] == "sms"))
            })
            .count()
    };
    assert_eq!(count(&hardened), 0);
    assert!(count(&weak) > 5);
}
