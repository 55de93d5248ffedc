//! Verifying a tree in S3: the same checks as [`crate::verify_tree`], with digests, their
//! signatures (the `signature` user metadata of each digest object) and log files read from
//! an `s3://bucket/prefix` instead of a directory.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;

use sha2::{Digest as _, Sha256};
use trailhound_aws::S3Location;
use trailhound_aws::s3::Client;
use trailhound_aws::s3read::{self, TimeWindow};

use crate::finding::Report;
use crate::model::Digest;
use crate::verify::{DigestSource, TreeInput, VerifyOptions, check};
use crate::{Error, Result, tree};

/// Largest digest or log object read, compressed or not (CloudTrail's are far smaller).
const MAX_OBJECT: u64 = 1 << 30;

/// The user metadata entry holding a digest's hex signature.
pub const SIGNATURE_METADATA: &str = "signature";

/// Inflates a gzip body with the cap of local trees.
fn inflate(bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    trailhound_ingest::CappedGzReader::new(bytes, MAX_OBJECT)
        .read_to_end(&mut out)
        .map_err(|e| format!("not gzip: {e}"))?;
    Ok(out)
}

/// Hex SHA-256 of a gzip body's uncompressed content, streamed through the hash.
fn inflated_sha256(bytes: &[u8]) -> std::result::Result<String, String> {
    let mut reader = trailhound_ingest::CappedGzReader::new(bytes, MAX_OBJECT);
    let mut hasher = Sha256::new();
    let mut chunk = vec![0_u8; 64 << 10];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| format!("not gzip: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&chunk[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Verifies the CloudTrail tree under `location` (any prefix above the digest and log
/// files): lists its `CloudTrail/` and `CloudTrail-Digest/` objects, reads every digest with
/// its signature metadata and every log file a digest lists, with at most `concurrency`
/// objects in flight. Log files are hashed as they arrive, not held.
///
/// # Errors
/// [`Error::S3`] when the prefix cannot be listed, [`Error::NoDigestObjects`] when it holds
/// no digest. Objects that cannot be read are findings (an unreadable digest, a log file
/// whose hash is `unreadable: …`).
pub async fn verify_s3(
    client: &Client,
    location: &S3Location,
    options: &VerifyOptions,
    concurrency: usize,
) -> Result<Report> {
    let bucket = location.bucket.as_str();
    let listing = s3read::list_cloudtrail(
        client,
        bucket,
        &location.prefix,
        &TimeWindow::default(),
        &["CloudTrail", "CloudTrail-Digest"],
    )
    .await?;
    // Keys from `AWSLogs/` on, as in a local tree, mapped to the bucket's keys.
    let mut digest_keys: Vec<(String, String)> = Vec::new();
    let mut log_keys: HashMap<String, String> = HashMap::new();
    for object in listing.objects {
        if !object.key.ends_with(".json.gz") {
            continue;
        }
        let rel = tree::awslogs_key(&object.key).to_owned();
        if rel.contains("/CloudTrail-Digest/") {
            digest_keys.push((rel, object.key));
        } else if rel.contains("/CloudTrail/") {
            log_keys.insert(rel, object.key);
        }
    }
    if digest_keys.is_empty() {
        return Err(Error::NoDigestObjects(location.to_string()));
    }
    tracing::info!(
        %location,
        digests = digest_keys.len(),
        logs = log_keys.len(),
        requests = listing.requests,
        "listed the tree"
    );

    let fetched = s3read::fetch_all(
        client,
        bucket,
        digest_keys.iter().map(|(_, key)| key.clone()).collect(),
        MAX_OBJECT,
        concurrency,
        |object| {
            let signature = object.metadata.get(SIGNATURE_METADATA).cloned();
            (inflate(&object.bytes), signature)
        },
    )
    .await;
    let mut digests = Vec::with_capacity(fetched.len());
    let mut wanted: HashSet<String> = HashSet::new();
    for ((rel, _), (_, result)) in digest_keys.into_iter().zip(fetched) {
        let (content, signature) = match result {
            Ok(read) => read,
            Err(e) => (Err(error_chain(&e)), None),
        };
        if let Ok(bytes) = &content
            && let Ok(digest) = serde_json::from_slice::<Digest>(bytes)
        {
            for entry in &digest.log_files {
                let key = tree::awslogs_key(&entry.s3_object);
                if log_keys.contains_key(key) {
                    wanted.insert(key.to_owned());
                }
            }
        }
        digests.push(DigestSource {
            key: rel,
            content,
            signature,
        });
    }

    let mut wanted: Vec<String> = wanted.into_iter().collect();
    wanted.sort();
    let full: Vec<String> = wanted
        .iter()
        .filter_map(|rel| log_keys.get(rel).cloned())
        .collect();
    let hashed = s3read::fetch_all(client, bucket, full, MAX_OBJECT, concurrency, |object| {
        inflated_sha256(&object.bytes)
    })
    .await;
    let hashes: HashMap<String, std::result::Result<String, String>> = wanted
        .into_iter()
        .zip(hashed)
        .map(|(rel, (_, result))| {
            let hash = match result {
                Ok(hash) => hash,
                Err(e) => Err(error_chain(&e)),
            };
            (rel, hash)
        })
        .collect();
    let mut logs: Vec<String> = log_keys.into_keys().collect();
    logs.sort();
    let mut log_sha256 = |key: &str| {
        hashes
            .get(key)
            .cloned()
            .unwrap_or_else(|| Err("not read".to_owned()))
    };
    Ok(check(
        TreeInput {
            digests,
            logs,
            no_signature: "no signature: the digest object has no signature metadata",
            log_sha256: &mut log_sha256,
        },
        options,
    ))
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn hashes_the_uncompressed_content() {
        let body = br#"{"Records":[]}"#;
        assert_eq!(
            inflated_sha256(&gz(body)).unwrap(),
            hex::encode(Sha256::digest(body))
        );
        assert_eq!(inflate(&gz(body)).unwrap(), body);
        assert!(
            inflated_sha256(b"plain")
                .unwrap_err()
                .starts_with("not gzip")
        );
    }

    #[test]
    fn error_chains_are_one_line() {
        let e = trailhound_aws::Error::Get {
            bucket: "b".into(),
            key: "k".into(),
            source: Box::from("access denied"),
        };
        assert_eq!(error_chain(&e), "cannot read s3://b/k: access denied");
    }
}
