//! Runs the SQL behaviour tests in `tests/slt/*.slt` with `sqllogictest` against a store
//! filled from `tests/fixtures/events.jsonl` and two alerts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::path::{Path, PathBuf};

use sqllogictest::{DB, DBOutput, DefaultColumnType};
use trailhound_store::Store;

#[derive(Debug)]
struct StoreDb(Store);

#[derive(Debug)]
struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

impl DB for StoreDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let result = self.0.query(sql).map_err(|e| SltError(e.to_string()))?;
        if result.columns.is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let mut types = vec![DefaultColumnType::Any; result.columns.len()];
        let rows = result
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        serde_json::Value::Null => "NULL".to_owned(),
                        serde_json::Value::String(s) if s.is_empty() => "(empty)".to_owned(),
                        serde_json::Value::String(s) => {
                            types[i] = DefaultColumnType::Text;
                            s.clone()
                        }
                        serde_json::Value::Number(n) => {
                            types[i] = if n.is_f64() {
                                DefaultColumnType::FloatingPoint
                            } else {
                                DefaultColumnType::Integer
                            };
                            n.to_string()
                        }
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        Ok(DBOutput::Rows { types, rows })
    }

    fn engine_name(&self) -> &str {
        "trailhound-store"
    }
}

fn filled_store(dir: &Path) -> Store {
    let events = common::events();
    let mut store = Store::open(dir).unwrap();
    store.append_events(&events).unwrap();
    store.append_alerts(&common::alerts(&events)).unwrap();
    drop(store);
    Store::open_read_only(dir).unwrap()
}

fn main() {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "slt"))
            .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files found");
    let mut failed = 0;
    for file in &files {
        let dir = tempfile::tempdir().unwrap();
        let store = filled_store(dir.path());
        let mut db = Some(StoreDb(store));
        let mut runner = sqllogictest::Runner::new(move || {
            let db = db
                .take()
                .ok_or_else(|| SltError("one connection per file".into()));
            async move { db }
        });
        match runner.run_file(file) {
            Ok(()) => eprintln!("slt {}: ok", file.display()),
            Err(e) => {
                eprintln!("slt {}: FAILED\n{e}", file.display());
                failed += 1;
            }
        }
    }
    println!("{} passed, {failed} failed", files.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
