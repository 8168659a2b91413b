//! The fixed world the simulated org lives in: cities with their time zones and coordinates, the
//! home and mobile ISPs of each country (real AS numbers and the lower-case names Okta's
//! `securityContext` shows), office egress networks, browsers, Okta Verify device models, people's
//! names, departments and the app catalog. Pure data; [`super::org`] draws from it with the RNG.

use super::org::{Agent, Isp, Place, SignOnMode};

/// An ISP and the /16 blocks its customers' addresses come from.
pub(crate) struct IspEntry {
    pub isp: Isp,
    pub blocks: &'static [[u8; 2]],
}

/// A city people live in, how common it is among staff, and its country's networks.
pub(crate) struct Region {
    pub place: Place,
    pub weight: u32,
    pub home_isps: &'static [IspEntry],
    pub mobile_isp: &'static IspEntry,
}

/// An office: staff living in its city work there on some weekdays.
pub(crate) struct OfficeEntry {
    pub name: &'static str,
    pub region: usize,
    pub isp: IspEntry,
}

const fn isp(
    asn: u32,
    as_org: &'static str,
    isp: &'static str,
    domain: &'static str,
    blocks: &'static [[u8; 2]],
) -> IspEntry {
    IspEntry {
        isp: Isp::new_static(asn, as_org, isp, domain),
        blocks,
    }
}

#[allow(clippy::too_many_arguments)]
const fn region(
    city: &'static str,
    state: &'static str,
    country: &'static str,
    postal_code: &'static str,
    lat: f64,
    lon: f64,
    utc_offset_minutes: i32,
    weight: u32,
    home_isps: &'static [IspEntry],
    mobile_isp: &'static IspEntry,
) -> Region {
    Region {
        place: Place::new_static(
            city,
            state,
            country,
            postal_code,
            lat,
            lon,
            utc_offset_minutes,
        ),
        weight,
        home_isps,
        mobile_isp,
    }
}

const US_HOME: &[IspEntry] = &[
    isp(
        7922,
        "comcast",
        "comcast cable communications llc",
        "comcast.net",
        &[[73, 158], [98, 207], [24, 6]],
    ),
    isp(
        701,
        "verizon",
        "verizon fios",
        "verizon.net",
        &[[71, 105], [108, 46], [72, 89]],
    ),
    isp(
        7018,
        "at&t services  inc.",
        "at&t corp.",
        "sbcglobal.net",
        &[[99, 61], [107, 194], [75, 18]],
    ),
    isp(
        20115,
        "charter communications",
        "charter communications inc",
        "spectrum.com",
        &[[47, 144], [66, 215]],
    ),
    isp(
        22773,
        "cox communications inc.",
        "cox communications",
        "cox.net",
        &[[68, 104], [70, 176]],
    ),
];
const US_MOBILE: &IspEntry = &isp(
    21928,
    "t-mobile usa  inc.",
    "t-mobile usa inc.",
    "tmodns.net",
    &[[172, 56], [172, 58]],
);
const CA_HOME: &[IspEntry] = &[
    isp(
        812,
        "rogers communications canada inc.",
        "rogers cable",
        "rogers.com",
        &[[99, 224], [174, 114]],
    ),
    isp(
        577,
        "bell canada",
        "bell canada",
        "bell.ca",
        &[[142, 112], [70, 49]],
    ),
];
const CA_MOBILE: &IspEntry = &isp(
    22652,
    "fibrenoire-internet",
    "telus mobility",
    "telus.com",
    &[[184, 151]],
);
const UK_HOME: &[IspEntry] = &[
    isp(
        2856,
        "british telecommunications plc",
        "bt",
        "bt.com",
        &[[86, 128], [81, 151]],
    ),
    isp(
        5089,
        "virgin media limited",
        "virgin media",
        "virginm.net",
        &[[82, 1], [86, 2]],
    ),
    isp(
        5607,
        "sky uk limited",
        "sky broadband",
        "sky.com",
        &[[90, 192], [2, 96]],
    ),
];
const UK_MOBILE: &IspEntry = &isp(
    12576,
    "ee limited",
    "ee mobile",
    "ee.co.uk",
    &[[31, 94], [92, 40]],
);
const IE_HOME: &[IspEntry] = &[
    isp(
        5466,
        "eircom limited",
        "eir broadband",
        "eircom.net",
        &[[86, 44], [79, 97]],
    ),
    isp(
        6830,
        "liberty global b.v.",
        "virgin media ireland",
        "virginmedia.ie",
        &[[89, 100]],
    ),
];
const IE_MOBILE: &IspEntry = &isp(
    15502,
    "vodafone ireland limited",
    "vodafone ireland",
    "vodafone.ie",
    &[[37, 228]],
);
const DE_HOME: &[IspEntry] = &[
    isp(
        3320,
        "deutsche telekom ag",
        "deutsche telekom ag",
        "t-ipconnect.de",
        &[[79, 192], [87, 138]],
    ),
    isp(
        3209,
        "vodafone gmbh",
        "vodafone germany",
        "vodafone.de",
        &[[88, 64], [94, 134]],
    ),
];
const DE_MOBILE: &IspEntry = &isp(
    6805,
    "telefonica germany gmbh & co.ohg",
    "o2 deutschland",
    "telefonica.de",
    &[[176, 0], [89, 204]],
);
const FR_HOME: &[IspEntry] = &[
    isp(
        3215,
        "orange s.a.",
        "orange",
        "orange.fr",
        &[[90, 24], [86, 246]],
    ),
    isp(
        12322,
        "free sas",
        "free sas",
        "proxad.net",
        &[[82, 64], [88, 170]],
    ),
];
const FR_MOBILE: &IspEntry = &isp(
    15557,
    "societe francaise du radiotelephone - sfr sa",
    "sfr",
    "sfr.net",
    &[[77, 136]],
);
const NL_HOME: &[IspEntry] = &[isp(
    1136,
    "kpn b.v.",
    "kpn",
    "kpn.net",
    &[[77, 160], [145, 53]],
)];
const NL_MOBILE: &IspEntry = &isp(
    33915,
    "vodafone libertel b.v.",
    "vodafone nl",
    "vodafone.nl",
    &[[31, 21]],
);
const IN_HOME: &[IspEntry] = &[
    isp(
        24560,
        "bharti airtel ltd.  telemedia services",
        "bharti airtel",
        "airtelbroadband.in",
        &[[122, 171], [106, 51]],
    ),
    isp(
        24309,
        "atria convergence technologies pvt. ltd.",
        "act fibernet",
        "actcorp.in",
        &[[49, 207], [106, 208]],
    ),
];
const IN_MOBILE: &IspEntry = &isp(
    55836,
    "reliance jio infocomm limited",
    "reliance jio",
    "jio.com",
    &[[49, 36], [157, 35]],
);
const AU_HOME: &[IspEntry] = &[
    isp(
        1221,
        "telstra corporation ltd",
        "telstra internet",
        "bigpond.net.au",
        &[[101, 181], [120, 144]],
    ),
    isp(
        7545,
        "tpg telecom limited",
        "tpg internet",
        "tpgi.com.au",
        &[[110, 174], [220, 240]],
    ),
];
const AU_MOBILE: &IspEntry = &isp(
    4804,
    "singtel optus pty ltd",
    "optus",
    "optusnet.com.au",
    &[[49, 179]],
);
const JP_HOME: &[IspEntry] = &[isp(
    4713,
    "ntt communications corporation",
    "ocn",
    "ocn.ne.jp",
    &[[153, 200], [180, 12]],
)];
const JP_MOBILE: &IspEntry = &isp(
    17676,
    "softbank corp.",
    "softbank bb corp",
    "bbtec.net",
    &[[126, 0]],
);
const BR_HOME: &[IspEntry] = &[isp(
    26599,
    "telefonica brasil s.a",
    "vivo",
    "telesp.net.br",
    &[[177, 16], [187, 56]],
)];
const BR_MOBILE: &IspEntry = &isp(
    28573,
    "claro nxt telecomunicacoes ltda",
    "claro",
    "virtua.com.br",
    &[[177, 32]],
);

/// Where staff live. Offsets are standard time (no daylight saving): good enough for a daily rhythm.
pub(crate) const REGIONS: &[Region] = &[
    region(
        "San Francisco",
        "California",
        "United States",
        "94107",
        37.7697,
        -122.3933,
        -480,
        16,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "Seattle",
        "Washington",
        "United States",
        "98101",
        47.6101,
        -122.3344,
        -480,
        5,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "Los Angeles",
        "California",
        "United States",
        "90012",
        34.0614,
        -118.2385,
        -480,
        4,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "Denver",
        "Colorado",
        "United States",
        "80202",
        39.7508,
        -104.9966,
        -420,
        3,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "Austin",
        "Texas",
        "United States",
        "78701",
        30.2711,
        -97.7437,
        -360,
        5,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "Chicago",
        "Illinois",
        "United States",
        "60601",
        41.8858,
        -87.6229,
        -360,
        4,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "New York",
        "New York",
        "United States",
        "10013",
        40.7209,
        -74.0007,
        -300,
        12,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "Boston",
        "Massachusetts",
        "United States",
        "02110",
        42.3572,
        -71.051,
        -300,
        4,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "Atlanta",
        "Georgia",
        "United States",
        "30303",
        33.7525,
        -84.3888,
        -300,
        3,
        US_HOME,
        US_MOBILE,
    ),
    region(
        "Toronto", "Ontario", "Canada", "M5H", 43.651, -79.3817, -300, 3, CA_HOME, CA_MOBILE,
    ),
    region(
        "London",
        "England",
        "United Kingdom",
        "EC2V",
        51.5155,
        -0.0922,
        0,
        9,
        UK_HOME,
        UK_MOBILE,
    ),
    region(
        "Manchester",
        "England",
        "United Kingdom",
        "M1",
        53.4808,
        -2.2426,
        0,
        2,
        UK_HOME,
        UK_MOBILE,
    ),
    region(
        "Dublin", "Leinster", "Ireland", "D02", 53.3382, -6.2591, 0, 3, IE_HOME, IE_MOBILE,
    ),
    region(
        "Berlin",
        "Land Berlin",
        "Germany",
        "10115",
        52.5323,
        13.3846,
        60,
        4,
        DE_HOME,
        DE_MOBILE,
    ),
    region(
        "Munich", "Bavaria", "Germany", "80331", 48.1374, 11.5755, 60, 2, DE_HOME, DE_MOBILE,
    ),
    region(
        "Paris",
        "Ile-de-France",
        "France",
        "75001",
        48.8625,
        2.3364,
        60,
        3,
        FR_HOME,
        FR_MOBILE,
    ),
    region(
        "Amsterdam",
        "North Holland",
        "Netherlands",
        "1012",
        52.374,
        4.8897,
        60,
        2,
        NL_HOME,
        NL_MOBILE,
    ),
    region(
        "Bengaluru",
        "Karnataka",
        "India",
        "560001",
        12.9719,
        77.5937,
        330,
        7,
        IN_HOME,
        IN_MOBILE,
    ),
    region(
        "Hyderabad",
        "Telangana",
        "India",
        "500081",
        17.4435,
        78.3772,
        330,
        3,
        IN_HOME,
        IN_MOBILE,
    ),
    region(
        "Sydney",
        "New South Wales",
        "Australia",
        "2000",
        -33.8688,
        151.2093,
        600,
        3,
        AU_HOME,
        AU_MOBILE,
    ),
    region(
        "Tokyo", "Tokyo", "Japan", "100-0005", 35.6812, 139.7671, 540, 2, JP_HOME, JP_MOBILE,
    ),
    region(
        "Sao Paulo",
        "Sao Paulo",
        "Brazil",
        "01310",
        -23.5614,
        -46.6559,
        -180,
        2,
        BR_HOME,
        BR_MOBILE,
    ),
];

/// Offices and their business internet. Indices into [`REGIONS`] must match the city.
pub(crate) const OFFICES: &[OfficeEntry] = &[
    OfficeEntry {
        name: "San Francisco HQ",
        region: 0,
        isp: isp(
            6461,
            "zayo bandwidth",
            "zayo bandwidth",
            "zayo.com",
            &[[64, 125]],
        ),
    },
    OfficeEntry {
        name: "New York",
        region: 6,
        isp: isp(
            174,
            "cogent communications",
            "cogent communications",
            "cogentco.com",
            &[[38, 104]],
        ),
    },
    OfficeEntry {
        name: "London",
        region: 10,
        isp: isp(
            8220,
            "colt technology services group limited",
            "colt",
            "colt.net",
            &[[212, 36]],
        ),
    },
    OfficeEntry {
        name: "Bengaluru",
        region: 17,
        isp: isp(
            4755,
            "tata communications limited",
            "tata communications",
            "tatacommunications.com",
            &[[14, 140]],
        ),
    },
];

/// Where the org's API service integrations run (an AWS region).
pub(crate) const CLOUD_REGION: Region = region(
    "Ashburn",
    "Virginia",
    "United States",
    "20149",
    39.0469,
    -77.4903,
    -300,
    0,
    AWS,
    &AWS[0],
);
const AWS: &[IspEntry] = &[isp(
    14618,
    "amazon.com  inc.",
    "amazon.com  inc.",
    "amazonaws.com",
    &[[3, 218], [44, 199]],
)];

/// Desktop browsers, with a relative weight.
pub(crate) const COMPUTER_AGENTS: &[(Agent, u32)] = &[
    (Agent::new_static("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Mac OS X", "CHROME", "Computer"), 30),
    (Agent::new_static("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Windows 10", "CHROME", "Computer"), 20),
    (Agent::new_static("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", "Windows 10", "EDGE_CHROMIUM", "Computer"), 14),
    (Agent::new_static("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Mac OS X", "SAFARI", "Computer"), 12),
    (Agent::new_static("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0", "Mac OS X", "FIREFOX", "Computer"), 8),
    (Agent::new_static("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", "Linux", "FIREFOX", "Computer"), 5),
    (Agent::new_static("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Linux", "CHROME", "Computer"), 4),
];

/// Phone browsers, with a relative weight.
pub(crate) const PHONE_AGENTS: &[(Agent, u32)] = &[
    (Agent::new_static("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "iOS", "SAFARI", "Mobile"), 6),
    (Agent::new_static("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Android", "CHROME", "Mobile"), 4),
];

/// Outlook's rich client (`user.authentication.auth_via_richclient`).
pub(crate) const OUTLOOK_AGENT: Agent = Agent::new_static(
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726; Pro)",
    "Windows 10",
    "UNKNOWN",
    "Computer",
);

/// The HTTP clients of the org's API service integrations.
pub(crate) const SERVICE_AGENTS: &[Agent] = &[
    Agent::new_static(
        "okta-sdk-python/2.9.8 python/3.11.9 Linux/6.1.94-99.176.amzn2023.x86_64",
        "Linux",
        "UNKNOWN",
        "Unknown",
    ),
    Agent::new_static(
        "okta-sdk-golang/5.0.2 golang/go1.22.4 linux/amd64",
        "Linux",
        "UNKNOWN",
        "Unknown",
    ),
];

/// Okta Verify–registered laptop models by `os_platform`: (model, os_version).
pub(crate) const MAC_MODELS: &[(&str, &str)] = &[
    ("MacBookPro18,3", "14.5.0"),
    ("Mac15,6", "14.6.0"),
    ("MacBookAir10,1", "14.4.1"),
    ("Mac14,2", "13.6.7"),
];
pub(crate) const WINDOWS_MODELS: &[(&str, &str)] = &[
    ("Latitude 7440", "10.0.22631"),
    ("ThinkPad X1 Carbon Gen 11", "10.0.22631"),
    ("Surface Laptop 5", "10.0.19045"),
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Aaliyah",
    "Adam",
    "Aisha",
    "Alejandro",
    "Alex",
    "Amara",
    "Amir",
    "Ana",
    "Andrew",
    "Anika",
    "Ben",
    "Carlos",
    "Chen",
    "Chloe",
    "Daniel",
    "David",
    "Diego",
    "Elena",
    "Emily",
    "Emma",
    "Ethan",
    "Fatima",
    "Felix",
    "Grace",
    "Hannah",
    "Hiroshi",
    "Isabel",
    "Jack",
    "James",
    "Jia",
    "Julia",
    "Kenji",
    "Laura",
    "Leo",
    "Liam",
    "Lucas",
    "Maria",
    "Mateo",
    "Maya",
    "Mei",
    "Michael",
    "Mohammed",
    "Nadia",
    "Noah",
    "Olivia",
    "Omar",
    "Priya",
    "Rahul",
    "Ravi",
    "Rosa",
    "Samuel",
    "Sara",
    "Sofia",
    "Sophie",
    "Thomas",
    "Tomas",
    "Wei",
    "William",
    "Yuki",
    "Zoe",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Adams", "Ahmed", "Alvarez", "Anderson", "Bauer", "Brown", "Chen", "Clark", "Costa", "Davis",
    "Dubois", "Evans", "Fischer", "Garcia", "Gupta", "Hall", "Harris", "Ito", "Jackson", "Johnson",
    "Kelly", "Khan", "Kim", "Kumar", "Lee", "Lewis", "Lopez", "Martin", "Martinez", "Miller",
    "Moore", "Murphy", "Nguyen", "O'Brien", "Patel", "Perez", "Reddy", "Rossi", "Sato", "Schmidt",
    "Silva", "Singh", "Smith", "Suzuki", "Taylor", "Thomas", "Wang", "White", "Williams", "Wilson",
    "Wright", "Young", "Zhang", "Novak", "Kowalski", "Larsen", "Jensen", "Haddad", "Okafor",
    "Mensah",
];

/// Departments with a relative headcount weight.
pub(crate) const DEPARTMENTS: &[(&str, u32)] = &[
    ("Engineering", 30),
    ("Product", 6),
    ("Sales", 18),
    ("Marketing", 8),
    ("Customer Success", 12),
    ("Finance", 6),
    ("People", 4),
    ("Legal", 3),
    ("IT", 5),
];

/// Admin groups: members hold the matching admin role.
pub(crate) const ADMIN_GROUPS: &[&str] = &["Okta Super Admins", "Okta Org Admins", "Help Desk"];

/// Who an app is assigned to.
pub(crate) enum Audience {
    /// Only admins (the Admin Console).
    Admins,
    /// Every user.
    Everyone,
    /// Members of these departments.
    Departments(&'static [&'static str]),
}

/// An app in the org's catalog.
pub(crate) struct AppEntry {
    pub label: &'static str,
    pub name: &'static str,
    pub key: &'static str,
    pub sign_on_mode: SignOnMode,
    /// Who is assigned the app.
    pub audience: Audience,
    /// How often an assigned user opens it in a session (relative).
    pub popularity: u32,
}

const fn app(
    label: &'static str,
    name: &'static str,
    key: &'static str,
    sign_on_mode: SignOnMode,
    audience: Audience,
    popularity: u32,
) -> AppEntry {
    AppEntry {
        label,
        name,
        key,
        sign_on_mode,
        audience,
        popularity,
    }
}

/// The catalog: index 0 is always the Admin Console and 1 the End-User Dashboard.
pub(crate) const APPS: &[AppEntry] = &[
    app(
        "Okta Admin Console",
        "Okta Admin Console",
        "saasure",
        SignOnMode::OpenIdConnect,
        Audience::Admins,
        0,
    ),
    app(
        "Okta Dashboard",
        "Okta Dashboard",
        "okta_enduser",
        SignOnMode::OpenIdConnect,
        Audience::Everyone,
        0,
    ),
    app(
        "Microsoft Office 365",
        "Microsoft Office 365",
        "office365",
        SignOnMode::WsFederation,
        Audience::Everyone,
        30,
    ),
    app(
        "Slack",
        "Slack",
        "slack",
        SignOnMode::Saml2,
        Audience::Everyone,
        25,
    ),
    app(
        "Zoom",
        "Zoom",
        "zoomus",
        SignOnMode::Saml2,
        Audience::Everyone,
        15,
    ),
    app(
        "Workday",
        "Workday",
        "workday",
        SignOnMode::Saml2,
        Audience::Everyone,
        4,
    ),
    app(
        "Expense Portal",
        "Expense Portal",
        "oidc_client",
        SignOnMode::OpenIdConnect,
        Audience::Everyone,
        3,
    ),
    app(
        "Salesforce",
        "Salesforce.com",
        "salesforce",
        SignOnMode::Saml2,
        Audience::Departments(&["Sales", "Customer Success", "Marketing"]),
        30,
    ),
    app(
        "GitHub",
        "GitHub Enterprise Cloud - Organization",
        "githubcloud",
        SignOnMode::Saml2,
        Audience::Departments(&["Engineering", "Product"]),
        30,
    ),
    app(
        "AWS",
        "AWS IAM Identity Center",
        "amazon_aws_sso",
        SignOnMode::Saml2,
        Audience::Departments(&["Engineering", "IT"]),
        15,
    ),
    app(
        "Atlassian",
        "Atlassian Cloud",
        "atlassian",
        SignOnMode::Saml2,
        Audience::Departments(&["Engineering", "Product", "IT", "Customer Success"]),
        20,
    ),
    app(
        "Google Workspace",
        "Google Workspace",
        "google",
        SignOnMode::Saml2,
        Audience::Departments(&["Marketing", "Sales"]),
        10,
    ),
    app(
        "DocuSign",
        "DocuSign",
        "docusign",
        SignOnMode::Saml2,
        Audience::Departments(&["Legal", "Sales", "Finance"]),
        6,
    ),
    app(
        "NetSuite",
        "Oracle NetSuite",
        "netsuite",
        SignOnMode::Saml2,
        Audience::Departments(&["Finance"]),
        20,
    ),
    app(
        "Greenhouse",
        "Greenhouse Recruiting",
        "greenhouse",
        SignOnMode::Saml2,
        Audience::Departments(&["People"]),
        20,
    ),
];

/// API service integrations: (name, scopes, minutes between token requests).
pub(crate) const SERVICE_CLIENTS: &[(&str, &str, u32)] = &[
    ("SIEM Log Collector", "okta.logs.read", 60),
    (
        "HR Directory Sync",
        "okta.users.manage okta.groups.manage",
        240,
    ),
];
