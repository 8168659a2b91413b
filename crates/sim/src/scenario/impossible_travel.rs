//! `impossible-travel`: a user signs in from home; 4 to 20 minutes later their account signs in
//! successfully (password and second factor) from a residential network on another continent —
//! thousands of kilometres in minutes, well above any airliner, with Okta's `Velocity` and
//! `New Country` behaviours POSITIVE. The home sign-in is context; the far one is malicious.

use super::flow::{ordinary_users, pick_time, Attack, Signals};
use super::{infra, ScenarioError, ScenarioPlan};
use crate::generate::{Factor, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "impossible-travel";

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
        8 * 60..17 * 60,
        Duration::hours(1),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than an hour"))?;
    let candidates = ordinary_users(org, at, at + Duration::hours(1), None);
    if candidates.is_empty() {
        return Err(super::impossible(NAME, "no active user in the window"));
    }
    let victim = &org.users[candidates[a.rng.random_range(0..candidates.len())]];
    let far: Vec<&infra::Network> = infra::FAR_RESIDENTIAL
        .iter()
        .filter(|n| n.place.country != victim.home.country)
        .collect();
    let network = far[a.rng.random_range(0..far.len())];

    let mut own = a.home_session(victim, at);
    a.sign_in(&mut own, false);

    let client = network.client(&mut a.rng, &victim.computer);
    let signals = Signals::new(
        &[
            "New Geo-Location",
            "New Device",
            "New IP",
            "New State",
            "New Country",
            "Velocity",
            "New City",
        ],
        "HIGH",
        Some("Anomalous Device, Anomalous Location, Impossible Travel"),
    );
    let away_at = own.at + a.pause(4 * 60_000, 20 * 60_000);
    let mut s = a.session(victim, client, signals, away_at, false);
    let factor = if victim.factor == Factor::FastPass {
        Factor::OktaVerifyPush
    } else {
        victim.factor
    };
    a.policy_evaluation(&s, true);
    s.at += a.pause(2_000, 9_000);
    a.password_verified(&s, true);
    if factor == Factor::OktaVerifyPush {
        s.at += a.pause(500, 2_000);
        a.push_sent(&s, true);
    }
    s.at += a.pause(2_500, 14_000);
    let request = a.mfa_verified(&s, factor, true);
    s.at += a.pause(5, 60);
    a.session_started(&s, factor, &request, true);
    s.at += a.pause(400, 2_500);
    a.single_sign_on(&s, org.dashboard(), true);
    a.finish(NAME, victim.login.clone(), out);
    Ok(())
}
