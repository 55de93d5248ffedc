//! CloudWatch alarm semantics over a metric built from matching events: periods aligned on
//! event time, a statistic per period, M out of N datapoints breaching, and the four ways of
//! treating missing data.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use trailhound_core::Timestamp;

/// The statistic of one period's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Statistic {
    /// Sum of the values.
    #[default]
    Sum,
    /// How many values.
    SampleCount,
    /// Mean of the values.
    Average,
    /// Smallest value.
    Minimum,
    /// Largest value.
    Maximum,
}

/// How a datapoint is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ComparisonOperator {
    /// `>=`
    #[default]
    GreaterThanOrEqualToThreshold,
    /// `>`
    GreaterThanThreshold,
    /// `<`
    LessThanThreshold,
    /// `<=`
    LessThanOrEqualToThreshold,
}

impl ComparisonOperator {
    /// True when `value` breaches `threshold`.
    #[must_use]
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::GreaterThanThreshold => value > threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// The operator as a symbol.
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => ">=",
            Self::GreaterThanThreshold => ">",
            Self::LessThanThreshold => "<",
            Self::LessThanOrEqualToThreshold => "<=",
        }
    }
}

/// How periods without a datapoint count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissingData {
    /// Not considered; with no datapoint at all in the evaluation range the alarm goes to
    /// INSUFFICIENT_DATA.
    Missing,
    /// Counted as good (within the threshold).
    #[default]
    NotBreaching,
    /// Counted as bad (breaching the threshold).
    Breaching,
    /// Not considered; with no datapoint at all the alarm keeps its state.
    Ignore,
}

/// The alarm settings of a metric filter (the `AWS::CloudWatch::Alarm` properties).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmConfig {
    /// Statistic per period.
    pub statistic: Statistic,
    /// Period length in seconds (a multiple of 10, at least 10).
    pub period: u32,
    /// How many recent periods are evaluated (N).
    pub evaluation_periods: u32,
    /// How many of them must breach to alarm (M, at most N; defaults to N).
    pub datapoints_to_alarm: Option<u32>,
    /// Comparison of a datapoint with the threshold.
    pub comparison_operator: ComparisonOperator,
    /// The threshold.
    pub threshold: f64,
    /// How periods without datapoints count.
    pub treat_missing_data: TreatMissingData,
}

impl Default for AlarmConfig {
    fn default() -> Self {
        AlarmConfig {
            statistic: Statistic::Sum,
            period: 300,
            evaluation_periods: 1,
            datapoints_to_alarm: None,
            comparison_operator: ComparisonOperator::GreaterThanOrEqualToThreshold,
            threshold: 1.0,
            treat_missing_data: TreatMissingData::NotBreaching,
        }
    }
}

impl AlarmConfig {
    /// Checks the settings; returns what is wrong.
    ///
    /// # Errors
    /// A message for the first invalid setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.period < 10 || !self.period.is_multiple_of(10) {
            return Err(format!(
                "period {} must be a multiple of 10 seconds, at least 10",
                self.period
            ));
        }
        if self.evaluation_periods == 0 {
            return Err("evaluation_periods must be at least 1".to_owned());
        }
        if let Some(m) = self.datapoints_to_alarm
            && (m == 0 || m > self.evaluation_periods)
        {
            return Err(format!(
                "datapoints_to_alarm {m} must be between 1 and evaluation_periods ({})",
                self.evaluation_periods
            ));
        }
        if !self.threshold.is_finite() {
            return Err("threshold must be a finite number".to_owned());
        }
        Ok(())
    }

    /// M: datapoints that must breach.
    #[must_use]
    pub fn datapoints(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }
}

/// The alarm states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// Within the threshold.
    Ok,
    /// Breaching.
    Alarm,
    /// Not enough data.
    InsufficientData,
}

/// The values of one period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Accumulator {
    /// How many values.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Accumulator {
    fn new() -> Self {
        Accumulator {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
    fn push(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
    fn statistic(&self, statistic: Statistic) -> f64 {
        match statistic {
            Statistic::Sum => self.sum,
            Statistic::SampleCount => self.count as f64,
            Statistic::Average => self.sum / self.count.max(1) as f64,
            Statistic::Minimum => self.min,
            Statistic::Maximum => self.max,
        }
    }
}

/// One closed period as the alarm saw it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Datapoint {
    /// Period start.
    pub start: Timestamp,
    /// The statistic, or `None` when the period had no data.
    pub value: Option<f64>,
    /// Whether it breached (missing datapoints per the treat-missing-data mode).
    pub breaching: Option<bool>,
}

/// A state change of the alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// State before.
    pub from: AlarmState,
    /// State after.
    pub to: AlarmState,
    /// End of the period whose evaluation changed the state.
    pub at: Timestamp,
    /// The evaluated datapoints, oldest first.
    pub datapoints: Vec<Datapoint>,
}

/// The alarm state machine, driven by metric values on event time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alarm {
    config: AlarmConfig,
    default_value: Option<f64>,
    state: AlarmState,
    open: BTreeMap<i64, Accumulator>,
    recent: VecDeque<Datapoint>,
    next_period: Option<i64>,
    latest_seen: Option<i64>,
    late_values: u64,
}

impl Alarm {
    /// A new alarm, in INSUFFICIENT_DATA. `default_value` is the metric value of periods with
    /// no matching event (CloudWatch's metric-filter default value).
    #[must_use]
    pub fn new(config: AlarmConfig, default_value: Option<f64>) -> Self {
        Alarm {
            config,
            default_value,
            state: AlarmState::InsufficientData,
            open: BTreeMap::new(),
            recent: VecDeque::new(),
            next_period: None,
            latest_seen: None,
            late_values: 0,
        }
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> AlarmState {
        self.state
    }

    /// Values that arrived for periods already evaluated (dropped).
    #[must_use]
    pub fn late_values(&self) -> u64 {
        self.late_values
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AlarmConfig {
        &self.config
    }

    fn period_ms(&self) -> i64 {
        i64::from(self.config.period) * 1000
    }

    /// The start of the period containing `time`.
    #[must_use]
    pub fn period_start(&self, time: Timestamp) -> i64 {
        let ms = time.as_millis();
        ms - ms.rem_euclid(self.period_ms())
    }

    /// Records one metric value at `time`. Returns false when its period was already
    /// evaluated (the value is dropped).
    pub fn record(&mut self, time: Timestamp, value: f64) -> bool {
        let start = self.period_start(time);
        if self.next_period.is_some_and(|next| start < next) {
            self.late_values += 1;
            return false;
        }
        if self.next_period.is_none() {
            self.next_period = Some(start);
        }
        self.latest_seen = Some(self.latest_seen.map_or(start, |l| l.max(start)));
        self.open
            .entry(start)
            .or_insert_with(Accumulator::new)
            .push(value);
        true
    }

    /// Notes that event time reached `time` with no matching value (so periods up to it
    /// exist and count as having data for the default value).
    pub fn saw_time(&mut self, time: Timestamp) {
        let start = self.period_start(time);
        if self.next_period.is_none() {
            self.next_period = Some(start);
        }
        self.latest_seen = Some(self.latest_seen.map_or(start, |l| l.max(start)));
    }

    /// Closes and evaluates every period that ends at or before `watermark`. At
    /// [`Timestamp::MAX`] (end of input) periods are closed up to the latest one seen.
    pub fn advance(&mut self, watermark: Timestamp) -> Vec<Transition> {
        let mut transitions = Vec::new();
        let Some(mut next) = self.next_period else {
            return transitions;
        };
        let period = self.period_ms();
        let limit = if watermark == Timestamp::MAX {
            self.latest_seen.map_or(next, |l| l.saturating_add(period))
        } else {
            watermark.as_millis()
        };
        while next.saturating_add(period) <= limit {
            let acc = self.open.remove(&next);
            let value = match acc {
                Some(acc) => Some(acc.statistic(self.config.statistic)),
                None => self.default_value,
            };
            let breaching = match value {
                Some(v) => Some(
                    self.config
                        .comparison_operator
                        .breaches(v, self.config.threshold),
                ),
                None => match self.config.treat_missing_data {
                    TreatMissingData::Breaching => Some(true),
                    TreatMissingData::NotBreaching => Some(false),
                    TreatMissingData::Missing | TreatMissingData::Ignore => None,
                },
            };
            self.recent.push_back(Datapoint {
                start: Timestamp::from_millis(next),
                value,
                breaching,
            });
            while self.recent.len() > self.config.evaluation_periods as usize {
                self.recent.pop_front();
            }
            let end = next.saturating_add(period);
            if let Some(to) = self.evaluate()
                && to != self.state
            {
                transitions.push(Transition {
                    from: self.state,
                    to,
                    at: Timestamp::from_millis(end),
                    datapoints: self.recent.iter().copied().collect(),
                });
                self.state = to;
            }
            next = end;
            // Long quiet gaps: once the window is all filler there is nothing new to learn
            // from the following empty periods but the same result; jump over them.
            if self.open.is_empty()
                && self
                    .recent
                    .iter()
                    .all(|d| d.value.is_none() && self.default_value.is_none())
                && self.recent.len() == self.config.evaluation_periods as usize
            {
                let aligned = limit - limit.rem_euclid(period) - period;
                if aligned > next {
                    next = aligned;
                }
            }
        }
        self.next_period = Some(next);
        transitions
    }

    /// The state the evaluation range calls for; `None` keeps the current state.
    fn evaluate(&self) -> Option<AlarmState> {
        let n = self.config.evaluation_periods as usize;
        let m = self.config.datapoints() as usize;
        // With fewer closed periods than N, the missing older ones count per the mode.
        let mut breaching = 0usize;
        let mut known = 0usize;
        for point in &self.recent {
            if let Some(b) = point.breaching {
                known += 1;
                breaching += usize::from(b);
            }
        }
        let absent = n - self.recent.len();
        match self.config.treat_missing_data {
            TreatMissingData::Breaching => {
                breaching += absent;
                known += absent;
            }
            TreatMissingData::NotBreaching => known += absent,
            TreatMissingData::Missing | TreatMissingData::Ignore => {}
        }
        if breaching >= m {
            return Some(AlarmState::Alarm);
        }
        if known == 0 {
            return match self.config.treat_missing_data {
                TreatMissingData::Ignore => None,
                _ => Some(AlarmState::InsufficientData),
            };
        }
        Some(AlarmState::Ok)
    }
}
