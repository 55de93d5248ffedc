//! Raw-record blocks: the records of one append (and one day) are concatenated and compressed
//! together with zstd, which finds the repetition between CloudTrail records (the same keys,
//! ARNs and user agents over and over) that per-record compression cannot see.
//!
//! Block layout before compression: `count: u32 LE`, `count + 1` end offsets (`u32 LE`, the
//! first is 0), then the records' bytes back to back.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{Error, Result};

/// Encodes records into one compressed block.
pub(crate) fn encode_block<'a>(
    records: impl ExactSizeIterator<Item = &'a str>,
    level: i32,
) -> Result<Vec<u8>> {
    let records: Vec<&str> = records.collect();
    let total: usize = records.iter().map(|r| r.len()).sum();
    let mut plain = Vec::with_capacity(4 + 4 * (records.len() + 1) + total);
    let count = u32::try_from(records.len()).map_err(|_| Error::BlockTooLarge)?;
    plain.extend_from_slice(&count.to_le_bytes());
    let mut end: u32 = 0;
    plain.extend_from_slice(&end.to_le_bytes());
    for record in &records {
        let len = u32::try_from(record.len()).map_err(|_| Error::BlockTooLarge)?;
        end = end.checked_add(len).ok_or(Error::BlockTooLarge)?;
        plain.extend_from_slice(&end.to_le_bytes());
    }
    for record in &records {
        plain.extend_from_slice(record.as_bytes());
    }
    zstd::bulk::compress(&plain, level).map_err(|source| Error::Compress { source })
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
    #[cfg(test)]
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

struct RawReader {
    conn: Connection,
    cached: Option<(i64, Block)>,
}

impl RawReader {
    fn record(&mut self, block_id: i64, slot: usize) -> Result<Option<String>> {
        let hit = matches!(&self.cached, Some((id, _)) if *id == block_id);
        if !hit {
            let data: Option<Vec<u8>> = self
                .conn
                .query_row("SELECT data FROM blocks WHERE id = ?1", [block_id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|source| Error::Sql {
                    context: "reading a raw block",
                    source,
                })?;
            let Some(data) = data else { return Ok(None) };
            self.cached = Some((block_id, Block::decode(&data)?));
        }
        Ok(self
            .cached
            .as_ref()
            .and_then(|(_, b)| b.get(slot))
            .map(str::to_owned))
    }
}

/// Registers `raw_json(block_id, slot)` on `conn`: the record's JSON text, decompressed on
/// demand through a private read-only connection to `db` that caches the last block, so a
/// scan in storage order decompresses each block once.
pub(crate) fn register_raw_json(conn: &Connection, db: &Path) -> Result<()> {
    let reader = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| Error::Sql {
        context: "opening the raw reader",
        source,
    })?;
    let reader = Mutex::new(RawReader {
        conn: reader,
        cached: None,
    });
    conn.create_scalar_function(
        "raw_json",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let block: Option<i64> = ctx.get(0)?;
            let slot: Option<i64> = ctx.get(1)?;
            let (Some(block), Some(slot)) = (block, slot) else {
                return Ok(None);
            };
            let slot = usize::try_from(slot)
                .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
            let mut guard = reader.lock().map_err(|_| {
                rusqlite::Error::UserFunctionError("raw reader lock poisoned".into())
            })?;
            guard
                .record(block, slot)
                .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
        },
    )
    .map_err(|source| Error::Sql {
        context: "registering raw_json",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_round_trip() {
        let records = ["{\"a\":1}", "", "{\"b\":\"\u{e9}\"}"];
        let data = encode_block(records.iter().copied(), 3).unwrap();
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
