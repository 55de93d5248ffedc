//! Building the detection engine from the configuration: every detector family in one list.
//!
//! Each family contributes its detectors in [`build_engine`]; add a family by adding one
//! clearly named block there.

use std::path::PathBuf;

use trailhound_detect::{Detector, Engine};

/// What the command line adds to the configuration when building the engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Extra rule directories (`--rules DIR`), read by the rule families.
    pub rules_dirs: Vec<PathBuf>,
    /// Where the anomaly family's Insights-style detector puts the CloudTrail Insights
    /// records it produces (`hunt --insights-out`); a clone of this handle drains them.
    pub insight_records: trailhound_detect::anomaly::InsightRecords,
}

/// Builds the engine with every enabled detector family.
///
/// # Errors
/// A family whose configuration or rules cannot be loaded.
pub fn build_engine(
    config: &crate::config::Config,
    options: &EngineOptions,
) -> anyhow::Result<Engine> {
    let mut detectors: Vec<Box<dyn Detector>> = Vec::new();

    // The built-in rule pack (rules/builtin, docs/rules), minus rules disabled in [tuning].
    let tuning = std::sync::Arc::new(
        config
            .tuning
            .build()
            .map_err(|e| anyhow::Error::from(e).context("invalid [tuning] section"))?,
    );
    detectors.extend(trailhound_detect::builtin_detectors(&tuning)?);

    // Metric filters with alarms (CIS pack + user filters), traps, allow-policies,
    // EventBridge patterns and threat-intel lists.
    for detector in config.metric_filters.build()? {
        detectors.push(Box::new(detector));
    }
    if !config.traps.traps.is_empty() {
        detectors.push(Box::new(config.traps.build()?));
    }
    if !config.policies.is_empty() {
        detectors.push(Box::new(trailhound_detect::policy::build(
            &config.policies,
        )?));
    }
    for detector in config.eventbridge.build()? {
        detectors.push(Box::new(detector));
    }
    if !config.intel.ip_lists.is_empty() || !config.intel.user_agent_lists.is_empty() {
        detectors.push(Box::new(config.intel.build()?));
    }

    // Anomaly detection (docs/anomaly.md): behaviour baselines with roll-up, and
    // Insights-style rate spikes whose records go to `options.insight_records`.
    detectors.extend(trailhound_detect::anomaly::build_with_records(
        &config.anomaly,
        &options.insight_records,
    ));

    // User Sigma rules (`--rules DIR`, repeatable), including correlation rules; SigmaHQ's
    // AWS CloudTrail rules load unchanged (docs/sigma.md).
    for dir in &options.rules_dirs {
        anyhow::ensure!(
            dir.is_dir(),
            "rules directory {} does not exist",
            dir.display()
        );
    }
    if !options.rules_dirs.is_empty() {
        // Rules disabled in [tuning] are not compiled: they would match every event they
        // route on only for their alerts to be dropped.
        let sigma = trailhound_detect::sigma::load_dirs_enabled(
            &options.rules_dirs,
            &trailhound_sigma::SigmaConfig::default(),
            |id, name| tuning.is_enabled(id, name),
        )
        .map_err(|e| anyhow::Error::from(e).context("cannot load --rules"))?;
        for detector in sigma {
            detectors.push(Box::new(detector));
        }
    }

    // Tuning (docs/tuning.md): severity overrides, exceptions and presets on every family.
    let detectors = tuning.wrap(detectors);

    tracing::debug!(detectors = detectors.len(), "engine built");
    Ok(Engine::new(detectors))
}

/// The enricher of the `[enrich]` section: GeoIP/ASN/cloud tags set on each event before
/// [`Engine::process`] (the anomaly detectors read them). `None` when no source is configured.
///
/// # Errors
/// A configured source that cannot be read or parsed.
pub fn build_enricher(
    config: &crate::config::Config,
) -> anyhow::Result<Option<trailhound_enrich::Enricher>> {
    if config.enrich.is_empty() {
        return Ok(None);
    }
    let enricher = trailhound_enrich::Enricher::from_config(&config.enrich)
        .map_err(anyhow::Error::from)
        .map_err(|e| e.context("invalid [enrich] section"))?;
    Ok(Some(enricher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_defaults() {
        let engine =
            build_engine(&crate::config::Config::default(), &EngineOptions::default()).unwrap();
        assert!(engine.detectors().len() >= 3);
        let missing = EngineOptions {
            rules_dirs: vec![PathBuf::from("/nonexistent/rules")],
            ..EngineOptions::default()
        };
        assert!(build_engine(&crate::config::Config::default(), &missing).is_err());
    }
}
