//! The embedded event and alert store.
//!
//! One SQLite database (`DIR/trailhound.db`, WAL mode) holds:
//! - `ev`: one row per event with the CloudTrail hot fields as typed columns and the position
//!   of its raw record in a compressed block;
//! - `blocks`: the raw records, zstd-compressed in blocks (one per append and day);
//! - `events`: a view over `ev` adding `raw` and the JSON columns `request_parameters`,
//!   `response_elements`, `additional_event_data`, `service_event_details` (decompressed on
//!   demand by the `raw_json(block_id, slot)` SQL function);
//! - `events_fts`: a contentless FTS5 index of each event's searchable text;
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
mod export;
mod search;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Event, Timestamp, stable_hash_hex};

pub use export::{ExportFormat, ExportSummary};
pub use search::{Count, EventRow, Pivot, PivotKind, SearchQuery};

/// The database file name inside the store directory.
pub const DB_FILE: &str = "trailhound.db";

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
    /// zstd level for raw blocks (1–22; 3 is fast, 9+ is smaller and slower).
    pub zstd_level: i32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            read_only_data_as_counts: false,
            zstd_level: 3,
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
CREATE TABLE IF NOT EXISTS blocks (
    id INTEGER PRIMARY KEY,
    day INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_day ON blocks(day);
CREATE TABLE IF NOT EXISTS ev (
    id INTEGER PRIMARY KEY,
    day INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    event_source TEXT NOT NULL,
    event_name TEXT NOT NULL,
    aws_region TEXT,
    account TEXT NOT NULL,
    principal_arn TEXT,
    principal_key TEXT,
    identity_type TEXT,
    user_name TEXT,
    access_key_id TEXT,
    session TEXT,
    source_ip TEXT,
    user_agent TEXT,
    error_code TEXT,
    error_message TEXT,
    read_only INTEGER,
    management_event INTEGER,
    event_type TEXT,
    event_id TEXT NOT NULL,
    country TEXT,
    asn INTEGER,
    as_org TEXT,
    cloud TEXT,
    block_id INTEGER NOT NULL,
    slot INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ev_identity ON ev(event_id, account);
CREATE INDEX IF NOT EXISTS ev_time ON ev(event_time);
CREATE INDEX IF NOT EXISTS ev_day ON ev(day);
CREATE INDEX IF NOT EXISTS ev_name ON ev(event_name);
CREATE INDEX IF NOT EXISTS ev_principal ON ev(principal_key, event_time);
CREATE INDEX IF NOT EXISTS ev_key ON ev(access_key_id, event_time) WHERE access_key_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ev_ip ON ev(source_ip, event_time);
CREATE INDEX IF NOT EXISTS ev_session ON ev(session, event_time) WHERE session IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
    text, content='', contentless_delete=1, detail=none,
    tokenize="unicode61 tokenchars '.-_@'"
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
    PRIMARY KEY (alert_id, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_events_event ON alert_events(event_id);
DROP VIEW IF EXISTS events;
CREATE VIEW events AS SELECT
    id, day, event_time,
    strftime('%Y-%m-%dT%H:%M:%fZ', event_time / 1000.0, 'unixepoch') AS event_time_text,
    date(event_time / 1000, 'unixepoch') AS date,
    event_source, event_name, aws_region, account, principal_arn, principal_key,
    identity_type, user_name, access_key_id, session, source_ip, user_agent, error_code,
    error_message, read_only, management_event, event_type, event_id,
    country, asn, as_org, cloud, block_id, slot,
    raw_json(block_id, slot) AS raw,
    json_extract(raw_json(block_id, slot), '$.requestParameters') AS request_parameters,
    json_extract(raw_json(block_id, slot), '$.responseElements') AS response_elements,
    json_extract(raw_json(block_id, slot), '$.additionalEventData') AS additional_event_data,
    json_extract(raw_json(block_id, slot), '$.serviceEventDetails') AS service_event_details
FROM ev;
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
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
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
    /// When the directory cannot be created or the database cannot be opened or migrated.
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
        conn.execute_batch(
            "PRAGMA auto_vacuum = INCREMENTAL;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -524288;",
        )
        .map_err(sql("setting pragmas"))?;
        codec::register_raw_json(&conn, &path)?;
        conn.execute_batch(SCHEMA)
            .map_err(sql("creating the schema"))?;
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Store {
            conn,
            dir,
            options,
            read_only: false,
        })
    }

    /// Opens an existing store for reading only: every statement that would write fails.
    ///
    /// # Errors
    /// When the database is missing or cannot be opened.
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
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA temp_store = MEMORY;")
            .map_err(sql("setting pragmas"))?;
        codec::register_raw_json(&conn, &path)?;
        Ok(Store {
            conn,
            dir,
            options: StoreOptions::default(),
            read_only: true,
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

    /// Appends events in one transaction: either all new events of the call are visible or,
    /// when the writer dies first, none. Events already stored (same `eventID` and account)
    /// are skipped, so re-reading a file stores nothing twice.
    ///
    /// # Errors
    /// On SQLite or compression failures; the transaction is then rolled back.
    pub fn append_events(&mut self, events: &[Event]) -> Result<AppendSummary> {
        let mut summary = AppendSummary::default();
        if events.is_empty() {
            return Ok(summary);
        }
        let options = self.options;
        let tx = self.conn.transaction().map_err(sql("starting an append"))?;
        // Events to store as rows, grouped by day (one block per day).
        let mut fresh: Vec<(i64, &Event, String, String)> = Vec::with_capacity(events.len());
        {
            let mut exists = tx
                .prepare_cached("SELECT 1 FROM ev WHERE event_id = ?1 AND account = ?2")
                .map_err(sql("preparing the duplicate check"))?;
            let mut count = tx
                .prepare_cached(
                    "INSERT INTO event_counts (minute, account, event_source, event_name, principal_key, n)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1)
                     ON CONFLICT DO UPDATE SET n = n + 1",
                )
                .map_err(sql("preparing the count upsert"))?;
            let mut seen: HashSet<(String, String)> = HashSet::with_capacity(events.len());
            for event in events {
                let account = event.account_id().unwrap_or("").to_owned();
                if options.read_only_data_as_counts
                    && event.management_event() == Some(false)
                    && event.read_only() == Some(true)
                {
                    count
                        .execute(params![
                            event.event_time().floor_minute().as_millis(),
                            account,
                            event.event_source(),
                            event.event_name(),
                            event.principal_key().unwrap_or(""),
                        ])
                        .map_err(sql("counting an event"))?;
                    summary.counted += 1;
                    continue;
                }
                let id = if event.event_id().is_empty() {
                    stable_hash_hex(&[event.raw()])
                } else {
                    event.event_id().to_owned()
                };
                if !seen.insert((id.clone(), account.clone())) {
                    summary.duplicates += 1;
                    continue;
                }
                let known = exists
                    .query_row(params![id, account], |_| Ok(()))
                    .optional()
                    .map_err(sql("checking for a duplicate"))?
                    .is_some();
                if known {
                    summary.duplicates += 1;
                    continue;
                }
                fresh.push((event.event_time().day_number(), event, id, account));
            }
        }
        fresh.sort_by_key(|(day, e, _, _)| (*day, e.event_time()));
        {
            let mut insert_block = tx
                .prepare_cached("INSERT INTO blocks (day, n, data) VALUES (?1, ?2, ?3)")
                .map_err(sql("preparing the block insert"))?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO ev (day, event_time, event_source, event_name, aws_region, account,
                        principal_arn, principal_key, identity_type, user_name, access_key_id, session,
                        source_ip, user_agent, error_code, error_message, read_only, management_event,
                        event_type, event_id, country, asn, as_org, cloud, block_id, slot)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                        ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
                )
                .map_err(sql("preparing the event insert"))?;
            let mut insert_fts = tx
                .prepare_cached("INSERT INTO events_fts (rowid, text) VALUES (?1, ?2)")
                .map_err(sql("preparing the search insert"))?;
            let mut text = String::new();
            for chunk in fresh.chunk_by(|a, b| a.0 == b.0) {
                let day = chunk[0].0;
                let data = codec::encode_block(
                    chunk.iter().map(|(_, e, _, _)| e.raw()),
                    options.zstd_level,
                )?;
                insert_block
                    .execute(params![day, chunk.len() as i64, data])
                    .map_err(sql("storing a raw block"))?;
                let block_id = tx.last_insert_rowid();
                for (slot, (day, event, id, account)) in chunk.iter().enumerate() {
                    let identity = event.user_identity();
                    let enrichment = event.enrichment();
                    let ip = event.source().text.as_str();
                    insert
                        .execute(params![
                            day,
                            event.event_time().as_millis(),
                            event.event_source(),
                            event.event_name(),
                            non_empty(event.aws_region()),
                            account,
                            event.principal_arn(),
                            event.principal_key(),
                            non_empty(identity.type_name.as_str()),
                            identity.user_name.as_deref(),
                            identity.access_key_id.as_deref(),
                            identity.principal_id.as_deref(),
                            non_empty(ip),
                            event.user_agent(),
                            event.error_code(),
                            event.error_message(),
                            event.read_only(),
                            event.management_event(),
                            event.event_type(),
                            id,
                            enrichment.and_then(|e| e.country.as_deref()),
                            enrichment.and_then(|e| e.asn),
                            enrichment.and_then(|e| e.as_org.as_deref()),
                            enrichment.and_then(|e| e.cloud.as_deref()),
                            block_id,
                            slot as i64,
                        ])
                        .map_err(sql("storing an event"))?;
                    let rowid = tx.last_insert_rowid();
                    search::searchable_text(event, &mut text);
                    insert_fts
                        .execute(params![rowid, text])
                        .map_err(sql("indexing an event"))?;
                    summary.stored += 1;
                }
            }
        }
        tx.commit().map_err(sql("committing an append"))?;
        tracing::debug!(
            stored = summary.stored,
            duplicates = summary.duplicates,
            counted = summary.counted,
            "events appended"
        );
        Ok(summary)
    }

    /// Stores alerts (one transaction). An alert already stored (same id) gets its counts,
    /// time span and body refreshed; its triage fields are kept.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn append_alerts(&mut self, alerts: &[Alert]) -> Result<u64> {
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
            let mut link = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alert_events (alert_id, event_id) VALUES (?1, ?2)",
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
                for event in &alert.events {
                    link.execute(params![alert.id, event.event_id])
                        .map_err(sql("linking an alert"))?;
                }
                n += 1;
            }
        }
        tx.commit().map_err(sql("committing alerts"))?;
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

    /// Deletes events (rows, raw blocks, search entries and counts) older than `days` days
    /// before `now`'s day, then returns the freed pages to the filesystem. Alerts are kept.
    /// Returns the number of events deleted.
    ///
    /// # Errors
    /// On SQLite failures; the deletion is one transaction.
    pub fn apply_retention(&mut self, days: u32, now: Timestamp) -> Result<u64> {
        let cutoff = now.day_number() - i64::from(days);
        let tx = self.conn.transaction().map_err(sql("starting retention"))?;
        tx.execute(
            "DELETE FROM events_fts WHERE rowid IN (SELECT id FROM ev WHERE day < ?1)",
            [cutoff],
        )
        .map_err(sql("deleting search entries"))?;
        let deleted = tx
            .execute("DELETE FROM ev WHERE day < ?1", [cutoff])
            .map_err(sql("deleting events"))?;
        tx.execute("DELETE FROM blocks WHERE day < ?1", [cutoff])
            .map_err(sql("deleting raw blocks"))?;
        tx.execute(
            "DELETE FROM event_counts WHERE minute < ?1",
            [cutoff * 86_400_000],
        )
        .map_err(sql("deleting counts"))?;
        tx.commit().map_err(sql("committing retention"))?;
        self.conn
            .execute_batch("PRAGMA incremental_vacuum;")
            .map_err(sql("vacuuming"))?;
        tracing::info!(deleted, cutoff_day = cutoff, "retention applied");
        Ok(deleted as u64)
    }

    /// Number of stored event rows.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn event_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM ev", [], |r| r.get::<_, i64>(0))
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

    /// Writes the write-ahead log back into the main file.
    ///
    /// # Errors
    /// On SQLite failures.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(sql("checkpointing"))
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

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
