//! Splitting filter text into tokens, on demand, each with its 1-based character column: words
//! (attribute names, operators, `and`/`or`/`not`, `true`/`false`/`null`), JSON strings
//! (unescaped here, so escape errors point at the backslash), JSON numbers (kept as written),
//! parentheses. A character that starts no token becomes [`Token::Other`] so the parser can say
//! what it expected in its place; only malformed strings and numbers are errors here.

use super::FilterError;

/// One token. Words and numbers borrow the input; strings are unescaped.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token<'a> {
    LParen,
    RParen,
    /// An attribute name, operator, keyword or `true`/`false`/`null`: a letter, then letters,
    /// digits, `_`, `.`, `$` or `-`.
    Word(&'a str),
    /// A double-quoted string, unescaped.
    Str(String),
    /// A JSON number, as written.
    Number(&'a str),
    /// A character that starts no token (`#`, `=`, `[`…).
    Other(char),
    End,
}

impl Token<'_> {
    /// The token as an error message names it ("found …").
    pub(super) fn describe(&self) -> String {
        match self {
            Token::LParen => "`(`".into(),
            Token::RParen => "`)`".into(),
            Token::Word(w) => format!("`{w}`"),
            Token::Str(s) => {
                let mut text = String::from("the string ");
                // Writing into a String cannot fail.
                let _ = super::ast::write_json_string(&mut text, s);
                text
            }
            Token::Number(n) => format!("the number {n}"),
            Token::Other(c) if c.is_control() => format!("the character U+{:04X}", u32::from(*c)),
            Token::Other(c) => format!("`{c}`"),
            Token::End => "end of input".into(),
        }
    }
}

/// A token and the 1-based character column it starts at.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spanned<'a> {
    pub(super) token: Token<'a>,
    pub(super) column: usize,
}

/// Reads tokens from filter text one at a time.
pub(super) struct Lexer<'a> {
    input: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    /// 1-based character column of the next character.
    column: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            pos: 0,
            column: 1,
        }
    }

    fn peek_char(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn bump_char(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        self.column += 1;
        Some(c)
    }

    fn bump_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.peek_char().is_some_and(&keep) {
            self.bump_char();
        }
    }

    fn error(&self, column: usize, expected: &str, found: String) -> FilterError {
        FilterError::unexpected(self.input, column, expected, found)
    }

    /// The next token; [`Token::End`] (at the column after the last character) once the input
    /// is exhausted, as often as asked.
    pub(super) fn next_token(&mut self) -> Result<Spanned<'a>, FilterError> {
        self.bump_while(char::is_whitespace);
        let column = self.column;
        let start = self.pos;
        let token = match self.peek_char() {
            None => Token::End,
            Some('(') => {
                self.bump_char();
                Token::LParen
            }
            Some(')') => {
                self.bump_char();
                Token::RParen
            }
            Some('"') => Token::Str(self.string(column)?),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                // Take the whole run a user would see as one number, so `1.2.3` or `12abc` is
                // reported whole rather than as a number followed by garbage.
                self.bump_while(|c| c.is_alphanumeric() || matches!(c, '.' | '+' | '-' | '_'));
                let text = &self.input[start..self.pos];
                if !is_json_number(text) {
                    return Err(self.error(
                        column,
                        "a number (JSON syntax, e.g. 42, -1.5, 1e3)",
                        format!("`{text}`"),
                    ));
                }
                Token::Number(text)
            }
            Some(c) if c.is_alphabetic() => {
                self.bump_while(is_word_char);
                Token::Word(&self.input[start..self.pos])
            }
            Some(c) => {
                self.bump_char();
                Token::Other(c)
            }
        };
        Ok(Spanned { token, column })
    }

    /// A JSON string whose opening quote is at `column`, unescaped.
    fn string(&mut self, column: usize) -> Result<String, FilterError> {
        self.bump_char();
        let mut out = String::new();
        loop {
            let here = self.column;
            let escape_start = self.pos;
            match self.bump_char() {
                None => {
                    return Err(self.error(
                        column,
                        "a closing `\"` for the string starting here",
                        "end of input".into(),
                    ))
                }
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.escape(here, escape_start)?),
                Some(c) if c < ' ' => {
                    return Err(self.error(
                        here,
                        "a character or an escape such as `\\n` (JSON strings cannot contain \
                         control characters)",
                        Token::Other(c).describe(),
                    ))
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// The character an escape stands for; the backslash (at `column`, byte `start`) has been
    /// read.
    fn escape(&mut self, column: usize, start: usize) -> Result<char, FilterError> {
        const EXPECTED: &str =
            "a JSON escape (`\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` or `\\uXXXX`)";
        let c = match self.bump_char() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => return self.unicode_escape(column, start),
            Some(other) => {
                return Err(self.error(column, EXPECTED, format!("`\\{other}`")));
            }
            None => return Err(self.error(column, EXPECTED, "end of input".into())),
        };
        Ok(c)
    }

    /// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`; `\u` has been read.
    fn unicode_escape(&mut self, column: usize, start: usize) -> Result<char, FilterError> {
        let high = self.hex4(column, start)?;
        let code = match high {
            0xD800..=0xDBFF => {
                let low_column = self.column;
                let low_start = self.pos;
                let low = if self.input[self.pos..].starts_with("\\u") {
                    self.bump_char();
                    self.bump_char();
                    Some(self.hex4(low_column, low_start)?)
                } else {
                    None
                };
                match low {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => {
                        return Err(self.error(
                            column,
                            "a low surrogate `\\uDC00`-`\\uDFFF` after a high surrogate",
                            format!("`{}`", &self.input[start..self.pos]),
                        ))
                    }
                }
            }
            0xDC00..=0xDFFF => {
                return Err(self.error(
                    column,
                    "a Unicode scalar value (a low surrogate must follow a high one)",
                    format!("`{}`", &self.input[start..self.pos]),
                ))
            }
            code => code,
        };
        char::from_u32(code).ok_or_else(|| {
            self.error(
                column,
                "a Unicode scalar value",
                format!("`{}`", &self.input[start..self.pos]),
            )
        })
    }

    /// Four hex digits after `\u` (the escape starts at `column`, byte `start`).
    fn hex4(&mut self, column: usize, start: usize) -> Result<u32, FilterError> {
        let mut code = 0;
        for _ in 0..4 {
            match self.peek_char().and_then(|c| c.to_digit(16)) {
                Some(digit) => {
                    self.bump_char();
                    code = code * 16 + digit;
                }
                None => {
                    let end = self
                        .peek_char()
                        .map_or(self.pos, |c| self.pos + c.len_utf8());
                    return Err(self.error(
                        column,
                        "four hex digits after `\\u`",
                        format!("`{}`", &self.input[start..end]),
                    ));
                }
            }
        }
        Ok(code)
    }
}

/// Characters after the first one of a word: letters, digits, `_`, `.`, `$`, `-`.
pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '$' | '-')
}

/// Whether `s` is exactly a JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(super) fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}
