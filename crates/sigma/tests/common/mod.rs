//! Helpers shared by the integration tests: paths into `../shared`, events, rule sets.

use sigma::{CompileOptions, Correlator, CorrelatorConfig, Match, RuleSet};
use std::path::PathBuf;
use std::sync::Arc;

/// A path under the shared reference folder beside the checkout.
pub fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

/// A path under this crate's test data.
pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Compiles YAML or panics with every error.
pub fn rules(yaml: &str) -> Arc<RuleSet> {
    match RuleSet::from_yaml(yaml, &CompileOptions::default()) {
        Ok(r) => Arc::new(r),
        Err(e) => panic!("rules do not compile:\n{e}"),
    }
}

/// An event from JSON, with uuid and published filled when missing.
pub fn event(json: serde_json::Value) -> okta::LogEvent {
    let mut v = json;
    let obj = v.as_object_mut().expect("object");
    let has = |o: &serde_json::Map<String, serde_json::Value>, k: &str| {
        o.keys().any(|x| x.eq_ignore_ascii_case(k))
    };
    if !has(obj, "uuid") {
        obj.insert("uuid".into(), "u-0".into());
    }
    if !has(obj, "published") {
        obj.insert("published".into(), "2024-01-01T00:00:00Z".into());
    }
    if !has(obj, "eventType") {
        obj.insert("eventType".into(), "test.event".into());
    }
    okta::LogEvent::parse(&v.to_string()).expect("event parses")
}

/// True when the single rule in `set` matches `json`.
pub fn fires(set: &RuleSet, json: serde_json::Value) -> bool {
    !set.evaluate(&event(json)).is_empty()
}

/// One detection rule with the given `detection:` block body (YAML, indented 4).
pub fn rule_with(detection: &str) -> Arc<RuleSet> {
    rules(&format!(
        "title: T\nid: t\nlogsource: {{product: okta}}\ndetection:\n{detection}\nlevel: high\n"
    ))
}

/// Every match of `events` streamed through a fresh correlator, then flushed.
pub fn stream(
    set: &Arc<RuleSet>,
    events: &[okta::LogEvent],
    config: CorrelatorConfig,
) -> Vec<Match> {
    let mut c = Correlator::new(Arc::clone(set), config);
    let mut out = Vec::new();
    for e in events {
        c.observe(e, e.published(), &mut out);
    }
    c.flush(&mut out);
    out
}
