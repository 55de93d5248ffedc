//! CloudWatch Logs filter patterns: the first line of the input is a pattern, the rest a record
//! to match it against. Parsing must give a pattern or an error with a column, and matching
//! must never panic or recurse without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trailhound_detect::metric_filter::FilterPattern;

const RECORD: &str = r#"{"eventVersion":"1.08","eventTime":"2026-01-02T03:04:05Z","eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"errorCode":"AccessDenied","requestParameters":{"userName":"bob","policyName":"p","tags":[{"key":"a","value":"1"}]},"responseElements":null,"readOnly":false,"eventID":"e1","recipientAccountId":"123456789012"}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, record) = text.split_once('\n').unwrap_or((text, RECORD));
    let Ok(parsed) = FilterPattern::parse(pattern) else {
        return;
    };
    let _ = parsed.required_text();
    let _ = parsed.required_event_names();
    let json: Value = serde_json::from_str(record).unwrap_or(Value::Null);
    let _ = parsed.matches(record, &json);
    let fixed: Value = serde_json::from_str(RECORD).unwrap_or(Value::Null);
    let _ = parsed.matches(RECORD, &fixed);
});
