//! `trailhound query`: read-only SQL over the event store, and the options every store
//! command shares.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use trailhound_core::Timestamp;
use trailhound_store::{QueryResult, Store, TimeRange};

/// The store directory used when neither `--store` nor the configuration names one.
pub const DEFAULT_STORE_DIR: &str = "trailhound-data";

/// `--store DIR`, shared by every store command.
#[derive(Debug, Clone, Args)]
pub struct StoreDirArg {
    /// The event store directory.
    #[arg(long = "store", value_name = "DIR", default_value = DEFAULT_STORE_DIR, env = "TRAILHOUND_STORE")]
    pub dir: PathBuf,
}

/// `--since T` / `--until T`, shared by the store commands that take a window.
#[derive(Debug, Clone, Args)]
pub struct RangeArgs {
    /// Only events at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Only events before this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub until: Option<Timestamp>,
}

impl RangeArgs {
    /// The window.
    #[must_use]
    pub fn range(&self) -> TimeRange {
        TimeRange {
            since: self.since,
            until: self.until,
        }
    }
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| e.to_string())
}

/// Opens a store for reading, with a clear error when there is none.
///
/// # Errors
/// The store is missing or cannot be opened.
pub fn open_read_only(dir: &Path) -> anyhow::Result<Store> {
    Store::open_read_only(dir).with_context(|| {
        if dir.join(trailhound_store::DB_FILE).exists() {
            // There is one: the error says why it cannot be read (e.g. an older format).
            format!("cannot read the event store at {}", dir.display())
        } else {
            format!(
                "no event store at {} (fill one with `trailhound hunt --store DIR`)",
                dir.display()
            )
        }
    })
}

/// Output format of `trailhound query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per row (JSON lines).
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// Arguments of `trailhound query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// One read-only SQL statement over `events`, `alerts`, `alert_events` and
    /// `event_counts` (SQLite dialect with JSON functions).
    pub sql: String,
    #[command(flatten)]
    pub store: StoreDirArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

/// Runs `trailhound query`.
///
/// # Errors
/// No store, a statement that fails or writes, or output that cannot be written.
pub fn run(args: &QueryArgs) -> anyhow::Result<u8> {
    let store = open_read_only(&args.store.dir)?;
    let result = store.query(&args.sql)?;
    let mut out = std::io::stdout().lock();
    write_result(&mut out, &result, args.format)?;
    out.flush()?;
    Ok(crate::EXIT_OK)
}

fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes a query result in `format`.
///
/// # Errors
/// Output that cannot be written.
pub fn write_result(
    out: &mut dyn Write,
    result: &QueryResult,
    format: QueryFormat,
) -> anyhow::Result<()> {
    match format {
        QueryFormat::Json => {
            // Written by hand to keep the columns in query order.
            for row in &result.rows {
                let mut line = String::from("{");
                for (i, (column, value)) in result.columns.iter().zip(row).enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    line.push_str(&serde_json::to_string(column)?);
                    line.push(':');
                    line.push_str(&serde_json::to_string(value)?);
                }
                line.push_str("}\n");
                out.write_all(line.as_bytes())?;
            }
        }
        QueryFormat::Csv => {
            let line = |cells: Vec<String>| -> String {
                cells
                    .into_iter()
                    .map(|c| {
                        if c.contains([',', '"', '\n', '\r']) {
                            format!("\"{}\"", c.replace('"', "\"\""))
                        } else {
                            c
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            writeln!(out, "{}", line(result.columns.clone()))?;
            for row in &result.rows {
                writeln!(out, "{}", line(row.iter().map(cell).collect()))?;
            }
        }
        QueryFormat::Table => {
            let rows: Vec<Vec<String>> = result
                .rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| cell(v).replace(['\n', '\r', '\t'], " "))
                        .collect()
                })
                .collect();
            write_table(out, &result.columns, &rows)?;
            writeln!(
                out,
                "({} row{})",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}

/// Writes aligned columns; long cells are cut at 80 characters.
///
/// # Errors
/// Output that cannot be written.
pub fn write_table(
    out: &mut dyn Write,
    header: &[String],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    const MAX: usize = 80;
    let clip = |s: &str| -> String {
        if s.chars().count() > MAX {
            let mut cut: String = s.chars().take(MAX - 1).collect();
            cut.push('…');
            cut
        } else {
            s.to_owned()
        }
    };
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(clip(c).chars().count());
            }
        }
    }
    let write_row = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
        let line: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{:<width$}",
                    clip(c),
                    width = widths.get(i).copied().unwrap_or(0)
                )
            })
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())
    };
    write_row(out, header)?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    writeln!(out, "{}", rule.join("  "))?;
    for row in rows {
        write_row(out, row)?;
    }
    Ok(())
}

/// Events buffered by [`StoreSink`] before one append: large appends make large raw blocks,
/// which compress better and index faster. Two batches are in memory at once (one gathered,
/// one written); 65,536 made the peak RSS of a hunt with `--store` 978 MB, 32,768 about
/// 640 MB, at the same speed.
pub const SINK_BATCH: usize = 32_768;

/// The event store as a hunt's sink (`hunt --store DIR`): every event in the window and
/// every alert is appended. Events are buffered up to [`SINK_BATCH`] and appended in one
/// transaction with the alerts raised meanwhile, on a thread of their own, so detection goes
/// on while a batch is written; the final call (no events) flushes and waits.
#[derive(Debug)]
pub struct StoreSink {
    /// The store, while no batch is being written.
    idle: Option<Store>,
    /// The thread writing a batch, which owns the store meanwhile.
    writer: Option<StoreWriter>,
    buffer: Vec<trailhound_core::Event>,
    alerts: Vec<trailhound_core::Alert>,
}

/// Events and alerts for one append.
type SinkJob = (Vec<trailhound_core::Event>, Vec<trailhound_core::Alert>);

/// The store's writing thread: takes one batch at a time (a rendezvous channel, so at most
/// one batch waits in memory besides the one being gathered) and hands the store back when
/// its channel closes.
#[derive(Debug)]
struct StoreWriter {
    jobs: std::sync::mpsc::SyncSender<SinkJob>,
    thread: std::thread::JoinHandle<anyhow::Result<Store>>,
}

impl StoreWriter {
    fn spawn(mut store: Store) -> anyhow::Result<StoreWriter> {
        let (jobs, incoming) = std::sync::mpsc::sync_channel::<SinkJob>(0);
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                for (events, alerts) in incoming {
                    if !events.is_empty() {
                        store
                            .append_events(&events)
                            .context("cannot store events")?;
                    }
                    if !alerts.is_empty() {
                        store
                            .append_alerts(&alerts)
                            .context("cannot store alerts")?;
                    }
                }
                Ok(store)
            })
            .context("cannot start the store writer")?;
        Ok(StoreWriter { jobs, thread })
    }

    /// Closes the channel and waits for the writes before: the store, or their error.
    fn finish(self) -> anyhow::Result<Store> {
        drop(self.jobs);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the store writer panicked"))?
    }
}

/// Bytes of inflated JSON per event that [`StoreSink::decoder_pool_bytes`] pools for
/// (CloudTrail records are 1–2 KB; two batches are held at once).
const HELD_BYTES_PER_EVENT: usize = 4 << 10;

impl StoreSink {
    /// The document pool each of `threads` decoding threads should keep while a sink takes
    /// their events (`IngestOptions::pooled_bytes`): the sink holds up to two batches of
    /// events, and their files' buffers, while it writes them, then frees a batch's at once;
    /// the pools take those buffers back for the next files instead of the allocator
    /// returning them to the kernel.
    #[must_use]
    pub fn decoder_pool_bytes(threads: usize) -> usize {
        (SINK_BATCH * HELD_BYTES_PER_EVENT / threads.max(1))
            .max(trailhound_ingest::DEFAULT_POOLED_BYTES)
    }

    /// Opens (creating when missing) the store in `dir` with default options.
    ///
    /// # Errors
    /// The directory or database cannot be created or opened.
    pub fn open(dir: &Path) -> anyhow::Result<StoreSink> {
        StoreSink::open_with(dir, trailhound_store::StoreOptions::default())
    }

    /// Opens (creating when missing) the store in `dir` with `options` (see the `[store]`
    /// configuration section).
    ///
    /// # Errors
    /// The directory or database cannot be created or opened.
    pub fn open_with(
        dir: &Path,
        options: trailhound_store::StoreOptions,
    ) -> anyhow::Result<StoreSink> {
        let store = Store::open_with(dir, options)
            .with_context(|| format!("cannot open the event store {}", dir.display()))?;
        Ok(StoreSink {
            idle: Some(store),
            writer: None,
            buffer: Vec::new(),
            alerts: Vec::new(),
        })
    }

    /// Takes the events of a batch inside `[since, until)` and the alerts raised so far;
    /// hands them to the writer when [`SINK_BATCH`] events are waiting.
    ///
    /// # Errors
    /// The store cannot be written (an earlier append failed).
    pub fn append(
        &mut self,
        events: Vec<trailhound_core::Event>,
        alerts: &[trailhound_core::Alert],
        since: Timestamp,
        until: Timestamp,
    ) -> anyhow::Result<()> {
        // Kept as they are until the batch is written, reading their records in place: the
        // store keeps every record of a file anyway, so a copy of each (as correlation
        // windows keep) would only cost an allocation and a copy per event, about a tenth of
        // a `hunt --store`'s CPU. Their files' buffers go back to the decoders once written.
        self.buffer.extend(
            events
                .into_iter()
                .filter(|e| (since..until).contains(&e.event_time())),
        );
        self.alerts.extend_from_slice(alerts);
        if self.buffer.len() >= SINK_BATCH {
            self.send()?;
        }
        Ok(())
    }

    /// Takes the last alerts of a hunt, appends what is buffered and waits until every
    /// append is written.
    ///
    /// # Errors
    /// The store cannot be written.
    pub fn finish(&mut self, alerts: &[trailhound_core::Alert]) -> anyhow::Result<()> {
        self.alerts.extend_from_slice(alerts);
        self.flush()
    }

    /// Hands what is buffered to the writer (events first, then alerts, so they link to
    /// their events), starting it when idle.
    fn send(&mut self) -> anyhow::Result<()> {
        if self.buffer.is_empty() && self.alerts.is_empty() {
            return Ok(());
        }
        let writer = match (self.writer.take(), self.idle.take()) {
            (Some(writer), _) => writer,
            (None, Some(store)) => StoreWriter::spawn(store)?,
            (None, None) => anyhow::bail!("the event store was closed after an error"),
        };
        let job = (
            std::mem::take(&mut self.buffer),
            std::mem::take(&mut self.alerts),
        );
        match writer.jobs.send(job) {
            Ok(()) => {
                self.writer = Some(writer);
                Ok(())
            }
            // The writer stopped on an error: report it.
            Err(_) => writer.finish().map(|_| ()),
        }
    }

    /// Appends what is buffered and waits until every append is written.
    ///
    /// # Errors
    /// The store cannot be written.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.send()?;
        if let Some(writer) = self.writer.take() {
            self.idle = Some(writer.finish()?);
        }
        Ok(())
    }
}

impl Drop for StoreSink {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(error = %format!("{e:#}"), "events left unstored");
        }
    }
}
