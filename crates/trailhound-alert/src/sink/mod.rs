//! Sinks: where alerts go. Each is driven by one delivery worker thread; `deliver` blocks
//! (with the sink's timeout) and says whether a failure is worth a retry.

mod file;
mod http;
mod sns;

use trailhound_core::{Alert, Severity};

pub use file::FileSink;
pub use http::{SlackSink, WebhookSink, hmac_sha256, slack_payload};
pub use sns::SnsSink;

use crate::config::{SinkConfig, SinkKind};
use crate::pattern::any_match;
use crate::process::{Output, OutputKind};
use crate::{Error, Result};

/// One message as a sink sees it.
#[derive(Debug, Clone)]
pub struct Message {
    /// Stable message id (the alert id for new alerts).
    pub message_id: String,
    /// `alert` or `update`.
    pub kind: String,
    /// The alert JSON (the PRODUCT.md shape).
    pub body: String,
}

impl Message {
    /// The alert, parsed from the body.
    ///
    /// # Errors
    /// A body that is not an alert (a corrupt outbox row).
    pub fn alert(&self) -> std::result::Result<Alert, DeliveryError> {
        serde_json::from_str(&self.body)
            .map_err(|e| DeliveryError::Permanent(format!("outbox body is not an alert: {e}")))
    }
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (connection refused, timeout, HTTP 5xx or 429, throttling).
    #[error("{0}")]
    Retry(String),
    /// Not worth retrying (HTTP 4xx, a missing topic): the message is marked failed.
    #[error("{0}")]
    Permanent(String),
}

/// A destination for alerts.
pub trait Sink: Send {
    /// Delivers one message; returns once the receiver has accepted it.
    ///
    /// # Errors
    /// A [`DeliveryError`] saying whether to retry.
    fn deliver(&mut self, message: &Message) -> std::result::Result<(), DeliveryError>;
}

/// Whether `output` is routed to the sink `config`.
#[must_use]
pub fn routes(config: &SinkConfig, output: &Output) -> bool {
    let alert = &output.alert;
    if output.kind == OutputKind::Update && !config.updates {
        return false;
    }
    config.min_severity.is_none_or(|min| alert.severity >= min)
        && (config.rules.is_empty()
            || any_match(&config.rules, &alert.rule.id)
            || any_match(&config.rules, &alert.rule.name))
        && (config.kinds.is_empty() || config.kinds.contains(&alert.rule.kind))
}

/// Builds the sink of `config`.
///
/// # Errors
/// [`Error::Sink`] when a secret, URL or client cannot be set up.
pub fn build(config: &SinkConfig, ui_url: Option<&str>) -> Result<Box<dyn Sink>> {
    let err = |reason: String| Error::Sink {
        sink: config.name.clone(),
        reason,
    };
    Ok(match &config.kind {
        SinkKind::File {
            path,
            max_bytes,
            max_files,
        } => Box::new(FileSink::new(path.clone(), *max_bytes, *max_files)),
        SinkKind::Webhook {
            url,
            url_env,
            headers,
            secret_env,
            secret_file,
            signature_header,
        } => {
            let url = resolve_url(url.as_deref(), url_env.as_deref()).map_err(err)?;
            let secret = match (secret_env, secret_file) {
                (Some(var), _) => Some(
                    std::env::var(var)
                        .map_err(|_| err(format!("secret variable {var} is not set")))?
                        .into_bytes(),
                ),
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        err(format!("cannot read secret file {}: {e}", path.display()))
                    })?;
                    Some(text.trim_end_matches(['\n', '\r']).as_bytes().to_vec())
                }
                (None, None) => None,
            };
            Box::new(
                WebhookSink::new(
                    url,
                    headers.clone(),
                    secret,
                    signature_header.clone(),
                    config.timeout.0,
                )
                .map_err(err)?,
            )
        }
        SinkKind::Slack { url, url_env } => {
            let url = resolve_url(url.as_deref(), url_env.as_deref()).map_err(err)?;
            Box::new(SlackSink::new(url, ui_url.map(str::to_owned), config.timeout.0).map_err(err)?)
        }
        SinkKind::Sns { topic_arn, aws } => {
            Box::new(SnsSink::new(topic_arn.clone(), aws.clone(), config.timeout.0).map_err(err)?)
        }
    })
}

fn resolve_url(url: Option<&str>, env: Option<&str>) -> std::result::Result<String, String> {
    match (url, env) {
        (Some(url), _) => Ok(url.to_owned()),
        (None, Some(var)) => {
            std::env::var(var).map_err(|_| format!("url variable {var} is not set"))
        }
        (None, None) => Err("url or url_env is required".into()),
    }
}

/// A short severity marker for chat messages.
#[must_use]
pub fn severity_marker(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":rotating_light:",
        Severity::High => ":red_circle:",
        Severity::Medium => ":large_orange_circle:",
        Severity::Low => ":large_yellow_circle:",
        Severity::Informational => ":white_circle:",
    }
}
