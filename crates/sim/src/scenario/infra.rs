//! Where attackers come from: anonymising VPN and proxy exits, rented servers, a residential
//! proxy, the malicious host ThreatInsight knows, and the clients they use, with the real AS
//! numbers and the lower-case names Okta's `securityContext` shows. Pure data, like the
//! generator's catalog, plus [`Network::client`] to draw an address and build the [`Client`].

use crate::generate::{Agent, Client, Isp, Place};
use rand::Rng;

/// An attacker network: where its exit is, whose AS it is, its /16 blocks, and whether Okta
/// flags it as an anonymising proxy.
pub(crate) struct Network {
    pub place: Place,
    pub isp: Isp,
    pub blocks: &'static [[u8; 2]],
    pub is_proxy: bool,
}

impl Network {
    /// A client at a random address of this network using `agent`.
    pub fn client(&self, rng: &mut impl Rng, agent: &Agent) -> Client {
        let ip = self.ip(rng);
        Client::new(&ip, &self.place, &self.isp, agent, None, self.is_proxy)
    }

    /// A random address in one of the network's blocks.
    pub fn ip(&self, rng: &mut impl Rng) -> String {
        let [a, b] = self.blocks[rng.random_range(0..self.blocks.len())];
        let c: u8 = rng.random_range(0..=255);
        let d: u8 = rng.random_range(2..=253);
        format!("{a}.{b}.{c}.{d}")
    }
}

const fn network(place: Place, isp: Isp, blocks: &'static [[u8; 2]], is_proxy: bool) -> Network {
    Network {
        place,
        isp,
        blocks,
        is_proxy,
    }
}

/// Commercial VPN / anonymising proxy exits (Okta marks them `isProxy: true`).
pub(crate) const ANONYMISING_PROXIES: &[Network] = &[
    network(
        Place::new_static(
            "Bucharest",
            "Bucuresti",
            "Romania",
            "030167",
            44.4323,
            26.1063,
            120,
        ),
        Isp::new_static(9009, "m247 europe srl", "m247 ltd", "m247.com"),
        &[[185, 156], [89, 46]],
        true,
    ),
    network(
        Place::new_static(
            "Stockholm",
            "Stockholm County",
            "Sweden",
            "173 11",
            59.3247,
            18.056,
            60,
        ),
        Isp::new_static(
            39351,
            "31173 services ab",
            "31173 services ab",
            "mullvad.net",
        ),
        &[[193, 138], [185, 65]],
        true,
    ),
    network(
        Place::new_static(
            "Frankfurt am Main",
            "Hesse",
            "Germany",
            "60313",
            50.1155,
            8.6842,
            60,
        ),
        Isp::new_static(60068, "datacamp limited", "cdn77.com", "cdn77.com"),
        &[[156, 146], [89, 187]],
        true,
    ),
];

/// Rented servers spray and stuffing tools run from.
pub(crate) const HOSTING: &[Network] = &[
    network(
        Place::new_static(
            "Amsterdam",
            "North Holland",
            "Netherlands",
            "1098",
            52.3759,
            4.8975,
            60,
        ),
        Isp::new_static(
            14061,
            "digitalocean  llc",
            "digitalocean llc",
            "digitalocean.com",
        ),
        &[[167, 99], [188, 166]],
        false,
    ),
    network(
        Place::new_static(
            "Roubaix",
            "Hauts-de-France",
            "France",
            "59100",
            50.6942,
            3.1746,
            60,
        ),
        Isp::new_static(16276, "ovh sas", "ovh sas", "ovh.net"),
        &[[51, 75], [137, 74]],
        false,
    ),
    network(
        Place::new_static(
            "Singapore",
            "Central Singapore",
            "Singapore",
            "018989",
            1.2868,
            103.8503,
            480,
        ),
        Isp::new_static(
            16509,
            "amazon.com  inc.",
            "amazon.com  inc.",
            "amazonaws.com",
        ),
        &[[54, 254], [13, 229]],
        false,
    ),
];

/// Residential ISPs far from the org's staff (a stolen-credential login from "home").
pub(crate) const FAR_RESIDENTIAL: &[Network] = &[
    network(
        Place::new_static("Lagos", "Lagos", "Nigeria", "100001", 6.4531, 3.3958, 60),
        Isp::new_static(
            29465,
            "vcg-as",
            "mtn nigeria communication limited",
            "mtnnigeria.net",
        ),
        &[[102, 89], [105, 112]],
        false,
    ),
    network(
        Place::new_static(
            "Jakarta",
            "Jakarta",
            "Indonesia",
            "10110",
            -6.1862,
            106.8063,
            420,
        ),
        Isp::new_static(
            7713,
            "pt telekomunikasi indonesia",
            "pt telkom indonesia",
            "telkom.net.id",
        ),
        &[[36, 85], [114, 124]],
        false,
    ),
    network(
        Place::new_static(
            "Sao Paulo",
            "Sao Paulo",
            "Brazil",
            "01310",
            -23.5614,
            -46.6559,
            -180,
        ),
        Isp::new_static(
            28573,
            "claro nxt telecomunicacoes ltda",
            "claro",
            "virtua.com.br",
        ),
        &[[177, 32], [189, 100]],
        false,
    ),
];

/// The host ThreatInsight has seen attacking many orgs.
pub(crate) const MALICIOUS_HOST: Network = network(
    Place::new_static(
        "Dallas",
        "Texas",
        "United States",
        "75207",
        32.7908,
        -96.8336,
        -360,
    ),
    Isp::new_static(
        62240,
        "clouvider limited",
        "clouvider limited",
        "clouvider.net",
    ),
    &[[45, 134], [77, 247]],
    false,
);

/// Where the Okta support engineer works from (a contracted support centre).
pub(crate) const SUPPORT_CENTRE: Network = network(
    Place::new_static(
        "Quezon City",
        "Metro Manila",
        "Philippines",
        "1100",
        14.676,
        121.0437,
        480,
    ),
    Isp::new_static(
        9299,
        "philippine long distance telephone company",
        "pldt",
        "pldt.net",
    ),
    &[[112, 198], [122, 54]],
    false,
);

/// An attacker's Windows browser (an older Chrome than the org's fleet).
pub(crate) const ATTACKER_WINDOWS: Agent = Agent::new_static(
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36",
    "Windows 10",
    "CHROME",
    "Computer",
);

/// An attacker's Linux browser.
pub(crate) const ATTACKER_LINUX: Agent = Agent::new_static(
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Linux",
    "FIREFOX",
    "Computer",
);

/// A spray tool's client.
pub(crate) const SPRAY_TOOL: Agent =
    Agent::new_static("python-requests/2.31.0", "Unknown", "UNKNOWN", "Unknown");

/// A script using a stolen or planted SSWS token.
pub(crate) const API_SCRIPT: Agent = Agent::new_static(
    "okta-sdk-python/2.9.2 python/3.10.12 Linux/5.15.0-91-generic",
    "Linux",
    "UNKNOWN",
    "Unknown",
);

/// The support engineer's browser.
pub(crate) const SUPPORT_BROWSER: Agent = Agent::new_static(
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/97.0.4692.71 Safari/537.36",
    "Windows 10",
    "CHROME",
    "Computer",
);
