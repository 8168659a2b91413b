//! Every SigmaHQ Okta rule in `../shared/sigma/okta` validates and passes its rule test file
//! (an event built to satisfy it, and near misses), run the way `idwatch rules test` runs them.

use crate::common::{data, shared};
use sigma::testfile::{discover, run_test_file};
use sigma::{CompileOptions, RuleSet, RuleSource};

fn placeholder_config() -> CompileOptions {
    let mut options = CompileOptions::default();
    options
        .placeholders
        .insert("legtimate_identifiers".into(), vec!["@example.com".into()]);
    options
}

#[test]
fn every_sigmahq_okta_rule_compiles() {
    let set = RuleSet::compile(
        &[RuleSource::Path(shared("sigma/okta"))],
        &placeholder_config(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.detection_count(), 24);
    // All but the rules keyed on displayMessage / legacyEventType / outcome / requestUri are
    // routed by event type.
    assert!(set.unrouted_count() <= 6, "{}", set.unrouted_count());
}

#[test]
fn the_placeholder_rule_is_rejected_without_its_placeholder() {
    let err = RuleSet::compile(
        &[RuleSource::Path(shared("sigma/okta"))],
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    let e = &err.errors[0];
    assert!(e.path.ends_with("okta_session_impersonation_granted.yml"));
    assert_eq!(e.rule, "fe04b26b-0ac4-45d7-9404-4b9f16a440a9");
    assert!(e.message.contains("%legtimate_identifiers%"), "{e}");
    let text = std::fs::read_to_string(&e.path).unwrap();
    assert!(text
        .lines()
        .nth(e.line - 1)
        .unwrap()
        .contains("%legtimate_identifiers%"));
}

#[test]
fn every_sigmahq_okta_rule_has_a_passing_test_file() {
    let files = discover(&[data("sigmahq")]).unwrap();
    assert_eq!(files.len(), 24);
    let mut tested_rules = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for f in &files {
        for r in &f.rules {
            tested_rules.insert(r.file_name().unwrap().to_owned());
        }
        let outcomes =
            run_test_file(f, &CompileOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            outcomes.len() >= 2,
            "{}: needs a positive and a near miss",
            f.path.display()
        );
        for o in outcomes {
            if !o.passed() {
                failures.push(format!(
                    "{}: {}: {:?}",
                    o.path.display(),
                    o.name,
                    o.failures
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let all = sigma::source::rule_files(&RuleSource::Path(shared("sigma/okta"))).unwrap();
    for r in all {
        assert!(
            tested_rules.contains(r.file_name().unwrap()),
            "no test for {}",
            r.display()
        );
    }
}

#[test]
fn a_wrong_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rule = shared("sigma/okta/okta_api_token_created.yml");
    let test = dir.path().join("wrong.tests.yml");
    std::fs::write(
        &test,
        format!(
            "rules: [{}]\ntests:\n  - name: wrong\n    events:\n      - {{eventType: system.api_token.revoke}}\n    expect:\n      - rule: 19951c21-229d-4ccb-8774-b993c3ff3c5c\n",
            rule.display()
        ),
    )
    .unwrap();
    let f = sigma::testfile::load_test_file(&test).unwrap();
    let outcomes = run_test_file(&f, &CompileOptions::default()).unwrap();
    assert!(!outcomes[0].passed());
    assert!(
        outcomes[0].failures[0].contains("fired 0 time(s), expected 1"),
        "{:?}",
        outcomes[0].failures
    );
}
