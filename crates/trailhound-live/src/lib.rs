//! The trailhound live daemon (`trailhound run`).
//!
//! Sources, configured in `[run]`: SQS queues carrying S3 object-created notifications (plain,
//! SNS-wrapped, CloudTrail's SNS notice, EventBridge `Object Created`) or EventBridge
//! CloudTrail events (the record in `detail`, minutes ahead of the S3 file); local
//! directories followed for new files; stdin. Objects are fetched through the AWS SDK, many
//! at once, and decoded with [`trailhound_ingest::decode_object`].
//!
//! One detection thread owns the engine and the store. Each unit of work (a message's records,
//! a file) is detected and committed to the store; its input is acknowledged (SQS message
//! deleted, file marked done) only after the next checkpoint, which saves the detectors'
//! state and the store's newest row id ([`checkpoint`]). After any crash the unacknowledged
//! input comes back; events the crashed run stored after its checkpoint (kept in the next
//! checkpoints as [`RowRanges`] until they return) are re-run through the detectors to rebuild
//! their state but not stored again, and alerts already stored (hence already handed to the
//! sink) are not sent again. An event arriving by both paths
//! (EventBridge and S3) is detected once: identities (`eventID` + account) are checked
//! against a bounded in-memory set, then the store.
//!
//! `/healthz` and Prometheus `/metrics` are served on `[run] listen` ([`metrics`]).

mod checkpoint;
mod config;
mod error;
mod local;
pub mod metrics;
pub mod notify;
mod process;
mod seen;
mod sqs;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};
use trailhound_core::Alert;
use trailhound_detect::Engine;
use trailhound_enrich::Enricher;
use trailhound_ingest::IngestOptions;
use trailhound_store::Store;

pub use checkpoint::{CHECKPOINT_FILE, Checkpoint, RowRanges};
pub use config::{DirSource, RunConfig, SqsSource};
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use process::Totals;
pub use seen::SeenSet;

/// An error of an alert sink.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Where alerts go. `submit` must make the alert durable (or deliver it) before returning:
/// the daemon treats a submitted alert as handed over.
pub trait AlertSink: Send {
    /// Takes one alert.
    ///
    /// # Errors
    /// The alert could not be taken; the daemon stops without acknowledging its input.
    fn submit(&mut self, alert: &Alert) -> std::result::Result<(), SinkError>;

    /// Waits (at most `timeout`) for alerts taken to be delivered.
    ///
    /// # Errors
    /// Delivery failed in a way the sink cannot recover from.
    fn flush(&mut self, _timeout: Duration) -> std::result::Result<(), SinkError> {
        Ok(())
    }

    /// Alerts taken but not yet delivered.
    fn backlog(&self) -> u64 {
        0
    }

    /// Whether the sink wants to see every detected event (correlation chains whose stages
    /// are raw events).
    fn wants_events(&self) -> bool {
        false
    }

    /// Sees one event after the detectors, before the unit's alerts are submitted.
    ///
    /// # Errors
    /// As [`AlertSink::submit`].
    fn observe(&mut self, _event: &trailhound_core::Event) -> std::result::Result<(), SinkError> {
        Ok(())
    }
}

/// Everything a daemon run needs besides the engine and sink.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The `[run]` settings (with command-line overrides applied).
    pub config: RunConfig,
    /// Read stdin as a source too.
    pub stdin: bool,
    /// Decoding limits.
    pub ingest: IngestOptions,
    /// How long the end of the run waits for the alert sink.
    pub flush_timeout: Duration,
    /// The counters to update, when the caller reads them too (the embedded web UI shows
    /// ingest health from them); fresh ones otherwise.
    pub metrics: Option<Arc<Metrics>>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Detection totals.
    pub totals: Totals,
    /// Poison objects and messages.
    pub dead_lettered: u64,
    /// SQS messages deleted.
    pub messages_deleted: u64,
    /// Errors and skipped input, by reason.
    pub errors: BTreeMap<String, u64>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs the daemon until SIGTERM/SIGINT, or until every source has ended (stdin and nothing
/// else). Builds its own tokio runtime.
///
/// # Errors
/// Invalid settings, an unreadable checkpoint or store, a metrics listener that cannot bind,
/// or a store or sink failure during the run (input is then left unacknowledged).
pub fn run(
    options: DaemonOptions,
    engine: Engine,
    enricher: Option<Enricher>,
    sink: Box<dyn AlertSink>,
) -> Result<Summary> {
    options.config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("trailhound-live")
        .build()
        .map_err(|e| Error::Runtime(e.to_string()))?;
    runtime.block_on(run_async(options, engine, enricher, sink))
}

async fn run_async(
    options: DaemonOptions,
    engine: Engine,
    enricher: Option<Enricher>,
    sink: Box<dyn AlertSink>,
) -> Result<Summary> {
    let started = Instant::now();
    let config = options.config;
    let store_dir = config
        .store
        .clone()
        .ok_or_else(|| Error::Config("no store directory (set [run] store or --store)".into()))?;
    if config.sqs.is_empty() && config.directories.is_empty() && !options.stdin {
        return Err(Error::Config(
            "no sources: configure [[run.sqs]] or [[run.directories]], or use --stdin".into(),
        ));
    }
    let state_dir = config
        .state_dir
        .clone()
        .unwrap_or_else(|| store_dir.clone());
    std::fs::create_dir_all(&state_dir).map_err(|source| Error::Io {
        context: "cannot create state directory",
        path: state_dir.clone(),
        source,
    })?;
    let metrics = options.metrics.clone().unwrap_or_default();
    let store = Store::open(&store_dir)?;
    let mut processor = process::Processor::new(process::ProcessorParts {
        engine,
        enricher,
        store,
        sink,
        seen_capacity: config.seen_capacity,
        accounts: config.accounts.clone(),
        checkpoint_path: checkpoint::path_in(&state_dir),
        metrics: metrics.clone(),
    })?;
    let done_files = processor.done_files().clone();

    let (shutdown_tx, shutdown) = watch::channel(false);
    let shutdown_tx = Arc::new(shutdown_tx);
    tokio::spawn(wait_for_signal(shutdown_tx.clone()));

    // /healthz and /metrics.
    let server = match &config.listen {
        Some(listen) => {
            let addr: SocketAddr = listen
                .parse()
                .map_err(|e| Error::Config(format!("listen {listen:?}: {e}")))?;
            if !addr.ip().is_loopback() {
                tracing::warn!(%addr, "metrics listener is not on a loopback address");
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Listen {
                    addr: listen.clone(),
                    source,
                })?;
            tracing::info!(%addr, "serving /healthz and /metrics");
            let app = metrics::router(metrics.clone());
            let mut stop = shutdown.clone();
            Some(tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
            }))
        }
        None => None,
    };
    tokio::spawn(rate_meter(metrics.clone(), shutdown.clone()));

    let (units_tx, mut units_rx) = mpsc::channel::<process::Unit>(64);
    let mut ingest = options.ingest.clone();
    ingest.max_object_bytes = config.max_object_mib.saturating_mul(1 << 20);

    // SQS queues.
    let shared = Arc::new(sqs::Shared {
        objects: Arc::new(Semaphore::new(config.max_objects_in_flight)),
        ingest: ingest.clone(),
        metrics: metrics.clone(),
    });
    let mut queues = Vec::new();
    for (index, source) in config.sqs.iter().enumerate() {
        let settings = source.aws.as_ref().unwrap_or(&config.aws);
        let sdk = trailhound_aws::load(settings).await;
        queues.push(Arc::new(sqs::QueueCtx {
            index,
            url: source.queue_url.clone(),
            dlq: source.dead_letter_queue_url.clone(),
            visibility: source.visibility_timeout_secs,
            wait: source.wait_time_secs,
            max_messages: source.max_messages,
            in_flight: Arc::new(Semaphore::new(source.max_messages_in_flight)),
            sqs: trailhound_aws::sqs_client(&sdk),
            s3: trailhound_aws::s3_client(&sdk),
        }));
    }
    let mut pollers = Vec::new();
    for queue in &queues {
        tracing::info!(queue = %queue.url, "consuming queue");
        pollers.push(tokio::spawn(sqs::poll(
            queue.clone(),
            shared.clone(),
            units_tx.clone(),
            shutdown.clone(),
        )));
        tokio::spawn(sqs::watch_depth(
            queue.clone(),
            metrics.clone(),
            Duration::from_secs(15),
            shutdown.clone(),
        ));
    }
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let acker = tokio::spawn(sqs::acker(queues.clone(), ack_rx, metrics.clone()));

    // Local sources.
    for dir in &config.directories {
        tracing::info!(dir = %dir.path.display(), "following directory");
        tokio::spawn(local::follow_dir(
            dir.path.clone(),
            Duration::from_millis(dir.poll_interval_ms.max(10)),
            done_files.clone(),
            ingest.clone(),
            metrics.clone(),
            units_tx.clone(),
            shutdown.clone(),
        ));
    }
    if options.stdin {
        tokio::spawn(local::read_stdin(
            1000,
            ingest.clone(),
            metrics.clone(),
            units_tx.clone(),
            shutdown.clone(),
        ));
    }
    drop(units_tx);

    // The detection loop, on a blocking thread.
    let interval = Duration::from_secs(config.checkpoint_interval_secs);
    let flush_timeout = options.flush_timeout;
    let loop_metrics = metrics.clone();
    let loop_shutdown = shutdown_tx.clone();
    let handle = tokio::runtime::Handle::current();
    let detection = tokio::task::spawn_blocking(move || -> Result<Totals> {
        let mut next = Instant::now() + interval;
        let mut dirty = false;
        let result = (|| -> Result<()> {
            loop {
                let wait = next.saturating_duration_since(Instant::now());
                match handle.block_on(tokio::time::timeout(wait, units_rx.recv())) {
                    Ok(Some(unit)) => {
                        processor.handle(unit)?;
                        dirty = true;
                    }
                    Ok(None) => break,
                    Err(_) => {}
                }
                if Instant::now() >= next {
                    if dirty || processor.has_pending() {
                        let acks = processor.checkpoint()?;
                        let _ = ack_tx.send(acks);
                        dirty = false;
                    }
                    next = Instant::now() + interval;
                }
            }
            let acks = processor.checkpoint()?;
            let _ = ack_tx.send(acks);
            processor.finish(flush_timeout)
        })();
        if let Err(e) = &result {
            loop_metrics.healthy.store(false, Ordering::Relaxed);
            tracing::error!(error = %e, "detection loop failed; stopping");
            let _ = loop_shutdown.send(true);
        }
        result.map(|()| processor.totals())
    });
    let totals = detection
        .await
        .map_err(|e| Error::Runtime(e.to_string()))??;
    let _ = shutdown_tx.send(true);
    for poller in pollers {
        let _ = poller.await;
    }
    let _ = acker.await;
    if let Some(server) = server {
        let _ = server.await;
    }
    let summary = Summary {
        totals,
        dead_lettered: metrics.dead_lettered.load(Ordering::Relaxed),
        messages_deleted: metrics.messages_deleted.load(Ordering::Relaxed),
        errors: metrics.errors(),
        elapsed: started.elapsed(),
    };
    tracing::info!(
        events = summary.totals.events,
        duplicates = summary.totals.duplicates,
        replayed = summary.totals.replayed,
        alerts = summary.totals.alerts,
        dead_lettered = summary.dead_lettered,
        "daemon stopped"
    );
    Ok(summary)
}

/// SIGTERM or SIGINT: stop taking new input, finish what is in flight.
async fn wait_for_signal(shutdown: Arc<watch::Sender<bool>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing in-flight work"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing in-flight work"),
            () = shutdown.closed() => return,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    let _ = shutdown.send(true);
}

/// Updates the events-per-second gauge every five seconds.
async fn rate_meter(metrics: Arc<Metrics>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_secs(5);
    let mut last = metrics.events.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let now = metrics.events.load(Ordering::Relaxed);
        metrics.set_events_per_second(now.saturating_sub(last) as f64 / every.as_secs_f64());
        last = now;
    }
}
