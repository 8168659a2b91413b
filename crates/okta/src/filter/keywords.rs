//! The `q` keyword search of `GET /api/v1/logs`: whitespace-separated keywords, at most
//! [`MAX_KEYWORDS`], each at most [`MAX_KEYWORD_CHARS`] characters (Okta answers `E0000001`
//! otherwise). An event matches when every keyword matches, case-insensitively, some string,
//! number or boolean value anywhere in it: the whole value, one of its whitespace-separated
//! words, or one part of a word split at `-` (Okta indexes hyphenated values as their parts, so
//! `XOxBw` finds `XOxBw-2JIRn`). Keys never match, only values; `null` matches nothing.

use super::eval::{fold, fold_eq, with_text};
use crate::LogEvent;
use serde_json::Value;

/// Okta's limit on the number of keywords in `q`.
pub const MAX_KEYWORDS: usize = 10;
/// Okta's limit on the length of one keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 40;

/// A parsed `q` keyword search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    /// Lowercased (character by character).
    terms: Vec<String>,
}

/// A `q` text that Okta refuses (with `E0000001`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeywordError {
    /// More than [`MAX_KEYWORDS`] keywords.
    #[error(
        "q `{input}`: {count} keywords: Freeform search cannot contain more than {limit} items"
    )]
    TooMany {
        /// The `q` text.
        input: String,
        /// How many keywords it has.
        count: usize,
        /// The limit, [`MAX_KEYWORDS`].
        limit: usize,
    },
    /// A keyword longer than [`MAX_KEYWORD_CHARS`] characters.
    #[error(
        "q `{input}`: keyword {position} `{keyword}` has {chars} characters: Freeform search \
         cannot contain items longer than {limit} characters"
    )]
    TooLong {
        /// The `q` text.
        input: String,
        /// 1-based position of the keyword among the keywords.
        position: usize,
        /// The keyword as written.
        keyword: String,
        /// Its length in characters.
        chars: usize,
        /// The limit, [`MAX_KEYWORD_CHARS`].
        limit: usize,
    },
}

impl KeywordError {
    /// The Okta error code `/api/v1/logs` answers with.
    pub fn okta_code(&self) -> &'static str {
        "E0000001"
    }
}

impl Keywords {
    /// Splits `q` at whitespace and checks Okta's limits. An empty `q` matches every event.
    pub fn parse(q: &str) -> Result<Keywords, KeywordError> {
        let count = q.split_whitespace().count();
        if count > MAX_KEYWORDS {
            return Err(KeywordError::TooMany {
                input: q.to_string(),
                count,
                limit: MAX_KEYWORDS,
            });
        }
        let mut terms = Vec::with_capacity(count);
        for (i, keyword) in q.split_whitespace().enumerate() {
            let chars = keyword.chars().count();
            if chars > MAX_KEYWORD_CHARS {
                return Err(KeywordError::TooLong {
                    input: q.to_string(),
                    position: i + 1,
                    keyword: keyword.to_string(),
                    chars,
                    limit: MAX_KEYWORD_CHARS,
                });
            }
            terms.push(fold(keyword));
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
            .all(|keyword| any_leaf(doc, &mut |text| keyword_matches(text, keyword)))
    }
}

/// Whether `visit` accepts the text of some string, number or boolean leaf of `v`.
fn any_leaf(v: &Value, visit: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|item| any_leaf(item, visit)),
        Value::Object(map) => map.values().any(|item| any_leaf(item, visit)),
        leaf => with_text(leaf, |text| visit(text)).unwrap_or(false),
    }
}

/// Whether a value's text matches one lowercased keyword.
fn keyword_matches(text: &str, keyword: &str) -> bool {
    fold_eq(text, keyword)
        || text.split_whitespace().any(|word| {
            fold_eq(word, keyword)
                || (word.contains('-') && word.split('-').any(|part| fold_eq(part, keyword)))
        })
}
