//! `trailhound rules check DIR…`: lint Sigma rules.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use trailhound_sigma::{DiagSeverity, SigmaConfig, lint_sources, read_dirs};

/// Arguments of `trailhound rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: RulesAction,
}

/// `trailhound rules` subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// Lint Sigma rule files or directories (recursively): exit 1 when any error is found.
    Check(CheckArgs),
}

/// Output format of `rules check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `path:line:col: severity[code]: rule: message`, one per line, then a summary.
    Text,
    /// One JSON array of diagnostics.
    Json,
}

/// Arguments of `trailhound rules check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// A value for an `expand` placeholder, as NAME=VALUE (repeatable; repeat a name for a list).
    #[arg(long = "placeholder", value_name = "NAME=VALUE")]
    pub placeholders: Vec<String>,
}

/// Runs `trailhound rules`.
///
/// # Errors
/// Unreadable paths, a bad `--placeholder`, or writing to stdout fails.
pub fn run(args: &RulesArgs) -> anyhow::Result<u8> {
    match &args.action {
        RulesAction::Check(check) => run_check(check),
    }
}

fn run_check(args: &CheckArgs) -> anyhow::Result<u8> {
    let mut config = SigmaConfig::default();
    for p in &args.placeholders {
        let Some((name, value)) = p.split_once('=') else {
            anyhow::bail!("--placeholder {p:?} must be NAME=VALUE");
        };
        config
            .compile
            .placeholders
            .entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    let sources = read_dirs(&args.paths)?;
    let diagnostics = lint_sources(&sources, &config);
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == DiagSeverity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &diagnostics)?;
            writeln!(out)?;
        }
        Format::Text => {
            for d in &diagnostics {
                writeln!(out, "{d}")?;
            }
            writeln!(
                out,
                "{} files checked: {errors} errors, {warnings} warnings",
                sources.len()
            )?;
        }
    }
    Ok(if errors > 0 {
        crate::EXIT_FINDINGS
    } else {
        crate::EXIT_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> u8 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yml"), text).unwrap();
        let args = CheckArgs {
            paths: vec![dir.path().to_owned()],
            format: Format::Json,
            placeholders: Vec::new(),
        };
        run_check(&args).unwrap()
    }

    #[test]
    fn exit_code_follows_errors() {
        let good = "title: ok\nid: x\nlogsource: {product: aws}\ndetection:\n  s: {eventName: StopLogging}\n  condition: s\n";
        assert_eq!(check(good), crate::EXIT_OK);
        let bad = "title: bad\nid: x\nlogsource: {product: aws}\ndetection:\n  s: {eventName|nope: StopLogging}\n  condition: s\n";
        assert_eq!(check(bad), crate::EXIT_FINDINGS);
    }
}
