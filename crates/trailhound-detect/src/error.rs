/// Errors of the detection engine and its detector families.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A detector's configuration is invalid.
    #[error("invalid configuration for {detector}: {message}")]
    Config {
        /// The detector or family.
        detector: String,
        /// What is wrong.
        message: String,
    },
    /// Saved detector state could not be read back.
    #[error("cannot restore state of {detector}: {message}")]
    State {
        /// The detector.
        detector: String,
        /// What is wrong.
        message: String,
    },
}

/// Result with the detect [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
