//! `trailhound config`.

use std::io::Write;

use clap::Args;

/// Arguments of `trailhound config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print a complete, commented example configuration.
    #[arg(long)]
    pub example: bool,
}

/// Runs `trailhound config`.
///
/// # Errors
/// Writing to stdout fails.
pub fn run(args: &ConfigArgs) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    if args.example {
        out.write_all(crate::config::EXAMPLE.as_bytes())?;
    } else {
        writeln!(
            out,
            "trailhound reads a TOML config file (--config F). Print a complete commented example with:\n  trailhound config --example"
        )?;
    }
    Ok(crate::EXIT_OK)
}
