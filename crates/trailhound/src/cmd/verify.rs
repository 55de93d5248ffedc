//! `trailhound verify PATH`: CloudTrail log file integrity validation from digest files, on a
//! local tree or an `s3://bucket/prefix`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use trailhound_aws::S3Location;
use trailhound_verify::{PublicKeys, Report, VerifyOptions, verify_s3, verify_tree};

/// Output format of `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per finding, then a summary.
    Table,
    /// The whole report as one JSON object (`summary`, `findings`).
    Json,
    /// One alert (kind `integrity`) per finding, as JSON lines.
    Jsonl,
}

/// Arguments of `trailhound verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The local tree holding `AWSLogs/` (digest files, their `.metadata.json` sidecars and
    /// the log files), or `s3://bucket/prefix` (signatures from the digest objects' metadata).
    pub path: PathBuf,
    /// Public keys as `aws cloudtrail list-public-keys` prints them; without it signatures are
    /// not checked.
    #[arg(long, value_name = "FILE")]
    pub public_keys: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Configuration file (TOML); only its `[aws]` section is used here.
    #[arg(long, value_name = "F")]
    pub config: Option<PathBuf>,
    /// S3 objects read at once for `s3://` paths.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
    /// AWS access for `s3://` paths.
    #[command(flatten)]
    pub aws: crate::s3::AwsArgs,
}

/// Runs `trailhound verify`: exit 0 when the tree is intact, 1 when there are findings.
///
/// # Errors
/// The path holds no digest file or cannot be read (listed), the key file is bad, or
/// writing to stdout fails.
pub fn run(args: &VerifyArgs) -> anyhow::Result<u8> {
    let public_keys = args
        .public_keys
        .as_deref()
        .map(PublicKeys::load)
        .transpose()
        .context("loading public keys")?;
    if public_keys.is_none() {
        tracing::warn!("no --public-keys: digest signatures are not checked");
    }
    let options = VerifyOptions { public_keys };
    let path = args.path.to_string_lossy();
    let report = if S3Location::is_s3_url(&path) {
        verify_s3_prefix(args, &path, &options)?
    } else {
        verify_tree(&args.path, &options)
            .with_context(|| format!("verifying {}", args.path.display()))?
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            for finding in &report.findings {
                serde_json::to_writer(&mut out, &finding.to_alert())?;
                writeln!(out)?;
            }
        }
        Format::Table => write_table(&mut out, &report)?,
    }
    Ok(if report.is_clean() {
        crate::EXIT_OK
    } else {
        crate::EXIT_FINDINGS
    })
}

/// Verifies an `s3://` prefix with the `[aws]` settings of `--config` and the flags.
fn verify_s3_prefix(
    args: &VerifyArgs,
    url: &str,
    options: &VerifyOptions,
) -> anyhow::Result<Report> {
    let location = S3Location::parse(url)?;
    let config = match &args.config {
        Some(path) => crate::config::Config::load(path)?,
        None => crate::config::Config::default(),
    };
    let settings = args.aws.apply(config.aws);
    let session = crate::s3::S3Session::connect(&settings)?;
    session
        .block_on(verify_s3(
            session.client(),
            &location,
            options,
            args.concurrency.max(1),
        ))
        .with_context(|| format!("verifying {location}"))
}

fn write_table(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    for f in &report.findings {
        writeln!(out, "{:<24} {}", f.kind.as_str(), f.file)?;
        if let Some(digest) = &f.digest {
            writeln!(out, "  digest:   {digest}")?;
        }
        if let Some(expected) = &f.expected {
            writeln!(out, "  expected: {expected}")?;
        }
        if let Some(actual) = &f.actual {
            writeln!(out, "  actual:   {actual}")?;
        }
        writeln!(out, "  {}", f.detail)?;
    }
    let s = &report.summary;
    let signatures = if s.signatures_checked {
        format!("{}/{} signatures valid", s.signatures_verified, s.digests)
    } else {
        "signatures not checked (no --public-keys)".to_owned()
    };
    writeln!(
        out,
        "{} digests in {} chains, {signatures}, {}/{} log files valid: {}",
        s.digests,
        s.chains,
        s.log_files_valid,
        s.log_files,
        if report.is_clean() {
            "intact".to_owned()
        } else {
            format!("{} findings", report.findings.len())
        }
    )
}
