//! `s3://bucket/prefix` inputs of `hunt` and `verify`: the AWS flags, a client on its own
//! runtime, listing with `--since/--until` pruning, and an [`ObjectReader`] that streams S3
//! objects into the same decoding path as files.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use trailhound_aws::s3read::{self, TimeWindow};
use trailhound_aws::{AwsSettings, S3Location};
use trailhound_core::Timestamp;
use trailhound_ingest::{Input, ObjectReader};

/// Objects read at once when a hunt reads S3 and `--threads` is not given: reads wait on the
/// network far more than they decode.
pub const S3_READ_THREADS: usize = 16;

/// The AWS flags shared by commands that read S3; each overrides the `[aws]` config section.
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// AWS region (else `[aws] region`, `AWS_REGION` or the profile's).
    #[arg(long, value_name = "R")]
    pub aws_region: Option<String>,
    /// Endpoint override, e.g. a local S3-compatible server.
    #[arg(long, value_name = "URL")]
    pub aws_endpoint_url: Option<String>,
    /// Named profile from the AWS config files.
    #[arg(long, value_name = "P")]
    pub aws_profile: Option<String>,
    /// Role to assume for reading (a bucket in another account).
    #[arg(long, value_name = "ARN")]
    pub aws_role_arn: Option<String>,
}

impl AwsArgs {
    /// `settings` with the flags given on the command line laid over them.
    #[must_use]
    pub fn apply(&self, mut settings: AwsSettings) -> AwsSettings {
        let over = |flag: &Option<String>, field: &mut Option<String>| {
            if let Some(value) = flag {
                *field = Some(value.clone());
            }
        };
        over(&self.aws_region, &mut settings.region);
        over(&self.aws_endpoint_url, &mut settings.endpoint_url);
        over(&self.aws_profile, &mut settings.profile);
        over(&self.aws_role_arn, &mut settings.role_arn);
        settings
    }
}

/// An S3 client with the runtime its calls run on (the commands are synchronous).
#[derive(Debug)]
pub struct S3Session {
    runtime: tokio::runtime::Runtime,
    client: trailhound_aws::s3::Client,
}

impl S3Session {
    /// Loads the AWS configuration for `settings` and builds the client.
    ///
    /// # Errors
    /// The async runtime cannot be started.
    pub fn connect(settings: &AwsSettings) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("trailhound-s3")
            .enable_all()
            .build()
            .context("cannot start the async runtime for s3")?;
        let config = runtime.block_on(trailhound_aws::load(settings));
        let client = trailhound_aws::s3_client(&config);
        Ok(S3Session { runtime, client })
    }

    /// The client.
    #[must_use]
    pub fn client(&self) -> &trailhound_aws::s3::Client {
        &self.client
    }

    /// Runs a future to completion on the session's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// Reads objects of one bucket for ingestion: each worker thread blocks on its own request.
#[derive(Debug)]
struct S3Reader {
    session: Arc<S3Session>,
    bucket: String,
}

impl ObjectReader for S3Reader {
    fn source_name(&self, key: &str) -> Arc<str> {
        Arc::from(format!("s3://{}/{key}", self.bucket))
    }

    fn read_into(&self, key: &str, buf: &mut Vec<u8>, cap: u64) -> std::io::Result<()> {
        self.session
            .block_on(s3read::read_object_into(
                self.session.client(),
                &self.bucket,
                key,
                buf,
                cap.saturating_add(1),
            ))
            .map(|_| ())
            .map_err(|e| std::io::Error::other(error_chain(&e)))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether any of `paths` is an `s3://` URL.
#[must_use]
pub fn any_s3<P: AsRef<str>>(paths: &[P]) -> bool {
    paths.iter().any(|p| S3Location::is_s3_url(p.as_ref()))
}

/// Expands `paths` into inputs like [`trailhound_ingest::discover`], with `s3://` prefixes
/// listed through `settings`: only the date folders and files that can hold events between
/// `since` and `until` (see [`s3read::list_cloudtrail`]), ordered like a local tree (by the
/// delivery time in the file name, then by key).
///
/// # Errors
/// A local path that cannot be read, `-` twice, a malformed URL or a prefix that cannot be
/// listed.
pub fn discover<P: AsRef<str>>(
    paths: &[P],
    settings: &AwsSettings,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> anyhow::Result<Vec<Input>> {
    if !any_s3(paths) {
        return Ok(trailhound_ingest::discover(paths)?);
    }
    let mut session: Option<Arc<S3Session>> = None;
    let window = TimeWindow { since, until };
    let mut inputs = Vec::new();
    let mut stdin_seen = false;
    for path in paths {
        let path = path.as_ref();
        if !S3Location::is_s3_url(path) {
            if path == "-" {
                anyhow::ensure!(!stdin_seen, trailhound_ingest::Error::StdinTwice);
                stdin_seen = true;
            }
            inputs.extend(trailhound_ingest::discover(&[path])?);
            continue;
        }
        let location = S3Location::parse(path)?;
        let session = match &session {
            Some(session) => Arc::clone(session),
            None => Arc::clone(session.insert(Arc::new(S3Session::connect(settings)?))),
        };
        let listing = session
            .block_on(s3read::list_cloudtrail(
                session.client(),
                &location.bucket,
                &location.prefix,
                &window,
                &["CloudTrail", "CloudTrail-Insight"],
            ))
            .with_context(|| format!("listing {location}"))?;
        tracing::info!(
            %location,
            objects = listing.objects.len(),
            pruned = listing.pruned,
            day_folders = listing.day_folders,
            requests = listing.requests,
            "listed s3 prefix"
        );
        let reader: Arc<dyn ObjectReader> = Arc::new(S3Reader {
            session: Arc::clone(&session),
            bucket: location.bucket.clone(),
        });
        let mut keys: Vec<String> = listing.objects.into_iter().map(|o| o.key).collect();
        keys.sort_by_cached_key(|key| {
            (
                trailhound_ingest::name_timestamp(key).map(str::to_owned),
                key.clone(),
            )
        });
        inputs.extend(keys.into_iter().map(|key| Input::Object {
            reader: Arc::clone(&reader),
            key: Arc::from(key),
        }));
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_config_section() {
        let config = AwsSettings {
            region: Some("eu-west-1".into()),
            profile: Some("audit".into()),
            ..AwsSettings::default()
        };
        let args = AwsArgs {
            aws_region: Some("us-east-2".into()),
            aws_endpoint_url: Some("http://127.0.0.1:9".into()),
            ..AwsArgs::default()
        };
        let merged = args.apply(config);
        assert_eq!(merged.region.as_deref(), Some("us-east-2"));
        assert_eq!(merged.profile.as_deref(), Some("audit"));
        assert_eq!(merged.endpoint_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(merged.role_arn, None);
    }

    #[test]
    fn local_paths_are_discovered_as_before() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), b"{}").unwrap();
        let arg = dir.path().to_string_lossy().into_owned();
        let inputs = discover(&[arg.as_str()], &AwsSettings::default(), None, None).unwrap();
        assert_eq!(inputs, [Input::File(dir.path().join("a.json"))]);
        assert!(discover(&["s3://Bad_Bucket/x"], &AwsSettings::default(), None, None).is_err());
    }
}
