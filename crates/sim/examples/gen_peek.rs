//! Prints events of the default org (500 users, seed 1) as NDJSON, for eyeballing:
//! `cargo run --release -p sim --example gen_peek -- [COUNT=20] [SKIP=0]`.

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
