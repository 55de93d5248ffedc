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

    /// The longest text every match contains, when there is one (`*` alone has none).
    pub(crate) fn longest_literal(&self) -> Option<&str> {
        self.parts
            .iter()
            .map(String::as_str)
            .max_by_key(|part| part.len())
            .filter(|part| !part.is_empty())
    }

    /// True when `text` matches.
    /// The pattern itself when it has no wildcard.
    pub(crate) fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        crate::metric_filter::wildcard_match(&self.parts, text)
    }
}
