//! The resources a record names, read from its text in place ([`rawjson`]), without building
//! the record's JSON tree.
//!
//! Policies read the resource fields of every call to a protected service (every DynamoDB or
//! KMS call, say): most of a busy account. Building a `serde_json::Value` tree for each was
//! the larger part of that cost; borrowing the few strings needed from the text is not.

use std::borrow::Cow;

use trailhound_core::{Event, rawjson};

/// The request parameters that name a resource, in the order ids are reported.
pub(crate) const PARAMETER_KEYS: &[&str] = &[
    "tableName",
    "bucketName",
    "functionName",
    "keyId",
    "secretId",
    "roleName",
    "userName",
    "groupName",
    "policyArn",
    "queueUrl",
    "topicArn",
    "stateMachineArn",
    "logGroupName",
    "repositoryName",
    "tableArn",
    "resourceArn",
    "backupArn",
    "clusterName",
    "dBInstanceIdentifier",
    "streamName",
    "trailName",
];

/// What a record says about its resources: the string values of [`PARAMETER_KEYS`], of `key`
/// and `name` in `requestParameters`, and the `resources[].ARN` values.
#[derive(Debug, Default)]
pub(crate) struct ResourceFields<'a> {
    parameters: Vec<(usize, Cow<'a, str>)>,
    /// `requestParameters.key` (an S3 object key).
    pub(crate) key: Option<Cow<'a, str>>,
    /// `requestParameters.name` (an SSM parameter).
    pub(crate) name: Option<Cow<'a, str>>,
    /// `resources[].ARN` (or `arn`), in order.
    pub(crate) arns: Vec<Cow<'a, str>>,
}

impl<'a> ResourceFields<'a> {
    /// Reads the record's `requestParameters` and `resources`.
    pub(crate) fn read(event: &'a Event) -> Self {
        let mut out = ResourceFields::default();
        if let Some(parameters) = event.member("requestParameters") {
            out.read_parameters(parameters);
        }
        if let Some(resources) = event.member("resources") {
            out.arns = rawjson::elements(resources)
                .filter_map(|entry| {
                    let (mut upper, mut lower) = (None, None);
                    // The last string `ARN`, else the last string `arn`.
                    for (key, value) in rawjson::members(entry) {
                        let slot = match key.as_ref() {
                            "ARN" => &mut upper,
                            "arn" => &mut lower,
                            _ => continue,
                        };
                        if let Some(text) = rawjson::string(value) {
                            *slot = Some(text);
                        }
                    }
                    upper.or(lower)
                })
                .collect();
        }
        out
    }

    fn read_parameters(&mut self, parameters: &'a str) {
        for (key, value) in rawjson::members(parameters) {
            let Some(value) = rawjson::string(value) else {
                continue;
            };
            match key.as_ref() {
                "key" => self.key = Some(value),
                "name" => self.name = Some(value),
                other => {
                    if let Some(index) = PARAMETER_KEYS.iter().position(|k| *k == other) {
                        self.set_parameter(index, value);
                    }
                }
            }
        }
    }

    /// The parameters of [`PARAMETER_KEYS`] that are strings, in that list's order.
    pub(crate) fn parameters(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let mut found: Vec<&(usize, Cow<'a, str>)> = self.parameters.iter().collect();
        found.sort_by_key(|(index, _)| *index);
        found.into_iter().filter_map(|(index, value)| {
            PARAMETER_KEYS.get(*index).map(|key| (*key, value.as_ref()))
        })
    }

    fn set_parameter(&mut self, index: usize, value: Cow<'a, str>) {
        // A repeated key keeps its last value, as a JSON tree would.
        self.parameters.retain(|(i, _)| *i != index);
        self.parameters.push((index, value));
    }
}

#[cfg(test)]
mod tests {
    use trailhound_core::Origin;

    use super::*;

    /// A record with `body` after its required fields.
    fn event(body: &str) -> Event {
        let raw = format!(
            r#"{{"eventTime":"2026-01-01T00:00:00Z","eventSource":"s3.amazonaws.com",{body}}}"#
        );
        Event::from_json(raw, Origin::new("t", 0)).unwrap()
    }

    #[test]
    fn reads_resource_fields_and_skips_the_rest() {
        let event = event(
            r#""eventVersion":"1.08","userIdentity":{"arn":"arn:aws:iam::1:user/a","x":[1,{"y":null}]},
            "requestParameters":{"tableName":"orders","bucketName":"b-1","key":"k/1","name":"/p",
              "keyId":7,"nested":{"tableName":"not-this"},"functionName":["x"]},
            "resources":[{"ARN":"arn:aws:kms:us-east-1:1:key/k1","arn":"ignored"},{"arn":"arn:aws:s3:::b"},
              "not-an-object",{"type":"AWS::S3::Object"},{"ARN":"x","ARN":5,"arn":"lower"}],"eventName":"GetObject""#,
        );
        let fields = ResourceFields::read(&event);
        let params: Vec<(&str, &str)> = fields.parameters().collect();
        assert_eq!(params, [("tableName", "orders"), ("bucketName", "b-1")]);
        assert_eq!(fields.key.as_deref(), Some("k/1"));
        assert_eq!(fields.name.as_deref(), Some("/p"));
        let arns: Vec<&str> = fields.arns.iter().map(AsRef::as_ref).collect();
        assert_eq!(
            arns,
            ["arn:aws:kms:us-east-1:1:key/k1", "arn:aws:s3:::b", "x"]
        );
    }

    #[test]
    fn odd_shapes_name_nothing() {
        for body in [
            r#""eventName":"A","requestParameters":null,"resources":null"#,
            r#""eventName":"A","requestParameters":"text","resources":{"ARN":"x"}"#,
            r#""eventName":"A","requestParameters":[1,2],"resources":"x""#,
        ] {
            let event = event(body);
            let fields = ResourceFields::read(&event);
            assert_eq!(fields.parameters().count(), 0, "{body}");
            assert!(fields.arns.is_empty() && fields.key.is_none(), "{body}");
        }
        // The last of a repeated key wins, as in a JSON tree.
        for body in [
            r#""eventName":"A","requestParameters":{"tableName":"a","tableName":"b"}"#,
            r#""eventName":"A","requestParameters":{"tableName":"a"},"requestParameters":{"tableName":"b"}"#,
        ] {
            let event = event(body);
            let fields = ResourceFields::read(&event);
            assert_eq!(
                fields.parameters().collect::<Vec<_>>(),
                [("tableName", "b")]
            );
        }
    }
}
