//! CloudTrail log file integrity validation.
//!
//! CloudTrail delivers, next to the log files, hourly *digest files* that list every log file
//! delivered in the hour with its SHA-256, point to the previous digest (its hash and
//! signature), and are signed with SHA256withRSA. This crate checks a local copy of an
//! `AWSLogs/` tree against them:
//!
//! - each digest's signature, with the public key whose fingerprint the digest names
//!   ([`PublicKeys`]); the signature comes from the digest object's S3 metadata, exported
//!   offline as a sidecar file ([`DigestMetadata`]);
//! - the chain of digests per account, region and trail: previous hash and signature, and
//!   gaps (one or more deleted digests);
//! - each listed log file: present, and its SHA-256 (of the uncompressed content) unchanged;
//! - log files present inside a covered time range but listed in no digest.
//!
//! [`verify_tree`] returns a [`Report`] of [`Finding`]s; [`Finding::to_alert`] turns one into a
//! [`trailhound_core::Alert`] of kind `integrity`. [`DigestSigner`] writes signed digest files
//! for a tree (synthetic data and tests).
//!
//! [`verify_s3`] runs the same checks on an `s3://bucket/prefix`, reading each digest's
//! signature from the object's user metadata ([`SIGNATURE_METADATA`]).

mod error;
mod finding;
mod model;
#[cfg(feature = "s3")]
mod s3;
mod sign;
mod tree;
mod verify;

pub use error::{Error, Result};
pub use finding::{Finding, FindingKind, Report, Summary};
pub use model::{Digest, DigestMetadata, LogFileEntry, PublicKey, PublicKeys};
#[cfg(feature = "s3")]
pub use s3::{SIGNATURE_METADATA, verify_s3};
pub use sign::{ChainSpec, DigestSigner};
pub use verify::{VerifyOptions, signing_string, verify_tree};
