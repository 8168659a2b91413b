//! Evaluating a filter against an event's JSON tree. [`compile`] turns an [`Expr`] into a
//! [`Node`] once: attribute paths split into segments, `and`/`or` chains flattened, literals
//! lowercased and numbers parsed. [`Node::matches`] then walks each path with
//! [`visit_path`] (exact key names, fanning out over arrays) and compares without allocating:
//! case folding is done character by character (bytes on the ASCII path), and a number field's
//! text is formatted into a stack buffer. The semantics are documented in the module doc of
//! [`super`].
//!
//! The case-insensitive string helpers here are shared with [`super::keywords`].

use super::ast::{Comparison, Expr, Literal, Op};
use super::lexer::is_json_number;
use crate::event::{visit_path, KeyMatch};
use serde_json::{Number, Value};
use std::cmp::Ordering;
use std::fmt::Write as _;

/// A compiled filter.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// Every operand matches (a flattened `and` chain).
    All(Box<[Node]>),
    /// Some operand matches (a flattened `or` chain).
    Any(Box<[Node]>),
    Not(Box<Node>),
    Test(Test),
}

/// One comparison, ready to run.
#[derive(Debug, Clone)]
pub(super) struct Test {
    /// The attribute path split at `.`.
    path: Box<[Box<str>]>,
    check: Check,
}

#[derive(Debug, Clone)]
enum Check {
    /// `pr`.
    Present,
    /// `eq null` (and, under a [`Node::Not`], `ne null`).
    Null,
    /// `eq` with a non-null literal (and, under a [`Node::Not`], `ne`).
    Equal(Needle),
    /// `sw`, `co`, `ew`.
    Text(TextOp, Needle),
    /// `gt`, `ge`, `lt`, `le`.
    Order(Op, Needle),
    /// A comparison that can never hold (`sw null`, or a tree built without a literal).
    Never,
}

#[derive(Debug, Clone, Copy)]
enum TextOp {
    StartsWith,
    Contains,
    EndsWith,
}

/// A literal prepared for comparison.
#[derive(Debug, Clone)]
struct Needle {
    /// The literal's text form, lowercased character by character (`char::to_lowercase`).
    lower: Box<str>,
    kind: NeedleKind,
}

#[derive(Debug, Clone)]
enum NeedleKind {
    String,
    Number(Num),
    Bool(bool),
}

/// A number, exact for integers.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    /// A JSON number's text.
    fn parse(text: &str) -> Option<Num> {
        if let Ok(i) = text.parse::<i128>() {
            return Some(Num::Int(i));
        }
        text.parse::<f64>().ok().map(Num::Float)
    }

    fn of(n: &Number) -> Option<Num> {
        if let Some(i) = n.as_i64() {
            Some(Num::Int(i128::from(i)))
        } else if let Some(u) = n.as_u64() {
            Some(Num::Int(i128::from(u)))
        } else {
            n.as_f64().map(Num::Float)
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            // Precision loss only beyond 2^53, where the comparison is approximate anyway.
            #[allow(clippy::cast_precision_loss)]
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

/// Compiles a tree for evaluation.
pub(super) fn compile(expr: &Expr) -> Node {
    match expr {
        Expr::And(..) => {
            let mut operands = Vec::new();
            flatten(expr, true, &mut operands);
            Node::All(operands.into())
        }
        Expr::Or(..) => {
            let mut operands = Vec::new();
            flatten(expr, false, &mut operands);
            Node::Any(operands.into())
        }
        Expr::Not(inner) => Node::Not(Box::new(compile(inner))),
        Expr::Compare(c) => compile_comparison(c),
    }
}

/// Collects the operands of a chain of `and` (or of `or`), compiled, left to right. Iterative,
/// so long chains, however they are nested, compile in constant stack.
fn flatten(expr: &Expr, and: bool, out: &mut Vec<Node>) {
    let mut pending = vec![expr];
    while let Some(expr) = pending.pop() {
        match expr {
            Expr::And(a, b) if and => pending.extend([b.as_ref(), a.as_ref()]),
            Expr::Or(a, b) if !and => pending.extend([b.as_ref(), a.as_ref()]),
            other => out.push(compile(other)),
        }
    }
}

fn compile_comparison(c: &Comparison) -> Node {
    let path = c.attr.split('.').map(Box::from).collect();
    let test = |check| Node::Test(Test { path, check });
    if c.op == Op::Pr {
        return test(Check::Present);
    }
    let needle = match &c.value {
        None => return test(Check::Never),
        Some(Literal::Null) => {
            return match c.op {
                Op::Eq => test(Check::Null),
                Op::Ne => Node::Not(Box::new(test(Check::Null))),
                _ => test(Check::Never),
            }
        }
        Some(Literal::String(s)) => Needle::new(s, NeedleKind::String),
        Some(Literal::Number(n)) => match Num::parse(n) {
            Some(num) => Needle::new(n, NeedleKind::Number(num)),
            // Only a hand-built tree can hold a number that does not parse; use its text.
            None => Needle::new(n, NeedleKind::String),
        },
        Some(Literal::Bool(b)) => {
            Needle::new(if *b { "true" } else { "false" }, NeedleKind::Bool(*b))
        }
    };
    match c.op {
        Op::Eq => test(Check::Equal(needle)),
        Op::Ne => Node::Not(Box::new(test(Check::Equal(needle)))),
        Op::Sw => test(Check::Text(TextOp::StartsWith, needle)),
        Op::Co => test(Check::Text(TextOp::Contains, needle)),
        Op::Ew => test(Check::Text(TextOp::EndsWith, needle)),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => test(Check::Order(c.op, needle)),
        Op::Pr => test(Check::Present),
    }
}

impl Needle {
    fn new(text: &str, kind: NeedleKind) -> Needle {
        Needle {
            lower: fold(text).into(),
            kind,
        }
    }
}

/// `s` lowercased character by character, the same mapping the comparisons apply to values
/// (unlike `str::to_lowercase`, which maps a final `Σ` to `ς`).
pub(super) fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

impl Node {
    /// Whether the event tree matches.
    pub(super) fn matches(&self, doc: &Value) -> bool {
        match self {
            Node::All(operands) => operands.iter().all(|n| n.matches(doc)),
            Node::Any(operands) => operands.iter().any(|n| n.matches(doc)),
            Node::Not(inner) => !inner.matches(doc),
            Node::Test(test) => test.matches(doc),
        }
    }
}

/// Paths this long or shorter are passed to [`visit_path`] from the stack.
const INLINE_SEGMENTS: usize = 16;

impl Test {
    /// Whether `test` holds for some value the path reaches.
    fn any(&self, doc: &Value, test: &mut dyn FnMut(&Value) -> bool) -> bool {
        let segments = &self.path;
        if segments.len() <= INLINE_SEGMENTS {
            let mut path = [""; INLINE_SEGMENTS];
            for (slot, segment) in path.iter_mut().zip(segments.iter()) {
                *slot = segment;
            }
            visit_path(doc, &path[..segments.len()], KeyMatch::Exact, test)
        } else {
            let path: Vec<&str> = segments.iter().map(|s| &**s).collect();
            visit_path(doc, &path, KeyMatch::Exact, test)
        }
    }

    fn matches(&self, doc: &Value) -> bool {
        match &self.check {
            Check::Present => self.any(doc, &mut |v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(items) => !items.is_empty(),
                Value::Object(map) => !map.is_empty(),
                Value::Number(_) | Value::Bool(_) => true,
            }),
            Check::Null => {
                let mut reached = false;
                let null = self.any(doc, &mut |v| {
                    reached = true;
                    v.is_null()
                });
                null || !reached
            }
            Check::Equal(needle) => self.any(doc, &mut |v| needle.equals(v)),
            Check::Text(op, needle) => self.any(doc, &mut |v| {
                with_text(v, |text| match op {
                    TextOp::StartsWith => fold_starts_with(text, &needle.lower),
                    TextOp::Contains => fold_contains(text, &needle.lower),
                    TextOp::EndsWith => fold_ends_with(text, &needle.lower),
                })
                .unwrap_or(false)
            }),
            Check::Order(op, needle) => self.any(doc, &mut |v| {
                needle.order(v).is_some_and(|o| match op {
                    Op::Gt => o.is_gt(),
                    Op::Ge => o.is_ge(),
                    Op::Lt => o.is_lt(),
                    _ => o.is_le(),
                })
            }),
            Check::Never => false,
        }
    }
}

impl Needle {
    /// `eq` against one value.
    fn equals(&self, v: &Value) -> bool {
        match (&self.kind, v) {
            (NeedleKind::Number(n), Value::Number(m)) => {
                Num::of(m).and_then(|m| m.compare(*n)) == Some(Ordering::Equal)
            }
            (NeedleKind::Bool(b), Value::Bool(c)) => b == c,
            // Mixed types (and string against string) compare their text forms.
            _ => with_text(v, |text| fold_eq(text, &self.lower)).unwrap_or(false),
        }
    }

    /// The value's order relative to the literal, for `gt ge lt le`.
    fn order(&self, v: &Value) -> Option<Ordering> {
        if let NeedleKind::Number(n) = &self.kind {
            let value = match v {
                Value::Number(m) => Num::of(m),
                Value::String(s) if is_json_number(s) => Num::parse(s),
                _ => None,
            };
            if let Some(value) = value {
                return value.compare(*n);
            }
        }
        with_text(v, |text| fold_cmp(text, &self.lower))
    }
}

/// Runs `f` on the text form of a string, number or boolean; `None` for null, arrays and
/// objects. A number is formatted into a stack buffer as `serde_json` prints it.
pub(super) fn with_text<R>(v: &Value, f: impl FnOnce(&str) -> R) -> Option<R> {
    match v {
        Value::String(s) => Some(f(s)),
        Value::Bool(b) => Some(f(if *b { "true" } else { "false" })),
        Value::Number(n) => {
            let mut buf = StackText::default();
            write!(buf, "{n}").ok()?;
            Some(f(buf.as_str()?))
        }
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A small fixed buffer for formatting numbers without allocating.
struct StackText {
    bytes: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes[..self.len]).ok()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The lowercase characters of `text`.
fn folded(text: &str) -> impl DoubleEndedIterator<Item = char> + Clone + '_ {
    text.chars().flat_map(char::to_lowercase)
}

/// Case-insensitive equality; `lower` is already folded.
pub(super) fn fold_eq(text: &str, lower: &str) -> bool {
    if text.is_ascii() {
        // Lowercasing ASCII gives ASCII, so a non-ASCII `lower` fails the byte comparison.
        return text.as_bytes().eq_ignore_ascii_case(lower.as_bytes());
    }
    folded(text).eq(lower.chars())
}

fn fold_starts_with(text: &str, lower: &str) -> bool {
    if text.is_ascii() {
        let (t, l) = (text.as_bytes(), lower.as_bytes());
        return t.len() >= l.len() && t[..l.len()].eq_ignore_ascii_case(l);
    }
    let mut hay = folded(text);
    lower.chars().all(|c| hay.next() == Some(c))
}

fn fold_ends_with(text: &str, lower: &str) -> bool {
    if text.is_ascii() {
        let (t, l) = (text.as_bytes(), lower.as_bytes());
        return t.len() >= l.len() && t[t.len() - l.len()..].eq_ignore_ascii_case(l);
    }
    let mut hay = folded(text).rev();
    lower.chars().rev().all(|c| hay.next() == Some(c))
}

fn fold_contains(text: &str, lower: &str) -> bool {
    if lower.is_empty() {
        return true;
    }
    if text.is_ascii() {
        let (t, l) = (text.as_bytes(), lower.as_bytes());
        if l.len() > t.len() {
            return false;
        }
        // Find candidate starts with memchr on the first byte in either case.
        let first = l[0];
        let (a, b) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
        let last_start = t.len() - l.len();
        let mut from = 0;
        while let Some(offset) = memchr::memchr2(a, b, &t[from..=last_start]) {
            let start = from + offset;
            if t[start..start + l.len()].eq_ignore_ascii_case(l) {
                return true;
            }
            from = start + 1;
            if from > last_start {
                break;
            }
        }
        return false;
    }
    let mut hay = folded(text);
    loop {
        let mut candidate = hay.clone();
        if lower.chars().all(|c| candidate.next() == Some(c)) {
            return true;
        }
        if hay.next().is_none() {
            return false;
        }
    }
}

/// Case-insensitive lexicographic order (by code point); `lower` is already folded.
fn fold_cmp(text: &str, lower: &str) -> Ordering {
    if text.is_ascii() {
        // UTF-8 byte order is code point order, so bytes compare like characters.
        return text
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(lower.bytes());
    }
    folded(text).cmp(lower.chars())
}
