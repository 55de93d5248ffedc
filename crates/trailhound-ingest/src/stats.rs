//! Counters: what was read, and everything that was not, by reason.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Why a record or an object was not turned into events. Record-level reasons count records;
/// object-level reasons count objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Object: larger than the decompressed size cap (gzip bomb or oversized file).
    ObjectTooLarge,
    /// Object: the gzip stream ends early; the records inflated before the cut are read.
    TruncatedGzip,
    /// Object: starts with the gzip magic but is not valid gzip.
    CorruptGzip,
    /// Object: not JSON at all (text, CSV, binary), or JSON with no CloudTrail shape.
    NotJson,
    /// Object: another service's file in a shared bucket.
    OtherService,
    /// Object: could not be read (permissions, vanished).
    Unreadable,
    /// Record (or the rest of an object): invalid UTF-8.
    InvalidUtf8,
    /// Record (or the rest of an object): malformed JSON.
    MalformedJson,
    /// Record: larger than the record size cap.
    RecordTooLarge,
    /// Record: nested deeper than the depth cap.
    TooDeep,
    /// Record: a JSON value that is not a CloudTrail record (no eventTime/eventSource/eventName).
    NotCloudTrail,
    /// Record: an `eventTime` that is not a valid time.
    InvalidTime,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 12] = [
        Self::ObjectTooLarge,
        Self::TruncatedGzip,
        Self::CorruptGzip,
        Self::NotJson,
        Self::OtherService,
        Self::Unreadable,
        Self::InvalidUtf8,
        Self::MalformedJson,
        Self::RecordTooLarge,
        Self::TooDeep,
        Self::NotCloudTrail,
        Self::InvalidTime,
    ];

    /// The kebab-case name shown in summaries and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ObjectTooLarge => "object-too-large",
            Self::TruncatedGzip => "truncated-gzip",
            Self::CorruptGzip => "corrupt-gzip",
            Self::NotJson => "not-json",
            Self::OtherService => "other-service",
            Self::Unreadable => "unreadable",
            Self::InvalidUtf8 => "invalid-utf8",
            Self::MalformedJson => "malformed-json",
            Self::RecordTooLarge => "record-too-large",
            Self::TooDeep => "too-deep",
            Self::NotCloudTrail => "not-cloudtrail",
            Self::InvalidTime => "invalid-time",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters of one ingestion run (or one object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    /// Objects seen (files and stdin), including digests and skipped ones.
    pub files: u64,
    /// Bytes read from disk or stdin, as stored (compressed when gzip).
    pub bytes_read: u64,
    /// Bytes after decompression (equal to `bytes_read` for plain objects).
    pub bytes_inflated: u64,
    /// Records found (decoded or skipped).
    pub records: u64,
    /// Records decoded into events.
    pub events: u64,
    /// Digest files set aside for integrity checks (not read as events, not bad).
    pub digests: u64,
    /// Insights files read.
    pub insight_files: u64,
    /// Skipped objects and records, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
}

impl IngestStats {
    /// Counts `n` skips for `reason`.
    pub fn skip(&mut self, reason: SkipReason, n: u64) {
        *self.skipped.entry(reason).or_default() += n;
    }

    /// The count for one reason.
    #[must_use]
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped.get(&reason).copied().unwrap_or(0)
    }

    /// All skips, every reason together.
    #[must_use]
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Adds another run's (or object's) counters to these.
    pub fn merge(&mut self, other: &IngestStats) {
        self.files += other.files;
        self.bytes_read += other.bytes_read;
        self.bytes_inflated += other.bytes_inflated;
        self.records += other.records;
        self.events += other.events;
        self.digests += other.digests;
        self.insight_files += other.insight_files;
        for (reason, n) in &other.skipped {
            self.skip(*reason, *n);
        }
    }

    /// `reason=n` pairs, comma-separated, or `none`.
    #[must_use]
    pub fn skipped_summary(&self) -> String {
        if self.skipped.is_empty() {
            return "none".to_owned();
        }
        self.skipped
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
