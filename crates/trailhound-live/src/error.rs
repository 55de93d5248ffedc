use std::path::PathBuf;

/// Errors of the live daemon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file (checkpoint, followed directory) could not be read or written.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint file is not valid JSON of the expected shape or version.
    #[error("invalid checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The detectors refused their saved state.
    #[error("cannot restore detector state: {0}")]
    DetectorState(#[from] trailhound_detect::Error),
    /// The event store failed.
    #[error("event store: {0}")]
    Store(#[from] trailhound_store::Error),
    /// The alert sink refused an alert.
    #[error("alert sink: {0}")]
    Sink(String),
    /// The metrics listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is not usable.
    #[error("invalid [run] configuration: {0}")]
    Config(String),
    /// The async runtime could not be started or a task failed.
    #[error("runtime: {0}")]
    Runtime(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
