//! One sign-in session of a user, as Okta Identity Engine logs it: the sign-on policy evaluation,
//! password check, second factor (Okta Verify push, FastPass, WebAuthn or a code), session start,
//! the dashboard and app single sign-ons (with OAuth code and token grants for OIDC apps), an
//! occasional password change, an admin's console work, and sign-out. All events of a session
//! share one `externalSessionId`/`rootSessionId` and one client (IP, user agent, `dtHash`), as
//! real sessions do; a wrong password or a denied push now and then adds failures.

use super::activity::Day;
use super::catalog;
use super::event::{
    Actor, AuthenticationContext, Client, DebugValue, EventSpec, Target, TransactionKind,
};
use super::ids;
use super::org::{weighted, AdminRole, Factor, Org, SignOnMode, User};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

/// Admin work a session is opened for, besides the admin's routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AdminTask {
    /// Create and activate the user (index into `Org::users`).
    Create(usize),
    /// Deactivate the user.
    Deactivate(usize),
    /// Unlock the locked-out user.
    Unlock(usize),
}

/// What a session holds besides ordinary app use.
#[derive(Debug, Clone, Copy)]
pub(super) struct SessionPlan<'t> {
    /// The admin does routine console work (group and app assignments, resets, …).
    pub routine_admin: bool,
    /// Specific admin work.
    pub admin_tasks: &'t [AdminTask],
    /// The user's first sign-in: they enroll their factor.
    pub first_sign_in: bool,
    /// The sign-in may start with a wrong password or a denied push.
    pub can_fail: bool,
}

impl Default for SessionPlan<'_> {
    fn default() -> Self {
        SessionPlan {
            routine_admin: false,
            admin_tasks: &[],
            first_sign_in: false,
            can_fail: true,
        }
    }
}

/// Okta's behaviour and risk verdicts for a sign-in context, in their three spellings.
struct Signals {
    behaviors: &'static str,
    risk: &'static str,
    log_only_security_data: &'static str,
}

const USUAL: Signals = Signals {
    behaviors: "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}",
    risk: "{level=LOW}",
    log_only_security_data: r#"{"risk":{"level":"LOW"},"behaviors":{"New Geo-Location":"NEGATIVE","New Device":"NEGATIVE","New IP":"NEGATIVE","New State":"NEGATIVE","New Country":"NEGATIVE","Velocity":"NEGATIVE","New City":"NEGATIVE"}}"#,
};
const NEW_IP: Signals = Signals {
    behaviors: "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=POSITIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}",
    risk: "{level=LOW}",
    log_only_security_data: r#"{"risk":{"level":"LOW"},"behaviors":{"New Geo-Location":"NEGATIVE","New Device":"NEGATIVE","New IP":"POSITIVE","New State":"NEGATIVE","New Country":"NEGATIVE","Velocity":"NEGATIVE","New City":"NEGATIVE"}}"#,
};
const TRAVEL_DOMESTIC: Signals = Signals {
    behaviors: "{New Geo-Location=POSITIVE, New Device=NEGATIVE, New IP=POSITIVE, New State=POSITIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=POSITIVE}",
    risk: "{level=LOW}",
    log_only_security_data: r#"{"risk":{"level":"LOW"},"behaviors":{"New Geo-Location":"POSITIVE","New Device":"NEGATIVE","New IP":"POSITIVE","New State":"POSITIVE","New Country":"NEGATIVE","Velocity":"NEGATIVE","New City":"POSITIVE"}}"#,
};
const TRAVEL_ABROAD: Signals = Signals {
    behaviors: "{New Geo-Location=POSITIVE, New Device=NEGATIVE, New IP=POSITIVE, New State=POSITIVE, New Country=POSITIVE, Velocity=NEGATIVE, New City=POSITIVE}",
    risk: "{reasons=Anomalous Location, level=MEDIUM}",
    log_only_security_data: r#"{"risk":{"reasons":"Anomalous Location","level":"MEDIUM"},"behaviors":{"New Geo-Location":"POSITIVE","New Device":"NEGATIVE","New IP":"POSITIVE","New State":"POSITIVE","New Country":"POSITIVE","Velocity":"NEGATIVE","New City":"POSITIVE"}}"#,
};

/// The well-known client id of the Okta End-User Dashboard.
const DASHBOARD_CLIENT_ID: &str = "okta.2b1959c8-bcc0-56eb-a589-cfcfb7422f26";

/// A session in progress: who, from where, and the clock.
struct Session<'o> {
    user_index: usize,
    user: &'o User,
    client: Client,
    id: String,
    signals: &'static Signals,
    device: Option<&'o super::org::Device>,
    fingerprint: &'o str,
    device_token_hash: &'o str,
    /// Groups the events of one sign-in flow (`debugData.authnRequestId`).
    authn_request_id: String,
    at: DateTime<Utc>,
}

impl<'o> Session<'o> {
    /// The `authenticationContext` of the session: its ids, nothing else.
    fn auth(&self) -> AuthenticationContext<'_> {
        AuthenticationContext {
            root_session_id: Some(&self.id),
            external_session_id: Some(&self.id),
            ..AuthenticationContext::default()
        }
    }

    /// An event of this session by its user, at the session's clock, with its client, device and
    /// session ids.
    fn event<'s>(&'s self, event_type: &'s str, display_message: &'s str) -> EventSpec<'s> {
        EventSpec {
            client: Some(&self.client),
            device: self.device,
            authentication: self.auth(),
            ..EventSpec::new(self.at, event_type, display_message, Actor::User(self.user))
        }
    }
}

impl<'o> Day<'o, '_> {
    /// Where this session comes from: home, the office, the phone, another network in town, or
    /// the hotel during a business trip ([`super::org::trip_day`]).
    fn open_session(&mut self, user_index: usize, at: DateTime<Utc>) -> Session<'o> {
        let org = self.org;
        let user = &org.users[user_index];
        let weekday = !matches!(
            chrono::Datelike::weekday(&(at + user.home.utc_offset())),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        let roll: f64 = self.rng.random();
        let region = &catalog::REGIONS[user.region];
        let trip_region = match super::org::trip_day(org, user_index, self.date) {
            super::org::TripDay::Away(away) => Some(away),
            _ => None,
        };
        let (client, signals, on_phone) = match user.office {
            _ if trip_region.is_some() => {
                let away_index = trip_region.unwrap_or(user.region);
                let away = &catalog::REGIONS[away_index];
                let isp = &away.home_isps[self.rng.random_range(0..away.home_isps.len())];
                let ip = super::org::random_ip(&mut self.rng, isp);
                let client = Client::new(&ip, &away.place, &isp.isp, &user.computer, None, false);
                let signals = if away_index == user.region {
                    &NEW_IP
                } else if away.place.country == user.home.country {
                    &TRAVEL_DOMESTIC
                } else {
                    &TRAVEL_ABROAD
                };
                (client, signals, false)
            }
            Some(office_index) if weekday && roll < 0.55 => {
                let office = &org.offices[office_index];
                let ip = &office.egress_ips[self.rng.random_range(0..office.egress_ips.len())];
                let zone = org.zones.get(office.zone).map(|z| z.name.as_str());
                let client =
                    Client::new(ip, &office.place, &office.isp, &user.computer, zone, false);
                (client, &USUAL, false)
            }
            _ if roll > 0.94 => {
                let ip = super::org::random_ip(&mut self.rng, region.mobile_isp);
                let client =
                    Client::new(&ip, &user.home, &user.mobile_isp, &user.phone, None, false);
                (client, &NEW_IP, true)
            }
            _ if roll > 0.91 => {
                let isp = &region.home_isps[self.rng.random_range(0..region.home_isps.len())];
                let ip = super::org::random_ip(&mut self.rng, isp);
                let client = Client::new(&ip, &user.home, &isp.isp, &user.computer, None, false);
                (client, &NEW_IP, false)
            }
            _ => {
                let client = Client::new(
                    &user.home_ip,
                    &user.home,
                    &user.home_isp,
                    &user.computer,
                    None,
                    false,
                );
                (client, &USUAL, false)
            }
        };
        let authn_request_id = ids::request_id(&mut self.rng, at);
        Session {
            user_index,
            user,
            client,
            id: ids::session_id(&mut self.rng),
            signals,
            device: if on_phone { None } else { user.device.as_ref() },
            fingerprint: if on_phone {
                &user.phone_fingerprint
            } else {
                &user.device_fingerprint
            },
            device_token_hash: if on_phone {
                &user.phone_token_hash
            } else {
                &user.device_token_hash
            },
            authn_request_id,
            at,
        }
    }

    /// `attempts` wrong passwords from the user's usual place; with `lock`, Okta then locks the
    /// account. Returns the time of the last event.
    pub(super) fn failed_sign_ins(
        &mut self,
        index: usize,
        start: DateTime<Utc>,
        attempts: u32,
        lock: bool,
    ) -> DateTime<Utc> {
        let mut s = self.open_session(index, start);
        for attempt in 0..attempts {
            if attempt > 0 {
                s.at += self.pause(8_000, 45_000);
            }
            self.wrong_password(&s);
        }
        if lock {
            s.at += self.pause(50, 400);
            let debug = self.sign_in_debug(&s, None);
            self.emit(&EventSpec {
                legacy_event_type: Some("core.user_auth.account_locked"),
                severity: "DEBUG",
                result: "FAILURE",
                reason: Some("LOCKED_OUT"),
                request_uri: Some("/idp/idx/challenge/answer"),
                debug: &debug,
                ..s.event("user.account.lock", "Max sign in attempts exceeded")
            });
        }
        s.at
    }

    fn wrong_password(&mut self, s: &Session<'_>) {
        let debug = self.sign_in_debug(s, None);
        self.emit(&EventSpec {
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
            ..s.event("user.session.start", "User login to Okta")
        });
    }

    /// The debug data of sign-in flow events: Okta's verdicts and the browser's identifiers.
    fn sign_in_debug<'s>(
        &self,
        s: &'s Session<'_>,
        factor: Option<&'s str>,
    ) -> Vec<(&'static str, DebugValue<'s>)> {
        let mut debug = Vec::with_capacity(8);
        debug.push((
            "authnRequestId",
            DebugValue::Str(s.authn_request_id.as_str()),
        ));
        debug.push(("behaviors", DebugValue::Str(s.signals.behaviors)));
        debug.push(("deviceFingerprint", DebugValue::Str(s.fingerprint)));
        debug.push(("dtHash", DebugValue::Str(s.device_token_hash)));
        if let Some(factor) = factor {
            debug.push(("factor", DebugValue::Str(factor)));
        }
        debug.push(("risk", DebugValue::Str(s.signals.risk)));
        debug.push(("threatSuspected", DebugValue::Str("false")));
        debug
    }

    /// A whole sign-in session of user `index` starting at `start`.
    pub(super) fn sign_in_session(
        &mut self,
        index: usize,
        start: DateTime<Utc>,
        plan: SessionPlan<'_>,
    ) {
        let org = self.org;
        let user = &org.users[index];
        let mut s = self.open_session(index, start);
        let factor = if s.device.is_none() && user.factor == Factor::FastPass {
            // FastPass needs the registered laptop; on the phone the user approves a push.
            Factor::OktaVerifyPush
        } else {
            user.factor
        };

        if plan.can_fail && factor != Factor::FastPass && self.rng.random_bool(0.03) {
            self.wrong_password(&s);
            s.at += self.pause(6_000, 40_000);
        }

        // Identify: the global session policy decides what the user must present.
        let policy = &org.sign_on_policy;
        let policy_detail = [("policyType", policy.policy_type.as_str())];
        let rule = policy.rules.first();
        let mut policy_targets = vec![Target::policy(policy, &policy_detail)];
        if let Some(rule) = rule {
            policy_targets.push(Target::policy_rule(policy, rule));
        }
        let debug = self.sign_in_debug(&s, None);
        self.emit(&EventSpec {
            result: "ALLOW",
            reason: Some("Sign-on policy evaluation resulted in ALLOW"),
            request_uri: Some("/idp/idx/identify"),
            debug: &debug,
            targets: Some(&policy_targets),
            ..s.event("policy.evaluate_sign_on", "Evaluation of sign-on policy")
        });

        // Password (FastPass is passwordless).
        if factor != Factor::FastPass {
            s.at += self.pause(2_000, 9_000);
            let detail = [
                ("methodTypeUsed", "Password"),
                ("methodUsedVerifiedProperties", "[KNOWLEDGE]"),
            ];
            let targets = [Target {
                id: &user.password_enrollment_id,
                kind: "AuthenticatorEnrollment",
                alternate_id: "unknown",
                display_name: "Password",
                detail_entry: &detail,
                change_details: None,
            }];
            let debug = self.sign_in_debug(&s, Some("PASSWORD_AS_FACTOR"));
            self.emit(&EventSpec {
                authentication: AuthenticationContext {
                    authentication_provider: Some("OKTA_AUTHENTICATION_PROVIDER"),
                    credential_type: Some("PASSWORD"),
                    ..s.auth()
                },
                request_uri: Some("/idp/idx/challenge/answer"),
                debug: &debug,
                targets: Some(&targets),
                ..s.event("user.authentication.verify", "Verify user identity")
            });
        }

        if plan.first_sign_in {
            self.enroll_factor(&mut s, factor);
        }

        // Second factor.
        let factor_detail = [
            ("methodTypeUsed", factor.method_name()),
            (
                "methodUsedVerifiedProperties",
                match factor {
                    Factor::FastPass => "[DEVICE_BOUND, PHISHING_RESISTANT, USER_VERIFYING, USER_PRESENCE, HARDWARE_PROTECTED]",
                    Factor::WebAuthn => "[DEVICE_BOUND, PHISHING_RESISTANT, USER_PRESENCE]",
                    _ => "[DEVICE_BOUND, USER_PRESENCE]",
                },
            ),
        ];
        let enrollment = Target {
            id: &user.factor_enrollment_id,
            kind: "AuthenticatorEnrollment",
            alternate_id: "unknown",
            display_name: factor.authenticator_name(),
            detail_entry: &factor_detail,
            change_details: None,
        };
        let mfa_targets = [Target::user(user), enrollment];
        let session_id = s.id.clone();
        let mfa_context = AuthenticationContext {
            authentication_provider: Some("FACTOR_PROVIDER"),
            credential_provider: Some("OKTA_CREDENTIAL_PROVIDER"),
            root_session_id: Some(&session_id),
            external_session_id: Some(&session_id),
            ..AuthenticationContext::default()
        };
        let factor_name = factor.debug_name();
        let mfa_uri = match factor {
            Factor::OktaVerifyPush | Factor::FastPass => "/idp/idx/authenticators/poll",
            Factor::WebAuthn | Factor::GoogleOtp => "/idp/idx/challenge/answer",
        };
        if factor == Factor::OktaVerifyPush {
            let denied = plan.can_fail && self.rng.random_bool(0.015);
            s.at += self.pause(500, 2_000);
            self.push_sent(&s, &mfa_targets);
            if denied {
                s.at += self.pause(3_000, 15_000);
                let debug = self.sign_in_debug(&s, Some(factor_name));
                self.emit(&EventSpec {
                    result: "FAILURE",
                    reason: Some("User rejected Okta push verify"),
                    severity: "WARN",
                    request_uri: Some("/idp/idx/authenticators/poll"),
                    debug: &debug,
                    targets: Some(&mfa_targets),
                    ..s.event(
                        "user.mfa.okta_verify.deny_push",
                        "User rejected Okta push verify",
                    )
                });
                let rejected_at = s.at + self.pause(20, 200);
                self.emit(&EventSpec {
                    published: rejected_at,
                    legacy_event_type: Some("core.user.factor.attempt_fail"),
                    result: "FAILURE",
                    reason: Some("INVALID_CREDENTIALS"),
                    severity: "WARN",
                    authentication: mfa_context,
                    request_uri: Some("/idp/idx/authenticators/poll"),
                    debug: &debug,
                    targets: Some(&mfa_targets),
                    ..s.event(
                        "user.authentication.auth_via_mfa",
                        "Authentication of user via MFA",
                    )
                });
                if self.rng.random_bool(0.2) {
                    return; // gave up
                }
                s.at += self.pause(5_000, 30_000);
                self.push_sent(&s, &mfa_targets);
            }
        }
        s.at += self.pause(2_500, 14_000);
        let mfa_request = ids::request_id(&mut self.rng, s.at);
        let debug = self.sign_in_debug(&s, Some(factor_name));
        self.emit(&EventSpec {
            legacy_event_type: Some("core.user.factor.attempt_success"),
            authentication: mfa_context,
            request_id: Some(&mfa_request),
            request_uri: Some(mfa_uri),
            debug: &debug,
            targets: Some(&mfa_targets),
            ..s.event(
                "user.authentication.auth_via_mfa",
                "Authentication of user via MFA",
            )
        });

        // The session starts (same request).
        s.at += self.pause(5, 60);
        let dashboard = org.dashboard();
        let start_targets = [enrollment, Target::app_plain(dashboard)];
        let mut debug = self.sign_in_debug(&s, None);
        debug.push((
            "logOnlySecurityData",
            DebugValue::Str(s.signals.log_only_security_data),
        ));
        self.emit(&EventSpec {
            legacy_event_type: Some("core.user_auth.login_success"),
            request_id: Some(&mfa_request),
            request_uri: Some(mfa_uri),
            debug: &debug,
            targets: Some(&start_targets),
            ..s.event("user.session.start", "User login to Okta")
        });

        // The dashboard.
        s.at += self.pause(400, 2_500);
        self.single_sign_on(&s, dashboard);

        let length = self.pause(20 * 60_000, 5 * 3_600_000);
        let end = s.at + length;
        let session_start = s.at;

        // App use through the session, in time order.
        let launchable: Vec<usize> = user
            .apps
            .iter()
            .copied()
            .filter(|a| *a > Org::DASHBOARD)
            .collect();
        if !launchable.is_empty() {
            let launches = self.rng.random_range(1..=6);
            let mut offsets: Vec<i64> = (0..launches)
                .map(|_| {
                    self.rng
                        .random_range(5_000..length.num_milliseconds().max(5_001))
                })
                .collect();
            offsets.sort_unstable();
            for offset in offsets {
                let pick = weighted(&mut self.rng, &launchable, |a| org.apps[*a].popularity);
                let app = &org.apps[launchable[pick]];
                s.at = session_start + Duration::milliseconds(offset);
                self.launch_app(&s, app);
            }
        }

        if self.rng.random_bool(0.005) {
            s.at = session_start
                + Duration::milliseconds(
                    self.rng
                        .random_range(1_000..length.num_milliseconds().max(1_001)),
                );
            let targets = [Target::user(user)];
            let debug = [("dtHash", DebugValue::Str(s.device_token_hash))];
            self.emit(&EventSpec {
                legacy_event_type: Some("core.user.config.password_update.success"),
                request_uri: Some("/idp/myaccount/password"),
                debug: &debug,
                targets: Some(&targets),
                ..s.event(
                    "user.account.update_password",
                    "User update password for Okta",
                )
            });
        }

        if plan.routine_admin || !plan.admin_tasks.is_empty() {
            s.at = session_start + self.pause(10_000, 120_000);
            self.admin_work(&mut s, plan);
        }

        if self.rng.random_bool(0.55) {
            s.at = end.max(s.at + Duration::seconds(30));
            self.emit(&EventSpec {
                legacy_event_type: Some("core.user_auth.logout_success"),
                request_uri: Some("/login/signout"),
                debug: &[("threatSuspected", DebugValue::Str("false"))],
                ..s.event("user.session.end", "User logout from Okta")
            });
        }
    }

    fn push_sent(&mut self, s: &Session<'_>, targets: &[Target<'_>]) {
        self.emit(&EventSpec {
            request_uri: Some("/idp/idx/challenge"),
            debug: &[("factor", DebugValue::Str("OKTA_VERIFY_PUSH"))],
            targets: Some(targets),
            ..s.event(
                "system.push.send_factor_verify_push",
                "A push notification was sent to the user's Okta Verify app",
            )
        });
    }

    /// A new hire sets up their second factor during their first sign-in.
    fn enroll_factor(&mut self, s: &mut Session<'_>, factor: Factor) {
        let user = s.user;
        s.at += self.pause(20_000, 90_000);
        let targets = [Target::user(user)];
        let debug = [("factor", DebugValue::Str(factor.debug_name()))];
        self.emit(&EventSpec {
            legacy_event_type: Some("core.user.factor.activate"),
            request_uri: Some("/idp/idx/credential/enroll"),
            debug: &debug,
            targets: Some(&targets),
            ..s.event("user.mfa.factor.activate", "User set up factor")
        });
        s.at += self.pause(200, 2_000);
        self.emit(&EventSpec {
            transaction: TransactionKind::Job,
            targets: Some(&targets),
            ..EventSpec::new(
                s.at,
                "system.email.mfa_enroll_notification.sent_message",
                "Send MFA enrollment notification email",
                Actor::System(&self.org.system_principal_id),
            )
        });
    }

    fn single_sign_on(&mut self, s: &Session<'_>, app: &super::org::App) -> String {
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
        let request = ids::request_id(&mut self.rng, s.at);
        let targets = [Target::app(app), Target::app_user(s.user)];
        let debug = [
            ("dtHash", DebugValue::Str(s.device_token_hash)),
            ("threatSuspected", DebugValue::Str("false")),
        ];
        self.emit(&EventSpec {
            legacy_event_type: Some("app.auth.sso"),
            request_id: Some(&request),
            request_uri: Some(&uri),
            url_query: &query,
            debug: &debug,
            targets: Some(&targets),
            ..s.event("user.authentication.sso", "User single sign on to app")
        });
        request
    }

    /// The user opens an app from the dashboard; OIDC apps then get an authorization code and
    /// exchange it for tokens.
    fn launch_app(&mut self, s: &Session<'_>, app: &super::org::App) {
        let request = self.single_sign_on(s, app);
        if app.sign_on_mode != SignOnMode::OpenIdConnect {
            return;
        }
        let org = self.org;
        let server = &org.authorization_server;
        let authorize_uri = format!("/oauth2/{}/v1/authorize", server.id);
        let issuer = AuthenticationContext {
            issuer: Some((server.id.as_str(), "AuthorizationServer")),
            ..s.auth()
        };
        let app_targets = [Target::app_plain(app)];
        let scopes = "openid profile email";
        let debug = [
            ("dtHash", DebugValue::Str(s.device_token_hash)),
            ("grantedScopes", DebugValue::Str(scopes)),
            ("requestedScopes", DebugValue::Str(scopes)),
            ("responseType", DebugValue::Str("code")),
            ("threatSuspected", DebugValue::Str("false")),
        ];
        self.emit(&EventSpec {
            client_id: Some(&app.id),
            authentication: issuer,
            request_id: Some(&request),
            request_uri: Some(&authorize_uri),
            debug: &debug,
            targets: Some(&app_targets),
            ..s.event(
                "app.oauth2.as.authorize.code",
                "OAuth2 authorization code request",
            )
        });
        let at = s.at + self.pause(150, 900);
        let token_request = ids::request_id(&mut self.rng, at);
        let token_uri = format!("/oauth2/{}/v1/token", server.id);
        let expires =
            (at + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let debug = [
            ("dtHash", DebugValue::Str(s.device_token_hash)),
            ("grantType", DebugValue::Str("authorization_code")),
            ("grantedScopes", DebugValue::Str(scopes)),
            ("requestedScopes", DebugValue::Str(scopes)),
            ("threatSuspected", DebugValue::Str("false")),
        ];
        for (event_type, display, kind, name, prefix) in [
            (
                "app.oauth2.as.token.grant.id_token",
                "OAuth2 id token is granted",
                "id_token",
                "ID Token",
                "ID",
            ),
            (
                "app.oauth2.as.token.grant.access_token",
                "OAuth2 access token is granted",
                "access_token",
                "Access Token",
                "AT",
            ),
        ] {
            let token_id = format!("{prefix}.{}", ids::hex(&mut self.rng, 43));
            let detail = [
                ("expires", expires.as_str()),
                ("subject", s.user.id.as_str()),
            ];
            let targets = [Target {
                id: &token_id,
                kind,
                alternate_id: "unknown",
                display_name: name,
                detail_entry: &detail,
                change_details: None,
            }];
            self.emit(&EventSpec {
                published: at,
                client_id: Some(&app.id),
                authentication: issuer,
                request_id: Some(&token_request),
                request_uri: Some(&token_uri),
                debug: &debug,
                targets: Some(&targets),
                ..s.event(event_type, display)
            });
        }
    }

    /// An admin opens the Admin Console and does their routine and the session's tasks.
    fn admin_work(&mut self, s: &mut Session<'_>, plan: SessionPlan<'_>) {
        let org = self.org;
        let console = org.admin_console();
        self.single_sign_on(s, console);
        s.at += self.pause(800, 4_000);
        let targets = [Target::app_plain(console)];
        let debug = [("dtHash", DebugValue::Str(s.device_token_hash))];
        self.emit(&EventSpec {
            request_uri: Some("/admin/sso/callback"),
            debug: &debug,
            targets: Some(&targets),
            ..s.event(
                "user.session.access_admin_app",
                "User accessing Okta admin app",
            )
        });
        for task in plan.admin_tasks {
            s.at += self.pause(40_000, 4 * 60_000);
            match *task {
                AdminTask::Create(subject) => self.create_user(s, subject),
                AdminTask::Deactivate(subject) => self.deactivate_user(s, subject),
                AdminTask::Unlock(subject) => {
                    let subject = &org.users[subject];
                    let uri = format!("/api/v1/users/{}/lifecycle/unlock", subject.id);
                    self.admin_event(
                        s,
                        "user.account.unlock_by_admin",
                        "Unlock user account",
                        None,
                        &uri,
                        &[Target::user(subject)],
                    );
                }
            }
        }
        if plan.routine_admin && s.user.admin_role.is_some() {
            let actions = self.rng.random_range(0..=4);
            for _ in 0..actions {
                s.at += self.pause(30_000, 12 * 60_000);
                self.routine_admin_action(s);
            }
        }
    }

    fn admin_event(
        &mut self,
        s: &Session<'_>,
        event_type: &str,
        display: &str,
        legacy: Option<&str>,
        uri: &str,
        targets: &[Target<'_>],
    ) {
        let debug = [("dtHash", DebugValue::Str(s.device_token_hash))];
        self.emit(&EventSpec {
            legacy_event_type: legacy,
            request_uri: Some(uri),
            debug: &debug,
            targets: Some(targets),
            ..s.event(event_type, display)
        });
    }

    fn routine_admin_action(&mut self, s: &Session<'_>) {
        let org = self.org;
        let Some(role) = s.user.admin_role else {
            return;
        };
        let Some(subject_index) = self.random_user(s.user_index) else {
            return;
        };
        let subject = &org.users[subject_index];
        if subject.admin_role.is_some() {
            // Admins' accounts are not routine work (and a reset of one is an alert).
            return;
        }
        let roll: f64 = self.rng.random();
        // Factor resets and sign-on policy edits are rare: each is an alert in most rule packs,
        // and a quiet background is what detections are measured against.
        match (role, roll) {
            (AdminRole::HelpDeskAdmin, r) if r < 0.35 => {
                let uri = format!("/api/v1/users/{}/lifecycle/reset_password", subject.id);
                self.admin_event(
                    s,
                    "user.account.reset_password",
                    "Fired when the user's password is reset",
                    Some("core.user.config.password_reset"),
                    &uri,
                    &[Target::user(subject)],
                );
            }
            (AdminRole::HelpDeskAdmin, r) if r < 0.351 => {
                let uri = format!("/api/v1/users/{}/lifecycle/reset_factors", subject.id);
                self.admin_event(
                    s,
                    "user.mfa.factor.reset_all",
                    "Reset all factors for user",
                    None,
                    &uri,
                    &[Target::user(subject)],
                );
            }
            (AdminRole::SuperAdmin, r) if r < 0.005 => {
                let policy = &org.sign_on_policy;
                let detail = [("policyType", policy.policy_type.as_str())];
                if let Some(rule) = policy.rules.first() {
                    let uri = format!("/api/v1/policies/{}/rules/{}", policy.id, rule.id);
                    let targets = [
                        Target::policy(policy, &detail),
                        Target::policy_rule(policy, rule),
                    ];
                    self.admin_event(
                        s,
                        "policy.rule.update",
                        "Update policy rule",
                        Some("policy.rule.updated"),
                        &uri,
                        &targets,
                    );
                }
            }
            (_, r) if r < 0.6 => {
                let departments: Vec<usize> = org
                    .groups
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| g.kind == super::org::GroupKind::Department)
                    .map(|(i, _)| i)
                    .collect();
                if departments.is_empty() {
                    return;
                }
                let group = &org.groups[departments[self.rng.random_range(0..departments.len())]];
                let uri = format!("/api/v1/groups/{}/users/{}", group.id, subject.id);
                let targets = [Target::user(subject), Target::group(group)];
                if self.rng.random_bool(0.75) {
                    self.admin_event(
                        s,
                        "group.user_membership.add",
                        "Add user to group membership",
                        Some("core.user_group_member.user_add"),
                        &uri,
                        &targets,
                    );
                } else {
                    self.admin_event(
                        s,
                        "group.user_membership.remove",
                        "Remove user from group membership",
                        Some("core.user_group_member.user_remove"),
                        &uri,
                        &targets,
                    );
                }
            }
            (_, r) if r < 0.85 => {
                if org.apps.len() <= Org::DASHBOARD + 1 {
                    return;
                }
                let app = &org.apps[self.rng.random_range(Org::DASHBOARD + 1..org.apps.len())];
                let uri = format!("/api/v1/apps/{}/users/{}", app.id, subject.id);
                let targets = [
                    Target::app_user(subject),
                    Target::app_plain(app),
                    Target::user(subject),
                ];
                if self.rng.random_bool(0.8) {
                    self.admin_event(
                        s,
                        "application.user_membership.add",
                        "Add user to application membership",
                        Some("app.generic.provision.assign_user_to_app"),
                        &uri,
                        &targets,
                    );
                } else {
                    self.admin_event(
                        s,
                        "application.user_membership.remove",
                        "Remove user's application membership",
                        Some("app.generic.unassign_user_from_app"),
                        &uri,
                        &targets,
                    );
                }
            }
            _ => {
                let uri = format!("/api/v1/users/{}", subject.id);
                self.admin_event(
                    s,
                    "user.account.update_profile",
                    "Update user profile for Okta",
                    Some("core.user.config.profile_update.success"),
                    &uri,
                    &[Target::user(subject)],
                );
            }
        }
    }

    fn create_user(&mut self, s: &mut Session<'_>, subject: usize) {
        let org = self.org;
        let user = &org.users[subject];
        let targets = [Target::user(user)];
        s.at = s.at.max(user.created);
        self.admin_event(
            s,
            "user.lifecycle.create",
            "Create okta user",
            Some("core.user.config.user_creation.success"),
            "/api/v1/users",
            &targets,
        );
        s.at += self.pause(200, 1_500);
        let uri = format!("/api/v1/users/{}/lifecycle/activate", user.id);
        self.admin_event(
            s,
            "user.lifecycle.activate",
            "Activate Okta user",
            Some("core.user.config.user_activated"),
            &uri,
            &targets,
        );
        // Okta's group rule and group-based app assignments follow as jobs.
        let mut at = s.at + self.pause(1_000, 20_000);
        let system = Actor::System(&org.system_principal_id);
        if let Some(group) = org.groups.get(user.department) {
            let targets = [Target::user(user), Target::group(group)];
            self.emit(&EventSpec {
                legacy_event_type: Some("core.user_group_member.user_add"),
                transaction: TransactionKind::Job,
                targets: Some(&targets),
                ..EventSpec::new(
                    at,
                    "group.user_membership.add",
                    "Add user to group membership",
                    system,
                )
            });
        }
        for app in user.apps.iter().filter(|a| **a > Org::DASHBOARD) {
            at += self.pause(100, 3_000);
            let app = &org.apps[*app];
            let targets = [
                Target::app_user(user),
                Target::app_plain(app),
                Target::user(user),
            ];
            self.emit(&EventSpec {
                legacy_event_type: Some("app.generic.provision.assign_user_to_app"),
                transaction: TransactionKind::Job,
                targets: Some(&targets),
                ..EventSpec::new(
                    at,
                    "application.user_membership.add",
                    "Add user to application membership",
                    system,
                )
            });
        }
    }

    fn deactivate_user(&mut self, s: &mut Session<'_>, subject: usize) {
        let org = self.org;
        let user = &org.users[subject];
        if let Some(at) = user.deactivated {
            s.at = s.at.max(at);
        }
        let uri = format!("/api/v1/users/{}/lifecycle/deactivate", user.id);
        self.admin_event(
            s,
            "user.lifecycle.deactivate",
            "Deactivate Okta user",
            Some("core.user.config.user_deactivated"),
            &uri,
            &[Target::user(user)],
        );
        let mut at = s.at + self.pause(1_000, 20_000);
        let system = Actor::System(&org.system_principal_id);
        for app in user.apps.iter().filter(|a| **a > Org::DASHBOARD) {
            at += self.pause(100, 3_000);
            let app = &org.apps[*app];
            let targets = [
                Target::app_user(user),
                Target::app_plain(app),
                Target::user(user),
            ];
            self.emit(&EventSpec {
                legacy_event_type: Some("app.generic.unassign_user_from_app"),
                transaction: TransactionKind::Job,
                targets: Some(&targets),
                ..EventSpec::new(
                    at,
                    "application.user_membership.remove",
                    "Remove user's application membership",
                    system,
                )
            });
        }
    }
}
