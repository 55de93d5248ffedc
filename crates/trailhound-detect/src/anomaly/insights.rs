//! CloudTrail-Insights-style detection: write-API call-rate and per-errorCode error-rate
//! spikes per account × region × API against a per-minute baseline of the preceding days, and
//! gaps in periodic activity.
//!
//! ## The rule
//! For each key (account, region, eventSource, eventName[, errorCode]) the detector keeps
//! hourly counts for the baseline period (default 7 days) and a per-minute window of the last
//! `W` minutes (default 5). Let `b` be the baseline average per minute (calls in the complete
//! hours of the preceding 7 days ÷ 10,080), `p` the busiest `W`-minute count seen in those
//! hours, and `n` the count of the last `W` minutes. Once the account × region has at least
//! 7 days of history, an insight **starts** when
//!
//! ```text
//! n ≥ min_events  and  n / W ≥ rate_factor × b  and  n > peak_factor × p
//! ```
//!
//! (defaults 10, 3, 1.5) and **ends** when `n` falls below half of that start threshold. The
//! `Start` and `End` records share a `sharedEventID`; `End` carries the insight's duration
//! and average. Attributions list up to 5 values each of `userIdentityArn`, `userAgent` and
//! `errorCode`, for the insight and (estimated from lifetime shares) for the baseline.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Event, Severity, Timestamp, stable_hash_hex};

use super::InsightsConfig;
use super::baseline::stable_hash;
use super::finding::{AnomalyRule, runbook, severity_for_score};
use crate::{Detector, Error, Interest, Result};

const STATE_VERSION: u32 = 1;
/// Most distinct values per attribution kept per key.
const ATTRIBUTION_CAP: usize = 16;
/// Values per attribution in a record (the Insights format's limit).
const ATTRIBUTION_OUT: usize = 5;
/// The detector id of [`InsightsDetector`].
pub const INSIGHTS_ID: &str = "anomaly-insights";

/// A shared queue of produced CloudTrail Insights records (JSON objects in the Insights
/// event format), filled by [`InsightsDetector`] and drained by whoever writes them out.
#[derive(Debug, Clone, Default)]
pub struct InsightRecords {
    queue: Arc<Mutex<VecDeque<serde_json::Value>>>,
}

impl InsightRecords {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&self, record: serde_json::Value) {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queue.push_back(record);
    }

    /// Takes every record produced so far, oldest first.
    #[must_use]
    pub fn drain(&self) -> Vec<serde_json::Value> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queue.drain(..).collect()
    }

    /// How many records wait.
    #[must_use]
    pub fn len(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// True when none wait.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum InsightKind {
    CallRate,
    ErrorRate,
}

impl InsightKind {
    fn insight_type(self) -> &'static str {
        match self {
            InsightKind::CallRate => "ApiCallRateInsight",
            InsightKind::ErrorRate => "ApiErrorRateInsight",
        }
    }
}

/// Value counts for one attribution (capped: the smallest is dropped).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counts(BTreeMap<String, u64>);

impl Counts {
    fn add(&mut self, value: &str) {
        if let Some(count) = self.0.get_mut(value) {
            *count += 1;
            return;
        }
        if self.0.len() >= ATTRIBUTION_CAP {
            let smallest = self
                .0
                .iter()
                .min_by_key(|(k, c)| (**c, (*k).clone()))
                .map(|(k, _)| k.clone());
            if let Some(smallest) = smallest {
                self.0.remove(&smallest);
            }
        }
        self.0.insert(value.to_owned(), 1);
    }

    fn top(&self) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self.0.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        all.truncate(ATTRIBUTION_OUT);
        all
    }

    fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Attributions {
    user_identity_arn: Counts,
    user_agent: Counts,
    error_code: Counts,
}

impl Attributions {
    fn add(&mut self, event: &Event) {
        self.user_identity_arn
            .add(event.principal_arn().unwrap_or(""));
        self.user_agent.add(event.user_agent().unwrap_or(""));
        self.error_code.add(event.error_code().unwrap_or(""));
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Active {
    start_minute: i64,
    shared_event_id: String,
    baseline_average: f64,
    count: u64,
    attributions: Attributions,
    threshold: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyState {
    kind: InsightKind,
    account: String,
    region: String,
    event_source: String,
    event_name: String,
    error_code: Option<String>,
    /// (hour number, calls, busiest window count in that hour), oldest first.
    hours: VecDeque<(i64, u32, u32)>,
    /// (minute number, calls) of the recent window.
    minutes: VecDeque<(i64, u32)>,
    lifetime: Attributions,
    active: Option<Active>,
    /// Gap detection: last call (seconds), days-with-calls bitmap (bit 0 = day of last call),
    /// largest interval between calls, and whether the current silence was reported.
    last_call: i64,
    day_bits: u32,
    max_interval: i64,
    gap_reported: bool,
}

#[derive(Serialize, Deserialize)]
struct SavedState {
    version: u32,
    regions: Vec<(u64, i64)>,
    keys: Vec<(u64, KeyState)>,
}

/// The Insights-style detector (id `anomaly-insights`, rules TH3030, TH3031, TH3032).
///
/// ## What it detects
/// Unusual write-API call rates and per-errorCode error rates per account × region × API,
/// against the per-minute average of the preceding 7 days, emitted as alerts and as
/// CloudTrail Insights records (see [`InsightRecords`]); and periodic APIs that stop.
///
/// ## Tuning
/// `[anomaly.insights]`: `baseline_days`, `window_minutes`, `rate_factor`, `min_events`,
/// `peak_factor`, `gap_min_days`, `gap_factor`, `max_keys`.
pub struct InsightsDetector {
    config: InsightsConfig,
    /// account × region → first event time (seconds).
    regions: HashMap<u64, i64>,
    keys: HashMap<u64, KeyState>,
    active: BTreeSet<u64>,
    records: InsightRecords,
    now: i64,
    last_gap_check: i64,
}

impl std::fmt::Debug for InsightsDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsightsDetector")
            .field("keys", &self.keys.len())
            .field("active", &self.active.len())
            .finish_non_exhaustive()
    }
}

impl InsightsDetector {
    /// A detector with empty baselines and its own record queue.
    #[must_use]
    pub fn new(config: InsightsConfig) -> Self {
        InsightsDetector {
            config,
            regions: HashMap::default(),
            keys: HashMap::default(),
            active: BTreeSet::new(),
            records: InsightRecords::new(),
            now: i64::MIN,
            last_gap_check: i64::MIN,
        }
    }

    /// Uses this record queue (shared with the writer of the Insights output).
    #[must_use]
    pub fn with_records(mut self, records: InsightRecords) -> Self {
        self.records = records;
        self
    }

    /// The queue of produced Insights records.
    #[must_use]
    pub fn records(&self) -> InsightRecords {
        self.records.clone()
    }

    /// How many account × region × API baselines are held.
    #[must_use]
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    fn window(&self) -> i64 {
        i64::from(self.config.window_minutes.max(1))
    }

    fn baseline_hours(&self) -> i64 {
        i64::from(self.config.baseline_days.max(7)) * 24
    }

    fn count_key(
        &mut self,
        key: u64,
        make: impl FnOnce() -> KeyState,
        event: &Event,
        out: &mut Vec<Alert>,
    ) {
        let minute = event.event_time().as_secs().div_euclid(60);
        let hour = minute.div_euclid(60);
        let window = self.window();
        let baseline_hours = self.baseline_hours();
        if !self.keys.contains_key(&key) {
            if self.keys.len() >= self.config.max_keys.max(1) {
                self.evict_one();
            }
            self.keys.insert(key, make());
        }
        let region_key = region_hash(event.account_id().unwrap_or(""), event.aws_region());
        let region_first = self.regions.get(&region_key).copied().unwrap_or(i64::MAX);
        let history_ok =
            event.event_time().as_secs().saturating_sub(region_first) >= baseline_hours * 3600;
        let Some(state) = self.keys.get_mut(&key) else {
            return;
        };

        // Per-minute window.
        match state.minutes.back_mut() {
            Some((m, c)) if *m == minute => *c += 1,
            Some((m, _)) if *m > minute => {
                // Late event: count it in its minute if still in the window.
                if let Some(slot) = state.minutes.iter_mut().find(|(m, _)| *m == minute) {
                    slot.1 += 1;
                }
            }
            _ => state.minutes.push_back((minute, 1)),
        }
        let newest = state.minutes.back().map_or(minute, |(m, _)| *m);
        while state
            .minutes
            .front()
            .is_some_and(|(m, _)| *m <= newest - window)
        {
            state.minutes.pop_front();
        }
        let n: u64 = state.minutes.iter().map(|(_, c)| u64::from(*c)).sum();

        // Baseline over complete hours before the current one.
        let (baseline_sum, baseline_peak) = state
            .hours
            .iter()
            .filter(|(h, _, _)| *h < hour && *h >= hour - baseline_hours)
            .fold((0u64, 0u32), |(s, p), (_, c, k)| {
                (s + u64::from(*c), p.max(*k))
            });
        let baseline_minutes = (baseline_hours * 60) as f64;
        let baseline_average = baseline_sum as f64 / baseline_minutes;

        // Hourly bucket.
        match state.hours.back_mut() {
            Some((h, c, k)) if *h == hour => {
                *c = c.saturating_add(1);
                *k = (*k).max(u32::try_from(n).unwrap_or(u32::MAX));
            }
            Some((h, _, _)) if *h > hour => {
                if let Some(slot) = state.hours.iter_mut().find(|(h, _, _)| *h == hour) {
                    slot.1 = slot.1.saturating_add(1);
                }
            }
            _ => state
                .hours
                .push_back((hour, 1, u32::try_from(n).unwrap_or(u32::MAX))),
        }
        while state
            .hours
            .front()
            .is_some_and(|(h, _, _)| *h < hour - baseline_hours)
        {
            state.hours.pop_front();
        }

        // Gap bookkeeping.
        let now = event.event_time().as_secs();
        if now > state.last_call {
            if state.last_call > 0 {
                let interval = now - state.last_call;
                let day_shift =
                    event.event_time().day_number() - state.last_call.div_euclid(86_400);
                state.day_bits = if day_shift >= 32 {
                    0
                } else {
                    state.day_bits << day_shift
                };
                if state.day_bits != 0 || day_shift == 0 {
                    state.max_interval = state.max_interval.max(interval);
                }
            }
            state.day_bits |= 1;
            state.last_call = now;
            state.gap_reported = false;
        }

        if let Some(active) = state.active.as_mut() {
            active.count += 1;
            active.attributions.add(event);
            state.lifetime.add(event);
            return;
        }
        state.lifetime.add(event);
        if !history_ok {
            return;
        }
        let threshold = start_threshold(&self.config, baseline_average, baseline_peak, window);
        if n < threshold {
            return;
        }
        let start_minute = minute - window + 1;
        let shared_event_id = uuid_like(&[&key.to_string(), &start_minute.to_string()]);
        let mut attributions = Attributions::default();
        attributions.add(event);
        let insight_average = n as f64 / window as f64;
        let active = Active {
            start_minute,
            shared_event_id,
            baseline_average,
            count: n,
            attributions,
            threshold,
        };
        let record = insight_record(
            state,
            &active,
            "Start",
            minute,
            insight_average,
            None,
            baseline_hours,
        );
        self.records.push(record);
        out.push(insight_alert(
            state,
            &active,
            insight_average,
            baseline_peak,
            window,
            event,
        ));
        state.active = Some(active);
        self.active.insert(key);
    }

    fn evict_one(&mut self) {
        let victim = self
            .keys
            .iter()
            .filter(|(_, s)| s.active.is_none())
            .min_by_key(|(k, s)| (s.last_call, **k))
            .map(|(k, _)| *k);
        if let Some(victim) = victim {
            self.keys.remove(&victim);
        }
    }

    fn close_insights(&mut self, at: Timestamp) {
        let minute = at.as_secs().div_euclid(60);
        let window = self.window();
        let baseline_hours = self.baseline_hours();
        let mut ended = Vec::new();
        for key in &self.active {
            let Some(state) = self.keys.get_mut(key) else {
                ended.push(*key);
                continue;
            };
            let n: u64 = state
                .minutes
                .iter()
                .filter(|(m, _)| *m > minute - window)
                .map(|(_, c)| u64::from(*c))
                .sum();
            let Some(active) = state.active.as_ref() else {
                ended.push(*key);
                continue;
            };
            if n * 2 >= active.threshold {
                continue;
            }
            let last_minute = state.minutes.back().map_or(minute, |(m, _)| *m).min(minute);
            let end_minute = last_minute + 1;
            let duration = (end_minute - active.start_minute).max(1);
            let average = active.count as f64 / duration as f64;
            let record = insight_record(
                state,
                active,
                "End",
                end_minute,
                average,
                Some(duration),
                baseline_hours,
            );
            self.records.push(record);
            state.active = None;
            ended.push(*key);
        }
        for key in ended {
            self.active.remove(&key);
        }
    }

    fn check_gaps(&mut self, now: i64, out: &mut Vec<Alert>) {
        let min_days = self.config.gap_min_days.clamp(1, 31);
        let needed: u32 = if min_days >= 32 {
            u32::MAX
        } else {
            (1u32 << min_days) - 1
        };
        let mut found = Vec::new();
        for (key, state) in &self.keys {
            if state.gap_reported || state.kind != InsightKind::CallRate || state.max_interval <= 0
            {
                continue;
            }
            let silence = now - state.last_call;
            let limit = ((state.max_interval as f64) * self.config.gap_factor) as i64;
            if state.day_bits & needed == needed && silence > limit.max(3600) {
                found.push((*key, silence));
            }
        }
        found.sort_unstable();
        for (key, silence) in found {
            let Some(state) = self.keys.get_mut(&key) else {
                continue;
            };
            state.gap_reported = true;
            out.push(gap_alert(state, silence, min_days, now));
        }
    }
}

/// A stable key of an account × region (FNV-1a of both, combined without allocating).
fn region_hash(account: &str, region: &str) -> u64 {
    stable_hash(account) ^ stable_hash(region).rotate_left(11)
}

fn start_threshold(
    config: &InsightsConfig,
    baseline_average: f64,
    baseline_peak: u32,
    window: i64,
) -> u64 {
    let by_rate = (config.rate_factor * baseline_average * window as f64).ceil();
    let by_peak = (config.peak_factor * f64::from(baseline_peak)).floor() + 1.0;
    let threshold = f64::from(config.min_events).max(by_rate).max(by_peak);
    threshold as u64
}

/// A UUID-shaped stable id from parts.
fn uuid_like(parts: &[&str]) -> String {
    let hex = stable_hash_hex(parts);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn minute_time(minute: i64) -> Timestamp {
    Timestamp::from_secs(minute.saturating_mul(60))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn attribution_json(
    name: &str,
    insight: &Counts,
    lifetime: &Counts,
    duration: f64,
    baseline_average: f64,
) -> serde_json::Value {
    let total = lifetime.total().max(1) as f64;
    let insight_values: Vec<serde_json::Value> = insight
        .top()
        .into_iter()
        .map(|(value, count)| serde_json::json!({"value": value, "average": round4(count as f64 / duration)}))
        .collect();
    let baseline_values: Vec<serde_json::Value> = lifetime
        .top()
        .into_iter()
        .map(|(value, count)| serde_json::json!({"value": value, "average": round4(baseline_average * count as f64 / total)}))
        .collect();
    serde_json::json!({"attribute": name, "insight": insight_values, "baseline": baseline_values})
}

fn insight_record(
    state: &KeyState,
    active: &Active,
    phase: &str,
    minute: i64,
    insight_average: f64,
    duration: Option<i64>,
    baseline_hours: i64,
) -> serde_json::Value {
    let span = duration.unwrap_or(1).max(1) as f64;
    let mut statistics = serde_json::json!({
        "baseline": {"average": round4(active.baseline_average)},
        "insight": {"average": round4(insight_average)},
        "baselineDuration": baseline_hours * 60,
    });
    if let Some(duration) = duration {
        statistics["insightDuration"] = duration.into();
    }
    let attributions = [
        attribution_json(
            "userIdentityArn",
            &active.attributions.user_identity_arn,
            &state.lifetime.user_identity_arn,
            span,
            active.baseline_average,
        ),
        attribution_json(
            "userAgent",
            &active.attributions.user_agent,
            &state.lifetime.user_agent,
            span,
            active.baseline_average,
        ),
        attribution_json(
            "errorCode",
            &active.attributions.error_code,
            &state.lifetime.error_code,
            span,
            active.baseline_average,
        ),
    ];
    let mut details = serde_json::json!({
        "state": phase,
        "eventSource": state.event_source,
        "eventName": state.event_name,
        "insightType": state.kind.insight_type(),
        "insightContext": {"statistics": statistics, "attributions": attributions},
    });
    if let Some(code) = &state.error_code {
        details["errorCode"] = code.as_str().into();
    }
    serde_json::json!({
        "eventVersion": "1.08",
        "eventTime": minute_time(minute).to_string(),
        "awsRegion": state.region,
        "eventID": uuid_like(&[&active.shared_event_id, phase]),
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": state.account,
        "sharedEventID": active.shared_event_id,
        "insightDetails": details,
        "eventCategory": "Insight",
    })
}

fn insight_alert(
    state: &KeyState,
    active: &Active,
    average: f64,
    peak: u32,
    window: i64,
    event: &Event,
) -> Alert {
    let (rule, what) = match state.kind {
        InsightKind::CallRate => (AnomalyRule::CallRateInsight, "calls".to_owned()),
        InsightKind::ErrorRate => (
            AnomalyRule::ErrorRateInsight,
            format!("{} errors", state.error_code.as_deref().unwrap_or("")),
        ),
    };
    let ratio = if active.baseline_average > 0.0 {
        average / active.baseline_average
    } else {
        f64::INFINITY
    };
    let score = if ratio >= 100.0 {
        75
    } else if ratio >= 20.0 {
        65
    } else {
        55
    };
    let ratio_text = if ratio.is_finite() {
        format!("{ratio:.0}×")
    } else {
        "no calls in the baseline".to_owned()
    };
    let title = format!(
        "{} {what} in {}/{} at {average:.2}/min, {ratio_text} the baseline",
        state.event_name, state.account, state.region
    );
    let why = format!(
        "{} {what} in account {} region {}: {} in the last {window} minutes ({average:.2}/min) against a \
         baseline of {:.4}/min over the preceding 7 days ({ratio_text}); busiest {window} minutes of the \
         baseline: {peak}",
        state.event_name, state.account, state.region, active.count, active.baseline_average
    );
    let mut alert = Alert::for_event(
        rule.rule_ref(),
        severity_for_score(score),
        title,
        why,
        event,
    );
    alert.score = Some(score);
    alert.attack = rule.attack().iter().map(|s| (*s).to_owned()).collect();
    alert.runbook = runbook(rule).to_owned();
    alert.context.insert(
        "sharedEventID".into(),
        active.shared_event_id.as_str().into(),
    );
    alert
        .context
        .insert("insight_type".into(), state.kind.insight_type().into());
    alert.context.insert(
        "baseline_average_per_minute".into(),
        round4(active.baseline_average).into(),
    );
    alert
        .context
        .insert("insight_average_per_minute".into(), round4(average).into());
    alert.context.insert("window_minutes".into(), window.into());
    alert
        .context
        .insert("baseline_peak_window".into(), peak.into());
    alert
        .context
        .insert("event_source".into(), state.event_source.as_str().into());
    if let Some(code) = &state.error_code {
        alert
            .context
            .insert("error_code".into(), code.as_str().into());
    }
    alert.group_key = Some(format!("{}|{}", state.account, active.shared_event_id));
    alert.seal();
    alert
}

fn gap_alert(state: &KeyState, silence: i64, days: u32, now: i64) -> Alert {
    let rule = AnomalyRule::PeriodicGap;
    let hours = silence as f64 / 3600.0;
    let usual = state.max_interval as f64 / 3600.0;
    let title = format!(
        "{} in {}/{} stopped: silent for {hours:.1} h",
        state.event_name, state.account, state.region
    );
    let why = format!(
        "{} ran in account {} region {} on each of the previous {days} days with at most {usual:.1} h \
         between calls; silent for {hours:.1} h since {}",
        state.event_name,
        state.account,
        state.region,
        Timestamp::from_secs(state.last_call)
    );
    let mut context = serde_json::Map::new();
    context.insert(
        "last_call".into(),
        Timestamp::from_secs(state.last_call).to_string().into(),
    );
    context.insert("max_interval_seconds".into(), state.max_interval.into());
    context.insert("silence_seconds".into(), silence.into());
    context.insert("event_source".into(), state.event_source.as_str().into());
    let first_seen = Timestamp::from_secs(state.last_call);
    let mut alert = Alert {
        id: String::new(),
        rule: rule.rule_ref(),
        title,
        severity: Severity::Low,
        attack: rule.attack().iter().map(|s| (*s).to_owned()).collect(),
        first_seen,
        last_seen: Timestamp::from_secs(now),
        event_count: 0,
        entity: trailhound_core::Entity {
            account: Some(state.account.clone()),
            region: Some(state.region.clone()),
            ..trailhound_core::Entity::default()
        },
        why,
        events: Vec::new(),
        runbook: runbook(rule).to_owned(),
        fingerprint: String::new(),
        group_key: Some(format!(
            "{}|{}|{}|{}",
            state.account, state.region, state.event_name, state.last_call
        )),
        score: Some(50),
        references: Vec::new(),
        context,
    };
    alert.seal();
    alert
}

impl Detector for InsightsDetector {
    fn id(&self) -> &str {
        INSIGHTS_ID
    }

    fn learns_baselines(&self) -> bool {
        true
    }

    fn interest(&self) -> Interest {
        Interest::all()
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        if event.is_insight() {
            return;
        }
        let Some(account) = event.account_id() else {
            return;
        };
        let now = event.event_time().as_secs();
        self.now = self.now.max(now);
        let region = event.aws_region();
        let region_key = region_hash(account, region);
        let first = self.regions.entry(region_key).or_insert(now);
        *first = (*first).min(now);
        let base = region_key
            ^ stable_hash(event.event_source()).rotate_left(23)
            ^ stable_hash(event.event_name()).rotate_left(41);
        if event.read_only() == Some(false)
            && event.management_event() != Some(false)
            && !event.is_error()
        {
            let key = base ^ 0x6361_6c6c;
            let make = || new_key(InsightKind::CallRate, event, None);
            self.count_key(key, make, event, out);
        }
        if let Some(code) = event.error_code() {
            let key = base ^ stable_hash(code).rotate_left(53) ^ 0x6572_726f_7200;
            let make = || new_key(InsightKind::ErrorRate, event, Some(code));
            self.count_key(key, make, event, out);
        }
    }

    fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        if self.now == i64::MIN {
            return;
        }
        // Never judge beyond the newest event time plus a window: the end of input is not
        // silence.
        let horizon = Timestamp::from_secs(self.now.saturating_add(self.window() * 60 + 60));
        let at = watermark.min(horizon);
        if !self.active.is_empty() {
            self.close_insights(at);
        }
        let now = at.as_secs().min(self.now);
        if now.saturating_sub(self.last_gap_check) >= 3600 {
            self.last_gap_check = now;
            self.check_gaps(now, out);
        }
    }

    fn save_state(&self) -> Option<serde_json::Value> {
        let mut regions: Vec<(u64, i64)> = self.regions.iter().map(|(k, v)| (*k, *v)).collect();
        regions.sort_unstable();
        let mut keys: Vec<(u64, KeyState)> =
            self.keys.iter().map(|(k, v)| (*k, v.clone())).collect();
        keys.sort_unstable_by_key(|(k, _)| *k);
        serde_json::to_value(SavedState {
            version: STATE_VERSION,
            regions,
            keys,
        })
        .ok()
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        let saved: SavedState = serde_json::from_value(state).map_err(|e| Error::State {
            detector: INSIGHTS_ID.to_owned(),
            message: e.to_string(),
        })?;
        if saved.version != STATE_VERSION {
            return Err(Error::State {
                detector: INSIGHTS_ID.to_owned(),
                message: format!(
                    "state version {} is not supported (expected {STATE_VERSION})",
                    saved.version
                ),
            });
        }
        self.regions = saved.regions.into_iter().collect();
        self.keys = saved.keys.into_iter().collect();
        self.active = self
            .keys
            .iter()
            .filter(|(_, s)| s.active.is_some())
            .map(|(k, _)| *k)
            .collect();
        self.now = self
            .keys
            .values()
            .map(|s| s.last_call)
            .max()
            .unwrap_or(i64::MIN);
        Ok(())
    }
}

fn new_key(kind: InsightKind, event: &Event, code: Option<&str>) -> KeyState {
    KeyState {
        kind,
        account: event.account_id().unwrap_or("").to_owned(),
        region: event.aws_region().to_owned(),
        event_source: event.event_source().to_owned(),
        event_name: event.event_name().to_owned(),
        error_code: code.map(str::to_owned),
        hours: VecDeque::new(),
        minutes: VecDeque::new(),
        lifetime: Attributions::default(),
        active: None,
        last_call: 0,
        day_bits: 0,
        max_interval: 0,
        gap_reported: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_takes_the_largest_floor() {
        let config = InsightsConfig::default();
        assert_eq!(start_threshold(&config, 0.0442, 3, 5), 10);
        assert_eq!(start_threshold(&config, 20.0, 150, 5), 300);
        assert_eq!(start_threshold(&config, 1.0, 40, 5), 61);
    }

    #[test]
    fn ids_are_uuid_shaped() {
        let id = uuid_like(&["a", "b"]);
        assert_eq!(id.len(), 36);
        assert_eq!(id, uuid_like(&["a", "b"]));
    }
}
