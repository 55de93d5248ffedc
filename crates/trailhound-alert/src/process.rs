//! The deterministic part of the pipeline: correlation, suppression and dedup. Pure event
//! time, no I/O (the suppressions file is read when the pipeline opens), so a replay gives
//! the same output as live processing.

use foldhash::{HashMap, HashMapExt};
use serde::Serialize;
use serde_json::json;
use trailhound_core::{Alert, Event, MAX_ALERT_EVENTS, Timestamp, stable_hash_hex};

use crate::Result;
use crate::chain::{Correlator, builtin_chains};
use crate::config::{AlertConfig, DedupConfig, DurationText, UpdateMode};
use crate::fields::field_value;
use crate::pattern::any_match;
use crate::suppress::Suppressions;

/// How far behind the newest event time processing windows close (alerts of windowed
/// detectors arrive up to this late).
pub const LATENESS_MS: i64 = 10 * 60 * 1000;
/// How often (event time) windows are closed automatically.
const ADVANCE_EVERY_MS: i64 = 60 * 1000;

/// What an output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// A new finding (including chain alerts).
    Alert,
    /// A merged finding's new count, last_seen and sample (same alert id).
    Update,
}

impl OutputKind {
    /// `alert` or `update`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Update => "update",
        }
    }
}

/// One alert leaving the processing stage for the sinks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    /// New or update.
    pub kind: OutputKind,
    /// The alert.
    pub alert: Alert,
}

impl Output {
    /// The message id receivers deduplicate on: the alert id for a new alert, a hash of the
    /// id and the count for an update. Stable across runs and restarts.
    #[must_use]
    pub fn message_id(&self) -> String {
        match self.kind {
            OutputKind::Alert => self.alert.id.clone(),
            OutputKind::Update => {
                let count = self.alert.event_count.to_string();
                let hash = stable_hash_hex(&[&self.alert.id, "update", &count]);
                format!("{}-u{}", &hash[..16], count)
            }
        }
    }
}

/// Counters of processing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProcessStats {
    /// Alerts submitted.
    pub submitted: u64,
    /// Alerts (and chain alerts) hidden by a suppression.
    pub suppressed: u64,
    /// Alerts merged into an earlier one.
    pub deduplicated: u64,
    /// Chain alerts raised.
    pub chains: u64,
    /// Outputs (new alerts and updates).
    pub emitted: u64,
}

#[derive(Debug)]
struct Group {
    alert: Alert,
    closes_at: Timestamp,
    merged: u64,
}

/// Dedup by key (rule + group fields) within a window.
#[derive(Debug)]
struct Deduper {
    config: DedupConfig,
    groups: HashMap<String, Group>,
}

impl Deduper {
    fn settings(&self, alert: &Alert) -> (&[String], DurationText) {
        for rule in &self.config.rules {
            if any_match(&rule.rules, &alert.rule.id) || any_match(&rule.rules, &alert.rule.name) {
                let fields = if rule.group_by.is_empty() {
                    &self.config.group_by
                } else {
                    &rule.group_by
                };
                return (fields, rule.window.unwrap_or(self.config.window));
            }
        }
        (&self.config.group_by, self.config.window)
    }

    fn key(alert: &Alert, fields: &[String]) -> String {
        let values: Vec<String> = fields
            .iter()
            .map(|f| field_value(alert, f).unwrap_or_default())
            .collect();
        let mut parts: Vec<&str> = vec![alert.rule.id.as_str()];
        parts.extend(values.iter().map(String::as_str));
        stable_hash_hex(&parts)
    }

    fn submit(&mut self, alert: Alert, stats: &mut ProcessStats, out: &mut Vec<Output>) {
        if !self.config.enabled {
            out.push(Output {
                kind: OutputKind::Alert,
                alert,
            });
            return;
        }
        let (fields, window) = self.settings(&alert);
        let key = Self::key(&alert, fields);
        if let Some(group) = self.groups.get_mut(&key)
            && alert.first_seen < group.closes_at
        {
            merge(&mut group.alert, &alert, &key);
            group.merged += 1;
            stats.deduplicated += 1;
            if self.config.updates == UpdateMode::Each {
                out.push(Output {
                    kind: OutputKind::Update,
                    alert: group.alert.clone(),
                });
            }
            return;
        }
        let closes_at = alert.first_seen.add_millis(window.as_millis_i64());
        if let Some(old) = self.groups.insert(
            key,
            Group {
                alert: alert.clone(),
                closes_at,
                merged: 0,
            },
        ) && self.config.updates == UpdateMode::Close
            && old.merged > 0
        {
            out.push(Output {
                kind: OutputKind::Update,
                alert: old.alert,
            });
        }
        out.push(Output {
            kind: OutputKind::Alert,
            alert,
        });
    }

    fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Output>) {
        let mut closed: Vec<(String, Group)> = Vec::new();
        self.groups.retain(|key, group| {
            if group.closes_at <= watermark {
                closed.push((
                    key.clone(),
                    Group {
                        alert: group.alert.clone(),
                        closes_at: group.closes_at,
                        merged: group.merged,
                    },
                ));
                false
            } else {
                true
            }
        });
        if self.config.updates != UpdateMode::Close {
            return;
        }
        // Deterministic order: by first_seen, then id.
        closed.sort_by(|a, b| {
            (a.1.alert.first_seen, &a.1.alert.id).cmp(&(b.1.alert.first_seen, &b.1.alert.id))
        });
        for (_, group) in closed {
            if group.merged > 0 {
                out.push(Output {
                    kind: OutputKind::Update,
                    alert: group.alert,
                });
            }
        }
    }
}

/// Merges `later` into `first`: count, time span, severity and the bounded event sample.
fn merge(first: &mut Alert, later: &Alert, key: &str) {
    first.event_count += later.event_count;
    first.first_seen = first.first_seen.min(later.first_seen);
    first.last_seen = first.last_seen.max(later.last_seen);
    first.severity = first.severity.max(later.severity);
    for event in &later.events {
        if first.events.len() >= MAX_ALERT_EVENTS {
            break;
        }
        if !first.events.iter().any(|e| e.event_id == event.event_id) {
            first.events.push(event.clone());
        }
    }
    let alerts = first
        .context
        .get("dedup")
        .and_then(|d| d.get("alerts"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(1)
        + 1;
    first.context.insert(
        "dedup".into(),
        json!({"key": key, "alerts": alerts, "last_alert": later.id}),
    );
}

/// Correlation, suppression and dedup, in that order. Correlation sees every alert (a
/// suppressed alert can still be a stage of a chain); chain alerts are then suppressed and
/// deduplicated like any other.
#[derive(Debug)]
pub struct Processor {
    suppressions: Suppressions,
    correlator: Correlator,
    dedup: Deduper,
    stats: ProcessStats,
    max_time: Timestamp,
    last_advance: Timestamp,
}

impl Processor {
    /// A processor for `config` with these suppressions.
    ///
    /// # Errors
    /// An invalid chain or configuration.
    pub fn new(config: &AlertConfig, suppressions: Suppressions) -> Result<Self> {
        config.validate()?;
        let mut chains = Vec::new();
        if config.correlation.builtin {
            chains.extend(builtin_chains().into_iter().filter(|c| {
                !config
                    .correlation
                    .disable
                    .iter()
                    .any(|d| d == &c.id || d == &c.name)
            }));
        }
        chains.extend(config.correlation.chains.iter().cloned());
        Ok(Processor {
            suppressions,
            correlator: Correlator::new(chains)?,
            dedup: Deduper {
                config: config.dedup.clone(),
                groups: HashMap::new(),
            },
            stats: ProcessStats::default(),
            max_time: Timestamp::MIN,
            last_advance: Timestamp::MIN,
        })
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> ProcessStats {
        self.stats
    }

    /// The suppressions in force.
    #[must_use]
    pub fn suppressions(&self) -> &Suppressions {
        &self.suppressions
    }

    /// Replaces the suppressions (after the file changed).
    pub fn set_suppressions(&mut self, suppressions: Suppressions) {
        self.suppressions = suppressions;
    }

    /// Whether [`Processor::observe`] does anything (some chain has an event stage).
    #[must_use]
    pub fn wants_events(&self) -> bool {
        self.correlator.wants_events()
    }

    /// Sees an event for the chains' event stages; appends outputs (chain alerts).
    pub fn observe(&mut self, event: &Event, out: &mut Vec<Output>) {
        if !self.correlator.wants_events() {
            return;
        }
        let mut chains = Vec::new();
        self.correlator.observe_event(event, &mut chains);
        for chain in chains {
            self.stats.chains += 1;
            self.pass(chain, out);
        }
        self.tick(event.event_time(), out);
    }

    /// Processes one alert; appends outputs.
    pub fn submit(&mut self, alert: Alert, out: &mut Vec<Output>) {
        self.stats.submitted += 1;
        let time = alert.last_seen;
        let mut chains = Vec::new();
        self.correlator.observe_alert(&alert, &mut chains);
        self.pass(alert, out);
        for chain in chains {
            self.stats.chains += 1;
            self.pass(chain, out);
        }
        self.tick(time, out);
    }

    /// Event time reached `watermark`: closes dedup windows (emitting `close` updates) and
    /// forgets expired chain state. Call with [`Timestamp::MAX`] at the end of input.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Output>) {
        let before = out.len();
        self.dedup.advance(watermark, out);
        self.correlator.advance(watermark);
        self.stats.emitted += (out.len() - before) as u64;
    }

    fn tick(&mut self, time: Timestamp, out: &mut Vec<Output>) {
        if time <= self.max_time {
            return;
        }
        self.max_time = time;
        if time.millis_since(self.last_advance) >= ADVANCE_EVERY_MS {
            self.last_advance = time;
            self.advance(time.add_millis(-LATENESS_MS), out);
        }
    }

    fn pass(&mut self, alert: Alert, out: &mut Vec<Output>) {
        if let Some(suppression) = self.suppressions.matches(&alert) {
            tracing::debug!(alert = %alert.id, rule = %alert.rule.id, suppression = %suppression.id, "alert suppressed");
            self.stats.suppressed += 1;
            return;
        }
        let before = out.len();
        self.dedup.submit(alert, &mut self.stats, out);
        self.stats.emitted += (out.len() - before) as u64;
    }
}
