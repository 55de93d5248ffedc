//! Named alert fields, shared by suppression conditions, dedup group keys and routing.

use trailhound_core::Alert;

/// Every field name a condition or group key may use.
pub const FIELDS: &[&str] = &[
    "rule",
    "rule.name",
    "kind",
    "severity",
    "title",
    "principal",
    "account",
    "source_ip",
    "region",
    "access_key",
    "user_agent",
    "group_key",
];

/// Whether `name` is a known field (or a `context.KEY` path).
#[must_use]
pub fn is_field(name: &str) -> bool {
    FIELDS.contains(&name) || name.strip_prefix("context.").is_some_and(|k| !k.is_empty())
}

/// The value of field `name` of `alert`, if it has one. `context.KEY` reads a string or
/// number of the alert's context.
#[must_use]
pub fn field_value(alert: &Alert, name: &str) -> Option<String> {
    let e = &alert.entity;
    match name {
        "rule" => Some(alert.rule.id.clone()),
        "rule.name" => Some(alert.rule.name.clone()),
        "kind" => Some(alert.rule.kind.as_str().to_owned()),
        "severity" => Some(alert.severity.as_str().to_owned()),
        "title" => Some(alert.title.clone()),
        "principal" => e.principal.clone(),
        "account" => e.account.clone(),
        "source_ip" => e.source_ip.clone(),
        "region" => e.region.clone(),
        "access_key" => e.access_key_id.clone(),
        "user_agent" => e.user_agent.clone(),
        "group_key" => alert.group_key.clone(),
        other => {
            let key = other.strip_prefix("context.")?;
            match alert.context.get(key)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        }
    }
}
