//! Builds small CloudTrail trees with signed digests for the tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use trailhound_core::Timestamp;
use trailhound_verify::{ChainSpec, DigestSigner, PublicKeys, VerifyOptions};

pub(crate) const ACCOUNT: &str = "123456789012";
pub(crate) const REGION: &str = "us-east-1";
pub(crate) const BUCKET: &str = "trail-bucket-example";
pub(crate) const TRAIL: &str = "management-trail";

/// The log files of the tree: (delivery time HHMM on 2026-03-10, unique id).
pub(crate) const LOGS: &[(&str, &str)] = &[
    ("0005", "a1b2"),
    ("0035", "c3d4"),
    ("0105", "e5f6"),
    ("0135", "a7b8"),
    ("0205", "c9d0"),
    ("0305", "e1f2"),
    ("0335", "a3b4"),
];

pub(crate) fn signer() -> DigestSigner {
    let pem = include_str!("../data/test-key.pem");
    DigestSigner::from_pkcs1_pem(pem).unwrap()
}

pub(crate) fn other_signer() -> DigestSigner {
    let pem = include_str!("../data/other-key.pem");
    DigestSigner::from_pkcs1_pem(pem).unwrap()
}

pub(crate) fn log_key(hhmm: &str, id: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/03/10/{ACCOUNT}_CloudTrail_{REGION}_20260310T{hhmm}Z_{id}.json.gz"
    )
}

pub(crate) fn digest_key(hh: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/03/10/{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_20260310T{hh}0000Z.json.gz"
    )
}

/// A CloudTrail log file body with two records.
pub(crate) fn log_body(hhmm: &str, id: &str) -> String {
    let (h, m) = hhmm.split_at(2);
    let record = |n: u32, name: &str, ip: &str| {
        format!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLEID000000{n}","arn":"arn:aws:iam::{ACCOUNT}:user/alice","accountId":"{ACCOUNT}","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"alice"}},"eventTime":"2026-03-10T{h}:{m}:0{n}Z","eventSource":"iam.amazonaws.com","eventName":"{name}","awsRegion":"{REGION}","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.15.0","requestParameters":null,"responseElements":null,"requestID":"req-{id}-{n}","eventID":"ev-{id}-{n}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{ACCOUNT}","eventCategory":"Management"}}"#
        )
    };
    format!(
        r#"{{"Records":[{},{}]}}"#,
        record(1, "ListUsers", "192.0.2.10"),
        record(2, "GetAccountSummary", "198.51.100.20")
    )
}

pub(crate) fn write_gz(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

pub(crate) fn start() -> Timestamp {
    Timestamp::parse("2026-03-10T01:00:00Z").unwrap()
}

/// A tree of seven log files over four hours (00–04) with four signed, chained digests and
/// the public key file `keys.json` beside `AWSLogs/`.
pub(crate) struct TestTree {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) digests: Vec<PathBuf>,
}

impl TestTree {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (hhmm, id) in LOGS {
            write_gz(&dir.path().join(log_key(hhmm, id)), &log_body(hhmm, id));
        }
        let signer = signer();
        let digests = signer
            .write_chain(
                dir.path(),
                &ChainSpec {
                    bucket: BUCKET,
                    account: ACCOUNT,
                    region: REGION,
                    trail: TRAIL,
                    first_end: start(),
                    hours: 4,
                },
            )
            .unwrap();
        let keys = signer.public_key_list(
            Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            Timestamp::parse("2027-01-01T00:00:00Z").unwrap(),
        );
        std::fs::write(dir.path().join("keys.json"), keys.to_string()).unwrap();
        TestTree { dir, digests }
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, key: &str) -> PathBuf {
        self.dir.path().join(key)
    }

    pub(crate) fn options(&self) -> VerifyOptions {
        VerifyOptions {
            public_keys: Some(PublicKeys::load(&self.dir.path().join("keys.json")).unwrap()),
        }
    }
}
