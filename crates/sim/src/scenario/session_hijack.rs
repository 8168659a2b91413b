//! `session-hijack` (stolen session cookie, as in the 2023 HAR-file incident): a user signs in
//! from home as usual; 20 to 90 minutes later the same session (`externalSessionId`,
//! `rootSessionId` and device token `dtHash`) is replayed from a rented server in another country:
//! another IP, another ASN, another operating system and browser, single sign-on into the
//! user's apps. The user's own sign-in is context; the replayed events are malicious.

use super::flow::{ordinary_users, pick_time, Attack, Sess, Signals};
use super::{infra, ScenarioError, ScenarioPlan};
use crate::generate::{ids, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "session-hijack";

pub(crate) fn plan(
    org: &Org,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    seed: u64,
    out: &mut ScenarioPlan,
) -> Result<(), ScenarioError> {
    let mut a = Attack::new(org, NAME, seed);
    let probe = org
        .users
        .iter()
        .find(|u| u.admin_role.is_none())
        .ok_or_else(|| super::impossible(NAME, "the org has no ordinary user"))?;
    let at = pick_time(
        &mut a.rng,
        start,
        end,
        probe.home.utc_offset(),
        9 * 60..15 * 60,
        Duration::hours(3),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than 3 hours"))?;
    let candidates: Vec<usize> = ordinary_users(org, at, at + Duration::hours(3), None)
        .into_iter()
        .filter(|i| org.users[*i].apps.iter().any(|app| *app > Org::DASHBOARD))
        .collect();
    if candidates.is_empty() {
        return Err(super::impossible(
            NAME,
            "no active user with apps in the window",
        ));
    }
    let victim = &org.users[candidates[a.rng.random_range(0..candidates.len())]];

    let mut own = a.home_session(victim, at);
    a.sign_in(&mut own, false);
    let apps: Vec<usize> = victim
        .apps
        .iter()
        .copied()
        .filter(|i| *i > Org::DASHBOARD)
        .collect();
    own.at += a.pause(30_000, 5 * 60_000);
    a.single_sign_on(&own, &org.apps[apps[0]], false);

    let agent = if victim.computer.os == "Windows 10" {
        &infra::ATTACKER_LINUX
    } else {
        &infra::ATTACKER_WINDOWS
    };
    let network = &infra::HOSTING[a.rng.random_range(0..infra::HOSTING.len())];
    let client = network.client(&mut a.rng, agent);
    let mut stolen = Sess {
        user: victim,
        client,
        id: own.id.clone(),
        authn_request_id: own.authn_request_id.clone(),
        fingerprint: ids::hex(&mut a.rng, 32),
        dt_hash: own.dt_hash.clone(),
        device: None,
        signals: Signals::usual(),
        threat_suspected: "false",
        at: own.at + a.pause(20 * 60_000, 90 * 60_000),
    };
    let replays = a.rng.random_range(3..=5);
    for k in 0..replays {
        let app = &org.apps[apps[(k + 1) % apps.len()]];
        a.single_sign_on(&stolen, app, true);
        stolen.at += a.pause(40_000, 6 * 60_000);
    }
    a.finish(NAME, victim.login.clone(), out);
    Ok(())
}
