//! Conditions: `and`/`or`/`not`, parentheses and precedence (against a tiny reference evaluator
//! in this file, on random expressions), `1 of` / `all of` with patterns and `them`, condition
//! lists, and meta filters with pySigma's semantics.

use crate::common::{event, fires, rule_with, rules};
use proptest::prelude::*;
use serde_json::json;
use sigma::{CompileOptions, RuleSet, RuleSource};

#[derive(Debug, Clone)]
enum Expr {
    Id(usize),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
}

const IDS: [&str; 4] = ["sel_a", "sel_b", "filter_c", "keep_d"];

/// Prints without adding parentheses except `Paren`, so the parser's precedence decides.
fn print(e: &Expr) -> String {
    match e {
        Expr::Id(i) => IDS[*i].to_string(),
        Expr::Not(x) => format!("not {}", print(x)),
        Expr::And(a, b) => format!("{} and {}", print(a), print(b)),
        Expr::Or(a, b) => format!("{} or {}", print(a), print(b)),
        Expr::Paren(x) => format!("({})", print(x)),
    }
}

/// The reference: tokens of the printed text, parsed with `or` < `and` < `not` < parentheses.
fn reference(text: &str, truth: &[bool; 4]) -> bool {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let toks: Vec<&str> = spaced.split_whitespace().collect();
    fn or(t: &[&str], i: &mut usize, v: &[bool; 4]) -> bool {
        let mut x = and(t, i, v);
        while t.get(*i) == Some(&"or") {
            *i += 1;
            let y = and(t, i, v);
            x = x || y;
        }
        x
    }
    fn and(t: &[&str], i: &mut usize, v: &[bool; 4]) -> bool {
        let mut x = not(t, i, v);
        while t.get(*i) == Some(&"and") {
            *i += 1;
            let y = not(t, i, v);
            x = x && y;
        }
        x
    }
    fn not(t: &[&str], i: &mut usize, v: &[bool; 4]) -> bool {
        if t.get(*i) == Some(&"not") {
            *i += 1;
            return !not(t, i, v);
        }
        atom(t, i, v)
    }
    fn atom(t: &[&str], i: &mut usize, v: &[bool; 4]) -> bool {
        let tok = t[*i];
        *i += 1;
        if tok == "(" {
            let x = or(t, i, v);
            *i += 1; // ')'
            return x;
        }
        v[IDS.iter().position(|n| *n == tok).expect("identifier")]
    }
    let mut i = 0;
    or(&toks, &mut i, truth)
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = (0usize..4).prop_map(Expr::Id);
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|e| Expr::Paren(Box::new(e))),
        ]
    })
}

fn detections() -> String {
    IDS.iter()
        .map(|n| format!("    {n}:\n        {n}: 1\n"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]
    #[test]
    fn precedence_matches_the_reference(e in expr(), bits in 0u8..16) {
        let text = print(&e);
        let r = rule_with(&format!("{}    condition: {text}", detections()));
        let truth = [bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0];
        let mut obj = serde_json::Map::new();
        for (i, n) in IDS.iter().enumerate() {
            obj.insert(n.to_string(), json!(if truth[i] { 1 } else { 0 }));
        }
        prop_assert_eq!(fires(&r, serde_json::Value::Object(obj)), reference(&text, &truth), "{}", text);
    }
}

#[test]
fn selectors_with_patterns_and_them() {
    let body = detections();
    let r = rule_with(&format!(
        "{body}    condition: 1 of sel_* and not 1 of filter_*"
    ));
    assert!(fires(&r, json!({"sel_b": 1})));
    assert!(!fires(&r, json!({"sel_b": 1, "filter_c": 1})));
    let r = rule_with(&format!("{body}    condition: all of sel_*"));
    assert!(!fires(&r, json!({"sel_a": 1})));
    assert!(fires(&r, json!({"sel_a": 1, "sel_b": 1})));
    let r = rule_with(&format!("{body}    condition: all of them"));
    assert!(fires(
        &r,
        json!({"sel_a": 1, "sel_b": 1, "filter_c": 1, "keep_d": 1})
    ));
    assert!(!fires(&r, json!({"sel_a": 1, "sel_b": 1, "filter_c": 1})));
    let r = rule_with(&format!("{body}    condition: 1 of *_* and not 1 of *l*r*"));
    assert!(
        fires(&r, json!({"keep_d": 1})),
        "patterns may hold several wildcards"
    );
    assert!(!fires(&r, json!({"keep_d": 1, "filter_c": 1})));
    let r =
        rule_with("    sel:\n        a: 1\n    _hidden:\n        b: 1\n    condition: all of them");
    assert!(
        fires(&r, json!({"a": 1})),
        "`them` skips identifiers starting with _"
    );
}

#[test]
fn a_selector_matching_nothing_is_an_error() {
    let err = RuleSet::from_yaml(
        "title: T\nid: t\nlogsource: {product: okta}\ndetection:\n    sel:\n        a: 1\n    condition: 1 of nothing_*\n",
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nothing_*"), "{err}");
}

#[test]
fn condition_lists_are_ored() {
    let r = rule_with(
        "    a:\n        a: 1\n    b:\n        b: 1\n    condition:\n        - a\n        - b",
    );
    assert!(fires(&r, json!({"b": 1})));
    assert!(!fires(&r, json!({"c": 1})));
}

#[test]
fn meta_filters_are_anded_like_pysigma() {
    let yaml = r#"
title: Impersonation
id: imp
name: impersonation_grant
logsource: {product: okta, service: okta}
detection:
    selection:
        eventType: user.session.impersonation.grant
    condition: selection
---
title: Not our helpdesk
logsource: {product: okta}
filter:
    rules:
        - impersonation_grant
    selection:
        actor.alternateId|endswith: '@helpdesk.example.com'
    condition: not selection
"#;
    let r = rules(yaml);
    assert!(fires(
        &r,
        json!({"eventType": "user.session.impersonation.grant", "actor": {"alternateId": "x@evil.example"}})
    ));
    assert!(!fires(
        &r,
        json!({"eventType": "user.session.impersonation.grant", "actor": {"alternateId": "a@helpdesk.example.com"}})
    ));
}

#[test]
fn a_filter_for_another_logsource_does_not_apply_and_unknown_targets_are_errors() {
    let base = "title: R\nid: r\nlogsource: {product: okta}\ndetection:\n    s:\n        eventType: a.b\n    condition: s\n---\n";
    let r = rules(&format!("{base}title: F\nlogsource: {{product: windows}}\nfilter:\n    rules: [r]\n    s:\n        x: 1\n    condition: not s\n"));
    assert!(fires(&r, json!({"eventType": "a.b", "x": 1})));
    let err = RuleSet::from_yaml(
        &format!("{base}title: F\nlogsource: {{product: okta}}\nfilter:\n    rules: [nope]\n    s:\n        x: 1\n    condition: not s\n"),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[test]
fn collections_global_repeat_and_reset() {
    let yaml = r#"
action: global
logsource: {product: okta}
level: high
detection:
    condition: selection
---
title: One
id: one
detection:
    selection:
        eventType: x.one
---
action: repeat
title: Two
id: two
detection:
    selection:
        eventType: x.two
---
action: reset
---
title: Three
id: three
logsource: {product: okta}
detection:
    s:
        eventType: x.three
    condition: s
"#;
    let r = rules(yaml);
    assert_eq!(r.rules().len(), 3);
    assert_eq!(r.rules()[0].level, sigma::Level::High);
    assert_eq!(
        r.rules()[2].level,
        sigma::Level::Medium,
        "reset drops the global level"
    );
    let hit = |t: &str| {
        r.evaluate(&event(json!({"eventType": t})))
            .iter()
            .map(|m| m.rule_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(hit("x.one"), ["one"]);
    assert_eq!(hit("x.two"), ["two"]);
    assert_eq!(hit("x.three"), ["three"]);
}

#[test]
fn validation_reports_every_problem_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yml"),
        "title: Good\nid: g\nlogsource: {product: okta}\ndetection:\n    s:\n        eventType: a\n    condition: s\n---\ntitle: Bad\nid: bad\nlogsource: {product: okta}\ndetection:\n    s:\n        eventType|nope: a\n    condition: s\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yml"),
        "title: Dup\nid: g\nlogsource: {product: okta}\ndetection:\n    s:\n        x: 1\n    condition: s\n",
    )
    .unwrap();
    let err = RuleSet::compile(
        &[RuleSource::Path(dir.path().to_path_buf())],
        &CompileOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.errors.len(), 2, "{text}");
    assert!(
        text.contains("a.yml:14: bad: Unknown modifier 'nope'"),
        "{text}"
    );
    assert!(text.contains("b.yml:1: g: `g` is already used"), "{text}");
}
