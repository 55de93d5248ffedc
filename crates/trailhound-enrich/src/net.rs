//! Helpers shared by the range sources: reading a source file, address normalisation, and
//! one table type per address family for prefixes and for ranges.

use std::hash::Hash;
use std::net::IpAddr;
use std::path::Path;

use foldhash::HashMap;

use crate::{Error, Result};

/// Reads a source file as text.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads a source file as bytes.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// An address as the sources index it: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is
/// its IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The integer form of an address family's addresses.
pub(crate) trait Bits: Copy + Ord + Hash {
    /// Keeps the first `len` bits.
    fn masked(self, len: u8) -> Self;
}

impl Bits for u32 {
    fn masked(self, len: u8) -> Self {
        self & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
    }
}

impl Bits for u128 {
    fn masked(self, len: u8) -> Self {
        self & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
    }
}

/// Networks of one family mapped to a value index, searched by longest prefix.
#[derive(Debug, Clone)]
pub(crate) struct PrefixTable<T> {
    /// (prefix length, network) → value index.
    map: HashMap<(u8, T), u32>,
    /// The prefix lengths present, longest first.
    lengths: Vec<u8>,
}

impl<T> Default for PrefixTable<T> {
    fn default() -> Self {
        PrefixTable {
            map: HashMap::default(),
            lengths: Vec::new(),
        }
    }
}

impl<T: Bits> PrefixTable<T> {
    /// Adds a network; with `keep_existing`, an equal prefix already present is not replaced.
    pub(crate) fn insert(&mut self, len: u8, network: T, index: u32, keep_existing: bool) {
        let key = (len, network.masked(len));
        if keep_existing && self.map.contains_key(&key) {
            return;
        }
        self.map.insert(key, index);
        if let Err(at) = self.lengths.binary_search_by(|l| len.cmp(l)) {
            self.lengths.insert(at, len);
        }
    }

    /// The value index of the longest prefix holding `address`.
    pub(crate) fn lookup(&self, address: T) -> Option<u32> {
        self.lengths
            .iter()
            .find_map(|&len| self.map.get(&(len, address.masked(len))).copied())
    }

    /// How many networks are held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// Inclusive address ranges of one family, each with a value, searched by binary search over
/// sorted, non-overlapping ranges.
#[derive(Debug, Clone)]
pub(crate) struct RangeTable<T, V> {
    ranges: Vec<(T, T, V)>,
}

impl<T, V> Default for RangeTable<T, V> {
    fn default() -> Self {
        RangeTable { ranges: Vec::new() }
    }
}

impl<T: Bits, V: Copy + Ord> RangeTable<T, V> {
    /// Adds a range (call [`RangeTable::sort`] before looking up).
    pub(crate) fn push(&mut self, start: T, end: T, value: V) {
        self.ranges.push((start, end, value));
    }

    /// Adds every range of `other`, mapping its values.
    pub(crate) fn extend_map(&mut self, other: RangeTable<T, V>, map: impl Fn(V) -> V) {
        self.ranges
            .extend(other.ranges.into_iter().map(|(s, e, v)| (s, e, map(v))));
        self.sort();
    }

    /// Sorts the ranges by start.
    pub(crate) fn sort(&mut self) {
        self.ranges.sort_unstable();
    }

    /// The value of the range holding `address`.
    pub(crate) fn lookup(&self, address: T) -> Option<V> {
        let after = self.ranges.partition_point(|r| r.0 <= address);
        let candidate = self.ranges.get(after.checked_sub(1)?)?;
        (address <= candidate.1).then_some(candidate.2)
    }

    /// How many ranges are held.
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_longest_prefix() {
        assert_eq!(0xC000_0201_u32.masked(24), 0xC000_0200);
        assert_eq!(0xC000_0201_u32.masked(0), 0);
        assert_eq!(0xC000_0201_u32.masked(32), 0xC000_0201);
        assert_eq!(u128::MAX.masked(0), 0);
        let mut t = PrefixTable::default();
        t.insert(8, 0x0A00_0000_u32, 1, false);
        t.insert(16, 0x0A01_0000, 2, false);
        t.insert(16, 0x0A01_0000, 3, true);
        assert_eq!(t.lookup(0x0A01_0203), Some(2));
        assert_eq!(t.lookup(0x0A02_0203), Some(1));
        assert_eq!(t.lookup(0x0B00_0000), None);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn ranges_and_mapped_addresses() {
        let mut r = RangeTable::default();
        r.push(20_u32, 29, 'b');
        r.push(10, 15, 'a');
        r.sort();
        assert_eq!(r.lookup(12), Some('a'));
        assert_eq!(r.lookup(16), None);
        assert_eq!(r.lookup(29), Some('b'));
        assert_eq!(r.lookup(5), None);
        assert_eq!(
            canonical("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
