//! A property run against the OpenAPI document: for every documented operation, requests with
//! generated parameters and bodies (valid and invalid) must get a documented status, never a
//! 5xx, and every JSON answer must match the documented schema.

#![allow(clippy::unwrap_used, clippy::panic, clippy::collapsible_if)]

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, header};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;
use trailhound_server::{OPENAPI, router};

struct Doc {
    root: Value,
}

impl Doc {
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.trim_start_matches('#');
                self.resolve(
                    self.root
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("dangling {r}")),
                )
            }
            None => schema,
        }
    }

    /// Checks `value` against `schema`; returns the first mismatch.
    fn check(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
            let matching = options
                .iter()
                .filter(|s| self.check(s, value, at).is_ok())
                .count();
            return if matching == 1 {
                Ok(())
            } else {
                Err(format!("{at}: {matching} oneOf branches match {value}"))
            };
        }
        if let Some(types) = schema.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let actual = match value {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            let ok =
                allowed.contains(&actual) || (actual == "integer" && allowed.contains(&"number"));
            if !ok {
                return Err(format!("{at}: expected {allowed:?}, got {value}"));
            }
        }
        if let (Some(options), false) = (
            schema.get("enum").and_then(Value::as_array),
            value.is_null(),
        ) {
            if !options.contains(value) {
                return Err(format!("{at}: {value} not in {options:?}"));
            }
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                if n < min {
                    return Err(format!("{at}: {n} < {min}"));
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                if n > max {
                    return Err(format!("{at}: {n} > {max}"));
                }
            }
        }
        if let Value::Object(map) = value {
            let props = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap();
                if !map.contains_key(name) {
                    return Err(format!("{at}: missing {name}"));
                }
            }
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check(s, v, &format!("{at}.{k}"))?,
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        return Err(format!("{at}: undocumented property {k}"));
                    }
                    None => {}
                }
            }
        }
        if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
            for (i, v) in items.iter().enumerate() {
                self.check(item, v, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    /// A value for `schema`: usually valid, sometimes not.
    fn generate(&self, schema: &Value, rng: &mut StdRng, pool: &[String]) -> Value {
        let schema = self.resolve(schema);
        if rng.random_bool(0.1) {
            return wild(rng, pool);
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            return options[rng.random_range(0..options.len())].clone();
        }
        let ty = match schema.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(ts)) => ts[rng.random_range(0..ts.len())]
                .as_str()
                .unwrap()
                .to_owned(),
            _ => "string".to_owned(),
        };
        match ty.as_str() {
            "integer" => {
                let min = schema.get("minimum").and_then(Value::as_i64).unwrap_or(-5);
                let max = schema
                    .get("maximum")
                    .and_then(Value::as_i64)
                    .unwrap_or(1_000_000)
                    .min(2000);
                json!(rng.random_range(min..=max.max(min)))
            }
            "number" => json!(rng.random_range(-10.0..10.0)),
            "boolean" => json!(rng.random_bool(0.5)),
            "null" => Value::Null,
            "array" => Value::Array(Vec::new()),
            "object" => {
                let mut out = Map::new();
                let required: BTreeSet<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (k, s) in schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if required.contains(k.as_str()) || rng.random_bool(0.5) {
                        out.insert(k.clone(), self.generate(s, rng, pool));
                    }
                }
                Value::Object(out)
            }
            _ => json!(pool[rng.random_range(0..pool.len())].clone()),
        }
    }
}

fn wild(rng: &mut StdRng, pool: &[String]) -> Value {
    match rng.random_range(0..6) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!("\u{0}💥'\";--"),
        3 => json!(pool[rng.random_range(0..pool.len())]),
        4 => json!(["x"]),
        _ => json!({"x": 1}),
    }
}

fn as_param(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn every_operation_answers_as_documented() {
    let doc = Doc {
        root: serde_json::from_str(OPENAPI).unwrap(),
    };
    assert!(doc.root["openapi"].as_str().unwrap().starts_with("3."));
    let dir = tempfile::tempdir().unwrap();
    let alerts = common::fill(dir.path());
    let app = router(&common::config(dir.path()), true).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut pool: Vec<String> = vec![
        String::new(),
        " ".into(),
        "open".into(),
        "critical".into(),
        "high,low".into(),
        "2026-03-02".into(),
        "2026-03-02T09:30:00Z".into(),
        common::ALICE.into(),
        common::DEPLOY.into(),
        "203.0.113.7".into(),
        "AKIAEXAMPLEALICE1".into(),
        "backup-admin".into(),
        "TH1001".into(),
        "SELECT count(*) FROM events".into(),
        "DELETE FROM alerts".into(),
        "acknowledge".into(),
        common::TOKEN.into(),
        "ünïcødé".into(),
        "a".repeat(5000),
    ];
    pool.extend(alerts.iter().map(|a| a.id.clone()));

    let mut operations = Vec::new();
    for (path, item) in doc.root["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.push((path.clone(), method.clone(), op.clone()));
        }
    }
    assert!(operations.len() >= 13, "every route is documented");
    let seen_ok = RefCell::new(BTreeSet::new());
    for (path, method, op) in &operations {
        // A fixed seed: the run is the same every time, so the "every operation succeeded at
        // least once" check below cannot flake on an unlucky draw.
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 64,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        );
        let result = runner.run(&proptest::prelude::any::<u64>(), |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut uri = path.clone();
            let mut query = Vec::new();
            for param in op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = param["name"].as_str().unwrap();
                let place = param["in"].as_str().unwrap();
                let required = param["required"].as_bool().unwrap_or(false);
                if place == "header" {
                    continue;
                }
                if !required && place == "query" && rng.random_bool(0.5) {
                    continue;
                }
                let value =
                    as_param(&doc.generate(&param["schema"], &mut rng, &pool)).unwrap_or_default();
                match place {
                    "path" => {
                        let value = if rng.random_bool(0.7) {
                            alerts[rng.random_range(0..alerts.len())].id.clone()
                        } else {
                            value
                        };
                        uri = uri.replace(&format!("{{{name}}}"), &encode(&value));
                    }
                    _ => query.push(format!("{name}={}", encode(&value))),
                }
            }
            if !query.is_empty() {
                uri = format!("{uri}?{}", query.join("&"));
            }
            let mut request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header(header::HOST, "192.0.2.10:8080")
                .header("x-trailhound-csrf", "1");
            let authorised = rng.random_bool(0.9);
            if authorised {
                request =
                    request.header(header::AUTHORIZATION, format!("Bearer {}", common::TOKEN));
            }
            let body = match op.pointer("/requestBody/content/application~1json/schema") {
                Some(schema) => {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                    Body::from(doc.generate(schema, &mut rng, &pool).to_string())
                }
                None => Body::empty(),
            };
            let response = runtime
                .block_on(app.clone().oneshot(request.body(body).unwrap()))
                .unwrap();
            let status = response.status();
            let code = status.as_str().to_owned();
            let documented = op["responses"].get(&code);
            if status.is_server_error() || documented.is_none() {
                return Err(TestCaseError::fail(format!(
                    "{method} {uri}: undocumented status {status}"
                )));
            }
            if !authorised && op.get("security") != Some(&json!([])) && status.as_u16() != 401 {
                return Err(TestCaseError::fail(format!(
                    "{method} {uri}: {status} without a token"
                )));
            }
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if content_type.starts_with("text/event-stream") {
                return Ok(());
            }
            let bytes = runtime
                .block_on(axum::body::to_bytes(response.into_body(), 1 << 26))
                .unwrap();
            if let Some(schema) =
                documented.and_then(|d| d.pointer("/content/application~1json/schema"))
            {
                let value: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| TestCaseError::fail(format!("{method} {uri}: not JSON ({e})")))?;
                doc.check(schema, &value, "$")
                    .map_err(|e| TestCaseError::fail(format!("{method} {uri} {status}: {e}")))?;
            }
            if status.is_success() {
                seen_ok.borrow_mut().insert(format!("{method} {path}"));
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{method} {path}: {e}");
        }
    }
    // The run reached a success on every operation, not only errors.
    for (path, method, _) in &operations {
        // The stream never ends; a successful login needs the one right token (api.rs covers it).
        if path == "/api/alerts/stream" || path == "/api/login" {
            continue;
        }
        assert!(
            seen_ok.borrow().contains(&format!("{method} {path}")),
            "no successful {method} {path} generated"
        );
    }
}
