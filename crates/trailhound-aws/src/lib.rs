//! AWS clients for trailhound.
//!
//! Every AWS call trailhound makes (S3 reads, SQS polling, SNS publishing) goes through the
//! official SDK, configured here in one place: the standard credential chain (environment,
//! profile, web identity, ECS/IMDS), an optional role to assume (a queue or bucket in another
//! account), an optional region and an optional endpoint override (a local test server).
//!
//! The SDK is built without its default TLS stack (aws-lc); the HTTPS client is rustls with
//! ring, which compiles in a fraction of the time.
//!
//! [`s3read`] lists and reads CloudTrail trees in S3 (date-folder pruning, byte caps,
//! metadata, bounded concurrency).

pub mod s3read;

use std::fmt;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use serde::{Deserialize, Serialize};

pub use aws_sdk_s3 as s3;
pub use aws_sdk_sns as sns;
pub use aws_sdk_sqs as sqs;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `s3://bucket/prefix` URL that does not parse.
    #[error("invalid s3 url {url:?}: {reason}")]
    S3Url {
        /// The text given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `ListObjectsV2` request failed.
    #[error("cannot list s3://{bucket}/{prefix}")]
    List {
        /// Bucket.
        bucket: String,
        /// Prefix listed.
        prefix: String,
        /// The SDK's error, with its context.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A `GetObject` or `HeadObject` request, or the body download, failed.
    #[error("cannot read s3://{bucket}/{key}")]
    Get {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The SDK's error, with its context.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The object does not exist.
    #[error("no object s3://{bucket}/{key}")]
    NotFound {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// The object is larger than the caller's cap.
    #[error("s3://{bucket}/{key} is larger than {cap} bytes")]
    TooLarge {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The cap.
        cap: u64,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where and as whom to call AWS. Every field is optional: the defaults are the SDK's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsSettings {
    /// Region (else `AWS_REGION` / the profile's region).
    pub region: Option<String>,
    /// Endpoint override, e.g. `http://127.0.0.1:5000` for a local test server.
    pub endpoint_url: Option<String>,
    /// Named profile from `~/.aws/config`.
    pub profile: Option<String>,
    /// Role to assume with the base credentials (cross-account queues and buckets).
    pub role_arn: Option<String>,
    /// External id for the role, when its trust policy requires one.
    pub external_id: Option<String>,
}

/// Loads the SDK configuration for `settings`.
pub async fn load(settings: &AwsSettings) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint.clone());
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    let base = loader.load().await;
    let Some(role_arn) = &settings.role_arn else {
        return base;
    };
    tracing::debug!(role_arn, "assuming role for aws calls");
    let mut role = aws_config::sts::AssumeRoleProvider::builder(role_arn.clone())
        .session_name("trailhound")
        .configure(&base);
    if let Some(external_id) = &settings.external_id {
        role = role.external_id(external_id.clone());
    }
    let provider = role.build().await;
    base.into_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build()
}

/// An S3 client; path-style addressing when an endpoint override is set (local servers do
/// not resolve virtual-hosted bucket names).
#[must_use]
pub fn s3_client(config: &SdkConfig) -> s3::Client {
    let path_style = config.endpoint_url().is_some();
    let conf = s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    s3::Client::from_conf(conf)
}

/// An SQS client.
#[must_use]
pub fn sqs_client(config: &SdkConfig) -> sqs::Client {
    sqs::Client::new(config)
}

/// An SNS client.
#[must_use]
pub fn sns_client(config: &SdkConfig) -> sns::Client {
    sns::Client::new(config)
}

/// A parsed `s3://bucket/prefix` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix, possibly empty, without a leading `/`.
    pub prefix: String,
}

impl S3Location {
    /// Whether `text` is an `s3://` URL.
    #[must_use]
    pub fn is_s3_url(text: &str) -> bool {
        text.starts_with("s3://")
    }

    /// Parses `s3://bucket[/prefix]`.
    ///
    /// # Errors
    /// Not an `s3://` URL, or an empty or malformed bucket name.
    pub fn parse(url: &str) -> Result<Self> {
        let err = |reason| Error::S3Url {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| err("not an s3:// url"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(err("empty bucket name"));
        }
        let valid = bucket.len() >= 3
            && bucket.len() <= 63
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(err(
                "bucket names are 3-63 lowercase letters, digits, '-' or '.'",
            ));
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_urls() {
        let loc = S3Location::parse("s3://my-trail-bucket/AWSLogs/o-abc/").unwrap();
        assert_eq!(loc.bucket, "my-trail-bucket");
        assert_eq!(loc.prefix, "AWSLogs/o-abc/");
        let bare = S3Location::parse("s3://my-trail-bucket").unwrap();
        assert_eq!(bare.prefix, "");
        assert!(S3Location::parse("s3:///x").is_err());
        assert!(S3Location::parse("s3://Bad_Bucket/x").is_err());
        assert!(S3Location::parse("/tmp/x").is_err());
        assert!(S3Location::is_s3_url("s3://b/k"));
    }

    #[tokio::test]
    async fn endpoint_override_gives_path_style_clients() {
        let settings = AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:1".into()),
            ..AwsSettings::default()
        };
        let config = load(&settings).await;
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:1"));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
        let _ = s3_client(&config);
    }
}
