//! The benchmark's error type, which separates a broken server from a failed measurement.

use std::fmt;
use std::io;

/// Why a measurement did not produce figures.
#[derive(Debug)]
pub enum BenchError {
    /// The bytes echoed back differ from the bytes sent: the server is broken, and the whole
    /// run stops, naming it.
    Mismatch(String),
    /// The measurement could not run (refused connections, a stall, a server that exited).
    /// The run goes on; the report shows the reason in this server's cell.
    Failed(String),
}

impl BenchError {
    /// A [`BenchError::Failed`] with `message`.
    pub fn failed(message: impl Into<String>) -> BenchError {
        BenchError::Failed(message.into())
    }

    /// Prefixes the message with `context`, keeping the kind.
    #[must_use]
    pub fn context(self, context: &str) -> BenchError {
        match self {
            BenchError::Mismatch(message) => BenchError::Mismatch(format!("{context}: {message}")),
            BenchError::Failed(message) => BenchError::Failed(format!("{context}: {message}")),
        }
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Mismatch(message) => write!(f, "echo mismatch: {message}"),
            BenchError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<io::Error> for BenchError {
    fn from(error: io::Error) -> BenchError {
        BenchError::Failed(error.to_string())
    }
}
