use std::path::PathBuf;

/// Errors that stop ingestion as a whole. Problems inside one object or record are not errors:
/// they are counted by [`crate::SkipReason`] and reading goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input path given on the command line does not exist or cannot be listed.
    #[error("cannot read input {path}: {source}")]
    Input {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `-` (stdin) was given more than once.
    #[error("stdin (-) can be read only once")]
    StdinTwice,
    /// A decoding worker thread stopped unexpectedly.
    #[error("a decoding worker stopped unexpectedly")]
    Worker,
}

/// Result with the ingest [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
