//! `*` wildcard patterns for names and ARNs (case-sensitive, like IAM ARN matching).

use crate::metric_filter::wildcard_parts;

/// A compiled `*` glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    parts: Vec<String>,
}

impl Glob {
    /// Compiles `pattern`.
    pub(crate) fn new(pattern: &str) -> Self {
        Glob {
            parts: wildcard_parts(pattern),
        }
    }

    /// True when `text` matches.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        crate::metric_filter::wildcard_match(&self.parts, text)
    }
}
