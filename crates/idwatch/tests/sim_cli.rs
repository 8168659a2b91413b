//! `idwatch sim`: `scenarios` lists every scenario; `generate` is deterministic; `serve` with the
//! same seed, users, days, scenarios and --now holds exactly the events `generate` writes (same
//! uuids) and the same ground truth, read back through the real HTTP API.

use serde_json::Value;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn idwatch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idwatch"));
    cmd.env_remove("IDWATCH_CONFIG").env_remove("IDWATCH_DATA");
    cmd
}

const ORG: &[&str] = &[
    "--seed",
    "4",
    "--users",
    "25",
    "--days",
    "2",
    "--now",
    "2024-03-05T14:00:00Z",
    "--scenario",
    "brute-force,password-spray",
];

fn generate(dir: &Path, name: &str) -> (String, Value) {
    let out = dir.join(format!("{name}.ndjson"));
    let truth = dir.join(format!("{name}.truth.json"));
    let status = idwatch()
        .args(["sim", "generate"])
        .args(ORG)
        .arg("--out")
        .arg(&out)
        .arg("--truth")
        .arg(&truth)
        .status()
        .expect("run generate");
    assert!(status.success());
    (
        std::fs::read_to_string(out).expect("ndjson"),
        serde_json::from_str(&std::fs::read_to_string(truth).expect("truth")).expect("truth json"),
    )
}

/// Kills the server when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn scenarios_lists_every_scenario() {
    let output = idwatch().args(["sim", "scenarios"]).output().expect("run");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("utf8");
    for (name, _) in sim::scenario::SCENARIOS {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} in {text}"
        );
    }
}

#[test]
fn generate_is_deterministic_and_serve_holds_the_same_events() {
    let dir = tempfile::tempdir().expect("dir");
    let (first, truth) = generate(dir.path(), "a");
    let (second, _) = generate(dir.path(), "b");
    assert_eq!(first, second, "same flags, same bytes");
    let generated: Vec<String> = first
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("event json");
            v["uuid"].as_str().expect("uuid").to_string()
        })
        .collect();
    assert!(generated.len() > 100);
    assert!(!truth.as_array().expect("truth array").is_empty());

    let served_truth = dir.path().join("served.truth.json");
    let mut child = idwatch()
        .args([
            "sim",
            "serve",
            "--port",
            "0",
            "--token-env",
            "SIM_CLI_TOKEN",
        ])
        .args(ORG)
        .arg("--truth")
        .arg(&served_truth)
        .env("SIM_CLI_TOKEN", "cli-secret-token")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let _server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let base = loop {
        let line = lines.next().expect("serve prints its URL").expect("line");
        banner.push(line.clone());
        if let Some(url) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
        {
            break url.to_string();
        }
    };
    for line in lines.by_ref().take(4) {
        banner.push(line.expect("line"));
    }
    let banner = banner.join("\n");
    assert!(
        !banner.contains("cli-secret-token"),
        "the token is not printed: {banner}"
    );
    assert!(banner.contains("--now 2024-03-05T14:00:00Z"), "{banner}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let served: Vec<String> = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut url = format!(
            "{base}/api/v1/logs?since=2024-03-01T00:00:00Z&until=2024-03-06T00:00:00Z&limit=1000"
        );
        let mut uuids = Vec::new();
        loop {
            let response = client
                .get(&url)
                .header("Authorization", "SSWS cli-secret-token")
                .send()
                .await
                .expect("logs");
            assert_eq!(response.status().as_u16(), 200);
            let next = response.headers().get_all("link").iter().find_map(|v| {
                let text = v.to_str().ok()?;
                let (u, rel) = text.split_once(">; rel=\"")?;
                (rel == "next\"").then(|| u.trim_start_matches('<').to_string())
            });
            let page: Vec<Value> = response.json().await.expect("json");
            uuids.extend(
                page.iter()
                    .map(|e| e["uuid"].as_str().expect("uuid").to_string()),
            );
            match next {
                Some(next) => url = next,
                None => break,
            }
        }
        uuids
    });
    assert_eq!(served, generated, "same events, same published order");
    let unique: HashSet<_> = served.iter().collect();
    assert_eq!(unique.len(), served.len());
    let served_truth: Value =
        serde_json::from_str(&std::fs::read_to_string(served_truth).expect("truth")).expect("json");
    assert_eq!(served_truth, truth);
}
