//! Delivery workers: one thread per sink, each with its own outbox connection, a bounded
//! in-memory queue fed by the pipeline, and the outbox as the spill and the restart log.
//!
//! A worker delivers queued messages as they come. When its sink fails it backs off
//! (exponential with jitter), leaves new messages in the outbox, and later scans the outbox
//! for due rows, oldest first. A slow or dead sink therefore holds up nothing but itself:
//! the pipeline never waits on a worker (`try_send`; a full queue spills to the outbox).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use rand::Rng;
use serde::Serialize;

use crate::config::RetryConfig;
use crate::outbox::{Outbox, now_ms};
use crate::sink::{DeliveryError, Message, Sink};

/// Rows read per outbox scan.
const SCAN_BATCH: usize = 64;
/// Longest idle wait between outbox scans (other processes may enqueue).
const IDLE_POLL_MS: i64 = 1_000;

/// Counters of one sink's worker in this process.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    gave_up: AtomicU64,
    spilled: AtomicU64,
}

/// A snapshot of [`WorkerCounters`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkCounters {
    /// Sink name.
    pub sink: String,
    /// Messages delivered by this process.
    pub delivered: u64,
    /// Failed attempts (each schedules a retry or gives up).
    pub failed_attempts: u64,
    /// Messages given up on.
    pub gave_up: u64,
    /// Messages that found the in-memory queue full and were left to the outbox scan.
    pub spilled: u64,
}

struct Shared {
    stop: AtomicBool,
    spilled: AtomicBool,
    counters: WorkerCounters,
}

/// One queued message.
pub(crate) struct Item {
    seq: i64,
    message: Arc<Message>,
}

struct Worker {
    name: String,
    tx: Option<Sender<Item>>,
    shared: Arc<Shared>,
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

/// The delivery workers of one pipeline.
pub(crate) struct Delivery {
    workers: Vec<Worker>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.workers.iter().map(|w| w.name.as_str()).collect();
        f.debug_struct("Delivery").field("workers", &names).finish()
    }
}

/// Settings a worker needs.
pub(crate) struct WorkerSettings {
    pub name: String,
    pub sink: Box<dyn Sink>,
    pub outbox_dir: PathBuf,
    pub retry: RetryConfig,
    pub timeout: Duration,
    pub queue_capacity: usize,
}

impl Delivery {
    pub(crate) fn start(settings: Vec<WorkerSettings>) -> crate::Result<Self> {
        let mut workers = Vec::new();
        for s in settings {
            let outbox = Outbox::open(&s.outbox_dir)?;
            let (tx, rx) = crossbeam_channel::bounded(s.queue_capacity.max(1));
            let (done_tx, done) = crossbeam_channel::bounded(1);
            let shared = Arc::new(Shared {
                stop: AtomicBool::new(false),
                spilled: AtomicBool::new(false),
                counters: WorkerCounters::default(),
            });
            let name = s.name.clone();
            let thread_shared = Arc::clone(&shared);
            let thread = std::thread::Builder::new()
                .name(format!("sink-{name}"))
                .spawn(move || {
                    let mut run = Run {
                        name: s.name,
                        sink: s.sink,
                        outbox,
                        retry: s.retry,
                        lease_ms: i64::try_from(s.timeout.as_millis()).unwrap_or(i64::MAX / 4)
                            + 30_000,
                        shared: thread_shared,
                        backoff_until: 0,
                        consecutive_failures: 0,
                    };
                    run.run(&rx);
                    let _ = done_tx.send(());
                })
                .map_err(|source| crate::Error::Io {
                    what: "delivery thread for sink",
                    path: PathBuf::from(&name),
                    source,
                })?;
            workers.push(Worker {
                name,
                tx: Some(tx),
                shared,
                done,
                thread: Some(thread),
            });
        }
        Ok(Delivery { workers })
    }

    /// Hands a committed message to a sink's worker without waiting; a full queue leaves it
    /// to the outbox scan.
    pub(crate) fn offer(&self, sink: &str, seq: i64, message: &Arc<Message>) {
        let Some(worker) = self.workers.iter().find(|w| w.name == sink) else {
            return;
        };
        let Some(tx) = &worker.tx else { return };
        match tx.try_send(Item {
            seq,
            message: Arc::clone(message),
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                worker
                    .shared
                    .counters
                    .spilled
                    .fetch_add(1, Ordering::Relaxed);
                worker.shared.spilled.store(true, Ordering::Release);
            }
        }
    }

    pub(crate) fn counters(&self) -> Vec<SinkCounters> {
        self.workers
            .iter()
            .map(|w| {
                let c = &w.shared.counters;
                SinkCounters {
                    sink: w.name.clone(),
                    delivered: c.delivered.load(Ordering::Relaxed),
                    failed_attempts: c.failed_attempts.load(Ordering::Relaxed),
                    gave_up: c.gave_up.load(Ordering::Relaxed),
                    spilled: c.spilled.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// Stops the workers; waits until `deadline` for the ones in a delivery to finish it.
    pub(crate) fn stop(&mut self, deadline: Instant) {
        for worker in &mut self.workers {
            worker.shared.stop.store(true, Ordering::Release);
            worker.tx = None;
        }
        for worker in &mut self.workers {
            let left = deadline.saturating_duration_since(Instant::now());
            if worker.done.recv_timeout(left).is_ok() {
                if let Some(thread) = worker.thread.take() {
                    let _ = thread.join();
                }
            } else {
                // Still inside a delivery: the claim's lease makes the row due again for the
                // next process, so leaving the thread is safe.
                tracing::warn!(sink = %worker.name, "delivery worker still busy at shutdown");
            }
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            worker.shared.stop.store(true, Ordering::Release);
            worker.tx = None;
        }
    }
}

struct Run {
    name: String,
    sink: Box<dyn Sink>,
    outbox: Outbox,
    retry: RetryConfig,
    lease_ms: i64,
    shared: Arc<Shared>,
    backoff_until: i64,
    consecutive_failures: u32,
}

impl Run {
    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }

    fn run(&mut self, rx: &Receiver<Item>) {
        let mut next_scan = 0i64;
        loop {
            if self.stopping() {
                return;
            }
            let now = now_ms();
            let spilled = self.shared.spilled.swap(false, Ordering::AcqRel);
            if now >= self.backoff_until && (spilled || now >= next_scan) {
                next_scan = match self.scan() {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::error!(sink = %self.name, error = %e, "outbox scan failed");
                        now_ms() + IDLE_POLL_MS
                    }
                };
            }
            let now = now_ms();
            let wake = next_scan
                .min(now + IDLE_POLL_MS)
                .max(self.backoff_until.min(now + IDLE_POLL_MS));
            let wait = Duration::from_millis(
                u64::try_from((wake - now).clamp(5, IDLE_POLL_MS)).unwrap_or(5),
            );
            match rx.recv_timeout(wait) {
                Ok(item) => {
                    if now_ms() < self.backoff_until {
                        // Backing off: the message waits in the outbox for the next scan.
                        continue;
                    }
                    let message = item.message;
                    if let Err(e) = self.attempt(item.seq, &message, 0) {
                        tracing::error!(sink = %self.name, error = %e, "outbox update failed");
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if self.stopping() {
                        return;
                    }
                    std::thread::sleep(wait);
                }
            }
        }
    }

    /// Delivers due rows; returns when to scan next.
    fn scan(&mut self) -> crate::Result<i64> {
        loop {
            let due = self.outbox.due(&self.name, now_ms(), SCAN_BATCH)?;
            let full = due.len() == SCAN_BATCH;
            for pending in due {
                if self.stopping() {
                    return Ok(now_ms());
                }
                let message = Message {
                    message_id: pending.message_id,
                    kind: pending.kind,
                    body: pending.body,
                };
                if !self.attempt(pending.seq, &message, pending.attempts)? {
                    return Ok(self.backoff_until);
                }
            }
            if !full {
                break;
            }
        }
        let next = self.outbox.next_due(&self.name)?.unwrap_or(i64::MAX);
        Ok(next.min(now_ms() + IDLE_POLL_MS))
    }

    /// One attempt; false when the sink failed and is now backing off.
    fn attempt(&mut self, seq: i64, message: &Message, attempts: u32) -> crate::Result<bool> {
        let now = now_ms();
        if !self
            .outbox
            .claim(&self.name, seq, now, now + self.lease_ms)?
        {
            return Ok(true);
        }
        let counters = &self.shared.counters;
        match self.sink.deliver(message) {
            Ok(()) => {
                self.outbox.delivered(&self.name, seq)?;
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                self.consecutive_failures = 0;
                self.backoff_until = 0;
                tracing::debug!(sink = %self.name, seq, message = %message.message_id, "delivered");
                Ok(true)
            }
            Err(DeliveryError::Permanent(error)) => {
                counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                counters.gave_up.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(sink = %self.name, seq, %error, "delivery failed permanently");
                self.outbox
                    .failed(&self.name, seq, &error, now_ms(), true)?;
                Ok(true)
            }
            Err(DeliveryError::Retry(error)) => {
                counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let delay = backoff_ms(&self.retry, self.consecutive_failures);
                self.backoff_until = now_ms() + delay;
                let give_up =
                    self.retry.max_attempts > 0 && attempts + 1 >= self.retry.max_attempts;
                if give_up {
                    counters.gave_up.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(sink = %self.name, seq, %error, retry_in_ms = delay, give_up, "delivery failed");
                self.outbox
                    .failed(&self.name, seq, &error, self.backoff_until, give_up)?;
                Ok(false)
            }
        }
    }
}

/// Exponential backoff with "equal jitter": half the step fixed, half random.
fn backoff_ms(retry: &RetryConfig, failures: u32) -> i64 {
    let initial = retry.initial.as_millis_i64().max(1);
    let max = retry.max.as_millis_i64().max(initial);
    let exp = failures.saturating_sub(1).min(30);
    let step = initial.saturating_mul(1i64 << exp).min(max);
    let half = step / 2;
    half + rand::rng().random_range(0..=half.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DurationText;

    #[test]
    fn backoff_grows_and_caps() {
        let retry = RetryConfig {
            initial: DurationText(Duration::from_millis(100)),
            max: DurationText(Duration::from_millis(1_000)),
            max_attempts: 0,
        };
        for _ in 0..50 {
            let first = backoff_ms(&retry, 1);
            assert!((50..=100).contains(&first), "{first}");
            let third = backoff_ms(&retry, 3);
            assert!((200..=400).contains(&third), "{third}");
            let capped = backoff_ms(&retry, 40);
            assert!((500..=1_000).contains(&capped), "{capped}");
        }
    }
}
