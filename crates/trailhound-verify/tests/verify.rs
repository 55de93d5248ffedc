//! End-to-end checks on generated, signed trees.

#![allow(clippy::unwrap_used)]

mod support;

use sha2::{Digest as _, Sha256};
use support::*;
use trailhound_verify::{Digest, DigestMetadata, FindingKind, Report, VerifyOptions, verify_tree};

fn verify(tree: &TestTree) -> Report {
    verify_tree(tree.root(), &tree.options()).unwrap()
}

fn kinds(report: &Report) -> Vec<(FindingKind, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.kind, f.file.clone()))
        .collect()
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[test]
fn intact_signed_tree_passes() {
    let tree = TestTree::new();
    let report = verify(&tree);
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert_eq!(report.summary.digests, 4);
    assert_eq!(report.summary.chains, 1);
    assert_eq!(report.summary.signatures_verified, 4);
    assert!(report.summary.signatures_checked);
    assert_eq!(report.summary.log_files, 7);
    assert_eq!(report.summary.log_files_valid, 7);
}

#[test]
fn modified_log_file_is_reported_with_both_hashes() {
    let tree = TestTree::new();
    let key = log_key("0135", "a7b8");
    let original = log_body("0135", "a7b8");
    let edited = original.replace("198.51.100.20", "203.0.113.99");
    write_gz(&tree.path(&key), &edited);
    let report = verify(&tree);
    assert_eq!(kinds(&report), vec![(FindingKind::LogFileModified, key)]);
    let f = &report.findings[0];
    assert_eq!(f.digest.as_deref(), Some(digest_key("02").as_str()));
    assert_eq!(f.expected.as_deref(), Some(sha256_hex(&original).as_str()));
    assert_eq!(f.actual.as_deref(), Some(sha256_hex(&edited).as_str()));
    assert_eq!(
        f.time.map(|t| t.to_string()).as_deref(),
        Some("2026-03-10T02:00:00Z")
    );
}

#[test]
fn deleted_log_file_is_reported() {
    let tree = TestTree::new();
    let key = log_key("0305", "e1f2");
    std::fs::remove_file(tree.path(&key)).unwrap();
    let report = verify(&tree);
    assert_eq!(
        kinds(&report),
        vec![(FindingKind::LogFileDeleted, key.clone())]
    );
    assert_eq!(
        report.findings[0].digest.as_deref(),
        Some(digest_key("04").as_str())
    );
    assert_eq!(
        report.findings[0].expected.as_deref(),
        Some(sha256_hex(&log_body("0305", "e1f2")).as_str())
    );
}

#[test]
fn log_file_added_after_delivery_is_reported() {
    let tree = TestTree::new();
    let key = log_key("0210", "feed");
    write_gz(&tree.path(&key), &log_body("0210", "feed"));
    // Outside every digested hour: not yet digested, so not a finding.
    write_gz(
        &tree.path(&log_key("0420", "beef")),
        &log_body("0420", "beef"),
    );
    let report = verify(&tree);
    assert_eq!(kinds(&report), vec![(FindingKind::LogFileNotInDigest, key)]);
}

#[test]
fn one_removed_digest_hour_is_reported() {
    let tree = TestTree::new();
    std::fs::remove_file(tree.path(&digest_key("02"))).unwrap();
    let report = verify(&tree);
    assert_eq!(
        kinds(&report),
        vec![
            (FindingKind::LogFileNotInDigest, log_key("0105", "e5f6")),
            (FindingKind::LogFileNotInDigest, log_key("0135", "a7b8")),
            (FindingKind::DigestMissing, digest_key("02")),
        ]
    );
    let missing = &report.findings[2];
    assert_eq!(missing.digest.as_deref(), Some(digest_key("03").as_str()));
    assert_eq!(missing.expected.as_deref(), Some(digest_key("02").as_str()));
    assert_eq!(missing.actual.as_deref(), Some(digest_key("01").as_str()));
    assert!(
        missing
            .detail
            .contains("between 2026-03-10T01:00:00Z and 2026-03-10T02:00:00Z")
            && missing.detail.contains("about 1 hourly"),
        "{}",
        missing.detail
    );
}

#[test]
fn two_consecutive_removed_digest_hours_are_reported() {
    let tree = TestTree::new();
    std::fs::remove_file(tree.path(&digest_key("02"))).unwrap();
    std::fs::remove_file(tree.path(&digest_key("03"))).unwrap();
    let report = verify(&tree);
    let missing: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DigestMissing)
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].file, digest_key("03"));
    assert_eq!(
        missing[0].digest.as_deref(),
        Some(digest_key("04").as_str())
    );
    assert!(
        missing[0]
            .detail
            .contains("between 2026-03-10T01:00:00Z and 2026-03-10T03:00:00Z")
            && missing[0].detail.contains("about 2 hourly"),
        "{}",
        missing[0].detail
    );
    assert_eq!(report.summary.findings[&FindingKind::LogFileNotInDigest], 3);
    assert_eq!(report.findings.len(), 4);
}

#[test]
fn forged_signature_is_reported() {
    let tree = TestTree::new();
    let sidecar = DigestMetadata::sidecar_path(&tree.path(&digest_key("02")));
    let text = std::fs::read_to_string(&sidecar).unwrap();
    let meta = DigestMetadata::parse(&text).unwrap();
    let mut forged = meta.signature.clone().into_bytes();
    forged[10] = if forged[10] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    std::fs::write(&sidecar, format!(r#"{{"signature":"{forged}"}}"#)).unwrap();
    let report = verify(&tree);
    assert_eq!(
        kinds(&report),
        vec![
            (FindingKind::SignatureInvalid, digest_key("02")),
            (FindingKind::ChainSignatureMismatch, digest_key("02")),
        ]
    );
    assert_eq!(report.findings[0].actual.as_deref(), Some(forged.as_str()));
    assert_eq!(
        report.findings[1].digest.as_deref(),
        Some(digest_key("03").as_str())
    );
    assert_eq!(
        report.findings[1].expected.as_deref(),
        Some(meta.signature.as_str())
    );
    assert_eq!(report.summary.signatures_verified, 3);
}

/// A rewritten digest (one log file dropped from it) signed with a key that is not
/// CloudTrail's: the signature fails and the next digest no longer chains to it.
#[test]
fn rewritten_digest_signed_with_another_key_is_reported() {
    let tree = TestTree::new();
    let path = tree.path(&digest_key("02"));
    let bytes = std::fs::read(&path).unwrap();
    let mut json = Vec::new();
    trailhound_ingest::inflate_into(&bytes, 1 << 20, &mut json).unwrap();
    let mut digest: Digest = serde_json::from_slice(&json).unwrap();
    let dropped = digest.log_files.remove(1).s3_object;
    let json = serde_json::to_string(&digest).unwrap();
    write_gz(&path, &json);
    let signature = other_signer().sign(&digest, &sha256_hex(&json)).unwrap();
    std::fs::write(
        DigestMetadata::sidecar_path(&path),
        format!(
            r#"{{"Metadata":{{"signature":"{signature}","signature-algorithm":"SHA256withRSA"}}}}"#
        ),
    )
    .unwrap();
    let report = verify(&tree);
    assert_eq!(
        kinds(&report),
        vec![
            (FindingKind::LogFileNotInDigest, dropped),
            (FindingKind::SignatureInvalid, digest_key("02")),
            (FindingKind::ChainHashMismatch, digest_key("02")),
            (FindingKind::ChainSignatureMismatch, digest_key("02")),
        ]
    );
}

#[test]
fn unknown_key_and_missing_sidecar_are_reported() {
    let tree = TestTree::new();
    std::fs::remove_file(DigestMetadata::sidecar_path(&tree.path(&digest_key("01")))).unwrap();
    let other = other_signer().public_key_list(start(), start().add_secs(86_400));
    std::fs::write(tree.root().join("keys.json"), other.to_string()).unwrap();
    let report = verify(&tree);
    let counts = &report.summary.findings;
    assert_eq!(counts[&FindingKind::SignatureMissing], 1);
    assert_eq!(counts[&FindingKind::UnknownPublicKey], 3);
    assert_eq!(report.findings.len(), 4);
}

#[test]
fn without_public_keys_only_hashes_and_chain_are_checked() {
    let tree = TestTree::new();
    let report = verify_tree(tree.root(), &VerifyOptions::default()).unwrap();
    assert!(report.is_clean());
    assert!(!report.summary.signatures_checked);
    assert_eq!(report.summary.signatures_verified, 0);
}

#[test]
fn tampered_tree_report_snapshot() {
    let tree = TestTree::new();
    write_gz(
        &tree.path(&log_key("0035", "c3d4")),
        &log_body("0035", "c3d4").replace("ListUsers", "ListRoles"),
    );
    std::fs::remove_file(tree.path(&log_key("0335", "a3b4"))).unwrap();
    std::fs::remove_file(tree.path(&digest_key("03"))).unwrap();
    let report = verify(&tree);
    insta::assert_json_snapshot!(report);
    let alerts: Vec<_> = report.findings.iter().map(|f| f.to_alert()).collect();
    insta::assert_json_snapshot!("tampered_tree_alerts", alerts);
}
