//! Synthetic CloudTrail streams for the anomaly tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use trailhound_core::{Enrichment, Event, Origin, SmallStr, Timestamp};

/// A deterministic pseudo-random source (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    /// Exponential inter-arrival in milliseconds for `per_minute`.
    pub fn gap_ms(&mut self, per_minute: f64) -> i64 {
        (-self.unit().ln() / per_minute * 60_000.0) as i64
    }
}

/// One record's knobs.
#[derive(Clone)]
pub struct Spec<'a> {
    pub time: Timestamp,
    pub source: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub read_only: bool,
    pub error: Option<(&'a str, &'a str)>,
    pub region: &'a str,
    pub account: &'a str,
    pub extra_identity: &'a str,
}

impl<'a> Spec<'a> {
    pub fn new(time: Timestamp, source: &'a str, name: &'a str) -> Self {
        Spec {
            time,
            source,
            name,
            role: "app",
            ip: "198.51.100.10",
            user_agent: "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64",
            read_only: false,
            error: None,
            region: "us-east-1",
            account: "123456789012",
            extra_identity: "",
        }
    }
}

/// A record for a role session of `spec.role`.
pub fn event(spec: &Spec<'_>, index: u32) -> Event {
    let error = match spec.error {
        Some((code, message)) => format!(r#","errorCode":"{code}","errorMessage":"{message}""#),
        None => String::new(),
    };
    let raw = format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:session",
        "arn":"arn:aws:sts::{acct}:assumed-role/{role}/session","accountId":"{acct}","accessKeyId":"ASIAEXAMPLE{index}",
        "sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE",
        "arn":"arn:aws:iam::{acct}:role/{role}","accountId":"{acct}","userName":"{role}"}}{extra}}}}},
        "eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}",
        "sourceIPAddress":"{ip}","userAgent":"{ua}","readOnly":{ro},"eventID":"ev-{index}",
        "eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}"{error}}}"#,
        acct = spec.account,
        role = spec.role,
        extra = spec.extra_identity,
        time = spec.time,
        source = spec.source,
        name = spec.name,
        region = spec.region,
        ip = spec.ip,
        ua = spec.user_agent,
        ro = spec.read_only,
    );
    Event::from_json(raw, Origin::new("synthetic.json", index)).unwrap()
}

/// Sets enrichment as the enricher would.
pub fn enrich(event: &Event, country: &str, asn: u32, org: &str) {
    event.set_enrichment(Enrichment {
        country: Some(SmallStr::new(country)),
        asn: Some(asn),
        as_org: Some(SmallStr::new(org)),
        cloud: None,
    });
}

pub fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}
