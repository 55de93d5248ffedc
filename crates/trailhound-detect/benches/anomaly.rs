//! Anomaly stage throughput with 10,000 principals, and baseline memory with 1,000,000
//! distinct principals.
//!
//! `cargo bench -p trailhound-detect --bench anomaly`. The memory figure is printed to stderr
//! (set `ANOMALY_MEMORY_PRINCIPALS` to change the count).
#![allow(clippy::print_stderr, clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group};
use trailhound_core::{Alert, Enrichment, Event, Origin, SmallStr, Timestamp};
use trailhound_detect::Detector;
use trailhound_detect::anomaly::{AnomalyConfig, BehaviourDetector, InsightsDetector};

const APIS: [(&str, &str, bool); 8] = [
    ("s3.amazonaws.com", "GetObject", true),
    ("s3.amazonaws.com", "PutObject", false),
    ("ec2.amazonaws.com", "DescribeInstances", true),
    ("sts.amazonaws.com", "AssumeRole", false),
    ("kms.amazonaws.com", "Decrypt", true),
    ("dynamodb.amazonaws.com", "PutItem", false),
    ("ssm.amazonaws.com", "GetParameter", true),
    ("lambda.amazonaws.com", "Invoke", false),
];

fn make_event(i: u64, principals: u64, start: Timestamp) -> Event {
    let p = i % principals;
    let (source, name, read_only) =
        APIS[(i.wrapping_mul(2_654_435_761) % APIS.len() as u64) as usize];
    let time = start.add_millis((i * 20) as i64);
    let ip = format!("198.51.{}.{}", (p / 250) % 250, p % 250);
    let raw = format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"AROA{p}:s",
        "arn":"arn:aws:sts::123456789012:assumed-role/role-{p}/s","accountId":"123456789012","accessKeyId":"ASIA{p}",
        "sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::123456789012:role/role-{p}",
        "accountId":"123456789012","userName":"role-{p}"}}}}}},"eventTime":"{time}","eventSource":"{source}",
        "eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"Boto3/1.34.2 md/Botocore#1.34.2",
        "readOnly":{read_only},"eventID":"e{i}","managementEvent":true,"recipientAccountId":"123456789012"}}"#
    );
    let event = Event::from_json(raw, Origin::new("bench", i as u32)).unwrap();
    event.set_enrichment(Enrichment {
        country: Some(SmallStr::new(if p.is_multiple_of(7) { "DE" } else { "US" })),
        asn: Some(64_496 + (p % 10) as u32),
        as_org: Some(SmallStr::new("Example")),
        cloud: None,
    });
    event
}

fn throughput(c: &mut Criterion) {
    let start = Timestamp::parse("2026-03-01T00:00:00Z").unwrap();
    let events: Vec<Event> = (0..200_000).map(|i| make_event(i, 10_000, start)).collect();
    let config = AnomalyConfig::default();
    let mut group = c.benchmark_group("anomaly");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.bench_function("behaviour+insights/10k-principals", |b| {
        b.iter(|| {
            let mut behaviour = BehaviourDetector::new(config.clone());
            let mut insights = InsightsDetector::new(config.insights.clone());
            let mut out: Vec<Alert> = Vec::new();
            for event in &events {
                behaviour.observe(event, &mut out);
                insights.observe(event, &mut out);
            }
            out.len()
        });
    });
    group.finish();
}

fn memory() {
    let principals: u64 = std::env::var("ANOMALY_MEMORY_PRINCIPALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let start = Timestamp::parse("2026-03-01T00:00:00Z").unwrap();
    for cap in [200_000usize, 1_000_000] {
        let config = AnomalyConfig {
            max_principals: cap,
            ..AnomalyConfig::default()
        };
        let mut behaviour = BehaviourDetector::new(config);
        let mut out = Vec::new();
        for i in 0..principals {
            behaviour.observe(&make_event(i, principals, start), &mut out);
        }
        let (held, _) = behaviour.entity_counts();
        eprintln!(
            "anomaly memory: {principals} distinct principals, max_principals {cap}: {held} baselines held, \
             ~{:.1} MiB of baseline state ({:.0} bytes per principal)",
            behaviour.approx_heap_bytes() as f64 / 1_048_576.0,
            behaviour.approx_heap_bytes() as f64 / held.max(1) as f64
        );
    }
}

criterion_group!(benches, throughput);

fn main() {
    memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
