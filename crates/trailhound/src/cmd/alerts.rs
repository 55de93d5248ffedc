//! `trailhound alerts`: the alert pipeline's outbox and suppressions (docs/alerts.md).
//!
//! - `alerts status`: pending, retrying, delivered and failed messages per sink.
//! - `alerts deliver`: delivers what is pending (after a crash, or a sink outage), then exits.
//! - `alerts retry`: puts failed messages back to pending.
//! - `alerts suppress add|list|remove`: the suppressions file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use trailhound_alert::suppress::{Suppression, SuppressionFile};
use trailhound_alert::{AlertConfig, AlertPipeline, DurationText, Outbox};
use trailhound_core::Timestamp;

use crate::config::Config;

/// Arguments of `trailhound alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// The action.
    #[command(subcommand)]
    pub action: AlertsAction,
}

/// Where the pipeline's state is.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Configuration file (TOML) with the `[alerts]` section.
    #[arg(long, value_name = "F")]
    pub config: Option<PathBuf>,
    /// Outbox directory (overrides `[alerts] outbox`).
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
}

impl StateArgs {
    fn load(&self) -> anyhow::Result<(AlertConfig, Option<PathBuf>)> {
        let config = match &self.config {
            Some(path) => Config::load(path)?.alerts,
            None => AlertConfig::default(),
        };
        let dir = self.outbox.clone().or_else(|| config.outbox.clone());
        Ok((config, dir))
    }

    fn outbox_dir(&self) -> anyhow::Result<(AlertConfig, PathBuf)> {
        let (config, dir) = self.load()?;
        let dir = dir.context("no outbox directory: pass --outbox DIR or set [alerts] outbox")?;
        Ok((config, dir))
    }
}

/// Output format of `alerts status` and `alerts suppress list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// JSON.
    Json,
}

/// The `alerts` actions.
#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Pending, retrying, delivered and failed messages per sink.
    Status {
        /// Where the outbox is.
        #[command(flatten)]
        state: StateArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Deliver pending messages to the configured sinks, then exit (1 if some remain).
    Deliver {
        /// Where the outbox and sinks are.
        #[command(flatten)]
        state: StateArgs,
        /// Longest wait for delivery.
        #[arg(long, value_name = "DURATION", default_value = "60s")]
        timeout: DurationText,
    },
    /// Put failed messages back to pending (all sinks, or one).
    Retry {
        /// Where the outbox is.
        #[command(flatten)]
        state: StateArgs,
        /// Only this sink.
        #[arg(long)]
        sink: Option<String>,
    },
    /// Suppressions: add, list, remove.
    Suppress {
        /// The action.
        #[command(subcommand)]
        action: SuppressAction,
    },
}

/// The `alerts suppress` actions.
#[derive(Debug, Subcommand)]
pub enum SuppressAction {
    /// Add a suppression to the suppressions file.
    Add {
        /// Where the suppressions file is.
        #[command(flatten)]
        state: StateArgs,
        /// A condition FIELD=GLOB (repeatable; all must match; a field given twice matches
        /// either pattern). Fields: rule, rule.name, kind, severity, title, principal,
        /// account, source_ip, region, access_key, user_agent, group_key, context.KEY.
        #[arg(long = "match", value_name = "FIELD=GLOB", required = true)]
        conditions: Vec<String>,
        /// Why these alerts are expected.
        #[arg(long, required = true)]
        reason: String,
        /// Who adds it (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Expiry (RFC 3339 or YYYY-MM-DD), compared with the alerts' event time.
        #[arg(long, value_name = "T", value_parser = parse_time)]
        expires: Option<Timestamp>,
        /// Expiry relative to now (`30d`, `12h`).
        #[arg(long = "for", value_name = "DURATION", conflicts_with = "expires")]
        valid_for: Option<DurationText>,
    },
    /// List the suppressions in force (config and file).
    List {
        /// Where the suppressions file is.
        #[command(flatten)]
        state: StateArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Remove a suppression from the file by id.
    Remove {
        /// Where the suppressions file is.
        #[command(flatten)]
        state: StateArgs,
        /// The suppression id (`sup-…`).
        id: String,
    },
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| e.to_string())
}

fn now() -> Timestamp {
    Timestamp::from_millis(trailhound_alert::outbox::now_ms())
}

fn suppressions_file(state: &StateArgs) -> anyhow::Result<(AlertConfig, SuppressionFile)> {
    let (config, dir) = state.load()?;
    let path = trailhound_alert::suppressions_path(&config, dir.as_deref()).context(
        "no suppressions file: pass --outbox DIR, or set [alerts] outbox or suppressions_file",
    )?;
    let file = SuppressionFile::open(&path)?;
    Ok((config, file))
}

/// Runs `trailhound alerts`.
///
/// # Errors
/// Unreadable config, outbox or suppressions file; output that cannot be written.
pub fn run(args: &AlertsArgs) -> anyhow::Result<u8> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match &args.action {
        AlertsAction::Status { state, format } => {
            let (config, dir) = state.outbox_dir()?;
            status(&mut out, &config, &dir, *format)
        }
        AlertsAction::Deliver { state, timeout } => {
            let (config, dir) = state.outbox_dir()?;
            anyhow::ensure!(
                !config.sinks.is_empty(),
                "no sinks configured in [alerts]: nothing to deliver to"
            );
            let pipeline = AlertPipeline::open(&config, &dir)?;
            let (_, report) = pipeline.shutdown(timeout.0)?;
            writeln!(out, "{}", report.summary())?;
            Ok(if report.pending > 0 || report.failed > 0 {
                crate::EXIT_FINDINGS
            } else {
                crate::EXIT_OK
            })
        }
        AlertsAction::Retry { state, sink } => {
            let (_, dir) = state.outbox_dir()?;
            let outbox = Outbox::open(&dir)?;
            let n = outbox.retry_failed(sink.as_deref())?;
            writeln!(out, "{n} failed message(s) back to pending")?;
            Ok(crate::EXIT_OK)
        }
        AlertsAction::Suppress { action } => suppress(&mut out, action),
    }
}

fn status(
    out: &mut impl Write,
    config: &AlertConfig,
    dir: &Path,
    format: ListFormat,
) -> anyhow::Result<u8> {
    let outbox = Outbox::open(dir)?;
    let names: Vec<String> = config.sinks.iter().map(|s| s.name.clone()).collect();
    let sinks = outbox.status(&names)?;
    if format == ListFormat::Json {
        let value = serde_json::json!({
            "outbox": outbox.path(),
            "messages": outbox.message_count()?,
            "sinks": sinks,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(crate::EXIT_OK);
    }
    writeln!(
        out,
        "outbox {} ({} messages)",
        outbox.path().display(),
        outbox.message_count()?
    )?;
    writeln!(
        out,
        "{:<20} {:>9} {:>8} {:>8} {:>7}  LAST ERROR",
        "SINK", "DELIVERED", "PENDING", "RETRYING", "FAILED"
    )?;
    for s in &sinks {
        let configured = if names.contains(&s.sink) {
            ""
        } else {
            " (not configured)"
        };
        writeln!(
            out,
            "{:<20} {:>9} {:>8} {:>8} {:>7}  {}{configured}",
            s.sink,
            s.delivered,
            s.pending,
            s.retrying,
            s.failed,
            s.last_error.as_deref().unwrap_or("-")
        )?;
    }
    Ok(crate::EXIT_OK)
}

fn suppress(out: &mut impl Write, action: &SuppressAction) -> anyhow::Result<u8> {
    match action {
        SuppressAction::Add {
            state,
            conditions,
            reason,
            by,
            expires,
            valid_for,
        } => {
            let (_, mut file) = suppressions_file(state)?;
            let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for condition in conditions {
                let (field, pattern) = condition
                    .split_once('=')
                    .with_context(|| format!("condition {condition:?} is not FIELD=GLOB"))?;
                map.entry(field.trim().to_owned())
                    .or_default()
                    .push(pattern.to_owned());
            }
            let created_at = now();
            let expires =
                expires.or_else(|| valid_for.map(|d| created_at.add_millis(d.as_millis_i64())));
            let by = by.clone().or_else(|| std::env::var("USER").ok());
            let suppression = Suppression::new(map, reason.clone(), by, Some(created_at), expires);
            let id = file.add(suppression)?;
            writeln!(out, "added suppression {id} to {}", file.path().display())?;
            Ok(crate::EXIT_OK)
        }
        SuppressAction::List { state, format } => {
            let (config, file) = suppressions_file(state)?;
            let all: Vec<(&str, &Suppression)> = config
                .suppress
                .iter()
                .map(|s| ("config", s))
                .chain(file.list().iter().map(|s| ("file", s)))
                .collect();
            if *format == ListFormat::Json {
                let list: Vec<serde_json::Value> = all
                    .iter()
                    .map(|(from, s)| {
                        let mut v = serde_json::to_value(s).unwrap_or_default();
                        v["source"] = (*from).into();
                        v
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
                return Ok(crate::EXIT_OK);
            }
            writeln!(
                out,
                "{:<16} {:<6} {:<20} {:<20} CONDITIONS / REASON",
                "ID", "FROM", "EXPIRES", "BY"
            )?;
            for (from, s) in all {
                let conditions: Vec<String> = s
                    .conditions
                    .iter()
                    .map(|(f, p)| format!("{f}={}", p.join("|")))
                    .collect();
                writeln!(
                    out,
                    "{:<16} {:<6} {:<20} {:<20} {} / {}",
                    if s.id.is_empty() { "-" } else { &s.id },
                    from,
                    s.expires
                        .map_or_else(|| "never".to_owned(), |t| t.to_string()),
                    s.created_by.as_deref().unwrap_or("-"),
                    conditions.join(" "),
                    s.reason
                )?;
            }
            Ok(crate::EXIT_OK)
        }
        SuppressAction::Remove { state, id } => {
            let (_, mut file) = suppressions_file(state)?;
            if file.remove(id)? {
                writeln!(out, "removed suppression {id}")?;
                Ok(crate::EXIT_OK)
            } else {
                anyhow::bail!("no suppression {id} in {}", file.path().display())
            }
        }
    }
}

/// The hunt's use of the pipeline: builds it when `[alerts]` is active or `--outbox` is given.
///
/// # Errors
/// Invalid `[alerts]` configuration, outbox or sinks.
pub fn pipeline_for_hunt(
    config: &AlertConfig,
    outbox: Option<&Path>,
) -> anyhow::Result<Option<AlertPipeline>> {
    let dir = outbox.map(Path::to_owned).or_else(|| config.outbox.clone());
    if !config.is_active() && outbox.is_none() {
        return Ok(None);
    }
    let pipeline = match dir {
        Some(dir) => AlertPipeline::open(config, &dir)
            .with_context(|| format!("cannot open the alert pipeline in {}", dir.display()))?,
        None => AlertPipeline::without_outbox(config)?,
    };
    Ok(Some(pipeline))
}

/// How long `hunt` waits for delivery at the end by default.
pub const DEFAULT_DELIVERY_WAIT: Duration = Duration::from_secs(30);

/// Sees every event of a hunt after detection: feeds the pipeline's chain event stages.
#[derive(Clone)]
pub struct EventTap(std::sync::Arc<dyn Fn(&trailhound_core::Event) + Send + Sync>);

impl EventTap {
    /// Passes one event to the tap.
    pub fn observe(&self, event: &trailhound_core::Event) {
        (self.0)(event);
    }
}

impl std::fmt::Debug for EventTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventTap")
    }
}

struct HuntState {
    pipeline: Option<AlertPipeline>,
    /// Outputs caused by events (chain alerts), written with the next alert.
    pending: Vec<trailhound_core::Alert>,
    error: Option<trailhound_alert::Error>,
}

/// The alert pipeline as `hunt` drives it: alerts in, processed alerts out to stdout, the
/// outbox and the sinks in the background.
pub struct HuntPipeline {
    state: std::sync::Arc<std::sync::Mutex<HuntState>>,
}

impl HuntPipeline {
    /// The pipeline when `[alerts]` is active or `outbox` is given; `None` otherwise.
    ///
    /// # Errors
    /// Invalid `[alerts]` configuration, outbox or sinks.
    pub fn open(config: &AlertConfig, outbox: Option<&Path>) -> anyhow::Result<Option<Self>> {
        let Some(pipeline) = pipeline_for_hunt(config, outbox)? else {
            return Ok(None);
        };
        Ok(Some(HuntPipeline {
            state: std::sync::Arc::new(std::sync::Mutex::new(HuntState {
                pipeline: Some(pipeline),
                pending: Vec::new(),
                error: None,
            })),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HuntState> {
        // A panic while holding the lock leaves consistent data (every method finishes its
        // update before returning), so a poisoned lock is used as is.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tap to set as `HuntOptions::event_tap`, when a chain has event stages.
    #[must_use]
    pub fn event_tap(&self) -> Option<EventTap> {
        if !self
            .lock()
            .pipeline
            .as_ref()
            .is_some_and(AlertPipeline::wants_events)
        {
            return None;
        }
        let state = std::sync::Arc::clone(&self.state);
        Some(EventTap(std::sync::Arc::new(move |event| {
            let mut guard = state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let state = &mut *guard;
            let Some(pipeline) = state.pipeline.as_mut() else {
                return;
            };
            match pipeline.observe(event) {
                Ok(outputs) => state.pending.extend(outputs.into_iter().map(|o| o.alert)),
                Err(e) => {
                    state.error.get_or_insert(e);
                }
            }
        })))
    }

    /// Processes one alert; returns what to print (earlier chain alerts first).
    pub fn submit(&self, alert: &trailhound_core::Alert) -> Vec<trailhound_core::Alert> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut out = std::mem::take(&mut state.pending);
        if let Some(pipeline) = state.pipeline.as_mut() {
            match pipeline.submit(alert.clone()) {
                Ok(outputs) => out.extend(outputs.into_iter().map(|o| o.alert)),
                Err(e) => {
                    state.error.get_or_insert(e);
                }
            }
        }
        out
    }

    /// Closes the windows, waits up to `wait` for delivery, stops the workers. Returns the
    /// last alerts to print and a summary line.
    ///
    /// # Errors
    /// An outbox error met during the hunt or now.
    pub fn finish(self, wait: Duration) -> anyhow::Result<(Vec<trailhound_core::Alert>, String)> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if let Some(e) = state.error.take() {
            return Err(anyhow::Error::from(e).context("alert pipeline failed"));
        }
        let mut out = std::mem::take(&mut state.pending);
        let Some(pipeline) = state.pipeline.take() else {
            return Ok((out, String::new()));
        };
        let has_sinks = !pipeline.config().sinks.is_empty();
        let (outputs, report) = pipeline.shutdown(wait).context("alert pipeline failed")?;
        out.extend(outputs.into_iter().map(|o| o.alert));
        let mut summary = String::new();
        if has_sinks {
            summary = format!("delivery: {}", report.summary());
            if report.timed_out {
                summary.push_str(&format!(
                    " (still pending after {}; `trailhound alerts deliver` resumes)",
                    DurationText(wait)
                ));
            }
        }
        Ok((out, summary))
    }

    /// Processing counters so far.
    #[must_use]
    pub fn stats(&self) -> Option<trailhound_alert::ProcessStats> {
        self.lock().pipeline.as_ref().map(AlertPipeline::stats)
    }
}
