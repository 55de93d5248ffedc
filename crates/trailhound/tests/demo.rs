//! `trailhound demo` end to end: generates, hunts, prints alerts and the scorecard.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::Command;

#[test]
fn demo_prints_alerts_and_scorecard() {
    let keep = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args([
            "demo",
            "--days",
            "3",
            "--accounts",
            "2",
            "--events-per-day",
            "300",
            "--keep",
        ])
        .arg(keep.path())
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("Scorecard"), "{stdout}");
    for s in trailhound_gen::SCENARIOS {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(s.name))
            .unwrap_or_else(|| panic!("no scorecard line for {}:\n{stdout}", s.name));
        assert!(line.contains("CAUGHT") || line.contains("missed"), "{line}");
    }
    assert!(stdout.contains("scenarios caught; "), "{stdout}");
    assert!(stdout.contains("per million benign events"), "{stdout}");
    // The kept tree has its labels, and every caught scenario names a rule.
    assert!(keep.path().join("labels.jsonl").is_file());
    assert!(keep.path().join("scenarios.json").is_file());
    // The built-in pack catches the trail being stopped: the alert table shows it.
    let caught = stdout
        .lines()
        .find(|l| l.starts_with("cloudtrail-stopped"))
        .unwrap();
    assert!(caught.contains("CAUGHT"), "{caught}");
}
