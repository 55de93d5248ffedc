//! `trailhound run`: the live daemon (docs/daemon.md). The sources, checkpoints and metrics
//! live in the `trailhound-live` crate; this module builds the engine and the alert output
//! from the configuration and hands them over.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use trailhound_core::Alert;
use trailhound_ingest::IngestOptions;
use trailhound_live::{AlertSink, DaemonOptions, SinkError};

use crate::config::Config;
use crate::engine::{EngineOptions, build_engine, build_enricher};
use crate::output::{AlertWriter, DEFAULT_WIDTH, Format};

/// Arguments of `trailhound run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (TOML) with a `[run]` section.
    #[arg(long, value_name = "F")]
    pub config: Option<PathBuf>,
    /// Event store directory (overrides `[run] store`).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Checkpoint directory (overrides `[run] state_dir`; default: the store directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Address of /healthz and /metrics (overrides `[run] listen`), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Follow this directory for new files too (repeatable).
    #[arg(long = "follow", value_name = "DIR")]
    pub follow: Vec<PathBuf>,
    /// Read JSON-lines records from stdin too; with no other source, stop at end of input.
    #[arg(long)]
    pub stdin: bool,
    /// Only these accounts (repeatable; overrides `[run] accounts`).
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// Extra rule directories.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Format of alerts on stdout.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Serve the web UI and JSON API on this address too (as `trailhound serve`; default
    /// `[server] listen` when set, else no web UI). Anything but loopback needs the token.
    #[arg(long, value_name = "ADDR")]
    pub web: Option<std::net::SocketAddr>,
}

/// Alerts to stdout, one write and flush per alert (the store keeps them too).
struct StdoutSink {
    writer: AlertWriter<std::io::Stdout>,
}

impl AlertSink for StdoutSink {
    fn submit(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.writer.write(alert)?;
        Ok(())
    }

    fn flush(&mut self, _timeout: Duration) -> Result<(), SinkError> {
        std::io::stdout().flush()?;
        Ok(())
    }
}

/// Alerts through the alert pipeline (`[alerts]`): suppression, dedup and chains, then the
/// durable outbox and the configured sinks; what the pipeline lets out is also printed.
///
/// `submit` returns only once the outputs are committed to the outbox, so the daemon
/// acknowledges its input after the alerts are durable: delivery is at least once.
struct PipelineSink {
    pipeline: Option<trailhound_alert::AlertPipeline>,
    stdout: StdoutSink,
    /// The suppressions file, reloaded when it changes (the web UI and
    /// `trailhound alerts suppress add` append to it while the daemon runs).
    suppressions: Option<Watched>,
}

/// A file whose changes are noticed by its modification time and length.
struct Watched {
    path: PathBuf,
    seen: Option<(std::time::SystemTime, u64)>,
}

impl Watched {
    fn new(path: PathBuf) -> Self {
        let seen = Self::stamp(&path);
        Watched { path, seen }
    }

    fn stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// True once after each change.
    fn changed(&mut self) -> bool {
        let now = Self::stamp(&self.path);
        if now == self.seen {
            return false;
        }
        self.seen = now;
        true
    }
}

impl PipelineSink {
    fn print(&mut self, outputs: Vec<trailhound_alert::Output>) -> Result<(), SinkError> {
        for output in outputs {
            self.stdout.submit(&output.alert)?;
        }
        Ok(())
    }
}

impl AlertSink for PipelineSink {
    fn submit(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let Some(pipeline) = self.pipeline.as_mut() else {
            return self.stdout.submit(alert);
        };
        if let Some(watched) = self.suppressions.as_mut()
            && watched.changed()
        {
            pipeline.reload_suppressions()?;
            tracing::info!(file = %watched.path.display(), "suppressions reloaded");
        }
        let outputs = pipeline.submit(alert.clone())?;
        self.print(outputs)
    }

    fn wants_events(&self) -> bool {
        self.pipeline
            .as_ref()
            .is_some_and(trailhound_alert::AlertPipeline::wants_events)
    }

    fn observe(&mut self, event: &trailhound_core::Event) -> Result<(), SinkError> {
        let Some(pipeline) = self.pipeline.as_mut() else {
            return Ok(());
        };
        let outputs = pipeline.observe(event)?;
        self.print(outputs)
    }

    fn flush(&mut self, timeout: Duration) -> Result<(), SinkError> {
        if let Some(pipeline) = self.pipeline.take() {
            let (outputs, report) = pipeline.shutdown(timeout)?;
            self.print(outputs)?;
            tracing::info!(delivery = %report.summary(), "alert pipeline flushed");
        }
        self.stdout.flush(timeout)
    }
}

/// The overview's ingest health from the daemon's counters.
fn live_health(metrics: &trailhound_live::Metrics) -> trailhound_server::IngestHealth {
    let now = trailhound_live::metrics::now_ms();
    let last = metrics.last_event_time_ms.load(Ordering::Relaxed);
    trailhound_server::IngestHealth {
        source: "live".to_owned(),
        events_per_second: metrics.events_per_second(),
        lag_seconds: (last > 0).then(|| (now - last) as f64 / 1000.0),
        errors: metrics.errors().values().sum(),
        events_read: metrics.events.load(Ordering::Relaxed),
        updated_at: Some(trailhound_core::Timestamp::from_millis(now)),
    }
}

/// Runs `trailhound run`.
///
/// # Errors
/// Invalid configuration, rules or checkpoint; a store or alert output failure.
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(
        matches!(args.format, Format::Jsonl | Format::Table),
        "run streams alerts: use --format jsonl or table"
    );
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let mut live = config.run.clone();
    if live.aws == trailhound_aws::AwsSettings::default() {
        live.aws = config.aws.clone();
    }
    if let Some(store) = &args.store {
        live.store = Some(store.clone());
    }
    if live.store.is_none() {
        live.store.clone_from(&config.store.dir);
    }
    if let Some(dir) = &args.state_dir {
        live.state_dir = Some(dir.clone());
    }
    if let Some(listen) = &args.listen {
        live.listen = Some(listen.clone());
    }
    if !args.accounts.is_empty() {
        live.accounts.clone_from(&args.accounts);
    }
    for dir in &args.follow {
        live.directories.push(trailhound_live::DirSource {
            path: dir.clone(),
            ..trailhound_live::DirSource::default()
        });
    }
    let engine = build_engine(
        &config,
        &EngineOptions {
            rules_dirs: args.rules.clone(),
            ..EngineOptions::default()
        },
    )?;
    let enricher = build_enricher(&config)?;
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_WIDTH);
    let stdout_sink = StdoutSink {
        writer: AlertWriter::new(stdout, args.format, colour, width),
    };
    // The alert pipeline: with sinks, its outbox lives in `[alerts] outbox`, else beside the
    // daemon's checkpoints.
    let mut alerts = config.alerts.clone();
    if alerts.outbox.is_none() {
        alerts.outbox = live
            .state_dir
            .as_ref()
            .or(live.store.as_ref())
            .map(|dir| dir.join("alerts"));
    }
    let suppressions = trailhound_alert::suppressions_path(&alerts, alerts.outbox.as_deref());
    // Without sinks every alert goes to stdout as raised (the store keeps them all); with
    // sinks, dedup, suppression and chains apply and stdout shows what the sinks are sent.
    let pipeline = match (&alerts.outbox, alerts.sinks.is_empty()) {
        (_, true) => None,
        (Some(dir), false) => Some(trailhound_alert::AlertPipeline::open(&alerts, dir)?),
        (None, false) => anyhow::bail!(
            "[alerts] sinks need an outbox directory: set [alerts] outbox or [run] state_dir"
        ),
    };
    let sink = PipelineSink {
        pipeline,
        stdout: stdout_sink,
        suppressions: suppressions.clone().map(Watched::new),
    };
    let metrics = Arc::new(trailhound_live::Metrics::default());
    // The web UI over the daemon's store, with ingest health from the daemon's counters.
    let web = match (args.web, config.server.listen) {
        (None, None) => None,
        (web, _) => {
            let store = live
                .store
                .clone()
                .context("the web UI needs a store directory (set [run] store or --store)")?;
            std::fs::create_dir_all(&store)
                .with_context(|| format!("cannot create store directory {}", store.display()))?;
            let (mut server, token) = super::serve::server_config(&config.server, web, &store)?;
            server.suppressions_file = suppressions;
            let counters = metrics.clone();
            let refresh = move || live_health(&counters);
            Some(super::serve::Background::start(
                server,
                token,
                Some(Box::new(refresh)),
            )?)
        }
    };
    let options = DaemonOptions {
        config: live,
        stdin: args.stdin,
        ingest: IngestOptions::default(),
        flush_timeout: Duration::from_secs(10),
        metrics: Some(metrics),
    };
    let result =
        trailhound_live::run(options, engine, enricher, Box::new(sink)).context("daemon failed");
    if let Some(web) = web {
        web.stop().context("web server")?;
    }
    let summary = result?;
    tracing::info!(
        events = summary.totals.events,
        alerts = summary.totals.alerts,
        secs = summary.elapsed.as_secs_f64(),
        "run finished"
    );
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "trailhound: run stopped: {} events detected, {} duplicates, {} replayed, {} alerts, {} dead-lettered, {} messages deleted",
        summary.totals.events,
        summary.totals.duplicates,
        summary.totals.replayed,
        summary.totals.alerts,
        summary.dead_lettered,
        summary.messages_deleted,
    );
    Ok(crate::EXIT_OK)
}
