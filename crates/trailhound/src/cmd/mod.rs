//! One module per command.

pub mod alerts;
pub mod config;
pub mod demo;
pub mod export;
pub mod r#gen;
pub mod hunt;
pub mod import;
pub mod pivot;
pub mod policy;
pub mod query;
pub mod rule;
pub mod rules;
pub mod run;
pub mod search;
pub mod serve;
pub mod store;
pub mod traps;
pub mod verify;

use crate::cli::Command;

/// Runs a command; returns the exit code.
///
/// # Errors
/// Any error of the command, printed by the caller with its causes.
pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Hunt(args) => hunt::run(args),
        Command::Alerts(args) => alerts::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Config(args) => config::run(&args),
        Command::Rule(args) => rule::run(&args),
        Command::Gen(args) => r#gen::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Query(args) => query::run(&args),
        Command::Search(args) => search::run(&args),
        Command::Pivot(args) => pivot::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Store(args) => store::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Traps(args) => traps::run(&args),
        Command::Policy(args) => policy::run(&args),
        Command::Rules(args) => rules::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Serve(args) => serve::run(&args),
    }
}
