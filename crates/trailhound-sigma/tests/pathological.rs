//! Hostile rule content is refused or stays bounded: catastrophic regular expressions run in
//! linear time, over-large ones are refused, deeply nested conditions are refused, and
//! many-star wildcards match in time proportional to pattern × value.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use trailhound_core::{Event, Origin};
use trailhound_sigma::{RuleSet, SigmaConfig};

fn rule_text(detection: &str) -> String {
    format!(
        "title: t\nid: 00000000-0000-4000-8000-000000000000\nlogsource: {{product: aws}}\ndetection:\n{detection}\nlevel: low\n"
    )
}

fn compile(detection: &str) -> Result<RuleSet, String> {
    let text = rule_text(detection);
    RuleSet::from_texts([("t.yml", text.as_str())], &SigmaConfig::default())
        .map_err(|e| e.to_string())
}

fn event_with_user(user: &str) -> Event {
    let raw = format!(
        r#"{{"eventVersion":"1.10","eventTime":"2026-03-04T05:06:07Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","eventID":"e1","recipientAccountId":"123456789012","userIdentity":{{"type":"IAMUser","userName":"alice","accountId":"123456789012"}},"requestParameters":{{"userName":"{user}"}}}}"#
    );
    Event::from_json(raw, Origin::new("t.json", 0)).unwrap()
}

fn timed_match(set: &RuleSet, event: &Event) -> (bool, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    set.matching(event, &mut out);
    (!out.is_empty(), started.elapsed())
}

#[test]
fn catastrophic_regex_runs_in_linear_time() {
    // Exponential for a backtracking engine on "aaaa…a!"; the regex crate is linear.
    let set = compile("  s: {requestParameters.userName|re: '^(a+)+$'}\n  condition: s").unwrap();
    let event = event_with_user(&format!("{}!", "a".repeat(100_000)));
    let (hit, took) = timed_match(&set, &event);
    assert!(!hit);
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn oversized_regex_is_refused() {
    let err =
        compile("  s: {eventName|re: '\\w{1000}\\w{1000}\\w{1000}'}\n  condition: s").unwrap_err();
    assert!(err.contains("bad regular expression"), "{err}");
}

#[test]
fn deeply_nested_condition_is_refused() {
    let condition = format!("{}s{}", "(".repeat(200), ")".repeat(200));
    let err = compile(&format!(
        "  s: {{eventName: CreateUser}}\n  condition: '{condition}'"
    ))
    .unwrap_err();
    assert!(err.contains("nested deeper"), "{err}");
    let not_chain = format!("{}s", "not ".repeat(10_000));
    assert!(
        compile(&format!(
            "  s: {{eventName: CreateUser}}\n  condition: '{not_chain}'"
        ))
        .is_err()
    );
}

#[test]
fn many_star_wildcard_is_bounded() {
    // 500 stars against a 100,000-character value that almost matches: the matcher's work is
    // bounded by pattern × value, never exponential.
    let pattern = format!("{}b", "*a".repeat(500));
    let set = compile(&format!(
        "  s: {{requestParameters.userName: '{pattern}'}}\n  condition: s"
    ))
    .unwrap();
    let event = event_with_user(&"a".repeat(100_000));
    let (hit, took) = timed_match(&set, &event);
    assert!(!hit);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
