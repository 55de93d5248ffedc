//! One module per command.

pub mod config;
pub mod hunt;

use crate::cli::Command;

/// Runs a command; returns the exit code.
///
/// # Errors
/// Any error of the command, printed by the caller with its causes.
pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Hunt(args) => hunt::run(args),
        Command::Config(args) => config::run(&args),
    }
}
