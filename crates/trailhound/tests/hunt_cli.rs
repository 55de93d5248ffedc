//! `trailhound hunt` run as a binary over the fixtures in every output format.

// Helpers below are test code too: a failed spawn or a non-UTF-8 output should fail the test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn hunt(args: &[&str]) -> Output {
    hunt_stdin(args, None)
}

fn hunt_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .arg("hunt")
        .args(args)
        .current_dir(fixtures())
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn table_over_fixture_tree() {
    let out = hunt(&["cloudtrail"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("digests 1"), "{err}");
    assert!(err.contains("other-service=1"), "{err}");
    assert!(err.contains("alerts: ") && err.contains("high="), "{err}");
}

#[test]
fn jsonl_is_alert_shape() {
    let out = hunt(&["cloudtrail", "--format", "jsonl", "--quiet"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "--quiet prints nothing on stderr");
    let text = stdout(&out);
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for alert in &alerts {
        let _: trailhound_core::Alert = serde_json::from_value(alert.clone()).unwrap();
    }
    insta::assert_snapshot!(text);
}

#[test]
fn json_array() {
    let out = hunt(&[
        "cloudtrail/AWSLogs/123456789012",
        "--format",
        "json",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!(value);
}

#[test]
fn sarif_log() {
    let out = hunt(&["cloudtrail", "--format", "sarif", "--quiet"]);
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["version"], "2.1.0");
    let alerts = jsonl_alerts(&["cloudtrail"]);
    let results = value["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), alerts.len());
    let mut rule_ids: Vec<&str> = alerts
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap())
        .collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules = value["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), rule_ids.len());
    for result in results {
        let level = match result["properties"]["severity"].as_str().unwrap() {
            "critical" | "high" => "error",
            "medium" => "warning",
            _ => "note",
        };
        assert_eq!(result["level"], level);
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
}

/// The alerts of a `--format jsonl --quiet` run.
fn jsonl_alerts(args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = args.to_vec();
    all.extend(["--format", "jsonl", "--quiet"]);
    let out = hunt(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_shape_is_read() {
    let out = hunt(&["cloudtrail/shapes", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    // 4 + 2 + 2 + 1 + 1 + 3 + 1 events, nothing skipped.
    assert!(err.contains("7 files, 14 events"), "{err}");
    assert!(err.contains("skipped: none"), "{err}");
    // The failed root sign-ins in events.jsonl, events.jsonl.gz and multi-member.json.gz.
    assert!(stdout(&out).lines().count() >= 1);
}

#[test]
fn bad_inputs_are_counted_and_good_records_read() {
    let out = hunt(&["bad", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    for reason in [
        "invalid-utf8=1",
        "malformed-json=1",
        "not-cloudtrail=1",
        "not-json=1",
        "truncated-gzip=1",
    ] {
        assert!(err.contains(reason), "{reason} missing in {err}");
    }
    assert!(err.contains("5 files"), "{err}");
    // bad-utf8 and malformed-line each keep their two good lines; truncated keeps a prefix.
    let events: u64 = err
        .split(" events,")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(events >= 5, "{err}");
}

#[test]
fn fail_on_sets_exit_code() {
    use trailhound_core::Severity;
    let tree = "cloudtrail/AWSLogs";
    let max = jsonl_alerts(&[tree])
        .iter()
        .map(|a| a["severity"].as_str().unwrap().parse::<Severity>().unwrap())
        .max()
        .unwrap();
    assert_eq!(
        hunt(&[tree, "--quiet", "--fail-on", max.as_str()])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        hunt(&[tree, "--quiet", "--fail-on", "informational"])
            .status
            .code(),
        Some(1)
    );
    if max < Severity::Critical {
        let above = max.raised();
        assert_eq!(
            hunt(&[tree, "--quiet", "--fail-on", above.as_str()])
                .status
                .code(),
            Some(0)
        );
    }
    let quiet_file = hunt(&[
        "cloudtrail/shapes/single-record.json",
        "--quiet",
        "--fail-on",
        "low",
    ]);
    assert_eq!(
        quiet_file.status.code(),
        Some(0),
        "a DescribeRegions call raises nothing"
    );
    let bad = hunt(&[tree, "--fail-on", "severe"]);
    assert_eq!(bad.status.code(), Some(2));
    let missing = hunt(&["does-not-exist"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read input does-not-exist"));
}

#[test]
fn stdin_is_read_and_gzip_told_by_content() {
    let data = std::fs::read(fixtures().join("cloudtrail/shapes/multi-member.json.gz")).unwrap();
    let out = hunt_stdin(&["-", "--format", "jsonl"], Some(&data));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("1 files, 3 events"),
        "{}",
        stderr(&out)
    );
    // The root sign-in failure is line 2 of the text (in the second gzip member).
    let origins: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .flat_map(|l| {
            let alert: serde_json::Value = serde_json::from_str(l).unwrap();
            let events = alert["events"].as_array().unwrap().clone();
            events.into_iter().map(|e| e["origin"].clone())
        })
        .collect();
    assert!(origins.iter().any(|o| o == "-#2"), "{origins:?}");
}

#[test]
fn since_and_until_filter_events() {
    let times = |alerts: &[serde_json::Value]| -> Vec<String> {
        let mut out = Vec::new();
        for alert in alerts {
            for event in alert["events"].as_array().unwrap() {
                out.push(event["eventTime"].as_str().unwrap().to_owned());
            }
        }
        out
    };
    let all = times(&jsonl_alerts(&["cloudtrail/AWSLogs"]));
    assert!(all.iter().any(|t| t.as_str() < "2026-01-16"), "{all:?}");
    assert!(all.iter().any(|t| t.as_str() >= "2026-01-16"), "{all:?}");
    let day15 = times(&jsonl_alerts(&[
        "cloudtrail/AWSLogs",
        "--until",
        "2026-01-16",
    ]));
    assert!(!day15.is_empty());
    assert!(day15.iter().all(|t| t.as_str() < "2026-01-16"), "{day15:?}");
    let late = times(&jsonl_alerts(&[
        "cloudtrail/AWSLogs",
        "--since",
        "2026-01-15T10:06:00Z",
    ]));
    assert!(!late.is_empty());
    assert!(
        late.iter().all(|t| t.as_str() >= "2026-01-15T10:06:00Z"),
        "{late:?}"
    );
    let bad = hunt(&["cloudtrail", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn state_file_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_string_lossy().into_owned();
    let out = hunt(&[
        "cloudtrail/shapes/events.jsonl",
        "--quiet",
        "--state",
        &state_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert!(saved["detectors"].is_object());
    let again = hunt(&[
        "cloudtrail/shapes/events.jsonl",
        "--quiet",
        "--state",
        &state_arg,
    ]);
    assert_eq!(again.status.code(), Some(0));
    std::fs::write(&state, br#"{"version":9,"detectors":{}}"#).unwrap();
    let refused = hunt(&[
        "cloudtrail/shapes/events.jsonl",
        "--quiet",
        "--state",
        &state_arg,
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("unsupported state version 9"));
}

/// `--rules DIR` runs user Sigma rules next to the built-in pack: the SigmaHQ CloudTrail rules
/// (read from the shared corpus beside the repository, never copied into it) fire on the
/// fixture tree, as kind `sigma`, with their author carried for attribution.
#[test]
fn rules_dir_runs_sigma_rules_unchanged() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/sigma/rules/cloud/aws/cloudtrail");
    assert!(
        corpus.is_dir(),
        "the SigmaHQ corpus is expected at {}",
        corpus.display()
    );
    let corpus = corpus.display().to_string();
    let out = hunt(&["cloudtrail", "--rules", &corpus, "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let alerts: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let sigma: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| a["rule"]["kind"] == "sigma")
        .collect();
    assert!(!sigma.is_empty(), "no Sigma alert on the fixtures");
    assert!(sigma.iter().all(|a| a["rule"]["author"].is_string()));
    // The trail-change rule fires on the fixture's StopLogging/DeleteTrail records.
    assert!(
        sigma
            .iter()
            .any(|a| a["rule"]["id"] == "4db60cc0-36fb-42b7-9b58-a5b53019fb74"),
        "{sigma:#?}"
    );
    // Without --rules, no Sigma alert.
    let plain = hunt(&["cloudtrail", "--format", "jsonl"]);
    assert!(!stdout(&plain).contains("\"kind\":\"sigma\""));

    let missing = hunt(&["cloudtrail", "--rules", "/nonexistent/rules"]);
    assert_eq!(missing.status.code(), Some(2));
}
