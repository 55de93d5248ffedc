//! The rule catalogue: one documentation shape ([`RuleDoc`]) for every rule and detector, the
//! built-in rule pack embedded in the binary ([`builtin_rules`]), and a [`Catalogue`] that
//! lists, filters and finds entries for `trailhound rule list|show` and the generated docs.
//!
//! The built-in pack is Sigma 2 YAML of our own authorship in `rules/builtin/TH<nnnn>_<name>.yml`.
//! Each file holds one detection rule, or a base rule plus a correlation rule (windowed
//! rules), and the alerting document carries a top-level `trailhound:` block with the alert
//! title and `why` templates, the runbook, tuning notes and the `behaviours.tsv` rows covered.
//!
//! ```
//! let rules = trailhound_detect::builtin_rules().unwrap();
//! let stop = rules.iter().find(|r| r.doc.id == "TH1001").unwrap();
//! assert_eq!(stop.doc.name, "cloudtrail-logging-stopped");
//! assert!(stop.tactics.iter().any(|t| t == "defense-evasion"));
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailhound_core::{RuleKind, Severity};

use crate::{Error, Result};

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

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

/// The embedded built-in rule files: `(file name, YAML text)`, sorted by file name.
#[must_use]
pub fn builtin_rule_files() -> &'static [(&'static str, &'static str)] {
    embedded::BUILTIN_RULE_FILES
}

/// The key of the trailhound extension block in a rule document.
pub const EXTENSION_KEY: &str = "trailhound";

/// One rule of the built-in pack: its documentation plus what the Sigma adapter and the
/// CLI need beyond [`RuleDoc`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuiltinRule {
    /// The catalogue documentation.
    pub doc: RuleDoc,
    /// The file name in `rules/builtin/`.
    pub file: &'static str,
    /// The YAML text, as embedded.
    #[serde(skip)]
    pub yaml: &'static str,
    /// The Sigma `id` (UUID) of the alerting document.
    pub sigma_id: String,
    /// ATT&CK tactics from the tags (`defense-evasion`, `persistence`…).
    pub tactics: Vec<String>,
    /// The alert title template (`{principal} stopped … {requestParameters.name} …`).
    pub title_template: String,
    /// The alert `why` template.
    pub why_template: String,
    /// Alert group-key parts (`principal`, `account`, `source_ip`…); empty for the default.
    pub group_by: Vec<String>,
    /// True for a windowed rule (a Sigma correlation over a base rule).
    pub windowed: bool,
}

/// Parses every embedded built-in rule file.
///
/// # Errors
/// [`Error::Config`] naming the file when one is not valid YAML or lacks a required key
/// (a build that passes the test suite never does).
pub fn builtin_rules() -> Result<Vec<BuiltinRule>> {
    let mut rules = Vec::with_capacity(builtin_rule_files().len());
    for (file, yaml) in builtin_rule_files() {
        rules.push(parse_builtin_rule(file, yaml)?);
    }
    Ok(rules)
}

/// The documentation of every built-in rule.
///
/// # Errors
/// As [`builtin_rules`].
pub fn builtin_docs() -> Result<Vec<RuleDoc>> {
    Ok(builtin_rules()?.into_iter().map(|rule| rule.doc).collect())
}

fn invalid(file: &str, message: impl Into<String>) -> Error {
    Error::Config {
        detector: format!("rules/builtin/{file}"),
        message: message.into(),
    }
}

fn text_of(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
}

fn list_of(value: &Value, key: &str) -> Vec<String> {
    match value.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn required(value: &Value, key: &str, file: &str) -> Result<String> {
    match text_of(value, key) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(invalid(file, format!("missing or empty `{key}`"))),
    }
}

/// ATT&CK technique ids from Sigma tags: `attack.t1562.008` → `T1562.008`.
#[must_use]
pub fn attack_techniques(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|tag| tag.strip_prefix("attack.t"))
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .map(|rest| format!("T{}", rest.to_ascii_uppercase()))
        .collect()
}

/// ATT&CK tactics from Sigma tags: `attack.defense-evasion` → `defense-evasion`.
#[must_use]
pub fn attack_tactics(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|tag| tag.strip_prefix("attack."))
        .filter(|rest| {
            !(rest.starts_with('t') && rest[1..].starts_with(|c: char| c.is_ascii_digit()))
        })
        .filter(|rest| {
            !rest.starts_with('g') || !rest[1..].starts_with(|c: char| c.is_ascii_digit())
        })
        .filter(|rest| {
            !rest.starts_with('s') || !rest[1..].starts_with(|c: char| c.is_ascii_digit())
        })
        .map(str::to_owned)
        .collect()
}

/// The severity of a Sigma `level`.
fn level_severity(level: &str, file: &str) -> Result<Severity> {
    level
        .parse()
        .map_err(|_| invalid(file, format!("unknown level {level:?}")))
}

/// Parses one built-in rule file: the document with the `trailhound:` block is the
/// alerting one (the correlation of a windowed rule).
///
/// # Errors
/// [`Error::Config`] when the YAML is invalid, no document has a `trailhound:` block, or a
/// required key (`title`, `id`, `name`, `description`, `level`, `trailhound.id`,
/// `trailhound.title`, `trailhound.why`, `trailhound.runbook`) is missing.
pub fn parse_builtin_rule(file: &'static str, yaml: &'static str) -> Result<BuiltinRule> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(yaml).map_err(|error| invalid(file, error.to_string()))?;
    let mut alerting = docs.iter().filter(|doc| doc.get(EXTENSION_KEY).is_some());
    let doc = alerting
        .next()
        .ok_or_else(|| invalid(file, "no document has a `trailhound:` block"))?;
    if alerting.next().is_some() {
        return Err(invalid(
            file,
            "more than one document has a `trailhound:` block",
        ));
    }
    let ext = doc.get(EXTENSION_KEY).cloned().unwrap_or(Value::Null);
    let tags = list_of(doc, "tags");
    let level = required(doc, "level", file)?;
    let rule_doc = RuleDoc {
        id: required(&ext, "id", file)?,
        name: required(doc, "name", file)?,
        kind: RuleKind::Builtin,
        title: required(doc, "title", file)?,
        severity: level_severity(&level, file)?,
        attack: attack_techniques(&tags),
        description: required(doc, "description", file)?,
        why_it_matters: text_of(&ext, "why_it_matters").unwrap_or_default(),
        tuning: text_of(&ext, "tuning").unwrap_or_default(),
        false_positives: list_of(doc, "falsepositives"),
        runbook: required(&ext, "runbook", file)?,
        references: list_of(doc, "references"),
        author: text_of(doc, "author"),
        behaviours: list_of(&ext, "behaviours"),
    };
    let expected_stem = format!("{}_{}", rule_doc.id, rule_doc.name);
    if file
        .strip_suffix(".yml")
        .or_else(|| file.strip_suffix(".yaml"))
        != Some(expected_stem.as_str())
    {
        return Err(invalid(
            file,
            format!("file name must be {expected_stem}.yml"),
        ));
    }
    Ok(BuiltinRule {
        sigma_id: required(doc, "id", file)?,
        tactics: attack_tactics(&tags),
        title_template: required(&ext, "title", file)?,
        why_template: required(&ext, "why", file)?,
        group_by: list_of(&ext, "group_by"),
        windowed: doc.get("correlation").is_some(),
        doc: rule_doc,
        file,
        yaml,
    })
}

/// The built-in pack as detectors, compiled by the Sigma engine, leaving out the rules
/// that `tuning` disables (wrap the result with [`crate::tuning::Tuning::wrap`] to apply the
/// rest of the tuning).
///
/// # Errors
/// [`Error::Config`] when a built-in rule does not compile (the test suite guards this).
pub fn builtin_detectors(tuning: &crate::tuning::Tuning) -> Result<Vec<Box<dyn crate::Detector>>> {
    let mut texts: Vec<(&str, &str)> = Vec::with_capacity(builtin_rule_files().len());
    for rule in builtin_rules()? {
        if tuning.is_enabled(&rule.doc.id, &rule.doc.name) {
            texts.push((rule.file, rule.yaml));
        } else {
            tracing::info!(rule = %rule.doc.id, name = %rule.doc.name, "built-in rule disabled by tuning");
        }
    }
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let config = trailhound_sigma::SigmaConfig::default();
    let detectors = crate::sigma::load_texts("builtin", texts, &config)?;
    Ok(detectors
        .into_iter()
        .map(|d| Box::new(d) as Box<dyn crate::Detector>)
        .collect())
}

/// One catalogue entry: a rule's documentation plus its ATT&CK tactics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogueEntry {
    /// The documentation.
    #[serde(flatten)]
    pub doc: RuleDoc,
    /// ATT&CK tactics (from the rule's tags, or from its techniques).
    pub tactics: Vec<String>,
    /// The Sigma UUID, for rules written in Sigma.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma_id: Option<String>,
}

/// Every documented rule and detector, sorted by id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    entries: Vec<CatalogueEntry>,
}

/// A filter over catalogue entries; `None` fields match everything.
#[derive(Debug, Clone, Default)]
pub struct CatalogueFilter {
    /// Only this family.
    pub kind: Option<RuleKind>,
    /// Only at least this severity.
    pub min_severity: Option<Severity>,
    /// Only entries with this ATT&CK tactic (`defense-evasion`) or technique (`T1562`, prefix).
    pub tactic: Option<String>,
}

impl Catalogue {
    /// The built-in pack alone.
    ///
    /// # Errors
    /// As [`builtin_rules`].
    pub fn builtin() -> Result<Catalogue> {
        let mut catalogue = Catalogue::default();
        for rule in builtin_rules()? {
            catalogue.entries.push(CatalogueEntry {
                tactics: rule.tactics,
                sigma_id: Some(rule.sigma_id),
                doc: rule.doc,
            });
        }
        catalogue.sort();
        Ok(catalogue)
    }

    /// Every family: the built-in pack plus the documented detectors of the metric-filter,
    /// trap, policy, anomaly and intel families.
    ///
    /// # Errors
    /// As [`builtin_rules`].
    pub fn all() -> Result<Catalogue> {
        let mut catalogue = Catalogue::builtin()?;
        catalogue.extend(crate::metric_filter::rule_docs());
        catalogue.extend(crate::trap::rule_docs());
        catalogue.extend(crate::policy::rule_docs());
        catalogue.extend(crate::anomaly::rule_docs());
        catalogue.extend(crate::intel::rule_docs());
        Ok(catalogue)
    }

    /// Adds documentation of other families (tactics derived from their techniques).
    /// An entry whose id is already present is ignored.
    pub fn extend<I: IntoIterator<Item = RuleDoc>>(&mut self, docs: I) {
        for doc in docs {
            if self.entries.iter().any(|entry| entry.doc.id == doc.id) {
                continue;
            }
            let tactics = tactics_of_techniques(&doc.attack);
            self.entries.push(CatalogueEntry {
                doc,
                tactics,
                sigma_id: None,
            });
        }
        self.sort();
    }

    fn sort(&mut self) {
        self.entries.sort_by(|a, b| a.doc.id.cmp(&b.doc.id));
    }

    /// All entries, sorted by id.
    #[must_use]
    pub fn entries(&self) -> &[CatalogueEntry] {
        &self.entries
    }

    /// The entries passing `filter`.
    #[must_use]
    pub fn filtered(&self, filter: &CatalogueFilter) -> Vec<&CatalogueEntry> {
        self.entries
            .iter()
            .filter(|entry| entry.passes(filter))
            .collect()
    }

    /// The entry with this id (`TH1001`, case-insensitive), name (`cloudtrail-logging-stopped`)
    /// or Sigma UUID.
    #[must_use]
    pub fn find(&self, key: &str) -> Option<&CatalogueEntry> {
        let key = key.trim();
        self.entries.iter().find(|entry| {
            entry.doc.id.eq_ignore_ascii_case(key)
                || entry.doc.name == key
                || entry
                    .sigma_id
                    .as_deref()
                    .is_some_and(|id| id.eq_ignore_ascii_case(key))
        })
    }
}

impl CatalogueEntry {
    fn passes(&self, filter: &CatalogueFilter) -> bool {
        if filter.kind.is_some_and(|kind| kind != self.doc.kind) {
            return false;
        }
        if filter
            .min_severity
            .is_some_and(|min| self.doc.severity < min)
        {
            return false;
        }
        if let Some(tactic) = &filter.tactic {
            let wanted = tactic.trim().to_ascii_lowercase().replace([' ', '_'], "-");
            let by_tactic = self.tactics.contains(&wanted);
            let by_technique =
                self.doc.attack.iter().any(|t| {
                    t.to_ascii_lowercase().starts_with(&wanted) && wanted.starts_with('t')
                });
            if !by_tactic && !by_technique {
                return false;
            }
        }
        true
    }
}

/// The tactics of the ATT&CK techniques trailhound's detectors use (enterprise matrix,
/// cloud techniques), for entries that carry techniques but no tactic tags.
const TECHNIQUE_TACTICS: &[(&str, &[&str])] = &[
    (
        "T1078",
        &[
            "initial-access",
            "persistence",
            "privilege-escalation",
            "defense-evasion",
        ],
    ),
    ("T1098", &["persistence", "privilege-escalation"]),
    ("T1110", &["credential-access"]),
    ("T1136", &["persistence"]),
    ("T1190", &["initial-access"]),
    ("T1485", &["impact"]),
    ("T1486", &["impact"]),
    ("T1490", &["impact"]),
    ("T1496", &["impact"]),
    ("T1526", &["discovery"]),
    ("T1530", &["collection"]),
    ("T1537", &["exfiltration"]),
    ("T1538", &["discovery"]),
    ("T1550", &["lateral-movement", "defense-evasion"]),
    ("T1552", &["credential-access"]),
    ("T1555", &["credential-access"]),
    ("T1562", &["defense-evasion"]),
    ("T1578", &["defense-evasion"]),
    ("T1580", &["discovery"]),
    ("T1087", &["discovery"]),
    ("T1069", &["discovery"]),
    ("T1484", &["defense-evasion", "privilege-escalation"]),
    ("T1548", &["privilege-escalation", "defense-evasion"]),
    ("T1565", &["impact"]),
    ("T1070", &["defense-evasion"]),
];

/// Tactics for technique ids (`T1562.008` → `defense-evasion`), deduplicated in table order.
#[must_use]
pub fn tactics_of_techniques(techniques: &[String]) -> Vec<String> {
    let mut tactics: Vec<String> = Vec::new();
    for technique in techniques {
        let base = technique.split('.').next().unwrap_or(technique);
        let Some((_, found)) = TECHNIQUE_TACTICS.iter().find(|(id, _)| *id == base) else {
            continue;
        };
        for tactic in *found {
            if !tactics.iter().any(|t| t == tactic) {
                tactics.push((*tactic).to_owned());
            }
        }
    }
    tactics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_rule_parses_with_complete_docs() {
        let rules = builtin_rules().unwrap();
        assert!(rules.len() >= 50, "only {} built-in rules", rules.len());
        let mut ids = std::collections::BTreeSet::new();
        let mut names = std::collections::BTreeSet::new();
        for rule in &rules {
            let doc = &rule.doc;
            assert!(ids.insert(doc.id.clone()), "duplicate id {}", doc.id);
            assert!(
                names.insert(doc.name.clone()),
                "duplicate name {}",
                doc.name
            );
            let family_ok = if rule.windowed {
                doc.id.starts_with("TH2")
            } else {
                doc.id.starts_with("TH1")
            };
            assert!(
                family_ok,
                "{}: TH1xxx single-event, TH2xxx windowed",
                doc.id
            );
            assert!(!doc.attack.is_empty(), "{} has no ATT&CK technique", doc.id);
            assert!(!rule.tactics.is_empty(), "{} has no ATT&CK tactic", doc.id);
            assert!(
                doc.runbook.lines().count() >= 2,
                "{} runbook too short",
                doc.id
            );
            assert!(
                !doc.why_it_matters.is_empty(),
                "{} lacks why_it_matters",
                doc.id
            );
            assert!(
                !doc.false_positives.is_empty(),
                "{} lacks false positives",
                doc.id
            );
            assert!(!doc.references.is_empty(), "{} lacks references", doc.id);
            assert!(!doc.behaviours.is_empty(), "{} maps no behaviour", doc.id);
            assert!(
                doc.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} is not kebab-case",
                doc.name
            );
            assert!(!doc.name.starts_with("detect-") && !doc.name.starts_with("suspicious-"));
            assert!(
                rule.title_template.contains('{'),
                "{} title names nobody",
                doc.id
            );
        }
    }

    #[test]
    fn catalogue_finds_and_filters() {
        let catalogue = Catalogue::builtin().unwrap();
        assert_eq!(
            catalogue.find("th1001").unwrap().doc.name,
            "cloudtrail-logging-stopped"
        );
        assert_eq!(
            catalogue.find("root-console-login").unwrap().doc.id,
            "TH1035"
        );
        let sigma_id = catalogue.find("TH1001").unwrap().sigma_id.clone().unwrap();
        assert_eq!(catalogue.find(&sigma_id).unwrap().doc.id, "TH1001");
        assert!(catalogue.find("no-such-rule").is_none());

        let high = catalogue.filtered(&CatalogueFilter {
            min_severity: Some(Severity::High),
            ..CatalogueFilter::default()
        });
        assert!(!high.is_empty());
        assert!(high.iter().all(|e| e.doc.severity >= Severity::High));

        let evasion = catalogue.filtered(&CatalogueFilter {
            tactic: Some("Defense Evasion".into()),
            ..CatalogueFilter::default()
        });
        assert!(evasion.iter().any(|e| e.doc.id == "TH1001"));
        assert!(
            evasion
                .iter()
                .all(|e| e.tactics.iter().any(|t| t == "defense-evasion"))
        );

        let by_technique = catalogue.filtered(&CatalogueFilter {
            tactic: Some("T1562".into()),
            ..CatalogueFilter::default()
        });
        assert!(by_technique.iter().any(|e| e.doc.id == "TH1009"));

        let canary = catalogue.filtered(&CatalogueFilter {
            kind: Some(RuleKind::Canary),
            ..CatalogueFilter::default()
        });
        assert!(canary.is_empty());
    }

    #[test]
    fn bad_rule_files_are_refused_with_the_file_name() {
        let missing_ext = "title: t\nid: x\nname: x-rule\nlevel: high\ndescription: d\n";
        let error = parse_builtin_rule("TH9999_x-rule.yml", missing_ext).unwrap_err();
        assert!(error.to_string().contains("TH9999_x-rule.yml"), "{error}");
        let wrong_name = "title: t\nid: x\nname: x-rule\nlevel: high\ndescription: d\ntrailhound:\n  id: TH9999\n  title: '{principal}'\n  why: w\n  runbook: r\n";
        let error = parse_builtin_rule("TH9999_other.yml", wrong_name).unwrap_err();
        assert!(
            error.to_string().contains("must be TH9999_x-rule.yml"),
            "{error}"
        );
        assert!(parse_builtin_rule("TH9999_x-rule.yml", wrong_name).is_ok());
    }

    #[test]
    fn tags_split_into_techniques_and_tactics() {
        let tags: Vec<String> = [
            "attack.defense-evasion",
            "attack.t1562.008",
            "attack.g0016",
            "cve.2024",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(attack_techniques(&tags), vec!["T1562.008"]);
        assert_eq!(attack_tactics(&tags), vec!["defense-evasion"]);
        assert_eq!(
            tactics_of_techniques(&["T1098.001".into()]),
            vec!["persistence", "privilege-escalation"]
        );
    }
}
