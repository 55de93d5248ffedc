//! An anomaly before it becomes an alert, and the alert-building helpers.

use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, AlertEvent, Event, RuleKind, RuleRef, Severity};

/// The anomaly rules: (id, name, title template, ATT&CK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AnomalyRule {
    /// TH3001: an eventName the principal has not called before.
    RareApi,
    /// TH3002: a source country new for the principal.
    NewCountry,
    /// TH3003: a source AS new for the principal.
    NewAsn,
    /// TH3004: a region new for the account.
    NewRegionForAccount,
    /// TH3005: a region new for the principal.
    NewRegionForPrincipal,
    /// TH3006: a user-agent family new for the principal.
    UnusualUserAgent,
    /// TH3007: a user's first console sign-in.
    FirstConsoleLogin,
    /// TH3008: a console sign-in from a country new for the user.
    ConsoleLoginNewCountry,
    /// TH3009: many distinct List/Describe/Get calls in minutes.
    ReconBurst,
    /// TH3010: a burst of failed calls on sensitive services.
    FailedSensitiveBurst,
    /// TH3011: an errorCode new for the account.
    RareErrorCode,
    /// TH3012: a spike in distinct error messages of an account.
    ErrorMessageSpike,
    /// TH3013: instance-role credentials used from outside AWS.
    InstanceCredentialsOutside,
    /// TH3020: several weak anomalies of one principal rolled up.
    Rollup,
    /// TH3030: write-API call-rate insight.
    CallRateInsight,
    /// TH3031: error-rate insight.
    ErrorRateInsight,
    /// TH3032: a periodic API stopped.
    PeriodicGap,
}

impl AnomalyRule {
    /// Every anomaly rule, in id order.
    pub const ALL: [AnomalyRule; 17] = [
        Self::RareApi,
        Self::NewCountry,
        Self::NewAsn,
        Self::NewRegionForAccount,
        Self::NewRegionForPrincipal,
        Self::UnusualUserAgent,
        Self::FirstConsoleLogin,
        Self::ConsoleLoginNewCountry,
        Self::ReconBurst,
        Self::FailedSensitiveBurst,
        Self::RareErrorCode,
        Self::ErrorMessageSpike,
        Self::InstanceCredentialsOutside,
        Self::Rollup,
        Self::CallRateInsight,
        Self::ErrorRateInsight,
        Self::PeriodicGap,
    ];

    /// Stable id.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Self::RareApi => "TH3001",
            Self::NewCountry => "TH3002",
            Self::NewAsn => "TH3003",
            Self::NewRegionForAccount => "TH3004",
            Self::NewRegionForPrincipal => "TH3005",
            Self::UnusualUserAgent => "TH3006",
            Self::FirstConsoleLogin => "TH3007",
            Self::ConsoleLoginNewCountry => "TH3008",
            Self::ReconBurst => "TH3009",
            Self::FailedSensitiveBurst => "TH3010",
            Self::RareErrorCode => "TH3011",
            Self::ErrorMessageSpike => "TH3012",
            Self::InstanceCredentialsOutside => "TH3013",
            Self::Rollup => "TH3020",
            Self::CallRateInsight => "TH3030",
            Self::ErrorRateInsight => "TH3031",
            Self::PeriodicGap => "TH3032",
        }
    }

    /// Kebab-case behaviour name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::RareApi => "api-rare-for-principal",
            Self::NewCountry => "source-country-new-for-principal",
            Self::NewAsn => "source-asn-new-for-principal",
            Self::NewRegionForAccount => "region-new-for-account",
            Self::NewRegionForPrincipal => "region-new-for-principal",
            Self::UnusualUserAgent => "user-agent-new-for-principal",
            Self::FirstConsoleLogin => "console-login-first-for-user",
            Self::ConsoleLoginNewCountry => "console-login-from-new-country",
            Self::ReconBurst => "reconnaissance-burst",
            Self::FailedSensitiveBurst => "failed-sensitive-calls-burst",
            Self::RareErrorCode => "error-code-rare-for-account",
            Self::ErrorMessageSpike => "error-messages-spike",
            Self::InstanceCredentialsOutside => "instance-credentials-used-outside-aws",
            Self::Rollup => "identity-anomalies-rolled-up",
            Self::CallRateInsight => "api-call-rate-spike",
            Self::ErrorRateInsight => "api-error-rate-spike",
            Self::PeriodicGap => "periodic-activity-stopped",
        }
    }

    /// ATT&CK techniques.
    #[must_use]
    pub fn attack(self) -> &'static [&'static str] {
        match self {
            Self::RareApi | Self::ReconBurst => &["T1580", "T1526"],
            Self::NewCountry | Self::NewAsn | Self::UnusualUserAgent | Self::Rollup => {
                &["T1078.004"]
            }
            Self::NewRegionForAccount | Self::NewRegionForPrincipal => &["T1535"],
            Self::FirstConsoleLogin | Self::ConsoleLoginNewCountry => &["T1078.004"],
            Self::FailedSensitiveBurst => &["T1069.003", "T1087.004"],
            Self::InstanceCredentialsOutside => &["T1552.005"],
            Self::RareErrorCode | Self::ErrorMessageSpike => &[],
            Self::CallRateInsight | Self::ErrorRateInsight => &["T1496"],
            Self::PeriodicGap => &["T1562"],
        }
    }

    /// The rule reference of alerts.
    #[must_use]
    pub fn rule_ref(self) -> RuleRef {
        RuleRef {
            id: self.id().to_owned(),
            name: self.name().to_owned(),
            kind: RuleKind::Anomaly,
            author: None,
        }
    }
}

/// Severity for a score: ≥ 85 high, ≥ 70 medium, ≥ 50 low, else informational.
#[must_use]
pub fn severity_for_score(score: u8) -> Severity {
    match score {
        85.. => Severity::High,
        70..=84 => Severity::Medium,
        50..=69 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// One observed anomaly, with its evidence.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The rule.
    pub rule: AnomalyRule,
    /// 0–100.
    pub score: u8,
    /// One-line title.
    pub title: String,
    /// The observation against the baseline.
    pub why: String,
    /// Baseline figures.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// The event.
    pub event: Event,
}

impl Finding {
    /// The alert of this finding alone.
    #[must_use]
    pub fn to_alert(&self, group_key: &str) -> Alert {
        let mut alert = Alert::for_event(
            self.rule.rule_ref(),
            severity_for_score(self.score),
            self.title.clone(),
            self.why.clone(),
            &self.event,
        );
        alert.attack = self.rule.attack().iter().map(|s| (*s).to_owned()).collect();
        alert.score = Some(self.score);
        alert.context = self.context.clone();
        alert.runbook = runbook(self.rule).to_owned();
        alert.group_key = Some(format!("{group_key}|{}", self.event.event_id()));
        alert.seal();
        alert
    }

    /// The evidence entry of this finding in a roll-up.
    #[must_use]
    pub fn evidence(&self) -> serde_json::Value {
        let event = AlertEvent::of(&self.event);
        serde_json::json!({
            "rule": self.rule.id(),
            "name": self.rule.name(),
            "score": self.score,
            "why": self.why,
            "event": event,
            "baseline": self.context,
        })
    }
}

/// What to check and how to contain, per rule.
#[must_use]
pub fn runbook(rule: AnomalyRule) -> &'static str {
    match rule {
        AnomalyRule::InstanceCredentialsOutside => {
            "Instance-role credentials were used from outside AWS: assume they were stolen \
             (SSRF to the metadata service, a compromised host). Revoke active sessions of the \
             role (IAM: revoke older sessions), enforce IMDSv2, and review what the credentials did."
        }
        AnomalyRule::ReconBurst | AnomalyRule::FailedSensitiveBurst => {
            "Check with the owner of the principal whether the enumeration was theirs. If not, \
             disable its access keys or revoke its sessions and review its later calls."
        }
        AnomalyRule::CallRateInsight | AnomalyRule::ErrorRateInsight | AnomalyRule::PeriodicGap => {
            "Look at the attributions (who, which user agent, which error) and compare with \
             deployments and scheduled jobs. An unexplained burst of writes or errors by one \
             identity is a lead; a stopped schedule may be broken automation or disabled logging."
        }
        _ => {
            "Compare the call with the principal's usual activity (pivot on the principal). Ask \
             its owner whether the new location, tool or API is expected; if not, rotate its \
             credentials and review what else it did from that source."
        }
    }
}
