//! Evaluating a filter against an event's JSON tree, and the `q` keyword search.
//!
//! Attribute paths are split once at compile time; values are found with
//! [`crate::event::visit_path`] (exact key names, any array element). String comparisons fold
//! case without allocating on the ASCII path.

use super::ast::{Comparison, Expr, Literal, Op};
use crate::event::{visit_path, KeyMatch};
use serde_json::Value;

/// A comparison ready to evaluate.
#[derive(Debug, Clone)]
pub(super) struct CompiledComparison {
    segments: Vec<String>,
    op: Op,
    literal: Option<Literal>,
    /// The literal's text, lowercased (strings, and numbers/bools as text).
    text_lower: String,
    /// The literal as a number, when it is one (or a numeric string).
    number: Option<f64>,
}

/// The compiled tree.
#[derive(Debug, Clone)]
pub(super) enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Compare(CompiledComparison),
}

pub(super) fn compile(expr: &Expr) -> Node {
    match expr {
        Expr::And(a, b) => Node::And(Box::new(compile(a)), Box::new(compile(b))),
        Expr::Or(a, b) => Node::Or(Box::new(compile(a)), Box::new(compile(b))),
        Expr::Not(a) => Node::Not(Box::new(compile(a))),
        Expr::Compare(c) => Node::Compare(compile_comparison(c)),
    }
}

fn compile_comparison(c: &Comparison) -> CompiledComparison {
    let text = match &c.value {
        Some(Literal::String(s)) => s.clone(),
        Some(Literal::Number(n)) => n.clone(),
        Some(Literal::Bool(b)) => b.to_string(),
        Some(Literal::Null) => "null".to_string(),
        None => String::new(),
    };
    let number = match &c.value {
        Some(Literal::Number(n)) => n.parse().ok(),
        _ => None,
    };
    CompiledComparison {
        segments: c.attr.split('.').map(str::to_string).collect(),
        op: c.op,
        literal: c.value.clone(),
        text_lower: text.to_lowercase(),
        number,
    }
}

impl Node {
    pub(super) fn matches(&self, doc: &Value) -> bool {
        match self {
            Node::And(a, b) => a.matches(doc) && b.matches(doc),
            Node::Or(a, b) => a.matches(doc) || b.matches(doc),
            Node::Not(a) => !a.matches(doc),
            Node::Compare(c) => c.matches(doc),
        }
    }
}

impl CompiledComparison {
    fn any_value(&self, doc: &Value, test: &mut dyn FnMut(&Value) -> bool) -> bool {
        let path: Vec<&str> = self.segments.iter().map(String::as_str).collect();
        visit_path(doc, &path, KeyMatch::Exact, test)
    }

    fn matches(&self, doc: &Value) -> bool {
        match self.op {
            Op::Eq => self.eq_any(doc),
            Op::Ne => !self.eq_any(doc),
            Op::Pr => self.any_value(doc, &mut |v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Op::Sw | Op::Co | Op::Ew => {
                let needle = self.text_lower.as_str();
                let op = self.op;
                self.any_value(doc, &mut |v| match scalar_text(v) {
                    Some(text) => text_op(op, &text, needle),
                    None => false,
                })
            }
            Op::Gt | Op::Ge | Op::Lt | Op::Le => {
                let op = self.op;
                let literal_text = match &self.literal {
                    Some(Literal::String(s)) => s.clone(),
                    Some(Literal::Number(n)) => n.clone(),
                    Some(Literal::Bool(b)) => b.to_string(),
                    _ => return false,
                };
                let number = self.number;
                self.any_value(doc, &mut |v| {
                    let ordering = match (number, value_number(v)) {
                        (Some(lit), Some(val)) => val.partial_cmp(&lit),
                        _ => scalar_text(v).map(|text| text.as_ref().cmp(literal_text.as_str())),
                    };
                    ordering.is_some_and(|o| match op {
                        Op::Gt => o.is_gt(),
                        Op::Ge => o.is_ge(),
                        Op::Lt => o.is_lt(),
                        _ => o.is_le(),
                    })
                })
            }
        }
    }

    fn eq_any(&self, doc: &Value) -> bool {
        match &self.literal {
            Some(Literal::Null) => {
                let mut seen = false;
                let null = self.any_value(doc, &mut |v| {
                    seen = true;
                    v.is_null()
                });
                null || !seen
            }
            Some(Literal::Number(_)) => {
                let lit = self.number;
                self.any_value(doc, &mut |v| match (lit, value_number(v)) {
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                })
            }
            Some(_) => {
                let needle = self.text_lower.as_str();
                self.any_value(doc, &mut |v| match scalar_text(v) {
                    Some(text) => eq_fold(&text, needle),
                    None => false,
                })
            }
            None => false,
        }
    }
}

/// The text of a string, number or boolean; `None` for null, arrays and objects.
fn scalar_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        })),
        _ => None,
    }
}

fn value_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Case-insensitive equality; `needle` is already lowercase.
fn eq_fold(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        return hay.eq_ignore_ascii_case(needle);
    }
    hay.chars().flat_map(char::to_lowercase).eq(needle.chars())
}

/// sw / co / ew, case-insensitive; `needle` is already lowercase.
fn text_op(op: Op, hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        if n.len() > h.len() {
            return false;
        }
        return match op {
            Op::Sw => h[..n.len()].eq_ignore_ascii_case(n),
            Op::Ew => h[h.len() - n.len()..].eq_ignore_ascii_case(n),
            _ => n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)),
        };
    }
    let lower = hay.to_lowercase();
    match op {
        Op::Sw => lower.starts_with(needle),
        Op::Ew => lower.ends_with(needle),
        _ => lower.contains(needle),
    }
}

/// Every string, number and boolean leaf of a tree; stops when `visit` returns true.
pub(super) fn any_leaf(v: &Value, visit: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Value::String(s) => visit(s),
        Value::Number(n) => visit(&n.to_string()),
        Value::Bool(b) => visit(if *b { "true" } else { "false" }),
        Value::Null => false,
        Value::Array(items) => items.iter().any(|i| any_leaf(i, visit)),
        Value::Object(map) => map.values().any(|i| any_leaf(i, visit)),
    }
}

/// Whether a value matches one lowercase keyword: the whole value, a whitespace-separated word,
/// or a part of a hyphenated word (Okta indexes hyphenated values as their parts).
pub(super) fn keyword_matches(value: &str, keyword: &str) -> bool {
    if eq_fold(value, keyword) {
        return true;
    }
    value.split_whitespace().any(|word| {
        eq_fold(word, keyword)
            || (word.contains('-') && word.split('-').any(|p| eq_fold(p, keyword)))
    })
}
