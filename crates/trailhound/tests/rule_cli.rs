//! `trailhound rule list|show` run as a binary, and the built-in pack through `hunt` with a
//! tuning section.

// Helpers below are test code too: a failed spawn should fail the test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn trailhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(args)
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn rule_list_json_filters_by_kind_severity_and_tactic() {
    let out = trailhound(&[
        "rule",
        "list",
        "--kind",
        "builtin",
        "--severity",
        "high",
        "--tactic",
        "exfiltration",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"TH1026"), "{ids:?}");
    for entry in &entries {
        assert_eq!(entry["kind"], "builtin");
        assert!(matches!(
            entry["severity"].as_str(),
            Some("high" | "critical")
        ));
        assert!(
            entry["tactics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "exfiltration")
        );
    }
}

#[test]
fn rule_show_by_name_and_unknown_rule() {
    let out = trailhound(&["rule", "show", "root-console-login"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("TH1035 root-console-login"), "{text}");
    assert!(text.contains("## Runbook"));

    let out = trailhound(&["rule", "show", "TH9999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rule \"TH9999\""));
}

#[test]
fn hunt_applies_tuning_exceptions_and_overrides() {
    let fixture = repo().join("rules/tests/TH1001/match/iam-user.json");
    let fixture = fixture.to_str().unwrap();
    let plain = trailhound(&["hunt", fixture, "--format", "jsonl"]);
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert!(plain.contains("\"id\":\"TH1001\""), "{plain}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "version = 1\n[tuning.rules.TH1001]\nseverity = \"critical\"\n",
    )
    .unwrap();
    let raised = trailhound(&[
        "hunt",
        fixture,
        "--config",
        config.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    let raised = String::from_utf8(raised.stdout).unwrap();
    let alert: serde_json::Value = raised
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|a| a["rule"]["id"] == "TH1001")
        .unwrap();
    assert_eq!(alert["severity"], "critical");

    std::fs::write(
        &config,
        "version = 1\n[[tuning.exceptions]]\nrules = [\"cloudtrail-logging-stopped\"]\nprincipals = [\"arn:aws:iam::123456789012:user/alice\"]\nreason = \"trail migration\"\nexpires = \"2026-12-01\"\n",
    )
    .unwrap();
    let silenced = trailhound(&[
        "hunt",
        fixture,
        "--config",
        config.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert!(
        silenced.status.success(),
        "{}",
        String::from_utf8_lossy(&silenced.stderr)
    );
    let silenced = String::from_utf8(silenced.stdout).unwrap();
    assert!(!silenced.contains("\"id\":\"TH1001\""), "{silenced}");
}
