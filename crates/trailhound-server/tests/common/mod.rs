//! A small store of hand-written CloudTrail records and alerts for the API tests.
#![allow(clippy::unwrap_used, clippy::panic, clippy::collapsible_if)]
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use trailhound_core::{Alert, Event, Origin, RuleKind, RuleRef, Severity};
use trailhound_server::{AccessToken, ServerConfig};
use trailhound_store::Store;

pub const TOKEN: &str = "test-token-0123456789abcdef";
pub const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
pub const DEPLOY: &str = "arn:aws:sts::123456789012:assumed-role/deploy/ci-run-42";

fn record(
    id: &str,
    time: &str,
    source: &str,
    name: &str,
    arn: &str,
    ip: &str,
    extra: &str,
) -> String {
    let identity = if arn.contains(":assumed-role/") {
        format!(
            r#"{{"type":"AssumedRole","principalId":"AROAEXAMPLEDEPLOY:ci-run-42","arn":"{arn}","accountId":"123456789012","accessKeyId":"ASIAEXAMPLEDEPLOY1",
              "sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLEDEPLOY","arn":"arn:aws:iam::123456789012:role/deploy","accountId":"123456789012","userName":"deploy"}}}}}}"#
        )
    } else {
        format!(
            r#"{{"type":"IAMUser","principalId":"AIDAEXAMPLEALICE","arn":"{arn}","accountId":"123456789012","accessKeyId":"AKIAEXAMPLEALICE1","userName":"alice"}}"#
        )
    };
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{identity},"eventTime":"{time}","eventSource":"{source}",
        "eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.15.0",
        {extra}"eventID":"{id}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,
        "recipientAccountId":"123456789012"}}"#
    )
}

pub fn events() -> Vec<Event> {
    let raws = [
        record(
            "11111111-0000-4000-8000-000000000001",
            "2026-03-02T09:00:00Z",
            "iam.amazonaws.com",
            "CreateUser",
            ALICE,
            "203.0.113.7",
            r#""requestParameters":{"userName":"backup-admin"},"#,
        ),
        record(
            "11111111-0000-4000-8000-000000000002",
            "2026-03-02T09:01:00Z",
            "iam.amazonaws.com",
            "CreateAccessKey",
            ALICE,
            "203.0.113.7",
            r#""requestParameters":{"userName":"backup-admin"},"#,
        ),
        record(
            "11111111-0000-4000-8000-000000000003",
            "2026-03-02T09:05:00Z",
            "cloudtrail.amazonaws.com",
            "StopLogging",
            ALICE,
            "203.0.113.7",
            r#""requestParameters":{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail"},"#,
        ),
        record(
            "11111111-0000-4000-8000-000000000004",
            "2026-03-02T10:00:00Z",
            "s3.amazonaws.com",
            "PutBucketPolicy",
            DEPLOY,
            "198.51.100.20",
            r#""requestParameters":{"bucketName":"payments-exports.example.com"},"#,
        ),
    ];
    raws.iter()
        .enumerate()
        .map(|(i, raw)| {
            Event::from_json(raw.as_str(), Origin::new("fixture.json", i as u32)).unwrap()
        })
        .collect()
}

fn rule(id: &str, name: &str, kind: RuleKind) -> RuleRef {
    RuleRef {
        id: id.into(),
        name: name.into(),
        kind,
        author: None,
    }
}

pub fn alerts(events: &[Event]) -> Vec<Alert> {
    let mut stop = Alert::for_event(
        rule("TH1001", "cloudtrail-logging-stopped", RuleKind::Builtin),
        Severity::Critical,
        "alice stopped CloudTrail logging on org-trail".into(),
        "eventName is StopLogging on cloudtrail.amazonaws.com".into(),
        &events[2],
    );
    stop.attack.push("T1562.008".into());
    stop.runbook = "Restart logging with StartLogging, then review what alice did next.".into();
    let mut key = Alert::for_event(
        rule(
            "TH1010",
            "access-key-created-for-other-user",
            RuleKind::Builtin,
        ),
        Severity::High,
        "alice created an access key for backup-admin".into(),
        "eventName is CreateAccessKey and requestParameters.userName differs from the caller"
            .into(),
        &events[1],
    );
    key.attack.push("T1098.001".into());
    let mut rare = Alert::for_event(
        rule("TH3001", "rare-api-for-principal", RuleKind::Anomaly),
        Severity::Medium,
        "deploy called PutBucketPolicy for the first time".into(),
        "PutBucketPolicy was never called by this role in 30 days of baseline".into(),
        &events[3],
    );
    rare.score = Some(87);
    rare.context.insert("baseline_days".into(), 30.into());
    rare.context.insert("seen_apis".into(), 12.into());
    vec![key, stop, rare]
}

/// Fills a store in `dir` with the fixture events and alerts.
pub fn fill(dir: &Path) -> Vec<Alert> {
    let mut store = Store::open(dir).unwrap();
    let events = events();
    store.append_events(&events).unwrap();
    let alerts = alerts(&events);
    store.append_alerts(&alerts).unwrap();
    alerts
}

pub fn config(dir: &Path) -> ServerConfig {
    let mut config = ServerConfig::new(
        dir.to_path_buf(),
        "127.0.0.1:0".parse().unwrap(),
        AccessToken::configured(TOKEN).unwrap(),
    );
    config.poll_interval = std::time::Duration::from_millis(100);
    config
}
