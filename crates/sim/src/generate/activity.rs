//! One calendar day of the org's activity, decided with that day's own RNG: which users sign in
//! (most on weekdays in their local working hours, few at weekends), when, and from where; the odd
//! lockout; joiners created and leavers deactivated by the help desk; Outlook's rich-client
//! sign-ins; and Okta's own background work — app provisioning pushes and HR profile imports as
//! `system@okta.com` JOBs, and API service integrations fetching tokens around the clock. The
//! shape of each sign-in session lives in [`super::session`].

use super::catalog;
use super::event::{
    Actor, AuthenticationContext, Client, DebugValue, EventSpec, EventWriter, Target,
    TransactionKind,
};
use super::org::{local_time, AdminRole, Org, SignOnMode, User};
use super::session::{AdminTask, SessionPlan};
use super::GeneratedEvent;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How far before its calendar date (UTC) a day's activity can start: users east of UTC start
/// their local day early (up to UTC+14), and admins begin a session a few minutes before the work
/// it holds. The generator holds events back by this much before releasing them in order.
pub(super) const LOOKBEHIND: Duration = Duration::hours(15);

/// Chance that an ordinary user locks themselves out on a given day: rare, since every lockout
/// is an alert in most rule packs.
const LOCKOUT_PER_USER_DAY: f64 = 0.00002;

/// The state of one day being generated.
pub(super) struct Day<'o, 'w> {
    pub org: &'o Org,
    pub rng: ChaCha8Rng,
    pub date: NaiveDate,
    writer: &'w mut EventWriter,
    out: &'w mut Vec<GeneratedEvent>,
}

impl Day<'_, '_> {
    /// Writes one event.
    pub fn emit(&mut self, spec: &EventSpec<'_>) {
        let event = self.writer.write(spec, &mut self.rng);
        self.out.push(event);
    }

    /// A random pause between `low_ms` and `high_ms` milliseconds.
    pub fn pause(&mut self, low_ms: i64, high_ms: i64) -> Duration {
        Duration::milliseconds(self.rng.random_range(low_ms..high_ms.max(low_ms + 1)))
    }

    /// A random active user other than `except`, if there is one.
    pub fn random_user(&mut self, except: usize) -> Option<usize> {
        let users = &self.org.users;
        if users.is_empty() {
            return None;
        }
        for _ in 0..8 {
            let i = self.rng.random_range(0..users.len());
            if i != except && users[i].is_active_on(self.date) {
                return Some(i);
            }
        }
        None
    }
}

/// Appends every event of calendar date `date` to `out` (in generation order, not sorted).
pub(super) fn generate_day(
    org: &Org,
    date: NaiveDate,
    writer: &mut EventWriter,
    out: &mut Vec<GeneratedEvent>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(org.config.seed);
    // Stream 0 built the org; each date has its own stream, so a day's events do not depend on
    // which day the generator started from.
    rng.set_stream(u64::from(date.num_days_from_ce().unsigned_abs()) + 1);
    let mut day = Day {
        org,
        rng,
        date,
        writer,
        out,
    };
    for index in 0..org.users.len() {
        day.user_day(index);
    }
    for index in 0..org.users.len() {
        let user = &org.users[index];
        if user.created.date_naive() == date && user.created > org.config.start {
            day.joiner(index);
        }
        if let Some(at) = user.deactivated.filter(|t| t.date_naive() == date) {
            day.leaver(index, at);
        }
    }
    day.provisioning_pushes();
    day.hr_profile_imports();
    day.service_tokens();
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Day<'_, '_> {
    /// One user's own activity on their local date: sign-in sessions, Outlook, a rare lockout.
    fn user_day(&mut self, index: usize) {
        let org = self.org;
        let user = &org.users[index];
        if !user.is_active_on(self.date) {
            return;
        }
        let trip = super::org::trip_day(org, index, self.date);
        let offset = match trip {
            super::org::TripDay::Home => user.home.utc_offset(),
            // On the plane: no sign-ins at all.
            super::org::TripDay::Travelling => return,
            // At the destination, in its time zone.
            super::org::TripDay::Away(region) => catalog::REGIONS[region].place.utc_offset(),
        };
        let away = trip != super::org::TripDay::Home;
        let weekend = is_weekend(self.date);
        let mut minutes: Vec<u32> = Vec::with_capacity(3);
        if weekend {
            if self.rng.random_bool(0.10) {
                minutes.push(self.rng.random_range(10 * 60..20 * 60));
            }
        } else if self.rng.random_bool(0.92) {
            let first = user.workday_start_minute + self.rng.random_range(0..40);
            minutes.push(first.saturating_sub(20));
            if self.rng.random_bool(0.5) {
                minutes.push(first + self.rng.random_range(180..300));
            }
            if self.rng.random_bool(0.15) {
                minutes.push(self.rng.random_range(18 * 60..22 * 60));
            }
        }
        for (k, minute) in minutes.iter().enumerate() {
            let start = local_time(self.date, offset, *minute) + self.pause(0, 60_000);
            if !user.is_active_at(start) {
                continue;
            }
            let routine_admin = k == 0 && !weekend && user.admin_role.is_some();
            self.sign_in_session(
                index,
                start,
                SessionPlan {
                    routine_admin,
                    ..SessionPlan::default()
                },
            );
        }
        if !away && !weekend && !minutes.is_empty() && self.rng.random_bool(0.2) {
            if let Some(office365) = org.app_by_key("office365") {
                let minute = user.workday_start_minute + self.rng.random_range(0..8 * 60);
                let at = local_time(self.date, offset, minute) + self.pause(0, 60_000);
                self.rich_client_sign_in(user, office365, at);
            }
        }
        if !away && user.admin_role.is_none() && self.rng.random_bool(LOCKOUT_PER_USER_DAY) {
            let minute = user.workday_start_minute + self.rng.random_range(0..6 * 60);
            let at = local_time(self.date, offset, minute) + self.pause(0, 60_000);
            self.lockout(index, at);
        }
    }

    /// Outlook signs in with the user's password over WS-Trust: no Okta session, so Okta logs
    /// the session ids as `unknown`.
    fn rich_client_sign_in(&mut self, user: &User, office365: &super::org::App, at: DateTime<Utc>) {
        let client = Client::new(
            &user.home_ip,
            &user.home,
            &user.home_isp,
            &catalog::OUTLOOK_AGENT,
            None,
            false,
        );
        let uri = format!("/app/office365/{}/sso/wsfed/active", office365.id);
        let targets = [Target::app(office365)];
        self.emit(&EventSpec {
            legacy_event_type: Some("app.auth.sso"),
            client: Some(&client),
            authentication: AuthenticationContext {
                authentication_provider: Some("OKTA_AUTHENTICATION_PROVIDER"),
                credential_provider: Some("OKTA_CREDENTIAL_PROVIDER"),
                credential_type: Some("PASSWORD"),
                interface: Some("Outlook"),
                root_session_id: Some("unknown"),
                external_session_id: Some("unknown"),
                ..AuthenticationContext::default()
            },
            request_uri: Some(&uri),
            debug: &[("threatSuspected", DebugValue::Str("false"))],
            targets: Some(&targets),
            ..EventSpec::new(
                at,
                "user.authentication.auth_via_richclient",
                "Authentication of user via Rich Client",
                Actor::User(user),
            )
        });
    }

    /// A user forgets their new password: failed sign-ins until Okta locks the account, then an
    /// unlock (by the help desk, or automatically after an hour) and a normal sign-in.
    fn lockout(&mut self, index: usize, start: DateTime<Utc>) {
        let attempts = self.rng.random_range(5..=6);
        let locked_at = self.failed_sign_ins(index, start, attempts, true);
        let help_desk = self
            .org
            .first_admin(AdminRole::HelpDeskAdmin)
            .map(|admin| admin.user)
            .filter(|_| self.rng.random_bool(0.5));
        let unlocked_at = match help_desk {
            Some(admin) => {
                let at = locked_at + self.pause(15 * 60_000, 80 * 60_000);
                let tasks = [AdminTask::Unlock(index)];
                self.sign_in_session(
                    admin,
                    at,
                    SessionPlan {
                        admin_tasks: &tasks,
                        can_fail: false,
                        ..SessionPlan::default()
                    },
                );
                at + Duration::minutes(3)
            }
            None => {
                let at = locked_at + Duration::minutes(60) + self.pause(0, 30_000);
                let user = &self.org.users[index];
                let targets = [Target::user(user)];
                self.emit(&EventSpec {
                    transaction: TransactionKind::Job,
                    targets: Some(&targets),
                    ..EventSpec::new(
                        at,
                        "user.account.unlock",
                        "Unlock user account",
                        Actor::System(&self.org.system_principal_id),
                    )
                });
                at
            }
        };
        let sign_in = unlocked_at + self.pause(2 * 60_000, 30 * 60_000);
        self.sign_in_session(
            index,
            sign_in,
            SessionPlan {
                can_fail: false,
                ..SessionPlan::default()
            },
        );
    }

    /// The help desk creates and activates a new hire; group rules and app assignments follow as
    /// system jobs; the new hire signs in a few hours later and enrolls their factor.
    fn joiner(&mut self, index: usize) {
        let org = self.org;
        let user = &org.users[index];
        let Some(admin) = org
            .first_admin(AdminRole::HelpDeskAdmin)
            .or_else(|| org.admins.first())
        else {
            return;
        };
        let session_start = user.created - self.pause(3 * 60_000, 8 * 60_000);
        let tasks = [AdminTask::Create(index)];
        self.sign_in_session(
            admin.user,
            session_start,
            SessionPlan {
                admin_tasks: &tasks,
                can_fail: false,
                ..SessionPlan::default()
            },
        );
        let first_sign_in = user.created + self.pause(2 * 3_600_000, 5 * 3_600_000);
        self.sign_in_session(
            index,
            first_sign_in,
            SessionPlan {
                first_sign_in: true,
                can_fail: false,
                ..SessionPlan::default()
            },
        );
    }

    /// An org admin deactivates a leaver; Okta removes their app assignments.
    fn leaver(&mut self, index: usize, at: DateTime<Utc>) {
        let org = self.org;
        let Some(admin) = org
            .first_admin(AdminRole::OrgAdmin)
            .or_else(|| org.admins.first())
        else {
            return;
        };
        if admin.user == index {
            return;
        }
        let session_start = at - self.pause(3 * 60_000, 8 * 60_000);
        let tasks = [AdminTask::Deactivate(index)];
        self.sign_in_session(
            admin.user,
            session_start,
            SessionPlan {
                admin_tasks: &tasks,
                can_fail: false,
                ..SessionPlan::default()
            },
        );
    }

    /// Okta pushing profile changes to downstream apps, spread over the day.
    fn provisioning_pushes(&mut self) {
        let org = self.org;
        if org.users.is_empty() {
            return;
        }
        let midnight = local_time(self.date, Duration::zero(), 0);
        let count = if is_weekend(self.date) {
            org.users.len() / 80
        } else {
            org.users.len() / 25
        };
        for _ in 0..count {
            let at = midnight + self.pause(0, 86_400_000);
            let Some(index) = self.random_user(usize::MAX) else {
                continue;
            };
            let user = &org.users[index];
            // Provisioning reaches the SaaS apps, not the org's own OIDC apps.
            let provisioned: Vec<usize> = user
                .apps
                .iter()
                .copied()
                .filter(|a| {
                    *a > Org::DASHBOARD && org.apps[*a].sign_on_mode != SignOnMode::OpenIdConnect
                })
                .collect();
            if provisioned.is_empty() {
                continue;
            }
            let app = &org.apps[provisioned[self.rng.random_range(0..provisioned.len())]];
            let targets = [
                Target::app_user(user),
                Target::user(user),
                Target::app_plain(app),
            ];
            self.emit(&EventSpec {
                legacy_event_type: Some("app.user_management.push_profile_success"),
                transaction: TransactionKind::Job,
                targets: Some(&targets),
                ..EventSpec::new(
                    at,
                    "app.user_management",
                    "Push user profile update to app",
                    Actor::System(&org.system_principal_id),
                )
            });
        }
    }

    /// The nightly HR import updating a few profiles (weekdays, around 02:00 UTC).
    fn hr_profile_imports(&mut self) {
        let org = self.org;
        if is_weekend(self.date) || org.users.is_empty() {
            return;
        }
        let run = local_time(self.date, Duration::zero(), 2 * 60);
        let count = (org.users.len() / 100).max(1);
        for _ in 0..count {
            let at = run + self.pause(0, 20 * 60_000);
            let Some(index) = self.random_user(usize::MAX) else {
                continue;
            };
            let targets = [Target::user(&org.users[index])];
            self.emit(&EventSpec {
                legacy_event_type: Some("core.user.config.profile_update.success"),
                transaction: TransactionKind::Job,
                targets: Some(&targets),
                ..EventSpec::new(
                    at,
                    "user.account.update_profile",
                    "Update user profile for Okta",
                    Actor::System(&org.system_principal_id),
                )
            });
        }
    }

    /// API service integrations fetching `client_credentials` tokens on their schedule, all day.
    fn service_tokens(&mut self) {
        let org = self.org;
        let midnight = local_time(self.date, Duration::zero(), 0);
        let cloud = &catalog::CLOUD_REGION;
        for (i, service) in org.service_clients.iter().enumerate() {
            let client = Client::new(
                &service.ip,
                &cloud.place,
                &cloud.home_isps[0].isp,
                &service.agent,
                None,
                false,
            );
            let interval = i64::from(service.interval_minutes.max(1));
            let phase = (7 + 13 * i as i64) % interval;
            let mut minute = phase;
            while minute < 24 * 60 {
                let at = midnight + Duration::minutes(minute) + self.pause(0, 40_000);
                let token_id = format!("AT.{}", super::ids::hex(&mut self.rng, 43));
                let expires =
                    (at + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                let detail = [
                    ("expires", expires.as_str()),
                    ("subject", service.id.as_str()),
                ];
                let targets = [Target {
                    id: &token_id,
                    kind: "access_token",
                    alternate_id: "unknown",
                    display_name: "Access Token",
                    detail_entry: &detail,
                    change_details: None,
                }];
                let debug = [
                    ("clientAuthType", DebugValue::Str("private_key_jwt")),
                    ("grantType", DebugValue::Str("client_credentials")),
                    ("grantedScopes", DebugValue::Str(&service.scopes)),
                    ("requestedScopes", DebugValue::Str(&service.scopes)),
                    ("threatSuspected", DebugValue::Str("false")),
                ];
                self.emit(&EventSpec {
                    client: Some(&client),
                    client_id: Some(&service.id),
                    authentication: AuthenticationContext {
                        issuer: Some((&org.id, "AuthorizationServer")),
                        ..AuthenticationContext::default()
                    },
                    request_uri: Some("/oauth2/v1/token"),
                    debug: &debug,
                    targets: Some(&targets),
                    ..EventSpec::new(
                        at,
                        "app.oauth2.token.grant.access_token",
                        "OAuth2 access token is granted",
                        Actor::Other {
                            id: &service.id,
                            kind: "PublicClientApp",
                            alternate_id: &service.id,
                            display_name: &service.name,
                        },
                    )
                });
                minute += interval;
            }
        }
    }
}
