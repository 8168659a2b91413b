//! Filter tests: operators on real-shaped events, precedence, error columns, Okta's own
//! catalogue of queries, and property tests against an independent reference evaluator.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn event() -> Value {
    json!({
        "uuid": "u1",
        "published": "2024-08-13T15:58:20.353Z",
        "eventType": "user.session.start",
        "actor": {"id": "00u1", "type": "User", "alternateId": "Alice@Example.com"},
        "client": {"ipAddress": "203.0.113.7", "zone": "null",
                   "userAgent": {"rawUserAgent": "Mozilla/5.0 Firefox/128.0", "browser": "FIREFOX"}},
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
        "securityContext": {"asNumber": 13335, "isProxy": true},
        "debugContext": {"debugData": {"requestUri": "/api/v1/authn", "risk": "{level=HIGH}"}},
        "target": [
            {"id": "0oa1", "type": "AppInstance", "displayName": "Okta Admin Console"},
            {"id": "00u2", "type": "User", "alternateId": "bob@example.com", "detailEntry": null}
        ],
        "request": {"ipChain": []}
    })
}

fn check(filter: &str) -> bool {
    Filter::parse(filter)
        .unwrap_or_else(|e| panic!("{e}"))
        .matches_value(&event())
}

#[test]
fn each_operator() {
    assert!(check(r#"eventType eq "user.session.start""#));
    assert!(check(r#"eventType eq "USER.session.START""#));
    assert!(!check(r#"eventType ne "user.session.start""#));
    assert!(check(r#"eventType sw "user.sess""#));
    assert!(check(r#"eventType ew ".start""#));
    assert!(check(r#"client.userAgent.rawUserAgent co "firefox""#));
    assert!(check(r#"securityContext.asNumber gt 13000"#));
    assert!(check(r#"securityContext.asNumber ge 13335"#));
    assert!(!check(r#"securityContext.asNumber lt 13335"#));
    assert!(check(r#"securityContext.asNumber le 13335"#));
    assert!(check(r#"published gt "2024-08-13T00:00:00Z""#));
    assert!(check(r#"published lt "2024-08-14""#));
    assert!(check(r#"outcome.reason pr"#));
    assert!(!check(r#"request.ipChain pr"#));
    assert!(!check(r#"actor.detailEntry pr"#));
}

#[test]
fn arrays_match_any_element_and_both_targets() {
    assert!(check(r#"target.id eq "00u2""#));
    assert!(check(r#"target.id eq "0oa1" and target.id eq "00u2""#));
    assert!(!check(r#"target.id eq "00u3""#));
    assert!(check(r#"target.displayName co "admin console""#));
}

#[test]
fn mixed_types_compare_by_text_or_number() {
    assert!(check(r#"securityContext.isProxy eq "true""#));
    assert!(check(r#"securityContext.isProxy eq true"#));
    assert!(check(r#"securityContext.asNumber eq "13335""#));
    assert!(check(r#"securityContext.asNumber eq 13335.0"#));
    assert!(check(r#"client.zone eq "null""#));
}

#[test]
fn absent_fields() {
    assert!(check(r#"actor.nothing ne "x""#));
    assert!(!check(r#"actor.nothing eq "x""#));
    assert!(check(r#"actor.nothing eq null"#));
    assert!(!check(r#"actor.nothing pr"#));
    assert!(check(r#"target.detailEntry eq null"#));
}

#[test]
fn precedence_and_associativity() {
    let p = |s: &str| Filter::parse(s).unwrap().expr().clone();
    assert_eq!(
        p(r#"a eq "1" or b eq "2" and c eq "3""#),
        p(r#"a eq "1" or (b eq "2" and c eq "3")"#)
    );
    assert_eq!(
        p(r#"not a eq "1" and b eq "2""#),
        p(r#"(not a eq "1") and b eq "2""#)
    );
    assert_eq!(
        p(r#"a eq "1" AND b Eq "2" Or NOT c PR"#),
        p(r#"(a eq "1" and b eq "2") or (not c pr)"#)
    );
    // Parentheses change the meaning, and the evaluator follows.
    assert!(check(
        r#"eventType eq "x" and outcome.result eq "y" or actor.id eq "00u1""#
    ));
    assert!(!check(
        r#"eventType eq "x" and (outcome.result eq "y" or actor.id eq "00u1")"#
    ));
}

#[test]
fn errors_point_at_the_column() {
    let cases = [
        (
            r#"eventType eq"#,
            13,
            "a quoted string, number, true, false or null",
            "end of input",
        ),
        (r#"eventType equals "x""#, 11, "an operator", "`equals`"),
        (r#"eventType eq "x"#, 14, "a closing `\"`", "end of input"),
        (
            r#"(eventType eq "x""#,
            18,
            "`)`, `and` or `or`",
            "end of input",
        ),
        (
            r#"eventType eq "x")"#,
            17,
            "`and`, `or` or end of input",
            "`)`",
        ),
        (
            r#"eventType eq "x" and"#,
            21,
            "an attribute name",
            "end of input",
        ),
        (r#""x" eq eventType"#, 1, "an attribute name", "the string"),
        (
            r#"eventType eq "x" # 1"#,
            18,
            "an attribute, operator",
            "`#`",
        ),
        ("", 1, "a filter expression", "end of input"),
        (r#"a eq 1.2.3"#, 6, "a number", "`1.2.3`"),
    ];
    for (input, column, expected, found) in cases {
        let err = Filter::parse(input).unwrap_err();
        let FilterError::Syntax {
            column: c,
            expected: e,
            found: f,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*c, column, "{input}: {err}");
        assert!(e.starts_with(expected), "{input}: {err}");
        assert!(f.starts_with(found), "{input}: {err}");
    }
    let err = Filter::parse("eventType eq").unwrap_err().to_string();
    assert_eq!(
        err,
        "filter `eventType eq`: column 13: expected a quoted string, number, true, false or null, found end of input"
    );
}

#[test]
fn okta_restrictions_name_okta_codes() {
    let f = Filter::parse(r#"published gt "2024-01-01""#).unwrap();
    assert_eq!(f.okta_restrictions().unwrap_err().okta_code(), "E0000053");
    let f = Filter::parse(r#"debugContext.debugData.requestUri co "/api""#).unwrap();
    assert_eq!(f.okta_restrictions().unwrap_err().okta_code(), "E0000031");
    let f = Filter::parse(r#"debugContext.debugData.requestUri eq "/api""#).unwrap();
    assert!(f.okta_restrictions().is_ok());
}

#[test]
fn keywords_follow_okta_q_semantics() {
    let k = |q: &str| Keywords::parse(q).unwrap().matches_value(&event());
    assert!(k("alice@example.com"));
    assert!(k("FAILURE firefox"), "a word of a value matches");
    assert!(!k("fire"), "keywords are whole words, not substrings");
    assert!(k("INVALID_CREDENTIALS 13335"));
    assert!(!k("FAILURE nothing"));
    let hyphen = json!({"a": "XOxBw-2JIRn part"});
    assert!(Keywords::parse("xoxbw").unwrap().matches_value(&hyphen));
    let long = "x".repeat(41);
    assert!(Keywords::parse(&long)
        .unwrap_err()
        .to_string()
        .contains("longer than 40 characters"));
    assert!(Keywords::parse("a b c d e f g h i j k").is_err());
}

#[test]
fn real_samples_evaluate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/okta/samples");
    let f = Filter::parse(r#"eventType sw "user.session" and client.ipAddress pr"#).unwrap();
    let mut hits = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ndjson") {
            continue;
        }
        for record in crate::import::EventReader::open(&path).unwrap() {
            let event = record.unwrap().event;
            let want = event.event_type().starts_with("user.session")
                && event
                    .doc()
                    .pointer("/client/ipAddress")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
            assert_eq!(f.matches(&event), want, "{}", event.raw());
            hits += usize::from(want);
        }
    }
    assert!(hits > 3);
}

/// Every `okta_systemlog` query in Okta's customer-detections catalogue.
fn catalogue_queries() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/okta/customer-detections");
    let mut out = Vec::new();
    for sub in ["detections", "hunts"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.trim() != "OIE: |" {
                    continue;
                }
                let indent = line.len() - line.trim_start().len();
                let mut query = String::new();
                for next in &lines[i + 1..] {
                    let next_indent = next.len() - next.trim_start().len();
                    if !next.trim().is_empty() && next_indent <= indent {
                        break;
                    }
                    query.push_str(next.trim());
                    query.push(' ');
                }
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, query.trim().to_string()));
            }
        }
    }
    out
}

#[test]
fn okta_customer_detection_queries_parse() {
    let queries = catalogue_queries();
    assert_eq!(
        queries.len(),
        37,
        "every OIE query in the catalogue is read"
    );
    let mut failures: Vec<String> = queries
        .iter()
        .filter(|(_, q)| Filter::parse(q).is_err())
        .map(|(name, _)| name.clone())
        .collect();
    failures.sort();
    // `eventType in [...]` is not System Log filter syntax.
    assert_eq!(failures, ["api_token_excessive_network_access.yml"]);
    for (name, q) in &queries {
        if let Ok(f) = Filter::parse(q) {
            let again = Filter::parse(&f.to_string()).unwrap();
            assert_eq!(again.expr(), f.expr(), "{name}");
        }
    }
}

// ---- property tests ----

fn arb_attr() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("eventType".to_string()),
        Just("actor.id".to_string()),
        Just("target.id".to_string()),
        Just("n".to_string()),
        Just("flag".to_string()),
        Just("missing.path".to_string()),
    ]
}

fn arb_literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        "[a-cA-C.]{0,3}".prop_map(Literal::String),
        (-3i64..4).prop_map(|n| Literal::Number(n.to_string())),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Gt),
        Just(Op::Ge),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Sw),
        Just(Op::Co),
        Just(Op::Ew),
        Just(Op::Pr),
    ]
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    let leaf = (arb_attr(), arb_op(), arb_literal()).prop_map(|(attr, op, lit)| {
        Expr::Compare(Comparison {
            attr,
            op,
            value: if op == Op::Pr { None } else { Some(lit) },
        })
    });
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Expr::Not(Box::new(a))),
        ]
    })
}

fn arb_event() -> impl Strategy<Value = Value> {
    (
        "[a-cA-C.]{0,3}",
        proptest::option::of("[a-c]{0,2}"),
        proptest::collection::vec("[a-cA-C]{0,2}", 0..3),
        proptest::option::of(-3i64..4),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(ty, actor, targets, n, flag)| {
            let mut e = json!({"eventType": ty});
            if let Some(a) = actor {
                e["actor"] = json!({"id": a});
            }
            e["target"] = Value::Array(targets.into_iter().map(|t| json!({"id": t})).collect());
            if let Some(n) = n {
                e["n"] = json!(n);
            }
            if let Some(b) = flag {
                e["flag"] = json!(b);
            }
            e
        })
}

/// A deliberately plain evaluator written from the semantics in the module doc, sharing no code
/// with `matcher.rs`.
fn reference(expr: &Expr, doc: &Value) -> bool {
    match expr {
        Expr::And(a, b) => reference(a, doc) && reference(b, doc),
        Expr::Or(a, b) => reference(a, doc) || reference(b, doc),
        Expr::Not(a) => !reference(a, doc),
        Expr::Compare(c) => {
            let mut values = Vec::new();
            collect(doc, &c.attr.split('.').collect::<Vec<_>>(), &mut values);
            let text = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            let num = |v: &Value| match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            let lit_text = match &c.value {
                Some(Literal::String(s)) => s.clone(),
                Some(Literal::Number(n)) => n.clone(),
                Some(Literal::Bool(b)) => b.to_string(),
                Some(Literal::Null) => "null".into(),
                None => String::new(),
            };
            let lit_num = match &c.value {
                Some(Literal::Number(n)) => n.parse::<f64>().ok(),
                _ => None,
            };
            let eq = |values: &[Value]| match &c.value {
                Some(Literal::Null) => values.is_empty() || values.iter().any(Value::is_null),
                Some(Literal::Number(_)) => {
                    values.iter().any(|v| num(v).is_some() && num(v) == lit_num)
                }
                _ => values
                    .iter()
                    .any(|v| text(v).is_some_and(|t| t.to_lowercase() == lit_text.to_lowercase())),
            };
            match c.op {
                Op::Eq => eq(&values),
                Op::Ne => !eq(&values),
                Op::Pr => values.iter().any(|v| match v {
                    Value::Null => false,
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                }),
                Op::Sw | Op::Co | Op::Ew => values.iter().any(|v| {
                    text(v).is_some_and(|t| {
                        let (t, l) = (t.to_lowercase(), lit_text.to_lowercase());
                        match c.op {
                            Op::Sw => t.starts_with(&l),
                            Op::Ew => t.ends_with(&l),
                            _ => t.contains(&l),
                        }
                    })
                }),
                _ => {
                    if matches!(c.value, Some(Literal::Null) | None) {
                        return false;
                    }
                    values.iter().any(|v| {
                        let ord = match (lit_num, num(v)) {
                            (Some(l), Some(n)) => n.partial_cmp(&l),
                            _ => text(v).map(|t| t.as_str().cmp(lit_text.as_str())),
                        };
                        ord.is_some_and(|o| match c.op {
                            Op::Gt => o.is_gt(),
                            Op::Ge => o.is_ge(),
                            Op::Lt => o.is_lt(),
                            _ => o.is_le(),
                        })
                    })
                }
            }
        }
    }
}

fn collect(v: &Value, path: &[&str], out: &mut Vec<Value>) {
    match (path.split_first(), v) {
        (None, Value::Array(items)) => {
            out.extend(items.iter().cloned());
            out.push(v.clone());
        }
        (None, _) => out.push(v.clone()),
        (Some((head, rest)), Value::Object(map)) => {
            if let Some(child) = map.get(*head) {
                collect(child, rest, out);
            }
        }
        (Some(_), Value::Array(items)) => {
            for item in items {
                collect(item, path, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #[test]
    fn printing_and_reparsing_gives_the_same_tree(expr in arb_expr()) {
        let text = expr.to_string();
        let back = Filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(back.expr(), &expr);
    }

    #[test]
    fn evaluation_agrees_with_the_reference(expr in arb_expr(), doc in arb_event()) {
        let filter = Filter::from_expr(expr.clone());
        prop_assert_eq!(filter.matches_value(&doc), reference(&expr, &doc), "{}", expr);
    }

    #[test]
    fn parsing_never_panics(text in ".{0,80}") {
        let _ = Filter::parse(&text);
    }

    #[test]
    fn parsing_filter_like_text_never_panics(text in r#"[a-z. ()"=\\0-9-]{0,60}"#) {
        if let Ok(f) = Filter::parse(&text) {
            let again = Filter::parse(&f.to_string()).unwrap();
            prop_assert_eq!(again.expr(), f.expr());
        }
    }
}
