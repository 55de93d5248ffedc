//! Amazon EventBridge event patterns: the first line of the input is a pattern, the rest an
//! event to match it against. Any text must compile or give an error naming the bad part.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trailhound_detect::eventbridge::EventPattern;

const EVENT: &str = r#"{"version":"0","id":"e1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"123456789012","time":"2026-01-02T03:04:05Z","region":"us-east-1","resources":[],"detail":{"eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","sourceIPAddress":"198.51.100.20","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/deploy/s1"},"requestParameters":{"bucketName":"logs.example.com","size":42,"flags":[true,false,null]}}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, event) = text.split_once('\n').unwrap_or((text, EVENT));
    let Ok(parsed) = EventPattern::parse(pattern) else {
        return;
    };
    let _ = parsed.required_event_names();
    if let Ok(value) = serde_json::from_str::<Value>(event) {
        let _ = parsed.matches(&value);
    }
    if let Ok(value) = serde_json::from_str::<Value>(EVENT) {
        let _ = parsed.matches(&value);
    }
});
