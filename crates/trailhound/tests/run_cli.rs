//! `trailhound run` against a local moto server (S3 + SQS) started by each test on loopback.
//! moto is installed by scripts/test-deps.sh; a missing moto fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::Moto;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use trailhound_aws::{AwsSettings, s3, sqs};

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "trail-bucket";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// AWS clients of the test itself, with dummy credentials set on the clients.
struct Aws {
    runtime: tokio::runtime::Runtime,
    s3: s3::Client,
    sqs: sqs::Client,
}

impl Aws {
    fn new(endpoint: &str) -> Aws {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let settings = AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint.into()),
            ..AwsSettings::default()
        };
        let sdk = runtime.block_on(trailhound_aws::load(&settings));
        let creds = s3::config::Credentials::new("testing", "testing", None, None, "test");
        let s3 = s3::Client::from_conf(
            s3::config::Builder::from(&sdk)
                .credentials_provider(creds.clone())
                .force_path_style(true)
                .build(),
        );
        let sqs = sqs::Client::from_conf(
            sqs::config::Builder::from(&sdk)
                .credentials_provider(creds)
                .build(),
        );
        Aws { runtime, s3, sqs }
    }

    fn create_bucket(&self) {
        self.runtime
            .block_on(self.s3.create_bucket().bucket(BUCKET).send())
            .unwrap();
    }

    fn create_queue(&self, name: &str) -> String {
        self.runtime
            .block_on(self.sqs.create_queue().queue_name(name).send())
            .unwrap()
            .queue_url
            .unwrap()
    }

    fn put(&self, key: &str, body: Vec<u8>) {
        self.runtime
            .block_on(
                self.s3
                    .put_object()
                    .bucket(BUCKET)
                    .key(key)
                    .body(body.into())
                    .send(),
            )
            .unwrap();
    }

    fn send(&self, queue: &str, body: &str) {
        self.runtime
            .block_on(
                self.sqs
                    .send_message()
                    .queue_url(queue)
                    .message_body(body)
                    .send(),
            )
            .unwrap();
    }

    fn receive_all(&self, queue: &str) -> Vec<String> {
        let out = self
            .runtime
            .block_on(
                self.sqs
                    .receive_message()
                    .queue_url(queue)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send(),
            )
            .unwrap();
        out.messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.body)
            .collect()
    }

    /// Visible plus in-flight messages.
    fn backlog(&self, queue: &str) -> u64 {
        let out = self
            .runtime
            .block_on(
                self.sqs
                    .get_queue_attributes()
                    .queue_url(queue)
                    .attribute_names(sqs::types::QueueAttributeName::All)
                    .send(),
            )
            .unwrap();
        let attrs = out.attributes.unwrap_or_default();
        [
            sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
            sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|k| attrs.get(k))
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
    }
}

/// A CloudTrail record: an IAM user's call from a documentation address.
fn record(id: &str, name: &str, source: &str, minute: u32) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE",
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"), "accountId": ACCOUNT,
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "alice"},
        "eventTime": format!("2026-01-15T10:{:02}:{:02}Z", minute % 60, (minute * 7) % 60),
        "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0 Python/3.11",
        "requestParameters": {"name": "management-trail"}, "responseElements": null,
        "requestID": format!("req-{id}"), "eventID": id, "readOnly": false,
        "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": ACCOUNT, "eventCategory": "Management"
    })
}

/// One log file: `n` records, the last a StopLogging (TH1001).
fn log_file(file: usize, n: usize) -> (String, Vec<u8>, Vec<serde_json::Value>) {
    let mut records: Vec<_> = (0..n - 1)
        .map(|i| {
            record(
                &format!("f{file:03}-e{i:05}"),
                "DescribeInstances",
                "ec2.amazonaws.com",
                u32::try_from(file).unwrap(),
            )
        })
        .collect();
    records.push(record(
        &format!("f{file:03}-stop"),
        "StopLogging",
        "cloudtrail.amazonaws.com",
        u32::try_from(file).unwrap(),
    ));
    let text = serde_json::json!({ "Records": records }).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let key = format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/01/15/{ACCOUNT}_CloudTrail_us-east-1_20260115T10{:02}Z_f{file:03}.json.gz",
        file % 60
    );
    (key, gz.finish().unwrap(), records)
}

fn s3_notification(key: &str) -> String {
    serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
        "awsRegion": "us-east-1", "eventTime": "2026-01-15T10:05:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET,
            "arn": format!("arn:aws:s3:::{BUCKET}")}, "object": {"key": key, "size": 1}}}]})
    .to_string()
}

fn config(dir: &Path, moto: &str, queue: &str, dlq: Option<&str>, listen: Option<u16>) -> PathBuf {
    let mut text = format!(
        "version = 1\n[anomaly]\nenabled = false\n[metric_filters]\ncis = false\n\n[run]\n\
         checkpoint_interval_secs = 1\n{}\n[run.aws]\nregion = \"us-east-1\"\nendpoint_url = \"{moto}\"\n\
         [[run.sqs]]\nqueue_url = \"{queue}\"\nwait_time_secs = 1\nvisibility_timeout_secs = 4\n",
        listen.map_or(String::new(), |p| format!("listen = \"127.0.0.1:{p}\"")),
    );
    if let Some(dlq) = dlq {
        text.push_str(&format!("dead_letter_queue_url = \"{dlq}\"\n"));
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `trailhound run`, its stdout and stderr drained by two threads as it writes them
/// (a pipe nobody reads fills at 64 KiB and would stall the daemon).
struct Daemon {
    child: Child,
    out: std::thread::JoinHandle<String>,
    err: std::thread::JoinHandle<String>,
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    })
}

fn start_daemon(config: &Path, store: &Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .arg("run")
        .arg("--config")
        .arg(config)
        .arg("--store")
        .arg(store)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TRAILHOUND_LOG", "trailhound_live=debug,info")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    Daemon { child, out, err }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends SIGTERM and returns stdout and stderr.
fn stop(mut daemon: Daemon) -> (String, String) {
    signal(&daemon.child, "TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if daemon.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    output(daemon)
}

/// Waits for the daemon to exit and returns its stdout and stderr.
fn output(mut daemon: Daemon) -> (String, String) {
    daemon.child.wait().unwrap();
    (daemon.out.join().unwrap(), daemon.err.join().unwrap())
}

fn stored_events(store: &Path) -> u64 {
    if !store.join("trailhound.db").exists() {
        return 0;
    }
    trailhound_store::Store::open_read_only(store)
        .and_then(|s| s.event_count())
        .unwrap_or(0)
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Alert ids of one rule in the daemon's JSON-lines stdout. A daemon killed with SIGKILL can
/// leave its last line cut short; only that unterminated line may be unreadable.
fn alert_ids(stdout: &str, rule: &str) -> Vec<String> {
    let complete = match stdout.rfind('\n') {
        Some(end) => &stdout[..end],
        None => "",
    };
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["rule"]["id"] == rule)
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

fn http_get(port: u16, path: &str) -> String {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
}

/// Sends one raw HTTP/1.1 request to the loopback port and returns the whole answer.
fn http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn notifications_of_every_kind_to_alerts_with_poison_dead_lettered() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url);
    aws.create_bucket();
    let queue = aws.create_queue("trail-notifications");
    let dlq = aws.create_queue("trail-dead-letters");
    let mut files = Vec::new();
    for file in 0..3 {
        let (key, body, records) = log_file(file, 50);
        aws.put(&key, body);
        files.push((key, records));
    }
    let corrupt_key = format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/01/15/{ACCOUNT}_CloudTrail_us-east-1_20260115T1059Z_corrupt.json.gz"
    );
    let mut corrupt = vec![0x1f, 0x8b, 0x08, 0x00];
    corrupt.extend_from_slice(b"this is not deflate data at all");
    aws.put(&corrupt_key, corrupt);
    // Plain S3 notification, the same wrapped by SNS, EventBridge Object Created.
    aws.send(&queue, &s3_notification(&files[0].0));
    let sns = serde_json::json!({"Type": "Notification", "MessageId": "m-1",
        "TopicArn": format!("arn:aws:sns:us-east-1:{ACCOUNT}:trail-topic"),
        "Message": s3_notification(&files[1].0)});
    aws.send(&queue, &sns.to_string());
    let eventbridge = serde_json::json!({"version": "0", "id": "eb-1",
        "detail-type": "Object Created", "source": "aws.s3", "account": ACCOUNT,
        "region": "us-east-1", "detail": {"version": "0", "bucket": {"name": BUCKET},
            "object": {"key": files[2].0, "size": 1}, "reason": "PutObject"}});
    aws.send(&queue, &eventbridge.to_string());
    aws.send(&queue, &s3_notification(&corrupt_key));
    // The low-latency path: file 0's StopLogging again, as EventBridge delivers it.
    let api_call = serde_json::json!({"version": "0", "id": "eb-2",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.cloudtrail",
        "account": ACCOUNT, "region": "us-east-1", "detail": files[0].1.last().unwrap()});
    aws.send(&queue, &api_call.to_string());
    // And a CloudTrail SNS notice pointing at file 1 again: nothing new.
    let notice = serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": [files[1].0]});
    aws.send(
        &queue,
        &serde_json::json!({"Type": "Notification", "Message": notice.to_string()}).to_string(),
    );

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let port = free_port();
    let config = config(dir.path(), &moto.url, &queue, Some(&dlq), Some(port));
    let daemon = start_daemon(&config, &store);
    wait_for("150 stored events", Duration::from_secs(60), || {
        stored_events(&store) == 150
    });
    wait_for("the queue to drain", Duration::from_secs(30), || {
        aws.backlog(&queue) == 0
    });
    let health = http_get(port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = http_get(port, "/metrics");
    assert!(
        metrics.contains("trailhound_events_total 150\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trailhound_dead_lettered_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trailhound_errors_total{reason=\"corrupt-gzip\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trailhound_alerts_total{severity="),
        "{metrics}"
    );
    assert!(
        metrics.contains("trailhound_queue_depth{queue="),
        "{metrics}"
    );
    let (stdout, stderr) = stop(daemon);
    let mut ids = alert_ids(&stdout, "TH1001");
    ids.sort();
    let distinct: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(
        ids.len(),
        3,
        "one StopLogging alert per file, the repeat detected once: {stdout}\n{stderr}"
    );
    assert_eq!(distinct.len(), 3);
    let dead = aws.receive_all(&dlq);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].contains("corrupt") && dead[0].contains("corrupt-gzip"),
        "{}",
        dead[0]
    );
    assert!(stderr.contains("150 events detected"), "{stderr}");
}

#[test]
fn killed_mid_batch_and_restarted_stores_every_event_once() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url);
    aws.create_bucket();
    let queue = aws.create_queue("trail-kill");
    // Many small objects, and the kill as soon as the first is committed: the daemon drains
    // moto at tens of objects a second, so a small backlog could be gone before the kill.
    let (files, per_file) = (40, 150);
    for file in 0..files {
        let (key, body, _) = log_file(file, per_file);
        aws.put(&key, body);
        aws.send(&queue, &s3_notification(&key));
    }
    let total = (files * per_file) as u64;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let config = config(dir.path(), &moto.url, &queue, None, None);

    let mut first = start_daemon(&config, &store);
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored_events(&store) < per_file as u64 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for a first commit"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let (first_out, first_err) = output(first);
    let stored_at_kill = stored_events(&store);
    assert!(
        stored_at_kill < total,
        "the kill came too late to test anything"
    );

    let second = start_daemon(&config, &store);
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored_events(&store) != total {
        if Instant::now() > deadline {
            let (_, stderr) = stop(second);
            panic!(
                "stored {} of {total} events\n{stderr}",
                stored_events(&store)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for("the queue to drain", Duration::from_secs(60), || {
        aws.backlog(&queue) == 0
    });
    let (second_out, stderr) = stop(second);

    let read = trailhound_store::Store::open_read_only(&store).unwrap();
    let rows = read
        .query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
        .unwrap();
    assert_eq!(rows.rows[0][0], serde_json::json!(total), "{stderr}");
    assert_eq!(rows.rows[0][1], serde_json::json!(total));
    // Every alert at least once over both runs, and every one in the store.
    let first_ids = alert_ids(&first_out, "TH1001");
    let mut delivered: BTreeSet<String> = first_ids.iter().cloned().collect();
    delivered.extend(alert_ids(&second_out, "TH1001"));
    assert_eq!(
        delivered.len(),
        files,
        "first run: {first_ids:?}\n{first_err}\nsecond run:\n{stderr}"
    );
    let stored = read
        .query("SELECT count(*) FROM alerts WHERE rule_id = 'TH1001'")
        .unwrap();
    assert_eq!(stored.rows[0][0], serde_json::json!(files));
}

#[test]
fn two_workers_on_one_queue_raise_the_same_alerts_as_one() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url);
    aws.create_bucket();
    let shared = aws.create_queue("trail-shared");
    let single = aws.create_queue("trail-single");
    let files = 12;
    for file in 0..files {
        let (key, body, _) = log_file(file, 40);
        aws.put(&key, body);
        aws.send(&shared, &s3_notification(&key));
        aws.send(&single, &s3_notification(&key));
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, queue: &str| {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let config = config(&sub, &moto.url, queue, None, None);
        (start_daemon(&config, &sub.join("store")), sub.join("store"))
    };
    let (a, store_a) = run("a", &shared);
    let (b, store_b) = run("b", &shared);
    let (one, store_one) = run("one", &single);
    let expected = (files * 40) as u64;
    wait_for(
        "both workers to store everything",
        Duration::from_secs(90),
        || {
            stored_events(&store_a) + stored_events(&store_b) == expected
                && stored_events(&store_one) == expected
        },
    );
    wait_for("the queues to drain", Duration::from_secs(60), || {
        aws.backlog(&shared) == 0 && aws.backlog(&single) == 0
    });
    let (out_a, _) = stop(a);
    let (out_b, _) = stop(b);
    let (out_one, _) = stop(one);
    let ids = |out: &str| -> BTreeSet<String> {
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let mut two: BTreeSet<String> = ids(&out_a);
    let from_b = ids(&out_b);
    assert!(two.is_disjoint(&from_b), "a message went to both workers");
    two.extend(from_b);
    let one_ids = ids(&out_one);
    assert_eq!(one_ids.len(), files, "{out_one}");
    assert_eq!(two, one_ids);
}

/// `run --stdin` (logging at info, with `--web 127.0.0.1:PORT` when given), and the pipe to
/// its stdin.
fn start_stdin_daemon(
    config: &Path,
    store: &Path,
    web: Option<u16>,
) -> (Daemon, std::process::ChildStdin) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    command
        .args(["run", "--stdin", "--config"])
        .arg(config)
        .arg("--store")
        .arg(store)
        .env("TRAILHOUND_LOG", "info");
    if let Some(port) = web {
        command.args(["--web", &format!("127.0.0.1:{port}")]);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let daemon = Daemon {
        out: drain(child.stdout.take().unwrap()),
        err: drain(child.stderr.take().unwrap()),
        child,
    };
    (daemon, stdin)
}

/// A daemon's working files in `dir`: its store, a file sink's path, and a config with the
/// anomaly family and CIS filters off, followed by `extra` (which may name the sink with
/// `{SINK}`).
fn daemon_files(dir: &Path, extra: &str) -> (PathBuf, PathBuf, PathBuf) {
    let store = dir.join("store");
    let sink = dir.join("sink.jsonl");
    let config = dir.join("config.toml");
    let extra = extra.replace("{SINK}", &format!("{:?}", sink.display().to_string()));
    std::fs::write(
        &config,
        format!("version = 1\n[anomaly]\nenabled = false\n[metric_filters]\ncis = false\n{extra}"),
    )
    .unwrap();
    (store, sink, config)
}

/// `run --web`: the web UI and API over the daemon's store while it runs, with the overview's
/// ingest health from the daemon itself (not derived from the store).
#[test]
fn run_serves_the_web_ui_over_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _, config) = daemon_files(dir.path(), "");
    let port = free_port();
    let (daemon, mut stdin) = start_stdin_daemon(&config, &store, Some(port));
    let (_, _, records) = log_file(0, 20);
    for record in &records {
        writeln!(stdin, "{record}").unwrap();
    }
    stdin.flush().unwrap();

    let body = |response: &str| -> serde_json::Value {
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{response}");
        serde_json::from_str(body).unwrap()
    };
    wait_for("the web server", Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    wait_for("the alert in the API", Duration::from_secs(30), || {
        let alerts = body(&http_get(port, "/api/alerts"));
        alerts.to_string().contains("TH1001")
    });
    wait_for("live ingest health", Duration::from_secs(10), || {
        let overview = body(&http_get(port, "/api/overview"));
        overview["ingest"]["source"] == "live" && overview["ingest"]["events_read"] == 20
    });
    let page = http_get(port, "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");

    // End of input ends the daemon, and the web server with it.
    drop(stdin);
    let (stdout, stderr) = output(daemon);
    assert!(stderr.contains("20 events detected"), "{stderr}");
    assert!(
        stderr.contains(&format!("on http://127.0.0.1:{port}")),
        "{stderr}"
    );
    assert_eq!(alert_ids(&stdout, "TH1001").len(), 1, "{stdout}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

fn http_post_json(port: u16, path: &str, body: &str) -> String {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             x-trailhound-csrf: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// "Suppress similar" in the web UI of a running daemon: the next alert of that rule for that
/// principal is not sent to the sinks, while other alerts still are.
#[test]
fn suppressing_from_the_web_ui_silences_the_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sink, config) = daemon_files(
        dir.path(),
        "[alerts.dedup]\nenabled = false\n\
         [[alerts.sinks]]\nname = \"archive\"\ntype = \"file\"\npath = {SINK}\n",
    );
    let port = free_port();
    let (daemon, mut stdin) = start_stdin_daemon(&config, &store, Some(port));
    let stop =
        |id: &str, minute: u32| record(id, "StopLogging", "cloudtrail.amazonaws.com", minute);
    let sent = |rule: &str| -> usize {
        std::fs::read_to_string(&sink)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&format!("\"id\":\"{rule}\"")))
            .count()
    };
    writeln!(stdin, "{}", stop("stop-1", 1)).unwrap();
    stdin.flush().unwrap();
    wait_for(
        "the first alert at the sink",
        Duration::from_secs(30),
        || sent("TH1001") == 1,
    );

    // The sink has it before the store does: wait for the store.
    let mut id = String::new();
    wait_for(
        "the first alert in the API",
        Duration::from_secs(30),
        || {
            let alerts = http_get(port, "/api/alerts");
            let body = alerts.split_once("\r\n\r\n").unwrap().1;
            let list: serde_json::Value = serde_json::from_str(body).unwrap();
            list["items"][0]["id"]
                .as_str()
                .map(|found| id = found.to_owned())
                .is_some()
        },
    );
    let answer = http_post_json(
        port,
        &format!("/api/alerts/{id}/actions"),
        r#"{"action":"suppress","note":"trail maintenance","by":"carol"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("pipeline_suppression"), "{answer}");

    // The same rule and principal again: suppressed. Another rule (DeleteTrail): sent.
    writeln!(stdin, "{}", stop("stop-2", 2)).unwrap();
    writeln!(
        stdin,
        "{}",
        record("delete-1", "DeleteTrail", "cloudtrail.amazonaws.com", 3)
    )
    .unwrap();
    drop(stdin);
    let (_, stderr) = output(daemon);
    assert!(stderr.contains("suppressions reloaded"), "{stderr}");
    assert_eq!(sent("TH1001"), 1, "{stderr}");
    assert!(
        std::fs::read_to_string(&sink)
            .unwrap()
            .contains("DeleteTrail"),
        "{stderr}"
    );
    let stored = trailhound_store::Store::open_read_only(&store)
        .unwrap()
        .query("SELECT count(*) FROM alerts WHERE rule_id = 'TH1001'")
        .unwrap();
    // The store keeps every alert raised, suppressed or not.
    assert_eq!(stored.rows[0][0], serde_json::json!(2));
}

/// Correlation chains whose stages are raw events fire in the daemon as in `hunt`: the
/// pipeline sees every detected event, not only the alerts.
#[test]
fn chains_with_event_stages_fire_in_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sink, config) = daemon_files(
        dir.path(),
        "[[alerts.sinks]]\nname = \"archive\"\ntype = \"file\"\npath = {SINK}\n\
             [[alerts.correlation.chains]]\nid = \"X0001\"\nname = \"trail-stopped-then-recon\"\n\
             by = \"principal\"\nwindow = \"1h\"\nseverity = \"critical\"\n\
             [[alerts.correlation.chains.stages]]\nname = \"stopped\"\nrules = [\"TH1001\"]\n\
             [[alerts.correlation.chains.stages]]\nname = \"recon\"\n\
             events = [\"DescribeInstances\"]\nmin_count = 3\n",
    );
    let (daemon, mut stdin) = start_stdin_daemon(&config, &store, None);
    writeln!(
        stdin,
        "{}",
        record("stop-1", "StopLogging", "cloudtrail.amazonaws.com", 1)
    )
    .unwrap();
    for i in 0..3 {
        let id = format!("describe-{i}");
        writeln!(
            stdin,
            "{}",
            record(&id, "DescribeInstances", "ec2.amazonaws.com", 2)
        )
        .unwrap();
    }
    drop(stdin);
    let (stdout, stderr) = output(daemon);
    assert_eq!(alert_ids(&stdout, "X0001").len(), 1, "{stdout}\n{stderr}");
    let delivered = std::fs::read_to_string(&sink).unwrap();
    assert!(delivered.contains("\"X0001\""), "{delivered}");
}
