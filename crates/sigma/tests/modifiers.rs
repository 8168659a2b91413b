//! One test per value modifier of the Sigma v2.1 appendix, plus values, wildcards and escaping
//! (against an independent reference matcher), null/empty/exists, keywords, and the Okta field
//! rules (case-insensitive names, `target[]`, string/boolean coercion, derived fields).

use crate::common::{fires, rule_with, rules};
use proptest::prelude::*;
use serde_json::json;
use sigma::{CompileOptions, RuleSet};

fn sel(items: &str) -> std::sync::Arc<RuleSet> {
    rule_with(&format!(
        "    selection:\n{items}\n    condition: selection"
    ))
}

#[test]
fn plain_values_are_case_insensitive_and_cased_is_not() {
    let r = sel("        f: Hello");
    assert!(fires(&r, json!({"f": "hELLo"})));
    assert!(!fires(&r, json!({"f": "Hello there"})));
    let r = sel("        f|cased: Hello");
    assert!(fires(&r, json!({"f": "Hello"})));
    assert!(!fires(&r, json!({"f": "hello"})));
}

#[test]
fn contains_startswith_endswith() {
    let r = sel("        f|contains: mid");
    assert!(fires(&r, json!({"f": "aMIDb"})));
    assert!(!fires(&r, json!({"f": "mi d"})));
    let r = sel("        f|startswith: pre");
    assert!(fires(&r, json!({"f": "PREfix"})));
    assert!(!fires(&r, json!({"f": "xpre"})));
    let r = sel("        f|endswith: fix");
    assert!(fires(&r, json!({"f": "suFIX"})));
    assert!(!fires(&r, json!({"f": "fixed"})));
}

#[test]
fn lists_are_or_and_all_makes_them_and() {
    let r = sel("        f|contains:\n            - a1\n            - b2");
    assert!(fires(&r, json!({"f": "xb2"})));
    assert!(!fires(&r, json!({"f": "c3"})));
    let r = sel("        f|contains|all:\n            - a1\n            - b2");
    assert!(fires(&r, json!({"f": "b2 a1"})));
    assert!(!fires(&r, json!({"f": "a1 only"})));
}

#[test]
fn maps_are_and_and_lists_of_maps_are_or() {
    let r = sel("        a: 1\n        b: 2");
    assert!(fires(&r, json!({"a": 1, "b": 2})));
    assert!(!fires(&r, json!({"a": 1, "b": 3})));
    let r = sel("        - a: 1\n        - b: 2");
    assert!(fires(&r, json!({"a": 9, "b": 2})));
    assert!(!fires(&r, json!({"a": 9, "b": 9})));
}

#[test]
fn null_empty_and_exists() {
    let r = sel("        f: null");
    assert!(fires(&r, json!({"f": null})));
    assert!(fires(&r, json!({"g": 1})), "absent counts as null");
    assert!(!fires(&r, json!({"f": "x"})));
    let r = sel("        f: ''");
    assert!(fires(&r, json!({"f": ""})));
    assert!(!fires(&r, json!({"f": "x"})));
    let r = sel("        f|exists: true");
    assert!(fires(&r, json!({"f": ""})));
    assert!(!fires(&r, json!({"g": 1})));
    let r = sel("        f|exists: false");
    assert!(fires(&r, json!({"g": 1})));
    assert!(!fires(&r, json!({"f": 0})));
}

#[test]
fn neq_and_numeric_comparisons() {
    let r = sel("        f|neq: blocked");
    assert!(fires(&r, json!({"f": "allowed"})));
    assert!(!fires(&r, json!({"f": "BLOCKED"})));
    for (m, yes, no) in [("lt", 4, 5), ("lte", 5, 6), ("gt", 6, 5), ("gte", 5, 4)] {
        let r = sel(&format!("        n|{m}: 5"));
        assert!(fires(&r, json!({"n": yes})), "{m} {yes}");
        assert!(!fires(&r, json!({"n": no})), "{m} {no}");
        assert!(
            fires(&r, json!({"n": yes.to_string()})),
            "{m} on a numeric string"
        );
    }
}

#[test]
fn regex_and_its_flags() {
    let r = sel("        f|re: '^ab+c$'");
    assert!(fires(&r, json!({"f": "abbc"})));
    assert!(
        !fires(&r, json!({"f": "ABBC"})),
        "regexes are case-sensitive"
    );
    let r = sel("        f|re|i: '^ab+c$'");
    assert!(fires(&r, json!({"f": "ABBC"})));
    let r = sel("        f|re|m: '^second$'");
    assert!(fires(&r, json!({"f": "first\nsecond"})));
    let r = sel("        f|re: '^second$'");
    assert!(!fires(&r, json!({"f": "first\nsecond"})));
    let r = sel("        f|re|s: 'a.b'");
    assert!(fires(&r, json!({"f": "a\nb"})));
    let r = sel("        f|re: 'a.b'");
    assert!(!fires(&r, json!({"f": "a\nb"})));
}

#[test]
fn windash() {
    let r = sel("        f|windash|contains: ' -enc '");
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(fires(&r, json!({"f": format!("ps {dash}enc x")})), "{dash}");
    }
    assert!(!fires(&r, json!({"f": "ps +enc x"})));
}

#[test]
fn base64_and_base64offset() {
    // base64("secret") = c2VjcmV0
    let r = sel("        f|base64: secret");
    assert!(fires(&r, json!({"f": "c2VjcmV0"})));
    assert!(!fires(&r, json!({"f": "secret"})));
    let r = sel("        f|base64offset|contains: secret");
    for text in ["secret", "xsecret", "xxsecret"] {
        let encoded = base64_encode(text.as_bytes());
        assert!(fires(&r, json!({"f": encoded})), "{text} -> {encoded}");
    }
    assert!(!fires(&r, json!({"f": base64_encode(b"public")})));
}

#[test]
fn utf16_encodings_then_base64() {
    // The UTF-16 modifiers only mean something before base64 (Sigma values are text).
    for (m, bytes) in [
        ("utf16le", utf16(b"ab", false, false)),
        ("wide", utf16(b"ab", false, false)),
        ("utf16be", utf16(b"ab", true, false)),
        ("utf16", utf16(b"ab", false, true)),
    ] {
        let r = sel(&format!("        f|{m}|base64: ab"));
        assert!(fires(&r, json!({"f": base64_encode(&bytes)})), "{m}");
        assert!(
            !fires(&r, json!({"f": base64_encode(b"ab")})),
            "{m}: plain bytes differ"
        );
    }
}

#[test]
fn cidr_v4_and_v6() {
    let r = sel(
        "        client.ipAddress|cidr:\n            - 10.0.0.0/8\n            - '2001:db8::/32'",
    );
    assert!(fires(&r, json!({"client": {"ipAddress": "10.1.2.3"}})));
    assert!(fires(&r, json!({"client": {"ipAddress": "2001:db8::1"}})));
    assert!(!fires(&r, json!({"client": {"ipAddress": "11.0.0.1"}})));
}

#[test]
fn time_part_modifiers() {
    let when = json!({"t": "2024-03-05T14:37:00Z"}); // a Tuesday in week 10
    for (m, yes, no) in [
        ("minute", 37, 36),
        ("hour", 14, 15),
        ("day", 5, 6),
        ("month", 3, 4),
        ("year", 2024, 2023),
        ("week", 10, 11),
    ] {
        assert!(
            fires(&sel(&format!("        t|{m}: {yes}")), when.clone()),
            "{m}={yes}"
        );
        assert!(
            !fires(&sel(&format!("        t|{m}: {no}")), when.clone()),
            "{m}={no}"
        );
    }
}

#[test]
fn fieldref_and_fieldref_neq() {
    let r = sel("        actor.id|fieldref: target.id");
    assert!(fires(
        &r,
        json!({"actor": {"id": "00u1"}, "target": [{"id": "00u1"}]})
    ));
    assert!(!fires(
        &r,
        json!({"actor": {"id": "00u1"}, "target": [{"id": "00u2"}]})
    ));
    let r = sel("        actor.id|fieldref|neq: target.0.id");
    assert!(fires(
        &r,
        json!({"actor": {"id": "00u1"}, "target": [{"id": "00u2"}]})
    ));
    assert!(!fires(
        &r,
        json!({"actor": {"id": "00u1"}, "target": [{"id": "00u1"}]})
    ));
}

#[test]
fn expand_uses_configured_placeholders_with_other_modifiers() {
    let yaml = "title: T\nid: t\nlogsource: {product: okta}\ndetection:\n    selection:\n        actor.alternateId|endswith|expand: '%domains%'\n    condition: selection\n";
    let mut options = CompileOptions::default();
    options.placeholders.insert(
        "domains".into(),
        vec!["@example.com".into(), "@example.org".into()],
    );
    let r = RuleSet::from_yaml(yaml, &options).unwrap();
    assert!(fires(
        &r,
        json!({"actor": {"alternateId": "a@EXAMPLE.org"}})
    ));
    assert!(!fires(
        &r,
        json!({"actor": {"alternateId": "a@example.net"}})
    ));
    let err = RuleSet::from_yaml(yaml, &CompileOptions::default()).unwrap_err();
    assert!(err.to_string().contains("%domains%"), "{err}");
    assert_eq!(err.errors[0].line, 6, "{err}");
}

#[test]
fn unknown_modifiers_and_extensions_are_rejected_clearly() {
    let err = RuleSet::from_yaml(
        "title: T\nid: t\nlogsource: {product: okta}\ndetection:\n    selection:\n        f|fuzzy: x\n    condition: selection\n",
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].line, 6, "{err}");
    assert!(err.errors[0].message.contains("fuzzy"), "{err}");
    let err = RuleSet::from_yaml(
        "title: T\nid: t\nlogsource: {product: okta}\ndetection:\n    selection:\n        f|re: '(unclosed'\n    condition: selection\n",
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(err.errors[0].message.contains("regex"), "{err}");
    let err = RuleSet::from_yaml(
        "title: T\nid: t\nlogsource: {product: okta}\ndetection:\n    selection:\n        f: x\n    condition: selection and missing\n",
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(err.errors[0].message.contains("missing"), "{err}");
}

#[test]
fn keywords_search_every_string() {
    let r = rule_with(
        "    keywords:\n        - 'evil*tool'\n        - backdoor\n    condition: keywords",
    );
    assert!(fires(
        &r,
        json!({"a": {"b": ["x", "an EVIL hacking tool"]}})
    ));
    assert!(fires(&r, json!({"displayMessage": "Backdoor"})));
    assert!(!fires(&r, json!({"a": "benign"})));
}

#[test]
fn okta_field_names_arrays_and_coercion() {
    let r = sel("        eventType: user.session.start\n        securityContext.isProxy: 'true'\n        target.displayName: 'Okta Admin Console'");
    let camel = json!({"eventType": "user.session.start", "securityContext": {"isProxy": true}, "target": [{"displayName": "x"}, {"displayName": "Okta Admin Console"}]});
    let lower = json!({"eventtype": "user.session.start", "securitycontext": {"isproxy": true}, "target": [{"displayname": "okta admin console"}]});
    assert!(fires(&r, camel));
    assert!(
        fires(&r, lower),
        "lowercase keys resolve case-insensitively"
    );
    assert!(!fires(
        &r,
        json!({"eventType": "user.session.start", "securityContext": {"isProxy": false}, "target": [{"displayName": "Okta Admin Console"}]})
    ));
    let r = sel("        target.0.displayName: first");
    assert!(fires(
        &r,
        json!({"target": [{"displayName": "first"}, {"displayName": "second"}]})
    ));
    assert!(!fires(
        &r,
        json!({"target": [{"displayName": "second"}, {"displayName": "first"}]})
    ));
    let r = sel("        securityContext.asNumber: 13335");
    assert!(fires(&r, json!({"securityContext": {"asNumber": 13335}})));
    assert!(fires(&r, json!({"securityContext": {"asNumber": "13335"}})));
}

#[test]
fn derived_fields_from_okta_embedded_strings() {
    let r = sel("        debugContext.debugData.behaviors.New Device: POSITIVE\n        debugContext.debugData.risk.level: HIGH");
    let e = json!({"debugContext": {"debugData": {"behaviors": "{New Geo-Location=NEGATIVE, New Device=POSITIVE}", "risk": "{reasons=Anomalous Device, level=HIGH}"}}});
    assert!(fires(&r, e));
    let e = json!({"debugContext": {"debugData": {"behaviors": "{New Device=NEGATIVE}", "risk": "{level=HIGH}"}}});
    assert!(!fires(&r, e));
    let r = sel("        debugContext.debugData.logOnlySecurityData.risk.level: LOW");
    assert!(fires(
        &r,
        json!({"debugContext": {"debugData": {"logOnlySecurityData": "{\"risk\":{\"level\":\"LOW\"}}"}}})
    ));
    // The raw string is still the field's value.
    let r = sel("        debugContext.debugData.behaviors|contains: 'New Device=POSITIVE'");
    assert!(fires(
        &r,
        json!({"debugContext": {"debugData": {"behaviors": "{New Device=POSITIVE}"}}})
    ));
}

/// The spec's wildcard and escape rules, written independently of RSigma: `*` any run, `?` one
/// character, `\*` `\?` literal, `\\` a backslash (so `\\*` is a backslash then a wildcard),
/// any other `\` literal; matching is case-insensitive.
fn reference_match(pattern: &str, text: &str) -> bool {
    #[derive(Debug)]
    enum Tok {
        Lit(char),
        Any,
        One,
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('*') | Some('?') | Some('\\') => {
                    toks.push(Tok::Lit(chars.next().unwrap_or('\\')))
                }
                _ => toks.push(Tok::Lit('\\')),
            },
            '*' => toks.push(Tok::Any),
            '?' => toks.push(Tok::One),
            c => toks.push(Tok::Lit(c)),
        }
    }
    let text: Vec<char> = text.to_lowercase().chars().collect();
    fn go(t: &[Tok], s: &[char]) -> bool {
        match t.split_first() {
            None => s.is_empty(),
            Some((Tok::Any, rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some((Tok::One, rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((Tok::Lit(c), rest)) => {
                s.first()
                    .is_some_and(|x| c.to_lowercase().eq(x.to_lowercase()))
                    && go(rest, &s[1..])
            }
        }
    }
    go(&toks, &text)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn wildcards_and_escapes_follow_the_spec(
        pattern in "[ab*?\\\\]{0,7}",
        text in "[abAB*?\\\\]{0,7}",
    ) {
        let yaml_pattern = pattern.replace('\'', "''");
        let r = rules(&format!("title: T\nid: t\nlogsource: {{product: okta}}\ndetection:\n    selection:\n        f: '{yaml_pattern}'\n    condition: selection\n"));
        let got = fires(&r, json!({"f": text}));
        prop_assert_eq!(got, reference_match(&pattern, &text), "pattern {:?} text {:?}", pattern, text);
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn utf16(ascii: &[u8], big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend([0xFF, 0xFE]);
    }
    for &c in ascii {
        if big_endian {
            out.extend([0, c]);
        } else {
            out.extend([c, 0]);
        }
    }
    out
}
