//! Our Sigma 2 correlation rules in `rules/correlations/`, which replace the withdrawn
//! aggregation rules of SigmaHQ's `unsupported/cloud` folder (count, near, timeframe).
//!
//! For each: a sequence of CloudTrail records that fires exactly once with the right group key,
//! and sequences that must not fire (below the threshold, outside the timespan, split across
//! groups, or not matching the base rule). Base rules never alert on their own.

// Helpers below fail the calling test by panicking, as assertions do.
#![allow(clippy::panic, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use trailhound_core::{Event, MAX_ALERT_EVENTS, Origin, Timestamp};
use trailhound_sigma::{CorrelationHit, CorrelationType, Evaluator, Hit, RuleSet, SigmaConfig};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/correlations");
const LEGACY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/sigma/unsupported/cloud"
);

const ACCOUNT: &str = "123456789012";
const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const ROLE: &str = "arn:aws:sts::123456789012:assumed-role/WebAppRole/i-0a1b2c3d4e5f67890";
const START: &str = "2026-04-01T10:00:00Z";

/// Compiles one correlation rule file.
fn load(stem: &str) -> Evaluator {
    let path = format!("{RULES}/{stem}.yml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let set = RuleSet::from_texts([(path.as_str(), text.as_str())], &SigmaConfig::default())
        .unwrap_or_else(|e| panic!("{path} does not compile: {e}"));
    assert_eq!(
        set.correlations().len(),
        1,
        "{path}: one correlation expected"
    );
    Evaluator::new(set)
}

/// One API call: when (seconds after [`START`]), by whom, what, and extra record fields.
struct Call {
    at: i64,
    who: &'static str,
    source: &'static str,
    name: &'static str,
    extra: Value,
}

fn call(at: i64, who: &'static str, source: &'static str, name: &'static str) -> Call {
    Call {
        at,
        who,
        source,
        name,
        extra: json!({}),
    }
}

impl Call {
    fn with(mut self, extra: Value) -> Self {
        self.extra = extra;
        self
    }
}

/// A CloudTrail record for a call, with an identity derived from the ARN.
fn record(call: &Call, index: u32) -> Event {
    let start = Timestamp::parse(START).expect("start time");
    let time = start.add_secs(call.at);
    let identity = if call.who.contains(":assumed-role/") {
        json!({"type": "AssumedRole", "principalId": "AROAQGYBPWKEXAMPLE111:i-0a1b2c3d4e5f67890",
               "arn": call.who, "accountId": ACCOUNT, "accessKeyId": "ASIAQGYBPWKEXAMPLE01",
               "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAQGYBPWKEXAMPLE111",
                 "arn": "arn:aws:iam::123456789012:role/WebAppRole", "accountId": ACCOUNT,
                 "userName": "WebAppRole"},
               "attributes": {"creationDate": "2026-04-01T09:00:00Z", "mfaAuthenticated": "false"}}})
    } else {
        let name = call.who.rsplit('/').next().unwrap_or_default();
        json!({"type": "IAMUser", "principalId": "AIDACKCEVSQ6C2EXAMPLE", "arn": call.who,
               "accountId": ACCOUNT, "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": name})
    };
    let mut record = json!({
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": time.to_string(),
        "eventSource": call.source,
        "eventName": call.name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.24",
        "userAgent": "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0",
        "requestParameters": null,
        "responseElements": null,
        "requestID": format!("5f0c1d2e-0000-4000-8000-{index:012}"),
        "eventID": format!("9a8b7c6d-0000-4000-8000-{index:012}"),
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    });
    if let (Some(base), Some(extra)) = (record.as_object_mut(), call.extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    Event::from_json(
        record.to_string(),
        Origin::new("tests/correlations.rs", index),
    )
    .expect("a valid record")
}

/// Runs the calls in order, then closes every window; returns the correlation hits. Base rules
/// must not alert on their own.
fn run(stem: &str, calls: &[Call]) -> Vec<CorrelationHit> {
    let mut evaluator = load(stem);
    let mut hits = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        evaluator.observe(&record(call, u32::try_from(i).expect("index")), &mut hits);
    }
    evaluator.advance(Timestamp::MAX, &mut hits);
    hits.into_iter()
        .map(|hit| match hit {
            Hit::Correlation(c) => c,
            Hit::Rule { rule, .. } => {
                panic!("{stem}: base rule {} alerted on its own", rule.doc.title)
            }
        })
        .collect()
}

/// Asserts exactly one hit, with this group key and this many contributing events.
fn assert_fires_once(stem: &str, hits: &[CorrelationHit], group_key: &str, count: u64) {
    assert_eq!(
        hits.len(),
        1,
        "{stem}: expected exactly one correlation hit, got {}",
        hits.len()
    );
    let hit = &hits[0];
    assert_eq!(hit.group_key, group_key, "{stem}: group key");
    assert_eq!(hit.count, count, "{stem}: contributing events");
    let sample = usize::try_from(count).expect("count").min(MAX_ALERT_EVENTS);
    assert_eq!(
        hit.events.len(),
        sample,
        "{stem}: the hit carries a sample of its events"
    );
    assert!(
        hit.first_seen <= hit.last_seen,
        "{stem}: first_seen after last_seen"
    );
}

fn assert_silent(stem: &str, what: &str, hits: &[CorrelationHit]) {
    assert!(
        hits.is_empty(),
        "{stem}: {what} should not fire, got {:?}",
        hits.iter().map(|h| &h.group_key).collect::<Vec<_>>()
    );
}

/// `n` calls, `every` seconds apart, built by `make(at)`.
fn series(n: i64, every: i64, make: impl Fn(i64) -> Call) -> Vec<Call> {
    (0..n).map(|i| make(i * every)).collect()
}

// --- the set of rewrites --------------------------------------------------------------------

/// Every legacy aggregation rule has a rewrite of the same file name, with its own identity.
#[test]
fn every_legacy_aggregation_rule_has_a_rewrite() {
    let legacy = Path::new(LEGACY);
    assert!(
        legacy.is_dir(),
        "the shared Sigma corpus is missing: expected the legacy rules at {LEGACY} \
         (clone the repository with shared/ beside it)"
    );
    let stems = |dir: &Path| -> BTreeSet<String> {
        fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yml"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .filter(|s| s.starts_with("aws_"))
            .collect()
    };
    let wanted = stems(legacy);
    let have = stems(Path::new(RULES));
    assert_eq!(wanted.len(), 8, "the legacy folder should hold 8 AWS rules");
    assert_eq!(
        have, wanted,
        "rules/correlations must hold one rewrite per legacy rule"
    );
    for stem in &wanted {
        let legacy_text =
            fs::read_to_string(legacy.join(format!("{stem}.yml"))).expect("legacy rule");
        let evaluator = load(stem);
        let set = evaluator.rule_set();
        for rule in set.rules() {
            assert_eq!(
                rule.doc.author.as_deref(),
                Some("trailhound"),
                "{stem}: base rule author"
            );
            assert!(
                !legacy_text.contains(&rule.doc.id),
                "{stem}: base rule reuses a legacy id"
            );
            assert!(
                rule.doc.name.is_some(),
                "{stem}: base rules need a name to be referenced"
            );
        }
        let correlation = &set.correlations()[0];
        assert_eq!(
            correlation.doc.author.as_deref(),
            Some("trailhound"),
            "{stem}: author"
        );
        assert!(
            !legacy_text.contains(&correlation.doc.id),
            "{stem}: reuses the legacy id"
        );
        assert!(
            !correlation.group_by.is_empty(),
            "{stem}: correlations group by an entity"
        );
        assert!(correlation.timespan_ms > 0, "{stem}: timespan");
    }
}

// --- aws_ec2_download_userdata ------------------------------------------------------------

fn user_data_read(at: i64, who: &'static str, attribute: &str) -> Call {
    call(at, who, "ec2.amazonaws.com", "DescribeInstanceAttribute").with(json!({
        "requestParameters": {"instanceId": format!("i-0{at:016x}"), "attribute": attribute}
    }))
}

#[test]
fn ec2_user_data_bulk_read() {
    let stem = "aws_ec2_download_userdata";
    let evaluator = load(stem);
    assert_eq!(
        evaluator.rule_set().correlations()[0].kind,
        CorrelationType::EventCount
    );

    // Eleven reads by one role within eleven minutes: more than ten in 30m.
    let hits = run(
        stem,
        &series(11, 60, |at| user_data_read(at, ROLE, "userData")),
    );
    assert_fires_once(stem, &hits, &format!("userIdentity.arn={ROLE}"), 11);

    // Ten reads is the threshold, not above it.
    assert_silent(
        stem,
        "ten reads",
        &run(
            stem,
            &series(10, 60, |at| user_data_read(at, ROLE, "userData")),
        ),
    );
    // Eleven reads four minutes apart span 40 minutes: no 30-minute window holds more than 8.
    assert_silent(
        stem,
        "reads spread over 40m",
        &run(
            stem,
            &series(11, 240, |at| user_data_read(at, ROLE, "userData")),
        ),
    );
    // Eleven reads split between two principals.
    let split = series(11, 30, |at| {
        user_data_read(at, if at % 60 == 0 { ALICE } else { BOB }, "userData")
    });
    assert_silent(stem, "reads split between principals", &run(stem, &split));
    // Reading another attribute is not a user data read.
    assert_silent(
        stem,
        "instanceType reads",
        &run(
            stem,
            &series(12, 30, |at| user_data_read(at, ROLE, "instanceType")),
        ),
    );
}

// --- aws_enum_backup ------------------------------------------------------------------------

const BACKUP_CALLS: &[(&str, &str)] = &[
    ("ec2.amazonaws.com", "DescribeVolumes"),
    ("ec2.amazonaws.com", "DescribeSnapshotAttribute"),
    ("ec2.amazonaws.com", "GetEbsEncryptionByDefault"),
    ("ec2.amazonaws.com", "GetEbsDefaultKmsKeyId"),
    ("s3.amazonaws.com", "GetBucketReplication"),
    ("ec2.amazonaws.com", "DescribeImages"),
    ("ec2.amazonaws.com", "GetPasswordData"),
];

fn backup_call(at: i64, who: &'static str) -> Call {
    let (source, name) = BACKUP_CALLS[usize::try_from(at / 60).unwrap_or(0) % BACKUP_CALLS.len()];
    call(at, who, source, name)
}

#[test]
fn backup_discovery_burst() {
    let stem = "aws_enum_backup";
    let hits = run(stem, &series(6, 60, |at| backup_call(at, ALICE)));
    assert_fires_once(stem, &hits, &format!("userIdentity.arn={ALICE}"), 6);

    assert_silent(
        stem,
        "five calls",
        &run(stem, &series(5, 60, |at| backup_call(at, ALICE))),
    );
    // Six calls three minutes apart: at most four in any ten minutes.
    assert_silent(
        stem,
        "calls spread over 15m",
        &run(stem, &series(6, 180, |at| backup_call(at, ALICE))),
    );
    let split = series(6, 60, |at| {
        backup_call(at, if at % 120 == 0 { ALICE } else { BOB })
    });
    assert_silent(stem, "calls split between principals", &run(stem, &split));
    // DescribeInstances is not in the list.
    let other = series(8, 30, |at| {
        call(at, ALICE, "ec2.amazonaws.com", "DescribeInstances")
    });
    assert_silent(stem, "unrelated describes", &run(stem, &other));
}

// --- aws_enum_listing -----------------------------------------------------------------------

const LIST_CALLS: &[(&str, &str)] = &[
    ("iam.amazonaws.com", "ListUsers"),
    ("iam.amazonaws.com", "ListRoles"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("lambda.amazonaws.com", "ListFunctions20150331"),
    ("secretsmanager.amazonaws.com", "ListSecrets"),
    ("dynamodb.amazonaws.com", "ListTables"),
];

fn list_call(at: i64, who: &'static str) -> Call {
    let (source, name) = LIST_CALLS[usize::try_from(at / 10).unwrap_or(0) % LIST_CALLS.len()];
    call(at, who, source, name)
}

#[test]
fn list_api_burst() {
    let stem = "aws_enum_listing";
    // 51 List calls ten seconds apart: 8.5 minutes.
    let hits = run(stem, &series(51, 10, |at| list_call(at, ROLE)));
    assert_fires_once(stem, &hits, &format!("userIdentity.arn={ROLE}"), 51);

    assert_silent(
        stem,
        "fifty calls",
        &run(stem, &series(50, 10, |at| list_call(at, ROLE))),
    );
    // 51 calls 15 seconds apart span 12.5 minutes: at most 41 in ten minutes.
    assert_silent(
        stem,
        "calls spread over 12.5m",
        &run(stem, &series(51, 15, |at| list_call(at, ROLE))),
    );
    let describes = series(60, 5, |at| {
        call(at, ROLE, "ec2.amazonaws.com", "DescribeInstances")
    });
    assert_silent(stem, "describe calls", &run(stem, &describes));
}

// --- aws_enum_network -----------------------------------------------------------------------

const NETWORK_CALLS: &[&str] = &[
    "DescribeCarrierGateways",
    "DescribeVpcEndpointConnectionNotifications",
    "DescribeTransitGatewayMulticastDomains",
    "DescribeClientVpnRoutes",
    "DescribeDhcpOptions",
    "GetTransitGatewayRouteTableAssociations",
];

fn network_call(at: i64, who: &'static str) -> Call {
    let name = NETWORK_CALLS[usize::try_from(at / 30).unwrap_or(0) % NETWORK_CALLS.len()];
    call(at, who, "ec2.amazonaws.com", name)
}

#[test]
fn network_discovery_burst() {
    let stem = "aws_enum_network";
    let hits = run(stem, &series(6, 30, |at| network_call(at, BOB)));
    assert_fires_once(stem, &hits, &format!("userIdentity.arn={BOB}"), 6);

    assert_silent(
        stem,
        "five calls",
        &run(stem, &series(5, 30, |at| network_call(at, BOB))),
    );
    let split = series(6, 30, |at| {
        network_call(at, if at % 60 == 0 { ALICE } else { BOB })
    });
    assert_silent(stem, "calls split between principals", &run(stem, &split));
    assert_silent(
        stem,
        "calls spread over 25m",
        &run(stem, &series(6, 300, |at| network_call(at, BOB))),
    );
}

// --- aws_enum_storage -----------------------------------------------------------------------

const STORAGE_CALLS: &[&str] = &[
    "ListBuckets",
    "GetBucketPolicy",
    "GetBucketPublicAccessBlock",
    "GetBucketTagging",
    "GetBucketCors",
    "GetBucketInventoryConfiguration",
    "GetBucketMetricsConfiguration",
];

fn storage_call(at: i64, who: &'static str) -> Call {
    let name = STORAGE_CALLS[usize::try_from(at / 20).unwrap_or(0) % STORAGE_CALLS.len()];
    call(at, who, "s3.amazonaws.com", name).with(json!({
        "requestParameters": {"bucketName": "payroll-exports-123456789012",
                              "Host": "payroll-exports-123456789012.s3.us-east-1.amazonaws.com"}
    }))
}

#[test]
fn bucket_discovery_burst() {
    let stem = "aws_enum_storage";
    // Seven calls: the sixth fires and closes the group; the seventh alone does not fire again.
    let hits = run(stem, &series(7, 20, |at| storage_call(at, ROLE)));
    assert_fires_once(stem, &hits, &format!("userIdentity.arn={ROLE}"), 6);

    assert_silent(
        stem,
        "five calls",
        &run(stem, &series(5, 20, |at| storage_call(at, ROLE))),
    );
    // Six calls every five minutes: at most three in ten minutes.
    assert_silent(
        stem,
        "calls spread over 25m",
        &run(stem, &series(6, 300, |at| storage_call(at, ROLE))),
    );
    let reads = series(10, 10, |at| call(at, ROLE, "s3.amazonaws.com", "GetObject"));
    assert_silent(stem, "object reads", &run(stem, &reads));
}

// --- aws_lambda_function_created_or_invoked -------------------------------------------------

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:ops-helper";
const OTHER_FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:billing-export";

fn create_function(at: i64, who: &'static str, arn: &str) -> Call {
    let name = arn.rsplit(':').next().unwrap_or_default();
    call(at, who, "lambda.amazonaws.com", "CreateFunction20150331").with(json!({
        "requestParameters": {"functionName": name, "runtime": "python3.12", "handler": "app.handler",
                              "role": "arn:aws:iam::123456789012:role/OrganizationAdminLambda",
                              "code": {}, "publish": true},
        "responseElements": {"functionName": name, "functionArn": arn, "runtime": "python3.12",
                             "role": "arn:aws:iam::123456789012:role/OrganizationAdminLambda",
                             "state": "Pending"},
        "readOnly": false
    }))
}

fn invoke_function(at: i64, who: &'static str, arn: &str) -> Call {
    call(at, who, "lambda.amazonaws.com", "Invoke").with(json!({
        "requestParameters": {"functionName": arn, "invocationType": "RequestResponse"},
        "resources": [{"accountId": ACCOUNT, "type": "AWS::Lambda::Function", "ARN": arn}],
        "managementEvent": false,
        "eventCategory": "Data",
        "readOnly": false
    }))
}

#[test]
fn lambda_create_then_invoke() {
    let stem = "aws_lambda_function_created_or_invoked";
    let calls = [
        create_function(0, BOB, FUNCTION),
        invoke_function(90, BOB, FUNCTION),
    ];
    let hits = run(stem, &calls);
    assert_fires_once(
        stem,
        &hits,
        &format!("function={FUNCTION}, userIdentity.arn={BOB}"),
        2,
    );

    let reversed = [
        invoke_function(0, BOB, FUNCTION),
        create_function(60, BOB, FUNCTION),
    ];
    assert_silent(stem, "invoke before create", &run(stem, &reversed));
    let other = [
        create_function(0, BOB, FUNCTION),
        invoke_function(60, BOB, OTHER_FUNCTION),
    ];
    assert_silent(stem, "another function invoked", &run(stem, &other));
    let someone_else = [
        create_function(0, BOB, FUNCTION),
        invoke_function(60, ALICE, FUNCTION),
    ];
    assert_silent(stem, "another principal invokes", &run(stem, &someone_else));
    let late = [
        create_function(0, BOB, FUNCTION),
        invoke_function(2 * 3600, BOB, FUNCTION),
    ];
    assert_silent(stem, "invoke two hours later", &run(stem, &late));
}

// --- aws_macic_evasion ----------------------------------------------------------------------

const MACIE_CALLS: &[&str] = &[
    "ArchiveFindings",
    "CreateFindingsFilter",
    "UpdateFindingsFilter",
    "UpdateClassificationJob",
    "DisassociateMember",
    "UpdateMacieSession",
];

fn macie_call(at: i64, ip: &str) -> Call {
    let name = MACIE_CALLS[usize::try_from(at / 45).unwrap_or(0) % MACIE_CALLS.len()];
    call(at, ALICE, "macie2.amazonaws.com", name)
        .with(json!({"sourceIPAddress": ip, "readOnly": false}))
}

#[test]
fn macie_weakening_burst() {
    let stem = "aws_macic_evasion";
    let hits = run(stem, &series(6, 45, |at| macie_call(at, "203.0.113.9")));
    assert_fires_once(stem, &hits, "sourceIPAddress=203.0.113.9", 6);

    assert_silent(
        stem,
        "five calls",
        &run(stem, &series(5, 45, |at| macie_call(at, "203.0.113.9"))),
    );
    let split = series(6, 45, |at| {
        macie_call(
            at,
            if at % 90 == 0 {
                "203.0.113.9"
            } else {
                "198.51.100.7"
            },
        )
    });
    assert_silent(stem, "calls from two addresses", &run(stem, &split));
    // GuardDuty has an ArchiveFindings call too: not a Macie change.
    let guardduty = series(8, 30, |at| {
        call(at, ALICE, "guardduty.amazonaws.com", "ArchiveFindings")
    });
    assert_silent(stem, "GuardDuty archiving findings", &run(stem, &guardduty));
}

// --- aws_ses_messaging_enabled --------------------------------------------------------------

fn sending_enabled(at: i64, region: &str, enabled: bool) -> Call {
    call(
        at,
        ALICE,
        "ses.amazonaws.com",
        "UpdateAccountSendingEnabled",
    )
    .with(json!({
        "awsRegion": region, "requestParameters": {"enabled": enabled}, "readOnly": false
    }))
}

fn verify_identity(at: i64, region: &str) -> Call {
    call(at, ALICE, "ses.amazonaws.com", "VerifyEmailIdentity").with(json!({
        "awsRegion": region, "requestParameters": {"emailAddress": "billing@example.com"}, "readOnly": false
    }))
}

#[test]
fn ses_sending_enabled_then_identity_verified() {
    let stem = "aws_ses_messaging_enabled";
    let calls = [
        sending_enabled(0, "us-east-1", true),
        verify_identity(120, "us-east-1"),
    ];
    let hits = run(stem, &calls);
    assert_fires_once(
        stem,
        &hits,
        &format!("awsRegion=us-east-1, recipientAccountId={ACCOUNT}"),
        2,
    );

    // Either order counts (temporal, not ordered).
    let reversed = [
        verify_identity(0, "eu-west-1"),
        sending_enabled(60, "eu-west-1", true),
    ];
    assert_fires_once(
        stem,
        &run(stem, &reversed),
        &format!("awsRegion=eu-west-1, recipientAccountId={ACCOUNT}"),
        2,
    );

    let late = [
        sending_enabled(0, "us-east-1", true),
        verify_identity(600, "us-east-1"),
    ];
    assert_silent(stem, "ten minutes apart", &run(stem, &late));
    let regions = [
        sending_enabled(0, "us-east-1", true),
        verify_identity(60, "eu-west-1"),
    ];
    assert_silent(stem, "different regions", &run(stem, &regions));
    let disabled = [
        sending_enabled(0, "us-east-1", false),
        verify_identity(60, "us-east-1"),
    ];
    assert_silent(stem, "sending disabled", &run(stem, &disabled));
}
