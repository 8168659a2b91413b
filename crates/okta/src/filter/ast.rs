//! The filter syntax tree, and printing it: `Display` writes canonical Okta syntax (lowercase
//! operators and keywords, JSON-escaped strings, numbers as written, `not (…)` always
//! parenthesised as SCIM requires, and otherwise only the parentheses precedence needs), so that
//! parsing the printed text gives the same tree (a property test checks it). The store's query
//! planner pattern-matches on these types, so their shape is fixed.

use std::fmt;

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

impl Op {
    /// Every operator, in the order error messages list them.
    pub const ALL: [Op; 10] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Ge,
        Op::Lt,
        Op::Le,
        Op::Sw,
        Op::Co,
        Op::Ew,
        Op::Pr,
    ];

    /// The operator's canonical (lowercase) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Sw => "sw",
            Op::Co => "co",
            Op::Ew => "ew",
            Op::Pr => "pr",
        }
    }

    /// The operator spelled `word`, in any case (`Eq`, `EQ`).
    pub fn from_keyword(word: &str) -> Option<Op> {
        Op::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write_json_string(f, s),
            Literal::Number(n) => f.write_str(n),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

/// Writes `s` as a JSON string literal: `"` and `\` escaped, control characters as `\n`, `\t`…
/// or `\u00XX`; everything else (non-ASCII included) as is.
pub(super) fn write_json_string(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            '\u{8}' => out.write_str("\\b")?,
            '\u{c}' => out.write_str("\\f")?,
            c if c < ' ' => write!(out, "\\u{:04x}", u32::from(c))?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) if self.op != Op::Pr => write!(f, "{} {} {value}", self.attr, self.op),
            _ => write!(f, "{} {}", self.attr, self.op),
        }
    }
}

/// How tightly an expression binds: `or` < `and` < `not` and comparisons.
fn binding(e: &Expr) -> u8 {
    match e {
        Expr::Or(..) => 0,
        Expr::And(..) => 1,
        Expr::Not(_) | Expr::Compare(_) => 2,
    }
}

/// Writes `e`, parenthesised when it binds more loosely than its position requires.
fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, at_least: u8) -> fmt::Result {
    if binding(e) < at_least {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Expr {
    /// Canonical Okta syntax. `and`/`or` are left-associative, so a right operand of the same
    /// kind is parenthesised (`a or (b or c)`) while a left one is not (`a or b or c`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (and, separator, level) = match self {
            Expr::Or(..) => (false, " or ", 0),
            Expr::And(..) => (true, " and ", 1),
            Expr::Not(_) => {
                // `not (not (…))` without recursing once per `not`.
                let mut nots = 0;
                let mut inner = self;
                while let Expr::Not(next) = inner {
                    nots += 1;
                    inner = next;
                }
                for _ in 0..nots {
                    f.write_str("not (")?;
                }
                inner.fmt(f)?;
                for _ in 0..nots {
                    f.write_str(")")?;
                }
                return Ok(());
            }
            Expr::Compare(c) => return c.fmt(f),
        };
        // Walk down the left spine of the chain instead of recursing, so a long
        // `a or b or c or …` list is printed in constant stack.
        let mut rights = Vec::new();
        let mut leftmost = self;
        loop {
            match leftmost {
                Expr::And(a, b) if and => {
                    rights.push(b);
                    leftmost = a;
                }
                Expr::Or(a, b) if !and => {
                    rights.push(b);
                    leftmost = a;
                }
                _ => break,
            }
        }
        write_operand(f, leftmost, level)?;
        for right in rights.iter().rev() {
            f.write_str(separator)?;
            write_operand(f, right, level + 1)?;
        }
        Ok(())
    }
}
