//! SQS sources: long-poll, read the objects a message points at (many at once), dead-letter
//! poison, keep visibility while working, delete at checkpoints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use trailhound_aws::{s3, sqs};
use trailhound_core::{Event, Origin};
use trailhound_ingest::{IngestOptions, ObjectClass, Scratch, SkipReason, classify_path};

use crate::metrics::{Metrics, now_ms};
use crate::notify::{ObjectRef, parse_body};
use crate::process::{Ack, SqsAck, Unit};

/// Object-level reasons that make an object poison (reported and dead-lettered).
const POISON: [SkipReason; 5] = [
    SkipReason::ObjectTooLarge,
    SkipReason::TruncatedGzip,
    SkipReason::CorruptGzip,
    SkipReason::NotJson,
    SkipReason::Unreadable,
];

/// One queue and its clients.
#[derive(Debug)]
pub(crate) struct QueueCtx {
    /// Index in the configuration.
    pub index: usize,
    /// The queue URL.
    pub url: String,
    /// Dead-letter queue URL.
    pub dlq: Option<String>,
    /// Visibility timeout in seconds.
    pub visibility: u32,
    /// Long-poll wait in seconds.
    pub wait: u32,
    /// Messages per receive.
    pub max_messages: u32,
    /// Messages worked on at once.
    pub in_flight: Arc<Semaphore>,
    /// SQS client.
    pub sqs: sqs::Client,
    /// S3 client.
    pub s3: s3::Client,
}

/// What every queue shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Objects fetched at once, over every queue.
    pub objects: Arc<Semaphore>,
    /// Decoding limits.
    pub ingest: IngestOptions,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

enum Fetch {
    Events(Vec<Event>),
    Poison { reason: String, events: Vec<Event> },
    Transient(String),
}

/// Polls one queue until shutdown; each message is worked on in its own task.
pub(crate) async fn poll(
    queue: Arc<QueueCtx>,
    shared: Arc<Shared>,
    units: mpsc::Sender<Unit>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    while !*shutdown.borrow() {
        let receive = queue
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(i32::try_from(queue.max_messages).unwrap_or(10))
            .wait_time_seconds(i32::try_from(queue.wait).unwrap_or(10))
            .visibility_timeout(i32::try_from(queue.visibility).unwrap_or(300))
            .message_system_attribute_names(sqs::types::MessageSystemAttributeName::SentTimestamp)
            .send();
        let output = tokio::select! {
            output = receive => output,
            _ = shutdown.changed() => break,
        };
        let messages = match output {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(e) => {
                shared.metrics.error("sqs-receive");
                tracing::warn!(queue = %queue.url, error = %error_text(&e), "cannot receive messages");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => break,
                }
                continue;
            }
        };
        while tasks.try_join_next().is_some() {}
        for message in messages {
            let Ok(permit) = queue.in_flight.clone().acquire_owned().await else {
                return;
            };
            shared.metrics.messages.fetch_add(1, Ordering::Relaxed);
            let (queue, shared, units) = (queue.clone(), shared.clone(), units.clone());
            tasks.spawn(async move {
                handle_message(&queue, &shared, message, &units).await;
                drop(permit);
            });
        }
    }
    // Finish in-flight messages before the channel closes.
    while tasks.join_next().await.is_some() {}
    tracing::debug!(queue = %queue.url, "poller stopped");
}

async fn handle_message(
    queue: &Arc<QueueCtx>,
    shared: &Arc<Shared>,
    message: sqs::types::Message,
    units: &mpsc::Sender<Unit>,
) {
    let Some(receipt) = message.receipt_handle.clone() else {
        return;
    };
    let message_id = message.message_id.clone().unwrap_or_default();
    let sent_ms = message
        .attributes
        .as_ref()
        .and_then(|a| a.get(&sqs::types::MessageSystemAttributeName::SentTimestamp))
        .and_then(|t| t.parse::<i64>().ok());
    let (heartbeat, stop) = oneshot::channel();
    tokio::spawn(keep_visible(
        queue.clone(),
        receipt.clone(),
        stop,
        shared.metrics.clone(),
    ));
    let body = message.body.unwrap_or_default();
    let source: Arc<str> = Arc::from(format!("sqs:{message_id}"));
    let mut events = Vec::new();
    match parse_body(&body) {
        Err(e) => {
            shared.metrics.error("unknown-message");
            dead_letter(queue, shared, &source, &e.to_string(), Some(&body)).await;
        }
        Ok(notice) => {
            for (index, record) in notice.records.into_iter().enumerate() {
                let origin = Origin::new(source.clone(), u32::try_from(index).unwrap_or(0));
                match Event::from_json(record, origin) {
                    Ok(event) => events.push(event),
                    Err(e) => {
                        shared.metrics.error("not-cloudtrail");
                        tracing::warn!(source = %source, error = %e, "record in message is not cloudtrail");
                    }
                }
            }
            let mut fetches = JoinSet::new();
            for (order, object) in notice.objects.into_iter().enumerate() {
                let (queue, shared) = (queue.clone(), shared.clone());
                fetches.spawn(async move {
                    let result = fetch(&queue, &shared, &object).await;
                    (order, object, result)
                });
            }
            let mut results = Vec::new();
            while let Some(joined) = fetches.join_next().await {
                match joined {
                    Ok(result) => results.push(result),
                    Err(e) => {
                        tracing::warn!(error = %e, "object task failed");
                        return;
                    }
                }
            }
            results.sort_by_key(|(order, _, _)| *order);
            for (_, object, result) in results {
                let url = format!("s3://{}/{}", object.bucket, object.key);
                match result {
                    Fetch::Events(mut more) => events.append(&mut more),
                    Fetch::Poison {
                        reason,
                        events: mut more,
                    } => {
                        tracing::warn!(object = %url, reason = %reason, "poison object");
                        dead_letter(
                            queue,
                            shared,
                            &Arc::from(url.as_str()),
                            &reason,
                            Some(&body),
                        )
                        .await;
                        events.append(&mut more);
                    }
                    Fetch::Transient(reason) => {
                        // Left on the queue: it comes back when its visibility times out (the
                        // queue's redrive policy bounds the attempts).
                        shared.metrics.error("s3-transient");
                        tracing::warn!(object = %url, reason = %reason, "cannot read object now; message left for retry");
                        let _ = queue
                            .sqs
                            .change_message_visibility()
                            .queue_url(&queue.url)
                            .receipt_handle(&receipt)
                            .visibility_timeout(10)
                            .send()
                            .await;
                        return;
                    }
                }
            }
        }
    }
    let unit = Unit {
        source,
        events,
        ack: Ack::Sqs(SqsAck {
            queue: queue.index,
            receipt,
            _heartbeat: Some(heartbeat),
        }),
        sent_ms,
    };
    if units.send(unit).await.is_err() {
        tracing::debug!("detection loop gone; message left on the queue");
    }
}

/// Extends the message's visibility every half timeout until the ack is dropped.
async fn keep_visible(
    queue: Arc<QueueCtx>,
    receipt: String,
    mut stop: oneshot::Receiver<()>,
    metrics: Arc<Metrics>,
) {
    let every =
        Duration::from_millis(u64::from(queue.visibility) * 500).max(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = &mut stop => return,
        }
        let result = queue
            .sqs
            .change_message_visibility()
            .queue_url(&queue.url)
            .receipt_handle(&receipt)
            .visibility_timeout(i32::try_from(queue.visibility).unwrap_or(300))
            .send()
            .await;
        if let Err(e) = result {
            metrics.error("sqs-visibility");
            tracing::warn!(error = %error_text(&e), "cannot extend message visibility");
        }
    }
}

async fn fetch(queue: &QueueCtx, shared: &Shared, object: &ObjectRef) -> Fetch {
    let url: Arc<str> = Arc::from(format!("s3://{}/{}", object.bucket, object.key));
    let class = classify_path(&object.key);
    if matches!(class, ObjectClass::Digest | ObjectClass::Other) {
        shared.metrics.error(if class == ObjectClass::Digest {
            "digest-skipped"
        } else {
            "other-service"
        });
        return Fetch::Events(Vec::new());
    }
    let Ok(_permit) = shared.objects.acquire().await else {
        return Fetch::Transient("shutting down".into());
    };
    let max = shared.ingest.max_object_bytes;
    let response = match queue
        .s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let text = error_text(&e);
            return match status {
                Some(403 | 404) => {
                    shared.metrics.error(SkipReason::Unreadable.as_str());
                    Fetch::Poison {
                        reason: format!("unreadable: {text}"),
                        events: Vec::new(),
                    }
                }
                _ => Fetch::Transient(text),
            };
        }
    };
    if response
        .content_length()
        .is_some_and(|n| u64::try_from(n).unwrap_or(0) > max)
    {
        shared.metrics.error(SkipReason::ObjectTooLarge.as_str());
        return Fetch::Poison {
            reason: "object-too-large".into(),
            events: Vec::new(),
        };
    }
    let bytes = match response.body.collect().await {
        Ok(data) => data.into_bytes(),
        Err(e) => return Fetch::Transient(e.to_string()),
    };
    shared.metrics.objects.fetch_add(1, Ordering::Relaxed);
    let options = shared.ingest.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        trailhound_ingest::decode_object(&url, class, &bytes, &options, &mut Scratch::default())
    })
    .await;
    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(e) => return Fetch::Transient(e.to_string()),
    };
    for (reason, n) in &decoded.stats.skipped {
        shared.metrics.error_n(reason.as_str(), *n);
    }
    let poison: Vec<&str> = POISON
        .iter()
        .filter(|r| decoded.stats.skipped(**r) > 0)
        .map(|r| r.as_str())
        .collect();
    let empty_and_bad = decoded.events.is_empty() && decoded.stats.skipped_total() > 0;
    if !poison.is_empty() || empty_and_bad {
        let reason = if poison.is_empty() {
            decoded.stats.skipped_summary()
        } else {
            poison.join(",")
        };
        return Fetch::Poison {
            reason,
            events: decoded.events,
        };
    }
    Fetch::Events(decoded.events)
}

/// Reports a poison object or message: to the dead-letter queue when configured, else in the
/// log. Counted either way.
async fn dead_letter(
    queue: &QueueCtx,
    shared: &Shared,
    source: &Arc<str>,
    reason: &str,
    body: Option<&str>,
) {
    shared.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
    let report = serde_json::json!({
        "source": source.as_ref(),
        "reason": reason,
        "queue": queue.url,
        "reported_at_ms": now_ms(),
        "message": body,
    });
    let Some(dlq) = &queue.dlq else {
        tracing::error!(source = %source, reason, "poison input (no dead-letter queue configured)");
        return;
    };
    let sent = queue
        .sqs
        .send_message()
        .queue_url(dlq)
        .message_body(report.to_string())
        .send()
        .await;
    match sent {
        Ok(_) => tracing::warn!(source = %source, reason, dlq, "poison input dead-lettered"),
        Err(e) => {
            shared.metrics.error("dead-letter-send");
            tracing::error!(source = %source, reason, error = %error_text(&e), "cannot dead-letter poison input");
        }
    }
}

/// Deletes acknowledged messages, ten per call, until the channel closes.
pub(crate) async fn acker(
    queues: Vec<Arc<QueueCtx>>,
    mut acks: mpsc::UnboundedReceiver<Vec<SqsAck>>,
    metrics: Arc<Metrics>,
) {
    while let Some(batch) = acks.recv().await {
        let mut by_queue: BTreeMap<usize, Vec<SqsAck>> = BTreeMap::new();
        for ack in batch {
            by_queue.entry(ack.queue).or_default().push(ack);
        }
        for (index, acks) in by_queue {
            let Some(queue) = queues.get(index) else {
                continue;
            };
            for chunk in acks.chunks(10) {
                let entries: Vec<_> = chunk
                    .iter()
                    .enumerate()
                    .filter_map(|(i, ack)| {
                        sqs::types::DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(&ack.receipt)
                            .build()
                            .ok()
                    })
                    .collect();
                let result = queue
                    .sqs
                    .delete_message_batch()
                    .queue_url(&queue.url)
                    .set_entries(Some(entries))
                    .send()
                    .await;
                match result {
                    Ok(output) => {
                        let failed = output.failed.len();
                        let deleted = chunk.len().saturating_sub(failed);
                        metrics
                            .messages_deleted
                            .fetch_add(deleted as u64, Ordering::Relaxed);
                        if failed > 0 {
                            metrics.error_n("sqs-delete", failed as u64);
                            tracing::warn!(queue = %queue.url, failed, "some messages not deleted");
                        }
                    }
                    Err(e) => {
                        metrics.error_n("sqs-delete", chunk.len() as u64);
                        tracing::warn!(queue = %queue.url, error = %error_text(&e), "cannot delete messages");
                    }
                }
            }
        }
    }
}

/// Samples `ApproximateNumberOfMessages` of each queue every `every` until shutdown.
pub(crate) async fn watch_depth(
    queue: Arc<QueueCtx>,
    metrics: Arc<Metrics>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let result = queue
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await;
        match result {
            Ok(output) => {
                let depth = output
                    .attributes
                    .as_ref()
                    .and_then(|a| {
                        a.get(&sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                    })
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                metrics.set_queue_depth(&queue.url, depth);
            }
            Err(e) => {
                metrics.error("sqs-attributes");
                tracing::debug!(error = %error_text(&e), "cannot read queue depth");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// An SDK error with its causes, on one line.
fn error_text<E: std::error::Error>(error: &E) -> String {
    sqs::error::DisplayErrorContext(error).to_string()
}
