//! `OktaEvent`: how Sigma rules see an `okta::LogEvent`. It implements RSigma's borrowing
//! `Event` trait directly over the event's parsed tree, so nothing is converted back to JSON:
//!
//! - dotted paths (`actor.alternateId`), with keys matched as written first and then
//!   case-insensitively (older SigmaHQ Okta rules and Panther's events use lowercase keys);
//! - arrays fan out at any level (`target.displayName` is every target's name, and a rule value
//!   matches if any of them does); a numeric segment indexes (`target.0.displayName`);
//! - Okta's strings-in-strings are derived fields: when a path goes on below a string such as
//!   `debugContext.debugData.behaviors` (`{New Device=POSITIVE, …}`), `risk`
//!   (`{level=HIGH, reasons=…}`) or `logOnlySecurityData` (JSON in a string), the string is
//!   parsed and the rest of the path looked up in it. The raw string stays the field's value,
//!   so `behaviors|contains: 'New Device=POSITIVE'` and `behaviors.New Device: POSITIVE` both
//!   work;
//! - booleans and numbers compare with string rule values by their text (`isProxy: 'true'`);
//!   that part is RSigma's matcher.
//!
//! The walk allocates only when a path fans out to two or more values, or goes into an
//! embedded string (both rare, and only for events a rule's index already selected).

use rsigma_eval::event::{Event, EventValue};
use serde_json::Value;
use std::borrow::Cow;

/// A `LogEvent` (or any Okta-shaped JSON tree) as a Sigma event.
#[derive(Debug, Clone, Copy)]
pub struct OktaEvent<'a> {
    doc: &'a Value,
}

impl<'a> OktaEvent<'a> {
    /// Views an event.
    pub fn new(event: &'a okta::LogEvent) -> Self {
        OktaEvent { doc: event.doc() }
    }

    /// Views any JSON tree (tests, Panther rows without a `uuid`).
    pub fn from_value(doc: &'a Value) -> Self {
        OktaEvent { doc }
    }

    /// Every value at `path`, as Sigma sees them (see the module doc), or `None` when absent.
    pub fn field(&self, path: &str) -> Option<EventValue<'a>> {
        let mut acc = Acc::None;
        if let Value::Object(map) = self.doc {
            // A flat key that contains dots (some exports flatten) wins, as in RSigma's JsonEvent.
            if path.contains('.') {
                if let Some(v) = map.get(path) {
                    return Some(EventValue::from(v));
                }
            }
        }
        walk(self.doc, path, &mut acc);
        acc.finish()
    }
}

/// Collects the values a path reaches without allocating for the common single hit.
enum Acc<'a> {
    None,
    One(EventValue<'a>),
    Many(Vec<EventValue<'a>>),
}

impl<'a> Acc<'a> {
    fn push(&mut self, v: EventValue<'a>) {
        *self = match std::mem::replace(self, Acc::None) {
            Acc::None => Acc::One(v),
            Acc::One(first) => Acc::Many(vec![first, v]),
            Acc::Many(mut all) => {
                all.push(v);
                Acc::Many(all)
            }
        }
    }

    fn finish(self) -> Option<EventValue<'a>> {
        match self {
            Acc::None => None,
            Acc::One(v) => Some(v),
            Acc::Many(all) => Some(EventValue::Array(all)),
        }
    }
}

/// The object member `key`: exact first, then ASCII case-insensitive.
fn member<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn split_first_segment(path: &str) -> (&str, Option<&str>) {
    match path.find('.') {
        Some(dot) => (&path[..dot], Some(&path[dot + 1..])),
        None => (path, None),
    }
}

/// Nesting depth beyond which a path walk gives up (paths come from rules, but arrays of
/// arrays in an event could otherwise recurse deeply).
const MAX_DEPTH: usize = 64;

fn walk<'a>(node: &'a Value, path: &str, acc: &mut Acc<'a>) {
    walk_depth(node, path, acc, MAX_DEPTH)
}

fn walk_depth<'a>(node: &'a Value, path: &str, acc: &mut Acc<'a>, depth: usize) {
    if depth == 0 {
        return;
    }
    let (head, rest) = split_first_segment(path);
    match node {
        Value::Object(map) => {
            if let Some(child) = member(map, head) {
                match rest {
                    None => acc.push(EventValue::from(child)),
                    Some(rest) => walk_depth(child, rest, acc, depth - 1),
                }
            }
        }
        Value::Array(items) => {
            if let Ok(index) = head.parse::<usize>() {
                if let Some(item) = items.get(index) {
                    match rest {
                        None => acc.push(EventValue::from(item)),
                        Some(rest) => walk_depth(item, rest, acc, depth - 1),
                    }
                }
                return;
            }
            for item in items {
                walk_depth(item, path, acc, depth - 1);
            }
        }
        Value::String(text) => {
            for v in embedded_values(text, path) {
                acc.push(v);
            }
        }
        _ => {}
    }
}

/// Values at `path` inside an Okta string-embedded map (`{a=b, c=d}` or JSON text).
fn embedded_values(text: &str, path: &str) -> Vec<EventValue<'static>> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return Vec::new();
    }
    if let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) {
        let mut acc = Acc::None;
        walk(&inner, path, &mut acc);
        return match acc.finish() {
            None => Vec::new(),
            Some(v) => vec![into_owned(v)],
        };
    }
    let Some(pairs) = okta::event::parse_embedded_map(&Value::String(trimmed.to_string())) else {
        return Vec::new();
    };
    let found = pairs
        .iter()
        .find(|(k, _)| k == path)
        .or_else(|| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(path)));
    match found {
        Some((_, v)) => vec![EventValue::Str(Cow::Owned(v.clone()))],
        None => Vec::new(),
    }
}

fn into_owned(v: EventValue<'_>) -> EventValue<'static> {
    match v {
        EventValue::Str(s) => EventValue::Str(Cow::Owned(s.into_owned())),
        EventValue::Int(n) => EventValue::Int(n),
        EventValue::Float(f) => EventValue::Float(f),
        EventValue::Bool(b) => EventValue::Bool(b),
        EventValue::Null => EventValue::Null,
        EventValue::Array(items) => EventValue::Array(items.into_iter().map(into_owned).collect()),
        EventValue::Map(entries) => EventValue::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), into_owned(v)))
                .collect(),
        ),
    }
}

fn visit_strings<'a>(
    node: &'a Value,
    visit: &mut dyn FnMut(&'a str) -> bool,
    depth: usize,
) -> bool {
    if depth == 0 {
        return false;
    }
    match node {
        Value::String(s) => visit(s),
        Value::Array(items) => items.iter().any(|v| visit_strings(v, visit, depth - 1)),
        Value::Object(map) => map.values().any(|v| visit_strings(v, visit, depth - 1)),
        _ => false,
    }
}

impl Event for OktaEvent<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        self.field(path)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        visit_strings(self.doc, &mut |s| pred(s), MAX_DEPTH)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        visit_strings(
            self.doc,
            &mut |s| {
                out.push(Cow::Borrowed(s));
                false
            },
            MAX_DEPTH,
        );
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        visit_strings(
            self.doc,
            &mut |s| {
                visit(s);
                false
            },
            MAX_DEPTH,
        );
    }

    fn to_json(&self) -> Value {
        self.doc.clone()
    }

    // `top_level_keys` is deliberately left at its default (`None`): RSigma's candidate index
    // would otherwise skip a rule on `eventType` for an event whose key is `eventtype`, which
    // this view resolves case-insensitively.
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strs(v: Option<EventValue<'_>>) -> Vec<String> {
        match v {
            None => vec![],
            Some(EventValue::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(|s| s.into_owned()).unwrap_or_default())
                .collect(),
            Some(one) => vec![one.as_str().map(|s| s.into_owned()).unwrap_or_default()],
        }
    }

    #[test]
    fn resolves_paths_exactly_then_case_insensitively() {
        let doc = json!({"eventtype": "user.session.start", "eventType2": "x", "actor": {"alternateId": "a@b"}});
        let e = OktaEvent::from_value(&doc);
        assert_eq!(strs(e.field("eventType")), ["user.session.start"]);
        assert_eq!(strs(e.field("actor.alternateid")), ["a@b"]);
        assert_eq!(strs(e.field("actor.missing")), Vec::<String>::new());
    }

    #[test]
    fn fans_out_over_target_and_indexes_it() {
        let doc = json!({"target": [{"displayName": "A"}, {"displayName": "B"}]});
        let e = OktaEvent::from_value(&doc);
        assert_eq!(strs(e.field("target.displayName")), ["A", "B"]);
        assert_eq!(strs(e.field("target.1.displayName")), ["B"]);
        assert_eq!(strs(e.field("target.5.displayName")), Vec::<String>::new());
    }

    #[test]
    fn derives_fields_from_embedded_strings_and_keeps_the_raw_one() {
        let doc = json!({"debugContext": {"debugData": {
            "behaviors": "{New Geo-Location=NEGATIVE, New Device=POSITIVE}",
            "risk": "{reasons=Anomalous Device, Anomalous Location, level=HIGH}",
            "logOnlySecurityData": "{\"risk\":{\"level\":\"LOW\"},\"behaviors\":{\"New IP\":\"POSITIVE\"}}"
        }}});
        let e = OktaEvent::from_value(&doc);
        assert_eq!(
            strs(e.field("debugContext.debugData.behaviors.New Device")),
            ["POSITIVE"]
        );
        assert_eq!(
            strs(e.field("debugContext.debugData.risk.reasons")),
            ["Anomalous Device, Anomalous Location"]
        );
        assert_eq!(
            strs(e.field("debugContext.debugData.logOnlySecurityData.risk.level")),
            ["LOW"]
        );
        assert!(strs(e.field("debugContext.debugData.behaviors"))[0].starts_with("{New Geo"));
    }
}
