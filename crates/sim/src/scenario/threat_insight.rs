//! `threat-insight`: a host Okta ThreatInsight knows for credential stuffing against many orgs
//! tries a dozen logins (most of them not users of the org, `debugData.threatSuspected: "true"`),
//! and ThreatInsight, in "log and enforce" mode, flags and blocks its requests:
//! `security.threat.detected` with actor type `IP address`, outcome DENY, the detections in
//! `outcome.reason` and as the JSON string `debugData.threatDetections`.

use super::flow::{ordinary_users, pick_time, Attack, Sess, Signals};
use super::{infra, ScenarioError, ScenarioPlan};
use crate::generate::event::{Actor, AuthenticationContext, DebugValue, EventSpec};
use crate::generate::{catalog, ids, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "threat-insight";

const DETECTIONS: &str = r#"{"Login failures with high unknown users count":"HIGH","Password Spray":"HIGH","Login Failures":"MEDIUM"}"#;
const REASON: &str = "Password Spray, Login failures with high unknown users count, Login Failures";

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
        Duration::hours(1),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than an hour"))?;
    let candidates = ordinary_users(org, at, at + Duration::hours(1), None);
    let client = infra::MALICIOUS_HOST.client(&mut a.rng, &infra::ATTACKER_WINDOWS);
    let ip = client.ip().to_string();
    let fingerprint = ids::hex(&mut a.rng, 32);
    let dt_hash = ids::hex(&mut a.rng, 64);
    let signals = Signals::new(
        &[
            "New Geo-Location",
            "New Device",
            "New IP",
            "New State",
            "New City",
        ],
        "HIGH",
        Some("Anomalous Device, Anomalous Location"),
    );
    let mut t = at;
    let attempts = a.rng.random_range(10..=14);
    for k in 0..attempts {
        t += a.pause(2_000, 9_000);
        if k % 4 == 3 && !candidates.is_empty() {
            let user = &org.users[candidates[a.rng.random_range(0..candidates.len())]];
            let s = Sess {
                user,
                client: client.clone(),
                id: ids::session_id(&mut a.rng),
                authn_request_id: ids::request_id(&mut a.rng, t),
                fingerprint: fingerprint.clone(),
                dt_hash: dt_hash.clone(),
                device: None,
                signals: signals.clone(),
                threat_suspected: "true",
                at: t,
            };
            a.wrong_password(&s, true);
            continue;
        }
        let first = catalog::FIRST_NAMES[a.rng.random_range(0..catalog::FIRST_NAMES.len())];
        let login = format!(
            "{}{}@{}",
            first.to_lowercase(),
            a.rng.random_range(1..999),
            org.config.email_domain
        );
        let authn = ids::request_id(&mut a.rng, t);
        let debug = [
            ("authnRequestId", DebugValue::Str(&authn)),
            ("behaviors", DebugValue::Str(&signals.behaviors)),
            ("deviceFingerprint", DebugValue::Str(&fingerprint)),
            ("dtHash", DebugValue::Str(&dt_hash)),
            ("risk", DebugValue::Str(&signals.risk)),
            ("threatSuspected", DebugValue::Str("true")),
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
                    alternate_id: &login,
                    display_name: "unknown",
                },
            )
        });
    }
    let blocks = a.rng.random_range(4..=7);
    let uris = ["/idp/idx/identify", "/api/v1/authn", "/oauth2/v1/authorize"];
    for k in 0..blocks {
        t += a.pause(30_000, 6 * 60_000);
        let uri = uris[k % uris.len()];
        let debug = [
            ("dtHash", DebugValue::Str(&dt_hash)),
            ("threatDetections", DebugValue::Str(DETECTIONS)),
            ("threatSuspected", DebugValue::Str("true")),
        ];
        a.malicious(&EventSpec {
            legacy_event_type: Some("security.threat.detected"),
            severity: "WARN",
            result: "DENY",
            reason: Some(REASON),
            client: Some(&client),
            request_uri: Some(uri),
            debug: &debug,
            ..EventSpec::new(
                t,
                "security.threat.detected",
                "Request from suspicious actor",
                Actor::Other {
                    id: &ip,
                    kind: "IP address",
                    alternate_id: "unknown",
                    display_name: &ip,
                },
            )
        });
    }
    a.finish(NAME, ip.clone(), out);
    Ok(())
}
