//! Reading and printing filter text: a lexer that tracks 1-based character columns, a
//! recursive-descent parser (`not` binds tighter than `and`, which binds tighter than `or`; both
//! left-associative), and `Display` impls that print canonical syntax with only the parentheses
//! precedence requires, so `parse(print(e)) == e`.

use super::ast::{Comparison, Expr, Literal, Op};
use super::FilterError;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    /// An identifier, operator or keyword.
    Word(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A number, as written.
    Number(String),
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::LParen => "`(`".into(),
            Token::RParen => "`)`".into(),
            Token::Word(w) => format!("`{w}`"),
            Token::Str(s) => format!("the string {}", quote(s)),
            Token::Number(n) => format!("the number {n}"),
            Token::End => "end of input".into(),
        }
    }
}

/// Tokens with their 1-based start column.
fn lex(input: &str) -> Result<Vec<(Token, usize)>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push((Token::LParen, column));
            i += 1;
        } else if c == ')' {
            tokens.push((Token::RParen, column));
            i += 1;
        } else if c == '"' {
            let start = i;
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                match chars[i] {
                    '\\' => i += 2,
                    '"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            if !closed {
                return Err(FilterError::syntax(
                    input,
                    column,
                    "a closing `\"`",
                    "end of input (unterminated string)",
                ));
            }
            let text: String = chars[start..i.min(chars.len())].iter().collect();
            let value: String = serde_json::from_str(&text).map_err(|e| {
                FilterError::syntax(
                    input,
                    column,
                    "a valid JSON string",
                    &format!("{} ({e})", text),
                )
            })?;
            tokens.push((Token::Str(value), column));
        } else if c == '-' || c.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-'))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            if text.parse::<f64>().is_err() || !text.chars().any(|c| c.is_ascii_digit()) {
                return Err(FilterError::syntax(
                    input,
                    column,
                    "a number",
                    &format!("`{text}`"),
                ));
            }
            tokens.push((Token::Number(text), column));
        } else if is_word_char(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            tokens.push((Token::Word(chars[start..i].iter().collect()), column));
        } else {
            return Err(FilterError::syntax(
                input,
                column,
                "an attribute, operator, value or parenthesis",
                &format!("`{c}`"),
            ));
        }
    }
    tokens.push((Token::End, chars.len() + 1));
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '$' | '-' | '[' | ']' | ':')
}

const OPERATORS: &str = "eq, ne, gt, ge, lt, le, sw, co, ew, pr";

fn operator(word: &str) -> Option<Op> {
    Some(match word.to_ascii_lowercase().as_str() {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "gt" => Op::Gt,
        "ge" => Op::Ge,
        "lt" => Op::Lt,
        "le" => Op::Le,
        "sw" => Op::Sw,
        "co" => Op::Co,
        "ew" => Op::Ew,
        "pr" => Op::Pr,
        _ => return None,
    })
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<(Token, usize)>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &(Token, usize) {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> (Token, usize) {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek().0, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn error(&self, expected: &str) -> FilterError {
        let (token, column) = self.peek();
        FilterError::syntax(self.input, *column, expected, &token.describe())
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.parse_and()?;
        while self.peek_keyword("or") {
            self.advance();
            let right = self.parse_and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.parse_unary()?;
        while self.peek_keyword("and") {
            self.advance();
            let right = self.parse_unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Expr, FilterError> {
        if self.peek_keyword("not") {
            self.advance();
            return Ok(Expr::Not(Box::new(self.parse_unary()?)));
        }
        if self.peek().0 == Token::LParen {
            self.advance();
            let inner = self.parse_or()?;
            if self.peek().0 != Token::RParen {
                return Err(self.error("`)`, `and` or `or`"));
            }
            self.advance();
            return Ok(inner);
        }
        self.parse_comparison()
    }

    fn parse_comparison(&mut self) -> Result<Expr, FilterError> {
        let attr = match &self.peek().0 {
            Token::Word(w)
                if !["and", "or", "not"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                w.clone()
            }
            _ => return Err(self.error("an attribute name, `not` or `(`")),
        };
        if !attr.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '$') {
            return Err(self.error("an attribute name (starting with a letter)"));
        }
        self.advance();
        let op = match &self.peek().0 {
            Token::Word(w) => match operator(w) {
                Some(op) => op,
                None => return Err(self.error(&format!("an operator ({OPERATORS})"))),
            },
            _ => return Err(self.error(&format!("an operator ({OPERATORS})"))),
        };
        self.advance();
        if op == Op::Pr {
            return Ok(Expr::Compare(Comparison {
                attr,
                op,
                value: None,
            }));
        }
        let value = match &self.peek().0 {
            Token::Str(s) => Literal::String(s.clone()),
            Token::Number(n) => Literal::Number(n.clone()),
            Token::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Token::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Token::Word(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            _ => {
                return Err(self.error("a quoted string, number, true, false or null"));
            }
        };
        self.advance();
        Ok(Expr::Compare(Comparison {
            attr,
            op,
            value: Some(value),
        }))
    }
}

/// Parses filter text into a tree.
pub(super) fn parse_expr(input: &str) -> Result<Expr, FilterError> {
    let tokens = lex(input)?;
    let mut parser = Parser {
        input,
        tokens,
        pos: 0,
    };
    if parser.peek().0 == Token::End {
        return Err(parser.error("a filter expression"));
    }
    let expr = parser.parse_or()?;
    if parser.peek().0 != Token::End {
        return Err(parser.error("`and`, `or` or end of input"));
    }
    Ok(expr)
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
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
        })
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => f.write_str(&quote(s)),
            Literal::Number(n) => f.write_str(n),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

/// Binding strength: or < and < unary.
fn level(e: &Expr) -> u8 {
    match e {
        Expr::Or(..) => 0,
        Expr::And(..) => 1,
        Expr::Not(_) | Expr::Compare(_) => 2,
    }
}

fn write_at(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if level(e) < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(a, b) => {
                write_at(f, a, 0)?;
                f.write_str(" or ")?;
                write_at(f, b, 1)
            }
            Expr::And(a, b) => {
                write_at(f, a, 1)?;
                f.write_str(" and ")?;
                write_at(f, b, 2)
            }
            Expr::Not(inner) => {
                f.write_str("not ")?;
                write_at(f, inner, 2)
            }
            Expr::Compare(c) => match &c.value {
                Some(v) => write!(f, "{} {} {v}", c.attr, c.op),
                None => write!(f, "{} {}", c.attr, c.op),
            },
        }
    }
}
