//! CloudWatch Logs filter patterns: the first line of the input is a pattern, the rest a record
//! to match it against (any text: selectors are read from it in place). Parsing must give a
//! pattern or an error with a column, and matching must never panic or recurse without bound;
//! on a record's event, matching must agree with matching its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailhound_core::{Event, Origin};
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
    let on_text = parsed.matches(record);
    if let Ok(event) = Event::from_json(record, Origin::new("fuzz", 0)) {
        assert_eq!(parsed.matches_event(&event), on_text, "event and text disagree");
    }
    let _ = parsed.matches(RECORD);
});
