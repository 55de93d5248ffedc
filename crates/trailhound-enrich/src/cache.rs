use std::net::IpAddr;

use foldhash::HashMap;
use trailhound_core::Enrichment;

/// A bounded cache with approximate least-recently-used eviction: two generations; when the
/// young one is full it becomes the old one and the previous old one is dropped. A hit in the
/// old generation is promoted. Deterministic, O(1), no per-entry bookkeeping.
#[derive(Debug)]
pub(crate) struct IpCache {
    young: HashMap<IpAddr, Enrichment>,
    old: HashMap<IpAddr, Enrichment>,
    generation_size: usize,
}

impl IpCache {
    pub(crate) fn new(capacity: usize) -> Self {
        IpCache {
            young: HashMap::default(),
            old: HashMap::default(),
            generation_size: (capacity / 2).max(1),
        }
    }

    pub(crate) fn get(&mut self, ip: &IpAddr) -> Option<Enrichment> {
        if let Some(found) = self.young.get(ip) {
            return Some(found.clone());
        }
        let found = self.old.remove(ip)?;
        self.insert(*ip, found.clone());
        Some(found)
    }

    pub(crate) fn insert(&mut self, ip: IpAddr, value: Enrichment) {
        if self.young.len() >= self.generation_size {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(ip, value);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_promotes() {
        let mut cache = IpCache::new(4);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        cache.insert(
            a,
            Enrichment {
                asn: Some(1),
                ..Enrichment::default()
            },
        );
        for i in 2..20u8 {
            let ip: IpAddr = format!("192.0.2.{i}").parse().unwrap();
            cache.insert(ip, Enrichment::default());
            // Keep `a` hot.
            assert_eq!(cache.get(&a).and_then(|e| e.asn), Some(1));
            assert!(cache.len() <= 4);
        }
    }
}
