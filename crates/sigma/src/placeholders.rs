//! `|expand` placeholders (`%name%`), resolved at compile time from idwatch's configuration
//! (`[sigma.placeholders]`: name → list of values), the way pySigma's `value_placeholders`
//! transformation does: a value holding placeholders becomes one value per combination of
//! their values (OR-ed, like any value list), keeping the item's other modifiers
//! (`contains|expand` stays `contains`). `\%` is a literal percent. A placeholder that is not
//! configured is an error naming it; it is never replaced by a wildcard.
//!
//! RSigma's own `expand` substitutes other fields of the event at match time and ignores the
//! other modifiers, which is not the Sigma meaning, so rules are rewritten before RSigma sees
//! them.

use rsigma_parser::{Detection, DetectionItem, Modifier, SigmaRule, SigmaString, SigmaValue};
use std::collections::BTreeMap;

/// Placeholder name (without `%`) → values.
pub type Placeholders = BTreeMap<String, Vec<String>>;

/// Replaces every `|expand` value of `rule`. Returns the names that are not configured.
pub(crate) fn expand_rule(rule: &mut SigmaRule, placeholders: &Placeholders) -> Vec<String> {
    let mut missing = Vec::new();
    for detection in rule.detection.named.values_mut() {
        expand_detection(detection, placeholders, &mut missing);
    }
    missing.sort();
    missing.dedup();
    missing
}

pub(crate) fn expand_detection(
    detection: &mut Detection,
    placeholders: &Placeholders,
    missing: &mut Vec<String>,
) {
    match detection {
        Detection::AllOf(items) => {
            for item in items {
                expand_item(item, placeholders, missing);
            }
        }
        Detection::AnyOf(subs) | Detection::And(subs) => {
            for sub in subs {
                expand_detection(sub, placeholders, missing);
            }
        }
        Detection::ArrayMatch { body, .. } => expand_detection(body, placeholders, missing),
        Detection::Conditional { named, .. } => {
            for sub in named.values_mut() {
                expand_detection(sub, placeholders, missing);
            }
        }
        Detection::Keywords(_) => {}
    }
}

fn expand_item(item: &mut DetectionItem, placeholders: &Placeholders, missing: &mut Vec<String>) {
    if !item.field.has_modifier(Modifier::Expand) {
        return;
    }
    item.field.modifiers.retain(|m| *m != Modifier::Expand);
    let mut values = Vec::new();
    for value in &item.values {
        match value {
            SigmaValue::String(s) => match expand_text(&s.original, placeholders) {
                Ok(texts) => values.extend(
                    texts
                        .iter()
                        .map(|t| SigmaValue::String(SigmaString::new(t))),
                ),
                Err(names) => missing.extend(names),
            },
            other => values.push(other.clone()),
        }
    }
    item.values = values;
}

/// Every expansion of `text` (Sigma value syntax, so wildcards and escapes stay as written),
/// or the placeholder names that have no values.
pub fn expand_text(text: &str, placeholders: &Placeholders) -> Result<Vec<String>, Vec<String>> {
    // Split into literal pieces and placeholder names.
    enum Piece {
        Literal(String),
        Name(String),
    }
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                chars.next();
                // A literal percent; Sigma values need no escape for it.
                literal.push('%');
            }
            '%' => {
                let mut name = String::new();
                let mut closed = false;
                for n in chars.by_ref() {
                    if n == '%' {
                        closed = true;
                        break;
                    }
                    name.push(n);
                }
                if closed && !name.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    pieces.push(Piece::Name(name));
                } else {
                    literal.push('%');
                    literal.push_str(&name);
                    if closed {
                        literal.push('%');
                    }
                }
            }
            other => literal.push(other),
        }
    }
    pieces.push(Piece::Literal(literal));

    let missing: Vec<String> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Name(n) if !placeholders.contains_key(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let mut out = vec![String::new()];
    for piece in &pieces {
        match piece {
            Piece::Literal(l) => {
                for o in &mut out {
                    o.push_str(l);
                }
            }
            Piece::Name(n) => {
                let values = placeholders.get(n).map(Vec::as_slice).unwrap_or(&[]);
                out = out
                    .iter()
                    .flat_map(|prefix| values.iter().map(move |v| format!("{prefix}{v}")))
                    .collect();
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(pairs: &[(&str, &[&str])]) -> Placeholders {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn expands_every_combination() {
        let p = ph(&[("a", &["1", "2"]), ("b", &["x"])]);
        assert_eq!(expand_text("%a%-%b%*", &p).unwrap(), ["1-x*", "2-x*"]);
        assert_eq!(expand_text("plain", &p).unwrap(), ["plain"]);
        assert_eq!(expand_text(r"100\%", &p).unwrap(), ["100%"]);
    }

    #[test]
    fn names_missing_placeholders() {
        let p = ph(&[("a", &["1"])]);
        assert_eq!(expand_text("%a%%zz%", &p).unwrap_err(), ["zz"]);
    }

    #[test]
    fn an_empty_list_expands_to_nothing() {
        let p = ph(&[("a", &[])]);
        assert!(expand_text("%a%", &p).unwrap().is_empty());
    }
}
