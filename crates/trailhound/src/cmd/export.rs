//! `trailhound export`: stored events to Hive-style Parquet or JSON-lines partitions.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use trailhound_store::ExportFormat;

use super::query::{RangeArgs, StoreDirArg, open_read_only};

/// Export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportAs {
    /// Apache Parquet (Snappy).
    Parquet,
    /// JSON lines: the raw CloudTrail records.
    Jsonl,
}

/// Arguments of `trailhound export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output directory; `date=YYYY-MM-DD/account=ID/part-00000.*` files are written in it.
    pub out: PathBuf,
    /// File format.
    #[arg(long, value_enum)]
    pub format: ExportAs,
    #[command(flatten)]
    pub store: StoreDirArg,
    #[command(flatten)]
    pub range: RangeArgs,
}

/// Runs `trailhound export`.
///
/// # Errors
/// No store, or files that cannot be written.
pub fn run(args: &ExportArgs) -> anyhow::Result<u8> {
    let store = open_read_only(&args.store.dir)?;
    let format = match args.format {
        ExportAs::Parquet => ExportFormat::Parquet,
        ExportAs::Jsonl => ExportFormat::Jsonl,
    };
    let summary = store
        .export(format, args.range.range(), &args.out)
        .with_context(|| format!("cannot export to {}", args.out.display()))?;
    let mut out = std::io::stdout().lock();
    for file in &summary.files {
        writeln!(out, "{}", args.out.join(file).display())?;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "trailhound: exported {} events in {} files",
        summary.events,
        summary.files.len()
    );
    Ok(crate::EXIT_OK)
}
