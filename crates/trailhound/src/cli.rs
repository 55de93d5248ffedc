//! The command-line surface (clap derive). Each command's arguments live with its code in
//! [`crate::cmd`].

use clap::{Parser, Subcommand};

use crate::cmd;

/// Threat detection for AWS CloudTrail.
#[derive(Debug, Parser)]
#[command(name = "trailhound", version, about, long_about = None)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace). TRAILHOUND_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Logs as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hunt CloudTrail files, directories, stdin (-) or s3:// prefixes offline and print alerts.
    Hunt(cmd::hunt::HuntArgs),
    /// Print configuration help (a complete commented example with --example).
    Config(cmd::config::ConfigArgs),
}
