//! What the store holds and what it costs on disk (`trailhound store stats`).

use serde::Serialize;
use trailhound_core::Timestamp;

use crate::{Result, Store, sql};

/// Events and bytes of one day partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayStats {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Stored events.
    pub events: u64,
    /// Raw JSON bytes of those events.
    pub raw_bytes: u64,
    /// Their compressed raw blocks, in bytes.
    pub compressed_bytes: u64,
}

/// Bytes of one table or index (from SQLite's `dbstat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableBytes {
    /// Table or index name.
    pub name: String,
    /// Bytes of its pages.
    pub bytes: u64,
}

/// A summary of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Stored events.
    pub events: u64,
    /// Raw blocks.
    pub blocks: u64,
    /// Raw JSON bytes of the stored events.
    pub raw_bytes: u64,
    /// Compressed raw blocks, in bytes.
    pub compressed_bytes: u64,
    /// Database files on disk, in bytes.
    pub disk_bytes: u64,
    /// Alerts.
    pub alerts: u64,
    /// Events kept only as per-minute counts.
    pub counted: u64,
    /// Strings in the dictionary.
    pub dictionary_strings: u64,
    /// The earliest stored event.
    pub first_event: Option<Timestamp>,
    /// The latest stored event.
    pub last_event: Option<Timestamp>,
    /// Per day, oldest first.
    pub days: Vec<DayStats>,
    /// Per table and index, largest first (only when asked for: it reads every page).
    pub tables: Vec<TableBytes>,
}

fn count(n: i64) -> u64 {
    n.max(0) as u64
}

impl Store {
    /// Counts and sizes; with `tables`, also the bytes of every table and index (reads the
    /// whole database).
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn stats(&self, tables: bool) -> Result<StoreStats> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT day, sum(n), sum(raw_bytes), sum(length(data)), min(t_min), max(t_max)
                 FROM blocks GROUP BY day ORDER BY day",
            )
            .map_err(sql("preparing day statistics"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(sql("reading day statistics"))?;
        let mut days = Vec::new();
        let (mut first, mut last): (Option<i64>, Option<i64>) = (None, None);
        for row in rows {
            let (day, events, raw, compressed, t_min, t_max) =
                row.map_err(sql("reading day statistics"))?;
            let (y, m, d, ..) = Timestamp::from_millis(day.saturating_mul(86_400_000)).parts();
            days.push(DayStats {
                date: format!("{y:04}-{m:02}-{d:02}"),
                events: count(events),
                raw_bytes: count(raw),
                compressed_bytes: count(compressed),
            });
            first = Some(first.map_or(t_min, |f| f.min(t_min)));
            last = Some(last.map_or(t_max, |l| l.max(t_max)));
        }
        let scalar = |statement: &str| -> Result<i64> {
            self.conn
                .query_row(statement, [], |r| r.get(0))
                .map_err(sql("reading store statistics"))
        };
        let tables = if tables {
            let mut stmt = self
                .conn
                .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC, 1")
                .map_err(sql("reading table sizes"))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(TableBytes {
                        name: r.get(0)?,
                        bytes: count(r.get(1)?),
                    })
                })
                .map_err(sql("reading table sizes"))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql("reading table sizes"))?
        } else {
            Vec::new()
        };
        Ok(StoreStats {
            events: days.iter().map(|d| d.events).sum(),
            blocks: count(scalar("SELECT count(*) FROM blocks")?),
            raw_bytes: days.iter().map(|d| d.raw_bytes).sum(),
            compressed_bytes: days.iter().map(|d| d.compressed_bytes).sum(),
            disk_bytes: self.disk_bytes(),
            alerts: count(scalar("SELECT count(*) FROM alerts")?),
            counted: count(scalar("SELECT coalesce(sum(n), 0) FROM event_counts")?),
            dictionary_strings: count(scalar("SELECT count(*) FROM dict")?),
            first_event: first.map(Timestamp::from_millis),
            last_event: last.map(Timestamp::from_millis),
            days,
            tables,
        })
    }
}
