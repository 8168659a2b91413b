//! `DetectError`: what detection can fail with, each variant naming what a reader needs (the
//! config field, the rule file and line, the org).

/// An error from detection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// A `[detect]` setting is invalid.
    #[error("{field}: {reason}")]
    Config {
        /// The dotted config path (`detect.allow[2].ips`).
        field: String,
        /// What is wrong, with an example of what is valid.
        reason: String,
    },
    /// The rules do not compile (every problem, `FILE:LINE: rule: message`).
    #[error("{0}")]
    Rules(#[from] sigma::CompileError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] store::StoreError),
    /// Saved detection state cannot be used.
    #[error("detection state of org {org}: {reason}")]
    State {
        /// The org.
        org: String,
        /// Why.
        reason: String,
    },
    /// A blocking task died.
    #[error("detection: {0}")]
    Internal(String),
}
