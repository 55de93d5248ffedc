//! Sigma rules as detectors: the adapter between trailhound-sigma and the engine.
//!
//! A compiled [`RuleSet`] is split into the rules that can be routed by eventName and the
//! rest; each part becomes one [`SigmaDetector`] whose [`Interest`] is the routed part's
//! eventNames (or every event), so the [`crate::Engine`] only hands it candidate events, and
//! the rule set's own index then picks the candidate rules.
//!
//! Rules carrying the `trailhound:` extension (the built-in pack) raise `builtin` alerts with
//! their own id, title, why and runbook templates; other rules raise `sigma` alerts.

use std::path::Path;
use std::sync::Arc;

use trailhound_core::{Alert, AlertEvent, Entity, Event, RuleKind, RuleRef, Timestamp};
use trailhound_sigma::template;
use trailhound_sigma::{
    CompiledRule, CorrelationHit, Evaluator, Hit, RuleSet, RuleSource, SigmaConfig, SigmaDoc,
    attack_ids, level_severity,
};

use crate::{Detector, Error, Interest, Result};

/// One compiled Sigma rule set behind the [`Detector`] trait.
pub struct SigmaDetector {
    id: String,
    eval: Evaluator,
    interest: Interest,
    hits: Vec<Hit>,
}

impl std::fmt::Debug for SigmaDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaDetector")
            .field("id", &self.id)
            .field("rules", &self.eval.rule_set().rules().len())
            .field("interest", &self.interest)
            .finish_non_exhaustive()
    }
}

impl SigmaDetector {
    /// A detector over the whole rule set (routing inside, interest from the set).
    #[must_use]
    pub fn new(id: impl Into<String>, set: RuleSet) -> Self {
        let interest = match set.event_names() {
            Some(names) => Interest::event_names(names),
            None => Interest::all(),
        };
        SigmaDetector {
            id: id.into(),
            eval: Evaluator::new(set),
            interest,
            hits: Vec::new(),
        }
    }

    /// Splits a rule set into a routed detector and a detector for the rules that must see
    /// every event; empty parts are left out.
    #[must_use]
    pub fn split(prefix: &str, set: RuleSet) -> Vec<SigmaDetector> {
        let (routed, other) = set.split_routed();
        let mut out = Vec::new();
        if !routed.rules().is_empty() || !routed.correlations().is_empty() {
            out.push(SigmaDetector::new(format!("{prefix}:routed"), routed));
        }
        if !other.rules().is_empty() || !other.correlations().is_empty() {
            out.push(SigmaDetector::new(format!("{prefix}:all-events"), other));
        }
        out
    }

    /// The rule set.
    #[must_use]
    pub fn rule_set(&self) -> &RuleSet {
        self.eval.rule_set()
    }

    fn flush(&mut self, out: &mut Vec<Alert>) {
        for hit in self.hits.drain(..) {
            if let Some(alert) = hit_to_alert(&hit) {
                out.push(alert);
            }
        }
    }
}

impl Detector for SigmaDetector {
    fn id(&self) -> &str {
        &self.id
    }

    fn interest(&self) -> Interest {
        self.interest.clone()
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        self.eval.observe(event, &mut self.hits);
        self.flush(out);
    }

    fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Alert>) {
        self.eval.advance(watermark, &mut self.hits);
        self.flush(out);
    }
}

fn config_error(e: &trailhound_sigma::Error) -> Error {
    Error::Config {
        detector: "sigma".into(),
        message: e.to_string(),
    }
}

/// Loads every rule under the directories (files or folders, recursively) into detectors.
///
/// # Errors
/// [`Error::Config`] with the first bad rule's file, line:column and message.
pub fn load_dirs<P: AsRef<Path>>(dirs: &[P], config: &SigmaConfig) -> Result<Vec<SigmaDetector>> {
    let set = RuleSet::load_dirs(dirs, config).map_err(|e| config_error(&e))?;
    log_routing(&set);
    Ok(SigmaDetector::split("sigma", set))
}

/// Loads every rule file under the directories except the rules `enabled(id, name)` refuses
/// (`[tuning] disabled`), given the id and name their alerts would carry. A disabled rule is
/// not compiled at all, so it costs nothing per event; one that a correlation refers to is
/// kept (its own alerts are still dropped by the tuning), so the correlation keeps counting.
///
/// # Errors
/// [`Error::Config`] with the first unreadable or bad rule.
pub fn load_dirs_enabled<P: AsRef<Path>>(
    dirs: &[P],
    config: &SigmaConfig,
    enabled: impl Fn(&str, &str) -> bool,
) -> Result<Vec<SigmaDetector>> {
    let sources = trailhound_sigma::ruleset::read_dirs(dirs).map_err(|e| config_error(&e))?;
    let mut docs = Vec::new();
    for source in &sources {
        docs.extend(
            trailhound_sigma::parse_file(&source.text, &source.path)
                .map_err(|e| config_error(&e))?,
        );
    }
    let before = docs.len();
    let is_enabled = |doc: &SigmaDoc| {
        let rule = rule_ref(doc);
        enabled(&rule.id, &rule.name)
    };
    // Correlations first: the rules the remaining ones count stay whatever their tuning.
    docs.retain(|doc| doc.kind != trailhound_sigma::DocKind::Correlation || is_enabled(doc));
    let referenced: std::collections::HashSet<String> = docs
        .iter()
        .flat_map(trailhound_sigma::correlation::referenced)
        .collect();
    docs.retain(|doc| {
        doc.kind == trailhound_sigma::DocKind::Correlation
            || is_enabled(doc)
            || referenced.contains(&doc.id)
            || doc.name.as_ref().is_some_and(|n| referenced.contains(n))
    });
    if docs.len() < before {
        tracing::info!(
            skipped = before - docs.len(),
            "disabled sigma rules not compiled"
        );
    }
    let set = RuleSet::from_docs(docs, config).map_err(|e| config_error(&e))?;
    log_routing(&set);
    Ok(SigmaDetector::split("sigma", set))
}

/// Loads embedded rule texts (`(name, yaml)`, e.g. the built-in pack's `include_str!`s).
///
/// # Errors
/// [`Error::Config`] with the first bad rule.
pub fn load_texts<'a, I>(prefix: &str, texts: I, config: &SigmaConfig) -> Result<Vec<SigmaDetector>>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let set = RuleSet::from_texts(texts, config).map_err(|e| config_error(&e))?;
    log_routing(&set);
    Ok(SigmaDetector::split(prefix, set))
}

/// Loads rule sources already read.
///
/// # Errors
/// [`Error::Config`] with the first bad rule.
pub fn load_sources(
    prefix: &str,
    sources: &[RuleSource],
    config: &SigmaConfig,
) -> Result<Vec<SigmaDetector>> {
    let set = RuleSet::compile(sources, config).map_err(|e| config_error(&e))?;
    log_routing(&set);
    Ok(SigmaDetector::split(prefix, set))
}

fn log_routing(set: &RuleSet) {
    let (routed, all) = set.routing_summary();
    tracing::info!(
        rules = set.rules().len(),
        correlations = set.correlations().len(),
        routed,
        all_events = all,
        "sigma rules loaded"
    );
    for rule in set.unrouted_rules() {
        tracing::debug!(
            rule = rule.doc.title,
            path = rule.doc.path,
            "sigma rule runs on every event (its condition pins no eventName)"
        );
    }
}

fn extension(doc: &SigmaDoc) -> Option<&serde_json::Map<String, serde_json::Value>> {
    doc.custom
        .get("trailhound")
        .and_then(serde_json::Value::as_object)
}

fn ext_str<'a>(
    ext: Option<&'a serde_json::Map<String, serde_json::Value>>,
    key: &str,
) -> Option<&'a str> {
    ext.and_then(|e| e.get(key))
        .and_then(serde_json::Value::as_str)
}

/// The alert's rule reference: `builtin` with the extension's id, else `sigma` with the UUID.
#[must_use]
pub fn rule_ref(doc: &SigmaDoc) -> RuleRef {
    let ext = extension(doc);
    match ext_str(ext, "id") {
        Some(id) => RuleRef {
            id: id.to_owned(),
            name: doc.name.clone().unwrap_or_else(|| doc.title.clone()),
            kind: RuleKind::Builtin,
            author: doc.author.clone(),
        },
        None => RuleRef {
            id: if doc.id.is_empty() {
                doc.label().to_owned()
            } else {
                doc.id.clone()
            },
            name: doc.title.clone(),
            kind: RuleKind::Sigma,
            author: doc.author.clone(),
        },
    }
}

fn falsepositives_note(doc: &SigmaDoc) -> String {
    let fps: Vec<&str> = doc
        .falsepositives
        .iter()
        .map(String::as_str)
        .filter(|f| !f.eq_ignore_ascii_case("unknown"))
        .collect();
    if fps.is_empty() {
        String::new()
    } else {
        format!(
            " Known false positives: {}.",
            fps.join("; ").trim_end_matches('.')
        )
    }
}

fn group_key(
    ext: Option<&serde_json::Map<String, serde_json::Value>>,
    event: &Event,
) -> Option<String> {
    let keys = ext?.get("group_by")?.as_array()?;
    let parts: Vec<String> = keys
        .iter()
        .filter_map(serde_json::Value::as_str)
        .map(|k| format!("{k}={}", template::value(k, event)))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The alert for one hit (`None` only for a correlation without events).
#[must_use]
pub fn hit_to_alert(hit: &Hit) -> Option<Alert> {
    match hit {
        Hit::Rule { rule, event } => Some(rule_alert(rule, event)),
        Hit::Correlation(c) => correlation_alert(c),
    }
}

fn rule_alert(rule: &Arc<CompiledRule>, event: &Event) -> Alert {
    let doc = &rule.doc;
    let ext = extension(doc);
    let title = match ext_str(ext, "title") {
        Some(t) => template::render(t, event),
        None => format!(
            "{}: {} called {} in {}/{}",
            doc.title,
            event.principal_name(),
            event.event_name(),
            event.account_id().unwrap_or("?"),
            if event.aws_region().is_empty() {
                "?"
            } else {
                event.aws_region()
            }
        ),
    };
    let why = match ext_str(ext, "why") {
        Some(t) => template::render(t, event),
        None => format!(
            "Sigma rule {:?} matched: {}.{}",
            doc.title,
            rule.detection.describe(),
            falsepositives_note(doc)
        ),
    };
    let mut alert = Alert::for_event(rule_ref(doc), rule.severity(), title, why, event);
    alert.attack = rule.attack_ids();
    alert.references.clone_from(&doc.references);
    alert.runbook = match ext_str(ext, "runbook") {
        Some(t) => template::render(t, event),
        None => default_runbook(doc),
    };
    if let Some(desc) = &doc.description {
        alert.context.insert(
            "description".into(),
            serde_json::Value::String(desc.trim().to_owned()),
        );
    }
    if let Some(key) = group_key(ext, event) {
        alert.group_key = Some(key);
        alert.seal();
    }
    alert
}

fn default_runbook(doc: &SigmaDoc) -> String {
    let mut s = String::from(
        "Confirm with the principal's owner that the call was expected and authorised; if not, revoke the session or access key and review the principal's other activity around this time.",
    );
    if !doc.references.is_empty() {
        s.push_str(" The rule's references explain the technique.");
    }
    s
}

fn correlation_alert(hit: &CorrelationHit) -> Option<Alert> {
    let first = hit.events.first()?;
    let def = &hit.correlation;
    let doc = &def.doc;
    let ext = extension(doc);
    let who = if hit.group_key.is_empty() {
        "all events".to_owned()
    } else {
        hit.group_key.clone()
    };
    let title = match ext_str(ext, "title") {
        Some(t) => template::render(t, first),
        None => format!("{}: {} for {who}", doc.label(), summary(hit)),
    };
    let why = match ext_str(ext, "why") {
        Some(t) => template::render(t, first),
        None => format!(
            "Sigma correlation {:?} ({}): {}; observed {} across {} events.{}",
            doc.label(),
            def.kind.as_str(),
            def.describe(),
            fmt_num(hit.value),
            hit.count,
            falsepositives_note(doc)
        ),
    };
    let mut alert = Alert::for_event(
        rule_ref(doc),
        level_severity(doc.level.as_deref()),
        title,
        why,
        first,
    );
    alert.attack = attack_ids(&doc.tags);
    alert.references.clone_from(&doc.references);
    alert.runbook = match ext_str(ext, "runbook") {
        Some(t) => template::render(t, first),
        None => default_runbook(doc),
    };
    alert.events = hit.events.iter().map(AlertEvent::of).collect();
    alert.event_count = hit.count.max(hit.events.len() as u64);
    alert.first_seen = hit.first_seen.min(
        hit.events
            .iter()
            .map(Event::event_time)
            .min()
            .unwrap_or(hit.first_seen),
    );
    alert.last_seen = hit.last_seen.max(
        hit.events
            .iter()
            .map(Event::event_time)
            .max()
            .unwrap_or(hit.last_seen),
    );
    alert.entity = common_entity(&hit.events);
    alert.group_key = Some(if hit.group_key.is_empty() {
        doc.label().to_owned()
    } else {
        hit.group_key.clone()
    });
    alert.context.insert(
        "correlation".into(),
        serde_json::json!({
            "type": def.kind.as_str(),
            "value": hit.value,
            "timespan_ms": def.timespan_ms,
            "group": hit.group,
        }),
    );
    alert.seal();
    Some(alert)
}

fn summary(hit: &CorrelationHit) -> String {
    use trailhound_sigma::CorrelationType as T;
    let def = &hit.correlation;
    let v = fmt_num(hit.value);
    let field = def.field.as_deref().unwrap_or("value");
    let span = trailhound_sigma::correlation::human_span(def.timespan_ms);
    match def.kind {
        T::EventCount => format!("{v} events in {span}"),
        T::ValueCount => format!("{v} distinct {field} values in {span}"),
        T::Temporal => format!("{v} of {} rules matched within {span}", def.sources.len()),
        T::TemporalOrdered => format!(
            "{v} of {} rules matched in order within {span}",
            def.sources.len()
        ),
        T::ValueSum => format!("sum of {field} {v} in {span}"),
        T::ValueAvg => format!("average {field} {v} in {span}"),
        T::ValuePercentile => format!("p{} of {field} {v} in {span}", def.percentile),
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

/// The entity fields shared by every event (a field that differs is left out).
fn common_entity(events: &[Event]) -> Entity {
    let mut iter = events.iter().map(Entity::of_event);
    let Some(mut e) = iter.next() else {
        return Entity::default();
    };
    for other in iter {
        if e.principal != other.principal {
            e.principal = None;
        }
        if e.account != other.account {
            e.account = None;
        }
        if e.source_ip != other.source_ip {
            e.source_ip = None;
        }
        if e.region != other.region {
            e.region = None;
        }
        if e.access_key_id != other.access_key_id {
            e.access_key_id = None;
        }
        if e.user_agent != other.user_agent {
            e.user_agent = None;
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use trailhound_core::{Origin, RuleKind, Severity};

    use super::*;
    use crate::Engine;

    fn event(name: &str, user: &str, time: &str, id: &str) -> Event {
        let raw = format!(
            r#"{{"eventVersion":"1.10","eventTime":"{time}","eventSource":"cloudtrail.amazonaws.com",
            "eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7",
            "userAgent":"aws-cli/2.15.0","eventID":"{id}","recipientAccountId":"123456789012",
            "userIdentity":{{"type":"IAMUser","userName":"{user}","accountId":"123456789012",
              "arn":"arn:aws:iam::123456789012:user/{user}"}},
            "requestParameters":{{"name":"main-trail"}}}}"#
        );
        Event::from_json(raw, Origin::new("f.json", 0)).unwrap()
    }

    const SIGMA: &str = r#"
title: CloudTrail Logging Stopped
id: 4d2c3f5e-0000-4000-8000-000000000001
author: Example Author
description: Trail stopped.
references: [https://example.com/stoplogging]
tags: [attack.defense-evasion, attack.t1562.008]
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: cloudtrail.amazonaws.com
    eventName: StopLogging
  condition: selection
falsepositives: [Planned maintenance of the trail]
level: high
"#;

    const BUILTIN: &str = r#"
title: CloudTrail trail deleted
name: cloudtrail-trail-deleted
id: 4d2c3f5e-0000-4000-8000-000000000002
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: DeleteTrail
  condition: selection
level: critical
trailhound:
  id: TH1002
  title: "{principal} deleted CloudTrail trail {requestParameters.name} in {account}/{region}"
  why: "DeleteTrail on trail {requestParameters.name}: the trail stops recording API calls"
  runbook: "Recreate the trail."
  group_by: [principal]
"#;

    const CORR: &str = r#"
title: Trail stop
name: trail-stop
id: 4d2c3f5e-0000-4000-8000-000000000003
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: StopLogging
  condition: selection
---
title: Repeated trail stops
id: 4d2c3f5e-0000-4000-8000-000000000004
correlation:
  type: event_count
  rules: [trail-stop]
  group-by: [userIdentity.userName]
  timespan: 10m
  condition: {gte: 3}
level: high
"#;

    #[test]
    fn sigma_rule_alert_shape() {
        let mut dets = load_texts("sigma", [("r.yml", SIGMA)], &SigmaConfig::default()).unwrap();
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].interest(), Interest::event_names(["StopLogging"]));
        let mut out = Vec::new();
        dets[0].observe(
            &event("StopLogging", "alice", "2026-01-02T03:04:05Z", "e1"),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let a = &out[0];
        assert_eq!(a.rule.kind, RuleKind::Sigma);
        assert_eq!(a.rule.id, "4d2c3f5e-0000-4000-8000-000000000001");
        assert_eq!(a.rule.author.as_deref(), Some("Example Author"));
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.attack, ["T1562.008"]);
        assert_eq!(
            a.title,
            "CloudTrail Logging Stopped: alice called StopLogging in 123456789012/us-east-1"
        );
        insta::assert_json_snapshot!("sigma_rule_alert", a);
    }

    #[test]
    fn builtin_extension_alert() {
        let dets = load_texts("builtin", [("b.yml", BUILTIN)], &SigmaConfig::default()).unwrap();
        let mut engine = Engine::new(
            dets.into_iter()
                .map(|d| Box::new(d) as Box<dyn Detector>)
                .collect(),
        );
        let mut out = Vec::new();
        engine.process(
            &event("DeleteTrail", "bob", "2026-01-02T03:04:05Z", "e1"),
            &mut out,
        );
        engine.process(
            &event("StopLogging", "bob", "2026-01-02T03:04:06Z", "e2"),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let a = &out[0];
        assert_eq!(a.rule.kind, RuleKind::Builtin);
        assert_eq!(a.rule.id, "TH1002");
        assert_eq!(a.rule.name, "cloudtrail-trail-deleted");
        assert_eq!(
            a.title,
            "bob deleted CloudTrail trail main-trail in 123456789012/us-east-1"
        );
        assert_eq!(
            a.why,
            "DeleteTrail on trail main-trail: the trail stops recording API calls"
        );
        assert_eq!(a.runbook, "Recreate the trail.");
        assert_eq!(a.group_key.as_deref(), Some("principal=bob"));
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(engine.routing_summary(), (1, 0));
    }

    #[test]
    fn correlation_alert_carries_group_and_events() {
        let dets = load_texts("sigma", [("c.yml", CORR)], &SigmaConfig::default()).unwrap();
        let mut engine = Engine::new(
            dets.into_iter()
                .map(|d| Box::new(d) as Box<dyn Detector>)
                .collect(),
        );
        let mut out = Vec::new();
        for (i, t) in ["03:00:00", "03:04:00", "03:09:00"].iter().enumerate() {
            engine.process(
                &event(
                    "StopLogging",
                    "carol",
                    &format!("2026-01-02T{t}Z"),
                    &format!("e{i}"),
                ),
                &mut out,
            );
        }
        engine.process(
            &event("StopLogging", "dave", "2026-01-02T03:09:30Z", "d1"),
            &mut out,
        );
        engine.finish(&mut out);
        assert_eq!(out.len(), 1, "{out:#?}");
        let a = &out[0];
        assert_eq!(a.event_count, 3);
        assert_eq!(a.events.len(), 3);
        assert_eq!(a.group_key.as_deref(), Some("userIdentity.userName=carol"));
        assert_eq!(a.first_seen.to_string(), "2026-01-02T03:00:00Z");
        assert_eq!(a.last_seen.to_string(), "2026-01-02T03:09:00Z");
        insta::assert_json_snapshot!("sigma_correlation_alert", a);
    }
}
