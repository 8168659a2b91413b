//! Fuzzes `LogEvent::parse` and every accessor on what it accepts: never panic, raw text kept.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(e) = okta::LogEvent::parse(text) {
        assert_eq!(e.raw(), text);
        let _ = (e.uuid().key(), e.event_type(), e.actor(), e.client_ip(), e.client_geolocation());
        let _ = (e.as_number(), e.is_proxy(), e.targets().count(), e.debug_map("risk"), e.debug_map("behaviors"));
    }
});
