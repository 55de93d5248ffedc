//! Sigma documents: rules, correlations and filters, read from YAML with collection actions.

use std::collections::BTreeMap;

use crate::error::{Error, Loc, Result};
use crate::yaml::{self, Node, Value};

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    /// A detection rule (`detection:`).
    Rule,
    /// A correlation rule (`correlation:`).
    Correlation,
    /// A filter rule (`filter:`).
    Filter,
}

/// One Sigma document after collection actions (`global`, `reset`, `repeat`) were applied.
#[derive(Debug, Clone)]
pub struct SigmaDoc {
    /// The file (or embedded name) it came from.
    pub path: String,
    /// Where the document starts.
    pub loc: Loc,
    /// Rule, correlation or filter.
    pub kind: DocKind,
    /// `title`.
    pub title: String,
    /// `id` (a UUID for SigmaHQ rules); empty when absent.
    pub id: String,
    /// `name`: the Sigma 2 unique name correlations refer to.
    pub name: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `references`.
    pub references: Vec<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `level`.
    pub level: Option<String>,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `logsource` as written.
    pub logsource: BTreeMap<String, String>,
    /// The whole document tree (detection, correlation, filter are compiled from it).
    pub node: Node,
    /// Every top-level key the engine does not interpret (e.g. `trailhound:`), as JSON.
    pub custom: BTreeMap<String, serde_json::Value>,
}

const KNOWN_KEYS: &[&str] = &[
    "title",
    "id",
    "name",
    "status",
    "description",
    "author",
    "references",
    "tags",
    "level",
    "falsepositives",
    "logsource",
    "detection",
    "correlation",
    "filter",
    "date",
    "modified",
    "license",
    "related",
    "fields",
    "scope",
    "taxonomy",
    "action",
    "generate",
];

impl SigmaDoc {
    /// The rule's display name: title, else name, else id.
    #[must_use]
    pub fn label(&self) -> &str {
        if !self.title.is_empty() {
            &self.title
        } else if let Some(name) = &self.name {
            name
        } else {
            &self.id
        }
    }

    /// An error about this document at `loc`.
    #[must_use]
    pub fn error(&self, loc: Loc, message: impl Into<String>) -> Error {
        Error::Rule {
            path: self.path.clone(),
            loc,
            rule: self.label().to_owned(),
            message: message.into(),
        }
    }
}

fn string_list(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(Node::scalar_text).collect(),
        Some(_) => node.and_then(Node::scalar_text).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Reads every document of a rule file, applying collection actions: `action: global` is
/// merged into every following document, `action: reset` clears it, and `action: repeat`
/// repeats the previous document with its own keys merged over it.
///
/// # Errors
/// [`Error::Yaml`] for bad YAML, [`Error::Rule`] for a document that is neither a rule, a
/// correlation nor a filter.
pub fn parse_file(text: &str, path: &str) -> Result<Vec<SigmaDoc>> {
    let nodes = yaml::parse_documents(text, path)?;
    let mut global: Option<Node> = None;
    let mut previous: Option<Node> = None;
    let mut docs = Vec::new();
    for node in nodes {
        if !matches!(node.value, Value::Map(_)) {
            return Err(Error::Rule {
                path: path.to_owned(),
                loc: node.loc,
                rule: String::new(),
                message: "a Sigma document must be a mapping".into(),
            });
        }
        let action = node.get("action").and_then(Node::as_str).map(str::to_owned);
        match action.as_deref() {
            Some("global") => {
                let mut g = node.clone();
                strip_action(&mut g);
                global = Some(g);
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => {
                let Some(mut base) = previous.clone() else {
                    return Err(Error::Rule {
                        path: path.to_owned(),
                        loc: node.loc,
                        rule: String::new(),
                        message: "action: repeat with no previous document".into(),
                    });
                };
                let mut own = node.clone();
                strip_action(&mut own);
                base.merge(&own);
                previous = Some(base.clone());
                docs.push(build(base, path)?);
                continue;
            }
            Some(other) => {
                return Err(Error::Rule {
                    path: path.to_owned(),
                    loc: node.loc,
                    rule: String::new(),
                    message: format!(
                        "unknown collection action {other:?}: expected global, reset or repeat"
                    ),
                });
            }
            None => {}
        }
        let full = match &global {
            Some(g) => {
                let mut merged = g.clone();
                merged.loc = node.loc;
                merged.merge(&node);
                merged
            }
            None => node,
        };
        previous = Some(full.clone());
        docs.push(build(full, path)?);
    }
    Ok(docs)
}

fn strip_action(node: &mut Node) {
    if let Value::Map(entries) = &mut node.value {
        entries.retain(|(k, _)| k.text != "action");
    }
}

fn build(node: Node, path: &str) -> Result<SigmaDoc> {
    let text = |key: &str| node.get(key).and_then(Node::scalar_text);
    let kind = if node.get("correlation").is_some() {
        DocKind::Correlation
    } else if node.get("filter").is_some() {
        DocKind::Filter
    } else if node.get("detection").is_some() {
        DocKind::Rule
    } else {
        return Err(Error::Rule {
            path: path.to_owned(),
            loc: node.loc,
            rule: text("title").unwrap_or_default(),
            message: "document has no detection, correlation or filter section".into(),
        });
    };
    let mut logsource = BTreeMap::new();
    if let Some(Value::Map(entries)) = node.get("logsource").map(|n| &n.value) {
        for (k, v) in entries {
            if let Some(t) = v.scalar_text() {
                logsource.insert(k.text.clone(), t);
            }
        }
    }
    let mut custom = BTreeMap::new();
    if let Value::Map(entries) = &node.value {
        for (k, v) in entries {
            if !KNOWN_KEYS.contains(&k.text.as_str()) {
                custom.insert(k.text.clone(), v.to_json());
            }
        }
    }
    Ok(SigmaDoc {
        path: path.to_owned(),
        loc: node.loc,
        kind,
        title: text("title").unwrap_or_default(),
        id: text("id").unwrap_or_default(),
        name: text("name"),
        status: text("status"),
        description: text("description"),
        author: text("author"),
        references: string_list(node.get("references")),
        tags: string_list(node.get("tags")),
        level: text("level"),
        falsepositives: string_list(node.get("falsepositives")),
        logsource,
        custom,
        node,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_reset_repeat() {
        let text = "action: global\nlevel: high\nlogsource: {product: aws}\n---\ntitle: a\ndetection: {s: {eventName: A}, condition: s}\n---\naction: repeat\ntitle: b\n---\naction: reset\n---\ntitle: c\ndetection: {s: {eventName: C}, condition: s}\n";
        let docs = parse_file(text, "c.yml").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].level.as_deref(), Some("high"));
        assert_eq!(docs[1].title, "b");
        assert_eq!(docs[1].level.as_deref(), Some("high"));
        assert!(docs[1].node.get("detection").is_some());
        assert_eq!(docs[2].level, None);
    }

    #[test]
    fn custom_keys_are_kept() {
        let text =
            "title: t\ndetection: {s: {eventName: A}, condition: s}\ntrailhound:\n  id: TH1\n";
        let docs = parse_file(text, "x.yml").unwrap();
        assert_eq!(docs[0].custom["trailhound"]["id"], "TH1");
        assert!(!docs[0].custom.contains_key("detection"));
    }
}
