use foldhash::HashMap;
use smallvec::SmallVec;
use trailhound_core::{Alert, Event, SmallStr, Timestamp};

use crate::{Detector, Result};

/// How far behind the newest event time the watermark trails, so that events arriving a
/// little out of order (files of several accounts and regions interleaved) still land in
/// their windows.
pub const DEFAULT_LATENESS_MS: i64 = 5 * 60 * 1000;

/// How often (in event time) the engine advances detectors' windows.
const ADVANCE_EVERY_MS: i64 = 60 * 1000;

/// Counters of one engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Events processed.
    pub events: u64,
    /// Detector invocations (events × candidate detectors).
    pub dispatches: u64,
    /// Alerts raised.
    pub alerts: u64,
}

/// Routes events to detectors by `eventName` and drives their windows on event time.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    by_event_name: HashMap<SmallStr, SmallVec<[u32; 4]>>,
    every_event: Vec<u32>,
    max_event_time: Timestamp,
    last_advance: Timestamp,
    lateness_ms: i64,
    stats: EngineStats,
}

impl Engine {
    /// An engine over these detectors, with the routing index built from their interests.
    #[must_use]
    pub fn new(detectors: Vec<Box<dyn Detector>>) -> Self {
        let mut by_event_name: HashMap<SmallStr, SmallVec<[u32; 4]>> = HashMap::default();
        let mut every_event = Vec::new();
        for (index, detector) in detectors.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            match detector.interest().event_names {
                None => every_event.push(index),
                Some(names) => {
                    for name in names {
                        let slot = by_event_name.entry(name).or_default();
                        if !slot.contains(&index) {
                            slot.push(index);
                        }
                    }
                }
            }
        }
        Engine {
            detectors,
            by_event_name,
            every_event,
            max_event_time: Timestamp::MIN,
            last_advance: Timestamp::MIN,
            lateness_ms: DEFAULT_LATENESS_MS,
            stats: EngineStats::default(),
        }
    }

    /// Sets how far the watermark trails the newest event time.
    #[must_use]
    pub fn with_lateness_ms(mut self, lateness_ms: i64) -> Self {
        self.lateness_ms = lateness_ms.max(0);
        self
    }

    /// The detectors, in registration order.
    #[must_use]
    pub fn detectors(&self) -> &[Box<dyn Detector>] {
        &self.detectors
    }

    /// How many detectors are routed by eventName, and how many see every event.
    #[must_use]
    pub fn routing_summary(&self) -> (usize, usize) {
        (
            self.detectors.len() - self.every_event.len(),
            self.every_event.len(),
        )
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Runs one event through its candidate detectors; alerts are appended to `out`.
    pub fn process(&mut self, event: &Event, out: &mut Vec<Alert>) {
        let before = out.len();
        self.stats.events += 1;
        if let Some(candidates) = self.by_event_name.get(event.event_name()) {
            for &index in candidates {
                if let Some(detector) = self.detectors.get_mut(index as usize) {
                    detector.observe(event, out);
                }
            }
            self.stats.dispatches += candidates.len() as u64;
        }
        for &index in &self.every_event {
            if let Some(detector) = self.detectors.get_mut(index as usize) {
                detector.observe(event, out);
            }
        }
        self.stats.dispatches += self.every_event.len() as u64;

        let time = event.event_time();
        if time > self.max_event_time {
            self.max_event_time = time;
            if time.millis_since(self.last_advance) >= ADVANCE_EVERY_MS {
                self.last_advance = time;
                let watermark = time.add_millis(-self.lateness_ms);
                self.advance_detectors(watermark, out);
            }
        }
        self.stats.alerts += (out.len() - before) as u64;
    }

    /// Advances every detector to `watermark`.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        let before = out.len();
        self.advance_detectors(watermark, out);
        self.stats.alerts += (out.len() - before) as u64;
    }

    /// End of input: closes every window.
    pub fn finish(&mut self, out: &mut Vec<Alert>) {
        self.advance(Timestamp::MAX, out);
    }

    fn advance_detectors(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        for detector in &mut self.detectors {
            detector.advance(watermark, out);
        }
    }

    /// Every stateful detector's state, keyed by detector id.
    #[must_use]
    pub fn save_state(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        for detector in &self.detectors {
            if let Some(state) = detector.save_state() {
                map.insert(detector.id().to_owned(), state);
            }
        }
        map
    }

    /// Restores state saved by [`Engine::save_state`]; ids without a detector are ignored.
    ///
    /// # Errors
    /// The first detector that refuses its state.
    pub fn load_state(
        &mut self,
        mut state: serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        for detector in &mut self.detectors {
            if let Some(saved) = state.remove(detector.id()) {
                detector.load_state(saved)?;
            }
        }
        Ok(())
    }
}
