use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize};

use crate::{Error, Result, SmallStr, Timestamp};

mod document;
mod identities;
mod recent;
mod scan;
mod tls_places;

pub use document::{Document, DocumentPool};

/// Where a record came from: a file path or `s3://bucket/key`, and the record's index in it.
///
/// Shown in alerts as `source#index`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The file path or object URL, shared by every record of that object.
    pub source: Arc<str>,
    /// The record's index in the object (0-based), or the line number for JSON lines.
    pub index: u32,
}

impl Origin {
    /// An origin in `source` at `index`.
    #[must_use]
    pub fn new(source: impl Into<Arc<str>>, index: u32) -> Self {
        Origin {
            source: source.into(),
            index,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.source, self.index)
    }
}

/// `userIdentity.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum IdentityType {
    /// The account's root user.
    Root,
    /// An IAM user.
    IAMUser,
    /// A role session (including Identity Center sessions).
    AssumedRole,
    /// A role itself (rare, some services).
    Role,
    /// A federated user from `GetFederationToken`.
    FederatedUser,
    /// A principal in another account.
    AWSAccount,
    /// An AWS service acting with a service-linked or service role.
    AWSService,
    /// An Identity Center user (console sign-in events).
    IdentityCenterUser,
    /// A web-identity or SAML user before assuming a role.
    WebIdentityUser,
    /// A SAML user before assuming a role.
    SAMLUser,
    /// Unauthenticated or absent identity.
    Unknown,
    /// Any other value.
    Other,
}

impl IdentityType {
    fn from_str(s: &str) -> Self {
        match s {
            "Root" => Self::Root,
            "IAMUser" => Self::IAMUser,
            "AssumedRole" => Self::AssumedRole,
            "Role" => Self::Role,
            "FederatedUser" => Self::FederatedUser,
            "AWSAccount" => Self::AWSAccount,
            "AWSService" => Self::AWSService,
            "IdentityCenterUser" => Self::IdentityCenterUser,
            "WebIdentityUser" => Self::WebIdentityUser,
            "SAMLUser" => Self::SAMLUser,
            "Unknown" | "" => Self::Unknown,
            _ => Self::Other,
        }
    }
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionIssuer {
    /// `type`: usually `Role`.
    pub kind: Option<SmallStr>,
    /// `arn` of the role (not the session).
    pub arn: Option<SmallStr>,
    /// `accountId` owning the role.
    pub account_id: Option<SmallStr>,
    /// `userName`: the role name.
    pub user_name: Option<SmallStr>,
    /// `principalId` of the role.
    pub principal_id: Option<SmallStr>,
}

/// `userIdentity`, with the parts detectors use typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserIdentity {
    /// `type`.
    pub kind: IdentityType,
    /// `type` as written.
    pub type_name: SmallStr,
    /// `principalId`.
    pub principal_id: Option<SmallStr>,
    /// `arn`.
    pub arn: Option<SmallStr>,
    /// `accountId`.
    pub account_id: Option<SmallStr>,
    /// `accessKeyId`: AKIA… long-term, ASIA… temporary.
    pub access_key_id: Option<SmallStr>,
    /// `userName` (IAM users, root alias, Identity Center users).
    pub user_name: Option<SmallStr>,
    /// `invokedBy`: the AWS service that made the call for the principal.
    pub invoked_by: Option<SmallStr>,
    /// `sessionContext.sessionIssuer`.
    pub session_issuer: Option<SessionIssuer>,
    /// `sessionContext.attributes.mfaAuthenticated == "true"`.
    pub mfa_authenticated: Option<bool>,
    /// `sessionContext.attributes.creationDate`.
    pub session_created: Option<Timestamp>,
    /// `sessionContext.ec2RoleDelivery` is present: credentials came from an instance's IMDS.
    pub ec2_role_delivery: Option<SmallStr>,
    /// `sessionContext.sourceIdentity`.
    pub source_identity: Option<SmallStr>,
}

impl Default for UserIdentity {
    fn default() -> Self {
        UserIdentity {
            kind: IdentityType::Unknown,
            type_name: SmallStr::default(),
            principal_id: None,
            arn: None,
            account_id: None,
            access_key_id: None,
            user_name: None,
            invoked_by: None,
            session_issuer: None,
            mfa_authenticated: None,
            session_created: None,
            ec2_role_delivery: None,
            source_identity: None,
        }
    }
}

/// `sourceIPAddress`: an IP address, or an AWS service name such as `s3.amazonaws.com` or
/// `AWS Internal`. A service name is kept as written, never an error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SourceAddress {
    /// The value as written.
    pub text: SmallStr,
    /// The address, when the value is one.
    pub ip: Option<IpAddr>,
}

impl SourceAddress {
    /// Parses the field's text.
    #[must_use]
    pub fn new(text: &str) -> Self {
        SourceAddress {
            text: SmallStr::new(text),
            ip: text.parse().ok(),
        }
    }

    /// True when the call came from an AWS service (a service name, not an address).
    #[must_use]
    pub fn is_aws_service(&self) -> bool {
        self.ip.is_none() && !self.text.is_empty()
    }
}

/// `tlsDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TlsDetails {
    /// `tlsVersion`.
    pub tls_version: Option<SmallStr>,
    /// `cipherSuite`.
    pub cipher_suite: Option<SmallStr>,
    /// `clientProvidedHostHeader`.
    pub client_provided_host_header: Option<SmallStr>,
}

/// Enrichment attached after decoding (GeoIP, ASN, cloud provider). Set once per event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Enrichment {
    /// ISO 3166-1 alpha-2 country code of the source address.
    pub country: Option<SmallStr>,
    /// Autonomous system number of the source address.
    pub asn: Option<u32>,
    /// Organisation owning the AS.
    pub as_org: Option<SmallStr>,
    /// Cloud provider tag (e.g. `aws`, `aws:EC2:us-east-1`) from user-supplied range files.
    pub cloud: Option<SmallStr>,
}

/// The top-level values whose place in the record's text the decoder notes, so that rules
/// reading inside them start there instead of skimming the whole record.
const SPAN_KEYS: [&str; 6] = [
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
    "serviceEventDetails",
    "userIdentity",
];

/// Where `userIdentity` is in [`SPAN_KEYS`].
const IDENTITY_SPAN: usize = 5;

/// What the one-pass decoder ([`scan`]) learnt of a record's shape beyond its hot fields.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Scanned {
    /// The deepest nesting of objects and arrays (the record itself is 1); 0 when the record
    /// was read by serde_json instead and nothing here is known.
    depth: u8,
    /// For each of [`SPAN_KEYS`], the byte range of its (last) value in the text; `(0, 0)`
    /// when absent.
    spans: [(u32, u32); SPAN_KEYS.len()],
    /// Some typed string field held a bool, an object or an array (read as absent).
    odd: bool,
}

/// One CloudTrail record: typed hot fields plus the raw JSON for the rest.
///
/// Cheap to clone (an `Arc`), immutable after decoding but for its [`Enrichment`], which can be
/// set once.
#[derive(Clone)]
pub struct Event {
    inner: Arc<EventInner>,
}

#[derive(Clone)]
struct EventInner {
    event_time: Timestamp,
    event_version: SmallStr,
    event_source: SmallStr,
    event_name: SmallStr,
    aws_region: SmallStr,
    recipient_account_id: Option<SmallStr>,
    /// Shared with the other events of the same identity text (see `identities`).
    user_identity: Arc<UserIdentity>,
    source: SourceAddress,
    user_agent: Option<Text>,
    error_code: Option<SmallStr>,
    error_message: Option<Text>,
    read_only: Option<bool>,
    event_id: Text,
    /// [`crate::event_id_hash`] of `event_id`, taken while the record is in cache.
    id_hash: u64,
    event_type: Option<SmallStr>,
    management_event: Option<bool>,
    /// A UUID, longer than a [`SmallStr`] holds inline.
    shared_event_id: Option<Text>,
    /// Where the `tlsDetails` strings lie in the text: the host header of almost every record
    /// is longer than a [`SmallStr`] holds inline, and no detector reads these hot.
    tls_details: Option<[Option<Text>; 3]>,
    raw: Raw,
    scanned: Scanned,
    origin: Origin,
    json: OnceLock<serde_json::Value>,
    enrichment: OnceLock<Enrichment>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("event_time", &self.inner.event_time)
            .field("event_source", &self.inner.event_source)
            .field("event_name", &self.inner.event_name)
            .field("event_id", &self.event_id())
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

impl Event {
    /// Decodes one record from its JSON text (a single object).
    ///
    /// # Errors
    /// [`Error::Json`] for text that is not a JSON object, [`Error::NotARecord`] when
    /// `eventTime`, `eventSource` or `eventName` is missing, [`Error::Time`] for a bad time.
    pub fn from_json(raw: impl Into<Box<str>>, origin: Origin) -> Result<Event> {
        let raw: Box<str> = raw.into();
        if !raw.trim_start().starts_with('{') {
            return Err(Error::NotARecord {
                missing: "a JSON object",
            });
        }
        let mut view = RecordView::default();
        match scan::record(&raw, &mut view) {
            Some(len) if raw.get(len..).is_some_and(|r| r.trim_start().is_empty()) => {}
            _ => view = serde_json::from_str(&raw).map_err(|source| Error::Json { source })?,
        }
        // The text is borrowed while the event is built; it moves in afterwards (the event is
        // not shared yet, so `get_mut` finds it alone).
        let mut event = build_event(&mut view, &raw, origin, Raw::Owned(Box::default()))?;
        if let Some(inner) = Arc::get_mut(&mut event.inner) {
            inner.raw = Raw::Owned(raw);
        }
        Ok(event)
    }

    /// Decodes the record that starts at the beginning of `text` (which must start with `{`)
    /// and says how many bytes it spans; whatever follows it is not read. This is the
    /// single-pass path for the elements of a `{"Records":[…]}` array: the record is split off
    /// and its fields read in the same scan.
    ///
    /// The outer error means the JSON itself could not be read (syntax, or a field of the
    /// wrong shape), so the record's extent is unknown. The inner result is
    /// [`Event::from_json`]'s verdict on a record whose extent is known: its length comes
    /// with it either way, so a caller can skip a non-CloudTrail object and read on.
    ///
    /// # Errors
    /// [`Error::Json`] when the text at the start is not a complete JSON object;
    /// [`Error::NotARecord`] when it does not start with `{`.
    pub fn from_json_prefix(text: &str, origin: Origin) -> Result<(usize, Result<Event>)> {
        Event::prefix(text, origin, |record| Raw::Owned(record.into()))
    }

    /// [`Event::from_json_prefix`] for the record that starts `at` bytes into `document`,
    /// which the event then shares instead of copying its record out of it: the records of a
    /// CloudTrail file are read in place, with no copy and no allocation for their text. The
    /// document stays in memory while any of its events does; whatever keeps events for long
    /// (correlation windows, samples) keeps [`Event::detach`]ed ones.
    ///
    /// # Errors
    /// As [`Event::from_json_prefix`]; also [`Error::NotARecord`] when `at` is not a place
    /// in `document`.
    pub fn from_json_prefix_in(
        document: &Arc<Document>,
        at: usize,
        origin: Origin,
    ) -> Result<(usize, Result<Event>)> {
        let text = document.text().get(at..).ok_or(Error::NotARecord {
            missing: "a JSON object",
        })?;
        Event::prefix(text, origin, |record| {
            match (u32::try_from(at), u32::try_from(at + record.len())) {
                (Ok(start), Ok(end)) => Raw::Shared {
                    document: Arc::clone(document),
                    start,
                    end,
                },
                // Beyond 4 GiB into a document: its own copy.
                _ => Raw::Owned(record.into()),
            }
        })
    }

    fn prefix(
        text: &str,
        origin: Origin,
        raw_of: impl FnOnce(&str) -> Raw,
    ) -> Result<(usize, Result<Event>)> {
        if !text.starts_with('{') {
            return Err(Error::NotARecord {
                missing: "a JSON object",
            });
        }
        let mut view = RecordView::default();
        let len = match scan::record(text, &mut view) {
            Some(len) => len,
            None => {
                let mut stream =
                    serde_json::Deserializer::from_str(text).into_iter::<RecordView<'_>>();
                match stream.next() {
                    Some(Ok(read)) => {
                        view = read;
                        stream.byte_offset()
                    }
                    Some(Err(source)) => return Err(Error::Json { source }),
                    None => {
                        return Err(Error::NotARecord {
                            missing: "a JSON object",
                        });
                    }
                }
            }
        };
        let record = text.get(..len).unwrap_or(text);
        let event = build_event(&mut view, text, origin, raw_of(record));
        Ok((len, event))
    }

    /// This event with a copy of its own record text, when it shares a document
    /// ([`Event::from_json_prefix_in`]); else this event. For events kept beyond the batch
    /// they came in, so that one kept record does not keep its whole file in memory.
    #[must_use]
    pub fn detach(&self) -> Event {
        match &self.inner.raw {
            Raw::Owned(_) => self.clone(),
            Raw::Shared { .. } => Event {
                inner: Arc::new(EventInner {
                    raw: self.inner.raw.copied(),
                    ..(*self.inner).clone()
                }),
            },
        }
    }

    /// True when the event reads its record from a shared document (see [`Event::detach`]).
    #[must_use]
    pub fn shares_document(&self) -> bool {
        matches!(self.inner.raw, Raw::Shared { .. })
    }

    /// `eventTime`.
    #[must_use]
    pub fn event_time(&self) -> Timestamp {
        self.inner.event_time
    }
    /// `eventVersion`.
    #[must_use]
    pub fn event_version(&self) -> &str {
        &self.inner.event_version
    }
    /// `eventSource`, e.g. `cloudtrail.amazonaws.com`.
    #[must_use]
    pub fn event_source(&self) -> &str {
        &self.inner.event_source
    }
    /// `eventName`, e.g. `StopLogging`.
    #[must_use]
    pub fn event_name(&self) -> &str {
        &self.inner.event_name
    }
    /// `awsRegion`.
    #[must_use]
    pub fn aws_region(&self) -> &str {
        &self.inner.aws_region
    }
    /// `recipientAccountId`.
    #[must_use]
    pub fn recipient_account_id(&self) -> Option<&str> {
        self.inner.recipient_account_id.as_deref()
    }
    /// The account the event belongs to: `recipientAccountId`, else the identity's account.
    #[must_use]
    pub fn account_id(&self) -> Option<&str> {
        self.recipient_account_id()
            .or(self.inner.user_identity.account_id.as_deref())
    }
    /// `userIdentity`.
    #[must_use]
    pub fn user_identity(&self) -> &UserIdentity {
        &self.inner.user_identity
    }
    /// `sourceIPAddress`.
    #[must_use]
    pub fn source(&self) -> &SourceAddress {
        &self.inner.source
    }
    /// `sourceIPAddress` parsed as an address, when it is one.
    #[must_use]
    pub fn source_ip(&self) -> Option<IpAddr> {
        self.inner.source.ip
    }
    /// `userAgent`.
    #[must_use]
    pub fn user_agent(&self) -> Option<&str> {
        self.inner
            .user_agent
            .as_ref()
            .map(|t| t.get(&self.inner.raw))
    }
    /// `errorCode`.
    #[must_use]
    pub fn error_code(&self) -> Option<&str> {
        self.inner.error_code.as_deref()
    }
    /// `errorMessage`.
    #[must_use]
    pub fn error_message(&self) -> Option<&str> {
        self.inner
            .error_message
            .as_ref()
            .map(|t| t.get(&self.inner.raw))
    }
    /// `readOnly`.
    #[must_use]
    pub fn read_only(&self) -> Option<bool> {
        self.inner.read_only
    }
    /// `eventID`.
    #[must_use]
    pub fn event_id(&self) -> &str {
        self.inner.event_id.get(&self.inner.raw)
    }
    /// [`crate::event_id_hash`] of [`Event::event_id`], without reading the record's text.
    #[must_use]
    pub fn event_id_hash(&self) -> u64 {
        self.inner.id_hash
    }
    /// `eventType`, e.g. `AwsApiCall`, `AwsConsoleSignIn`, `AwsCloudTrailInsight`.
    #[must_use]
    pub fn event_type(&self) -> Option<&str> {
        self.inner.event_type.as_deref()
    }
    /// `managementEvent`.
    #[must_use]
    pub fn management_event(&self) -> Option<bool> {
        self.inner.management_event
    }
    /// `sharedEventID`.
    #[must_use]
    pub fn shared_event_id(&self) -> Option<&str> {
        self.inner
            .shared_event_id
            .as_ref()
            .map(|t| t.get(&self.inner.raw))
    }
    /// `tlsDetails`.
    #[must_use]
    pub fn tls_details(&self) -> Option<TlsDetails> {
        let [version, suite, host] = self.inner.tls_details.as_ref()?;
        let get = |text: &Option<Text>| text.as_ref().map(|t| t.get(&self.inner.raw).into());
        Some(TlsDetails {
            tls_version: get(version),
            cipher_suite: get(suite),
            client_provided_host_header: get(host),
        })
    }
    /// The record's JSON text as read.
    #[must_use]
    pub fn raw(&self) -> &str {
        self.inner.raw.text()
    }
    /// Where the record came from.
    #[must_use]
    pub fn origin(&self) -> &Origin {
        &self.inner.origin
    }
    /// True when the call failed (`errorCode` present).
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.inner.error_code.is_some()
    }
    /// True for CloudTrail Insights events.
    #[must_use]
    pub fn is_insight(&self) -> bool {
        self.event_type() == Some(crate::field::EVENT_TYPE_INSIGHT)
    }

    /// The whole record as a JSON tree, parsed on first use and cached. Rules that only look
    /// at hot fields never pay for this.
    #[must_use]
    pub fn json(&self) -> &serde_json::Value {
        self.inner.json.get_or_init(|| {
            // The text was parsed as an object when the event was made, so this succeeds;
            // should it not, an empty object keeps matching total.
            serde_json::from_str(self.raw())
                .unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new()))
        })
    }

    /// A field by dotted path (`requestParameters.bucketName`), from the JSON tree. Arrays are
    /// not fanned out here; rule engines that need fan-out walk [`Event::json`] themselves.
    #[must_use]
    pub fn pointer(&self, dotted: &str) -> Option<&serde_json::Value> {
        let mut node = self.json();
        for part in dotted.split('.') {
            node = node.get(part)?;
        }
        Some(node)
    }

    /// The text of a top-level value of the record (`requestParameters`, say), read in place
    /// (see [`crate::rawjson`]); the last one when the key is repeated, as in [`Event::json`].
    #[must_use]
    pub fn member(&self, key: &str) -> Option<&str> {
        let scanned = &self.inner.scanned;
        if scanned.depth > 0
            && let Some(i) = SPAN_KEYS.iter().position(|k| *k == key)
        {
            let (start, end) = scanned.spans.get(i).copied().unwrap_or_default();
            return (end > 0)
                .then(|| self.inner.raw.slice(start, end))
                .flatten();
        }
        crate::rawjson::member(self.raw().trim_start(), key)
    }

    /// True when every typed string field that is absent here ([`Event::error_code`],
    /// [`UserIdentity::arn`]…) is absent or `null` in the record, never a value of another
    /// type: a rule can then read those fields without looking at the record's text.
    #[must_use]
    pub fn typed_fields_exact(&self) -> bool {
        let scanned = &self.inner.scanned;
        scanned.depth > 0 && !scanned.odd
    }

    /// The deepest nesting of objects and arrays in the record (the record itself is 1), when
    /// the decoder measured it.
    #[must_use]
    pub fn nesting_depth(&self) -> Option<usize> {
        let depth = self.inner.scanned.depth;
        (depth > 0).then_some(usize::from(depth))
    }

    /// Enrichment, if it was set.
    #[must_use]
    pub fn enrichment(&self) -> Option<&Enrichment> {
        self.inner.enrichment.get()
    }

    /// Sets the enrichment; a second call is ignored (returns false).
    pub fn set_enrichment(&self, enrichment: Enrichment) -> bool {
        self.inner.enrichment.set(enrichment).is_ok()
    }

    /// [`Event::set_enrichment`] for an event not shared yet (the usual case right after
    /// decoding): the value is stored without the once-cell's synchronisation, which cost
    /// more than the lookup it records. Shared events fall back to the synchronised set.
    pub fn set_enrichment_mut(&mut self, enrichment: Enrichment) -> bool {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) if inner.enrichment.get().is_none() => {
                inner.enrichment = OnceLock::from(enrichment);
                true
            }
            Some(_) => false,
            None => self.set_enrichment(enrichment),
        }
    }

    /// The principal's ARN: `userIdentity.arn`, else the session issuer's, else the
    /// `invokedBy` service, else the principal id.
    #[must_use]
    pub fn principal_arn(&self) -> Option<&str> {
        let id = &self.inner.user_identity;
        id.arn
            .as_deref()
            .or_else(|| id.session_issuer.as_ref().and_then(|s| s.arn.as_deref()))
            .or(id.invoked_by.as_deref())
            .or(id.principal_id.as_deref())
    }

    /// A stable key for the principal across sessions: for role sessions the role's ARN
    /// (session issuer), for everything else [`Event::principal_arn`]. Baselines key on this.
    #[must_use]
    pub fn principal_key(&self) -> Option<&str> {
        let id = &self.inner.user_identity;
        if id.kind == IdentityType::AssumedRole
            && let Some(issuer) = id.session_issuer.as_ref().and_then(|s| s.arn.as_deref())
        {
            return Some(issuer);
        }
        self.principal_arn()
    }

    /// A short human name for the principal: the IAM user name, `root`, the role session
    /// (`role/session`), or the service.
    #[must_use]
    pub fn principal_name(&self) -> String {
        let id = &self.inner.user_identity;
        match id.kind {
            IdentityType::Root => "root".to_owned(),
            IdentityType::AssumedRole => {
                let role = id
                    .session_issuer
                    .as_ref()
                    .and_then(|s| s.user_name.as_deref());
                let session = id.arn.as_deref().and_then(|a| a.rsplit('/').next());
                match (role, session) {
                    (Some(role), Some(session)) => format!("{role}/{session}"),
                    (Some(role), None) => role.to_owned(),
                    (None, Some(session)) => session.to_owned(),
                    (None, None) => "unknown-role".to_owned(),
                }
            }
            IdentityType::AWSService => {
                id.invoked_by.as_deref().unwrap_or("aws-service").to_owned()
            }
            _ => id
                .user_name
                .as_deref()
                .map(str::to_owned)
                .or_else(|| {
                    id.arn
                        .as_deref()
                        .and_then(|a| a.rsplit('/').next())
                        .map(str::to_owned)
                })
                .or_else(|| id.principal_id.as_deref().map(str::to_owned))
                .unwrap_or_else(|| "unknown".to_owned()),
        }
    }
}

/// The event of the fields read out of `text` (the record's text, or text that starts with
/// it), with `raw` for its text, which starts where `text` does. Built straight into its
/// shared allocation: the event's state is some 600 bytes, and building it apart and moving
/// it in cost two copies of it per event.
fn build_event(view: &mut RecordView<'_>, text: &str, origin: Origin, raw: Raw) -> Result<Event> {
    let event_time = view.event_time.as_deref().ok_or(Error::NotARecord {
        missing: "eventTime",
    })?;
    let event_time = Timestamp::parse(event_time)?;
    let event_source = small(&view.event_source).ok_or(Error::NotARecord {
        missing: "eventSource",
    })?;
    let event_name = small(&view.event_name).ok_or(Error::NotARecord {
        missing: "eventName",
    })?;
    let known_identity = view.known_identity.take();
    let build = || {
        view.user_identity
            .as_ref()
            .map(UserIdentityView::build)
            .unwrap_or_default()
    };
    // The identity object's text when the scanner read it (serde_json's views have no
    // spans); none at all is the empty text.
    let (start, end) = view.scanned.spans[IDENTITY_SPAN];
    let key = if end > 0 {
        text.get(start as usize..end as usize)
    } else if view.user_identity.is_none() {
        Some("")
    } else {
        None
    };
    let user_identity = match (known_identity, key) {
        (Some(known), _) => known,
        (None, Some(key)) => identities::shared(key, view.identity_shape, build),
        (None, None) => Arc::new(build()),
    };
    let inner = Arc::new(EventInner {
        event_time,
        event_version: small(&view.event_version).unwrap_or_default(),
        event_source,
        event_name,
        aws_region: small(&view.aws_region).unwrap_or_default(),
        recipient_account_id: small(&view.recipient_account_id),
        user_identity,
        source: view
            .source_ip_address
            .as_deref()
            .map(SourceAddress::new)
            .unwrap_or_default(),
        user_agent: view.user_agent.as_deref().map(|v| Text::of(v, text)),
        error_code: small(&view.error_code),
        error_message: view.error_message.as_deref().map(|v| Text::of(v, text)),
        read_only: view.read_only.map(|b| b.0),
        event_id: view
            .event_id
            .as_deref()
            .map_or(Text::Owned(Box::default()), |v| Text::of(v, text)),
        id_hash: crate::event_id_hash(view.event_id.as_deref().unwrap_or_default()),
        event_type: small(&view.event_type),
        management_event: view.management_event.map(|b| b.0),
        shared_event_id: view.shared_event_id.as_deref().map(|v| Text::of(v, text)),
        tls_details: view.tls_details.as_ref().map(|t| {
            [
                &t.tls_version,
                &t.cipher_suite,
                &t.client_provided_host_header,
            ]
            .map(|v| v.as_deref().map(|v| Text::of(v, text)))
        }),
        raw,
        scanned: view.scanned,
        origin,
        json: OnceLock::new(),
        enrichment: OnceLock::new(),
    });
    Ok(Event { inner })
}

/// A record's JSON text: its own copy, or where it lies in the document it was read from.
#[derive(Clone)]
enum Raw {
    Owned(Box<str>),
    /// Byte offsets into a shared document (see [`Event::from_json_prefix_in`]).
    Shared {
        document: Arc<Document>,
        start: u32,
        end: u32,
    },
}

impl Raw {
    /// Bytes `start..end` of the record's text, sliced from the document directly (one
    /// check of the bounds instead of the record's and then the value's: on the detection
    /// thread those checks read text that another core wrote).
    fn slice(&self, start: u32, end: u32) -> Option<&str> {
        let (start, end) = (start as usize, end as usize);
        match self {
            Raw::Owned(text) => text.get(start..end),
            Raw::Shared {
                document,
                start: base,
                end: limit,
            } => {
                let base = *base as usize;
                if base + end > *limit as usize {
                    return None;
                }
                document.text().get(base + start..base + end)
            }
        }
    }

    /// The record's own copy of its text.
    fn copied(&self) -> Raw {
        Raw::Owned(self.text().into())
    }

    fn text(&self) -> &str {
        match self {
            Raw::Owned(text) => text,
            Raw::Shared {
                document,
                start,
                end,
            } => document
                .text()
                .get(*start as usize..*end as usize)
                .unwrap_or(""),
        }
    }
}

/// A long string field of an event: where it lies in the record's text when it was written
/// without escapes (no copy and no allocation: the event id, user agent and error message were
/// three of the allocations every record cost), else its unescaped value.
#[derive(Debug, Clone)]
enum Text {
    /// Byte offsets into the record's text.
    Span {
        start: u32,
        end: u32,
    },
    Owned(Box<str>),
}

impl Text {
    /// `value` as a span of `text` when it is a slice of it (a value borrowed by the decoder),
    /// else owned (an unescaped copy).
    fn of(value: &str, text: &str) -> Text {
        let base = text.as_ptr() as usize;
        let at = value.as_ptr() as usize;
        if at >= base && at + value.len() <= base + text.len() {
            let start = at - base;
            if let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(start + value.len()))
            {
                return Text::Span { start, end };
            }
        }
        Text::Owned(value.into())
    }

    /// The value, given the record's text.
    fn get<'a>(&'a self, raw: &'a Raw) -> &'a str {
        match self {
            Text::Span { start, end } => raw.slice(*start, *end).unwrap_or(""),
            Text::Owned(value) => value,
        }
    }
}

fn small(value: &Option<Cow<'_, str>>) -> Option<SmallStr> {
    value.as_deref().map(SmallStr::new)
}

/// A bool that may also be written as a string ("true"/"false"): hostile or odd producers
/// must not make a whole record unreadable. Any other type reads as false.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LenientBool(bool);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Ok(LenientBool(
            match deserializer.deserialize_any(LenientVisitor)? {
                Lenient::Bool(b) => b,
                Lenient::Str(s) => s.eq_ignore_ascii_case("true"),
                Lenient::Other => false,
            },
        ))
    }
}

/// What a lenient field held. Written as a direct visitor rather than `#[serde(untagged)]`,
/// which buffers every value into serde's internal `Content` tree: this is on the hot path of
/// every record.
enum Lenient<'de> {
    Str(Cow<'de, str>),
    Bool(bool),
    Other,
}

struct LenientVisitor;

impl<'de> serde::de::Visitor<'de> for LenientVisitor {
    type Value = Lenient<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Str(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Bool(v))
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Other)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Other)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Other)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Other)
    }
    fn visit_none<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(Lenient::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(LenientVisitor)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Lenient::Other)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Lenient::Other)
    }
}

/// A string field that tolerates a non-string value (kept as absent).
fn lenient_str<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Cow<'de, str>>, D::Error> {
    Ok(match deserializer.deserialize_any(LenientVisitor)? {
        Lenient::Str(s) => Some(s),
        Lenient::Bool(_) | Lenient::Other => None,
    })
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct RecordView<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    event_version: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    event_time: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    event_source: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    event_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    aws_region: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "sourceIPAddress",
        deserialize_with = "lenient_str"
    )]
    source_ip_address: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    error_code: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    error_message: Option<Cow<'a, str>>,
    #[serde(default)]
    read_only: Option<LenientBool>,
    #[serde(borrow, default, rename = "eventID", deserialize_with = "lenient_str")]
    event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    event_type: Option<Cow<'a, str>>,
    #[serde(default)]
    management_event: Option<LenientBool>,
    #[serde(
        borrow,
        default,
        rename = "sharedEventID",
        deserialize_with = "lenient_str"
    )]
    shared_event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    recipient_account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_identity: Option<UserIdentityView<'a>>,
    #[serde(borrow, default)]
    tls_details: Option<TlsView<'a>>,
    #[serde(skip)]
    scanned: Scanned,
    /// The identity this thread built lately from the same `userIdentity` text, when the
    /// scanner found one and skipped the object (`user_identity` is then absent).
    #[serde(skip)]
    known_identity: Option<Arc<UserIdentity>>,
    /// What the scanner noted reading `userIdentity`, kept with the identity built from it.
    #[serde(skip)]
    identity_shape: identities::Shape,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct TlsView<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    tls_version: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    cipher_suite: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    client_provided_host_header: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct UserIdentityView<'a> {
    #[serde(borrow, default, rename = "type", deserialize_with = "lenient_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    principal_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    arn: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    user_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    invoked_by: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    session_context: Option<SessionContextView<'a>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct SessionContextView<'a> {
    #[serde(borrow, default)]
    session_issuer: Option<SessionIssuerView<'a>>,
    #[serde(borrow, default)]
    attributes: Option<SessionAttributesView<'a>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    ec2_role_delivery: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    source_identity: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct SessionIssuerView<'a> {
    #[serde(borrow, default, rename = "type", deserialize_with = "lenient_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    principal_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    arn: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    user_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct SessionAttributesView<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    creation_date: Option<Cow<'a, str>>,
    #[serde(default)]
    mfa_authenticated: Option<LenientBool>,
}

impl UserIdentityView<'_> {
    fn build(&self) -> UserIdentity {
        let type_name = self.kind.as_deref().unwrap_or_default();
        let none = &None;
        let (issuer, attributes, ec2, source_identity) = match &self.session_context {
            Some(ctx) => (
                ctx.session_issuer.as_ref(),
                ctx.attributes.as_ref(),
                &ctx.ec2_role_delivery,
                &ctx.source_identity,
            ),
            None => (None, None, none, none),
        };
        let issuer = issuer.map(|s| SessionIssuer {
            kind: small(&s.kind),
            arn: small(&s.arn),
            account_id: small(&s.account_id),
            user_name: small(&s.user_name),
            principal_id: small(&s.principal_id),
        });
        let (mfa, created) = match attributes {
            Some(a) => (
                a.mfa_authenticated.map(|b| b.0),
                a.creation_date
                    .as_deref()
                    .and_then(|d| Timestamp::parse(d).ok()),
            ),
            None => (None, None),
        };
        UserIdentity {
            kind: IdentityType::from_str(type_name),
            type_name: SmallStr::new(type_name),
            principal_id: small(&self.principal_id),
            arn: small(&self.arn),
            account_id: small(&self.account_id),
            access_key_id: small(&self.access_key_id),
            user_name: small(&self.user_name),
            invoked_by: small(&self.invoked_by),
            session_issuer: issuer,
            mfa_authenticated: mfa,
            session_created: created,
            ec2_role_delivery: small(ec2),
            source_identity: small(source_identity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole",
      "principalId":"AROAEXAMPLE:i-0abc","arn":"arn:aws:sts::123456789012:assumed-role/web/i-0abc",
      "accountId":"123456789012","accessKeyId":"ASIAEXAMPLE",
      "sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE",
      "arn":"arn:aws:iam::123456789012:role/web","accountId":"123456789012","userName":"web"},
      "attributes":{"creationDate":"2026-01-02T00:00:00Z","mfaAuthenticated":"false"},
      "ec2RoleDelivery":"2.0"}},
      "eventTime":"2026-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets",
      "awsRegion":"us-east-1","sourceIPAddress":"s3.amazonaws.com","userAgent":"aws-cli/2",
      "requestParameters":{"Host":"s3.amazonaws.com"},"readOnly":true,"eventID":"e2",
      "eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012",
      "tlsDetails":{"tlsVersion":"TLSv1.3"}}"#;

    #[test]
    fn decodes_role_session() {
        let e = Event::from_json(ROLE, Origin::new("f.json", 3)).unwrap();
        assert_eq!(e.user_identity().kind, IdentityType::AssumedRole);
        assert_eq!(
            e.principal_key(),
            Some("arn:aws:iam::123456789012:role/web")
        );
        assert_eq!(e.principal_name(), "web/i-0abc");
        assert_eq!(e.user_identity().mfa_authenticated, Some(false));
        assert_eq!(e.user_identity().ec2_role_delivery.as_deref(), Some("2.0"));
        assert!(e.source().is_aws_service());
        assert_eq!(e.read_only(), Some(true));
        assert_eq!(e.origin().to_string(), "f.json#3");
        assert_eq!(
            e.pointer("requestParameters.Host").and_then(|v| v.as_str()),
            Some("s3.amazonaws.com")
        );
        assert_eq!(
            e.tls_details().and_then(|t| t.tls_version),
            Some("TLSv1.3".into())
        );
    }

    #[test]
    fn enrichment_is_set_once_alone_or_shared() {
        let country = |c: &str| Enrichment {
            country: Some(c.into()),
            ..Enrichment::default()
        };
        let mut alone = Event::from_json(ROLE, Origin::new("f.json", 0)).unwrap();
        assert!(alone.set_enrichment_mut(country("NL")));
        assert!(!alone.set_enrichment_mut(country("FR")));
        assert_eq!(alone.enrichment().unwrap().country.as_deref(), Some("NL"));

        let mut shared = Event::from_json(ROLE, Origin::new("f.json", 0)).unwrap();
        let other = shared.clone();
        assert!(shared.set_enrichment_mut(country("DE")));
        assert!(!shared.set_enrichment_mut(country("FR")));
        assert_eq!(other.enrichment().unwrap().country.as_deref(), Some("DE"));
    }

    #[test]
    fn long_strings_read_from_the_text_or_unescaped() {
        let record = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"s3.amazonaws.com",
            "eventName":"GetObject","eventID":"0a1b2c3d-0000-4000-8000-00000000000a",
            "userAgent":"agent \"quoted\" \u00e9","errorMessage":"Access Denied",
            "errorCode":"AccessDenied"}"#;
        let check = |e: &Event| {
            assert_eq!(e.event_id(), "0a1b2c3d-0000-4000-8000-00000000000a");
            assert_eq!(e.user_agent(), Some("agent \"quoted\" \u{e9}"));
            assert_eq!(e.error_message(), Some("Access Denied"));
        };
        check(&Event::from_json(record, Origin::new("f.json", 0)).unwrap());
        let doc = format!("{record} ,{{}}");
        let (len, event) = Event::from_json_prefix(&doc, Origin::new("f.json", 0)).unwrap();
        assert_eq!(len, record.len());
        check(&event.unwrap());
        // Through serde_json (the scanner leaves records with escaped keys to it).
        let odd = record.replacen('{', r#"{"extra\u0041":1,"#, 1);
        check(&Event::from_json(odd, Origin::new("f.json", 0)).unwrap());
        let missing = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"s","eventName":"n"}"#;
        let e = Event::from_json(missing, Origin::new("f.json", 0)).unwrap();
        assert_eq!(
            (e.event_id(), e.user_agent(), e.error_message()),
            ("", None, None)
        );
    }

    #[test]
    fn rejects_non_records() {
        assert!(matches!(
            Event::from_json(r#"{"a":1}"#, Origin::new("x", 0)),
            Err(Error::NotARecord {
                missing: "eventTime"
            })
        ));
        assert!(matches!(
            Event::from_json("[1]", Origin::new("x", 0)),
            Err(Error::NotARecord { .. })
        ));
        assert!(matches!(
            Event::from_json("{", Origin::new("x", 0)),
            Err(Error::Json { .. })
        ));
    }

    #[test]
    fn prefix_decodes_one_record_and_its_extent() {
        let text = format!("{ROLE} , {{\"next\":1}}]}}");
        let (len, event) = Event::from_json_prefix(&text, Origin::new("f.json", 0)).unwrap();
        assert_eq!(len, ROLE.len());
        let event = event.unwrap();
        assert_eq!(event.raw(), ROLE);
        let whole = Event::from_json(ROLE, Origin::new("f.json", 0)).unwrap();
        assert_eq!(event.user_identity(), whole.user_identity());
        assert_eq!(event.event_time(), whole.event_time());
        assert_eq!(event.tls_details(), whole.tls_details());
    }

    #[test]
    fn shared_document_records_read_in_place_and_detach() {
        let document = Arc::new(Document::new(format!("{{\"Records\":[{ROLE}, {ROLE}]}}")));
        let at = document.text().find(ROLE).unwrap();
        let (len, event) =
            Event::from_json_prefix_in(&document, at, Origin::new("f.json", 0)).unwrap();
        let event = event.unwrap();
        assert_eq!((len, event.raw()), (ROLE.len(), ROLE));
        assert!(event.shares_document());
        assert_eq!(Arc::strong_count(&document), 2);
        let whole = Event::from_json(ROLE, Origin::new("f.json", 0)).unwrap();
        assert_eq!(event.user_identity(), whole.user_identity());
        assert_eq!(event.event_id(), whole.event_id());
        assert_eq!(event.user_agent(), whole.user_agent());
        assert_eq!(event.member("userIdentity"), whole.member("userIdentity"));
        // A detached copy holds its own text: the document is freed with the last sharer.
        let kept = event.detach();
        assert!(!kept.shares_document() && !whole.shares_document());
        assert_eq!(kept.raw(), ROLE);
        assert_eq!(kept.event_id(), whole.event_id());
        drop(event);
        assert_eq!(Arc::strong_count(&document), 1);
        // Past the end, or not at a record.
        assert!(
            Event::from_json_prefix_in(&document, document.text().len() + 1, Origin::new("f", 0))
                .is_err()
        );
        assert!(
            Event::from_json_prefix_in(&document, 0, Origin::new("f", 0))
                .is_ok_and(|(_, e)| e.is_err())
        );
    }

    #[test]
    fn prefix_reports_record_errors_with_extent() {
        let (len, event) =
            Event::from_json_prefix(r#"{"a":{"b":[1,2]}},{"c":2}"#, Origin::new("x", 0)).unwrap();
        assert_eq!(len, 17);
        assert!(matches!(
            event,
            Err(Error::NotARecord {
                missing: "eventTime"
            })
        ));
        assert!(matches!(
            Event::from_json_prefix(r#"{"eventTime":"#, Origin::new("x", 0)),
            Err(Error::Json { .. })
        ));
        assert!(matches!(
            Event::from_json_prefix(r#"{"userIdentity":"x"}"#, Origin::new("x", 0)),
            Err(Error::Json { .. })
        ));
        assert!(matches!(
            Event::from_json_prefix(" {}", Origin::new("x", 0)),
            Err(Error::NotARecord { .. })
        ));
    }

    #[test]
    fn odd_types_are_tolerated() {
        let raw = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"s","eventName":"n",
            "readOnly":"true","sourceIPAddress":42,"userIdentity":{"type":"Root"}}"#;
        let e = Event::from_json(raw, Origin::new("x", 0)).unwrap();
        assert_eq!(e.read_only(), Some(true));
        assert_eq!(e.source().text, "");
        assert_eq!(e.principal_name(), "root");
    }
}
