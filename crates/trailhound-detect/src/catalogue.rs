use serde::{Deserialize, Serialize};
use trailhound_core::{RuleKind, Severity};

/// The documentation of one rule or detector, whatever its family: what `trailhound rule
/// show` prints and `docs/rules/*.md` is generated from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleDoc {
    /// Stable id: `TH…`, or a Sigma rule's UUID.
    pub id: String,
    /// Kebab-case behaviour name.
    pub name: String,
    /// Detector family.
    pub kind: RuleKind,
    /// One-line title.
    pub title: String,
    /// Default severity.
    pub severity: Severity,
    /// ATT&CK technique ids.
    pub attack: Vec<String>,
    /// What it detects.
    pub description: String,
    /// Why it matters.
    pub why_it_matters: String,
    /// Tuning keys and defaults.
    pub tuning: String,
    /// Known false positives.
    pub false_positives: Vec<String>,
    /// What to check and how to contain.
    pub runbook: String,
    /// Reference URLs.
    pub references: Vec<String>,
    /// Author, for attribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The `behaviours.tsv` rows this rule covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub behaviours: Vec<String>,
}
