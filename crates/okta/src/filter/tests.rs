//! Filter and keyword tests: each operator on real sample events, precedence, printing, error
//! columns, Okta's restrictions, Okta's customer-detection catalogue, an allocation count for
//! evaluation, and property tests (print/parse round trip, agreement with a plain reference
//! evaluator, parsing arbitrary text).

use super::*;
use crate::import::EventReader;
use proptest::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};

// ---- fixtures ----

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/okta")
}

/// Event `index` (0-based) of a file in `shared/okta/samples`.
fn sample(file: &str, index: usize) -> LogEvent {
    EventReader::open(&shared().join("samples").join(file))
        .unwrap()
        .nth(index)
        .unwrap()
        .unwrap()
        .event
}

/// Okta's OpenAPI `listLogs` example: `user.session.start` with `securityContext.risk`,
/// `userBehaviors[]`, a numeric `postalCode`, `null` `client.zone` and `outcome.reason`.
fn session_start() -> LogEvent {
    sample("okta-openapi-listlogs.ndjson", 1)
}

/// OCSF's `group.user_membership.add`: two targets (`UserGroup`, `User`), a string
/// `client.geographicalContext.postalCode`, `debugData.url`.
fn membership_add() -> LogEvent {
    sample("ocsf-examples-okta-system-logs.ndjson", 5)
}

fn matches(event: &LogEvent, filter: &str) -> bool {
    Filter::parse(filter)
        .unwrap_or_else(|e| panic!("{e}"))
        .matches(event)
}

fn tree(text: &str) -> Expr {
    Filter::parse(text)
        .unwrap_or_else(|e| panic!("{e}"))
        .expr()
        .clone()
}

// ---- operators on real events ----

#[test]
fn eq_is_case_insensitive_and_whole_value() {
    let e = session_start();
    assert!(matches(&e, r#"eventType eq "user.session.start""#));
    assert!(matches(&e, r#"eventType eq "USER.Session.START""#));
    assert!(!matches(&e, r#"eventType eq "user.session""#));
    assert!(matches(
        &e,
        r#"actor.alternateId eq "John.Doe@example.com""#
    ));
    assert!(
        !matches(&e, r#"EventType eq "user.session.start""#),
        "names are case-sensitive"
    );
}

#[test]
fn ne_negates_eq_over_the_whole_event() {
    let e = membership_add();
    assert!(!matches(&e, r#"eventType ne "group.user_membership.add""#));
    assert!(matches(&e, r#"eventType ne "user.session.start""#));
    assert!(
        !matches(&e, r#"target.type ne "User""#),
        "one target is a User"
    );
    assert!(matches(&e, r#"target.type ne "Token""#));
    assert!(matches(&e, r#"actor.nothing ne "x""#), "absent field");
}

#[test]
fn sw_co_ew_compare_text_case_insensitively() {
    let e = session_start();
    assert!(matches(&e, r#"eventType sw "USER.session""#));
    assert!(!matches(&e, r#"eventType sw "session""#));
    assert!(matches(&e, r#"eventType ew ".START""#));
    assert!(!matches(&e, r#"eventType ew "user""#));
    assert!(matches(
        &e,
        r#"client.userAgent.rawUserAgent co "chrome/127""#
    ));
    assert!(!matches(
        &e,
        r#"client.userAgent.rawUserAgent co "firefox""#
    ));
    assert!(matches(
        &e,
        r#"debugContext.debugData.requestUri sw "/idp/idx""#
    ));
    assert!(
        matches(&e, r#"securityContext.asNumber sw "3940""#),
        "number text"
    );
    assert!(matches(&e, r#"device.managed co "fal""#), "boolean text");
    assert!(matches(&e, r#"eventType co """#), "empty needle");
    assert!(
        !matches(&e, r#"outcome.reason co "null""#),
        "null has no text"
    );
}

#[test]
fn gt_ge_lt_le_are_numeric_for_numbers_and_lexicographic_otherwise() {
    let e = session_start();
    assert!(matches(&e, "securityContext.asNumber gt 394088"));
    assert!(!matches(&e, "securityContext.asNumber gt 394089"));
    assert!(matches(&e, "securityContext.asNumber ge 394089"));
    assert!(matches(&e, "securityContext.asNumber le 394089.0"));
    assert!(matches(&e, "securityContext.asNumber lt 4e5"));
    assert!(matches(
        &e,
        "client.geographicalContext.geolocation.lon lt -74"
    ));
    // A string literal compares text: "394089" < "5".
    assert!(!matches(&e, r#"securityContext.asNumber gt "5""#));
    // ISO 8601 times compare chronologically.
    assert!(matches(&e, r#"published gt "2024-08-13T15:58:20.000Z""#));
    assert!(matches(&e, r#"published lt "2024-08-13T15:58:20.4Z""#));
    assert!(
        matches(&e, r#"published ge "2024-08-13T15:58:20.353z""#),
        "case-insensitive"
    );
    assert!(!matches(&e, r#"published lt "2024-08-13""#));
    // A numeric string against a number literal is numeric: "10013" > 9999, unlike text order.
    let m = membership_add();
    assert!(matches(&m, "client.geographicalContext.postalCode gt 9999"));
    assert!(!matches(
        &m,
        r#"client.geographicalContext.postalCode gt "9999""#
    ));
    assert!(
        !matches(&e, "outcome.reason gt 0"),
        "null orders against nothing"
    );
    assert!(!matches(&e, "actor gt 0"), "objects order against nothing");
}

#[test]
fn pr_needs_a_non_empty_value() {
    let e = session_start();
    assert!(matches(&e, "securityContext.risk.level pr"));
    assert!(matches(&e, "securityContext.userBehaviors pr"));
    assert!(matches(&e, "device.managed pr"), "false is present");
    assert!(
        matches(&e, "authenticationContext.authenticationStep pr"),
        "0 is present"
    );
    assert!(!matches(&e, "outcome.reason pr"), "null");
    assert!(!matches(&e, "transaction.detail pr"), "null");
    assert!(!matches(&e, "actor.nothing pr"), "absent");
    let empty = json!({"s": "", "a": [], "o": {}, "n": [null]});
    let f = |s: &str| Filter::parse(s).unwrap().matches_value(&empty);
    assert!(!f("s pr") && !f("a pr") && !f("o pr"));
    assert!(f("n pr"), "a non-empty array is present");
}

#[test]
fn null_literal_matches_absent_or_null() {
    let e = session_start();
    assert!(matches(&e, "outcome.reason eq null"));
    assert!(matches(&e, "client.zone eq NULL"));
    assert!(matches(&e, "actor.nothing eq null"));
    assert!(!matches(&e, "outcome.result eq null"));
    assert!(!matches(&e, "outcome.reason ne null"));
    assert!(matches(&e, "outcome.result ne null"));
    assert!(
        !matches(&e, r#"client.zone eq "null""#),
        "JSON null is not the string"
    );
    assert!(
        !matches(&e, "client.zone sw null"),
        "null only means something to eq/ne"
    );
}

#[test]
fn paths_fan_out_over_arrays() {
    let m = membership_add();
    assert!(matches(
        &m,
        r#"target.type eq "UserGroup" and target.type eq "User""#
    ));
    assert!(!matches(
        &m,
        r#"target.type eq "UserGroup" and target.type eq "Token""#
    ));
    assert!(matches(&m, r#"target.displayName co "test user""#));
    assert!(
        matches(&m, r#"target.0.displayName eq "TEST Group""#),
        "index"
    );
    assert!(!matches(&m, r#"target.0.type eq "User""#));
    assert!(matches(&m, r#"target.1.type eq "User""#));
    assert!(matches(
        &m,
        r#"request.ipChain.geographicalContext.city eq "new york""#
    ));
    let e = session_start();
    assert!(matches(
        &e,
        r#"securityContext.userBehaviors.name eq "New Geo-Location""#
    ));
    assert!(
        matches(&e, r#"securityContext.risk.reasons eq "anomalous device""#),
        "leaf array"
    );
}

#[test]
fn mixed_types_compare_text_forms() {
    let e = session_start();
    assert!(matches(&e, r#"securityContext.isProxy eq "false""#));
    assert!(matches(&e, r#"securityContext.isProxy eq "FALSE""#));
    assert!(matches(&e, "securityContext.isProxy eq false"));
    assert!(!matches(&e, "securityContext.isProxy eq true"));
    assert!(matches(&e, r#"securityContext.asNumber eq "394089""#));
    assert!(
        matches(&e, "securityContext.asNumber eq 394089.0"),
        "numeric"
    );
    assert!(matches(
        &e,
        "client.geographicalContext.postalCode eq 10013"
    ));
    let m = membership_add();
    // The string "10013" against a number literal: text forms.
    assert!(matches(
        &m,
        "client.geographicalContext.postalCode eq 10013"
    ));
    assert!(!matches(
        &m,
        "client.geographicalContext.postalCode eq 10013.0"
    ));
    assert!(matches(
        &m,
        r#"client.geographicalContext.postalCode eq "10013""#
    ));
    let flags = json!({"proxy": "TRUE", "n": 1.0, "big": 9007199254740993_u64});
    let f = |s: &str| Filter::parse(s).unwrap().matches_value(&flags);
    assert!(f("proxy eq true"), "string field, boolean literal");
    assert!(
        f(r#"n eq "1.0""#) && !f(r#"n eq "1""#),
        "number text is serde_json's"
    );
    assert!(f("n eq 1"));
    assert!(
        f("big eq 9007199254740993") && !f("big eq 9007199254740992"),
        "exact"
    );
}

#[test]
fn unicode_values_fold_character_by_character() {
    let doc = json!({"name": "ÉCOLE ΑΣ", "kelvin": "\u{212A}elvin"});
    let f = |s: &str| Filter::parse(s).unwrap().matches_value(&doc);
    assert!(f(r#"name eq "école ασ""#));
    assert!(f(r#"name sw "éCo""#) && f(r#"name ew "σ""#) && f(r#"name co "le α""#));
    assert!(
        f(r#"kelvin eq "KELVIN""#),
        "the Kelvin sign lowercases to k"
    );
    assert!(f(r#"name gt "école""#) && f(r#"name lt "écolf""#));
}

#[test]
fn real_samples_agree_with_hand_written_checks() {
    let f = Filter::parse(r#"eventType sw "user.session" and client.ipAddress pr"#).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(shared().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    let (mut events, mut hits) = (0, 0);
    for path in files {
        for record in EventReader::open(&path).unwrap() {
            let event = record.unwrap().event;
            let want = event.event_type().starts_with("user.session")
                // Not `client_ip()`, which reads the string "null" as absent; `pr` does not.
                && event
                    .doc()
                    .pointer("/client/ipAddress")
                    .and_then(Value::as_str)
                    .is_some_and(|ip| !ip.is_empty());
            assert_eq!(f.matches(&event), want, "{}", event.raw());
            events += 1;
            hits += usize::from(want);
        }
    }
    assert!(events > 30 && hits > 3, "{events} events, {hits} hits");
}

// ---- syntax ----

#[test]
fn not_binds_tighter_than_and_tighter_than_or() {
    assert_eq!(
        tree(r#"a eq "1" or b eq "2" and c eq "3""#),
        tree(r#"a eq "1" or (b eq "2" and c eq "3")"#)
    );
    assert_eq!(
        tree(r#"not a eq "1" and b eq "2""#),
        tree(r#"(not a eq "1") and b eq "2""#)
    );
    assert_eq!(
        tree(r#"a eq "1" and b eq "2" or not c pr and d pr"#),
        tree(r#"(a eq "1" and b eq "2") or ((not (c pr)) and d pr)"#)
    );
    let Expr::Or(left, _) = tree("a pr or b pr or c pr") else {
        panic!("or at the top")
    };
    assert!(matches!(*left, Expr::Or(..)), "or is left-associative");
    let Expr::And(left, _) = tree("a pr and b pr and c pr") else {
        panic!("and at the top")
    };
    assert!(matches!(*left, Expr::And(..)), "and is left-associative");
    assert_eq!(tree("not not a pr"), Expr::Not(Box::new(tree("not a pr"))));
}

#[test]
fn evaluation_follows_precedence() {
    let e = session_start();
    assert!(matches(
        &e,
        r#"eventType eq "x" and outcome.result eq "y" or actor.id eq "00uttidj01jqL21aM1d6""#
    ));
    assert!(!matches(
        &e,
        r#"eventType eq "x" and (outcome.result eq "y" or actor.id eq "00uttidj01jqL21aM1d6")"#
    ));
    assert!(!matches(&e, r#"not eventType pr or outcome.reason pr"#));
    assert!(matches(
        &e,
        r#"not (eventType eq "x") and not outcome.reason pr"#
    ));
}

#[test]
fn operators_keywords_and_literals_are_case_insensitive() {
    assert_eq!(
        tree(r#"a Eq "x" AND b SW "y" Or NOT c Pr aNd d GT 1 and e eq TRUE and f ne Null"#),
        tree(r#"a eq "x" and b sw "y" or not c pr and d gt 1 and e eq true and f ne null"#)
    );
    for op in Op::ALL {
        let upper = op.as_str().to_uppercase();
        let text = if op == Op::Pr {
            format!("a {upper}")
        } else {
            format!("a {upper} 1")
        };
        let Expr::Compare(c) = tree(&text) else {
            panic!("{text}")
        };
        assert_eq!(c.op, op);
    }
}

#[test]
fn prints_canonical_syntax_with_minimal_parentheses() {
    let cases = [
        (r#"a EQ "x""#, r#"a eq "x""#),
        ("((a pr))", "a pr"),
        ("(a pr or b pr) or c pr", "a pr or b pr or c pr"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr and b pr or c pr", "a pr and b pr or c pr"),
        ("not a pr", "not (a pr)"),
        ("NOT(a pr and b pr)", "not (a pr and b pr)"),
        ("not not a pr", "not (not (a pr))"),
        (
            "a eq 1.50 or a eq -0 or a eq 1E+3",
            "a eq 1.50 or a eq -0 or a eq 1E+3",
        ),
        (r#"a eq "\u00e9\/\"\\\n\u0001""#, r#"a eq "é/\"\\\n\u0001""#),
        ("a.$ref-x_1 eq False", "a.$ref-x_1 eq false"),
    ];
    for (input, printed) in cases {
        let filter = Filter::parse(input).unwrap();
        assert_eq!(filter.to_string(), printed, "{input}");
        assert_eq!(
            Filter::parse(printed).unwrap().expr(),
            filter.expr(),
            "{input}"
        );
    }
}

#[test]
fn errors_name_column_expected_and_found() {
    let operators = "an operator (eq, ne, gt, ge, lt, le, sw, co, ew, pr)";
    let value = "a quoted string, number, true, false or null";
    let attribute = "an attribute name, `not` or `(`";
    let cases: &[(&str, usize, &str, &str)] = &[
        ("eventType eq", 13, value, "end of input"),
        (r#"eventType equals "x""#, 11, operators, "`equals`"),
        (r#"eventType in ["a"]"#, 11, operators, "`in`"),
        ("eventType", 10, operators, "end of input"),
        (
            r#"eventType eq "x"#,
            14,
            "a closing `\"` for the string starting here",
            "end of input",
        ),
        (
            r#"(eventType eq "x""#,
            18,
            "`and`, `or` or `)` to close the `(` at column 1",
            "end of input",
        ),
        (
            r#"eventType eq "x")"#,
            17,
            "`and`, `or` or end of input",
            "`)` without a matching `(`",
        ),
        (r#"eventType eq "x" and"#, 21, attribute, "end of input"),
        ("not", 4, attribute, "end of input"),
        (
            "(a pr))",
            7,
            "`and`, `or` or end of input",
            "`)` without a matching `(`",
        ),
        (
            "((a pr) b pr)",
            9,
            "`and`, `or` or `)` to close the `(` at column 1",
            "`b`",
        ),
        ("a pr and ()", 11, attribute, "`)`"),
        (r#"a eq "x" and or b pr"#, 14, attribute, "`or`"),
        (r#""x" eq eventType"#, 1, attribute, r#"the string "x""#),
        (
            r#"eventType eq "x" # 1"#,
            18,
            "`and`, `or` or end of input",
            "`#`",
        ),
        (
            r#"a eq "x" b eq "y""#,
            10,
            "`and`, `or` or end of input",
            "`b`",
        ),
        ("a pr 1", 6, "`and`, `or` or end of input", "the number 1"),
        (
            "",
            1,
            "a filter expression, e.g. `eventType eq \"user.session.start\"`",
            "end of input",
        ),
        (
            "  ",
            3,
            "a filter expression, e.g. `eventType eq \"user.session.start\"`",
            "end of input",
        ),
        (
            "a eq 1.2.3",
            6,
            "a number (JSON syntax, e.g. 42, -1.5, 1e3)",
            "`1.2.3`",
        ),
        (
            "a eq 01",
            6,
            "a number (JSON syntax, e.g. 42, -1.5, 1e3)",
            "`01`",
        ),
        ("a eq tru", 6, value, "`tru`"),
        ("a eq 'x'", 6, value, "`'`"),
        (
            r#"a eq "x\qy""#,
            8,
            "a JSON escape (`\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` or `\\uXXXX`)",
            "`\\q`",
        ),
        (
            r#"a eq "\u12G4""#,
            7,
            "four hex digits after `\\u`",
            "`\\u12G`",
        ),
        (
            r#"a eq "\ud800x""#,
            7,
            "a low surrogate `\\uDC00`-`\\uDFFF` after a high surrogate",
            "`\\ud800`",
        ),
        (
            "a eq \"tab\there\"",
            10,
            "a character or an escape such as `\\n` (JSON strings cannot contain control \
             characters)",
            "the character U+0009",
        ),
        ("_a eq 1", 1, attribute, "`_`"),
        ("not eq 1", 8, operators, "the number 1"),
        (
            "a..b pr",
            1,
            "an attribute path such as `actor.id` (names joined by single dots)",
            "`a..b`",
        ),
        ("ünïcødé eq (", 12, value, "`(`"),
    ];
    for &(input, column, expected, found) in cases {
        let err = Filter::parse(input).unwrap_err();
        let want = FilterError::Unexpected {
            input: input.to_string(),
            column,
            expected: expected.to_string(),
            found: found.to_string(),
        };
        assert_eq!(err, want, "{input}");
        assert_eq!(err.column(), column);
        assert_eq!(err.okta_code(), "E0000053");
    }
    assert_eq!(
        Filter::parse("eventType eq").unwrap_err().to_string(),
        "filter `eventType eq`: column 13: expected a quoted string, number, true, false or \
         null, found end of input"
    );
}

#[test]
fn depth_is_capped_and_the_cap_is_safe() {
    let chain = |n: usize, op: &str| vec!["a eq 1"; n].join(op);
    let nots = |n: usize| format!("{}a pr", "not ".repeat(n));
    let right_nested = |n: usize| format!("{}a pr{}", "a pr or (".repeat(n - 1), ")".repeat(n - 1));
    let too_deep = |text: &str| match Filter::parse(text) {
        Err(FilterError::TooComplex { limit, column, .. }) => {
            assert_eq!(limit, MAX_DEPTH);
            column
        }
        other => panic!("{other:?}"),
    };
    // The column is that of the operator that went one level too deep.
    assert_eq!(
        too_deep(&chain(MAX_DEPTH + 1, " and ")),
        8 + 11 * (MAX_DEPTH - 1)
    );
    assert_eq!(too_deep(&nots(MAX_DEPTH)), 1);
    too_deep(&right_nested(MAX_DEPTH + 1));
    // Parentheses alone add no depth, and the parser does not recurse on them.
    let parens = 100_000;
    let text = format!("{}a pr{}", "(".repeat(parens), ")".repeat(parens));
    assert_eq!(Filter::parse(&text).unwrap().to_string(), "a pr");
    // At the limit, everything that walks the tree runs on half a test thread's stack, even
    // unoptimised; `not (a pr and not (…))` is the costliest shape.
    let alternating = format!(
        "{}a pr{}",
        "not (a pr and ".repeat(MAX_DEPTH / 2 - 1),
        ")".repeat(MAX_DEPTH / 2 - 1)
    );
    let texts = [
        chain(MAX_DEPTH, " and "),
        chain(MAX_DEPTH, " or "),
        nots(MAX_DEPTH - 1),
        right_nested(MAX_DEPTH),
        alternating,
    ];
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            for text in texts {
                let f = Filter::parse(&text).unwrap();
                let again = Filter::parse(&f.to_string()).unwrap();
                assert!(again.expr() == f.clone().expr());
                let _ = f.matches_value(&json!({"a": 1}));
                let _ = f.okta_restrictions();
                let _ = format!("{f:?}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn okta_restrictions_tell_e0000053_from_e0000031() {
    let err = |text: &str| {
        Filter::parse(text)
            .unwrap()
            .okta_restrictions()
            .unwrap_err()
    };
    let published = err(r#"eventType pr and published gt "2024-01-01T00:00:00Z""#);
    assert!(matches!(&published, FilterError::InvalidField { field, .. } if field == "published"));
    assert_eq!(published.okta_code(), "E0000053");
    assert!(published
        .to_string()
        .contains("field is not valid: published"));
    for field in [
        "debugContext.debugData.url",
        "debugContext.debugData.requestUri",
    ] {
        let co = err(&format!(r#"not ({field} co "/api/v1")"#));
        assert!(
            matches!(&co, FilterError::UnsupportedOperator { field: f, op: Op::Co, .. } if f == field)
        );
        assert_eq!(co.okta_code(), "E0000031");
    }
    let ok = |text: &str| Filter::parse(text).unwrap().okta_restrictions().is_ok();
    assert!(ok(
        r#"debugContext.debugData.requestUri eq "/api/v1/authn""#
    ));
    assert!(ok(r#"debugContext.debugData.url sw "/api/""#));
    assert!(ok(r#"debugContext.debugData.risk co "HIGH""#));
    assert!(ok(r#"target.published eq "x""#));
}

// ---- keywords (`q`) ----

#[test]
fn keywords_match_values_words_and_hyphen_parts() {
    let e = session_start();
    let k = |q: &str| Keywords::parse(q).unwrap().matches(&e);
    assert!(k("john.doe@example.com"), "a whole value");
    assert!(k("JOHN doe"), "words of a value, any case");
    assert!(k("Geo"), "a part of a hyphenated word (New Geo-Location)");
    assert!(k("geo-location"));
    assert!(k("394089 false"), "numbers and booleans");
    assert!(!k("joh"), "keywords are not substrings");
    assert!(!k("john nothing"), "every keyword must match");
    assert!(!k("actor"), "keys never match");
    assert!(!k("null"), "null matches nothing");
    assert!(k(""), "no keywords match everything");
    let hyphen = json!({"token": "XOxBw-2JIRn"});
    assert!(Keywords::parse("xoxbw 2jirn")
        .unwrap()
        .matches_value(&hyphen));
    assert_eq!(
        Keywords::parse(" A  b\tÉ ").unwrap().terms(),
        ["a", "b", "é"]
    );
}

#[test]
fn keywords_enforce_okta_limits() {
    assert!(Keywords::parse(&["k"; MAX_KEYWORDS].join(" ")).is_ok());
    let err = Keywords::parse(&["k"; MAX_KEYWORDS + 1].join(" ")).unwrap_err();
    assert!(matches!(
        err,
        KeywordError::TooMany {
            count: 11,
            limit: 10,
            ..
        }
    ));
    assert_eq!(err.okta_code(), "E0000001");
    assert!(
        Keywords::parse(&"é".repeat(MAX_KEYWORD_CHARS)).is_ok(),
        "characters, not bytes"
    );
    let long = "x".repeat(MAX_KEYWORD_CHARS + 1);
    let err = Keywords::parse(&format!("ok {long}")).unwrap_err();
    assert_eq!(
        err,
        KeywordError::TooLong {
            input: format!("ok {long}"),
            position: 2,
            keyword: long.clone(),
            chars: 41,
            limit: 40,
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "q `ok {long}`: keyword 2 `{long}` has 41 characters: Freeform search cannot \
             contain items longer than 40 characters"
        )
    );
}

// ---- Okta's customer-detection catalogue ----

/// `(file name, query)` for every `detection.okta_systemlog.OIE` block, read line by line: the
/// lines after `OIE: |` that are indented deeper than it (or blank).
fn catalogue_queries() -> Vec<(String, String)> {
    let root = shared().join("customer-detections");
    let mut out = Vec::new();
    for sub in ["detections", "hunts"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let indent = |line: &str| line.len() - line.trim_start().len();
            for (i, line) in lines.iter().enumerate() {
                if line.trim() != "OIE: |" {
                    continue;
                }
                let block: Vec<&str> = lines[i + 1..]
                    .iter()
                    .take_while(|l| l.trim().is_empty() || indent(l) > indent(line))
                    .map(|l| l.trim())
                    .filter(|l| !l.is_empty())
                    .collect();
                let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
                out.push((name, block.join(" ")));
            }
        }
    }
    out
}

#[test]
fn customer_detection_queries_parse_except_the_known_list() {
    let queries = catalogue_queries();
    assert_eq!(
        queries.len(),
        37,
        "25 detections and 12 hunts have an OIE query"
    );
    // Each with why it cannot parse; keep in sync with the module doc.
    let known: &[(&str, &str, usize)] = &[(
        "detections/api_token_excessive_network_access.yml",
        // `in [...]` is not System Log filter syntax.
        "`in`",
        11,
    )];
    let mut failures = Vec::new();
    for (name, query) in &queries {
        match Filter::parse(query) {
            Ok(filter) => {
                let again = Filter::parse(&filter.to_string()).unwrap();
                assert_eq!(again.expr(), filter.expr(), "{name}");
                filter.okta_restrictions().unwrap();
            }
            Err(FilterError::Unexpected { column, found, .. }) => {
                failures.push((name.as_str(), found, column));
            }
            Err(other) => panic!("{name}: {other}"),
        }
    }
    let known: Vec<_> = known
        .iter()
        .map(|&(name, found, column)| (name, found.to_string(), column))
        .collect();
    assert_eq!(failures, known);
}

// ---- allocation ----

mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts allocations per thread, so parallel tests do not disturb each other.
    pub(super) struct Counting;

    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: defers to `System`; the counter is a const-initialised thread-local `Cell`.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: the caller's contract is passed through.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract is passed through.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    pub(super) fn allocations() -> usize {
        ALLOCATIONS.with(Cell::get)
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

#[test]
fn matching_does_not_allocate() {
    let event = session_start();
    let unicode = json!({"name": "ÉCOLE ΑΣ", "n": [1.5, "2"], "t": [{"id": "a"}, {"id": "b"}]});
    let filters = [
        r#"eventType eq "USER.SESSION.START" and not (outcome.result ne "success")"#,
        r#"client.userAgent.rawUserAgent co "CHROME/127" or eventType ew "x""#,
        r#"securityContext.asNumber eq "394089" and securityContext.asNumber sw "39""#,
        r#"securityContext.asNumber gt 1 and published ge "2024-01-01" and device.managed lt "x""#,
        r#"outcome.reason eq null and outcome.result ne null and actor pr"#,
        r#"securityContext.userBehaviors.name eq "new geo-location""#,
        r#"name co "le α" and name ew "σ" and name gt "e" and n ge 2 and n co "1.""#,
        r#"t.id eq "a" and t.id eq "b" and t.1.id eq "B""#,
    ]
    .map(|f| Filter::parse(f).unwrap());
    let keywords = Keywords::parse("john GEO 394089 false").unwrap();
    let mut results = [[false; 2]; 8];
    let before = counting::allocations();
    for (f, result) in filters.iter().zip(&mut results) {
        *result = [f.matches(&event), f.matches_value(&unicode)];
    }
    let keyword_hit = keywords.matches(&event);
    let after = counting::allocations();
    assert_eq!(after - before, 0, "matching allocated");
    let (t, f) = (true, false);
    let want = [
        [t, f],
        [t, f],
        [t, f],
        [t, f],
        [t, f],
        [t, f],
        [f, t],
        [f, t],
    ];
    assert_eq!(results, want);
    assert!(keyword_hit);
}

// ---- property tests ----

/// An attribute name the grammar accepts (never `and`, `or`, `not`).
fn arb_attr() -> impl Strategy<Value = String> {
    "[a-zA-Zé][a-zA-Z0-9_$é-]{0,4}(\\.[a-zA-Z0-9_$-]{1,4}){0,3}".prop_filter(
        "reserved words are not attributes",
        |a| {
            !["and", "or", "not"]
                .iter()
                .any(|k| a.eq_ignore_ascii_case(k))
        },
    )
}

fn arb_number() -> impl Strategy<Value = String> {
    "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?"
}

fn arb_literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::String),
        "[\"\\\\/a\\n\\u{1}é]{0,4}".prop_map(Literal::String),
        arb_number().prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    proptest::sample::select(Op::ALL.to_vec())
}

/// Trees over the given leaves, up to 5 levels of and/or/not.
fn arb_tree(
    attr: impl Strategy<Value = String> + 'static,
    literal: impl Strategy<Value = Literal> + 'static,
) -> impl Strategy<Value = Expr> {
    let leaf = (attr, arb_op(), literal).prop_map(|(attr, op, literal)| {
        Expr::Compare(Comparison {
            attr,
            op,
            value: (op != Op::Pr).then_some(literal),
        })
    });
    leaf.prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Expr::Not(Box::new(a))),
        ]
    })
}

/// Values from a small set with many prefix, suffix, case, numeric and Unicode relations
/// between them, so that comparisons often hold and operators often disagree.
const TEXTS: &[&str] = &[
    "",
    "x",
    "X",
    "xy",
    "xxy",
    "yx",
    "y-x",
    "1",
    "01",
    "1.0",
    "-2",
    "10",
    "2",
    "true",
    "False",
    "null",
    "é",
    "É",
    "\u{212A}",
    "k",
    "ΑΣ",
    "σ",
    "2024-01-01",
    "2024-01-02T00:00:00Z",
];
const LITERAL_NUMBERS: &[&str] = &["0", "1", "1.0", "-2", "10", "1e1", "1.5", "2"];
const PATHS: &[&str] = &["a", "b", "a.b", "b.a", "a.0", "a.1.b", "a.b.c", "0"];

fn arb_small_literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        proptest::sample::select(TEXTS).prop_map(|s| Literal::String(s.to_string())),
        proptest::sample::select(LITERAL_NUMBERS).prop_map(|n| Literal::Number(n.to_string())),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => proptest::sample::select(TEXTS).prop_map(|s| json!(s)),
        1 => proptest::sample::select(&[-2.0, 0.0, 1.0, 1.5, 2.0, 10.0][..]).prop_map(|n| json!(n)),
        1 => proptest::sample::select(&[-2_i64, 0, 1, 2, 10][..]).prop_map(|n| json!(n)),
        1 => any::<bool>().prop_map(|b| json!(b)),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            arb_object(inner),
        ]
    })
}

fn arb_object(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(proptest::sample::select(&["a", "b", "0"][..]), value, 0..3)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

/// A deliberately plain evaluator written from the semantics in the module doc; it shares no
/// code with `eval.rs` (it allocates freely and compares through `f64` and owned strings).
mod reference {
    use super::super::{Expr, Literal, Op};
    use serde_json::Value;

    pub(super) fn matches(expr: &Expr, doc: &Value) -> bool {
        match expr {
            Expr::And(a, b) => matches(a, doc) && matches(b, doc),
            Expr::Or(a, b) => matches(a, doc) || matches(b, doc),
            Expr::Not(a) => !matches(a, doc),
            Expr::Compare(c) => {
                let path: Vec<&str> = c.attr.split('.').collect();
                let values = reach(doc, &path);
                compare(c.op, c.value.as_ref(), &values)
            }
        }
    }

    /// Every value a path reaches: objects by key, arrays by index or else every element, and
    /// at the end of the path an array's elements as well as the array.
    fn reach<'a>(v: &'a Value, path: &[&str]) -> Vec<&'a Value> {
        let Some((head, rest)) = path.split_first() else {
            let mut out = vec![v];
            if let Value::Array(items) = v {
                out.extend(items.iter());
            }
            return out;
        };
        match v {
            Value::Object(map) => map.get(*head).map(|c| reach(c, rest)).unwrap_or_default(),
            Value::Array(items) => match head.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(item) => reach(item, rest),
                None => items.iter().flat_map(|item| reach(item, path)).collect(),
            },
            _ => Vec::new(),
        }
    }

    fn lower(s: &str) -> String {
        s.chars().flat_map(char::to_lowercase).collect()
    }

    fn text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn number(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) if s.trim() == s && !s.is_empty() => {
                serde_json::from_str::<serde_json::Number>(s)
                    .ok()
                    .and_then(|n| n.as_f64())
            }
            _ => None,
        }
    }

    fn compare(op: Op, literal: Option<&Literal>, values: &[&Value]) -> bool {
        if op == Op::Pr {
            return values.iter().any(|v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        let Some(literal) = literal else {
            return op == Op::Ne;
        };
        let lit_text = match literal {
            Literal::String(s) => s.clone(),
            Literal::Number(n) => n.clone(),
            Literal::Bool(b) => b.to_string(),
            Literal::Null => {
                let eq = values.is_empty() || values.iter().any(|v| v.is_null());
                return match op {
                    Op::Eq => eq,
                    Op::Ne => !eq,
                    _ => false,
                };
            }
        };
        let lit_number = match literal {
            Literal::Number(n) => n.parse::<f64>().ok(),
            _ => None,
        };
        let equal = |v: &Value| match (literal, v) {
            (Literal::Number(_), Value::Number(n)) => n.as_f64() == lit_number,
            (Literal::Bool(b), Value::Bool(c)) => b == c,
            _ => text(v).is_some_and(|t| lower(&t) == lower(&lit_text)),
        };
        match op {
            Op::Eq => values.iter().any(|v| equal(v)),
            Op::Ne => !values.iter().any(|v| equal(v)),
            Op::Sw | Op::Co | Op::Ew => values.iter().any(|v| {
                text(v).is_some_and(|t| {
                    let (t, l) = (lower(&t), lower(&lit_text));
                    match op {
                        Op::Sw => t.starts_with(&l),
                        Op::Ew => t.ends_with(&l),
                        _ => t.contains(&l),
                    }
                })
            }),
            _ => values.iter().any(|v| {
                let order = match (lit_number, number(v)) {
                    (Some(l), Some(n)) => n.partial_cmp(&l),
                    _ => text(v).map(|t| lower(&t).cmp(&lower(&lit_text))),
                };
                order.is_some_and(|o| match op {
                    Op::Gt => o.is_gt(),
                    Op::Ge => o.is_ge(),
                    Op::Lt => o.is_lt(),
                    _ => o.is_le(),
                })
            }),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_and_reparsing_gives_the_same_tree(expr in arb_tree(arb_attr(), arb_literal())) {
        let text = expr.to_string();
        let back = Filter::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.expr(), &expr);
    }

    #[test]
    fn evaluation_agrees_with_the_reference(
        expr in arb_tree(proptest::sample::select(PATHS).prop_map(String::from), arb_small_literal()),
        doc in arb_object(arb_value()),
    ) {
        let filter = Filter::from_expr(expr.clone());
        prop_assert_eq!(filter.matches_value(&doc), reference::matches(&expr, &doc), "{} on {}", expr, doc);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        check_parse(&text)?;
    }

    #[test]
    fn parsing_filter_like_text_never_panics(
        text in r#"([a-c.]{1,3}|eq|ne|gt|sw|co|pr|and|or|not|AND|\(|\)|"[a\\"]{0,3}"?|-?[0-9.e]{1,3}|true|null| ){0,12}"#
    ) {
        check_parse(&text)?;
    }
}

proptest! {
    // Each case checks every path, operator and literal: 2,800 comparisons.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_comparison_agrees_with_the_reference(doc in arb_object(arb_value())) {
        let literals = TEXTS
            .iter()
            .map(|s| Literal::String(s.to_string()))
            .chain(LITERAL_NUMBERS.iter().map(|n| Literal::Number(n.to_string())))
            .chain([Literal::Bool(true), Literal::Bool(false), Literal::Null]);
        for literal in literals {
            for op in Op::ALL {
                for attr in PATHS {
                    let expr = Expr::Compare(Comparison {
                        attr: attr.to_string(),
                        op,
                        value: (op != Op::Pr).then(|| literal.clone()),
                    });
                    let filter = Filter::from_expr(expr.clone());
                    prop_assert_eq!(
                        filter.matches_value(&doc),
                        reference::matches(&expr, &doc),
                        "{} on {}", expr, doc
                    );
                }
            }
        }
    }
}

/// Parsing `text` gives a filter that round-trips, or an error pointing inside the text.
fn check_parse(text: &str) -> Result<(), TestCaseError> {
    match Filter::parse(text) {
        Ok(filter) => {
            let again = Filter::parse(&filter.to_string())
                .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(again.expr(), filter.expr());
        }
        Err(e) => {
            prop_assert!(
                e.column() >= 1 && e.column() <= text.chars().count() + 1,
                "{}",
                e
            );
        }
    }
    Ok(())
}
