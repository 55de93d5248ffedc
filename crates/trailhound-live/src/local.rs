//! Local sources: directories followed for new files, and stdin.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, watch};
use trailhound_ingest::{IngestOptions, ObjectClass, Scratch, classify_path};

use crate::metrics::{Metrics, now_ms};
use crate::process::{Ack, Unit};

/// Follows `dir`: every new file, once its size stayed the same over two scans, is read once.
/// Files in `done` (from the checkpoint) are not read again.
pub(crate) async fn follow_dir(
    dir: PathBuf,
    every: Duration,
    done: BTreeSet<String>,
    ingest: IngestOptions,
    metrics: Arc<Metrics>,
    units: mpsc::Sender<Unit>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut dispatched = done;
    let mut sizes: HashMap<PathBuf, (u64, Option<SystemTime>)> = HashMap::new();
    loop {
        let scan_dir = dir.clone();
        let files = tokio::task::spawn_blocking(move || {
            let mut files = Vec::new();
            walk(&scan_dir, &mut files);
            files
        })
        .await
        .unwrap_or_default();
        for (path, size, modified) in files {
            let name = path.to_string_lossy().into_owned();
            if dispatched.contains(&name) {
                continue;
            }
            let stable = sizes.get(&path) == Some(&(size, modified));
            if !stable {
                sizes.insert(path, (size, modified));
                continue;
            }
            sizes.remove(&path);
            let class = classify_path(&name);
            if matches!(class, ObjectClass::Digest | ObjectClass::Other) {
                dispatched.insert(name);
                continue;
            }
            let bytes = match tokio::fs::read(&path).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    metrics.error("unreadable");
                    tracing::warn!(path = %name, error = %e, "cannot read file");
                    dispatched.insert(name);
                    continue;
                }
            };
            let source: Arc<str> = Arc::from(name.as_str());
            let options = ingest.clone();
            let decode_source = source.clone();
            let Ok(decoded) = tokio::task::spawn_blocking(move || {
                trailhound_ingest::decode_object(
                    &decode_source,
                    class,
                    &bytes,
                    &options,
                    &mut Scratch::default(),
                )
            })
            .await
            else {
                continue;
            };
            metrics.objects.fetch_add(1, Ordering::Relaxed);
            for (reason, n) in &decoded.stats.skipped {
                metrics.error_n(reason.as_str(), *n);
            }
            if decoded.events.is_empty() && decoded.stats.skipped_total() > 0 {
                metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
                tracing::error!(path = %name, reasons = %decoded.stats.skipped_summary(), "poison file skipped");
            }
            dispatched.insert(name.clone());
            let unit = Unit {
                source,
                events: decoded.events,
                ack: Ack::File(name),
                sent_ms: modified.and_then(|m| {
                    m.duration_since(SystemTime::UNIX_EPOCH)
                        .ok()
                        .and_then(|d| i64::try_from(d.as_millis()).ok())
                }),
            };
            if units.send(unit).await.is_err() {
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if meta.is_dir() {
            if !hidden {
                walk(&path, out);
            }
        } else if meta.is_file() && !hidden && path.extension().is_none_or(|e| e != "tmp") {
            out.push((path, meta.len(), meta.modified().ok()));
        }
    }
}

/// Reads stdin (JSON lines, one record or `{"Records":[…]}` per line) until end of input or
/// shutdown, in batches of up to `batch` lines or 200 ms.
pub(crate) async fn read_stdin(
    batch: usize,
    ingest: IngestOptions,
    metrics: Arc<Metrics>,
    units: mpsc::Sender<Unit>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let source: Arc<str> = Arc::from("stdin");
    let mut buffer = String::new();
    let mut count = 0usize;
    let mut eof = false;
    while !eof {
        let line = tokio::select! {
            line = tokio::time::timeout(Duration::from_millis(200), lines.next_line()) => line,
            _ = shutdown.changed() => Ok(Ok(None)),
        };
        match line {
            Ok(Ok(Some(line))) => {
                buffer.push_str(&line);
                buffer.push('\n');
                count += 1;
                if count < batch {
                    continue;
                }
            }
            Ok(Ok(None)) => eof = true,
            Ok(Err(e)) => {
                metrics.error("stdin");
                tracing::error!(error = %e, "cannot read stdin");
                eof = true;
            }
            Err(_) => {}
        }
        if buffer.is_empty() {
            continue;
        }
        let text = std::mem::take(&mut buffer);
        count = 0;
        let decoded = trailhound_ingest::decode_object(
            &source,
            ObjectClass::Log,
            text.as_bytes(),
            &ingest,
            &mut Scratch::default(),
        );
        for (reason, n) in &decoded.stats.skipped {
            metrics.error_n(reason.as_str(), *n);
        }
        let unit = Unit {
            source: source.clone(),
            events: decoded.events,
            ack: Ack::None,
            sent_ms: Some(now_ms()),
        };
        if units.send(unit).await.is_err() {
            return;
        }
    }
}
