//! The detection loop: one thread owns the engine and the store; units of work come in from
//! every source, acknowledgements go out at checkpoints.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use trailhound_core::{Alert, Event, Timestamp, stable_hash_hex};
use trailhound_detect::Engine;
use trailhound_enrich::Enricher;
use trailhound_store::Store;

use crate::checkpoint::{Checkpoint, RowRanges};
use crate::metrics::{Metrics, now_ms};
use crate::seen::SeenSet;
use crate::{AlertSink, Error, Result};

/// How a unit's input is acknowledged once committed.
#[derive(Debug)]
pub(crate) enum Ack {
    /// Nothing to acknowledge (stdin).
    None,
    /// A local file, marked done in the next checkpoint.
    File(String),
    /// An SQS message, deleted after the next checkpoint.
    Sqs(SqsAck),
}

/// An SQS message to delete. Dropping it stops its visibility heartbeat.
#[derive(Debug)]
pub(crate) struct SqsAck {
    /// Index of the queue in the configuration.
    pub queue: usize,
    /// The receipt handle.
    pub receipt: String,
    /// Held while the message is being worked on; dropping it ends the heartbeat.
    pub _heartbeat: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The events of one message, object or file, and how to acknowledge it.
#[derive(Debug)]
pub(crate) struct Unit {
    /// Where the events came from (for logs).
    pub source: Arc<str>,
    /// The events, in the order read.
    pub events: Vec<Event>,
    /// How to acknowledge it.
    pub ack: Ack,
    /// When the input was sent or delivered (ms since the epoch), for the delivery lag.
    pub sent_ms: Option<i64>,
}

/// Totals of a daemon run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Events run through the detectors.
    pub events: u64,
    /// Events dropped as already detected.
    pub duplicates: u64,
    /// Events re-run after a restart.
    pub replayed: u64,
    /// Alerts sent to the sink.
    pub alerts: u64,
    /// Alerts not sent again after a restart.
    pub suppressed: u64,
}

/// What the detection loop owns.
pub(crate) struct Processor {
    engine: Engine,
    enricher: Option<Enricher>,
    store: Store,
    sink: Box<dyn AlertSink>,
    /// The sink's chains need the events too.
    sink_sees_events: bool,
    seen: SeenSet,
    accounts: HashSet<String>,
    checkpoint_path: PathBuf,
    undetected: RowRanges,
    files: BTreeSet<String>,
    pending_files: Vec<String>,
    pending_acks: Vec<SqsAck>,
    metrics: Arc<Metrics>,
    totals: Totals,
    events_at_checkpoint: u64,
    alerts: Vec<Alert>,
    fresh: Vec<Event>,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("checkpoint_path", &self.checkpoint_path)
            .field("undetected", &self.undetected.len())
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

/// Inputs of [`Processor::new`].
pub(crate) struct ProcessorParts {
    /// The engine, built by the caller.
    pub engine: Engine,
    /// The enricher, when configured.
    pub enricher: Option<Enricher>,
    /// The opened store.
    pub store: Store,
    /// Where alerts go.
    pub sink: Box<dyn AlertSink>,
    /// Remembered identities.
    pub seen_capacity: usize,
    /// Accounts this worker owns (empty: all).
    pub accounts: Vec<String>,
    /// The checkpoint file.
    pub checkpoint_path: PathBuf,
    /// Shared counters.
    pub metrics: Arc<Metrics>,
}

impl Processor {
    /// Builds the loop and restores the checkpoint when there is one.
    ///
    /// # Errors
    /// An unreadable checkpoint, or detectors refusing their saved state.
    pub(crate) fn new(parts: ProcessorParts) -> Result<Processor> {
        let mut engine = parts.engine;
        let checkpoint = Checkpoint::load(&parts.checkpoint_path)?;
        let (rowid, files, events, mut undetected) = match checkpoint {
            Some(checkpoint) => {
                engine.load_state(checkpoint.detectors)?;
                tracing::info!(
                    store_rowid = checkpoint.store_rowid,
                    files = checkpoint.files.len(),
                    "checkpoint restored"
                );
                (
                    checkpoint.store_rowid,
                    checkpoint.files,
                    checkpoint.events,
                    checkpoint.undetected,
                )
            }
            None => (0, BTreeSet::new(), 0, RowRanges::default()),
        };
        // Rows a crashed run stored after its last checkpoint: the restored detector state
        // has not seen them, so they are re-run when their input comes back.
        let newest = parts.store.last_event_row()?;
        undetected.insert_range(rowid + 1, newest);
        if !undetected.is_empty() {
            tracing::info!(
                rows = undetected.len(),
                "events stored but not detected before a crash; they are re-run when they come back"
            );
        }
        Ok(Processor {
            engine,
            enricher: parts.enricher,
            store: parts.store,
            sink_sees_events: parts.sink.wants_events(),
            sink: parts.sink,
            seen: SeenSet::new(parts.seen_capacity),
            accounts: parts.accounts.into_iter().collect(),
            checkpoint_path: parts.checkpoint_path,
            undetected,
            files,
            pending_files: Vec::new(),
            pending_acks: Vec::new(),
            metrics: parts.metrics,
            totals: Totals::default(),
            events_at_checkpoint: events,
            alerts: Vec::new(),
            fresh: Vec::new(),
        })
    }

    /// Local files marked done in the restored checkpoint.
    #[must_use]
    pub(crate) fn done_files(&self) -> &BTreeSet<String> {
        &self.files
    }

    /// Totals so far.
    #[must_use]
    pub(crate) fn totals(&self) -> Totals {
        self.totals
    }

    /// Where the store row of an event identity is, if stored.
    fn stored_rowid(&self, event_id: &str, account: &str, time: Timestamp) -> Result<Option<i64>> {
        // The store's idempotence index, not a query on the `ev` view: that view decodes
        // blocks, which made every incoming event cost a scan of the store.
        Ok(self.store.event_row(event_id, account, time)?)
    }

    /// Detects and stores one unit; its acknowledgement waits for the next checkpoint.
    ///
    /// # Errors
    /// The store or the alert sink failed; the unit is then not acknowledged.
    pub(crate) fn handle(&mut self, unit: Unit) -> Result<()> {
        let mut replayed_any = false;
        self.fresh.clear();
        for event in &unit.events {
            let account = event.account_id().unwrap_or("");
            if !self.accounts.is_empty() && !self.accounts.contains(account) {
                self.metrics.filtered.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let id = if event.event_id().is_empty() {
                stable_hash_hex(&[event.raw()])
            } else {
                event.event_id().to_owned()
            };
            let key = SeenSet::key(&id, account);
            if self.seen.contains(&key) {
                self.totals.duplicates += 1;
                self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let replay = match self.stored_rowid(&id, account, event.event_time())? {
                // Stored by a run that crashed before its checkpoint: detect, do not store.
                Some(row) if self.undetected.remove(row) => true,
                // Stored and detected (before the checkpoint, or earlier in this run).
                Some(_) => {
                    self.seen.insert(key);
                    self.totals.duplicates += 1;
                    self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                None => false,
            };
            self.seen.insert(key);
            if replay {
                replayed_any = true;
                self.totals.replayed += 1;
                self.metrics.replayed.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(enricher) = self.enricher.as_mut() {
                enricher.enrich(event);
            }
            self.engine.process(event, &mut self.alerts);
            if self.sink_sees_events {
                self.sink
                    .observe(event)
                    .map_err(|e| Error::Sink(e.to_string()))?;
            }
            self.totals.events += 1;
            self.metrics.events.fetch_add(1, Ordering::Relaxed);
            self.metrics
                .last_event_time_ms
                .fetch_max(event.event_time().as_millis(), Ordering::Relaxed);
            if !replay {
                self.fresh.push(event.clone());
            }
        }
        if !self.fresh.is_empty() {
            self.store.append_events(&self.fresh)?;
        }
        self.emit(replayed_any)?;
        if let Some(sent) = unit.sent_ms {
            self.metrics
                .delivery_lag_ms
                .store(now_ms() - sent, Ordering::Relaxed);
        }
        match unit.ack {
            Ack::None => {}
            Ack::File(path) => self.pending_files.push(path),
            Ack::Sqs(ack) => self.pending_acks.push(ack),
        }
        tracing::debug!(source = %unit.source, events = unit.events.len(), "unit committed");
        Ok(())
    }

    /// Sends the alerts raised so far to the sink, then stores them. After a restart, an
    /// alert already in the store was sent before the crash and is not sent again.
    fn emit(&mut self, replayed_any: bool) -> Result<()> {
        if self.alerts.is_empty() {
            return Ok(());
        }
        for alert in &self.alerts {
            if replayed_any && self.store.alert(&alert.id)?.is_some() {
                self.totals.suppressed += 1;
                self.metrics
                    .alerts_suppressed
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.sink
                .submit(alert)
                .map_err(|e| Error::Sink(e.to_string()))?;
            tracing::debug!(alert = %alert.id, rule = %alert.rule.id, "alert handed to the sink");
            self.totals.alerts += 1;
            self.metrics.alert(alert.severity.as_str());
        }
        self.store.append_alerts(&self.alerts)?;
        self.alerts.clear();
        self.metrics
            .sink_backlog
            .store(self.sink.backlog(), Ordering::Relaxed);
        Ok(())
    }

    /// Writes a checkpoint and returns the SQS messages that may now be deleted.
    ///
    /// # Errors
    /// The checkpoint cannot be written; nothing is acknowledged then.
    pub(crate) fn checkpoint(&mut self) -> Result<Vec<SqsAck>> {
        let rowid = self.store.last_event_row()?;
        let mut files = self.files.clone();
        files.extend(self.pending_files.iter().cloned());
        let events = self.events_at_checkpoint + self.totals.events;
        let checkpoint = Checkpoint {
            version: 1,
            store_rowid: rowid,
            files,
            detectors: self.engine.save_state(),
            events,
            undetected: self.undetected.clone(),
        };
        checkpoint.save(&self.checkpoint_path)?;
        self.files = checkpoint.files;
        self.pending_files.clear();
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .last_checkpoint_ms
            .store(now_ms(), Ordering::Relaxed);
        self.metrics
            .sink_backlog
            .store(self.sink.backlog(), Ordering::Relaxed);
        tracing::debug!(
            store_rowid = rowid,
            acks = self.pending_acks.len(),
            undetected = self.undetected.len(),
            "checkpoint written"
        );
        Ok(std::mem::take(&mut self.pending_acks))
    }

    /// Whether anything waits for a checkpoint.
    #[must_use]
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending_acks.is_empty() || !self.pending_files.is_empty()
    }

    /// End of the run: flushes the sink (bounded wait).
    ///
    /// # Errors
    /// The sink reports a failure.
    pub(crate) fn finish(&mut self, timeout: std::time::Duration) -> Result<()> {
        self.sink
            .flush(timeout)
            .map_err(|e| Error::Sink(e.to_string()))?;
        self.metrics
            .sink_backlog
            .store(self.sink.backlog(), Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use trailhound_core::Origin;
    use trailhound_detect::builtin_detectors;
    use trailhound_detect::tuning::Tuning;

    use super::*;

    /// Collects the ids of the alerts it is handed.
    struct Collect(Arc<Mutex<Vec<String>>>);

    impl AlertSink for Collect {
        fn submit(&mut self, alert: &Alert) -> std::result::Result<(), crate::SinkError> {
            self.0.lock().unwrap().push(alert.rule.id.to_string());
            Ok(())
        }
    }

    fn stop_logging(id: &str, second: u32) -> Event {
        let raw = format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"}},"eventTime":"2026-01-15T10:00:{second:02}Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0","requestParameters":{{"name":"trail-{id}"}},"responseElements":null,"eventID":"{id}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012"}}"#
        );
        Event::from_json(raw, Origin::new("test.json", second)).unwrap()
    }

    fn unit(events: Vec<Event>) -> Unit {
        Unit {
            source: Arc::from("test"),
            events,
            ack: Ack::None,
            sent_ms: None,
        }
    }

    fn processor(dir: &std::path::Path, alerts: &Arc<Mutex<Vec<String>>>) -> Processor {
        Processor::new(ProcessorParts {
            engine: Engine::new(builtin_detectors(&Tuning::none()).unwrap()),
            enricher: None,
            store: Store::open(dir.join("store")).unwrap(),
            sink: Box::new(Collect(alerts.clone())),
            seen_capacity: 1000,
            accounts: Vec::new(),
            checkpoint_path: dir.join("checkpoint.json"),
            metrics: Arc::new(Metrics::default()),
        })
        .unwrap()
    }

    /// A run stores an event and dies before its checkpoint; the next run checkpoints newer
    /// rows of its own before the lost event's message comes back. The event must still be
    /// re-run through the detectors (its alert was never sent), exactly once.
    #[test]
    fn events_stored_before_a_crash_are_detected_when_they_return() {
        let dir = tempfile::tempdir().unwrap();
        let alerts = Arc::new(Mutex::new(Vec::new()));
        // The crashed run: the event is committed to the store, the alert never sent.
        Store::open(dir.path().join("store"))
            .unwrap()
            .append_events(&[stop_logging("lost", 1)])
            .unwrap();

        let mut run = processor(dir.path(), &alerts);
        run.handle(unit(vec![stop_logging("fresh", 2)])).unwrap();
        run.checkpoint().unwrap();
        drop(run);
        assert_eq!(alerts.lock().unwrap().len(), 1);

        // Another restart before the lost event returns: the checkpoint still knows it.
        let mut run = processor(dir.path(), &alerts);
        run.handle(unit(vec![
            stop_logging("lost", 1),
            stop_logging("fresh", 2),
        ]))
        .unwrap();
        run.handle(unit(vec![stop_logging("lost", 1)])).unwrap();
        let totals = run.totals();
        assert_eq!((totals.replayed, totals.duplicates), (1, 2), "{totals:?}");
        assert_eq!(*alerts.lock().unwrap(), ["TH1001", "TH1001"]);
        run.checkpoint().unwrap();
        drop(run);

        // Once re-run and checkpointed, it is an ordinary duplicate.
        let mut run = processor(dir.path(), &alerts);
        run.handle(unit(vec![stop_logging("lost", 1)])).unwrap();
        assert_eq!(run.totals().duplicates, 1);
        assert_eq!(alerts.lock().unwrap().len(), 2);
        let read = Store::open(dir.path().join("store")).unwrap();
        assert_eq!(read.event_count().unwrap(), 2);
    }
}
