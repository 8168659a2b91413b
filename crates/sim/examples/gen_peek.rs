//! Prints N events (default 20) of the default org as NDJSON, for eyeballing.
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let skip: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    for e in sim::generate::Generator::from_config(&sim::generate::OrgConfig::default())
        .skip(skip)
        .take(n)
    {
        println!("{}", e.json);
    }
}
