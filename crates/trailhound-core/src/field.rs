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
