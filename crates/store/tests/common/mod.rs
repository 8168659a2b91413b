//! Test fixtures: a store in a temp dir, and varied events built from a seed.

use okta::LogEvent;
use store::{OrgId, Store};
use tempfile::TempDir;

pub struct Fixture {
    pub _dir: TempDir,
    pub store: Store,
    pub org: OrgId,
}

pub fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let mut store = Store::open(&dir.path().join("idwatch.db")).unwrap();
    let org = store.ensure_org("acme").unwrap();
    Fixture {
        _dir: dir,
        store,
        org,
    }
}

const TYPES: &[&str] = &[
    "user.session.start",
    "user.authentication.sso",
    "user.mfa.factor.reset_all",
    "user.account.privilege.grant",
    "system.api_token.create",
    "policy.evaluate_sign_on",
];
const RESULTS: &[&str] = &["SUCCESS", "FAILURE", "ALLOW", "DENY"];
const IPS: &[&str] = &["10.0.0.1", "203.0.113.7", "198.51.100.22", "null"];

/// A deterministic, varied event: index `i`, with quirks (null targets, "null" strings,
/// numbers, booleans, nested debugData) spread over the set.
pub fn event(i: usize) -> LogEvent {
    let user = i % 7;
    let ty = TYPES[(i / 3) % TYPES.len()];
    let result = RESULTS[(i * 7 + i / 5) % RESULTS.len()];
    let ip = IPS[(i / 2) % IPS.len()];
    let minute = i % 60;
    let hour = (i / 60) % 24;
    let day = 1 + (i / 1440) % 28;
    let target = match i % 4 {
        0 => "null".to_string(),
        1 => format!(
            r#"[{{"id":"00u{:04}","type":"User","alternateId":"user{}@example.com","displayName":"User {}"}}]"#,
            (i + 1) % 7,
            (i + 1) % 7,
            (i + 1) % 7
        ),
        2 => format!(
            r#"[{{"id":"0oa{:04}","type":"AppInstance","alternateId":"Okta Admin Console","displayName":"Okta Admin Console"}},{{"id":"00u{:04}","type":"User","alternateId":"user{}@example.com","displayName":"User {}"}}]"#,
            i % 3,
            user,
            user,
            user
        ),
        _ => "[]".to_string(),
    };
    let raw = format!(
        r#"{{"actor":{{"id":"00u{user:04}","type":"User","alternateId":"user{user}@example.com","displayName":"User {user}"}},"client":{{"ipAddress":"{ip}","zone":"null","geographicalContext":{{"country":"{country}","geolocation":{{"lat":{lat},"lon":-122.1}}}}}},"authenticationContext":{{"externalSessionId":"idx{session:05}","rootSessionId":"idx{session:05}"}},"displayMessage":"Event {i}","eventType":"{ty}","outcome":{{"result":"{result}","reason":"reason {r}"}},"published":"2024-03-{day:02}T{hour:02}:{minute:02}:{sec:02}.{ms:03}Z","securityContext":{{"asNumber":{asn},"isProxy":{proxy}}},"severity":"INFO","debugContext":{{"debugData":{{"requestUri":"/api/v1/authn/{i}","risk":"{{level={level}}}","threatSuspected":"{threat}"}}}},"transaction":{{"type":"WEB","id":"tx{i:08}","detail":{{}}}},"uuid":"{uuid}","version":"0","target":{target}}}"#,
        country = if i.is_multiple_of(5) {
            "France"
        } else {
            "United States"
        },
        lat = 37 + (i % 3),
        session = i / 4,
        r = i % 3,
        sec = (i * 13) % 60,
        ms = i % 1000,
        asn = 13335 + (i % 4),
        proxy = if i.is_multiple_of(6) { "true" } else { "false" },
        level = ["LOW", "MEDIUM", "HIGH"][i % 3],
        threat = i.is_multiple_of(9),
        uuid = uuid_for(i),
    );
    LogEvent::parse(&raw).unwrap_or_else(|e| panic!("fixture {i}: {e}\n{raw}"))
}

pub fn uuid_for(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i, i * 31)
}

pub fn events(range: std::ops::Range<usize>) -> Vec<LogEvent> {
    range.map(event).collect()
}
