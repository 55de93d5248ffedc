use std::time::Duration;

use trailhound_aws::sns::types::MessageAttributeValue;

use super::{DeliveryError, Message, Sink};

/// Publishes to an SNS topic through the AWS SDK, with message attributes `severity`,
/// `rule`, `kind` and `alert_id`; FIFO topics (`.fifo`) get the message id as group and
/// deduplication id.
pub struct SnsSink {
    runtime: tokio::runtime::Runtime,
    client: trailhound_aws::sns::Client,
    topic_arn: String,
    timeout: Duration,
}

impl std::fmt::Debug for SnsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsSink")
            .field("topic_arn", &self.topic_arn)
            .finish_non_exhaustive()
    }
}

impl SnsSink {
    /// An SNS sink on its own single-threaded runtime.
    ///
    /// # Errors
    /// The runtime cannot be built.
    pub fn new(
        topic_arn: String,
        settings: trailhound_aws::AwsSettings,
        timeout: Duration,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        let config = runtime.block_on(trailhound_aws::load(&settings));
        let client = trailhound_aws::sns_client(&config);
        Ok(SnsSink {
            runtime,
            client,
            topic_arn,
            timeout,
        })
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, DeliveryError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| DeliveryError::Permanent(format!("bad message attribute: {e}")))
}

impl Sink for SnsSink {
    fn deliver(&mut self, message: &Message) -> Result<(), DeliveryError> {
        let alert = message.alert()?;
        let prefix = if message.kind == "update" {
            "Update: "
        } else {
            ""
        };
        // Subjects are ASCII, at most 100 characters, no line breaks.
        let subject: String = format!("{prefix}[{}] {}", alert.severity, alert.title)
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .take(100)
            .collect();
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(&message.body)
            .message_attributes("severity", attribute(alert.severity.as_str())?)
            .message_attributes("rule", attribute(&alert.rule.id)?)
            .message_attributes("kind", attribute(&message.kind)?)
            .message_attributes("alert_id", attribute(&alert.id)?);
        if self.topic_arn.ends_with(".fifo") {
            request = request
                .message_group_id(alert.rule.id.clone())
                .message_deduplication_id(message.message_id.clone());
        }
        let timeout = self.timeout;
        let result = self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, request.send()).await });
        match result {
            Err(_) => Err(DeliveryError::Retry(format!(
                "sns publish timed out after {timeout:?}"
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let text = format!(
                    "sns publish failed: {}",
                    trailhound_aws::sns::error::DisplayErrorContext(&e)
                );
                let permanent = e.as_service_error().is_some_and(|s| {
                    s.is_not_found_exception()
                        || s.is_invalid_parameter_exception()
                        || s.is_authorization_error_exception()
                });
                if permanent {
                    Err(DeliveryError::Permanent(text))
                } else {
                    Err(DeliveryError::Retry(text))
                }
            }
        }
    }
}
