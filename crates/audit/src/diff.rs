//! Roster diffs: what changed between two archived snapshots (grants added, removed, or whose
//! status changed), and for each change the System Log events in the store that explain it, or
//! a warning that none does.
//!
//! Which events explain what (reference.md §5):
//! - a direct user role: `user.account.privilege.grant` / `.revoke` naming the user;
//! - a group-derived role: `group.user_membership.add` / `.remove` naming the user *and* the
//!   group, or `group.privilege.grant` / `.revoke` on the group. Okta logs no privilege event for
//!   the user, so such an admin always carries a warning saying so;
//! - a group's role: `group.privilege.grant` / `.revoke`;
//! - a service app's role: `app.oauth2.client.privilege.grant` / `.revoke`;
//! - custom roles additionally `iam.resourceset.bindings.add` / `.delete`;
//! - a removal also by the principal's deactivation or deletion.
//!
//! Events are looked for from `before` ahead of the older snapshot (the log can lag, and the
//! first snapshot may be taken right after the change) to `after` past the newer one.

use crate::roster::{AdminGrant, GrantKey, PrincipalKind, Roster, Via};
use chrono::{DateTime, Duration, Utc};
use okta::filter::Filter;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use store::{EventQuery, OrgId, Store, StoreError};

/// How far around the two snapshots to look for explaining events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExplainWindow {
    /// Before the older snapshot (or before the newer one when there is no older one).
    pub before: Duration,
    /// After the newer snapshot.
    pub after: Duration,
}

impl Default for ExplainWindow {
    fn default() -> Self {
        ExplainWindow {
            before: Duration::hours(24),
            after: Duration::hours(1),
        }
    }
}

/// Added, removed, or the same grant with another status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    /// In the newer roster only.
    Added,
    /// In the older roster only.
    Removed,
    /// In both, with another status (`ACTIVE` ↔ `INACTIVE`).
    StatusChanged {
        /// The older status.
        from: String,
        /// The newer status.
        to: String,
    },
}

/// A log event that explains a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The event's uuid.
    pub uuid: String,
    /// When it happened.
    pub published: DateTime<Utc>,
    /// Its type.
    pub event_type: String,
    /// Who did it (`actor.alternateId`).
    pub actor: String,
    /// From where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// One change of the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterChange {
    /// What changed.
    #[serde(flatten)]
    pub kind: ChangeKind,
    /// The grant (as in the newer roster, or the older one when removed).
    pub grant: AdminGrant,
    /// The events that explain it, oldest first.
    pub explained_by: Vec<Evidence>,
    /// Why this change deserves attention beyond its events (none found; group-derived).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A snapshot as a diff names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SnapshotRef {
    /// Its id.
    pub id: i64,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// Everything that changed between two rosters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterDiff {
    /// The older snapshot (`None`: compared with an empty roster).
    pub from: Option<SnapshotRef>,
    /// The newer snapshot.
    pub to: SnapshotRef,
    /// The changes, added first, each group sorted by principal.
    pub changes: Vec<RosterChange>,
}

/// Compares two rosters (no explanations yet).
pub fn compare(old: &Roster, new: &Roster) -> Vec<(ChangeKind, AdminGrant)> {
    let old_by: BTreeMap<GrantKey, &AdminGrant> = old.grants.iter().map(|g| (g.key(), g)).collect();
    let new_by: BTreeMap<GrantKey, &AdminGrant> = new.grants.iter().map(|g| (g.key(), g)).collect();
    let mut out = Vec::new();
    for (key, grant) in &new_by {
        match old_by.get(key) {
            None => out.push((ChangeKind::Added, (*grant).clone())),
            Some(before) if before.status != grant.status => out.push((
                ChangeKind::StatusChanged {
                    from: before.status.clone(),
                    to: grant.status.clone(),
                },
                (*grant).clone(),
            )),
            Some(_) => {}
        }
    }
    for (key, grant) in &old_by {
        if !new_by.contains_key(key) {
            out.push((ChangeKind::Removed, (*grant).clone()));
        }
    }
    out
}

/// The event types that explain a change of `grant`, and whether the event must also name the
/// group the role comes through.
fn explaining_types(kind: &ChangeKind, grant: &AdminGrant) -> Vec<&'static str> {
    let added = !matches!(kind, ChangeKind::Removed);
    let mut types: Vec<&'static str> = match (grant.principal.kind, &grant.via, added) {
        (PrincipalKind::User, Via::Direct, true) => vec!["user.account.privilege.grant"],
        (PrincipalKind::User, Via::Direct, false) => vec![
            "user.account.privilege.revoke",
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.initiated",
        ],
        (PrincipalKind::User, Via::Group { .. }, true) => {
            vec!["group.user_membership.add", "group.privilege.grant"]
        }
        (PrincipalKind::User, Via::Group { .. }, false) => vec![
            "group.user_membership.remove",
            "group.privilege.revoke",
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.initiated",
        ],
        (PrincipalKind::Group, _, true) => vec!["group.privilege.grant"],
        (PrincipalKind::Group, _, false) => {
            vec!["group.privilege.revoke", "group.lifecycle.delete"]
        }
        (PrincipalKind::Client, _, true) => vec!["app.oauth2.client.privilege.grant"],
        (PrincipalKind::Client, _, false) => vec![
            "app.oauth2.client.privilege.revoke",
            "application.lifecycle.deactivate",
            "application.lifecycle.delete",
        ],
    };
    if matches!(kind, ChangeKind::StatusChanged { .. }) {
        types.extend(["user.account.privilege.revoke", "group.privilege.revoke"]);
    }
    if grant.resource_set.is_some() {
        types.push(if added {
            "iam.resourceset.bindings.add"
        } else {
            "iam.resourceset.bindings.delete"
        });
    }
    types
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The events in `org` between `since` and `until` (µs) that explain this change.
fn explain(
    store: &Store,
    org: OrgId,
    kind: &ChangeKind,
    grant: &AdminGrant,
    since: i64,
    until: i64,
) -> Result<Vec<Evidence>, StoreError> {
    let types = explaining_types(kind, grant);
    let type_clause = types
        .iter()
        .map(|t| format!("eventType eq {}", quoted(t)))
        .collect::<Vec<_>>()
        .join(" or ");
    // The user-side events name the user; group privilege events name only the group.
    let mut subjects = vec![grant.principal.id.clone()];
    if let Via::Group { group_id, .. } = &grant.via {
        subjects.push(group_id.clone());
    }
    let subject_clause = subjects
        .iter()
        .map(|s| format!("target.id eq {}", quoted(s)))
        .collect::<Vec<_>>()
        .join(" or ");
    let text = format!("({type_clause}) and ({subject_clause})");
    let filter = Filter::parse(&text).map_err(|e| StoreError::Query(format!("{text}: {e}")))?;
    let query = EventQuery {
        filter: Some(filter),
        since: Some(since),
        until: Some(until),
        ordered: true,
        ..EventQuery::default()
    };
    let mut found = Vec::new();
    store.query(org, &query, &mut |stored| {
        let event = &stored.event;
        let targets: Vec<&str> = event.targets().filter_map(|t| t.id).collect();
        let names = |id: &str| targets.contains(&id);
        let relevant = match (event.event_type(), &grant.via) {
            // Membership of this very group, for this very user.
            (t, Via::Group { group_id, .. }) if t.starts_with("group.user_membership.") => {
                names(&grant.principal.id) && names(group_id)
            }
            // A privilege event on the group the role comes through.
            (t, Via::Group { group_id, .. }) if t.starts_with("group.privilege.") => {
                names(group_id)
            }
            _ => names(&grant.principal.id),
        };
        if relevant && event.outcome_result().is_none_or(|o| o == "SUCCESS") {
            found.push(Evidence {
                uuid: event.uuid().0.clone(),
                published: event.published(),
                event_type: event.event_type().to_string(),
                actor: event
                    .actor()
                    .alternate_id
                    .or(event.actor().id)
                    .unwrap_or("?")
                    .to_string(),
                client_ip: event.client_ip().map(str::to_string),
            });
        }
        ControlFlow::Continue(())
    })?;
    Ok(found)
}

/// Diffs two rosters of `org` and explains every change from the events in `store`.
pub fn diff_rosters(
    store: &Store,
    org: OrgId,
    from: Option<(SnapshotRef, &Roster)>,
    to: (SnapshotRef, &Roster),
    window: ExplainWindow,
) -> Result<RosterDiff, StoreError> {
    let empty = Roster::default();
    let old = from.map(|(_, r)| r).unwrap_or(&empty);
    let start = from.map(|(s, _)| s.taken_at).unwrap_or(to.0.taken_at) - window.before;
    let end = to.0.taken_at + window.after;
    let mut changes = Vec::new();
    for (kind, grant) in compare(old, to.1) {
        let explained_by = explain(
            store,
            org,
            &kind,
            &grant,
            start.timestamp_micros(),
            end.timestamp_micros(),
        )?;
        let mut warnings = Vec::new();
        if explained_by.is_empty() {
            warnings.push(format!(
                "no log event explains this change (looked for {} between {} and {})",
                explaining_types(&kind, &grant).join(", "),
                start.format("%Y-%m-%dT%H:%M:%SZ"),
                end.format("%Y-%m-%dT%H:%M:%SZ"),
            ));
        }
        if let (PrincipalKind::User, Via::Group { group_name, .. }, ChangeKind::Added) =
            (grant.principal.kind, &grant.via, &kind)
        {
            if !explained_by
                .iter()
                .any(|e| e.event_type == "group.privilege.grant")
            {
                warnings.push(format!(
                    "group-derived: no privilege-grant event shows this admin; the role comes with membership of \"{group_name}\""
                ));
            }
        }
        changes.push(RosterChange {
            kind,
            grant,
            explained_by,
            warnings,
        });
    }
    Ok(RosterDiff {
        from: from.map(|(s, _)| s),
        to: to.0,
        changes,
    })
}
