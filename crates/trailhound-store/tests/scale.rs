//! Scale run: builds a store and measures append rate, bytes on disk against the raw JSON,
//! and query, search and pivot latency. Ignored by default. With `TRAILHOUND_SCALE_INPUT`
//! set to a `trailhound gen` tree, its records are decoded (not timed) and appended in
//! batches of 65,536; otherwise `TRAILHOUND_SCALE_EVENTS` records of the test generator are.
//!
//! ```text
//! trailhound gen --out /tmp/th-gen --days 10 --accounts 5 --events-per-day 200000
//! TRAILHOUND_SCALE_INPUT=/tmp/th-gen TRAILHOUND_SCALE_DIR=/tmp/th-scale \
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

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use trailhound_core::Event;
use trailhound_store::{PivotKind, SearchQuery, Store, TimeRange};

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    println!("{what}: {:.3} s", took.as_secs_f64());
    (out, took)
}

const BATCH: usize = 65_536;

/// CPU seconds used by this process so far (user + system, from `/proc/self/stat`; 0 where
/// there is none). Taken around appends it includes the decoding threads' read-ahead, which
/// stops after a few thousand events.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): utime and stime are the
    // 12th and 13th, in clock ticks (100 per second on Linux).
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Time and CPU spent appending.
#[derive(Default)]
struct Appending {
    wall: Duration,
    cpu: f64,
}

/// Appends `events`, adding the time spent and the raw bytes.
fn append(store: &mut Store, events: &mut Vec<Event>, appending: &mut Appending, raw: &mut u64) {
    *raw += events.iter().map(|e| e.raw().len() as u64).sum::<u64>();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    store.append_events(events).unwrap();
    appending.wall += t.elapsed();
    appending.cpu += cpu_seconds() - cpu;
    events.clear();
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
    let (mut raw_bytes, mut appending) = (0u64, Appending::default());
    let mut buffer: Vec<Event> = Vec::with_capacity(BATCH);
    let synthetic = std::env::var("TRAILHOUND_SCALE_INPUT").is_err();
    if let Ok(input) = std::env::var("TRAILHOUND_SCALE_INPUT") {
        let inputs = trailhound_ingest::discover(&[input]).unwrap();
        // Decoding is not timed: keep its read-ahead to two objects, so that the decoding
        // threads do not run (and take CPU) while an append is timed. With the default
        // read-ahead (16 objects per thread, about 8,000 events of these files) the decoders
        // kept working through every append.
        let options = trailhound_ingest::IngestOptions {
            in_flight: 2,
            ..trailhound_ingest::IngestOptions::default()
        };
        trailhound_ingest::ingest(&inputs, &options, &mut |batch, _| {
            buffer.extend(batch.events);
            if buffer.len() >= BATCH {
                append(&mut store, &mut buffer, &mut appending, &mut raw_bytes);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    } else {
        let mut rng = generator::Rng::new(42);
        let mut start = 0;
        while start < total {
            let n = (BATCH as u64).min(total - start);
            buffer.extend(generator::events(&mut rng, start, n).0);
            append(&mut store, &mut buffer, &mut appending, &mut raw_bytes);
            start += n;
        }
    }
    if !buffer.is_empty() {
        append(&mut store, &mut buffer, &mut appending, &mut raw_bytes);
    }
    let total = store.event_count().unwrap();
    store.checkpoint().unwrap();
    let disk = store.disk_bytes();
    println!("events: {total}");
    println!(
        "append: {:.0} events/s ({:.1} s in append_events, {:.1} CPU-s: {:.2} µs per event)",
        total as f64 / appending.wall.as_secs_f64(),
        appending.wall.as_secs_f64(),
        appending.cpu,
        appending.cpu * 1e6 / total as f64
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
    if synthetic {
        assert_eq!(groups.rows.len(), 15);
    }
    let pick = |sql: &str| -> String {
        store.query(sql).unwrap().rows[0][0]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let key = pick(
        "SELECT th_str(akey) FROM event_rows WHERE akey IS NOT NULL \
         AND id >= (SELECT max(id) / 2 FROM event_rows) LIMIT 1",
    );
    let (hits, _) = timed(
        &format!("search one access key id {key} (limit 100)"),
        || {
            store
                .search(&SearchQuery {
                    text: key.clone(),
                    range: TimeRange::default(),
                    fields: vec![],
                    limit: 100,
                })
                .unwrap()
        },
    );
    println!("search hits: {}", hits.len());
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .any(|h| h.access_key_id.as_deref() == Some(key.as_str()))
    );
    let arn = pick(
        "SELECT th_str(pkey) FROM event_rows WHERE pkey IS NOT NULL \
         AND id >= (SELECT max(id) / 3 FROM event_rows) LIMIT 1",
    );
    let (pivot, _) = timed(&format!("principal pivot {arn} (timeline 50)"), || {
        store
            .pivot(PivotKind::Principal, &arn, TimeRange::default(), 50)
            .unwrap()
    });
    println!("pivot total: {}", pivot.total);
    assert!(pivot.total > 0);
    let (json, _) = timed(
        "JSON path over S3 events: count by requestParameters.bucketName (top 5)",
        || {
            store
            .query("SELECT request_parameters ->> 'bucketName' b, count(*) FROM events WHERE event_source = 's3.amazonaws.com' GROUP BY b ORDER BY 2 DESC LIMIT 5")
            .unwrap()
        },
    );
    println!("{:?}", json.rows);
}
