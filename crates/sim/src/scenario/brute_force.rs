//! `brute-force`: a rented server guesses one user's password 12 to 18 times in about ten
//! minutes (`user.session.start` FAILURE, `INVALID_CREDENTIALS`) until Okta locks the account
//! (`user.account.lock`, `LOCKED_OUT`); the directory shows the user `LOCKED_OUT`.

use super::flow::{ordinary_users, pick_time, Attack, Signals};
use super::{infra, DirectoryChange, ScenarioError, ScenarioPlan};
use crate::generate::Org;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "brute-force";

pub(crate) fn plan(
    org: &Org,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    seed: u64,
    out: &mut ScenarioPlan,
) -> Result<(), ScenarioError> {
    let mut a = Attack::new(org, NAME, seed);
    let at = pick_time(
        &mut a.rng,
        start,
        end,
        Duration::zero(),
        0..24 * 60,
        Duration::minutes(30),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than 30 minutes"))?;
    let candidates = ordinary_users(org, at, at + Duration::minutes(30), None);
    if candidates.is_empty() {
        return Err(super::impossible(NAME, "no active user in the window"));
    }
    let victim = &org.users[candidates[a.rng.random_range(0..candidates.len())]];
    let network = &infra::HOSTING[a.rng.random_range(0..infra::HOSTING.len())];
    let client = network.client(&mut a.rng, &infra::ATTACKER_WINDOWS);
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
    let mut s = a.session(victim, client, signals, at, false);
    let attempts = a.rng.random_range(12..=18);
    for k in 0..attempts {
        if k > 0 {
            s.at += a.pause(10_000, 45_000);
        }
        a.wrong_password(&s, true);
    }
    s.at += a.pause(50, 400);
    a.account_locked(&s, true);
    a.change(
        s.at,
        DirectoryChange::LockUser {
            user_id: victim.id.clone(),
        },
    );
    a.finish(NAME, victim.login.clone(), out);
    Ok(())
}
