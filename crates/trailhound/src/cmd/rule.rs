//! `trailhound rule list|show`: the rule catalogue on the command line.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use trailhound_core::{RuleKind, Severity};
use trailhound_detect::{Catalogue, CatalogueEntry, CatalogueFilter};

/// Arguments of `trailhound rule`.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: RuleAction,
}

/// `trailhound rule` subcommands.
#[derive(Debug, Subcommand)]
pub enum RuleAction {
    /// List rules and detectors, one line each.
    List(ListArgs),
    /// Print a rule's full documentation (by id, name or Sigma UUID).
    Show(ShowArgs),
}

/// Output formats of `rule list` and `rule show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RuleFormat {
    /// Human-readable text.
    #[default]
    Table,
    /// JSON (an array for `list`, an object for `show`).
    Json,
}

/// Arguments of `trailhound rule list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this family: builtin, metric-filter, canary, policy, anomaly, intel…
    #[arg(long)]
    pub kind: Option<String>,
    /// Only at or above this severity.
    #[arg(long)]
    pub severity: Option<Severity>,
    /// Only this ATT&CK tactic (defense-evasion) or technique prefix (T1562).
    #[arg(long)]
    pub tactic: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: RuleFormat,
}

/// Arguments of `trailhound rule show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Rule id (TH1001), name (cloudtrail-logging-stopped) or Sigma UUID.
    pub rule: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: RuleFormat,
}

/// Runs `trailhound rule`.
///
/// # Errors
/// An unknown kind or rule, or a write to stdout fails.
pub fn run(args: &RuleArgs) -> anyhow::Result<u8> {
    let catalogue = Catalogue::all().context("cannot load the rule catalogue")?;
    let mut out = std::io::stdout().lock();
    match &args.action {
        RuleAction::List(list) => {
            let filter = CatalogueFilter {
                kind: list.kind.as_deref().map(parse_kind).transpose()?,
                min_severity: list.severity,
                tactic: list.tactic.clone(),
            };
            let entries = catalogue.filtered(&filter);
            match list.format {
                RuleFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &entries)?;
                    writeln!(out)?;
                }
                RuleFormat::Table => out.write_all(render_table(&entries).as_bytes())?,
            }
        }
        RuleAction::Show(show) => {
            let entry = catalogue.find(&show.rule).with_context(|| {
                format!(
                    "no rule {:?}; list them with `trailhound rule list`",
                    show.rule
                )
            })?;
            match show.format {
                RuleFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, entry)?;
                    writeln!(out)?;
                }
                RuleFormat::Table => out.write_all(render_show(entry).as_bytes())?,
            }
        }
    }
    Ok(crate::EXIT_OK)
}

fn parse_kind(text: &str) -> anyhow::Result<RuleKind> {
    let quoted = format!("\"{}\"", text.trim().to_ascii_lowercase());
    serde_json::from_str(&quoted).map_err(|_| {
        anyhow::anyhow!(
            "unknown kind {text:?}: expected sigma, builtin, metric-filter, canary, policy, anomaly, correlation, intel or integrity"
        )
    })
}

/// The `rule list` table: id, severity, kind, name, ATT&CK, title.
#[must_use]
pub fn render_table(entries: &[&CatalogueEntry]) -> String {
    let mut text = String::new();
    let id_width = entries
        .iter()
        .map(|e| e.doc.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let name_width = entries
        .iter()
        .map(|e| e.doc.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    text.push_str(&format!(
        "{:<id_width$}  {:<13}  {:<13}  {:<name_width$}  {:<20}  {}\n",
        "ID", "SEVERITY", "KIND", "NAME", "ATT&CK", "TITLE"
    ));
    for entry in entries {
        let doc = &entry.doc;
        text.push_str(&format!(
            "{:<id_width$}  {:<13}  {:<13}  {:<name_width$}  {:<20}  {}\n",
            doc.id,
            doc.severity.as_str(),
            doc.kind.as_str(),
            doc.name,
            doc.attack.join(","),
            doc.title
        ));
    }
    text.push_str(&format!("{} rules\n", entries.len()));
    text
}

/// The `rule show` text: every documented field under a heading.
#[must_use]
pub fn render_show(entry: &CatalogueEntry) -> String {
    let doc = &entry.doc;
    let mut text = format!("{} {}: {}\n\n", doc.id, doc.name, doc.title);
    text.push_str(&format!("kind:      {}\n", doc.kind));
    text.push_str(&format!("severity:  {}\n", doc.severity));
    text.push_str(&format!("att&ck:    {}\n", doc.attack.join(", ")));
    if !entry.tactics.is_empty() {
        text.push_str(&format!("tactics:   {}\n", entry.tactics.join(", ")));
    }
    if let Some(sigma_id) = &entry.sigma_id {
        text.push_str(&format!("sigma id:  {sigma_id}\n"));
    }
    let mut section = |title: &str, body: &str| {
        if !body.trim().is_empty() {
            text.push_str(&format!("\n## {title}\n{}\n", body.trim_end()));
        }
    };
    section("What it detects", &doc.description);
    section("Why it matters", &doc.why_it_matters);
    section("Runbook", &doc.runbook);
    section("Tuning", &doc.tuning);
    section("False positives", &bullets(&doc.false_positives));
    section("Behaviours covered", &bullets(&doc.behaviours));
    section("References", &bullets(&doc.references));
    text
}

fn bullets(items: &[String]) -> String {
    items.iter().map(|item| format!("- {item}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse() {
        assert_eq!(parse_kind("metric-filter").unwrap(), RuleKind::MetricFilter);
        assert_eq!(parse_kind("Builtin").unwrap(), RuleKind::Builtin);
        assert!(parse_kind("nope").is_err());
    }

    #[test]
    fn show_renders_every_section() {
        let catalogue = Catalogue::all().unwrap();
        let text = render_show(catalogue.find("TH1001").unwrap());
        for heading in [
            "## What it detects",
            "## Why it matters",
            "## Runbook",
            "## Tuning",
            "## False positives",
            "## References",
        ] {
            assert!(text.contains(heading), "missing {heading}:\n{text}");
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn table_lists_filtered_entries() {
        let catalogue = Catalogue::all().unwrap();
        let filter = CatalogueFilter {
            kind: Some(RuleKind::Builtin),
            min_severity: Some(Severity::High),
            tactic: Some("defense-evasion".into()),
        };
        let entries = catalogue.filtered(&filter);
        let text = render_table(&entries);
        assert!(text.contains("TH1001") && text.contains("cloudtrail-logging-stopped"));
        assert!(
            !text.contains("TH1038"),
            "low-severity rule listed:\n{text}"
        );
        assert!(text.ends_with(&format!("{} rules\n", entries.len())));
    }
}
