//! The embedded event and alert store.
//!
//! One SQLite database (`DIR/trailhound.db`, WAL mode) holds:
//! - `event_rows`: one row per event with the CloudTrail hot fields as typed columns; repeated
//!   strings (source, region, account, principal, key, session, IP, user agent, error…) are
//!   integer ids into `dict`, so a row is about 50 bytes;
//! - `blocks`: the raw records, zstd-compressed in blocks of up to [`BLOCK_EVENTS`] events of
//!   one day; a block's id is the row id of its first event, so event `id` is record
//!   `id - block` of its block;
//! - `block_terms`: per block, a Bloom filter of the words of its records (the search index);
//! - `ids`: (event time, hash of `eventID`, account) → row, the idempotence check; keyed by
//!   time first so that an append's keys land next to each other in the B-tree, instead of
//!   all over it (random keys made every append rewrite most of the index at 10M events);
//! - `events`: a view over `event_rows` with the strings resolved and the JSON columns `raw`,
//!   `request_parameters`, `response_elements`, `additional_event_data`,
//!   `service_event_details` (decompressed on demand by the `raw_json(id)` SQL function);
//! - `event_counts`: per-minute counts of events kept only as counts (see [`StoreOptions`]);
//! - `alerts` and `alert_events`: alerts with their triage status.
//!
//! ```no_run
//! use trailhound_store::Store;
//! let mut store = Store::open("trailhound-data")?;
//! let rows = store.query("SELECT event_name, count(*) FROM events GROUP BY 1")?;
//! # Ok::<(), trailhound_store::Error>(())
//! ```

mod codec;
mod dict;
mod export;
mod search;
mod stats;
mod terms;
mod triage;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Event, Timestamp, stable_hash_hex};

pub use export::{ExportFormat, ExportSummary};
pub use search::{Count, EventRow, Pivot, PivotKind, SearchQuery};
pub use stats::{DayStats, StoreStats, TableBytes};
pub use triage::{
    AlertFilter, AlertPage, AlertSort, AlertSummary, Bucket, Overview, SuppressionRecord,
    TriageAction, TriageEntry, TriageStatus,
};

/// The database file name inside the store directory.
pub const DB_FILE: &str = "trailhound.db";

/// The most events in one raw block.
pub const BLOCK_EVENTS: usize = 8192;

/// The store format written by this version (`PRAGMA user_version`).
const FORMAT: i64 = 4;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A SQLite call failed.
    #[error("{context}: {source}")]
    Sql {
        /// What was being done.
        context: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A filesystem call failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// zstd compression or decompression failed.
    #[error("compressing raw records: {source}")]
    Compress {
        /// The zstd error.
        #[source]
        source: std::io::Error,
    },
    /// A raw block is larger than 4 GiB.
    #[error("a raw block is larger than 4 GiB")]
    BlockTooLarge,
    /// A raw block does not decode.
    #[error("corrupt raw block")]
    CorruptBlock,
    /// The database was written by another version of the store.
    #[error(
        "{path} is in store format {found}, this version reads format {FORMAT}: a format 2 or 3 store is upgraded by the first command that writes to it (e.g. `trailhound hunt --store`); move an older one away and ingest again"
    )]
    Format {
        /// The database.
        path: PathBuf,
        /// Its format.
        found: i64,
    },
    /// A statement given to [`Store::query`] would change the store.
    #[error("only read-only statements are allowed: {sql}")]
    NotReadOnly {
        /// The statement.
        sql: String,
    },
    /// A field filter names an unknown column.
    #[error("unknown field {field} (known: {known})")]
    UnknownField {
        /// The field given.
        field: String,
        /// The fields that can be filtered on.
        known: String,
    },
    /// A search had no searchable word.
    #[error("nothing to search for in {text:?}")]
    EmptySearch {
        /// The text given.
        text: String,
    },
    /// Serialising an alert or a row failed.
    #[error("encoding JSON: {source}")]
    Json {
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// Writing Parquet failed.
    #[error("writing parquet {path}: {source}")]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The parquet error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An alert status that is not open, acknowledged or closed.
    #[error("unknown alert status {0:?} (open, acknowledged, closed)")]
    UnknownStatus(String),
    /// No alert with that id.
    #[error("no alert with id {0}")]
    NoSuchAlert(String),
    /// A lock guarding shared state was poisoned by a panic.
    #[error("a store lock was poisoned")]
    Poisoned,
    /// A worker thread compressing blocks panicked.
    #[error("a block compression worker failed")]
    Worker,
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn sql(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |source| Error::Sql { context, source }
}

/// Options applied before events are stored.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Keep read-only data events (`managementEvent: false`, `readOnly: true`, e.g. S3
    /// `GetObject`) only as per-minute counts in `event_counts`, not as rows.
    pub read_only_data_as_counts: bool,
    /// zstd level for raw blocks (1–22; 1 is fastest and, on blocks of thousands of
    /// CloudTrail records, about as small as 3).
    pub zstd_level: i32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            read_only_data_as_counts: false,
            zstd_level: 1,
        }
    }
}

/// An inclusive-exclusive time window; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    /// Events at or after this instant.
    pub since: Option<Timestamp>,
    /// Events before this instant.
    pub until: Option<Timestamp>,
}

impl TimeRange {
    fn bounds(self) -> (i64, i64) {
        (
            self.since.map_or(i64::MIN, Timestamp::as_millis),
            self.until.map_or(i64::MAX, Timestamp::as_millis),
        )
    }
}

/// What one [`Store::append_events`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AppendSummary {
    /// Events stored as new rows.
    pub stored: u64,
    /// Events already in the store (same event id and account) or repeated in the batch.
    pub duplicates: u64,
    /// Events kept only as per-minute counts.
    pub counted: u64,
}

/// The result of a SQL query: column names and rows of JSON values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, one value per column.
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// An alert's triage status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Not looked at yet.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Done.
    Closed,
}

impl AlertStatus {
    /// The status as stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }
}

impl std::str::FromStr for AlertStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "open" => Ok(AlertStatus::Open),
            "acknowledged" | "ack" => Ok(AlertStatus::Acknowledged),
            "closed" => Ok(AlertStatus::Closed),
            other => Err(Error::UnknownStatus(other.to_owned())),
        }
    }
}

/// A change to an alert's triage fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AlertUpdate {
    /// New status.
    pub status: Option<AlertStatus>,
    /// New note.
    pub note: Option<String>,
    /// New assignee.
    pub assignee: Option<String>,
}

/// A stored alert with its triage fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAlert {
    /// The alert as raised.
    pub alert: Alert,
    /// Triage status.
    pub status: AlertStatus,
    /// Free-text note.
    pub note: Option<String>,
    /// Who owns it.
    pub assignee: Option<String>,
    /// Who changed it last.
    pub updated_by: Option<String>,
    /// When it was changed last.
    pub updated_at: Option<Timestamp>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dict (
    id INTEGER PRIMARY KEY,
    s TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS blocks (
    id INTEGER PRIMARY KEY,
    day INTEGER NOT NULL,
    n INTEGER NOT NULL,
    t_min INTEGER NOT NULL,
    t_max INTEGER NOT NULL,
    raw_bytes INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_day ON blocks(day);
CREATE TABLE IF NOT EXISTS block_terms (
    block INTEGER PRIMARY KEY,
    filter BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS event_rows (
    id INTEGER PRIMARY KEY,
    t INTEGER NOT NULL,
    event_name TEXT NOT NULL,
    source INTEGER NOT NULL,
    region INTEGER,
    account INTEGER NOT NULL,
    principal INTEGER,
    pkey INTEGER,
    itype INTEGER,
    uname INTEGER,
    akey INTEGER,
    session INTEGER,
    ip INTEGER,
    ua INTEGER,
    err INTEGER,
    errmsg INTEGER,
    ro INTEGER,
    mgmt INTEGER,
    etype INTEGER,
    country INTEGER,
    asn INTEGER,
    org INTEGER,
    cloud INTEGER
);
CREATE INDEX IF NOT EXISTS event_rows_name ON event_rows(event_name);
CREATE TABLE IF NOT EXISTS principal_runs (
    pkey INTEGER NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    day INTEGER NOT NULL,
    t_min INTEGER NOT NULL,
    t_max INTEGER NOT NULL,
    PRIMARY KEY (pkey, first)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ids (
    t INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    account INTEGER NOT NULL,
    row INTEGER NOT NULL,
    PRIMARY KEY (t, uid, account)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_hours (
    hour INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS event_counts (
    minute INTEGER NOT NULL,
    account TEXT NOT NULL,
    event_source TEXT NOT NULL,
    event_name TEXT NOT NULL,
    principal_key TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (minute, account, event_source, event_name, principal_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    rule_kind TEXT NOT NULL,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    principal TEXT,
    account TEXT,
    source_ip TEXT,
    region TEXT,
    access_key_id TEXT,
    user_agent TEXT,
    fingerprint TEXT NOT NULL,
    alert_json TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    note TEXT,
    assignee TEXT,
    updated_by TEXT,
    updated_at INTEGER
);
CREATE INDEX IF NOT EXISTS alerts_seen ON alerts(last_seen);
CREATE TABLE IF NOT EXISTS alert_events (
    alert_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_row INTEGER,
    PRIMARY KEY (alert_id, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_events_event ON alert_events(event_id);
CREATE INDEX IF NOT EXISTS alert_events_row ON alert_events(event_row) WHERE event_row IS NOT NULL;
"#;

/// The views, recreated on every writable open (their SQL functions are registered per
/// connection).
const VIEWS: &str = r#"
DROP VIEW IF EXISTS ev;
DROP VIEW IF EXISTS events;
CREATE VIEW events AS SELECT
    r.id AS id,
    r.t / 86400000 AS day,
    r.t AS event_time,
    strftime('%Y-%m-%dT%H:%M:%fZ', r.t / 1000.0, 'unixepoch') AS event_time_text,
    date(r.t / 1000, 'unixepoch') AS date,
    th_str(r.source) AS event_source,
    r.event_name AS event_name,
    th_str(r.region) AS aws_region,
    th_str(r.account) AS account,
    th_str(r.principal) AS principal_arn,
    th_str(r.pkey) AS principal_key,
    th_str(r.itype) AS identity_type,
    th_str(r.uname) AS user_name,
    th_str(r.akey) AS access_key_id,
    th_str(r.session) AS session,
    th_str(r.ip) AS source_ip,
    th_str(r.ua) AS user_agent,
    th_str(r.err) AS error_code,
    th_str(r.errmsg) AS error_message,
    r.ro AS read_only,
    r.mgmt AS management_event,
    th_str(r.etype) AS event_type,
    th_event_id(r.id) AS event_id,
    th_str(r.country) AS country,
    r.asn AS asn,
    th_str(r.org) AS as_org,
    th_str(r.cloud) AS cloud,
    th_block(r.id) AS block_id,
    r.id - th_block(r.id) AS slot,
    raw_json(r.id) AS raw,
    json_extract(raw_json(r.id), '$.requestParameters') AS request_parameters,
    json_extract(raw_json(r.id), '$.responseElements') AS response_elements,
    json_extract(raw_json(r.id), '$.additionalEventData') AS additional_event_data,
    json_extract(raw_json(r.id), '$.serviceEventDetails') AS service_event_details
FROM event_rows r;
CREATE VIEW ev AS SELECT * FROM events;
"#;

/// Columns that [`SearchQuery::fields`] may filter on (exact match).
pub const FILTER_FIELDS: &[&str] = &[
    "event_source",
    "event_name",
    "aws_region",
    "account",
    "principal_arn",
    "principal_key",
    "identity_type",
    "user_name",
    "access_key_id",
    "session",
    "source_ip",
    "user_agent",
    "error_code",
    "event_type",
    "event_id",
    "country",
    "cloud",
];

/// The event and alert store.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    options: StoreOptions,
    read_only: bool,
    dict: Arc<RwLock<dict::Dict>>,
    reader: Arc<Mutex<codec::RawReader>>,
    scratch: ScratchPool,
    /// Writable stores: the thread that checkpoints the WAL after each append.
    checkpointer: Option<Checkpointer>,
}

/// Copies committed WAL frames into the database on a thread and connection of its own
/// (`PRAGMA wal_checkpoint(PASSIVE)`, woken after every append), instead of SQLite's automatic
/// checkpoint, which runs inside the committing append: about 7% of the append rate, spent
/// while the block-building helper thread had nothing to do.
struct Checkpointer {
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(db: &Path) -> Result<Checkpointer> {
        let conn = Connection::open(db).map_err(sql("opening the checkpointer"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql("setting busy timeout"))?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                for () in woken {
                    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map_err(|source| Error::Io {
                context: "starting the checkpointer",
                path: db.to_path_buf(),
                source,
            })?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint; one already asked for and not started covers this one.
    fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// One hour in milliseconds: the width of `event_hours`.
const HOUR_MS: i64 = 3_600_000;
/// A day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Fills `event_hours` from the stored rows once, for stores written before it existed.
fn backfill_event_hours(conn: &Connection) -> Result<()> {
    let done: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'event_hours')",
            [],
            |r| r.get(0),
        )
        .map_err(sql("reading the store's hourly counts state"))?;
    if done {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         DELETE FROM event_hours;
         INSERT INTO event_hours (hour, n)
             SELECT (t / {HOUR_MS}) * {HOUR_MS}, count(*) FROM event_rows GROUP BY 1;
         INSERT INTO meta (key, value) VALUES ('event_hours', 1);
         COMMIT;"
    ))
    .map_err(sql("counting stored events per hour"))
}

/// Upgrades a format 2 store: its idempotence keys had no event time.
fn upgrade_from_2(conn: &Connection) -> Result<()> {
    // The old keys move aside, the schema creates the new table, the keys come back with the
    // time of their rows.
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         DROP VIEW IF EXISTS ev;
         DROP VIEW IF EXISTS events;
         ALTER TABLE ids RENAME TO ids_2;
         {SCHEMA}
         INSERT INTO ids (t, uid, account, row)
             SELECT r.t, i.uid, i.account, i.row FROM ids_2 i JOIN event_rows r ON r.id = i.row;
         DROP TABLE ids_2;
         PRAGMA user_version = 3;
         COMMIT;"
    ))
    .map_err(sql("upgrading the store from format 2"))?;
    tracing::info!("store upgraded from format 2 to 3");
    upgrade_from_3(conn)
}

/// Upgrades a format 3 store: its rows had an index on the principal key, where format 4
/// lists each principal's runs of consecutive rows of one day (`principal_runs`). The runs
/// are found in the rows: in a run, a row's id minus its rank among the principal's rows of
/// that day is the same.
fn upgrade_from_3(conn: &Connection) -> Result<()> {
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         {SCHEMA}
         DELETE FROM principal_runs;
         INSERT INTO principal_runs (pkey, first, last, day, t_min, t_max)
             SELECT pkey, min(id), max(id), day, min(t), max(t) FROM (
                 SELECT id, pkey, t, day,
                     id - row_number() OVER (PARTITION BY pkey, day ORDER BY id) AS run
                 FROM (SELECT id, pkey, t,
                           CASE WHEN t >= 0 THEN t / {DAY_MS} ELSE (t + 1) / {DAY_MS} - 1 END AS day
                       FROM event_rows WHERE pkey IS NOT NULL))
             GROUP BY pkey, day, run;
         DROP INDEX IF EXISTS event_rows_pkey;
         PRAGMA user_version = 4;
         COMMIT;"
    ))
    .map_err(sql("upgrading the store from format 3"))?;
    tracing::info!("store upgraded from format 3 to 4");
    Ok(())
}

/// The stable 63-bit hash of an event id, the key of the idempotence check.
pub(crate) fn event_uid(event_id: &str) -> i64 {
    uid_of_hash(trailhound_core::event_id_hash(event_id))
}

/// The `uid` of an [`trailhound_core::event_id_hash`]: its high 63 bits, so it is positive.
fn uid_of_hash(hash: u64) -> i64 {
    (hash >> 1) as i64
}

/// [`event_uid`] of [`event_id_of`]: the hash the decoder took when the event has an id.
fn uid_of(event: &Event) -> i64 {
    if event.event_id().is_empty() {
        event_uid(&event_id_of(event))
    } else {
        uid_of_hash(event.event_id_hash())
    }
}

/// An event's id as stored: `eventID`, else a hash of the record's text.
pub(crate) fn event_id_of(event: &Event) -> std::borrow::Cow<'_, str> {
    if event.event_id().is_empty() {
        stable_hash_hex(&[event.raw()]).into()
    } else {
        event.event_id().into()
    }
}

fn format_of(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql("reading the store format"))
}

fn has_table(conn: &Connection, name: &str) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )
    .map_err(sql("reading the schema"))
}

/// What an append stores of one event: its row's values, read from the event in one pass
/// (see [`prepare_row`]) and then sorted into row order.
#[derive(Clone, Copy)]
struct Prepared<'e> {
    day: i64,
    /// `eventTime` in milliseconds.
    time: i64,
    /// [`event_uid`] of its id: with the time and the account, its idempotence key.
    uid: i64,
    name: &'e str,
    raw: &'e str,
    /// The row's integer columns ([`NULL`] for none).
    ints: RowInts,
}

impl Prepared<'_> {
    /// The dictionary id of the event's account.
    fn account(&self) -> i64 {
        self.ints[ACCOUNT]
    }

    /// The dictionary id of the event's principal key.
    fn principal(&self) -> Option<i64> {
        value(self.ints[PKEY])
    }
}

/// One block to write: events `start..end` of the fresh list, all of one day.
struct BlockPlan {
    start: usize,
    end: usize,
    day: i64,
}

/// A compressed block and its search filter.
struct BlockOut {
    data: Vec<u8>,
    filter: Vec<u8>,
    raw_bytes: i64,
}

/// What a thread needs to build blocks, kept from one block (and append) to the next.
struct BlockScratch {
    encoder: codec::BlockEncoder,
    filter: terms::FilterBuilder,
}

impl BlockScratch {
    /// Compresses and indexes a block. Each record is copied into the block and read for
    /// the filter in turn, while it is in cache: a pass over all the records for each did
    /// read every record from memory twice.
    fn build(&mut self, records: &[&str]) -> Result<BlockOut> {
        self.encoder.start(records)?;
        let encoder = &mut self.encoder;
        let filter = self.filter.build(records.iter().map(|record| {
            encoder.push(record);
            *record
        }));
        Ok(BlockOut {
            data: self.encoder.finish()?,
            filter,
            raw_bytes: records.iter().map(|r| r.len() as i64).sum(),
        })
    }
}

/// The scratch spaces of a store not in use by a thread.
#[derive(Default)]
struct ScratchPool(Mutex<Vec<BlockScratch>>);

impl ScratchPool {
    fn take(&self, level: i32) -> Result<BlockScratch> {
        let kept = self.0.lock().map_err(|_| Error::Poisoned)?.pop();
        match kept {
            Some(scratch) => Ok(scratch),
            None => Ok(BlockScratch {
                encoder: codec::BlockEncoder::new(level)?,
                filter: terms::FilterBuilder::default(),
            }),
        }
    }

    fn give(&self, scratch: BlockScratch) {
        if let Ok(mut kept) = self.0.lock() {
            kept.push(scratch);
        }
    }
}

/// Blocks to compress and index, each taken by whichever thread is free: a helper thread
/// starts on them while the appending thread checks duplicates and inserts rows, then the
/// appending thread joins in.
struct BlockJobs<'a> {
    raws: &'a [&'a str],
    plans: &'a [BlockPlan],
    level: i32,
    pool: &'a ScratchPool,
    next: AtomicUsize,
    done: Mutex<Vec<(usize, BlockOut)>>,
}

impl<'a> BlockJobs<'a> {
    fn new(
        raws: &'a [&'a str],
        plans: &'a [BlockPlan],
        level: i32,
        pool: &'a ScratchPool,
    ) -> BlockJobs<'a> {
        BlockJobs {
            raws,
            plans,
            level,
            pool,
            next: AtomicUsize::new(0),
            done: Mutex::new(Vec::with_capacity(plans.len())),
        }
    }

    /// Builds blocks until none is left (or [`BlockJobs::cancel`]).
    fn work(&self) -> Result<()> {
        let mut scratch = self.pool.take(self.level)?;
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(plan) = self.plans.get(i) else {
                self.pool.give(scratch);
                return Ok(());
            };
            let block = scratch.build(&self.raws[plan.start..plan.end])?;
            self.done
                .lock()
                .map_err(|_| Error::Poisoned)?
                .push((i, block));
        }
    }

    /// Leaves the blocks not started yet.
    fn cancel(&self) {
        self.next.store(self.plans.len(), Ordering::Relaxed);
    }

    /// The blocks in plan order, once every one is built.
    fn into_blocks(self) -> Result<Vec<BlockOut>> {
        let mut done = self.done.into_inner().map_err(|_| Error::Poisoned)?;
        if done.len() != self.plans.len() {
            return Err(Error::Worker);
        }
        done.sort_by_key(|(i, _)| *i);
        Ok(done.into_iter().map(|(_, b)| b).collect())
    }
}

/// Compresses and indexes blocks on `workers` threads (this one included; with one, no
/// thread is started).
fn build_blocks(
    raws: &[&str],
    plans: &[BlockPlan],
    level: i32,
    workers: usize,
    pool: &ScratchPool,
) -> Result<Vec<BlockOut>> {
    let jobs = BlockJobs::new(raws, plans, level, pool);
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..workers).map(|_| s.spawn(|| jobs.work())).collect();
        let mine = jobs.work();
        for helper in helpers {
            helper.join().map_err(|_| Error::Worker)??;
        }
        mine
    })?;
    jobs.into_blocks()
}

impl Store {
    /// Opens (creating when missing) the store in `dir` with default options.
    ///
    /// # Errors
    /// When the directory cannot be created or the database cannot be opened or migrated.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(dir, StoreOptions::default())
    }

    /// Opens (creating when missing) the store in `dir`.
    ///
    /// # Errors
    /// When the directory cannot be created, the database cannot be opened, or it was
    /// written in another store format.
    pub fn open_with(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            context: "creating the store directory",
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(sql("opening the store"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql("setting busy timeout"))?;
        // 16 KiB pages (new stores only): the raw blocks span fewer overflow pages and the
        // B-trees are shallower; appends measured about 5% faster than with 4 KiB.
        conn.execute_batch(
            "PRAGMA page_size = 16384;
             PRAGMA auto_vacuum = INCREMENTAL;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -131072;
             PRAGMA wal_autocheckpoint = 0;",
        )
        .map_err(sql("setting pragmas"))?;
        let found = format_of(&conn)?;
        if found == 2 {
            upgrade_from_2(&conn)?;
        } else if found == 3 {
            upgrade_from_3(&conn)?;
        } else if found != FORMAT && (found != 0 || has_table(&conn, "ev")?) {
            return Err(Error::Format { path, found });
        }
        conn.execute_batch(SCHEMA)
            .map_err(sql("creating the schema"))?;
        conn.execute_batch(&format!("PRAGMA user_version = {FORMAT};"))
            .map_err(sql("writing the store format"))?;
        backfill_event_hours(&conn)?;
        let dict = Arc::new(RwLock::new(dict::Dict::load(&conn)?));
        let reader = codec::register_functions(&conn, &path, Arc::clone(&dict))?;
        conn.execute_batch(VIEWS)
            .map_err(sql("creating the views"))?;
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Store {
            conn,
            dir,
            options,
            read_only: false,
            dict,
            reader,
            scratch: ScratchPool::default(),
            checkpointer: Some(Checkpointer::start(&path)?),
        })
    }

    /// Opens an existing store for reading only: every statement that would write fails.
    ///
    /// # Errors
    /// When the database is missing, cannot be opened, or is in another store format.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(Error::Io {
                context: "opening the store",
                path,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql("opening the store read-only"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql("setting busy timeout"))?;
        conn.execute_batch(
            "PRAGMA query_only = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -262144;",
        )
        .map_err(sql("setting pragmas"))?;
        let found = format_of(&conn)?;
        if found != FORMAT {
            return Err(Error::Format { path, found });
        }
        let dict = Arc::new(RwLock::new(dict::Dict::load(&conn)?));
        let reader = codec::register_functions(&conn, &path, Arc::clone(&dict))?;
        Ok(Store {
            conn,
            dir,
            options: StoreOptions::default(),
            read_only: true,
            dict,
            reader,
            scratch: ScratchPool::default(),
            checkpointer: None,
        })
    }

    /// The store directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The underlying connection, for reads the API does not cover.
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The options events are stored with.
    #[must_use]
    pub fn options(&self) -> StoreOptions {
        self.options
    }

    /// Appends events in one transaction: either all new events of the call are visible or,
    /// when the writer dies first, none. Events already stored (same `eventID` and account)
    /// are skipped, so re-reading a file stores nothing twice.
    ///
    /// Events are grouped by day, and within a day by principal (input order within a
    /// principal), into blocks of up to [`BLOCK_EVENTS`]; the blocks are compressed and
    /// indexed on worker threads while the rows are inserted. Larger calls (thousands of
    /// events) give larger blocks, which compress better.
    ///
    /// # Errors
    /// On SQLite or compression failures; the transaction is then rolled back.
    pub fn append_events(&mut self, events: &[Event]) -> Result<AppendSummary> {
        if events.is_empty() {
            return Ok(AppendSummary::default());
        }
        let dict = Arc::clone(&self.dict);
        let mut dict = dict.write().map_err(|_| Error::Poisoned)?;
        let mut committed = dict.len();
        let result = self.append_locked(events, &mut dict, &mut committed);
        if result.is_err() {
            dict.rollback(committed);
        }
        result
    }

    fn append_locked(
        &mut self,
        events: &[Event],
        dict: &mut dict::Dict,
        committed: &mut usize,
    ) -> Result<AppendSummary> {
        let mut summary = AppendSummary::default();
        let options = self.options;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting an append"))?;
        dict.refresh(&tx)?;
        *committed = dict.len();
        let first_row: i64 = tx
            .query_row("SELECT value FROM meta WHERE key = 'next_row'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql("reading the next row id"))?
            .unwrap_or(1);
        // Events to store as rows, grouped by day and, within a day, by principal (stable:
        // input order within a principal). A principal's events of an append are then next to
        // each other: in fewer blocks, which compress better (a principal's records are much
        // alike: 14% less on disk), and in one run of `principal_runs`.
        //
        // What the rows hold is read first, event by event in input order: the order in which
        // the decoders filled the events' memory. Every later step goes over the rows by
        // principal; reading the events there, each field a cache miss on a far `Arc` or
        // record text, was a tenth of a `hunt --store`'s time.
        let mut prepared: Vec<Prepared<'_>> = Vec::with_capacity(events.len());
        {
            let mut count = tx
                .prepare_cached(
                    "INSERT INTO event_counts (minute, account, event_source, event_name, principal_key, n)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1)
                     ON CONFLICT DO UPDATE SET n = n + 1",
                )
                .map_err(sql("preparing the count upsert"))?;
            let mut last = LastIds::new();
            let mut identities = IdentityIds::default();
            for event in events {
                if options.read_only_data_as_counts
                    && event.management_event() == Some(false)
                    && event.read_only() == Some(true)
                {
                    count
                        .execute(params![
                            event.event_time().floor_minute().as_millis(),
                            event.account_id().unwrap_or(""),
                            event.event_source(),
                            event.event_name(),
                            event.principal_key().unwrap_or(""),
                        ])
                        .map_err(sql("counting an event"))?;
                    summary.counted += 1;
                    continue;
                }
                prepared.push(prepare_row(event, dict, &mut last, &mut identities));
            }
        }
        // Sorted on dictionary ids, not strings, and as keys with their index, not as rows:
        // comparing integers and moving 32 bytes keeps the sort a millisecond per append.
        let mut keys: Vec<(i64, Option<i64>, usize)> = prepared
            .iter()
            .enumerate()
            .map(|(i, p)| (p.day, p.principal(), i))
            .collect();
        keys.sort_unstable();
        let order: Vec<Prepared<'_>> = keys.iter().map(|k| prepared[k.2]).collect();
        drop(prepared);
        // Blocks are compressed and indexed on other threads while this one checks for
        // duplicates and inserts rows. They are planned from every candidate event: when a
        // candidate turns out to be stored already (a re-read), they are planned again from
        // the fresh events alone.
        let candidates: Vec<&str> = order.iter().map(|p| p.raw).collect();
        let candidate_plans = plan_blocks(order.iter().map(|p| p.day));
        let level = options.zstd_level;
        let pool = &self.scratch;
        let jobs = BlockJobs::new(&candidates, &candidate_plans, level, pool);
        let (fresh, replanned) = std::thread::scope(|s| -> Result<_> {
            let helpers: Vec<_> = if candidates.len() >= 1024 {
                (0..helpers_for(&candidate_plans))
                    .map(|_| s.spawn(|| jobs.work()))
                    .collect()
            } else {
                Vec::new()
            };
            let candidate_count = order.len();
            let fresh = claim_fresh(&tx, order, first_row, &mut summary);
            let fresh = fresh.and_then(|fresh| {
                count_hours(&tx, &fresh)?;
                insert_rows(&tx, &fresh, first_row)?;
                insert_runs(&tx, &fresh, first_row)?;
                Ok(fresh)
            });
            let all_fresh = matches!(&fresh, Ok(f) if f.len() == candidate_count);
            if all_fresh {
                jobs.work()?;
            } else {
                jobs.cancel();
            }
            for helper in helpers {
                helper.join().map_err(|_| Error::Worker)??;
            }
            let fresh = fresh?;
            if all_fresh {
                return Ok((fresh, None));
            }
            let raws: Vec<&str> = fresh.iter().map(|f| f.raw).collect();
            let plans = plan_blocks(fresh.iter().map(|f| f.day));
            let workers = if raws.len() >= 1024 {
                helpers_for(&plans) + 1
            } else {
                1
            };
            let blocks = build_blocks(&raws, &plans, level, workers, pool)?;
            Ok((fresh, Some((plans, blocks))))
        })?;
        let (plans, blocks) = match replanned {
            Some(rebuilt) => rebuilt,
            None => {
                let blocks = jobs.into_blocks()?;
                (candidate_plans, blocks)
            }
        };
        dict.flush(&tx)?;
        {
            let mut insert_block = tx
                .prepare_cached(
                    "INSERT INTO blocks (id, day, n, t_min, t_max, raw_bytes, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql("preparing the block insert"))?;
            let mut insert_terms = tx
                .prepare_cached("INSERT INTO block_terms (block, filter) VALUES (?1, ?2)")
                .map_err(sql("preparing the filter insert"))?;
            for (plan, block) in plans.iter().zip(&blocks) {
                let (t_min, t_max) = time_span(&fresh[plan.start..plan.end]);
                let id = first_row + plan.start as i64;
                insert_block
                    .execute(params![
                        id,
                        plan.day,
                        (plan.end - plan.start) as i64,
                        t_min,
                        t_max,
                        block.raw_bytes,
                        block.data
                    ])
                    .map_err(sql("storing a raw block"))?;
                insert_terms
                    .execute(params![id, block.filter])
                    .map_err(sql("storing a search filter"))?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('next_row', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [first_row + fresh.len() as i64],
        )
        .map_err(sql("advancing the row id"))?;
        summary.stored = fresh.len() as u64;
        tx.commit().map_err(sql("committing an append"))?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.wake();
        }
        *committed = dict.len();
        tracing::debug!(
            stored = summary.stored,
            duplicates = summary.duplicates,
            counted = summary.counted,
            blocks = plans.len(),
            "events appended"
        );
        Ok(summary)
    }

    /// Stores alerts (one transaction). An alert already stored (same id) gets its counts,
    /// time span and body refreshed; its triage fields are kept. Each sampled event is linked
    /// to its stored row (`alert_events.event_row`) when the event is in the store.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn append_alerts(&mut self, alerts: &[Alert]) -> Result<u64> {
        let dict = self.dict.read().map_err(|_| Error::Poisoned)?;
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting an alert append"))?;
        let mut n = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO alerts (id, rule_id, rule_name, rule_kind, title, severity, first_seen,
                        last_seen, event_count, principal, account, source_ip, region, access_key_id,
                        user_agent, fingerprint, alert_json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
                     ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen,
                        last_seen = excluded.last_seen, event_count = excluded.event_count,
                        alert_json = excluded.alert_json",
                )
                .map_err(sql("preparing the alert insert"))?;
            let mut find = tx
                .prepare_cached(
                    "SELECT row FROM ids WHERE t = ?1 AND uid = ?2
                     ORDER BY account = ?3 DESC, row LIMIT 1",
                )
                .map_err(sql("preparing the event lookup"))?;
            let mut link = tx
                .prepare_cached(
                    "INSERT INTO alert_events (alert_id, event_id, event_row) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO UPDATE SET event_row = coalesce(excluded.event_row, event_row)",
                )
                .map_err(sql("preparing the alert link"))?;
            for alert in alerts {
                let body = serde_json::to_string(alert).map_err(|source| Error::Json { source })?;
                let e = &alert.entity;
                insert
                    .execute(params![
                        alert.id,
                        alert.rule.id,
                        alert.rule.name,
                        alert.rule.kind.as_str(),
                        alert.title,
                        alert.severity.as_str(),
                        alert.first_seen.as_millis(),
                        alert.last_seen.as_millis(),
                        i64::try_from(alert.event_count).unwrap_or(i64::MAX),
                        e.principal,
                        e.account,
                        e.source_ip,
                        e.region,
                        e.access_key_id,
                        e.user_agent,
                        alert.fingerprint,
                        body,
                    ])
                    .map_err(sql("storing an alert"))?;
                let account = e.account.as_deref().and_then(|a| dict.id(a)).unwrap_or(-1);
                for event in &alert.events {
                    let row: Option<i64> = find
                        .query_row(
                            params![
                                event.event_time.as_millis(),
                                event_uid(&event.event_id),
                                account
                            ],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(sql("looking up an alert event"))?;
                    link.execute(params![alert.id, event.event_id, row])
                        .map_err(sql("linking an alert"))?;
                }
                n += 1;
            }
        }
        tx.commit().map_err(sql("committing alerts"))?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.wake();
        }
        Ok(n)
    }

    /// Changes an alert's triage fields, recording who and when.
    ///
    /// # Errors
    /// [`Error::NoSuchAlert`] for an unknown id; SQLite failures.
    pub fn update_alert(
        &mut self,
        id: &str,
        update: &AlertUpdate,
        by: &str,
        at: Timestamp,
    ) -> Result<()> {
        let changed = self
            .conn
            .execute(
                "UPDATE alerts SET status = coalesce(?2, status), note = coalesce(?3, note),
                    assignee = coalesce(?4, assignee), updated_by = ?5, updated_at = ?6
                 WHERE id = ?1",
                params![
                    id,
                    update.status.map(AlertStatus::as_str),
                    update.note,
                    update.assignee,
                    by,
                    at.as_millis()
                ],
            )
            .map_err(sql("updating an alert"))?;
        if changed == 0 {
            return Err(Error::NoSuchAlert(id.to_owned()));
        }
        Ok(())
    }

    /// Alerts, newest first, optionally only those with `status`.
    ///
    /// # Errors
    /// On SQLite or decoding failures.
    pub fn alerts(&self, status: Option<AlertStatus>, limit: usize) -> Result<Vec<StoredAlert>> {
        self.alerts_where(
            "(?1 IS NULL OR status = ?1) ORDER BY last_seen DESC, id LIMIT ?2",
            params![status.map(AlertStatus::as_str), limit_i64(limit)],
        )
    }

    /// One alert by id.
    ///
    /// # Errors
    /// On SQLite or decoding failures.
    pub fn alert(&self, id: &str) -> Result<Option<StoredAlert>> {
        Ok(self
            .alerts_where("id = ?1", params![id])?
            .into_iter()
            .next())
    }

    pub(crate) fn alerts_where(
        &self,
        condition: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<StoredAlert>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT alert_json, status, note, assignee, updated_by, updated_at FROM alerts WHERE {condition}"
            ))
            .map_err(sql("preparing an alert read"))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })
            .map_err(sql("reading alerts"))?;
        let mut out = Vec::new();
        for row in rows {
            let (body, status, note, assignee, updated_by, updated_at) =
                row.map_err(sql("reading an alert"))?;
            out.push(StoredAlert {
                alert: serde_json::from_str(&body).map_err(|source| Error::Json { source })?,
                status: status.parse()?,
                note,
                assignee,
                updated_by,
                updated_at: updated_at.map(Timestamp::from_millis),
            });
        }
        Ok(out)
    }

    /// Deletes events (rows, raw blocks, search filters, idempotence keys and counts) of days
    /// older than `days` days before `now`'s day, then returns the freed pages to the
    /// filesystem. Alerts are kept (their links to deleted events are cleared). Returns the
    /// number of events deleted.
    ///
    /// # Errors
    /// On SQLite failures; the deletion is one transaction.
    pub fn apply_retention(&mut self, days: u32, now: Timestamp) -> Result<u64> {
        let cutoff = now.day_number() - i64::from(days);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting retention"))?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS doomed (a INTEGER PRIMARY KEY, b INTEGER NOT NULL);
             DELETE FROM temp.doomed;",
        )
        .map_err(sql("preparing retention"))?;
        tx.execute(
            "INSERT INTO temp.doomed (a, b) SELECT id, id + n FROM blocks WHERE day < ?1",
            [cutoff],
        )
        .map_err(sql("listing old blocks"))?;
        let deleted = tx
            .execute(
                "DELETE FROM event_rows WHERE id < (SELECT b FROM temp.doomed WHERE a <= event_rows.id ORDER BY a DESC LIMIT 1)",
                [],
            )
            .map_err(sql("deleting events"))?;
        tx.execute("DELETE FROM principal_runs WHERE day < ?1", [cutoff])
            .map_err(sql("deleting principal runs"))?;
        tx.execute(
            "DELETE FROM ids WHERE t < ?1",
            [cutoff.saturating_mul(DAY_MS)],
        )
        .map_err(sql("deleting idempotence keys"))?;
        tx.execute(
            "UPDATE alert_events SET event_row = NULL WHERE event_row < (SELECT b FROM temp.doomed WHERE a <= alert_events.event_row ORDER BY a DESC LIMIT 1)",
            [],
        )
        .map_err(sql("unlinking alert events"))?;
        tx.execute(
            "DELETE FROM block_terms WHERE block IN (SELECT a FROM temp.doomed)",
            [],
        )
        .map_err(sql("deleting search filters"))?;
        tx.execute("DELETE FROM blocks WHERE day < ?1", [cutoff])
            .map_err(sql("deleting raw blocks"))?;
        tx.execute(
            "DELETE FROM event_counts WHERE minute < ?1",
            [cutoff.saturating_mul(DAY_MS)],
        )
        .map_err(sql("deleting counts"))?;
        tx.execute(
            "DELETE FROM event_hours WHERE hour < ?1",
            [cutoff.saturating_mul(DAY_MS)],
        )
        .map_err(sql("deleting hourly counts"))?;
        tx.execute("DELETE FROM temp.doomed", [])
            .map_err(sql("finishing retention"))?;
        tx.commit().map_err(sql("committing retention"))?;
        if let Ok(mut reader) = self.reader.lock() {
            reader.clear();
        }
        self.conn
            .execute_batch("PRAGMA incremental_vacuum;")
            .map_err(sql("vacuuming"))?;
        tracing::info!(deleted, cutoff_day = cutoff, "retention applied");
        Ok(deleted as u64)
    }

    /// The row id of a stored event, found by its id (`eventID`, or for a record without one
    /// the hash of its text that [`Store::append_events`] stores), account and time
    /// (`eventTime`) through the idempotence index: one B-tree lookup, no block is read.
    /// `None` when it is not stored.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn event_row(&self, event_id: &str, account: &str, time: Timestamp) -> Result<Option<i64>> {
        let account = {
            let dict = self.dict.read().map_err(|_| Error::Poisoned)?;
            match dict.id(account) {
                Some(id) => id,
                // An account never interned has no stored events.
                None => return Ok(None),
            }
        };
        self.conn
            .prepare_cached("SELECT row FROM ids WHERE t = ?1 AND uid = ?2 AND account = ?3")
            .map_err(sql("preparing the event lookup"))?
            .query_row(
                params![time.as_millis(), event_uid(event_id), account],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("looking up an event"))
    }

    /// The newest event row id (0 when the store is empty): rows above it were appended later.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn last_event_row(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT coalesce(max(id), 0) FROM event_rows", [], |r| {
                r.get(0)
            })
            .map_err(sql("reading the newest event row"))
    }

    /// Number of stored event rows.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn event_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT coalesce(sum(n), 0) FROM blocks", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(sql("counting events"))
    }

    /// Bytes on disk of the store's database files (main file and write-ahead log).
    #[must_use]
    pub fn disk_bytes(&self) -> u64 {
        let path = self.dir.join(DB_FILE);
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                std::fs::metadata(p).ok().map(|m| m.len())
            })
            .sum()
    }

    /// Writes the write-ahead log back into the main file and empties it, waiting (up to ten
    /// seconds) for a checkpoint already running on the checkpointer's connection.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn checkpoint(&self) -> Result<()> {
        let started = std::time::Instant::now();
        loop {
            // (busy, frames in the log, frames checkpointed)
            let busy: i64 = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(sql("checkpointing"))?;
            if busy == 0 || started.elapsed() > std::time::Duration::from_secs(10) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Runs one read-only SQL statement over `events`, `alerts` and the other tables.
    ///
    /// # Errors
    /// [`Error::NotReadOnly`] for a statement that would write; SQLite errors.
    pub fn query(&self, statement: &str) -> Result<QueryResult> {
        let mut stmt = self
            .conn
            .prepare(statement)
            .map_err(sql("preparing the query"))?;
        if !stmt.readonly() {
            return Err(Error::NotReadOnly {
                sql: statement.to_owned(),
            });
        }
        let columns: Vec<String> = stmt
            .column_names()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let width = columns.len();
        let mut rows = stmt.query([]).map_err(sql("running the query"))?;
        let mut out = QueryResult {
            columns,
            rows: Vec::new(),
        };
        while let Some(row) = rows.next().map_err(sql("reading a row"))? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(value_to_json(
                    row.get_ref(i).map_err(sql("reading a value"))?,
                ));
            }
            out.rows.push(values);
        }
        Ok(out)
    }
}

/// A SQLite value as JSON: integers and reals as numbers, text as strings, blobs as their
/// length.
fn value_to_json(value: ValueRef<'_>) -> serde_json::Value {
    match value {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => {
            serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
        }
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => format!("<{} bytes>", b.len()).into(),
    }
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Splits events (sorted by day) into blocks of one day and at most [`BLOCK_EVENTS`].
fn plan_blocks(days: impl Iterator<Item = i64>) -> Vec<BlockPlan> {
    let mut plans: Vec<BlockPlan> = Vec::new();
    for (i, day) in days.enumerate() {
        match plans.last_mut() {
            Some(p) if p.day == day && i - p.start < BLOCK_EVENTS => p.end = i + 1,
            _ => plans.push(BlockPlan {
                start: i,
                end: i + 1,
                day,
            }),
        }
    }
    plans
}

/// Helper threads to build `plans` with: one per core but the appending thread's, at most
/// one per block.
fn helpers_for(plans: &[BlockPlan]) -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_sub(1)
        .min(plans.len())
        .max(1)
}

/// The idempotence check and the row ids: a candidate is fresh when its (time, id, account)
/// key was not there yet. Returns the fresh rows, in row order.
///
/// Keys are claimed in time order, not row order: rows come by principal, which scattered
/// the claims over the `ids` tree (a page split every few inserts); in time order an
/// append's claims fall next to each other. Each claim takes the row it has when nothing is
/// a duplicate; when some are (a re-read), the fresh ones after the first duplicate are
/// moved down to close the gaps.
fn claim_fresh<'e>(
    tx: &Connection,
    mut rows: Vec<Prepared<'e>>,
    first_row: i64,
    summary: &mut AppendSummary,
) -> Result<Vec<Prepared<'e>>> {
    let mut claim = tx
        .prepare_cached("INSERT OR IGNORE INTO ids (t, uid, account, row) VALUES (?1, ?2, ?3, ?4)")
        .map_err(sql("preparing the duplicate check"))?;
    // The keys apart from the rows, sorted: claiming from the rows in time order read them
    // all over the append's array.
    let mut keys: Vec<(i64, i64, i64, usize)> = rows
        .iter()
        .enumerate()
        .map(|(at, r)| (r.time, r.uid, r.account(), at))
        .collect();
    keys.sort_unstable_by_key(|k| (k.0, k.3));
    let mut duplicate = vec![false; rows.len()];
    for (t, uid, account, at) in keys {
        let claimed = claim
            .execute(params![t, uid, account, first_row + at as i64])
            .map_err(sql("checking for a duplicate"))?;
        if claimed == 0 {
            duplicate[at] = true;
        }
    }
    let Some(first_duplicate) = duplicate.iter().position(|d| *d) else {
        return Ok(rows);
    };
    let mut renumber = tx
        .prepare_cached("UPDATE ids SET row = ?4 WHERE t = ?1 AND uid = ?2 AND account = ?3")
        .map_err(sql("preparing the row renumbering"))?;
    let mut kept = first_duplicate;
    for at in first_duplicate..rows.len() {
        if duplicate[at] {
            summary.duplicates += 1;
            continue;
        }
        let row = rows[at];
        renumber
            .execute(params![
                row.time,
                row.uid,
                row.account(),
                first_row + kept as i64
            ])
            .map_err(sql("renumbering a row"))?;
        rows[kept] = row;
        kept += 1;
    }
    rows.truncate(kept);
    Ok(rows)
}

/// Adds the fresh events to the per-hour counts, which the overview charts without counting
/// millions of rows.
fn count_hours(tx: &Connection, fresh: &[Prepared<'_>]) -> Result<()> {
    let mut hours: foldhash::HashMap<i64, i64> = foldhash::HashMap::default();
    for row in fresh {
        *hours
            .entry(row.time.div_euclid(HOUR_MS) * HOUR_MS)
            .or_default() += 1;
    }
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO event_hours (hour, n) VALUES (?1, ?2)
             ON CONFLICT (hour) DO UPDATE SET n = n + excluded.n",
        )
        .map_err(sql("preparing the hourly count"))?;
    for (hour, n) in hours {
        upsert
            .execute(params![hour, n])
            .map_err(sql("counting events per hour"))?;
    }
    Ok(())
}

/// The dictionary id each column had in the event before. Consecutive events of a file
/// mostly repeat their service, region and account: comparing with the last string of the
/// column is cheaper than hashing it for the dictionary.
struct LastIds<'e>([Option<(&'e str, i64)>; LAST_COLUMNS]);

/// The columns [`LastIds`] remembers a string of.
const LAST_COLUMNS: usize = 11;

impl<'e> LastIds<'e> {
    fn new() -> Self {
        LastIds([None; LAST_COLUMNS])
    }

    /// The id of `s` in `column`.
    fn id(&mut self, dict: &mut dict::Dict, column: usize, s: &'e str) -> i64 {
        match self.0.get_mut(column) {
            Some(Some((last, id))) if *last == s => *id,
            Some(slot) => {
                let id = dict.intern(s);
                *slot = Some((s, id));
                id
            }
            None => dict.intern(s),
        }
    }

    /// [`LastIds::id`] for an optional string: [`NULL`] for no or an empty string.
    fn id_opt(&mut self, dict: &mut dict::Dict, column: usize, s: Option<&'e str>) -> i64 {
        s.filter(|s| !s.is_empty())
            .map_or(NULL, |s| self.id(dict, column, s))
    }
}

/// The dictionary ids of the columns an event's identity decides (principal ARN, principal
/// key, identity type, user name, access key, principal id), by the identity's address:
/// events of one identity text share one `UserIdentity`, so most events find theirs here
/// instead of hashing six strings. The events outlive the append, so no address is reused
/// meanwhile.
#[derive(Default)]
struct IdentityIds(foldhash::HashMap<usize, [i64; 6]>);

/// Reads an event's row (see [`Prepared`]), interning its strings.
fn prepare_row<'e>(
    event: &'e Event,
    dict: &mut dict::Dict,
    last: &mut LastIds<'e>,
    identities: &mut IdentityIds,
) -> Prepared<'e> {
    let identity = event.user_identity();
    let [arn, pkey, itype, uname, akey, session] = *identities
        .0
        .entry(std::ptr::from_ref(identity).addr())
        .or_insert_with(|| {
            let mut id = |s: Option<&str>| dict.intern_opt(s).unwrap_or(NULL);
            [
                id(event.principal_arn()),
                id(event.principal_key()),
                id(Some(identity.type_name.as_str())),
                id(identity.user_name.as_deref()),
                id(identity.access_key_id.as_deref()),
                id(identity.principal_id.as_deref()),
            ]
        });
    let enrichment = event.enrichment();
    let time = event.event_time();
    Prepared {
        day: time.day_number(),
        time: time.as_millis(),
        uid: uid_of(event),
        name: event.event_name(),
        raw: event.raw(),
        ints: [
            last.id(dict, 0, event.event_source()),
            last.id_opt(dict, 1, Some(event.aws_region())),
            last.id(dict, 2, event.account_id().unwrap_or("")),
            arn,
            pkey,
            itype,
            uname,
            akey,
            session,
            last.id_opt(dict, 3, Some(event.source().text.as_str())),
            last.id_opt(dict, 4, event.user_agent()),
            last.id_opt(dict, 5, event.error_code()),
            last.id_opt(dict, 6, event.error_message()),
            event.read_only().map_or(NULL, i64::from),
            event.management_event().map_or(NULL, i64::from),
            last.id_opt(dict, 7, event.event_type()),
            last.id_opt(dict, 8, enrichment.and_then(|e| e.country.as_deref())),
            enrichment.and_then(|e| e.asn).map_or(NULL, i64::from),
            last.id_opt(dict, 9, enrichment.and_then(|e| e.as_org.as_deref())),
            last.id_opt(dict, 10, enrichment.and_then(|e| e.cloud.as_deref())),
        ],
    }
}

/// Inserts the event rows of an append.
fn insert_rows(tx: &Connection, fresh: &[Prepared<'_>], first_row: i64) -> Result<()> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO event_rows (id, t, event_name, source, region, account, principal, pkey,
                itype, uname, akey, session, ip, ua, err, errmsg, ro, mgmt, etype, country, asn,
                org, cloud)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, ?21, ?22, ?23)",
        )
        .map_err(sql("preparing the event insert"))?;
    // Parameters keep their value from one row to the next (SQLite's reset leaves bindings
    // alone), and a row's integer columns mostly repeat the row before it (rows are grouped
    // by principal): only the values that changed are bound again. Binding all 23 through
    // `params!` was about 2% of a `hunt --store`'s instructions.
    let mut bound: Option<&RowInts> = None;
    let mut bound_name: Option<&str> = None;
    let bind = |source| Error::Sql {
        context: "storing an event",
        source,
    };
    for (i, row) in fresh.iter().enumerate() {
        insert
            .raw_bind_parameter(1, first_row + i as i64)
            .map_err(bind)?;
        insert.raw_bind_parameter(2, row.time).map_err(bind)?;
        if bound_name != Some(row.name) {
            insert.raw_bind_parameter(3, row.name).map_err(bind)?;
            bound_name = Some(row.name);
        }
        for (j, v) in row.ints.iter().enumerate() {
            if bound.is_none_or(|b| b[j] != *v) {
                insert.raw_bind_parameter(4 + j, value(*v)).map_err(bind)?;
            }
        }
        bound = Some(&row.ints);
        insert.raw_execute().map_err(bind)?;
    }
    Ok(())
}

/// Lists the principals' runs of an append's rows: the fresh rows are grouped by day and
/// principal, so each principal has one run of consecutive rows per day (`principal_runs`,
/// which the principal pivot reads in place of an index on every row's principal key: one
/// entry per run, not per event).
fn insert_runs(tx: &Connection, fresh: &[Prepared<'_>], first_row: i64) -> Result<()> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO principal_runs (pkey, first, last, day, t_min, t_max)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(sql("preparing the principal run insert"))?;
    let mut start = first_row;
    for run in fresh.chunk_by(|a, b| (a.day, a.principal()) == (b.day, b.principal())) {
        let first = start;
        start += run.len() as i64;
        let Some((day, Some(pkey))) = run.first().map(|r| (r.day, r.principal())) else {
            continue;
        };
        let (t_min, t_max) = time_span(run);
        insert
            .execute(params![pkey, first, start - 1, day, t_min, t_max])
            .map_err(sql("storing a principal run"))?;
    }
    Ok(())
}

/// The earliest and latest event times of `rows` (ms), for a block's or a run's span.
fn time_span(rows: &[Prepared<'_>]) -> (i64, i64) {
    rows.iter()
        .map(|r| r.time)
        .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)))
}

/// The integer columns of an event row after `id`, `t` and `event_name`, in the order of
/// [`insert_rows`]'s statement (`source` … `cloud`; `ro` and `mgmt` as 0 or 1), [`NULL`]
/// for none: half the size of `Option`s, for an array of an append's rows that stays in cache.
type RowInts = [i64; 20];

/// No value in [`RowInts`]: no dictionary id, `asn` or flag is negative.
const NULL: i64 = i64::MIN;

/// Where [`RowInts`] holds the account and the principal key.
const ACCOUNT: usize = 2;
const PKEY: usize = 4;

/// A [`RowInts`] value as SQL: `None` for [`NULL`].
fn value(v: i64) -> Option<i64> {
    (v != NULL).then_some(v)
}
