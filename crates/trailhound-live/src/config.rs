//! The `[run]` section of the configuration file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use trailhound_aws::AwsSettings;

/// Settings of `trailhound run`. Every key is optional; command-line flags override them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// The event store directory (required, here or with `--store`).
    pub store: Option<PathBuf>,
    /// Where the checkpoint is kept (default: the store directory).
    pub state_dir: Option<PathBuf>,
    /// Loopback address of `/healthz` and `/metrics`, e.g. `127.0.0.1:9464`; none when unset.
    pub listen: Option<String>,
    /// Seconds between checkpoints; messages are deleted from their queue at checkpoints.
    pub checkpoint_interval_secs: u64,
    /// S3 objects fetched and decoded at once, over every queue.
    pub max_objects_in_flight: usize,
    /// Largest object after decompression, in MiB (larger ones are dead-lettered).
    pub max_object_mib: u64,
    /// Only events of these accounts are detected and stored (empty: every account). Use with
    /// one queue per account group to partition stateful detectors across workers.
    pub accounts: Vec<String>,
    /// How many recent event identities are remembered to drop repeats without asking the
    /// store (an event sent by EventBridge and again in its S3 file).
    pub seen_capacity: usize,
    /// AWS settings for every queue and bucket (region, endpoint, profile, role to assume).
    pub aws: AwsSettings,
    /// SQS queues to consume.
    pub sqs: Vec<SqsSource>,
    /// Local directories followed for new files.
    pub directories: Vec<DirSource>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            store: None,
            state_dir: None,
            listen: None,
            checkpoint_interval_secs: 5,
            max_objects_in_flight: 16,
            max_object_mib: trailhound_ingest::DEFAULT_MAX_OBJECT_BYTES >> 20,
            accounts: Vec::new(),
            seen_capacity: 1_000_000,
            aws: AwsSettings::default(),
            sqs: Vec::new(),
            directories: Vec::new(),
        }
    }
}

/// One SQS queue carrying S3 notifications (plain, via SNS, CloudTrail's SNS notice or
/// EventBridge) or EventBridge CloudTrail events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqsSource {
    /// The queue URL.
    pub queue_url: String,
    /// Queue URL where poison objects and messages are reported; when unset they are logged,
    /// counted and deleted.
    pub dead_letter_queue_url: Option<String>,
    /// Visibility timeout asked on receive, in seconds; extended while a message is worked on.
    pub visibility_timeout_secs: u32,
    /// Long-poll wait, in seconds (0–20).
    pub wait_time_secs: u32,
    /// Messages per receive call (1–10).
    pub max_messages: u32,
    /// Messages worked on at once from this queue.
    pub max_messages_in_flight: usize,
    /// AWS settings for this queue and the buckets it points at, replacing `[run.aws]`
    /// (e.g. a role in another account).
    pub aws: Option<AwsSettings>,
}

impl Default for SqsSource {
    fn default() -> Self {
        SqsSource {
            queue_url: String::new(),
            dead_letter_queue_url: None,
            visibility_timeout_secs: 300,
            wait_time_secs: 10,
            max_messages: 10,
            max_messages_in_flight: 64,
            aws: None,
        }
    }
}

/// A local directory followed for new CloudTrail files (any layout, gzip or plain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirSource {
    /// The directory, read recursively.
    pub path: PathBuf,
    /// How often it is scanned, in milliseconds. A file is read once its size stayed the same
    /// over two scans.
    pub poll_interval_ms: u64,
}

impl Default for DirSource {
    fn default() -> Self {
        DirSource {
            path: PathBuf::new(),
            poll_interval_ms: 1000,
        }
    }
}

impl RunConfig {
    /// Checks values that serde cannot.
    ///
    /// # Errors
    /// A queue without a URL, out-of-range receive settings, or a zero interval.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::Config(m));
        if self.checkpoint_interval_secs == 0 {
            return bad("checkpoint_interval_secs must be at least 1".into());
        }
        if self.max_objects_in_flight == 0 {
            return bad("max_objects_in_flight must be at least 1".into());
        }
        for queue in &self.sqs {
            if queue.queue_url.is_empty() {
                return bad("a [[run.sqs]] entry has no queue_url".into());
            }
            if !(1..=10).contains(&queue.max_messages) {
                return bad(format!("{}: max_messages must be 1-10", queue.queue_url));
            }
            if queue.wait_time_secs > 20 {
                return bad(format!("{}: wait_time_secs must be 0-20", queue.queue_url));
            }
            if queue.visibility_timeout_secs < 2 {
                return bad(format!(
                    "{}: visibility_timeout_secs must be at least 2",
                    queue.queue_url
                ));
            }
            if queue.max_messages_in_flight == 0 {
                return bad(format!(
                    "{}: max_messages_in_flight must be at least 1",
                    queue.queue_url
                ));
            }
        }
        for dir in &self.directories {
            if dir.path.as_os_str().is_empty() {
                return bad("a [[run.directories]] entry has no path".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let config: RunConfig = toml::from_str(
            r#"
            store = "/var/lib/trailhound/store"
            listen = "127.0.0.1:9464"
            [aws]
            region = "us-east-1"
            [[sqs]]
            queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/trail"
            dead_letter_queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/trail-dlq"
            [[directories]]
            path = "/var/log/cloudtrail"
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.sqs[0].visibility_timeout_secs, 300);
        assert_eq!(config.checkpoint_interval_secs, 5);
        let mut broken = config.clone();
        broken.sqs[0].max_messages = 11;
        assert!(broken.validate().is_err());
        assert!(toml::from_str::<RunConfig>("nonsense = 1").is_err());
    }
}
