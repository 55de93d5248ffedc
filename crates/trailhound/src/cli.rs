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
    /// Hunt CloudTrail files, directory trees or stdin (-) offline and print alerts.
    Hunt(cmd::hunt::HuntArgs),
    /// The alert pipeline: delivery status per sink, deliver pending alerts, suppressions.
    Alerts(cmd::alerts::AlertsArgs),
    /// Run continuously: S3 notifications and EventBridge events from SQS, followed
    /// directories and stdin; checkpoints, /healthz and /metrics (docs/daemon.md).
    Run(cmd::run::RunArgs),
    /// Print configuration help (a complete commented example with --example).
    Config(cmd::config::ConfigArgs),
    /// The rule catalogue: list rules and detectors, or show one's documentation.
    Rule(cmd::rule::RuleArgs),
    /// Generate a synthetic organisation's CloudTrail with labelled attack scenarios.
    Gen(cmd::r#gen::GenArgs),
    /// Generate a small organisation, hunt it with everything on, and score the result.
    Demo(cmd::demo::DemoArgs),
    /// Run one read-only SQL statement over the event store (tables events, alerts).
    Query(cmd::query::QueryArgs),
    /// Full-text search over stored events (keys, IPs, bucket names, any word).
    Search(cmd::search::SearchArgs),
    /// Timeline, counts and alerts for one principal, IP, key, session or resource.
    Pivot(cmd::pivot::PivotArgs),
    /// Export stored events as Hive-style Parquet or JSON-lines partitions.
    Export(cmd::export::ExportArgs),
    /// The event store itself: `store stats` (events, days, bytes), `store prune` (retention).
    Store(cmd::store::StoreArgs),
    /// Import detections from other tools (CloudFormation metric filters and alarms).
    Import(cmd::import::ImportArgs),
    /// Plan traps: suggested canaries and honeypots, how to create them, and their config.
    Traps(cmd::traps::TrapsArgs),
    /// Workload allow-policies: propose them from history (`policy learn`).
    Policy(cmd::policy::PolicyArgs),
    /// Sigma rule tools: `rules check DIR…` lints rules against Sigma 2 and the CloudTrail schema.
    Rules(cmd::rules::RulesArgs),
    /// Verify CloudTrail log file integrity from digest files (exit 1 on findings).
    Verify(cmd::verify::VerifyArgs),
    /// Web UI and JSON API over the event store: alert triage, search, pivots, overview.
    Serve(cmd::serve::ServeArgs),
}
