//! The parser: tokens from [`super::lexer`] into an [`Expr`].
//!
//! ```text
//! filter     = or
//! or         = and *("or" and)                 ; left-associative
//! and        = unary *("and" unary)            ; left-associative
//! unary      = "not" unary / "(" or ")" / comparison
//! comparison = attr op value / attr "pr"
//! op         = eq / ne / gt / ge / lt / le / sw / co / ew
//! value      = JSON string / JSON number / true / false / null
//! ```
//!
//! Keywords, operators and `true`/`false`/`null` are case-insensitive; attribute names are not,
//! and cannot be `and`, `or` or `not`.
//!
//! It is an operator-precedence (shunting-yard) parser with explicit stacks rather than
//! recursive descent, so no nesting of parentheses can overflow the thread's stack; the tree it
//! builds is capped at [`MAX_DEPTH`] levels so that nothing walking it later can either.

use super::ast::{Comparison, Expr, Literal, Op};
use super::lexer::{Lexer, Spanned, Token};
use super::FilterError;

/// The deepest tree a filter may give. A chain of `n` comparisons joined by `and`/`or` is `n`
/// deep, and each `not` adds one, so this allows a 500-term `or` list. Recursive walks of the
/// tree (the derived `Clone`, `PartialEq`, `Debug`, `Drop`, and the store's query planner) stay
/// well inside a 2 MiB thread stack even in debug builds.
pub const MAX_DEPTH: usize = 500;

/// Parses filter text into a tree.
pub(super) fn parse(input: &str) -> Result<Expr, FilterError> {
    let mut lexer = Lexer::new(input);
    let current = lexer.next_token()?;
    let parser = Parser {
        input,
        lexer,
        current,
        operands: Vec::new(),
        operators: Vec::new(),
    };
    if parser.current.token == Token::End {
        return Err(
            parser.unexpected("a filter expression, e.g. `eventType eq \"user.session.start\"`")
        );
    }
    parser.run()
}

/// An operator waiting on the stack, with the column it was written at.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pending {
    Not(usize),
    And(usize),
    Or(usize),
    Open(usize),
}

struct Parser<'a> {
    input: &'a str,
    lexer: Lexer<'a>,
    /// The one token of lookahead.
    current: Spanned<'a>,
    /// Finished subtrees, each with its depth.
    operands: Vec<(Expr, usize)>,
    /// Operators and open parentheses not yet applied.
    operators: Vec<Pending>,
}

impl<'a> Parser<'a> {
    /// Moves to the next token, returning the current one.
    fn advance(&mut self) -> Result<Spanned<'a>, FilterError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.current, next))
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(self.current.token, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    /// An error at the current token.
    fn unexpected(&self, expected: &str) -> FilterError {
        FilterError::unexpected(
            self.input,
            self.current.column,
            expected,
            self.current.token.describe(),
        )
    }

    /// The column of the innermost unclosed `(`.
    fn open_paren(&self) -> Option<usize> {
        self.operators.iter().rev().find_map(|p| match p {
            Pending::Open(column) => Some(*column),
            _ => None,
        })
    }

    /// Alternates between an operand (`not`s and `(`s, then a comparison) and what may follow
    /// one (`and`, `or`, `)`, end of input).
    fn run(mut self) -> Result<Expr, FilterError> {
        loop {
            // An operand.
            loop {
                if self.at_keyword("not") {
                    let column = self.advance()?.column;
                    self.operators.push(Pending::Not(column));
                } else if self.current.token == Token::LParen {
                    let column = self.advance()?.column;
                    self.operators.push(Pending::Open(column));
                } else {
                    break;
                }
            }
            let comparison = self.comparison()?;
            self.operands.push((Expr::Compare(comparison), 1));
            self.apply_nots()?;

            // What follows it; `)` may repeat.
            loop {
                if self.at_keyword("and") {
                    let column = self.advance()?.column;
                    self.apply_while(|p| matches!(p, Pending::And(_)))?;
                    self.operators.push(Pending::And(column));
                    break;
                }
                if self.at_keyword("or") {
                    let column = self.advance()?.column;
                    self.apply_while(|p| matches!(p, Pending::And(_) | Pending::Or(_)))?;
                    self.operators.push(Pending::Or(column));
                    break;
                }
                match self.current.token {
                    Token::RParen if self.open_paren().is_some() => {
                        self.advance()?;
                        self.apply_while(|p| matches!(p, Pending::And(_) | Pending::Or(_)))?;
                        self.operators.pop(); // the `(`
                        self.apply_nots()?;
                    }
                    Token::End if self.open_paren().is_none() => {
                        self.apply_while(|_| true)?;
                        return match self.operands.pop() {
                            Some((expr, _)) if self.operands.is_empty() => Ok(expr),
                            // Unreachable: every operator consumed its operands.
                            _ => Err(self.unexpected("a complete filter")),
                        };
                    }
                    Token::RParen => {
                        return Err(FilterError::unexpected(
                            self.input,
                            self.current.column,
                            "`and`, `or` or end of input",
                            "`)` without a matching `(`".into(),
                        ))
                    }
                    _ => {
                        return Err(match self.open_paren() {
                            Some(column) => self.unexpected(&format!(
                                "`and`, `or` or `)` to close the `(` at column {column}"
                            )),
                            None => self.unexpected("`and`, `or` or end of input"),
                        })
                    }
                }
            }
        }
    }

    /// Applies the `not`s directly before the operand just finished.
    fn apply_nots(&mut self) -> Result<(), FilterError> {
        self.apply_while(|p| matches!(p, Pending::Not(_)))
    }

    /// Pops and applies operators while `pred` holds for the top one (never past a `(`).
    fn apply_while(&mut self, pred: impl Fn(Pending) -> bool) -> Result<(), FilterError> {
        while let Some(&top) = self.operators.last() {
            if matches!(top, Pending::Open(_)) || !pred(top) {
                break;
            }
            self.operators.pop();
            let (expr, depth, column) = match top {
                Pending::Not(column) => {
                    let (inner, depth) = self.pop_operand()?;
                    (Expr::Not(Box::new(inner)), depth + 1, column)
                }
                Pending::And(column) | Pending::Or(column) => {
                    let (right, right_depth) = self.pop_operand()?;
                    let (left, left_depth) = self.pop_operand()?;
                    let depth = 1 + left_depth.max(right_depth);
                    let (left, right) = (Box::new(left), Box::new(right));
                    let expr = match top {
                        Pending::And(_) => Expr::And(left, right),
                        _ => Expr::Or(left, right),
                    };
                    (expr, depth, column)
                }
                Pending::Open(_) => break,
            };
            if depth > MAX_DEPTH {
                return Err(FilterError::TooComplex {
                    input: self.input.to_string(),
                    column,
                    limit: MAX_DEPTH,
                });
            }
            self.operands.push((expr, depth));
        }
        Ok(())
    }

    fn pop_operand(&mut self) -> Result<(Expr, usize), FilterError> {
        // Unreachable: operators are only pushed after an operand.
        self.operands
            .pop()
            .ok_or_else(|| self.unexpected("a complete filter"))
    }

    /// `attr op value` or `attr pr`.
    fn comparison(&mut self) -> Result<Comparison, FilterError> {
        let attr = match self.current.token {
            Token::Word(w) if !is_reserved(w) => w,
            _ => return Err(self.unexpected("an attribute name, `not` or `(`")),
        };
        if attr.ends_with('.') || attr.contains("..") {
            return Err(self
                .unexpected("an attribute path such as `actor.id` (names joined by single dots)"));
        }
        self.advance()?;

        let op = match self.current.token {
            Token::Word(w) => Op::from_keyword(w),
            _ => None,
        };
        let Some(op) = op else {
            return Err(self.unexpected(&format!(
                "an operator ({})",
                Op::ALL.map(Op::as_str).join(", ")
            )));
        };
        self.advance()?;
        if op == Op::Pr {
            return Ok(Comparison {
                attr: attr.to_string(),
                op,
                value: None,
            });
        }

        let value = match &self.current.token {
            Token::Str(s) => Literal::String(s.clone()),
            Token::Number(n) => Literal::Number(n.to_string()),
            Token::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Token::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Token::Word(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            _ => return Err(self.unexpected("a quoted string, number, true, false or null")),
        };
        self.advance()?;
        Ok(Comparison {
            attr: attr.to_string(),
            op,
            value: Some(value),
        })
    }
}

/// Words that cannot be attribute names.
fn is_reserved(word: &str) -> bool {
    ["and", "or", "not"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}
