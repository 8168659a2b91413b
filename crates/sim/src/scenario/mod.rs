//! Attack scenarios injected into an org's background activity, each with its ground truth.
//!
//! [`plan`] turns scenario names into a [`ScenarioPlan`]: the malicious (and attack-related
//! benign-looking) events to merge into the generated stream with
//! [`crate::generate::Generator::inject`], the [`DirectoryChange`]s they make to the org's state
//! (so the directory APIs show a privilege grant, a new IdP, support access, ...), and one
//! [`GroundTruth`] per scenario that tests use to measure detection recall and precision.
//! Plans are deterministic: the same org, names, window and seed give the same events (same
//! uuids), so `idwatch sim generate` and `idwatch sim serve` hold exactly the same history.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::generate::{AdminRole, GeneratedEvent, Org};

mod admin_takeover;
mod api_token_persistence;
mod brute_force;
mod flow;
mod group_admin;
mod impossible_travel;
mod infra;
mod mfa_fatigue;
mod password_spray;
mod session_hijack;
mod support_impersonation;
mod threat_insight;

/// Every scenario, with a one-line description (`idwatch sim scenarios` prints this).
pub const SCENARIOS: &[(&str, &str)] = &[
    ("support-impersonation", "Lapsus$ 2022: support access granted, an Okta support principal impersonates, then password and MFA resets from a new IP/ASN"),
    ("mfa-fatigue", "push bombing: many Okta Verify pushes denied, then one accepted from a new location"),
    ("password-spray", "one IP/ASN tries many users, mostly failures, a few successes"),
    ("session-hijack", "a session (externalSessionId, dtHash) reused from another IP, ASN and OS"),
    ("admin-takeover", "2023 cross-tenant chain: help-desk MFA reset of a super admin, admin console via anonymising proxy, privilege grant, MFA downgrade, new IdP, sign-ins through it"),
    ("api-token-persistence", "an API token created from a new IP at an odd hour, then used"),
    ("impossible-travel", "sign-ins from two far-apart countries minutes apart"),
    ("brute-force", "repeated password failures for one user, then the account locks"),
    ("group-admin", "a user added to an admin-role group: no privilege.grant event, only the roster shows it"),
    ("threat-insight", "ThreatInsight flags and blocks requests from a malicious IP"),
];

/// A change a scenario makes to the org's directory state at a point in time. The simulator's
/// directory APIs apply every change whose `at` has passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DirectoryChange {
    /// A user is given an admin role directly (`user.account.privilege.grant`).
    GrantUserRole {
        /// `00u…`.
        user_id: String,
        /// The role.
        role: AdminRole,
    },
    /// A user's direct admin role is removed.
    RevokeUserRole {
        /// `00u…`.
        user_id: String,
        /// The role.
        role: AdminRole,
    },
    /// A user joins a group (an admin-role group makes them a group-derived admin).
    AddGroupMember {
        /// `00g…`.
        group_id: String,
        /// `00u…`.
        user_id: String,
    },
    /// The "Give access to Okta Support" setting changes.
    SupportAccess {
        /// Whether support may impersonate users.
        enabled: bool,
        /// When the grant expires.
        expiration: Option<DateTime<Utc>>,
        /// The support case.
        case_number: Option<String>,
    },
    /// An identity provider is created (and activated).
    CreateIdp {
        /// `0oa…`.
        id: String,
        /// Name.
        name: String,
        /// `SAML2`, `OIDC`, ...
        idp_type: String,
    },
    /// An SSWS API token is created.
    CreateApiToken {
        /// `00T…`.
        id: String,
        /// Name.
        name: String,
        /// The user who created it (the token acts with their privileges).
        user_id: String,
        /// `ANYWHERE` or `ZONE`.
        network_connection: String,
    },
    /// A sign-on / authentication policy rule changes its MFA requirement.
    UpdatePolicyRule {
        /// `00p…`.
        policy_id: String,
        /// `0pr…`.
        rule_id: String,
        /// Whether the rule still requires a second factor.
        require_factor: bool,
    },
    /// All of a user's factors are reset (they must enroll again).
    ResetFactors {
        /// `00u…`.
        user_id: String,
    },
    /// A user's password is reset or changed (`passwordChanged` moves).
    PasswordChanged {
        /// `00u…`.
        user_id: String,
    },
    /// A user is locked out.
    LockUser {
        /// `00u…`.
        user_id: String,
    },
    /// A user is created and activated (e.g. a backdoor account made with an API token).
    CreateUser {
        /// `00u…`.
        user_id: String,
        /// Login and email.
        login: String,
        /// Given name.
        first_name: String,
        /// Family name.
        last_name: String,
    },
}

/// A directory change and when it happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimedChange {
    /// When the change takes effect (the `published` of the event that records it).
    pub at: DateTime<Utc>,
    /// The change.
    pub change: DirectoryChange,
}

/// Who did a credential change, in the terms the credential audit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorClass {
    /// The user themself.
    SelfService,
    /// An org admin.
    Admin,
    /// A help-desk admin.
    HelpDesk,
    /// Okta support or `system@okta.com`.
    OktaSupport,
    /// Someone acting as another principal (impersonation).
    Impersonation,
}

/// A user whose password or factors a scenario changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffectedUser {
    /// `00u…`.
    pub user_id: String,
    /// Login.
    pub login: String,
    /// Who changed it.
    pub actor_class: ActorClass,
}

/// What a scenario did, for tests that measure detections and audits against it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTruth {
    /// The scenario's name (a key of [`SCENARIOS`]).
    pub scenario: String,
    /// The org's Okta domain.
    pub org: String,
    /// `published` of the first malicious event.
    pub start: DateTime<Utc>,
    /// `published` of the last malicious event.
    pub end: DateTime<Utc>,
    /// `actor.alternateId` of the attacking principal (or the attacker's IP for ThreatInsight).
    pub actor: String,
    /// The uuids of the malicious events.
    pub malicious_uuids: Vec<String>,
    /// Users whose password or factors changed, and who changed them.
    pub affected_users: Vec<AffectedUser>,
}

/// What [`plan`] produces.
#[derive(Debug, Clone, Default)]
pub struct ScenarioPlan {
    /// Events to inject into the background stream.
    pub events: Vec<GeneratedEvent>,
    /// Directory changes, in time order.
    pub changes: Vec<TimedChange>,
    /// One entry per scenario.
    pub truth: Vec<GroundTruth>,
}

/// Why a plan cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A name that is not in [`SCENARIOS`].
    #[error("unknown scenario `{0}` (`idwatch sim scenarios` lists them)")]
    Unknown(String),
    /// The window is too short or the org too small for the scenario.
    #[error("scenario `{scenario}`: {reason}")]
    Impossible {
        /// The scenario.
        scenario: String,
        /// Why.
        reason: String,
    },
}

/// Plans the named scenarios against `org`, placing each inside `[start, end)`. Each scenario
/// draws from its own RNG stream of `seed` (keyed by its name), so a scenario's events do not
/// depend on which other scenarios run with it. Events come out sorted by `published`, changes
/// by `at`, ground truth in the order of `names`.
pub fn plan(
    org: &Org,
    names: &[String],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    seed: u64,
) -> Result<ScenarioPlan, ScenarioError> {
    type Planner =
        fn(&Org, DateTime<Utc>, DateTime<Utc>, u64, &mut ScenarioPlan) -> Result<(), ScenarioError>;
    const PLANNERS: &[(&str, Planner)] = &[
        (support_impersonation::NAME, support_impersonation::plan),
        (mfa_fatigue::NAME, mfa_fatigue::plan),
        (password_spray::NAME, password_spray::plan),
        (session_hijack::NAME, session_hijack::plan),
        (admin_takeover::NAME, admin_takeover::plan),
        (api_token_persistence::NAME, api_token_persistence::plan),
        (impossible_travel::NAME, impossible_travel::plan),
        (brute_force::NAME, brute_force::plan),
        (group_admin::NAME, group_admin::plan),
        (threat_insight::NAME, threat_insight::plan),
    ];
    let mut out = ScenarioPlan::default();
    for name in names {
        let name = name.trim();
        let planner = PLANNERS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, planner)| planner)
            .ok_or_else(|| ScenarioError::Unknown(name.to_string()))?;
        planner(org, start, end, seed, &mut out)?;
    }
    out.events.sort_by_key(|e| e.published);
    out.changes.sort_by_key(|c| c.at);
    Ok(out)
}

fn impossible(scenario: &str, reason: &str) -> ScenarioError {
    ScenarioError::Impossible {
        scenario: scenario.to_string(),
        reason: reason.to_string(),
    }
}
