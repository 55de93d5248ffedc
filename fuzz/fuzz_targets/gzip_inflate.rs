//! Any bytes through the capped gzip decoder: it must stop at the cap, report truncation or
//! corruption as an error, and never panic. `inflate_into` and the streaming reader must agree,
//! and the whole-object inflater (libdeflate), when it takes the bytes at all, must give what
//! they give.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use trailhound_ingest::{CappedGzReader, InflateError, WholeInflater, inflate_into};

/// Small enough that a short bomb in the input reaches it.
const CAP: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut whole = Vec::new();
    let result = inflate_into(data, CAP, &mut whole);
    assert!(whole.len() as u64 <= CAP, "inflated past the cap");

    let mut streamed = Vec::new();
    let mut reader = CappedGzReader::new(data, CAP);
    let mut buf = [0u8; 777];
    let stream_result = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => streamed.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    assert!(streamed.len() as u64 <= CAP, "streamed past the cap");
    assert_eq!(
        result.is_ok(),
        stream_result.is_ok(),
        "{result:?} vs {stream_result:?}"
    );
    if result.is_ok() {
        assert_eq!(whole, streamed);
    }
    if result == Err(InflateError::TooLarge) {
        assert_eq!(whole.len() as u64, CAP);
    }
    let mut out = vec![0xAA; 64];
    if let Some(n) = WholeInflater::default().inflate(data, CAP, &mut out) {
        assert!(result.is_ok(), "whole inflater took what the decoder rejects: {result:?}");
        assert_eq!(&out[..n], whole.as_slice());
    }
});
