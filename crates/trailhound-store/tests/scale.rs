//! Scale run: builds a store of generated events and measures append rate, bytes on disk
//! against the raw JSON, and query, search and pivot latency. Ignored by default; run with
//!
//! ```text
//! TRAILHOUND_SCALE_EVENTS=10000000 TRAILHOUND_SCALE_DIR=/tmp/th-scale \
//!   cargo test --release -p trailhound-store --test scale -- --ignored --nocapture
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

#[path = "common/gen.rs"]
mod generator;

use std::time::{Duration, Instant};

use trailhound_store::{PivotKind, SearchQuery, Store, TimeRange};

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    println!("{what}: {:.3} s", took.as_secs_f64());
    (out, took)
}

#[test]
#[ignore = "scale run: minutes and gigabytes"]
fn scale() {
    let total: u64 = std::env::var("TRAILHOUND_SCALE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::var("TRAILHOUND_SCALE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("trailhound-scale"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir).unwrap();
    let mut rng = generator::Rng::new(42);
    let batch = 10_000;
    let (mut raw_bytes, mut appending) = (0u64, Duration::ZERO);
    let mut start = 0;
    while start < total {
        let n = batch.min(total - start);
        let (events, bytes) = generator::events(&mut rng, start, n);
        raw_bytes += bytes;
        let t = Instant::now();
        store.append_events(&events).unwrap();
        appending += t.elapsed();
        start += n;
    }
    store.checkpoint().unwrap();
    let disk = store.disk_bytes();
    println!("events: {total}");
    println!(
        "append: {:.0} events/s ({:.1} s in append_events)",
        total as f64 / appending.as_secs_f64(),
        appending.as_secs_f64()
    );
    println!(
        "raw JSON: {:.1} MB, store on disk: {:.1} MB, ratio {:.1}%",
        raw_bytes as f64 / 1e6,
        disk as f64 / 1e6,
        disk as f64 * 100.0 / raw_bytes as f64
    );
    let sizes = store
        .query("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12")
        .ok();
    if let Some(sizes) = sizes {
        for row in sizes.rows {
            println!(
                "  {:<24} {:>8.1} MB",
                row[0].as_str().unwrap_or(""),
                row[1].as_f64().unwrap_or(0.0) / 1e6
            );
        }
    }
    drop(store);
    let store = Store::open_read_only(&dir).unwrap();
    let (groups, _) = timed("GROUP BY event_name over all events", || {
        store
            .query("SELECT event_name, count(*) FROM events GROUP BY event_name ORDER BY 2 DESC")
            .unwrap()
    });
    assert_eq!(groups.rows.len(), 15);
    let key = generator::key_of(1234);
    let (hits, _) = timed("search one access key id (limit 100)", || {
        store
            .search(&SearchQuery {
                text: key.clone(),
                range: TimeRange::default(),
                fields: vec![],
                limit: 100,
            })
            .unwrap()
    });
    assert_eq!(hits.len(), 100);
    assert!(
        hits.iter()
            .all(|h| h.access_key_id.as_deref() == Some(key.as_str()))
    );
    let arn = generator::arn_of(1234);
    let (pivot, _) = timed("principal pivot (timeline 50)", || {
        store
            .pivot(PivotKind::Principal, &arn, TimeRange::default(), 50)
            .unwrap()
    });
    println!("pivot total: {}", pivot.total);
    assert!(pivot.total > 0);
    let (_, _) = timed(
        "JSON path over all events: count by requestParameters.bucketName (top 5)",
        || {
            store
            .query("SELECT request_parameters ->> 'bucketName' b, count(*) FROM events WHERE event_source = 's3.amazonaws.com' GROUP BY b ORDER BY 2 DESC LIMIT 5")
            .unwrap()
        },
    );
}
