use std::path::PathBuf;

/// Errors of the alert pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `[alerts]` configuration is invalid.
    #[error("invalid alerts configuration: {0}")]
    Config(String),
    /// A duration such as `90s` or `5m` that does not parse.
    #[error("invalid duration {text:?}: expected a number and a unit (ms, s, m, h, d)")]
    Duration {
        /// The text given.
        text: String,
    },
    /// The outbox database failed.
    #[error("outbox {path}: {source}")]
    Outbox {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What the file is (`suppressions file`, `alert file`…).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the suppressions file is not a suppression.
    #[error("suppressions file {path} line {line}: {source}")]
    SuppressionLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An alert could not be serialised.
    #[error("cannot serialise alert {id}: {source}")]
    Serialise {
        /// The alert id.
        id: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A sink could not be built (missing secret, bad URL…).
    #[error("sink {sink}: {reason}")]
    Sink {
        /// The sink name.
        sink: String,
        /// What is wrong.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
