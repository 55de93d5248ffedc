//! Alert output formats: a table for people, JSON / JSON lines for programs, SARIF for code
//! scanning dashboards.

use std::io::{self, Write};

use clap::ValueEnum;
use trailhound_core::{Alert, Severity};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// One line per alert: time, severity, rule id, title (fits 80 columns).
    #[default]
    Table,
    /// One JSON array of alerts.
    Json,
    /// One alert JSON object per line.
    Jsonl,
    /// A SARIF 2.1.0 log with one run.
    Sarif,
}

/// Width of the table when `COLUMNS` does not say.
pub const DEFAULT_WIDTH: usize = 80;

/// Writes alerts in one format as they arrive; [`AlertWriter::finish`] closes the document.
pub struct AlertWriter<W: Write> {
    out: W,
    format: Format,
    colour: bool,
    width: usize,
    written: usize,
    /// SARIF needs every rule before the results, so alerts are held until the end.
    held: Vec<Alert>,
}

impl<W: Write> AlertWriter<W> {
    /// A writer of `format` to `out`; `colour` adds ANSI colours to the table; `width` is the
    /// table width in columns.
    pub fn new(out: W, format: Format, colour: bool, width: usize) -> Self {
        AlertWriter {
            out,
            format,
            colour,
            width: width.max(40),
            written: 0,
            held: Vec::new(),
        }
    }

    /// Writes one alert.
    ///
    /// # Errors
    /// The I/O error of the underlying writer.
    pub fn write(&mut self, alert: &Alert) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, alert)?;
                self.out.write_all(b"\n")?;
            }
            Format::Json => {
                self.out
                    .write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                serde_json::to_writer_pretty(&mut self.out, alert)?;
            }
            Format::Table => {
                if self.written == 0 {
                    let header = self.row("TIME", "SEV", "RULE", "TITLE");
                    writeln!(self.out, "{header}")?;
                }
                let time = alert.first_seen.to_string();
                let severity = if self.colour {
                    format!(
                        "{}{:<4}\x1b[0m",
                        colour_of(alert.severity),
                        short_severity(alert.severity)
                    )
                } else {
                    short_severity(alert.severity).to_owned()
                };
                let line = self.row(&time, &severity, &alert.rule.id, &alert.title);
                writeln!(self.out, "{line}")?;
            }
            Format::Sarif => self.held.push(alert.clone()),
        }
        self.written += 1;
        self.out.flush()
    }

    fn row(&self, time: &str, severity: &str, rule: &str, title: &str) -> String {
        let title_width = self.width.saturating_sub(20 + 1 + 4 + 1 + 8 + 1);
        format!(
            "{:<20} {:<4} {:<8} {}",
            fit(time, 20),
            severity,
            fit(rule, 8),
            fit(title, title_width)
        )
    }

    /// Closes the document (JSON array end, SARIF log) and flushes.
    ///
    /// # Errors
    /// The I/O error of the underlying writer.
    pub fn finish(mut self) -> io::Result<()> {
        match self.format {
            Format::Json if self.written == 0 => self.out.write_all(b"[]\n")?,
            Format::Json => self.out.write_all(b"\n]\n")?,
            Format::Sarif => {
                serde_json::to_writer_pretty(&mut self.out, &sarif(&self.held))?;
                self.out.write_all(b"\n")?;
            }
            Format::Table | Format::Jsonl => {}
        }
        self.out.flush()
    }
}

fn short_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Informational => "info",
        Severity::Low => "low",
        Severity::Medium => "med",
        Severity::High => "high",
        Severity::Critical => "crit",
    }
}

fn colour_of(severity: Severity) -> &'static str {
    match severity {
        Severity::Informational => "\x1b[2m",
        Severity::Low => "\x1b[36m",
        Severity::Medium => "\x1b[33m",
        Severity::High => "\x1b[31m",
        Severity::Critical => "\x1b[1;31m",
    }
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The SARIF level of a severity.
#[must_use]
pub fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "note",
    }
}

/// A minimal valid SARIF 2.1.0 log: one run, the rules that fired, one result per alert.
#[must_use]
pub fn sarif(alerts: &[Alert]) -> serde_json::Value {
    use serde_json::json;
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut rules = Vec::new();
    for alert in alerts {
        if !rule_ids.contains(&alert.rule.id.as_str()) {
            rule_ids.push(&alert.rule.id);
            rules.push(json!({
                "id": alert.rule.id,
                "name": alert.rule.name,
                "shortDescription": { "text": alert.rule.name },
                "properties": { "kind": alert.rule.kind.as_str(), "tags": alert.attack },
            }));
        }
    }
    let results: Vec<serde_json::Value> = alerts
        .iter()
        .map(|alert| {
            let index = rule_ids
                .iter()
                .position(|id| *id == alert.rule.id)
                .unwrap_or(0);
            let locations: Vec<serde_json::Value> = alert
                .events
                .iter()
                .take(1)
                .map(|event| {
                    let uri = event
                        .origin
                        .rsplit_once('#')
                        .map_or(event.origin.as_str(), |(p, _)| p);
                    json!({
                        "physicalLocation": { "artifactLocation": { "uri": uri } },
                        "logicalLocations": [{ "name": event.event_id, "kind": "eventID",
                                               "fullyQualifiedName": event.origin }],
                    })
                })
                .collect();
            json!({
                "ruleId": alert.rule.id,
                "ruleIndex": index,
                "level": sarif_level(alert.severity),
                "message": { "text": format!("{}. {}", alert.title, alert.why) },
                "locations": locations,
                "partialFingerprints": { "trailhound/v1": alert.fingerprint },
                "properties": {
                    "alertId": alert.id,
                    "severity": alert.severity,
                    "attack": alert.attack,
                    "firstSeen": alert.first_seen,
                    "lastSeen": alert.last_seen,
                    "eventCount": alert.event_count,
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "trailhound",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.com/trailhound",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_with_ellipsis() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }

    #[test]
    fn empty_outputs_are_valid() {
        for format in [Format::Json, Format::Sarif] {
            let mut buf = Vec::new();
            AlertWriter::new(&mut buf, format, false, 80)
                .finish()
                .unwrap();
            let value: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            assert!(value.is_array() || value["version"] == "2.1.0");
        }
    }
}
