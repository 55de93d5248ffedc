//! Running a [`RuleSet`] over events: rule matches and correlation state.

use std::sync::Arc;

use trailhound_core::{Event, Timestamp};

use crate::correlation::{CorrelationHit, CorrelationState, Input, Source};
use crate::ruleset::{CompiledRule, RuleSet, SILENT_KEY};

/// A detection: a rule matched one event, or a correlation fired.
#[derive(Debug, Clone)]
pub enum Hit {
    /// A rule matched an event.
    Rule {
        /// The rule.
        rule: Arc<CompiledRule>,
        /// The event.
        event: Event,
    },
    /// A correlation fired.
    Correlation(CorrelationHit),
}

/// Evaluates a rule set, keeping correlation windows on event time.
#[derive(Debug)]
pub struct Evaluator {
    set: RuleSet,
    states: Vec<CorrelationState>,
    /// Per rule: raises its own hits.
    loud: Vec<bool>,
    /// Per rule: correlations reading it directly.
    readers: Vec<Vec<usize>>,
    /// Per correlation: correlations reading it.
    corr_readers: Vec<Vec<usize>>,
    scratch: Vec<usize>,
}

impl Evaluator {
    /// An evaluator with empty correlation state.
    #[must_use]
    pub fn new(set: RuleSet) -> Self {
        let max_groups = set.config().max_groups;
        let n = set.rules().len();
        let mut loud: Vec<bool> = set
            .rules()
            .iter()
            .map(|r| !r.doc.custom.contains_key(SILENT_KEY))
            .collect();
        let mut generated = vec![false; n];
        let mut referenced = vec![false; n];
        let mut readers = vec![Vec::new(); n];
        let mut corr_readers = vec![Vec::new(); set.correlations().len()];
        for (ci, c) in set.correlations().iter().enumerate() {
            for s in &c.sources {
                match *s {
                    Source::Rule(r) if r < n => {
                        referenced[r] = true;
                        generated[r] |= c.generate;
                        readers[r].push(ci);
                    }
                    Source::Correlation(j) if j < corr_readers.len() => corr_readers[j].push(ci),
                    _ => {}
                }
            }
        }
        for i in 0..n {
            if referenced[i] && !generated[i] {
                loud[i] = false;
            }
        }
        let states = set
            .correlations()
            .iter()
            .map(|c| CorrelationState::new(Arc::clone(c), max_groups))
            .collect();
        Evaluator {
            set,
            states,
            loud,
            readers,
            corr_readers,
            scratch: Vec::new(),
        }
    }

    /// The rule set.
    #[must_use]
    pub fn rule_set(&self) -> &RuleSet {
        &self.set
    }

    /// Correlation states (for stats).
    #[must_use]
    pub fn correlation_states(&self) -> &[CorrelationState] {
        &self.states
    }

    /// Sees one event; pushes rule hits and correlations that fired.
    pub fn observe(&mut self, event: &Event, out: &mut Vec<Hit>) {
        self.scratch.clear();
        let mut matched = std::mem::take(&mut self.scratch);
        self.set.matching(event, &mut matched);
        let mut fired = Vec::new();
        for &r in &matched {
            if self.loud.get(r).copied().unwrap_or(false)
                && let Some(rule) = self.set.rules().get(r)
            {
                out.push(Hit::Rule {
                    rule: Arc::clone(rule),
                    event: event.clone(),
                });
            }
            for &ci in self.readers.get(r).map(Vec::as_slice).unwrap_or(&[]) {
                let Some(state) = self.states.get_mut(ci) else {
                    continue;
                };
                let source = state
                    .def()
                    .sources
                    .iter()
                    .position(|s| *s == Source::Rule(r))
                    .unwrap_or(0);
                let input = Input {
                    source,
                    time: event.event_time(),
                    events: std::slice::from_ref(event),
                    count: 1,
                    fields: None,
                };
                let mut hits = Vec::new();
                state.observe(&input, &mut hits);
                for h in hits {
                    fired.push((ci, h));
                }
            }
        }
        self.scratch = matched;
        self.chain(fired, out);
    }

    /// Event time reached `watermark`: closes windows, judging "fewer than" conditions.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Hit>) {
        let mut fired = Vec::new();
        for (ci, state) in self.states.iter_mut().enumerate() {
            let mut hits = Vec::new();
            state.advance(watermark, &mut hits);
            fired.extend(hits.into_iter().map(|h| (ci, h)));
        }
        self.chain(fired, out);
    }

    /// Emits fired correlations and feeds them to the correlations that read them.
    fn chain(&mut self, mut fired: Vec<(usize, CorrelationHit)>, out: &mut Vec<Hit>) {
        let mut guard = 0usize;
        while let Some((ci, hit)) = fired.pop() {
            guard += 1;
            if guard > 100_000 {
                tracing::warn!("sigma correlation chain produced too many hits; stopping");
                break;
            }
            let readers = self.corr_readers.get(ci).cloned().unwrap_or_default();
            let generates = readers.is_empty()
                || readers
                    .iter()
                    .any(|&r| self.states.get(r).is_some_and(|s| s.def().generate));
            for r in readers {
                let Some(state) = self.states.get_mut(r) else {
                    continue;
                };
                let source = state
                    .def()
                    .sources
                    .iter()
                    .position(|s| *s == Source::Correlation(ci))
                    .unwrap_or(0);
                let input = Input {
                    source,
                    time: hit.last_seen,
                    events: &hit.events,
                    count: hit.count,
                    fields: Some(&hit.group),
                };
                let mut hits = Vec::new();
                state.observe(&input, &mut hits);
                fired.extend(hits.into_iter().map(|h| (r, h)));
            }
            if generates {
                out.push(Hit::Correlation(hit));
            }
        }
    }
}
