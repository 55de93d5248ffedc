//! Any bytes as one object (gzip or plain, any JSON shape): decoding must never panic, and
//! every record found is either an event or a counted skip. Each event's resources are then
//! read the way policies read them (one pass over the raw text, no JSON tree), which must not
//! panic either and names only non-empty ids.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use trailhound_ingest::{IngestOptions, ObjectClass, Scratch, decode_object};

fuzz_target!(|data: &[u8]| {
    let options = IngestOptions {
        max_object_bytes: 8 << 20,
        max_record_bytes: 1 << 20,
        ..IngestOptions::default()
    };
    let source: Arc<str> = Arc::from("fuzz");
    let decoded = decode_object(
        &source,
        ObjectClass::Log,
        data,
        &options,
        &mut Scratch::default(),
    );
    assert_eq!(decoded.stats.events, decoded.events.len() as u64);
    assert!(decoded.stats.records >= decoded.stats.events);
    for event in &decoded.events {
        let ids = trailhound_detect::policy::resource_ids(event);
        assert!(ids.iter().all(|id| !id.is_empty()));
    }
});
