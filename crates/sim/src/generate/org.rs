//! The simulated org: users with home locations, networks and devices; groups; apps; admins.
//! Built once from a seed; the activity stream reads it.

use super::ids;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How to build an org.
#[derive(Debug, Clone)]
pub struct OrgConfig {
    /// The seed: the same config builds the same org and the same activity.
    pub seed: u64,
    /// Number of users.
    pub users: usize,
    /// The org's domain (users' logins end in it).
    pub domain: String,
    /// When the activity starts.
    pub start: chrono::DateTime<chrono::Utc>,
}

impl Default for OrgConfig {
    fn default() -> Self {
        OrgConfig {
            seed: 1,
            users: 500,
            domain: "example.com".into(),
            start: chrono::DateTime::from_timestamp(1_709_251_200, 0).unwrap_or_default(),
        }
    }
}

/// A place users sign in from.
#[derive(Debug, Clone)]
pub struct Place {
    /// City.
    pub city: &'static str,
    /// State or region.
    pub state: &'static str,
    /// Country.
    pub country: &'static str,
    /// Postal code.
    pub postal: &'static str,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// UTC offset in hours (standard time; good enough for working hours).
    pub utc_offset: i64,
}

/// A network: where an IP address comes from.
#[derive(Debug, Clone)]
pub struct Network {
    /// AS number.
    pub asn: u32,
    /// AS organisation.
    pub as_org: &'static str,
    /// ISP.
    pub isp: &'static str,
    /// Reverse domain.
    pub domain: &'static str,
    /// First three octets of its addresses.
    pub prefix: &'static str,
}

/// A browser and OS.
#[derive(Debug, Clone)]
pub struct Agent {
    /// `rawUserAgent`.
    pub raw: &'static str,
    /// `os`.
    pub os: &'static str,
    /// `browser`.
    pub browser: &'static str,
    /// `client.device`.
    pub device: &'static str,
}

/// An admin role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRole {
    /// SUPER_ADMIN.
    SuperAdmin,
    /// ORG_ADMIN.
    OrgAdmin,
    /// HELP_DESK_ADMIN.
    HelpDesk,
}

/// A user of the org.
#[derive(Debug, Clone)]
pub struct User {
    /// `00u…`.
    pub id: String,
    /// Login (email).
    pub login: String,
    /// Display name.
    pub name: String,
    /// Home location index into [`PLACES`].
    pub place: usize,
    /// Home network index into [`NETWORKS`].
    pub network: usize,
    /// Home IP address.
    pub ip: String,
    /// Usual browser index into [`AGENTS`].
    pub agent: usize,
    /// Admin role, if any.
    pub admin: Option<AdminRole>,
    /// Department group index.
    pub group: usize,
}

/// A group.
#[derive(Debug, Clone)]
pub struct Group {
    /// `00g…`.
    pub id: String,
    /// Name.
    pub name: String,
}

/// An app.
#[derive(Debug, Clone)]
pub struct App {
    /// `0oa…`.
    pub id: String,
    /// Display name.
    pub name: &'static str,
    /// Okta's app name (`alternateId`).
    pub key: &'static str,
}

/// The whole directory.
#[derive(Debug, Clone)]
pub struct Org {
    /// How it was built.
    pub config: OrgConfig,
    /// Users; admins first.
    pub users: Vec<User>,
    /// Groups: department groups, then admin groups.
    pub groups: Vec<Group>,
    /// Apps; index 0 is the Okta Admin Console.
    pub apps: Vec<App>,
    /// `spr…` id of the Okta system principal.
    pub system_principal: String,
    /// The org's sign-on policy id and its rule id.
    pub policy: (String, String),
}

/// Places users live.
pub const PLACES: &[Place] = &[
    Place {
        city: "San Francisco",
        state: "California",
        country: "United States",
        postal: "94107",
        lat: 37.7697,
        lon: -122.3933,
        utc_offset: -8,
    },
    Place {
        city: "New York",
        state: "New York",
        country: "United States",
        postal: "10013",
        lat: 40.7209,
        lon: -74.0007,
        utc_offset: -5,
    },
    Place {
        city: "Austin",
        state: "Texas",
        country: "United States",
        postal: "78701",
        lat: 30.2711,
        lon: -97.7437,
        utc_offset: -6,
    },
    Place {
        city: "Chicago",
        state: "Illinois",
        country: "United States",
        postal: "60601",
        lat: 41.8858,
        lon: -87.6229,
        utc_offset: -6,
    },
    Place {
        city: "London",
        state: "England",
        country: "United Kingdom",
        postal: "EC1A",
        lat: 51.5164,
        lon: -0.093,
        utc_offset: 0,
    },
    Place {
        city: "Dublin",
        state: "Leinster",
        country: "Ireland",
        postal: "D02",
        lat: 53.3382,
        lon: -6.2591,
        utc_offset: 0,
    },
    Place {
        city: "Berlin",
        state: "Land Berlin",
        country: "Germany",
        postal: "10115",
        lat: 52.5323,
        lon: 13.3846,
        utc_offset: 1,
    },
    Place {
        city: "Paris",
        state: "Ile-de-France",
        country: "France",
        postal: "75001",
        lat: 48.8625,
        lon: 2.3364,
        utc_offset: 1,
    },
    Place {
        city: "Bengaluru",
        state: "Karnataka",
        country: "India",
        postal: "560001",
        lat: 12.9719,
        lon: 77.5937,
        utc_offset: 5,
    },
    Place {
        city: "Sydney",
        state: "New South Wales",
        country: "Australia",
        postal: "2000",
        lat: -33.8688,
        lon: 151.2093,
        utc_offset: 10,
    },
];

/// ISPs, indexed in step with [`PLACES`] (a user's ISP is in their country).
pub const NETWORKS: &[Network] = &[
    Network {
        asn: 7922,
        as_org: "comcast",
        isp: "comcast cable communications llc",
        domain: "comcast.net",
        prefix: "73.158.21",
    },
    Network {
        asn: 701,
        as_org: "verizon",
        isp: "verizon business",
        domain: "verizon.net",
        prefix: "72.89.114",
    },
    Network {
        asn: 7018,
        as_org: "at&t services  inc.",
        isp: "at&t services inc.",
        domain: "att.net",
        prefix: "99.61.42",
    },
    Network {
        asn: 7922,
        as_org: "comcast",
        isp: "comcast cable communications llc",
        domain: "comcast.net",
        prefix: "98.226.17",
    },
    Network {
        asn: 2856,
        as_org: "british telecommunications plc",
        isp: "bt",
        domain: "bt.com",
        prefix: "86.151.9",
    },
    Network {
        asn: 5466,
        as_org: "eircom limited",
        isp: "eir broadband",
        domain: "eircom.net",
        prefix: "86.44.203",
    },
    Network {
        asn: 3320,
        as_org: "deutsche telekom ag",
        isp: "deutsche telekom ag",
        domain: "t-online.de",
        prefix: "87.138.77",
    },
    Network {
        asn: 3215,
        as_org: "orange s.a.",
        isp: "orange",
        domain: "orange.fr",
        prefix: "90.24.198",
    },
    Network {
        asn: 24560,
        as_org: "bharti airtel ltd.",
        isp: "airtel broadband",
        domain: "airtelbroadband.in",
        prefix: "122.171.53",
    },
    Network {
        asn: 1221,
        as_org: "telstra corporation ltd",
        isp: "telstra internet",
        domain: "telstra.net",
        prefix: "101.181.60",
    },
];

/// Browsers users have.
pub const AGENTS: &[Agent] = &[
    Agent { raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", os: "Mac OS X", browser: "CHROME", device: "Computer" },
    Agent { raw: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", os: "Windows 10", browser: "EDGE_CHROMIUM", device: "Computer" },
    Agent { raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0", os: "Mac OS X", browser: "FIREFOX", device: "Computer" },
    Agent { raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", os: "Mac OS X", browser: "SAFARI", device: "Computer" },
    Agent { raw: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", os: "Windows 10", browser: "CHROME", device: "Computer" },
    Agent { raw: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", os: "iOS", browser: "SAFARI", device: "Mobile" },
];

const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor", "wendy", "xavier",
    "yara", "zoe", "amir", "bea", "chen", "dana", "emeka", "fatima", "goran",
];
const LAST: &[&str] = &[
    "smith", "jones", "garcia", "miller", "davis", "martin", "lopez", "wilson", "anderson",
    "thomas", "moore", "jackson", "white", "harris", "clark", "lewis", "walker", "hall", "young",
    "king", "wright", "scott", "green", "baker", "adams", "nelson", "hill", "campbell",
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Finance",
    "Support",
    "Marketing",
    "People",
];
const APPS: &[(&str, &str)] = &[
    ("Okta Admin Console", "saasure"),
    ("Okta Dashboard", "okta_enduser"),
    ("Microsoft Office 365", "office365"),
    ("Salesforce.com", "salesforce"),
    ("Slack", "slack"),
    ("GitHub Enterprise Cloud", "githubcloud"),
    ("AWS IAM Identity Center", "amazon_aws_sso"),
    ("Zoom", "zoomus"),
    ("Workday", "workday"),
    ("Google Workspace", "google"),
];

impl Org {
    /// Builds the org described by `config`.
    pub fn build(config: &OrgConfig) -> Org {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut groups: Vec<Group> = DEPARTMENTS
            .iter()
            .map(|d| Group {
                id: ids::okta_id(&mut rng, "00g"),
                name: d.to_string(),
            })
            .collect();
        for admin_group in ["Okta Admins", "Help Desk"] {
            groups.push(Group {
                id: ids::okta_id(&mut rng, "00g"),
                name: admin_group.to_string(),
            });
        }
        let mut users = Vec::with_capacity(config.users);
        let mut taken = std::collections::HashSet::new();
        for i in 0..config.users {
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            let mut login = format!("{first}.{last}@{}", config.domain);
            if !taken.insert(login.clone()) {
                login = format!("{first}.{last}{i}@{}", config.domain);
                taken.insert(login.clone());
            }
            let place = rng.random_range(0..PLACES.len());
            let admin = match i {
                0 => Some(AdminRole::SuperAdmin),
                1 | 2 => Some(AdminRole::OrgAdmin),
                3..=5 => Some(AdminRole::HelpDesk),
                _ => None,
            };
            users.push(User {
                id: ids::okta_id(&mut rng, "00u"),
                name: format!("{} {}", capitalise(first), capitalise(last)),
                login,
                place,
                network: place,
                ip: format!("{}.{}", NETWORKS[place].prefix, rng.random_range(2..254)),
                agent: rng.random_range(0..AGENTS.len()),
                admin,
                group: rng.random_range(0..DEPARTMENTS.len()),
            });
        }
        let apps = APPS
            .iter()
            .map(|(name, key)| App {
                id: ids::okta_id(&mut rng, "0oa"),
                name,
                key,
            })
            .collect();
        Org {
            config: config.clone(),
            users,
            groups,
            apps,
            system_principal: ids::okta_id(&mut rng, "spr"),
            policy: (ids::okta_id(&mut rng, "00p"), ids::okta_id(&mut rng, "0pr")),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
