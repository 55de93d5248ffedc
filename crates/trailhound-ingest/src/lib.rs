//! Reading CloudTrail: files, directory trees (`AWSLogs/[o-…/]<acct>/CloudTrail/<region>/…`)
//! and stdin, in every shape AWS delivers it.
//!
//! - Format is told from content, never the name: gzip by its magic bytes (multi-member too),
//!   then `{"Records":[…]}`, a JSON array of records, a single record, or JSON lines.
//! - Each object is classified by key and content ([`ObjectClass`]): logs and Insights are
//!   read; digests are set aside for integrity checks; other services' files are skipped.
//! - Limits (decompressed object size, record size, nesting depth) and every unreadable piece
//!   are counted by [`SkipReason`] in [`IngestStats`]: nothing is dropped silently.
//! - Objects are decoded in parallel and delivered in input order ([`ingest`]).
//!
//! ```
//! use std::sync::Arc;
//! use trailhound_ingest::{IngestOptions, ObjectClass, Scratch, decode_object};
//! let text = br#"{"Records":[{"eventTime":"2026-01-15T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","eventID":"e1"}]}"#;
//! let decoded = decode_object(&Arc::from("inline"), ObjectClass::Log, text,
//!     &IngestOptions::default(), &mut Scratch::default());
//! assert_eq!(decoded.events[0].event_name(), "ListUsers");
//! assert_eq!(decoded.stats.events, 1);
//! ```

mod classify;
mod decode;
mod error;
mod gzip;
mod pipeline;
mod source;
mod stats;

pub use classify::{KeyInfo, ObjectClass, classify_path, name_timestamp, parse_key};
pub use decode::{Decoded, Scratch, decode_object};
pub use error::{Error, Result};
pub use gzip::{CappedGzReader, GZIP_MAGIC, InflateError, WholeInflater, inflate_into, is_gzip};
pub use pipeline::{IngestReport, ingest};
pub use source::{Input, ObjectReader, discover, sort_files};
pub use stats::{IngestStats, SkipReason};

/// Default cap on one object's size after decompression: 1 GiB.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 1 << 30;
/// Default cap on one record's size: 4 MiB (CloudTrail's own records stay far below).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 4 << 20;
/// Default cap on nesting depth of a record (the JSON parser's own limit is 128).
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Default of [`IngestOptions::pooled_bytes`]: enough for a steady hunt to inflate most
/// objects into warm memory (hundreds of CloudTrail files of tens of kilobytes, or a few of
/// megabytes), and a bounded 16 MiB per decoding thread.
pub const DEFAULT_POOLED_BYTES: usize = 16 << 20;

/// Limits and parallelism of ingestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOptions {
    /// Largest object, in bytes after decompression; larger ones are skipped as
    /// [`SkipReason::ObjectTooLarge`].
    pub max_object_bytes: u64,
    /// Largest record in bytes ([`SkipReason::RecordTooLarge`]).
    pub max_record_bytes: usize,
    /// Deepest nesting of objects and arrays in a record ([`SkipReason::TooDeep`]).
    pub max_depth: usize,
    /// Decoding threads (default: one per core, plus one).
    pub threads: usize,
    /// Objects decoded ahead of the consumer at most (back-pressure).
    pub in_flight: usize,
    /// Most events per delivered batch.
    pub batch_size: usize,
    /// Bytes of buffers, freed by documents whose events are all dropped, that each decoding
    /// thread keeps to inflate later objects into (default [`DEFAULT_POOLED_BYTES`]). A
    /// consumer that holds many events at once (the event store's batches) frees that many
    /// at once: a larger pool takes them back instead of the allocator handing their memory
    /// to the kernel, to be faulted in and zeroed again.
    pub pooled_bytes: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        // One decoding thread per core, plus one: a thread waiting for a file's bytes (page
        // cache misses on a cold tree) would otherwise leave its core idle. Measured on the
        // benchmark tree with two cores: 3 threads 6.55 s, 2 threads 7.07 s (BENCHMARKS.md).
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) + 1;
        IngestOptions {
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            threads,
            in_flight: threads * 16,
            batch_size: 1024,
            pooled_bytes: DEFAULT_POOLED_BYTES,
        }
    }
}
