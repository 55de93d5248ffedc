//! Scores alerts against the labels: which scenarios were caught, and how noisy the rest was.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use trailhound_core::Alert;

use crate::Label;

/// One scenario's outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ScenarioScore {
    /// Scenario name.
    pub scenario: String,
    /// Labelled events.
    pub events: usize,
    /// Rules (`kind:name`) of the alerts citing at least one of its events.
    pub caught_by: BTreeSet<String>,
}

impl ScenarioScore {
    /// Whether an alert cited one of the scenario's events.
    #[must_use]
    pub fn caught(&self) -> bool {
        !self.caught_by.is_empty()
    }
}

/// The scorecard of a hunt over a generated tree.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Scorecard {
    /// Per scenario, in name order.
    pub scenarios: Vec<ScenarioScore>,
    /// Alerts that cite events, none of them labelled.
    pub benign_alerts: usize,
    /// Alerts that cite no event (alarm "returned to OK" notices, gaps), not judged.
    pub notices: usize,
    /// Benign alerts per rule (`kind:name`).
    pub benign_by_rule: BTreeMap<String, usize>,
    /// Records that are not labelled.
    pub benign_events: u64,
    /// All alerts.
    pub alerts: usize,
}

impl Scorecard {
    /// Scores `alerts` against `labels`; `total_events` is the number of records hunted.
    #[must_use]
    pub fn build(labels: &[Label], alerts: &[Alert], total_events: u64) -> Scorecard {
        let mut by_id: BTreeMap<&str, &str> = BTreeMap::new();
        let mut scenarios: BTreeMap<&str, ScenarioScore> = BTreeMap::new();
        for l in labels {
            by_id.insert(&l.event_id, &l.scenario);
            scenarios
                .entry(&l.scenario)
                .or_insert_with(|| ScenarioScore {
                    scenario: l.scenario.clone(),
                    events: 0,
                    caught_by: BTreeSet::new(),
                })
                .events += 1;
        }
        let mut benign_alerts = 0;
        let mut benign_by_rule = BTreeMap::new();
        let mut notices = 0;
        for alert in alerts {
            // Alerts that cite no event (an alarm's "returned to OK", a gap in periodic
            // activity) can be neither a catch nor a false alarm on an event: counted apart.
            if alert.events.is_empty() {
                notices += 1;
                continue;
            }
            let rule = format!("{}:{}", alert.rule.kind, alert.rule.name);
            let mut cited = false;
            for e in &alert.events {
                if let Some(s) = by_id.get(e.event_id.as_str()) {
                    cited = true;
                    if let Some(score) = scenarios.get_mut(s) {
                        score.caught_by.insert(rule.clone());
                    }
                }
            }
            if !cited {
                benign_alerts += 1;
                *benign_by_rule.entry(rule).or_insert(0) += 1;
            }
        }
        Scorecard {
            scenarios: scenarios.into_values().collect(),
            benign_alerts,
            benign_by_rule,
            notices,
            benign_events: total_events.saturating_sub(labels.len() as u64),
            alerts: alerts.len(),
        }
    }

    /// Benign alerts per million benign events.
    #[must_use]
    pub fn benign_per_million(&self) -> f64 {
        if self.benign_events == 0 {
            return 0.0;
        }
        self.benign_alerts as f64 * 1_000_000.0 / self.benign_events as f64
    }

    /// Scenarios caught.
    #[must_use]
    pub fn caught(&self) -> usize {
        self.scenarios.iter().filter(|s| s.caught()).count()
    }

    /// The scorecard as a text table.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let width = self
            .scenarios
            .iter()
            .map(|x| x.scenario.len())
            .max()
            .unwrap_or(8)
            .max(8);
        let _ = writeln!(
            s,
            "{:<width$}  {:>6}  {:<6}  caught by",
            "scenario", "events", "result"
        );
        for x in &self.scenarios {
            let by: Vec<&str> = x.caught_by.iter().map(String::as_str).collect();
            let _ = writeln!(
                s,
                "{:<width$}  {:>6}  {:<6}  {}",
                x.scenario,
                x.events,
                if x.caught() { "CAUGHT" } else { "missed" },
                if by.is_empty() {
                    "-".to_owned()
                } else {
                    by.join(", ")
                }
            );
        }
        let _ = writeln!(
            s,
            "\n{} of {} scenarios caught; {} alerts, {} on benign events ({:.1} per million benign events over {}), {} notices citing no event",
            self.caught(),
            self.scenarios.len(),
            self.alerts,
            self.benign_alerts,
            self.benign_per_million(),
            self.benign_events,
            self.notices
        );
        for (rule, n) in &self.benign_by_rule {
            let _ = writeln!(s, "  benign: {n:>5}  {rule}");
        }
        s
    }
}
