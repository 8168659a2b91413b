//! What talking to Okta can fail with. Okta's error bodies (`errorCode`, `errorSummary`,
//! `errorId`, `errorCauses`; RFC 6749 `error`/`error_description` on the token endpoint) are
//! parsed into [`OktaError`]; [`ClientError`] says what kind of failure it is, so the poller
//! can tell "retry later" (429, 5xx, transport) from "a human must act" (401, 403, 400).
//! No variant carries a secret: request URLs are the only inputs shown, and they hold none.

use serde::Deserialize;
use std::fmt;

/// An error response from Okta, as Okta described it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OktaError {
    /// HTTP status.
    pub status: u16,
    /// `errorCode` (`E0000011`) or the OAuth `error` (`invalid_client`).
    pub code: Option<String>,
    /// `errorSummary` or `error_description`.
    pub summary: String,
    /// `errorId`.
    pub error_id: Option<String>,
    /// `errorCauses[].errorSummary`.
    pub causes: Vec<String>,
    /// The response's `X-Okta-Request-Id`.
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaBody {
    error_code: Option<String>,
    error_summary: Option<String>,
    error_id: Option<String>,
    #[serde(default)]
    error_causes: Vec<OktaCause>,
    error: Option<String>,
    #[serde(rename = "error_description")]
    error_description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaCause {
    error_summary: Option<String>,
}

impl OktaError {
    /// Parses an error body; anything unparseable becomes the summary (cut to 200 chars).
    pub fn from_body(status: u16, body: &str, request_id: Option<String>) -> OktaError {
        match serde_json::from_str::<OktaBody>(body) {
            Ok(b) if b.error_code.is_some() || b.error.is_some() => OktaError {
                status,
                code: b.error_code.or(b.error),
                summary: b.error_summary.or(b.error_description).unwrap_or_default(),
                error_id: b.error_id,
                causes: b
                    .error_causes
                    .into_iter()
                    .filter_map(|c| c.error_summary)
                    .collect(),
                request_id,
            },
            _ => OktaError {
                status,
                code: None,
                summary: body.trim().chars().take(200).collect(),
                error_id: None,
                causes: Vec::new(),
                request_id,
            },
        }
    }

    /// True for `errorCode` `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl fmt::Display for OktaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if !self.summary.is_empty() {
            write!(f, ": {}", self.summary)?;
        }
        for cause in &self.causes {
            write!(f, " ({cause})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request {id}]")?;
        }
        Ok(())
    }
}

/// A failed call to Okta.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// 401: the token or client assertion is not accepted (`E0000011` invalid token).
    #[error("authentication failed ({0}); check the credential this org references")]
    Unauthorized(Box<OktaError>),
    /// 403: authenticated, but not allowed (`E0000006`: missing scope or admin role).
    #[error("access denied ({0}); the token or service app lacks a scope or admin role")]
    Forbidden(Box<OktaError>),
    /// 429 on every attempt (`E0000047`).
    #[error("rate limited on {attempts} attempts in a row ({error})")]
    RateLimited {
        /// The last 429.
        error: Box<OktaError>,
        /// Attempts made.
        attempts: u32,
    },
    /// 5xx on every attempt.
    #[error("server error on {attempts} attempts in a row ({error})")]
    Server {
        /// The last response.
        error: Box<OktaError>,
        /// Attempts made.
        attempts: u32,
    },
    /// Timeouts, connection resets or truncated bodies on every attempt.
    #[error("{message} (after {attempts} attempts)")]
    Transport {
        /// The last failure.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Any other error response (400 bad request, 404): retrying will not help.
    #[error("request refused ({0})")]
    Api(Box<OktaError>),
    /// The OAuth token endpoint refused the client assertion.
    #[error("OAuth token request refused ({0})")]
    OAuth(Box<OktaError>),
    /// A credential could not be loaded or used (names the reference, never the value).
    #[error("credentials: {0}")]
    Credentials(String),
    /// A URL we were given or sent is not usable (bad org URL, `next` link to another host).
    #[error("{0}")]
    Url(String),
    /// A 200 response that is not what the endpoint returns.
    #[error("unexpected response from {url}: {reason}")]
    InvalidResponse {
        /// The request (no secrets in URLs).
        url: String,
        /// What was wrong.
        reason: String,
    },
}

impl ClientError {
    /// Whether waiting and retrying the same request may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::RateLimited { .. }
                | ClientError::Server { .. }
                | ClientError::Transport { .. }
                | ClientError::InvalidResponse { .. }
        )
    }

    /// The Okta error, when the failure was an error response.
    pub fn okta(&self) -> Option<&OktaError> {
        match self {
            ClientError::Unauthorized(e)
            | ClientError::Forbidden(e)
            | ClientError::Api(e)
            | ClientError::OAuth(e) => Some(e.as_ref()),
            ClientError::RateLimited { error, .. } | ClientError::Server { error, .. } => {
                Some(error.as_ref())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_okta_error_bodies() {
        let body = r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorLink":"E0000011","errorId":"oaeHfmOAx1iRLa0H10DeMz5fQ","errorCauses":[]}"#;
        let e = OktaError::from_body(401, body, Some("req1".into()));
        assert!(e.is("E0000011"));
        assert_eq!(e.summary, "Invalid token provided");
        assert_eq!(e.error_id.as_deref(), Some("oaeHfmOAx1iRLa0H10DeMz5fQ"));
        assert_eq!(
            e.to_string(),
            "HTTP 401 E0000011: Invalid token provided [request req1]"
        );
        let body = r#"{"errorCode":"E0000001","errorSummary":"Api validation failed: q","errorCauses":[{"errorSummary":"Freeform search cannot contain items longer than 40 characters"}]}"#;
        let e = OktaError::from_body(400, body, None);
        assert_eq!(e.causes.len(), 1);
        assert!(e.to_string().contains("longer than 40"));
    }

    #[test]
    fn parses_oauth_errors_and_garbage() {
        let e = OktaError::from_body(
            400,
            r#"{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof."}"#,
            None,
        );
        assert!(e.is("use_dpop_nonce"));
        assert_eq!(
            e.summary,
            "Authorization server requires nonce in DPoP proof."
        );
        let e = OktaError::from_body(502, "<html>Bad gateway</html>", None);
        assert_eq!(e.code, None);
        assert_eq!(e.summary, "<html>Bad gateway</html>");
    }
}
