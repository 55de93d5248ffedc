use std::fmt;

/// A position in a rule file (1-based line and column; 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Loc {
    /// Line, 1-based.
    pub line: u64,
    /// Column, 1-based.
    pub column: u64,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Errors of the Sigma engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not valid YAML.
    #[error("{path}:{loc}: invalid YAML: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// Where.
        loc: Loc,
        /// The parser's message.
        message: String,
    },
    /// A rule is not valid Sigma, or uses something the engine refuses (bad regex, too deep).
    #[error("{path}:{loc}: {rule}: {message}")]
    Rule {
        /// The file.
        path: String,
        /// Where.
        loc: Loc,
        /// The rule's title or id.
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// A condition expression does not parse.
    #[error("condition {condition:?}: {message}")]
    Condition {
        /// The condition text.
        condition: String,
        /// What is wrong.
        message: String,
    },
    /// A correlation refers to a rule that is not loaded, or the references form a cycle.
    #[error("correlation {rule}: {message}")]
    Correlation {
        /// The correlation's title or id.
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// A rule file or directory cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with the sigma [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
