//! The filter syntax tree. `Display` prints a filter back in canonical Okta syntax, so that
//! printing and re-parsing gives the same tree (a property test checks it).

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `left and right`.
    And(Box<Expr>, Box<Expr>),
    /// `left or right`.
    Or(Box<Expr>, Box<Expr>),
    /// `not (inner)`.
    Not(Box<Expr>),
    /// `attr op value` or `attr pr`.
    Compare(Comparison),
}

/// One attribute comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The attribute path as written, e.g. `debugContext.debugData.requestUri` (case-sensitive).
    pub attr: String,
    /// The operator.
    pub op: Op,
    /// The literal; `None` only for `pr`.
    pub value: Option<Literal>,
}

/// Comparison operators of Okta's filter syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// greater than
    Gt,
    /// greater or equal
    Ge,
    /// less than
    Lt,
    /// less or equal
    Le,
    /// starts with
    Sw,
    /// contains
    Co,
    /// ends with
    Ew,
    /// present (non-null, non-empty)
    Pr,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A double-quoted JSON string (unescaped).
    String(String),
    /// A number as written (kept as text so `1.50` prints back the same).
    Number(String),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}
