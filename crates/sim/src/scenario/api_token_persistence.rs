//! `api-token-persistence`: at three in the morning of an org admin's time zone their account
//! signs in from a rented server never seen before, opens the Admin Console and creates an SSWS
//! API token usable from anywhere (`system.api_token.create`, `networkConnection: ANYWHERE`).
//! Minutes later a script on the same server uses the token (`transaction.detail.
//! requestApiTokenId`) to create and activate a look-alike service account and put it in the
//! org-admin group; the next day it uses the token again.

use super::flow::{pick_time, Attack, Signals};
use super::{infra, DirectoryChange, ScenarioError, ScenarioPlan};
use crate::generate::event::{Actor, DebugValue, EventSpec, Target};
use crate::generate::{ids, AdminRole, Client, GroupKind, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "api-token-persistence";

const TOKEN_NAMES: &[&str] = &[
    "okta-sync",
    "backup-integration",
    "SIEM export",
    "provisioning-svc",
];

pub(crate) fn plan(
    org: &Org,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    seed: u64,
    out: &mut ScenarioPlan,
) -> Result<(), ScenarioError> {
    let mut a = Attack::new(org, NAME, seed);
    let admin = org
        .first_admin(AdminRole::OrgAdmin)
        .or_else(|| org.first_admin(AdminRole::SuperAdmin))
        .map(|admin| &org.users[admin.user])
        .ok_or_else(|| super::impossible(NAME, "the org has no admin"))?;
    let at = pick_time(
        &mut a.rng,
        start,
        end,
        admin.home.utc_offset(),
        2 * 60..4 * 60 + 30,
        Duration::hours(30),
    )
    .or_else(|| {
        pick_time(
            &mut a.rng,
            start,
            end,
            admin.home.utc_offset(),
            2 * 60..4 * 60 + 30,
            Duration::hours(1),
        )
    })
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than an hour"))?;
    let network = &infra::HOSTING[a.rng.random_range(0..infra::HOSTING.len())];
    let ip = network.ip(&mut a.rng);
    let browser = Client::new(
        &ip,
        &network.place,
        &network.isp,
        &infra::ATTACKER_LINUX,
        None,
        false,
    );
    let signals = Signals::new(
        &[
            "New Geo-Location",
            "New Device",
            "New IP",
            "New State",
            "New Country",
            "New City",
        ],
        "HIGH",
        Some("Anomalous Device, Anomalous Location"),
    );
    let mut s = a.session(admin, browser, signals, at, false);
    a.sign_in(&mut s, true);
    s.at += a.pause(20_000, 90_000);
    a.admin_console_policy_evaluation(&s, true);
    a.open_admin_console(&mut s, true);
    s.at += a.pause(30_000, 3 * 60_000);

    let token_id = ids::okta_id(&mut a.rng, "00T");
    let token_name = TOKEN_NAMES[a.rng.random_range(0..TOKEN_NAMES.len())];
    let token_target = [Target {
        id: &token_id,
        kind: "Token",
        alternate_id: "unknown",
        display_name: token_name,
        detail_entry: &[],
        change_details: None,
    }];
    let debug = [
        ("dtHash", DebugValue::Str(&s.dt_hash)),
        ("networkConnection", DebugValue::Str("ANYWHERE")),
    ];
    a.malicious(&EventSpec {
        legacy_event_type: Some("api.token.create"),
        request_uri: Some("/api/internal/tokens"),
        url_query: "expand=user",
        debug: &debug,
        targets: Some(&token_target),
        ..s.spec("system.api_token.create", "Create API token")
    });
    a.change(
        s.at,
        DirectoryChange::CreateApiToken {
            id: token_id.clone(),
            name: token_name.to_string(),
            user_id: admin.id.clone(),
            network_connection: "ANYWHERE".into(),
        },
    );

    // The token at work, from a script on the same server.
    let script = Client::new(
        &ip,
        &network.place,
        &network.isp,
        &infra::API_SCRIPT,
        None,
        false,
    );
    let token_detail = [("requestApiTokenId", token_id.as_str())];
    let user_id = ids::okta_id(&mut a.rng, "00u");
    let login = format!(
        "svc-{}@{}",
        token_name.replace(' ', "-").to_lowercase(),
        org.config.email_domain
    );
    let backdoor = Target {
        id: &user_id,
        kind: "User",
        alternate_id: &login,
        display_name: "Service Account",
        detail_entry: &[],
        change_details: None,
    };
    let admin_group = org
        .groups
        .iter()
        .find(|g| g.kind == GroupKind::Admin(AdminRole::OrgAdmin));
    let mut t = s.at + a.pause(3 * 60_000, 20 * 60_000);
    let api = |a: &mut Attack<'_>,
               t: DateTime<Utc>,
               event_type: &str,
               display: &str,
               legacy: &str,
               uri: &str,
               targets: &[Target<'_>]| {
        let debug = [("threatSuspected", DebugValue::Str("false"))];
        a.malicious(&EventSpec {
            legacy_event_type: Some(legacy),
            client: Some(&script),
            transaction_detail: &token_detail,
            request_uri: Some(uri),
            debug: &debug,
            targets: Some(targets),
            ..EventSpec::new(t, event_type, display, Actor::User(admin))
        });
    };
    api(
        &mut a,
        t,
        "user.lifecycle.create",
        "Create okta user",
        "core.user.config.user_creation.success",
        "/api/v1/users",
        &[backdoor],
    );
    a.change(
        t,
        DirectoryChange::CreateUser {
            user_id: user_id.clone(),
            login: login.clone(),
            first_name: "Service".into(),
            last_name: "Account".into(),
        },
    );
    t += a.pause(300, 2_000);
    let activate = format!("/api/v1/users/{user_id}/lifecycle/activate");
    api(
        &mut a,
        t,
        "user.lifecycle.activate",
        "Activate Okta user",
        "core.user.config.user_activated",
        &activate,
        &[backdoor],
    );
    if let Some(group) = admin_group {
        t += a.pause(2_000, 30_000);
        let uri = format!("/api/v1/groups/{}/users/{user_id}", group.id);
        api(
            &mut a,
            t,
            "group.user_membership.add",
            "Add user to group membership",
            "core.user_group_member.user_add",
            &uri,
            &[backdoor, Target::group(group)],
        );
        a.change(
            t,
            DirectoryChange::AddGroupMember {
                group_id: group.id.clone(),
                user_id: user_id.clone(),
            },
        );
    }
    // The next night, the token again: a profile update keeps the account looking maintained.
    t += Duration::hours(20) + a.pause(0, 3 * 3_600_000);
    let uri = format!("/api/v1/users/{user_id}");
    api(
        &mut a,
        t,
        "user.account.update_profile",
        "Update user profile for Okta",
        "core.user.config.profile_update.success",
        &uri,
        &[backdoor],
    );
    a.finish(NAME, admin.login.clone(), out);
    Ok(())
}
