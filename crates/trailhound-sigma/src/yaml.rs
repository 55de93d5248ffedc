//! A YAML tree with positions, read with serde-saphyr.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::error::{Error, Loc, Result};

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub loc: Loc,
}

/// A YAML value; maps keep their order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or empty.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key as text.
    pub text: String,
    /// Where it is.
    pub loc: Loc,
}

impl Node {
    /// The entry of a mapping node.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as a string, when it is a scalar string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar as text (numbers and booleans in their YAML form).
    #[must_use]
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Converts to JSON (for custom keys).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.text.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Deep-merges `other` into `self` (maps merge key by key, anything else is replaced):
    /// the semantics of a collection's `action: global` document.
    pub fn merge(&mut self, other: &Node) {
        match (&mut self.value, &other.value) {
            (Value::Map(mine), Value::Map(theirs)) => {
                for (key, value) in theirs {
                    if let Some((_, existing)) = mine.iter_mut().find(|(k, _)| k.text == key.text) {
                        existing.merge(value);
                    } else {
                        mine.push((key.clone(), value.clone()));
                    }
                }
            }
            (mine, theirs) => *mine = theirs.clone(),
        }
    }
}

fn loc_of(location: &serde_saphyr::Location) -> Loc {
    Loc {
        line: location.line(),
        column: location.column(),
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(Node {
                loc: loc_of(&item.referenced),
                value: item.value,
            });
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Value>>()? {
            let text = match key.value {
                Value::Str(s) => s,
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => "null".to_owned(),
                Value::Seq(_) | Value::Map(_) => {
                    return Err(de::Error::custom("mapping keys must be scalars"));
                }
            };
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((
                Key {
                    text,
                    loc: loc_of(&key.referenced),
                },
                Node {
                    loc: loc_of(&value.referenced),
                    value: value.value,
                },
            ));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Parses every document of a YAML text (empty documents are skipped).
///
/// # Errors
/// [`Error::Yaml`] with the parser's position.
pub fn parse_documents(text: &str, path: &str) -> Result<Vec<Node>> {
    let docs: Vec<Spanned<Value>> = serde_saphyr::from_multiple(text).map_err(|error| {
        let loc = error.location().map(|l| loc_of(&l)).unwrap_or_default();
        let message = error.to_string();
        let message = message.lines().next().unwrap_or("").trim().to_owned();
        Error::Yaml {
            path: path.to_owned(),
            loc,
            message,
        }
    })?;
    Ok(docs
        .into_iter()
        .map(|d| Node {
            loc: loc_of(&d.referenced),
            value: d.value,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_multi_documents() {
        let text = "title: a\ndetection:\n  sel:\n    eventName: X\n---\ntitle: b\n";
        let docs = parse_documents(text, "t.yml").unwrap();
        assert_eq!(docs.len(), 2);
        let sel = docs[0].get("detection").unwrap().get("sel").unwrap();
        let Value::Map(entries) = &sel.value else {
            panic!("map")
        };
        assert_eq!(entries[0].0.text, "eventName");
        assert_eq!(entries[0].0.loc, Loc { line: 4, column: 5 });
        assert_eq!(entries[0].1.loc.line, 4);
        assert_eq!(docs[1].get("title").unwrap().as_str(), Some("b"));
    }

    #[test]
    fn bad_yaml_has_position() {
        let err = parse_documents("a: [1, 2\nb: c", "x.yml").unwrap_err();
        let Error::Yaml { loc, .. } = err else {
            panic!("yaml error")
        };
        assert!(loc.line >= 1);
    }
}
