//! Suppressions: field conditions with a reason, an author, a creation time and an expiry.
//!
//! They come from the `[[alerts.suppress]]` config entries and from a suppressions file
//! (JSON lines) that `trailhound alerts suppress add` and the web UI append to. A line is
//! either a suppression or `{"remove": "ID"}`. Expiry is compared with the alert's event
//! time, so a replay of old logs is suppressed exactly as it was live.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Timestamp, stable_hash_hex};

use crate::fields::{field_value, is_field};
use crate::pattern::any_match;
use crate::{Error, Result};

/// One suppression: every condition must match (fields absent from the alert never match).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Stable id (derived from the conditions and creation time when empty).
    #[serde(default)]
    pub id: String,
    /// Field → glob patterns (`rule = ["TH3013"]`, `principal = ["arn:aws:sts::*:assumed-role/ci-*"]`).
    #[serde(rename = "match")]
    pub conditions: BTreeMap<String, Vec<String>>,
    /// Why the alerts are expected.
    pub reason: String,
    /// Who added it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// When it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Alerts whose first event is at or after this are no longer suppressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
}

impl Suppression {
    /// A suppression; its id is derived from the conditions and `created_at`.
    #[must_use]
    pub fn new(
        conditions: BTreeMap<String, Vec<String>>,
        reason: String,
        created_by: Option<String>,
        created_at: Option<Timestamp>,
        expires: Option<Timestamp>,
    ) -> Self {
        let mut s = Suppression {
            id: String::new(),
            conditions,
            reason,
            created_by,
            created_at,
            expires,
        };
        s.id = s.derived_id();
        s
    }

    fn derived_id(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (field, patterns) in &self.conditions {
            parts.push(field.clone());
            parts.extend(patterns.iter().cloned());
        }
        parts.push(self.created_at.map(|t| t.to_string()).unwrap_or_default());
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let hash = stable_hash_hex(&refs);
        format!("sup-{}", &hash[..12])
    }

    /// Checks the field names and that there is at least one condition.
    ///
    /// # Errors
    /// [`Error::Config`] naming the problem.
    pub fn validate(&self) -> Result<()> {
        if self.conditions.is_empty() {
            return Err(Error::Config(format!(
                "suppression {:?} has no condition (it would hide every alert)",
                self.reason
            )));
        }
        for (field, patterns) in &self.conditions {
            if !is_field(field) {
                return Err(Error::Config(format!(
                    "suppression field {field:?} is unknown (known: {}, context.KEY)",
                    crate::fields::FIELDS.join(", ")
                )));
            }
            if patterns.is_empty() {
                return Err(Error::Config(format!(
                    "suppression field {field:?} has no pattern"
                )));
            }
        }
        Ok(())
    }

    /// Whether this suppression hides `alert` (conditions match and not expired at the
    /// alert's first event).
    #[must_use]
    pub fn matches(&self, alert: &Alert) -> bool {
        if self
            .expires
            .is_some_and(|expires| alert.first_seen >= expires)
        {
            return false;
        }
        self.conditions.iter().all(|(field, patterns)| {
            field_value(alert, field).is_some_and(|value| any_match(patterns, &value))
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Remove { remove: String },
    Add(Suppression),
}

/// The suppressions file: JSON lines, append-only, shared by the CLI, the daemon and the UI.
#[derive(Debug, Clone, Default)]
pub struct SuppressionFile {
    path: PathBuf,
    entries: Vec<Suppression>,
}

impl SuppressionFile {
    /// Reads the file (a missing file is empty).
    ///
    /// # Errors
    /// Unreadable file or a line that is not a suppression.
    pub fn open(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(Error::Io {
                    what: "suppressions file",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let mut entries: Vec<Suppression> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line =
                serde_json::from_str(line).map_err(|source| Error::SuppressionLine {
                    path: path.to_owned(),
                    line: index + 1,
                    source,
                })?;
            match parsed {
                Line::Remove { remove } => entries.retain(|s| s.id != remove),
                Line::Add(mut s) => {
                    if s.id.is_empty() {
                        s.id = s.derived_id();
                    }
                    entries.retain(|e| e.id != s.id);
                    entries.push(s);
                }
            }
        }
        Ok(SuppressionFile {
            path: path.to_owned(),
            entries,
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The suppressions in force in the file (removed ones left out), oldest first.
    #[must_use]
    pub fn list(&self) -> &[Suppression] {
        &self.entries
    }

    /// Validates and appends a suppression (fsync'd); returns its id.
    ///
    /// # Errors
    /// An invalid suppression or an unwritable file.
    pub fn add(&mut self, mut suppression: Suppression) -> Result<String> {
        suppression.validate()?;
        if suppression.id.is_empty() {
            suppression.id = suppression.derived_id();
        }
        self.append(&Line::Add(suppression.clone()))?;
        let id = suppression.id.clone();
        self.entries.retain(|e| e.id != id);
        self.entries.push(suppression);
        Ok(id)
    }

    /// Removes a suppression by id; false when there is none.
    ///
    /// # Errors
    /// An unwritable file.
    pub fn remove(&mut self, id: &str) -> Result<bool> {
        if !self.entries.iter().any(|s| s.id == id) {
            return Ok(false);
        }
        self.append(&Line::Remove {
            remove: id.to_owned(),
        })?;
        self.entries.retain(|s| s.id != id);
        Ok(true)
    }

    /// The first suppression matching `alert`.
    #[must_use]
    pub fn matches(&self, alert: &Alert) -> Option<&Suppression> {
        self.entries.iter().find(|s| s.matches(alert))
    }

    fn append(&self, line: &Line) -> Result<()> {
        let io = |source| Error::Io {
            what: "suppressions file",
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut text = serde_json::to_string(line).map_err(|source| Error::Serialise {
            id: "suppression".into(),
            source,
        })?;
        text.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

/// Config suppressions and the file's, checked together.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    /// From the config file.
    pub config: Vec<Suppression>,
    /// From the suppressions file.
    pub file: Option<SuppressionFile>,
}

impl Suppressions {
    /// The first suppression (config first) matching `alert`.
    #[must_use]
    pub fn matches(&self, alert: &Alert) -> Option<&Suppression> {
        self.config
            .iter()
            .find(|s| s.matches(alert))
            .or_else(|| self.file.as_ref().and_then(|f| f.matches(alert)))
    }
}
