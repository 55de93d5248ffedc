//! The `trailhound` command line and runtime wiring: sources → engine → alerts → sinks.
//!
//! Exit codes: 0 the command ran; 1 only with `hunt --fail-on SEVERITY` when an alert at or
//! above it was raised (or `rules check` found errors); 2 on error. A closed stdout (`| head`)
//! is success.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod detection;
pub mod engine;
pub mod output;
pub mod s3;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

/// Exit code: the command ran.
pub const EXIT_OK: u8 = 0;
/// Exit code: alerts at or above `--fail-on`, or lint errors.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: an error.
pub const EXIT_ERROR: u8 = 2;

/// Parses the command line, runs the command and maps its outcome to an exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout and usage errors to stderr itself.
            let code = if error.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_OK
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose, cli.log_json);
    match cmd::run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::from(EXIT_OK);
            }
            // The user-facing error line: written to stderr directly, because it must show
            // even when logging is filtered off.
            let _ = writeln!(std::io::stderr().lock(), "trailhound: error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(verbose: u8, json: bool) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRAILHOUND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
