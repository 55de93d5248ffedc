//! The configuration file: TOML, versioned, one section per detector family.
//!
//! Every section is optional; an empty file (or no file) means the defaults: every built-in
//! detector on with its documented settings.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The complete commented example printed by `trailhound config --example`; a test checks
/// that it parses.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; only 1 exists.
    #[serde(default = "version_one")]
    pub version: u32,
    /// Rule tuning: presets, disabled rules, severity overrides and exceptions.
    #[serde(default)]
    pub tuning: trailhound_detect::tuning::TuningConfig,
    /// Metric filters with alarms: the CIS AWS Foundations pack and user filters.
    #[serde(default)]
    pub metric_filters: trailhound_detect::metric_filter::MetricFiltersConfig,
    /// Traps: canary identities and honeypot resources.
    #[serde(default)]
    pub traps: trailhound_detect::trap::TrapsConfig,
    /// Workload allow-policies, one `[[policies]]` per protected resource.
    #[serde(default)]
    pub policies: Vec<trailhound_detect::policy::PolicyConfig>,
    /// Rules written as Amazon EventBridge event patterns.
    #[serde(default)]
    pub eventbridge: trailhound_detect::eventbridge::EventBridgeConfig,
    /// Threat-intel lists of addresses and user agents.
    #[serde(default)]
    pub intel: trailhound_detect::intel::IntelConfig,
    /// Unsupervised anomaly detection: baselines, Insights-style rate spikes, roll-up.
    #[serde(default)]
    pub anomaly: trailhound_detect::anomaly::AnomalyConfig,
    /// GeoIP, ASN and cloud-range enrichment of source addresses (before detection).
    #[serde(default)]
    pub enrich: trailhound_enrich::EnrichConfig,
    /// Where and as whom to call AWS (reading `s3://` prefixes, the daemon's queues).
    #[serde(default)]
    pub aws: trailhound_aws::AwsSettings,
    /// The web UI and API (`trailhound serve`, and the daemon's embedded server).
    #[serde(default)]
    pub server: crate::cmd::serve::ServerSettings,
    /// The event store: directory, retention, pre-store filter, compression.
    #[serde(default)]
    pub store: crate::cmd::store::StoreSettings,
    /// The live daemon (`trailhound run`): queues, followed directories, checkpoints, metrics.
    #[serde(default)]
    pub run: trailhound_live::RunConfig,
    /// The alert pipeline: dedup, suppressions, correlation chains, outbox and sinks.
    #[serde(default)]
    pub alerts: trailhound_alert::AlertConfig,
}

fn version_one() -> u32 {
    1
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML, has unknown keys or an unsupported version.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("invalid config {}", path.display()))
    }

    /// Parses config text.
    ///
    /// # Errors
    /// Not TOML, unknown keys, or an unsupported version.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        anyhow::ensure!(
            config.version == 1,
            "unsupported config version {} (expected 1)",
            config.version
        );
        config.tuning.build().context("invalid [tuning] section")?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses() {
        Config::parse(EXAMPLE).unwrap();
    }
}
