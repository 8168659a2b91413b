//! `support-impersonation` (Lapsus$, January 2022): the super admin grants Okta Support access
//! for a case (`user.session.impersonation.grant`, 8 hours); one to three hours later an Okta
//! support engineer starts an impersonation session (`user.session.impersonation.initiate`) from
//! the support centre's network, views the org (`support.org.view`), and within 25 minutes resets
//! the passwords and all factors of two users while impersonating the admin (actor = the admin,
//! `debugData.originalPrincipal` = the engineer), resets a third user's password with the support
//! tool (actor `system@okta.com`, `transaction.id: "unknown"`, no client), logs each change as
//! `support.org.update`, and ends the session.

use super::flow::{ordinary_users, pick_time, Attack};
use super::{infra, ActorClass, DirectoryChange, ScenarioError, ScenarioPlan};
use crate::generate::event::{Actor, AuthenticationContext, DebugValue, EventSpec, Target};
use crate::generate::{ids, AdminRole, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "support-impersonation";

pub(crate) fn plan(
    org: &Org,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    seed: u64,
    out: &mut ScenarioPlan,
) -> Result<(), ScenarioError> {
    let mut a = Attack::new(org, NAME, seed);
    let admin = org
        .first_admin(AdminRole::SuperAdmin)
        .map(|admin| &org.users[admin.user])
        .ok_or_else(|| super::impossible(NAME, "the org has no super admin"))?;
    let at = pick_time(
        &mut a.rng,
        start,
        end,
        admin.home.utc_offset(),
        9 * 60 + 30..15 * 60,
        Duration::hours(5),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than 5 hours"))?;
    let mut candidates = ordinary_users(org, at, at + Duration::hours(5), None);
    if candidates.len() < 3 {
        return Err(super::impossible(NAME, "the org needs 3 ordinary users"));
    }
    let victims: Vec<usize> = (0..3)
        .map(|_| candidates.swap_remove(a.rng.random_range(0..candidates.len())))
        .collect();

    // The super admin grants access for a support case from their usual place.
    let mut s = a.home_session(admin, at);
    a.sign_in(&mut s, false);
    s.at += a.pause(20_000, 120_000);
    a.open_admin_console(&mut s, false);
    s.at += a.pause(30_000, 180_000);
    let case_number = format!("{:08}", a.rng.random_range(1_000_000..3_000_000));
    let grant_debug = [("caseNumber", DebugValue::Str(&case_number))];
    a.admin_action(
        &s,
        "user.session.impersonation.grant",
        "Enable impersonation grant",
        Some("core.user.impersonation.grant.enabled"),
        "/api/v1/org/privacy/oktaSupport/grant",
        &[],
        &grant_debug,
        true,
    );
    a.change(
        s.at,
        DirectoryChange::SupportAccess {
            enabled: true,
            expiration: Some(s.at + Duration::hours(8)),
            case_number: Some(case_number.clone()),
        },
    );

    // The support engineer.
    let engineer_id = ids::okta_id(&mut a.rng, "00u");
    let engineer_number = a.rng.random_range(100..999);
    let engineer_login = format!("support.agent{engineer_number}@okta.com");
    let engineer_name = format!("Okta Support {engineer_number}");
    let engineer = Actor::Other {
        id: &engineer_id,
        kind: "User",
        alternate_id: &engineer_login,
        display_name: &engineer_name,
    };
    let original_principal = format!(
        "{{\"id\":\"{engineer_id}\",\"type\":\"User\",\"alternateId\":\"{engineer_login}\",\"displayName\":\"{engineer_name}\",\"detailEntry\":null}}"
    );
    let client = infra::SUPPORT_CENTRE.client(&mut a.rng, &infra::SUPPORT_BROWSER);
    let session_id = ids::session_id(&mut a.rng);
    let session = AuthenticationContext {
        root_session_id: Some(&session_id),
        external_session_id: Some(&session_id),
        ..AuthenticationContext::default()
    };
    let initiated = s.at + a.pause(60 * 60_000, 180 * 60_000);
    let mut t = initiated;
    let admin_target = [Target::user(admin)];
    let case_debug = [
        ("caseNumber", DebugValue::Str(&case_number)),
        ("threatSuspected", DebugValue::Str("false")),
    ];
    a.malicious(&EventSpec {
        client: Some(&client),
        authentication: session,
        request_uri: Some("/api/internal/impersonation/initiate"),
        debug: &case_debug,
        targets: Some(&admin_target),
        legacy_event_type: Some("core.user.impersonation.session.initiated"),
        ..EventSpec::new(
            t,
            "user.session.impersonation.initiate",
            "Initiate impersonation session",
            engineer,
        )
    });

    let support_event = |a: &mut Attack<'_>, t, event_type, display, action: &str| {
        let debug = [
            ("caseNumber", DebugValue::Str(&case_number)),
            ("supportAction", DebugValue::Str(action)),
        ];
        a.malicious(&EventSpec {
            client: Some(&client),
            authentication: session,
            request_uri: Some("/api/internal/support/org"),
            debug: &debug,
            targets: Some(&admin_target),
            ..EventSpec::new(t, event_type, display, engineer)
        });
    };
    t += a.pause(40_000, 120_000);
    support_event(
        &mut a,
        t,
        "support.org.view",
        "Okta Support viewed org data",
        "Viewed the People page",
    );

    // Password and factor resets while impersonating the admin.
    let principal = [("originalPrincipal", DebugValue::Json(&original_principal))];
    for &victim in &victims[..2] {
        let user = &org.users[victim];
        t += a.pause(90_000, 4 * 60_000);
        support_event(
            &mut a,
            t,
            "support.org.view",
            "Okta Support viewed org data",
            "Viewed a user's profile",
        );
        let targets = [Target::user(user)];
        for (event_type, display, legacy, uri, action) in [
            (
                "user.account.reset_password",
                "Fired when the user's password is reset",
                Some("core.user.config.password_reset"),
                format!("/api/v1/users/{}/lifecycle/reset_password", user.id),
                "Reset a user's password",
            ),
            (
                "user.mfa.factor.reset_all",
                "Reset all factors for user",
                None,
                format!("/api/v1/users/{}/lifecycle/reset_factors", user.id),
                "Reset a user's factors",
            ),
        ] {
            t += a.pause(20_000, 70_000);
            let debug = [principal[0], ("threatSuspected", DebugValue::Str("false"))];
            a.malicious(&EventSpec {
                legacy_event_type: legacy,
                client: Some(&client),
                authentication: session,
                request_uri: Some(&uri),
                debug: &debug,
                targets: Some(&targets),
                ..EventSpec::new(t, event_type, display, Actor::User(admin))
            });
            support_event(
                &mut a,
                t + Duration::milliseconds(40),
                "support.org.update",
                "Okta Support updated org data",
                action,
            );
        }
        a.change(
            t,
            DirectoryChange::PasswordChanged {
                user_id: user.id.clone(),
            },
        );
        a.change(
            t,
            DirectoryChange::ResetFactors {
                user_id: user.id.clone(),
            },
        );
        a.affect(user, ActorClass::Impersonation);
    }

    // A reset through the support tool itself: Okta's system principal, no request.
    let user = &org.users[victims[2]];
    t += a.pause(60_000, 3 * 60_000);
    let targets = [Target::user(user)];
    a.malicious(&EventSpec {
        legacy_event_type: Some("core.user.config.user_status.password_reset"),
        request_id: Some("unknown"),
        targets: Some(&targets),
        ..EventSpec::new(
            t,
            "user.account.reset_password",
            "Fired when the user's Okta password is reset",
            Actor::System(&org.system_principal_id),
        )
    });
    a.change(
        t,
        DirectoryChange::PasswordChanged {
            user_id: user.id.clone(),
        },
    );
    a.affect(user, ActorClass::OktaSupport);
    support_event(
        &mut a,
        t + Duration::milliseconds(300),
        "support.org.update",
        "Okta Support updated org data",
        "Reset a user's password from support tooling",
    );

    t += a.pause(30_000, 120_000);
    debug_assert!(t - initiated < Duration::minutes(25));
    a.malicious(&EventSpec {
        client: Some(&client),
        authentication: session,
        request_uri: Some("/api/internal/impersonation/end"),
        debug: &case_debug,
        targets: Some(&admin_target),
        legacy_event_type: Some("core.user.impersonation.session.ended"),
        ..EventSpec::new(
            t,
            "user.session.impersonation.end",
            "End impersonation session",
            engineer,
        )
    });
    a.finish(NAME, engineer_login.clone(), out);
    Ok(())
}
