//! Detection quality over a generated month: every scenario must be caught by an alert citing
//! its labelled events, and alerts on benign events must stay under a budget.
//!
//! The hunt runs the demo's configuration (every family on, the organisation's decoys as
//! traps) plus what a user of this organisation would add: the GeoIP/ASN database of its
//! networks (`[enrich]`, written at test time from `trailhound_gen::geo::NETWORKS`).
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod gen_geo;

use trailhound::cmd::demo::{DemoArgs, demo_config_text, demo_with};

/// Alerts on benign events allowed per million benign events.
///
/// The CIS `unauthorized-api-calls` metric filter raises an alarm for each five-minute period
/// with an `AccessDenied`, and the benign background has about two of those per thousand
/// people's calls, as real organisations do; the budget allows for that alarm and a handful of
/// others (at most one and a half benign alerts per thousand benign events).
const BENIGN_BUDGET_PER_MILLION: f64 = 1_500.0;

/// The seed and size of the generated organisation.
const SEED: u64 = 42;
const ACCOUNTS: u32 = 2;

#[test]
fn every_scenario_caught_and_benign_alerts_under_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mmdb = gen_geo::write_mmdb(dir.path());
    let text = format!(
        "{}\n[enrich]\nmmdb = [{:?}]\n",
        demo_config_text(),
        mmdb.display().to_string(),
    );
    let config = trailhound::config::Config::parse(&text).unwrap();
    let tree = dir.path().join("org");
    let args = DemoArgs {
        keep: None,
        days: 30,
        accounts: ACCOUNTS,
        events_per_day: 1_000,
        seed: SEED,
        scorecard_only: true,
    };
    let (_alerts, card) = demo_with(&args, &tree, config).unwrap();
    eprintln!("{}", card.to_text());
    assert_eq!(card.scenarios.len(), trailhound_gen::SCENARIOS.len());
    let missed: Vec<&str> = card
        .scenarios
        .iter()
        .filter(|s| !s.caught())
        .map(|s| s.scenario.as_str())
        .collect();
    assert!(
        missed.is_empty(),
        "scenarios missed: {missed:?}\n{}",
        card.to_text()
    );
    assert!(card.benign_events > 50_000);
    assert!(
        card.benign_per_million() <= BENIGN_BUDGET_PER_MILLION,
        "{:.1} benign alerts per million benign events, budget {BENIGN_BUDGET_PER_MILLION}\n{}",
        card.benign_per_million(),
        card.to_text()
    );
}
