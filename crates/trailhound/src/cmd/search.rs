//! `trailhound search`: full-text search over stored events.

use std::io::Write;

use anyhow::Context;
use clap::{Args, ValueEnum};
use trailhound_store::{EventRow, SearchQuery};

use super::query::{RangeArgs, StoreDirArg, open_read_only, write_table};

/// Output format of `trailhound search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per event (JSON lines).
    Json,
}

/// Arguments of `trailhound search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words that must all occur: an access key id, an IP, a bucket name, a free word.
    pub text: String,
    #[command(flatten)]
    pub store: StoreDirArg,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Exact match on a column, e.g. `--field event_source=iam.amazonaws.com` (repeatable).
    #[arg(long = "field", value_name = "K=V", value_parser = parse_field)]
    pub fields: Vec<(String, String)>,
    /// At most this many events, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
    pub format: SearchFormat,
}

fn parse_field(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected K=V, got {text:?}"))
}

/// The columns shown for events in tables.
pub(crate) fn event_table(out: &mut dyn Write, rows: &[EventRow]) -> std::io::Result<()> {
    let header: Vec<String> = [
        "time",
        "account",
        "source",
        "event",
        "principal",
        "ip",
        "key",
        "error",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.event_time.to_string(),
                r.account.clone(),
                r.event_source.trim_end_matches(".amazonaws.com").to_owned(),
                r.event_name.clone(),
                r.principal_arn.clone().unwrap_or_default(),
                r.source_ip.clone().unwrap_or_default(),
                r.access_key_id.clone().unwrap_or_default(),
                r.error_code.clone().unwrap_or_default(),
            ]
        })
        .collect();
    write_table(out, &header, &rows)
}

/// Runs `trailhound search`.
///
/// # Errors
/// No store, no searchable word, an unknown field, or output that cannot be written.
pub fn run(args: &SearchArgs) -> anyhow::Result<u8> {
    let store = open_read_only(&args.store.dir)?;
    let rows = store
        .search(&SearchQuery {
            text: args.text.clone(),
            range: args.range.range(),
            fields: args.fields.clone(),
            limit: args.limit,
        })
        .context("search failed")?;
    let mut out = std::io::stdout().lock();
    match args.format {
        SearchFormat::Json => {
            for row in &rows {
                serde_json::to_writer(&mut out, row)?;
                out.write_all(b"\n")?;
            }
        }
        SearchFormat::Table => {
            event_table(&mut out, &rows)?;
            writeln!(
                out,
                "({} event{})",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            )?;
        }
    }
    out.flush()?;
    Ok(crate::EXIT_OK)
}
