//! Where the audit reads an org's directory from: [`DirectorySource`], a small async interface
//! (every item of a collection endpoint, following pagination; one object), implemented over the
//! collector's Okta client in [`crate::okta_source`] and by anything a test wants.
//!
//! Paging shapes differ per endpoint: most return a JSON array per page with a `Link: next`
//! header; the IAM endpoints (`/api/v1/iam/...`) return an object whose items are under a key
//! (`value`, `roles`, `resource-sets`) with the next page in `_links.next.href`. An
//! implementation returns the items either way; [`items_of_page`] and [`next_in_body`] do the
//! body half.

use serde_json::Value;
use std::future::Future;

/// Why a directory read failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceError {
    /// 404: the endpoint or object does not exist (or this org's edition lacks it).
    #[error("{path}: not found")]
    NotFound {
        /// The request path.
        path: String,
    },
    /// 401/403: the credential lacks the scope or role for it.
    #[error("{path}: not permitted ({detail})")]
    Forbidden {
        /// The request path.
        path: String,
        /// Okta's error summary.
        detail: String,
    },
    /// Anything else: transport, rate limit exhausted, bad JSON, 5xx.
    #[error("{path}: {detail}")]
    Failed {
        /// The request path.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

impl SourceError {
    /// Whether the failure means "this part of the API is not reachable with this credential"
    /// (a gap to report), rather than an error to stop on.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            SourceError::NotFound { .. } | SourceError::Forbidden { .. }
        )
    }
}

/// An org's management API, read-only.
pub trait DirectorySource {
    /// The org's base URL (recorded with every snapshot).
    fn base_url(&self) -> String;

    /// Every item of the collection at `path` (with its query string), all pages.
    fn get_all(&self, path: &str) -> impl Future<Output = Result<Vec<Value>, SourceError>> + Send;

    /// The object at `path`.
    fn get_one(&self, path: &str) -> impl Future<Output = Result<Value, SourceError>> + Send;
}

/// The items of one page: the array itself, or the array under `value`, `roles`,
/// `resource-sets`, `members` or `supportCases` of an IAM-style object.
pub fn items_of_page(page: Value) -> Vec<Value> {
    match page {
        Value::Array(items) => items,
        Value::Object(mut map) => {
            for key in ["value", "roles", "resource-sets", "members", "supportCases"] {
                if let Some(Value::Array(items)) = map.remove(key) {
                    return items;
                }
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// The next page of an IAM-style body (`_links.next.href`), if any.
pub fn next_in_body(page: &Value) -> Option<String> {
    page.pointer("/_links/next/href")
        .and_then(Value::as_str)
        .map(str::to_string)
}
