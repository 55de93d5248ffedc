//! The trailhound event and alert model. No I/O, no async.
//!
//! A CloudTrail record becomes an [`Event`]: its hot fields are parsed once into typed fields
//! (event name, source, time, identity, source address…), and the raw JSON text is kept so
//! that any other field (`requestParameters.bucketName`, `responseElements…`) can be reached
//! through [`Event::json`], parsed lazily on first use.
//!
//! ```
//! use trailhound_core::{Event, Origin};
//! let raw = r#"{"eventVersion":"1.08","eventTime":"2026-01-02T03:04:05Z",
//!   "eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging",
//!   "awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",
//!   "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice",
//!     "accountId":"123456789012","userName":"alice"},
//!   "eventID":"e1","recipientAccountId":"123456789012"}"#;
//! let event = Event::from_json(raw, Origin::new("inline", 0)).unwrap();
//! assert_eq!(event.event_name(), "StopLogging");
//! assert_eq!(event.principal_name(), "alice");
//! assert_eq!(event.event_time().to_string(), "2026-01-02T03:04:05Z");
//! ```

mod alert;
mod error;
mod event;
pub mod field;
mod hash;
pub mod rawjson;
mod time;

pub use alert::{Alert, AlertEvent, Entity, MAX_ALERT_EVENTS, RuleKind, RuleRef, Severity};
pub use error::{Error, Result};
pub use event::{
    Document, DocumentPool, Enrichment, Event, IdentityType, Origin, SessionIssuer, SourceAddress,
    TlsDetails, UserIdentity,
};
pub use hash::{event_id_hash, stable_hash_hex};
pub use time::Timestamp;

/// Interned-ish small string used for hot fields: most CloudTrail values (event names,
/// regions, account ids) fit inline and need no allocation.
pub type SmallStr = compact_str::CompactString;

/// A batch of decoded events from one source object, in the order they were read.
/// Batching amortises channel and dispatch costs.
#[derive(Debug, Clone, Default)]
pub struct EventBatch {
    /// The object the events were read from (path or `s3://` URL).
    pub source: std::sync::Arc<str>,
    /// The events.
    pub events: Vec<Event>,
}
