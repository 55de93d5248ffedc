//! What an SQS message body says: which S3 objects to read, or which CloudTrail records it
//! carries itself.
//!
//! Accepted bodies (each also inside an SNS envelope, `{"Type":"Notification","Message":"…"}`):
//! - an S3 event notification, `{"Records":[{"eventSource":"aws:s3","s3":{…}}]}`
//!   (`ObjectCreated:*` only; keys are URL-encoded there);
//! - CloudTrail's own SNS notice, `{"s3Bucket":"…","s3ObjectKey":["…"]}`;
//! - an EventBridge `Object Created` event (`source` `aws.s3`);
//! - an EventBridge CloudTrail event (`detail-type` `AWS API Call via CloudTrail` and the other
//!   `… via CloudTrail` kinds): the record is `detail`;
//! - CloudTrail records themselves (`{"Records":[…]}` of API calls, or one record).
//!
//! S3's `s3:TestEvent` and other events (`ObjectRemoved:*`) are recognised and ignored.

use serde_json::Value;

/// One S3 object to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Object key, decoded.
    pub key: String,
    /// Size in bytes, when the notification says.
    pub size: Option<u64>,
}

/// What one message body carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notice {
    /// Objects to read.
    pub objects: Vec<ObjectRef>,
    /// CloudTrail records carried inline (JSON text), e.g. from EventBridge.
    pub records: Vec<String>,
    /// Events recognised and deliberately ignored (test events, deletions).
    pub ignored: u32,
}

impl Notice {
    /// True when the body carried nothing to do.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.records.is_empty()
    }
}

/// Why a body is not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeError {
    /// Not JSON.
    NotJson(String),
    /// JSON of no known shape.
    UnknownShape,
}

impl std::fmt::Display for NoticeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoticeError::NotJson(e) => write!(f, "message body is not json: {e}"),
            NoticeError::UnknownShape => {
                f.write_str("message body is of no known notification shape")
            }
        }
    }
}

/// Parses one SQS message body.
///
/// # Errors
/// The body is not JSON, or of no known shape.
pub fn parse_body(body: &str) -> Result<Notice, NoticeError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| NoticeError::NotJson(e.to_string()))?;
    let mut notice = Notice::default();
    parse_value(&value, &mut notice, 0)?;
    Ok(notice)
}

fn parse_value(value: &Value, notice: &mut Notice, depth: u8) -> Result<(), NoticeError> {
    let Some(object) = value.as_object() else {
        return Err(NoticeError::UnknownShape);
    };
    // SNS envelope: the payload is a JSON string in `Message`.
    if object.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(message) = object.get("Message").and_then(Value::as_str)
    {
        if depth > 2 {
            return Err(NoticeError::UnknownShape);
        }
        let inner: Value =
            serde_json::from_str(message).map_err(|e| NoticeError::NotJson(e.to_string()))?;
        return parse_value(&inner, notice, depth + 1);
    }
    // S3's test event when a notification is configured.
    if object.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        notice.ignored += 1;
        return Ok(());
    }
    // CloudTrail's SNS notice of delivered files.
    if let Some(keys) = object.get("s3ObjectKey").and_then(Value::as_array) {
        let bucket = object
            .get("s3Bucket")
            .and_then(Value::as_str)
            .ok_or(NoticeError::UnknownShape)?;
        for key in keys.iter().filter_map(Value::as_str) {
            notice.objects.push(ObjectRef {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                size: None,
            });
        }
        return Ok(());
    }
    // EventBridge events.
    if let (Some(detail_type), Some(detail)) = (
        object.get("detail-type").and_then(Value::as_str),
        object.get("detail"),
    ) {
        if detail_type.ends_with("via CloudTrail") {
            if detail.get("eventName").is_none() {
                return Err(NoticeError::UnknownShape);
            }
            notice.records.push(detail.to_string());
            return Ok(());
        }
        if detail_type == "Object Created" {
            let bucket = detail
                .pointer("/bucket/name")
                .and_then(Value::as_str)
                .ok_or(NoticeError::UnknownShape)?;
            let key = detail
                .pointer("/object/key")
                .and_then(Value::as_str)
                .ok_or(NoticeError::UnknownShape)?;
            notice.objects.push(ObjectRef {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                size: detail.pointer("/object/size").and_then(Value::as_u64),
            });
            return Ok(());
        }
        notice.ignored += 1;
        return Ok(());
    }
    // S3 event notifications, or CloudTrail records sent as they are.
    if let Some(records) = object.get("Records").and_then(Value::as_array) {
        for record in records {
            if record.get("s3").is_some() {
                let name = record
                    .get("eventName")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !name.starts_with("ObjectCreated:") {
                    notice.ignored += 1;
                    continue;
                }
                let bucket = record
                    .pointer("/s3/bucket/name")
                    .and_then(Value::as_str)
                    .ok_or(NoticeError::UnknownShape)?;
                let key = record
                    .pointer("/s3/object/key")
                    .and_then(Value::as_str)
                    .ok_or(NoticeError::UnknownShape)?;
                notice.objects.push(ObjectRef {
                    bucket: bucket.to_owned(),
                    key: url_decode(key),
                    size: record.pointer("/s3/object/size").and_then(Value::as_u64),
                });
            } else if is_cloudtrail_record(record) {
                notice.records.push(record.to_string());
            } else {
                return Err(NoticeError::UnknownShape);
            }
        }
        return Ok(());
    }
    if is_cloudtrail_record(value) {
        notice.records.push(value.to_string());
        return Ok(());
    }
    Err(NoticeError::UnknownShape)
}

fn is_cloudtrail_record(value: &Value) -> bool {
    value.get("eventName").is_some()
        && value.get("eventSource").is_some()
        && value.get("eventTime").is_some()
}

/// Decodes an S3 notification key: `+` is a space, `%XX` a byte.
#[must_use]
pub fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/15/123456789012_CloudTrail_us-east-1_20260115T1000Z_abc.json.gz";

    fn s3_notification(key: &str) -> String {
        serde_json::json!({"Records":[{
            "eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventTime":"2026-01-15T10:05:00.000Z","eventName":"ObjectCreated:Put",
            "s3":{"s3SchemaVersion":"1.0","configurationId":"trail",
                "bucket":{"name":"trail-bucket","arn":"arn:aws:s3:::trail-bucket"},
                "object":{"key":key,"size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e"}}}]})
        .to_string()
    }

    #[test]
    fn s3_event_notification() {
        let notice = parse_body(&s3_notification(KEY)).unwrap();
        assert_eq!(notice.objects.len(), 1);
        assert_eq!(notice.objects[0].bucket, "trail-bucket");
        assert_eq!(notice.objects[0].key, KEY);
        assert_eq!(notice.objects[0].size, Some(1024));
    }

    #[test]
    fn keys_are_url_decoded() {
        let notice = parse_body(&s3_notification("logs/a+b%3Dc.json")).unwrap();
        assert_eq!(notice.objects[0].key, "logs/a b=c.json");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%4"), "%4");
    }

    #[test]
    fn sns_wrapped_s3_notification() {
        let body = serde_json::json!({"Type":"Notification","MessageId":"m1",
            "TopicArn":"arn:aws:sns:us-east-1:123456789012:trail-topic",
            "Message": s3_notification(KEY)})
        .to_string();
        let notice = parse_body(&body).unwrap();
        assert_eq!(notice.objects[0].key, KEY);
    }

    #[test]
    fn cloudtrail_sns_notice() {
        let message = serde_json::json!({"s3Bucket":"trail-bucket","s3ObjectKey":[KEY, "k2"]});
        let body =
            serde_json::json!({"Type":"Notification","Message":message.to_string()}).to_string();
        let notice = parse_body(&body).unwrap();
        assert_eq!(notice.objects.len(), 2);
        assert_eq!(notice.objects[1].key, "k2");
    }

    #[test]
    fn eventbridge_object_created() {
        let body = serde_json::json!({"version":"0","id":"1","detail-type":"Object Created",
            "source":"aws.s3","account":"123456789012","region":"us-east-1",
            "detail":{"version":"0","bucket":{"name":"trail-bucket"},
                "object":{"key":KEY,"size":99},"reason":"PutObject"}})
        .to_string();
        let notice = parse_body(&body).unwrap();
        assert_eq!(notice.objects[0].size, Some(99));
    }

    #[test]
    fn eventbridge_cloudtrail_event() {
        let body = serde_json::json!({"version":"0","id":"2",
            "detail-type":"AWS API Call via CloudTrail","source":"aws.cloudtrail",
            "account":"123456789012","region":"us-east-1",
            "detail":{"eventVersion":"1.08","eventTime":"2026-01-15T10:00:00Z",
                "eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging",
                "eventID":"e1","recipientAccountId":"123456789012"}})
        .to_string();
        let notice = parse_body(&body).unwrap();
        assert_eq!(notice.records.len(), 1);
        assert!(notice.records[0].contains("StopLogging"));
    }

    #[test]
    fn ignored_and_rejected() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"trail-bucket"}"#;
        let notice = parse_body(test).unwrap();
        assert!(notice.is_empty());
        assert_eq!(notice.ignored, 1);
        let removed = s3_notification(KEY).replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(parse_body(&removed).unwrap().is_empty());
        assert!(matches!(
            parse_body("not json"),
            Err(NoticeError::NotJson(_))
        ));
        assert_eq!(parse_body(r#"{"a":1}"#), Err(NoticeError::UnknownShape));
        assert_eq!(parse_body("[1]"), Err(NoticeError::UnknownShape));
    }
}
