//! Signed CloudTrail digest files for a generated tree, the way CloudTrail delivers them when
//! log file integrity validation is on: one digest per account, region and hour, chained and
//! signed with SHA256withRSA, plus the public key file to verify them with.
//!
//! Writing and signing is [`trailhound_verify::DigestSigner`]'s; this module picks the key (a
//! given PKCS#1 PEM, or one derived from the seed so that the same seed gives the same bytes)
//! and the chains the organisation needs.

use std::path::{Path, PathBuf};

use rand::{RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha20Rng;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use trailhound_core::Timestamp;
use trailhound_verify::{ChainSpec, DigestSigner};

use crate::{Error, GenOptions, Result, mix};

/// The bucket the digests name.
pub const DIGEST_BUCKET: &str = "org-cloudtrail-logs-example";

/// The public key file written beside `AWSLogs/` (the shape of
/// `aws cloudtrail list-public-keys`), for `trailhound verify --public-keys`.
pub const PUBLIC_KEYS_FILE: &str = "digest-public-keys.json";

/// What [`write_digests`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSummary {
    /// Digest files written.
    pub files: u64,
    /// The public key file.
    pub public_keys: PathBuf,
    /// The signing key's fingerprint.
    pub fingerprint: String,
}

/// A `rand_core` 0.6 generator (the one `rsa` takes) over a seeded ChaCha20.
struct KeyRng(ChaCha20Rng);

impl rand_core_06::RngCore for KeyRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), rand_core_06::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core_06::CryptoRng for KeyRng {}

/// The RSA-2048 signing key derived from `seed`, as PKCS#1 PEM. It protects nothing: it only
/// makes the digests of a synthetic tree reproducible.
///
/// # Errors
/// [`Error::Digests`] when key generation or encoding fails.
pub fn seeded_key_pem(seed: u64) -> Result<String> {
    let mut rng = KeyRng(ChaCha20Rng::seed_from_u64(mix(seed, 0xd16e57, 0)));
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048)
        .map_err(|e| Error::Digests(format!("cannot make a signing key: {e}")))?;
    let pem = key
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .map_err(|e| Error::Digests(format!("cannot encode the signing key: {e}")))?;
    Ok(pem.as_str().to_owned())
}

/// Writes signed hourly digests for every account and region of the organisation `options`
/// generated under `options.out` (S3 layout), covering every hour of the generated days, and
/// the public key file [`PUBLIC_KEYS_FILE`] beside `AWSLogs/`. `key_pem` is a PKCS#1 PEM RSA
/// private key; without one, the key is derived from the seed ([`seeded_key_pem`]).
///
/// # Errors
/// [`Error::Invalid`] for the JSON-lines layout, [`Error::Digests`] for key or signing
/// failures, [`Error::Write`].
pub fn write_digests(options: &GenOptions, key_pem: Option<&str>) -> Result<DigestSummary> {
    if options.format != crate::Format::S3 {
        return Err(Error::Invalid("digest files need the s3 layout".to_owned()));
    }
    let pem = match key_pem {
        Some(pem) => pem.to_owned(),
        None => seeded_key_pem(options.seed)?,
    };
    let signer = DigestSigner::from_pkcs1_pem(&pem)
        .map_err(|e| Error::Digests(format!("invalid signing key: {e}")))?;
    let org = crate::organisation(options.seed, options.accounts);
    let first_end = options.start.add_secs(3600);
    let hours = options.days.saturating_mul(24);
    let mut files = 0;
    for account in &org.accounts {
        for region in &account.regions {
            let spec = ChainSpec {
                bucket: DIGEST_BUCKET,
                account: &account.id,
                region,
                trail: &account.trail,
                first_end,
                hours,
            };
            let written = signer
                .write_chain(&options.out, &spec)
                .map_err(|e| Error::Digests(format!("cannot write digests: {e}")))?;
            files += written.len() as u64;
        }
    }
    let valid_to: Timestamp = options
        .start
        .add_secs(i64::from(options.days.saturating_add(1)) * 86_400);
    let keys = signer.public_key_list(options.start.add_secs(-86_400), valid_to);
    let public_keys = options.out.join(PUBLIC_KEYS_FILE);
    write_json(&public_keys, &keys)?;
    tracing::info!(files, "digest files written");
    Ok(DigestSummary {
        files,
        public_keys,
        fingerprint: signer.fingerprint().to_owned(),
    })
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        what: "public keys",
        source,
    })?;
    std::fs::write(path, text + "\n").map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}
