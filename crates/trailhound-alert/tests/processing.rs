//! Dedup, suppression and correlation on hand-written CloudTrail records.
#![allow(clippy::unwrap_used)] // fixture helpers outside #[test] functions

use trailhound_alert::process::{Output, Processor};
use trailhound_alert::suppress::{Suppression, Suppressions};
use trailhound_alert::{AlertConfig, config::UpdateMode};
use trailhound_core::{Alert, Event, Origin, RuleKind, RuleRef, Severity, Timestamp};

fn event(id: &str, time: &str, name: &str, source: &str, principal: &str, ip: &str) -> Event {
    let raw = format!(
        r#"{{"eventVersion":"1.08","eventTime":"{time}","eventSource":"{source}","eventName":"{name}",
        "awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.15.0",
        "eventID":"{id}","readOnly":true,"recipientAccountId":"123456789012",
        "userIdentity":{{"type":"AssumedRole","arn":"{principal}","accountId":"123456789012",
          "accessKeyId":"ASIAEXAMPLE000000001"}}}}"#
    );
    Event::from_json(raw.as_str(), Origin::new("fixture.json", 0)).unwrap()
}

fn alert(rule: &str, name: &str, kind: RuleKind, severity: Severity, event: &Event) -> Alert {
    let rule = RuleRef {
        id: rule.into(),
        name: name.into(),
        kind,
        author: None,
    };
    Alert::for_event(
        rule,
        severity,
        format!("{name} by test"),
        "fixture".into(),
        event,
    )
}

const ROLE: &str = "arn:aws:sts::123456789012:assumed-role/web-instance-role/i-0123456789abcdef0";

fn titles(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .map(|o| {
            format!(
                "{:?} {} {} count={}",
                o.kind, o.alert.rule.id, o.alert.first_seen, o.alert.event_count
            )
        })
        .collect()
}

#[test]
fn dedup_merges_within_window_and_updates_on_close() {
    let mut config = AlertConfig::default();
    config.dedup.updates = UpdateMode::Close;
    let mut p = Processor::new(&config, Suppressions::default()).unwrap();
    let mut out = Vec::new();
    for (i, minute) in ["00", "10", "20", "50"].iter().enumerate() {
        let e = event(
            &format!("e{i}"),
            &format!("2026-03-02T10:{minute}:00Z"),
            "StopLogging",
            "cloudtrail.amazonaws.com",
            ROLE,
            "203.0.113.7",
        );
        p.submit(
            alert(
                "TH1001",
                "cloudtrail-logging-stopped",
                RuleKind::Builtin,
                Severity::High,
                &e,
            ),
            &mut out,
        );
    }
    // Outside the hour: a new finding.
    let late = event(
        "e9",
        "2026-03-02T11:30:00Z",
        "StopLogging",
        "cloudtrail.amazonaws.com",
        ROLE,
        "203.0.113.7",
    );
    p.submit(
        alert(
            "TH1001",
            "cloudtrail-logging-stopped",
            RuleKind::Builtin,
            Severity::High,
            &late,
        ),
        &mut out,
    );
    p.advance(Timestamp::MAX, &mut out);
    assert_eq!(p.stats().deduplicated, 3);
    insta::assert_json_snapshot!("dedup_outputs", titles(&out));
    let update = out
        .iter()
        .find(|o| o.kind == trailhound_alert::OutputKind::Update)
        .unwrap();
    assert_eq!(update.alert.event_count, 4);
    assert_eq!(update.alert.events.len(), 4);
    assert_eq!(
        update.alert.id, out[0].alert.id,
        "an update keeps the alert id"
    );
    assert_ne!(update.message_id(), out[0].message_id());
    insta::assert_json_snapshot!("dedup_update", update.alert);
}

#[test]
fn suppression_hides_until_expiry() {
    let mut config = AlertConfig::default();
    config.suppress.push(Suppression::new(
        [
            ("rule".to_owned(), vec!["TH1001".to_owned()]),
            (
                "principal".to_owned(),
                vec!["*web-instance-role*".to_owned()],
            ),
        ]
        .into_iter()
        .collect(),
        "maintenance window".into(),
        Some("alice".into()),
        None,
        Some(Timestamp::parse("2026-03-02T12:00:00Z").unwrap()),
    ));
    let mut p = Processor::new(
        &config,
        Suppressions {
            config: config.suppress.clone(),
            file: None,
        },
    )
    .unwrap();
    let mut out = Vec::new();
    let before = event(
        "e1",
        "2026-03-02T10:00:00Z",
        "StopLogging",
        "cloudtrail.amazonaws.com",
        ROLE,
        "203.0.113.7",
    );
    let after = event(
        "e2",
        "2026-03-02T13:00:00Z",
        "StopLogging",
        "cloudtrail.amazonaws.com",
        ROLE,
        "203.0.113.7",
    );
    p.submit(
        alert(
            "TH1001",
            "cloudtrail-logging-stopped",
            RuleKind::Builtin,
            Severity::High,
            &before,
        ),
        &mut out,
    );
    assert!(out.is_empty());
    p.submit(
        alert(
            "TH1001",
            "cloudtrail-logging-stopped",
            RuleKind::Builtin,
            Severity::High,
            &after,
        ),
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(p.stats().suppressed, 1);
}

#[test]
fn instance_credential_chain_fires_once_with_stages() {
    let mut p = Processor::new(&AlertConfig::default(), Suppressions::default()).unwrap();
    let mut out = Vec::new();
    let ip = "203.0.113.10";
    let first = event(
        "c0",
        "2026-03-02T10:30:12Z",
        "GetCallerIdentity",
        "sts.amazonaws.com",
        ROLE,
        ip,
    );
    p.observe(&first, &mut out);
    let list = event(
        "c1",
        "2026-03-02T10:30:16Z",
        "ListBuckets",
        "s3.amazonaws.com",
        ROLE,
        ip,
    );
    p.observe(&list, &mut out);
    for i in 0..12 {
        let e = event(
            &format!("g{i:02}"),
            &format!("2026-03-02T10:31:{:02}Z", i * 3),
            "GetObject",
            "s3.amazonaws.com",
            ROLE,
            ip,
        );
        p.observe(&e, &mut out);
    }
    assert!(out.is_empty(), "no chain before its first stage");
    // The anomaly alert arrives after the events (windowed detectors emit late).
    p.submit(
        alert(
            "TH3013",
            "instance-credentials-used-outside-aws",
            RuleKind::Anomaly,
            Severity::High,
            &first,
        ),
        &mut out,
    );
    let chains: Vec<&Output> = out
        .iter()
        .filter(|o| o.alert.rule.kind == RuleKind::Correlation)
        .collect();
    assert_eq!(chains.len(), 1, "{:?}", titles(&out));
    let chain = &chains[0].alert;
    assert_eq!(chain.rule.id, "TH5001");
    assert_eq!(chain.severity, Severity::Critical);
    insta::assert_json_snapshot!("instance_credential_chain", chain);
    // More reads in the window: no second chain alert.
    let more = event(
        "g99",
        "2026-03-02T10:40:00Z",
        "GetObject",
        "s3.amazonaws.com",
        ROLE,
        ip,
    );
    p.observe(&more, &mut out);
    assert_eq!(
        out.iter()
            .filter(|o| o.alert.rule.kind == RuleKind::Correlation)
            .count(),
        1
    );
}

#[test]
fn chain_needs_stage_order() {
    let mut p = Processor::new(&AlertConfig::default(), Suppressions::default()).unwrap();
    let mut out = Vec::new();
    // CloudTrail stopped before the anomaly: not the chain.
    let stop = event(
        "s1",
        "2026-03-02T09:00:00Z",
        "StopLogging",
        "cloudtrail.amazonaws.com",
        ROLE,
        "198.51.100.4",
    );
    p.observe(&stop, &mut out);
    let later = event(
        "a1",
        "2026-03-02T10:00:00Z",
        "ListUsers",
        "iam.amazonaws.com",
        ROLE,
        "198.51.100.4",
    );
    p.submit(
        alert(
            "TH3001",
            "api-rare-for-principal",
            RuleKind::Anomaly,
            Severity::Informational,
            &later,
        ),
        &mut out,
    );
    assert!(
        out.iter()
            .all(|o| o.alert.rule.kind != RuleKind::Correlation)
    );
    // Stopped again after the anomaly: the chain.
    let again = event(
        "s2",
        "2026-03-02T11:00:00Z",
        "StopLogging",
        "cloudtrail.amazonaws.com",
        ROLE,
        "198.51.100.4",
    );
    p.observe(&again, &mut out);
    let chain: Vec<&Output> = out
        .iter()
        .filter(|o| o.alert.rule.kind == RuleKind::Correlation)
        .collect();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].alert.rule.id, "TH5003");
}
