//! Exit codes, in one place: 0 success; 1 the command ran and found something (verify: never;
//! reserved for detections); 2 bad input, usage or configuration; 3 integrity failure (the hash
//! chain does not verify). A broken pipe (`idwatch query ... | head`) is success.

use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// The command ran and found something (hunt matches, failing rule tests).
pub const FINDINGS: u8 = 1;
/// Bad input, usage or configuration.
pub const BAD_INPUT: u8 = 2;
/// The store failed verification.
pub const INTEGRITY: u8 = 3;

/// An error that carries its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// Exit code.
    pub code: u8,
    /// What to print (empty: print nothing more).
    pub message: String,
}

impl Exit {
    /// Findings, with a message (may be empty).
    pub fn findings(message: impl Into<String>) -> anyhow::Error {
        Exit {
            code: FINDINGS,
            message: message.into(),
        }
        .into()
    }

    /// Bad input with a message.
    pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
        Exit {
            code: BAD_INPUT,
            message: message.into(),
        }
        .into()
    }
}

/// Prints the error chain and maps it to an exit code.
pub fn code_for(result: anyhow::Result<()>) -> ExitCode {
    let Err(err) = result else {
        return ExitCode::from(OK);
    };
    if err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::from(OK);
    }
    if let Some(exit) = err.downcast_ref::<Exit>() {
        if !exit.message.is_empty() {
            eprintln!("idwatch: {}", exit.message);
        }
        return ExitCode::from(exit.code);
    }
    eprintln!("idwatch: {err:#}");
    ExitCode::from(BAD_INPUT)
}
