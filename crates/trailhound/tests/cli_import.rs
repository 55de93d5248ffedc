//! `trailhound import cloudformation` on the insider-attack examples: the imported config
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! parses, builds, and its filters catch the misuse they describe.

use std::path::{Path, PathBuf};

use trailhound::cmd::import::{CloudFormationArgs, render};
use trailhound_core::{Event, Origin, Timestamp};

fn fixture(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cloudformation")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    (
        PathBuf::from("tests/fixtures/cloudformation").join(name),
        text,
    )
}

fn args(template: PathBuf, params: &[&str]) -> CloudFormationArgs {
    CloudFormationArgs {
        template,
        params: params.iter().map(|s| (*s).to_owned()).collect(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
    }
}

const SOLUTION_PARAMS: &[&str] = &[
    "MyLambda.Arn=arn:aws:lambda:us-east-1:123456789012:function:MyLambda",
    "MyLambda=MyLambda",
    "MyStepFunctionRole=MyStepFunctionRole",
    "MyStepReadingFunction=MyStepReadingFunction",
    "MyStepWritingFunction=MyStepWritingFunction",
    "MyLambdaRole=MyLambdaRole",
];

fn role_call(
    name: &str,
    source: &str,
    role: &str,
    session: &str,
    params: &str,
    time: &str,
) -> Event {
    let raw = format!(
        r#"{{"eventVersion":"1.09","eventTime":"{time}","eventSource":"{source}","eventName":"{name}",
        "awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","userAgent":"aws-cli/2.15.0",
        "userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/{role}/{session}",
          "accountId":"123456789012","sessionContext":{{"sessionIssuer":{{"type":"Role",
          "arn":"arn:aws:iam::123456789012:role/{role}","userName":"{role}"}}}}}},
        "requestParameters":{params},"eventID":"{name}-{time}","recipientAccountId":"123456789012"}}"#
    );
    Event::from_json(raw, Origin::new("fixture.json", 0)).unwrap()
}

fn alerts_of(config_text: &str, events: &[Event]) -> Vec<trailhound_core::Alert> {
    let config = trailhound::config::Config::parse(config_text).unwrap();
    let mut engine =
        trailhound::engine::build_engine(&config, &trailhound::engine::EngineOptions::default())
            .unwrap();
    let mut out = Vec::new();
    for e in events {
        engine.process(e, &mut out);
    }
    engine.advance(Timestamp::MAX, &mut out);
    out.into_iter()
        .filter(|a| a.rule.id.starts_with("MF-"))
        .collect()
}

#[test]
fn unauthorized_operation_template() {
    let (path, text) = fixture("unauthorized-operation.yaml");
    let toml_text = render(&text, &args(path, &[])).unwrap();
    insta::assert_snapshot!("import_unauthorized_operation", toml_text);
    let denied = Event::from_json(
        r#"{"eventTime":"2026-03-02T10:00:05Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances",
        "errorCode":"Client.UnauthorizedOperation","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/mallory"},
        "eventID":"e1","sourceIPAddress":"198.51.100.23"}"#,
        Origin::new("f", 0),
    )
    .unwrap();
    let config = toml_text.replacen(
        "\n[[metric_filters.filters]]",
        "\n[metric_filters]\ncis = false\n\n[[metric_filters.filters]]",
        1,
    );
    let alerts = alerts_of(&config, &[denied]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule.id, "MF-unauthorized-operation");
}

#[test]
fn solution_misuse_template() {
    let (path, text) = fixture("solution-misuse.yaml");
    let missing = render(&text, &args(path.clone(), &[])).unwrap_err();
    assert!(
        format!("{missing:#}").contains("--param MyLambda.Arn=VALUE"),
        "{missing:#}"
    );
    let toml_text = render(&text, &args(path, SOLUTION_PARAMS)).unwrap();
    insta::assert_snapshot!("import_solution_misuse", toml_text);
    let table = r#"{"tableName":"SomeImportantDynamoDBTable"}"#;
    let lambda = r#"{"functionName":"arn:aws:lambda:us-east-1:123456789012:function:MyLambda"}"#;
    let events = [
        role_call(
            "Query",
            "dynamodb.amazonaws.com",
            "MyStepReadingFunction",
            "step-functions-express-1",
            table,
            "2026-03-02T10:00:00Z",
        ),
        role_call(
            "DeleteItem",
            "dynamodb.amazonaws.com",
            "MyLambdaRole",
            "MyLambda",
            table,
            "2026-03-02T10:00:01Z",
        ),
        role_call(
            "Invoke",
            "lambda.amazonaws.com",
            "MyStepFunctionRole",
            "step-functions-express-2",
            lambda,
            "2026-03-02T10:00:02Z",
        ),
        role_call(
            "Scan",
            "dynamodb.amazonaws.com",
            "AdminRole",
            "mallory",
            table,
            "2026-03-02T10:20:00Z",
        ),
        role_call(
            "Invoke",
            "lambda.amazonaws.com",
            "AdminRole",
            "mallory",
            lambda,
            "2026-03-02T10:40:00Z",
        ),
    ];
    let config = toml_text.replacen(
        "\n[[metric_filters.filters]]",
        "\n[metric_filters]\ncis = false\n\n[[metric_filters.filters]]",
        1,
    );
    let alerts = alerts_of(&config, &events);
    let fired: Vec<(&str, u64)> = alerts
        .iter()
        .filter(|a| a.severity != trailhound_core::Severity::Informational)
        .map(|a| (a.rule.id.as_str(), a.event_count))
        .collect();
    assert_eq!(
        fired,
        vec![("MF-table-misuse", 1), ("MF-my-lambda-misuse", 1)],
        "{alerts:#?}"
    );
}
