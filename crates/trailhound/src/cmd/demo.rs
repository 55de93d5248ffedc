//! `trailhound demo`: generates a small organisation with labelled attacks, hunts it with
//! every detector on, prints the alerts and a scorecard of what was caught.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use trailhound_core::Alert;
use trailhound_gen::{GenOptions, Scorecard};

use crate::cmd::hunt::{HuntOptions, run_hunt};
use crate::output::{AlertWriter, DEFAULT_WIDTH, Format};

/// Arguments of `trailhound demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the generated tree in DIR instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Days of activity (at least 15 gives anomaly detectors their 14-day warm-up).
    #[arg(long, default_value_t = 16)]
    pub days: u32,
    /// Accounts.
    #[arg(long, default_value_t = 3)]
    pub accounts: u32,
    /// Benign events per account per weekday.
    #[arg(long, value_name = "N", default_value_t = 2_000)]
    pub events_per_day: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print only the scorecard, not the alerts.
    #[arg(long)]
    pub scorecard_only: bool,
}

/// Generates, hunts and scores; returns the alerts and the scorecard.
///
/// # Errors
/// Generation or hunt failures.
pub fn demo(args: &DemoArgs, dir: &std::path::Path) -> anyhow::Result<(Vec<Alert>, Scorecard)> {
    demo_with(args, dir, demo_config()?)
}

/// Generates, hunts with `config` (start from [`demo_config`]) and scores.
///
/// # Errors
/// Generation or hunt failures.
pub fn demo_with(
    args: &DemoArgs,
    dir: &std::path::Path,
    config: crate::config::Config,
) -> anyhow::Result<(Vec<Alert>, Scorecard)> {
    let mut options = GenOptions::new(dir);
    options.days = args.days;
    options.accounts = args.accounts;
    options.events_per_day = args.events_per_day;
    options.seed = args.seed;
    let summary = trailhound_gen::generate(&options, &|_| {})
        .context("cannot generate the demo organisation")?;
    tracing::info!(
        events = summary.events,
        files = summary.files,
        "demo organisation generated"
    );
    let hunt = HuntOptions {
        paths: vec![dir.join("AWSLogs").display().to_string()],
        config,
        ..HuntOptions::default()
    };
    let mut alerts = Vec::new();
    let outcome = run_hunt(&hunt, &mut |alert| alerts.push(alert.clone()))?;
    tracing::info!(summary = %outcome.summary(), "demo hunt done");
    let labels = trailhound_gen::read_labels(dir)?;
    let card = Scorecard::build(&labels, &alerts, outcome.ingest.events);
    Ok((alerts, card))
}

/// The demo's configuration: the defaults plus the decoys the synthetic organisation has
/// planted (a canary user and its access key, a honeypot table and bucket prefix), as a user
/// would declare their own in `[[traps.traps]]`.
///
/// # Errors
/// Never in practice: the text is fixed and valid.
pub fn demo_config() -> anyhow::Result<crate::config::Config> {
    crate::config::Config::parse(&demo_config_text()).context("invalid demo configuration")
}

/// The TOML text of [`demo_config`], for callers that append their own sections.
#[must_use]
pub fn demo_config_text() -> String {
    format!(
        r#"version = 1

[[traps.traps]]
name = "canary-user"
kind = "iam-user"
value = "{user}"

[[traps.traps]]
name = "canary-access-key"
kind = "access-key"
value = "{key}"

[[traps.traps]]
name = "honeypot-table"
kind = "dynamodb-table"
value = "{table}"

[[traps.traps]]
name = "honeypot-payroll-prefix"
kind = "s3-prefix"
value = "{bucket}/{prefix}"
"#,
        user = trailhound_gen::CANARY_USER,
        key = trailhound_gen::CANARY_ACCESS_KEY_ID,
        table = trailhound_gen::HONEYPOT_TABLE,
        bucket = trailhound_gen::HONEYPOT_BUCKET,
        prefix = trailhound_gen::HONEYPOT_PREFIX,
    )
}

/// Runs `trailhound demo`.
///
/// # Errors
/// Generation, hunt or output failures.
pub fn run(args: &DemoArgs) -> anyhow::Result<u8> {
    let temp;
    let dir = match &args.keep {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            temp.path().to_owned()
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "Generating {} days of CloudTrail for a {}-account organisation with every attack scenario, then hunting it…\n",
        args.days, args.accounts
    )?;
    out.flush()?;
    let started = std::time::Instant::now();
    let (alerts, card) = demo(args, &dir)?;
    if !args.scorecard_only {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(DEFAULT_WIDTH);
        let mut writer = AlertWriter::new(&mut out, Format::Table, colour, width);
        for alert in &alerts {
            writer.write(alert)?;
        }
        writer.finish()?;
        writeln!(out)?;
    }
    writeln!(out, "Scorecard ({:.1}s)\n", started.elapsed().as_secs_f64())?;
    write!(out, "{}", card.to_text())?;
    if let Some(dir) = &args.keep {
        writeln!(
            out,
            "\nThe tree, labels.jsonl and scenarios.json are in {}",
            dir.display()
        )?;
    }
    Ok(crate::EXIT_OK)
}
