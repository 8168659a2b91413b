//! The admin roster: every principal holding an admin role, read from the management API
//! (reference.md §5) and kept as a sorted, serialisable [`Roster`] that is archived whole.
//!
//! What [`take_roster`] reads, in order:
//! 1. users with role assignments (`/api/v1/iam/assignees/users`), then each one's roles
//!    (`/api/v1/users/{id}/roles`, which folds in group-derived roles);
//! 2. every group's roles (`/api/v1/groups/{id}/roles`, skipped when `expand=stats` says the
//!    group has no admin privilege); each admin group is a principal, and each of its members
//!    (`/api/v1/groups/{id}/users`) holds the role group-derived, which no `privilege.grant`
//!    event shows;
//! 3. OAuth service apps' roles (`/oauth2/v1/clients/{clientId}/roles`), when reachable;
//! 4. custom role definitions and resource sets (`/api/v1/iam/roles`, `/api/v1/iam/resource-sets`).
//!
//! Parts the credential cannot read are recorded as gaps, not errors: a roster that silently
//! omitted service apps would read as "no service app is an admin".

use crate::source::{DirectorySource, SourceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What kind of principal holds a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A user.
    User,
    /// A group (every member holds the role).
    Group,
    /// An OAuth 2.0 service app (API access with admin scopes).
    Client,
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
            PrincipalKind::Client => "client",
        })
    }
}

/// Who holds a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// User, group or client.
    pub kind: PrincipalKind,
    /// Okta id (`00u…`, `00g…`, `0oa…`).
    pub id: String,
    /// Login, group name or app label.
    pub name: String,
    /// User status (`ACTIVE`, `SUSPENDED`, ...), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// How a principal holds a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Via {
    /// Assigned to the principal itself.
    Direct,
    /// Through membership of an admin group.
    Group {
        /// `00g…`.
        group_id: String,
        /// The group's name.
        group_name: String,
    },
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Direct => f.write_str("direct"),
            Via::Group { group_name, .. } => write!(f, "group \"{group_name}\""),
        }
    }
}

/// One role held by one principal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AdminGrant {
    /// Who.
    pub principal: Principal,
    /// Role type (`SUPER_ADMIN`, `ORG_ADMIN`, `HELP_DESK_ADMIN`, `CUSTOM`, ...).
    pub role_type: String,
    /// Role label ("Super Administrator", a custom role's label).
    pub role_label: String,
    /// Custom role id (`cr0…`), for `CUSTOM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role: Option<String>,
    /// Resource set id (`iam…`), for `CUSTOM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_set: Option<String>,
    /// Direct or through a group.
    pub via: Via,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// The role assignment id (`ra1…`).
    #[serde(default)]
    pub assignment_id: String,
}

/// What identifies a grant across snapshots (a revoke and re-grant changes only the
/// assignment id; a status change is a change of the same grant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantKey {
    kind: PrincipalKind,
    id: String,
    role_type: String,
    custom_role: Option<String>,
    resource_set: Option<String>,
    via: Via,
}

impl AdminGrant {
    /// The identity of this grant across snapshots.
    pub fn key(&self) -> GrantKey {
        GrantKey {
            kind: self.principal.kind,
            id: self.principal.id.clone(),
            role_type: self.role_type.clone(),
            custom_role: self.custom_role.clone(),
            resource_set: self.resource_set.clone(),
            via: self.via.clone(),
        }
    }

    /// The role as one label: `SUPER_ADMIN`, or `CUSTOM "label" on resource set X`.
    pub fn role_text(&self) -> String {
        match (&self.custom_role, &self.resource_set) {
            (Some(_), Some(set)) => format!("CUSTOM \"{}\" on {set}", self.role_label),
            (Some(_), None) => format!("CUSTOM \"{}\"", self.role_label),
            _ => self.role_type.clone(),
        }
    }
}

/// A custom role or resource set definition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Definition {
    /// Its id.
    pub id: String,
    /// Its label.
    pub label: String,
}

/// Every admin role holder of an org at one time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// Every grant, sorted.
    pub grants: Vec<AdminGrant>,
    /// Custom role definitions.
    #[serde(default)]
    pub custom_roles: Vec<Definition>,
    /// Resource sets.
    #[serde(default)]
    pub resource_sets: Vec<Definition>,
    /// Parts of the API this credential could not read (so absence there proves nothing).
    #[serde(default)]
    pub gaps: Vec<String>,
}

impl Roster {
    /// Builds a roster from grants (deduplicated and sorted, so equal rosters serialise equal).
    pub fn from_grants(grants: impl IntoIterator<Item = AdminGrant>) -> Roster {
        let mut by_key: BTreeMap<GrantKey, AdminGrant> = BTreeMap::new();
        for grant in grants {
            by_key.entry(grant.key()).or_insert(grant);
        }
        let mut grants: Vec<AdminGrant> = by_key.into_values().collect();
        grants.sort();
        Roster {
            grants,
            ..Roster::default()
        }
    }

    /// Users holding any active role (directly or through a group), by id.
    pub fn admin_users(&self) -> BTreeSet<&str> {
        self.grants
            .iter()
            .filter(|g| g.principal.kind == PrincipalKind::User && g.status == "ACTIVE")
            .map(|g| g.principal.id.as_str())
            .collect()
    }

    /// Users holding an active `SUPER_ADMIN` role, by id.
    pub fn super_admin_users(&self) -> BTreeSet<&str> {
        self.grants
            .iter()
            .filter(|g| {
                g.principal.kind == PrincipalKind::User
                    && g.status == "ACTIVE"
                    && g.role_type == "SUPER_ADMIN"
            })
            .map(|g| g.principal.id.as_str())
            .collect()
    }

    /// The active role types a user holds.
    pub fn roles_of(&self, user_id: &str) -> BTreeSet<&str> {
        self.grants
            .iter()
            .filter(|g| {
                g.principal.kind == PrincipalKind::User
                    && g.principal.id == user_id
                    && g.status == "ACTIVE"
            })
            .map(|g| g.role_type.as_str())
            .collect()
    }

    /// The roster as the JSON text that is archived (stable: sorted grants, fixed field order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Why a roster could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RosterError {
    /// A read that the roster cannot do without failed.
    #[error("reading the admin roster: {0}")]
    Source(#[from] SourceError),
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The last path segment of an href (`…/groups/00g1` → `00g1`).
fn last_segment(href: &str) -> &str {
    let path = href.split(['?', '#']).next().unwrap_or(href);
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

fn user_principal(user: &Value, id: &str) -> Principal {
    let login = user
        .pointer("/profile/login")
        .and_then(Value::as_str)
        .unwrap_or(id);
    Principal {
        kind: PrincipalKind::User,
        id: id.to_string(),
        name: login.to_string(),
        status: str_field(user, "status").map(str::to_string),
    }
}

/// A role assignment object as a grant of `principal`, with `via` resolved by the caller.
fn grant_of(principal: &Principal, role: &Value, via: Via) -> AdminGrant {
    let role_type = str_field(role, "type").unwrap_or("UNKNOWN").to_string();
    let custom = role_type == "CUSTOM";
    AdminGrant {
        principal: principal.clone(),
        role_label: str_field(role, "label").unwrap_or(&role_type).to_string(),
        custom_role: custom
            .then(|| {
                str_field(role, "role")
                    .map(str::to_string)
                    .or_else(|| str_field(role, "label").map(str::to_string))
            })
            .flatten(),
        resource_set: str_field(role, "resource-set").map(str::to_string),
        role_type,
        via,
        status: str_field(role, "status").unwrap_or("ACTIVE").to_string(),
        assignment_id: str_field(role, "id").unwrap_or_default().to_string(),
    }
}

fn group_name(group: &Value) -> String {
    group
        .pointer("/profile/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Reads the whole roster of the org behind `source`.
pub async fn take_roster<S: DirectorySource>(source: &S) -> Result<Roster, RosterError> {
    let mut grants: Vec<AdminGrant> = Vec::new();
    let mut gaps: Vec<String> = Vec::new();

    // Groups first: user roles that come through a group name it.
    let groups = source
        .get_all("/api/v1/groups?limit=200&expand=stats")
        .await?;
    let group_names: BTreeMap<String, String> = groups
        .iter()
        .filter_map(|g| Some((str_field(g, "id")?.to_string(), group_name(g))))
        .collect();
    let via_group = |group_id: &str| Via::Group {
        group_id: group_id.to_string(),
        group_name: group_names
            .get(group_id)
            .cloned()
            .unwrap_or_else(|| group_id.to_string()),
    };

    // 1. Users with role assignments, and each one's roles (group-derived included).
    let mut users: BTreeMap<String, Principal> = BTreeMap::new();
    match source
        .get_all("/api/v1/iam/assignees/users?limit=100")
        .await
    {
        Ok(assignees) => {
            for assignee in &assignees {
                let Some(id) = str_field(assignee, "id") else {
                    continue;
                };
                let principal = match source.get_one(&format!("/api/v1/users/{id}")).await {
                    Ok(user) => user_principal(&user, id),
                    Err(e) if e.is_unreachable() => user_principal(&Value::Null, id),
                    Err(e) => return Err(e.into()),
                };
                let roles = source.get_all(&format!("/api/v1/users/{id}/roles")).await?;
                for role in &roles {
                    let via = match str_field(role, "assignmentType") {
                        Some("GROUP") => {
                            match role
                                .pointer("/_links/assignee/href")
                                .and_then(Value::as_str)
                            {
                                Some(href) => via_group(last_segment(href)),
                                None => continue, // the group pass below names the group
                            }
                        }
                        _ => Via::Direct,
                    };
                    grants.push(grant_of(&principal, role, via));
                }
                users.insert(id.to_string(), principal);
            }
        }
        Err(e) if e.is_unreachable() => gaps.push(format!("users with roles: {e}")),
        Err(e) => return Err(e.into()),
    }

    // 2. Admin groups, and their members as group-derived admins.
    for group in &groups {
        let Some(id) = str_field(group, "id") else {
            continue;
        };
        let flagged = group
            .pointer("/_embedded/stats/hasAdminPrivlege")
            .and_then(Value::as_bool);
        if flagged == Some(false) {
            continue;
        }
        let roles = match source.get_all(&format!("/api/v1/groups/{id}/roles")).await {
            Ok(roles) => roles,
            Err(e) if e.is_unreachable() => {
                gaps.push(format!("roles of group {id}: {e}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if roles.is_empty() {
            continue;
        }
        let principal = Principal {
            kind: PrincipalKind::Group,
            id: id.to_string(),
            name: group_name(group),
            status: None,
        };
        for role in &roles {
            grants.push(grant_of(&principal, role, Via::Direct));
        }
        let members = source
            .get_all(&format!("/api/v1/groups/{id}/users?limit=200"))
            .await?;
        for member in &members {
            let Some(user_id) = str_field(member, "id") else {
                continue;
            };
            let user = users
                .get(user_id)
                .cloned()
                .unwrap_or_else(|| user_principal(member, user_id));
            for role in &roles {
                grants.push(grant_of(&user, role, via_group(id)));
            }
        }
    }

    // 3. OAuth service apps with admin roles.
    match source.get_all("/api/v1/apps?limit=200").await {
        Ok(apps) => {
            for app in &apps {
                let is_service = app
                    .pointer("/settings/oauthClient/application_type")
                    .and_then(Value::as_str)
                    == Some("service");
                if !is_service {
                    continue;
                }
                let Some(client_id) = app
                    .pointer("/credentials/oauthClient/client_id")
                    .and_then(Value::as_str)
                    .or_else(|| str_field(app, "id"))
                else {
                    continue;
                };
                let principal = Principal {
                    kind: PrincipalKind::Client,
                    id: client_id.to_string(),
                    name: str_field(app, "label").unwrap_or(client_id).to_string(),
                    status: str_field(app, "status").map(str::to_string),
                };
                match source
                    .get_all(&format!("/oauth2/v1/clients/{client_id}/roles"))
                    .await
                {
                    Ok(roles) => {
                        for role in &roles {
                            grants.push(grant_of(&principal, role, Via::Direct));
                        }
                    }
                    Err(e) if e.is_unreachable() => {
                        gaps.push(format!("roles of service app {}: {e}", principal.name))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(e) if e.is_unreachable() => gaps.push(format!("apps: {e}")),
        Err(e) => return Err(e.into()),
    }

    // 4. Custom roles and resource sets.
    let definitions = |items: Vec<Value>| -> Vec<Definition> {
        let mut out: Vec<Definition> = items
            .iter()
            .filter_map(|v| {
                Some(Definition {
                    id: str_field(v, "id")?.to_string(),
                    label: str_field(v, "label").unwrap_or_default().to_string(),
                })
            })
            .collect();
        out.sort();
        out
    };
    let custom_roles = match source.get_all("/api/v1/iam/roles").await {
        Ok(items) => definitions(items),
        Err(e) if e.is_unreachable() => {
            gaps.push(format!("custom roles: {e}"));
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    let resource_sets = match source.get_all("/api/v1/iam/resource-sets").await {
        Ok(items) => definitions(items),
        Err(e) if e.is_unreachable() => {
            gaps.push(format!("resource sets: {e}"));
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };

    let mut roster = Roster::from_grants(grants);
    roster.custom_roles = custom_roles;
    roster.resource_sets = resource_sets;
    gaps.sort();
    roster.gaps = gaps;
    Ok(roster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segment_of_assignee_links() {
        assert_eq!(
            last_segment("https://x.okta.com/api/v1/groups/00g1abc"),
            "00g1abc"
        );
        assert_eq!(last_segment("/api/v1/users/00u2/?x=1"), "00u2");
    }

    #[test]
    fn equal_grants_in_any_order_make_the_same_roster_text() {
        let user = Principal {
            kind: PrincipalKind::User,
            id: "00u1".into(),
            name: "a@example.com".into(),
            status: None,
        };
        let role = serde_json::json!({"id":"ra1","type":"SUPER_ADMIN","label":"Super Administrator","status":"ACTIVE"});
        let helpdesk = serde_json::json!({"id":"ra2","type":"HELP_DESK_ADMIN","label":"Help Desk Administrator","status":"ACTIVE"});
        let a = Roster::from_grants([
            grant_of(&user, &role, Via::Direct),
            grant_of(&user, &helpdesk, Via::Direct),
            grant_of(&user, &role, Via::Direct),
        ]);
        let b = Roster::from_grants([
            grant_of(&user, &helpdesk, Via::Direct),
            grant_of(&user, &role, Via::Direct),
        ]);
        assert_eq!(a.grants.len(), 2);
        assert_eq!(a.to_json(), b.to_json());
    }
}
