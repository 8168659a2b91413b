//! The credential-change audit: every password reset or change and every MFA factor change in
//! the stored log, grouped by the user whose credential changed, with who did it, from where,
//! and what to do about it. The question a team had in March 2022: whose password or factors
//! did someone else change, and which of those must be reset now.
//!
//! Who did it ([`ActorClass`]), first match wins:
//! - `impersonation`: the event carries `debugContext.debugData.originalPrincipal` (someone
//!   acting as the actor), or it happened in a session an impersonation started
//!   (`user.session.impersonation.initiate` with the same `externalSessionId`);
//! - `okta_support`: the actor is Okta itself (`system@okta.com`, `SystemPrincipal`) or an
//!   `@okta.com` principal;
//! - `self_service`: the actor is the user;
//! - `help_desk`: the actor holds `HELP_DESK_ADMIN` (per the archived roster) and no broader
//!   standard role (custom and read-only roles beside it do not count);
//! - `admin`: any other actor.
//!
//! The recommendation per user: `force_reset` when anything was done by impersonation or Okta
//! support, from an anonymising proxy, or to an admin's credentials by someone else;
//! `review_factors` when someone else changed them; `ok` when only the user did.

use crate::roster::Roster;
use chrono::{DateTime, Utc};
use okta::filter::Filter;
use okta::LogEvent;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::ops::ControlFlow;
use store::{EventQuery, OrgId, Store, StoreError};

/// Password events audited.
pub const PASSWORD_EVENTS: &[&str] = &[
    "user.account.reset_password",
    "user.account.update_password",
    "user.account.expire_password",
    "user.credential.forgot_password",
];

/// Factor and authenticator events audited.
pub const FACTOR_EVENTS: &[&str] = &[
    "user.mfa.factor.activate",
    "user.mfa.factor.deactivate",
    "user.mfa.factor.reset_all",
    "user.mfa.factor.update",
    "user.mfa.factor.suspend",
    "user.mfa.factor.unsuspend",
    "system.mfa.factor.activate",
    "system.mfa.factor.deactivate",
    "security.authenticator.lifecycle.activate",
    "security.authenticator.lifecycle.create",
    "security.authenticator.lifecycle.deactivate",
    "security.authenticator.lifecycle.update",
];

/// Who changed a credential. Ordered from least to most alarming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorClass {
    /// The user themself.
    SelfService,
    /// An admin.
    Admin,
    /// A help-desk admin.
    HelpDesk,
    /// Okta support or `system@okta.com`.
    OktaSupport,
    /// Someone acting as another principal.
    Impersonation,
}

impl ActorClass {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorClass::SelfService => "self_service",
            ActorClass::Admin => "admin",
            ActorClass::HelpDesk => "help_desk",
            ActorClass::OktaSupport => "okta_support",
            ActorClass::Impersonation => "impersonation",
        }
    }
}

impl fmt::Display for ActorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of credential changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialArea {
    /// The password.
    Password,
    /// MFA factors / authenticators.
    Factors,
}

/// What to do about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    /// Only the user changed their credentials.
    Ok,
    /// Someone else changed them: confirm with the user, review their factors.
    ReviewFactors,
    /// Treat as compromised: force a password reset and re-enrol factors.
    ForceReset,
}

impl Recommendation {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Recommendation::Ok => "ok",
            Recommendation::ReviewFactors => "review_factors",
            Recommendation::ForceReset => "force_reset",
        }
    }
}

impl fmt::Display for Recommendation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One credential change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CredentialChange {
    /// The event's uuid.
    pub uuid: String,
    /// When.
    pub published: DateTime<Utc>,
    /// The event type.
    pub event_type: String,
    /// Password or factors.
    pub area: CredentialArea,
    /// Who did it (`actor.alternateId`).
    pub actor: String,
    /// `actor.id`.
    pub actor_id: String,
    /// Who did it, classified.
    pub actor_class: ActorClass,
    /// The principal behind an impersonated action (`originalPrincipal.alternateId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_principal: Option<String>,
    /// Client IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// Country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Autonomous system organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    /// Okta flagged the client as an anonymising proxy.
    pub proxy: bool,
}

impl CredentialChange {
    /// "ip (country, AS org)", or "no client" for Okta's own tooling.
    pub fn from_where(&self) -> String {
        match &self.client_ip {
            None => "no client".into(),
            Some(ip) => {
                let mut parts: Vec<&str> = Vec::new();
                if let Some(c) = &self.country {
                    parts.push(c);
                }
                if let Some(a) = &self.as_org {
                    parts.push(a);
                }
                if self.proxy {
                    parts.push("proxy");
                }
                if parts.is_empty() {
                    ip.clone()
                } else {
                    format!("{ip} ({})", parts.join(", "))
                }
            }
        }
    }
}

/// Every change to one user's credentials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserCredentials {
    /// `00u…`.
    pub user_id: String,
    /// Login.
    pub login: String,
    /// Password changes.
    pub password_changes: usize,
    /// Factor changes.
    pub factor_changes: usize,
    /// The most alarming actor class among the changes.
    pub actor_class: ActorClass,
    /// Every actor class among the changes.
    pub actor_classes: BTreeSet<ActorClass>,
    /// Who did them (alternate ids).
    pub actors: BTreeSet<String>,
    /// From where.
    pub from: BTreeSet<String>,
    /// First change.
    pub first: DateTime<Utc>,
    /// Last change.
    pub last: DateTime<Utc>,
    /// What to do.
    pub recommendation: Recommendation,
    /// Why, in one sentence.
    pub reason: String,
    /// The changes, oldest first.
    pub changes: Vec<CredentialChange>,
}

/// The audit's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CredentialAudit {
    /// Window start.
    pub since: Option<DateTime<Utc>>,
    /// Window end.
    pub until: Option<DateTime<Utc>>,
    /// Users, most alarming first, then by login.
    pub users: Vec<UserCredentials>,
    /// Org-level authenticator changes (no user target), oldest first.
    pub org_changes: Vec<CredentialChange>,
}

/// Admin roles over time, from archived rosters: what a user held when they acted.
#[derive(Debug, Clone, Default)]
pub struct RoleHistory {
    rosters: Vec<(DateTime<Utc>, Roster)>,
}

impl RoleHistory {
    /// From `(taken_at, roster)` pairs.
    pub fn new(mut rosters: Vec<(DateTime<Utc>, Roster)>) -> RoleHistory {
        rosters.sort_by_key(|(t, _)| *t);
        RoleHistory { rosters }
    }

    /// The roster in force at `at`: the newest taken at or before it, else the oldest.
    pub fn at(&self, at: DateTime<Utc>) -> Option<&Roster> {
        let i = self.rosters.partition_point(|(t, _)| *t <= at);
        let index = if i == 0 { 0 } else { i - 1 };
        self.rosters.get(index).map(|(_, r)| r)
    }
}

/// Roles broader than the help desk's: an actor holding any of them is an admin.
const BROADER_THAN_HELP_DESK: &[&str] = &[
    "SUPER_ADMIN",
    "ORG_ADMIN",
    "USER_ADMIN",
    "APP_ADMIN",
    "GROUP_MEMBERSHIP_ADMIN",
    "API_ACCESS_MANAGEMENT_ADMIN",
    "MOBILE_ADMIN",
];

fn original_principal(event: &LogEvent) -> Option<String> {
    let value = event.debug_data("originalPrincipal")?;
    let parsed;
    let object = match value {
        Value::String(s) if s.is_empty() || s == "null" => return None,
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            &parsed
        }
        Value::Null => return None,
        other => other,
    };
    object
        .get("alternateId")
        .or_else(|| object.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| Some(object.to_string()))
}

/// Classifies who made a change.
pub fn classify(
    event: &LogEvent,
    target_id: &str,
    impersonated_sessions: &HashSet<String>,
    roles: Option<&Roster>,
) -> ActorClass {
    let actor = event.actor();
    if original_principal(event).is_some()
        || event
            .external_session_id()
            .is_some_and(|s| impersonated_sessions.contains(s))
    {
        return ActorClass::Impersonation;
    }
    let alt = actor.alternate_id.unwrap_or_default().to_ascii_lowercase();
    if alt == "system@okta.com"
        || actor.kind == Some("SystemPrincipal")
        || alt.ends_with("@okta.com")
    {
        return ActorClass::OktaSupport;
    }
    if actor.id == Some(target_id) {
        return ActorClass::SelfService;
    }
    let held = actor
        .id
        .zip(roles)
        .map(|(id, roster)| roster.roles_of(id))
        .unwrap_or_default();
    if held.contains("HELP_DESK_ADMIN") && !held.iter().any(|r| BROADER_THAN_HELP_DESK.contains(r))
    {
        ActorClass::HelpDesk
    } else {
        ActorClass::Admin
    }
}

fn area_of(event_type: &str) -> CredentialArea {
    if PASSWORD_EVENTS.contains(&event_type) {
        CredentialArea::Password
    } else {
        CredentialArea::Factors
    }
}

fn type_filter(types: &[&str]) -> Result<Filter, StoreError> {
    let text = types
        .iter()
        .map(|t| format!("eventType eq \"{t}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    Filter::parse(&text).map_err(|e| StoreError::Query(format!("{text}: {e}")))
}

/// Runs the audit over `org`'s events published in `[since, until)`.
pub fn audit_credentials(
    store: &Store,
    org: OrgId,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    roles: &RoleHistory,
) -> Result<CredentialAudit, StoreError> {
    let window = |filter| EventQuery {
        filter: Some(filter),
        since: since.map(|t| t.timestamp_micros()),
        until: until.map(|t| t.timestamp_micros()),
        ordered: true,
        ..EventQuery::default()
    };
    // Sessions an impersonation started: everything done in them is impersonated.
    let mut impersonated: HashSet<String> = HashSet::new();
    let initiate = type_filter(&["user.session.impersonation.initiate"])?;
    store.query(org, &window(initiate), &mut |stored| {
        if let Some(s) = stored.event.external_session_id() {
            impersonated.insert(s.to_string());
        }
        ControlFlow::Continue(())
    })?;

    let all: Vec<&str> = PASSWORD_EVENTS
        .iter()
        .chain(FACTOR_EVENTS)
        .copied()
        .collect();
    let mut by_user: BTreeMap<String, (String, Vec<CredentialChange>)> = BTreeMap::new();
    let mut org_changes = Vec::new();
    store.query(org, &window(type_filter(&all)?), &mut |stored| {
        let event = &stored.event;
        if event.outcome_result().is_some_and(|o| o != "SUCCESS") {
            return ControlFlow::Continue(());
        }
        let actor = event.actor();
        let target = event
            .targets()
            .find(|t| t.kind == Some("User"))
            .map(|t| (t.id, t.alternate_id))
            .or_else(|| {
                (actor.kind == Some("User") && !event.event_type().starts_with("security."))
                    .then_some((actor.id, actor.alternate_id))
            });
        let target_id = target.and_then(|(id, _)| id).unwrap_or_default();
        let change = CredentialChange {
            uuid: event.uuid().0.clone(),
            published: event.published(),
            event_type: event.event_type().to_string(),
            area: area_of(event.event_type()),
            actor: actor.alternate_id.or(actor.id).unwrap_or("?").to_string(),
            actor_id: actor.id.unwrap_or_default().to_string(),
            actor_class: classify(event, target_id, &impersonated, roles.at(event.published())),
            original_principal: original_principal(event),
            client_ip: event.client_ip().map(str::to_string),
            country: event.client_country().map(str::to_string),
            as_org: event.as_org().map(str::to_string),
            proxy: event.is_proxy().unwrap_or(false),
        };
        match target {
            Some((Some(id), login)) => {
                let entry = by_user
                    .entry(id.to_string())
                    .or_insert_with(|| (login.unwrap_or(id).to_string(), Vec::new()));
                entry.1.push(change);
            }
            _ => org_changes.push(change),
        }
        ControlFlow::Continue(())
    })?;

    let latest = roles.at(until.unwrap_or_else(Utc::now));
    let mut users: Vec<UserCredentials> = by_user
        .into_iter()
        .filter_map(|(user_id, (login, changes))| {
            let first = changes.first()?.published;
            let last = changes.last()?.published;
            let actor_classes: BTreeSet<ActorClass> =
                changes.iter().map(|c| c.actor_class).collect();
            let actor_class = *actor_classes.iter().next_back()?;
            let is_admin = latest.is_some_and(|r| !r.roles_of(&user_id).is_empty());
            let (recommendation, reason) = recommend(&changes, is_admin);
            Some(UserCredentials {
                password_changes: changes
                    .iter()
                    .filter(|c| c.area == CredentialArea::Password)
                    .count(),
                factor_changes: changes
                    .iter()
                    .filter(|c| c.area == CredentialArea::Factors)
                    .count(),
                actors: changes.iter().map(|c| c.actor.clone()).collect(),
                from: changes.iter().map(CredentialChange::from_where).collect(),
                user_id,
                login,
                actor_class,
                actor_classes,
                first,
                last,
                recommendation,
                reason,
                changes,
            })
        })
        .collect();
    users.sort_by(|a, b| {
        b.recommendation
            .cmp(&a.recommendation)
            .then(b.actor_class.cmp(&a.actor_class))
            .then(a.login.cmp(&b.login))
    });
    Ok(CredentialAudit {
        since,
        until,
        users,
        org_changes,
    })
}

fn recommend(changes: &[CredentialChange], is_admin: bool) -> (Recommendation, String) {
    let by_others: Vec<&CredentialChange> = changes
        .iter()
        .filter(|c| c.actor_class != ActorClass::SelfService)
        .collect();
    if let Some(c) = changes.iter().find(|c| {
        matches!(
            c.actor_class,
            ActorClass::Impersonation | ActorClass::OktaSupport
        )
    }) {
        let who = c.original_principal.as_deref().unwrap_or(&c.actor);
        return (
            Recommendation::ForceReset,
            format!("{} by {} ({})", c.event_type, who, c.actor_class),
        );
    }
    if let Some(c) = changes.iter().find(|c| c.proxy) {
        return (
            Recommendation::ForceReset,
            format!(
                "{} from an anonymising proxy ({})",
                c.event_type,
                c.from_where()
            ),
        );
    }
    if let Some(c) = by_others.first() {
        if is_admin {
            return (
                Recommendation::ForceReset,
                format!(
                    "an admin's credentials changed by {} ({}): {}",
                    c.actor, c.actor_class, c.event_type
                ),
            );
        }
        return (
            Recommendation::ReviewFactors,
            format!(
                "changed by {} ({}): {}; confirm the user asked for it",
                c.actor, c.actor_class, c.event_type
            ),
        );
    }
    (Recommendation::Ok, "only the user changed them".into())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per user, for the help desk.
pub fn to_csv(audit: &CredentialAudit) -> String {
    let mut out = String::from(
        "login,user_id,recommendation,reason,actor_class,actor_classes,actors,from,password_changes,factor_changes,first,last\n",
    );
    let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join("; ");
    for u in &audit.users {
        let classes: BTreeSet<String> = u.actor_classes.iter().map(|c| c.to_string()).collect();
        let fields = [
            u.login.clone(),
            u.user_id.clone(),
            u.recommendation.to_string(),
            u.reason.clone(),
            u.actor_class.to_string(),
            join(&classes),
            join(&u.actors),
            join(&u.from),
            u.password_changes.to_string(),
            u.factor_changes.to_string(),
            u.first.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            u.last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> LogEvent {
        LogEvent::parse(json).expect("test event parses")
    }

    const BASE: &str = r#""uuid":"11111111-1111-1111-1111-111111111111","published":"2024-03-01T10:00:00.000Z","eventType":"user.account.reset_password","version":"0""#;

    #[test]
    fn actor_classes_from_actor_and_context() {
        let none = HashSet::new();
        let by = |actor: &str, extra: &str| {
            event(&format!(
                r#"{{{BASE},"actor":{actor},"target":[{{"id":"00uT","type":"User","alternateId":"t@x.com"}}]{extra}}}"#
            ))
        };
        let system = by(
            r#"{"id":"spr1","type":"SystemPrincipal","alternateId":"system@okta.com"}"#,
            "",
        );
        assert_eq!(
            classify(&system, "00uT", &none, None),
            ActorClass::OktaSupport
        );
        let own = by(r#"{"id":"00uT","type":"User","alternateId":"t@x.com"}"#, "");
        assert_eq!(classify(&own, "00uT", &none, None), ActorClass::SelfService);
        let admin = by(r#"{"id":"00uA","type":"User","alternateId":"a@x.com"}"#, "");
        assert_eq!(classify(&admin, "00uT", &none, None), ActorClass::Admin);
        let impersonated = by(
            r#"{"id":"00uA","type":"User","alternateId":"a@x.com"}"#,
            r#","debugContext":{"debugData":{"originalPrincipal":"{\"id\":\"00uS\",\"alternateId\":\"agent@okta.com\"}"}}"#,
        );
        assert_eq!(
            classify(&impersonated, "00uT", &none, None),
            ActorClass::Impersonation
        );
        assert_eq!(
            original_principal(&impersonated).as_deref(),
            Some("agent@okta.com")
        );
        let in_session = by(
            r#"{"id":"00uA","type":"User","alternateId":"a@x.com"}"#,
            r#","authenticationContext":{"externalSessionId":"idxS"}"#,
        );
        let sessions: HashSet<String> = ["idxS".to_string()].into();
        assert_eq!(
            classify(&in_session, "00uT", &sessions, None),
            ActorClass::Impersonation
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
