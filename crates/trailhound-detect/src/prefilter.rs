//! Substring prefilters: literals every matching record's raw text must contain, checked
//! before a detector builds the record's JSON tree (the costly part of reading a field outside
//! the hot set).
//!
//! A literal is only a valid prefilter when the record writes it as-is. CloudTrail writes
//! printable ASCII unescaped except `"` and `\`, so [`plain`] literals qualify; a record that
//! escapes anything else (`\uXXXX`, `\/`) could hide the literal and is never ruled out
//! ([`may_hide_literals`]).

/// True when `text` is written unescaped in JSON strings: printable ASCII without `"` or `\`.
pub(crate) fn plain(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// True when `raw` has an escape that could spell a [`plain`] literal differently (`\u0041`
/// for `A`, `\/` for `/`), so a substring search cannot rule the record out.
pub(crate) fn may_hide_literals(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut at = 0;
    while let Some(offset) = bytes.get(at..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let escape = at + offset;
        match bytes.get(escape + 1) {
            Some(b'u' | b'/') => return true,
            // `\\`, `\"`, `\n`…: skip the escaped byte too, so `\\u` is not read as `\u`.
            Some(_) => at = escape + 2,
            None => return false,
        }
    }
    false
}

/// [`plain`] literals of which a matching record contains at least one, searched with
/// precompiled vectorised finders (std's `str::contains` builds its searcher on every call).
pub(crate) struct AnyLiteral(Vec<memchr::memmem::Finder<'static>>);

impl AnyLiteral {
    /// The prefilter of `literals`.
    pub(crate) fn new<S: AsRef<str>>(literals: &[S]) -> Self {
        AnyLiteral(
            literals
                .iter()
                .map(|l| memchr::memmem::Finder::new(l.as_ref().as_bytes()).into_owned())
                .collect(),
        )
    }

    /// True when `raw` may be a record containing one of the literals: it contains one, or
    /// escapes could hide one.
    pub(crate) fn may_match(&self, raw: &str) -> bool {
        self.0.iter().any(|f| f.find(raw.as_bytes()).is_some()) || may_hide_literals(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_literals() {
        assert!(plain("customer-pii-export"));
        assert!(plain("arn:aws:kms:us-east-1:1:key/ab"));
        assert!(!plain("tablé"));
        assert!(!plain("a\"b"));
        assert!(!plain("a\\b"));
        assert!(!plain("tab\there"));
    }

    #[test]
    fn escapes_that_hide_literals() {
        assert!(!may_hide_literals(r#"{"a":"plain text"}"#));
        assert!(!may_hide_literals(
            r#"{"policy":"{\"Version\":\"2012-10-17\"}"}"#
        ));
        assert!(!may_hide_literals(r#"{"path":"C:\\users\\x"}"#));
        assert!(may_hide_literals(r#"{"tableName":"customer\u002dpii"}"#));
        assert!(may_hide_literals(r#"{"key":"a\/b"}"#));
        // An escaped backslash before `u` is not a unicode escape.
        assert!(!may_hide_literals(r#"{"path":"C:\\users"}"#));
        assert!(may_hide_literals(r#"{"path":"C:\\\u0041"}"#));
        assert!(!may_hide_literals("trailing \\"));
    }

    #[test]
    fn may_match_is_never_a_false_negative() {
        let one = AnyLiteral::new(&["customer-pii"]);
        assert!(one.may_match(r#"{"tableName":"customer-pii-export"}"#));
        assert!(!one.may_match(r#"{"tableName":"orders"}"#));
        let any = AnyLiteral::new(&["AccessDenied", "Unauthorized"]);
        assert!(any.may_match(r#"{"errorCode":"AccessDenied"}"#));
        assert!(any.may_match(r#"{"errorCode":"\u0041ccessDenied"}"#));
        assert!(!any.may_match(r#"{"errorCode":"ThrottlingException"}"#));
        assert!(one.may_match(r#"{"tableName":"customer\u002dpii-export"}"#));
    }
}
