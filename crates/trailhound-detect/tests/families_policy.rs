//! Workload allow-policies: the seed document's KMS and DynamoDB cases, and learning.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod families_common;

use families_common::*;
use serde_json::json;
use trailhound_core::Severity;
use trailhound_detect::policy::{AllowRule, PolicyConfig, build, learn};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const T: &str = "2026-03-02T10:00:00Z";

fn allow(principals: &[&str], actions: &[&str]) -> AllowRule {
    AllowRule {
        principals: principals.iter().map(|s| (*s).to_owned()).collect(),
        actions: actions.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn kms_policy() -> PolicyConfig {
    PolicyConfig {
        name: "payments-key-decrypt-only-by-lambda".into(),
        event_source: Some("kms.amazonaws.com".into()),
        resource: KEY_ARN.into(),
        severity: None,
        ignore_aws_services: true,
        allow: vec![allow(
            &["arn:aws:iam::123456789012:role/decrypt-payments-fn-role"],
            &["Decrypt"],
        )],
    }
}

fn table_policy() -> PolicyConfig {
    PolicyConfig {
        name: "important-table".into(),
        event_source: Some("dynamodb.amazonaws.com".into()),
        resource: "SomeImportantDynamoDBTable".into(),
        severity: Some(Severity::High),
        ignore_aws_services: true,
        allow: vec![
            allow(
                &[
                    "arn:aws:sts::123456789012:assumed-role/MyStepReadingFunction/step-functions-express-*",
                    "arn:aws:sts::123456789012:assumed-role/MyLambdaRole/MyLambda",
                ],
                &["Query"],
            ),
            allow(
                &[
                    "arn:aws:sts::123456789012:assumed-role/MyStepWritingFunction/step-functions-express-*",
                ],
                &["PutItem"],
            ),
            allow(
                &["arn:aws:sts::123456789012:assumed-role/MyLambdaRole/MyLambda"],
                &["DeleteItem"],
            ),
        ],
    }
}

fn decrypt(identity: serde_json::Value) -> serde_json::Value {
    record(
        T,
        "kms.amazonaws.com",
        "Decrypt",
        identity,
        json!({
        "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY_ARN}]}),
    )
}

#[test]
fn kms_decrypt_only_by_one_lambda_role() {
    let mut d = kms_policy().build().unwrap();
    assert!(
        run(
            &mut d,
            &[decrypt(role(
                "decrypt-payments-fn-role",
                "decrypt-payments-fn"
            ))]
        )
        .is_empty()
    );
    let alerts = run(&mut d, &[decrypt(role("AdminRole", "alice"))]);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.rule.kind.as_str(), "policy");
    assert!(a.why.contains("allows Decrypt"), "{}", a.why);
    insta::assert_json_snapshot!("policy_alert", a);
    // root is not exempt; other operations on the key alert too
    let root = json!({"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": ACCOUNT, "principalId": ACCOUNT});
    assert_eq!(run(&mut d, &[decrypt(root)]).len(), 1);
    let disable = record(
        T,
        "kms.amazonaws.com",
        "DisableKey",
        role("decrypt-payments-fn-role", "decrypt-payments-fn"),
        json!({"requestParameters": {"keyId": KEY_ARN}}),
    );
    let alerts = run(&mut d, &[disable]);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].why.contains("no rule of policy"),
        "{}",
        alerts[0].why
    );
    // an AWS service decrypting on a principal's behalf is skipped
    let mut via_service = role("AdminRole", "alice");
    via_service["invokedBy"] = json!("dynamodb.amazonaws.com");
    assert!(run(&mut d, &[decrypt(via_service)]).is_empty());
    // another key is not this policy's business
    let other = record(
        T,
        "kms.amazonaws.com",
        "Decrypt",
        role("AdminRole", "alice"),
        json!({"resources": [{"ARN": "arn:aws:kms:us-east-1:123456789012:key/0000"}]}),
    );
    assert!(run(&mut d, &[other]).is_empty());
}

#[test]
fn dynamodb_table_rules_per_action() {
    let mut d = build(&[table_policy(), kms_policy()]).unwrap();
    let call = |name: &str, identity| {
        record(
            T,
            "dynamodb.amazonaws.com",
            name,
            identity,
            json!({"requestParameters": {"tableName": "SomeImportantDynamoDBTable"}}),
        )
    };
    let allowed = [
        call(
            "Query",
            role("MyStepReadingFunction", "step-functions-express-1"),
        ),
        call("Query", role("MyLambdaRole", "MyLambda")),
        call(
            "PutItem",
            role("MyStepWritingFunction", "step-functions-express-2"),
        ),
        call("DeleteItem", role("MyLambdaRole", "MyLambda")),
    ];
    for r in &allowed {
        assert!(run(&mut d, std::slice::from_ref(r)).is_empty(), "{r}");
    }
    let denied = [
        ("Query", role("AdminRole", "mallory")),
        ("PutItem", role("MyLambdaRole", "MyLambda")),
        (
            "DeleteItem",
            role("MyStepWritingFunction", "step-functions-express-2"),
        ),
        (
            "Scan",
            role("MyStepReadingFunction", "step-functions-express-1"),
        ),
        ("DeleteTable", role("AdminRole", "mallory")),
    ];
    for (name, identity) in denied {
        let alerts = run(&mut d, &[call(name, identity)]);
        assert_eq!(alerts.len(), 1, "{name}");
        assert!(alerts[0].title.contains(name));
    }
    // an ARN in tableName names the same table only when the policy's pattern matches it
    let by_arn = record(
        T,
        "dynamodb.amazonaws.com",
        "Scan",
        role("AdminRole", "m"),
        json!({"requestParameters": {"tableName": "arn:aws:dynamodb:us-east-1:123456789012:table/SomeImportantDynamoDBTable"}}),
    );
    let policy = PolicyConfig {
        resource: "*:table/SomeImportantDynamoDBTable".into(),
        ..table_policy()
    };
    assert_eq!(run(&mut policy.build().unwrap(), &[by_arn]).len(), 1);
}

#[test]
fn learn_proposes_policies_from_history() {
    let mut events = Vec::new();
    for (i, (name, who)) in [
        ("Query", "MyStepReadingFunction"),
        ("Query", "MyLambdaRole"),
        ("DeleteItem", "MyLambdaRole"),
        ("PutItem", "MyStepWritingFunction"),
    ]
    .iter()
    .enumerate()
    {
        let time = format!("2026-03-0{}T10:00:00Z", i + 2);
        events.push(event(&record(
            &time,
            "dynamodb.amazonaws.com",
            name,
            role(who, &format!("s{i}")),
            json!({"requestParameters": {"tableName": "orders"}}),
        )));
    }
    // too old for a 7-day window
    events.push(event(&record(
        "2026-01-01T00:00:00Z",
        "dynamodb.amazonaws.com",
        "Scan",
        role("OldRole", "x"),
        json!({"requestParameters": {"tableName": "orders"}}),
    )));
    events.push(event(&decrypt(role("decrypt-payments-fn-role", "fn"))));
    let policies = learn(&events, 7, 20);
    assert_eq!(policies.len(), 2);
    let table = policies.iter().find(|p| p.resource == "orders").unwrap();
    assert_eq!(
        table.event_source.as_deref(),
        Some("dynamodb.amazonaws.com")
    );
    let rendered: Vec<String> = table
        .allow
        .iter()
        .map(|r| format!("{:?} {:?}", r.actions, r.principals))
        .collect();
    insta::assert_debug_snapshot!("policy_learned_table", rendered);
    let key = policies.iter().find(|p| p.resource == KEY_ARN).unwrap();
    assert_eq!(
        key.allow[0].principals,
        vec!["arn:aws:sts::123456789012:assumed-role/decrypt-payments-fn-role/*"]
    );
    // learned policies accept the history they came from
    let mut d = build(&policies).unwrap();
    let mut out = Vec::new();
    for e in &events[..4] {
        trailhound_detect::Detector::observe(&mut d, e, &mut out);
    }
    assert!(out.is_empty(), "{out:#?}");
}

/// Policies are indexed by service and read resource fields from the raw text without a JSON
/// tree; neither may hide a violation: ids joined from two fields (`bucket/key`), escaped
/// text, policies for any service next to per-service ones.
#[test]
fn resource_index_and_reader_never_hide_a_violation() {
    let payroll = PolicyConfig {
        name: "payroll-objects".into(),
        event_source: Some("s3.amazonaws.com".into()),
        resource: "example-finance-archive/payroll/*".into(),
        severity: None,
        ignore_aws_services: true,
        allow: vec![allow(
            &["arn:aws:sts::123456789012:assumed-role/payroll-app/*"],
            &["GetObject"],
        )],
    };
    let anywhere = PolicyConfig {
        name: "secret-anywhere".into(),
        event_source: None,
        resource: "*prod-db-password*".into(),
        ..payroll.clone()
    };
    let mut d = build(&[payroll, anywhere]).unwrap();
    let get = |bucket: &str, key: &str, who| {
        record(
            T,
            "s3.amazonaws.com",
            "GetObject",
            who,
            json!({"requestParameters": {"bucketName": bucket, "key": key}}),
        )
    };
    // The id is the join `bucket/key`: the record holds the pieces, not the whole literal.
    let outside = get(
        "example-finance-archive",
        "payroll/2026-03.csv",
        role("AdminRole", "m"),
    );
    assert_eq!(run(&mut d, std::slice::from_ref(&outside)).len(), 1);
    let inside = get(
        "example-finance-archive",
        "payroll/2026-03.csv",
        role("payroll-app", "x"),
    );
    assert!(run(&mut d, &[inside]).is_empty());
    // Another bucket is not protected.
    let other = get(
        "example-logs",
        "payroll/2026-03.csv",
        role("AdminRole", "m"),
    );
    assert!(run(&mut d, &[other]).is_empty());
    // The same call with the bucket name escaped (`\u002d` for `-`) is still seen.
    let text = outside
        .to_string()
        .replace("finance-archive", "finance\\u002darchive");
    assert!(text.contains("\\u002d"));
    let escaped =
        trailhound_core::Event::from_json(text, trailhound_core::Origin::new("f", 0)).unwrap();
    let mut out = Vec::new();
    trailhound_detect::Detector::observe(&mut d, &escaped, &mut out);
    assert_eq!(out.len(), 1);
    // A policy for any service sees every service, in configuration order with the others.
    let secret = record(
        T,
        "secretsmanager.amazonaws.com",
        "GetSecretValue",
        role("AdminRole", "m"),
        json!({"requestParameters": {"secretId": "prod-db-password"}}),
    );
    let alerts = run(&mut d, &[secret]);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].title.contains("secret-anywhere"),
        "{}",
        alerts[0].title
    );
    let both = get(
        "example-finance-archive",
        "payroll/prod-db-password",
        role("AdminRole", "m"),
    );
    let alerts = run(&mut d, &[both]);
    let names: Vec<&str> = alerts.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(alerts.len(), 2, "{names:?}");
    assert!(names[0].contains("payroll-objects") && names[1].contains("secret-anywhere"));
}

#[test]
fn exact_wildcard_and_any_source_policies_all_apply_in_configuration_order() {
    let named = |name: &str, source: Option<&str>, resource: &str| PolicyConfig {
        name: name.into(),
        event_source: source.map(Into::into),
        resource: resource.into(),
        severity: None,
        ignore_aws_services: true,
        allow: vec![allow(
            &["arn:aws:iam::123456789012:role/nobody"],
            &["Query"],
        )],
    };
    let mut d = build(&[
        named("wildcard-any-source", None, "Orders*"),
        named("exact", Some("dynamodb.amazonaws.com"), "OrdersTable"),
        named("other-table", Some("dynamodb.amazonaws.com"), "Invoices"),
        named("exact-any-source", None, "OrdersTable"),
        named("other-service", Some("s3.amazonaws.com"), "OrdersTable"),
        named("wildcard", Some("dynamodb.amazonaws.com"), "*Table"),
    ])
    .unwrap();
    let query = record(
        T,
        "dynamodb.amazonaws.com",
        "Query",
        role("Reporting", "r-1"),
        json!({"requestParameters": {"tableName": "OrdersTable"}}),
    );
    let policies = |alerts: Vec<trailhound_core::Alert>| -> Vec<String> {
        alerts
            .iter()
            .map(|a| a.context["policy"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        policies(run(&mut d, &[query])),
        [
            "wildcard-any-source",
            "exact",
            "exact-any-source",
            "wildcard"
        ]
    );
    // An event of a source without a policy of its own meets only the any-source ones.
    let get = record(
        T,
        "lambda.amazonaws.com",
        "GetFunction",
        role("Reporting", "r-1"),
        json!({"requestParameters": {"functionName": "OrdersTable"}}),
    );
    assert_eq!(
        policies(run(&mut d, &[get])),
        ["wildcard-any-source", "exact-any-source"]
    );
}
