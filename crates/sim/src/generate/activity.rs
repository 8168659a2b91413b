//! One day of the org's activity: who signs in when, what each session does, admin work, the odd
//! failure, and Okta's system jobs; then each event is rendered to JSON in the real samples'
//! shape (keys in the order Okta's exports use, nulls and quirks included).

use super::ids;
use super::json::{key, opt_string, string};
use super::org::{AdminRole, App, Group, Org, User, AGENTS, NETWORKS, PLACES};
use super::GeneratedEvent;
use chrono::{DateTime, Datelike, Duration, SecondsFormat, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;

/// Where a request came from.
struct Client {
    ip: String,
    place: usize,
    network: usize,
    agent: usize,
    dt_hash: String,
    fingerprint: String,
}

enum Actor<'a> {
    User(&'a User),
    System(&'a str),
}

enum Target<'a> {
    User(&'a User),
    App(&'a App),
    AppUser(&'a User),
    Group(&'a Group),
    Policy(&'a str),
    Rule(&'a str),
}

struct Ev<'a> {
    at: DateTime<Utc>,
    event_type: &'static str,
    legacy: Option<&'static str>,
    display: &'static str,
    actor: Actor<'a>,
    client: Option<&'a Client>,
    session: Option<&'a str>,
    result: &'static str,
    reason: Option<&'static str>,
    severity: &'static str,
    targets: Vec<Target<'a>>,
    debug: Vec<(&'static str, String)>,
    credential: Option<&'static str>,
}

impl<'a> Ev<'a> {
    fn new(
        at: DateTime<Utc>,
        event_type: &'static str,
        display: &'static str,
        actor: Actor<'a>,
    ) -> Self {
        Ev {
            at,
            event_type,
            legacy: None,
            display,
            actor,
            client: None,
            session: None,
            result: "SUCCESS",
            reason: None,
            severity: "INFO",
            targets: Vec::new(),
            debug: Vec::new(),
            credential: None,
        }
    }
}

fn seconds(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> Duration {
    Duration::milliseconds(rng.random_range(lo * 1000..hi * 1000))
}

/// Appends the events of day `day` (starting at `day_start`) to `out`.
pub(super) fn generate_day(
    org: &Org,
    day: i64,
    day_start: DateTime<Utc>,
    out: &mut Vec<GeneratedEvent>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(
        org.config.seed ^ (day as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let mut buf = String::with_capacity(4096);
    for user in &org.users {
        let place = &PLACES[user.place];
        let local_noon = day_start + Duration::hours(12 + place.utc_offset);
        let weekend = matches!(local_noon.weekday(), Weekday::Sat | Weekday::Sun);
        let sessions = if weekend {
            usize::from(rng.random_bool(0.12))
        } else if rng.random_bool(0.92) {
            1 + usize::from(rng.random_bool(0.5)) + usize::from(rng.random_bool(0.15))
        } else {
            0
        };
        for s in 0..sessions {
            let local_hour: f64 = if weekend {
                rng.random_range(10.0..20.0)
            } else {
                rng.random_range(8.0..18.0)
            };
            let mut start = day_start
                + Duration::seconds(((local_hour - place.utc_offset as f64) * 3600.0) as i64);
            if start < day_start {
                start += Duration::days(1);
            }
            let admin_work = s == 0 && user.admin.is_some() && !weekend;
            session(org, user, start, admin_work, &mut rng, &mut buf, out);
        }
        if rng.random_bool(0.0005) {
            lockout(
                user,
                day_start + seconds(&mut rng, 0, 86_000),
                &mut rng,
                &mut buf,
                out,
            );
        }
    }
    let jobs = org.users.len() / 10 + 5;
    for _ in 0..jobs {
        let at = day_start + seconds(&mut rng, 0, 86_399);
        system_job(org, at, &mut rng, &mut buf, out);
    }
}

fn client_for(user: &User, rng: &mut ChaCha8Rng) -> Client {
    // Most sessions come from the user's home address; some from elsewhere on the same ISP.
    let ip = if rng.random_bool(0.9) {
        user.ip.clone()
    } else {
        format!(
            "{}.{}",
            NETWORKS[user.network].prefix,
            rng.random_range(2..254)
        )
    };
    Client {
        ip,
        place: user.place,
        network: user.network,
        agent: if rng.random_bool(0.93) { user.agent } else { 5 },
        dt_hash: ids::hex(rng, 64),
        fingerprint: ids::hex(rng, 32),
    }
}

fn session(
    org: &Org,
    user: &User,
    start: DateTime<Utc>,
    admin_work: bool,
    rng: &mut ChaCha8Rng,
    buf: &mut String,
    out: &mut Vec<GeneratedEvent>,
) {
    let client = client_for(user, rng);
    let mut session_id = String::from("idx");
    ids::push_base62(rng, &mut session_id, 22);
    let mut t = start;
    let behaviors = "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}";

    if rng.random_bool(0.03) {
        let mut e = Ev::new(
            t,
            "user.session.start",
            "User login to Okta",
            Actor::User(user),
        );
        e.legacy = Some("core.user_auth.login_failed");
        e.client = Some(&client);
        e.session = Some("unknown");
        e.result = "FAILURE";
        e.reason = Some("INVALID_CREDENTIALS");
        e.credential = Some("PASSWORD");
        e.debug = vec![
            ("requestUri", "/idp/idx/challenge/answer".into()),
            ("threatSuspected", "false".into()),
        ];
        render(&e, rng, buf, out);
        t += seconds(rng, 4, 30);
    }

    let mut e = Ev::new(
        t,
        "policy.evaluate_sign_on",
        "Evaluation of sign-on policy",
        Actor::User(user),
    );
    e.legacy = Some("core.user_auth.policy_evaluate_sign_on");
    e.client = Some(&client);
    e.session = Some(&session_id);
    e.result = "ALLOW";
    e.reason = Some("Sign-on policy evaluation resulted in ALLOW");
    e.targets = vec![Target::Policy(&org.policy.0), Target::Rule(&org.policy.1)];
    e.debug = vec![
        ("behaviors", behaviors.into()),
        ("risk", "{level=LOW}".into()),
        ("requestUri", "/idp/idx/identify".into()),
        ("threatSuspected", "false".into()),
    ];
    render(&e, rng, buf, out);

    t += seconds(rng, 1, 4);
    let mut e = Ev::new(
        t,
        "user.session.start",
        "User login to Okta",
        Actor::User(user),
    );
    e.legacy = Some("core.user_auth.login_success");
    e.client = Some(&client);
    e.session = Some(&session_id);
    e.credential = Some("PASSWORD");
    e.debug = vec![
        ("behaviors", behaviors.into()),
        ("risk", "{level=LOW}".into()),
        ("requestUri", "/idp/idx/authenticators/poll".into()),
        ("threatSuspected", "false".into()),
    ];
    render(&e, rng, buf, out);

    let pushes = if rng.random_bool(0.01) { 2 } else { 1 };
    for push in 0..pushes {
        t += seconds(rng, 1, 3);
        let mut e = Ev::new(
            t,
            "system.push.send_factor_verify_push",
            "A push notification was sent to a user's device",
            Actor::User(user),
        );
        e.client = Some(&client);
        e.session = Some(&session_id);
        e.targets = vec![Target::User(user)];
        e.debug = vec![
            ("factor", "OKTA_VERIFY_PUSH".into()),
            ("requestUri", "/idp/idx/challenge".into()),
        ];
        render(&e, rng, buf, out);
        t += seconds(rng, 3, 20);
        if push + 1 < pushes {
            let mut e = Ev::new(
                t,
                "user.mfa.okta_verify.deny_push",
                "User rejected Okta push verify",
                Actor::User(user),
            );
            e.client = Some(&client);
            e.session = Some(&session_id);
            e.result = "FAILURE";
            e.reason = Some("User rejected Okta push verify");
            e.targets = vec![Target::User(user)];
            e.debug = vec![("factor", "OKTA_VERIFY_PUSH".into())];
            render(&e, rng, buf, out);
        }
    }
    let mut e = Ev::new(
        t,
        "user.authentication.auth_via_mfa",
        "Authentication of user via MFA",
        Actor::User(user),
    );
    e.legacy = Some("core.user.factor.attempt_success");
    e.client = Some(&client);
    e.session = Some(&session_id);
    e.credential = Some("OTP");
    e.targets = vec![Target::User(user)];
    e.debug = vec![
        ("factor", "OKTA_VERIFY_PUSH".into()),
        ("factorIntent", "AUTHENTICATION".into()),
        ("behaviors", behaviors.into()),
        ("risk", "{level=LOW}".into()),
    ];
    render(&e, rng, buf, out);

    let duration = rng.random_range(1800..8 * 3600);
    let end = t + Duration::seconds(duration);
    let ssos = rng.random_range(1..=5);
    for _ in 0..ssos {
        let at = t + Duration::seconds(rng.random_range(5..duration));
        let app = &org.apps[rng.random_range(1..org.apps.len())];
        let mut e = Ev::new(
            at,
            "user.authentication.sso",
            "User single sign on to app",
            Actor::User(user),
        );
        e.legacy = Some("app.auth.sso");
        e.client = Some(&client);
        e.session = Some(&session_id);
        e.targets = vec![Target::App(app), Target::AppUser(user)];
        e.debug = vec![(
            "requestUri",
            format!("/app/{}/{}/sso/saml", app.key, app.id),
        )];
        render(&e, rng, buf, out);
    }
    if rng.random_bool(0.004) {
        let at = t + Duration::seconds(rng.random_range(5..duration));
        let mut e = Ev::new(
            at,
            "user.account.update_password",
            "User update password for Okta",
            Actor::User(user),
        );
        e.legacy = Some("core.user.config.password_update.success");
        e.client = Some(&client);
        e.session = Some(&session_id);
        e.targets = vec![Target::User(user)];
        render(&e, rng, buf, out);
    }
    if admin_work {
        admin_actions(org, user, &client, &session_id, t, rng, buf, out);
    }
    if rng.random_bool(0.7) {
        let mut e = Ev::new(
            end,
            "user.session.end",
            "User logout from Okta",
            Actor::User(user),
        );
        e.legacy = Some("core.user_auth.logout_success");
        e.client = Some(&client);
        e.session = Some(&session_id);
        e.debug = vec![("requestUri", "/login/signout".into())];
        render(&e, rng, buf, out);
    }
}

#[allow(clippy::too_many_arguments)]
fn admin_actions(
    org: &Org,
    admin: &User,
    client: &Client,
    session_id: &str,
    start: DateTime<Utc>,
    rng: &mut ChaCha8Rng,
    buf: &mut String,
    out: &mut Vec<GeneratedEvent>,
) {
    let mut t = start + seconds(rng, 10, 600);
    let console = &org.apps[0];
    let mut e = Ev::new(
        t,
        "user.session.access_admin_app",
        "User accessing Okta admin app",
        Actor::User(admin),
    );
    e.legacy = Some("app.admin.sso.login.success");
    e.client = Some(client);
    e.session = Some(session_id);
    e.targets = vec![Target::App(console)];
    e.debug = vec![("requestUri", "/admin/sso/callback".into())];
    render(&e, rng, buf, out);
    let actions = rng.random_range(0..4);
    for _ in 0..actions {
        t += seconds(rng, 20, 900);
        let subject = &org.users[rng.random_range(0..org.users.len())];
        let mut e = match (admin.admin, rng.random_range(0..10)) {
            (Some(AdminRole::HelpDesk), 0) => {
                let mut e = Ev::new(
                    t,
                    "user.account.reset_password",
                    "Fired when the user's password is reset",
                    Actor::User(admin),
                );
                e.legacy = Some("core.user.config.password_reset");
                e
            }
            (_, 0..=4) => {
                let group = &org.groups[subject.group];
                let mut e = Ev::new(
                    t,
                    "group.user_membership.add",
                    "Add user to group membership",
                    Actor::User(admin),
                );
                e.legacy = Some("core.user_group_member.user_add");
                e.targets = vec![Target::User(subject), Target::Group(group)];
                e
            }
            (_, 5..=7) => {
                let app = &org.apps[rng.random_range(2..org.apps.len())];
                let mut e = Ev::new(
                    t,
                    "application.user_membership.add",
                    "Add user to application membership",
                    Actor::User(admin),
                );
                e.legacy = Some("app.generic.provision.assign_user_to_app");
                e.targets = vec![Target::AppUser(subject), Target::App(app)];
                e
            }
            (Some(AdminRole::SuperAdmin), _) if rng.random_bool(0.05) => {
                let mut e = Ev::new(
                    t,
                    "policy.rule.update",
                    "Update policy rule",
                    Actor::User(admin),
                );
                e.legacy = Some("policy.rule.update");
                e.targets = vec![Target::Policy(&org.policy.0), Target::Rule(&org.policy.1)];
                e
            }
            _ => {
                let mut e = Ev::new(
                    t,
                    "user.lifecycle.activate",
                    "Activate Okta user",
                    Actor::User(admin),
                );
                e.legacy = Some("core.user.config.user_activated");
                e
            }
        };
        if e.targets.is_empty() {
            e.targets = vec![Target::User(subject)];
        }
        e.client = Some(client);
        e.session = Some(session_id);
        e.debug = vec![("requestUri", "/api/internal/v1/users".into())];
        render(&e, rng, buf, out);
    }
}

fn lockout(
    user: &User,
    start: DateTime<Utc>,
    rng: &mut ChaCha8Rng,
    buf: &mut String,
    out: &mut Vec<GeneratedEvent>,
) {
    let client = client_for(user, rng);
    let mut t = start;
    for _ in 0..5 {
        let mut e = Ev::new(
            t,
            "user.session.start",
            "User login to Okta",
            Actor::User(user),
        );
        e.legacy = Some("core.user_auth.login_failed");
        e.client = Some(&client);
        e.session = Some("unknown");
        e.result = "FAILURE";
        e.reason = Some("INVALID_CREDENTIALS");
        e.credential = Some("PASSWORD");
        render(&e, rng, buf, out);
        t += seconds(rng, 3, 15);
    }
    let mut e = Ev::new(
        t,
        "user.account.lock",
        "Max sign in attempts exceeded",
        Actor::User(user),
    );
    e.legacy = Some("core.user_auth.account_locked");
    e.client = Some(&client);
    e.session = Some("unknown");
    e.result = "FAILURE";
    e.reason = Some("LOCKED_OUT");
    e.severity = "WARN";
    render(&e, rng, buf, out);
}

fn system_job(
    org: &Org,
    at: DateTime<Utc>,
    rng: &mut ChaCha8Rng,
    buf: &mut String,
    out: &mut Vec<GeneratedEvent>,
) {
    let user = &org.users[rng.random_range(0..org.users.len())];
    let app = &org.apps[rng.random_range(2..org.apps.len())];
    let mut e = Ev::new(
        at,
        "app.user_management",
        "Push user profile update to app",
        Actor::System(&org.system_principal),
    );
    e.legacy = Some("app.user_management.push_profile_success");
    e.targets = vec![Target::AppUser(user), Target::User(user), Target::App(app)];
    render(&e, rng, buf, out);
}

/// Renders `e` in the key order of Okta's exports and appends it to `out`.
fn render(e: &Ev<'_>, rng: &mut ChaCha8Rng, buf: &mut String, out: &mut Vec<GeneratedEvent>) {
    let uuid = ids::uuid(rng);
    let request_id = ids::request_id(rng);
    buf.clear();
    let o = buf;
    o.push('{');
    key(o, "actor");
    match &e.actor {
        Actor::User(u) => {
            o.push_str("{\"alternateId\":");
            string(o, &u.login);
            o.push_str(",\"detailEntry\":null,\"displayName\":");
            string(o, &u.name);
            o.push_str(",\"id\":");
            string(o, &u.id);
            o.push_str(",\"type\":\"User\"}");
        }
        Actor::System(id) => {
            o.push_str("{\"alternateId\":\"system@okta.com\",\"detailEntry\":null,\"displayName\":\"Okta System\",\"id\":");
            string(o, id);
            o.push_str(",\"type\":\"SystemPrincipal\"}");
        }
    }
    o.push_str(",\"authenticationContext\":{\"authenticationProvider\":null,\"authenticationStep\":0,\"credentialProvider\":");
    match e.credential {
        Some(_) => o.push_str("\"OKTA_AUTHENTICATION_PROVIDER\""),
        None => o.push_str("null"),
    }
    o.push_str(",\"credentialType\":");
    opt_string(o, e.credential);
    o.push_str(",\"externalSessionId\":");
    match (e.session, &e.actor) {
        (Some(s), _) => string(o, s),
        (None, _) => {
            let mut job = String::with_capacity(32);
            ids::push_base62(rng, &mut job, 32);
            string(o, &job.to_lowercase());
        }
    }
    o.push_str(",\"interface\":null,\"issuer\":null");
    if let Some(s) = e.session {
        o.push_str(",\"rootSessionId\":");
        string(o, s);
    }
    o.push_str("},\"client\":");
    match e.client {
        Some(c) => {
            let place = &PLACES[c.place];
            let agent = &AGENTS[c.agent];
            o.push_str("{\"device\":");
            string(o, agent.device);
            o.push_str(",\"geographicalContext\":");
            geo(o, place);
            o.push_str(",\"id\":null,\"ipAddress\":");
            string(o, &c.ip);
            o.push_str(",\"userAgent\":{\"browser\":");
            string(o, agent.browser);
            o.push_str(",\"os\":");
            string(o, agent.os);
            o.push_str(",\"rawUserAgent\":");
            string(o, agent.raw);
            o.push_str("},\"zone\":\"null\"}");
        }
        None => o.push_str("{\"device\":null,\"geographicalContext\":null,\"id\":null,\"ipAddress\":null,\"userAgent\":null,\"zone\":null}"),
    }
    o.push_str(",\"debugContext\":{\"debugData\":{");
    let mut first = true;
    let mut field = |o: &mut String, k: &str, v: &str| {
        if !first {
            o.push(',');
        }
        first = false;
        key(o, k);
        string(o, v);
    };
    if let Some(c) = e.client {
        field(o, "deviceFingerprint", &c.fingerprint);
        field(o, "dtHash", &c.dt_hash);
        field(o, "requestId", &request_id);
    }
    for (k, v) in &e.debug {
        field(o, k, v);
    }
    o.push_str("}},\"device\":");
    match (e.client, &e.actor) {
        // Okta Verify-registered device, on events of a signed-in user's session.
        (Some(c), Actor::User(u)) if e.session.is_some_and(|s| s != "unknown") => {
            let agent = &AGENTS[c.agent];
            let (platform, version, model) = match agent.os {
                "Mac OS X" => ("OSX", "14.5.0", "MacBookPro18,3"),
                "Windows 10" => ("WINDOWS", "10.0.19045", "Latitude 7440"),
                _ => ("IOS", "17.5.1", "iPhone15,2"),
            };
            o.push_str("{\"device_integrator\":null,\"disk_encryption_type\":\"ALL_INTERNAL_VOLUMES\",\"id\":");
            string(o, &format!("guo{}", &u.id[3..]));
            let _ = write!(
                o,
                ",\"jailbreak\":false,\"managed\":true,\"name\":\"{model}\",\"os_platform\":\"{platform}\",\"os_version\":\"{version}\",\"registered\":true,\"screen_lock_type\":\"BIOMETRIC\",\"secure_hardware_present\":true}}"
            );
        }
        _ => o.push_str("null"),
    }
    o.push_str(",\"displayMessage\":");
    string(o, e.display);
    o.push_str(",\"eventType\":");
    string(o, e.event_type);
    o.push_str(",\"legacyEventType\":");
    opt_string(o, e.legacy);
    o.push_str(",\"outcome\":{\"reason\":");
    opt_string(o, e.reason);
    o.push_str(",\"result\":");
    string(o, e.result);
    o.push_str("},\"published\":");
    string(o, &e.at.to_rfc3339_opts(SecondsFormat::Millis, true));
    o.push_str(",\"request\":{\"ipChain\":[");
    if let Some(c) = e.client {
        o.push_str("{\"geographicalContext\":");
        geo(o, &PLACES[c.place]);
        o.push_str(",\"ip\":");
        string(o, &c.ip);
        o.push_str(",\"source\":null,\"version\":\"V4\"}");
    }
    o.push_str("]},\"securityContext\":");
    match e.client {
        Some(c) => {
            let n = &NETWORKS[c.network];
            let _ = write!(o, "{{\"asNumber\":{},\"asOrg\":", n.asn);
            string(o, n.as_org);
            o.push_str(",\"domain\":");
            string(o, n.domain);
            o.push_str(",\"isProxy\":false,\"isp\":");
            string(o, n.isp);
            o.push('}');
        }
        None => o.push_str(
            "{\"asNumber\":null,\"asOrg\":null,\"domain\":null,\"isProxy\":null,\"isp\":null}",
        ),
    }
    o.push_str(",\"severity\":");
    string(o, e.severity);
    o.push_str(",\"target\":");
    if e.targets.is_empty() {
        o.push_str("null");
    } else {
        o.push('[');
        for (i, t) in e.targets.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let (alt, display, id, kind) = match t {
                Target::User(u) => (u.login.as_str(), u.name.as_str(), u.id.as_str(), "User"),
                Target::AppUser(u) => (u.login.as_str(), u.name.as_str(), u.id.as_str(), "AppUser"),
                Target::App(a) => (a.key, a.name, a.id.as_str(), "AppInstance"),
                Target::Group(g) => (g.name.as_str(), g.name.as_str(), g.id.as_str(), "UserGroup"),
                Target::Policy(id) => ("unknown", "Default Policy", *id, "PolicyEntity"),
                Target::Rule(id) => ("unknown", "Catch-all Rule", *id, "PolicyRule"),
            };
            o.push_str("{\"alternateId\":");
            string(o, alt);
            o.push_str(",\"detailEntry\":null,\"displayName\":");
            string(o, display);
            o.push_str(",\"id\":");
            string(o, id);
            o.push_str(",\"type\":");
            string(o, kind);
            o.push('}');
        }
        o.push(']');
    }
    o.push_str(",\"transaction\":{\"detail\":{},\"id\":");
    string(o, &request_id);
    o.push_str(if e.client.is_some() {
        ",\"type\":\"WEB\"}"
    } else {
        ",\"type\":\"JOB\"}"
    });
    o.push_str(",\"uuid\":");
    string(o, &uuid);
    o.push_str(",\"version\":\"0\"}");
    out.push(GeneratedEvent {
        published: e.at,
        uuid,
        json: o.clone(),
    });
}

fn geo(o: &mut String, p: &super::org::Place) {
    o.push_str("{\"city\":");
    string(o, p.city);
    o.push_str(",\"country\":");
    string(o, p.country);
    let _ = write!(
        o,
        ",\"geolocation\":{{\"lat\":{},\"lon\":{}}},\"postalCode\":",
        p.lat, p.lon
    );
    string(o, p.postal);
    o.push_str(",\"state\":");
    string(o, p.state);
    o.push('}');
}
