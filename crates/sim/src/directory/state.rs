//! The mutable directory state behind [`super::Directory`]: who holds which role directly, who
//! is in which admin group, which users are locked, had their password or factors reset or were
//! created by a scenario, the support-access setting, API tokens, IdPs and policy-rule MFA
//! requirements; plus the fixed ids of directory-only objects (password and enrollment policies,
//! authenticators, custom roles), all derived from the org's seed and the [`Posture`].

use super::Posture;
use crate::generate::{ids, AdminRole, GroupKind, Org};
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A user a scenario created (not in [`Org::users`]).
#[derive(Debug, Clone)]
pub(super) struct CreatedUser {
    pub id: String,
    pub login: String,
    pub first_name: String,
    pub last_name: String,
    pub created: DateTime<Utc>,
}

/// An SSWS API token.
#[derive(Debug, Clone)]
pub(super) struct ApiToken {
    pub id: String,
    pub name: String,
    pub user_id: String,
    /// `ANYWHERE` or `ZONE`.
    pub connection: String,
    /// Zone ids the token may be used from (`ZONE`).
    pub include: Vec<String>,
    pub created: DateTime<Utc>,
}

/// An identity provider.
#[derive(Debug, Clone)]
pub(super) struct IdentityProvider {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub created: DateTime<Utc>,
}

/// The support-access setting.
#[derive(Debug, Clone)]
pub(super) struct SupportAccess {
    pub enabled: bool,
    pub expiration: Option<DateTime<Utc>>,
    pub case_number: Option<String>,
}

/// Fixed ids of objects only the directory has.
#[derive(Debug, Clone)]
pub(super) struct FixedIds {
    pub password_policy: String,
    pub password_rule: String,
    pub enroll_policy: String,
    pub enroll_rule: String,
    pub admin_session_rule: String,
    /// (key, id) per authenticator.
    pub authenticators: Vec<(&'static str, String)>,
    pub custom_role: String,
    pub resource_set: String,
    pub user_type: String,
    /// Ids of the SMS factors weak-posture users have enrolled, by user id.
    pub sms_factors: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub(super) struct State {
    pub now: DateTime<Utc>,
    /// Direct (`assignmentType: USER`) role assignments, with when they were made.
    pub direct_roles: Vec<(String, AdminRole, DateTime<Utc>)>,
    /// Members of admin-role groups (group id → user ids); other groups' members follow the org.
    pub admin_group_members: BTreeMap<String, BTreeSet<String>>,
    /// Extra members of non-admin groups added by scenarios.
    pub extra_members: BTreeMap<String, BTreeSet<String>>,
    pub locked: HashSet<String>,
    pub password_changed: HashMap<String, DateTime<Utc>>,
    pub factors_reset: HashMap<String, DateTime<Utc>>,
    pub created_users: Vec<CreatedUser>,
    pub support: SupportAccess,
    pub api_tokens: Vec<ApiToken>,
    pub idps: Vec<IdentityProvider>,
    /// Policy rules whose MFA requirement a scenario changed (rule id → requires a factor).
    pub rule_requires_factor: HashMap<String, (bool, DateTime<Utc>)>,
    pub ids: FixedIds,
}

/// Authenticator keys in the order Okta lists them.
pub(super) const AUTHENTICATOR_KEYS: [&str; 7] = [
    "okta_email",
    "okta_password",
    "okta_verify",
    "phone_number",
    "security_question",
    "webauthn",
    "google_otp",
];

impl State {
    pub fn new(org: &Org, posture: Posture) -> State {
        let mut rng = ChaCha8Rng::seed_from_u64(org.config.seed);
        rng.set_stream(1 << 41);
        let before = org.config.start - Duration::days(400);
        let ids = FixedIds {
            password_policy: ids::okta_id(&mut rng, "00p"),
            password_rule: ids::okta_id(&mut rng, "0pr"),
            enroll_policy: ids::okta_id(&mut rng, "00p"),
            enroll_rule: ids::okta_id(&mut rng, "0pr"),
            admin_session_rule: ids::okta_id(&mut rng, "0pr"),
            authenticators: AUTHENTICATOR_KEYS
                .iter()
                .map(|key| (*key, ids::okta_id(&mut rng, "aut")))
                .collect(),
            custom_role: ids::okta_id(&mut rng, "cr0"),
            resource_set: ids::okta_id(&mut rng, "iam"),
            user_type: ids::okta_id(&mut rng, "oty"),
            sms_factors: HashMap::new(),
        };
        let mut state = State {
            now: org.config.start,
            direct_roles: Vec::new(),
            admin_group_members: BTreeMap::new(),
            extra_members: BTreeMap::new(),
            locked: HashSet::new(),
            password_changed: HashMap::new(),
            factors_reset: HashMap::new(),
            created_users: Vec::new(),
            support: SupportAccess {
                enabled: false,
                expiration: None,
                case_number: None,
            },
            api_tokens: Vec::new(),
            idps: Vec::new(),
            rule_requires_factor: HashMap::new(),
            ids,
        };
        let group_of = |role: AdminRole| {
            org.groups
                .iter()
                .find(|g| g.kind == GroupKind::Admin(role))
                .map(|g| g.id.clone())
        };
        for group in org
            .groups
            .iter()
            .filter(|g| matches!(g.kind, GroupKind::Admin(_)))
        {
            state
                .admin_group_members
                .insert(group.id.clone(), BTreeSet::new());
        }
        // Super admins hold the role directly; org admins and the help desk through groups.
        for admin in &org.admins {
            let user = &org.users[admin.user];
            let granted = user.created + Duration::days(1);
            match admin.role {
                AdminRole::SuperAdmin => {
                    state
                        .direct_roles
                        .push((user.id.clone(), AdminRole::SuperAdmin, granted));
                }
                role => {
                    if let Some(group) = group_of(role) {
                        state.member_add(&group, &user.id);
                    }
                    if posture == Posture::Weak {
                        // Everyone with console access was made super admin "to save time".
                        state
                            .direct_roles
                            .push((user.id.clone(), AdminRole::SuperAdmin, granted));
                    }
                }
            }
        }
        let office_zone = org
            .zones
            .iter()
            .find(|z| z.name == "Corporate Offices")
            .map(|z| z.id.clone());
        let owner = org
            .first_admin(AdminRole::SuperAdmin)
            .map(|a| org.users[a.user].id.clone())
            .unwrap_or_default();
        match posture {
            Posture::Hardened => {
                state.api_tokens.push(ApiToken {
                    id: ids::okta_id(&mut rng, "00T"),
                    name: "AD Agent".into(),
                    user_id: owner,
                    connection: "ZONE".into(),
                    include: office_zone.into_iter().collect(),
                    created: before + Duration::days(90),
                });
            }
            Posture::Weak => {
                state.support = SupportAccess {
                    enabled: true,
                    expiration: Some(org.config.start + Duration::days(365)),
                    case_number: Some(format!("{:08}", rng.random_range(1_000_000..3_000_000))),
                };
                for (name, days) in [
                    ("terraform", 20),
                    ("old-sync-script", 200),
                    ("jira-integration", 310),
                ] {
                    state.api_tokens.push(ApiToken {
                        id: ids::okta_id(&mut rng, "00T"),
                        name: name.into(),
                        user_id: owner.clone(),
                        connection: "ANYWHERE".into(),
                        include: Vec::new(),
                        created: before + Duration::days(days),
                    });
                }
                state.idps.push(IdentityProvider {
                    id: ids::okta_id(&mut rng, "0oa"),
                    name: "Legacy Partner IdP".into(),
                    kind: "SAML2".into(),
                    created: before + Duration::days(150),
                });
                // IT staff in the super-admin group; SMS factors for a quarter of the users.
                if let Some(group) = group_of(AdminRole::SuperAdmin) {
                    let it = org.groups.iter().position(|g| g.name == "IT");
                    for user in org.users.iter().filter(|u| Some(u.department) == it) {
                        state.member_add(&group, &user.id);
                    }
                }
                for user in &org.users {
                    if rng.random_bool(0.25) {
                        state
                            .ids
                            .sms_factors
                            .insert(user.id.clone(), ids::okta_id(&mut rng, "mbl"));
                    }
                }
            }
        }
        state
    }

    fn member_add(&mut self, group_id: &str, user_id: &str) {
        self.admin_group_members
            .entry(group_id.to_string())
            .or_default()
            .insert(user_id.to_string());
    }

    /// Adds a member to any group (admin groups tracked, others as extras).
    pub fn add_member(&mut self, group_id: &str, user_id: &str) {
        if let Some(members) = self.admin_group_members.get_mut(group_id) {
            members.insert(user_id.to_string());
        } else {
            self.extra_members
                .entry(group_id.to_string())
                .or_default()
                .insert(user_id.to_string());
        }
    }
}
