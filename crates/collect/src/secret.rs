//! Secrets and where they come from. A [`Secret`] holds a token or a private key in memory only;
//! its `Debug` and `Display` print `[redacted]`, so it cannot reach a log line, an error message
//! or a config file by accident. A [`SecretRef`] names where a secret is read from (an
//! environment variable or a file); only references are ever stored.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// A secret value. Never printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value read from an environment variable or a file.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for building an `Authorization` header or signing a JWT. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a secret is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// An environment variable, by name.
    Env(String),
    /// A file, by path (its content, trailing newline removed).
    File(PathBuf),
}

/// A secret reference that could not be resolved. Names the variable or file, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set or not valid Unicode.
    #[error("environment variable {0} is not set (or not valid UTF-8)")]
    EnvMissing(String),
    /// The environment variable is set but empty.
    #[error("environment variable {0} is empty")]
    EnvEmpty(String),
    /// The file could not be read.
    #[error("reading secret file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("secret file {0} is empty")]
    FileEmpty(PathBuf),
}

impl SecretRef {
    /// Reads the secret.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => {
                let value =
                    std::env::var(name).map_err(|_| SecretError::EnvMissing(name.clone()))?;
                let value = value.trim().to_string();
                if value.is_empty() {
                    return Err(SecretError::EnvEmpty(name.clone()));
                }
                Ok(Secret(value))
            }
            SecretRef::File(path) => {
                let value = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?;
                let value = value.trim_end_matches(['\n', '\r']).to_string();
                if value.trim().is_empty() {
                    return Err(SecretError::FileEmpty(path.clone()));
                }
                Ok(Secret(value))
            }
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("00abcdefSECRET");
        assert!(!format!("{s:?}").contains("SECRET"));
        assert!(!format!("{s}").contains("SECRET"));
        assert!(!format!("{:?}", Some(&s)).contains("SECRET"));
        assert_eq!(s.expose(), "00abcdefSECRET");
    }

    #[test]
    fn file_reference_strips_the_trailing_newline_and_names_the_file_on_error() {
        let dir = std::env::temp_dir().join(format!("collect-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("token");
        std::fs::write(&path, "tok123\n").expect("write");
        let s = SecretRef::File(path.clone()).resolve().expect("resolves");
        assert_eq!(s.expose(), "tok123");
        let missing = SecretRef::File(dir.join("nope"))
            .resolve()
            .expect_err("missing");
        assert!(missing.to_string().contains("nope"), "{missing}");
        std::fs::write(&path, "\n").expect("write");
        assert!(matches!(
            SecretRef::File(path).resolve(),
            Err(SecretError::FileEmpty(_))
        ));
    }

    #[test]
    fn env_reference_names_the_variable_when_unset() {
        let err = SecretRef::Env("IDWATCH_TEST_SURELY_UNSET_VAR".into())
            .resolve()
            .expect_err("unset");
        assert!(err.to_string().contains("IDWATCH_TEST_SURELY_UNSET_VAR"));
    }
}
