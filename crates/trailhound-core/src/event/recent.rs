//! A decoding thread's table of object texts read lately, each with what reading it gave.
//!
//! Why: some objects repeat from record to record (`userIdentity`, `tlsDetails`), and reading
//! their fields again costs more than recognising their text. The scanner finds where such an
//! object ends by its braces and strings alone and looks the exact text up ([`Table::get`]);
//! before that it tries the texts used last, which most records repeat ([`Table::latest`]).
//! A text equal to one read before is the same valid object, so whatever reading it gave (an
//! identity, the places of its values) holds again. Only texts of objects (`{`…`}`) are tried
//! by [`Table::latest`]: an object's text ends where its braces close, so a record whose text
//! starts with a kept object's text holds that object, which is not so of a number or the
//! empty text.

/// The slots of a direct-mapped table used last, the latest first.
#[derive(Clone, Copy)]
struct Latest<const N: usize>([u16; N]);

impl<const N: usize> Latest<N> {
    const fn new() -> Self {
        Latest([u16::MAX; N])
    }

    /// Notes `slot` as the one used last.
    fn note(&mut self, slot: usize) {
        let Ok(slot) = u16::try_from(slot) else {
            return;
        };
        let at = self.0.iter().position(|s| *s == slot).unwrap_or(N - 1);
        self.0.copy_within(0..at, 1);
        self.0[0] = slot;
    }

    /// The slots, the latest first (and slots never used, which no table has).
    fn slots(self) -> impl Iterator<Item = usize> {
        self.0.into_iter().map(usize::from)
    }
}

/// Texts of up to `MAX` bytes with a value each, direct-mapped into `SLOTS` slots by a hash
/// of the text (a text displaces the one in its slot); the `LATEST` slots used last are
/// tried first by [`Table::latest`].
pub(super) struct Table<V, const SLOTS: usize, const MAX: usize, const LATEST: usize> {
    slots: Vec<Option<(Box<[u8]>, V)>>,
    used: Latest<LATEST>,
}

impl<V: Clone, const SLOTS: usize, const MAX: usize, const LATEST: usize>
    Table<V, SLOTS, MAX, LATEST>
{
    /// An empty table (its slots are allocated by the first [`Table::keep`]).
    pub(super) const fn new() -> Self {
        Table {
            slots: Vec::new(),
            used: Latest::new(),
        }
    }

    /// The value kept for exactly `key`.
    pub(super) fn get(&mut self, key: &[u8]) -> Option<V> {
        if key.len() > MAX {
            return None;
        }
        let slot = slot_of(key) % SLOTS;
        let (text, value) = self.slots.get(slot)?.as_ref()?;
        if **text != *key {
            return None;
        }
        let value = value.clone();
        self.note(slot, key);
        Some(value)
    }

    /// The length and value of one of the object texts used last that `text` (the bytes at
    /// the object the scanner is at) starts with.
    pub(super) fn latest(&mut self, text: &[u8]) -> Option<(usize, V)> {
        let slots = &self.slots;
        let (slot, found) = self.used.slots().find_map(|slot| {
            let (kept, value) = slots.get(slot)?.as_ref()?;
            (kept.first() == Some(&b'{') && text.starts_with(kept))
                .then(|| (slot, (kept.len(), value.clone())))
        })?;
        self.used.note(slot);
        Some(found)
    }

    /// Keeps `value` for `key` (not when `key` is longer than `MAX`).
    pub(super) fn keep(&mut self, key: &[u8], value: V) {
        if key.len() > MAX {
            return;
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
        }
        let slot = slot_of(key) % SLOTS;
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = Some((key.into(), value));
            self.note(slot, key);
        }
    }

    /// Notes `slot` as used last when its text is an object's, the only ones
    /// [`Table::latest`] tries.
    fn note(&mut self, slot: usize, key: &[u8]) {
        if key.first() == Some(&b'{') {
            self.used.note(slot);
        }
    }
}

/// The hash of a text that picks its slot: a sum of its eight-byte words, mixed. Weaker than
/// a general hash, several times cheaper over the half-kilobyte of a typical identity, and
/// enough here: the table compares the whole text, so two texts in one slot cost a read of
/// the object, never a wrong value.
fn slot_of(text: &[u8]) -> usize {
    let mut words = text.chunks_exact(8);
    let mut sum = text.len() as u64;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        sum = sum.wrapping_add(u64::from_le_bytes(w));
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        sum = sum.wrapping_add(u64::from(b) << (8 * i));
    }
    let mixed = (sum ^ (sum >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (mixed >> 55) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_found_exactly_and_latest_tries_objects_only() {
        let mut table: Table<u32, 8, 16, 2> = Table::new();
        assert_eq!(table.get(b"{}"), None);
        table.keep(br#"{"a":1}"#, 1);
        assert_eq!(table.get(br#"{"a":1}"#), Some(1));
        assert_eq!(table.get(br#"{"a":2}"#), None);
        assert_eq!(table.latest(br#"{"a":1},"b":2}"#), Some((7, 1)));
        assert_eq!(table.latest(br#"{"a":12}"#), None);
        // A number's text is found exactly but never taken for the start of a longer one.
        table.keep(b"12", 2);
        assert_eq!(table.get(b"12"), Some(2));
        assert_eq!(table.latest(b"123"), None);
        // Longer than MAX: not kept.
        let long = [b'{'; 17];
        table.keep(&long, 3);
        assert_eq!(table.get(&long), None);
    }

    #[test]
    fn latest_keeps_the_slots_used_last_in_order() {
        let mut used: Latest<3> = Latest::new();
        for slot in [1, 2, 3, 1, 4] {
            used.note(slot);
        }
        assert_eq!(used.slots().collect::<Vec<_>>(), [4, 1, 3]);
    }

    #[test]
    fn more_texts_than_slots_displace_each_other_but_never_mix() {
        let mut table: Table<usize, 4, 64, 2> = Table::new();
        let texts: Vec<String> = (0..32).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
        for (i, text) in texts.iter().enumerate() {
            table.keep(text.as_bytes(), i);
        }
        for (i, text) in texts.iter().enumerate() {
            if let Some(value) = table.get(text.as_bytes()) {
                assert_eq!(value, i);
            }
        }
        assert_eq!(table.get(texts[31].as_bytes()), Some(31));
    }
}
