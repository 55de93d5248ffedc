//! The `[alerts]` section of the configuration file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use trailhound_core::{RuleKind, Severity};

use crate::chain::ChainConfig;
use crate::suppress::Suppression;
use crate::{Error, Result};

/// A duration written as a number and a unit: `500ms`, `30s`, `5m`, `1h`, `2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DurationText(pub Duration);

impl DurationText {
    /// From seconds.
    #[must_use]
    pub const fn secs(secs: u64) -> Self {
        DurationText(Duration::from_secs(secs))
    }

    /// In milliseconds, saturating at `i64::MAX`.
    #[must_use]
    pub fn as_millis_i64(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

impl FromStr for DurationText {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        let err = || Error::Duration {
            text: text.to_owned(),
        };
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        let (number, unit) = t.split_at(split);
        let n: u64 = number.parse().map_err(|_| err())?;
        let ms = match unit.trim() {
            "ms" => n,
            "s" => n.saturating_mul(1_000),
            "m" => n.saturating_mul(60_000),
            "h" => n.saturating_mul(3_600_000),
            "d" => n.saturating_mul(86_400_000),
            _ => return Err(err()),
        };
        Ok(DurationText(Duration::from_millis(ms)))
    }
}

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for DurationText {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The whole `[alerts]` section. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// Route `hunt` output through the pipeline (dedup, suppression, chains) even with no
    /// sink configured.
    pub enabled: bool,
    /// Directory of the durable outbox and the suppressions file (`hunt --outbox` overrides).
    pub outbox: Option<PathBuf>,
    /// The suppressions file; default `suppressions.jsonl` in the outbox directory.
    pub suppressions_file: Option<PathBuf>,
    /// Base URL of the web UI; Slack messages link to `{ui_url}/alerts/{id}`.
    pub ui_url: Option<String>,
    /// Dedup by fingerprint within a window.
    pub dedup: DedupConfig,
    /// Suppressions written in the config file.
    pub suppress: Vec<Suppression>,
    /// Correlation chains: built-in ones on/off and user chains.
    pub correlation: CorrelationConfig,
    /// Where alerts go.
    pub sinks: Vec<SinkConfig>,
    /// Retries of failed deliveries.
    pub retry: RetryConfig,
    /// Alerts held in memory per sink before the outbox alone holds them.
    pub queue_capacity: usize,
    /// Delivered messages older than this are removed from the outbox when it opens.
    pub retention: Option<DurationText>,
}

impl AlertConfig {
    /// Whether `hunt` should route alerts through the pipeline.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.enabled || !self.sinks.is_empty()
    }

    /// Checks names, fields and patterns.
    ///
    /// # Errors
    /// [`Error::Config`] with the first problem found.
    pub fn validate(&self) -> Result<()> {
        let mut names = std::collections::BTreeSet::new();
        for sink in &self.sinks {
            if sink.name.is_empty() {
                return Err(Error::Config("a sink has an empty name".into()));
            }
            if !names.insert(sink.name.as_str()) {
                return Err(Error::Config(format!(
                    "two sinks are named {:?}",
                    sink.name
                )));
            }
        }
        for field in self
            .dedup
            .group_by
            .iter()
            .chain(self.dedup.rules.iter().flat_map(|r| r.group_by.iter()))
        {
            if !crate::fields::is_field(field) {
                return Err(Error::Config(format!("unknown dedup field {field:?}")));
            }
        }
        for s in &self.suppress {
            s.validate()?;
        }
        for chain in &self.correlation.chains {
            chain.validate()?;
        }
        Ok(())
    }
}

/// Dedup: alerts with one key within a window are one finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupConfig {
    /// Off: every alert goes out.
    pub enabled: bool,
    /// How long (event time, from the first alert) later alerts merge into the first.
    pub window: DurationText,
    /// Fields that, with the rule id, make the dedup key.
    pub group_by: Vec<String>,
    /// When to emit an update of a merged alert: `none`, `each` merge, or on window `close`.
    pub updates: UpdateMode,
    /// Per-rule overrides (first match wins).
    pub rules: Vec<DedupRule>,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            enabled: true,
            window: DurationText::secs(3_600),
            group_by: vec!["principal".into(), "account".into()],
            updates: UpdateMode::None,
            rules: Vec::new(),
        }
    }
}

/// A per-rule dedup override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupRule {
    /// Rule ids or names (globs).
    pub rules: Vec<String>,
    /// Group-key fields for these rules.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Window for these rules.
    #[serde(default)]
    pub window: Option<DurationText>,
}

/// When a merged alert is sent again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateMode {
    /// Never: the first alert only.
    #[default]
    None,
    /// After every merge.
    Each,
    /// Once when the window closes, if anything merged.
    Close,
}

/// Correlation chains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrelationConfig {
    /// The built-in chains (TH5001…) on.
    pub builtin: bool,
    /// Built-in chains to turn off, by id or name.
    pub disable: Vec<String>,
    /// User chains.
    pub chains: Vec<ChainConfig>,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        CorrelationConfig {
            builtin: true,
            disable: Vec::new(),
            chains: Vec::new(),
        }
    }
}

/// Retry policy: exponential backoff with jitter, per sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// First delay after a failure.
    pub initial: DurationText,
    /// Longest delay.
    pub max: DurationText,
    /// Give up after this many attempts (the message is marked failed); 0 retries forever.
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial: DurationText(Duration::from_secs(1)),
            max: DurationText(Duration::from_secs(300)),
            max_attempts: 0,
        }
    }
}

/// One sink with its routing filter. Unknown keys are refused by the sink type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkConfig {
    /// Unique name, used in the outbox and `alerts status`.
    pub name: String,
    /// Only alerts at or above this severity.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Only these rules (ids or names, globs); empty = all.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Only these detector families; empty = all.
    #[serde(default)]
    pub kinds: Vec<RuleKind>,
    /// Also deliver dedup updates (default true).
    #[serde(default = "yes")]
    pub updates: bool,
    /// Per-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout: DurationText,
    /// The sink type and its settings.
    #[serde(flatten)]
    pub kind: SinkKind,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> DurationText {
    DurationText::secs(10)
}

/// The sink types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SinkKind {
    /// JSON lines appended to a file, rotated by size.
    File {
        /// The file.
        path: PathBuf,
        /// Rotate when the file would grow past this many bytes (default 100 MiB).
        #[serde(default = "default_max_bytes")]
        max_bytes: u64,
        /// Rotated files kept (`path.1` … `path.N`).
        #[serde(default = "default_max_files")]
        max_files: u32,
    },
    /// JSON POST to a URL, signed with HMAC-SHA256 when a secret is configured.
    Webhook {
        /// The URL (or `url_env`).
        #[serde(default)]
        url: Option<String>,
        /// Environment variable holding the URL.
        #[serde(default)]
        url_env: Option<String>,
        /// Extra request headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// Environment variable holding the signing secret.
        #[serde(default)]
        secret_env: Option<String>,
        /// File holding the signing secret (trailing newline ignored).
        #[serde(default)]
        secret_file: Option<PathBuf>,
        /// Header carrying `sha256=<hex>`.
        #[serde(default = "default_signature_header")]
        signature_header: String,
    },
    /// A Slack incoming webhook.
    Slack {
        /// The webhook URL (or `url_env`).
        #[serde(default)]
        url: Option<String>,
        /// Environment variable holding the webhook URL.
        #[serde(default)]
        url_env: Option<String>,
    },
    /// Amazon SNS through the AWS SDK.
    Sns {
        /// Topic ARN.
        topic_arn: String,
        /// Region, profile, role and endpoint.
        #[serde(default)]
        aws: trailhound_aws::AwsSettings,
    },
}

fn default_max_bytes() -> u64 {
    100 << 20
}

fn default_max_files() -> u32 {
    5
}

fn default_signature_header() -> String {
    "X-Trailhound-Signature-256".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            "90s".parse::<DurationText>().unwrap().0,
            Duration::from_secs(90)
        );
        assert_eq!("5m".parse::<DurationText>().unwrap().to_string(), "5m");
        assert_eq!(
            "250ms".parse::<DurationText>().unwrap().to_string(),
            "250ms"
        );
        assert_eq!("2d".parse::<DurationText>().unwrap().to_string(), "2d");
        assert!("5".parse::<DurationText>().is_err());
        assert!("m".parse::<DurationText>().is_err());
        assert!("5y".parse::<DurationText>().is_err());
    }

    #[test]
    fn parses_sinks() {
        let text = r#"
            outbox = "/var/lib/trailhound/alerts"
            [[sinks]]
            name = "hook"
            type = "webhook"
            url = "http://127.0.0.1:9/x"
            min_severity = "high"
            headers = { "X-Team" = "soc" }
            secret_env = "HOOK_SECRET"
            [[sinks]]
            name = "archive"
            type = "file"
            path = "/tmp/alerts.jsonl"
            [[sinks]]
            name = "topic"
            type = "sns"
            topic_arn = "arn:aws:sns:us-east-1:123456789012:alerts"
            kinds = ["correlation", "canary"]
            aws = { region = "us-east-1" }
        "#;
        let config: AlertConfig = toml::from_str(text).unwrap();
        config.validate().unwrap();
        assert!(config.is_active());
        assert_eq!(config.sinks.len(), 3);
        assert!(matches!(
            config.sinks[1].kind,
            SinkKind::File { max_files: 5, .. }
        ));
        let twice: AlertConfig = toml::from_str(
            "[[sinks]]\nname='a'\ntype='slack'\nurl='x'\n[[sinks]]\nname='a'\ntype='slack'\nurl='y'",
        )
        .unwrap();
        assert!(twice.validate().is_err());
    }
}
