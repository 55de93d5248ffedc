//! The search index at block granularity: every block of raw records gets a Bloom filter of
//! the words of its records. A search hashes its words, keeps the blocks whose filter may hold
//! all of them, then decompresses those blocks and checks each record for real.
//!
//! Words: letters, digits and `. - _ @` (and any non-ASCII character) make a word, compared
//! without ASCII case; so an IP address, a host, a bucket name or an e-mail address is one word
//! while an ARN splits at `:` and `/`. A JSON escape (`\n`, `\"`, `\u00e9`…) separates words.
//! The names of object keys are not words: a search finds values.
//!
//! Two word hashes exist. Filters built since store format 3 hash each word eight bytes at a
//! time ([`for_each_word`]; the filter's first byte has [`FAST`] set); filters of format 2
//! stores hashed it a byte at a time (FNV-1a, [`for_each_word_legacy`]) and are read as they
//! are. A search hashes its words both ways and checks each filter with the hashes it was
//! built with; records are always checked with the fast hash.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

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

/// The flag in a filter's first byte that marks the fast word hash.
const FAST: u8 = 0x80;

/// Lowers the ASCII capitals of eight bytes at once, leaving every other byte as it is.
fn lower8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = x & !HIGH;
    // The high bit of each byte of `at_least_a` is set when the byte is >= 'A', of
    // `beyond_z` when it is > 'Z' (no carry crosses bytes: every sum stays below 0x100).
    let at_least_a = low7 + ONES * u64::from(0x80 - b'A');
    let beyond_z = low7 + ONES * u64::from(0x80 - b'Z' - 1);
    let capitals = at_least_a & !beyond_z & !x & HIGH;
    x | (capitals >> 2)
}

/// The hash of one word (its bytes, ASCII capitals lowered), eight bytes at a step.
fn hash_word(word: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let step = |h: u64, x: u64| (h ^ lower8(x)).wrapping_mul(K).rotate_left(31);
    let mut h = 0x243f_6a88_85a3_08d3 ^ word.len() as u64;
    let mut chunks = word.chunks_exact(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        h = step(h, u64::from_le_bytes(bytes));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut bytes = [0u8; 8];
        bytes[..rest.len()].copy_from_slice(rest);
        h = step(h, u64::from_le_bytes(bytes));
    }
    mix(h)
}

/// Calls `f` with the hash of every word of `text` but the words of object keys (a word
/// right before `":`): a search looks for values, and the keys, the same in every record,
/// were a third of the words to hash. Words are found with a table lookup per byte and
/// hashed eight bytes at a time; the filter of a block hashed every byte of its records one
/// multiply at a time before, the largest single cost of an append.
pub(crate) fn for_each_word(text: &[u8], f: impl FnMut(u64)) {
    for_each_word_between(text, 0, text.len(), f);
}

/// [`for_each_word`] for the words that start in `text[start..end]`, where `end` is the end
/// of `text` or a quote (which no word crosses); the test for a key looks past `end`.
fn for_each_word_between(text: &[u8], start: usize, end: usize, mut f: impl FnMut(u64)) {
    let text_len = text.len();
    let mut i = start;
    while i < end.min(text_len) {
        let b = text[i];
        if b == b'\\' {
            // A JSON escape: the backslash and its letter separate words.
            i += 2;
        } else if WORD[b as usize] {
            let first = i;
            while i < text_len && WORD[text[i] as usize] {
                i += 1;
            }
            if !(text.get(i) == Some(&b'"') && text.get(i + 1) == Some(&b':')) {
                f(hash_word(&text[first..i]));
            }
        } else {
            i += 1;
        }
    }
}

/// The word hashes of filters built by store format 2: FNV-1a over the lowered bytes.
pub(crate) fn for_each_word_legacy(text: &[u8], mut f: impl FnMut(u64)) {
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

/// The words of a search, hashed both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Words {
    /// Distinct fast hashes, in order of first occurrence.
    fast: Vec<u64>,
    /// Distinct FNV-1a hashes, for the filters of format 2 blocks.
    legacy: Vec<u64>,
}

impl Words {
    /// Whether the search has no word.
    pub(crate) fn is_empty(&self) -> bool {
        self.fast.is_empty()
    }
}

/// The distinct words of `text` (a search).
pub(crate) fn query_words(text: &str) -> Words {
    let distinct = |each: fn(&[u8], &mut dyn FnMut(u64))| {
        let mut out: Vec<u64> = Vec::new();
        each(text.as_bytes(), &mut |h| {
            if !out.contains(&h) {
                out.push(h);
            }
        });
        out
    };
    Words {
        fast: distinct(|t, f| for_each_word(t, f)),
        legacy: distinct(|t, f| for_each_word_legacy(t, f)),
    }
}

/// Whether `record` holds every word of `words`.
pub(crate) fn record_has_all(record: &str, words: &Words) -> bool {
    let words = words.fast.as_slice();
    if words.len() == 1 {
        let mut found = false;
        for_each_value_word(record.as_bytes(), |h| found |= h == words[0]);
        return found;
    }
    let mut seen = vec![false; words.len()];
    for_each_value_word(record.as_bytes(), |h| {
        if let Some(i) = words.iter().position(|w| *w == h) {
            seen[i] = true;
        }
    });
    seen.iter().all(|s| *s)
}

/// The filter of a block's records: `[log2(bits)]` then the bit array.
#[cfg(test)]
pub(crate) fn build_filter<'a>(records: impl Iterator<Item = &'a str>) -> Vec<u8> {
    FilterBuilder::default().build(records)
}

/// Slots of [`FilterBuilder::build`]'s table of strings seen lately (a power of two).
const STRING_SLOTS: usize = 1 << 14;

/// Builds block filters with its tables kept from one block to the next.
#[derive(Default)]
pub(crate) struct FilterBuilder {
    /// Recent words, direct-mapped: CloudTrail records repeat most of their words (ARNs,
    /// agents, regions), and the table skips the set for them.
    recent: Vec<u64>,
    words: HashSet64,
    /// Strings seen lately (see [`FilterBuilder::build`]): their hashes, direct-mapped.
    seen: Vec<u64>,
    /// The hash of [`FilterBuilder::seen`], seeded at random for each process.
    strings: foldhash::quality::RandomState,
}

impl FilterBuilder {
    /// The filter of a block's records: `[log2(bits) | FAST]` then the bit array.
    ///
    /// The words are those of [`for_each_value_word`]. The records of a block repeat most of
    /// their string values (ARNs, agents, regions, account ids): a string already seen in the
    /// block has no word to add, and is skipped after one hash of its bytes instead of
    /// splitting and hashing its words again. Records with escapes are read word by word.
    pub(crate) fn build<'a>(&mut self, records: impl Iterator<Item = &'a str>) -> Vec<u8> {
        const RECENT: usize = 4096;
        self.recent.clear();
        self.recent.resize(RECENT, 0);
        self.words.clear();
        self.seen.clear();
        self.seen.resize(STRING_SLOTS, 0);
        let (recent, words) = (&mut self.recent, &mut self.words);
        let mut add = |h: u64| {
            let slot = &mut recent[(h >> 52) as usize];
            if *slot != h || h == 0 {
                *slot = h;
                words.insert(h);
            }
        };
        // Strings seen lately, direct-mapped by a 64-bit hash of their bytes: a set of every
        // string of the block cost more than the splitting it saved (a table of hundreds of
        // thousands of entries, out of cache, grown as it filled); a miss here only splits a
        // string again, whose words the sets already hold.
        //
        // The hash alone stands for the string: comparing the bytes too read the string seen
        // before, most often in a record far back in the block and out of cache, and kept a
        // table three times the size (the largest single cost of building a filter). Two
        // strings of a block colliding in 64 bits would leave the second one's words out;
        // the hash is seeded at random for each process, so no input can be made to collide,
        // and by chance that is a probability of about 2^-64 per string.
        let (seen, strings) = (&mut self.seen, &self.strings);
        for record in records {
            let unseen = |string: &'a [u8]| {
                // Never 0, the mark of an empty slot.
                let hash = strings.hash_one(string) | 1;
                // The mask keeps the index within the table.
                let slot = &mut seen[hash as usize & (STRING_SLOTS - 1)];
                if *slot == hash {
                    return false;
                }
                *slot = hash;
                true
            };
            walk_values(record.as_bytes(), unseen, &mut add);
        }
        filter_of(words)
    }
}

/// Calls `f` with the hash of every word of the values of a record: the words of its strings
/// but object keys (a string right before `:`), and of what lies between strings (numbers,
/// `true`…). A search looks for values; the keys, the same in every record, were half of the
/// strings to look at. A record with a backslash is read word by word ([`for_each_word`],
/// which leaves out the last word of a key only): an escaped quote does not end a string.
pub(crate) fn for_each_value_word(text: &[u8], mut f: impl FnMut(u64)) {
    walk_values(text, |_| true, &mut f);
}

/// [`for_each_value_word`], asking `split` first for each string value (its bytes between the
/// quotes) whether to split it into words: the filter builder skips the strings it has just
/// seen, whose words it holds already.
fn walk_values<'t>(
    text: &'t [u8],
    mut split: impl FnMut(&'t [u8]) -> bool,
    f: &mut impl FnMut(u64),
) {
    if memchr::memchr(b'\\', text).is_some() {
        for_each_word(text, f);
        return;
    }
    let mut at = 0;
    while at < text.len() {
        let Some(open) = quote_from(text, at) else {
            for_each_word_between(text, at, text.len(), &mut *f);
            return;
        };
        // Between two strings there is mostly punctuation (`:`, `,`, `},`): no word.
        if text[at..open].iter().any(|b| WORD[usize::from(*b)]) {
            for_each_word_between(text, at, open, &mut *f);
        }
        let body = open + 1;
        let Some(close) = quote_from(text, body) else {
            for_each_word_between(text, body, text.len(), &mut *f);
            return;
        };
        // A key has no word of a value: skipped before its bytes are even hashed.
        if text.get(close + 1) != Some(&b':') && split(&text[body..close]) {
            for_each_word_between(text, body, close, &mut *f);
        }
        at = close + 1;
    }
}

/// The index of the first `"` of `text` from `i` on, eight bytes at a time. Most strings of a
/// record are a few bytes long: a call of `memchr` for each cost more than this scan.
#[inline]
fn quote_from(text: &[u8], mut i: usize) -> Option<usize> {
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    while let Some(chunk) = text.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ QUOTES;
        // The lowest flagged byte is the first quote (borrows only flag bytes after it).
        let zero = x.wrapping_sub(LOW) & !x & HIGH;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = text.get(i..)?;
    rest.iter().position(|b| *b == b'"').map(|q| i + q)
}

/// The Bloom filter of a set of word hashes.
fn filter_of(words: &HashSet64) -> Vec<u8> {
    let bits = (words.len() * BITS_PER_WORD).next_power_of_two().max(1024);
    let log2 = bits.trailing_zeros();
    let mut out = vec![0u8; 1 + bits / 8];
    out[0] = log2 as u8 | FAST;
    let mask = (bits - 1) as u64;
    for &h in words {
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
pub(crate) fn filter_may_hold(filter: &[u8], words: &Words) -> bool {
    let Some((&first, bits)) = filter.split_first() else {
        return true;
    };
    let (log2, words) = if first & FAST == 0 {
        (first, words.legacy.as_slice())
    } else {
        (first & !FAST, words.fast.as_slice())
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
    fn skipping_repeated_strings_builds_the_same_filter() {
        let word_by_word = |records: &[&str]| {
            let mut words = HashSet64::default();
            for r in records {
                for_each_value_word(r.as_bytes(), |h| {
                    words.insert(h);
                });
            }
            filter_of(&words)
        };
        let record = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/web/i-0abc"},"sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0 Python/3.11.6","eventID":"0a1b2c3d-0000-4000-8000-00000000000a","requestParameters":{"bucketName":"example-archive","key":"payroll/2026/été.csv","x":"a b":1","n":[12345,true,null]},"k":"v":"#;
        let mut records: Vec<String> = Vec::new();
        for start in 0..record.len() {
            for end in (start..=record.len()).step_by(11) {
                if let Some(r) = record.get(start..end) {
                    records.push(r.to_owned());
                }
            }
        }
        records.push(record.replace("web", "db"));
        records.push(r#"{"a":"x\"y","b":"arn:aws:iam::1:user/Alice"}"#.to_owned());
        records.push(r#"{"a x":"b y","a x" :"b y"}"#.to_owned());
        let records: Vec<&str> = records.iter().map(String::as_str).collect();
        for chunk in records.chunks(97) {
            assert_eq!(
                FilterBuilder::default().build(chunk.iter().copied()),
                word_by_word(chunk)
            );
        }
        assert_eq!(
            FilterBuilder::default().build(records.iter().copied()),
            word_by_word(&records)
        );
        // More distinct strings than the table of strings seen holds, each seen twice, the
        // second time after it was pushed out.
        let many: Vec<String> = (0..STRING_SLOTS * 3)
            .chain(0..STRING_SLOTS * 3)
            .map(|i| format!(r#"{{"user":"user-{i}","role":"role {}"}}"#, i % 7))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            FilterBuilder::default().build(many.iter().copied()),
            word_by_word(&many)
        );
    }

    #[test]
    fn no_word_of_a_key_is_a_value() {
        let record = r#"{"x-amz-id:part":"alpha","tag:Name":"beta gamma","n":12345}"#;
        for word in ["x-amz-id", "part", "tag", "name"] {
            assert!(!record_has_all(record, &query_words(word)), "{word}");
        }
        for word in ["alpha", "beta", "gamma", "12345"] {
            assert!(record_has_all(record, &query_words(word)), "{word}");
        }
        let filter = build_filter([record].into_iter());
        assert!(filter_may_hold(
            &filter,
            &query_words("alpha beta gamma 12345")
        ));
        // With an escape the record is read word by word: only a key's last word is left out.
        let escaped = r#"{"tag:Name":"a\"b"}"#;
        assert!(record_has_all(escaped, &query_words("tag")));
        assert!(!record_has_all(escaped, &query_words("name")));
    }

    #[test]
    fn quotes_are_found_like_memchr_finds_them() {
        let text = br#"{"a":"bcdefghijklmnop","q":"\"","x":1234567890123,"y":""}"#;
        for start in 0..=text.len() {
            for end in start..=text.len() {
                let t = &text[..end];
                assert_eq!(
                    quote_from(t, start),
                    memchr::memchr(b'"', &t[start..]).map(|q| start + q),
                    "{start}..{end}"
                );
            }
        }
        assert_eq!(quote_from(b"abc", 5), None);
    }

    #[test]
    fn lower8_lowers_ascii_capitals_only() {
        for b in 0..=255u8 {
            for lane in 0..8 {
                let x = u64::from(b) << (8 * lane) | 0x4141_4141_4141_4141 & !(0xff << (8 * lane));
                let lowered = lower8(x).to_le_bytes();
                assert_eq!(
                    lowered[lane],
                    b.to_ascii_lowercase(),
                    "byte {b:#x} lane {lane}"
                );
                for (other, byte) in lowered.iter().enumerate() {
                    if other != lane {
                        assert_eq!(*byte, b'a');
                    }
                }
            }
        }
    }

    #[test]
    fn fast_hash_skips_keys_and_ignores_ascii_case_only() {
        let text = br#"{"userName":"Alice_01@Example.com","k":"a\nb","ip":"203.0.113.7","arn":"arn:aws:iam::1:user/x","long":"abcdefghijklmnopqrstuvwxyz"}"#;
        let (mut fast, mut legacy) = (0, 0);
        for_each_word(text, |_| fast += 1);
        for_each_word_legacy(text, |_| legacy += 1);
        // The fast hash leaves out the five keys, which the legacy one counted.
        assert_eq!(fast + 5, legacy);
        assert!(!record_has_all(
            r#"{"userName":"bob"}"#,
            &query_words("username")
        ));
        assert!(record_has_all(r#"{"userName":"bob"}"#, &query_words("BOB")));
        assert!(record_has_all(
            r#"{"k":"userName"}"#,
            &query_words("username")
        ));
        let hash = |w: &str| {
            let mut out = Vec::new();
            for_each_word(w.as_bytes(), |h| out.push(h));
            out
        };
        assert_eq!(hash("ABCDEFGHIJKLMNOPQ"), hash("abcdefghijklmnopq"));
        assert_ne!(hash("abcdefgh"), hash("abcdefgh0"));
        assert_ne!(hash("ab"), hash("ba"));
        // É (C3 89) and é (C3 A9) differ only in the bit that ASCII case flips.
        assert_ne!(hash("caf\u{c9}"), hash("caf\u{e9}"));
    }

    #[test]
    fn format_2_filters_are_read_with_the_legacy_hash() {
        let records = [r#"{"eventID":"legacy-1","sourceIPAddress":"198.51.100.9"}"#];
        // A filter as format 2 built it: FNV-1a words, no flag.
        let mut words = HashSet64::default();
        for_each_word_legacy(records[0].as_bytes(), |h| {
            words.insert(h);
        });
        let bits: usize = 1024;
        let mut legacy = vec![0u8; 1 + bits / 8];
        legacy[0] = bits.trailing_zeros() as u8;
        for h in words {
            for bit in probes(h, (bits - 1) as u64) {
                legacy[1 + (bit >> 3) as usize] |= 1 << (bit & 7);
            }
        }
        let fast = build_filter(records.iter().copied());
        assert_ne!(fast[0] & FAST, 0);
        for filter in [&legacy, &fast] {
            assert!(filter_may_hold(
                filter,
                &query_words("LEGACY-1 198.51.100.9")
            ));
            assert!(!filter_may_hold(filter, &query_words("legacy-2")));
        }
        assert!(record_has_all(records[0], &query_words("legacy-1")));
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
