//! `hunt s3://…` and `verify s3://…` against a local moto S3 server started by each test on
//! loopback: the same alerts as the local copy, date-folder pruning, integrity on S3.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::Moto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use trailhound_aws::AwsSettings;
use trailhound_aws::s3::Client;
use trailhound_aws::s3::config::Credentials;
use trailhound_aws::s3::primitives::ByteStream;
use trailhound_core::Timestamp;
use trailhound_verify::{ChainSpec, DigestMetadata, DigestSigner};

/// An object to upload: key, file, user metadata.
type Upload = (String, PathBuf, Vec<(String, String)>);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A client of the moto server with dummy credentials set on the client only.
async fn client(moto: &Moto) -> Client {
    let config = trailhound_aws::load(&AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.url.clone()),
        ..AwsSettings::default()
    })
    .await;
    let conf = trailhound_aws::s3::config::Builder::from(&config)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

/// Every file under `root` as (key relative to `root`, path), sorted.
fn files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let key = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((key, path));
            }
        }
    }
    out.sort();
    out
}

/// Creates `bucket` and uploads `objects` (key, path, user metadata), 16 at a time.
async fn upload(client: &Client, bucket: &str, objects: Vec<Upload>) {
    client.create_bucket().bucket(bucket).send().await.unwrap();
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for (key, path, metadata) in objects {
        let (client, bucket, limit) = (client.clone(), bucket.to_owned(), Arc::clone(&limit));
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.unwrap();
            let mut put = client
                .put_object()
                .bucket(bucket)
                .key(&key)
                .body(ByteStream::from(std::fs::read(&path).unwrap()));
            for (name, value) in metadata {
                put = put.metadata(name, value);
            }
            put.send()
                .await
                .unwrap_or_else(|e| panic!("upload {key}: {e:?}"));
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// `trailhound ARGS` with dummy credentials and no AWS files, on the child process only.
fn trailhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(args)
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The alerts of a `--format jsonl` hunt, each event's origin cut to the key from
/// `AWSLogs/` on (a local path and an S3 URL name the same object differently).
fn alerts(output: &Output) -> Vec<serde_json::Value> {
    assert!(output.status.success(), "hunt failed: {}", stderr(output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let mut alert: serde_json::Value = serde_json::from_str(line).unwrap();
            for event in alert["events"].as_array_mut().unwrap() {
                let origin = event["origin"].as_str().unwrap();
                let at = origin
                    .find("AWSLogs/")
                    .unwrap_or_else(|| panic!("origin {origin}"));
                event["origin"] = origin[at..].into();
            }
            alert
        })
        .collect()
}

/// The number of files in the hunt summary `trailhound: N files, …`.
fn summary_files(output: &Output) -> u64 {
    let text = stderr(output);
    let line = text
        .lines()
        .find(|l| l.starts_with("trailhound: ") && l.contains(" files, "))
        .unwrap_or_else(|| panic!("no summary in {text}"));
    line["trailhound: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A generated organisation (2 accounts, 3 days from 2026-01-01, every scenario).
fn generated_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut options = trailhound_gen::GenOptions::new(dir.path());
    options.days = 3;
    options.accounts = 2;
    options.events_per_day = 120;
    options.warmup_days = 1;
    options.seed = 7;
    let summary = trailhound_gen::generate(&options, &|_| {}).unwrap();
    assert!(summary.files > 50, "{} files", summary.files);
    dir
}

#[test]
fn hunt_s3_matches_the_local_copy_and_prunes_days() {
    let tree = generated_tree();
    let root = tree.path();
    let moto = Moto::start();
    let rt = runtime();
    let all = files(root);
    rt.block_on(async {
        let client = client(&moto).await;
        let objects = all
            .iter()
            .map(|(k, p)| (k.clone(), p.clone(), Vec::new()))
            .collect();
        upload(&client, "org-trail-example", objects).await;
    });
    let local = root.to_string_lossy().into_owned();
    let flags = [
        "--aws-endpoint-url",
        moto.url.as_str(),
        "--aws-region",
        "us-east-1",
    ];

    // The whole bucket: the same alerts as the local tree, every object read.
    let mut args = vec![
        "hunt",
        "s3://org-trail-example",
        "--format",
        "jsonl",
        "--no-progress",
    ];
    args.extend(flags);
    let remote = trailhound(&args);
    let local_run = trailhound(&["hunt", &local, "--format", "jsonl", "--no-progress"]);
    let remote_alerts = alerts(&remote);
    assert!(
        remote_alerts.len() >= 3,
        "only {} alerts",
        remote_alerts.len()
    );
    assert_eq!(remote_alerts, alerts(&local_run));
    assert_eq!(summary_files(&remote), all.len() as u64);
    assert_eq!(summary_files(&remote), summary_files(&local_run));
    let origin = String::from_utf8_lossy(&remote.stdout);
    assert!(origin.contains("\"origin\":\"s3://org-trail-example/AWSLogs/"));

    // One day, the AWS settings from the config's [aws] section: only that day's folders
    // (and the first hour of the next, for late deliveries) are read.
    let config = root.join("../s3-hunt-config.toml");
    std::fs::write(
        &config,
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n",
            moto.url
        ),
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let window = ["--since", "2026-01-02", "--until", "2026-01-03"];
    let mut args = vec![
        "hunt",
        "s3://org-trail-example/AWSLogs/",
        "--format",
        "jsonl",
        "--no-progress",
        "--config",
        &config,
    ];
    args.extend(window);
    let remote = trailhound(&args);
    let mut args = vec!["hunt", local.as_str(), "--format", "jsonl", "--no-progress"];
    args.extend(window);
    let local_run = trailhound(&args);
    assert_eq!(alerts(&remote), alerts(&local_run));
    let from = Timestamp::parse("2026-01-02T00:00:00Z").unwrap();
    let to = Timestamp::parse("2026-01-03T01:00:00Z").unwrap();
    let expected = all
        .iter()
        .filter(|(key, _)| {
            key.contains("/CloudTrail/")
                && trailhound_aws::s3read::name_time(key).is_some_and(|t| t >= from && t < to)
        })
        .count() as u64;
    assert!(
        expected > 10 && expected < all.len() as u64 / 2,
        "{expected} of {}",
        all.len()
    );
    assert_eq!(summary_files(&remote), expected);
    std::fs::remove_file(&config).unwrap();
}

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
const BUCKET: &str = "audit-bucket-example";

fn log_key(hhmm: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/05/04/{ACCOUNT}_CloudTrail_{REGION}_20260504T{hhmm}Z_0a1b.json.gz"
    )
}

fn gz(body: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    gz.finish().unwrap()
}

fn log_body(hhmm: &str, ip: &str) -> String {
    let (h, m) = hhmm.split_at(2);
    format!(
        r#"{{"Records":[{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci","accountId":"{ACCOUNT}"}},"eventTime":"2026-05-04T{h}:{m}:12Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"{REGION}","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.15.0","eventID":"ev-{hhmm}","eventType":"AwsApiCall","recipientAccountId":"{ACCOUNT}"}}]}}"#
    )
}

/// Four hours of logs with signed, chained digests (the verify tests' key), `keys.json`
/// beside `AWSLogs/`; returns the dir and the objects to upload, each digest with its
/// signature as S3 user metadata (from the sidecar the signer writes).
fn signed_tree() -> (tempfile::TempDir, Vec<Upload>) {
    let dir = tempfile::tempdir().unwrap();
    for hhmm in ["1010", "1125", "1240", "1305"] {
        let path = dir.path().join(log_key(hhmm));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, gz(&log_body(hhmm, "192.0.2.44"))).unwrap();
    }
    let pem = include_str!("../../trailhound-verify/tests/data/test-key.pem");
    let signer = DigestSigner::from_pkcs1_pem(pem).unwrap();
    signer
        .write_chain(
            dir.path(),
            &ChainSpec {
                bucket: BUCKET,
                account: ACCOUNT,
                region: REGION,
                trail: "org-trail",
                first_end: Timestamp::parse("2026-05-04T11:00:00Z").unwrap(),
                hours: 4,
            },
        )
        .unwrap();
    let keys = signer.public_key_list(
        Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
        Timestamp::parse("2027-01-01T00:00:00Z").unwrap(),
    );
    std::fs::write(dir.path().join("keys.json"), keys.to_string()).unwrap();
    let mut objects = Vec::new();
    for (key, path) in files(&dir.path().join("AWSLogs")) {
        if key.ends_with(".metadata.json") {
            continue;
        }
        let mut metadata = Vec::new();
        let sidecar = DigestMetadata::sidecar_path(&path);
        if sidecar.exists() {
            let meta = DigestMetadata::parse(&std::fs::read_to_string(sidecar).unwrap()).unwrap();
            metadata.push(("signature".to_owned(), meta.signature));
            metadata.push((
                "signature-algorithm".to_owned(),
                meta.signature_algorithm.unwrap(),
            ));
        }
        objects.push((format!("AWSLogs/{key}"), path, metadata));
    }
    assert_eq!(objects.len(), 8);
    (dir, objects)
}

fn verify(moto: &Moto, url: &str, keys: &Path, format: &str) -> Output {
    trailhound(&[
        "verify",
        url,
        "--public-keys",
        &keys.to_string_lossy(),
        "--format",
        format,
        "--aws-endpoint-url",
        &moto.url,
        "--aws-region",
        "us-east-1",
    ])
}

#[test]
fn verify_s3_intact_then_modified_and_deleted() {
    let (dir, objects) = signed_tree();
    let keys = dir.path().join("keys.json");
    let moto = Moto::start();
    let rt = runtime();
    let client = rt.block_on(async {
        let client = client(&moto).await;
        upload(&client, BUCKET, objects.clone()).await;
        client
    });
    let url = format!("s3://{BUCKET}/AWSLogs/{ACCOUNT}/");

    let intact = verify(&moto, &url, &keys, "table");
    let out = String::from_utf8_lossy(&intact.stdout).into_owned();
    assert_eq!(intact.status.code(), Some(0), "{out}{}", stderr(&intact));
    assert!(
        out.contains("4 digests in 1 chains, 4/4 signatures valid, 4/4 log files valid: intact"),
        "{out}"
    );

    // Tamper: one log object rewritten, the second digest deleted.
    let modified = log_key("1305");
    let deleted = objects
        .iter()
        .map(|(k, _, _)| k.clone())
        .filter(|k| k.contains("/CloudTrail-Digest/"))
        .nth(1)
        .unwrap();
    rt.block_on(async {
        client
            .put_object()
            .bucket(BUCKET)
            .key(&modified)
            .body(ByteStream::from(gz(&log_body("1305", "203.0.113.99"))))
            .send()
            .await
            .unwrap();
        client
            .delete_object()
            .bucket(BUCKET)
            .key(&deleted)
            .send()
            .await
            .unwrap();
    });
    let tampered = verify(&moto, &url, &keys, "json");
    assert_eq!(tampered.status.code(), Some(1), "{}", stderr(&tampered));
    let report: serde_json::Value = serde_json::from_slice(&tampered.stdout).unwrap();
    let findings: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["file"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        findings.contains(&("log-file-modified".to_owned(), modified.clone())),
        "{findings:?}"
    );
    assert!(
        findings.contains(&("digest-missing".to_owned(), deleted.clone())),
        "{findings:?}"
    );
    // The deleted digest listed the 11:25 log file, which is now listed nowhere.
    assert!(
        findings.iter().all(|(kind, _)| [
            "log-file-modified",
            "digest-missing",
            "log-file-not-in-digest"
        ]
        .contains(&kind.as_str())),
        "{findings:?}"
    );
    assert_eq!(report["summary"]["digests"], 3);
    assert_eq!(report["summary"]["signatures_verified"], 3);

    // A digest without its signature metadata.
    rt.block_on(async {
        let (key, path, _) = objects
            .iter()
            .find(|(k, _, _)| k.contains("/CloudTrail-Digest/"))
            .unwrap();
        client
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(std::fs::read(path).unwrap()))
            .send()
            .await
            .unwrap();
    });
    let unsigned = verify(&moto, &url, &keys, "table");
    let out = String::from_utf8_lossy(&unsigned.stdout).into_owned();
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(out.contains("signature-missing"), "{out}");
    assert!(
        out.contains("the digest object has no signature metadata"),
        "{out}"
    );

    // No digest under the prefix: an error, not a pass.
    let empty = verify(
        &moto,
        &format!("s3://{BUCKET}/nothing-here/"),
        &keys,
        "table",
    );
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
    assert!(
        stderr(&empty).contains("no CloudTrail digest objects"),
        "{}",
        stderr(&empty)
    );
}
