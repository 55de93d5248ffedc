//! `trailhound policy learn`: propose workload allow-policies from observed history.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use trailhound_detect::policy::{PolicyConfig, PolicyLearner};

/// Arguments of `trailhound policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: PolicyAction,
}

/// `trailhound policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Propose `[[policies]]` from who did what on which resource, for review.
    Learn(LearnArgs),
}

/// Arguments of `trailhound policy learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Days of history to learn from, ending at the newest event time read.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Skip resources used by more principals than this (shared resources need a hand-written
    /// policy).
    #[arg(long, default_value_t = 20)]
    pub max_principals: usize,
    /// Only resources of this service (`kms.amazonaws.com`); repeatable.
    #[arg(long = "event-source")]
    pub event_sources: Vec<String>,
    /// CloudTrail files, directories or `-` for stdin.
    #[arg(required = true)]
    pub paths: Vec<String>,
}

#[derive(Serialize)]
struct Proposal<'a> {
    policies: &'a [PolicyConfig],
}

/// Runs `trailhound policy`.
///
/// # Errors
/// Unreadable inputs; writing to stdout fails.
pub fn run(args: &PolicyArgs) -> anyhow::Result<u8> {
    match &args.action {
        PolicyAction::Learn(learn) => run_learn(learn),
    }
}

fn run_learn(args: &LearnArgs) -> anyhow::Result<u8> {
    let inputs = trailhound_ingest::discover(&args.paths)?;
    let mut learner = PolicyLearner::default();
    let options = trailhound_ingest::IngestOptions::default();
    let report = trailhound_ingest::ingest(&inputs, &options, &mut |batch, _stats| {
        for event in &batch.events {
            if args.event_sources.is_empty()
                || args.event_sources.iter().any(|s| s == event.event_source())
            {
                learner.observe(event);
            }
        }
        ControlFlow::Continue(())
    })?;
    let policies = learner.propose(args.days, args.max_principals);
    let text = toml::to_string(&Proposal {
        policies: &policies,
    })
    .context("cannot render the policies as TOML")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "# Workload allow-policies proposed by `trailhound policy learn` from {} events ({} files),\n# last {} days of event time. Review every rule before adding it to the config:\n# history shows what happened, not what should.\n",
        learner.events(),
        report.stats.files,
        args.days
    )?;
    if policies.is_empty() {
        writeln!(out, "# no resource with identifiable callers was found")?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    Ok(crate::EXIT_OK)
}
