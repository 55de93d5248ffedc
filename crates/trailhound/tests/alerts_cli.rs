//! `hunt` through the alert pipeline to a signed webhook and to Slack's incoming-webhook format
//! on loopback, then `alerts status`.
#![allow(clippy::unwrap_used)] // test server and fixture helpers outside #[test] functions

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

fn record(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-03-02T10:{i:02}:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15.0","eventID":"stop-{i}","recipientAccountId":"123456789012","requestParameters":{{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/main"}},"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/user{i}","accountId":"123456789012","userName":"user{i}"}}}}"#
    )
}

/// A one-request-per-connection HTTP server recording (headers, body).
/// Requests received: (headers, body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn server() -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                headers.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            store
                .lock()
                .unwrap()
                .push((headers, String::from_utf8(body).unwrap()));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, seen)
}

#[test]
fn hunt_delivers_signed_webhook_and_reports_status() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..5).map(record).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let (port, seen) = server();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\n[[alerts.sinks]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/in\"\nsecret_env = \"HOOK_SECRET\"\nrules = [\"TH1001\"]\nheaders = {{ \"X-Team\" = \"soc\" }}\n"
        ),
    )
    .unwrap();
    let outbox = dir.path().join("outbox");
    let bin = env!("CARGO_BIN_EXE_trailhound");
    let out = Command::new(bin)
        .args(["hunt", "--format", "jsonl", "-q", "--config"])
        .arg(&config)
        .arg("--outbox")
        .arg(&outbox)
        .arg(&input)
        .env("HOOK_SECRET", "s3cret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<String> = printed
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["rule"]["id"] == "TH1001")
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5, "one alert per principal: {printed}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    for (headers, body) in &seen {
        let mac = trailhound_alert::sink::hmac_sha256(b"s3cret", body.as_bytes());
        let lower = headers.to_ascii_lowercase();
        assert!(
            lower.contains(&format!("x-trailhound-signature-256: sha256={}", hex(&mac))),
            "{headers}"
        );
        assert!(lower.contains("x-team: soc"));
        assert!(lower.contains("x-trailhound-event: alert"));
        let id = serde_json::from_str::<serde_json::Value>(body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(ids.contains(&id));
        assert!(lower.contains(&format!("x-trailhound-delivery: {id}")));
    }
    let status = Command::new(bin)
        .args(["alerts", "status", "--format", "json", "--config"])
        .arg(&config)
        .arg("--outbox")
        .arg(&outbox)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(value["sinks"][0]["sink"], "hook");
    assert_eq!(value["sinks"][0]["delivered"], 5);
    assert_eq!(value["sinks"][0]["pending"], 0);
}

#[test]
fn hunt_posts_slack_messages_with_who_what_where_and_a_ui_link() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..3).map(record).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let (port, seen) = server();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "version = 1\n[alerts]\nui_url = \"https://trailhound.example.com\"\n[[alerts.sinks]]\nname = \"chat\"\ntype = \"slack\"\nurl_env = \"SLACK_URL\"\n",
    )
    .unwrap();
    let outbox = dir.path().join("outbox");
    let out = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["hunt", "--format", "jsonl", "-q", "--config"])
        .arg(&config)
        .arg("--outbox")
        .arg(&outbox)
        .arg(&input)
        .env(
            "SLACK_URL",
            format!("http://127.0.0.1:{port}/services/T000/B000/SECRETPATH"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("SECRETPATH"));
    let printed: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), printed.len(), "one Slack message per alert");
    let stops = printed
        .iter()
        .filter(|a| a["rule"]["id"] == "TH1001")
        .count();
    assert_eq!(stops, 3, "one StopLogging alert per principal");
    for (headers, body) in &seen {
        assert!(
            headers.starts_with("POST /services/T000/B000/SECRETPATH "),
            "{headers}"
        );
        let message: serde_json::Value = serde_json::from_str(body).unwrap();
        let text = message["text"].as_str().unwrap();
        let alert = printed
            .iter()
            .find(|a| body.contains(&format!("alert `{}`", a["id"].as_str().unwrap())))
            .unwrap_or_else(|| panic!("no printed alert for {body}"));
        assert!(text.contains(alert["title"].as_str().unwrap()), "{text}");
        assert!(
            text.contains(&alert["severity"].as_str().unwrap().to_uppercase()),
            "{text}"
        );
        let blocks = message["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        let fields = blocks[1]["fields"].to_string();
        for needle in ["*Who*", "*Where*", "*Rule*", "*When*"] {
            assert!(fields.contains(needle), "{needle} missing: {fields}");
        }
        for part in ["principal", "account", "source_ip"] {
            if let Some(value) = alert["entity"][part].as_str() {
                assert!(fields.contains(value), "{part} {value} missing: {fields}");
            }
        }
        let link = format!(
            "https://trailhound.example.com/alerts/{}",
            alert["id"].as_str().unwrap()
        );
        assert!(body.contains(&link), "{body}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
