//! The built-in rule pack against its fixtures: `rules/tests/<id>/match/*.json` must raise
//! that rule exactly once, `nomatch/*.json` must not raise it. A fixture is one CloudTrail
//! record, or a JSON array of records for windowed rules. Each match alert is snapshotted,
//! with the other built-in rules the same fixture raised.
//!
//! A meta-test fails when a catalogue entry lacks fixtures, generated docs or a runbook.

// Helpers below are test code too: a bad fixture must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use trailhound_core::{Alert, Event, Origin};
use trailhound_detect::sigma::load_texts;
use trailhound_detect::tuning::Tuning;
use trailhound_detect::{BuiltinRule, Detector, Engine, builtin_detectors, builtin_rules};
use trailhound_sigma::SigmaConfig;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures(rule_id: &str, kind: &str) -> Vec<PathBuf> {
    let dir = repo_root().join("rules/tests").join(rule_id).join(kind);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn fixture_events(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap();
    let value: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let records = match value {
        Value::Array(records) => records,
        record => vec![record],
    };
    let label = format!(
        "{}/{}",
        path.parent()
            .and_then(Path::file_name)
            .unwrap_or_default()
            .to_string_lossy(),
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            Event::from_json(record.to_string(), Origin::new(label.as_str(), i as u32))
                .unwrap_or_else(|e| panic!("{}: record {i}: {e}", path.display()))
        })
        .collect()
}

fn run_pack(events: &[Event]) -> Vec<Alert> {
    run(
        Engine::new(builtin_detectors(&Tuning::none()).unwrap()),
        events,
    )
}

/// One rule file alone: cheaper than the pack, for the no-match checks.
fn run_rule(rule: &BuiltinRule, events: &[Event]) -> Vec<Alert> {
    let detectors = load_texts("test", [(rule.file, rule.yaml)], &SigmaConfig::default()).unwrap();
    let boxed: Vec<Box<dyn Detector>> = detectors
        .into_iter()
        .map(|d| Box::new(d) as Box<dyn Detector>)
        .collect();
    run(Engine::new(boxed), events)
}

fn run(mut engine: Engine, events: &[Event]) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for event in events {
        engine.process(event, &mut alerts);
    }
    engine.finish(&mut alerts);
    alerts
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn match_fixtures_raise_their_rule_once() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in builtin_rules().unwrap() {
        let id = &rule.doc.id;
        for path in fixtures(id, "match") {
            checked += 1;
            let alerts = run_pack(&fixture_events(&path));
            let own: Vec<&Alert> = alerts.iter().filter(|a| a.rule.id == *id).collect();
            if own.len() != 1 {
                failures.push(format!(
                    "{id} {}: raised {} times",
                    path.display(),
                    own.len()
                ));
                continue;
            }
            let alert = own[0];
            assert_eq!(alert.rule.name, rule.doc.name);
            assert!(
                !alert.title.contains('{'),
                "{id}: unrendered title {:?}",
                alert.title
            );
            assert!(
                !alert.why.contains('{'),
                "{id}: unrendered why {:?}",
                alert.why
            );
            let also: BTreeSet<&str> = alerts
                .iter()
                .map(|a| a.rule.id.as_str())
                .filter(|other| other != id)
                .collect();
            let snapshot = serde_json::json!({ "alert": alert, "also_raised": also });
            let mut settings = insta::Settings::clone_current();
            settings
                .set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
            settings.set_prepend_module_to_snapshot(false);
            settings.bind(|| {
                insta::assert_json_snapshot!(
                    format!("builtin_rules__{id}__{}", stem(&path)),
                    snapshot
                );
            });
        }
    }
    assert!(checked >= 60, "only {checked} match fixtures");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn nomatch_fixtures_do_not_raise_their_rule() {
    let mut failures = Vec::new();
    for rule in builtin_rules().unwrap() {
        let id = &rule.doc.id;
        for path in fixtures(id, "nomatch") {
            let alerts = run_rule(&rule, &fixture_events(&path));
            if alerts.iter().any(|a| a.rule.id == *id) {
                failures.push(format!("{id} {}: raised", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every catalogue entry has match and no-match fixtures, generated docs and a runbook, and
/// every fixture directory belongs to a rule.
#[test]
fn every_rule_has_fixtures_docs_and_runbook() {
    let rules = builtin_rules().unwrap();
    let mut problems = Vec::new();
    for rule in &rules {
        let doc = &rule.doc;
        if fixtures(&doc.id, "match").is_empty() {
            problems.push(format!("{}: no match fixture", doc.id));
        }
        if fixtures(&doc.id, "nomatch").is_empty() {
            problems.push(format!("{}: no nomatch fixture", doc.id));
        }
        if doc.runbook.trim().is_empty() {
            problems.push(format!("{}: no runbook", doc.id));
        }
        let page = repo_root()
            .join("docs/rules")
            .join(format!("{}-{}.md", doc.id, doc.name));
        if !page.is_file() {
            problems.push(format!(
                "{}: no generated doc {} (run `cargo xtask gen-docs`)",
                doc.id,
                page.display()
            ));
        }
    }
    let ids: BTreeSet<&str> = rules.iter().map(|r| r.doc.id.as_str()).collect();
    for entry in std::fs::read_dir(repo_root().join("rules/tests")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("TH") && !ids.contains(name.as_str()) {
            problems.push(format!("rules/tests/{name}: fixtures of no rule"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every rule compiles alone too (no rule depends on another file), and the pack routes by
/// eventName for all but a few rules.
#[test]
fn pack_compiles_and_routes() {
    let detectors = builtin_detectors(&Tuning::none()).unwrap();
    let engine = Engine::new(detectors);
    let (routed, all_events) = engine.routing_summary();
    assert!(routed >= 1);
    assert!(
        all_events <= 1,
        "{all_events} built-in detectors see every event"
    );
}
