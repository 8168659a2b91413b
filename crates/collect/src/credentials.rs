//! How idwatch authenticates to an org. A [`CredentialSpec`] is what is stored: references to
//! where secrets live (an env var or a file) plus non-secret settings (client id, scopes). It
//! resolves into [`Credentials`], which hold the secrets in memory only, as [`Secret`]s.
//!
//! Two kinds, as Okta supports them for the System Log:
//! - an SSWS API token (`Authorization: SSWS <token>`);
//! - an OAuth 2.0 service app: client credentials with a `private_key_jwt` client assertion
//!   (RS256 for RSA keys, ES256 for P-256 keys), optionally DPoP-bound tokens.

use crate::secret::{Secret, SecretError, SecretRef};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The scope a System Log collector needs.
pub const LOGS_READ_SCOPE: &str = "okta.logs.read";

/// Stored credential references (no secret values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialSpec {
    /// An SSWS API token.
    Ssws {
        /// Where the token is.
        token: SecretRef,
    },
    /// An OAuth 2.0 service app.
    Oauth {
        /// The app's client id (not a secret).
        client_id: String,
        /// Where the PEM private key is.
        private_key: SecretRef,
        /// `kid` of the key registered with the app, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_id: Option<String>,
        /// Scopes to request.
        scopes: Vec<String>,
        /// Request DPoP-bound tokens.
        #[serde(default)]
        dpop: bool,
    },
}

impl CredentialSpec {
    /// `ssws` or `oauth` (the store's `auth_kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialSpec::Ssws { .. } => "ssws",
            CredentialSpec::Oauth { .. } => "oauth",
        }
    }

    /// Serializes to the JSON stored beside the org.
    pub fn to_json(&self) -> String {
        // Serializing a plain enum of strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses stored JSON.
    pub fn from_json(json: &str) -> Result<CredentialSpec, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Reads the secrets this spec references.
    pub fn resolve(&self) -> Result<Credentials, SecretError> {
        match self {
            CredentialSpec::Ssws { token } => Ok(Credentials::Ssws(token.resolve()?)),
            CredentialSpec::Oauth {
                client_id,
                private_key,
                key_id,
                scopes,
                dpop,
            } => Ok(Credentials::OAuth(OAuthCredentials {
                client_id: client_id.clone(),
                private_key: private_key.resolve()?,
                key_id: key_id.clone(),
                scopes: scopes.clone(),
                dpop: *dpop,
            })),
        }
    }
}

impl fmt::Display for CredentialSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSpec::Ssws { token } => write!(f, "SSWS token from {token}"),
            CredentialSpec::Oauth {
                client_id,
                private_key,
                scopes,
                dpop,
                ..
            } => {
                write!(
                    f,
                    "OAuth service app {client_id}, key from {private_key}, scopes {}",
                    scopes.join(" ")
                )?;
                if *dpop {
                    f.write_str(", DPoP")?;
                }
                Ok(())
            }
        }
    }
}

/// Resolved credentials: secrets in memory, never printed.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An SSWS API token.
    Ssws(Secret),
    /// An OAuth 2.0 service app.
    OAuth(OAuthCredentials),
}

/// An OAuth 2.0 service app's client credentials.
#[derive(Debug, Clone)]
pub struct OAuthCredentials {
    /// Client id.
    pub client_id: String,
    /// PEM private key (PKCS#8, or PKCS#1 for RSA).
    pub private_key: Secret,
    /// `kid` header of the client assertion.
    pub key_id: Option<String>,
    /// Scopes requested (space-joined in the token request).
    pub scopes: Vec<String>,
    /// Ask for DPoP-bound tokens (also switched on when the server demands DPoP).
    pub dpop: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_json_holds_references_only() {
        let spec = CredentialSpec::Oauth {
            client_id: "0oa1".into(),
            private_key: SecretRef::File("/etc/idwatch/key.pem".into()),
            key_id: None,
            scopes: vec![LOGS_READ_SCOPE.into()],
            dpop: true,
        };
        let json = spec.to_json();
        assert_eq!(
            json,
            r#"{"kind":"oauth","client_id":"0oa1","private_key":{"file":"/etc/idwatch/key.pem"},"scopes":["okta.logs.read"],"dpop":true}"#
        );
        assert_eq!(CredentialSpec::from_json(&json).expect("parses"), spec);
        let ssws = CredentialSpec::Ssws {
            token: SecretRef::Env("OKTA_TOKEN".into()),
        };
        assert_eq!(
            ssws.to_json(),
            r#"{"kind":"ssws","token":{"env":"OKTA_TOKEN"}}"#
        );
        assert_eq!(ssws.to_string(), "SSWS token from env:OKTA_TOKEN");
    }
}
