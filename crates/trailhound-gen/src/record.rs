//! Renders CloudTrail records as JSON text into a reused buffer, without building value trees.

use std::fmt::Write as _;

use rand::Rng;

/// Pushes `s` as a JSON string (with quotes), escaping what JSON requires.
pub(crate) fn push_str(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// Pushes `"key":"value",`.
pub(crate) fn kv(buf: &mut String, key: &str, value: &str) {
    buf.push('"');
    buf.push_str(key);
    buf.push_str("\":");
    push_str(buf, value);
    buf.push(',');
}

/// Writes `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
pub(crate) fn push_time(buf: &mut String, secs: i64) {
    let (y, mo, d, h, mi, s, _) = trailhound_core::Timestamp::from_secs(secs).parts();
    let _ = write!(buf, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
}

/// The time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn time_string(secs: i64) -> String {
    let mut s = String::with_capacity(20);
    push_time(&mut s, secs);
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A version-4 UUID from the seeded generator.
pub(crate) fn push_uuid<R: Rng>(buf: &mut String, rng: &mut R) {
    let mut bytes: [u8; 16] = rng.random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            buf.push('-');
        }
        buf.push(HEX[usize::from(b >> 4)] as char);
        buf.push(HEX[usize::from(b & 0x0f)] as char);
    }
}

/// A version-4 UUID string.
pub(crate) fn uuid<R: Rng>(rng: &mut R) -> String {
    let mut s = String::with_capacity(36);
    push_uuid(&mut s, rng);
    s
}

/// `n` random characters from `alphabet`.
pub(crate) fn random_chars<R: Rng>(rng: &mut R, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Upper-case letters and digits, the alphabet of key and principal ids.
pub(crate) const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Letters and digits, the alphabet of delivery file name suffixes.
pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Lower-case hex.
pub(crate) const LOWER_HEX: &[u8] = b"0123456789abcdef";

/// An access key id: `AKIA` (long-term) or `ASIA` (temporary) and 16 characters.
pub(crate) fn access_key<R: Rng>(rng: &mut R, temporary: bool) -> String {
    let mut s = String::from(if temporary { "ASIA" } else { "AKIA" });
    s.push_str(&random_chars(rng, UPPER_ALNUM, 16));
    s
}

/// A unique id with a prefix (`AIDA`, `AROA`): prefix plus 17 characters.
pub(crate) fn unique_id<R: Rng>(rng: &mut R, prefix: &str) -> String {
    let mut s = String::from(prefix);
    s.push_str(&random_chars(rng, UPPER_ALNUM, 17));
    s
}

/// What kind of event a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    /// A management API call.
    Management,
    /// A data-plane call (S3 objects, DynamoDB items, SQS messages…).
    Data,
    /// A console sign-in.
    SignIn,
    /// An event AWS emits on its own.
    ServiceEvent,
}

/// One call to render. Borrowed fields; JSON fragments (`request`, `response`, `additional`,
/// `resources`) are written as is and must be valid JSON (or empty for absent).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) time: i64,
    pub(crate) version: &'a str,
    pub(crate) identity: &'a str,
    pub(crate) source: &'a str,
    pub(crate) name: &'a str,
    pub(crate) region: &'a str,
    pub(crate) ip: &'a str,
    pub(crate) user_agent: &'a str,
    pub(crate) error: Option<(&'a str, &'a str)>,
    pub(crate) request: &'a str,
    pub(crate) response: &'a str,
    pub(crate) additional: &'a str,
    pub(crate) resources: &'a str,
    pub(crate) read_only: bool,
    pub(crate) category: Category,
    pub(crate) account: &'a str,
    pub(crate) vpc_endpoint: Option<&'a str>,
    pub(crate) host: &'a str,
}

impl<'a> Call<'a> {
    /// A management call with no parameters; set the rest with struct update syntax.
    pub(crate) fn new(
        time: i64,
        identity: &'a str,
        source: &'a str,
        name: &'a str,
        region: &'a str,
        account: &'a str,
    ) -> Self {
        Call {
            time,
            version: version_for(source),
            identity,
            source,
            name,
            region,
            ip: "AWS Internal",
            user_agent: "AWS Internal",
            error: None,
            request: "",
            response: "",
            additional: "",
            resources: "",
            read_only: is_read_only(name),
            category: Category::Management,
            account,
            vpc_endpoint: None,
            host: "",
        }
    }
}

/// The `eventVersion` a service writes today.
pub(crate) fn version_for(source: &str) -> &'static str {
    match source.as_bytes().first() {
        Some(b's') => "1.10",
        Some(b'k' | b'd') => "1.08",
        Some(b'i' | b'c') => "1.11",
        _ => "1.09",
    }
}

/// Whether an API is read-only, by its verb.
pub(crate) fn is_read_only(name: &str) -> bool {
    [
        "Get", "List", "Describe", "Head", "Lookup", "Scan", "Query", "BatchGet", "Search",
        "Decrypt",
    ]
    .iter()
    .any(|p| name.starts_with(p))
        || name == "ReceiveMessage"
}

/// Renders `call` into `buf` (cleared first). Returns the event id written.
pub(crate) fn render<R: Rng>(buf: &mut String, call: &Call<'_>, rng: &mut R) -> String {
    buf.clear();
    buf.push_str("{\"eventVersion\":\"");
    buf.push_str(call.version);
    buf.push_str("\",\"userIdentity\":");
    buf.push_str(call.identity);
    buf.push_str(",\"eventTime\":\"");
    push_time(buf, call.time);
    buf.push_str("\",");
    kv(buf, "eventSource", call.source);
    kv(buf, "eventName", call.name);
    kv(buf, "awsRegion", call.region);
    kv(buf, "sourceIPAddress", call.ip);
    kv(buf, "userAgent", call.user_agent);
    if let Some((code, message)) = call.error {
        kv(buf, "errorCode", code);
        kv(buf, "errorMessage", message);
    }
    buf.push_str("\"requestParameters\":");
    buf.push_str(if call.request.is_empty() {
        "null"
    } else {
        call.request
    });
    buf.push_str(",\"responseElements\":");
    buf.push_str(if call.response.is_empty() || call.error.is_some() {
        "null"
    } else {
        call.response
    });
    if !call.additional.is_empty() {
        buf.push_str(",\"additionalEventData\":");
        buf.push_str(call.additional);
    }
    buf.push_str(",\"requestID\":\"");
    if call.source == "s3.amazonaws.com" {
        let id = random_chars(rng, b"0123456789ABCDEF", 16);
        buf.push_str(&id);
    } else {
        push_uuid(buf, rng);
    }
    buf.push_str("\",\"eventID\":\"");
    let id_start = buf.len();
    push_uuid(buf, rng);
    let event_id = buf[id_start..].to_owned();
    buf.push_str("\",\"readOnly\":");
    buf.push_str(if call.read_only { "true" } else { "false" });
    if !call.resources.is_empty() {
        buf.push_str(",\"resources\":");
        buf.push_str(call.resources);
    }
    let (event_type, management, category) = match call.category {
        Category::Management => ("AwsApiCall", true, "Management"),
        Category::Data => ("AwsApiCall", false, "Data"),
        Category::SignIn => ("AwsConsoleSignIn", true, "Management"),
        Category::ServiceEvent => ("AwsServiceEvent", true, "Management"),
    };
    buf.push_str(",\"eventType\":\"");
    buf.push_str(event_type);
    buf.push_str("\",\"managementEvent\":");
    buf.push_str(if management { "true" } else { "false" });
    buf.push_str(",\"recipientAccountId\":\"");
    buf.push_str(call.account);
    buf.push('"');
    if let Some(vpce) = call.vpc_endpoint {
        buf.push_str(",\"vpcEndpointId\":\"");
        buf.push_str(vpce);
        buf.push_str("\",\"vpcEndpointAccountId\":\"");
        buf.push_str(call.account);
        buf.push('"');
    }
    buf.push_str(",\"eventCategory\":\"");
    buf.push_str(category);
    buf.push('"');
    if call.category != Category::ServiceEvent && !call.ip.starts_with("AWS") {
        buf.push_str(",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":");
        if call.host.is_empty() {
            let service = call
                .source
                .strip_suffix(".amazonaws.com")
                .unwrap_or(call.source);
            let _ = write!(buf, "\"{service}.{}.amazonaws.com\"", call.region);
        } else {
            push_str(buf, call.host);
        }
        buf.push('}');
    }
    if call.category == Category::SignIn {
        buf.push_str(",\"sessionCredentialFromConsole\":\"true\"");
    }
    buf.push('}');
    event_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn renders_a_decodable_record() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut buf = String::new();
        let identity = r#"{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"}"#;
        let call = Call {
            ip: "192.0.2.10",
            user_agent: "aws-cli/2.15.0 \"quoted\"",
            ..Call::new(
                1_767_225_600,
                identity,
                "s3.amazonaws.com",
                "ListBuckets",
                "us-east-1",
                "123456789012",
            )
        };
        let id = render(&mut buf, &call, &mut rng);
        let event =
            trailhound_core::Event::from_json(buf.clone(), trailhound_core::Origin::new("t", 0))
                .unwrap();
        assert_eq!(event.event_id(), id);
        assert_eq!(event.event_time().to_string(), "2026-01-01T00:00:00Z");
        assert_eq!(event.user_agent(), Some("aws-cli/2.15.0 \"quoted\""));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }

    #[test]
    fn key_shapes() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let k = access_key(&mut rng, true);
        assert!(k.starts_with("ASIA") && k.len() == 20);
        assert_eq!(unique_id(&mut rng, "AROA").len(), 21);
    }
}
