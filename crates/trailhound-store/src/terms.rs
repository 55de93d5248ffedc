//! The search index at block granularity: every block of raw records gets a Bloom filter of
//! the words of its records. A search hashes its words, keeps the blocks whose filter may hold
//! all of them, then decompresses those blocks and checks each record for real.
//!
//! Words: letters, digits and `. - _ @` (and any non-ASCII character) make a word, compared
//! without ASCII case; so an IP address, a host, a bucket name or an e-mail address is one word
//! while an ARN splits at `:` and `/`. A JSON escape (`\n`, `\"`, `\u00e9`…) separates words.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for keys that are already well-mixed 64-bit hashes.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A set of word hashes.
pub(crate) type HashSet64 = HashSet<u64, BuildHasherDefault<IdentityHasher>>;

const fn word_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || c == b'.'
            || c == b'-'
            || c == b'_'
            || c == b'@'
            || c >= 0x80;
        i += 1;
    }
    t
}

static WORD: [bool; 256] = word_table();

/// Bits per distinct word in a filter, and probes per word: about 0.8% false positives.
const BITS_PER_WORD: usize = 10;
const PROBES: u32 = 7;

fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Calls `f` with the hash of every word of `text`.
pub(crate) fn for_each_word(text: &[u8], mut f: impl FnMut(u64)) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut in_word = false;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b == b'\\' {
            // A JSON escape: the backslash and its letter separate words.
            if in_word {
                f(mix(h));
                in_word = false;
                h = 0xcbf2_9ce4_8422_2325;
            }
            i += 2;
            continue;
        }
        if WORD[b as usize] {
            h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3);
            in_word = true;
        } else if in_word {
            f(mix(h));
            in_word = false;
            h = 0xcbf2_9ce4_8422_2325;
        }
        i += 1;
    }
    if in_word {
        f(mix(h));
    }
}

/// The distinct word hashes of `text` (a search), in order of first occurrence.
pub(crate) fn query_words(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for_each_word(text.as_bytes(), |h| {
        if !out.contains(&h) {
            out.push(h);
        }
    });
    out
}

/// Whether `record` holds every word of `words`.
pub(crate) fn record_has_all(record: &str, words: &[u64]) -> bool {
    if words.len() == 1 {
        let mut found = false;
        for_each_word(record.as_bytes(), |h| found |= h == words[0]);
        return found;
    }
    let mut seen = vec![false; words.len()];
    for_each_word(record.as_bytes(), |h| {
        if let Some(i) = words.iter().position(|w| *w == h) {
            seen[i] = true;
        }
    });
    seen.iter().all(|s| *s)
}

/// The filter of a block's records: `[log2(bits)]` then the bit array.
pub(crate) fn build_filter<'a>(records: impl Iterator<Item = &'a str>) -> Vec<u8> {
    // CloudTrail records repeat most of their words (keys, ARNs, agents, regions): a small
    // direct-mapped table of recent words skips the set for them, which halved the filter's
    // cost per block.
    const RECENT: usize = 4096;
    let mut recent = vec![0u64; RECENT];
    let mut words = HashSet64::default();
    for record in records {
        for_each_word(record.as_bytes(), |h| {
            let slot = &mut recent[(h >> 52) as usize];
            if *slot != h || h == 0 {
                *slot = h;
                words.insert(h);
            }
        });
    }
    let bits = (words.len() * BITS_PER_WORD).next_power_of_two().max(1024);
    let log2 = bits.trailing_zeros();
    let mut out = vec![0u8; 1 + bits / 8];
    out[0] = log2 as u8;
    let mask = (bits - 1) as u64;
    for h in words {
        for (i, bit) in probes(h, mask).enumerate() {
            if i as u32 >= PROBES {
                break;
            }
            out[1 + (bit >> 3) as usize] |= 1 << (bit & 7);
        }
    }
    out
}

fn probes(h: u64, mask: u64) -> impl Iterator<Item = u64> {
    let h1 = h;
    let h2 = h.rotate_left(32) | 1;
    (0..u64::from(PROBES)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) & mask)
}

/// Whether a block's filter may hold every word of `words`.
pub(crate) fn filter_may_hold(filter: &[u8], words: &[u64]) -> bool {
    let Some((&log2, bits)) = filter.split_first() else {
        return true;
    };
    let Some(size) = 1u64.checked_shl(u32::from(log2)) else {
        return true;
    };
    if bits.len() as u64 * 8 < size {
        return true;
    }
    let mask = size - 1;
    words
        .iter()
        .all(|h| probes(*h, mask).all(|bit| bits[(bit >> 3) as usize] & (1 << (bit & 7)) != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_the_docs_say() {
        let mut n = 0;
        for_each_word(b"arn:aws:iam::123456789012:user/alice 203.0.113.7", |_| {
            n += 1
        });
        assert_eq!(n, 7);
        assert_eq!(query_words("Alice ALICE"), query_words("alice"));
        assert_ne!(query_words("alice"), query_words("alic"));
        assert!(record_has_all(r#"{"a":"x\nalice"}"#, &query_words("alice")));
        assert!(!record_has_all(r#"{"a":"xalice"}"#, &query_words("alice")));
        assert!(query_words(" :: ").is_empty());
    }

    #[test]
    fn filter_holds_its_words_and_rejects_most_others() {
        let records: Vec<String> = (0..2000)
            .map(|i| {
                format!(
                    r#"{{"eventID":"id-{i}","sourceIPAddress":"203.0.113.{}"}}"#,
                    i % 250
                )
            })
            .collect();
        let filter = build_filter(records.iter().map(String::as_str));
        for i in 0..2000 {
            assert!(filter_may_hold(&filter, &query_words(&format!("id-{i}"))));
        }
        let false_hits = (0..10_000)
            .filter(|i| filter_may_hold(&filter, &query_words(&format!("other-{i}"))))
            .count();
        assert!(false_hits < 300, "{false_hits} false positives in 10000");
        assert!(filter_may_hold(&filter, &query_words("203.0.113.7 id-7")));
    }
}
