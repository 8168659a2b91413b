//! `LogEvent`: one Okta System Log event. The raw JSON text is kept exactly as received (it is the
//! source of truth and what the hash chain covers); a parsed tree gives access to every field,
//! including ones Okta adds tomorrow, and typed accessors read the fields detections and store
//! pivots need. Parsing is lenient the way real Okta data requires: enums are open strings,
//! `target` may be `null`, strings may say `"null"`, `client` parts may be missing, and
//! `debugContext.debugData` holds maps serialised as strings (`{level=LOW}`, JSON in a string).
//! Only `uuid`, `published` and `eventType` are required; an event without them cannot be
//! deduplicated, ordered or detected on.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;
use std::fmt;

/// Why a JSON text is not a usable `LogEvent`; names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct EventError {
    /// The JSON path of the field (`published`, `uuid`, or `$` for the whole text).
    pub field: String,
    /// What was wrong, with the offending value where it helps.
    pub reason: String,
}

impl EventError {
    fn new(field: &str, reason: impl Into<String>) -> Self {
        EventError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// The `uuid` of an event as Okta wrote it. Usually a UUID, but real fixtures contain `"uuid"` and
/// truncated values, so it is an opaque string; [`EventUuid::key`] gives the 16-byte dedupe key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventUuid(pub String);

impl EventUuid {
    /// The 16-byte key used to deduplicate: the UUID's own bytes when it is a canonical
    /// hyphenated UUID (case-insensitive), else the first 16 bytes of SHA-256-like mixing of the
    /// text. Non-UUID keys set the top bit pattern `0xFF` in byte 6 (an invalid UUID version), so
    /// they can never collide with a real UUID's key.
    pub fn key(&self) -> [u8; 16] {
        if let Some(bytes) = parse_hyphenated_uuid(&self.0) {
            return bytes;
        }
        let mut key = fold_to_16(self.0.as_bytes());
        key[6] = 0xFF;
        key
    }
}

impl fmt::Display for EventUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_hyphenated_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 8 | 13 | 18 | 23))
        .map(|(_, c)| (*c as char).to_digit(16));
    for byte in out.iter_mut() {
        let hi = nibbles.next()??;
        let lo = nibbles.next()??;
        *byte = (hi * 16 + lo) as u8;
    }
    // A real UUID never has 0xFF in byte 6 (version nibble 0xF is unassigned); refuse it so the
    // non-UUID key space stays disjoint.
    if out[6] == 0xFF {
        return None;
    }
    Some(out)
}

/// Two independent 64-bit FNV-1a style lanes; only used to turn odd uuid strings into keys, where
/// the text itself is attacker-irrelevant (it is still compared by the hash chain).
fn fold_to_16(bytes: &[u8]) -> [u8; 16] {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x84222325_cbf29ce4;
    for &c in bytes {
        a = (a ^ c as u64).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ c as u64)
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(17);
    }
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_be_bytes());
    out[8..].copy_from_slice(&b.to_be_bytes());
    out
}

/// One Okta System Log event.
#[derive(Debug, Clone)]
pub struct LogEvent {
    raw: Box<str>,
    doc: Value,
    uuid: EventUuid,
    published: DateTime<Utc>,
}

/// `actor` of an event. Every part is optional; a `"null"` string reads as `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Actor<'a> {
    /// `actor.id` (e.g. `00u…`).
    pub id: Option<&'a str>,
    /// `actor.type` (`User`, `SystemPrincipal`, `IP address`, …).
    pub kind: Option<&'a str>,
    /// `actor.alternateId` (login or `system@okta.com`).
    pub alternate_id: Option<&'a str>,
    /// `actor.displayName`.
    pub display_name: Option<&'a str>,
}

/// One element of `target[]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Target<'a> {
    /// `target[].id`.
    pub id: Option<&'a str>,
    /// `target[].type`.
    pub kind: Option<&'a str>,
    /// `target[].alternateId`.
    pub alternate_id: Option<&'a str>,
    /// `target[].displayName`.
    pub display_name: Option<&'a str>,
}

impl LogEvent {
    /// Parses one event from its JSON text, keeping the text exactly.
    pub fn parse(raw: &str) -> Result<LogEvent, EventError> {
        let doc: Value = serde_json::from_str(raw).map_err(|e| {
            EventError::new("$", format!("not valid JSON at column {}: {e}", e.column()))
        })?;
        LogEvent::from_parts(raw.into(), doc)
    }

    /// Builds an event from text and its already-parsed tree (the caller guarantees they agree).
    pub fn from_parts(raw: Box<str>, doc: Value) -> Result<LogEvent, EventError> {
        if !doc.is_object() {
            return Err(EventError::new(
                "$",
                format!("expected a JSON object, got {}", kind_of(&doc)),
            ));
        }
        let uuid = match lookup_key(&doc, "uuid") {
            Some(Value::String(s)) if !s.trim().is_empty() => EventUuid(s.clone()),
            Some(other) => {
                return Err(EventError::new(
                    "uuid",
                    format!("expected a non-empty string, got {}", short(other)),
                ))
            }
            None => return Err(EventError::new("uuid", "missing")),
        };
        let published = match lookup_key(&doc, "published") {
            Some(Value::String(s)) => parse_time(s).ok_or_else(|| {
                EventError::new(
                    "published",
                    format!("expected an RFC 3339 time, got `{}`", truncate(s, 60)),
                )
            })?,
            Some(other) => {
                return Err(EventError::new(
                    "published",
                    format!("expected an RFC 3339 time string, got {}", short(other)),
                ))
            }
            None => return Err(EventError::new("published", "missing")),
        };
        match lookup_key(&doc, "eventType") {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(other) => {
                return Err(EventError::new(
                    "eventType",
                    format!("expected a non-empty string, got {}", short(other)),
                ))
            }
            None => return Err(EventError::new("eventType", "missing")),
        }
        Ok(LogEvent {
            raw,
            doc,
            uuid,
            published,
        })
    }

    /// The JSON text exactly as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The parsed JSON tree (key order preserved).
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// `uuid`.
    pub fn uuid(&self) -> &EventUuid {
        &self.uuid
    }

    /// `published`, in UTC.
    pub fn published(&self) -> DateTime<Utc> {
        self.published
    }

    /// `published` as microseconds since the Unix epoch (the store's time unit).
    pub fn published_micros(&self) -> i64 {
        self.published.timestamp_micros()
    }

    /// `eventType` (never empty: checked at parse time).
    pub fn event_type(&self) -> &str {
        self.str_at("eventType").unwrap_or_default()
    }

    /// `severity` (`DEBUG`, `INFO`, `WARN`, `ERROR`, or whatever Okta sends).
    pub fn severity(&self) -> Option<&str> {
        self.str_at("severity")
    }

    /// `displayMessage`.
    pub fn display_message(&self) -> Option<&str> {
        self.str_at("displayMessage")
    }

    /// `outcome.result` (`SUCCESS`, `FAILURE`, `DENY`, … open set).
    pub fn outcome_result(&self) -> Option<&str> {
        self.str_at("outcome.result")
    }

    /// `outcome.reason`.
    pub fn outcome_reason(&self) -> Option<&str> {
        self.str_at("outcome.reason")
    }

    /// `actor`.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            id: self.str_at("actor.id"),
            kind: self.str_at("actor.type"),
            alternate_id: self.str_at("actor.alternateId"),
            display_name: self.str_at("actor.displayName"),
        }
    }

    /// `client.ipAddress` (the string `"null"` reads as `None`).
    pub fn client_ip(&self) -> Option<&str> {
        self.str_at("client.ipAddress")
    }

    /// `client.geographicalContext.country`.
    pub fn client_country(&self) -> Option<&str> {
        self.str_at("client.geographicalContext.country")
    }

    /// `client.geographicalContext.city`.
    pub fn client_city(&self) -> Option<&str> {
        self.str_at("client.geographicalContext.city")
    }

    /// `client.geographicalContext.geolocation` as (lat, lon).
    pub fn client_geolocation(&self) -> Option<(f64, f64)> {
        let lat = self.value_at("client.geographicalContext.geolocation.lat")?;
        let lon = self.value_at("client.geographicalContext.geolocation.lon")?;
        Some((number_of(lat)?, number_of(lon)?))
    }

    /// `client.userAgent.rawUserAgent`.
    pub fn user_agent(&self) -> Option<&str> {
        self.str_at("client.userAgent.rawUserAgent")
    }

    /// `securityContext.asNumber` (number or numeric string).
    pub fn as_number(&self) -> Option<i64> {
        match self.value_at("securityContext.asNumber")? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// `securityContext.asOrg`.
    pub fn as_org(&self) -> Option<&str> {
        self.str_at("securityContext.asOrg")
    }

    /// `securityContext.isp`.
    pub fn isp(&self) -> Option<&str> {
        self.str_at("securityContext.isp")
    }

    /// `securityContext.isProxy` (bool or `"true"`/`"false"`).
    pub fn is_proxy(&self) -> Option<bool> {
        match self.value_at("securityContext.isProxy")? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// `authenticationContext.externalSessionId`.
    pub fn external_session_id(&self) -> Option<&str> {
        self.str_at("authenticationContext.externalSessionId")
    }

    /// `authenticationContext.rootSessionId`.
    pub fn root_session_id(&self) -> Option<&str> {
        self.str_at("authenticationContext.rootSessionId")
    }

    /// `transaction.id`.
    pub fn transaction_id(&self) -> Option<&str> {
        self.str_at("transaction.id")
    }

    /// `debugContext.debugData.<key>` as a raw JSON value.
    pub fn debug_data(&self, key: &str) -> Option<&Value> {
        let data = self.value_at("debugContext.debugData")?;
        lookup_key(data, key)
    }

    /// `debugContext.debugData.<key>` as a string (`"null"` reads as `None`).
    pub fn debug_str(&self, key: &str) -> Option<&str> {
        non_null_str(self.debug_data(key)?)
    }

    /// A debugData map that Okta serialises into a string: `"{a=b, c=d}"` (Java `toString`) or a
    /// JSON object in a string (`logOnlySecurityData`, `threatDetections`); a real object is read
    /// as it is. Returns `(key, value)` pairs in order, values as text. `None` when absent or not
    /// a map.
    pub fn debug_map(&self, key: &str) -> Option<Vec<(String, String)>> {
        parse_embedded_map(self.debug_data(key)?)
    }

    /// The elements of `target[]` (empty when `target` is absent or `null`).
    pub fn targets(&self) -> impl Iterator<Item = Target<'_>> {
        let items: &[Value] = match self.value_at("target") {
            Some(Value::Array(items)) => items,
            _ => &[],
        };
        items.iter().map(|t| Target {
            id: lookup_key(t, "id").and_then(non_null_str),
            kind: lookup_key(t, "type").and_then(non_null_str),
            alternate_id: lookup_key(t, "alternateId").and_then(non_null_str),
            display_name: lookup_key(t, "displayName").and_then(non_null_str),
        })
    }

    /// The first value at a dotted path, exact key names first, then a case-insensitive match
    /// (Panther-style lowercased events). Arrays are not descended into; see [`visit_path`].
    pub fn value_at(&self, path: &str) -> Option<&Value> {
        let mut node = &self.doc;
        for part in path.split('.') {
            node = match node {
                Value::Object(_) => lookup_key(node, part)?,
                Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The string at a dotted path, with `null` and `"null"` read as `None`.
    pub fn str_at(&self, path: &str) -> Option<&str> {
        non_null_str(self.value_at(path)?)
    }
}

/// How keys are matched when walking a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    /// Exactly as written (Okta's filter syntax: attribute names are case-sensitive).
    Exact,
    /// Exactly, falling back to a case-insensitive match (Sigma on lowercased events).
    CaseInsensitiveFallback,
}

/// Calls `visit` for every value reachable by `path` (segments already split) from `node`,
/// fanning out over arrays at any level (`target.id` visits every target's id), and accepting a
/// numeric segment as an array index (`target.0.id`). Stops early and returns `true` as soon as
/// `visit` returns `true`.
pub fn visit_path<'a>(
    node: &'a Value,
    path: &[&str],
    keys: KeyMatch,
    visit: &mut dyn FnMut(&'a Value) -> bool,
) -> bool {
    let Some((head, rest)) = path.split_first() else {
        if let Value::Array(items) = node {
            // A leaf array: each element is a value of the field (Sigma and Okta both treat a
            // list-valued field as "any element").
            return items.iter().any(&mut *visit) || visit(node);
        }
        return visit(node);
    };
    match node {
        Value::Object(map) => {
            let child = map.get(*head).or_else(|| match keys {
                KeyMatch::Exact => None,
                KeyMatch::CaseInsensitiveFallback => map
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(head))
                    .map(|(_, v)| v),
            });
            match child {
                Some(child) => visit_path(child, rest, keys, visit),
                None => false,
            }
        }
        Value::Array(items) => {
            if let Ok(index) = head.parse::<usize>() {
                if let Some(item) = items.get(index) {
                    return visit_path(item, rest, keys, visit);
                }
            }
            items.iter().any(|item| visit_path(item, path, keys, visit))
        }
        _ => false,
    }
}

/// A key of an object, exact first, then case-insensitive.
fn lookup_key<'a>(node: &'a Value, key: &str) -> Option<&'a Value> {
    let map = node.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn non_null_str(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if s != "null" => Some(s),
        _ => None,
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses Okta's string-embedded maps. See [`LogEvent::debug_map`].
pub fn parse_embedded_map(v: &Value) -> Option<Vec<(String, String)>> {
    let text = match v {
        Value::Object(map) => {
            return Some(
                map.iter()
                    .map(|(k, v)| (k.clone(), value_text(v)))
                    .collect(),
            )
        }
        Value::String(s) => s.trim(),
        _ => return None,
    };
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        return Some(
            map.iter()
                .map(|(k, v)| (k.clone(), value_text(v)))
                .collect(),
        );
    }
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut pairs = Vec::new();
    // Values may themselves contain ", " (e.g. `reasons=Anomalous Device, Anomalous Location`),
    // so a comma only starts a new pair when the next part has a `key=` before any comma.
    let mut current: Option<(String, String)> = None;
    for piece in inner.split(',') {
        let starts_pair = match piece.find('=') {
            Some(eq) => !piece[..eq].trim().is_empty() && !piece[..eq].contains(['{', '}']),
            None => false,
        };
        if starts_pair {
            if let Some(done) = current.take() {
                pairs.push(done);
            }
            let eq = piece.find('=').unwrap_or(0);
            current = Some((
                piece[..eq].trim().to_string(),
                piece[eq + 1..].trim().to_string(),
            ));
        } else if let Some((_, value)) = current.as_mut() {
            value.push(',');
            value.push_str(piece);
        } else if !piece.trim().is_empty() {
            return None;
        }
    }
    if let Some(done) = current {
        pairs.push(done);
    }
    Some(pairs)
}

/// A JSON value as plain text: strings without quotes, everything else as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses Okta's `published`: RFC 3339, plus the forms real exports use (`2022-03-22 14:21:53.225`
/// from Panther, a missing `Z`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.fZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    None
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(v: &Value) -> String {
    format!("{} `{}`", kind_of(v), truncate(&v.to_string(), 60))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC: &str = r#"{"uuid":"dc9fd3c0-598c-11ef-8478-2b7584bf8d5a","published":"2024-08-13T15:58:20.353Z","eventType":"user.session.start","actor":{"id":"00u1","type":"User","alternateId":"a@example.com"},"client":{"ipAddress":"null","zone":"null"},"target":null,"debugContext":{"debugData":{"risk":"{reasons=Anomalous Device, Anomalous Location, level=HIGH}","behaviors":"{New Geo-Location=NEGATIVE, New Device=POSITIVE}","logOnlySecurityData":"{\"risk\":{\"level\":\"LOW\"}}"}}}"#;

    #[test]
    fn keeps_raw_text_exactly() {
        let e = LogEvent::parse(BASIC).unwrap();
        assert_eq!(e.raw(), BASIC);
    }

    #[test]
    fn reads_null_strings_and_null_targets_as_absent() {
        let e = LogEvent::parse(BASIC).unwrap();
        assert_eq!(e.client_ip(), None);
        assert_eq!(e.targets().count(), 0);
        assert_eq!(e.actor().alternate_id, Some("a@example.com"));
    }

    #[test]
    fn parses_java_tostring_maps_with_commas_in_values() {
        let e = LogEvent::parse(BASIC).unwrap();
        let risk = e.debug_map("risk").unwrap();
        assert_eq!(
            risk,
            vec![
                (
                    "reasons".to_string(),
                    "Anomalous Device, Anomalous Location".to_string()
                ),
                ("level".to_string(), "HIGH".to_string())
            ]
        );
        let behaviors = e.debug_map("behaviors").unwrap();
        assert_eq!(behaviors[1], ("New Device".into(), "POSITIVE".into()));
        let log_only = e.debug_map("logOnlySecurityData").unwrap();
        assert_eq!(log_only[0].0, "risk");
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let err =
            LogEvent::parse(r#"{"uuid":"x","published":"yesterday","eventType":"a"}"#).unwrap_err();
        assert_eq!(err.field, "published");
        assert!(err.reason.contains("yesterday"), "{err}");
        let err =
            LogEvent::parse(r#"{"published":"2024-01-01T00:00:00Z","eventType":"a"}"#).unwrap_err();
        assert_eq!(err.to_string(), "field `uuid`: missing");
        let err = LogEvent::parse("[1]").unwrap_err();
        assert_eq!(err.field, "$");
    }

    #[test]
    fn accepts_panther_times_and_lowercase_keys() {
        let e = LogEvent::parse(
            r#"{"uuid":"u","published":"2022-03-22 14:21:53.225","eventtype":"user.session.start"}"#,
        )
        .unwrap();
        assert_eq!(e.event_type(), "user.session.start");
        assert_eq!(e.published().timestamp_millis(), 1647958913225);
    }

    #[test]
    fn uuid_keys_are_uuid_bytes_or_disjoint_hashes() {
        let real = EventUuid("dc9fd3c0-598c-11ef-8478-2b7584bf8d5a".into()).key();
        assert_eq!(real[0], 0xdc);
        assert_eq!(
            real,
            EventUuid("DC9FD3C0-598C-11EF-8478-2B7584BF8D5A".into()).key()
        );
        let odd = EventUuid("uuid".into()).key();
        assert_eq!(odd[6], 0xFF);
        assert_ne!(odd, EventUuid("uuid2".into()).key());
    }

    #[test]
    fn visits_every_target_element() {
        let doc: Value = serde_json::from_str(
            r#"{"target":[{"id":"a","type":"User"},{"id":"b","type":"AppInstance"}]}"#,
        )
        .unwrap();
        let mut seen = Vec::new();
        visit_path(&doc, &["target", "id"], KeyMatch::Exact, &mut |v| {
            seen.push(v.as_str().unwrap().to_string());
            false
        });
        assert_eq!(seen, ["a", "b"]);
        let mut second = None;
        visit_path(&doc, &["target", "1", "type"], KeyMatch::Exact, &mut |v| {
            second = v.as_str().map(str::to_string);
            true
        });
        assert_eq!(second.as_deref(), Some("AppInstance"));
    }

    proptest::proptest! {
        #[test]
        fn any_hyphenated_uuid_key_round_trips(bytes in proptest::array::uniform16(0u8..)) {
            proptest::prop_assume!(bytes[6] != 0xFF);
            let text = format!(
                "{}-{}-{}-{}-{}",
                hex(&bytes[0..4]), hex(&bytes[4..6]), hex(&bytes[6..8]), hex(&bytes[8..10]), hex(&bytes[10..16])
            );
            proptest::prop_assert_eq!(EventUuid(text).key(), bytes);
        }

        #[test]
        fn parse_never_panics(s in ".{0,200}") {
            let _ = LogEvent::parse(&s);
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
