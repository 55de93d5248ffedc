//! `trailhound import cloudformation`: CloudWatch metric filters and alarms from a
//! CloudFormation template, as trailhound `[[metric_filters.filters]]` config.
//!
//! Reads `AWS::Logs::MetricFilter` (FilterPattern, MetricTransformations) and
//! `AWS::CloudWatch::Alarm` (linked by MetricName and Namespace), resolving `Ref`,
//! `Fn::GetAtt`, `Fn::Sub`, `Fn::Join` and `Fn::Select` (long or short `!Tag` form) from
//! `--param` values, the template's parameter defaults and the pseudo parameters.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trailhound_core::Severity;
use trailhound_detect::metric_filter::{
    AlarmConfig, ComparisonOperator, MetricFilterConfig, Statistic, TreatMissingData,
};

/// Arguments of `trailhound import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What to import.
    #[command(subcommand)]
    pub source: ImportSource,
}

/// What `trailhound import` reads.
#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// Metric filters and alarms from a CloudFormation template (YAML or JSON).
    Cloudformation(CloudFormationArgs),
}

/// Arguments of `trailhound import cloudformation`.
#[derive(Debug, Args)]
pub struct CloudFormationArgs {
    /// The template file.
    pub template: PathBuf,
    /// A value for a Ref, GetAtt (`Resource.Attribute=…`) or ${…} in Fn::Sub; repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// AWS::AccountId.
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// AWS::Region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

/// A YAML node turned into JSON, with CloudFormation short-form tags (`!Ref x`) rewritten to
/// their long form (`{"Ref": "x"}`).
struct CfnNode(Value);

struct Untagged(Value);

impl<'de> Deserialize<'de> for CfnNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let serde_saphyr::Tagged(Untagged(value), tag) =
            serde_saphyr::Tagged::<Untagged>::deserialize(deserializer)?;
        Ok(CfnNode(match tag {
            Some(tag) if tag.starts_with('!') && !tag.starts_with("!!") => {
                long_form(&tag[1..], value)
            }
            _ => value,
        }))
    }
}

fn long_form(tag: &str, value: Value) -> Value {
    let key = if tag == "Ref" || tag == "Condition" {
        tag.to_owned()
    } else {
        format!("Fn::{tag}")
    };
    let value = match (tag, value) {
        ("GetAtt", Value::String(s)) => match s.split_once('.') {
            Some((resource, attribute)) => Value::Array(vec![resource.into(), attribute.into()]),
            None => Value::String(s),
        },
        (_, v) => v,
    };
    let mut map = Map::new();
    map.insert(key, value);
    Value::Object(map)
}

impl<'de> Deserialize<'de> for Untagged {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Untagged;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Untagged, E> {
                Ok(Untagged(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Untagged, E> {
                Ok(Untagged(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Untagged, E> {
                Ok(Untagged(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Untagged, E> {
                Ok(Untagged(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Untagged, E> {
                Ok(Untagged(Value::String(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Untagged, E> {
                Ok(Untagged(Value::String(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Untagged, E> {
                Ok(Untagged(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<Untagged, E> {
                Ok(Untagged(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Untagged, D::Error> {
                CfnNode::deserialize(d).map(|n| Untagged(n.0))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Untagged, A::Error> {
                let mut items = Vec::new();
                while let Some(CfnNode(item)) = seq.next_element::<CfnNode>()? {
                    items.push(item);
                }
                Ok(Untagged(Value::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Untagged, A::Error> {
                let mut out = Map::new();
                while let Some((key, CfnNode(value))) = map.next_entry::<String, CfnNode>()? {
                    out.insert(key, value);
                }
                Ok(Untagged(Value::Object(out)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Parses a template (JSON or YAML) into JSON with long-form intrinsic functions.
///
/// # Errors
/// Not JSON or YAML.
pub fn parse_template(text: &str) -> anyhow::Result<Value> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).context("invalid JSON template");
    }
    let CfnNode(value) = serde_saphyr::from_str::<CfnNode>(text)
        .map_err(|e| anyhow::anyhow!("invalid YAML template: {e}"))?;
    Ok(value)
}

struct Resolver {
    values: BTreeMap<String, String>,
}

impl Resolver {
    fn lookup(&self, name: &str) -> anyhow::Result<String> {
        self.values
            .get(name)
            .cloned()
            .with_context(|| format!("{name} is not known: pass --param {name}=VALUE"))
    }

    fn scalar(&self, value: &Value, at: &str) -> anyhow::Result<String> {
        match self.resolve(value, at)? {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => bail!("{at}: expected a string, found {other}"),
        }
    }

    fn resolve(&self, value: &Value, at: &str) -> anyhow::Result<Value> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let Some((key, arg)) = map.iter().next() else {
                    bail!("{at}: empty object")
                };
                match key.as_str() {
                    "Ref" => Ok(Value::String(self.lookup(&self.scalar(arg, at)?)?)),
                    "Fn::GetAtt" => {
                        let name = match arg {
                            Value::Array(parts) => {
                                let parts: anyhow::Result<Vec<String>> =
                                    parts.iter().map(|p| self.scalar(p, at)).collect();
                                parts?.join(".")
                            }
                            other => self.scalar(other, at)?,
                        };
                        Ok(Value::String(self.lookup(&name)?))
                    }
                    "Fn::Sub" => {
                        let (template, vars) = match arg {
                            Value::Array(parts) if parts.len() == 2 => (
                                self.scalar(&parts[0], at)?,
                                parts[1].as_object().cloned().unwrap_or_default(),
                            ),
                            other => (self.scalar(other, at)?, Map::new()),
                        };
                        let mut local = BTreeMap::new();
                        for (k, v) in &vars {
                            local.insert(k.clone(), self.scalar(v, at)?);
                        }
                        Ok(Value::String(self.substitute(&template, &local, at)?))
                    }
                    "Fn::Join" => {
                        let Value::Array(parts) = arg else {
                            bail!("{at}: Fn::Join takes [delimiter, [values]]")
                        };
                        let [delimiter, list] = parts.as_slice() else {
                            bail!("{at}: Fn::Join takes [delimiter, [values]]")
                        };
                        let delimiter = self.scalar(delimiter, at)?;
                        let Value::Array(items) = self.resolve(list, at)? else {
                            bail!("{at}: Fn::Join needs a list")
                        };
                        let items: anyhow::Result<Vec<String>> =
                            items.iter().map(|i| self.scalar(i, at)).collect();
                        Ok(Value::String(items?.join(&delimiter)))
                    }
                    "Fn::Select" => {
                        let Value::Array(parts) = arg else {
                            bail!("{at}: Fn::Select takes [index, [values]]")
                        };
                        let [index, list] = parts.as_slice() else {
                            bail!("{at}: Fn::Select takes [index, [values]]")
                        };
                        let index: usize = self
                            .scalar(index, at)?
                            .parse()
                            .with_context(|| format!("{at}: Fn::Select index"))?;
                        let Value::Array(items) = self.resolve(list, at)? else {
                            bail!("{at}: Fn::Select needs a list")
                        };
                        items
                            .get(index)
                            .cloned()
                            .with_context(|| format!("{at}: Fn::Select index {index} out of range"))
                    }
                    other if other.starts_with("Fn::") => {
                        bail!("{at}: {other} is not supported by the importer")
                    }
                    _ => Ok(Value::Object(self.resolve_map(map, at)?)),
                }
            }
            Value::Object(map) => Ok(Value::Object(self.resolve_map(map, at)?)),
            Value::Array(items) => {
                let items: anyhow::Result<Vec<Value>> =
                    items.iter().map(|i| self.resolve(i, at)).collect();
                Ok(Value::Array(items?))
            }
            other => Ok(other.clone()),
        }
    }

    fn resolve_map(
        &self,
        map: &Map<String, Value>,
        at: &str,
    ) -> anyhow::Result<Map<String, Value>> {
        let mut out = Map::new();
        for (k, v) in map {
            out.insert(k.clone(), self.resolve(v, &format!("{at}.{k}"))?);
        }
        Ok(out)
    }

    fn substitute(
        &self,
        template: &str,
        local: &BTreeMap<String, String>,
        at: &str,
    ) -> anyhow::Result<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .with_context(|| format!("{at}: unclosed ${{ in Fn::Sub"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = local.get(name) {
                out.push_str(v);
            } else {
                out.push_str(&self.lookup(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

struct Imported {
    filters: Vec<MetricFilterConfig>,
    notes: Vec<String>,
}

fn kebab(text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if i > 0
                && (prev_lower || (next_lower && chars[i - 1].is_ascii_uppercase()))
                && !out.ends_with('-')
            {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(|v| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Converts a template's metric filters and alarms.
///
/// # Errors
/// A template without `Resources`, an intrinsic function that cannot be resolved, or a
/// filter pattern that does not compile.
fn import(template: &Value, args: &CloudFormationArgs) -> anyhow::Result<Imported> {
    let mut values = BTreeMap::new();
    values.insert("AWS::AccountId".to_owned(), args.account.clone());
    values.insert("AWS::Region".to_owned(), args.region.clone());
    values.insert("AWS::Partition".to_owned(), "aws".to_owned());
    values.insert("AWS::URLSuffix".to_owned(), "amazonaws.com".to_owned());
    values.insert("AWS::StackName".to_owned(), "stack".to_owned());
    if let Some(Value::Object(parameters)) = template.get("Parameters") {
        for (name, spec) in parameters {
            if let Some(default) = text(spec.get("Default")) {
                values.insert(name.clone(), default);
            }
        }
    }
    for param in &args.params {
        let (k, v) = param
            .split_once('=')
            .with_context(|| format!("--param {param:?}: expected KEY=VALUE"))?;
        values.insert(k.to_owned(), v.to_owned());
    }
    let resolver = Resolver { values };
    let Some(Value::Object(resources)) = template.get("Resources") else {
        bail!("the template has no Resources")
    };

    let mut alarms: Vec<(String, Map<String, Value>)> = Vec::new();
    let mut notes = Vec::new();
    for (name, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) == Some("AWS::CloudWatch::Alarm") {
            // Only the properties the importer uses are resolved (AlarmActions may Ref
            // topics nobody passed).
            let props = resource
                .get("Properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut resolved = Map::new();
            let mut failed = None;
            for key in ALARM_KEYS {
                if let Some(v) = props.get(*key) {
                    match resolver.resolve(v, &format!("{name}.{key}")) {
                        Ok(v) => {
                            resolved.insert((*key).to_owned(), v);
                        }
                        Err(e) => failed = Some(e),
                    }
                }
            }
            match failed {
                None => alarms.push((name.clone(), resolved)),
                Some(e) => notes.push(format!("{name}: alarm skipped: {e:#}")),
            }
        }
    }

    let mut filters = Vec::new();
    for (name, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Logs::MetricFilter") {
            continue;
        }
        let raw = resource.get("Properties").cloned().unwrap_or_default();
        let mut props = Map::new();
        for key in ["FilterPattern", "MetricTransformations"] {
            if let Some(v) = raw.get(key) {
                props.insert(
                    key.to_owned(),
                    resolver
                        .resolve(v, &format!("{name}.{key}"))
                        .with_context(|| format!("metric filter {name}"))?,
                );
            }
        }
        let props = Value::Object(props);
        let pattern = text(props.get("FilterPattern"))
            .with_context(|| format!("{name}: no FilterPattern"))?;
        let transformation = props
            .get("MetricTransformations")
            .and_then(|t| t.get(0))
            .cloned()
            .unwrap_or_default();
        let metric_name = text(transformation.get("MetricName"));
        let namespace = text(transformation.get("MetricNamespace"));
        let mut alarm = AlarmConfig::default();
        let mut title = None;
        let mut linked = false;
        for (alarm_name, p) in &alarms {
            if text(p.get("MetricName")) == metric_name && text(p.get("Namespace")) == namespace {
                if linked {
                    notes.push(format!(
                        "{name}: several alarms watch {}; the first ({alarm_name}) is used",
                        metric_name.as_deref().unwrap_or("")
                    ));
                    continue;
                }
                linked = true;
                alarm = alarm_config(p).with_context(|| format!("alarm {alarm_name}"))?;
                title = text(p.get("AlarmDescription")).or_else(|| text(p.get("AlarmName")));
            }
        }
        if !linked {
            notes.push(format!("{name}: no AWS::CloudWatch::Alarm watches this metric; the default alarm (Sum >= 1 in 300 s) is used"));
        }
        let base = metric_name.clone().unwrap_or_else(|| name.clone());
        let config = MetricFilterConfig {
            id: format!("MF-{}", kebab(name.trim_end_matches("MetricFilter"))),
            name: kebab(&base),
            title,
            pattern,
            severity: Severity::Medium,
            metric_value: text(transformation.get("MetricValue")).unwrap_or_else(|| "1".to_owned()),
            default_value: number(transformation.get("DefaultValue")),
            metric_namespace: namespace,
            metric_name,
            description: Some(format!("Imported from CloudFormation resource {name}.")),
            runbook: None,
            attack: Vec::new(),
            alarm,
        };
        config
            .build()
            .with_context(|| format!("metric filter {name} does not compile"))?;
        filters.push(config);
    }
    Ok(Imported { filters, notes })
}

/// The alarm properties the importer reads.
const ALARM_KEYS: &[&str] = &[
    "AlarmName",
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Metrics",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "ComparisonOperator",
    "Threshold",
    "TreatMissingData",
];

fn alarm_config(p: &Map<String, Value>) -> anyhow::Result<AlarmConfig> {
    if p.contains_key("Metrics") {
        bail!("metric-math alarms (Metrics) are not supported");
    }
    if p.contains_key("ExtendedStatistic") {
        bail!("percentile statistics (ExtendedStatistic) are not supported");
    }
    let mut alarm = AlarmConfig::default();
    if let Some(s) = text(p.get("Statistic")) {
        alarm.statistic = serde_json::from_value::<Statistic>(Value::String(s.clone()))
            .with_context(|| format!("unknown Statistic {s:?}"))?;
    }
    if let Some(n) = number(p.get("Period")) {
        alarm.period = n as u32;
    }
    if let Some(n) = number(p.get("EvaluationPeriods")) {
        alarm.evaluation_periods = n as u32;
    }
    alarm.datapoints_to_alarm = number(p.get("DatapointsToAlarm")).map(|n| n as u32);
    if let Some(s) = text(p.get("ComparisonOperator")) {
        alarm.comparison_operator =
            serde_json::from_value::<ComparisonOperator>(Value::String(s.clone()))
                .with_context(|| format!("unsupported ComparisonOperator {s:?}"))?;
    }
    if let Some(n) = number(p.get("Threshold")) {
        alarm.threshold = n;
    }
    alarm.treat_missing_data = match text(p.get("TreatMissingData")) {
        Some(s) => serde_json::from_value::<TreatMissingData>(Value::String(s.clone()))
            .with_context(|| format!("unknown TreatMissingData {s:?}"))?,
        // CloudWatch's default
        None => TreatMissingData::Missing,
    };
    alarm.validate().map_err(anyhow::Error::msg)?;
    Ok(alarm)
}

#[derive(Serialize)]
struct Section<'a> {
    metric_filters: Filters<'a>,
}

#[derive(Serialize)]
struct Filters<'a> {
    filters: &'a [MetricFilterConfig],
}

/// The TOML text for a template.
///
/// # Errors
/// See [`import`]; rendering fails.
pub fn render(template_text: &str, args: &CloudFormationArgs) -> anyhow::Result<String> {
    let template = parse_template(template_text)?;
    let imported = import(&template, args)?;
    let mut out = format!(
        "# Imported by `trailhound import cloudformation` from {}\n",
        args.template.display()
    );
    for note in &imported.notes {
        out.push_str(&format!("# note: {note}\n"));
    }
    if imported.filters.is_empty() {
        out.push_str("# no AWS::Logs::MetricFilter resources found\n");
        return Ok(out);
    }
    out.push('\n');
    out.push_str(&toml::to_string(&Section {
        metric_filters: Filters {
            filters: &imported.filters,
        },
    })?);
    Ok(out)
}

/// Runs `trailhound import`.
///
/// # Errors
/// Unreadable or unsupported template; writing to stdout fails.
pub fn run(args: &ImportArgs) -> anyhow::Result<u8> {
    match &args.source {
        ImportSource::Cloudformation(cfn) => {
            let text = std::fs::read_to_string(&cfn.template)
                .with_context(|| format!("cannot read {}", cfn.template.display()))?;
            let toml_text = render(&text, cfn)?;
            std::io::stdout().lock().write_all(toml_text.as_bytes())?;
        }
    }
    Ok(crate::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(params: &[&str]) -> CloudFormationArgs {
        CloudFormationArgs {
            template: "t.yaml".into(),
            params: params.iter().map(|s| (*s).to_owned()).collect(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn short_form_tags_become_long_form() {
        let v = parse_template(
            "A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub 'a-${X}'\nD: !Join ['', [a, !Ref X]]\n",
        )
        .unwrap();
        assert_eq!(v["A"], serde_json::json!({"Ref": "X"}));
        assert_eq!(v["B"], serde_json::json!({"Fn::GetAtt": ["R", "Arn"]}));
        assert_eq!(v["D"]["Fn::Join"][1][1], serde_json::json!({"Ref": "X"}));
        let r = Resolver {
            values: [
                ("X".to_owned(), "x".to_owned()),
                ("R.Arn".to_owned(), "arn".to_owned()),
            ]
            .into(),
        };
        assert_eq!(r.scalar(&v["C"], "C").unwrap(), "a-x");
        assert_eq!(r.scalar(&v["D"], "D").unwrap(), "ax");
        assert_eq!(r.scalar(&v["B"], "B").unwrap(), "arn");
        assert_eq!(
            r.substitute("${!Literal}", &BTreeMap::new(), "s").unwrap(),
            "${Literal}"
        );
        let e = r
            .scalar(&serde_json::json!({"Ref": "Missing"}), "E")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--param Missing=VALUE"), "{e}");
    }

    #[test]
    fn kebab_names() {
        assert_eq!(kebab("UnauthorisedOperation"), "unauthorised-operation");
        assert_eq!(kebab("MyTableIsBeingMisused"), "my-table-is-being-misused");
        assert_eq!(kebab("CISAlarm"), "cis-alarm");
        let _ = args(&[]);
    }
}
