//! `trailhound pivot`: everything about one principal, IP, key, session or resource.

use std::io::Write;

use clap::{Args, ValueEnum};
use trailhound_store::{Count, Pivot, PivotKind};

use super::query::{RangeArgs, StoreDirArg, open_read_only};
use super::search::event_table;

/// What to pivot on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PivotOn {
    /// A principal ARN, role ARN or user name.
    Principal,
    /// A source IP address.
    Ip,
    /// An access key id.
    Key,
    /// A session (`principalId`, e.g. `AROA…:session-name`).
    Session,
    /// A resource: any word of the request or response (bucket, instance id…).
    Resource,
}

impl From<PivotOn> for PivotKind {
    fn from(on: PivotOn) -> Self {
        match on {
            PivotOn::Principal => PivotKind::Principal,
            PivotOn::Ip => PivotKind::Ip,
            PivotOn::Key => PivotKind::Key,
            PivotOn::Session => PivotKind::Session,
            PivotOn::Resource => PivotKind::Resource,
        }
    }
}

/// Output format of `trailhound pivot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PivotFormat {
    /// Sections for people.
    Text,
    /// One JSON document.
    Json,
}

/// Arguments of `trailhound pivot`.
#[derive(Debug, Args)]
pub struct PivotArgs {
    /// What VALUE is.
    #[arg(value_enum)]
    pub kind: PivotOn,
    /// The principal, IP, key, session or resource.
    pub value: String,
    #[command(flatten)]
    pub store: StoreDirArg,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Events shown in the timeline, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PivotFormat::Text)]
    pub format: PivotFormat,
}

fn counts(out: &mut dyn Write, title: &str, counts: &[Count]) -> std::io::Result<()> {
    if counts.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title}:")?;
    let width = counts
        .iter()
        .map(|c| c.count.to_string().len())
        .max()
        .unwrap_or(1);
    for c in counts {
        let value = if c.value.is_empty() {
            "(none)"
        } else {
            c.value.as_str()
        };
        writeln!(out, "  {:>width$}  {value}", c.count)?;
    }
    Ok(())
}

/// Writes a pivot for people.
///
/// # Errors
/// Output that cannot be written.
pub fn write_text(out: &mut dyn Write, pivot: &Pivot) -> std::io::Result<()> {
    writeln!(out, "{} {}", pivot.kind.as_str(), pivot.value)?;
    match (pivot.first_seen, pivot.last_seen) {
        (Some(first), Some(last)) => {
            writeln!(
                out,
                "  {} events, first seen {first}, last seen {last}",
                pivot.total
            )?;
        }
        _ => writeln!(out, "  no events")?,
    }
    counts(out, "APIs", &pivot.by_api)?;
    counts(out, "Regions", &pivot.by_region)?;
    counts(out, "Source IPs", &pivot.by_source_ip)?;
    counts(out, "User agents", &pivot.by_user_agent)?;
    counts(out, "Principals", &pivot.by_principal)?;
    writeln!(out, "\nAlerts ({}):", pivot.alerts.len())?;
    for stored in &pivot.alerts {
        let a = &stored.alert;
        writeln!(
            out,
            "  {} {:<8} {:<12} {} ({}, {} events, {}…{})",
            a.id,
            a.severity.as_str(),
            stored.status.as_str(),
            a.title,
            a.rule.id,
            a.event_count,
            a.first_seen,
            a.last_seen
        )?;
    }
    writeln!(
        out,
        "\nTimeline (newest {} of {}):",
        pivot.timeline.len(),
        pivot.total
    )?;
    event_table(out, &pivot.timeline)
}

/// Runs `trailhound pivot`.
///
/// # Errors
/// No store, or output that cannot be written.
pub fn run(args: &PivotArgs) -> anyhow::Result<u8> {
    let store = open_read_only(&args.store.dir)?;
    let pivot = store.pivot(
        args.kind.into(),
        &args.value,
        args.range.range(),
        args.limit,
    )?;
    let mut out = std::io::stdout().lock();
    match args.format {
        PivotFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &pivot)?;
            out.write_all(b"\n")?;
        }
        PivotFormat::Text => write_text(&mut out, &pivot)?,
    }
    out.flush()?;
    Ok(crate::EXIT_OK)
}
