//! Evaluating a filter on pivot columns before any JSON is read: three-valued (Kleene) logic
//! over the filter tree, where a comparison on a pivot column with a non-null value is decided
//! exactly (by the same `okta::filter` evaluator, on a one-field document, memoised per distinct
//! value), and anything else is "unknown". Rows that come out `false` are skipped; the rest are
//! read and checked exactly against the raw JSON, so this only ever has to be sound, not
//! complete.

use crate::schema::{col, ASN_ATTR, STRING_PIVOTS};
use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use okta::filter::{Comparison, Expr, Filter, Literal, Op};
use serde_json::Value;
use std::collections::HashMap;

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    /// Certainly matches.
    True,
    /// Certainly does not.
    False,
    /// Needs the raw JSON.
    Unknown,
}

impl Tri {
    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }

    fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Leaf(usize),
    Unknown,
}

/// A comparison decided directly on ASCII text, with the evaluator's semantics (`eq ne sw co
/// ew` fold case; a string literal against a string value compares the folded texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    Eq,
    Ne,
    Sw,
    Co,
    Ew,
}

/// Memoised results of one comparison: by the pivot's value.
#[derive(Debug, Clone)]
struct Leaf {
    /// Schema column index.
    column: usize,
    attr: String,
    filter: Filter,
    memo: HashMap<String, bool>,
    /// The fast path and the literal lowercased (ASCII only).
    fast: Option<(Fast, String)>,
}

/// Most distinct values remembered per comparison (session ids are nearly unique).
const MEMO_LIMIT: usize = 65_536;

impl Leaf {
    fn decide_str(&mut self, value: &str) -> bool {
        if let Some((op, lower)) = &self.fast {
            if value.is_ascii() {
                let (t, l) = (value.as_bytes(), lower.as_bytes());
                return match op {
                    Fast::Eq => t.eq_ignore_ascii_case(l),
                    Fast::Ne => !t.eq_ignore_ascii_case(l),
                    Fast::Sw => t.len() >= l.len() && t[..l.len()].eq_ignore_ascii_case(l),
                    Fast::Ew => {
                        t.len() >= l.len() && t[t.len() - l.len()..].eq_ignore_ascii_case(l)
                    }
                    Fast::Co => {
                        l.is_empty() || t.windows(l.len()).any(|w| w.eq_ignore_ascii_case(l))
                    }
                };
            }
        }
        if let Some(hit) = self.memo.get(value) {
            return *hit;
        }
        let doc = one_field_doc(&self.attr, Value::String(value.to_string()));
        let result = self.filter.matches_value(&doc);
        if self.memo.len() < MEMO_LIMIT {
            self.memo.insert(value.to_string(), result);
        }
        result
    }

    fn decide_int(&mut self, value: i64) -> bool {
        let doc = one_field_doc(&self.attr, Value::from(value));
        self.filter.matches_value(&doc)
    }
}

fn one_field_doc(path: &str, value: Value) -> Value {
    let mut doc = value;
    for part in path.rsplit('.') {
        let mut map = serde_json::Map::new();
        map.insert(part.to_string(), doc);
        doc = Value::Object(map);
    }
    doc
}

/// A filter compiled against the pivot columns.
#[derive(Debug, Clone)]
pub struct PivotPredicate {
    root: Node,
    leaves: Vec<Leaf>,
}

fn column_of(attr: &str) -> Option<usize> {
    if attr == ASN_ATTR {
        return Some(col::ASN);
    }
    STRING_PIVOTS
        .iter()
        .position(|p| p.attr == attr)
        .map(|i| col::STRING0 + i)
}

impl PivotPredicate {
    /// Compiles `expr`; `None` when no comparison touches a pivot (nothing to decide early).
    pub fn compile(expr: &Expr) -> Option<PivotPredicate> {
        let mut leaves = Vec::new();
        let root = compile_node(expr, &mut leaves);
        if leaves.is_empty() {
            None
        } else {
            Some(PivotPredicate { root, leaves })
        }
    }

    /// The schema columns it reads.
    pub fn columns(&self) -> Vec<usize> {
        let mut cols: Vec<usize> = self.leaves.iter().map(|l| l.column).collect();
        cols.sort_unstable();
        cols.dedup();
        cols
    }

    /// Evaluates every row of `batch`, whose columns are `columns` (schema indexes, in the
    /// batch's column order).
    pub fn evaluate(&mut self, batch: &RecordBatch, columns: &[usize]) -> Vec<Tri> {
        let rows = batch.num_rows();
        let mut per_leaf: Vec<Vec<Tri>> = Vec::with_capacity(self.leaves.len());
        for leaf in &mut self.leaves {
            let Some(position) = columns.iter().position(|c| *c == leaf.column) else {
                per_leaf.push(vec![Tri::Unknown; rows]);
                continue;
            };
            let array = batch.column(position);
            let mut out = Vec::with_capacity(rows);
            if let Some(strings) = array.as_any().downcast_ref::<StringArray>() {
                for i in 0..rows {
                    out.push(if strings.is_null(i) {
                        Tri::Unknown
                    } else if leaf.decide_str(strings.value(i)) {
                        Tri::True
                    } else {
                        Tri::False
                    });
                }
            } else if let Some(ints) = array.as_any().downcast_ref::<Int64Array>() {
                for i in 0..rows {
                    out.push(if ints.is_null(i) {
                        Tri::Unknown
                    } else if leaf.decide_int(ints.value(i)) {
                        Tri::True
                    } else {
                        Tri::False
                    });
                }
            } else {
                out = vec![Tri::Unknown; rows];
            }
            per_leaf.push(out);
        }
        (0..rows)
            .map(|i| eval_node(&self.root, &per_leaf, i))
            .collect()
    }
}

fn compile_node(expr: &Expr, leaves: &mut Vec<Leaf>) -> Node {
    match expr {
        Expr::And(a, b) => Node::And(
            Box::new(compile_node(a, leaves)),
            Box::new(compile_node(b, leaves)),
        ),
        Expr::Or(a, b) => Node::Or(
            Box::new(compile_node(a, leaves)),
            Box::new(compile_node(b, leaves)),
        ),
        Expr::Not(inner) => Node::Not(Box::new(compile_node(inner, leaves))),
        Expr::Compare(c) => match column_of(&c.attr) {
            Some(column) => {
                let fast = match (&c.value, c.op) {
                    (Some(Literal::String(text)), op) if text.is_ascii() && column != col::ASN => {
                        let fast = match op {
                            Op::Eq => Some(Fast::Eq),
                            Op::Ne => Some(Fast::Ne),
                            Op::Sw => Some(Fast::Sw),
                            Op::Co => Some(Fast::Co),
                            Op::Ew => Some(Fast::Ew),
                            _ => None,
                        };
                        fast.map(|f| (f, text.to_ascii_lowercase()))
                    }
                    _ => None,
                };
                leaves.push(Leaf {
                    column,
                    attr: c.attr.clone(),
                    filter: Filter::from_expr(Expr::Compare(Comparison::clone(c))),
                    memo: HashMap::new(),
                    fast,
                });
                Node::Leaf(leaves.len() - 1)
            }
            None => Node::Unknown,
        },
    }
}

fn eval_node(node: &Node, leaves: &[Vec<Tri>], row: usize) -> Tri {
    match node {
        Node::And(a, b) => {
            let left = eval_node(a, leaves, row);
            if left == Tri::False {
                return Tri::False;
            }
            left.and(eval_node(b, leaves, row))
        }
        Node::Or(a, b) => {
            let left = eval_node(a, leaves, row);
            if left == Tri::True {
                return Tri::True;
            }
            left.or(eval_node(b, leaves, row))
        }
        Node::Not(inner) => eval_node(inner, leaves, row).not(),
        Node::Leaf(i) => leaves[*i][row],
        Node::Unknown => Tri::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_field_documents_nest_the_path() {
        let doc = one_field_doc("actor.alternateId", Value::from("a@b"));
        assert_eq!(doc["actor"]["alternateId"], "a@b");
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_agrees_with_the_evaluator(
            value in "[a-zA-Z0-9 ._@-]{0,12}",
            literal in "[a-zA-Z0-9 ._@-]{0,4}",
            op in proptest::sample::select(vec!["eq", "ne", "sw", "co", "ew"]),
        ) {
            let text = format!("actor.alternateId {op} {}", serde_json::Value::from(literal.clone()));
            let filter = Filter::parse(&text).expect("parses");
            let mut predicate = PivotPredicate::compile(filter.expr()).expect("a pivot");
            proptest::prop_assert!(predicate.leaves[0].fast.is_some());
            let fast = predicate.leaves[0].decide_str(&value);
            let doc = one_field_doc("actor.alternateId", Value::String(value.clone()));
            proptest::prop_assert_eq!(fast, filter.matches_value(&doc), "{} on {:?}", text, value);
        }
    }

    #[test]
    fn kleene_logic() {
        assert_eq!(Tri::Unknown.and(Tri::False), Tri::False);
        assert_eq!(Tri::Unknown.or(Tri::True), Tri::True);
        assert_eq!(Tri::Unknown.not(), Tri::Unknown);
        assert_eq!(Tri::True.and(Tri::Unknown), Tri::Unknown);
    }
}
