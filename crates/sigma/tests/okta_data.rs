//! Real Okta data through the engine: every Panther test event (Panther's `published` format,
//! lowercase keys) and every public sample parses and evaluates against every SigmaHQ Okta rule
//! without error, and the rules that should fire on them do.

use crate::common::shared;
use sigma::{CompileOptions, Correlator, CorrelatorConfig, RuleSet, RuleSource};
use std::sync::Arc;

fn sigmahq() -> Arc<RuleSet> {
    let mut options = CompileOptions::default();
    options
        .placeholders
        .insert("legtimate_identifiers".into(), vec!["@example.com".into()]);
    Arc::new(RuleSet::compile(&[RuleSource::Path(shared("sigma/okta"))], &options).unwrap())
}

#[test]
fn every_panther_test_event_evaluates() {
    let rules = sigmahq();
    let text = std::fs::read_to_string(shared("okta/panther-tests.ndjson")).unwrap();
    let mut correlator = Correlator::new(Arc::clone(&rules), CorrelatorConfig::default());
    let (mut events, mut rows, mut fired) = (0, 0, std::collections::BTreeSet::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let test: serde_json::Value = serde_json::from_str(line).unwrap();
        let doc = &test["event"];
        // Query-result rows of Panther's scheduled rules are not System Log events, but the
        // engine must still take them.
        let mut hits = Vec::new();
        rules.matching_rules_in(doc, &mut hits);
        let has = |k: &str| {
            doc.as_object()
                .is_some_and(|o| o.keys().any(|x| x.eq_ignore_ascii_case(k)))
        };
        if !has("published") {
            rows += 1;
            continue;
        }
        // Some Panther examples omit `uuid`; a real event always has one.
        let mut doc = doc.clone();
        if !has("uuid") {
            doc["uuid"] = format!("panther-{}", events + rows).into();
        }
        match okta::LogEvent::parse(&doc.to_string()) {
            Ok(e) => {
                events += 1;
                let mut out = Vec::new();
                correlator.observe(&e, e.published(), &mut out);
                for m in out {
                    fired.insert((test["source_rule"].as_str().unwrap().to_string(), m.rule_id));
                }
            }
            // A `published` that is not a time ("redacted" in one example) is refused with the
            // field named; the row was still evaluated above.
            Err(err) => {
                assert_eq!(err.field, "published", "{}: {err}", test["test_name"]);
                rows += 1;
            }
        }
    }
    assert_eq!(events + rows, 100);
    assert!(
        events >= 58,
        "{events} events parsed, {rows} query rows or bad times"
    );
    // Panther's own verdicts differ from SigmaHQ's rules, but where both describe the same
    // thing, the Sigma rule must fire on Panther's positive example (lowercase keys included).
    for (panther, sigma_id) in [
        ("Okta.APIKeyCreated", "19951c21-229d-4ccb-8774-b993c3ff3c5c"),
        ("Okta.APIKeyRevoked", "cf1dbc6b-6205-41b4-9b88-a83980d2255b"),
        (
            "Okta.Identity.Provider.Created.Modified",
            "969c7590-8c19-4797-8c1b-23155de6e7ac",
        ),
    ] {
        assert!(
            fired.contains(&(panther.to_string(), sigma_id.to_string())),
            "{panther} -> {sigma_id}: {fired:?}"
        );
    }
}

#[test]
fn every_public_sample_evaluates() {
    let rules = sigmahq();
    let mut n = 0;
    for entry in std::fs::read_dir(shared("okta/samples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        for item in okta::import::EventReader::open(&path).unwrap() {
            let e = item.unwrap().event;
            let _ = rules.evaluate(&e);
            n += 1;
        }
    }
    assert!(n >= 40, "{n}");
}
