//! Turning the bytes of one object into events: gzip or plain, `{"Records":[…]}`, a JSON
//! array, a single record, or JSON lines, all told from content.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use trailhound_core::{Document, DocumentPool, Event, Origin};

use crate::classify::ObjectClass;
use crate::gzip::{self, InflateError};
use crate::{IngestOptions, IngestStats, SkipReason};

/// The events of one object, and what happened while reading it.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The events, in the order of the records in the object.
    pub events: Vec<Event>,
    /// This object's counters (`files` is 1).
    pub stats: IngestStats,
    /// True when the object was recognised as a digest file (set aside, not read).
    pub digest: bool,
}

/// Reusable buffers for decoding many objects on one thread.
#[derive(Debug)]
pub struct Scratch {
    inflated: Vec<u8>,
    whole: gzip::WholeInflater,
    /// Buffers of documents whose events are all gone (see [`Document`]).
    documents: Arc<DocumentPool>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::with_pool(crate::DEFAULT_POOLED_BYTES)
    }
}

impl Scratch {
    /// Scratch whose pool keeps up to `pooled_bytes` of dropped documents' buffers (see
    /// [`DocumentPool`] and [`crate::IngestOptions::pooled_bytes`]).
    #[must_use]
    pub fn with_pool(pooled_bytes: usize) -> Scratch {
        Scratch {
            inflated: Vec::new(),
            whole: gzip::WholeInflater::default(),
            documents: Arc::new(DocumentPool::new(pooled_bytes)),
        }
    }
}

/// Decodes one object read into memory. `class` comes from the object's key
/// ([`crate::classify_path`]); digests and other services' files are not decoded.
#[must_use]
pub fn decode_object(
    source: &Arc<str>,
    class: ObjectClass,
    bytes: &[u8],
    options: &IngestOptions,
    scratch: &mut Scratch,
) -> Decoded {
    let mut decoder = ObjectDecoder {
        source,
        options,
        out: Decoded::default(),
        truncated: false,
        document: None,
    };
    decoder.out.stats.files = 1;
    decoder.out.stats.bytes_read = bytes.len() as u64;
    match class {
        ObjectClass::Digest => {
            decoder.out.digest = true;
            decoder.out.stats.digests = 1;
            return decoder.out;
        }
        ObjectClass::Other => {
            decoder.skip_object(SkipReason::OtherService, "another service's file");
            return decoder.out;
        }
        ObjectClass::Insight => decoder.out.stats.insight_files = 1,
        ObjectClass::Log => {}
    }
    // When the buffer at hand is too small for the size the object states, a pooled one
    // that holds it (or none: inflating allocates), and the one at hand goes back to the pool.
    if let Some(size) = gzip::declared_size(bytes)
        && scratch.inflated.capacity() < size
        && (size as u64) <= options.max_object_bytes
    {
        let fits = scratch.documents.take_at_least(size);
        scratch
            .documents
            .give(std::mem::replace(&mut scratch.inflated, fits));
    }
    if let Some(len) = scratch
        .whole
        .inflate(bytes, options.max_object_bytes, &mut scratch.inflated)
    {
        decoder.out.stats.bytes_inflated = len as u64;
        let mut inflated = std::mem::take(&mut scratch.inflated);
        inflated.truncate(len);
        match String::from_utf8(inflated) {
            // The usual case: the events read their records in place, and the buffer comes
            // back to the pool when the last of them is dropped.
            Ok(text) => {
                let document = Arc::new(Document::pooled(text, &scratch.documents));
                decoder.document = Some(Arc::clone(&document));
                decoder.decode_text(document.text().as_bytes());
            }
            Err(e) => {
                scratch
                    .documents
                    .give(std::mem::replace(&mut scratch.inflated, e.into_bytes()));
                decoder.decode_text(&scratch.inflated);
            }
        }
    } else if gzip::is_gzip(bytes) {
        let result = gzip::inflate_into(bytes, options.max_object_bytes, &mut scratch.inflated);
        decoder.out.stats.bytes_inflated = scratch.inflated.len() as u64;
        match result {
            Ok(()) => {}
            Err(InflateError::TooLarge) => {
                decoder.skip_object(SkipReason::ObjectTooLarge, "inflated size exceeds the cap");
                return decoder.out;
            }
            Err(InflateError::Truncated) => {
                decoder.skip_object(SkipReason::TruncatedGzip, "gzip stream ends early");
                decoder.truncated = true;
            }
            Err(InflateError::Corrupt) => {
                decoder.skip_object(SkipReason::CorruptGzip, "invalid gzip data");
                decoder.truncated = true;
            }
        }
        decoder.decode_text(&scratch.inflated);
    } else {
        decoder.out.stats.bytes_inflated = bytes.len() as u64;
        if bytes.len() as u64 > options.max_object_bytes {
            decoder.skip_object(SkipReason::ObjectTooLarge, "object size exceeds the cap");
            return decoder.out;
        }
        decoder.decode_text(bytes);
    }
    decoder.out
}

struct ObjectDecoder<'a> {
    source: &'a Arc<str>,
    options: &'a IngestOptions,
    out: Decoded,
    /// The text ends early (truncated gzip): an error at its very end is expected.
    truncated: bool,
    /// The object's whole text, when it is valid UTF-8 that events may share.
    document: Option<Arc<Document>>,
}

/// What the top level of a JSON document looked like.
#[derive(Default)]
struct Shape {
    records_key: bool,
    digest_keys: u32,
}

impl ObjectDecoder<'_> {
    fn skip_object(&mut self, reason: SkipReason, detail: &str) {
        if reason == SkipReason::OtherService {
            // Expected in a shared bucket: counted, not worth a warning.
            tracing::debug!(source = %self.source, %reason, "{detail}");
        } else {
            tracing::warn!(source = %self.source, %reason, "{detail}");
        }
        self.out.stats.skip(reason, 1);
    }

    fn skip_record(&mut self, reason: SkipReason, index: u32, detail: &dyn fmt::Display) {
        tracing::debug!(source = %self.source, index, %reason, "skipped record: {detail}");
        self.out.stats.records += 1;
        self.out.stats.skip(reason, 1);
    }

    fn decode_text(&mut self, bytes: &[u8]) {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let Some(start) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
            return; // empty object: no records, nothing dropped
        };
        match bytes[start] {
            b'[' => self.decode_document(&bytes[start..], false),
            b'{' if looks_like_json_lines(&bytes[start..]) => self.decode_lines(&bytes[start..]),
            b'{' => self.decode_document(&bytes[start..], true),
            _ => self.skip_object(SkipReason::NotJson, "content is not JSON"),
        }
    }

    /// `{"Records":[…]}`, a digest, a single record, or `[…]`.
    fn decode_document(&mut self, bytes: &[u8], object: bool) {
        let document = self.document.clone();
        let shared = document.as_ref().and_then(|d| {
            let at = offset_in(d.text(), bytes)?;
            d.text().get(at..at + bytes.len()).map(|text| (d, at, text))
        });
        let (text, bad_utf8) = match shared.map_or_else(|| std::str::from_utf8(bytes), |s| Ok(s.2))
        {
            Ok(text) => (text, false),
            Err(e) => {
                // Read the good records before the bad byte; the rest is counted once.
                self.skip_object(SkipReason::InvalidUtf8, "invalid UTF-8");
                (
                    std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
                    true,
                )
            }
        };
        if object
            && !bad_utf8
            && let Some(records) = self.fast_records(text, shared.map(|(d, at, _)| (d, at)))
        {
            for (index, raw, event) in records {
                let depth = event.as_ref().ok().and_then(Event::nesting_depth);
                self.record_with(raw, index, depth, move || event);
            }
            return;
        }
        let mut raws: Vec<&RawValue> = Vec::new();
        let mut shape = Shape::default();
        let mut de = serde_json::Deserializer::from_str(text);
        let result = if object {
            TopLevel {
                out: &mut raws,
                shape: &mut shape,
            }
            .deserialize(&mut de)
        } else {
            shape.records_key = true;
            RecordList { out: &mut raws }.deserialize(&mut de)
        };
        let result = result.and_then(|()| de.end());
        if let Err(error) = &result {
            let at_cut = (self.truncated || bad_utf8) && error.is_eof();
            if object && !shape.records_key && raws.is_empty() && multi_line(text) && !at_cut {
                // A first line that is broken JSON: this is JSON lines, read it line by line.
                return self.decode_lines(bytes);
            }
            if !at_cut {
                let reason = json_reason(error);
                tracing::warn!(source = %self.source, %reason, "{error}");
                self.out.stats.skip(reason, 1);
            }
        }
        if shape.records_key {
            for (index, raw) in raws.iter().enumerate() {
                self.record(raw.get(), u32::try_from(index).unwrap_or(u32::MAX));
            }
        } else if shape.digest_keys >= 2 {
            self.out.digest = true;
            self.out.stats.digests = 1;
            self.out.stats.insight_files = 0;
        } else if result.is_ok() {
            self.record(text.trim(), 0);
        }
    }

    fn decode_lines(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        let mut line_no = 0u32;
        while !rest.is_empty() {
            line_no = line_no.saturating_add(1);
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None if self.truncated => break, // the cut-off last line is the truncation
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            let line = trim_ascii(line);
            if line.is_empty() {
                continue;
            }
            if line.len() > self.options.max_record_bytes {
                self.skip_record(
                    SkipReason::RecordTooLarge,
                    line_no,
                    &format_args!("{} bytes", line.len()),
                );
                continue;
            }
            let text = match std::str::from_utf8(line) {
                Ok(text) => text,
                Err(e) => {
                    self.skip_record(SkipReason::InvalidUtf8, line_no, &e);
                    continue;
                }
            };
            if text.starts_with("{\"Records\"") {
                // A whole log file on one line (concatenated exports).
                self.decode_document(line, true);
                continue;
            }
            self.record(text, line_no);
        }
    }

    /// The single-pass reader for the shape CloudTrail writes, `{"Records":[{…},…]}`: each
    /// record is split off and its fields decoded in the same scan. `None` when the text is
    /// anything else or some record is not readable JSON; the general path then reads the
    /// whole text again and reports exactly what is wrong, so results never depend on which
    /// path ran.
    #[allow(clippy::type_complexity)]
    fn fast_records<'t>(
        &self,
        text: &'t str,
        document: Option<(&Arc<Document>, usize)>,
    ) -> Option<Vec<(u32, &'t str, trailhound_core::Result<Event>)>> {
        let mut rest = skip_ws(text).strip_prefix('{')?;
        rest = skip_ws(rest).strip_prefix("\"Records\"")?;
        rest = skip_ws(rest).strip_prefix(':')?;
        rest = skip_ws(rest).strip_prefix('[')?;
        rest = skip_ws(rest);
        let mut out = Vec::with_capacity(text.len() / 1024 + 1);
        if let Some(after) = rest.strip_prefix(']') {
            rest = after;
        } else {
            loop {
                let index = u32::try_from(out.len()).unwrap_or(u32::MAX);
                let origin = Origin::new(Arc::clone(self.source), index);
                let (len, event) = match document {
                    // `rest` is the end of `text`, which starts `at` bytes into the document.
                    Some((document, at)) => {
                        let offset = at + (text.len() - rest.len());
                        Event::from_json_prefix_in(document, offset, origin).ok()?
                    }
                    None => Event::from_json_prefix(rest, origin).ok()?,
                };
                let (raw, after) = rest.split_at_checked(len)?;
                out.push((index, raw, event));
                rest = skip_ws(after);
                if let Some(after) = rest.strip_prefix(',') {
                    rest = skip_ws(after);
                } else {
                    rest = rest.strip_prefix(']')?;
                    break;
                }
            }
        }
        rest = skip_ws(rest).strip_prefix('}')?;
        skip_ws(rest).is_empty().then_some(out)
    }

    fn record(&mut self, raw: &str, index: u32) {
        let source = self.source;
        self.record_with(raw, index, None, || {
            Event::from_json(raw, Origin::new(Arc::clone(source), index))
        });
    }

    /// Keeps or skips one record: the size and depth limits first, then `decode`'s verdict.
    /// `depth` is the record's nesting depth when the decoder already measured it.
    fn record_with(
        &mut self,
        raw: &str,
        index: u32,
        depth: Option<usize>,
        decode: impl FnOnce() -> trailhound_core::Result<Event>,
    ) {
        if raw.len() > self.options.max_record_bytes {
            self.skip_record(
                SkipReason::RecordTooLarge,
                index,
                &format_args!("{} bytes", raw.len()),
            );
            return;
        }
        let too_deep = match depth {
            Some(depth) => depth > self.options.max_depth,
            None => exceeds_depth(raw.as_bytes(), self.options.max_depth),
        };
        if too_deep {
            self.skip_record(
                SkipReason::TooDeep,
                index,
                &format_args!("deeper than {}", self.options.max_depth),
            );
            return;
        }
        match decode() {
            Ok(event) => {
                self.out.stats.records += 1;
                self.out.stats.events += 1;
                self.out.events.push(event);
            }
            Err(error) => {
                let reason = match &error {
                    trailhound_core::Error::Json { source } => json_reason(source),
                    trailhound_core::Error::Time { .. } => SkipReason::InvalidTime,
                    _ => SkipReason::NotCloudTrail,
                };
                self.skip_record(reason, index, &error);
            }
        }
    }
}

/// Where `part` starts in `document`, when it is a slice of it.
fn offset_in(document: &str, part: &[u8]) -> Option<usize> {
    let base = document.as_ptr() as usize;
    let at = (part.as_ptr() as usize).checked_sub(base)?;
    (at + part.len() <= document.len()).then_some(at)
}

/// The skip reason for a JSON parse error.
fn json_reason(error: &serde_json::Error) -> SkipReason {
    let message = error.to_string();
    if message.starts_with("recursion limit exceeded") {
        SkipReason::TooDeep
    } else if message.contains("unicode") || message.contains("UTF-8") {
        SkipReason::InvalidUtf8
    } else if error.is_data() {
        SkipReason::NotCloudTrail
    } else {
        SkipReason::MalformedJson
    }
}

/// True when the first line is a complete JSON value and more non-blank text follows it.
fn looks_like_json_lines(bytes: &[u8]) -> bool {
    let Some(at) = memchr::memchr(b'\n', bytes) else {
        return false;
    };
    let (first, rest) = (trim_ascii(&bytes[..at]), &bytes[at + 1..]);
    rest.iter().any(|b| !b.is_ascii_whitespace())
        && first.ends_with(b"}")
        && serde_json::from_slice::<IgnoredAny>(first).is_ok()
}

fn skip_ws(text: &str) -> &str {
    text.trim_ascii_start()
}

fn multi_line(text: &str) -> bool {
    text.trim().contains('\n')
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// True when the JSON text nests objects/arrays deeper than `max`. Counting the opening
/// brackets first (fast, vectorised) skips the exact scan for almost every record.
fn exceeds_depth(bytes: &[u8], max: usize) -> bool {
    if memchr::memchr2_iter(b'{', b'[', bytes).count() <= max {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Collects the elements of a JSON array as borrowed raw texts. Elements read before an error
/// stay in `out`.
struct RecordList<'v, 'a> {
    out: &'v mut Vec<&'a RawValue>,
}

impl<'de, 'v> DeserializeSeed<'de> for RecordList<'v, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, 'v> Visitor<'de> for RecordList<'v, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            self.out.push(raw);
        }
        Ok(())
    }
}

/// The top level of an object document: finds `Records`, notes digest keys, and otherwise
/// only validates (the caller keeps the whole text as a single record).
struct TopLevel<'v, 'a> {
    out: &'v mut Vec<&'a RawValue>,
    shape: &'v mut Shape,
}

impl<'de, 'v> DeserializeSeed<'de> for TopLevel<'v, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, 'v> Visitor<'de> for TopLevel<'v, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail log object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "Records" => {
                    self.shape.records_key = true;
                    map.next_value_seed(RecordList {
                        out: &mut *self.out,
                    })?;
                }
                "digestStartTime"
                | "digestEndTime"
                | "logFiles"
                | "digestS3Bucket"
                | "previousDigestSignature"
                | "digestPublicKeyFingerprint" => {
                    self.shape.digest_keys += 1;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rec(id: u32, name: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.09","eventTime":"2026-01-15T10:{:02}:00Z","eventSource":"ec2.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012"}},"eventID":"ev-{id}","recipientAccountId":"123456789012"}}"#,
            id % 60
        )
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn records_share_their_document_and_its_buffer_comes_back() {
        let body = format!("{{\"Records\":[{},{}]}}", rec(1, "A"), rec(2, "B"));
        let object = gz(body.as_bytes());
        let mut scratch = Scratch::default();
        let source: Arc<str> = Arc::from("t");
        let options = IngestOptions::default();
        let first = decode_object(&source, ObjectClass::Log, &object, &options, &mut scratch);
        assert_eq!(first.events.len(), 2);
        assert!(first.events.iter().all(Event::shares_document));
        assert_eq!(first.events[1].raw(), rec(2, "B"));
        // Still held by its events: nothing comes back yet.
        let second = decode_object(&source, ObjectClass::Log, &object, &options, &mut scratch);
        assert!(scratch.documents.is_empty());
        drop(first);
        // The first document's buffer is back, and the next object is inflated into it.
        assert_eq!(scratch.documents.len(), 1);
        let third = decode_object(&source, ObjectClass::Log, &object, &options, &mut scratch);
        assert!(scratch.documents.is_empty());
        assert_eq!(third.events[0].raw(), rec(1, "A"));
        assert_eq!(second.events[0].raw(), rec(1, "A"));
        drop((second, third));
        assert_eq!(scratch.documents.len(), 2);
        // A plain (not gzip) object is read from the caller's bytes: copies.
        let plain = run(body.as_bytes());
        assert!(!plain.events.iter().any(Event::shares_document));
    }

    fn run(bytes: &[u8]) -> Decoded {
        run_with(bytes, &IngestOptions::default())
    }

    fn run_with(bytes: &[u8], options: &IngestOptions) -> Decoded {
        decode_object(
            &Arc::from("t"),
            ObjectClass::Log,
            bytes,
            options,
            &mut Scratch::default(),
        )
    }

    fn ids(d: &Decoded) -> Vec<&str> {
        d.events.iter().map(Event::event_id).collect()
    }

    #[test]
    fn records_document() {
        let doc = format!(r#"{{"Records":[{},{}]}}"#, rec(1, "A"), rec(2, "B"));
        let d = run(doc.as_bytes());
        assert_eq!(ids(&d), ["ev-1", "ev-2"]);
        assert_eq!(d.events[1].origin().to_string(), "t#1");
        assert_eq!(d.stats.skipped_total(), 0);
        let g = run(&gz(doc.as_bytes()));
        assert_eq!(ids(&g), ["ev-1", "ev-2"]);
        assert_eq!(g.stats.bytes_inflated, doc.len() as u64);
    }

    /// What a decode produced: events (raw text, origin) and counters but for byte counts.
    fn summary(d: &Decoded) -> (Vec<(String, String)>, String) {
        let events = d
            .events
            .iter()
            .map(|e| (e.raw().to_owned(), e.origin().to_string()))
            .collect();
        let mut stats = d.stats.clone();
        (stats.bytes_read, stats.bytes_inflated) = (0, 0);
        (events, format!("{stats:?}"))
    }

    #[test]
    fn single_pass_matches_the_general_reader() {
        // The same records once as CloudTrail writes them (single pass) and once with an
        // extra top-level key first (general reader): identical events and counters,
        // including a non-CloudTrail element, a bad time and an oversized record.
        let big = format!(
            r#"{{"eventTime":"2026-01-15T10:00:00Z","eventSource":"s","eventName":"n","pad":"{}"}}"#,
            "x".repeat(600)
        );
        let body = [
            rec(1, "A"),
            r#"{"a":{"b":[1,{"c":"]}"}]}}"#.to_owned(),
            rec(2, "B").replace("2026-01-15T10:02:00Z", "yesterday"),
            big,
            rec(3, "C"),
        ]
        .join(" ,\n ");
        let fast = format!("\n{{ \"Records\" : [ {body} ] }}\n");
        let general = format!(r#"{{"x":1,"Records":[{body}]}}"#);
        let options = IngestOptions {
            max_record_bytes: 500,
            ..IngestOptions::default()
        };
        let (a, b) = (
            run_with(fast.as_bytes(), &options),
            run_with(general.as_bytes(), &options),
        );
        assert_eq!(ids(&a), ["ev-1", "ev-3"]);
        assert_eq!(a.events[1].origin().index, 4);
        assert_eq!(summary(&a), summary(&b));
        assert_eq!(a.stats.skipped(SkipReason::NotCloudTrail), 1);
        assert_eq!(a.stats.skipped(SkipReason::InvalidTime), 1);
        assert_eq!(a.stats.skipped(SkipReason::RecordTooLarge), 1);
        // A record of the wrong shape mid-file: the general reader decides, as before.
        let odd = format!(
            r#"{{"Records":[{},{{"eventTime":"2026-01-15T10:00:00Z","userIdentity":"root"}},{}]}}"#,
            rec(4, "D"),
            rec(5, "E")
        );
        let d = run(odd.as_bytes());
        assert_eq!(ids(&d), ["ev-4", "ev-5"]);
        assert_eq!(d.stats.skipped(SkipReason::NotCloudTrail), 1);
        assert_eq!(run(br#"{"Records":[]}"#).stats.skipped_total(), 0);
    }

    #[test]
    fn array_single_and_lines() {
        let arr = format!("[{},\n{}]", rec(1, "A"), rec(2, "B"));
        assert_eq!(ids(&run(arr.as_bytes())), ["ev-1", "ev-2"]);
        let single = rec(3, "C");
        assert_eq!(ids(&run(single.as_bytes())), ["ev-3"]);
        let lines = format!("{}\n\n{}\n", rec(4, "D"), rec(5, "E"));
        let d = run(lines.as_bytes());
        assert_eq!(ids(&d), ["ev-4", "ev-5"]);
        assert_eq!(
            d.events[1].origin().index,
            3,
            "json lines keep the 1-based line number"
        );
    }

    #[test]
    fn pretty_single_record_is_not_json_lines() {
        let v: serde_json::Value = serde_json::from_str(&rec(6, "F")).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(ids(&run(pretty.as_bytes())), ["ev-6"]);
    }

    #[test]
    fn malformed_line_among_good_lines() {
        let text = format!(
            "{{\"eventTime\": broken\n{}\n{{oops\n{}\n",
            rec(1, "A"),
            rec(2, "B")
        );
        let d = run(text.as_bytes());
        assert_eq!(ids(&d), ["ev-1", "ev-2"]);
        assert_eq!(d.stats.skipped(SkipReason::MalformedJson), 2);
    }

    #[test]
    fn broken_records_array_keeps_good_prefix() {
        let doc = format!(
            r#"{{"Records":[{},{},{{"eventTime": nope"#,
            rec(1, "A"),
            rec(2, "B")
        );
        let d = run(doc.as_bytes());
        assert_eq!(ids(&d), ["ev-1", "ev-2"]);
        assert_eq!(d.stats.skipped(SkipReason::MalformedJson), 1);
    }

    #[test]
    fn truncated_gzip_reads_prefix() {
        let lines: String = (0..3000).map(|i| rec(i, "A") + "\n").collect();
        let data = gz(lines.as_bytes());
        let d = run(&data[..data.len() / 2]);
        assert_eq!(d.stats.skipped(SkipReason::TruncatedGzip), 1);
        assert_eq!(
            d.stats.skipped(SkipReason::MalformedJson),
            0,
            "the cut line is the truncation"
        );
        assert!(d.events.len() > 100);
        assert_eq!(d.events[0].event_id(), "ev-0");
    }

    #[test]
    fn bad_utf8() {
        let mut text = format!("{}\n", rec(1, "A")).into_bytes();
        text.extend(b"{\"eventName\":\"\xff\xfe\"}\n");
        text.extend(format!("{}\n", rec(2, "B")).into_bytes());
        let d = run(&text);
        assert_eq!(ids(&d), ["ev-1", "ev-2"]);
        assert_eq!(d.stats.skipped(SkipReason::InvalidUtf8), 1);

        let mut doc = format!(r#"{{"Records":[{},"#, rec(1, "A")).into_bytes();
        doc.extend(b"{\"x\":\"\xff\"}]}");
        let d = run(&doc);
        assert_eq!(ids(&d), ["ev-1"]);
        assert_eq!(d.stats.skipped(SkipReason::InvalidUtf8), 1);
    }

    #[test]
    fn not_cloudtrail() {
        let d = run(b"timestamp,elb,client\n2026-01-15,a,b\n");
        assert_eq!(d.stats.skipped(SkipReason::NotJson), 1);
        let d = run(br#"{"Records":[{"a":1}]}"#);
        assert_eq!(d.stats.skipped(SkipReason::NotCloudTrail), 1);
        let d = run(br#"{"hello":"world"}"#);
        assert_eq!(d.stats.skipped(SkipReason::NotCloudTrail), 1);
        let time = rec(1, "A").replace("2026-01-15T10:01:00Z", "yesterday");
        assert_eq!(
            run(time.as_bytes()).stats.skipped(SkipReason::InvalidTime),
            1
        );
    }

    #[test]
    fn digest_shape_is_set_aside() {
        let digest = br#"{"awsAccountId":"123456789012","digestStartTime":"2026-01-15T09:00:00Z","digestEndTime":"2026-01-15T10:00:00Z","logFiles":[]}"#;
        let d = run(digest);
        assert!(d.digest);
        assert_eq!(d.stats.digests, 1);
        assert_eq!(d.stats.skipped_total(), 0);
        assert!(d.events.is_empty());
    }

    #[test]
    fn deep_nesting_is_too_deep() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let record = rec(2, "B").replacen('{', &format!(r#"{{"requestParameters":{deep},"#), 1);
        let lines = format!("{}\n{record}\n{}\n", rec(1, "A"), rec(3, "C"));
        let d = run(lines.as_bytes());
        assert_eq!(ids(&d), ["ev-1", "ev-3"]);
        assert_eq!(d.stats.skipped(SkipReason::TooDeep), 1);
        let doc = format!(
            r#"{{"Records":[{},{record},{}]}}"#,
            rec(1, "A"),
            rec(3, "C")
        );
        let d = run(doc.as_bytes());
        assert_eq!(ids(&d), ["ev-1", "ev-3"]);
        assert_eq!(d.stats.skipped(SkipReason::TooDeep), 1);
        // Brackets inside strings do not count.
        let quoted =
            rec(4, "D").replacen('{', &format!(r#"{{"userAgent":"{}","#, "[".repeat(500)), 1);
        assert_eq!(ids(&run(quoted.as_bytes())), ["ev-4"]);
    }

    #[test]
    fn huge_string_is_too_large() {
        let big = "x".repeat(50 << 20);
        let record = rec(2, "B").replacen('{', &format!(r#"{{"userAgent":"{big}","#), 1);
        let doc = format!(
            r#"{{"Records":[{},{record},{}]}}"#,
            rec(1, "A"),
            rec(3, "C")
        );
        let d = run(&gz(doc.as_bytes()));
        assert_eq!(ids(&d), ["ev-1", "ev-3"]);
        assert_eq!(d.stats.skipped(SkipReason::RecordTooLarge), 1);
    }

    #[test]
    fn gzip_bomb_is_capped() {
        // 1 GiB of zeros when inflated: 16 gzip members of 64 MiB each (about 1 MB compressed).
        let member = gz(&vec![0u8; 64 << 20]);
        let bomb: Vec<u8> = member
            .iter()
            .copied()
            .cycle()
            .take(member.len() * 16)
            .collect();
        let options = IngestOptions {
            max_object_bytes: 16 << 20,
            ..IngestOptions::default()
        };
        let d = run_with(&bomb, &options);
        assert_eq!(d.stats.skipped(SkipReason::ObjectTooLarge), 1);
        assert_eq!(d.stats.bytes_inflated, 16 << 20);
        assert!(d.events.is_empty());
    }

    #[test]
    fn other_and_digest_classes_are_not_read() {
        let opts = IngestOptions::default();
        let d = decode_object(
            &Arc::from("t"),
            ObjectClass::Other,
            b"x",
            &opts,
            &mut Scratch::default(),
        );
        assert_eq!(d.stats.skipped(SkipReason::OtherService), 1);
        let d = decode_object(
            &Arc::from("t"),
            ObjectClass::Digest,
            b"x",
            &opts,
            &mut Scratch::default(),
        );
        assert!(d.digest);
    }
}
