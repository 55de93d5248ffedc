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

/// Where an alert falls in the order an engine raises alerts: by event, then the detectors'
/// observations before the windows they close, then detector order. The alerts of the two
/// engines of an [`Engine::partition`], merged by key ([`merge_keyed`]), come in the order
/// the whole engine would have raised them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertKey {
    /// The event's position in its batch; `u32::MAX` at the end of input.
    event: u32,
    /// 0 while observing the event, 1 while advancing windows after it.
    phase: u8,
    /// The detector's place in the whole engine's routing order.
    slot: u32,
}

impl AlertKey {
    /// The position in its batch of the event whose processing raised the alert; `None` for
    /// alerts raised at the end of input.
    #[must_use]
    pub fn event(&self) -> Option<usize> {
        (self.event != u32::MAX).then_some(self.event as usize)
    }
}

/// An alert and its [`AlertKey`].
#[derive(Debug)]
pub struct KeyedAlert {
    /// Its place in the whole engine's order.
    pub key: AlertKey,
    /// The alert.
    pub alert: Alert,
}

/// Merges the keyed alerts of the two engines of a partition, each in its own order, into the
/// whole engine's order.
pub fn merge_keyed(a: Vec<KeyedAlert>, b: Vec<KeyedAlert>) -> impl Iterator<Item = KeyedAlert> {
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    std::iter::from_fn(move || {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.key <= y.key,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_a { a.next() } else { b.next() }
    })
}

/// Receives the alerts of each detector call: plain, or keyed with their place in the order.
trait Collect {
    /// Where the detector pushes its alerts.
    fn buffer(&mut self) -> &mut Vec<Alert>;
    /// The detector call at `key` is done.
    fn done(&mut self, key: AlertKey);
}

struct Plain<'a>(&'a mut Vec<Alert>);

impl Collect for Plain<'_> {
    fn buffer(&mut self) -> &mut Vec<Alert> {
        self.0
    }
    fn done(&mut self, _: AlertKey) {}
}

struct Keyed<'a> {
    scratch: Vec<Alert>,
    out: &'a mut Vec<KeyedAlert>,
}

impl Collect for Keyed<'_> {
    fn buffer(&mut self) -> &mut Vec<Alert> {
        &mut self.scratch
    }
    fn done(&mut self, key: AlertKey) {
        self.out.extend(
            self.scratch
                .drain(..)
                .map(|alert| KeyedAlert { key, alert }),
        );
    }
}

/// Slot bit of detectors that see every event: the engine calls them after the routed ones.
const EVERY_EVENT_SLOT: u32 = 1 << 31;

/// Routes events to detectors by `eventName` and drives their windows on event time.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    /// Each detector's index in the engine it was partitioned from (its own index otherwise).
    origins: Vec<u32>,
    scratch: Vec<Alert>,
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
        let origins = (0..detectors.len())
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        Engine {
            detectors,
            origins,
            scratch: Vec::new(),
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
        self.run_event(event, 0, &mut Plain(out));
    }

    /// [`Engine::process`] for the event at `position` in its batch, each alert keyed with its
    /// place in the order (for merging with the other engine of a [`Engine::partition`]).
    pub fn process_keyed(&mut self, event: &Event, position: u32, out: &mut Vec<KeyedAlert>) {
        let mut keyed = Keyed {
            scratch: std::mem::take(&mut self.scratch),
            out,
        };
        self.run_event(event, position, &mut keyed);
        self.scratch = keyed.scratch;
    }

    fn run_event(&mut self, event: &Event, position: u32, collect: &mut dyn Collect) {
        self.stats.events += 1;
        let mut alerts = 0;
        let mut call = |detector: &mut Box<dyn Detector>, slot: u32| {
            let before = collect.buffer().len();
            detector.observe(event, collect.buffer());
            alerts += collect.buffer().len() - before;
            collect.done(AlertKey {
                event: position,
                phase: 0,
                slot,
            });
        };
        if let Some(candidates) = self.by_event_name.get(event.event_name()) {
            for &index in candidates {
                if let (Some(detector), Some(&slot)) = (
                    self.detectors.get_mut(index as usize),
                    self.origins.get(index as usize),
                ) {
                    call(detector, slot);
                }
            }
            self.stats.dispatches += candidates.len() as u64;
        }
        for &index in &self.every_event {
            if let (Some(detector), Some(&slot)) = (
                self.detectors.get_mut(index as usize),
                self.origins.get(index as usize),
            ) {
                call(detector, EVERY_EVENT_SLOT | slot);
            }
        }
        self.stats.dispatches += self.every_event.len() as u64;
        self.stats.alerts += alerts as u64;

        let time = event.event_time();
        if time > self.max_event_time {
            self.max_event_time = time;
            if time.millis_since(self.last_advance) >= ADVANCE_EVERY_MS {
                self.last_advance = time;
                let watermark = time.add_millis(-self.lateness_ms);
                self.advance_detectors(watermark, position, collect);
            }
        }
    }

    /// Advances every detector to `watermark`.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        self.advance_detectors(watermark, u32::MAX, &mut Plain(out));
    }

    /// End of input: closes every window.
    pub fn finish(&mut self, out: &mut Vec<Alert>) {
        self.advance(Timestamp::MAX, out);
    }

    /// [`Engine::finish`], keyed like [`Engine::process_keyed`].
    pub fn finish_keyed(&mut self, out: &mut Vec<KeyedAlert>) {
        let mut keyed = Keyed {
            scratch: std::mem::take(&mut self.scratch),
            out,
        };
        self.advance_detectors(Timestamp::MAX, u32::MAX, &mut keyed);
        self.scratch = keyed.scratch;
    }

    fn advance_detectors(
        &mut self,
        watermark: Timestamp,
        position: u32,
        collect: &mut dyn Collect,
    ) {
        for (detector, &slot) in self.detectors.iter_mut().zip(&self.origins) {
            let before = collect.buffer().len();
            detector.advance(watermark, collect.buffer());
            self.stats.alerts += (collect.buffer().len() - before) as u64;
            collect.done(AlertKey {
                event: position,
                phase: 1,
                slot,
            });
        }
    }

    /// Splits the engine in two: the detectors `first` selects, and the others, each engine
    /// keeping the routing, windows and event-time position of this one. Both must see every
    /// event this one would have; their [`Engine::process_keyed`] alerts, merged with
    /// [`merge_keyed`], are this engine's alerts in this engine's order. The first engine
    /// carries the counters so far.
    #[must_use]
    pub fn partition(self, first: impl Fn(&dyn Detector) -> bool) -> (Engine, Engine) {
        let Engine {
            detectors,
            origins,
            max_event_time,
            last_advance,
            lateness_ms,
            stats,
            ..
        } = self;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (detector, origin) in detectors.into_iter().zip(origins) {
            if first(detector.as_ref()) {
                a.push((detector, origin));
            } else {
                b.push((detector, origin));
            }
        }
        let part = |pairs: Vec<(Box<dyn Detector>, u32)>, stats: EngineStats| {
            let (detectors, origins): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
            let mut engine = Engine::new(detectors);
            engine.origins = origins;
            engine.max_event_time = max_event_time;
            engine.last_advance = last_advance;
            engine.lateness_ms = lateness_ms;
            engine.stats = stats;
            engine
        };
        (part(a, stats), part(b, EngineStats::default()))
    }

    /// Counters of two engines of one [`Engine::partition`] as one engine's: events are
    /// counted once, dispatches and alerts added.
    #[must_use]
    pub fn joined_stats(a: EngineStats, b: EngineStats) -> EngineStats {
        EngineStats {
            events: a.events.max(b.events),
            dispatches: a.dispatches + b.dispatches,
            alerts: a.alerts + b.alerts,
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

#[cfg(test)]
mod tests {
    use trailhound_core::{Origin, RuleKind, RuleRef, Severity};

    use super::*;
    use crate::Interest;

    /// Alerts on its events (every `every`-th one it sees) and on each window close.
    struct Toy {
        id: String,
        interest: Interest,
        every: u64,
        seen: u64,
        closes: bool,
    }

    impl Toy {
        fn boxed(id: &str, names: Option<&[&str]>, every: u64, closes: bool) -> Box<dyn Detector> {
            Box::new(Toy {
                id: id.to_owned(),
                interest: names.map_or_else(Interest::all, Interest::event_names),
                every,
                seen: 0,
                closes,
            })
        }

        fn alert(&self, title: String, event: &Event) -> Alert {
            let rule = RuleRef {
                id: self.id.clone(),
                name: self.id.clone(),
                kind: RuleKind::Builtin,
                author: None,
            };
            Alert::for_event(rule, Severity::Low, title, String::new(), event)
        }
    }

    impl Detector for Toy {
        fn id(&self) -> &str {
            &self.id
        }
        fn interest(&self) -> Interest {
            self.interest.clone()
        }
        fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
            self.seen += 1;
            if self.seen.is_multiple_of(self.every) {
                out.push(self.alert(format!("{} saw {}", self.id, event.event_id()), event));
                out.push(self.alert(format!("{} again", self.id), event));
            }
        }
        fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
            if self.closes && self.seen > 0 {
                let event = event_at(0, "Close");
                out.push(self.alert(format!("{} closed at {watermark:?}", self.id), &event));
            }
        }
    }

    fn event_at(minute: i64, name: &str) -> Event {
        let time = Timestamp::parse("2026-03-02T00:00:00Z")
            .map(|t| t.add_millis(minute * 60_000))
            .unwrap_or(Timestamp::MIN);
        let raw = format!(
            r#"{{"eventTime":"{time}","eventSource":"s.amazonaws.com","eventName":"{name}","eventID":"e{minute}"}}"#
        );
        Event::from_json(raw, Origin::new("t", 0)).expect("fixture")
    }

    fn detectors() -> Vec<Box<dyn Detector>> {
        vec![
            Toy::boxed("routed-a", Some(&["A", "B"]), 1, false),
            Toy::boxed("all-1", None, 3, true),
            Toy::boxed("routed-b", Some(&["B"]), 2, true),
            Toy::boxed("all-2", None, 5, false),
        ]
    }

    fn events() -> Vec<Event> {
        (0..40)
            .map(|i| event_at(i * 2, ["A", "B", "C"][(i % 3) as usize]))
            .collect()
    }

    #[test]
    fn every_partition_merges_to_the_whole_engines_alerts_in_order() {
        let mut whole = Engine::new(detectors());
        let mut expected = Vec::new();
        for event in &events() {
            whole.process(event, &mut expected);
        }
        whole.finish(&mut expected);
        let titles = |alerts: &[Alert]| alerts.iter().map(|a| a.title.clone()).collect::<Vec<_>>();
        assert!(expected.len() > 60, "{}", expected.len());
        for mask in 0..16u32 {
            let ids = ["routed-a", "all-1", "routed-b", "all-2"];
            let (mut a, mut b) = Engine::new(detectors()).partition(|d| {
                ids.iter()
                    .position(|id| *id == d.id())
                    .is_some_and(|i| mask & (1 << i) != 0)
            });
            let mut got = Vec::new();
            for (position, event) in events().iter().enumerate() {
                let (mut ka, mut kb) = (Vec::new(), Vec::new());
                a.process_keyed(event, position as u32, &mut ka);
                b.process_keyed(event, position as u32, &mut kb);
                got.extend(merge_keyed(ka, kb).map(|k| k.alert));
            }
            let (mut ka, mut kb) = (Vec::new(), Vec::new());
            a.finish_keyed(&mut ka);
            b.finish_keyed(&mut kb);
            got.extend(merge_keyed(ka, kb).map(|k| k.alert));
            assert_eq!(titles(&got), titles(&expected), "partition {mask:04b}");
            let stats = Engine::joined_stats(a.stats(), b.stats());
            assert_eq!(stats, whole.stats(), "partition {mask:04b}");
        }
    }
}
