//! What an object is, from its key (path) and, when the key says nothing, its content.

use serde::Serialize;

/// The kind of an object in a CloudTrail bucket or tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectClass {
    /// A CloudTrail log file (or any file whose key does not say otherwise).
    Log,
    /// A CloudTrail digest file (`CloudTrail-Digest/`): set aside for integrity checks.
    Digest,
    /// A CloudTrail Insights file (`CloudTrail-Insight/`): read as events.
    Insight,
    /// Another service's file in a shared bucket (`AWSLogs/<acct>/elasticloadbalancing/…`).
    Other,
}

/// Account, region and date taken from an `AWSLogs/[o-xxx/]<acct>/CloudTrail/<region>/YYYY/MM/DD/`
/// key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The organisation id (`o-…`) of an organisation trail, when the key has one.
    pub org_id: Option<String>,
    /// The account id.
    pub account: String,
    /// The service folder: `CloudTrail`, `CloudTrail-Digest`, `CloudTrail-Insight`, or another.
    pub service: String,
    /// The region, when the key has one.
    pub region: Option<String>,
    /// The delivery date `YYYY-MM-DD`, when the key has one.
    pub date: Option<String>,
}

/// Parses the `AWSLogs/…` part of a key or path (either separator). `None` when there is none.
#[must_use]
pub fn parse_key(path: &str) -> Option<KeyInfo> {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let at = parts.iter().rposition(|p| *p == "AWSLogs")?;
    let mut rest = parts.get(at + 1..)?.iter().copied();
    let mut first = rest.next()?;
    let mut org_id = None;
    if first.starts_with("o-") {
        org_id = Some(first.to_owned());
        first = rest.next()?;
    }
    if first.len() != 12 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let service = rest.next()?.to_owned();
    let remaining: Vec<&str> = rest.collect();
    // <region>/YYYY/MM/DD/<file>
    let region = (remaining.len() >= 2).then(|| remaining[0].to_owned());
    let date = match remaining.get(1..4) {
        Some([y, m, d])
            if y.len() == 4
                && m.len() == 2
                && d.len() == 2
                && [y, m, d]
                    .iter()
                    .all(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Some(format!("{y}-{m}-{d}"))
        }
        _ => None,
    };
    Some(KeyInfo {
        org_id,
        account: first.to_owned(),
        service,
        region,
        date,
    })
}

/// Classifies an object by its key; content checks (digest shape) come later.
#[must_use]
pub fn classify_path(path: &str) -> ObjectClass {
    match parse_key(path) {
        Some(key) => match key.service.as_str() {
            "CloudTrail" => ObjectClass::Log,
            "CloudTrail-Digest" => ObjectClass::Digest,
            "CloudTrail-Insight" => ObjectClass::Insight,
            _ => ObjectClass::Other,
        },
        None if path.contains("CloudTrail-Digest") => ObjectClass::Digest,
        None if path.contains("CloudTrail-Insight") => ObjectClass::Insight,
        None => ObjectClass::Log,
    }
}

/// The delivery timestamp in a CloudTrail file name
/// (`<acct>_CloudTrail_<region>_YYYYMMDDTHHMMZ_<rand>.json.gz`), as its 14 characters, which
/// sort in time order.
#[must_use]
pub fn name_timestamp(path: &str) -> Option<&str> {
    let name = path.rsplit(['/', '\\']).next()?;
    name.split('_').find(|part| {
        let b = part.as_bytes();
        b.len() == 14
            && b[8] == b'T'
            && b[13] == b'Z'
            && b[..8].iter().chain(&b[9..13]).all(u8::is_ascii_digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_and_plain_keys() {
        let org = parse_key(
            "x/AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/01/15/f.json.gz",
        )
        .unwrap();
        assert_eq!(org.org_id.as_deref(), Some("o-exampleorg1"));
        assert_eq!(org.account, "111122223333");
        assert_eq!(org.region.as_deref(), Some("us-east-1"));
        assert_eq!(org.date.as_deref(), Some("2026-01-15"));
        let plain =
            parse_key("AWSLogs/123456789012/CloudTrail/eu-west-1/2026/01/16/f.json").unwrap();
        assert_eq!(plain.org_id, None);
        assert_eq!(plain.account, "123456789012");
        assert!(parse_key("logs/f.json").is_none());
        assert!(parse_key("AWSLogs/notanaccount/CloudTrail/x").is_none());
    }

    #[test]
    fn classes() {
        assert_eq!(
            classify_path("AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/15/a"),
            ObjectClass::Log
        );
        assert_eq!(
            classify_path("AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/01/15/a"),
            ObjectClass::Digest
        );
        assert_eq!(
            classify_path("AWSLogs/123456789012/CloudTrail-Insight/us-east-1/2026/01/15/a"),
            ObjectClass::Insight
        );
        assert_eq!(
            classify_path("AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/01/15/a"),
            ObjectClass::Other
        );
        assert_eq!(classify_path("/tmp/events.jsonl"), ObjectClass::Log);
    }

    #[test]
    fn timestamps_in_names() {
        assert_eq!(
            name_timestamp("d/111122223333_CloudTrail_us-east-1_20260115T0905Z_AbCd.json.gz"),
            Some("20260115T0905Z")
        );
        assert_eq!(name_timestamp("d/events.json"), None);
    }
}
