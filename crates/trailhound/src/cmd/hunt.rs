//! `trailhound hunt`: offline detection over files, trees, stdin and S3 prefixes.

use clap::Args;

/// Arguments of `trailhound hunt`.
#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Files, directories (read recursively), `-` for stdin, or s3://bucket/prefix.
    #[arg(required = true)]
    pub paths: Vec<String>,
}

/// Runs `trailhound hunt`.
///
/// # Errors
/// Unreadable input paths or config.
pub fn run(_args: HuntArgs) -> anyhow::Result<u8> {
    anyhow::bail!("hunt is being wired")
}
