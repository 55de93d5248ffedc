//! The configuration file's sections (the `trailhound` CLI's `Config`, section by section, with
//! the same types): any text must deserialise or give an error, and whatever deserialises must
//! build into detectors or give an error. Sections that read other files (intel lists, GeoIP
//! databases) are deserialised but not built.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use trailhound_detect::{anomaly, eventbridge, intel, metric_filter, policy, trap, tuning};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Config {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    tuning: tuning::TuningConfig,
    #[serde(default)]
    metric_filters: metric_filter::MetricFiltersConfig,
    #[serde(default)]
    traps: trap::TrapsConfig,
    #[serde(default)]
    policies: Vec<policy::PolicyConfig>,
    #[serde(default)]
    eventbridge: eventbridge::EventBridgeConfig,
    #[serde(default)]
    intel: intel::IntelConfig,
    #[serde(default)]
    anomaly: anomaly::AnomalyConfig,
    #[serde(default)]
    enrich: trailhound_enrich::EnrichConfig,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = toml::from_str::<Config>(text) else {
        return;
    };
    let _ = config.tuning.build();
    let _ = config.metric_filters.build();
    let _ = config.traps.build();
    let _ = policy::build(&config.policies);
    let _ = config.eventbridge.build();
    let _ = anomaly::build(&config.anomaly);
});
