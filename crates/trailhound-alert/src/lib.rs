//! The alert pipeline: from detector alerts to people, without noise and without loss.
//!
//! ```text
//! Alert ─→ correlation chains ─→ suppression ─→ dedup ─→ Output ─→ outbox (SQLite, fsync) ─→ sink workers
//! Event ─→ chain event stages ─┘                               └─→ caller (stdout)
//! ```
//!
//! Processing ([`process::Processor`]) is pure and runs on event time. Every output routed
//! to a sink is committed to the durable outbox before any sink sees it; one worker thread
//! per sink delivers with retries (exponential backoff, jitter), and a restart resumes what
//! was not acknowledged. The alert id is stable, so receivers drop duplicates.
//!
//! The API the CLI, the daemon and the web server use:
//!
//! - [`AlertPipeline::open`]`(&AlertConfig, state_dir)`: processing, outbox and delivery
//!   workers; [`AlertPipeline::without_outbox`] for processing only (no sinks).
//! - [`AlertPipeline::observe`]`(&Event)`: events for the chains' event stages.
//! - [`AlertPipeline::submit`]`(Alert)`: process and durably enqueue; returns the outputs
//!   (new alerts, updates, chain alerts) for the caller's own output.
//! - [`AlertPipeline::advance`]`(watermark)`: close windows (`Timestamp::MAX` at the end).
//! - [`AlertPipeline::flush`]`(timeout)`, [`AlertPipeline::status`],
//!   [`AlertPipeline::shutdown`]`(timeout)`.
//! - [`suppress::SuppressionFile`] (`add`, `list`, `remove`, `matches`) for the CLI and UI.
//!
//! ```
//! use trailhound_alert::{AlertConfig, AlertPipeline};
//! use trailhound_core::{Alert, Event, Origin, RuleKind, RuleRef, Severity, Timestamp};
//!
//! let raw = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"cloudtrail.amazonaws.com",
//!   "eventName":"StopLogging","eventID":"e1","recipientAccountId":"123456789012",
//!   "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice"}}"#;
//! let event = Event::from_json(raw, Origin::new("inline", 0)).unwrap();
//! let rule = RuleRef { id: "TH1001".into(), name: "cloudtrail-logging-stopped".into(),
//!     kind: RuleKind::Builtin, author: None };
//! let alert = Alert::for_event(rule, Severity::High, "stopped".into(), "why".into(), &event);
//!
//! let mut pipeline = AlertPipeline::without_outbox(&AlertConfig::default()).unwrap();
//! assert_eq!(pipeline.submit(alert.clone()).unwrap().len(), 1);
//! // The same finding again within the dedup window: merged, nothing new goes out.
//! assert!(pipeline.submit(alert).unwrap().is_empty());
//! assert!(pipeline.advance(Timestamp::MAX).unwrap().is_empty());
//! ```

pub mod chain;
pub mod config;
mod delivery;
mod error;
pub mod fields;
pub mod outbox;
pub mod pattern;
pub mod process;
pub mod sink;
pub mod suppress;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use trailhound_core::{Alert, Event, Timestamp};

pub use config::{AlertConfig, DurationText, SinkConfig, SinkKind};
pub use delivery::SinkCounters;
pub use error::{Error, Result};
pub use outbox::{Outbox, SinkStatus};
pub use process::{Output, OutputKind, ProcessStats, Processor};

use crate::delivery::{Delivery, WorkerSettings};
use crate::sink::Message;
use crate::suppress::{SuppressionFile, Suppressions};

/// The suppressions file name in the state directory.
pub const SUPPRESSIONS_FILE: &str = "suppressions.jsonl";

/// Where the suppressions file is: `suppressions_file` from the config, else
/// `suppressions.jsonl` in the state directory, else none.
#[must_use]
pub fn suppressions_path(config: &AlertConfig, state_dir: Option<&Path>) -> Option<PathBuf> {
    config
        .suppressions_file
        .clone()
        .or_else(|| state_dir.map(|d| d.join(SUPPRESSIONS_FILE)))
}

/// What delivery looks like: per-sink counts from the outbox and this process's counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// Per-sink counts in the outbox.
    pub sinks: Vec<SinkStatus>,
    /// Per-sink counters of this process's workers.
    pub workers: Vec<SinkCounters>,
    /// Processing counters of this process.
    pub processing: ProcessStats,
    /// Messages in the outbox.
    pub messages: u64,
}

/// The outcome of waiting for delivery.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    /// Per-sink counts at the end of the wait.
    pub sinks: Vec<SinkStatus>,
    /// Not yet delivered, over the configured sinks.
    pub pending: u64,
    /// Given up, over the configured sinks.
    pub failed: u64,
    /// The wait ended at the timeout with messages still pending.
    pub timed_out: bool,
}

impl DeliveryReport {
    /// One line: `webhook: 10 delivered, 0 pending, 0 failed; …`.
    #[must_use]
    pub fn summary(&self) -> String {
        if self.sinks.is_empty() {
            return "no sinks".into();
        }
        self.sinks
            .iter()
            .map(|s| {
                format!(
                    "{}: {} delivered, {} pending, {} failed",
                    s.sink, s.delivered, s.pending, s.failed
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Processing plus durable delivery.
#[derive(Debug)]
pub struct AlertPipeline {
    config: AlertConfig,
    processor: Processor,
    outbox: Option<Outbox>,
    delivery: Option<Delivery>,
    sink_names: Vec<String>,
}

impl AlertPipeline {
    /// Opens the pipeline with its outbox in `state_dir` and starts one delivery worker per
    /// sink; undelivered messages of an earlier run are resumed.
    ///
    /// # Errors
    /// Invalid config, an unreadable suppressions file, an outbox that cannot be opened, or
    /// a sink that cannot be built (missing secret…).
    pub fn open(config: &AlertConfig, state_dir: &Path) -> Result<Self> {
        let processor = Processor::new(config, load_suppressions(config, Some(state_dir))?)?;
        let outbox = Outbox::open(state_dir)?;
        if let Some(retention) = config.retention {
            let pruned = outbox.prune(outbox::now_ms() - retention.as_millis_i64())?;
            tracing::debug!(pruned, "outbox pruned");
        }
        let mut workers = Vec::new();
        for sink in &config.sinks {
            workers.push(WorkerSettings {
                name: sink.name.clone(),
                sink: sink::build(sink, config.ui_url.as_deref())?,
                outbox_dir: state_dir.to_owned(),
                retry: config.retry.clone(),
                timeout: sink.timeout.0,
                queue_capacity: if config.queue_capacity == 0 {
                    1_024
                } else {
                    config.queue_capacity
                },
            });
        }
        let delivery = Delivery::start(workers)?;
        Ok(AlertPipeline {
            config: config.clone(),
            processor,
            outbox: Some(outbox),
            delivery: Some(delivery),
            sink_names: config.sinks.iter().map(|s| s.name.clone()).collect(),
        })
    }

    /// Processing only (dedup, suppression, chains), for output to the caller alone.
    ///
    /// # Errors
    /// Invalid config, sinks configured (they need an outbox), or an unreadable
    /// suppressions file.
    pub fn without_outbox(config: &AlertConfig) -> Result<Self> {
        if !config.sinks.is_empty() {
            return Err(Error::Config(
                "sinks need an outbox directory: set [alerts] outbox or pass --outbox".into(),
            ));
        }
        let processor =
            Processor::new(config, load_suppressions(config, config.outbox.as_deref())?)?;
        Ok(AlertPipeline {
            config: config.clone(),
            processor,
            outbox: None,
            delivery: None,
            sink_names: Vec::new(),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// Processing counters.
    #[must_use]
    pub fn stats(&self) -> ProcessStats {
        self.processor.stats()
    }

    /// Whether [`AlertPipeline::observe`] is needed (a chain has an event stage).
    #[must_use]
    pub fn wants_events(&self) -> bool {
        self.processor.wants_events()
    }

    /// Sees an event (for the chains' event stages); returns outputs it caused.
    ///
    /// # Errors
    /// The outbox cannot be written.
    pub fn observe(&mut self, event: &Event) -> Result<Vec<Output>> {
        let mut out = Vec::new();
        self.processor.observe(event, &mut out);
        self.enqueue(&out)?;
        Ok(out)
    }

    /// Processes an alert and durably enqueues its outputs for the sinks; returns the
    /// outputs.
    ///
    /// # Errors
    /// The outbox cannot be written.
    pub fn submit(&mut self, alert: Alert) -> Result<Vec<Output>> {
        let mut out = Vec::new();
        self.processor.submit(alert, &mut out);
        self.enqueue(&out)?;
        Ok(out)
    }

    /// Event time reached `watermark`; returns outputs (dedup `close` updates).
    ///
    /// # Errors
    /// The outbox cannot be written.
    pub fn advance(&mut self, watermark: Timestamp) -> Result<Vec<Output>> {
        let mut out = Vec::new();
        self.processor.advance(watermark, &mut out);
        self.enqueue(&out)?;
        Ok(out)
    }

    /// Reloads the suppressions file (after the CLI or UI added one).
    ///
    /// # Errors
    /// An unreadable suppressions file.
    pub fn reload_suppressions(&mut self) -> Result<()> {
        let dir = self
            .outbox
            .as_ref()
            .and_then(|o| o.path().parent())
            .map(Path::to_owned);
        let suppressions = load_suppressions(
            &self.config,
            dir.as_deref().or(self.config.outbox.as_deref()),
        )?;
        self.processor.set_suppressions(suppressions);
        Ok(())
    }

    fn enqueue(&mut self, outputs: &[Output]) -> Result<()> {
        let Some(outbox) = self.outbox.as_mut() else {
            return Ok(());
        };
        let mut rows = Vec::new();
        for output in outputs {
            let sinks: Vec<String> = self
                .config
                .sinks
                .iter()
                .filter(|s| sink::routes(s, output))
                .map(|s| s.name.clone())
                .collect();
            if sinks.is_empty() {
                continue;
            }
            let body = serde_json::to_string(&output.alert).map_err(|source| Error::Serialise {
                id: output.alert.id.clone(),
                source,
            })?;
            rows.push((output.clone(), body, sinks));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let seqs = outbox.enqueue(&rows)?;
        if let Some(delivery) = &self.delivery {
            for (seq, (output, body, sinks)) in seqs.into_iter().zip(rows) {
                let message = Arc::new(Message {
                    message_id: output.message_id(),
                    kind: output.kind.as_str().to_owned(),
                    body,
                });
                for sink in &sinks {
                    delivery.offer(sink, seq, &message);
                }
            }
        }
        Ok(())
    }

    /// Delivery counts and counters.
    ///
    /// # Errors
    /// The outbox cannot be read.
    pub fn status(&self) -> Result<Status> {
        let (sinks, messages) = match &self.outbox {
            Some(outbox) => (outbox.status(&self.sink_names)?, outbox.message_count()?),
            None => (Vec::new(), 0),
        };
        Ok(Status {
            sinks,
            workers: self
                .delivery
                .as_ref()
                .map(Delivery::counters)
                .unwrap_or_default(),
            processing: self.processor.stats(),
            messages,
        })
    }

    /// Waits up to `timeout` until every message for the configured sinks is delivered or
    /// given up.
    ///
    /// # Errors
    /// The outbox cannot be read.
    pub fn flush(&self, timeout: Duration) -> Result<DeliveryReport> {
        let deadline = Instant::now() + timeout;
        loop {
            let report = self.report()?;
            if report.pending == 0 {
                return Ok(report);
            }
            if Instant::now() >= deadline {
                return Ok(DeliveryReport {
                    timed_out: true,
                    ..report
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn report(&self) -> Result<DeliveryReport> {
        let Some(outbox) = &self.outbox else {
            return Ok(DeliveryReport::default());
        };
        let sinks: Vec<SinkStatus> = outbox
            .status(&self.sink_names)?
            .into_iter()
            .filter(|s| self.sink_names.contains(&s.sink))
            .collect();
        Ok(DeliveryReport {
            pending: sinks.iter().map(|s| s.pending).sum(),
            failed: sinks.iter().map(|s| s.failed).sum(),
            sinks,
            timed_out: false,
        })
    }

    /// Closes every window, waits up to `timeout` for delivery and stops the workers.
    /// Whatever is still pending stays in the outbox for the next run. Returns the outputs
    /// of the final window close with the report.
    ///
    /// # Errors
    /// The outbox cannot be read or written.
    pub fn shutdown(mut self, timeout: Duration) -> Result<(Vec<Output>, DeliveryReport)> {
        let deadline = Instant::now() + timeout;
        let outputs = self.advance(Timestamp::MAX)?;
        let report = self.flush(timeout)?;
        if let Some(delivery) = self.delivery.as_mut() {
            delivery.stop(deadline.max(Instant::now() + Duration::from_millis(100)));
        }
        Ok((outputs, report))
    }
}

fn load_suppressions(config: &AlertConfig, state_dir: Option<&Path>) -> Result<Suppressions> {
    let file = match suppressions_path(config, state_dir) {
        Some(path) => Some(SuppressionFile::open(&path)?),
        None => None,
    };
    Ok(Suppressions {
        config: config.suppress.clone(),
        file,
    })
}
