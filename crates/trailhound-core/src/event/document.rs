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

/// Buffers of dropped [`Document`]s, kept for the next ones while their capacities add up to
/// at most `max_bytes`; a buffer larger than an eighth of that (a rare huge file's) is freed
/// instead of holding its memory for good. Small files leave many buffers, large files few.
#[derive(Debug)]
pub struct DocumentPool {
    free: Mutex<Pooled>,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Pooled {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl DocumentPool {
    /// An empty pool that keeps buffers of up to `max_bytes` in all.
    #[must_use]
    pub fn new(max_bytes: usize) -> DocumentPool {
        DocumentPool {
            free: Mutex::new(Pooled::default()),
            max_bytes,
        }
    }

    /// A buffer to fill (its length is whatever it held before), or a new empty one.
    #[must_use]
    pub fn take(&self) -> Vec<u8> {
        self.take_at_least(0)
    }

    /// The smallest buffer that holds at least `capacity` bytes (of those as small, the one
    /// given back last; its length is whatever it held before), or a new empty one. Taking
    /// one that fits, rather than the last one given, matters: a buffer too small for the
    /// next object would be freed and a larger one allocated, and memory freed and allocated
    /// again is memory the allocator hands back to the kernel and faults in (and zeroes)
    /// again. The smallest that fits leaves the large ones for large objects.
    #[must_use]
    pub fn take_at_least(&self, capacity: usize) -> Vec<u8> {
        let Ok(mut free) = self.free.lock() else {
            return Vec::new();
        };
        let Some((at, _)) = free
            .buffers
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(|(_, b)| b.capacity())
        else {
            return Vec::new();
        };
        let buffer = free.buffers.swap_remove(at);
        free.bytes -= buffer.capacity();
        buffer
    }

    /// Keeps `buffer` for a later [`DocumentPool::take`] when there is room for it.
    pub fn give(&self, buffer: Vec<u8>) {
        let size = buffer.capacity();
        if size == 0 || size > self.max_bytes / 8 {
            return;
        }
        if let Ok(mut free) = self.free.lock()
            && free.bytes + size <= self.max_bytes
        {
            free.bytes += size;
            free.buffers.push(buffer);
        }
    }

    /// How many buffers wait in the pool.
    #[must_use]
    pub fn len(&self) -> usize {
        self.free.lock().map_or(0, |free| free.buffers.len())
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
        let pool = Arc::new(DocumentPool::new(8 * 64));
        let document = Document::pooled(String::from("{\"Records\":[]}"), &pool);
        assert!(pool.is_empty());
        drop(document);
        assert_eq!(pool.len(), 1);
        let buffer = pool.take();
        assert_eq!(buffer, b"{\"Records\":[]}");
        assert!(pool.is_empty() && pool.take().is_empty());
        // The smallest of those large enough; none large enough: a new one.
        for capacity in [16, 48, 32, 40] {
            drop(Document::pooled(String::with_capacity(capacity), &pool));
        }
        assert_eq!(pool.take_at_least(49).capacity(), 0);
        assert_eq!(pool.take_at_least(20).capacity(), 32);
        assert_eq!(pool.take_at_least(20).capacity(), 40);
        assert_eq!(pool.take_at_least(0).capacity(), 16);
        assert_eq!(pool.take().capacity(), 48);
        assert!(pool.is_empty());
        // Larger than an eighth of the pool: freed instead.
        drop(Document::pooled("x".repeat(65), &pool));
        assert!(pool.is_empty());
        // Kept while the capacities fit in the pool's bytes.
        for _ in 0..9 {
            drop(Document::pooled(String::with_capacity(64), &pool));
        }
        assert_eq!(pool.len(), 8);
        drop(pool.take());
        drop(Document::pooled(String::with_capacity(64), &pool));
        assert_eq!(pool.len(), 8);
        // Without a pool nothing is kept.
        drop(Document::new(String::from("b")));
        assert_eq!(pool.len(), 8);
    }
}
