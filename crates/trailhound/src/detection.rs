//! Detection over batches of events on two threads.
//!
//! Decoding runs on the ingest workers; detection is the rest of a hunt's work, and on one
//! thread it bounds the whole hunt. The engine is split ([`Engine::partition`]) into the
//! matchers (Sigma rules, the built-in pack, metric filters, traps, policies, EventBridge
//! patterns, intel) and the detectors that learn baselines (the anomaly family), which a
//! profile of a hunt with every family on shows to be the two halves of detection's work.
//! The matchers run on their own thread, the baselines on the caller's (which also drives
//! ingest and writes alerts), both over the same events; their keyed alerts are merged back
//! into the order one engine would raise them ([`merge_keyed`]), so output depends neither on
//! the split nor on thread timing.
//!
//! Small objects make small batches (a CloudTrail file holds tens of records), so batches are
//! gathered into [`Work`] of at least [`WORK_EVENTS`] events before they cross threads: a
//! hand-over costs a wake-up, not per object.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use trailhound_core::{Alert, Event, EventBatch};
use trailhound_detect::{Engine, EngineStats, KeyedAlert, merge_keyed};

/// Events gathered before a hand-over to the matcher thread.
pub const WORK_EVENTS: usize = 512;

/// Work handed over to the matcher thread at most ahead of the caller.
const IN_FLIGHT: usize = 4;

/// Batches of events and which of their events detection sees.
#[derive(Debug, Default)]
pub struct Work {
    /// The batches, in input order.
    pub batches: Vec<EventBatch>,
    /// (batch, event) positions of the events to detect on, in order.
    kept: Vec<(u32, u32)>,
}

impl Work {
    /// Adds a batch whose events at `kept` (indices, ascending) go through detection.
    pub fn push(&mut self, batch: EventBatch, kept: impl IntoIterator<Item = usize>) {
        let index = u32::try_from(self.batches.len()).unwrap_or(u32::MAX);
        self.kept.extend(
            kept.into_iter()
                .map(|i| (index, u32::try_from(i).unwrap_or(u32::MAX))),
        );
        self.batches.push(batch);
    }

    /// Events to detect on.
    #[must_use]
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// True when no event is to be detected on.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The events detection sees, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.kept.iter().filter_map(|&(batch, event)| {
            self.batches
                .get(batch as usize)
                .and_then(|b| b.events.get(event as usize))
        })
    }

    fn detect(&self, engine: &mut Engine) -> Vec<KeyedAlert> {
        let mut out = Vec::new();
        for (position, event) in self.events().enumerate() {
            engine.process_keyed(event, u32::try_from(position).unwrap_or(u32::MAX), &mut out);
        }
        out
    }
}

/// A detected [`Work`] and its alerts, in order.
#[derive(Debug)]
pub struct Detected {
    /// The work.
    pub work: Arc<Work>,
    /// Its alerts.
    pub alerts: Vec<Alert>,
    /// For each alert, the position (in [`Work::events`]) of the event whose processing raised
    /// it; `None` for alerts raised at the end of input.
    pub raised_by: Vec<Option<usize>>,
}

impl Detected {
    /// The work's batches, moved out when no other thread holds the work (the matcher
    /// thread lets go of it before reporting), else copied.
    pub fn into_batches(self) -> Vec<EventBatch> {
        match Arc::try_unwrap(self.work) {
            Ok(work) => work.batches,
            Err(shared) => shared.batches.clone(),
        }
    }

    fn new(work: Arc<Work>, keyed: impl Iterator<Item = KeyedAlert>) -> Self {
        let (raised_by, alerts) = keyed.map(|k| (k.key.event(), k.alert)).unzip();
        Detected {
            work,
            alerts,
            raised_by,
        }
    }
}

/// The matcher engine's thread.
struct MatcherThread<'scope> {
    work: SyncSender<Arc<Work>>,
    results: Receiver<Vec<KeyedAlert>>,
    handle: ScopedJoinHandle<'scope, Engine>,
}

/// The engine, run on one thread or split over two.
pub struct Detection<'scope> {
    engine: Engine,
    matchers: Option<MatcherThread<'scope>>,
    /// Work handed over, with the caller's alerts, waiting for the matcher thread's.
    pending: VecDeque<(Arc<Work>, Vec<KeyedAlert>)>,
}

impl<'scope> Detection<'scope> {
    /// Detection with `engine`: split over two threads of `scope` when `split` is set and the
    /// engine has both rule sets and other detectors.
    pub fn new<'env>(scope: &'scope Scope<'scope, 'env>, engine: Engine, split: bool) -> Self {
        let detectors = engine.detectors();
        let matchers = detectors.iter().filter(|d| !d.learns_baselines()).count();
        if !split || matchers == 0 || matchers == detectors.len() {
            return Detection {
                engine,
                matchers: None,
                pending: VecDeque::new(),
            };
        }
        let (matchers_engine, engine) = engine.partition(|d| !d.learns_baselines());
        let (work_tx, work_rx) = sync_channel::<Arc<Work>>(IN_FLIGHT);
        let (result_tx, results) = sync_channel::<Vec<KeyedAlert>>(IN_FLIGHT);
        let handle = scope.spawn(move || {
            let mut engine = matchers_engine;
            for work in work_rx {
                let alerts = work.detect(&mut engine);
                // Let go of the work before the caller hears of it, so the caller owns it
                // again (`Detected::into_batches` moves the events to the store).
                drop(work);
                if result_tx.send(alerts).is_err() {
                    return engine;
                }
            }
            // The caller closed the channel: end of input.
            let mut last = Vec::new();
            engine.finish_keyed(&mut last);
            let _ = result_tx.send(last);
            engine
        });
        Detection {
            engine,
            matchers: Some(MatcherThread {
                work: work_tx,
                results,
                handle,
            }),
            pending: VecDeque::new(),
        }
    }

    /// Runs `work` through detection. Returns the work detected so far, in order (with two
    /// threads, up to [`IN_FLIGHT`] works behind).
    pub fn submit(&mut self, work: Work) -> Vec<Detected> {
        let work = Arc::new(work);
        if self.matchers.is_none() {
            let alerts = work.detect(&mut self.engine);
            return vec![Detected::new(work, alerts.into_iter())];
        }
        let mut done = Vec::new();
        if self.pending.len() >= IN_FLIGHT
            && let Some(detected) = self.collect_one()
        {
            done.push(detected);
        }
        let sent = self
            .matchers
            .as_ref()
            .is_some_and(|matchers| matchers.work.send(Arc::clone(&work)).is_ok());
        if !sent {
            // The matcher thread is gone (it panicked); `finish` reports it.
            return done;
        }
        let own = work.detect(&mut self.engine);
        self.pending.push_back((work, own));
        done
    }

    /// Waits for the oldest pending work's matcher alerts and merges them.
    fn collect_one(&mut self) -> Option<Detected> {
        let matchers = self.matchers.as_ref()?;
        let (work, own) = self.pending.pop_front()?;
        let theirs = matchers.results.recv().unwrap_or_default();
        Some(Detected::new(work, merge_keyed(theirs, own)))
    }

    /// End of input: the pending work, then the alerts of closing every window, and the
    /// engines (for their counters and state).
    ///
    /// # Errors
    /// When the matcher thread panicked.
    pub fn finish(mut self) -> anyhow::Result<Finished> {
        let mut done = Vec::new();
        while let Some(detected) = self.collect_one() {
            done.push(detected);
        }
        let mut own = Vec::new();
        self.engine.finish_keyed(&mut own);
        let mut engines = Vec::with_capacity(2);
        let last = match self.matchers.take() {
            None => Detected::new(Arc::default(), own.into_iter()),
            Some(MatcherThread {
                work,
                results,
                handle,
            }) => {
                drop(work);
                let theirs = results.recv().unwrap_or_default();
                let matchers_engine = handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("the matcher detection thread failed"))?;
                engines.push(matchers_engine);
                Detected::new(Arc::default(), merge_keyed(theirs, own))
            }
        };
        engines.push(self.engine);
        done.push(last);
        Ok(Finished { done, engines })
    }
}

/// What [`Detection::finish`] hands back.
pub struct Finished {
    /// Work detected but not yet returned, in order, then (with no work) the alerts raised by
    /// closing every window at the end of input.
    pub done: Vec<Detected>,
    /// The engine, or the two of its split.
    pub engines: Vec<Engine>,
}

impl Finished {
    /// The engines' counters, as one engine's.
    #[must_use]
    pub fn stats(&self) -> EngineStats {
        self.engines
            .iter()
            .map(Engine::stats)
            .reduce(Engine::joined_stats)
            .unwrap_or_default()
    }

    /// Every stateful detector's state, keyed by detector id.
    #[must_use]
    pub fn save_state(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut state = serde_json::Map::new();
        for engine in &self.engines {
            state.extend(engine.save_state());
        }
        state
    }
}
