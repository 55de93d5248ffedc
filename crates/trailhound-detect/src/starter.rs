//! Three starter native detectors that show the path from records to alerts end to end:
//! CloudTrail logging stopped, root console sign-in, and an EBS snapshot shared outside its
//! account. The built-in pack may supersede them.

use trailhound_core::{Alert, Event, RuleKind, RuleRef, Severity};

use crate::{Detector, Interest, RuleDoc};

/// The three starter detectors, boxed for [`crate::Engine::new`].
#[must_use]
pub fn starter_detectors() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(LoggingStopped),
        Box::new(RootConsoleLogin),
        Box::new(SnapshotShared),
    ]
}

/// The documentation of the starter detectors.
#[must_use]
pub fn starter_docs() -> Vec<RuleDoc> {
    vec![
        LoggingStopped::doc(),
        RootConsoleLogin::doc(),
        SnapshotShared::doc(),
    ]
}

fn rule(id: &str, name: &str) -> RuleRef {
    RuleRef {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: RuleKind::Builtin,
        author: None,
    }
}

fn where_(event: &Event) -> String {
    let account = event.account_id().unwrap_or("unknown account");
    if event.aws_region().is_empty() {
        account.to_owned()
    } else {
        format!("{account}/{}", event.aws_region())
    }
}

fn alert(doc: &RuleDoc, title: String, why: String, event: &Event) -> Alert {
    let mut alert = Alert::for_event(rule(&doc.id, &doc.name), doc.severity, title, why, event);
    alert.attack.clone_from(&doc.attack);
    alert.runbook.clone_from(&doc.runbook);
    alert.references.clone_from(&doc.references);
    alert
}

fn doc(
    (id, name, title): (&str, &str, &str),
    severity: Severity,
    attack: &[&str],
    [description, runbook, reference]: [&str; 3],
) -> RuleDoc {
    RuleDoc {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: RuleKind::Builtin,
        title: title.to_owned(),
        severity,
        attack: attack.iter().map(|s| (*s).to_owned()).collect(),
        description: description.to_owned(),
        why_it_matters: String::new(),
        tuning: String::new(),
        false_positives: Vec::new(),
        runbook: runbook.to_owned(),
        references: vec![reference.to_owned()],
        author: None,
        behaviours: Vec::new(),
    }
}

/// `StopLogging` or `DeleteTrail` that succeeded: CloudTrail logging stopped.
#[derive(Debug, Default)]
pub struct LoggingStopped;

impl LoggingStopped {
    /// Its documentation.
    #[must_use]
    pub fn doc() -> RuleDoc {
        doc(
            (
                "TH0001",
                "cloudtrail-logging-stopped",
                "CloudTrail logging stopped or trail deleted",
            ),
            Severity::High,
            &["T1562.008"],
            [
                "A successful StopLogging or DeleteTrail call on a CloudTrail trail.",
                "Confirm with the principal's owner whether the change was planned. If not: restart \
                 logging (StartLogging) or recreate the trail, revoke the principal's sessions and \
                 keys, and review what it did before and after.",
                "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html",
            ],
        )
    }
}

impl Detector for LoggingStopped {
    fn id(&self) -> &str {
        "TH0001"
    }
    fn interest(&self) -> Interest {
        Interest::event_names(["StopLogging", "DeleteTrail"])
    }
    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        if event.event_source() != "cloudtrail.amazonaws.com" || event.is_error() {
            return;
        }
        let trail = event
            .pointer("requestParameters.name")
            .and_then(serde_json::Value::as_str)
            .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_owned())
            .unwrap_or_else(|| "a trail".to_owned());
        let verb = if event.event_name() == "DeleteTrail" {
            "deleted trail"
        } else {
            "stopped logging on"
        };
        let title = format!(
            "{} {verb} {trail} in {}",
            event.principal_name(),
            where_(event)
        );
        let why = format!(
            "{} succeeded on cloudtrail.amazonaws.com: API activity in this account and region \
             is no longer recorded by that trail",
            event.event_name()
        );
        out.push(alert(&Self::doc(), title, why, event));
    }
}

/// A console sign-in by the account's root user.
#[derive(Debug, Default)]
pub struct RootConsoleLogin;

impl RootConsoleLogin {
    /// Its documentation.
    #[must_use]
    pub fn doc() -> RuleDoc {
        doc(
            (
                "TH0002",
                "root-console-login",
                "Root user signed in to the console",
            ),
            Severity::High,
            &["T1078.004"],
            [
                "A ConsoleLogin event whose identity is the account's root user (successful or not).",
                "Ask the account owner whether they signed in as root. If not: reset the root \
                 password, check the root MFA device, and review every action taken with the root \
                 identity since the sign-in.",
                "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html",
            ],
        )
    }
}

impl Detector for RootConsoleLogin {
    fn id(&self) -> &str {
        "TH0002"
    }
    fn interest(&self) -> Interest {
        Interest::event_names(["ConsoleLogin"])
    }
    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        if event.user_identity().kind != trailhound_core::IdentityType::Root {
            return;
        }
        let outcome = event
            .pointer("responseElements.ConsoleLogin")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(if event.is_error() {
                "Failure"
            } else {
                "Success"
            })
            .to_owned();
        let mfa = event
            .pointer("additionalEventData.MFAUsed")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        let verb = if outcome == "Success" {
            "signed in"
        } else {
            "failed to sign in"
        };
        let title = format!(
            "root {verb} to the console of {} from {}",
            event.account_id().unwrap_or("unknown account"),
            event.source().text
        );
        let why = format!(
            "ConsoleLogin by the root user (outcome {outcome}, MFA used: {mfa}); the root user \
             should not be used for day-to-day access"
        );
        let mut a = alert(&Self::doc(), title, why, event);
        if outcome != "Success" {
            a.severity = Severity::Medium;
        }
        out.push(a);
    }
}

/// `ModifySnapshotAttribute` adding `createVolumePermission` for another account or `all`.
#[derive(Debug, Default)]
pub struct SnapshotShared;

impl SnapshotShared {
    /// Its documentation.
    #[must_use]
    pub fn doc() -> RuleDoc {
        doc(
            (
                "TH0003",
                "ebs-snapshot-shared-externally",
                "EBS snapshot shared outside the account",
            ),
            Severity::High,
            &["T1537"],
            [
                "A successful ModifySnapshotAttribute adding createVolumePermission for another \
                 account, or for the group all (public).",
                "Check whether the receiving account is one of yours. If not: remove the permission \
                 (ModifySnapshotAttribute remove), find what data the snapshot holds, and review the \
                 principal's other actions.",
                "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html",
            ],
        )
    }

    /// The accounts (or `all`) the call adds, excluding the event's own account.
    fn added(event: &Event) -> Vec<String> {
        let own = event.account_id().unwrap_or_default();
        let Some(items) = event
            .pointer("requestParameters.createVolumePermission.add.items")
            .and_then(serde_json::Value::as_array)
        else {
            return Vec::new();
        };
        let mut added = Vec::new();
        for item in items {
            if let Some(user) = item.get("userId").and_then(serde_json::Value::as_str)
                && user != own
            {
                added.push(user.to_owned());
            }
            if item.get("group").and_then(serde_json::Value::as_str) == Some("all") {
                added.push("all".to_owned());
            }
        }
        added
    }
}

impl Detector for SnapshotShared {
    fn id(&self) -> &str {
        "TH0003"
    }
    fn interest(&self) -> Interest {
        Interest::event_names(["ModifySnapshotAttribute"])
    }
    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        if event.is_error() {
            return;
        }
        let added = Self::added(event);
        if added.is_empty() {
            return;
        }
        let snapshot = event
            .pointer("requestParameters.snapshotId")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("a snapshot")
            .to_owned();
        let public = added.iter().any(|a| a == "all");
        let to = if public {
            "everyone (public)".to_owned()
        } else {
            added.join(", ")
        };
        let title = format!(
            "{} shared snapshot {snapshot} with {to} in {}",
            event.principal_name(),
            where_(event)
        );
        let why = format!(
            "ModifySnapshotAttribute added createVolumePermission for {} outside the owning \
             account {}: they can create volumes from it and read its data",
            added.join(", "),
            event.account_id().unwrap_or("unknown")
        );
        let mut a = alert(&Self::doc(), title, why, event);
        if public {
            a.severity = Severity::Critical;
        }
        a.group_key = Some(format!("{snapshot}:{}", added.join(",")));
        a.seal();
        out.push(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;
    use trailhound_core::Origin;

    fn run(raw: &str) -> Vec<Alert> {
        let mut engine = Engine::new(starter_detectors());
        let mut out = Vec::new();
        engine.process(
            &Event::from_json(raw, Origin::new("t", 0)).unwrap(),
            &mut out,
        );
        out
    }

    #[test]
    fn logging_stopped() {
        let raw = r#"{"eventTime":"2026-01-15T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","userName":"alice","arn":"arn:aws:iam::123456789012:user/alice"},"requestParameters":{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/management"},"eventID":"e1"}"#;
        let alerts = run(raw);
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            alerts[0].title,
            "alice stopped logging on management in 123456789012/us-east-1"
        );
        assert_eq!(alerts[0].attack, ["T1562.008"]);
        let failed = raw.replace(r#""eventID""#, r#""errorCode":"AccessDenied","eventID""#);
        assert!(run(&failed).is_empty());
    }

    #[test]
    fn root_login() {
        let raw = r#"{"eventTime":"2026-01-15T10:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","recipientAccountId":"123456789012","userIdentity":{"type":"Root","arn":"arn:aws:iam::123456789012:root"},"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"eventID":"e2"}"#;
        let alerts = run(raw);
        assert_eq!(
            alerts[0].title,
            "root signed in to the console of 123456789012 from 203.0.113.9"
        );
        assert_eq!(alerts[0].severity, Severity::High);
        let user = raw.replace(r#""type":"Root""#, r#""type":"IAMUser""#);
        assert!(run(&user).is_empty());
    }

    #[test]
    fn snapshot_shared() {
        let raw = r#"{"eventTime":"2026-01-15T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"ModifySnapshotAttribute","awsRegion":"us-east-1","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","userName":"bob"},"requestParameters":{"snapshotId":"snap-0123456789abcdef0","attributeType":"CREATE_VOLUME_PERMISSION","createVolumePermission":{"add":{"items":[{"userId":"444455556666"}]}}},"eventID":"e3"}"#;
        let alerts = run(raw);
        assert_eq!(
            alerts[0].title,
            "bob shared snapshot snap-0123456789abcdef0 with 444455556666 in 123456789012/us-east-1"
        );
        let public = raw.replace(r#"{"userId":"444455556666"}"#, r#"{"group":"all"}"#);
        assert_eq!(run(&public)[0].severity, Severity::Critical);
        let own = raw.replace("444455556666", "123456789012");
        assert!(run(&own).is_empty());
    }
}
