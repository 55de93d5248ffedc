//! Where the values of `tlsDetails` objects read lately lie in their text.
//!
//! Why: a record's `tlsDetails` (TLS version, cipher suite, host header) repeats from record
//! to record, and reading its three fields cost about as many instructions as the rest of the
//! hot fields together. Each decoding thread keeps the texts it read lately with the places of
//! their values; the scanner finds where an object ends by its braces and strings alone, and
//! when its text equals one kept, borrows the values from the same places instead of reading
//! them (the same text is the same valid object). Only plain objects are kept: values without
//! escapes, nothing nested, nothing odd.

use std::cell::RefCell;

use super::recent::Table;

/// Slots of a thread's table (direct-mapped by a hash of the text).
const SLOTS: usize = 64;

/// Objects longer than this are not kept.
const MAX_TEXT: usize = 1024;

/// How many of the texts used last the scanner tries first (see [`latest`]).
const LATEST: usize = 16;

/// The places (`start..end` from the object's `{`) of `tlsVersion`, `cipherSuite` and
/// `clientProvidedHostHeader`, each absent when the object has none.
pub(super) type Places = [Option<(u32, u32)>; 3];

thread_local! {
    static RECENT: RefCell<Table<Places, SLOTS, MAX_TEXT, LATEST>> =
        const { RefCell::new(Table::new()) };
}

/// The places kept for the object whose text is exactly `text[..len]`.
pub(super) fn known(text: &[u8], len: usize) -> Option<Places> {
    let key = text.get(..len)?;
    RECENT.with_borrow_mut(|recent| recent.get(key))
}

/// The length and places of one of the objects used last whose text `text` (the bytes at
/// the object the scanner is at) starts with. On generated trees 50 texts make up every
/// record's `tlsDetails`, and the last sixteen cover 97% of records: trying them costs less
/// than finding where the object ends.
pub(super) fn latest(text: &[u8]) -> Option<(usize, Places)> {
    RECENT.with_borrow_mut(|recent| recent.latest(text))
}

/// Keeps `places` for the object text `key`.
pub(super) fn keep(key: &[u8], places: Places) {
    RECENT.with_borrow_mut(|recent| recent.keep(key, places));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_places_are_found_for_the_same_text_only() {
        let text = br#"{"tlsVersion":"TLSv1.3"},"x":1}"#;
        assert!(known(text, 24).is_none());
        keep(&text[..24], [Some((15, 22)), None, None]);
        assert_eq!(known(text, 24), Some([Some((15, 22)), None, None]));
        assert!(known(text, 23).is_none() && known(text, 99).is_none());
        assert!(known(br#"{"tlsVersion":"TLSv1.2"}"#, 24).is_none());
        assert_eq!(latest(text), Some((24, [Some((15, 22)), None, None])));
        assert!(latest(br#"{"tlsVersion":"TLSv1.2"}"#).is_none());
    }
}
