//! The Event Hook delivery body: `{"eventType":"com.okta.event_hook", "eventId": …,
//! "data": {"events": [LogEvent, …]}}` (reference §4). Parsed strictly enough to say exactly
//! what is wrong (`data.events[3]: field `published`: missing`), leniently enough to keep every
//! good event of a delivery that also carries a bad one: each event is parsed on its own with
//! the `okta` crate, its text kept byte for byte.

use okta::{EventError, LogEvent};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// A parsed delivery.
#[derive(Debug)]
pub struct Envelope {
    /// `eventId`: identifies the delivery (a retry carries the same one).
    pub event_id: Option<String>,
    /// The events that parsed, in delivery order.
    pub events: Vec<LogEvent>,
    /// The events that did not.
    pub rejected: Vec<RejectedEvent>,
}

/// One event of a delivery that is not a usable LogEvent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedEvent {
    /// Its index in `data.events`.
    pub index: usize,
    /// What is wrong.
    pub error: EventError,
}

impl fmt::Display for RejectedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "data.events[{}]: {}", self.index, self.error)
    }
}

/// A body that is not a hook delivery at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON.
    #[error("the body is not JSON (line {line}, column {column}): {reason}")]
    NotJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's reason.
        reason: String,
    },
    /// JSON, but not an Okta Event Hook envelope.
    #[error("the body is not an Okta Event Hook delivery: {0}; expected {{\"eventType\":\"com.okta.event_hook\",\"data\":{{\"events\":[...]}}}}")]
    NotAnEnvelope(String),
}

fn not_json(e: serde_json::Error) -> EnvelopeError {
    EnvelopeError::NotJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    }
}

fn kind_of(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    }
}

/// Parses a delivery body.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    let top: &RawValue = serde_json::from_slice(body).map_err(not_json)?;
    let object: BTreeMap<String, &RawValue> = serde_json::from_str(top.get())
        .map_err(|_| EnvelopeError::NotAnEnvelope(format!("the body is {}", kind_of(top))))?;
    if let Some(kind) = object.get("eventType") {
        let kind: Option<&str> = serde_json::from_str(kind.get()).ok();
        if kind != Some("com.okta.event_hook") {
            return Err(EnvelopeError::NotAnEnvelope(format!(
                "field `eventType` is {}, not \"com.okta.event_hook\"",
                kind.map(|k| format!("\"{k}\""))
                    .unwrap_or_else(|| "not a string".into())
            )));
        }
    }
    let event_id = object
        .get("eventId")
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
    let data = object
        .get("data")
        .ok_or_else(|| EnvelopeError::NotAnEnvelope("field `data` is missing".into()))?;
    let data: BTreeMap<String, &RawValue> = serde_json::from_str(data.get()).map_err(|_| {
        EnvelopeError::NotAnEnvelope(format!("field `data` is {}, not an object", kind_of(data)))
    })?;
    let events = data
        .get("events")
        .ok_or_else(|| EnvelopeError::NotAnEnvelope("field `data.events` is missing".into()))?;
    let items: Vec<&RawValue> = serde_json::from_str(events.get()).map_err(|_| {
        EnvelopeError::NotAnEnvelope(format!(
            "field `data.events` is {}, not an array",
            kind_of(events)
        ))
    })?;
    let mut envelope = Envelope {
        event_id,
        events: Vec::with_capacity(items.len()),
        rejected: Vec::new(),
    };
    for (index, item) in items.into_iter().enumerate() {
        match LogEvent::parse(item.get()) {
            Ok(event) => envelope.events.push(event),
            Err(error) => envelope.rejected.push(RejectedEvent { index, error }),
        }
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(n: u32) -> String {
        format!(
            r#"{{"uuid":"00000000-0000-4000-8000-{n:012}","published":"2026-03-01T10:00:{:02}.000Z","eventType":"user.session.start","actor":{{"id":"00u{n}"}}}}"#,
            n % 60
        )
    }

    fn delivery(events: &[String]) -> String {
        format!(
            r#"{{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","eventId":"d-1","data":{{"events":[{}]}}}}"#,
            events.join(",")
        )
    }

    #[test]
    fn parses_a_delivery_keeping_each_event_exactly() {
        let events = vec![event(1), event(2)];
        let body = delivery(&events);
        let envelope = parse_envelope(body.as_bytes()).expect("parses");
        assert_eq!(envelope.event_id.as_deref(), Some("d-1"));
        assert!(envelope.rejected.is_empty());
        let raws: Vec<&str> = envelope.events.iter().map(LogEvent::raw).collect();
        assert_eq!(raws, [events[0].as_str(), events[1].as_str()]);
    }

    #[test]
    fn a_bad_event_is_named_and_the_good_ones_kept() {
        let bad = r#"{"uuid":"x-1","eventType":"user.session.start"}"#.to_string();
        let body = delivery(&[event(1), bad, event(3)]);
        let envelope = parse_envelope(body.as_bytes()).expect("parses");
        assert_eq!(envelope.events.len(), 2);
        assert_eq!(envelope.rejected.len(), 1);
        assert_eq!(
            envelope.rejected[0].to_string(),
            "data.events[1]: field `published`: missing"
        );
    }

    #[test]
    fn what_is_not_a_delivery_says_why() {
        let cases: [(&str, &str); 6] = [
            ("{\"data\": ", "the body is not JSON (line 1, column 9)"),
            ("[1,2]", "the body is an array"),
            (
                r#"{"eventType":"user.session.start","data":{"events":[]}}"#,
                "field `eventType` is \"user.session.start\"",
            ),
            (
                r#"{"eventType":"com.okta.event_hook"}"#,
                "field `data` is missing",
            ),
            (r#"{"data":{"event":[]}}"#, "field `data.events` is missing"),
            (
                r#"{"data":{"events":{}}}"#,
                "field `data.events` is an object, not an array",
            ),
        ];
        for (body, expected) in cases {
            let err = parse_envelope(body.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_envelope(&bytes);
        }

        /// Every event is either kept (exactly) or rejected at its own index: none vanish.
        #[test]
        fn every_event_is_kept_or_rejected_by_index(
            good in proptest::collection::vec(any::<bool>(), 0..40)
        ) {
            let events: Vec<String> = good
                .iter()
                .enumerate()
                .map(|(i, ok)| if *ok { event(i as u32) } else { format!(r#"{{"uuid":"u{i}","published":"yesterday","eventType":"x"}}"#) })
                .collect();
            let envelope = parse_envelope(delivery(&events).as_bytes()).expect("parses");
            let kept: Vec<&str> = envelope.events.iter().map(LogEvent::raw).collect();
            let expected_kept: Vec<&str> = events.iter().zip(&good).filter(|(_, ok)| **ok).map(|(e, _)| e.as_str()).collect();
            prop_assert_eq!(kept, expected_kept);
            let rejected: Vec<usize> = envelope.rejected.iter().map(|r| r.index).collect();
            let expected_rejected: Vec<usize> = good.iter().enumerate().filter(|(_, ok)| !**ok).map(|(i, _)| i).collect();
            prop_assert_eq!(rejected, expected_rejected);
        }
    }
}
