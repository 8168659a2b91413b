//! Posture checks: the tenant's configuration against Okta's own hardening guidance
//! (HealthInsight, "protecting admin sessions", the 2022 support-access lesson; reference.md §6,
//! guidance.md §2c/§2d). [`read_posture`] fetches what the checks need through a
//! [`DirectorySource`]; [`evaluate`] is pure, so every check is tested on plain JSON.
//!
//! Each check gives pass / warn / fail (or unknown when its endpoint could not be read), the
//! evidence it saw, and the remediation in one sentence. [`regressions`] compares two reports
//! for the daemon's daily re-check.

use crate::roster::Roster;
use crate::source::{DirectorySource, SourceError};
use chrono::{DateTime, Utc};
use okta::event::parse_time;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// A check's verdict, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Meets the guidance.
    Pass,
    /// Short of the guidance, not dangerous by itself.
    Warn,
    /// Against the guidance.
    Fail,
    /// Could not be checked (the endpoint was not readable).
    Unknown,
}

impl Status {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
        }
    }

    fn severity(self) -> u8 {
        match self {
            Status::Pass => 0,
            Status::Unknown => 1,
            Status::Warn => 2,
            Status::Fail => 3,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable id (`support_access`, ...).
    pub id: String,
    /// What is checked.
    pub title: String,
    /// The verdict.
    pub status: Status,
    /// What was seen.
    pub evidence: Vec<String>,
    /// What to do, in one sentence.
    pub remediation: String,
}

/// Every check's result at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostureReport {
    /// When the configuration was read.
    pub checked_at: DateTime<Utc>,
    /// The results, in a fixed order.
    pub checks: Vec<CheckResult>,
}

impl PostureReport {
    /// The result of check `id`.
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The worst status among the checks.
    pub fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max_by_key(|s| s.severity())
            .unwrap_or(Status::Pass)
    }
}

/// Check ids, in report order.
pub const CHECKS: &[(&str, &str)] = &[
    ("support_access", "Okta Support access disabled or expired"),
    ("admin_console_mfa", "MFA required for the Admin Console"),
    (
        "mfa_sign_on",
        "MFA required by sign-on policy for every group",
    ),
    (
        "password_policy",
        "Password policy: length, complexity, history, lockout",
    ),
    ("super_admins", "Few super admins, and not most admins"),
    (
        "weak_factors",
        "No weak factors (SMS, voice, email, security question)",
    ),
    ("admin_sessions", "Admin session lifetime and idle timeout"),
    ("api_tokens", "API tokens restricted to network zones"),
    ("external_idps", "No unexpected external identity providers"),
    ("threat_insight", "ThreatInsight blocks malicious IPs"),
];

/// Limits and allowlists for the checks (`[audit]` in idwatch.toml).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostureConfig {
    /// Identity providers (by name or id) that are expected; any other active one fails.
    pub expected_idps: Vec<String>,
    /// Most super admins before the check fails (HealthInsight: 15).
    pub max_super_admins: usize,
    /// Shortest acceptable password.
    pub min_password_length: u64,
    /// Longest acceptable admin session, in minutes (Okta's admin default: 12 h).
    pub max_admin_session_minutes: u64,
    /// Longest acceptable admin idle time, in minutes (Okta's admin default and DISA: 15).
    pub max_admin_idle_minutes: u64,
}

impl Default for PostureConfig {
    fn default() -> Self {
        PostureConfig {
            expected_idps: Vec::new(),
            max_super_admins: 15,
            min_password_length: 12,
            max_admin_session_minutes: 12 * 60,
            max_admin_idle_minutes: 15,
        }
    }
}

/// A policy with its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyWithRules {
    /// The policy object.
    pub policy: Value,
    /// Its rules.
    pub rules: Vec<Value>,
}

/// Everything the checks read; each part is the API's JSON or why it could not be read.
#[derive(Debug, Clone)]
pub struct PostureInput {
    /// `GET /api/v1/org/privacy/oktaSupport`.
    pub support: Result<Value, SourceError>,
    /// `OKTA_SIGN_ON` policies with rules.
    pub sign_on: Result<Vec<PolicyWithRules>, SourceError>,
    /// `ACCESS_POLICY` policies with rules.
    pub access: Result<Vec<PolicyWithRules>, SourceError>,
    /// `PASSWORD` policies.
    pub password: Result<Vec<Value>, SourceError>,
    /// `GET /api/v1/authenticators`.
    pub authenticators: Result<Vec<Value>, SourceError>,
    /// `GET /api/v1/groups`.
    pub groups: Result<Vec<Value>, SourceError>,
    /// `GET /api/v1/apps`.
    pub apps: Result<Vec<Value>, SourceError>,
    /// `GET /api/v1/api-tokens`.
    pub api_tokens: Result<Vec<Value>, SourceError>,
    /// `GET /api/v1/idps`.
    pub idps: Result<Vec<Value>, SourceError>,
    /// `GET /api/v1/threats/configuration`.
    pub threat_insight: Result<Value, SourceError>,
    /// The admin roster.
    pub roster: Roster,
}

async fn policies<S: DirectorySource>(
    source: &S,
    policy_type: &str,
    with_rules: bool,
) -> Result<Vec<PolicyWithRules>, SourceError> {
    let list = source
        .get_all(&format!("/api/v1/policies?type={policy_type}"))
        .await?;
    let mut out = Vec::with_capacity(list.len());
    for policy in list {
        let rules = match (with_rules, str_of(&policy, "id")) {
            (true, Some(id)) => {
                source
                    .get_all(&format!("/api/v1/policies/{id}/rules"))
                    .await?
            }
            _ => Vec::new(),
        };
        out.push(PolicyWithRules { policy, rules });
    }
    Ok(out)
}

/// Reads what the checks need. Failures are kept per part (the check reports `unknown`).
pub async fn read_posture<S: DirectorySource>(source: &S, roster: Roster) -> PostureInput {
    PostureInput {
        support: source.get_one("/api/v1/org/privacy/oktaSupport").await,
        sign_on: policies(source, "OKTA_SIGN_ON", true).await,
        access: policies(source, "ACCESS_POLICY", true).await,
        password: policies(source, "PASSWORD", false)
            .await
            .map(|ps| ps.into_iter().map(|p| p.policy).collect()),
        authenticators: source.get_all("/api/v1/authenticators").await,
        groups: source.get_all("/api/v1/groups?limit=200").await,
        apps: source.get_all("/api/v1/apps?limit=200").await,
        api_tokens: source.get_all("/api/v1/api-tokens").await,
        idps: source.get_all("/api/v1/idps").await,
        threat_insight: source.get_one("/api/v1/threats/configuration").await,
        roster,
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn at<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    v.pointer(pointer)
}

fn active(v: &Value) -> bool {
    str_of(v, "status").is_none_or(|s| s.eq_ignore_ascii_case("ACTIVE"))
}

fn name_of(v: &Value) -> String {
    str_of(v, "name")
        .or_else(|| str_of(v, "label"))
        .or_else(|| at(v, "/profile/name").and_then(Value::as_str))
        .or_else(|| str_of(v, "id"))
        .unwrap_or("?")
        .to_string()
}

fn by_priority(items: &[Value]) -> Vec<&Value> {
    let mut sorted: Vec<&Value> = items.iter().filter(|v| active(v)).collect();
    sorted.sort_by_key(|v| {
        v.get("priority")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX)
    });
    sorted
}

fn result(id: &str, status: Status, evidence: Vec<String>, remediation: &str) -> CheckResult {
    let title = CHECKS
        .iter()
        .find(|(c, _)| *c == id)
        .map(|(_, t)| *t)
        .unwrap_or(id);
    CheckResult {
        id: id.to_string(),
        title: title.to_string(),
        status,
        evidence,
        remediation: remediation.to_string(),
    }
}

fn unknown(id: &str, error: &SourceError, remediation: &str) -> CheckResult {
    result(
        id,
        Status::Unknown,
        vec![format!("could not read: {error}")],
        remediation,
    )
}

const R_SUPPORT: &str = "Revoke Okta Support access (Settings > Account > Okta Support access) unless an open case needs it, and grant it per case for as short a time as possible.";
const R_ADMIN_MFA: &str = "Require two factors, phishing-resistant for admins, in every allowing rule of the Okta Admin Console authentication policy.";
const R_SIGN_ON: &str = "Require MFA in the global session policy rules that apply to these groups and remove rules that allow sign-in with a password alone.";
const R_PASSWORD: &str = "Set the password policy to at least 12 characters with complexity or the common-password check, a history of at least 4, and lockout after at most 10 attempts.";
const R_SUPER: &str = "Give super admin only to the few who need it (Okta: at most 15, and under half of all admins) and use narrower or custom roles for the rest.";
const R_FACTORS: &str = "Deactivate SMS, voice, email (except for recovery) and security question as authenticators and enrol users in Okta Verify, FastPass or FIDO2.";
const R_SESSIONS: &str = "Limit admin sessions to 12 hours and 15 minutes idle (Okta's admin defaults) in the session policy rules that apply to admins.";
const R_TOKENS: &str = "Restrict every API token to a network zone (or replace it with an OAuth service app) and revoke tokens nobody owns.";
const R_IDPS: &str = "Confirm every identity provider is yours, delete the ones you did not create, and list the expected ones in [audit.posture] expected_idps.";
const R_THREAT: &str =
    "Set ThreatInsight to \"Log and enforce security based on threat level\" (action block).";

fn check_support(input: &PostureInput, now: DateTime<Utc>) -> CheckResult {
    let id = "support_access";
    let support = match &input.support {
        Ok(v) => v,
        Err(e) => return unknown(id, e, R_SUPPORT),
    };
    let state = str_of(support, "support").unwrap_or("?");
    let expiration = str_of(support, "expiration").and_then(parse_time);
    let case = str_of(support, "caseNumber");
    let mut evidence = vec![format!("support: {state}")];
    if let Some(exp) = expiration {
        evidence.push(format!("expiration: {}", exp.to_rfc3339()));
    }
    if let Some(case) = case {
        evidence.push(format!("case: {case}"));
    }
    let status = match (state, expiration) {
        ("DISABLED", _) => Status::Pass,
        ("ENABLED", Some(exp)) if exp <= now => {
            evidence.push("the grant has expired".into());
            Status::Pass
        }
        ("ENABLED", _) => Status::Fail,
        _ => Status::Warn,
    };
    result(id, status, evidence, R_SUPPORT)
}

/// Whether an access-policy rule lets someone in with one factor.
fn allows_one_factor(rule: &Value) -> bool {
    let access = at(rule, "/actions/appSignOn/access").and_then(Value::as_str);
    if access == Some("DENY") {
        return false;
    }
    let mode = at(rule, "/actions/appSignOn/verificationMethod/factorMode").and_then(Value::as_str);
    mode != Some("2FA")
}

fn admin_console_policy(input: &PostureInput) -> Option<&PolicyWithRules> {
    let access = input.access.as_ref().ok()?;
    // By the Admin Console app's policy link, else by name.
    let linked = input.apps.as_ref().ok().and_then(|apps| {
        apps.iter()
            .find(|a| {
                str_of(a, "name") == Some("saasure")
                    || str_of(a, "label")
                        .is_some_and(|l| l.eq_ignore_ascii_case("Okta Admin Console"))
            })
            .and_then(|a| at(a, "/_links/accessPolicy/href").and_then(Value::as_str))
            .map(|href| href.rsplit('/').next().unwrap_or(href).to_string())
    });
    access
        .iter()
        .find(|p| {
            linked
                .as_deref()
                .is_some_and(|id| str_of(&p.policy, "id") == Some(id))
        })
        .or_else(|| {
            access.iter().find(|p| {
                name_of(&p.policy)
                    .to_ascii_lowercase()
                    .contains("admin console")
            })
        })
}

fn check_admin_console(input: &PostureInput) -> CheckResult {
    let id = "admin_console_mfa";
    if let Err(e) = &input.access {
        return unknown(id, e, R_ADMIN_MFA);
    }
    let Some(policy) = admin_console_policy(input) else {
        return result(
            id,
            Status::Warn,
            vec!["no authentication policy for the Okta Admin Console found".into()],
            R_ADMIN_MFA,
        );
    };
    let weak: Vec<String> = by_priority(&policy.rules)
        .into_iter()
        .filter(|r| allows_one_factor(r))
        .map(|r| format!("rule \"{}\" allows one factor", name_of(r)))
        .collect();
    let name = name_of(&policy.policy);
    if weak.is_empty() {
        result(
            id,
            Status::Pass,
            vec![format!(
                "policy \"{name}\": every allowing rule requires 2FA"
            )],
            R_ADMIN_MFA,
        )
    } else {
        let mut evidence = vec![format!("policy \"{name}\"")];
        evidence.extend(weak);
        result(id, Status::Fail, evidence, R_ADMIN_MFA)
    }
}

/// The groups a policy or rule applies to (`None`: no group condition, everyone).
fn people_groups(v: &Value) -> Option<(BTreeSet<String>, BTreeSet<String>)> {
    let ids = |p: &str| -> BTreeSet<String> {
        at(v, p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let include = ids("/conditions/people/groups/include");
    let exclude = ids("/conditions/people/groups/exclude");
    if include.is_empty() && exclude.is_empty() {
        None
    } else {
        Some((include, exclude))
    }
}

/// Whether a policy or rule with these conditions applies to members of `group` signing in
/// from anywhere (rules limited to a network zone are skipped: they do not cover the rest).
fn applies_to(v: &Value, group: &str, everyone: Option<&str>) -> bool {
    let network = at(v, "/conditions/network/connection").and_then(Value::as_str);
    if network.is_some_and(|n| n != "ANYWHERE") {
        return false;
    }
    match people_groups(v) {
        None => true,
        Some((include, exclude)) => {
            !exclude.contains(group)
                && (include.is_empty()
                    || include.contains(group)
                    || everyone.is_some_and(|e| include.contains(e)))
        }
    }
}

/// The first rule (of the first policy that has one) Okta evaluates for members of `group`:
/// policies and rules in priority order, as the global session policy is evaluated.
fn first_rule_for<'a>(
    policies: &'a [PolicyWithRules],
    group: &str,
    everyone: Option<&str>,
) -> Option<(&'a PolicyWithRules, &'a Value)> {
    let mut sorted: Vec<&PolicyWithRules> = policies.iter().filter(|p| active(&p.policy)).collect();
    sorted.sort_by_key(|p| {
        p.policy
            .get("priority")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX)
    });
    sorted
        .into_iter()
        .filter(|p| applies_to(&p.policy, group, everyone))
        .find_map(|p| {
            by_priority(&p.rules)
                .into_iter()
                .find(|r| applies_to(r, group, everyone))
                .map(|r| (p, r))
        })
}

fn sign_on_rule_requires_mfa(rule: &Value) -> bool {
    let signon = at(rule, "/actions/signon");
    let access = signon.and_then(|s| str_of(s, "access"));
    if access == Some("DENY") {
        return true;
    }
    signon
        .and_then(|s| s.get("requireFactor"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn everyone_id(groups: &[Value]) -> Option<&str> {
    groups
        .iter()
        .find(|g| str_of(g, "type") == Some("BUILT_IN") || name_of(g) == "Everyone")
        .and_then(|g| str_of(g, "id"))
}

fn check_mfa_sign_on(input: &PostureInput) -> CheckResult {
    let id = "mfa_sign_on";
    let policies = match &input.sign_on {
        Ok(p) => p,
        Err(e) => return unknown(id, e, R_SIGN_ON),
    };
    let groups = match &input.groups {
        Ok(g) => g,
        Err(e) => return unknown(id, e, R_SIGN_ON),
    };
    let everyone = everyone_id(groups);
    let mut uncovered = Vec::new();
    let mut covered = 0usize;
    for group in groups
        .iter()
        .filter(|g| str_of(g, "type") != Some("APP_GROUP"))
    {
        let gid = str_of(group, "id").unwrap_or_default();
        let why = match first_rule_for(policies, gid, everyone) {
            None => Some("no sign-on rule applies".to_string()),
            Some((p, r)) if !sign_on_rule_requires_mfa(r) => Some(format!(
                "policy \"{}\" rule \"{}\" allows sign-in without MFA",
                name_of(&p.policy),
                name_of(r)
            )),
            Some(_) => None,
        };
        match why {
            None => covered += 1,
            Some(why) => uncovered.push(format!("{} ({why})", name_of(group))),
        }
    }
    let total = covered + uncovered.len();
    let mut evidence = vec![format!(
        "{covered} of {total} groups must pass MFA to sign in"
    )];
    if uncovered.is_empty() {
        return result(id, Status::Pass, evidence, R_SIGN_ON);
    }
    evidence.push(format!("not covered: {}", uncovered.join("; ")));
    result(id, Status::Fail, evidence, R_SIGN_ON)
}

fn check_password(input: &PostureInput, config: &PostureConfig) -> CheckResult {
    let id = "password_policy";
    let policies = match &input.password {
        Ok(p) => p,
        Err(e) => return unknown(id, e, R_PASSWORD),
    };
    let mut evidence = Vec::new();
    let mut worst = Status::Pass;
    let raise = |s: Status, worst: &mut Status| {
        if s.severity() > worst.severity() {
            *worst = s;
        }
    };
    let active_policies: Vec<&Value> = policies.iter().filter(|p| active(p)).collect();
    if active_policies.is_empty() {
        return result(
            id,
            Status::Warn,
            vec!["no active password policy".into()],
            R_PASSWORD,
        );
    }
    for policy in active_policies {
        let num = |p: &str| at(policy, p).and_then(Value::as_u64);
        let c = "/settings/password/complexity";
        let min_length = num(&format!("{c}/minLength")).unwrap_or(8);
        let classes = ["minLowerCase", "minUpperCase", "minNumber", "minSymbol"]
            .iter()
            .filter(|k| num(&format!("{c}/{k}")).unwrap_or(0) > 0)
            .count();
        let dictionary = at(policy, &format!("{c}/dictionary/common/exclude"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let history = num("/settings/password/age/historyCount").unwrap_or(0);
        let lockout = num("/settings/password/lockout/maxAttempts").unwrap_or(0);
        let mut problems = Vec::new();
        if min_length < 8 {
            problems.push(format!("minimum length {min_length}"));
            raise(Status::Fail, &mut worst);
        } else if min_length < config.min_password_length {
            problems.push(format!(
                "minimum length {min_length} (< {})",
                config.min_password_length
            ));
            raise(Status::Warn, &mut worst);
        }
        if classes < 3 && !dictionary {
            problems.push(format!(
                "{classes} character classes required and no common-password check"
            ));
            raise(Status::Fail, &mut worst);
        }
        if history == 0 {
            problems.push("no password history".into());
            raise(Status::Fail, &mut worst);
        } else if history < 4 {
            problems.push(format!("history of {history}"));
            raise(Status::Warn, &mut worst);
        }
        if lockout == 0 {
            problems.push("no lockout".into());
            raise(Status::Fail, &mut worst);
        } else if lockout > 10 {
            problems.push(format!("lockout after {lockout} attempts"));
            raise(Status::Warn, &mut worst);
        }
        let name = name_of(policy);
        evidence.push(if problems.is_empty() {
            format!(
                "policy \"{name}\": length {min_length}, {classes} classes, history {history}, lockout after {lockout}"
            )
        } else {
            format!("policy \"{name}\": {}", problems.join(", "))
        });
    }
    result(id, worst, evidence, R_PASSWORD)
}

fn check_super_admins(input: &PostureInput, config: &PostureConfig) -> CheckResult {
    let id = "super_admins";
    let admins = input.roster.admin_users().len();
    let supers = input.roster.super_admin_users().len();
    let mut evidence = vec![format!("{supers} super admins of {admins} admins")];
    if !input.roster.gaps.is_empty() {
        evidence.push(format!("roster gaps: {}", input.roster.gaps.join("; ")));
    }
    let status = if supers > config.max_super_admins || (admins >= 3 && supers * 2 > admins) {
        Status::Fail
    } else if supers == 0 {
        evidence.push("no super admin found".into());
        Status::Warn
    } else {
        Status::Pass
    };
    result(id, status, evidence, R_SUPER)
}

fn check_weak_factors(input: &PostureInput) -> CheckResult {
    let id = "weak_factors";
    let authenticators = match &input.authenticators {
        Ok(a) => a,
        Err(e) => return unknown(id, e, R_FACTORS),
    };
    let weak: Vec<String> = authenticators
        .iter()
        .filter(|a| active(a))
        .filter_map(|a| {
            let key = str_of(a, "key")?;
            let weak = match key {
                "phone_number" | "security_question" | "okta_sms" | "okta_call" => true,
                "okta_email" => {
                    at(a, "/settings/allowedFor").and_then(Value::as_str) != Some("recovery")
                }
                _ => false,
            };
            weak.then(|| format!("{} ({key})", name_of(a)))
        })
        .collect();
    if weak.is_empty() {
        let strong: Vec<String> = authenticators
            .iter()
            .filter(|a| active(a))
            .filter_map(|a| str_of(a, "key").map(str::to_string))
            .collect();
        result(
            id,
            Status::Pass,
            vec![format!("active authenticators: {}", strong.join(", "))],
            R_FACTORS,
        )
    } else {
        result(
            id,
            Status::Fail,
            vec![format!("weak authenticators active: {}", weak.join(", "))],
            R_FACTORS,
        )
    }
}

fn check_admin_sessions(input: &PostureInput, config: &PostureConfig) -> CheckResult {
    let id = "admin_sessions";
    let policies = match &input.sign_on {
        Ok(p) => p,
        Err(e) => return unknown(id, e, R_SESSIONS),
    };
    let groups = input.groups.as_deref().unwrap_or_default();
    let everyone = everyone_id(groups);
    // The groups admins hold their roles through; everyone when no admin group exists.
    let mut admin_groups: BTreeSet<String> = input
        .roster
        .grants
        .iter()
        .filter(|g| g.principal.kind == crate::roster::PrincipalKind::Group)
        .map(|g| g.principal.id.clone())
        .collect();
    if admin_groups.is_empty() {
        admin_groups.extend(everyone.map(str::to_string));
    }
    let mut evidence = Vec::new();
    let mut worst = Status::Pass;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for group in &admin_groups {
        let Some((policy, rule)) = first_rule_for(policies, group, everyone) else {
            continue;
        };
        if !seen.insert(str_of(rule, "id").unwrap_or_default().to_string()) {
            continue;
        }
        if at(rule, "/actions/signon/access").and_then(Value::as_str) == Some("DENY") {
            continue;
        }
        let session = at(rule, "/actions/signon/session");
        let number = |key: &str| session.and_then(|s| s.get(key)).and_then(Value::as_u64);
        let lifetime = number("maxSessionLifetimeMinutes").unwrap_or(0);
        let idle = number("maxSessionIdleMinutes").unwrap_or(120);
        let persistent = session
            .and_then(|s| s.get("usePersistentCookie"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut status = Status::Pass;
        if lifetime == 0 || lifetime > config.max_admin_session_minutes {
            status = Status::Fail;
        }
        if idle > 4 * config.max_admin_idle_minutes {
            status = Status::Fail;
        } else if idle > config.max_admin_idle_minutes && status == Status::Pass {
            status = Status::Warn;
        }
        if persistent && status == Status::Pass {
            status = Status::Warn;
        }
        if status.severity() > worst.severity() {
            worst = status;
        }
        let lifetime_text = if lifetime == 0 {
            "unlimited".to_string()
        } else {
            format!("{lifetime} min")
        };
        evidence.push(format!(
            "policy \"{}\" rule \"{}\": lifetime {lifetime_text}, idle {idle} min{}",
            name_of(&policy.policy),
            name_of(rule),
            if persistent {
                ", persistent cookie"
            } else {
                ""
            }
        ));
    }
    if evidence.is_empty() {
        return result(
            id,
            Status::Warn,
            vec!["no sign-on rule applies to admins".into()],
            R_SESSIONS,
        );
    }
    result(id, worst, evidence, R_SESSIONS)
}

fn check_api_tokens(input: &PostureInput) -> CheckResult {
    let id = "api_tokens";
    let tokens = match &input.api_tokens {
        Ok(t) => t,
        Err(e) => return unknown(id, e, R_TOKENS),
    };
    let open: Vec<String> = tokens
        .iter()
        .filter(|t| at(t, "/network/connection").and_then(Value::as_str) != Some("ZONE"))
        .map(|t| {
            format!(
                "\"{}\" (owner {}, usable from anywhere)",
                name_of(t),
                str_of(t, "userId").unwrap_or("?")
            )
        })
        .collect();
    let mut evidence = vec![format!("{} API tokens", tokens.len())];
    if open.is_empty() {
        return result(id, Status::Pass, evidence, R_TOKENS);
    }
    evidence.extend(open);
    result(id, Status::Fail, evidence, R_TOKENS)
}

fn check_idps(input: &PostureInput, config: &PostureConfig) -> CheckResult {
    let id = "external_idps";
    let idps = match &input.idps {
        Ok(i) => i,
        Err(e) => return unknown(id, e, R_IDPS),
    };
    let unexpected: Vec<String> = idps
        .iter()
        .filter(|i| active(i))
        .filter(|i| {
            let name = name_of(i);
            let iid = str_of(i, "id").unwrap_or_default();
            !config.expected_idps.iter().any(|e| e == &name || e == iid)
        })
        .map(|i| {
            format!(
                "\"{}\" ({}, created {})",
                name_of(i),
                str_of(i, "type").unwrap_or("?"),
                str_of(i, "created").unwrap_or("?")
            )
        })
        .collect();
    let mut evidence = vec![format!(
        "{} identity providers, {} expected",
        idps.len(),
        config.expected_idps.len()
    )];
    if unexpected.is_empty() {
        return result(id, Status::Pass, evidence, R_IDPS);
    }
    evidence.push(format!("unexpected: {}", unexpected.join("; ")));
    result(id, Status::Fail, evidence, R_IDPS)
}

fn check_threat_insight(input: &PostureInput) -> CheckResult {
    let id = "threat_insight";
    let config = match &input.threat_insight {
        Ok(c) => c,
        Err(e) => return unknown(id, e, R_THREAT),
    };
    let action = str_of(config, "action").unwrap_or("none");
    let status = match action {
        "block" => Status::Pass,
        "audit" => Status::Warn,
        _ => Status::Fail,
    };
    result(id, status, vec![format!("action: {action}")], R_THREAT)
}

/// Runs every check on what was read.
pub fn evaluate(input: &PostureInput, config: &PostureConfig, now: DateTime<Utc>) -> PostureReport {
    PostureReport {
        checked_at: now,
        checks: vec![
            check_support(input, now),
            check_admin_console(input),
            check_mfa_sign_on(input),
            check_password(input, config),
            check_super_admins(input, config),
            check_weak_factors(input),
            check_admin_sessions(input, config),
            check_api_tokens(input),
            check_idps(input, config),
            check_threat_insight(input),
        ],
    }
}

/// A check that got worse between two reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Regression {
    /// The check.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Before.
    pub from: Status,
    /// Now.
    pub to: Status,
    /// What is seen now.
    pub evidence: Vec<String>,
    /// What to do.
    pub remediation: String,
}

/// Checks whose status got worse from `old` to `new` (unknown is not a regression by itself).
pub fn regressions(old: &PostureReport, new: &PostureReport) -> Vec<Regression> {
    new.checks
        .iter()
        .filter_map(|now| {
            let before = old.check(&now.id)?;
            let worse =
                now.status != Status::Unknown && now.status.severity() > before.status.severity();
            worse.then(|| Regression {
                id: now.id.clone(),
                title: now.title.clone(),
                from: before.status,
                to: now.status,
                evidence: now.evidence.clone(),
                remediation: now.remediation.clone(),
            })
        })
        .collect()
}
