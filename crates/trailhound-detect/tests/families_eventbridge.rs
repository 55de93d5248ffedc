//! EventBridge event patterns over CloudTrail records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod families_common;

use families_common::*;
use serde_json::json;
use trailhound_core::Severity;
use trailhound_detect::Detector;
use trailhound_detect::eventbridge::{EventBridgeRuleConfig, EventPattern, envelope};

fn check(pattern: &str, record: &serde_json::Value) -> bool {
    let p = EventPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    p.matches(&envelope(&event(record)))
}

fn sample() -> serde_json::Value {
    let mut identity = user("alice");
    identity["mfa"] = json!(false);
    record(
        "2026-03-02T10:00:00Z",
        "s3.amazonaws.com",
        "PutBucketPolicy",
        identity,
        json!({
        "sourceIPAddress": "198.51.100.23",
        "requestParameters": {"bucketName": "prod-invoices", "bucketPolicy": {"Statement": [{"Effect": "Allow"}]}, "size": 42},
        "resources": [{"ARN": "arn:aws:s3:::prod-invoices"}, {"ARN": "arn:aws:s3:::other"}]}),
    )
}

#[test]
fn envelope_shape() {
    let e = envelope(&event(&sample()));
    assert_eq!(e["source"], "aws.s3");
    assert_eq!(e["detail-type"], "AWS API Call via CloudTrail");
    assert_eq!(e["account"], ACCOUNT);
    assert_eq!(e["region"], "us-east-1");
    assert_eq!(e["detail"]["eventName"], "PutBucketPolicy");
    let login = record(
        "2026-03-02T10:00:00Z",
        "signin.amazonaws.com",
        "ConsoleLogin",
        user("a"),
        json!({"eventType": "AwsConsoleSignIn"}),
    );
    assert_eq!(
        envelope(&event(&login))["detail-type"],
        "AWS Console Sign In via CloudTrail"
    );
}

#[test]
fn operators() {
    let r = sample();
    let cases = [
        (
            r#"{"source":["aws.s3"],"detail":{"eventName":["PutBucketPolicy","DeleteBucketPolicy"]}}"#,
            true,
        ),
        (r#"{"source":["aws.kms"]}"#, false),
        (r#"{"detail":{"eventName":[{"prefix":"PutBucket"}]}}"#, true),
        (
            r#"{"detail":{"eventName":[{"prefix":{"equals-ignore-case":"putbucket"}}]}}"#,
            true,
        ),
        (r#"{"detail":{"eventName":[{"suffix":"Policy"}]}}"#, true),
        (
            r#"{"detail":{"eventName":[{"suffix":{"equals-ignore-case":"POLICY"}}]}}"#,
            true,
        ),
        (
            r#"{"detail":{"eventName":[{"anything-but":"PutBucketPolicy"}]}}"#,
            false,
        ),
        (
            r#"{"detail":{"eventName":[{"anything-but":["GetObject","ListBuckets"]}]}}"#,
            true,
        ),
        (
            r#"{"detail":{"eventName":[{"anything-but":{"prefix":"Put"}}]}}"#,
            false,
        ),
        (
            r#"{"detail":{"eventName":[{"anything-but":{"suffix":"Object"}}]}}"#,
            true,
        ),
        (
            r#"{"detail":{"requestParameters":{"size":[{"numeric":[">",0,"<=",42]}]}}}"#,
            true,
        ),
        (
            r#"{"detail":{"requestParameters":{"size":[{"numeric":["<",42]}]}}}"#,
            false,
        ),
        (r#"{"detail":{"requestParameters":{"size":[42]}}}"#, true),
        (r#"{"detail":{"errorCode":[{"exists":false}]}}"#, true),
        (r#"{"detail":{"errorCode":[{"exists":true}]}}"#, false),
        (
            r#"{"detail":{"userIdentity":{"accessKeyId":[{"exists":true}]}}}"#,
            true,
        ),
        (
            r#"{"detail":{"sourceIPAddress":[{"cidr":"198.51.100.0/24"}]}}"#,
            true,
        ),
        (
            r#"{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/8"}]}}"#,
            false,
        ),
        (
            r#"{"detail":{"userAgent":[{"wildcard":"aws-cli/*Python*"}]}}"#,
            true,
        ),
        (
            r#"{"detail":{"userIdentity":{"userName":[{"equals-ignore-case":"ALICE"}]}}}"#,
            true,
        ),
        (r#"{"detail":{"userIdentity":{"mfa":[false]}}}"#, true),
        (
            r#"{"detail":{"requestParameters":{"bucketPolicy":{"Statement":{"Effect":["Allow"]}}}}}"#,
            true,
        ),
        (
            r#"{"detail":{"resources":{"ARN":["arn:aws:s3:::other"]}}}"#,
            true,
        ),
        (
            r#"{"source":["aws.s3"],"$or":[{"detail":{"eventName":["GetObject"]}},{"detail":{"sourceIPAddress":[{"cidr":"198.51.100.0/24"}]}}]}"#,
            true,
        ),
        (
            r#"{"$or":[{"detail":{"eventName":["GetObject"]}},{"detail":{"eventName":["DeleteObject"]}}]}"#,
            false,
        ),
        (r#"{"detail":{"missing":[{"anything-but":"x"}]}}"#, false),
    ];
    for (p, want) in cases {
        assert_eq!(check(p, &r), want, "{p}");
    }
}

#[test]
fn invalid_patterns() {
    for (bad, needle) in [
        ("{}", "empty pattern"),
        ("[1]", "JSON object"),
        (r#"{"source":"aws.s3"}"#, "source"),
        (r#"{"source":[]}"#, "empty array"),
        (
            r#"{"detail":{"eventName":[{"prefix":1}]}}"#,
            "detail.eventName",
        ),
        (r#"{"detail":{"n":[{"numeric":[">"]}]}}"#, "pairs"),
        (r#"{"detail":{"n":[{"numeric":["!",1]}]}}"#, "operators"),
        (r#"{"detail":{"ip":[{"cidr":"300.1.1.1/8"}]}}"#, "CIDR"),
        (r#"{"detail":{"x":[{"regex":"a"}]}}"#, "unknown operator"),
        (r#"{"$or":[{"source":["a"]}]}"#, "at least two"),
        ("{", "invalid JSON"),
    ] {
        let e = EventPattern::parse(bad).unwrap_err().to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
}

#[test]
fn rule_routes_by_event_name_and_alerts() {
    let rule = EventBridgeRuleConfig {
        id: "EB-bucket-policy".into(),
        title: "Bucket policy changed".into(),
        severity: Severity::High,
        pattern: r#"{"source":["aws.s3"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventName":["PutBucketPolicy","DeleteBucketPolicy"]}}"#.into(),
        runbook: None,
        attack: vec!["T1530".into()],
    };
    let mut d = rule.build().unwrap();
    assert_eq!(d.interest().event_names.map(|n| n.len()), Some(2));
    let alerts = run(&mut d, &[sample()]);
    assert_eq!(alerts.len(), 1);
    insta::assert_json_snapshot!("eventbridge_alert", alerts[0]);
}
