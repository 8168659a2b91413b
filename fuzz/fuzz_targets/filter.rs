//! Fuzzes `okta::filter`: parsing arbitrary UTF-8 never panics; whatever parses prints to text
//! that parses back to the same tree (and prints identically); errors point inside the input;
//! evaluating, checking Okta's restrictions and the `q` keyword search never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta::filter::{Filter, Keywords};

const EVENT: &str = r#"{"uuid":"u","published":"2024-01-01T00:00:00Z","eventType":"user.session.start","actor":{"id":"00u1","alternateId":"Ana@Example.com"},"target":[{"id":"a","type":"User"},{"id":"b","detailEntry":null}],"securityContext":{"asNumber":13335,"isProxy":true},"client":{"zone":"null","geographicalContext":{"postalCode":"10013"}},"debugContext":{"debugData":{"url":"/api/v1/authn?x=É","risk":"{level=HIGH}"}}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let event = okta::LogEvent::parse(EVENT).expect("the fixed event parses");
    match Filter::parse(text) {
        Ok(filter) => {
            let printed = filter.to_string();
            let again = Filter::parse(&printed)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
            assert_eq!(again.expr(), filter.expr(), "{text:?} printed as {printed:?}");
            assert_eq!(again.to_string(), printed, "printing is canonical");
            assert_eq!(again.matches(&event), filter.matches(&event));
            let _ = filter.okta_restrictions();
        }
        Err(e) => {
            let column = e.column();
            assert!(column >= 1 && column <= text.chars().count() + 1, "{e}");
        }
    }
    if let Ok(keywords) = Keywords::parse(text) {
        let _ = keywords.matches(&event);
    }
});
