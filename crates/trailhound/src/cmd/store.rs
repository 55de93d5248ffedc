//! `trailhound store stats|prune`: what the event store holds, and retention by age; plus the
//! `[store]` configuration section.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use trailhound_core::Timestamp;
use trailhound_store::{Store, StoreOptions, StoreStats};

use super::query::{DEFAULT_STORE_DIR, StoreDirArg, open_read_only, write_table};

/// The `[store]` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// The store directory used when `--store` is not given (default `./trailhound-data`).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// `trailhound store prune` without `--older-than` keeps this many days.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Keep read-only data events (S3 `GetObject`, DynamoDB `GetItem`…) only as per-minute
    /// counts, not as rows.
    #[serde(default)]
    pub read_only_data_as_counts: bool,
    /// zstd level of the raw blocks (1–22, default 1).
    #[serde(default)]
    pub zstd_level: Option<i32>,
}

impl StoreSettings {
    /// The store options these settings give.
    #[must_use]
    pub fn options(&self) -> StoreOptions {
        let defaults = StoreOptions::default();
        StoreOptions {
            read_only_data_as_counts: self.read_only_data_as_counts,
            zstd_level: self.zstd_level.unwrap_or(defaults.zstd_level).clamp(1, 22),
        }
    }

    /// The store directory: `--store` when given, else `dir`, else `./trailhound-data`.
    #[must_use]
    pub fn resolve_dir(&self, arg: &StoreDirArg) -> PathBuf {
        match &self.dir {
            Some(dir) if arg.dir == Path::new(DEFAULT_STORE_DIR) => dir.clone(),
            _ => arg.dir.clone(),
        }
    }
}

/// Arguments of `trailhound store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: StoreAction,
}

/// A `trailhound store` subcommand.
#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Events, days, bytes on disk and compression of the store.
    Stats(StatsArgs),
    /// Delete the events of days older than a retention period (alerts are kept).
    Prune(PruneArgs),
}

/// Output format of `trailhound store stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// Lines for people.
    Text,
    /// One JSON document.
    Json,
}

/// Arguments of `trailhound store stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub store: StoreDirArg,
    /// Configuration file (its `[store]` section).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also list the bytes of every table and index (reads the whole database).
    #[arg(long)]
    pub tables: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Text)]
    pub format: StatsFormat,
}

/// Arguments of `trailhound store prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub store: StoreDirArg,
    /// Configuration file (its `[store]` section: `retention_days`, `dir`).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Keep this many days: `90d`, `12w` or a number of days. Default: `[store]
    /// retention_days`.
    #[arg(long, value_name = "AGE", value_parser = parse_days)]
    pub older_than: Option<u32>,
    /// The reference time (RFC 3339 or YYYY-MM-DD); default now.
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub now: Option<Timestamp>,
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| e.to_string())
}

/// `90d`, `12w` or `90` (days).
fn parse_days(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, 'd' | 'D')) => (&text[..i], 1),
        Some((i, 'w' | 'W')) => (&text[..i], 7),
        _ => (text, 1),
    };
    let n: u32 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 90d, 12w or 30"))?;
    n.checked_mul(unit)
        .ok_or_else(|| format!("{text:?} is too long"))
}

fn settings(config: Option<&Path>) -> anyhow::Result<StoreSettings> {
    Ok(match config {
        Some(path) => crate::config::Config::load(path)?.store,
        None => StoreSettings::default(),
    })
}

/// Runs `trailhound store`.
///
/// # Errors
/// No store, a failed deletion, or output that cannot be written.
pub fn run(args: &StoreArgs) -> anyhow::Result<u8> {
    match &args.action {
        StoreAction::Stats(a) => stats(a),
        StoreAction::Prune(a) => prune(a),
    }
}

fn stats(args: &StatsArgs) -> anyhow::Result<u8> {
    let settings = settings(args.config.as_deref())?;
    let dir = settings.resolve_dir(&args.store);
    let store = open_read_only(&dir)?;
    let stats = store
        .stats(args.tables)
        .with_context(|| format!("cannot read statistics of {}", dir.display()))?;
    let mut out = std::io::stdout().lock();
    match args.format {
        StatsFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&stats)?)?,
        StatsFormat::Text => write_stats(&mut out, &dir, &stats)?,
    }
    Ok(crate::EXIT_OK)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Writes the statistics for people.
///
/// # Errors
/// Output that cannot be written.
pub fn write_stats(out: &mut dyn Write, dir: &Path, s: &StoreStats) -> anyhow::Result<()> {
    writeln!(out, "store {}", dir.display())?;
    let span = match (s.first_event, s.last_event) {
        (Some(first), Some(last)) => format!(", {first} … {last}"),
        _ => String::new(),
    };
    writeln!(
        out,
        "  {} events in {} days, {} blocks{span}",
        s.events,
        s.days.len(),
        s.blocks
    )?;
    writeln!(
        out,
        "  raw JSON {}, compressed blocks {} ({}), on disk {} ({} of raw)",
        mb(s.raw_bytes),
        mb(s.compressed_bytes),
        percent(s.compressed_bytes, s.raw_bytes),
        mb(s.disk_bytes),
        percent(s.disk_bytes, s.raw_bytes)
    )?;
    writeln!(
        out,
        "  {} alerts, {} events kept as counts, {} dictionary strings",
        s.alerts, s.counted, s.dictionary_strings
    )?;
    if !s.days.is_empty() {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = s
            .days
            .iter()
            .map(|d| {
                vec![
                    d.date.clone(),
                    d.events.to_string(),
                    mb(d.raw_bytes),
                    mb(d.compressed_bytes),
                ]
            })
            .collect();
        let header = ["date", "events", "raw", "compressed"].map(str::to_owned);
        write_table(out, &header, &rows)?;
    }
    if !s.tables.is_empty() {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = s
            .tables
            .iter()
            .map(|t| vec![t.name.clone(), mb(t.bytes), percent(t.bytes, s.raw_bytes)])
            .collect();
        let header = ["table", "bytes", "of raw"].map(str::to_owned);
        write_table(out, &header, &rows)?;
    }
    Ok(())
}

fn prune(args: &PruneArgs) -> anyhow::Result<u8> {
    let settings = settings(args.config.as_deref())?;
    let days = args.older_than.or(settings.retention_days).context(
        "how long to keep? give --older-than (e.g. 90d) or retention_days in the [store] section",
    )?;
    let dir = settings.resolve_dir(&args.store);
    if !dir.join(trailhound_store::DB_FILE).exists() {
        anyhow::bail!("no event store at {}", dir.display());
    }
    let mut store = Store::open_with(&dir, settings.options())
        .with_context(|| format!("cannot open the event store {}", dir.display()))?;
    let now = args.now.unwrap_or_else(|| {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_millis(millis)
    });
    let cutoff =
        Timestamp::from_millis((now.day_number() - i64::from(days)).saturating_mul(86_400_000));
    let (y, m, d, ..) = cutoff.parts();
    let deleted = store
        .apply_retention(days, now)
        .with_context(|| format!("cannot prune {}", dir.display()))?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "trailhound: deleted {deleted} events of days before {y:04}-{m:02}-{d:02} ({days} days kept), {} events left",
        store.event_count()?
    );
    Ok(crate::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_days("90d"), Ok(90));
        assert_eq!(parse_days("2w"), Ok(14));
        assert_eq!(parse_days("30"), Ok(30));
        assert!(parse_days("soon").is_err());
    }

    #[test]
    fn config_dir_applies_only_without_store() {
        let settings = StoreSettings {
            dir: Some(PathBuf::from("/srv/th")),
            ..StoreSettings::default()
        };
        let default = StoreDirArg {
            dir: PathBuf::from(DEFAULT_STORE_DIR),
        };
        let given = StoreDirArg {
            dir: PathBuf::from("/tmp/other"),
        };
        assert_eq!(settings.resolve_dir(&default), PathBuf::from("/srv/th"));
        assert_eq!(settings.resolve_dir(&given), PathBuf::from("/tmp/other"));
        assert_eq!(settings.options().zstd_level, 1);
    }
}
