//! Unsupervised, explained anomaly detection that learns on event time.
//!
//! Two detectors:
//! - [`BehaviourDetector`] (`anomaly-behaviour`): baselines per principal (a role across its
//!   sessions, a user), per account and per account × region, learned as events arrive, with a
//!   warm-up, forgetting and bounded memory; it reports rare APIs, new countries, ASNs,
//!   regions and user agents, console sign-in novelties, reconnaissance and failure bursts,
//!   rare error codes, error-message spikes and instance credentials used outside AWS. Weak
//!   findings of one principal are rolled up into one alert.
//! - [`InsightsDetector`] (`anomaly-insights`): CloudTrail-Insights-style call-rate and
//!   error-rate spikes, emitted as alerts and as Insights records, and gaps in periodic
//!   activity.
//!
//! Country and ASN come from [`trailhound_core::Enrichment`], which must be set on events
//! before detection (the `trailhound-enrich` crate does that).
//!
//! ```
//! use trailhound_detect::anomaly::{AnomalyConfig, build};
//! let detectors = build(&AnomalyConfig::default());
//! assert_eq!(detectors.len(), 2);
//! ```

mod baseline;
mod behaviour;
mod config;
mod finding;
mod insights;
mod useragent;

pub use baseline::{CappedMap, Labels, Seen, stable_hash};
pub use behaviour::{BEHAVIOUR_ID, BehaviourDetector};
pub use config::{AnomalyConfig, InsightsConfig};
pub use finding::{AnomalyRule, Finding, runbook, severity_for_score};
pub use insights::{INSIGHTS_ID, InsightRecords, InsightsDetector};
pub use useragent::normalise_user_agent;

use crate::{Detector, RuleDoc};

/// The anomaly detectors of a configuration (none when disabled).
#[must_use]
pub fn build(config: &AnomalyConfig) -> Vec<Box<dyn Detector>> {
    build_with_records(config, &InsightRecords::new())
}

/// The anomaly detectors, with Insights records going to `records`.
#[must_use]
pub fn build_with_records(
    config: &AnomalyConfig,
    records: &InsightRecords,
) -> Vec<Box<dyn Detector>> {
    let mut detectors: Vec<Box<dyn Detector>> = Vec::new();
    if !config.enabled {
        return detectors;
    }
    detectors.push(Box::new(BehaviourDetector::new(config.clone())));
    if config.insights.enabled {
        detectors.push(Box::new(
            InsightsDetector::new(config.insights.clone()).with_records(records.clone()),
        ));
    }
    detectors
}

/// The catalogue entries of the anomaly rules.
#[must_use]
pub fn rule_docs() -> Vec<RuleDoc> {
    AnomalyRule::ALL
        .iter()
        .map(|rule| RuleDoc {
            id: rule.id().to_owned(),
            name: rule.name().to_owned(),
            kind: trailhound_core::RuleKind::Anomaly,
            title: rule.name().replace('-', " "),
            severity: severity_for_score(default_score(*rule)),
            attack: rule.attack().iter().map(|s| (*s).to_owned()).collect(),
            description: description(*rule).to_owned(),
            why_it_matters: "In CloudTrail there are no bad events as such: stolen credentials make \
                             calls that look like benign ones, and only the principal's own history \
                             gives them away."
                .to_owned(),
            tuning: "[anomaly] min_events, min_days, strong_score, single_weak_min_score, \
                     rollup_window_minutes; see docs/anomaly.md"
                .to_owned(),
            false_positives: vec![
                "New automation, new team members or travel change a principal's habits.".to_owned(),
            ],
            runbook: runbook(*rule).to_owned(),
            references: vec!["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-insights-events-with-cloudtrail.html".to_owned()],
            author: None,
            behaviours: Vec::new(),
        })
        .collect()
}

fn default_score(rule: AnomalyRule) -> u8 {
    match rule {
        AnomalyRule::RareApi | AnomalyRule::NewAsn => 45,
        AnomalyRule::NewCountry
        | AnomalyRule::NewRegionForAccount
        | AnomalyRule::FirstConsoleLogin => 55,
        AnomalyRule::NewRegionForPrincipal
        | AnomalyRule::UnusualUserAgent
        | AnomalyRule::RareErrorCode => 35,
        AnomalyRule::ErrorMessageSpike | AnomalyRule::PeriodicGap => 50,
        AnomalyRule::ConsoleLoginNewCountry | AnomalyRule::ReconBurst => 75,
        AnomalyRule::FailedSensitiveBurst => 70,
        AnomalyRule::InstanceCredentialsOutside => 90,
        AnomalyRule::Rollup => 70,
        AnomalyRule::CallRateInsight | AnomalyRule::ErrorRateInsight => 65,
    }
}

fn description(rule: AnomalyRule) -> &'static str {
    match rule {
        AnomalyRule::RareApi => {
            "A warmed-up principal calls an eventName it has not called before (or not within the forgetting period)."
        }
        AnomalyRule::NewCountry => {
            "A principal's call comes from a country (GeoIP) never seen for it."
        }
        AnomalyRule::NewAsn => {
            "A principal's call comes from an autonomous system never seen for it."
        }
        AnomalyRule::NewRegionForAccount => {
            "A warmed-up account is used in a region it never used."
        }
        AnomalyRule::NewRegionForPrincipal => "A principal works in a region it never used.",
        AnomalyRule::UnusualUserAgent => {
            "A principal uses a user-agent family (tool and major version) it never used."
        }
        AnomalyRule::FirstConsoleLogin => {
            "A principal with a long API history signs in to the console for the first time."
        }
        AnomalyRule::ConsoleLoginNewCountry => {
            "A console sign-in from a country none of the user's earlier sign-ins came from."
        }
        AnomalyRule::ReconBurst => {
            "Many distinct List/Describe/Get calls within minutes, above the principal's own busiest window."
        }
        AnomalyRule::FailedSensitiveBurst => {
            "A burst of failed calls on iam, kms, secretsmanager, sts or S3 policy APIs, above the principal's norm."
        }
        AnomalyRule::RareErrorCode => "An errorCode never seen in the account.",
        AnomalyRule::ErrorMessageSpike => {
            "Many distinct error messages within 10 minutes in an account, above its norm."
        }
        AnomalyRule::InstanceCredentialsOutside => {
            "Instance-role credentials (ec2RoleDelivery, or an i-… session with an ASIA key) used from a public address outside AWS ranges and the role's known networks."
        }
        AnomalyRule::Rollup => {
            "Several weak anomalies of one principal within the roll-up window, as one alert with all of them as evidence."
        }
        AnomalyRule::CallRateInsight => {
            "Write-API call rate per account × region × API far above its 7-day per-minute baseline (CloudTrail Insights style)."
        }
        AnomalyRule::ErrorRateInsight => {
            "Error rate per account × region × API × errorCode far above its 7-day per-minute baseline."
        }
        AnomalyRule::PeriodicGap => {
            "An API that ran every day at regular intervals stops for several times its usual interval."
        }
    }
}
