//! Findings, the report, and their alerts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trailhound_core::{Alert, Entity, RuleKind, RuleRef, Severity, Timestamp};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A listed log file's SHA-256 differs from the digest's.
    LogFileModified,
    /// A listed log file is absent.
    LogFileDeleted,
    /// A log file inside a covered time range is listed in no digest.
    LogFileNotInDigest,
    /// A digest the chain points to is absent (one or more hours deleted).
    DigestMissing,
    /// A digest's signature does not verify.
    SignatureInvalid,
    /// A digest has no signature (no metadata sidecar).
    SignatureMissing,
    /// No public key has the digest's fingerprint.
    UnknownPublicKey,
    /// `previousDigestHashValue` differs from the previous digest's hash.
    ChainHashMismatch,
    /// `previousDigestSignature` differs from the previous digest's signature.
    ChainSignatureMismatch,
    /// A digest file is not gzip JSON of the digest shape.
    DigestUnreadable,
    /// A digest is not where its `digestS3Object` says it was delivered.
    DigestMoved,
    /// A digest names a signature algorithm other than `SHA256withRSA`.
    UnsupportedAlgorithm,
}

impl FindingKind {
    /// The kebab-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LogFileModified => "log-file-modified",
            Self::LogFileDeleted => "log-file-deleted",
            Self::LogFileNotInDigest => "log-file-not-in-digest",
            Self::DigestMissing => "digest-missing",
            Self::SignatureInvalid => "signature-invalid",
            Self::SignatureMissing => "signature-missing",
            Self::UnknownPublicKey => "unknown-public-key",
            Self::ChainHashMismatch => "chain-hash-mismatch",
            Self::ChainSignatureMismatch => "chain-signature-mismatch",
            Self::DigestUnreadable => "digest-unreadable",
            Self::DigestMoved => "digest-moved",
            Self::UnsupportedAlgorithm => "unsupported-algorithm",
        }
    }

    /// The rule id of the alerts of this kind (`TH4xxx`).
    #[must_use]
    pub fn rule_id(self) -> &'static str {
        match self {
            Self::LogFileModified => "TH4001",
            Self::LogFileDeleted => "TH4002",
            Self::LogFileNotInDigest => "TH4003",
            Self::DigestMissing => "TH4004",
            Self::SignatureInvalid => "TH4005",
            Self::SignatureMissing => "TH4006",
            Self::UnknownPublicKey => "TH4007",
            Self::ChainHashMismatch => "TH4008",
            Self::ChainSignatureMismatch => "TH4009",
            Self::DigestUnreadable => "TH4010",
            Self::DigestMoved => "TH4011",
            Self::UnsupportedAlgorithm => "TH4012",
        }
    }

    /// Severity: critical for evidence of tampering, high for what cannot be checked.
    #[must_use]
    pub fn severity(self) -> Severity {
        match self {
            Self::LogFileModified
            | Self::LogFileDeleted
            | Self::DigestMissing
            | Self::SignatureInvalid
            | Self::ChainHashMismatch
            | Self::ChainSignatureMismatch => Severity::Critical,
            Self::LogFileNotInDigest
            | Self::SignatureMissing
            | Self::UnknownPublicKey
            | Self::DigestUnreadable
            | Self::DigestMoved
            | Self::UnsupportedAlgorithm => Severity::High,
        }
    }

    fn runbook(self) -> &'static str {
        match self {
            Self::LogFileModified => {
                "A log file no longer matches the hash CloudTrail recorded at delivery: its events \
                 were edited. Treat the file's content as untrusted; compare with a copy from a \
                 replica or Object Lock bucket; review who wrote to the bucket (S3 data events, \
                 PutObject on the key) and restrict write access to the trail bucket."
            }
            Self::LogFileDeleted => {
                "A log file CloudTrail delivered is gone: events of that period are missing. \
                 Restore it from versioning or a replica; find the DeleteObject in S3 data events \
                 or server access logs; enable versioning and MFA delete or Object Lock."
            }
            Self::LogFileNotInDigest => {
                "A log file sits in a delivered hour but no digest lists it: it was added after \
                 delivery, possibly to plant events. Do not trust its events; find who wrote it \
                 (PutObject on the key) and review write access to the bucket."
            }
            Self::DigestMissing => {
                "Digest files are missing from the chain: whole hours can no longer be validated, \
                 and their log files may have been removed with them. Restore the digests from \
                 versioning or a replica, find the deletions, and protect the CloudTrail-Digest \
                 prefix with Object Lock."
            }
            Self::SignatureInvalid => {
                "A digest's signature does not verify with CloudTrail's public key: the digest \
                 was forged or altered, and the hashes it lists cannot be trusted. Validate with \
                 a copy from another source and investigate writes to the bucket."
            }
            Self::SignatureMissing => {
                "A digest has no signature to check. Export the object's metadata \
                 (`aws s3api head-object`) next to it as <digest>.metadata.json and verify again."
            }
            Self::UnknownPublicKey => {
                "No public key in the key file has this digest's fingerprint. Refresh the file \
                 with `aws cloudtrail list-public-keys` over the digest's time range; a \
                 fingerprint CloudTrail never used means a forged digest."
            }
            Self::ChainHashMismatch | Self::ChainSignatureMismatch => {
                "A digest does not match what the next digest recorded about it: it was replaced \
                 after delivery. Treat both digests' hours as tampered; restore from versioning \
                 and investigate writes to the CloudTrail-Digest prefix."
            }
            Self::DigestUnreadable => {
                "A digest file is not valid gzip JSON: it was corrupted or replaced. Restore it \
                 from versioning or a replica and verify again."
            }
            Self::DigestMoved => {
                "A digest is not at the key it was delivered to: it was copied or renamed, \
                 perhaps to stand in for a deleted one. Locate the original object."
            }
            Self::UnsupportedAlgorithm => {
                "A digest names a signature algorithm CloudTrail does not use (SHA256withRSA): \
                 treat it as forged."
            }
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One integrity finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What is wrong.
    pub kind: FindingKind,
    /// The file concerned, as its key from `AWSLogs/` on.
    pub file: String,
    /// The digest that lists or points to it (its key), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// What the digest says (hash, key, signature…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// Account of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Region of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The time the finding is about (the digest's end, or the log file's delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// The finding in one sentence.
    pub detail: String,
}

impl Finding {
    /// The finding as an alert of kind `integrity`.
    #[must_use]
    pub fn to_alert(&self) -> Alert {
        let time = self.time.unwrap_or(Timestamp::EPOCH);
        let mut context = serde_json::Map::new();
        context.insert("finding".into(), self.kind.as_str().into());
        context.insert("file".into(), self.file.clone().into());
        for (name, value) in [
            ("digest", &self.digest),
            ("expected", &self.expected),
            ("actual", &self.actual),
        ] {
            if let Some(value) = value {
                context.insert(name.into(), value.clone().into());
            }
        }
        let mut alert = Alert {
            id: String::new(),
            rule: RuleRef {
                id: self.kind.rule_id().into(),
                name: format!("integrity-{}", self.kind.as_str()),
                kind: RuleKind::Integrity,
                author: None,
            },
            title: format!("CloudTrail integrity: {} {}", self.kind, self.file),
            severity: self.kind.severity(),
            attack: vec!["T1565.001".into(), "T1070".into()],
            first_seen: time,
            last_seen: time,
            event_count: 0,
            entity: Entity {
                account: self.account.clone(),
                region: self.region.clone(),
                ..Entity::default()
            },
            why: self.detail.clone(),
            events: Vec::new(),
            runbook: self.kind.runbook().into(),
            fingerprint: String::new(),
            group_key: Some(format!("{}:{}", self.kind, self.file)),
            score: None,
            references: vec![
                "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html".into(),
            ],
            context,
        };
        alert.seal();
        alert
    }
}

/// Counts of what was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Digest files found.
    pub digests: usize,
    /// Digest chains (account, region, trail).
    pub chains: usize,
    /// Digest signatures that verified.
    pub signatures_verified: usize,
    /// Whether signatures were checked (a public key file was given).
    pub signatures_checked: bool,
    /// Log files found in the tree.
    pub log_files: usize,
    /// Listed log files whose hash matched.
    pub log_files_valid: usize,
    /// Findings per kind.
    pub findings: BTreeMap<FindingKind, usize>,
}

/// The result of verifying a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// What was checked.
    pub summary: Summary,
    /// The findings, ordered by kind, file and digest.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing is wrong.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}
