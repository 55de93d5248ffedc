//! The store commands run as a binary: `hunt --store`, `query`, `search`, `pivot`, `export`.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../trailhound-store/tests/fixtures/events.jsonl")
}

fn trailhound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(args)
        .env_remove("COLUMNS")
        .env_remove("TRAILHOUND_STORE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn filled_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ok(&trailhound(&[
        "hunt",
        "-q",
        "--format",
        "json",
        "--store",
        s(&store),
        s(&fixture()),
    ]));
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn hunt_store_is_idempotent_and_query_formats() {
    let dir = filled_store();
    let store = dir.path().join("store");
    // A second hunt over the same file stores nothing twice.
    ok(&trailhound(&[
        "hunt",
        "-q",
        "--format",
        "json",
        "--store",
        s(&store),
        s(&fixture()),
    ]));
    let sql = "SELECT account, count(*) AS events FROM events GROUP BY account ORDER BY account";
    let table = ok(&trailhound(&["query", "--store", s(&store), sql]));
    insta::assert_snapshot!("query_table", table);
    let csv = ok(&trailhound(&[
        "query",
        "--store",
        s(&store),
        "--format",
        "csv",
        sql,
    ]));
    assert_eq!(csv, "account,events\n111122223333,2\n123456789012,8\n");
    let json = ok(&trailhound(&[
        "query",
        "--store",
        s(&store),
        "--format",
        "json",
        "SELECT event_name, request_parameters ->> 'bucketName' AS bucket FROM events WHERE bucket IS NOT NULL ORDER BY event_time",
    ]));
    assert_eq!(
        json,
        "{\"event_name\":\"PutBucketPolicy\",\"bucket\":\"example-finance-reports\"}\n\
         {\"event_name\":\"GetObject\",\"bucket\":\"example-finance-reports\"}\n"
    );
    // Alerts from the hunt are stored too.
    let alerts = ok(&trailhound(&[
        "query",
        "--store",
        s(&store),
        "--format",
        "csv",
        "SELECT count(*) > 0 FROM alerts",
    ]));
    assert!(alerts.ends_with("\n1\n"), "{alerts}");
}

#[test]
fn query_refuses_writes_and_missing_stores() {
    let dir = filled_store();
    let store = dir.path().join("store");
    let out = trailhound(&["query", "--store", s(&store), "DELETE FROM event_rows"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only read-only statements are allowed"));
    let out = trailhound(&["query", "--store", s(&dir.path().join("none")), "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no event store at"));
}

#[test]
fn search_with_range_and_fields() {
    let dir = filled_store();
    let store = dir.path().join("store");
    let table = ok(&trailhound(&[
        "search",
        "--store",
        s(&store),
        "203.0.113.7",
    ]));
    insta::assert_snapshot!("search_ip_table", table);
    let json = ok(&trailhound(&[
        "search",
        "--store",
        s(&store),
        "alice",
        "--field",
        "event_source=iam.amazonaws.com",
        "--since",
        "2026-03-01T10:05:00Z",
        "--format",
        "json",
    ]));
    let names: Vec<String> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["ListUsers"]);
    let bad = trailhound(&["search", "--store", s(&store), "x", "--field", "nope=1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown field nope"));
}

#[test]
fn pivot_text_and_json() {
    let dir = filled_store();
    let store = dir.path().join("store");
    let text = ok(&trailhound(&[
        "pivot",
        "key",
        "ASIAEXAMPLEDEPLOY01",
        "--store",
        s(&store),
        "--limit",
        "2",
    ]));
    assert!(text.starts_with("key ASIAEXAMPLEDEPLOY01\n  4 events, first seen 2026-03-01T10:02:00Z, last seen 2026-03-01T10:05:00Z\n"), "{text}");
    assert!(text.contains("\nAPIs:\n"), "{text}");
    assert!(text.contains("\nTimeline (newest 2 of 4):\n"), "{text}");
    let json = ok(&trailhound(&[
        "pivot",
        "principal",
        "alice",
        "--store",
        s(&store),
        "--format",
        "json",
    ]));
    let pivot: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(pivot["total"], 4);
    assert_eq!(pivot["first_seen"], "2026-03-01T09:55:00Z");
    assert_eq!(pivot["by_source_ip"][0]["value"], "203.0.113.7");
}

#[test]
fn export_writes_hive_partitions() {
    let dir = filled_store();
    let store = dir.path().join("store");
    let out = dir.path().join("export");
    let listing = ok(&trailhound(&[
        "export",
        "--store",
        s(&store),
        "--format",
        "jsonl",
        "--until",
        "2026-03-02",
        s(&out),
    ]));
    assert_eq!(listing.lines().count(), 1, "{listing}");
    let file = out.join("date=2026-03-01/account=123456789012/part-00000.jsonl");
    assert_eq!(std::fs::read_to_string(file).unwrap().lines().count(), 8);
    let listing = ok(&trailhound(&[
        "export",
        "--store",
        s(&store),
        "--format",
        "parquet",
        s(&out),
    ]));
    assert_eq!(listing.lines().count(), 2, "{listing}");
    assert!(
        out.join("date=2026-03-02/account=111122223333/part-00000.parquet")
            .is_file()
    );
}
