//! The checks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use rsa::Pkcs1v15Sign;
use sha2::{Digest as _, Sha256};
use trailhound_core::Timestamp;

use crate::finding::{Finding, FindingKind, Report};
use crate::model::{Digest, DigestMetadata, PublicKeys};
use crate::tree;
use crate::{Error, Result};

/// The only signature algorithm CloudTrail uses.
const ALGORITHM: &str = "SHA256withRSA";

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Public keys; without them signatures are not checked (the report says so).
    pub public_keys: Option<PublicKeys>,
}

/// The string CloudTrail signs for a digest: end time, `bucket/key`, hex SHA-256 of the
/// uncompressed digest, and the previous digest's hex signature (`null` for the first digest
/// of a chain), joined by newlines.
#[must_use]
pub fn signing_string(digest: &Digest, digest_sha256_hex: &str) -> String {
    format!(
        "{}\n{}/{}\n{}\n{}",
        digest.digest_end_time,
        digest.digest_s3_bucket,
        digest.digest_s3_object,
        digest_sha256_hex,
        digest
            .previous_digest_signature
            .as_deref()
            .unwrap_or("null")
    )
}

struct Loaded {
    key: String,
    digest: Digest,
    hash: String,
    signature: Option<String>,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
}

/// A digest as read from a tree (a directory or an S3 prefix).
#[derive(Debug, Clone)]
pub(crate) struct DigestSource {
    /// Key from `AWSLogs/` on.
    pub(crate) key: String,
    /// The uncompressed content, or why it cannot be read.
    pub(crate) content: std::result::Result<Vec<u8>, String>,
    /// The hex signature from the object's metadata, when there is one.
    pub(crate) signature: Option<String>,
}

/// What the checks need of a tree, whatever holds it.
pub(crate) struct TreeInput<'a> {
    /// The digests.
    pub(crate) digests: Vec<DigestSource>,
    /// Keys (from `AWSLogs/` on) of the log files present, sorted.
    pub(crate) logs: Vec<String>,
    /// The finding detail when a digest has no signature.
    pub(crate) no_signature: &'static str,
    /// Hex SHA-256 of a present log file's uncompressed content, or why it cannot be read.
    pub(crate) log_sha256: &'a mut dyn FnMut(&str) -> std::result::Result<String, String>,
}

fn finding(kind: FindingKind, file: &str, detail: String) -> Finding {
    let (account, region) = tree::account_region(file).unzip();
    Finding {
        kind,
        file: file.to_owned(),
        digest: None,
        expected: None,
        actual: None,
        account,
        region,
        time: None,
        detail,
    }
}

/// Verifies the `AWSLogs/` tree under `root` (the directory holding `AWSLogs/`, or any
/// directory above the digest and log files).
///
/// # Errors
/// [`Error::Io`] when the tree cannot be read, [`Error::NoDigests`] when it holds no digest
/// file. Integrity problems are findings in the report, not errors.
pub fn verify_tree(root: &Path, options: &VerifyOptions) -> Result<Report> {
    let tree = tree::scan(root)?;
    if tree.digests.is_empty() {
        return Err(Error::NoDigests(root.to_owned()));
    }
    let mut digests = Vec::with_capacity(tree.digests.len());
    for file in tree.digests {
        let content = tree::read_gz(&file.path);
        let sidecar = DigestMetadata::sidecar_path(&file.path);
        let signature = match std::fs::read_to_string(&sidecar) {
            Ok(text) => match DigestMetadata::parse(&text) {
                Ok(meta) => Some(meta.signature),
                Err(reason) => {
                    tracing::warn!(path = %sidecar.display(), %reason, "unreadable metadata sidecar");
                    None
                }
            },
            Err(_) => None,
        };
        digests.push(DigestSource {
            key: file.key,
            content,
            signature,
        });
    }
    let paths: HashMap<String, std::path::PathBuf> =
        tree.logs.into_iter().map(|f| (f.key, f.path)).collect();
    let mut logs: Vec<String> = paths.keys().cloned().collect();
    logs.sort();
    let mut log_sha256 = |key: &str| match paths.get(key) {
        Some(path) => tree::read_gz(path).map(|bytes| hex::encode(Sha256::digest(&bytes))),
        None => Err("not in the tree".to_owned()),
    };
    Ok(check(
        TreeInput {
            digests,
            logs,
            no_signature: "no signature: the metadata sidecar is missing or unreadable",
            log_sha256: &mut log_sha256,
        },
        options,
    ))
}

/// Runs every check over a tree's digests and log files.
pub(crate) fn check(input: TreeInput<'_>, options: &VerifyOptions) -> Report {
    let TreeInput {
        digests,
        logs: log_keys,
        no_signature,
        log_sha256,
    } = input;
    let mut report = Report::default();
    report.summary.digests = digests.len();
    report.summary.log_files = log_keys.len();
    report.summary.signatures_checked = options.public_keys.is_some();
    let findings = &mut report.findings;

    // 1. Load digests: hash of the uncompressed content, JSON, signature.
    let mut loaded = Vec::new();
    for source in digests {
        let DigestSource {
            key,
            content,
            signature,
        } = source;
        let bytes = match content {
            Ok(bytes) => bytes,
            Err(reason) => {
                findings.push(finding(
                    FindingKind::DigestUnreadable,
                    &key,
                    format!("digest cannot be read: {reason}"),
                ));
                continue;
            }
        };
        let digest: Digest = match serde_json::from_slice(&bytes) {
            Ok(digest) => digest,
            Err(e) => {
                findings.push(finding(
                    FindingKind::DigestUnreadable,
                    &key,
                    format!("digest is not a CloudTrail digest: {e}"),
                ));
                continue;
            }
        };
        let hash = hex::encode(Sha256::digest(&bytes));
        let start = Timestamp::parse(&digest.digest_start_time).ok();
        let end = Timestamp::parse(&digest.digest_end_time).ok();
        loaded.push(Loaded {
            key,
            digest,
            hash,
            signature: signature.map(|s| s.to_ascii_lowercase()),
            start,
            end,
        });
    }

    // 2. Per digest: location, algorithm, signature.
    for d in &loaded {
        let with = |kind, detail| {
            let mut f = finding(kind, &d.key, detail);
            f.digest = Some(d.key.clone());
            f.time = d.end;
            f
        };
        let delivered = tree::awslogs_key(&d.digest.digest_s3_object);
        if delivered != d.key {
            let mut f = with(
                FindingKind::DigestMoved,
                "digest is not at the key it was delivered to".into(),
            );
            f.expected = Some(delivered.to_owned());
            f.actual = Some(d.key.clone());
            findings.push(f);
        }
        if d.digest.digest_signature_algorithm != ALGORITHM {
            let mut f = with(
                FindingKind::UnsupportedAlgorithm,
                format!(
                    "digest names signature algorithm {}",
                    d.digest.digest_signature_algorithm
                ),
            );
            f.expected = Some(ALGORITHM.into());
            f.actual = Some(d.digest.digest_signature_algorithm.clone());
            findings.push(f);
            continue;
        }
        let Some(keys) = &options.public_keys else {
            continue;
        };
        let Some(signature) = &d.signature else {
            findings.push(with(FindingKind::SignatureMissing, no_signature.into()));
            continue;
        };
        let Some(key) = keys.by_fingerprint(&d.digest.digest_public_key_fingerprint) else {
            let mut f = with(
                FindingKind::UnknownPublicKey,
                "no public key has the digest's fingerprint".into(),
            );
            f.expected = Some(d.digest.digest_public_key_fingerprint.clone());
            findings.push(f);
            continue;
        };
        let message = signing_string(&d.digest, &d.hash);
        let hashed = Sha256::digest(message.as_bytes());
        let valid = hex::decode(signature).is_ok_and(|sig| {
            key.key
                .verify(Pkcs1v15Sign::new::<Sha256>(), &hashed, &sig)
                .is_ok()
        });
        if valid {
            report.summary.signatures_verified += 1;
        } else {
            let mut f = with(
                FindingKind::SignatureInvalid,
                format!(
                    "signature does not verify with public key {}",
                    key.fingerprint
                ),
            );
            f.actual = Some(signature.clone());
            findings.push(f);
        }
    }

    // 3. Chains per (account, region, trail), ordered by end time.
    let by_key: HashMap<&str, usize> = loaded
        .iter()
        .enumerate()
        .map(|(i, d)| (d.key.as_str(), i))
        .collect();
    let mut chains: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, d) in loaded.iter().enumerate() {
        let (account, region) = tree::account_region(&d.key).unwrap_or_default();
        let trail = tree::digest_trail(&d.key).unwrap_or_default();
        chains.entry((account, region, trail)).or_default().push(i);
    }
    report.summary.chains = chains.len();
    for members in chains.values_mut() {
        members.sort_by_key(|&i| (loaded[i].end, loaded[i].key.clone()));
        for (pos, &i) in members.iter().enumerate() {
            let cur = &loaded[i];
            let Some(prev_key) = cur.digest.previous_digest_s3_object.as_deref() else {
                continue;
            };
            let prev_key = tree::awslogs_key(prev_key);
            let with = |kind, detail| {
                let mut f = finding(kind, prev_key, detail);
                f.digest = Some(cur.key.clone());
                f.time = cur.end;
                f
            };
            match by_key.get(prev_key) {
                None => {
                    // The newest digest before this one that is still present bounds the gap.
                    let earlier = pos.checked_sub(1).map(|p| &loaded[members[p]]);
                    let from = earlier.and_then(|e| e.end);
                    let to = cur.start;
                    let hours = match (from, to) {
                        (Some(from), Some(to)) if to > from => {
                            (to.millis_since(from) + 1_800_000) / 3_600_000
                        }
                        _ => 1,
                    }
                    .max(1);
                    let span = match (from, to) {
                        (Some(from), Some(to)) => format!(" between {from} and {to}"),
                        (None, Some(to)) => format!(" before {to}"),
                        _ => String::new(),
                    };
                    let mut f = with(
                        FindingKind::DigestMissing,
                        format!(
                            "previous digest is missing: no digest{span}, about {hours} hourly digest(s) deleted"
                        ),
                    );
                    f.expected = Some(prev_key.to_owned());
                    f.actual = earlier.map(|e| e.key.clone());
                    findings.push(f);
                }
                Some(&p) => {
                    let prev = &loaded[p];
                    let recorded = cur
                        .digest
                        .previous_digest_hash_value
                        .as_deref()
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    if recorded != prev.hash {
                        let mut f = with(
                            FindingKind::ChainHashMismatch,
                            "previous digest's hash differs from the one recorded in the chain"
                                .into(),
                        );
                        f.expected = Some(recorded);
                        f.actual = Some(prev.hash.clone());
                        findings.push(f);
                    }
                    let recorded = cur
                        .digest
                        .previous_digest_signature
                        .as_deref()
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    if let Some(prev_signature) = &prev.signature
                        && &recorded != prev_signature
                    {
                        let mut f = with(
                            FindingKind::ChainSignatureMismatch,
                            "previous digest's signature differs from the one recorded in the chain"
                                .into(),
                        );
                        f.expected = Some(recorded);
                        f.actual = Some(prev_signature.clone());
                        findings.push(f);
                    }
                }
            }
        }
    }

    // 4. Log files listed in the digests.
    let logs: HashSet<&str> = log_keys.iter().map(String::as_str).collect();
    let mut listed: HashSet<String> = HashSet::new();
    for d in &loaded {
        for entry in &d.digest.log_files {
            let key = tree::awslogs_key(&entry.s3_object);
            listed.insert(key.to_owned());
            let with = |kind, detail| {
                let mut f = finding(kind, key, detail);
                f.digest = Some(d.key.clone());
                f.time = d.end;
                f.expected = Some(entry.hash_value.to_ascii_lowercase());
                f
            };
            if !logs.contains(key) {
                findings.push(with(
                    FindingKind::LogFileDeleted,
                    "log file listed in the digest is absent".into(),
                ));
                continue;
            }
            let actual = match log_sha256(key) {
                Ok(hash) => hash,
                Err(reason) => format!("unreadable: {reason}"),
            };
            if actual == entry.hash_value.to_ascii_lowercase() {
                report.summary.log_files_valid += 1;
            } else {
                let mut f = with(
                    FindingKind::LogFileModified,
                    "log file's SHA-256 differs from the digest's".into(),
                );
                f.actual = Some(actual);
                findings.push(f);
            }
        }
    }

    // 5. Log files added after delivery: inside the span a chain covers, listed nowhere.
    let mut spans: HashMap<(String, String), (Timestamp, Timestamp)> = HashMap::new();
    for d in &loaded {
        let (Some(start), Some(end)) = (d.start, d.end) else {
            continue;
        };
        let Some(place) = tree::account_region(&d.key) else {
            continue;
        };
        let span = spans.entry(place).or_insert((start, end));
        span.0 = span.0.min(start);
        span.1 = span.1.max(end);
    }
    for key in &log_keys {
        if listed.contains(key) {
            continue;
        }
        let (Some(place), Some(time)) = (tree::account_region(key), tree::log_time(key)) else {
            continue;
        };
        let Some(&(start, end)) = spans.get(&place) else {
            continue;
        };
        if time >= start && time < end {
            let mut f = finding(
                FindingKind::LogFileNotInDigest,
                key,
                format!(
                    "log file delivered at {time}, inside the digested span {start} to {end}, is listed in no digest"
                ),
            );
            f.time = Some(time);
            findings.push(f);
        }
    }

    findings.sort_by(|a, b| (a.kind, &a.file, &a.digest).cmp(&(b.kind, &b.file, &b.digest)));
    for f in findings.iter() {
        *report.summary.findings.entry(f.kind).or_default() += 1;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(previous_signature: Option<&str>) -> Digest {
        serde_json::from_value(serde_json::json!({
            "awsAccountId": "111122223333",
            "digestStartTime": "2015-08-17T14:01:31Z",
            "digestEndTime": "2015-08-17T15:01:31Z",
            "digestS3Bucket": "amzn-s3-demo-bucket",
            "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
            "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
            "digestSignatureAlgorithm": "SHA256withRSA",
            "previousDigestSignature": previous_signature,
            "logFiles": []
        }))
        .unwrap()
    }

    #[test]
    fn signing_string_is_end_time_path_hash_and_previous_signature() {
        assert_eq!(
            signing_string(&digest(Some("aabb")), "00ff"),
            "2015-08-17T15:01:31Z\namzn-s3-demo-bucket/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz\n00ff\naabb"
        );
        assert!(signing_string(&digest(None), "00ff").ends_with("\n00ff\nnull"));
    }

    #[test]
    fn metadata_sidecar_accepts_head_object_output_and_bare_map() {
        let head = r#"{"AcceptRanges":"bytes","ContentType":"application/json","Metadata":{"signature":"ab12","signature-algorithm":"SHA256withRSA"}}"#;
        assert_eq!(DigestMetadata::parse(head).unwrap().signature, "ab12");
        let bare = r#"{"signature":"cd34"}"#;
        assert_eq!(DigestMetadata::parse(bare).unwrap().signature, "cd34");
        assert!(DigestMetadata::parse(r#"{"Metadata":{}}"#).is_err());
    }

    #[test]
    fn bad_public_key_files_are_refused() {
        assert!(
            PublicKeys::parse(r#"{"PublicKeyList":[{"Value":"!!","Fingerprint":"ab"}]}"#)
                .unwrap_err()
                .contains("not base64")
        );
        assert!(
            PublicKeys::parse(r#"{"PublicKeyList":[{"Value":"AAAA","Fingerprint":"ab"}]}"#)
                .unwrap_err()
                .contains("not a DER RSA public key")
        );
    }
}
