//! Behaviour tests of the store API: idempotency, retention, search, pivots, alerts, the
//! pre-store filter, crash safety and export.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use trailhound_core::{Event, Origin, Timestamp};
use trailhound_store::{
    AlertStatus, AlertUpdate, ExportFormat, PivotKind, SearchQuery, Store, StoreOptions, TimeRange,
};

fn filled(dir: &Path) -> Store {
    let events = common::events();
    let mut store = Store::open(dir).unwrap();
    store.append_events(&events).unwrap();
    store.append_alerts(&common::alerts(&events)).unwrap();
    store
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

#[test]
fn rereading_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let events = common::events();
    let mut store = Store::open(dir.path()).unwrap();
    let first = store.append_events(&events).unwrap();
    assert_eq!((first.stored, first.duplicates), (10, 0));
    let second = store.append_events(&events).unwrap();
    assert_eq!((second.stored, second.duplicates), (0, 10));
    // Repeats inside one batch are caught too.
    let doubled: Vec<Event> = events.iter().chain(events.iter()).cloned().collect();
    drop(store);
    let dir2 = tempfile::tempdir().unwrap();
    let mut store2 = Store::open(dir2.path()).unwrap();
    let once = store2.append_events(&doubled).unwrap();
    assert_eq!((once.stored, once.duplicates), (10, 10));
    assert_eq!(store2.event_count().unwrap(), 10);
    // And after reopening.
    drop(store2);
    let mut store2 = Store::open(dir2.path()).unwrap();
    assert_eq!(store2.append_events(&events).unwrap().stored, 0);
    assert_eq!(store2.event_count().unwrap(), 10);
}

fn a_time() -> Timestamp {
    ts("2026-03-01T10:00:00Z")
}

#[test]
fn a_format_2_store_is_upgraded_on_its_first_writable_open() {
    let dir = tempfile::tempdir().unwrap();
    let events = common::events();
    drop(filled(dir.path()));
    // Rewrite the idempotence index as format 2 kept it: no event time.
    {
        let conn = rusqlite::Connection::open(dir.path().join(trailhound_store::DB_FILE)).unwrap();
        conn.execute_batch(
            "DROP VIEW ev; DROP VIEW events;
             CREATE TABLE ids_2 (uid INTEGER NOT NULL, account INTEGER NOT NULL,
                 row INTEGER NOT NULL, PRIMARY KEY (uid, account)) WITHOUT ROWID;
             INSERT INTO ids_2 SELECT uid, account, row FROM ids;
             DROP TABLE ids;
             ALTER TABLE ids_2 RENAME TO ids;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let err = Store::open_read_only(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("format 2") && err.contains("upgraded"),
        "{err}"
    );
    let mut store = Store::open(dir.path()).unwrap();
    let again = store.append_events(&events).unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 10));
    let e = &events[0];
    let row = store
        .event_row(e.event_id(), e.account_id().unwrap(), e.event_time())
        .unwrap();
    assert!(row.is_some());
    drop(store);
    assert!(Store::open_read_only(dir.path()).is_ok());
}

#[test]
fn a_format_3_store_gets_its_principal_runs_from_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let events = common::events();
    let store = filled(dir.path());
    let runs = "SELECT pkey, first, last, day, t_min, t_max FROM principal_runs ORDER BY 1, 2";
    let written = store.query(runs).unwrap().rows;
    let pivot = |store: &Store| {
        let arn = events[0].principal_key().unwrap();
        let p = store
            .pivot(PivotKind::Principal, arn, TimeRange::default(), 50)
            .unwrap();
        (p.total, p.timeline.len())
    };
    let before = pivot(&store);
    assert!(before.0 > 0);
    drop(store);
    // Make it a format 3 store: an index on every row's principal key, no runs.
    {
        let conn = rusqlite::Connection::open(dir.path().join(trailhound_store::DB_FILE)).unwrap();
        conn.execute_batch(
            "DROP TABLE principal_runs;
             CREATE INDEX event_rows_pkey ON event_rows(pkey) WHERE pkey IS NOT NULL;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let err = Store::open_read_only(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("format 3") && err.contains("upgraded"),
        "{err}"
    );
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.query(runs).unwrap().rows, written);
    let index = store
        .query("SELECT count(*) FROM sqlite_master WHERE name = 'event_rows_pkey'")
        .unwrap();
    assert_eq!(index.rows[0][0], 0);
    assert_eq!(pivot(&store), before);
    assert_runs_match_rows(&store);
    drop(store);
    assert!(Store::open_read_only(dir.path()).is_ok());
}

#[test]
fn same_event_id_in_another_account_is_another_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let raw = |account: &str| {
        format!(
            r#"{{"eventTime":"2026-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","eventID":"same-id","recipientAccountId":"{account}"}}"#
        )
    };
    let a = Event::from_json(raw("123456789012"), Origin::new("a", 0)).unwrap();
    let b = Event::from_json(raw("444455556666"), Origin::new("b", 0)).unwrap();
    assert_eq!(store.append_events(&[a, b]).unwrap().stored, 2);
    // The idempotence index finds each by id, account and time, and nothing else.
    let t = a_time();
    let in_a = store.event_row("same-id", "123456789012", t).unwrap();
    let in_b = store.event_row("same-id", "444455556666", t).unwrap();
    assert!(in_a.is_some() && in_b.is_some() && in_a != in_b);
    assert_eq!(store.event_row("same-id", "999999999999", t).unwrap(), None);
    assert_eq!(
        store.event_row("other-id", "123456789012", t).unwrap(),
        None
    );
    let later = Timestamp::from_millis(t.as_millis() + 1);
    assert_eq!(
        store.event_row("same-id", "123456789012", later).unwrap(),
        None
    );
    let q = store
        .query("SELECT id FROM ev WHERE event_id = 'same-id' AND account = '444455556666'")
        .unwrap();
    assert_eq!(q.rows[0][0], in_b.unwrap());
}

#[test]
fn retention_deletes_old_days_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = filled(dir.path());
    // Fixture days: 2026-03-01 (8 events) and 2026-03-02 (2 events).
    let deleted = store
        .apply_retention(1, ts("2026-03-03T12:00:00Z"))
        .unwrap();
    assert_eq!(deleted, 8);
    assert_eq!(store.event_count().unwrap(), 2);
    let q = store.query("SELECT count(*) FROM blocks").unwrap();
    assert_eq!(q.rows[0][0], 1_i64);
    // So are the principal runs of the deleted day.
    let q = store
        .query("SELECT count(*) FROM principal_runs WHERE day < 20514")
        .unwrap();
    assert_eq!(q.rows[0][0], 0);
    assert_runs_match_rows(&store);
    // Search entries of deleted events are gone with them.
    let hits = store
        .search(&SearchQuery {
            text: "example-finance-reports".into(),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert!(hits.is_empty());
    // The remaining raw records still decompress.
    let q = store
        .query("SELECT raw ->> 'eventName' FROM events ORDER BY event_time")
        .unwrap();
    assert_eq!(
        q.rows,
        vec![
            vec![serde_json::json!("DescribeInstances")],
            vec![serde_json::json!("CreateUser")]
        ]
    );
    // Alerts are kept.
    assert_eq!(store.alerts(None, 10).unwrap().len(), 2);
    assert_eq!(
        store
            .apply_retention(0, ts("2026-03-03T12:00:00Z"))
            .unwrap(),
        2
    );
    assert_eq!(store.event_count().unwrap(), 0);
}

#[test]
fn search_finds_keys_ips_buckets_and_words() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let names = |text: &str, fields: Vec<(String, String)>, range: TimeRange| -> Vec<String> {
        store
            .search(&SearchQuery {
                text: text.into(),
                range,
                fields,
                limit: 100,
            })
            .unwrap()
            .into_iter()
            .map(|r| r.event_name)
            .collect()
    };
    let all = TimeRange::default();
    // An access key id only seen in a response element.
    assert_eq!(
        names("AKIAEXAMPLENEWKEY01", vec![], all),
        ["CreateAccessKey"]
    );
    // An IP address is one token.
    assert_eq!(
        names("192.0.2.44", vec![], all),
        ["CreateUser", "DescribeInstances"]
    );
    // A bucket name in request parameters, newest first.
    assert_eq!(
        names("example-finance-reports", vec![], all),
        ["GetObject", "PutBucketPolicy"]
    );
    // Free words, all of which must occur; case-insensitive.
    assert_eq!(
        names("not AUTHORIZED listusers", vec![], all),
        ["ListUsers"]
    );
    // A part of an ARN.
    assert_eq!(names("backup-admin", vec![], all), ["CreateUser"]);
    // Field filters and time ranges.
    assert_eq!(
        names(
            "alice",
            vec![("event_source".into(), "iam.amazonaws.com".into())],
            all
        ),
        ["ListUsers", "CreateAccessKey"]
    );
    let range = TimeRange {
        since: Some(ts("2026-03-01T10:00:30Z")),
        until: Some(ts("2026-03-01T10:06:00Z")),
    };
    assert_eq!(names("203.0.113.7", vec![], range), ["AssumeRole"]);
    assert!(names("no-such-thing", vec![], all).is_empty());
    assert!(
        store
            .search(&SearchQuery {
                text: " :: ".into(),
                limit: 1,
                ..Default::default()
            })
            .is_err()
    );
    let err = store
        .search(&SearchQuery {
            text: "alice".into(),
            fields: vec![("raw; DROP TABLE ev".into(), "x".into())],
            limit: 1,
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().starts_with("unknown field"), "{err}");
}

#[test]
fn pivots() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let all = TimeRange::default();
    let pivot = store
        .pivot(
            PivotKind::Principal,
            "arn:aws:iam::123456789012:role/deploy",
            all,
            3,
        )
        .unwrap();
    insta::assert_json_snapshot!("pivot_principal_role", pivot, {
        ".alerts[].alert.id" => "[id]",
        ".alerts[].alert.fingerprint" => "[fingerprint]",
    });
    let pivot = store.pivot(PivotKind::Ip, "203.0.113.7", all, 10).unwrap();
    insta::assert_json_snapshot!("pivot_ip", pivot);
    let pivot = store
        .pivot(PivotKind::Key, "ASIAEXAMPLEDEPLOY01", all, 2)
        .unwrap();
    assert_eq!(pivot.total, 4);
    assert_eq!(pivot.alerts.len(), 1);
    let pivot = store
        .pivot(
            PivotKind::Session,
            "AROAEXAMPLEDEPLOY01:deploy-session",
            all,
            2,
        )
        .unwrap();
    assert_eq!(pivot.total, 4);
    assert_eq!(
        pivot.alerts.len(),
        1,
        "linked through the StopLogging event"
    );
    let pivot = store
        .pivot(PivotKind::Resource, "example-finance-reports", all, 10)
        .unwrap();
    insta::assert_json_snapshot!("pivot_resource", pivot);
    let pivot = store.pivot(PivotKind::Principal, "alice", all, 10).unwrap();
    assert_eq!(pivot.total, 4, "matched by user name");
    let none = store
        .pivot(PivotKind::Ip, "198.51.100.99", all, 10)
        .unwrap();
    assert_eq!((none.total, none.first_seen), (0, None));
}

#[test]
fn alert_triage_fields_survive_reappends() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = filled(dir.path());
    let id = store.alerts(Some(AlertStatus::Open), 10).unwrap()[0]
        .alert
        .id
        .clone();
    let at = ts("2026-03-01T11:00:00Z");
    store
        .update_alert(
            &id,
            &AlertUpdate {
                status: Some(AlertStatus::Acknowledged),
                note: Some("checking with the deploy team".into()),
                assignee: Some("bob".into()),
            },
            "carol",
            at,
        )
        .unwrap();
    let events = common::events();
    store.append_alerts(&common::alerts(&events)).unwrap();
    let alert = store.alert(&id).unwrap().unwrap();
    assert_eq!(alert.status, AlertStatus::Acknowledged);
    assert_eq!(alert.note.as_deref(), Some("checking with the deploy team"));
    assert_eq!(alert.assignee.as_deref(), Some("bob"));
    assert_eq!(alert.updated_by.as_deref(), Some("carol"));
    assert_eq!(alert.updated_at, Some(at));
    assert_eq!(store.alerts(Some(AlertStatus::Open), 10).unwrap().len(), 1);
    assert!(
        store
            .update_alert("nope", &AlertUpdate::default(), "carol", at)
            .is_err()
    );
    assert!("reopened".parse::<AlertStatus>().is_err());
}

#[test]
fn read_only_data_events_can_be_kept_as_counts() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        read_only_data_as_counts: true,
        ..StoreOptions::default()
    };
    let mut store = Store::open_with(dir.path(), options).unwrap();
    let summary = store.append_events(&common::events()).unwrap();
    assert_eq!((summary.stored, summary.counted), (9, 1));
    let q = store
        .query("SELECT minute, account, event_name, principal_key, n FROM event_counts")
        .unwrap();
    assert_eq!(
        serde_json::to_string(&q.rows).unwrap(),
        r#"[[1772359380000,"123456789012","GetObject","arn:aws:iam::123456789012:role/deploy",1]]"#
    );
}

#[test]
fn read_only_store_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    drop(filled(dir.path()));
    let store = Store::open_read_only(dir.path()).unwrap();
    assert!(store.query("DELETE FROM ev").is_err());
    assert!(
        store
            .query("PRAGMA query_only = OFF; DELETE FROM ev")
            .is_err()
    );
    assert_eq!(
        store.query("SELECT count(*) FROM ev").unwrap().rows[0][0],
        10_i64
    );
    assert!(Store::open_read_only(dir.path().join("missing")).is_err());
}

/// Child side of the crash test: appends batches of 500 events forever, recording each
/// committed batch number in `committed` after its commit returns.
#[test]
#[ignore = "run by crash_mid_append_leaves_no_partial_batch"]
fn crash_writer_child() {
    let Ok(dir) = std::env::var("TRAILHOUND_CRASH_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let mut store = Store::open(dir).unwrap();
    for batch in 0u32.. {
        let events: Vec<Event> = (0..500)
            .map(|i| {
                let raw = format!(
                    r#"{{"eventTime":"2026-03-01T10:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","eventID":"b{batch}-e{i}","recipientAccountId":"123456789012","requestParameters":{{"bucketName":"example-crash","key":"batch-{batch}/object-{i}"}}}}"#,
                    i % 60,
                    batch % 60
                );
                Event::from_json(raw, Origin::new("crash", i)).unwrap()
            })
            .collect();
        store.append_events(&events).unwrap();
        // Write-then-rename so the parent never reads a half-written number.
        std::fs::write(dir.join("committed.tmp"), batch.to_string()).unwrap();
        std::fs::rename(dir.join("committed.tmp"), dir.join("committed")).unwrap();
    }
}

#[test]
fn crash_mid_append_leaves_no_partial_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_writer_child", "--ignored", "--nocapture"])
        .env("TRAILHOUND_CRASH_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let marker = dir.path().join("committed");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|s| s.parse::<u32>().ok());
        if done.is_some_and(|n| n >= 3) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the writer committed too few batches"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL, mid-append with high probability: the writer appends without pause.
    child.kill().unwrap();
    child.wait().unwrap();
    let committed: u32 = std::fs::read_to_string(&marker).unwrap().parse().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let q = store
        .query(
            "SELECT substr(event_id, 2, instr(event_id, '-') - 2) AS batch, count(*) FROM events \
             GROUP BY batch ORDER BY CAST(batch AS INTEGER)",
        )
        .unwrap();
    // Every batch present is whole, and every batch whose commit returned is present.
    let batches: Vec<(u32, i64)> = q
        .rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().parse().unwrap(),
                r[1].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(batches.iter().all(|(_, n)| *n == 500), "{batches:?}");
    let numbers: Vec<u32> = batches.iter().map(|(b, _)| *b).collect();
    assert!(
        numbers.len() as u32 > committed,
        "{numbers:?} vs committed {committed}"
    );
    assert_eq!(numbers, (0..numbers.len() as u32).collect::<Vec<_>>());
    let check = store.query("PRAGMA integrity_check").unwrap();
    assert_eq!(check.rows[0][0], "ok");
    // The search filters, raw blocks, idempotence keys and rows agree.
    let total = i64::from(numbers.len() as u32) * 500;
    let hits = store
        .search(&SearchQuery {
            text: "example-crash".into(),
            limit: 1_000_000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits.len() as i64, total);
    let agree = store
        .query(
            "SELECT (SELECT count(*) FROM event_rows), (SELECT sum(n) FROM blocks), \
             (SELECT count(*) FROM ids), (SELECT count(*) FROM block_terms) = (SELECT count(*) FROM blocks)",
        )
        .unwrap();
    assert_eq!(
        agree.rows[0],
        vec![
            total.into(),
            total.into(),
            total.into(),
            serde_json::json!(1)
        ]
    );
    let raw = store
        .query("SELECT count(*) FROM events WHERE raw ->> 'eventID' = event_id")
        .unwrap();
    assert_eq!(raw.rows[0][0], i64::from(numbers.len() as u32) * 500);
}

#[test]
fn export_jsonl_and_parquet_partitions() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let out = tempfile::tempdir().unwrap();
    let summary = store
        .export(ExportFormat::Parquet, TimeRange::default(), out.path())
        .unwrap();
    assert_eq!(summary.events, 10);
    assert_eq!(
        summary.files,
        [
            "date=2026-03-01/account=123456789012/part-00000.parquet",
            "date=2026-03-02/account=111122223333/part-00000.parquet",
        ]
    );
    let mut rows = 0;
    for file in &summary.files {
        let reader =
            SerializedFileReader::new(std::fs::File::open(out.path().join(file)).unwrap()).unwrap();
        rows += reader.metadata().file_metadata().num_rows();
        let fields: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        assert!(
            !fields.contains(&"account".to_owned()),
            "partition columns live in the path"
        );
        assert_eq!(fields.first().map(String::as_str), Some("event_time"));
        assert_eq!(fields.last().map(String::as_str), Some("raw"));
    }
    assert_eq!(rows, 10);
    let range = TimeRange {
        since: Some(ts("2026-03-02T00:00:00Z")),
        until: None,
    };
    let jsonl = store
        .export(ExportFormat::Jsonl, range, out.path())
        .unwrap();
    assert_eq!(
        jsonl.files,
        ["date=2026-03-02/account=111122223333/part-00000.jsonl"]
    );
    let text = std::fs::read_to_string(out.path().join(&jsonl.files[0])).unwrap();
    let original = std::fs::read_to_string(common::fixtures().join("events.jsonl")).unwrap();
    let tail: Vec<&str> = original.lines().skip(8).collect();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        tail,
        "raw records come back byte for byte"
    );
}

/// Reads a Parquet export back with DuckDB (the Python package) using Hive partitioning.
#[test]
fn duckdb_reads_the_parquet_export() {
    let python = std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .output();
    match python {
        Ok(o) if o.status.success() => {}
        _ => {
            eprintln!(
                "SKIPPED duckdb_reads_the_parquet_export: python3 with duckdb is not installed (scripts/test-deps.sh installs it)"
            );
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = filled(dir.path());
    let out = tempfile::tempdir().unwrap();
    let summary = store
        .export(ExportFormat::Parquet, TimeRange::default(), out.path())
        .unwrap();
    let script = format!(
        "import duckdb\n\
         r = duckdb.sql(\"SELECT count(*), count(DISTINCT account), min(date), \
         sum(CASE WHEN event_name = 'StopLogging' THEN 1 ELSE 0 END), \
         max(json_extract_string(raw, '$.requestParameters.bucketName')) \
         FROM read_parquet('{}/**/*.parquet', hive_partitioning = true)\").fetchall()\n\
         print(r[0])",
        out.path().display()
    );
    let output = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(summary.events, 10);
    assert!(printed.starts_with("(10, 2, "), "{printed}");
    assert!(
        printed.contains("1, 'example-finance-reports')"),
        "{printed}"
    );
}

#[path = "common/gen.rs"]
mod generator;

#[test]
fn a_large_append_with_some_events_already_stored_keeps_blocks_and_rows_in_step() {
    // Large appends build their blocks while the duplicate check runs, from every candidate;
    // when some candidates were stored already, the blocks are built again from the rest.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut rng = generator::Rng::new(7);
    let (events, _) = generator::events(&mut rng, 0, 3000);
    let every_third: Vec<Event> = events.iter().step_by(3).cloned().collect();
    assert_eq!(store.append_events(&every_third).unwrap().stored, 1000);
    let all = store.append_events(&events).unwrap();
    assert_eq!((all.stored, all.duplicates), (2000, 1000));
    // Every stored row reads back its own record.
    let q = store
        .query("SELECT count(*) FROM events WHERE json_extract(raw, '$.eventID') = event_id")
        .unwrap();
    assert_eq!(q.rows[0][0], 3000);
    for e in &events {
        let row = store
            .event_row(e.event_id(), e.account_id().unwrap_or(""), e.event_time())
            .unwrap()
            .unwrap();
        let q = store
            .query(&format!(
                "SELECT json_extract(raw, '$.eventID') FROM events WHERE id = {row}"
            ))
            .unwrap();
        assert_eq!(q.rows[0][0], e.event_id());
    }
    assert_runs_match_rows(&store);
}

/// Every row with a principal key is in exactly one run of that principal, every run covers
/// rows of its principal only, and its day and times are those of its rows.
fn assert_runs_match_rows(store: &Store) {
    let q = store
        .query(
            "SELECT
               (SELECT count(*) FROM event_rows r WHERE r.pkey IS NOT NULL AND
                  (SELECT count(*) FROM principal_runs p
                   WHERE p.pkey = r.pkey AND r.id BETWEEN p.first AND p.last) != 1),
               (SELECT count(*) FROM principal_runs p WHERE
                  (SELECT count(*) FROM event_rows r
                   WHERE r.id BETWEEN p.first AND p.last AND r.pkey = p.pkey) != p.last - p.first + 1
                  OR p.t_min != (SELECT min(t) FROM event_rows r WHERE r.id BETWEEN p.first AND p.last)
                  OR p.t_max != (SELECT max(t) FROM event_rows r WHERE r.id BETWEEN p.first AND p.last)
                  OR p.day != p.t_min / 86400000 OR p.day != p.t_max / 86400000),
               (SELECT count(*) FROM principal_runs)",
        )
        .unwrap();
    assert_eq!(q.rows[0][0], 0, "rows outside their principal's runs");
    assert_eq!(q.rows[0][1], 0, "runs that do not match their rows");
    assert!(q.rows[0][2].as_i64().unwrap() > 0);
}

#[test]
fn principal_pivots_count_what_the_rows_hold_in_any_time_range() {
    // Three appends over two days each, so that a principal has runs in several appends and
    // days; windows cut days and runs.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut rng = generator::Rng::new(11);
    const DAY: u64 = 8_640_000; // events of the generator per day (one every 10 ms)
    for (first_day, second_day) in [(0, 1), (0, 2), (1, 2)] {
        let mut batch = generator::events(&mut rng, first_day * DAY + 2000 * second_day, 1500).0;
        batch.extend(generator::events(&mut rng, second_day * DAY + 2000 * first_day, 1500).0);
        assert_eq!(store.append_events(&batch).unwrap().stored, 3000);
    }
    assert_runs_match_rows(&store);
    let busiest = store
        .query(
            "SELECT principal_key FROM events GROUP BY principal_key ORDER BY count(*) DESC, 1 LIMIT 5",
        )
        .unwrap();
    let day0 = ts("2026-03-01T00:00:00Z").as_millis();
    let at = |ms: i64| Timestamp::from_millis(day0 + ms);
    let windows = [
        TimeRange::default(),
        TimeRange {
            since: Some(at(12_000)),
            until: None,
        },
        TimeRange {
            since: None,
            until: Some(at(86_400_000 + 25_000)),
        },
        TimeRange {
            since: Some(at(5_000)),
            until: Some(at(2 * 86_400_000 + 10_000)),
        },
        TimeRange {
            since: Some(at(86_400_000)),
            until: Some(at(86_400_000 + 30_000)),
        },
    ];
    for row in &busiest.rows {
        let arn = row[0].as_str().unwrap();
        for window in windows {
            let pivot = store.pivot(PivotKind::Principal, arn, window, 5).unwrap();
            let since = window.since.map_or(i64::MIN, Timestamp::as_millis);
            let until = window.until.map_or(i64::MAX, Timestamp::as_millis);
            let q = store
                .query(&format!(
                    "SELECT count(*) FROM events WHERE principal_key = '{arn}' \
                     AND event_time >= {since} AND event_time < {until}"
                ))
                .unwrap();
            assert_eq!(
                pivot.total,
                q.rows[0][0].as_u64().unwrap(),
                "{arn} {window:?}"
            );
            assert_eq!(pivot.timeline.len() as u64, pivot.total.min(5));
            assert!(
                pivot
                    .timeline
                    .windows(2)
                    .all(|w| w[0].event_time >= w[1].event_time),
                "newest first"
            );
        }
    }
}

#[test]
fn rows_of_events_sharing_an_identity_hold_each_events_own_values() {
    // The decoder shares one identity among the records of the same `userIdentity` text; an
    // append reads the identity's columns once per identity. Two identities interleaved,
    // each record with its own agent, address and error, must come back as written.
    let identity = |user: &str, key: &str| {
        format!(
            r#"{{"type":"IAMUser","principalId":"AIDA{user}","arn":"arn:aws:iam::111122223333:user/{user}","accountId":"111122223333","accessKeyId":"{key}","userName":"{user}"}}"#
        )
    };
    let (alice, bob) = (
        identity("alice", "AKIAALICE0000000000A"),
        identity("bob", "AKIABOB00000000000B0"),
    );
    let records: Vec<String> = (0..8)
        .map(|i| {
            let who = if i % 2 == 0 { &alice } else { &bob };
            let error = if i == 5 {
                r#","errorCode":"AccessDenied""#
            } else {
                ""
            };
            format!(
                r#"{{"eventVersion":"1.08","userIdentity":{who},"eventTime":"2026-01-15T10:00:0{i}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.{i}","userAgent":"agent-{i}"{error},"eventID":"id-{i}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}}"#
            )
        })
        .collect();
    let text = format!(r#"{{"Records":[{}]}}"#, records.join(","));
    let decoded = trailhound_ingest::decode_object(
        &std::sync::Arc::from("inline"),
        trailhound_ingest::ObjectClass::Log,
        text.as_bytes(),
        &trailhound_ingest::IngestOptions::default(),
        &mut trailhound_ingest::Scratch::default(),
    );
    assert_eq!(decoded.events.len(), 8);
    let (first, third) = (&decoded.events[0], &decoded.events[2]);
    assert!(
        std::ptr::eq(first.user_identity(), third.user_identity()),
        "the decoder shares a repeated identity"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.append_events(&decoded.events).unwrap().stored, 8);
    let q = store
        .query(
            "SELECT event_id, user_name, access_key_id, principal_arn, principal_key, session,
                    source_ip, user_agent, error_code
             FROM events ORDER BY event_id",
        )
        .unwrap();
    let rows: Vec<String> = q
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.as_str().unwrap_or("-").to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let expected: Vec<String> = (0..8)
        .map(|i| {
            let (user, key) = if i % 2 == 0 {
                ("alice", "AKIAALICE0000000000A")
            } else {
                ("bob", "AKIABOB00000000000B0")
            };
            let arn = format!("arn:aws:iam::111122223333:user/{user}");
            let error = if i == 5 { "AccessDenied" } else { "-" };
            format!("id-{i} {user} {key} {arn} {arn} AIDA{user} 198.51.100.{i} agent-{i} {error}")
        })
        .collect();
    assert_eq!(rows, expected);
}
