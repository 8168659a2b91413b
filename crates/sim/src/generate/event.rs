//! One System Log event: [`EventSpec`] says what happened (who, from where, in which session, to
//! what, with which outcome and debug data) and [`EventWriter`] writes it as Okta's JSON, in the
//! key order of Okta's API (`actor`, `client`, `device`, `authenticationContext`, …, `request`,
//! `target`) with the real quirks: `"zone":"null"`, a null-filled `client` and empty `ipChain` for
//! `system@okta.com`, `target: null`, `version: "0"`, stringified debug data. Scenarios build
//! their events with the same types, so injected attacks look exactly like the background.

use super::ids;
use super::json::{coordinate, key, opt_string, string, string_parts, timestamp, uint};
use super::org::{Agent, App, Device, Group, Isp, Place, Policy, PolicyRule, User};
use super::GeneratedEvent;
use chrono::{DateTime, Utc};
use rand::Rng;

/// Where a request came from: `client`, `securityContext` and `request.ipChain`, rendered once
/// and reused for every event of a session (which is also what keeps them identical).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    ip: String,
    /// `{"userAgent":…,"zone":…,"device":…,"id":` — the client id follows.
    head: String,
    /// `,"ipAddress":…,"geographicalContext":…}`.
    tail: String,
    security_context: String,
    ip_chain: String,
}

impl Client {
    /// A client at `ip` in `place` on `isp`'s network, using `agent`. `zone` is the network zone
    /// the IP is in; `None` writes Okta's string `"null"`.
    pub fn new(
        ip: &str,
        place: &Place,
        isp: &Isp,
        agent: &Agent,
        zone: Option<&str>,
        is_proxy: bool,
    ) -> Client {
        let mut head = String::with_capacity(256);
        head.push_str("{\"userAgent\":{\"rawUserAgent\":");
        string(&mut head, &agent.raw_user_agent);
        head.push_str(",\"os\":");
        string(&mut head, &agent.os);
        head.push_str(",\"browser\":");
        string(&mut head, &agent.browser);
        head.push_str("},\"zone\":");
        string(&mut head, zone.unwrap_or("null"));
        head.push_str(",\"device\":");
        string(&mut head, &agent.device_type);
        head.push_str(",\"id\":");

        let mut geo = String::with_capacity(160);
        geographical_context(&mut geo, place);

        let mut tail = String::with_capacity(200);
        tail.push_str(",\"ipAddress\":");
        string(&mut tail, ip);
        tail.push_str(",\"geographicalContext\":");
        tail.push_str(&geo);
        tail.push('}');

        let mut security_context = String::with_capacity(160);
        security_context.push_str("{\"asNumber\":");
        uint(&mut security_context, u64::from(isp.asn));
        security_context.push_str(",\"asOrg\":");
        string(&mut security_context, &isp.as_org);
        security_context.push_str(",\"isp\":");
        string(&mut security_context, &isp.isp);
        security_context.push_str(",\"domain\":");
        string(&mut security_context, &isp.domain);
        security_context.push_str(if is_proxy {
            ",\"isProxy\":true}"
        } else {
            ",\"isProxy\":false}"
        });

        let mut ip_chain = String::with_capacity(220);
        ip_chain.push_str("[{\"ip\":");
        string(&mut ip_chain, ip);
        ip_chain.push_str(",\"geographicalContext\":");
        ip_chain.push_str(&geo);
        ip_chain.push_str(if ip.contains(':') {
            ",\"version\":\"V6\",\"source\":null}]"
        } else {
            ",\"version\":\"V4\",\"source\":null}]"
        });

        Client {
            ip: ip.to_string(),
            head,
            tail,
            security_context,
            ip_chain,
        }
    }

    /// The IP address.
    pub fn ip(&self) -> &str {
        &self.ip
    }
}

fn geographical_context(out: &mut String, place: &Place) {
    out.push_str("{\"city\":");
    string(out, &place.city);
    out.push_str(",\"state\":");
    string(out, &place.state);
    out.push_str(",\"country\":");
    string(out, &place.country);
    out.push_str(",\"postalCode\":");
    string(out, &place.postal_code);
    out.push_str(",\"geolocation\":{\"lat\":");
    coordinate(out, place.lat);
    out.push_str(",\"lon\":");
    coordinate(out, place.lon);
    out.push_str("}}");
}

/// `actor`.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A user of the org (`type: User`).
    User(&'a User),
    /// Okta itself: `system@okta.com`, `type: SystemPrincipal`, with this `spr…` id.
    System(&'a str),
    /// Anything else (`PublicClientApp`, `IP address`, …).
    Other {
        /// `id`.
        id: &'a str,
        /// `type`.
        kind: &'a str,
        /// `alternateId`.
        alternate_id: &'a str,
        /// `displayName`.
        display_name: &'a str,
    },
}

/// One element of `target`. `detail_entry` pairs become a string-valued object (empty = `null`).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// `id`.
    pub id: &'a str,
    /// `type`.
    pub kind: &'a str,
    /// `alternateId`.
    pub alternate_id: &'a str,
    /// `displayName`.
    pub display_name: &'a str,
    /// `detailEntry`.
    pub detail_entry: &'a [(&'a str, &'a str)],
    /// `changeDetails` as raw JSON (`{"from":{…},"to":{…}}`), written only when present, as
    /// Okta does for update events (`policy.rule.update`, `application.lifecycle.update`, …).
    pub change_details: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// `type: User`.
    pub fn user(user: &'a User) -> Target<'a> {
        Target {
            id: &user.id,
            kind: "User",
            alternate_id: &user.login,
            display_name: &user.display_name,
            detail_entry: &[],
            change_details: None,
        }
    }

    /// `type: AppUser`: the user's account in an app (same id, app username = login).
    pub fn app_user(user: &'a User) -> Target<'a> {
        Target {
            kind: "AppUser",
            ..Target::user(user)
        }
    }

    /// `type: AppInstance`, with `detailEntry.signOnModeType`.
    pub fn app(app: &'a App) -> Target<'a> {
        let detail_entry: &'static [(&'static str, &'static str)] = match app.sign_on_mode {
            super::org::SignOnMode::Saml2 => &[("signOnModeType", "SAML_2_0")],
            super::org::SignOnMode::WsFederation => &[("signOnModeType", "WS_FEDERATION")],
            super::org::SignOnMode::OpenIdConnect => &[("signOnModeType", "OPENID_CONNECT")],
        };
        Target {
            id: &app.id,
            kind: "AppInstance",
            alternate_id: &app.label,
            display_name: &app.name,
            detail_entry,
            change_details: None,
        }
    }

    /// `type: AppInstance` without detail (as admin and provisioning events show apps).
    pub fn app_plain(app: &'a App) -> Target<'a> {
        Target {
            detail_entry: &[],
            ..Target::app(app)
        }
    }

    /// `type: UserGroup`.
    pub fn group(group: &'a Group) -> Target<'a> {
        Target {
            id: &group.id,
            kind: "UserGroup",
            alternate_id: "unknown",
            display_name: &group.name,
            detail_entry: &[],
            change_details: None,
        }
    }

    /// `type: PolicyEntity`, with `detailEntry.policyType`.
    pub fn policy(policy: &'a Policy, detail_entry: &'a [(&'a str, &'a str)]) -> Target<'a> {
        Target {
            id: &policy.id,
            kind: "PolicyEntity",
            alternate_id: "unknown",
            display_name: &policy.name,
            detail_entry,
            change_details: None,
        }
    }

    /// `type: PolicyRule`; Okta puts the policy id in `alternateId`.
    pub fn policy_rule(policy: &'a Policy, rule: &'a PolicyRule) -> Target<'a> {
        Target {
            id: &rule.id,
            kind: "PolicyRule",
            alternate_id: &policy.id,
            display_name: &rule.name,
            detail_entry: &[],
            change_details: None,
        }
    }
}

/// A `debugData` value: a string (as Okta stringifies almost everything) or raw JSON (for the
/// few real objects such as `originalPrincipal`).
#[derive(Debug, Clone, Copy)]
pub enum DebugValue<'a> {
    /// Written as a JSON string.
    Str(&'a str),
    /// Written verbatim; must be valid JSON.
    Json(&'a str),
}

/// `authenticationContext`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthenticationContext<'a> {
    /// `authenticationProvider`.
    pub authentication_provider: Option<&'a str>,
    /// `credentialProvider`.
    pub credential_provider: Option<&'a str>,
    /// `credentialType`.
    pub credential_type: Option<&'a str>,
    /// `issuer` as (`id`, `type`).
    pub issuer: Option<(&'a str, &'a str)>,
    /// `interface`.
    pub interface: Option<&'a str>,
    /// `rootSessionId`.
    pub root_session_id: Option<&'a str>,
    /// `externalSessionId`.
    pub external_session_id: Option<&'a str>,
}

/// `transaction.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    /// An HTTP request; its id is also `debugData.requestId`.
    Web,
    /// A background job.
    Job,
}

/// Everything that makes one event. Borrowed, `Copy`: build a base for a session and vary it
/// with struct update syntax.
#[derive(Debug, Clone, Copy)]
pub struct EventSpec<'a> {
    /// `published`.
    pub published: DateTime<Utc>,
    /// `eventType`.
    pub event_type: &'a str,
    /// `displayMessage`.
    pub display_message: &'a str,
    /// `legacyEventType`.
    pub legacy_event_type: Option<&'a str>,
    /// `severity`.
    pub severity: &'a str,
    /// `actor`.
    pub actor: Actor<'a>,
    /// `client` (+ `securityContext`, `request.ipChain`); `None` for system jobs.
    pub client: Option<&'a Client>,
    /// `client.id`: the OAuth client of an OAuth request.
    pub client_id: Option<&'a str>,
    /// Top-level `device` (Okta Verify–registered).
    pub device: Option<&'a Device>,
    /// `authenticationContext`.
    pub authentication: AuthenticationContext<'a>,
    /// `outcome.result`.
    pub result: &'a str,
    /// `outcome.reason`.
    pub reason: Option<&'a str>,
    /// `transaction.type`.
    pub transaction: TransactionKind,
    /// `transaction.id` (and `debugData.requestId` for web requests); `None` draws a new one.
    /// Events caused by one request share it.
    pub request_id: Option<&'a str>,
    /// `transaction.detail` as string pairs (e.g. `requestApiTokenId`).
    pub transaction_detail: &'a [(&'a str, &'a str)],
    /// `debugData.requestUri`; `url` is written as `{requestUri}?{url_query}`.
    pub request_uri: Option<&'a str>,
    /// The query part of `debugData.url`.
    pub url_query: &'a str,
    /// Further `debugData` entries, in order.
    pub debug: &'a [(&'a str, DebugValue<'a>)],
    /// `target`; `None` writes `null`.
    pub targets: Option<&'a [Target<'a>]>,
}

impl<'a> EventSpec<'a> {
    /// A successful INFO event with no client, session, debug data or targets, in a new web
    /// transaction; set the rest with struct update syntax.
    pub fn new(
        published: DateTime<Utc>,
        event_type: &'a str,
        display_message: &'a str,
        actor: Actor<'a>,
    ) -> EventSpec<'a> {
        EventSpec {
            published,
            event_type,
            display_message,
            legacy_event_type: None,
            severity: "INFO",
            actor,
            client: None,
            client_id: None,
            device: None,
            authentication: AuthenticationContext::default(),
            result: "SUCCESS",
            reason: None,
            transaction: TransactionKind::Web,
            request_id: None,
            transaction_detail: &[],
            request_uri: None,
            url_query: "",
            debug: &[],
            targets: None,
        }
    }
}

const NULL_CLIENT: &str = "{\"userAgent\":null,\"zone\":null,\"device\":null,\"id\":null,\"ipAddress\":null,\"geographicalContext\":null}";
const NULL_SECURITY_CONTEXT: &str =
    "{\"asNumber\":null,\"asOrg\":null,\"isp\":null,\"domain\":null,\"isProxy\":null}";

/// Writes [`EventSpec`]s as JSON.
#[derive(Debug, Default)]
pub struct EventWriter {
    /// Length of the last event written (the next one is sized from it).
    last_len: usize,
    /// Holds drawn transaction ids between events.
    id_buf: String,
}

impl EventWriter {
    /// A writer.
    pub fn new() -> EventWriter {
        EventWriter {
            last_len: 2048,
            id_buf: String::with_capacity(32),
        }
    }

    /// Writes `spec`, drawing its uuid (and its transaction id, if not given) from `rng`.
    pub fn write(&mut self, spec: &EventSpec<'_>, rng: &mut impl Rng) -> GeneratedEvent {
        // The drawn transaction id goes into a reused buffer: no allocation per event.
        let mut drawn_id = std::mem::take(&mut self.id_buf);
        drawn_id.clear();
        let transaction_id = match spec.request_id {
            Some(id) => id,
            None => {
                match spec.transaction {
                    TransactionKind::Web => {
                        ids::push_request_id(rng, spec.published, &mut drawn_id)
                    }
                    TransactionKind::Job => ids::push_job_id(rng, &mut drawn_id),
                };
                drawn_id.as_str()
            }
        };
        let mut uuid = String::with_capacity(36);
        ids::push_uuid(rng, spec.published, &mut uuid);

        // Written straight into the event's own string, sized from the last event: no copy.
        let mut json = String::with_capacity(self.last_len + 256);
        let o = &mut json;
        o.push_str("{\"actor\":");
        actor(o, &spec.actor);

        o.push_str(",\"client\":");
        match spec.client {
            Some(c) => {
                o.push_str(&c.head);
                opt_string(o, spec.client_id);
                o.push_str(&c.tail);
            }
            None => o.push_str(NULL_CLIENT),
        }

        o.push_str(",\"device\":");
        match spec.device {
            Some(d) => device(o, d),
            None => o.push_str("null"),
        }

        let auth = &spec.authentication;
        o.push_str(",\"authenticationContext\":{\"authenticationProvider\":");
        opt_string(o, auth.authentication_provider);
        o.push_str(",\"credentialProvider\":");
        opt_string(o, auth.credential_provider);
        o.push_str(",\"credentialType\":");
        opt_string(o, auth.credential_type);
        o.push_str(",\"issuer\":");
        match auth.issuer {
            Some((id, kind)) => {
                o.push_str("{\"id\":");
                string(o, id);
                o.push_str(",\"type\":");
                string(o, kind);
                o.push('}');
            }
            None => o.push_str("null"),
        }
        o.push_str(",\"interface\":");
        opt_string(o, auth.interface);
        o.push_str(",\"authenticationStep\":0,\"rootSessionId\":");
        opt_string(o, auth.root_session_id);
        o.push_str(",\"externalSessionId\":");
        opt_string(o, auth.external_session_id);

        o.push_str("},\"displayMessage\":");
        string(o, spec.display_message);
        o.push_str(",\"eventType\":");
        string(o, spec.event_type);
        o.push_str(",\"outcome\":{\"result\":");
        string(o, spec.result);
        o.push_str(",\"reason\":");
        opt_string(o, spec.reason);
        o.push_str("},\"published\":");
        timestamp(o, spec.published);
        o.push_str(",\"securityContext\":");
        o.push_str(
            spec.client
                .map_or(NULL_SECURITY_CONTEXT, |c| &c.security_context),
        );
        o.push_str(",\"severity\":");
        string(o, spec.severity);

        o.push_str(",\"debugContext\":{\"debugData\":{");
        let mut first = true;
        let mut field = |o: &mut String, k: &str| {
            if !first {
                o.push(',');
            }
            first = false;
            key(o, k);
        };
        if spec.transaction == TransactionKind::Web {
            field(o, "requestId");
            string(o, transaction_id);
        }
        if let Some(uri) = spec.request_uri {
            field(o, "requestUri");
            string(o, uri);
            field(o, "url");
            string_parts(o, &[uri, "?", spec.url_query]);
        }
        for (k, v) in spec.debug {
            field(o, k);
            match v {
                DebugValue::Str(s) => string(o, s),
                DebugValue::Json(raw) => o.push_str(raw),
            }
        }

        o.push_str("}},\"legacyEventType\":");
        opt_string(o, spec.legacy_event_type);
        o.push_str(",\"transaction\":{\"type\":");
        o.push_str(match spec.transaction {
            TransactionKind::Web => "\"WEB\"",
            TransactionKind::Job => "\"JOB\"",
        });
        o.push_str(",\"id\":");
        string(o, transaction_id);
        o.push_str(",\"detail\":");
        string_object(o, spec.transaction_detail);
        o.push_str("},\"uuid\":");
        string(o, &uuid);
        o.push_str(",\"version\":\"0\",\"request\":{\"ipChain\":");
        o.push_str(spec.client.map_or("[]", |c| &c.ip_chain));
        o.push_str("},\"target\":");
        match spec.targets {
            Some(targets) => {
                o.push('[');
                for (i, t) in targets.iter().enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    target(o, t);
                }
                o.push(']');
            }
            None => o.push_str("null"),
        }
        o.push('}');

        self.last_len = json.len();
        self.id_buf = drawn_id;
        GeneratedEvent {
            published: spec.published,
            uuid,
            json,
        }
    }
}

fn actor(o: &mut String, actor: &Actor<'_>) {
    let (id, kind, alternate_id, display_name) = match actor {
        Actor::User(u) => (
            u.id.as_str(),
            "User",
            u.login.as_str(),
            u.display_name.as_str(),
        ),
        Actor::System(id) => (*id, "SystemPrincipal", "system@okta.com", "Okta System"),
        Actor::Other {
            id,
            kind,
            alternate_id,
            display_name,
        } => (*id, *kind, *alternate_id, *display_name),
    };
    o.push_str("{\"id\":");
    string(o, id);
    o.push_str(",\"type\":");
    string(o, kind);
    o.push_str(",\"alternateId\":");
    string(o, alternate_id);
    o.push_str(",\"displayName\":");
    string(o, display_name);
    o.push_str(",\"detailEntry\":null}");
}

fn target(o: &mut String, t: &Target<'_>) {
    o.push_str("{\"id\":");
    string(o, t.id);
    o.push_str(",\"type\":");
    string(o, t.kind);
    o.push_str(",\"alternateId\":");
    string(o, t.alternate_id);
    o.push_str(",\"displayName\":");
    string(o, t.display_name);
    o.push_str(",\"detailEntry\":");
    if t.detail_entry.is_empty() {
        o.push_str("null");
    } else {
        string_object(o, t.detail_entry);
    }
    if let Some(raw) = t.change_details {
        o.push_str(",\"changeDetails\":");
        o.push_str(raw);
    }
    o.push('}');
}

fn device(o: &mut String, d: &Device) {
    o.push_str("{\"id\":");
    string(o, &d.id);
    o.push_str(",\"name\":");
    string(o, &d.name);
    o.push_str(",\"os_platform\":");
    string(o, &d.os_platform);
    o.push_str(",\"os_version\":");
    string(o, &d.os_version);
    o.push_str(if d.managed {
        ",\"managed\":true"
    } else {
        ",\"managed\":false"
    });
    o.push_str(",\"registered\":true,\"device_integrator\":null,\"disk_encryption_type\":\"ALL_INTERNAL_VOLUMES\",\"screen_lock_type\":");
    string(o, &d.screen_lock_type);
    o.push_str(",\"jailbreak\":null,\"secure_hardware_present\":true}");
}

/// `{"k":"v",…}`.
fn string_object(o: &mut String, pairs: &[(&str, &str)]) {
    o.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        string(o, k);
        o.push(':');
        string(o, v);
    }
    o.push('}');
}
