//! The directory as Okta's management API writes it: users, groups and members, apps, role
//! assignments (direct, group-derived, custom with a resource set), policies and their rules
//! (global session, password, authenticator enrollment, app sign-in), authenticators, factors,
//! API tokens, IdPs, network zones and the org settings, with Okta's field names, nesting,
//! `_links` and timestamp format. Values depend on the [`Posture`]: see the module docs of
//! [`super`] and docs/readme/sim-scenarios.md for what each posture sets.

use super::{Collection, Directory, DirectoryError, Posture, Resource};
use crate::generate::{ids, AdminRole, Factor, Group, GroupKind, Org, Policy, SignOnMode, User};
use chrono::{DateTime, Datelike, Duration, SecondsFormat, Utc, Weekday};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Okta's timestamp format: `2024-03-01T10:00:00.000Z`.
fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A stable id for an object identified by `parts` (role assignments, factors, ...).
fn derived_id(prefix: &str, parts: &[&str]) -> String {
    let hash = parts
        .iter()
        .flat_map(|p| p.bytes().chain([0]))
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    ids::okta_id(&mut ChaCha8Rng::seed_from_u64(hash), prefix)
}

/// Policy types `GET /api/v1/policies?type=` accepts.
const POLICY_TYPES: &[&str] = &[
    "OKTA_SIGN_ON",
    "PASSWORD",
    "MFA_ENROLL",
    "ACCESS_POLICY",
    "IDP_DISCOVERY",
    "PROFILE_ENROLLMENT",
    "POST_AUTH_SESSION",
    "ENTITY_RISK",
    "SESSION_VIOLATION_DETECTION",
    "DEVICE_SIGNAL_COLLECTION",
    "CLIENT_UPDATE",
    "IDENTITY_CLAIM_SOURCING",
];

fn role_label(role: AdminRole) -> &'static str {
    match role {
        AdminRole::SuperAdmin => "Super Administrator",
        AdminRole::OrgAdmin => "Organizational Administrator",
        AdminRole::HelpDeskAdmin => "Help Desk Administrator",
    }
}

impl Directory {
    fn base(&self) -> String {
        format!("https://{}", self.org.config.okta_domain)
    }

    fn hardened(&self) -> bool {
        self.posture == Posture::Hardened
    }

    /// When directory objects were set up (well before the activity).
    fn setup_time(&self) -> DateTime<Utc> {
        self.org.config.start - Duration::days(400)
    }

    /// `None` when the user does not exist yet.
    fn status(&self, user: &User) -> Option<&'static str> {
        let now = self.state.now;
        if user.created > now {
            return None;
        }
        if user.deactivated.is_some_and(|t| t <= now) {
            return Some("DEPROVISIONED");
        }
        if self.state.locked.contains(&user.id) {
            return Some("LOCKED_OUT");
        }
        Some("ACTIVE")
    }

    fn listed(&self, user: &User) -> bool {
        matches!(self.status(user), Some(s) if s != "DEPROVISIONED")
    }

    /// The user's last sign-in before the directory's clock: their last working day's start.
    fn last_login(&self, user: &User) -> Option<DateTime<Utc>> {
        let now = self.state.now;
        if now - user.created < Duration::hours(6) {
            return None;
        }
        let offset = user.home.utc_offset();
        let mut date = (now + offset).date_naive();
        for _ in 0..10 {
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                let at = crate::generate::org::local_time(date, offset, user.workday_start_minute);
                if at < now && at > user.created {
                    return Some(at);
                }
            }
            date -= Duration::days(1);
        }
        None
    }

    fn password_changed(&self, user: &User) -> DateTime<Utc> {
        if let Some(at) = self.state.password_changed.get(&user.id) {
            return *at;
        }
        // Some day between creation and the start, stable per user.
        let span = (self.org.config.start - user.created).num_hours().max(1);
        let hash = user
            .id
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        user.created + Duration::hours((hash % span as u64) as i64)
    }

    fn user_json(&self, user: &User) -> Option<Value> {
        let status = self.status(user)?;
        let base = self.base();
        let status_changed = match status {
            "DEPROVISIONED" => user.deactivated.unwrap_or(user.created),
            _ => user.created + Duration::minutes(2),
        };
        let last_updated = [
            Some(status_changed),
            self.state.password_changed.get(&user.id).copied(),
            self.state.factors_reset.get(&user.id).copied(),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(user.created);
        Some(json!({
            "id": user.id,
            "status": status,
            "created": ts(user.created),
            "activated": ts(user.created + Duration::minutes(2)),
            "statusChanged": ts(status_changed),
            "lastLogin": self.last_login(user).map(ts),
            "lastUpdated": ts(last_updated),
            "passwordChanged": ts(self.password_changed(user)),
            "type": {"id": self.state.ids.user_type},
            "profile": {
                "firstName": user.first_name,
                "lastName": user.last_name,
                "mobilePhone": null,
                "secondEmail": null,
                "login": user.login,
                "email": user.login,
            },
            "credentials": {
                "password": {},
                "provider": {"type": "OKTA", "name": "OKTA"},
            },
            "_links": {"self": {"href": format!("{base}/api/v1/users/{}", user.id)}},
        }))
    }

    fn created_user_json(&self, user: &super::CreatedUser) -> Value {
        json!({
            "id": user.id,
            "status": "ACTIVE",
            "created": ts(user.created),
            "activated": ts(user.created),
            "statusChanged": ts(user.created),
            "lastLogin": null,
            "lastUpdated": ts(user.created),
            "passwordChanged": ts(user.created),
            "type": {"id": self.state.ids.user_type},
            "profile": {
                "firstName": user.first_name,
                "lastName": user.last_name,
                "mobilePhone": null,
                "secondEmail": null,
                "login": user.login,
                "email": user.login,
            },
            "credentials": {
                "password": {},
                "provider": {"type": "OKTA", "name": "OKTA"},
            },
            "_links": {"self": {"href": format!("{}/api/v1/users/{}", self.base(), user.id)}},
        })
    }

    fn find_user(&self, id_or_login: &str) -> Result<Value, DirectoryError> {
        if let Some(user) = self
            .org
            .users
            .iter()
            .find(|u| u.id == id_or_login || u.login == id_or_login)
        {
            return self
                .user_json(user)
                .ok_or_else(|| DirectoryError::NotFound(format!("user {id_or_login}")));
        }
        self.state
            .created_users
            .iter()
            .find(|u| u.id == id_or_login || u.login == id_or_login)
            .map(|u| self.created_user_json(u))
            .ok_or_else(|| DirectoryError::NotFound(format!("user {id_or_login}")))
    }

    fn user_exists(&self, id: &str) -> bool {
        self.org
            .users
            .iter()
            .any(|u| u.id == id && self.status(u).is_some())
            || self.state.created_users.iter().any(|u| u.id == id)
    }

    /// Ids of a group's current members, sorted.
    fn members(&self, group: &Group) -> Vec<String> {
        let index = self.org.groups.iter().position(|g| g.id == group.id);
        let mut ids: Vec<String> = match group.kind {
            GroupKind::Everyone => self
                .org
                .users
                .iter()
                .filter(|u| self.listed(u))
                .map(|u| u.id.clone())
                .chain(self.state.created_users.iter().map(|u| u.id.clone()))
                .collect(),
            GroupKind::Department => self
                .org
                .users
                .iter()
                .filter(|u| Some(u.department) == index && self.listed(u))
                .map(|u| u.id.clone())
                .collect(),
            GroupKind::Admin(_) => self
                .state
                .admin_group_members
                .get(&group.id)
                .map(|m| m.iter().cloned().collect())
                .unwrap_or_default(),
        };
        if let Some(extra) = self.state.extra_members.get(&group.id) {
            ids.extend(extra.iter().cloned());
        }
        ids.sort();
        ids.dedup();
        ids
    }

    fn group_json(&self, group: &Group) -> Value {
        let created = self.setup_time();
        let (kind, description) = match group.kind {
            GroupKind::Everyone => ("BUILT_IN", "All users in your organization".to_string()),
            GroupKind::Department => ("OKTA_GROUP", format!("{} department", group.name)),
            GroupKind::Admin(role) => {
                ("OKTA_GROUP", format!("Holds the {} role", role_label(role)))
            }
        };
        let base = self.base();
        json!({
            "id": group.id,
            "created": ts(created),
            "lastUpdated": ts(created),
            "lastMembershipUpdated": ts(self.state.now.min(self.org.config.start)),
            "objectClass": ["okta:user_group"],
            "type": kind,
            "profile": {"name": group.name, "description": description},
            "_links": {
                "logo": [{"name": "medium", "href": "https://op1static.oktacdn.com/assets/img/logos/groups/okta-medium.png", "type": "image/png"}],
                "users": {"href": format!("{base}/api/v1/groups/{}/users", group.id)},
                "apps": {"href": format!("{base}/api/v1/groups/{}/apps", group.id)},
            },
        })
    }

    fn find_group(&self, id: &str) -> Result<&Group, DirectoryError> {
        self.org
            .groups
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| DirectoryError::NotFound(format!("group {id}")))
    }

    fn apps_json(&self) -> Vec<Value> {
        let created = self.setup_time();
        let base = self.base();
        let mut apps: Vec<Value> = self
            .org
            .apps
            .iter()
            .map(|app| {
                let mode = app.sign_on_mode.api_name();
                let mut v = json!({
                    "id": app.id,
                    "name": app.key,
                    "label": app.label,
                    "status": "ACTIVE",
                    "created": ts(created),
                    "lastUpdated": ts(created),
                    "signOnMode": mode,
                    "features": [],
                    "visibility": {"autoSubmitToolbar": false, "hide": {"iOS": false, "web": false}},
                    "_links": {"self": {"href": format!("{base}/api/v1/apps/{}", app.id)}},
                });
                if app.sign_on_mode == SignOnMode::OpenIdConnect {
                    v["credentials"] = json!({"oauthClient": {"client_id": app.id, "token_endpoint_auth_method": "client_secret_basic"}});
                    v["settings"] = json!({"oauthClient": {"application_type": "web", "grant_types": ["authorization_code"]}});
                }
                v
            })
            .collect();
        for service in &self.org.service_clients {
            apps.push(json!({
                "id": service.id,
                "name": "oidc_client",
                "label": service.name,
                "status": "ACTIVE",
                "created": ts(created),
                "lastUpdated": ts(created),
                "signOnMode": "OPENID_CONNECT",
                "features": [],
                "credentials": {"oauthClient": {"client_id": service.id, "token_endpoint_auth_method": "private_key_jwt"}},
                "settings": {"oauthClient": {"application_type": "service", "grant_types": ["client_credentials"]}},
                "_links": {"self": {"href": format!("{base}/api/v1/apps/{}", service.id)}},
            }));
        }
        apps.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        apps
    }

    fn role_json(
        &self,
        role: AdminRole,
        assignee: &str,
        via_group: Option<&str>,
        created: DateTime<Utc>,
    ) -> Value {
        let base = self.base();
        let (kind, href) = match via_group {
            Some(group) => ("GROUP", format!("{base}/api/v1/groups/{group}")),
            None => ("USER", format!("{base}/api/v1/users/{assignee}")),
        };
        json!({
            "id": derived_id("ra1", &[via_group.unwrap_or(assignee), role.api_type()]),
            "label": role_label(role),
            "type": role.api_type(),
            "status": "ACTIVE",
            "created": ts(created),
            "lastUpdated": ts(created),
            "assignmentType": kind,
            "_links": {"assignee": {"href": href}},
        })
    }

    /// The help-desk admin who also holds the custom role over the resource set.
    fn custom_role_holder(&self) -> Option<&User> {
        self.org
            .admins
            .iter()
            .rev()
            .find(|a| a.role == AdminRole::HelpDeskAdmin)
            .map(|a| &self.org.users[a.user])
    }

    fn custom_role_json(&self, user_id: &str) -> Value {
        let base = self.base();
        let ids = &self.state.ids;
        json!({
            "id": derived_id("irb", &[user_id, &ids.custom_role]),
            "label": "Help Desk Lite",
            "type": "CUSTOM",
            "status": "ACTIVE",
            "created": ts(self.setup_time()),
            "lastUpdated": ts(self.setup_time()),
            "assignmentType": "USER",
            "resource-set": ids.resource_set,
            "role": ids.custom_role,
            "_links": {
                "assignee": {"href": format!("{base}/api/v1/users/{user_id}")},
                "resource-set": {"href": format!("{base}/api/v1/iam/resource-sets/{}", ids.resource_set)},
                "role": {"href": format!("{base}/api/v1/iam/roles/{}", ids.custom_role)},
                "permissions": {"href": format!("{base}/api/v1/iam/roles/{}/permissions", ids.custom_role)},
            },
        })
    }

    fn user_roles(&self, user_id: &str) -> Vec<Value> {
        let mut roles: Vec<Value> = self
            .state
            .direct_roles
            .iter()
            .filter(|(u, _, _)| u == user_id)
            .map(|(_, role, at)| self.role_json(*role, user_id, None, *at))
            .collect();
        for group in &self.org.groups {
            if let GroupKind::Admin(role) = group.kind {
                if self
                    .state
                    .admin_group_members
                    .get(&group.id)
                    .is_some_and(|m| m.contains(user_id))
                {
                    roles.push(self.role_json(role, user_id, Some(&group.id), self.setup_time()));
                }
            }
        }
        if self.custom_role_holder().is_some_and(|u| u.id == user_id) {
            roles.push(self.custom_role_json(user_id));
        }
        roles
    }

    fn assignees(&self) -> Vec<Value> {
        let base = self.base();
        let org_id = &self.org.id;
        let mut users: Vec<&str> = self
            .org
            .users
            .iter()
            .map(|u| u.id.as_str())
            .chain(self.state.created_users.iter().map(|u| u.id.as_str()))
            .filter(|id| self.user_exists(id) && !self.user_roles(id).is_empty())
            .collect();
        users.sort_unstable();
        users
            .into_iter()
            .map(|id| {
                json!({
                    "id": id,
                    "orn": format!("orn:okta:directory:{org_id}:users:{id}"),
                    "_links": {
                        "self": {"href": format!("{base}/api/v1/users/{id}")},
                        "roles": {"href": format!("{base}/api/v1/users/{id}/roles")},
                    },
                })
            })
            .collect()
    }

    fn policy_json(
        &self,
        id: &str,
        kind: &str,
        name: &str,
        priority: u32,
        system: bool,
        settings: Option<Value>,
    ) -> Value {
        let base = self.base();
        let everyone = &self.org.groups[Org::EVERYONE].id;
        let mut v = json!({
            "id": id,
            "status": "ACTIVE",
            "name": name,
            "description": if system { "The default policy applies in all situations if no other policy applies." } else { "" },
            "priority": priority,
            "system": system,
            "conditions": {"people": {"groups": {"include": [everyone]}}},
            "created": ts(self.setup_time()),
            "lastUpdated": ts(self.setup_time()),
            "_links": {
                "self": {"href": format!("{base}/api/v1/policies/{id}")},
                "rules": {"href": format!("{base}/api/v1/policies/{id}/rules")},
            },
            "type": kind,
        });
        if kind == "ACCESS_POLICY" {
            v["conditions"] = Value::Null;
        }
        if let Some(settings) = settings {
            v["settings"] = settings;
        }
        v
    }

    fn password_settings(&self) -> Value {
        if self.hardened() {
            json!({
                "password": {
                    "complexity": {"minLength": 14, "minLowerCase": 1, "minUpperCase": 1, "minNumber": 1, "minSymbol": 1,
                        "excludeUsername": true, "excludeAttributes": ["firstName", "lastName"], "dictionary": {"common": {"exclude": true}}},
                    "age": {"maxAgeDays": 0, "expireWarnDays": 0, "minAgeMinutes": 60, "historyCount": 24},
                    "lockout": {"maxAttempts": 5, "autoUnlockMinutes": 60, "userLockoutNotificationChannels": ["EMAIL"], "showLockoutFailures": true},
                },
                "recovery": {"factors": {"recovery_question": {"status": "INACTIVE"}, "okta_email": {"status": "ACTIVE", "properties": {"recoveryToken": {"tokenLifetimeMinutes": 60}}}, "okta_sms": {"status": "INACTIVE"}, "okta_call": {"status": "INACTIVE"}}},
                "delegation": {"options": {"skipUnlock": false}},
            })
        } else {
            json!({
                "password": {
                    "complexity": {"minLength": 8, "minLowerCase": 0, "minUpperCase": 0, "minNumber": 0, "minSymbol": 0,
                        "excludeUsername": false, "excludeAttributes": [], "dictionary": {"common": {"exclude": false}}},
                    "age": {"maxAgeDays": 0, "expireWarnDays": 0, "minAgeMinutes": 0, "historyCount": 0},
                    "lockout": {"maxAttempts": 0, "autoUnlockMinutes": 0, "userLockoutNotificationChannels": [], "showLockoutFailures": false},
                },
                "recovery": {"factors": {"recovery_question": {"status": "ACTIVE", "properties": {"complexity": {"minLength": 4}}}, "okta_email": {"status": "ACTIVE", "properties": {"recoveryToken": {"tokenLifetimeMinutes": 10080}}}, "okta_sms": {"status": "ACTIVE"}, "okta_call": {"status": "ACTIVE"}}},
                "delegation": {"options": {"skipUnlock": false}},
            })
        }
    }

    fn enroll_settings(&self) -> Value {
        let weak = if self.hardened() {
            "NOT_ALLOWED"
        } else {
            "OPTIONAL"
        };
        json!({
            "type": "AUTHENTICATORS",
            "authenticators": [
                {"key": "okta_verify", "enroll": {"self": "REQUIRED"}},
                {"key": "webauthn", "enroll": {"self": "OPTIONAL"}},
                {"key": "google_otp", "enroll": {"self": "OPTIONAL"}},
                {"key": "okta_password", "enroll": {"self": "REQUIRED"}},
                {"key": "okta_email", "enroll": {"self": weak}},
                {"key": "phone_number", "enroll": {"self": weak}},
                {"key": "security_question", "enroll": {"self": weak}},
            ],
        })
    }

    fn policies(&self, kind: &str) -> Result<Vec<Value>, DirectoryError> {
        let org = &self.org;
        let ids = &self.state.ids;
        Ok(match kind {
            "OKTA_SIGN_ON" => vec![self.policy_json(
                &org.sign_on_policy.id,
                kind,
                &org.sign_on_policy.name,
                1,
                true,
                None,
            )],
            "PASSWORD" => vec![self.policy_json(
                &ids.password_policy,
                kind,
                "Default Policy",
                1,
                true,
                Some(self.password_settings()),
            )],
            "MFA_ENROLL" => vec![self.policy_json(
                &ids.enroll_policy,
                kind,
                "Default Policy",
                1,
                true,
                Some(self.enroll_settings()),
            )],
            "ACCESS_POLICY" => org
                .authentication_policies
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    self.policy_json(
                        &p.id,
                        kind,
                        &p.name,
                        i as u32 + 1,
                        i == Org::DEFAULT_ACCESS_POLICY,
                        None,
                    )
                })
                .collect(),
            other if POLICY_TYPES.contains(&other) => Vec::new(),
            other => {
                return Err(DirectoryError::Invalid(format!(
                    "type: {other} is not a policy type"
                )))
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn rule_json(
        &self,
        policy_id: &str,
        id: &str,
        name: &str,
        kind: &str,
        priority: u32,
        system: bool,
        conditions: Value,
        actions: Value,
    ) -> Value {
        let base = self.base();
        let updated = self
            .state
            .rule_requires_factor
            .get(id)
            .map(|(_, at)| *at)
            .unwrap_or_else(|| self.setup_time());
        json!({
            "id": id,
            "status": "ACTIVE",
            "name": name,
            "priority": priority,
            "created": ts(self.setup_time()),
            "lastUpdated": ts(updated),
            "system": system,
            "conditions": conditions,
            "actions": actions,
            "type": kind,
            "_links": {
                "self": {"href": format!("{base}/api/v1/policies/{policy_id}/rules/{id}")},
                "deactivate": {"href": format!("{base}/api/v1/policies/{policy_id}/rules/{id}/lifecycle/deactivate"), "hints": {"allow": ["POST"]}},
            },
        })
    }

    /// Whether rule `id` requires a second factor: the posture's default unless a scenario
    /// changed it.
    fn requires_factor(&self, id: &str, default: bool) -> bool {
        self.state
            .rule_requires_factor
            .get(id)
            .map_or(default, |(r, _)| *r)
    }

    fn sign_on_rules(&self, policy: &Policy) -> Vec<Value> {
        let org = &self.org;
        let hardened = self.hardened();
        let group_ids = |pred: &dyn Fn(&Group) -> bool| -> Vec<String> {
            org.groups
                .iter()
                .filter(|g| pred(g))
                .map(|g| g.id.clone())
                .collect()
        };
        let admin_groups = group_ids(&|g| matches!(g.kind, GroupKind::Admin(_)));
        let signon = |require: bool, idle: u32, lifetime: u32, persistent: bool| {
            json!({"signon": {
                "access": "ALLOW",
                "requireFactor": require,
                "factorPromptMode": if require { "ALWAYS" } else { "SESSION" },
                "rememberDeviceByDefault": false,
                "primaryFactor": "PASSWORD_IDP_ANY_FACTOR",
                "session": {"usePersistentCookie": persistent, "maxSessionIdleMinutes": idle, "maxSessionLifetimeMinutes": lifetime},
            }})
        };
        let conditions = |groups: Vec<String>| {
            json!({
                "people": {"users": {"exclude": []}, "groups": {"include": groups}},
                "network": {"connection": "ANYWHERE"},
                "authContext": {"authType": "ANY"},
            })
        };
        let admin_rule = &self.state.ids.admin_session_rule;
        let mut rules = vec![self.rule_json(
            &policy.id,
            admin_rule,
            "Admin sessions",
            "SIGN_ON",
            1,
            false,
            conditions(admin_groups),
            if hardened {
                signon(self.requires_factor(admin_rule, true), 15, 720, false)
            } else {
                signon(self.requires_factor(admin_rule, false), 120, 0, true)
            },
        )];
        // Hardened: every group must pass MFA. Weak: only Engineering and IT are covered.
        let mfa_groups = if hardened {
            vec![org.groups[Org::EVERYONE].id.clone()]
        } else {
            group_ids(&|g| g.name == "Engineering" || g.name == "IT")
        };
        for (i, rule) in policy.rules.iter().enumerate() {
            let last = i + 1 == policy.rules.len();
            let (groups, default_require) = if last {
                (vec![org.groups[Org::EVERYONE].id.clone()], hardened)
            } else {
                (mfa_groups.clone(), true)
            };
            rules.push(self.rule_json(
                &policy.id,
                &rule.id,
                &rule.name,
                "SIGN_ON",
                if last { 99 } else { i as u32 + 2 },
                last,
                conditions(groups),
                signon(
                    self.requires_factor(&rule.id, default_require),
                    120,
                    if hardened { 720 } else { 0 },
                    !hardened,
                ),
            ));
        }
        rules
    }

    fn access_rules(&self, index: usize, policy: &Policy) -> Vec<Value> {
        let hardened = self.hardened();
        let count = policy.rules.len();
        policy
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let last = i + 1 == count;
                let admin_console = index == Org::ADMIN_CONSOLE_POLICY;
                // Hardened: the console's catch-all denies; every other rule requires 2FA.
                let (access, default_2fa) = match (hardened, admin_console, last) {
                    (true, true, true) => ("DENY", true),
                    (true, _, _) => ("ALLOW", true),
                    (false, _, _) => ("ALLOW", false),
                };
                let two_factor = self.requires_factor(&rule.id, default_2fa);
                let verification = if two_factor {
                    json!({"factorMode": "2FA", "type": "ASSURANCE", "reauthenticateIn": if admin_console { "PT2H" } else { "PT12H" },
                        "constraints": [{"possession": {"phishingResistant": if admin_console { "REQUIRED" } else { "OPTIONAL" }, "deviceBound": "REQUIRED"}}]})
                } else {
                    json!({"factorMode": "1FA", "type": "ASSURANCE", "reauthenticateIn": "PT12H", "constraints": []})
                };
                let conditions = if last {
                    Value::Null
                } else {
                    json!({"people": {"groups": {"include": self.org.groups.iter().filter(|g| matches!(g.kind, GroupKind::Admin(_))).map(|g| g.id.clone()).collect::<Vec<_>>()}},
                        "network": {"connection": "ANYWHERE"}})
                };
                self.rule_json(
                    &policy.id,
                    &rule.id,
                    &rule.name,
                    "ACCESS_POLICY",
                    if last { 99 } else { i as u32 },
                    last,
                    conditions,
                    json!({"appSignOn": {"access": access, "verificationMethod": verification}}),
                )
            })
            .collect()
    }

    fn policy_rules(&self, id: &str) -> Result<Vec<Value>, DirectoryError> {
        let org = &self.org;
        let ids = &self.state.ids;
        let everyone =
            json!({"people": {"users": {"exclude": []}}, "network": {"connection": "ANYWHERE"}});
        if id == org.sign_on_policy.id {
            return Ok(self.sign_on_rules(&org.sign_on_policy));
        }
        if id == ids.password_policy {
            let unlock = if self.hardened() { "DENY" } else { "ALLOW" };
            return Ok(vec![self.rule_json(id, &ids.password_rule, "Default Rule", "PASSWORD", 1, true, everyone,
                json!({"passwordChange": {"access": "ALLOW"}, "selfServicePasswordReset": {"access": "ALLOW"}, "selfServiceUnlock": {"access": unlock}}))]);
        }
        if id == ids.enroll_policy {
            return Ok(vec![self.rule_json(
                id,
                &ids.enroll_rule,
                "Default Rule",
                "MFA_ENROLL",
                1,
                true,
                everyone,
                json!({"enroll": {"self": "CHALLENGE"}}),
            )]);
        }
        org.authentication_policies
            .iter()
            .enumerate()
            .find(|(_, p)| p.id == id)
            .map(|(i, p)| self.access_rules(i, p))
            .ok_or_else(|| DirectoryError::NotFound(format!("policy {id}")))
    }

    fn authenticators(&self) -> Vec<Value> {
        let base = self.base();
        let hardened = self.hardened();
        self.state
            .ids
            .authenticators
            .iter()
            .map(|(key, id)| {
                let (kind, name, weak) = match *key {
                    "okta_email" => ("email", "Email", true),
                    "okta_password" => ("password", "Password", false),
                    "okta_verify" => ("app", "Okta Verify", false),
                    "phone_number" => ("phone", "Phone", true),
                    "security_question" => ("security_question", "Security Question", true),
                    "webauthn" => ("security_key", "Security Key or Biometric", false),
                    _ => ("app", "Google Authenticator", false),
                };
                let status = if weak && hardened { "INACTIVE" } else { "ACTIVE" };
                let mut v = json!({
                    "type": kind,
                    "id": id,
                    "key": key,
                    "status": status,
                    "name": name,
                    "created": ts(self.setup_time()),
                    "lastUpdated": ts(self.setup_time()),
                    "_links": {
                        "self": {"href": format!("{base}/api/v1/authenticators/{id}"), "hints": {"allow": ["GET", "PUT"]}},
                        "methods": {"href": format!("{base}/api/v1/authenticators/{id}/methods"), "hints": {"allow": ["GET"]}},
                    },
                });
                match *key {
                    "okta_email" => v["settings"] = json!({"allowedFor": if hardened { "recovery" } else { "any" }, "tokenLifetimeInMinutes": 5}),
                    "phone_number" => v["settings"] = json!({"allowedFor": if hardened { "none" } else { "any" }}),
                    "security_question" => v["settings"] = json!({"allowedFor": if hardened { "none" } else { "any" }}),
                    "okta_password" => v["settings"] = json!({"allowedFor": "sso"}),
                    _ => {}
                }
                v
            })
            .collect()
    }

    fn user_factors(&self, user_id: &str) -> Result<Vec<Value>, DirectoryError> {
        if !self.user_exists(user_id) {
            return Err(DirectoryError::NotFound(format!("user {user_id}")));
        }
        let Some(user) = self.org.user_by_id(user_id) else {
            return Ok(Vec::new());
        };
        let base = self.base();
        let reset_at = self.state.factors_reset.get(user_id).copied();
        let factor = |id: &str,
                      factor_type: &str,
                      provider: &str,
                      vendor: &str,
                      created: DateTime<Utc>,
                      profile: Value| {
            json!({
                "id": id,
                "factorType": factor_type,
                "provider": provider,
                "vendorName": vendor,
                "status": "ACTIVE",
                "created": ts(created),
                "lastUpdated": ts(created),
                "profile": profile,
                "_links": {"self": {"href": format!("{base}/api/v1/users/{user_id}/factors/{id}")}},
            })
        };
        if reset_at.is_some() {
            // Everything was reset; nothing is enrolled again until the user (or attacker) does.
            return Ok(Vec::new());
        }
        let enrolled = user.created + Duration::hours(3);
        let mut factors = vec![match user.factor {
            Factor::OktaVerifyPush | Factor::FastPass => factor(
                &user.factor_enrollment_id,
                if user.factor == Factor::FastPass {
                    "signed_nonce"
                } else {
                    "push"
                },
                "OKTA",
                "OKTA",
                enrolled,
                json!({"credentialId": user.login, "deviceType": "SmartPhone_IPhone", "platform": "IOS", "name": "iPhone"}),
            ),
            Factor::WebAuthn => factor(
                &user.factor_enrollment_id,
                "webauthn",
                "FIDO",
                "FIDO",
                enrolled,
                json!({"authenticatorName": "YubiKey 5 NFC"}),
            ),
            Factor::GoogleOtp => factor(
                &user.factor_enrollment_id,
                "token:software:totp",
                "GOOGLE",
                "GOOGLE",
                enrolled,
                json!({"credentialId": user.login}),
            ),
        }];
        if let Some(id) = self.state.ids.sms_factors.get(user_id) {
            factors.push(factor(
                id,
                "sms",
                "OKTA",
                "OKTA",
                enrolled,
                json!({"phoneNumber": "+1 XXX-XXX-0142"}),
            ));
        }
        Ok(factors)
    }

    fn api_tokens(&self) -> Vec<Value> {
        let base = self.base();
        self.state
            .api_tokens
            .iter()
            .map(|t| {
                let mut network = json!({"connection": t.connection});
                if t.connection == "ZONE" {
                    network["include"] = json!(t.include);
                }
                json!({
                    "id": t.id,
                    "name": t.name,
                    "userId": t.user_id,
                    "clientName": "Okta API",
                    "tokenWindow": "P30D",
                    "network": network,
                    "created": ts(t.created),
                    "expiresAt": ts(t.created.max(self.state.now) + Duration::days(30)),
                    "lastUpdated": ts(t.created),
                    "_links": {"self": {"href": format!("{base}/api/v1/api-tokens/{}", t.id), "hints": {"allow": ["GET", "DELETE"]}}},
                })
            })
            .collect()
    }

    fn idps(&self) -> Vec<Value> {
        let base = self.base();
        self.state
            .idps
            .iter()
            .map(|idp| {
                json!({
                    "id": idp.id,
                    "type": idp.kind,
                    "issuerMode": "ORG_URL",
                    "name": idp.name,
                    "status": "ACTIVE",
                    "created": ts(idp.created),
                    "lastUpdated": ts(idp.created),
                    "protocol": {"type": idp.kind, "endpoints": {"sso": {"url": format!("https://idp.partner.example/{}/sso/saml", idp.id), "binding": "HTTP-POST"}}},
                    "policy": {
                        "provisioning": {"action": "AUTO", "profileMaster": false, "groups": {"action": "NONE"}},
                        "accountLink": {"filter": null, "action": "AUTO"},
                        "subject": {"userNameTemplate": {"template": "idpuser.subjectNameId"}, "filter": null, "matchType": "USERNAME"},
                        "maxClockSkew": 120000,
                    },
                    "_links": {"metadata": {"href": format!("{base}/api/v1/idps/{}/metadata.xml", idp.id)}},
                })
            })
            .collect()
    }

    fn zones(&self) -> Vec<Value> {
        let base = self.base();
        self.org
            .zones
            .iter()
            .map(|z| {
                let mut v = json!({
                    "type": z.kind,
                    "id": z.id,
                    "name": z.name,
                    "status": "ACTIVE",
                    "usage": z.usage,
                    "created": ts(self.setup_time()),
                    "lastUpdated": ts(self.setup_time()),
                    "system": z.kind == "DYNAMIC_V2" || z.name == "LegacyIpZone" || z.name == "BlockedIpZone",
                    "_links": {"self": {"href": format!("{base}/api/v1/zones/{}", z.id)}},
                });
                if z.kind == "DYNAMIC_V2" {
                    v["status"] = json!(if self.hardened() { "ACTIVE" } else { "INACTIVE" });
                    v["ipServiceCategories"] = json!({"include": ["ALL_ANONYMIZERS"], "exclude": []});
                } else {
                    v["gateways"] = json!(z.gateways.iter().map(|g| json!({"type": "CIDR", "value": g})).collect::<Vec<_>>());
                    v["proxies"] = Value::Null;
                }
                v
            })
            .collect()
    }

    pub(super) fn render_list(
        &self,
        collection: &Collection,
    ) -> Result<Vec<Value>, DirectoryError> {
        let base = self.base();
        Ok(match collection {
            Collection::Users => {
                let mut users: Vec<Value> = self
                    .org
                    .users
                    .iter()
                    .filter(|u| self.listed(u))
                    .filter_map(|u| self.user_json(u))
                    .chain(
                        self.state
                            .created_users
                            .iter()
                            .map(|u| self.created_user_json(u)),
                    )
                    .collect();
                users.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
                users
            }
            Collection::Groups => {
                let mut groups: Vec<Value> =
                    self.org.groups.iter().map(|g| self.group_json(g)).collect();
                groups.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
                groups
            }
            Collection::GroupMembers(id) => {
                let group = self.find_group(id)?;
                self.members(group)
                    .iter()
                    .filter_map(|m| self.find_user(m).ok())
                    .collect()
            }
            Collection::UserGroups(id) => {
                if !self.user_exists(id) {
                    return Err(DirectoryError::NotFound(format!("user {id}")));
                }
                self.org
                    .groups
                    .iter()
                    .filter(|g| self.members(g).iter().any(|m| m == id))
                    .map(|g| self.group_json(g))
                    .collect()
            }
            Collection::Apps => self.apps_json(),
            Collection::AssigneesUsers => self.assignees(),
            Collection::UserRoles(id) => {
                if !self.user_exists(id) {
                    return Err(DirectoryError::NotFound(format!("user {id}")));
                }
                self.user_roles(id)
            }
            Collection::GroupRoles(id) => {
                let group = self.find_group(id)?;
                match group.kind {
                    GroupKind::Admin(role) => {
                        vec![self.role_json(role, id, Some(id), self.setup_time())]
                    }
                    _ => Vec::new(),
                }
            }
            Collection::ClientRoles(id) => {
                let service = self
                    .org
                    .service_clients
                    .iter()
                    .find(|s| &s.id == id)
                    .ok_or_else(|| DirectoryError::NotFound(format!("client {id}")))?;
                // Weak: the HR sync app was made an org admin instead of scoped API access.
                if !self.hardened() && service.scopes.contains("manage") {
                    let mut role = self.role_json(AdminRole::OrgAdmin, id, None, self.setup_time());
                    role["assignmentType"] = json!("CLIENT");
                    role["_links"]["assignee"]["href"] =
                        json!(format!("{base}/oauth2/v1/clients/{id}"));
                    vec![role]
                } else {
                    Vec::new()
                }
            }
            Collection::IamRoles => {
                let id = &self.state.ids.custom_role;
                vec![json!({
                    "id": id,
                    "label": "Help Desk Lite",
                    "description": "Reset passwords of Engineering users, nothing else",
                    "created": ts(self.setup_time()),
                    "lastUpdated": ts(self.setup_time()),
                    "_links": {
                        "self": {"href": format!("{base}/api/v1/iam/roles/{id}")},
                        "permissions": {"href": format!("{base}/api/v1/iam/roles/{id}/permissions")},
                    },
                })]
            }
            Collection::ResourceSets => {
                let id = &self.state.ids.resource_set;
                vec![json!({
                    "id": id,
                    "label": "Engineering users",
                    "description": "Users of the Engineering group",
                    "created": ts(self.setup_time()),
                    "lastUpdated": ts(self.setup_time()),
                    "_links": {
                        "self": {"href": format!("{base}/api/v1/iam/resource-sets/{id}")},
                        "resources": {"href": format!("{base}/api/v1/iam/resource-sets/{id}/resources")},
                        "bindings": {"href": format!("{base}/api/v1/iam/resource-sets/{id}/bindings")},
                    },
                })]
            }
            Collection::Policies(kind) => self.policies(kind)?,
            Collection::PolicyRules(id) => self.policy_rules(id)?,
            Collection::Authenticators => self.authenticators(),
            Collection::UserFactors(id) => self.user_factors(id)?,
            Collection::ApiTokens => self.api_tokens(),
            Collection::Idps => self.idps(),
            Collection::Zones => self.zones(),
        })
    }

    pub(super) fn render_get(&self, resource: &Resource) -> Result<Value, DirectoryError> {
        let base = self.base();
        let org = &self.org;
        Ok(match resource {
            Resource::Org => json!({
                "id": org.id,
                "companyName": org.config.company,
                "website": format!("https://www.{}", org.config.email_domain),
                "status": "ACTIVE",
                "subdomain": org.config.okta_domain.split('.').next().unwrap_or_default(),
                "expiresAt": null,
                "created": ts(self.setup_time() - Duration::days(365)),
                "lastUpdated": ts(self.setup_time()),
                "_links": {"self": {"href": format!("{base}/api/v1/org")}},
            }),
            Resource::User(id) => self.find_user(id)?,
            Resource::Group(id) => self.group_json(self.find_group(id)?),
            Resource::OktaSupport => {
                let s = &self.state.support;
                let active = s.enabled && s.expiration.is_none_or(|e| e > self.state.now);
                json!({
                    "support": if active { "ENABLED" } else { "DISABLED" },
                    "expiration": if active { s.expiration.map(ts) } else { None },
                    "caseNumber": if active { s.case_number.clone() } else { None },
                    "_links": if active {
                        json!({"extend": {"href": format!("{base}/api/v1/org/privacy/oktaSupport/extend"), "hints": {"allow": ["POST"]}},
                               "revoke": {"href": format!("{base}/api/v1/org/privacy/oktaSupport/revoke"), "hints": {"allow": ["POST"]}}})
                    } else {
                        json!({"grant": {"href": format!("{base}/api/v1/org/privacy/oktaSupport/grant"), "hints": {"allow": ["POST"]}}})
                    },
                })
            }
            Resource::ThreatInsight => json!({
                "action": if self.hardened() { "block" } else { "none" },
                "excludeZones": [],
                "created": ts(self.setup_time()),
                "lastUpdated": ts(self.setup_time()),
                "_links": {"self": {"href": format!("{base}/api/v1/threats/configuration"), "hints": {"allow": ["GET", "POST"]}}},
            }),
            Resource::ClientPrivilegesSetting => json!({
                "clientPrivilegesSetting": if self.hardened() { "NONE" } else { "SUPER_ADMIN" },
            }),
        })
    }
}
