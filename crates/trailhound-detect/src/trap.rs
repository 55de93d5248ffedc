//! Traps: canary identities and honeypot resources. Nobody has a reason to use a canary or to
//! touch a honeypot, so any event by or on one is a high-confidence alert (kind `canary`),
//! failed attempts (AccessDenied) and console sign-ins included.
//!
//! Canaries are matched on the caller (`userIdentity`): IAM user names and ARNs, role names
//! and ARNs (sessions of the role), access key ids, role session names; calls that *target*
//! a canary (an `AssumeRole` of a canary role, `GetAccessKeyInfo` on a canary key) count too.
//! Honeypots are matched per service on `requestParameters` and the `resources[]` ARNs.
//!
//! ```
//! use trailhound_detect::trap::{TrapsConfig, TrapConfig, TrapKind};
//! let config = TrapsConfig { traps: vec![TrapConfig {
//!     name: "payroll-export".into(), kind: TrapKind::DynamodbTable,
//!     value: "payroll-export".into(), severity: None }] };
//! let detector = config.build().unwrap();
//! assert_eq!(detector.len(), 1);
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailhound_core::{Alert, Event, IdentityType, RuleKind, RuleRef, Severity, field, rawjson};

use crate::glob::Glob;
use crate::prefilter::AnyLiteral;
use crate::{Detector, Error, Interest, Result, RuleDoc};

/// Rule id of canary identity alerts.
pub const CANARY_RULE_ID: &str = "TH2201";
/// Rule id of honeypot resource alerts.
pub const HONEYPOT_RULE_ID: &str = "TH2202";

/// `[traps]`: canary identities and honeypot resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrapsConfig {
    /// The traps (`[[traps.traps]]`).
    pub traps: Vec<TrapConfig>,
}

/// One trap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrapConfig {
    /// The trap's name, shown in alerts.
    pub name: String,
    /// What it is.
    pub kind: TrapKind,
    /// Its name, ARN, id or alias (see the kind); `*` wildcards allowed.
    pub value: String,
    /// Alert severity (default critical for canaries, high for honeypots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// The kinds of trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrapKind {
    /// Canary IAM user: user name or user ARN.
    IamUser,
    /// Canary role: role name or role ARN (any session of it).
    Role,
    /// Canary access key id (`AKIA…`).
    AccessKey,
    /// Canary role session name (the last part of an `assumed-role` ARN).
    RoleSession,
    /// Honeypot DynamoDB table: table name or ARN.
    DynamodbTable,
    /// Honeypot S3 bucket: bucket name.
    S3Bucket,
    /// Honeypot S3 key prefix: `bucket/prefix`.
    S3Prefix,
    /// Honeypot Secrets Manager secret: name or ARN.
    Secret,
    /// Honeypot SSM parameter: name (with or without the leading `/`) or ARN.
    SsmParameter,
    /// Honeypot KMS key: key id, key ARN or `alias/NAME`.
    KmsKey,
    /// Honeypot Lambda function: name or ARN.
    LambdaFunction,
}

impl TrapKind {
    /// True for canary identities (matched on the caller).
    #[must_use]
    pub fn is_canary(self) -> bool {
        matches!(
            self,
            Self::IamUser | Self::Role | Self::AccessKey | Self::RoleSession
        )
    }

    /// The kebab-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IamUser => "iam-user",
            Self::Role => "role",
            Self::AccessKey => "access-key",
            Self::RoleSession => "role-session",
            Self::DynamodbTable => "dynamodb-table",
            Self::S3Bucket => "s3-bucket",
            Self::S3Prefix => "s3-prefix",
            Self::Secret => "secret",
            Self::SsmParameter => "ssm-parameter",
            Self::KmsKey => "kms-key",
            Self::LambdaFunction => "lambda-function",
        }
    }

    /// The eventSource of a honeypot's service.
    #[must_use]
    pub fn event_source(self) -> Option<&'static str> {
        match self {
            Self::DynamodbTable => Some("dynamodb.amazonaws.com"),
            Self::S3Bucket | Self::S3Prefix => Some("s3.amazonaws.com"),
            Self::Secret => Some("secretsmanager.amazonaws.com"),
            Self::SsmParameter => Some("ssm.amazonaws.com"),
            Self::KmsKey => Some("kms.amazonaws.com"),
            Self::LambdaFunction => Some("lambda.amazonaws.com"),
            _ => None,
        }
    }
}

struct Trap {
    config: TrapConfig,
    glob: Glob,
    /// For S3 prefixes: bucket and key prefix.
    bucket_prefix: Option<(String, String)>,
    /// Text that a record must contain to hit this honeypot: most records of a honeypot's
    /// service (every S3 data event, every DynamoDB read) are ruled out by one substring
    /// search of the raw record (with a prebuilt vectorised finder: std's `str::contains`
    /// builds its searcher on every call), without building its JSON tree.
    needle: Option<AnyLiteral>,
}

/// The literal a honeypot's matching records must contain, for the kinds whose value always
/// appears in the record as written (a name in the request or in a resource ARN); see
/// [`crate::prefilter`].
fn honeypot_needle(
    kind: &TrapKind,
    glob: &Glob,
    bucket_prefix: Option<&(String, String)>,
) -> Option<String> {
    let literal = match kind {
        TrapKind::DynamodbTable | TrapKind::S3Bucket | TrapKind::Secret => {
            glob.longest_literal().map(str::to_owned)
        }
        // The bucket must match; the key may be a parent prefix being listed.
        TrapKind::S3Prefix => bucket_prefix
            .and_then(|(bucket, _)| Glob::new(bucket).longest_literal().map(str::to_owned)),
        _ => None,
    }?;
    crate::prefilter::plain(&literal).then_some(literal)
}

/// The compiled traps: one detector for all of them.
pub struct TrapDetector {
    traps: Vec<Trap>,
    honeypot_sources: Vec<&'static str>,
}

impl std::fmt::Debug for TrapDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrapDetector")
            .field("traps", &self.traps.len())
            .finish_non_exhaustive()
    }
}

impl TrapsConfig {
    /// Compiles the traps.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty value or an S3 prefix without `bucket/`.
    pub fn build(&self) -> Result<TrapDetector> {
        let mut traps = Vec::new();
        let mut honeypot_sources = Vec::new();
        for trap in &self.traps {
            let error = |message: &str| Error::Config {
                detector: format!("traps.{}", trap.name),
                message: message.to_owned(),
            };
            let value = trap.value.trim();
            if value.is_empty() {
                return Err(error("empty value"));
            }
            let bucket_prefix = if trap.kind == TrapKind::S3Prefix {
                let (bucket, prefix) = value
                    .trim_start_matches("s3://")
                    .split_once('/')
                    .ok_or_else(|| error("an s3-prefix value is bucket/prefix"))?;
                Some((bucket.to_owned(), prefix.to_owned()))
            } else {
                None
            };
            if let Some(source) = trap.kind.event_source()
                && !honeypot_sources.contains(&source)
            {
                honeypot_sources.push(source);
            }
            let normalised = match trap.kind {
                TrapKind::SsmParameter => value.trim_start_matches('/').to_owned(),
                _ => value.to_owned(),
            };
            let glob = Glob::new(&normalised);
            let needle = honeypot_needle(&trap.kind, &glob, bucket_prefix.as_ref())
                .map(|literal| AnyLiteral::new(&[literal]));
            traps.push(Trap {
                config: trap.clone(),
                glob,
                bucket_prefix,
                needle,
            });
        }
        Ok(TrapDetector {
            traps,
            honeypot_sources,
        })
    }
}

impl TrapDetector {
    /// How many traps.
    #[must_use]
    pub fn len(&self) -> usize {
        self.traps.len()
    }

    /// True when there is no trap.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.traps.is_empty()
    }

    fn canary_hit(trap: &Trap, event: &Event) -> Option<String> {
        let id = event.user_identity();
        // Only calls that can name another identity read their request parameters (from the
        // record's text); every other event is judged on the typed identity fields.
        let names_identity = matches!(
            event.event_name(),
            "AssumeRole" | "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity" | "GetAccessKeyInfo"
        );
        let params = names_identity
            .then(|| event.member("requestParameters"))
            .flatten();
        let param = |name: &str| {
            params
                .and_then(|p| rawjson::member(p, name))
                .and_then(rawjson::string)
        };
        match trap.config.kind {
            TrapKind::IamUser => {
                let by_name = matches!(id.kind, IdentityType::IAMUser)
                    && id
                        .user_name
                        .as_deref()
                        .is_some_and(|n| trap.glob.is_match(n));
                // The name test first: it rejects almost every ARN without a substring search
                // (a literal name, the usual case, by comparing the ARN's end).
                let last_part_matches = |a: &str| match trap.glob.literal() {
                    Some(name) => {
                        !name.contains('/')
                            && a.strip_suffix(name).is_some_and(|head| head.ends_with('/'))
                    }
                    None => a.rsplit('/').next().is_some_and(|n| trap.glob.is_match(n)),
                };
                let by_arn = id.arn.as_deref().is_some_and(|a| {
                    trap.glob.is_match(a) || (last_part_matches(a) && a.contains(":user/"))
                });
                (by_name || by_arn).then(|| "the caller is the canary user".to_owned())
            }
            TrapKind::Role => {
                if let Some(issuer) = &id.session_issuer {
                    let hit = issuer.arn.as_deref().is_some_and(|a| trap.glob.is_match(a))
                        || issuer
                            .user_name
                            .as_deref()
                            .is_some_and(|n| trap.glob.is_match(n));
                    if hit {
                        return Some("the caller is a session of the canary role".to_owned());
                    }
                }
                if let Some(arn) = id.arn.as_deref()
                    && let Some(role) = assumed_role_name(arn)
                    && trap.glob.is_match(role)
                {
                    return Some("the caller is a session of the canary role".to_owned());
                }
                if let Some(target) = param("roleArn")
                    && (trap.glob.is_match(&target)
                        || target
                            .rsplit('/')
                            .next()
                            .is_some_and(|n| trap.glob.is_match(n)))
                {
                    return Some(format!("{} targets the canary role", event.event_name()));
                }
                None
            }
            TrapKind::AccessKey => {
                if id
                    .access_key_id
                    .as_deref()
                    .is_some_and(|k| trap.glob.is_match(k))
                {
                    return Some("the call was signed with the canary access key".to_owned());
                }
                param("accessKeyId")
                    .filter(|k| trap.glob.is_match(k))
                    .map(|_| format!("{} names the canary access key", event.event_name()))
            }
            TrapKind::RoleSession => {
                let session_hit = id.arn.as_deref().is_some_and(|a| {
                    a.rsplit('/').next().is_some_and(|s| trap.glob.is_match(s))
                        && assumed_role_name(a).is_some()
                });
                if session_hit {
                    return Some("the caller is the canary role session".to_owned());
                }
                param("roleSessionName")
                    .filter(|s| trap.glob.is_match(s))
                    .map(|_| format!("{} requests the canary session name", event.event_name()))
            }
            _ => None,
        }
    }

    fn honeypot_hit(trap: &Trap, event: &Event) -> Option<String> {
        if trap.config.kind.event_source() != Some(event.event_source()) {
            return None;
        }
        // A honeypot is named in the request or the resources, the only values read below:
        // the needle is looked for there, not in the whole record.
        if let Some(needle) = &trap.needle
            && ![field::REQUEST_PARAMETERS, field::RESOURCES]
                .iter()
                .any(|key| event.member(key).is_some_and(|text| needle.may_match(text)))
        {
            return None;
        }
        let json = event.json();
        let params = json.get("requestParameters");
        let arns = resource_arns(json);
        let glob = &trap.glob;
        match trap.config.kind {
            TrapKind::DynamodbTable => {
                let mut names = Vec::new();
                for key in ["tableName", "tableArn", "resourceArn", "backupArn"] {
                    if let Some(t) = params.and_then(|p| p.get(key)).and_then(Value::as_str) {
                        names.push(t.to_owned());
                    }
                }
                if let Some(Value::Object(items)) = params.and_then(|p| p.get("requestItems")) {
                    names.extend(items.keys().cloned());
                }
                if let Some(Value::Array(items)) = params.and_then(|p| p.get("requestItems")) {
                    for item in items {
                        if let Some(t) = item.get("tableName").and_then(Value::as_str) {
                            names.push(t.to_owned());
                        }
                    }
                }
                for arn in &arns {
                    if let Some(rest) = arn.split(":table/").nth(1) {
                        names.push(arn.clone());
                        names.push(rest.split('/').next().unwrap_or(rest).to_owned());
                    }
                }
                names
                    .iter()
                    .any(|n| glob.is_match(n) || table_name(n).is_some_and(|t| glob.is_match(t)))
                    .then(|| "the table is a honeypot".to_owned())
            }
            TrapKind::S3Bucket => {
                let bucket = params
                    .and_then(|p| p.get("bucketName"))
                    .and_then(Value::as_str);
                let hit = bucket.is_some_and(|b| glob.is_match(b))
                    || arns.iter().any(|a| {
                        a.strip_prefix("arn:aws:s3:::")
                            .is_some_and(|r| glob.is_match(r.split('/').next().unwrap_or(r)))
                    });
                hit.then(|| "the bucket is a honeypot".to_owned())
            }
            TrapKind::S3Prefix => {
                let (bucket, prefix) = trap.bucket_prefix.as_ref()?;
                let bucket_glob = Glob::new(bucket);
                let request_bucket = params
                    .and_then(|p| p.get("bucketName"))
                    .and_then(Value::as_str);
                let key = params.and_then(|p| p.get("key")).and_then(Value::as_str);
                let list_prefix = params.and_then(|p| p.get("prefix")).and_then(Value::as_str);
                let mut hit = request_bucket.is_some_and(|b| bucket_glob.is_match(b))
                    && (key.is_some_and(|k| k.starts_with(prefix.as_str()))
                        || list_prefix.is_some_and(|l| {
                            !l.is_empty()
                                && (l.starts_with(prefix.as_str()) || prefix.starts_with(l))
                        }));
                for arn in &arns {
                    if let Some((b, k)) = arn
                        .strip_prefix("arn:aws:s3:::")
                        .and_then(|r| r.split_once('/'))
                        && bucket_glob.is_match(b)
                        && k.starts_with(prefix.as_str())
                    {
                        hit = true;
                    }
                }
                hit.then(|| "the object is under a honeypot prefix".to_owned())
            }
            TrapKind::Secret => {
                let mut ids: Vec<&str> = Vec::new();
                if let Some(p) = params {
                    for key in ["secretId", "name", "arn"] {
                        if let Some(v) = p.get(key).and_then(Value::as_str) {
                            ids.push(v);
                        }
                    }
                    if let Some(Value::Array(list)) = p.get("secretIdList") {
                        ids.extend(list.iter().filter_map(Value::as_str));
                    }
                }
                ids.extend(arns.iter().map(String::as_str));
                ids.iter()
                    .any(|id| {
                        glob.is_match(id) || secret_name(id).is_some_and(|n| glob.is_match(n))
                    })
                    .then(|| "the secret is a honeypot".to_owned())
            }
            TrapKind::SsmParameter => {
                let mut names: Vec<&str> = Vec::new();
                if let Some(p) = params {
                    if let Some(v) = p.get("name").and_then(Value::as_str) {
                        names.push(v);
                    }
                    if let Some(Value::Array(list)) = p.get("names") {
                        names.extend(list.iter().filter_map(Value::as_str));
                    }
                }
                let mut hit = names.iter().any(|n| {
                    let n = n.split(":parameter/").nth(1).unwrap_or(n);
                    glob.is_match(n.trim_start_matches('/'))
                });
                hit |= arns.iter().any(|a| {
                    a.split(":parameter/")
                        .nth(1)
                        .is_some_and(|n| glob.is_match(n.trim_start_matches('/')))
                });
                if !hit
                    && let Some(path) = params.and_then(|p| p.get("path")).and_then(Value::as_str)
                {
                    let path = path.trim_start_matches('/');
                    hit = trap.config.value.trim_start_matches('/').starts_with(path);
                }
                hit.then(|| "the parameter is a honeypot".to_owned())
            }
            TrapKind::KmsKey => {
                let mut ids: Vec<&str> = Vec::new();
                if let Some(p) = params {
                    for key in [
                        "keyId",
                        "aliasName",
                        "targetKeyId",
                        "destinationKeyId",
                        "sourceKeyId",
                    ] {
                        if let Some(v) = p.get(key).and_then(Value::as_str) {
                            ids.push(v);
                        }
                    }
                }
                ids.extend(arns.iter().map(String::as_str));
                ids.iter()
                    .any(|id| {
                        glob.is_match(id)
                            || id.split(":key/").nth(1).is_some_and(|k| glob.is_match(k))
                            || id
                                .split(':')
                                .nth(5)
                                .is_some_and(|alias| glob.is_match(alias))
                    })
                    .then(|| "the key is a honeypot".to_owned())
            }
            TrapKind::LambdaFunction => {
                let mut ids: Vec<&str> = Vec::new();
                if let Some(f) = params
                    .and_then(|p| p.get("functionName"))
                    .and_then(Value::as_str)
                {
                    ids.push(f);
                }
                ids.extend(arns.iter().map(String::as_str));
                ids.iter()
                    .any(|id| glob.is_match(id) || glob.is_match(&function_name(id)))
                    .then(|| "the function is a honeypot".to_owned())
            }
            _ => None,
        }
    }
}

/// The `resources[].ARN` values of a record.
pub(crate) fn resource_arns(json: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Array(resources)) = json.get("resources") {
        for resource in resources {
            if let Some(arn) = resource
                .get("ARN")
                .or_else(|| resource.get("arn"))
                .and_then(Value::as_str)
            {
                out.push(arn.to_owned());
            }
        }
    }
    out
}

fn table_name(id: &str) -> Option<&str> {
    id.split(":table/")
        .nth(1)
        .map(|r| r.split('/').next().unwrap_or(r))
}

/// `arn:aws:secretsmanager:r:a:secret:NAME-AbCdEf` → `NAME`.
fn secret_name(id: &str) -> Option<&str> {
    let name = id.split(":secret:").nth(1)?;
    match name.rsplit_once('-') {
        Some((base, suffix)) if suffix.len() == 6 => Some(base),
        _ => Some(name),
    }
}

/// The role name of an assumed-role session ARN
/// (`arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`): the resource is split off at the
/// fifth colon with byte searches, where a substring search per event cost more than the
/// rest of the canary tests.
fn assumed_role_name(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    resource.strip_prefix("assumed-role/")?.split('/').next()
}

/// The function name of a Lambda function name, ARN or partial ARN (qualifier dropped).
pub(crate) fn function_name(id: &str) -> String {
    match id.split(":function:").nth(1) {
        Some(rest) => rest.split(':').next().unwrap_or(rest).to_owned(),
        None => id.split(':').next().unwrap_or(id).to_owned(),
    }
}

impl Detector for TrapDetector {
    fn id(&self) -> &str {
        "traps"
    }

    fn interest(&self) -> Interest {
        Interest::all()
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Alert>) {
        let honeypot_service = self.honeypot_sources.contains(&event.event_source());
        for trap in &self.traps {
            let canary = trap.config.kind.is_canary();
            if !canary && !honeypot_service {
                continue;
            }
            let hit = if canary {
                Self::canary_hit(trap, event)
            } else {
                Self::honeypot_hit(trap, event)
            };
            let Some(reason) = hit else { continue };
            out.push(trap_alert(&trap.config, &reason, event));
        }
    }
}

fn trap_alert(trap: &TrapConfig, reason: &str, event: &Event) -> Alert {
    let canary = trap.kind.is_canary();
    let (id, name) = if canary {
        (CANARY_RULE_ID, "canary-identity-used")
    } else {
        (HONEYPOT_RULE_ID, "honeypot-resource-touched")
    };
    let severity = trap.severity.unwrap_or(if canary {
        Severity::Critical
    } else {
        Severity::High
    });
    let outcome = match event.error_code() {
        Some(code) => format!(" (failed: {code})"),
        None => String::new(),
    };
    let what = if canary { "canary" } else { "honeypot" };
    let title = format!(
        "{what} {} {:?} touched: {} by {} from {}{outcome}",
        trap.kind.as_str(),
        trap.name,
        event.event_name(),
        event.principal_name(),
        if event.source().text.is_empty() {
            "unknown"
        } else {
            event.source().text.as_str()
        },
    );
    let why = format!(
        "{reason}: trap {:?} ({} {}) exists only to be noticed; no legitimate workload uses it",
        trap.name,
        trap.kind.as_str(),
        trap.value
    );
    let rule = RuleRef {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: RuleKind::Canary,
        author: None,
    };
    let mut alert = Alert::for_event(rule, severity, title, why, event);
    alert.attack = if canary {
        vec!["T1078.004".to_owned()]
    } else {
        vec!["T1530".to_owned(), "T1087.004".to_owned()]
    };
    alert.runbook = "Treat the credentials that touched the trap as compromised: find where they came from (source address, user agent, access key), disable or rotate them, and pivot on the principal and address for everything else they did. Keep the trap in place.".to_owned();
    alert.group_key = Some(format!(
        "{}|{}|{}",
        trap.name,
        event.principal_arn().unwrap_or(""),
        event.source().text
    ));
    alert.context.insert(
        "trap".into(),
        serde_json::json!({"name": trap.name, "kind": trap.kind.as_str(), "value": trap.value}),
    );
    if let Some(code) = event.error_code() {
        alert.context.insert("error_code".into(), code.into());
    }
    alert.seal();
    alert
}

/// The catalogue entries of the trap family.
#[must_use]
pub fn rule_docs() -> Vec<RuleDoc> {
    let common_fp = vec!["A trap listed by a legitimate inventory or security scanner (exclude its role, or accept the alert).".to_owned()];
    vec![
        RuleDoc {
            id: CANARY_RULE_ID.to_owned(),
            name: "canary-identity-used".to_owned(),
            kind: RuleKind::Canary,
            title: "Canary identity used".to_owned(),
            severity: Severity::Critical,
            attack: vec!["T1078.004".to_owned()],
            description: "Any call by a canary IAM user, role, role session or access key, failed calls and console sign-ins included, and calls that target a canary (AssumeRole of a canary role).".to_owned(),
            why_it_matters: "Canary credentials are planted where an intruder looks (code, CI variables, laptops) and used by nobody: any use means they were found.".to_owned(),
            tuning: "[[traps.traps]] with kind = iam-user | role | access-key | role-session; severity per trap.".to_owned(),
            false_positives: common_fp.clone(),
            runbook: "Find where the canary was planted and who could read it; treat that place as compromised.".to_owned(),
            references: vec!["https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html".to_owned()],
            author: None,
            behaviours: vec!["Canary identity used".to_owned()],
        },
        RuleDoc {
            id: HONEYPOT_RULE_ID.to_owned(),
            name: "honeypot-resource-touched".to_owned(),
            kind: RuleKind::Canary,
            title: "Honeypot resource touched".to_owned(),
            severity: Severity::High,
            attack: vec!["T1530".to_owned()],
            description: "Any call on a honeypot DynamoDB table, S3 bucket or key prefix, secret, SSM parameter, KMS key or Lambda function, matched on request parameters and resource ARNs.".to_owned(),
            why_it_matters: "Decoy resources with tempting names are read only by someone exploring the account.".to_owned(),
            tuning: "[[traps.traps]] with kind = dynamodb-table | s3-bucket | s3-prefix | secret | ssm-parameter | kms-key | lambda-function.".to_owned(),
            false_positives: common_fp,
            runbook: "Treat the caller's credentials as compromised; pivot on the principal and source address.".to_owned(),
            references: vec!["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html".to_owned()],
            author: None,
            behaviours: vec!["Honeypot resource touched".to_owned()],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_role_names_come_from_the_resource() {
        let name = assumed_role_name;
        assert_eq!(
            name("arn:aws:sts::123456789012:assumed-role/deploy/ci-run-7"),
            Some("deploy")
        );
        assert_eq!(
            name("arn:aws-us-gov:sts::123456789012:assumed-role/deploy/s"),
            Some("deploy")
        );
        assert_eq!(name("arn:aws:iam::123456789012:user/assumed-role/x"), None);
        assert_eq!(name("arn:aws:iam::123456789012:role/deploy"), None);
        assert_eq!(name("assumed-role/deploy/s"), None);
    }

    #[test]
    fn honeypot_needles_are_literals_every_hit_contains() {
        let needle = |kind: TrapKind, value: &str, bp: Option<(&str, &str)>| {
            let bp = bp.map(|(b, p)| (b.to_owned(), p.to_owned()));
            honeypot_needle(&kind, &Glob::new(value), bp.as_ref())
        };
        assert_eq!(
            needle(TrapKind::DynamodbTable, "customer-pii-export", None).as_deref(),
            Some("customer-pii-export")
        );
        assert_eq!(
            needle(TrapKind::S3Bucket, "backup-*-archive", None).as_deref(),
            Some("-archive")
        );
        // A listing of a parent prefix is a hit without the key prefix in the record.
        assert_eq!(
            needle(
                TrapKind::S3Prefix,
                "finance/payroll/",
                Some(("finance", "payroll/"))
            )
            .as_deref(),
            Some("finance")
        );
        assert_eq!(needle(TrapKind::S3Bucket, "*", None), None);
        assert_eq!(needle(TrapKind::DynamodbTable, "tablé", None), None);
        assert_eq!(
            needle(TrapKind::SsmParameter, "prod/db/password", None),
            None
        );
    }
}
