//! Errors of the sigma crate. A rule problem is a [`RuleError`] that names the file, the line,
//! the rule and what is wrong, printed as `FILE:LINE: rule-id: message`; compiling a rule set
//! returns every problem at once ([`CompileError`]) so `idwatch rules validate` can list them all.

use std::fmt;
use std::path::PathBuf;

/// One problem with one rule (or one file, when no rule could be read from it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {rule}: {message}", path.display())]
pub struct RuleError {
    /// The file (or the name of an in-memory source).
    pub path: PathBuf,
    /// 1-based line of the rule document, or of the offending key when it can be found.
    pub line: usize,
    /// The rule's `id`, else its `name`, else its `title`, else `-`.
    pub rule: String,
    /// What is wrong and, where it helps, what to write instead.
    pub message: String,
}

/// Everything wrong with a set of rule sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Every problem found, in file order.
    pub errors: Vec<RuleError>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileError {}

/// Correlation state that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The snapshot was written by a different, incompatible format version.
    #[error("correlation state has format version {found}, this idwatch reads version {expected}")]
    Version {
        /// The version this build writes and reads.
        expected: u32,
        /// The snapshot's version.
        found: u32,
    },
}

/// A rule test file that cannot be read or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct TestFileError {
    /// The test file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}
