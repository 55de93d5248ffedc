//! Writing signed digest files for a tree, the way CloudTrail does (synthetic data, tests).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use trailhound_core::Timestamp;

use crate::model::{Digest, DigestMetadata, LogFileEntry};
use crate::verify::signing_string;
use crate::{Error, Result, tree};

/// Signs digest files with an RSA private key.
#[derive(Debug, Clone)]
pub struct DigestSigner {
    key: RsaPrivateKey,
    fingerprint: String,
    public_der: Vec<u8>,
}

/// Which chain of digests [`DigestSigner::write_chain`] writes.
#[derive(Debug, Clone)]
pub struct ChainSpec<'a> {
    /// Bucket named in the digests.
    pub bucket: &'a str,
    /// Account whose log files are digested.
    pub account: &'a str,
    /// Region whose log files are digested.
    pub region: &'a str,
    /// Trail name (part of the digest file names).
    pub trail: &'a str,
    /// End of the first digested hour.
    pub first_end: Timestamp,
    /// How many hourly digests to write.
    pub hours: u32,
}

impl DigestSigner {
    /// A signer from a PKCS#1 PEM private key (`openssl genrsa -traditional`).
    ///
    /// # Errors
    /// [`Error::SigningKey`] when the PEM is not an RSA private key.
    pub fn from_pkcs1_pem(pem: &str) -> Result<Self> {
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|e| Error::SigningKey(format!("not a PKCS#1 PEM RSA key: {e}")))?;
        let public_der = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| Error::SigningKey(format!("cannot encode the public key: {e}")))?
            .as_bytes()
            .to_vec();
        // The first 16 bytes of the key's SHA-256, in hex: the length of CloudTrail's.
        let fingerprint = hex::encode(&Sha256::digest(&public_der)[..16]);
        Ok(DigestSigner {
            key,
            fingerprint,
            public_der,
        })
    }

    /// The fingerprint the digests name.
    #[must_use]
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The public key file (`aws cloudtrail list-public-keys` shape) for this key.
    #[must_use]
    pub fn public_key_list(&self, valid_from: Timestamp, valid_to: Timestamp) -> serde_json::Value {
        json!({"PublicKeyList": [{
            "Value": base64::engine::general_purpose::STANDARD.encode(&self.public_der),
            "ValidityStartTime": valid_from.to_string(),
            "ValidityEndTime": valid_to.to_string(),
            "Fingerprint": self.fingerprint,
        }]})
    }

    /// The hex signature of a digest whose uncompressed content hashes to `sha256_hex`.
    ///
    /// # Errors
    /// [`Error::SigningKey`] when RSA signing fails.
    pub fn sign(&self, digest: &Digest, sha256_hex: &str) -> Result<String> {
        let hashed = Sha256::digest(signing_string(digest, sha256_hex).as_bytes());
        let signature = self
            .key
            .sign(Pkcs1v15Sign::new::<Sha256>(), &hashed)
            .map_err(|e| Error::SigningKey(e.to_string()))?;
        Ok(hex::encode(signature))
    }

    /// Writes one signed digest per hour from `spec.first_end - 1h` over `spec.hours` hours for
    /// the log files of the spec's account and region under `root/AWSLogs/`, chained like CloudTrail's, each with
    /// its metadata sidecar. A log file belongs to the hour holding its name's delivery time.
    /// Returns the digest paths, oldest first.
    ///
    /// # Errors
    /// [`Error::Io`] when the tree cannot be read or written, [`Error::SigningKey`].
    pub fn write_chain(&self, root: &Path, spec: &ChainSpec<'_>) -> Result<Vec<PathBuf>> {
        let ChainSpec {
            bucket,
            account,
            region,
            first_end,
            hours,
            ..
        } = *spec;
        let logs = tree::scan(root)?.logs;
        let mut previous: Option<(String, String, String)> = None; // key, hash, signature
        let mut written = Vec::new();
        for hour in 0..hours {
            let end = first_end.add_secs(3600 * i64::from(hour));
            let start = end.add_secs(-3600);
            let mut log_files = Vec::new();
            for file in &logs {
                let inside = tree::account_region(&file.key)
                    .is_some_and(|(a, r)| a == account && r == region)
                    && tree::log_time(&file.key).is_some_and(|t| t >= start && t < end);
                if !inside {
                    continue;
                }
                let bytes = tree::read_gz(&file.path)
                    .map_err(|reason| Error::io(&file.path, std::io::Error::other(reason)))?;
                log_files.push(LogFileEntry {
                    s3_bucket: bucket.to_owned(),
                    s3_object: file.key.clone(),
                    hash_value: hex::encode(Sha256::digest(&bytes)),
                    hash_algorithm: "SHA-256".into(),
                    newest_event_time: None,
                    oldest_event_time: None,
                });
            }
            let (key, hash, signature) =
                self.write_one(root, spec, start, end, log_files, previous.take())?;
            written.push(root.join(&key));
            previous = Some((key, hash, signature));
        }
        Ok(written)
    }

    fn write_one(
        &self,
        root: &Path,
        place: &ChainSpec<'_>,
        start: Timestamp,
        end: Timestamp,
        log_files: Vec<LogFileEntry>,
        previous: Option<(String, String, String)>,
    ) -> Result<(String, String, String)> {
        let (y, mo, d, h, mi, s, _) = end.parts();
        let key = format!(
            "AWSLogs/{acct}/CloudTrail-Digest/{region}/{y:04}/{mo:02}/{d:02}/{acct}_CloudTrail-Digest_{region}_{trail}_{region}_{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z.json.gz",
            acct = place.account,
            region = place.region,
            trail = place.trail,
        );
        let (prev_key, prev_hash, prev_sig) = match previous {
            Some((k, h, s)) => (Some(k), Some(h), Some(s)),
            None => (None, None, None),
        };
        let digest = Digest {
            aws_account_id: place.account.to_owned(),
            digest_start_time: start.to_string(),
            digest_end_time: end.to_string(),
            digest_s3_bucket: place.bucket.to_owned(),
            digest_s3_object: key.clone(),
            digest_public_key_fingerprint: self.fingerprint.clone(),
            digest_signature_algorithm: "SHA256withRSA".into(),
            newest_event_time: None,
            oldest_event_time: None,
            previous_digest_s3_bucket: prev_key.as_ref().map(|_| place.bucket.to_owned()),
            previous_digest_s3_object: prev_key,
            previous_digest_hash_value: prev_hash,
            previous_digest_hash_algorithm: prev_sig.as_ref().map(|_| "SHA-256".to_owned()),
            previous_digest_signature: prev_sig,
            log_files,
        };
        let json = serde_json::to_vec(&digest).map_err(|source| Error::Encode {
            what: "digest",
            source,
        })?;
        let hash = hex::encode(Sha256::digest(&json));
        let signature = self.sign(&digest, &hash)?;
        let path = root.join(&key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&json).map_err(|e| Error::io(&path, e))?;
        let gz = gz.finish().map_err(|e| Error::io(&path, e))?;
        std::fs::write(&path, gz).map_err(|e| Error::io(&path, e))?;
        let meta = json!({"Metadata": DigestMetadata {
            signature: signature.clone(),
            signature_algorithm: Some("SHA256withRSA".into()),
        }});
        let sidecar = DigestMetadata::sidecar_path(&path);
        let text = serde_json::to_string_pretty(&meta).map_err(|source| Error::Encode {
            what: "digest metadata",
            source,
        })?;
        std::fs::write(&sidecar, text).map_err(|e| Error::io(&sidecar, e))?;
        Ok((key, hash, signature))
    }
}
