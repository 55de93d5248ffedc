//! Metric filters: the filter-pattern grammar, the alarm state machine, the CIS pack and the
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! seed document's filters.

mod families_common;

use families_common::*;
use serde_json::json;
use trailhound_core::{Severity, Timestamp};
use trailhound_detect::Detector;
use trailhound_detect::metric_filter::{
    Alarm, AlarmConfig, AlarmState, CIS_CONTROLS, ComparisonOperator, FilterPattern,
    MetricFilterConfig, MetricFiltersConfig, Statistic, TreatMissingData,
};

fn matches(pattern: &str, record: &serde_json::Value) -> bool {
    let p = FilterPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    p.matches(&record.to_string())
}

fn column(pattern: &str) -> usize {
    match FilterPattern::parse(pattern) {
        Ok(_) => panic!("{pattern} parsed"),
        Err(e) => e.column,
    }
}

#[test]
fn json_equality_wildcards_and_inequality() {
    let r = json!({"eventName": "ConsoleLogin", "errorCode": "Client.UnauthorizedOperation", "n": 5,
                   "flag": true, "off": false, "nothing": null,
                   "resources": [{"ARN": "arn:aws:s3:::a"}, {"ARN": "arn:aws:s3:::b"}]});
    assert!(matches(r#"{ $.eventName = "ConsoleLogin" }"#, &r));
    assert!(matches(r#"{$.eventName=ConsoleLogin}"#, &r));
    assert!(!matches(r#"{ $.eventName = "consolelogin" }"#, &r));
    assert!(matches(r#"{ $.errorCode = "*UnauthorizedOperation" }"#, &r));
    assert!(matches(r#"{ $.errorCode = "Client.*" }"#, &r));
    assert!(matches(r#"{ $.errorCode = "*Unauth*Op*" }"#, &r));
    assert!(!matches(r#"{ $.errorCode = "AccessDenied*" }"#, &r));
    assert!(matches(r#"{ $.eventName != "StopLogging" }"#, &r));
    assert!(!matches(r#"{ $.eventName != "Console*" }"#, &r));
    // != on an absent field is false, as in CloudWatch Logs
    assert!(!matches(r#"{ $.absent != "x" }"#, &r));
    assert!(matches(r#"{ $.errorCode = %Unauthori[sz]ed% }"#, &r));
    assert!(matches(r#"{ $.resources[1].ARN = "arn:aws:s3:::b" }"#, &r));
    assert!(!matches(r#"{ $.resources[2].ARN = "*" }"#, &r));
}

#[test]
fn json_numbers_and_unary_tests() {
    let r = json!({"n": 5, "f": 2.5, "flag": true, "off": false, "nothing": null, "s": "5"});
    for (p, want) in [
        ("{ $.n = 5 }", true),
        ("{ $.n != 5 }", false),
        ("{ $.n < 6 }", true),
        ("{ $.n <= 5 }", true),
        ("{ $.n > 5 }", false),
        ("{ $.n >= 5 }", true),
        ("{ $.f > 2 }", true),
        ("{ $.n = 5.0 }", true),
        ("{ $.n > -1 }", true),
        ("{ $.s > 1 }", false),
        ("{ $.missing < 10 }", false),
        ("{ $.nothing IS NULL }", true),
        ("{ $.n IS NULL }", false),
        ("{ $.missing IS NULL }", false),
        ("{ $.missing NOT EXISTS }", true),
        ("{ $.nothing NOT EXISTS }", false),
        ("{ $.n EXISTS }", true),
        ("{ $.flag IS TRUE }", true),
        ("{ $.off IS FALSE }", true),
        ("{ $.off IS TRUE }", false),
        ("{ $.s IS TRUE }", false),
        ("{ $.flag is true }", true),
    ] {
        assert_eq!(matches(p, &r), want, "{p}");
    }
}

#[test]
fn json_boolean_logic_and_precedence() {
    let r = json!({"a": "1", "b": "2", "c": "3"});
    assert!(matches(r#"{ $.a = "1" && $.b = "2" }"#, &r));
    assert!(!matches(r#"{ $.a = "1" && $.b = "x" }"#, &r));
    assert!(matches(r#"{ $.a = "x" || $.b = "2" }"#, &r));
    // && binds tighter than ||
    assert!(matches(r#"{ $.a = "x" && $.b = "x" || $.c = "3" }"#, &r));
    assert!(!matches(r#"{ $.a = "x" && ($.b = "x" || $.c = "3") }"#, &r));
    assert!(matches(r#"{ (($.a = "1") && (($.b = "2"))) }"#, &r));
}

#[test]
fn term_patterns() {
    let r = json!({"eventName": "StopLogging", "errorMessage": "ERROR something failed"});
    let text = r.to_string();
    let m = |p: &str| FilterPattern::parse(p).unwrap().matches(&text);
    assert!(m("ERROR"));
    assert!(m("ERROR StopLogging"));
    assert!(!m("ERROR StartLogging"));
    assert!(m(r#""something failed""#));
    assert!(!m(r#"ERROR -"something failed""#));
    assert!(m(r#"ERROR -"ignore me""#));
    assert!(m("?WARN ?ERROR"));
    assert!(!m("?WARN ?FATAL"));
    assert!(m(""));
    assert!(m("   "));
}

#[test]
fn parse_errors_point_at_the_column() {
    assert_eq!(column("{ $.eventName = \"x\" "), 21);
    assert_eq!(column("{ eventName = \"x\" }"), 3);
    assert_eq!(column("{ $. = \"x\" }"), 5);
    assert_eq!(column("{ $.a[x] = 1 }"), 7);
    assert_eq!(column("{ $.a ~ 1 }"), 7);
    assert_eq!(column("{ $.a = }"), 9);
    assert_eq!(column("{ $.a = \"open }"), 9);
    assert_eq!(column("{ $.a < \"text\" }"), 7);
    assert_eq!(column("{ ($.a = 1 }"), 12);
    assert_eq!(column("{ $.a = 1 && }"), 14);
    assert_eq!(column("{ $.a IS MAYBE }"), 10);
    assert_eq!(column("{ $.a NOT THERE }"), 11);
    assert_eq!(column("{ $.a = 1 } trailing"), 13);
    assert_eq!(column("{ $.a = %unclosed }"), 9);
    assert_eq!(column("{ $.a = %(% }"), 9);
    assert_eq!(column("[ip, user]"), 1);
    assert_eq!(column("ERROR -"), 8);
    let e = FilterPattern::parse("{ $.a ~ 1 }").unwrap_err();
    assert!(
        e.to_string().starts_with("column 7: expected an operator"),
        "{e}"
    );
}

fn alarm(
    period: u32,
    n: u32,
    m: Option<u32>,
    op: ComparisonOperator,
    threshold: f64,
    missing: TreatMissingData,
) -> Alarm {
    Alarm::new(
        AlarmConfig {
            statistic: Statistic::Sum,
            period,
            evaluation_periods: n,
            datapoints_to_alarm: m,
            comparison_operator: op,
            threshold,
            treat_missing_data: missing,
        },
        None,
    )
}

const T0: &str = "2026-03-02T10:00:00Z";

fn t(secs: i64) -> Timestamp {
    at(T0).add_secs(secs)
}

#[test]
fn exactly_at_threshold() {
    let mut a = alarm(
        60,
        1,
        None,
        ComparisonOperator::GreaterThanOrEqualToThreshold,
        3.0,
        TreatMissingData::NotBreaching,
    );
    for s in [1, 2, 3] {
        a.record(t(s), 1.0);
    }
    let tr = a.advance(t(60));
    assert_eq!(tr.len(), 1);
    assert_eq!(tr[0].to, AlarmState::Alarm);
    let mut b = alarm(
        60,
        1,
        None,
        ComparisonOperator::GreaterThanThreshold,
        3.0,
        TreatMissingData::NotBreaching,
    );
    for s in [1, 2, 3] {
        b.record(t(s), 1.0);
    }
    let tr = b.advance(t(60));
    assert_eq!(
        tr.iter().map(|x| x.to).collect::<Vec<_>>(),
        vec![AlarmState::Ok]
    );
}

#[test]
fn m_of_n_datapoints() {
    // 2 of 3 periods must breach (>= 1)
    let mut a = alarm(
        60,
        3,
        Some(2),
        ComparisonOperator::GreaterThanOrEqualToThreshold,
        1.0,
        TreatMissingData::NotBreaching,
    );
    a.record(t(5), 1.0);
    assert_eq!(a.advance(t(60)).last().map(|x| x.to), Some(AlarmState::Ok));
    // period 2 empty, period 3 breaching: 2 of the last 3
    a.record(t(125), 1.0);
    let tr = a.advance(t(180));
    assert_eq!(tr.last().map(|x| x.to), Some(AlarmState::Alarm));
    assert_eq!(tr.last().unwrap().datapoints.len(), 3);
    // two empty periods: back to OK once fewer than 2 of the last 3 breach
    let tr = a.advance(t(300));
    assert_eq!(
        tr.iter().map(|x| x.to).collect::<Vec<_>>(),
        vec![AlarmState::Ok]
    );
}

#[test]
fn missing_data_modes() {
    use TreatMissingData::*;
    let op = ComparisonOperator::GreaterThanOrEqualToThreshold;
    // breaching: empty periods count as bad
    let mut a = alarm(60, 2, None, op, 1.0, Breaching);
    a.saw_time(t(1));
    assert_eq!(
        a.advance(t(120)).last().map(|x| x.to),
        Some(AlarmState::Alarm)
    );
    // notBreaching: empty periods are good
    let mut a = alarm(60, 2, None, op, 1.0, NotBreaching);
    a.saw_time(t(1));
    assert_eq!(a.advance(t(120)).last().map(|x| x.to), Some(AlarmState::Ok));
    // missing: no datapoint at all is INSUFFICIENT_DATA (no transition from the start state)
    let mut a = alarm(60, 2, None, op, 1.0, Missing);
    a.saw_time(t(1));
    assert!(a.advance(t(120)).is_empty());
    assert_eq!(a.state(), AlarmState::InsufficientData);
    // missing: alarm, then all-missing goes to INSUFFICIENT_DATA, not OK
    let mut a = alarm(60, 1, None, op, 1.0, Missing);
    a.record(t(1), 1.0);
    assert_eq!(
        a.advance(t(60)).last().map(|x| x.to),
        Some(AlarmState::Alarm)
    );
    assert_eq!(
        a.advance(t(120)).last().map(|x| x.to),
        Some(AlarmState::InsufficientData)
    );
    // ignore: alarm is kept through missing periods
    let mut a = alarm(60, 1, None, op, 1.0, Ignore);
    a.record(t(1), 1.0);
    assert_eq!(
        a.advance(t(60)).last().map(|x| x.to),
        Some(AlarmState::Alarm)
    );
    assert!(a.advance(t(600)).is_empty());
    assert_eq!(a.state(), AlarmState::Alarm);
    // a default value fills empty periods with data
    let mut a = Alarm::new(
        AlarmConfig {
            threshold: 0.0,
            comparison_operator: ComparisonOperator::LessThanOrEqualToThreshold,
            period: 60,
            ..AlarmConfig::default()
        },
        Some(0.0),
    );
    a.saw_time(t(1));
    assert_eq!(
        a.advance(t(60)).last().map(|x| x.to),
        Some(AlarmState::Alarm)
    );
}

#[test]
fn statistics() {
    for (stat, want) in [
        (Statistic::Sum, 9.0),
        (Statistic::SampleCount, 3.0),
        (Statistic::Average, 3.0),
        (Statistic::Minimum, 1.0),
        (Statistic::Maximum, 6.0),
    ] {
        let mut a = Alarm::new(
            AlarmConfig {
                statistic: stat,
                period: 60,
                threshold: want,
                ..AlarmConfig::default()
            },
            None,
        );
        for v in [1.0, 2.0, 6.0] {
            a.record(t(10), v);
        }
        let tr = a.advance(t(60));
        assert_eq!(tr[0].datapoints[0].value, Some(want), "{stat:?}");
        assert_eq!(tr[0].to, AlarmState::Alarm, "{stat:?}");
    }
}

#[test]
fn late_values_are_dropped_and_end_of_input_closes_periods() {
    let mut a = alarm(
        60,
        1,
        None,
        ComparisonOperator::GreaterThanOrEqualToThreshold,
        1.0,
        TreatMissingData::NotBreaching,
    );
    a.record(t(70), 1.0);
    assert!(a.advance(t(120)).iter().any(|x| x.to == AlarmState::Alarm));
    assert!(!a.record(t(65), 1.0));
    assert_eq!(a.late_values(), 1);
    a.record(t(130), 1.0);
    // end of input: the open period is evaluated, nothing beyond the last one seen
    let tr = a.advance(Timestamp::MAX);
    assert!(tr.is_empty(), "{tr:?}");
    assert_eq!(a.state(), AlarmState::Alarm);
}

#[test]
fn invalid_alarm_settings_are_refused() {
    for bad in [
        AlarmConfig {
            period: 15,
            ..AlarmConfig::default()
        },
        AlarmConfig {
            evaluation_periods: 0,
            ..AlarmConfig::default()
        },
        AlarmConfig {
            evaluation_periods: 2,
            datapoints_to_alarm: Some(3),
            ..AlarmConfig::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}

fn unauthorized_filter() -> MetricFilterConfig {
    // The seed document's UnauthorizedOperation filter and alarm.
    toml_like(
        r#"{$.errorCode = "*UnauthorizedOperation*" || $.errorCode = "*AccessDenied*"}"#,
        AlarmConfig {
            statistic: Statistic::Sum,
            period: 60,
            evaluation_periods: 1,
            datapoints_to_alarm: None,
            comparison_operator: ComparisonOperator::GreaterThanThreshold,
            threshold: 0.0,
            treat_missing_data: TreatMissingData::NotBreaching,
        },
    )
}

fn toml_like(pattern: &str, alarm: AlarmConfig) -> MetricFilterConfig {
    MetricFilterConfig {
        id: "MF-unauthorised-operation".into(),
        name: "unauthorised-operation".into(),
        title: Some("Unauthorised API calls detected".into()),
        pattern: pattern.into(),
        severity: Severity::Medium,
        metric_value: "1".into(),
        default_value: None,
        metric_namespace: Some("MyNamespace".into()),
        metric_name: Some("UnauthorisedOperation".into()),
        description: None,
        runbook: None,
        attack: vec![],
        alarm,
    }
}

fn denied(time: &str, name: &str) -> serde_json::Value {
    record(
        time,
        "ec2.amazonaws.com",
        name,
        user("mallory"),
        json!({
        "errorCode": "Client.UnauthorizedOperation",
        "errorMessage": "You are not authorized to perform this operation.",
        "sourceIPAddress": "198.51.100.23"}),
    )
}

#[test]
fn unauthorized_operation_alarm_fires_and_resolves() {
    let mut d = unauthorized_filter().build().unwrap();
    let ok = record(
        "2026-03-02T10:00:30Z",
        "ec2.amazonaws.com",
        "DescribeInstances",
        user("alice"),
        json!({}),
    );
    let alerts = run(
        &mut d,
        &[
            ok.clone(),
            denied("2026-03-02T10:01:10Z", "RunInstances"),
            denied("2026-03-02T10:01:20Z", "CreateKeyPair"),
            record(
                "2026-03-02T10:03:30Z",
                "ec2.amazonaws.com",
                "DescribeInstances",
                user("alice"),
                json!({}),
            ),
        ],
    );
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let fired = &alerts[0];
    assert_eq!(fired.severity, Severity::Medium);
    assert_eq!(fired.event_count, 2);
    assert_eq!(fired.events.len(), 2);
    assert_eq!(
        fired.entity.principal.as_deref(),
        Some("arn:aws:iam::123456789012:user/mallory")
    );
    let resolved = &alerts[1];
    assert_eq!(resolved.severity, Severity::Informational);
    assert!(
        resolved.title.ends_with("returned to OK"),
        "{}",
        resolved.title
    );
    insta::assert_json_snapshot!("metric_filter_alarm", fired);
}

#[test]
fn metric_value_from_a_field() {
    let mut config = toml_like(
        r#"{ $.eventName = "Decrypt" }"#,
        AlarmConfig {
            statistic: Statistic::Maximum,
            period: 60,
            threshold: 100.0,
            ..AlarmConfig::default()
        },
    );
    config.metric_value = "$.additionalEventData.bytes".into();
    let mut d = config.build().unwrap();
    assert_eq!(d.interest().event_names.map(|n| n.len()), Some(1));
    let mk = |s: &str, bytes: u64| {
        record(
            s,
            "kms.amazonaws.com",
            "Decrypt",
            user("bob"),
            json!({"additionalEventData": {"bytes": bytes}}),
        )
    };
    let alerts = run(
        &mut d,
        &[
            mk("2026-03-02T10:00:01Z", 10),
            mk("2026-03-02T10:00:02Z", 150),
        ],
    );
    assert_eq!(alerts.len(), 1);
    assert!(config.clone().metric_value.starts_with('$'));
    let mut bad = config;
    bad.metric_value = "lots".into();
    assert!(bad.build().is_err());
}

#[test]
fn cis_pack_compiles_and_each_control_catches_its_event() {
    // TH2101 is off by default (too noisy as a default); this test runs every control.
    assert_eq!(MetricFiltersConfig::default().build().unwrap().len(), 14);
    let config = MetricFiltersConfig {
        cis_disabled: Vec::new(),
        ..MetricFiltersConfig::default()
    };
    let detectors = config.build().unwrap();
    assert_eq!(detectors.len(), 15);
    assert!(CIS_CONTROLS.iter().all(|c| c.id.starts_with("TH21")));
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("TH2101", denied("2026-03-02T10:00:00Z", "RunInstances")),
        (
            "TH2102",
            record(
                "2026-03-02T10:00:00Z",
                "signin.amazonaws.com",
                "ConsoleLogin",
                user("alice"),
                json!({
            "eventType": "AwsConsoleSignIn", "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/"}}),
            ),
        ),
        (
            "TH2103",
            record(
                "2026-03-02T10:00:00Z",
                "s3.amazonaws.com",
                "ListBuckets",
                json!({"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": ACCOUNT}),
                json!({}),
            ),
        ),
        (
            "TH2104",
            record(
                "2026-03-02T10:00:00Z",
                "iam.amazonaws.com",
                "AttachRolePolicy",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2105",
            record(
                "2026-03-02T10:00:00Z",
                "cloudtrail.amazonaws.com",
                "StopLogging",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2106",
            record(
                "2026-03-02T10:00:00Z",
                "signin.amazonaws.com",
                "ConsoleLogin",
                user("alice"),
                json!({
            "errorMessage": "Failed authentication", "responseElements": {"ConsoleLogin": "Failure"}}),
            ),
        ),
        (
            "TH2107",
            record(
                "2026-03-02T10:00:00Z",
                "kms.amazonaws.com",
                "ScheduleKeyDeletion",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2108",
            record(
                "2026-03-02T10:00:00Z",
                "s3.amazonaws.com",
                "PutBucketPolicy",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2109",
            record(
                "2026-03-02T10:00:00Z",
                "config.amazonaws.com",
                "StopConfigurationRecorder",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2110",
            record(
                "2026-03-02T10:00:00Z",
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2111",
            record(
                "2026-03-02T10:00:00Z",
                "ec2.amazonaws.com",
                "CreateNetworkAclEntry",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2112",
            record(
                "2026-03-02T10:00:00Z",
                "ec2.amazonaws.com",
                "AttachInternetGateway",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2113",
            record(
                "2026-03-02T10:00:00Z",
                "ec2.amazonaws.com",
                "CreateRoute",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2114",
            record(
                "2026-03-02T10:00:00Z",
                "ec2.amazonaws.com",
                "CreateVpcPeeringConnection",
                user("alice"),
                json!({}),
            ),
        ),
        (
            "TH2115",
            record(
                "2026-03-02T10:00:00Z",
                "organizations.amazonaws.com",
                "LeaveOrganization",
                user("alice"),
                json!({}),
            ),
        ),
    ];
    for (id, rec) in cases {
        let mut fired = Vec::new();
        for mut d in config.build().unwrap() {
            let alerts = run(&mut d, std::slice::from_ref(&rec));
            fired.extend(
                alerts
                    .into_iter()
                    .filter(|a| a.severity != Severity::Informational)
                    .map(|a| a.rule.id),
            );
        }
        assert!(fired.contains(&id.to_owned()), "{id}: fired {fired:?}");
    }
    // MFA sign-in is not TH2102; a service-invoked root event is not TH2103
    let mfa = record(
        "2026-03-02T10:00:00Z",
        "signin.amazonaws.com",
        "ConsoleLogin",
        user("alice"),
        json!({
        "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "Yes"}}),
    );
    let mut th2102 = CIS_CONTROLS[1]
        .to_config(&AlarmConfig::default())
        .build()
        .unwrap();
    assert!(run(&mut th2102, &[mfa]).is_empty());
}

#[test]
fn cis_controls_can_be_disabled() {
    let config = MetricFiltersConfig {
        cis_disabled: vec!["TH2110".into(), "vpc-changed".into()],
        ..MetricFiltersConfig::default()
    };
    assert_eq!(config.build().unwrap().len(), 13);
    let off = MetricFiltersConfig {
        cis: false,
        ..MetricFiltersConfig::default()
    };
    assert!(off.build().unwrap().is_empty());
}

const LAMBDA_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:MyLambda";

/// The seed document's Lambda misuse filter, joined with its parameters resolved.
fn lambda_misuse() -> String {
    format!(
        "{{$.eventSource = lambda.amazonaws.com && $.requestParameters.functionName = \"{LAMBDA_ARN}\" && (($.eventName = Invoke && $.userIdentity.arn != \"arn:aws:sts::123456789012:assumed-role/MyStepFunctionRole/step-functions-express-*\") || $.eventName != Invoke)}}"
    )
}

#[test]
fn seed_lambda_misuse_filter() {
    let p = FilterPattern::parse(&lambda_misuse()).unwrap();
    let invoke = |identity| {
        record(
            "2026-03-02T10:00:00Z",
            "lambda.amazonaws.com",
            "Invoke",
            identity,
            json!({"requestParameters": {"functionName": LAMBDA_ARN}}),
        )
    };
    let by_step = invoke(role("MyStepFunctionRole", "step-functions-express-1a2b"));
    let by_admin = invoke(role("AdminRole", "alice"));
    let update = record(
        "2026-03-02T10:00:00Z",
        "lambda.amazonaws.com",
        "UpdateFunctionCode20150331v2",
        role("MyStepFunctionRole", "step-functions-express-1a2b"),
        json!({"requestParameters": {"functionName": LAMBDA_ARN}}),
    );
    assert!(!p.matches(&by_step.to_string()));
    assert!(p.matches(&by_admin.to_string()));
    assert!(p.matches(&update.to_string()));
}

#[test]
fn seed_table_misuse_filter() {
    let reader =
        "arn:aws:sts::123456789012:assumed-role/MyStepReadingFunction/step-functions-express-*";
    let lambda = "arn:aws:sts::123456789012:assumed-role/MyLambdaRole/MyLambda";
    let writer =
        "arn:aws:sts::123456789012:assumed-role/MyStepWritingFunction/step-functions-express-*";
    let pattern = format!(
        "{{$.eventSource = dynamodb.amazonaws.com && $.requestParameters.tableName = \"SomeImportantDynamoDBTable\" && ((($.eventName = Query && ($.userIdentity.arn != \"{reader}\" && $.userIdentity.arn != \"{lambda}\")) || ($.eventName = PutItem && $.userIdentity.arn != \"{writer}\") || ($.eventName = DeleteItem && $.userIdentity.arn != \"{lambda}\")) || ($.eventName != Query && $.eventName != PutItem && $.eventName != DeleteItem))}}"
    );
    let p = FilterPattern::parse(&pattern).unwrap();
    let call = |name: &str, identity| {
        let r = record(
            "2026-03-02T10:00:00Z",
            "dynamodb.amazonaws.com",
            name,
            identity,
            json!({"requestParameters": {"tableName": "SomeImportantDynamoDBTable"}}),
        );
        p.matches(&r.to_string())
    };
    assert!(!call(
        "Query",
        role("MyStepReadingFunction", "step-functions-express-9")
    ));
    assert!(!call("Query", role("MyLambdaRole", "MyLambda")));
    assert!(!call(
        "PutItem",
        role("MyStepWritingFunction", "step-functions-express-3")
    ));
    assert!(!call("DeleteItem", role("MyLambdaRole", "MyLambda")));
    assert!(call("Query", role("AdminRole", "mallory")));
    assert!(call("PutItem", role("MyLambdaRole", "MyLambda")));
    assert!(call(
        "DeleteItem",
        role("MyStepWritingFunction", "step-functions-express-3")
    ));
    assert!(call(
        "Scan",
        role("MyStepReadingFunction", "step-functions-express-9")
    ));
}

#[test]
fn routing_and_prefilter_hints() {
    let p = FilterPattern::parse(
        r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#,
    )
    .unwrap();
    assert_eq!(
        p.required_text(),
        Some(vec![
            "UnauthorizedOperation".to_owned(),
            "AccessDenied".to_owned()
        ])
    );
    assert_eq!(p.required_event_names(), None);
    let p = FilterPattern::parse(r#"{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }"#).unwrap();
    assert_eq!(
        p.required_event_names(),
        Some(vec![
            "DisableKey".to_owned(),
            "ScheduleKeyDeletion".to_owned()
        ])
    );
    // a negation or a number gives no hint
    assert_eq!(
        FilterPattern::parse(r#"{ $.eventName != "Describe*" }"#)
            .unwrap()
            .required_text(),
        None
    );
    assert_eq!(
        FilterPattern::parse("{ $.n > 3 }").unwrap().required_text(),
        None
    );
}

#[test]
fn alarm_state_survives_save_and_load() {
    let mut first = unauthorized_filter().build().unwrap();
    let mut out = Vec::new();
    first.observe(
        &event(&denied("2026-03-02T10:01:10Z", "RunInstances")),
        &mut out,
    );
    first.advance(at("2026-03-02T10:02:00Z"), &mut out);
    assert_eq!(first.state(), AlarmState::Alarm);
    let saved = first.save_state().unwrap();
    let mut second = unauthorized_filter().build().unwrap();
    second.load_state(saved.clone()).unwrap();
    assert_eq!(second.state(), AlarmState::Alarm);
    // a quiet period after the restart resolves the alarm
    second.advance(at("2026-03-02T10:03:00Z"), &mut out);
    assert_eq!(second.state(), AlarmState::Ok);
    assert!(second.load_state(json!({"version": 9})).is_err());
}
