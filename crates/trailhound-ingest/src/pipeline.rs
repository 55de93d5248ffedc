//! Parallel decoding across objects, delivered in input order with bounded work in flight.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};
use trailhound_core::EventBatch;

use crate::classify::classify_path;
use crate::decode::{Decoded, Scratch, decode_object};
use crate::source::{Input, OpenDirs};
use crate::{Error, IngestOptions, IngestStats, Result, SkipReason};

/// What one run read: its counters and the digest files set aside.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// Counters of the whole run.
    pub stats: IngestStats,
    /// Digest files found (by key or by content), for integrity checks, in input order.
    pub digest_files: Vec<Arc<str>>,
    /// True when the consumer stopped the run early.
    pub stopped: bool,
}

struct Done {
    source: Arc<str>,
    decoded: Decoded,
}

/// An input to read (borrowed: the workers are scoped to the run) and where its result goes.
type Job<'a> = (&'a Input, Sender<Done>);

/// Reads `inputs` on `options.threads` worker threads and hands their events to `on_batch` in
/// input order, as batches of at most `options.batch_size` events, with the running counters.
/// At most `options.in_flight` objects are read ahead of the consumer, so a slow consumer
/// holds back the readers (memory stays bounded). `on_batch` returning `Break` stops the run.
///
/// Problems inside objects are counted in the report, never errors.
///
/// # Errors
/// [`Error::Worker`] when a worker thread dies.
pub fn ingest(
    inputs: &[Input],
    options: &IngestOptions,
    on_batch: &mut dyn FnMut(EventBatch, &IngestStats) -> ControlFlow<()>,
) -> Result<IngestReport> {
    let threads = options.threads.max(1).min(inputs.len().max(1));
    let in_flight = options.in_flight.max(threads);
    let cancel = AtomicBool::new(false);
    let mut report = IngestReport::default();
    std::thread::scope(|scope| -> Result<()> {
        let (job_tx, job_rx) = crossbeam_channel::bounded::<Job>(in_flight);
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let job_rx = job_rx.clone();
                let cancel = &cancel;
                scope.spawn(move || worker(&job_rx, options, cancel))
            })
            .collect();
        drop(job_rx);
        // `drive` owns the job sender: when it returns, workers run out of jobs and end.
        let result = drive(inputs, options, in_flight, job_tx, &mut report, on_batch);
        if result.is_err() || report.stopped {
            cancel.store(true, Ordering::Relaxed);
        }
        // Joining explicitly turns a worker's panic into an error instead of a panic here.
        let mut joined = Ok(());
        for handle in handles {
            if handle.join().is_err() {
                joined = Err(Error::Worker);
            }
        }
        result.and(joined)
    })?;
    Ok(report)
}

/// Feeds jobs to the workers and delivers their results in input order, keeping at most
/// `in_flight` objects pending.
fn drive<'a>(
    inputs: &'a [Input],
    options: &IngestOptions,
    in_flight: usize,
    job_tx: Sender<Job<'a>>,
    report: &mut IngestReport,
    on_batch: &mut dyn FnMut(EventBatch, &IngestStats) -> ControlFlow<()>,
) -> Result<()> {
    let mut pending: VecDeque<Receiver<Done>> = VecDeque::with_capacity(in_flight + 1);
    let mut deliver = |rx: Receiver<Done>, report: &mut IngestReport| -> Result<ControlFlow<()>> {
        let done = rx.recv().map_err(|_| Error::Worker)?;
        Ok(deliver_one(done, options, report, on_batch))
    };
    for input in inputs {
        if pending.len() >= in_flight
            && let Some(rx) = pending.pop_front()
            && deliver(rx, report)?.is_break()
        {
            report.stopped = true;
            return Ok(());
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        job_tx.send((input, tx)).map_err(|_| Error::Worker)?;
        pending.push_back(rx);
    }
    drop(job_tx);
    while let Some(rx) = pending.pop_front() {
        if deliver(rx, report)?.is_break() {
            report.stopped = true;
            break;
        }
    }
    Ok(())
}

fn deliver_one(
    done: Done,
    options: &IngestOptions,
    report: &mut IngestReport,
    on_batch: &mut dyn FnMut(EventBatch, &IngestStats) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let Done { source, decoded } = done;
    report.stats.merge(&decoded.stats);
    if decoded.digest {
        report.digest_files.push(Arc::clone(&source));
    }
    let mut events = decoded.events;
    if events.is_empty() {
        return on_batch(EventBatch { source, events }, &report.stats);
    }
    let size = options.batch_size.max(1);
    while !events.is_empty() {
        let rest = if events.len() > size {
            events.split_off(size)
        } else {
            Vec::new()
        };
        on_batch(
            EventBatch {
                source: Arc::clone(&source),
                events,
            },
            &report.stats,
        )?;
        events = rest;
    }
    ControlFlow::Continue(())
}

fn worker(jobs: &Receiver<Job<'_>>, options: &IngestOptions, cancel: &AtomicBool) {
    let mut raw = Vec::new();
    let mut scratch = Scratch::with_pool(options.pooled_bytes);
    let mut dirs = OpenDirs::default();
    for (input, reply) in jobs {
        let source = input.source_name();
        let decoded = if cancel.load(Ordering::Relaxed) {
            Decoded::default()
        } else {
            read_one(input, &source, options, &mut raw, &mut scratch, &mut dirs)
        };
        // The consumer may have stopped; nobody waiting is fine.
        let _ = reply.send(Done { source, decoded });
        // Do not keep a huge buffer alive after an outsized object.
        if raw.capacity() > 64 << 20 {
            raw = Vec::new();
        }
    }
}

fn read_one(
    input: &Input,
    source: &Arc<str>,
    options: &IngestOptions,
    raw: &mut Vec<u8>,
    scratch: &mut Scratch,
    dirs: &mut OpenDirs,
) -> Decoded {
    let class = match input {
        Input::File(_) => classify_path(source),
        Input::Object { key, .. } => classify_path(key),
        Input::Stdin => crate::ObjectClass::Log,
    };
    if class == crate::ObjectClass::Other || class == crate::ObjectClass::Digest {
        // Decided by the key alone: do not read the object.
        return decode_object(source, class, &[], options, scratch);
    }
    if let Err(error) = input.read_with(raw, options.max_object_bytes, Some(dirs)) {
        tracing::warn!(%source, "cannot read: {error}");
        let mut decoded = Decoded::default();
        decoded.stats.files = 1;
        decoded.stats.skip(SkipReason::Unreadable, 1);
        return decoded;
    }
    decode_object(source, class, raw, options, scratch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_lines(dir: &std::path::Path, name: &str, ids: std::ops::Range<u32>) -> Input {
        let text: String = ids
            .map(|i| {
                format!(
                    r#"{{"eventTime":"2026-01-15T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"e{i}"}}
"#
                )
            })
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Input::File(path)
    }

    #[test]
    fn delivers_in_input_order_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<Input> = (0..12)
            .map(|f| write_lines(dir.path(), &format!("f{f:02}.jsonl"), f * 10..f * 10 + 10))
            .collect();
        let options = IngestOptions {
            threads: 3,
            in_flight: 4,
            batch_size: 4,
            ..IngestOptions::default()
        };
        let mut seen = Vec::new();
        let mut batches = 0;
        let report = ingest(&inputs, &options, &mut |batch, _| {
            assert!(batch.events.len() <= 4);
            batches += 1;
            seen.extend(batch.events.iter().map(|e| e.event_id().to_owned()));
            ControlFlow::Continue(())
        })
        .unwrap();
        let expected: Vec<String> = (0..120).map(|i| format!("e{i}")).collect();
        assert_eq!(seen, expected);
        assert_eq!(batches, 12 * 3);
        assert_eq!(report.stats.files, 12);
        assert_eq!(report.stats.events, 120);
    }

    /// Objects held in memory, counting reads.
    #[derive(Debug, Default)]
    struct Memory {
        objects: std::collections::HashMap<String, Vec<u8>>,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl crate::ObjectReader for Memory {
        fn source_name(&self, key: &str) -> Arc<str> {
            Arc::from(format!("mem://{key}"))
        }

        fn read_into(&self, key: &str, buf: &mut Vec<u8>, cap: u64) -> std::io::Result<()> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let bytes = self
                .objects
                .get(key)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, key.to_owned()))?;
            buf.clear();
            let take = usize::try_from(cap.saturating_add(1)).unwrap_or(usize::MAX);
            buf.extend_from_slice(&bytes[..bytes.len().min(take)]);
            Ok(())
        }
    }

    #[test]
    fn objects_of_a_reader_are_read_by_key_class() {
        let log = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/15/123456789012_CloudTrail_us-east-1_20260115T1000Z_a.json.gz";
        let digest = "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/01/15/123456789012_CloudTrail-Digest_us-east-1_t_us-east-1_20260115T110000Z.json.gz";
        let mut memory = Memory::default();
        memory.objects.insert(
            log.to_owned(),
            br#"{"Records":[{"eventTime":"2026-01-15T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","eventID":"m1"}]}"#.to_vec(),
        );
        memory.objects.insert(digest.to_owned(), b"{}".to_vec());
        let memory = Arc::new(memory);
        let reader: Arc<dyn crate::ObjectReader> = memory.clone();
        let inputs: Vec<Input> = [log, digest, "missing.json"]
            .iter()
            .map(|key| Input::Object {
                reader: Arc::clone(&reader),
                key: Arc::from(*key),
            })
            .collect();
        assert_eq!(inputs[0].source_name().as_ref(), format!("mem://{log}"));
        let mut origins = Vec::new();
        let report = ingest(&inputs, &IngestOptions::default(), &mut |batch, _| {
            origins.extend(batch.events.iter().map(|e| e.origin().to_string()));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(origins, [format!("mem://{log}#0")]);
        assert_eq!(report.stats.files, 3);
        assert_eq!(report.stats.events, 1);
        assert_eq!(report.stats.skipped(SkipReason::Unreadable), 1);
        assert_eq!(report.digest_files.len(), 1);
        // The digest is told by its key and never read.
        assert_eq!(memory.reads.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn consumer_can_stop_and_unreadable_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs: Vec<Input> = (0..6)
            .map(|f| write_lines(dir.path(), &format!("f{f}.jsonl"), 0..3))
            .collect();
        inputs.insert(1, Input::File(dir.path().join("vanished.json")));
        let mut calls = 0;
        let report = ingest(&inputs, &IngestOptions::default(), &mut |_, stats| {
            calls += 1;
            if stats.skipped(SkipReason::Unreadable) == 1 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert!(report.stopped);
        assert_eq!(calls, 2);
        assert_eq!(report.stats.skipped(SkipReason::Unreadable), 1);
    }
}
