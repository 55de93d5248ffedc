//! Amazon EventBridge event patterns over CloudTrail records, as EventBridge wraps them:
//! `{"version":"0","id":…,"detail-type":"AWS API Call via CloudTrail","source":"aws.<service>",
//! "account":…,"time":…,"region":…,"resources":[],"detail":<record>}`.
//!
//! Supported: exact values (strings, numbers, booleans, null), arrays as OR, nested objects,
//! `prefix`, `suffix` (both also with `equals-ignore-case`), `anything-but` (a value, a
//! list, or `prefix`/`suffix`/`equals-ignore-case`/`wildcard`), `numeric` ranges, `exists`,
//! `cidr`, `wildcard`, `equals-ignore-case`, and `$or`. A field of the event that is an array
//! matches when any element does.
//!
//! ```
//! use trailhound_detect::eventbridge::EventPattern;
//! let pattern = EventPattern::parse(r#"{"source":["aws.cloudtrail"],"detail":{"eventName":["StopLogging"]}}"#).unwrap();
//! let event = serde_json::json!({"source":"aws.cloudtrail","detail":{"eventName":"StopLogging"}});
//! assert!(pattern.matches(&event));
//! ```

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trailhound_core::{Alert, Event, RuleKind, RuleRef, Severity, field};

use crate::glob::Glob;
use crate::{Detector, Error, Interest, Result};

/// An EventBridge pattern error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The JSON path of the offending part (`detail.eventName`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for PatternError {}

#[derive(Debug, Clone)]
enum Matcher {
    Exact(Value),
    Prefix(String, bool),
    Suffix(String, bool),
    IgnoreCase(String),
    Wildcard(Glob),
    Numeric(Vec<(String, f64)>),
    Exists(bool),
    Cidr(IpNet),
    AnythingBut(Vec<Matcher>),
}

#[derive(Debug, Clone)]
enum Node {
    Fields(Vec<(String, Node)>, Vec<Vec<Node>>),
    Leaf(Vec<Matcher>),
}

/// A compiled event pattern.
#[derive(Debug, Clone)]
pub struct EventPattern {
    root: Node,
}

fn err(path: &str, message: impl Into<String>) -> PatternError {
    PatternError {
        path: path.to_owned(),
        message: message.into(),
    }
}

impl EventPattern {
    /// Parses a pattern from its JSON text.
    ///
    /// # Errors
    /// [`PatternError`] with the path of the bad part.
    pub fn parse(text: &str) -> std::result::Result<EventPattern, PatternError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| err("", format!("invalid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(err("", "a pattern is a JSON object"));
        };
        if map.is_empty() {
            return Err(err(
                "",
                "an empty pattern matches nothing useful; name at least one field",
            ));
        }
        Ok(EventPattern {
            root: parse_object(&map, "")?,
        })
    }

    /// True when the event matches.
    #[must_use]
    pub fn matches(&self, event: &Value) -> bool {
        match_node(&self.root, Some(event))
    }

    /// The `detail.eventName` values the pattern requires, when it lists only exact strings.
    #[must_use]
    pub fn required_event_names(&self) -> Option<Vec<String>> {
        let Node::Fields(fields, ors) = &self.root else {
            return None;
        };
        if !ors.is_empty() {
            return None;
        }
        let (_, detail) = fields.iter().find(|(k, _)| k == "detail")?;
        let Node::Fields(detail_fields, detail_ors) = detail else {
            return None;
        };
        if !detail_ors.is_empty() {
            return None;
        }
        let (_, leaf) = detail_fields.iter().find(|(k, _)| k == field::EVENT_NAME)?;
        let Node::Leaf(matchers) = leaf else {
            return None;
        };
        let mut names = Vec::new();
        for m in matchers {
            match m {
                Matcher::Exact(Value::String(s)) => names.push(s.clone()),
                _ => return None,
            }
        }
        Some(names)
    }
}

fn parse_object(map: &Map<String, Value>, path: &str) -> std::result::Result<Node, PatternError> {
    let mut fields = Vec::new();
    let mut ors = Vec::new();
    for (key, value) in map {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if key == "$or" {
            let Value::Array(alternatives) = value else {
                return Err(err(&here, "$or takes an array of patterns"));
            };
            if alternatives.len() < 2 {
                return Err(err(&here, "$or needs at least two patterns"));
            }
            let mut alts = Vec::new();
            for (i, alt) in alternatives.iter().enumerate() {
                let Value::Object(m) = alt else {
                    return Err(err(&format!("{here}[{i}]"), "each $or entry is an object"));
                };
                alts.push(parse_object(m, path)?);
            }
            ors.push(alts);
            continue;
        }
        let node = match value {
            Value::Object(m) => parse_object(m, &here)?,
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(err(&here, "an empty array matches nothing"));
                }
                let mut matchers = Vec::new();
                for item in items {
                    matchers.push(parse_matcher(item, &here)?);
                }
                Node::Leaf(matchers)
            }
            _ => {
                return Err(err(
                    &here,
                    "values in a pattern are arrays (\"eventName\": [\"StopLogging\"]) or objects",
                ));
            }
        };
        fields.push((key.clone(), node));
    }
    Ok(Node::Fields(fields, ors))
}

fn string_arg<'a>(
    value: &'a Value,
    path: &str,
    op: &str,
) -> std::result::Result<&'a str, PatternError> {
    value
        .as_str()
        .ok_or_else(|| err(path, format!("{op} takes a string")))
}

fn parse_matcher(item: &Value, path: &str) -> std::result::Result<Matcher, PatternError> {
    let Value::Object(op) = item else {
        return Ok(Matcher::Exact(item.clone()));
    };
    if op.len() != 1 {
        return Err(err(path, "a matcher object has exactly one operator"));
    }
    let Some((name, arg)) = op.iter().next() else {
        return Err(err(path, "empty matcher"));
    };
    Ok(match name.as_str() {
        "prefix" | "suffix" => {
            let (text, ignore_case) = match arg {
                Value::String(s) => (s.clone(), false),
                Value::Object(inner) => match inner.get("equals-ignore-case") {
                    Some(Value::String(s)) if inner.len() == 1 => (s.to_lowercase(), true),
                    _ => {
                        return Err(err(
                            path,
                            format!("{name} takes a string or {{\"equals-ignore-case\": string}}"),
                        ));
                    }
                },
                _ => return Err(err(path, format!("{name} takes a string"))),
            };
            if name == "prefix" {
                Matcher::Prefix(text, ignore_case)
            } else {
                Matcher::Suffix(text, ignore_case)
            }
        }
        "equals-ignore-case" => Matcher::IgnoreCase(string_arg(arg, path, name)?.to_lowercase()),
        "wildcard" => Matcher::Wildcard(Glob::new(string_arg(arg, path, name)?)),
        "exists" => Matcher::Exists(
            arg.as_bool()
                .ok_or_else(|| err(path, "exists takes true or false"))?,
        ),
        "cidr" => {
            let text = string_arg(arg, path, name)?;
            Matcher::Cidr(
                text.parse()
                    .map_err(|_| err(path, format!("invalid CIDR {text:?}")))?,
            )
        }
        "numeric" => {
            let Value::Array(parts) = arg else {
                return Err(err(
                    path,
                    "numeric takes an array such as [\">\", 0, \"<=\", 5]",
                ));
            };
            if parts.is_empty() || parts.len() % 2 != 0 || parts.len() > 4 {
                return Err(err(
                    path,
                    "numeric takes one or two (operator, number) pairs",
                ));
            }
            let mut tests = Vec::new();
            for pair in parts.chunks(2) {
                let op = pair[0]
                    .as_str()
                    .filter(|o| matches!(*o, "=" | "<" | "<=" | ">" | ">="))
                    .ok_or_else(|| err(path, "numeric operators are =, <, <=, >, >="))?;
                let n = pair[1]
                    .as_f64()
                    .ok_or_else(|| err(path, "numeric needs numbers after operators"))?;
                tests.push((op.to_owned(), n));
            }
            Matcher::Numeric(tests)
        }
        "anything-but" => {
            let inner = match arg {
                Value::Array(values) => {
                    let mut out = Vec::new();
                    for v in values {
                        if v.is_object() || v.is_array() {
                            return Err(err(path, "anything-but lists hold plain values"));
                        }
                        out.push(Matcher::Exact(v.clone()));
                    }
                    out
                }
                Value::Object(_) => {
                    let m = parse_matcher(arg, path)?;
                    if !matches!(
                        m,
                        Matcher::Prefix(..)
                            | Matcher::Suffix(..)
                            | Matcher::IgnoreCase(_)
                            | Matcher::Wildcard(_)
                    ) {
                        return Err(err(
                            path,
                            "anything-but takes values, prefix, suffix, equals-ignore-case or wildcard",
                        ));
                    }
                    vec![m]
                }
                other => vec![Matcher::Exact(other.clone())],
            };
            Matcher::AnythingBut(inner)
        }
        other => return Err(err(path, format!("unknown operator {other:?}"))),
    })
}

fn match_node(node: &Node, value: Option<&Value>) -> bool {
    match node {
        Node::Fields(_, _) if matches!(value, Some(Value::Array(_))) => {
            // arrays of objects are flattened: any element may satisfy the nested pattern
            value
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|item| match_node(node, Some(item))))
        }
        Node::Fields(fields, ors) => {
            let object = value.and_then(Value::as_object);
            fields
                .iter()
                .all(|(key, child)| match_node(child, object.and_then(|o| o.get(key))))
                && ors
                    .iter()
                    .all(|alts| alts.iter().any(|alt| match_node(alt, value)))
        }
        Node::Leaf(matchers) => matchers.iter().any(|m| match_value(m, value)),
    }
}

fn match_value(matcher: &Matcher, value: Option<&Value>) -> bool {
    if let Matcher::Exists(want) = matcher {
        let present = match value {
            None => false,
            Some(Value::Object(_)) | Some(Value::Array(_)) => {
                // exists applies to leaf values; an empty array counts as absent
                !matches!(value, Some(Value::Array(a)) if a.is_empty())
            }
            Some(_) => true,
        };
        return present == *want;
    }
    match value {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|item| match_scalar(matcher, item)),
        Some(v) => match_scalar(matcher, v),
    }
}

fn match_scalar(matcher: &Matcher, value: &Value) -> bool {
    match matcher {
        Matcher::Exact(want) => match (want, value) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            _ => want == value,
        },
        Matcher::Prefix(p, ic) => value.as_str().is_some_and(|s| {
            if *ic {
                s.to_lowercase().starts_with(p.as_str())
            } else {
                s.starts_with(p.as_str())
            }
        }),
        Matcher::Suffix(p, ic) => value.as_str().is_some_and(|s| {
            if *ic {
                s.to_lowercase().ends_with(p.as_str())
            } else {
                s.ends_with(p.as_str())
            }
        }),
        Matcher::IgnoreCase(p) => value.as_str().is_some_and(|s| s.to_lowercase() == *p),
        Matcher::Wildcard(g) => value.as_str().is_some_and(|s| g.is_match(s)),
        Matcher::Numeric(tests) => value.as_f64().is_some_and(|n| {
            tests.iter().all(|(op, x)| match op.as_str() {
                "=" => n == *x,
                "<" => n < *x,
                "<=" => n <= *x,
                ">" => n > *x,
                _ => n >= *x,
            })
        }),
        Matcher::Cidr(net) => value
            .as_str()
            .and_then(|s| s.parse::<IpAddr>().ok())
            .is_some_and(|ip| net.contains(&ip)),
        Matcher::AnythingBut(inner) => {
            !value.is_object() && !inner.iter().any(|m| match_scalar(m, value))
        }
        Matcher::Exists(_) => true,
    }
}

/// The EventBridge envelope of a CloudTrail record.
#[must_use]
pub fn envelope(event: &Event) -> Value {
    let service = event.event_source().split('.').next().unwrap_or_default();
    let detail_type = match event.event_type() {
        Some("AwsConsoleSignIn") => "AWS Console Sign In via CloudTrail",
        Some("AwsServiceEvent") => "AWS Service Event via CloudTrail",
        Some("AwsCloudTrailInsight") => "AWS Insight via CloudTrail",
        _ if event.event_name() == "ConsoleLogin" => "AWS Console Sign In via CloudTrail",
        _ => "AWS API Call via CloudTrail",
    };
    serde_json::json!({
        "version": "0",
        "id": event.event_id(),
        "detail-type": detail_type,
        "source": format!("aws.{service}"),
        "account": event.account_id().unwrap_or_default(),
        "time": event.event_time().to_string(),
        "region": event.aws_region(),
        "resources": [],
        "detail": event.json(),
    })
}

/// `[[eventbridge.rules]]`: one EventBridge pattern as a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBridgeRuleConfig {
    /// Stable id used in alerts.
    pub id: String,
    /// One-line title of the alert.
    pub title: String,
    /// Alert severity.
    #[serde(default = "medium")]
    pub severity: Severity,
    /// The event pattern, as JSON text (what `aws events put-rule --event-pattern` takes).
    pub pattern: String,
    /// What to check and how to contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// ATT&CK technique ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<String>,
}

fn medium() -> Severity {
    Severity::Medium
}

/// `[eventbridge]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventBridgeConfig {
    /// The rules.
    pub rules: Vec<EventBridgeRuleConfig>,
}

/// One compiled EventBridge rule.
#[derive(Debug)]
pub struct EventBridgeDetector {
    config: EventBridgeRuleConfig,
    pattern: EventPattern,
}

impl EventBridgeRuleConfig {
    /// Compiles the rule.
    ///
    /// # Errors
    /// [`Error::Config`] naming the bad part of the pattern.
    pub fn build(&self) -> Result<EventBridgeDetector> {
        let pattern = EventPattern::parse(&self.pattern).map_err(|e| Error::Config {
            detector: self.id.clone(),
            message: format!("event pattern {e}"),
        })?;
        Ok(EventBridgeDetector {
            config: self.clone(),
            pattern,
        })
    }
}

impl EventBridgeConfig {
    /// Compiles every rule.
    ///
    /// # Errors
    /// The first rule that does not compile.
    pub fn build(&self) -> Result<Vec<EventBridgeDetector>> {
        self.rules
            .iter()
            .map(EventBridgeRuleConfig::build)
            .collect()
    }
}

impl Detector for EventBridgeDetector {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn interest(&self) -> Interest {
        match self.pattern.required_event_names() {
            Some(names) => Interest::event_names(names),
            None => Interest::all(),
        }
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        if !self.pattern.matches(&envelope(event)) {
            return;
        }
        let rule = RuleRef {
            id: self.config.id.clone(),
            name: self.config.id.clone(),
            kind: RuleKind::Builtin,
            author: None,
        };
        let title = format!(
            "{}: {} by {}",
            self.config.title,
            event.event_name(),
            event.principal_name()
        );
        let why = format!(
            "the record matches the EventBridge pattern {}",
            self.config.pattern
        );
        let mut alert = Alert::for_event(rule, self.config.severity, title, why, event);
        alert.attack.clone_from(&self.config.attack);
        alert.runbook =
            self.config.runbook.clone().unwrap_or_else(|| {
                "Review the event and the principal's other activity.".to_owned()
            });
        alert.context.insert(
            "eventbridge_pattern".into(),
            self.config.pattern.clone().into(),
        );
        alert.seal();
        out.push(alert);
    }
}
