//! `[anomaly]` configuration.

use serde::{Deserialize, Serialize};

/// `[anomaly]`: the unsupervised anomaly detectors. Every key is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    /// Turns every anomaly detector on or off.
    pub enabled: bool,
    /// Warm-up: an entity needs at least this many events before rarity alerts.
    pub min_events: u32,
    /// Warm-up: an entity needs at least this many days of history before rarity alerts.
    pub min_days: u32,
    /// Most principals (and roles, access keys) with a baseline; the least recently seen is
    /// forgotten beyond it.
    pub max_principals: usize,
    /// Most accounts and account × region baselines.
    pub max_accounts: usize,
    /// Most distinct event names remembered per principal.
    pub max_apis_per_principal: usize,
    /// Most countries, ASNs, regions, user agents or source addresses remembered per principal.
    pub max_values_per_principal: usize,
    /// A value not seen for this many days is forgotten (it counts as new again).
    pub forget_after_days: u32,
    /// Anomalies scoring at least this go out at once; weaker ones go to the roll-up.
    pub strong_score: u8,
    /// A single weak anomaly (alone in its roll-up window) goes out only when it scores at least
    /// this; below, it only adds to roll-ups.
    pub single_weak_min_score: u8,
    /// Roll-up window in minutes: weak anomalies of one principal within it become one alert.
    pub rollup_window_minutes: u32,
    /// Roll-up: how many weak anomalies (of at least two kinds) make a roll-up alert.
    pub rollup_min_anomalies: usize,
    /// Reconnaissance: window in minutes for distinct List/Describe/Get calls.
    pub recon_window_minutes: u32,
    /// Reconnaissance: distinct read calls in the window needed, at least.
    pub recon_min_distinct: u32,
    /// Reconnaissance: the count must also exceed the principal's own busiest window × this.
    pub recon_norm_factor: f64,
    /// Failed calls on sensitive services (iam, kms, secretsmanager, sts, s3 policy APIs) in
    /// the recon window that make a burst.
    pub failed_sensitive_min: u32,
    /// Distinct error messages of an account in 10 minutes that make a spike, at least.
    pub error_message_spike_min: u32,
    /// CloudTrail-Insights-style rate detection.
    pub insights: InsightsConfig,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            enabled: true,
            min_events: 50,
            min_days: 7,
            max_principals: 200_000,
            max_accounts: 10_000,
            max_apis_per_principal: 256,
            max_values_per_principal: 32,
            forget_after_days: 90,
            strong_score: 70,
            single_weak_min_score: 60,
            rollup_window_minutes: 60,
            rollup_min_anomalies: 2,
            recon_window_minutes: 10,
            recon_min_distinct: 15,
            recon_norm_factor: 2.0,
            failed_sensitive_min: 10,
            error_message_spike_min: 10,
            insights: InsightsConfig::default(),
        }
    }
}

/// `[anomaly.insights]`: API call-rate and error-rate spikes per account × region × API,
/// against the per-minute average of the preceding days (CloudTrail Insights' approach).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InsightsConfig {
    /// Turns Insights-style detection on or off.
    pub enabled: bool,
    /// Days of baseline (at least 7): an account × region needs this much history.
    pub baseline_days: u32,
    /// Minutes of the recent window whose rate is compared with the baseline.
    pub window_minutes: u32,
    /// An insight starts when the window's rate is at least this multiple of the baseline…
    pub rate_factor: f64,
    /// …and the window holds at least this many calls (or errors)…
    pub min_events: u32,
    /// …and the window's count exceeds the busiest window of the baseline period × this.
    pub peak_factor: f64,
    /// A periodic API (one that ran in each of the last `gap_min_days` days at about the same
    /// hours) that stays silent for `gap_factor` × its usual interval raises a gap alert.
    pub gap_min_days: u32,
    /// See `gap_min_days`.
    pub gap_factor: f64,
    /// Most account × region × API baselines.
    pub max_keys: usize,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        InsightsConfig {
            enabled: true,
            baseline_days: 7,
            window_minutes: 5,
            rate_factor: 3.0,
            min_events: 10,
            peak_factor: 1.5,
            gap_min_days: 7,
            gap_factor: 3.0,
            max_keys: 50_000,
        }
    }
}
