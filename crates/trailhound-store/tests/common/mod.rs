//! Shared test fixtures.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use trailhound_core::{Alert, Event, Origin, RuleKind, RuleRef, Severity};

/// The fixture directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The events of `tests/fixtures/events.jsonl`.
pub fn events() -> Vec<Event> {
    let text = std::fs::read_to_string(fixtures().join("events.jsonl")).unwrap();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Event::from_json(l, Origin::new("events.jsonl", i as u32)).unwrap())
        .collect()
}

/// Two alerts over the fixture events: StopLogging by the deploy role session, and the
/// root user creating a user.
pub fn alerts(events: &[Event]) -> Vec<Alert> {
    let by_name = |name: &str| events.iter().find(|e| e.event_name() == name).unwrap();
    let stop = Alert::for_event(
        RuleRef {
            id: "TH0001".into(),
            name: "cloudtrail-logging-stopped".into(),
            kind: RuleKind::Builtin,
            author: None,
        },
        Severity::High,
        "CloudTrail logging stopped".into(),
        "StopLogging called on trail management-events".into(),
        by_name("StopLogging"),
    );
    let root = Alert::for_event(
        RuleRef {
            id: "TH0002".into(),
            name: "root-user-activity".into(),
            kind: RuleKind::Builtin,
            author: None,
        },
        Severity::Medium,
        "Root user created an IAM user".into(),
        "the root user called CreateUser".into(),
        by_name("CreateUser"),
    );
    vec![stop, root]
}
