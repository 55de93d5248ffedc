//! Reading a Sigma field from a CloudTrail event: typed hot fields first, the record's JSON
//! text (walked in place, no tree built) for everything else, with fan-out over arrays.

use std::borrow::Cow;

use smallvec::SmallVec;
use trailhound_core::{Event, rawjson};

pub use trailhound_core::field::Hot;

/// The hot field a Sigma field name reads, if it is one: a record path
/// (`userIdentity.arn`) or one of the Sigma taxonomy's names for them (`src_ip`,
/// `src_country`).
#[must_use]
pub fn hot_field(name: &str) -> Option<Hot> {
    match name {
        "src_ip" => Some(Hot::SourceIpAddress),
        "src_country" => Some(Hot::SourceCountry),
        _ => Hot::of_path(&name.split('.').collect::<SmallVec<[&str; 4]>>()),
    }
}

/// Where a Sigma field is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldPath {
    /// A typed hot field.
    Hot(Hot),
    /// A dotted path into the record's JSON.
    Json(Vec<String>),
    /// The whole record text (keyword search).
    Raw,
}

impl FieldPath {
    /// The path of a Sigma field name (empty: the whole record).
    #[must_use]
    pub fn parse(name: &str) -> FieldPath {
        if name.is_empty() {
            FieldPath::Raw
        } else if let Some(hot) = hot_field(name) {
            FieldPath::Hot(hot)
        } else {
            FieldPath::Json(name.split('.').map(str::to_owned).collect())
        }
    }

    /// Whether reading this field needs more than the typed hot fields (a walk of the
    /// record's text).
    #[must_use]
    pub fn needs_json(&self) -> bool {
        matches!(self, FieldPath::Json(_))
    }

    /// Pushes every value of the field in `event` (null and missing push nothing; arrays fan
    /// out; numbers and booleans as their text; objects as compact JSON).
    pub fn values<'e>(&self, event: &'e Event, out: &mut Values<'e>) {
        match self {
            FieldPath::Hot(hot) => {
                if let Some(v) = hot.value(event) {
                    out.push(Cow::Borrowed(v));
                }
            }
            FieldPath::Raw => out.push(Cow::Borrowed(event.raw())),
            FieldPath::Json(parts) => {
                // The record is an object: its top-level value comes from the event, which
                // knows where the big ones lie.
                if let Some((head, rest)) = parts.split_first()
                    && let Some(child) = event.member(head)
                {
                    walk(child, rest, out);
                }
            }
        }
    }

    /// The first value, as text (templates, group keys).
    #[must_use]
    pub fn first<'e>(&self, event: &'e Event) -> Option<Cow<'e, str>> {
        let mut values = Values::new();
        self.values(event, &mut values);
        values.into_iter().next()
    }
}

/// Field values of one event.
pub type Values<'e> = SmallVec<[Cow<'e, str>; 2]>;

/// Walks the record's text (no JSON tree is built: see [`rawjson`]).
fn walk<'e>(node: &'e str, parts: &[String], out: &mut Values<'e>) {
    let first = node.as_bytes().first().copied();
    match (first, parts.split_first()) {
        (Some(b'['), _) => {
            for item in rawjson::elements(node) {
                walk(item, parts, out);
            }
        }
        (Some(b'{'), Some((head, rest))) => {
            if let Some(child) = rawjson::member(node, head) {
                walk(child, rest, out);
            }
        }
        (_, Some(_)) | (Some(b'n') | None, None) => {}
        (Some(b'"'), None) => out.extend(rawjson::string(node)),
        (Some(b't'), None) => out.push(Cow::Borrowed("true")),
        (Some(b'f'), None) => out.push(Cow::Borrowed("false")),
        (Some(b'{'), None) => {
            // An object as a whole (rare: `requestParameters|contains`): as compact JSON,
            // then every string inside it.
            if let Ok(tree) = serde_json::from_str::<serde_json::Value>(node) {
                out.push(Cow::Owned(tree.to_string()));
                strings_inside(&tree, out);
            }
        }
        (Some(_), None) => {
            // A number, written as serde_json writes it.
            if let Ok(number) = serde_json::from_str::<serde_json::Number>(node) {
                out.push(Cow::Owned(number.to_string()));
            }
        }
    }
}

/// Every string inside an object (so `requestParameters|contains: X` also finds `X` in a
/// string that holds escaped JSON, such as an IAM policy document).
fn strings_inside(node: &serde_json::Value, out: &mut Values<'_>) {
    use serde_json::Value;
    match node {
        Value::Object(map) => map.values().for_each(|v| strings_inside(v, out)),
        Value::Array(items) => items.iter().for_each(|v| strings_inside(v, out)),
        Value::String(s) => out.push(Cow::Owned(s.clone())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use trailhound_core::Origin;

    use super::*;

    fn event() -> Event {
        Event::from_json(
            r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"ec2.amazonaws.com",
            "eventName":"RunInstances","readOnly":false,"errorCode":null,
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/r/s",
              "sessionContext":{"sessionIssuer":{"userName":"r"}}},
            "requestParameters":{"instancesSet":{"items":[{"imageId":"ami-1","count":2},{"imageId":"ami-2"}]},
              "tags":{"k":"v"},"flag":true,"none":null}}"#,
            Origin::new("t", 0),
        )
        .unwrap()
    }

    fn vals(path: &str) -> Vec<String> {
        let e = event();
        let mut out = Values::new();
        FieldPath::parse(path).values(&e, &mut out);
        out.into_iter().map(|c| c.into_owned()).collect()
    }

    #[test]
    fn hot_and_json_paths() {
        assert_eq!(vals("eventName"), ["RunInstances"]);
        assert_eq!(vals("readOnly"), ["false"]);
        assert!(vals("errorCode").is_empty());
        assert_eq!(
            vals("userIdentity.sessionContext.sessionIssuer.userName"),
            ["r"]
        );
        assert_eq!(
            vals("requestParameters.instancesSet.items.imageId"),
            ["ami-1", "ami-2"]
        );
        assert_eq!(vals("requestParameters.instancesSet.items.count"), ["2"]);
        assert_eq!(vals("requestParameters.tags"), [r#"{"k":"v"}"#, "v"]);
        assert_eq!(vals("requestParameters.flag"), ["true"]);
        assert!(vals("requestParameters.none").is_empty());
        assert!(vals("requestParameters.missing.deeper").is_empty());
        assert_eq!(
            FieldPath::parse("eventName"),
            FieldPath::Hot(Hot::EventName)
        );
    }
}
