//! Okta's System Log filter syntax (`filter=` of `GET /api/v1/logs`): `eq ne gt ge lt le sw co ew
//! pr`, `and or not`, parentheses. [`Filter::parse`] gives errors that point at the column;
//! [`Filter::matches`] evaluates against a [`LogEvent`]. [`Keywords`] implements the `q` keyword
//! search.
//!
//! # Semantics
//! - Operators and `and`/`or`/`not` are case-insensitive; attribute names are case-sensitive
//!   dotted paths into any field (`debugContext.debugData.requestUri`). A path through an array
//!   matches when any element does: `target.id eq "A" and target.id eq "B"` matches an event
//!   that has both targets.
//! - Precedence: `not` binds tighter than `and`, which binds tighter than `or`; both are
//!   left-associative.
//! - `eq ne sw co ew` compare strings case-insensitively (SCIM's default, `caseExact=false`).
//!   A string literal against a number or boolean field compares their text
//!   (`securityContext.isProxy eq "true"` matches JSON `true`); a number literal compares
//!   numerically with numbers and numeric strings.
//! - `gt ge lt le` are numeric when both sides are numbers, otherwise lexicographic on the text
//!   (ISO 8601 dates therefore compare chronologically).
//! - `ne` is the negation of `eq`, so it is true when the field is absent. `eq null` matches an
//!   absent or null field. `pr` is true when the field holds something other than null, `""`,
//!   `[]` or `{}`.
//! - Okta's own `/api/v1/logs` rejects `published` in a filter (use `since`/`until`) and `co` on
//!   `debugContext.debugData.url`/`requestUri`; [`Filter::okta_restrictions`] reports those, as
//!   the simulator's API must. idwatch's own `query` accepts them.
//!
//! # Okta's customer-detection queries that do not parse
//! Every `okta_systemlog` query in Okta's customer-detections catalogue parses except those that
//! use `eventType in ["a", "b"]`, which is not System Log filter syntax (Okta's API rejects it
//! too): `api_token_excessive_network_access.yml`. See `tests.rs`.

pub mod ast;
mod matcher;
mod syntax;
#[cfg(test)]
mod tests;

pub use ast::{Comparison, Expr, Literal, Op};

use crate::LogEvent;
use serde_json::Value;
use std::fmt;

/// A parsed, compiled filter.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
    compiled: matcher::Node,
}

impl Filter {
    /// Parses filter text.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let expr = syntax::parse_expr(text)?;
        Ok(Filter::from_expr(expr))
    }

    /// Compiles an already-built tree.
    pub fn from_expr(expr: Expr) -> Filter {
        let compiled = matcher::compile(&expr);
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

    /// What Okta's `/api/v1/logs` would reject in this filter, with Okta's error code.
    pub fn okta_restrictions(&self) -> Result<(), FilterError> {
        fn walk(e: &Expr, input: &str) -> Result<(), FilterError> {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a, input)?;
                    walk(b, input)
                }
                Expr::Not(a) => walk(a, input),
                Expr::Compare(c) => {
                    if c.attr == "published" {
                        return Err(FilterError::Unsupported {
                            input: input.to_string(),
                            code: "E0000053",
                            reason: "field is not valid: published (use since and until)".into(),
                        });
                    }
                    if c.op == Op::Co
                        && matches!(
                            c.attr.as_str(),
                            "debugContext.debugData.url" | "debugContext.debugData.requestUri"
                        )
                    {
                        return Err(FilterError::Unsupported {
                            input: input.to_string(),
                            code: "E0000031",
                            reason: format!("operator co is not supported for {}", c.attr),
                        });
                    }
                    Ok(())
                }
            }
        }
        walk(&self.expr, &self.to_string())
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

/// A filter or keyword search that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The text does not parse.
    #[error("filter `{input}`: column {column}: expected {expected}, found {found}")]
    Syntax {
        /// The filter text.
        input: String,
        /// 1-based character column.
        column: usize,
        /// What would have been valid there.
        expected: String,
        /// What was there.
        found: String,
    },
    /// Valid syntax that Okta's API refuses.
    #[error("filter `{input}`: {reason} ({code})")]
    Unsupported {
        /// The filter text.
        input: String,
        /// Okta's error code (`E0000053`, `E0000031`).
        code: &'static str,
        /// Why.
        reason: String,
    },
    /// A `q` keyword search Okta refuses.
    #[error("q `{input}`: {reason}")]
    Keywords {
        /// The `q` text.
        input: String,
        /// Why (Okta's wording).
        reason: String,
    },
}

impl FilterError {
    fn syntax(input: &str, column: usize, expected: &str, found: &str) -> FilterError {
        FilterError::Syntax {
            input: input.to_string(),
            column,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// The 1-based column of a syntax error (0 for other errors).
    pub fn column(&self) -> usize {
        match self {
            FilterError::Syntax { column, .. } => *column,
            _ => 0,
        }
    }

    /// The Okta error code an API would answer with.
    pub fn okta_code(&self) -> &'static str {
        match self {
            FilterError::Syntax { .. } => "E0000053",
            FilterError::Unsupported { code, .. } => code,
            FilterError::Keywords { .. } => "E0000001",
        }
    }
}

/// The `q` keyword search: every keyword must match some value of the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    terms: Vec<String>,
}

/// Okta's limits on `q`.
const MAX_KEYWORDS: usize = 10;
const MAX_KEYWORD_CHARS: usize = 40;

impl Keywords {
    /// Parses `q` text: whitespace-separated keywords, at most 10, each at most 40 characters.
    pub fn parse(q: &str) -> Result<Keywords, FilterError> {
        let terms: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
        if terms.len() > MAX_KEYWORDS {
            return Err(FilterError::Keywords {
                input: q.to_string(),
                reason: format!(
                    "Freeform search cannot contain more than {MAX_KEYWORDS} items (got {})",
                    terms.len()
                ),
            });
        }
        if let Some(long) = terms.iter().find(|t| t.chars().count() > MAX_KEYWORD_CHARS) {
            return Err(FilterError::Keywords {
                input: q.to_string(),
                reason: format!(
                    "Freeform search cannot contain items longer than {MAX_KEYWORD_CHARS} characters (`{long}`)"
                ),
            });
        }
        Ok(Keywords { terms })
    }

    /// The keywords, lowercased.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Whether every keyword matches some value of the event.
    pub fn matches(&self, event: &LogEvent) -> bool {
        self.matches_value(event.doc())
    }

    /// Whether every keyword matches some value of a JSON event.
    pub fn matches_value(&self, doc: &Value) -> bool {
        self.terms
            .iter()
            .all(|k| matcher::any_leaf(doc, &mut |v| matcher::keyword_matches(v, k)))
    }
}
