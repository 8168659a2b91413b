//! Field paths of extension blocks: Sigma's dotted paths (resolved like rules resolve them, by
//! [`OktaEvent`]), plus one array selector, `name[key=value].rest`, that keeps only the array
//! elements whose `key` equals `value` (`target[type=User].id`: the id of the target user, not
//! of the app next to it). The extensions use one value per field: the first.

use crate::event::OktaEvent;
use rsigma_eval::event::EventValue;
use serde_json::Value;

/// A parsed field path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldPath {
    text: String,
    selector: Option<Selector>,
}

#[derive(Debug, Clone, PartialEq)]
struct Selector {
    array: Vec<String>,
    key: String,
    value: String,
    rest: String,
}

impl FieldPath {
    /// Parses `a.b.c` or `a.b[key=value].c`.
    pub(crate) fn parse(text: &str) -> Result<FieldPath, String> {
        let bad = || format!("field `{text}`: write `path.to.field` or `array[key=value].field`");
        if text.trim().is_empty() {
            return Err(bad());
        }
        let Some(open) = text.find('[') else {
            if text.contains(']') {
                return Err(bad());
            }
            return Ok(FieldPath {
                text: text.to_string(),
                selector: None,
            });
        };
        let close = text.find(']').ok_or_else(bad)?;
        if close < open {
            return Err(bad());
        }
        let inside = &text[open + 1..close];
        let (key, value) = inside.split_once('=').ok_or_else(bad)?;
        let rest = text[close + 1..].strip_prefix('.').ok_or_else(bad)?;
        let array: Vec<String> = text[..open].split('.').map(str::to_string).collect();
        if array.iter().any(|s| s.is_empty())
            || key.trim().is_empty()
            || rest.is_empty()
            || rest.contains('[')
        {
            return Err(bad());
        }
        Ok(FieldPath {
            text: text.to_string(),
            selector: Some(Selector {
                array,
                key: key.trim().to_string(),
                value: value.trim().to_string(),
                rest: rest.to_string(),
            }),
        })
    }

    /// The field's first value in `doc`, as text (numbers and booleans by their text form).
    pub(crate) fn first(&self, doc: &Value) -> Option<String> {
        match &self.selector {
            None => first_text(OktaEvent::from_value(doc).field(&self.text)),
            Some(s) => {
                let mut node = doc;
                for segment in &s.array {
                    node = get_key(node, segment)?;
                }
                let items: &[Value] = match node {
                    Value::Array(items) => items,
                    other => std::slice::from_ref(other),
                };
                items.iter().find_map(|item| {
                    let v = get_key(item, &s.key)?;
                    let text = scalar_text(v)?;
                    if !text.eq_ignore_ascii_case(&s.value) {
                        return None;
                    }
                    first_text(OktaEvent::from_value(item).field(&s.rest))
                })
            }
        }
    }
}

/// A key as written, else case-insensitively (as [`OktaEvent`] does).
fn get_key<'a>(node: &'a Value, key: &str) -> Option<&'a Value> {
    let map = node.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn first_text(v: Option<EventValue<'_>>) -> Option<String> {
    fn first(v: &EventValue<'_>) -> Option<String> {
        match v {
            EventValue::Array(items) => items.iter().find_map(first),
            EventValue::Null | EventValue::Map(_) => None,
            other => other.as_str().map(|s| s.into_owned()),
        }
    }
    first(&v?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_selectors() {
        let doc: Value = serde_json::json!({
            "actor": {"id": "00u1"},
            "securityContext": {"asNumber": 7922, "isProxy": false},
            "target": [
                {"type": "AppInstance", "id": "0oa1"},
                {"type": "User", "id": "00u2", "alternateId": "bob@example.com"}
            ]
        });
        let get = |p: &str| FieldPath::parse(p).expect("path").first(&doc);
        assert_eq!(get("actor.id").as_deref(), Some("00u1"));
        assert_eq!(get("securityContext.asNumber").as_deref(), Some("7922"));
        assert_eq!(get("securityContext.isProxy").as_deref(), Some("false"));
        assert_eq!(get("target.id").as_deref(), Some("0oa1"));
        assert_eq!(get("target[type=User].id").as_deref(), Some("00u2"));
        assert_eq!(
            get("target[type=user].alternateId").as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(get("target[type=Group].id"), None);
        assert_eq!(get("nothing.here"), None);
        for bad in ["", "a[b].c", "a[b=c]", "a[b=c]d", "a]b", "[x=y].z"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad}");
        }
    }
}
