use std::path::PathBuf;

/// Errors of enrichment sources.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `.mmdb` file is not a valid MaxMind database.
    #[error("invalid maxmind database {path}")]
    Mmdb {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// A line of an ASN CSV file is malformed.
    #[error("invalid asn range at line {line}: {message}")]
    AsnCsv {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An `ip-ranges.json` file is malformed.
    #[error("invalid ip ranges file: {message}")]
    IpRanges {
        /// What is wrong.
        message: String,
    },
}

/// Result with the enrich [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
