//! The directory of the simulated org: users (with a home city, time zone, ISP, home address,
//! browser, phone, enrolled factor and Okta Verify device), groups, apps and API service clients,
//! admins, offices and network zones, the sign-on policy and authorization server. [`Org::build`]
//! makes it from an [`OrgConfig`] alone, so the same config always gives the same org; the
//! activity stream, attack scenarios and directory APIs all read it.

use super::catalog::{self, Audience, IspEntry};
use super::ids;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::collections::HashSet;

/// How to build an org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgConfig {
    /// The seed: the same config builds the same org and the same activity.
    pub seed: u64,
    /// Number of users (admins included).
    pub users: usize,
    /// When activity starts; users' creation dates, joiners and leavers are placed around it.
    pub start: DateTime<Utc>,
    /// The company's name.
    pub company: String,
    /// The email domain of users' logins.
    pub email_domain: String,
    /// The Okta org's host name (`{subdomain}.okta.com`).
    pub okta_domain: String,
}

impl Default for OrgConfig {
    fn default() -> Self {
        OrgConfig {
            seed: 1,
            users: 500,
            start: DateTime::from_timestamp(1_709_251_200, 0).unwrap_or_default(), // 2024-03-01
            company: "Example Corp".into(),
            email_domain: "example.com".into(),
            okta_domain: "example.okta.com".into(),
        }
    }
}

/// A location as Okta's `geographicalContext` shows it, with its time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// `city`.
    pub city: Cow<'static, str>,
    /// `state` (region).
    pub state: Cow<'static, str>,
    /// `country`.
    pub country: Cow<'static, str>,
    /// `postalCode` (a string, as in real events).
    pub postal_code: Cow<'static, str>,
    /// `geolocation.lat`.
    pub lat: f64,
    /// `geolocation.lon`.
    pub lon: f64,
    /// Offset of local time from UTC, in minutes (standard time; no daylight saving).
    pub utc_offset_minutes: i32,
}

impl Place {
    /// A place from static text (for const tables).
    pub const fn new_static(
        city: &'static str,
        state: &'static str,
        country: &'static str,
        postal_code: &'static str,
        lat: f64,
        lon: f64,
        utc_offset_minutes: i32,
    ) -> Place {
        Place {
            city: Cow::Borrowed(city),
            state: Cow::Borrowed(state),
            country: Cow::Borrowed(country),
            postal_code: Cow::Borrowed(postal_code),
            lat,
            lon,
            utc_offset_minutes,
        }
    }

    /// The offset of local time from UTC.
    pub fn utc_offset(&self) -> Duration {
        Duration::minutes(i64::from(self.utc_offset_minutes))
    }
}

/// A network operator as Okta's `securityContext` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isp {
    /// `asNumber`.
    pub asn: u32,
    /// `asOrg`.
    pub as_org: Cow<'static, str>,
    /// `isp`.
    pub isp: Cow<'static, str>,
    /// `domain`.
    pub domain: Cow<'static, str>,
}

impl Isp {
    /// An ISP from static text (for const tables).
    pub const fn new_static(
        asn: u32,
        as_org: &'static str,
        isp: &'static str,
        domain: &'static str,
    ) -> Isp {
        Isp {
            asn,
            as_org: Cow::Borrowed(as_org),
            isp: Cow::Borrowed(isp),
            domain: Cow::Borrowed(domain),
        }
    }
}

/// An HTTP client as Okta's `client.userAgent` and `client.device` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// `userAgent.rawUserAgent`.
    pub raw_user_agent: Cow<'static, str>,
    /// `userAgent.os`.
    pub os: Cow<'static, str>,
    /// `userAgent.browser`.
    pub browser: Cow<'static, str>,
    /// `client.device` (`Computer`, `Mobile`, `Unknown`).
    pub device_type: Cow<'static, str>,
}

impl Agent {
    /// An agent from static text (for const tables).
    pub const fn new_static(
        raw_user_agent: &'static str,
        os: &'static str,
        browser: &'static str,
        device_type: &'static str,
    ) -> Agent {
        Agent {
            raw_user_agent: Cow::Borrowed(raw_user_agent),
            os: Cow::Borrowed(os),
            browser: Cow::Borrowed(browser),
            device_type: Cow::Borrowed(device_type),
        }
    }
}

/// An Okta Verify–registered device: the top-level `device` of OIE sign-in events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// `guo…` id.
    pub id: String,
    /// Model name, e.g. `MacBookPro18,3`.
    pub name: String,
    /// `OSX`, `WINDOWS`.
    pub os_platform: String,
    /// OS version.
    pub os_version: String,
    /// Managed by MDM.
    pub managed: bool,
    /// `BIOMETRIC` or `PASSCODE`.
    pub screen_lock_type: String,
}

/// The second factor a user signs in with (`debugData.factor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    /// Okta Verify push to the phone; logs `system.push.send_factor_verify_push`.
    OktaVerifyPush,
    /// Okta FastPass on a registered device (`SIGNED_NONCE`), no password.
    FastPass,
    /// A security key or platform authenticator.
    WebAuthn,
    /// A TOTP code from Google Authenticator.
    GoogleOtp,
}

impl Factor {
    /// The `debugData.factor` value.
    pub fn debug_name(self) -> &'static str {
        match self {
            Factor::OktaVerifyPush => "OKTA_VERIFY_PUSH",
            Factor::FastPass => "SIGNED_NONCE",
            Factor::WebAuthn => "FIDO_WEBAUTHN",
            Factor::GoogleOtp => "GOOGLE_OTP",
        }
    }

    /// The authenticator's display name (`AuthenticatorEnrollment` target).
    pub fn authenticator_name(self) -> &'static str {
        match self {
            Factor::OktaVerifyPush | Factor::FastPass => "Okta Verify",
            Factor::WebAuthn => "Security Key or Biometric",
            Factor::GoogleOtp => "Google Authenticator",
        }
    }

    /// `detailEntry.methodTypeUsed` of the enrollment target.
    pub fn method_name(self) -> &'static str {
        match self {
            Factor::OktaVerifyPush => "Get a push notification",
            Factor::FastPass => "Use Okta FastPass",
            Factor::WebAuthn => "Use Security Key or Biometric",
            Factor::GoogleOtp => "Enter a code",
        }
    }
}

/// An Okta admin role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdminRole {
    /// `SUPER_ADMIN`.
    SuperAdmin,
    /// `ORG_ADMIN`.
    OrgAdmin,
    /// `HELP_DESK_ADMIN`.
    HelpDeskAdmin,
}

impl AdminRole {
    /// The API role type.
    pub fn api_type(self) -> &'static str {
        match self {
            AdminRole::SuperAdmin => "SUPER_ADMIN",
            AdminRole::OrgAdmin => "ORG_ADMIN",
            AdminRole::HelpDeskAdmin => "HELP_DESK_ADMIN",
        }
    }

    /// The label the System Log uses (`privilegeGranted`).
    pub fn label(self) -> &'static str {
        match self {
            AdminRole::SuperAdmin => "Super administrator",
            AdminRole::OrgAdmin => "Organization administrator",
            AdminRole::HelpDeskAdmin => "Help Desk administrator",
        }
    }
}

/// A user of the org.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// `00u…`.
    pub id: String,
    /// Login and primary email.
    pub login: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `displayName` in events.
    pub display_name: String,
    /// Index into [`Org::groups`] of the user's department group.
    pub department: usize,
    /// When the account was created (after the start for joiners).
    pub created: DateTime<Utc>,
    /// When an admin deactivates the account (leavers), if ever.
    pub deactivated: Option<DateTime<Utc>>,
    /// Where the user lives; its offset is the user's time zone.
    pub home: Place,
    /// The home broadband provider.
    pub home_isp: Isp,
    /// The home IP address.
    pub home_ip: String,
    /// The mobile carrier.
    pub mobile_isp: Isp,
    /// Index into [`Org::offices`] if the user works from an office some days.
    pub office: Option<usize>,
    /// The laptop's browser.
    pub computer: Agent,
    /// The phone's browser.
    pub phone: Agent,
    /// The laptop registered in Okta Verify (FastPass users).
    pub device: Option<Device>,
    /// `debugData.deviceFingerprint` of the laptop browser.
    pub device_fingerprint: String,
    /// `debugData.dtHash`: hash of the laptop browser's device token.
    pub device_token_hash: String,
    /// `debugData.deviceFingerprint` of the phone browser.
    pub phone_fingerprint: String,
    /// `debugData.dtHash` of the phone browser (its own device token).
    pub phone_token_hash: String,
    /// The second factor the user signs in with.
    pub factor: Factor,
    /// Id of the password authenticator enrollment (`lae…`).
    pub password_enrollment_id: String,
    /// Id of the second factor's enrollment.
    pub factor_enrollment_id: String,
    /// When the working day starts, local minutes after midnight.
    pub workday_start_minute: u32,
    /// Indices into [`Org::apps`] of the apps assigned to the user.
    pub apps: Vec<usize>,
    /// The user's admin role, if any.
    pub admin_role: Option<AdminRole>,
    pub(crate) region: usize,
}

impl User {
    /// Whether the account exists and is active for some of local date `date`.
    pub fn is_active_on(&self, date: NaiveDate) -> bool {
        self.created.date_naive() < date && self.deactivated.is_none_or(|t| t.date_naive() >= date)
    }

    /// Whether the account is active at `at`.
    pub fn is_active_at(&self, at: DateTime<Utc>) -> bool {
        self.created <= at && self.deactivated.is_none_or(|t| at < t)
    }
}

/// What a group is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// Okta's built-in group of all users.
    Everyone,
    /// A department (membership by group rule).
    Department,
    /// Members hold an admin role.
    Admin(AdminRole),
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `00g…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// What it is for.
    pub kind: GroupKind,
}

/// How an app signs users in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOnMode {
    /// SAML 2.0.
    Saml2,
    /// WS-Federation (Office 365).
    WsFederation,
    /// OpenID Connect.
    OpenIdConnect,
}

impl SignOnMode {
    /// The API value, as in `detailEntry.signOnModeType`.
    pub fn api_name(self) -> &'static str {
        match self {
            SignOnMode::Saml2 => "SAML_2_0",
            SignOnMode::WsFederation => "WS_FEDERATION",
            SignOnMode::OpenIdConnect => "OPENID_CONNECT",
        }
    }
}

/// An app integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// `0oa…`; also the OAuth `client_id` of OIDC apps.
    pub id: String,
    /// The admin-given label (`alternateId` of `AppInstance` targets).
    pub label: String,
    /// The catalog name (`displayName`).
    pub name: String,
    /// Okta's app name, used in SSO URLs (`/app/{key}/{id}/sso/saml`).
    pub key: String,
    /// How it signs users in.
    pub sign_on_mode: SignOnMode,
    /// How often an assigned user opens it (relative weight).
    pub popularity: u32,
}

/// An API service integration authenticating with `client_credentials`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceClient {
    /// `0oa…` client id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Scopes it requests.
    pub scopes: String,
    /// Minutes between token requests.
    pub interval_minutes: u32,
    /// The server's IP address.
    pub ip: String,
    /// Its HTTP client.
    pub agent: Agent,
}

/// A user holding an admin role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin {
    /// Index into [`Org::users`].
    pub user: usize,
    /// The role.
    pub role: AdminRole,
}

/// A network zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkZone {
    /// `nzo…`.
    pub id: String,
    /// Name (shown as `client.zone` for requests from its gateways).
    pub name: String,
    /// `IP` or `DYNAMIC_V2`.
    pub kind: String,
    /// `POLICY` or `BLOCKLIST`.
    pub usage: String,
    /// Gateway CIDRs.
    pub gateways: Vec<String>,
}

/// An office: staff who live in its city work there on some weekdays.
#[derive(Debug, Clone, PartialEq)]
pub struct Office {
    /// Name.
    pub name: String,
    /// Where it is.
    pub place: Place,
    /// Its business internet provider.
    pub isp: Isp,
    /// Its egress IP addresses (gateways of the office zone).
    pub egress_ips: Vec<String>,
    /// Index into [`Org::zones`] of the zone its egress IPs are in.
    pub zone: usize,
}

/// A rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// `0pr…`.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A policy with its rules (evaluated first to last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `00p…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// `detailEntry.policyType`, e.g. `OktaSignOn`.
    pub policy_type: String,
    /// Rules.
    pub rules: Vec<PolicyRule>,
}

/// A custom authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationServer {
    /// `aus…`.
    pub id: String,
    /// Name.
    pub name: String,
}

/// The whole directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    /// How it was built.
    pub config: OrgConfig,
    /// The org's id (`00o…`).
    pub id: String,
    /// Users; admins first.
    pub users: Vec<User>,
    /// Groups: Everyone, departments, then admin groups.
    pub groups: Vec<Group>,
    /// Apps; [`Org::ADMIN_CONSOLE`] and [`Org::DASHBOARD`] first.
    pub apps: Vec<App>,
    /// API service integrations.
    pub service_clients: Vec<ServiceClient>,
    /// Admins, super admin first.
    pub admins: Vec<Admin>,
    /// Network zones.
    pub zones: Vec<NetworkZone>,
    /// Offices.
    pub offices: Vec<Office>,
    /// The global session (Okta sign-on) policy.
    pub sign_on_policy: Policy,
    /// The custom authorization server OIDC apps use.
    pub authorization_server: AuthorizationServer,
    /// Id of the `system@okta.com` principal (`spr…`).
    pub system_principal_id: String,
    /// Authentication (app sign-in, `ACCESS_POLICY`) policies: [`Org::ADMIN_CONSOLE_POLICY`]
    /// guards the Admin Console, [`Org::DEFAULT_ACCESS_POLICY`] every other app.
    pub authentication_policies: Vec<Policy>,
}

impl Org {
    /// Index of the Okta Admin Console in [`Org::apps`].
    pub const ADMIN_CONSOLE: usize = 0;
    /// Index of the Okta End-User Dashboard in [`Org::apps`].
    pub const DASHBOARD: usize = 1;
    /// Index of the Everyone group in [`Org::groups`].
    pub const EVERYONE: usize = 0;
    /// Index of the Admin Console's authentication policy in [`Org::authentication_policies`].
    pub const ADMIN_CONSOLE_POLICY: usize = 0;
    /// Index of the default app authentication policy in [`Org::authentication_policies`].
    pub const DEFAULT_ACCESS_POLICY: usize = 1;

    /// Builds the org described by `config`; depends on nothing else.
    pub fn build(config: &OrgConfig) -> Org {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let id = ids::okta_id(&mut rng, "00o");
        let system_principal_id = ids::okta_id(&mut rng, "spr");

        let mut groups = vec![Group {
            id: ids::okta_id(&mut rng, "00g"),
            name: "Everyone".into(),
            kind: GroupKind::Everyone,
        }];
        let first_department = groups.len();
        for (name, _) in catalog::DEPARTMENTS {
            groups.push(Group {
                id: ids::okta_id(&mut rng, "00g"),
                name: (*name).into(),
                kind: GroupKind::Department,
            });
        }
        let roles = [
            AdminRole::SuperAdmin,
            AdminRole::OrgAdmin,
            AdminRole::HelpDeskAdmin,
        ];
        for (name, role) in catalog::ADMIN_GROUPS.iter().zip(roles) {
            groups.push(Group {
                id: ids::okta_id(&mut rng, "00g"),
                name: (*name).into(),
                kind: GroupKind::Admin(role),
            });
        }

        let apps: Vec<App> = catalog::APPS
            .iter()
            .map(|entry| App {
                id: ids::okta_id(&mut rng, "0oa"),
                label: entry.label.into(),
                name: entry.name.into(),
                key: entry.key.into(),
                sign_on_mode: entry.sign_on_mode,
                popularity: entry.popularity,
            })
            .collect();

        let cloud = &catalog::CLOUD_REGION;
        let service_clients = catalog::SERVICE_CLIENTS
            .iter()
            .enumerate()
            .map(|(i, (name, scopes, interval))| ServiceClient {
                id: ids::okta_id(&mut rng, "0oa"),
                name: (*name).into(),
                scopes: (*scopes).into(),
                interval_minutes: *interval,
                ip: random_ip(&mut rng, &cloud.home_isps[0]),
                agent: catalog::SERVICE_AGENTS[i % catalog::SERVICE_AGENTS.len()].clone(),
            })
            .collect();

        let mut zones = vec![
            zone(&mut rng, "LegacyIpZone", "IP", "POLICY", Vec::new()),
            zone(&mut rng, "BlockedIpZone", "IP", "BLOCKLIST", Vec::new()),
            zone(
                &mut rng,
                "DefaultEnhancedDynamicZone",
                "DYNAMIC_V2",
                "BLOCKLIST",
                Vec::new(),
            ),
        ];
        let office_zone = zones.len();
        let mut offices = Vec::new();
        let mut gateways = Vec::new();
        for entry in catalog::OFFICES {
            let [a, b] = entry.isp.blocks[0];
            let c: u8 = rng.random_range(1..=254);
            let egress_ips = (0..2).map(|i| format!("{a}.{b}.{c}.{}", 10 + i)).collect();
            gateways.push(format!("{a}.{b}.{c}.8/29"));
            offices.push(Office {
                name: entry.name.into(),
                place: catalog::REGIONS[entry.region].place.clone(),
                isp: entry.isp.isp.clone(),
                egress_ips,
                zone: office_zone,
            });
        }
        zones.push(zone(
            &mut rng,
            "Corporate Offices",
            "IP",
            "POLICY",
            gateways,
        ));

        let sign_on_policy = Policy {
            id: ids::okta_id(&mut rng, "00p"),
            name: "Default Policy".into(),
            policy_type: "OktaSignOn".into(),
            rules: vec![
                PolicyRule {
                    id: ids::okta_id(&mut rng, "0pr"),
                    name: "Require MFA".into(),
                },
                PolicyRule {
                    id: ids::okta_id(&mut rng, "0pr"),
                    name: "Default Rule".into(),
                },
            ],
        };
        let authorization_server = AuthorizationServer {
            id: ids::okta_id(&mut rng, "aus"),
            name: "default".into(),
        };

        let admin_roles = admin_roles(config.users);
        let admins: Vec<Admin> = admin_roles
            .iter()
            .enumerate()
            .map(|(user, role)| Admin { user, role: *role })
            .collect();
        let mut users = Vec::with_capacity(config.users);
        let mut logins = HashSet::new();
        for index in 0..config.users {
            let admin_role = admin_roles.get(index).copied();
            users.push(build_user(
                &mut rng,
                config,
                first_department,
                &apps,
                admin_role,
                &mut logins,
            ));
        }
        place_joiners_and_leavers(&mut rng, config, &mut users, &admins);
        // Drawn from a stream of their own so adding them left every earlier id unchanged.
        let mut extra = ChaCha8Rng::seed_from_u64(config.seed);
        extra.set_stream(1 << 40);
        let authentication_policies = authentication_policies(&mut extra);
        for user in &mut users {
            user.phone_fingerprint = ids::hex(&mut extra, 32);
            user.phone_token_hash = ids::hex(&mut extra, 64);
        }

        Org {
            config: config.clone(),
            id,
            users,
            groups,
            apps,
            service_clients,
            admins,
            zones,
            offices,
            sign_on_policy,
            authorization_server,
            system_principal_id,
            authentication_policies,
        }
    }

    /// The Okta Admin Console app.
    pub fn admin_console(&self) -> &App {
        &self.apps[Org::ADMIN_CONSOLE]
    }

    /// The Okta End-User Dashboard app.
    pub fn dashboard(&self) -> &App {
        &self.apps[Org::DASHBOARD]
    }

    /// The app with Okta app name `key` (e.g. `office365`).
    pub fn app_by_key(&self, key: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.key == key)
    }

    /// The user with id `id`.
    pub fn user_by_id(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The admin holding `role` listed first, if any.
    pub fn first_admin(&self, role: AdminRole) -> Option<&Admin> {
        self.admins.iter().find(|a| a.role == role)
    }
}

/// The Admin Console's authentication policy and the default policy of the other apps.
fn authentication_policies(rng: &mut ChaCha8Rng) -> Vec<Policy> {
    let mut policy = |name: &str, rules: &[&str]| Policy {
        id: ids::okta_id(rng, "rst"),
        name: name.into(),
        policy_type: "AccessPolicy".into(),
        rules: rules
            .iter()
            .map(|rule| PolicyRule {
                id: ids::okta_id(rng, "rul"),
                name: (*rule).into(),
            })
            .collect(),
    };
    vec![
        policy(
            "Okta Admin Console",
            &["Admins: phishing-resistant MFA", "Catch-all Rule"],
        ),
        policy("Default Policy", &["Catch-all Rule"]),
    ]
}

/// Where a user is on a local date with respect to business trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripDay {
    /// At home (or the office).
    Home,
    /// Flying out (the Sunday before and the Monday of a trip week) or back (its Friday): no
    /// sign-ins, so no sign-in is ever an impossible journey away from the previous one.
    Travelling,
    /// Tuesday to Thursday of a trip week, in this region (index into the catalog's regions).
    Away(usize),
}

/// About one week in 80 an ordinary user who joined before the start is on a business trip
/// (decided by a hash of the seed, the user and the ISO week, so every day agrees).
pub fn trip_day(org: &Org, user_index: usize, date: NaiveDate) -> TripDay {
    let Some(user) = org.users.get(user_index) else {
        return TripDay::Home;
    };
    if user.admin_role.is_some() || user.created > org.config.start {
        return TripDay::Home;
    }
    let destination = |week_date: NaiveDate| -> Option<usize> {
        let week = week_date.iso_week();
        let mut h = org.config.seed ^ 0x9e37_79b9_7f4a_7c15;
        for part in [
            user_index as u64,
            u64::from(week.week()),
            week.year() as u64,
        ] {
            h ^= part;
            h = h.wrapping_mul(0x0100_0000_01b3).rotate_left(29);
        }
        h ^= h >> 31;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        if !h.is_multiple_of(80) {
            return None;
        }
        let region = ((h >> 20) % catalog::REGIONS.len() as u64) as usize;
        (region != user.region).then_some(region)
    };
    match date.weekday() {
        Weekday::Sun => match destination(date + Duration::days(1)) {
            Some(_) => TripDay::Travelling,
            None => TripDay::Home,
        },
        Weekday::Sat => TripDay::Home,
        Weekday::Mon | Weekday::Fri => match destination(date) {
            Some(_) => TripDay::Travelling,
            None => TripDay::Home,
        },
        _ => destination(date).map_or(TripDay::Home, TripDay::Away),
    }
}

/// Roles of the first users: one super admin, two org admins, and help desk admins (one per 150
/// users, at least two), as far as the org has users.
fn admin_roles(users: usize) -> Vec<AdminRole> {
    let help_desk = (users / 150).max(2);
    let mut roles = vec![
        AdminRole::SuperAdmin,
        AdminRole::OrgAdmin,
        AdminRole::OrgAdmin,
    ];
    roles.extend(std::iter::repeat_n(AdminRole::HelpDeskAdmin, help_desk));
    roles.truncate(users);
    roles
}

fn zone(
    rng: &mut ChaCha8Rng,
    name: &str,
    kind: &str,
    usage: &str,
    gateways: Vec<String>,
) -> NetworkZone {
    NetworkZone {
        id: ids::okta_id(rng, "nzo"),
        name: name.into(),
        kind: kind.into(),
        usage: usage.into(),
        gateways,
    }
}

/// A random address in one of `isp`'s blocks.
pub(crate) fn random_ip(rng: &mut impl Rng, isp: &IspEntry) -> String {
    let [a, b] = isp.blocks[rng.random_range(0..isp.blocks.len())];
    let c: u8 = rng.random_range(0..=255);
    let d: u8 = rng.random_range(1..=254);
    format!("{a}.{b}.{c}.{d}")
}

/// Picks an index with probability proportional to `weight`.
pub(crate) fn weighted<T>(rng: &mut impl Rng, items: &[T], weight: impl Fn(&T) -> u32) -> usize {
    let total: u32 = items.iter().map(&weight).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if pick < w {
            return i;
        }
        pick -= w;
    }
    items.len().saturating_sub(1)
}

fn build_user(
    rng: &mut ChaCha8Rng,
    config: &OrgConfig,
    first_department: usize,
    apps: &[App],
    admin_role: Option<AdminRole>,
    logins: &mut HashSet<String>,
) -> User {
    let first_name = catalog::FIRST_NAMES[rng.random_range(0..catalog::FIRST_NAMES.len())];
    let last_name = catalog::LAST_NAMES[rng.random_range(0..catalog::LAST_NAMES.len())];
    let local_part = format!(
        "{}.{}",
        first_name.to_lowercase(),
        last_name.to_lowercase().replace('\'', "")
    );
    let mut login = format!("{local_part}@{}", config.email_domain);
    let mut n = 2;
    while !logins.insert(login.clone()) {
        login = format!("{local_part}{n}@{}", config.email_domain);
        n += 1;
    }

    let department_index = if admin_role.is_some() {
        catalog::DEPARTMENTS
            .iter()
            .position(|(name, _)| *name == "IT")
            .unwrap_or(0)
    } else {
        weighted(rng, catalog::DEPARTMENTS, |(_, w)| *w)
    };
    let department_name = catalog::DEPARTMENTS[department_index].0;

    let region_index = weighted(rng, catalog::REGIONS, |r| r.weight);
    let region = &catalog::REGIONS[region_index];
    let home_isp = &region.home_isps[rng.random_range(0..region.home_isps.len())];
    let office = catalog::OFFICES
        .iter()
        .position(|o| o.region == region_index)
        .filter(|_| rng.random_bool(0.7));

    let computer = catalog::COMPUTER_AGENTS[weighted(rng, catalog::COMPUTER_AGENTS, |(_, w)| *w)]
        .0
        .clone();
    let phone = catalog::PHONE_AGENTS[weighted(rng, catalog::PHONE_AGENTS, |(_, w)| *w)]
        .0
        .clone();
    let models = match computer.os.as_ref() {
        "Mac OS X" => Some((catalog::MAC_MODELS, "OSX")),
        "Windows 10" => Some((catalog::WINDOWS_MODELS, "WINDOWS")),
        _ => None,
    };
    let roll: f64 = rng.random();
    let factor = match (models.is_some(), roll) {
        (true, r) if r < 0.30 => Factor::FastPass,
        (_, r) if r < 0.85 => Factor::OktaVerifyPush,
        (_, r) if r < 0.95 => Factor::WebAuthn,
        _ => Factor::GoogleOtp,
    };
    let device = match (factor, models) {
        (Factor::FastPass, Some((models, platform))) => {
            let (name, version) = models[rng.random_range(0..models.len())];
            Some(Device {
                id: ids::okta_id(rng, "guo"),
                name: name.into(),
                os_platform: platform.into(),
                os_version: version.into(),
                managed: rng.random_bool(0.6),
                screen_lock_type: if rng.random_bool(0.8) {
                    "BIOMETRIC"
                } else {
                    "PASSCODE"
                }
                .into(),
            })
        }
        _ => None,
    };
    let enrollment_prefix = match factor {
        Factor::OktaVerifyPush | Factor::FastPass => "pfd",
        Factor::WebAuthn => "fwf",
        Factor::GoogleOtp => "uft",
    };

    let user_apps = apps
        .iter()
        .zip(catalog::APPS)
        .enumerate()
        .filter(|(_, (_, entry))| match entry.audience {
            Audience::Admins => admin_role.is_some(),
            Audience::Everyone => true,
            Audience::Departments(list) => {
                list.contains(&department_name)
                    || (admin_role.is_some() && entry.key == "amazon_aws_sso")
            }
        })
        .map(|(i, _)| i)
        .collect();

    User {
        id: ids::okta_id(rng, "00u"),
        first_name: first_name.into(),
        last_name: last_name.into(),
        display_name: format!("{first_name} {last_name}"),
        login,
        department: first_department + department_index,
        created: config.start - Duration::days(rng.random_range(60..1500))
            + Duration::seconds(rng.random_range(0..86_400)),
        deactivated: None,
        home: region.place.clone(),
        home_isp: home_isp.isp.clone(),
        home_ip: random_ip(rng, home_isp),
        mobile_isp: region.mobile_isp.isp.clone(),
        office,
        computer,
        phone,
        device,
        device_fingerprint: ids::hex(rng, 32),
        device_token_hash: ids::hex(rng, 64),
        // Filled from the org's second stream (see `Org::build`).
        phone_fingerprint: String::new(),
        phone_token_hash: String::new(),
        factor,
        password_enrollment_id: ids::okta_id(rng, "lae"),
        factor_enrollment_id: ids::okta_id(rng, enrollment_prefix),
        workday_start_minute: rng.random_range(450..600),
        apps: user_apps,
        admin_role,
        region: region_index,
    }
}

/// Makes about 3% of ordinary users joiners (created by the help desk on a weekday in the first
/// six weeks) and about 2% leavers (deactivated on a weekday afternoon in the first nine weeks).
/// Times are in the help desk's working hours.
fn place_joiners_and_leavers(
    rng: &mut ChaCha8Rng,
    config: &OrgConfig,
    users: &mut [User],
    admins: &[Admin],
) {
    let desk_offset = admins
        .iter()
        .rev()
        .map(|a| users[a.user].home.utc_offset())
        .next()
        .unwrap_or_default();
    let start_date = config.start.date_naive();
    let first_ordinary = admins.len();
    for user in users.iter_mut().skip(first_ordinary) {
        let roll: f64 = rng.random();
        if roll < 0.03 {
            let date = weekday_on_or_after(start_date + Duration::days(rng.random_range(1..42)));
            user.created = local_time(
                date,
                desk_offset,
                rng.random_range(9 * 60 + 30..11 * 60 + 30),
            );
        } else if roll < 0.05 {
            let date = weekday_on_or_after(start_date + Duration::days(rng.random_range(2..63)));
            user.deactivated = Some(local_time(
                date,
                desk_offset,
                rng.random_range(15 * 60..17 * 60 + 30),
            ));
        }
    }
}

fn weekday_on_or_after(mut date: NaiveDate) -> NaiveDate {
    while matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        date += Duration::days(1);
    }
    date
}

/// The UTC instant of local `minute` after midnight of `date` at `offset` from UTC.
pub(crate) fn local_time(date: NaiveDate, offset: Duration, minute: u32) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    midnight + Duration::minutes(i64::from(minute)) - offset
}
