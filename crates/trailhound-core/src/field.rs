//! CloudTrail field names, as constants: never repeat the literals.

/// `eventVersion`
pub const EVENT_VERSION: &str = "eventVersion";
/// `eventTime`
pub const EVENT_TIME: &str = "eventTime";
/// `eventSource`
pub const EVENT_SOURCE: &str = "eventSource";
/// `eventName`
pub const EVENT_NAME: &str = "eventName";
/// `awsRegion`
pub const AWS_REGION: &str = "awsRegion";
/// `sourceIPAddress`
pub const SOURCE_IP_ADDRESS: &str = "sourceIPAddress";
/// `userAgent`
pub const USER_AGENT: &str = "userAgent";
/// `errorCode`
pub const ERROR_CODE: &str = "errorCode";
/// `errorMessage`
pub const ERROR_MESSAGE: &str = "errorMessage";
/// `readOnly`
pub const READ_ONLY: &str = "readOnly";
/// `eventID`
pub const EVENT_ID: &str = "eventID";
/// `eventType`
pub const EVENT_TYPE: &str = "eventType";
/// `managementEvent`
pub const MANAGEMENT_EVENT: &str = "managementEvent";
/// `recipientAccountId`
pub const RECIPIENT_ACCOUNT_ID: &str = "recipientAccountId";
/// `sharedEventID`
pub const SHARED_EVENT_ID: &str = "sharedEventID";
/// `userIdentity`
pub const USER_IDENTITY: &str = "userIdentity";
/// `requestParameters`
pub const REQUEST_PARAMETERS: &str = "requestParameters";
/// `responseElements`
pub const RESPONSE_ELEMENTS: &str = "responseElements";
/// `additionalEventData`
pub const ADDITIONAL_EVENT_DATA: &str = "additionalEventData";
/// `serviceEventDetails`
pub const SERVICE_EVENT_DETAILS: &str = "serviceEventDetails";
/// `resources`
pub const RESOURCES: &str = "resources";
/// `tlsDetails`
pub const TLS_DETAILS: &str = "tlsDetails";
/// `insightDetails` (CloudTrail Insights events)
pub const INSIGHT_DETAILS: &str = "insightDetails";

/// `eventType` of CloudTrail Insights events.
pub const EVENT_TYPE_INSIGHT: &str = "AwsCloudTrailInsight";
/// `eventType` of console sign-in events.
pub const EVENT_TYPE_CONSOLE_SIGN_IN: &str = "AwsConsoleSignIn";

/// A field that an [`Event`](crate::Event) holds typed, read without the record's text: the
/// one mapping from record paths to typed accessors that rule languages share (Sigma field
/// names, metric-filter selectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hot {
    /// `eventName`
    EventName,
    /// `eventSource`
    EventSource,
    /// `awsRegion`
    AwsRegion,
    /// `sourceIPAddress`
    SourceIpAddress,
    /// `userAgent`
    UserAgent,
    /// The source address's country from enrichment: not a record field, so no path names
    /// it (Sigma's `src_country`).
    SourceCountry,
    /// `errorCode`
    ErrorCode,
    /// `errorMessage`
    ErrorMessage,
    /// `eventType`
    EventType,
    /// `recipientAccountId`
    RecipientAccountId,
    /// `eventID`
    EventId,
    /// `readOnly`
    ReadOnly,
    /// `userIdentity.type`
    IdentityType,
    /// `userIdentity.arn`
    IdentityArn,
    /// `userIdentity.accountId`
    IdentityAccountId,
    /// `userIdentity.userName`
    IdentityUserName,
    /// `userIdentity.principalId`
    IdentityPrincipalId,
    /// `userIdentity.accessKeyId`
    IdentityAccessKeyId,
    /// `userIdentity.invokedBy`
    IdentityInvokedBy,
    /// `userIdentity.sessionContext.sessionIssuer.userName`
    IssuerUserName,
    /// `userIdentity.sessionContext.sessionIssuer.arn`
    IssuerArn,
}

impl Hot {
    /// The hot field at a record path (`["userIdentity", "arn"]`), if it is one.
    #[must_use]
    pub fn of_path<S: AsRef<str>>(path: &[S]) -> Option<Hot> {
        let key = |i: usize| path.get(i).map(AsRef::as_ref);
        Some(match (path.len(), key(0)?) {
            (1, top) => match top {
                EVENT_NAME => Hot::EventName,
                EVENT_SOURCE => Hot::EventSource,
                AWS_REGION => Hot::AwsRegion,
                SOURCE_IP_ADDRESS => Hot::SourceIpAddress,
                USER_AGENT => Hot::UserAgent,
                ERROR_CODE => Hot::ErrorCode,
                ERROR_MESSAGE => Hot::ErrorMessage,
                EVENT_TYPE => Hot::EventType,
                RECIPIENT_ACCOUNT_ID => Hot::RecipientAccountId,
                EVENT_ID => Hot::EventId,
                READ_ONLY => Hot::ReadOnly,
                _ => return None,
            },
            (2, USER_IDENTITY) => match key(1)? {
                "type" => Hot::IdentityType,
                "arn" => Hot::IdentityArn,
                "accountId" => Hot::IdentityAccountId,
                "userName" => Hot::IdentityUserName,
                "principalId" => Hot::IdentityPrincipalId,
                "accessKeyId" => Hot::IdentityAccessKeyId,
                "invokedBy" => Hot::IdentityInvokedBy,
                _ => return None,
            },
            (4, USER_IDENTITY) if key(1)? == "sessionContext" && key(2)? == "sessionIssuer" => {
                match key(3)? {
                    "userName" => Hot::IssuerUserName,
                    "arn" => Hot::IssuerArn,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    /// The field's value as the typed event holds it. Fields the decoder fills with an empty
    /// string when absent (region, source address, event id, identity type) read as missing
    /// when empty; `readOnly` reads as `"true"` or `"false"`.
    #[must_use]
    pub fn value(self, event: &crate::Event) -> Option<&str> {
        let id = event.user_identity();
        let issuer = || id.session_issuer.as_ref();
        let non_empty = |s: &str| !s.is_empty();
        match self {
            Hot::EventName => Some(event.event_name()),
            Hot::EventSource => Some(event.event_source()),
            Hot::AwsRegion => Some(event.aws_region()).filter(|s| non_empty(s)),
            Hot::SourceIpAddress => Some(event.source().text.as_str()).filter(|s| non_empty(s)),
            Hot::UserAgent => event.user_agent(),
            Hot::SourceCountry => event.enrichment().and_then(|e| e.country.as_deref()),
            Hot::ErrorCode => event.error_code(),
            Hot::ErrorMessage => event.error_message(),
            Hot::EventType => event.event_type(),
            Hot::RecipientAccountId => event.recipient_account_id(),
            Hot::EventId => Some(event.event_id()).filter(|s| non_empty(s)),
            Hot::ReadOnly => event.read_only().map(|b| if b { "true" } else { "false" }),
            Hot::IdentityType => Some(id.type_name.as_str()).filter(|s| non_empty(s)),
            Hot::IdentityArn => id.arn.as_deref(),
            Hot::IdentityAccountId => id.account_id.as_deref(),
            Hot::IdentityUserName => id.user_name.as_deref(),
            Hot::IdentityPrincipalId => id.principal_id.as_deref(),
            Hot::IdentityAccessKeyId => id.access_key_id.as_deref(),
            Hot::IdentityInvokedBy => id.invoked_by.as_deref(),
            Hot::IssuerUserName => issuer().and_then(|s| s.user_name.as_deref()),
            Hot::IssuerArn => issuer().and_then(|s| s.arn.as_deref()),
        }
    }

    /// The field's value exactly as the record's JSON has it (`Some(None)`: absent or `null`),
    /// or `None` when the typed event cannot tell: the record had an odd shape (see
    /// [`crate::Event::typed_fields_exact`]), the field is one whose absence and an empty
    /// string look alike, or it is read leniently (`readOnly` may be written `"TRUE"`) or
    /// is not in the record at all (the country). Exact reading is for languages that must
    /// agree with a reading of the text, such as metric filters.
    #[must_use]
    pub fn exact(self, event: &crate::Event) -> Option<Option<&str>> {
        if !self.is_exact() || !event.typed_fields_exact() {
            return None;
        }
        match self {
            // Always present, or empty when absent.
            Hot::EventName | Hot::EventSource | Hot::IdentityType => self.value(event).map(Some),
            _ => Some(self.value(event)),
        }
    }

    /// Whether [`Hot::exact`] answers for this field (on records of ordinary shape).
    #[must_use]
    pub fn is_exact(self) -> bool {
        matches!(
            self,
            Hot::EventName
                | Hot::EventSource
                | Hot::IdentityType
                | Hot::UserAgent
                | Hot::ErrorCode
                | Hot::ErrorMessage
                | Hot::EventType
                | Hot::IdentityArn
                | Hot::IdentityAccountId
                | Hot::IdentityUserName
                | Hot::IdentityPrincipalId
                | Hot::IdentityAccessKeyId
                | Hot::IdentityInvokedBy
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Origin};

    #[test]
    fn paths_name_hot_fields() {
        assert_eq!(Hot::of_path(&["eventName"]), Some(Hot::EventName));
        assert_eq!(
            Hot::of_path(&["userIdentity", "arn"]),
            Some(Hot::IdentityArn)
        );
        assert_eq!(
            Hot::of_path(&["userIdentity", "sessionContext", "sessionIssuer", "arn"]),
            Some(Hot::IssuerArn)
        );
        assert_eq!(Hot::of_path(&["userIdentity"]), None);
        assert_eq!(Hot::of_path(&["requestParameters", "arn"]), None);
        assert_eq!(Hot::of_path::<&str>(&[]), None);
    }

    #[test]
    fn exact_reading_agrees_with_the_text_or_abstains() {
        let event = |text: &str| Event::from_json(text, Origin::new("t", 0)).unwrap();
        let plain = event(
            r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"","errorCode":null,"readOnly":"TRUE","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"}}"#,
        );
        assert_eq!(Hot::EventName.exact(&plain), Some(Some("GetObject")));
        assert_eq!(Hot::ErrorCode.exact(&plain), Some(None));
        assert_eq!(
            Hot::IdentityArn.exact(&plain),
            Some(Some("arn:aws:iam::1:user/a"))
        );
        // Empty region: absent or written empty? The text decides.
        assert_eq!(Hot::AwsRegion.exact(&plain), None);
        assert_eq!(Hot::AwsRegion.value(&plain), None);
        // Lenient bool: the typed value is not the text.
        assert_eq!(Hot::ReadOnly.value(&plain), Some("true"));
        assert_eq!(Hot::ReadOnly.exact(&plain), None);
        // A string field written as an object: the typed fields abstain.
        let odd = event(
            r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"s","eventName":"n","errorCode":{"x":1}}"#,
        );
        assert_eq!(Hot::ErrorCode.value(&odd), None);
        assert_eq!(Hot::ErrorCode.exact(&odd), None);
    }
}
