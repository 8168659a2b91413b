//! `password-spray`: one rented server (one IP, one ASN, one tool) tries a common password
//! against 40 to 60 real users and a handful of guessed logins that do not exist, over about a
//! quarter of an hour, then retries a few; almost every attempt fails (`user.session.start`
//! FAILURE, `INVALID_CREDENTIALS`, or `VERIFICATION_ERROR` with actor id `unknown` for the
//! guessed logins), and for three users the password is right (`user.authentication.verify`
//! SUCCESS) before the MFA push goes unanswered.

use super::flow::{ordinary_users, pick_time, Attack, Sess, Signals};
use super::{infra, ScenarioError, ScenarioPlan};
use crate::generate::event::{Actor, AuthenticationContext, DebugValue, EventSpec};
use crate::generate::{catalog, ids, Factor, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "password-spray";

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
        60..5 * 60,
        Duration::hours(1),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than an hour"))?;
    let mut candidates = ordinary_users(org, at, at + Duration::hours(1), None);
    if candidates.len() < 10 {
        return Err(super::impossible(NAME, "the org needs 10 ordinary users"));
    }
    let count = candidates.len().min(a.rng.random_range(40..=60));
    let mut targets = Vec::with_capacity(count);
    for _ in 0..count {
        targets.push(candidates.swap_remove(a.rng.random_range(0..candidates.len())));
    }
    let network = &infra::HOSTING[a.rng.random_range(0..infra::HOSTING.len())];
    let client = network.client(&mut a.rng, &infra::SPRAY_TOOL);
    let ip = client.ip().to_string();
    let fingerprint = ids::hex(&mut a.rng, 32);
    let dt_hash = ids::hex(&mut a.rng, 64);
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
    let lucky: Vec<usize> = targets.iter().copied().take(3).collect();

    let mut t = at;
    // Guessed logins that are not users of the org.
    let guesses: Vec<String> = (0..a.rng.random_range(6..=10))
        .map(|_| {
            let first = catalog::FIRST_NAMES[a.rng.random_range(0..catalog::FIRST_NAMES.len())];
            let last = catalog::LAST_NAMES[a.rng.random_range(0..catalog::LAST_NAMES.len())];
            format!(
                "{}.{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase().replace('\'', ""),
                a.rng.random_range(1..99),
                org.config.email_domain
            )
        })
        .filter(|login| org.users.iter().all(|u| &u.login != login))
        .collect();
    let rounds: Vec<usize> = targets
        .iter()
        .copied()
        .chain(targets.iter().copied().skip(3).take(10))
        .collect();
    let mut guess_slots: Vec<usize> = (0..guesses.len())
        .map(|_| a.rng.random_range(0..rounds.len()))
        .collect();
    guess_slots.sort_unstable();
    let mut next_guess = 0;
    for (slot, &index) in rounds.iter().enumerate() {
        while next_guess < guesses.len() && guess_slots[next_guess] == slot {
            t += a.pause(6_000, 22_000);
            let login = &guesses[next_guess];
            let authn = ids::request_id(&mut a.rng, t);
            let debug = [
                ("authnRequestId", DebugValue::Str(&authn)),
                ("behaviors", DebugValue::Str(&signals.behaviors)),
                ("deviceFingerprint", DebugValue::Str(&fingerprint)),
                ("dtHash", DebugValue::Str(&dt_hash)),
                ("risk", DebugValue::Str(&signals.risk)),
                ("threatSuspected", DebugValue::Str("false")),
            ];
            a.malicious(&EventSpec {
                legacy_event_type: Some("core.user_auth.login_failed"),
                severity: "WARN",
                result: "FAILURE",
                reason: Some("VERIFICATION_ERROR"),
                client: Some(&client),
                authentication: AuthenticationContext {
                    authentication_provider: Some("OKTA_AUTHENTICATION_PROVIDER"),
                    credential_type: Some("PASSWORD"),
                    external_session_id: Some("unknown"),
                    ..AuthenticationContext::default()
                },
                request_uri: Some("/idp/idx/identify"),
                debug: &debug,
                ..EventSpec::new(
                    t,
                    "user.session.start",
                    "User login to Okta",
                    Actor::Other {
                        id: "unknown",
                        kind: "User",
                        alternate_id: login,
                        display_name: "unknown",
                    },
                )
            });
            next_guess += 1;
        }
        t += a.pause(6_000, 22_000);
        let user = &org.users[index];
        let s = Sess {
            user,
            client: client.clone(),
            id: ids::session_id(&mut a.rng),
            authn_request_id: ids::request_id(&mut a.rng, t),
            fingerprint: fingerprint.clone(),
            dt_hash: dt_hash.clone(),
            device: None,
            signals: signals.clone(),
            threat_suspected: "false",
            at: t,
        };
        if slot < lucky.len() {
            a.policy_evaluation(&s, true);
            let mut s = s;
            s.at += a.pause(300, 1_500);
            a.password_verified(&s, true);
            if user.factor == Factor::OktaVerifyPush {
                s.at += a.pause(500, 2_000);
                a.push_sent(&s, true);
            }
            t = s.at;
        } else {
            a.wrong_password(&s, true);
        }
    }
    a.finish(NAME, ip, out);
    Ok(())
}
