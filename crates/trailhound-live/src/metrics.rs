//! Counters and gauges of the daemon, served as Prometheus text on `/metrics`, and `/healthz`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The daemon's counters; shared by every task, read by `/metrics`.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    /// Events run through the detectors (new and replayed).
    pub events: AtomicU64,
    /// Events dropped as already detected (seen-set or store).
    pub duplicates: AtomicU64,
    /// Events found in the store but newer than the checkpoint: re-run through the detectors
    /// to rebuild their state, their alerts not sent again.
    pub replayed: AtomicU64,
    /// Events of accounts outside `accounts`.
    pub filtered: AtomicU64,
    /// S3 objects and local files read.
    pub objects: AtomicU64,
    /// SQS messages received.
    pub messages: AtomicU64,
    /// SQS messages deleted after their records were committed.
    pub messages_deleted: AtomicU64,
    /// Poison objects and messages dead-lettered.
    pub dead_lettered: AtomicU64,
    /// Alerts not sent again after a restart (already sent before it).
    pub alerts_suppressed: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Latest `eventTime` seen, ms since the epoch.
    pub last_event_time_ms: AtomicI64,
    /// Latest delivery lag (message sent → records committed), ms.
    pub delivery_lag_ms: AtomicI64,
    /// Alerts waiting in the sink.
    pub sink_backlog: AtomicU64,
    /// Events per second over the last rate window (f64 bits).
    events_per_second: AtomicU64,
    /// When the last checkpoint was written, ms since the epoch.
    pub last_checkpoint_ms: AtomicI64,
    /// False once the detection loop has failed.
    pub healthy: AtomicBool,
    errors: Mutex<BTreeMap<String, u64>>,
    alerts: Mutex<BTreeMap<String, u64>>,
    queue_depth: Mutex<BTreeMap<String, i64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            events: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            messages_deleted: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            alerts_suppressed: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
            last_event_time_ms: AtomicI64::new(0),
            delivery_lag_ms: AtomicI64::new(0),
            sink_backlog: AtomicU64::new(0),
            events_per_second: AtomicU64::new(0),
            last_checkpoint_ms: AtomicI64::new(0),
            healthy: AtomicBool::new(true),
            errors: Mutex::new(BTreeMap::new()),
            alerts: Mutex::new(BTreeMap::new()),
            queue_depth: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    /// Counts one error of `reason` (kebab-case).
    pub fn error(&self, reason: &str) {
        self.error_n(reason, 1);
    }

    /// Counts `n` errors of `reason`.
    pub fn error_n(&self, reason: &str, n: u64) {
        let mut errors = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        *errors.entry(reason.to_owned()).or_default() += n;
    }

    /// Errors by reason so far.
    #[must_use]
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts one alert of `severity`.
    pub fn alert(&self, severity: &str) {
        let mut alerts = self.alerts.lock().unwrap_or_else(PoisonError::into_inner);
        *alerts.entry(severity.to_owned()).or_default() += 1;
    }

    /// Alerts by severity so far.
    #[must_use]
    pub fn alerts(&self) -> BTreeMap<String, u64> {
        self.alerts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets the approximate number of visible messages of a queue.
    pub fn set_queue_depth(&self, queue: &str, depth: i64) {
        let mut depths = self
            .queue_depth
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        depths.insert(queue.to_owned(), depth);
    }

    /// Sets the events-per-second gauge.
    pub fn set_events_per_second(&self, rate: f64) {
        self.events_per_second
            .store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The events-per-second gauge.
    #[must_use]
    pub fn events_per_second(&self) -> f64 {
        f64::from_bits(self.events_per_second.load(Ordering::Relaxed))
    }

    /// The Prometheus text exposition of every metric.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let now = now_ms();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "trailhound_events_total",
            "Events run through the detectors.",
            load(&self.events),
        );
        counter(
            &mut out,
            "trailhound_duplicate_events_total",
            "Events dropped as already detected (both delivery paths, redelivered messages).",
            load(&self.duplicates),
        );
        counter(
            &mut out,
            "trailhound_replayed_events_total",
            "Events stored after the last checkpoint and re-run after a restart.",
            load(&self.replayed),
        );
        counter(
            &mut out,
            "trailhound_filtered_events_total",
            "Events of accounts this worker does not own.",
            load(&self.filtered),
        );
        counter(
            &mut out,
            "trailhound_objects_total",
            "S3 objects and local files read.",
            load(&self.objects),
        );
        counter(
            &mut out,
            "trailhound_sqs_messages_total",
            "SQS messages received.",
            load(&self.messages),
        );
        counter(
            &mut out,
            "trailhound_sqs_messages_deleted_total",
            "SQS messages deleted after their records were committed.",
            load(&self.messages_deleted),
        );
        counter(
            &mut out,
            "trailhound_dead_lettered_total",
            "Poison objects and messages dead-lettered.",
            load(&self.dead_lettered),
        );
        counter(
            &mut out,
            "trailhound_alerts_suppressed_total",
            "Alerts not sent again after a restart.",
            load(&self.alerts_suppressed),
        );
        counter(
            &mut out,
            "trailhound_checkpoints_total",
            "Checkpoints written.",
            load(&self.checkpoints),
        );
        gauge(
            &mut out,
            "trailhound_events_per_second",
            "Events per second over the last few seconds.",
            self.events_per_second(),
        );
        let last_event = self.last_event_time_ms.load(Ordering::Relaxed);
        let lag = if last_event > 0 {
            (now - last_event) as f64 / 1000.0
        } else {
            0.0
        };
        gauge(
            &mut out,
            "trailhound_event_lag_seconds",
            "Now minus the eventTime of the newest event seen.",
            lag,
        );
        gauge(
            &mut out,
            "trailhound_delivery_lag_seconds",
            "Time from a message being sent to its records being committed, last message.",
            self.delivery_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        );
        gauge(
            &mut out,
            "trailhound_sink_backlog",
            "Alerts waiting for delivery in the alert sink.",
            load(&self.sink_backlog) as f64,
        );
        let checkpoint = self.last_checkpoint_ms.load(Ordering::Relaxed);
        let age = if checkpoint > 0 {
            (now - checkpoint) as f64 / 1000.0
        } else {
            0.0
        };
        gauge(
            &mut out,
            "trailhound_checkpoint_age_seconds",
            "Seconds since the last checkpoint.",
            age,
        );
        gauge(
            &mut out,
            "trailhound_uptime_seconds",
            "Seconds since start.",
            self.started.elapsed().as_secs_f64(),
        );
        let _ = writeln!(
            out,
            "# HELP trailhound_errors_total Errors and skipped input, by reason.\n# TYPE trailhound_errors_total counter"
        );
        for (reason, n) in self.errors() {
            let _ = writeln!(
                out,
                "trailhound_errors_total{{reason=\"{}\"}} {n}",
                escape(&reason)
            );
        }
        let _ = writeln!(
            out,
            "# HELP trailhound_alerts_total Alerts raised, by severity.\n# TYPE trailhound_alerts_total counter"
        );
        for (severity, n) in self.alerts() {
            let _ = writeln!(
                out,
                "trailhound_alerts_total{{severity=\"{}\"}} {n}",
                escape(&severity)
            );
        }
        let _ = writeln!(
            out,
            "# HELP trailhound_queue_depth Approximate visible messages of each queue.\n# TYPE trailhound_queue_depth gauge"
        );
        let depths = self
            .queue_depth
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for (queue, n) in depths {
            let _ = writeln!(
                out,
                "trailhound_queue_depth{{queue=\"{}\"}} {n}",
                escape(&queue)
            );
        }
        out
    }

    /// The `/healthz` body.
    #[must_use]
    pub fn health(&self) -> serde_json::Value {
        let healthy = self.healthy.load(Ordering::Relaxed);
        serde_json::json!({
            "status": if healthy { "ok" } else { "failed" },
            "uptime_seconds": self.started.elapsed().as_secs(),
            "events": self.events.load(Ordering::Relaxed),
            "checkpoints": self.checkpoints.load(Ordering::Relaxed),
            "last_checkpoint_ms": self.last_checkpoint_ms.load(Ordering::Relaxed),
        })
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The router of `/healthz` (200 while healthy, 503 after a failure) and `/metrics`.
pub fn router(metrics: Arc<Metrics>) -> Router {
    let health = metrics.clone();
    Router::new()
        .route(
            "/healthz",
            get(move || {
                let metrics = health.clone();
                async move {
                    let status = if metrics.healthy.load(Ordering::Relaxed) {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (status, axum::Json(metrics.health()))
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        metrics.render(),
                    )
                        .into_response()
                }
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.events.fetch_add(42, Ordering::Relaxed);
        metrics.error("corrupt-gzip");
        metrics.alert("high");
        metrics.set_queue_depth("https://sqs.example.com/123456789012/q\"x", 7);
        let text = metrics.render();
        assert!(text.contains("trailhound_events_total 42\n"));
        assert!(text.contains("trailhound_errors_total{reason=\"corrupt-gzip\"} 1\n"));
        assert!(text.contains("trailhound_alerts_total{severity=\"high\"} 1\n"));
        assert!(text.contains(
            "trailhound_queue_depth{queue=\"https://sqs.example.com/123456789012/q\\\"x\"} 7\n"
        ));
        assert_eq!(metrics.health()["status"], "ok");
    }
}
