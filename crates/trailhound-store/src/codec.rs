//! Raw-record blocks and the SQL functions that read them.
//!
//! The records of one block (one append, one day, at most [`crate::BLOCK_EVENTS`] events) are
//! concatenated and compressed together with zstd, which finds the repetition between
//! CloudTrail records (the same keys, ARNs and user agents over and over) that per-record
//! compression cannot see.
//!
//! Block layout before compression: `count: u32 LE`, `count + 1` end offsets (`u32 LE`, the
//! first is 0), then the records' bytes back to back.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::dict::Dict;
use crate::{Error, Result};

/// Encodes records into one compressed block.
#[cfg(test)]
pub(crate) fn encode_block(records: &[&str], level: i32) -> Result<Vec<u8>> {
    BlockEncoder::new(level)?.encode(records)
}

/// Encodes blocks with buffers and a zstd context kept from one block to the next: a block is
/// about 13 MB before compression, and allocating that, zstd's output bound and a context
/// afresh for every block touched fresh pages each time (about four million page faults in
/// a 10-million-event append).
pub(crate) struct BlockEncoder {
    plain: Vec<u8>,
    out: Vec<u8>,
    compressor: zstd::bulk::Compressor<'static>,
}

impl BlockEncoder {
    pub(crate) fn new(level: i32) -> Result<BlockEncoder> {
        let mut compressor =
            zstd::bulk::Compressor::new(level).map_err(|source| Error::Compress { source })?;
        if level <= 1 {
            // At the fast levels a smaller match table (2^12 entries where level 1 takes 2^14
            // for inputs this large) stays in the first-level cache: on a 14.6 MB block of
            // the bench tree, 2,085–2,159 → 2,742–2,843 MB/s for 3% more bytes (743,309 →
            // 765,623). Blocks are about two fifths of a store.
            compressor
                .set_parameter(zstd::zstd_safe::CParameter::HashLog(12))
                .map_err(|source| Error::Compress { source })?;
        }
        Ok(BlockEncoder {
            plain: Vec::new(),
            out: Vec::new(),
            compressor,
        })
    }

    /// Encodes `records` into one compressed block.
    #[cfg(test)]
    pub(crate) fn encode(&mut self, records: &[&str]) -> Result<Vec<u8>> {
        self.start(records)?;
        for record in records {
            self.push(record);
        }
        self.finish()
    }

    /// Starts a block of `records`: its header (the count and where each record ends). The
    /// records themselves follow with [`BlockEncoder::push`], in the same order, and
    /// [`BlockEncoder::finish`] compresses the block.
    pub(crate) fn start(&mut self, records: &[&str]) -> Result<()> {
        let total: usize = records.iter().map(|r| r.len()).sum();
        let plain = &mut self.plain;
        plain.clear();
        plain.reserve(4 + 4 * (records.len() + 1) + total);
        let count = u32::try_from(records.len()).map_err(|_| Error::BlockTooLarge)?;
        plain.extend_from_slice(&count.to_le_bytes());
        let mut end: u32 = 0;
        plain.extend_from_slice(&end.to_le_bytes());
        for record in records {
            let len = u32::try_from(record.len()).map_err(|_| Error::BlockTooLarge)?;
            end = end.checked_add(len).ok_or(Error::BlockTooLarge)?;
            plain.extend_from_slice(&end.to_le_bytes());
        }
        Ok(())
    }

    /// Adds the next record of the block [`BlockEncoder::start`] began.
    pub(crate) fn push(&mut self, record: &str) {
        self.plain.extend_from_slice(record.as_bytes());
    }

    /// Compresses the block.
    pub(crate) fn finish(&mut self) -> Result<Vec<u8>> {
        self.out.clear();
        self.out
            .reserve(zstd::zstd_safe::compress_bound(self.plain.len()));
        let written = self
            .compressor
            .compress_to_buffer(&self.plain, &mut self.out)
            .map_err(|source| Error::Compress { source })?;
        Ok(self.out.get(..written).unwrap_or(&self.out).to_vec())
    }
}

/// A decompressed block: record `i` is `body[ends[i]..ends[i + 1]]`.
#[derive(Debug)]
pub(crate) struct Block {
    ends: Vec<u32>,
    body: Vec<u8>,
}

impl Block {
    /// Decompresses and splits a block.
    pub(crate) fn decode(data: &[u8]) -> Result<Block> {
        let plain = zstd::stream::decode_all(data).map_err(|source| Error::Compress { source })?;
        let word = |i: usize| -> Result<u32> {
            plain
                .get(i * 4..i * 4 + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
                .ok_or(Error::CorruptBlock)
        };
        let count = word(0)? as usize;
        let ends = (0..=count)
            .map(|i| word(1 + i))
            .collect::<Result<Vec<u32>>>()?;
        let start = 4 * (count + 2);
        let body = plain.get(start..).ok_or(Error::CorruptBlock)?.to_vec();
        if ends.last().copied().unwrap_or(0) as usize != body.len() {
            return Err(Error::CorruptBlock);
        }
        Ok(Block { ends, body })
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.ends.len().saturating_sub(1)
    }

    /// Record `slot` as text.
    pub(crate) fn get(&self, slot: usize) -> Option<&str> {
        let start = *self.ends.get(slot)? as usize;
        let end = *self.ends.get(slot + 1)? as usize;
        std::str::from_utf8(self.body.get(start..end)?).ok()
    }
}

/// Reads raw records by event row id through its own read-only connection, caching the
/// last decompressed block.
pub(crate) struct RawReader {
    conn: Connection,
    cached: Option<(i64, Block)>,
    /// The last block located by [`RawReader::block_of`]: (first row, events).
    span: Option<(i64, i64)>,
}

impl RawReader {
    fn open(db: &Path) -> Result<RawReader> {
        let conn = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| Error::Sql {
            context: "opening the raw reader",
            source,
        })?;
        Ok(RawReader {
            conn,
            cached: None,
            span: None,
        })
    }

    /// Forgets the cached block (after blocks were deleted).
    pub(crate) fn clear(&mut self) {
        self.cached = None;
        self.span = None;
    }

    /// The raw record of event row `row`, `None` when no block holds it.
    pub(crate) fn record(&mut self, row: i64) -> Result<Option<String>> {
        let hit = matches!(&self.cached, Some((first, b)) if *first <= row && row < *first + b.len() as i64);
        if !hit {
            let found: Option<(i64, i64, Vec<u8>)> = self
                .conn
                .query_row(
                    "SELECT id, n, data FROM blocks WHERE id <= ?1 ORDER BY id DESC LIMIT 1",
                    [row],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(|source| Error::Sql {
                    context: "reading a raw block",
                    source,
                })?;
            let Some((first, n, data)) = found else {
                return Ok(None);
            };
            if row >= first + n {
                return Ok(None);
            }
            self.cached = Some((first, Block::decode(&data)?));
        }
        Ok(self.cached.as_ref().and_then(|(first, b)| {
            usize::try_from(row - first)
                .ok()
                .and_then(|slot| b.get(slot))
                .map(str::to_owned)
        }))
    }

    /// The first row id of the block holding row `row`.
    pub(crate) fn block_of(&mut self, row: i64) -> Result<Option<i64>> {
        if let Some((first, b)) = &self.cached
            && *first <= row
            && row < *first + b.len() as i64
        {
            return Ok(Some(*first));
        }
        if let Some((first, n)) = self.span
            && first <= row
            && row < first + n
        {
            return Ok(Some(first));
        }
        let found: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT id, n FROM blocks WHERE id <= ?1 ORDER BY id DESC LIMIT 1",
                [row],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|source| Error::Sql {
                context: "finding a raw block",
                source,
            })?;
        let Some((first, n)) = found.filter(|(first, n)| row < first + n) else {
            return Ok(None);
        };
        self.span = Some((first, n));
        Ok(Some(first))
    }

    /// The string of dictionary id `id`, read from the database.
    fn string(&self, id: i64) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT s FROM dict WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|source| Error::Sql {
                context: "reading a dictionary string",
                source,
            })
    }
}

fn user_error(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(e))
}

/// The `eventID` of a raw record as the store keys it: the field, else a hash of the text.
pub(crate) fn event_id_from_raw(raw: &str) -> String {
    #[derive(serde::Deserialize)]
    struct IdOnly<'a> {
        #[serde(rename = "eventID", borrow, default)]
        event_id: Option<std::borrow::Cow<'a, str>>,
    }
    match serde_json::from_str::<IdOnly<'_>>(raw) {
        Ok(IdOnly { event_id: Some(id) }) if !id.is_empty() => id.into_owned(),
        _ => trailhound_core::stable_hash_hex(&[raw]),
    }
}

/// Registers on `conn`:
/// - `raw_json(id)`: the raw record of event row `id`, decompressed on demand through a
///   private read-only connection that caches the last block, so a scan in storage order
///   decompresses each block once;
/// - `raw_json(block, slot)`: the same by block and position (`block + slot` is the row);
/// - `th_event_id(id)`: the `eventID` of event row `id`, read from its raw record;
/// - `th_block(id)`: the block holding event row `id`;
/// - `th_str(id)`: the string of dictionary id `id` (the typed columns hold ids).
///
/// Returns the reader so the writer can clear its cache after deleting blocks.
pub(crate) fn register_functions(
    conn: &Connection,
    db: &Path,
    dict: Arc<RwLock<Dict>>,
) -> Result<Arc<Mutex<RawReader>>> {
    let reader = Arc::new(Mutex::new(RawReader::open(db)?));
    let raw_reader = Arc::clone(&reader);
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("raw_json", 1, flags, move |ctx| {
        let Some(row) = ctx.get::<Option<i64>>(0)? else {
            return Ok(None);
        };
        let mut guard = raw_reader
            .lock()
            .map_err(|_| rusqlite::Error::UserFunctionError("raw reader lock poisoned".into()))?;
        guard.record(row).map_err(user_error)
    })
    .map_err(|source| Error::Sql {
        context: "registering raw_json",
        source,
    })?;
    let pair_reader = Arc::clone(&reader);
    conn.create_scalar_function("raw_json", 2, flags, move |ctx| {
        let (Some(block), Some(slot)) = (ctx.get::<Option<i64>>(0)?, ctx.get::<Option<i64>>(1)?)
        else {
            return Ok(None);
        };
        let mut guard = pair_reader
            .lock()
            .map_err(|_| rusqlite::Error::UserFunctionError("raw reader lock poisoned".into()))?;
        guard.record(block.saturating_add(slot)).map_err(user_error)
    })
    .map_err(|source| Error::Sql {
        context: "registering raw_json",
        source,
    })?;
    let id_reader = Arc::clone(&reader);
    conn.create_scalar_function("th_event_id", 1, flags, move |ctx| {
        let Some(row) = ctx.get::<Option<i64>>(0)? else {
            return Ok(None);
        };
        let mut guard = id_reader
            .lock()
            .map_err(|_| rusqlite::Error::UserFunctionError("raw reader lock poisoned".into()))?;
        Ok(guard
            .record(row)
            .map_err(user_error)?
            .map(|raw| event_id_from_raw(&raw)))
    })
    .map_err(|source| Error::Sql {
        context: "registering th_event_id",
        source,
    })?;
    let block_reader = Arc::clone(&reader);
    conn.create_scalar_function("th_block", 1, flags, move |ctx| {
        let Some(row) = ctx.get::<Option<i64>>(0)? else {
            return Ok(None);
        };
        let mut guard = block_reader
            .lock()
            .map_err(|_| rusqlite::Error::UserFunctionError("raw reader lock poisoned".into()))?;
        guard.block_of(row).map_err(user_error)
    })
    .map_err(|source| Error::Sql {
        context: "registering th_block",
        source,
    })?;
    let str_reader = Arc::clone(&reader);
    conn.create_scalar_function("th_str", 1, flags, move |ctx| {
        let Some(id) = ctx.get::<Option<i64>>(0)? else {
            return Ok(None);
        };
        {
            let dict = dict.read().map_err(|_| {
                rusqlite::Error::UserFunctionError("dictionary lock poisoned".into())
            })?;
            if let Some(s) = dict.get(id) {
                return Ok(Some(s.to_string()));
            }
        }
        // An id committed by another writer after this connection loaded the dictionary.
        let guard = str_reader
            .lock()
            .map_err(|_| rusqlite::Error::UserFunctionError("raw reader lock poisoned".into()))?;
        let s = guard.string(id).map_err(user_error)?;
        if let Some(s) = &s
            && let Ok(mut dict) = dict.write()
        {
            dict.learn(id, s);
        }
        Ok(s)
    })
    .map_err(|source| Error::Sql {
        context: "registering th_str",
        source,
    })?;
    Ok(reader)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_round_trip() {
        let records = ["{\"a\":1}", "", "{\"b\":\"\u{e9}\"}"];
        let data = encode_block(&records, 3).unwrap();
        let block = Block::decode(&data).unwrap();
        assert_eq!(block.len(), 3);
        assert_eq!(block.get(0), Some("{\"a\":1}"));
        assert_eq!(block.get(1), Some(""));
        assert_eq!(block.get(2), Some("{\"b\":\"\u{e9}\"}"));
        assert_eq!(block.get(3), None);
    }

    #[test]
    fn corrupt_block_is_an_error() {
        let data = zstd::bulk::compress(&[9, 0, 0, 0, 1], 1).unwrap();
        assert!(matches!(Block::decode(&data), Err(Error::CorruptBlock)));
    }
}
