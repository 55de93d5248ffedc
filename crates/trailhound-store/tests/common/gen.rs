//! A deterministic generator of realistic-looking CloudTrail records for benchmarks and
//! scale runs (documentation-range IPs, example account ids).
#![allow(dead_code, unreachable_pub)]

use trailhound_core::{Event, Origin};

/// xorshift64*: fast, deterministic, good enough for shaping test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const APIS: &[(&str, &str, bool)] = &[
    ("s3.amazonaws.com", "GetObject", true),
    ("s3.amazonaws.com", "PutObject", false),
    ("s3.amazonaws.com", "ListObjects", true),
    ("ec2.amazonaws.com", "DescribeInstances", true),
    ("ec2.amazonaws.com", "RunInstances", false),
    ("iam.amazonaws.com", "GetUser", true),
    ("iam.amazonaws.com", "ListRoles", true),
    ("sts.amazonaws.com", "AssumeRole", false),
    ("sts.amazonaws.com", "GetCallerIdentity", true),
    ("kms.amazonaws.com", "Decrypt", true),
    ("kms.amazonaws.com", "GenerateDataKey", true),
    ("lambda.amazonaws.com", "Invoke", false),
    ("logs.amazonaws.com", "PutLogEvents", false),
    ("dynamodb.amazonaws.com", "GetItem", true),
    ("cloudtrail.amazonaws.com", "LookupEvents", true),
];
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
];
const ACCOUNTS: &[&str] = &["123456789012", "111122223333", "444455556666"];
const AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64.ubuntu.22",
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.1",
    "Boto3/1.34.59 md/Botocore#1.34.59 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/122.0 Safari/537.36",
    "terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0",
];

/// The access key id of principal `p`.
pub fn key_of(p: u64) -> String {
    format!("AKIAEXAMPLE{p:09}")
}

/// The ARN of principal `p`.
pub fn arn_of(p: u64) -> String {
    let account = ACCOUNTS[(p % ACCOUNTS.len() as u64) as usize];
    format!("arn:aws:iam::{account}:user/user{p:04}")
}

/// Record `i` of the stream as JSON text: 2,000 principals, 5,000 source addresses, one
/// event every 10 ms from 2026-03-01.
pub fn record(rng: &mut Rng, i: u64) -> String {
    let p = rng.below(2000);
    let (source, name, read_only) = APIS[rng.below(APIS.len() as u64) as usize];
    let account = ACCOUNTS[(p % ACCOUNTS.len() as u64) as usize];
    let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
    let agent = AGENTS[(p % AGENTS.len() as u64) as usize];
    let ip_n = (p * 7 + rng.below(3)) % 5000;
    let ip = match ip_n % 3 {
        0 => format!("192.0.2.{}", ip_n % 250 + 1),
        1 => format!("198.51.100.{}", ip_n % 250 + 1),
        _ => format!("203.0.113.{}", ip_n % 250 + 1),
    };
    let ms = 1_772_323_200_000_u64 + i * 10;
    let secs = ms / 1000;
    let (day, rem) = (secs / 86_400, secs % 86_400);
    // 2026-03-01 is day 20513; the generator stays within 2026-03 for up to 26M events.
    let dom = day - 20_513 + 1;
    let time = format!(
        "2026-03-{dom:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let bucket = format!("example-data-{:03}", rng.below(300));
    let (request, response) = match source {
        "s3.amazonaws.com" => (
            format!(r#"{{"bucketName":"{bucket}","Host":"{bucket}.s3.{region}.amazonaws.com","key":"reports/{}/part-{:05}.csv"}}"#, rng.below(1000), rng.below(100_000)),
            "null".to_owned(),
        ),
        "ec2.amazonaws.com" if name == "RunInstances" => (
            r#"{"instanceType":"t3.micro","minCount":1,"maxCount":1,"imageId":"ami-0abcdef1234567890"}"#.to_owned(),
            format!(r#"{{"instancesSet":{{"items":[{{"instanceId":"i-{:017x}","currentState":{{"code":0,"name":"pending"}}}}]}}}}"#, rng.next() >> 4),
        ),
        "sts.amazonaws.com" if name == "AssumeRole" => (
            format!(r#"{{"roleArn":"arn:aws:iam::{account}:role/app-{}","roleSessionName":"session-{}","durationSeconds":3600}}"#, p % 40, rng.below(10_000)),
            format!(r#"{{"credentials":{{"accessKeyId":"ASIAEXAMPLE{:09}","expiration":"Mar 1, 2026 11:00:00 AM"}}}}"#, rng.below(1_000_000_000)),
        ),
        "kms.amazonaws.com" => (
            format!(r#"{{"keyId":"arn:aws:kms:{region}:{account}:key/{:08x}-1111-2222-3333-444455556666","encryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#, rng.below(50)),
            "null".to_owned(),
        ),
        _ => ("null".to_owned(), "null".to_owned()),
    };
    let host = format!(
        "{}.{region}.amazonaws.com",
        source.trim_end_matches(".amazonaws.com")
    );
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLE{p:09}","arn":"{arn}","accountId":"{account}","accessKeyId":"{key}","userName":"user{p:04}"}},"eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"{agent}","requestParameters":{request},"responseElements":{response},"requestID":"{req:016X}","eventID":"{id:08x}-{a:04x}-4{b:03x}-8{c:03x}-{d:012x}","readOnly":{read_only},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}}}"#,
        arn = arn_of(p),
        key = key_of(p),
        req = rng.next(),
        id = i,
        a = rng.below(0x10000),
        b = rng.below(0x1000),
        c = rng.below(0x1000),
        d = rng.next() >> 16,
    )
}

/// `n` decoded events starting at record `start`, and their raw size in bytes.
pub fn events(rng: &mut Rng, start: u64, n: u64) -> (Vec<Event>, u64) {
    let mut bytes = 0;
    let events = (start..start + n)
        .map(|i| {
            let raw = record(rng, i);
            bytes += raw.len() as u64 + 1;
            Event::from_json(raw, Origin::new("gen", i as u32)).unwrap()
        })
        .collect();
    (events, bytes)
}
