//! The building blocks every scenario uses: [`Attack`] collects a scenario's events (marking
//! which are malicious), directory changes and affected users, and turns them into a
//! [`GroundTruth`]; [`Sess`] is one sign-in session (user, client, session ids, device token,
//! Okta's behaviour verdicts) whose events are written in exactly the shapes the background
//! generator uses (`policy.evaluate_sign_on`, `user.authentication.verify`, Okta Verify pushes,
//! `user.authentication.auth_via_mfa`, `user.session.start`, single sign-on, Admin Console).

use super::{ActorClass, AffectedUser, DirectoryChange, GroundTruth, ScenarioPlan, TimedChange};
use crate::generate::event::{Actor, AuthenticationContext, DebugValue, EventSpec, Target};
use crate::generate::{ids, App, Client, Device, EventWriter, Factor, GeneratedEvent, Org, User};
use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The well-known client id of the Okta End-User Dashboard.
const DASHBOARD_CLIENT_ID: &str = "okta.2b1959c8-bcc0-56eb-a589-cfcfb7422f26";

/// One scenario being planned.
pub(crate) struct Attack<'o> {
    pub org: &'o Org,
    pub rng: ChaCha8Rng,
    writer: EventWriter,
    events: Vec<GeneratedEvent>,
    malicious: Vec<(DateTime<Utc>, String)>,
    changes: Vec<TimedChange>,
    affected: Vec<AffectedUser>,
}

/// A stable 64-bit hash of a scenario name (FNV-1a), so each scenario has its own RNG stream.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl<'o> Attack<'o> {
    /// A scenario `name` against `org`, its randomness drawn from `seed` and the name only.
    pub fn new(org: &'o Org, name: &str, seed: u64) -> Attack<'o> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ org.config.seed.rotate_left(17));
        rng.set_stream(name_hash(name));
        Attack {
            org,
            rng,
            writer: EventWriter::new(),
            events: Vec::new(),
            malicious: Vec::new(),
            changes: Vec::new(),
            affected: Vec::new(),
        }
    }

    /// Writes an attack-related event that is not itself malicious (the victim's own sign-in,
    /// Okta's reaction).
    pub fn context(&mut self, spec: &EventSpec<'_>) {
        let event = self.writer.write(spec, &mut self.rng);
        self.events.push(event);
    }

    /// Writes a malicious event (its uuid goes into the ground truth).
    pub fn malicious(&mut self, spec: &EventSpec<'_>) {
        let event = self.writer.write(spec, &mut self.rng);
        self.malicious.push((event.published, event.uuid.clone()));
        self.events.push(event);
    }

    /// Writes `spec` as malicious or as context.
    pub fn emit(&mut self, spec: &EventSpec<'_>, malicious: bool) {
        if malicious {
            self.malicious(spec);
        } else {
            self.context(spec);
        }
    }

    /// Records a directory change at `at`.
    pub fn change(&mut self, at: DateTime<Utc>, change: DirectoryChange) {
        self.changes.push(TimedChange { at, change });
    }

    /// Records that `user`'s password or factors were changed by `actor_class`.
    pub fn affect(&mut self, user: &User, actor_class: ActorClass) {
        let entry = AffectedUser {
            user_id: user.id.clone(),
            login: user.login.clone(),
            actor_class,
        };
        if !self.affected.contains(&entry) {
            self.affected.push(entry);
        }
    }

    /// A random pause between `low_ms` and `high_ms` milliseconds.
    pub fn pause(&mut self, low_ms: i64, high_ms: i64) -> Duration {
        Duration::milliseconds(self.rng.random_range(low_ms..high_ms.max(low_ms + 1)))
    }

    /// A session of `user` from `client` at `at` with a new session id; `own_device` says
    /// whether it is the user's own laptop browser (their device token and registered device)
    /// or someone else's (a fresh device token).
    pub fn session<'u>(
        &mut self,
        user: &'u User,
        client: Client,
        signals: Signals,
        at: DateTime<Utc>,
        own_device: bool,
    ) -> Sess<'u> {
        let (fingerprint, dt_hash, device) = if own_device {
            (
                user.device_fingerprint.clone(),
                user.device_token_hash.clone(),
                user.device.as_ref(),
            )
        } else {
            (
                ids::hex(&mut self.rng, 32),
                ids::hex(&mut self.rng, 64),
                None,
            )
        };
        Sess {
            user,
            client,
            id: ids::session_id(&mut self.rng),
            authn_request_id: ids::request_id(&mut self.rng, at),
            fingerprint,
            dt_hash,
            device,
            signals,
            threat_suspected: "false",
            at,
        }
    }

    /// `user` on their laptop at home, as usual.
    pub fn home_session<'u>(&mut self, user: &'u User, at: DateTime<Utc>) -> Sess<'u> {
        let client = Client::new(
            &user.home_ip,
            &user.home,
            &user.home_isp,
            &user.computer,
            None,
            false,
        );
        self.session(user, client, Signals::usual(), at, true)
    }

    /// Moves the scenario into `plan`: its events, changes, and the ground truth naming
    /// `actor`. The window is the first to the last malicious event.
    pub fn finish(mut self, scenario: &str, actor: String, plan: &mut ScenarioPlan) {
        self.malicious.sort();
        let start = self.malicious.first().map(|m| m.0).unwrap_or_default();
        let end = self.malicious.last().map(|m| m.0).unwrap_or_default();
        plan.truth.push(GroundTruth {
            scenario: scenario.to_string(),
            org: self.org.config.okta_domain.clone(),
            start,
            end,
            actor,
            malicious_uuids: self.malicious.into_iter().map(|m| m.1).collect(),
            affected_users: self.affected,
        });
        plan.events.append(&mut self.events);
        plan.changes.append(&mut self.changes);
    }

    /// The sign-on policy evaluation that opens a sign-in.
    pub fn policy_evaluation(&mut self, s: &Sess<'_>, malicious: bool) {
        let org = self.org;
        let policy = &org.sign_on_policy;
        let detail = [("policyType", policy.policy_type.as_str())];
        let mut targets = vec![Target::policy(policy, &detail)];
        if let Some(rule) = policy.rules.first() {
            targets.push(Target::policy_rule(policy, rule));
        }
        let debug = s.sign_in_debug(None);
        self.emit(
            &EventSpec {
                result: "ALLOW",
                reason: Some("Sign-on policy evaluation resulted in ALLOW"),
                request_uri: Some("/idp/idx/identify"),
                debug: &debug,
                targets: Some(&targets),
                ..s.spec("policy.evaluate_sign_on", "Evaluation of sign-on policy")
            },
            malicious,
        );
    }

    /// The Admin Console's authentication policy evaluation (`target` names the console).
    pub fn admin_console_policy_evaluation(&mut self, s: &Sess<'_>, malicious: bool) {
        let org = self.org;
        let Some(policy) = org.authentication_policies.get(Org::ADMIN_CONSOLE_POLICY) else {
            return;
        };
        let detail = [("policyType", policy.policy_type.as_str())];
        let mut targets = vec![
            Target::app_plain(org.admin_console()),
            Target::policy(policy, &detail),
        ];
        if let Some(rule) = policy.rules.first() {
            targets.push(Target::policy_rule(policy, rule));
        }
        let debug = s.sign_in_debug(None);
        self.emit(
            &EventSpec {
                result: "ALLOW",
                reason: Some("Sign-on policy evaluation resulted in ALLOW"),
                request_uri: Some("/app/saasure/sso"),
                debug: &debug,
                targets: Some(&targets),
                ..s.spec("policy.evaluate_sign_on", "Evaluation of sign-on policy")
            },
            malicious,
        );
    }

    /// The right password.
    pub fn password_verified(&mut self, s: &Sess<'_>, malicious: bool) {
        let detail = [
            ("methodTypeUsed", "Password"),
            ("methodUsedVerifiedProperties", "[KNOWLEDGE]"),
        ];
        let targets = [Target {
            id: &s.user.password_enrollment_id,
            kind: "AuthenticatorEnrollment",
            alternate_id: "unknown",
            display_name: "Password",
            detail_entry: &detail,
            change_details: None,
        }];
        let debug = s.sign_in_debug(Some("PASSWORD_AS_FACTOR"));
        self.emit(
            &EventSpec {
                authentication: AuthenticationContext {
                    authentication_provider: Some("OKTA_AUTHENTICATION_PROVIDER"),
                    credential_type: Some("PASSWORD"),
                    ..s.auth()
                },
                request_uri: Some("/idp/idx/challenge/answer"),
                debug: &debug,
                targets: Some(&targets),
                ..s.spec("user.authentication.verify", "Verify user identity")
            },
            malicious,
        );
    }

    /// A wrong password (`user.session.start` FAILURE, as the generator writes it).
    pub fn wrong_password(&mut self, s: &Sess<'_>, malicious: bool) {
        let debug = s.sign_in_debug(None);
        self.emit(
            &EventSpec {
                legacy_event_type: Some("core.user_auth.login_failed"),
                severity: "WARN",
                result: "FAILURE",
                reason: Some("INVALID_CREDENTIALS"),
                authentication: AuthenticationContext {
                    authentication_provider: Some("OKTA_AUTHENTICATION_PROVIDER"),
                    credential_type: Some("PASSWORD"),
                    ..s.auth()
                },
                request_uri: Some("/idp/idx/challenge/answer"),
                debug: &debug,
                ..s.spec("user.session.start", "User login to Okta")
            },
            malicious,
        );
    }

    /// Okta locks the account after too many failures.
    pub fn account_locked(&mut self, s: &Sess<'_>, malicious: bool) {
        let debug = s.sign_in_debug(None);
        self.emit(
            &EventSpec {
                legacy_event_type: Some("core.user_auth.account_locked"),
                severity: "DEBUG",
                result: "FAILURE",
                reason: Some("LOCKED_OUT"),
                request_uri: Some("/idp/idx/challenge/answer"),
                debug: &debug,
                ..s.spec("user.account.lock", "Max sign in attempts exceeded")
            },
            malicious,
        );
    }

    /// An Okta Verify push goes to the user's phone.
    pub fn push_sent(&mut self, s: &Sess<'_>, malicious: bool) {
        let enrollment = s.factor_target(Factor::OktaVerifyPush);
        let targets = [Target::user(s.user), enrollment.target(s.user)];
        self.emit(
            &EventSpec {
                request_uri: Some("/idp/idx/challenge"),
                debug: &[("factor", DebugValue::Str("OKTA_VERIFY_PUSH"))],
                targets: Some(&targets),
                ..s.spec(
                    "system.push.send_factor_verify_push",
                    "A push notification was sent to the user's Okta Verify app",
                )
            },
            malicious,
        );
    }

    /// The user rejects the push: Okta logs the rejection and a failed MFA verification.
    pub fn push_denied(&mut self, s: &Sess<'_>, malicious: bool) {
        let enrollment = s.factor_target(Factor::OktaVerifyPush);
        let targets = [Target::user(s.user), enrollment.target(s.user)];
        let debug = s.sign_in_debug(Some("OKTA_VERIFY_PUSH"));
        self.emit(
            &EventSpec {
                result: "FAILURE",
                reason: Some("User rejected Okta push verify"),
                severity: "WARN",
                request_uri: Some("/idp/idx/authenticators/poll"),
                debug: &debug,
                targets: Some(&targets),
                ..s.spec(
                    "user.mfa.okta_verify.deny_push",
                    "User rejected Okta push verify",
                )
            },
            malicious,
        );
        let failed_at = s.at + self.pause(20, 200);
        self.emit(
            &EventSpec {
                published: failed_at,
                legacy_event_type: Some("core.user.factor.attempt_fail"),
                result: "FAILURE",
                reason: Some("INVALID_CREDENTIALS"),
                severity: "WARN",
                authentication: s.mfa_auth(),
                request_uri: Some("/idp/idx/authenticators/poll"),
                debug: &debug,
                targets: Some(&targets),
                ..s.spec(
                    "user.authentication.auth_via_mfa",
                    "Authentication of user via MFA",
                )
            },
            malicious,
        );
    }

    /// A successful second factor; returns the request id the session start shares.
    pub fn mfa_verified(&mut self, s: &Sess<'_>, factor: Factor, malicious: bool) -> String {
        let enrollment = s.factor_target(factor);
        let targets = [Target::user(s.user), enrollment.target(s.user)];
        let request = ids::request_id(&mut self.rng, s.at);
        let debug = s.sign_in_debug(Some(factor.debug_name()));
        let uri = match factor {
            Factor::OktaVerifyPush | Factor::FastPass => "/idp/idx/authenticators/poll",
            Factor::WebAuthn | Factor::GoogleOtp => "/idp/idx/challenge/answer",
        };
        self.emit(
            &EventSpec {
                legacy_event_type: Some("core.user.factor.attempt_success"),
                authentication: s.mfa_auth(),
                request_id: Some(&request),
                request_uri: Some(uri),
                debug: &debug,
                targets: Some(&targets),
                ..s.spec(
                    "user.authentication.auth_via_mfa",
                    "Authentication of user via MFA",
                )
            },
            malicious,
        );
        request
    }

    /// The session starts (same request as the last factor).
    pub fn session_started(
        &mut self,
        s: &Sess<'_>,
        factor: Factor,
        request: &str,
        malicious: bool,
    ) {
        let enrollment = s.factor_target(factor);
        let targets = [
            enrollment.target(s.user),
            Target::app_plain(self.org.dashboard()),
        ];
        let mut debug = s.sign_in_debug(None);
        debug.push((
            "logOnlySecurityData",
            DebugValue::Str(&s.signals.log_only_security_data),
        ));
        self.emit(
            &EventSpec {
                legacy_event_type: Some("core.user_auth.login_success"),
                request_id: Some(request),
                request_uri: Some("/idp/idx/authenticators/poll"),
                debug: &debug,
                targets: Some(&targets),
                ..s.spec("user.session.start", "User login to Okta")
            },
            malicious,
        );
    }

    /// Single sign-on into `app` from the session.
    pub fn single_sign_on(&mut self, s: &Sess<'_>, app: &App, malicious: bool) {
        use crate::generate::SignOnMode;
        let (uri, query) = match app.sign_on_mode {
            SignOnMode::Saml2 => (
                format!("/app/{}/{}/sso/saml", app.key, app.id),
                String::new(),
            ),
            SignOnMode::WsFederation => (
                format!("/app/{}/{}/sso/wsfed/passive", app.key, app.id),
                "client-request-id=&wa=wsignin1.0".to_string(),
            ),
            SignOnMode::OpenIdConnect => {
                let client_id = if app.key == "okta_enduser" {
                    DASHBOARD_CLIENT_ID
                } else {
                    &app.id
                };
                (
                    "/oauth2/v1/authorize".to_string(),
                    format!("client_id={client_id}&response_type=code&scope=openid"),
                )
            }
        };
        let targets = [Target::app(app), Target::app_user(s.user)];
        let debug = [
            ("dtHash", DebugValue::Str(&s.dt_hash)),
            ("threatSuspected", DebugValue::Str("false")),
        ];
        self.emit(
            &EventSpec {
                legacy_event_type: Some("app.auth.sso"),
                request_uri: Some(&uri),
                url_query: &query,
                debug: &debug,
                targets: Some(&targets),
                ..s.spec("user.authentication.sso", "User single sign on to app")
            },
            malicious,
        );
    }

    /// A whole sign-in with the user's own second factor, ending on the dashboard.
    pub fn sign_in(&mut self, s: &mut Sess<'_>, malicious: bool) {
        let factor = if s.device.is_none() && s.user.factor == Factor::FastPass {
            Factor::OktaVerifyPush
        } else {
            s.user.factor
        };
        self.policy_evaluation(s, malicious);
        if factor != Factor::FastPass {
            s.at += self.pause(2_000, 9_000);
            self.password_verified(s, malicious);
        }
        if factor == Factor::OktaVerifyPush {
            s.at += self.pause(500, 2_000);
            self.push_sent(s, malicious);
        }
        s.at += self.pause(2_500, 14_000);
        let request = self.mfa_verified(s, factor, malicious);
        s.at += self.pause(5, 60);
        self.session_started(s, factor, &request, malicious);
        s.at += self.pause(400, 2_500);
        let dashboard = self.org.dashboard();
        self.single_sign_on(s, dashboard, malicious);
    }

    /// Opens the Admin Console from the session.
    pub fn open_admin_console(&mut self, s: &mut Sess<'_>, malicious: bool) {
        let console = self.org.admin_console();
        self.single_sign_on(s, console, malicious);
        s.at += self.pause(800, 4_000);
        let targets = [Target::app_plain(console)];
        let debug = [("dtHash", DebugValue::Str(&s.dt_hash))];
        self.emit(
            &EventSpec {
                request_uri: Some("/admin/sso/callback"),
                debug: &debug,
                targets: Some(&targets),
                ..s.spec(
                    "user.session.access_admin_app",
                    "User accessing Okta admin app",
                )
            },
            malicious,
        );
    }

    /// An Admin Console action by the session's user.
    #[allow(clippy::too_many_arguments)]
    pub fn admin_action(
        &mut self,
        s: &Sess<'_>,
        event_type: &str,
        display: &str,
        legacy: Option<&str>,
        uri: &str,
        targets: &[Target<'_>],
        extra_debug: &[(&str, DebugValue<'_>)],
        malicious: bool,
    ) {
        let mut debug: Vec<(&str, DebugValue<'_>)> = vec![("dtHash", DebugValue::Str(&s.dt_hash))];
        debug.extend_from_slice(extra_debug);
        self.emit(
            &EventSpec {
                legacy_event_type: legacy,
                request_uri: Some(uri),
                debug: &debug,
                targets: Some(targets),
                ..s.spec(event_type, display)
            },
            malicious,
        );
    }
}

/// Okta's behaviour and risk verdicts for a sign-in context, in their three spellings
/// (`behaviors`, `risk`, `logOnlySecurityData`).
#[derive(Debug, Clone)]
pub(crate) struct Signals {
    pub behaviors: String,
    pub risk: String,
    pub log_only_security_data: String,
}

impl Signals {
    /// Nothing new: the user's usual device and network.
    pub fn usual() -> Signals {
        Signals::new(&[], "LOW", None)
    }

    /// The named behaviours (`New Geo-Location`, `New Device`, `New IP`, `New State`,
    /// `New Country`, `Velocity`, `New City`) are POSITIVE, the rest NEGATIVE.
    pub fn new(positive: &[&str], level: &str, reasons: Option<&str>) -> Signals {
        const NAMES: [&str; 7] = [
            "New Geo-Location",
            "New Device",
            "New IP",
            "New State",
            "New Country",
            "Velocity",
            "New City",
        ];
        let verdict = |name: &str| {
            if positive.contains(&name) {
                "POSITIVE"
            } else {
                "NEGATIVE"
            }
        };
        let behaviors = format!(
            "{{{}}}",
            NAMES
                .iter()
                .map(|n| format!("{n}={}", verdict(n)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let behaviors_json = NAMES
            .iter()
            .map(|n| format!("\"{n}\":\"{}\"", verdict(n)))
            .collect::<Vec<_>>()
            .join(",");
        let (risk, risk_json) = match reasons {
            Some(r) => (
                format!("{{reasons={r}, level={level}}}"),
                format!("{{\"reasons\":\"{r}\",\"level\":\"{level}\"}}"),
            ),
            None => (
                format!("{{level={level}}}"),
                format!("{{\"level\":\"{level}\"}}"),
            ),
        };
        Signals {
            behaviors,
            risk,
            log_only_security_data: format!(
                "{{\"risk\":{risk_json},\"behaviors\":{{{behaviors_json}}}}}"
            ),
        }
    }

    /// A sign-in from a new device in a new country, far away.
    pub fn new_country(level: &str, reasons: &str) -> Signals {
        Signals::new(
            &[
                "New Geo-Location",
                "New Device",
                "New IP",
                "New State",
                "New Country",
                "New City",
            ],
            level,
            Some(reasons),
        )
    }
}

/// One sign-in session.
pub(crate) struct Sess<'u> {
    pub user: &'u User,
    pub client: Client,
    pub id: String,
    pub authn_request_id: String,
    pub fingerprint: String,
    pub dt_hash: String,
    pub device: Option<&'u Device>,
    pub signals: Signals,
    /// `debugData.threatSuspected` (`"true"` once ThreatInsight knows the source).
    pub threat_suspected: &'static str,
    pub at: DateTime<Utc>,
}

/// The enrollment a factor event targets.
pub(crate) struct Enrollment {
    factor: Factor,
    detail: [(&'static str, &'static str); 2],
}

impl Enrollment {
    fn target<'a>(&'a self, user: &'a User) -> Target<'a> {
        Target {
            id: &user.factor_enrollment_id,
            kind: "AuthenticatorEnrollment",
            alternate_id: "unknown",
            display_name: self.factor.authenticator_name(),
            detail_entry: &self.detail,
            change_details: None,
        }
    }
}

impl<'u> Sess<'u> {
    /// Session ids only.
    pub fn auth(&self) -> AuthenticationContext<'_> {
        AuthenticationContext {
            root_session_id: Some(&self.id),
            external_session_id: Some(&self.id),
            ..AuthenticationContext::default()
        }
    }

    fn mfa_auth(&self) -> AuthenticationContext<'_> {
        AuthenticationContext {
            authentication_provider: Some("FACTOR_PROVIDER"),
            credential_provider: Some("OKTA_CREDENTIAL_PROVIDER"),
            ..self.auth()
        }
    }

    /// An event of this session by its user at its clock.
    pub fn spec<'s>(&'s self, event_type: &'s str, display: &'s str) -> EventSpec<'s> {
        EventSpec {
            client: Some(&self.client),
            device: self.device,
            authentication: self.auth(),
            ..EventSpec::new(self.at, event_type, display, Actor::User(self.user))
        }
    }

    /// The debug data of sign-in flow events.
    pub fn sign_in_debug(
        &self,
        factor: Option<&'static str>,
    ) -> Vec<(&'static str, DebugValue<'_>)> {
        let mut debug = Vec::with_capacity(8);
        debug.push(("authnRequestId", DebugValue::Str(&self.authn_request_id)));
        debug.push(("behaviors", DebugValue::Str(&self.signals.behaviors)));
        debug.push(("deviceFingerprint", DebugValue::Str(&self.fingerprint)));
        debug.push(("dtHash", DebugValue::Str(&self.dt_hash)));
        if let Some(factor) = factor {
            debug.push(("factor", DebugValue::Str(factor)));
        }
        debug.push(("risk", DebugValue::Str(&self.signals.risk)));
        debug.push(("threatSuspected", DebugValue::Str(self.threat_suspected)));
        debug
    }

    fn factor_target(&self, factor: Factor) -> Enrollment {
        Enrollment {
            factor,
            detail: [
                ("methodTypeUsed", factor.method_name()),
                (
                    "methodUsedVerifiedProperties",
                    match factor {
                        Factor::FastPass => "[DEVICE_BOUND, PHISHING_RESISTANT, USER_VERIFYING, USER_PRESENCE, HARDWARE_PROTECTED]",
                        Factor::WebAuthn => "[DEVICE_BOUND, PHISHING_RESISTANT, USER_PRESENCE]",
                        _ => "[DEVICE_BOUND, USER_PRESENCE]",
                    },
                ),
            ],
        }
    }
}

/// A time for a scenario lasting `duration` inside `[start, end)`: on a weekday if possible,
/// at local minute `minutes` (after midnight, at UTC offset `offset`) of a random day.
pub(crate) fn pick_time(
    rng: &mut ChaCha8Rng,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    offset: Duration,
    minutes: std::ops::Range<u32>,
    duration: Duration,
) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    let latest = end - duration;
    if latest <= start {
        return None;
    }
    let mut candidates = Vec::new();
    let mut weekday_candidates = Vec::new();
    let mut date = (start + offset).date_naive() - Duration::days(1);
    let last = (end + offset).date_naive() + Duration::days(1);
    while date <= last {
        let minute = rng.random_range(minutes.start..minutes.end.max(minutes.start + 1));
        let at = crate::generate::org::local_time(date, offset, minute)
            + Duration::milliseconds(rng.random_range(0..60_000));
        if at >= start && at <= latest {
            candidates.push(at);
            if !matches!(date.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
                weekday_candidates.push(at);
            }
        }
        date += Duration::days(1);
    }
    let pool = if weekday_candidates.is_empty() {
        &candidates
    } else {
        &weekday_candidates
    };
    if pool.is_empty() {
        // The window is shorter than a day: anywhere that fits.
        let span = (latest - start).num_milliseconds().max(1);
        return Some(start + Duration::milliseconds(rng.random_range(0..span)));
    }
    Some(pool[rng.random_range(0..pool.len())])
}

/// Indices of ordinary (non-admin) users active through `[from, to]`, with `factor` if given.
pub(crate) fn ordinary_users(
    org: &Org,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    factor: Option<Factor>,
) -> Vec<usize> {
    org.users
        .iter()
        .enumerate()
        .filter(|(_, u)| {
            u.admin_role.is_none()
                && u.is_active_at(from)
                && u.is_active_at(to)
                && factor.is_none_or(|f| u.factor == f)
        })
        .map(|(i, _)| i)
        .collect()
}
