//! Traps: canary identities and honeypot resources of every kind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod families_common;

use families_common::*;
use serde_json::json;
use trailhound_core::Severity;
use trailhound_detect::trap::{TrapConfig, TrapKind, TrapsConfig};

fn trap(name: &str, kind: TrapKind, value: &str) -> TrapConfig {
    TrapConfig {
        name: name.into(),
        kind,
        value: value.into(),
        severity: None,
    }
}

fn detector() -> trailhound_detect::trap::TrapDetector {
    TrapsConfig {
        traps: vec![
            trap("backup-admin-user", TrapKind::IamUser, "svc-backup-admin"),
            trap(
                "break-glass-role",
                TrapKind::Role,
                "arn:aws:iam::123456789012:role/BreakGlassAdmin",
            ),
            trap("ci-deploy-key", TrapKind::AccessKey, "AKIAI44QH8DHBEXAMPLE"),
            trap("finance-session", TrapKind::RoleSession, "finance-export-*"),
            trap(
                "payroll-table",
                TrapKind::DynamodbTable,
                "payroll-2019-archive",
            ),
            trap("backup-bucket", TrapKind::S3Bucket, "corp-db-backups-old"),
            trap(
                "keys-prefix",
                TrapKind::S3Prefix,
                "app-assets-prod/credentials/",
            ),
            trap(
                "prod-db-secret",
                TrapKind::Secret,
                "prod/db/master-password",
            ),
            trap(
                "ssm-root-token",
                TrapKind::SsmParameter,
                "/prod/root-api-token",
            ),
            trap("legacy-key", TrapKind::KmsKey, "alias/legacy-payments"),
            trap(
                "legacy-key-id",
                TrapKind::KmsKey,
                "0987dcba-09fe-87dc-65ba-ab0987654321",
            ),
            trap(
                "admin-fn",
                TrapKind::LambdaFunction,
                "rotate-admin-credentials",
            ),
        ],
    }
    .build()
    .unwrap()
}

fn hits(r: serde_json::Value) -> Vec<(String, String)> {
    let mut d = detector();
    run(&mut d, &[r])
        .into_iter()
        .map(|a| {
            (
                a.rule.id.clone(),
                a.context["trap"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const T: &str = "2026-03-02T10:00:00Z";

#[test]
fn canary_user_any_call_including_denied() {
    let r = record(
        T,
        "sts.amazonaws.com",
        "GetCallerIdentity",
        user("svc-backup-admin"),
        json!({}),
    );
    assert_eq!(hits(r), vec![("TH2201".into(), "backup-admin-user".into())]);
    let denied = record(
        T,
        "iam.amazonaws.com",
        "ListUsers",
        user("svc-backup-admin"),
        json!({"errorCode": "AccessDenied",
        "errorMessage": "User: arn:aws:iam::123456789012:user/svc-backup-admin is not authorized to perform: iam:ListUsers"}),
    );
    let mut d = detector();
    let alerts = run(&mut d, &[denied]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, Severity::Critical);
    assert!(
        alerts[0].title.contains("failed: AccessDenied"),
        "{}",
        alerts[0].title
    );
    assert!(alerts[0].title.contains("backup-admin-user"));
    insta::assert_json_snapshot!("canary_alert", alerts[0]);
}

#[test]
fn canary_console_login_success_and_failure() {
    for outcome in ["Success", "Failure"] {
        let mut extra = json!({"eventType": "AwsConsoleSignIn", "responseElements": {"ConsoleLogin": outcome},
            "additionalEventData": {"MFAUsed": "No"}});
        if outcome == "Failure" {
            extra["errorMessage"] = json!("Failed authentication");
        }
        let r = record(
            T,
            "signin.amazonaws.com",
            "ConsoleLogin",
            user("svc-backup-admin"),
            extra,
        );
        assert_eq!(hits(r).len(), 1, "{outcome}");
    }
}

#[test]
fn canary_role_key_and_session() {
    assert_eq!(
        hits(record(
            T,
            "s3.amazonaws.com",
            "ListBuckets",
            role("BreakGlassAdmin", "x"),
            json!({})
        ))
        .len(),
        1
    );
    // an attempt to assume the canary role
    let assume = record(
        T,
        "sts.amazonaws.com",
        "AssumeRole",
        user("alice"),
        json!({"errorCode": "AccessDenied",
        "requestParameters": {"roleArn": "arn:aws:iam::123456789012:role/BreakGlassAdmin", "roleSessionName": "x"}}),
    );
    assert_eq!(
        hits(assume),
        vec![("TH2201".into(), "break-glass-role".into())]
    );
    let mut key_user = user("deploy");
    key_user["accessKeyId"] = json!("AKIAI44QH8DHBEXAMPLE");
    assert_eq!(
        hits(record(
            T,
            "ec2.amazonaws.com",
            "DescribeRegions",
            key_user,
            json!({})
        )),
        vec![("TH2201".into(), "ci-deploy-key".into())]
    );
    let info = record(
        T,
        "sts.amazonaws.com",
        "GetAccessKeyInfo",
        user("alice"),
        json!({"requestParameters": {"accessKeyId": "AKIAI44QH8DHBEXAMPLE"}}),
    );
    assert_eq!(hits(info).len(), 1);
    assert_eq!(
        hits(record(
            T,
            "s3.amazonaws.com",
            "ListBuckets",
            role("DataRole", "finance-export-7"),
            json!({})
        ))
        .len(),
        1
    );
    // not a canary
    assert!(
        hits(record(
            T,
            "s3.amazonaws.com",
            "ListBuckets",
            role("DataRole", "nightly"),
            json!({})
        ))
        .is_empty()
    );
}

#[test]
fn honeypot_each_resource_type() {
    let cases = vec![
        (
            "payroll-table",
            record(
                T,
                "dynamodb.amazonaws.com",
                "Scan",
                user("alice"),
                json!({"requestParameters": {"tableName": "payroll-2019-archive"}}),
            ),
        ),
        (
            "payroll-table",
            record(
                T,
                "dynamodb.amazonaws.com",
                "BatchGetItem",
                user("alice"),
                json!({"requestParameters": {"requestItems": {"payroll-2019-archive": {"keys": []}}}}),
            ),
        ),
        (
            "payroll-table",
            record(
                T,
                "dynamodb.amazonaws.com",
                "DescribeTable",
                user("alice"),
                json!({"resources": [{"ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/payroll-2019-archive", "type": "AWS::DynamoDB::Table"}]}),
            ),
        ),
        (
            "payroll-table",
            record(
                T,
                "dynamodb.amazonaws.com",
                "ExportTableToPointInTime",
                user("alice"),
                json!({"requestParameters": {"tableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/payroll-2019-archive", "s3Bucket": "exfil-bucket"}}),
            ),
        ),
        (
            "backup-bucket",
            record(
                T,
                "s3.amazonaws.com",
                "GetObject",
                user("alice"),
                json!({"requestParameters": {"bucketName": "corp-db-backups-old", "key": "dump.sql.gz"}}),
            ),
        ),
        (
            "keys-prefix",
            record(
                T,
                "s3.amazonaws.com",
                "GetObject",
                user("alice"),
                json!({"requestParameters": {"bucketName": "app-assets-prod", "key": "credentials/aws.csv"}}),
            ),
        ),
        (
            "keys-prefix",
            record(
                T,
                "s3.amazonaws.com",
                "ListObjects",
                user("alice"),
                json!({"requestParameters": {"bucketName": "app-assets-prod", "prefix": "credentials/"}}),
            ),
        ),
        (
            "prod-db-secret",
            record(
                T,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                user("alice"),
                json!({"requestParameters": {"secretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db/master-password-AbCdEf"}}),
            ),
        ),
        (
            "ssm-root-token",
            record(
                T,
                "ssm.amazonaws.com",
                "GetParameter",
                user("alice"),
                json!({"requestParameters": {"name": "/prod/root-api-token", "withDecryption": true}}),
            ),
        ),
        (
            "ssm-root-token",
            record(
                T,
                "ssm.amazonaws.com",
                "GetParameters",
                user("alice"),
                json!({"requestParameters": {"names": ["/prod/other", "prod/root-api-token"]}}),
            ),
        ),
        (
            "legacy-key",
            record(
                T,
                "kms.amazonaws.com",
                "DescribeKey",
                user("alice"),
                json!({"requestParameters": {"keyId": "alias/legacy-payments"}}),
            ),
        ),
        (
            "legacy-key-id",
            record(
                T,
                "kms.amazonaws.com",
                "Decrypt",
                user("alice"),
                json!({"errorCode": "AccessDenied",
            "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:us-east-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321"}]}),
            ),
        ),
        (
            "admin-fn",
            record(
                T,
                "lambda.amazonaws.com",
                "Invoke",
                user("alice"),
                json!({"requestParameters": {"functionName": "arn:aws:lambda:us-east-1:123456789012:function:rotate-admin-credentials:$LATEST"}}),
            ),
        ),
        (
            "admin-fn",
            record(
                T,
                "lambda.amazonaws.com",
                "GetFunction20150331v2",
                user("alice"),
                json!({"requestParameters": {"functionName": "rotate-admin-credentials"}}),
            ),
        ),
    ];
    for (want, r) in cases {
        let got = hits(r.clone());
        assert_eq!(got, vec![("TH2202".to_owned(), want.to_owned())], "{r}");
    }
}

#[test]
fn honeypot_near_misses_do_not_alert() {
    for r in [
        record(
            T,
            "dynamodb.amazonaws.com",
            "Scan",
            user("alice"),
            json!({"requestParameters": {"tableName": "payroll-2020"}}),
        ),
        record(
            T,
            "s3.amazonaws.com",
            "GetObject",
            user("alice"),
            json!({"requestParameters": {"bucketName": "app-assets-prod", "key": "img/logo.png"}}),
        ),
        record(
            T,
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            user("alice"),
            json!({"requestParameters": {"secretId": "prod/db/reader"}}),
        ),
        record(
            T,
            "kms.amazonaws.com",
            "Decrypt",
            user("alice"),
            json!({"resources": [{"ARN": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}),
        ),
        // the bucket name in another service's parameters is not an S3 call
        record(
            T,
            "cloudtrail.amazonaws.com",
            "CreateTrail",
            user("alice"),
            json!({"requestParameters": {"s3BucketName": "corp-db-backups-old"}}),
        ),
    ] {
        assert!(hits(r.clone()).is_empty(), "{r}");
    }
}

#[test]
fn bad_trap_config_is_refused() {
    assert!(
        TrapsConfig {
            traps: vec![trap("p", TrapKind::S3Prefix, "no-slash")]
        }
        .build()
        .is_err()
    );
    assert!(
        TrapsConfig {
            traps: vec![trap("e", TrapKind::IamUser, " ")]
        }
        .build()
        .is_err()
    );
}

#[test]
fn honeypot_names_are_found_in_the_request_and_resources_even_escaped() {
    use trailhound_core::{Event, Origin};
    use trailhound_detect::Detector;
    let observe = |raw: &str| {
        let event = Event::from_json(raw, Origin::new("t", 0)).unwrap();
        let mut out = Vec::new();
        detector().observe(&event, &mut out);
        out.len()
    };
    let head = r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"eventTime":"2026-03-02T10:00:00Z","eventSource":"dynamodb.amazonaws.com","eventName":"Scan","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0","#;
    // In the request, written with an escape that hides the literal from a plain search.
    assert_eq!(
        observe(&format!(
            r#"{head}"requestParameters":{{"tableName":"payroll\u002d2019-archive"}}}}"#
        )),
        1
    );
    // In the resources only.
    assert_eq!(
        observe(&format!(
            r#"{head}"requestParameters":null,"resources":[{{"ARN":"arn:aws:dynamodb:us-east-1:123456789012:table/payroll-2019-archive"}}]}}"#
        )),
        1
    );
    // Elsewhere in the record (an error message), the table is not what the call touched.
    assert_eq!(
        observe(&format!(
            r#"{head}"requestParameters":{{"tableName":"orders"}},"errorMessage":"see payroll-2019-archive"}}"#
        )),
        0
    );
}
