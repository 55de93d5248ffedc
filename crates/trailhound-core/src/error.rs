/// Errors of the core model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not valid JSON, or not a JSON object.
    #[error("malformed JSON record: {source}")]
    Json {
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON object is not a CloudTrail record (no eventName/eventSource/eventTime).
    #[error("not a CloudTrail record: missing {missing}")]
    NotARecord {
        /// The first required field that is missing.
        missing: &'static str,
    },
    /// A time that is not RFC 3339.
    #[error("invalid time {text:?}: expected RFC 3339 such as 2026-01-02T03:04:05Z")]
    Time {
        /// The offending text (truncated).
        text: String,
    },
    /// A severity name that is not one of the five levels.
    #[error("unknown severity {0:?}: expected informational, low, medium, high or critical")]
    Severity(String),
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
