//! Okta's System Log filter syntax (the `filter` parameter of `GET /api/v1/logs`) and its `q`
//! keyword search. [`Filter::parse`] reads filter text into an [`Expr`] (errors name the
//! 1-based character column, what was expected and what was found) and compiles it once;
//! [`Filter::matches`] evaluates it against a [`LogEvent`] without allocating; `Display` prints
//! canonical syntax that parses back to the same tree. [`Keywords`] is the `q` search.
//!
//! ```
//! use okta::filter::Filter;
//! let f = Filter::parse(r#"eventType EQ "user.session.start" and not (outcome.result eq "SUCCESS")"#)?;
//! let event = okta::LogEvent::parse(
//!     r#"{"uuid":"u","published":"2024-01-01T00:00:00Z","eventType":"user.session.start","outcome":{"result":"FAILURE"}}"#,
//! ).unwrap();
//! assert!(f.matches(&event));
//! assert_eq!(f.to_string(), r#"eventType eq "user.session.start" and not (outcome.result eq "SUCCESS")"#);
//! # Ok::<(), okta::filter::FilterError>(())
//! ```
//!
//! Files: `lexer.rs` (tokens and columns), `parser.rs` (grammar, precedence, depth limit),
//! `ast.rs` (the tree and printing), `eval.rs` (compiled evaluation), `keywords.rs` (`q`).
//!
//! # Syntax
//! `<attr> <op> <value>` and `<attr> pr`, combined with `and`, `or`, `not` and parentheses.
//! `not` binds tighter than `and`, which binds tighter than `or`; `and` and `or` are
//! left-associative (`a or b and c` is `a or (b and c)`, `not a and b` is `(not a) and b`).
//! `not` takes a parenthesised group or a single comparison; it is printed as `not (…)`, the
//! form SCIM requires. Operators (`eq ne gt ge lt le sw co ew pr`), `and`/`or`/`not` and
//! `true`/`false`/`null` are case-insensitive. Attribute names are case-sensitive dotted paths:
//! a letter, then letters, digits, `_`, `.`, `$` or `-`, with no empty part between dots; `and`,
//! `or` and `not` cannot be attribute names. Values are JSON strings (JSON escapes), JSON numbers
//! (kept as written), `true`, `false` and `null`. A tree may be at most [`MAX_DEPTH`] (500)
//! levels deep: a chain of 500 comparisons, or 499 `not`s; parentheses alone add no depth.
//!
//! # Semantics
//! - **Paths** are looked up with exact key names. A path through an array matches when any
//!   element matches (`target.id eq "x"`), so `target.id eq "A" and target.id eq "B"` matches an
//!   event that has both targets; a numeric segment also indexes an array (`target.0.id`). A
//!   path ending at an array reaches each element and the array itself.
//! - **`eq ne sw co ew`** compare case-insensitively (SCIM's default `caseExact=false`),
//!   lowercasing each character with `char::to_lowercase` (no locale, no context: a final `Σ`
//!   folds to `σ`).
//! - **Mixed types**: when the field is a number or boolean and the literal a string (or the
//!   field a string and the literal a number or boolean), their text forms are compared:
//!   `securityContext.isProxy eq "true"` matches JSON `true`, `securityContext.asNumber eq
//!   "13335"` matches `13335`, and `x eq 5` matches the string `"5"` but not `"5.0"`. A number
//!   field's text is `serde_json`'s (`1.0` stays `1.0`). A number literal against a number field
//!   compares numerically (`13335.0` matches `13335`; integers exactly), a boolean against a
//!   boolean by value. `sw co ew` always compare text forms.
//! - **`gt ge lt le`** are numeric when the field is a number, or a string holding a JSON number,
//!   and the literal is a number; otherwise they compare the text forms lexicographically by code
//!   point, case-insensitively, so ISO 8601 times written alike (same offset, same fraction
//!   digits) compare chronologically.
//! - **`ne`** is the negation of `eq` over the whole event: true when the field is absent, and
//!   false when any array element equals the literal.
//! - **`pr`**: some value the path reaches is not `null`, `""`, `[]` or `{}`.
//! - **`null`**: `eq null` matches when the path reaches nothing or reaches a `null`; `ne null`
//!   is its negation. With any other operator a `null` literal matches nothing. A `null` field
//!   has no text form: `eq "null"` matches only the string `"null"`.
//! - Arrays and objects themselves never equal or order against a literal; only `pr` sees them.
//!
//! # What Okta's API refuses
//! This module accepts some filters that Okta's `/api/v1/logs` answers with 400:
//! [`Filter::okta_restrictions`] reports `published` in a filter ([`FilterError::InvalidField`],
//! `E0000053`: use `since`/`until`) and `co` on `debugContext.debugData.url` or
//! `debugContext.debugData.requestUri` ([`FilterError::UnsupportedOperator`], `E0000031`).
//! Anything that does not parse here is `E0000053` ("Invalid filter").
//!
//! # Okta's customer-detection queries that do not parse
//! Every `detection.okta_systemlog.OIE` query in Okta's customer-detections catalogue (25
//! detections, 12 hunts) parses, except:
//! - `detections/api_token_excessive_network_access.yml`:
//!   `eventType in ["system.api_token.create", "system.api_token.update"] AND …` uses `in [...]`,
//!   which is not System Log filter syntax (Okta's SCIM operators have no `in`; the equivalent is
//!   `(eventType eq "system.api_token.create" or eventType eq "system.api_token.update")`).
//!   Error: column 11, expected an operator, found `in`.
//!
//! The test `customer_detection_queries_parse_except_the_known_list` asserts exactly this list
//! (and that every query that parses also passes [`Filter::okta_restrictions`]). One query
//! parses but cannot do what its authors meant: `detect_aitm_phishing_using_okta_fastpass.yml`
//! tests `result`, which is not a field of a System Log event (`outcome.result` is), so it
//! matches nothing.

pub mod ast;
mod eval;
mod keywords;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

pub use ast::{Comparison, Expr, Literal, Op};
pub use keywords::{KeywordError, Keywords, MAX_KEYWORDS, MAX_KEYWORD_CHARS};
pub use parser::MAX_DEPTH;

use crate::LogEvent;
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// A parsed filter, compiled for evaluation. Immutable; share it between threads freely.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
    compiled: eval::Node,
}

impl Filter {
    /// Parses and compiles filter text.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        Ok(Filter::from_expr(parser::parse(text)?))
    }

    /// Compiles a tree built in code. Printing it gives text that parses back to the same tree
    /// when the tree is one the parser could produce (valid attribute names, a value for every
    /// operator but `pr`, number literals in JSON syntax); evaluation never panics either way.
    pub fn from_expr(expr: Expr) -> Filter {
        let compiled = eval::compile(&expr);
        Filter { expr, compiled }
    }

    /// The syntax tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether the event matches.
    pub fn matches(&self, event: &LogEvent) -> bool {
        self.compiled.matches(event.doc())
    }

    /// Whether a JSON event matches.
    pub fn matches_value(&self, doc: &Value) -> bool {
        self.compiled.matches(doc)
    }

    /// `Ok` when Okta's own `/api/v1/logs` would accept this filter; otherwise the first
    /// comparison it refuses: `published` anywhere ([`FilterError::InvalidField`], `E0000053`),
    /// or `co` on `debugContext.debugData.url`/`requestUri`
    /// ([`FilterError::UnsupportedOperator`], `E0000031`). See [`FilterError::okta_code`].
    pub fn okta_restrictions(&self) -> Result<(), FilterError> {
        let mut pending = vec![&self.expr];
        while let Some(expr) = pending.pop() {
            match expr {
                // Right first, so that the leftmost violation is reported.
                Expr::And(a, b) | Expr::Or(a, b) => pending.extend([b.as_ref(), a.as_ref()]),
                Expr::Not(inner) => pending.push(inner),
                Expr::Compare(c) => {
                    if c.attr == "published" {
                        return Err(FilterError::InvalidField {
                            input: self.to_string(),
                            field: c.attr.clone(),
                            reason: "filter on the event time with the since and until \
                                     parameters"
                                .into(),
                        });
                    }
                    if c.op == Op::Co
                        && matches!(
                            c.attr.as_str(),
                            "debugContext.debugData.url" | "debugContext.debugData.requestUri"
                        )
                    {
                        return Err(FilterError::UnsupportedOperator {
                            input: self.to_string(),
                            field: c.attr.clone(),
                            op: c.op,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Filter {
    /// Canonical syntax; see [`Expr`]'s `Display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Filter, FilterError> {
        Filter::parse(text)
    }
}

/// A filter that cannot be used: it does not parse, or Okta's API refuses it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The text does not parse.
    #[error("filter `{input}`: column {column}: expected {expected}, found {found}")]
    Unexpected {
        /// The filter text.
        input: String,
        /// 1-based column, in characters, of what was found.
        column: usize,
        /// What would have been valid there.
        expected: String,
        /// What was there.
        found: String,
    },
    /// The tree, or the nesting of `(` and `not`, is deeper than [`MAX_DEPTH`].
    #[error("filter `{input}`: column {column}: the filter is nested more than {limit} deep")]
    TooComplex {
        /// The filter text.
        input: String,
        /// 1-based column of the `and`, `or`, `not` or `(` that went past the limit.
        column: usize,
        /// The limit, [`MAX_DEPTH`].
        limit: usize,
    },
    /// Valid syntax on a field Okta refuses to filter on (`published`); Okta answers
    /// `E0000053`.
    #[error("filter `{input}`: field is not valid: {field} ({reason})")]
    InvalidField {
        /// The filter, printed canonically.
        input: String,
        /// The attribute.
        field: String,
        /// What to do instead.
        reason: String,
    },
    /// Valid syntax, but an operator Okta does not support on that field (`co` on
    /// `debugContext.debugData.url`/`requestUri`); Okta answers `E0000031`.
    #[error(
        "filter `{input}`: operator `{op}` is not supported on {field} by Okta's API (use eq or sw)"
    )]
    UnsupportedOperator {
        /// The filter, printed canonically.
        input: String,
        /// The attribute.
        field: String,
        /// The operator.
        op: Op,
    },
}

impl FilterError {
    pub(crate) fn unexpected(
        input: &str,
        column: usize,
        expected: &str,
        found: String,
    ) -> FilterError {
        FilterError::Unexpected {
            input: input.to_string(),
            column,
            expected: expected.to_string(),
            found,
        }
    }

    /// The 1-based character column the error points at; 0 for errors about the whole filter
    /// ([`FilterError::InvalidField`], [`FilterError::UnsupportedOperator`]).
    pub fn column(&self) -> usize {
        match self {
            FilterError::Unexpected { column, .. } | FilterError::TooComplex { column, .. } => {
                *column
            }
            FilterError::InvalidField { .. } | FilterError::UnsupportedOperator { .. } => 0,
        }
    }

    /// The `errorCode` Okta's `/api/v1/logs` answers with (HTTP 400): `E0000031` for
    /// [`FilterError::UnsupportedOperator`], `E0000053` for everything else.
    pub fn okta_code(&self) -> &'static str {
        match self {
            FilterError::UnsupportedOperator { .. } => "E0000031",
            FilterError::Unexpected { .. }
            | FilterError::TooComplex { .. }
            | FilterError::InvalidField { .. } => "E0000053",
        }
    }
}
