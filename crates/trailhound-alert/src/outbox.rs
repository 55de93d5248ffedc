//! The durable outbox: SQLite in WAL mode.
//!
//! Every output is committed here (with `synchronous = FULL`, so the commit is on disk)
//! before any sink is tried. Each routed sink gets a delivery row; a worker claims a row by
//! moving its `next_ms` forward by a lease (so two processes on one outbox do not deliver one
//! row at once, and a process killed mid-delivery leaves a row that becomes due again when
//! the lease runs out), then marks it delivered, or schedules the retry. SQLite rather than
//! a hand-rolled log: commits are atomic (no torn records to repair after a crash), per-sink
//! acknowledgement is an indexed row update, and `trailhound alerts status` can read while
//! a hunt or the daemon writes.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::{Error, Result};

/// The outbox database file name inside the state directory.
pub const OUTBOX_FILE: &str = "outbox.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    sink TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_ms INTEGER,
    PRIMARY KEY (sink, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (sink, state, next_ms);
";

/// One message to deliver.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Outbox sequence number.
    pub seq: i64,
    /// Message id (receivers drop duplicates by it).
    pub message_id: String,
    /// `alert` or `update`.
    pub kind: String,
    /// The alert JSON.
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// Delivery counts of one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkStatus {
    /// Sink name.
    pub sink: String,
    /// Delivered.
    pub delivered: u64,
    /// Not yet delivered (includes retrying).
    pub pending: u64,
    /// Pending after at least one failed attempt.
    pub retrying: u64,
    /// Given up (`retry.max_attempts` reached, or a permanent error such as HTTP 404).
    pub failed: u64,
    /// The most recent error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The outbox.
#[derive(Debug)]
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

/// Milliseconds since the Unix epoch, wall clock (delivery scheduling only).
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Outbox {
    /// Opens (creating) the outbox in `dir`.
    ///
    /// # Errors
    /// The directory or database cannot be created or opened.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: "outbox directory",
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(OUTBOX_FILE);
        let conn = Connection::open(&path).map_err(|source| Error::Outbox {
            path: path.clone(),
            source,
        })?;
        let outbox = Outbox { conn, path };
        outbox.wrap(outbox.conn.busy_timeout(std::time::Duration::from_secs(30)))?;
        outbox.wrap(outbox.conn.pragma_update(None, "journal_mode", "WAL"))?;
        outbox.wrap(outbox.conn.pragma_update(None, "synchronous", "FULL"))?;
        outbox.wrap(outbox.conn.execute_batch(SCHEMA))?;
        Ok(outbox)
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn wrap<T>(&self, result: rusqlite::Result<T>) -> Result<T> {
        result.map_err(|source| Error::Outbox {
            path: self.path.clone(),
            source,
        })
    }

    /// Commits messages and their deliveries, durably, in one transaction. Returns the
    /// sequence numbers.
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn enqueue(
        &mut self,
        messages: &[(crate::process::Output, String, Vec<String>)],
    ) -> Result<Vec<i64>> {
        let path = self.path.clone();
        let wrap = |source| Error::Outbox {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let mut seqs = Vec::with_capacity(messages.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO messages (message_id, alert_id, kind, rule, severity, created_ms, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(wrap)?;
            let mut route = tx
                .prepare_cached("INSERT OR IGNORE INTO deliveries (sink, seq) VALUES (?1, ?2)")
                .map_err(wrap)?;
            for (output, body, sinks) in messages {
                insert
                    .execute(params![
                        output.message_id(),
                        output.alert.id,
                        output.kind.as_str(),
                        output.alert.rule.id,
                        output.alert.severity.as_str(),
                        now_ms(),
                        body
                    ])
                    .map_err(wrap)?;
                let seq = tx.last_insert_rowid();
                for sink in sinks {
                    route.execute(params![sink, seq]).map_err(wrap)?;
                }
                seqs.push(seq);
            }
        }
        tx.commit().map_err(wrap)?;
        Ok(seqs)
    }

    /// Up to `limit` deliveries of `sink` due at `now`, oldest first.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn due(&self, sink: &str, now: i64, limit: usize) -> Result<Vec<Pending>> {
        let mut stmt = self.wrap(self.conn.prepare_cached(
            "SELECT d.seq, m.message_id, m.kind, m.body, d.attempts FROM deliveries d
             JOIN messages m ON m.seq = d.seq
             WHERE d.sink = ?1 AND d.state = 'pending' AND d.next_ms <= ?2
             ORDER BY d.seq LIMIT ?3",
        ))?;
        let rows = self.wrap(stmt.query_map(params![sink, now, limit as i64], |row| {
            Ok(Pending {
                seq: row.get(0)?,
                message_id: row.get(1)?,
                kind: row.get(2)?,
                body: row.get(3)?,
                attempts: row.get(4)?,
            })
        }))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(self.wrap(row)?);
        }
        Ok(out)
    }

    /// The earliest `next_ms` of a pending delivery of `sink`.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn next_due(&self, sink: &str) -> Result<Option<i64>> {
        self.wrap(
            self.conn
                .query_row(
                    "SELECT min(next_ms) FROM deliveries WHERE sink = ?1 AND state = 'pending'",
                    params![sink],
                    |row| row.get::<_, Option<i64>>(0),
                )
                .optional(),
        )
        .map(Option::flatten)
    }

    /// Claims a due delivery until `lease_until`; false when another worker has it or it is
    /// done.
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn claim(&self, sink: &str, seq: i64, now: i64, lease_until: i64) -> Result<bool> {
        let changed = self.wrap(self.conn.execute(
            "UPDATE deliveries SET next_ms = ?4
             WHERE sink = ?1 AND seq = ?2 AND state = 'pending' AND next_ms <= ?3",
            params![sink, seq, now, lease_until],
        ))?;
        Ok(changed == 1)
    }

    /// Marks a delivery done.
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn delivered(&self, sink: &str, seq: i64) -> Result<()> {
        self.wrap(self.conn.execute(
            "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, done_ms = ?3, last_error = NULL
             WHERE sink = ?1 AND seq = ?2",
            params![sink, seq, now_ms()],
        ))?;
        Ok(())
    }

    /// Records a failed attempt: retry at `next_ms`, or `failed` when `give_up`.
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn failed(
        &self,
        sink: &str,
        seq: i64,
        error: &str,
        next_ms: i64,
        give_up: bool,
    ) -> Result<()> {
        let state = if give_up { "failed" } else { "pending" };
        self.wrap(self.conn.execute(
            "UPDATE deliveries SET state = ?3, attempts = attempts + 1, next_ms = ?4, last_error = ?5
             WHERE sink = ?1 AND seq = ?2",
            params![sink, seq, state, next_ms, error],
        ))?;
        Ok(())
    }

    /// Puts failed deliveries (of one sink, or all) back to pending, due now. Returns how many.
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn retry_failed(&self, sink: Option<&str>) -> Result<u64> {
        let n = self.wrap(self.conn.execute(
            "UPDATE deliveries SET state = 'pending', next_ms = 0
             WHERE state = 'failed' AND (?1 IS NULL OR sink = ?1)",
            params![sink],
        ))?;
        Ok(n as u64)
    }

    /// Delivery counts per sink (every sink with a row, plus `sinks` with none).
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn status(&self, sinks: &[String]) -> Result<Vec<SinkStatus>> {
        let mut stmt = self.wrap(self.conn.prepare(
            "SELECT sink,
                    sum(state = 'delivered'), sum(state = 'pending'),
                    sum(state = 'pending' AND attempts > 0), sum(state = 'failed')
             FROM deliveries GROUP BY sink ORDER BY sink",
        ))?;
        let rows = self.wrap(stmt.query_map([], |row| {
            Ok(SinkStatus {
                sink: row.get(0)?,
                delivered: row.get::<_, i64>(1)? as u64,
                pending: row.get::<_, i64>(2)? as u64,
                retrying: row.get::<_, i64>(3)? as u64,
                failed: row.get::<_, i64>(4)? as u64,
                last_error: None,
            })
        }))?;
        let mut out: Vec<SinkStatus> = Vec::new();
        for row in rows {
            out.push(self.wrap(row)?);
        }
        for sink in sinks {
            if !out.iter().any(|s| &s.sink == sink) {
                out.push(SinkStatus {
                    sink: sink.clone(),
                    ..SinkStatus::default()
                });
            }
        }
        for status in &mut out {
            status.last_error = self.wrap(
                self.conn
                    .query_row(
                        "SELECT last_error FROM deliveries WHERE sink = ?1 AND last_error IS NOT NULL
                         AND state != 'delivered' ORDER BY seq DESC LIMIT 1",
                        params![status.sink],
                        |row| row.get::<_, String>(0),
                    )
                    .optional(),
            )?;
        }
        out.sort_by(|a, b| a.sink.cmp(&b.sink));
        Ok(out)
    }

    /// Messages in the outbox.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn message_count(&self) -> Result<u64> {
        self.wrap(
            self.conn
                .query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0)),
        )
        .map(|n| n as u64)
    }

    /// Removes delivered rows older than `older_than_ms` and messages left with no delivery.
    ///
    /// # Errors
    /// The database cannot be written.
    pub fn prune(&self, older_than_ms: i64) -> Result<u64> {
        let n = self.wrap(self.conn.execute(
            "DELETE FROM deliveries WHERE state = 'delivered' AND done_ms < ?1",
            params![older_than_ms],
        ))?;
        self.wrap(self.conn.execute(
            "DELETE FROM messages WHERE created_ms < ?1
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = messages.seq)",
            params![older_than_ms],
        ))?;
        Ok(n as u64)
    }
}
