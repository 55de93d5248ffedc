//! Decoded identities shared by the events of one decoding thread.
//!
//! Why: a record's `userIdentity` is its longest typed part (ARNs, principal ids, the session
//! issuer), and its strings are mostly too long to be stored inline, so building it cost three
//! to four allocations per event, freed later on the detection threads. The events of a
//! CloudTrail file come from few principals and sessions (in generated organisation trees, 98%
//! of records repeat an identity object among the last 256 seen), so each decoding thread keeps
//! the identities it built lately, keyed by the exact text of the `userIdentity` object, and
//! events with the same text share one.
//!
//! The scanner asks first ([`known`]): reading the object's fields was about a sixth of the
//! instructions of decoding a record, and finding where the object ends and comparing its
//! text with the one kept is a third of that. A text equal to one read before is the same
//! valid JSON object, so it is skipped with the same result; anything else is read as usual.

use std::cell::RefCell;
use std::sync::Arc;

use super::UserIdentity;
use super::recent::Table;

/// Slots of a thread's table (direct-mapped by a hash of the text).
const SLOTS: usize = 512;

/// Identity objects longer than this are built for their event alone, so the table's memory
/// stays small (a few hundred kilobytes a thread) whatever the input.
const MAX_KEY: usize = 2048;

/// How many of the texts used last the scanner tries first (see [`latest`]).
const LATEST: usize = 16;

/// What reading an identity object told the scanner besides its fields, replayed when the
/// object is skipped.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Shape {
    /// How far below the object's own level its nesting went (its own object counts one).
    pub(super) depth: u32,
    /// Some typed string field in it held a bool, an object or an array.
    pub(super) odd: bool,
}

/// An identity kept by this thread, for the object text the scanner is at.
pub(super) struct Known {
    pub(super) identity: Arc<UserIdentity>,
    /// The length of the object's text.
    pub(super) len: usize,
    pub(super) shape: Shape,
}

thread_local! {
    static RECENT: RefCell<Table<(Arc<UserIdentity>, Shape), SLOTS, MAX_KEY, LATEST>> =
        const { RefCell::new(Table::new()) };
}

/// The identity whose `userIdentity` text is `key`: one built lately on this thread from the
/// same text, else `build()`'s, kept for the next event with `shape`, what the scanner noted
/// reading it.
pub(super) fn shared(
    key: &str,
    shape: Shape,
    build: impl FnOnce() -> UserIdentity,
) -> Arc<UserIdentity> {
    RECENT.with_borrow_mut(|recent| {
        if let Some((identity, _)) = recent.get(key.as_bytes()) {
            return identity;
        }
        let identity = Arc::new(build());
        recent.keep(key.as_bytes(), (Arc::clone(&identity), shape));
        identity
    })
}

/// The identity kept on this thread whose text is exactly `text[..len]`, the object the
/// scanner is at (`len` is where the object seems to end, found without reading its values).
pub(super) fn known(text: &[u8], len: usize) -> Option<Known> {
    let key = text.get(..len)?;
    let (identity, shape) = RECENT.with_borrow_mut(|recent| recent.get(key))?;
    Some(Known {
        identity,
        len,
        shape,
    })
}

/// One of the identities this thread used last whose text `text` (the bytes at the object
/// the scanner is at) starts with. The records of a file come from few principals: on
/// generated trees the last eight identities cover 77% of records and the last sixteen 97%,
/// and trying them costs less than finding where the object ends.
pub(super) fn latest(text: &[u8]) -> Option<Known> {
    let (len, (identity, shape)) = RECENT.with_borrow_mut(|recent| recent.latest(text))?;
    Some(Known {
        identity,
        len,
        shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> UserIdentity {
        UserIdentity {
            user_name: Some(name.into()),
            ..UserIdentity::default()
        }
    }

    #[test]
    fn the_same_text_shares_one_identity_and_other_text_builds_its_own() {
        let shape = Shape::default();
        let a = shared(r#"{"userName":"alice"}"#, shape, || named("alice"));
        let again = shared(r#"{"userName":"alice"}"#, shape, || {
            unreachable!("built twice")
        });
        assert!(Arc::ptr_eq(&a, &again));
        let text = br#"{"userName":"alice"},"eventName":"x"}"#;
        let found = known(text, 20).unwrap();
        assert!(Arc::ptr_eq(&found.identity, &a) && found.len == 20);
        assert!(known(text, 19).is_none() && known(text, 99).is_none());
        let latest_found = latest(br#"{"userName":"alice"} and more"#).unwrap();
        assert!(Arc::ptr_eq(&latest_found.identity, &a) && latest_found.len == 20);
        assert!(latest(br#"{"userName":"alic"#).is_none());
        // The empty text of a record without an identity is never taken for an object.
        let none = shared("", shape, || named("none"));
        assert!(latest(br#"{"userName":"carol"}"#).is_none());
        assert_eq!(none.user_name.as_deref(), Some("none"));
        let b = shared(r#"{"userName":"bob"}"#, shape, || named("bob"));
        assert_eq!(b.user_name.as_deref(), Some("bob"));
        assert_eq!(a.user_name.as_deref(), Some("alice"));
        // More texts than slots: every one still gets its own identity.
        for i in 0..SLOTS * 2 {
            let text = format!(r#"{{"userName":"u{i}"}}"#);
            let name = format!("u{i}");
            let id = shared(&text, shape, || named(&name));
            assert_eq!(id.user_name.as_deref(), Some(name.as_str()));
        }
        let long = format!(r#"{{"userName":"{}"}}"#, "x".repeat(MAX_KEY));
        let first = shared(&long, shape, || named("long"));
        let second = shared(&long, shape, || named("long"));
        assert!(!Arc::ptr_eq(&first, &second), "long texts are not kept");
    }

    #[test]
    fn the_identity_span_is_user_identity() {
        assert_eq!(
            super::super::SPAN_KEYS[super::super::IDENTITY_SPAN],
            "userIdentity"
        );
    }
}
