use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trailhound_core::Alert;

use super::{DeliveryError, Message, Sink, severity_marker};

/// HMAC-SHA256 (RFC 2104) of `message` with `key`.
#[must_use]
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

fn client(timeout: Duration) -> Result<Client, String> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("trailhound/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build http client: {e}"))
}

/// POSTs a body; classifies the outcome.
fn post(
    client: &Client,
    url: &str,
    headers: &[(String, String)],
    body: String,
) -> Result<(), DeliveryError> {
    let mut request = client.post(url).header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.body(body).send().map_err(|e| {
        // Webhook URLs carry credentials (Slack's path is the secret): never in errors or logs.
        let e = e.without_url();
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        DeliveryError::Retry(format!("{what}: {}", error_chain(&e)))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let message = format!("http {}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Err(DeliveryError::Retry(message))
    } else {
        Err(DeliveryError::Permanent(message))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// JSON POST of the alert with `X-Trailhound-Event` (`alert`/`update`),
/// `X-Trailhound-Delivery` (the message id) and, with a secret, a `sha256=<hex>` HMAC of the
/// body in the signature header.
pub struct WebhookSink {
    client: Client,
    url: String,
    headers: BTreeMap<String, String>,
    secret: Option<Vec<u8>>,
    signature_header: String,
}

impl WebhookSink {
    /// A webhook sink.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        url: String,
        headers: BTreeMap<String, String>,
        secret: Option<Vec<u8>>,
        signature_header: String,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(WebhookSink {
            client: client(timeout)?,
            url,
            headers,
            secret,
            signature_header,
        })
    }
}

impl Sink for WebhookSink {
    fn deliver(&mut self, message: &Message) -> Result<(), DeliveryError> {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        headers.push(("X-Trailhound-Event".into(), message.kind.clone()));
        headers.push(("X-Trailhound-Delivery".into(), message.message_id.clone()));
        if let Some(secret) = &self.secret {
            let mac = hmac_sha256(secret, message.body.as_bytes());
            headers.push((
                self.signature_header.clone(),
                format!("sha256={}", hex::encode(mac)),
            ));
        }
        post(&self.client, &self.url, &headers, message.body.clone())
    }
}

/// The Slack incoming-webhook message of an alert: a text fallback and blocks with the
/// severity, title, who/what/where and a link to the web UI when `ui_url` is set.
#[must_use]
pub fn slack_payload(alert: &Alert, kind: &str, ui_url: Option<&str>) -> Value {
    let update = if kind == "update" { "Update: " } else { "" };
    let text = format!(
        "{} {update}[{}] {} ({} {})",
        severity_marker(alert.severity),
        alert.severity.as_str().to_uppercase(),
        alert.title,
        alert.rule.id,
        alert.rule.name
    );
    let e = &alert.entity;
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Severity*\n{}", alert.severity)}),
        json!({"type": "mrkdwn", "text": format!("*Rule*\n{} {}", alert.rule.id, alert.rule.name)}),
        json!({"type": "mrkdwn", "text": format!("*Who*\n{}", dash(&e.principal))}),
        json!({"type": "mrkdwn", "text": format!("*Where*\naccount {} · {} · from {}", dash(&e.account), dash(&e.region), dash(&e.source_ip))}),
        json!({"type": "mrkdwn", "text": format!("*When*\n{} → {}", alert.first_seen, alert.last_seen)}),
        json!({"type": "mrkdwn", "text": format!("*Events*\n{}", alert.event_count)}),
    ];
    if !alert.attack.is_empty() {
        fields.push(
            json!({"type": "mrkdwn", "text": format!("*ATT&CK*\n{}", alert.attack.join(", "))}),
        );
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&format!("{update}{}", alert.title), 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&alert.why, 2900)}, "fields": fields}),
    ];
    if let Some(base) = ui_url {
        let url = format!("{}/alerts/{}", base.trim_end_matches('/'), alert.id);
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in trailhound"}, "url": url}
        ]}));
    }
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": format!("alert `{}` · {}", alert.id, alert.rule.kind)}
    ]}));
    json!({"text": text, "blocks": blocks})
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A Slack incoming webhook.
pub struct SlackSink {
    client: Client,
    url: String,
    ui_url: Option<String>,
}

impl SlackSink {
    /// A Slack sink.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(url: String, ui_url: Option<String>, timeout: Duration) -> Result<Self, String> {
        Ok(SlackSink {
            client: client(timeout)?,
            url,
            ui_url,
        })
    }
}

impl Sink for SlackSink {
    fn deliver(&mut self, message: &Message) -> Result<(), DeliveryError> {
        let alert = message.alert()?;
        let payload = slack_payload(&alert, &message.kind, self.ui_url.as_deref());
        post(&self.client, &self.url, &[], payload.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231() {
        // RFC 4231 test cases 1 and 2.
        let mac = hmac_sha256(&[0x0b; 20], b"Hi There");
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}

/// The scheme and host of a URL, for logs: paths and queries of webhook URLs are secrets.
#[must_use]
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    if scheme.is_empty() {
        "<redacted>".to_owned()
    } else {
        format!("{scheme}://{host}/<redacted>")
    }
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &redact_url(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("signature_header", &self.signature_header)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SlackSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSink")
            .field("url", &redact_url(&self.url))
            .field("ui_url", &self.ui_url)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod redact_tests {
    use super::*;

    #[test]
    fn webhook_secrets_stay_out_of_logs() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com/<redacted>"
        );
        assert_eq!(
            redact_url("https://user:pw@example.com/hook?token=abc"),
            "https://example.com/<redacted>"
        );
        assert_eq!(redact_url("not a url"), "<redacted>");
        let sink = SlackSink::new(
            "https://hooks.slack.com/services/T000/B000/XXXXSECRET".into(),
            None,
            Duration::from_secs(1),
        )
        .unwrap();
        let text = format!("{sink:?}");
        assert!(!text.contains("XXXXSECRET"), "{text}");
        let hook = WebhookSink::new(
            "https://example.com/hook?token=abc".into(),
            BTreeMap::from([("Authorization".to_owned(), "Bearer s3cr3t".to_owned())]),
            Some(b"hmac-secret".to_vec()),
            "X-Signature".into(),
            Duration::from_secs(1),
        )
        .unwrap();
        let text = format!("{hook:?}");
        assert!(
            !text.contains("token=abc")
                && !text.contains("s3cr3t")
                && !text.contains("hmac-secret"),
            "{text}"
        );
    }
}
