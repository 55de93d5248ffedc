//! Reading values out of a record's JSON text without building a tree.
//!
//! An [`crate::Event`] only exists for text that was read as valid JSON, so these functions
//! can walk it with a structural skip (strings, brackets) instead of a validating parse: a
//! rule that reads `requestParameters.bucketName` costs a skim of the record, where building
//! the record's `serde_json::Value` costs an allocation per key and value, and as much again
//! to free it. On text that is not valid JSON they return `None` or partial results; they
//! never panic.
//!
//! Duplicate keys resolve as `serde_json::Value` resolves them (the last one wins), so a rule
//! reads the same value here as from [`crate::Event::json`].

use std::borrow::Cow;

const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The high bit of each zero byte of `v` (exact for the lowest one, which is all we use).
#[inline]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LOW) & !v & HIGH
}

/// Eight bytes from `at`, little-endian.
#[inline]
fn word(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// From `at`, the index of the first byte that `flags` marks (eight bytes at a time), or the
/// index where fewer than eight bytes remain.
#[inline]
fn skip_to(bytes: &[u8], mut at: usize, flags: impl Fn(u64) -> u64) -> usize {
    while let Some(w) = word(bytes, at) {
        let found = flags(w);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at
}

/// The index just past the closing quote of the string whose body starts at `at`.
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        at = skip_to(bytes, at, |w| {
            zero_bytes(w ^ splat(b'"')) | zero_bytes(w ^ splat(b'\\'))
        });
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
}

/// The index just past the value that starts at `at` (no leading space).
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => string_end(bytes, at + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                // `[` and `]` are `{` and `}` without bit 5: one test finds both kinds.
                i = skip_to(bytes, i, |w| {
                    let folded = w | splat(0x20);
                    zero_bytes(w ^ splat(b'"'))
                        | zero_bytes(folded ^ splat(b'{'))
                        | zero_bytes(folded ^ splat(b'}'))
                });
                match *bytes.get(i)? {
                    b'"' => {
                        i = string_end(bytes, i + 1)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let rest = bytes.get(at..)?;
            Some(
                at + rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                    .unwrap_or(rest.len()),
            )
        }
    }
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(at) {
        at += 1;
    }
    at
}

/// The members of an object's text, in order: each key (unescaped) and its value's text.
/// Empty for anything but an object.
#[must_use]
pub fn members(object: &str) -> Members<'_> {
    let bytes = object.as_bytes();
    let start = skip_ws(bytes, 0);
    Members {
        text: object,
        at: if bytes.get(start) == Some(&b'{') {
            Some(start + 1)
        } else {
            None
        },
    }
}

/// Iterator of [`members`].
#[derive(Debug, Clone)]
pub struct Members<'a> {
    text: &'a str,
    at: Option<usize>,
}

impl<'a> Iterator for Members<'a> {
    type Item = (Cow<'a, str>, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        let at = skip_ws(bytes, self.at.take()?);
        if bytes.get(at) != Some(&b'"') {
            return None; // `}` or not an object
        }
        let key_end = string_end(bytes, at + 1)?;
        let key = self.text.get(at + 1..key_end - 1)?;
        let key = if key.contains('\\') {
            Cow::Owned(unescape(key)?)
        } else {
            Cow::Borrowed(key)
        };
        let colon = skip_ws(bytes, key_end);
        if bytes.get(colon) != Some(&b':') {
            return None;
        }
        let start = skip_ws(bytes, colon + 1);
        let end = value_end(bytes, start)?;
        let value = self.text.get(start..end)?;
        let next = skip_ws(bytes, end);
        if bytes.get(next) == Some(&b',') {
            self.at = Some(next + 1);
        }
        Some((key, value))
    }
}

/// The elements of an array's text, each as its value's text. Empty for anything but an
/// array.
#[must_use]
pub fn elements(array: &str) -> Elements<'_> {
    let bytes = array.as_bytes();
    let start = skip_ws(bytes, 0);
    Elements {
        text: array,
        at: if bytes.get(start) == Some(&b'[') {
            Some(start + 1)
        } else {
            None
        },
    }
}

/// Iterator of [`elements`].
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    text: &'a str,
    at: Option<usize>,
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        let start = skip_ws(bytes, self.at.take()?);
        if matches!(bytes.get(start), None | Some(b']')) {
            return None;
        }
        let end = value_end(bytes, start)?;
        let next = skip_ws(bytes, end);
        if bytes.get(next) == Some(&b',') {
            self.at = Some(next + 1);
        }
        self.text.get(start..end)
    }
}

/// The text of `key`'s value in the object `object` (the last, when the key is repeated).
#[must_use]
pub fn member<'a>(object: &'a str, key: &str) -> Option<&'a str> {
    members(object)
        .filter(|(k, _)| k == key)
        .last()
        .map(|(_, v)| v)
}

/// The value at a path of keys from `object` (no fan-out over arrays).
#[must_use]
pub fn at_path<'a, S: AsRef<str>>(object: &'a str, path: &[S]) -> Option<&'a str> {
    path.iter()
        .try_fold(object, |node, key| member(node, key.as_ref()))
}

/// A string value's content (the text includes its quotes), unescaped; `None` for anything
/// but a string.
#[must_use]
pub fn string(value: &str) -> Option<Cow<'_, str>> {
    let body = value.strip_prefix('"')?.strip_suffix('"')?;
    if body.contains('\\') {
        unescape(body).map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(body))
    }
}

/// A JSON string body with its escapes decoded (surrogate pairs joined; a lone surrogate
/// becomes U+FFFD). `None` for a malformed escape.
pub(crate) fn unescape(body: &str) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find('\\') {
        out.push_str(rest.get(..at)?);
        let escape = *rest.as_bytes().get(at + 1)?;
        let mut len = 2;
        match escape {
            b'u' => {
                let unit = |from: usize| {
                    rest.get(from..from + 4)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                };
                let first = unit(at + 2)?;
                len = 6;
                let code = if (0xD800..0xDC00).contains(&first)
                    && rest.get(at + 6..at + 8) == Some("\\u")
                    && let Some(second) = unit(at + 8)
                    && (0xDC00..0xE000).contains(&second)
                {
                    len = 12;
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            other => out.push(match other {
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                _ => return None,
            }),
        }
        rest = rest.get(at + len..)?;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const TEXT: &str = r#"{ "a" : {"b":[1,{"c":"x\"y"},"z\u00e9"],"d":null} ,"e":-1.5e3,"f":true,"a\u0062":"esc","g":"first","g":"last","h":"\ud83d\ude00"}"#;

    #[test]
    fn navigates_like_a_tree() {
        let tree: Value = serde_json::from_str(TEXT).unwrap();
        assert_eq!(member(TEXT, "e"), Some("-1.5e3"));
        assert_eq!(member(TEXT, "f"), Some("true"));
        assert_eq!(at_path(TEXT, &["a", "d"]), Some("null"));
        assert_eq!(
            member(TEXT, "g").and_then(string).as_deref(),
            tree["g"].as_str()
        );
        assert_eq!(member(TEXT, "ab").and_then(string).as_deref(), Some("esc"));
        assert_eq!(
            member(TEXT, "h").and_then(string).as_deref(),
            tree["h"].as_str()
        );
        let array = at_path(TEXT, &["a", "b"]).unwrap();
        let items: Vec<&str> = elements(array).collect();
        assert_eq!(items, [r#"1"#, r#"{"c":"x\"y"}"#, r#""z\u00e9""#]);
        assert_eq!(
            member(items[1], "c").and_then(string).as_deref(),
            Some("x\"y")
        );
        assert_eq!(string(items[2]).as_deref(), Some("zé"));
        assert_eq!(members(TEXT).count(), 7);
        assert!(member(TEXT, "missing").is_none());
        assert_eq!(elements("[]").count(), 0);
        assert_eq!(members("{}").count(), 0);
    }

    #[test]
    fn every_value_reads_as_serde_reads_it() {
        let tree: Value = serde_json::from_str(TEXT).unwrap();
        for (key, value) in members(TEXT) {
            let ours: Value = serde_json::from_str(value).unwrap();
            if key != "g" {
                assert_eq!(tree.get(key.as_ref()), Some(&ours), "{key}");
            }
        }
    }

    #[test]
    fn long_and_escaped_strings_at_every_offset() {
        for n in 0..40 {
            let pad = "a".repeat(n);
            let text = format!(
                r#"{{"{pad}k":"{pad}\"{pad}\\","n":[{{"x":"{pad}]}}"}},["{pad}["]],"last":"{pad}"}}"#
            );
            let tree: Value = serde_json::from_str(&text).unwrap();
            let ours: Vec<(String, Value)> = members(&text)
                .map(|(k, v)| (k.into_owned(), serde_json::from_str(v).unwrap()))
                .collect();
            let theirs: Vec<(String, Value)> = tree
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut ours_sorted = ours.clone();
            ours_sorted.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(ours_sorted, theirs, "{text}");
            assert_eq!(
                member(&text, "last").and_then(string).as_deref(),
                Some(pad.as_str())
            );
        }
    }

    #[test]
    fn broken_text_never_panics() {
        for cut in 0..TEXT.len() {
            if let Some(prefix) = TEXT.get(..cut) {
                let _ = members(prefix).count();
                let _ = at_path(prefix, &["a", "b"]).map(|a| elements(a).count());
                let _ = member(prefix, "h").and_then(string);
            }
        }
    }
}
