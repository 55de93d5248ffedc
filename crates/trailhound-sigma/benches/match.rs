//! Events/s matching the SigmaHQ CloudTrail rules, routing on vs off, 60 vs 600 rules.
//!
//! Reads the rules from the shared corpus beside the repository; skips when it is absent.
//! The larger set clones every eventName-routed rule with its eventNames varied (rules that
//! run on every event cannot be varied that way and are kept once).

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trailhound_core::{Event, Origin};
use trailhound_sigma::{RuleSet, RuleSource, SigmaConfig, read_dirs};

fn corpus() -> Option<Vec<RuleSource>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/sigma/rules/cloud/aws/cloudtrail");
    read_dirs(&[dir]).ok().filter(|s| !s.is_empty())
}

const NAMES: &[(&str, &str)] = &[
    ("s3.amazonaws.com", "GetObject"),
    ("s3.amazonaws.com", "PutObject"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("kms.amazonaws.com", "Decrypt"),
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("iam.amazonaws.com", "ListRoles"),
    ("lambda.amazonaws.com", "Invoke"),
    ("cloudtrail.amazonaws.com", "StopLogging"),
    ("iam.amazonaws.com", "CreateAccessKey"),
    ("signin.amazonaws.com", "ConsoleLogin"),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
    ("ssm.amazonaws.com", "SendCommand"),
];

fn events() -> Vec<Event> {
    (0..1200)
        .map(|i| {
            let (src, name) = NAMES[i % NAMES.len()];
            let raw = format!(
                r#"{{"eventVersion":"1.10","eventTime":"2026-03-04T05:{:02}:{:02}Z","eventSource":"{src}",
                "eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.{}",
                "userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.1","eventID":"ev-{i}","readOnly":true,
                "eventType":"AwsApiCall","recipientAccountId":"123456789012",
                "userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:s{i}",
                  "arn":"arn:aws:sts::123456789012:assumed-role/app/s{i}","accountId":"123456789012",
                  "accessKeyId":"ASIAEXAMPLE","sessionContext":{{"sessionIssuer":{{"type":"Role",
                  "arn":"arn:aws:iam::123456789012:role/app","userName":"app"}}}}}},
                "requestParameters":{{"bucketName":"logs-{i}","key":"a/b/c.json"}},"responseElements":null}}"#,
                (i / 60) % 60,
                i % 60,
                i % 250
            );
            Event::from_json(raw, Origin::new("bench", u32::try_from(i).unwrap_or(0))).unwrap()
        })
        .collect()
}

/// `copies` copies of every rule, each copy's eventNames suffixed so copies never overlap.
fn scaled(sources: &[RuleSource], copies: usize) -> Vec<RuleSource> {
    let config = SigmaConfig::default();
    let mut out = Vec::new();
    for c in 0..copies {
        for s in sources {
            let routed = RuleSet::compile(std::slice::from_ref(s), &config)
                .is_ok_and(|set| set.routing_summary().1 == 0);
            if c > 0 && !routed {
                continue;
            }
            let mut text = s.text.replace("\nid: ", &format!("\nid: copy{c}-"));
            if c > 0 {
                // Vary literal eventNames: `eventName: 'X'` and list items under eventName.
                let mut lines = Vec::new();
                let mut in_names = false;
                for line in text.lines() {
                    let t = line.trim_start();
                    if t.starts_with("eventName:") {
                        in_names = t.trim_end() == "eventName:";
                        if !in_names {
                            let v = t
                                .strip_prefix("eventName:")
                                .unwrap_or("")
                                .trim()
                                .trim_matches('\'');
                            let indent = &line[..line.len() - t.len()];
                            lines.push(format!("{indent}eventName: '{v}V{c}'"));
                            continue;
                        }
                    } else if in_names && t.starts_with("- ") {
                        let v = t[2..].trim().trim_matches('\'');
                        let indent = &line[..line.len() - t.len()];
                        lines.push(format!("{indent}- '{v}V{c}'"));
                        continue;
                    } else {
                        in_names = false;
                    }
                    lines.push(line.to_owned());
                }
                text = lines.join("\n");
            }
            out.push(RuleSource {
                path: format!("{}#{c}", s.path),
                text,
            });
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let Some(sources) = corpus() else {
        eprintln!("sigma bench skipped: the SigmaHQ corpus is not beside the repository");
        return;
    };
    let events = events();
    let config = SigmaConfig::default();
    let mut group = c.benchmark_group("sigma_match");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    for copies in [1usize, 12] {
        let set = RuleSet::compile(&scaled(&sources, copies), &config).unwrap();
        let (routed, all) = set.routing_summary();
        eprintln!(
            "sigma bench: {} rules, {routed} routed, {all} on every event",
            set.rules().len()
        );
        let n = set.rules().len();
        // Warm the lazily parsed JSON so both modes measure matching, not parsing.
        let mut out = Vec::new();
        for e in &events {
            set.matching_unrouted(e, &mut out);
        }
        group.bench_function(format!("routed/{n}_rules"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                for e in &events {
                    set.matching(black_box(e), &mut out);
                }
                out.len()
            });
        });
        group.bench_function(format!("unrouted/{n}_rules"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                for e in &events {
                    set.matching_unrouted(black_box(e), &mut out);
                }
                out.len()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
