//! At-least-once alert delivery end to end: a webhook receiver on loopback that fails (5xx,
//! timeouts, connection refused) while `hunt` is killed mid-delivery and `alerts deliver`
//! resumes; SNS delivery to a local moto server read back through an SQS subscription; the
//! generator's SSRF-to-S3 scenario raising one chain alert.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::Moto;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    command.env_remove("COLUMNS").env("NO_COLOR", "1");
    command
}

/// A CloudTrail `StopLogging` record by IAM user `user{i}`: one TH1001 alert per user.
fn record(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-03-02T10:{i:02}:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0","eventID":"stop-{i}","recipientAccountId":"123456789012","requestParameters":{{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/main"}},"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/user{i}","accountId":"123456789012","userName":"user{i}"}}}}"#
    )
}

fn write_records(dir: &Path, n: usize) -> std::path::PathBuf {
    let input = dir.join("events.jsonl");
    let lines: Vec<String> = (0..n).map(record).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    input
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The alerts of a `--format jsonl` run.
fn jsonl(output: &Output) -> Vec<serde_json::Value> {
    assert!(output.status.success(), "{}", stderr(output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `alerts status --format json`.
fn status(config: &Path, outbox: &Path) -> serde_json::Value {
    let out = bin()
        .args(["alerts", "status", "--format", "json", "--config"])
        .arg(config)
        .arg("--outbox")
        .arg(outbox)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits for `done`, failing with `what` after `limit`.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Fault test: a webhook receiver that fails, a killed hunt, a resumed delivery.

/// What the receiver does with the next request.
const FAIL_500: u8 = 0;
/// Reads the request, then holds the connection past the sink timeout without answering.
const HANG: u8 = 1;
/// Listener closed: connections are refused.
const CLOSED: u8 = 2;
/// Answers 200 and records the alert id.
const HEALTHY: u8 = 3;

/// A webhook receiver on a fixed loopback port whose behaviour the test switches.
struct Receiver {
    port: u16,
    phase: Arc<AtomicU8>,
    /// Requests answered 500.
    failed: Arc<AtomicUsize>,
    /// Requests held without an answer.
    hung: Arc<AtomicUsize>,
    /// Alert ids of the requests answered 200, in arrival order (duplicates kept).
    delivered: Arc<Mutex<Vec<String>>>,
}

/// Reads one HTTP request; returns its body.
fn read_request(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let receiver = Receiver {
            port,
            phase: Arc::new(AtomicU8::new(FAIL_500)),
            failed: Arc::new(AtomicUsize::new(0)),
            hung: Arc::new(AtomicUsize::new(0)),
            delivered: Arc::new(Mutex::new(Vec::new())),
        };
        let (phase, failed, hung, delivered) = (
            Arc::clone(&receiver.phase),
            Arc::clone(&receiver.failed),
            Arc::clone(&receiver.hung),
            Arc::clone(&receiver.delivered),
        );
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            loop {
                let now = phase.load(Ordering::SeqCst);
                if now == CLOSED {
                    listener = None;
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                let Some(open) = listener.as_ref() else {
                    // Back from closed: listen on the same port again.
                    let reopened = TcpListener::bind(("127.0.0.1", port)).unwrap();
                    reopened.set_nonblocking(true).unwrap();
                    listener = Some(reopened);
                    continue;
                };
                open.set_nonblocking(true).unwrap();
                let stream = match open.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(e) => panic!("accept: {e}"),
                };
                stream.set_nonblocking(false).unwrap();
                let (failed, hung, delivered) = (
                    Arc::clone(&failed),
                    Arc::clone(&hung),
                    Arc::clone(&delivered),
                );
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let Some(body) = read_request(&stream) else {
                        return;
                    };
                    match now {
                        FAIL_500 => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            let _ = stream.write_all(
                                b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            );
                        }
                        HANG => {
                            hung.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_secs(3));
                        }
                        _ => {
                            let alert: serde_json::Value = serde_json::from_str(&body).unwrap();
                            delivered
                                .lock()
                                .unwrap()
                                .push(alert["id"].as_str().unwrap().to_owned());
                            let _ = stream.write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            );
                        }
                    }
                });
            }
        });
        receiver
    }

    fn set(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }
}

/// Kills the child on drop (a failed assertion must not leave a hunt running).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn webhook_faults_and_a_killed_hunt_lose_no_alert() {
    const ALERTS: usize = 12;
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let input = write_records(dir.path(), ALERTS);

    // The ids the pipeline gives these alerts (stable: the same input gives the same ids).
    let reference = dir.path().join("reference.toml");
    std::fs::write(&reference, "version = 1\n[alerts]\nenabled = true\n").unwrap();
    let expected: BTreeSet<String> = jsonl(
        &bin()
            .args(["hunt", "--format", "jsonl", "-q", "--config"])
            .arg(&reference)
            .arg(&input)
            .output()
            .unwrap(),
    )
    .iter()
    .filter(|a| a["rule"]["id"] == "TH1001")
    .map(|a| a["id"].as_str().unwrap().to_owned())
    .collect();
    assert_eq!(expected.len(), ALERTS, "one TH1001 alert per user");

    let receiver = Receiver::start();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"version = 1
[alerts.retry]
initial = "50ms"
max = "200ms"
[[alerts.sinks]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:{}/in"
rules = ["TH1001"]
timeout = "300ms"
"#,
            receiver.port
        ),
    )
    .unwrap();
    let outbox = dir.path().join("outbox");

    // Hunt: every alert goes to the outbox, then the receiver answers 500 to every try.
    let child = bin()
        .args(["hunt", "--format", "jsonl", "-q", "--delivery-wait", "60s"])
        .arg("--config")
        .arg(&config)
        .arg("--outbox")
        .arg(&outbox)
        .arg(&input)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    wait_for("every alert in the outbox", Duration::from_secs(20), || {
        trailhound_alert::Outbox::open(&outbox)
            .and_then(|o| o.message_count())
            .is_ok_and(|n| n == ALERTS as u64)
    });
    wait_for("retried 500s", Duration::from_secs(10), || {
        receiver.failed.load(Ordering::SeqCst) >= 6
    });

    // Then it hangs past the sink timeout; the hunt is killed while a request hangs.
    receiver.set(HANG);
    wait_for("a hanging request", Duration::from_secs(10), || {
        receiver.hung.load(Ordering::SeqCst) >= 2
    });
    child.0.kill().unwrap();
    let killed = child.0.wait().unwrap();
    assert!(!killed.success(), "the hunt was killed, not finished");
    assert!(receiver.delivered.lock().unwrap().is_empty());
    assert!(receiver.failed.load(Ordering::SeqCst) >= 6);
    let after_kill = status(&config, &outbox);
    assert_eq!(after_kill["messages"], ALERTS);
    assert_eq!(after_kill["sinks"][0]["delivered"], 0);

    // Restarted while the receiver is down: connection refused, nothing delivered.
    receiver.set(CLOSED);
    std::thread::sleep(Duration::from_millis(100));
    let refused = bin()
        .args(["alerts", "deliver", "--timeout", "1500ms", "--config"])
        .arg(&config)
        .arg("--outbox")
        .arg(&outbox)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let down = status(&config, &outbox);
    assert_eq!(down["sinks"][0]["delivered"], 0, "{down}");
    assert_eq!(down["sinks"][0]["pending"], ALERTS, "{down}");
    assert!(
        down["sinks"][0]["retrying"].as_u64().unwrap() >= 1,
        "{down}"
    );
    assert!(
        down["sinks"][0]["last_error"].is_string(),
        "the refused connection is recorded: {down}"
    );

    // Restarted once the receiver is healthy: everything arrives. The request in flight when
    // the hunt was killed stays claimed for its lease (sink timeout + 30 s) so that no second
    // process sends it at the same time; the restart delivers it when the lease runs out.
    receiver.set(HEALTHY);
    let resumed = bin()
        .args(["alerts", "deliver", "--timeout", "50s", "--config"])
        .arg(&config)
        .arg("--outbox")
        .arg(&outbox)
        .output()
        .unwrap();
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}{}{}",
        String::from_utf8_lossy(&resumed.stdout),
        stderr(&resumed),
        status(&config, &outbox)
    );
    let done = status(&config, &outbox);
    assert_eq!(done["messages"], ALERTS);
    assert_eq!(done["sinks"][0]["delivered"], ALERTS, "{done}");
    assert_eq!(done["sinks"][0]["pending"], 0);
    assert_eq!(done["sinks"][0]["retrying"], 0);
    assert_eq!(done["sinks"][0]["failed"], 0);
    let delivered = receiver.delivered.lock().unwrap().clone();
    let received: BTreeSet<String> = delivered.iter().cloned().collect();
    assert_eq!(received, expected, "every alert arrived at least once");
    assert!(delivered.len() >= ALERTS);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// The generator's SSRF-to-S3 scenario: one TH5001 chain alert, on stdout and in the file sink.

#[test]
fn generated_ssrf_scenario_raises_one_chain_alert() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("org");
    // 16 days give the anomaly detectors their warm-up; the second account has the
    // application whose instance role is stolen.
    let generated = bin()
        .args([
            "gen",
            "--days",
            "16",
            "--accounts",
            "2",
            "--events-per-day",
            "300",
            "--seed",
            "3",
            "--scenario",
            "ssrf-credential-theft",
            "--out",
        ])
        .arg(&tree)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{}", stderr(&generated));
    let sink = dir.path().join("alerts.jsonl");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\n[[alerts.sinks]]\nname = \"archive\"\ntype = \"file\"\npath = {:?}\n",
            sink.display().to_string()
        ),
    )
    .unwrap();
    let hunt = bin()
        .args(["hunt", "--format", "jsonl", "-q", "--config"])
        .arg(&config)
        .arg("--outbox")
        .arg(dir.path().join("outbox"))
        .arg(tree.join("AWSLogs"))
        .output()
        .unwrap();
    let printed = jsonl(&hunt);
    let chains: Vec<&serde_json::Value> = printed
        .iter()
        .filter(|a| a["rule"]["id"] == "TH5001")
        .collect();
    assert_eq!(chains.len(), 1, "{printed:#?}");
    let chain = chains[0];
    assert_eq!(chain["severity"], "critical");
    assert_eq!(chain["rule"]["kind"], "correlation");
    let stages: Vec<&str> = chain["context"]["chain"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "credentials-used-outside-aws",
            "buckets-listed",
            "objects-read-in-bulk"
        ]
    );
    assert_eq!(
        chain["context"]["chain"]["stages"][0]["alerts"][0]["rule"],
        "TH3013"
    );
    assert!(
        chain["context"]["chain"]["observed"]["objects-read-in-bulk"]
            .as_u64()
            .unwrap()
            >= 10
    );
    // The principal is the scenario's stolen instance-role session.
    let principal = chain["context"]["chain"]["key"].as_str().unwrap();
    assert!(principal.contains(":assumed-role/"), "{principal}");

    let archived: Vec<serde_json::Value> = std::fs::read_to_string(&sink)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let archived_chains: Vec<&serde_json::Value> = archived
        .iter()
        .filter(|a| a["rule"]["id"] == "TH5001")
        .collect();
    assert_eq!(archived_chains.len(), 1);
    assert_eq!(archived_chains[0]["id"], chain["id"]);
}

// ---------------------------------------------------------------------------------------
// SNS: a local moto server, an SQS queue subscribed to the topic, read back.

#[test]
fn hunt_publishes_to_sns_with_attributes_read_back_from_sqs() {
    use trailhound_aws::{sns, sqs};

    let moto = Moto::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = trailhound_aws::AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.url.clone()),
        ..trailhound_aws::AwsSettings::default()
    };
    // Dummy credentials on the clients only.
    let (sns_client, sqs_client) = runtime.block_on(async {
        let config = trailhound_aws::load(&settings).await;
        let sns_client = sns::Client::from_conf(
            sns::config::Builder::from(&config)
                .credentials_provider(sns::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .build(),
        );
        let sqs_client = sqs::Client::from_conf(
            sqs::config::Builder::from(&config)
                .credentials_provider(sqs::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .build(),
        );
        (sns_client, sqs_client)
    });
    let (topic_arn, queue_url) = runtime.block_on(async {
        let topic = sns_client
            .create_topic()
            .name("trailhound-alerts")
            .send()
            .await
            .unwrap();
        let topic_arn = topic.topic_arn().unwrap().to_owned();
        let queue = sqs_client
            .create_queue()
            .queue_name("soc-inbox")
            .send()
            .await
            .unwrap();
        let queue_url = queue.queue_url().unwrap().to_owned();
        let attributes = sqs_client
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let queue_arn = attributes
            .attributes()
            .unwrap()
            .get(&sqs::types::QueueAttributeName::QueueArn)
            .unwrap()
            .clone();
        sns_client
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        (topic_arn, queue_url)
    });

    let dir = tempfile::tempdir().unwrap();
    let input = write_records(dir.path(), 5);
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"version = 1
[[alerts.sinks]]
name = "topic"
type = "sns"
topic_arn = "{topic_arn}"
rules = ["TH1001"]
aws = {{ region = "us-east-1", endpoint_url = "{}" }}
"#,
            moto.url
        ),
    )
    .unwrap();
    let hunt = bin()
        .args(["hunt", "--format", "jsonl", "-q", "--config"])
        .arg(&config)
        .arg("--outbox")
        .arg(dir.path().join("outbox"))
        .arg(&input)
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
        .unwrap();
    let printed: Vec<serde_json::Value> = jsonl(&hunt)
        .into_iter()
        .filter(|a| a["rule"]["id"] == "TH1001")
        .collect();
    assert_eq!(printed.len(), 5);
    let delivery = status(&config, &dir.path().join("outbox"));
    assert_eq!(delivery["sinks"][0]["sink"], "topic");
    assert_eq!(delivery["sinks"][0]["delivered"], 5, "{delivery}");
    assert_eq!(delivery["sinks"][0]["pending"], 0);

    // Read the queue until the five notifications are in (or a deadline passes).
    let mut notifications: Vec<serde_json::Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while notifications.len() < 5 && Instant::now() < deadline {
        let received = runtime.block_on(async {
            sqs_client
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap()
        });
        for message in received.messages() {
            notifications.push(serde_json::from_str(message.body().unwrap()).unwrap());
            runtime.block_on(async {
                sqs_client
                    .delete_message()
                    .queue_url(&queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            });
        }
    }
    assert_eq!(notifications.len(), 5, "{notifications:#?}");
    let mut seen = BTreeSet::new();
    for envelope in &notifications {
        // SNS to SQS without raw delivery: the SNS JSON envelope around the alert.
        assert_eq!(envelope["Type"], "Notification");
        assert_eq!(envelope["TopicArn"], topic_arn.as_str());
        let alert: serde_json::Value =
            serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
        let id = alert["id"].as_str().unwrap().to_owned();
        let original = printed
            .iter()
            .find(|a| a["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} was not printed by the hunt"));
        let attributes = &envelope["MessageAttributes"];
        assert_eq!(attributes["severity"]["Type"], "String");
        assert_eq!(attributes["severity"]["Value"], original["severity"]);
        assert_eq!(attributes["rule"]["Value"], "TH1001");
        assert_eq!(attributes["kind"]["Value"], "alert");
        assert_eq!(attributes["alert_id"]["Value"], id.as_str());
        // The subject is the severity and title, cut to the 100 characters SNS allows.
        let subject: String = format!(
            "[{}] {}",
            original["severity"].as_str().unwrap(),
            original["title"].as_str().unwrap()
        )
        .chars()
        .take(100)
        .collect();
        assert_eq!(envelope["Subject"], subject.as_str());
        seen.insert(id);
    }
    assert_eq!(seen.len(), 5, "five distinct alerts");
}
