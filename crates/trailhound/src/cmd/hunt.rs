//! `trailhound hunt`: offline detection over files, directory trees and stdin.
//!
//! Ingest decodes objects in parallel and delivers them in input order; one detection thread
//! (the caller's) runs every event through the engine; alerts go to the output as they come.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Severity, Timestamp};
use trailhound_detect::{Engine, EngineStats};

use crate::detection::{Detected, Detection, WORK_EVENTS, Work};
use trailhound_ingest::{IngestOptions, IngestStats};

use crate::config::Config;
use crate::engine::{EngineOptions, build_engine};
use crate::output::{AlertWriter, DEFAULT_WIDTH, Format};

/// Arguments of `trailhound hunt`.
#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Files, directories (read recursively), `s3://bucket/prefix`, or `-` for stdin.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Configuration file (TOML).
    #[arg(long, value_name = "F")]
    pub config: Option<PathBuf>,
    /// Extra rule directories.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only events at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Only events before this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub until: Option<Timestamp>,
    /// No summary line and no progress bar on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Exit with 1 when an alert at or above this severity was raised.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Detector state file: loaded if it exists, saved at the end.
    #[arg(long, value_name = "F")]
    pub state: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Largest object after decompression, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = trailhound_ingest::DEFAULT_MAX_OBJECT_BYTES >> 20)]
    pub max_object_mib: u64,
    /// Largest record, in KiB.
    #[arg(long, value_name = "KIB", default_value_t = trailhound_ingest::DEFAULT_MAX_RECORD_BYTES >> 10)]
    pub max_record_kib: usize,
    /// Decoding threads (default: one per core, plus one).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Append every event and alert to the event store in DIR (see `trailhound query`).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Write the CloudTrail Insights records (Start/End) of the anomaly detectors to FILE, one
    /// JSON object per line.
    #[arg(long, value_name = "FILE")]
    pub insights_out: Option<PathBuf>,
    /// AWS access for `s3://` paths.
    #[command(flatten)]
    pub aws: crate::s3::AwsArgs,
    /// Alert pipeline outbox directory (overrides `[alerts] outbox`); turns the pipeline on:
    /// dedup, suppressions, correlation chains and sinks (docs/alerts.md).
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// Longest wait at the end for the alert sinks to take what is pending.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub delivery_wait: trailhound_alert::DurationText,
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| e.to_string())
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    text.parse()
        .map_err(|e: trailhound_core::Error| e.to_string())
}

/// Everything a hunt needs; [`run_hunt`] runs it. Other commands (`demo`) build one directly.
#[derive(Debug, Clone, Default)]
pub struct HuntOptions {
    /// Files, directories, or `-`.
    pub paths: Vec<String>,
    /// The configuration.
    pub config: Config,
    /// Command-line additions to the engine.
    pub engine: EngineOptions,
    /// Ingestion limits and threads.
    pub ingest: IngestOptions,
    /// Keep events at or after this time.
    pub since: Option<Timestamp>,
    /// Keep events before this time.
    pub until: Option<Timestamp>,
    /// Detector state file, loaded if present and saved at the end.
    pub state: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Event store directory: every event in the window and every alert is appended.
    pub store: Option<PathBuf>,
    /// Sees every event in the window after detection (the alert pipeline's chain stages).
    pub event_tap: Option<super::alerts::EventTap>,
}

/// What a hunt did.
#[derive(Debug, Clone, Default)]
pub struct HuntOutcome {
    /// Ingest counters.
    pub ingest: IngestStats,
    /// Digest files set aside.
    pub digest_files: Vec<std::sync::Arc<str>>,
    /// Engine counters.
    pub engine: EngineStats,
    /// Events outside `--since/--until`, not run through the engine.
    pub filtered: u64,
    /// Alerts by severity.
    pub alerts: BTreeMap<Severity, u64>,
    /// Wall time.
    pub elapsed: Duration,
}

impl HuntOutcome {
    /// Total alerts.
    #[must_use]
    pub fn alert_count(&self) -> u64 {
        self.alerts.values().sum()
    }

    /// The most severe alert raised, if any.
    #[must_use]
    pub fn max_severity(&self) -> Option<Severity> {
        self.alerts.keys().next_back().copied()
    }

    /// The one-line summary printed on stderr.
    #[must_use]
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.ingest.events as f64 / secs
        } else {
            0.0
        };
        let alerts = if self.alerts.is_empty() {
            "none".to_owned()
        } else {
            self.alerts
                .iter()
                .rev()
                .map(|(s, n)| format!("{s}={n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{} files, {} events, {:.1} MB read ({:.1} MB inflated) in {:.2}s, {:.0} events/s; \
             digests {}; skipped: {}; alerts: {}",
            self.ingest.files,
            self.ingest.events,
            self.ingest.bytes_read as f64 / 1e6,
            self.ingest.bytes_inflated as f64 / 1e6,
            secs,
            rate,
            self.ingest.digests,
            self.ingest.skipped_summary(),
            alerts,
        )
    }
}

/// The `--state` file envelope.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    detectors: serde_json::Map<String, serde_json::Value>,
}

fn load_state(engine: &mut Engine, path: &std::path::Path) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read state {}", path.display()))?;
    let state: StateFile = serde_json::from_str(&text)
        .with_context(|| format!("invalid state file {}", path.display()))?;
    anyhow::ensure!(
        state.version == 1,
        "unsupported state version {} in {}",
        state.version,
        path.display()
    );
    engine
        .load_state(state.detectors)
        .with_context(|| format!("cannot restore state {}", path.display()))
}

fn save_state(
    detectors: serde_json::Map<String, serde_json::Value>,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let state = StateFile {
        version: 1,
        detectors,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&state)?)
        .with_context(|| format!("cannot write state {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write state {}", path.display()))
}

/// Runs a hunt: ingest → engine → `on_alert` for each alert, in order.
///
/// # Errors
/// Unreadable input paths, rules or state; a state that cannot be saved.
pub fn run_hunt(
    options: &HuntOptions,
    on_alert: &mut dyn FnMut(&Alert),
) -> anyhow::Result<HuntOutcome> {
    let started = Instant::now();
    // `s3://` prefixes are listed (only the date folders of --since/--until) and read as objects.
    let inputs = crate::s3::discover(
        &options.paths,
        &options.config.aws,
        options.since,
        options.until,
    )?;
    let mut engine = build_engine(&options.config, &options.engine)?;
    // Enrichment hook: GeoIP/ASN/cloud tags are set before detection.
    let mut enricher = crate::engine::build_enricher(&options.config)?;
    if let Some(path) = &options.state {
        load_state(&mut engine, path)?;
    }
    let progress = options.progress.then(|| progress_bar(inputs.len() as u64));
    let mut outcome = HuntOutcome::default();
    let (since, until) = (
        options.since.unwrap_or(Timestamp::MIN),
        options.until.unwrap_or(Timestamp::MAX),
    );
    // Event store (--store): events and alerts are appended batch by batch.
    let mut store = options
        .store
        .as_deref()
        .map(|dir| super::query::StoreSink::open_with(dir, options.config.store.options()))
        .transpose()?;
    // What follows detection, in input order: the event tap and the alerts, then the store
    // (which takes the events).
    let mut deliver =
        |mut detected: Detected, counts: &mut BTreeMap<Severity, u64>| -> anyhow::Result<()> {
            let mut alerts = detected.alerts.iter().zip(&detected.raised_by).peekable();
            let mut emit = |(alert, _): (&Alert, _)| {
                *counts.entry(alert.severity).or_default() += 1;
                on_alert(alert);
            };
            // The pipeline's chain stages see each event, then the alerts it raised.
            if let Some(tap) = &options.event_tap {
                for (position, event) in detected.work.events().enumerate() {
                    tap.observe(event);
                    while let Some(raised) = alerts.next_if(|(_, by)| **by == Some(position)) {
                        emit(raised);
                    }
                }
            }
            alerts.for_each(emit);
            if let Some(sink) = store.as_mut() {
                if detected.work.batches.is_empty() {
                    // The end of the hunt: the alerts raised when the input ended.
                    sink.finish(&detected.alerts)?;
                } else {
                    let alerts = std::mem::take(&mut detected.alerts);
                    let batches = detected.into_batches();
                    let last = batches.len() - 1;
                    for (i, batch) in batches.into_iter().enumerate() {
                        let alerts: &[Alert] = if i == last { &alerts } else { &[] };
                        sink.append(batch.events, alerts, since, until)?;
                    }
                }
            }
            Ok(())
        };
    // Two detection threads when ingest may use more than one core (`--threads 1`: one).
    let split = options.ingest.threads > 1;
    let (report, finished) = std::thread::scope(|scope| -> anyhow::Result<_> {
        let mut detection = Detection::new(scope, engine, split);
        let mut work = Work::default();
        let mut failed = None;
        let report =
            trailhound_ingest::ingest(&inputs, &options.ingest, &mut |mut batch, stats| {
                let mut kept = Vec::with_capacity(batch.events.len());
                for (i, event) in batch.events.iter_mut().enumerate() {
                    let time = event.event_time();
                    if time < since || time >= until {
                        outcome.filtered += 1;
                        continue;
                    }
                    if let Some(enricher) = enricher.as_mut() {
                        enricher.enrich_mut(event);
                    }
                    kept.push(i);
                }
                work.push(batch, kept);
                if work.len() >= WORK_EVENTS || work.batches.len() >= WORK_EVENTS {
                    for detected in detection.submit(std::mem::take(&mut work)) {
                        if let Err(e) = deliver(detected, &mut outcome.alerts) {
                            failed = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                }
                if let Some(bar) = &progress {
                    let secs = started.elapsed().as_secs_f64().max(1e-3);
                    bar.set_position(stats.files);
                    bar.set_message(format!(
                        "{} events, {:.1} MB, {:.0} events/s",
                        stats.events,
                        stats.bytes_read as f64 / 1e6,
                        stats.events as f64 / secs
                    ));
                }
                ControlFlow::Continue(())
            });
        let mut done = detection.submit(std::mem::take(&mut work));
        let mut finished = detection.finish()?;
        let report = report?;
        if let Some(e) = failed {
            return Err(e);
        }
        done.append(&mut finished.done);
        for detected in done {
            deliver(detected, &mut outcome.alerts)?;
        }
        Ok((report, finished))
    })?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Some(path) = &options.state {
        save_state(finished.save_state(), path)?;
    }
    outcome.ingest = report.stats;
    outcome.digest_files = report.digest_files;
    outcome.engine = finished.stats();
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// Standard output for alerts. On a terminal every alert is shown at once; into a pipe or a
/// file, output is buffered and the alert writer's per-alert flush reaches the descriptor at
/// most every [`PacedOut::EVERY`], so a hunt raising many alerts is not one write per alert
/// (and a reader of the pipe still sees alerts while the hunt runs).
struct PacedOut<W: Write> {
    inner: std::io::BufWriter<W>,
    paced: bool,
    last_flush: Instant,
}

impl<W: Write> PacedOut<W> {
    const EVERY: Duration = Duration::from_millis(250);

    fn new(inner: W, paced: bool) -> Self {
        PacedOut {
            inner: std::io::BufWriter::with_capacity(1 << 16, inner),
            paced,
            last_flush: Instant::now(),
        }
    }

    /// Writes out everything buffered.
    fn flush_now(&mut self) -> std::io::Result<()> {
        self.last_flush = Instant::now();
        self.inner.flush()
    }
}

impl<W: Write> Write for PacedOut<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.paced && self.last_flush.elapsed() < Self::EVERY {
            return Ok(());
        }
        self.flush_now()
    }
}

/// Writes CloudTrail Insights records as JSON lines.
fn write_insights(path: &std::path::Path, records: &[serde_json::Value]) -> anyhow::Result<()> {
    let mut text = String::new();
    for record in records {
        text.push_str(&serde_json::to_string(record)?);
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("cannot write insights {}", path.display()))
}

fn progress_bar(files: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(files),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} files {msg} [{elapsed}]")
    {
        bar.set_style(style);
    }
    bar
}

/// Runs `trailhound hunt`.
///
/// # Errors
/// Unreadable input paths, config, rules or state; output that cannot be written.
pub fn run(args: HuntArgs) -> anyhow::Result<u8> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.aws = args.aws.apply(std::mem::take(&mut config.aws));
    let mut ingest = IngestOptions {
        max_object_bytes: args.max_object_mib.saturating_mul(1 << 20),
        max_record_bytes: args.max_record_kib.saturating_mul(1 << 10),
        ..IngestOptions::default()
    };
    if args.threads.is_none() && crate::s3::any_s3(&args.paths) {
        // Reading S3 waits on the network: more objects in flight than cores.
        ingest.threads = ingest.threads.max(crate::s3::S3_READ_THREADS);
        ingest.in_flight = ingest.threads * 16;
    }
    if let Some(threads) = args.threads {
        ingest.threads = threads.max(1);
        ingest.in_flight = ingest.threads * 16;
    }
    if args.store.is_some() {
        ingest.pooled_bytes = super::query::StoreSink::decoder_pool_bytes(ingest.threads);
    }
    let stderr_tty = std::io::stderr().is_terminal();
    // The alert pipeline (docs/alerts.md): on with an active `[alerts]` section or --outbox.
    let pipeline = super::alerts::HuntPipeline::open(&config.alerts, args.outbox.as_deref())?;
    let options = HuntOptions {
        event_tap: pipeline
            .as_ref()
            .and_then(super::alerts::HuntPipeline::event_tap),
        paths: args.paths,
        config,
        engine: EngineOptions {
            rules_dirs: args.rules,
            ..EngineOptions::default()
        },
        ingest,
        since: args.since,
        until: args.until,
        state: args.state,
        progress: stderr_tty && !args.quiet && !args.no_progress,
        store: args.store,
    };
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_WIDTH);
    let mut out = PacedOut::new(stdout.lock(), !stdout.is_terminal());
    let mut writer = AlertWriter::new(&mut out, args.format, colour, width);
    let mut write_error: Option<std::io::Error> = None;
    let outcome = run_hunt(&options, &mut |alert| {
        let processed = pipeline.as_ref().map(|p| p.submit(alert));
        let alerts = processed.as_deref().unwrap_or(std::slice::from_ref(alert));
        for alert in alerts {
            if write_error.is_none()
                && let Err(e) = writer.write(alert)
            {
                write_error = Some(e);
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(e).context("cannot write alerts");
    }
    let mut delivery_summary = String::new();
    if let Some(pipeline) = pipeline {
        let stats = pipeline.stats();
        let (last, summary) = pipeline.finish(args.delivery_wait.0)?;
        for alert in &last {
            writer.write(alert).context("cannot write alerts")?;
        }
        if let Some(s) = stats {
            delivery_summary = format!(
                "alert pipeline: {} in, {} suppressed, {} merged, {} chains, {} out; {summary}",
                s.submitted,
                s.suppressed,
                s.deduplicated,
                s.chains,
                s.emitted + last.len() as u64
            );
        }
    }
    writer.finish().context("cannot write alerts")?;
    out.flush_now().context("cannot write alerts")?;
    if let Some(path) = &args.insights_out {
        write_insights(path, &options.engine.insight_records.drain())?;
    }
    if !args.quiet {
        let mut err = std::io::stderr().lock();
        // The summary is informational; a closed stderr must not fail the hunt.
        let _ = writeln!(err, "trailhound: {}", outcome.summary());
        if !delivery_summary.is_empty() {
            let _ = writeln!(err, "trailhound: {delivery_summary}");
        }
    }
    let failed = args
        .fail_on
        .is_some_and(|min| outcome.max_severity().is_some_and(|max| max >= min));
    Ok(if failed {
        crate::EXIT_FINDINGS
    } else {
        crate::EXIT_OK
    })
}
