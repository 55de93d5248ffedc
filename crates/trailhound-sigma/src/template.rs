//! Alert text templates of the `trailhound:` rule extension.

use trailhound_core::Event;

use crate::field::FieldPath;

/// Renders `{placeholder}`s: `principal`, `principal_arn`, `account`, `region`,
/// `source_ip`, `user_agent`, `event_name`, `event_source`, `error_code`, or any dotted
/// record path (arrays: first element; objects: compact JSON). Unknown or missing values
/// render as `?`; `{{` and `}}` are literal braces.
#[must_use]
pub fn render(template: &str, event: &Event) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            out.push('}');
            rest = after;
            continue;
        }
        match tail.find('}') {
            Some(close) => {
                out.push_str(&value(&tail[1..close], event));
                rest = &tail[close + 1..];
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of one placeholder (`?` when missing).
#[must_use]
pub fn value(key: &str, event: &Event) -> String {
    let key = key.trim();
    let q = || "?".to_owned();
    match key {
        "principal" => event.principal_name(),
        "principal_arn" => event.principal_arn().map_or_else(q, str::to_owned),
        "account" => event.account_id().map_or_else(q, str::to_owned),
        "region" => Some(event.aws_region())
            .filter(|r| !r.is_empty())
            .map_or_else(q, str::to_owned),
        "source_ip" => Some(event.source().text.as_str())
            .filter(|r| !r.is_empty())
            .map_or_else(q, str::to_owned),
        "user_agent" => event.user_agent().map_or_else(q, str::to_owned),
        "event_name" => event.event_name().to_owned(),
        "event_source" => event.event_source().to_owned(),
        "error_code" => event.error_code().map_or_else(q, str::to_owned),
        path => FieldPath::parse(path)
            .first(event)
            .map_or_else(q, std::borrow::Cow::into_owned),
    }
}

/// The names a template refers to.
#[must_use]
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        if let Some(after) = tail.strip_prefix("{{") {
            rest = after;
            continue;
        }
        let Some(close) = tail.find('}') else { break };
        out.push(tail[1..close].trim().to_owned());
        rest = &tail[close + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use trailhound_core::Origin;

    use super::*;

    #[test]
    fn renders_placeholders() {
        let e = Event::from_json(
            r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"cloudtrail.amazonaws.com",
            "eventName":"StopLogging","awsRegion":"us-east-1","recipientAccountId":"123456789012",
            "userIdentity":{"type":"IAMUser","userName":"alice"},
            "requestParameters":{"name":"main","list":["a","b"],"obj":{"k":1}}}"#,
            Origin::new("t", 0),
        )
        .unwrap();
        assert_eq!(
            render(
                "{principal} stopped {requestParameters.name} in {account}/{region}",
                &e
            ),
            "alice stopped main in 123456789012/us-east-1"
        );
        assert_eq!(
            render(
                "{requestParameters.list} {requestParameters.obj} {nope} {{x}}",
                &e
            ),
            r#"a {"k":1} ? {x}"#
        );
        assert_eq!(placeholders("{a} {{b}} {c.d}"), ["a", "c.d"]);
    }
}
