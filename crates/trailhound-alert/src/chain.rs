//! Correlation chains: ordered stages, each an alert (by rule, family or severity) or a run
//! of events (by name, source, read-only, success), seen for one principal, access key,
//! account or source address within a window of event time. When every stage has happened
//! in order, one chain alert goes out carrying the stages, their alerts and events, with a
//! raised severity.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trailhound_core::{
    Alert, AlertEvent, Entity, Event, MAX_ALERT_EVENTS, RuleKind, RuleRef, Severity, Timestamp,
};

use crate::config::DurationText;
use crate::pattern::any_match;
use crate::{Error, Result};

/// Observations kept per stage and key; later ones are counted only.
const MAX_STAGE_OBSERVATIONS: usize = 256;
/// Keys (principals…) tracked per chain at once.
const MAX_KEYS: usize = 100_000;

/// What ties the stages of a chain together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainKey {
    /// The principal ARN (a role session's ARN names the session).
    Principal,
    /// The access key id (long-term AKIA… or temporary ASIA… session credentials).
    AccessKey,
    /// The account.
    Account,
    /// The source address.
    SourceIp,
}

impl ChainKey {
    fn as_str(self) -> &'static str {
        match self {
            Self::Principal => "principal",
            Self::AccessKey => "access-key",
            Self::Account => "account",
            Self::SourceIp => "source-ip",
        }
    }

    fn of_entity(self, entity: &Entity) -> Option<String> {
        match self {
            Self::Principal => entity.principal.clone(),
            Self::AccessKey => entity.access_key_id.clone(),
            Self::Account => entity.account.clone(),
            Self::SourceIp => entity.source_ip.clone(),
        }
    }

    fn of_event(self, event: &Event) -> Option<String> {
        match self {
            Self::Principal => event.principal_arn().map(str::to_owned),
            Self::AccessKey => event
                .user_identity()
                .access_key_id
                .as_deref()
                .map(str::to_owned),
            Self::Account => event.account_id().map(str::to_owned),
            Self::SourceIp => {
                let text = &event.source().text;
                (!text.is_empty()).then(|| text.to_string())
            }
        }
    }
}

/// One named chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Rule id of the chain alerts (`TH5001` for built-in ones; pick your own prefix).
    pub id: String,
    /// Kebab-case behaviour name.
    pub name: String,
    /// Title of the chain alert (the key is appended).
    #[serde(default)]
    pub title: Option<String>,
    /// What ties the stages together.
    #[serde(default = "default_by")]
    pub by: ChainKey,
    /// Event time from the first stage to the last.
    pub window: DurationText,
    /// Severity of the chain alert; default one step above its most severe stage alert
    /// (at least high).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// ATT&CK techniques added to the stage alerts'.
    #[serde(default)]
    pub attack: Vec<String>,
    /// What to check and how to contain.
    #[serde(default)]
    pub runbook: String,
    /// The stages, in order.
    pub stages: Vec<StageConfig>,
}

fn default_by() -> ChainKey {
    ChainKey::Principal
}

/// One stage: alert conditions, event conditions, or both (either satisfies it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StageConfig {
    /// Name shown in the chain alert.
    pub name: String,
    /// Alerts of these rules (ids or names, globs).
    pub rules: Vec<String>,
    /// Alerts of these detector families.
    pub kinds: Vec<RuleKind>,
    /// Alerts at or above this severity (with `rules`/`kinds`, or alone).
    pub min_severity: Option<Severity>,
    /// Events with these exact `eventName`s.
    pub events: Vec<String>,
    /// Events from these `eventSource`s.
    pub sources: Vec<String>,
    /// Only read-only (true) or only mutating (false) events.
    pub read_only: Option<bool>,
    /// Only successful (true) or only failed (false) events.
    pub success: Option<bool>,
    /// Observations needed (default 1).
    pub min_count: Option<u32>,
}

impl StageConfig {
    fn matches_alerts(&self) -> bool {
        !self.rules.is_empty() || !self.kinds.is_empty() || self.min_severity.is_some()
    }

    fn matches_events(&self) -> bool {
        !self.events.is_empty() || !self.sources.is_empty()
    }

    fn min_count(&self) -> usize {
        self.min_count.unwrap_or(1).max(1) as usize
    }

    fn alert_matches(&self, alert: &Alert) -> bool {
        if !self.matches_alerts() {
            return false;
        }
        (self.rules.is_empty()
            || any_match(&self.rules, &alert.rule.id)
            || any_match(&self.rules, &alert.rule.name))
            && (self.kinds.is_empty() || self.kinds.contains(&alert.rule.kind))
            && self.min_severity.is_none_or(|min| alert.severity >= min)
    }

    fn event_matches(&self, event: &Event) -> bool {
        if !self.matches_events() {
            return false;
        }
        (self.events.is_empty() || self.events.iter().any(|n| n == event.event_name()))
            && (self.sources.is_empty() || self.sources.iter().any(|s| s == event.event_source()))
            && self
                .read_only
                .is_none_or(|ro| event.read_only() == Some(ro))
            && self
                .success
                .is_none_or(|ok| event.error_code().is_none() == ok)
    }
}

impl ChainConfig {
    /// Checks ids, stages and counts.
    ///
    /// # Errors
    /// [`Error::Config`] naming the chain and the problem.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Config(format!("chain {}: {why}", self.id)));
        if self.id.is_empty() || self.name.is_empty() {
            return bad("id and name are required".into());
        }
        if self.stages.len() < 2 {
            return bad("a chain needs at least two stages".into());
        }
        if self.window.0.is_zero() {
            return bad("window must be positive".into());
        }
        for (i, stage) in self.stages.iter().enumerate() {
            if !stage.matches_alerts() && !stage.matches_events() {
                return bad(format!(
                    "stage {} has no condition (rules, kinds, min_severity, events or sources)",
                    i + 1
                ));
            }
            if stage.min_count() > MAX_STAGE_OBSERVATIONS {
                return bad(format!(
                    "stage {} min_count above {MAX_STAGE_OBSERVATIONS}",
                    i + 1
                ));
            }
        }
        Ok(())
    }
}

fn stage(name: &str) -> StageConfig {
    StageConfig {
        name: name.into(),
        ..StageConfig::default()
    }
}

/// The built-in chains.
#[must_use]
pub fn builtin_chains() -> Vec<ChainConfig> {
    vec![
        ChainConfig {
            id: "TH5001".into(),
            name: "instance-credentials-used-for-s3-exfiltration".into(),
            title: Some(
                "instance-role credentials used outside AWS, then buckets listed and objects read in bulk".into(),
            ),
            by: ChainKey::Principal,
            window: DurationText::secs(3_600),
            severity: Some(Severity::Critical),
            attack: vec!["T1552.005".into(), "T1619".into(), "T1530".into()],
            runbook: "Treat the instance role's session as stolen: find the instance (the session name is its id), \
                      revoke the role's active sessions (an inline deny on aws:TokenIssueTime), enforce IMDSv2 and \
                      look for the SSRF path in the application; list what the GetObject calls read."
                .into(),
            stages: vec![
                StageConfig {
                    rules: vec!["TH3013".into(), "instance-credentials-used-outside-aws".into()],
                    ..stage("credentials-used-outside-aws")
                },
                StageConfig {
                    events: vec!["ListBuckets".into()],
                    success: Some(true),
                    ..stage("buckets-listed")
                },
                StageConfig {
                    events: vec!["GetObject".into()],
                    success: Some(true),
                    min_count: Some(10),
                    ..stage("objects-read-in-bulk")
                },
            ],
        },
        ChainConfig {
            id: "TH5002".into(),
            name: "console-login-from-new-country-then-iam-changes".into(),
            title: Some("console sign-in from a new country, then IAM changes".into()),
            by: ChainKey::Principal,
            window: DurationText::secs(3_600),
            severity: None,
            attack: vec!["T1078.004".into(), "T1098".into()],
            runbook: "Confirm the sign-in with the user out of band; if it was not them, disable the login \
                      profile and keys, and undo the IAM changes listed in the stages."
                .into(),
            stages: vec![
                StageConfig {
                    rules: vec!["TH3008".into(), "console-login-from-new-country".into()],
                    ..stage("console-login-from-new-country")
                },
                StageConfig {
                    sources: vec!["iam.amazonaws.com".into()],
                    read_only: Some(false),
                    success: Some(true),
                    ..stage("iam-changed")
                },
            ],
        },
        ChainConfig {
            id: "TH5003".into(),
            name: "cloudtrail-stopped-after-anomaly".into(),
            title: Some("CloudTrail stopped or weakened after anomalous activity".into()),
            by: ChainKey::Principal,
            window: DurationText::secs(86_400),
            severity: Some(Severity::Critical),
            attack: vec!["T1562.008".into()],
            runbook: "Restart logging (StartLogging), then review everything the principal did since the \
                      anomaly: stopping the trail is what an intruder does before acting."
                .into(),
            stages: vec![
                StageConfig {
                    kinds: vec![RuleKind::Anomaly],
                    ..stage("anomaly")
                },
                StageConfig {
                    events: vec![
                        "StopLogging".into(),
                        "DeleteTrail".into(),
                        "UpdateTrail".into(),
                        "PutEventSelectors".into(),
                    ],
                    sources: vec!["cloudtrail.amazonaws.com".into()],
                    success: Some(true),
                    ..stage("cloudtrail-stopped")
                },
            ],
        },
    ]
}

/// One thing seen for a stage.
#[derive(Debug, Clone)]
enum Observed {
    Alert {
        id: String,
        rule: String,
        title: String,
        severity: Severity,
        attack: Vec<String>,
        events: Vec<AlertEvent>,
    },
    Event(AlertEvent),
}

#[derive(Debug, Clone)]
struct Observation {
    time: Timestamp,
    what: Observed,
}

#[derive(Debug, Default)]
struct KeyState {
    stages: Vec<Vec<Observation>>,
    /// Total observations per stage (beyond the kept ones).
    counts: Vec<u64>,
    entity: Option<Entity>,
    fired_until: Option<Timestamp>,
    latest: Timestamp,
}

/// Counters of the correlator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CorrelatorStats {
    /// Chain alerts raised.
    pub chains: u64,
    /// Observations not tracked because the key table was full.
    pub dropped: u64,
}

/// Runs every chain over alerts and events.
#[derive(Debug)]
pub struct Correlator {
    chains: Vec<ChainConfig>,
    states: Vec<HashMap<String, KeyState>>,
    event_chains: bool,
    stats: CorrelatorStats,
}

impl Correlator {
    /// A correlator over `chains` (validated).
    ///
    /// # Errors
    /// An invalid chain.
    pub fn new(chains: Vec<ChainConfig>) -> Result<Self> {
        for chain in &chains {
            chain.validate()?;
        }
        let event_chains = chains
            .iter()
            .any(|c| c.stages.iter().any(StageConfig::matches_events));
        let states = chains.iter().map(|_| HashMap::new()).collect();
        Ok(Correlator {
            chains,
            states,
            event_chains,
            stats: CorrelatorStats::default(),
        })
    }

    /// The chains.
    #[must_use]
    pub fn chains(&self) -> &[ChainConfig] {
        &self.chains
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> CorrelatorStats {
        self.stats
    }

    /// Whether any chain has an event stage (callers may skip [`Correlator::observe_event`]).
    #[must_use]
    pub fn wants_events(&self) -> bool {
        self.event_chains
    }

    /// Sees one event; pushes chain alerts it completes.
    pub fn observe_event(&mut self, event: &Event, out: &mut Vec<Alert>) {
        if !self.event_chains {
            return;
        }
        for c in 0..self.chains.len() {
            for s in 0..self.chains[c].stages.len() {
                if !self.chains[c].stages[s].event_matches(event) {
                    continue;
                }
                let Some(key) = self.chains[c].by.of_event(event) else {
                    continue;
                };
                let observation = Observation {
                    time: event.event_time(),
                    what: Observed::Event(AlertEvent::of(event)),
                };
                self.record(c, s, key, observation, || Entity::of_event(event), out);
            }
        }
    }

    /// Sees one alert; pushes chain alerts it completes. Chain alerts are not fed back.
    pub fn observe_alert(&mut self, alert: &Alert, out: &mut Vec<Alert>) {
        if alert.rule.kind == RuleKind::Correlation {
            return;
        }
        for c in 0..self.chains.len() {
            for s in 0..self.chains[c].stages.len() {
                if !self.chains[c].stages[s].alert_matches(alert) {
                    continue;
                }
                let Some(key) = self.chains[c].by.of_entity(&alert.entity) else {
                    continue;
                };
                let observation = Observation {
                    time: alert.first_seen,
                    what: Observed::Alert {
                        id: alert.id.clone(),
                        rule: alert.rule.id.clone(),
                        title: alert.title.clone(),
                        severity: alert.severity,
                        attack: alert.attack.clone(),
                        events: alert.events.clone(),
                    },
                };
                self.record(c, s, key, observation, || alert.entity.clone(), out);
            }
        }
    }

    fn record(
        &mut self,
        c: usize,
        s: usize,
        key: String,
        observation: Observation,
        entity: impl FnOnce() -> Entity,
        out: &mut Vec<Alert>,
    ) {
        let stages = self.chains[c].stages.len();
        let table = &mut self.states[c];
        if !table.contains_key(&key) && table.len() >= MAX_KEYS {
            self.stats.dropped += 1;
            return;
        }
        let state = table.entry(key.clone()).or_insert_with(|| KeyState {
            stages: vec![Vec::new(); stages],
            counts: vec![0; stages],
            ..KeyState::default()
        });
        if state.entity.is_none() || s == 0 {
            state.entity = Some(entity());
        }
        state.latest = state.latest.max(observation.time);
        state.counts[s] += 1;
        let list = &mut state.stages[s];
        if list.len() < MAX_STAGE_OBSERVATIONS {
            let at = list.partition_point(|o| o.time <= observation.time);
            list.insert(at, observation);
        }
        if state.fired_until.is_some_and(|until| state.latest < until) {
            return;
        }
        let chain = &self.chains[c];
        if let Some(alert) = evaluate(chain, &key, state) {
            state.fired_until = Some(alert.first_seen.add_millis(chain.window.as_millis_i64()));
            self.stats.chains += 1;
            out.push(alert);
        }
    }

    /// Event time reached `watermark`: forgets what can no longer start or finish a chain.
    pub fn advance(&mut self, watermark: Timestamp) {
        for (c, table) in self.states.iter_mut().enumerate() {
            let window = self.chains[c].window.as_millis_i64();
            let horizon = watermark.add_millis(-window);
            table.retain(|_, state| {
                for list in &mut state.stages {
                    list.retain(|o| o.time >= horizon);
                }
                let fired = state.fired_until.is_some_and(|until| until > watermark);
                fired || state.stages.iter().any(|l| !l.is_empty())
            });
        }
    }
}

/// The stage picks of one completed chain: per stage, the indexes of its observations used.
fn evaluate(chain: &ChainConfig, key: &str, state: &KeyState) -> Option<Alert> {
    let window = chain.window.as_millis_i64();
    for first in &state.stages[0] {
        let start = first.time;
        let end = start.add_millis(window);
        let mut cursor = start;
        let mut picks: Vec<Vec<&Observation>> = Vec::with_capacity(chain.stages.len());
        let mut complete = true;
        for (i, stage) in chain.stages.iter().enumerate() {
            let eligible: Vec<&Observation> = state.stages[i]
                .iter()
                .filter(|o| o.time >= cursor && o.time <= end)
                .collect();
            if eligible.len() < stage.min_count() {
                complete = false;
                break;
            }
            cursor = eligible[stage.min_count() - 1].time;
            picks.push(eligible);
        }
        if complete {
            return Some(chain_alert(chain, key, state, &picks));
        }
    }
    None
}

fn chain_alert(
    chain: &ChainConfig,
    key: &str,
    state: &KeyState,
    picks: &[Vec<&Observation>],
) -> Alert {
    let mut severity_of_stages = Severity::Medium;
    let mut attack: Vec<String> = Vec::new();
    let mut events: Vec<AlertEvent> = Vec::new();
    let mut event_count = 0u64;
    let mut stages_json = Vec::new();
    let mut why_parts = Vec::new();
    for (stage, picked) in chain.stages.iter().zip(picks) {
        let mut alerts_json = Vec::new();
        let mut stage_events: Vec<AlertEvent> = Vec::new();
        for observation in picked {
            match &observation.what {
                Observed::Alert {
                    id,
                    rule,
                    title,
                    severity,
                    attack: a,
                    events: e,
                } => {
                    severity_of_stages = severity_of_stages.max(*severity);
                    for t in a {
                        if !attack.contains(t) {
                            attack.push(t.clone());
                        }
                    }
                    alerts_json.push(
                        json!({"id": id, "rule": rule, "title": title, "severity": severity}),
                    );
                    stage_events.extend(e.iter().cloned());
                }
                Observed::Event(e) => stage_events.push(e.clone()),
            }
        }
        stage_events.dedup_by(|a, b| a.event_id == b.event_id);
        event_count += stage_events.len() as u64;
        let first_seen = picked.first().map(|o| o.time);
        let last_seen = picked.last().map(|o| o.time);
        why_parts.push(format!(
            "{} ({}x from {})",
            stage.name,
            picked.len(),
            first_seen.map(|t| t.to_string()).unwrap_or_default()
        ));
        // Every stage is represented in the bounded sample: a few events each.
        let share = (MAX_ALERT_EVENTS / chain.stages.len()).max(1);
        events.extend(stage_events.iter().take(share).cloned());
        let sample: Vec<&AlertEvent> = stage_events.iter().take(MAX_ALERT_EVENTS).collect();
        stages_json.push(json!({
            "name": stage.name,
            "count": picked.len(),
            "first_seen": first_seen,
            "last_seen": last_seen,
            "alerts": alerts_json,
            "events": sample,
        }));
    }
    for t in &chain.attack {
        if !attack.contains(t) {
            attack.push(t.clone());
        }
    }
    let first_seen = picks
        .first()
        .and_then(|p| p.first())
        .map_or(Timestamp::EPOCH, |o| o.time);
    let last_seen = picks
        .iter()
        .flatten()
        .map(|o| o.time)
        .max()
        .unwrap_or(first_seen);
    let severity = chain
        .severity
        .unwrap_or_else(|| severity_of_stages.max(Severity::Medium).raised());
    let title = chain
        .title
        .clone()
        .unwrap_or_else(|| chain.name.replace('-', " "));
    let mut context = serde_json::Map::new();
    let stage_totals: BTreeMap<&str, u64> = chain
        .stages
        .iter()
        .zip(&state.counts)
        .map(|(s, n)| (s.name.as_str(), *n))
        .collect();
    context.insert(
        "chain".into(),
        json!({
            "by": chain.by.as_str(),
            "key": key,
            "window": chain.window,
            "stages": stages_json,
            "observed": stage_totals,
        }),
    );
    events.truncate(MAX_ALERT_EVENTS);
    let mut alert = Alert {
        id: String::new(),
        rule: RuleRef {
            id: chain.id.clone(),
            name: chain.name.clone(),
            kind: RuleKind::Correlation,
            author: None,
        },
        title: format!("{title}: {key}"),
        severity,
        attack,
        first_seen,
        last_seen,
        event_count,
        entity: state.entity.clone().unwrap_or_default(),
        why: format!(
            "every stage of chain {} seen for {} {key} within {}: {}",
            chain.name,
            chain.by.as_str(),
            chain.window,
            why_parts.join(", then ")
        ),
        events,
        runbook: chain.runbook.clone(),
        fingerprint: String::new(),
        group_key: Some(format!("{}:{key}", chain.by.as_str())),
        score: None,
        references: Vec::new(),
        context,
    };
    alert.seal();
    alert
}
