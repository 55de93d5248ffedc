//! Scale run of the JSON API behind every page: latency with millions of events and 100,000
//! alerts in the store (docs/web.md, "Measured"). Ignored by default: it needs a large store,
//! such as the one the store's scale test builds.
//!
//! ```text
//! TRAILHOUND_SCALE_EVENTS=10000000 TRAILHOUND_SCALE_DIR=/tmp/th-scale \
//!   cargo test --release -p trailhound-store --test scale -- --ignored --nocapture
//! TRAILHOUND_SCALE_DIR=/tmp/th-scale \
//!   cargo test --release -p trailhound-server --test scale -- --ignored --nocapture
//! ```
//!
//! The run tops the store up to `TRAILHOUND_SCALE_ALERTS` (default 100,000) alerts made from
//! stored events spread over the whole store, then times each page's requests through the
//! router (the server's whole stack but the socket), three times each, and fails when the
//! slowest page takes a second or more.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use trailhound_core::{Alert, Event, Origin, RuleKind, RuleRef, Severity};
use trailhound_server::router;
use trailhound_store::Store;

const RULES: &[(&str, &str, RuleKind, Severity)] = &[
    (
        "TH1001",
        "cloudtrail-logging-stopped",
        RuleKind::Builtin,
        Severity::Critical,
    ),
    (
        "TH1010",
        "access-key-created-for-other-user",
        RuleKind::Builtin,
        Severity::High,
    ),
    (
        "TH2005",
        "s3-mass-download",
        RuleKind::Builtin,
        Severity::Medium,
    ),
    (
        "TH3001",
        "rare-api-for-principal",
        RuleKind::Anomaly,
        Severity::Medium,
    ),
    (
        "TH3010",
        "new-country-for-principal",
        RuleKind::Anomaly,
        Severity::High,
    ),
    (
        "TH4001",
        "canary-credential-used",
        RuleKind::Canary,
        Severity::Critical,
    ),
    (
        "TH6001",
        "console-login-without-mfa",
        RuleKind::Builtin,
        Severity::Low,
    ),
];

/// Adds alerts until the store holds `want`, each made from a stored event.
fn top_up_alerts(dir: &std::path::Path, want: u64) {
    let mut store = Store::open(dir).unwrap();
    let have = store.query("SELECT count(*) FROM alerts").unwrap().rows[0][0]
        .as_u64()
        .unwrap();
    if have >= want {
        return;
    }
    let missing = want - have;
    let events = store.event_count().unwrap();
    let step = (events / missing).max(1);
    let started = Instant::now();
    let rows = store
        .query(&format!(
            "SELECT raw FROM events WHERE id % {step} = 0 LIMIT {missing}"
        ))
        .unwrap();
    let mut alerts = Vec::with_capacity(rows.rows.len());
    for (i, row) in rows.rows.iter().enumerate() {
        let raw = row[0].as_str().unwrap();
        let event = Event::from_json(raw, Origin::new("scale", i as u32)).unwrap();
        let (id, name, kind, severity) = RULES[i % RULES.len()];
        let mut alert = Alert::for_event(
            RuleRef {
                id: id.to_owned(),
                name: name.to_owned(),
                kind,
                author: None,
            },
            severity,
            format!("{name} by {}", event.principal_arn().unwrap_or("unknown")),
            format!(
                "eventName is {} (scale run alert {i} of rule {id})",
                event.event_name()
            ),
            &event,
        );
        alert.attack.push("T1562.008".to_owned());
        alerts.push(alert);
    }
    for chunk in alerts.chunks(10_000) {
        store.append_alerts(chunk).unwrap();
    }
    println!(
        "added {} alerts in {:.1} s",
        alerts.len(),
        started.elapsed().as_secs_f64()
    );
}

async fn timed_get(app: &axum::Router, uri: &str) -> (Duration, Value) {
    let mut best: Option<(Duration, Value)> = None;
    let mut slowest = Duration::ZERO;
    for _ in 0..3 {
        let request = Request::get(uri)
            .header(header::HOST, "127.0.0.1")
            .body(Body::empty())
            .unwrap();
        let started = Instant::now();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 26)
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&bytes)
        );
        slowest = slowest.max(took);
        if best.is_none() {
            best = Some((took, serde_json::from_slice(&bytes).unwrap()));
        }
    }
    let (_, body) = best.unwrap();
    (slowest, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale run: needs a large store in TRAILHOUND_SCALE_DIR"]
async fn pages_answer_within_a_second_at_scale() {
    let dir = std::path::PathBuf::from(
        std::env::var("TRAILHOUND_SCALE_DIR").expect("TRAILHOUND_SCALE_DIR: a large store"),
    );
    let want = std::env::var("TRAILHOUND_SCALE_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || top_up_alerts(&dir, want))
            .await
            .unwrap();
    }
    let app = router(&common::config(&dir), false).unwrap();

    let mut pages: Vec<(String, Duration)> = Vec::new();
    let (took, list) = timed_get(&app, "/api/alerts").await;
    let total = list["total"].as_u64().unwrap();
    println!("alerts in store: {total}");
    pages.push(("alert list (default: newest 50, counts)".into(), took));
    let first = list["items"][0].clone();
    let id = first["id"].as_str().unwrap().to_owned();
    let principal = first["principal"].as_str().unwrap_or("").to_owned();
    for (label, uri) in [
        (
            "alert list filtered: critical, open",
            "/api/alerts?severity=critical&status=open".to_owned(),
        ),
        (
            "alert list sorted by severity, page 100",
            "/api/alerts?sort=severity&offset=5000&limit=50".to_owned(),
        ),
        ("alert list by rule", "/api/alerts?rule=TH3001".to_owned()),
        ("alert page", format!("/api/alerts/{id}")),
        (
            "principal pivot",
            format!("/api/pivot?kind=principal&value={}", encode(&principal)),
        ),
        ("overview", "/api/overview".to_owned()),
    ] {
        let (took, _) = timed_get(&app, &uri).await;
        pages.push((label.to_owned(), took));
    }
    let page: Value = timed_get(&app, &format!("/api/alerts/{id}")).await.1;
    let key = page["events"][0]["userIdentity"]["accessKeyId"]
        .as_str()
        .unwrap_or("AKIA")
        .to_owned();
    let (took, hits) = timed_get(&app, &format!("/api/search?q={}", encode(&key))).await;
    println!(
        "search {key}: {} hits",
        hits["events"].as_array().map_or(0, Vec::len)
    );
    pages.push(("search one access key id".to_owned(), took));

    println!("| page (API request) | slowest of 3 |");
    println!("| --- | --- |");
    for (label, took) in &pages {
        println!("| {label} | {:.0} ms |", took.as_secs_f64() * 1000.0);
    }
    for (label, took) in &pages {
        assert!(*took < Duration::from_secs(1), "{label}: {took:?}");
    }
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
