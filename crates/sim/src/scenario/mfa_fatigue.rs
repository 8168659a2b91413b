//! `mfa-fatigue` (push bombing): an attacker with a user's password signs in from a new country
//! late in the user's evening and sends Okta Verify push after push; the user rejects 10 to 12 of
//! them within about eight minutes (`user.mfa.okta_verify.deny_push` and a failed
//! `user.authentication.auth_via_mfa` each), then accepts one: the attacker's session starts
//! from the new location and opens the dashboard and an app.

use super::flow::{ordinary_users, pick_time, Attack, Signals};
use super::{infra, ScenarioError, ScenarioPlan};
use crate::generate::{Factor, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "mfa-fatigue";

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
        .find(|u| u.factor == Factor::OktaVerifyPush)
        .ok_or_else(|| super::impossible(NAME, "no user signs in with Okta Verify push"))?;
    let at = pick_time(
        &mut a.rng,
        start,
        end,
        probe.home.utc_offset(),
        20 * 60..23 * 60,
        Duration::minutes(30),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than 30 minutes"))?;
    let candidates = ordinary_users(
        org,
        at,
        at + Duration::minutes(30),
        Some(Factor::OktaVerifyPush),
    );
    if candidates.is_empty() {
        return Err(super::impossible(NAME, "no active push user in the window"));
    }
    let victim = &org.users[candidates[a.rng.random_range(0..candidates.len())]];
    let network = &infra::FAR_RESIDENTIAL[a.rng.random_range(0..infra::FAR_RESIDENTIAL.len())];
    let client = network.client(&mut a.rng, &infra::ATTACKER_WINDOWS);
    let signals = Signals::new_country("HIGH", "Anomalous Device, Anomalous Location");
    let mut s = a.session(victim, client, signals, at, false);

    a.policy_evaluation(&s, true);
    s.at += a.pause(2_000, 9_000);
    a.password_verified(&s, true);
    let denies = a.rng.random_range(10..=12);
    for _ in 0..denies {
        s.at += a.pause(500, 2_000);
        a.push_sent(&s, true);
        s.at += a.pause(3_000, 12_000);
        a.push_denied(&s, true);
        s.at += a.pause(15_000, 28_000);
    }
    a.push_sent(&s, true);
    s.at += a.pause(4_000, 20_000);
    let request = a.mfa_verified(&s, Factor::OktaVerifyPush, true);
    s.at += a.pause(5, 60);
    a.session_started(&s, Factor::OktaVerifyPush, &request, true);
    s.at += a.pause(400, 2_500);
    a.single_sign_on(&s, org.dashboard(), true);
    if let Some(&app) = victim.apps.iter().find(|i| **i > Org::DASHBOARD) {
        s.at += a.pause(20_000, 120_000);
        a.single_sign_on(&s, &org.apps[app], true);
    }
    a.finish(NAME, victim.login.clone(), out);
    Ok(())
}
