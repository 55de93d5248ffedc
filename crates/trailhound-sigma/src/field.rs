//! Reading a Sigma field from a CloudTrail event: typed hot fields first, the record's JSON
//! text (walked in place, no tree built) for everything else, with fan-out over arrays.

use std::borrow::Cow;

use smallvec::SmallVec;
use trailhound_core::{Event, rawjson};

/// A hot field, read from [`Event`]'s typed accessors without parsing the record's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hot {
    /// `eventName`
    EventName,
    /// `eventSource`
    EventSource,
    /// `awsRegion`
    AwsRegion,
    /// `sourceIPAddress`
    SourceIpAddress,
    /// `userAgent`
    UserAgent,
    /// The source address's country from enrichment (Sigma taxonomy `src_country`).
    SourceCountry,
    /// `errorCode`
    ErrorCode,
    /// `errorMessage`
    ErrorMessage,
    /// `eventType`
    EventType,
    /// `recipientAccountId`
    RecipientAccountId,
    /// `eventID`
    EventId,
    /// `readOnly`
    ReadOnly,
    /// `userIdentity.type`
    IdentityType,
    /// `userIdentity.arn`
    IdentityArn,
    /// `userIdentity.accountId`
    IdentityAccountId,
    /// `userIdentity.userName`
    IdentityUserName,
    /// `userIdentity.principalId`
    IdentityPrincipalId,
    /// `userIdentity.accessKeyId`
    IdentityAccessKeyId,
    /// `userIdentity.invokedBy`
    IdentityInvokedBy,
    /// `userIdentity.sessionContext.sessionIssuer.userName`
    IssuerUserName,
    /// `userIdentity.sessionContext.sessionIssuer.arn`
    IssuerArn,
}

impl Hot {
    /// The hot field for a dotted path, if it is one.
    #[must_use]
    pub fn of(path: &str) -> Option<Hot> {
        Some(match path {
            "eventName" => Hot::EventName,
            "src_ip" | "sourceIPAddress" => Hot::SourceIpAddress,
            "src_country" => Hot::SourceCountry,
            "eventSource" => Hot::EventSource,
            "awsRegion" => Hot::AwsRegion,
            "userAgent" => Hot::UserAgent,
            "errorCode" => Hot::ErrorCode,
            "errorMessage" => Hot::ErrorMessage,
            "eventType" => Hot::EventType,
            "recipientAccountId" => Hot::RecipientAccountId,
            "eventID" => Hot::EventId,
            "readOnly" => Hot::ReadOnly,
            "userIdentity.type" => Hot::IdentityType,
            "userIdentity.arn" => Hot::IdentityArn,
            "userIdentity.accountId" => Hot::IdentityAccountId,
            "userIdentity.userName" => Hot::IdentityUserName,
            "userIdentity.principalId" => Hot::IdentityPrincipalId,
            "userIdentity.accessKeyId" => Hot::IdentityAccessKeyId,
            "userIdentity.invokedBy" => Hot::IdentityInvokedBy,
            "userIdentity.sessionContext.sessionIssuer.userName" => Hot::IssuerUserName,
            "userIdentity.sessionContext.sessionIssuer.arn" => Hot::IssuerArn,
            _ => return None,
        })
    }

    fn read(self, event: &Event) -> Option<&str> {
        let id = event.user_identity();
        let issuer = || id.session_issuer.as_ref();
        let non_empty = |s: &str| (!s.is_empty()).then_some(());
        match self {
            Hot::EventName => Some(event.event_name()),
            Hot::EventSource => Some(event.event_source()),
            Hot::AwsRegion => non_empty(event.aws_region()).map(|()| event.aws_region()),
            Hot::SourceIpAddress => {
                let t = event.source().text.as_str();
                non_empty(t).map(|()| t)
            }
            Hot::UserAgent => event.user_agent(),
            Hot::SourceCountry => event.enrichment().and_then(|e| e.country.as_deref()),
            Hot::ErrorCode => event.error_code(),
            Hot::ErrorMessage => event.error_message(),
            Hot::EventType => event.event_type(),
            Hot::RecipientAccountId => event.recipient_account_id(),
            Hot::EventId => non_empty(event.event_id()).map(|()| event.event_id()),
            Hot::ReadOnly => event.read_only().map(|b| if b { "true" } else { "false" }),
            Hot::IdentityType => non_empty(&id.type_name).map(|()| id.type_name.as_str()),
            Hot::IdentityArn => id.arn.as_deref(),
            Hot::IdentityAccountId => id.account_id.as_deref(),
            Hot::IdentityUserName => id.user_name.as_deref(),
            Hot::IdentityPrincipalId => id.principal_id.as_deref(),
            Hot::IdentityAccessKeyId => id.access_key_id.as_deref(),
            Hot::IdentityInvokedBy => id.invoked_by.as_deref(),
            Hot::IssuerUserName => issuer().and_then(|s| s.user_name.as_deref()),
            Hot::IssuerArn => issuer().and_then(|s| s.arn.as_deref()),
        }
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
        } else if let Some(hot) = Hot::of(name) {
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
                if let Some(v) = hot.read(event) {
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
