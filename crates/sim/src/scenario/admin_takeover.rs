//! `admin-takeover` (the 2023 cross-tenant impersonation chain): a caller talks the help desk
//! into resetting a super admin's factors (`user.mfa.factor.reset_all` by a help-desk admin);
//! minutes later the super admin's account signs in from an anonymising proxy
//! (`securityContext.isProxy: true`), enrolls a new Okta Verify, opens the Admin Console, grants
//! super admin to another account (`user.account.privilege.grant`), downgrades the app sign-in
//! policy from 2FA to 1FA (`policy.rule.update` whose `PolicyRule` target carries
//! `changeDetails.from/to.policyRuleActionJson`, JSON strings as Okta writes them), creates and
//! activates a SAML identity provider (`system.idp.lifecycle.create`/`activate`), and users
//! then sign in through it (`user.authentication.auth_via_IDP`, sessions issued by the new IdP).

use super::flow::{ordinary_users, pick_time, Attack, Signals};
use super::{infra, ActorClass, DirectoryChange, ScenarioError, ScenarioPlan};
use crate::generate::event::{AuthenticationContext, DebugValue, EventSpec, Target};
use crate::generate::{ids, AdminRole, Factor, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "admin-takeover";

const FROM_2FA: &str = r#"{"appSignOn":{"access":"ALLOW","verificationMethod":{"factorMode":"2FA","type":"ASSURANCE","reauthenticateIn":"PT2H","constraints":[{"possession":{"deviceBound":"REQUIRED"}}]}}}"#;
const TO_1FA: &str = r#"{"appSignOn":{"access":"ALLOW","verificationMethod":{"factorMode":"1FA","type":"ASSURANCE","reauthenticateIn":"PT12H","constraints":[]}}}"#;
const IDP_NAMES: &[&str] = &[
    "Partner SSO",
    "Okta Org2Org",
    "Contractor IdP",
    "Corporate SAML",
];

pub(crate) fn plan(
    org: &Org,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    seed: u64,
    out: &mut ScenarioPlan,
) -> Result<(), ScenarioError> {
    let mut a = Attack::new(org, NAME, seed);
    let admin_of = |role| org.first_admin(role).map(|admin| &org.users[admin.user]);
    let super_admin = admin_of(AdminRole::SuperAdmin)
        .ok_or_else(|| super::impossible(NAME, "the org has no super admin"))?;
    let help_desk = admin_of(AdminRole::HelpDeskAdmin)
        .ok_or_else(|| super::impossible(NAME, "the org has no help-desk admin"))?;
    let at = pick_time(
        &mut a.rng,
        start,
        end,
        help_desk.home.utc_offset(),
        10 * 60..15 * 60,
        Duration::hours(4),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than 4 hours"))?;
    let mut candidates = ordinary_users(org, at, at + Duration::hours(4), None);
    if candidates.len() < 3 {
        return Err(super::impossible(NAME, "the org needs 3 ordinary users"));
    }
    let picked: Vec<usize> = (0..3)
        .map(|_| candidates.swap_remove(a.rng.random_range(0..candidates.len())))
        .collect();
    let grantee = &org.users[picked[0]];

    // 1. The help desk resets the super admin's factors.
    let mut desk = a.home_session(help_desk, at);
    a.sign_in(&mut desk, false);
    desk.at += a.pause(20_000, 90_000);
    a.open_admin_console(&mut desk, false);
    desk.at += a.pause(60_000, 6 * 60_000);
    let uri = format!("/api/v1/users/{}/lifecycle/reset_factors", super_admin.id);
    a.admin_action(
        &desk,
        "user.mfa.factor.reset_all",
        "Reset all factors for user",
        None,
        &uri,
        &[Target::user(super_admin)],
        &[],
        true,
    );
    a.change(
        desk.at,
        DirectoryChange::ResetFactors {
            user_id: super_admin.id.clone(),
        },
    );
    a.affect(super_admin, ActorClass::HelpDesk);

    // 2. The attacker signs in as the super admin through an anonymising proxy.
    let network =
        &infra::ANONYMISING_PROXIES[a.rng.random_range(0..infra::ANONYMISING_PROXIES.len())];
    let client = network.client(&mut a.rng, &infra::ATTACKER_WINDOWS);
    let signals = Signals::new_country("HIGH", "Anomalous Device, Anomalous Location");
    let sign_in_at = desk.at + a.pause(8 * 60_000, 35 * 60_000);
    let mut s = a.session(super_admin, client, signals, sign_in_at, false);
    a.policy_evaluation(&s, true);
    s.at += a.pause(2_000, 9_000);
    a.password_verified(&s, true);
    s.at += a.pause(30_000, 120_000);
    let enroll_targets = [Target::user(super_admin)];
    let enroll_debug = [("factor", DebugValue::Str("OKTA_VERIFY_PUSH"))];
    a.malicious(&EventSpec {
        legacy_event_type: Some("core.user.factor.activate"),
        request_uri: Some("/idp/idx/credential/enroll"),
        debug: &enroll_debug,
        targets: Some(&enroll_targets),
        ..s.spec("user.mfa.factor.activate", "User set up factor")
    });
    s.at += a.pause(2_000, 10_000);
    let request = a.mfa_verified(&s, Factor::OktaVerifyPush, true);
    s.at += a.pause(5, 60);
    a.session_started(&s, Factor::OktaVerifyPush, &request, true);
    s.at += a.pause(400, 2_500);
    a.single_sign_on(&s, org.dashboard(), true);
    s.at += a.pause(10_000, 60_000);
    a.admin_console_policy_evaluation(&s, true);
    a.open_admin_console(&mut s, true);

    // 3. Super admin for another account.
    s.at += a.pause(60_000, 5 * 60_000);
    let uri = format!("/api/internal/administrators/{}", grantee.id);
    let granted = [(
        "privilegeGranted",
        DebugValue::Str(AdminRole::SuperAdmin.label()),
    )];
    a.admin_action(
        &s,
        "user.account.privilege.grant",
        "Grant user privilege",
        Some("core.user.admin_privilege.granted"),
        &uri,
        &[Target::user(grantee)],
        &granted,
        true,
    );
    a.change(
        s.at,
        DirectoryChange::GrantUserRole {
            user_id: grantee.id.clone(),
            role: AdminRole::SuperAdmin,
        },
    );

    // 4. MFA downgrade of the default app sign-in policy.
    if let Some(policy) = org.authentication_policies.get(Org::DEFAULT_ACCESS_POLICY) {
        if let Some(rule) = policy.rules.last() {
            s.at += a.pause(60_000, 4 * 60_000);
            let change = serde_json::json!({
                "from": {"policyRuleActionJson": FROM_2FA},
                "to": {"policyRuleActionJson": TO_1FA},
            })
            .to_string();
            let detail = [("policyType", policy.policy_type.as_str())];
            let targets = [
                Target::policy(policy, &detail),
                Target {
                    change_details: Some(&change),
                    ..Target::policy_rule(policy, rule)
                },
            ];
            let uri = format!("/api/v1/policies/{}/rules/{}", policy.id, rule.id);
            a.admin_action(
                &s,
                "policy.rule.update",
                "Update policy rule",
                Some("policy.rule.updated"),
                &uri,
                &targets,
                &[],
                true,
            );
            a.change(
                s.at,
                DirectoryChange::UpdatePolicyRule {
                    policy_id: policy.id.clone(),
                    rule_id: rule.id.clone(),
                    require_factor: false,
                },
            );
        }
    }

    // 5. A new identity provider.
    s.at += a.pause(2 * 60_000, 8 * 60_000);
    let idp_id = ids::okta_id(&mut a.rng, "0oa");
    let idp_name = IDP_NAMES[a.rng.random_range(0..IDP_NAMES.len())];
    let idp_target = [Target {
        id: &idp_id,
        kind: "IdentityProvider",
        alternate_id: "unknown",
        display_name: idp_name,
        detail_entry: &[],
        change_details: None,
    }];
    a.admin_action(
        &s,
        "system.idp.lifecycle.create",
        "Create Identity Provider",
        Some("system.idp.lifecycle.create"),
        "/api/v1/idps",
        &idp_target,
        &[],
        true,
    );
    a.change(
        s.at,
        DirectoryChange::CreateIdp {
            id: idp_id.clone(),
            name: idp_name.to_string(),
            idp_type: "SAML2".into(),
        },
    );
    s.at += a.pause(5_000, 40_000);
    let uri = format!("/api/v1/idps/{idp_id}/lifecycle/activate");
    a.admin_action(
        &s,
        "system.idp.lifecycle.activate",
        "Activate Identity Provider",
        Some("system.idp.lifecycle.activate"),
        &uri,
        &idp_target,
        &[],
        true,
    );

    // 6. Sign-ins through it, as two other users.
    let mut t = s.at + a.pause(5 * 60_000, 30 * 60_000);
    for &index in &picked[1..] {
        let user = &org.users[index];
        let client = network.client(&mut a.rng, &infra::ATTACKER_WINDOWS);
        let signals = Signals::new_country("HIGH", "Anomalous Device, Anomalous Location");
        let mut v = a.session(user, client, signals, t, false);
        let session_id = v.id.clone();
        let federated = AuthenticationContext {
            authentication_provider: Some("FEDERATION"),
            credential_type: Some("ASSERTION"),
            issuer: Some((&idp_id, "IdentityProvider")),
            root_session_id: Some(&session_id),
            external_session_id: Some(&session_id),
            ..AuthenticationContext::default()
        };
        let sso_uri = format!("/sso/saml2/{idp_id}");
        let debug = v.sign_in_debug(None);
        let targets = [idp_target[0], Target::user(user)];
        a.malicious(&EventSpec {
            legacy_event_type: Some("core.user_auth.idp.saml.login_success"),
            authentication: federated,
            request_uri: Some(&sso_uri),
            debug: &debug,
            targets: Some(&targets),
            ..v.spec(
                "user.authentication.auth_via_IDP",
                "Authenticate user via IDP",
            )
        });
        v.at += a.pause(200, 1_500);
        let mut debug = v.sign_in_debug(None);
        debug.push((
            "logOnlySecurityData",
            DebugValue::Str(&v.signals.log_only_security_data),
        ));
        let start_targets = [Target::app_plain(org.dashboard())];
        a.malicious(&EventSpec {
            legacy_event_type: Some("core.user_auth.login_success"),
            authentication: federated,
            request_uri: Some(&sso_uri),
            debug: &debug,
            targets: Some(&start_targets),
            ..v.spec("user.session.start", "User login to Okta")
        });
        v.at += a.pause(500, 3_000);
        a.single_sign_on(&v, org.dashboard(), true);
        if let Some(&app) = user.apps.iter().find(|i| **i > Org::DASHBOARD) {
            v.at += a.pause(10_000, 90_000);
            a.single_sign_on(&v, &org.apps[app], true);
        }
        t = v.at + a.pause(2 * 60_000, 15 * 60_000);
    }
    a.finish(NAME, super_admin.login.clone(), out);
    Ok(())
}
