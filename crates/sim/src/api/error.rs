//! Okta's error responses: the JSON error object (`errorCode`, `errorSummary`, `errorLink`,
//! `errorId`, `errorCauses`) with the HTTP status each code goes with, and the RFC 6749 error
//! body of the OAuth token endpoint.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

/// An error answer of the management API, as Okta writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `E00000xx`.
    pub code: &'static str,
    /// `errorSummary`.
    pub summary: String,
    /// `errorCauses[].errorSummary`.
    pub causes: Vec<String>,
}

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, code: &'static str, summary: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            summary: summary.into(),
            causes: Vec::new(),
        }
    }

    /// Adds an `errorCauses` entry.
    pub fn cause(mut self, cause: impl Into<String>) -> ApiError {
        self.causes.push(cause.into());
        self
    }

    /// 400 `E0000001`: a parameter fails validation.
    pub fn validation(field: &str, cause: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "E0000001",
            format!("Api validation failed: {field}"),
        )
        .cause(format!("{field}: {}", cause.into()))
    }

    /// 400 `E0000053`: an invalid filter or search.
    pub fn invalid_filter(summary: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "E0000053", summary)
    }

    /// 401 `E0000011`.
    pub fn invalid_token() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        )
    }

    /// 403 `E0000006`.
    pub fn forbidden(cause: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        )
        .cause(cause)
    }

    /// 404 `E0000007`.
    pub fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "E0000007",
            format!("Not found: Resource not found: {what} (GenericResource)"),
        )
    }

    /// 405 `E0000022`.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        )
    }

    /// 429 `E0000047`.
    pub fn rate_limited() -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
    }

    /// 500 `E0000009`: internal error / query timeout.
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "E0000009",
            "Internal Server Error",
        )
    }

    /// 503 `E0000010`: the org is in read-only / maintenance mode.
    pub fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "E0000010",
            "Service is in read only mode",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": error_id(),
            "errorCauses": self.causes.iter().map(|c| json!({"errorSummary": c})).collect::<Vec<_>>(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// An RFC 6749 error of `/oauth2/v1/token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status (400 or 401).
    pub status: StatusCode,
    /// `error`.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

impl OAuthError {
    /// A 400 with `error` and `error_description`.
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    /// 401 `invalid_client`.
    pub fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

static ERROR_IDS: AtomicU64 = AtomicU64::new(0x5eed_0000_0001);

/// An `errorId` in Okta's shape (`oae` + 22 characters), unique per process.
fn error_id() -> String {
    let n = ERROR_IDS.fetch_add(1, Ordering::Relaxed);
    format!("oae{}", base62(n.wrapping_mul(0x9e37_79b9_7f4a_7c15), 22))
}

/// `n` written in base 62, left-padded by repeating its mix, `len` characters.
pub(crate) fn base62(mut n: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    let mut state = n ^ 0xa076_1d64_78bd_642f;
    while out.len() < len {
        if n == 0 {
            state = state.wrapping_mul(0x2545_f491_4f6c_dd1d).rotate_left(17);
            n = state;
        }
        out.push(char::from(ALPHABET[(n % 62) as usize]));
        n /= 62;
    }
    out
}
