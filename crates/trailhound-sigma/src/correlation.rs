//! Sigma 2 correlation rules: event_count, value_count, temporal, temporal_ordered,
//! value_sum, value_avg and value_percentile, over event time, keyed by group-by fields.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use foldhash::HashMap;
use trailhound_core::{Event, MAX_ALERT_EVENTS, Timestamp};

use crate::detection::CmpOp;
use crate::error::{Error, Result};
use crate::field::FieldPath;
use crate::rule::SigmaDoc;
use crate::ruleset::CompiledRule;
use crate::yaml::{Node, Value};

/// The most entries one group of one correlation keeps; older ones are dropped first.
pub const MAX_GROUP_ENTRIES: usize = 10_000;

/// The correlation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    /// Number of events.
    EventCount,
    /// Number of distinct values of a field.
    ValueCount,
    /// All rules matched within the timespan, in any order.
    Temporal,
    /// All rules matched within the timespan, in the order listed.
    TemporalOrdered,
    /// Sum of a numeric field.
    ValueSum,
    /// Average of a numeric field.
    ValueAvg,
    /// A percentile of a numeric field.
    ValuePercentile,
}

impl CorrelationType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "event_count" => Self::EventCount,
            "value_count" => Self::ValueCount,
            "temporal" => Self::Temporal,
            "temporal_ordered" => Self::TemporalOrdered,
            "value_sum" => Self::ValueSum,
            "value_avg" => Self::ValueAvg,
            "value_percentile" => Self::ValuePercentile,
            _ => return None,
        })
    }

    /// The name as written in rules.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventCount => "event_count",
            Self::ValueCount => "value_count",
            Self::Temporal => "temporal",
            Self::TemporalOrdered => "temporal_ordered",
            Self::ValueSum => "value_sum",
            Self::ValueAvg => "value_avg",
            Self::ValuePercentile => "value_percentile",
        }
    }
}

/// What a correlation reads: a rule or an earlier correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A detection rule (index in the rule set).
    Rule(usize),
    /// A correlation (index in the rule set's correlations; always an earlier one).
    Correlation(usize),
}

/// A compiled correlation rule.
#[derive(Debug, Clone)]
pub struct CorrelationDef {
    /// The document.
    pub doc: SigmaDoc,
    /// The type.
    pub kind: CorrelationType,
    /// The referenced rules/correlations, in the order written.
    pub sources: Vec<Source>,
    /// The names they were referenced by (for aliases).
    pub source_names: Vec<String>,
    /// Group-by fields (or aliases).
    pub group_by: Vec<String>,
    /// alias → (rule name → field).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// The window, in milliseconds.
    pub timespan_ms: i64,
    /// The threshold: every (operator, value) must hold.
    pub condition: Vec<(CmpOp, f64)>,
    /// The field of value_count / value_sum / value_avg / value_percentile.
    pub field: Option<String>,
    /// The percentile of value_percentile (0–100).
    pub percentile: f64,
    /// Whether the referenced rules also raise their own alerts.
    pub generate: bool,
}

impl CorrelationDef {
    /// The rule indices it reads directly.
    #[must_use]
    pub fn rule_indices(&self) -> Vec<usize> {
        self.sources
            .iter()
            .filter_map(|s| match s {
                Source::Rule(i) => Some(*i),
                Source::Correlation(_) => None,
            })
            .collect()
    }

    /// A copy with rule indices mapped through `map` (old → new).
    #[must_use]
    pub fn remap(
        &self,
        map: &BTreeMap<usize, usize>,
        _rules: &[Arc<CompiledRule>],
    ) -> CorrelationDef {
        let mut c = self.clone();
        c.sources = c
            .sources
            .iter()
            .map(|s| match s {
                Source::Rule(i) => Source::Rule(map.get(i).copied().unwrap_or(usize::MAX)),
                other => *other,
            })
            .collect();
        c
    }

    /// Whether the threshold holds for `value`.
    #[must_use]
    pub fn holds(&self, value: f64) -> bool {
        self.condition.iter().all(|(op, n)| match op {
            CmpOp::Eq => value == *n,
            CmpOp::Gt => value > *n,
            CmpOp::Gte => value >= *n,
            CmpOp::Lt => value < *n,
            CmpOp::Lte => value <= *n,
        })
    }

    /// True when the condition can only be judged once the window has closed (an upper
    /// bound: "fewer than N").
    #[must_use]
    pub fn judged_at_close(&self) -> bool {
        self.condition
            .iter()
            .any(|(op, _)| matches!(op, CmpOp::Lt | CmpOp::Lte | CmpOp::Eq))
    }

    /// The condition in words.
    #[must_use]
    pub fn describe(&self) -> String {
        let what = match (self.kind, &self.field) {
            (CorrelationType::EventCount, _) => "events".to_owned(),
            (CorrelationType::ValueCount, Some(f)) => format!("distinct {f} values"),
            (CorrelationType::ValueSum, Some(f)) => format!("sum of {f}"),
            (CorrelationType::ValueAvg, Some(f)) => format!("average of {f}"),
            (CorrelationType::ValuePercentile, Some(f)) => format!("p{} of {f}", self.percentile),
            (CorrelationType::Temporal, _) => "of the rules matched".to_owned(),
            (CorrelationType::TemporalOrdered, _) => "of the rules matched in order".to_owned(),
            (_, None) => "values".to_owned(),
        };
        let cond: Vec<String> = self
            .condition
            .iter()
            .map(|(op, n)| {
                let op = match op {
                    CmpOp::Eq => "exactly",
                    CmpOp::Gt => "more than",
                    CmpOp::Gte => "at least",
                    CmpOp::Lt => "fewer than",
                    CmpOp::Lte => "at most",
                };
                format!("{op} {n}")
            })
            .collect();
        let by = if self.group_by.is_empty() {
            String::new()
        } else {
            format!(" per {}", self.group_by.join(", "))
        };
        format!(
            "{} {what} within {}{by}",
            cond.join(" and "),
            human_span(self.timespan_ms)
        )
    }

    fn field_for(&self, name: &str, source: usize) -> String {
        if let Some(map) = self.aliases.get(name)
            && let Some(src) = self.source_names.get(source)
            && let Some(field) = map.get(src)
        {
            return field.clone();
        }
        name.to_owned()
    }
}

/// A duration in the largest whole unit: `10m`, `1h`, `90s`.
#[must_use]
pub fn human_span(ms: i64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms % size == 0 && ms >= size {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Parses a Sigma timespan: `30s`, `5m`, `1h`, `2d`, `1w` (also `M` months of 30 days, `y`).
///
/// # Errors
/// A message when the text is not a number followed by a unit.
pub fn parse_timespan(text: &str) -> std::result::Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("timespan {text:?} must be a number and a unit (s, m, h, d, w)"))?;
    let size = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "M" => 30 * 86_400_000,
        "y" => 365 * 86_400_000,
        _ => {
            return Err(format!(
                "timespan {text:?} has unknown unit {unit:?} (s, m, h, d, w)"
            ));
        }
    };
    if n <= 0 {
        return Err(format!("timespan {text:?} must be positive"));
    }
    Ok(n.saturating_mul(size))
}

/// Compiles correlation documents against the compiled rules, ordering chained correlations
/// after the correlations they read.
///
/// # Errors
/// [`Error::Rule`] for a malformed correlation, [`Error::Correlation`] for a reference to an
/// unknown rule or a cycle.
pub fn compile_all(
    docs: &[SigmaDoc],
    rules: &[Arc<CompiledRule>],
) -> Result<Vec<Arc<CorrelationDef>>> {
    let rule_index = |name: &str| {
        rules
            .iter()
            .position(|r| r.doc.id == name || r.doc.name.as_deref() == Some(name))
    };
    let corr_index = |name: &str| {
        docs.iter()
            .position(|d| d.id == name || d.name.as_deref() == Some(name))
    };
    // Order: depth-first over correlation references.
    let mut order = Vec::new();
    let mut state = vec![0u8; docs.len()];
    fn visit(
        i: usize,
        docs: &[SigmaDoc],
        state: &mut [u8],
        order: &mut Vec<usize>,
        corr_index: &dyn Fn(&str) -> Option<usize>,
        rule_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<()> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                return Err(Error::Correlation {
                    rule: docs[i].label().to_owned(),
                    message: "correlations refer to each other in a cycle".into(),
                });
            }
            _ => {}
        }
        state[i] = 1;
        for name in referenced(&docs[i]) {
            if rule_index(&name).is_none()
                && let Some(j) = corr_index(&name)
            {
                visit(j, docs, state, order, corr_index, rule_index)?;
            }
        }
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..docs.len() {
        visit(i, docs, &mut state, &mut order, &corr_index, &rule_index)?;
    }
    let mut out: Vec<Arc<CorrelationDef>> = Vec::new();
    let mut position = BTreeMap::new();
    for i in order {
        let doc = &docs[i];
        let mut sources = Vec::new();
        for name in referenced(doc) {
            if let Some(r) = rule_index(&name) {
                sources.push(Source::Rule(r));
            } else if let Some(&c) = corr_index(&name).and_then(|j| position.get(&j)) {
                sources.push(Source::Correlation(c));
            } else {
                return Err(Error::Correlation {
                    rule: doc.label().to_owned(),
                    message: format!(
                        "refers to {name:?}, which is not a loaded rule or correlation"
                    ),
                });
            }
        }
        position.insert(i, out.len());
        out.push(Arc::new(compile_one(doc, sources)?));
    }
    Ok(out)
}

/// The rules (ids or names) a correlation document refers to; empty for other documents.
#[must_use]
pub fn referenced(doc: &SigmaDoc) -> Vec<String> {
    match doc
        .node
        .get("correlation")
        .and_then(|c| c.get("rules"))
        .map(|n| &n.value)
    {
        Some(Value::Seq(items)) => items.iter().filter_map(Node::scalar_text).collect(),
        Some(Value::Str(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn compile_one(doc: &SigmaDoc, sources: Vec<Source>) -> Result<CorrelationDef> {
    let Some(c) = doc.node.get("correlation") else {
        return Err(doc.error(doc.loc, "no correlation section"));
    };
    let kind_text = c.get("type").and_then(Node::as_str).unwrap_or("");
    let Some(kind) = CorrelationType::parse(kind_text) else {
        return Err(doc.error(
            c.get("type").map_or(c.loc, |n| n.loc),
            format!("unknown correlation type {kind_text:?}: expected event_count, value_count, temporal, temporal_ordered, value_sum, value_avg or value_percentile"),
        ));
    };
    if sources.is_empty() {
        return Err(doc.error(c.loc, "correlation has no rules"));
    }
    let source_names = referenced(doc);
    let group_by = match c.get("group-by").map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(Node::scalar_text).collect(),
        Some(Value::Str(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let Some(span_node) = c.get("timespan").or_else(|| c.get("timeframe")) else {
        return Err(doc.error(c.loc, "correlation has no timespan"));
    };
    let timespan_ms = parse_timespan(&span_node.scalar_text().unwrap_or_default())
        .map_err(|m| doc.error(span_node.loc, m))?;
    let mut aliases = BTreeMap::new();
    if let Some(Value::Map(entries)) = c.get("aliases").map(|n| &n.value) {
        for (alias, map) in entries {
            let mut per_rule = BTreeMap::new();
            if let Value::Map(m) = &map.value {
                for (rule, field) in m {
                    per_rule.insert(rule.text.clone(), field.scalar_text().unwrap_or_default());
                }
            }
            aliases.insert(alias.text.clone(), per_rule);
        }
    }
    let mut condition = Vec::new();
    let mut field = None;
    let mut percentile = 50.0;
    match c.get("condition").map(|n| (&n.value, n.loc)) {
        Some((Value::Map(entries), _)) => {
            for (k, v) in entries {
                let num = || {
                    v.scalar_text()
                        .and_then(|t| t.parse::<f64>().ok())
                        .ok_or_else(|| doc.error(v.loc, format!("{} takes a number", k.text)))
                };
                match k.text.as_str() {
                    "gt" => condition.push((CmpOp::Gt, num()?)),
                    "gte" => condition.push((CmpOp::Gte, num()?)),
                    "lt" => condition.push((CmpOp::Lt, num()?)),
                    "lte" => condition.push((CmpOp::Lte, num()?)),
                    "eq" => condition.push((CmpOp::Eq, num()?)),
                    "field" => field = v.scalar_text(),
                    "percentile" => percentile = num()?,
                    other => {
                        return Err(doc.error(
                            k.loc,
                            format!("unknown correlation condition key {other:?}"),
                        ));
                    }
                }
            }
        }
        Some((_, loc)) => return Err(doc.error(loc, "correlation condition must be a mapping")),
        None => {}
    }
    match kind {
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
            if condition.is_empty() {
                condition.push((CmpOp::Gte, sources.len() as f64));
            }
        }
        _ => {
            if condition.is_empty() {
                return Err(doc.error(c.loc, "correlation has no condition (gte, gt, lt, lte, eq)"));
            }
        }
    }
    if matches!(
        kind,
        CorrelationType::ValueCount
            | CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile
    ) && field.is_none()
    {
        return Err(doc.error(c.loc, format!("{} needs condition.field", kind.as_str())));
    }
    let generate = c
        .get("generate")
        .or_else(|| doc.node.get("generate"))
        .is_some_and(|n| matches!(n.value, Value::Bool(true)));
    Ok(CorrelationDef {
        doc: doc.clone(),
        kind,
        sources,
        source_names,
        group_by,
        aliases,
        timespan_ms,
        condition,
        field,
        percentile: percentile.clamp(0.0, 100.0),
        generate,
    })
}

/// A correlation that fired.
#[derive(Debug, Clone)]
pub struct CorrelationHit {
    /// The correlation.
    pub correlation: Arc<CorrelationDef>,
    /// `field=value` pairs of the group, joined with `, ` (empty without group-by).
    pub group_key: String,
    /// The group-by values.
    pub group: BTreeMap<String, String>,
    /// A sample of the contributing events (at most [`MAX_ALERT_EVENTS`]).
    pub events: Vec<Event>,
    /// How many events contributed.
    pub count: u64,
    /// The aggregate that met the condition (count, distinct count, sum, …).
    pub value: f64,
    /// First contributing event time.
    pub first_seen: Timestamp,
    /// Last contributing event time.
    pub last_seen: Timestamp,
}

/// One input to a correlation: a rule match or a lower correlation's firing.
pub(crate) struct Input<'a> {
    pub source: usize,
    pub time: Timestamp,
    pub events: &'a [Event],
    pub count: u64,
    pub fields: Option<&'a BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
struct Entry {
    time: Timestamp,
    source: usize,
    value: Option<String>,
    events: Vec<Event>,
    count: u64,
}

#[derive(Debug, Default)]
struct Group {
    entries: VecDeque<Entry>,
    values: BTreeMap<String, String>,
}

/// The running state of one correlation.
#[derive(Debug)]
pub struct CorrelationState {
    def: Arc<CorrelationDef>,
    groups: HashMap<String, Group>,
    max_groups: usize,
    /// Groups not tracked because the cap was reached.
    pub dropped_groups: u64,
    /// Entries dropped because a group was full.
    pub dropped_entries: u64,
}

impl CorrelationState {
    /// Empty state for `def`, tracking at most `max_groups` groups.
    #[must_use]
    pub fn new(def: Arc<CorrelationDef>, max_groups: usize) -> Self {
        CorrelationState {
            def,
            groups: HashMap::default(),
            max_groups,
            dropped_groups: 0,
            dropped_entries: 0,
        }
    }

    /// The correlation.
    #[must_use]
    pub fn def(&self) -> &Arc<CorrelationDef> {
        &self.def
    }

    /// Groups currently tracked.
    #[must_use]
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    fn value_of(&self, name: &str, input: &Input<'_>) -> Option<String> {
        let field = self.def.field_for(name, input.source);
        if let Some(fields) = input.fields
            && let Some(v) = fields.get(&field).or_else(|| fields.get(name))
        {
            return Some(v.clone());
        }
        let event = input.events.first()?;
        FieldPath::parse(&field)
            .first(event)
            .map(std::borrow::Cow::into_owned)
    }

    pub(crate) fn observe(&mut self, input: &Input<'_>, out: &mut Vec<CorrelationHit>) {
        let def = Arc::clone(&self.def);
        let mut group = BTreeMap::new();
        for name in &def.group_by {
            group.insert(name.clone(), self.value_of(name, input).unwrap_or_default());
        }
        let key: String = group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let value = def.field.as_deref().and_then(|f| self.value_of(f, input));
        if !self.groups.contains_key(&key) && self.groups.len() >= self.max_groups {
            self.dropped_groups += 1;
            if self.dropped_groups.is_power_of_two() {
                tracing::warn!(
                    correlation = def.doc.label(),
                    max_groups = self.max_groups,
                    dropped = self.dropped_groups,
                    "sigma correlation group limit reached: new groups are not tracked"
                );
            }
            return;
        }
        let g = self.groups.entry(key.clone()).or_default();
        g.values = group;
        // Slide: drop entries that fell out of the window ending at this input.
        let horizon = input.time.add_millis(-def.timespan_ms);
        if !def.judged_at_close() {
            while g.entries.front().is_some_and(|e| e.time < horizon) {
                g.entries.pop_front();
            }
        }
        if g.entries.len() >= MAX_GROUP_ENTRIES {
            g.entries.pop_front();
            self.dropped_entries += 1;
        }
        // Kept for the window: each event with its own copy of the record, not its file.
        let sample: Vec<Event> = input
            .events
            .iter()
            .take(MAX_ALERT_EVENTS)
            .map(Event::detach)
            .collect();
        // Keep entries ordered by time (inputs may be slightly out of order).
        let pos = g
            .entries
            .iter()
            .rposition(|e| e.time <= input.time)
            .map_or(0, |p| p + 1);
        g.entries.insert(
            pos,
            Entry {
                time: input.time,
                source: input.source,
                value,
                events: sample,
                count: input.count,
            },
        );
        if def.judged_at_close() {
            return;
        }
        if let Some(v) = aggregate(&def, g.entries.iter())
            && def.holds(v)
        {
            let entries: Vec<Entry> = g.entries.drain(..).collect();
            out.push(hit(&def, &key, &g.values, &entries, v));
        }
    }

    /// Closes windows that end before `watermark`: judges "fewer than" conditions and drops
    /// expired entries and empty groups.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut Vec<CorrelationHit>) {
        let def = Arc::clone(&self.def);
        let span = def.timespan_ms;
        for (key, g) in &mut self.groups {
            if def.judged_at_close() {
                while let Some(start) = g.entries.front().map(|e| e.time) {
                    let end = start.add_millis(span);
                    if end >= watermark {
                        break;
                    }
                    let n = g.entries.iter().take_while(|e| e.time <= end).count();
                    let window: Vec<Entry> = g.entries.drain(..n).collect();
                    if let Some(v) = aggregate(&def, window.iter())
                        && def.holds(v)
                    {
                        out.push(hit(&def, key, &g.values, &window, v));
                    }
                }
            } else {
                let horizon = watermark.add_millis(-span);
                while g.entries.front().is_some_and(|e| e.time < horizon) {
                    g.entries.pop_front();
                }
            }
        }
        self.groups.retain(|_, g| !g.entries.is_empty());
    }
}

fn aggregate<'a>(
    def: &CorrelationDef,
    entries: impl Iterator<Item = &'a Entry> + Clone,
) -> Option<f64> {
    let nums = || {
        entries.clone().filter_map(|e| {
            e.value
                .as_deref()
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
    };
    match def.kind {
        CorrelationType::EventCount => Some(entries.map(|e| e.count).sum::<u64>() as f64),
        CorrelationType::ValueCount => {
            let distinct: BTreeSet<&str> = entries.filter_map(|e| e.value.as_deref()).collect();
            Some(distinct.len() as f64)
        }
        CorrelationType::ValueSum => Some(nums().sum()),
        CorrelationType::ValueAvg => {
            let v: Vec<f64> = nums().collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        }
        CorrelationType::ValuePercentile => {
            let mut v: Vec<f64> = nums().collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            let rank = (def.percentile / 100.0 * (v.len() - 1) as f64).round() as usize;
            v.get(rank.min(v.len() - 1)).copied()
        }
        CorrelationType::Temporal => {
            let seen: BTreeSet<usize> = entries.map(|e| e.source).collect();
            Some(seen.len() as f64)
        }
        CorrelationType::TemporalOrdered => {
            // Greedy: the longest prefix of the source list matched in time order.
            let mut next = 0usize;
            for e in entries {
                if e.source == next {
                    next += 1;
                }
            }
            Some(next as f64)
        }
    }
}

fn hit(
    def: &Arc<CorrelationDef>,
    key: &str,
    group: &BTreeMap<String, String>,
    entries: &[Entry],
    value: f64,
) -> CorrelationHit {
    let mut events = Vec::new();
    for e in entries {
        for ev in &e.events {
            if events.len() < MAX_ALERT_EVENTS {
                events.push(ev.clone());
            }
        }
    }
    CorrelationHit {
        correlation: Arc::clone(def),
        group_key: key.to_owned(),
        group: group.clone(),
        events,
        count: entries.iter().map(|e| e.count).sum(),
        value,
        first_seen: entries.first().map_or(Timestamp::EPOCH, |e| e.time),
        last_seen: entries.last().map_or(Timestamp::EPOCH, |e| e.time),
    }
}
