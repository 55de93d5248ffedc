//! `trailhound gen`: writes a synthetic organisation's CloudTrail with labelled attacks.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use trailhound_core::Timestamp;
use trailhound_gen::{Format, GenOptions, SCENARIOS};

/// Output layout of `trailhound gen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum GenFormat {
    /// The S3 delivery layout: `AWSLogs/o-…/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz`.
    #[default]
    S3,
    /// JSON lines, one file per account, region and day.
    Jsonl,
}

/// Arguments of `trailhound gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Days to generate.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// Accounts (the first is the organisation's management account).
    #[arg(long, default_value_t = 3)]
    pub accounts: u32,
    /// Benign events per account per weekday (weekends are quieter).
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub events_per_day: u64,
    /// Scenarios to inject (repeatable; default all). `--scenario list` prints the catalogue.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Inject no scenario at all.
    #[arg(long, conflicts_with = "scenarios")]
    pub no_scenarios: bool,
    /// Seed: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output layout.
    #[arg(long, value_enum, default_value_t = GenFormat::S3)]
    pub format: GenFormat,
    /// First day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", default_value = "2026-01-01")]
    pub start: String,
    /// Gzip level of `.json.gz` files (0–9).
    #[arg(long, default_value_t = 6)]
    pub gzip_level: u32,
    /// Also write signed hourly digest files (log file integrity validation) and the public
    /// key file `digest-public-keys.json`, for `trailhound verify` (s3 layout only).
    #[arg(long)]
    pub digests: bool,
    /// PKCS#1 PEM RSA private key to sign digests with (default: a key derived from the seed).
    #[arg(long, value_name = "PEM", requires = "digests")]
    pub digest_key: Option<PathBuf>,
    /// No summary and no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Builds generator options from the arguments.
///
/// # Errors
/// A bad start date.
pub fn options(args: &GenArgs) -> anyhow::Result<GenOptions> {
    let start = Timestamp::parse(&args.start)
        .with_context(|| format!("invalid --start {:?}", args.start))?
        .floor_day();
    let mut options = GenOptions::new(&args.out);
    options.days = args.days;
    options.accounts = args.accounts;
    options.events_per_day = args.events_per_day;
    options.scenarios.clone_from(&args.scenarios);
    options.seed = args.seed;
    options.format = match args.format {
        GenFormat::S3 => Format::S3,
        GenFormat::Jsonl => Format::Jsonl,
    };
    options.start = start;
    options.gzip_level = args.gzip_level;
    Ok(options)
}

/// Runs `trailhound gen`.
///
/// # Errors
/// Bad options, unknown scenarios, unwritable output.
pub fn run(args: &GenArgs) -> anyhow::Result<u8> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.scenarios.iter().any(|s| s == "list") {
        for s in SCENARIOS {
            writeln!(
                out,
                "{:<24} {:<28} {}",
                s.name,
                s.attack.join(","),
                s.description
            )?;
        }
        return Ok(crate::EXIT_OK);
    }
    let mut options = options(args)?;
    options.inject = !args.no_scenarios;
    if args.digests && args.format != GenFormat::S3 {
        anyhow::bail!("--digests needs --format s3");
    }
    let expected = u64::from(options.days) * u64::from(options.accounts) * options.events_per_day;
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(expected),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:30} {human_pos}/{human_len} events [{elapsed}] {per_sec}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let started = std::time::Instant::now();
    let summary = trailhound_gen::generate(&options, &|n| {
        if let Some(bar) = &bar {
            bar.inc(n);
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let digests = if args.digests {
        let pem = match &args.digest_key {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            ),
            None => None,
        };
        Some(trailhound_gen::write_digests(&options, pem.as_deref())?)
    } else {
        None
    };
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        writeln!(
            out,
            "wrote {} events ({:.1} MB uncompressed) in {} files for organisation {} under {}",
            summary.events,
            summary.bytes as f64 / 1e6,
            summary.files,
            summary.org_id,
            args.out.display()
        )?;
        writeln!(
            out,
            "{} scenarios, {} labelled events (labels.jsonl, scenarios.json); {:.2}s, {:.0} events/s",
            summary.scenarios.len(),
            summary.scenario_events,
            secs,
            summary.events as f64 / secs
        )?;
        for s in &summary.scenarios {
            writeln!(
                out,
                "  {:<24} {:>4} events  {}  account {}",
                s.name, s.events, s.start, s.account
            )?;
        }
        if let Some(d) = &digests {
            writeln!(
                out,
                "{} digest files signed by key {}; public key in {}",
                d.files,
                d.fingerprint,
                d.public_keys.display()
            )?;
        }
    }
    Ok(crate::EXIT_OK)
}
