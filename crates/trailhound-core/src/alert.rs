use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Event, Timestamp, stable_hash_hex};

/// Alert severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth recording, not worth a page.
    Informational,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical: act now.
    Critical,
}

impl Severity {
    /// All severities, least severe first.
    pub const ALL: [Severity; 5] = [
        Self::Informational,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Critical,
    ];

    /// The lowercase name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Informational => "informational",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// One step more severe (critical stays critical).
    #[must_use]
    pub fn raised(self) -> Severity {
        match self {
            Self::Informational => Self::Low,
            Self::Low => Self::Medium,
            Self::Medium => Self::High,
            Self::High | Self::Critical => Self::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Ok(Self::Informational),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(Error::Severity(s.to_owned())),
        }
    }
}

/// The detector family that raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    /// A Sigma rule (bundled SigmaHQ or user-supplied).
    Sigma,
    /// A rule of trailhound's built-in pack.
    Builtin,
    /// A CloudWatch-style metric filter with an alarm.
    MetricFilter,
    /// A canary identity or honeypot resource was touched.
    Canary,
    /// A workload allow-policy was broken.
    Policy,
    /// An unsupervised anomaly detector.
    Anomaly,
    /// A multi-stage correlation chain.
    Correlation,
    /// A threat-intel list matched.
    Intel,
    /// A log-integrity finding.
    Integrity,
}

impl RuleKind {
    /// The kebab-case name used in JSON and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sigma => "sigma",
            Self::Builtin => "builtin",
            Self::MetricFilter => "metric-filter",
            Self::Canary => "canary",
            Self::Policy => "policy",
            Self::Anomaly => "anomaly",
            Self::Correlation => "correlation",
            Self::Intel => "intel",
            Self::Integrity => "integrity",
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule raised an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    /// Stable id: `TH…` for trailhound's own, the UUID for Sigma rules.
    pub id: String,
    /// Kebab-case behaviour name (or the Sigma title).
    pub name: String,
    /// The detector family.
    pub kind: RuleKind,
    /// The rule's author, carried through for attribution (the Detection Rule License asks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// Who and where, as far as the alert's events tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Principal ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Source address (or service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Access key id used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// User agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Entity {
    /// The entity of one event.
    #[must_use]
    pub fn of_event(event: &Event) -> Self {
        let source = &event.source().text;
        Entity {
            principal: event.principal_arn().map(str::to_owned),
            account: event.account_id().map(str::to_owned),
            source_ip: (!source.is_empty()).then(|| source.to_string()),
            region: (!event.aws_region().is_empty()).then(|| event.aws_region().to_owned()),
            access_key_id: event
                .user_identity()
                .access_key_id
                .as_deref()
                .map(str::to_owned),
            user_agent: event.user_agent().map(str::to_owned),
        }
    }
}

/// A reference to one event behind an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// `eventID`.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// `eventTime`.
    #[serde(rename = "eventTime")]
    pub event_time: Timestamp,
    /// `eventName`.
    #[serde(rename = "eventName")]
    pub event_name: String,
    /// Where it was read: `file#index`.
    pub origin: String,
}

impl AlertEvent {
    /// The reference for an event.
    #[must_use]
    pub fn of(event: &Event) -> Self {
        AlertEvent {
            event_id: event.event_id().to_owned(),
            event_time: event.event_time(),
            event_name: event.event_name().to_owned(),
            origin: event.origin().to_string(),
        }
    }
}

/// The most events an alert carries as its sample; `event_count` keeps the true count.
pub const MAX_ALERT_EVENTS: usize = 20;

/// An alert: the shape of PRODUCT.md, one JSON object per alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id (hash of the fingerprint and the first event), so receivers can drop
    /// duplicates delivered more than once.
    pub id: String,
    /// The rule that fired.
    pub rule: RuleRef,
    /// Who did what to which resource, in one line.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// MITRE ATT&CK technique ids (`T1562.008`).
    pub attack: Vec<String>,
    /// Time of the first event.
    pub first_seen: Timestamp,
    /// Time of the last event.
    pub last_seen: Timestamp,
    /// How many events are behind the alert (may exceed `events.len()`).
    pub event_count: u64,
    /// Who and where.
    pub entity: Entity,
    /// Why it fired: the condition, or the baseline it broke, in plain words.
    pub why: String,
    /// A sample of the events behind it (at most [`MAX_ALERT_EVENTS`]).
    pub events: Vec<AlertEvent>,
    /// What to check and how to contain.
    pub runbook: String,
    /// Stable hash of the rule and the group key: alerts with one fingerprint are one finding.
    pub fingerprint: String,
    /// The group key the fingerprint is made of (principal, resource, …), when not the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_key: Option<String>,
    /// Anomaly score 0–100, for anomaly detectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    /// Reference URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Family-specific evidence (baseline figures, alarm datapoints, chain stages…).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub context: serde_json::Map<String, serde_json::Value>,
}

impl Alert {
    /// An alert for one event. The group key defaults to the principal (or the event id when
    /// there is none); set [`Alert::group_key`] and call [`Alert::seal`] to change it.
    #[must_use]
    pub fn for_event(
        rule: RuleRef,
        severity: Severity,
        title: String,
        why: String,
        event: &Event,
    ) -> Alert {
        let mut alert = Alert {
            id: String::new(),
            rule,
            title,
            severity,
            attack: Vec::new(),
            first_seen: event.event_time(),
            last_seen: event.event_time(),
            event_count: 1,
            entity: Entity::of_event(event),
            why,
            events: vec![AlertEvent::of(event)],
            runbook: String::new(),
            fingerprint: String::new(),
            group_key: None,
            score: None,
            references: Vec::new(),
            context: serde_json::Map::new(),
        };
        alert.seal();
        alert
    }

    /// Adds an event to the alert: count, time span and the bounded sample.
    pub fn add_event(&mut self, event: &Event) {
        self.event_count += 1;
        self.first_seen = self.first_seen.min(event.event_time());
        self.last_seen = self.last_seen.max(event.event_time());
        if self.events.len() < MAX_ALERT_EVENTS {
            self.events.push(AlertEvent::of(event));
        }
    }

    /// Recomputes `fingerprint` (rule id + group key, or + principal and first event when there
    /// is no group key) and `id` (fingerprint + first event + first seen). Call after changing
    /// the group key or the events.
    pub fn seal(&mut self) {
        let first_event = self.events.first().map_or("", |e| e.event_id.as_str());
        self.fingerprint = match &self.group_key {
            Some(key) => stable_hash_hex(&[&self.rule.id, key]),
            None => stable_hash_hex(&[
                &self.rule.id,
                self.entity.principal.as_deref().unwrap_or(""),
                first_event,
            ]),
        };
        let first_seen = self.first_seen.to_string();
        self.id = stable_hash_hex(&[&self.fingerprint, first_event, &first_seen]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Origin;

    #[test]
    fn alert_shape() {
        let raw = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"cloudtrail.amazonaws.com",
          "eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",
          "eventID":"e1","recipientAccountId":"123456789012",
          "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice"}}"#;
        let event = Event::from_json(raw, Origin::new("f.json", 0)).unwrap();
        let rule = RuleRef {
            id: "TH1001".into(),
            name: "cloudtrail-logging-stopped".into(),
            kind: RuleKind::Builtin,
            author: None,
        };
        let mut alert = Alert::for_event(rule, Severity::High, "t".into(), "w".into(), &event);
        alert.attack.push("T1562.008".into());
        insta::assert_json_snapshot!(alert);
        assert_eq!("critical".parse::<Severity>().unwrap(), Severity::Critical);
        assert!(Severity::High > Severity::Medium);
    }
}
