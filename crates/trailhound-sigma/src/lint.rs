//! `trailhound rules check`: diagnostics for Sigma rules.
//!
//! Every diagnostic has a stable code (see docs/sigma.md for the catalogue), a severity, the
//! file, a line:column and a message.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::detection::{self, Selection};
use crate::error::{Error, Loc};
use crate::field::FieldPath;
use crate::rule::{self, DocKind, SigmaDoc};
use crate::ruleset::{RuleSet, RuleSource, SigmaConfig};
use crate::template;
use crate::yaml::Value;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiagSeverity {
    /// Worth a look; the rule runs.
    Warning,
    /// The rule cannot run as written (exit 1).
    Error,
}

/// One finding about a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `unknown-modifier`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: DiagSeverity,
    /// The file.
    pub path: String,
    /// 1-based line (0 when unknown).
    pub line: u64,
    /// 1-based column (0 when unknown).
    pub column: u64,
    /// The rule's title or id (empty for file-level problems).
    pub rule: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            DiagSeverity::Error => "error",
            DiagSeverity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}[{}]: ",
            self.path, self.line, self.column, self.code
        )?;
        if !self.rule.is_empty() {
            write!(f, "{}: ", self.rule)?;
        }
        f.write_str(&self.message)
    }
}

/// Top-level fields of a CloudTrail record.
pub const RECORD_FIELDS: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "sharedEventID",
    "serviceEventDetails",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "insightDetails",
    "addendum",
    "annotation",
];

/// Top-level fields whose subpaths are free-form (service-specific).
pub const FREE_FIELDS: &[&str] = &[
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
    "resources",
    "insightDetails",
    "edgeDeviceDetails",
    "addendum",
];

/// Known `userIdentity` subpaths.
pub const USER_IDENTITY_FIELDS: &[&str] = &[
    "type",
    "principalId",
    "arn",
    "accountId",
    "accessKeyId",
    "userName",
    "invokedBy",
    "identityProvider",
    "credentialId",
    "onBehalfOf",
    "onBehalfOf.userId",
    "onBehalfOf.identityStoreArn",
    "inScopeOf",
    "sessionContext",
    "sessionContext.sessionIssuer",
    "sessionContext.sessionIssuer.type",
    "sessionContext.sessionIssuer.principalId",
    "sessionContext.sessionIssuer.arn",
    "sessionContext.sessionIssuer.accountId",
    "sessionContext.sessionIssuer.userName",
    "sessionContext.webIdFederationData",
    "sessionContext.webIdFederationData.federatedProvider",
    "sessionContext.webIdFederationData.attributes",
    "sessionContext.attributes",
    "sessionContext.attributes.creationDate",
    "sessionContext.attributes.mfaAuthenticated",
    "sessionContext.sourceIdentity",
    "sessionContext.ec2RoleDelivery",
    "sessionContext.ec2Issuer",
    "sessionContext.assumedRoot",
];

/// eventSource → eventNames it emits, for the services rules commonly use (not exhaustive:
/// an eventSource missing here is not checked).
pub const EVENT_NAMES: &[(&str, &[&str])] = &[
    (
        "account.amazonaws.com",
        &[
            "EnableRegion",
            "DisableRegion",
            "PutAlternateContact",
            "DeleteAlternateContact",
            "PutContactInformation",
        ],
    ),
    (
        "bedrock.amazonaws.com",
        &[
            "CreateGuardrail",
            "UpdateGuardrail",
            "DeleteGuardrail",
            "InvokeModel",
            "InvokeModelWithResponseStream",
            "PutModelInvocationLoggingConfiguration",
            "DeleteModelInvocationLoggingConfiguration",
            "GetModelInvocationLoggingConfiguration",
            "ListFoundationModels",
            "Converse",
            "ConverseStream",
        ],
    ),
    (
        "cloudtrail.amazonaws.com",
        &[
            "StopLogging",
            "StartLogging",
            "DeleteTrail",
            "UpdateTrail",
            "CreateTrail",
            "PutEventSelectors",
            "PutInsightSelectors",
            "DescribeTrails",
            "GetTrailStatus",
            "LookupEvents",
            "DeleteEventDataStore",
            "StopEventDataStoreIngestion",
        ],
    ),
    (
        "config.amazonaws.com",
        &[
            "StopConfigurationRecorder",
            "DeleteConfigurationRecorder",
            "DeleteDeliveryChannel",
            "PutConfigurationRecorder",
            "PutDeliveryChannel",
            "DeleteConfigRule",
        ],
    ),
    (
        "ec2.amazonaws.com",
        &[
            "RunInstances",
            "TerminateInstances",
            "StopInstances",
            "StartInstances",
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
            "CreateInstanceExportTask",
            "CreateNetworkAclEntry",
            "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry",
            "CreateRoute",
            "DeleteRoute",
            "ReplaceRoute",
            "DisableEbsEncryptionByDefault",
            "EnableEbsEncryptionByDefault",
            "ImportKeyPair",
            "CreateKeyPair",
            "DeleteKeyPair",
            "ModifyInstanceAttribute",
            "ModifySnapshotAttribute",
            "ModifyImageAttribute",
            "CreateSnapshot",
            "DeleteSnapshot",
            "CopySnapshot",
            "SharedSnapshotCopyInitiated",
            "DeleteFlowLogs",
            "CreateFlowLogs",
            "DescribeInstances",
            "DescribeInstanceAttribute",
            "GetPasswordData",
            "CreateVpc",
            "DeleteVpc",
            "CreateImage",
            "CopyImage",
            "DeregisterImage",
            "GetConsoleScreenshot",
            "GetConsoleOutput",
            "CreateTrafficMirrorSession",
            "CreateTrafficMirrorTarget",
            "ModifyVpcEndpoint",
            "DescribeRegions",
        ],
    ),
    (
        "ecs.amazonaws.com",
        &[
            "RegisterTaskDefinition",
            "DeregisterTaskDefinition",
            "DescribeTaskDefinition",
            "RunTask",
            "StartTask",
            "StopTask",
            "CreateService",
            "UpdateService",
            "DeleteService",
            "CreateCluster",
            "DeleteCluster",
            "ExecuteCommand",
        ],
    ),
    (
        "eks.amazonaws.com",
        &[
            "CreateCluster",
            "DeleteCluster",
            "UpdateClusterConfig",
            "CreateNodegroup",
            "DeleteNodegroup",
            "CreateAccessEntry",
            "AssociateAccessPolicy",
            "ListClusters",
            "DescribeCluster",
        ],
    ),
    (
        "elasticache.amazonaws.com",
        &[
            "CreateCacheSecurityGroup",
            "DeleteCacheSecurityGroup",
            "AuthorizeCacheSecurityGroupIngress",
            "AuthorizeCacheSecurityGroupEgress",
            "RevokeCacheSecurityGroupIngress",
            "RevokeCacheSecurityGroupEgress",
            "CreateCacheCluster",
            "DeleteCacheCluster",
        ],
    ),
    (
        "elasticfilesystem.amazonaws.com",
        &[
            "CreateFileSystem",
            "DeleteFileSystem",
            "CreateMountTarget",
            "DeleteMountTarget",
            "PutFileSystemPolicy",
        ],
    ),
    (
        "elasticloadbalancing.amazonaws.com",
        &[
            "ApplySecurityGroupsToLoadBalancer",
            "SetSecurityGroups",
            "CreateLoadBalancer",
            "DeleteLoadBalancer",
            "ModifyLoadBalancerAttributes",
        ],
    ),
    (
        "glue.amazonaws.com",
        &[
            "CreateDevEndpoint",
            "DeleteDevEndpoint",
            "UpdateDevEndpoint",
            "CreateJob",
            "UpdateJob",
            "GetTables",
        ],
    ),
    (
        "guardduty.amazonaws.com",
        &[
            "CreateDetector",
            "DeleteDetector",
            "UpdateDetector",
            "CreateIPSet",
            "UpdateIPSet",
            "DeleteIPSet",
            "CreateFilter",
            "UpdateFilter",
            "CreateThreatIntelSet",
            "DeleteThreatIntelSet",
            "DisassociateFromMasterAccount",
            "DisassociateFromAdministratorAccount",
            "StopMonitoringMembers",
            "DeleteMembers",
            "ArchiveFindings",
            "UpdatePublishingDestination",
            "DeletePublishingDestination",
        ],
    ),
    (
        "iam.amazonaws.com",
        &[
            "CreateUser",
            "DeleteUser",
            "CreateAccessKey",
            "DeleteAccessKey",
            "UpdateAccessKey",
            "CreateLoginProfile",
            "UpdateLoginProfile",
            "DeleteLoginProfile",
            "GetLoginProfile",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "PutUserPolicy",
            "DeleteUserPolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "PutRolePolicy",
            "DeleteRolePolicy",
            "AttachGroupPolicy",
            "PutGroupPolicy",
            "AddUserToGroup",
            "RemoveUserFromGroup",
            "CreateRole",
            "DeleteRole",
            "UpdateAssumeRolePolicy",
            "CreatePolicy",
            "CreatePolicyVersion",
            "SetDefaultPolicyVersion",
            "DeletePolicy",
            "CreateSAMLProvider",
            "UpdateSAMLProvider",
            "DeleteSAMLProvider",
            "CreateOpenIDConnectProvider",
            "DeleteOpenIDConnectProvider",
            "CreateVirtualMFADevice",
            "DeactivateMFADevice",
            "DeleteVirtualMFADevice",
            "EnableMFADevice",
            "ResyncMFADevice",
            "UpdateAccountPasswordPolicy",
            "DeleteAccountPasswordPolicy",
            "CreateServiceLinkedRole",
            "ListUsers",
            "ListRoles",
            "ListAccessKeys",
            "GetAccountAuthorizationDetails",
            "CreateInstanceProfile",
            "AddRoleToInstanceProfile",
            "PassRole",
            "UploadSSHPublicKey",
            "UploadServerCertificate",
            "TagRole",
            "TagUser",
        ],
    ),
    (
        "kms.amazonaws.com",
        &[
            "ImportKeyMaterial",
            "DeleteImportedKeyMaterial",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "DisableKey",
            "EnableKey",
            "PutKeyPolicy",
            "CreateGrant",
            "RevokeGrant",
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "CreateKey",
            "DisableKeyRotation",
        ],
    ),
    (
        "lambda.amazonaws.com",
        &[
            "CreateFunction20150331",
            "UpdateFunctionCode20150331v2",
            "UpdateFunctionConfiguration20150331v2",
            "AddPermission20150331v2",
            "CreateFunctionUrlConfig",
            "UpdateFunctionUrlConfig",
            "DeleteFunction20150331",
            "Invoke",
            "PublishLayerVersion20181031",
            "AddLayerVersionPermission20181031",
            "CreateEventSourceMapping20150331",
            "GetFunction20150331v2",
            "ListFunctions20150331",
        ],
    ),
    (
        "logs.amazonaws.com",
        &[
            "DeleteLogGroup",
            "DeleteLogStream",
            "PutRetentionPolicy",
            "DeleteRetentionPolicy",
            "PutSubscriptionFilter",
            "DeleteSubscriptionFilter",
            "CreateExportTask",
        ],
    ),
    (
        "organizations.amazonaws.com",
        &[
            "LeaveOrganization",
            "RemoveAccountFromOrganization",
            "InviteAccountToOrganization",
            "CreateAccount",
            "DeleteOrganization",
            "DetachPolicy",
            "DisablePolicyType",
            "AttachPolicy",
            "UpdatePolicy",
            "DeletePolicy",
        ],
    ),
    (
        "rds.amazonaws.com",
        &[
            "CreateDBSecurityGroup",
            "DeleteDBSecurityGroup",
            "AuthorizeDBSecurityGroupIngress",
            "RevokeDBSecurityGroupIngress",
            "ModifyDBInstance",
            "ModifyDBCluster",
            "DeleteDBCluster",
            "DeleteDBInstance",
            "RestoreDBInstanceFromDBSnapshot",
            "ModifyDBSnapshotAttribute",
            "ModifyDBClusterSnapshotAttribute",
            "CreateDBSnapshot",
            "StopDBInstance",
        ],
    ),
    (
        "route53.amazonaws.com",
        &[
            "ChangeResourceRecordSets",
            "DeleteHostedZone",
            "CreateHostedZone",
        ],
    ),
    (
        "route53domains.amazonaws.com",
        &[
            "DisableDomainTransferLock",
            "TransferDomainToAnotherAwsAccount",
            "TransferDomain",
            "EnableDomainTransferLock",
            "UpdateDomainContact",
        ],
    ),
    (
        "s3.amazonaws.com",
        &[
            "ListBuckets",
            "CreateBucket",
            "DeleteBucket",
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            "PutBucketAcl",
            "PutBucketLogging",
            "PutBucketVersioning",
            "PutBucketWebsite",
            "DeleteBucketWebsite",
            "PutEncryptionConfiguration",
            "DeleteBucketEncryption",
            "PutBucketEncryption",
            "PutLifecycleConfiguration",
            "PutBucketLifecycle",
            "DeleteBucketLifecycle",
            "PutReplicationConfiguration",
            "PutBucketReplication",
            "DeleteBucketReplication",
            "ReplicateObject",
            "RestoreObject",
            "PutBucketPublicAccessBlock",
            "DeleteBucketPublicAccessBlock",
            "PutAccountPublicAccessBlock",
            "GetObject",
            "PutObject",
            "DeleteObject",
            "DeleteObjects",
            "CopyObject",
            "PutObjectAcl",
            "GetBucketAcl",
            "GetBucketPolicy",
            "ListObjects",
            "ListObjectsV2",
            "PutBucketOwnershipControls",
            "PutBucketNotification",
            "PutObjectLockConfiguration",
            "HeadBucket",
            "GetBucketLocation",
        ],
    ),
    (
        "secretsmanager.amazonaws.com",
        &[
            "GetSecretValue",
            "BatchGetSecretValue",
            "PutSecretValue",
            "CreateSecret",
            "DeleteSecret",
            "UpdateSecret",
            "PutResourcePolicy",
            "ListSecrets",
            "RotateSecret",
        ],
    ),
    (
        "securityhub.amazonaws.com",
        &[
            "BatchUpdateFindings",
            "UpdateFindings",
            "DeleteInsight",
            "UpdateInsight",
            "CreateInsight",
            "DisableSecurityHub",
            "BatchDisableStandards",
            "DeleteActionTargets",
            "DisableImportFindingsForProduct",
        ],
    ),
    (
        "ses.amazonaws.com",
        &[
            "DeleteIdentity",
            "VerifyEmailIdentity",
            "VerifyDomainIdentity",
            "SendEmail",
            "SendRawEmail",
            "UpdateAccountSendingEnabled",
            "GetSendQuota",
            "ListIdentities",
            "CreateEmailIdentity",
            "DeleteEmailIdentity",
        ],
    ),
    (
        "signin.amazonaws.com",
        &[
            "ConsoleLogin",
            "GetSigninToken",
            "SwitchRole",
            "ExitRole",
            "CheckMfa",
            "PasswordRecoveryRequested",
            "PasswordRecoveryCompleted",
            "CredentialChallenge",
            "CredentialVerification",
            "UserAuthentication",
            "RenewRoleCredentials",
        ],
    ),
    (
        "sns.amazonaws.com",
        &[
            "Publish",
            "CreateTopic",
            "DeleteTopic",
            "Subscribe",
            "Unsubscribe",
            "SetTopicAttributes",
        ],
    ),
    (
        "ssm.amazonaws.com",
        &[
            "SendCommand",
            "StartSession",
            "ResumeSession",
            "TerminateSession",
            "RegisterManagedInstance",
            "CreateActivation",
            "GetParameter",
            "GetParameters",
            "GetParametersByPath",
            "PutParameter",
            "DeleteParameter",
            "DescribeInstanceInformation",
            "CreateDocument",
            "UpdateDocument",
        ],
    ),
    (
        "sso.amazonaws.com",
        &[
            "AssociateDirectory",
            "DisassociateDirectory",
            "EnableExternalIdPConfigurationForDirectory",
            "DisableExternalIdPConfigurationForDirectory",
            "CreatePermissionSet",
            "DeletePermissionSet",
            "CreateAccountAssignment",
            "DeleteAccountAssignment",
            "AttachManagedPolicyToPermissionSet",
            "PutInlinePolicyToPermissionSet",
            "ProvisionPermissionSet",
            "UpdatePermissionSet",
            "Federate",
        ],
    ),
    (
        "sso-directory.amazonaws.com",
        &[
            "AssociateDirectory",
            "DisassociateDirectory",
            "EnableExternalIdPConfigurationForDirectory",
            "DisableExternalIdPConfigurationForDirectory",
            "CreateUser",
            "DeleteUser",
            "UpdateUser",
            "AddMemberToGroup",
            "CreateGroup",
        ],
    ),
    (
        "sts.amazonaws.com",
        &[
            "AssumeRole",
            "AssumeRoleWithSAML",
            "AssumeRoleWithWebIdentity",
            "AssumeRoot",
            "GetCallerIdentity",
            "GetSessionToken",
            "GetFederationToken",
            "GetAccessKeyInfo",
            "DecodeAuthorizationMessage",
        ],
    ),
    ("waf.amazonaws.com", &["DeleteWebACL", "UpdateWebACL"]),
    (
        "wafv2.amazonaws.com",
        &[
            "DeleteWebACL",
            "UpdateWebACL",
            "DeleteLoggingConfiguration",
            "DisassociateWebACL",
        ],
    ),
];

/// Whether `field` (dotted, no modifiers) is in the CloudTrail record schema.
#[must_use]
pub fn field_is_known(field: &str) -> bool {
    if matches!(field, "src_ip" | "src_country") {
        return true;
    }
    let (head, rest) = field
        .split_once('.')
        .map_or((field, None), |(h, r)| (h, Some(r)));
    if !RECORD_FIELDS.contains(&head) {
        return false;
    }
    match rest {
        None => true,
        Some(_) if FREE_FIELDS.contains(&head) => true,
        Some(sub) if head == "userIdentity" => {
            USER_IDENTITY_FIELDS.contains(&sub)
                || sub.starts_with("sessionContext.webIdFederationData.attributes.")
                || sub.starts_with("onBehalfOf.")
        }
        Some(sub) if head == "tlsDetails" => {
            matches!(
                sub,
                "tlsVersion" | "cipherSuite" | "clientProvidedHostHeader"
            )
        }
        Some(_) => false,
    }
}

fn code_of(message: &str) -> &'static str {
    if message.contains("unknown modifier") {
        "unknown-modifier"
    } else if message.contains("placeholder") {
        "placeholder-without-value"
    } else if message.contains("regular expression") {
        "bad-regex"
    } else if message.contains("condition")
        || message.contains("aggregation")
        || message.contains("timeframe")
    {
        "bad-condition"
    } else if message.contains("correlation") || message.contains("timespan") {
        "bad-correlation"
    } else {
        "invalid-rule"
    }
}

fn from_error(e: &Error, fallback_path: &str) -> Diagnostic {
    let (path, loc, rule, message, code) = match e {
        Error::Yaml { path, loc, message } => {
            (path.clone(), *loc, String::new(), message.clone(), "yaml")
        }
        Error::Rule {
            path,
            loc,
            rule,
            message,
        } => (
            path.clone(),
            *loc,
            rule.clone(),
            message.clone(),
            code_of(message),
        ),
        Error::Correlation { rule, message } => (
            fallback_path.to_owned(),
            Loc::default(),
            rule.clone(),
            message.clone(),
            "bad-correlation",
        ),
        other => (
            fallback_path.to_owned(),
            Loc::default(),
            String::new(),
            other.to_string(),
            "invalid-rule",
        ),
    };
    Diagnostic {
        code,
        severity: DiagSeverity::Error,
        path,
        line: loc.line,
        column: loc.column,
        rule,
        message,
    }
}

/// Lints rule sources: each document is compiled on its own (so one bad rule does not hide
/// the others), then checked against the CloudTrail schema and the eventSource table.
#[must_use]
pub fn lint_sources(sources: &[RuleSource], config: &SigmaConfig) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut all_docs = Vec::new();
    let mut all_ok = true;
    for src in sources {
        let docs = match rule::parse_file(&src.text, &src.path) {
            Ok(d) => d,
            Err(e) => {
                out.push(from_error(&e, &src.path));
                all_ok = false;
                continue;
            }
        };
        for doc in docs {
            lint_doc(&doc, config, &mut out, &mut all_ok);
            all_docs.push(doc);
        }
    }
    // Whole-set checks (correlation references, filters) once every rule compiles.
    if all_ok && let Err(e) = RuleSet::from_docs(all_docs, config) {
        let path = sources.first().map_or("", |s| s.path.as_str());
        out.push(from_error(&e, path));
    }
    out.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    out
}

fn warn(doc: &SigmaDoc, loc: Loc, code: &'static str, message: String) -> Diagnostic {
    Diagnostic {
        code,
        severity: DiagSeverity::Warning,
        path: doc.path.clone(),
        line: loc.line,
        column: loc.column,
        rule: doc.label().to_owned(),
        message,
    }
}

fn lint_doc(doc: &SigmaDoc, config: &SigmaConfig, out: &mut Vec<Diagnostic>, all_ok: &mut bool) {
    if doc.title.is_empty() {
        out.push(warn(
            doc,
            doc.loc,
            "missing-title",
            "rule has no title".into(),
        ));
    }
    if doc.kind == DocKind::Rule && doc.id.is_empty() {
        out.push(warn(
            doc,
            doc.loc,
            "missing-id",
            "rule has no id: alerts need a stable rule id".into(),
        ));
    }
    if let Some(level) = &doc.level
        && level.parse::<trailhound_core::Severity>().is_err()
    {
        let loc = doc.node.get("level").map_or(doc.loc, |n| n.loc);
        out.push(warn(
            doc,
            loc,
            "unknown-level",
            format!("level {level:?} is not informational, low, medium, high or critical"),
        ));
    }
    if let Some(t) = doc.custom.get("trailhound") {
        lint_extension(doc, t, out);
    }
    let section = match doc.kind {
        DocKind::Rule => "detection",
        DocKind::Filter => "filter",
        DocKind::Correlation => return,
    };
    let Some(node) = doc.node.get(section) else {
        return;
    };
    let mut stripped = node.clone();
    if let Value::Map(entries) = &mut stripped.value {
        entries.retain(|(k, _)| k.text != "rules");
    }
    let err = |loc, message: String| doc.error(loc, message);
    let det = match detection::compile(&stripped, &config.compile, &err) {
        Ok(d) => d,
        Err(e) => {
            out.push(from_error(&e, &doc.path));
            *all_ok = false;
            return;
        }
    };
    for (_, sel) in &det.selections {
        let items: Vec<&detection::Item> = match sel {
            Selection::Maps(maps) => maps.iter().flatten().collect(),
            Selection::Keywords(item) => vec![item],
        };
        for item in items {
            if !item.field.is_empty() && !field_is_known(&item.field) {
                out.push(warn(
                    doc,
                    item.loc,
                    "unknown-field",
                    format!(
                        "field {:?} is not in the CloudTrail record schema: it is always missing",
                        item.field
                    ),
                ));
            }
            if let Some(Some(FieldPath::Json(_) | FieldPath::Hot(_))) = item
                .modifiers
                .iter()
                .any(|m| m == "fieldref")
                .then(|| item.shown.first().map(|s| FieldPath::parse(s)))
            {
                for other in &item.shown {
                    if !field_is_known(other) {
                        out.push(warn(
                            doc,
                            item.loc,
                            "unknown-field",
                            format!(
                                "fieldref target {other:?} is not in the CloudTrail record schema"
                            ),
                        ));
                    }
                }
            }
        }
    }
    if doc.kind != DocKind::Rule {
        return;
    }
    let names = det.required_literals(crate::field::Hot::EventName);
    if let Some(names) = &names
        && names.is_empty()
    {
        out.push(Diagnostic {
            code: "never-matches",
            severity: DiagSeverity::Error,
            path: doc.path.clone(),
            line: node.loc.line,
            column: node.loc.column,
            rule: doc.label().to_owned(),
            message:
                "the condition requires contradictory eventName values: the rule can never match"
                    .into(),
        });
    }
    let sources = det.required_literals(crate::field::Hot::EventSource);
    if let Some(sources) = &sources
        && sources.is_empty()
    {
        out.push(Diagnostic {
            code: "never-matches",
            severity: DiagSeverity::Error,
            path: doc.path.clone(),
            line: node.loc.line,
            column: node.loc.column,
            rule: doc.label().to_owned(),
            message:
                "the condition requires contradictory eventSource values: the rule can never match"
                    .into(),
        });
    }
    let literal_names = literal_values(&det, "eventName");
    let known_all: BTreeSet<&str> = EVENT_NAMES
        .iter()
        .flat_map(|(_, n)| n.iter().copied())
        .collect();
    for (name, loc) in &literal_names {
        if !known_all.contains(name.as_str())
            && let Some(proper) = known_all.iter().find(|k| k.eq_ignore_ascii_case(name))
        {
            out.push(warn(doc, *loc, "eventname-case", format!("eventName {name:?} is written {proper:?} by CloudTrail; routing uses the exact spelling")));
        }
    }
    if let Some(sources) = sources.filter(|s| !s.is_empty()) {
        let table: BTreeMap<&str, &[&str]> = EVENT_NAMES.iter().copied().collect();
        if sources.iter().all(|s| table.contains_key(s.as_str())) {
            for (name, loc) in &literal_names {
                let plausible = sources.iter().any(|s| {
                    table
                        .get(s.as_str())
                        .is_some_and(|n| n.iter().any(|k| k.eq_ignore_ascii_case(name)))
                });
                if !plausible {
                    out.push(warn(
                        doc,
                        *loc,
                        "eventname-not-from-source",
                        format!(
                            "eventName {name:?} is not a known API of {}",
                            sources.iter().cloned().collect::<Vec<_>>().join(" or ")
                        ),
                    ));
                }
            }
        } else {
            for s in sources.iter().filter(|s| !table.contains_key(s.as_str())) {
                if !s.ends_with(".amazonaws.com") {
                    out.push(warn(doc, node.loc, "unknown-event-source", format!("eventSource {s:?} does not look like an AWS service endpoint (*.amazonaws.com)")));
                }
            }
        }
    }
}

fn literal_values(det: &detection::Detection, field: &str) -> Vec<(String, Loc)> {
    let mut out = Vec::new();
    for (_, sel) in &det.selections {
        if let Selection::Maps(maps) = sel {
            for item in maps.iter().flatten() {
                if item.field == field && item.modifiers.iter().all(|m| m == "cased") {
                    out.extend(
                        item.shown
                            .iter()
                            .filter(|s| !s.contains(['*', '?']))
                            .map(|s| (s.clone(), item.loc)),
                    );
                }
            }
        }
    }
    out
}

const EXTENSION_KEYS: &[&str] = &[
    "id",
    "title",
    "why",
    "runbook",
    "group_by",
    "why_it_matters",
    "tuning",
    "behaviours",
    "severity_note",
];

fn lint_extension(doc: &SigmaDoc, ext: &serde_json::Value, out: &mut Vec<Diagnostic>) {
    let loc = doc.node.get("trailhound").map_or(doc.loc, |n| n.loc);
    let Some(map) = ext.as_object() else {
        out.push(Diagnostic {
            code: "bad-extension",
            severity: DiagSeverity::Error,
            path: doc.path.clone(),
            line: loc.line,
            column: loc.column,
            rule: doc.label().to_owned(),
            message: "the trailhound: extension must be a mapping".into(),
        });
        return;
    };
    for key in map.keys() {
        if !EXTENSION_KEYS.contains(&key.as_str()) {
            out.push(warn(
                doc,
                loc,
                "bad-extension",
                format!("unknown trailhound: key {key:?}"),
            ));
        }
    }
    if !map.get("id").is_some_and(serde_json::Value::is_string) {
        out.push(Diagnostic {
            code: "bad-extension",
            severity: DiagSeverity::Error,
            path: doc.path.clone(),
            line: loc.line,
            column: loc.column,
            rule: doc.label().to_owned(),
            message: "trailhound: needs an id (e.g. TH1001)".into(),
        });
    }
    for key in ["title", "why"] {
        if let Some(t) = map.get(key).and_then(serde_json::Value::as_str) {
            for p in template::placeholders(t) {
                if !TEMPLATE_NAMES.contains(&p.as_str()) && !field_is_known(&p) {
                    out.push(warn(doc, loc, "bad-template", format!("{key} placeholder {{{p}}} is neither a template name nor a CloudTrail field")));
                }
            }
        }
    }
}

/// The template names of the `trailhound:` extension.
pub const TEMPLATE_NAMES: &[&str] = &[
    "principal",
    "principal_arn",
    "account",
    "region",
    "source_ip",
    "user_agent",
    "event_name",
    "event_source",
    "error_code",
];
