//! Fuzzes the filter parser and `q` keywords: never panic, anything that parses prints back to
//! text that parses to the same tree, and evaluation never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

const EVENT: &str = r#"{"uuid":"u","published":"2024-01-01T00:00:00Z","eventType":"user.session.start","actor":{"id":"00u1"},"target":[{"id":"a"},{"id":"b"}],"securityContext":{"asNumber":1,"isProxy":true}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let event = okta::LogEvent::parse(EVENT).expect("fixed event parses");
    if let Ok(filter) = okta::filter::Filter::parse(text) {
        let again = okta::filter::Filter::parse(&filter.to_string()).expect("printed filter parses");
        assert_eq!(again.expr(), filter.expr());
        let _ = filter.okta_restrictions();
        let _ = filter.matches(&event);
    }
    if let Ok(keywords) = okta::filter::Keywords::parse(text) {
        let _ = keywords.matches(&event);
    }
});
