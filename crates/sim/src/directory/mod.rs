//! The simulated org's directory state as Okta's management APIs show it: users (with `status`,
//! `lastLogin`, `passwordChanged`), groups and members, apps, admin role assignments (direct and
//! group-derived), custom roles and resource sets, policies and rules, authenticators, the Okta
//! Support access setting, API tokens, identity providers and ThreatInsight settings.
//!
//! [`Directory::new`] builds it from the generated [`Org`] and a [`Posture`] (hardened or weak,
//! for posture checks); [`Directory::apply`] applies a scenario's [`DirectoryChange`] when its
//! time comes, so a privilege grant or a new IdP shows in these APIs as well as in the log.
//! [`Directory::list`] returns a collection's items as Okta's JSON, complete and in Okta's order;
//! the HTTP layer (`api`) does pagination, auth, scopes and rate limits.
//!
//! Time: the directory starts at the org's `config.start`; [`Directory::set_now`] (or
//! [`Directory::apply_at`]) moves its clock, which decides who exists yet, who is deprovisioned
//! and users' `lastLogin`. The JSON is built in [`render`]; the state in [`state`].

mod render;
mod state;

use crate::generate::{AdminRole, Org};
use crate::scenario::{DirectoryChange, TimedChange};
use chrono::{DateTime, Utc};
use serde_json::Value;
use state::{ApiToken, CreatedUser, IdentityProvider, State, SupportAccess};

/// How well the simulated tenant is configured, for posture checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Posture {
    /// Okta's hardening guidance followed: support access off, MFA everywhere (admin console
    /// included), strong password policy, few super admins, no weak factors, short admin
    /// sessions, API tokens restricted to network zones, no unexpected IdPs, ThreatInsight
    /// blocking.
    #[default]
    Hardened,
    /// The opposite of each of those.
    Weak,
}

/// A collection endpoint of the management API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collection {
    /// `GET /api/v1/users` (DEPROVISIONED users omitted, as Okta does).
    Users,
    /// `GET /api/v1/groups`.
    Groups,
    /// `GET /api/v1/groups/{id}/users`.
    GroupMembers(String),
    /// `GET /api/v1/users/{id}/groups`.
    UserGroups(String),
    /// `GET /api/v1/apps`.
    Apps,
    /// `GET /api/v1/iam/assignees/users` (users with at least one role assignment).
    AssigneesUsers,
    /// `GET /api/v1/users/{id}/roles` (includes group-derived roles, `assignmentType: GROUP`).
    UserRoles(String),
    /// `GET /api/v1/groups/{id}/roles`.
    GroupRoles(String),
    /// `GET /oauth2/v1/clients/{clientId}/roles`.
    ClientRoles(String),
    /// `GET /api/v1/iam/roles` (custom roles).
    IamRoles,
    /// `GET /api/v1/iam/resource-sets`.
    ResourceSets,
    /// `GET /api/v1/policies?type=T`.
    Policies(String),
    /// `GET /api/v1/policies/{id}/rules`.
    PolicyRules(String),
    /// `GET /api/v1/authenticators`.
    Authenticators,
    /// `GET /api/v1/users/{id}/factors`.
    UserFactors(String),
    /// `GET /api/v1/api-tokens`.
    ApiTokens,
    /// `GET /api/v1/idps`.
    Idps,
    /// `GET /api/v1/zones`.
    Zones,
}

/// A single-object endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `GET /api/v1/org`.
    Org,
    /// `GET /api/v1/users/{idOrLogin}`.
    User(String),
    /// `GET /api/v1/groups/{id}`.
    Group(String),
    /// `GET /api/v1/org/privacy/oktaSupport`.
    OktaSupport,
    /// `GET /api/v1/threats/configuration`.
    ThreatInsight,
    /// `GET /api/v1/org/settings/clientPrivilegesSetting`.
    ClientPrivilegesSetting,
}

/// Why a directory request cannot be answered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The id names nothing (the API answers 404 `E0000007`).
    #[error("not found: {0}")]
    NotFound(String),
    /// A bad parameter, e.g. an unknown policy type (400 `E0000001`).
    #[error("invalid parameter: {0}")]
    Invalid(String),
}

/// The directory state of one simulated org.
#[derive(Debug, Clone)]
pub struct Directory {
    org: Org,
    posture: Posture,
    state: State,
}

impl Directory {
    /// The directory of `org`, configured per `posture`, before any scenario change.
    pub fn new(org: &Org, posture: Posture) -> Directory {
        Directory {
            org: org.clone(),
            posture,
            state: State::new(org, posture),
        }
    }

    /// The posture it was built with.
    pub fn posture(&self) -> Posture {
        self.posture
    }

    /// The directory's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.now
    }

    /// Moves the clock to `now` (never backwards).
    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.state.now = self.state.now.max(now);
    }

    /// Moves the clock to the change's time and applies it.
    pub fn apply_at(&mut self, change: &TimedChange) {
        self.set_now(change.at);
        self.apply(&change.change);
    }

    /// Applies one scenario change (at the directory's clock).
    pub fn apply(&mut self, change: &DirectoryChange) {
        let now = self.state.now;
        let s = &mut self.state;
        match change {
            DirectoryChange::GrantUserRole { user_id, role } => {
                if !s
                    .direct_roles
                    .iter()
                    .any(|(u, r, _)| u == user_id && r == role)
                {
                    s.direct_roles.push((user_id.clone(), *role, now));
                }
            }
            DirectoryChange::RevokeUserRole { user_id, role } => {
                s.direct_roles
                    .retain(|(u, r, _)| !(u == user_id && r == role));
            }
            DirectoryChange::AddGroupMember { group_id, user_id } => {
                s.add_member(group_id, user_id);
            }
            DirectoryChange::SupportAccess {
                enabled,
                expiration,
                case_number,
            } => {
                // A grant while access is already granted never shortens it (the Weak
                // posture's long-standing access stays after a scenario's 8-hour grant).
                let expiration = match (s.support.enabled, s.support.expiration, *expiration) {
                    (true, None, _) if *enabled => None,
                    (true, Some(old), Some(new)) if *enabled => Some(old.max(new)),
                    (_, _, new) => new,
                };
                s.support = SupportAccess {
                    enabled: *enabled,
                    expiration,
                    case_number: case_number.clone(),
                };
            }
            DirectoryChange::CreateIdp { id, name, idp_type } => {
                s.idps.push(IdentityProvider {
                    id: id.clone(),
                    name: name.clone(),
                    kind: idp_type.clone(),
                    created: now,
                });
            }
            DirectoryChange::CreateApiToken {
                id,
                name,
                user_id,
                network_connection,
            } => {
                s.api_tokens.push(ApiToken {
                    id: id.clone(),
                    name: name.clone(),
                    user_id: user_id.clone(),
                    connection: network_connection.clone(),
                    include: Vec::new(),
                    created: now,
                });
            }
            DirectoryChange::UpdatePolicyRule {
                rule_id,
                require_factor,
                ..
            } => {
                s.rule_requires_factor
                    .insert(rule_id.clone(), (*require_factor, now));
            }
            DirectoryChange::ResetFactors { user_id } => {
                s.factors_reset.insert(user_id.clone(), now);
            }
            DirectoryChange::PasswordChanged { user_id } => {
                s.password_changed.insert(user_id.clone(), now);
            }
            DirectoryChange::LockUser { user_id } => {
                s.locked.insert(user_id.clone());
            }
            DirectoryChange::CreateUser {
                user_id,
                login,
                first_name,
                last_name,
            } => {
                s.created_users.push(CreatedUser {
                    id: user_id.clone(),
                    login: login.clone(),
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    created: now,
                });
            }
        }
    }

    /// Every item of a collection, as Okta's JSON, in Okta's order.
    pub fn list(&self, collection: &Collection) -> Result<Vec<Value>, DirectoryError> {
        self.render_list(collection)
    }

    /// One object.
    pub fn get(&self, resource: &Resource) -> Result<Value, DirectoryError> {
        self.render_get(resource)
    }

    /// The roles `user_id` holds, directly or through a group: (role, group id if derived).
    pub fn roles_of(&self, user_id: &str) -> Vec<(AdminRole, Option<String>)> {
        let mut roles: Vec<(AdminRole, Option<String>)> = self
            .state
            .direct_roles
            .iter()
            .filter(|(u, _, _)| u == user_id)
            .map(|(_, r, _)| (*r, None))
            .collect();
        for group in &self.org.groups {
            if let crate::generate::GroupKind::Admin(role) = group.kind {
                if self
                    .state
                    .admin_group_members
                    .get(&group.id)
                    .is_some_and(|m| m.contains(user_id))
                {
                    roles.push((role, Some(group.id.clone())));
                }
            }
        }
        roles
    }
}
