//! The text of a whole object that its events read their records from in place.
//!
//! A CloudTrail log file holds tens of records. Copying each record out of the inflated file
//! cost an allocation and a copy per event; instead the events of a file share its text
//! ([`Event::from_json_prefix_in`](crate::Event::from_json_prefix_in)), and the text's buffer
//! goes back to a [`DocumentPool`] when the last of them is dropped, so the next file is
//! inflated into warm memory rather than freshly faulted pages.

use std::sync::{Arc, Mutex};

/// One object's text, shared by the events read from it.
#[derive(Debug)]
pub struct Document {
    text: String,
    pool: Option<Arc<DocumentPool>>,
}

impl Document {
    /// A document whose buffer is freed with it.
    #[must_use]
    pub fn new(text: String) -> Document {
        Document { text, pool: None }
    }

    /// A document whose buffer goes back to `pool` when it is dropped.
    #[must_use]
    pub fn pooled(text: String, pool: &Arc<DocumentPool>) -> Document {
        Document {
            text,
            pool: Some(Arc::clone(pool)),
        }
    }

    /// The text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            pool.give(std::mem::take(&mut self.text).into_bytes());
        }
    }
}

/// Buffers of dropped [`Document`]s, kept for the next ones: at most `buffers` of them, none
/// larger than `max_capacity` bytes (a rare huge file's buffer is freed instead of holding its
/// memory for good).
#[derive(Debug)]
pub struct DocumentPool {
    free: Mutex<Vec<Vec<u8>>>,
    buffers: usize,
    max_capacity: usize,
}

impl DocumentPool {
    /// An empty pool that keeps up to `buffers` buffers of at most `max_capacity` bytes.
    #[must_use]
    pub fn new(buffers: usize, max_capacity: usize) -> DocumentPool {
        DocumentPool {
            free: Mutex::new(Vec::with_capacity(buffers)),
            buffers,
            max_capacity,
        }
    }

    /// A buffer to fill (its length is whatever it held before), or a new empty one.
    #[must_use]
    pub fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default()
    }

    /// Keeps `buffer` for a later [`DocumentPool::take`] when there is room for it.
    pub fn give(&self, buffer: Vec<u8>) {
        if buffer.capacity() == 0 || buffer.capacity() > self.max_capacity {
            return;
        }
        if let Ok(mut free) = self.free.lock()
            && free.len() < self.buffers
        {
            free.push(buffer);
        }
    }

    /// How many buffers wait in the pool.
    #[must_use]
    pub fn len(&self) -> usize {
        self.free.lock().map_or(0, |free| free.len())
    }

    /// True when no buffer waits in the pool.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_within_bounds() {
        let pool = Arc::new(DocumentPool::new(2, 64));
        let document = Document::pooled(String::from("{\"Records\":[]}"), &pool);
        assert!(pool.is_empty());
        drop(document);
        assert_eq!(pool.len(), 1);
        let buffer = pool.take();
        assert_eq!(buffer, b"{\"Records\":[]}");
        assert!(pool.is_empty() && pool.take().is_empty());
        // Too large, or the pool full: freed instead.
        drop(Document::pooled("x".repeat(65), &pool));
        assert!(pool.is_empty());
        for _ in 0..3 {
            drop(Document::pooled(String::from("a"), &pool));
        }
        assert_eq!(pool.len(), 2);
        // Without a pool nothing is kept.
        drop(Document::new(String::from("b")));
        assert_eq!(pool.len(), 2);
    }
}
