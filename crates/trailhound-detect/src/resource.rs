//! The resources a record names, read from its raw text in one pass that skips everything
//! else, without building the record's JSON tree.
//!
//! Policies read the resource fields of every call to a protected service (every DynamoDB or
//! KMS call, say): most of a busy account. Building a `serde_json::Value` tree for each was
//! the larger part of that cost; borrowing the few strings needed from the text is not.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
    /// Reads `raw`, a record's JSON text. Text that is not a JSON object yields nothing, as
    /// the record's JSON tree would be empty.
    pub(crate) fn read(raw: &'a str) -> Self {
        let mut deserializer = serde_json::Deserializer::from_str(raw);
        deserializer
            .deserialize_map(RecordVisitor)
            .unwrap_or_default()
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

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = ResourceFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = ResourceFields::default();
        while let Some(Loose::Text(key)) = map.next_key::<Loose<'de>>()? {
            match key.as_ref() {
                "requestParameters" => {
                    // A repeated object replaces the earlier one, as in a JSON tree.
                    out.parameters.clear();
                    out.key = None;
                    out.name = None;
                    map.next_value_seed(ParametersSeed(&mut out))?;
                }
                "resources" => out.arns = map.next_value::<Arns<'de>>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Visitor methods for the JSON values a visitor does not care about: scalars become
/// `$value`; arrays and objects are skipped (when the visitor does not read them itself).
macro_rules! skip_scalars {
    ($value:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

macro_rules! skip_strings {
    ($value:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

macro_rules! skip_seqs {
    ($value:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
}

macro_rules! skip_maps {
    ($value:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($value)
        }
    };
}

/// `requestParameters`: an object whose resource-naming strings are kept; anything else
/// (null, another type) names nothing.
struct ParametersSeed<'o, 'de>(&'o mut ResourceFields<'de>);

impl<'de> de::DeserializeSeed<'de> for ParametersSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ParametersSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request parameters")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Loose<'de>>()? {
            let value = map.next_value::<Loose<'de>>()?;
            let (Loose::Text(key), Loose::Text(value)) = (key, value) else {
                continue;
            };
            match key.as_ref() {
                "key" => self.0.key = Some(value),
                "name" => self.0.name = Some(value),
                other => {
                    if let Some(index) = PARAMETER_KEYS.iter().position(|k| *k == other) {
                        self.0.set_parameter(index, value);
                    }
                }
            }
        }
        Ok(())
    }

    skip_scalars!(());
    skip_strings!(());
    skip_seqs!(());
}

/// `resources`: the ARN of each entry that is an object with a string `ARN` (or `arn`).
struct Arns<'a>(Vec<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for Arns<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ArnsVisitor)
    }
}

struct ArnsVisitor;

impl<'de> Visitor<'de> for ArnsVisitor {
    type Value = Arns<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of resources")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(ResourceEntry(arn)) = seq.next_element::<ResourceEntry<'de>>()? {
            out.extend(arn);
        }
        Ok(Arns(out))
    }

    skip_scalars!(Arns(Vec::new()));
    skip_strings!(Arns(Vec::new()));
    skip_maps!(Arns(Vec::new()));
}

/// One `resources[]` entry: its `ARN`, else its `arn`, when a string.
struct ResourceEntry<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for ResourceEntry<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ResourceEntryVisitor)
    }
}

struct ResourceEntryVisitor;

impl<'de> Visitor<'de> for ResourceEntryVisitor {
    type Value = ResourceEntry<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a resource")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut upper, mut lower) = (None, None);
        while let Some(key) = map.next_key::<Loose<'de>>()? {
            let value = map.next_value::<Loose<'de>>()?;
            if let (Loose::Text(key), Loose::Text(value)) = (key, value) {
                match key.as_ref() {
                    "ARN" => upper = Some(value),
                    "arn" => lower = Some(value),
                    _ => {}
                }
            }
        }
        Ok(ResourceEntry(upper.or(lower)))
    }

    skip_scalars!(ResourceEntry(None));
    skip_strings!(ResourceEntry(None));
    skip_seqs!(ResourceEntry(None));
}

/// Any JSON value: a string is kept (borrowed when it has no escapes), anything else skipped.
enum Loose<'a> {
    Text(Cow<'a, str>),
    Other,
}

impl<'de> de::Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Loose::Text(Cow::Owned(text)))
    }

    skip_scalars!(Loose::Other);
    skip_seqs!(Loose::Other);
    skip_maps!(Loose::Other);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resource_fields_and_skips_the_rest() {
        let raw = r#"{"eventVersion":"1.08","userIdentity":{"arn":"arn:aws:iam::1:user/a","x":[1,{"y":null}]},
            "requestParameters":{"tableName":"orders","bucketName":"b-1","key":"k/1","name":"/p",
              "keyId":7,"nested":{"tableName":"not-this"},"functionName":["x"]},
            "resources":[{"ARN":"arn:aws:kms:us-east-1:1:key/k1","arn":"ignored"},{"arn":"arn:aws:s3:::b"},
              "not-an-object",{"type":"AWS::S3::Object"}],"eventName":"GetObject"}"#;
        let fields = ResourceFields::read(raw);
        let params: Vec<(&str, &str)> = fields.parameters().collect();
        assert_eq!(params, [("tableName", "orders"), ("bucketName", "b-1")]);
        assert_eq!(fields.key.as_deref(), Some("k/1"));
        assert_eq!(fields.name.as_deref(), Some("/p"));
        let arns: Vec<&str> = fields.arns.iter().map(AsRef::as_ref).collect();
        assert_eq!(arns, ["arn:aws:kms:us-east-1:1:key/k1", "arn:aws:s3:::b"]);
    }

    #[test]
    fn odd_shapes_name_nothing() {
        for raw in [
            r#"{"requestParameters":null,"resources":null}"#,
            r#"{"requestParameters":"text","resources":{"ARN":"x"}}"#,
            r#"{"requestParameters":[1,2],"resources":"x"}"#,
            "[1,2]",
            "not json",
        ] {
            let fields = ResourceFields::read(raw);
            assert_eq!(fields.parameters().count(), 0, "{raw}");
            assert!(fields.arns.is_empty() && fields.key.is_none(), "{raw}");
        }
        // The last of a repeated key wins, as in a JSON tree.
        let fields =
            ResourceFields::read(r#"{"requestParameters":{"tableName":"a","tableName":"b"}}"#);
        assert_eq!(
            fields.parameters().collect::<Vec<_>>(),
            [("tableName", "b")]
        );
    }
}
