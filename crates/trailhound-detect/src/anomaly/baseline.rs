//! Bounded baseline primitives: stable string hashes, capped first-seen maps and an entity
//! table with a global cap.

use serde::{Deserialize, Serialize};
use trailhound_core::Timestamp;

/// A stable 64-bit FNV-1a hash of a string: identical across runs, versions and machines, so
/// it can key saved state.
#[must_use]
pub fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// How often and when a value was seen for an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Times seen (saturating).
    pub count: u32,
    /// Event time of the first sighting (seconds).
    pub first: i64,
    /// Event time of the last sighting (seconds).
    pub last: i64,
}

/// A map of value hash → [`Seen`] holding at most `cap` values; when full, the value seen
/// least recently is forgotten (ties: the smaller hash), so memory per entity is bounded and
/// old habits fade.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CappedMap {
    keys: Vec<u64>,
    seen: Vec<Seen>,
}

impl CappedMap {
    /// The record of a value, if it is remembered.
    #[must_use]
    pub fn get(&self, key: u64) -> Option<&Seen> {
        let index = self.keys.iter().position(|k| *k == key)?;
        self.seen.get(index)
    }

    /// Records a sighting at `time`; returns the record as it was before (None: new value).
    pub fn touch(&mut self, key: u64, time: Timestamp, cap: usize) -> Option<Seen> {
        let now = time.as_secs();
        if let Some(index) = self.keys.iter().position(|k| *k == key)
            && let Some(seen) = self.seen.get_mut(index)
        {
            let before = *seen;
            seen.count = seen.count.saturating_add(1);
            seen.last = seen.last.max(now);
            return Some(before);
        }
        if self.keys.len() >= cap.max(1) {
            let victim = (0..self.keys.len()).min_by_key(|&i| (self.seen[i].last, self.keys[i]));
            if let Some(victim) = victim {
                self.keys.swap_remove(victim);
                self.seen.swap_remove(victim);
            }
        }
        self.keys.push(key);
        self.seen.push(Seen {
            count: 1,
            first: now,
            last: now,
        });
        None
    }

    /// How many values are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes held on the heap.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8 + self.seen.capacity() * std::mem::size_of::<Seen>()
    }
}

/// A short list of labels (country codes, AS numbers, regions) for explanations, capped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels(Vec<String>);

impl Labels {
    /// Adds a label unless present; keeps the `cap` most recent.
    pub fn add(&mut self, label: &str, cap: usize) {
        // Searched from the most recent end: the usual label is the one added last.
        if let Some(index) = self.0.iter().rposition(|l| l == label) {
            if index + 1 < self.0.len() {
                let item = self.0.remove(index);
                self.0.push(item);
            }
            return;
        }
        if self.0.len() >= cap.max(1) {
            self.0.remove(0);
        }
        self.0.push(label.to_owned());
    }

    /// The labels, oldest first.
    #[must_use]
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The labels joined with `, `, sorted for stable output.
    #[must_use]
    pub fn joined(&self) -> String {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_map_evicts_least_recent() {
        let mut map = CappedMap::default();
        for i in 0..10u64 {
            map.touch(i, Timestamp::from_secs(i as i64), 4);
        }
        assert_eq!(map.len(), 4);
        assert!(map.get(9).is_some());
        assert!(map.get(0).is_none());
        assert_eq!(
            map.touch(9, Timestamp::from_secs(100), 4).map(|s| s.count),
            Some(1)
        );
        assert_eq!(map.get(9).map(|s| s.count), Some(2));
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(stable_hash("ListBuckets"), stable_hash("ListBuckets"));
        assert_ne!(stable_hash("ListBuckets"), stable_hash("ListBucket"));
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
    }
}
