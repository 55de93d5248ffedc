//! Metric filters with alarms: CloudWatch Logs filter patterns evaluated on each record, a
//! metric made of the matches, and a CloudWatch alarm over that metric on event time.
//!
//! An alert (kind `metric-filter`) is raised when an alarm goes to ALARM, with the evaluated
//! datapoints and a sample of the matching events; an informational notice "… returned to OK"
//! when it comes back.
//!
//! ```
//! use trailhound_detect::metric_filter::FilterPattern;
//! let pattern = FilterPattern::parse(r#"{ $.errorCode = "*UnauthorizedOperation" || $.errorCode = "AccessDenied*" }"#).unwrap();
//! assert!(pattern.matches(r#"{"errorCode":"AccessDenied"}"#));
//! ```

mod alarm;
mod cis;
mod pattern;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trailhound_core::{
    Alert, AlertEvent, Entity, Event, MAX_ALERT_EVENTS, RuleKind, RuleRef, Severity, Timestamp,
    rawjson,
};

pub use alarm::{
    Accumulator, Alarm, AlarmConfig, AlarmState, ComparisonOperator, Datapoint, Statistic,
    Transition, TreatMissingData,
};
pub use cis::{CIS_CONTROLS, CisControl};
pub use pattern::{
    CmpOp, Expr, FilterPattern, MAX_PATTERN_CHARS, MAX_PATTERN_DEPTH, PatternError, Step,
    StringTest,
};
pub(crate) use pattern::{wildcard_match, wildcard_parts};

use crate::prefilter::AnyLiteral;
use crate::{Detector, Error, Interest, Result, RuleDoc};

/// `[metric_filters]`: the CIS pack and user metric filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricFiltersConfig {
    /// Run the built-in CIS AWS Foundations monitoring pack (TH2101–TH2115).
    pub cis: bool,
    /// CIS controls to leave off, by id (`TH2110`) or name (`security-group-changed`).
    /// Default: `["TH2101"]` (unauthorized API calls), which is too noisy as a default.
    pub cis_disabled: Vec<String>,
    /// The alarm of every CIS control (default: Sum ≥ 1 over one 300 s period).
    pub cis_alarm: AlarmConfig,
    /// User metric filters (`[[metric_filters.filters]]`), e.g. written by
    /// `trailhound import cloudformation`.
    pub filters: Vec<MetricFilterConfig>,
}

impl Default for MetricFiltersConfig {
    fn default() -> Self {
        MetricFiltersConfig {
            cis: true,
            // The CIS "unauthorized API calls" control (Sum >= 1 per 5 minutes) fires on the
            // routine AccessDenied of any busy account; bursts of failures are covered with
            // context by the built-in access-denied rules and the anomaly family. Turn it on
            // with `cis_disabled = []`.
            cis_disabled: vec!["TH2101".to_owned()],
            cis_alarm: AlarmConfig::default(),
            filters: Vec::new(),
        }
    }
}

/// One metric filter and its alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricFilterConfig {
    /// Stable id used in alerts (e.g. `MF-unauthorized-operation`).
    pub id: String,
    /// Kebab-case behaviour name.
    pub name: String,
    /// One-line title; defaults to the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The CloudWatch Logs filter pattern.
    pub pattern: String,
    /// Alert severity when the alarm fires.
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// The metric value of each match: a number (`"1"`) or a selector (`"$.field"`).
    #[serde(default = "default_metric_value")]
    pub metric_value: String,
    /// The metric value of periods without any match (none: the period has no datapoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<f64>,
    /// CloudWatch metric namespace (informational, kept from imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_namespace: Option<String>,
    /// CloudWatch metric name (informational, kept from imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    /// What the filter detects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What to check and how to contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// ATT&CK technique ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<String>,
    /// The alarm.
    #[serde(default)]
    pub alarm: AlarmConfig,
}

fn default_severity() -> Severity {
    Severity::Medium
}

fn default_metric_value() -> String {
    "1".to_owned()
}

/// The metric value of a match.
#[derive(Debug, Clone, PartialEq)]
enum MetricValue {
    Constant(f64),
    Field(Vec<Step>),
}

impl MetricValue {
    fn parse(text: &str) -> std::result::Result<MetricValue, String> {
        let text = text.trim();
        if let Ok(n) = text.parse::<f64>() {
            return Ok(MetricValue::Constant(n));
        }
        match FilterPattern::parse(&format!("{{ {text} NOT EXISTS }}")) {
            Ok(FilterPattern::Json(Expr::Exists(path, true))) => Ok(MetricValue::Field(path)),
            _ => Err(format!(
                "metric_value {text:?} is neither a number nor a selector like $.field"
            )),
        }
    }

    /// The metric value of a record.
    fn value(&self, record: pattern::Root<'_>) -> Option<f64> {
        match self {
            Self::Constant(n) => Some(*n),
            Self::Field(path) => {
                let node = pattern::resolve(record, path)?;
                pattern::number(node).or_else(|| rawjson::string(node).and_then(|s| s.parse().ok()))
            }
        }
    }
}

/// The compiled detector of one metric filter with its alarm.
pub struct MetricFilterDetector {
    rule: RuleRef,
    title: String,
    severity: Severity,
    attack: Vec<String>,
    runbook: String,
    pattern_text: String,
    pattern: FilterPattern,
    value: MetricValue,
    alarm: Alarm,
    samples: BTreeMap<i64, (u64, Vec<Event>)>,
    interest: Interest,
    needles: Option<AnyLiteral>,
}

impl std::fmt::Debug for MetricFilterDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricFilterDetector")
            .field("id", &self.rule.id)
            .finish_non_exhaustive()
    }
}

impl MetricFilterConfig {
    /// Compiles the filter and its alarm.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad pattern (with the column), metric value or alarm setting.
    pub fn build(&self) -> Result<MetricFilterDetector> {
        let config_error = |message: String| Error::Config {
            detector: self.id.clone(),
            message,
        };
        let pattern = FilterPattern::parse(&self.pattern)
            .map_err(|e| config_error(format!("filter pattern {:?}: {e}", self.pattern)))?;
        let value = MetricValue::parse(&self.metric_value).map_err(config_error)?;
        self.alarm.validate().map_err(config_error)?;
        let needles = if pattern.rules_out_on_typed_fields() {
            None
        } else {
            pattern.required_text().map(|n| AnyLiteral::new(&n))
        };
        let interest = match pattern.required_event_names() {
            Some(names) => Interest::event_names(names),
            None => Interest::all(),
        };
        Ok(MetricFilterDetector {
            rule: RuleRef {
                id: self.id.clone(),
                name: self.name.clone(),
                kind: RuleKind::MetricFilter,
                author: None,
            },
            title: self.title.clone().unwrap_or_else(|| self.name.clone()),
            severity: self.severity,
            attack: self.attack.clone(),
            runbook: self.runbook.clone().unwrap_or_else(|| {
                "Review the matching events: who made them, from where, and whether the change or access was planned."
                    .to_owned()
            }),
            pattern_text: self.pattern.clone(),
            pattern,
            value,
            alarm: Alarm::new(self.alarm.clone(), self.default_value),
            samples: BTreeMap::new(),
            interest,
            needles,
        })
    }
}

impl CisControl {
    /// The control as a metric-filter config with the given alarm.
    #[must_use]
    pub fn to_config(&self, alarm: &AlarmConfig) -> MetricFilterConfig {
        MetricFilterConfig {
            id: self.id.to_owned(),
            name: self.name.to_owned(),
            title: Some(self.title.to_owned()),
            pattern: self.pattern.to_owned(),
            severity: self.severity.parse().unwrap_or(Severity::Medium),
            metric_value: "1".to_owned(),
            default_value: None,
            metric_namespace: Some("CISBenchmark".to_owned()),
            metric_name: Some(self.name.to_owned()),
            description: Some(self.description.to_owned()),
            runbook: Some(self.runbook.to_owned()),
            attack: self.attack.iter().map(|s| (*s).to_owned()).collect(),
            alarm: alarm.clone(),
        }
    }

    /// The control's catalogue entry.
    #[must_use]
    pub fn doc(&self) -> RuleDoc {
        RuleDoc {
            id: self.id.to_owned(),
            name: self.name.to_owned(),
            kind: RuleKind::MetricFilter,
            title: self.title.to_owned(),
            severity: self.severity.parse().unwrap_or(Severity::Medium),
            attack: self.attack.iter().map(|s| (*s).to_owned()).collect(),
            description: format!("{} Filter pattern: `{}`", self.description, self.pattern),
            why_it_matters: format!(
                "{} asks for an alarm on these events: they are where an intruder or a mistake shows first in CloudTrail.",
                self.control
            ),
            tuning: "metric_filters.cis_alarm sets the alarm of the pack (default Sum >= 1 in 300 s); metric_filters.cis_disabled turns controls off.".to_owned(),
            false_positives: vec!["Planned changes by administrators or infrastructure pipelines.".to_owned()],
            runbook: self.runbook.to_owned(),
            references: vec!["https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html".to_owned()],
            author: None,
            behaviours: vec!["CIS AWS Foundations monitoring controls as a built-in metric-filter pack".to_owned()],
        }
    }
}

impl MetricFiltersConfig {
    /// Builds every enabled metric filter: the CIS pack, then the user filters.
    ///
    /// # Errors
    /// The first filter that does not compile; duplicate ids.
    pub fn build(&self) -> Result<Vec<MetricFilterDetector>> {
        let mut out = Vec::new();
        if self.cis {
            for control in CIS_CONTROLS {
                if self
                    .cis_disabled
                    .iter()
                    .any(|d| d == control.id || d == control.name)
                {
                    continue;
                }
                out.push(control.to_config(&self.cis_alarm).build()?);
            }
        }
        for filter in &self.filters {
            if out
                .iter()
                .any(|d: &MetricFilterDetector| d.rule.id == filter.id)
            {
                return Err(Error::Config {
                    detector: filter.id.clone(),
                    message: "duplicate metric filter id".to_owned(),
                });
            }
            out.push(filter.build()?);
        }
        Ok(out)
    }
}

/// The catalogue entries of the CIS pack.
#[must_use]
pub fn rule_docs() -> Vec<RuleDoc> {
    CIS_CONTROLS.iter().map(CisControl::doc).collect()
}

impl MetricFilterDetector {
    /// The current alarm state.
    #[must_use]
    pub fn state(&self) -> AlarmState {
        self.alarm.state()
    }

    fn alarm_context(&self, transition: &Transition) -> serde_json::Map<String, serde_json::Value> {
        let config = self.alarm.config();
        let mut context = serde_json::Map::new();
        context.insert("filter_pattern".into(), self.pattern_text.clone().into());
        context.insert(
            "alarm".into(),
            serde_json::json!({
                "statistic": config.statistic,
                "period": config.period,
                "evaluation_periods": config.evaluation_periods,
                "datapoints_to_alarm": config.datapoints(),
                "comparison_operator": config.comparison_operator,
                "threshold": config.threshold,
                "treat_missing_data": config.treat_missing_data,
                "from": transition.from,
                "to": transition.to,
                "at": transition.at,
            }),
        );
        context.insert(
            "datapoints".into(),
            serde_json::to_value(&transition.datapoints).unwrap_or(serde_json::Value::Null),
        );
        context
    }

    fn describe(&self, transition: &Transition) -> String {
        let config = self.alarm.config();
        let values: Vec<String> = transition
            .datapoints
            .iter()
            .map(|d| match d.value {
                Some(v) => format!("{v}"),
                None => "missing".to_owned(),
            })
            .collect();
        format!(
            "{:?} of the metric per {} s {} {} in {} of the last {} periods (datapoints oldest first: {}; missing data: {})",
            config.statistic,
            config.period,
            config.comparison_operator.symbol(),
            config.threshold,
            config.datapoints(),
            config.evaluation_periods,
            values.join(", "),
            serde_json::to_value(config.treat_missing_data)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        )
    }

    fn raise(&mut self, transition: &Transition, out: &mut Vec<Alert>) {
        let period_ms = i64::from(self.alarm.config().period) * 1000;
        let window_start = transition
            .datapoints
            .first()
            .map_or(transition.at, |d| d.start);
        let mut events: Vec<&Event> = Vec::new();
        let mut count = 0u64;
        for (_, (n, sample)) in self
            .samples
            .range(window_start.as_millis()..transition.at.as_millis())
        {
            count += n;
            events.extend(sample.iter());
        }
        let to_alarm = transition.to == AlarmState::Alarm;
        let (title, severity, group) = if to_alarm {
            (
                format!(
                    "{} alarm: {}",
                    self.title,
                    alarm_summary(&transition.datapoints)
                ),
                self.severity,
                self.rule.id.clone(),
            )
        } else {
            (
                format!("{} returned to OK", self.title),
                Severity::Informational,
                format!("{}/ok", self.rule.id),
            )
        };
        let why = if to_alarm {
            format!(
                "the alarm went from {} to ALARM: {}",
                state_name(transition.from),
                self.describe(transition)
            )
        } else {
            format!(
                "the alarm returned from ALARM to OK: {}",
                self.describe(transition)
            )
        };
        let mut entity = events
            .first()
            .map(|e| Entity::of_event(e))
            .unwrap_or_default();
        if events
            .iter()
            .any(|e| e.principal_arn() != entity.principal.as_deref())
        {
            entity.principal = None;
            entity.access_key_id = None;
            entity.user_agent = None;
        }
        if events
            .iter()
            .any(|e| e.source().text.as_str() != entity.source_ip.as_deref().unwrap_or(""))
        {
            entity.source_ip = None;
        }
        let first_seen = events
            .iter()
            .map(|e| e.event_time())
            .min()
            .unwrap_or(window_start);
        let last_seen = events
            .iter()
            .map(|e| e.event_time())
            .max()
            .unwrap_or_else(|| transition.at.add_millis(-period_ms.min(1)));
        let mut alert = Alert {
            id: String::new(),
            rule: self.rule.clone(),
            title,
            severity,
            attack: if to_alarm {
                self.attack.clone()
            } else {
                Vec::new()
            },
            first_seen,
            last_seen,
            event_count: if to_alarm { count } else { 0 },
            entity,
            why,
            events: if to_alarm {
                events
                    .iter()
                    .take(MAX_ALERT_EVENTS)
                    .map(|e| AlertEvent::of(e))
                    .collect()
            } else {
                Vec::new()
            },
            runbook: self.runbook.clone(),
            fingerprint: String::new(),
            group_key: Some(group),
            score: None,
            references: Vec::new(),
            context: self.alarm_context(transition),
        };
        alert.seal();
        out.push(alert);
    }
}

fn state_name(state: AlarmState) -> &'static str {
    match state {
        AlarmState::Ok => "OK",
        AlarmState::Alarm => "ALARM",
        AlarmState::InsufficientData => "INSUFFICIENT_DATA",
    }
}

fn alarm_summary(datapoints: &[Datapoint]) -> String {
    let breaching = datapoints
        .iter()
        .filter(|d| d.breaching == Some(true))
        .count();
    let last = datapoints.last().and_then(|d| d.value);
    match last {
        Some(v) => format!(
            "{breaching} of {} datapoints breaching (latest {v})",
            datapoints.len()
        ),
        None => format!("{breaching} of {} datapoints breaching", datapoints.len()),
    }
}

impl Detector for MetricFilterDetector {
    fn id(&self) -> &str {
        &self.rule.id
    }

    fn interest(&self) -> Interest {
        self.interest.clone()
    }

    fn observe(&mut self, event: &Event, _out: &mut Vec<Alert>) {
        if let Some(needles) = &self.needles
            && !needles.may_match(event.raw())
        {
            return;
        }
        if !self.pattern.matches_event(event) {
            return;
        }
        let Some(value) = self.value.value(pattern::Root::Event(event)) else {
            return;
        };
        if !self.alarm.record(event.event_time(), value) {
            tracing::debug!(filter = %self.rule.id, event = %event.event_id(), "metric value for an evaluated period dropped");
            return;
        }
        let start = self.alarm.period_start(event.event_time());
        let slot = self.samples.entry(start).or_insert_with(|| (0, Vec::new()));
        slot.0 += 1;
        if slot.1.len() < MAX_ALERT_EVENTS {
            // Kept until the period is judged: its own copy of the record, not its file.
            slot.1.push(event.detach());
        }
    }

    fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        let transitions = self.alarm.advance(watermark);
        for transition in &transitions {
            let fired = transition.to == AlarmState::Alarm;
            let resolved = transition.from == AlarmState::Alarm && transition.to == AlarmState::Ok;
            if fired || resolved {
                self.raise(transition, out);
            }
        }
        // Keep samples only for periods that can still be in an evaluation range.
        let config = self.alarm.config();
        let keep_ms = i64::from(config.period) * 1000 * i64::from(config.evaluation_periods);
        if let Some(last) = transitions
            .last()
            .map(|t| t.at)
            .or((watermark != Timestamp::MAX).then_some(watermark))
        {
            let cutoff = last.as_millis().saturating_sub(keep_ms);
            self.samples = self.samples.split_off(&cutoff);
        }
    }

    fn save_state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.alarm)
            .ok()
            .map(|alarm| serde_json::json!({"version": 1, "alarm": alarm}))
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        let error = |message: String| Error::State {
            detector: self.rule.id.clone(),
            message,
        };
        if state.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
            return Err(error("unsupported state version".to_owned()));
        }
        let alarm: Alarm = serde_json::from_value(state.get("alarm").cloned().unwrap_or_default())
            .map_err(|e| error(e.to_string()))?;
        if alarm.config() != self.alarm.config() {
            tracing::info!(filter = %self.rule.id, "alarm settings changed; starting the alarm afresh");
            return Ok(());
        }
        self.alarm = alarm;
        Ok(())
    }
}
