//! The crate's error type.

use std::path::PathBuf;

/// Errors of integrity validation (findings about the data are not errors: see
/// [`crate::Finding`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The public key file is not usable.
    #[error("invalid public key file {path}: {reason}")]
    PublicKeys {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A signing key could not be loaded or used.
    #[error("signing key: {0}")]
    SigningKey(String),
    /// A value could not be serialised.
    #[error("cannot encode {what}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The tree to verify has no `AWSLogs` directory and no digest files.
    #[error("no CloudTrail digest files under {0}")]
    NoDigests(PathBuf),
    /// The S3 prefix to verify holds no digest object.
    #[cfg(feature = "s3")]
    #[error("no CloudTrail digest objects under {0}")]
    NoDigestObjects(String),
    /// An S3 prefix could not be listed.
    #[cfg(feature = "s3")]
    #[error("cannot read the tree in s3")]
    S3(#[from] trailhound_aws::Error),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
