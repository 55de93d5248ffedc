//! Compiled rule sets: rules, filters and correlations with an eventName routing index.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use foldhash::HashMap;
use trailhound_core::{Event, Severity};

use crate::correlation::{self, CorrelationDef};
use crate::detection::{self, CompileOptions, Detection};
use crate::error::{Error, Result};
use crate::field::Hot;
use crate::rule::{self, DocKind, SigmaDoc};

/// A compiled detection rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The document it was compiled from (metadata, custom keys).
    pub doc: SigmaDoc,
    /// The detection.
    pub detection: Detection,
    /// Filters applied to it (each must hold too).
    pub filters: Vec<Arc<Detection>>,
    /// The eventNames it can match, when the condition pins them to literals.
    pub event_names: Option<BTreeSet<String>>,
    /// The eventSources it can match, when pinned to literals.
    pub event_sources: Option<BTreeSet<String>>,
}

impl CompiledRule {
    /// Whether the rule (and its filters) match `event`.
    #[must_use]
    pub fn matches(&self, event: &Event) -> bool {
        self.detection.matches(event) && self.filters.iter().all(|f| f.matches(event))
    }

    /// The rule's severity from `level` (medium when absent).
    #[must_use]
    pub fn severity(&self) -> Severity {
        level_severity(self.doc.level.as_deref())
    }

    /// ATT&CK technique ids from the tags (`attack.t1562.008` → `T1562.008`).
    #[must_use]
    pub fn attack_ids(&self) -> Vec<String> {
        attack_ids(&self.doc.tags)
    }

    /// True when an eventName literal set is known, so the rule can be routed.
    #[must_use]
    pub fn is_routed(&self) -> bool {
        self.event_names.is_some()
    }

    /// A stable text form of the compiled rule (routing and matchers), for review.
    #[must_use]
    pub fn debug_form(&self) -> String {
        let route = match &self.event_names {
            Some(names) => format!("eventName in {names:?}"),
            None => "every event".into(),
        };
        let mut s = format!(
            "rule {} {:?}\nroute: {route}\n",
            self.doc.id, self.doc.title
        );
        if let Some(src) = &self.event_sources {
            s.push_str(&format!("eventSource in {src:?}\n"));
        }
        s.push_str(&detection::debug_form(&self.detection));
        for f in &self.filters {
            s.push_str("filter:\n");
            s.push_str(&detection::debug_form(f));
        }
        s
    }
}

/// The severity of a Sigma `level`.
#[must_use]
pub fn level_severity(level: Option<&str>) -> Severity {
    level
        .and_then(|l| l.parse().ok())
        .unwrap_or(Severity::Medium)
}

/// ATT&CK technique ids in Sigma tags.
#[must_use]
pub fn attack_ids(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| {
            let rest = t.strip_prefix("attack.")?;
            let mut chars = rest.chars();
            let first = chars.next()?;
            let is_technique = (first == 't' || first == 'T')
                && rest.len() >= 5
                && rest[1..5].bytes().all(|b| b.is_ascii_digit());
            is_technique.then(|| rest.to_ascii_uppercase())
        })
        .collect()
}

/// Configuration of a rule set.
#[derive(Debug, Clone)]
pub struct SigmaConfig {
    /// Compilation options (placeholders for `expand`).
    pub compile: CompileOptions,
    /// The most groups one correlation keeps at once; further groups are dropped (counted).
    pub max_groups: usize,
}

impl Default for SigmaConfig {
    fn default() -> Self {
        SigmaConfig {
            compile: CompileOptions::default(),
            max_groups: 100_000,
        }
    }
}

/// A named rule text (a file path or an embedded name, and its YAML).
#[derive(Debug, Clone)]
pub struct RuleSource {
    /// Shown in diagnostics.
    pub path: String,
    /// The YAML text.
    pub text: String,
}

/// Reads every `.yml`/`.yaml` file under the directories (recursively, sorted).
///
/// # Errors
/// [`Error::Io`] for an unreadable directory or file.
pub fn read_dirs<P: AsRef<Path>>(dirs: &[P]) -> Result<Vec<RuleSource>> {
    let mut out = Vec::new();
    for dir in dirs {
        let dir = dir.as_ref();
        if dir.is_file() {
            out.push(read_source(dir)?);
            continue;
        }
        let mut files = Vec::new();
        collect(dir, &mut files)?;
        files.sort();
        for f in files {
            out.push(read_source(&f)?);
        }
    }
    Ok(out)
}

fn read_source(path: &Path) -> Result<RuleSource> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(RuleSource {
        path: path.display().to_string(),
        text,
    })
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
    Ok(())
}

/// A compiled set of rules, filters and correlations, with an eventName routing index.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Arc<CompiledRule>>,
    correlations: Vec<Arc<CorrelationDef>>,
    by_name: HashMap<String, Vec<u32>>,
    unrouted: Vec<u32>,
    config: SigmaConfig,
}

impl RuleSet {
    /// Parses and compiles rule texts.
    ///
    /// # Errors
    /// The first invalid document (YAML, detection, condition, regex, filter or correlation).
    pub fn compile(sources: &[RuleSource], config: &SigmaConfig) -> Result<RuleSet> {
        let mut docs = Vec::new();
        for src in sources {
            docs.extend(rule::parse_file(&src.text, &src.path)?);
        }
        RuleSet::from_docs(docs, config)
    }

    /// Loads every rule file under the directories.
    ///
    /// # Errors
    /// As [`read_dirs`] and [`RuleSet::compile`].
    pub fn load_dirs<P: AsRef<Path>>(dirs: &[P], config: &SigmaConfig) -> Result<RuleSet> {
        RuleSet::compile(&read_dirs(dirs)?, config)
    }

    /// Compiles embedded rule texts (`(name, yaml)` pairs, e.g. from `include_str!`).
    ///
    /// # Errors
    /// As [`RuleSet::compile`].
    pub fn from_texts<'a, I>(texts: I, config: &SigmaConfig) -> Result<RuleSet>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let sources: Vec<RuleSource> = texts
            .into_iter()
            .map(|(path, text)| RuleSource {
                path: path.to_owned(),
                text: text.to_owned(),
            })
            .collect();
        RuleSet::compile(&sources, config)
    }

    /// Compiles parsed documents.
    ///
    /// # Errors
    /// As [`RuleSet::compile`].
    pub fn from_docs(docs: Vec<SigmaDoc>, config: &SigmaConfig) -> Result<RuleSet> {
        let mut rules = Vec::new();
        let mut filters = Vec::new();
        let mut corr_docs = Vec::new();
        for doc in docs {
            match doc.kind {
                DocKind::Rule => rules.push(compile_rule(doc, config)?),
                DocKind::Filter => filters.push(compile_filter(&doc, config)?),
                DocKind::Correlation => corr_docs.push(doc),
            }
        }
        for (doc, targets, det) in &filters {
            let det = Arc::new(det.clone());
            let mut applied = 0;
            for rule in &mut rules {
                let hit = match targets {
                    Some(t) => t
                        .iter()
                        .any(|x| *x == rule.doc.id || rule.doc.name.as_deref() == Some(x)),
                    None => logsource_covers(&doc.logsource, &rule.doc.logsource),
                };
                if hit {
                    rule.filters.push(Arc::clone(&det));
                    applied += 1;
                }
            }
            if applied == 0 {
                tracing::warn!(
                    filter = doc.label(),
                    "sigma filter applies to no loaded rule"
                );
            }
        }
        let rules: Vec<Arc<CompiledRule>> = rules.into_iter().map(Arc::new).collect();
        let correlations = correlation::compile_all(&corr_docs, &rules)?;
        Ok(RuleSet::index(rules, correlations, config.clone()))
    }

    fn index(
        rules: Vec<Arc<CompiledRule>>,
        correlations: Vec<Arc<CorrelationDef>>,
        config: SigmaConfig,
    ) -> RuleSet {
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::default();
        let mut unrouted = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match &rule.event_names {
                Some(names) => {
                    for n in names {
                        by_name.entry(n.clone()).or_default().push(i);
                    }
                }
                None => unrouted.push(i),
            }
        }
        RuleSet {
            rules,
            correlations,
            by_name,
            unrouted,
            config,
        }
    }

    /// Splits into a set of routed rules and a set of the rest. Correlations go with the set
    /// holding all their rules (to the unrouted set when their rules are mixed).
    #[must_use]
    pub fn split_routed(self) -> (RuleSet, RuleSet) {
        let routed_ids: BTreeSet<usize> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_routed())
            .map(|(i, _)| i)
            .collect();
        let mut corr_routed = Vec::new();
        let mut corr_other = Vec::new();
        for c in &self.correlations {
            if c.rule_indices().iter().all(|i| routed_ids.contains(i)) {
                corr_routed.push(Arc::clone(c));
            } else {
                corr_other.push(Arc::clone(c));
            }
        }
        let keep_routed: BTreeSet<usize> = routed_ids.clone();
        let mut keep_other: BTreeSet<usize> = (0..self.rules.len())
            .filter(|i| !routed_ids.contains(i))
            .collect();
        for c in &corr_other {
            for i in c.rule_indices() {
                keep_other.insert(i);
            }
        }
        // A routed rule used by an unrouted correlation is evaluated in both sets; it raises
        // its own alerts only from the routed one.
        let shared: BTreeSet<usize> = keep_other.intersection(&keep_routed).copied().collect();
        let make =
            |keep: &BTreeSet<usize>, corrs: Vec<Arc<CorrelationDef>>, silent: &BTreeSet<usize>| {
                let mut map = BTreeMap::new();
                let mut rules = Vec::new();
                for &i in keep {
                    if let Some(r) = self.rules.get(i) {
                        map.insert(i, rules.len());
                        let mut rule = (**r).clone();
                        if silent.contains(&i) {
                            rule.doc
                                .custom
                                .insert(SILENT_KEY.into(), serde_json::Value::Bool(true));
                        }
                        rules.push(Arc::new(rule));
                    }
                }
                let corrs = corrs
                    .iter()
                    .map(|c| Arc::new(c.remap(&map, &rules)))
                    .collect();
                RuleSet::index(rules, corrs, self.config.clone())
            };
        let routed = make(&keep_routed, corr_routed, &BTreeSet::new());
        let other = make(&keep_other, corr_other, &shared);
        (routed, other)
    }

    /// The compiled rules.
    #[must_use]
    pub fn rules(&self) -> &[Arc<CompiledRule>] {
        &self.rules
    }

    /// The compiled correlations.
    #[must_use]
    pub fn correlations(&self) -> &[Arc<CorrelationDef>] {
        &self.correlations
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SigmaConfig {
        &self.config
    }

    /// (routed rules, rules run on every event).
    #[must_use]
    pub fn routing_summary(&self) -> (usize, usize) {
        (self.rules.len() - self.unrouted.len(), self.unrouted.len())
    }

    /// The rules run on every event: their condition pins no eventName to route them by.
    pub fn unrouted_rules(&self) -> impl Iterator<Item = &CompiledRule> {
        self.unrouted
            .iter()
            .filter_map(|&i| self.rules.get(i as usize).map(|rule| &**rule))
    }

    /// The eventNames to route to this set, or `None` when some rule needs every event.
    #[must_use]
    pub fn event_names(&self) -> Option<Vec<String>> {
        if !self.unrouted.is_empty() {
            return None;
        }
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        Some(names)
    }

    /// Pushes the indices of rules matching `event`, testing only its candidates.
    pub fn matching(&self, event: &Event, out: &mut Vec<usize>) {
        if let Some(candidates) = self.by_name.get(event.event_name()) {
            for &i in candidates {
                self.test(i, event, out);
            }
        }
        for &i in &self.unrouted {
            self.test(i, event, out);
        }
        if !self.unrouted.is_empty() {
            out.sort_unstable();
        }
    }

    /// Pushes the indices of rules matching `event`, testing every rule (no routing; for
    /// comparison and benchmarks).
    pub fn matching_unrouted(&self, event: &Event, out: &mut Vec<usize>) {
        for i in 0..self.rules.len() {
            self.test(u32::try_from(i).unwrap_or(u32::MAX), event, out);
        }
    }

    fn test(&self, i: u32, event: &Event, out: &mut Vec<usize>) {
        if let Some(rule) = self.rules.get(i as usize)
            && rule.matches(event)
        {
            out.push(i as usize);
        }
    }
}

/// Custom key marking a rule copy that is evaluated only for correlations.
pub(crate) const SILENT_KEY: &str = "__trailhound_correlation_only";

fn logsource_covers(filter: &BTreeMap<String, String>, rule: &BTreeMap<String, String>) -> bool {
    filter
        .iter()
        .all(|(k, v)| rule.get(k).is_some_and(|r| r.eq_ignore_ascii_case(v)))
}

fn compile_rule(doc: SigmaDoc, config: &SigmaConfig) -> Result<CompiledRule> {
    let Some(node) = doc.node.get("detection") else {
        return Err(doc.error(doc.loc, "rule has no detection"));
    };
    let err = |loc, message: String| doc.error(loc, message);
    let detection = detection::compile(node, &config.compile, &err)?;
    let event_names = detection.required_literals(Hot::EventName);
    let event_sources = detection.required_literals(Hot::EventSource);
    Ok(CompiledRule {
        doc,
        detection,
        filters: Vec::new(),
        event_names,
        event_sources,
    })
}

type Filter = (SigmaDoc, Option<Vec<String>>, Detection);

fn compile_filter(doc: &SigmaDoc, config: &SigmaConfig) -> Result<Filter> {
    let Some(node) = doc.node.get("filter") else {
        return Err(doc.error(doc.loc, "filter rule has no filter section"));
    };
    let targets = node.get("rules").map(|n| match &n.value {
        crate::yaml::Value::Seq(items) => items
            .iter()
            .filter_map(crate::yaml::Node::scalar_text)
            .collect(),
        _ => n.scalar_text().into_iter().collect(),
    });
    let mut stripped = node.clone();
    if let crate::yaml::Value::Map(entries) = &mut stripped.value {
        entries.retain(|(k, _)| k.text != "rules");
    }
    let err = |loc, message: String| doc.error(loc, message);
    let det = detection::compile(&stripped, &config.compile, &err)?;
    Ok((doc.clone(), targets, det))
}
