//! Detection quality over a generated month: every scenario must be caught by an alert citing
//! its labelled events, and alerts on benign events must stay under a budget.
//!
//! Scenarios whose detector family has not landed yet are listed in [`NOT_YET_CAUGHT`], each
//! with the family expected to catch it. Every scenario outside that list must be caught; a
//! listed scenario that is caught is reported on stderr so that the list is shortened.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use trailhound::cmd::demo::{DemoArgs, demo};

/// Scenarios not yet expected to be caught, with the detector family that will catch them.
const NOT_YET_CAUGHT: &[(&str, &str)] = &[
    ("access-key-other-user", "builtin/sigma"),
    ("flowlogs-deleted", "builtin/sigma"),
    ("guardduty-disabled", "builtin/sigma"),
    ("lambda-backdoor", "builtin/sigma"),
    ("new-country-login", "anomaly"),
    ("secrets-retrieval", "anomaly"),
];

/// Alerts on benign events allowed per million benign events.
///
/// The CIS `unauthorized-api-calls` metric filter raises an alarm for each five-minute period
/// with an `AccessDenied`, and the benign background has about two of those per thousand
/// people's calls, as real organisations do; the budget allows for that alarm and a handful of
/// others (at most one and a half benign alerts per thousand benign events).
const BENIGN_BUDGET_PER_MILLION: f64 = 1_500.0;

#[test]
fn every_scenario_caught_and_benign_alerts_under_budget() {
    let dir = tempfile::tempdir().unwrap();
    let args = DemoArgs {
        keep: None,
        days: 30,
        accounts: 2,
        events_per_day: 1_000,
        seed: 42,
        scorecard_only: true,
    };
    let (_alerts, card) = demo(&args, dir.path()).unwrap();
    eprintln!("{}", card.to_text());
    assert_eq!(card.scenarios.len(), trailhound_gen::SCENARIOS.len());
    let mut missed = Vec::new();
    for s in &card.scenarios {
        let pending = NOT_YET_CAUGHT.iter().any(|(n, _)| *n == s.scenario);
        if s.caught() && pending {
            eprintln!(
                "note: {} is now caught; remove it from NOT_YET_CAUGHT",
                s.scenario
            );
        }
        if !s.caught() && !pending {
            missed.push(s.scenario.clone());
        }
    }
    assert!(
        missed.is_empty(),
        "scenarios missed: {missed:?}\n{}",
        card.to_text()
    );
    for (name, _) in NOT_YET_CAUGHT {
        assert!(
            trailhound_gen::scenario(name).is_some(),
            "{name} is not a scenario"
        );
    }
    assert!(card.benign_events > 50_000);
    assert!(
        card.benign_per_million() <= BENIGN_BUDGET_PER_MILLION,
        "{:.1} benign alerts per million benign events, budget {BENIGN_BUDGET_PER_MILLION}\n{}",
        card.benign_per_million(),
        card.to_text()
    );
}
