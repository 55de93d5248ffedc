//! `trailhound verify` run as a binary on a signed tree, intact and tampered.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use trailhound_core::Timestamp;
use trailhound_verify::{ChainSpec, DigestSigner};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn trailhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(args)
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn log_key(hhmm: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/05/04/{ACCOUNT}_CloudTrail_{REGION}_20260504T{hhmm}Z_0a1b.json.gz"
    )
}

fn write_log(root: &Path, hhmm: &str, ip: &str) {
    let (h, m) = hhmm.split_at(2);
    let body = format!(
        r#"{{"Records":[{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci","accountId":"{ACCOUNT}"}},"eventTime":"2026-05-04T{h}:{m}:12Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"{REGION}","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.15.0","eventID":"ev-{hhmm}","eventType":"AwsApiCall","recipientAccountId":"{ACCOUNT}"}}]}}"#
    );
    let path = root.join(log_key(hhmm));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

/// Three hours of logs with signed digests, and `keys.json` beside `AWSLogs/`.
fn signed_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for hhmm in ["1010", "1125", "1240"] {
        write_log(dir.path(), hhmm, "192.0.2.44");
    }
    let pem = include_str!("../../trailhound-verify/tests/data/test-key.pem");
    let signer = DigestSigner::from_pkcs1_pem(pem).unwrap();
    let first_end = Timestamp::parse("2026-05-04T11:00:00Z").unwrap();
    signer
        .write_chain(
            dir.path(),
            &ChainSpec {
                bucket: "audit-bucket-example",
                account: ACCOUNT,
                region: REGION,
                trail: "org-trail",
                first_end,
                hours: 3,
            },
        )
        .unwrap();
    let keys = signer.public_key_list(first_end.add_secs(-86_400), first_end.add_secs(86_400));
    std::fs::write(dir.path().join("keys.json"), keys.to_string()).unwrap();
    dir
}

#[test]
fn intact_tree_exits_zero_with_summary() {
    let dir = signed_tree();
    let root = dir.path().to_str().unwrap();
    let keys = dir.path().join("keys.json");
    let out = trailhound(&["verify", root, "--public-keys", keys.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "3 digests in 1 chains, 3/3 signatures valid, 3/3 log files valid: intact\n"
    );
}

#[test]
fn tampered_tree_exits_one_in_every_format() {
    let dir = signed_tree();
    write_log(dir.path(), "1125", "203.0.113.9");
    let root = dir.path().to_str().unwrap();
    let keys = dir.path().join("keys.json");
    let keys = keys.to_str().unwrap();

    let out = trailhound(&["verify", root, "--public-keys", keys]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.starts_with(&format!("log-file-modified        {}\n", log_key("1125"))),
        "{table}"
    );
    assert!(
        table.ends_with("3/3 signatures valid, 2/3 log files valid: 1 findings\n"),
        "{table}"
    );

    let out = trailhound(&["verify", root, "--public-keys", keys, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["kind"], "log-file-modified");
    assert_eq!(report["findings"][0]["file"], log_key("1125"));
    assert_eq!(report["summary"]["findings"]["log-file-modified"], 1);

    let out = trailhound(&["verify", root, "--public-keys", keys, "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule"]["id"], "TH4001");
    assert_eq!(alerts[0]["rule"]["kind"], "integrity");
    assert_eq!(alerts[0]["severity"], "critical");
    assert_eq!(alerts[0]["entity"]["account"], ACCOUNT);
}

#[test]
fn no_digests_is_an_error_and_no_keys_skips_signatures() {
    let empty = tempfile::tempdir().unwrap();
    let out = trailhound(&["verify", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no CloudTrail digest files"));

    let dir = signed_tree();
    let out = trailhound(&["verify", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("signatures not checked")
    );
}
