//! Secrets: written in the configuration only as a reference to an environment variable or a
//! file (`{ env = "IDWATCH_SLACK_WEBHOOK" }`, `{ file = "/run/secrets/smtp" }`), resolved when
//! sinks are built, and redacted in `Debug` so they never reach a log line.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::PathBuf;

/// A secret value. `Debug` prints `Secret(***)`; `expose` is the only way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable's value.
    Env(String),
    /// A file's contents, without the trailing newline.
    File(PathBuf),
}

const SECRET_EXAMPLE: &str =
    "write { env = \"IDWATCH_WEBHOOK_SECRET\" } or { file = \"/run/secrets/idwatch-webhook\" }";

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            env: Option<String>,
            file: Option<PathBuf>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Table(Table),
            // Only matched to say that an inline string is refused; its value is never read.
            #[allow(dead_code)]
            Text(String),
            Other(serde::de::IgnoredAny),
        }
        match Form::deserialize(d)? {
            Form::Table(Table {
                env: Some(env),
                file: None,
            }) if !env.is_empty() => Ok(SecretRef::Env(env)),
            Form::Table(Table {
                env: None,
                file: Some(file),
            }) => Ok(SecretRef::File(file)),
            Form::Text(_) => Err(serde::de::Error::custom(format!(
                "secrets are never written in the config file: {SECRET_EXAMPLE}"
            ))),
            _ => Err(serde::de::Error::custom(format!(
                "a secret needs exactly one of env or file: {SECRET_EXAMPLE}"
            ))),
        }
    }
}

impl SecretRef {
    /// Reads the secret. The error names the variable or file, never the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
                Ok(_) => Err(format!("environment variable {name} is empty")),
                Err(_) => Err(format!("environment variable {name} is not set")),
            },
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(v) if !v.trim().is_empty() => {
                    Ok(Secret(v.trim_end_matches(['\r', '\n']).to_string()))
                }
                Ok(_) => Err(format!("secret file {} is empty", path.display())),
                Err(e) => Err(format!("reading secret file {}: {e}", path.display())),
            },
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env {name}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        secret: SecretRef,
    }

    fn parse(text: &str) -> Result<SecretRef, String> {
        serde_json::from_str::<Holder>(text)
            .map(|h| h.secret)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_env_and_file_references_only() {
        assert_eq!(
            parse(r#"{"secret":{"env":"X"}}"#).unwrap(),
            SecretRef::Env("X".into())
        );
        assert_eq!(
            parse(r#"{"secret":{"file":"/run/s"}}"#).unwrap(),
            SecretRef::File("/run/s".into())
        );
        let inline = parse(r#"{"secret":"hunter2"}"#).unwrap_err();
        assert!(inline.contains("never written in the config"), "{inline}");
        assert!(!inline.contains("hunter2"), "{inline}");
        let both = parse(r#"{"secret":{"env":"X","file":"/y"}}"#).unwrap_err();
        assert!(both.contains("exactly one of env or file"), "{both}");
    }

    #[test]
    fn resolves_files_without_the_newline_and_never_prints_the_value() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "s3cret\n").unwrap();
        let secret = SecretRef::File(path).resolve().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let missing = SecretRef::Env("IDWATCH_TEST_SURELY_UNSET_VAR".into())
            .resolve()
            .unwrap_err();
        assert!(missing.contains("IDWATCH_TEST_SURELY_UNSET_VAR is not set"));
    }
}
