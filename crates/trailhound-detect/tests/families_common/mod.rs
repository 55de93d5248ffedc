//! Hand-written CloudTrail records for the detector-family tests.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use serde_json::{Value, json};
use trailhound_core::{Alert, Event, Origin, Timestamp};
use trailhound_detect::Detector;

pub const ACCOUNT: &str = "123456789012";

/// An IAM user identity.
pub fn user(name: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAEXAMPLEUSER", "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
           "accountId": ACCOUNT, "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": name})
}

/// A role-session identity.
pub fn role(role: &str, session: &str) -> Value {
    json!({"type": "AssumedRole", "principalId": format!("AROAEXAMPLE:{session}"),
           "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
           "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLE",
           "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
              "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "accountId": ACCOUNT, "userName": role},
              "attributes": {"creationDate": "2026-03-02T09:00:00Z", "mfaAuthenticated": "false"}}})
}

/// A record with the given parts; `extra` is merged over the defaults.
pub fn record(time: &str, source: &str, name: &str, identity: Value, extra: Value) -> Value {
    let mut base = json!({
        "eventVersion": "1.09", "userIdentity": identity, "eventTime": time,
        "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10", "userAgent": "aws-cli/2.15.0 Python/3.11.6",
        "requestParameters": null, "responseElements": null,
        "eventID": format!("{}-{}", name.to_lowercase(), time.replace([':', '-'], "")),
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": ACCOUNT, "eventCategory": "Management"
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
    base
}

pub fn event(value: &Value) -> Event {
    Event::from_json(value.to_string(), Origin::new("fixture.json", 0)).unwrap()
}

pub fn at(time: &str) -> Timestamp {
    Timestamp::parse(time).unwrap()
}

/// Runs events through a detector, advancing to each event's time, then to the end.
pub fn run(detector: &mut dyn Detector, records: &[Value]) -> Vec<Alert> {
    let mut out = Vec::new();
    for r in records {
        let e = event(r);
        if detector
            .interest()
            .event_names
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == e.event_name()))
        {
            detector.observe(&e, &mut out);
        }
        detector.advance(e.event_time(), &mut out);
    }
    detector.advance(Timestamp::MAX, &mut out);
    out
}
