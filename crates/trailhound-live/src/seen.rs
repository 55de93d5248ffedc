//! A bounded set of recently seen event identities (`eventID` + account).

use std::collections::{HashSet, VecDeque};

/// Remembers the last `capacity` identities; the oldest are forgotten first.
#[derive(Debug, Default)]
pub struct SeenSet {
    set: HashSet<Box<str>>,
    order: VecDeque<Box<str>>,
    capacity: usize,
}

impl SeenSet {
    /// An empty set holding at most `capacity` identities.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        SeenSet {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// The identity key of an event id and account.
    #[must_use]
    pub fn key(event_id: &str, account: &str) -> Box<str> {
        let mut key = String::with_capacity(event_id.len() + account.len() + 1);
        key.push_str(account);
        key.push('\u{1f}');
        key.push_str(event_id);
        key.into_boxed_str()
    }

    /// Whether `key` was seen.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.set.contains(key)
    }

    /// Records `key`; returns false when it was already there.
    pub fn insert(&mut self, key: Box<str>) -> bool {
        if self.capacity == 0 || self.set.contains(&key) {
            return self.capacity == 0;
        }
        if self.order.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(key.clone());
        self.set.insert(key);
        true
    }

    /// How many identities are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// True when nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_ordered() {
        let mut seen = SeenSet::new(2);
        assert!(seen.insert(SeenSet::key("e1", "123456789012")));
        assert!(!seen.insert(SeenSet::key("e1", "123456789012")));
        assert!(seen.insert(SeenSet::key("e1", "111122223333")));
        assert!(seen.insert(SeenSet::key("e2", "123456789012")));
        assert_eq!(seen.len(), 2);
        assert!(!seen.contains(&SeenSet::key("e1", "123456789012")));
        assert!(seen.contains(&SeenSet::key("e2", "123456789012")));
    }
}
