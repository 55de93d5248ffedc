//! Digest files, their metadata sidecars and public key lists, as AWS writes them.

use std::path::Path;

use base64::Engine as _;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::DecodePublicKey as _;
use serde::{Deserialize, Serialize};
use trailhound_core::Timestamp;

use crate::{Error, Result};

/// One CloudTrail digest file (the JSON inside the `.json.gz`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    /// The account the digest was delivered for.
    pub aws_account_id: String,
    /// Start of the hour the digest covers (ISO 8601, UTC).
    pub digest_start_time: String,
    /// End of the hour the digest covers; part of the signing string.
    pub digest_end_time: String,
    /// Bucket the digest was delivered to.
    pub digest_s3_bucket: String,
    /// Key the digest was delivered to.
    pub digest_s3_object: String,
    /// Hex fingerprint of the public key whose private key signed the digest.
    pub digest_public_key_fingerprint: String,
    /// Signature algorithm (`SHA256withRSA`).
    pub digest_signature_algorithm: String,
    /// Newest event time over the listed log files.
    #[serde(default)]
    pub newest_event_time: Option<String>,
    /// Oldest event time over the listed log files.
    #[serde(default)]
    pub oldest_event_time: Option<String>,
    /// Bucket of the previous digest (null for the first digest of a chain).
    #[serde(default)]
    pub previous_digest_s3_bucket: Option<String>,
    /// Key of the previous digest.
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    /// Hex SHA-256 of the previous digest's uncompressed content.
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    /// Hash algorithm of `previous_digest_hash_value` (`SHA-256`).
    #[serde(default)]
    pub previous_digest_hash_algorithm: Option<String>,
    /// Hex signature of the previous digest.
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    /// The log files delivered during the hour.
    #[serde(default)]
    pub log_files: Vec<LogFileEntry>,
}

/// One log file listed in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFileEntry {
    /// Bucket of the log file.
    pub s3_bucket: String,
    /// Key of the log file.
    pub s3_object: String,
    /// Hex SHA-256 of the uncompressed log file content.
    pub hash_value: String,
    /// `SHA-256`.
    pub hash_algorithm: String,
    /// Newest event time in the file.
    #[serde(default)]
    pub newest_event_time: Option<String>,
    /// Oldest event time in the file.
    #[serde(default)]
    pub oldest_event_time: Option<String>,
}

/// The S3 user metadata of a digest object, as exported offline.
///
/// The sidecar `<digest>.json.gz.metadata.json` holds either the whole output of
/// `aws s3api head-object` (the signature under `Metadata`) or just the metadata map:
/// `{"signature": "<hex>", "signature-algorithm": "SHA256withRSA"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestMetadata {
    /// Hex signature of the digest (`x-amz-meta-signature`).
    pub signature: String,
    /// Signature algorithm (`x-amz-meta-signature-algorithm`).
    #[serde(rename = "signature-algorithm", default)]
    pub signature_algorithm: Option<String>,
}

#[derive(Deserialize)]
struct HeadObject {
    #[serde(rename = "Metadata")]
    metadata: DigestMetadata,
}

impl DigestMetadata {
    /// Parses a sidecar: `head-object` output or the bare metadata map.
    ///
    /// # Errors
    /// A description of what is wrong with the text.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if let Ok(head) = serde_json::from_str::<HeadObject>(text) {
            return Ok(head.metadata);
        }
        serde_json::from_str::<DigestMetadata>(text).map_err(|e| e.to_string())
    }

    /// The sidecar path of a digest file.
    #[must_use]
    pub fn sidecar_path(digest: &Path) -> std::path::PathBuf {
        let mut name = digest.as_os_str().to_owned();
        name.push(".metadata.json");
        name.into()
    }
}

/// One public key of `aws cloudtrail list-public-keys`.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Hex fingerprint, matched against `digestPublicKeyFingerprint`.
    pub fingerprint: String,
    /// Start of the key's validity.
    pub validity_start: Option<Timestamp>,
    /// End of the key's validity.
    pub validity_end: Option<Timestamp>,
    /// The RSA key.
    pub key: RsaPublicKey,
}

/// The public keys, loaded from the JSON `aws cloudtrail list-public-keys` prints:
/// `{"PublicKeyList": [{"Value": "<base64 DER>", "ValidityStartTime": …,
/// "ValidityEndTime": …, "Fingerprint": "<hex>"}]}`.
#[derive(Debug, Clone, Default)]
pub struct PublicKeys {
    keys: Vec<PublicKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyListFile {
    public_key_list: Vec<KeyListEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyListEntry {
    value: String,
    #[serde(default)]
    validity_start_time: Option<String>,
    #[serde(default)]
    validity_end_time: Option<String>,
    fingerprint: String,
}

impl PublicKeys {
    /// Reads a public key file.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, [`Error::PublicKeys`] when it is not a key list.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|reason| Error::PublicKeys {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses the JSON of a public key file.
    ///
    /// # Errors
    /// A description of the first problem.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let file: KeyListFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut keys = Vec::with_capacity(file.public_key_list.len());
        for entry in file.public_key_list {
            let der = base64::engine::general_purpose::STANDARD
                .decode(entry.value.trim())
                .map_err(|e| format!("key {}: value is not base64: {e}", entry.fingerprint))?;
            let key = RsaPublicKey::from_pkcs1_der(&der)
                .or_else(|_| RsaPublicKey::from_public_key_der(&der))
                .map_err(|e| format!("key {}: not a DER RSA public key: {e}", entry.fingerprint))?;
            let time = |t: Option<String>| -> std::result::Result<Option<Timestamp>, String> {
                t.map(|t| Timestamp::parse(&t).map_err(|e| e.to_string()))
                    .transpose()
            };
            keys.push(PublicKey {
                fingerprint: entry.fingerprint.to_ascii_lowercase(),
                validity_start: time(entry.validity_start_time)?,
                validity_end: time(entry.validity_end_time)?,
                key,
            });
        }
        Ok(PublicKeys { keys })
    }

    /// The keys.
    #[must_use]
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The key with this fingerprint (case-insensitive).
    #[must_use]
    pub fn by_fingerprint(&self, fingerprint: &str) -> Option<&PublicKey> {
        let wanted = fingerprint.to_ascii_lowercase();
        self.keys.iter().find(|k| k.fingerprint == wanted)
    }
}
