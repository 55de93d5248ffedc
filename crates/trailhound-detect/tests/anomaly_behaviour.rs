//! Behaviour baselines: warm-up, rare API, new country and ASN (from a tiny mmdb made at test
//! time), roll-up, reconnaissance and failure bursts, instance credentials, console sign-in,
//! state round trip and determinism.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod anomaly_support;

use std::process::Command;

use anomaly_support::{Spec, enrich, event, ts};
use trailhound_core::{Alert, Enrichment, Event, Origin, SmallStr, Timestamp};
use trailhound_detect::Detector;
use trailhound_detect::anomaly::{AnomalyConfig, BehaviourDetector};
use trailhound_enrich::{EnrichConfig, Enricher};

const HOUR_MS: i64 = 3_600_000;

fn config() -> AnomalyConfig {
    AnomalyConfig {
        insights: Default::default(),
        ..AnomalyConfig::default()
    }
}

/// `days` days of routine work of role `waf-prod` from the US office network: 3 APIs,
/// 12 calls a day.
fn routine(days: i64, start: Timestamp) -> Vec<Event> {
    let apis = [
        ("s3.amazonaws.com", "GetObject", true),
        ("s3.amazonaws.com", "PutObject", false),
        ("sts.amazonaws.com", "GetCallerIdentity", true),
    ];
    let mut out = Vec::new();
    let mut index = 0;
    for day in 0..days {
        for hour in 8..20 {
            let (source, name, read_only) = apis[(hour % 3) as usize];
            let mut spec = Spec::new(
                start.add_millis(day * 24 * HOUR_MS + hour * HOUR_MS),
                source,
                name,
            );
            spec.role = "waf-prod";
            spec.read_only = read_only;
            let e = event(&spec, index);
            enrich(&e, "US", 64496, "Example Office");
            out.push(e);
            index += 1;
        }
    }
    out
}

fn feed(detector: &mut BehaviourDetector, events: &[Event]) -> Vec<Alert> {
    let mut out = Vec::new();
    for e in events {
        detector.observe(e, &mut out);
    }
    out
}

fn attack_spec(time: Timestamp) -> Spec<'static> {
    let mut spec = Spec::new(time, "s3.amazonaws.com", "ListBuckets");
    spec.role = "waf-prod";
    spec.read_only = true;
    spec.ip = "203.0.113.9";
    spec
}

#[test]
fn warm_up_suppresses_rarity_alerts() {
    let start = ts("2026-03-01T00:00:00Z");
    let mut detector = BehaviourDetector::new(config());
    // Two days of history: not warm (min_days 7).
    let mut alerts = feed(&mut detector, &routine(2, start));
    let attack = event(
        &attack_spec(start.add_millis(2 * 24 * HOUR_MS + HOUR_MS)),
        90_000,
    );
    enrich(&attack, "NL", 64500, "Example VPN");
    detector.observe(&attack, &mut alerts);
    detector.advance(Timestamp::MAX, &mut alerts);
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn new_country_asn_and_rare_api_roll_up_into_one_alert() {
    let start = ts("2026-03-01T00:00:00Z");
    let mut detector = BehaviourDetector::new(config());
    let mut alerts = feed(&mut detector, &routine(21, start));
    assert!(alerts.is_empty(), "routine work is quiet: {alerts:#?}");
    let attack_time = start.add_millis(21 * 24 * HOUR_MS + 2 * HOUR_MS);
    let attack = event(&attack_spec(attack_time), 90_000);
    enrich(&attack, "NL", 64500, "Example VPN");
    detector.observe(&attack, &mut alerts);
    detector.advance(Timestamp::MAX, &mut alerts);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule.id, "TH3020");
    assert_eq!(alert.rule.kind.as_str(), "anomaly");
    assert!(alert.score.unwrap() >= 70, "{:?}", alert.score);
    assert!(
        alert.why.contains("ListBuckets by role waf-prod: 0 calls in the previous 21 days of its 252 calls; source 203.0.113.9 in AS64500 'Example VPN', country NL"),
        "{}",
        alert.why
    );
    let evidence = alert.context["evidence"].as_array().unwrap();
    let rules: Vec<&str> = evidence
        .iter()
        .map(|e| e["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["TH3001", "TH3002", "TH3003"]);
    assert_eq!(
        evidence[1]["baseline"]["usual_countries"],
        serde_json::json!(["US"])
    );
    assert_eq!(evidence[0]["baseline"]["baseline_events"], 252);
}

#[test]
fn single_weak_anomaly_stays_quiet_or_goes_alone() {
    let start = ts("2026-03-01T00:00:00Z");
    // A new API from the usual network: one weak finding, below single_weak_min_score.
    let mut detector = BehaviourDetector::new(config());
    let mut alerts = feed(&mut detector, &routine(10, start));
    let mut spec = Spec::new(
        start.add_millis(10 * 24 * HOUR_MS),
        "s3.amazonaws.com",
        "DeleteObject",
    );
    spec.role = "waf-prod";
    let e = event(&spec, 90_000);
    enrich(&e, "US", 64496, "Example Office");
    detector.observe(&e, &mut alerts);
    detector.advance(Timestamp::MAX, &mut alerts);
    assert!(alerts.is_empty(), "{alerts:#?}");

    // With a lower bar the roll-up emits it alone when its window closes.
    let mut detector = BehaviourDetector::new(AnomalyConfig {
        single_weak_min_score: 30,
        ..config()
    });
    let mut alerts = feed(&mut detector, &routine(10, start));
    detector.observe(&e, &mut alerts);
    assert!(alerts.is_empty(), "held until the window closes");
    detector.advance(e.event_time().add_millis(61 * 60_000), &mut alerts);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule.id, "TH3001");
    assert_eq!(alerts[0].score, Some(50), "a rare Delete* call scores 50");
}

#[test]
fn new_country_and_asn_from_a_tiny_mmdb() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if Command::new(&python).arg("--version").output().is_err() {
        eprintln!(
            "\n!!! SKIPPED: {python} not found; this test needs Python and mmdb-writer (scripts/test-deps.sh) !!!\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("test.mmdb");
    let script = r#"
import sys
from netaddr import IPSet
from mmdb_writer import MMDBWriter
w = MMDBWriter(ip_version=6, database_type='GeoIP2-Country', languages=['en'], description='t', ipv4_compatible=True)
w.insert_network(IPSet(['198.51.100.0/24']), {'country': {'iso_code': 'US'}, 'autonomous_system_number': 64496, 'autonomous_system_organization': 'Example Office'})
w.insert_network(IPSet(['203.0.113.0/24']), {'country': {'iso_code': 'NL'}, 'autonomous_system_number': 64500, 'autonomous_system_organization': 'Example VPN'})
w.to_db_file(sys.argv[1])
"#;
    let output = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "mmdb-writer (scripts/test-deps.sh): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut enricher = Enricher::from_config(&EnrichConfig {
        mmdb: vec![db],
        ..EnrichConfig::default()
    })
    .unwrap();

    let start = ts("2026-03-01T00:00:00Z");
    let mut detector = BehaviourDetector::new(config());
    let mut alerts = Vec::new();
    for day in 0..10 {
        for hour in 0..10 {
            let mut spec = Spec::new(
                start.add_millis(day * 24 * HOUR_MS + hour * HOUR_MS),
                "s3.amazonaws.com",
                "PutObject",
            );
            spec.role = "batch";
            let e = event(&spec, (day * 10 + hour) as u32);
            assert!(enricher.enrich(&e));
            detector.observe(&e, &mut alerts);
        }
    }
    let mut spec = Spec::new(
        start.add_millis(10 * 24 * HOUR_MS),
        "s3.amazonaws.com",
        "PutObject",
    );
    spec.role = "batch";
    spec.ip = "203.0.113.50";
    let e = event(&spec, 5_000);
    enricher.enrich(&e);
    detector.observe(&e, &mut alerts);
    assert!(
        alerts.is_empty(),
        "two kinds on one event wait for more: {alerts:#?}"
    );
    // A second anomaly of the principal within the hour completes the roll-up.
    spec.name = "DeleteObject";
    spec.time = spec.time.add_millis(60_000);
    let second = event(&spec, 5_001);
    enricher.enrich(&second);
    detector.observe(&second, &mut alerts);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    detector.advance(Timestamp::MAX, &mut alerts);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].event_count, 3);
    let evidence = alerts[0].context["evidence"].as_array().unwrap();
    let rules: Vec<&str> = evidence
        .iter()
        .map(|e| e["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["TH3002", "TH3003", "TH3001"]);
    assert!(
        alerts[0]
            .why
            .contains("source 203.0.113.50 in AS64500 'Example VPN', country NL"),
        "{}",
        alerts[0].why
    );
}

#[test]
fn reconnaissance_burst_against_own_norm() {
    let start = ts("2026-03-01T00:00:00Z");
    let mut detector = BehaviourDetector::new(config());
    let mut alerts = feed(&mut detector, &routine(10, start));
    let names = [
        "ListBuckets",
        "ListUsers",
        "ListRoles",
        "ListPolicies",
        "DescribeInstances",
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeSecurityGroups",
        "GetAccountAuthorizationDetails",
        "ListFunctions",
        "DescribeDBInstances",
        "ListSecrets",
        "ListKeys",
        "DescribeTrails",
        "GetBucketPolicy",
        "ListTopics",
        "ListQueues",
        "DescribeRegions",
    ];
    let t = start.add_millis(10 * 24 * HOUR_MS + HOUR_MS);
    for (i, name) in names.iter().enumerate() {
        let mut spec = Spec::new(t.add_millis(i as i64 * 10_000), "ec2.amazonaws.com", name);
        spec.role = "waf-prod";
        spec.read_only = true;
        let e = event(&spec, 80_000 + i as u32);
        enrich(&e, "US", 64496, "Example Office");
        detector.observe(&e, &mut alerts);
    }
    let recon: Vec<&Alert> = alerts.iter().filter(|a| a.rule.id == "TH3009").collect();
    assert_eq!(recon.len(), 1, "{alerts:#?}");
    assert_eq!(recon[0].score, Some(75));
    assert!(
        recon[0]
            .why
            .starts_with("15 distinct List/Describe/Get calls by role waf-prod within 10 minutes"),
        "{}",
        recon[0].why
    );
}

#[test]
fn failed_sensitive_calls_burst() {
    let start = ts("2026-03-01T00:00:00Z");
    let mut detector = BehaviourDetector::new(config());
    let mut alerts = feed(&mut detector, &routine(10, start));
    let t = start.add_millis(10 * 24 * HOUR_MS + HOUR_MS);
    for i in 0..12 {
        let mut spec = Spec::new(
            t.add_millis(i * 20_000),
            "iam.amazonaws.com",
            "ListAttachedRolePolicies",
        );
        spec.role = "waf-prod";
        spec.read_only = true;
        spec.error = Some(("AccessDenied", "User is not authorized"));
        let e = event(&spec, 70_000 + i as u32);
        enrich(&e, "US", 64496, "Example Office");
        detector.observe(&e, &mut alerts);
    }
    let failed: Vec<&Alert> = alerts.iter().filter(|a| a.rule.id == "TH3010").collect();
    assert_eq!(failed.len(), 1, "{alerts:#?}");
    assert!(
        failed[0]
            .why
            .starts_with("10 failed iam/kms/secretsmanager/sts/s3-policy calls by role waf-prod"),
        "{}",
        failed[0].why
    );
}

#[test]
fn instance_credentials_used_outside_aws() {
    let start = ts("2026-03-01T00:00:00Z");
    let mut detector = BehaviourDetector::new(config());
    let mut alerts = Vec::new();
    let delivery = r#","ec2RoleDelivery":"2.0""#;
    for i in 0..100 {
        let mut spec = Spec::new(
            start.add_millis(i * HOUR_MS),
            "s3.amazonaws.com",
            "GetObject",
        );
        spec.role = "web";
        spec.read_only = true;
        spec.ip = "198.51.100.20";
        spec.extra_identity = delivery;
        let e = event(&spec, i as u32);
        e.set_enrichment(Enrichment {
            country: Some(SmallStr::new("US")),
            asn: Some(16509),
            as_org: Some(SmallStr::new("Example Cloud")),
            cloud: Some(SmallStr::new("aws:EC2:us-east-1")),
        });
        detector.observe(&e, &mut alerts);
    }
    assert!(alerts.is_empty(), "{alerts:#?}");
    let mut spec = Spec::new(
        start.add_millis(100 * HOUR_MS),
        "s3.amazonaws.com",
        "ListBuckets",
    );
    spec.role = "web";
    spec.read_only = true;
    spec.ip = "203.0.113.77";
    spec.extra_identity = delivery;
    let stolen = event(&spec, 1000);
    enrich(&stolen, "NL", 64500, "Example VPN");
    detector.observe(&stolen, &mut alerts);
    let outside: Vec<&Alert> = alerts.iter().filter(|a| a.rule.id == "TH3013").collect();
    assert_eq!(outside.len(), 1, "{alerts:#?}");
    assert_eq!(outside[0].score, Some(90));
    assert_eq!(outside[0].severity.as_str(), "high");
    assert!(
        outside[0]
            .why
            .contains("instance-role credentials of role web: source 203.0.113.77 in AS64500"),
        "{}",
        outside[0].why
    );
}

fn console_login(time: Timestamp, index: u32) -> Event {
    let raw = format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLE",
        "arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"}},
        "eventTime":"{time}","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",
        "awsRegion":"us-east-1","sourceIPAddress":"198.51.100.{last}","userAgent":"Mozilla/5.0 (X11; Linux x86_64)",
        "responseElements":{{"ConsoleLogin":"Success"}},"eventID":"login-{index}","eventType":"AwsConsoleSignIn",
        "recipientAccountId":"123456789012"}}"#,
        last = index % 200
    );
    Event::from_json(raw, Origin::new("console.json", index)).unwrap()
}

#[test]
fn console_login_from_new_country() {
    let start = ts("2026-03-01T00:00:00Z");
    let mut detector = BehaviourDetector::new(config());
    let mut alerts = Vec::new();
    for i in 0..60 {
        let e = console_login(start.add_millis(i * 4 * HOUR_MS), i as u32);
        enrich(&e, "US", 64496, "Example Office");
        detector.observe(&e, &mut alerts);
    }
    assert!(alerts.is_empty(), "{alerts:#?}");
    let e = console_login(start.add_millis(61 * 4 * HOUR_MS), 999);
    enrich(&e, "BR", 64501, "Example ISP");
    detector.observe(&e, &mut alerts);
    let login: Vec<&Alert> = alerts.iter().filter(|a| a.rule.id == "TH3008").collect();
    assert_eq!(login.len(), 1, "{alerts:#?}");
    assert!(
        login[0]
            .why
            .contains("its 60 earlier sign-ins never came from BR"),
        "{}",
        login[0].why
    );
}

#[test]
fn state_round_trip_and_determinism() {
    let start = ts("2026-03-01T00:00:00Z");
    let history = routine(14, start);
    let mut first = BehaviourDetector::new(config());
    feed(&mut first, &history);
    let saved = first.save_state().unwrap();
    let text = serde_json::to_string(&saved).unwrap();
    let mut again = BehaviourDetector::new(config());
    feed(&mut again, &history);
    assert_eq!(
        serde_json::to_string(&again.save_state().unwrap()).unwrap(),
        text,
        "same input, same state"
    );

    let mut restored = BehaviourDetector::new(config());
    restored
        .load_state(serde_json::from_str(&text).unwrap())
        .unwrap();
    assert_eq!(
        serde_json::to_string(&restored.save_state().unwrap()).unwrap(),
        text
    );
    let attack = event(&attack_spec(start.add_millis(14 * 24 * HOUR_MS)), 90_000);
    enrich(&attack, "NL", 64500, "Example VPN");
    let mut a = Vec::new();
    let mut b = Vec::new();
    first.observe(&attack, &mut a);
    restored.observe(&attack, &mut b);
    first.advance(Timestamp::MAX, &mut a);
    restored.advance(Timestamp::MAX, &mut b);
    assert_eq!(a.len(), 1);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );

    let mut wrong = saved.clone();
    wrong["version"] = 2.into();
    let err = BehaviourDetector::new(config())
        .load_state(wrong)
        .unwrap_err();
    assert!(
        err.to_string().contains("state version 2 is not supported"),
        "{err}"
    );
    assert!(
        BehaviourDetector::new(config())
            .load_state(serde_json::json!({"x": 1}))
            .is_err()
    );
}

#[test]
fn global_cap_evicts_least_recently_seen() {
    let start = ts("2026-03-01T00:00:00Z");
    let mut detector = BehaviourDetector::new(AnomalyConfig {
        max_principals: 100,
        ..config()
    });
    let mut out = Vec::new();
    for i in 0..1_000u32 {
        let role = format!("role-{i}");
        let mut spec = Spec::new(
            start.add_millis(i64::from(i) * 1000),
            "s3.amazonaws.com",
            "GetObject",
        );
        let role: &'static str = Box::leak(role.into_boxed_str());
        spec.role = role;
        detector.observe(&event(&spec, i), &mut out);
    }
    let (principals, _) = detector.entity_counts();
    assert!(principals <= 110, "{principals}");
}
